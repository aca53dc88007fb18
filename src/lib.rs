//! Customers API: an organization's customers, their special treatment, categories, external
//! accounts, identification (KYC) processes and channel credentials, over HTTP, described by
//! the committed `openapi.yaml`.
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
//! - [`request`]: the id and caller of the request being served.
//! - [`domain`]: request data parsed into validated values; each rule stated once.
//! - [`service`]: business rules that are not CRUD, where a resource has them.
//! - [`repo`]: persistence, one file per resource plus the shared machinery (pools, the one
//!   bounded call, failure classification, breaker, migrations); the special-treatment fast
//!   paths behind one type of their own.
//! - [`spec`]: the OpenAPI document and Swagger UI.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`telemetry`]: logging setup.
//!
//! The `entity` and `migration` crates hold the SeaORM entities and the schema migrations.
//!
//! # Adding a resource
//!
//! 1. **Storage.** An entity in `entity/src/<resource>.rs`; a migration
//!    `migration/src/mYYYYMMDD_NNNNNN_create_<table>.rs`, listed in `migration/src/lib.rs`
//!    (existing databases upgrade in place at start-up). Index every list and lookup.
//! 2. **Rules.** `domain/<resource>.rs`: each body's `FIELDS` and each text field's
//!    [`domain::TextRule`], and a `parse` that names every broken rule's field. The spec's
//!    keywords are generated from these (`api/types.rs`): state a rule nowhere else.
//! 3. **Queries.** `repo/<resource>.rs`: `impl Repository` methods through `read`, `write`, or
//!    `write_checked` with the [`repo`] `ConflictRule` a unique or foreign-key constraint
//!    stands for (409). Never a pool directly, never the special-treatment paths.
//! 4. **Rules that are not CRUD** (hashing, state machines): `service/<resource>.rs`.
//! 5. **Scopes.** One line each in [`auth`]'s `scopes!` (privileged ones marked).
//! 6. **Operations.** `api/<resource>.rs`: one `#[OpenApi]` impl with its tag (added to
//!    [`api::ApiTags`], placed in the document's order); each operation takes `BearerAuth`
//!    first, parses, authorizes (org, scope), calls, maps; the errors it can answer are
//!    documented next to it, in its own words. Wire types in `api/types.rs`; request schemas
//!    that refuse unknown fields listed in `CLOSED_SCHEMAS`.
//! 7. **Spec.** `cargo run -- openapi > openapi.yaml`; the drift test and CI's comparison with
//!    the last released document must pass (additions only within a major version).
//! 8. **Tests.** `tests/api/<resource>.rs` through the shared client (one helper per
//!    operation), a row per operation in the authorization matrix, on SQLite and PostgreSQL;
//!    a scenario in each generated client (`conformance/`, `sdk-check/`).

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod repo;
pub mod request;
pub mod serve;
pub mod service;
pub mod spec;
pub mod telemetry;
