//! Exchange modules, sans-IO: each turns (credentials, time, what to fetch) into a plain
//! [`HttpRequest`] and turns response bytes into typed data or a typed error. Only the app
//! sends bytes.

pub mod okx;

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

/// What came back: the HTTP status and the body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
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
}
