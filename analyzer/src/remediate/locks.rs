//! The immutable and append-only locks of a file the plan edits and keeps, and of its directory: which
//! the script sets again after the edit (the admin's), which stay cleared (the intrusion's), and what the
//! snapshot saw on each so the script never edits a file whose lock it cannot read back (review #10;
//! review of train 1, items 4 and 5).
//!
//! A file's lock is the intrusion's when MT-EVA-001 judged it high (a family's file), or when the file is
//! immutable and holds an attacker's line removed unasked: an immutable file cannot be written, so the
//! lock was set after the attacker wrote (pwnrig's `+ia` files, TeamTNT's `+i` on `authorized_keys`),
//! whatever severity MT-EVA-001 gave it. An append-only file takes an append under the admin's lock: it is
//! set again, and the responder is told to clear it if the intruder set it. A directory's lock is judged on
//! its own (MT-EVA-001 about the directory): a file's verdict never carries over to it.

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
    /// The flags the snapshot saw on the file and on its directory (`i`, `a`, `ia` or empty): with a
    /// flag to set again and none readable at run time, the script does not edit (fail closed).
    pub seen_file: String,
    pub seen_dir: String,
}

/// `i`, `a`, `ia` or empty for a record.
fn letters(f: Option<&FileRecord>) -> String {
    let mut s = String::new();
    if f.is_some_and(|f| f.immutable) {
        s.push('i');
    }
    if f.is_some_and(|f| f.append_only) {
        s.push('a');
    }
    s
}

/// The policy for an edit of `path`; `attributed_line`: a line removed unasked is in it. `locks`: the
/// severity MT-EVA-001 gave each locked file or directory. The note, when there is one, is for the
/// responder.
pub fn policy(
    model: &HostModel,
    locks: &BTreeMap<Vec<u8>, Severity>,
    path: &[u8],
    attributed_line: bool,
) -> (LockPolicy, Option<&'static str>) {
    let file = model.file(path);
    let dir_path = dirname(path);
    let dir = model.file(dir_path);
    let judged = |p: &[u8]| locks.get(p).copied();
    let file_high = judged(path).is_some_and(|s| s >= Severity::High);
    let immutable = file.is_some_and(|f| f.immutable);
    let append_only = file.is_some_and(|f| f.append_only);
    let restore_file = !(file_high || (immutable && attributed_line));
    let note = (restore_file && append_only && attributed_line).then_some(
        "append-only in the snapshot with an attacker's line in it: its lock is set again after the edit (an admin's); if the intruder set it, clear it by hand (chattr -a)",
    );
    let restore_dir = judged(dir_path).is_none_or(|s| s < Severity::High);
    (
        LockPolicy {
            restore_file,
            restore_dir,
            seen_file: letters(file),
            seen_dir: letters(dir),
        },
        note,
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
        assert!(note.is_none());
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
        assert!(p.restore_file && note.is_some(), "{p:?}");
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
}
