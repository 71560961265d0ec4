//! Everything that crosses the wire between `minetrace-collect` and `minetrace`: the artifact records, the
//! bundle format (writer and hostile-input reader), the manifest and the findings contract.
//!
//! This crate knows nothing about collecting or judging; the collector and the analyzer depend on it and
//! never on each other, so the format has exactly one definition.

pub mod bundle;
pub mod findings;
pub mod fleet;
pub mod inspect;
pub mod json_schema;
pub mod locations;
pub mod manifest;
pub mod miner_config;
pub mod programs;
pub mod raw_bytes;
pub mod records;

pub use raw_bytes::{escape_bytes, RawBytes};
