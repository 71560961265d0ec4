//! Volatile state of the live host, in one pass: hidden-process probe, processes, host state,
//! executables, sockets, conntrack, the host's addresses and routes. Each is an artifact family with its own timing and errors, and each
//! writes its own record member.
//!
//! Order matters: pids are listed and probed first, so hidden processes are visited like the others;
//! every process is then visited once (and unlisted parents found through their children); the host
//! record follows, so its CPU totals are close in time to the per-process times; then the package
//! index (`package-index`: dpkg's file lists read once, see [`crate::package_index`]), so the
//! executables pass knows which running files no package owns; the executables and sockets passes
//! only use what the visits gathered (held executable descriptors, working directories, socket inodes,
//! network namespaces). The executables pass hands the file families the directories where copy
//! candidates keep their configuration and what it copied ([`crate::collection::LiveHandoff`]). One module per concern; a new volatile artifact gets its own module here and
//! one `col.artifact` call in `collect_live`.
//!
//! In dead-box mode (`--root`) none of this runs: only the image's own identity is recorded.

pub mod addresses;
pub mod conntrack;
pub mod environ;
pub mod executables;
pub mod fds;
pub mod hidden;
pub mod host;
pub mod maps;
pub mod proc_dir;
pub mod processes;
pub mod routes;
pub mod sockets;

use std::io::Write;

use minetrace_schemas::bundle::{members, WriteError};
use minetrace_schemas::manifest::ArtifactLog;
use minetrace_schemas::records::executable::CopyStatus;
use minetrace_schemas::records::host::{CollectionMode, HiddenPid, HostIdentity, HostRecord};
use minetrace_schemas::records::process::{FdTarget, ProcessRecord};
use minetrace_schemas::records::{encode, RecordSetV1, RecordStream};
use minetrace_schemas::RawBytes;

use crate::collection::{note_error, Collection, LiveHandoff};
use environ::EnvValues;
use executables::{CopyLimits, ExecutableTable};
use proc_dir::ProcDir;
use processes::{Visit, VisitSettings};
use sockets::SocketIndex;

/// Bytes of the conntrack table kept at most.
pub const CONNTRACK_CAP: u64 = 64 << 20;

/// Counts and identity the run summary and manifest need from the live pass.
pub struct LiveSummary {
    pub host: HostIdentity,
    pub processes: usize,
    pub sockets: usize,
    pub executables: usize,
    /// Executables stored whole under `bin/`.
    pub copied: usize,
    pub hidden: usize,
    /// The collector's peak resident memory when the live pass ended (`VmHWM`), in KiB.
    pub peak_rss_kib: Option<u64>,
}

impl LiveSummary {
    /// A pass that recorded the host and nothing live: no processes, sockets or executables.
    fn host_only(host: HostIdentity) -> LiveSummary {
        LiveSummary {
            host,
            processes: 0,
            sockets: 0,
            executables: 0,
            copied: 0,
            hidden: 0,
            peak_rss_kib: None,
        }
    }
}

/// `VmHWM` of `/proc/self/status`: the peak resident set so far.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

pub fn collect<W: Write>(
    col: &mut Collection<W>,
    mode: CollectionMode,
) -> Result<LiveSummary, WriteError> {
    match mode {
        CollectionMode::DeadBox => collect_dead_box(col),
        CollectionMode::Live => collect_live(col),
    }
}

fn note_all(log: &mut ArtifactLog, errors: Vec<(String, String)>) {
    for (target, message) in errors {
        note_error(log, target, message);
    }
}

/// Dead-box: the image's identity and os-release, nothing live.
fn collect_dead_box<W: Write>(col: &mut Collection<W>) -> Result<LiveSummary, WriteError> {
    let root = col.options.root.clone().unwrap_or_default();
    let record = col.artifact("host", |col, log| {
        let mut errors = Vec::new();
        let record = host::dead_box(&root, &mut errors);
        note_all(log, errors);
        col.add_member(members::HOST, &encode(&RecordSetV1::Host(record.clone())))?;
        log.items = 1;
        Ok(record)
    })?;
    col.exclusions.push(
        "dead-box collection: no processes, executables, sockets or kernel state (image only)"
            .into(),
    );
    Ok(LiveSummary::host_only(record.identity))
}

/// The collector's own pid and thread ids.
fn own_ids(proc_root: &ProcDir, me: i32) -> Vec<i32> {
    let mut ids = vec![me];
    if let Ok(task) = proc_root.open_dir(&format!("{me}/task")) {
        if let Ok(names) = task.entries() {
            ids.extend(
                names
                    .iter()
                    .filter_map(|n| proc_dir::parse_pid(n))
                    .filter(|t| *t != me),
            );
        }
    }
    ids
}

/// Lets the process pass hold one descriptor per distinct executable: raises this process's own soft
/// limit to its hard limit (nothing on the host changes).
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

/// What the listing and probe produced.
struct Listing {
    /// Pids to visit: listed ones (without the collector) and hidden ones found by the probe.
    visit: Vec<i32>,
    hidden: Vec<HiddenPid>,
    bind_mounts: Vec<RawBytes>,
    /// Boot-relative time of the listing, in clock ticks.
    listing_ticks: u64,
    /// Pids with a mount at or under `/proc/PID` (sorted): visited with type checks before opens.
    mounts_under: Vec<i32>,
}

/// What the process pass hands to the later passes.
struct ProcessPass {
    count: usize,
    exes: ExecutableTable,
    index: SocketIndex,
    /// Hidden parents found through their children.
    hidden: Vec<HiddenPid>,
    /// Libraries the visited processes' environments preload ([`env_preloads`]).
    preloads: Vec<Vec<u8>>,
}

/// The most `LD_PRELOAD` libraries handed to the package check (a process environment is the
/// attacker's text: a fork bomb of distinct values must not grow the check).
pub const MAX_ENV_PRELOADS: usize = 64;

/// Adds the absolute library paths a process's `LD_PRELOAD` names
/// ([`minetrace_schemas::locations::ld_preload_list`], the loader's split) to `out`, distinct, up to
/// [`MAX_ENV_PRELOADS`] — for a process that sees the collector's files: in the collector's mount
/// namespace (`own_mnt`, when both are known) and not chrooted. A container's `LD_PRELOAD` names a file
/// of its own filesystem; the host's file at that path is another one, and no check of it says anything.
fn env_preloads(rec: &ProcessRecord, own_mnt: Option<u64>, out: &mut Vec<Vec<u8>>) {
    let mnt = rec
        .namespaces
        .iter()
        .find(|n| n.kind == "mnt")
        .map(|n| n.inode);
    let chrooted = rec
        .root
        .as_ref()
        .is_some_and(|r| !r.as_bytes().is_empty() && r.as_bytes() != b"/");
    if chrooted || matches!((mnt, own_mnt), (Some(a), Some(b)) if a != b) {
        return;
    }
    let Some(value) = rec
        .env
        .iter()
        .find(|e| e.name.as_bytes() == b"LD_PRELOAD")
        .and_then(|e| e.value.as_ref())
    else {
        return;
    };
    for lib in minetrace_schemas::locations::ld_preload_list(value.as_bytes()) {
        if out.len() >= MAX_ENV_PRELOADS {
            return;
        }
        if lib.starts_with(b"/") && !out.iter().any(|o| o == lib) {
            out.push(lib.to_vec());
        }
    }
}

/// How many generations of unlisted parents are followed up.
const MAX_PARENT_ROUNDS: usize = 64;

fn collect_live<W: Write>(col: &mut Collection<W>) -> Result<LiveSummary, WriteError> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let proc_root = match ProcDir::open_path("/proc") {
        Ok(p) => p,
        Err(e) => return collect_without_proc(col, &e),
    };
    raise_fd_limit();
    // The package index (a read of every dpkg file list, or of the rpm database) needs nothing from
    // /proc: built on its own thread while the process pass runs, joined before the executables need it.
    let index_job = std::thread::Builder::new()
        .name("package-index".into())
        .spawn(|| {
            let mut errors = Vec::new();
            let db = crate::package_index::build(
                &crate::files::host_root::HostRoot::live(),
                &mut errors,
            );
            (db, errors)
        })
        .ok();
    // Its thread is one of the collector's own ids (left out of the table and the probe).
    let own = own_ids(&proc_root, me);

    let listing = col.artifact("hidden", |_, log| {
        Ok(list_and_probe(&proc_root, me, &own, log))
    })?;

    let settings = VisitSettings {
        env_values: if col.options.all_env_values {
            EnvValues::All
        } else {
            EnvValues::Allowlisted
        },
        page_size: rustix::param::page_size() as u64,
    };
    let mut pass = col.artifact("processes", |col, log| {
        process_pass(col, log, &proc_root, &listing, &own, settings)
    })?;
    let mut hidden_pids = listing.hidden.clone();
    hidden_pids.append(&mut pass.hidden);

    // The collector's own netns is readable through itself even if no other process shares it.
    if let Ok(link) = proc_root.readlink(&format!("{me}/ns/net")) {
        if let Some(ns) = processes::parse_ns_link(&link) {
            pass.index.netns.entry(ns).or_insert_with(|| vec![me]);
        }
    }
    // The kernel's socket tables need only what the visits gathered: read on a thread of their own
    // (each is a walk of the kernel's hash tables, milliseconds per network namespace) while the
    // executables are hashed; the `sockets` artifact takes them.
    let socket_index = std::sync::Arc::new(std::mem::take(&mut pass.index));
    let sockets_job = proc_root.try_clone().ok().and_then(|dir| {
        let index = socket_index.clone();
        std::thread::Builder::new()
            .name("sockets".into())
            .spawn(move || sockets::collect(&dir, &index))
            .ok()
    });

    // Read right after the process pass, so CPU totals and per-process times are comparable.
    let host = col.artifact("host", |col, log| {
        let mut errors = Vec::new();
        let identity = host::live_identity(&mut errors);
        let mut record: HostRecord = host::live_record(identity, &mut errors);
        note_all(log, errors);
        record.hidden_pids = hidden_pids.clone();
        record.proc_bind_mounts = listing.bind_mounts.clone();
        record.collector_pids = own_ids(&proc_root, me);
        col.add_member(members::HOST, &encode(&RecordSetV1::Host(record.clone())))?;
        log.items = 1;
        Ok(record)
    })?;
    col.exclusions.push(format!(
        "the collector's own process (pid {me}) and its threads ({} ids in total) are left out of \
         the process table and the hidden-process probe",
        host.collector_pids.len()
    ));
    if !col.options.all_env_values {
        col.exclusions.push(
            "environment values outside the forensic allowlist (LD_PRELOAD, PATH, HOME, PWD, SSH_*, \
             SUDO_*, HIST*, ...) are dropped; names are kept (--all-env-values keeps them)"
                .into(),
        );
    }

    // Which running executables a package owns: the index built during the process pass.
    match index_job {
        Some(job) => col.adopt_package_index(|| {
            job.join().unwrap_or_else(|_| {
                (
                    crate::package_index::PackageDb::Missing { rpm: false },
                    vec![(
                        "/var/lib/dpkg".into(),
                        "the thread reading the package database failed".into(),
                    )],
                )
            })
        })?,
        None => col.ensure_package_index(&crate::files::host_root::HostRoot::live())?,
    }

    let limits = CopyLimits {
        max_file_bytes: col.options.max_copy_file_bytes,
        max_total_bytes: col.options.max_copy_total_bytes,
    };
    let (exe_count, copied) = col.artifact("executables", |col, log| {
        let db = std::mem::take(&mut col.package_db);
        let finished = std::mem::take(&mut pass.exes).finish(col, log, limits, db.index());
        col.package_db = db;
        let finished = finished?;
        let records = finished.records;
        let mut copies = Vec::new();
        for r in &records {
            if let (CopyStatus::Copied { member }, Some(sha)) = (&r.copy, &r.sha256) {
                copies.push(((r.file.dev, r.file.ino), member.clone(), sha.clone()));
            }
        }
        let copied = copies.len();
        let mut running_exes: Vec<Vec<u8>> = records
            .iter()
            .filter(|r| !r.deleted && !r.memfd && r.path.as_bytes().starts_with(b"/"))
            .map(|r| r.path.0.clone())
            .collect();
        running_exes.sort();
        running_exes.dedup();
        col.live_handoff = LiveHandoff {
            config_dirs: finished.scan_dirs,
            copies,
            copied_bytes: finished.copied_bytes,
            images: finished.images,
            running_exes,
            env_preloads: std::mem::take(&mut pass.preloads),
        };
        log.items = records.len() as u64;
        let count = records.len();
        col.add_member(
            members::EXECUTABLES,
            &encode(&RecordSetV1::Executables(records)),
        )?;
        col.add_member(
            members::IMAGE_TIMES,
            &encode(&RecordSetV1::ImageTimes(finished.image_times)),
        )?;
        Ok((count, copied))
    })?;

    let socket_count = col.artifact("sockets", |col, log| {
        let (records, errors) = match sockets_job.map(std::thread::JoinHandle::join) {
            Some(Ok(read)) => read,
            // No thread (or it failed): read the tables here.
            _ => sockets::collect(&proc_root, &socket_index),
        };
        for e in errors {
            note_error(log, e.target, e.message);
        }
        log.items = records.len() as u64;
        let count = records.len();
        col.add_member(members::SOCKETS, &encode(&RecordSetV1::Sockets(records)))?;
        Ok(count)
    })?;

    col.artifact("conntrack", |col, log| {
        conntrack::collect(col, log, CONNTRACK_CAP)
    })?;

    let ipv4_routes = routes::read_ipv4();
    col.artifact("addresses", |col, log| {
        let (records, errors) = addresses::collect(&ipv4_routes);
        for (target, message) in errors {
            note_error(log, target, message);
        }
        log.items = records.len() as u64;
        col.add_member(
            members::ADDRESSES,
            &encode(&RecordSetV1::Addresses(records)),
        )
    })?;

    col.artifact("routes", |col, log| {
        let (records, errors) = routes::collect(&ipv4_routes);
        for (target, message) in errors {
            note_error(log, target, message);
        }
        log.items = records.len() as u64;
        col.add_member(members::ROUTES, &encode(&RecordSetV1::Routes(records)))
    })?;

    let peak_rss_kib = peak_rss_kib();
    if col.options.verbose {
        if let Some(kib) = peak_rss_kib {
            eprintln!("minetrace-collect: live pass done, peak RSS so far {kib} KiB");
        }
    }
    Ok(LiveSummary {
        peak_rss_kib,
        host: host.identity,
        processes: pass.count,
        sockets: socket_count,
        executables: exe_count,
        copied,
        hidden: host.hidden_pids.len(),
    })
}

/// Visits every pid of the listing once, then follows unlisted parents; writes `records/processes.pc`.
fn process_pass<W: Write>(
    col: &mut Collection<W>,
    log: &mut ArtifactLog,
    proc_root: &ProcDir,
    listing: &Listing,
    own: &[i32],
    settings: VisitSettings,
) -> Result<ProcessPass, WriteError> {
    // The collector's own mount namespace: the files it reads are the ones a process there sees.
    let own_mnt = own
        .first()
        .and_then(|me| proc_root.readlink(&format!("{me}/ns/mnt")).ok())
        .and_then(|link| processes::parse_ns_link(&link));
    let mut pass = ProcessPass {
        count: 0,
        exes: ExecutableTable::default(),
        index: SocketIndex::default(),
        hidden: Vec::new(),
        preloads: Vec::new(),
    };
    // Records are encoded as they are made: a 10,000-process table is held once, as bytes.
    let mut records: RecordStream<ProcessRecord> = RecordStream::new();
    let mut visited = listing.visit.clone();
    let mut batch = listing.visit.clone();
    for _ in 0..MAX_PARENT_ROUNDS {
        let mut parents_of_batch: Vec<(i32, i32)> = Vec::with_capacity(batch.len());
        for &pid in &batch {
            let checked = listing.mounts_under.binary_search(&pid).is_ok();
            match processes::visit(proc_root, pid, checked, settings, &mut pass.exes) {
                Visit::Done(rec) => {
                    index_process(&rec, &mut pass.index);
                    env_preloads(&rec, own_mnt, &mut pass.preloads);
                    if let (Some(file), Some(cwd)) =
                        (rec.exe.as_ref().and_then(|e| e.file), rec.cwd.as_ref())
                    {
                        pass.exes.note_cwd(file, rec.pid, cwd.as_bytes());
                    }
                    for e in &rec.errors {
                        let (what, msg) = e.split_once(": ").unwrap_or(("", e));
                        note_error(log, format!("/proc/{pid}/{what}"), msg);
                    }
                    parents_of_batch.push((rec.pid, rec.ppid));
                    records.push(&rec);
                }
                Visit::Vanished(why) => note_error(
                    log,
                    format!("/proc/{pid}"),
                    format!("exited during collection ({why})"),
                ),
            }
        }
        let parents = hidden::unlisted_parents(parents_of_batch, &visited, own);
        let found = hidden::verify(proc_root, parents, listing.listing_ticks);
        if found.is_empty() {
            break;
        }
        batch = found.iter().map(|h| h.pid).collect();
        visited.extend(&batch);
        visited.sort_unstable();
        pass.hidden.extend(found);
    }
    log.items = records.len() as u64;
    pass.count = records.len();
    col.add_member(members::PROCESSES, &records.finish())?;
    Ok(pass)
}

/// Socket inodes and network namespaces of one visited process, for the sockets pass.
fn index_process(rec: &ProcessRecord, index: &mut SocketIndex) {
    for fd in &rec.fds {
        if let FdTarget::Socket { inode } = fd.target {
            index.add_owner(inode, rec.pid);
        }
    }
    if let Some(ns) = rec.netns() {
        index.add_netns(ns, rec.pid);
    }
}

/// Lists `/proc`, probes for pids missing from the listing and reads mounts over `/proc/N`.
fn list_and_probe(proc_root: &ProcDir, me: i32, own: &[i32], log: &mut ArtifactLog) -> Listing {
    let ticks_per_sec = rustix::param::clock_ticks_per_second() as f64;
    let listing_ticks = host::uptime_now()
        .map(|u| (u * ticks_per_sec) as u64)
        .unwrap_or(u64::MAX);
    let listed = match hidden::list_pids(proc_root) {
        Ok(l) => l,
        Err(e) => {
            note_error(log, "/proc", e);
            Vec::new()
        }
    };
    let read_small = |path: &str, log: &mut ArtifactLog| match proc_root.read(path, 1 << 20) {
        Ok(b) => Some(b.bytes),
        Err(e) => {
            note_error(log, format!("/proc/{path}"), e);
            None
        }
    };
    let pid_max = read_small("sys/kernel/pid_max", log)
        .and_then(|b| String::from_utf8_lossy(&b).trim().parse::<i32>().ok())
        .unwrap_or(4_194_304);
    let last_pid = read_small("loadavg", log).and_then(|b| hidden::parse_last_pid(&b));
    let method = hidden::probe_method(proc_root, me);
    let max_listed = listed.last().copied().unwrap_or(0);
    let upper = hidden::probe_upper(pid_max, last_pid, max_listed, method);
    let probe = hidden::probe(proc_root, &listed, own, upper, method, listing_ticks);
    if upper < pid_max {
        note_error(
            log,
            "/proc",
            format!(
                "pids {}..={pid_max} were not probed for hiding: the allocation cursor is at {} and \
                 no listed pid is above it, so only a pid kept from before a wrap could hide there",
                upper.saturating_add(1),
                last_pid.map_or_else(|| "an unknown pid".to_owned(), |p| p.to_string()),
            ),
        );
    }
    let bind_mounts = read_small("self/mountinfo", log)
        .map(|b| hidden::proc_bind_mounts(&b))
        .unwrap_or_default();
    let mut hidden_pids = probe.hidden;
    for pid in hidden::mounted_pids(&bind_mounts) {
        if !hidden_pids.iter().any(|h| h.pid == pid) {
            hidden_pids.push(HiddenPid {
                pid,
                reason: hidden::REASON_MOUNTED.to_owned(),
            });
        }
    }
    log.items = hidden_pids.len() as u64 + bind_mounts.len() as u64;
    let mut visit: Vec<i32> = listed.into_iter().filter(|p| !own.contains(p)).collect();
    // A pid without a /proc entry, or under a mount, has nothing readable to visit.
    visit.extend(
        hidden_pids
            .iter()
            .filter(|h| h.reason != hidden::REASON_NO_ENTRY && h.reason != hidden::REASON_MOUNTED)
            .map(|h| h.pid),
    );
    visit.retain(|p| {
        !hidden_pids
            .iter()
            .any(|h| h.pid == *p && h.reason == hidden::REASON_MOUNTED)
    });
    visit.sort_unstable();
    visit.dedup();
    Listing {
        visit,
        hidden: hidden_pids,
        mounts_under: hidden::pids_with_mounts(&bind_mounts),
        bind_mounts,
        listing_ticks,
    }
}

/// Without `/proc` there is no live state to read: record why, and still describe the host.
fn collect_without_proc<W: Write>(
    col: &mut Collection<W>,
    err: &std::io::Error,
) -> Result<LiveSummary, WriteError> {
    let record = col.artifact("host", |col, log| {
        note_error(
            log,
            "/proc",
            format!("cannot open /proc, no live state collected: {err}"),
        );
        let mut errors = Vec::new();
        let identity = host::live_identity(&mut errors);
        let record = host::live_record(identity, &mut errors);
        note_all(log, errors);
        col.add_member(members::HOST, &encode(&RecordSetV1::Host(record.clone())))?;
        log.items = 1;
        Ok(record)
    })?;
    Ok(LiveSummary::host_only(record.identity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minetrace_schemas::records::process::EnvVar;

    fn with_preload(value: &[u8]) -> ProcessRecord {
        ProcessRecord {
            env: vec![
                EnvVar {
                    name: RawBytes::from(&b"PATH"[..]),
                    value: Some(RawBytes::from(&b"/usr/bin"[..])),
                },
                EnvVar {
                    name: RawBytes::from(&b"LD_PRELOAD"[..]),
                    value: Some(RawBytes::from(value)),
                },
            ],
            ..Default::default()
        }
    }

    /// The libraries process environments preload go to the package check: absolute ones, each once,
    /// as the loader splits the value, and no more than the cap however many processes name new ones;
    /// none of a process in another mount namespace or chrooted (its paths name its own files).
    #[test]
    fn env_preloads_are_absolute_distinct_and_capped() {
        let mut out = Vec::new();
        env_preloads(
            &with_preload(
                b"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2:libfoo.so /etc/data/libx.so",
            ),
            None,
            &mut out,
        );
        env_preloads(
            &with_preload(b"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
            Some(4026531841),
            &mut out,
        );
        env_preloads(&ProcessRecord::default(), None, &mut out);
        // A container's process (another mount namespace) or a chrooted one names its own files.
        let mut container = with_preload(b"/usr/lib/libcontainer.so");
        container
            .namespaces
            .push(minetrace_schemas::records::process::NamespaceRef {
                kind: "mnt".into(),
                inode: 4026532999,
            });
        env_preloads(&container, Some(4026531841), &mut out);
        let mut chrooted = with_preload(b"/usr/lib/libchroot.so");
        chrooted.root = Some(RawBytes::from(&b"/srv/jail"[..]));
        env_preloads(&chrooted, None, &mut out);
        assert_eq!(
            out,
            vec![
                b"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2".to_vec(),
                b"/etc/data/libx.so".to_vec()
            ]
        );
        for i in 0..2 * MAX_ENV_PRELOADS {
            env_preloads(
                &with_preload(format!("/tmp/l{i}.so").as_bytes()),
                None,
                &mut out,
            );
        }
        assert_eq!(out.len(), MAX_ENV_PRELOADS);
    }
}
