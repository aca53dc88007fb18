//! The client progenitor generates from `../openapi.yaml`.
#![allow(clippy::all, unused)]

include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
