//! File metadata as the kernel reports it, turned into a [`FileRecord`]: `statx` (birth time included,
//! without following links), inode flags through `FS_IOC_GETFLAGS` (immutable, append-only), and digests.
//!
//! `statx` is called through the raw syscall with the kernel's own struct layout, so the musl build gets
//! birth times too (std only uses `statx` on glibc). Kernels without `statx` (before 4.11) fall back to
//! `lstat` without birth time.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use minetrace_schemas::records::file::{
    FileKind, FileRecord, FileTime, FS_APPEND_FL, FS_IMMUTABLE_FL,
};
use minetrace_schemas::RawBytes;
use sha2::{Digest, Sha256};

/// The kernel's `struct statx` (256 bytes), identical on every architecture.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawStatx {
    mask: u32,
    blksize: u32,
    attributes: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u16,
    _spare0: u16,
    ino: u64,
    size: u64,
    blocks: u64,
    attributes_mask: u64,
    atime: RawTimestamp,
    btime: RawTimestamp,
    ctime: RawTimestamp,
    mtime: RawTimestamp,
    rdev_major: u32,
    rdev_minor: u32,
    dev_major: u32,
    dev_minor: u32,
    _rest: [u64; 14],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawTimestamp {
    sec: i64,
    nsec: u32,
    _reserved: i32,
}

const STATX_BASIC_STATS: u32 = 0x07ff;
const STATX_BTIME: u32 = 0x0800;
const STATX_ATTR_IMMUTABLE: u64 = 0x10;
const STATX_ATTR_APPEND: u64 = 0x20;

/// What `statx` says about one inode.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub kind: FileKind,
    /// Full `st_mode`, type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub atime: FileTime,
    pub mtime: FileTime,
    pub ctime: FileTime,
    pub btime: Option<FileTime>,
    /// Immutable / append-only as `statx` attributes report them (when the filesystem supports them).
    pub attr_immutable: Option<bool>,
    pub attr_append: Option<bool>,
}

impl Stat {
    pub fn id(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }
}

fn kind_of_mode(mode: u32) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        libc::S_IFLNK => FileKind::Symlink,
        libc::S_IFIFO => FileKind::Fifo,
        libc::S_IFSOCK => FileKind::Socket,
        libc::S_IFCHR => FileKind::CharDevice,
        libc::S_IFBLK => FileKind::BlockDevice,
        _ => FileKind::Unknown,
    }
}

fn ts(t: RawTimestamp) -> FileTime {
    FileTime {
        secs: t.sec,
        nanos: t.nsec,
    }
}

fn from_raw(raw: &RawStatx) -> Stat {
    let mode = u32::from(raw.mode);
    let attr = |bit: u64| (raw.attributes_mask & bit != 0).then_some(raw.attributes & bit != 0);
    Stat {
        kind: kind_of_mode(mode),
        mode,
        uid: raw.uid,
        gid: raw.gid,
        size: raw.size,
        dev: libc::makedev(raw.dev_major, raw.dev_minor),
        ino: raw.ino,
        nlink: u64::from(raw.nlink),
        atime: ts(raw.atime),
        mtime: ts(raw.mtime),
        ctime: ts(raw.ctime),
        btime: (raw.mask & STATX_BTIME != 0).then(|| ts(raw.btime)),
        attr_immutable: attr(STATX_ATTR_IMMUTABLE),
        attr_append: attr(STATX_ATTR_APPEND),
    }
}

/// A [`Stat`] from what `std` returned (no birth time when `std` could not get one).
pub fn from_std(meta: &std::fs::Metadata) -> Stat {
    let t = |secs: i64, nsec: i64| FileTime {
        secs,
        nanos: u32::try_from(nsec).unwrap_or(0),
    };
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        FileKind::Regular
    } else if ft.is_dir() {
        FileKind::Directory
    } else if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_fifo() {
        FileKind::Fifo
    } else if ft.is_socket() {
        FileKind::Socket
    } else if ft.is_char_device() {
        FileKind::CharDevice
    } else if ft.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Unknown
    };
    Stat {
        kind,
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        size: meta.size(),
        dev: meta.dev(),
        ino: meta.ino(),
        nlink: meta.nlink(),
        atime: t(meta.atime(), meta.atime_nsec()),
        mtime: t(meta.mtime(), meta.mtime_nsec()),
        ctime: t(meta.ctime(), meta.ctime_nsec()),
        btime: None,
        attr_immutable: None,
        attr_append: None,
    }
}

fn raw_statx(dirfd: libc::c_int, path: &CString, flags: libc::c_int) -> io::Result<Option<Stat>> {
    // SAFETY: all-zero is a valid RawStatx (plain integers).
    let mut buf: RawStatx = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and outlives the call; `buf` is a writable 256-byte statx buffer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_statx,
            dirfd,
            path.as_ptr(),
            flags,
            STATX_BASIC_STATS | STATX_BTIME,
            &mut buf as *mut RawStatx,
        )
    };
    if rc == 0 {
        return Ok(Some(from_raw(&buf)));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOSYS) {
        Ok(None)
    } else {
        Err(err)
    }
}

/// `lstat` with birth time: never follows a final link.
pub fn lstat(path: &Path) -> io::Result<Stat> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    match raw_statx(
        libc::AT_FDCWD,
        &c,
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT,
    )? {
        Some(st) => Ok(st),
        None => std::fs::symlink_metadata(path).map(|m| from_std(&m)),
    }
}

/// `lstat` with birth time of `name` (one path component) in the open directory `dir`: no walk from the
/// root again, and the directory that was opened and checked even if its path changed since. `None`
/// when the kernel has no `statx` (the caller falls back to [`lstat`] by path).
pub fn lstat_at(dir: libc::c_int, name: &[u8]) -> io::Result<Option<Stat>> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name holds a NUL byte"))?;
    raw_statx(dir, &c, libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT)
}

/// `fstat` with birth time, on an open descriptor.
pub fn fstat(file: &File) -> io::Result<Stat> {
    let empty = CString::default();
    match raw_statx(file.as_raw_fd(), &empty, libc::AT_EMPTY_PATH)? {
        Some(st) => Ok(st),
        None => file.metadata().map(|m| from_std(&m)),
    }
}

/// Inode flags (`chattr` attributes) of an open regular file or directory.
pub fn inode_flags(file: &File) -> Option<u32> {
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes at most a `long` (the kernel writes an int) into `flags`.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    // The kernel stores a 32-bit int; on little-endian hosts it lands in the low half of the long.
    (rc == 0).then_some(flags as u32)
}

/// A record from metadata; content fields are left for the caller.
pub fn record(path: &[u8], category: &str, st: &Stat, flags: Option<u32>) -> FileRecord {
    let immutable = flags
        .map(|f| f & FS_IMMUTABLE_FL != 0)
        .or(st.attr_immutable)
        .unwrap_or(false);
    let append_only = flags
        .map(|f| f & FS_APPEND_FL != 0)
        .or(st.attr_append)
        .unwrap_or(false);
    FileRecord {
        path: RawBytes::new(path.to_vec()),
        category: category.to_owned(),
        kind: st.kind,
        link_target: None,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        size: st.size,
        dev: st.dev,
        ino: st.ino,
        nlink: st.nlink,
        mtime: st.mtime,
        atime: st.atime,
        ctime: st.ctime,
        btime: st.btime,
        flags,
        immutable,
        append_only,
        sha256: None,
        member: None,
        truncated: false,
        error: None,
    }
}

/// A record for something that could not even be `stat`ed: only the path and the reason.
pub fn error_record(path: &[u8], category: &str, error: String) -> FileRecord {
    FileRecord {
        path: RawBytes::new(path.to_vec()),
        category: category.to_owned(),
        kind: FileKind::Unknown,
        link_target: None,
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        dev: 0,
        ino: 0,
        nlink: 0,
        mtime: FileTime::default(),
        atime: FileTime::default(),
        ctime: FileTime::default(),
        btime: None,
        flags: None,
        immutable: false,
        append_only: false,
        sha256: None,
        member: None,
        truncated: false,
        error: Some(error),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True when the metadata that changes on a write differs between two stats of the same open file.
pub fn changed_between(before: &Stat, after: &Stat) -> bool {
    before.size != after.size || before.mtime != after.mtime || before.ctime != after.ctime
}

/// ELF magic.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// A script by its shebang or, lacking one, by a script file name.
pub fn is_script(name: &[u8], head: &[u8]) -> bool {
    if head.starts_with(b"#!") {
        return true;
    }
    const EXT: &[&[u8]] = &[
        b".sh", b".bash", b".py", b".pl", b".php", b".rb", b".js", b".lua", b".elf",
    ];
    EXT.iter().any(|e| name.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statx_layout_is_the_kernels() {
        assert_eq!(std::mem::size_of::<RawStatx>(), 256);
        assert_eq!(std::mem::offset_of!(RawStatx, atime), 64);
        assert_eq!(std::mem::offset_of!(RawStatx, dev_major), 136);
    }

    #[test]
    fn lstat_matches_std_and_does_not_follow() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("f", &link).unwrap();
        let st = lstat(&f).unwrap();
        let m = std::fs::symlink_metadata(&f).unwrap();
        assert_eq!(
            (st.kind, st.size, st.ino, st.dev),
            (FileKind::Regular, 5, m.ino(), m.dev())
        );
        assert_eq!(st.mtime.secs, m.mtime());
        assert_eq!(lstat(&link).unwrap().kind, FileKind::Symlink);
        let opened = File::open(&f).unwrap();
        assert_eq!(fstat(&opened).unwrap().ino, m.ino());
    }

    #[test]
    fn immutable_flag_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("locked");
        std::fs::write(&f, b"x").unwrap();
        let status = std::process::Command::new("chattr")
            .arg("+i")
            .arg(&f)
            .status()
            .expect("chattr must be installed (e2fsprogs) for this test");
        assert!(
            status.success(),
            "chattr +i failed: the test dir must be on ext4 or similar"
        );
        let file = File::open(&f).unwrap();
        let flags = inode_flags(&file).expect("FS_IOC_GETFLAGS");
        let st = fstat(&file).unwrap();
        let rec = record(b"/x", "test", &st, Some(flags));
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&f)
            .status();
        assert!(rec.immutable && !rec.append_only, "{rec:?}");
        assert_eq!(st.attr_immutable, Some(true));
    }

    #[test]
    fn sniffers() {
        assert!(is_elf(b"\x7fELF\x02"));
        assert!(!is_elf(b"#!/bin/sh"));
        assert!(is_script(b"x", b"#!/bin/sh\n"));
        assert!(is_script(b"run.sh", b"echo"));
        assert!(!is_script(b"notes.txt", b"hello"));
    }
}
