//! Binance (spot, wallet, Simple Earn, cross margin, USDⓈ-M and COIN-M futures) as
//! documented in binance-spot-api-docs and the derivatives docs: the read endpoints Holdix
//! uses, errors as `{"code":-2015,"msg":"…"}` with Binance's HTTP statuses, and request
//! weights reported in `X-MBX-USED-WEIGHT-1M` (429 with `Retry-After` over the limit).
//!
//! Authentication is this module's own, from "SIGNED endpoint security": the key in
//! `X-MBX-APIKEY`; `signature` = hex HMAC-SHA256(secret, totalParams), totalParams being the
//! query string (without `signature`) directly followed by the body; `timestamp` must be less
//! than 1000 ms ahead of the server and no more than `recvWindow` (default 5000, at most
//! 60000) behind it.

use std::time::Duration;

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{Reply, Request, Sim};

/// Binance keys and the accounts behind them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BinanceFixture {
    #[serde(default)]
    pub keys: Vec<BinanceKey>,
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, BinanceAccount>,
    /// Price rows (`symbol`, `price`, and `openPrice`, the price 24 hours ago, where it
    /// differs): served as `GET /api/v3/ticker/price` and `GET /api/v3/ticker/24hr`.
    #[serde(default)]
    pub tickers: Vec<Value>,
    /// Request weight per minute per IP (Binance: 6000).
    #[serde(default = "default_weight_limit")]
    pub weight_limit_1m: usize,
}

fn default_weight_limit() -> usize {
    6000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinanceKey {
    pub api_key: String,
    pub secret: String,
    #[serde(default)]
    pub label: String,
    /// Key of the account in [`BinanceFixture::accounts`].
    pub account: String,
    /// Trusted IPs, comma-separated; empty for unrestricted.
    #[serde(default)]
    pub ip: String,
    /// The `apiRestrictions` answer (`enableReading`, `enableSpotAndMarginTrading`, …).
    pub restrictions: Value,
    /// The account behind the key opened futures (else -2015 on fapi/dapi).
    #[serde(default = "yes")]
    pub futures: bool,
    /// The account has a margin account (else -3003).
    #[serde(default = "yes")]
    pub margin: bool,
}

fn yes() -> bool {
    true
}

/// One Binance account's data, in Binance's own shapes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BinanceAccount {
    /// `balances` of `/api/v3/account`.
    #[serde(default)]
    pub spot: Vec<Value>,
    #[serde(default)]
    pub funding: Vec<Value>,
    #[serde(default)]
    pub earn_flexible: Vec<Value>,
    #[serde(default)]
    pub earn_locked: Vec<Value>,
    /// `userAssets` of `/sapi/v1/margin/account`.
    #[serde(default)]
    pub margin: Vec<Value>,
    #[serde(default)]
    pub futures_balance: Vec<Value>,
    #[serde(default)]
    pub futures_positions: Vec<Value>,
    #[serde(default)]
    pub coinm_balance: Vec<Value>,
    #[serde(default)]
    pub coinm_positions: Vec<Value>,
}

fn error(status: StatusCode, code: i64, msg: &str) -> Reply {
    (status, json!({"code": code, "msg": msg}), Vec::new())
}

/// `ticker/24hr` rows from the fixture's prices: `lastPrice` (moved by the market control),
/// `openPrice` (the fixture's, else the unmoved price); `type=MINI` leaves out the bid/ask
/// and change fields, as Binance does.
fn day_tickers(sim: &Sim, mini: bool) -> Vec<Value> {
    let moved = crate::move_prices(sim, &sim.fixture.binance.tickers, &["price"]);
    sim.fixture
        .binance
        .tickers
        .iter()
        .zip(moved)
        .map(|(row, now)| {
            let open = row.get("openPrice").or(row.get("price")).cloned();
            let mut t = json!({
                "symbol": row["symbol"], "openPrice": open, "highPrice": now["price"],
                "lowPrice": open, "lastPrice": now["price"], "volume": "0", "quoteVolume": "0",
                "openTime": 1_764_028_800_000_i64, "closeTime": 1_764_115_199_999_i64,
                "firstId": 0, "lastId": 0, "count": 0,
            });
            if !mini {
                t["priceChange"] = "0".into();
                t["priceChangePercent"] = "0".into();
                t["weightedAvgPrice"] = now["price"].clone();
                t["bidPrice"] = now["price"].clone();
                t["askPrice"] = now["price"].clone();
            }
            t
        })
        .collect()
}

/// Binance's signature, computed here from its documentation.
pub fn signature(secret: &str, total_params: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(total_params.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// (method, path, weight, signed)
const ROUTES: [(&str, &str, usize, bool); 13] = [
    ("GET", "/api/v3/time", 1, false),
    ("GET", "/api/v3/ticker/price", 4, false),
    ("GET", "/api/v3/ticker/24hr", 80, false),
    ("GET", "/sapi/v1/account/apiRestrictions", 1, true),
    ("GET", "/api/v3/account", 20, true),
    ("POST", "/sapi/v1/asset/get-funding-asset", 1, true),
    ("GET", "/sapi/v1/simple-earn/flexible/position", 150, true),
    ("GET", "/sapi/v1/simple-earn/locked/position", 150, true),
    ("GET", "/sapi/v1/margin/account", 10, true),
    ("GET", "/fapi/v3/balance", 5, true),
    ("GET", "/fapi/v3/positionRisk", 5, true),
    ("GET", "/dapi/v1/balance", 1, true),
    ("GET", "/dapi/v1/positionRisk", 1, true),
];

/// Answers one Binance request (any of its hosts: the path tells them apart).
pub fn handle(sim: &Sim, req: &Request<'_>) -> Reply {
    let path = req.uri.path();
    let Some(&(_, _, weight, signed)) = ROUTES
        .iter()
        .find(|(m, p, ..)| *p == path && req.method.as_str() == *m)
    else {
        return error(StatusCode::NOT_FOUND, -1000, "Not found.");
    };
    let limit = sim.fixture.binance.weight_limit_1m;
    let bucket = format!("binance-weight:{}", req.peer.ip());
    let used = match sim.spend(bucket, weight, limit, Duration::from_secs(60)) {
        Ok(used) => used,
        Err(retry_after) => {
            let mut reply = error(
                StatusCode::TOO_MANY_REQUESTS,
                -1003,
                &format!("Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."),
            );
            reply.2.push(("retry-after", retry_after.to_string()));
            reply.2.push(("x-mbx-used-weight-1m", limit.to_string()));
            return reply;
        }
    };
    let mut reply = if signed {
        match authenticate(sim, req) {
            Ok(key) => private(sim, req, path, key),
            Err(e) => e,
        }
    } else if path == "/api/v3/time" {
        (
            StatusCode::OK,
            json!({"serverTime": sim.now_ms()}),
            Vec::new(),
        )
    } else if path == "/api/v3/ticker/24hr" {
        let mini = req.query("type").as_deref() == Some("MINI");
        (
            StatusCode::OK,
            Value::Array(day_tickers(sim, mini)),
            Vec::new(),
        )
    } else {
        (
            StatusCode::OK,
            Value::Array(crate::move_prices(
                sim,
                &sim.fixture.binance.tickers,
                &["price"],
            )),
            Vec::new(),
        )
    };
    reply.2.push(("x-mbx-used-weight-1m", used.to_string()));
    reply
}

fn unauthorized(code: i64, msg: &str) -> Reply {
    error(StatusCode::UNAUTHORIZED, code, msg)
}

/// The key, if the request is signed by it within its time window from an allowed address.
fn authenticate<'s>(sim: &'s Sim, req: &Request<'_>) -> Result<&'s BinanceKey, Reply> {
    let futures_host = req.uri.path().starts_with("/fapi/") || req.uri.path().starts_with("/dapi/");
    let ip_note = if futures_host {
        format!(", request ip: {}", req.peer.ip())
    } else {
        String::new()
    };
    let api_key = req.header("x-mbx-apikey").unwrap_or("");
    if api_key.len() != 64 || !api_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unauthorized(-2014, "API-key format invalid."));
    }
    let invalid = || {
        unauthorized(
            -2015,
            &format!("Invalid API-key, IP, or permissions for action{ip_note}."),
        )
    };
    let Some(key) = sim
        .fixture
        .binance
        .keys
        .iter()
        .find(|k| k.api_key == api_key)
    else {
        return Err(invalid());
    };
    let peer = req.peer.ip().to_string();
    if !key.ip.is_empty() && !key.ip.split(',').any(|ip| ip.trim() == peer) {
        return Err(invalid());
    }
    let query = req.uri.query().unwrap_or("");
    let Some((params, sign)) = query.rsplit_once("signature=") else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ));
    };
    let params = params.strip_suffix('&').unwrap_or(params);
    let total = format!("{params}{}", String::from_utf8_lossy(req.body));
    if !signature(&key.secret, &total).eq_ignore_ascii_case(sign) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    let param = |name: &str| {
        params.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then_some(v)
        })
    };
    let Some(timestamp) = param("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ));
    };
    let window = param("recvWindow")
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(5_000);
    if window > 60_000 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            -1131,
            "recvWindow must be less than 60000",
        ));
    }
    let now = sim.now_ms();
    if timestamp >= now + 1_000 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if now - timestamp > window {
        return Err(error(
            StatusCode::BAD_REQUEST,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    if futures_host && !key.futures {
        return Err(invalid());
    }
    if sim.faults().force_rate_limit {
        let mut reply = error(
            StatusCode::TOO_MANY_REQUESTS,
            -1003,
            "Too many requests; current limit is 6000 request weight per 1 MINUTE.",
        );
        reply.2.push(("retry-after", "1".into()));
        return Err(reply);
    }
    Ok(key)
}

/// A page of `rows` as Simple Earn answers it (`current` from 1, `size` up to 100).
fn page(req: &Request<'_>, rows: &[Value]) -> Value {
    let current = req
        .query("current")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let size = req
        .query("size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let slice: Vec<Value> = rows
        .iter()
        .skip((current - 1) * size)
        .take(size)
        .cloned()
        .collect();
    json!({"rows": slice, "total": rows.len()})
}

fn private(sim: &Sim, req: &Request<'_>, path: &str, key: &BinanceKey) -> Reply {
    let Some(account) = sim.fixture.binance.accounts.get(&key.account) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, -1001, "Internal error.");
    };
    let ok = |v: Value| (StatusCode::OK, v, Vec::new());
    match path {
        "/sapi/v1/account/apiRestrictions" => ok(key.restrictions.clone()),
        "/api/v3/account" => {
            let omit = req.query("omitZeroBalances").as_deref() == Some("true");
            let zero = |v: &Value| {
                ["free", "locked"].iter().all(|f| {
                    v.get(*f)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<f64>().ok())
                        .unwrap_or(0.0)
                        == 0.0
                })
            };
            let balances: Vec<Value> = account
                .spot
                .iter()
                .filter(|b| !omit || !zero(b))
                .cloned()
                .collect();
            let can_trade = key
                .restrictions
                .get("enableSpotAndMarginTrading")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            ok(json!({
                "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                "sellerCommission": 0, "canTrade": can_trade,
                "canWithdraw": key.restrictions.get("enableWithdrawals").cloned().unwrap_or(json!(false)),
                "canDeposit": true, "brokered": false, "requireSelfTradePrevention": false,
                "updateTime": sim.now_ms(), "accountType": "SPOT",
                "balances": balances, "permissions": ["SPOT"]
            }))
        }
        "/sapi/v1/asset/get-funding-asset" => ok(Value::Array(account.funding.clone())),
        "/sapi/v1/simple-earn/flexible/position" => ok(page(req, &account.earn_flexible)),
        "/sapi/v1/simple-earn/locked/position" => ok(page(req, &account.earn_locked)),
        "/sapi/v1/margin/account" if !key.margin => error(
            StatusCode::BAD_REQUEST,
            -3003,
            "Margin account does not exist.",
        ),
        "/sapi/v1/margin/account" => ok(json!({
            "borrowEnabled": true, "marginLevel": "999", "tradeEnabled": true,
            "transferEnabled": true, "userAssets": account.margin
        })),
        "/fapi/v3/balance" => ok(Value::Array(account.futures_balance.clone())),
        "/fapi/v3/positionRisk" => ok(Value::Array(account.futures_positions.clone())),
        "/dapi/v1/balance" => ok(Value::Array(account.coinm_balance.clone())),
        _ => ok(Value::Array(account.coinm_positions.clone())),
    }
}
