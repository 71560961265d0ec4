//! The process table: every process visited once, through one `/proc/PID` directory fd, in one pass.
//!
//! A visit reads `stat` first (identity: pid + start ticks; without it there is no process to record),
//! then everything else about the process — ids, cmdline, exe link, cwd, root, environment, cgroups,
//! namespaces, executable mappings and fds — and hands the executable to the executables table while the
//! process is still pinned. What the host refuses (EACCES, a process exiting mid-visit) is kept as an
//! error on the record and in the artifact log; it never ends the pass.

use std::io;

use minetrace_schemas::records::process::{ExeLink, FileId, IdSet, NamespaceRef, ProcessRecord};
use minetrace_schemas::RawBytes;

use super::environ::{self, EnvValues};
use super::executables::ExecutableTable;
use super::fds;
use super::maps;
use super::proc_dir::{is_gone, ProcDir};

/// Caps on what one process may make the collector read.
pub const STAT_CAP: usize = 4096;
pub const STATUS_CAP: usize = 16 * 1024;
pub const CMDLINE_CAP: usize = 1 << 20;
pub const ENVIRON_CAP: usize = 1 << 20;
pub const CGROUP_CAP: usize = 64 * 1024;

/// Namespace kinds recorded per process.
pub const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// `PF_KTHREAD` in the `flags` field of `stat`: kernel threads have no executable, memory or fds.
const PF_KTHREAD: u64 = 0x0020_0000;

const DELETED_SUFFIX: &[u8] = b" (deleted)";

/// The fields of `/proc/PID/stat` the process table keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatFields {
    pub comm: Vec<u8>,
    pub state: String,
    pub ppid: i32,
    pub flags: u64,
    pub utime: u64,
    pub stime: u64,
    pub nice: i64,
    pub threads: i64,
    pub start_ticks: u64,
    pub rss_pages: u64,
}

/// Parses `/proc/PID/stat`. The command name sits between the first `(` and the *last* `)`, raw bytes
/// (it may itself contain `)`, spaces or newlines); the numeric fields follow.
pub fn parse_stat(bytes: &[u8]) -> Option<StatFields> {
    let open = bytes.iter().position(|b| *b == b'(')?;
    let close = bytes.iter().rposition(|b| *b == b')')?;
    let comm = bytes.get(open + 1..close)?.to_vec();
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let signed = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
    Some(StatFields {
        comm,
        state: (*f.first()?).to_owned(),
        ppid: i32::try_from(signed(1)?).ok()?,
        flags: num(6)?,
        utime: num(11)?,
        stime: num(12)?,
        nice: signed(16)?,
        threads: signed(17)?,
        start_ticks: num(19)?,
        rss_pages: u64::try_from(signed(21)?).unwrap_or(0),
    })
}

/// Real/effective/saved/fs ids and the thread group id from `/proc/PID/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusFields {
    pub tgid: Option<i32>,
    pub uid: Option<IdSet>,
    pub gid: Option<IdSet>,
}

fn id_set(value: &str) -> Option<IdSet> {
    let mut it = value
        .split_ascii_whitespace()
        .map(|v| v.parse::<u32>().ok());
    Some(IdSet {
        real: it.next()??,
        effective: it.next()??,
        saved: it.next()??,
        fs: it.next()??,
    })
}

pub fn parse_status(bytes: &[u8]) -> StatusFields {
    let mut out = StatusFields::default();
    // `Name:` is the only line carrying process-controlled bytes and comes first; ids are plain ASCII.
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Some(v) = line.strip_prefix("Tgid:") {
            out.tgid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Uid:") {
            out.uid = id_set(v);
        } else if let Some(v) = line.strip_prefix("Gid:") {
            out.gid = id_set(v);
        }
    }
    out
}

/// Parses `net:[4026531840]` into its inode.
pub fn parse_ns_link(link: &[u8]) -> Option<u64> {
    let open = link.iter().position(|b| *b == b'[')?;
    let inner = link.get(open + 1..)?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// Settings a visit needs, fixed for the whole pass.
#[derive(Debug, Clone, Copy)]
pub struct VisitSettings {
    pub env_values: EnvValues,
    pub page_size: u64,
}

/// What could not be read in one visit, by sub-artifact, and whether the process died meanwhile.
#[derive(Debug, Default)]
struct Problems {
    list: Vec<(&'static str, String)>,
    gone: bool,
}

impl Problems {
    fn io(&mut self, what: &'static str, err: &io::Error) {
        self.gone |= is_gone(err);
        self.list.push((what, err.to_string()));
    }

    fn note(&mut self, what: &'static str, message: String) {
        self.list.push((what, message));
    }
}

/// The result of visiting one pid.
pub enum Visit {
    Done(Box<ProcessRecord>),
    /// The process exited (or its pid directory vanished) before its identity could be read.
    Vanished(String),
}

/// Visits one process. `exes` sees the executable while the process is pinned by `dir`.
/// `checked` asks for every entry's type to be checked before it is opened (a mount lies under
/// `/proc/PID`).
pub fn visit(
    proc_root: &ProcDir,
    pid: i32,
    checked: bool,
    settings: VisitSettings,
    exes: &mut ExecutableTable,
) -> Visit {
    let dir = match proc_root.open_dir(&pid.to_string()) {
        Ok(d) => d.checked(checked),
        Err(e) => return Visit::Vanished(e.to_string()),
    };
    visit_dir(&dir, pid, settings, exes)
}

/// Visits the process behind an already open `/proc/PID` directory.
pub fn visit_dir(
    dir: &ProcDir,
    pid: i32,
    settings: VisitSettings,
    exes: &mut ExecutableTable,
) -> Visit {
    let stat = match dir.read("stat", STAT_CAP) {
        Ok(b) => b,
        Err(e) => return Visit::Vanished(e.to_string()),
    };
    let Some(stat) = parse_stat(&stat.bytes) else {
        return Visit::Vanished("stat is empty or malformed".into());
    };
    let mut errors = Problems::default();
    let mut rec = ProcessRecord {
        pid,
        ppid: stat.ppid,
        start_ticks: stat.start_ticks,
        comm: RawBytes::new(stat.comm),
        state: stat.state,
        nice: stat.nice,
        threads: stat.threads,
        utime_ticks: stat.utime,
        stime_ticks: stat.stime,
        rss_bytes: stat.rss_pages.saturating_mul(settings.page_size),
        ..ProcessRecord::default()
    };
    let kthread = stat.flags & PF_KTHREAD != 0;
    let zombie = rec.state == "Z" || rec.state == "X";

    match dir.read("status", STATUS_CAP) {
        Ok(b) => {
            let st = parse_status(&b.bytes);
            rec.uid = st.uid.unwrap_or_default();
            rec.gid = st.gid.unwrap_or_default();
        }
        Err(e) => errors.io("status", &e),
    }
    match dir.read("cmdline", CMDLINE_CAP) {
        Ok(b) => {
            if b.truncated {
                errors.note("cmdline", format!("cut at {CMDLINE_CAP} bytes"));
            }
            rec.cmdline = RawBytes::new(b.bytes);
        }
        Err(e) => errors.io("cmdline", &e),
    }
    if !kthread && !zombie {
        read_exe(dir, pid, &mut rec, &mut errors, exes);
        rec.cwd = read_link(dir, "cwd", &mut errors);
        rec.root = read_link(dir, "root", &mut errors);
        match dir.read("environ", ENVIRON_CAP) {
            Ok(b) => {
                if b.truncated {
                    errors.note("environ", format!("cut at {ENVIRON_CAP} bytes"));
                }
                rec.env = environ::parse(&b.bytes, settings.env_values);
            }
            Err(e) => errors.io("environ", &e),
        }
        match maps::collect(dir) {
            Ok((m, truncated)) => {
                if truncated {
                    errors.note("maps", "cut at the mapping cap".into());
                }
                rec.maps = m;
            }
            Err(e) => errors.io("maps", &e),
        }
        match fds::collect(dir) {
            Ok(scan) => {
                if scan.truncated {
                    errors.note(
                        "fd",
                        format!("more than {} fds; the rest were not listed", fds::MAX_FDS),
                    );
                }
                if scan.unreadable > 0 {
                    errors.note(
                        "fd",
                        format!("{} fd links could not be read", scan.unreadable),
                    );
                }
                rec.fds = scan.fds;
            }
            Err(e) => errors.io("fd", &e),
        }
    }
    match dir.read("cgroup", CGROUP_CAP) {
        Ok(b) => {
            rec.cgroups = b
                .bytes
                .split(|c| *c == b'\n')
                .filter(|l| !l.is_empty())
                .map(RawBytes::new)
                .collect();
        }
        Err(e) => errors.io("cgroup", &e),
    }
    let mut ns_failed: Vec<&str> = Vec::new();
    let mut ns_error = None;
    for kind in NAMESPACES {
        match dir.readlink(&format!("ns/{kind}")) {
            Ok(link) => {
                if let Some(inode) = parse_ns_link(&link) {
                    rec.namespaces.push(NamespaceRef {
                        kind: (*kind).to_owned(),
                        inode,
                    });
                }
            }
            // Older kernels lack some kinds (time); zombies have none.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                ns_failed.push(kind);
                ns_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = ns_error {
        // One entry for all kinds: they fail together (EACCES on pid 1, a process that exited).
        errors.gone |= is_gone(&e);
        errors.note("ns", format!("{}: {e}", ns_failed.join(", ")));
    }
    if errors.gone {
        errors.note(
            "visit",
            "the process exited during the visit; the record is partial".into(),
        );
    }
    rec.errors = errors
        .list
        .into_iter()
        .map(|(what, msg)| format!("{what}: {msg}"))
        .collect();
    Visit::Done(Box::new(rec))
}

fn read_link(dir: &ProcDir, name: &'static str, errors: &mut Problems) -> Option<RawBytes> {
    match dir.readlink(name) {
        Ok(l) => Some(RawBytes::new(l)),
        Err(e) => {
            errors.io(name, &e);
            None
        }
    }
}

/// The `exe` link: text, the target's identity and link count, and a handle for hashing.
fn read_exe(
    dir: &ProcDir,
    pid: i32,
    rec: &mut ProcessRecord,
    errors: &mut Problems,
    exes: &mut ExecutableTable,
) {
    let link = match dir.readlink("exe") {
        Ok(l) => l,
        Err(e) => {
            // A process that exec'd nothing (or exited) has no exe; anything else is worth reporting.
            if e.raw_os_error() == Some(libc::ESRCH) {
                errors.gone = true;
            } else if !is_gone(&e) {
                errors.io("exe", &e);
            }
            return;
        }
    };
    let memfd = link.starts_with(b"/memfd:");
    let mut exe = ExeLink {
        memfd,
        ..ExeLink::default()
    };
    match dir.stat_target("exe") {
        Ok(st) => {
            let deleted = st.st_nlink == 0;
            exe.deleted = deleted;
            exe.nlink = Some(st.st_nlink);
            exe.file = Some(FileId {
                dev: st.st_dev,
                ino: st.st_ino,
            });
            let mut path = link;
            // The suffix is removed only when the link count confirms it is the kernel's marker.
            if deleted && path.ends_with(DELETED_SUFFIX) {
                path.truncate(path.len() - DELETED_SUFFIX.len());
            }
            exe.path = RawBytes::new(path);
            exes.observe(dir, pid, &exe, u64::try_from(st.st_size).unwrap_or(0));
        }
        Err(e) => {
            errors.io("exe", &e);
            exe.path = RawBytes::new(link);
        }
    }
    rec.exe = Some(exe);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_hostile_comm() {
        let line = b"4242 (a) b\n\xff)) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 -5 3 0 123456 1000 250 \
                     18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.comm, b"a) b\n\xff)");
        assert_eq!(
            (
                s.state.as_str(),
                s.ppid,
                s.utime,
                s.stime,
                s.nice,
                s.threads,
                s.start_ticks,
                s.rss_pages
            ),
            ("S", 1, 7, 3, -5, 3, 123456, 250)
        );
        assert_eq!(s.flags, 4194560);
        assert_eq!(parse_stat(b"12 (x"), None);
        assert_eq!(parse_stat(b"12 (x) S"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn status_ids() {
        let st = parse_status(b"Name:\tx\nTgid:\t77\nUid:\t1000\t0\t0\t0\nGid:\t5\t6\t7\t8\n");
        assert_eq!(st.tgid, Some(77));
        assert_eq!(
            st.uid,
            Some(IdSet {
                real: 1000,
                effective: 0,
                saved: 0,
                fs: 0
            })
        );
        assert_eq!(st.gid.map(|g| g.fs), Some(8));
        assert_eq!(parse_status(b"Uid:\tx\n").uid, None);
    }

    #[test]
    fn ns_links() {
        assert_eq!(parse_ns_link(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link(b"net:4026531840"), None);
    }

    fn settings() -> VisitSettings {
        VisitSettings {
            env_values: EnvValues::Allowlisted,
            page_size: 4096,
        }
    }

    #[test]
    fn visits_a_child_fully() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        // Until the child's exec is complete it is still (or partly) a copy of this test binary; the
        // argument area is filled in last.
        for _ in 0..500 {
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if args.starts_with(b"sleep\0") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let proc = ProcDir::open_path("/proc").unwrap();
        let mut exes = ExecutableTable::default();
        let visit = visit(&proc, pid, false, settings(), &mut exes);
        let _ = child.kill();
        let _ = child.wait();
        let Visit::Done(rec) = visit else {
            panic!("vanished")
        };
        assert_eq!(rec.pid, pid);
        assert_eq!(rec.ppid, i32::try_from(std::process::id()).unwrap());
        assert_eq!(rec.comm.as_bytes(), b"sleep");
        assert_eq!(rec.argv(), vec![&b"sleep"[..], b"30"]);
        assert!(rec
            .exe
            .as_ref()
            .is_some_and(|e| !e.deleted && e.file.is_some()));
        assert!(rec.netns().is_some());
        assert!(!rec.maps.is_empty());
        assert!(rec.errors.is_empty(), "{:?}", rec.errors);
        assert_eq!(exes.len(), 1);
    }

    #[test]
    fn process_exiting_mid_visit_gives_errors_not_a_panic() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let proc = ProcDir::open_path("/proc").unwrap();
        // The directory is pinned before the process dies, as in a visit that loses the race.
        let dir = proc.open_dir(&pid.to_string()).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let mut exes = ExecutableTable::default();
        match visit_dir(&dir, pid, settings(), &mut exes) {
            Visit::Vanished(_) => {}
            Visit::Done(rec) => assert!(!rec.errors.is_empty() || rec.exe.is_none()),
        }
        // And a pid that is gone altogether.
        assert!(matches!(
            visit(&proc, pid, false, settings(), &mut exes),
            Visit::Vanished(_)
        ));
    }
}
