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

/// Builds the proxy and the simulator (profile `server`: release, compiled for speed; in one
/// go so both share one feature set) and returns the proxy's path.
pub fn build_proxy() -> Result<PathBuf> {
    let root = root();
    run_cmd(
        Command::new("cargo")
            .args([
                "build",
                "--profile",
                "server",
                "--quiet",
                "-p",
                "holdix-proxy",
                "-p",
                "holdix-sim",
            ])
            .current_dir(&root),
    )?;
    Ok(root.join("target/server/holdix-proxy"))
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
    /// SIGTERM first, so a server with children stops them (nginx's master stops its
    /// workers; killed outright it would leave them running), then SIGKILL after 5 s.
    fn drop(&mut self) {
        crate::leftovers::send(self.child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// The simulator's demo fixture: what it plays and the demo keys.
fn fixture() -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(root().join("crates/sim/fixtures/demo.json"))
        .map_err(|e| format!("cannot read the demo fixture: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("the demo fixture: {e}"))
}

/// Proxy flags sending every exchange family the simulator plays (the fixture's
/// `upstreams`) to it: `--upstream okx=SIM/okx --upstream binance=SIM/binance …`.
pub fn sim_upstreams(sim: &Service) -> Result<Vec<String>> {
    let fixture = fixture()?;
    let families = fixture["upstreams"]
        .as_array()
        .ok_or("the demo fixture lists no upstreams")?;
    Ok(families
        .iter()
        .filter_map(|f| f.as_str())
        .flat_map(|f| ["--upstream".to_string(), format!("{f}={}/{f}", sim.url)])
        .collect())
}

/// The demo credentials to print: the first key of each exchange the fixture plays.
fn demo_credentials() -> Result<Vec<String>> {
    let fixture = fixture()?;
    let mut lines = Vec::new();
    for family in fixture["upstreams"].as_array().into_iter().flatten() {
        let family = family.as_str().unwrap_or_default();
        let Some(key) = fixture[family]["keys"].get(0) else {
            continue;
        };
        lines.push(format!("{family}:"));
        for (field, label) in [
            ("api_key", "API Key"),
            ("secret", "Secret"),
            ("passphrase", "Passphrase"),
        ] {
            if let Some(value) = key[field].as_str() {
                lines.push(format!("  {label:<12}{value}"));
            }
        }
    }
    Ok(lines)
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
    // Read by Content-Length: some servers (workerd) keep the connection a while after
    // answering, even when asked to close it.
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            if length.is_some_and(|n| response.len() >= end + 4 + n) {
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&response).into_owned())
}

/// `cargo xtask run [--demo]`.
pub fn run(listen: &str, demo: bool) -> Result {
    let dist = build_app()?;
    let proxy = build_proxy()?;
    let sim = if demo { Some(start_sim(&[])?) } else { None };
    let upstreams = match &sim {
        Some(sim) => sim_upstreams(sim)?,
        None => Vec::new(),
    };
    let extra: Vec<&str> = upstreams.iter().map(String::as_str).collect();
    let server = start_app(&proxy, &dist, listen, &extra)?;
    println!();
    println!("Holdix is running at {}/", server.url);
    if demo {
        println!();
        println!(
            "Demo mode: exchange requests go to the exchange simulator, never to an exchange."
        );
        println!("Connect with these read-only demo credentials:");
        for line in demo_credentials()? {
            println!("{line}");
        }
    }
    println!("Press Ctrl+C to stop.");
    server.wait()
}
