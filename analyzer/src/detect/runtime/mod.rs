//! Detectors over what was running at capture time: processes, executables, sockets, kernel state.
//! One module per concern; add it to [`DETECTORS`].

use minetrace_schemas::findings::Finding;

use crate::detect::Context;

pub const DETECTORS: &[(&str, fn(&Context) -> Vec<Finding>)] = &[];
