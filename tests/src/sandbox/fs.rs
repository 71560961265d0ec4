//! The live sandbox's filesystem, reached from the harness through `/proc/<init>/root`.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` against that root: a
//! symlink planted in the sandbox (`/var/run -> /run`, or a hostile `/etc/x -> /etc/shadow`) resolves inside
//! the sandbox, never on the real host. The last component is never followed. Paths are bytes, so scenario
//! names with newlines or invalid UTF-8 are planted exactly.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `FS_IMMUTABLE_FL` and `FS_APPEND_FL` from `linux/fs.h` (same values as in the schemas crate).
pub const FS_IMMUTABLE_FL: u32 = 0x10;
pub const FS_APPEND_FL: u32 = 0x20;
const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Splits `/a/b/c` into (`a/b`, `c`). The root itself has no name.
fn split(path: &[u8]) -> io::Result<(&[u8], &[u8])> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let rel = trimmed.strip_prefix(b"/").unwrap_or(trimmed);
    let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&rel[..0], rel),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {:?} has no file name", String::from_utf8_lossy(path)),
        ));
    }
    Ok((parent, name))
}

/// Metadata applied to a planted file or directory.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A handle on the sandbox's root directory.
#[derive(Debug)]
pub struct SandboxFs {
    root: OwnedFd,
}

impl SandboxFs {
    /// Opens the root of process `pid` (the sandbox init, whose root is the chroot).
    pub fn open(pid: i32) -> io::Result<SandboxFs> {
        let path = cstring(format!("/proc/{pid}/root").as_bytes())?;
        // SAFETY: valid path; the returned fd is owned below.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(SandboxFs {
            root: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Opens `path` (absolute inside the sandbox) with `flags`, resolving inside the sandbox.
    fn resolve(&self, path: &[u8], flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
        let rel = path.strip_prefix(b"/").unwrap_or(path);
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        let c = cstring(rel)?;
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: u64::from(mode),
            resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: openat2 with a valid dirfd, path and a correctly sized open_how.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.root.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
        // SAFETY: fd is a fresh descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn parent(&self, path: &[u8]) -> io::Result<(OwnedFd, CString)> {
        let (parent, name) = split(path)?;
        let dir = self.resolve(parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        Ok((dir, cstring(name)?))
    }

    /// Creates `path` and missing parents (parents as root:root 0755), then applies `meta` to `path`.
    pub fn mkdir_all(&self, path: &[u8], meta: Meta) -> io::Result<()> {
        let rel = path.strip_prefix(b"/").unwrap_or(path);
        let mut so_far = Vec::new();
        let parts: Vec<&[u8]> = rel
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        for (i, part) in parts.iter().enumerate() {
            so_far.push(b'/');
            so_far.extend_from_slice(part);
            let last = i + 1 == parts.len();
            let (dir, name) = self.parent(&so_far)?;
            // SAFETY: valid dirfd and name.
            let rc = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EEXIST) {
                    return Err(err);
                }
                if !last {
                    continue;
                }
            }
            if last {
                self.apply_meta(&so_far, meta)?;
            }
        }
        Ok(())
    }

    /// Sets owner then mode of an existing file or directory (not following a final symlink).
    pub fn apply_meta(&self, path: &[u8], meta: Meta) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        // SAFETY: valid dirfd and name.
        check(unsafe {
            libc::fchownat(
                dir.as_raw_fd(),
                name.as_ptr(),
                meta.uid,
                meta.gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        // SAFETY: valid dirfd and name.
        check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), meta.mode, 0) })
    }

    /// Writes a regular file (replacing one that is there, never following a final symlink).
    pub fn write_file(&self, path: &[u8], bytes: &[u8], meta: Meta) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        // SAFETY: valid dirfd and name; the fd is owned by the File below.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh fd we own.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(bytes)?;
        // SAFETY: valid fd.
        check(unsafe { libc::fchown(file.as_raw_fd(), meta.uid, meta.gid) })?;
        // SAFETY: valid fd.
        check(unsafe { libc::fchmod(file.as_raw_fd(), meta.mode) })
    }

    /// Appends to a file, creating it with `meta` when absent.
    pub fn append_file(&self, path: &[u8], bytes: &[u8], meta: Meta) -> io::Result<()> {
        let mut old = match self.read_file(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return self.write_file(path, bytes, meta);
            }
            Err(e) => return Err(e),
        };
        let st = self.lstat(path)?;
        old.extend_from_slice(bytes);
        self.write_file(
            path,
            &old,
            Meta {
                mode: st.st_mode & 0o7777,
                uid: st.st_uid,
                gid: st.st_gid,
            },
        )
    }

    pub fn read_file(&self, path: &[u8]) -> io::Result<Vec<u8>> {
        let fd = self.resolve(
            path,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0,
        )?;
        let mut file = File::from(fd);
        let mut out = Vec::new();
        file.read_to_end(&mut out)?;
        Ok(out)
    }

    pub fn symlink(&self, target: &[u8], path: &[u8]) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        let t = cstring(target)?;
        // SAFETY: valid strings and dirfd.
        check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
    }

    pub fn lstat(&self, path: &[u8]) -> io::Result<libc::stat> {
        let (dir, name) = self.parent(path)?;
        // SAFETY: zeroed stat is a valid out-parameter.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid dirfd, name and out-pointer.
        check(unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        Ok(st)
    }

    pub fn exists(&self, path: &[u8]) -> bool {
        self.lstat(path).is_ok()
    }

    pub fn unlink(&self, path: &[u8]) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        // SAFETY: valid dirfd and name.
        check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
    }

    pub fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        let (fdir, fname) = self.parent(from)?;
        let (tdir, tname) = self.parent(to)?;
        // SAFETY: valid dirfds and names.
        check(unsafe {
            libc::renameat(
                fdir.as_raw_fd(),
                fname.as_ptr(),
                tdir.as_raw_fd(),
                tname.as_ptr(),
            )
        })
    }

    /// Sets access and modification time (seconds since the epoch), not following a final symlink.
    pub fn set_mtime(&self, path: &[u8], secs: i64) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        let t = libc::timespec {
            tv_sec: secs,
            tv_nsec: 0,
        };
        let times = [t, t];
        // SAFETY: valid dirfd, name and two timespecs.
        check(unsafe {
            libc::utimensat(
                dir.as_raw_fd(),
                name.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }

    /// The names in directory `path` (without `.` and `..`), resolving inside the sandbox and never
    /// following a final symlink.
    pub fn read_dir(&self, path: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let fd = self.resolve(
            path,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
        // SAFETY: raw is a directory descriptor we own; fdopendir takes it over (closedir closes it).
        let dir = unsafe { libc::fdopendir(raw) };
        if dir.is_null() {
            let err = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so the descriptor is still ours to close.
            unsafe { libc::close(raw) };
            return Err(err);
        }
        let mut names = Vec::new();
        loop {
            // SAFETY: dir is a valid DIR*; readdir returns null at the end.
            let ent = unsafe { libc::readdir(dir) };
            if ent.is_null() {
                break;
            }
            // SAFETY: d_name is a NUL-terminated array inside the dirent readdir returned.
            let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        // SAFETY: dir came from fdopendir and is closed once.
        unsafe { libc::closedir(dir) };
        names.sort();
        Ok(names)
    }

    /// The target of symlink `path` (the link itself is not followed).
    pub fn read_link(&self, path: &[u8]) -> io::Result<Vec<u8>> {
        let (dir, name) = self.parent(path)?;
        let mut buf = vec![0u8; 4096];
        // SAFETY: valid dirfd, name and buffer of buf.len() bytes.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(buf)
    }

    /// `stat` following the final component, meant for `/proc/PID/exe` (a magic link that
    /// [`SandboxFs::lstat`] does not follow): the device and inode of the image a process runs.
    pub fn stat_follow(&self, path: &[u8]) -> io::Result<libc::stat> {
        let (dir, name) = self.parent(path)?;
        // SAFETY: zeroed stat is a valid out-parameter.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid dirfd, name and out-pointer.
        check(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, 0) })?;
        Ok(st)
    }

    fn open_for_flags(&self, path: &[u8]) -> io::Result<OwnedFd> {
        self.resolve(
            path,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0,
        )
    }

    /// Inode flags (`lsattr`), e.g. [`FS_IMMUTABLE_FL`].
    pub fn flags(&self, path: &[u8]) -> io::Result<u32> {
        let fd = self.open_for_flags(path)?;
        let mut flags: libc::c_int = 0;
        // SAFETY: FS_IOC_GETFLAGS writes an int.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) })?;
        Ok(flags as u32)
    }

    /// Adds inode flags (`chattr +i`, `+a`).
    pub fn add_flags(&self, path: &[u8], add: u32) -> io::Result<()> {
        let fd = self.open_for_flags(path)?;
        let mut flags: libc::c_int = 0;
        // SAFETY: FS_IOC_GETFLAGS writes an int.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) })?;
        flags |= add as libc::c_int;
        // SAFETY: FS_IOC_SETFLAGS reads an int.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_SETFLAGS, &flags) })
    }
}
