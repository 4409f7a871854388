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
use axum::http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::{handle, refuse, shared, Config};

/// Serves the proxy on `listener` until `shutdown` resolves; then stops accepting and lets
/// open requests finish (for at most the request deadline).
///
/// One event loop per core, as nginx runs one worker per core: this runtime accepts, and
/// deals connections in turn to itself and to `config.threads - 1` threads that each run a
/// single-threaded runtime. A connection then lives on one thread from accept to close, with
/// its upstream connections (the upstream client is per thread, see `upstream_client`): no
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
        deadline: config.request_deadline,
        shared: shared(config),
    };
    let graceful = GracefulShutdown::new();
    let mut others = Vec::new();
    let mut hands = Vec::new();
    for i in 1..threads {
        let (hand, dealt) = mpsc::unbounded_channel::<Dealt>();
        let each = own.clone();
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
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Some(hand) = turn.checked_sub(1).and_then(|i| hands.get(i)) else {
            own.serve(&graceful, stream, peer, permit);
            continue;
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        // A loop whose thread could not start takes nothing: this one serves it instead.
        if let Err(mpsc::error::SendError((stream, peer, permit))) =
            hand.send((stream, peer, permit))
        {
            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                own.serve(&graceful, stream, peer, permit);
            }
        }
    }
    drop(listener);
    // The other loops finish their connections once no more are dealt.
    drop(hands);
    own.finish(graceful).await;
    for thread in others {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    Ok(())
}

/// A connection dealt to another loop, with its place under the connection limit.
type Dealt = (std::net::TcpStream, SocketAddr, OwnedSemaphorePermit);

/// What every event loop serves with: the proxy's shared state and the per-connection
/// limits. Each loop watches its own connections, to finish them on shutdown.
#[derive(Clone)]
struct Loop {
    header_timeout: std::time::Duration,
    deadline: std::time::Duration,
    shared: Arc<crate::Shared>,
}

impl Loop {
    /// Serves every connection dealt to this loop, until the dealing stops.
    async fn serve_dealt(self, mut dealt: mpsc::UnboundedReceiver<Dealt>) {
        let graceful = GracefulShutdown::new();
        while let Some((stream, peer, permit)) = dealt.recv().await {
            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                self.serve(&graceful, stream, peer, permit);
            }
        }
        self.finish(graceful).await;
    }

    /// Lets open requests finish, for at most the request deadline.
    async fn finish(&self, graceful: GracefulShutdown) {
        let _ = tokio::time::timeout(self.deadline, graceful.shutdown()).await;
    }

    /// Serves one connection on this loop's runtime, watched by its `graceful`.
    fn serve(
        &self,
        graceful: &GracefulShutdown,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    ) {
        let (shared, deadline) = (self.shared.clone(), self.deadline);
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let answer = tokio::time::timeout(
                deadline,
                Box::pin(handle(shared.clone(), peer, req.map(Body::new))),
            );
            async move {
                Ok::<_, Infallible>(match answer.await {
                    Ok(response) => response,
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
            .header_read_timeout(self.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
}
