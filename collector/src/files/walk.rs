//! Bounded directory walks that never follow a link out of the tree.
//!
//! Each directory is read through [`super::listing::list_open`] (opened without following links, checked
//! to be the inode that was `lstat`ed, read only up to a per-directory cap). Entries are `lstat`ed through
//! that open directory, never followed: a link is recorded as a link, a FIFO
//! or socket as what it is (never opened). Each walk has caps on depth, entries and stored bytes; whatever a
//! cap leaves out is recorded on the directory's record and in the artifact log, with the reason. Every
//! directory inode is walked once per run, so bind-mount loops and aliases (`/var/run` → `/run`) end.
//! A walk that enters a mount point names its family in that mount's `walked_by`
//! ([`super::mounts`]), so a bind mount of a system directory under `/tmp` is never crossed unmarked.

use std::io::{self, Write};

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::{child, file_name};
use super::listing::list_open;
use minetrace_schemas::locations::{persistence_locations_of, Mechanism};

use super::sink::{Content, Sink, CONFIG_CAP};

/// Caps of one walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Depth of the deepest entries recorded (entries of the start directory are depth 1).
    pub max_depth: u32,
    /// Entries recorded in the whole walk.
    pub max_entries: usize,
    /// Names read from any single directory.
    pub max_dir_entries: usize,
    /// Content bytes stored by the whole walk; files past it are recorded without content.
    pub max_bytes: u64,
}

impl Limits {
    /// Configuration directories (`/etc/cron.d`, `/etc/systemd/system`, `~/.ssh`).
    pub const fn config(max_depth: u32) -> Self {
        Limits {
            max_depth,
            max_entries: 20_000,
            max_dir_entries: 10_000,
            max_bytes: 64 << 20,
        }
    }
}

/// One entry met by a walk.
pub struct Entry<'a> {
    pub path: &'a [u8],
    pub name: &'a [u8],
    /// 1 for entries of the start directory.
    pub depth: u32,
    pub stat: &'a Stat,
}

/// What to do with an entry.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    /// Record it; regular files with this content policy.
    Record(Content),
    /// Leave it out of the records (directories are still descended).
    Skip,
}

/// Counts of one walk, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: usize,
    pub dirs: usize,
    pub stored_bytes: u64,
    pub capped: bool,
}

/// Captures every location of these persistence mechanisms from the table the analyzer reads them by
/// ([`minetrace_schemas::locations::PERSISTENCE_LOCATIONS`]): single files with their heads, directories
/// walked a level deeper than the mechanism reads (what sits beside its files is evidence too).
pub fn persistence_locations<W: Write>(
    sink: &mut Sink<'_, W>,
    mechanisms: &'static [Mechanism],
) -> Result<(), WriteError> {
    let store = Content::Head { cap: CONFIG_CAP };
    for place in persistence_locations_of(mechanisms) {
        if place.depth == 0 {
            sink.capture(place.path, store)?;
        } else {
            walk(
                sink,
                place.path,
                Limits::config((place.depth + 1).max(3)),
                |_| Pick::Record(store),
            )?;
        }
    }
    Ok(())
}

/// Walks the directory at `start` (a host path; links on the way are resolved inside the root and
/// recorded). `pick` decides, per entry, whether and how it is recorded.
pub fn walk<W: Write>(
    sink: &mut Sink<'_, W>,
    start: &[u8],
    limits: Limits,
    mut pick: impl FnMut(&Entry) -> Pick,
) -> Result<Stats, WriteError> {
    let mut stats = Stats::default();
    let Some((dir, st)) = sink.enter_dir(start)? else {
        return Ok(stats);
    };
    let mut stack: Vec<(Vec<u8>, Stat, u32, Option<usize>)> = vec![(dir, st, 0, None)];
    while let Some((dir, st, depth, record_index)) = stack.pop() {
        if !sink.ctx.walked.insert(st.id()) {
            continue;
        }
        stats.dirs += 1;
        if let Some(mount) = sink.ctx.mounts.at(&dir) {
            let family = sink.log.name.clone();
            sink.ctx.mounts.note_walked(mount, &family);
        }
        let real = sink.ctx.root.real(&dir);
        let listing = list_open(&real, &st, limits.max_dir_entries);
        let flags = listing.as_ref().ok().and_then(|l| l.flags);
        let record_index = if depth == 0 {
            Some(sink.record_dir(&dir, &st, flags)?)
        } else {
            sink.set_flags(record_index, flags);
            record_index
        };
        let listed = match listing {
            Ok(l) => l,
            Err(e) => {
                sink.note(&dir, format!("cannot list directory: {e}"));
                sink.set_error(record_index, format!("not listed: {e}"));
                continue;
            }
        };
        if listed.more {
            let why = format!(
                "listing cut at {} entries (per-directory cap); the rest were not read",
                limits.max_dir_entries
            );
            sink.note(&dir, &why);
            sink.set_error(record_index, why);
            stats.capped = true;
        }
        let mut subdirs = Vec::new();
        for name in &listed.names {
            if stats.entries >= limits.max_entries {
                let why = format!(
                    "walk stopped at {} entries (cap); later entries of this directory were not recorded",
                    limits.max_entries
                );
                sink.note(&dir, &why);
                sink.set_error(record_index, why);
                stats.capped = true;
                break;
            }
            let path = child(&dir, name);
            // Through the listed directory: no second walk of the whole path per entry.
            let est = match listed.stat(&real, name) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    sink.record_error(&path, format!("lstat: {e}"));
                    stats.entries += 1;
                    continue;
                }
            };
            let entry = Entry {
                path: &path,
                name: file_name(&path),
                depth: depth + 1,
                stat: &est,
            };
            let choice = pick(&entry);
            stats.entries += 1;
            match est.kind {
                FileKind::Directory => {
                    let index = match choice {
                        Pick::Record(_) => Some(sink.record_stat(&path, &est, None)?),
                        Pick::Skip => None,
                    };
                    if depth + 1 < limits.max_depth {
                        subdirs.push((path, est, depth + 1, index));
                    } else if index.is_some() {
                        sink.set_error(
                            index,
                            format!("not descended: depth cap {}", limits.max_depth),
                        );
                    }
                }
                FileKind::Regular => {
                    if let Pick::Record(mut content) = choice {
                        if stats.stored_bytes >= limits.max_bytes && content.stores() {
                            content = Content::Meta;
                            let why = format!(
                                "content not kept: the walk's {} byte cap was reached",
                                limits.max_bytes
                            );
                            let (i, _) = sink.capture_stat(&path, &est, content)?;
                            sink.set_error(Some(i), why);
                            stats.capped = true;
                        } else {
                            let before = sink.stored_bytes;
                            sink.capture_stat(&path, &est, content)?;
                            stats.stored_bytes += sink.stored_bytes - before;
                        }
                    }
                }
                _ => {
                    if let Pick::Record(_) = choice {
                        sink.record_stat(&path, &est, None)?;
                    }
                }
            }
        }
        // Depth-first in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(stats)
}

#[cfg(test)]
mod walk_tests {
    use super::super::sink::test_support::Harness;
    use super::*;
    use std::time::{Duration, Instant};

    fn store() -> Pick {
        Pick::Record(Content::Head { cap: 1 << 20 })
    }

    #[test]
    fn depth_entry_and_byte_caps_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("d");
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        std::fs::write(base.join("a/b/c/deep"), b"too deep").unwrap();
        for i in 0..30 {
            std::fs::write(base.join(format!("f{i:02}")), vec![b'x'; 100]).unwrap();
        }
        let mut h = Harness::new(dir.path());
        let limits = Limits {
            max_depth: 2,
            max_entries: 1_000,
            max_dir_entries: 1_000,
            max_bytes: 1_000,
        };
        let stats = walk(&mut h.sink("t"), b"/d", limits, |_| store()).unwrap();
        // Depth: /d/a/b is recorded (depth 2) but not descended.
        assert!(h
            .record("/d/a/b")
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("depth cap"));
        assert!(h.record("/d/a/b/c").is_none());
        // Bytes: 10 files of 100 bytes fit in 1000, the rest are metadata with the reason.
        assert_eq!(stats.stored_bytes, 1_000);
        let f29 = h.record("/d/f29").unwrap();
        assert!(f29.member.is_none() && f29.error.as_deref().unwrap().contains("byte cap"));
        assert!(h.record("/d/f00").unwrap().member.is_some());

        let mut h = Harness::new(dir.path());
        let limits = Limits {
            max_depth: 8,
            max_entries: 5,
            max_dir_entries: 1_000,
            max_bytes: u64::MAX,
        };
        let stats = walk(&mut h.sink("t"), b"/d", limits, |_| store()).unwrap();
        assert!(stats.capped);
        assert_eq!(stats.entries, 5);
        assert!(h
            .record("/d")
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("walk stopped at 5"));
        assert!(!h.log.errors.is_empty());
    }

    #[test]
    fn per_directory_cap_on_a_huge_directory() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::create_dir(&big).unwrap();
        for i in 0..1_500 {
            std::fs::File::create(big.join(i.to_string())).unwrap();
        }
        let mut h = Harness::new(dir.path());
        let limits = Limits {
            max_depth: 2,
            max_entries: 1_000_000,
            max_dir_entries: 500,
            max_bytes: u64::MAX,
        };
        let stats = walk(&mut h.sink("t"), b"/big", limits, |_| {
            Pick::Record(Content::Meta)
        })
        .unwrap();
        assert_eq!(stats.entries, 500);
        assert!(h
            .record("/big")
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("per-directory cap"));
    }

    #[test]
    fn fifo_is_listed_never_opened_and_nothing_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("tmp");
        std::fs::create_dir(&d).unwrap();
        let fifo = d.join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: plain mkfifo on a path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let mut h = Harness::new(dir.path());
        let started = Instant::now();
        walk(&mut h.sink("t"), b"/tmp", Limits::config(3), |_| store()).unwrap();
        // Named directly as well (a crontab replaced by a FIFO).
        h.sink("t")
            .capture(b"/tmp/pipe", Content::Head { cap: 10 })
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        let r = h.record("/tmp/pipe").unwrap();
        assert_eq!(r.kind, FileKind::Fifo);
        assert!(r.member.is_none());
    }

    #[test]
    fn symlink_loops_are_links_not_walks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("loop");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::symlink(".", d.join("self")).unwrap();
        std::os::unix::fs::symlink("/loop", d.join("abs")).unwrap();
        std::os::unix::fs::symlink("a", d.join("b")).unwrap();
        std::os::unix::fs::symlink("b", d.join("a")).unwrap();
        let mut h = Harness::new(dir.path());
        let stats = walk(&mut h.sink("t"), b"/loop", Limits::config(10), |_| store()).unwrap();
        assert_eq!((stats.entries, stats.dirs), (4, 1));
        let abs = h.record("/loop/abs").unwrap();
        assert_eq!(abs.kind, FileKind::Symlink);
        assert_eq!(abs.link_target.as_ref().unwrap().as_bytes(), b"/loop");
        // Named directly, a loop ends as a recorded error, not a hang.
        h.sink("t")
            .capture(b"/loop/a", Content::Head { cap: 10 })
            .unwrap();
        assert!(h
            .log
            .errors
            .iter()
            .any(|e| e.message.contains("too many symbolic links")));
    }

    #[test]
    fn walk_start_link_is_recorded_and_followed_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/x.sh"), b"#!/bin/sh\n").unwrap();
        std::fs::create_dir_all(dir.path().join("var")).unwrap();
        std::os::unix::fs::symlink("/run", dir.path().join("var/run")).unwrap();
        let mut h = Harness::new(dir.path());
        walk(&mut h.sink("t"), b"/var/run", Limits::config(3), |_| {
            store()
        })
        .unwrap();
        // A second alias of the same directory is not walked again.
        let again = walk(&mut h.sink("t"), b"/run", Limits::config(3), |_| store()).unwrap();
        assert_eq!(again.dirs, 0);
        assert_eq!(h.record("/var/run").unwrap().kind, FileKind::Symlink);
        assert!(h.record("/run/x.sh").unwrap().member.is_some());
    }
}
