//! `/proc/net/nf_conntrack`, stored raw under `fs/proc/net/nf_conntrack`: the kernel's connection
//! tracking remembers flows (a miner's pool connection) for minutes after the socket is gone.
//!
//! It is the table of the collector's own network namespace; it exists only when the conntrack module
//! is loaded, and its absence is not an error.

use std::io::Write;

use minetrace_schemas::bundle::hashing_io::sha256_hex;
use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::manifest::ArtifactLog;
use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
use minetrace_schemas::RawBytes;

use super::proc_dir::read_bounded;
use crate::collection::{note_error, Collection};

/// The path the table is recorded under (it is read through the collector's own `/proc/self/net`).
pub const PATH: &str = "/proc/net/nf_conntrack";
const READ_PATH: &str = "/proc/self/net/nf_conntrack";

/// Stores the table if present; returns whether it was.
pub fn collect<W: Write>(
    col: &mut Collection<W>,
    log: &mut ArtifactLog,
    cap: u64,
) -> Result<bool, WriteError> {
    let file = match std::fs::File::open(READ_PATH) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            note_error(log, PATH, e);
            return Ok(false);
        }
    };
    let read = read_bounded(file, usize::try_from(cap).unwrap_or(usize::MAX));
    let content = match read {
        Ok(c) => c,
        Err(e) => {
            note_error(log, PATH, e);
            return Ok(false);
        }
    };
    if content.truncated {
        note_error(log, PATH, format!("cut at {cap} bytes"));
    }
    let member = fs_member(PATH.as_bytes());
    col.add_member(&member, &content.bytes)?;
    col.files.push(FileRecord {
        path: RawBytes::from(PATH),
        category: "conntrack".into(),
        kind: FileKind::Regular,
        link_target: None,
        mode: 0o444,
        uid: 0,
        gid: 0,
        size: content.bytes.len() as u64,
        dev: 0,
        ino: 0,
        nlink: 1,
        mtime: FileTime::default(),
        atime: FileTime::default(),
        ctime: FileTime::default(),
        btime: None,
        flags: None,
        immutable: false,
        append_only: false,
        sha256: Some(sha256_hex(&content.bytes)),
        member: Some(member),
        truncated: content.truncated,
        error: None,
    });
    log.items += 1;
    Ok(true)
}
