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
//! * It writes nothing to disk and logs method, exchange, path, status and latency — never
//!   a header value, a query or a body.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;
use tower_http::services::ServeDir;

/// One exchange as the proxy knows it: URL prefix, upstream, auth headers, read routes.
pub struct Exchange {
    /// First path segment, e.g. `okx` in `/okx/api/v5/account/balance`.
    pub prefix: &'static str,
    /// Default upstream origin.
    pub host: &'static str,
    /// Upstream overrides of this name also apply here (`okx` covers `okx-eea`).
    pub family: &'static str,
    /// Request headers (lower-case) forwarded besides `content-type` and `accept`.
    pub auth_headers: &'static [&'static str],
    /// The only (method, path) pairs forwarded.
    pub routes: &'static [(Method, &'static str)],
}

const OKX_HEADERS: &[&str] = &[
    "ok-access-key",
    "ok-access-sign",
    "ok-access-timestamp",
    "ok-access-passphrase",
    "x-simulated-trading",
];
const OKX_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/api/v5/account/config"),
    (Method::GET, "/api/v5/account/balance"),
    (Method::GET, "/api/v5/account/positions"),
    (Method::GET, "/api/v5/asset/balances"),
    (Method::GET, "/api/v5/asset/asset-valuation"),
    (Method::GET, "/api/v5/finance/savings/balance"),
    (Method::GET, "/api/v5/public/time"),
    (Method::GET, "/api/v5/market/tickers"),
];
const BINANCE_HEADERS: &[&str] = &["x-mbx-apikey"];

/// The fixed upstream table.
pub const EXCHANGES: &[Exchange] = &[
    Exchange {
        prefix: "okx",
        host: "https://www.okx.com",
        family: "okx",
        auth_headers: OKX_HEADERS,
        routes: OKX_ROUTES,
    },
    Exchange {
        prefix: "okx-eea",
        host: "https://eea.okx.com",
        family: "okx",
        auth_headers: OKX_HEADERS,
        routes: OKX_ROUTES,
    },
    Exchange {
        prefix: "okx-us",
        host: "https://us.okx.com",
        family: "okx",
        auth_headers: OKX_HEADERS,
        routes: OKX_ROUTES,
    },
    Exchange {
        prefix: "binance",
        host: "https://api.binance.com",
        family: "binance",
        auth_headers: BINANCE_HEADERS,
        routes: &[
            (Method::GET, "/api/v3/account"),
            (Method::GET, "/api/v3/time"),
            (Method::GET, "/api/v3/ticker/price"),
            (Method::GET, "/sapi/v1/account/apiRestrictions"),
            (Method::GET, "/sapi/v1/asset/wallet/balance"),
            (Method::POST, "/sapi/v1/asset/get-funding-asset"),
            (Method::GET, "/sapi/v1/simple-earn/flexible/position"),
        ],
    },
    Exchange {
        prefix: "binance-futures",
        host: "https://fapi.binance.com",
        family: "binance",
        auth_headers: BINANCE_HEADERS,
        routes: &[
            (Method::GET, "/fapi/v3/balance"),
            (Method::GET, "/fapi/v3/positionRisk"),
            (Method::GET, "/fapi/v1/time"),
        ],
    },
    Exchange {
        prefix: "bybit",
        host: "https://api.bybit.com",
        family: "bybit",
        auth_headers: &[
            "x-bapi-api-key",
            "x-bapi-timestamp",
            "x-bapi-sign",
            "x-bapi-recv-window",
        ],
        routes: &[
            (Method::GET, "/v5/account/wallet-balance"),
            (
                Method::GET,
                "/v5/asset/transfer/query-account-coins-balance",
            ),
            (Method::GET, "/v5/position/list"),
            (Method::GET, "/v5/user/query-api"),
            (Method::GET, "/v5/market/time"),
            (Method::GET, "/v5/market/tickers"),
        ],
    },
    Exchange {
        prefix: "whitebit",
        host: "https://whitebit.com",
        family: "whitebit",
        auth_headers: &["x-txc-apikey", "x-txc-payload", "x-txc-signature"],
        routes: &[
            (Method::POST, "/api/v4/trade-account/balance"),
            (Method::POST, "/api/v4/main-account/balance"),
            (Method::POST, "/api/v4/collateral-account/balance"),
            (Method::POST, "/api/v4/collateral-account/summary"),
            (Method::POST, "/api/v4/collateral-account/positions/open"),
            (Method::GET, "/api/v4/public/time"),
            (Method::GET, "/api/v4/public/ticker"),
        ],
    },
];

/// What a preflight for `/batch` may ask: JSON bodies only.
const BATCH: Exchange = Exchange {
    prefix: "batch",
    host: "",
    family: "",
    auth_headers: &[],
    routes: &[],
};

/// Rate-limit and usage headers the exchanges send, passed back to the app (prefixes).
const PASS_BACK_PREFIXES: &[&str] = &[
    "x-mbx-used-weight",
    "x-sapi-used",
    "x-bapi-limit",
    "x-ratelimit",
    "ratelimit",
];

/// Per-client token bucket.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

pub struct Config {
    /// Upstream overrides by exchange prefix or family, e.g. `okx` → `http://127.0.0.1:9101`.
    pub upstreams: BTreeMap<String, String>,
    /// Allowed browser origins; `None` means the proxy's own origin plus http://127.0.0.1 and
    /// http://localhost on any port.
    pub allow_origins: Option<Vec<String>>,
    pub static_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub max_body: usize,
    pub max_concurrent: usize,
    pub rate_limit: Option<RateLimit>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            upstreams: BTreeMap::new(),
            allow_origins: None,
            static_dir: None,
            timeout: Duration::from_secs(10),
            max_body: 64 * 1024,
            max_concurrent: 256,
            rate_limit: Some(RateLimit {
                per_second: 20.0,
                burst: 60.0,
            }),
        }
    }
}

type UpstreamClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<axum::body::Bytes>,
>;

struct Shared {
    config: Config,
    client: UpstreamClient,
    upstream_slots: Semaphore,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
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

    /// Takes a token for `ip`; on refusal, the seconds until one is available.
    fn take_token(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limit) = self.config.rate_limit else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate-limit lock");
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, seen)| now.duration_since(*seen) < Duration::from_secs(60));
        }
        let (tokens, seen) = buckets.entry(ip).or_insert((limit.burst, now));
        *tokens =
            (*tokens + now.duration_since(*seen).as_secs_f64() * limit.per_second).min(limit.burst);
        *seen = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / limit.per_second).ceil().max(1.0) as u64)
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

/// The proxy as an axum router.
pub fn router(config: Config) -> Router {
    // HTTP/1.1 with pooled, reused connections; TLS (rustls, webpki roots) for the real
    // exchange hosts; no redirects are followed and no proxy environment is read.
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
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https);
    let shared = Arc::new(Shared {
        upstream_slots: Semaphore::new(config.max_concurrent),
        client,
        buckets: Mutex::default(),
        statics: config.static_dir.clone().map(ServeDir::new),
        config,
    });
    Router::new().fallback(handle).with_state(shared)
}

/// Added to every file served with `--static`. `no-cache` makes the browser revalidate
/// (a cheap 304), so a new build is seen at once; offline, the service worker answers.
const STATIC_HEADERS: [(header::HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-cache"),
];

/// A JSON error, as every refusal is answered.
fn refuse(status: StatusCode, error: &str, route: &str) -> Response {
    let body = serde_json::json!({ "error": error, "route": route });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let exchange_prefix = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("").to_string());
    let exchange = EXCHANGES.iter().find(|e| e.prefix == exchange_prefix);
    let origin_ok = origin
        .as_deref()
        .is_none_or(|o| shared.origin_allowed(o, req.headers()));

    let mut response = if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        refuse(
            StatusCode::BAD_REQUEST,
            "absolute URLs are not accepted",
            &path,
        )
    } else if !origin_ok {
        refuse(
            StatusCode::FORBIDDEN,
            "this origin may not use the proxy",
            &path,
        )
    } else if path == "/batch" {
        match method {
            Method::POST => batch(&shared, peer, req).await,
            Method::OPTIONS => preflight(&BATCH, req.headers()),
            _ => refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "the batch route takes POST",
                &path,
            ),
        }
    } else if let Some(exchange) = exchange {
        if method == Method::OPTIONS {
            preflight(exchange, req.headers())
        } else {
            let route = path[exchange.prefix.len() + 1..].to_string();
            forward(&shared, exchange, &route, peer, req).await
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
            h.insert(name, HeaderValue::from_static(value));
        }
        response
    } else {
        refuse(StatusCode::NOT_FOUND, "unknown exchange", &path)
    };

    if let Some(origin) = origin.filter(|_| origin_ok) {
        if let Ok(value) = HeaderValue::from_str(&origin) {
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            h.append(header::VARY, HeaderValue::from_static("Origin"));
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after, x-mbx-used-weight-1m, x-sapi-used-ip-weight-1m, x-bapi-limit, x-bapi-limit-status, x-bapi-limit-reset-timestamp"),
            );
        }
    }
    let status = response.status();
    if exchange.is_some() || status.is_client_error() || status.is_server_error() {
        tracing::info!(
            method = %method,
            exchange = %exchange.map(|e| e.prefix).unwrap_or("-"),
            path = %if exchange.is_some() { &path[exchange_prefix.len() + 1..] } else { path.as_str() },
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
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

/// One request for an exchange, after the route check: what goes upstream.
struct Outgoing<'a> {
    exchange: &'static Exchange,
    method: Method,
    route: &'a str,
    query: Option<&'a str>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: axum::body::Bytes,
}

/// Refuses anything but the exchange's read routes, and over-limit clients: `Some` is the
/// refusal to send back.
fn refusal(
    shared: &Shared,
    exchange: &Exchange,
    method: &Method,
    route: &str,
    peer: IpAddr,
) -> Option<Response> {
    if !exchange
        .routes
        .iter()
        .any(|(m, p)| m == method && *p == route)
    {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            &format!("route not allowed: {method} /{}{route}", exchange.prefix),
            route,
        ));
    }
    if let Err(wait) = shared.take_token(peer) {
        let mut r = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address",
            route,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Some(r);
    }
    None
}

/// Only the exchange's auth headers, `Content-Type` and `Accept` go upstream.
fn forwardable(exchange: &Exchange, name: &str) -> bool {
    name == "content-type" || name == "accept" || exchange.auth_headers.contains(&name)
}

/// Sends one admitted request upstream; the response carries only status, body,
/// `Content-Type` and rate-limit headers.
async fn send_upstream(shared: &Shared, out: Outgoing<'_>) -> Response {
    let route = out.route;
    // Fast path without a timer; wait (bounded) only when every slot is taken.
    let slot = match shared.upstream_slots.try_acquire() {
        Ok(slot) => Ok(slot),
        Err(_) => tokio::time::timeout(shared.config.timeout, shared.upstream_slots.acquire())
            .await
            .map_err(|_| ())
            .and_then(|r| r.map_err(|_| ())),
    };
    let Ok(_slot) = slot else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the proxy is busy; try again",
            route,
        );
    };
    let mut url = format!("{}{route}", shared.upstream(out.exchange));
    if let Some(q) = out.query {
        url.push('?');
        url.push_str(q);
    }
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the request target is not a valid URL",
            route,
        );
    };
    let mut request = axum::http::Request::builder()
        .method(out.method)
        .uri(uri)
        .header(
            header::USER_AGENT,
            concat!("holdix-proxy/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in out.headers {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(http_body_util::Full::new(out.body)) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the request could not be forwarded",
            route,
        );
    };
    let deadline = tokio::time::Instant::now() + shared.config.timeout;
    let timed_out = || {
        refuse(
            StatusCode::GATEWAY_TIMEOUT,
            "the exchange did not answer in time",
            route,
        )
    };
    let upstream = match tokio::time::timeout_at(deadline, shared.client.request(request)).await {
        Err(_) => return timed_out(),
        Ok(Err(_)) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "the exchange could not be reached",
                route,
            )
        }
        Ok(Ok(r)) => r,
    };
    let (parts, body) = upstream.into_parts();
    let status = parts.status;
    let mut back = HeaderMap::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if n == "content-type"
            || n == "retry-after"
            || PASS_BACK_PREFIXES.iter().any(|p| n.starts_with(p))
        {
            back.append(name.clone(), value.clone());
        }
    }
    let body = match tokio::time::timeout_at(deadline, http_body_util::BodyExt::collect(body)).await
    {
        Err(_) => return timed_out(),
        Ok(Err(_)) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "the exchange's answer was cut off",
                route,
            )
        }
        Ok(Ok(b)) => b.to_bytes(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = back;
    response
}

async fn forward(
    shared: &Shared,
    exchange: &'static Exchange,
    route: &str,
    peer: SocketAddr,
    req: Request,
) -> Response {
    let method = req.method().clone();
    if let Some(refused) = refusal(shared, exchange, &method, route, peer.ip()) {
        return refused;
    }
    let query = req.uri().query().map(str::to_string);
    let headers = req
        .headers()
        .iter()
        .filter(|(name, _)| forwardable(exchange, name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let Ok(body) = to_bytes(req.into_body(), shared.config.max_body).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over {} bytes", shared.config.max_body),
            route,
        );
    };
    let out = Outgoing {
        exchange,
        method,
        route,
        query: query.as_deref(),
        headers,
        body,
    };
    send_upstream(shared, out).await
}

/// Most requests one batch may carry.
pub const BATCH_MAX: usize = 32;

/// `POST /batch`: several exchange requests in one browser request, sent upstream
/// concurrently, each checked exactly like a direct one. Browsers open at most six HTTP/1.1
/// connections per origin; a refresh needs more requests than that at once.
///
/// Body: `[{"exchange":"okx","method":"GET","path":"/api/v5/…?…","headers":{…},"body":""}]`.
/// Answer: `[{"status":200,"headers":{…},"body":"…"}]`, in the same order.
async fn batch(shared: &Shared, peer: SocketAddr, req: Request) -> Response {
    let Ok(body) = to_bytes(req.into_body(), shared.config.max_body).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over {} bytes", shared.config.max_body),
            "/batch",
        );
    };
    let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the batch is not a JSON array",
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
    let one = |item: serde_json::Value| async move {
        let started = Instant::now();
        let text = |key: &str| {
            item.get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let prefix = text("exchange");
        let method = Method::from_bytes(text("method").as_bytes()).unwrap_or(Method::GET);
        let target = text("path");
        let (route, query) = match target.split_once('?') {
            Some((r, q)) => (r.to_string(), Some(q.to_string())),
            None => (target.clone(), None),
        };
        let response = match EXCHANGES.iter().find(|e| e.prefix == prefix) {
            None => refuse(StatusCode::NOT_FOUND, "unknown exchange", &route),
            Some(exchange) => match refusal(shared, exchange, &method, &route, peer.ip()) {
                Some(refused) => refused,
                None => {
                    let headers = item
                        .get("headers")
                        .and_then(|h| h.as_object())
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, v)| {
                            let name =
                                HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).ok()?;
                            let value = HeaderValue::from_str(v.as_str()?).ok()?;
                            forwardable(exchange, name.as_str()).then_some((name, value))
                        })
                        .collect();
                    let out = Outgoing {
                        exchange,
                        method: method.clone(),
                        route: &route,
                        query: query.as_deref(),
                        headers,
                        body: text("body").into(),
                    };
                    send_upstream(shared, out).await
                }
            },
        };
        tracing::info!(
            method = %method,
            exchange = %prefix,
            path = %route,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "batched request"
        );
        let status = response.status().as_u16();
        let headers: serde_json::Map<String, serde_json::Value> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_string(),
                    serde_json::Value::from(v.to_str().ok()?),
                ))
            })
            .collect();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        serde_json::json!({"status": status, "headers": headers, "body": String::from_utf8_lossy(&body)})
    };
    let answers = futures_util::future::join_all(items.into_iter().map(one)).await;
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::Value::Array(answers).to_string(),
    )
        .into_response()
}

/// Serves the proxy on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(config).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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

    #[test]
    fn every_route_is_a_read_route() {
        for exchange in EXCHANGES {
            for (method, path) in exchange.routes {
                assert!(*method == Method::GET || *method == Method::POST);
                let last = path.rsplit('/').next().unwrap();
                let writes = [
                    "order",
                    "create",
                    "new",
                    "withdraw",
                    "withdrawal",
                    "apply",
                    "transfer",
                    "inter-transfer",
                ];
                assert!(!writes.contains(&last), "{} {path}", exchange.prefix);
                assert!(
                    !path.contains("/trade/") && !path.contains("/order"),
                    "{} {path}",
                    exchange.prefix
                );
            }
        }
    }
}
