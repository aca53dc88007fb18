//! Integration tests: each test boots the real server on a random port, against its own fresh
//! database, and talks HTTP to it. SQLite always; PostgreSQL when `TEST_DATABASE_URL` is set
//! (each test then gets a database of its own, dropped when the test ends; a test that needs
//! PostgreSQL prints `<test>: skipped: needs TEST_DATABASE_URL ...` without it).
//!
//! Every test calls the API through [`client::ApiClient`] (one helper per operation, on
//! `TestApp::api` and `ServerProcess::api`); `auth.rs`'s authorization matrix calls every
//! operation of the served spec. A new operation: its helpers in `client.rs`, its row in
//! `auth.rs`'s `MATRIX`.

mod accounts;
mod auth;
mod categories;
mod client;
mod connections;
mod credentials;
mod customers;
mod errors;
mod faults;
mod helpers;
mod history;
mod identification;
#[cfg(unix)]
mod lifecycle;
mod openapi;
mod operations;
mod persistence;
mod process;
mod proxy;
mod special_treatment;
