//! The offline analyzer: bundle → model → detectors → findings → graph → outputs.
//!
//! Stages are kept apart and data flows one way: detectors read the model and return findings, outputs read
//! findings and never detect.

pub mod allowlist;
pub mod analysis;
pub mod commands;
pub mod detect;
pub mod entry;
pub mod exit;
pub mod fleet;
pub mod graph;
pub mod indicators;
pub mod load;
pub mod model;
pub mod output;
pub mod parse;
pub mod permute;
pub mod progress;
pub mod remediate;
