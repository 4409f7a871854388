//! The proxy benchmark: nginx returning a fixed OKX-shaped body is the upstream; wrk (32
//! connections) measures it directly, through holdix-proxy, through nginx as a reverse proxy
//! (the standard thin proxy, and the anchor holdix-proxy is held to), through the Worker in
//! local workerd (the edge deployment's runtime; a figure, no target) and through
//! cors-anywhere, side by side in one run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::build::{free_addr, Service};
use crate::{root, Result};

const BODY: &str = r#"{"code":"0","msg":"","data":[{"ts":"1764115200000"}]}"#;
/// A private route: every request goes upstream (identical public requests would be answered
/// from the proxy's one-second shared answer, which is not what this measures).
const PATH: &str = "/api/v5/account/balance";
const ORIGIN: &str = "http://127.0.0.1:8080";
const CONNECTIONS: &str = "32";
const SECONDS: &str = "10s";
/// Rounds per target, interleaved (direct, holdix-proxy, nginx proxy, the Worker,
/// cors-anywhere, direct, …) so that drift on the shared machine hits all alike; holdix-proxy
/// and nginx take turns going first (an even number of rounds, so each goes first as often),
/// so any effect of the order hits both alike. The figures are per-target medians; every
/// round's figures go to stderr.
const ROUNDS: usize = 4;

/// Starts a quiet service (its output discarded) and waits until `probe` answers.
fn quiet(mut cmd: Command, addr: &str, probe: &str) -> Result<Service> {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    Service::start(cmd, addr, probe)
}

/// An nginx in `dir` (its own pid file, logs and temp folders) with `server` as its http
/// block's content; as many workers as cores, as nginx is deployed.
fn nginx(dir: &Path, addr: &str, server: &str, probe: &str) -> Result<Service> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let conf = format!(
        "daemon off;\nworker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{server}\n}}\n",
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let mut nginx = Command::new("nginx");
    nginx.arg("-p").arg(dir).arg("-c").arg(&path);
    quiet(nginx, addr, probe)
}

/// The upstream: a fixed OKX-shaped answer on every path. `reuseport`: the kernel deals
/// connections to its workers by a hash of the address pair instead of to whichever worker
/// wakes first (without it one worker held 23 of a proxy's 32 pooled connections); shares
/// still differ by chance (21 and 11 seen).
fn start_upstream(dir: &Path, addr: &str) -> Result<Service> {
    let server = format!(
        "  server {{\n    listen {addr} reuseport;\n    location / {{ default_type application/json; return 200 '{BODY}'; }}\n  }}"
    );
    nginx(dir, addr, &server, "/")
}

/// nginx as the standard thin reverse proxy, doing what holdix-proxy does for this route:
/// only `GET {PROXY_PATH}` passes (everything else 403/404), upstream connections are kept
/// alive, the allowed Origin is echoed (no other), cookies are dropped both ways.
fn start_nginx_proxy(dir: &Path, addr: &str, upstream: &str) -> Result<Service> {
    let server = format!(
        "  upstream okx {{ server {upstream}; keepalive 64; }}\n\
           map $http_origin $cors_origin {{ \"{ORIGIN}\" $http_origin; default \"\"; }}\n\
           server {{\n    listen {addr};\n\
             location = /okx{PATH} {{\n\
               limit_except GET {{ deny all; }}\n\
               proxy_pass http://okx{PATH};\n\
               proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n\
               proxy_set_header Cookie \"\";\n\
               proxy_hide_header Set-Cookie;\n\
               add_header Access-Control-Allow-Origin $cors_origin always;\n\
               add_header Vary Origin always;\n\
             }}\n\
             location = /healthz {{ return 200 ok; }}\n\
             location / {{ return 404; }}\n\
           }}"
    );
    nginx(dir, addr, &server, "/healthz")
}

/// Peak resident memory of a process and its children (nginx's master and workers), in MB.
fn tree_rss_mb(pid: u32) -> f64 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let mut total = peak_rss_mb(pid);
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        total += peak_rss_mb(child);
    }
    total
}

/// Peak resident memory of a process, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// wrk's figures for one target.
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn to_ms(text: &str) -> f64 {
    let (num, unit) = text.split_at(
        text.find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len()),
    );
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => f64::NAN,
    }
}

fn wrk(url: &str, headers: &[&str]) -> Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c", CONNECTIONS, "-d", SECONDS, "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()))
    };
    if let Some(bad) = field("Non-2xx or 3xx responses:") {
        return Err(format!("{url}: {bad} failed responses\n{text}"));
    }
    Ok(Load {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .ok_or(format!("wrk output:\n{text}"))?,
        p50_ms: field("50%").map(|v| to_ms(&v)).unwrap_or(f64::NAN),
        p99_ms: field("99%").map(|v| to_ms(&v)).unwrap_or(f64::NAN),
    })
}

/// Per-figure medians of several runs (of an even number, the mean of the middle two).
fn median(runs: Vec<Load>) -> Load {
    let mid = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n.is_multiple_of(2) {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        } else {
            v[n / 2]
        }
    };
    Load {
        rps: mid(&mut runs.iter().map(|l| l.rps).collect()),
        p50_ms: mid(&mut runs.iter().map(|l| l.p50_ms).collect()),
        p99_ms: mid(&mut runs.iter().map(|l| l.p99_ms).collect()),
    }
}

/// One target's figure lines: throughput, latencies and peak memory.
fn figures(name: &str, load: &Load, rss_mb: f64) -> [String; 4] {
    [
        format!("{name}_rps: {:.0} req/s", load.rps),
        format!("{name}_p50_ms: {:.2} ms", load.p50_ms),
        format!("{name}_p99_ms: {:.2} ms", load.p99_ms),
        format!("{name}_rss_mb: {rss_mb:.1} MB"),
    ]
}

/// The built Worker (`cargo xtask edge`) and the runtime to run it in.
pub struct Edge<'a> {
    pub workerd: &'a Path,
    pub dir: &'a Path,
}

/// Runs the five loads and returns the figure lines.
pub fn proxy_figures(proxy_bin: &PathBuf, edge: &Edge) -> Result<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("holdix-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = (|| {
        let nginx_addr = free_addr()?;
        let _nginx = start_upstream(&dir.join("upstream"), &nginx_addr)?;
        let path = PATH;
        let nginx_proxy_addr = free_addr()?;
        let nginx_proxy =
            start_nginx_proxy(&dir.join("nginx-proxy"), &nginx_proxy_addr, &nginx_addr)?;

        let proxy_addr = free_addr()?;
        let mut proxy = Command::new(proxy_bin);
        proxy.args([
            "--listen",
            &proxy_addr,
            "--upstream",
            &format!("okx=http://{nginx_addr}"),
            "--rate-limit",
            "0",
        ]);
        let proxy = quiet(proxy, &proxy_addr, "/healthz")?;
        let cors_addr = free_addr()?;
        let port = cors_addr.rsplit(':').next().unwrap_or("0").to_string();
        let mut cors = Command::new("node");
        cors.args(["cors-anywhere-server.cjs", &port])
            .current_dir(root().join("tests/e2e"));
        let cors = quiet(cors, &cors_addr, "/")?;
        let edge_addr = free_addr()?;
        let mut workerd = Command::new(edge.workerd);
        workerd
            .args(["serve", "workerd.capnp", "--socket-addr"])
            .arg(format!("http={edge_addr}"))
            .env("HOLDIX_TEST_UPSTREAMS", format!("okx=http://{nginx_addr}"))
            .env("ALLOWED_ORIGINS", "")
            .current_dir(edge.dir);
        let workerd = quiet(workerd, &edge_addr, "/healthz")?;

        let origin = [format!("Origin: {ORIGIN}")];
        let origin = [origin[0].as_str()];
        let (mut direct, mut through_proxy, mut through_cors) = (vec![], vec![], vec![]);
        let (mut through_nginx, mut through_edge) = (vec![], vec![]);
        for round in 0..ROUNDS {
            direct.push(wrk(&format!("http://{nginx_addr}{path}"), &[])?);
            let proxy_url = format!("http://{proxy_addr}/okx{path}");
            let nginx_url = format!("http://{nginx_proxy_addr}/okx{path}");
            if round.is_multiple_of(2) {
                through_proxy.push(wrk(&proxy_url, &origin)?);
                through_nginx.push(wrk(&nginx_url, &origin)?);
            } else {
                through_nginx.push(wrk(&nginx_url, &origin)?);
                through_proxy.push(wrk(&proxy_url, &origin)?);
            }
            through_edge.push(wrk(&format!("http://{edge_addr}/okx{path}"), &origin)?);
            through_cors.push(wrk(
                &format!("http://{cors_addr}/http://{nginx_addr}{path}"),
                &origin,
            )?);
            let shown = |name: &str, runs: &[Load]| {
                let l = &runs[round];
                format!("{name} {:.0} req/s p99 {:.2} ms", l.rps, l.p99_ms)
            };
            eprintln!(
                "proxy bench round {}: {}; {}; {}; {}; {}",
                round + 1,
                shown("direct", &direct),
                shown("holdix-proxy", &through_proxy),
                shown("nginx", &through_nginx),
                shown("edge", &through_edge),
                shown("cors-anywhere", &through_cors),
            );
        }
        let proxy_rss = peak_rss_mb(proxy.pid());
        let cors_rss = peak_rss_mb(cors.pid());
        let nginx_rss = tree_rss_mb(nginx_proxy.pid());
        let edge_rss = tree_rss_mb(workerd.pid());
        drop((proxy, cors, nginx_proxy, workerd));
        let (direct, through_proxy, through_cors) =
            (median(direct), median(through_proxy), median(through_cors));
        let (through_nginx, through_edge) = (median(through_nginx), median(through_edge));

        let mut lines = vec![format!("direct_rps: {:.0} req/s", direct.rps)];
        lines.extend(figures("proxy", &through_proxy, proxy_rss));
        lines.extend(figures("nginx_proxy", &through_nginx, nginx_rss));
        lines.push(format!(
            "proxy_over_nginx_proxy_rps: {:.2} ratio",
            through_proxy.rps / through_nginx.rps
        ));
        lines.extend(figures("edge_proxy", &through_edge, edge_rss));
        lines.extend(figures("cors_anywhere", &through_cors, cors_rss));
        lines.push(format!(
            "proxy_over_cors_anywhere_rps: {:.1} ratio",
            through_proxy.rps / through_cors.rps
        ));
        Ok(lines)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
