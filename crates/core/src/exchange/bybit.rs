//! Bybit (API v5): Unified Trading — or a classic account's Spot and Derivatives wallets —
//! Funding, Earn (Flexible Saving and On-chain) and every position (linear USDT and USDC,
//! inverse, options), from a key checked read-only with `GET /v5/user/query-api`.
//!
//! Signing (Bybit v5 guide, "Authentication"): `X-BAPI-SIGN` = hex HMAC-SHA256(secret,
//! timestamp + API key + recvWindow + query string), sent with `X-BAPI-API-KEY`,
//! `X-BAPI-TIMESTAMP` (the corrected clock) and `X-BAPI-RECV-WINDOW` (10000). Every call
//! here is a GET.
//!
//! Each regional site (Netherlands, Türkiye, Kazakhstan, Georgia, UAE, EEA) and demo trading
//! has its own host and its own keys, so each is its own proxy route and clock. Answers come
//! in Bybit's envelope `{retCode, retMsg, result, retExtInfo, time}`; a rate-limited answer
//! says in `X-Bapi-Limit-Reset-Timestamp` when to try again, measured here against the
//! envelope's own `time` (both on Bybit's clock).

use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::Sha256;

use super::json::Json;
use super::time::{day, parse_iso8601};
use super::{
    hmac_secret_only, usd_prices, ConnectSpec, CredentialField, Endpoint, ErrorKind, Exchange,
    ExchangeError, Fetched, Field, HttpRequest, HttpResponse, Parsed, Part, Problem, Quote, Region,
    Verdict,
};
use crate::portfolio::{Account, Holding, Position, Side};
use crate::records::{Connection, ExchangeId};

pub const RECV_WINDOW: u32 = 10_000;
/// Positions per page: the most Bybit allows.
pub const PAGE_LIMIT: u32 = 200;
/// More pages than this for one category is a loop, not a portfolio.
const MAX_PAGES: u32 = 50;

pub const TIME: &str = "/v5/market/time";
pub const TICKERS: &str = "/v5/market/tickers";
pub const QUERY_API: &str = "/v5/user/query-api";
const WALLET: &str = "/v5/account/wallet-balance";
const FUNDING: &str = "/v5/asset/transfer/query-account-coins-balance";
const EARN: &str = "/v5/earn/position";
const POSITIONS: &str = "/v5/position/list";

const GLOBAL: &str = "bybit";
const DEMO: &str = "bybit-demo";
/// Every Bybit host's proxy route: the global site, the regional sites, demo trading.
const HOSTS: &[&str] = &[
    GLOBAL, "bybit-nl", "bybit-tr", "bybit-kz", "bybit-ge", "bybit-ae", "bybit-eu", DEMO,
];

/// (part, path, query). The first eight are every refresh; the classic wallets are read
/// when the account turns out not to be unified.
const PARTS: [(&str, &str, &str); 10] = [
    ("unified", WALLET, "accountType=UNIFIED"),
    ("funding", FUNDING, "accountType=FUND"),
    ("earn-flexible", EARN, "category=FlexibleSaving"),
    ("earn-onchain", EARN, "category=OnChain"),
    (
        "linear-usdt",
        POSITIONS,
        "category=linear&settleCoin=USDT&limit=200",
    ),
    (
        "linear-usdc",
        POSITIONS,
        "category=linear&settleCoin=USDC&limit=200",
    ),
    ("inverse", POSITIONS, "category=inverse&limit=200"),
    ("option", POSITIONS, "category=option&limit=200"),
    ("classic-contract", WALLET, "accountType=CONTRACT"),
    ("classic-spot", WALLET, "accountType=SPOT"),
];
const EVERY_REFRESH: usize = 8;

const J: Json = Json("Bybit");

const fn region(value: &'static str, label: &'static str, upstream: &'static str) -> Region {
    Region {
        value,
        label,
        upstream,
    }
}

static SPEC: ConnectSpec = ConnectSpec {
    id: ExchangeId::Bybit,
    fields: &[
        CredentialField::API_KEY,
        CredentialField::new(Field::Secret, "API Secret", true),
    ],
    regions: &[
        region("global", "Global (api.bybit.com)", GLOBAL),
        region("nl", "Netherlands (api.bybit.nl)", "bybit-nl"),
        region("tr", "Türkiye (api.bybit.tr)", "bybit-tr"),
        region("kz", "Kazakhstan (api.bybit.kz)", "bybit-kz"),
        region("ge", "Georgia (api.bybitgeorgia.ge)", "bybit-ge"),
        region("ae", "UAE (api.bybit.ae)", "bybit-ae"),
        region("eu", "EEA (api.bybit.eu)", "bybit-eu"),
    ],
    demo: true,
    demo_upstream: Some(DEMO),
    help_title: "How to create a read-only Bybit API key",
    help_steps: &[
        "On the Bybit site of your account, open Account → API → “Create New Key” → “System-generated API Keys” (RSA keys are not supported yet).",
        "Select “Read-Only” and tick Unified Trading (or Contract and Spot), Wallet and Earn.",
        "Optional: bind it to the Holdix proxy's IP address (not yours). Unbound keys expire after 90 days; Holdix warns two weeks ahead.",
        "Paste the API Key and the API Secret (shown once); choose the same site under Region, or “Demo trading key” for a Demo Trading key.",
    ],
    accounts: &[Account::Trading, Account::Funding, Account::Earn],
    time_path: TIME,
    allow: &[],
    read_endpoints: &[],
};

const fn endpoint(upstreams: &'static [&'static str], path: &'static str) -> Endpoint {
    Endpoint {
        upstreams,
        method: "GET",
        path,
    }
}

static ENDPOINTS: [Endpoint; 7] = [
    endpoint(HOSTS, TIME),
    endpoint(&[GLOBAL], TICKERS),
    endpoint(HOSTS, QUERY_API),
    endpoint(HOSTS, WALLET),
    endpoint(HOSTS, FUNDING),
    endpoint(HOSTS, EARN),
    endpoint(HOSTS, POSITIONS),
];

/// Bybit's signature: hex HMAC-SHA256 of timestamp + key + recvWindow + the query string
/// (a GET) or the raw body (a POST).
pub fn sign(
    secret: &str,
    timestamp: i64,
    api_key: &str,
    recv_window: u32,
    payload: &str,
) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}{api_key}{recv_window}{payload}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A cursor from Bybit's answer, made safe to put back in a query: only unreserved
/// characters and `%`-escapes pass as they are, anything else is escaped (a cursor can never
/// add a parameter).
fn query_safe(cursor: &str) -> String {
    let mut out = String::new();
    for b in cursor.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A signed GET at exchange time `now_ms`.
fn signed(
    conn: &Connection,
    upstream: &'static str,
    path: &str,
    query: &str,
    now_ms: i64,
) -> Result<HttpRequest, ExchangeError> {
    hmac_secret_only(
        conn.secret.expose(),
        "On Bybit, create a “System-generated API Keys” (HMAC) key with “Read-Only” and paste its API Secret.",
    )?;
    let signature = sign(
        conn.secret.expose(),
        now_ms,
        &conn.api_key,
        RECV_WINDOW,
        query,
    );
    Ok(HttpRequest {
        upstream,
        method: "GET",
        path_and_query: if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        },
        headers: vec![
            ("X-BAPI-API-KEY", conn.api_key.clone()),
            ("X-BAPI-TIMESTAMP", now_ms.to_string()),
            ("X-BAPI-RECV-WINDOW", RECV_WINDOW.to_string()),
            ("X-BAPI-SIGN", signature),
        ],
        body: String::new(),
    })
}

/// Why an answer is not a result: Bybit's own code (with its message and how long it asked
/// to wait), or a failure before Bybit spoke (HTML, a proxy refusal, an unreadable body).
enum Refusal {
    Code(i64, String, Option<u64>),
    Other(ExchangeError),
}

/// The `result` of a Bybit answer, or why there is none.
fn read(resp: &HttpResponse) -> Result<Value, Refusal> {
    let value: Option<Value> = serde_json::from_str(&resp.body).ok();
    if let Some(code) = value.as_ref().and_then(|v| v.get("retCode")?.as_i64()) {
        let v = value.unwrap_or_default();
        if code == 0 {
            return Ok(v.get("result").cloned().unwrap_or_default());
        }
        // The wait until the limit resets, both times on Bybit's clock.
        let wait = match (resp.limit_reset_ms, v.get("time").and_then(Value::as_i64)) {
            (Some(reset), Some(now)) => Some(u64::try_from(reset - now).unwrap_or(0).max(100)),
            _ => None,
        };
        return Err(Refusal::Code(code, Json::text(&v, "retMsg"), wait));
    }
    if resp.status == 403 {
        // No envelope: Bybit's edge refused the proxy's address (a country Bybit does not
        // serve, or more than 600 requests in 5 seconds).
        let blocked = ["country", "region", "restricted"]
            .iter()
            .any(|w| resp.body.to_ascii_lowercase().contains(w));
        return Err(Refusal::Code(
            if blocked { 10009 } else { 10018 },
            String::new(),
            (!blocked).then_some(600_000),
        ));
    }
    Err(Refusal::Other(J.http_failure(resp, value)))
}

/// The live site of a connection, for messages: "Global (api.bybit.com)".
fn site(conn: &Connection) -> &'static str {
    SPEC.region(conn).map_or("", |r| r.label)
}

/// What a part needs the key to be allowed to read, for 10005.
fn permission_for(part: &str) -> &'static str {
    match part {
        "funding" => "Wallet",
        p if p.starts_with("earn") => "Earn",
        "unified" => "Unified Trading",
        p if p.starts_with("classic") => "Contract and Spot",
        _ => "Positions (under Unified Trading or Contract)",
    }
}

/// Bybit's codes → kind and explanation. `part` is what was asked (for permissions).
pub fn explain(
    conn: &Connection,
    part: &str,
    code: i64,
    msg: &str,
    wait_ms: Option<u64>,
) -> ExchangeError {
    use ErrorKind as K;
    let e = match code {
        10002 => ExchangeError::general(
            K::Clock,
            "Bybit rejected the request time even after Holdix corrected for this device's clock. Set your clock to update automatically, then try again.",
        ),
        10003 | 10007 if conn.options.demo => ExchangeError::new(
            K::WrongEnvironment,
            Field::Demo,
            "Bybit's demo trading does not know this key: demo keys are made under Demo Trading. For a key of your real account, turn “Demo trading key” off.",
        ),
        10003 | 10007 => ExchangeError::new(
            K::WrongEnvironment,
            Field::Region,
            format!(
                "Bybit {} does not know this API key. If your account is on another Bybit site — Netherlands, Türkiye, Kazakhstan, Georgia, UAE or EEA — choose that site here (a demo trading key needs “Demo trading key” on). Otherwise the API Key was not copied completely: copy it again.",
                site(conn)
            ),
        ),
        10004 => ExchangeError::new(
            K::AuthSecret,
            Field::Secret,
            "Signature not valid — the API Secret was copied incorrectly. Copy it again (Bybit shows it only once; if it is lost, create a new key).",
        ),
        10005 => ExchangeError::new(
            K::Permission,
            Field::ApiKey,
            format!(
                "This key may not read {0}. On Bybit, edit the key and tick {0} (it stays read-only), then refresh.",
                permission_for(part)
            ),
        ),
        10006 | 10018 => ExchangeError::general(
            K::RateLimit,
            if wait_ms.is_some_and(|ms| ms >= 60_000) {
                "Bybit blocked the proxy's address for about 10 minutes (too many requests, HTTP 403). Your last snapshot stays on screen."
            } else {
                "Bybit is rate limiting this key or the proxy's address. Holdix waited and retried; wait a minute, then refresh."
            },
        ),
        10009 => ExchangeError::general(
            K::WrongEnvironment,
            "Bybit refuses the Holdix proxy's address (banned, or in a region Bybit does not serve, such as the US or mainland China). Run the proxy elsewhere; your key is fine.",
        ),
        10010 => ExchangeError::new(
            K::Ip,
            Field::ApiKey,
            "This key is bound to IP addresses without the Holdix proxy's. On Bybit, add the proxy's address (not yours) to the key, or remove the binding.",
        ),
        33004 => ExchangeError::new(
            K::AuthKey,
            Field::ApiKey,
            match conn.key_expires_ms {
                Some(ms) => format!("This key expired on {}. Create a new read-only key on Bybit and connect it (then remove this connection).", day(ms)),
                None => "This key has expired. Create a new read-only key on Bybit and connect it (then remove this connection).".into(),
            },
        ),
        10028 => ExchangeError::general(
            K::Unsupported,
            "This Bybit call needs a Unified Trading account.",
        ),
        _ => refused(code, msg),
    };
    e.with_retry_after(wait_ms)
}

/// A code Holdix has no better words for.
fn refused(code: i64, msg: &str) -> ExchangeError {
    ExchangeError::general(
        ErrorKind::Unavailable,
        format!("Bybit refused the request: {msg} (code {code})."),
    )
}

/// A classic (non-unified) account asked for its unified wallet.
fn not_unified(code: i64, msg: &str) -> bool {
    code == 10028 || (code == 10001 && msg.contains("accountType"))
}

fn refusal(conn: &Connection, part: &str, r: Refusal) -> ExchangeError {
    match r {
        Refusal::Code(code, msg, wait) => explain(conn, part, code, &msg, wait),
        Refusal::Other(e) => e,
    }
}

/// The rows of `v[field]` as holdings: `coin`, the first of `amounts` that is given, and
/// Bybit's own `usdValue` where there is one (zero amounts are left out).
fn holdings(
    id: &str,
    account: Account,
    v: &Value,
    field: &str,
    amounts: &[&str],
    out: &mut Vec<Holding>,
) -> Result<(), ExchangeError> {
    for row in J.list(v, Some(field))? {
        let mut amount = Decimal::ZERO;
        for f in amounts {
            if let Some(a) = J.decimal(row, f)? {
                amount = a;
                break;
            }
        }
        if !amount.is_zero() {
            out.push(Holding {
                connection: id.to_string(),
                account,
                asset: Json::text(row, "coin"),
                amount,
                usd: J.decimal(row, "usdValue")?,
            });
        }
    }
    Ok(())
}

/// The coins of wallet-balance: equity per coin (the wallet balance where there is no
/// equity), valued at Bybit's own `usdValue` where given.
fn wallet(
    id: &str,
    account: Account,
    result: &Value,
    out: &mut Vec<Holding>,
) -> Result<(), ExchangeError> {
    for acct in J.list(result, Some("list"))? {
        holdings(id, account, acct, "coin", &["equity", "walletBalance"], out)?;
    }
    Ok(())
}

/// One row of `position/list`; `None` for a flat one.
fn position(conn: &str, kind: &str, p: &Value) -> Result<Option<Position>, ExchangeError> {
    let size = J.amount(p, &["size"])?;
    if size.is_zero() {
        return Ok(None);
    }
    let nonzero = |field: &str| J.decimal(p, field).map(|d| d.filter(|x| !x.is_zero()));
    Ok(Some(Position {
        connection: conn.to_string(),
        kind: kind.to_string(),
        instrument: Json::text(p, "symbol"),
        side: match Json::text(p, "side").as_str() {
            "Sell" => Side::Short,
            "Buy" => Side::Long,
            _ if size.is_sign_negative() => Side::Short,
            _ => Side::Long,
        },
        size: size.abs(),
        entry: nonzero("avgPrice")?,
        mark: nonzero("markPrice")?,
        pnl: J.decimal(p, "unrealisedPnl")?,
        leverage: nonzero("leverage")?,
        liquidation: nonzero("liqPrice")?,
        margin_mode: if Json::text(p, "tradeMode") == "1" {
            "isolated"
        } else {
            "cross"
        }
        .into(),
    }))
}

/// Every answer so far → the connection's holdings and positions, or more to fetch.
fn parse_all(conn: &Connection, answers: &[(Part, HttpResponse)]) -> Result<Parsed, ExchangeError> {
    let id = conn.id.as_str();
    let mut fetched = Fetched::default();
    let mut more = Vec::new();
    let asked = |p: &Part| answers.iter().any(|(q, _)| q == p);
    for (part, resp) in answers {
        let result = match read(resp) {
            Ok(r) => r,
            Err(Refusal::Code(code, msg, _))
                if part.name == "unified" && not_unified(code, &msg) =>
            {
                // A classic account: its Spot and Derivatives (contract) wallets instead.
                for name in ["classic-contract", "classic-spot"] {
                    let p = Part::first(name);
                    if !asked(&p) {
                        more.push(p);
                    }
                }
                fetched.not_enabled.push(Account::Trading);
                continue;
            }
            Err(Refusal::Code(10005, _, _)) if part.name.starts_with("earn") => {
                if !fetched.unreadable.contains(&Account::Earn) {
                    fetched.unreadable.push(Account::Earn);
                }
                continue;
            }
            Err(r) => return Err(refusal(conn, part.name, r)),
        };
        match part.name {
            "unified" => wallet(id, Account::Trading, &result, &mut fetched.holdings)?,
            "classic-contract" => wallet(id, Account::Derivatives, &result, &mut fetched.holdings)?,
            "classic-spot" => wallet(id, Account::Spot, &result, &mut fetched.holdings)?,
            "funding" => holdings(
                id,
                Account::Funding,
                &result,
                "balance",
                &["walletBalance"],
                &mut fetched.holdings,
            )?,
            "earn-flexible" | "earn-onchain" => holdings(
                id,
                Account::Earn,
                &result,
                "list",
                &["amount"],
                &mut fetched.holdings,
            )?,
            _ => {
                let kind = match part.name {
                    "linear-usdt" => "Linear USDT",
                    "linear-usdc" => "Linear USDC",
                    "inverse" => "Inverse",
                    _ => "Option",
                };
                for p in J.list(&result, Some("list"))? {
                    if let Some(position) = position(id, kind, p)? {
                        fetched.positions.push(position);
                    }
                }
                let cursor = Json::text(&result, "nextPageCursor");
                if !cursor.is_empty() && cursor != part.cursor {
                    let next = Part {
                        page: part.page + 1,
                        cursor,
                        ..Part::first(part.name)
                    };
                    if next.page > MAX_PAGES {
                        return Err(J.malformed());
                    }
                    if !asked(&next) {
                        more.push(next);
                    }
                }
            }
        }
    }
    if !more.is_empty() {
        return Ok(Parsed::More(more));
    }
    Ok(Parsed::Done(fetched))
}

/// Every group that lets a key do more than read, with what it allows.
fn powers(permissions: &Value) -> Vec<String> {
    let Some(groups) = permissions.as_object() else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(|(group, allowed)| {
            let allowed: Vec<&str> = allowed
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            (!allowed.is_empty()).then(|| format!("{group} ({})", allowed.join(", ")))
        })
        .collect()
}

/// Read-only means `readOnly == 1`; a key without an IP binding is read-only until
/// `expiredAt`.
pub fn verdict_of(result: &Value) -> Result<Verdict, ExchangeError> {
    let read_only = match result.get("readOnly").and_then(Value::as_i64) {
        Some(flag) => flag == 1,
        None => return Err(J.malformed()),
    };
    if !read_only {
        let powers = powers(result.get("permissions").unwrap_or(&Value::Null));
        let withdraw = powers.iter().any(|p| p.contains("Withdraw"));
        return Ok(Verdict::Refused(Problem {
            field: Field::ApiKey,
            message: format!(
                "This key has read-write permissions{}{} — Holdix will not use it. On Bybit, create a key with “Read-Only” selected and connect that one. Nothing was saved.",
                if powers.is_empty() { String::new() } else { format!(": {}", powers.join("; ")) },
                if withdraw { " (including withdrawals)" } else { "" },
            ),
        }));
    }
    let expires = parse_iso8601(&Json::text(result, "expiredAt"));
    Ok(expires.map_or(Verdict::ReadOnly, Verdict::ReadOnlyUntil))
}

/// Bybit on the [`Exchange`] seam.
pub struct Bybit;

impl Exchange for Bybit {
    fn spec(&self) -> &'static ConnectSpec {
        &SPEC
    }

    fn parse_time(&self, resp: &HttpResponse) -> Result<i64, ExchangeError> {
        let v: Value = serde_json::from_str(&resp.body).map_err(|_| J.http_failure(resp, None))?;
        v.get("time")
            .and_then(Value::as_i64)
            .filter(|t| *t > 0)
            .ok_or_else(|| J.http_failure(resp, Some(v)))
    }

    fn permission_request(
        &self,
        conn: &Connection,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        signed(conn, self.upstream(conn), QUERY_API, "", now_ms)
    }

    fn verdict(&self, conn: &Connection, resp: &HttpResponse) -> Result<Verdict, ExchangeError> {
        match read(resp) {
            Ok(result) => verdict_of(&result),
            Err(r) => Err(refusal(conn, "permission", r)),
        }
    }

    fn parts(&self, _conn: &Connection) -> Vec<Part> {
        PARTS[..EVERY_REFRESH]
            .iter()
            .map(|(name, ..)| Part::first(name))
            .collect()
    }

    fn request(
        &self,
        conn: &Connection,
        part: &Part,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        let (_, path, query) = PARTS
            .iter()
            .find(|(name, ..)| *name == part.name)
            .ok_or_else(|| J.malformed())?;
        let query = if part.cursor.is_empty() {
            query.to_string()
        } else {
            format!("{query}&cursor={}", query_safe(&part.cursor))
        };
        signed(conn, self.upstream(conn), path, &query, now_ms)
    }

    fn parse(
        &self,
        conn: &Connection,
        answers: &[(Part, HttpResponse)],
    ) -> Result<Parsed, ExchangeError> {
        parse_all(conn, answers)
    }

    fn price_requests(&self) -> Vec<HttpRequest> {
        vec![HttpRequest::public_get(
            GLOBAL,
            "/v5/market/tickers?category=spot",
        )]
    }

    fn parse_prices(&self, answers: &[HttpResponse]) -> Result<Vec<Quote>, ExchangeError> {
        let mut pairs = Vec::new();
        for resp in answers {
            let result = read(resp).map_err(|r| match r {
                Refusal::Code(code, msg, _) => refused(code, &msg),
                Refusal::Other(e) => e,
            })?;
            for t in J.list(&result, Some("list"))? {
                if let Some(price) = J.decimal(t, "lastPrice")? {
                    let open = J.decimal(t, "prevPrice24h")?;
                    pairs.push((Json::text(t, "symbol"), price, open));
                }
            }
        }
        Ok(usd_prices(&pairs, &|pair, quote| {
            pair.strip_suffix(quote).filter(|b| !b.is_empty())
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
            id: "y".into(),
            exchange: ExchangeId::Bybit,
            label: "Bybit".into(),
            api_key: "test_api_key".into(),
            secret: Secret::new("test_secret"),
            passphrase: None,
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms: 0,
        }
    }

    fn ok(result: Value) -> HttpResponse {
        HttpResponse::new(
            200,
            json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1_700_000_000_000_i64})
                .to_string(),
        )
    }

    fn code(code: i64, msg: &str) -> HttpResponse {
        HttpResponse::new(
            200,
            json!({"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1_700_000_000_000_i64})
                .to_string(),
        )
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The reference vectors (reference §3.2): a GET query string and a POST body.
    #[test]
    fn signature_matches_the_reference_vectors() {
        assert_eq!(
            sign(
                "test_secret",
                1_700_000_000_000,
                "test_api_key",
                5000,
                "category=linear&symbol=BTCUSDT"
            ),
            "fd4f31228a46109dc6673062328693696df9a96c7ff04e6491a45e7f63a0fdd7"
        );
        assert_eq!(
            sign(
                "test_secret",
                1_700_000_000_000,
                "test_api_key",
                5000,
                r#"{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "test-order-1"}"#
            ),
            "2df4a0603d69c08d5dea29ba85b46eb7db64ce9e9ebd34a7802a3d69700cb2a1"
        );
    }

    #[test]
    fn requests_carry_the_signed_query_and_headers() {
        let req = Bybit
            .request(&conn(), &Part::first("linear-usdt"), 1_700_000_000_000)
            .unwrap();
        let query = "category=linear&settleCoin=USDT&limit=200";
        assert_eq!(req.upstream, "bybit");
        assert_eq!(req.method, "GET");
        assert_eq!(req.path_and_query, format!("/v5/position/list?{query}"));
        assert_eq!(
            req.headers,
            vec![
                ("X-BAPI-API-KEY", "test_api_key".to_string()),
                ("X-BAPI-TIMESTAMP", "1700000000000".into()),
                ("X-BAPI-RECV-WINDOW", "10000".into()),
                (
                    "X-BAPI-SIGN",
                    sign(
                        "test_secret",
                        1_700_000_000_000,
                        "test_api_key",
                        10_000,
                        query
                    )
                ),
            ]
        );
        // The next page: Bybit's cursor goes back as it came; anything that could add a
        // parameter is escaped.
        let page = Part {
            page: 2,
            cursor: "58%3A0%2C58%3A0".into(),
            ..Part::first("inverse")
        };
        let req = Bybit.request(&conn(), &page, 1).unwrap();
        assert!(req
            .path_and_query
            .ends_with("category=inverse&limit=200&cursor=58%3A0%2C58%3A0"));
        let evil = Part {
            page: 2,
            cursor: "x&category=spot#".into(),
            ..Part::first("inverse")
        };
        let req = Bybit.request(&conn(), &evil, 1).unwrap();
        assert!(
            req.path_and_query
                .ends_with("&cursor=x%26category%3Dspot%23"),
            "{}",
            req.path_and_query
        );
        let check = Bybit.permission_request(&conn(), 7).unwrap();
        assert_eq!(check.path_and_query, "/v5/user/query-api");
        assert_eq!(
            check.headers[3].1,
            sign("test_secret", 7, "test_api_key", 10_000, "")
        );
    }

    #[test]
    fn each_site_and_demo_has_its_own_host() {
        let mut c = conn();
        assert_eq!(Bybit.upstream(&c), "bybit");
        for (region, upstream) in [
            ("nl", "bybit-nl"),
            ("tr", "bybit-tr"),
            ("kz", "bybit-kz"),
            ("ge", "bybit-ge"),
            ("ae", "bybit-ae"),
            ("eu", "bybit-eu"),
        ] {
            c.options.region = Some(region.into());
            assert_eq!(Bybit.upstream(&c), upstream);
            assert_eq!(
                Bybit
                    .request(&c, &Part::first("unified"), 1)
                    .unwrap()
                    .upstream,
                upstream
            );
        }
        c.options.demo = true;
        assert_eq!(Bybit.upstream(&c), "bybit-demo");
        let hosts: Vec<&str> = SPEC
            .regions
            .iter()
            .map(|r| r.upstream)
            .chain([DEMO])
            .collect();
        assert_eq!(hosts, HOSTS);
    }

    #[test]
    fn rsa_keys_are_refused_at_the_secret_field_before_any_request() {
        let mut c = conn();
        c.secret =
            Secret::new("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----");
        for e in [
            Bybit.permission_request(&c, 1).unwrap_err(),
            Bybit.request(&c, &Part::first("unified"), 1).unwrap_err(),
        ] {
            assert_eq!(
                (e.kind, e.problem.field),
                (ErrorKind::Unsupported, Field::Secret)
            );
            assert!(e.message().contains("not support"), "{e}");
        }
    }

    /// Every part of a unified account, in the documented shapes.
    fn unified_set() -> Vec<(Part, HttpResponse)> {
        let wallet = json!({"list": [{
            "totalEquity": "22612.2", "accountIMRate": "0", "totalMarginBalance": "22612.2",
            "totalInitialMargin": "0", "accountType": "UNIFIED", "totalAvailableBalance": "22612.2",
            "accountMMRate": "0", "totalPerpUPL": "12.5", "totalWalletBalance": "22599.7",
            "accountLTV": "0", "totalMaintenanceMargin": "0",
            "coin": [
                {"coin": "BTC", "equity": "0.2", "usdValue": "19400.1", "walletBalance": "0.2", "borrowAmount": "", "unrealisedPnl": "0", "locked": "0"},
                {"coin": "USDT", "equity": "3212.1", "usdValue": "3212.1", "walletBalance": "3199.6", "unrealisedPnl": "12.5", "locked": "0"},
                {"coin": "ETH", "equity": "0", "usdValue": "0", "walletBalance": "0"}
            ]
        }]});
        let funding = json!({"accountType": "FUND", "memberId": "1", "balance": [
            {"coin": "USDC", "walletBalance": "150.5", "transferBalance": "150.5", "bonus": "0"},
            {"coin": "XRP", "walletBalance": "0", "transferBalance": "0", "bonus": ""}
        ]});
        let flexible = json!({"list": [{"coin": "USDT", "productId": "428", "amount": "1000", "totalPnl": "1.2", "claimableYield": "0.1"}]});
        let onchain = json!({"list": [{"coin": "ETH", "productId": "7", "amount": "1.5", "totalPnl": "0", "claimableYield": "0"}]});
        let linear = json!({"category": "linear", "nextPageCursor": "", "list": [
            {"symbol": "BTCUSDT", "side": "Buy", "size": "0.01", "avgPrice": "95000", "markPrice": "96250", "unrealisedPnl": "12.5", "leverage": "10", "liqPrice": "", "tradeMode": 0},
            {"symbol": "ETHUSDT", "side": "None", "size": "0", "avgPrice": "0", "markPrice": "3400", "unrealisedPnl": "0", "leverage": "10", "liqPrice": "", "tradeMode": 0}
        ]});
        let empty = json!({"category": "linear", "nextPageCursor": "", "list": []});
        let inverse = json!({"category": "inverse", "nextPageCursor": "", "list": [
            {"symbol": "BTCUSD", "side": "Sell", "size": "500", "avgPrice": "97000", "markPrice": "96250", "unrealisedPnl": "0.00004", "leverage": "2", "liqPrice": "190000", "tradeMode": 1}
        ]});
        [
            ("unified", wallet),
            ("funding", funding),
            ("earn-flexible", flexible),
            ("earn-onchain", onchain),
            ("linear-usdt", linear),
            ("linear-usdc", empty.clone()),
            ("inverse", inverse),
            ("option", empty),
        ]
        .into_iter()
        .map(|(name, result)| (Part::first(name), ok(result)))
        .collect()
    }

    fn done(p: Parsed) -> Fetched {
        match p {
            Parsed::Done(f) => f,
            Parsed::More(parts) => panic!("asked for more: {parts:?}"),
        }
    }

    #[test]
    fn a_unified_account_reads_every_wallet_and_position() {
        assert_eq!(
            Bybit
                .parts(&conn())
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>(),
            [
                "unified",
                "funding",
                "earn-flexible",
                "earn-onchain",
                "linear-usdt",
                "linear-usdc",
                "inverse",
                "option"
            ]
        );
        let f = done(Bybit.parse(&conn(), &unified_set()).unwrap());
        let got: Vec<(Account, &str, Decimal, Option<Decimal>)> = f
            .holdings
            .iter()
            .map(|h| (h.account, h.asset.as_str(), h.amount, h.usd))
            .collect();
        assert_eq!(
            got,
            vec![
                (Account::Trading, "BTC", d("0.2"), Some(d("19400.1"))),
                (Account::Trading, "USDT", d("3212.1"), Some(d("3212.1"))),
                (Account::Funding, "USDC", d("150.5"), None),
                (Account::Earn, "USDT", d("1000"), None),
                (Account::Earn, "ETH", d("1.5"), None),
            ]
        );
        assert_eq!(
            f.positions.len(),
            2,
            "the flat ETHUSDT row is not a position"
        );
        let btc = &f.positions[0];
        assert_eq!(
            (
                btc.kind.as_str(),
                btc.instrument.as_str(),
                btc.side,
                btc.size
            ),
            ("Linear USDT", "BTCUSDT", Side::Long, d("0.01"))
        );
        assert_eq!(
            (btc.entry, btc.mark, btc.pnl, btc.leverage, btc.liquidation),
            (
                Some(d("95000")),
                Some(d("96250")),
                Some(d("12.5")),
                Some(d("10")),
                None
            )
        );
        let inv = &f.positions[1];
        assert_eq!(
            (
                inv.kind.as_str(),
                inv.side,
                inv.size,
                inv.liquidation,
                inv.margin_mode.as_str()
            ),
            (
                "Inverse",
                Side::Short,
                d("500"),
                Some(d("190000")),
                "isolated"
            )
        );
        assert!(f.not_enabled.is_empty() && f.unreadable.is_empty());
    }

    #[test]
    fn positions_follow_the_cursor_to_the_last_page() {
        let mut set = unified_set();
        set[4].1 = ok(
            json!({"category": "linear", "nextPageCursor": "10%3A1%2C10%3A1", "list": [
                {"symbol": "BTCUSDT", "side": "Buy", "size": "0.01", "avgPrice": "95000", "markPrice": "96250", "unrealisedPnl": "12.5", "leverage": "10", "liqPrice": "", "tradeMode": 0}
            ]}),
        );
        let next = Part {
            page: 2,
            cursor: "10%3A1%2C10%3A1".into(),
            ..Part::first("linear-usdt")
        };
        assert_eq!(
            Bybit.parse(&conn(), &set).unwrap(),
            Parsed::More(vec![next.clone()])
        );
        set.push((next, ok(json!({"category": "linear", "nextPageCursor": "", "list": [
            {"symbol": "SOLUSDT", "side": "Sell", "size": "3", "avgPrice": "190", "markPrice": "185", "unrealisedPnl": "15", "leverage": "5", "liqPrice": "260", "tradeMode": 0}
        ]}))));
        let f = done(Bybit.parse(&conn(), &set).unwrap());
        let names: Vec<&str> = f.positions.iter().map(|p| p.instrument.as_str()).collect();
        assert_eq!(names, ["BTCUSDT", "BTCUSD", "SOLUSDT"]);
        // A cursor that repeats itself ends the paging instead of looping.
        let mut looping = unified_set();
        looping[6].1 = ok(json!({"nextPageCursor": "same", "list": []}));
        looping.push((
            Part {
                page: 2,
                cursor: "same".into(),
                ..Part::first("inverse")
            },
            ok(json!({"nextPageCursor": "same", "list": []})),
        ));
        assert!(matches!(
            Bybit.parse(&conn(), &looping),
            Ok(Parsed::Done(_))
        ));
    }

    #[test]
    fn a_classic_account_reads_its_contract_and_spot_wallets() {
        let mut set = unified_set();
        set[0].1 = code(
            10028,
            "The API can only be accessed by unified account users.",
        );
        set[4].1 = ok(json!({"nextPageCursor": "", "list": []}));
        set[6].1 = ok(json!({"nextPageCursor": "", "list": []}));
        let more = Bybit.parse(&conn(), &set).unwrap();
        assert_eq!(
            more,
            Parsed::More(vec![
                Part::first("classic-contract"),
                Part::first("classic-spot")
            ])
        );
        let req = Bybit
            .request(&conn(), &Part::first("classic-contract"), 1)
            .unwrap();
        assert_eq!(
            req.path_and_query,
            "/v5/account/wallet-balance?accountType=CONTRACT"
        );
        set.push((Part::first("classic-contract"), ok(json!({"list": [{"accountType": "CONTRACT", "coin": [{"coin": "BTC", "equity": "0.05", "walletBalance": "0.05", "usdValue": ""}]}]}))));
        set.push((Part::first("classic-spot"), ok(json!({"list": [{"accountType": "SPOT", "coin": [{"coin": "DOGE", "equity": "", "walletBalance": "1000", "free": "1000", "locked": "0"}]}]}))));
        let f = done(Bybit.parse(&conn(), &set).unwrap());
        let got: Vec<(Account, &str, Decimal, Option<Decimal>)> = f
            .holdings
            .iter()
            .map(|h| (h.account, h.asset.as_str(), h.amount, h.usd))
            .collect();
        assert_eq!(
            got,
            vec![
                (Account::Funding, "USDC", d("150.5"), None),
                (Account::Earn, "USDT", d("1000"), None),
                (Account::Earn, "ETH", d("1.5"), None),
                (Account::Derivatives, "BTC", d("0.05"), None),
                (Account::Spot, "DOGE", d("1000"), None),
            ]
        );
        assert_eq!(f.not_enabled, vec![Account::Trading]);
    }

    #[test]
    fn earn_without_permission_is_noted_and_the_rest_kept() {
        let mut set = unified_set();
        set[2].1 = code(
            10005,
            "Permission denied, please check your API key permissions.",
        );
        set[3].1 = code(
            10005,
            "Permission denied, please check your API key permissions.",
        );
        let f = done(Bybit.parse(&conn(), &set).unwrap());
        assert_eq!(f.unreadable, vec![Account::Earn]);
        assert!(f.holdings.iter().all(|h| h.account != Account::Earn));
        assert_eq!(f.holdings.len(), 3);
        // The same code on a wallet that is not optional names the permission to add.
        let mut set = unified_set();
        set[1].1 = code(
            10005,
            "Permission denied, please check your API key permissions.",
        );
        let e = Bybit.parse(&conn(), &set).unwrap_err();
        assert_eq!(
            (e.kind, e.problem.field),
            (ErrorKind::Permission, Field::ApiKey)
        );
        assert!(e.message().contains("Wallet"), "{e}");
    }

    #[test]
    fn empty_strings_and_missing_lists_are_nothing_not_errors() {
        let set: Vec<(Part, HttpResponse)> = Bybit
            .parts(&conn())
            .into_iter()
            .map(|p| {
                (
                    p,
                    ok(json!({"list": [], "balance": null, "nextPageCursor": ""})),
                )
            })
            .collect();
        assert_eq!(
            done(Bybit.parse(&conn(), &set).unwrap()),
            Fetched::default()
        );
        let mut bad = unified_set();
        bad[1].1 = ok(json!({"balance": [{"coin": "BTC", "walletBalance": "1.2.3"}]}));
        let e = Bybit.parse(&conn(), &bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.message().contains("walletBalance"), "{e}");
        bad[1].1 = ok(json!({"balance": {"coin": "BTC"}}));
        assert_eq!(
            Bybit.parse(&conn(), &bad).unwrap_err().kind,
            ErrorKind::Malformed
        );
    }

    /// `query-api` as documented (v5/user/apikey-info).
    fn key_info(read_only: i64, expired_at: &str) -> Value {
        json!({
            "id": "13770661", "note": "holdix", "apiKey": "test_api_key", "readOnly": read_only,
            "secret": "", "permissions": {
                "ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"],
                "Wallet": if read_only == 1 { json!(["AccountTransfer"]) } else { json!(["AccountTransfer", "Withdraw"]) },
                "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [],
                "Exchange": [], "NFT": [], "Earn": ["Earn"]
            },
            "ips": ["*"], "type": 1, "deadlineDay": 10, "expiredAt": expired_at,
            "createdAt": "2026-09-08T07:20:25Z", "unified": 0, "uta": 1, "userID": 24617703,
            "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0,
            "rsaPublicKey": "", "isMaster": true
        })
    }

    #[test]
    fn only_read_only_keys_pass_and_their_expiry_is_kept() {
        let v = Bybit
            .verdict(&conn(), &ok(key_info(1, "2026-12-08T07:20:25Z")))
            .unwrap();
        assert_eq!(
            v,
            Verdict::ReadOnlyUntil(parse_iso8601("2026-12-08T07:20:25Z").unwrap())
        );
        assert_eq!(v.accept().unwrap().expires_ms, Some(1_796_714_425_000));
        // Bound to an IP: no expiry.
        assert_eq!(
            Bybit.verdict(&conn(), &ok(key_info(1, ""))),
            Ok(Verdict::ReadOnly)
        );
        let Verdict::Refused(p) = Bybit.verdict(&conn(), &ok(key_info(0, ""))).unwrap() else {
            panic!("a read-write key passed");
        };
        assert_eq!(p.field, Field::ApiKey);
        for named in [
            "ContractTrade (Order, Position)",
            "Spot (SpotTrade)",
            "Wallet (AccountTransfer, Withdraw)",
            "including withdrawals",
            "Read-Only",
        ] {
            assert!(p.message.contains(named), "{named}: {}", p.message);
        }
        let mut no_flag = key_info(1, "");
        no_flag.as_object_mut().unwrap().remove("readOnly");
        assert_eq!(
            Bybit.verdict(&conn(), &ok(no_flag)).unwrap_err().kind,
            ErrorKind::Malformed
        );
    }

    #[test]
    fn each_code_is_explained_at_its_field() {
        let c = conn();
        let at = |resp: HttpResponse| {
            let e = Bybit.verdict(&c, &resp).unwrap_err();
            (e.kind, e.problem.field, e.problem.message)
        };
        let (k, f, m) = at(code(10003, "API key is invalid."));
        assert_eq!((k, f), (ErrorKind::WrongEnvironment, Field::Region));
        assert!(
            m.contains("Global (api.bybit.com)") && m.contains("another Bybit site"),
            "{m}"
        );
        let mut eu = conn();
        eu.options.region = Some("eu".into());
        let e = Bybit
            .verdict(&eu, &code(10003, "API key is invalid."))
            .unwrap_err();
        assert!(e.message().contains("EEA (api.bybit.eu)"), "{e}");
        let mut demo = conn();
        demo.options.demo = true;
        assert_eq!(
            Bybit
                .verdict(&demo, &code(10003, "API key is invalid."))
                .unwrap_err()
                .problem
                .field,
            Field::Demo
        );
        let kinds = [
            (code(10004, "Error sign, please check your signature generation algorithm."), ErrorKind::AuthSecret, Field::Secret, "Secret"),
            (code(10010, "Unmatched IP, please check your API key's bound IP addresses."), ErrorKind::Ip, Field::ApiKey, "proxy's address"),
            (code(10009, "IP has been banned."), ErrorKind::WrongEnvironment, Field::General, "US or mainland China"),
            (code(33004, "Your api key has expired."), ErrorKind::AuthKey, Field::ApiKey, "Create a new read-only key"),
            (code(10002, "invalid request, please check your server timestamp or recv_window param"), ErrorKind::Clock, Field::General, "clock"),
            (code(10006, "Too many visits!"), ErrorKind::RateLimit, Field::General, "rate limiting"),
            (code(10018, "Exceeded the IP Rate Limit."), ErrorKind::RateLimit, Field::General, "rate limiting"),
            (code(170001, "Internal error."), ErrorKind::Unavailable, Field::General, "Internal error. (code 170001)"),
            (HttpResponse::new(403, "<html>access too frequent</html>"), ErrorKind::RateLimit, Field::General, "about 10 minutes"),
            (HttpResponse::new(403, "<html>The Amazon CloudFront distribution is configured to block access from your country.</html>"), ErrorKind::WrongEnvironment, Field::General, "US or mainland China"),
            (HttpResponse::new(502, "<html>Bad Gateway</html>"), ErrorKind::Unavailable, Field::General, "HTTP 502"),
            (HttpResponse::new(200, r#"{"retCode":0,"retMsg":"OK","result":{"readOn"#), ErrorKind::Malformed, Field::General, "could not read"),
            (HttpResponse::new(400, r#"{"error":"route not allowed"}"#), ErrorKind::Proxy, Field::General, "route not allowed"),
        ];
        for (resp, kind, field, says) in kinds {
            let (k, f, m) = at(resp);
            assert_eq!((k, f), (kind, field), "{m}");
            assert!(m.contains(says), "{says}: {m}");
        }
        // The expiry date Holdix was told at Connect is named.
        let mut expiring = conn();
        expiring.key_expires_ms = parse_iso8601("2026-12-08T07:20:25Z");
        let e = Bybit
            .verdict(&expiring, &code(33004, "Your api key has expired."))
            .unwrap_err();
        assert!(e.message().contains("expired on 2026-12-08"), "{e}");
    }

    #[test]
    fn a_rate_limit_waits_until_bybit_says_it_resets() {
        let mut limited = code(10006, "Too many visits!");
        limited.limit_reset_ms = Some(1_700_000_000_750);
        let e = Bybit
            .parse(&conn(), &[(Part::first("unified"), limited)])
            .unwrap_err();
        assert_eq!(
            (e.kind, e.retry_after_ms),
            (ErrorKind::RateLimit, Some(750))
        );
        let blocked = Bybit
            .verdict(&conn(), &HttpResponse::new(403, "access too frequent"))
            .unwrap_err();
        assert_eq!(blocked.retry_after_ms, Some(600_000));
    }

    #[test]
    fn prices_prefer_the_usdt_pair_then_usdc() {
        let tickers = ok(json!({"category": "spot", "list": [
            {"symbol": "BTCUSDT", "lastPrice": "97000.5", "prevPrice24h": "95000"},
            {"symbol": "BTCUSDC", "lastPrice": "96990"},
            {"symbol": "MNTUSDC", "lastPrice": "0.81"},
            {"symbol": "ETHBTC", "lastPrice": "0.035"},
            {"symbol": "XUSDT", "lastPrice": ""}
        ]}));
        assert_eq!(
            Bybit.parse_prices(&[tickers]).unwrap(),
            vec![
                // prevPrice24h: the price 24 hours ago.
                ("BTC".to_string(), d("97000.5"), Some(d("95000"))),
                ("MNT".to_string(), d("0.81"), None)
            ]
        );
        assert_eq!(
            Bybit.price_requests()[0].path_and_query,
            "/v5/market/tickers?category=spot"
        );
    }

    #[test]
    fn server_time_is_the_envelope_time() {
        let resp = HttpResponse::new(
            200,
            r#"{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1688639403","timeNano":"1688639403423213947"},"retExtInfo":{},"time":1688639403423}"#,
        );
        assert_eq!(Bybit.parse_time(&resp), Ok(1_688_639_403_423));
        assert_eq!(
            Bybit
                .parse_time(&HttpResponse::new(502, "<html>"))
                .unwrap_err()
                .kind,
            ErrorKind::Unavailable
        );
    }

    /// A whole refresh through the shared state machine: a clock error is re-measured and
    /// retried once, and the result is the connection's.
    #[test]
    fn a_refresh_retries_a_clock_error_once() {
        let c = vec![conn()];
        let mut run = Run::refresh(&c, Default::default());
        let mut first = true;
        let steps = drive(&mut run, |req| {
            let path = req.path_and_query.split('?').next().unwrap();
            if first && path == "/v5/account/wallet-balance" {
                first = false;
                return code(
                    10002,
                    "invalid request, please check your server timestamp or recv_window param",
                );
            }
            let set = unified_set();
            let part = match req.path_and_query.split('?').nth(1).unwrap_or("") {
                "accountType=UNIFIED" => "unified",
                "accountType=FUND" => "funding",
                q if q.contains("FlexibleSaving") => "earn-flexible",
                q if q.contains("OnChain") => "earn-onchain",
                q if q.contains("settleCoin=USDT") => "linear-usdt",
                q if q.contains("settleCoin=USDC") => "linear-usdc",
                q if q.contains("inverse") => "inverse",
                q if q.contains("option") => "option",
                _ => {
                    return ok(
                        json!({"category": "spot", "list": [{"symbol": "USDCUSDT", "lastPrice": "1"}]}),
                    )
                }
            };
            set.into_iter().find(|(p, _)| p.name == part).unwrap().1
        });
        assert_eq!(
            steps.first().map(String::as_str),
            Some("clocks [(Bybit, \"bybit\")]")
        );
        assert!(
            steps.iter().filter(|s| s.starts_with("clocks")).count() == 2,
            "{steps:?}"
        );
        let report = run.finish();
        let Ok(Outcome::Fetched(f)) = &report.results[0].1 else {
            panic!("{:?}", report.results);
        };
        assert_eq!(f.holdings.len(), 5);
        assert_eq!(f.positions.len(), 2);
    }
}
