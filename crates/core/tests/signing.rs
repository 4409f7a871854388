//! Signing round trips: requests signed by the app's exchange modules, for generated query
//! strings and bodies, verified by the simulator's independent implementation of each
//! exchange's check (OKX, Binance, Bybit, WhiteBIT). Cases: `HOLDIX_PROPTEST_CASES`.

use holdix_core::exchange::{binance, bybit, okx, whitebit, HttpRequest};
use holdix_core::records::{Connection, ConnectionOptions, ExchangeId, Secret};
use holdix_sim::{Fixture, Sim};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("HOLDIX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn conn(id: ExchangeId, key: &str, secret: &str, passphrase: Option<&str>) -> Connection {
    Connection {
        id: "c".into(),
        exchange: id,
        label: "c".into(),
        api_key: key.into(),
        secret: Secret::new(secret),
        passphrase: passphrase.map(Secret::new),
        options: ConnectionOptions::default(),
        key_expires_ms: None,
        saved_ms: 0,
    }
}

fn sim() -> &'static (holdix_sim::SharedSim, Fixture) {
    static ONE: std::sync::OnceLock<(holdix_sim::SharedSim, Fixture)> = std::sync::OnceLock::new();
    ONE.get_or_init(|| {
        let f = Fixture::demo();
        let sim = Sim::new(f.clone());
        // Every case is a request: the simulated per-key limits would refuse most of them.
        sim.set_faults(holdix_sim::Faults {
            rate_limits: false,
            ..holdix_sim::Faults::default()
        });
        (sim, f)
    })
}

fn send(site: &str, req: &HttpRequest) -> (u16, String) {
    holdix_sim::answer(
        &sim().0,
        site,
        req.method,
        &req.path_and_query,
        &req.headers,
        req.body.as_bytes(),
    )
    .unwrap()
}

/// Query values as a browser would send them: unreserved characters and %-escapes.
fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{0,12}(%[0-9A-F]{2}){0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// OKX: Base64(HMAC-SHA256(secret, timestamp + GET + path and query)).
    #[test]
    fn prop_okx_signatures_verify(ccy in proptest::collection::vec("[A-Z]{2,6}", 0..5)) {
        let k = &sim().1.okx.keys[0];
        let c = conn(ExchangeId::Okx, &k.api_key, &k.secret, Some(&k.passphrase));
        let pq = if ccy.is_empty() {
            "/api/v5/account/balance".to_string()
        } else {
            format!("/api/v5/account/balance?ccy={}", ccy.join(","))
        };
        let req = okx::private_get(&c, &pq, now_ms()).unwrap();
        let (status, body) = send("okx", &req);
        prop_assert_eq!(status, 200, "{}", body);
    }

    /// Binance: hex HMAC-SHA256 of the query (and body), appended as `signature`.
    #[test]
    fn prop_binance_signatures_verify(params in proptest::collection::vec(("[a-z][a-zA-Z]{0,10}", value()), 0..4)) {
        let k = &sim().1.binance.keys[0];
        let c = conn(ExchangeId::Binance, &k.api_key, &k.secret, None);
        let params: Vec<String> = params.iter().map(|(n, v)| format!("x{n}={v}")).collect();
        let req = binance::signed(&c, "binance", "GET", "/api/v3/account", &params.join("&"), now_ms()).unwrap();
        let (status, body) = send("binance", &req);
        prop_assert_eq!(status, 200, "{} {}", req.path_and_query, body);
    }

    /// Bybit: hex HMAC-SHA256 of timestamp + key + recvWindow + query.
    #[test]
    fn prop_bybit_signatures_verify(params in proptest::collection::vec(("[a-z][a-zA-Z]{0,10}", value()), 0..4)) {
        let k = &sim().1.bybit.keys[0];
        let mut query = vec!["accountType=UNIFIED".to_string()];
        query.extend(params.iter().map(|(n, v)| format!("x{n}={v}")));
        let query = query.join("&");
        let ts = now_ms();
        let sign = bybit::sign(&k.secret, ts, &k.api_key, 5000, &query);
        let req = HttpRequest {
            upstream: "bybit",
            method: "GET",
            path_and_query: format!("/v5/account/wallet-balance?{query}"),
            headers: vec![
                ("X-BAPI-API-KEY", k.api_key.clone()),
                ("X-BAPI-TIMESTAMP", ts.to_string()),
                ("X-BAPI-RECV-WINDOW", "5000".into()),
                ("X-BAPI-SIGN", sign),
            ],
            body: String::new(),
        };
        let (status, body) = send("bybit", &req);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(status, 200, "{}", body);
        prop_assert_eq!(&v["retCode"], 0, "{} {}", query, body);
    }

    /// WhiteBIT: the body as X-TXC-PAYLOAD (base64), hex HMAC-SHA512 of it.
    #[test]
    fn prop_whitebit_signatures_verify(params in proptest::collection::vec(("[a-z][a-zA-Z]{0,10}", "[A-Za-z0-9 ._-]{0,12}"), 0..4)) {
        let k = &sim().1.whitebit.keys[0];
        let extra: String = params.iter().map(|(n, v)| format!(r#","x{n}":"{v}""#)).collect();
        // Nonces only grow, across cases too.
        static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let nonce = (LAST.load(std::sync::atomic::Ordering::SeqCst) + 1).max(now_ms());
        LAST.store(nonce, std::sync::atomic::Ordering::SeqCst);
        // WhiteBIT takes nonces within 5 s of its clock: never run ahead of it.
        while nonce > now_ms() + 1000 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let body = whitebit::body(whitebit::MAIN, nonce, &extra);
        let (payload, sign) = whitebit::sign(&k.secret, &body);
        let req = HttpRequest {
            upstream: "whitebit",
            method: "POST",
            path_and_query: whitebit::MAIN.to_string(),
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("X-TXC-APIKEY", k.api_key.clone()),
                ("X-TXC-PAYLOAD", payload),
                ("X-TXC-SIGNATURE", sign),
            ],
            body,
        };
        let (status, answer) = send("whitebit", &req);
        prop_assert_eq!(status, 200, "{}", answer);
    }
}
