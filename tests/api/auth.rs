//! Authentication and authorization (filled in below).
