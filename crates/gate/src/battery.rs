//! The refusal battery: requests every host must refuse before any upstream request,
//! with the status each gets. The pure rules are checked against it here; `holdix-proxy`'s
//! and `holdix-edge`'s tests send the same requests over sockets, with the exchange
//! simulator counting upstream requests.

use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use crate::{decide, route, Class, Head, Policy};

/// `(request line, status)`, sent from an allowed origin with no other header.
pub const REFUSED: &[(&str, u16)] = &[
    ("GET http://evil.example/api/v5/public/time", 400),
    ("GET http://user@127.0.0.1:1/okx/api/v5/public/time", 400),
    ("GET /okx@evil.example/api/v5/public/time", 404),
    ("GET /evil.example/api/v5/public/time", 404),
    ("GET /127.0.0.1/api/v5/public/time", 404),
    ("GET /127.0.0.1:9101/api/v5/public/time", 404),
    ("GET /[::1]/api/v5/public/time", 404),
    ("GET /okx/http://127.0.0.1/api/v5/public/time", 403),
    ("GET /okx//api/v5/public/time", 403),
    ("GET /okx/api/v5/../v5/account/balance", 403),
    ("GET /okx/api/v5/%2e%2e/v5/account/balance", 403),
    ("GET /okx/api/v5/%2E%2E/v5/account/balance", 403),
    ("GET /okx/api/v5/%252e%252e/v5/account/balance", 403),
    ("GET /okx/api%2Fv5%2Faccount%2Fbalance", 403),
    ("GET /okx/api/v5/account/balance/", 403),
    ("GET /okx/API/V5/ACCOUNT/BALANCE", 403),
    ("GET /okx/api/v5/account/balance;x", 403),
    ("GET /okx/api/v5/account/balance%00", 403),
    ("GET /okx/api/v5/account%5Cbalance", 403),
    ("GET /kraken/0/private/Balance", 404),
    ("POST /okx/api/v5/account/balance", 403),
    ("DELETE /okx/api/v5/account/balance", 403),
    ("PUT /binance/api/v3/account", 403),
    ("PATCH /bybit/v5/account/wallet-balance", 403),
    // Trade, withdraw and transfer for each exchange.
    ("POST /okx/api/v5/trade/order", 403),
    ("POST /okx/api/v5/asset/withdrawal", 403),
    ("POST /okx/api/v5/asset/transfer", 403),
    ("POST /okx-eea/api/v5/trade/order", 403),
    ("POST /okx-us/api/v5/trade/order", 403),
    ("POST /binance/api/v3/order", 403),
    ("POST /binance/sapi/v1/capital/withdraw/apply", 403),
    ("POST /binance/sapi/v1/asset/transfer", 403),
    ("POST /binance-futures/fapi/v1/order", 403),
    ("POST /binance-coinm/dapi/v1/order", 403),
    ("POST /bybit/v5/order/create", 403),
    ("POST /bybit/v5/asset/withdraw/create", 403),
    ("POST /bybit/v5/asset/transfer/inter-transfer", 403),
    ("POST /bybit-eu/v5/order/create", 403),
    ("POST /whitebit/api/v4/order/new", 403),
    ("POST /whitebit/api/v4/main-account/withdraw", 403),
    ("POST /whitebit/api/v4/main-account/transfer", 403),
    ("POST /whitebit-eu/api/v4/order/new", 403),
];

/// Request lines of [`REFUSED`] that an edge platform rewrites before a Worker sees them:
/// it parses the target as a WHATWG URL, so dot segments (also spelled `%2e`) are resolved
/// and an absolute-form target's authority is replaced by the Worker's own host. Each maps
/// to what the Worker gets; the Worker then decides on that, and whatever reaches the
/// exchange is byte-equal to an allowlisted route (its tests check that too).
pub const REWRITTEN_AT_THE_EDGE: &[(&str, &str)] = &[
    (
        "GET http://evil.example/api/v5/public/time",
        "GET /api/v5/public/time",
    ),
    (
        "GET http://user@127.0.0.1:1/okx/api/v5/public/time",
        "GET /okx/api/v5/public/time",
    ),
    (
        "GET /okx/api/v5/../v5/account/balance",
        "GET /okx/api/v5/account/balance",
    ),
    (
        "GET /okx/api/v5/%2e%2e/v5/account/balance",
        "GET /okx/api/v5/account/balance",
    ),
    (
        "GET /okx/api/v5/%2E%2E/v5/account/balance",
        "GET /okx/api/v5/account/balance",
    ),
];

/// What the pure rules answer for a request line from an allowed origin: the refusal's
/// status, or `None` when the request would be forwarded (or, for a non-API path, served
/// from the app's files where a host has them: counted as 404 here).
pub fn verdict(policy: &Policy, line: &str) -> Option<u16> {
    let (method, target) = line.split_once(' ').expect("METHOD target");
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    let absolute = !target.starts_with('/');
    let path = target.split('?').next().unwrap_or("");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ORIGIN,
        HeaderValue::from_static("http://127.0.0.1:8080"),
    );
    let decision = decide(
        policy,
        &Head {
            method: &method,
            path,
            absolute,
            headers: &headers,
        },
    );
    match decision.class {
        Class::Refuse(r) => Some(r.status.as_u16()),
        Class::Exchange { exchange, route: r } => {
            route(exchange, &method, r).err().map(|r| r.status.as_u16())
        }
        Class::Other => Some(StatusCode::NOT_FOUND.as_u16()),
        Class::Preflight(_) | Class::Batch | Class::Health => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pure_rules_refuse_the_whole_battery() {
        let policy = Policy::default();
        for (line, status) in REFUSED {
            assert_eq!(verdict(&policy, line), Some(*status), "{line}");
        }
    }

    /// The control: allowed routes of every exchange pass the same function.
    #[test]
    fn the_pure_rules_pass_every_allowed_route() {
        let policy = Policy::default();
        for exchange in crate::EXCHANGES {
            for r in exchange.routes {
                let line = format!("{} /{}{}?a=1", r.method, exchange.prefix, r.path);
                assert_eq!(verdict(&policy, &line), None, "{line}");
            }
        }
    }

    /// What the edge hands over for a rewritten line is itself either refused or an
    /// allowlisted route, and every rewritten line is in the battery.
    #[test]
    fn rewritten_lines_become_refusals_or_allowed_routes() {
        let policy = Policy::default();
        for (line, seen) in REWRITTEN_AT_THE_EDGE {
            assert!(REFUSED.iter().any(|(l, _)| l == line), "{line}");
            let (method, path) = seen.split_once(' ').unwrap();
            let allowed = crate::EXCHANGES.iter().any(|e| {
                e.routes.iter().any(|r| {
                    r.method.as_str() == method && format!("/{}{}", e.prefix, r.path) == path
                })
            });
            assert!(allowed || verdict(&policy, seen).is_some(), "{seen}");
        }
    }
}
