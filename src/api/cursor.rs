//! Page positions: the `cursor` and `limit` query parameters every list shares.
//!
//! A cursor is opaque to clients: the position after which the next page starts, base64url
//! without padding. Lists in id order carry the last id (16 bytes, 22 characters); lists in
//! key order carry the last key's bytes. A cursor the server did not issue is
//! `400 invalid_parameter`, never a silently different page.

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use uuid::Uuid;

use crate::error::Error;

/// Page size when `limit` is absent (the contract's 50; at most 200).
pub const DEFAULT_LIMIT: u32 = 50;

pub fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

/// Trailing bits are allowed so that every string the documented pattern admits decodes.
const CURSOR: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn not_issued() -> Error {
    Error::invalid_parameter("cursor", "not a cursor this server issued")
}

/// The cursor after `id`, for lists in id order (pattern `^[A-Za-z0-9_-]{22}$`).
pub fn encode_id(after: Uuid) -> String {
    CURSOR.encode(after.as_bytes())
}

pub fn decode_id(cursor: &str) -> Result<Uuid, Error> {
    CURSOR
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(not_issued)
}

/// The cursor after `key`, for lists in key order.
pub fn encode_key(after: &str) -> String {
    CURSOR.encode(after.as_bytes())
}

/// The key a cursor carries, if `valid` accepts it as one this server could have issued.
pub fn decode_key(cursor: &str, valid: impl Fn(&str) -> bool) -> Result<String, Error> {
    CURSOR
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key| valid(key))
        .ok_or_else(not_issued)
}
