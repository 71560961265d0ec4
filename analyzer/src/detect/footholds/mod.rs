//! Detectors over how the attacker got in and stays: persistence, accounts, SSH, tampered system files,
//! logs and histories. One module per concern; add it to [`DETECTORS`].

use minetrace_schemas::findings::Finding;

use crate::detect::Context;

pub const DETECTORS: &[(&str, fn(&Context) -> Vec<Finding>)] = &[];
