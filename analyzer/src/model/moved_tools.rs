//! Packaged tools moved away from their package path, derived once from the collector's package checks
//! (`files::packaged_missing`): a file no package owns in a system binary directory whose digest, in the
//! package database's algorithm ([`UNOWNED_SYSTEM_BIN`] checks), equals the digest a package recorded for
//! a path of those directories that is missing on disk ([`PACKAGED_MISSING`] checks). TeamTNT, 8220 and
//! Kinsing kits `mv /usr/bin/chattr /usr/bin/zzh` (or `wget` to `wge1`) so that cleanup scripts fail.
//!
//! The package path a moved file goes back to ([`MovedTool::back_to`]) comes from the package database's
//! record, never from the file's name; it is set only when it is unambiguous: the file's digest is that
//! of one missing path only, and of the files with that digest it is the first by path (a second copy is
//! a copy, not the tool).

use minetrace_schemas::records::package::{
    FileDigest, PackageCheck, PackageManager, PackageVerdict, PACKAGED_MISSING, UNOWNED_SYSTEM_BIN,
};
use minetrace_schemas::RawBytes;

/// A package path with nothing on disk, as the package database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagePath {
    /// The host's name for it (`/usr/bin/chattr` on a merged-`/usr` host).
    pub path: RawBytes,
    /// The name the database lists, when it differs (`/bin/chattr`).
    pub listed_as: Option<RawBytes>,
    pub package: String,
    pub manager: Option<PackageManager>,
    /// The digest the package recorded (dpkg MD5, rpm's header algorithm).
    pub digest: FileDigest,
}

/// An unowned file of a system binary directory with the digest of missing package paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedTool {
    /// The file as the collector listed it.
    pub path: RawBytes,
    /// The missing package paths whose recorded digest it has, in the collector's order.
    pub homes: Vec<PackagePath>,
    /// The index in `homes` of the path it goes back to, when that is unambiguous (see the module
    /// documentation).
    pub back_to: Option<usize>,
}

impl MovedTool {
    /// The package path this file goes back to, when unambiguous.
    pub fn destination(&self) -> Option<&PackagePath> {
        self.homes.get(self.back_to?)
    }
}

fn same(a: &FileDigest, b: &FileDigest) -> bool {
    a.algorithm == b.algorithm && a.hex.eq_ignore_ascii_case(&b.hex)
}

/// The moved tools among the package checks, by file path.
pub fn derive(packages: &[PackageCheck]) -> Vec<MovedTool> {
    let homes: Vec<PackagePath> = packages
        .iter()
        .filter(|c| c.reason == PACKAGED_MISSING && c.verdict == PackageVerdict::Missing)
        .filter_map(|c| {
            Some(PackagePath {
                path: c.path.clone(),
                listed_as: c.listed_as.clone(),
                package: c.package.clone()?,
                manager: c.manager,
                digest: c.expected_digest.clone()?,
            })
        })
        .collect();
    if homes.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<MovedTool> = Vec::new();
    for c in packages
        .iter()
        .filter(|c| c.reason == UNOWNED_SYSTEM_BIN && c.verdict == PackageVerdict::NotOwned)
    {
        let Some(digest) = &c.actual_digest else {
            continue;
        };
        let matched: Vec<PackagePath> = homes
            .iter()
            .filter(|h| same(&h.digest, digest) && h.path != c.path)
            .cloned()
            .collect();
        if matched.is_empty() {
            continue;
        }
        // One file hashed in two algorithms (rpm packages of two eras) is one moved tool.
        match out.iter_mut().find(|m| m.path == c.path) {
            Some(m) => {
                for h in matched {
                    if !m.homes.iter().any(|x| x.path == h.path) {
                        m.homes.push(h);
                    }
                }
            }
            None => out.push(MovedTool {
                path: c.path.clone(),
                homes: matched,
                back_to: None,
            }),
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    // A home goes to the first file (by path) whose only home it is.
    let mut taken: Vec<RawBytes> = Vec::new();
    for m in &mut out {
        if let [only] = m.homes.as_slice() {
            if !taken.contains(&only.path) {
                taken.push(only.path.clone());
                m.back_to = Some(0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture::{md5, missing_packaged as missing, unowned_system_bin as unowned};
    use minetrace_schemas::records::package::DigestAlgorithm;

    #[test]
    fn a_file_with_a_missing_paths_digest_goes_back_there_when_unambiguous() {
        let a = "0123456789abcdef0123456789abcdef";
        let b = "fedcba9876543210fedcba9876543210";
        let c = "00000000000000000000000000000001";
        let checks = vec![
            missing("/usr/bin/chattr", "e2fsprogs", md5(a)),
            missing("/usr/bin/wget", "wget", md5(b)),
            // bzip2 ships one file under two names: a copy of it matches both.
            missing("/usr/bin/bzcat", "bzip2", md5(c)),
            missing("/usr/bin/bunzip2", "bzip2", md5(c)),
            unowned("/usr/bin/zzh", md5(&a.to_uppercase())),
            unowned("/usr/bin/zzh2", md5(a)),
            unowned("/usr/bin/wge1", md5(b)),
            unowned("/usr/bin/bz", md5(c)),
            // Another algorithm's digest is no match, nor an unrelated file.
            unowned(
                "/usr/bin/other",
                FileDigest {
                    algorithm: DigestAlgorithm::Sha256,
                    hex: a.into(),
                },
            ),
            unowned("/usr/local/bin/wrapper", md5(&"11".repeat(16))),
        ];
        let moved = derive(&checks);
        let back: Vec<(&[u8], Option<&[u8]>)> = moved
            .iter()
            .map(|m| {
                (
                    m.path.as_bytes(),
                    m.destination().map(|d| d.path.as_bytes()),
                )
            })
            .collect();
        assert_eq!(
            back,
            vec![
                (&b"/usr/bin/bz"[..], None),
                (&b"/usr/bin/wge1"[..], Some(&b"/usr/bin/wget"[..])),
                (&b"/usr/bin/zzh"[..], Some(&b"/usr/bin/chattr"[..])),
                // The second copy of chattr is a copy: chattr goes back once.
                (&b"/usr/bin/zzh2"[..], None),
            ]
        );
        let bz = moved.first().unwrap();
        assert_eq!(bz.homes.len(), 2);
        assert_eq!(
            moved.get(2).unwrap().destination().unwrap().package,
            "e2fsprogs"
        );
    }

    #[test]
    fn nothing_missing_is_nothing_moved() {
        let checks = vec![unowned(
            "/usr/bin/zzh",
            md5("0123456789abcdef0123456789abcdef"),
        )];
        assert!(derive(&checks).is_empty());
    }
}
