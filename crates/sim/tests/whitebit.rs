//! The WhiteBIT simulator over HTTP: the reference signing vector accepted, the payload
//! matching the body, nonces with and without `nonceWindow`, per-endpoint permissions, a
//! key disabled after a call from an address it does not list, each documented message,
//! and the documented shapes of every read.

use std::net::SocketAddr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use holdix_sim::whitebit::{signature, MAIN, SMART_FLEX, SUMMARY, TRADE};
use holdix_sim::{Faults, Fixture, Sim};
use serde_json::{json, Value};

struct Harness {
    base: String,
    client: reqwest::Client,
}

async fn start() -> Harness {
    start_with(Fixture::demo()).await
}

async fn start_with(fixture: Fixture) -> Harness {
    let sim = Sim::new(fixture);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(holdix_sim::serve(listener, sim, std::future::pending()));
    Harness {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
    }
}

/// Demo key `n` of the fixture.
fn key(n: usize) -> (String, String) {
    let k = &Fixture::demo().whitebit.keys[n - 1];
    (k.api_key.clone(), k.secret.clone())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A body with a windowed nonce.
fn windowed(path: &str, nonce: i64) -> String {
    format!(r#"{{"request":"{path}","nonce":{nonce},"nonceWindow":true}}"#)
}

impl Harness {
    /// POSTs `body` to `site` + `path` with `payload` and its signature under `secret`.
    async fn post_raw(
        &self,
        site: &str,
        path: &str,
        (key, secret): &(String, String),
        payload: &str,
        body: &str,
    ) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/{site}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("X-TXC-APIKEY", key)
            .header("X-TXC-PAYLOAD", payload)
            .header("X-TXC-SIGNATURE", signature(secret, payload))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// A request signed as WhiteBIT's guide says.
    async fn post(&self, site: &str, path: &str, k: &(String, String), body: &str) -> (u16, Value) {
        self.post_raw(site, path, k, &B64.encode(body), body).await
    }

    /// A windowed read of `path`, each with its own nonce (several may fall in one ms).
    async fn read(&self, path: &str, k: &(String, String)) -> (u16, Value) {
        static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000;
        self.post("whitebit", path, k, &windowed(path, now_ms() + n))
            .await
    }
}

/// shared/reference/exchanges.md §4.2, verified with the simulator's own HMAC, then sent:
/// the reference key's request is accepted (its nonce is a string and has no window: it
/// only has to be greater than the last).
#[tokio::test]
async fn the_reference_vector_is_accepted() {
    let body = r#"{"request":"/api/v4/trade-account/balance","nonce":"1735689600000"}"#;
    let payload = B64.encode(body);
    assert_eq!(
        payload,
        "eyJyZXF1ZXN0IjoiL2FwaS92NC90cmFkZS1hY2NvdW50L2JhbGFuY2UiLCJub25jZSI6IjE3MzU2ODk2MDAwMDAifQ=="
    );
    assert_eq!(
        signature("gainium-whitebit-test-secret", &payload),
        "f3395579fc616ec91ee39490782003f5a5f09098e7cd5214fbd8651ee5f9d0a7d21d52b1bcd410d4e722c0d57949ea0bfd1335c8207196f210335b1521dd5657"
    );
    let h = start().await;
    let reference = key(7);
    assert_eq!(reference.0, "gainium-whitebit-test-key");
    let (status, v) = h.post("whitebit", TRADE, &reference, body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["BTC"], json!({"available": "0.1", "freeze": "0.02"}));
    // The same increasing nonce again: "Too many requests.".
    let (status, v) = h.post("whitebit", TRADE, &reference, body).await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("Too many requests."))
    );
}

#[tokio::test]
async fn the_body_must_be_the_payload_and_the_signature_its_hmac() {
    let h = start().await;
    let k = key(1);
    let body = windowed(TRADE, now_ms());
    let other = windowed(TRADE, now_ms() + 1);
    let message = |v: &Value| v["message"].as_str().unwrap_or("").to_string();
    let (status, v) = h
        .post_raw("whitebit", TRADE, &k, &B64.encode(&body), &other)
        .await;
    assert_eq!((status, message(&v)), (400, "Invalid payload.".into()));
    let wrong = (k.0.clone(), "not-the-secret".to_string());
    let (status, v) = h.post("whitebit", TRADE, &wrong, &body).await;
    assert_eq!((status, message(&v)), (401, "Unauthorized request.".into()));
    let unknown = ("HDXWHITEBITNOSUCHKEY".to_string(), k.1.clone());
    let (status, _) = h.post("whitebit", TRADE, &unknown, &body).await;
    assert_eq!(status, 401);
    // `request` must be the path called.
    let (status, v) = h
        .post("whitebit", MAIN, &k, &windowed(TRADE, now_ms() + 2))
        .await;
    assert_eq!((status, message(&v)), (400, "Invalid payload.".into()));
    let (_, v) = h
        .post(
            "whitebit",
            TRADE,
            &k,
            &format!(r#"{{"request":"{TRADE}"}}"#),
        )
        .await;
    assert_eq!(message(&v), "Nonce not provided.");
    let (_, v) = h
        .post(
            "whitebit",
            TRADE,
            &k,
            &format!(
                r#"{{"request":"{TRADE}","nonce":{},"nonceWindow":"yes"}}"#,
                now_ms()
            ),
        )
        .await;
    assert_eq!(message(&v), "Invalid nonceWindow.");
    // Only POST.
    let resp = h
        .client
        .get(format!("{}/whitebit{TRADE}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

#[tokio::test]
async fn windowed_nonces_are_near_server_time_and_used_once() {
    let h = start().await;
    let k = key(1);
    let now = now_ms();
    let (status, _) = h.post("whitebit", MAIN, &k, &windowed(MAIN, now)).await;
    assert_eq!(status, 200);
    // Once only, but any order within the window (two tabs).
    let (_, v) = h.post("whitebit", MAIN, &k, &windowed(MAIN, now)).await;
    assert_eq!(v["message"], "Too many requests.");
    let (status, _) = h.post("whitebit", MAIN, &k, &windowed(MAIN, now - 1)).await;
    assert_eq!(status, 200);
    let (_, v) = h
        .post("whitebit", MAIN, &k, &windowed(MAIN, now - 6_000))
        .await;
    assert_eq!(
        v["message"],
        "Your nonce is more than 5 seconds lesser than the current nonce"
    );
    // The server's clock is what counts.
    let h = start_with(Fixture {
        faults: Faults {
            clock_offset_ms: 60_000,
            ..Faults::default()
        },
        ..Fixture::demo()
    })
    .await;
    let (status, _) = h.read(MAIN, &k).await;
    assert_eq!(status, 400);
    let time: Value = h
        .client
        .get(format!("{}/whitebit/api/v4/public/time", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let server_ms = time["time"].as_i64().unwrap() * 1000 + 500;
    let (status, v) = h
        .post("whitebit", MAIN, &k, &windowed(MAIN, server_ms))
        .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn keys_are_limited_per_endpoint_per_site_and_by_ip() {
    let h = start().await;
    let no_flex = key(2);
    assert_eq!(h.read(SUMMARY, &no_flex).await.0, 200);
    let (status, v) = h.read(SMART_FLEX, &no_flex).await;
    assert_eq!(
        (status, v["message"].as_str()),
        (403, Some("You don't have permission to use this endpoint."))
    );
    // The EU key works on whitebit.eu only.
    let eu = key(5);
    assert_eq!(h.read(MAIN, &eu).await.0, 401);
    let (status, _) = h
        .post("whitebit-eu", MAIN, &eu, &windowed(MAIN, now_ms()))
        .await;
    assert_eq!(status, 200);
    // Disabled, and disabled after one call from an address the key does not list.
    let disabled = "This action is unauthorized. Enable your key in API settings";
    assert_eq!(h.read(MAIN, &key(4)).await.1["message"], disabled);
    let bound = key(3);
    assert_eq!(h.read(MAIN, &bound).await.1["message"], disabled);
    assert_eq!(h.read(TRADE, &bound).await.1["message"], disabled);
    let reset = h
        .client
        .post(format!("{}/__sim/reset", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status().as_u16(), 204);
    // A forced rate limit is HTTP 429.
    let h = start_with(Fixture {
        faults: Faults {
            force_rate_limit: true,
            ..Faults::default()
        },
        ..Fixture::demo()
    })
    .await;
    assert_eq!(h.read(MAIN, &key(1)).await.0, 429);
}

#[tokio::test]
async fn every_read_has_its_documented_shape() {
    let h = start().await;
    let k = key(1);
    let (_, main) = h.read(MAIN, &k).await;
    assert_eq!(main["USDT"], json!({"main_balance": "1200"}));
    assert_eq!(main["XLM"], json!({"main_balance": "0"}), "zero rows too");
    let (_, trade) = h.read(TRADE, &k).await;
    assert!(trade.get("XRP").is_none(), "only non-zero balances");
    let (_, collateral) = h.read("/api/v4/collateral-account/balance", &k).await;
    assert_eq!(collateral["USDT"], json!(2000.0));
    // Equity: 2,000 USDT + 0.01 BTC at 97,100 + the positions' 139.75 unrealized PnL.
    let (_, summary) = h.read(SUMMARY, &k).await;
    assert_eq!(
        (&summary["equity"], &summary["pnl"], &summary["leverage"]),
        (&json!("3110.75"), &json!("139.75"), &json!(5))
    );
    let (_, positions) = h
        .read("/api/v4/collateral-account/positions/open", &k)
        .await;
    assert_eq!(positions.as_array().unwrap().len(), 2);
    // Smart-Flex: filtered by status, paged by limit and offset.
    let body = |offset: u32| {
        format!(
            r#"{{"request":"{SMART_FLEX}","nonce":{},"nonceWindow":true,"limit":1,"offset":{offset},"investmentStatus":1}}"#,
            now_ms() + 2_000 + i64::from(offset)
        )
    };
    let (_, first) = h.post("whitebit", SMART_FLEX, &k, &body(0)).await;
    assert_eq!(first["data"][0]["currency"], "USDT");
    let (_, second) = h.post("whitebit", SMART_FLEX, &k, &body(1)).await;
    assert_eq!(second["data"][0]["currency"], "ETH");
    let (_, third) = h.post("whitebit", SMART_FLEX, &k, &body(2)).await;
    assert_eq!(
        third["data"],
        json!([]),
        "the closed investment is filtered out"
    );
    let ticker: Value = h
        .client
        .get(format!("{}/whitebit/api/v4/public/ticker", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ticker["BTC_USDT"]["last_price"], "97100");
}
