//! Repository faults injected for real: a saturated pool, a row lock past the statement
//! timeout, a network outage between the server and PostgreSQL (through [`Proxy`]), a row the
//! code cannot decode. Timed assertions are generous: CI shares two cores.

use std::{
    future::IntoFuture,
    time::{Duration, Instant},
};

use futures::future::join_all;
use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::{
    client::{Call, id_of},
    helpers::{
        LockHolder, ORG, TestApp, TestDb, assert_error, direct_connection, postgres_or_skip,
        spawn_app_with, start, test_settings,
    },
    process::ServerProcess,
    proxy::{self, Proxy},
};

/// Slack on top of a configured timeout, for a loaded machine.
const SLACK: Duration = Duration::from_millis(1500);

fn retry_after(resp: &Response) -> Option<String> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Makes `call`, returning the answer and how long it took.
async fn timed(call: Call) -> (Response, Duration) {
    let started = Instant::now();
    let resp = call.await;
    (resp, started.elapsed())
}

async fn assert_unavailable(resp: Response) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "status");
    assert_eq!(
        retry_after(&resp).as_deref(),
        Some("1"),
        "a 503 says when to retry"
    );
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
}

/// Polls `/readyz` until it answers 200, at most `limit`; returns how long that took.
async fn wait_until_ready(app: &TestApp, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let resp = app.api.without_token().get_readiness().await;
        if resp.status() == StatusCode::OK {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not ready again within {limit:?} (last answer {})",
            resp.status()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `count` requests at once (GETs and PUTs of `id`'s treatment); their statuses and the
/// slowest answer.
async fn burst(app: &TestApp, id: &str, count: usize) -> (Vec<Response>, Duration) {
    let answers = join_all((0..count).map(|i| {
        let call = if i % 2 == 0 {
            app.api.get_customer_special_treatment(ORG, id)
        } else {
            let body = json!({"values": [format!("burst-{i}")]});
            app.api.set_customer_special_treatment(ORG, id, &body)
        };
        timed(call)
    }))
    .await;
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    (answers.into_iter().map(|(resp, _)| resp).collect(), slowest)
}

#[tokio::test]
async fn a_saturated_pool_answers_503_within_the_acquire_timeout_then_fails_fast_and_recovers() {
    // PostgreSQL: one pool serves reads and writes, so a write waiting on a row lock can hold
    // the only connection. (SQLite's writes have connections of their own, so they cannot
    // starve the reads: see the next test.)
    let Some((db, url)) = postgres_or_skip("its pool serves reads and writes alike").await else {
        return;
    };
    let acquire = Duration::from_millis(1000);
    let mut settings = test_settings(url);
    settings.repo.max_connections = 1;
    settings.repo.acquire_timeout = acquire;
    settings.repo.statement_timeout = Duration::from_secs(5);
    let app = start(settings, db).await;
    let url = app.settings.repo.database_url.clone();
    let held = id_of(&app.api.register(ORG, "held").await);
    let other = app.api.new_customer(ORG).await;

    // The PUT takes the pool's only connection and waits for the lock with it.
    let holder = LockHolder::lock(&url, "held").await;
    let put = tokio::spawn(
        app.api
            .set_customer_special_treatment(ORG, &held, &json!({"values": ["waiting"]}))
            .into_future(),
    );
    holder.wait_for_waiters(1).await;

    // No connection within the acquire timeout: 503 with Retry-After.
    let (resp, took) = timed(app.api.get_customer_special_treatment(ORG, &other)).await;
    assert_unavailable(resp).await;
    assert!(
        took >= acquire - Duration::from_millis(100) && took <= acquire + SLACK,
        "503 after {took:?}, acquire timeout {acquire:?}"
    );

    // From then on the answer is immediate, for every operation and for readiness.
    let (answers, slowest) = burst(&app, &other, 20).await;
    for resp in answers {
        assert_unavailable(resp).await;
    }
    assert!(
        slowest < acquire / 2,
        "503s while saturated should not wait for a connection: slowest took {slowest:?}"
    );
    let readyz = app.api.without_token().get_readiness().await;
    assert_unavailable(readyz).await;
    let healthz = app.api.without_token().get_health().await;
    assert_eq!(healthz.status(), StatusCode::OK);

    // The connection frees up: the waiting PUT lands, and the service recovers by itself.
    holder.commit_with(json!(["holder"])).await;
    assert_eq!(put.await.unwrap().status(), StatusCode::NO_CONTENT);
    let recovery = wait_until_ready(&app, Duration::from_secs(5)).await;
    assert_eq!(app.api.special_treatment(ORG, &held).await, ["waiting"]);
    assert_eq!(
        app.api.special_treatment(ORG, &other).await,
        [] as [&str; 0]
    );
    eprintln!(
        "saturated pool: first 503 after {took:?} (acquire timeout {acquire:?}); \
         20 concurrent 503s, slowest {slowest:?}; ready again {recovery:?} after the lock freed"
    );
}

/// SQLite: a write waiting for the write lock holds one of the writers' connections, never a
/// reader's, so reads go on answering at once while it waits. (On SQLite whatever
/// `TEST_DATABASE_URL` says; PostgreSQL: the test above.)
#[tokio::test]
async fn on_sqlite_reads_do_not_wait_behind_a_blocked_write() {
    let (db, url) = TestDb::sqlite();
    let mut settings = test_settings(url.clone());
    // The fewest SQLite takes: one connection to read, one to write.
    settings.repo.max_connections = 2;
    settings.repo.acquire_timeout = Duration::from_millis(1000);
    settings.repo.statement_timeout = Duration::from_secs(5);
    let app = start(settings, db).await;
    let held = id_of(&app.api.register(ORG, "held").await);
    let holder = LockHolder::lock(&url, "held").await;
    let put = tokio::spawn(
        app.api
            .set_customer_special_treatment(ORG, &held, &json!({"values": ["waiting"]}))
            .into_future(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        let (resp, took) = timed(app.api.get_customer_special_treatment(ORG, &held)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            took < Duration::from_millis(500),
            "a read waited {took:?} behind a write"
        );
    }
    holder.commit_with(json!(["holder"])).await;
    assert_eq!(put.await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.api.special_treatment(ORG, &held).await, ["waiting"]);
}

#[tokio::test]
async fn a_put_held_by_a_row_lock_past_the_statement_timeout_is_a_504_and_the_lock_holder_wins() {
    let statement = Duration::from_millis(500);
    let app = spawn_app_with(|s| s.repo.statement_timeout = statement).await;
    let url = app.settings.repo.database_url.clone();
    let id = id_of(&app.api.register(ORG, "locked").await);
    app.api.set_special_treatment(ORG, &id, &["before"]).await;

    let holder = LockHolder::lock(&url, "locked").await;
    let (resp, took) = timed(app.api.set_customer_special_treatment(
        ORG,
        &id,
        &json!({"values": ["late"]}),
    ))
    .await;
    let body = assert_error(resp, StatusCode::GATEWAY_TIMEOUT, "repository_timeout").await;
    assert!(body.get("details").is_none(), "{body}");
    assert!(
        took >= statement - Duration::from_millis(50) && took <= statement + SLACK,
        "504 after {took:?}, statement timeout {statement:?}"
    );

    // The database itself cancelled the PUT's statement: the holder's commit is unaffected
    // and nothing of the PUT lands afterwards.
    holder.commit_with(json!(["holder"])).await;
    assert_eq!(app.api.special_treatment(ORG, &id).await, ["holder"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.api.special_treatment(ORG, &id).await, ["holder"]);

    // A 504 is no outage: the service answers normally at once.
    let readyz = app.api.without_token().get_readiness().await;
    assert_eq!(readyz.status(), StatusCode::OK);
    app.api.set_special_treatment(ORG, &id, &["after"]).await;
    assert_eq!(app.api.special_treatment(ORG, &id).await, ["after"]);
    eprintln!("row lock: 504 after {took:?} (statement timeout {statement:?})");
}

#[tokio::test]
async fn a_database_outage_answers_503_fast_readyz_503_healthz_200_and_recovers_by_itself() {
    let Some((db, url)) =
        postgres_or_skip("a network outage between the server and its database").await
    else {
        return;
    };
    let proxy = Proxy::start(proxy::host_port(&url)).await;
    let acquire = Duration::from_millis(1000);
    let mut settings = test_settings(proxy::via(&url, proxy.addr()));
    settings.repo.max_connections = 4;
    settings.repo.acquire_timeout = acquire;
    settings.repo.statement_timeout = Duration::from_secs(3);
    let app = start(settings, db).await;

    let id = id_of(&app.api.register(ORG, "outage").await);
    app.api.set_special_treatment(ORG, &id, &["before"]).await;
    // Fill the pool with connections that the cut will kill.
    let (answers, _) = burst(&app, &id, 8).await;
    let statuses: Vec<StatusCode> = answers.iter().map(Response::status).collect();
    assert!(statuses.iter().all(|s| s.is_success()), "{statuses:?}");

    // A PUT in flight when the network goes: waiting on a row lock (held beside the proxy).
    let holder = LockHolder::lock(&url, "outage").await;
    let in_flight = tokio::spawn(timed(app.api.set_customer_special_treatment(
        ORG,
        &id,
        &json!({"values": ["in-flight"]}),
    )));
    holder.wait_for_waiters(1).await;

    let cut_at = Instant::now();
    proxy.cut();

    // The connection broke mid-statement: 503, not 500 (whether the write landed is unknown,
    // as with any answer lost in transit; PUT is idempotent, retrying is safe).
    let (resp, _) = in_flight.await.unwrap();
    assert_unavailable(resp).await;
    let broken_after = cut_at.elapsed();
    holder.release().await;

    let (resp, first) = timed(app.api.get_customer_special_treatment(ORG, &id)).await;
    assert_unavailable(resp).await;
    assert!(first <= acquire + SLACK, "first 503 after {first:?}");

    // Fail fast: nobody waits for a connection that cannot come, so nothing piles up.
    let (answers, slowest) = burst(&app, &id, 50).await;
    for resp in answers {
        assert_unavailable(resp).await;
    }
    assert!(
        slowest < acquire / 2,
        "503s during an outage should be immediate: slowest of 50 took {slowest:?}"
    );
    let readyz = app.api.without_token().get_readiness().await;
    assert_unavailable(readyz).await;
    let healthz = app.api.without_token().get_health().await;
    assert_eq!(healthz.status(), StatusCode::OK);

    // Long enough for a probe to fail against the black hole, then the network comes back.
    tokio::time::sleep((acquire * 2).saturating_sub(cut_at.elapsed())).await;
    let (resp, late) = timed(app.api.get_customer_special_treatment(ORG, &id)).await;
    assert_unavailable(resp).await;
    let outage = cut_at.elapsed();
    proxy.restore();
    let recovery = wait_until_ready(&app, Duration::from_secs(10)).await;

    // No dead connection is left behind: everything answers normally at once.
    let (answers, _) = burst(&app, &id, 16).await;
    for resp in answers {
        assert!(
            resp.status().is_success(),
            "after recovery: {}",
            resp.status()
        );
    }
    app.api.set_special_treatment(ORG, &id, &["after"]).await;
    assert_eq!(app.api.special_treatment(ORG, &id).await, ["after"]);
    eprintln!(
        "outage: in-flight PUT got 503 {broken_after:?} after the cut; first new request 503 \
         in {first:?}; 50 concurrent 503s, slowest {slowest:?}; a 503 {late:?} after \
         {outage:?} of outage; ready again {recovery:?} after the restore (acquire timeout \
         {acquire:?})"
    );
}

#[tokio::test]
async fn an_internal_error_is_a_generic_500_logged_with_its_request_id_and_serving_goes_on() {
    let (_db, url) = TestDb::create().await;
    let server = ServerProcess::start(&url, &[]).await;
    let mut ids = Vec::new();
    for external_id in ["corrupt", "healthy"] {
        ids.push(id_of(&server.api.register(ORG, external_id).await));
    }

    // A stored value the code cannot decode: the list is an object now.
    let direct = direct_connection(&url).await;
    let backend = direct.get_database_backend();
    let cast = if backend == DbBackend::Postgres {
        "::jsonb"
    } else {
        ""
    };
    let corrupted = direct
        .execute_raw(Statement::from_string(
            backend,
            format!(
                "UPDATE customers SET special_treatment = '{{\"x\":1}}'{cast} \
                 WHERE external_id = 'corrupt'"
            ),
        ))
        .await
        .expect("corrupt the row");
    assert_eq!(corrupted.rows_affected(), 1, "the corrupted row exists");
    direct.close().await.ok();

    let request_id = format!("it-500-{}", uuid::Uuid::new_v4().simple());
    let resp = server
        .api
        .get_customer_special_treatment(ORG, &ids[0])
        .header("x-request-id", &request_id)
        .await;
    let body = assert_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
    assert_eq!(body["request_id"], request_id.as_str());
    assert_eq!(
        body,
        json!({"code": "internal_error", "message": "internal server error", "request_id": request_id}),
        "a 500 reveals nothing: no SQL, no path, no driver text"
    );

    // The cause is in the log, under the request id the client was given.
    let logged = server
        .wait_for_log_line(|line| {
            line["level"] == "ERROR"
                && line["message"] == "internal error"
                && line["request_id"] == request_id.as_str()
        })
        .await;
    assert!(
        logged["error"]
            .as_str()
            .is_some_and(|e| e.contains("repository call failed")),
        "the log has the cause: {logged}"
    );

    // One bad row does not stop the service.
    assert_eq!(
        server.api.special_treatment(ORG, &ids[1]).await,
        [] as [&str; 0]
    );
    let readyz = server.api.without_token().get_readiness().await;
    assert_eq!(readyz.status(), StatusCode::OK);
}
