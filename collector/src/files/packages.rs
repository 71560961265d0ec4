//! Package integrity (record member `records/packages.pc`; mismatching packages' `md5sums` lists are
//! stored under category `packages`): for the binaries miners replace or trojanize (`ps`, `top`, `ss`,
//! `crontab`, `chattr`, `sshd`, `pam_unix.so`, ...), for every library `/etc/ld.so.preload` or a running
//! process's `LD_PRELOAD` names, for every running executable (live mode, both handed over by the live
//! pass), and for the persistence configuration the families stored that a package may ship
//! ([`package_config`]: units in the system unit directories, cron, rc, module, udev, sudoers and APT
//! hook files, the system-wide shell start-up files; at most [`MAX_CONFIGS`]), the owning package, the
//! digest its database recorded (dpkg `md5sums`: MD5; rpm: the header's file digest, SHA-256 on current
//! distributions) and the file's actual digest in the same algorithm — [`PackageCheck`] records.
//!
//! Ownership is matched on the path as named, its resolved path and their merged-`/usr` aliases
//! (`/bin/ps` ↔ `/usr/bin/ps`); paths without an `md5sums` line are looked up in the run's package index
//! ([`crate::package_index`]) rather than by reading every `.list` again; on rpm hosts the index, read
//! once from the rpm database, also holds the recorded digests. dpkg records no `md5sums` line for a
//! conffile (most of `/etc`): its digest is read from the `Conffiles:` field of `/var/lib/dpkg/status`,
//! so an edited `/etc/cron.d/sysstat` is a `Mismatch` and an untouched one a `Match`. Running
//! executables that no package owns are not hashed here: the live pass hashes and copies them.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::package::{
    DigestAlgorithm, FileDigest, PackageCheck, PackageManager, PackageVerdict,
};
use minetrace_schemas::RawBytes;
use sha2::{Digest, Sha256};

use super::file_meta;
use super::host_root::{child, HostRoot};
use super::listing;
use super::sink::{Content, Sink};
use super::spend::ReadBefore;
use crate::host_read;
use crate::package_index::PackageDb;
use md5::Md5;

pub const SYSTEM_BINARIES: &[&[u8]] = &[
    b"ps",
    b"top",
    b"netstat",
    b"ss",
    b"ls",
    b"find",
    b"crontab",
    b"chattr",
    b"lsattr",
    b"kill",
    b"pkill",
    b"iptables",
    b"curl",
    b"wget",
    b"ssh",
    b"sshd",
    b"login",
    b"passwd",
    b"ldd",
    b"bash",
    b"sh",
    b"su",
    b"sudo",
    b"lsof",
    b"systemctl",
];
pub use minetrace_schemas::locations::SYSTEM_BIN_DIRS as BIN_DIRS;
const PAM_UNIX: &[&[u8]] = &[
    b"/lib/*/security/pam_unix.so",
    b"/usr/lib/*/security/pam_unix.so",
    b"/lib64/security/pam_unix.so",
    b"/usr/lib64/security/pam_unix.so",
    b"/lib/security/pam_unix.so",
];
const DPKG_INFO: &[u8] = b"/var/lib/dpkg/info";
/// Largest file hashed for the comparison.
const HASH_CAP: u64 = 512 << 20;
const MAX_TARGETS: usize = 5_000;
/// Persistence configuration files checked per run at most (a Debian host ships ~400 units).
pub const MAX_CONFIGS: usize = 2_000;
/// Largest persistence configuration file hashed: units, crontabs and conffiles are text of a few KiB.
/// A larger one (an intruder's `truncate -s 500M` of packaged units, sparse and instant) is recorded
/// Unreadable with the reason, itself worth a look, rather than read whole on a pegged host.
pub const CONFIG_HASH_CAP: u64 = 1 << 20;
/// Bytes of persistence configuration hashed per run at most, all files together: beyond it a file is
/// recorded Unreadable, "not hashed", so a few hundred files just under the cap cost no more than this.
pub const CONFIG_HASH_BUDGET: u64 = 64 << 20;
/// dpkg's database of installed packages, where conffiles' digests are.
const DPKG_STATUS: &[u8] = b"/var/lib/dpkg/status";

/// Whether a stored file is persistence configuration a package may ship: a unit in a system unit
/// directory, a file of a system persistence location (cron, rc, modules, udev, sudoers, APT hooks,
/// ...; not users' crontabs nor `at` jobs, which no package writes) or a system-wide shell start-up file.
/// The places are the families' own lists (`schemas/src/locations.rs`).
pub fn package_config(path: &[u8]) -> bool {
    use minetrace_schemas::locations::{
        directly_in, persistence_location, Mechanism, SYSTEMD_UNIT_DIRS, SYSTEM_SHELL_STARTUP,
        SYSTEM_SHELL_STARTUP_DIRS,
    };
    SYSTEMD_UNIT_DIRS.iter().any(|d| path.starts_with(d))
        || persistence_location(path)
            .is_some_and(|l| !matches!(l.mechanism, Mechanism::UserCrontab | Mechanism::AtJob))
        || SYSTEM_SHELL_STARTUP.contains(&path)
        || directly_in(SYSTEM_SHELL_STARTUP_DIRS, path)
}

/// The package that lists a target: name, recorded digest (when the database has one), the path as
/// listed.
type Owner = Option<(String, Option<FileDigest>, Vec<u8>)>;

#[derive(Debug)]
struct Target {
    named: Vec<u8>,
    resolved: Vec<u8>,
    reason: &'static str,
    /// Paths the package database may list it under.
    aliases: Vec<Vec<u8>>,
}

/// Merged-`/usr` spellings of a path: `/bin/x` ↔ `/usr/bin/x` and the like.
pub fn usr_aliases(path: &[u8]) -> Vec<Vec<u8>> {
    const TOP: &[&[u8]] = &[b"bin", b"sbin", b"lib", b"lib32", b"lib64", b"libx32"];
    let mut out = vec![path.to_vec()];
    if let Some(rest) = path.strip_prefix(b"/usr") {
        if TOP.iter().any(|t| {
            rest.strip_prefix(b"/")
                .is_some_and(|r| r.starts_with(t) && r.get(t.len()) == Some(&b'/'))
        }) {
            out.push(rest.to_vec());
        }
    } else if TOP.iter().any(|t| {
        path.strip_prefix(b"/")
            .is_some_and(|r| r.starts_with(t) && r.get(t.len()) == Some(&b'/'))
    }) {
        let mut p = b"/usr".to_vec();
        p.extend_from_slice(path);
        out.push(p);
    }
    out
}

/// One `md5sums` line: `<32 hex>  <path relative to />`.
pub fn parse_md5sums_line(line: &[u8]) -> Option<(String, Vec<u8>)> {
    let hex = line.get(..32)?;
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let rest = line.get(32..)?;
    let start = rest.iter().position(|b| *b != b' ')?;
    let path = rest.get(start..)?;
    let path = path.strip_suffix(b"\r").unwrap_or(path);
    let mut abs = b"/".to_vec();
    abs.extend_from_slice(path.strip_prefix(b"/").unwrap_or(path));
    Some((String::from_utf8_lossy(hex).to_ascii_lowercase(), abs))
}

/// The files checked: the system binaries, `pam_unix.so`, the libraries `preload` names, the running
/// executables (`running`) and the persistence configuration (`configs`), each once by resolved path.
fn targets(
    root: &HostRoot,
    preload: &[Vec<u8>],
    running: &[Vec<u8>],
    configs: &[Vec<u8>],
) -> Vec<Target> {
    let mut named: Vec<(Vec<u8>, &'static str)> = Vec::new();
    for name in SYSTEM_BINARIES {
        for dir in BIN_DIRS {
            named.push((child(dir, name), "system-binary"));
        }
    }
    for pat in PAM_UNIX {
        for p in root.expand(pat, 16) {
            named.push((p, "system-binary"));
        }
    }
    for lib in preload {
        named.push((lib.clone(), "preload"));
    }
    // Deleted and memfd images have no file to compare; the live pass handles them and hands over the
    // rest (empty in dead-box mode, where nothing runs).
    for exe in running.iter().take(MAX_TARGETS) {
        named.push((exe.clone(), "running-exe"));
    }
    for config in configs.iter().take(MAX_CONFIGS) {
        named.push((config.clone(), "persistence-config"));
    }

    let mut targets: Vec<Target> = Vec::new();
    let mut seen = HashSet::new();
    for (path, reason) in named {
        // Configuration comes from file records of regular files, already resolved by their family
        // (the digest is read through `host_read` all the same, which refuses anything else).
        let resolved = if reason == "persistence-config" {
            path.clone()
        } else {
            let Ok(r) = root.resolve(&path, true) else {
                continue;
            };
            if !root
                .lstat(&r.path)
                .is_ok_and(|st| st.kind == minetrace_schemas::records::file::FileKind::Regular)
            {
                continue;
            }
            r.path
        };
        if !seen.insert(resolved.clone()) || targets.len() >= MAX_TARGETS {
            continue;
        }
        let mut aliases = usr_aliases(&path);
        aliases.extend(usr_aliases(&resolved));
        aliases.sort();
        aliases.dedup();
        targets.push(Target {
            named: path,
            resolved,
            reason,
            aliases,
        });
    }
    targets
}

/// What to read of a target whose package database records a digest in `recorded` (`None`: not owned,
/// or no digest): that digest (MD5 when none is known), and the sha256 beside it for files at rest (a
/// running executable's sha256 is the live pass's; persistence configuration's is on its file record).
/// An unowned running executable or configuration file is not read here.
/// Configuration is hashed up to [`CONFIG_HASH_CAP`], binaries up to [`HASH_CAP`].
fn job(root: &HostRoot, t: &Target, recorded: Option<DigestAlgorithm>) -> Option<DigestJob> {
    let at_rest = !matches!(t.reason, "running-exe" | "persistence-config");
    let cap = if t.reason == "persistence-config" {
        CONFIG_HASH_CAP
    } else {
        HASH_CAP
    };
    (at_rest || recorded.is_some()).then(|| {
        (
            root.real(&t.resolved),
            recorded.unwrap_or(DigestAlgorithm::Md5),
            at_rest,
            cap,
        )
    })
}

/// Spends [`CONFIG_HASH_BUDGET`] (`budget`) on the configuration files' digests in order, by their size
/// now: a file past the budget, or over [`CONFIG_HASH_CAP`], loses its job and gets the reason it was not
/// hashed. A kept job may read no more than it was charged (its cap becomes that size): a file that grows
/// (or shrinks from over the cap) between this stat and [`digests`] is refused there, or read no further
/// than its charge, so a live kit growing its files costs the budget, not [`MAX_CONFIGS`] times the cap
/// (review of train 3, item 5).
fn spend_config_budget(
    targets: &[Target],
    jobs: &mut [Option<DigestJob>],
    budget: u64,
) -> Vec<Option<String>> {
    let mut spent = 0u64;
    targets
        .iter()
        .zip(jobs.iter_mut())
        .map(|(t, job)| {
            if t.reason != "persistence-config" {
                return None;
            }
            let size = job
                .as_ref()
                .map(|(real, ..)| std::fs::symlink_metadata(real).map_or(0, |m| m.len()))?;
            if size > CONFIG_HASH_CAP {
                *job = None;
                return Some(format!(
                    "not hashed: {size} bytes is over the {CONFIG_HASH_CAP}-byte hashing cap"
                ));
            }
            if spent.saturating_add(size) > budget {
                *job = None;
                return Some(format!(
                    "not hashed: {size} bytes would pass the {budget}-byte budget for package-checked \
                     configuration ({spent} bytes hashed)"
                ));
            }
            spent += size;
            if let Some((.., cap)) = job.as_mut() {
                *cap = size;
            }
            None
        })
        .collect()
}

/// The package check read ahead: the files it checks and their digests, resolved and read on a thread
/// of their own from the start of the file families (live mode: the system binaries, `pam_unix.so` and
/// the running executables; the preload libraries are known only once `loader` ran), so the `packages`
/// family mostly finds them done. Which digest a file needs is taken from the package index (a dpkg
/// package owning it: MD5; rpm: the digest its header records); a guess the `md5sums` lists later
/// contradict is simply not used, and what was not guessed is read by the family itself.
pub fn start_early(
    root: &HostRoot,
    db: &PackageDb,
    running: &[Vec<u8>],
    read_before: &HashMap<(u64, u64), ReadBefore>,
) -> Option<EarlyDigests> {
    let index = db.shared()?.clone();
    let (root, running, known) = (root.clone(), running.to_vec(), read_before.clone());
    std::thread::Builder::new()
        .name("package-digests".into())
        .spawn(move || {
            let targets = targets(&root, &[], &running, &[]);
            let mut buf = vec![0u8; 1 << 16];
            let digests = targets
                .iter()
                .filter_map(|t| {
                    let recorded = t.aliases.iter().find_map(|a| {
                        let (_, listed) = index.owner(a)?;
                        Some(match index.manager {
                            PackageManager::Rpm => {
                                index.recorded_digest(&listed).map(|d| d.algorithm)
                            }
                            _ => Some(DigestAlgorithm::Md5),
                        })
                    });
                    job(&root, t, recorded.flatten())
                })
                .map(|j| {
                    let got = digests(&j.0, j.1, j.2, j.3, &mut buf, &known);
                    (j, got)
                })
                .collect();
            ReadAhead { targets, digests }
        })
        .ok()
        .map(EarlyDigests)
}

/// What [`start_early`] resolved and read.
#[derive(Debug, Default)]
struct ReadAhead {
    /// The targets without preload libraries.
    targets: Vec<Target>,
    digests: HashMap<DigestJob, Digested>,
}

/// The package check being read ahead ([`start_early`]).
#[derive(Debug)]
pub struct EarlyDigests(std::thread::JoinHandle<ReadAhead>);

impl EarlyDigests {
    /// What was read ahead (nothing if the thread failed: the family then reads it all itself).
    fn finish(self) -> ReadAhead {
        self.0.join().unwrap_or_default()
    }
}

/// A file to digest: its resolved path on this machine, the algorithm, whether its sha256 is wanted, and
/// the largest size hashed.
type DigestJob = (std::path::PathBuf, DigestAlgorithm, bool, u64);
/// The digest, the sha256 when wanted, and the size read; or why it could not be read.
type Digested = Result<(FileDigest, Option<String>, u64), String>;

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let early = s.ctx.early_digests.take().map(EarlyDigests::finish);
    // `/etc/ld.so.preload`'s libraries and those process environments preload: the analyzer judges a
    // library alike wherever it is preloaded from, its package first.
    let preload: Vec<Vec<u8>> = s
        .ctx
        .preload_libs
        .iter()
        .chain(&s.col.live_handoff.env_preloads)
        .cloned()
        .collect();
    // The persistence configuration the families stored, when a package database can vouch for it.
    let configs: Vec<Vec<u8>> = if s.col.package_db.index().is_some() {
        let mut configs: Vec<Vec<u8>> = s
            .col
            .files
            .iter()
            .filter(|f| f.kind == minetrace_schemas::records::file::FileKind::Regular)
            .map(|f| f.path.as_bytes())
            .filter(|p| package_config(p))
            .map(<[u8]>::to_vec)
            .collect();
        if configs.len() > MAX_CONFIGS {
            s.note(
                b"(persistence configuration)",
                format!(
                    "{} files; only the first {MAX_CONFIGS} are package-checked",
                    configs.len()
                ),
            );
            configs.truncate(MAX_CONFIGS);
        }
        configs
    } else {
        Vec::new()
    };
    // Read ahead without the preload libraries and the configuration: the same list when there are
    // none; otherwise the digests read ahead are still used, by file.
    let (targets, mut early) = match early {
        Some(e) if preload.is_empty() && configs.is_empty() => (e.targets, e.digests),
        other => (
            targets(
                &s.ctx.root,
                &preload,
                &s.col.live_handoff.running_exes,
                &configs,
            ),
            other.map(|e| e.digests).unwrap_or_default(),
        ),
    };

    // Which package lists which alias, and with which digest.
    let mut wanted: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        for a in &t.aliases {
            wanted.entry(a.clone()).or_default().push(i);
        }
    }
    let mut owner: Vec<Owner> = vec![None; targets.len()];
    let manager = match s.col.package_db.index() {
        Some(index) if index.manager == PackageManager::Rpm => {
            for (path, idx) in &wanted {
                let Some((package, listed)) = index.owner(path) else {
                    continue;
                };
                let digest = index.recorded_digest(&listed).cloned();
                for &i in idx {
                    if let Some(slot) = owner.get_mut(i).filter(|s| s.is_none()) {
                        *slot = Some((package.to_owned(), digest.clone(), listed.clone()));
                    }
                }
            }
            Some(PackageManager::Rpm)
        }
        _ => scan_dpkg(s, &wanted, &mut owner).then_some(PackageManager::Dpkg),
    };

    // Every digest first (a few MiB of system binaries and running executables): those read ahead
    // ([`start_early`]), the rest on the worker threads; then the verdicts in order.
    let mut jobs: Vec<Option<DigestJob>> = targets
        .iter()
        .zip(&owner)
        .map(|(t, own)| {
            let recorded = own.as_ref().and_then(|(_, d, _)| d.as_ref());
            job(&s.ctx.root, t, recorded.map(|d| d.algorithm))
        })
        .collect();
    let refused = spend_config_budget(&targets, &mut jobs, CONFIG_HASH_BUDGET);
    let mut ahead: Vec<Option<Digested>> = jobs
        .iter()
        .map(|j| j.as_ref().and_then(|j| early.remove(j)))
        .collect();
    let left: Vec<Option<&DigestJob>> = jobs
        .iter()
        .zip(&ahead)
        .map(|(j, a)| j.as_ref().filter(|_| a.is_none()))
        .collect();
    let known = &s.ctx.read_before;
    let read_now = crate::parallel::map_in_order_with(
        &left,
        || vec![0u8; 1 << 16],
        |buf, job| {
            job.map(|(real, algorithm, with_sha, cap)| {
                digests(real, *algorithm, *with_sha, *cap, buf, known)
            })
        },
    );
    let mut digested = ahead
        .iter_mut()
        .zip(read_now)
        .map(|(a, now)| a.take().or(now));
    let mut mismatched_packages = HashSet::new();
    for ((t, own), refusal) in targets.iter().zip(owner).zip(refused) {
        let (package, expected, listed) = match own {
            Some((p, m, l)) => (Some(p), m, Some(l)),
            None => (None, None, None),
        };
        let mut check = PackageCheck {
            path: RawBytes::new(t.named.clone()),
            reason: t.reason.into(),
            listed_as: listed.filter(|l| *l != t.named).map(RawBytes::new),
            manager: package.as_ref().and(manager),
            package,
            expected_digest: expected.clone(),
            actual_digest: None,
            actual_sha256: None,
            size: None,
            verdict: PackageVerdict::NotOwned,
            error: None,
        };
        if t.resolved != t.named && check.listed_as.is_none() {
            check.listed_as = Some(RawBytes::new(t.resolved.clone()));
        }
        if let Some(result) = digested.next().flatten() {
            match result {
                Ok((actual, sha, size)) => {
                    check.actual_digest = Some(actual);
                    check.actual_sha256 = sha;
                    check.size = Some(size);
                }
                Err(e) => {
                    check.verdict = PackageVerdict::Unreadable;
                    check.error = Some(e);
                }
            }
        }
        if let Some(e) = refusal {
            check.verdict = PackageVerdict::Unreadable;
            check.error = Some(e);
        }
        if check.verdict != PackageVerdict::Unreadable {
            check.verdict = match (&check.package, &check.expected_digest, &check.actual_digest) {
                (None, _, _) => PackageVerdict::NotOwned,
                (Some(_), None, _) => PackageVerdict::NoDigest,
                (Some(_), Some(e), Some(a)) if e == a => PackageVerdict::Match,
                (Some(_), Some(_), Some(_)) => PackageVerdict::Mismatch,
                (Some(_), Some(_), None) => PackageVerdict::NoDigest,
            };
        }
        if manager.is_none() && check.package.is_none() {
            check.verdict = PackageVerdict::NoDigest;
            check.error = Some("no readable package database on this host".into());
        }
        if check.verdict == PackageVerdict::Mismatch {
            if let Some(p) = &check.package {
                mismatched_packages.insert(p.clone());
            }
        }
        s.ctx.packages.push(check);
        s.log.items += 1;
    }
    // A replaced system file is evidence: recorded (and copied, within the copy budget) so the analyst
    // has it and the remediation can identify it before reinstalling its package.
    let replaced: Vec<Vec<u8>> = s
        .ctx
        .packages
        .iter()
        .filter(|c| c.verdict == PackageVerdict::Mismatch)
        .map(|c| c.path.as_bytes().to_vec())
        .collect();
    for path in replaced {
        s.capture(&path, Content::Suspect(super::spend::Place::Named))?;
    }
    let mut list: Vec<String> = mismatched_packages.into_iter().collect();
    list.sort();
    for p in list
        .into_iter()
        .filter(|_| manager == Some(PackageManager::Dpkg))
    {
        let path = child(DPKG_INFO, format!("{p}.md5sums").as_bytes());
        s.capture(
            &path,
            Content::Head {
                cap: super::sink::CONFIG_CAP,
            },
        )?;
    }
    Ok(())
}

/// Reads dpkg's `*.md5sums` (and, for paths still unowned, `*.list`) looking only for wanted paths.
/// Returns false when there is no dpkg database.
fn scan_dpkg<W: Write>(
    s: &mut Sink<'_, W>,
    wanted: &HashMap<Vec<u8>, Vec<usize>>,
    owner: &mut [Owner],
) -> bool {
    let Ok(r) = s.ctx.root.resolve(DPKG_INFO, true) else {
        return false;
    };
    let Ok(st) = s.ctx.root.lstat(&r.path) else {
        return false;
    };
    if !st.is_dir() {
        return false;
    }
    let names = match listing::list(&s.ctx.root.real(&r.path), &st, 200_000) {
        Ok((_, names, _)) => names,
        Err(e) => {
            s.note(DPKG_INFO, format!("cannot list: {e}"));
            return false;
        }
    };
    // With the run's index, only the `md5sums` of the packages owning a wanted path are read (a few
    // files instead of every package's: 9 MB on a desktop-sized install).
    let owning: Option<HashSet<Vec<u8>>> = s.col.package_db.index().map(|index| {
        wanted
            .keys()
            .filter_map(|path| index.owner(path))
            .map(|(package, _)| {
                let mut name = package.as_bytes().to_vec();
                name.extend_from_slice(b".md5sums");
                name
            })
            .collect()
    });
    for suffix in [&b".md5sums"[..], b".list"] {
        if suffix == b".list" {
            conffiles(s, wanted, owner);
        }
        if suffix == b".list" && owner.iter().all(Option::is_some) {
            break;
        }
        if suffix == b".list" {
            if let Some(index) = s.col.package_db.index() {
                // The run's index already read every `.list`: ask it instead of reading them again.
                for (path, idx) in wanted {
                    let Some((package, listed)) = index.owner(path) else {
                        continue;
                    };
                    for &i in idx {
                        if let Some(slot) = owner.get_mut(i) {
                            if slot.is_none() {
                                *slot = Some((package.to_owned(), None, listed.clone()));
                            }
                        }
                    }
                }
                break;
            }
        }
        let read = |n: &&Vec<u8>| match (&owning, suffix == b".md5sums") {
            (Some(owning), true) => owning.contains(n.as_slice()),
            _ => n.ends_with(suffix),
        };
        for n in names.iter().filter(read) {
            let package = String::from_utf8_lossy(n.get(..n.len() - suffix.len()).unwrap_or(b""))
                .into_owned();
            let real = s.ctx.root.real(&child(&r.path, n));
            let Ok(c) = host_read::read_capped(&real, 64 << 20, host_read::Keep::Head) else {
                continue;
            };
            for line in c.bytes.split(|b| *b == b'\n') {
                let (md5, path) = if suffix == b".md5sums" {
                    match parse_md5sums_line(line) {
                        Some((m, p)) => (
                            Some(FileDigest {
                                algorithm: DigestAlgorithm::Md5,
                                hex: m,
                            }),
                            p,
                        ),
                        None => continue,
                    }
                } else {
                    (None, line.to_vec())
                };
                let Some(idx) = wanted.get(&path) else {
                    continue;
                };
                for &i in idx {
                    if let Some(slot) = owner.get_mut(i) {
                        if slot.is_none() {
                            *slot = Some((package.clone(), md5.clone(), path.clone()));
                        }
                    }
                }
            }
        }
    }
    true
}

/// dpkg records a conffile's digest in `/var/lib/dpkg/status` (`Conffiles:` lines ` /etc/x <md5>`), not
/// in `md5sums`: read it for the wanted paths still without an owner. Bounded like the lists (64 MiB).
fn conffiles<W: Write>(
    s: &mut Sink<'_, W>,
    wanted: &HashMap<Vec<u8>, Vec<usize>>,
    owner: &mut [Owner],
) {
    let open: Vec<&Vec<u8>> = wanted
        .iter()
        .filter(|(_, idx)| {
            idx.iter()
                .any(|i| owner.get(*i).is_some_and(Option::is_none))
        })
        .map(|(p, _)| p)
        .collect();
    if open.is_empty() {
        return;
    }
    let Ok(r) = s.ctx.root.resolve(DPKG_STATUS, true) else {
        return;
    };
    let real = s.ctx.root.real(&r.path);
    let status = match host_read::read_capped(&real, 64 << 20, host_read::Keep::Head) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            s.note(DPKG_STATUS, format!("conffile digests not read: {e}"));
            return;
        }
    };
    for (package, path, md5) in parse_conffiles(&status.bytes) {
        let Some(idx) = wanted.get(&path) else {
            continue;
        };
        for &i in idx {
            if let Some(slot) = owner.get_mut(i).filter(|s| s.is_none()) {
                *slot = Some((
                    package.clone(),
                    Some(FileDigest {
                        algorithm: DigestAlgorithm::Md5,
                        hex: md5.clone(),
                    }),
                    path.clone(),
                ));
            }
        }
    }
}

/// `(package, conffile, md5)` of every `Conffiles:` line of a dpkg status file. Lines whose digest is no
/// MD5 (`newconffile` before configuration) are left out.
pub fn parse_conffiles(status: &[u8]) -> Vec<(String, Vec<u8>, String)> {
    let mut out = Vec::new();
    let mut package = String::new();
    let mut in_conffiles = false;
    for line in status.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            package.clear();
            in_conffiles = false;
        } else if let Some(name) = line.strip_prefix(b"Package:") {
            package = String::from_utf8_lossy(name.trim_ascii()).into_owned();
            in_conffiles = false;
        } else if line.starts_with(b"Conffiles:") {
            in_conffiles = true;
        } else if in_conffiles && line.starts_with(b" ") {
            let mut words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
            let (Some(path), Some(md5)) = (words.next(), words.next()) else {
                continue;
            };
            if path.starts_with(b"/")
                && md5.len() == 32
                && md5.iter().all(u8::is_ascii_hexdigit)
                && !package.is_empty()
            {
                out.push((
                    package.clone(),
                    path.to_vec(),
                    String::from_utf8_lossy(md5).to_ascii_lowercase(),
                ));
            }
        } else if !line.starts_with(b" ") {
            in_conffiles = false;
        }
    }
    out
}

/// One of the digests a package database records.
enum Hasher {
    Md5(Md5),
    Sha224(sha2::Sha224),
    Sha256(Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algorithm: DigestAlgorithm) -> Option<Self> {
        Some(match algorithm {
            DigestAlgorithm::Md5 => Hasher::Md5(Md5::default()),
            DigestAlgorithm::Sha224 => Hasher::Sha224(Default::default()),
            DigestAlgorithm::Sha256 => Hasher::Sha256(Default::default()),
            DigestAlgorithm::Sha384 => Hasher::Sha384(Default::default()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(Default::default()),
            DigestAlgorithm::Sha1 => return None,
        })
    }

    /// The hasher for a database's `algorithm`, or why this build cannot check its digests.
    fn for_database(algorithm: DigestAlgorithm) -> Result<Self, String> {
        Hasher::new(algorithm).ok_or_else(|| {
            format!(
                "the package database records {} digests, which this build does not compute",
                algorithm.name()
            )
        })
    }

    /// Streams at most `cap` bytes of `file` into this digest (and `sha`, when asked); the bytes read.
    fn stream(
        &mut self,
        file: std::fs::File,
        cap: u64,
        buf: &mut [u8],
        mut sha: Option<&mut Sha256>,
    ) -> Result<u64, String> {
        let mut f = file.take(cap);
        let mut size = 0u64;
        loop {
            let n = f.read(buf).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Ok(size);
            }
            let chunk = buf.get(..n).unwrap_or(&[]);
            self.update(chunk);
            if let Some(h) = sha.as_mut() {
                h.update(chunk);
            }
            size += n as u64;
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha224(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Md5(h) => hex::encode(h.finalize()),
            Hasher::Sha224(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha384(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// The digest in `algorithm` of a file a family listed with `st` (see `packaged_missing`): read only
/// while it is still that inode, a regular file on no kernel file system, at most
/// [`super::system_bins::KIT_SIZE`] bytes. Returns the digest and the bytes read.
pub(super) fn digest_of(
    real: &std::path::Path,
    algorithm: DigestAlgorithm,
    st: &super::file_meta::Stat,
    buf: &mut [u8],
) -> Result<(FileDigest, u64), String> {
    use std::os::unix::fs::MetadataExt;
    let mut digest = Hasher::for_database(algorithm)?;
    let (file, meta) = host_read::open_regular(real).map_err(|e| format!("open: {e}"))?;
    if (meta.dev(), meta.ino()) != st.id() {
        return Err("replaced since it was listed: not read".into());
    }
    let cap = super::system_bins::KIT_SIZE;
    if meta.len() > cap {
        return Err(format!(
            "{} bytes is over the {cap}-byte hashing cap",
            meta.len()
        ));
    }
    let size = digest.stream(file, cap, buf, None)?;
    Ok((
        FileDigest {
            algorithm,
            hex: digest.hex(),
        },
        size,
    ))
}

/// The digest in `algorithm` (and sha256 when asked) of a resolved host file, streamed. The sha256 of a
/// file the live pass read whole, unchanged since (`known`), is the live pass's; when the database's
/// digest is sha256 itself it is computed once.
fn digests(
    real: &std::path::Path,
    algorithm: DigestAlgorithm,
    with_sha: bool,
    cap: u64,
    buf: &mut [u8],
    known: &HashMap<(u64, u64), ReadBefore>,
) -> Digested {
    let mut digest = Hasher::for_database(algorithm)?;
    let (file, meta) = host_read::open_regular(real).map_err(|e| format!("open: {e}"))?;
    if meta.len() > cap {
        return Err(format!(
            "{} bytes is over the {cap}-byte hashing cap (for configuration: its size when the \
             budget was charged)",
            meta.len()
        ));
    }
    let read_before = with_sha
        .then(|| file_meta::fstat(&file).ok())
        .flatten()
        .and_then(|st| {
            let k = known.get(&st.id())?;
            ((k.stat.size, k.stat.mtime, k.stat.ctime) == (st.size, st.mtime, st.ctime))
                .then(|| k.sha256.clone())
        });
    let same = algorithm == DigestAlgorithm::Sha256;
    let mut sha = (with_sha && read_before.is_none() && !same).then(Sha256::new);
    let size = digest.stream(file, cap, buf, sha.as_mut())?;
    let hex = digest.hex();
    let sha = match sha {
        Some(h) => Some(hex::encode(h.finalize())),
        None if with_sha => read_before.or_else(|| same.then(|| hex.clone())),
        None => None,
    };
    Ok((FileDigest { algorithm, hex }, sha, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conffiles_of_the_status_file() {
        let status = b"Package: cron\nConffiles:\n /etc/cron.d/a 0123456789abcdef0123456789ABCDEF\n /etc/cron.d/b newconffile\n relative 0123456789abcdef0123456789abcdef\nDescription: x\n /etc/not-a-conffile 0123456789abcdef0123456789abcdef\n\nConffiles:\n /etc/no-package 0123456789abcdef0123456789abcdef\n\nPackage: e2fsprogs\r\nConffiles:\r\n /etc/cron.d/e 0123456789abcdef0123456789abcdef obsolete\r\n";
        let got = parse_conffiles(status);
        assert_eq!(
            got,
            vec![
                (
                    "cron".to_owned(),
                    b"/etc/cron.d/a".to_vec(),
                    "0123456789abcdef0123456789abcdef".to_owned()
                ),
                (
                    "e2fsprogs".to_owned(),
                    b"/etc/cron.d/e".to_vec(),
                    "0123456789abcdef0123456789abcdef".to_owned()
                ),
            ]
        );
        assert!(parse_conffiles(b"\xff\n Conffiles:\n").is_empty());
    }

    #[test]
    fn persistence_configuration_places() {
        for p in [
            "/lib/systemd/system/cron.service",
            "/etc/systemd/system/x.service",
            "/etc/cron.d/sysstat",
            "/etc/apt/apt.conf.d/20auto-upgrades",
            "/etc/profile.d/bash_completion.sh",
            "/etc/profile",
            "/lib/udev/rules.d/60-x.rules",
            "/etc/modules-load.d/x.conf",
            "/etc/sudoers.d/README",
        ] {
            assert!(package_config(p.as_bytes()), "{p}");
        }
        for p in [
            "/var/spool/cron/crontabs/root",
            "/var/spool/cron/atjobs/a0001",
            "/root/.bashrc",
            "/etc/passwd",
            "/tmp/x.service",
        ] {
            assert!(!package_config(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn merged_usr_aliases() {
        assert_eq!(
            usr_aliases(b"/bin/ps"),
            vec![b"/bin/ps".to_vec(), b"/usr/bin/ps".to_vec()]
        );
        assert_eq!(
            usr_aliases(b"/usr/sbin/sshd"),
            vec![b"/usr/sbin/sshd".to_vec(), b"/sbin/sshd".to_vec()]
        );
        assert_eq!(
            usr_aliases(b"/usr/local/bin/x"),
            vec![b"/usr/local/bin/x".to_vec()]
        );
        assert_eq!(usr_aliases(b"/binx/y"), vec![b"/binx/y".to_vec()]);
    }

    #[test]
    fn md5sums_lines() {
        let (m, p) = parse_md5sums_line(b"0123456789ABCDEF0123456789abcdef  usr/bin/ps").unwrap();
        assert_eq!(
            (m.as_str(), p.as_slice()),
            ("0123456789abcdef0123456789abcdef", &b"/usr/bin/ps"[..])
        );
        assert!(parse_md5sums_line(b"short  usr/bin/ps").is_none());
        assert!(parse_md5sums_line(b"").is_none());
    }

    use crate::files::sink::test_support::{put, Harness};
    use minetrace_schemas::records::package::PackageCheck;

    /// A dpkg image where `procps` ships `/usr/bin/ps` with `shipped` bytes, `ps` holding `now`.
    fn dpkg_image(r: &std::path::Path, shipped: &[u8], now: &[u8]) -> Harness {
        put(r, "/usr/bin/ps", now, 0o755);
        put(
            r,
            "/var/lib/dpkg/info/procps.list",
            b"/usr/bin\n/usr/bin/ps\n",
            0o644,
        );
        let md5 = hex::encode(Md5::digest(shipped));
        put(
            r,
            "/var/lib/dpkg/info/procps.md5sums",
            format!("{md5}  usr/bin/ps\n").as_bytes(),
            0o644,
        );
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        h
    }

    fn ps_check(h: &Harness) -> &PackageCheck {
        h.ctx
            .packages
            .iter()
            .find(|c| c.path.as_bytes() == b"/usr/bin/ps")
            .expect("a check of /usr/bin/ps")
    }

    #[test]
    fn the_check_takes_the_digests_read_ahead_and_reads_the_rest_itself() {
        let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
        let dir = tempfile::tempdir().unwrap();
        let mut h = dpkg_image(dir.path(), b"shipped ps", b"shipped ps");
        let early = start_early(&h.ctx.root, &h.col.package_db, &[], &h.ctx.read_before)
            .expect("an index, so digests are read ahead");
        let read = early.0.join().unwrap();
        assert!(read.targets.iter().any(|t| t.named == b"/usr/bin/ps"));
        let ((path, algorithm, with_sha, _), got) = read
            .digests
            .iter()
            .find(|((p, ..), _)| p.ends_with("usr/bin/ps"))
            .expect("ps read ahead");
        assert_eq!((*algorithm, *with_sha), (DigestAlgorithm::Md5, true));
        assert!(path.starts_with(dir.path()));
        assert_eq!(got.as_ref().unwrap().1, Some(sha(b"shipped ps")));
        // Replaced after the read ahead: the check is of the bytes read then, not read a second time.
        put(dir.path(), "/usr/bin/ps", b"trojaned ps", 0o755);
        h.ctx.early_digests = Some(EarlyDigests(std::thread::spawn(move || read)));
        collect(&mut h.sink("packages")).unwrap();
        assert!(h.ctx.early_digests.is_none());
        let ps = ps_check(&h);
        assert_eq!(ps.verdict, PackageVerdict::Match);
        assert_eq!(ps.actual_sha256, Some(sha(b"shipped ps")));

        // Nothing read ahead: the family reads the file itself and sees the replacement.
        let mut h = dpkg_image(dir.path(), b"shipped ps", b"trojaned ps");
        collect(&mut h.sink("packages")).unwrap();
        let ps = ps_check(&h);
        assert_eq!(ps.verdict, PackageVerdict::Mismatch);
        assert_eq!(ps.actual_sha256, Some(sha(b"trojaned ps")));
    }

    #[test]
    fn a_sha256_is_computed_once_and_taken_from_the_live_pass_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bash");
        std::fs::write(&path, b"bash image").unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let sha = hex::encode(Sha256::digest(b"bash image"));
        let none = HashMap::new();
        // The database's own digest is sha256 (rpm): one digest serves both fields.
        let (d, s, size) = digests(
            &path,
            DigestAlgorithm::Sha256,
            true,
            HASH_CAP,
            &mut buf,
            &none,
        )
        .unwrap();
        assert_eq!(
            (d.hex.as_str(), s.as_deref(), size),
            (sha.as_str(), Some(sha.as_str()), 10)
        );
        // The live pass read it whole: its sha256 (a stand-in value here) is taken while size and times hold.
        let st = file_meta::lstat(&path).unwrap();
        let live = |st: file_meta::Stat| {
            HashMap::from([(
                st.id(),
                ReadBefore {
                    stat: st,
                    sha256: "from-the-live-pass".into(),
                    elf: true,
                    flags: None,
                },
            )])
        };
        let (d, s, _) = digests(
            &path,
            DigestAlgorithm::Md5,
            true,
            HASH_CAP,
            &mut buf,
            &live(st.clone()),
        )
        .unwrap();
        assert_eq!(d.hex, hex::encode(Md5::digest(b"bash image")));
        assert_eq!(s.as_deref(), Some("from-the-live-pass"));
        // Changed since (other times): read again.
        let mut older = st;
        older.mtime.secs -= 60;
        let (_, s, _) = digests(
            &path,
            DigestAlgorithm::Md5,
            true,
            HASH_CAP,
            &mut buf,
            &live(older),
        )
        .unwrap();
        assert_eq!(s, Some(sha));
    }

    /// Review of train 2, item 10: persistence configuration is hashed up to its own 1 MiB cap (a larger
    /// "config" is Unreadable, the reason said) and within a total byte budget; binaries keep theirs.
    #[test]
    fn configuration_is_hashed_within_its_cap_and_a_total_budget() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.service");
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(CONFIG_HASH_CAP + 1))
            .unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let none = HashMap::new();
        let target = |name: &str, reason: &'static str| Target {
            named: format!("/etc/{name}").into_bytes(),
            resolved: format!("/{name}").into_bytes(),
            reason,
            aliases: Vec::new(),
        };
        let root = HostRoot::under(dir.path()).unwrap();
        let md5 = Some(DigestAlgorithm::Md5);
        let config = job(&root, &target("big.service", "persistence-config"), md5)
            .expect("an owned configuration file is read");
        assert_eq!(config.3, CONFIG_HASH_CAP);
        let err = digests(&config.0, config.1, config.2, config.3, &mut buf, &none).unwrap_err();
        assert!(err.contains("over the 1048576-byte hashing cap"), "{err}");
        let binary = job(&root, &target("big.service", "system-binary"), md5).unwrap();
        assert_eq!(binary.3, HASH_CAP);
        assert!(digests(&binary.0, binary.1, binary.2, binary.3, &mut buf, &none).is_ok());

        // The budget: 10 + 10 bytes fit in 25, the third file of 10 does not; the one over the cap
        // and the binary cost nothing.
        for name in ["a.service", "b.service", "c.service", "ps"] {
            std::fs::write(dir.path().join(name), [b'x'; 10]).unwrap();
        }
        let targets = vec![
            target("a.service", "persistence-config"),
            target("big.service", "persistence-config"),
            target("ps", "system-binary"),
            target("b.service", "persistence-config"),
            target("c.service", "persistence-config"),
        ];
        let mut jobs: Vec<Option<DigestJob>> = targets.iter().map(|t| job(&root, t, md5)).collect();
        let refused = spend_config_budget(&targets, &mut jobs, 25);
        let kept: Vec<bool> = jobs.iter().map(Option::is_some).collect();
        assert_eq!(kept, vec![true, false, true, true, false]);
        assert_eq!(refused.iter().filter(|r| r.is_some()).count(), 2);
        let why = refused.get(1).cloned().flatten().unwrap_or_default();
        assert!(why.contains("over the 1048576-byte hashing cap"), "{why}");
        let why = refused.get(4).cloned().flatten().unwrap_or_default();
        assert!(why.contains("25-byte budget"), "{why}");
    }

    /// Review of train 3, item 5: a configuration file is read no further than the size charged to the
    /// budget. One that grows after the charge (a live kit's file, empty when stat'ed) is refused
    /// unread, and one that shrinks from over the cap costs nothing either; a file as charged is hashed.
    #[test]
    fn configuration_is_read_no_further_than_its_charge() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::under(dir.path()).unwrap();
        let md5 = Some(DigestAlgorithm::Md5);
        let target = |name: &str| Target {
            named: format!("/etc/{name}").into_bytes(),
            resolved: format!("/{name}").into_bytes(),
            reason: "persistence-config",
            aliases: Vec::new(),
        };
        std::fs::write(dir.path().join("same.service"), [b'x'; 10]).unwrap();
        std::fs::write(dir.path().join("grows.service"), b"").unwrap();
        std::fs::File::create(dir.path().join("shrinks.service"))
            .and_then(|f| f.set_len(CONFIG_HASH_CAP + 1))
            .unwrap();
        let targets = vec![
            target("same.service"),
            target("grows.service"),
            target("shrinks.service"),
        ];
        let mut jobs: Vec<Option<DigestJob>> = targets.iter().map(|t| job(&root, t, md5)).collect();
        let refused = spend_config_budget(&targets, &mut jobs, CONFIG_HASH_BUDGET);
        assert_eq!(refused.iter().filter(|r| r.is_some()).count(), 1);
        // Between the charge and the read: one file grows to the cap, the other shrinks under it.
        std::fs::write(dir.path().join("grows.service"), vec![b'y'; 1 << 20]).unwrap();
        std::fs::write(dir.path().join("shrinks.service"), [b'z'; 10]).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let none = HashMap::new();
        let read: Vec<Option<Digested>> = jobs
            .iter()
            .map(|j| {
                j.as_ref()
                    .map(|(real, a, sha, cap)| digests(real, *a, *sha, *cap, &mut buf, &none))
            })
            .collect();
        let size_read = |i: usize| match read.get(i) {
            Some(Some(Ok((_, _, size)))) => Some(*size),
            _ => None,
        };
        assert_eq!(size_read(0), Some(10));
        match read.get(1) {
            Some(Some(Err(e))) => assert!(e.contains("over the 0-byte hashing cap"), "{e}"),
            other => panic!("a file grown past its charge is read: {other:?}"),
        }
        assert!(matches!(read.get(2), Some(None)), "{:?}", read.get(2));
    }
}

#[cfg(test)]
mod rpm_tests {
    //! The package check on an rpm host, against rpm itself: ownership as `rpm -qf` answers it and the
    //! digest verdict as `rpm -V` gives it, on the same database (built by
    //! `collector/tests/fixtures/rpmdb/make.sh` with rpmbuild and Debian's rpm; `scripts/test.sh`
    //! installs them).

    use super::*;
    use crate::files::sink::test_support::Harness;
    use std::process::Command;

    fn rpm(root: &std::path::Path, args: &[&str]) -> String {
        let out = Command::new("rpm")
            .arg("--root")
            .arg(root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args)
            .output()
            .expect("rpm (Debian package rpm; scripts/test.sh installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `rpm -qf PATH`: the owning package, or None when rpm says no package owns it.
    fn rpm_qf(root: &std::path::Path, path: &str) -> Option<String> {
        let out = Command::new("rpm")
            .arg("--root")
            .arg(root)
            .args(["--dbpath", "/var/lib/rpm", "-qf", path])
            .output()
            .expect("rpm");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() {
            Some(text)
        } else {
            assert!(text.contains("is not owned"), "{path}: {text}");
            None
        }
    }

    #[test]
    fn ownership_and_verdicts_match_rpm_qf_and_rpm_v() {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rpmdb/make.sh"
        ))
        .arg(dir.path())
        .env("MT_RPMDB_QUICK", "1")
        .status()
        .expect("make.sh needs bash, rpm, rpmbuild, db5.3-util and python3 (scripts/test.sh)");
        assert!(status.success(), "make.sh failed");
        let root = dir.path().join("root");
        // An attacker's file no package owns, in a system directory.
        std::fs::write(root.join("usr/bin/ss"), b"\x7fELF dropped").unwrap();

        let mut h = Harness::new(&root);
        h.col
            .ensure_package_index(&h.ctx.root.clone())
            .expect("index");
        assert_eq!(
            h.col.package_db.index().map(|i| i.manager),
            Some(PackageManager::Rpm)
        );
        // What the live pass hands over as running executables.
        h.col.live_handoff.running_exes = vec![
            b"/usr/bin/late-tool".to_vec(),
            b"/usr/bin/legacy-tool".to_vec(),
        ];
        collect(&mut h.sink("packages")).unwrap();

        let verify = rpm(&root, &["-V", "--nodeps", "-a"]);
        let mut checked = 0;
        for c in &h.ctx.packages {
            let path = String::from_utf8_lossy(c.path.as_bytes()).into_owned();
            assert_eq!(c.package, rpm_qf(&root, &path), "{path}");
            // rpm -V prints a line for a file whose digest differs, '5' in the third column.
            let rpm_mismatch = verify
                .lines()
                .any(|l| l.ends_with(&format!(" {path}")) && l.as_bytes().get(2) == Some(&b'5'));
            assert_eq!(
                c.verdict == PackageVerdict::Mismatch,
                rpm_mismatch,
                "{path}: {c:?}\n{verify}"
            );
            if c.package.is_some() {
                assert_eq!(c.manager, Some(PackageManager::Rpm));
                assert!(
                    matches!(c.verdict, PackageVerdict::Match | PackageVerdict::Mismatch),
                    "{path}: {c:?}"
                );
            }
            checked += 1;
        }
        let verdict = |p: &str| {
            h.ctx
                .packages
                .iter()
                .find(|c| c.path.as_bytes() == p.as_bytes())
                .map(|c| c.verdict)
        };
        assert_eq!(verdict("/usr/bin/ps"), Some(PackageVerdict::Mismatch));
        assert_eq!(verdict("/usr/bin/top"), Some(PackageVerdict::Match));
        assert_eq!(verdict("/usr/sbin/sshd"), Some(PackageVerdict::Match));
        assert_eq!(verdict("/usr/bin/ss"), Some(PackageVerdict::NotOwned));
        assert_eq!(verdict("/usr/bin/late-tool"), Some(PackageVerdict::Match));
        // The EL6-style package records MD5 digests.
        let legacy = h
            .ctx
            .packages
            .iter()
            .find(|c| c.path.as_bytes() == b"/usr/bin/legacy-tool")
            .unwrap();
        assert_eq!(legacy.verdict, PackageVerdict::Match);
        assert_eq!(
            legacy.expected_digest.as_ref().map(|d| d.algorithm),
            Some(DigestAlgorithm::Md5)
        );
        assert!(checked >= 6);

        // Ownership of every path in the tree, as rpm -qf answers it.
        let index = h.col.package_db.index().unwrap();
        for p in [
            "/usr/bin/ps",
            "/usr/lib64/libprocps.so.8",
            "/usr/lib64/libprocps.so.8.0.3",
            "/etc/mt/toprc",
            "/etc/mt",
            "/usr/share/doc/mt-procps/README",
            "/var/log/mt-procps.log",
            "/usr/bin/ss",
            "/usr/bin",
        ] {
            assert_eq!(
                index.owner(p.as_bytes()).map(|o| o.0.to_owned()),
                rpm_qf(&root, p),
                "{p}"
            );
        }
    }
}
