//! Business rules that are not CRUD, between the API and the repository.
//!
//! Most operations need none: the API parses the request into domain values, authorizes the
//! caller and calls the repository, whose queries (with their constraints) are the rule. A
//! resource gets a file here only when it has rules of another kind: work that must run off
//! the async workers and be bounded (hashing and verifying secrets), or a state machine whose
//! transitions are decided before the repository applies them as a compare-and-set. Such a
//! module takes domain values and the [`crate::repo::Repository`], and fails with
//! [`crate::error::Error`]; it knows nothing about HTTP.
//!
//! - [`credentials`]: hashing and verifying customers' secrets (Argon2id, bounded, off the
//!   async workers), and verification's counting and locking.
//! - [`identification`]: identification processes: the state machine, expiry against an
//!   injectable [`identification::Clock`], four eyes.

pub mod credentials;
pub mod identification;
