//! Packaged tools moved away from their package path (part of the `system-bins` family): kits from
//! TeamTNT, 8220 and Kinsing `mv /usr/bin/chattr /usr/bin/zzh` (or `wget` to `wge1`) so that cleanup
//! scripts fail, then use the moved copy. No packaged twin is left on disk, so the twins of
//! [`super::system_bins`] cannot tell the moved file; the package database can:
//!
//! - every path the database lists directly in a system binary directory (`SYSTEM_BIN_DIRS`, kept as
//!   text by the package index) whose directory was listed whole and holds no such name is recorded as a
//!   [`PackageCheck`] with reason [`PACKAGED_MISSING`], verdict `Missing`, its package and the digest the
//!   package recorded (dpkg `md5sums`: MD5; rpm: the header's file digest). Only paths with a recorded
//!   digest (regular files; a packaged link has none) and at most [`MAX_MISSING`] of them: a
//!   half-installed host may miss many, and the cap is said in the manifest's exclusions;
//! - when there is at least one, every unowned regular file the family listed (`system-bin`, at most
//!   [`MAX_CANDIDATES`], each at most [`super::system_bins::KIT_SIZE`]) is hashed in each algorithm
//!   those digests use and recorded as a check with reason [`UNOWNED_SYSTEM_BIN`] (verdict `NotOwned`,
//!   `actual_digest`). dpkg records no size, so a size cannot narrow them down; unowned files are few.
//!
//! Which file is which tool is the analyzer's judgement (equal digests); this module only reads. Files
//! are opened with [`crate::host_read::open_regular`]: never a link, FIFO, device or kernel file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::package::{
    DigestAlgorithm, FileDigest, PackageCheck, PackageManager, PackageVerdict, PACKAGED_MISSING,
    UNOWNED_SYSTEM_BIN,
};
use minetrace_schemas::RawBytes;

use super::file_meta::Stat;
use super::host_root::{child, parent};
use super::packages::parse_md5sums_line;
use super::sink::Sink;
use crate::host_read;
use crate::package_index::{PackageIndex, DPKG_INFO};

/// Missing packaged paths recorded at most.
pub const MAX_MISSING: usize = 256;
/// Unowned files hashed for the comparison at most.
pub const MAX_CANDIDATES: usize = 512;
/// Largest `md5sums` file read (the biggest real ones are a few MiB).
const MD5SUMS_CAP: u64 = 64 << 20;

/// A directory's sorted names, shared by every spelling that reached it; `None` when the listing was cut
/// at its cap (what is missing there is not known).
pub type Names = Option<std::sync::Arc<Vec<Vec<u8>>>>;

/// A system binary directory as the family listed it: the name it is known by (`/bin`), the directory
/// it resolved to (`/usr/bin` on a merged-`/usr` host) and its sorted names, when the listing is whole.
pub struct ListedDir {
    pub spelling: &'static [u8],
    pub resolved: Vec<u8>,
    pub names: Names,
}

/// A packaged path with nothing on disk: the host's name for it, the name the database lists, the
/// package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub path: Vec<u8>,
    pub listed: Vec<u8>,
    pub package: String,
}

/// The packaged paths of `index` in the listed directories that are not there, each once by the
/// host's name, in the order the database lists them, with how many there were in all.
pub fn missing(index: &PackageIndex, dirs: &[ListedDir]) -> Vec<Missing> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (listed, package) in index.bin_paths() {
        let dir = parent(listed);
        let name = listed.get(dir.len() + 1..).unwrap_or_default();
        let Some(d) = dirs.iter().find(|d| d.spelling == dir) else {
            continue;
        };
        let Some(names) = &d.names else {
            continue;
        };
        if name.is_empty() || names.binary_search_by(|n| n.as_slice().cmp(name)).is_ok() {
            continue;
        }
        let path = child(&d.resolved, name);
        if seen.insert(path.clone()) {
            out.push(Missing {
                path,
                listed: listed.to_vec(),
                package: package.to_owned(),
            });
        }
    }
    out
}

/// The digests dpkg recorded for `wanted` (listed paths), read from the `md5sums` of their packages.
fn dpkg_digests<W: Write>(
    s: &mut Sink<'_, W>,
    wanted: &[&Missing],
) -> HashMap<Vec<u8>, FileDigest> {
    let mut by_package: BTreeMap<&str, BTreeSet<&[u8]>> = BTreeMap::new();
    for m in wanted {
        by_package
            .entry(m.package.as_str())
            .or_default()
            .insert(m.listed.as_slice());
    }
    let mut out = HashMap::new();
    let Ok(info) = s.ctx.root.resolve(DPKG_INFO, true) else {
        return out;
    };
    for (package, paths) in by_package {
        // Package names are dpkg's (`.list` file stems): no '/' can lead elsewhere.
        if package.is_empty() || package.contains('/') || package.starts_with('.') {
            continue;
        }
        let name = format!("{package}.md5sums");
        let file = child(&info.path, name.as_bytes());
        match host_read::read_capped(&s.ctx.root.real(&file), MD5SUMS_CAP, host_read::Keep::Head) {
            Ok(c) => {
                for (hex, path) in c
                    .bytes
                    .split(|b| *b == b'\n')
                    .filter_map(parse_md5sums_line)
                {
                    if paths.contains(path.as_slice()) {
                        out.insert(
                            path,
                            FileDigest {
                                algorithm: DigestAlgorithm::Md5,
                                hex,
                            },
                        );
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => s.note(&file, format!("cannot read: {e}")),
        }
    }
    out
}

/// Records the missing packaged paths of the listed directories and, when there are any, the digests of
/// the unowned files (`unowned`: the family's listing) in their algorithms.
pub fn collect<W: Write>(
    s: &mut Sink<'_, W>,
    dirs: &[ListedDir],
    unowned: &[(Vec<u8>, Stat)],
) -> Result<(), WriteError> {
    let Some(index) = s.col.package_db.shared().cloned() else {
        return Ok(());
    };
    if !index.bin_paths_complete() {
        s.note(
            b"/usr/bin",
            "the package database lists too many paths in system binary directories: missing ones \
             were looked for among the first only",
        );
    }
    let all = missing(&index, dirs);
    if all.is_empty() {
        return Ok(());
    }
    let manager = index.manager;
    let digests: HashMap<Vec<u8>, FileDigest> = match manager {
        PackageManager::Rpm => all
            .iter()
            .filter_map(|m| Some((m.listed.clone(), index.recorded_digest(&m.listed)?.clone())))
            .collect(),
        PackageManager::Dpkg => {
            let wanted: Vec<&Missing> = all.iter().collect();
            dpkg_digests(s, &wanted)
        }
    };
    let with_digest: Vec<(&Missing, &FileDigest)> = all
        .iter()
        .filter_map(|m| Some((m, digests.get(&m.listed)?)))
        .collect();
    if with_digest.len() > MAX_MISSING {
        let message = format!(
            "{} packaged files of the system binary directories are missing on disk; only the first \
             {MAX_MISSING} are recorded (package checks `{PACKAGED_MISSING}`)",
            with_digest.len()
        );
        s.note(b"/usr/bin", &message);
        s.col.exclusions.push(message);
    }
    let mut algorithms: BTreeSet<DigestAlgorithmKey> = BTreeSet::new();
    for (m, digest) in with_digest.iter().take(MAX_MISSING) {
        algorithms.insert(DigestAlgorithmKey(digest.algorithm));
        s.ctx.packages.push(PackageCheck {
            path: RawBytes::new(m.path.clone()),
            reason: PACKAGED_MISSING.into(),
            listed_as: (m.listed != m.path).then(|| RawBytes::new(m.listed.clone())),
            manager: Some(manager),
            package: Some(m.package.clone()),
            expected_digest: Some((*digest).clone()),
            actual_digest: None,
            actual_sha256: None,
            size: None,
            verdict: PackageVerdict::Missing,
            error: None,
        });
    }
    candidates(s, unowned, &algorithms, manager);
    Ok(())
}

/// [`DigestAlgorithm`] ordered by its name, for a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DigestAlgorithmKey(DigestAlgorithm);

impl PartialOrd for DigestAlgorithmKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DigestAlgorithmKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.name().cmp(other.0.name())
    }
}

/// Hashes the unowned regular files in each algorithm and records them (see the module documentation).
fn candidates<W: Write>(
    s: &mut Sink<'_, W>,
    unowned: &[(Vec<u8>, Stat)],
    algorithms: &BTreeSet<DigestAlgorithmKey>,
    manager: PackageManager,
) {
    use minetrace_schemas::records::file::FileKind;
    let files: Vec<&(Vec<u8>, Stat)> = unowned
        .iter()
        .filter(|(_, st)| st.kind == FileKind::Regular && st.size <= super::system_bins::KIT_SIZE)
        .collect();
    if files.len() > MAX_CANDIDATES {
        s.note(
            b"/usr/bin",
            format!(
                "{} unowned files in system binary directories; only the first {MAX_CANDIDATES} were \
                 hashed for packaged tools moved away",
                files.len()
            ),
        );
    }
    let mut buf = vec![0u8; 1 << 16];
    for (path, st) in files.into_iter().take(MAX_CANDIDATES) {
        for algorithm in algorithms {
            let real = s.ctx.root.real(path);
            let mut check = PackageCheck {
                path: RawBytes::new(path.clone()),
                reason: UNOWNED_SYSTEM_BIN.into(),
                listed_as: None,
                manager: Some(manager),
                package: None,
                expected_digest: None,
                actual_digest: None,
                actual_sha256: None,
                size: None,
                verdict: PackageVerdict::NotOwned,
                error: None,
            };
            match super::packages::digest_of(&real, algorithm.0, st, &mut buf) {
                Ok((digest, size)) => {
                    check.actual_digest = Some(digest);
                    check.size = Some(size);
                }
                Err(e) => {
                    check.verdict = PackageVerdict::Unreadable;
                    check.error = Some(e);
                }
            }
            s.ctx.packages.push(check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::{put, Harness};
    use super::*;

    #[test]
    fn only_listed_names_absent_from_a_whole_listing_are_missing() {
        let mut index = PackageIndex::new(vec![b"bin"]);
        index.add_list(
            "e2fsprogs",
            b"/usr/bin\n/bin/chattr\n/usr/bin/lsattr\n/usr/sbin/mke2fs\n/usr/share/doc/x/chattr\n",
        );
        index.add_list("wget", b"/usr/bin/wget\n");
        let names = |v: &[&str]| {
            let mut n: Vec<Vec<u8>> = v.iter().map(|s| s.as_bytes().to_vec()).collect();
            n.sort();
            Some(std::sync::Arc::new(n))
        };
        let usr_bin = names(&["lsattr", "zzh"]);
        let dirs = [
            ListedDir {
                spelling: b"/usr/bin",
                resolved: b"/usr/bin".to_vec(),
                names: usr_bin.clone(),
            },
            // Merged /usr: /bin is /usr/bin.
            ListedDir {
                spelling: b"/bin",
                resolved: b"/usr/bin".to_vec(),
                names: usr_bin,
            },
            // A listing cut at its cap says nothing about what is missing.
            ListedDir {
                spelling: b"/usr/sbin",
                resolved: b"/usr/sbin".to_vec(),
                names: None,
            },
        ];
        let got = missing(&index, &dirs);
        assert_eq!(
            got,
            vec![
                Missing {
                    path: b"/usr/bin/chattr".to_vec(),
                    listed: b"/bin/chattr".to_vec(),
                    package: "e2fsprogs".into(),
                },
                Missing {
                    path: b"/usr/bin/wget".to_vec(),
                    listed: b"/usr/bin/wget".to_vec(),
                    package: "wget".into(),
                },
            ]
        );
    }

    #[test]
    fn a_diverted_original_is_not_missing() {
        let mut index = PackageIndex::new(Vec::new());
        index.add_list("libpq-dev", b"/usr/bin/pg_config\n");
        index.add_diversions(
            b"/usr/bin/pg_config\n/usr/bin/pg_config.libpq-dev\npostgresql-common\n",
        );
        let dirs = [ListedDir {
            spelling: b"/usr/bin",
            resolved: b"/usr/bin".to_vec(),
            names: Some(std::sync::Arc::new(vec![b"pg_config.libpq-dev".to_vec()])),
        }];
        assert!(missing(&index, &dirs).is_empty());
    }

    /// A dpkg host where `mv /usr/bin/chattr /usr/bin/zzh` and `mv /usr/bin/wget /usr/bin/wge1` ran.
    #[test]
    fn a_moved_tool_leaves_a_missing_record_and_its_digest_in_the_packages_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let chattr = b"\x7fELF\x02\x01\x01\x00the-attribute-tool".to_vec();
        let wget = b"\x7fELF\x02\x01\x01\x00the-download-tool".to_vec();
        put(r, "/usr/bin/zzh", &chattr, 0o755);
        put(r, "/usr/bin/wge1", &wget, 0o755);
        put(r, "/usr/bin/lsattr", b"\x7fELF lsattr", 0o755);
        put(r, "/usr/local/bin/backup", b"#!/bin/sh\n:\n", 0o755);
        put(
            r,
            "/var/lib/dpkg/info/e2fsprogs.list",
            b"/usr/bin/chattr\n/usr/bin/lsattr\n",
            0o644,
        );
        let md5 = |b: &[u8]| {
            use md5::Digest;
            hex::encode(md5::Md5::digest(b))
        };
        put(
            r,
            "/var/lib/dpkg/info/e2fsprogs.md5sums",
            format!(
                "{}  usr/bin/chattr\n{}  usr/bin/lsattr\n",
                md5(&chattr),
                md5(b"\x7fELF lsattr")
            )
            .as_bytes(),
            0o644,
        );
        put(r, "/var/lib/dpkg/info/wget.list", b"/usr/bin/wget\n", 0o644);
        put(
            r,
            "/var/lib/dpkg/info/wget.md5sums",
            format!("{}  usr/bin/wget\n", md5(&wget)).as_bytes(),
            0o644,
        );
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        super::super::system_bins::collect(&mut s).unwrap();
        let checks = &h.ctx.packages;
        let missing: Vec<(&[u8], Option<&str>, Option<&str>)> = checks
            .iter()
            .filter(|c| c.reason == PACKAGED_MISSING)
            .map(|c| {
                assert_eq!(c.verdict, PackageVerdict::Missing);
                (
                    c.path.as_bytes(),
                    c.package.as_deref(),
                    c.expected_digest.as_ref().map(|d| d.hex.as_str()),
                )
            })
            .collect();
        assert_eq!(
            missing,
            vec![
                (
                    &b"/usr/bin/chattr"[..],
                    Some("e2fsprogs"),
                    Some(md5(&chattr).as_str())
                ),
                (
                    &b"/usr/bin/wget"[..],
                    Some("wget"),
                    Some(md5(&wget).as_str())
                ),
            ]
        );
        let digest_of = |p: &[u8]| {
            checks
                .iter()
                .find(|c| c.reason == UNOWNED_SYSTEM_BIN && c.path.as_bytes() == p)
                .and_then(|c| c.actual_digest.clone())
        };
        let want = |b: &[u8]| FileDigest {
            algorithm: DigestAlgorithm::Md5,
            hex: md5(b),
        };
        assert_eq!(digest_of(b"/usr/bin/zzh"), Some(want(&chattr)));
        assert_eq!(digest_of(b"/usr/bin/wge1"), Some(want(&wget)));
        assert_eq!(
            digest_of(b"/usr/local/bin/backup"),
            Some(want(b"#!/bin/sh\n:\n"))
        );
        // Owned files are no candidates.
        assert!(digest_of(b"/usr/bin/lsattr").is_none());
    }

    /// An rpm host: the digest is the header's, in its algorithm (SHA-256), and the unowned files are
    /// hashed in it.
    #[test]
    fn on_an_rpm_host_the_headers_digest_and_algorithm_are_used() {
        use crate::rpmdb::header::{RpmFile, RpmPackage};
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let curl = b"\x7fELF\x02\x01\x01\x00the-transfer-tool".to_vec();
        put(r, "/usr/bin/url", &curl, 0o755);
        let sha = hex::encode(sha2::Sha256::digest(&curl));
        let mut index = PackageIndex::new(Vec::new());
        index.manager = PackageManager::Rpm;
        index.add_rpm(&RpmPackage {
            name: "curl".into(),
            epoch: None,
            version: "7.76.1".into(),
            release: "26.el9".into(),
            arch: "x86_64".into(),
            digest_algorithm: Some(DigestAlgorithm::Sha256),
            files: vec![RpmFile {
                path: b"/usr/bin/curl".to_vec(),
                mode: 0o100755,
                flags: 0,
                state: Some(0),
                digest: sha.clone(),
            }],
        });
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::PackageDb::Rpm(index.into());
        let mut s = h.sink("system-bin");
        super::super::system_bins::collect(&mut s).unwrap();
        let missing = h
            .ctx
            .packages
            .iter()
            .find(|c| c.reason == PACKAGED_MISSING)
            .expect("curl is missing");
        assert_eq!(missing.path.as_bytes(), b"/usr/bin/curl");
        assert_eq!(
            missing.package.as_deref(),
            Some("curl-7.76.1-26.el9.x86_64")
        );
        assert_eq!(missing.manager, Some(PackageManager::Rpm));
        let want = Some(FileDigest {
            algorithm: DigestAlgorithm::Sha256,
            hex: sha,
        });
        assert_eq!(missing.expected_digest, want);
        let moved = h
            .ctx
            .packages
            .iter()
            .find(|c| c.reason == UNOWNED_SYSTEM_BIN)
            .expect("url is hashed");
        assert_eq!(moved.path.as_bytes(), b"/usr/bin/url");
        assert_eq!(moved.actual_digest, want);
    }

    /// A half-installed host: many packaged files gone. The records stop at the cap and the manifest's
    /// exclusions say so.
    #[test]
    fn missing_records_are_capped_and_the_cap_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        let n = MAX_MISSING + 44;
        let list: String = (0..n).map(|i| format!("/usr/bin/tool{i}\n")).collect();
        let sums: String = (0..n)
            .map(|i| format!("{i:032x}  usr/bin/tool{i}\n"))
            .collect();
        put(r, "/var/lib/dpkg/info/big.list", list.as_bytes(), 0o644);
        put(r, "/var/lib/dpkg/info/big.md5sums", sums.as_bytes(), 0o644);
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        super::super::system_bins::collect(&mut s).unwrap();
        let recorded = h
            .ctx
            .packages
            .iter()
            .filter(|c| c.reason == PACKAGED_MISSING)
            .count();
        assert_eq!(recorded, MAX_MISSING);
        assert!(
            h.col
                .exclusions
                .iter()
                .any(|e| e.starts_with(&format!("{n} packaged files")) && e.contains("256")),
            "{:?}",
            h.col.exclusions
        );
    }

    #[test]
    fn nothing_missing_means_nothing_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(r, "/usr/bin/chattr", b"\x7fELF chattr", 0o755);
        put(r, "/usr/bin/planted", b"\x7fELF planted", 0o755);
        put(
            r,
            "/var/lib/dpkg/info/e2fsprogs.list",
            b"/usr/bin/chattr\n",
            0o644,
        );
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        super::super::system_bins::collect(&mut s).unwrap();
        assert!(h.ctx.packages.is_empty(), "{:?}", h.ctx.packages);
    }

    #[test]
    fn a_fifo_under_a_moved_tools_name_is_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(r, "/var/lib/dpkg/info/wget.list", b"/usr/bin/wget\n", 0o644);
        put(
            r,
            "/var/lib/dpkg/info/wget.md5sums",
            b"0123456789abcdef0123456789abcdef  usr/bin/wget\n",
            0o644,
        );
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        let fifo =
            std::ffi::CString::new(r.join("usr/bin/wge1").as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o755) }, 0);
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        super::super::system_bins::collect(&mut s).unwrap();
        assert!(h.ctx.packages.iter().any(|c| c.reason == PACKAGED_MISSING));
        // A FIFO is not a regular file: it is no candidate (and opening it would block).
        assert!(!h
            .ctx
            .packages
            .iter()
            .any(|c| c.reason == UNOWNED_SYSTEM_BIN));
    }
}
