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
//! small. So an unowned file is hashed when it is at most [`KIT_SIZE`] bytes, when a packaged file of
//! its size exists, when it changed in the last [`RECENT_SECS`] seconds, or when its name hides (a
//! leading dot, blanks, control or non-ASCII bytes). A larger one (a vendor's 40–90 MiB `docker` or
//! `terraform` in `/usr/local/bin`) is listed by metadata and its record says why it was not read
//! ([`NOT_A_TWIN`]); it is still hashed when something names it (a persistence entry, the preload list:
//! tier 0) and, when it runs, by the live pass.
//!
//! Needs the package index; without one (no dpkg database) the family records why and lists nothing.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::{child, file_name};
use super::listing;
use super::packages::BIN_DIRS;
use super::sink::{Content, Sink};
use super::spend::{Place, LOW_TIER_FILE_CAP, RECENT_SECS};
use super::walk::{self, Limits, Pick};

/// Names read from one system binary directory.
const MAX_NAMES: usize = 50_000;
/// Packaged files of one size recorded as twins at most (a size shared by many files is no clue).
const MAX_TWINS_PER_SIZE: usize = 8;
/// Twins recorded per run at most.
const MAX_TWINS: usize = 512;
/// Unowned files up to this size are always hashed: a miner's or a kit's binary (a static XMRig is
/// 3–9 MiB, Go droppers 5–15 MiB) is no larger.
pub const KIT_SIZE: u64 = LOW_TIER_FILE_CAP;
/// Why a large unowned system file was listed but not read.
pub const NOT_A_TWIN: &str = "not hashed: an unowned system file larger than 16 MiB, unchanged for \
     7 days, with an ordinary name and no packaged file of its size (so not a renamed packaged tool); \
     hashed when something names it, or by the live pass when it runs";

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
    let mut unowned: Vec<(Vec<u8>, Stat)> = Vec::new();
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
    // Decided once every directory is listed: a twin may be in any of them.
    let now = s.ctx.now;
    let mut unowned_sizes: Vec<u64> = Vec::new();
    for (path, st) in unowned {
        if st.kind == FileKind::Symlink {
            s.record_stat(&path, &st, None)?;
            continue;
        }
        // A file another family recorded first keeps that family's reading.
        let first = !s.ctx.recorded.contains_key(&path);
        s.capture_stat(&path, &st, Content::Suspect(Place::System))?;
        if worth_reading(&st, file_name(&path), packaged.contains_key(&st.size), now) {
            unowned_sizes.push(st.size);
        } else if first {
            s.ctx.spend.hold(&path, NOT_A_TWIN);
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
pub fn worth_reading(st: &Stat, name: &[u8], has_twin: bool, now: i64) -> bool {
    let changed = st.ctime.secs.max(st.mtime.secs);
    st.size <= KIT_SIZE
        || has_twin
        || now.saturating_sub(changed) <= RECENT_SECS
        || hiding_name(name)
}

/// A name made to hide or to look like something else in a listing: a leading dot, blanks, control or
/// non-ASCII bytes.
pub fn hiding_name(name: &[u8]) -> bool {
    name.first() == Some(&b'.') || name.iter().any(|b| !b.is_ascii_graphic())
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
    fn big_unowned_system_files_are_hashed_only_when_a_renamed_tool_or_a_kit_could_be_one() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let big = KIT_SIZE + 4096;
        // A vendor's big tool: unowned, no packaged file of its size, an ordinary name.
        big_elf(r, "/usr/local/bin/terraform", big + 1);
        // A packaged tool copied under another name: same size as the packaged file.
        big_elf(r, "/usr/bin/packaged-big", big);
        big_elf(r, "/usr/local/bin/renamed", big);
        // A name that hides.
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
        // Every file was changed long before this run.
        h.ctx.now += 30 * 86_400;
        let mut s = h.sink("system-bin");
        collect(&mut s).unwrap();
        let stats = spend::run(&mut s, spend::budget(1 << 40, 600_000)).unwrap();
        let vendor = h.record("/usr/local/bin/terraform").unwrap();
        assert!(vendor.sha256.is_none(), "{vendor:?}");
        assert_eq!(vendor.error.as_deref(), Some(NOT_A_TWIN));
        for hashed in [
            "/usr/local/bin/renamed",
            "/usr/bin/packaged-big",
            "/usr/local/bin/.cache ",
            "/usr/local/bin/small",
        ] {
            let rec = h.record(hashed).unwrap();
            assert!(rec.sha256.is_some(), "{rec:?}");
        }
        assert_eq!(
            h.record("/usr/local/bin/renamed").unwrap().sha256,
            h.record("/usr/bin/packaged-big").unwrap().sha256
        );
        assert_eq!(stats.hashed_bytes, 3 * big + 2 + 11);
    }

    #[test]
    fn a_held_file_named_by_persistence_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        big_elf(r, "/usr/local/bin/agent", KIT_SIZE + 1);
        let mut h = Harness::new(r);
        h.col.package_db = crate::package_index::build(&h.ctx.root, &mut Vec::new());
        h.ctx.now += 30 * 86_400;
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
    fn the_rule_reads_size_twins_recency_and_names() {
        let st = |size: u64, changed: i64| Stat {
            kind: FileKind::Regular,
            mode: 0o100_755,
            uid: 0,
            gid: 0,
            size,
            dev: 1,
            ino: 1,
            nlink: 1,
            atime: Default::default(),
            mtime: minetrace_schemas::records::file::FileTime {
                secs: changed,
                nanos: 0,
            },
            ctime: minetrace_schemas::records::file::FileTime {
                secs: changed,
                nanos: 0,
            },
            btime: None,
            attr_immutable: None,
            attr_append: None,
        };
        let now = 100 * 86_400;
        let old = now - 30 * 86_400;
        let big = KIT_SIZE + 1;
        assert!(worth_reading(&st(KIT_SIZE, old), b"tool", false, now));
        assert!(!worth_reading(&st(big, old), b"docker", false, now));
        assert!(worth_reading(&st(big, old), b"docker", true, now));
        assert!(worth_reading(&st(big, now - 3600), b"docker", false, now));
        assert!(worth_reading(&st(big, old), b"..", false, now));
        assert!(worth_reading(&st(big, old), b"kswapd0 ", false, now));
        assert!(worth_reading(
            &st(big, old),
            "dockér".as_bytes(),
            false,
            now
        ));
        assert!(!hiding_name(b"x86_64-linux-gnu-gcc-12"));
    }
}
