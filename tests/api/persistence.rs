//! Data survives restarts; migrations at start-up are harmless when repeated.

use serde_json::json;

use crate::helpers::{ORG, spawn_app};

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
