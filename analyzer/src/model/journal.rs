//! The systemd journal files the collector copied ([`HostModel::journals`]), read once: each file's
//! integrity facts (cut short, entries its header counts but none can read, where its sequence starts
//! and ends), the sequence holes across the files of one journal, and the authentication entries as
//! syslog lines for the journal auth source ([`super::auth`]). Files the collector listed but left out
//! (its journal budget) are named, so a hole they explain is not taken for tampering.

use std::sync::Arc;

use super::HostModel;
use crate::parse::basename;
use crate::parse::journal::{self, JournalHeader};

/// Whether a path is a journal file (`*.journal`, `*.journal~`) in a journal directory.
pub fn is_journal(path: &[u8]) -> bool {
    let name = basename(path);
    minetrace_schemas::locations::below(minetrace_schemas::locations::JOURNAL_DIRS, path)
        && (name.ends_with(b".journal") || name.ends_with(b".journal~"))
}

/// One captured journal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFile {
    pub path: Arc<[u8]>,
    /// What could be read, or why nothing could.
    pub read: Result<JournalFacts, String>,
}

/// A file's integrity facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFacts {
    pub header: JournalHeader,
    /// Shorter than its header and arena say.
    pub truncated: bool,
    /// Entries the header counts that could not be read.
    pub unreadable_entries: u64,
    /// Entries read.
    pub entries: usize,
    /// Entries were left out at the reader's cap.
    pub capped: bool,
}

/// One authentication entry as a syslog line (see [`journal::syslog_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalAuthLine {
    pub path: Arc<[u8]>,
    /// 1-based position among the file's authentication entries (the journal has no lines).
    pub n: u32,
    pub line: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journals {
    pub files: Vec<JournalFile>,
    /// Sequence numbers missing between the files of one journal: `(first, last)` missing.
    pub gaps: Vec<(u64, u64)>,
    /// Journal files the collector recorded without their bytes (budget, read error), with its reason.
    pub not_copied: Vec<(Arc<[u8]>, String)>,
    pub auth_lines: Vec<JournalAuthLine>,
}

pub fn collect(model: &HostModel) -> Journals {
    let mut out = Journals::default();
    let mut reads = Vec::new();
    for f in model
        .regular_files()
        .filter(|f| is_journal(f.path.as_bytes()))
    {
        let path: Arc<[u8]> = Arc::from(f.path.as_bytes());
        let Some(bytes) = model.content(f) else {
            out.not_copied.push((
                path,
                f.error
                    .clone()
                    .unwrap_or_else(|| "content not in the bundle".into()),
            ));
            continue;
        };
        match journal::read(bytes) {
            Ok(read) => {
                for (i, (_, line)) in journal::syslog_lines(&read).into_iter().enumerate() {
                    out.auth_lines.push(JournalAuthLine {
                        path: Arc::clone(&path),
                        n: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        line,
                    });
                }
                out.files.push(JournalFile {
                    path,
                    read: Ok(JournalFacts {
                        header: read.header,
                        truncated: read.truncated,
                        unreadable_entries: read.unreadable_entries,
                        entries: read.entries.len(),
                        capped: read.capped,
                    }),
                });
                reads.push(read);
            }
            Err(e) => out.files.push(JournalFile {
                path,
                read: Err(e.to_string()),
            }),
        }
    }
    let refs: Vec<&journal::JournalRead> = reads.iter().collect();
    out.gaps = journal::seqnum_gaps(&refs);
    out
}
