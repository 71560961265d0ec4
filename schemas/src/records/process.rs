//! The process table: everything about one process, read in a single visit to `/proc/PID`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RawBytes;

/// A file's identity on the host. Paths can be reused and renamed; `(dev, inode)` cannot while the file lives.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// Real, effective, saved and filesystem ids from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdSet {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
    pub fs: u32,
}

/// The `/proc/PID/exe` link as the kernel shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExeLink {
    /// The link target without the kernel's ` (deleted)` suffix.
    pub path: RawBytes,
    /// True when the kernel marked the target deleted and the file has no links left.
    /// Decided from the link count, not from the suffix, which a file name can contain.
    pub deleted: bool,
    /// The link count of the running image (0 once deleted).
    pub nlink: Option<u64>,
    pub memfd: bool,
    pub file: Option<FileId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MappingKind {
    File,
    DeletedFile,
    Memfd,
    /// Anonymous memory mapped executable: shellcode, JIT or an unpacked payload.
    AnonymousExec,
    Other,
}

/// An executable mapping from `/proc/PID/maps` (only `x` mappings are kept; data mappings say nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub offset: u64,
    pub file: Option<FileId>,
    pub path: Option<RawBytes>,
    pub kind: MappingKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FdTarget {
    File { path: RawBytes, deleted: bool },
    Socket { inode: u64 },
    Pipe { inode: u64 },
    AnonInode { name: RawBytes },
    Other { target: RawBytes },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenFd {
    pub fd: i32,
    pub target: FdTarget,
}

/// An environment variable. The value is kept only for a forensic allowlist (`LD_PRELOAD`, `PATH`, ...)
/// unless the responder asked for all values: environments hold secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: RawBytes,
    pub value: Option<RawBytes>,
}

/// One namespace a process is in, by kind (`net`, `pid`, `mnt`, ...) and inode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceRef {
    pub kind: String,
    pub inode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: i32,
    pub ppid: i32,
    /// Start time in clock ticks after boot (field 22 of `/proc/PID/stat`). With the boot id and the pid
    /// it identifies the process even after the pid is reused.
    pub start_ticks: u64,
    pub uid: IdSet,
    pub gid: IdSet,
    pub comm: RawBytes,
    /// `/proc/PID/cmdline` exactly: NUL-separated arguments, possibly rewritten by the process itself.
    pub cmdline: RawBytes,
    pub exe: Option<ExeLink>,
    pub cwd: Option<RawBytes>,
    pub root: Option<RawBytes>,
    pub state: String,
    pub nice: i64,
    pub threads: i64,
    pub utime_ticks: u64,
    pub stime_ticks: u64,
    pub rss_bytes: u64,
    /// Raw `/proc/PID/cgroup` lines: which container or systemd unit the process belongs to.
    pub cgroups: Vec<RawBytes>,
    pub namespaces: Vec<NamespaceRef>,
    pub env: Vec<EnvVar>,
    pub maps: Vec<Mapping>,
    pub fds: Vec<OpenFd>,
    /// What could not be read for this process (it exited, EACCES, ...), by sub-artifact.
    pub errors: Vec<String>,
}

impl ProcessRecord {
    /// Arguments as the kernel hands them out: the cmdline split on NUL, without the trailing empty one.
    pub fn argv(&self) -> Vec<&[u8]> {
        let bytes = self.cmdline.as_bytes();
        let trimmed = bytes.strip_suffix(b"\0").unwrap_or(bytes);
        if trimmed.is_empty() {
            return Vec::new();
        }
        trimmed.split(|b| *b == 0).collect()
    }

    pub fn netns(&self) -> Option<u64> {
        self.namespaces
            .iter()
            .find(|n| n.kind == "net")
            .map(|n| n.inode)
    }
}
