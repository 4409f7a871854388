//! Moving bytes: exchange requests through the proxy (one at a time or in one `/batch`),
//! and the loop that performs what core's refresh and key-check state machine
//! (`holdix_core::exchange::refresh`) asks for. Building, signing, parsing, retries and
//! clocks are all decided in core.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::{join_all, LocalBoxFuture};
use holdix_core::exchange::refresh::{Clocks, Outcome, Report, Run, Step};
use holdix_core::exchange::{
    exchange, Accepted, ErrorKind, ExchangeError, HttpRequest, HttpResponse,
};
use holdix_core::records::Connection;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::browser::{sleep_ms, unix_ms};

/// Bybit's header: the exchange-clock millisecond its rate limit resets.
const LIMIT_RESET: &str = "x-bapi-limit-reset-timestamp";

/// A header's whole number (one parser for both headers: one copy in the bundle).
fn number(header: Option<String>) -> Option<i64> {
    header.and_then(|v| v.trim().parse().ok())
}

fn seconds(header: Option<String>) -> Option<u64> {
    number(header).and_then(|n| u64::try_from(n).ok())
}

/// How long one request may take before it counts as unreachable.
const TIMEOUT_MS: u32 = 15_000;

/// Talks to exchanges through one proxy, keeping each exchange host's clock offset.
#[derive(Clone)]
pub struct Fetcher {
    proxy: String,
    clocks: Rc<RefCell<Clocks>>,
}

impl Fetcher {
    pub fn new(proxy: &str) -> Self {
        Self {
            proxy: proxy.trim_end_matches('/').to_string(),
            clocks: Rc::default(),
        }
    }

    pub fn proxy(&self) -> &str {
        &self.proxy
    }

    fn unreachable(&self) -> ExchangeError {
        ExchangeError::unreachable(&self.proxy)
    }

    /// Whether the proxy answers its health check.
    pub async fn proxy_answers(&self) -> bool {
        let health = HttpRequest::public_get("healthz", "");
        self.send(&health).await.is_ok_and(|r| r.status == 200)
    }

    /// Sends one request: `{proxy}/{upstream}{path}`, never from or into the HTTP cache.
    /// (Boxed, like [`Fetcher::drive`]: one copy in the bundle, however many callers.)
    pub fn send<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<HttpResponse, ExchangeError>> {
        Box::pin(self.send_now(req))
    }

    async fn send_now(&self, req: &HttpRequest) -> Result<HttpResponse, ExchangeError> {
        let unreachable = || self.unreachable();
        let url = format!("{}/{}{}", self.proxy, req.upstream, req.path_and_query);
        let headers = web_sys::Headers::new().map_err(|_| unreachable())?;
        for (name, value) in &req.headers {
            headers.set(name, value).map_err(|_| unreachable())?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(req.method);
        // Balances and key permissions never go into the browser's HTTP cache (the proxy
        // says no-store too; this holds whatever proxy is configured).
        init.set_cache(web_sys::RequestCache::NoStore);
        init.set_headers(&headers);
        if !req.body.is_empty() {
            init.set_body(&JsValue::from_str(&req.body));
        }
        // The browser's own timer aborts a request that takes too long (no callback of ours
        // to keep alive or clear).
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS)));
        let request =
            web_sys::Request::new_with_str_and_init(&url, &init).map_err(|_| unreachable())?;
        let window = web_sys::window().ok_or_else(unreachable)?;
        let result = async {
            let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
                .await
                .map_err(|_| unreachable())?
                .dyn_into()
                .map_err(|_| unreachable())?;
            let text = JsFuture::from(response.text().map_err(|_| unreachable())?)
                .await
                .map_err(|_| unreachable())?;
            let header = |name: &str| response.headers().get(name).ok().flatten();
            Ok(HttpResponse {
                status: response.status(),
                body: text.as_string().unwrap_or_default(),
                retry_after_s: seconds(header("retry-after")),
                limit_reset_ms: number(header(LIMIT_RESET)),
            })
        }
        .await;
        result
    }

    /// Sends several requests in one `POST {proxy}/batch` (browsers allow only six
    /// connections per origin); answers come back in order. A proxy without the batch route
    /// gets them one by one, concurrently.
    pub async fn send_batch(
        &self,
        reqs: &[HttpRequest],
    ) -> Result<Vec<HttpResponse>, ExchangeError> {
        // Typed, not `serde_json::Value`: a Value serializer would bring float formatting.
        #[derive(serde::Serialize)]
        struct Item<'a> {
            exchange: &'a str,
            method: &'a str,
            path: &'a str,
            headers: std::collections::BTreeMap<&'a str, &'a str>,
            body: &'a str,
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            status: u16,
            #[serde(default)]
            headers: AnswerHeaders,
            body: String,
        }
        /// The headers the app reads (a struct, not a map: smaller in the bundle).
        #[derive(serde::Deserialize, Default)]
        struct AnswerHeaders {
            #[serde(rename = "retry-after", default)]
            retry_after: Option<String>,
            #[serde(rename = "x-bapi-limit-reset-timestamp", default)]
            limit_reset: Option<String>,
        }
        let items: Vec<Item> = reqs
            .iter()
            .map(|r| Item {
                exchange: r.upstream,
                method: r.method,
                path: &r.path_and_query,
                // Inserted one by one: collecting into a map compiles a sort into the bundle.
                headers: r.headers.iter().fold(
                    std::collections::BTreeMap::new(),
                    |mut m, (k, v)| {
                        m.insert(*k, v.as_str());
                        m
                    },
                ),
                body: &r.body,
            })
            .collect();
        let request = HttpRequest {
            upstream: "batch",
            method: "POST",
            path_and_query: String::new(),
            headers: vec![("Content-Type", "application/json".into())],
            body: serde_json::to_string(&items).unwrap_or_default(),
        };
        let resp = self.send(&request).await?;
        let answers = serde_json::from_str::<Vec<Answer>>(&resp.body)
            .ok()
            .filter(|a| resp.status == 200 && a.len() == reqs.len());
        match answers {
            Some(answers) => Ok(answers
                .into_iter()
                .map(|a| HttpResponse {
                    status: a.status,
                    retry_after_s: seconds(a.headers.retry_after),
                    limit_reset_ms: number(a.headers.limit_reset),
                    body: a.body,
                })
                .collect()),
            None => join_all(reqs.iter().map(|r| self.send(r)))
                .await
                .into_iter()
                .collect(),
        }
    }

    /// Performs what `run` asks until it is done.
    fn drive<'a>(&'a self, run: Run<'a>) -> LocalBoxFuture<'a, Report> {
        Box::pin(self.drive_now(run))
    }

    async fn drive_now(&self, mut run: Run<'_>) -> Report {
        loop {
            match run.next(unix_ms()) {
                Step::MeasureClocks(keys) => {
                    let measured = join_all(keys.into_iter().map(|key| async move {
                        let before = unix_ms();
                        let answer = self.send(&exchange(key.0).time_request(key.1)).await;
                        (key, before, unix_ms(), answer)
                    }))
                    .await;
                    for (key, before, after, answer) in measured {
                        run.clock_answer(key, before, after, answer);
                    }
                }
                Step::Send(requests) => {
                    let answers = self.send_batch(&requests).await;
                    run.answered(answers);
                }
                Step::Wait(ms) => sleep_ms(i32::try_from(ms).unwrap_or(i32::MAX)).await,
                Step::Done => break,
            }
        }
        let mut report = run.finish();
        *self.clocks.borrow_mut() = report.clocks.clone();
        // A key bound to addresses: the exchange sees the proxy's address, so say which proxy.
        for (_, result) in &mut report.results {
            if let Err(e) = result {
                if e.kind == ErrorKind::Ip {
                    e.problem.message = format!(
                        "{} (The proxy in use is {}; its address is the one it sends from.)",
                        e.problem.message, self.proxy
                    );
                }
            }
        }
        report
    }

    /// Every connection and the prices of their exchanges.
    pub async fn refresh(&self, connections: &[Connection]) -> Report {
        let clocks = self.clocks.borrow().clone();
        self.drive(Run::refresh(connections, clocks)).await
    }

    /// The key check of Connect and Re-test: what to know of a key Holdix uses (a note, its
    /// expiry), or why not.
    pub async fn verify_key(&self, connection: &Connection) -> Result<Accepted, ExchangeError> {
        let clocks = self.clocks.borrow().clone();
        let report = self.drive(Run::verify(connection, clocks)).await;
        match report.results.into_iter().next().map(|(_, r)| r) {
            Some(Ok(Outcome::Verdict(verdict))) => verdict.accept(),
            Some(Ok(Outcome::Fetched(_))) | None => Err(self.unreachable()),
            Some(Err(e)) => Err(e),
        }
    }
}
