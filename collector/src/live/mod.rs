//! Volatile state of the live host: host identity and kernel state, processes, executables, sockets.
//!
//! Skeleton: only host identity for now; the process, executable and socket passes go in their own
//! modules here (`processes.rs`, `executables.rs`, `sockets.rs`, `host.rs`, `hidden.rs`).

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::host::{CollectionMode, HostIdentity};

use crate::collection::Collection;

/// Counts and identity the run summary and manifest need from the live pass.
pub struct LiveSummary {
    pub host: HostIdentity,
    pub processes: usize,
    pub sockets: usize,
}

pub fn collect<W: Write>(
    _col: &mut Collection<W>,
    _mode: CollectionMode,
) -> Result<LiveSummary, WriteError> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    Ok(LiveSummary {
        host: HostIdentity {
            hostname: read("/proc/sys/kernel/hostname"),
            machine_id: read("/etc/machine-id"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            kernel: read("/proc/sys/kernel/osrelease"),
        },
        processes: 0,
        sockets: 0,
    })
}
