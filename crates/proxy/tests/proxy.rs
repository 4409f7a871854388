//! The proxy in front of the exchange simulator, over real sockets on 127.0.0.1: what passes,
//! what is refused (with no upstream request), what is stripped, the limits, the logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use holdix_proxy::{Config, RateLimit};
use holdix_sim::client::*;
use holdix_sim::okx::signature;
use holdix_sim::{Faults, Fixture, SharedSim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Harness {
    proxy: SocketAddr,
    sim: SharedSim,
}

async fn start(tune: impl FnOnce(&mut Config)) -> Harness {
    let (sim, sim_url) = start_sim().await;
    let mut config = Config {
        // Each exchange family under its prefix on the simulator, as the fixture lists them.
        upstreams: Fixture::demo()
            .upstreams
            .into_iter()
            .map(|f| (f.clone(), format!("{sim_url}/{f}")))
            .collect::<BTreeMap<_, _>>(),
        rate_limit: None,
        ..Config::default()
    };
    tune(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(holdix_proxy::serve(
        listener,
        config,
        std::future::pending(),
    ));
    Harness { proxy, sim }
}

#[tokio::test]
async fn signed_request_passes_unchanged_and_verifies() {
    let h = start(|_| {}).await;
    let pq = "/api/v5/account/balance?ccy=BTC,ETH";
    let (status, resp) = raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(body_of(&resp)["code"], "0");
    assert_eq!(
        body_of(&resp)["data"][0]["details"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(h.sim.stats().last_request, format!("GET {pq}"));

    // A POST's query and body arrive byte for byte (Binance signs both).
    let body = b"asset=BTC&needBtcValuation=true";
    raw(
        h.proxy,
        "POST /binance/sapi/v1/asset/get-funding-asset?recvWindow=10000&timestamp=1",
        "Content-Type: application/x-www-form-urlencoded\r\nX-MBX-APIKEY: k\r\n",
        body,
    )
    .await;
    let stats = h.sim.stats();
    assert_eq!(stats.last_body.as_bytes(), body);
    assert_eq!(
        stats.last_request,
        "POST /sapi/v1/asset/get-funding-asset?recvWindow=10000&timestamp=1"
    );

    // WhiteBIT signs the body through X-TXC-PAYLOAD: the simulator checks that the body it
    // got is the payload and the signature is over it.
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
        h.proxy,
        &format!("POST /whitebit{path}"),
        &auth,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(body_of(&resp)["USDT"]["main_balance"], "1200");
    assert_eq!(h.sim.stats().last_body, body);
    // Its read routes are POSTs only.
    let (status, _) = raw(h.proxy, &format!("GET /whitebit{path}"), &auth, b"").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn exchange_errors_come_back_as_sent() {
    let h = start(|_| {}).await;
    let pq = "/api/v5/account/balance";
    let auth = okx_auth(pq).replace(PASSPHRASE, "not-the-passphrase");
    let (status, resp) = raw(h.proxy, &format!("GET /okx{pq}"), &auth, b"").await;
    assert_eq!(status, 401);
    assert_eq!(body_of(&resp)["code"], "50105");
}

#[tokio::test]
async fn headers_are_stripped_both_ways() {
    let h = start(|_| {}).await;
    let pq = "/api/v5/account/config";
    let extra = "Cookie: session=abc\r\nOrigin: http://127.0.0.1:8080\r\nReferer: http://127.0.0.1:8080/x\r\n\
                 Authorization: Bearer t\r\nX-Forwarded-For: 10.1.2.3\r\nX-Real-IP: 10.1.2.3\r\nForwarded: for=1.2.3.4\r\n\
                 Accept: application/json\r\nX-Other: 1\r\n";
    let (status, resp) = raw(
        h.proxy,
        &format!("GET /okx{pq}"),
        &format!("{}{extra}", okx_auth(pq)),
        b"",
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    let sent: Vec<String> = h
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
            "{kept} must reach the exchange: {sent:?}"
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
        assert!(
            !sent.iter().any(|k| k == dropped),
            "{dropped} must not reach the exchange"
        );
    }
    assert_eq!(header_of(&resp, "set-cookie"), None, "no cookie comes back");
    assert_eq!(header_of(&resp, "content-type"), Some("application/json"));
    assert_eq!(
        header_of(&resp, "access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
}

/// Every one refused with its error, and not one request reaches the exchange.
#[tokio::test]
async fn refusal_battery_makes_no_upstream_request() {
    let h = start(|_| {}).await;
    assert_eq!(h.sim.stats().requests, 0);
    // The same battery the pure rules and the Worker are checked against.
    let cases = holdix_gate::battery::REFUSED;
    for (line, expected) in cases {
        let (status, resp) = raw(h.proxy, line, "", b"").await;
        assert_eq!(status, *expected, "{line}: {resp}");
        assert!(body_of(&resp)["error"].is_string(), "{line}: a JSON error");
    }
    let (status, resp) = raw(h.proxy, "POST /okx/api/v5/trade/order", "", b"").await;
    assert_eq!(status, 403);
    assert_eq!(
        body_of(&resp)["error"],
        "route not allowed: POST /okx/api/v5/trade/order"
    );

    // Oversize body.
    let big = vec![b'x'; 64 * 1024 + 1];
    let (status, _) = raw(h.proxy, "POST /batch", "", &big).await;
    assert_eq!(status, 413);

    // A disallowed origin, on an allowed route.
    let pq = "/api/v5/account/balance";
    let auth = format!("{}Origin: https://evil.example\r\n", okx_auth(pq));
    let (status, resp) = raw(h.proxy, &format!("GET /okx{pq}"), &auth, b"").await;
    assert_eq!(status, 403);
    assert_eq!(header_of(&resp, "access-control-allow-origin"), None);

    assert_eq!(
        h.sim.stats().requests,
        0,
        "no refused request reached the exchange"
    );
}

#[tokio::test]
async fn cors_preflight() {
    let h = start(|c| c.allow_origins = Some(vec!["https://holdix.example".into()])).await;
    let ask = |origin: &str, headers: &str| {
        format!(
            "Origin: {origin}\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: {headers}\r\n"
        )
    };
    let (status, resp) = raw(
        h.proxy,
        "OPTIONS /okx/api/v5/account/balance",
        &ask(
            "https://holdix.example",
            "ok-access-key,ok-access-sign,ok-access-timestamp,ok-access-passphrase",
        ),
        b"",
    )
    .await;
    assert_eq!(status, 204, "{resp}");
    assert_eq!(
        header_of(&resp, "access-control-allow-origin"),
        Some("https://holdix.example")
    );
    assert!(header_of(&resp, "access-control-allow-headers")
        .unwrap()
        .contains("ok-access-passphrase"));

    // Loopback is not allowed once an explicit list is given; neither are other headers.
    let (status, _) = raw(
        h.proxy,
        "OPTIONS /okx/api/v5/account/balance",
        &ask("http://127.0.0.1:9", "ok-access-key"),
        b"",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = raw(
        h.proxy,
        "OPTIONS /okx/api/v5/account/balance",
        &ask("https://holdix.example", "authorization"),
        b"",
    )
    .await;
    assert_eq!(status, 403);
    // The proxy's own origin is always allowed.
    let own = format!("http://{}", h.proxy);
    let (status, _) = raw(
        h.proxy,
        "OPTIONS /okx/api/v5/account/balance",
        &ask(&own, "ok-access-key"),
        b"",
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(h.sim.stats().requests, 0);
}

#[tokio::test]
async fn upstream_timeout_is_504() {
    let h = start(|c| c.timeout = Duration::from_millis(500)).await;
    h.sim.set_faults(Faults {
        latency_ms: 1_500,
        rate_limits: false,
        ..Faults::default()
    });
    let (status, resp) = raw(h.proxy, "GET /okx/api/v5/public/time", "", b"").await;
    assert_eq!(status, 504);
    assert_eq!(
        body_of(&resp)["error"],
        "the exchange did not answer in time"
    );
}

#[tokio::test]
async fn a_slow_body_does_not_eat_into_the_exchanges_time() {
    // The exchange has 500 ms; the body takes 800 ms to arrive (well within the body
    // timeout). The exchange's time starts when the request is whole.
    let h = start(|c| c.timeout = Duration::from_millis(500)).await;
    let body = "asset=BTC";
    let head = format!(
        "POST /binance/sapi/v1/asset/get-funding-asset?timestamp=1 HTTP/1.1\r\nHost: x\r\n\
         {APP_ORIGIN}X-MBX-APIKEY: k\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(h.proxy).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    s.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(!answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert_eq!(
        h.sim.stats().last_body,
        body,
        "the exchange got the request"
    );
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let h = start(|c| {
        c.upstreams
            .insert("okx".into(), "http://127.0.0.1:9".into());
    })
    .await;
    let (status, resp) = raw(h.proxy, "GET /okx/api/v5/public/time", "", b"").await;
    assert_eq!(status, 502, "{resp}");
}

#[tokio::test]
async fn per_client_rate_limit_is_429_with_retry_after() {
    let h = start(|c| {
        c.rate_limit = Some(RateLimit {
            per_second: 0.5,
            burst: 3.0,
        })
    })
    .await;
    let pq = "/api/v5/account/balance";
    for _ in 0..3 {
        let (status, resp) = raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await;
        assert_eq!(status, 200, "{resp}");
    }
    let (status, resp) = raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await;
    assert_eq!(status, 429);
    assert_eq!(header_of(&resp, "retry-after"), Some("2"));
    assert_eq!(h.sim.stats().requests, 3);
}

/// Connections are dealt in turn to every event loop; the per-address budget is still one.
#[tokio::test]
async fn event_loops_share_one_budget_per_address() {
    let h = start(|c| {
        c.threads = 4;
        c.rate_limit = Some(RateLimit {
            per_second: 0.01,
            burst: 6.0,
        })
    })
    .await;
    let pq = "/api/v5/account/balance";
    let mut statuses = Vec::new();
    // A new connection per request: two rounds of the four loops.
    for _ in 0..8 {
        statuses.push(
            raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"")
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429, 429]);
    assert_eq!(h.sim.stats().requests, 6);
}

#[tokio::test]
async fn serves_the_app_and_never_forwards_its_paths() {
    let dir = std::env::temp_dir().join(format!("holdix-proxy-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<title>Holdix</title>").unwrap();
    let static_dir = dir.clone();
    let h = start(move |c| c.static_dir = Some(static_dir)).await;
    let (status, resp) = raw(h.proxy, "GET /", "", b"").await;
    assert_eq!(status, 200);
    assert!(resp.contains("<title>Holdix</title>"));
    assert_eq!(
        header_of(&resp, "content-security-policy"),
        Some("frame-ancestors 'none'")
    );
    assert_eq!(header_of(&resp, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header_of(&resp, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header_of(&resp, "cache-control"), Some("no-cache"));
    assert_eq!(raw(h.proxy, "GET /missing.js", "", b"").await.0, 404);
    assert_eq!(raw(h.proxy, "POST /index.html", "", b"").await.0, 404);
    assert_eq!(h.sim.stats().requests, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The build's precompressed copies go out by Accept-Encoding (brotli first, then gzip, else
/// the file itself), as the file's own type, with `Vary: Accept-Encoding`.
#[tokio::test]
async fn serves_precompressed_copies_by_accept_encoding() {
    let dir = std::env::temp_dir().join(format!("holdix-proxy-br-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.js"), "plain javascript").unwrap();
    std::fs::write(dir.join("app.js.br"), "brotli bytes").unwrap();
    std::fs::write(dir.join("app.js.gz"), "gzip bytes").unwrap();
    std::fs::write(dir.join("logo.png"), "png").unwrap();
    let static_dir = dir.clone();
    let h = start(move |c| c.static_dir = Some(static_dir)).await;
    for (accept, encoding, body) in [
        (
            "Accept-Encoding: gzip, deflate, br, zstd\r\n",
            Some("br"),
            "brotli bytes",
        ),
        ("Accept-Encoding: gzip\r\n", Some("gzip"), "gzip bytes"),
        ("", None, "plain javascript"),
    ] {
        let (status, resp) = raw(h.proxy, "GET /app.js", accept, b"").await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(header_of(&resp, "content-encoding"), encoding, "{accept}");
        assert!(resp.ends_with(body), "{accept}: {resp}");
        assert_eq!(header_of(&resp, "content-type"), Some("text/javascript"));
        assert_eq!(header_of(&resp, "vary"), Some("accept-encoding"));
    }
    // A file without copies goes out as it is, whatever the browser accepts.
    let (status, resp) = raw(h.proxy, "GET /logo.png", "Accept-Encoding: br\r\n", b"").await;
    assert_eq!(status, 200);
    assert_eq!(header_of(&resp, "content-encoding"), None);
    assert!(resp.ends_with("png"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A bounded loopback load run: 20,000 requests for server time over 64 connections, zero
/// errors, and identical public requests share one answer a second: the exchange sees about
/// one request per second of the run, not 20,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_run_has_zero_errors() {
    let h = start(|_| {}).await;
    let started = std::time::Instant::now();
    let client = Arc::new(
        reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .default_headers(
                [(
                    reqwest::header::ORIGIN,
                    reqwest::header::HeaderValue::from_static("http://127.0.0.1:8080"),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap(),
    );
    let url = format!("http://{}/okx/api/v5/public/time", h.proxy);
    let (connections, per_connection) = (64, 20_000 / 64 + 1);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0u32;
            for _ in 0..per_connection {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        if r.bytes().await.is_err() {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap();
    }
    assert_eq!(errors, 0);
    let upstream = h.sim.stats().requests;
    let seconds = started.elapsed().as_secs() + 1;
    assert!(
        (1..=seconds).contains(&upstream),
        "{upstream} upstream requests for {} in {seconds} s",
        connections * per_connection
    );
}

/// The real binary's log of a signed request names method, exchange, path and status, and
/// holds no key, passphrase, signature or query value.
#[tokio::test]
async fn logs_never_hold_secrets() {
    let (sim, sim_url) = start_sim().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_holdix-proxy"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            &format!("okx={sim_url}/okx"),
        ])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pq = "/api/v5/account/balance?ccy=SECRETQUERYVALUE";
    let auth = okx_auth(pq);
    let (status, _) = raw(addr, &format!("GET /okx{pq}"), &auth, b"").await;
    assert_eq!(status, 200);
    assert_eq!(sim.stats().requests, 1);
    // A route that tries to forge a log line (newline, fake fields, an ANSI escape), in a
    // batch item and as a refused direct path.
    let forged = "/api/v5/x\nFORGED-LINE INFO request status=200 \u{1b}[31mRED";
    let batch = serde_json::json!([
        {"exchange": "okx", "method": "GET", "path": forged},
        {"exchange": "FORGED-EXCHANGE\n", "method": "GET", "path": "/"},
    ])
    .to_string();
    let (status, _) = raw(addr, "POST /batch", "", batch.as_bytes()).await;
    assert_eq!(status, 200);
    let (status, _) = raw(addr, "GET /okx/FORGED-PATH%0Aline", "", b"").await;
    assert_eq!(status, 403);
    child.start_kill().unwrap();
    let output = child.wait_with_output().await.unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        log.contains("/api/v5/account/balance") && log.contains("200"),
        "the request is logged: {log}"
    );
    let sign = auth
        .lines()
        .find_map(|l| l.strip_prefix("OK-ACCESS-SIGN: "))
        .unwrap();
    assert!(
        log.contains("(refused route)"),
        "refused routes are logged as a constant: {log}"
    );
    for forged in ["FORGED", "\u{1b}[31mRED"] {
        assert!(!log.contains(forged), "client text reached the log: {log}");
    }
    for secret in [KEY, PASSPHRASE, sign, "SECRETQUERYVALUE", SECRET] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
}

/// `POST /batch`: each item is checked like a direct request; allowed ones are forwarded
/// (signed, verified by the simulator), refused ones never leave the proxy.
#[tokio::test]
async fn batch_checks_every_item_like_a_direct_request() {
    let h = start(|_| {}).await;
    let ts = iso_now();
    let pq = "/api/v5/account/balance?ccy=BTC";
    let signed = serde_json::json!({
        "OK-ACCESS-KEY": KEY,
        "OK-ACCESS-SIGN": signature(SECRET, &format!("{ts}GET{pq}")),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": PASSPHRASE,
        "Cookie": "session=1",
        "X-Forwarded-For": "10.0.0.1",
    });
    let items = serde_json::json!([
        {"exchange": "okx", "method": "GET", "path": pq, "headers": signed, "body": ""},
        {"exchange": "okx", "method": "POST", "path": "/api/v5/trade/order", "headers": {}, "body": "{}"},
        {"exchange": "evil.example", "method": "GET", "path": "/", "headers": {}, "body": ""},
        {"exchange": "okx", "method": "GET", "path": "/api/v5/../v5/account/balance", "headers": {}, "body": ""},
    ]);
    let body = items.to_string();
    let (status, resp) = raw(
        h.proxy,
        "POST /batch",
        "Content-Type: application/json\r\nOrigin: http://127.0.0.1:8080\r\n",
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(
        header_of(&resp, "access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    let answers = body_of(&resp);
    let statuses: Vec<u64> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 403, 404, 403]);
    let first: serde_json::Value =
        serde_json::from_str(answers[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(first["code"], "0", "the signed item verified upstream");
    assert_eq!(first["data"][0]["details"][0]["ccy"], "BTC");
    assert!(answers[0]["headers"].get("set-cookie").is_none());
    let stats = h.sim.stats();
    assert_eq!(
        stats.requests, 1,
        "only the allowed item reached the exchange"
    );
    let sent: Vec<String> = stats.last_headers.into_iter().map(|(k, _)| k).collect();
    assert!(sent.contains(&"ok-access-sign".to_string()));
    assert!(
        !sent.contains(&"cookie".to_string()) && !sent.contains(&"x-forwarded-for".to_string())
    );

    let too_many =
        serde_json::Value::Array(vec![items[0].clone(); holdix_proxy::BATCH_MAX + 1]).to_string();
    assert_eq!(
        raw(h.proxy, "POST /batch", "", too_many.as_bytes()).await.0,
        400
    );
    assert_eq!(raw(h.proxy, "POST /batch", "", b"not json").await.0, 400);
    assert_eq!(raw(h.proxy, "GET /batch", "", b"").await.0, 405);
    let evil = raw(
        h.proxy,
        "POST /batch",
        "Origin: https://evil.example\r\n",
        body.as_bytes(),
    )
    .await;
    assert_eq!(evil.0, 403);
    assert_eq!(h.sim.stats().requests, 1);
}

#[tokio::test]
async fn health_check_answers_allowed_origins_only() {
    let h = start(|_| {}).await;
    let (status, resp) = raw(
        h.proxy,
        "GET /healthz",
        "Origin: http://127.0.0.1:4000\r\n",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert!(resp.ends_with("ok"), "{resp}");
    assert_eq!(
        header_of(&resp, "access-control-allow-origin"),
        Some("http://127.0.0.1:4000")
    );
    let (status, resp) = raw(
        h.proxy,
        "GET /healthz",
        "Origin: https://evil.example\r\n",
        b"",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(header_of(&resp, "access-control-allow-origin"), None);
    assert_eq!(h.sim.stats().requests, 0);
}

/// Nothing the proxy answers on an API path may be stored by a browser or a shared cache,
/// be taken for a page, or run a script: forwarded, batched, refused and upstream error
/// pages alike.
#[tokio::test]
async fn api_answers_are_no_store_json_and_sandboxed() {
    let h = start(|_| {}).await;
    let pq = "/api/v5/account/config";
    let forwarded = raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await;
    assert_eq!(forwarded.0, 200, "{}", forwarded.1);
    let refused = raw(h.proxy, "POST /okx/api/v5/trade/order", "", b"").await;
    assert_eq!(refused.0, 403);
    let unknown = raw(h.proxy, "GET /nowhere", "", b"").await;
    assert_eq!(unknown.0, 404);
    let batch = raw(
        h.proxy,
        "POST /batch",
        "Content-Type: application/json\r\n",
        br#"[{"exchange":"okx","method":"GET","path":"/api/v5/public/time"}]"#,
    )
    .await;
    assert_eq!(batch.0, 200);
    // An exchange edge's HTML error page.
    h.sim.set_faults(Faults {
        status: Some(503),
        rate_limits: false,
        ..Faults::default()
    });
    let html = raw(
        h.proxy,
        "GET /okx/api/v5/market/tickers?instType=SPOT",
        "",
        b"",
    )
    .await;
    assert_eq!(html.0, 503);
    assert!(html.1.contains("<html>"), "the body is passed on as sent");
    for (what, (_, resp)) in [
        ("forwarded", &forwarded),
        ("refused", &refused),
        ("unknown", &unknown),
        ("batch", &batch),
        ("upstream html", &html),
    ] {
        assert_eq!(header_of(resp, "cache-control"), Some("no-store"), "{what}");
        assert_eq!(
            header_of(resp, "content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(
            header_of(resp, "x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header_of(resp, "content-security-policy"),
            Some("default-src 'none'; sandbox"),
            "{what}"
        );
    }
}

/// Another web page cannot spend the proxy's quotas through its visitors: exchange routes
/// need an allowed Origin or a same-origin fetch, unless the operator allows scripts.
#[tokio::test]
async fn requests_without_an_allowed_origin_are_refused() {
    let h = start(|_| {}).await;
    let time = "GET /okx/api/v5/public/time";
    // An <img> or link on another site: no Origin, Sec-Fetch-Site cross-site.
    let (status, resp) = raw(
        h.proxy,
        time,
        &format!("{NO_ORIGIN}Sec-Fetch-Site: cross-site\r\n"),
        b"",
    )
    .await;
    assert_eq!(status, 403, "{resp}");
    assert!(body_of(&resp)["error"]
        .as_str()
        .unwrap()
        .contains("--allow-no-origin"));
    assert_eq!(raw(h.proxy, time, NO_ORIGIN, b"").await.0, 403);
    let batch = br#"[{"exchange":"okx","method":"GET","path":"/api/v5/public/time"}]"#;
    assert_eq!(raw(h.proxy, "POST /batch", NO_ORIGIN, batch).await.0, 403);
    assert_eq!(h.sim.stats().requests, 0);
    // The app's own same-origin GET (browsers send no Origin there, but Sec-Fetch-Site).
    let (status, _) = raw(
        h.proxy,
        time,
        &format!("{NO_ORIGIN}Sec-Fetch-Site: same-origin\r\n"),
        b"",
    )
    .await;
    assert_eq!(status, 200);
    // The health check stays open to anyone.
    assert_eq!(raw(h.proxy, "GET /healthz", NO_ORIGIN, b"").await.0, 200);

    let scripts = start(|c| c.allow_no_origin = true).await;
    assert_eq!(raw(scripts.proxy, time, NO_ORIGIN, b"").await.0, 200);
}

/// Refused routes and unknown paths cost the client like allowed ones.
#[tokio::test]
async fn refused_routes_spend_the_client_budget_too() {
    let h = start(|c| {
        c.rate_limit = Some(RateLimit {
            per_second: 0.1,
            burst: 2.0,
        })
    })
    .await;
    assert_eq!(
        raw(h.proxy, "POST /okx/api/v5/trade/order", "", b"")
            .await
            .0,
        403
    );
    assert_eq!(raw(h.proxy, "GET /nowhere", "", b"").await.0, 404);
    let (status, resp) = raw(h.proxy, "POST /okx/api/v5/trade/order", "", b"").await;
    assert_eq!(status, 429, "{resp}");
    assert!(header_of(&resp, "retry-after").is_some());
}

/// Behind a load balancer, clients are told apart by X-Forwarded-For, but only when the
/// balancer is a trusted proxy; otherwise the header is ignored (anyone can send it).
#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let limit = Some(RateLimit {
        per_second: 0.1,
        burst: 1.0,
    });
    let trusted = start(|c| {
        c.rate_limit = limit;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let time = "GET /okx/api/v5/public/time";
    let from = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    assert_eq!(
        raw(trusted.proxy, time, &from("198.51.100.1"), b"").await.0,
        200
    );
    assert_eq!(
        raw(trusted.proxy, time, &from("198.51.100.2"), b"").await.0,
        200
    );
    assert_eq!(
        raw(trusted.proxy, time, &from("198.51.100.1"), b"").await.0,
        429
    );
    // A spoofed left-most entry does not buy a new bucket.
    assert_eq!(
        raw(trusted.proxy, time, &from("1.2.3.4, 198.51.100.2"), b"")
            .await
            .0,
        429
    );

    let untrusted = start(|c| c.rate_limit = limit).await;
    assert_eq!(
        raw(untrusted.proxy, time, &from("198.51.100.1"), b"")
            .await
            .0,
        200
    );
    assert_eq!(
        raw(untrusted.proxy, time, &from("198.51.100.2"), b"")
            .await
            .0,
        429
    );
}

/// Identical public requests at the same moment make one upstream request; signed ones are
/// never shared.
#[tokio::test]
async fn identical_public_requests_share_one_answer_signed_ones_never() {
    let h = start(|_| {}).await;
    h.sim.set_faults(Faults {
        latency_ms: 200,
        rate_limits: false,
        ..Faults::default()
    });
    let tickers = "GET /okx/api/v5/market/tickers?instType=SPOT";
    let answers =
        futures_util::future::join_all((0..10).map(|_| raw(h.proxy, tickers, "", b""))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert_eq!(
        h.sim.stats().requests,
        1,
        "ten visitors, one upstream request"
    );
    let bodies: Vec<_> = answers.iter().map(|(_, r)| body_of(r)).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));

    let pq = "/api/v5/account/balance";
    let signed =
        futures_util::future::join_all((0..3).map(|_| async move {
            raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await
        }))
        .await;
    assert!(signed.iter().all(|(status, _)| *status == 200));
    assert_eq!(
        h.sim.stats().requests,
        4,
        "each signed request went upstream"
    );

    // After the second, the shared answer is fetched again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(raw(h.proxy, tickers, "", b"").await.0, 200);
    assert_eq!(h.sim.stats().requests, 5);
}

/// The proxy's budget per exchange host holds however many clients ask: distinct public
/// queries (no sharing) past OKX's budget are answered 429 locally.
#[tokio::test]
async fn the_exchange_budget_holds_across_clients() {
    let h = start(|_| {}).await;
    let budget = holdix_proxy::Exchange::by_prefix("okx").unwrap().budget;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let line = format!("GET /okx/api/v5/market/tickers?instType=SPOT&n={i}");
        // A different client address each time would not help: the budget is the host's.
        let (status, resp) = raw(h.proxy, &line, "", b"").await;
        if status == 429 {
            assert!(body_of(&resp)["error"]
                .as_str()
                .unwrap()
                .contains("holding back"));
            assert!(header_of(&resp, "retry-after").is_some());
        }
        statuses.push(status);
    }
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        passed >= budget.burst as usize && passed < 8,
        "{statuses:?}"
    );
    assert_eq!(h.sim.stats().requests, passed as u64);
}

/// An exchange that answers 429 or 418 with Retry-After (as Binance does over its limit and
/// for an IP ban) pauses that host: the proxy answers 429 itself until then, other hosts go
/// on.
#[tokio::test]
async fn exchange_retry_after_pauses_the_host() {
    let h = start(|_| {}).await;
    h.sim.set_faults(Faults {
        status: Some(418),
        retry_after_secs: Some(120),
        rate_limits: false,
        ..Faults::default()
    });
    let time = "GET /okx/api/v5/public/time";
    assert_eq!(raw(h.proxy, time, "", b"").await.0, 418);
    h.sim.set_faults(Faults {
        rate_limits: false,
        ..Faults::default()
    });
    let before = h.sim.stats().requests;
    let pq = "/api/v5/account/balance";
    let (status, resp) = raw(h.proxy, &format!("GET /okx{pq}"), &okx_auth(pq), b"").await;
    assert_eq!(status, 429, "{resp}");
    let wait: u64 = header_of(&resp, "retry-after").unwrap().parse().unwrap();
    assert!((100..=120).contains(&wait), "{wait}");
    assert!(body_of(&resp)["error"]
        .as_str()
        .unwrap()
        .contains("slow down"));
    assert_eq!(
        h.sim.stats().requests,
        before,
        "nothing went to the paused host"
    );
    // Another host (OKX's EEA site) is not held back.
    assert_eq!(
        raw(h.proxy, "GET /okx-eea/api/v5/public/time", "", b"")
            .await
            .0,
        200
    );
}

/// Opens a connection and sends `bytes`; returns how long until the proxy closed it (or
/// `None` if it is still open after `patience`), and what it answered.
async fn held_open(
    addr: SocketAddr,
    bytes: &[u8],
    patience: Duration,
) -> (Option<Duration>, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(patience, stream.read_to_end(&mut out)).await;
    (
        closed.ok().map(|_| started.elapsed()),
        String::from_utf8_lossy(&out).into_owned(),
    )
}

/// Slowloris: trickled headers, an idle connection and a body that never comes are all cut
/// off by their deadlines instead of holding a socket for as long as the client likes.
#[tokio::test]
async fn slow_clients_are_cut_off() {
    let h = start(|c| {
        c.header_timeout = Duration::from_millis(500);
        c.body_timeout = Duration::from_millis(500);
    })
    .await;
    let patience = Duration::from_secs(5);
    let (closed, _) = held_open(
        h.proxy,
        b"GET /okx/api/v5/public/time HTTP/1.1\r\nHost: x\r\nX-Slow: 1",
        patience,
    )
    .await;
    let closed = closed.expect("partial headers: closed");
    assert!(closed < Duration::from_secs(3), "{closed:?}");

    let (closed, _) = held_open(h.proxy, b"", patience).await;
    assert!(closed.expect("idle: closed") < Duration::from_secs(3));

    let head = format!(
        "POST /batch HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}\
         Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{{"
    );
    let (closed, answer) = held_open(h.proxy, head.as_bytes(), patience).await;
    assert!(closed.expect("stalled body: closed") < Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(h.sim.stats().requests, 0);
}

/// No more connections than the cap are served at once: with both slots held by idle
/// clients, a third client waits, and is served as soon as one leaves.
#[tokio::test]
async fn open_connections_are_capped() {
    let h = start(|c| {
        c.max_connections = 2;
        c.header_timeout = Duration::from_secs(30);
    })
    .await;
    let first = tokio::net::TcpStream::connect(h.proxy).await.unwrap();
    let second = tokio::net::TcpStream::connect(h.proxy).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = tokio::spawn(raw(h.proxy, "GET /healthz", "", b""));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "the third connection waits for a slot"
    );
    drop(first);
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(status, 200);
    drop(second);
}

/// Every request is answered within the request deadline, however long the exchange (or
/// anything else) takes.
#[tokio::test]
async fn every_request_is_answered_within_the_deadline() {
    let h = start(|c| {
        c.timeout = Duration::from_secs(10);
        c.request_deadline = Duration::from_millis(500);
    })
    .await;
    h.sim.set_faults(Faults {
        latency_ms: 3_000,
        rate_limits: false,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let (status, resp) = raw(h.proxy, "GET /okx/api/v5/public/time", "", b"").await;
    assert_eq!(status, 503, "{resp}");
    assert!(body_of(&resp)["error"]
        .as_str()
        .unwrap()
        .contains("took too long"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Everything the client sends on one connection, then everything the proxy sent back until
/// it closed (or `patience` passed).
async fn conversation(addr: SocketAddr, bytes: &[u8], patience: Duration) -> String {
    held_open(addr, bytes, patience).await.1
}

/// HTTP/1.1 as RFC 9112 has it, on the wire: requests on one connection answered in order
/// (pipelined too), chunked request bodies, `Expect: 100-continue`, HTTP/1.0 closing, and
/// what would smuggle a second request past a front proxy refused with the connection closed.
#[tokio::test]
async fn http1_on_the_wire() {
    let h = start(|_| {}).await;
    let patience = Duration::from_secs(3);
    let pq = "/api/v5/account/balance";
    let signed = format!(
        "GET /okx{pq} HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}{}\r\n",
        okx_auth(pq)
    );
    // Three requests sent at once; the last asks to close.
    let pipelined = format!(
        "{signed}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n{}",
        signed.replace("Host: x\r\n", "Host: x\r\nConnection: close\r\n")
    );
    let answers = conversation(h.proxy, pipelined.as_bytes(), patience).await;
    let statuses: Vec<&str> = answers
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &answers[at + 9..at + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "200"], "{answers}");
    assert_eq!(answers.matches("connection: close").count(), 1, "{answers}");
    assert_eq!(h.sim.stats().requests, 2);

    // A chunked body (RFC 9112 §7.1) arrives whole upstream, after 100 Continue.
    let body = "asset=BTC&needBtcValuation=true";
    let (first, rest) = body.split_at(9);
    let chunked = format!(
        "POST /binance/sapi/v1/asset/get-funding-asset?timestamp=1 HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}\
         X-MBX-APIKEY: k\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Expect: 100-continue\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{first}\r\n{:x};ext=1\r\n{rest}\r\n0\r\n\r\n",
        first.len(),
        rest.len()
    );
    let answer = conversation(h.proxy, chunked.as_bytes(), patience).await;
    assert!(
        answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 "),
        "{answer}"
    );
    assert_eq!(h.sim.stats().last_body, body);

    // HTTP/1.0 is answered, then the connection closes.
    let answer = conversation(h.proxy, b"GET /healthz HTTP/1.0\r\n\r\n", patience).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");

    // Smuggling shapes: refused, the connection closed, nothing upstream; the request that
    // rides behind them is never answered.
    let before = h.sim.stats().requests;
    let behind = format!("GET /okx{pq} HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}\r\n");
    for head in [
        "Content-Length: 4\r\nTransfer-Encoding: chunked",
        "Content-Length: 4\r\nContent-Length: 5",
        "Transfer-Encoding: chunked, identity",
        "Content-Length: -4",
    ] {
        let wire = format!(
            "POST /batch HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}{head}\r\n\r\n0\r\n\r\n{behind}"
        );
        let answer = conversation(h.proxy, wire.as_bytes(), patience).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{head}: {answer}");
        assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{head}: {answer}");
    }
    // A body announced over the limit is refused before it is sent, the refusal readable
    // by the app (CORS), and the connection closed; so is a chunked one that grows over it.
    let over = format!(
        "POST /batch HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}Content-Length: 1000000\r\n\r\n[{{"
    );
    let chunk = "x".repeat(40_000);
    let chunked_over = format!(
        "POST /batch HTTP/1.1\r\nHost: x\r\n{APP_ORIGIN}Transfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n{behind}",
        chunk.len(),
        chunk.len()
    );
    for wire in [over, chunked_over] {
        let answer = conversation(h.proxy, wire.as_bytes(), patience).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        assert!(answer.contains("access-control-allow-origin: http://127.0.0.1:8080"));
        assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    }
    // Not HTTP/1.x at all, and a head over the limits.
    for wire in [
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_string(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".replace("Host", "Bad Name"),
        format!("GET /healthz HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(101)),
        format!(
            "GET /healthz HTTP/1.1\r\nX-Long: {}\r\n\r\n",
            "a".repeat(70_000)
        ),
    ] {
        let answer = conversation(h.proxy, wire.as_bytes(), patience).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 ") || answer.starts_with("HTTP/1.1 431 "),
            "{answer}"
        );
    }
    assert_eq!(h.sim.stats().requests, before);
}

/// On shutdown the proxy stops accepting, closes idle connections at once, and lets a
/// request in flight finish with its answer.
#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_open_requests() {
    let (sim, sim_url) = start_sim().await;
    sim.set_faults(Faults {
        latency_ms: 500,
        rate_limits: false,
        ..Faults::default()
    });
    let config = Config {
        upstreams: [("okx".to_string(), format!("{sim_url}/okx"))].into(),
        rate_limit: None,
        threads: 2,
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(holdix_proxy::serve(listener, config, async {
        let _ = stopped.await;
    }));
    // Connections are dealt to the two event loops in turn: one idle connection on each,
    // and the busy one on the first.
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let busy = tokio::spawn(raw(addr, "GET /okx/api/v5/public/time", "", b""));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(());
    for (i, idle) in idle.iter_mut().enumerate() {
        let mut out = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(2), idle.read_to_end(&mut out)).await;
        assert!(
            closed.is_ok() && out.is_empty(),
            "idle connection {i} is closed"
        );
    }
    let (status, resp) = busy.await.unwrap();
    assert_eq!(status, 200, "the open request is answered: {resp}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
