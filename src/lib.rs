//! Customers API: an organization's customers and each customer's special treatment, over
//! HTTP, described by the committed `openapi.yaml`.
//!
//! # Layout
//!
//! - [`config`]: flags and environment variables (clap); secrets are never printed.
//! - [`app`]: [`app::App::build`] connects, migrates and binds; `run` assembles the routes
//!   and middleware and serves until shutdown.
//! - [`serve`]: the accept loop (hyper connections around the endpoint), its bounds (header read
//!   and idle timeouts, connection limit, request head size) and graceful shutdown.
//! - [`http`]: the middleware every request passes through: request id, body limit, one
//!   `ErrorResponse` shape for the framework's own failures, `Cache-Control`, request log.
//! - [`error`]: the one error type and its one mapping to HTTP.
//! - [`auth`]: bearer JWT verification, organizations and scopes.
//! - [`api`]: one `#[OpenApi]` impl per resource, and the wire types in [`api::types`].
//! - [`domain`]: request data parsed into validated values, with the contract's rules.
//! - [`repo`]: SeaORM persistence (the special-treatment hot paths also through rusqlite and
//!   tokio-postgres directly); database failures mapped to [`error::Error`], and a breaker that answers
//!   503 at once while the database is unreachable.
//! - [`spec`]: the OpenAPI document and Swagger UI.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`telemetry`]: logging setup.
//!
//! The `entity` and `migration` crates hold the SeaORM entity and the schema migrations.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod repo;
pub mod serve;
pub mod spec;
pub mod telemetry;
