//! Reading files on a hostile host without being fooled or stuck.
//!
//! Every read of a host file goes through here: the file is `lstat`ed first and only a regular file is ever
//! opened (so no FIFO, socket or device is touched), it is opened with `O_NOFOLLOW | O_NONBLOCK | O_NOATIME`
//! (no link is followed, nothing blocks, access times stay as the attacker left them), the opened file is
//! checked to be the one that was `lstat`ed, the file system of the opened descriptor is checked not to be
//! one of the kernel's own ([`kernel_fs`]), and no read goes past its cap.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Content read from a host file, cut to a cap.
#[derive(Debug)]
pub struct Capped {
    pub bytes: Vec<u8>,
    /// True when the file held more than was read.
    pub truncated: bool,
}

/// Which end of a file to keep when it is larger than the cap: logs keep their newest lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Head,
    Tail,
}

/// Opens a regular file for reading, refusing links and special files. Returns the file and the
/// metadata of the opened descriptor.
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let before = std::fs::symlink_metadata(path)?;
    if !before.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", describe_type(&before)),
        ));
    }
    let file = open_noatime(
        path,
        libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
    )?;
    let meta = file.metadata()?;
    if meta.dev() != before.dev() || meta.ino() != before.ino() || !meta.file_type().is_file() {
        return Err(io::Error::other(
            "file was replaced while it was being opened",
        ));
    }
    // Judged on the descriptor, where no later swap of a name or a directory can follow: `/proc/kmsg`
    // and a trace pipe are regular files by their type, and a directory swapped for a link into `/proc`
    // between a caller's check and this open lands on one whatever the name said.
    if let Some(fs) = kernel_fs(&file) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("on a kernel file system ({fs}): not read"),
        ));
    }
    Ok((file, meta))
}

/// `f_type` values (`linux/magic.h`) of the kernel's own file systems, whose regular files are no host
/// files: reading one can consume data (`/proc/kmsg`, a trace pipe, an rpc pipe), block, or copy a
/// process's or the kernel's secrets (`/proc/PID/environ`, `/sys/kernel/debug`). `libc` constants where
/// `libc` has them; the rest from `linux/magic.h`. SELinux's and Smack's file systems are not among them:
/// the `selinux` family reads `/sys/fs/selinux/enforce` on purpose, and their reads consume nothing.
const KERNEL_FS: &[(u32, &str)] = &[
    (libc::PROC_SUPER_MAGIC as u32, "proc"),
    (libc::SYSFS_MAGIC as u32, "sysfs"),
    (libc::DEBUGFS_MAGIC as u32, "debugfs"),
    (libc::TRACEFS_MAGIC as u32, "tracefs"),
    (libc::SECURITYFS_MAGIC as u32, "securityfs"),
    (libc::BPF_FS_MAGIC as u32, "bpf"),
    (libc::CGROUP_SUPER_MAGIC as u32, "cgroup"),
    (libc::CGROUP2_SUPER_MAGIC as u32, "cgroup2"),
    (libc::DEVPTS_SUPER_MAGIC as u32, "devpts"),
    (libc::NSFS_MAGIC as u32, "nsfs"),
    (libc::RDTGROUP_SUPER_MAGIC as u32, "resctrl"),
    (libc::OPENPROM_SUPER_MAGIC as u32, "openprom"),
    (libc::USBDEVICE_SUPER_MAGIC as u32, "usbdevfs"),
    (libc::XENFS_SUPER_MAGIC as u32, "xenfs"),
    (0x6265_6570, "configfs"),
    (0x6165_676c, "pstore"),
    (0xde5e_81e4, "efivarfs"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x6573_5543, "fusectl"),
    (0x6759_6969, "rpc_pipefs"),
];

/// The kernel file system an open file lies on ([`KERNEL_FS`]), by `fstatfs` of its descriptor; `None` for
/// any other file system. A descriptor whose file system cannot be told counts as a kernel one (nothing
/// is read from what cannot be judged).
pub fn kernel_fs(file: &File) -> Option<&'static str> {
    let Ok(st) = rustix::fs::fstatfs(file) else {
        return Some("unknown: fstatfs failed");
    };
    // `f_type` is a long on most targets and an unsigned int on s390x; every magic fits in 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let magic = st.f_type as u32;
    KERNEL_FS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

/// Opens `path` read-only with `flags`, and `O_NOATIME` where the kernel permits it (it refuses it with
/// `EPERM` for files the caller does not own unless it has `CAP_FOWNER`), so reading leaves access times as
/// they were.
pub fn open_noatime(path: &Path, flags: libc::c_int) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags | libc::O_NOATIME)
        .open(path)
        .or_else(|e| {
            if e.raw_os_error() == Some(libc::EPERM) {
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(flags)
                    .open(path)
            } else {
                Err(e)
            }
        })
}

/// Reads at most `cap` bytes of a regular file, from its head or its tail.
pub fn read_capped(path: &Path, cap: u64, keep: Keep) -> io::Result<Capped> {
    let (file, meta) = open_regular(path)?;
    read_open_capped(file, meta.len(), cap, keep)
}

/// Like [`read_capped`] on an already opened file whose size the caller knows (0 for `/proc` files, which
/// do not report one).
pub fn read_open_capped(mut file: File, size: u64, cap: u64, keep: Keep) -> io::Result<Capped> {
    if keep == Keep::Tail && size > cap {
        file.seek(SeekFrom::Start(size - cap))?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(cap)).unwrap_or(0));
    (&mut file).take(cap).read_to_end(&mut bytes)?;
    // One more byte tells whether anything was left (a /proc file or a file that grew while read).
    let mut probe = [0u8; 1];
    let more = keep == Keep::Head && file.read(&mut probe).map(|n| n > 0).unwrap_or(false);
    Ok(Capped {
        truncated: size > cap || more,
        bytes,
    })
}

/// Reads a small `/proc` or `/sys` text file (they report size 0 and never block).
pub fn read_proc(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut bytes = Vec::new();
    (&mut file).take(cap).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn describe_type(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else {
        "unknown type"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_capped(&fifo, 10, Keep::Head).unwrap_err();
        assert!(err.to_string().contains("fifo"), "{err}");
    }

    #[test]
    fn symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = read_capped(&link, 10, Keep::Head).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    /// Review of train 2, item 10: `/proc/self/status` is a regular file by `lstat` and by the opened
    /// descriptor's own `fstat`; only the descriptor's file system tells it is the kernel's.
    #[test]
    fn a_regular_file_on_a_kernel_file_system_is_refused_by_its_descriptor() {
        let status = Path::new("/proc/self/status");
        assert!(std::fs::symlink_metadata(status).unwrap().is_file());
        let err = open_regular(status).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.to_string().contains("kernel file system (proc)"),
            "{err}"
        );
        assert!(read_capped(status, 64, Keep::Head).is_err());
        // An ordinary file passes, and its descriptor is on no kernel file system.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plain");
        std::fs::write(&f, b"x").unwrap();
        let (file, _) = open_regular(&f).unwrap();
        assert_eq!(kernel_fs(&file), None);
    }

    #[test]
    fn head_and_tail_caps() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("log");
        std::fs::write(&f, b"0123456789").unwrap();
        let head = read_capped(&f, 4, Keep::Head).unwrap();
        assert_eq!(
            (head.bytes.as_slice(), head.truncated),
            (&b"0123"[..], true)
        );
        let tail = read_capped(&f, 4, Keep::Tail).unwrap();
        assert_eq!(
            (tail.bytes.as_slice(), tail.truncated),
            (&b"6789"[..], true)
        );
        let all = read_capped(&f, 100, Keep::Head).unwrap();
        assert_eq!((all.bytes.len(), all.truncated), (10, false));
    }
}
