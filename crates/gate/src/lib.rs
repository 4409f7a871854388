//! `holdix-gate`: the proxy's rules, with no I/O. One rule set, two hosts: `holdix-proxy`
//! (self-hosted) and `holdix-edge` (a Cloudflare Worker) both ask this crate what
//! to do with a request and build their answers from what it says, so a change to the
//! allowlist or to a refusal changes both.
//!
//! * [`decide`]: the first look at a request (absolute URLs, origin, anonymous requests,
//!   which exchange, `/batch`, `/healthz`, preflights).
//! * [`route`]: the exact (method, path) allowlist per exchange ([`EXCHANGES`]).
//! * [`forwardable`] and [`passes_back`]: the headers that cross, each way.
//! * [`preflight`], [`add_cors`], [`API_HEADERS`]: what every answer carries.
//! * [`batch`]: the `/batch` format and its per-item checks.
//! * [`Refusal`]: every refusal's status and JSON body, word for word.
//! * [`battery`]: the requests every host must refuse, run against each of them.
//!
//! What is stateful stays in each host: per-client rate limits, the exchanges' per-IP
//! budgets, shared answers of public routes, timeouts.

use std::collections::BTreeMap;

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

pub mod batch;
pub mod battery;
pub mod exchanges;

pub use exchanges::{Budget, Exchange, Route, EXCHANGES};

/// A request the hosts answer themselves: status, a JSON error and the route it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub error: String,
    pub route: String,
}

impl Refusal {
    pub fn new(status: StatusCode, error: impl Into<String>, route: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            route: route.into(),
        }
    }

    /// The JSON body every refusal is answered with: `{"error":"…","route":"…"}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.error, "route": self.route }).to_string()
    }

    pub fn unknown_exchange(route: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown exchange", route)
    }

    pub fn too_many_from_address(route: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address",
            route,
        )
    }

    pub fn body_too_large(max_body: usize, route: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {max_body} bytes"),
            route,
        )
    }

    pub fn body_too_slow(route: &str) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
            route,
        )
    }

    pub fn upstream_timeout(route: &str) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "the exchange did not answer in time",
            route,
        )
    }

    pub fn upstream_unreachable(route: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "the exchange could not be reached",
            route,
        )
    }

    pub fn upstream_cut_off(route: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "the exchange's answer was cut off",
            route,
        )
    }

    /// The exchange answered with something that is not HTTP/1.1, or too much of it.
    pub fn upstream_unreadable(route: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "the exchange's answer could not be read",
            route,
        )
    }

    pub fn bad_target(route: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "the request target is not a valid URL",
            route,
        )
    }
}

/// Who may use a proxy: its allowed browser origins and whether requests with no Origin pass.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Allowed browser origins; `None` means the proxy's own origin plus http://127.0.0.1,
    /// http://localhost and http://[::1] on any port.
    pub allow_origins: Option<Vec<String>>,
    /// Accept exchange requests that carry no `Origin` and are not same-origin (scripts,
    /// command-line clients). Off by default: such requests are how another web page
    /// (an `<img>` pointing at the proxy) would spend the proxy's exchange quotas.
    pub allow_no_origin: bool,
}

impl Policy {
    /// An origin may use the proxy: its own origin (by `Host`), or one of the allowed.
    pub fn origin_allowed(&self, origin: &str, headers: &HeaderMap) -> bool {
        if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            let own = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            if own == Some(host) {
                return true;
            }
        }
        match &self.allow_origins {
            Some(list) => list.iter().any(|o| o.trim_end_matches('/') == origin),
            None => is_loopback_origin(origin),
        }
    }
}

/// `http://127.0.0.1:<any>`, `http://localhost:<any>`, `http://[::1]:<any>`, with or without port.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => rest,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// A request as it arrives, before any check.
pub struct Head<'a> {
    pub method: &'a Method,
    /// The request target's path, as received (not decoded, not normalized).
    pub path: &'a str,
    /// The request target was in absolute form (`GET http://host/…`).
    pub absolute: bool,
    pub headers: &'a HeaderMap,
}

/// What a request is, once [`decide`] has looked at it.
#[derive(Debug, PartialEq)]
pub enum Class<'a> {
    /// Answer with this refusal; nothing else to do.
    Refuse(Refusal),
    /// A CORS preflight for this exchange's routes (or [`BATCH`]'s): answer with [`preflight`].
    Preflight(&'static Exchange),
    /// A request for `exchange`: take the client's rate-limit token, then check `route`
    /// (the path after the prefix, as received) with [`route`].
    Exchange {
        exchange: &'static Exchange,
        route: &'a str,
    },
    /// `POST /batch`: read the body and hand it to [`batch::parse`].
    Batch,
    /// `/healthz`: answer `ok` (cross-origin too: the app polls it).
    Health,
    /// Not an API path: the app's files where a host serves them, otherwise take the
    /// client's token and answer [`Refusal::unknown_exchange`].
    Other,
}

/// The first look at a request, and the origin to echo in CORS headers (an allowed one).
#[derive(Debug, PartialEq)]
pub struct Decision<'a> {
    pub class: Class<'a>,
    pub cors_origin: Option<String>,
}

/// What a preflight for `/batch` may ask: JSON bodies only.
pub const BATCH: Exchange = Exchange {
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

/// Classifies a request: every check that needs no state.
pub fn decide<'a>(policy: &Policy, head: &Head<'a>) -> Decision<'a> {
    let path = head.path;
    let headers = head.headers;
    let exchange_prefix = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let exchange = Exchange::by_prefix(exchange_prefix);
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("").to_string());
    let origin_ok = origin
        .as_deref()
        .is_none_or(|o| policy.origin_allowed(o, headers));
    // Browsers send no Origin on same-origin GETs, but they do send Sec-Fetch-Site (which
    // no page can set); another site's `<img>` or link arrives with "cross-site".
    let same_origin = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "same-origin");
    let api = exchange.is_some() || path == "/batch";
    let anonymous = api && origin.is_none() && !same_origin && !policy.allow_no_origin;
    let refuse = |status, error: &str| Class::Refuse(Refusal::new(status, error, ""));

    let class = if head.absolute {
        refuse(StatusCode::BAD_REQUEST, "absolute URLs are not accepted")
    } else if !origin_ok {
        refuse(StatusCode::FORBIDDEN, "this origin may not use the proxy")
    } else if anonymous {
        refuse(
            StatusCode::FORBIDDEN,
            "requests without an allowed Origin are refused; for non-browser clients start \
             holdix-proxy with --allow-no-origin (on the Worker: set ALLOW_NO_ORIGIN to true)",
        )
    } else if path == "/batch" {
        match *head.method {
            Method::POST => Class::Batch,
            Method::OPTIONS => Class::Preflight(&BATCH),
            _ => Class::Refuse(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "the batch route takes POST",
                "/batch",
            )),
        }
    } else if let Some(exchange) = exchange {
        if *head.method == Method::OPTIONS {
            Class::Preflight(exchange)
        } else {
            Class::Exchange {
                exchange,
                route: &path[exchange.prefix.len() + 1..],
            }
        }
    } else if path == "/healthz" {
        Class::Health
    } else {
        Class::Other
    };
    Decision {
        class,
        cors_origin: origin.filter(|_| origin_ok),
    }
}

/// The allowed route for `method route` on `exchange`: byte-equal to an allowlisted path,
/// or refused.
pub fn route(
    exchange: &'static Exchange,
    method: &Method,
    route: &str,
) -> Result<&'static Route, Refusal> {
    exchange.route(method, route).ok_or_else(|| {
        Refusal::new(
            StatusCode::FORBIDDEN,
            format!("route not allowed: {method} /{}{route}", exchange.prefix),
            route,
        )
    })
}

/// Answers a CORS preflight for an allowed origin (the origin was checked by [`decide`]):
/// the headers of the 204, or the refusal.
pub fn preflight(
    exchange: &Exchange,
    headers: &HeaderMap,
) -> Result<[(HeaderName, HeaderValue); 3], Refusal> {
    let wanted_method = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    if !matches!(wanted_method, "GET" | "POST") {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "only GET and POST are proxied",
            "",
        ));
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
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("headers not forwarded: {}", refused.join(", ")),
            "",
        ));
    }
    Ok([
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_str(&allowed.join(", ")).expect("static header names"),
        ),
        (
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        ),
    ])
}

/// Only the exchange's auth headers, `Content-Type` and `Accept` go upstream; a public
/// route gets no auth header at all (its answer may be shared between users). `name` is
/// lower-case.
pub fn forwardable(exchange: &Exchange, route: &Route, name: &str) -> bool {
    name == "content-type"
        || name == "accept"
        || (exchange.auth_headers.contains(&name)
            && (!route.public || name == "x-simulated-trading"))
}

/// Rate-limit and usage headers the exchanges send, passed back to the app (prefixes).
const PASS_BACK_PREFIXES: &[&str] = &[
    "x-mbx-used-weight",
    "x-sapi-used",
    "x-bapi-limit",
    "x-ratelimit",
    "ratelimit",
];

/// Of an exchange's answer headers, only `Retry-After` and the rate-limit ones come back
/// (never `Set-Cookie`). `name` is lower-case.
pub fn passes_back(name: &str) -> bool {
    name == "retry-after" || PASS_BACK_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Set on everything that is not an app file: exchange answers (balances, key
/// permissions) are never stored by a browser or a shared cache, are always JSON to the
/// browser (an exchange edge's HTML error page must not become a page on the app's origin),
/// and could run nothing even if opened directly.
pub const API_HEADERS: [(HeaderName, HeaderValue); 4] = [
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

// Built at compile time, not checked byte by byte on every answer.
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
const EXPOSED: HeaderValue = HeaderValue::from_static("retry-after, x-mbx-used-weight-1m, x-sapi-used-ip-weight-1m, x-bapi-limit, x-bapi-limit-status, x-bapi-limit-reset-timestamp");

/// What [`add_cors`] adds besides `Access-Control-Allow-Origin` (for a host that writes an
/// answer's headers itself): `Vary: Origin`, appended to any `Vary` there is, and the
/// exchanges' rate-limit headers exposed to the app, replacing any list there is.
pub const CORS_HEADERS: [(HeaderName, HeaderValue); 2] = [
    (header::VARY, VARY_ORIGIN),
    (header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED),
];

/// CORS headers for an allowed origin ([`Decision::cors_origin`]).
pub fn add_cors(headers: &mut HeaderMap, origin: Option<&str>) {
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        let [(vary, vary_origin), (exposed, list)] = CORS_HEADERS;
        headers.append(vary, vary_origin);
        headers.insert(exposed, list);
    }
}

/// The upstream origin for an exchange: an override by prefix, then by family (tests point
/// these at the simulator), then the built-in host.
pub fn upstream<'a>(overrides: &'a BTreeMap<String, String>, exchange: &'a Exchange) -> &'a str {
    overrides
        .get(exchange.prefix)
        .or_else(|| overrides.get(exchange.family))
        .map(String::as_str)
        .unwrap_or(exchange.host)
        .trim_end_matches('/')
}

/// The URL a forwarded request goes to: upstream origin, the allowed route, the query as
/// received (it is signed).
pub fn upstream_url(
    overrides: &BTreeMap<String, String>,
    exchange: &Exchange,
    route: &Route,
    query: Option<&str>,
) -> String {
    let mut url = format!("{}{}", upstream(overrides, exchange), route.path);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Parses `okx=http://127.0.0.1:9101 binance=…` (space-separated): upstream overrides.
pub fn parse_overrides(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split_whitespace()
        .map(|pair| {
            let (name, url) = pair.split_once('=').ok_or("expected NAME=URL")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err("the upstream must be an http:// or https:// URL".to_string());
            }
            Ok((name.to_string(), url.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head<'a>(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> Head<'a> {
        Head {
            method,
            path,
            absolute: false,
            headers,
        }
    }

    fn with_origin(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h
    }

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
    fn decide_sorts_requests() {
        let policy = Policy::default();
        let h = with_origin("http://127.0.0.1:8080");
        let d = decide(&policy, &head(&Method::GET, "/okx/api/v5/public/time", &h));
        assert_eq!(
            d.class,
            Class::Exchange {
                exchange: Exchange::by_prefix("okx").unwrap(),
                route: "/api/v5/public/time"
            }
        );
        assert_eq!(d.cors_origin.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(
            decide(&policy, &head(&Method::POST, "/batch", &h)).class,
            Class::Batch
        );
        assert_eq!(
            decide(&policy, &head(&Method::OPTIONS, "/batch", &h)).class,
            Class::Preflight(&BATCH)
        );
        assert_eq!(
            decide(&policy, &head(&Method::GET, "/healthz", &h)).class,
            Class::Health
        );
        assert_eq!(
            decide(&policy, &head(&Method::GET, "/index.html", &h)).class,
            Class::Other
        );
        // A disallowed origin: refused, and never echoed.
        let evil = with_origin("https://evil.example");
        let d = decide(
            &policy,
            &head(&Method::GET, "/okx/api/v5/public/time", &evil),
        );
        assert!(matches!(d.class, Class::Refuse(ref r) if r.status == StatusCode::FORBIDDEN));
        assert_eq!(d.cors_origin, None);
        // No origin, not same-origin: refused unless allowed.
        let none = HeaderMap::new();
        let d = decide(
            &policy,
            &head(&Method::GET, "/okx/api/v5/public/time", &none),
        );
        assert!(matches!(d.class, Class::Refuse(_)));
        let open = Policy {
            allow_no_origin: true,
            ..Policy::default()
        };
        let d = decide(&open, &head(&Method::GET, "/okx/api/v5/public/time", &none));
        assert!(matches!(d.class, Class::Exchange { .. }));
    }

    #[test]
    fn preflight_lists_only_the_exchanges_headers() {
        let okx = Exchange::by_prefix("okx").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("GET"),
        );
        h.insert(
            "access-control-request-headers",
            HeaderValue::from_static("OK-ACCESS-KEY, content-type"),
        );
        let ok = preflight(okx, &h).unwrap();
        assert!(ok[1].1.to_str().unwrap().contains("ok-access-passphrase"));
        h.insert(
            "access-control-request-headers",
            HeaderValue::from_static("ok-access-key, cookie"),
        );
        assert_eq!(
            preflight(okx, &h).unwrap_err().error,
            "headers not forwarded: cookie"
        );
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("DELETE"),
        );
        assert_eq!(
            preflight(okx, &h).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn headers_cross_only_when_listed() {
        let okx = Exchange::by_prefix("okx").unwrap();
        let private = okx.route(&Method::GET, "/api/v5/account/balance").unwrap();
        let public = okx.route(&Method::GET, "/api/v5/public/time").unwrap();
        assert!(forwardable(okx, private, "ok-access-sign"));
        assert!(!forwardable(okx, public, "ok-access-sign"));
        assert!(forwardable(okx, public, "x-simulated-trading"));
        for name in [
            "cookie",
            "origin",
            "authorization",
            "x-forwarded-for",
            "x-mbx-apikey",
        ] {
            assert!(!forwardable(okx, private, name), "{name}");
        }
        assert!(passes_back("x-mbx-used-weight-1m"));
        assert!(passes_back("retry-after"));
        assert!(!passes_back("set-cookie"));
        assert!(!passes_back("server"));
    }

    #[test]
    fn upstream_overrides_by_prefix_then_family() {
        let o = parse_overrides("okx=http://127.0.0.1:1/okx okx-us=http://127.0.0.1:2/").unwrap();
        let get = |p| upstream(&o, Exchange::by_prefix(p).unwrap());
        assert_eq!(get("okx"), "http://127.0.0.1:1/okx");
        assert_eq!(get("okx-eea"), "http://127.0.0.1:1/okx");
        assert_eq!(get("okx-us"), "http://127.0.0.1:2");
        assert_eq!(get("binance"), "https://api.binance.com");
        assert!(parse_overrides("okx=file:///etc").is_err());
        assert!(parse_overrides("okx").is_err());
    }
}
