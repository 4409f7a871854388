//! `holdix-proxy`: a CORS proxy so thin and strict that anyone could run one for strangers.
//!
//! * `GET|POST /{exchange}/{path}?{query}` goes to that exchange's API host from a fixed
//!   table ([`EXCHANGES`]); path, query and body are forwarded byte for byte (they are signed).
//! * Only the read endpoints Holdix uses pass ([`Exchange::routes`]); everything else is
//!   refused with a JSON error before any upstream request is made.
//! * Only the exchange's auth headers, `Content-Type` and `Accept` go upstream; only the
//!   status, body, `Content-Type` and rate-limit headers come back (never `Set-Cookie`).
//! * `POST /batch` carries several such requests at once (see [`BATCH_MAX`]), each checked
//!   the same way, so a browser limited to six connections per origin refreshes in one trip.
//! * CORS for the allowed origins only; body, time, concurrency and per-IP rate limits.
//! * It writes nothing to disk and logs method, exchange, path, status and latency (refusals
//!   and failures; answered requests at `debug`) — never a header value, a query or a body.
//! * One single-threaded event loop per core ([`serve`]), as nginx runs its workers.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::services::ServeDir;

mod cache;
pub mod exchanges;
pub mod limits;
mod serve;

pub use exchanges::{Budget, Exchange, Route, EXCHANGES};
pub use limits::Cidr;
pub use serve::serve;

use limits::{Clients, Held, Hosts};

/// A per-client token bucket (requests per second, burst).
pub type RateLimit = Budget;

/// What a preflight for `/batch` may ask: JSON bodies only.
const BATCH: Exchange = Exchange {
    prefix: "batch",
    host: "",
    family: "",
    auth_headers: &[],
    routes: &[],
    budget: Budget {
        per_second: 0.0,
        burst: 0.0,
    },
};

/// Rate-limit and usage headers the exchanges send, passed back to the app (prefixes).
const PASS_BACK_PREFIXES: &[&str] = &[
    "x-mbx-used-weight",
    "x-sapi-used",
    "x-bapi-limit",
    "x-ratelimit",
    "ratelimit",
];

pub struct Config {
    /// Upstream overrides by exchange prefix or family, e.g. `okx` → `http://127.0.0.1:9101`.
    pub upstreams: BTreeMap<String, String>,
    /// Allowed browser origins; `None` means the proxy's own origin plus http://127.0.0.1 and
    /// http://localhost on any port.
    pub allow_origins: Option<Vec<String>>,
    /// Accept exchange requests that carry no `Origin` and are not same-origin (scripts,
    /// command-line clients). Off by default: such requests are how another web page
    /// (an `<img>` pointing at the proxy) would spend the proxy's exchange quotas.
    pub allow_no_origin: bool,
    /// Peers whose `X-Forwarded-For`/`Forwarded` headers name the client (load balancers).
    pub trusted_proxies: Vec<Cidr>,
    pub static_dir: Option<PathBuf>,
    /// How long an exchange may take to answer.
    pub timeout: Duration,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: Duration,
    /// Every request is answered within this, whatever happens upstream.
    pub request_deadline: Duration,
    pub max_body: usize,
    /// Upstream requests in flight at most.
    pub max_concurrent: usize,
    /// Client connections open at most.
    pub max_connections: usize,
    pub rate_limit: Option<RateLimit>,
    /// Event loops, one per core by default (see [`serve`]).
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            upstreams: BTreeMap::new(),
            allow_origins: None,
            allow_no_origin: false,
            trusted_proxies: Vec::new(),
            static_dir: None,
            timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_deadline: Duration::from_secs(30),
            max_body: 64 * 1024,
            max_concurrent: 256,
            max_connections: 1024,
            rate_limit: Some(RateLimit {
                per_second: 20.0,
                burst: 120.0,
            }),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

type UpstreamClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<Bytes>,
>;

struct Shared {
    config: Config,
    upstream_slots: Semaphore,
    clients: Clients,
    hosts: Hosts,
    public: cache::PublicCache,
    /// The built app, when `--static` is given.
    statics: Option<ServeDir>,
}

impl Shared {
    /// The upstream origin for an exchange: an override by prefix, then by family, then
    /// the built-in host.
    fn upstream(&self, exchange: &Exchange) -> &str {
        let upstreams = &self.config.upstreams;
        upstreams
            .get(exchange.prefix)
            .or_else(|| upstreams.get(exchange.family))
            .map(String::as_str)
            .unwrap_or(exchange.host)
            .trim_end_matches('/')
    }

    fn origin_allowed(&self, origin: &str, headers: &HeaderMap) -> bool {
        if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            let own = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            if own == Some(host) {
                return true;
            }
        }
        match &self.config.allow_origins {
            Some(list) => list.iter().any(|o| o.trim_end_matches('/') == origin),
            None => is_loopback_origin(origin),
        }
    }
}

/// `http://127.0.0.1:<any>`, `http://localhost:<any>`, `http://[::1]:<any>`, with or without port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => rest,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// This thread's upstream client: HTTP/1.1 with pooled, reused connections; TLS (rustls,
/// webpki roots) for the real exchange hosts; no redirects are followed and no proxy
/// environment is read. One per thread, so a request and the pooled connection it goes out
/// on are driven by the same event loop (see [`serve`]).
fn upstream_client() -> UpstreamClient {
    thread_local! {
        static CLIENT: UpstreamClient = {
            let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
            http.set_nodelay(true);
            http.set_connect_timeout(Some(Duration::from_secs(5)));
            http.enforce_http(false);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
                .expect("TLS provider")
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(128)
                .pool_idle_timeout(Duration::from_secs(90))
                .build(https)
        };
    }
    CLIENT.with(Clone::clone)
}

/// The proxy's state, shared by every event loop of [`serve`], which calls [`handle`] for
/// each request with the client's address.
fn shared(config: Config) -> Arc<Shared> {
    Arc::new(Shared {
        upstream_slots: Semaphore::new(config.max_concurrent),
        clients: Clients::new(config.rate_limit),
        hosts: Hosts::default(),
        public: cache::PublicCache::default(),
        // The build writes `.br` and `.gz` next to every compressible file: sent when the
        // browser accepts them (brotli first), the file itself otherwise.
        statics: config
            .static_dir
            .clone()
            .map(|dir| ServeDir::new(dir).precompressed_br().precompressed_gzip()),
        config,
    })
}

/// Added to every file served with `--static`. `no-cache` makes the browser revalidate
/// (a cheap 304), so a new build is seen at once; offline, the service worker answers.
/// `Vary: Accept-Encoding`: the same path is sent brotli, gzip or plain by what the browser
/// accepts, so no cache may hand one browser's encoding to another.
const STATIC_HEADERS: [(header::HeaderName, HeaderValue); 5] = [
    (header::VARY, HeaderValue::from_static("accept-encoding")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
];

/// Set on everything that is not an app file: exchange answers (balances, key
/// permissions) are never stored by a browser or a shared cache, are always JSON to the
/// browser (an exchange edge's HTML error page must not become a page on the app's origin),
/// and could run nothing even if opened directly.
const API_HEADERS: [(header::HeaderName, HeaderValue); 4] = [
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    ),
];

/// A JSON error, as every refusal is answered.
pub(crate) fn refuse(status: StatusCode, error: &str, route: &str) -> Response {
    let body = serde_json::json!({ "error": error, "route": route });
    (status, body.to_string()).into_response()
}

/// A 429 the proxy answers itself, with `Retry-After`.
fn too_many(error: &str, route: &str, retry_after: u64) -> Response {
    let mut r = refuse(StatusCode::TOO_MANY_REQUESTS, error, route);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

/// How a request is logged: every field is a constant of the proxy or a number, never text
/// the client sent (a path with a newline or an escape sequence would forge log lines).
struct LogLine {
    method: &'static str,
    exchange: &'static str,
    route: &'static str,
}

impl LogLine {
    fn new(method: &Method, exchange: Option<&'static Exchange>, route: Option<&Route>) -> Self {
        const KNOWN: [Method; 4] = [Method::GET, Method::POST, Method::OPTIONS, Method::HEAD];
        Self {
            method: KNOWN
                .iter()
                .find(|m| *m == method)
                .map_or("OTHER", Method::as_str),
            exchange: exchange.map_or("-", |e| e.prefix),
            route: route.map_or("(refused route)", |r| r.path),
        }
    }

    /// Refusals and failures at `info`; answered requests at `debug` (`RUST_LOG=debug`): a
    /// line per forwarded read cost about a sixth of the proxy's CPU time per request
    /// (measured by hand under wrk: 33–35 µs with it, 28–30 µs without), and is a record of
    /// when users refresh that the proxy has no need to keep.
    fn emit(&self, what: &'static str, status: StatusCode, started: Instant) {
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    method = self.method,
                    exchange = self.exchange,
                    path = self.route,
                    status = status.as_u16(),
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "{what}"
                )
            };
        }
        if status.is_client_error() || status.is_server_error() {
            line!(info);
        } else {
            line!(debug);
        }
    }
}

/// Answers one request from `peer` (called by [`serve`] directly: no router, as there is
/// nothing to route before the checks below).
async fn handle(shared: Arc<Shared>, peer: SocketAddr, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let exchange_prefix = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let exchange = Exchange::by_prefix(exchange_prefix);
    let client = limits::client_ip(peer.ip(), req.headers(), &shared.config.trusted_proxies);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("").to_string());
    let origin_ok = origin
        .as_deref()
        .is_none_or(|o| shared.origin_allowed(o, req.headers()));
    // Browsers send no Origin on same-origin GETs, but they do send Sec-Fetch-Site (which
    // no page can set); another site's `<img>` or link arrives with "cross-site".
    let same_origin = req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v == "same-origin");
    let api = exchange.is_some() || path == "/batch";
    let anonymous = api && origin.is_none() && !same_origin && !shared.config.allow_no_origin;

    let mut response = if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        refuse(
            StatusCode::BAD_REQUEST,
            "absolute URLs are not accepted",
            "",
        )
    } else if !origin_ok {
        refuse(
            StatusCode::FORBIDDEN,
            "this origin may not use the proxy",
            "",
        )
    } else if anonymous {
        refuse(
            StatusCode::FORBIDDEN,
            "requests without an allowed Origin are refused; for non-browser clients start \
             holdix-proxy with --allow-no-origin",
            "",
        )
    } else if path == "/batch" {
        match method {
            Method::POST => batch(&shared, client, req).await,
            Method::OPTIONS => preflight(&BATCH, req.headers()),
            _ => refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "the batch route takes POST",
                "/batch",
            ),
        }
    } else if let Some(exchange) = exchange {
        if method == Method::OPTIONS {
            preflight(exchange, req.headers())
        } else {
            let route = path[exchange.prefix.len() + 1..].to_string();
            let allowed = exchange.route(&method, &route);
            let response = forward(&shared, exchange, &route, client, req).await;
            LogLine::new(&method, Some(exchange), allowed).emit(
                "request",
                response.status(),
                started,
            );
            response
        }
    } else if path == "/healthz" {
        // Also answered cross-origin: the app polls it to notice the proxy is back.
        "ok".into_response()
    } else if let (Some(dir), true) = (
        shared.statics.clone(),
        matches!(method, Method::GET | Method::HEAD),
    ) {
        let mut response = match tower::ServiceExt::oneshot(dir, req).await {
            Ok(r) => r.into_response(),
            Err(e) => match e {},
        };
        // The app ships its Content-Security-Policy in index.html, but frame-ancestors
        // only works as a header (see STATIC_HEADERS).
        let h = response.headers_mut();
        for (name, value) in STATIC_HEADERS {
            h.insert(name, value);
        }
        return with_cors(response, origin.filter(|_| origin_ok));
    } else {
        match shared.clients.take(client) {
            // Unknown paths spend the client's budget too: probing is not free.
            Err(wait) => too_many("too many requests from this address", "", wait),
            Ok(()) => refuse(StatusCode::NOT_FOUND, "unknown exchange", ""),
        }
    };

    let status = response.status();
    if exchange.is_none() && (status.is_client_error() || status.is_server_error()) {
        LogLine::new(&method, None, None).emit("refused", status, started);
    }
    let h = response.headers_mut();
    for (name, value) in API_HEADERS {
        h.insert(name, value);
    }
    with_cors(response, origin.filter(|_| origin_ok))
}

// Built at compile time, not checked byte by byte on every answer.
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
const EXPOSED: HeaderValue = HeaderValue::from_static("retry-after, x-mbx-used-weight-1m, x-sapi-used-ip-weight-1m, x-bapi-limit, x-bapi-limit-status, x-bapi-limit-reset-timestamp");

/// CORS headers for an allowed origin.
fn with_cors(mut response: Response, origin: Option<String>) -> Response {
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.append(header::VARY, VARY_ORIGIN);
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
    }
    response
}

/// Answers a CORS preflight for an allowed origin (the origin was checked already).
fn preflight(exchange: &Exchange, headers: &HeaderMap) -> Response {
    let wanted_method = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    if !matches!(wanted_method, "GET" | "POST") {
        return refuse(StatusCode::FORBIDDEN, "only GET and POST are proxied", "");
    }
    let allowed: Vec<&str> = ["content-type", "accept"]
        .into_iter()
        .chain(exchange.auth_headers.iter().copied())
        .collect();
    let wanted = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let refused: Vec<&str> = wanted
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
        .collect();
    if !refused.is_empty() {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!("headers not forwarded: {}", refused.join(", ")),
            "",
        );
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_str(&allowed.join(", ")).expect("static header names"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// An exchange's answer as the proxy passes it on: status, rate-limit headers, body.
/// Cheap to clone (shared answers of public routes are handed to every waiter).
#[derive(Clone)]
pub(crate) struct Upstream {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Upstream {
    async fn from_response(response: Response) -> Self {
        let (parts, body) = response.into_parts();
        Self {
            status: parts.status,
            headers: parts.headers,
            body: to_bytes(body, usize::MAX).await.unwrap_or_default(),
        }
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// One request for an exchange, after the route check: what goes upstream.
struct Outgoing<'a> {
    exchange: &'static Exchange,
    route: &'static Route,
    query: Option<&'a str>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

/// The client's token, then the route check: `Err` is the refusal to send back. The token
/// comes first so refused routes cost the client as much as allowed ones.
fn admit(
    shared: &Shared,
    exchange: &'static Exchange,
    method: &Method,
    route: &str,
    client: IpAddr,
) -> Result<&'static Route, Box<Response>> {
    if let Err(wait) = shared.clients.take(client) {
        return Err(Box::new(too_many(
            "too many requests from this address",
            route,
            wait,
        )));
    }
    exchange.route(method, route).ok_or_else(|| {
        Box::new(refuse(
            StatusCode::FORBIDDEN,
            &format!("route not allowed: {method} /{}{route}", exchange.prefix),
            route,
        ))
    })
}

/// Only the exchange's auth headers, `Content-Type` and `Accept` go upstream; a public
/// route gets no auth header at all (its answer is shared between users).
fn forwardable(exchange: &Exchange, route: &Route, name: &str) -> bool {
    name == "content-type"
        || name == "accept"
        || (exchange.auth_headers.contains(&name)
            && (!route.public || name == "x-simulated-trading"))
}

/// Sends one admitted request, through the shared answer of a public route where there is
/// one, under the host's budget and any pause the exchange asked for.
async fn dispatch(shared: &Shared, out: Outgoing<'_>) -> Upstream {
    if !out.route.public {
        return budgeted(shared, out).await;
    }
    let mut key = format!(
        "{}{}?{}",
        out.exchange.prefix,
        out.route.path,
        out.query.unwrap_or("")
    );
    for (name, value) in &out.headers {
        key.push('\n');
        key.push_str(name.as_str());
        key.push_str(value.to_str().unwrap_or(""));
    }
    shared.public.get_or_fetch(key, budgeted(shared, out)).await
}

async fn budgeted(shared: &Shared, out: Outgoing<'_>) -> Upstream {
    let (exchange, route) = (out.exchange, out.route);
    if let Err(held) = shared
        .hosts
        .admit(exchange.prefix, exchange.budget, route.cost)
    {
        let (error, wait) = match held {
            Held::Budget { retry_after } => (
                "the proxy is holding back to stay under the exchange's limits for its address",
                retry_after,
            ),
            Held::Paused { retry_after } => (
                "the exchange asked the proxy to slow down; try again later",
                retry_after,
            ),
        };
        return Upstream::from_response(too_many(error, route.path, wait)).await;
    }
    let answer = send_upstream(shared, out).await;
    shared.hosts.observe(
        exchange.prefix,
        exchange.budget,
        answer.status.as_u16(),
        &answer.headers,
    );
    answer
}

/// Sends one admitted request upstream; the answer carries only status, body and rate-limit
/// headers.
async fn send_upstream(shared: &Shared, out: Outgoing<'_>) -> Upstream {
    let route = out.route.path;
    let local =
        |status, error| async move { Upstream::from_response(refuse(status, error, route)).await };
    // Fast path without a timer; wait (bounded) only when every slot is taken.
    let slot = match shared.upstream_slots.try_acquire() {
        Ok(slot) => Ok(slot),
        Err(_) => tokio::time::timeout(shared.config.timeout, shared.upstream_slots.acquire())
            .await
            .map_err(|_| ())
            .and_then(|r| r.map_err(|_| ())),
    };
    let Ok(_slot) = slot else {
        return local(
            StatusCode::SERVICE_UNAVAILABLE,
            "the proxy is busy; try again",
        )
        .await;
    };
    let mut url = format!("{}{route}", shared.upstream(out.exchange));
    if let Some(q) = out.query {
        url.push('?');
        url.push_str(q);
    }
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return local(
            StatusCode::BAD_REQUEST,
            "the request target is not a valid URL",
        )
        .await;
    };
    let mut request = axum::http::Request::builder()
        .method(out.route.method.clone())
        .uri(uri)
        .header(
            header::USER_AGENT,
            concat!("holdix-proxy/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in out.headers {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(http_body_util::Full::new(out.body)) else {
        return local(
            StatusCode::BAD_REQUEST,
            "the request could not be forwarded",
        )
        .await;
    };
    let deadline = tokio::time::Instant::now() + shared.config.timeout;
    let timed_out = "the exchange did not answer in time";
    let upstream = match tokio::time::timeout_at(deadline, upstream_client().request(request)).await
    {
        Err(_) => return local(StatusCode::GATEWAY_TIMEOUT, timed_out).await,
        Ok(Err(_)) => {
            return local(StatusCode::BAD_GATEWAY, "the exchange could not be reached").await
        }
        Ok(Ok(r)) => r,
    };
    let (parts, body) = upstream.into_parts();
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if n == "retry-after" || PASS_BACK_PREFIXES.iter().any(|p| n.starts_with(p)) {
            headers.append(name.clone(), value.clone());
        }
    }
    let body = match tokio::time::timeout_at(deadline, http_body_util::BodyExt::collect(body)).await
    {
        Err(_) => return local(StatusCode::GATEWAY_TIMEOUT, timed_out).await,
        Ok(Err(_)) => {
            return local(StatusCode::BAD_GATEWAY, "the exchange's answer was cut off").await
        }
        Ok(Ok(b)) => b.to_bytes(),
    };
    Upstream {
        status: parts.status,
        headers,
        body,
    }
}

/// Reads a client's request body within the size and time limits.
async fn read_body(shared: &Shared, body: Body, route: &str) -> Result<Bytes, Box<Response>> {
    match tokio::time::timeout(
        shared.config.body_timeout,
        to_bytes(body, shared.config.max_body),
    )
    .await
    {
        Err(_) => Err(Box::new(refuse(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
            route,
        ))),
        Ok(Err(_)) => Err(Box::new(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over {} bytes", shared.config.max_body),
            route,
        ))),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

async fn forward(
    shared: &Shared,
    exchange: &'static Exchange,
    route: &str,
    client: IpAddr,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let route = match admit(shared, exchange, &method, route, client) {
        Ok(route) => route,
        Err(refused) => return *refused,
    };
    let query = req.uri().query().map(str::to_string);
    let headers = req
        .headers()
        .iter()
        .filter(|(name, _)| forwardable(exchange, route, name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let body = match read_body(shared, req.into_body(), route.path).await {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let out = Outgoing {
        exchange,
        route,
        query: query.as_deref(),
        headers,
        body,
    };
    dispatch(shared, out).await.into_response()
}

/// Most requests one batch may carry.
pub const BATCH_MAX: usize = 32;

/// One request inside a batch.
#[derive(serde::Deserialize)]
struct BatchItem {
    #[serde(default)]
    exchange: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
}

/// One answer inside a batch.
#[derive(serde::Serialize)]
struct BatchAnswer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// `POST /batch`: several exchange requests in one browser request, sent upstream
/// concurrently, each checked exactly like a direct one. Browsers open at most six HTTP/1.1
/// connections per origin; a refresh needs more requests than that at once.
///
/// Body: `[{"exchange":"okx","method":"GET","path":"/api/v5/…?…","headers":{…},"body":""}]`.
/// Answer: `[{"status":200,"headers":{…},"body":"…"}]`, in the same order.
async fn batch(shared: &Shared, client: IpAddr, req: Request) -> Response {
    let body = match read_body(shared, req.into_body(), "/batch").await {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let Ok(items) = serde_json::from_slice::<Vec<BatchItem>>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the batch is not a JSON array of requests",
            "/batch",
        );
    };
    if items.is_empty() || items.len() > BATCH_MAX {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("a batch holds 1 to {BATCH_MAX} requests"),
            "/batch",
        );
    }
    let one = |item: BatchItem| async move {
        let started = Instant::now();
        let method = Method::from_bytes(item.method.as_bytes()).unwrap_or(Method::GET);
        let (route, query) = match item.path.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (item.path.as_str(), None),
        };
        let exchange = Exchange::by_prefix(&item.exchange);
        let mut allowed = None;
        let answer = match exchange {
            None => {
                Upstream::from_response(refuse(StatusCode::NOT_FOUND, "unknown exchange", route))
                    .await
            }
            Some(exchange) => match admit(shared, exchange, &method, route, client) {
                Err(refused) => Upstream::from_response(*refused).await,
                Ok(known) => {
                    allowed = Some(known);
                    let headers = item
                        .headers
                        .iter()
                        .filter_map(|(k, v)| {
                            let name =
                                HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).ok()?;
                            let value = HeaderValue::from_str(v).ok()?;
                            forwardable(exchange, known, name.as_str()).then_some((name, value))
                        })
                        .collect();
                    let out = Outgoing {
                        exchange,
                        route: known,
                        query,
                        headers,
                        body: Bytes::from(item.body.clone()),
                    };
                    dispatch(shared, out).await
                }
            },
        };
        LogLine::new(&method, exchange, allowed).emit("batched request", answer.status, started);
        BatchAnswer {
            status: answer.status.as_u16(),
            headers: answer
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        }
    };
    let answers = futures_util::future::join_all(items.into_iter().map(one)).await;
    serde_json::to_string(&answers)
        .unwrap_or_default()
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        assert!(is_loopback_origin("http://127.0.0.1:8080"));
        assert!(is_loopback_origin("http://localhost:3000"));
        assert!(is_loopback_origin("http://localhost"));
        assert!(is_loopback_origin("http://[::1]:8080"));
        assert!(!is_loopback_origin("http://127.0.0.1.evil.com"));
        assert!(!is_loopback_origin("http://localhost.evil.com:80"));
        assert!(!is_loopback_origin("https://evil.com"));
        assert!(!is_loopback_origin("null"));
    }
}
