//! Exchange modules, sans-IO: each turns (credentials, time, what to fetch) into a plain
//! [`HttpRequest`] and turns response bytes into typed data or a typed error. Only the app
//! sends bytes.

pub mod okx;

/// A request for the proxy: `{proxy}/{upstream}{path_and_query}`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
