//! Reads inside one `/proc` or `/proc/PID` directory through a directory file descriptor.
//!
//! Once `/proc/PID` is open, every `openat`/`readlinkat`/`fstatat` relative to it reaches the same process
//! even if the pid is reused meanwhile: the kernel ties the directory to the task, and a task that exited
//! answers `ESRCH`/`ENOENT` instead of handing out a newer process's data. That is what makes one visit
//! one process. Reads are bounded; only links are stat'ed, and the only thing opened through a magic link
//! is an executable image, checked to be a regular file.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

/// Bytes read from a `/proc` file, cut to a cap.
#[derive(Debug, Default)]
pub struct ProcBytes {
    pub bytes: Vec<u8>,
    pub truncated: bool,
}

/// An open `/proc` (or `/proc/PID`, or `/proc/PID/fd`) directory.
#[derive(Debug)]
pub struct ProcDir {
    fd: OwnedFd,
    /// Check each entry's type before opening it: set for a pid with a mount somewhere under
    /// `/proc/PID`, where an attacker could have laid a FIFO or a device over a pseudo-file.
    checked: bool,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

impl ProcDir {
    /// Opens a directory by absolute path (`/proc`).
    pub fn open_path(path: &str) -> io::Result<ProcDir> {
        let fd = rustix::fs::open(path, DIR_FLAGS, Mode::empty())?;
        Ok(ProcDir { fd, checked: false })
    }

    /// The same open directory on a second descriptor, for another thread.
    pub fn try_clone(&self) -> io::Result<ProcDir> {
        Ok(ProcDir {
            fd: self.fd.try_clone()?,
            checked: self.checked,
        })
    }

    /// Opens a subdirectory (`1234`, `fd`, `task`) without following links.
    pub fn open_dir(&self, name: &str) -> io::Result<ProcDir> {
        let fd = rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty())?;
        Ok(ProcDir {
            fd,
            checked: self.checked,
        })
    }

    /// The same directory, with every entry's type checked before it is opened (see `checked`).
    pub fn checked(mut self, checked: bool) -> ProcDir {
        self.checked = checked;
        self
    }

    /// Opens an entry for reading; in a checked directory only after `lstat` says it is a regular
    /// file, and only if the opened file is the one that was checked.
    fn open_entry(&self, name: &str) -> io::Result<OwnedFd> {
        let before = if self.checked {
            let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                return Err(not_regular());
            }
            Some(st)
        } else {
            None
        };
        let fd = rustix::fs::openat(&self.fd, name, READ_FLAGS, Mode::empty())?;
        if let Some(before) = before {
            let after = rustix::fs::fstat(&fd)?;
            if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino) {
                return Err(io::Error::other("replaced while it was being opened"));
            }
        }
        Ok(fd)
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads a pseudo-file (`stat`, `cmdline`, `maps`, ...) up to `cap` bytes. These files report size 0
    /// and never block; the open refuses links so a mount or symlink trick cannot send the read elsewhere.
    pub fn read(&self, name: &str, cap: usize) -> io::Result<ProcBytes> {
        let fd = self.open_entry(name)?;
        read_bounded(File::from(fd), cap)
    }

    /// Opens a pseudo-file for streaming reads (tables that can be large, such as `net/tcp`).
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let fd = self.open_entry(name)?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(not_regular());
        }
        Ok(file)
    }

    /// The text of a link (`exe`, `cwd`, `fd/3`, `ns/net`), exactly as the kernel shows it.
    pub fn readlink(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut link = rustix::fs::readlinkat(&self.fd, name, Vec::new())?.into_bytes();
        link.shrink_to_fit();
        Ok(link)
    }

    /// `stat` of what a magic link points at (works for deleted files and never opens anything).
    pub fn stat_target(&self, name: &str) -> io::Result<Stat> {
        Ok(rustix::fs::statat(&self.fd, name, AtFlags::empty())?)
    }

    /// `lstat` of an entry (does not follow links); answers whether `/proc/N` exists at all.
    pub fn stat_entry(&self, name: &str) -> io::Result<Stat> {
        Ok(rustix::fs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Opens the file behind a magic link (`exe`) for reading, refusing anything but a regular file.
    /// `O_NOATIME` keeps the access time as it was; it needs `CAP_FOWNER`, so it is retried without.
    pub fn open_image(&self, name: &str) -> io::Result<File> {
        // The link is followed on purpose: it is the kernel's own reference to the running image.
        // Its target is checked before the open: a mount over the link could put a device there.
        let before = rustix::fs::statat(&self.fd, name, AtFlags::empty())?;
        if FileType::from_raw_mode(before.st_mode) != FileType::RegularFile {
            return Err(not_regular());
        }
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags | OFlags::NOATIME, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::PERM) => {
                rustix::fs::openat(&self.fd, name, flags, Mode::empty())?
            }
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
            || (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino)
        {
            return Err(not_regular());
        }
        Ok(File::from(fd))
    }

    /// Names in the directory, without `.` and `..`, in kernel order.
    pub fn entries(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.for_each_entry(|name| {
            out.push(name.to_vec());
            true
        })?;
        Ok(out)
    }

    /// Calls `f` with each name (without `.` and `..`) until it returns false. The directory stays
    /// usable (the listing reads through a second descriptor).
    pub fn for_each_entry(&self, f: impl FnMut(&[u8]) -> bool) -> io::Result<()> {
        walk_dir(Dir::read_from(&self.fd)?, f)
    }

    /// Like [`ProcDir::for_each_entry`], consuming the directory: saves the `fcntl` + `openat(".")` +
    /// `close` of a second descriptor, which adds up over 10,000 processes.
    pub fn into_each_entry(self, f: impl FnMut(&[u8]) -> bool) -> io::Result<()> {
        walk_dir(Dir::new(self.fd)?, f)
    }
}

fn walk_dir(mut dir: Dir, mut f: impl FnMut(&[u8]) -> bool) -> io::Result<()> {
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name: &CStr = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        if !f(bytes) {
            break;
        }
    }
    Ok(())
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// Reads a kernel table (`/proc/net/...`) of at most `cap` bytes; a failure goes on `errors` with the path,
/// for the artifact's collection log, and gives `None`.
pub fn read_table(path: &str, cap: usize, errors: &mut Vec<(String, String)>) -> Option<Vec<u8>> {
    match File::open(path).and_then(|f| read_bounded(f, cap)) {
        Ok(c) => Some(c.bytes),
        Err(e) => {
            errors.push((path.to_owned(), e.to_string()));
            None
        }
    }
}

/// Reads at most `cap` bytes, and says whether more was there.
pub fn read_bounded(mut file: File, cap: usize) -> io::Result<ProcBytes> {
    // Room for a whole small /proc file in the first read, so most take two reads (data, EOF).
    let mut bytes = Vec::with_capacity(cap.min(4096));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX);
    (&mut file).take(limit).read_to_end(&mut bytes)?;
    let mut probe = [0u8; 1];
    let truncated = bytes.len() >= cap && file.read(&mut probe).map(|n| n > 0).unwrap_or(false);
    // read_to_end over-allocates; records keep these buffers, 10,000 processes at a time.
    bytes.shrink_to_fit();
    Ok(ProcBytes { bytes, truncated })
}

/// Parses a plain decimal directory name (`/proc/1234`, `/proc/PID/fd/3`); no sign, no padding tricks
/// beyond what the kernel prints.
pub fn parse_number(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse::<i32>().ok()
}

/// Parses a `/proc` entry name as a pid (positive).
pub fn parse_pid(name: &[u8]) -> Option<i32> {
    parse_number(name).filter(|p| *p > 0)
}

/// True for the errors that mean "the process is gone" rather than "the host refused".
pub fn is_gone(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ESRCH) | Some(libc::ENOENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pid_accepts_only_plain_positive_numbers() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(4_194_304));
        for bad in [
            &b""[..],
            b"0",
            b"-1",
            b"self",
            b"12a",
            b"99999999999",
            b"+5",
        ] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_own_stat_and_links() {
        let proc = ProcDir::open_path("/proc").unwrap();
        let me = proc.open_dir(&std::process::id().to_string()).unwrap();
        let stat = me.read("stat", 4096).unwrap();
        assert!(stat
            .bytes
            .starts_with(std::process::id().to_string().as_bytes()));
        assert!(!stat.truncated);
        let exe = me.readlink("exe").unwrap();
        assert_eq!(
            exe,
            std::fs::read_link("/proc/self/exe")
                .unwrap()
                .as_os_str()
                .as_encoded_bytes()
        );
        let capped = me.read("status", 8).unwrap();
        assert_eq!(capped.bytes.len(), 8);
        assert!(capped.truncated);
        assert!(me.open_image("exe").is_ok());
    }

    #[test]
    fn checked_directory_refuses_a_fifo_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("cmdline");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        std::fs::write(dir.path().join("stat"), b"1 (x) S").unwrap();
        let d = ProcDir::open_path(dir.path().to_str().unwrap())
            .unwrap()
            .checked(true);
        // No writer exists: a blocking open would hang here; the check refuses before any open.
        let err = d.read("cmdline", 100).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(d.read("stat", 100).unwrap().bytes, b"1 (x) S");
    }

    #[test]
    fn open_image_refuses_non_regular() {
        let proc = ProcDir::open_path("/proc").unwrap();
        let me = proc.open_dir(&std::process::id().to_string()).unwrap();
        // `cwd` is a directory: refused rather than read.
        assert!(me.open_image("cwd").is_err());
    }
}
