//! Which paths the host's dpkg database lists, built once per run from `/var/lib/dpkg/info/*.list` and
//! asked by path afterwards: is this running executable (or this file beside it, or this file a cron line
//! names) owned by a package?
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
//! any `.list`) and rpm databases; an rpm-only host has no index and the manifest says so.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use minetrace_schemas::records::file::FileKind;

use crate::files::host_root::{child, parent as parent_of, HostRoot};
use crate::files::listing;
use crate::host_read;

pub const DPKG_INFO: &[u8] = b"/var/lib/dpkg/info";
/// Largest single `.list` file read (the biggest real ones are a few MiB).
const LIST_CAP: u64 = 64 << 20;
/// Bytes of `.list` files read in total.
const TOTAL_CAP: u64 = 512 << 20;
/// `.list` files read at most.
const MAX_LISTS: usize = 200_000;
/// Paths indexed at most (a real server lists ~10^5).
const MAX_PATHS: usize = 8_000_000;
/// Top-level directories that merged-`/usr` hosts turn into links to `usr/<name>`.
const MERGED_TOPS: &[&[u8]] = &[b"bin", b"sbin", b"lib", b"lib32", b"lib64", b"libx32"];

/// The host's package database as far as ownership goes.
#[derive(Debug, Default)]
pub enum PackageDb {
    /// Not looked at yet this run.
    #[default]
    NotBuilt,
    /// No dpkg database under the root: ownership is unknown.
    Missing {
        rpm: bool,
    },
    Dpkg(PackageIndex),
}

impl PackageDb {
    pub fn index(&self) -> Option<&PackageIndex> {
        match self {
            PackageDb::Dpkg(i) => Some(i),
            _ => None,
        }
    }
}

/// What building the index read, for the artifact log and the benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    pub lists: usize,
    pub paths: usize,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct PackageIndex {
    keys: RandomState,
    owner: HashMap<u64, u32>,
    packages: Vec<String>,
    /// Top-level directories that are links into `/usr` on this host.
    merged: Vec<&'static [u8]>,
    pub stats: IndexStats,
}

impl PackageIndex {
    /// An empty index (tests, and hosts whose database lists nothing).
    pub fn new(merged: Vec<&'static [u8]>) -> Self {
        PackageIndex {
            keys: RandomState::new(),
            owner: HashMap::new(),
            packages: Vec::new(),
            merged,
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
            }
        }
        self.stats.paths = self.owner.len();
        added
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
            if !to.starts_with(b"/") || self.owns(to) {
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

/// Builds the index from `root`'s dpkg database. Problems reading single lists go to `errors` as
/// (target, message); a missing database is [`PackageDb::Missing`].
pub fn build(root: &HostRoot, errors: &mut Vec<(String, String)>) -> PackageDb {
    let missing = || PackageDb::Missing {
        rpm: ["/var/lib/rpm", "/usr/lib/sysimage/rpm"]
            .iter()
            .any(|p| root.lstat(p.as_bytes()).is_ok()),
    };
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
    PackageDb::Dpkg(index)
}

/// The manifest exclusion for a host without a dpkg database.
pub fn missing_note(rpm: bool) -> String {
    format!(
        "no dpkg package database (/var/lib/dpkg/info){}: executables were not checked for package \
         ownership, so running executables and files named by persistence entries were copied only when \
         deleted, memfd-backed, or in temp, hidden or home directories",
        if rpm {
            "; an rpm database is present but not read by this build"
        } else {
            ""
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

        let empty = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(empty.path().join("var/lib/rpm")).unwrap();
        let root = HostRoot::under(empty.path()).unwrap();
        assert!(matches!(
            build(&root, &mut Vec::new()),
            PackageDb::Missing { rpm: true }
        ));
    }
}
