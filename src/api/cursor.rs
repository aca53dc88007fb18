//! Page positions: the `cursor` and `limit` query parameters every list shares.
//!
//! A cursor is opaque to clients: the position after which the next page starts. Lists in id
//! order carry the last id (16 bytes, base64url without padding: 22 characters); lists in key
//! order carry the last key's bytes in lower-case hex. Either way every string the documented
//! pattern admits is a position the server accepts, and a cursor the server did not issue is
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

/// The documented pattern of a cursor in history order: a position (8 bytes, base64url).
pub const SEQ_CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{11}$";

/// The cursor after the event at position `seq`, for the history (newest first).
pub fn encode_seq(after: i64) -> String {
    CURSOR.encode(after.to_be_bytes())
}

pub fn decode_seq(cursor: &str) -> Result<i64, Error> {
    CURSOR
        .decode(cursor)
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(not_issued)
}

/// The documented pattern of a cursor in category key order: the hex of a well-formed key
/// (`^[a-z0-9][a-z0-9_-]*$`, 1-64 characters), byte by byte, so that every string it admits
/// decodes to a key. (Base64url cannot be described so: `00` matched its pattern and decoded to
/// no key, a schema-valid request answered 400.) `listCategories` states it literally.
pub const KEY_CURSOR_PATTERN: &str =
    "^(?:3[0-9]|6[1-9a-f]|7[0-9a])(?:3[0-9]|6[1-9a-f]|7[0-9a]|5f|2d){0,63}$";

/// The cursor after `key`, for lists in key order (see [`KEY_CURSOR_PATTERN`]).
pub fn encode_key(after: &str) -> String {
    after.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key a cursor carries, if `valid` accepts it as one this server could have issued.
pub fn decode_key(cursor: &str, valid: impl Fn(&str) -> bool) -> Result<String, Error> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let pairs = cursor.as_bytes().chunks(2);
    pairs
        .map(|pair| match pair {
            [high, low] => Some(digit(*high)? << 4 | digit(*low)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key| valid(key))
        .ok_or_else(not_issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::category::is_key;

    #[test]
    fn every_string_the_history_cursor_pattern_admits_is_a_position() {
        let pattern = regex::Regex::new(SEQ_CURSOR_PATTERN).unwrap();
        for seq in [0, 1, 42, i64::MAX] {
            let cursor = encode_seq(seq);
            assert!(pattern.is_match(&cursor), "{cursor}");
            assert_eq!(decode_seq(&cursor).unwrap(), seq);
        }
        for cursor in ["___________", "AAAAAAAAAAA", "zzzzzzzzzz9"] {
            assert!(pattern.is_match(cursor));
            assert!(decode_seq(cursor).is_ok(), "{cursor}");
        }
        assert!(decode_seq("AAAAAAAAAAAAAAAAAAAAAA").is_err());
    }

    #[test]
    fn a_key_cursor_matches_the_pattern_exactly_when_it_decodes_to_a_key() {
        let pattern = regex::Regex::new(KEY_CURSOR_PATTERN).unwrap();
        for key in ["retail", "0", "a-b_c", &"z".repeat(64)] {
            let cursor = encode_key(key);
            assert!(pattern.is_match(&cursor), "{cursor}");
            assert_eq!(decode_key(&cursor, is_key).unwrap(), key);
        }
        // Every cursor of 1 to 4 hex digits (keys of 1 and 2 characters), the upper-case and
        // other characters too: the pattern admits it exactly when it decodes to a key.
        let digits = "0123456789abcdefA_-";
        let mut candidates: Vec<String> = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = candidates
                .iter()
                .flat_map(|c| digits.chars().map(move |d| format!("{c}{d}")))
                .collect();
            for cursor in &longer {
                let decodes = decode_key(cursor, is_key).is_ok();
                assert_eq!(pattern.is_match(cursor), decodes, "{cursor:?}");
            }
            candidates = longer;
        }
        assert!(!pattern.is_match(&encode_key(&"z".repeat(65))));
        for not_issued in [
            "not-a-cursor",
            "00",
            "72657461696c0",
            "5f72",
            "72657461696C",
        ] {
            assert!(decode_key(not_issued, is_key).is_err(), "{not_issued}");
        }
    }

    #[test]
    fn list_categories_documents_the_key_cursor_pattern() {
        let spec = crate::spec::Spec::offline().unwrap();
        let document: serde_json::Value = serde_json::from_str(&spec.json).unwrap();
        let parameters = document
            .pointer("/paths/~1v1~1organizations~1{org_id}~1categories/get/parameters")
            .and_then(serde_json::Value::as_array)
            .expect("listCategories has parameters");
        let cursor = parameters
            .iter()
            .find(|p| p["name"] == "cursor")
            .expect("a cursor parameter");
        assert_eq!(cursor["schema"]["pattern"], KEY_CURSOR_PATTERN);
    }
}
