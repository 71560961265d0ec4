//! Files captured from the host: metadata always, content under `fs/` when the artifact calls for it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RawBytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

/// Seconds and nanoseconds since the epoch, as `statx` gives them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct FileTime {
    pub secs: i64,
    pub nanos: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileRecord {
    /// The original path on the host, as bytes.
    pub path: RawBytes,
    /// Why it was collected (`cron`, `systemd`, `ssh`, `exe`, ...).
    pub category: String,
    pub kind: FileKind,
    pub link_target: Option<RawBytes>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mtime: FileTime,
    pub atime: FileTime,
    pub ctime: FileTime,
    /// Birth time where the filesystem records it; harder to forge than mtime.
    pub btime: Option<FileTime>,
    /// Inode flags from `FS_IOC_GETFLAGS`, when they could be read.
    pub flags: Option<u32>,
    pub immutable: bool,
    pub append_only: bool,
    pub sha256: Option<String>,
    /// Bundle member holding the bytes (`fs/...`), when content was captured.
    pub member: Option<String>,
    /// Content was cut to a cap (logs keep their tail).
    pub truncated: bool,
    pub error: Option<String>,
}

/// `FileRecord::error` of a path a persistence entry names that does not exist on the host: the collector
/// looked and found nothing (an orphaned start line once its executable was deleted). Such a record has
/// `kind: Unknown` and no metadata. Only absolute paths found in persistence files are checked.
pub const ABSENT_NAMED: &str = "absent: a persistence entry names it and no such file exists";

/// Start of `FileRecord::error` when the collector read a file and kept its bytes out of the bundle on
/// purpose (password databases, private keys, credential files): `sha256`, when set, is the host file's.
pub const CONTENT_WITHHELD: &str = "content withheld: ";

/// Start of `FileRecord::error` when the stored copy has secret values replaced by
/// [`crate::miner_config::redaction_marker`]s (a miner's config): `sha256` is the host file's, not the
/// stored copy's.
pub const CONTENT_REDACTED: &str = "content redacted: ";

/// `FS_IMMUTABLE_FL` from `linux/fs.h`.
pub const FS_IMMUTABLE_FL: u32 = 0x0000_0010;
/// `FS_APPEND_FL` from `linux/fs.h`.
pub const FS_APPEND_FL: u32 = 0x0000_0020;
