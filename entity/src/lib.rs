//! SeaORM entities of the Customers API.
//!
//! One table: a customer row carries its special treatment as a JSON list, because the
//! treatment is always read and replaced whole (GET returns the list, PUT replaces it). Keeping
//! it on the customer row makes a GET one indexed lookup, a PUT one atomic `UPDATE`, and a
//! DELETE take the treatment with the customer.

pub mod customer;

pub use customer::SpecialTreatmentValues;
