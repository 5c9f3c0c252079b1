//! Accepting connections: what `axum::serve` does, plus a header read timeout, which it does
//! not set (hyper only enforces one when given a timer). A client that opens connections and
//! never finishes its headers is dropped after [`HEADER_READ_TIMEOUT`]; a body that stalls is
//! cut off by the router's body timeout.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves, then lets each open connection
/// finish its request (graceful shutdown) and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `stop` tells connections to wind down; `open` counts them (each holds a receiver).
    let (stop_tx, stop_rx) = watch::channel(());
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors and the like: wait, as axum::serve does, not spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // The router takes hyper's body as it is (any `HttpBody` of `Bytes`).
        let service = TowerToHyperService::new(router.clone());
        let (mut stop_rx, open_rx) = (stop_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(%peer, error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stop_rx.changed() => conn.as_mut().graceful_shutdown(),
                }
            }
            drop(open_rx);
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}
