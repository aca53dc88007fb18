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
//!
//! # Bounds
//!
//! Each connection is bounded in time, number and header size ([`ConnectionLimits`]), as
//! production HTTP servers are, and without a cost per request beyond a few uncontended
//! atomic operations:
//!
//! - A *watchdog* per connection (one timer, re-armed when it fires, never per request) looks
//!   at what the connection did since it last looked: a request in progress, bytes of a new
//!   request head arriving, or nothing. A request head that is not complete
//!   `header_read_timeout` after its first byte, or a connection that has had no request in
//!   progress for `idle_timeout` (a keep-alive connection between requests, a fresh one that
//!   sent nothing, HTTP/2 included), is closed. hyper's own `header_read_timeout` is not used:
//!   its clock starts when hyper begins waiting for the next request, so it is an idle timeout
//!   as well (an idle keep-alive connection would be closed after the header timeout), and it
//!   allocates and registers a new timer for every request.
//! - At most `max_connections` at once. At the limit the loop accepts one more client and
//!   holds it: an idle connection (no request in progress, none arriving) closes to make room
//!   for it, or else it waits until one ends; further clients wait in the kernel's listen
//!   backlog. The connections already open are served as before.
//! - A request head over `max_header_bytes` is answered `431` by hyper (HTTP/1.1: its read
//!   buffer limit; HTTP/2: the header list size limit), with an empty body, and the
//!   connection is closed.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::Duration,
};

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
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};

/// After a failed accept (out of file descriptors, say), how long to wait before the next:
/// trying again at once would spin on the same error.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// After a timeout closed a connection gracefully (an HTTP/2 GOAWAY, or an HTTP/1.1 answer
/// still being written to a client that does not read it), how long it may take to go.
const CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// What bounds each connection, and how many there may be at once (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request head must be complete this long after its first byte arrived.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the kernel's listen backlog.
    pub max_connections: usize,
    /// The largest request head (request line and header fields) in bytes; larger is `431`.
    /// At least 8 KiB (hyper's smallest read buffer).
    pub max_header_bytes: usize,
}

impl ConnectionLimits {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
    /// hyper's smallest HTTP/1.1 read buffer.
    pub const MIN_MAX_HEADER_BYTES: usize = 8192;

    /// How often the watchdog looks at an idle or busy connection: a quarter of the shorter
    /// timeout, so each closes at most a quarter late.
    fn tick(&self) -> Duration {
        (self.header_read_timeout.min(self.idle_timeout) / 4).max(Duration::from_millis(5))
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// File descriptors kept for everything but client connections: the database connections
/// (a SQLite one holds three: database, WAL, shared memory; there can be about twice the pool
/// size of them), the log, the listener, the runtime's own, with room to spare.
pub fn reserved_file_descriptors(db_max_connections: u32) -> u64 {
    128 + 8 * u64::from(db_max_connections)
}

/// The default connection limit: [`ConnectionLimits::DEFAULT_MAX_CONNECTIONS`], or fewer when
/// the file-descriptor limit (`file_limit`, after [`raise_file_limit`]) less the reserve for
/// the database and the rest is lower, so that accepting never starves them.
pub fn default_max_connections(file_limit: Option<u64>, db_max_connections: u32) -> usize {
    let budget = file_limit.map_or(u64::MAX, |limit| {
        limit.saturating_sub(reserved_file_descriptors(db_max_connections))
    });
    usize::try_from(budget)
        .unwrap_or(usize::MAX)
        .clamp(1, ConnectionLimits::DEFAULT_MAX_CONNECTIONS)
}

/// Raises the soft limit on open files to the hard limit (a process may, unprivileged) and
/// returns the limit now in force; `None` when it cannot be read (or off Unix).
pub fn raise_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a local rlimit.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        // `rlim_t` is 32 bits wide on some targets. RLIM_INFINITY: no limit to speak of.
        #[allow(clippy::unnecessary_cast)]
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Serves `endpoint` on `listener` until `shutdown` resolves, within `limits`. Then stops
/// accepting, lets each connection finish the request it is serving (idle keep-alive
/// connections close at once), and returns when all are done or `grace` has passed, dropping
/// whatever is still running.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: ConnectionLimits,
) -> io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let local_addr = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let endpoint = Arc::new(endpoint);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // At the limit, one more client is accepted and held here until a slot frees; meanwhile
    // an idle connection is asked to make room. The others wait in the kernel's backlog.
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    let room = Arc::new(Room::default());
    let (room_wanted, room_changes) = watch::channel(0u64);
    let mut at_limit = false;
    tokio::pin!(shutdown);
    loop {
        let (stream, remote_addr, slot) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept(), if waiting.is_none() => match accepted {
                Ok((stream, remote_addr)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        at_limit = false;
                        (stream, remote_addr, slot)
                    }
                    Err(_) => {
                        if !at_limit {
                            at_limit = true;
                            tracing::warn!(
                                max_connections = limits.max_connections,
                                "connection limit reached: an idle connection is closed to make \
                                 room, else new connections wait until one closes"
                            );
                        }
                        room.wanted.store(true, Relaxed);
                        room_wanted.send_modify(|asked| *asked += 1);
                        waiting = Some((stream, remote_addr));
                        continue;
                    }
                },
                Err(err) => {
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                    continue;
                }
            },
            slot = slots.clone().acquire_owned(), if waiting.is_some() => {
                room.wanted.store(false, Relaxed);
                // This branch runs only with a client waiting, and the semaphore is never
                // closed; were either not so, the loop goes on rather than panicking.
                let (Some((stream, remote_addr)), Ok(slot)) = (waiting.take(), slot) else {
                    continue;
                };
                (stream, remote_addr, slot)
            }
            // Finished connections are collected as they end, so the set holds live ones.
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                if let Err(err) = finished {
                    tracing::error!(error = %err, "a connection's task failed");
                }
                continue;
            }
        };
        connections.spawn(serve_connection(
            stream,
            remote_addr,
            slot,
            ServerShare {
                local_addr: local_addr.clone(),
                endpoint: endpoint.clone(),
                stopping: stopping.clone(),
                limits,
                room: room.clone(),
                room_wanted: room_changes.clone(),
            },
        ));
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

/// What a connection's watchdog learns from its requests and its socket. Each counter has
/// one writer at a time (the connection's task, or the request that ends), so its updates are
/// plain loads and stores, and the watchdog reads them whenever it looks.
#[derive(Default)]
struct Activity {
    /// Reads that returned bytes (not counted on HTTP/2, where bytes are frames of any kind).
    reads: AtomicU64,
    /// Requests handed to the endpoint.
    started: AtomicU64,
    /// Requests whose answer is done (or abandoned).
    finished: AtomicU64,
    /// `reads` when a request last finished: more reads since mean a new request head.
    reads_at_finish: AtomicU64,
}

/// At the connection limit with a client waiting: whether an idle connection should close to
/// make room for it (one at a time; the first idle connection to see it takes it).
#[derive(Default)]
struct Room {
    wanted: AtomicBool,
}

impl Room {
    fn take(&self) -> bool {
        self.wanted
            .compare_exchange(true, false, Relaxed, Relaxed)
            .is_ok()
    }
}

/// A connection's state shared by its requests, its socket and its watchdog.
struct Shared<E> {
    endpoint: Arc<E>,
    local_addr: LocalAddr,
    remote_addr: RemoteAddr,
    activity: Activity,
}

/// Held by a request from the moment hyper hands it over until its answer is done (or it is
/// dropped): marks the end for the watchdog.
struct InRequest<E>(Arc<Shared<E>>);

impl<E> InRequest<E> {
    fn start(shared: &Arc<Shared<E>>) -> Self {
        shared.activity.started.fetch_add(1, Relaxed);
        InRequest(shared.clone())
    }
}

impl<E> Drop for InRequest<E> {
    fn drop(&mut self) {
        let activity = &self.0.activity;
        activity
            .reads_at_finish
            .store(activity.reads.load(Relaxed), Relaxed);
        activity.finished.fetch_add(1, Relaxed);
    }
}

/// The socket, counting the reads that return bytes for the watchdog.
struct Tracked<E> {
    stream: TcpStream,
    shared: Arc<Shared<E>>,
    /// Until the first bytes: then HTTP/2's preface turns counting off.
    first_read: bool,
    count_reads: bool,
}

impl<E> AsyncRead for Tracked<E> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.count_reads && buf.filled().len() > before {
            if this.first_read {
                this.first_read = false;
                this.count_reads = !buf.filled()[before..].starts_with(b"PRI * HTTP/2");
            }
            let reads = &this.shared.activity.reads;
            reads.store(reads.load(Relaxed) + 1, Relaxed);
        }
        polled
    }
}

impl<E> AsyncWrite for Tracked<E> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// What a connection is doing, as its watchdog sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No request in progress and no bytes of one: idle keep-alive, or fresh and silent.
    Idle,
    /// Bytes of a request head have arrived, and no request has started since.
    Head,
    /// A request is being served.
    Busy,
}

/// Looks at a connection now and then (never on the request path) and says when it must go.
struct Watchdog {
    phase: Phase,
    /// When the watchdog first saw the current phase (at most a tick after it began).
    since: Instant,
    /// `Activity::finished` when it last looked: a change is a request done meanwhile.
    finished: u64,
}

impl Watchdog {
    fn new(now: Instant) -> Self {
        Watchdog {
            phase: Phase::Idle,
            since: now,
            finished: 0,
        }
    }

    /// When to look next: a tick from now, or the current phase's deadline if sooner.
    fn next_look(&self, limits: &ConnectionLimits, now: Instant) -> Instant {
        let tick = now + limits.tick();
        match self.phase {
            Phase::Idle => tick.min(self.since + limits.idle_timeout),
            Phase::Head => tick.min(self.since + limits.header_read_timeout),
            Phase::Busy => tick,
        }
    }

    /// Looks at `activity` now: `Some(reason)` when the connection has outlived its phase.
    fn look(
        &mut self,
        activity: &Activity,
        limits: &ConnectionLimits,
        now: Instant,
    ) -> Option<&'static str> {
        // `finished` first: `started` is never behind it, so a request that ends in between
        // cannot make the connection look idle while it is not.
        let finished = activity.finished.load(Relaxed);
        let phase = if activity.started.load(Relaxed) != finished {
            Phase::Busy
        } else if activity.reads.load(Relaxed) != activity.reads_at_finish.load(Relaxed) {
            Phase::Head
        } else {
            Phase::Idle
        };
        if phase != self.phase || finished != self.finished {
            *self = Watchdog {
                phase,
                since: now,
                finished,
            };
            return None;
        }
        let waited = now.saturating_duration_since(self.since);
        match phase {
            Phase::Head if waited >= limits.header_read_timeout => Some("header read timeout"),
            Phase::Idle if waited >= limits.idle_timeout => Some("idle timeout"),
            _ => None,
        }
    }
}

/// What a connection gets from the server it belongs to.
struct ServerShare<E> {
    local_addr: LocalAddr,
    endpoint: Arc<E>,
    stopping: watch::Receiver<bool>,
    limits: ConnectionLimits,
    room: Arc<Room>,
    room_wanted: watch::Receiver<u64>,
}

async fn serve_connection<E>(
    stream: TcpStream,
    remote_addr: SocketAddr,
    // The connection's slot under `max_connections`, given back when it ends.
    _slot: OwnedSemaphorePermit,
    server: ServerShare<E>,
) where
    E: Endpoint<Output = Response> + 'static,
{
    let ServerShare {
        local_addr,
        endpoint,
        mut stopping,
        limits,
        room,
        mut room_wanted,
    } = server;
    // An answer is one write; it should leave at once, not wait for the previous one's ACK.
    let _ = stream.set_nodelay(true);
    let shared = Arc::new(Shared {
        endpoint,
        local_addr,
        remote_addr: RemoteAddr(Addr::SocketAddr(remote_addr)),
        activity: Activity::default(),
    });
    let io = Tracked {
        stream,
        shared: shared.clone(),
        first_read: true,
        count_reads: true,
    };
    let service = {
        let shared = shared.clone();
        service_fn(move |req: hyper::Request<Incoming>| {
            let request = InRequest::start(&shared);
            let req = Request::from((
                req,
                shared.local_addr.clone(),
                shared.remote_addr.clone(),
                Scheme::HTTP,
            ));
            async move {
                let resp: hyper::Response<BoxBody<Bytes, io::Error>> =
                    request.0.endpoint.get_response(req).await.into();
                drop(request);
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper answers a head that outgrows the buffer with 431, and closes.
    builder.http1().max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut watchdog = Watchdog::new(Instant::now());
    let look = tokio::time::sleep_until(watchdog.next_look(&limits, Instant::now()));
    tokio::pin!(look);
    let timed_out = loop {
        tokio::select! {
            // Closed by the client, or broken: nothing to answer any more.
            _ = connection.as_mut() => return,
            _ = stopping.wait_for(|stop| *stop) => break false,
            () = &mut look => {}
            // A client waits at the connection limit: look now whether this one is idle.
            Ok(()) = room_wanted.changed() => {}
        }
        let now = Instant::now();
        let reason = watchdog.look(&shared.activity, &limits, now).or_else(|| {
            (watchdog.phase == Phase::Idle && room.take())
                .then_some("idle, at the connection limit with a client waiting")
        });
        if let Some(reason) = reason {
            tracing::debug!(remote_addr = %remote_addr, reason, "closing the connection");
            break true;
        }
        look.as_mut().reset(watchdog.next_look(&limits, now));
    };
    // Finishes the request in progress, if any, then closes (an idle HTTP/1.1 connection, or
    // one halfway through a request head, at once; HTTP/2 says GOAWAY first).
    connection.as_mut().graceful_shutdown();
    if timed_out {
        let _ = tokio::time::timeout(CLOSE_LIMIT, connection).await;
    } else {
        let _ = connection.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_limit_leaves_descriptors_for_the_rest() {
        // A generous limit: the default.
        assert_eq!(default_max_connections(Some(1 << 20), 16), 4096);
        assert_eq!(default_max_connections(None, 16), 4096);
        // A small one: what is left after the reserve (128 + 8 per database connection).
        assert_eq!(default_max_connections(Some(1024), 16), 1024 - 256);
        assert_eq!(default_max_connections(Some(100), 16), 1);
    }

    #[test]
    fn the_watchdog_times_each_phase_from_when_it_saw_it_begin() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(1000),
            ..ConnectionLimits::default()
        };
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let activity = Activity::default();
        let mut watchdog = Watchdog::new(start);
        assert_eq!(watchdog.look(&activity, &limits, at(900)), None);
        assert_eq!(
            watchdog.look(&activity, &limits, at(1000)),
            Some("idle timeout")
        );

        // Bytes of a head arrive: the header timeout runs from then.
        let mut watchdog = Watchdog::new(start);
        activity.reads.store(1, Relaxed);
        assert_eq!(watchdog.look(&activity, &limits, at(500)), None);
        assert_eq!(watchdog.look(&activity, &limits, at(590)), None);
        assert_eq!(
            watchdog.look(&activity, &limits, at(600)),
            Some("header read timeout")
        );

        // A request in progress is never timed out; once it is done, the idle clock starts.
        let mut watchdog = Watchdog::new(start);
        activity.started.store(1, Relaxed);
        assert_eq!(watchdog.look(&activity, &limits, at(10)), None);
        assert_eq!(watchdog.look(&activity, &limits, at(5000)), None);
        activity.finished.store(1, Relaxed);
        activity.reads_at_finish.store(1, Relaxed);
        assert_eq!(watchdog.look(&activity, &limits, at(5100)), None);
        assert_eq!(watchdog.look(&activity, &limits, at(6000)), None);
        assert_eq!(
            watchdog.look(&activity, &limits, at(6100)),
            Some("idle timeout")
        );
    }
}
