//! Installs what a fresh Debian machine lacks, skipping whatever is already there.

use std::process::Command;

use crate::{root, Result};

pub const TRUNK_VERSION: &str = "0.21.14";

/// Runs a command with inherited output; an error names the command.
pub fn run(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

/// The first line a tool prints for `--version`, if it runs at all.
fn version_of(bin: &str) -> Option<String> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The wasm-bindgen version pinned in Cargo.lock: the CLI must be exactly this.
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

fn ensure_wasm_target() -> Result {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed: {e}"))?;
    if !String::from_utf8_lossy(&out.stdout).contains("wasm32-unknown-unknown") {
        println!("setup: adding the wasm32-unknown-unknown target");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

fn ensure_cargo_tool(bin: &str, krate: &str, version: &str, locked: bool) -> Result {
    if version_of(bin).is_some_and(|v| v.split_whitespace().any(|w| w == version)) {
        return Ok(());
    }
    println!("setup: installing {krate} {version} (once; this takes a few minutes)");
    let mut cmd = Command::new("cargo");
    cmd.args(["install", krate, "--version", version]);
    if locked {
        cmd.arg("--locked");
    }
    run(&mut cmd)
}

/// Installs Debian packages for the binaries that are missing.
fn ensure_apt(wanted: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(bin, _)| !have(bin))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let sudo: &[&str] = if root_user { &[] } else { &["sudo"] };
    println!("setup: installing Debian packages {}", missing.join(" "));
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut cmd = Command::new(all[0]);
        cmd.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}

/// What building the app needs: the wasm target, Trunk, the matching wasm-bindgen CLI, and
/// binaryen's wasm-opt from npm (`tools/`; Debian's version 108 corrupts reference-type
/// tables, so it is not used).
pub fn for_build() -> Result {
    ensure_wasm_target()?;
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    // Not --locked: its lockfile names a crate version the registry does not have.
    ensure_cargo_tool(
        "wasm-bindgen",
        "wasm-bindgen-cli",
        &wasm_bindgen_version()?,
        false,
    )?;
    ensure_apt(&[("node", "nodejs"), ("npm", "npm")])?;
    ensure_npm_packages(&root().join("tools"), &["binaryen", "terser"])
}

/// `npm ci` in `dir` when any of `packages` is missing from its node_modules.
fn ensure_npm_packages(dir: &std::path::Path, packages: &[&str]) -> Result {
    if packages
        .iter()
        .all(|p| dir.join("node_modules").join(p).exists())
    {
        return Ok(());
    }
    println!(
        "setup: installing npm packages in {} (npm ci)",
        dir.display()
    );
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir))
}

/// PATH with the npm-installed build tools first.
pub fn tool_path() -> std::ffi::OsString {
    let mut paths = vec![root().join("tools/node_modules/.bin")];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

/// What the browser layers need on top: Chromium, ChromeDriver, Node.js and the e2e packages.
pub fn for_browser() -> Result {
    for_build()?;
    ensure_apt(&[
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
    ])?;
    for_test_packages()
}

/// The npm packages of the test layers (tests/e2e): Playwright, cors-anywhere, wrangler
/// and the workerd it runs Workers in.
fn for_test_packages() -> Result {
    ensure_npm_packages(
        &root().join("tests/e2e"),
        &["playwright-core", "cors-anywhere", "wrangler", "workerd"],
    )
}

/// What the Worker's tests need: its build tools, workerd (Cloudflare's Workers runtime)
/// and wrangler (npm). Returns the workerd binary.
pub fn for_edge() -> Result<std::path::PathBuf> {
    for_build()?;
    for_test_packages()?;
    Ok(root().join("tests/e2e/node_modules/.bin/workerd"))
}

/// wrangler, Cloudflare's deploy tool (installed by [`for_edge`]).
pub fn wrangler() -> std::path::PathBuf {
    root().join("tests/e2e/node_modules/.bin/wrangler")
}

/// What the proxy benchmark needs: nginx as the upstream and wrk as the load tool.
pub fn for_proxy_bench() -> Result {
    ensure_apt(&[("nginx", "nginx"), ("wrk", "wrk")])
}
