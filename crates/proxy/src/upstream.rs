//! The exchanges' side: HTTP/1.1 over kept-alive connections, driven by the request itself.
//!
//! hyper's pooled client runs every upstream connection as a task of its own and passes each
//! request and answer across channels, with a pool keyed by hashing scheme and authority.
//! A thin proxy needs less: here the request's own future writes the request in one write,
//! reads the answer (the head parsed by `httparse`, the parser hyper uses) and puts the
//! connection back in this thread's pool. Each event loop has its own pool (see
//! [`crate::serve`]), so nothing here is locked or shared between threads.
//!
//! * TLS (rustls, webpki roots) for `https://` upstreams, the real exchange hosts; plain TCP
//!   for `http://` ones (the simulator, tests). No proxy environment is read.
//! * Redirects are answers like any other: never followed.
//! * An answer is read whole (`Content-Length`, chunked, or until the exchange closes), at
//!   most [`MAX_ANSWER`] bytes; a longer one is refused, not cut short.
//! * A kept-alive connection the exchange closed while idle is noticed before reuse when the
//!   close has arrived, and otherwise by the request failing before any answer byte: such a
//!   request is sent once more on a new connection (every allowlisted route is a read).
//! * Timeouts are the caller's: dropping the future drops the connection with it.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Sleep};

use crate::wire::{self, BodyError, Framing, MAX_HEAD, MAX_HEADERS};
use crate::Upstream;

/// The largest answer taken from an exchange (the largest Holdix reads, Binance's price list
/// for every symbol, is about 1 MB).
pub const MAX_ANSWER: usize = 16 * 1024 * 1024;
/// Idle connections kept per upstream, and for how long.
const MAX_IDLE: usize = 128;
const IDLE_FOR: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const USER_AGENT: &str = concat!("holdix-proxy/", env!("CARGO_PKG_VERSION"));

/// Why no answer came back.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// No connection could be made (refused, no such host, TLS failed).
    Unreachable,
    /// The exchange closed the connection before the answer was whole.
    CutOff,
    /// The answer is not HTTP/1.1 as it must be, or larger than [`MAX_ANSWER`].
    Unreadable,
    /// No whole answer by the deadline.
    TimedOut,
}

/// Where an exchange's requests go: parsed once, when the proxy starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    tls: bool,
    /// `host:port` as the `Host` header carries it.
    authority: Box<str>,
    host: Box<str>,
    port: u16,
    /// A path the upstream URL has before the route (tests put each exchange under one).
    base: Box<str>,
}

impl Origin {
    /// An `http://` or `https://` URL with no query: the built-in host or an override.
    pub fn parse(url: &str) -> Option<Self> {
        let uri: Uri = url.parse().ok()?;
        let tls = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        if uri.query().is_some() || authority.as_str().contains('@') {
            return None;
        }
        Some(Self {
            tls,
            authority: authority.as_str().into(),
            // An IPv6 literal comes bracketed in the authority.
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .into(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            base: uri.path().trim_end_matches('/').into(),
        })
    }
}

/// Sends `method` for `path` (and `query`) under `origin`, with `headers` (already filtered)
/// and `body`; the answer keeps only the headers for which `keep(name)` holds.
pub async fn send(
    origin: &Origin,
    (method, path, query): (&Method, &str, Option<&str>),
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
    keep: impl Fn(&str) -> bool,
    deadline: tokio::time::Instant,
) -> Result<Upstream, Failed> {
    let mut request = Vec::with_capacity(256 + body.len());
    write_request(&mut request, method, origin, (path, query), headers, body);
    // A pooled connection first; if it turns out closed before any answer byte, a new one.
    if let Some(mut conn) = checkout(origin) {
        match timed(&mut conn, &request, &keep, deadline).await {
            Err(Attempt::Stale) => {}
            done => return finish(origin, conn, done),
        }
    }
    // Boxed: a TLS handshake's state is large, and only new connections need it.
    let connecting = tokio::time::timeout_at(deadline, Box::pin(connect(origin)));
    let mut conn = connecting.await.map_err(|_| Failed::TimedOut)??;
    let done = timed(&mut conn, &request, &keep, deadline).await;
    finish(origin, conn, done)
}

/// [`exchange`] by `deadline`, on the connection's own timer: moving a timer's deadline
/// later costs no trip to the runtime's timer wheel, as a new timer per request would.
async fn timed(
    conn: &mut Conn,
    request: &[u8],
    keep: &impl Fn(&str) -> bool,
    deadline: tokio::time::Instant,
) -> Result<(Upstream, bool), Attempt> {
    let mut timer = conn
        .timer
        .take()
        .unwrap_or_else(|| Box::pin(sleep_until(deadline)));
    timer.as_mut().reset(deadline);
    let done = tokio::select! {
        biased;
        done = exchange(conn, request, keep) => done,
        // Unknown how far the exchange got: the connection is not used again.
        () = timer.as_mut() => return Err(Attempt::Failed(Failed::TimedOut)),
    };
    conn.timer = Some(timer);
    done
}

/// An exchange's outcome: the answer, with the connection back in the pool if it can be
/// used again.
fn finish(
    origin: &Origin,
    conn: Conn,
    done: Result<(Upstream, bool), Attempt>,
) -> Result<Upstream, Failed> {
    match done {
        Ok((answer, reusable)) => {
            checkin(origin, conn, reusable);
            Ok(answer)
        }
        Err(Attempt::Stale) => Err(Failed::CutOff),
        Err(Attempt::Failed(f)) => Err(f),
    }
}

/// The request as it goes on the wire: only the given headers, `Host`, our `User-Agent` and
/// the body's length.
fn write_request(
    out: &mut Vec<u8>,
    method: &Method,
    origin: &Origin,
    (path, query): (&str, Option<&str>),
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
) {
    for part in [method.as_str(), " ", &origin.base, path] {
        out.extend_from_slice(part.as_bytes());
    }
    if let Some(query) = query {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    for part in [
        " HTTP/1.1\r\nhost: ",
        &origin.authority,
        "\r\nuser-agent: ",
        USER_AGENT,
        "\r\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == Method::POST {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// A connection to an upstream, with what was read past the last answer (nothing, for a
/// server that keeps to HTTP/1.1).
struct Conn {
    stream: Stream,
    buf: BytesMut,
    idle_since: Instant,
    /// The deadline of the request on it (see [`timed`]).
    timer: Option<Pin<Box<Sleep>>>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Idle connections by upstream: a handful of upstreams, so a list.
type Idle = Vec<(Origin, Vec<Conn>)>;

thread_local! {
    static POOL: RefCell<Idle> = const { RefCell::new(Vec::new()) };
}

fn idle_for<'a>(pool: &'a mut Idle, origin: &Origin) -> Option<&'a mut Vec<Conn>> {
    pool.iter_mut()
        .find(|(o, _)| o.tls == origin.tls && o.authority == origin.authority)
        .map(|(_, idle)| idle)
}

/// The most recently used idle connection to `origin` that is still open, as far as can be
/// told without a system call.
fn checkout(origin: &Origin) -> Option<Conn> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let idle = idle_for(&mut pool, origin)?;
        while let Some(conn) = idle.pop() {
            if conn.idle_since.elapsed() < IDLE_FOR && still_open(&conn) {
                return Some(conn);
            }
        }
        None
    })
}

/// False when the exchange has closed the connection or sent bytes nobody asked for. The
/// socket is read only when the event loop has seen it become readable.
fn still_open(conn: &Conn) -> bool {
    let tcp = conn.stream.tcp();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    if tcp.poll_read_ready(&mut cx).is_pending() {
        return true;
    }
    matches!(tcp.try_read(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

fn checkin(origin: &Origin, mut conn: Conn, reusable: bool) {
    if !reusable || !conn.buf.is_empty() {
        return;
    }
    conn.idle_since = Instant::now();
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if idle_for(&mut pool, origin).is_none() {
            pool.push((origin.clone(), Vec::new()));
        }
        if let Some(idle) = idle_for(&mut pool, origin).filter(|idle| idle.len() < MAX_IDLE) {
            idle.push(conn);
        }
    });
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            #[allow(unused_mut)]
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            #[cfg(test)]
            if let Some(cert) = tests::TEST_ROOT.get() {
                roots.add(cert.clone()).expect("test root");
            }
            let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS provider")
            .with_root_certificates(roots)
            .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

async fn connect(origin: &Origin) -> Result<Conn, Failed> {
    let address = (&*origin.host, origin.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| Failed::Unreachable)?
        .map_err(|_| Failed::Unreachable)?;
    let _ = tcp.set_nodelay(true);
    let stream = if origin.tls {
        let name = rustls::pki_types::ServerName::try_from(origin.host.to_string())
            .map_err(|_| Failed::Unreachable)?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|_| Failed::Unreachable)?;
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(tcp)
    };
    Ok(Conn {
        stream,
        buf: BytesMut::with_capacity(wire::READ_SIZE),
        idle_since: Instant::now(),
        timer: None,
    })
}

enum Attempt {
    /// The connection was closed before any byte of an answer: the request can go again.
    Stale,
    Failed(Failed),
}

impl From<BodyError> for Attempt {
    fn from(e: BodyError) -> Self {
        Attempt::Failed(match e {
            BodyError::Closed => Failed::CutOff,
            BodyError::Malformed | BodyError::TooLarge => Failed::Unreadable,
        })
    }
}

/// One request and its answer on `conn`; `true` when the connection can be used again.
async fn exchange(
    conn: &mut Conn,
    request: &[u8],
    keep: &impl Fn(&str) -> bool,
) -> Result<(Upstream, bool), Attempt> {
    if conn.stream.write_all(request).await.is_err() {
        return Err(Attempt::Stale);
    }
    let mut answered = false;
    let (status, headers, framing, reusable) = loop {
        let head = parse_head(&conn.buf, keep).map_err(Attempt::Failed)?;
        if let Some((consumed, head)) = head {
            conn.buf.advance(consumed);
            // 1xx answers (100 Continue) come before the real one.
            if head.0.is_informational() {
                continue;
            }
            break head;
        }
        if conn.buf.len() > MAX_HEAD {
            return Err(Attempt::Failed(Failed::Unreadable));
        }
        wire::room(&mut conn.buf);
        match conn.stream.read_buf(&mut conn.buf).await {
            Ok(0) | Err(_) if !answered => return Err(Attempt::Stale),
            Ok(0) | Err(_) => return Err(Attempt::Failed(Failed::CutOff)),
            Ok(_) => answered = true,
        }
    };
    let body = wire::read_body(&mut conn.stream, &mut conn.buf, &framing, MAX_ANSWER).await?;
    let upstream = Upstream {
        status,
        headers,
        body,
    };
    Ok((upstream, reusable && framing != Framing::UntilClose))
}

type Head = (StatusCode, HeaderMap, Framing, bool);

/// The answer's head, once `buf` holds all of it: bytes used, status, kept headers, framing,
/// whether the connection stays open.
fn parse_head(buf: &[u8], keep: &impl Fn(&str) -> bool) -> Result<Option<(usize, Head)>, Failed> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut answer = httparse::Response::new(&mut slots);
    let consumed = match answer.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failed::Unreadable),
    };
    let status = answer
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(Failed::Unreadable)?;
    let named = |name: &'static str| {
        answer
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let framing = if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else {
        Framing::of(
            named("content-length"),
            named("transfer-encoding").next(),
            Framing::UntilClose,
        )
        .map_err(|_| Failed::Unreadable)?
    };
    let close = named("connection").any(|v| {
        v.split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    });
    let reusable = answer.version == Some(1) && !close;
    let mut headers = HeaderMap::new();
    let mut lower = [0u8; 64];
    for h in answer.headers.iter() {
        // `keep` sees the name lowercased, as HTTP names compare; only a kept one becomes a
        // `HeaderName` (an exchange sends a score of headers and a few are kept). A name
        // over 64 bytes is never kept: none of the kept ones is near that long.
        let Some(name) = lower.get_mut(..h.name.len()) else {
            continue;
        };
        name.copy_from_slice(h.name.as_bytes());
        name.make_ascii_lowercase();
        if !std::str::from_utf8(name).is_ok_and(keep) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(h.value),
        ) {
            headers.append(name, value);
        }
    }
    Ok(Some((consumed, (status, headers, framing, reusable))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn only_the_kept_headers_come_back_whatever_their_case() {
        let wire = b"HTTP/1.1 429 Too Many Requests\r\nServer: edge\r\nSet-Cookie: s=1\r\n\
            Retry-After: 7\r\nX-MBX-USED-WEIGHT-1M: 1200\r\nContent-Length: 2\r\n\r\n{}";
        let (consumed, (status, headers, framing, reusable)) =
            parse_head(wire, &holdix_gate::passes_back)
                .unwrap()
                .unwrap();
        assert_eq!(consumed, wire.len() - 2);
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(framing, Framing::Length(2));
        assert!(reusable);
        let kept: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            kept,
            [("retry-after", "7"), ("x-mbx-used-weight-1m", "1200")]
        );
    }

    /// A one-shot server on 127.0.0.1 that answers each connection's first request with
    /// `answer` (then closes if `close`), and reports the requests it saw.
    async fn server(answers: Vec<&'static [u8]>) -> (Origin, tokio::sync::mpsc::Receiver<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            for answer in answers {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut got = vec![0u8; 4096];
                let n = s.read(&mut got).await.unwrap();
                got.truncate(n);
                let _ = tx.send(got).await;
                s.write_all(answer).await.unwrap();
                s.shutdown().await.unwrap();
            }
        });
        (Origin::parse(&format!("http://{addr}/")).unwrap(), rx)
    }

    async fn get(origin: &Origin) -> Result<Upstream, Failed> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        send(
            origin,
            (&Method::GET, "/p", Some("q=1")),
            &[],
            b"",
            |n| n == "x-keep",
            deadline,
        )
        .await
    }

    #[tokio::test]
    async fn a_kept_connection_times_out_by_each_requests_own_deadline() {
        // One connection; the first two requests are answered, the third never.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = Origin::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let accepted = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            for _ in 0..2 {
                while !got.ends_with(b"\r\n\r\n") {
                    let mut b = [0u8; 1024];
                    let n = s.read(&mut b).await.unwrap();
                    got.extend_from_slice(&b[..n]);
                }
                got.clear();
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(s);
        });
        let get = |within: u64| {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(within);
            send(
                &origin,
                (&Method::GET, "/p", None),
                &[],
                b"",
                |_| false,
                deadline,
            )
        };
        assert!(get(200).await.is_ok());
        // The first deadline passes while the connection is idle: the next request on it
        // has its own.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(get(2000).await.is_ok());
        let started = std::time::Instant::now();
        assert_eq!(get(200).await.err(), Some(Failed::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(2));
        accepted.abort();
    }

    #[tokio::test]
    async fn reads_every_framing_rfc9112_names() {
        let (origin, mut seen) = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Keep: a\r\nX-Drop: b\r\n\r\nhello",
            // RFC 9112 §7.1's chunked form, with a chunk extension and a trailer.
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nuntil close",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        ])
        .await;
        let a = get(&origin).await.unwrap();
        assert_eq!((a.status.as_u16(), &a.body[..]), (200, &b"hello"[..]));
        assert_eq!(a.headers.get("x-keep").unwrap(), "a");
        assert!(a.headers.get("x-drop").is_none());
        let request = String::from_utf8(seen.recv().await.unwrap()).unwrap();
        assert!(
            request.starts_with("GET /p?q=1 HTTP/1.1\r\nhost: 127.0.0.1:"),
            "{request}"
        );
        assert!(!request.contains("content-length"), "{request}");
        // The server closed after each answer: each of these comes on a new connection.
        let b = get(&origin).await.unwrap();
        assert_eq!((b.status.as_u16(), &b.body[..]), (201, &b"Wikipedia"[..]));
        let c = get(&origin).await.unwrap();
        assert_eq!((c.status.as_u16(), &c.body[..]), (404, &b"until close"[..]));
        let d = get(&origin).await.unwrap();
        assert_eq!((d.status.as_u16(), d.body.len()), (204, 0));
    }

    #[tokio::test]
    async fn a_cut_or_broken_answer_is_an_error() {
        let (origin, _seen) = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        ])
        .await;
        use Failed::{CutOff, Unreadable};
        for want in [
            CutOff, CutOff, Unreadable, Unreadable, Unreadable, Unreadable,
        ] {
            assert_eq!(get(&origin).await.err(), Some(want));
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let origin = Origin::parse(&format!("http://{addr}")).unwrap();
        assert_eq!(get(&origin).await.err(), Some(Failed::Unreachable));
    }

    /// A certificate the TLS test's server presents, trusted in tests besides the webpki
    /// roots (set before any TLS connection is made; no other test makes one).
    pub static TEST_ROOT: OnceLock<rustls::pki_types::CertificateDer<'static>> = OnceLock::new();

    /// An `https://` upstream: the handshake against the roots, SNI and the `Host` header by
    /// name, the answer read through TLS, the connection kept and used again. A certificate
    /// for another name is refused as unreachable.
    #[tokio::test]
    async fn https_upstreams_speak_tls() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        TEST_ROOT.set(cert.cert.der().clone()).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, mut seen) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    let mut got = vec![0u8; 4096];
                    // Two requests on one connection.
                    for _ in 0..2 {
                        let n = tls.read(&mut got).await.unwrap();
                        let request = String::from_utf8_lossy(&got[..n]).into_owned();
                        tx.send((sni.clone(), request)).await.unwrap();
                        tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .await
                            .unwrap();
                    }
                });
            }
        });
        let origin = Origin::parse(&format!("https://localhost:{port}")).unwrap();
        for _ in 0..2 {
            let answer = get(&origin).await.unwrap();
            assert_eq!(
                (answer.status.as_u16(), &answer.body[..]),
                (200, &b"ok"[..])
            );
            let (sni, request) = seen.recv().await.unwrap();
            assert_eq!(sni.as_deref(), Some("localhost"));
            assert!(
                request.starts_with(&format!(
                    "GET /p?q=1 HTTP/1.1\r\nhost: localhost:{port}\r\n"
                )),
                "{request}"
            );
        }
        // The same server under a name its certificate does not carry.
        let wrong = Origin::parse(&format!("https://127.0.0.1:{port}")).unwrap();
        assert_eq!(get(&wrong).await.err(), Some(Failed::Unreachable));
    }

    #[test]
    fn the_request_carries_only_what_is_given() {
        let mut out = Vec::new();
        let headers = [(
            HeaderName::from_static("x-mbx-apikey"),
            HeaderValue::from_static("k"),
        )];
        let origin = Origin::parse("https://h:1/base/").unwrap();
        write_request(
            &mut out,
            &Method::POST,
            &origin,
            ("/a", Some("b")),
            &headers,
            b"x=1",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "POST /base/a?b HTTP/1.1\r\nhost: h:1\r\nuser-agent: {USER_AGENT}\r\n\
                 x-mbx-apikey: k\r\ncontent-length: 3\r\n\r\nx=1"
            )
        );
        assert_eq!(Origin::parse("https://www.okx.com").unwrap().port, 443);
        for refused in ["ftp://h/", "https://u@h/", "https://h/?q", "/path"] {
            assert_eq!(Origin::parse(refused), None, "{refused}");
        }
    }
}
