//! The Binance simulator over HTTP: the official signing examples, every wallet of the
//! fixture, every documented auth error with Binance's status, and request weights.

use std::net::SocketAddr;

use holdix_sim::binance::signature;
use holdix_sim::{Faults, Fixture, SharedSim, Sim};
use serde_json::Value;

struct Harness {
    base: String,
    sim: SharedSim,
    client: reqwest::Client,
}

async fn start(fixture: Fixture) -> Harness {
    let sim = Sim::new(fixture);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(holdix_sim::serve(
        listener,
        sim.clone(),
        std::future::pending(),
    ));
    Harness {
        base: format!("http://{addr}/binance"),
        sim,
        client: reqwest::Client::new(),
    }
}

/// Demo key `n` of the fixture.
fn key(n: usize) -> (String, String) {
    let k = &Fixture::demo().binance.keys[n - 1];
    (k.api_key.clone(), k.secret.clone())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Harness {
    /// A request signed as Binance specifies: `params` plus recvWindow and timestamp.
    async fn signed(
        &self,
        method: &str,
        path: &str,
        params: &str,
        (key, secret): &(String, String),
        timestamp: i64,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut query = String::from(params);
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("recvWindow=10000&timestamp={timestamp}"));
        let sig = signature(secret, &query);
        let url = format!("{}{path}?{query}&signature={sig}", self.base);
        let req = match method {
            "POST" => self.client.post(url),
            _ => self.client.get(url),
        };
        let resp = req.header("X-MBX-APIKEY", key).send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.json().await.unwrap(), headers)
    }
}

/// shared/reference/exchanges.md §2.2, with the simulator's own HMAC.
#[test]
fn the_official_signing_examples_verify() {
    let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    assert_eq!(
        signature(secret, "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"),
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    );
    assert_eq!(
        signature(secret, "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"),
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    );
}

#[tokio::test]
async fn every_wallet_of_the_read_only_key() {
    let h = start(Fixture::demo()).await;
    let k = key(1);
    let (status, restrictions, _) = h
        .signed("GET", "/sapi/v1/account/apiRestrictions", "", &k, now_ms())
        .await;
    assert_eq!(status, 200);
    assert_eq!(restrictions["enableReading"], true);
    assert_eq!(restrictions["enableSpotAndMarginTrading"], false);
    let (status, spot, headers) = h
        .signed(
            "GET",
            "/api/v3/account",
            "omitZeroBalances=true",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(status, 200);
    let assets: Vec<&str> = spot["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["asset"].as_str().unwrap())
        .collect();
    assert_eq!(
        assets,
        ["BTC", "BNB", "USDT", "LDUSDT"],
        "the zero SHIB balance is omitted"
    );
    assert!(headers.get("x-mbx-used-weight-1m").is_some());
    let (_, funding, _) = h
        .signed("POST", "/sapi/v1/asset/get-funding-asset", "", &k, now_ms())
        .await;
    assert_eq!(funding[0]["asset"], "USDT");
    let (_, flexible, _) = h
        .signed(
            "GET",
            "/sapi/v1/simple-earn/flexible/position",
            "current=1&size=100",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(
        (
            flexible["total"].as_u64(),
            flexible["rows"][0]["asset"].as_str()
        ),
        (Some(1), Some("USDT"))
    );
    let (_, empty_page, _) = h
        .signed(
            "GET",
            "/sapi/v1/simple-earn/locked/position",
            "current=2&size=100",
            &k,
            now_ms(),
        )
        .await;
    assert_eq!(
        (
            empty_page["total"].as_u64(),
            empty_page["rows"].as_array().unwrap().len()
        ),
        (Some(1), 0)
    );
    let (_, margin, _) = h
        .signed("GET", "/sapi/v1/margin/account", "", &k, now_ms())
        .await;
    assert_eq!(margin["userAssets"][1]["netAsset"], "-500");
    let (_, positions, _) = h
        .signed("GET", "/fapi/v3/positionRisk", "", &k, now_ms())
        .await;
    assert_eq!(
        positions.as_array().unwrap().len(),
        2,
        "hedge mode: a long and a short"
    );
    let (_, coinm, _) = h
        .signed("GET", "/dapi/v1/positionRisk", "", &k, now_ms())
        .await;
    assert_eq!(coinm[0]["symbol"], "ETHUSD_PERP");
    let time: Value = h
        .client
        .get(format!("{}/api/v3/time", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(time["serverTime"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn every_auth_error_with_binances_status() {
    let h = start(Fixture::demo()).await;
    let path = "/api/v3/account";
    let code = |v: &Value| v["code"].as_i64().unwrap();
    let (status, body, _) = h
        .signed("GET", path, "", &("short-key".into(), "x".into()), now_ms())
        .await;
    assert_eq!((status, code(&body)), (401, -2014));
    let unknown = ("Z".repeat(64), "secret".to_string());
    let (status, body, _) = h.signed("GET", path, "", &unknown, now_ms()).await;
    assert_eq!((status, code(&body)), (401, -2015));
    let (status, body, _) = h
        .signed(
            "GET",
            path,
            "",
            &(key(1).0, "wrong secret".into()),
            now_ms(),
        )
        .await;
    assert_eq!((status, code(&body)), (400, -1022));
    let (status, body, _) = h.signed("GET", path, "", &key(1), now_ms() + 5_000).await;
    assert_eq!((status, code(&body)), (400, -1021));
    assert!(body["msg"].as_str().unwrap().contains("1000ms ahead"));
    let (status, body, _) = h.signed("GET", path, "", &key(1), now_ms() - 20_000).await;
    assert_eq!((status, code(&body)), (400, -1021));
    assert!(body["msg"].as_str().unwrap().contains("recvWindow"));
    // IP-bound to another address.
    let (status, body, _) = h.signed("GET", path, "", &key(4), now_ms()).await;
    assert_eq!((status, code(&body)), (401, -2015));
    // Futures never enabled: -2015 on the futures hosts (naming the request IP), spot works.
    let (status, body, _) = h
        .signed("GET", "/fapi/v3/balance", "", &key(5), now_ms())
        .await;
    assert_eq!((status, code(&body)), (401, -2015));
    assert!(body["msg"]
        .as_str()
        .unwrap()
        .contains("request ip: 127.0.0.1"));
    let (status, body, _) = h
        .signed("GET", "/sapi/v1/margin/account", "", &key(5), now_ms())
        .await;
    assert_eq!((status, code(&body)), (400, -3003));
    assert_eq!(h.signed("GET", path, "", &key(5), now_ms()).await.0, 200);
}

#[tokio::test]
async fn request_weight_over_the_limit_is_429_with_retry_after() {
    let mut fixture = Fixture::demo();
    fixture.binance.weight_limit_1m = 50;
    let h = start(fixture).await;
    h.sim.set_faults(Faults::default());
    let k = key(1);
    // /api/v3/account weighs 20: two fit, the third does not.
    for used in [20, 40] {
        let (status, _, headers) = h.signed("GET", "/api/v3/account", "", &k, now_ms()).await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-mbx-used-weight-1m"], used.to_string().as_str());
    }
    let (status, body, headers) = h.signed("GET", "/api/v3/account", "", &k, now_ms()).await;
    assert_eq!((status, body["code"].as_i64()), (429, Some(-1003)));
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
}
