//! `holdix-sim`: plays the exchanges' private read APIs as they document them, for tests,
//! benchmarks and the demo. Accounts and keys come from a JSON [`Fixture`]; faults (latency,
//! 5xx, malformed JSON, clock offset, forced rate limit) from the fixture, flags, or the
//! control endpoints under `/__sim/` at run time:
//!
//! * `GET /__sim/stats`: requests received so far, per path, and the last request's headers.
//! * `PUT /__sim/faults`: replace the fault settings (JSON [`Faults`]).
//! * `POST /__sim/reset`: zero the statistics and the rate-limit windows, and forget what
//!   WhiteBIT remembers of its keys (nonces, keys it disabled).
//!
//! Each exchange is mounted under its own prefix (`/okx/…`, `/binance/…`, and one per Bybit
//! site: `/bybit/…`, `/bybit-eu/…`, …, `/whitebit/…` and `/whitebit-eu/…`): the proxy's upstream for an exchange family or host is
//! `http://SIM/{prefix}` (the fixture's `upstreams` lists them, and `cargo xtask` and the
//! tests read it from there).
//!
//! Authentication is verified with this crate's own code, written from each exchange's
//! specification ([`okx`], [`binance`], [`bybit`], [`whitebit`]), never with the app's
//! signer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub mod binance;
pub mod bybit;
pub mod client;
pub mod okx;
pub mod whitebit;

/// The sample portfolio behind `cargo xtask run --demo` and the end-to-end tests.
pub const DEMO_FIXTURE: &str = include_str!("../fixtures/demo.json");

/// Accounts, keys and default faults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fixture {
    /// The exchange families the simulator plays, each mounted at `/{family}`.
    #[serde(default)]
    pub upstreams: Vec<String>,
    #[serde(default)]
    pub okx: okx::OkxFixture,
    #[serde(default)]
    pub binance: binance::BinanceFixture,
    #[serde(default)]
    pub bybit: bybit::BybitFixture,
    #[serde(default)]
    pub whitebit: whitebit::WhitebitFixture,
    #[serde(default)]
    pub faults: Faults,
}

impl Fixture {
    pub fn demo() -> Self {
        serde_json::from_str(DEMO_FIXTURE).expect("the demo fixture parses")
    }
}

/// Injected faults, for the app's error paths and for benchmarks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Answer every exchange request with this HTTP status (e.g. 502) and an error page.
    pub status: Option<u16>,
    /// Answer every exchange request with a truncated JSON body.
    pub malformed_json: bool,
    /// Added to the simulator's clock (server time and timestamp checks), in milliseconds.
    pub clock_offset_ms: i64,
    /// Answer every private request with the exchange's rate-limit error.
    pub force_rate_limit: bool,
    /// Enforce the documented per-endpoint rate limits.
    pub rate_limits: bool,
    /// With `status` (429 or 418, as Binance answers an over-limit or banned IP): the
    /// `Retry-After` seconds sent with it.
    pub retry_after_secs: Option<u64>,
    /// The market moved: every ticker price (and WhiteBIT's collateral values, which the
    /// simulator derives from them) is this many percent above the fixture's (negative:
    /// below). Exchanges' own USD values in the fixture stay. For history tests.
    pub price_move_percent: i64,
    /// Of every 100 exchange requests, about this many get a random failure: an HTTP 503
    /// error page, no answer for [`Faults::chaos_hang_ms`] (a timeout), the 429 rate-limit
    /// page with `Retry-After: 1`, or truncated JSON. For the soak in `cargo xtask bench`.
    pub chaos_percent: u8,
    /// How long a "timeout" failure keeps the request waiting (longer than the proxy's
    /// upstream timeout), in milliseconds.
    pub chaos_hang_ms: u64,
}

/// One of [`Faults::chaos_percent`]'s failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chaos {
    ServerError,
    Hang,
    RateLimited,
    Malformed,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            status: None,
            malformed_json: false,
            clock_offset_ms: 0,
            force_rate_limit: false,
            rate_limits: true,
            retry_after_secs: None,
            price_move_percent: 0,
            chaos_percent: 0,
            chaos_hang_ms: 2_000,
        }
    }
}

/// `price` moved by `percent` (see [`Faults::price_move_percent`]), exactly.
pub fn moved(price: rust_decimal::Decimal, percent: i64) -> rust_decimal::Decimal {
    let factor = rust_decimal::Decimal::from(100 + percent) / rust_decimal::Decimal::ONE_HUNDRED;
    (price * factor).normalize()
}

/// Ticker rows with their price `fields` moved by the current [`Faults::price_move_percent`].
pub fn move_prices<'a>(
    sim: &Sim,
    rows: impl IntoIterator<Item = &'a serde_json::Value>,
    fields: &[&str],
) -> Vec<serde_json::Value> {
    let percent = sim.faults().price_move_percent;
    rows.into_iter()
        .map(|row| {
            let mut row = row.clone();
            for field in fields {
                let price = row[*field].as_str().and_then(|p| p.parse().ok());
                if let Some(price) = price.filter(|_| percent != 0) {
                    row[*field] = moved(price, percent).to_string().into();
                }
            }
            row
        })
        .collect()
}

/// What the simulator has seen, for tests that check what reached an exchange.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub requests: u64,
    pub by_path: BTreeMap<String, u64>,
    /// Header names and values of the last exchange request, names lower-case.
    pub last_headers: Vec<(String, String)>,
    /// Method, path and query of the last exchange request.
    pub last_request: String,
    /// Body of the last exchange request.
    pub last_body: String,
}

pub struct Sim {
    pub fixture: Fixture,
    faults: RwLock<Faults>,
    stats: Mutex<Stats>,
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    weights: Mutex<HashMap<String, VecDeque<(Instant, usize)>>>,
    whitebit: Mutex<WhitebitKeys>,
    dice: std::sync::atomic::AtomicU64,
}

/// What WhiteBIT remembers of its keys: the ones it disabled, the last increasing nonce,
/// the `nonceWindow` nonces used within the window.
#[derive(Default)]
struct WhitebitKeys {
    disabled: std::collections::HashSet<String>,
    last_nonce: HashMap<String, i64>,
    window_nonces: HashMap<String, VecDeque<i64>>,
}

pub type SharedSim = Arc<Sim>;

impl Sim {
    pub fn new(fixture: Fixture) -> SharedSim {
        Arc::new(Self {
            faults: RwLock::new(fixture.faults.clone()),
            fixture,
            stats: Mutex::default(),
            windows: Mutex::default(),
            weights: Mutex::default(),
            whitebit: Mutex::default(),
            dice: std::sync::atomic::AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        })
    }

    /// The failure for this request, if [`Faults::chaos_percent`] picks one (a fixed
    /// xorshift sequence: a run can be repeated).
    fn chaos(&self, percent: u8) -> Option<Chaos> {
        if percent == 0 {
            return None;
        }
        let mut x = self.dice.load(std::sync::atomic::Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.dice.store(x, std::sync::atomic::Ordering::Relaxed);
        if x % 100 >= u64::from(percent) {
            return None;
        }
        Some(match (x / 100) % 4 {
            0 => Chaos::ServerError,
            1 => Chaos::Hang,
            2 => Chaos::RateLimited,
            _ => Chaos::Malformed,
        })
    }

    fn whitebit_keys(&self) -> std::sync::MutexGuard<'_, WhitebitKeys> {
        self.whitebit.lock().expect("whitebit lock")
    }

    /// Whether WhiteBIT disabled this key while the simulator ran.
    pub fn whitebit_disabled(&self, api_key: &str) -> bool {
        self.whitebit_keys().disabled.contains(api_key)
    }

    pub fn disable_whitebit_key(&self, api_key: &str) {
        self.whitebit_keys().disabled.insert(api_key.to_string());
    }

    /// Spends a WhiteBIT nonce: with `window`, one not used since `oldest_ms`; without, one
    /// greater than the key's last. False if it may not be used.
    pub fn take_whitebit_nonce(
        &self,
        api_key: &str,
        nonce: i64,
        window: bool,
        oldest_ms: i64,
    ) -> bool {
        let mut keys = self.whitebit_keys();
        if window {
            let used = keys.window_nonces.entry(api_key.to_string()).or_default();
            used.retain(|n| *n >= oldest_ms);
            if used.contains(&nonce) {
                return false;
            }
            used.push_back(nonce);
            return true;
        }
        let last = keys
            .last_nonce
            .entry(api_key.to_string())
            .or_insert(i64::MIN);
        if nonce <= *last {
            return false;
        }
        *last = nonce;
        true
    }

    pub fn faults(&self) -> Faults {
        self.faults.read().expect("faults lock").clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.write().expect("faults lock") = faults;
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().expect("stats lock").clone()
    }

    pub fn reset(&self) {
        *self.stats.lock().expect("stats lock") = Stats::default();
        self.windows.lock().expect("windows lock").clear();
        self.weights.lock().expect("weights lock").clear();
        *self.whitebit_keys() = WhitebitKeys::default();
    }

    /// The simulator's clock in Unix milliseconds, with the configured offset.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.faults().clock_offset_ms
    }

    /// Sliding-window limiter: true if one more request under `bucket` fits `limit` per
    /// `window`. Counts the request when it fits.
    pub fn admit(&self, bucket: String, limit: usize, window: Duration) -> bool {
        if !self.faults().rate_limits {
            return true;
        }
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("windows lock");
        let seen = windows.entry(bucket).or_default();
        while seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            seen.pop_front();
        }
        if seen.len() >= limit {
            return false;
        }
        seen.push_back(now);
        true
    }

    /// Weighted sliding window (Binance's request weight): spends `weight` under `bucket`
    /// and returns the weight used in the window, or, over `limit` (enforced only with the
    /// `rate_limits` fault on), the seconds until enough weight frees up.
    pub fn spend(
        &self,
        bucket: String,
        weight: usize,
        limit: usize,
        window: Duration,
    ) -> Result<usize, u64> {
        let now = Instant::now();
        let mut weights = self.weights.lock().expect("weights lock");
        let seen = weights.entry(bucket).or_default();
        while seen
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= window)
        {
            seen.pop_front();
        }
        let used: usize = seen.iter().map(|(_, w)| w).sum();
        if self.faults().rate_limits && used + weight > limit {
            let oldest = seen.front().map_or(now, |(t, _)| *t);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        seen.push_back((now, weight));
        Ok(used + weight)
    }

    fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
        let mut stats = self.stats.lock().expect("stats lock");
        stats.requests += 1;
        *stats.by_path.entry(uri.path().to_string()).or_default() += 1;
        stats.last_headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        stats.last_request = format!("{method} {uri}");
        stats.last_body = String::from_utf8_lossy(body).into_owned();
    }
}

/// One exchange request as the simulator sees it.
pub struct Request<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub peer: SocketAddr,
    /// The prefix the request came in under: which site of the exchange it reached.
    pub site: &'a str,
}

impl Request<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request path with its query, exactly as received.
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.uri.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.to_string())
        })
    }
}

/// The simulator as an axum router (exchange routes plus `/__sim/` control).
pub fn router(sim: SharedSim) -> Router {
    let control = Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/faults", put(set_faults).get(get_faults))
        .route("/__sim/reset", post(reset))
        .with_state(sim.clone());
    EXCHANGES.iter().fold(control, |router, &(prefix, answer)| {
        let sim = sim.clone();
        let entry = move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                          method: Method,
                          uri: Uri,
                          headers: HeaderMap,
                          body: Bytes| {
            exchange(
                sim.clone(),
                (prefix, answer),
                peer,
                method,
                uri,
                headers,
                body,
            )
        };
        router.nest(&format!("/{prefix}"), Router::new().fallback(entry))
    })
}

async fn stats(State(sim): State<SharedSim>) -> Json<Stats> {
    Json(sim.stats())
}

async fn get_faults(State(sim): State<SharedSim>) -> Json<Faults> {
    Json(sim.faults())
}

async fn set_faults(State(sim): State<SharedSim>, Json(faults): Json<Faults>) -> StatusCode {
    sim.set_faults(faults);
    StatusCode::NO_CONTENT
}

async fn reset(State(sim): State<SharedSim>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

/// An exchange's answer: status, JSON body and extra headers.
pub type Reply = (StatusCode, serde_json::Value, Vec<(&'static str, String)>);

/// How an exchange module answers a request.
type Answer = fn(&Sim, &Request<'_>) -> Reply;

/// Every exchange the simulator plays: the prefix it is mounted under, and its answers.
const EXCHANGES: &[(&str, Answer)] = &[
    ("okx", |sim, req| {
        let (status, json) = okx::handle(sim, req);
        (status, json, Vec::new())
    }),
    ("binance", binance::handle),
    // Each Bybit site knows only its own keys.
    ("bybit", bybit::handle),
    ("bybit-nl", bybit::handle),
    ("bybit-tr", bybit::handle),
    ("bybit-kz", bybit::handle),
    ("bybit-ge", bybit::handle),
    ("bybit-ae", bybit::handle),
    ("bybit-eu", bybit::handle),
    ("bybit-demo", bybit::handle),
    // whitebit.com and whitebit.eu, each with its own keys.
    ("whitebit", whitebit::handle),
    ("whitebit-eu", whitebit::handle),
];

/// The simulator's answer to one exchange request, without a socket, faults or statistics:
/// status and body, as the exchange at `site` (`okx`, `binance`, `bybit-eu`, …) documents
/// them. For tests that need many documented answers fast (the parsers' property tests).
pub fn answer(
    sim: &Sim,
    site: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Option<(u16, String)> {
    let (site, answer) = EXCHANGES.iter().find(|(s, _)| *s == site)?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let uri: Uri = path_and_query.parse().ok()?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            axum::http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?,
            axum::http::HeaderValue::from_str(value).ok()?,
        );
    }
    let request = Request {
        method: &method,
        uri: &uri,
        headers: &map,
        body,
        peer: SocketAddr::from(([127, 0, 0, 1], 1)),
        site,
    };
    let (status, json, _) = answer(sim, &request);
    Some((status.as_u16(), json.to_string()))
}

/// Faults and statistics shared by every exchange, then that exchange's own answer. `uri`
/// is the path under the exchange's prefix, as the real exchange would see it.
async fn exchange(
    sim: SharedSim,
    (site, answer): (&'static str, Answer),
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.record(&method, &uri, &headers, &body);
    let mut faults = sim.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    match sim.chaos(faults.chaos_percent) {
        Some(Chaos::ServerError) => faults.status = Some(503),
        Some(Chaos::Hang) => tokio::time::sleep(Duration::from_millis(faults.chaos_hang_ms)).await,
        Some(Chaos::RateLimited) => {
            faults.status = Some(429);
            faults.retry_after_secs = Some(1);
        }
        Some(Chaos::Malformed) => faults.malformed_json = true,
        None => {}
    }
    if let Some(status) = faults.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut page = (
            status,
            [(axum::http::header::CONTENT_TYPE, "text/html")],
            "<html><body>Service unavailable</body></html>",
        )
            .into_response();
        if let Some(secs) = faults.retry_after_secs {
            page.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        return with_cookie(page);
    }
    let request = Request {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        peer,
        site,
    };
    let (status, json, extra) = answer(&sim, &request);
    let mut text = json.to_string();
    if faults.malformed_json {
        text.truncate(text.len() / 2);
    }
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response();
    for (name, value) in extra {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    with_cookie(response)
}

/// Real exchange responses carry CDN cookies; the proxy must never pass them on.
fn with_cookie(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::SET_COOKIE,
        axum::http::HeaderValue::from_static("sim_session=1; Path=/; HttpOnly"),
    );
    response
}

/// Serves the simulator on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sim: SharedSim,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(sim).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// About the asked share of requests fails, with every kind of failure; none at 0 %.
    #[test]
    fn chaos_fails_the_asked_share_with_every_kind() {
        let sim = Sim::new(Fixture::demo());
        let draws: Vec<Option<Chaos>> = (0..10_000).map(|_| sim.chaos(10)).collect();
        let failed = draws.iter().filter(|d| d.is_some()).count();
        assert!((800..1200).contains(&failed), "{failed} of 10,000");
        for kind in [
            Chaos::ServerError,
            Chaos::Hang,
            Chaos::RateLimited,
            Chaos::Malformed,
        ] {
            let n = draws.iter().filter(|d| **d == Some(kind)).count();
            assert!(n > 150, "{kind:?}: {n}");
        }
        assert!((0..1000).all(|_| sim.chaos(0).is_none()));
    }
}
