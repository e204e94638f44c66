//! The HTTP server loop: HTTP/1.1 on hyper, with the limits a public service needs
//! against slow or idle clients (poem's own server has none):
//!
//! - **Header timeout.** A connection must deliver a request's whole head within
//!   `header_timeout` of the server starting to wait for it (a fresh connection, or an
//!   idle kept-alive one): half a header, or nothing, and it is closed.
//! - **Body timeout.** The body must arrive within its own timeout; that is enforced
//!   where the body is read (`super::context`), so the client gets a JSON 408.
//! - **Connection cap.** At most `max_connections` at once, kept below the process's
//!   open-file limit with room for the database, logs and exports: past the cap, new
//!   connections wait in the kernel's backlog rather than the process running out of file
//!   descriptors (which stopped even `/health/live` answering).
//!
//! HTTP/2 is not offered: this server speaks plain HTTP behind a proxy, and hyper has no
//! header timeout for HTTP/2.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt, IntoEndpoint};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What the server allows a connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// File descriptors kept free for everything that is not a client connection: the
/// database pool, the log, exports and the SQLite files.
const RESERVED_FDS: u64 = 64;

/// The connection cap: `configured` (0: as many as the open-file limit allows), never
/// more than the open-file limit leaves after the database pool and `RESERVED_FDS`.
pub fn connection_cap(configured: usize, db_pool: u32) -> usize {
    let reserve = RESERVED_FDS + u64::from(db_pool);
    let room = open_file_limit()
        .map(|n| n.saturating_sub(reserve).max(16))
        .unwrap_or(1024);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if configured == 0 {
        room.min(65_536)
    } else {
        configured.min(room)
    }
}

/// The soft open-file limit of this process, from `/proc/self/limits` (Linux); none
/// elsewhere or when it says `unlimited`.
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `ep` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish for up to `grace`.
pub async fn serve<E>(
    listener: TcpListener,
    ep: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let ep: Arc<poem::endpoint::BoxEndpoint<'static, poem::Response>> =
        Arc::new(ep.into_endpoint().map_to_response().boxed());
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    // EMFILE and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let ep = ep.clone();
        let local = local.clone();
        let remote = RemoteAddr(Addr::SocketAddr(peer));
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let ep = ep.clone();
            let req: poem::Request = (
                req,
                local.clone(),
                remote.clone(),
                poem::http::uri::Scheme::HTTP,
            )
                .into();
            async move {
                let resp = ep.get_response(req).await;
                Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, io::Error>>::from(resp))
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("requests still in flight after the grace period; stopping anyway");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cap_leaves_room_below_the_open_file_limit() {
        let limit = super::open_file_limit().expect("Linux says its open-file limit");
        let cap = super::connection_cap(1_000_000, 8);
        assert!((cap as u64) < limit, "cap {cap} with limit {limit}");
        assert_eq!(super::connection_cap(10, 8), 10);
    }
}
