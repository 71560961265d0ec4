//! Hidden-process evidence: pids the kernel knows that the `/proc` directory listing leaves out (a
//! `getdents` hook in a rootkit), and mounts laid over `/proc/N` (the userland trick of bind-mounting an
//! empty directory over a miner's pid).
//!
//! Three ways in, each cheap:
//! - the probe asks the kernel about every unlisted pid up to a bound with
//!   `getpriority(PRIO_PROCESS, N)` — a pure query, about 0.25 µs against about 5 µs for a `/proc/N`
//!   lookup on the benchmark VM — and looks at `/proc/N` only for pids that exist. When `/proc` belongs
//!   to another pid namespace than the collector, pid numbers differ, so it falls back to
//!   `fstatat(/proc, "N")` for every pid;
//! - after the process pass, parents that are not listed ([`unlisted_parents`]);
//! - `mountinfo` lines whose mount point is `/proc/N` ([`proc_bind_mounts`], [`mounted_pids`]).
//!
//! Thread ids answer without being listed; they are told apart by `Tgid` in their `status`. A candidate
//! is only reported when a second listing still leaves it out and it started before the first listing,
//! so a process born meanwhile is not mistaken for a hidden one.

use std::collections::BTreeSet;

use minetrace_schemas::records::host::HiddenPid;
use minetrace_schemas::RawBytes;

use super::proc_dir::{parse_pid, ProcDir};
use super::processes::{parse_stat, parse_status};

/// Up to this `pid_max` the whole pid space is probed with `getpriority` (about 65 ms at 0.25 µs a pid).
pub const FULL_PROBE_SYSCALL: i32 = 1 << 18;
/// Up to this `pid_max` the whole pid space is probed through `/proc` lookups (about 0.3 s).
pub const FULL_PROBE_LOOKUP: i32 = 1 << 16;
/// Otherwise pids up to the highest allocated or listed one plus this margin are probed.
pub const PROBE_MARGIN: i32 = 65_536;

const REASON_UNLISTED: &str = "answers at /proc/N but is missing from the /proc listing";
const REASON_THREAD: &str =
    "a thread of it answers at /proc/TID but the process is missing from the /proc listing";
/// The reason given for a pid that has no `/proc` entry at all (so it cannot be visited).
pub const REASON_NO_ENTRY: &str =
    "the kernel knows the pid (getpriority) but /proc/N does not answer";
const REASON_PARENT: &str = "parent of a listed process but missing from the /proc listing";

/// Lists the pids in `/proc`, sorted.
pub fn list_pids(proc_root: &ProcDir) -> std::io::Result<Vec<i32>> {
    let mut pids = Vec::new();
    proc_root.for_each_entry(|name| {
        if let Some(pid) = parse_pid(name) {
            pids.push(pid);
        }
        true
    })?;
    pids.sort_unstable();
    Ok(pids)
}

/// The last pid the kernel allocated in this pid namespace: the fifth field of `/proc/loadavg`.
pub fn parse_last_pid(loadavg: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(loadavg).ok()?;
    text.split_ascii_whitespace().nth(4)?.parse().ok()
}

/// How pids are asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMethod {
    /// `getpriority(PRIO_PROCESS, N)` for every pid, `/proc/N` only for those that exist.
    Syscall,
    /// `fstatat(/proc, "N")` for every pid: `/proc` shows another pid namespace than the collector's.
    ProcLookup,
}

/// [`ProbeMethod::Syscall`] when `/proc/self` names the collector's own pid, i.e. `/proc` and the
/// collector share a pid namespace and pid numbers mean the same to both.
pub fn probe_method(proc_root: &ProcDir, me: i32) -> ProbeMethod {
    match proc_root.readlink("self") {
        Ok(link) if link == me.to_string().as_bytes() => ProbeMethod::Syscall,
        _ => ProbeMethod::ProcLookup,
    }
}

/// Highest pid to probe. The whole space when that is cheap, or when pids have wrapped (a listed pid
/// above the allocation cursor: a hidden one could then sit anywhere); otherwise up to the highest pid
/// allocated or listed plus a margin — nothing above the cursor can exist before the first wrap.
pub fn probe_upper(
    pid_max: i32,
    last_pid: Option<i32>,
    max_listed: i32,
    method: ProbeMethod,
) -> i32 {
    let full = match method {
        ProbeMethod::Syscall => FULL_PROBE_SYSCALL,
        ProbeMethod::ProcLookup => FULL_PROBE_LOOKUP,
    };
    if pid_max <= full {
        return pid_max;
    }
    let wrapped = last_pid.is_some_and(|last| max_listed > last);
    if wrapped && method == ProbeMethod::Syscall {
        return pid_max;
    }
    let highest = last_pid.unwrap_or(0).max(max_listed);
    highest.saturating_add(PROBE_MARGIN).min(pid_max)
}

/// What the probe found and how far it looked.
#[derive(Debug, Default)]
pub struct Probe {
    pub hidden: Vec<HiddenPid>,
    pub upper: i32,
    /// Pids that answered without being listed (threads included), before verification.
    pub answered: u64,
}

/// Whether the kernel has a task with this pid in the collector's pid namespace. `getpriority` is a
/// pure query (no permission needed, nothing changes); it answers for thread ids too.
fn exists(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|p| rustix::process::getpriority_process(Some(p)).is_ok())
}

/// Probes pids `1..=upper` that are not in `listed` (sorted) and not the collector's own.
/// `listing_ticks` is the boot-relative time of the listing in clock ticks.
pub fn probe(
    proc_root: &ProcDir,
    listed: &[i32],
    own: &[i32],
    upper: i32,
    method: ProbeMethod,
    listing_ticks: u64,
) -> Probe {
    let mut out = Probe {
        upper,
        ..Probe::default()
    };
    let known = |pid: i32| listed.binary_search(&pid).is_ok() || own.contains(&pid);
    let mut candidates: BTreeSet<(i32, &'static str)> = BTreeSet::new();
    let mut next_listed = listed.iter().peekable();
    for pid in 1..=upper {
        while next_listed.next_if(|p| **p < pid).is_some() {}
        if next_listed.peek() == Some(&&pid) || own.contains(&pid) {
            continue;
        }
        if method == ProbeMethod::Syscall && !exists(pid) {
            continue;
        }
        let name = pid.to_string();
        if let Err(e) = proc_root.stat_entry(&name) {
            // Known to the kernel, yet no /proc entry even by name: hidden from lookups too.
            if method == ProbeMethod::Syscall
                && e.raw_os_error() == Some(libc::ENOENT)
                && exists(pid)
                && proc_root.stat_entry(&name).is_err()
            {
                out.answered += 1;
                candidates.insert((pid, REASON_NO_ENTRY));
            }
            continue;
        }
        out.answered += 1;
        let Ok(status) = proc_root.read(&format!("{name}/status"), 16 * 1024) else {
            continue;
        };
        match parse_status(&status.bytes).tgid {
            Some(tgid) if tgid == pid => {
                candidates.insert((pid, REASON_UNLISTED));
            }
            Some(tgid) if !known(tgid) => {
                candidates.insert((tgid, REASON_THREAD));
            }
            _ => {}
        }
    }
    out.hidden = verify(proc_root, candidates, listing_ticks);
    out
}

/// Parents of visited processes that are themselves neither listed nor the collector's: `(pid, ppid)`
/// pairs in, candidate pids out.
pub fn unlisted_parents(
    pairs: impl IntoIterator<Item = (i32, i32)>,
    visited: &[i32],
    own: &[i32],
) -> BTreeSet<(i32, &'static str)> {
    pairs
        .into_iter()
        .map(|(_, ppid)| ppid)
        .filter(|ppid| *ppid > 0 && visited.binary_search(ppid).is_err() && !own.contains(ppid))
        .map(|ppid| (ppid, REASON_PARENT))
        .collect()
}

/// Keeps the candidates that a second listing still leaves out and that started before the first
/// listing (or, for pids without a `/proc` entry, that still exist).
pub fn verify(
    proc_root: &ProcDir,
    candidates: BTreeSet<(i32, &'static str)>,
    listing_ticks: u64,
) -> Vec<HiddenPid> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let relisted = list_pids(proc_root).unwrap_or_default();
    let mut out: Vec<HiddenPid> = Vec::new();
    for (pid, reason) in candidates {
        if relisted.binary_search(&pid).is_ok() || out.iter().any(|h| h.pid == pid) {
            continue;
        }
        let keep = if reason == REASON_NO_ENTRY {
            exists(pid)
        } else {
            proc_root
                .read(&format!("{pid}/stat"), 4096)
                .ok()
                .and_then(|s| parse_stat(&s.bytes))
                // Started after the listing, or gone already: nothing proves it was hidden.
                .is_some_and(|s| s.start_ticks < listing_ticks)
        };
        if keep {
            out.push(HiddenPid {
                pid,
                reason: reason.to_owned(),
            });
        }
    }
    out
}

/// The reason given for a pid whose `/proc/N` has a mount laid over it.
pub const REASON_MOUNTED: &str = "a mount covers /proc/N (see proc_bind_mounts)";

/// Pids whose `/proc/N` directory itself is a mount point, from [`proc_bind_mounts`] lines.
pub fn mounted_pids(lines: &[RawBytes]) -> Vec<i32> {
    pids_of_mounts(lines, true)
}

/// Pids with a mount at or anywhere under `/proc/N`: their entries are type-checked before opening.
pub fn pids_with_mounts(lines: &[RawBytes]) -> Vec<i32> {
    pids_of_mounts(lines, false)
}

fn pids_of_mounts(lines: &[RawBytes], exact: bool) -> Vec<i32> {
    let mut pids: Vec<i32> = lines
        .iter()
        .filter_map(|line| {
            let point =
                crate::files::mounts::unescape_octal(line.as_bytes().split(|b| *b == b' ').nth(4)?);
            let rest = point.strip_prefix(b"/proc/")?;
            let first = rest.split(|b| *b == b'/').next()?;
            (!exact || first.len() == rest.len()).then(|| parse_pid(first))?
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Lines of `/proc/self/mountinfo` whose mount point is `/proc/<digits>` or inside one.
pub fn proc_bind_mounts(mountinfo: &[u8]) -> Vec<RawBytes> {
    mountinfo
        .split(|b| *b == b'\n')
        .filter(|line| {
            let Some(point) = line.split(|b| *b == b' ').nth(4) else {
                return false;
            };
            let point = crate::files::mounts::unescape_octal(point);
            let Some(rest) = point.strip_prefix(b"/proc/") else {
                return false;
            };
            let first = rest.split(|b| *b == b'/').next().unwrap_or_default();
            parse_pid(first).is_some()
        })
        .map(RawBytes::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_pid_and_upper_bound() {
        assert_eq!(parse_last_pid(b"0.08 0.32 0.18 1/84 10073\n"), Some(10073));
        assert_eq!(parse_last_pid(b"0.08"), None);
        let sys = ProbeMethod::Syscall;
        assert_eq!(probe_upper(32768, Some(100), 50, sys), 32768);
        // Not wrapped: nothing above the cursor can exist.
        assert_eq!(
            probe_upper(1 << 22, Some(9000), 5000, sys),
            9000 + PROBE_MARGIN
        );
        // Wrapped (a listed pid above the cursor): everything.
        assert_eq!(probe_upper(1 << 22, Some(100), 5000, sys), 1 << 22);
        // Lookups are dearer: bounded sooner, and never the whole of a large space.
        assert_eq!(
            probe_upper(1 << 22, Some(100), 5000, ProbeMethod::ProcLookup),
            5000 + PROBE_MARGIN
        );
        assert_eq!(probe_upper(32768, None, 0, ProbeMethod::ProcLookup), 32768);
    }

    #[test]
    fn bind_mounts_over_pids_are_found() {
        let info = b"22 1 0:5 / /proc rw,nosuid - proc proc rw\n\
                     99 22 0:40 /empty /proc/4242 rw - tmpfs tmpfs rw\n\
                     100 22 0:40 / /proc/sys/fs/binfmt_misc rw - binfmt_misc x rw\n\
                     101 22 0:41 / /proc/77/task rw - tmpfs t rw\n\
                     102 22 0:42 / /proc\\0404242 rw - tmpfs t rw\n";
        let found = proc_bind_mounts(info);
        assert_eq!(found.len(), 2);
        // Only the mount over the pid directory itself hides the process.
        assert_eq!(mounted_pids(&found), vec![4242]);
        assert_eq!(pids_with_mounts(&found), vec![77, 4242]);
        assert!(found[0].as_bytes().contains(&b'4'));
        assert!(found[1].as_bytes().windows(8).any(|w| w == b"/proc/77"));
    }

    #[test]
    fn own_threads_and_listed_pids_are_not_hidden() {
        // A second thread in this process answers at /proc/TID without being listed.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        let proc = ProcDir::open_path("/proc").unwrap();
        let listed = list_pids(&proc).unwrap();
        let ticks = u64::MAX;
        let last = listed.last().copied().unwrap_or(1);
        let me = i32::try_from(std::process::id()).unwrap();
        assert_eq!(probe_method(&proc, me), ProbeMethod::Syscall);
        let upper = last.saturating_add(1000);
        let result = probe(&proc, &listed, &[], upper, ProbeMethod::Syscall, ticks);
        drop(tx);
        let _ = worker.join();
        assert!(result.answered >= 1, "the worker thread should answer");
        assert!(result.hidden.is_empty(), "{:?}", result.hidden);
        let slow = probe(&proc, &listed, &[], upper, ProbeMethod::ProcLookup, ticks);
        assert!(slow.hidden.is_empty(), "{:?}", slow.hidden);
    }

    #[test]
    fn unlisted_parents_are_candidates() {
        let found = unlisted_parents(
            [(10, 1), (11, 10), (12, 99), (13, 0), (14, 50)],
            &[1, 10, 11, 12, 13, 14],
            &[50],
        );
        assert_eq!(
            found.into_iter().map(|(p, _)| p).collect::<Vec<_>>(),
            vec![99]
        );
    }
}
