//! The process's life: a SIGKILL right after acknowledged writes loses none of them, and
//! SIGTERM / SIGINT stop the server gracefully with status 0.

use std::{
    os::unix::process::ExitStatusExt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{
    client::id_of,
    helpers::{LockHolder, ORG, TestDb, direct_connection, postgres_or_skip},
    process::ServerProcess,
};

const SLACK: Duration = Duration::from_millis(3000);

fn value(customer: usize, round: usize) -> String {
    format!("c{customer}-r{round}")
}

/// 20 customers, each written 10 times in sequence, the 20 sequences at once: 200 PUTs. The
/// process is SIGKILLed the moment the 150th is acknowledged, with the rest in flight or not
/// yet sent. After a restart on the same database, each customer holds its last acknowledged
/// value, or the one after it when that PUT was in flight at the kill (its answer was lost,
/// its commit may have happened).
async fn acknowledged_puts_survive_a_kill_9(url: &str) {
    const CUSTOMERS: usize = 20;
    const ROUNDS: usize = 10;
    const KILL_AFTER: usize = 150;
    let mut server = ServerProcess::start(url, &[]).await;
    let mut ids = Vec::new();
    for customer in 0..CUSTOMERS {
        let customer = server.api.register(ORG, &format!("kill9-{customer}")).await;
        ids.push(id_of(&customer));
    }

    let acknowledged: Arc<Mutex<Vec<Option<usize>>>> = Arc::new(Mutex::new(vec![None; CUSTOMERS]));
    let count = Arc::new(AtomicUsize::new(0));
    let unexpected = Arc::new(Mutex::new(Vec::new()));
    let enough = Arc::new(Notify::new());
    let api = server.api.clone();
    let writers = ids.iter().enumerate().map(|(customer, id)| {
        let api = &api;
        let (acknowledged, count, unexpected, enough) = (
            acknowledged.clone(),
            count.clone(),
            unexpected.clone(),
            enough.clone(),
        );
        async move {
            for round in 0..ROUNDS {
                let body = json!({"values": [value(customer, round)]});
                let put = api
                    .set_customer_special_treatment(ORG, id, &body)
                    .timeout(Duration::from_secs(10));
                // The kill may come at any moment: a failed send is expected.
                match put.try_send().await {
                    Ok(resp) if resp.status() == StatusCode::NO_CONTENT => {
                        acknowledged.lock().unwrap()[customer] = Some(round);
                        if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                            enough.notify_one();
                        }
                    }
                    Ok(resp) => {
                        unexpected.lock().unwrap().push(resp.status());
                        return;
                    }
                    // The process is gone.
                    Err(_) => return,
                }
            }
        }
    });
    let writes = join_all(writers);
    let kill = async {
        enough.notified().await;
        server.kill_9();
    };
    tokio::join!(writes, kill);

    let status = server
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("a SIGKILLed process exits");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    let unexpected: Vec<StatusCode> = unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "statuses other than 204: {unexpected:?}"
    );
    let acknowledged = acknowledged.lock().unwrap().clone();
    let total = count.load(Ordering::SeqCst);
    assert!(total >= KILL_AFTER, "{total} PUTs acknowledged");

    if url.starts_with("sqlite:") {
        // The file is as the crash left it (the WAL is replayed on open): intact.
        let direct = direct_connection(url).await;
        let row = direct
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "ok");
        direct.close().await.ok();
    }

    let server = ServerProcess::start(url, &[]).await;
    let mut in_flight_landed = 0;
    for (customer, id) in ids.iter().enumerate() {
        let stored = server.api.special_treatment(ORG, id).await;
        let next = acknowledged[customer].map_or(0, |round| round + 1);
        let last = acknowledged[customer].map(|round| vec![value(customer, round)]);
        let in_flight = (next < ROUNDS).then(|| vec![value(customer, next)]);
        let landed = Some(&stored) == in_flight.as_ref();
        if landed {
            in_flight_landed += 1;
        } else {
            assert_eq!(
                stored,
                last.unwrap_or_default(),
                "customer {customer}: the last acknowledged value"
            );
        }
        // Exactly one event per applied PUT, in order: every acknowledged one, and the one in
        // flight exactly when its change landed.
        let history = server.api.history(ORG, id, "limit=200").await;
        let mut written: Vec<Value> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "special_treatment.set")
            .map(|event| event["changes"]["values"].clone())
            .collect();
        written.reverse();
        let applied = next + usize::from(landed);
        let expected: Vec<Value> = (0..applied)
            .map(|round| json!([value(customer, round)]))
            .collect();
        assert_eq!(written, expected, "customer {customer}: its history");
    }
    eprintln!(
        "kill -9 ({}): {total} PUTs acknowledged before the kill, all found after the restart; \
         {in_flight_landed} unacknowledged in-flight PUTs had landed too",
        url.split(':').next().unwrap_or_default()
    );
}

#[tokio::test]
async fn acknowledged_puts_survive_a_kill_9_on_sqlite() {
    let (_db, url) = TestDb::sqlite();
    acknowledged_puts_survive_a_kill_9(&url).await;
}

#[tokio::test]
async fn acknowledged_puts_survive_a_kill_9_on_postgres() {
    let Some((_db, url)) = postgres_or_skip("the kill -9 scenario on PostgreSQL").await else {
        return;
    };
    acknowledged_puts_survive_a_kill_9(&url).await;
}

/// Waits until connecting to `server` is refused: it stopped listening.
async fn assert_refuses_connections(server: &ServerProcess) {
    let started = Instant::now();
    loop {
        let last = match tokio::net::TcpStream::connect(server.addr).await {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => return,
            // Not stopped yet (the connection is closed again at once), or caught in the
            // backlog of a listener closing just then (reset): look again.
            other => format!("{other:?}"),
        };
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the server still accepts connections after the signal: {last}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn logged_signal(server: &ServerProcess) -> Option<String> {
    server.log_lines().into_iter().find_map(|line| {
        (line["message"] == "shutdown signal received; finishing in-flight requests")
            .then(|| line["signal"].as_str().map(str::to_owned))?
    })
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_refuses_new_ones_and_exits_0() {
    const IN_FLIGHT: usize = 4;
    let grace = Duration::from_secs(5);
    let (_db, url) = TestDb::create().await;
    let mut server = ServerProcess::start(
        &url,
        &[
            ("SHUTDOWN_GRACE_MS", "5000"),
            ("DB_STATEMENT_TIMEOUT_MS", "5000"),
        ],
    )
    .await;
    let id = id_of(&server.api.register(ORG, "busy").await);

    // Requests in flight: PUTs waiting for a lock held beside the server.
    let holder = LockHolder::lock(&url, "busy").await;
    let puts: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let body = json!({"values": [format!("in-flight-{i}")]});
            let put = server.api.set_customer_special_treatment(ORG, &id, &body);
            tokio::spawn(async move { put.try_send().await.map(|resp| resp.status()) })
        })
        .collect();
    holder.wait_for_waiters(IN_FLIGHT as i64).await;

    server.signal(libc::SIGTERM);
    let signalled = Instant::now();
    assert_refuses_connections(&server).await;
    // The in-flight requests still run, and so does the process.
    assert!(puts.iter().all(|put| !put.is_finished()));
    assert_eq!(
        server.exited(),
        None,
        "the process waits for in-flight requests"
    );

    // Their lock frees: each completes with its normal answer.
    holder.release().await;
    for put in puts {
        let status = put
            .await
            .unwrap()
            .expect("an in-flight request gets its answer");
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let status = server
        .wait_exit(grace + SLACK)
        .await
        .expect("the process exits within the grace period");
    assert!(status.success(), "exit status {status}");
    let stopped_after = signalled.elapsed();
    assert_eq!(logged_signal(&server).as_deref(), Some("SIGTERM"));
    assert!(
        server
            .log_lines()
            .iter()
            .any(|line| line["message"] == "stopped"),
        "{}",
        server.log()
    );

    // The last of the PUTs is stored, whole.
    let direct = direct_connection(&url).await;
    let backend = direct.get_database_backend();
    let column = if backend == DbBackend::Postgres {
        "special_treatment::text"
    } else {
        "special_treatment"
    };
    let row = direct
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT {column} FROM customers WHERE external_id = 'busy'"),
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: Vec<String> =
        serde_json::from_str(&row.try_get_by_index::<String>(0).unwrap()).unwrap();
    assert!(
        (0..IN_FLIGHT).any(|i| stored == [format!("in-flight-{i}")]),
        "{stored:?}"
    );
    direct.close().await.ok();
    eprintln!(
        "SIGTERM: {IN_FLIGHT} in-flight PUTs answered 204, exit 0 {stopped_after:?} after the signal"
    );
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_grace_period() {
    let (_db, url) = TestDb::create().await;
    let mut server = ServerProcess::start(
        &url,
        &[
            ("SHUTDOWN_GRACE_MS", "300"),
            ("DB_STATEMENT_TIMEOUT_MS", "5000"),
        ],
    )
    .await;
    let id = id_of(&server.api.register(ORG, "stuck").await);
    let holder = LockHolder::lock(&url, "stuck").await;
    let put = tokio::spawn(
        server
            .api
            .set_customer_special_treatment(ORG, &id, &json!({"values": ["stuck"]}))
            .try_send(),
    );
    holder.wait_for_waiters(1).await;

    server.signal(libc::SIGTERM);
    let signalled = Instant::now();
    // The PUT outlives the grace period; the process does not wait for it.
    let status = server
        .wait_exit(Duration::from_millis(300) + SLACK)
        .await
        .unwrap_or_else(|| {
            panic!(
                "the process did not exit soon after the grace period:\n{}",
                server.log()
            )
        });
    assert!(status.success(), "exit status {status}");
    let stopped_after = signalled.elapsed();
    assert!(
        put.await.unwrap().is_err(),
        "the cut-off request gets no answer"
    );
    holder.release().await;
    eprintln!("grace 300 ms: exit 0 {stopped_after:?} after SIGTERM with a request still waiting");
}

#[tokio::test]
async fn sigint_stops_the_server_with_status_0() {
    let (_db, url) = TestDb::create().await;
    let mut server = ServerProcess::start(&url, &[]).await;
    server.signal(libc::SIGINT);
    assert_refuses_connections(&server).await;
    let status = server
        .wait_exit(SLACK)
        .await
        .expect("the process exits after SIGINT");
    assert!(status.success(), "exit status {status}");
    assert_eq!(logged_signal(&server).as_deref(), Some("SIGINT"));
}
