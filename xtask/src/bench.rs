//! `cargo xtask bench`: figures measured in one run, printed as `name: value unit`.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use flate2::{write::GzEncoder, Compression};

use crate::build::{build_app, build_proxy, free_addr, sim_upstreams, start_app, start_sim};
use crate::{root, setup, Result};

/// gzip -9 size of a file, in bytes.
fn gz_size(path: &Path) -> Result<u64> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&data).map_err(|e| e.to_string())?;
    Ok(enc.finish().map_err(|e| e.to_string())?.len() as u64)
}

/// Gzipped sizes of dist's files by kind, and of all of dist; and all of dist as a server
/// sending the precompressed brotli copies sends it.
fn bundle_sizes(dist: &Path) -> Result<Vec<(&'static str, u64)>> {
    let (mut wasm, mut js, mut css, mut all, mut br) = (0, 0, 0, 0, 0);
    for file in crate::pwa::built_files(dist)? {
        let size = gz_size(&dist.join(&file))?;
        all += size;
        let sent = match std::fs::metadata(dist.join(format!("{file}.br"))) {
            Ok(m) => m.len(),
            Err(_) => std::fs::metadata(dist.join(&file))
                .map_err(|e| format!("{file}: {e}"))?
                .len(),
        };
        br += sent;
        match file.rsplit_once('.').map(|(_, ext)| ext) {
            Some("wasm") => wasm += size,
            Some("js") => js += size,
            Some("css") => css += size,
            _ => {}
        }
    }
    Ok(vec![
        ("wasm_gz_kb", wasm),
        ("js_gz_kb", js),
        ("css_gz_kb", css),
        ("bundle_gz_kb", all),
        ("bundle_br_kb", br),
    ])
}

pub fn bench(proxy_only: bool, soak_only: bool) -> Result {
    crate::leftovers::adopt_orphans();
    let measured = if soak_only {
        setup::for_browser()
            .and_then(|()| Ok((build_app()?, build_proxy()?)))
            .and_then(|(dist, proxy)| soak(&proxy, &dist))
            .map(|text| print!("{text}"))
    } else {
        measure(proxy_only)
    };
    let left = crate::leftovers::check("the benchmark");
    match (measured, left) {
        (Err(failed), Err(left)) => Err(format!("{failed}\n{left}")),
        (measured, left) => measured.and(left),
    }
}

fn measure(proxy_only: bool) -> Result {
    setup::for_proxy_bench()?;
    let workerd = setup::for_edge()?;
    let edge = crate::edge::build()?;
    let edge = crate::loadbench::Edge {
        workerd: &workerd,
        dir: &edge,
    };
    if proxy_only {
        let proxy = build_proxy()?;
        for line in crate::loadbench::proxy_figures(&proxy, &edge)? {
            println!("{line}");
        }
        return Ok(());
    }
    setup::for_browser()?;
    let dist = build_app()?;
    let proxy = build_proxy()?;
    let proxy_lines = crate::loadbench::proxy_figures(&proxy, &edge)?;
    let backup_file =
        TempFile(std::env::temp_dir().join(format!("holdix-bench-{}.holdix", std::process::id())));
    let history_lines = history_figures(&backup_file.0)?;
    let fixture = TempFile(many_assets_fixture()?);
    let fixture_arg = fixture.0.display().to_string();
    let sim = start_sim(&["--no-rate-limits", "--fixture", &fixture_arg])?;
    let upstreams = sim_upstreams(&sim)?;
    let extra: Vec<&str> = upstreams.iter().map(String::as_str).collect();
    let server = start_app(&proxy, &dist, &free_addr()?, &extra)?;
    let out = Command::new("node")
        .arg("bench.mjs")
        .env("HOLDIX_BASE_URL", &server.url)
        .env("HOLDIX_SIM_URL", &sim.url)
        .env("HOLDIX_BENCH_BACKUP", &backup_file.0)
        .current_dir(root().join("tests/e2e"))
        .output()
        .map_err(|e| format!("cannot run node: {e}"));
    drop(server);
    drop(sim);
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "the browser benchmark failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    println!();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    for (name, bytes) in bundle_sizes(&dist)? {
        println!("{name}: {:.1} KB", bytes as f64 / 1024.0);
    }
    print!("{history_lines}");
    for line in proxy_lines {
        println!("{line}");
    }
    print!("{}", soak(&proxy, &dist)?);
    Ok(())
}

/// The soak (`tests/e2e/soak.mjs`): its own simulator (random failures switched on by the
/// script) and proxy (a 1 s upstream timeout, so the simulator's hangs end quickly).
fn soak(proxy: &Path, dist: &Path) -> Result<String> {
    let sim = start_sim(&["--no-rate-limits"])?;
    let upstreams = sim_upstreams(&sim)?;
    let mut extra: Vec<&str> = upstreams.iter().map(String::as_str).collect();
    extra.extend(["--timeout-secs", "1"]);
    let server = start_app(proxy, dist, &free_addr()?, &extra)?;
    let out = Command::new("node")
        .arg("soak.mjs")
        .env("HOLDIX_BASE_URL", &server.url)
        .env("HOLDIX_SIM_URL", &sim.url)
        .current_dir(root().join("tests/e2e"))
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "the soak failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(text)
}

/// A temporary file, deleted when the benchmark ends, however it ends.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// History's size and chart path figures, from `crates/core/examples/history_bench.rs`
/// (native, release build), which also writes the backup file of a vault with that history
/// to `backup_file`.
fn history_figures(backup_file: &Path) -> Result<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "holdix-core",
            "--example",
            "history_bench",
        ])
        .env("HOLDIX_BENCH_BACKUP", backup_file)
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run the history benchmark: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the history benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Assets added to the demo fixture's WhiteBIT key 1, so the four benchmark connections hold
/// about 200 assets (`dashboard_render_ms`).
const EXTRA_ASSETS: usize = 175;

/// The demo fixture with [`EXTRA_ASSETS`] more assets on WhiteBIT's trade account, each
/// worth more than the $1 small-balance threshold; written to a temporary file.
fn many_assets_fixture() -> Result<std::path::PathBuf> {
    let path = root().join("crates/sim/fixtures/demo.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut fixture: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the demo fixture: {e}"))?;
    let whitebit = &mut fixture["whitebit"];
    let template = whitebit["tickers"]["BTC_USDT"].clone();
    for i in 1..=EXTRA_ASSETS {
        let asset = format!("Z{i:03}");
        whitebit["accounts"]["frank"]["trade"][&asset] = serde_json::json!([format!("{i}"), "0"]);
        let mut ticker = template.clone();
        ticker["last_price"] = format!("1.{i:03}").into();
        whitebit["tickers"][format!("{asset}_USDT")] = ticker;
    }
    let out =
        std::env::temp_dir().join(format!("holdix-bench-fixture-{}.json", std::process::id()));
    std::fs::write(&out, fixture.to_string()).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_sizes_count_every_file_once_by_kind() {
        let dir = std::env::temp_dir().join(format!("holdix-bundle-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("icons")).unwrap();
        for (name, body) in [
            ("a_bg.wasm", "w"),
            ("b.js", "j"),
            ("c.css", "c"),
            ("icons/d.png", "p"),
        ] {
            std::fs::write(dir.join(name), body).unwrap();
        }
        let one = gz_size(&dir.join("b.js")).unwrap();
        // A precompressed copy is counted in bundle_br_kb in place of its file, never twice.
        std::fs::write(dir.join("b.js.br"), "bb").unwrap();
        std::fs::write(dir.join("b.js.gz"), "ggg").unwrap();
        let sizes = bundle_sizes(&dir).unwrap();
        assert_eq!(
            sizes,
            vec![
                ("wasm_gz_kb", one),
                ("js_gz_kb", one),
                ("css_gz_kb", one),
                ("bundle_gz_kb", 4 * one),
                ("bundle_br_kb", 1 + 2 + 1 + 1)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
