//! Binance: spot, funding, Simple Earn (flexible and locked), cross margin, USDⓈ-M and
//! COIN-M futures, checked read-only through `apiRestrictions`.
//!
//! Signing (Binance "SIGNED endpoint security"): `signature` = hex HMAC-SHA256(secret, query
//! string directly followed by the body), sent as the last query parameter, with the key in
//! `X-MBX-APIKEY`, `timestamp` from the corrected clock and `recvWindow` 10000. Every request
//! here carries its parameters in the query (POST bodies stay empty).
//!
//! `LD…` balances on spot mirror Simple Earn flexible positions and are not counted twice.

use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::Sha256;

use super::json::Json;
use super::time::iso8601_ms;
use super::{
    hmac_secret_only, ConnectSpec, CredentialField, Endpoint, ErrorKind, Exchange, ExchangeError,
    Fetched, Field, HttpRequest, HttpResponse, Parsed, Part, Problem, Quote, Region, Verdict,
};
use crate::portfolio::{Account, Holding, Position, Side};
use crate::records::{Connection, ExchangeId};

pub const RECV_WINDOW: u32 = 10_000;
/// Simple Earn pages: the largest size Binance allows.
pub const PAGE_SIZE: u32 = 100;

const SPOT: &str = "binance";
const USDM: &str = "binance-futures";
const COINM: &str = "binance-coinm";

pub const TIME: &str = "/api/v3/time";
/// Every symbol's 24-hour rolling ticker (weight 80 without `symbol`; `type=MINI` leaves out
/// what Holdix does not read): `lastPrice` and `openPrice`, the price 24 hours ago.
pub const TICKERS: &str = "/api/v3/ticker/24hr";
pub const RESTRICTIONS: &str = "/sapi/v1/account/apiRestrictions";

/// (part, host, method, path, fixed parameters)
const PARTS: [(&str, &str, &str, &str, &str); 9] = [
    (
        "spot",
        SPOT,
        "GET",
        "/api/v3/account",
        "omitZeroBalances=true",
    ),
    (
        "funding",
        SPOT,
        "POST",
        "/sapi/v1/asset/get-funding-asset",
        "",
    ),
    (
        "earn-flexible",
        SPOT,
        "GET",
        "/sapi/v1/simple-earn/flexible/position",
        "",
    ),
    (
        "earn-locked",
        SPOT,
        "GET",
        "/sapi/v1/simple-earn/locked/position",
        "",
    ),
    ("margin", SPOT, "GET", "/sapi/v1/margin/account", ""),
    ("futures-balance", USDM, "GET", "/fapi/v3/balance", ""),
    (
        "futures-positions",
        USDM,
        "GET",
        "/fapi/v3/positionRisk",
        "",
    ),
    ("coinm-balance", COINM, "GET", "/dapi/v1/balance", ""),
    ("coinm-positions", COINM, "GET", "/dapi/v1/positionRisk", ""),
];
const PAGED: [&str; 2] = ["earn-flexible", "earn-locked"];

static SPEC: ConnectSpec = ConnectSpec {
    id: ExchangeId::Binance,
    fields: &[
        CredentialField::API_KEY,
        CredentialField::new(Field::Secret, "Secret Key", true),
    ],
    regions: &[Region {
        value: "global",
        label: "Binance.com",
        upstream: SPOT,
    }],
    demo: false,
    demo_upstream: None,
    help_title: "How to create a read-only Binance API key",
    help_steps: &[
        "On Binance, open Account → API Management and choose “Create API”.",
        "Choose “System generated” (an HMAC key); Holdix does not support Ed25519 or RSA keys yet.",
        "Label it “Holdix” and confirm with 2FA.",
        "Leave only “Enable Reading” ticked — no trading, margin, futures, withdrawals or transfers.",
        "Optional: restrict access to trusted IPs. Requests reach Binance from the Holdix proxy, so enter the proxy's address, not your own.",
        "Paste the API Key and the Secret Key (shown once) here.",
    ],
    accounts: &[
        Account::Spot,
        Account::Funding,
        Account::Earn,
        Account::Margin,
        Account::Futures,
        Account::CoinFutures,
    ],
    time_path: TIME,
    allow: &[],
    read_endpoints: &[],
};

const fn endpoint(
    upstream: &'static [&'static str],
    method: &'static str,
    path: &'static str,
) -> Endpoint {
    Endpoint {
        upstreams: upstream,
        method,
        path,
    }
}

static ENDPOINTS: [Endpoint; 12] = [
    endpoint(&[SPOT], "GET", TIME),
    endpoint(&[SPOT], "GET", TICKERS),
    endpoint(&[SPOT], "GET", RESTRICTIONS),
    endpoint(&[SPOT], "GET", "/api/v3/account"),
    endpoint(&[SPOT], "POST", "/sapi/v1/asset/get-funding-asset"),
    endpoint(&[SPOT], "GET", "/sapi/v1/simple-earn/flexible/position"),
    endpoint(&[SPOT], "GET", "/sapi/v1/simple-earn/locked/position"),
    endpoint(&[SPOT], "GET", "/sapi/v1/margin/account"),
    endpoint(&[USDM], "GET", "/fapi/v3/balance"),
    endpoint(&[USDM], "GET", "/fapi/v3/positionRisk"),
    endpoint(&[COINM], "GET", "/dapi/v1/balance"),
    endpoint(&[COINM], "GET", "/dapi/v1/positionRisk"),
];

/// Binance's signature: hex HMAC-SHA256 of the query string followed by the body.
pub fn sign(secret: &str, query: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(query.as_bytes());
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A signed request at exchange time `now_ms`.
pub fn signed(
    conn: &Connection,
    upstream: &'static str,
    method: &'static str,
    path: &str,
    params: &str,
    now_ms: i64,
) -> Result<HttpRequest, ExchangeError> {
    hmac_secret_only(
        conn.secret.expose(),
        "Create a “System generated” (HMAC) API key with only “Enable Reading” and paste its Secret Key.",
    )?;
    let mut query = String::from(params);
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&format!("recvWindow={RECV_WINDOW}&timestamp={now_ms}"));
    let signature = sign(conn.secret.expose(), &query, "");
    Ok(HttpRequest {
        upstream,
        method,
        path_and_query: format!("{path}?{query}&signature={signature}"),
        headers: vec![("X-MBX-APIKEY", conn.api_key.clone())],
        body: String::new(),
    })
}

/// A Binance answer read: JSON, or the error it stands for.
fn json(resp: &HttpResponse) -> Result<Value, ExchangeError> {
    let value: Option<Value> = serde_json::from_str(&resp.body).ok();
    if let Some(Value::Object(o)) = &value {
        if let (Some(code), Some(msg)) = (o.get("code").and_then(Value::as_i64), o.get("msg")) {
            if code != 0 && code != 200 {
                return Err(error(resp.status, code, msg.as_str().unwrap_or(""))
                    .with_retry_after(resp.retry_after_s.map(|s| s.saturating_mul(1000))));
            }
        }
    }
    if resp.status == 418 || resp.status == 429 {
        return Err(error(resp.status, -1003, "")
            .with_retry_after(resp.retry_after_s.map(|s| s.saturating_mul(1000))));
    }
    if resp.status == 451 {
        return Err(error(451, 0, ""));
    }
    match value {
        Some(v) if resp.status < 400 => Ok(v),
        other => Err(J.http_failure(resp, other)),
    }
}

/// `… request ip: 1.2.3.4` (futures hosts) or `IP(1.2.3.4)` (bans).
fn reported_ip(msg: &str) -> Option<&str> {
    let start = msg
        .find("request ip: ")
        .map(|i| i + "request ip: ".len())
        .or_else(|| msg.find("IP(").map(|i| i + 3))?;
    let rest = &msg[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|ip| !ip.is_empty())
}

/// Binance's error codes (and HTTP statuses) → kind and explanation.
pub fn error(http: u16, code: i64, msg: &str) -> ExchangeError {
    use ErrorKind as K;
    match (http, code) {
        (451, _) => ExchangeError::general(
            K::WrongEnvironment,
            "Binance refuses requests from the place where the Holdix proxy runs (HTTP 451, a restricted location such as the US). Run the proxy in another country; nothing is wrong with your key.",
        ),
        (418, _) => {
            let until = msg
                .split("banned until ")
                .nth(1)
                .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|t| t.parse::<i64>().ok())
                .map(|ms| format!(" until {} UTC", &iso8601_ms(ms)[..16].replace('T', " ")))
                .unwrap_or_default();
            ExchangeError::general(
                K::RateLimit,
                format!("Binance has banned the proxy's address{until} for sending too many requests (HTTP 418). Holdix pauses Binance until then; your last snapshot stays on screen."),
            )
        }
        (_, -1003) | (429, _) => ExchangeError::general(
            K::RateLimit,
            "Binance is rate limiting the proxy's address. Holdix waited and retried; wait a minute, then refresh.",
        ),
        (_, -2014) => ExchangeError::new(
            K::AuthKey,
            Field::ApiKey,
            "API key format invalid — the API Key was not copied completely. Copy it again from Binance → API Management.",
        ),
        (_, -2015) => {
            let ip = reported_ip(msg);
            let whitelist = match ip {
                Some(ip) => format!("If the key is restricted to trusted IPs, add {ip} — the Holdix proxy's address, not your own — on Binance."),
                None => "If the key is restricted to trusted IPs, add the Holdix proxy's address (not your own) on Binance.".into(),
            };
            ExchangeError::new(
                K::AuthKey,
                Field::ApiKey,
                format!("Binance refused this key (invalid API key, IP or permissions). Check that the API Key is copied completely and that “Enable Reading” is on. {whitelist}"),
            )
        }
        (_, -1022) => ExchangeError::new(
            K::AuthSecret,
            Field::Secret,
            "Signature not valid — the Secret Key was copied incorrectly. Copy it again (Binance shows it only once; if it is lost, create a new key).",
        ),
        (_, -1021) => ExchangeError::general(
            K::Clock,
            "Binance rejected the request time even after Holdix corrected for this device's clock. Set your clock to update automatically, then try again.",
        ),
        (_, -3003) => ExchangeError::general(K::Permission, "This account has no margin account."),
        (_, code) => ExchangeError::general(
            K::Unavailable,
            format!("Binance refused the request: {msg} (code {code})."),
        ),
    }
}

const J: Json = Json("Binance");

fn holding(conn: &str, account: Account, asset: String, amount: Decimal) -> Holding {
    Holding {
        connection: conn.to_string(),
        account,
        asset,
        amount,
        usd: None,
    }
}

/// The wallets of one connection from every answer so far.
fn parse_all(conn: &Connection, answers: &[(Part, HttpResponse)]) -> Result<Parsed, ExchangeError> {
    let id = conn.id.as_str();
    let mut fetched = Fetched::default();
    let mut more = Vec::new();
    let mut spot = None;
    let mut earn_assets: Vec<String> = Vec::new();
    // Optional accounts: -2015 (futures) or -3003 (margin) while spot works means "not
    // enabled"; decided after spot's own answer was read.
    let mut absent = Vec::new();
    for (part, resp) in answers {
        let value = match json(resp) {
            Ok(v) => v,
            Err(e) => {
                let optional = match part.name {
                    "margin" => Some(Account::Margin),
                    "futures-balance" | "futures-positions" => Some(Account::Futures),
                    "coinm-balance" | "coinm-positions" => Some(Account::CoinFutures),
                    _ => None,
                };
                let refused = matches!(e.kind, ErrorKind::AuthKey | ErrorKind::Permission)
                    && (resp.body.contains("-2015") || resp.body.contains("-3003"));
                match optional {
                    Some(account) if refused => {
                        absent.push(account);
                        continue;
                    }
                    _ => return Err(e),
                }
            }
        };
        match part.name {
            "spot" => spot = Some(value),
            "funding" => {
                for b in J.list(&value, None)? {
                    let amt = J.amount(b, &["free", "locked", "freeze", "withdrawing"])?;
                    if !amt.is_zero() {
                        fetched.holdings.push(holding(
                            id,
                            Account::Funding,
                            Json::text(b, "asset"),
                            amt,
                        ));
                    }
                }
            }
            "earn-flexible" | "earn-locked" => {
                let field = if part.name == "earn-flexible" {
                    "totalAmount"
                } else {
                    "amount"
                };
                for row in J.list(&value, Some("rows"))? {
                    let amt = J.amount(row, &[field])?;
                    let asset = Json::text(row, "asset");
                    if part.name == "earn-flexible" {
                        earn_assets.push(asset.clone());
                    }
                    if !amt.is_zero() {
                        fetched
                            .holdings
                            .push(holding(id, Account::Earn, asset, amt));
                    }
                }
                let total = J.decimal(&value, "total")?.unwrap_or_default();
                let seen = Decimal::from(part.page) * Decimal::from(PAGE_SIZE);
                let next = Part {
                    page: part.page + 1,
                    ..Part::first(part.name)
                };
                let asked = answers.iter().any(|(p, _)| *p == next);
                if total > seen && !asked {
                    more.push(next);
                }
            }
            "margin" => {
                for a in J.list(&value, Some("userAssets"))? {
                    let net = J.amount(a, &["netAsset"])?;
                    if !net.is_zero() {
                        fetched.holdings.push(holding(
                            id,
                            Account::Margin,
                            Json::text(a, "asset"),
                            net,
                        ));
                    }
                }
            }
            "futures-balance" | "coinm-balance" => {
                let account = if part.name == "futures-balance" {
                    Account::Futures
                } else {
                    Account::CoinFutures
                };
                for b in J.list(&value, None)? {
                    let amt = J.amount(b, &["balance", "crossUnPnl"])?;
                    if !amt.is_zero() {
                        fetched
                            .holdings
                            .push(holding(id, account, Json::text(b, "asset"), amt));
                    }
                }
            }
            _ => {
                let kind = if part.name == "futures-positions" {
                    "USDⓈ-M"
                } else {
                    "COIN-M"
                };
                for p in J.list(&value, None)? {
                    if let Some(position) = position(id, kind, p)? {
                        fetched.positions.push(position);
                    }
                }
            }
        }
    }
    if !more.is_empty() {
        return Ok(Parsed::More(more));
    }
    let spot = spot.ok_or_else(|| {
        ExchangeError::general(
            ErrorKind::Malformed,
            "Binance did not answer for the spot wallet.",
        )
    })?;
    for b in J.list(&spot, Some("balances"))? {
        let asset = Json::text(b, "asset");
        // `LDBTC` mirrors BTC in Simple Earn flexible, already counted under Earn.
        if asset
            .strip_prefix("LD")
            .is_some_and(|a| earn_assets.iter().any(|e| e == a))
        {
            continue;
        }
        let amt = J.amount(b, &["free", "locked"])?;
        if !amt.is_zero() {
            fetched
                .holdings
                .push(holding(id, Account::Spot, asset, amt));
        }
    }
    absent.dedup();
    fetched.not_enabled = absent;
    Ok(Parsed::Done(fetched))
}

/// One row of `positionRisk` (USDⓈ-M v3 or COIN-M v1); `None` for a flat one.
fn position(conn: &str, kind: &str, p: &Value) -> Result<Option<Position>, ExchangeError> {
    let size = J.amount(p, &["positionAmt"])?;
    if size.is_zero() {
        return Ok(None);
    }
    let side = match Json::text(p, "positionSide").as_str() {
        "LONG" => Side::Long,
        "SHORT" => Side::Short,
        // One-way mode ("BOTH"): the sign is the side.
        _ if size.is_sign_negative() => Side::Short,
        _ => Side::Long,
    };
    let margin_mode = match Json::text(p, "marginType").as_str() {
        "" => match Json::text(p, "isolatedMargin").as_str() {
            "" | "0" | "0.00000000" => "cross".to_string(),
            _ => "isolated".to_string(),
        },
        m => m.to_string(),
    };
    Ok(Some(Position {
        connection: conn.to_string(),
        kind: kind.to_string(),
        instrument: Json::text(p, "symbol"),
        side,
        size: size.abs(),
        entry: J.decimal(p, "entryPrice")?.filter(|x| !x.is_zero()),
        mark: J.decimal(p, "markPrice")?.filter(|x| !x.is_zero()),
        pnl: J.decimal(p, "unRealizedProfit")?,
        leverage: J.decimal(p, "leverage")?,
        liquidation: J.decimal(p, "liquidationPrice")?.filter(|x| !x.is_zero()),
        margin_mode,
    }))
}

/// Every `enable*`/`permits*` flag that lets a key do more than read.
const POWERS: [(&str, &str); 9] = [
    ("enableSpotAndMarginTrading", "trade spot and margin"),
    ("enableWithdrawals", "withdraw"),
    ("enableInternalTransfer", "transfer between accounts"),
    ("enableMargin", "borrow on margin"),
    ("enableFutures", "trade futures"),
    ("permitsUniversalTransfer", "make universal transfers"),
    ("enableVanillaOptions", "trade options"),
    ("enableFixApiTrade", "trade through FIX"),
    ("enablePortfolioMarginTrading", "trade portfolio margin"),
];

/// Read-only means `enableReading` and nothing else.
pub fn verdict_of(value: &Value) -> Verdict {
    let on = |flag: &str| value.get(flag).and_then(Value::as_bool).unwrap_or(false);
    let powers: Vec<&str> = POWERS
        .iter()
        .filter(|(flag, _)| on(flag))
        .map(|(_, what)| *what)
        .collect();
    if !powers.is_empty() {
        let can_withdraw = on("enableWithdrawals");
        return Verdict::Refused(Problem {
            field: Field::ApiKey,
            message: format!(
                "This key can {}{} — Holdix will not use it. On Binance, create a key with only “Enable Reading” and connect that one. Nothing was saved.",
                powers.join(", "),
                if can_withdraw { " (including withdrawals)" } else { "" },
            )
            .replace("withdraw (including withdrawals)", "withdraw"),
        });
    }
    if !on("enableReading") {
        return Verdict::Refused(Problem {
            field: Field::ApiKey,
            message: "This key cannot read: on Binance, edit it and tick “Enable Reading”, then connect again. Nothing was saved.".into(),
        });
    }
    Verdict::ReadOnly
}

/// USD prices from `ticker/24hr`: the USDT pair, else USDC, else FDUSD, each with its price
/// 24 hours ago.
pub fn usd_prices(value: &Value) -> Result<Vec<Quote>, ExchangeError> {
    let mut pairs = Vec::new();
    for t in J.list(value, None)? {
        if let Some(price) = J.decimal(t, "lastPrice")? {
            let open = J.decimal(t, "openPrice")?;
            pairs.push((Json::text(t, "symbol"), price, open));
        }
    }
    Ok(super::usd_prices(&pairs, &|pair, quote| {
        pair.strip_suffix(quote).filter(|b| !b.is_empty())
    }))
}

/// Binance on the [`Exchange`] seam.
pub struct Binance;

impl Exchange for Binance {
    fn spec(&self) -> &'static ConnectSpec {
        &SPEC
    }

    fn parse_time(&self, resp: &HttpResponse) -> Result<i64, ExchangeError> {
        json(resp)?
            .get("serverTime")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                ExchangeError::general(ErrorKind::Malformed, "Binance sent no server time.")
            })
    }

    fn permission_request(
        &self,
        conn: &Connection,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        signed(conn, SPOT, "GET", RESTRICTIONS, "", now_ms)
    }

    fn verdict(&self, _conn: &Connection, resp: &HttpResponse) -> Result<Verdict, ExchangeError> {
        Ok(verdict_of(&json(resp)?))
    }

    fn parts(&self, _conn: &Connection) -> Vec<Part> {
        PARTS.iter().map(|(name, ..)| Part::first(name)).collect()
    }

    fn request(
        &self,
        conn: &Connection,
        part: &Part,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        let (_, host, method, path, fixed) = PARTS
            .iter()
            .find(|(name, ..)| *name == part.name)
            .ok_or_else(|| ExchangeError::general(ErrorKind::Malformed, "unknown part"))?;
        let params = if PAGED.contains(&part.name) {
            format!("current={}&size={PAGE_SIZE}", part.page)
        } else {
            fixed.to_string()
        };
        signed(conn, host, method, path, &params, now_ms)
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
            SPOT,
            &format!("{TICKERS}?type=MINI"),
        )]
    }

    fn parse_prices(&self, answers: &[HttpResponse]) -> Result<Vec<Quote>, ExchangeError> {
        let mut out = Vec::new();
        for resp in answers {
            out.extend(usd_prices(&json(resp)?)?);
        }
        Ok(out)
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &ENDPOINTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ConnectionOptions, Secret};

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const PARAMS: &str = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";

    fn conn() -> Connection {
        Connection {
            id: "b".into(),
            exchange: ExchangeId::Binance,
            label: "Binance".into(),
            api_key: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A".into(),
            secret: Secret::new(SECRET),
            passphrase: None,
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms: 0,
        }
    }

    fn ok(body: &str) -> HttpResponse {
        HttpResponse::new(200, body)
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// shared/reference/exchanges.md §2.2: the three official examples (body, query, mixed).
    #[test]
    fn signature_matches_the_three_official_examples() {
        let expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        assert_eq!(sign(SECRET, "", PARAMS), expected, "example 1: body");
        assert_eq!(sign(SECRET, PARAMS, ""), expected, "example 2: query");
        assert_eq!(
            sign(
                SECRET,
                "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
                "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            ),
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
            "example 3: mixed"
        );
    }

    #[test]
    fn signed_requests_carry_key_window_timestamp_and_signature_last() {
        let req = Binance
            .request(&conn(), &Part::first("spot"), 1_499_827_319_559)
            .unwrap();
        let query = "omitZeroBalances=true&recvWindow=10000&timestamp=1499827319559";
        assert_eq!(req.upstream, "binance");
        assert_eq!(
            req.path_and_query,
            format!(
                "/api/v3/account?{query}&signature={}",
                sign(SECRET, query, "")
            )
        );
        assert_eq!(req.headers, vec![("X-MBX-APIKEY", conn().api_key)]);
        let page = Binance
            .request(
                &conn(),
                &Part {
                    page: 3,
                    ..Part::first("earn-locked")
                },
                5,
            )
            .unwrap();
        assert!(page
            .path_and_query
            .starts_with("/sapi/v1/simple-earn/locked/position?current=3&size=100&recvWindow=10000&timestamp=5&signature="));
        let futures = Binance
            .request(&conn(), &Part::first("futures-positions"), 5)
            .unwrap();
        assert_eq!(futures.upstream, "binance-futures");
        let coinm = Binance
            .request(&conn(), &Part::first("coinm-balance"), 5)
            .unwrap();
        assert_eq!(coinm.upstream, "binance-coinm");
        let funding = Binance
            .request(&conn(), &Part::first("funding"), 5)
            .unwrap();
        assert_eq!((funding.method, funding.body.as_str()), ("POST", ""));
    }

    #[test]
    fn ed25519_or_rsa_secrets_are_refused_at_the_secret_field() {
        let mut c = conn();
        c.secret = Secret::new(
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----",
        );
        let e = Binance.permission_request(&c, 0).unwrap_err();
        assert_eq!(
            (e.kind, e.problem.field),
            (ErrorKind::Unsupported, Field::Secret)
        );
        assert!(e.message().contains("not support"));
    }

    fn answers(parts: &[(&'static str, &str)]) -> Vec<(Part, HttpResponse)> {
        parts.iter().map(|(n, b)| (Part::first(n), ok(b))).collect()
    }

    const SPOT_BODY: &str = r#"{"canTrade":false,"balances":[
        {"asset":"BTC","free":"0.25","locked":"0.05"},
        {"asset":"LDBTC","free":"0.1","locked":"0"},
        {"asset":"LDO","free":"12","locked":"0"},
        {"asset":"DUST","free":"0","locked":"0"}]}"#;

    fn full_set() -> Vec<(Part, HttpResponse)> {
        answers(&[
            ("spot", SPOT_BODY),
            (
                "funding",
                r#"[{"asset":"USDT","free":"100","locked":"0","freeze":"5","withdrawing":"1","btcValuation":"0"}]"#,
            ),
            (
                "earn-flexible",
                r#"{"rows":[{"asset":"BTC","totalAmount":"0.1","productId":"BTC001"}],"total":1}"#,
            ),
            (
                "earn-locked",
                r#"{"rows":[{"asset":"ETH","amount":"2","positionId":1}],"total":1}"#,
            ),
            (
                "margin",
                r#"{"userAssets":[{"asset":"USDT","free":"0","locked":"0","borrowed":"500","interest":"1","netAsset":"-501"},{"asset":"BNB","free":"3","locked":"0","borrowed":"0","interest":"0","netAsset":"3"}]}"#,
            ),
            (
                "futures-balance",
                r#"[{"asset":"USDT","balance":"1000","crossUnPnl":"-25.5","availableBalance":"900"},{"asset":"BNB","balance":"0","crossUnPnl":"0"}]"#,
            ),
            (
                "futures-positions",
                r#"[
                {"symbol":"BTCUSDT","positionSide":"LONG","positionAmt":"0.01","entryPrice":"90000","markPrice":"97000","unRealizedProfit":"70","liquidationPrice":"60000","marginAsset":"USDT","isolatedMargin":"0"},
                {"symbol":"BTCUSDT","positionSide":"SHORT","positionAmt":"-0.02","entryPrice":"99000","markPrice":"97000","unRealizedProfit":"40","liquidationPrice":"130000","isolatedMargin":"150.5"},
                {"symbol":"ETHUSDT","positionSide":"BOTH","positionAmt":"0","entryPrice":"0","markPrice":"3400","unRealizedProfit":"0","liquidationPrice":"0"}]"#,
            ),
            (
                "coinm-balance",
                r#"[{"asset":"ETH","balance":"1.5","crossUnPnl":"0.01"}]"#,
            ),
            (
                "coinm-positions",
                r#"[{"symbol":"ETHUSD_PERP","positionSide":"BOTH","positionAmt":"-3","entryPrice":"3500","markPrice":"3400","unRealizedProfit":"0.002","liquidationPrice":"5000","leverage":"5","marginType":"cross"}]"#,
            ),
        ])
    }

    fn done(p: Parsed) -> Fetched {
        match p {
            Parsed::Done(f) => f,
            Parsed::More(m) => panic!("more parts asked: {m:?}"),
        }
    }

    #[test]
    fn every_wallet_parses_and_ld_mirrors_are_not_counted_twice() {
        let f = done(Binance.parse(&conn(), &full_set()).unwrap());
        let got: Vec<(Account, &str, Decimal)> = f
            .holdings
            .iter()
            .map(|h| (h.account, h.asset.as_str(), h.amount))
            .collect();
        assert_eq!(
            got,
            vec![
                (Account::Funding, "USDT", d("106")),
                (Account::Earn, "BTC", d("0.1")),
                (Account::Earn, "ETH", d("2")),
                (Account::Margin, "USDT", d("-501")),
                (Account::Margin, "BNB", d("3")),
                (Account::Futures, "USDT", d("974.5")),
                (Account::CoinFutures, "ETH", d("1.51")),
                (Account::Spot, "BTC", d("0.30")),
                // LDO is Lido, not an Earn mirror of "O": kept.
                (Account::Spot, "LDO", d("12")),
            ]
        );
        assert!(f.not_enabled.is_empty());
        let p = &f.positions;
        assert_eq!(p.len(), 3, "the flat ETHUSDT row is not a position");
        assert_eq!(
            (p[0].side, p[0].size, p[0].margin_mode.as_str()),
            (Side::Long, d("0.01"), "cross")
        );
        assert_eq!(
            (p[1].side, p[1].size, p[1].margin_mode.as_str()),
            (Side::Short, d("0.02"), "isolated")
        );
        assert_eq!(
            (p[2].kind.as_str(), p[2].side, p[2].leverage),
            ("COIN-M", Side::Short, Some(d("5")))
        );
        assert_eq!(p[0].kind, "USDⓈ-M");
    }

    #[test]
    fn empty_lists_missing_and_empty_fields() {
        let set = answers(&[
            ("spot", r#"{"balances":[]}"#),
            ("funding", "[]"),
            ("earn-flexible", r#"{"rows":[],"total":0}"#),
            ("earn-locked", r#"{"total":0}"#),
            (
                "margin",
                r#"{"userAssets":[{"asset":"BTC","netAsset":""}]}"#,
            ),
            ("futures-balance", "[]"),
            ("futures-positions", "[]"),
            ("coinm-balance", r#"[{"asset":"BTC"}]"#),
            ("coinm-positions", "[]"),
        ]);
        let f = done(Binance.parse(&conn(), &set).unwrap());
        assert!(f.holdings.is_empty() && f.positions.is_empty());
        let bad = answers(&[(
            "spot",
            r#"{"balances":[{"asset":"BTC","free":"1.2.3","locked":"0"}]}"#,
        )]);
        assert_eq!(
            Binance.parse(&conn(), &bad).unwrap_err().kind,
            ErrorKind::Malformed
        );
    }

    #[test]
    fn earn_pages_are_fetched_until_the_total() {
        let mut set = full_set();
        set[2].1 = ok(r#"{"rows":[{"asset":"BTC","totalAmount":"0.1"}],"total":150}"#);
        let more = Binance.parse(&conn(), &set).unwrap();
        assert_eq!(
            more,
            Parsed::More(vec![Part {
                page: 2,
                ..Part::first("earn-flexible")
            }])
        );
        set.push((
            Part {
                page: 2,
                ..Part::first("earn-flexible")
            },
            ok(r#"{"rows":[{"asset":"SOL","totalAmount":"4"}],"total":150}"#),
        ));
        let f = done(Binance.parse(&conn(), &set).unwrap());
        assert!(f
            .holdings
            .iter()
            .any(|h| h.asset == "SOL" && h.account == Account::Earn));
    }

    #[test]
    fn futures_or_margin_never_enabled_is_not_a_failure() {
        let refused = r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"}"#;
        let mut set = full_set();
        for (part, resp) in set.iter_mut() {
            if part.name.starts_with("coinm") || part.name.starts_with("futures") {
                *resp = HttpResponse::new(401, refused);
            }
            if part.name == "margin" {
                *resp = HttpResponse::new(
                    400,
                    r#"{"code":-3003,"msg":"Margin account does not exist."}"#,
                );
            }
        }
        let f = done(Binance.parse(&conn(), &set).unwrap());
        assert_eq!(
            f.not_enabled,
            vec![Account::Margin, Account::Futures, Account::CoinFutures]
        );
        assert!(f
            .holdings
            .iter()
            .all(|h| matches!(h.account, Account::Spot | Account::Funding | Account::Earn)));
        // Spot refused too: the key itself is the problem.
        set[0].1 = HttpResponse::new(401, refused);
        assert_eq!(
            Binance.parse(&conn(), &set).unwrap_err().kind,
            ErrorKind::AuthKey
        );
    }

    #[test]
    fn permission_verdicts_flag_by_flag() {
        let base = serde_json::json!({
            "ipRestrict": false, "createTime": 1, "enableReading": true,
            "enableSpotAndMarginTrading": false, "enableWithdrawals": false,
            "enableInternalTransfer": false, "enableMargin": false, "enableFutures": false,
            "permitsUniversalTransfer": false, "enableVanillaOptions": false,
            "enableFixApiTrade": false, "enableFixReadOnly": true,
            "enablePortfolioMarginTrading": false
        });
        assert_eq!(
            verdict_of(&base),
            Verdict::ReadOnly,
            "FIX read-only is reading"
        );
        for (flag, what) in POWERS {
            let mut v = base.clone();
            v[flag] = Value::Bool(true);
            match verdict_of(&v) {
                Verdict::Refused(p) => {
                    assert!(
                        p.message.starts_with(&format!("This key can {what}")),
                        "{flag}: {}",
                        p.message
                    );
                    assert_eq!(p.field, Field::ApiKey);
                }
                other => panic!("{flag}: {other:?}"),
            }
        }
        let mut both = base.clone();
        both["enableSpotAndMarginTrading"] = Value::Bool(true);
        both["enableWithdrawals"] = Value::Bool(true);
        let Verdict::Refused(p) = verdict_of(&both) else {
            panic!()
        };
        assert!(
            p.message
                .starts_with("This key can trade spot and margin, withdraw — "),
            "{}",
            p.message
        );
        let mut blind = base;
        blind["enableReading"] = Value::Bool(false);
        assert!(matches!(verdict_of(&blind), Verdict::Refused(_)));
        let resp = ok(r#"{"enableReading":true}"#);
        assert_eq!(Binance.verdict(&conn(), &resp), Ok(Verdict::ReadOnly));
    }

    #[test]
    fn every_documented_error_lands_at_its_field() {
        let e = |status: u16, body: &str| {
            Binance
                .verdict(&conn(), &HttpResponse::new(status, body))
                .unwrap_err()
        };
        let fmt = e(400, r#"{"code":-2014,"msg":"API-key format invalid."}"#);
        assert_eq!(
            (fmt.kind, fmt.problem.field),
            (ErrorKind::AuthKey, Field::ApiKey)
        );
        let ip = e(
            401,
            r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action, request ip: 203.0.113.9"}"#,
        );
        assert_eq!(ip.problem.field, Field::ApiKey);
        assert!(
            ip.message()
                .contains("add 203.0.113.9 — the Holdix proxy's address"),
            "{}",
            ip.message()
        );
        let plain = e(
            401,
            r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}"#,
        );
        assert!(plain
            .message()
            .contains("the Holdix proxy's address (not your own)"));
        let sig = e(
            400,
            r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
        );
        assert_eq!(
            (sig.kind, sig.problem.field),
            (ErrorKind::AuthSecret, Field::Secret)
        );
        let clock = e(
            400,
            r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
        );
        assert_eq!(clock.kind, ErrorKind::Clock);
        let mut limited = HttpResponse::new(429, r#"{"code":-1003,"msg":"Too many requests."}"#);
        limited.retry_after_s = Some(7);
        let rl = Binance.verdict(&conn(), &limited).unwrap_err();
        assert_eq!(
            (rl.kind, rl.retry_after_ms),
            (ErrorKind::RateLimit, Some(7000))
        );
        let ban = e(
            418,
            r#"{"code":-1003,"msg":"Way too many requests; IP(203.0.113.9) banned until 1764324000000. Please use the websocket for live updates to avoid bans."}"#,
        );
        assert_eq!(ban.kind, ErrorKind::RateLimit);
        assert!(
            ban.message().contains("until 2025-11-28 10:00 UTC"),
            "{}",
            ban.message()
        );
        let geo = e(
            451,
            r#"{"code":0,"msg":"Service unavailable from a restricted location according to 'b. Eligibility' in https://www.binance.com/en/terms."}"#,
        );
        assert_eq!(geo.kind, ErrorKind::WrongEnvironment);
        assert!(geo.message().contains("Run the proxy in another country"));
        let html = e(502, "<html><body>Bad gateway</body></html>");
        assert_eq!(html.kind, ErrorKind::Unavailable);
        assert!(!html.message().contains('<'));
        let cut = e(200, r#"{"enableReading":tr"#);
        assert_eq!(cut.kind, ErrorKind::Malformed);
        let proxy = e(
            403,
            r#"{"error":"route not allowed: GET /binance/x","route":"/x"}"#,
        );
        assert_eq!(proxy.kind, ErrorKind::Proxy);
    }

    #[test]
    fn prices_prefer_usdt_then_usdc_then_fdusd() {
        let v: Value = serde_json::from_str(
            r#"[
            {"symbol":"BTCUSDT","lastPrice":"97000.50","openPrice":"95000"},{"symbol":"BTCUSDC","lastPrice":"96990"},
            {"symbol":"BNBFDUSD","lastPrice":"611"},{"symbol":"BNBUSDC","lastPrice":"610","openPrice":"600"},
            {"symbol":"ETHBTC","lastPrice":"0.035"},{"symbol":"WIFFDUSD","lastPrice":"2.1"}]"#,
        )
        .unwrap();
        assert_eq!(
            usd_prices(&v).unwrap(),
            vec![
                ("BNB".into(), d("610"), Some(d("600"))),
                ("BTC".into(), d("97000.50"), Some(d("95000"))),
                ("WIF".into(), d("2.1"), None)
            ]
        );
        assert_eq!(
            Binance.parse_time(&ok(r#"{"serverTime":1499827319559}"#)),
            Ok(1_499_827_319_559)
        );
    }

    /// The refresh with OKX and Binance: both hosts' clocks at once, then one batch; a page
    /// past the first goes in the next batch.
    #[test]
    fn refresh_beside_okx_in_one_batch_and_pages_in_the_next() {
        use super::super::refresh::testing::{conn as test_conn, drive, okx_answer};
        use super::super::refresh::{Clocks, Run};
        let conns = [
            test_conn("o", ExchangeId::Okx, None),
            test_conn("b", ExchangeId::Binance, None),
        ];
        let answer = |req: &HttpRequest| {
            let path = req.path_and_query.split('?').next().unwrap();
            let body = match path {
                p if p.starts_with("/api/v5/") => return okx_answer(req),
                "/api/v3/ticker/24hr" => {
                    r#"[{"symbol":"BTCUSDT","lastPrice":"97100","openPrice":"95100"},{"symbol":"BNBUSDT","lastPrice":"610"}]"#
                }
                "/api/v3/account" => r#"{"balances":[{"asset":"BNB","free":"2","locked":"0"}]}"#,
                "/sapi/v1/simple-earn/locked/position"
                    if req.path_and_query.contains("current=1&") =>
                {
                    r#"{"rows":[{"asset":"ETH","amount":"1"}],"total":101}"#
                }
                "/sapi/v1/simple-earn/locked/position" => {
                    r#"{"rows":[{"asset":"SOL","amount":"5"}],"total":101}"#
                }
                "/sapi/v1/simple-earn/flexible/position" => r#"{"rows":[],"total":0}"#,
                "/sapi/v1/margin/account" => r#"{"userAssets":[]}"#,
                _ => "[]",
            };
            HttpResponse::new(200, body)
        };
        let mut run = Run::refresh(&conns, Clocks::default());
        let steps = drive(&mut run, answer);
        assert_eq!(
            steps,
            vec![
                "clocks [(Okx, \"okx\"), (Binance, \"binance\")]".to_string(),
                "send 15".into(), // 4 OKX + 9 Binance parts + a price request each
                "send 1".into(),  // page 2 of locked earn
                "done".into()
            ]
        );
        let report = run.finish();
        let (prices, notes) = report.prices.resolve();
        assert_eq!(prices.of("BTC"), Some(d("97000")), "OKX's price first");
        assert_eq!(prices.of("BNB"), Some(d("610")));
        assert!(notes.is_empty(), "0.1 % apart");
        let results = report.fetched();
        let b = results[1].1.as_ref().unwrap();
        let earn: Vec<&str> = b
            .holdings
            .iter()
            .filter(|h| h.account == Account::Earn)
            .map(|h| h.asset.as_str())
            .collect();
        assert_eq!(earn, ["ETH", "SOL"]);
    }
}
