//! SeaORM entities of the Customers API.
//!
//! A customer row carries its special treatment as a JSON list, because the
//! treatment is always read and replaced whole (GET returns the list, PUT replaces it). Keeping
//! it on the customer row makes a GET one indexed lookup, a PUT one atomic `UPDATE`, and a
//! DELETE take the treatment with the customer.
//!
//! `external_accounts` hangs on `customers` by a foreign key with `ON DELETE CASCADE`: deleting a
//! customer deletes its accounts in the same statement.

pub mod customer;
pub mod external_account;

pub use customer::SpecialTreatmentValues;
