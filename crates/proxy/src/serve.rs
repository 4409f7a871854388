//! The accept loop: HTTP/1.1 with a deadline for every stage a slow client could stretch.
//!
//! * At most [`crate::Config::max_connections`] connections are open; further ones wait in
//!   the kernel's backlog (they hold no file descriptor of ours).
//! * A connection must deliver a request's headers within `header_timeout` of opening (or of
//!   its previous answer): a client trickling header bytes, or idling, is closed.
//! * Bodies are read under `body_timeout` (in the handlers), and every request is answered
//!   within `request_deadline`, whatever the exchange does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::{refuse, router, Config};

/// Serves the proxy on `listener` until `shutdown` resolves; then stops accepting and lets
/// open requests finish (for at most the request deadline).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = config.header_timeout;
    let deadline = config.request_deadline;
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let app = router(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let app = app.clone();
            async move {
                let req = req.map(Body::new);
                let answer = tokio::time::timeout(deadline, tower::ServiceExt::oneshot(app, req));
                Ok::<_, Infallible>(match answer.await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the request took too long; try again",
                        "",
                    ),
                })
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(deadline, graceful.shutdown()).await;
    Ok(())
}
