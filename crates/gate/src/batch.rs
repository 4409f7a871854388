//! `POST /batch`: several exchange requests in one browser request, each checked exactly
//! like a direct one. Browsers open at most six HTTP/1.1 connections per origin; a refresh
//! needs more requests than that at once.
//!
//! Body: `[{"exchange":"okx","method":"GET","path":"/api/v5/…?…","headers":{…},"body":""}]`.
//! Answer: `[{"status":200,"headers":{…},"body":"…"}]`, in the same order.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::{forwardable, Exchange, Refusal, Route};

/// Most requests one batch may carry.
pub const MAX: usize = 32;

/// One request inside a batch.
#[derive(Debug, serde::Deserialize)]
pub struct Item {
    #[serde(default)]
    pub exchange: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
}

/// One answer inside a batch.
#[derive(Debug, serde::Serialize)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// The batch's items, or the refusal of the whole batch.
pub fn parse(body: &[u8]) -> Result<Vec<Item>, Refusal> {
    let Ok(items) = serde_json::from_slice::<Vec<Item>>(body) else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "the batch is not a JSON array of requests",
            "/batch",
        ));
    };
    if items.is_empty() || items.len() > MAX {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("a batch holds 1 to {MAX} requests"),
            "/batch",
        ));
    }
    Ok(items)
}

impl Item {
    /// The method asked for (an unknown spelling is checked as GET, and so refused unless
    /// GET of the same path is allowed).
    pub fn method(&self) -> Method {
        Method::from_bytes(self.method.as_bytes()).unwrap_or(Method::GET)
    }

    /// The route (path before `?`) and the query.
    pub fn target(&self) -> (&str, Option<&str>) {
        match self.path.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (self.path.as_str(), None),
        }
    }

    /// The exchange named, or the item's refusal.
    pub fn exchange(&self) -> Result<&'static Exchange, Refusal> {
        Exchange::by_prefix(&self.exchange)
            .ok_or_else(|| Refusal::unknown_exchange(self.target().0))
    }

    /// The item's headers that may go upstream (names lower-cased; invalid ones dropped).
    pub fn forwarded_headers(
        &self,
        exchange: &Exchange,
        route: &Route,
    ) -> Vec<(HeaderName, HeaderValue)> {
        self.headers
            .iter()
            .filter_map(|(k, v)| {
                let name = HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).ok()?;
                let value = HeaderValue::from_str(v).ok()?;
                forwardable(exchange, route, name.as_str()).then_some((name, value))
            })
            .collect()
    }
}

impl Answer {
    /// An answer from status, the headers that came back and the body.
    pub fn new(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        Self {
            status: status.as_u16(),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    pub fn refused(refusal: &Refusal) -> Self {
        Self::new(refusal.status, &HeaderMap::new(), refusal.body().as_bytes())
    }
}

/// The batch's answer body.
pub fn answers_json(answers: &[Answer]) -> String {
    serde_json::to_string(answers).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_batch_refusals() {
        assert_eq!(parse(b"{}").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(
            parse(b"[]").unwrap_err().error,
            "a batch holds 1 to 32 requests"
        );
        let many = format!("[{}]", vec!["{}"; MAX + 1].join(","));
        assert!(parse(many.as_bytes()).is_err());
        assert_eq!(parse(b"[{}]").unwrap().len(), 1);
    }

    #[test]
    fn items_are_checked_like_direct_requests() {
        let items = parse(
            br#"[{"exchange":"okx","method":"GET","path":"/api/v5/account/balance?ccy=BTC",
                  "headers":{"OK-ACCESS-KEY":"k","Cookie":"c"}},
                 {"exchange":"kraken","path":"/0/private/Balance"}]"#,
        )
        .unwrap();
        let okx = items[0].exchange().unwrap();
        let (route, query) = items[0].target();
        assert_eq!(query, Some("ccy=BTC"));
        let route = crate::route(okx, &items[0].method(), route).unwrap();
        let headers = items[0].forwarded_headers(okx, route);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "ok-access-key");
        assert_eq!(
            items[1].exchange().unwrap_err().status,
            StatusCode::NOT_FOUND
        );
    }
}
