//! The OKX simulator over HTTP: the reference vector verifies, every documented auth error
//! is produced, the documented shapes come back, and the faults work.

use std::net::SocketAddr;
use std::time::Instant;

use holdix_sim::okx::signature;
use holdix_sim::{Faults, Fixture, SharedSim, Sim};
use serde_json::Value;

struct Harness {
    base: String,
    sim: SharedSim,
    client: reqwest::Client,
}

async fn start() -> Harness {
    let sim = Sim::new(Fixture::demo());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(holdix_sim::serve(
        listener,
        sim.clone(),
        std::future::pending(),
    ));
    Harness {
        base: format!("http://{addr}/okx"),
        sim,
        client: reqwest::Client::new(),
    }
}

struct Creds {
    key: &'static str,
    secret: &'static str,
    passphrase: &'static str,
}

const READ: Creds = Creds {
    key: "d2a1f5e0-0000-4000-8000-000000000001",
    secret: "DEMO-SECRET-1-7f3c9a1b2e4d",
    passphrase: "Demo-Passphrase-1",
};

fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Harness {
    /// An unsigned GET (public endpoints), parsed as JSON.
    async fn public(&self, path: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap()
    }

    /// A GET signed as OKX specifies, with `tweak` applied to the header list last.
    async fn get(
        &self,
        creds: &Creds,
        path: &str,
        tweak: impl FnOnce(&mut Vec<(&'static str, String)>),
    ) -> (u16, Value) {
        let ts = now_iso();
        let mut headers = vec![
            ("OK-ACCESS-KEY", creds.key.to_string()),
            (
                "OK-ACCESS-SIGN",
                signature(creds.secret, &format!("{ts}GET{path}")),
            ),
            ("OK-ACCESS-TIMESTAMP", ts),
            ("OK-ACCESS-PASSPHRASE", creds.passphrase.to_string()),
        ];
        tweak(&mut headers);
        let mut req = self.client.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn code(
        &self,
        creds: &Creds,
        path: &str,
        tweak: impl FnOnce(&mut Vec<(&'static str, String)>),
    ) -> (u16, String) {
        let (status, body) = self.get(creds, path, tweak).await;
        (status, body["code"].as_str().unwrap_or("?").to_string())
    }
}

fn drop_header(name: &'static str) -> impl FnOnce(&mut Vec<(&'static str, String)>) {
    move |h| h.retain(|(k, _)| *k != name)
}

fn set_header(name: &'static str, value: &str) -> impl FnOnce(&mut Vec<(&'static str, String)>) {
    let value = value.to_string();
    move |h| {
        h.retain(|(k, _)| *k != name);
        h.push((name, value));
    }
}

const BALANCE: &str = "/api/v5/account/balance";

/// shared/reference/exchanges.md §1.2, sent for real with the simulator's clock set to the
/// vector's timestamp.
#[tokio::test]
async fn reference_vector_request_verifies() {
    let h = start().await;
    let vector_ms = 1_607_418_537_715_i64; // 2020-12-08T09:08:57.715Z
    h.sim.set_faults(Faults {
        clock_offset_ms: vector_ms - chrono::Utc::now().timestamp_millis(),
        ..Faults::default()
    });
    let resp = h
        .client
        .get(format!("{}{BALANCE}", h.base))
        .header("OK-ACCESS-KEY", "985d5b66-57ce-40fb-b714-afc0b9787083")
        .header(
            "OK-ACCESS-SIGN",
            "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k=",
        )
        .header("OK-ACCESS-TIMESTAMP", "2020-12-08T09:08:57.715Z")
        .header("OK-ACCESS-PASSPHRASE", "1234567890")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "0");
    assert_eq!(body["data"][0]["details"][0]["ccy"], "BTC");
}

#[tokio::test]
async fn every_auth_error_code() {
    let h = start().await;
    let cases: Vec<(&str, (u16, String))> = vec![
        (
            "50103",
            h.code(&READ, BALANCE, drop_header("OK-ACCESS-KEY")).await,
        ),
        (
            "50104",
            h.code(&READ, BALANCE, drop_header("OK-ACCESS-PASSPHRASE"))
                .await,
        ),
        (
            "50106",
            h.code(&READ, BALANCE, drop_header("OK-ACCESS-SIGN")).await,
        ),
        (
            "50107",
            h.code(&READ, BALANCE, drop_header("OK-ACCESS-TIMESTAMP"))
                .await,
        ),
        (
            "50112",
            h.code(
                &READ,
                BALANCE,
                set_header("OK-ACCESS-TIMESTAMP", "1764115200"),
            )
            .await,
        ),
        (
            "50102",
            h.code(
                &READ,
                BALANCE,
                set_header("OK-ACCESS-TIMESTAMP", "2020-12-08T09:08:57.715Z"),
            )
            .await,
        ),
        (
            "50111",
            h.code(
                &Creds {
                    key: "no-such-key",
                    ..READ
                },
                BALANCE,
                |_| {},
            )
            .await,
        ),
        (
            "50105",
            h.code(
                &Creds {
                    passphrase: "wrong",
                    ..READ
                },
                BALANCE,
                |_| {},
            )
            .await,
        ),
        (
            "50113",
            h.code(
                &Creds {
                    secret: "wrong-secret",
                    ..READ
                },
                BALANCE,
                |_| {},
            )
            .await,
        ),
        // A live key with the demo header, and a demo key without it.
        (
            "50101",
            h.code(&READ, BALANCE, set_header("x-simulated-trading", "1"))
                .await,
        ),
        (
            "50101",
            h.code(
                &Creds {
                    key: "d2a1f5e0-0000-4000-8000-000000000006",
                    secret: "DEMO-SECRET-6-7f3c9a1b2e4d",
                    passphrase: "Demo-Passphrase-6",
                },
                BALANCE,
                |_| {},
            )
            .await,
        ),
    ];
    for (expected, (status, code)) in cases {
        assert_eq!((status, code.as_str()), (401, expected));
    }
}

#[tokio::test]
async fn timestamp_within_30_seconds_passes() {
    let h = start().await;
    h.sim.set_faults(Faults {
        clock_offset_ms: 25_000,
        ..Faults::default()
    });
    assert_eq!(h.code(&READ, BALANCE, |_| {}).await, (200, "0".into()));
    h.sim.set_faults(Faults {
        clock_offset_ms: 60_000,
        ..Faults::default()
    });
    assert_eq!(h.code(&READ, BALANCE, |_| {}).await, (401, "50102".into()));
}

#[tokio::test]
async fn ip_whitelist_reports_the_callers_address() {
    let h = start().await;
    let ip_bound = Creds {
        key: "d2a1f5e0-0000-4000-8000-000000000005",
        secret: "DEMO-SECRET-5-7f3c9a1b2e4d",
        passphrase: "Demo-Passphrase-5",
    };
    let (status, body) = h.get(&ip_bound, BALANCE, |_| {}).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "50110");
    assert!(
        body["msg"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );
}

#[tokio::test]
async fn rate_limits_as_documented_and_forced() {
    let h = start().await;
    // Funding balance: 6 requests per second per key.
    // Seven loopback requests take milliseconds, well inside one window.
    let mut codes = vec![];
    for _ in 0..7 {
        codes.push(h.code(&READ, "/api/v5/asset/balances", |_| {}).await);
    }
    assert_eq!(codes[..6].iter().filter(|c| c.1 == "0").count(), 6);
    assert_eq!(codes[6], (429, "50011".into()));
    h.sim.set_faults(Faults {
        force_rate_limit: true,
        ..Faults::default()
    });
    assert_eq!(h.code(&READ, BALANCE, |_| {}).await, (429, "50011".into()));
}

#[tokio::test]
async fn documented_shapes() {
    let h = start().await;
    let (_, config) = h.get(&READ, "/api/v5/account/config", |_| {}).await;
    assert_eq!(config["code"], "0");
    assert_eq!(config["msg"], "");
    assert_eq!(config["data"][0]["perm"], "read_only");
    assert_eq!(config["data"][0]["ip"], "");

    let (_, balance) = h
        .get(&READ, "/api/v5/account/balance?ccy=BTC,USDT", |_| {})
        .await;
    let details = balance["data"][0]["details"].as_array().unwrap();
    let ccys: Vec<&str> = details.iter().map(|d| d["ccy"].as_str().unwrap()).collect();
    assert_eq!(ccys, ["BTC", "USDT"]);
    assert_eq!(
        details[0]["liab"], "",
        "fields that do not apply are empty strings"
    );

    let (_, funding) = h.get(&READ, "/api/v5/asset/balances", |_| {}).await;
    assert!(funding["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["bal"].is_string()));
    let (_, savings) = h
        .get(&READ, "/api/v5/finance/savings/balance", |_| {})
        .await;
    assert_eq!(savings["data"][0]["ccy"], "USDC");
    let (_, positions) = h
        .get(&READ, "/api/v5/account/positions?instType=SWAP", |_| {})
        .await;
    assert_eq!(positions["data"].as_array().unwrap().len(), 2);
    let (_, none) = h
        .get(&READ, "/api/v5/account/positions?instType=OPTION", |_| {})
        .await;
    assert_eq!(
        none,
        serde_json::json!({"code": "0", "msg": "", "data": []})
    );

    let time = h.public("/api/v5/public/time").await;
    let ts: i64 = time["data"][0]["ts"].as_str().unwrap().parse().unwrap();
    assert!((ts - chrono::Utc::now().timestamp_millis()).abs() < 5_000);
    let tickers = h.public("/api/v5/market/tickers?instType=SPOT").await;
    assert!(tickers["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["instId"] == "BTC-USDT"));
}

#[tokio::test]
async fn faults_5xx_malformed_and_latency() {
    let h = start().await;
    h.sim.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    assert_eq!(h.get(&READ, BALANCE, |_| {}).await.0, 503);

    h.sim.set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let (status, body) = h.get(&READ, BALANCE, |_| {}).await;
    assert_eq!(status, 200);
    assert!(body.is_string(), "the body no longer parses as JSON");

    h.sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let started = Instant::now();
    h.get(&READ, BALANCE, |_| {}).await;
    assert!(started.elapsed().as_millis() >= 150);
    assert_eq!(h.sim.stats().requests, 3);
}
