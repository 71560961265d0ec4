//! The directories of the files a remediation may edit in place
//! ([`minetrace_schemas::locations::may_be_edited_in_place`]: crontabs, `authorized_keys`,
//! `/etc/ld.so.preload`, shell start-up files, rc scripts, units), each recorded by `lstat` and its inode
//! flags, after every family, for the files that family recorded.
//!
//! The script renames an edited file into place, which an immutable directory refuses: it clears the
//! directory's lock and sets again only a lock the snapshot saw, so that a kit's `chattr +i` set after
//! collection stays cleared. A directory the bundle had no record of (`/etc`, `/root`, a crontab spool)
//! was "seen unlocked", and an admin's `chattr +i` hardening of it was cleared for good by the edit
//! (review of train 3, item 4). With the record the analyzer also has the lock's time (an immutable
//! inode's change time is when it was locked) to tell the admin's lock from the intruder's.
//!
//! A directory whose flags cannot be read gets no record (review of train 1, item 11): a record without
//! flags means "keep whatever lock the script finds", which would set a kit's later lock again; no record
//! means "nothing seen", and the script leaves a lock it finds cleared and says so.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::locations::may_be_edited_in_place;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::parent;
use super::listing;
use super::sink::Sink;

/// Records the directory of every regular file recorded since index `from` of the run's records that a
/// remediation may edit in place, unless it is recorded with its flags already (a walk's start or a
/// listed directory). A directory recorded without flags (met as an entry, never opened) gets them.
pub fn record<W: Write>(s: &mut Sink<'_, W>, from: usize) -> Result<(), WriteError> {
    record_with(s, from, listing::dir_flags)
}

/// [`record`], with the flags read by `flags_of` (the real path and `lstat` of the directory).
fn record_with<W: Write>(
    s: &mut Sink<'_, W>,
    from: usize,
    flags_of: impl Fn(&std::path::Path, &Stat) -> std::io::Result<Option<u32>>,
) -> Result<(), WriteError> {
    let mut dirs: Vec<Vec<u8>> = s
        .col
        .files
        .get(from..)
        .unwrap_or_default()
        .iter()
        .filter(|f| f.kind == FileKind::Regular && may_be_edited_in_place(f.path.as_bytes()))
        .map(|f| parent(f.path.as_bytes()).to_vec())
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let known = s.ctx.recorded.get(&dir).copied();
        if known
            .and_then(|i| s.col.files.get(i))
            .is_some_and(|f| f.flags.is_some() || f.kind != FileKind::Directory)
        {
            continue;
        }
        let st = match s.ctx.root.lstat(&dir) {
            Ok(st) if st.is_dir() => st,
            // A link or anything else where the file's directory was: the file's own record says so.
            Ok(_) => continue,
            Err(e) => {
                s.note(
                    &dir,
                    format!("lstat of the directory of an edited file: {e}"),
                );
                continue;
            }
        };
        let flags = match flags_of(&s.ctx.root.real(&dir), &st) {
            Ok(Some(flags)) => flags,
            Ok(None) => continue,
            Err(e) => {
                s.note(
                    &dir,
                    format!("inode flags of the directory of an edited file: {e}"),
                );
                continue;
            }
        };
        s.record_dir(&dir, &st, Some(flags))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::{put, Harness};
    use super::super::sink::Content;
    use super::*;

    /// Review of train 1, item 11: a directory whose flags cannot be read gets no record (the script
    /// then leaves a lock it finds cleared), not a record without flags (which would keep it); a file
    /// no remediation edits records no directory (item 13: the predicate, not the family, decides).
    #[test]
    fn only_directories_whose_flags_were_read_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), "/etc/crontab", b"* * * * * root true\n", 0o644);
        put(dir.path(), "/root/.bashrc", b"alias l=ls\n", 0o644);
        put(dir.path(), "/var/log/app/x.log", b"x\n", 0o644);
        let mut h = Harness::new(dir.path());
        let mut s = h.sink("t");
        for p in [
            &b"/etc/crontab"[..],
            b"/root/.bashrc",
            b"/var/log/app/x.log",
        ] {
            s.capture(p, Content::Head { cap: 1 << 10 }).unwrap();
        }
        record_with(&mut s, 0, |real, _| {
            if real.ends_with("etc") {
                Err(std::io::Error::other("EACCES"))
            } else {
                Ok(Some(0))
            }
        })
        .unwrap();
        assert!(h.record("/etc").is_none(), "{:?}", h.record("/etc"));
        let root = h.record("/root").expect("/root recorded");
        assert_eq!((root.kind, root.flags), (FileKind::Directory, Some(0)));
        assert!(h.record("/var/log/app").is_none());
        assert!(h.log.errors.iter().any(|e| e.message.contains("EACCES")));
    }
}
