//! OKX API v5, as documented (https://www.okx.com/docs-v5/en/): the read endpoints a
//! portfolio tracker uses, the response envelope `{"code":"0","msg":"","data":[…]}`, and the
//! authentication checks with OKX's error codes and HTTP statuses.
//!
//! Signature verification is this module's own, from OKX's "Signature" section:
//! Base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body)).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{Request, Sim};

/// OKX keys and the accounts behind them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OkxFixture {
    #[serde(default)]
    pub keys: Vec<OkxKey>,
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, OkxAccount>,
    /// `/market/tickers?instType=SPOT` rows, as OKX returns them.
    #[serde(default)]
    pub tickers: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OkxKey {
    pub api_key: String,
    pub secret: String,
    pub passphrase: String,
    /// `read_only`, or a comma list such as `read_only,trade`.
    pub perm: String,
    /// Bound IPs, comma-separated; empty for none.
    #[serde(default)]
    pub ip: String,
    /// Created in demo trading.
    #[serde(default)]
    pub demo: bool,
    #[serde(default)]
    pub label: String,
    /// Key of the account in [`OkxFixture::accounts`].
    pub account: String,
}

/// One OKX account's data, in OKX's own shapes (strings, `""` for fields that do not apply).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OkxAccount {
    pub uid: String,
    #[serde(default = "default_acct_lv")]
    pub acct_lv: String,
    #[serde(default = "default_pos_mode")]
    pub pos_mode: String,
    /// `data[0]` of `/account/balance`.
    pub balance: Value,
    /// `data` of `/asset/balances`.
    #[serde(default)]
    pub funding: Vec<Value>,
    /// `data` of `/finance/savings/balance`.
    #[serde(default)]
    pub savings: Vec<Value>,
    /// `data` of `/account/positions`.
    #[serde(default)]
    pub positions: Vec<Value>,
}

fn default_acct_lv() -> String {
    "2".into()
}
fn default_pos_mode() -> String {
    "net_mode".into()
}

/// OKX's signature: Base64(HMAC-SHA256(secret, prehash)).
pub fn signature(secret: &str, prehash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(prehash.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Checks a signature in constant time.
fn signature_matches(secret: &str, prehash: &str, sign: &str) -> bool {
    let Ok(given) = B64.decode(sign) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(prehash.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// An OKX error: HTTP status, code and message as OKX sends them.
fn error(status: StatusCode, code: &str, msg: &str) -> (StatusCode, Value) {
    (status, json!({"code": code, "msg": msg, "data": []}))
}

fn ok(data: Value) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"code": "0", "msg": "", "data": data}),
    )
}

/// Requests per window for each route, by OKX's documented limits.
fn limit(path: &str) -> Option<(usize, Duration)> {
    let two_s = Duration::from_secs(2);
    let one_s = Duration::from_secs(1);
    Some(match path {
        "/api/v5/account/balance" | "/api/v5/account/positions" => (10, two_s),
        "/api/v5/asset/balances" | "/api/v5/finance/savings/balance" => (6, one_s),
        "/api/v5/account/config" => (5, two_s),
        "/api/v5/asset/asset-valuation" => (1, one_s),
        "/api/v5/public/time" => (10, two_s),
        "/api/v5/market/tickers" => (20, two_s),
        _ => return None,
    })
}

fn rate_limited() -> (StatusCode, Value) {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "50011",
        "Rate limit reached. Please refer to API documentation and throttle requests accordingly.",
    )
}

/// Answers one OKX request.
pub fn handle(sim: &Sim, req: &Request<'_>) -> (StatusCode, Value) {
    let path = req.uri.path();
    if *req.method != Method::GET {
        return error(StatusCode::NOT_FOUND, "50000", "Body can not be empty.");
    }
    let Some((per, window)) = limit(path) else {
        return error(StatusCode::NOT_FOUND, "404", "Not Found");
    };
    match path {
        "/api/v5/public/time" | "/api/v5/market/tickers" => {
            if !sim.admit(format!("ip:{}:{path}", req.peer.ip()), per, window) {
                return rate_limited();
            }
            return public(sim, req, path);
        }
        _ => {}
    }
    let key = match authenticate(sim, req) {
        Ok(key) => key,
        Err(e) => return e,
    };
    if sim.faults().force_rate_limit
        || !sim.admit(format!("key:{}:{path}", key.api_key), per, window)
    {
        return rate_limited();
    }
    let Some(account) = sim.fixture.okx.accounts.get(&key.account) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "50026", "System error.");
    };
    private(req, path, key, account)
}

fn public(sim: &Sim, req: &Request<'_>, path: &str) -> (StatusCode, Value) {
    match path {
        "/api/v5/public/time" => ok(json!([{"ts": sim.now_ms().to_string()}])),
        _ => {
            let wanted = req.query("instType").unwrap_or_default();
            if wanted.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "50014",
                    "Parameter instType can not be empty.",
                );
            }
            let rows = sim
                .fixture
                .okx
                .tickers
                .iter()
                .filter(|t| t["instType"].as_str().unwrap_or("SPOT") == wanted);
            let fields = ["last", "askPx", "bidPx"];
            ok(Value::Array(crate::move_prices(sim, rows, &fields)))
        }
    }
}

/// OKX's header checks, in order; returns the key or the error OKX would send.
pub fn authenticate<'s>(
    sim: &'s Sim,
    req: &Request<'_>,
) -> Result<&'s OkxKey, (StatusCode, Value)> {
    let unauthorized = |code: &str, msg: &str| error(StatusCode::UNAUTHORIZED, code, msg);
    let present = |name: &str| req.header(name).filter(|v| !v.is_empty());
    let Some(api_key) = present("ok-access-key") else {
        return Err(unauthorized(
            "50103",
            "Request header \"OK-ACCESS-KEY\" cannot be empty.",
        ));
    };
    let Some(passphrase) = present("ok-access-passphrase") else {
        return Err(unauthorized(
            "50104",
            "Request header \"OK-ACCESS-PASSPHRASE\" cannot be empty.",
        ));
    };
    let Some(sign) = present("ok-access-sign") else {
        return Err(unauthorized(
            "50106",
            "Request header \"OK-ACCESS-SIGN\" cannot be empty.",
        ));
    };
    let Some(timestamp) = present("ok-access-timestamp") else {
        return Err(unauthorized(
            "50107",
            "Request header \"OK-ACCESS-TIMESTAMP\" cannot be empty.",
        ));
    };
    let Some(sent_ms) = parse_timestamp(timestamp) else {
        return Err(unauthorized("50112", "Invalid OK-ACCESS-TIMESTAMP."));
    };
    if (sim.now_ms() - sent_ms).abs() > 30_000 {
        return Err(unauthorized("50102", "Timestamp request expired."));
    }
    let Some(key) = sim.fixture.okx.keys.iter().find(|k| k.api_key == api_key) else {
        return Err(unauthorized("50111", "Invalid OK-ACCESS-KEY."));
    };
    let simulated = req.header("x-simulated-trading") == Some("1");
    if simulated != key.demo {
        return Err(unauthorized(
            "50101",
            "APIKey does not match current environment.",
        ));
    }
    if key.passphrase != passphrase {
        return Err(unauthorized(
            "50105",
            "Request header \"OK-ACCESS-PASSPHRASE\" incorrect.",
        ));
    }
    let prehash = format!(
        "{timestamp}{}{}{}",
        req.method.as_str(),
        req.path_and_query(),
        String::from_utf8_lossy(req.body)
    );
    if !signature_matches(&key.secret, &prehash, sign) {
        return Err(unauthorized("50113", "Invalid Sign."));
    }
    let caller = req.peer.ip().to_string();
    if !key.ip.is_empty() && !key.ip.split(',').any(|ip| ip.trim() == caller) {
        return Err(unauthorized(
            "50110",
            &format!("Your IP {caller} is not included in your API key's IP whitelist."),
        ));
    }
    Ok(key)
}

/// `2020-12-08T09:08:57.715Z`: UTC, milliseconds, as OKX requires.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let shaped = text.len() == 24 && text.ends_with('Z') && text.as_bytes().get(19) == Some(&b'.');
    if !shaped {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Keeps rows whose `ccy` is in the comma list of the `ccy` query parameter, if given.
fn by_ccy(req: &Request<'_>, rows: &[Value]) -> Vec<Value> {
    let wanted = req.query("ccy").filter(|c| !c.is_empty());
    rows.iter()
        .filter(|row| match &wanted {
            Some(list) => list.split(',').any(|c| Some(c) == row["ccy"].as_str()),
            None => true,
        })
        .cloned()
        .collect()
}

fn private(
    req: &Request<'_>,
    path: &str,
    key: &OkxKey,
    account: &OkxAccount,
) -> (StatusCode, Value) {
    match path {
        "/api/v5/account/config" => ok(json!([{
            "uid": account.uid,
            "mainUid": account.uid,
            "acctLv": account.acct_lv,
            "posMode": account.pos_mode,
            "autoLoan": false,
            "greeksType": "PA",
            "level": "Lv1",
            "levelTmp": "",
            "ctIsoMode": "automatic",
            "mgnIsoMode": "automatic",
            "roleType": "0",
            "spotRoleType": "0",
            "opAuth": "0",
            "kycLv": "2",
            "label": key.label,
            "ip": key.ip,
            "perm": key.perm,
            "type": "0",
        }])),
        "/api/v5/account/balance" => {
            let mut balance = account.balance.clone();
            let details = balance["details"].as_array().cloned().unwrap_or_default();
            balance["details"] = Value::Array(by_ccy(req, &details));
            ok(json!([balance]))
        }
        "/api/v5/asset/balances" => ok(Value::Array(by_ccy(req, &account.funding))),
        "/api/v5/finance/savings/balance" => ok(Value::Array(by_ccy(req, &account.savings))),
        "/api/v5/account/positions" => {
            let inst_type = req.query("instType").filter(|t| !t.is_empty());
            let rows = account
                .positions
                .iter()
                .filter(|p| {
                    inst_type
                        .as_deref()
                        .is_none_or(|t| p["instType"].as_str() == Some(t))
                })
                .cloned()
                .collect();
            ok(Value::Array(rows))
        }
        "/api/v5/asset/asset-valuation" => ok(json!([{
            "totalBal": account.balance["totalEq"],
            "ts": chrono::Utc::now().timestamp_millis().to_string(),
            "details": {"funding": "", "trading": account.balance["totalEq"], "classic": "", "earn": ""},
        }])),
        _ => error(StatusCode::NOT_FOUND, "404", "Not Found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OKX vector in shared/reference/exchanges.md §1.2.
    #[test]
    fn signature_matches_the_reference_vector() {
        let secret = "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO";
        let prehash = "2020-12-08T09:08:57.715ZGET/api/v5/account/balance";
        assert_eq!(
            signature(secret, prehash),
            "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k="
        );
        assert!(signature_matches(
            secret,
            prehash,
            "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k="
        ));
        assert!(!signature_matches(
            secret,
            prehash,
            "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33l="
        ));
    }

    #[test]
    fn timestamps_must_be_iso_utc_with_milliseconds() {
        assert_eq!(
            parse_timestamp("2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(parse_timestamp("2020-12-08T09:08:57Z"), None);
        assert_eq!(parse_timestamp("1607418537715"), None);
        assert_eq!(parse_timestamp("2020-12-08T09:08:57.715+00:00"), None);
    }
}
