//! Bybit (API v5) as its documentation describes it: the read endpoints Holdix uses on every
//! site (global, the regional sites, demo trading — each mounted under its own prefix and
//! knowing only its own keys), answers in the envelope `{retCode, retMsg, result,
//! retExtInfo, time}`, the rate-limit headers `X-Bapi-Limit`, `-Status` and
//! `-Reset-Timestamp`, and cursor paging of positions.
//!
//! Authentication is this module's own, from the v5 guide: `X-BAPI-SIGN` must be the hex
//! HMAC-SHA256 of timestamp + API key + recvWindow + query string, with the timestamp inside
//! `server_time - recv_window <= timestamp < server_time + 1000` (recvWindow defaults to
//! 5000).

use std::time::Duration;

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{Reply, Request, Sim};

/// Bybit keys, accounts and tickers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BybitFixture {
    #[serde(default)]
    pub keys: Vec<BybitKey>,
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, BybitAccount>,
    /// `GET /v5/market/tickers?category=spot` rows.
    #[serde(default)]
    pub tickers: Vec<Value>,
    /// A test device, not Bybit's: positions per page at most (Bybit's own maximum is 200),
    /// so that a small fixture needs more than one page.
    #[serde(default = "max_page")]
    pub page_limit: usize,
}

fn max_page() -> usize {
    200
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BybitKey {
    pub api_key: String,
    pub secret: String,
    #[serde(default)]
    pub label: String,
    /// Key of the account in [`BybitFixture::accounts`].
    pub account: String,
    /// The site that issued the key (its prefix): `bybit`, `bybit-eu`, `bybit-demo`, …
    #[serde(default = "global")]
    pub site: String,
    /// `readOnly` of `query-api`.
    pub read_only: bool,
    /// `permissions` of `query-api`.
    pub permissions: Value,
    /// Bound IP addresses; empty for none (`["*"]` in `query-api`).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Days from now until the key expires (keys without an IP binding); negative: expired.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

fn global() -> String {
    "bybit".into()
}

/// One Bybit account's data, in Bybit's own shapes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BybitAccount {
    /// A Unified Trading account; `false` is a classic one (Spot and Contract wallets).
    #[serde(default)]
    pub unified: bool,
    /// `coin` rows of the unified wallet.
    #[serde(default)]
    pub wallet: Vec<Value>,
    /// Classic accounts: `coin` rows of the contract (derivatives) and spot wallets.
    #[serde(default)]
    pub contract: Vec<Value>,
    #[serde(default)]
    pub spot: Vec<Value>,
    /// `balance` rows of the funding wallet.
    #[serde(default)]
    pub funding: Vec<Value>,
    #[serde(default)]
    pub earn_flexible: Vec<Value>,
    #[serde(default)]
    pub earn_onchain: Vec<Value>,
    /// Position rows by category (`linear`, `inverse`, `option`); linear rows name their
    /// `settleCoin` here (Bybit's rows do not carry it; the simulator filters by it).
    #[serde(default)]
    pub positions: std::collections::BTreeMap<String, Vec<Value>>,
}

/// Bybit's signature, computed here from its documentation.
pub fn signature(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// (path, signed)
const ROUTES: [(&str, bool); 7] = [
    ("/v5/market/time", false),
    ("/v5/market/tickers", false),
    ("/v5/user/query-api", true),
    ("/v5/account/wallet-balance", true),
    ("/v5/asset/transfer/query-account-coins-balance", true),
    ("/v5/earn/position", true),
    ("/v5/position/list", true),
];

/// Per account and endpoint, per second (Bybit's default for these reads).
const UID_LIMIT: usize = 50;
/// Per IP, per 5 seconds, before the 10-minute 403.
const IP_LIMIT: usize = 600;

fn envelope(sim: &Sim, code: i64, msg: &str, result: Value) -> Value {
    json!({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": sim.now_ms()})
}

fn refuse(sim: &Sim, code: i64, msg: &str) -> Reply {
    (
        StatusCode::OK,
        envelope(sim, code, msg, json!({})),
        Vec::new(),
    )
}

/// Answers one request to the Bybit site `req.site`.
pub fn handle(sim: &Sim, req: &Request<'_>) -> Reply {
    let path = req.uri.path();
    let Some(&(_, signed)) = ROUTES.iter().find(|(p, _)| *p == path) else {
        return (
            StatusCode::NOT_FOUND,
            json!({"retCode": 10001, "retMsg": "Not found", "result": {}, "retExtInfo": {}, "time": sim.now_ms()}),
            Vec::new(),
        );
    };
    if req.method.as_str() != "GET" {
        return refuse(sim, 10001, "request method not supported");
    }
    let bucket = format!("bybit-ip:{}:{}", req.site, req.peer.ip());
    if !sim.admit(bucket, IP_LIMIT, Duration::from_secs(5)) {
        return (
            StatusCode::FORBIDDEN,
            Value::String("access too frequent".into()),
            Vec::new(),
        );
    }
    if !signed {
        let now = sim.now_ms();
        let result = if path == "/v5/market/time" {
            json!({"timeSecond": (now / 1000).to_string(), "timeNano": format!("{now}000000")})
        } else if req.query("category").as_deref() == Some("spot") {
            let fields = ["lastPrice", "bid1Price", "ask1Price", "usdIndexPrice"];
            let list = crate::move_prices(sim, &sim.fixture.bybit.tickers, &fields);
            json!({"category": "spot", "list": list})
        } else {
            return refuse(sim, 10001, "params error: category is invalid");
        };
        return (StatusCode::OK, envelope(sim, 0, "OK", result), Vec::new());
    }
    let key = match authenticate(sim, req) {
        Ok(key) => key,
        Err(reply) => return reply,
    };
    // Per account and endpoint, with the headers Bybit sends on every private answer.
    let reset = sim.now_ms() + 1000;
    let admitted = sim.admit(
        format!("bybit-uid:{}:{path}", key.account),
        UID_LIMIT,
        Duration::from_secs(1),
    );
    let mut reply = if !admitted || sim.faults().force_rate_limit {
        refuse(sim, 10006, "Too many visits!")
    } else {
        private(sim, req, path, key)
    };
    reply.2.extend([
        ("x-bapi-limit", UID_LIMIT.to_string()),
        (
            "x-bapi-limit-status",
            if admitted { "49" } else { "0" }.to_string(),
        ),
        ("x-bapi-limit-reset-timestamp", reset.to_string()),
    ]);
    reply
}

/// The key, if the request is signed by it, in time, from an allowed address, unexpired.
fn authenticate<'s>(sim: &'s Sim, req: &Request<'_>) -> Result<&'s BybitKey, Reply> {
    let api_key = req.header("x-bapi-api-key").unwrap_or("");
    let Some(key) = sim
        .fixture
        .bybit
        .keys
        .iter()
        .find(|k| k.api_key == api_key && k.site == req.site)
    else {
        return Err(refuse(sim, 10003, "API key is invalid."));
    };
    let timestamp = req.header("x-bapi-timestamp").unwrap_or("");
    let window = req
        .header("x-bapi-recv-window")
        .map_or(Some(5_000), |w| w.parse::<i64>().ok());
    let (Ok(ts), Some(window)) = (timestamp.parse::<i64>(), window) else {
        return Err(refuse(
            sim,
            10001,
            "params error: timestamp or recv_window is invalid",
        ));
    };
    let query = req.uri.query().unwrap_or("");
    let payload = format!("{timestamp}{api_key}{window}{query}");
    let sent = req.header("x-bapi-sign").unwrap_or("");
    if !signature(&key.secret, &payload).eq_ignore_ascii_case(sent) {
        return Err(refuse(
            sim,
            10004,
            "Error sign, please check your signature generation algorithm.",
        ));
    }
    let now = sim.now_ms();
    if !(now - window <= ts && ts < now + 1_000) {
        return Err(refuse(sim, 10002, &format!("invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]")));
    }
    let peer = req.peer.ip().to_string();
    if !key.ips.is_empty() && !key.ips.contains(&peer) {
        return Err(refuse(
            sim,
            10010,
            "Unmatched IP, please check your API key's bound IP addresses.",
        ));
    }
    if key.expires_in_days.is_some_and(|d| d < 0) {
        return Err(refuse(sim, 33004, "Your api key has expired."));
    }
    Ok(key)
}

/// `2026-12-08T07:20:25Z` for Unix milliseconds.
fn iso_seconds(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `query-api` as documented (v5/user/apikey-info).
fn key_info(sim: &Sim, key: &BybitKey, unified: bool) -> Value {
    let now = sim.now_ms();
    let (expired_at, deadline) = match key.expires_in_days {
        Some(days) if key.ips.is_empty() => (iso_seconds(now + days * 86_400_000), days),
        _ => (String::new(), -1),
    };
    let ips = if key.ips.is_empty() {
        json!(["*"])
    } else {
        json!(key.ips)
    };
    json!({
        "id": "13770661", "note": key.label, "apiKey": key.api_key,
        "readOnly": i64::from(key.read_only), "secret": "", "permissions": key.permissions,
        "ips": ips, "type": 1, "deadlineDay": deadline, "expiredAt": expired_at,
        "createdAt": iso_seconds(now - 80 * 86_400_000), "unified": 0, "uta": i64::from(unified),
        "userID": 24617703, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
        "affiliateID": 0, "rsaPublicKey": "", "isMaster": true, "parentUid": "0",
        "kycLevel": "LEVEL_DEFAULT", "kycRegion": ""
    })
}

/// A wallet-balance account entry with the account totals computed from its coins.
fn wallet(account_type: &str, coins: &[Value]) -> Value {
    let sum = |field: &str| -> String {
        let total: rust_decimal::Decimal = coins
            .iter()
            .filter_map(|c| {
                c.get(field)?
                    .as_str()?
                    .parse::<rust_decimal::Decimal>()
                    .ok()
            })
            .sum();
        total.normalize().to_string()
    };
    json!({"list": [{
        "accountType": account_type, "totalEquity": sum("usdValue"),
        "totalWalletBalance": sum("usdValue"), "totalMarginBalance": sum("usdValue"),
        "totalAvailableBalance": sum("usdValue"), "totalPerpUPL": "0", "totalInitialMargin": "0",
        "totalMaintenanceMargin": "0", "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
        "coin": coins
    }]})
}

/// The settle coin of a linear symbol (`BTCUSDT` → USDT, `BTCPERP` and `BTCUSDC` → USDC).
fn settle_coin(row: &Value) -> &'static str {
    match row.get("symbol").and_then(Value::as_str) {
        Some(s) if s.ends_with("USDT") => "USDT",
        _ => "USDC",
    }
}

/// One page of positions: `limit` (1–200, default 20) from the cursor on; the cursor is
/// Bybit-shaped and percent-encoded (`3%3A3`).
fn page(sim: &Sim, req: &Request<'_>, rows: Vec<Value>, category: &str) -> Reply {
    let limit = req
        .query("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 200)
        .min(sim.fixture.bybit.page_limit.max(1));
    let start = match req.query("cursor") {
        None => 0,
        Some(c) => match c.split("%3A").next().and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return refuse(sim, 10001, "params error: cursor is invalid"),
        },
    };
    let list: Vec<Value> = rows.iter().skip(start).take(limit).cloned().collect();
    let next = start + list.len();
    let cursor = if next < rows.len() {
        format!("{next}%3A{next}")
    } else {
        String::new()
    };
    let result = json!({"category": category, "nextPageCursor": cursor, "list": list});
    (StatusCode::OK, envelope(sim, 0, "OK", result), Vec::new())
}

fn private(sim: &Sim, req: &Request<'_>, path: &str, key: &BybitKey) -> Reply {
    let Some(account) = sim.fixture.bybit.accounts.get(&key.account) else {
        return refuse(sim, 10016, "Server error.");
    };
    let ok = |result: Value| (StatusCode::OK, envelope(sim, 0, "OK", result), Vec::new());
    let query = |name: &str| req.query(name).unwrap_or_default();
    let may = |group: &str| {
        key.permissions
            .get(group)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    match path {
        "/v5/user/query-api" => ok(key_info(sim, key, account.unified)),
        "/v5/account/wallet-balance" => match (query("accountType").as_str(), account.unified) {
            ("UNIFIED", true) => ok(wallet("UNIFIED", &account.wallet)),
            ("UNIFIED", false) => refuse(
                sim,
                10028,
                "The API can only be accessed by unified account users.",
            ),
            ("CONTRACT", false) => ok(wallet("CONTRACT", &account.contract)),
            ("SPOT", false) => ok(wallet("SPOT", &account.spot)),
            _ => refuse(sim, 10001, "accountType only support UNIFIED."),
        },
        "/v5/asset/transfer/query-account-coins-balance" => match query("accountType").as_str() {
            "FUND" => ok(
                json!({"accountType": "FUND", "memberId": "24617703", "balance": account.funding}),
            ),
            _ => refuse(sim, 10001, "params error: accountType is invalid"),
        },
        "/v5/earn/position" if !may("Earn") => refuse(
            sim,
            10005,
            "Permission denied, please check your API key permissions.",
        ),
        "/v5/earn/position" => match query("category").as_str() {
            "FlexibleSaving" => ok(json!({"list": account.earn_flexible})),
            "OnChain" => ok(json!({"list": account.earn_onchain})),
            _ => refuse(sim, 10001, "params error: category is invalid"),
        },
        _ => {
            let category = query("category");
            let rows = account
                .positions
                .get(&category)
                .cloned()
                .unwrap_or_default();
            let rows = match category.as_str() {
                "linear" => {
                    let coin = query("settleCoin");
                    if coin.is_empty() && query("symbol").is_empty() {
                        return refuse(
                            sim,
                            10001,
                            "params error: symbol or settleCoin is required",
                        );
                    }
                    rows.into_iter()
                        .filter(|r| settle_coin(r) == coin)
                        .collect()
                }
                "inverse" | "option" => rows,
                _ => return refuse(sim, 10001, "params error: category is invalid"),
            };
            page(sim, req, rows, &category)
        }
    }
}
