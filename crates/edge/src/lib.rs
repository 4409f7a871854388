//! `holdix-edge`: holdix-proxy as a Cloudflare Worker. The rules are `holdix-gate`'s, the
//! same the self-hosted proxy asks; this crate is only the host: it turns the platform's
//! request into what the gate looks at, sends what the gate lets through with `fetch`, and
//! turns the gate's answers and refusals into responses.
//!
//! * `/{exchange}/{path}`, `POST /batch`, `/healthz`, preflights — as holdix-proxy.
//! * Allowed origins: the `ALLOWED_ORIGINS` variable (space-separated). Unset, only
//!   loopback origins pass (a local test), so a deployment must set it.
//!   `ALLOW_NO_ORIGIN = "true"` lets scripts through, as `--allow-no-origin` does.
//! * Upstream overrides only from `HOLDIX_TEST_UPSTREAMS` (`okx=http://127.0.0.1:9101 …`),
//!   a variable meant for tests against the exchange simulator.
//! * Per-client rate limit through the platform's rate-limiting binding `RATE_LIMITER`
//!   (keyed by the client's address, `CF-Connecting-IP`) where it is configured; without
//!   it there is no per-client limit (see the README).
//! * It logs nothing: no header, query or body leaves the Worker except to the exchange.
//!
//! What differs from holdix-proxy, by platform: the Worker sees the request URL after the
//! platform parsed it (dot segments resolved, an absolute-form target's authority replaced
//! by its own host, see `holdix_gate::battery::REWRITTEN_AT_THE_EDGE`), so those refusals
//! become decisions on the parsed path; whatever reaches an exchange is still byte-equal
//! to an allowlisted route. The exchanges' per-IP budgets and the shared answers of public
//! routes need state across requests that a Worker does not keep; Cloudflare's egress
//! addresses are many and shared, which is also why IP-restricted keys need the
//! self-hosted proxy.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::{select, Either};
use holdix_gate::{batch, Class, Exchange, Head, Policy, Refusal, Route};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use worker::{event, Context, Delay, Env, Fetch, Headers, Request, RequestInit, Response};

/// Largest request body, as holdix-proxy's default.
const MAX_BODY: usize = 64 * 1024;
/// How long an exchange may take to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// The platform's rate limiter counts in periods of this many seconds (see wrangler.toml).
const RATE_PERIOD_SECS: u64 = 10;

/// What the Worker's variables say, read once per request (they are in memory).
struct Setup {
    policy: Policy,
    upstreams: BTreeMap<String, String>,
}

impl Setup {
    fn from_env(env: &Env) -> Self {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        let origins = var("ALLOWED_ORIGINS").unwrap_or_default();
        let origins: Vec<String> = origins.split_whitespace().map(str::to_string).collect();
        Self {
            policy: Policy {
                allow_origins: (!origins.is_empty()).then_some(origins),
                allow_no_origin: var("ALLOW_NO_ORIGIN").as_deref() == Some("true"),
            },
            // A malformed test variable means no override: the real hosts, never a guess.
            upstreams: var("HOLDIX_TEST_UPSTREAMS")
                .and_then(|v| holdix_gate::parse_overrides(&v).ok())
                .unwrap_or_default(),
        }
    }
}

/// An answer before it becomes the platform's response.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn refused(r: &Refusal) -> Self {
        Self {
            status: r.status,
            headers: HeaderMap::new(),
            body: r.body().into_bytes(),
        }
    }

    fn too_many(route: &str) -> Self {
        let mut a = Self::refused(&Refusal::too_many_from_address(route));
        a.headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(RATE_PERIOD_SECS),
        );
        a
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let setup = Setup::from_env(&env);
    let (answer, cors_origin) = handle(&setup, &env, req).await;
    let mut headers = answer.headers;
    for (name, value) in holdix_gate::API_HEADERS {
        headers.insert(name, value);
    }
    holdix_gate::add_cors(&mut headers, cors_origin.as_deref());
    let out = Headers::new();
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            out.append(name.as_str(), value)?;
        }
    }
    let response = if answer.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(answer.body)?
    };
    Ok(response
        .with_status(answer.status.as_u16())
        .with_headers(out))
}

/// The request's headers as the gate reads them (names lower-case, as the platform gives them).
fn header_map(headers: &Headers) -> HeaderMap {
    headers
        .entries()
        .filter_map(|(k, v)| {
            Some((
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(&v).ok()?,
            ))
        })
        .collect()
}

async fn handle(setup: &Setup, env: &Env, mut req: Request) -> (Answer, Option<String>) {
    let headers = header_map(req.headers());
    let Ok(url) = req.url() else {
        return (Answer::refused(&Refusal::bad_target("")), None);
    };
    let method = Method::from_bytes(req.method().as_ref().as_bytes()).unwrap_or(Method::GET);
    let decision = holdix_gate::decide(
        &setup.policy,
        &Head {
            method: &method,
            path: url.path(),
            absolute: false,
            headers: &headers,
        },
    );
    let client = headers
        .get("cf-connecting-ip")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    let answer = match decision.class {
        Class::Refuse(r) => Answer::refused(&r),
        Class::Preflight(exchange) => match holdix_gate::preflight(exchange, &headers) {
            Ok(list) => Answer {
                status: StatusCode::NO_CONTENT,
                headers: list.into_iter().collect(),
                body: Vec::new(),
            },
            Err(r) => Answer::refused(&r),
        },
        Class::Health => Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: b"ok".to_vec(),
        },
        Class::Other => {
            if allowed_by_limiter(env, &client).await {
                Answer::refused(&Refusal::unknown_exchange(""))
            } else {
                Answer::too_many("")
            }
        }
        Class::Exchange { exchange, route } => {
            let route = route.to_string();
            match admit(env, &client, exchange, &method, &route).await {
                Err(refused) => refused,
                Ok(known) => match read_body(&headers, &mut req, known.path).await {
                    Err(r) => Answer::refused(&r),
                    Ok(body) => {
                        let forwarded = headers
                            .iter()
                            .filter(|(n, _)| holdix_gate::forwardable(exchange, known, n.as_str()))
                            .map(|(n, v)| (n.clone(), v.clone()))
                            .collect();
                        send(setup, exchange, known, url.query(), forwarded, body).await
                    }
                },
            }
        }
        Class::Batch => match read_body(&headers, &mut req, "/batch").await {
            Err(r) => Answer::refused(&r),
            Ok(body) => run_batch(setup, env, &client, &body).await,
        },
    };
    (answer, decision.cors_origin)
}

/// The client's rate-limit token first (refused routes cost as much as allowed ones), then
/// the route check: the allowed route, or the answer to send instead.
async fn admit(
    env: &Env,
    client: &str,
    exchange: &'static Exchange,
    method: &Method,
    route: &str,
) -> Result<&'static Route, Answer> {
    if !allowed_by_limiter(env, client).await {
        return Err(Answer::too_many(route));
    }
    holdix_gate::route(exchange, method, route).map_err(|r| Answer::refused(&r))
}

/// The platform's rate limiter, where the `RATE_LIMITER` binding is configured.
async fn allowed_by_limiter(env: &Env, client: &str) -> bool {
    match env.rate_limiter("RATE_LIMITER") {
        // If the limiter itself fails, the request passes: the exchange's own limits
        // still hold, and a user's refresh is not refused for the platform's fault.
        Ok(limiter) => limiter
            .limit(client.to_string())
            .await
            .map_or(true, |o| o.success),
        Err(_) => true,
    }
}

/// The request body within [`MAX_BODY`] (by its declared length first, so an oversize one
/// is refused unread).
async fn read_body(
    headers: &HeaderMap,
    req: &mut Request,
    route: &str,
) -> Result<Vec<u8>, Refusal> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if declared > MAX_BODY {
        return Err(Refusal::body_too_large(MAX_BODY, route));
    }
    let body = req
        .bytes()
        .await
        .map_err(|_| Refusal::body_too_slow(route))?;
    if body.len() > MAX_BODY {
        return Err(Refusal::body_too_large(MAX_BODY, route));
    }
    Ok(body)
}

/// Sends one admitted request to the exchange; only status, body and the rate-limit
/// headers come back.
async fn send(
    setup: &Setup,
    exchange: &Exchange,
    route: &Route,
    query: Option<&str>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
) -> Answer {
    let path = route.path;
    let url = holdix_gate::upstream_url(&setup.upstreams, exchange, route, query);
    let out = Headers::new();
    let _ = out.set(
        "user-agent",
        concat!("holdix-edge/", env!("CARGO_PKG_VERSION")),
    );
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            let _ = out.append(name.as_str(), value);
        }
    }
    let mut init = RequestInit::new();
    init.with_method(if route.method == Method::POST {
        worker::Method::Post
    } else {
        worker::Method::Get
    })
    .with_headers(out)
    // Redirects are answers to pass on, never to follow.
    .with_redirect(worker::RequestRedirect::Manual);
    if route.method == Method::POST {
        init.with_body(Some(
            worker::js_sys::Uint8Array::from(body.as_slice()).into(),
        ));
    }
    let Ok(request) = Request::new_with_init(&url, &init) else {
        return Answer::refused(&Refusal::bad_target(path));
    };
    let exchange_answer = async {
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|_| Refusal::upstream_unreachable(path))?;
        let status = StatusCode::from_u16(response.status_code())
            .map_err(|_| Refusal::upstream_unreachable(path))?;
        let mut kept = HeaderMap::new();
        for (name, value) in response.headers().entries() {
            if holdix_gate::passes_back(&name) {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    kept.append(n, v);
                }
            }
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| Refusal::upstream_cut_off(path))?;
        Ok::<_, Refusal>(Answer {
            status,
            headers: kept,
            body,
        })
    };
    let timer = Delay::from(UPSTREAM_TIMEOUT);
    match select(Box::pin(exchange_answer), timer).await {
        Either::Left((Ok(answer), _)) => answer,
        Either::Left((Err(r), _)) => Answer::refused(&r),
        Either::Right(_) => Answer::refused(&Refusal::upstream_timeout(path)),
    }
}

/// `POST /batch`: each item checked like a direct request, all sent at once.
async fn run_batch(setup: &Setup, env: &Env, client: &str, body: &[u8]) -> Answer {
    let items = match batch::parse(body) {
        Ok(items) => items,
        Err(r) => return Answer::refused(&r),
    };
    let one = |item: batch::Item| async move {
        let method = item.method();
        let (route, query) = item.target();
        let answer = match item.exchange() {
            Err(r) => Answer::refused(&r),
            Ok(exchange) => match admit(env, client, exchange, &method, route).await {
                Err(refused) => refused,
                Ok(known) => {
                    let headers = item.forwarded_headers(exchange, known);
                    let body = item.body.clone().into_bytes();
                    send(setup, exchange, known, query, headers, body).await
                }
            },
        };
        batch::Answer::new(answer.status, &answer.headers, &answer.body)
    };
    let answers = futures_util::future::join_all(items.into_iter().map(one)).await;
    Answer {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: batch::answers_json(&answers).into_bytes(),
    }
}
