//! Data survives restarts; migrations at start-up are harmless when repeated.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{ORG, direct_connection, postgres_or_skip, spawn_app, start, test_settings};

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_the_data() {
    let app = spawn_app().await;
    let id = app.customer_id().await;
    let resp = app
        .put_treatment(&id, json!({"values": ["vulnerable", "vip"]}))
        .await;
    assert_eq!(resp.status(), 204);
    let created = app.create_customer(ORG, "survivor").await;

    // Restarting runs the migrations again on the migrated database.
    let app = app.restart().await;
    assert_eq!(app.treatment_values(&id).await, ["vulnerable", "vip"]);
    let fetched: serde_json::Value = app
        .get_json(&format!(
            "/v1/organizations/{ORG}/customers/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(fetched, created);
}

/// `url` with its `sslmode` set to `mode` (`None`: without one, so sqlx's default, prefer).
fn with_sslmode(url: &str, mode: Option<&str>) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("sslmode="))
        .map(str::to_owned)
        .collect();
    params.extend(mode.map(|mode| format!("sslmode={mode}")));
    if params.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

/// PostgreSQL: the special-treatment GET and PUT have connections of their own (half of
/// `DB_MAX_CONNECTIONS`), plain text or TLS as the pool's are: with sslmode=disable, and with
/// TLS (require, and a URL without sslmode on a server offering TLS), where PostgreSQL reports
/// each of them encrypted.
#[tokio::test]
async fn on_postgres_special_treatment_has_connections_of_its_own_with_or_without_tls() {
    const OWN: &str = "SELECT count(*), count(*) FILTER (WHERE s.ssl) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = current_database() \
         AND a.application_name = 'customers-api (special treatment)'";
    for sslmode in [Some("disable"), Some("require"), None] {
        let Some((db, url)) = postgres_or_skip("own connections").await else {
            return;
        };
        let observer = direct_connection(&url).await;
        let ssl = observer
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SHOW ssl"))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap();
        if sslmode == Some("require") && ssl != "on" {
            eprintln!("own connections with TLS: skipped: this PostgreSQL has ssl = {ssl}");
            continue;
        }
        let mut settings = test_settings(with_sslmode(&url, sslmode));
        settings.repo.max_connections = 8;
        let app = start(settings, db).await;
        let id = app.customer_id().await;
        let resp = app.put_treatment(&id, json!({"values": ["vip"]})).await;
        assert_eq!(resp.status(), 204);
        assert_eq!(app.treatment_values(&id).await, ["vip"]);

        let row = observer
            .query_one_raw(Statement::from_string(DbBackend::Postgres, OWN))
            .await
            .unwrap()
            .unwrap();
        let own = row.try_get_by_index::<i64>(0).unwrap();
        let encrypted = row.try_get_by_index::<i64>(1).unwrap();
        assert_eq!(own, 4, "sslmode={sslmode:?}");
        let tls = sslmode != Some("disable") && ssl == "on";
        assert_eq!(encrypted, if tls { 4 } else { 0 }, "sslmode={sslmode:?}");
    }
}
