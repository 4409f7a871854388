//! WhiteBIT (API v4): the Main balance, the Trade (spot) balance, the Collateral account
//! (margin and futures) with its open positions, and Smart-Flex earn.
//!
//! Signing (WhiteBIT "Authentication"): every private call is a POST whose JSON body holds
//! `request` (the path), `nonce` and `nonceWindow: true`; `X-TXC-PAYLOAD` is the body in
//! base64 and `X-TXC-SIGNATURE` the hex HMAC-SHA512 of that base64 text under the API
//! secret. With `nonceWindow` the nonce is a Unix millisecond within ±5 s of WhiteBIT's clock
//! and unique, so two tabs or devices never collide as increasing nonces would; Holdix uses
//! the corrected clock, one millisecond per request of a host
//! ([`super::refresh::Clocks::next_time`]), so its own requests never repeat a nonce.
//!
//! WhiteBIT has no endpoint that reports a key's permissions: Connect checks that the key
//! reads the trade balance and says plainly that it cannot tell more
//! ([`ConnectSpec::read_endpoints`]); nothing here ever calls a write endpoint to find out.
//! Errors come as `{"code", "message", "errors"}` (or `{"message": [[…]], "success": false}`)
//! and are told apart by their message.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::Sha512;

use super::json::Json;
use super::{
    usd_prices, ConnectSpec, CredentialField, Endpoint, ErrorKind, Exchange, ExchangeError,
    Fetched, Field, HttpRequest, HttpResponse, Parsed, Part, Quote, Region, Verdict,
};
use crate::portfolio::{Account, Holding, Position, Side};
use crate::records::{Connection, ExchangeId};

pub const TIME: &str = "/api/v4/public/time";
pub const TICKER: &str = "/api/v4/public/ticker";
pub const MAIN: &str = "/api/v4/main-account/balance";
pub const TRADE: &str = "/api/v4/trade-account/balance";
pub const COLLATERAL: &str = "/api/v4/collateral-account/balance";
pub const SUMMARY: &str = "/api/v4/collateral-account/summary";
pub const POSITIONS: &str = "/api/v4/collateral-account/positions/open";
pub const SMART_FLEX: &str = "/api/v4/main-account/smart-flex/investments";

/// Smart-Flex investments per page (WhiteBIT's default and the page size Holdix asks for).
pub const FLEX_LIMIT: usize = 100;
/// More pages than this is a loop, not a portfolio.
const MAX_PAGES: u32 = 50;

const GLOBAL: &str = "whitebit";
const EU: &str = "whitebit-eu";
const HOSTS: &[&str] = &[GLOBAL, EU];

/// (part, path). Main and Trade are required; Collateral and Smart-Flex are optional
/// accounts.
const PARTS: [(&str, &str); 6] = [
    ("main", MAIN),
    ("trade", TRADE),
    ("collateral", COLLATERAL),
    ("summary", SUMMARY),
    ("positions", POSITIONS),
    ("earn", SMART_FLEX),
];

const J: Json = Json("WhiteBIT");

static SPEC: ConnectSpec = ConnectSpec {
    id: ExchangeId::Whitebit,
    fields: &[
        CredentialField::API_KEY,
        CredentialField::new(Field::Secret, "API Secret", true),
    ],
    regions: &[
        Region {
            value: "global",
            label: "Global (whitebit.com)",
            upstream: GLOBAL,
        },
        Region {
            value: "eu",
            label: "EU (whitebit.eu)",
            upstream: EU,
        },
    ],
    demo: false,
    demo_upstream: None,
    help_title: "How to create a read-only WhiteBIT API key",
    help_steps: &[
        "Turn on two-factor authentication (required; turning it off disables every key).",
        "Under Account → API keys, create a key with “Endpoint access restrictions”: only the read endpoints listed above.",
        "Optional: IP restriction with the Holdix proxy's address (not yours).",
        "Paste the API Key and the API Secret; choose the EU region for whitebit.eu.",
    ],
    accounts: &[Account::Main, Account::Spot, Account::Earn, Account::Collateral],
    time_path: TIME,
    allow: &[
        (
            Account::Collateral,
            "the endpoints /api/v4/collateral-account/balance, /api/v4/collateral-account/summary and /api/v4/collateral-account/positions/open",
        ),
        (
            Account::Earn,
            "the endpoint /api/v4/main-account/smart-flex/investments (if WhiteBIT says lending API access is not enabled for your account, its support can enable it)",
        ),
    ],
    read_endpoints: &[MAIN, TRADE, COLLATERAL, SUMMARY, POSITIONS, SMART_FLEX],
};

const fn endpoint(upstreams: &'static [&'static str], path: &'static str) -> Endpoint {
    Endpoint {
        upstreams,
        method: "POST",
        path,
    }
}

static ENDPOINTS: [Endpoint; 8] = [
    Endpoint {
        upstreams: HOSTS,
        method: "GET",
        path: TIME,
    },
    Endpoint {
        upstreams: &[GLOBAL],
        method: "GET",
        path: TICKER,
    },
    endpoint(HOSTS, MAIN),
    endpoint(HOSTS, TRADE),
    endpoint(HOSTS, COLLATERAL),
    endpoint(HOSTS, SUMMARY),
    endpoint(HOSTS, POSITIONS),
    endpoint(HOSTS, SMART_FLEX),
];

/// WhiteBIT's signature of a body: (`X-TXC-PAYLOAD`, `X-TXC-SIGNATURE`) = (base64 of the
/// body, hex HMAC-SHA512 of that base64 text).
pub fn sign(secret: &str, body: &str) -> (String, String) {
    let payload = B64.encode(body);
    let mut mac =
        Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    (payload, hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body of a private call: `request`, `nonce`, `nonceWindow` and the endpoint's
/// own parameters (`params`: `,"name":value…`, Holdix's constants only).
pub fn body(path: &str, nonce: i64, params: &str) -> String {
    format!(r#"{{"request":"{path}","nonce":{nonce},"nonceWindow":true{params}}}"#)
}

/// A signed POST of `path` with nonce `nonce`.
fn signed(
    conn: &Connection,
    upstream: &'static str,
    path: &'static str,
    nonce: i64,
    params: &str,
) -> HttpRequest {
    let body = body(path, nonce, params);
    let (payload, signature) = sign(conn.secret.expose(), &body);
    HttpRequest {
        upstream,
        method: "POST",
        path_and_query: path.to_string(),
        headers: vec![
            ("Content-Type", "application/json".into()),
            ("X-TXC-APIKEY", conn.api_key.clone()),
            ("X-TXC-PAYLOAD", payload),
            ("X-TXC-SIGNATURE", signature),
        ],
        body,
    }
}

/// Why an answer is not a result: WhiteBIT's own message, or a failure before WhiteBIT
/// spoke (HTML, a proxy refusal, an unreadable body, HTTP 429).
enum Refusal {
    Message(String),
    Other(ExchangeError),
}

/// The text of WhiteBIT's `message` (a string, or lists of strings), with the field errors
/// of a validation failure.
fn message_of(v: &Value) -> Option<String> {
    fn strings(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push(' ');
                out.push_str(s);
            }
            Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            Value::Object(map) => map.values().for_each(|i| strings(i, out)),
            _ => {}
        }
    }
    let mut text = String::new();
    strings(v.get("message")?, &mut text);
    strings(v.get("errors").unwrap_or(&Value::Null), &mut text);
    Some(text.trim_start().to_string())
}

/// A successful answer's JSON, or why there is none.
fn read(resp: &HttpResponse) -> Result<Value, Refusal> {
    let value: Option<Value> = serde_json::from_str(&resp.body).ok();
    if resp.status == 429 {
        return Err(Refusal::Other(
            ExchangeError::general(
                ErrorKind::RateLimit,
                "WhiteBIT is rate limiting the proxy's address. Holdix waited and retried; wait a minute, then refresh.",
            )
            .with_retry_after(resp.retry_after_s.map(|s| s.saturating_mul(1000))),
        ));
    }
    let failed = value
        .as_ref()
        .filter(|v| v.get("message").is_some() || v.get("success") == Some(&Value::Bool(false)))
        .and_then(message_of);
    match (failed, value) {
        (Some(message), _) => Err(Refusal::Message(message)),
        (None, Some(v)) if resp.status == 200 && v.get("error").is_none() => Ok(v),
        (None, value) => Err(Refusal::Other(J.http_failure(resp, value))),
    }
}

/// The endpoint of a part, for messages.
fn path_of(part: &str) -> &'static str {
    PARTS
        .iter()
        .find(|(name, _)| *name == part)
        .map_or(TRADE, |(_, path)| path)
}

/// The optional account a part reads (not readable with this key: noted, the rest kept).
fn optional(part: &str) -> Option<Account> {
    match part {
        "collateral" | "summary" | "positions" => Some(Account::Collateral),
        "earn" => Some(Account::Earn),
        _ => None,
    }
}

/// WhiteBIT's messages → kind and explanation. `part` is what was asked.
pub fn explain(conn: &Connection, part: &str, message: &str) -> ExchangeError {
    use ErrorKind as K;
    let has = |s: &str| message.contains(s);
    if has("nonce is more than") || has("Too many requests") {
        return ExchangeError::general(
            K::Clock,
            "WhiteBIT refused Holdix's request number (nonce) even after Holdix re-measured its clock. If another app uses this key, give Holdix a key of its own; otherwise set this device's clock to update automatically. Then wait a minute and refresh.",
        );
    }
    if has("Invalid payload") || has("not provided") || has("Invalid nonceWindow") {
        return ExchangeError::general(
            K::Malformed,
            format!("WhiteBIT could not read the request Holdix sent (“{message}”). This is a bug in Holdix, not a problem with your key or settings: please report it. Your last snapshot stays on screen."),
        );
    }
    if has("Unauthorized request") {
        return ExchangeError::new(
            K::AuthKey,
            Field::ApiKey,
            format!(
                "WhiteBIT {} did not accept this key's signature: the API Key or the API Secret was not copied completely. Copy both again (the secret is shown only once; if it is lost, create a new key). A key of the other WhiteBIT site needs that Region.",
                SPEC.region(conn).map_or("", |r| r.label)
            ),
        );
    }
    if has("Enable your key") || has("action is unauthorized") {
        return ExchangeError::new(
            K::Ip,
            Field::ApiKey,
            "WhiteBIT has disabled this key. It does so when a key with IP restriction is used from an address it does not list (only the Holdix proxy's address works: add it, not yours), when two-factor authentication is turned off, and after 14 days without use. Fix the cause, enable the key under API keys on WhiteBIT, then Re-test.",
        );
    }
    if has("permission to use this endpoint") {
        let path = path_of(part);
        return ExchangeError::new(
            K::Permission,
            Field::ApiKey,
            format!("This key may not call {path}. On WhiteBIT, edit the key's endpoint access and add {path} (with the other read endpoints listed in Connect), then refresh."),
        );
    }
    ExchangeError::general(
        K::Unavailable,
        format!("WhiteBIT refused the request: {message}"),
    )
}

fn refusal(conn: &Connection, part: &str, r: Refusal) -> ExchangeError {
    match r {
        Refusal::Message(m) => explain(conn, part, &m),
        Refusal::Other(e) => e,
    }
}

/// `{"BTC": {fields…}, …}` (or `{"BTC": 1.5}` where `fields` is empty) as holdings: the sum
/// of `fields` per asset, zero amounts left out.
fn balances(
    id: &str,
    account: Account,
    v: &Value,
    fields: &[&str],
    out: &mut Vec<Holding>,
) -> Result<(), ExchangeError> {
    let Some(map) = v.as_object() else {
        return Err(J.malformed());
    };
    for (asset, row) in map {
        let amount = if fields.is_empty() {
            J.decimal(v, asset)?.unwrap_or_default()
        } else {
            J.amount(row, fields)?
        };
        if !amount.is_zero() {
            out.push(Holding {
                connection: id.to_string(),
                account,
                asset: asset.clone(),
                amount,
                usd: None,
            });
        }
    }
    Ok(())
}

/// One open collateral position; `leverage` is the account's (WhiteBIT sets it per account).
fn position(
    conn: &str,
    p: &Value,
    leverage: Option<Decimal>,
) -> Result<Option<Position>, ExchangeError> {
    let amount = J.amount(p, &["amount"])?;
    if amount.is_zero() {
        return Ok(None);
    }
    let market = Json::text(p, "market");
    let nonzero = |field: &str| J.decimal(p, field).map(|d| d.filter(|x| !x.is_zero()));
    Ok(Some(Position {
        connection: conn.to_string(),
        kind: if market.ends_with("_PERP") {
            "Futures"
        } else {
            "Margin"
        }
        .into(),
        side: match Json::text(p, "positionSide").as_str() {
            "SHORT" => Side::Short,
            "LONG" => Side::Long,
            _ if amount.is_sign_negative() => Side::Short,
            _ => Side::Long,
        },
        instrument: market,
        size: amount.abs(),
        entry: nonzero("basePrice")?,
        mark: None,
        pnl: J.decimal(p, "unrealizedPnl")?,
        leverage,
        liquidation: nonzero("liquidationPrice")?,
        margin_mode: String::new(),
    }))
}

/// Every answer so far → the connection's holdings and positions, or more Smart-Flex pages.
fn parse_all(conn: &Connection, answers: &[(Part, HttpResponse)]) -> Result<Parsed, ExchangeError> {
    let id = conn.id.as_str();
    let mut fetched = Fetched::default();
    let mut more = Vec::new();
    let mut results = Vec::new();
    for (part, resp) in answers {
        match read(resp) {
            Ok(v) => results.push((part, v)),
            Err(Refusal::Message(m)) if m.contains("permission to use this endpoint") => {
                match optional(part.name) {
                    Some(account) if !fetched.unreadable.contains(&account) => {
                        fetched.unreadable.push(account);
                    }
                    Some(_) => {}
                    None => return Err(explain(conn, part.name, &m)),
                }
            }
            Err(r) => return Err(refusal(conn, part.name, r)),
        }
    }
    // An account is read whole or not at all (no Collateral without its summary).
    results.retain(|(p, _)| optional(p.name).is_none_or(|a| !fetched.unreadable.contains(&a)));
    // The account's leverage and unrealized PnL (in USDT), from the summary.
    let summary = results
        .iter()
        .find(|(p, _)| p.name == "summary")
        .map(|(_, v)| v);
    let leverage = summary
        .map(|s| J.decimal(s, "leverage"))
        .transpose()?
        .flatten();
    let pnl = summary
        .map(|s| J.decimal(s, "pnl"))
        .transpose()?
        .flatten()
        .unwrap_or_default();
    for (part, v) in &results {
        match part.name {
            "main" => balances(
                id,
                Account::Main,
                v,
                &["main_balance"],
                &mut fetched.holdings,
            )?,
            "trade" => balances(
                id,
                Account::Spot,
                v,
                &["available", "freeze"],
                &mut fetched.holdings,
            )?,
            "collateral" => {
                balances(id, Account::Collateral, v, &[], &mut fetched.holdings)?;
                // The collateral's worth includes the open positions' unrealized PnL, which
                // WhiteBIT counts in USDT (as an exchange's equity would): a USDT amount of
                // its own in the account.
                if !pnl.is_zero() {
                    fetched.holdings.push(Holding {
                        connection: id.to_string(),
                        account: Account::Collateral,
                        asset: "USDT".into(),
                        amount: pnl,
                        usd: None,
                    });
                }
            }
            "positions" => {
                for p in J.list(v, None)? {
                    if let Some(position) = position(id, p, leverage)? {
                        fetched.positions.push(position);
                    }
                }
            }
            "earn" => {
                let rows = J.list(v, Some("data"))?;
                for row in rows {
                    if Json::text(row, "status") != "1" {
                        continue;
                    }
                    let amount = J.amount(row, &["invested"])?;
                    if !amount.is_zero() {
                        fetched.holdings.push(Holding {
                            connection: id.to_string(),
                            account: Account::Earn,
                            asset: Json::text(row, "currency"),
                            amount,
                            usd: None,
                        });
                    }
                }
                if rows.len() >= FLEX_LIMIT {
                    let next = Part {
                        page: part.page + 1,
                        ..Part::first("earn")
                    };
                    if next.page > MAX_PAGES {
                        return Err(J.malformed());
                    }
                    if !answers.iter().any(|(p, _)| *p == next) {
                        more.push(next);
                    }
                }
            }
            _ => {}
        }
    }
    if !more.is_empty() {
        return Ok(Parsed::More(more));
    }
    Ok(Parsed::Done(fetched))
}

/// The price 24 hours ago from WhiteBIT's `change` (the 24-hour change in percent, the only
/// form its ticker gives): `last / (1 + change / 100)`, to 12 decimal places.
pub fn open_from_change(last: Decimal, change: Option<Decimal>) -> Option<Decimal> {
    let factor = Decimal::ONE_HUNDRED + change?;
    (!factor.is_zero()).then(|| {
        (last * Decimal::ONE_HUNDRED / factor)
            .round_dp(12)
            .normalize()
    })
}

/// WhiteBIT on the [`Exchange`] seam.
pub struct Whitebit;

impl Exchange for Whitebit {
    fn spec(&self) -> &'static ConnectSpec {
        &SPEC
    }

    /// `{"time": <Unix seconds>}`: the middle of that second, so the offset is within
    /// half a second of the truth (far inside the ±5 s nonce window).
    fn parse_time(&self, resp: &HttpResponse) -> Result<i64, ExchangeError> {
        let v: Value = serde_json::from_str(&resp.body).map_err(|_| J.http_failure(resp, None))?;
        v.get("time")
            .and_then(Value::as_i64)
            .filter(|t| *t > 0 && resp.status == 200)
            .and_then(|t| t.checked_mul(1000)?.checked_add(500))
            .ok_or_else(|| J.http_failure(resp, Some(v)))
    }

    /// The trade balance: a read every Holdix key must be allowed, and the only check
    /// WhiteBIT offers.
    fn permission_request(
        &self,
        conn: &Connection,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        Ok(signed(conn, self.upstream(conn), TRADE, now_ms, ""))
    }

    fn verdict(&self, conn: &Connection, resp: &HttpResponse) -> Result<Verdict, ExchangeError> {
        match read(resp) {
            Ok(v) if v.is_object() => Ok(Verdict::Unknown),
            Ok(_) => Err(J.malformed()),
            Err(r) => Err(refusal(conn, "trade", r)),
        }
    }

    fn parts(&self, _conn: &Connection) -> Vec<Part> {
        PARTS.iter().map(|(name, _)| Part::first(name)).collect()
    }

    fn request(
        &self,
        conn: &Connection,
        part: &Part,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        let (_, path) = PARTS
            .iter()
            .find(|(name, _)| *name == part.name)
            .ok_or_else(|| J.malformed())?;
        let params = if part.name == "earn" {
            format!(
                r#","limit":{FLEX_LIMIT},"offset":{},"investmentStatus":1"#,
                (part.page.max(1) as usize - 1) * FLEX_LIMIT
            )
        } else {
            String::new()
        };
        Ok(signed(conn, self.upstream(conn), path, now_ms, &params))
    }

    fn parse(
        &self,
        conn: &Connection,
        answers: &[(Part, HttpResponse)],
    ) -> Result<Parsed, ExchangeError> {
        parse_all(conn, answers)
    }

    fn price_requests(&self) -> Vec<HttpRequest> {
        vec![HttpRequest::public_get(GLOBAL, TICKER)]
    }

    fn parse_prices(&self, answers: &[HttpResponse]) -> Result<Vec<Quote>, ExchangeError> {
        let mut pairs = Vec::new();
        for resp in answers {
            let v = read(resp).map_err(|r| match r {
                Refusal::Message(m) => ExchangeError::general(
                    ErrorKind::Unavailable,
                    format!("WhiteBIT refused the request: {m}"),
                ),
                Refusal::Other(e) => e,
            })?;
            let Some(map) = v.as_object() else {
                return Err(J.malformed());
            };
            for (pair, t) in map {
                if t.get("isFrozen") == Some(&Value::Bool(true)) {
                    continue;
                }
                if let Some(price) = J.decimal(t, "last_price")? {
                    pairs.push((
                        pair.clone(),
                        price,
                        open_from_change(price, J.decimal(t, "change")?),
                    ));
                }
            }
        }
        Ok(usd_prices(&pairs, &|pair, quote| {
            pair.strip_suffix(quote)?
                .strip_suffix('_')
                .filter(|b| !b.is_empty())
        }))
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &ENDPOINTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::refresh::{testing::drive, Outcome, Run};
    use crate::records::{ConnectionOptions, Secret};
    use serde_json::json;

    fn conn() -> Connection {
        Connection {
            id: "w".into(),
            exchange: ExchangeId::Whitebit,
            label: "WhiteBIT".into(),
            api_key: "gainium-whitebit-test-key".into(),
            secret: Secret::new("gainium-whitebit-test-secret"),
            passphrase: None,
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms: 0,
        }
    }

    fn ok(v: Value) -> HttpResponse {
        HttpResponse::new(200, v.to_string())
    }

    /// WhiteBIT's private error body.
    fn refused(status: u16, message: &str) -> HttpResponse {
        HttpResponse::new(
            status,
            json!({"code": 0, "message": message, "errors": {}}).to_string(),
        )
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The reference vector (reference §4.2): the base64 payload and the HMAC-SHA512 of it.
    #[test]
    fn signature_matches_the_reference_vector() {
        let (payload, signature) = sign(
            "gainium-whitebit-test-secret",
            r#"{"request":"/api/v4/trade-account/balance","nonce":"1735689600000"}"#,
        );
        assert_eq!(
            payload,
            "eyJyZXF1ZXN0IjoiL2FwaS92NC90cmFkZS1hY2NvdW50L2JhbGFuY2UiLCJub25jZSI6IjE3MzU2ODk2MDAwMDAifQ=="
        );
        assert_eq!(
            signature,
            "f3395579fc616ec91ee39490782003f5a5f09098e7cd5214fbd8651ee5f9d0a7d21d52b1bcd410d4e722c0d57949ea0bfd1335c8207196f210335b1521dd5657"
        );
    }

    /// The body is JSON with the path, the nonce and `nonceWindow`, the payload decodes to
    /// exactly the body sent, and the signature is over the payload.
    #[test]
    fn requests_are_posts_whose_payload_is_the_body() {
        let req = Whitebit
            .request(&conn(), &Part::first("main"), 1_764_288_000_000)
            .unwrap();
        assert_eq!(
            (req.upstream, req.method, req.path_and_query.as_str()),
            ("whitebit", "POST", MAIN)
        );
        assert_eq!(
            req.body,
            r#"{"request":"/api/v4/main-account/balance","nonce":1764288000000,"nonceWindow":true}"#
        );
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let payload = header("X-TXC-PAYLOAD");
        assert_eq!(B64.decode(&payload).unwrap(), req.body.as_bytes());
        assert_eq!(header("X-TXC-APIKEY"), "gainium-whitebit-test-key");
        assert_eq!(header("Content-Type"), "application/json");
        assert_eq!(
            header("X-TXC-SIGNATURE"),
            sign("gainium-whitebit-test-secret", &req.body).1
        );
        let body: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["nonceWindow"], json!(true));
        // The nonce is the exchange time given (the refresh hands each request its own);
        // Smart-Flex asks for active investments, a page at a time.
        for p in Whitebit.parts(&conn()) {
            let r = Whitebit.request(&conn(), &p, 1_234).unwrap();
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(body["nonce"], json!(1_234), "{}", p.name);
        }
        let page2 = Part {
            page: 2,
            ..Part::first("earn")
        };
        let r = Whitebit.request(&conn(), &page2, 1_000).unwrap();
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            (
                &body["request"],
                &body["limit"],
                &body["offset"],
                &body["investmentStatus"]
            ),
            (&json!(SMART_FLEX), &json!(100), &json!(100), &json!(1))
        );
        // The EU site is its own host.
        let mut eu = conn();
        eu.options.region = Some("eu".into());
        assert_eq!(
            Whitebit.permission_request(&eu, 1).unwrap().upstream,
            "whitebit-eu"
        );
    }

    /// Answers as WhiteBIT documents them (main, trade, collateral balance and summary,
    /// open positions, Smart-Flex investments).
    fn full_set() -> Vec<(Part, HttpResponse)> {
        vec![
            (
                Part::first("main"),
                ok(
                    json!({"BTC": {"main_balance": "0.1"}, "XLM": {"main_balance": "0"}, "USDT": {"main_balance": "250.5"}}),
                ),
            ),
            (
                Part::first("trade"),
                ok(
                    json!({"BTC": {"available": "0.2", "freeze": "0.05"}, "ETH": {"available": "0", "freeze": "0"}, "WBT": {"available": "100", "freeze": "0"}}),
                ),
            ),
            (
                Part::first("collateral"),
                ok(json!({"USDT": 1000, "BTC": 0.01, "ETH": 0})),
            ),
            (
                Part::first("summary"),
                ok(
                    json!({"equity": "1985", "margin": "500", "freeMargin": "1485", "unrealizedFunding": "0", "pnl": "-15", "leverage": 5, "marginFraction": "0.25"}),
                ),
            ),
            (
                Part::first("positions"),
                ok(json!([
                    {"positionId": 527, "market": "BTC_PERP", "amount": "0.01", "basePrice": "96000", "liquidationPrice": null, "pnl": "0", "unrealizedPnl": "-20", "positionSide": "LONG", "margin": "192", "funding": "0", "unrealizedFunding": "0", "tpsl": null},
                    {"positionId": 528, "market": "ETH_USDT", "amount": "-0.5", "basePrice": "3410", "liquidationPrice": "4100", "pnl": "0", "unrealizedPnl": "5", "positionSide": "BOTH", "margin": "341", "tpsl": null}
                ])),
            ),
            (
                Part::first("earn"),
                ok(json!({"data": [
                    {"id": "inv_1", "planId": "p", "currency": "USDT", "invested": "1500.75", "withAutoReinvest": true, "status": 1, "createdAt": 1640995200, "updatedAt": 1641081600},
                    {"id": "inv_2", "planId": "p", "currency": "ETH", "invested": "2", "status": 0}
                ], "limit": 100, "offset": 0})),
            ),
        ]
    }

    fn done(p: Parsed) -> Fetched {
        match p {
            Parsed::Done(f) => f,
            more => panic!("expected everything, got {more:?}"),
        }
    }

    #[test]
    fn every_balance_and_position_is_read_exactly() {
        let f = done(Whitebit.parse(&conn(), &full_set()).unwrap());
        let got: Vec<(Account, &str, Decimal)> = f
            .holdings
            .iter()
            .map(|h| (h.account, h.asset.as_str(), h.amount))
            .collect();
        assert_eq!(
            got,
            vec![
                (Account::Main, "BTC", d("0.1")),
                (Account::Main, "USDT", d("250.5")),
                (Account::Spot, "BTC", d("0.25")),
                (Account::Spot, "WBT", d("100")),
                // 0.01 BTC and 1,000 USDT of collateral, and the −15 USDT unrealized PnL.
                (Account::Collateral, "BTC", d("0.01")),
                (Account::Collateral, "USDT", d("1000")),
                (Account::Collateral, "USDT", d("-15")),
                // Only the active investment.
                (Account::Earn, "USDT", d("1500.75")),
            ]
        );
        assert_eq!(f.positions.len(), 2);
        let btc = &f.positions[0];
        assert_eq!(
            (
                btc.kind.as_str(),
                btc.instrument.as_str(),
                btc.side,
                btc.size
            ),
            ("Futures", "BTC_PERP", Side::Long, d("0.01"))
        );
        assert_eq!(
            (btc.entry, btc.pnl, btc.leverage, btc.liquidation),
            (Some(d("96000")), Some(d("-20")), Some(d("5")), None)
        );
        let eth = &f.positions[1];
        assert_eq!(
            (eth.kind.as_str(), eth.side, eth.size, eth.liquidation),
            ("Margin", Side::Short, d("0.5"), Some(d("4100")))
        );
        assert!(f.unreadable.is_empty() && f.not_enabled.is_empty());
    }

    #[test]
    fn a_full_page_of_investments_asks_for_the_next() {
        let mut set = full_set();
        let rows: Vec<Value> = (0..FLEX_LIMIT)
            .map(|i| json!({"currency": "USDT", "invested": "1", "status": 1, "id": format!("i{i}")}))
            .collect();
        set[5].1 = ok(json!({"data": rows, "limit": 100, "offset": 0}));
        let next = Part {
            page: 2,
            ..Part::first("earn")
        };
        assert_eq!(
            Whitebit.parse(&conn(), &set).unwrap(),
            Parsed::More(vec![next.clone()])
        );
        set.push((next, ok(json!({"data": [{"currency": "USDT", "invested": "0.5", "status": 1}], "limit": 100, "offset": 100}))));
        let f = done(Whitebit.parse(&conn(), &set).unwrap());
        let earn: Decimal = f
            .holdings
            .iter()
            .filter(|h| h.account == Account::Earn)
            .map(|h| h.amount)
            .sum();
        assert_eq!(earn, d("100.5"));
    }

    #[test]
    fn an_optional_account_the_key_may_not_read_is_noted_and_the_rest_kept() {
        let no = "You don't have permission to use this endpoint.";
        let mut set = full_set();
        set[5].1 = refused(
            403,
            "You don't have permission to use this endpoint. Please contact support for more details",
        );
        let f = done(Whitebit.parse(&conn(), &set).unwrap());
        assert_eq!(f.unreadable, vec![Account::Earn]);
        assert!(f.holdings.iter().all(|h| h.account != Account::Earn));
        // Collateral: not one of its three reads, so no half-read account.
        let mut set = full_set();
        set[3].1 = refused(403, no);
        let f = done(Whitebit.parse(&conn(), &set).unwrap());
        assert_eq!(f.unreadable, vec![Account::Collateral]);
        assert!(f.holdings.iter().all(|h| h.account != Account::Collateral));
        assert!(f.positions.is_empty());
        assert_eq!(f.holdings.len(), 5);
        // A required endpoint names itself.
        let mut set = full_set();
        set[0].1 = refused(403, no);
        let e = Whitebit.parse(&conn(), &set).unwrap_err();
        assert_eq!(
            (e.kind, e.problem.field),
            (ErrorKind::Permission, Field::ApiKey)
        );
        assert!(
            e.message().contains("add /api/v4/main-account/balance"),
            "{e}"
        );
        // The dashboard's note names the endpoints to allow.
        let n = crate::exchange::unreadable_notice(ExchangeId::Whitebit, Account::Collateral);
        assert!(n.contains("allow the endpoints /api/v4/collateral-account/balance, /api/v4/collateral-account/summary and /api/v4/collateral-account/positions/open"), "{n}");
    }

    #[test]
    fn a_working_key_is_accepted_as_unknown_never_as_read_only() {
        let v = Whitebit
            .verdict(
                &conn(),
                &ok(json!({"BTC": {"available": "0", "freeze": "0"}})),
            )
            .unwrap();
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(v.accept().unwrap().expires_ms, None);
        let req = Whitebit.permission_request(&conn(), 5).unwrap();
        assert_eq!((req.method, req.path_and_query.as_str()), ("POST", TRADE));
        // What Connect tells the user: exactly the endpoints this module reads.
        let signed: Vec<&str> = Whitebit
            .endpoints()
            .iter()
            .filter(|e| e.method == "POST")
            .map(|e| e.path)
            .collect();
        assert_eq!(SPEC.read_endpoints, signed.as_slice());
    }

    #[test]
    fn each_message_is_explained_at_its_field() {
        let c = conn();
        let at = |resp: HttpResponse| {
            let e = Whitebit.verdict(&c, &resp).unwrap_err();
            (e.kind, e.problem.field, e.problem.message)
        };
        let cases = [
            (
                refused(401, "Unauthorized request."),
                ErrorKind::AuthKey,
                Field::ApiKey,
                "Global (whitebit.com) did not accept this key's signature",
            ),
            (
                HttpResponse::new(
                    400,
                    r#"{"message":[["Unauthorized request."]],"result":[],"success":false}"#,
                ),
                ErrorKind::AuthKey,
                Field::ApiKey,
                "API Secret was not copied completely",
            ),
            (
                refused(
                    401,
                    "This action is unauthorized. Enable your key in API settings",
                ),
                ErrorKind::Ip,
                Field::ApiKey,
                "two-factor authentication is turned off",
            ),
            (
                refused(403, "You don't have permission to use this endpoint."),
                ErrorKind::Permission,
                Field::ApiKey,
                "add /api/v4/trade-account/balance",
            ),
            (
                refused(400, "Invalid payload."),
                ErrorKind::Malformed,
                Field::General,
                "bug in Holdix, not a problem with your key",
            ),
            (
                refused(400, "Nonce not provided."),
                ErrorKind::Malformed,
                Field::General,
                "bug in Holdix",
            ),
            (
                refused(
                    400,
                    "Your nonce is more than 5 seconds lesser than the current nonce",
                ),
                ErrorKind::Clock,
                Field::General,
                "re-measured its clock",
            ),
            (
                refused(400, "Too many requests."),
                ErrorKind::Clock,
                Field::General,
                "key of its own",
            ),
            (
                HttpResponse::new(429, "<html>Too Many Requests</html>"),
                ErrorKind::RateLimit,
                Field::General,
                "rate limiting",
            ),
            (
                HttpResponse::new(502, "<html>Bad Gateway</html>"),
                ErrorKind::Unavailable,
                Field::General,
                "WhiteBIT is unavailable right now (HTTP 502)",
            ),
            (
                HttpResponse::new(200, r#"{"BTC":{"available":"0.1","fre"#),
                ErrorKind::Malformed,
                Field::General,
                "could not read",
            ),
            (
                HttpResponse::new(400, r#"{"error":"route not allowed"}"#),
                ErrorKind::Proxy,
                Field::General,
                "route not allowed",
            ),
            (
                HttpResponse::new(
                    422,
                    r#"{"code":30,"message":"Validation failed","errors":{"ticker":["ticker is invalid."]}}"#,
                ),
                ErrorKind::Unavailable,
                Field::General,
                "Validation failed ticker is invalid.",
            ),
        ];
        for (resp, kind, field, says) in cases {
            let (k, f, m) = at(resp);
            assert_eq!((k, f), (kind, field), "{m}");
            assert!(m.contains(says), "{says}: {m}");
        }
        let mut eu = conn();
        eu.options.region = Some("eu".into());
        let e = Whitebit
            .verdict(&eu, &refused(401, "Unauthorized request."))
            .unwrap_err();
        assert!(e.message().contains("WhiteBIT EU (whitebit.eu)"), "{e}");
        // WhiteBIT's 429 says how long to wait.
        let mut limited = HttpResponse::new(429, "");
        limited.retry_after_s = Some(2);
        let e = Whitebit.verdict(&conn(), &limited).unwrap_err();
        assert_eq!(e.retry_after_ms, Some(2000));
    }

    #[test]
    fn unreadable_values_are_errors_not_guesses() {
        let mut set = full_set();
        set[1].1 = ok(json!({"BTC": {"available": "1.2.3", "freeze": "0"}}));
        let e = Whitebit.parse(&conn(), &set).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.message().contains("available"), "{e}");
        set[1].1 = ok(json!(["not", "a", "map"]));
        assert_eq!(
            Whitebit.parse(&conn(), &set).unwrap_err().kind,
            ErrorKind::Malformed
        );
        let mut set = full_set();
        set[4].1 = ok(json!({"positions": "not a list"}));
        assert_eq!(
            Whitebit.parse(&conn(), &set).unwrap_err().kind,
            ErrorKind::Malformed
        );
    }

    #[test]
    fn prices_prefer_the_usdt_pair_then_usdc_and_skip_frozen_markets() {
        let ticker = ok(json!({
            "BTC_USDT": {"base_id": 1, "quote_id": 825, "last_price": "97000.5", "quote_volume": "1", "base_volume": "1", "isFrozen": false, "change": "0.57"},
            "BTC_USDC": {"last_price": "96990", "isFrozen": false},
            "WBT_USDC": {"last_price": "24.5", "isFrozen": false},
            "OLD_USDT": {"last_price": "3", "isFrozen": true},
            "BTC_PERP": {"last_price": "97010", "isFrozen": false},
            "ETH_BTC": {"last_price": "0.035", "isFrozen": false}
        }));
        assert_eq!(
            Whitebit.parse_prices(&[ticker]).unwrap(),
            vec![
                // change 0.57 %: 97000.5 / 1.0057.
                (
                    "BTC".to_string(),
                    d("97000.5"),
                    Some(d("96450.730834244805"))
                ),
                ("WBT".to_string(), d("24.5"), None)
            ]
        );
        assert_eq!(open_from_change(d("110"), Some(d("10"))), Some(d("100")));
        assert_eq!(open_from_change(d("90"), Some(d("-10"))), Some(d("100")));
        assert_eq!(open_from_change(d("1"), Some(d("-100"))), None, "from zero");
        assert_eq!(Whitebit.price_requests()[0].path_and_query, TICKER);
    }

    #[test]
    fn server_time_is_the_middle_of_whitebits_second() {
        let resp = HttpResponse::new(200, r#"{"time":1631451591}"#);
        assert_eq!(Whitebit.parse_time(&resp), Ok(1_631_451_591_500));
        assert_eq!(
            Whitebit
                .parse_time(&HttpResponse::new(502, "<html>"))
                .unwrap_err()
                .kind,
            ErrorKind::Unavailable
        );
    }

    /// A whole refresh through the shared state machine: a nonce refused once is followed
    /// by a re-measured clock and one retry, with fresh nonces.
    #[test]
    fn a_refused_nonce_remeasures_the_clock_and_retries_once() {
        let c = vec![conn()];
        let mut run = Run::refresh(&c, Default::default());
        let mut refused_once = false;
        let mut nonces = Vec::new();
        let steps = drive(&mut run, |req| {
            if req.path_and_query == TICKER {
                return ok(json!({"BTC_USDT": {"last_price": "97000", "isFrozen": false}}));
            }
            let body: Value = serde_json::from_str(&req.body).unwrap();
            nonces.push(body["nonce"].as_i64().unwrap());
            if !refused_once && req.path_and_query == MAIN {
                refused_once = true;
                return refused(
                    400,
                    "Your nonce is more than 5 seconds lesser than the current nonce",
                );
            }
            let set = full_set();
            let part = PARTS
                .iter()
                .find(|(_, p)| *p == req.path_and_query)
                .unwrap()
                .0;
            set.into_iter().find(|(p, _)| p.name == part).unwrap().1
        });
        assert_eq!(
            steps.iter().filter(|s| s.starts_with("clocks")).count(),
            2,
            "{steps:?}"
        );
        // Six parts, then the six again: every nonce its own, increasing, although the test's
        // clock stands still and was measured twice.
        assert_eq!(nonces, (1_500..1_512).collect::<Vec<i64>>());
        let report = run.finish();
        let Ok(Outcome::Fetched(f)) = &report.results[0].1 else {
            panic!("{:?}", report.results);
        };
        assert_eq!(f.holdings.len(), 8);
        assert_eq!(f.positions.len(), 2);
    }
}
