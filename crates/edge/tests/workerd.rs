//! The built Worker in `workerd` (Cloudflare's Workers runtime, from npm) on 127.0.0.1, in
//! front of the exchange simulator: the same refusal battery as holdix-proxy with no
//! upstream request, a signed request byte for byte, header stripping both ways, CORS.
//!
//! These need the runtime and the build: `cargo xtask test` runs them (its "edge" layer
//! builds the Worker and sets `HOLDIX_WORKERD` and `HOLDIX_EDGE_DIR`), so they are ignored
//! by a plain `cargo test`.

use std::net::SocketAddr;
use std::time::Duration;

use holdix_gate::battery::{REFUSED, REWRITTEN_AT_THE_EDGE};
use holdix_sim::client::*;
use holdix_sim::{Fixture, SharedSim};

struct Edge {
    addr: SocketAddr,
    sim: SharedSim,
    // Killed when the test ends, pass or fail.
    _workerd: tokio::process::Child,
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The simulator, and workerd serving the Worker with every exchange family pointed at it.
async fn start() -> Edge {
    let workerd = std::env::var("HOLDIX_WORKERD").expect("HOLDIX_WORKERD: the workerd binary");
    let dir = std::env::var("HOLDIX_EDGE_DIR").expect("HOLDIX_EDGE_DIR: target/edge");
    let (sim, sim_url) = start_sim().await;
    let upstreams: Vec<String> = Fixture::demo()
        .upstreams
        .into_iter()
        .map(|f| format!("{f}={sim_url}/{f}"))
        .collect();
    let addr = free_addr();
    let child = tokio::process::Command::new(workerd)
        .args(["serve", "workerd.capnp", "--socket-addr"])
        .arg(format!("http={addr}"))
        .env("HOLDIX_TEST_UPSTREAMS", upstreams.join(" "))
        .env("ALLOWED_ORIGINS", "")
        .current_dir(dir)
        .kill_on_drop(true)
        .spawn()
        .expect("workerd starts");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Edge {
                addr,
                sim,
                _workerd: child,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("workerd did not listen on {addr}");
}

#[tokio::test]
#[ignore = "needs workerd and the built Worker: `cargo xtask test` runs it"]
async fn refusal_battery_makes_no_upstream_request() {
    let e = start().await;
    let rewritten = |line: &str| REWRITTEN_AT_THE_EDGE.iter().any(|(l, _)| *l == line);
    let mut checked = 0;
    for (line, expected) in REFUSED.iter().filter(|(l, _)| !rewritten(l)) {
        let (status, resp) = raw(e.addr, line, "", b"").await;
        assert_eq!(status, *expected, "{line}: {resp}");
        assert!(body_of(&resp)["error"].is_string(), "{line}: a JSON error");
        assert_eq!(
            header_of(&resp, "content-type"),
            Some("application/json"),
            "{line}"
        );
        checked += 1;
    }
    assert!(checked >= 35, "the battery ran: {checked}");
    let (status, resp) = raw(e.addr, "POST /okx/api/v5/trade/order", "", b"").await;
    assert_eq!(status, 403);
    assert_eq!(
        body_of(&resp)["error"],
        "route not allowed: POST /okx/api/v5/trade/order"
    );

    // Oversize body, on the batch and on an allowed POST route.
    let big = vec![b'x'; 64 * 1024 + 1];
    let (status, _) = raw(e.addr, "POST /batch", "", &big).await;
    assert_eq!(status, 413);
    let (status, _) = raw(
        e.addr,
        "POST /binance/sapi/v1/asset/get-funding-asset",
        "X-MBX-APIKEY: k\r\n",
        &big,
    )
    .await;
    assert_eq!(status, 413);

    // A disallowed origin on an allowed route; no Origin at all.
    let pq = "/api/v5/account/balance";
    let auth = format!("{}Origin: https://evil.example\r\n", okx_auth(pq));
    let (status, resp) = raw(e.addr, &format!("GET /okx{pq}"), &auth, b"").await;
    assert_eq!(status, 403);
    assert_eq!(header_of(&resp, "access-control-allow-origin"), None);
    let (status, _) = raw(e.addr, &format!("GET /okx{pq}"), NO_ORIGIN, b"").await;
    assert_eq!(status, 403);

    // Batch items: each refused on its own, none sent.
    let items = serde_json::json!([
        {"exchange": "kraken", "method": "GET", "path": "/0/private/Balance"},
        {"exchange": "okx", "method": "POST", "path": "/api/v5/trade/order", "body": "{}"},
        {"exchange": "okx", "method": "GET", "path": "/api/v5/../v5/account/balance"},
        {"exchange": "binance", "method": "DELETE", "path": "/api/v3/account"},
        {"exchange": "bybit", "method": "POST", "path": "/v5/asset/withdraw/create"},
    ]);
    let (status, resp) = raw(
        e.addr,
        "POST /batch",
        "Content-Type: application/json\r\n",
        items.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    let statuses: Vec<u64> = body_of(&resp)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [404, 403, 403, 403, 403]);
    let (status, _) = raw(e.addr, "POST /batch", "", b"[]").await;
    assert_eq!(status, 400);
    let (status, _) = raw(e.addr, "GET /batch", "", b"").await;
    assert_eq!(status, 405);

    assert_eq!(
        e.sim.stats().requests,
        0,
        "no refused request reached the exchange"
    );
}

/// The lines the platform rewrites before the Worker runs (see the gate's battery): each
/// is refused, or reaches the exchange only as an allowlisted route, byte for byte.
#[tokio::test]
#[ignore = "needs workerd and the built Worker: `cargo xtask test` runs it"]
async fn what_the_platform_rewrites_reaches_only_allowed_routes() {
    let e = start().await;
    for (line, seen) in REWRITTEN_AT_THE_EDGE {
        let before = e.sim.stats().requests;
        let (status, resp) = raw(e.addr, line, "", b"").await;
        let after = e.sim.stats();
        let (_, seen_path) = seen.split_once(' ').unwrap();
        let prefix = seen_path.trim_start_matches('/').split('/').next().unwrap();
        if after.requests == before {
            assert!(status >= 400, "{line}: {status} {resp}");
            continue;
        }
        let exchange = holdix_gate::Exchange::by_prefix(prefix).unwrap();
        let upstream_path = after.last_request.split_once(' ').unwrap().1;
        assert!(
            exchange
                .routes
                .iter()
                .any(|r| upstream_path.split('?').next() == Some(r.path)),
            "{line}: the exchange got {upstream_path}"
        );
        assert_eq!(format!("/{prefix}{upstream_path}"), seen_path, "{line}");
        // Unsigned: the exchange itself refuses a private route.
        if !exchange
            .routes
            .iter()
            .any(|r| r.public && r.path == upstream_path)
        {
            assert_eq!(status, 401, "{line}: {resp}");
        }
    }
}

#[tokio::test]
#[ignore = "needs workerd and the built Worker: `cargo xtask test` runs it"]
async fn signed_requests_pass_byte_for_byte_and_verify() {
    let e = start().await;
    let pq = "/api/v5/account/balance?ccy=BTC,ETH";
    let (status, resp) = raw(e.addr, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(body_of(&resp)["code"], "0");
    assert_eq!(
        body_of(&resp)["data"][0]["details"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(e.sim.stats().last_request, format!("GET {pq}"));

    // A wrong passphrase: the exchange's own error comes back as sent.
    let wrong = okx_auth("/api/v5/account/config").replace(PASSPHRASE, "not-the-passphrase");
    let (status, resp) = raw(e.addr, "GET /okx/api/v5/account/config", &wrong, b"").await;
    assert_eq!(status, 401);
    assert_eq!(body_of(&resp)["code"], "50105");

    // A POST's query and body arrive byte for byte (Binance signs both).
    let body = b"asset=BTC&needBtcValuation=true";
    raw(
        e.addr,
        "POST /binance/sapi/v1/asset/get-funding-asset?recvWindow=10000&timestamp=1",
        "Content-Type: application/x-www-form-urlencoded\r\nX-MBX-APIKEY: k\r\n",
        body,
    )
    .await;
    let stats = e.sim.stats();
    assert_eq!(stats.last_body.as_bytes(), body);
    assert_eq!(
        stats.last_request,
        "POST /sapi/v1/asset/get-funding-asset?recvWindow=10000&timestamp=1"
    );

    // WhiteBIT signs the body through X-TXC-PAYLOAD: the simulator verifies it.
    use holdix_core::exchange::whitebit;
    let k = &Fixture::demo().whitebit.keys[0];
    let path = whitebit::MAIN;
    let body = whitebit::body(path, chrono::Utc::now().timestamp_millis(), "");
    let (payload, sign) = whitebit::sign(&k.secret, &body);
    let auth = format!(
        "Content-Type: application/json\r\nX-TXC-APIKEY: {}\r\nX-TXC-PAYLOAD: {payload}\r\nX-TXC-SIGNATURE: {sign}\r\n",
        k.api_key
    );
    let (status, resp) = raw(
        e.addr,
        &format!("POST /whitebit{path}"),
        &auth,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(body_of(&resp)["USDT"]["main_balance"], "1200");
    assert_eq!(e.sim.stats().last_body, body);

    // The same OKX read inside a batch.
    let pq = "/api/v5/account/balance";
    let ts = iso_now();
    let sign = holdix_sim::okx::signature(SECRET, &format!("{ts}GET{pq}"));
    let items = serde_json::json!([{
        "exchange": "okx", "method": "GET", "path": pq,
        "headers": {"OK-ACCESS-KEY": KEY, "OK-ACCESS-SIGN": sign,
                    "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": PASSPHRASE},
    }]);
    let (status, resp) = raw(
        e.addr,
        "POST /batch",
        "Content-Type: application/json\r\n",
        items.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    let answer = &body_of(&resp)[0];
    assert_eq!(answer["status"], 200, "{resp}");
    let inner: serde_json::Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["code"], "0");
}

#[tokio::test]
#[ignore = "needs workerd and the built Worker: `cargo xtask test` runs it"]
async fn headers_are_stripped_both_ways() {
    let e = start().await;
    let pq = "/api/v5/account/config";
    let extra = "Cookie: session=abc\r\nReferer: http://127.0.0.1:8080/x\r\n\
                 Authorization: Bearer t\r\nX-Forwarded-For: 10.1.2.3\r\nX-Real-IP: 10.1.2.3\r\nForwarded: for=1.2.3.4\r\n\
                 Accept: application/json\r\nX-Other: 1\r\n";
    let (status, resp) = raw(
        e.addr,
        &format!("GET /okx{pq}"),
        &format!("{}{extra}", okx_auth(pq)),
        b"",
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    let sent: Vec<String> = e
        .sim
        .stats()
        .last_headers
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for kept in [
        "ok-access-key",
        "ok-access-sign",
        "ok-access-timestamp",
        "ok-access-passphrase",
        "accept",
    ] {
        assert!(
            sent.iter().any(|k| k == kept),
            "{kept} must reach: {sent:?}"
        );
    }
    for dropped in [
        "cookie",
        "origin",
        "referer",
        "authorization",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "x-other",
    ] {
        assert!(!sent.iter().any(|k| k == dropped), "{dropped}: {sent:?}");
    }
    assert_eq!(header_of(&resp, "set-cookie"), None, "no cookie comes back");
    assert_eq!(header_of(&resp, "content-type"), Some("application/json"));
    assert_eq!(header_of(&resp, "cache-control"), Some("no-store"));
    assert_eq!(
        header_of(&resp, "content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert_eq!(
        header_of(&resp, "access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );

    // A public route gets no auth header at all (its answer may be shared).
    let (status, _) = raw(
        e.addr,
        "GET /okx/api/v5/public/time",
        &okx_auth("/api/v5/public/time"),
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let sent = e.sim.stats().last_headers;
    assert!(
        !sent.iter().any(|(k, _)| k.starts_with("ok-access")),
        "{sent:?}"
    );
}

#[tokio::test]
#[ignore = "needs workerd and the built Worker: `cargo xtask test` runs it"]
async fn preflights_and_health() {
    let e = start().await;
    let ask = |headers: &str| {
        format!(
            "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: {headers}\r\n"
        )
    };
    let (status, resp) = raw(
        e.addr,
        "OPTIONS /okx/api/v5/account/balance",
        &ask("ok-access-key, ok-access-sign, ok-access-timestamp, ok-access-passphrase"),
        b"",
    )
    .await;
    assert_eq!(status, 204, "{resp}");
    assert_eq!(
        header_of(&resp, "access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    assert!(header_of(&resp, "access-control-allow-headers")
        .unwrap()
        .contains("ok-access-passphrase"));
    let (status, _) = raw(
        e.addr,
        "OPTIONS /okx/api/v5/account/balance",
        &ask("ok-access-key, cookie"),
        b"",
    )
    .await;
    assert_eq!(status, 403);
    let (status, resp) = raw(
        e.addr,
        "OPTIONS /okx/api/v5/account/balance",
        "Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n",
        b"",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(header_of(&resp, "access-control-allow-origin"), None);
    let (status, resp) = raw(e.addr, "GET /healthz", "", b"").await;
    assert_eq!(status, 200);
    assert!(resp.ends_with("ok"), "{resp}");
    assert_eq!(e.sim.stats().requests, 0);
}

/// The wrangler.toml `cargo xtask edge` writes is ready to deploy: wrangler accepts it
/// offline (`deploy --dry-run`), bundles exactly the built modules, and names the
/// allowed-origins variable and the rate-limiting binding.
#[tokio::test]
#[ignore = "needs wrangler and the built Worker: `cargo xtask test` runs it"]
async fn wrangler_accepts_the_deployment_config() {
    let wrangler = std::env::var("HOLDIX_WRANGLER").expect("HOLDIX_WRANGLER: the wrangler CLI");
    let dir = std::path::PathBuf::from(std::env::var("HOLDIX_EDGE_DIR").expect("HOLDIX_EDGE_DIR"));
    let out = std::env::temp_dir().join(format!("holdix-wrangler-{}", std::process::id()));
    let run = tokio::process::Command::new(wrangler)
        .args(["deploy", "--dry-run", "--outdir"])
        .arg(&out)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("NO_COLOR", "1")
        .current_dir(&dir)
        .kill_on_drop(true)
        .output()
        .await
        .expect("wrangler runs");
    let text =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    let uploaded = |name: &str| std::fs::read(out.join(name)).ok();
    let built = |name: &str| std::fs::read(dir.join("build").join(name)).ok();
    let same = ["shim.mjs", "holdix_edge.js", "holdix_edge_bg.wasm"]
        .iter()
        .all(|f| uploaded(f).is_some() && uploaded(f) == built(f));
    let _ = std::fs::remove_dir_all(&out);
    assert!(run.status.success(), "{text}");
    assert!(same, "the upload is the build: {text}");
    assert!(text.contains("env.RATE_LIMITER"), "{text}");
    assert!(text.contains("env.ALLOWED_ORIGINS"), "{text}");
    assert!(!text.contains("WARNING"), "{text}");
}
