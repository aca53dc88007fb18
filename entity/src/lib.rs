//! SeaORM entities of the Customers API.
//!
//! A customer row carries its special treatment as a JSON list, because the treatment is
//! always read and replaced whole (GET returns the list, PUT replaces it). Keeping it on the
//! customer row makes a GET one indexed lookup, a PUT one atomic `UPDATE`, and a DELETE take
//! the treatment with the customer.
//!
//! Categories are a catalogue of their own (`categories`) and a membership join table
//! (`customer_categories`) with foreign keys to both sides.
//!
//! Identification processes (`identification_processes`) have no foreign key to their customer:
//! finished ones are kept after the customer is deleted (anti-money-laundering retention).
//!
//! `external_accounts` hangs on `customers` by a foreign key with `ON DELETE CASCADE`: deleting a
//! customer deletes its accounts in the same statement.
//!
//! Credentials (`customer_credentials`) hold an Argon2id hash of each secret, never the secret.
//!
//! The change history (`history_events`) is append-only and has no foreign key: a customer's
//! events outlive it.

pub mod category;
pub mod customer;
pub mod customer_category;
pub mod customer_credential;
pub mod external_account;
pub mod history_event;
pub mod identification_process;

pub use customer::SpecialTreatmentValues;
