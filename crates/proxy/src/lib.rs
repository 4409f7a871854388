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
//! * The rules are `holdix-gate`'s, shared with the Cloudflare Worker (`holdix-edge`); this
//!   crate adds the state: rate limits, exchange budgets, shared public answers, timeouts.
//! * It writes nothing to disk and logs method, exchange, path, status and latency (refusals
//!   and failures; answered requests at `debug`) — never a header value, a query or a body.
//! * One single-threaded event loop per core ([`serve`]), as nginx runs its workers; HTTP/1.1
//!   on both sides is the proxy's own (`serve.rs` to clients, `upstream.rs` to exchanges,
//!   `wire.rs` for bodies), with heads parsed by `httparse`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

mod cache;
pub mod limits;
mod serve;
mod upstream;
mod wire;

pub use holdix_gate::{batch::MAX as BATCH_MAX, Budget, Exchange, Route, EXCHANGES};
pub use limits::Cidr;
pub use serve::serve;
use serve::{Received, Unread};

use holdix_gate::{batch, Class, Policy, Refusal};

use limits::{Clients, Held, Hosts};

/// A per-client token bucket (requests per second, burst).
pub type RateLimit = Budget;

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

struct Shared {
    config: Config,
    policy: Policy,
    upstream_slots: limits::Slots,
    clients: Clients,
    hosts: Hosts,
    public: cache::PublicCache,
    /// The built app, when `--static` is given.
    statics: Option<ServeDir>,
    /// Each exchange's upstream, parsed once (`None`: an override that is no URL).
    origins: Vec<(&'static str, Option<upstream::Origin>)>,
}

/// The proxy's state, shared by every event loop of [`serve`], which calls [`handle`] for
/// each request with the client's address.
fn shared(config: Config) -> Arc<Shared> {
    Arc::new(Shared {
        upstream_slots: limits::Slots::new(config.max_concurrent),
        clients: Clients::new(config.rate_limit),
        hosts: Hosts::default(),
        public: cache::PublicCache::default(),
        // The build writes `.br` and `.gz` next to every compressible file: sent when the
        // browser accepts them (brotli first), the file itself otherwise.
        statics: config
            .static_dir
            .clone()
            .map(|dir| ServeDir::new(dir).precompressed_br().precompressed_gzip()),
        origins: EXCHANGES
            .iter()
            .map(|e| {
                let url = holdix_gate::upstream(&config.upstreams, e);
                (e.prefix, upstream::Origin::parse(url))
            })
            .collect(),
        policy: Policy {
            allow_origins: config.allow_origins.clone(),
            allow_no_origin: config.allow_no_origin,
        },
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

/// A JSON error, as every refusal is answered (its `Content-Type` is among the API headers
/// [`serve`] writes).
pub(crate) fn refused(r: &Refusal) -> Response {
    Upstream::refused(r).into_response()
}

/// Headers an answer gets as [`serve`] writes it, rather than through its header map (each
/// insert there hashes and may grow the map): [`holdix_gate::API_HEADERS`] on everything
/// that is not an app file, and the CORS headers for an allowed origin. They replace any
/// header of the same name the answer has (`Vary` is added to).
#[derive(Debug, Default)]
pub(crate) struct Added {
    pub api: bool,
    pub cors_origin: Option<String>,
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

/// Answers one request from `peer`, which arrived whole (head and body) at `started` (called by
/// [`serve`] directly: no router, as there is nothing to route before the checks below).
/// The clock is read once per request, there: everything after uses `started`.
async fn handle(
    shared: &Shared,
    peer: SocketAddr,
    req: Received,
    started: Instant,
) -> (Response, Added) {
    let (parts, body) = req.into_parts();
    let method = &parts.method;
    let client = limits::client_ip(peer.ip(), &parts.headers, &shared.config.trusted_proxies);
    let decision = holdix_gate::decide(
        &shared.policy,
        &holdix_gate::Head {
            method,
            path: parts.uri.path(),
            absolute: parts.uri.scheme().is_some() || parts.uri.authority().is_some(),
            headers: &parts.headers,
        },
    );
    let cors_origin = decision.cors_origin;
    let mut logged = false;
    let response = match decision.class {
        Class::Refuse(r) => refused(&r),
        Class::Batch => batch(shared, client, body, started).await,
        Class::Preflight(e) => match holdix_gate::preflight(e, &parts.headers) {
            Ok(headers) => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                response.headers_mut().extend(headers);
                response
            }
            Err(r) => refused(&r),
        },
        Class::Exchange { exchange, route } => {
            logged = true;
            let (response, allowed) =
                forward(shared, (exchange, route), client, (&parts, body), started).await;
            LogLine::new(method, Some(exchange), allowed).emit(
                "request",
                response.status(),
                started,
            );
            response
        }
        // Also answered cross-origin: the app polls it to notice the proxy is back.
        Class::Health => "ok".into_response(),
        Class::Other => match (
            shared.statics.clone(),
            matches!(*method, Method::GET | Method::HEAD),
        ) {
            (Some(dir), true) => {
                let req = serve::for_static(Received::from_parts(parts, body));
                let mut response = match tower::ServiceExt::oneshot(dir, req).await {
                    Ok(r) => r.into_response(),
                    Err(e) => match e {},
                };
                // The app ships its Content-Security-Policy in index.html, but
                // frame-ancestors only works as a header (see STATIC_HEADERS).
                let h = response.headers_mut();
                for (name, value) in STATIC_HEADERS {
                    h.insert(name, value);
                }
                holdix_gate::add_cors(h, cors_origin.as_deref());
                return (response, Added::default());
            }
            // Unknown paths spend the client's budget too: probing is not free.
            _ => match shared.clients.take(client) {
                Err(wait) => {
                    Upstream::too_many(&Refusal::too_many_from_address(""), wait).into_response()
                }
                Ok(()) => refused(&Refusal::unknown_exchange("")),
            },
        },
    };

    let status = response.status();
    if !logged && (status.is_client_error() || status.is_server_error()) {
        LogLine::new(method, None, None).emit("refused", status, started);
    }
    let added = Added {
        api: true,
        cors_origin,
    };
    (response, added)
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
    /// A refusal the proxy answers itself, in the shape of an exchange's answer.
    fn refused(r: &Refusal) -> Self {
        Self {
            status: r.status,
            headers: HeaderMap::new(),
            body: Bytes::from(r.body()),
        }
    }

    /// A 429 the proxy answers itself, with `Retry-After`.
    fn too_many(refusal: &Refusal, retry_after: u64) -> Self {
        let mut answer = Self::refused(refusal);
        answer
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        answer
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
    /// When the client's request was whole: the budgets and the upstream deadline count
    /// from here.
    started: Instant,
}

/// The client's token, then the route check: `Err` is the refusal to send back. The token
/// comes first so refused routes cost the client as much as allowed ones.
fn admit(
    shared: &Shared,
    exchange: &'static Exchange,
    method: &Method,
    route: &str,
    client: IpAddr,
) -> Result<&'static Route, Box<Upstream>> {
    if let Err(wait) = shared.clients.take(client) {
        return Err(Box::new(Upstream::too_many(
            &Refusal::too_many_from_address(route),
            wait,
        )));
    }
    holdix_gate::route(exchange, method, route).map_err(|r| Box::new(Upstream::refused(&r)))
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
    // Boxed: the shared answer's future holds the fetch several times over (about 8 KB), and
    // every private request would otherwise carry, and move, that much state.
    Box::pin(shared.public.get_or_fetch(key, budgeted(shared, out))).await
}

async fn budgeted(shared: &Shared, out: Outgoing<'_>) -> Upstream {
    let (exchange, route) = (out.exchange, out.route);
    if let Err(held) = shared
        .hosts
        .admit(exchange.prefix, exchange.budget, route.cost, out.started)
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
        let refusal = Refusal::new(StatusCode::TOO_MANY_REQUESTS, error, route.path);
        return Upstream::too_many(&refusal, wait);
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
    let Some(_slot) = shared.upstream_slots.take(shared.config.timeout).await else {
        return Upstream::refused(&Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the proxy is busy; try again",
            route,
        ));
    };
    let origin = shared
        .origins
        .iter()
        .find(|(prefix, _)| *prefix == out.exchange.prefix)
        .and_then(|(_, origin)| origin.as_ref());
    let Some(origin) = origin else {
        return Upstream::refused(&Refusal::bad_target(route));
    };
    let deadline = tokio::time::Instant::from_std(out.started) + shared.config.timeout;
    let sent = upstream::send(
        origin,
        (&out.route.method, out.route.path, out.query),
        &out.headers,
        &out.body,
        holdix_gate::passes_back,
        deadline,
    );
    let failed = match sent.await {
        Ok(answer) => return answer,
        Err(upstream::Failed::TimedOut) => Refusal::upstream_timeout(route),
        Err(upstream::Failed::Unreachable) => Refusal::upstream_unreachable(route),
        Err(upstream::Failed::CutOff) => Refusal::upstream_cut_off(route),
        Err(upstream::Failed::Unreadable) => Refusal::upstream_unreadable(route),
    };
    Upstream::refused(&failed)
}
/// The request's body, or the refusal for why it could not be read.
fn body_of(
    shared: &Shared,
    body: Result<Bytes, Unread>,
    route: &str,
) -> Result<Bytes, Box<Upstream>> {
    body.map_err(|unread| {
        Box::new(Upstream::refused(&match unread {
            Unread::TooSlow => Refusal::body_too_slow(route),
            Unread::TooLarge => Refusal::body_too_large(shared.config.max_body, route),
        }))
    })
}

/// One exchange request: admitted, then sent; also the allowed route, for the log line.
async fn forward(
    shared: &Shared,
    (exchange, route): (&'static Exchange, &str),
    client: IpAddr,
    (parts, body): (&axum::http::request::Parts, Result<Bytes, Unread>),
    started: Instant,
) -> (Response, Option<&'static Route>) {
    let route = match admit(shared, exchange, &parts.method, route, client) {
        Ok(route) => route,
        Err(refused) => return (refused.into_response(), None),
    };
    let body = match body_of(shared, body, route.path) {
        Ok(body) => body,
        Err(refused) => return (refused.into_response(), Some(route)),
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| holdix_gate::forwardable(exchange, route, name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let out = Outgoing {
        exchange,
        route,
        query: parts.uri.query(),
        headers,
        body,
        started,
    };
    (dispatch(shared, out).await.into_response(), Some(route))
}

/// `POST /batch` (format and checks in [`holdix_gate::batch`]): the items are sent
/// upstream concurrently, each checked exactly like a direct request.
async fn batch(
    shared: &Shared,
    client: IpAddr,
    body: Result<Bytes, Unread>,
    started: Instant,
) -> Response {
    let body = match body_of(shared, body, "/batch") {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let items = match batch::parse(&body) {
        Ok(items) => items,
        Err(r) => return refused(&r),
    };
    let one = |item: batch::Item| async move {
        let method = item.method();
        let (route, query) = item.target();
        let exchange = item.exchange();
        let mut allowed = None;
        let answer = match &exchange {
            Err(r) => Upstream::refused(r),
            Ok(exchange) => match admit(shared, exchange, &method, route, client) {
                Err(refused) => *refused,
                Ok(known) => {
                    allowed = Some(known);
                    let out = Outgoing {
                        exchange,
                        route: known,
                        query,
                        headers: item.forwarded_headers(exchange, known),
                        body: Bytes::from(item.body.clone()),
                        started,
                    };
                    dispatch(shared, out).await
                }
            },
        };
        LogLine::new(&method, exchange.as_ref().ok().copied(), allowed).emit(
            "batched request",
            answer.status,
            started,
        );
        batch::Answer::new(answer.status, &answer.headers, &answer.body)
    };
    let answers = futures_util::future::join_all(items.into_iter().map(one)).await;
    batch::answers_json(&answers).into_response()
}
