//! WhiteBIT (API v4) as its documentation describes it: the public time and ticker, and the
//! private reads Holdix uses, each a POST whose JSON body carries `request` and `nonce`, on
//! whitebit.com and whitebit.eu (each mounted under its own prefix and knowing only its own
//! keys).
//!
//! Authentication is this module's own, from WhiteBIT's "Authentication" guide:
//! `X-TXC-PAYLOAD` must be the base64 of the body sent, `X-TXC-SIGNATURE` the hex
//! HMAC-SHA512 of that payload under the key's secret, `request` the path called. Nonces:
//! with `nonceWindow: true`, a Unix millisecond within ±5 s of server time, each used once;
//! without it, greater than the key's last one ("Too many requests." otherwise).
//!
//! Keys are restricted per endpoint (`endpoints`) and by IP (`ips`); a key used from an
//! address it does not list is disabled from then on, as WhiteBIT does. HTTP statuses of
//! the authentication errors are not documented; this module answers 401 for signature and
//! disabled-key errors, 403 for a forbidden endpoint, 400 for the rest, 429 over a limit.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha512;

use crate::{Reply, Request, Sim};

/// WhiteBIT keys, accounts and tickers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WhitebitFixture {
    #[serde(default)]
    pub keys: Vec<WhitebitKey>,
    #[serde(default)]
    pub accounts: BTreeMap<String, WhitebitAccount>,
    /// `GET /api/v4/public/ticker`: market → ticker.
    #[serde(default)]
    pub tickers: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhitebitKey {
    pub api_key: String,
    pub secret: String,
    #[serde(default)]
    pub label: String,
    pub account: String,
    /// The site that issued the key: `whitebit` or `whitebit-eu`.
    #[serde(default = "global")]
    pub site: String,
    /// Endpoint access restriction: the only paths the key may call (`None`: every one).
    #[serde(default)]
    pub endpoints: Option<Vec<String>>,
    /// IP restriction (empty: none).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Disabled on WhiteBIT (2FA turned off, 14 days unused, or an unknown IP earlier).
    #[serde(default)]
    pub disabled: bool,
}

fn global() -> String {
    "whitebit".into()
}

/// One WhiteBIT account, in WhiteBIT's own shapes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WhitebitAccount {
    /// Main balance by asset (zero rows included, as WhiteBIT sends them).
    #[serde(default)]
    pub main: BTreeMap<String, String>,
    /// Trade balance by asset: [available, freeze].
    #[serde(default)]
    pub trade: BTreeMap<String, [String; 2]>,
    /// Collateral balance by asset.
    #[serde(default)]
    pub collateral: BTreeMap<String, String>,
    /// The collateral account's leverage.
    #[serde(default = "one")]
    pub leverage: u32,
    /// Open positions, as `positions/open` rows.
    #[serde(default)]
    pub positions: Vec<Value>,
    /// Smart-Flex investments, as `smart-flex/investments` rows.
    #[serde(default)]
    pub smart_flex: Vec<Value>,
    /// Lending API access (Smart-Flex) is enabled for the account.
    #[serde(default)]
    pub lending: bool,
}

fn one() -> u32 {
    1
}

pub const TIME: &str = "/api/v4/public/time";
pub const TICKER: &str = "/api/v4/public/ticker";
pub const MAIN: &str = "/api/v4/main-account/balance";
pub const TRADE: &str = "/api/v4/trade-account/balance";
pub const COLLATERAL: &str = "/api/v4/collateral-account/balance";
pub const SUMMARY: &str = "/api/v4/collateral-account/summary";
pub const POSITIONS: &str = "/api/v4/collateral-account/positions/open";
pub const SMART_FLEX: &str = "/api/v4/main-account/smart-flex/investments";
const PRIVATE: [&str; 6] = [MAIN, TRADE, COLLATERAL, SUMMARY, POSITIONS, SMART_FLEX];

/// How far a `nonceWindow` nonce may be from server time.
const WINDOW_MS: i64 = 5_000;

/// WhiteBIT's signature of a payload, computed here from its documentation.
pub fn signature(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn error(status: StatusCode, message: &str) -> Reply {
    (
        status,
        json!({"code": 0, "message": message, "errors": {}}),
        Vec::new(),
    )
}

/// Answers one request to the WhiteBIT site `req.site`.
pub fn handle(sim: &Sim, req: &Request<'_>) -> Reply {
    let path = req.uri.path();
    let ip = req.peer.ip();
    if path == TIME || path == TICKER {
        if req.method.as_str() != "GET" {
            return error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
        }
        if !sim.admit(
            format!("whitebit-public:{ip}"),
            2_000,
            Duration::from_secs(10),
        ) {
            return error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        let answer = if path == TIME {
            json!({"time": sim.now_ms() / 1000})
        } else {
            let rows =
                crate::move_prices(sim, sim.fixture.whitebit.tickers.values(), &["last_price"]);
            json!(sim
                .fixture
                .whitebit
                .tickers
                .keys()
                .zip(rows)
                .collect::<BTreeMap<_, _>>())
        };
        return (StatusCode::OK, answer, Vec::new());
    }
    if !PRIVATE.contains(&path) {
        return error(StatusCode::NOT_FOUND, "Not found.");
    }
    if req.method.as_str() != "POST" {
        return error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    // Per IP: `main-account/*` 1,000 per 10 s, the rest 10,000 (trade 12,000).
    let limit = if path.starts_with("/api/v4/main-account/") {
        1_000
    } else {
        10_000
    };
    let scope = path.split('/').nth(3).unwrap_or("");
    let admitted = sim.admit(
        format!("whitebit:{scope}:{ip}"),
        limit,
        Duration::from_secs(10),
    );
    if !admitted || sim.faults().force_rate_limit {
        return error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    }
    let (key, body) = match authenticate(sim, req, path) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    if key
        .endpoints
        .as_ref()
        .is_some_and(|allowed| !allowed.iter().any(|p| p == path))
    {
        return error(
            StatusCode::FORBIDDEN,
            "You don't have permission to use this endpoint.",
        );
    }
    let Some(account) = sim.fixture.whitebit.accounts.get(&key.account) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable.");
    };
    private(sim, path, &body, account)
}

/// The key, if the request is signed by it with a fresh nonce, from an allowed address, and
/// the body it signed.
fn authenticate<'s>(
    sim: &'s Sim,
    req: &Request<'_>,
    path: &str,
) -> Result<(&'s WhitebitKey, Value), Reply> {
    let bad = |m: &str| Err(error(StatusCode::BAD_REQUEST, m));
    let unauthorized = |m: &str| Err(error(StatusCode::UNAUTHORIZED, m));
    let payload = req.header("x-txc-payload").unwrap_or("");
    if payload.is_empty() {
        return bad("Payload not provided.");
    }
    let api_key = req.header("x-txc-apikey").unwrap_or("");
    let Some(key) = sim
        .fixture
        .whitebit
        .keys
        .iter()
        .find(|k| k.api_key == api_key && k.site == req.site)
    else {
        return unauthorized("Unauthorized request.");
    };
    let sent = req.header("x-txc-signature").unwrap_or("");
    if !signature(&key.secret, payload).eq_ignore_ascii_case(sent) {
        return unauthorized("Unauthorized request.");
    }
    // The body sent must be exactly what the payload says.
    if B64.decode(payload).ok().as_deref() != Some(req.body) {
        return bad("Invalid payload.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return bad("Invalid payload.");
    };
    match body.get("request").and_then(Value::as_str) {
        None => return bad("Request not provided."),
        Some(r) if r != path => return bad("Invalid payload."),
        Some(_) => {}
    }
    let nonce = match body.get("nonce") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => return bad("Nonce not provided."),
    };
    let Some(nonce) = nonce else {
        return bad("Nonce not provided.");
    };
    let window = match body.get("nonceWindow") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return bad("Invalid nonceWindow."),
    };
    if key.disabled || sim.whitebit_disabled(&key.api_key) {
        return unauthorized("This action is unauthorized. Enable your key in API settings");
    }
    let peer = req.peer.ip().to_string();
    if !key.ips.is_empty() && !key.ips.contains(&peer) {
        // Used from an address it does not list: WhiteBIT disables the key.
        sim.disable_whitebit_key(&key.api_key);
        return unauthorized("This action is unauthorized. Enable your key in API settings");
    }
    let now = sim.now_ms();
    if window && (nonce - now).abs() > WINDOW_MS {
        return bad("Your nonce is more than 5 seconds lesser than the current nonce");
    }
    if !sim.take_whitebit_nonce(&key.api_key, nonce, window, now - WINDOW_MS) {
        return bad("Too many requests.");
    }
    Ok((key, body))
}

/// The collateral account's unrealized PnL: its open positions' `unrealizedPnl`.
fn unrealized(account: &WhitebitAccount) -> Decimal {
    account
        .positions
        .iter()
        .filter_map(|p| p.get("unrealizedPnl")?.as_str()?.parse::<Decimal>().ok())
        .sum()
}

/// A price in USDT from the fixture's tickers (USDT itself: 1).
fn usdt_price(sim: &Sim, asset: &str) -> Decimal {
    if asset == "USDT" {
        return Decimal::ONE;
    }
    sim.fixture
        .whitebit
        .tickers
        .get(&format!("{asset}_USDT"))
        .and_then(|t| t.get("last_price")?.as_str()?.parse().ok())
        .map(|p| crate::moved(p, sim.faults().price_move_percent))
        .unwrap_or_default()
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A fixture amount (the fixture is ours: unreadable is zero).
fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

fn private(sim: &Sim, path: &str, body: &Value, account: &WhitebitAccount) -> Reply {
    let ok = |v: Value| (StatusCode::OK, v, Vec::new());
    match path {
        MAIN => ok(account
            .main
            .iter()
            .map(|(a, v)| (a.clone(), json!({"main_balance": text(dec(v))})))
            .collect::<serde_json::Map<_, _>>()
            .into()),
        // Only the currencies with a balance, as documented.
        TRADE => ok(account
            .trade
            .iter()
            .filter(|(_, [a, f])| !(dec(a).is_zero() && dec(f).is_zero()))
            .map(|(c, [a, f])| {
                (
                    c.clone(),
                    json!({"available": text(dec(a)), "freeze": text(dec(f))}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()),
        // Numbers, as documented (`additionalProperties: number`).
        COLLATERAL => ok(account
            .collateral
            .iter()
            .map(|(a, v)| {
                let n: f64 = text(dec(v)).parse().unwrap_or_default();
                (a.clone(), json!(n))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()),
        SUMMARY => {
            let pnl = unrealized(account);
            let worth: Decimal = account
                .collateral
                .iter()
                .map(|(a, v)| dec(v) * usdt_price(sim, a))
                .sum();
            let equity = worth + pnl;
            let margin: Decimal = account
                .positions
                .iter()
                .filter_map(|p| p.get("margin")?.as_str()?.parse::<Decimal>().ok())
                .sum();
            let fraction = if equity.is_zero() {
                Decimal::ZERO
            } else {
                (margin / equity).round_dp(4)
            };
            ok(json!({
                "equity": text(equity), "margin": text(margin),
                "freeMargin": text(equity - margin), "unrealizedFunding": "0",
                "pnl": text(pnl), "leverage": account.leverage, "marginFraction": text(fraction)
            }))
        }
        POSITIONS => ok(json!(account.positions)),
        _ => {
            if !account.lending {
                return error(
                    StatusCode::FORBIDDEN,
                    "You don't have permission to use this endpoint. Please contact support for more details",
                );
            }
            let number = |name: &str, default: i64| {
                body.get(name)
                    .and_then(Value::as_i64)
                    .unwrap_or(default)
                    .max(0) as usize
            };
            let (limit, offset) = (number("limit", 100).clamp(1, 100), number("offset", 0));
            let status = body.get("investmentStatus").and_then(Value::as_i64);
            let data: Vec<&Value> = account
                .smart_flex
                .iter()
                .filter(|r| status.is_none() || r.get("status").and_then(Value::as_i64) == status)
                .skip(offset)
                .take(limit)
                .collect();
            ok(json!({"data": data, "limit": limit, "offset": offset}))
        }
    }
}
