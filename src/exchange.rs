//! Sending exchange requests through the proxy, and the OKX fetch flows: clock correction,
//! retries, permission check, and a whole-portfolio refresh. Request building, signing and
//! parsing are in `holdix_core::exchange`; this module only moves bytes and time.

use std::cell::Cell;
use std::rc::Rc;

use futures::future::{join, join4, join_all};
use holdix_core::exchange::okx::{self, AccountConfig, OkxError};
use holdix_core::exchange::{HttpRequest, HttpResponse};
use holdix_core::portfolio::{Holding, Position, Prices};
use holdix_core::records::Connection;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::browser::{sleep_ms, unix_ms};

/// How long one request may take before it counts as unreachable.
const TIMEOUT_MS: i32 = 15_000;
/// Pauses before retrying a rate-limited request.
const BACKOFF_MS: [i32; 2] = [500, 1_500];

/// A failed exchange call, ready to be explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Okx(OkxError),
    /// The proxy did not answer at all.
    Unreachable {
        proxy: String,
    },
}

impl FetchError {
    /// The message for the user, and the Connect-dialog field it belongs to.
    pub fn explain(&self) -> okx::Problem {
        match self {
            Self::Okx(e) => okx::explain(e),
            Self::Unreachable { proxy } => okx::Problem {
                field: okx::Field::General,
                message: format!(
                    "Cannot reach the proxy at {proxy}. Check your connection and that the proxy is running (the address is in Settings); your last snapshot stays on screen."
                ),
            },
        }
    }
}

impl From<OkxError> for FetchError {
    fn from(e: OkxError) -> Self {
        Self::Okx(e)
    }
}

/// Talks to exchanges through one proxy, with the exchange clock's offset measured once.
#[derive(Clone)]
pub struct Fetcher {
    proxy: String,
    offset_ms: Rc<Cell<Option<i64>>>,
}

impl Fetcher {
    pub fn new(proxy: &str) -> Self {
        Self {
            proxy: proxy.trim_end_matches('/').to_string(),
            offset_ms: Rc::default(),
        }
    }

    pub fn proxy(&self) -> &str {
        &self.proxy
    }

    /// Whether the proxy answers its health check.
    pub async fn proxy_answers(&self) -> bool {
        let health = HttpRequest {
            upstream: "healthz",
            method: "GET",
            path_and_query: String::new(),
            headers: Vec::new(),
            body: String::new(),
        };
        self.send(&health).await.is_ok_and(|r| r.status == 200)
    }

    /// Sends one request: `{proxy}/{upstream}{path}`.
    pub async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, FetchError> {
        let unreachable = || FetchError::Unreachable {
            proxy: self.proxy.clone(),
        };
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
        let abort = web_sys::AbortController::new().map_err(|_| unreachable())?;
        init.set_signal(Some(&abort.signal()));
        let request =
            web_sys::Request::new_with_str_and_init(&url, &init).map_err(|_| unreachable())?;
        let window = web_sys::window().ok_or_else(unreachable)?;
        // The abort callback lives until the request settles, then is dropped with the timer
        // cleared (a callback that never runs must not be leaked).
        let on_timeout = {
            let abort = abort.clone();
            wasm_bindgen::closure::Closure::once(move || abort.abort())
        };
        let timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                on_timeout.as_ref().unchecked_ref(),
                TIMEOUT_MS,
            )
            .ok();
        let result = async {
            let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
                .await
                .map_err(|_| unreachable())?
                .dyn_into()
                .map_err(|_| unreachable())?;
            let text = JsFuture::from(response.text().map_err(|_| unreachable())?)
                .await
                .map_err(|_| unreachable())?;
            Ok(HttpResponse {
                status: response.status(),
                body: text.as_string().unwrap_or_default(),
            })
        }
        .await;
        if let Some(id) = timer {
            window.clear_timeout_with_handle(id);
        }
        drop(on_timeout);
        result
    }

    /// Measures the exchange clock: offset = server time − the local time halfway through
    /// the round trip.
    pub async fn measure_clock(&self, region: Option<&str>) -> Result<i64, FetchError> {
        let before = unix_ms();
        let resp = self.send(&okx::public_get(region, okx::TIME)).await?;
        let after = unix_ms();
        let server = okx::parse_server_time(&resp)?;
        let offset = server - (before + after) / 2;
        self.offset_ms.set(Some(offset));
        Ok(offset)
    }

    async fn exchange_now(&self, region: Option<&str>) -> Result<i64, FetchError> {
        let offset = match self.offset_ms.get() {
            Some(o) => o,
            None => self.measure_clock(region).await?,
        };
        Ok(unix_ms() + offset)
    }

    /// A signed GET whose answer is not an OKX error: on a timestamp error the clock is
    /// measured again and the request retried once; rate limits are retried after pauses.
    /// (Not generic over the parser, so the retry logic exists once in the bundle.)
    pub async fn okx(&self, conn: &Connection, path: &str) -> Result<HttpResponse, FetchError> {
        let region = conn.options.region.as_deref();
        let mut clock_retried = false;
        let mut backoff = BACKOFF_MS.iter();
        loop {
            let req = okx::private_get(conn, path, self.exchange_now(region).await?)?;
            let resp = self.send(&req).await?;
            match okx::parse(&resp) {
                Err(e) if e.is_clock() && !clock_retried => {
                    clock_retried = true;
                    self.measure_clock(region).await?;
                }
                Err(e) if e.is_rate_limit() => match backoff.next() {
                    Some(ms) => sleep_ms(*ms).await,
                    None => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
                Ok(_) => return Ok(resp),
            }
        }
    }

    /// The key's configuration (permissions): the connection test.
    pub async fn test_connection(&self, conn: &Connection) -> Result<AccountConfig, FetchError> {
        Ok(okx::parse_config(&self.okx(conn, okx::CONFIG).await?)?)
    }

    /// Every account and position of one connection, fetched concurrently.
    pub async fn fetch_connection(
        &self,
        conn: &Connection,
    ) -> Result<(Vec<Holding>, Vec<Position>), FetchError> {
        let (a, b, c, d) = join4(
            self.okx(conn, okx::BALANCE),
            self.okx(conn, okx::FUNDING),
            self.okx(conn, okx::SAVINGS),
            self.okx(conn, okx::POSITIONS),
        )
        .await;
        Ok(parse_connection(&conn.id, &[a?, b?, c?, d?])?)
    }

    /// Prices from OKX's public spot tickers.
    pub async fn prices(&self) -> Result<Prices, FetchError> {
        let resp = self.send(&okx::public_get(None, okx::TICKERS)).await?;
        Ok(Prices::from_tickers(&okx::parse_tickers(&resp)?))
    }

    /// Sends several requests in one `POST {proxy}/batch` (browsers allow only six
    /// connections per origin); answers come back in order.
    pub async fn send_batch(&self, reqs: &[HttpRequest]) -> Result<Vec<HttpResponse>, FetchError> {
        // Typed, not `serde_json::Value`: a Value serializer would bring float formatting.
        #[derive(serde::Serialize)]
        struct Item<'a> {
            exchange: &'a str,
            method: &'a str,
            path: &'a str,
            headers: std::collections::BTreeMap<&'a str, &'a str>,
            body: &'a str,
        }
        let items: Vec<Item> = reqs
            .iter()
            .map(|r| Item {
                exchange: r.upstream,
                method: r.method,
                path: &r.path_and_query,
                headers: r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect(),
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
        let answers: Option<Vec<HttpResponse>> =
            serde_json::from_str::<serde_json::Value>(&resp.body)
                .ok()
                .and_then(|v| match v {
                    serde_json::Value::Array(items)
                        if resp.status == 200 && items.len() == reqs.len() =>
                    {
                        Some(items)
                    }
                    _ => None,
                })
                .and_then(|items| {
                    items
                        .iter()
                        .map(|a| {
                            Some(HttpResponse {
                                status: u16::try_from(a.get("status")?.as_u64()?).ok()?,
                                body: a.get("body")?.as_str()?.to_string(),
                            })
                        })
                        .collect()
                });
        answers.ok_or(FetchError::Okx(OkxError::Http {
            status: resp.status,
            detail: "the proxy has no batch route".into(),
        }))
    }

    /// Refreshes every connection and the prices in one batch round trip (after the clock
    /// is known). A connection whose answers ask for a retry (clock, rate limit) is fetched
    /// again on its own with retries; one connection failing does not stop the others.
    pub async fn refresh(&self, connections: &[Connection]) -> Refreshed {
        let region = connections
            .first()
            .and_then(|c| c.options.region.as_deref());
        let now = match self.exchange_now(region).await {
            Ok(now) => now,
            Err(e) => {
                let failed = connections
                    .iter()
                    .map(|c| (c.id.clone(), Err(e.clone())))
                    .collect();
                return (failed, Err(e));
            }
        };
        const PATHS: [&str; 4] = [okx::BALANCE, okx::FUNDING, okx::SAVINGS, okx::POSITIONS];
        let mut reqs = vec![okx::public_get(None, okx::TICKERS)];
        let mut plans = Vec::new();
        for conn in connections {
            let signed: Result<Vec<HttpRequest>, OkxError> = PATHS
                .iter()
                .map(|p| okx::private_get(conn, p, now))
                .collect();
            plans.push(signed.map(|r| {
                reqs.extend(r);
                reqs.len() - PATHS.len()
            }));
        }
        let Ok(answers) = self.send_batch(&reqs).await else {
            return self.refresh_one_by_one(connections).await;
        };
        let prices = okx::parse_tickers(&answers[0])
            .map(|t| Prices::from_tickers(&t))
            .map_err(FetchError::from);
        let mut results = Vec::new();
        let mut again = Vec::new();
        for (conn, plan) in connections.iter().zip(plans) {
            let parsed =
                plan.and_then(|at| parse_connection(&conn.id, &answers[at..at + PATHS.len()]));
            match parsed {
                Err(e) if e.is_clock() || e.is_rate_limit() => again.push(conn),
                other => results.push((conn.id.clone(), other.map_err(FetchError::from))),
            }
        }
        if !again.is_empty() {
            let retried = join_all(
                again
                    .iter()
                    .map(|c| async move { (c.id.clone(), self.fetch_connection(c).await) }),
            );
            results.extend(retried.await);
        }
        (results, prices)
    }

    /// The same without the batch route: every request on its own, concurrently.
    async fn refresh_one_by_one(&self, connections: &[Connection]) -> Refreshed {
        let per_connection = join_all(
            connections
                .iter()
                .map(|c| async move { (c.id.clone(), self.fetch_connection(c).await) }),
        );
        join(per_connection, self.prices()).await
    }
}

/// Per connection: its holdings and positions or why not; and the prices.
pub type Refreshed = (
    Vec<(String, Result<(Vec<Holding>, Vec<Position>), FetchError>)>,
    Result<Prices, FetchError>,
);

/// The four answers of one connection (balance, funding, savings, positions).
fn parse_connection(
    id: &str,
    answers: &[HttpResponse],
) -> Result<(Vec<Holding>, Vec<Position>), OkxError> {
    let mut holdings = okx::parse_trading(id, &answers[0])?;
    holdings.extend(okx::parse_funding(id, &answers[1])?);
    holdings.extend(okx::parse_savings(id, &answers[2])?);
    Ok((holdings, okx::parse_positions(id, &answers[3])?))
}
