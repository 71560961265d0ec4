//! Running executables, hashed once per distinct file however many processes run them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::records::file::FileTime;
use crate::records::process::FileId;
use crate::RawBytes;

/// Whether the executable's bytes were copied into the bundle, and if not, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum CopyStatus {
    /// Not a copy candidate (package location, not deleted, not in a temp or hidden place).
    NotNeeded,
    /// Stored whole under this member (`bin/<sha256>`).
    Copied {
        member: String,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutableRecord {
    pub file: FileId,
    /// Path as the exe link showed it for the first process that ran it.
    pub path: RawBytes,
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes read through `/proc/PID/exe`; `None` when unreadable.
    pub sha256: Option<String>,
    pub deleted: bool,
    pub memfd: bool,
    pub pids: Vec<i32>,
    pub copy: CopyStatus,
    /// Why it was a copy candidate (deleted, memfd, temp dir, hidden dir, home).
    pub copy_reasons: Vec<String>,
    pub error: Option<String>,
}

/// The times of a running image that no path names any more (deleted), read by `fstat` of the process's
/// `exe` descriptor, which pins the inode: when the kit wrote its binary, where the path at its old name
/// holds another file or nothing (a file record there is that other file's, never the image's). A memfd
/// image has no such record: its inode is memory, with no time on any disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageTimes {
    pub file: FileId,
    pub mtime: FileTime,
    pub ctime: FileTime,
    /// Owner of the inode.
    pub uid: u32,
}
