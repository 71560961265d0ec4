//! One collection run: the bundle being written, the records gathered so far and the per-artifact log.
//!
//! Artifact modules receive a `&mut Collection` and an [`ArtifactLog`] to fill. Only a failure to write
//! the bundle itself is fatal (it is returned as an error); anything the host refuses to give is recorded
//! in the log and the run goes on.

use std::io::Write;
use std::time::Instant;

use minetrace_schemas::bundle::{BundleWriter, WriteError};
use minetrace_schemas::manifest::{ArtifactError, ArtifactLog, MemberEntry};
use minetrace_schemas::records::command::CommandRecord;
use minetrace_schemas::records::file::FileRecord;

use crate::options::Options;
use crate::package_index::PackageDb;

pub struct Collection<W: Write> {
    writer: BundleWriter<W>,
    pub options: Options,
    pub logs: Vec<ArtifactLog>,
    /// File records from every artifact, written as one `records/files.pc` member at the end.
    pub files: Vec<FileRecord>,
    pub commands: Vec<CommandRecord>,
    /// What was deliberately left out, for the manifest.
    pub exclusions: Vec<String>,
    /// The host's package index, built once (live pass, or the file pass in dead-box mode).
    pub package_db: PackageDb,
    /// What the live pass hands the file families: where copy candidates keep their configuration, and
    /// which running executables it copied.
    pub live_handoff: LiveHandoff,
    /// When the run started, for `-v`'s "at N ms" (gaps between artifacts show there).
    started: Instant,
}

/// What the live pass found that the file families build on.
#[derive(Debug, Default)]
pub struct LiveHandoff {
    /// Directories of copy-candidate executables and their processes' working directories.
    pub config_dirs: Vec<Vec<u8>>,
    /// Executables stored under `bin/`: (dev, inode) → (member, sha256).
    pub copies: Vec<((u64, u64), String, String)>,
    /// Bytes those copies took from the run's copy budget.
    pub copied_bytes: u64,
    /// Every executable it read whole, with its digest: a file family meeting one takes that digest
    /// instead of reading it again ([`crate::files::spend::ReadBefore`]).
    pub images: Vec<crate::files::spend::ReadBefore>,
    /// Paths of the running executables that still have a file (not deleted, not memfd), sorted and
    /// distinct, for the package check: the `/proc` pass already read them, so nothing reads them again.
    pub running_exes: Vec<Vec<u8>>,
    /// Absolute paths of the libraries running processes preload (`LD_PRELOAD` in their environments),
    /// distinct, at most [`crate::live::MAX_ENV_PRELOADS`], for the package check: a packaged allocator
    /// preloaded into one service is vouched for as it is in `/etc/ld.so.preload`.
    pub env_preloads: Vec<Vec<u8>>,
}

impl<W: Write> Collection<W> {
    pub fn new(writer: BundleWriter<W>, options: Options) -> Self {
        Collection {
            writer,
            options,
            logs: Vec::new(),
            files: Vec::new(),
            commands: Vec::new(),
            exclusions: Vec::new(),
            package_db: PackageDb::NotBuilt,
            live_handoff: LiveHandoff::default(),
            started: Instant::now(),
        }
    }

    /// Runs one artifact family, timing it and keeping its log even when it fails part-way.
    pub fn artifact<T>(
        &mut self,
        name: &str,
        run: impl FnOnce(&mut Self, &mut ArtifactLog) -> Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        let started = Instant::now();
        let cpu_before = self.options.verbose.then(cpu_ms);
        let mut log = ArtifactLog {
            name: name.to_owned(),
            ..ArtifactLog::default()
        };
        let result = run(self, &mut log);
        log.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Some((own, children)) = cpu_before {
            // CPU time next to wall time: on a loaded host the wall time says little about the cost.
            let (own_after, children_after) = cpu_ms();
            eprintln!(
                "minetrace-collect: {name}: {} items, {} errors, {} ms, CPU {} ms (+{} ms in host tools), ended at {} ms",
                log.items,
                log.errors.len(),
                log.duration_ms,
                own_after.saturating_sub(own),
                children_after.saturating_sub(children),
                self.started.elapsed().as_millis()
            );
        }
        self.logs.push(log);
        result
    }

    pub fn add_member(&mut self, name: &str, data: &[u8]) -> Result<MemberEntry, WriteError> {
        self.writer.add(name, data)
    }

    pub fn has_member(&self, name: &str) -> bool {
        self.writer.contains(name)
    }

    /// Builds the package index under `root` once per run, as its own artifact (`package-index`),
    /// noting in the manifest when the host has no readable package database.
    pub fn ensure_package_index(
        &mut self,
        root: &crate::files::host_root::HostRoot,
    ) -> Result<(), WriteError> {
        if !matches!(self.package_db, PackageDb::NotBuilt) {
            return Ok(());
        }
        let root = root.clone();
        self.adopt_package_index(move || {
            let mut errors = Vec::new();
            let db = crate::package_index::build(&root, &mut errors);
            (db, errors)
        })
    }

    /// Takes the package index `build` gives (built here, or on a thread started earlier and joined by
    /// `build`), as the `package-index` artifact.
    pub fn adopt_package_index(
        &mut self,
        build: impl FnOnce() -> (PackageDb, Vec<(String, String)>),
    ) -> Result<(), WriteError> {
        if !matches!(self.package_db, PackageDb::NotBuilt) {
            return Ok(());
        }
        self.artifact("package-index", |col, log| {
            let (db, errors) = build();
            col.package_db = db;
            for (target, message) in errors {
                note_error(log, target, message);
            }
            match &col.package_db {
                PackageDb::Dpkg(index) | PackageDb::Rpm(index) => {
                    log.items = index.stats.paths as u64
                }
                PackageDb::Missing { rpm } => {
                    let note = crate::package_index::missing_note(*rpm);
                    col.exclusions.push(note);
                }
                PackageDb::NotBuilt => {}
            }
            Ok(())
        })
    }

    pub fn into_writer(self) -> (BundleWriter<W>, Vec<ArtifactLog>, Vec<String>) {
        (self.writer, self.logs, self.exclusions)
    }
}

/// CPU time (user + system, ms) used so far by the collector's threads and by its waited-for children.
pub fn cpu_ms() -> (u64, u64) {
    fn of(who: libc::c_int) -> u64 {
        // SAFETY: getrusage only writes the struct it is given, which is plain data.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut usage) } != 0 {
            return 0;
        }
        let ms = |t: libc::timeval| {
            u64::try_from(t.tv_sec).unwrap_or(0) * 1000
                + u64::try_from(t.tv_usec).unwrap_or(0) / 1000
        };
        ms(usage.ru_utime) + ms(usage.ru_stime)
    }
    (of(libc::RUSAGE_SELF), of(libc::RUSAGE_CHILDREN))
}

/// Caps how many errors one artifact keeps, so a host with a million unreadable files cannot bloat the
/// manifest; the count of dropped ones is kept in the last entry.
pub const MAX_ERRORS_PER_ARTIFACT: usize = 2_000;

/// Records that `target` could not be read, and why.
pub fn note_error(
    log: &mut ArtifactLog,
    target: impl Into<String>,
    message: impl std::fmt::Display,
) {
    if log.errors.len() < MAX_ERRORS_PER_ARTIFACT {
        log.errors.push(ArtifactError {
            target: target.into(),
            message: message.to_string(),
        });
    } else if log.errors.len() == MAX_ERRORS_PER_ARTIFACT {
        log.errors.push(ArtifactError {
            target: "(more)".into(),
            message: "further errors of this artifact were not recorded".into(),
        });
    }
}
