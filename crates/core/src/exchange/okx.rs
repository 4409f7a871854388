//! OKX API v5: request building and signing, response parsing, error explanations.
//!
//! Signing (OKX "Signature"): Base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath +
//! body)), the query being part of requestPath, the timestamp ISO-8601 UTC with milliseconds.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use sha2::Sha256;

use super::time::iso8601_ms;
use super::{
    ConnectSpec, CredentialField, Endpoint, ErrorKind, Exchange, ExchangeError, Fetched, Field,
    HttpRequest, HttpResponse, Parsed, Part, Problem, Quote, Region, Verdict,
};
use crate::portfolio::{Account, Holding, Position, Side};
use crate::records::{Connection, ExchangeId};

pub const CONFIG: &str = "/api/v5/account/config";
pub const BALANCE: &str = "/api/v5/account/balance";
pub const FUNDING: &str = "/api/v5/asset/balances";
pub const SAVINGS: &str = "/api/v5/finance/savings/balance";
pub const POSITIONS: &str = "/api/v5/account/positions";
pub const TIME: &str = "/api/v5/public/time";
pub const TICKERS: &str = "/api/v5/market/tickers?instType=SPOT";

const UPSTREAMS: &[&str] = &["okx", "okx-eea", "okx-us"];

static SPEC: ConnectSpec = ConnectSpec {
    id: ExchangeId::Okx,
    fields: &[
        CredentialField::API_KEY,
        CredentialField::new(Field::Secret, "API Secret", true),
        CredentialField::new(Field::Passphrase, "API Passphrase", true),
    ],
    regions: &[
        Region {
            value: "global",
            label: "Global (www.okx.com)",
            upstream: "okx",
        },
        Region {
            value: "eea",
            label: "EEA (my.okx.com)",
            upstream: "okx-eea",
        },
        Region {
            value: "us",
            label: "US (app.okx.com)",
            upstream: "okx-us",
        },
    ],
    demo: true,
    demo_upstream: None,
    help_title: "How to create a read-only OKX API key",
    help_steps: &[
        "On OKX, open Profile → API and choose “Create API key”.",
        "Set a label such as “Holdix”.",
        "Choose a passphrase of your own (not your OKX password) and keep it: OKX never shows it again.",
        "Under Permissions select “Read” only — not Trade, not Withdraw.",
        "Optional: restrict the key to IP addresses. Requests reach OKX from the Holdix proxy, so allow the proxy's address, not your own.",
        "Confirm with 2FA, then paste the API Key, the Secret Key (shown once) and your passphrase here.",
    ],
    accounts: &[Account::Trading, Account::Funding, Account::Earn],
    time_path: TIME,
    allow: &[],
    read_endpoints: &[],
};

const fn get(path: &'static str) -> Endpoint {
    Endpoint {
        upstreams: UPSTREAMS,
        method: "GET",
        path,
    }
}

static ENDPOINTS: [Endpoint; 7] = [
    get(CONFIG),
    get(BALANCE),
    get(FUNDING),
    get(SAVINGS),
    get(POSITIONS),
    get(TIME),
    get("/api/v5/market/tickers"),
];

/// OKX's request signature.
pub fn sign(
    secret: &str,
    timestamp: &str,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for part in [timestamp, method, path_and_query, body] {
        mac.update(part.as_bytes());
    }
    B64.encode(mac.finalize().into_bytes())
}

/// A signed GET for a connection at `now_ms` (exchange time).
pub fn private_get(
    conn: &Connection,
    path_and_query: &str,
    now_ms: i64,
) -> Result<HttpRequest, OkxError> {
    let passphrase = conn
        .passphrase
        .as_ref()
        .filter(|p| !p.is_empty())
        .ok_or(OkxError::MissingPassphrase)?;
    let timestamp = iso8601_ms(now_ms);
    let signature = sign(conn.secret.expose(), &timestamp, "GET", path_and_query, "");
    let mut headers = vec![
        ("OK-ACCESS-KEY", conn.api_key.clone()),
        ("OK-ACCESS-SIGN", signature),
        ("OK-ACCESS-TIMESTAMP", timestamp),
        ("OK-ACCESS-PASSPHRASE", passphrase.expose().to_string()),
    ];
    if conn.options.demo {
        headers.push(("x-simulated-trading", "1".into()));
    }
    Ok(HttpRequest {
        // The seam's region lookup (global when the region is unknown).
        upstream: Okx.upstream(conn),
        method: "GET",
        path_and_query: path_and_query.to_string(),
        headers,
        body: String::new(),
    })
}

/// What can go wrong talking to OKX.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OkxError {
    #[error("okx requires password credential")]
    MissingPassphrase,
    /// OKX answered with an error code.
    #[error("OKX error {code}: {msg}")]
    Api {
        http: u16,
        code: String,
        msg: String,
    },
    /// No OKX answer: an HTTP error from the exchange's edge or the proxy.
    #[error("HTTP {status}")]
    Http { status: u16, detail: String },
    #[error("unreadable answer: {0}")]
    Malformed(String),
}

impl OkxError {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Worth retrying after a pause (rate limits, busy systems).
    pub fn is_rate_limit(&self) -> bool {
        matches!(self.code(), Some("50011" | "50013"))
            || matches!(
                self,
                Self::Http { status: 429, .. } | Self::Api { http: 429, .. }
            )
    }

    pub fn is_clock(&self) -> bool {
        self.code() == Some("50102")
    }
}

/// One row of OKX's `data`: fields read by name. OKX sends every value as a string; a
/// missing or non-string field reads as `""`, which is how OKX marks fields that do not
/// apply. (Rows are read through `serde_json::Value` rather than one typed struct per
/// endpoint: one deserializer instead of eight keeps the wasm bundle small.)
#[derive(Debug, Clone)]
pub struct Row(serde_json::Map<String, serde_json::Value>);

impl Row {
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).and_then(|v| v.as_str()).unwrap_or("")
    }

    /// A nested array of rows (`details` of the balance).
    fn rows(&self, field: &str) -> Vec<Row> {
        match self.0.get(field) {
            Some(serde_json::Value::Array(items)) => items.iter().filter_map(Row::of).collect(),
            _ => Vec::new(),
        }
    }

    fn of(value: &serde_json::Value) -> Option<Row> {
        value.as_object().cloned().map(Row)
    }
}

/// Parses OKX's envelope `{"code":"0","msg":"","data":[…]}` into rows.
pub fn parse(resp: &HttpResponse) -> Result<Vec<Row>, OkxError> {
    let value: Option<serde_json::Value> = serde_json::from_str(&resp.body).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if let Some(code) = field("code") {
        if code != "0" {
            return Err(OkxError::Api {
                http: resp.status,
                code,
                msg: field("msg").unwrap_or_default(),
            });
        }
        return match value.as_ref().and_then(|v| v.get("data")) {
            None => Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    Row::of(item)
                        .ok_or_else(|| OkxError::Malformed("a data row is not an object".into()))
                })
                .collect(),
            Some(_) => Err(OkxError::Malformed("data is not a list".into())),
        };
    }
    if resp.status >= 400 {
        return Err(OkxError::Http {
            status: resp.status,
            detail: field("error").unwrap_or_default(),
        });
    }
    Err(OkxError::Malformed("the answer is not OKX's JSON".into()))
}

/// `data[0]` of `/account/config`.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub perm: String,
    pub ip: String,
    pub uid: String,
    pub label: String,
}

impl AccountConfig {
    /// OKX's read-only permission is exactly `read_only`.
    pub fn is_read_only(&self) -> bool {
        self.perm.trim() == "read_only"
    }

    /// The extra permissions a refused key has, for the message.
    pub fn extra_permissions(&self) -> Vec<&str> {
        self.perm
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "read_only")
            .collect()
    }
}

/// `""` → `None`; a number → `Some`; anything else is malformed.
fn decimal(field: &str, text: &str) -> Result<Option<Decimal>, OkxError> {
    if text.is_empty() {
        return Ok(None);
    }
    super::json::number(text)
        .map(Some)
        .ok_or_else(|| OkxError::Malformed(format!("{field} is not a number: {text:?}")))
}

fn amount(field: &str, text: &str) -> Result<Decimal, OkxError> {
    Ok(decimal(field, text)?.unwrap_or_default())
}

pub fn parse_config(rows: Vec<Row>) -> Result<AccountConfig, OkxError> {
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| OkxError::Malformed("no account configuration".into()))?;
    Ok(AccountConfig {
        perm: row.get("perm").to_string(),
        ip: row.get("ip").to_string(),
        uid: row.get("uid").to_string(),
        label: row.get("label").to_string(),
    })
}

pub fn parse_server_time(rows: Vec<Row>) -> Result<i64, OkxError> {
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| OkxError::Malformed("no server time".into()))?;
    row.get("ts")
        .parse()
        .map_err(|_| OkxError::Malformed("server time is not a number".into()))
}

/// Trading account (`/account/balance`): `eq` per currency, `eqUsd` when OKX gives it.
pub fn parse_trading(connection: &str, rows: Vec<Row>) -> Result<Vec<Holding>, OkxError> {
    let mut out = Vec::new();
    for data in rows {
        for d in data.rows("details") {
            let amount = amount("eq", d.get("eq"))?;
            if amount.is_zero() {
                continue;
            }
            out.push(Holding {
                connection: connection.into(),
                account: Account::Trading,
                asset: d.get("ccy").to_string(),
                amount,
                usd: decimal("eqUsd", d.get("eqUsd"))?,
            });
        }
    }
    Ok(out)
}

/// Funding account (`/asset/balances`).
pub fn parse_funding(connection: &str, rows: Vec<Row>) -> Result<Vec<Holding>, OkxError> {
    rows_to_holdings(connection, Account::Funding, "bal", rows)
}

/// Simple Earn flexible (`/finance/savings/balance`).
pub fn parse_savings(connection: &str, rows: Vec<Row>) -> Result<Vec<Holding>, OkxError> {
    rows_to_holdings(connection, Account::Earn, "amt", rows)
}

fn rows_to_holdings(
    connection: &str,
    account: Account,
    field: &str,
    rows: Vec<Row>,
) -> Result<Vec<Holding>, OkxError> {
    let mut out = Vec::new();
    for row in rows {
        let amount = amount(field, row.get(field))?;
        if !amount.is_zero() {
            out.push(Holding {
                connection: connection.into(),
                account,
                asset: row.get("ccy").to_string(),
                amount,
                usd: None,
            });
        }
    }
    Ok(out)
}

/// Positions (`/account/positions`).
pub fn parse_positions(connection: &str, rows: Vec<Row>) -> Result<Vec<Position>, OkxError> {
    rows.into_iter()
        .map(|p| {
            let size = amount("pos", p.get("pos"))?;
            let (inst_type, inst_id, pos_ccy) =
                (p.get("instType"), p.get("instId"), p.get("posCcy"));
            let side = match p.get("posSide") {
                "long" => Side::Long,
                "short" => Side::Short,
                // MARGIN: `pos` is positive and `posCcy` names the side (the base is long).
                _ if inst_type == "MARGIN" && !pos_ccy.is_empty() => {
                    if inst_id.starts_with(&format!("{pos_ccy}-")) {
                        Side::Long
                    } else {
                        Side::Short
                    }
                }
                // Net mode: the sign of `pos` is the side.
                _ if size.is_sign_negative() => Side::Short,
                _ => Side::Long,
            };
            Ok(Position {
                connection: connection.into(),
                kind: inst_type.to_string(),
                instrument: inst_id.to_string(),
                side,
                size: size.abs(),
                entry: decimal("avgPx", p.get("avgPx"))?,
                mark: decimal("markPx", p.get("markPx"))?,
                pnl: decimal("upl", p.get("upl"))?,
                leverage: decimal("lever", p.get("lever"))?,
                liquidation: decimal("liqPx", p.get("liqPx"))?,
                margin_mode: p.get("mgnMode").to_string(),
            })
        })
        .collect()
}

/// Spot tickers → last prices by instrument id (`BTC-USDT` → 97000.5).
/// Each ticker's last price and `open24h`, the price 24 hours ago.
pub fn parse_tickers(rows: Vec<Row>) -> Result<Vec<Quote>, OkxError> {
    let mut out = Vec::new();
    for t in rows {
        if let Some(last) = decimal("last", t.get("last"))? {
            let open = decimal("open24h", t.get("open24h"))?;
            out.push((t.get("instId").to_string(), last, open));
        }
    }
    Ok(out)
}

/// The IP OKX reports in a 50110 message ("Your IP 1.2.3.4 is not included …").
fn reported_ip(msg: &str) -> Option<&str> {
    msg.split_whitespace()
        .find(|w| w.contains('.') || w.contains(':'))
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':')
        })
}

/// Turns an OKX error into what the user should read, never raw JSON.
pub fn explain(err: &OkxError) -> Problem {
    let general = |message: String| Problem {
        field: Field::General,
        message,
    };
    match err {
        OkxError::MissingPassphrase => Problem {
            field: Field::Passphrase,
            message: "okx requires password credential — enter the passphrase you set when creating the key".into(),
        },
        OkxError::Api { code, msg, .. } => match code.as_str() {
            "50105" => Problem {
                field: Field::Passphrase,
                message: "Passphrase incorrect — it doesn't match the one you set. If you forgot it, delete the key on OKX and create a new one.".into(),
            },
            "50111" | "50113" | "50114" => Problem {
                field: Field::ApiKey,
                message: "Invalid API key — the key or secret was copied incorrectly. Recreate the key on OKX.".into(),
            },
            "50110" => general(match reported_ip(msg) {
                Some(ip) => format!(
                    "IP restriction — OKX saw this request come from {ip}. That is the address of the Holdix proxy, not your own. Add {ip} to the key's IP whitelist on OKX, or remove the IP restriction."
                ),
                None => "IP restriction — the key is bound to IP addresses that do not include the Holdix proxy's address. Add the proxy's address on OKX, or remove the IP restriction.".into(),
            }),
            "50101" => Problem {
                field: Field::Demo,
                message: "This key belongs to the other environment: a demo-trading key needs “Demo trading key” switched on, a live key needs it off. Toggle “Demo trading key” and connect again.".into(),
            },
            "50102" => general(
                "OKX rejected the request time even after Holdix corrected for this device's clock. Set your clock to update automatically, then try again.".into(),
            ),
            "50011" | "50013" => general(
                "OKX is rate limiting requests. Holdix retried with pauses; wait a minute, then refresh.".into(),
            ),
            "50103" | "50104" | "50106" | "50107" | "50112" => general(format!(
                "OKX did not receive complete credentials (code {code}). Check that the proxy forwards OKX's headers."
            )),
            "50100" => general("This API key is frozen on OKX. Unfreeze it or create a new read-only key.".into()),
            "50120" | "50030" => general(
                "This key lacks the Read permission for this data. Create a read-only key with the Read permission.".into(),
            ),
            _ => general(format!("OKX refused the request: {msg} (code {code}).")),
        },
        OkxError::Http { status: 429, .. } => general(
            "Too many requests — the proxy or OKX is rate limiting. Holdix retried with pauses; wait a minute, then refresh.".into(),
        ),
        OkxError::Http { status: 403, detail } if !detail.is_empty() => {
            general(format!("The proxy refused the request: {detail}."))
        }
        OkxError::Http { status: 504, .. } => general(
            "OKX did not answer in time (HTTP 504). Your last snapshot stays on screen; try Refresh in a minute.".into(),
        ),
        OkxError::Http { status, .. } => general(format!(
            "OKX is unavailable right now (HTTP {status}). Your last snapshot stays on screen; try Refresh in a minute."
        )),
        OkxError::Malformed(_) => general(
            "OKX sent an answer Holdix could not read. Try Refresh; if it keeps happening, the exchange may be having problems.".into(),
        ),
    }
}

/// Why a key with more than read permission is refused.
pub fn refuse_permissions(config: &AccountConfig) -> Problem {
    let extra = config.extra_permissions().join(" and ");
    Problem {
        field: Field::ApiKey,
        message: format!(
            "This key has {extra} permission, so Holdix will not use it. On OKX, create a new API key with only the “Read” permission and connect that one. Nothing was saved."
        ),
    }
}

/// An OKX error as the rest of Holdix sees it: its kind and its explanation.
pub fn error(err: OkxError) -> ExchangeError {
    let kind = match &err {
        OkxError::MissingPassphrase => ErrorKind::Passphrase,
        OkxError::Api { code, .. } => match code.as_str() {
            "50105" => ErrorKind::Passphrase,
            "50111" | "50113" | "50114" => ErrorKind::AuthKey,
            "50110" => ErrorKind::Ip,
            "50101" => ErrorKind::WrongEnvironment,
            "50102" => ErrorKind::Clock,
            "50011" | "50013" => ErrorKind::RateLimit,
            "50100" | "50120" | "50030" => ErrorKind::Permission,
            "50103" | "50104" | "50106" | "50107" | "50112" => ErrorKind::Proxy,
            _ => ErrorKind::Unavailable,
        },
        e if e.is_rate_limit() => ErrorKind::RateLimit,
        OkxError::Http { status: 403, .. } => ErrorKind::Proxy,
        OkxError::Http { .. } => ErrorKind::Unavailable,
        OkxError::Malformed(_) => ErrorKind::Malformed,
    };
    let Problem { field, message } = explain(&err);
    ExchangeError::new(kind, field, message)
}

/// [`parse`], with the answer's `Retry-After` kept on a rate limit.
fn rows(resp: &HttpResponse) -> Result<Vec<Row>, ExchangeError> {
    parse(resp)
        .map_err(|e| error(e).with_retry_after(resp.retry_after_s.map(|s| s.saturating_mul(1000))))
}

/// USD prices from spot tickers: `BASE-USDT`, else `BASE-USDC`.
pub fn usd_prices(tickers: &[Quote]) -> Vec<Quote> {
    super::usd_prices(tickers, &|inst, quote| {
        inst.strip_suffix(quote)?
            .strip_suffix('-')
            .filter(|b| !b.is_empty() && !b.contains('-'))
    })
}

/// OKX on the [`Exchange`] seam.
pub struct Okx;

const PARTS: [(&str, &str); 4] = [
    ("balance", BALANCE),
    ("funding", FUNDING),
    ("savings", SAVINGS),
    ("positions", POSITIONS),
];

impl Exchange for Okx {
    fn spec(&self) -> &'static ConnectSpec {
        &SPEC
    }

    fn parse_time(&self, resp: &HttpResponse) -> Result<i64, ExchangeError> {
        parse_server_time(rows(resp)?).map_err(error)
    }

    fn permission_request(
        &self,
        conn: &Connection,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError> {
        private_get(conn, CONFIG, now_ms).map_err(error)
    }

    fn verdict(&self, _conn: &Connection, resp: &HttpResponse) -> Result<Verdict, ExchangeError> {
        let config = parse_config(rows(resp)?).map_err(error)?;
        Ok(if config.is_read_only() {
            Verdict::ReadOnly
        } else {
            Verdict::Refused(refuse_permissions(&config))
        })
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
        let path = PARTS
            .iter()
            .find(|(name, _)| *name == part.name)
            .map(|(_, path)| *path)
            .ok_or_else(|| ExchangeError::general(ErrorKind::Malformed, "unknown part"))?;
        private_get(conn, path, now_ms).map_err(error)
    }

    fn parse(
        &self,
        conn: &Connection,
        answers: &[(Part, HttpResponse)],
    ) -> Result<Parsed, ExchangeError> {
        let id = conn.id.as_str();
        let mut fetched = Fetched::default();
        for (part, resp) in answers {
            // Each answer is read once: the envelope (and its error), then the rows.
            let rows = rows(resp)?;
            match part.name {
                "balance" => fetched
                    .holdings
                    .extend(parse_trading(id, rows).map_err(error)?),
                "funding" => fetched
                    .holdings
                    .extend(parse_funding(id, rows).map_err(error)?),
                "savings" => fetched
                    .holdings
                    .extend(parse_savings(id, rows).map_err(error)?),
                _ => fetched.positions = parse_positions(id, rows).map_err(error)?,
            }
        }
        Ok(Parsed::Done(fetched))
    }

    fn price_requests(&self) -> Vec<HttpRequest> {
        vec![HttpRequest::public_get("okx", TICKERS)]
    }

    fn parse_prices(&self, answers: &[HttpResponse]) -> Result<Vec<Quote>, ExchangeError> {
        let mut out = Vec::new();
        for resp in answers {
            out.extend(usd_prices(&parse_tickers(rows(resp)?).map_err(error)?));
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
    use crate::records::{ConnectionOptions, ExchangeId, Secret};

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, body)
    }

    /// The rows of a successful answer (its envelope read first, as the module does).
    fn rows_of(status: u16, body: &str) -> Vec<Row> {
        parse(&resp(status, body)).expect("a code 0 envelope")
    }

    fn vector_connection() -> Connection {
        Connection {
            id: "c".into(),
            exchange: ExchangeId::Okx,
            label: "OKX".into(),
            api_key: "985d5b66-57ce-40fb-b714-afc0b9787083".into(),
            secret: Secret::new("chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO"),
            passphrase: Some(Secret::new("1234567890")),
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms: 0,
        }
    }

    /// shared/reference/exchanges.md §1.2.
    #[test]
    fn signature_matches_the_reference_vector() {
        let sig = sign(
            "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO",
            "2020-12-08T09:08:57.715Z",
            "GET",
            "/api/v5/account/balance",
            "",
        );
        assert_eq!(sig, "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k=");
    }

    #[test]
    fn signed_request_carries_the_vector_headers() {
        let req = private_get(&vector_connection(), BALANCE, 1_607_418_537_715).unwrap();
        assert_eq!(req.upstream, "okx");
        assert_eq!(req.path_and_query, "/api/v5/account/balance");
        assert_eq!(
            req.headers,
            vec![
                (
                    "OK-ACCESS-KEY",
                    "985d5b66-57ce-40fb-b714-afc0b9787083".to_string()
                ),
                (
                    "OK-ACCESS-SIGN",
                    "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k=".to_string()
                ),
                (
                    "OK-ACCESS-TIMESTAMP",
                    "2020-12-08T09:08:57.715Z".to_string()
                ),
                ("OK-ACCESS-PASSPHRASE", "1234567890".to_string()),
            ]
        );
    }

    #[test]
    fn demo_and_region_options() {
        let mut conn = vector_connection();
        conn.options = ConnectionOptions {
            region: Some("eea".into()),
            demo: true,
        };
        let req = private_get(&conn, BALANCE, 0).unwrap();
        assert_eq!(req.upstream, "okx-eea");
        assert!(req.headers.contains(&("x-simulated-trading", "1".into())));
        conn.options.region = Some("us".into());
        assert_eq!(Okx.upstream(&conn), "okx-us");
        conn.options.region = None;
        assert_eq!(Okx.upstream(&conn), "okx");
        conn.options.region = Some("mars".into());
        assert_eq!(
            Okx.upstream(&conn),
            "okx",
            "an unknown region falls back to global"
        );
    }

    #[test]
    fn missing_passphrase_is_refused_before_sending() {
        let mut conn = vector_connection();
        conn.passphrase = None;
        assert_eq!(
            private_get(&conn, BALANCE, 0),
            Err(OkxError::MissingPassphrase)
        );
        conn.passphrase = Some(Secret::new(""));
        let err = private_get(&conn, BALANCE, 0).unwrap_err();
        assert_eq!(
            explain(&err),
            Problem {
                field: Field::Passphrase,
                message: "okx requires password credential — enter the passphrase you set when creating the key".into()
            }
        );
    }

    #[test]
    fn usd_prices_prefer_the_usdt_pair_then_usdc() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let prices = usd_prices(&[
            ("BTC-USDT".into(), d("97000.5"), Some(d("95000"))),
            ("BTC-USDC".into(), d("96990"), None),
            ("DOT-USDC".into(), d("6.5"), None),
            ("BTC-USDT-SWAP".into(), d("1"), None),
            ("USDT-EUR".into(), d("0.92"), None),
        ]);
        assert_eq!(
            prices,
            vec![
                ("BTC".into(), d("97000.5"), Some(d("95000"))),
                ("DOT".into(), d("6.5"), None),
                // USDT priced in EUR: the EUR rate, EUR per USD.
                ("USD→EUR".into(), d("0.92"), None)
            ]
        );
    }

    /// The "Get balance" example shape: strings, `""` where a field does not apply.
    #[test]
    fn trading_balance_with_empty_fields() {
        let body = r#"{"code":"0","msg":"","data":[{"totalEq":"41624.32","adjEq":"","details":[
            {"ccy":"USDT","eq":"4992.890093","eqUsd":"4991.89","liab":"","upl":"","cashBal":"4992.89"},
            {"ccy":"OKB","eq":"10","eqUsd":""},
            {"ccy":"ZERO","eq":"0","eqUsd":"0"}]}]}"#;
        let h = parse_trading("c", rows_of(200, body)).unwrap();
        assert_eq!(h.len(), 2, "zero balances are skipped");
        assert_eq!(h[0].amount, "4992.890093".parse::<Decimal>().unwrap());
        assert_eq!(h[0].usd, Some("4991.89".parse().unwrap()));
        assert_eq!(h[1].usd, None, "an empty eqUsd means no exchange valuation");
        assert_eq!(h[0].account, Account::Trading);
    }

    #[test]
    fn funding_savings_and_empty_data() {
        let f = parse_funding("c", rows_of(200, r#"{"code":"0","msg":"","data":[{"ccy":"BTC","bal":"0.0012","frozenBal":"0","availBal":"0.0012"}]}"#)).unwrap();
        assert_eq!(
            (f[0].asset.as_str(), f[0].amount, f[0].account),
            ("BTC", "0.0012".parse().unwrap(), Account::Funding)
        );
        let s = parse_savings("c", rows_of(200, r#"{"code":"0","msg":"","data":[{"ccy":"USDT","amt":"100.5","earnings":"0.01","rate":"0.05","loanAmt":"","pendingAmt":""}]}"#)).unwrap();
        assert_eq!(
            (s[0].amount, s[0].account),
            ("100.5".parse().unwrap(), Account::Earn)
        );
        assert!(
            parse_funding("c", rows_of(200, r#"{"code":"0","msg":"","data":[]}"#))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn positions_sides_in_net_long_short_and_margin_modes() {
        let body = r#"{"code":"0","msg":"","data":[
          {"instType":"SWAP","instId":"ETH-USDT-SWAP","mgnMode":"isolated","posSide":"net","pos":"-5","avgPx":"3500","markPx":"3400.3","upl":"49.85","lever":"3","liqPx":"4550.1"},
          {"instType":"FUTURES","instId":"BTC-USD-251226","mgnMode":"cross","posSide":"long","pos":"3","avgPx":"90000","markPx":"","upl":"","lever":"10","liqPx":""},
          {"instType":"MARGIN","instId":"BTC-USDT","mgnMode":"cross","posSide":"net","pos":"0.5","posCcy":"USDT","avgPx":"90000","markPx":"97000","upl":"1","lever":"3","liqPx":"80000"}]}"#;
        let p = parse_positions("c", rows_of(200, body)).unwrap();
        assert_eq!((p[0].side, p[0].size), (Side::Short, "5".parse().unwrap()));
        assert_eq!(p[0].liquidation, Some("4550.1".parse().unwrap()));
        assert_eq!((p[1].side, p[1].mark, p[1].pnl), (Side::Long, None, None));
        assert_eq!(
            p[2].side,
            Side::Short,
            "MARGIN with posCcy = quote is short"
        );
    }

    #[test]
    fn config_permissions() {
        let c = parse_config(rows_of(
            200,
            r#"{"code":"0","msg":"","data":[{"uid":"1","perm":"read_only","ip":"","label":"x"}]}"#,
        ))
        .unwrap();
        assert!(c.is_read_only());
        let c = parse_config(rows_of(200, r#"{"code":"0","msg":"","data":[{"uid":"1","perm":"read_only,withdraw,trade","ip":""}]}"#)).unwrap();
        assert!(!c.is_read_only());
        assert!(refuse_permissions(&c)
            .message
            .starts_with("This key has withdraw and trade permission"));
    }

    #[test]
    fn server_time_and_tickers() {
        assert_eq!(
            parse_server_time(rows_of(
                200,
                r#"{"code":"0","msg":"","data":[{"ts":"1597026383085"}]}"#
            )),
            Ok(1_597_026_383_085)
        );
        let t = parse_tickers(rows_of(200, r#"{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT","last":"97000.5","open24h":"95000.25","sodUtc0":"96000"},{"instId":"ETH-USDT","last":"3400","open24h":""},{"instId":"X-USDT","last":""}]}"#)).unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            t,
            vec![
                // open24h (not sodUtc0): the price 24 hours ago.
                ("BTC-USDT".to_string(), d("97000.5"), Some(d("95000.25"))),
                ("ETH-USDT".to_string(), d("3400"), None)
            ]
        );
    }

    #[test]
    fn errors_map_to_messages_never_raw_json() {
        let api = |http, code: &str, msg: &str| OkxError::Api {
            http,
            code: code.into(),
            msg: msg.into(),
        };
        let e = parse(&resp(401, r#"{"code":"50105","msg":"Request header \"OK-ACCESS-PASSPHRASE\" incorrect.","data":[]}"#)).unwrap_err();
        assert_eq!(
            e,
            api(
                401,
                "50105",
                "Request header \"OK-ACCESS-PASSPHRASE\" incorrect."
            )
        );
        assert_eq!(explain(&e).field, Field::Passphrase);
        assert!(explain(&e)
            .message
            .starts_with("Passphrase incorrect — it doesn't match the one you set."));
        for code in ["50111", "50113", "50114"] {
            assert_eq!(
                explain(&api(401, code, "")).message,
                "Invalid API key — the key or secret was copied incorrectly. Recreate the key on OKX."
            );
        }
        let ip = explain(&api(
            401,
            "50110",
            "Your IP 127.0.0.1 is not included in your API key's IP whitelist.",
        ));
        assert!(
            ip.message.contains("from 127.0.0.1") && ip.message.contains("Holdix proxy"),
            "{}",
            ip.message
        );
        assert_eq!(explain(&api(401, "50101", "")).field, Field::Demo);
        assert!(explain(&api(401, "50102", "")).message.contains("clock"));
        assert!(api(429, "50011", "").is_rate_limit());
        assert!(explain(&api(429, "50011", ""))
            .message
            .contains("rate limiting"));

        let down = parse(&resp(
            502,
            r#"{"error":"the exchange could not be reached","route":"/x"}"#,
        ))
        .unwrap_err();
        assert!(explain(&down)
            .message
            .starts_with("OKX is unavailable right now (HTTP 502)"));
        let html = parse(&resp(503, "<html>Service unavailable</html>")).unwrap_err();
        assert_eq!(
            html,
            OkxError::Http {
                status: 503,
                detail: String::new()
            }
        );
        let cut = parse(&resp(200, r#"{"code":"0","msg":"","da"#)).unwrap_err();
        assert!(matches!(cut, OkxError::Malformed(_)));
        assert!(!explain(&cut).message.contains('{'));
        let bad_number = parse_funding(
            "c",
            rows_of(
                200,
                r#"{"code":"0","msg":"","data":[{"ccy":"BTC","bal":"1.2.3"}]}"#,
            ),
        );
        assert!(matches!(bad_number, Err(OkxError::Malformed(_))));
    }
}
