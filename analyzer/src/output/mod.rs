//! Outputs read an [`crate::analysis::Analysis`] and write one format each; they never detect.

pub mod findings_json;
pub mod summary;
