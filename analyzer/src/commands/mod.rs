//! One module per subcommand, each with its clap `Args` and an `exec` that writes to the given output and
//! returns the exit status.

pub mod analyze;
pub mod fleet;
pub mod inspect;
pub mod remediate;
pub mod verify;
