//! Property tests over the proxy's rules: generated request targets (allowlisted routes
//! with random segments, every percent-encoding of `.`, `/`, `\`, `;`, `@`, `%`, mixed case,
//! doubled encodings, unicode) reach an upstream only when the path is byte-equal to an
//! allowlisted route for that method, and then the upstream URL carries exactly the path
//! and query received. The same for `/batch` items. holdix-proxy's socket tests send
//! generated targets through the real server too (crates/proxy/tests/proxy.rs).
//!
//! Cases per property: `HOLDIX_PROPTEST_CASES` (1,000 by default).

use std::collections::BTreeMap;

use holdix_gate::{batch, decide, Class, Exchange, Head, Policy, EXCHANGES};
use http::{header, HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::sample::Index;

#[path = "common/targets.rs"]
mod targets;
use targets::{allowlisted, target};

fn cases() -> u32 {
    std::env::var("HOLDIX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn origin() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::ORIGIN,
        HeaderValue::from_static("http://127.0.0.1:8080"),
    );
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Direct requests: forwarded exactly when byte-equal to an allowlisted route, and then
    /// to the exchange's upstream with the same path and query.
    #[test]
    fn prop_only_allowlisted_paths_reach_an_upstream((method, path, query) in target()) {
        let headers = origin();
        let head = Head { method: &method, path: &path, absolute: false, headers: &headers };
        let forwarded = match decide(&Policy::default(), &head).class {
            Class::Exchange { exchange, route } => holdix_gate::route(exchange, &method, route)
                .ok()
                .map(|r| (exchange, r)),
            _ => None,
        };
        prop_assert_eq!(forwarded.is_some(), allowlisted(&method, &path), "{} {}", method, path);
        if let Some((exchange, route)) = forwarded {
            let overrides =
                BTreeMap::from([(exchange.family.to_string(), "http://127.0.0.1:9".to_string())]);
            let url = holdix_gate::upstream_url(&overrides, exchange, route, query.as_deref());
            let expected = match &query {
                Some(q) => format!("http://127.0.0.1:9{}?{q}", route.path),
                None => format!("http://127.0.0.1:9{}", route.path),
            };
            prop_assert_eq!(url, expected);
            prop_assert_eq!(format!("/{}{}", exchange.prefix, route.path), path);
        }
    }

    /// `/batch` items: the same rule, item by item.
    #[test]
    fn prop_batch_items_follow_the_same_rule(items in proptest::collection::vec(target(), 1..8)) {
        let json: Vec<serde_json::Value> = items
            .iter()
            .map(|(method, path, query)| {
                let rest = path.trim_start_matches('/');
                let (prefix, route) = rest.split_once('/').unwrap_or((rest, ""));
                let mut full = format!("/{route}");
                if let Some(q) = query {
                    full = format!("{full}?{q}");
                }
                serde_json::json!({"exchange": prefix, "method": method.as_str(), "path": full})
            })
            .collect();
        let parsed = batch::parse(serde_json::Value::Array(json).to_string().as_bytes()).unwrap();
        for (item, (method, path, query)) in parsed.iter().zip(&items) {
            let (route, q) = item.target();
            let passes = item
                .exchange()
                .ok()
                .and_then(|e| holdix_gate::route(e, &item.method(), route).ok().map(|r| (e, r)));
            // A `?` or `#` inside the generated path splits it differently in a batch item;
            // what passes must still be byte-equal to an allowlisted route.
            if let Some((e, r)) = passes {
                prop_assert_eq!(format!("/{}{}", e.prefix, r.path), format!("/{}{}", item.exchange, route));
                let full = format!("/{}{}", e.prefix, route);
                prop_assert!(allowlisted(&item.method(), &full), "{}", full);
                if !path.contains('?') {
                    prop_assert_eq!(q.map(str::to_string), query.clone());
                }
            } else {
                prop_assert!(!allowlisted(method, path) || path.contains('?'), "{} {}", method, path);
            }
        }
    }

    /// Forwarded headers: only the exchange's auth headers, Content-Type and Accept, whatever
    /// the names' case; on a public route none of the auth headers but x-simulated-trading.
    #[test]
    fn prop_only_listed_headers_go_upstream(
        e in any::<Index>(),
        r in any::<Index>(),
        names in proptest::collection::vec("[a-zA-Z-]{1,24}", 0..6),
        pick in proptest::collection::vec(any::<Index>(), 0..4),
    ) {
        let exchange: &Exchange = &EXCHANGES[e.index(EXCHANGES.len())];
        let route = &exchange.routes[r.index(exchange.routes.len())];
        let mut all: Vec<String> = names;
        for p in &pick {
            all.push(exchange.auth_headers[p.index(exchange.auth_headers.len())].to_ascii_uppercase());
        }
        let item = batch::Item {
            exchange: exchange.prefix.into(),
            method: route.method.to_string(),
            path: route.path.into(),
            headers: all.iter().map(|n| (n.clone(), "v".to_string())).collect(),
            body: String::new(),
        };
        for (name, _) in item.forwarded_headers(exchange, route) {
            let n = name.as_str();
            prop_assert!(n == "content-type" || n == "accept" || exchange.auth_headers.contains(&n), "{}", n);
            prop_assert!(!route.public || matches!(n, "x-simulated-trading" | "content-type" | "accept"), "{} on {}", n, route.path);
        }
    }
}
