//! The immutable and append-only locks of a file the plan edits and keeps, and of its directory: which
//! the script sets again after the edit (the admin's), which stay cleared (the intrusion's), and what the
//! snapshot saw on each so the script never edits a file whose lock it cannot read back (review #10;
//! review of train 1, items 4 and 5).
//!
//! A file's lock is the intrusion's when MT-EVA-001 judged it high (a family's file), or when the file is
//! immutable and holds an attacker's line removed unasked: an immutable file cannot be written, so the
//! lock was set after the attacker wrote (pwnrig's `+ia` files, TeamTNT's `+i` on `authorized_keys`),
//! whatever severity MT-EVA-001 gave it. An append-only file takes an append under the admin's lock: it is
//! set again, and the responder is told to clear it if the intruder set it.
//!
//! A directory's lock follows the same rule of time (review of train 2, item 7): nothing can change an
//! immutable inode — no entry added or removed, no chmod — so an immutable directory's change time is
//! when its lock was set. Locked at or after the last write (the earlier of the file's mtime and ctime:
//! the kit can set the one, not the other) of the file holding an attacker's line
//! (`chattr +i ~/.ssh` after the kit wrote its key), the lock is the intrusion's: it stays cleared, and
//! the responder is told. Locked before that write, it is the admin's and is set again; MT-EVA-001 high
//! on the directory clears it too. A file's verdict itself never carries over to its directory.
//!
//! The script sets again only letters both the snapshot and the host at run time show (a lock that
//! appeared after collection is the kit's; see `template.sh`, `mt_flags_seen_now`).

use std::collections::BTreeMap;

use minetrace_schemas::findings::Severity;
use minetrace_schemas::records::file::FileRecord;

use crate::model::HostModel;
use crate::parse::dirname;

/// What the script does with the locks around one edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPolicy {
    /// Set the file's flags again after the edit.
    pub restore_file: bool,
    /// Set the directory's flags again after the edit.
    pub restore_dir: bool,
    /// The flags the snapshot saw on the file and on its directory (`i`, `a`, `ia`, empty, or `?` when
    /// the snapshot could not read them): with a flag to set again and none readable at run time, the
    /// script does not edit (fail closed); the script sets again only letters both the snapshot and the
    /// run show, or, with `?`, what it reads at run time.
    pub seen_file: String,
    pub seen_dir: String,
}

/// `i`, `a`, `ia` or empty for a record; `?` only when the record's flags could not be read (a
/// fuse-mounted image, NFS): the script then keeps what it reads at run time. The collector records the
/// directory of every file a remediation may edit, with its flags (`lock_dirs`, review of train 3,
/// item 4); no record (a bundle from an older collector) is empty: a lock the script finds there was not
/// seen by the snapshot, so it stays cleared and the responder is told (review of train 2, item 9).
fn letters(f: Option<&FileRecord>) -> String {
    let Some(f) = f else {
        return String::new();
    };
    if f.flags.is_none() {
        return "?".to_owned();
    }
    let mut s = String::new();
    if f.immutable {
        s.push('i');
    }
    if f.append_only {
        s.push('a');
    }
    s
}

/// The policy for an edit of `path`; `attributed_line`: a line removed unasked is in it. `locks`: the
/// severity MT-EVA-001 gave each locked file or directory. The notes are for the responder.
pub fn policy(
    model: &HostModel,
    locks: &BTreeMap<Vec<u8>, Severity>,
    path: &[u8],
    attributed_line: bool,
) -> (LockPolicy, Vec<&'static str>) {
    let file = model.file(path);
    let dir_path = dirname(path);
    let dir = model.file(dir_path);
    let judged = |p: &[u8]| locks.get(p).copied();
    let file_high = judged(path).is_some_and(|s| s >= Severity::High);
    let immutable = file.is_some_and(|f| f.immutable);
    let append_only = file.is_some_and(|f| f.append_only);
    let restore_file = !(file_high || (immutable && attributed_line));
    let mut notes = Vec::new();
    if restore_file && append_only && attributed_line {
        notes.push(
            "append-only in the snapshot with an attacker's line in it: its lock is set again after the edit (an admin's); if the intruder set it, clear it by hand (chattr -a)",
        );
    }
    // The directory's lock set at or after the attacker's write (its change time, which an immutable
    // inode keeps from the moment the lock was set, not older than the file's last write). The write is
    // dated by the earlier of the file's mtime and ctime: the kit sets the mtime (`touch -d 2030-01-01`
    // would make its own lock look older than its write, review of train 1, item 12), never the ctime,
    // which no later than the collection bounds it.
    let locked_after_write = attributed_line
        && match (dir, file) {
            (Some(d), Some(f)) => {
                let written = match f.ctime.secs {
                    c if c > 0 => f.mtime.secs.min(c),
                    _ => f.mtime.secs,
                };
                d.immutable && written > 0 && d.ctime.secs >= written
            }
            _ => false,
        };
    let dir_high = judged(dir_path).is_some_and(|s| s >= Severity::High);
    let restore_dir = !(dir_high || locked_after_write);
    if locked_after_write && !dir_high {
        notes.push(
            "its directory was locked (immutable) at or after the last write of the file holding the attacker's line: taken for the intruder's lock, it stays cleared after the edit; if it is the admin's, set it again by hand (chattr +i on the directory)",
        );
    }
    (
        LockPolicy {
            restore_file,
            restore_dir,
            seen_file: letters(file),
            seen_dir: letters(dir),
        },
        notes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture;

    #[test]
    fn an_immutable_file_with_an_attackers_line_keeps_no_lock_an_append_only_one_does() {
        let make = |immutable: bool, append_only: bool| {
            let (mut f, c) = fixture::file(b"/root/.ssh/authorized_keys", Some(b"k\n"));
            f.immutable = immutable;
            f.append_only = append_only;
            let (mut d, _) = fixture::file(b"/root/.ssh", None);
            d.immutable = true;
            // The admin locked the directory long before the intrusion's write.
            d.ctime.secs = 1_600_000_000;
            fixture::model(vec![(f, c), (d, None)], vec![])
        };
        let none = BTreeMap::new();
        // Review of train 1, item 4: TeamTNT locks authorized_keys after appending its key; MT-EVA-001 is
        // low for a locked key file, yet the lock postdates the attacker's write.
        let (p, note) = policy(
            &make(true, false),
            &none,
            b"/root/.ssh/authorized_keys",
            true,
        );
        assert!(!p.restore_file && p.restore_dir, "{p:?}");
        assert_eq!((p.seen_file.as_str(), p.seen_dir.as_str()), ("i", "i"));
        assert!(note.is_empty());
        // Only a review item's line in it: the lock may be the admin's.
        let (p, _) = policy(
            &make(true, false),
            &none,
            b"/root/.ssh/authorized_keys",
            false,
        );
        assert!(p.restore_file, "{p:?}");
        // Append-only: an append passes through the admin's lock: set again, with a note.
        let (p, note) = policy(
            &make(false, true),
            &none,
            b"/root/.ssh/authorized_keys",
            true,
        );
        assert!(p.restore_file && note.len() == 1, "{p:?}");
        // The directory is judged on its own.
        let high = BTreeMap::from([(b"/root/.ssh".to_vec(), Severity::High)]);
        let (p, _) = policy(
            &make(false, false),
            &high,
            b"/root/.ssh/authorized_keys",
            false,
        );
        assert!(p.restore_file && !p.restore_dir, "{p:?}");
    }

    /// Review of train 1 (session 6), item 5: flags the collector could not read are `?`, never "no
    /// lock". Review of train 2, item 9: a file or directory the snapshot has no record of is empty, not
    /// `?` (with `?` the script would set again whatever lock it reads at run time, a kit's included).
    #[test]
    fn flags_the_snapshot_could_not_read_are_unknown() {
        let (mut f, c) = fixture::file(b"/etc/crontab", Some(b"x\n"));
        f.flags = None;
        let model = fixture::model(vec![(f, c)], vec![]);
        let (p, _) = policy(&model, &BTreeMap::new(), b"/etc/crontab", true);
        assert_eq!((p.seen_file.as_str(), p.seen_dir.as_str()), ("?", ""));
        let (p, _) = policy(
            &model,
            &BTreeMap::new(),
            b"/var/spool/cron/crontabs/root",
            true,
        );
        assert_eq!((p.seen_file.as_str(), p.seen_dir.as_str()), ("", ""));
    }

    /// Review of train 2, item 7: a directory locked at or after the last write of the file holding an
    /// attacker's line (`chattr +i ~/.ssh` after the kit wrote its key) stays cleared, with a note; one
    /// locked before is the admin's and is set again; without an attributed line nothing dates it.
    #[test]
    fn a_directory_locked_after_the_attackers_write_stays_cleared() {
        let make = |dir_locked_at: i64| {
            let (f, c) = fixture::file(b"/root/.ssh/authorized_keys", Some(b"k\n"));
            let (mut d, _) = fixture::file(b"/root/.ssh", None);
            d.immutable = true;
            d.ctime.secs = dir_locked_at;
            fixture::model(vec![(f, c), (d, None)], vec![])
        };
        let none = BTreeMap::new();
        let written = 1_700_000_000;
        let keys = b"/root/.ssh/authorized_keys";
        for locked in [written, written + 5] {
            let (p, notes) = policy(&make(locked), &none, keys, true);
            assert!(p.restore_file && !p.restore_dir, "{p:?}");
            assert_eq!(p.seen_dir, "i");
            assert!(
                notes.iter().any(|n| n.contains("stays cleared")),
                "{notes:?}"
            );
        }
        let (p, notes) = policy(&make(written - 86_400), &none, keys, true);
        assert!(p.restore_dir && notes.is_empty(), "{p:?} {notes:?}");
        // Review of train 1, item 12: the kit's key file touched to a future mtime after its write and
        // its lock; the change time (the touch's) still dates the write, and the lock stays cleared.
        let mut stomped = make(written + 5);
        for f in stomped.files.iter_mut() {
            if f.path.as_bytes() == keys {
                f.mtime.secs = 1_893_456_000;
                f.ctime.secs = written;
            }
        }
        let (p, _) = policy(&stomped, &none, keys, true);
        assert!(!p.restore_dir, "{p:?}");
        let (p, notes) = policy(&make(written + 5), &none, keys, false);
        assert!(p.restore_dir && notes.is_empty(), "{p:?} {notes:?}");
    }
}
