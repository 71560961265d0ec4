//! Files in system binary directories that no package owns (category `system-bin`): a planted tool, or a
//! packaged one renamed (`chattr` as `/usr/bin/zgrep2`). `/usr/bin`, `/usr/sbin`, `/bin` and `/sbin` are
//! listed one level deep and `/usr/local` is walked; every regular file or link the package index does
//! not list is recorded and queued for hashing (and, for ELF files and scripts, copying) by the `spend`
//! pass ([`super::spend`], tier 2 with an exec bit, 3 without).
//!
//! So that a renamed packaged tool can be told by its digest without hashing every packaged binary, the
//! packaged files of these directories whose size equals an unowned file's are recorded and hashed too
//! (category `packaged-twin`, never copied): equal bytes have equal sizes, so the analyzer finds every
//! digest match among them.
//!
//! Needs the package index; without one (no dpkg database) the family records why and lists nothing.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::child;
use super::listing;
use super::packages::BIN_DIRS;
use super::sink::{Content, Sink};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

/// Names read from one system binary directory.
const MAX_NAMES: usize = 50_000;
/// Packaged files of one size recorded as twins at most (a size shared by many files is no clue).
const MAX_TWINS_PER_SIZE: usize = 8;
/// Twins recorded per run at most.
const MAX_TWINS: usize = 512;

pub fn local_limits() -> Limits {
    Limits {
        max_depth: 5,
        max_entries: 20_000,
        max_dir_entries: 10_000,
        max_bytes: u64::MAX,
    }
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    if s.col.package_db.index().is_none() {
        s.col.exclusions.push(
            "no package index: files in system binary directories were not checked for ownership \
             (category system-bin is empty)"
                .into(),
        );
        return Ok(());
    }
    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    // Packaged files by size, for the twins.
    let mut packaged: HashMap<u64, Vec<(Vec<u8>, Stat)>> = HashMap::new();
    let mut unowned_sizes: Vec<u64> = Vec::new();
    for dir in BIN_DIRS {
        let Some((resolved, st)) = s.enter_dir(dir)? else {
            continue;
        };
        if !seen_dirs.insert(st.id()) {
            continue;
        }
        let names = match listing::list(&s.ctx.root.real(&resolved), &st, MAX_NAMES) {
            Ok((_, names, more)) => {
                if more {
                    s.note(dir, format!("listing cut at {MAX_NAMES} entries"));
                }
                names
            }
            Err(e) => {
                s.note(dir, format!("cannot list directory: {e}"));
                continue;
            }
        };
        for name in names {
            let path = child(&resolved, &name);
            let Ok(est) = s.ctx.root.lstat(&path) else {
                continue;
            };
            if !matches!(est.kind, FileKind::Regular | FileKind::Symlink) {
                continue;
            }
            let owned = s
                .col
                .package_db
                .index()
                .is_some_and(|i| i.owns(&path) || i.owns(&child(dir, &name)));
            if owned {
                if est.kind == FileKind::Regular {
                    let twins = packaged.entry(est.size).or_default();
                    if twins.len() < MAX_TWINS_PER_SIZE {
                        twins.push((path, est));
                    }
                }
                continue;
            }
            record_unowned(s, &path, &est)?;
            if est.kind == FileKind::Regular {
                unowned_sizes.push(est.size);
            }
        }
    }
    let index_owns =
        |s: &Sink<'_, W>, p: &[u8]| s.col.package_db.index().is_some_and(|i| i.owns(p));
    let mut local: Vec<(Vec<u8>, Stat)> = Vec::new();
    walk::walk(s, b"/usr/local", local_limits(), |e| {
        // Decided after the walk: ownership needs the sink, which the walk holds.
        if e.stat.kind == FileKind::Regular || e.stat.kind == FileKind::Symlink {
            local.push((e.path.to_vec(), e.stat.clone()));
        }
        Pick::Skip
    })?;
    for (path, st) in local {
        if index_owns(s, &path) {
            continue;
        }
        record_unowned(s, &path, &st)?;
        if st.kind == FileKind::Regular {
            unowned_sizes.push(st.size);
        }
    }
    unowned_sizes.sort_unstable();
    unowned_sizes.dedup();
    s.category = "packaged-twin";
    let mut twins = 0;
    'sizes: for size in unowned_sizes {
        for (path, st) in packaged.remove(&size).unwrap_or_default() {
            if twins >= MAX_TWINS {
                s.note(b"/usr/bin", format!("packaged twins capped at {MAX_TWINS}"));
                break 'sizes;
            }
            s.capture_stat(&path, &st, Content::Suspect(Place::Twin))?;
            twins += 1;
        }
    }
    s.category = "system-bin";
    Ok(())
}

fn record_unowned<W: Write>(s: &mut Sink<'_, W>, path: &[u8], st: &Stat) -> Result<(), WriteError> {
    if st.kind == FileKind::Symlink {
        s.record_stat(path, st, None)?;
    } else {
        s.capture_stat(path, st, Content::Suspect(Place::System))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::{put, Harness};
    use super::*;

    #[test]
    fn unowned_files_and_their_packaged_twins_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let tool = b"\x7fELF\x02\x01\x01\x00the-attribute-tool".to_vec();
        put(r, "/usr/bin/chattr", &tool, 0o755);
        put(r, "/usr/bin/zz-renamed", &tool, 0o755);
        put(
            r,
            "/usr/bin/other",
            b"\x7fELF\x02\x01\x01\x00a-longer-packaged-tool",
            0o755,
        );
        put(
            r,
            "/usr/local/bin/agentd",
            b"#!/bin/sh\nexec sleep 1\n",
            0o755,
        );
        put(r, "/usr/local/share/doc/readme", b"text", 0o644);
        put(
            r,
            "/var/lib/dpkg/info/e2fsprogs.list",
            b"/usr/bin/chattr\n/usr/bin/other\n",
            0o644,
        );
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        collect(&mut s).unwrap();
        super::super::spend::run(&mut s, super::super::spend::budget(1 << 30, 60_000)).unwrap();
        let renamed = h.record("/usr/bin/zz-renamed").unwrap();
        assert_eq!(renamed.category, "system-bin");
        let twin = h.record("/usr/bin/chattr").unwrap();
        assert_eq!(twin.category, "packaged-twin");
        assert!(twin.member.is_none());
        assert_eq!(renamed.sha256, twin.sha256);
        assert!(renamed.sha256.is_some());
        // A packaged file of another size is neither recorded nor read.
        assert!(h.record("/usr/bin/other").is_none());
        let agent = h.record("/usr/local/bin/agentd").unwrap();
        assert!(
            agent.member.is_some() && agent.sha256.is_some(),
            "{agent:?}"
        );
        assert!(h
            .record("/usr/local/share/doc/readme")
            .unwrap()
            .sha256
            .is_some());
    }
}
