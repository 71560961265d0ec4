//! The systemd journal (category `journal`): `*.journal` and archived `*.journal~` files under
//! `/var/log/journal/<machine-id>/` (persistent) and `/run/log/journal/<machine-id>/` (volatile; RHEL
//! keeps only this one unless `Storage=persistent`), copied **whole**: a journal cut anywhere is
//! unreadable (journalctl and the analyzer's reader both recover nothing from a truncated file), so a
//! file that does not fit what is left of the journal budget (`--max-journal-mib`) is recorded by
//! metadata only, with the reason. Newest files (by modification time) go first, so the budget keeps
//! the most recent logins. On Debian 12 and RHEL 9 sshd logs only here.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::child;
use super::listing;
use super::sink::{Content, Sink};

pub use minetrace_schemas::locations::JOURNAL_DIRS;
/// Machine directories and files listed per directory at most.
const MAX_ENTRIES: usize = 10_000;

/// Whether a file name is a journal file (active, archived, or dirty archived `~`).
pub fn is_journal_file(name: &[u8]) -> bool {
    name.ends_with(b".journal") || name.ends_with(b".journal~")
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let mut found: Vec<(Vec<u8>, Stat)> = Vec::new();
    for top in JOURNAL_DIRS {
        let Some((top, st)) = s.enter_dir(top)? else {
            continue;
        };
        let mut dirs = vec![top.clone()];
        if let Ok((_, names, _)) = listing::list(&s.ctx.root.real(&top), &st, MAX_ENTRIES) {
            dirs.extend(names.iter().map(|n| child(&top, n)));
        }
        for dir in dirs {
            let Ok(dst) = s.ctx.root.lstat(&dir) else {
                continue;
            };
            if !dst.is_dir() {
                continue;
            }
            let names = match listing::list(&s.ctx.root.real(&dir), &dst, MAX_ENTRIES) {
                Ok((_, names, more)) => {
                    if more {
                        s.note(&dir, format!("listing cut at {MAX_ENTRIES} entries"));
                    }
                    names
                }
                Err(e) => {
                    s.note(&dir, format!("cannot list: {e}"));
                    continue;
                }
            };
            for name in names.iter().filter(|n| is_journal_file(n)) {
                let path = child(&dir, name);
                match s.ctx.root.lstat(&path) {
                    Ok(st) if st.kind == FileKind::Regular => found.push((path, st)),
                    Ok(st) => {
                        s.record_stat(&path, &st, None)?;
                    }
                    Err(e) => s.note(&path, format!("lstat: {e}")),
                }
            }
        }
    }
    // Newest first; ties by path so runs are reproducible.
    found.sort_by(|a, b| b.1.mtime.cmp(&a.1.mtime).then_with(|| a.0.cmp(&b.0)));
    let mut left = s.ctx.max_journal;
    for (path, st) in found {
        if st.size > left {
            let (i, _) = s.capture_stat(&path, &st, Content::Meta)?;
            s.set_error(
                Some(i),
                format!(
                    "not copied: {} bytes do not fit the {left} bytes left of the journal budget \
                     (--max-journal-mib), and a partial journal is unreadable",
                    st.size
                ),
            );
            continue;
        }
        // The cap is the size at listing time plus room for what journald appends meanwhile.
        let cap = st.size.saturating_add(8 << 20).min(left);
        let before = s.stored_bytes;
        let (i, _) = s.capture_stat(&path, &st, Content::Head { cap })?;
        left = left.saturating_sub(s.stored_bytes - before);
        if s.col.files.get(i).is_some_and(|f| f.truncated) {
            s.set_error(
                Some(i),
                "grew past the journal budget while it was read: the copy is cut and may be unreadable",
            );
        }
        s.log.items += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::sink::test_support::Harness;

    #[test]
    fn newest_first_whole_files_and_skips_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let m = r.join("var/log/journal/0123456789abcdef0123456789abcdef");
        std::fs::create_dir_all(&m).unwrap();
        let run = r.join("run/log/journal/0123456789abcdef0123456789abcdef");
        std::fs::create_dir_all(&run).unwrap();
        let write = |p: std::path::PathBuf, size: usize, age: u64| {
            std::fs::write(&p, vec![b'j'; size]).unwrap();
            let t = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        write(m.join("system.journal"), 3000, 0);
        write(
            m.join("system@00aa-0000000000000001-0000000000000001.journal"),
            3000,
            100,
        );
        write(m.join("user-1000@x.journal~"), 1000, 200);
        write(run.join("system.journal"), 500, 50);
        std::fs::write(m.join("notes.txt"), b"not a journal").unwrap();

        let mut h = Harness::new(r);
        h.ctx.max_journal = 4000;
        collect(&mut h.sink("journal")).unwrap();
        let stored = |p: &str| h.record(p).map(|f| (f.member.is_some(), f.error.clone()));
        let base = "/var/log/journal/0123456789abcdef0123456789abcdef";
        // 3000 (newest) + 500 fit; the 3000-byte archive does not and is skipped with the reason; the
        // 1000-byte one no longer fits either (only 500 left).
        assert_eq!(
            stored(&format!("{base}/system.journal")),
            Some((true, None))
        );
        assert_eq!(
            stored("/run/log/journal/0123456789abcdef0123456789abcdef/system.journal"),
            Some((true, None))
        );
        let skipped = stored(&format!(
            "{base}/system@00aa-0000000000000001-0000000000000001.journal"
        ))
        .unwrap();
        assert!(!skipped.0 && skipped.1.unwrap().contains("do not fit"));
        let skipped = stored(&format!("{base}/user-1000@x.journal~")).unwrap();
        assert!(!skipped.0 && skipped.1.unwrap().contains("500 bytes left"));
        assert!(h.record(&format!("{base}/notes.txt")).is_none());
        assert!(h
            .col
            .files
            .iter()
            .filter(|f| f.member.is_some())
            .all(|f| !f.truncated));
    }
}
