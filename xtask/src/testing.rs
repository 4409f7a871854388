//! `cargo xtask test`: the layers (native, edge, browser, end-to-end), each with its summary,
//! then one closing line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::build::{
    build_app, build_proxy, free_addr, sim_upstreams, start_app, start_sim, Service,
};
use crate::{root, setup, Result};

/// What one layer reported.
struct Outcome {
    name: &'static str,
    passed: u64,
    failed: u64,
    /// Property tests (`prop_…`) that passed, each over [`cases`] generated cases.
    properties: Vec<String>,
    error: Option<String>,
}

/// Generated cases per property test: `HOLDIX_PROPTEST_CASES`, else the tests' default.
pub fn cases() -> u64 {
    std::env::var("HOLDIX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// The layer fails too if it left a process running (see [`crate::leftovers`]).
fn checked(mut outcome: Outcome) -> Outcome {
    if let Err(left) = crate::leftovers::check(outcome.name) {
        outcome.error = Some(match outcome.error {
            Some(error) => format!("{error}; {left}"),
            None => left,
        });
    }
    outcome
}

/// Runs `cmd`, echoing its output, and counts tests from cargo's `test result:` lines and
/// node's TAP `# pass` / `# fail` lines.
fn run_counted(name: &'static str, cmd: &mut Command) -> Outcome {
    let mut outcome = Outcome {
        name,
        passed: 0,
        failed: 0,
        properties: Vec::new(),
        error: None,
    };
    println!("\n== {name} tests ==");
    let mut child = match cmd.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => {
            outcome.error = Some(format!("could not start {cmd:?}: {e}"));
            return outcome;
        }
    };
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
        println!("{line}");
        if let Some(test) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... ok"))
            .filter(|t| {
                t.rsplit("::")
                    .next()
                    .is_some_and(|n| n.starts_with("prop_"))
            })
        {
            outcome.properties.push(test.to_string());
        }
        if let Some(rest) = line.strip_prefix("test result: ") {
            outcome.passed += count_before(rest, " passed");
            outcome.failed += count_before(rest, " failed");
        } else if let Some(n) = line.strip_prefix("# pass ") {
            outcome.passed += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("# fail ") {
            outcome.failed += n.trim().parse::<u64>().unwrap_or(0);
        }
    }
    match child.wait() {
        Ok(status) if status.success() => {}
        Ok(status) => outcome.error = Some(format!("exited with {status}")),
        Err(e) => outcome.error = Some(e.to_string()),
    }
    outcome
}

/// `"ok. 25 passed; 0 failed; …"` → the number before `label`.
fn count_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn failed_setup(name: &'static str, error: String) -> Outcome {
    Outcome {
        name,
        passed: 0,
        failed: 0,
        properties: Vec::new(),
        error: Some(format!("setup failed: {error}")),
    }
}

fn native() -> Outcome {
    run_counted(
        "native",
        Command::new("cargo")
            .args(["test", "--workspace", "--no-fail-fast"])
            .current_dir(root()),
    )
}

/// The Worker (crates/edge), built and run in workerd in front of the simulator.
fn edge() -> Outcome {
    let prepared = (|| -> Result<(PathBuf, PathBuf)> {
        let workerd = setup::for_edge()?;
        Ok((workerd, crate::edge::build()?))
    })();
    let (workerd, dir) = match prepared {
        Ok(p) => p,
        Err(e) => return failed_setup("edge", e),
    };
    run_counted(
        "edge",
        Command::new("cargo")
            .args([
                "test",
                "-p",
                "holdix-edge",
                "--test",
                "workerd",
                "--",
                "--ignored",
            ])
            .env("HOLDIX_WORKERD", workerd)
            .env("HOLDIX_WRANGLER", setup::wrangler())
            .env("HOLDIX_EDGE_DIR", dir)
            .current_dir(root()),
    )
}

fn browser() -> Outcome {
    if let Err(e) = setup::for_browser() {
        return failed_setup("browser", e);
    }
    let root = root();
    run_counted(
        "browser",
        Command::new("cargo")
            .args([
                "test",
                "-p",
                "holdix",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "browser",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", "chromedriver")
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root.join("tests/webdriver.json"),
            )
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
            .current_dir(&root),
    )
}

/// The end-to-end files, in name order (those containing `only`, if given).
fn e2e_files(only: Option<&str>) -> Result<Vec<String>> {
    let dir = root().join("tests/e2e");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.mjs"))
        .filter(|n| only.is_none_or(|o| n.contains(o)))
        .collect();
    files.sort();
    // `node --test` with no files would run every test it finds.
    match only {
        Some(only) if files.is_empty() => Err(format!(
            "no end-to-end file's name contains \"{only}\" (tests/e2e/*.test.mjs)"
        )),
        _ => Ok(files),
    }
}

fn end_to_end(only: Option<&str>) -> Outcome {
    let prepared = (|| -> Result<(Service, Service, Vec<String>, PathBuf, PathBuf)> {
        let files = e2e_files(only)?;
        setup::for_browser()?;
        // For edge.test.mjs: the Worker as the app's proxy.
        crate::edge::build()?;
        let dist = build_app()?;
        let proxy = build_proxy()?;
        let sim = start_sim(&[])?;
        let upstreams = sim_upstreams(&sim)?;
        let extra: Vec<&str> = upstreams.iter().map(String::as_str).collect();
        let server = start_app(&proxy, &dist, &free_addr()?, &extra)?;
        Ok((sim, server, files, dist, proxy))
    })();
    let (sim, server, files, dist, proxy) = match prepared {
        Ok(p) => p,
        Err(e) => return failed_setup("end-to-end", e),
    };
    let outcome = run_counted(
        "end-to-end",
        Command::new("node")
            .args(["--test", "--test-concurrency=1", "--test-reporter=tap"])
            .args(&files)
            .env("HOLDIX_BASE_URL", &server.url)
            .env("HOLDIX_SIM_URL", &sim.url)
            // For the tests that run their own servers (pwa.test.mjs).
            .env("HOLDIX_DIST", &dist)
            .env("HOLDIX_PROXY_BIN", &proxy)
            .env(
                "HOLDIX_WORKERD",
                root().join("tests/e2e/node_modules/.bin/workerd"),
            )
            .env("HOLDIX_EDGE_DIR", root().join("target/edge"))
            .env("HOLDIX_XTASK", std::env::current_exe().unwrap_or_default())
            .current_dir(root().join("tests/e2e")),
    );
    drop(server);
    drop(sim);
    outcome
}

pub fn test_all(only_e2e: Option<&str>) -> Result {
    crate::leftovers::adopt_orphans();
    let outcomes = match only_e2e {
        None => vec![
            checked(native()),
            checked(edge()),
            checked(browser()),
            checked(end_to_end(None)),
        ],
        Some(only) => vec![checked(end_to_end(Some(only)))],
    };
    println!("\n== summary ==");
    let (mut passed, mut failed, mut broken) = (0, 0, false);
    for o in &outcomes {
        passed += o.passed;
        failed += o.failed;
        match &o.error {
            None => println!("{}: {} passed, {} failed", o.name, o.passed, o.failed),
            Some(e) => {
                broken = true;
                println!(
                    "{}: {} passed, {} failed — FAILED: {e}",
                    o.name, o.passed, o.failed
                );
            }
        }
    }
    let properties: Vec<&String> = outcomes.iter().flat_map(|o| &o.properties).collect();
    if !properties.is_empty() {
        println!(
            "properties: {} passed, {} generated cases each ({} in all): {}",
            properties.len(),
            cases(),
            properties.len() as u64 * cases(),
            properties
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("{passed} passed, {failed} failed");
    if broken || failed > 0 {
        Err("some tests failed".into())
    } else if passed == 0 {
        Err("no test ran".into())
    } else {
        Ok(())
    }
}

/// `cargo xtask fuzz`: the property tests only, with many more generated cases (long runs;
/// `cargo xtask test` runs them with 1,000 each).
pub fn fuzz(cases: u64) -> Result {
    let outcome = run_counted(
        "property",
        Command::new("cargo")
            .args(["test", "--profile", "fuzz", "--no-fail-fast"])
            .args([
                "-p",
                "holdix-core",
                "--test",
                "parsers",
                "--test",
                "decoders",
                "--test",
                "signing",
            ])
            .args(["-p", "holdix-gate", "--test", "properties"])
            .args(["-p", "holdix-proxy", "--test", "properties"])
            .env("HOLDIX_PROPTEST_CASES", cases.to_string())
            .current_dir(root()),
    );
    println!(
        "\n== fuzz ==\nproperties: {} passed, {cases} generated cases each ({} in all); {} failed",
        outcome.properties.len(),
        outcome.properties.len() as u64 * cases,
        outcome.failed
    );
    match outcome.error {
        Some(e) => Err(e),
        None if outcome.failed > 0 => Err("a property failed".into()),
        None => Ok(()),
    }
}
