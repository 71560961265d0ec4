//! systemd journal files (`*.journal`, `*.journal~`) as the collector copies them whole: the entries
//! with the few fields the analysis uses, and the file's own integrity facts (header state, entry count
//! the header claims against entries readable, truncation) from which journal tampering is judged.
//!
//! Entries are read by `sdjournal` (pure Rust; zstd and lz4 payloads). It reads files, not buffers, and
//! it finds them only by listing a directory (symlinks skipped), so an in-memory file reached through
//! `/proc/self/fd/N` (`memfd_create`) is never opened. The bytes are therefore written to a private
//! temporary directory on a RAM filesystem (`/dev/shm`, else `$XDG_RUNTIME_DIR`; the system temporary
//! directory only when neither exists) under a name of our own — never a path from the bundle — and
//! unlinked as soon as `sdjournal` holds the file open, before a single entry is read: the bytes live on
//! as an unnamed inode in RAM for the read and vanish with it. Opened without mmap. The header (the
//! public format of systemd's `journal-def.h`) is decoded here for the integrity facts.

use std::path::Path;

/// Entries decoded per file at most (a 128 MiB journal holds ~500,000).
pub const MAX_ENTRIES: usize = 2_000_000;
/// Bytes of `MESSAGE` kept per entry.
const MAX_MESSAGE: usize = 16 * 1024;
const SIGNATURE: &[u8; 8] = b"LPKSHHRH";

/// One journal entry, the fields detectors and the timeline need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Microseconds since the epoch (`__REALTIME_TIMESTAMP`).
    pub realtime_usec: u64,
    pub seqnum: u64,
    pub boot_id: [u8; 16],
    /// `SYSLOG_IDENTIFIER`, else `_COMM` (`sshd`, `sudo`, `CROND`, `kernel`).
    pub identifier: Vec<u8>,
    pub pid: Option<u32>,
    /// `_TRANSPORT` (`syslog`, `journal`, `kernel`, `stdout`, `audit`).
    pub transport: Vec<u8>,
    pub hostname: Vec<u8>,
    pub message: Vec<u8>,
}

/// What a journal file's header says (systemd `journal-def.h`, little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalHeader {
    /// 0 offline (closed cleanly), 1 online (being written, or its writer died), 2 archived.
    pub state: u8,
    pub seqnum_id: [u8; 16],
    pub header_size: u64,
    pub arena_size: u64,
    pub n_entries: u64,
    pub head_entry_seqnum: u64,
    pub tail_entry_seqnum: u64,
    pub head_entry_realtime: u64,
    pub tail_entry_realtime: u64,
}

/// One file read: its header, its entries, and the integrity facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRead {
    pub header: JournalHeader,
    /// Oldest first (as stored).
    pub entries: Vec<JournalEntry>,
    /// The file is shorter than its header and arena say: cut after it was written.
    pub truncated: bool,
    /// The header counts more entries than could be read (removed, overwritten or corrupted).
    pub unreadable_entries: u64,
    /// Entries were left out at [`MAX_ENTRIES`].
    pub capped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("not a journal file (no LPKSHHRH signature)")]
    NotJournal,
    #[error("journal header is cut ({0} bytes)")]
    ShortHeader(usize),
    #[error("journal entries unreadable: {0}")]
    Unreadable(String),
    #[error("cannot stage the journal for reading: {0}")]
    Stage(String),
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn id128(b: &[u8], at: usize) -> [u8; 16] {
    b.get(at..at + 16)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 16])
}

/// Decodes the header (the first 208 bytes are what every journal version has).
pub fn header(bytes: &[u8]) -> Result<JournalHeader, JournalError> {
    if bytes.get(..8) != Some(SIGNATURE.as_slice()) {
        return Err(JournalError::NotJournal);
    }
    if bytes.len() < 208 {
        return Err(JournalError::ShortHeader(bytes.len()));
    }
    Ok(JournalHeader {
        state: bytes.get(16).copied().unwrap_or(0),
        seqnum_id: id128(bytes, 72),
        header_size: le64(bytes, 88),
        arena_size: le64(bytes, 96),
        n_entries: le64(bytes, 152),
        tail_entry_seqnum: le64(bytes, 160),
        head_entry_seqnum: le64(bytes, 168),
        head_entry_realtime: le64(bytes, 184),
        tail_entry_realtime: le64(bytes, 192),
    })
}

fn field<'a>(e: &'a sdjournal::EntryRef, name: &str) -> Option<&'a [u8]> {
    e.get(name)
}

/// A private directory for one staged journal: on `/dev/shm`, else `$XDG_RUNTIME_DIR` (both RAM
/// filesystems on systemd hosts), else the system temporary directory.
fn stage_dir() -> Result<tempfile::TempDir, JournalError> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
    let ram = [Some(Path::new("/dev/shm")), runtime.as_deref()];
    for dir in ram.into_iter().flatten().filter(|d| d.is_dir()) {
        if let Ok(t) = tempfile::Builder::new()
            .prefix("minetrace-journal-")
            .tempdir_in(dir)
        {
            return Ok(t);
        }
    }
    tempfile::Builder::new()
        .prefix("minetrace-journal-")
        .tempdir()
        .map_err(|e| JournalError::Stage(e.to_string()))
}

/// The smallest object a chain can link (an entry array: 16-byte object header, 8-byte next offset).
const MIN_CHAIN_OBJECT: usize = 24;

/// Steps `sdjournal` may take along one chain of objects (entry arrays, hash chains) in a file of
/// `len` bytes. A chain of distinct objects cannot be longer than the file holds objects, so a longer
/// walk is a loop an attacker wrote into the offsets; sdjournal's own default (1,000,000 steps, one
/// `pread` each) let a crafted 256-byte header cost ~1 s per file (fuzzing round 5).
fn chain_steps(len: usize) -> usize {
    (len / MIN_CHAIN_OBJECT).saturating_add(1)
}

/// Reads one journal file's bytes. Public and byte-driven (fuzzing): hostile bytes give an error or
/// fewer entries, never a panic.
pub fn read(bytes: &[u8]) -> Result<JournalRead, JournalError> {
    let header = header(bytes)?;
    let end = header.header_size.saturating_add(header.arena_size);
    let truncated = (bytes.len() as u64) < end;
    let dir = stage_dir()?;
    let staged = dir.path().join("staged.journal");
    std::fs::write(&staged, bytes).map_err(|e| JournalError::Stage(e.to_string()))?;
    let config = sdjournal::JournalConfig {
        allow_mmap_online: false,
        include_journal_tilde: true,
        max_object_chain_steps: chain_steps(bytes.len()),
        ..Default::default()
    };
    let journal = sdjournal::Journal::open_dir_with_config(dir.path(), config)
        .map_err(|e| JournalError::Unreadable(e.to_string()))?;
    // sdjournal holds the file open from here: the name goes now, the bytes with the last handle.
    dir.close()
        .map_err(|e| JournalError::Stage(e.to_string()))?;
    let query = journal.query();
    let iter = query
        .iter()
        .map_err(|e| JournalError::Unreadable(e.to_string()))?;
    let mut entries = Vec::new();
    let mut capped = false;
    for item in iter {
        // A damaged entry ends the walk the way journalctl stops at it; what was read is kept.
        let Ok(e) = item else {
            break;
        };
        if entries.len() >= MAX_ENTRIES {
            capped = true;
            break;
        }
        let identifier = field(&e, "SYSLOG_IDENTIFIER")
            .or_else(|| field(&e, "_COMM"))
            .unwrap_or_default()
            .to_vec();
        let pid = field(&e, "_PID")
            .or_else(|| field(&e, "SYSLOG_PID"))
            .and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|p| p.parse().ok());
        let message = field(&e, "MESSAGE").unwrap_or_default();
        entries.push(JournalEntry {
            realtime_usec: e.realtime_usec(),
            seqnum: e.seqnum(),
            boot_id: e.boot_id(),
            identifier,
            pid,
            transport: field(&e, "_TRANSPORT").unwrap_or_default().to_vec(),
            hostname: field(&e, "_HOSTNAME").unwrap_or_default().to_vec(),
            message: message.get(..MAX_MESSAGE).unwrap_or(message).to_vec(),
        });
    }
    drop(journal);
    let unreadable_entries = if capped {
        0
    } else {
        header.n_entries.saturating_sub(entries.len() as u64)
    };
    Ok(JournalRead {
        header,
        entries,
        truncated,
        unreadable_entries,
        capped,
    })
}

/// Identifiers whose messages are authentication events (sshd logins, password changes, account
/// creation, sudo, cron sessions) or the kernel's own lines.
pub const AUTH_IDENTIFIERS: &[&[u8]] = &[
    b"sshd",
    b"sshd-session",
    b"passwd",
    b"chpasswd",
    b"useradd",
    b"usermod",
    b"sudo",
    b"su",
    b"CROND",
    b"crond",
    b"cron",
    b"CRON",
    b"kernel",
    b"systemd-logind",
    b"login",
];

/// The entries of [`AUTH_IDENTIFIERS`] as syslog lines with an exact RFC 3339 UTC stamp
/// (`2024-03-03T04:06:47.000000+00:00 host sshd[2001]: Failed password for ...`), oldest first with their
/// entry's realtime: the journal then goes through the same line parser as `auth.log`/`secure` (see
/// [`crate::parse::auth_log`]) and its times are never guessed. Attacker bytes stay bytes; a newline in a
/// message is replaced by a space so one entry stays one line.
pub fn syslog_lines(read: &JournalRead) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = read
        .entries
        .iter()
        .filter(|e| AUTH_IDENTIFIERS.contains(&e.identifier.as_slice()))
        .map(|e| {
            let secs = i64::try_from(e.realtime_usec / 1_000_000).unwrap_or(i64::MAX);
            let stamp = time::OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
            let mut line = stamp.into_bytes();
            line.push(b' ');
            let host: &[u8] = if e.hostname.is_empty() {
                b"-"
            } else {
                &e.hostname
            };
            line.extend(
                host.iter()
                    .map(|b| if b.is_ascii_whitespace() { b'_' } else { *b }),
            );
            line.push(b' ');
            line.extend(
                e.identifier
                    .iter()
                    .map(|b| if b.is_ascii_whitespace() { b'_' } else { *b }),
            );
            if let Some(pid) = e.pid {
                line.extend(format!("[{pid}]").bytes());
            }
            line.extend_from_slice(b": ");
            line.extend(
                e.message
                    .iter()
                    .map(|b| if *b == b'\n' || *b == b'\r' { b' ' } else { *b }),
            );
            (e.realtime_usec, line)
        })
        .collect();
    // Stored in sequence order; a clock set back (or a shaped file) may disorder realtimes.
    out.sort_by_key(|(t, _)| *t);
    out
}

/// Sequence numbers missing between files of one journal (same `seqnum_id`): journald numbers every
/// entry of a machine's journal in one sequence across its system and user files, so a hole between
/// the oldest and newest entry read means files (or entries) in the middle are gone — removed by hand
/// or by a selective vacuum — unless the collector skipped them (the caller says which it did).
/// Returns (first missing, last missing) ranges, in order.
pub fn seqnum_gaps(files: &[&JournalRead]) -> Vec<(u64, u64)> {
    let mut by_id: std::collections::BTreeMap<[u8; 16], Vec<u64>> = Default::default();
    for f in files {
        by_id
            .entry(f.header.seqnum_id)
            .or_default()
            .extend(f.entries.iter().map(|e| e.seqnum));
    }
    let mut gaps = Vec::new();
    for (_, mut seq) in by_id {
        seq.sort_unstable();
        seq.dedup();
        for w in seq.windows(2) {
            if let [a, b] = w {
                if b.saturating_sub(*a) > 1 {
                    gaps.push((a + 1, b - 1));
                }
            }
        }
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/journal/sshd.journal");
    /// What journalctl read from the same file (make.sh: `journalctl --file -o export`).
    const JOURNALCTL: &str = include_str!("../../tests/fixtures/journal/journalctl.txt");

    /// journalctl's export, one record per entry: (realtime, identifier, pid, transport, message).
    fn journalctl_entries() -> Vec<(u64, String, String, String, String)> {
        JOURNALCTL
            .split("\n\n")
            .filter(|b| !b.trim().is_empty())
            .map(|block| {
                let get = |k: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{k}=")))
                        .unwrap_or("")
                        .to_owned()
                };
                (
                    get("__REALTIME_TIMESTAMP").parse().unwrap(),
                    get("SYSLOG_IDENTIFIER"),
                    get("_PID"),
                    get("_TRANSPORT"),
                    get("MESSAGE"),
                )
            })
            .collect()
    }

    #[test]
    fn entries_match_journalctl() {
        let read = read(FIXTURE).unwrap();
        let ours: Vec<_> = read
            .entries
            .iter()
            .map(|e| {
                (
                    e.realtime_usec,
                    String::from_utf8_lossy(&e.identifier).into_owned(),
                    e.pid.map(|p| p.to_string()).unwrap_or_default(),
                    String::from_utf8_lossy(&e.transport).into_owned(),
                    String::from_utf8_lossy(&e.message).into_owned(),
                )
            })
            .collect();
        assert_eq!(ours, journalctl_entries());
        assert_eq!(read.entries.len(), 27);
        assert_eq!(read.header.n_entries, 27);
        assert_eq!((read.truncated, read.unreadable_entries), (false, 0));
        let failed = read
            .entries
            .iter()
            .filter(|e| e.message.starts_with(b"Failed password"))
            .count();
        assert_eq!(failed, 15);
        assert!(seqnum_gaps(&[&read]).is_empty());
    }

    #[test]
    fn truncation_and_garbage() {
        assert_eq!(read(b"").unwrap_err(), JournalError::NotJournal);
        assert_eq!(
            read(&FIXTURE[..100]).unwrap_err(),
            JournalError::ShortHeader(100)
        );
        // Cut inside the arena: flagged as truncated whatever the reader recovers.
        for cut in [4096, 64 * 1024, FIXTURE.len() / 2] {
            match read(&FIXTURE[..cut]) {
                Ok(r) => assert!(r.truncated, "cut at {cut}"),
                Err(JournalError::Unreadable(_)) => {}
                Err(e) => panic!("cut at {cut}: {e}"),
            }
        }
        // Byte flips in the used part: errors or fewer entries, never a panic.
        let used = 64 * 1024;
        for at in (0..used).step_by(211) {
            let mut b = FIXTURE.to_vec();
            b[at] ^= 0x5a;
            let _ = read(&b);
        }
    }

    #[test]
    fn auth_entries_read_as_syslog_lines() {
        use crate::parse::auth_log::{parse_line, AuthEvent};
        let read = read(FIXTURE).unwrap();
        let lines = syslog_lines(&read);
        // Everything but the non-auth identifiers (none in this fixture): 27 entries.
        assert_eq!(lines.len(), 27);
        assert!(lines.windows(2).all(|w| w[0].0 <= w[1].0));
        let events: Vec<AuthEvent> = lines
            .iter()
            .enumerate()
            .filter_map(|(i, (_, l))| parse_line(i as u32 + 1, l))
            .map(|p| p.event)
            .collect();
        // journalctl: 12 failed root passwords, 3 invalid users each logged twice, 1 accepted password,
        // 1 accepted publickey.
        let failed = events
            .iter()
            .filter(|e| matches!(e, AuthEvent::Failed { .. }))
            .count();
        let accepted: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                AuthEvent::Accepted { method, user, ip } => {
                    Some((method.as_str(), user.as_slice(), ip.as_str()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(failed, 18);
        assert_eq!(
            accepted,
            [
                ("password", &b"root"[..], "127.77.0.5"),
                ("publickey", &b"ops"[..], "127.0.0.10")
            ]
        );
        let (_, first_failed) = lines
            .iter()
            .find(|(_, l)| l.windows(6).any(|w| w == b"Failed"))
            .unwrap();
        assert!(
            first_failed.starts_with(b"2024-03-03T04:06:47Z el9-web sshd[2001]: Failed password")
        );
    }

    #[test]
    fn gaps_between_files_of_one_sequence() {
        let mut r = read(FIXTURE).unwrap();
        // As if the file holding entries 6..=20 had been removed.
        r.entries.retain(|e| !(6..=20).contains(&e.seqnum));
        assert_eq!(seqnum_gaps(&[&r]), vec![(6, 20)]);
    }

    /// A crafted header whose entry-array offsets loop (fuzzing round 5): sdjournal walked the loop
    /// 1,000,000 steps (~1 s a file in a release build, 0.6-2 s in a debug one); bounded by the
    /// objects 256 bytes can hold, the walk stops after 11 and the result is the same: no entry read,
    /// every entry the header counts reported unreadable (the tampering fact the detectors judge).
    #[test]
    fn a_looping_entry_chain_is_bounded_by_the_file_size() {
        const LOOPING: &[u8] = include_bytes!(
            "../../../fuzz/regressions/journal/slow-unit-4fd276aeb3d0efcf2af745c53db9b658b584d6c0"
        );
        assert_eq!(LOOPING.len(), 256);
        assert_eq!(chain_steps(LOOPING.len()), 11);
        let r = read(LOOPING).unwrap();
        assert!(r.entries.is_empty());
        assert_eq!(r.unreadable_entries, r.header.n_entries);
        // The bound never cuts a real journal: the fixture still reads every entry journalctl shows.
        assert_eq!(
            read(FIXTURE).unwrap().entries.len(),
            journalctl_entries().len()
        );
    }
}
