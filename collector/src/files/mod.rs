//! File artifacts: persistence, accounts, SSH, firewall, histories, logs, temp places.
//!
//! Skeleton: each artifact family goes in its own module here (`cron.rs`, `systemd.rs`, `ssh.rs`, ...).

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use crate::collection::Collection;

pub fn collect<W: Write>(_col: &mut Collection<W>) -> Result<(), WriteError> {
    Ok(())
}
