//! The accept loop's bounds, seen from a client's socket: a half-sent request head and an idle
//! keep-alive connection are closed after their timeouts, a connection limit makes the next
//! client wait (not the ones already connected), and an oversized request head is `431`.

use std::time::{Duration, Instant};

use customers_api::serve::ConnectionLimits;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, spawn_app_with};

/// Limits with short timeouts, for tests that wait for them.
fn limits(header_read_timeout_ms: u64, idle_timeout_ms: u64) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(header_read_timeout_ms),
        idle_timeout: Duration::from_millis(idle_timeout_ms),
        ..ConnectionLimits::default()
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.expect("connect")
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads one HTTP/1.1 answer (head and a `Content-Length` body) and returns it as text.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |n| n.trim().parse().expect("a length"));
            if answer.len() >= end + 4 + length {
                return String::from_utf8_lossy(&answer).into_owned();
            }
        }
        let n = stream.read(&mut chunk).await.expect("read an answer");
        assert!(
            n > 0,
            "closed before a whole answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `GET /healthz` on `stream` and expects its 200.
async fn healthz(stream: &mut TcpStream) {
    stream.write_all(HEALTHZ).await.expect("send");
    let answer = read_answer(stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// How long until the server closes `stream` (a read returns end of file or a reset), at
/// most `limit`; `None` if it is still open then. Whatever arrives before is discarded.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut chunk),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn half_a_request_head_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|s| s.connections = limits(400, 60_000)).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .await
        .unwrap();
    let closed = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed within 5 s, not kept open");
    assert!(
        closed >= Duration::from_millis(350),
        "closed after {closed:?}, before the timeout"
    );

    // A head that arrives in time, in pieces, is served.
    let mut stream = connect(&app).await;
    for piece in [
        &b"GET /healthz HTTP/1.1\r\n"[..],
        b"Host: test\r\n",
        b"\r\n",
    ] {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| s.connections = limits(60_000, 400)).await;
    let mut stream = connect(&app).await;
    let closed = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed within 5 s");
    assert!(
        closed >= Duration::from_millis(350),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_while_in_use() {
    // The header timeout is long: what closes the connection is the idle timeout alone.
    let app = spawn_app_with(|s| s.connections = limits(60_000, 500)).await;
    let mut stream = connect(&app).await;
    // In use every 150 ms for twice the idle timeout: it stays open.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1000) {
        healthz(&mut stream).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    healthz(&mut stream).await;
    // Then idle: closed after the idle timeout.
    let closed = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("the idle connection closed within 5 s");
    assert!(
        closed >= Duration::from_millis(450),
        "closed after {closed:?}"
    );
}

/// HTTP/2 (prior knowledge, as h2c clients speak it): an idle connection is closed too, with a
/// GOAWAY, even though the client's connection keeps answering.
#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| s.connections = limits(60_000, 500)).await;
    let (client, connection) = h2::client::handshake(connect(&app).await)
        .await
        .expect("an HTTP/2 handshake");
    let driver = tokio::spawn(connection);
    // Kept to the end: the client closes its connection when the last handle goes.
    let mut client = client.ready().await.unwrap();
    let request = http::Request::get(app.url("/healthz")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    assert_eq!(response.await.expect("an answer").status(), 200);
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), driver).await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection is still open");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450),
        "closed after {elapsed:?}"
    );
    drop(client);
}

fn max_8_connections(s: &mut customers_api::app::Settings) {
    s.connections = ConnectionLimits {
        max_connections: 8,
        ..ConnectionLimits::default()
    };
}

/// At the limit, with no connection idle (each is halfway through a request head here), a new
/// client waits; the connected ones are served; when one leaves, the new client is served.
#[tokio::test]
async fn beyond_max_connections_a_client_waits_while_connected_ones_are_served() {
    let app = spawn_app_with(max_8_connections).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = connect(&app).await;
        healthz(&mut stream).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    // The ninth connects (the kernel's backlog takes it) but is not served yet.
    let mut ninth = connect(&app).await;
    ninth.write_all(HEALTHZ).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), read_answer(&mut ninth)).await;
    assert!(early.is_err(), "served beyond the limit: {early:?}");
    // Those connected are served as before.
    held[0].write_all(b"\r\n").await.unwrap();
    let answer = read_answer(&mut held[0]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // One leaves: the ninth is served.
    drop(held.pop());
    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut ninth))
        .await
        .expect("the ninth is served once a connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// At the limit, a new client makes one idle keep-alive connection close (one, not all), so
/// that a client holding idle connections cannot keep everyone else out.
#[tokio::test]
async fn at_max_connections_an_idle_connection_makes_room_for_a_new_client() {
    let app = spawn_app_with(max_8_connections).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = connect(&app).await;
        healthz(&mut stream).await;
        held.push(stream);
    }
    let mut ninth = connect(&app).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        healthz(&mut ninth).await;
    })
    .await;
    assert!(answer.is_ok(), "the ninth was not served");
    let mut closed = 0;
    for stream in &mut held {
        if closed_within(stream, Duration::from_millis(100))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 1, "idle connections closed to make room for one");
}

#[tokio::test]
async fn an_oversized_request_head_is_answered_431() {
    let app = spawn_app_with(|_| {}).await;
    let limit = app.settings.connections.max_header_bytes;

    // Under the limit: served.
    let mut stream = connect(&app).await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n",
        "a".repeat(limit - 1024)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // 200 KB: 431. The answer comes while the head is still being sent; read it meanwhile.
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let sending = tokio::spawn(async move {
        // The server stops reading and closes: the rest of the write may fail.
        let _ = writer.write_all(big.as_bytes()).await;
        writer
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    drop(sending.await);
}
