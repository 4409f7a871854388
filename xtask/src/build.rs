//! Building the app and the proxy, and serving them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::setup::{self, run as run_cmd};
use crate::{root, Result};

/// Builds the release app into `dist/` with Trunk (offline: everything is fetched first).
pub fn build_app() -> Result<PathBuf> {
    setup::for_build()?;
    let root = root();
    run_cmd(Command::new("cargo").arg("fetch").current_dir(&root))?;
    run_cmd(
        Command::new("trunk")
            .args(["build", "--release", "--offline"])
            .env("PATH", setup::tool_path())
            .current_dir(&root),
    )?;
    Ok(root.join("dist"))
}

/// Builds the proxy and the simulator (release, in one go so both share one feature set)
/// and returns the proxy's path.
pub fn build_proxy() -> Result<PathBuf> {
    let root = root();
    run_cmd(
        Command::new("cargo")
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "holdix-proxy",
                "-p",
                "holdix-sim",
            ])
            .current_dir(&root),
    )?;
    Ok(root.join("target/release/holdix-proxy"))
}

/// A running `holdix-proxy`, stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts the proxy serving `dist` on `addr` and waits until `/healthz` answers.
    pub fn start(proxy: &PathBuf, dist: &PathBuf, addr: &str, extra: &[&str]) -> Result<Self> {
        let child = Command::new(proxy)
            .args(["--listen", addr, "--static"])
            .arg(dist)
            .args(extra)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", proxy.display()))?;
        let mut server = Self {
            child,
            url: format!("http://{addr}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get(addr, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("the proxy exited at start ({status})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("the proxy did not answer on {addr}"))
    }

    pub fn wait(mut self) -> Result {
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the proxy stopped ({status})"))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback address to serve on.
pub fn free_addr() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string())
}

/// A minimal HTTP/1.1 GET, enough for a health check.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The exchange simulator as a child process, stopped when dropped.
pub struct Simulator {
    child: Child,
    pub url: String,
}

impl Simulator {
    pub fn start(extra: &[&str]) -> Result<Self> {
        let bin = build_proxy()?.with_file_name("holdix-sim");
        let addr = free_addr()?;
        let child = Command::new(bin)
            .args(["--listen", &addr])
            .args(extra)
            .spawn()
            .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let sim = Self {
            child,
            url: format!("http://{addr}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get(&addr, "/__sim/stats").is_some() {
                return Ok(sim);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("the simulator did not start".into())
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo xtask run [--demo]`.
pub fn run(listen: &str, demo: bool) -> Result {
    let dist = build_app()?;
    let proxy = build_proxy()?;
    let sim = if demo {
        Some(Simulator::start(&[])?)
    } else {
        None
    };
    let upstream = sim.as_ref().map(|s| format!("okx={}", s.url));
    let extra: Vec<&str> = upstream
        .iter()
        .flat_map(|u| ["--upstream", u.as_str()])
        .collect();
    let server = Server::start(&proxy, &dist, listen, &extra)?;
    println!();
    println!("Holdix is running at {}", server.url);
    if demo {
        println!();
        println!("Demo mode: OKX requests go to the exchange simulator, not to okx.com.");
        println!("Connect OKX with these read-only demo credentials:");
        println!("  API Key:        d2a1f5e0-0000-4000-8000-000000000001");
        println!("  API Secret:     DEMO-SECRET-1-7f3c9a1b2e4d");
        println!("  API Passphrase: Demo-Passphrase-1");
    }
    println!("Press Ctrl+C to stop.");
    server.wait()
}
