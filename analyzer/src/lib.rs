//! The offline analyzer: bundle → model → detectors → findings → graph → outputs.
//!
//! Stages are kept apart and data flows one way: detectors read the model and return findings, outputs read
//! findings and never detect.

pub mod commands;
pub mod exit;
pub mod load;
pub mod model;
