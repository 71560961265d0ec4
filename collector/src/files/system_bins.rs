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
//! Spending: a renamed packaged tool has the size of the packaged file it copies, and a kit's tools are
//! small. So an unowned file is hashed when it is at most [`KIT_SIZE`] bytes or when a packaged file of
//! its size exists. A larger one (a vendor's 40–90 MiB `docker` or `terraform` in `/usr/local/bin`) is
//! listed by metadata (size, times, owner, name: what the analyst judges it by) and its record says why
//! it was not read ([`NOT_HASHED_BIG`]); it is still hashed when something names it (a persistence entry,
//! the preload list: tier 0), and when it runs its record takes the digest the live pass made.
//!
//! A packaged tool moved away (`mv /usr/bin/chattr /usr/bin/zzh`) leaves no twin: the paths the package
//! database lists here that are missing, and the unowned files' digests in the database's algorithm, are
//! recorded by [`super::packaged_missing`] from this family's listings.
//!
//! Needs the package index; without one (no dpkg database) the family records why and lists nothing.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::child;
use super::listing;
use super::packaged_missing;
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
/// Unowned files up to this size are always hashed. Miners and their droppers are smaller: a static
/// XMRig build is 3–9 MiB (2–4 MiB UPX-packed), and Go-built bots and droppers (Kinsing, Sysrv) are
/// reported at 2–20 MB; the vendor tools people install by hand under `/usr/local/bin` are larger
/// (`docker` 41 MiB, `terraform` 86 MiB, `kubectl` and `helm` ~50 MiB).
pub const KIT_SIZE: u64 = 20 << 20;
/// Why a large unowned system file was listed but not read.
pub const NOT_HASHED_BIG: &str = "not hashed: an unowned system file larger than 20 MiB with no \
     packaged file of its size (so not a renamed packaged tool); hashed when a persistence entry or the \
     preload list names it, and given the live pass's digest when it runs";

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
    // Each directory's sorted names by identity, and every spelling that reached one (`/bin` is
    // `/usr/bin` on a merged-`/usr` host): where a packaged path is missing.
    let mut names_of: HashMap<(u64, u64), packaged_missing::Names> = HashMap::new();
    let mut listed_dirs: Vec<packaged_missing::ListedDir> = Vec::new();
    // Packaged files by size, for the twins.
    let mut packaged: HashMap<u64, Vec<(Vec<u8>, Stat)>> = HashMap::new();
    let mut unowned: Vec<(Vec<u8>, Stat)> = Vec::new();
    for dir in BIN_DIRS {
        let Some((resolved, st)) = s.enter_dir(dir)? else {
            continue;
        };
        if !seen_dirs.insert(st.id()) {
            if let Some(names) = names_of.get(&st.id()) {
                listed_dirs.push(packaged_missing::ListedDir {
                    spelling: dir,
                    resolved: resolved.clone(),
                    names: names.clone(),
                });
            }
            continue;
        }
        let real = s.ctx.root.real(&resolved);
        let listed = match listing::list_open(&real, &st, MAX_NAMES) {
            Ok(listed) => listed,
            Err(e) => {
                s.note(dir, format!("cannot list directory: {e}"));
                continue;
            }
        };
        if listed.more {
            s.note(dir, format!("listing cut at {MAX_NAMES} entries"));
        }
        let names = (!listed.more).then(|| std::sync::Arc::new(listed.names.clone()));
        names_of.insert(st.id(), names.clone());
        listed_dirs.push(packaged_missing::ListedDir {
            spelling: dir,
            resolved: resolved.clone(),
            names,
        });
        for (name, est) in listed.stats(&real) {
            if !matches!(est.kind, FileKind::Regular | FileKind::Symlink) {
                continue;
            }
            let path = child(&resolved, name);
            let owned = s
                .col
                .package_db
                .index()
                .is_some_and(|i| i.owns(&path) || i.owns(&child(dir, name)));
            if owned {
                if est.kind == FileKind::Regular {
                    let twins = packaged.entry(est.size).or_default();
                    if twins.len() < MAX_TWINS_PER_SIZE {
                        twins.push((path, est));
                    }
                }
                continue;
            }
            unowned.push((path, est));
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
        if !index_owns(s, &path) {
            unowned.push((path, st));
        }
    }
    packaged_missing::collect(s, &listed_dirs, &unowned)?;
    // Decided once every directory is listed: a twin may be in any of them.
    let mut unowned_sizes: Vec<u64> = Vec::new();
    for (path, st) in unowned {
        if st.kind == FileKind::Symlink {
            s.record_stat(&path, &st, None)?;
            continue;
        }
        // A file another family recorded first keeps that family's reading.
        let first = !s.ctx.recorded.contains_key(&path);
        s.capture_stat(&path, &st, Content::Suspect(Place::System))?;
        if worth_reading(&st, packaged.contains_key(&st.size)) {
            unowned_sizes.push(st.size);
        } else if first {
            s.ctx.spend.hold(&path, NOT_HASHED_BIG);
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

/// Whether an unowned file of a system binary directory is hashed (see the module documentation).
pub fn worth_reading(st: &Stat, has_twin: bool) -> bool {
    st.size <= KIT_SIZE || has_twin
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

#[cfg(test)]
mod spending {
    use super::super::sink::test_support::{put, Harness};
    use super::super::spend;
    use super::*;

    /// A sparse file of `len` bytes starting with an ELF header.
    fn big_elf(root: &std::path::Path, path: &str, len: u64) {
        put(root, path, b"\x7fELF\x02\x01\x01\x00big", 0o755);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(root.join(path.trim_start_matches('/')))
            .unwrap();
        f.set_len(len).unwrap();
    }

    #[test]
    fn big_unowned_system_files_are_hashed_only_when_a_renamed_tool_could_be_one() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let big = KIT_SIZE + 4096;
        // A vendor's big tool: unowned, no packaged file of its size.
        big_elf(r, "/usr/local/bin/terraform", big + 1);
        // A packaged tool copied under another name: same size as the packaged file.
        big_elf(r, "/usr/bin/packaged-big", big);
        big_elf(r, "/usr/local/bin/renamed", big);
        // A name that hides and a fresh change make no difference: the record shows both to the analyst.
        big_elf(r, "/usr/local/bin/.cache ", big + 2);
        // Kit-sized: always hashed.
        put(
            r,
            "/usr/local/bin/small",
            b"\x7fELF\x02\x01\x01\x00kit",
            0o755,
        );
        put(
            r,
            "/var/lib/dpkg/info/big.list",
            b"/usr/bin/packaged-big\n",
            0o644,
        );
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        collect(&mut s).unwrap();
        let stats = spend::run(&mut s, spend::budget(1 << 40, 600_000)).unwrap();
        for held in ["/usr/local/bin/terraform", "/usr/local/bin/.cache "] {
            let rec = h.record(held).unwrap();
            assert!(rec.sha256.is_none(), "{rec:?}");
            assert_eq!(rec.error.as_deref(), Some(NOT_HASHED_BIG));
            assert_eq!(
                rec.size,
                std::fs::metadata(r.join(&held[1..])).unwrap().len()
            );
        }
        for hashed in [
            "/usr/local/bin/renamed",
            "/usr/bin/packaged-big",
            "/usr/local/bin/small",
        ] {
            let rec = h.record(hashed).unwrap();
            assert!(rec.sha256.is_some(), "{rec:?}");
        }
        assert_eq!(
            h.record("/usr/local/bin/renamed").unwrap().sha256,
            h.record("/usr/bin/packaged-big").unwrap().sha256
        );
        assert_eq!(stats.hashed_bytes, 2 * big + 11);
    }

    #[test]
    fn a_held_file_named_by_persistence_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        big_elf(r, "/usr/local/bin/agent", KIT_SIZE + 1);
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        let mut s = h.sink("system-bin");
        collect(&mut s).unwrap();
        // A cron line names it afterwards (references run before, packages after: either raises it).
        s.capture(b"/usr/local/bin/agent", Content::Suspect(Place::Named))
            .unwrap();
        spend::run(&mut s, spend::budget(1 << 40, 600_000)).unwrap();
        let rec = h.record("/usr/local/bin/agent").unwrap();
        assert!(rec.sha256.is_some(), "{rec:?}");
    }

    #[test]
    fn the_rule_reads_size_and_twins() {
        let st = |size: u64| Stat {
            kind: FileKind::Regular,
            mode: 0o100_755,
            uid: 0,
            gid: 0,
            size,
            dev: 1,
            ino: 1,
            nlink: 1,
            atime: Default::default(),
            mtime: Default::default(),
            ctime: Default::default(),
            btime: None,
            attr_immutable: None,
            attr_append: None,
        };
        assert!(worth_reading(&st(KIT_SIZE), false));
        assert!(!worth_reading(&st(KIT_SIZE + 1), false));
        assert!(worth_reading(&st(KIT_SIZE + 1), true));
    }
}
