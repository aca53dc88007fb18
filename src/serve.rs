//! The accept loop: every TCP connection served by hyper (HTTP/1.1, and HTTP/2 with prior
//! knowledge, as `poem::Server` does), every request through the endpoint, and the graceful
//! shutdown.
//!
//! Why not `poem::Server`: it boxes every connection and reads and writes it through
//! `tokio::io::split`, and it calls the endpoint through two boxed futures, each a copy of
//! the whole request's state. Here the endpoint's type is known to the loop, so its future
//! lives where hyper keeps it, and the socket is hyper's own. With the smaller futures of
//! `crate::http`'s layers: 139k -> 110k instructions per SQLite special-treatment GET
//! (BENCHMARKS.md).

use std::{convert::Infallible, future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::combinators::BoxBody;
use hyper::{
    body::{Bytes, Incoming},
    service::service_fn,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use poem::{
    Addr, Endpoint, Request, Response,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};

/// After a failed accept (out of file descriptors, say), how long to wait before the next:
/// trying again at once would spin on the same error.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Serves `endpoint` on `listener` until `shutdown` resolves. Then stops accepting, lets each
/// connection finish the request it is serving (idle keep-alive connections close at once),
/// and returns when all are done or `grace` has passed, dropping whatever is still running.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let local_addr = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let endpoint = Arc::new(endpoint);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote_addr)) => {
                    connections.spawn(serve_connection(
                        stream,
                        remote_addr,
                        local_addr.clone(),
                        endpoint.clone(),
                        stopping.clone(),
                    ));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                }
            },
            // Finished connections are collected as they end, so the set holds live ones.
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                if let Err(err) = finished {
                    tracing::error!(error = %err, "a connection's task failed");
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "requests still in flight at the end of the shutdown grace period; dropping them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection<E>(
    stream: TcpStream,
    remote_addr: SocketAddr,
    local_addr: LocalAddr,
    endpoint: Arc<E>,
    mut stopping: watch::Receiver<bool>,
) where
    E: Endpoint<Output = Response> + 'static,
{
    // An answer is one write; it should leave at once, not wait for the previous one's ACK.
    let _ = stream.set_nodelay(true);
    let remote_addr = RemoteAddr(Addr::SocketAddr(remote_addr));
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let req = Request::from((req, local_addr.clone(), remote_addr.clone(), Scheme::HTTP));
        async move {
            let resp: hyper::Response<BoxBody<Bytes, io::Error>> =
                endpoint.get_response(req).await.into();
            Ok::<_, Infallible>(resp)
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // Closed by the client, or broken: nothing to answer any more.
        _ = connection.as_mut() => return,
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    // Finishes the request in progress, if any, then closes.
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}
