//! Building the app and the proxy, and serving them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::setup::{self, run as run_cmd};
use crate::{root, Result};

/// Builds the release app into `dist/` with Trunk (offline: everything is fetched first),
/// then writes the service worker for exactly those files.
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
    let dist = root.join("dist");
    crate::pwa::finish_build(&dist)?;
    Ok(dist)
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

/// A child process serving on a loopback address, stopped when dropped.
pub struct Service {
    child: Child,
    /// `http://ADDR`
    pub url: String,
}

impl Service {
    /// Spawns `cmd` and waits (20 s at most) until `probe` on `addr` answers, failing at once
    /// if the process exits.
    pub fn start(mut cmd: Command, addr: &str, probe: &str) -> Result<Self> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        let mut service = Self {
            child,
            url: format!("http://{addr}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get(addr, probe).is_some() {
                return Ok(service);
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                return Err(format!("{cmd:?} exited at start ({status})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("{cmd:?} did not answer on {addr}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait(mut self) -> Result {
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the service stopped ({status})"))
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy serving the built app from `dist` on `addr` (`extra`: more proxy flags).
pub fn start_app(proxy: &Path, dist: &Path, addr: &str, extra: &[&str]) -> Result<Service> {
    let mut cmd = Command::new(proxy);
    cmd.args(["--listen", addr, "--static"])
        .arg(dist)
        .args(extra);
    Service::start(cmd, addr, "/healthz")
}

/// The exchange simulator on a free address (`extra`: more simulator flags).
pub fn start_sim(extra: &[&str]) -> Result<Service> {
    let bin = build_proxy()?.with_file_name("holdix-sim");
    let addr = free_addr()?;
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", &addr]).args(extra);
    Service::start(cmd, &addr, "/__sim/stats")
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

/// `cargo xtask run [--demo]`.
pub fn run(listen: &str, demo: bool) -> Result {
    let dist = build_app()?;
    let proxy = build_proxy()?;
    let sim = if demo { Some(start_sim(&[])?) } else { None };
    let upstream = sim.as_ref().map(|s| format!("okx={}", s.url));
    let extra: Vec<&str> = upstream
        .iter()
        .flat_map(|u| ["--upstream", u.as_str()])
        .collect();
    let server = start_app(&proxy, &dist, listen, &extra)?;
    println!();
    println!("Holdix is running at {}/", server.url);
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
