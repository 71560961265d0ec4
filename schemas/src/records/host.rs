//! The host as a whole: identity, clocks, CPU accounting and kernel state.
//!
//! Hidden CPU use shows as a gap between the `/proc/stat` totals here and the sum over visible processes,
//! so both are captured in the same pass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RawBytes;

/// Who the bundle is about. Also copied into the manifest so `minetrace verify` can show it without
/// decoding any record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostIdentity {
    pub hostname: String,
    pub machine_id: String,
    /// Changes at every boot; together with pid and start time it names a process uniquely.
    pub boot_id: String,
    /// `uname -r` and `-v` as the kernel reports them.
    pub kernel: String,
}

/// Aggregate CPU time from the first line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuTotals {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

/// One line of `/proc/modules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KernelModule {
    pub name: String,
    pub size: u64,
    pub refcount: i64,
    pub used_by: Vec<String>,
    pub state: String,
    /// Taint letters such as `(OE)`: out-of-tree and unsigned modules are how miner rootkits load.
    pub taint: String,
}

/// A pid the kernel answers for but that `readdir(/proc)` did not list: the mark of a getdents hook
/// or a bind mount over `/proc/PID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HiddenPid {
    pub pid: i32,
    pub reason: String,
}

/// How the collector was run: against the live kernel, or against a mounted image (no processes, no sockets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectionMode {
    #[default]
    Live,
    DeadBox,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostRecord {
    pub identity: HostIdentity,
    pub mode: CollectionMode,
    pub os_release: RawBytes,
    pub uptime_secs: f64,
    /// Seconds since the epoch at which the kernel booted (`btime` in `/proc/stat`).
    pub boot_time_unix: i64,
    /// `sysconf(_SC_CLK_TCK)`: converts process start times and CPU times to seconds.
    pub clock_ticks_per_sec: u64,
    pub page_size: u64,
    pub nproc: u32,
    pub cpu_totals: CpuTotals,
    pub loadavg: [f64; 3],
    pub mem_total_kib: u64,
    pub mem_available_kib: u64,
    pub hugepages_total: u64,
    pub hugepages_free: u64,
    pub hugepage_size_kib: u64,
    pub kernel_modules: Vec<KernelModule>,
    /// `/proc/sys/kernel/tainted`.
    pub kernel_taint: u64,
    /// `/sys/module/msr/parameters/allow_writes`; miners turn it on for RandomX speed.
    pub msr_allow_writes: Option<String>,
    pub hidden_pids: Vec<HiddenPid>,
    /// mountinfo lines whose mount point is `/proc/<digits>`.
    pub proc_bind_mounts: Vec<RawBytes>,
    /// Pids of the collector itself, excluded from the process table.
    pub collector_pids: Vec<i32>,
}
