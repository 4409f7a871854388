//! The Bybit simulator over HTTP: the reference signing vector, the recv-window rule, every
//! site knowing only its own keys, each documented error code in Bybit's envelope, the
//! rate-limit headers, and positions paged by cursor.

use std::net::SocketAddr;

use holdix_sim::bybit::signature;
use holdix_sim::{Faults, Fixture, Sim};
use serde_json::Value;

struct Harness {
    base: String,
    client: reqwest::Client,
}

async fn start() -> Harness {
    let sim = Sim::new(Fixture::demo());
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
    let k = &Fixture::demo().bybit.keys[n - 1];
    (k.api_key.clone(), k.secret.clone())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    fn code(&self) -> i64 {
        self.body["retCode"].as_i64().unwrap_or(-1)
    }
}

impl Harness {
    /// A GET signed as the v5 guide says, on `site` (`bybit`, `bybit-eu`, …).
    async fn get(
        &self,
        site: &str,
        path: &str,
        query: &str,
        (key, secret): &(String, String),
        timestamp: i64,
    ) -> Answer {
        let sign = signature(secret, &format!("{timestamp}{key}10000{query}"));
        let resp = self
            .client
            .get(format!("{}/{site}{path}?{query}", self.base))
            .header("X-BAPI-API-KEY", key)
            .header("X-BAPI-TIMESTAMP", timestamp.to_string())
            .header("X-BAPI-RECV-WINDOW", "10000")
            .header("X-BAPI-SIGN", sign)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Answer {
            status,
            body: resp.json().await.unwrap(),
            headers,
        }
    }
}

/// shared/reference/exchanges.md §3.2, with the simulator's own HMAC.
#[test]
fn the_reference_vectors_verify() {
    assert_eq!(
        signature(
            "test_secret",
            "1700000000000test_api_key5000category=linear&symbol=BTCUSDT"
        ),
        "fd4f31228a46109dc6673062328693696df9a96c7ff04e6491a45e7f63a0fdd7"
    );
    assert_eq!(
        signature(
            "test_secret",
            r#"1700000000000test_api_key5000{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "test-order-1"}"#
        ),
        "2df4a0603d69c08d5dea29ba85b46eb7db64ce9e9ebd34a7802a3d69700cb2a1"
    );
}

#[tokio::test]
async fn a_read_only_key_reads_every_wallet_with_rate_limit_headers() {
    let h = start().await;
    let k = key(1);
    let info = h.get("bybit", "/v5/user/query-api", "", &k, now_ms()).await;
    assert_eq!((info.status, info.code()), (200, 0));
    assert_eq!(info.body["result"]["readOnly"], 1);
    assert!(info.body["result"]["expiredAt"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert!(info.body["time"].as_i64().is_some());
    for name in [
        "x-bapi-limit",
        "x-bapi-limit-status",
        "x-bapi-limit-reset-timestamp",
    ] {
        assert!(info.headers.contains_key(name), "{name}");
    }
    let wallet = h
        .get(
            "bybit",
            "/v5/account/wallet-balance",
            "accountType=UNIFIED",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(wallet.body["result"]["list"][0]["totalEquity"], "29500");
    assert_eq!(wallet.body["result"]["list"][0]["coin"][0]["coin"], "BTC");
    let fund = h
        .get(
            "bybit",
            "/v5/asset/transfer/query-account-coins-balance",
            "accountType=FUND",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(fund.body["result"]["balance"][0]["walletBalance"], "1000");
    let earn = h
        .get(
            "bybit",
            "/v5/earn/position",
            "category=OnChain",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(earn.body["result"]["list"][0]["coin"], "ETH");
}

#[tokio::test]
async fn positions_page_by_cursor_until_the_end() {
    let h = start().await;
    let k = key(1);
    let base = "category=linear&settleCoin=USDT&limit=200";
    let first = h
        .get("bybit", "/v5/position/list", base, &k, now_ms())
        .await;
    let list = first.body["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 2, "the fixture's page limit is 2");
    let cursor = first.body["result"]["nextPageCursor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(cursor, "2%3A2");
    let second = h
        .get(
            "bybit",
            "/v5/position/list",
            &format!("{base}&cursor={cursor}"),
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(second.body["result"]["list"][0]["symbol"], "SOLUSDT");
    assert_eq!(second.body["result"]["nextPageCursor"], "");
    let usdc = h
        .get(
            "bybit",
            "/v5/position/list",
            "category=linear&settleCoin=USDC&limit=200",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(usdc.body["result"]["list"][0]["symbol"], "BTCPERP");
    let neither = h
        .get(
            "bybit",
            "/v5/position/list",
            "category=linear",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(neither.code(), 10001, "linear needs settleCoin or symbol");
}

#[tokio::test]
async fn each_documented_refusal_has_its_code() {
    let h = start().await;
    let now = now_ms();
    let q = "/v5/user/query-api";
    // A key of the EEA site is unknown on the global one, and known on its own.
    assert_eq!(h.get("bybit", q, "", &key(9), now).await.code(), 10003);
    assert_eq!(h.get("bybit-eu", q, "", &key(9), now).await.code(), 0);
    // A demo trading key only on the demo host.
    assert_eq!(h.get("bybit", q, "", &key(8), now).await.code(), 10003);
    assert_eq!(h.get("bybit-demo", q, "", &key(8), now).await.code(), 0);
    let wrong_secret = (key(1).0, "not-the-secret".to_string());
    assert_eq!(
        h.get("bybit", q, "", &wrong_secret, now).await.code(),
        10004
    );
    // recv window: up to 10 s behind is fine, 11 s is not; 1 s ahead is refused.
    assert_eq!(h.get("bybit", q, "", &key(1), now - 9_000).await.code(), 0);
    assert_eq!(
        h.get("bybit", q, "", &key(1), now - 11_000).await.code(),
        10002
    );
    assert_eq!(
        h.get("bybit", q, "", &key(1), now + 1_500).await.code(),
        10002
    );
    assert_eq!(h.get("bybit", q, "", &key(3), now).await.code(), 10010);
    assert_eq!(h.get("bybit", q, "", &key(5), now).await.code(), 33004);
    let rw = h.get("bybit", q, "", &key(2), now).await;
    assert_eq!(rw.body["result"]["readOnly"], 0);
    let classic = h
        .get(
            "bybit",
            "/v5/account/wallet-balance",
            "accountType=UNIFIED",
            &key(6),
            now,
        )
        .await;
    assert_eq!(classic.code(), 10028);
    let contract = h
        .get(
            "bybit",
            "/v5/account/wallet-balance",
            "accountType=CONTRACT",
            &key(6),
            now,
        )
        .await;
    assert_eq!(contract.body["result"]["list"][0]["coin"][0]["coin"], "BTC");
    let no_earn = h
        .get(
            "bybit",
            "/v5/earn/position",
            "category=FlexibleSaving",
            &key(7),
            now,
        )
        .await;
    assert_eq!(no_earn.code(), 10005);
}

#[tokio::test]
async fn a_forced_rate_limit_answers_10006_with_its_reset_time() {
    let sim = Sim::new(Fixture::demo());
    sim.set_faults(Faults {
        force_rate_limit: true,
        ..Faults::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(holdix_sim::serve(listener, sim, std::future::pending()));
    let h = Harness {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
    };
    let a = h
        .get("bybit", "/v5/user/query-api", "", &key(1), now_ms())
        .await;
    assert_eq!(a.code(), 10006);
    let reset: i64 = a.headers["x-bapi-limit-reset-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let time = a.body["time"].as_i64().unwrap();
    assert!(reset > time && reset - time <= 1_000, "{reset} vs {time}");
    // Public market data is not rate limited by account.
    let t = h
        .client
        .get(format!("{}/bybit/v5/market/time", h.base))
        .send()
        .await
        .unwrap();
    let v: Value = t.json().await.unwrap();
    assert_eq!(v["retCode"], 0);
    assert!(v["result"]["timeNano"].as_str().unwrap().len() >= 19);
}
