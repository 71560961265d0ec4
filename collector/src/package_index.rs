//! Which paths the host's package database lists, built once per run — from `/var/lib/dpkg/info/*.list`
//! on Debian-family hosts, from the rpm database ([`crate::rpmdb`]) on RHEL-family ones — and asked by
//! path afterwards: is this running executable (or this file beside it, or this file a cron line names)
//! owned by a package? For rpm the index also keeps the digest each package recorded for its executables
//! and libraries (the package check compares them; dpkg keeps those in `md5sums`, read on demand).
//!
//! The index holds one 64-bit fingerprint per listed path (SipHash with a key drawn for this run, so the
//! host cannot aim a collision at it) and the number of the package listing it: about 12 bytes per path,
//! ~1.5 MiB for a server's 120,000 listed paths, instead of the ~16 MiB the path texts would take.
//!
//! Merged `/usr`: a package may list `/bin/ls` while the kernel names the running file `/usr/bin/ls`
//! (`/bin` is a link to `usr/bin`). For each top-level directory that is such a link on this host (`bin`,
//! `sbin`, `lib`, `lib32`, `lib64`, `libx32`), a lookup also tries the other spelling. On a host where
//! `/bin` is a real directory the two are different files and no alias is tried.
//!
//! dpkg diversions (`/var/lib/dpkg/diversions`) count too: a diverted file is listed under its original
//! name and lives under the diverted-to one. Out of scope: files that maintainer scripts create (not in
//! any `.list`), and rpm files whose state is not installed (what `rpm -qf` skips too).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use minetrace_schemas::records::file::FileKind;
use minetrace_schemas::records::package::{FileDigest, PackageManager};

use crate::files::host_root::{child, parent as parent_of, HostRoot};
use crate::files::listing;
use crate::host_read;
use crate::rpmdb;

pub const DPKG_INFO: &[u8] = b"/var/lib/dpkg/info";
/// Largest single `.list` file read (the biggest real ones are a few MiB).
const LIST_CAP: u64 = 64 << 20;
/// Bytes of `.list` files read in total.
const TOTAL_CAP: u64 = 512 << 20;
/// `.list` files read at most.
const MAX_LISTS: usize = 200_000;
/// Paths indexed at most (a real server lists ~10^5).
const MAX_PATHS: usize = 8_000_000;
/// Paths of the system binary directories kept as text at most (a server lists ~3,000): what a tool moved
/// away from its package path is looked for by ([`PackageIndex::bin_paths`]).
const MAX_BIN_PATHS: usize = 100_000;
/// Top-level directories that merged-`/usr` hosts turn into links to `usr/<name>`.
const MERGED_TOPS: &[&[u8]] = &[b"bin", b"sbin", b"lib", b"lib32", b"lib64", b"libx32"];

/// The host's package database as far as ownership goes.
#[derive(Debug, Default)]
pub enum PackageDb {
    /// Not looked at yet this run.
    #[default]
    NotBuilt,
    /// No readable package database under the root: ownership is unknown. `rpm`: an rpm database is
    /// there but could not be read (the artifact's errors say why).
    Missing {
        rpm: bool,
    },
    /// Shared, so work started ahead of the families that need it can read it on its own thread.
    Dpkg(std::sync::Arc<PackageIndex>),
    Rpm(std::sync::Arc<PackageIndex>),
}

impl PackageDb {
    pub fn index(&self) -> Option<&PackageIndex> {
        self.shared().map(|i| &**i)
    }

    /// The index, for a thread of its own.
    pub fn shared(&self) -> Option<&std::sync::Arc<PackageIndex>> {
        match self {
            PackageDb::Dpkg(i) | PackageDb::Rpm(i) => Some(i),
            _ => None,
        }
    }
}

/// What building the index read, for the artifact log and the benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// dpkg `.list` files, or rpm packages, read.
    pub lists: usize,
    pub paths: usize,
    pub bytes: u64,
}

/// The index's keys are keyed SipHash fingerprints of paths already (unpredictable to whoever wrote the
/// package lists, so no one can make them collide), so its maps take them as they are instead of
/// hashing them a second time.
#[derive(Debug, Default)]
struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByFingerprint<V> = HashMap<u64, V, BuildHasherDefault<Fingerprint>>;

#[derive(Debug)]
pub struct PackageIndex {
    keys: RandomState,
    owner: ByFingerprint<u32>,
    packages: Vec<String>,
    /// rpm only: the digest the owning package recorded, for its executables and libraries.
    digests: ByFingerprint<FileDigest>,
    /// Top-level directories that are links into `/usr` on this host.
    merged: Vec<&'static [u8]>,
    /// The paths directly in a system binary directory (`SYSTEM_BIN_DIRS`) as the database lists them,
    /// with their package's number: the one place the index keeps path text, so that a packaged tool
    /// missing from its path can be named (see `files::packaged_missing`). Capped at [`MAX_BIN_PATHS`].
    bin_paths: Vec<(Vec<u8>, u32)>,
    /// Fingerprints of paths dpkg diverted away (the original names of `diversions`): their package's
    /// file lives under the diverted-to name, so nothing is missing there.
    diverted: std::collections::HashSet<u64, BuildHasherDefault<Fingerprint>>,
    pub manager: PackageManager,
    pub stats: IndexStats,
}

impl PackageIndex {
    /// An empty index (tests, and hosts whose database lists nothing).
    pub fn new(merged: Vec<&'static [u8]>) -> Self {
        PackageIndex {
            keys: RandomState::new(),
            owner: ByFingerprint::default(),
            packages: Vec::new(),
            digests: ByFingerprint::default(),
            merged,
            bin_paths: Vec::new(),
            diverted: Default::default(),
            manager: PackageManager::Dpkg,
            stats: IndexStats::default(),
        }
    }

    fn fingerprint(&self, path: &[u8]) -> u64 {
        self.keys.hash_one(path)
    }

    /// Adds the paths one `.list` file names for `package`; returns how many were new.
    pub fn add_list(&mut self, package: &str, bytes: &[u8]) -> usize {
        let id = u32::try_from(self.packages.len()).unwrap_or(u32::MAX);
        self.packages.push(package.to_owned());
        let mut added = 0;
        for line in bytes.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.starts_with(b"/") || line == b"/." || self.owner.len() >= MAX_PATHS {
                continue;
            }
            let key = self.fingerprint(line);
            if let std::collections::hash_map::Entry::Vacant(v) = self.owner.entry(key) {
                v.insert(id);
                added += 1;
                self.keep_bin_path(line, id);
            }
        }
        self.stats.paths = self.owner.len();
        added
    }

    /// Adds one rpm package: the files it installed (`rpm -qf` ignores those it did not: replaced, not
    /// installed, wrong colour), and for regular files with an execute bit or a shared-object name the
    /// digest it recorded. A path two packages list stays with the first, digest included.
    pub fn add_rpm(&mut self, package: &rpmdb::header::RpmPackage) -> usize {
        let id = u32::try_from(self.packages.len()).unwrap_or(u32::MAX);
        self.packages.push(package.nevra());
        self.stats.lists += 1;
        let mut added = 0;
        for f in &package.files {
            if !f.is_installed() || !f.path.starts_with(b"/") || self.owner.len() >= MAX_PATHS {
                continue;
            }
            let key = self.fingerprint(&f.path);
            let std::collections::hash_map::Entry::Vacant(v) = self.owner.entry(key) else {
                continue;
            };
            v.insert(id);
            added += 1;
            self.keep_bin_path(&f.path, id);
            let verifiable = f.is_regular()
                && f.flags & rpmdb::header::FLAG_GHOST == 0
                && !f.digest.is_empty()
                && (f.mode & 0o111 != 0 || is_shared_object(&f.path));
            if let (true, Some(algorithm)) = (verifiable, package.digest_algorithm) {
                self.digests.insert(
                    key,
                    FileDigest {
                        algorithm,
                        hex: f.digest.clone(),
                    },
                );
            }
        }
        self.stats.paths = self.owner.len();
        added
    }

    /// Keeps the text of a listed path that is directly in a system binary directory.
    fn keep_bin_path(&mut self, listed: &[u8], id: u32) {
        if self.bin_paths.len() < MAX_BIN_PATHS
            && minetrace_schemas::locations::directly_in(
                minetrace_schemas::locations::SYSTEM_BIN_DIRS,
                listed,
            )
        {
            self.bin_paths.push((listed.to_vec(), id));
        }
    }

    /// The paths directly in a system binary directory as the database lists them, each with its
    /// package, in the order they were read; dpkg's diverted-away originals left out. Whether one is
    /// missing on disk is the caller's question (see `files::packaged_missing`).
    pub fn bin_paths(&self) -> impl Iterator<Item = (&[u8], &str)> + '_ {
        self.bin_paths
            .iter()
            .filter(|(p, _)| !self.diverted.contains(&self.fingerprint(p)))
            .map(|(p, id)| {
                let name = usize::try_from(*id)
                    .ok()
                    .and_then(|i| self.packages.get(i))
                    .map_or("?", String::as_str);
                (p.as_slice(), name)
            })
    }

    /// Whether the text of every listed system-binary path was kept (false past [`MAX_BIN_PATHS`]).
    pub fn bin_paths_complete(&self) -> bool {
        self.bin_paths.len() < MAX_BIN_PATHS
    }

    /// The digest the owning rpm package recorded for `listed` (a path as the package lists it, see
    /// [`PackageIndex::owner`]).
    pub fn recorded_digest(&self, listed: &[u8]) -> Option<&FileDigest> {
        self.digests.get(&self.fingerprint(listed))
    }

    /// Adds dpkg's diversions (`/var/lib/dpkg/diversions`: lines in threes, original path, diverted-to
    /// path, diverting package or `:`): the diverted-to file is the package's file under another name.
    /// Returns how many were added.
    pub fn add_diversions(&mut self, bytes: &[u8]) -> usize {
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let mut added = 0;
        for triple in lines.chunks(3) {
            let [from, to, by] = triple else {
                break;
            };
            if !to.starts_with(b"/") {
                continue;
            }
            let diverted = self.fingerprint(from);
            self.diverted.insert(diverted);
            if self.owns(to) {
                continue;
            }
            let package = match self.owner(from) {
                Some((p, _)) => p.to_owned(),
                None => format!("diverted by {}", String::from_utf8_lossy(by)),
            };
            added += self.add_list(&package, to);
        }
        added
    }

    /// The spellings a package may list `path` under: itself, and its merged-`/usr` twin where the
    /// top-level directory is a link into `/usr` on this host.
    pub fn spellings(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let mut out = vec![path.to_vec()];
        let top_of = |p: &[u8]| -> Option<&'static [u8]> {
            let rest = p.strip_prefix(b"/")?;
            self.merged
                .iter()
                .copied()
                .find(|t| rest.starts_with(t) && rest.get(t.len()) == Some(&b'/'))
        };
        if let Some(rest) = path.strip_prefix(b"/usr") {
            if top_of(rest).is_some() {
                out.push(rest.to_vec());
            }
        } else if top_of(path).is_some() {
            let mut p = b"/usr".to_vec();
            p.extend_from_slice(path);
            out.push(p);
        }
        out
    }

    /// The package listing `path` (under any of its spellings) and the spelling it lists.
    pub fn owner(&self, path: &[u8]) -> Option<(&str, Vec<u8>)> {
        for spelling in self.spellings(path) {
            let key = self.fingerprint(&spelling);
            if let Some(id) = self.owner.get(&key) {
                let name = usize::try_from(*id)
                    .ok()
                    .and_then(|i| self.packages.get(i))
                    .map_or("?", String::as_str);
                return Some((name, spelling));
            }
        }
        None
    }

    pub fn owns(&self, path: &[u8]) -> bool {
        self.owner(path).is_some()
    }
}

/// `lib*.so`, `*.so.N...`: libraries, whose digest the package check compares when one is preloaded.
fn is_shared_object(path: &[u8]) -> bool {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    name.ends_with(b".so") || name.windows(4).any(|w| w == b".so.")
}

/// Top-level directories of `root` that are links to `usr/<name>` (merged `/usr`).
pub fn merged_usr(root: &HostRoot) -> Vec<&'static [u8]> {
    MERGED_TOPS
        .iter()
        .copied()
        .filter(|top| {
            let path = child(b"/", top);
            let is_link = root
                .lstat(&path)
                .is_ok_and(|st| st.kind == FileKind::Symlink);
            is_link
                && root.read_link(&path).is_ok_and(|t| {
                    let t = t.strip_suffix(b"/").unwrap_or(&t);
                    let want = child(b"usr", top);
                    t == want.as_slice() || t.strip_prefix(b"/") == Some(want.as_slice())
                })
        })
        .collect()
}

/// Builds the index from `root`'s dpkg database, or its rpm database when there is no dpkg one.
/// Problems reading single lists go to `errors` as (target, message); no readable database is
/// [`PackageDb::Missing`].
pub fn build(root: &HostRoot, errors: &mut Vec<(String, String)>) -> PackageDb {
    match build_dpkg(root, errors) {
        PackageDb::Missing { .. } => build_rpm(root, errors),
        db => db,
    }
}

/// The rpm database's packages (see [`crate::rpmdb`] for the formats).
fn build_rpm(root: &HostRoot, errors: &mut Vec<(String, String)>) -> PackageDb {
    let Some((backend, path)) = rpmdb::locate(root) else {
        return PackageDb::Missing { rpm: false };
    };
    let target = minetrace_schemas::escape_bytes(&path);
    let mut index = PackageIndex::new(merged_usr(root));
    index.manager = PackageManager::Rpm;
    match rpmdb::read(root, backend, &path, &mut |p| {
        index.add_rpm(&p);
    }) {
        Ok(report) => {
            index.stats.bytes = root.lstat(&path).map_or(0, |st| st.size);
            for e in report.errors {
                errors.push((target.clone(), e));
            }
            if report.bad_blobs > 0 {
                errors.push((
                    target.clone(),
                    format!("{} package headers could not be decoded", report.bad_blobs),
                ));
            }
        }
        Err(e) => {
            errors.push((target, e));
            return PackageDb::Missing { rpm: true };
        }
    }
    if index.stats.lists == 0 {
        return PackageDb::Missing { rpm: true };
    }
    PackageDb::Rpm(index.into())
}

fn build_dpkg(root: &HostRoot, errors: &mut Vec<(String, String)>) -> PackageDb {
    let missing = || PackageDb::Missing { rpm: false };
    let Ok(resolved) = root.resolve(DPKG_INFO, true) else {
        return missing();
    };
    let Ok(st) = root.lstat(&resolved.path) else {
        return missing();
    };
    if !st.is_dir() {
        return missing();
    }
    let names = match listing::list(&root.real(&resolved.path), &st, MAX_LISTS) {
        Ok((_, names, more)) => {
            if more {
                errors.push((
                    "/var/lib/dpkg/info".into(),
                    format!("listing cut at {MAX_LISTS} entries; later packages are not indexed"),
                ));
            }
            names
        }
        Err(e) => {
            errors.push(("/var/lib/dpkg/info".into(), format!("cannot list: {e}")));
            return missing();
        }
    };
    let mut index = PackageIndex::new(merged_usr(root));
    for name in names.iter().filter(|n| n.ends_with(b".list")) {
        if index.stats.bytes >= TOTAL_CAP {
            errors.push((
                "/var/lib/dpkg/info".into(),
                format!("stopped after {TOTAL_CAP} bytes of package lists"),
            ));
            break;
        }
        let package = String::from_utf8_lossy(name.get(..name.len() - 5).unwrap_or(b""));
        let host_path = child(&resolved.path, name);
        match host_read::read_capped(&root.real(&host_path), LIST_CAP, host_read::Keep::Head) {
            Ok(c) => {
                index.stats.lists += 1;
                index.stats.bytes += c.bytes.len() as u64;
                if c.truncated {
                    errors.push((
                        minetrace_schemas::escape_bytes(&host_path),
                        format!("cut at {LIST_CAP} bytes"),
                    ));
                }
                index.add_list(&package, &c.bytes);
            }
            Err(e) => errors.push((minetrace_schemas::escape_bytes(&host_path), e.to_string())),
        }
    }
    if index.stats.lists == 0 {
        return missing();
    }
    let diversions = child(parent_of(&resolved.path), b"diversions");
    match host_read::read_capped(&root.real(&diversions), LIST_CAP, host_read::Keep::Head) {
        Ok(c) => {
            index.add_diversions(&c.bytes);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => errors.push((minetrace_schemas::escape_bytes(&diversions), e.to_string())),
    }
    PackageDb::Dpkg(index.into())
}

/// The manifest exclusion for a host without a readable package database.
pub fn missing_note(rpm: bool) -> String {
    format!(
        "{}: executables were not checked for package ownership, so running executables and files \
         named by persistence entries were copied only when deleted, memfd-backed, or in temp, hidden \
         or home directories",
        if rpm {
            "the rpm database could not be read (see the package-index artifact's errors)"
        } else {
            "no package database (dpkg /var/lib/dpkg/info, rpm /var/lib/rpm or /usr/lib/sysimage/rpm)"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_with_and_without_merged_usr() {
        let mut merged = PackageIndex::new(vec![b"bin", b"sbin", b"lib"]);
        merged.add_list(
            "coreutils:amd64",
            b"/.\n/bin\n/bin/ls\n/usr/bin/stat\n/lib/x86_64-linux-gnu/libc.so.6\n",
        );
        assert_eq!(
            merged.owner(b"/usr/bin/ls"),
            Some(("coreutils:amd64", b"/bin/ls".to_vec()))
        );
        assert!(merged.owns(b"/bin/ls"));
        assert!(merged.owns(b"/bin/stat"));
        assert!(merged.owns(b"/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(!merged.owns(b"/usr/bin/sysdr"));
        assert!(!merged.owns(b"/etc/sysguard"));
        assert!(!merged.owns(b"/"));
        // Prefixes only count on component boundaries.
        assert!(!merged.owns(b"/usr/binx/ls"));

        let mut split = PackageIndex::new(Vec::new());
        split.add_list("coreutils", b"/bin/ls\n");
        assert!(split.owns(b"/bin/ls"));
        assert!(!split.owns(b"/usr/bin/ls"));
    }

    #[test]
    fn diversions_own_the_diverted_to_path() {
        let mut i = PackageIndex::new(Vec::new());
        i.add_list("libpq-dev", b"/usr/bin/pg_config\n");
        let added = i.add_diversions(
            b"/usr/bin/pg_config\n/usr/bin/pg_config.libpq-dev\npostgresql-common\n/usr/sbin/x\n/usr/sbin/x.real\n:\n/trailing\n",
        );
        assert_eq!(added, 2);
        assert_eq!(
            i.owner(b"/usr/bin/pg_config.libpq-dev").map(|o| o.0),
            Some("libpq-dev")
        );
        assert_eq!(
            i.owner(b"/usr/sbin/x.real").map(|o| o.0),
            Some("diverted by :")
        );
        assert!(!i.owns(b"/trailing"));
    }

    #[test]
    fn hostile_lines_are_ignored() {
        let mut i = PackageIndex::new(Vec::new());
        let added = i.add_list("p", b"relative/path\n\n\xff\xfe\n/ok\r\n/x y\n");
        assert_eq!(added, 2);
        assert!(i.owns(b"/ok") && i.owns(b"/x y"));
    }

    #[test]
    fn build_from_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("var/lib/dpkg/info")).unwrap();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
        std::fs::write(r.join("var/lib/dpkg/info/procps.list"), b"/bin/ps\n").unwrap();
        std::fs::write(r.join("var/lib/dpkg/info/procps.md5sums"), b"x").unwrap();
        let c = std::ffi::CString::new(
            r.join("var/lib/dpkg/info/fifo.list")
                .as_os_str()
                .as_encoded_bytes(),
        )
        .unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let root = HostRoot::under(r).unwrap();
        let mut errors = Vec::new();
        let db = build(&root, &mut errors);
        let index = db.index().expect("an index");
        assert_eq!(index.stats.lists, 1);
        assert_eq!(index.merged, vec![&b"bin"[..]]);
        assert!(index.owns(b"/usr/bin/ps"));
        assert!(errors
            .iter()
            .any(|(t, m)| t.contains("fifo") && m.contains("fifo")));

        // An rpm directory without a database (Debian's own rpm package leaves one) is no database.
        let empty = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(empty.path().join("var/lib/rpm")).unwrap();
        let root = HostRoot::under(empty.path()).unwrap();
        assert!(matches!(
            build(&root, &mut Vec::new()),
            PackageDb::Missing { rpm: false }
        ));
        // A database that cannot be read is named, with the reason.
        std::fs::write(empty.path().join("var/lib/rpm/Packages"), b"garbage").unwrap();
        let mut errors = Vec::new();
        assert!(matches!(
            build(&root, &mut errors),
            PackageDb::Missing { rpm: true }
        ));
        assert!(errors
            .iter()
            .any(|(t, m)| t == "/var/lib/rpm/Packages" && m.contains("Berkeley DB")));
    }
}
