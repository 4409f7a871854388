//! Generated request targets for the proxy's property tests: allowlisted routes with
//! random edits (tricky tokens, case changes, removals, repeats). Shared by the gate's
//! properties and holdix-proxy's socket properties.

use holdix_gate::EXCHANGES;
use http::Method;
use proptest::prelude::*;
use proptest::sample::Index;

/// Pieces that make paths tricky.
pub const TOKENS: &[&str] = &[
    ".",
    "..",
    "%2e",
    "%2E",
    "%2e%2e",
    "%2E%2e",
    ".%2e",
    "%252e",
    "%252e%252e",
    "/",
    "//",
    "%2f",
    "%2F",
    "%252f",
    "\\",
    "%5c",
    "%5C",
    ";",
    "%3b",
    ";x=1",
    "@",
    "%40",
    "%",
    "%25",
    "%00",
    "%0a",
    "é",
    "%C3%A9",
    "\u{2215}",
    "\u{ff0e}",
    "API",
    "Api",
    "v5",
    "account",
    "balance",
    "?",
    "#",
    " ",
    "%20",
    "okx",
    "binance",
    "http:",
    "127.0.0.1",
];

#[derive(Debug, Clone)]
enum Edit {
    /// Insert a token at a position (on a char boundary).
    Insert(Index, Index),
    /// Upper-case one character.
    Upper(Index),
    /// Remove one character.
    Remove(Index),
    /// Repeat the path's last segment.
    Repeat,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Insert(a, b)),
        any::<Index>().prop_map(Edit::Upper),
        any::<Index>().prop_map(Edit::Remove),
        Just(Edit::Repeat),
    ]
}

fn apply(path: &str, e: &Edit) -> String {
    let bounds: Vec<usize> = (0..=path.len())
        .filter(|i| path.is_char_boundary(*i))
        .collect();
    match e {
        Edit::Insert(at, token) => {
            let at = bounds[at.index(bounds.len())];
            format!(
                "{}{}{}",
                &path[..at],
                TOKENS[token.index(TOKENS.len())],
                &path[at..]
            )
        }
        Edit::Upper(at) | Edit::Remove(at) if bounds.len() > 1 => {
            let i = at.index(bounds.len() - 1);
            let (from, to) = (bounds[i], bounds[i + 1]);
            let new = if matches!(e, Edit::Upper(_)) {
                path[from..to].to_uppercase()
            } else {
                String::new()
            };
            format!("{}{new}{}", &path[..from], &path[to..])
        }
        Edit::Repeat => match path.rsplit_once('/') {
            Some((_, last)) => format!("{path}/{last}"),
            None => path.to_string(),
        },
        _ => path.to_string(),
    }
}

/// A request target: an allowlisted route of some exchange (its method or another), then
/// 0–3 edits, then a query.
pub fn target() -> impl Strategy<Value = (Method, String, Option<String>)> {
    (
        any::<Index>(),
        any::<Index>(),
        prop_oneof![
            Just(None),
            Just(Some(Method::GET)),
            Just(Some(Method::POST)),
            Just(Some(Method::DELETE)),
            Just(Some(Method::PUT)),
        ],
        proptest::collection::vec(edit(), 0..4),
        proptest::option::of("[a-zA-Z0-9=&%._~-]{0,40}"),
    )
        .prop_map(|(e, r, method, edits, query)| {
            let exchange = &EXCHANGES[e.index(EXCHANGES.len())];
            let route = &exchange.routes[r.index(exchange.routes.len())];
            let mut path = format!("/{}{}", exchange.prefix, route.path);
            for edit in &edits {
                path = apply(&path, edit);
            }
            (method.unwrap_or(route.method.clone()), path, query)
        })
}

/// Byte-equal to an allowlisted route of some exchange, under its prefix.
pub fn allowlisted(method: &Method, path: &str) -> bool {
    EXCHANGES.iter().any(|e| {
        e.routes
            .iter()
            .any(|r| r.method == *method && format!("/{}{}", e.prefix, r.path) == path)
    })
}
