//! A TCP proxy between the server and PostgreSQL that a test can cut and restore, to inject a
//! real network outage.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// Forwards every connection to `upstream` until [`cut`](Proxy::cut).
pub struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    /// Connections accepted while cut: held open, never forwarded (a black hole).
    held: Arc<Mutex<Vec<TcpStream>>>,
    accept_loop: JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy address");
        let (cut, _) = watch::channel(false);
        let held = Arc::new(Mutex::new(Vec::new()));
        let accept_loop = tokio::spawn({
            let cut = cut.clone();
            let held = held.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    // Decided under the lock `restore` takes, so no connection is held forever.
                    let mut held = held.lock().unwrap();
                    if *cut.borrow() {
                        held.push(client);
                    } else {
                        tokio::spawn(forward(client, upstream.clone(), cut.subscribe()));
                    }
                }
            }
        });
        Proxy {
            addr,
            cut,
            held,
            accept_loop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every live connection, and from now on accepts new ones into a black hole: the
    /// database is unreachable the way a network partition makes it.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards new connections again (the held ones are dropped).
    pub fn restore(&self) {
        let mut held = self.held.lock().unwrap();
        self.cut.send_replace(false);
        held.clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.cut.send_replace(true);
    }
}

/// Copies both ways until either side closes or the proxy is cut (or dropped).
async fn forward(mut client: TcpStream, upstream: String, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
    // Dropping both sockets closes them: each side sees its connection end.
}

/// `host:port` of a `postgres://user[:password]@host[:port]/db[?query]` URL.
pub fn host_port(url: &str) -> String {
    let (_, rest) = url.split_once("://").expect("a URL has a scheme");
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// `url` with its `host:port` replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let original = host_port(url);
    let (scheme, rest) = url.split_once("://").expect("a URL has a scheme");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, _)) => format!("{user}@{addr}"),
        None => addr.to_string(),
    };
    let rewritten = format!("{scheme}://{authority}{tail}");
    assert_ne!(
        host_port(&rewritten),
        original,
        "the URL now points at the proxy"
    );
    rewritten
}

#[test]
fn urls_are_rewritten_to_the_proxy() {
    let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    assert_eq!(
        host_port("postgres://postgres@127.0.0.1:5432/test"),
        "127.0.0.1:5432"
    );
    assert_eq!(host_port("postgres://u:p@db/x?sslmode=disable"), "db:5432");
    assert_eq!(
        via("postgres://postgres@127.0.0.1:5432/capi_x", addr),
        "postgres://postgres@127.0.0.1:4000/capi_x"
    );
    assert_eq!(
        via("postgres://u:p@db/x?sslmode=disable", addr),
        "postgres://u:p@127.0.0.1:4000/x?sslmode=disable"
    );
}
