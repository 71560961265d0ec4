//! Directory listings that never follow a link: the pure listing the walks ([`super::walk`]) and the
//! package index ([`crate::package_index`]) share, with no knowledge of records or the bundle.
//!
//! A directory is opened with `O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK` (and `O_NOATIME` when permitted),
//! checked to be the inode that was `lstat`ed, and read with `readdir` only up to a per-directory cap, so
//! a directory of a million files costs the cap and no more.

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::IntoRawFd;
use std::path::Path;

use minetrace_schemas::records::file::FileKind;

use super::file_meta::{self, Stat};

/// A directory stream opened without following links.
struct DirStream {
    dir: *mut libc::DIR,
}

/// Opens `real` as a directory, refusing a link and checking it is still the inode `expect` named; with
/// its inode flags.
fn open_dir(real: &Path, expect: (u64, u64)) -> io::Result<(std::fs::File, Option<u32>)> {
    let file = crate::host_read::open_noatime(
        real,
        libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
    )?;
    let st = file_meta::fstat(&file)?;
    if st.id() != expect || st.kind != FileKind::Directory {
        return Err(io::Error::other(
            "directory was replaced while it was being opened",
        ));
    }
    let flags = file_meta::inode_flags(&file);
    Ok((file, flags))
}

/// The inode flags (`chattr` attributes) of a resolved directory, opened as [`list_open`] opens it but
/// never read: `None` when the file system has none to give.
pub fn dir_flags(real: &Path, stat: &Stat) -> io::Result<Option<u32>> {
    open_dir(real, stat.id()).map(|(_, flags)| flags)
}

impl DirStream {
    /// Opens `real` as a directory, refusing a link and checking it is still the inode `expect` named.
    fn open(real: &Path, expect: (u64, u64)) -> io::Result<(DirStream, Option<u32>)> {
        let (file, flags) = open_dir(real, expect)?;
        let fd = file.into_raw_fd();
        // SAFETY: `fd` is an open directory descriptor we own; fdopendir takes ownership on success.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let err = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so the descriptor is still ours to close.
            unsafe { libc::close(fd) };
            return Err(err);
        }
        Ok((DirStream { dir }, flags))
    }

    /// Reads up to `cap` names (without `.` and `..`); the flag tells whether more were left.
    fn names(&mut self, cap: usize) -> io::Result<(Vec<Vec<u8>>, bool)> {
        let mut out = Vec::new();
        loop {
            // SAFETY: errno is thread-local; readdir reports end-of-stream and errors only through it.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `self.dir` is a valid open DIR*.
            let ent = unsafe { libc::readdir(self.dir) };
            if ent.is_null() {
                let err = io::Error::last_os_error();
                return match err.raw_os_error() {
                    Some(0) | None => Ok((out, false)),
                    Some(_) => Err(err),
                };
            }
            // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
            let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if out.len() >= cap {
                return Ok((out, true));
            }
            out.push(name.to_vec());
        }
    }
}

impl Drop for DirStream {
    fn drop(&mut self) {
        // SAFETY: `self.dir` came from fdopendir and is closed exactly once.
        unsafe { libc::closedir(self.dir) };
    }
}

/// A listed directory, still open, so its entries are `lstat`ed through it ([`Listed::lstat`]).
pub struct Listed {
    /// Inode flags of the directory.
    pub flags: Option<u32>,
    /// Up to the cap, sorted.
    pub names: Vec<Vec<u8>>,
    /// Whether names were left past the cap.
    pub more: bool,
    stream: DirStream,
}

impl Listed {
    /// `lstat` of the entry `name` relative to the listed directory (see [`file_meta::lstat_at`]);
    /// `None` without `statx`.
    pub fn lstat(&self, name: &[u8]) -> io::Result<Option<Stat>> {
        // SAFETY: `self.stream.dir` is a valid open DIR* for as long as `self` lives.
        let fd = unsafe { libc::dirfd(self.stream.dir) };
        file_meta::lstat_at(fd, name)
    }

    /// `lstat` of the entry `name`: through the listed directory, or by its path under `real` (the
    /// directory's path as listed) where the kernel has no `statx`.
    pub fn stat(&self, real: &Path, name: &[u8]) -> io::Result<Stat> {
        self.lstat(name)
            .transpose()
            .unwrap_or_else(|| file_meta::lstat(&real.join(OsStr::from_bytes(name))))
    }

    /// Every listed entry, in name order, with its `lstat` ([`Listed::stat`]); entries that cannot be
    /// `lstat`ed (removed since the listing) are left out.
    pub fn stats<'a>(&'a self, real: &'a Path) -> impl Iterator<Item = (&'a [u8], Stat)> + 'a {
        self.names
            .iter()
            .filter_map(move |name| self.stat(real, name).ok().map(|st| (name.as_slice(), st)))
    }
}

/// Lists a resolved directory and keeps it open: its inode flags, up to `cap` sorted names, and whether
/// names were left.
pub fn list_open(real: &Path, stat: &Stat, cap: usize) -> io::Result<Listed> {
    let (mut stream, flags) = DirStream::open(real, stat.id())?;
    let (mut names, more) = stream.names(cap)?;
    names.sort();
    Ok(Listed {
        flags,
        names,
        more,
        stream,
    })
}

/// Lists a resolved directory: its inode flags, up to `cap` sorted names, and whether names were left.
pub fn list(real: &Path, stat: &Stat, cap: usize) -> io::Result<(Option<u32>, Vec<Vec<u8>>, bool)> {
    list_open(real, stat, cap).map(|l| (l.flags, l.names, l.more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_is_capped_without_reading_everything() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..50 {
            std::fs::write(dir.path().join(format!("f{i:02}")), b"").unwrap();
        }
        let st = file_meta::lstat(dir.path()).unwrap();
        let (_, names, more) = list(dir.path(), &st, 10).unwrap();
        assert_eq!((names.len(), more), (10, true));
        let (_, names, more) = list(dir.path(), &st, 50).unwrap();
        assert_eq!((names.len(), more), (50, false));
    }

    #[test]
    fn entries_are_statted_through_the_listed_directory_not_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("f"), b"hello").unwrap();
        std::os::unix::fs::symlink("f", a.join("l")).unwrap();
        let st = file_meta::lstat(&a).unwrap();
        let listed = list_open(&a, &st, 10).unwrap();
        assert_eq!(listed.names, vec![b"f".to_vec(), b"l".to_vec()]);
        let f = listed.lstat(b"f").unwrap().unwrap();
        let by_path = file_meta::lstat(&a.join("f")).unwrap();
        assert_eq!(
            (f.kind, f.size, f.id()),
            (FileKind::Regular, 5, by_path.id())
        );
        // The final link is not followed.
        assert_eq!(listed.lstat(b"l").unwrap().unwrap().kind, FileKind::Symlink);
        // The directory's path now leads elsewhere: the open listing still answers for the one listed.
        std::fs::rename(&a, dir.path().join("moved")).unwrap();
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("f"), b"other bytes").unwrap();
        assert_eq!(listed.lstat(b"f").unwrap().unwrap().id(), by_path.id());
        assert!(listed.lstat(b"missing").is_err());
    }

    #[test]
    fn a_link_is_not_listed_as_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let st = file_meta::lstat(dir.path()).unwrap();
        assert!(list(&link, &st, 10).is_err());
    }

    #[test]
    fn a_replaced_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        let st_a = file_meta::lstat(&dir.path().join("a")).unwrap();
        assert!(list(&dir.path().join("b"), &st_a, 10).is_err());
    }

    #[test]
    fn file_is_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"").unwrap();
        let st = file_meta::lstat(&f).unwrap();
        assert!(list(&f, &st, 10).is_err());
    }
}
