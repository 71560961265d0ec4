//! Package integrity (record member `records/packages.pc`; mismatching packages' `md5sums` lists are
//! stored under category `packages`): for the binaries miners replace or trojanize (`ps`, `top`, `ss`,
//! `crontab`, `chattr`, `sshd`, `pam_unix.so`, ...), for every library `/etc/ld.so.preload` names, and
//! for every running executable (live mode, handed over by the live pass), the owning package, the
//! digest its database recorded (dpkg `md5sums`: MD5; rpm: the header's file digest, SHA-256 on current
//! distributions) and the file's actual digest in the same algorithm — [`PackageCheck`] records.
//!
//! Ownership is matched on the path as named, its resolved path and their merged-`/usr` aliases
//! (`/bin/ps` ↔ `/usr/bin/ps`); paths without an `md5sums` line are looked up in the run's package index
//! ([`crate::package_index`]) rather than by reading every `.list` again; on rpm hosts the index, read
//! once from the rpm database, also holds the recorded digests. Running executables that no package
//! owns are not hashed here: the live pass hashes and copies them.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::package::{
    DigestAlgorithm, FileDigest, PackageCheck, PackageManager, PackageVerdict,
};
use minetrace_schemas::RawBytes;
use sha2::{Digest, Sha256};

use super::host_root::child;
use super::listing;
use super::sink::{Content, Sink};
use crate::host_read;
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
pub const BIN_DIRS: &[&[u8]] = &[b"/usr/bin", b"/usr/sbin", b"/bin", b"/sbin"];
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

/// The package that lists a target: name, recorded digest (when the database has one), the path as
/// listed.
type Owner = Option<(String, Option<FileDigest>, Vec<u8>)>;

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

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let mut named: Vec<(Vec<u8>, &'static str)> = Vec::new();
    for name in SYSTEM_BINARIES {
        for dir in BIN_DIRS {
            named.push((child(dir, name), "system-binary"));
        }
    }
    for pat in PAM_UNIX {
        for p in s.ctx.root.expand(pat, 16) {
            named.push((p, "system-binary"));
        }
    }
    for lib in s.ctx.preload_libs.clone() {
        named.push((lib, "preload"));
    }
    // Deleted and memfd images have no file to compare; the live pass handles them and hands over the
    // rest (empty in dead-box mode, where nothing runs).
    for exe in s.col.live_handoff.running_exes.iter().take(MAX_TARGETS) {
        named.push((exe.clone(), "running-exe"));
    }

    let mut targets: Vec<Target> = Vec::new();
    let mut seen = HashSet::new();
    for (path, reason) in named {
        let Ok(r) = s.ctx.root.resolve(&path, true) else {
            continue;
        };
        if !s
            .ctx
            .root
            .lstat(&r.path)
            .is_ok_and(|st| st.kind == minetrace_schemas::records::file::FileKind::Regular)
        {
            continue;
        }
        if !seen.insert(r.path.clone()) || targets.len() >= MAX_TARGETS {
            continue;
        }
        let mut aliases = usr_aliases(&path);
        aliases.extend(usr_aliases(&r.path));
        aliases.sort();
        aliases.dedup();
        targets.push(Target {
            named: path,
            resolved: r.path,
            reason,
            aliases,
        });
    }

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

    // Every digest first, on the worker threads (a few MiB of system binaries and running
    // executables), then the verdicts in order.
    let jobs: Vec<Option<(std::path::PathBuf, DigestAlgorithm, bool)>> = targets
        .iter()
        .zip(&owner)
        .map(|(t, own)| {
            let expected = own.as_ref().and_then(|(_, d, _)| d.as_ref());
            let need_hash = t.reason != "running-exe" || expected.is_some();
            need_hash.then(|| {
                let algorithm = expected.map_or(DigestAlgorithm::Md5, |d| d.algorithm);
                (
                    s.ctx.root.real(&t.resolved),
                    algorithm,
                    t.reason != "running-exe",
                )
            })
        })
        .collect();
    let mut digested = crate::parallel::map_in_order_with(
        &jobs,
        || vec![0u8; 1 << 16],
        |buf, job| {
            job.as_ref()
                .map(|(real, algorithm, with_sha)| digests(real, *algorithm, *with_sha, buf))
        },
    )
    .into_iter();
    let mut mismatched_packages = HashSet::new();
    for (t, own) in targets.iter().zip(owner) {
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

/// The digest in `algorithm` (and sha256 when asked) of a resolved host file, streamed.
fn digests(
    real: &std::path::Path,
    algorithm: DigestAlgorithm,
    with_sha: bool,
    buf: &mut [u8],
) -> Result<(FileDigest, Option<String>, u64), String> {
    let mut digest = Hasher::new(algorithm).ok_or_else(|| {
        format!(
            "the package database records {} digests, which this build does not compute",
            algorithm.name()
        )
    })?;
    let (file, meta) = host_read::open_regular(real).map_err(|e| format!("open: {e}"))?;
    if meta.len() > HASH_CAP {
        return Err(format!(
            "{} bytes is over the {HASH_CAP}-byte hashing cap",
            meta.len()
        ));
    }
    let mut sha = with_sha.then(Sha256::new);
    let mut f = file.take(HASH_CAP);
    let mut size = 0u64;
    loop {
        let n = f.read(buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or(&[]);
        digest.update(chunk);
        if let Some(h) = sha.as_mut() {
            h.update(chunk);
        }
        size += n as u64;
    }
    Ok((
        FileDigest {
            algorithm,
            hex: digest.hex(),
        },
        sha.map(|h| hex::encode(h.finalize())),
        size,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
