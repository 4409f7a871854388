//! `cargo xtask edge`: builds the proxy as a Cloudflare Worker (`crates/edge`) into
//! `target/edge/`, ready for `npx wrangler deploy`, with no tool but the ones the app's
//! build already uses (cargo, the wasm-bindgen CLI pinned in Cargo.lock, binaryen's
//! wasm-opt). Also writes the `workerd` config the tests and the bench run it with.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::{self, run};
use crate::{root, Result};

/// The Workers runtime date the Worker is written against.
/// (No later than the workerd the tests run it in, which wrangler pins.)
pub const COMPATIBILITY_DATE: &str = "2026-04-01";

/// The entry module: instantiates the wasm once per isolate and hands every request to it.
const SHIM: &str = r#"// Written by `cargo xtask edge`. The Worker is Rust (crates/edge); this only loads it.
import { initSync, fetch as handle } from "./holdix_edge.js";
import module from "./holdix_edge_bg.wasm";

initSync({ module });

export default {
  fetch(request, env, ctx) {
    return handle(request, env, ctx);
  },
};
"#;

/// Builds the Worker; returns `target/edge`.
pub fn build() -> Result<PathBuf> {
    setup::for_build()?;
    let root = root();
    run(Command::new("cargo")
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "holdix-edge",
        ])
        .current_dir(&root))?;
    let out = root.join("target/edge");
    let build = out.join("build");
    let _ = std::fs::remove_dir_all(&build);
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "holdix_edge",
        ])
        .arg("--out-dir")
        .arg(&build)
        .arg(root.join("target/wasm32-unknown-unknown/release/holdix_edge.wasm")))?;
    let wasm = build.join("holdix_edge_bg.wasm");
    run(Command::new("wasm-opt")
        .arg("-Oz")
        .arg(&wasm)
        .arg("-o")
        .arg(&wasm)
        .env("PATH", setup::tool_path()))?;
    write(&build.join("shim.mjs"), SHIM)?;
    write(&out.join("wrangler.toml"), &wrangler_toml())?;
    write(&out.join("workerd.capnp"), &workerd_config(&build)?)?;
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    println!(
        "edge: built {} ({} KB wasm) and {}",
        build.display(),
        size / 1024,
        out.join("wrangler.toml").display()
    );
    Ok(out)
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The Worker's modules, relative to `target/edge/build`: the entry first.
fn modules(build: &Path) -> Result<Vec<String>> {
    let mut found = vec![
        "shim.mjs".to_string(),
        "holdix_edge.js".to_string(),
        "holdix_edge_bg.wasm".to_string(),
    ];
    let snippets = build.join("snippets");
    let mut stack = vec![snippets];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(build) {
                found.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok(found)
}

/// What a user deploys with. `ALLOWED_ORIGINS` must name the site the app is served from.
fn wrangler_toml() -> String {
    format!(
        r#"# Written by `cargo xtask edge`. Deploy: `npx wrangler deploy` in this folder.
name = "holdix-proxy"
main = "build/shim.mjs"
compatibility_date = "{COMPATIBILITY_DATE}"
# The wasm and its JS glue are loaded as they are: no bundling step changes them.
no_bundle = true
rules = [
  {{ type = "ESModule", globs = ["**/*.js", "**/*.mjs"], fallthrough = false }},
  {{ type = "CompiledWasm", globs = ["**/*.wasm"], fallthrough = false }},
]

[vars]
# The origin(s) the app is served from, space-separated, e.g. "https://you.github.io".
# Until it is set, only http://127.0.0.1 and http://localhost origins may use the Worker.
ALLOWED_ORIGINS = ""

# Per-client rate limit (by the client's address): 120 requests per 10 s, as holdix-proxy's
# default burst. Remove this block if your plan has no rate-limiting binding; the Worker then
# has no per-client limit.
[[ratelimits]]
name = "RATE_LIMITER"
namespace_id = "1001"
simple = {{ limit = 120, period = 10 }}
"#
    )
}

/// A `workerd` config for running the built Worker here (tests, bench): `workerd serve
/// target/edge/workerd.capnp --socket-addr http=ADDR`, with `HOLDIX_TEST_UPSTREAMS` and
/// `ALLOWED_ORIGINS` taken from the environment, and loopback addresses reachable (the
/// simulator). Not for deployment: wrangler.toml is.
fn workerd_config(build: &Path) -> Result<String> {
    let modules: Vec<String> = modules(build)?
        .into_iter()
        .map(|m| {
            let kind = if m.ends_with(".wasm") {
                "wasm"
            } else {
                "esModule"
            };
            format!("    (name = \"{m}\", {kind} = embed \"build/{m}\"),")
        })
        .collect();
    Ok(format!(
        r#"# Written by `cargo xtask edge`: the Worker in workerd, for local tests only.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "holdix", worker = .holdix),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "holdix") ],
);
const holdix :Workerd.Worker = (
  modules = [
{}
  ],
  compatibilityDate = "{COMPATIBILITY_DATE}",
  globalOutbound = "loopback",
  bindings = [
    (name = "HOLDIX_TEST_UPSTREAMS", fromEnvironment = "HOLDIX_TEST_UPSTREAMS"),
    (name = "ALLOWED_ORIGINS", fromEnvironment = "ALLOWED_ORIGINS"),
  ],
);
"#,
        modules.join("\n")
    ))
}
