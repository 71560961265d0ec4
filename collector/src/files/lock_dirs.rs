//! The directories of the files a remediation may edit in place (crontabs, `authorized_keys`,
//! `/etc/ld.so.preload`, shell start-up files, rc scripts, units): each recorded by `lstat` and its inode
//! flags, in the family that recorded the file.
//!
//! The script renames an edited file into place, which an immutable directory refuses: it clears the
//! directory's lock and sets again only a lock the snapshot saw, so that a kit's `chattr +i` set after
//! collection stays cleared. A directory the bundle had no record of (`/etc`, `/root`, a crontab spool)
//! was "seen unlocked", and an admin's `chattr +i` hardening of it was cleared for good by the edit
//! (review of train 3, item 4). With the record the analyzer also has the lock's time (an immutable
//! inode's change time is when it was locked) to tell the admin's lock from the intruder's.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::host_root::parent;
use super::listing;
use super::sink::Sink;

/// The families whose files a remediation edits line by line (their artifact log names).
pub const EDITED_IN_PLACE: &[&str] = &["accounts", "ssh", "cron", "systemd", "startup", "loader"];

/// Records the directory of every regular file recorded since index `from` of the run's records,
/// unless it is recorded with its flags already (a walk's start or a listed directory). A directory
/// recorded without flags (met as an entry, never opened) gets them.
pub fn record<W: Write>(s: &mut Sink<'_, W>, from: usize) -> Result<(), WriteError> {
    let mut dirs: Vec<Vec<u8>> = s
        .col
        .files
        .get(from..)
        .unwrap_or_default()
        .iter()
        .filter(|f| f.kind == FileKind::Regular)
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
        let flags = match listing::dir_flags(&s.ctx.root.real(&dir), &st) {
            Ok(flags) => flags,
            Err(e) => {
                s.note(&dir, format!("open: {e}"));
                None
            }
        };
        s.record_dir(&dir, &st, flags)?;
    }
    Ok(())
}
