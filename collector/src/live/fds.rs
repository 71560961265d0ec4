//! `/proc/PID/fd`: what a process holds open — files (deleted ones included), sockets by inode (joined
//! with the socket tables later), pipes and anonymous inodes.
//!
//! Only the links are read; nothing is ever opened through them, so an fd on a FIFO, a device or a socket
//! cannot block or disturb anything. A target shown with ` (deleted)` is checked by link count.

use std::io;

use minetrace_schemas::records::process::{FdTarget, OpenFd};
use minetrace_schemas::RawBytes;

use super::proc_dir::{parse_number, ProcDir};

/// File descriptors recorded per process at most (a busy proxy has tens of thousands of sockets).
pub const MAX_FDS: usize = 65_536;

const DELETED_SUFFIX: &[u8] = b" (deleted)";

/// Parses the number inside `socket:[123]`-style link text.
fn bracketed(text: &[u8], prefix: &[u8]) -> Option<u64> {
    let inner = text
        .strip_prefix(prefix)?
        .strip_prefix(b"[")?
        .strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// Classifies link text. `deleted` tells whether a ` (deleted)` file target really has no links left.
pub fn classify(link: Vec<u8>, deleted: impl FnOnce() -> bool) -> FdTarget {
    if let Some(inode) = bracketed(&link, b"socket:") {
        return FdTarget::Socket { inode };
    }
    if let Some(inode) = bracketed(&link, b"pipe:") {
        return FdTarget::Pipe { inode };
    }
    if let Some(name) = link.strip_prefix(b"anon_inode:") {
        return FdTarget::AnonInode {
            name: RawBytes::new(name),
        };
    }
    if link.starts_with(b"/") {
        if link.ends_with(DELETED_SUFFIX) && deleted() {
            let mut path = link;
            path.truncate(path.len() - DELETED_SUFFIX.len());
            return FdTarget::File {
                path: RawBytes::new(path),
                deleted: true,
            };
        }
        return FdTarget::File {
            path: RawBytes::new(link),
            deleted: false,
        };
    }
    FdTarget::Other {
        target: RawBytes::new(link),
    }
}

/// Per-fd problems worth telling the analyst about (other than the process exiting).
pub struct FdScan {
    pub fds: Vec<OpenFd>,
    pub truncated: bool,
    pub unreadable: usize,
}

/// Reads every fd link of the process behind `dir`.
pub fn collect(dir: &ProcDir) -> io::Result<FdScan> {
    let mut scan = FdScan {
        fds: Vec::new(),
        truncated: false,
        unreadable: 0,
    };
    let mut names = Vec::new();
    dir.open_dir("fd")?.into_each_entry(|name| {
        if let Some(fd) = parse_number(name) {
            if names.len() >= MAX_FDS {
                scan.truncated = true;
                return false;
            }
            names.push(fd);
        }
        true
    })?;
    names.sort_unstable();
    for fd in names {
        let name = format!("fd/{fd}");
        match dir.readlink(&name) {
            Ok(link) => {
                let target = classify(link, || {
                    // stat of the magic link reaches the open file itself, never opening it.
                    dir.stat_target(&name)
                        .map(|st| st.st_nlink == 0)
                        .unwrap_or(true)
                });
                scan.fds.push(OpenFd { fd, target });
            }
            // Closed between the listing and the read: nothing to record.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(_) => scan.unreadable += 1,
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_kernel_link_forms() {
        let never = || panic!("not a deleted file");
        assert_eq!(
            classify(b"socket:[12345]".to_vec(), never),
            FdTarget::Socket { inode: 12345 }
        );
        assert_eq!(
            classify(b"pipe:[7]".to_vec(), never),
            FdTarget::Pipe { inode: 7 }
        );
        assert_eq!(
            classify(b"anon_inode:[eventfd]".to_vec(), never),
            FdTarget::AnonInode {
                name: RawBytes::from("[eventfd]")
            }
        );
        assert_eq!(
            classify(b"net:[4026531840]".to_vec(), never),
            FdTarget::Other {
                target: RawBytes::from("net:[4026531840]")
            }
        );
        assert_eq!(
            classify(b"/tmp/x (deleted)".to_vec(), || true),
            FdTarget::File {
                path: RawBytes::from("/tmp/x"),
                deleted: true
            }
        );
        // A live file whose name ends in " (deleted)" keeps its name and is not deleted.
        assert_eq!(
            classify(b"/tmp/x (deleted)".to_vec(), || false),
            FdTarget::File {
                path: RawBytes::from("/tmp/x (deleted)"),
                deleted: false
            }
        );
        assert!(matches!(
            classify(b"socket:[oops]".to_vec(), never),
            FdTarget::Other { .. }
        ));
    }

    #[test]
    fn sees_own_open_deleted_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone\nname");
        let _held = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let proc = ProcDir::open_path("/proc").unwrap();
        let me = proc.open_dir(&std::process::id().to_string()).unwrap();
        let scan = collect(&me).unwrap();
        let want = path.as_os_str().as_encoded_bytes();
        assert!(
            scan.fds.iter().any(|f| f.target
                == FdTarget::File {
                    path: RawBytes::new(want),
                    deleted: true
                }),
            "{:?}",
            scan.fds
        );
    }
}
