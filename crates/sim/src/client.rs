//! A client for tests of the hosts that stand in front of the simulator (holdix-proxy and
//! the Worker): raw HTTP/1.1 requests over a socket, so nothing normalizes the path on the
//! way, and the demo fixture's OKX credentials to sign with.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The demo fixture's first OKX key.
pub const KEY: &str = "d2a1f5e0-0000-4000-8000-000000000001";
pub const SECRET: &str = "DEMO-SECRET-1-7f3c9a1b2e4d";
pub const PASSPHRASE: &str = "Demo-Passphrase-1";

/// The simulator with the demo portfolio (no simulated rate limits) on a free port: it and
/// its URL.
pub async fn start_sim() -> (crate::SharedSim, String) {
    let sim = crate::Sim::new(crate::Fixture::demo());
    sim.set_faults(crate::Faults {
        rate_limits: false,
        ..crate::Faults::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(crate::serve(listener, sim.clone(), std::future::pending()));
    (sim, url)
}

pub fn iso_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// OKX auth headers for a GET of `path_and_query`, as `Name: value` lines.
pub fn okx_auth(path_and_query: &str) -> String {
    let ts = iso_now();
    let sign = crate::okx::signature(SECRET, &format!("{ts}GET{path_and_query}"));
    format!(
        "OK-ACCESS-KEY: {KEY}\r\nOK-ACCESS-SIGN: {sign}\r\nOK-ACCESS-TIMESTAMP: {ts}\r\nOK-ACCESS-PASSPHRASE: {PASSPHRASE}\r\n"
    )
}

/// The app's origin in these tests (allowed by the default loopback rule).
pub const APP_ORIGIN: &str = "Origin: http://127.0.0.1:8080\r\n";
/// Put in `headers` to send no Origin header at all.
pub const NO_ORIGIN: &str = "X-No-Origin: 1\r\n";

/// Sends one raw HTTP/1.1 request (so nothing normalizes the path on the way) and returns
/// the status and the whole response text. It comes from the app's origin unless `headers`
/// names another one or [`NO_ORIGIN`].
pub async fn raw(
    addr: SocketAddr,
    request_line: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let origin = if headers.contains("Origin:") {
        ""
    } else {
        APP_ORIGIN
    };
    let head = format!(
        "{request_line} HTTP/1.1\r\nHost: {addr}\r\n{origin}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // A server may refuse before reading the whole body: the answer still counts.
    let _ = stream.write_all(body).await;
    let out = read_answer(&mut stream).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// One HTTP/1.1 answer: the head, then the body by its `Content-Length`, to the last chunk,
/// or to the close (some servers keep a connection open a while after `Connection: close`).
async fn read_answer(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let complete = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|end| {
                let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                let body = &out[end + 4..];
                let length = head.lines().find_map(|l| {
                    l.strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                });
                let status = head.split_whitespace().nth(1).unwrap_or("");
                match length {
                    // No body, by definition.
                    _ if status == "204" || status == "304" => true,
                    Some(n) => body.len() >= n,
                    None if head.contains("transfer-encoding: chunked") => {
                        body.ends_with(b"0\r\n\r\n")
                    }
                    None => false,
                }
            })
            .unwrap_or(false);
        if complete {
            return out;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

pub fn header_of<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn body_of(response: &str) -> serde_json::Value {
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
