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
            .current_dir(&root),
    )?;
    Ok(root.join("dist"))
}

/// Builds the proxy binary (release) and returns its path.
pub fn build_proxy() -> Result<PathBuf> {
    let root = root();
    run_cmd(
        Command::new("cargo")
            .args(["build", "--release", "--quiet", "-p", "holdix-proxy"])
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

/// `cargo xtask run`.
pub fn run(listen: &str) -> Result {
    let dist = build_app()?;
    let proxy = build_proxy()?;
    let server = Server::start(&proxy, &dist, listen, &[])?;
    println!();
    println!("Holdix is running at {}", server.url);
    println!("Press Ctrl+C to stop.");
    server.wait()
}
