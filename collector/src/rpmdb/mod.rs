//! The host's rpm database, read directly and read-only (never through the host's `rpm`, which a
//! rootkit may have replaced and which would take the database lock): which packages are installed,
//! which files each lists, and the digest each recorded. The package index
//! ([`crate::package_index`]) is fed from here on rpm hosts exactly as it is fed from dpkg's lists on
//! Debian ones.
//!
//! Backends, tried in this order in `/var/lib/rpm` and `/usr/lib/sysimage/rpm`:
//! - [`sqlite`]: `rpmdb.sqlite` (+ `-wal`), rpm ≥ 4.16;
//! - [`bdb`]: Berkeley DB hash `Packages`, rpm < 4.16;
//! - [`ndb`]: `Packages.db`, rpm's own format (SUSE 15 SP3+).
//!
//! Every backend yields header blobs, decoded by [`header`].

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::files::host_root::{child, HostRoot};
use crate::host_read;
use header::RpmPackage;

/// Where rpm keeps its database (the second is the newer home; the first is often a link to it).
pub const DB_DIRS: &[&[u8]] = &[b"/var/lib/rpm", b"/usr/lib/sysimage/rpm"];
/// Packages decoded at most (a large server has ~2,000).
const MAX_PACKAGES: usize = 100_000;
/// Error messages kept per read (the count goes on).
const MAX_ERRORS: usize = 20;

/// Positioned reads of a database file, so that a 200 MB database is read page by page, not loaded.
pub trait ReadAt {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    fn size(&self) -> u64;
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// An opened host file and its size at open time.
pub struct HostFile {
    file: File,
    size: u64,
}

impl ReadAt for HostFile {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn size(&self) -> u64 {
        self.size
    }
}

/// The rpm database format found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    BerkeleyDb,
    Ndb,
}

impl Backend {
    pub fn file_name(self) -> &'static [u8] {
        match self {
            Backend::Sqlite => b"rpmdb.sqlite",
            Backend::BerkeleyDb => b"Packages",
            Backend::Ndb => b"Packages.db",
        }
    }
}

/// Where blobs go: each is decoded and handed on; decoding errors are counted and a few kept.
pub struct BlobSink<'a> {
    on_package: &'a mut dyn FnMut(RpmPackage),
    pub packages: usize,
    pub bad_blobs: usize,
    pub errors: Vec<String>,
}

impl<'a> BlobSink<'a> {
    pub fn new(on_package: &'a mut dyn FnMut(RpmPackage)) -> Self {
        BlobSink {
            on_package,
            packages: 0,
            bad_blobs: 0,
            errors: Vec::new(),
        }
    }

    /// Decodes one header blob; false once the package cap is reached.
    pub fn blob(&mut self, bytes: &[u8]) -> bool {
        match header::parse(bytes) {
            Ok(p) => {
                self.packages += 1;
                (self.on_package)(p);
            }
            Err(e) => {
                self.bad_blobs += 1;
                self.error(e.to_string());
            }
        }
        if self.packages >= MAX_PACKAGES {
            self.error(format!("stopped after {MAX_PACKAGES} packages"));
            return false;
        }
        true
    }

    pub fn error(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(message);
        }
    }
}

/// What reading the database did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    pub backend: Backend,
    /// The database file as the host names it.
    pub path: Vec<u8>,
    pub packages: usize,
    pub bad_blobs: usize,
    /// SQLite only: committed pages were read from the `-wal` log.
    pub used_log: bool,
    pub errors: Vec<String>,
}

/// The first rpm database file under `root`: its backend and host path (links resolved inside the root).
pub fn locate(root: &HostRoot) -> Option<(Backend, Vec<u8>)> {
    for dir in DB_DIRS {
        for backend in [Backend::Sqlite, Backend::BerkeleyDb, Backend::Ndb] {
            let Ok(r) = root.resolve(&child(dir, backend.file_name()), true) else {
                continue;
            };
            if root
                .lstat(&r.path)
                .is_ok_and(|st| st.kind == minetrace_schemas::records::file::FileKind::Regular)
            {
                return Some((backend, r.path));
            }
        }
    }
    None
}

fn open(root: &HostRoot, path: &[u8]) -> io::Result<HostFile> {
    let (file, meta) = host_read::open_regular(&root.real(path))?;
    Ok(HostFile {
        file,
        size: meta.len(),
    })
}

/// Reads the database at `path` (found by [`locate`]), handing every package to `on_package`. An error
/// is returned when the database cannot be read at all; partial damage is in the report's `errors`.
pub fn read(
    root: &HostRoot,
    backend: Backend,
    path: &[u8],
    on_package: &mut dyn FnMut(RpmPackage),
) -> Result<ReadReport, String> {
    let mut sink = BlobSink::new(on_package);
    let file = open(root, path).map_err(|e| format!("open: {e}"))?;
    let mut used_log = false;
    match backend {
        Backend::Sqlite => {
            let mut wal_path = path.to_vec();
            wal_path.extend_from_slice(b"-wal");
            let wal = match open(root, &wal_path) {
                Ok(w) => Some(w),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    sink.error(format!("{}: {e}", String::from_utf8_lossy(&wal_path)));
                    None
                }
            };
            used_log = sqlite::read(&file, wal.as_ref(), &mut sink)?;
        }
        Backend::BerkeleyDb => bdb::read(&file, &mut sink)?,
        Backend::Ndb => ndb::read(&file, &mut sink)?,
    }
    Ok(ReadReport {
        backend,
        path: path.to_vec(),
        packages: sink.packages,
        bad_blobs: sink.bad_blobs,
        used_log,
        errors: sink.errors,
    })
}

#[cfg(test)]
mod tests;
