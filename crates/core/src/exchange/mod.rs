//! Exchange modules, sans-IO: each turns (credentials, time, what to fetch) into plain
//! [`HttpRequest`]s and turns response bytes into typed data or an [`ExchangeError`]. Only
//! the app sends bytes.
//!
//! **The seam.** Every exchange implements [`Exchange`] and is listed once in [`EXCHANGES`];
//! the app, the Connect dialog and the dashboard use only this trait, picked by
//! [`exchange`] from a connection's [`ExchangeId`]. A trait object (not an enum with a `match`
//! in every method) so that adding an exchange is one module, one registry line and one arm
//! of [`exchange`] (the compiler asks for it), and the
//! generic code (the [`refresh`] orchestration, the app's transport, the dialog) exists once in
//! the wasm. An exchange module supplies:
//! * its [`ConnectSpec`] (credential fields, regions, demo, help steps);
//! * the server-time request and parser (each exchange host has its own clock offset);
//! * the permission request and a [`Verdict`];
//! * the refresh: the [`Part`]s to fetch, a signed request per part, and a parser from the
//!   answers to holdings and positions (asking for more pages where needed);
//! * public price requests and their parser (asset → USD);
//! * an error table from its codes to [`ErrorKind`] and a [`Problem`];
//! * its [`Endpoint`]s, which the proxy's allowlist is tested against.

use rust_decimal::Decimal;

use crate::portfolio::{Account, Holding, Position};
use crate::records::{Connection, ExchangeId};

pub mod binance;
pub mod bybit;
pub mod json;
pub mod okx;
pub mod problem;
pub mod refresh;
pub mod time;
pub mod whitebit;

pub use problem::{expiry_notice, unreadable_notice, ErrorKind, ExchangeError, Field, Problem};

/// A request for the proxy: `{proxy}/{upstream}{path_and_query}`. Its `Debug` shows no
/// header value but `Content-Type`/`Accept` and no body: they carry the API key, the
/// passphrase and signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The proxy's route prefix for the exchange host, e.g. `okx` or `okx-eea`.
    pub upstream: &'static str,
    pub method: &'static str,
    /// Path and query exactly as signed.
    pub path_and_query: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What came back: the HTTP status, the body text, and how long the exchange asked to wait:
/// `Retry-After` seconds, or (Bybit) `X-Bapi-Limit-Reset-Timestamp`, the exchange-clock
/// millisecond its rate limit resets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
    pub retry_after_s: Option<u64>,
    pub limit_reset_ms: Option<i64>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            ..Self::default()
        }
    }
}

impl HttpRequest {
    /// An unsigned GET (server time, tickers).
    pub fn public_get(upstream: &'static str, path_and_query: &str) -> Self {
        Self {
            upstream,
            method: "GET",
            path_and_query: path_and_query.to_string(),
            headers: Vec::new(),
            body: String::new(),
        }
    }
}

/// One endpoint an exchange module calls, on each of these proxy routes: what the proxy
/// must allow, and nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub upstreams: &'static [&'static str],
    pub method: &'static str,
    pub path: &'static str,
}

/// A credential the Connect dialog asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    pub field: Field,
    pub label: &'static str,
    /// Masked in the dialog.
    pub secret: bool,
}

impl CredentialField {
    /// The API key field, the same on every exchange.
    pub const API_KEY: Self = Self::new(Field::ApiKey, "API Key", false);

    pub const fn new(field: Field, label: &'static str, secret: bool) -> Self {
        Self {
            field,
            label,
            secret,
        }
    }
}

/// A regional site: the value stored on the connection, the label, the proxy route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub value: &'static str,
    pub label: &'static str,
    pub upstream: &'static str,
}

/// What the Connect dialog renders for an exchange.
#[derive(Debug, Clone, Copy)]
pub struct ConnectSpec {
    pub id: ExchangeId,
    /// Fields in dialog order; [`Field::ApiKey`] and [`Field::Secret`] always, a passphrase
    /// where the exchange has one.
    pub fields: &'static [CredentialField],
    /// The first is the default ("global").
    pub regions: &'static [Region],
    /// Offers a "Demo trading key" switch.
    pub demo: bool,
    /// The proxy route demo keys use, where demo trading has a host of its own (Bybit);
    /// `None`: the region's host (OKX marks demo requests with a header instead).
    pub demo_upstream: Option<&'static str>,
    pub help_title: &'static str,
    pub help_steps: &'static [&'static str],
    /// The accounts this exchange has, in dashboard order.
    pub accounts: &'static [Account],
    /// The public server-time path (on every region's host).
    pub time_path: &'static str,
    /// What to allow on a key so that it may read an optional account (for the dashboard's
    /// note on an unreadable account); an account not listed: "reading <account>".
    pub allow: &'static [(Account, &'static str)],
    /// Where the exchange cannot report what a key may do (WhiteBIT): the read endpoints to
    /// restrict the key to. The dialog says so and lists them; empty for other exchanges.
    pub read_endpoints: &'static [&'static str],
}

impl ConnectSpec {
    pub fn needs(&self, field: Field) -> bool {
        self.fields.iter().any(|f| f.field == field)
    }

    /// The connection's regional site (the first, "global", when it names none or one this
    /// exchange does not have).
    pub fn region(&self, conn: &Connection) -> Option<&'static Region> {
        self.regions
            .iter()
            .find(|r| conn.options.region.as_deref() == Some(r.value))
            .or(self.regions.first())
    }
}

/// What the exchange says a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    ReadOnly,
    /// Read-only until this Unix millisecond (keys that expire, as Bybit's without an IP
    /// binding).
    ReadOnlyUntil(i64),
    /// More than reading: refused, with what the key can do.
    Refused(Problem),
    /// The exchange cannot tell (the key did read): accepted; the Connect dialog said so
    /// beforehand ([`ConnectSpec::read_endpoints`]).
    Unknown,
}

impl Verdict {
    /// The one place that decides which keys Holdix uses: read-only ones, and those whose
    /// exchange cannot report permissions (said so to the user).
    pub fn accept(self) -> Result<Accepted, ExchangeError> {
        match self {
            Self::ReadOnly | Self::Unknown => Ok(Accepted::default()),
            Self::ReadOnlyUntil(ms) => Ok(Accepted {
                expires_ms: Some(ms),
            }),
            Self::Refused(problem) => Err(ExchangeError {
                kind: ErrorKind::Permission,
                retry_after_ms: None,
                problem,
            }),
        }
    }
}

/// A key Holdix uses: when it expires, where the exchange says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    pub expires_ms: Option<i64>,
}

/// One thing to fetch for a connection (a wallet, a page of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: &'static str,
    pub page: u32,
    /// Where the page starts, for exchanges that page by an opaque cursor (empty: the start).
    pub cursor: String,
}

impl Part {
    pub const fn first(name: &'static str) -> Self {
        Self {
            name,
            page: 1,
            cursor: String::new(),
        }
    }
}

/// What one connection holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub holdings: Vec<Holding>,
    pub positions: Vec<Position>,
    /// Accounts the user never enabled on the exchange (not a failure).
    pub not_enabled: Vec<Account>,
    /// Accounts this key may not read (the rest is shown; the user can add the permission).
    pub unreadable: Vec<Account>,
}

/// The parser's answer: everything, or more parts (pages) to fetch first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Done(Fetched),
    More(Vec<Part>),
}

/// One exchange, sans-IO. See the module documentation.
pub trait Exchange: Sync {
    fn spec(&self) -> &'static ConnectSpec;

    fn id(&self) -> ExchangeId {
        self.spec().id
    }

    fn name(&self) -> &'static str {
        self.spec().id.name()
    }

    /// The proxy route of the connection's host; also the key of its clock offset.
    fn upstream(&self, conn: &Connection) -> &'static str {
        let spec = self.spec();
        match spec.demo_upstream {
            Some(demo) if conn.options.demo => demo,
            _ => spec.region(conn).map_or("", |r| r.upstream),
        }
    }

    /// The server-time request for a host.
    fn time_request(&self, upstream: &'static str) -> HttpRequest {
        HttpRequest::public_get(upstream, self.spec().time_path)
    }
    fn parse_time(&self, resp: &HttpResponse) -> Result<i64, ExchangeError>;

    /// The signed request that reports the key's permissions.
    fn permission_request(
        &self,
        conn: &Connection,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError>;
    fn verdict(&self, conn: &Connection, resp: &HttpResponse) -> Result<Verdict, ExchangeError>;

    /// What a refresh fetches first.
    fn parts(&self, conn: &Connection) -> Vec<Part>;
    /// The signed request for one part at exchange time `now_ms`.
    fn request(
        &self,
        conn: &Connection,
        part: &Part,
        now_ms: i64,
    ) -> Result<HttpRequest, ExchangeError>;
    /// Every answer so far for this connection, in request order.
    fn parse(
        &self,
        conn: &Connection,
        answers: &[(Part, HttpResponse)],
    ) -> Result<Parsed, ExchangeError>;

    /// Public price requests (global host).
    fn price_requests(&self) -> Vec<HttpRequest>;
    /// USD prices by asset from the answers to [`Exchange::price_requests`].
    fn parse_prices(&self, answers: &[HttpResponse]) -> Result<Vec<Quote>, ExchangeError>;

    /// Every endpoint this module calls, on every host.
    fn endpoints(&self) -> &'static [Endpoint];
}

/// The exchanges Holdix supports, in the order they are offered (and trusted for prices).
pub static EXCHANGES: &[&dyn Exchange] = &[
    &okx::Okx,
    &binance::Binance,
    &bybit::Bybit,
    &whitebit::Whitebit,
];

/// The module for a connection's exchange (every exchange Holdix knows has one).
pub fn exchange(id: ExchangeId) -> &'static dyn Exchange {
    match id {
        ExchangeId::Okx => &okx::Okx,
        ExchangeId::Binance => &binance::Binance,
        ExchangeId::Bybit => &bybit::Bybit,
        ExchangeId::Whitebit => &whitebit::Whitebit,
    }
}

/// An Ed25519 or RSA private key pasted where an HMAC secret belongs: not supported yet.
/// `advice` says which key to create instead.
pub fn hmac_secret_only(secret: &str, advice: &str) -> Result<(), ExchangeError> {
    if secret.contains("-----BEGIN") || secret.contains("PRIVATE KEY") || secret.contains('\n') {
        return Err(ExchangeError::new(
            ErrorKind::Unsupported,
            Field::Secret,
            format!("This is an Ed25519 or RSA private key: Holdix does not support those keys yet. {advice}"),
        ));
    }
    Ok(())
}

/// USD prices from (pair, price) rows: each asset's USDT pair, else its USDC pair, else its
/// FDUSD pair. `base_of(pair, quote)` is the asset `pair` prices in `quote`, if it does.
/// (A `dyn` callback: one copy of this loop in the bundle for every exchange.)
#[inline(never)]
pub fn usd_prices<'p>(
    pairs: &'p [Quote],
    base_of: &dyn Fn(&'p str, &str) -> Option<&'p str>,
) -> Vec<Quote> {
    let mut best: Vec<(&str, usize, Decimal, Option<Decimal>)> = Vec::new();
    let mut fx = Vec::new();
    for (pair, price, open) in pairs {
        // USDT priced in a fiat currency: that currency's rate per USD.
        for fiat in crate::currency::FIATS {
            if base_of(pair, fiat) == Some("USDT") {
                fx.push((crate::currency::fx_key(fiat), *price, None));
            }
        }
        for (rank, quote) in ["USDT", "USDC", "FDUSD"].iter().enumerate() {
            if let Some(base) = base_of(pair, quote) {
                match best.iter_mut().find(|(a, ..)| *a == base) {
                    Some(entry) if rank < entry.1 => *entry = (base, rank, *price, *open),
                    Some(_) => {}
                    None => best.push((base, rank, *price, *open)),
                }
                break;
            }
        }
    }
    crate::sort::by(&mut best, &|a, b| a.0.cmp(b.0));
    best.into_iter()
        .map(|(a, _, p, o)| (a.to_string(), p, o))
        .chain(fx)
        .collect()
}

/// A quote: (pair or asset, last price, the price 24 hours ago when the exchange says).
pub type Quote = (String, Decimal, Option<Decimal>);

/// Stablecoins counted at 1 USD.
pub fn is_usd_stable(asset: &str) -> bool {
    matches!(asset, "USDT" | "USDC" | "USD" | "FDUSD")
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = name.eq_ignore_ascii_case("content-type")
                    || name.eq_ignore_ascii_case("accept");
                (*name, if shown { value.as_str() } else { "<redacted>" })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("upstream", &self.upstream)
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_header_value_or_body() {
        let req = HttpRequest {
            upstream: "okx",
            method: "GET",
            path_and_query: "/api/v5/account/balance".into(),
            headers: vec![
                ("OK-ACCESS-KEY", "key-value-123".into()),
                ("OK-ACCESS-PASSPHRASE", "my passphrase".into()),
                ("OK-ACCESS-SIGN", "c2lnbmF0dXJl".into()),
                ("Content-Type", "application/json".into()),
            ],
            body: "{\"request\":\"nonce-body\"}".into(),
        };
        let printed = format!("{req:?}");
        for secret in [
            "key-value-123",
            "my passphrase",
            "c2lnbmF0dXJl",
            "nonce-body",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("OK-ACCESS-PASSPHRASE"));
        assert!(printed.contains("application/json"));
        assert!(printed.contains("/api/v5/account/balance"));
    }

    #[test]
    fn every_supported_exchange_is_found_by_its_id() {
        for e in EXCHANGES {
            assert_eq!(exchange(e.id()).id(), e.id());
            assert!(e.spec().needs(Field::ApiKey) && e.spec().needs(Field::Secret));
            assert!(!e.spec().regions.is_empty());
        }
        assert_eq!(exchange(ExchangeId::Bybit).name(), "Bybit");
        assert_eq!(EXCHANGES.len(), 4, "every exchange is offered");
    }
}
