//! Detectors over what was running at capture time: processes, executables, sockets, kernel state.
//! One module per concern; add it to [`DETECTORS`]. Facts more than one detector weighs live in
//! [`support`]. Rule ids are documented in `docs/RULES.md` (`## Runtime`).

pub mod evasion;
pub mod exec_context;
pub mod listeners;
pub mod miner_binary;
pub mod miner_process;
pub mod pool_endpoints;
pub mod support;

use crate::detect::Detector;

pub const DETECTORS: &[(&str, Detector)] = &[
    ("miner_process", miner_process::detect),
    ("miner_binary", miner_binary::detect),
    ("pool_endpoints", pool_endpoints::detect),
    ("exec_context", exec_context::detect),
    ("evasion", evasion::detect),
    ("listeners", listeners::detect),
];
