//! Snapshots of a live sandbox's state, for "this step changed nothing" and "this step changed only what
//! it should" (issue 8): the files under the places persistence and kits live (every entry's type, mode,
//! owner, size, inode, times, inode flags, link target and content hash), the process table (pid, start
//! time, stopped or running, command line, executable's device and inode) and the firewall (`iptables-save`,
//! `ip6tables-save`, `nft list ruleset`, counters masked).
//!
//! Files are read through [`crate::sandbox::SandboxFs`] (resolved inside the sandbox, never following a
//! final symlink), processes through the sandbox's `/proc`: taking a snapshot starts no process inside the
//! sandbox except the three firewall listings.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::plant::sha256_hex;
use crate::sandbox::fs::{SandboxFs, FS_APPEND_FL, FS_IMMUTABLE_FL};
use crate::sandbox::Sandbox;

/// Directories walked whole: where crontabs, units, start-up files, keys, kits and the remediation's own
/// quarantine live.
pub const TREES: &[&[u8]] = &[
    b"/etc",
    b"/var/spool/cron",
    b"/var/spool/at",
    b"/root",
    b"/home",
    b"/tmp",
    b"/var/tmp",
    b"/dev/shm",
    b"/usr/local",
    b"/usr/lib/systemd/system",
    b"/opt",
    b"/srv",
    b"/var/lib/minetrace",
];

/// Regular files up to this size are hashed; bigger ones are compared by size, inode and times.
const HASH_LIMIT: i64 = 1 << 20;
/// A walk stops after this many entries (a runaway tree is a finding of the test, not a hang).
const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `f` regular, `d` directory, `l` symlink, `o` other.
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: i64,
    pub ino: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    /// Inode flags (`lsattr`), when the filesystem has them.
    pub flags: Option<u32>,
    pub sha256: Option<String>,
    pub target: Option<Vec<u8>>,
}

impl Entry {
    /// The differences that matter for "byte-identical": type, content or link target, mode, owner and
    /// the immutable and append-only flags (not inode numbers or times: an edit by rename keeps the bytes).
    pub fn content_diff(&self, other: &Entry) -> Vec<String> {
        let mut d = Vec::new();
        if self.kind != other.kind {
            d.push(format!("type {} -> {}", self.kind, other.kind));
            return d;
        }
        if self.mode != other.mode {
            d.push(format!("mode {:o} -> {:o}", self.mode, other.mode));
        }
        if (self.uid, self.gid) != (other.uid, other.gid) {
            d.push(format!(
                "owner {}:{} -> {}:{}",
                self.uid, self.gid, other.uid, other.gid
            ));
        }
        // Only the bits an attacker or a remediation sets with chattr: a copy-up from the image's ext4
        // to the overlay's tmpfs upper layer drops EXTENTS_FL on a file nobody changed.
        let locks = |f: Option<u32>| f.map(|f| f & (FS_IMMUTABLE_FL | FS_APPEND_FL));
        if locks(self.flags) != locks(other.flags) {
            d.push(format!("flags {:?} -> {:?}", self.flags, other.flags));
        }
        if self.kind == 'f' {
            if self.size != other.size {
                d.push(format!("size {} -> {}", self.size, other.size));
            }
            if self.sha256 != other.sha256 {
                d.push(format!(
                    "sha256 {} -> {}",
                    self.sha256.as_deref().unwrap_or("(not hashed)"),
                    other.sha256.as_deref().unwrap_or("(not hashed)")
                ));
            } else if self.sha256.is_none() && (self.ino, self.mtime) != (other.ino, other.mtime) {
                d.push("large file rewritten (inode or mtime differs)".into());
            }
        }
        if self.target != other.target {
            d.push(format!(
                "link target {} -> {}",
                self.target.as_deref().map_or("-".into(), show),
                other.target.as_deref().map_or("-".into(), show)
            ));
        }
        d
    }

    /// Every difference, times and inode included: for "this step touched nothing".
    pub fn exact_diff(&self, other: &Entry) -> Vec<String> {
        let mut d = self.content_diff(other);
        if self.kind != other.kind {
            return d;
        }
        let locks = |f: Option<u32>| f.map(|f| f & (FS_IMMUTABLE_FL | FS_APPEND_FL));
        if self.flags != other.flags && locks(self.flags) == locks(other.flags) {
            d.push(format!("flags {:?} -> {:?}", self.flags, other.flags));
        }
        if self.ino != other.ino {
            d.push(format!("inode {} -> {}", self.ino, other.ino));
        }
        if self.mtime != other.mtime {
            d.push(format!("mtime {:?} -> {:?}", self.mtime, other.mtime));
        }
        if self.ctime != other.ctime {
            d.push(format!(
                "ctime {:?} -> {:?} (metadata or content touched)",
                self.ctime, other.ctime
            ));
        }
        d
    }
}

fn show(bytes: &[u8]) -> String {
    minetrace_schemas::escape_bytes(bytes)
}

/// One entry of the sandbox's filesystem, `None` when the path does not exist.
pub fn entry(fs: &SandboxFs, path: &[u8]) -> Option<Entry> {
    let st = fs.lstat(path).ok()?;
    let fmt = st.st_mode & libc::S_IFMT;
    let kind = match fmt {
        libc::S_IFREG => 'f',
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        _ => 'o',
    };
    let flags = if kind == 'f' || kind == 'd' {
        fs.flags(path).ok()
    } else {
        None
    };
    let sha256 = if kind == 'f' && st.st_size <= HASH_LIMIT {
        fs.read_file(path).ok().map(|b| sha256_hex(&b))
    } else {
        None
    };
    let target = if kind == 'l' {
        fs.read_link(path).ok()
    } else {
        None
    };
    Some(Entry {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size,
        ino: st.st_ino,
        mtime: (st.st_mtime, st.st_mtime_nsec),
        ctime: (st.st_ctime, st.st_ctime_nsec),
        flags,
        sha256,
        target,
    })
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// Path → entry for every entry under `roots` (recursively, symlinks not followed) and for `extra` paths.
pub fn files(fs: &SandboxFs, roots: &[&[u8]], extra: &[Vec<u8>]) -> BTreeMap<Vec<u8>, Entry> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<Vec<u8>> = roots.iter().map(|r| r.to_vec()).collect();
    while let Some(path) = stack.pop() {
        if out.len() >= MAX_ENTRIES {
            break;
        }
        let Some(e) = entry(fs, &path) else { continue };
        if e.kind == 'd' {
            if let Ok(names) = fs.read_dir(&path) {
                stack.extend(names.iter().map(|n| join(&path, n)));
            }
        }
        out.insert(path, e);
    }
    for p in extra {
        if let Some(e) = entry(fs, p) {
            out.insert(p.clone(), e);
        }
    }
    out
}

/// A live process in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start: u64,
    /// `/proc/PID/stat` state letter.
    pub state: char,
    pub cmdline: Vec<u8>,
    pub comm: Vec<u8>,
    /// Device and inode of the running image (`/proc/PID/exe`), when readable.
    pub exe: Option<(u64, u64)>,
}

impl Proc {
    pub fn stopped(&self) -> bool {
        matches!(self.state, 'T' | 't')
    }

    /// argv as a vector.
    pub fn argv(&self) -> Vec<Vec<u8>> {
        let c = self.cmdline.strip_suffix(&[0]).unwrap_or(&self.cmdline);
        c.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
    }

    pub fn describe(&self) -> String {
        format!(
            "pid {} (start {}, state {}, comm {}, argv {})",
            self.pid,
            self.start,
            self.state,
            show(&self.comm),
            show(
                &self
                    .cmdline
                    .iter()
                    .map(|b| if *b == 0 { b' ' } else { *b })
                    .collect::<Vec<_>>()
            )
        )
    }
}

/// One process of the sandbox, `None` when it is gone or a zombie.
pub fn process(fs: &SandboxFs, pid: i32) -> Option<Proc> {
    let stat = fs.read_file(format!("/proc/{pid}/stat").as_bytes()).ok()?;
    let open = stat.iter().position(|b| *b == b'(')?;
    let close = stat.iter().rposition(|b| *b == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let rest = String::from_utf8_lossy(stat.get(close + 1..)?).into_owned();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    if matches!(state, 'Z' | 'X' | 'x') {
        return None;
    }
    let ppid = f.get(1)?.parse().ok()?;
    let start = f.get(19)?.parse().ok()?;
    let cmdline = fs
        .read_file(format!("/proc/{pid}/cmdline").as_bytes())
        .unwrap_or_default();
    let exe = fs
        .stat_follow(format!("/proc/{pid}/exe").as_bytes())
        .ok()
        .map(|st| (st.st_dev, st.st_ino));
    Some(Proc {
        pid,
        ppid,
        start,
        state,
        cmdline,
        comm,
        exe,
    })
}

/// Every live (not zombie) process in the sandbox, by pid.
pub fn processes(fs: &SandboxFs) -> BTreeMap<i32, Proc> {
    let mut out = BTreeMap::new();
    for name in fs.read_dir(b"/proc").unwrap_or_default() {
        let Some(pid) = std::str::from_utf8(&name)
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(p) = process(fs, pid) {
            out.insert(pid, p);
        }
    }
    out
}

/// Firewall listings with packet and byte counters masked (they move with any traffic).
fn mask_counters(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut prev = "";
        let mut words = Vec::new();
        for w in line.split_whitespace() {
            let masked = if prev == "packets" || prev == "bytes" {
                "N".to_owned()
            } else if w.starts_with('[') && w.ends_with(']') && w.contains(':') {
                "[N:N]".to_owned()
            } else {
                w.to_owned()
            };
            prev = w;
            words.push(masked);
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// The sandbox's firewall: `iptables-save`, `ip6tables-save` and `nft list ruleset`, counters masked.
pub fn firewall(sb: &Sandbox) -> Result<String> {
    let mut out = String::new();
    for argv in [
        &["iptables-save"][..],
        &["ip6tables-save"][..],
        &["nft", "list", "ruleset"][..],
    ] {
        let o = sb.run(argv)?;
        out.push_str(&format!(
            "### {} (exit {:?})\n",
            argv.join(" "),
            o.status.code()
        ));
        out.push_str(&mask_counters(&String::from_utf8_lossy(&o.stdout)));
        out.push_str(&mask_counters(&String::from_utf8_lossy(&o.stderr)));
    }
    Ok(out)
}

/// Files, processes and firewall of a sandbox at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub files: BTreeMap<Vec<u8>, Entry>,
    pub procs: BTreeMap<i32, Proc>,
    pub firewall: String,
}

impl Snapshot {
    /// Takes a snapshot of [`TREES`] plus `extra` paths (planted paths outside the trees).
    pub fn take(sb: &Sandbox, extra: &[Vec<u8>]) -> Result<Snapshot> {
        let files = files(sb.fs(), TREES, extra);
        let procs = processes(sb.fs());
        let firewall = firewall(sb)?;
        Ok(Snapshot {
            files,
            procs,
            firewall,
        })
    }

    /// Every difference from `self` to `after`, times and inodes included, skipping paths for which
    /// `ignore` is true. Empty means nothing changed.
    pub fn exact_changes(&self, after: &Snapshot, ignore: &dyn Fn(&[u8]) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        let paths: BTreeSet<&Vec<u8>> = self.files.keys().chain(after.files.keys()).collect();
        for p in paths {
            if ignore(p) {
                continue;
            }
            match (self.files.get(p), after.files.get(p)) {
                (Some(_), None) => out.push(format!("file {} was removed", show(p))),
                (None, Some(_)) => out.push(format!("file {} appeared", show(p))),
                (Some(a), Some(b)) => {
                    let d = a.exact_diff(b);
                    if !d.is_empty() {
                        out.push(format!("file {} changed: {}", show(p), d.join(", ")));
                    }
                }
                (None, None) => {}
            }
        }
        out.extend(self.process_changes(after));
        if self.firewall != after.firewall {
            out.push(format!(
                "firewall changed:\n{}",
                line_diff(&self.firewall, &after.firewall)
            ));
        }
        out
    }

    /// Processes that appeared, vanished, were stopped or resumed, or whose pid now holds another start
    /// time.
    pub fn process_changes(&self, after: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (pid, a) in &self.procs {
            match after.procs.get(pid) {
                None => out.push(format!("process {} is gone", a.describe())),
                Some(b) if b.start != a.start => out.push(format!(
                    "process {} was replaced by {}",
                    a.describe(),
                    b.describe()
                )),
                Some(b) if b.stopped() != a.stopped() => out.push(format!(
                    "process {} is now {}",
                    a.describe(),
                    if b.stopped() { "stopped" } else { "running" }
                )),
                Some(b) if b.cmdline != a.cmdline || b.exe != a.exe => out.push(format!(
                    "process {} now runs {}",
                    a.describe(),
                    b.describe()
                )),
                Some(_) => {}
            }
        }
        for (pid, b) in &after.procs {
            if !self.procs.contains_key(pid) {
                out.push(format!("process {} appeared", b.describe()));
            }
        }
        out
    }
}

/// Lines only in `a` (`-`) and only in `b` (`+`).
pub fn line_diff(a: &str, b: &str) -> String {
    let la: BTreeSet<&str> = a.lines().collect();
    let lb: BTreeSet<&str> = b.lines().collect();
    let mut out = String::new();
    for l in la.difference(&lb) {
        out.push_str(&format!("  - {l}\n"));
    }
    for l in lb.difference(&la) {
        out.push_str(&format!("  + {l}\n"));
    }
    out
}

/// Which of `addrs` accept a TCP connection from inside the sandbox (2 s each, in parallel).
pub fn reachable(sb: &Sandbox, addrs: &[String]) -> BTreeMap<String, bool> {
    if addrs.is_empty() {
        return BTreeMap::new();
    }
    let mut script = String::new();
    for a in addrs {
        let Some((ip, port)) = a.rsplit_once(':') else {
            continue;
        };
        script.push_str(&format!(
            "( if timeout 2 bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' {ip} {port} 2>/dev/null; \
               then echo 'open {a}'; else echo 'closed {a}'; fi ) &\n"
        ));
    }
    script.push_str("wait\n");
    let Ok(out) = sb.sh(&script) else {
        return BTreeMap::new();
    };
    out.lines()
        .filter_map(|l| {
            let (state, addr) = l.split_once(' ')?;
            Some((addr.to_owned(), state == "open"))
        })
        .collect()
}
