//! The clients' side: the accept loop, the event loops, and HTTP/1.1 on each connection.
//!
//! * One event loop per core, as nginx runs its workers (see [`serve`]).
//! * At most [`crate::Config::max_connections`] connections are open; further ones wait in
//!   the kernel's backlog (they hold no file descriptor of ours).
//! * A connection must deliver a request's head within `header_timeout` of opening (or of its
//!   previous answer), and its body within `body_timeout` of the head: a client trickling
//!   bytes, or idling, is closed. Every request is answered within `request_deadline`,
//!   whatever the exchange does, and a client that will not take its answer within that time
//!   is closed.
//! * Heads are parsed by `httparse` (the parser hyper uses), at most [`MAX_HEAD`] bytes and
//!   [`MAX_HEADERS`] headers; bodies are framed by [`crate::wire`] (a length, or chunked; both
//!   at once, or lengths that disagree, are refused and the connection closed). Requests on a
//!   connection are answered in order; HTTP/1.0 and `Connection: close` end it after the
//!   answer. The answer goes out in one write.
//!
//! Why not hyper's server: with it and hyper's pooled client, holdix-proxy spent about 13 µs
//! of user CPU per forwarded request against nginx's 5 (the kernel's share being the same),
//! and the difference was spread thin over their general machinery (header maps rebuilt at
//! each step, bodies boxed and polled, requests and answers passed between tasks). What a
//! thin proxy needs of HTTP/1.1 is this much; the measured effect is in the README.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};

use crate::wire::{self, BodyError, Framing, MAX_HEAD, MAX_HEADERS};
use crate::{handle, shared, Added, Config};
use holdix_gate::Refusal;

/// Serves the proxy on `listener` until `shutdown` resolves; then stops accepting, closes
/// idle connections and lets open requests finish (for at most the request deadline).
///
/// One event loop per core, as nginx runs one worker per core: this runtime accepts, and
/// deals connections in turn to itself and to `config.threads - 1` threads that each run a
/// single-threaded runtime. A connection then lives on one thread from accept to close, with
/// its upstream connections (the upstream pool is per thread, see [`crate::upstream`]): no
/// request hops between threads. What must be shared (the per-address and per-host budgets,
/// the public answers, the connection and upstream limits) is behind `Arc`s and locks held
/// for a few instructions.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let threads = config.threads.max(1);
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let own = Loop {
        header_timeout: config.header_timeout,
        body_timeout: config.body_timeout,
        deadline: config.request_deadline,
        max_body: config.max_body,
        stop: Arc::default(),
        shared: shared(config),
    };
    let mut others = Vec::new();
    let mut hands = Vec::new();
    for i in 1..threads {
        let (hand, dealt) = mpsc::unbounded_channel::<Dealt>();
        let each = Loop {
            stop: Arc::default(),
            ..own.clone()
        };
        let thread = std::thread::Builder::new()
            .name(format!("holdix-proxy-{i}"))
            .spawn(move || -> std::io::Result<()> {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(each.serve_dealt(dealt));
                Ok(())
            })?;
        others.push(thread);
        hands.push(hand);
    }
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    for turn in (0..threads).cycle() {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Some(hand) = turn.checked_sub(1).and_then(|i| hands.get(i)) else {
            own.serve(stream, peer, permit, open.clone());
            continue;
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        // A loop whose thread could not start takes nothing: this one serves it instead.
        if let Err(mpsc::error::SendError((stream, peer, permit))) =
            hand.send((stream, peer, permit))
        {
            if let Ok(stream) = TcpStream::from_std(stream) {
                own.serve(stream, peer, permit, open.clone());
            }
        }
    }
    drop(listener);
    own.stop.begin();
    // The other loops stop, and finish their connections once no more are dealt.
    drop(hands);
    drop(open);
    let _ = timeout(own.deadline, all_closed.recv()).await;
    for thread in others {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    Ok(())
}

/// Stopping, as one event loop sees it. Each loop has its own, set by itself when the
/// dealing of connections ends, so that no connection waits on state another thread writes
/// (with one signal for all, every request would touch memory shared by every core).
#[derive(Default)]
struct Stop {
    set: AtomicBool,
    announced: Notify,
}

impl Stop {
    fn begin(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.announced.notify_waiters();
    }

    fn is_set(&self) -> bool {
        self.set.load(Ordering::Relaxed)
    }
}

/// A connection dealt to another loop, with its place under the connection limit.
type Dealt = (std::net::TcpStream, SocketAddr, OwnedSemaphorePermit);

/// What every event loop serves with: the proxy's shared state and the per-connection
/// limits.
#[derive(Clone)]
struct Loop {
    header_timeout: Duration,
    body_timeout: Duration,
    deadline: Duration,
    max_body: usize,
    /// This loop's own: idle connections close, busy ones after the answer.
    stop: Arc<Stop>,
    shared: Arc<crate::Shared>,
}

impl Loop {
    /// Serves every connection dealt to this loop, until the dealing stops; then waits for
    /// its connections to finish, for at most the request deadline.
    async fn serve_dealt(self, mut dealt: mpsc::UnboundedReceiver<Dealt>) {
        let (open, mut all_closed) = mpsc::channel::<()>(1);
        while let Some((stream, peer, permit)) = dealt.recv().await {
            if let Ok(stream) = TcpStream::from_std(stream) {
                self.serve(stream, peer, permit, open.clone());
            }
        }
        self.stop.begin();
        drop(open);
        let _ = timeout(self.deadline, all_closed.recv()).await;
    }

    /// Serves one connection on this loop's runtime; `open` is dropped when it closes.
    fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
        open: mpsc::Sender<()>,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            this.connection(stream, peer).await;
            drop((permit, open));
        });
    }

    async fn connection(self, mut stream: TcpStream, peer: SocketAddr) {
        let mut buf = BytesMut::with_capacity(wire::READ_SIZE);
        let mut out = Vec::with_capacity(4096);
        // One timer for the head and one for the answer, moved on at each request: pushing a
        // timer's deadline later costs no trip to tokio's timer wheel, a new timer two.
        let head_timer = tokio::time::sleep(self.header_timeout);
        let answer_timer = tokio::time::sleep(self.deadline);
        // Created before the flag is read: a stop after this point wakes it.
        let stopped = self.stop.announced.notified();
        tokio::pin!(head_timer, answer_timer, stopped);
        if self.stop.is_set() {
            return;
        }
        loop {
            head_timer
                .as_mut()
                .reset(Instant::now() + self.header_timeout);
            let head = loop {
                match parse_head(&buf) {
                    Ok(Some(head)) => break Ok(head),
                    Ok(None) if buf.len() >= MAX_HEAD => break Err(Malformed::TooLarge),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                }
                wire::room(&mut buf);
                tokio::select! {
                    biased;
                    read = stream.read_buf(&mut buf) => match read {
                        Ok(n) if n > 0 => {}
                        // Closed or failed: nothing to answer.
                        _ => return,
                    },
                    // Too slow (or idle too long).
                    () = &mut head_timer => return,
                    // Stopping: a connection between requests closes now.
                    () = &mut stopped, if buf.is_empty() => return,
                }
            };
            let head = match head {
                Ok(head) => head,
                Err(e) => return self.refuse(&mut stream, &mut out, &e.refusal()).await,
            };
            bytes::Buf::advance(&mut buf, head.length);
            let Head {
                request,
                framing,
                keep_alive,
                expects_continue,
                ..
            } = head;
            let go_on = b"HTTP/1.1 100 Continue\r\n\r\n";
            if expects_continue
                && framing != Framing::Empty
                && !matches!(
                    timeout(self.deadline, stream.write_all(go_on)).await,
                    Ok(Ok(()))
                )
            {
                return;
            }
            // Read before the handlers run, so that they never wait on the client; a body
            // that is too large or too slow is theirs to refuse (with the CORS headers the
            // app needs to read the refusal), and the connection closes after.
            let now = Instant::now();
            let body = match framing {
                Framing::Empty => Ok(Ok(Bytes::new())),
                _ => {
                    timeout_at(
                        now + self.body_timeout,
                        wire::read_body(&mut stream, &mut buf, &framing, self.max_body),
                    )
                    .await
                }
            };
            let body = match body {
                Ok(Ok(body)) => Ok(body),
                Ok(Err(BodyError::Closed)) => return,
                Ok(Err(BodyError::TooLarge)) => Err(Unread::TooLarge),
                Ok(Err(BodyError::Malformed)) => {
                    let refused = Malformed::Framing.refusal();
                    return self.refuse(&mut stream, &mut out, &refused).await;
                }
                Err(_) => Err(Unread::TooSlow),
            };
            // When the request was whole: what the handler counts from (its upstream deadline
            // among them), so a slow body does not eat into the exchange's time.
            let whole = if framing == Framing::Empty {
                now
            } else {
                Instant::now()
            };
            let unread = body.is_err();
            let is_head = request.method() == Method::HEAD;
            let request = request.map(|()| body);
            // Answered, and the answer taken by the client, within the deadline.
            answer_timer.as_mut().reset(now + self.deadline);
            let answer = tokio::select! {
                biased;
                answer = handle(&self.shared, peer, request, whole.into_std()) => answer,
                () = &mut answer_timer => refusal(&Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the request took too long; try again",
                    "",
                )),
            };
            let close = !keep_alive || unread || self.stop.is_set();
            let written = tokio::select! {
                biased;
                written = write_answer(&mut stream, &mut out, answer, (is_head, close), whole) => written,
                () = &mut answer_timer => return,
            };
            if unread && written.is_ok() {
                linger(&mut stream).await;
            }
            if close || written.is_err() {
                return;
            }
        }
    }
}

impl Loop {
    /// Answers a request the connection cannot go on after, then closes it: every write to a
    /// client has the request deadline, so one that reads nothing cannot hold its place.
    async fn refuse(&self, stream: &mut TcpStream, out: &mut Vec<u8>, refused: &Refusal) {
        let answer = refusal(refused);
        let written = timeout(
            self.deadline,
            write_answer(stream, out, answer, (false, true), Instant::now()),
        );
        if matches!(written.await, Ok(Ok(()))) {
            linger(stream).await;
        }
    }
}

/// How long, and how much, a client's unread request is taken after its refusal.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// Closes after an answer sent while the client's request was not read whole: this side
/// first, then what the client still sends is read and dropped for a moment. Closed at once,
/// the kernel would answer those bytes with a reset, which can destroy the answer before
/// the client has read it.
async fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 8 * 1024];
    let mut left = LINGER_BYTES;
    while left > 0 {
        match timeout_at(until, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

/// A request head the proxy will not take; the connection closes after the answer.
#[derive(Debug, PartialEq)]
enum Malformed {
    Syntax,
    TooLarge,
    Framing,
}

impl Malformed {
    fn refusal(&self) -> Refusal {
        match self {
            Malformed::Syntax => {
                Refusal::new(StatusCode::BAD_REQUEST, "the request is not HTTP/1.1", "")
            }
            Malformed::TooLarge => Refusal::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("request head over {MAX_HEAD} bytes or {MAX_HEADERS} headers"),
                "",
            ),
            Malformed::Framing => Refusal::new(
                StatusCode::BAD_REQUEST,
                "the request body's length is not clear (Content-Length and Transfer-Encoding)",
                "",
            ),
        }
    }
}

/// A refusal of the connection loop's own: JSON, with the API headers.
fn refusal(r: &Refusal) -> (Response, Added) {
    let added = Added {
        api: true,
        cors_origin: None,
    };
    (crate::refused(r), added)
}

/// A request head as read: the request without its body, how the body is framed, and what
/// the head says about the connection.
#[derive(Debug)]
struct Head {
    length: usize,
    request: Request<()>,
    framing: Framing,
    keep_alive: bool,
    expects_continue: bool,
}

/// The head at the start of `buf`, once all of it is there.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Malformed> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let length = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed::TooLarge),
        Err(_) => return Err(Malformed::Syntax),
    };
    let method = parsed
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(Malformed::Syntax)?;
    let uri = parsed
        .path
        .and_then(|p| p.parse::<axum::http::Uri>().ok())
        .ok_or(Malformed::Syntax)?;
    let http11 = parsed.version == Some(1);
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let (mut close, mut keep_alive_asked, mut expects_continue) = (false, false, false);
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| Malformed::Syntax)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| Malformed::Syntax)?;
        if name == header::CONNECTION {
            for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name == header::EXPECT {
            expects_continue = h.value.eq_ignore_ascii_case(b"100-continue");
        }
        headers.append(name, value);
    }
    let framing = Framing::of(
        headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .map(HeaderValue::as_bytes),
        headers
            .get(header::TRANSFER_ENCODING)
            .map(HeaderValue::as_bytes),
        Framing::Empty,
    )
    .map_err(|_| Malformed::Framing)?;
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(Some(Head {
        length,
        request,
        framing,
        keep_alive: !close && (http11 || keep_alive_asked),
        expects_continue,
    }))
}

/// Writes `answer` (the head with what `Added` says, then the body: in one write when the
/// body is in memory); `close` says so to the client. A body the head announces but
/// `is_head` leaves out. `Date` is taken at `at`, when the request was whole (the proxy answers
/// within its deadline), so that the clock is not read again.
async fn write_answer(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    (answer, added): (Response, Added),
    (is_head, close): (bool, bool),
    at: Instant,
) -> std::io::Result<()> {
    let (parts, body) = answer.into_parts();
    let status = parts.status;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let cors = added.cors_origin.as_deref().filter(|o| {
        // It came from a header value the gate could read as text; never a line break.
        o.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    });
    let replaced = |name: &HeaderName| {
        (added.api && holdix_gate::API_HEADERS.iter().any(|(n, _)| n == name))
            || (cors.is_some()
                && (name == header::ACCESS_CONTROL_ALLOW_ORIGIN
                    || name == header::ACCESS_CONTROL_EXPOSE_HEADERS))
    };
    for (name, value) in &parts.headers {
        // Framing is this writer's; a HEAD answer keeps the length it announces.
        let framing_header = name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            || (name == header::CONTENT_LENGTH && !is_head);
        if !framing_header && !replaced(name) {
            header_line(out, name.as_str().as_bytes(), value.as_bytes());
        }
    }
    // The fixed header lines, rendered once.
    static API_LINES: LazyLock<Vec<u8>> = LazyLock::new(|| lines(&holdix_gate::API_HEADERS));
    static CORS_LINES: LazyLock<Vec<u8>> = LazyLock::new(|| lines(&holdix_gate::CORS_HEADERS));
    if added.api {
        out.extend_from_slice(&API_LINES);
    }
    if let Some(origin) = cors {
        header_line(out, b"access-control-allow-origin", origin.as_bytes());
        out.extend_from_slice(&CORS_LINES);
    }
    date_line(out, at);
    if close {
        header_line(out, b"connection", b"close");
    }
    let length = http_body::Body::size_hint(&body).exact().or_else(|| {
        parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
    });
    if bodiless || is_head {
        out.extend_from_slice(b"\r\n");
        return stream.write_all(out).await;
    }
    let mut body = body;
    match length {
        // In memory (every API answer): head and body in one write.
        Some(n) if n <= 64 * 1024 => {
            let length = usize::try_from(n).unwrap_or(usize::MAX);
            header_line(
                out,
                b"content-length",
                itoa::Buffer::new().format(n).as_bytes(),
            );
            out.extend_from_slice(b"\r\n");
            let start = out.len();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(std::io::Error::other)?;
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
            if out.len() - start != length {
                return Err(std::io::Error::other("body shorter than announced"));
            }
            stream.write_all(out).await
        }
        // A file: its length, then its chunks as they are read.
        Some(n) => {
            header_line(
                out,
                b"content-length",
                itoa::Buffer::new().format(n).as_bytes(),
            );
            out.extend_from_slice(b"\r\n");
            stream.write_all(out).await?;
            let mut sent = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(std::io::Error::other)?;
                if let Ok(data) = frame.into_data() {
                    sent += data.len() as u64;
                    stream.write_all(&data).await?;
                }
            }
            if sent != n {
                return Err(std::io::Error::other("body shorter than announced"));
            }
            Ok(())
        }
        None => {
            header_line(out, b"transfer-encoding", b"chunked");
            out.extend_from_slice(b"\r\n");
            stream.write_all(out).await?;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(std::io::Error::other)?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                let size = format!("{:x}\r\n", data.len());
                stream.write_all(size.as_bytes()).await?;
                stream.write_all(&data).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.write_all(b"0\r\n\r\n").await
        }
    }
}

fn lines(headers: &[(HeaderName, HeaderValue)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        header_line(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    out
}

fn header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The `Date` header line at `at` (a time already read for the request), formatted once a
/// second per thread: the wall clock is read only when a new second starts.
fn date_line(out: &mut Vec<u8>, at: Instant) {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        /// The text, and when the second it names ends.
        static DATE: RefCell<(String, Option<Instant>)> = const { RefCell::new((String::new(), None)) };
    }
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.1.is_none_or(|ends| at >= ends) {
            let wall = SystemTime::now();
            let into_second = wall
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let left = Duration::from_secs(1) - Duration::from_nanos(u64::from(into_second));
            // The second ends `left` after the wall clock was read, not after `at`.
            *date = (httpdate::fmt_http_date(wall), Some(Instant::now() + left));
        }
        header_line(out, b"date", date.0.as_bytes());
    });
}

/// A request as the handlers get it: its body read whole already (so a handler never waits
/// on the client), or why it was not.
pub type Received = Request<Result<Bytes, Unread>>;

/// Why a request's body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Over [`crate::Config::max_body`].
    TooLarge,
    /// Not all there within [`crate::Config::body_timeout`].
    TooSlow,
}

/// The built app's files are answered by tower-http's `ServeDir`, which takes a streaming body.
pub fn for_static(request: Received) -> Request<Body> {
    request.map(|body| body.map_or_else(|_| Body::empty(), Body::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_the_wall_clocks_and_moves_on_each_second() {
        let date_at = |at| {
            let mut out = Vec::new();
            date_line(&mut out, at);
            let line = String::from_utf8(out).unwrap();
            let text = line
                .strip_prefix("date: ")
                .unwrap()
                .strip_suffix("\r\n")
                .unwrap();
            httpdate::parse_http_date(text).unwrap()
        };
        let at = Instant::now();
        let wall = std::time::SystemTime::now();
        let first = date_at(at);
        let off = wall.duration_since(first).unwrap_or_else(|e| e.duration());
        assert!(off < Duration::from_secs(2), "{off:?} from the wall clock");
        assert_eq!(date_at(at), first, "the same second is not read again");
        // Past the next second of the wall clock, a request gets the new second.
        let into = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        std::thread::sleep(Duration::from_millis(u64::from(1010 - into)));
        assert!(
            date_at(Instant::now()) > first,
            "a later second, a later date"
        );
    }

    #[test]
    fn heads_are_read_as_rfc9112_writes_them() {
        let wire = b"GET /okx/a?b=1 HTTP/1.1\r\nHost: x\r\nOrigin: o\r\n\r\nrest";
        let head = parse_head(wire).unwrap().unwrap();
        assert_eq!(head.length, wire.len() - b"rest".len());
        assert_eq!(head.request.uri().path(), "/okx/a");
        assert_eq!(head.request.uri().query(), Some("b=1"));
        assert_eq!(head.request.headers()["origin"], "o");
        assert!(head.keep_alive);
        assert_eq!(head.framing, Framing::Empty);

        let head = parse_head(b"POST /batch HTTP/1.0\r\nContent-Length: 3\r\n\r\n").unwrap();
        let head = head.unwrap();
        assert_eq!((head.framing, head.keep_alive), (Framing::Length(3), false));
        let head = parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(head.unwrap().keep_alive);
        let head = parse_head(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").unwrap();
        assert!(!head.unwrap().keep_alive);
        let head = parse_head(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").unwrap();
        assert!(head.unwrap().expects_continue);
        let absolute = parse_head(b"GET http://h/okx/a HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(absolute.request.uri().authority().is_some());

        assert!(parse_head(b"GET /okx/a HTTP/1.1\r\nHost: x\r\n")
            .unwrap()
            .is_none());
        for bad in [
            &b"GET /a HTTP/2.0\r\n\r\n"[..],
            b"GET /a b HTTP/1.1\r\n\r\n",
            b"GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"\x16\x03\x01\x02\x00",
        ] {
            assert_eq!(parse_head(bad).unwrap_err(), Malformed::Syntax, "{bad:?}");
        }
        for smuggled in [
            &b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        ] {
            assert_eq!(parse_head(smuggled).unwrap_err(), Malformed::Framing);
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(
            parse_head(many.as_bytes()).unwrap_err(),
            Malformed::TooLarge
        );
    }
}
