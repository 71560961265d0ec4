//! What the analyzer's benchmarks share: a bundle collected by this workspace's own collector (the debug
//! build, built first if needed), of this host or of a dead-box image.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Collects `image` (a directory laid out like a root filesystem; `None` for this live host) into
/// `out` with the workspace's debug collector, building it first.
pub fn collect(image: Option<&Path>, out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "minetrace-collector"])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the collector failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut collector = Command::new(target.join("debug").join("minetrace-collect"));
    if let Some(image) = image {
        collector.arg("--root").arg(image);
    }
    let status = collector
        .arg("-o")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("run the collector");
    assert!(
        status.success(),
        "collecting {} failed",
        image.map_or("this host".into(), |i| i.display().to_string())
    );
}

/// CPU time (user + system, every thread) this process has used so far, in seconds: `/proc/self/stat`
/// fields 14 and 15, in the kernel's fixed 100 ticks per second (`USER_HZ`).
#[allow(dead_code)] // not every bench reports it
pub fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// The machine's 1-minute load average (`/proc/loadavg`), to say how busy it was while measured.
#[allow(dead_code)]
pub fn load_1min() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}
