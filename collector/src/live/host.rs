//! The host as a whole: identity (hostname, machine-id, boot id, kernel), clocks, CPU accounting, memory
//! and huge pages, kernel modules and taint, and the MSR write switch miners flip for RandomX.
//!
//! In dead-box mode only what the image itself says is read (hostname, machine-id, os-release under the
//! root); nothing of the analyst's running kernel leaks into the record.

use std::path::Path;

use minetrace_schemas::records::host::{CpuTotals, HostIdentity, HostRecord, KernelModule};
use minetrace_schemas::RawBytes;

use super::proc_dir::read_bounded;
use crate::host_read::{self, Keep};

/// Cap for small text files (`/proc/stat`, `/proc/modules`, `os-release`, ...).
const SMALL_CAP: usize = 4 << 20;

/// What reading the host state could not get, by file.
pub type HostErrors = Vec<(String, String)>;

/// Reads a `/proc` or `/sys` file, recording a failure.
fn read_proc(path: &str, errors: &mut HostErrors) -> Option<Vec<u8>> {
    let result = std::fs::File::open(path).and_then(|f| read_bounded(f, SMALL_CAP));
    match result {
        Ok(b) => Some(b.bytes),
        Err(e) => {
            errors.push((path.to_owned(), e.to_string()));
            None
        }
    }
}

fn trimmed(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// Identity of the live host.
pub fn live_identity(errors: &mut HostErrors) -> HostIdentity {
    // machine-id is a plain file on systemd hosts; older ones keep it only under dbus.
    let mut quiet = Vec::new();
    let machine_id = read_file_in(Path::new("/"), "etc/machine-id", &mut quiet)
        .or_else(|| read_file_in(Path::new("/"), "var/lib/dbus/machine-id", &mut quiet))
        .map(|b| trimmed(&b));
    if machine_id.is_none() {
        errors.append(&mut quiet);
    }
    let mut text = |p: &str| {
        read_proc(p, errors)
            .map(|b| trimmed(&b))
            .unwrap_or_default()
    };
    let release = text("/proc/sys/kernel/osrelease");
    let version = text("/proc/sys/kernel/version");
    HostIdentity {
        hostname: text("/proc/sys/kernel/hostname"),
        machine_id: machine_id.unwrap_or_default(),
        boot_id: text("/proc/sys/kernel/random/boot_id"),
        kernel: format!("{release} {version}").trim().to_owned(),
    }
}

/// Reads a regular file below `root` without following links (a link in an image points into the
/// analyst's own filesystem).
fn read_file_in(root: &Path, rel: &str, errors: &mut HostErrors) -> Option<Vec<u8>> {
    let path = root.join(rel);
    match host_read::read_capped(&path, SMALL_CAP as u64, Keep::Head) {
        Ok(c) => Some(c.bytes),
        Err(e) => {
            errors.push((path.display().to_string(), e.to_string()));
            None
        }
    }
}

/// `os-release` under `root`: `/etc/os-release`, or `/usr/lib/os-release` where the first is a link.
fn os_release(root: &Path, errors: &mut HostErrors) -> RawBytes {
    let mut quiet = Vec::new();
    let found = read_file_in(root, "etc/os-release", &mut quiet)
        .or_else(|| read_file_in(root, "usr/lib/os-release", &mut quiet));
    if found.is_none() {
        errors.extend(quiet);
    }
    RawBytes::new(found.unwrap_or_default())
}

/// Identity and record of a mounted image: no boot id, no kernel, no live state.
pub fn dead_box(root: &Path, errors: &mut HostErrors) -> HostRecord {
    let hostname = read_file_in(root, "etc/hostname", errors)
        .map(|b| trimmed(&b))
        .unwrap_or_default();
    let machine_id = read_file_in(root, "etc/machine-id", errors)
        .map(|b| trimmed(&b))
        .unwrap_or_default();
    HostRecord {
        identity: HostIdentity {
            hostname,
            machine_id,
            boot_id: String::new(),
            kernel: String::new(),
        },
        mode: minetrace_schemas::records::host::CollectionMode::DeadBox,
        os_release: os_release(root, errors),
        ..HostRecord::default()
    }
}

/// The first `cpu` line of `/proc/stat`, `btime`, and the number of `cpuN` lines (online CPUs).
pub fn parse_proc_stat(bytes: &[u8]) -> (CpuTotals, i64, u32) {
    let mut totals = CpuTotals::default();
    let mut btime = 0;
    let mut cpus = 0u32;
    for line in String::from_utf8_lossy(bytes).lines() {
        let mut f = line.split_ascii_whitespace();
        match f.next() {
            Some("cpu") => {
                let v: Vec<u64> = f.map(|x| x.parse().unwrap_or(0)).collect();
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                totals = CpuTotals {
                    user: at(0),
                    nice: at(1),
                    system: at(2),
                    idle: at(3),
                    iowait: at(4),
                    irq: at(5),
                    softirq: at(6),
                    steal: at(7),
                };
            }
            Some(k) if k.starts_with("cpu") => cpus += 1,
            Some("btime") => btime = f.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
    (totals, btime, cpus)
}

/// `MemTotal`, `MemAvailable`, `HugePages_Total`, `HugePages_Free`, `Hugepagesize` from `/proc/meminfo`.
pub fn parse_meminfo(bytes: &[u8]) -> [u64; 5] {
    let mut out = [0u64; 5];
    let keys = [
        "MemTotal:",
        "MemAvailable:",
        "HugePages_Total:",
        "HugePages_Free:",
        "Hugepagesize:",
    ];
    for line in String::from_utf8_lossy(bytes).lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(k), Some(v)) = (f.next(), f.next()) else {
            continue;
        };
        if let Some(i) = keys.iter().position(|key| *key == k) {
            if let Some(slot) = out.get_mut(i) {
                *slot = v.parse().unwrap_or(0);
            }
        }
    }
    out
}

/// `/proc/modules`: `name size refcount used_by state address [taint]`.
pub fn parse_modules(bytes: &[u8]) -> Vec<KernelModule> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let used = f.get(3)?;
            Some(KernelModule {
                name: (*f.first()?).to_owned(),
                size: f.get(1)?.parse().unwrap_or(0),
                refcount: f.get(2)?.parse().unwrap_or(-1),
                used_by: used
                    .split(',')
                    .filter(|s| !s.is_empty() && *s != "-")
                    .map(str::to_owned)
                    .collect(),
                state: (*f.get(4)?).to_owned(),
                taint: f.get(6).map(|t| (*t).to_owned()).unwrap_or_default(),
            })
        })
        .collect()
}

/// `/proc/uptime` in seconds.
pub fn parse_uptime(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes)
        .ok()?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Seconds since boot now, from `/proc/uptime`.
pub fn uptime_now() -> Option<f64> {
    std::fs::File::open("/proc/uptime")
        .and_then(|f| read_bounded(f, 256))
        .ok()
        .and_then(|b| parse_uptime(&b.bytes))
}

/// The live host record, without the hidden-process and collector fields the pass fills in later.
pub fn live_record(identity: HostIdentity, errors: &mut HostErrors) -> HostRecord {
    let mut rec = HostRecord {
        identity,
        os_release: os_release(Path::new("/"), errors),
        clock_ticks_per_sec: rustix::param::clock_ticks_per_second(),
        page_size: rustix::param::page_size() as u64,
        ..HostRecord::default()
    };
    if let Some(b) = read_proc("/proc/uptime", errors) {
        rec.uptime_secs = parse_uptime(&b).unwrap_or(0.0);
    }
    if let Some(b) = read_proc("/proc/stat", errors) {
        let (totals, btime, cpus) = parse_proc_stat(&b);
        rec.cpu_totals = totals;
        rec.boot_time_unix = btime;
        rec.nproc = cpus;
    }
    if let Some(b) = read_proc("/proc/loadavg", errors) {
        let text = String::from_utf8_lossy(&b);
        for (slot, v) in rec.loadavg.iter_mut().zip(text.split_ascii_whitespace()) {
            *slot = v.parse().unwrap_or(0.0);
        }
    }
    if let Some(b) = read_proc("/proc/meminfo", errors) {
        let [total, avail, hp_total, hp_free, hp_size] = parse_meminfo(&b);
        rec.mem_total_kib = total;
        rec.mem_available_kib = avail;
        rec.hugepages_total = hp_total;
        rec.hugepages_free = hp_free;
        rec.hugepage_size_kib = hp_size;
    }
    // A kernel built without module support has no /proc/modules; that is not an error.
    if Path::new("/proc/modules").exists() {
        if let Some(b) = read_proc("/proc/modules", errors) {
            rec.kernel_modules = parse_modules(&b);
        }
    }
    if let Some(b) = read_proc("/proc/sys/kernel/tainted", errors) {
        rec.kernel_taint = trimmed(&b).parse().unwrap_or(0);
    }
    // Absent unless the msr module is loaded; absence is not an error.
    let mut quiet = Vec::new();
    rec.msr_allow_writes =
        read_proc("/sys/module/msr/parameters/allow_writes", &mut quiet).map(|b| trimmed(&b));
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_totals_btime_and_cpus() {
        let (t, btime, cpus) = parse_proc_stat(
            b"cpu  10 1 20 300 4 0 2 0 0 0\ncpu0 5 0 10 150 2 0 1 0 0 0\ncpu1 5 1 10 150 2 0 1 0 0 0\nintr 1\nbtime 1700000000\n",
        );
        assert_eq!(
            (t.user, t.nice, t.system, t.idle, t.iowait, t.softirq),
            (10, 1, 20, 300, 4, 2)
        );
        assert_eq!((btime, cpus), (1_700_000_000, 2));
    }

    #[test]
    fn meminfo_and_modules() {
        let m = parse_meminfo(b"MemTotal:  100 kB\nMemAvailable: 50 kB\nHugePages_Total: 1280\nHugePages_Free: 2\nHugepagesize: 2048 kB\n");
        assert_eq!(m, [100, 50, 1280, 2, 2048]);
        let mods = parse_modules(
            b"diamorphine 16384 0 - Live 0xffffffffc0a00000 (OE)\nnf_nat 57344 2 nft_chain_nat,xt_MASQUERADE, Live 0x0\n",
        );
        assert_eq!(mods.len(), 2);
        assert_eq!(
            (
                mods[0].name.as_str(),
                mods[0].taint.as_str(),
                mods[0].used_by.len()
            ),
            ("diamorphine", "(OE)", 0)
        );
        assert_eq!(mods[1].used_by, vec!["nft_chain_nat", "xt_MASQUERADE"]);
        assert_eq!(mods[1].taint, "");
    }

    #[test]
    fn dead_box_reads_only_the_image() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/hostname"), "victim\n").unwrap();
        std::fs::write(root.path().join("etc/machine-id"), "abc123\n").unwrap();
        std::os::unix::fs::symlink("/etc/os-release", root.path().join("etc/os-release")).unwrap();
        let mut errors = Vec::new();
        let rec = dead_box(root.path(), &mut errors);
        assert_eq!(rec.identity.hostname, "victim");
        assert_eq!(rec.identity.machine_id, "abc123");
        assert_eq!(rec.identity.boot_id, "");
        // The absolute link must not be followed to the analyst's own os-release.
        assert!(rec.os_release.is_empty());
        assert_eq!(
            rec.mode,
            minetrace_schemas::records::host::CollectionMode::DeadBox
        );
    }

    #[test]
    fn live_record_has_clock_and_cpus() {
        let mut errors = Vec::new();
        let id = live_identity(&mut errors);
        assert!(!id.boot_id.is_empty());
        let rec = live_record(id, &mut errors);
        assert!(rec.clock_ticks_per_sec > 0 && rec.nproc > 0 && rec.boot_time_unix > 0);
        assert!(rec.mem_total_kib > 0);
    }
}
