//! Running executables: hashed once per distinct file `(dev, inode)` through `/proc/PID/exe`, and copied
//! whole into `bin/<sha256>` when the analyst could not get them later.
//!
//! During the process pass each new executable is opened through the kernel's own link while its process
//! is pinned (this works when the file was deleted or lives only in a memfd) and the descriptor is held;
//! this module then hashes and copies from those descriptors, so its time and errors are its own.
//! Copy candidates: deleted, memfd-backed, under `/tmp`, `/var/tmp`, `/dev/shm`, `/run`, in a hidden
//! directory, in a home directory, or not owned by a package (the path is the running file in the
//! collector's view, and the run's [`PackageIndex`] lists none of its spellings). Deleted and memfd
//! images are copied first, then those in temp places or near the top of a hidden directory, then the
//! rest (homes, deep hidden trees, merely unowned: at most [`crate::files::spend::LOW_TIER_FILE_CAP`] each,
//! and never into the last [`AT_REST_RESERVE`] of the budget, which files at rest need); smaller first
//! within each tier, so the budget goes to what is gone from disk. Skipped copies say why.
//!
//! For every candidate, the directories its processes read configuration from are handed on to the
//! `exe-dirs` file family: the executable's own directory and each process's working directory (unless
//! it is `/` or a system directory), each only when the path names the same directory in the process's
//! own mount namespace (`/proc/PID/root/DIR`) as in the collector's, so a container's `/app` is never
//! mistaken for the host's.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;

use minetrace_schemas::bundle::{members, WriteError};
use minetrace_schemas::manifest::ArtifactLog;
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord, ImageTimes};
use minetrace_schemas::records::process::{ExeLink, FileId};
use minetrace_schemas::{escape_bytes, RawBytes};
use sha2::{Digest, Sha256};

use super::proc_dir::ProcDir;
use crate::collection::{note_error, Collection};
use crate::files::file_meta::{self, Stat};
use crate::files::spend::ReadBefore;
use crate::files::temp_places::{is_odd_place, HOME_DIRS, TEMP_DIRS};
use crate::package_index::PackageIndex;

/// Bytes hashed per executable at most; a larger "executable" is recorded without a hash.
pub const MAX_HASH_BYTES: u64 = 4 << 30;
/// Read size for hashing.
const CHUNK: usize = 1 << 20;
/// Executable descriptors held open at most; beyond this the file is reopened by pid at hashing time.
const MAX_HELD: usize = 512;

/// The copy reason of an executable no package lists.
pub const NOT_OWNED: &str = "not owned by a package";
/// Working directories whose files are not scanned as a process's configuration.
const SYSTEM_DIRS: &[&[u8]] = &[
    b"/",
    b"/bin",
    b"/boot",
    b"/dev",
    b"/lib",
    b"/lib64",
    b"/sbin",
    b"/usr",
    b"/usr/bin",
    b"/usr/lib",
    b"/usr/lib64",
    b"/usr/libexec",
    b"/usr/sbin",
    b"/var",
    b"/var/lib",
];
/// Working directories remembered per executable.
const MAX_CWDS: usize = 8;

/// Caps on copying executables into the bundle.
#[derive(Debug, Clone, Copy)]
pub struct CopyLimits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

#[derive(Debug)]
enum Image {
    Open(File),
    /// Not held (descriptor budget); reopened through one of the entry's pids.
    Later,
    Failed(String),
}

#[derive(Debug)]
struct Entry {
    file: FileId,
    path: Vec<u8>,
    size: u64,
    deleted: bool,
    memfd: bool,
    pids: Vec<i32>,
    image: Image,
    /// Distinct working directories of its processes, with one pid each.
    cwds: Vec<(i32, Vec<u8>)>,
}

/// Distinct executables seen in the process pass, with a handle on each.
#[derive(Debug, Default)]
pub struct ExecutableTable {
    entries: Vec<Entry>,
    index: HashMap<FileId, usize>,
    held: usize,
}

/// True when `path` is `dir` or inside it.
fn under(path: &[u8], dir: &[u8]) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
}

/// Why an executable at `path` must be copied; empty when it need not be.
pub fn copy_reasons(path: &[u8], deleted: bool, memfd: bool) -> Vec<String> {
    let mut reasons = Vec::new();
    if memfd {
        reasons.push("memfd".to_owned());
    } else if deleted {
        reasons.push("deleted".to_owned());
    }
    if TEMP_DIRS.iter().any(|d| under(path, d)) {
        reasons.push("temp dir".to_owned());
    }
    if HOME_DIRS.iter().any(|d| under(path, d)) {
        reasons.push("home dir".to_owned());
    }
    if !memfd {
        let components: Vec<&[u8]> = path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        if let Some((name, dirs)) = components.split_last() {
            if dirs.iter().any(|c| c.starts_with(b".")) {
                reasons.push("hidden dir".to_owned());
            }
            if name.starts_with(b".") {
                reasons.push("hidden name".to_owned());
            }
        }
    }
    reasons
}

impl ExecutableTable {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Notes that `pid` runs `exe`; the first time a file is seen it is opened through `dir/exe`.
    pub fn observe(&mut self, dir: &ProcDir, pid: i32, exe: &ExeLink, size: u64) {
        let Some(file) = exe.file else {
            return;
        };
        if let Some(entry) = self.index.get(&file).and_then(|i| self.entries.get_mut(*i)) {
            entry.pids.push(pid);
            return;
        }
        let image = if self.held >= MAX_HELD {
            Image::Later
        } else {
            match open_checked(dir, file) {
                Ok(f) => {
                    self.held += 1;
                    Image::Open(f)
                }
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => Image::Later,
                Err(e) => Image::Failed(e.to_string()),
            }
        };
        self.index.insert(file, self.entries.len());
        self.entries.push(Entry {
            file,
            path: exe.path.as_bytes().to_vec(),
            size,
            deleted: exe.deleted,
            memfd: exe.memfd,
            pids: vec![pid],
            image,
            cwds: Vec::new(),
        });
    }

    /// Notes the working directory of `pid`, which runs `file`.
    pub fn note_cwd(&mut self, file: FileId, pid: i32, cwd: &[u8]) {
        if let Some(entry) = self.index.get(&file).and_then(|i| self.entries.get_mut(*i)) {
            if entry.cwds.len() < MAX_CWDS && !entry.cwds.iter().any(|(_, c)| c == cwd) {
                entry.cwds.push((pid, cwd.to_vec()));
            }
        }
    }

    /// Hashes every executable, copies the candidates into the bundle and returns the records (in the
    /// order the executables were first seen), the directories to scan for their configuration and the
    /// bytes copied. `index` is the host's package index, when it has one.
    pub fn finish<W: Write>(
        self,
        col: &mut Collection<W>,
        log: &mut ArtifactLog,
        limits: CopyLimits,
        index: Option<&PackageIndex>,
    ) -> Result<Finished, WriteError> {
        let reasons: Vec<Vec<String>> = self
            .entries
            .iter()
            .map(|e| entry_reasons(e, index))
            .collect();
        let tiers: Vec<u8> = self
            .entries
            .iter()
            .zip(&reasons)
            .map(|(e, r)| tier(e, r))
            .collect();
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        // Gone-from-disk images get the copy budget first, then odd places, then the merely unowned;
        // smaller files first within a tier, so one big toolchain binary cannot take a tier's share.
        order.sort_by_key(|i| {
            (
                tiers.get(*i).copied().unwrap_or(u8::MAX),
                self.entries.get(*i).map_or(0, |e| e.size),
            )
        });
        let mut scan_dirs: Vec<Vec<u8>> = Vec::new();
        for (e, r) in self.entries.iter().zip(&reasons) {
            if !r.is_empty() {
                for d in config_dirs(e) {
                    if !scan_dirs.contains(&d) {
                        scan_dirs.push(d);
                    }
                }
            }
        }
        let mut records: Vec<Option<ExecutableRecord>> = Vec::new();
        records.resize_with(self.entries.len(), || None);
        let mut entries: Vec<Option<(Entry, Vec<String>)>> = self
            .entries
            .into_iter()
            .map(|mut e| {
                e.pids.sort_unstable();
                e.pids.dedup();
                e
            })
            .zip(reasons)
            .map(Some)
            .collect();
        // Executables that are only hashed (no copy reason, so no budget to decide in order) are read
        // on the worker threads first; copy candidates then go one by one in tier order.
        let hashed_only: Vec<Option<&Entry>> = entries
            .iter()
            .map(|slot| slot.as_ref().filter(|(_, r)| r.is_empty()).map(|(e, _)| e))
            .collect();
        let mut prehashed: Vec<Option<ImageRead>> = crate::parallel::map_in_order_with(
            &hashed_only,
            || vec![0u8; CHUNK],
            |buf, e| e.map(|e| read_image(e, None, buf)),
        );
        let limits_of = |tier: u8| tier_limits(limits, tier);
        let mut used: u64 = 0;
        let mut images = Vec::new();
        let mut image_times = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        for i in order {
            let Some((entry, reasons)) = entries.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let tier = tiers.get(i).copied().unwrap_or(u8::MAX);
            let pre = prehashed.get_mut(i).and_then(Option::take);
            let (rec, image, times) = hash_and_copy(
                entry,
                reasons,
                col,
                log,
                (limits_of(tier), &mut used),
                &mut buf,
                pre,
            )?;
            images.extend(image);
            image_times.extend(times);
            if let Some(slot) = records.get_mut(i) {
                *slot = Some(rec);
            }
        }
        Ok(Finished {
            records: records.into_iter().flatten().collect(),
            scan_dirs,
            copied_bytes: used,
            images,
            image_times,
        })
    }
}

/// What the executables pass produced.
#[derive(Debug)]
pub struct Finished {
    pub records: Vec<ExecutableRecord>,
    /// Directories (host paths) where copy candidates' processes keep their configuration.
    pub scan_dirs: Vec<Vec<u8>>,
    /// Bytes stored under `bin/`.
    pub copied_bytes: u64,
    /// The images read whole, with their digests (see [`ReadBefore`]).
    pub images: Vec<ReadBefore>,
    /// The times of the deleted images, by `fstat` of the descriptor that read them.
    pub image_times: Vec<ImageTimes>,
}

/// Copy budget the file families keep for files at rest: running executables of tier 2 (merely unowned,
/// or deep in a home) stop before it, so toolchains running from homes cannot leave a kit at rest
/// uncopied.
pub const AT_REST_RESERVE: u64 = 16 << 20;

/// The tier of a running executable, on the scale of [`crate::files::spend`]: 0 gone from disk, 1 where
/// a dropper puts its files (the walks' rule, [`is_odd_place`]), 2 any other copy reason (home, deep in
/// a temp or hidden tree, unowned), 3 none.
fn tier(e: &Entry, reasons: &[String]) -> u8 {
    if e.deleted || e.memfd {
        0
    } else if is_odd_place(&e.path, None) {
        1
    } else if !reasons.is_empty() {
        2
    } else {
        3
    }
}

/// The copy limits of a tier: below tier 1 the per-file cap is
/// [`crate::files::spend::LOW_TIER_FILE_CAP`] and [`AT_REST_RESERVE`] stays unspent.
fn tier_limits(limits: CopyLimits, tier: u8) -> CopyLimits {
    if tier <= 1 {
        return limits;
    }
    CopyLimits {
        max_file_bytes: limits
            .max_file_bytes
            .min(crate::files::spend::LOW_TIER_FILE_CAP),
        max_total_bytes: limits.max_total_bytes.saturating_sub(AT_REST_RESERVE),
    }
}

/// Why an entry is copied: its place, and whether a package owns it.
fn entry_reasons(e: &Entry, index: Option<&PackageIndex>) -> Vec<String> {
    let mut reasons = copy_reasons(&e.path, e.deleted, e.memfd);
    if let Some(index) = index {
        if !e.deleted && !e.memfd && names_file(&e.path, e.file) && !index.owns(&e.path) {
            reasons.push(NOT_OWNED.to_owned());
        }
    }
    reasons
}

/// True when `path` is, in the collector's view, the file `want` (a container's `/usr/bin/x` is not).
fn names_file(path: &[u8], want: FileId) -> bool {
    use std::os::unix::ffi::OsStrExt;
    std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(path))
        .is_ok_and(|m| m.is_file() && m.dev() == want.dev && m.ino() == want.ino)
}

/// True when `dir` names the same directory for `pid` (through its own root and mounts) as for the
/// collector.
fn same_dir_for(pid: i32, dir: &[u8]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    if !dir.starts_with(b"/") {
        return false;
    }
    let mut theirs = format!("/proc/{pid}/root").into_bytes();
    theirs.extend_from_slice(dir);
    let stat = |p: &[u8]| std::fs::metadata(std::ffi::OsStr::from_bytes(p)).ok();
    match (stat(&theirs), stat(dir)) {
        (Some(a), Some(b)) => a.is_dir() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Parent directory of an absolute path (`/` for top-level entries).
fn parent_dir(path: &[u8]) -> Option<&[u8]> {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) => Some(b"/"),
        Some(i) => path.get(..i),
        None => None,
    }
}

/// The executable's directory and its processes' working directories that hold its configuration.
fn config_dirs(e: &Entry) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    if !e.memfd {
        if let Some(dir) = parent_dir(&e.path) {
            if e.pids.iter().take(MAX_CWDS).any(|p| same_dir_for(*p, dir)) {
                out.push(dir.to_vec());
            }
        }
    }
    for (pid, cwd) in &e.cwds {
        let system =
            SYSTEM_DIRS.contains(&cwd.as_slice()) || under(cwd, b"/proc") || under(cwd, b"/sys");
        if !system && !out.contains(cwd) && same_dir_for(*pid, cwd) {
            out.push(cwd.clone());
        }
    }
    out
}

/// Opens the running image and checks it is the file that was stat'ed.
fn open_checked(dir: &ProcDir, want: FileId) -> io::Result<File> {
    let f = dir.open_image("exe")?;
    let meta = f.metadata()?;
    if meta.dev() != want.dev || meta.ino() != want.ino {
        return Err(io::Error::other(
            "the executable changed between stat and open",
        ));
    }
    Ok(f)
}

/// Reopens an image that was not held, through any pid still running it.
fn reopen(file: FileId, pids: &[i32]) -> Result<File, String> {
    let proc = ProcDir::open_path("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut last = String::from("no process left running it");
    for pid in pids {
        match proc
            .open_dir(&pid.to_string())
            .and_then(|d| open_checked(&d, file))
        {
            Ok(f) => return Ok(f),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// What hashing a file produced; `kept` holds the bytes when they were asked for and fit the cap.
struct Hashed {
    sha256: String,
    len: u64,
    kept: Option<Vec<u8>>,
    /// Whether the image starts with the ELF magic.
    elf: bool,
}

/// Hashes a file in one read pass, keeping its bytes up to `keep_cap` when asked.
fn hash_file(mut file: &File, keep_cap: Option<u64>, buf: &mut [u8]) -> io::Result<Hashed> {
    let mut hasher = Sha256::new();
    let mut len: u64 = 0;
    let mut elf = false;
    let mut kept = keep_cap.map(|cap| {
        let hint = file.metadata().map(|m| m.len()).unwrap_or(0).min(cap);
        Vec::with_capacity(usize::try_from(hint).unwrap_or(0))
    });
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if len == 0 {
            elf = crate::files::file_meta::is_elf(chunk);
        }
        hasher.update(chunk);
        len += n as u64;
        if len > MAX_HASH_BYTES {
            return Err(io::Error::other(format!(
                "larger than the hashing cap of {MAX_HASH_BYTES} bytes"
            )));
        }
        if let (Some(k), Some(cap)) = (kept.as_mut(), keep_cap) {
            if len <= cap {
                k.extend_from_slice(chunk);
            } else {
                kept = None;
            }
        }
    }
    Ok(Hashed {
        sha256: hex::encode(hasher.finalize()),
        len,
        kept,
        elf,
    })
}

/// An image as read: its `fstat` and inode flags when the read began, and the hash (and kept bytes), or
/// why it could not be opened.
struct Opened {
    stat: Option<Stat>,
    flags: Option<u32>,
    hashed: io::Result<Hashed>,
}
type ImageRead = Result<Opened, String>;

/// Opens the image of `entry` (held, or through one of its pids) and hashes it.
fn read_image(entry: &Entry, keep_cap: Option<u64>, buf: &mut [u8]) -> ImageRead {
    let reopened;
    let file = match &entry.image {
        Image::Open(f) => f,
        Image::Later => {
            reopened = reopen(entry.file, &entry.pids)?;
            &reopened
        }
        Image::Failed(e) => return Err(e.clone()),
    };
    Ok(Opened {
        stat: file_meta::fstat(file).ok(),
        flags: file_meta::inode_flags(file),
        hashed: hash_file(file, keep_cap, buf),
    })
}

/// The record of an executable whose image could not be opened or read: the error on it and in the
/// log, and a copy it needed marked skipped.
fn unreadable(
    mut rec: ExecutableRecord,
    log: &mut ArtifactLog,
    target: String,
    e: String,
) -> ExecutableRecord {
    note_error(log, target, format!("{}: {e}", rec.path.escaped()));
    if !rec.copy_reasons.is_empty() {
        rec.copy = CopyStatus::Skipped {
            reason: format!("unreadable: {e}"),
        };
    }
    rec.error = Some(e);
    rec
}

/// Hashes (and, within `limits`, copies) one executable; `pre` is its read when the worker threads
/// made it already (executables without a copy reason). Returns its record, when it was read whole what
/// the file families may take instead of reading it again, and for a deleted image its times (the
/// `fstat` of the descriptor read: the inode's own, whatever now lies at its old path).
fn hash_and_copy<W: Write>(
    entry: Entry,
    reasons: Vec<String>,
    col: &mut Collection<W>,
    log: &mut ArtifactLog,
    (limits, used): (CopyLimits, &mut u64),
    buf: &mut [u8],
    pre: Option<ImageRead>,
) -> Result<(ExecutableRecord, Option<ReadBefore>, Option<ImageTimes>), WriteError> {
    let mut entry = entry;
    let first_pid = entry.pids.first().copied().unwrap_or(0);
    let target = format!("/proc/{first_pid}/exe");
    let mut rec = ExecutableRecord {
        file: entry.file,
        path: RawBytes::new(std::mem::take(&mut entry.path)),
        size: entry.size,
        sha256: None,
        deleted: entry.deleted,
        memfd: entry.memfd,
        pids: entry.pids.clone(),
        copy: CopyStatus::NotNeeded,
        copy_reasons: reasons,
        error: None,
    };
    // The size by fstat decides the copy; the image is read after that decision.
    let opened: Result<Option<u64>, String> = match &pre {
        Some(Ok(o)) => Ok(o.stat.as_ref().map(|st| st.size)),
        Some(Err(e)) => Err(e.clone()),
        None => match &entry.image {
            Image::Open(f) => Ok(f.metadata().ok().map(|m| m.len())),
            Image::Later => Ok(None),
            Image::Failed(e) => Err(e.clone()),
        },
    };
    if let Err(e) = opened {
        return Ok((unreadable(rec, log, target, e), None, None));
    }
    if let Ok(Some(size)) = opened {
        rec.size = size;
    }
    // Decide before reading whether the bytes are wanted, so only copies are held in memory.
    let mut skip_reason = None;
    let keep_cap = if rec.copy_reasons.is_empty() {
        None
    } else if rec.size > limits.max_file_bytes {
        skip_reason = Some(format!(
            "{} bytes is over the per-file cap of {} bytes",
            rec.size, limits.max_file_bytes
        ));
        None
    } else if used.saturating_add(rec.size) > limits.max_total_bytes {
        skip_reason = Some(format!(
            "copy budget spent ({} of {} bytes used, this one is {} bytes)",
            used, limits.max_total_bytes, rec.size
        ));
        None
    } else {
        Some(
            limits
                .max_file_bytes
                .min(limits.max_total_bytes.saturating_sub(*used)),
        )
    };
    let read = match pre {
        Some(Ok(o)) => o,
        _ => match read_image(&entry, keep_cap, buf) {
            Ok(o) => o,
            Err(e) => return Ok((unreadable(rec, log, target, e), None, None)),
        },
    };
    let times = read
        .stat
        .as_ref()
        .filter(|_| entry.deleted && !entry.memfd)
        .map(|st| ImageTimes {
            file: entry.file,
            mtime: st.mtime,
            ctime: st.ctime,
            uid: st.uid,
        });
    let mut image = None;
    match read.hashed {
        Ok(h) => {
            rec.sha256 = Some(h.sha256.clone());
            rec.size = h.len;
            // Read whole, and unchanged in size meanwhile: what a file family meeting it may take.
            if let Some(stat) = read.stat.filter(|st| st.size == h.len && !entry.memfd) {
                image = Some(ReadBefore {
                    stat,
                    sha256: h.sha256.clone(),
                    elf: h.elf,
                    flags: read.flags,
                });
            }
            if let Some(reason) = skip_reason {
                rec.copy = CopyStatus::Skipped { reason };
            } else if keep_cap.is_some() {
                match h.kept {
                    Some(bytes) => {
                        let member = members::binary(&h.sha256);
                        if !col.has_member(&member) {
                            col.add_member(&member, &bytes)?;
                            *used += h.len;
                        }
                        rec.copy = CopyStatus::Copied { member };
                    }
                    None => {
                        rec.copy = CopyStatus::Skipped {
                            reason: format!(
                                "grew past the copy cap while being read ({} bytes)",
                                h.len
                            ),
                        }
                    }
                }
            }
        }
        Err(e) => {
            note_error(
                log,
                target,
                format!("{}: {e}", escape_bytes(rec.path.as_bytes())),
            );
            if !rec.copy_reasons.is_empty() {
                rec.copy = CopyStatus::Skipped {
                    reason: format!("unreadable: {e}"),
                };
            }
            rec.error = Some(e.to_string());
        }
    }
    Ok((rec, image, times))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_reasons_follow_the_policy() {
        assert!(copy_reasons(b"/usr/bin/sleep", false, false).is_empty());
        assert_eq!(
            copy_reasons(b"/usr/bin/sleep", true, false),
            vec!["deleted"]
        );
        assert_eq!(
            copy_reasons(b"/memfd:x (deleted)", true, true),
            vec!["memfd"]
        );
        assert_eq!(
            copy_reasons(b"/tmp/.X25-unix/.rsync/c/tsm", false, false),
            vec!["temp dir", "hidden dir"]
        );
        assert_eq!(
            copy_reasons(b"/dev/shm/kdevtmpfsi", false, false),
            vec!["temp dir"]
        );
        assert_eq!(copy_reasons(b"/root/xmrig", false, false), vec!["home dir"]);
        assert_eq!(
            copy_reasons(b"/home/bob/.cache/x", false, false),
            vec!["home dir", "hidden dir"]
        );
        assert_eq!(
            copy_reasons(b"/usr/bin/.sshd", false, false),
            vec!["hidden name"]
        );
        // Prefixes count only on component boundaries.
        assert!(copy_reasons(b"/tmpfoo/x", false, false).is_empty());
        assert!(copy_reasons(b"/running/x", false, false).is_empty());
        assert!(copy_reasons(b"/rootfs/x", false, false).is_empty());
    }

    #[test]
    fn hash_file_matches_and_keeps_only_under_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let want = hex::encode(Sha256::digest(&data));
        let mut buf = vec![0u8; CHUNK];
        let h = hash_file(&File::open(&p).unwrap(), Some(10 << 20), &mut buf).unwrap();
        assert_eq!(
            (h.sha256.as_str(), h.len),
            (want.as_str(), data.len() as u64)
        );
        assert_eq!(h.kept.as_deref(), Some(&data[..]));
        let h = hash_file(&File::open(&p).unwrap(), Some(1 << 20), &mut buf).unwrap();
        assert_eq!(h.sha256, want);
        assert!(h.kept.is_none());
        let h = hash_file(&File::open(&p).unwrap(), None, &mut buf).unwrap();
        assert_eq!(h.sha256, want);
    }

    /// A deleted image's times are its inode's, read by `fstat` of the descriptor that hashed it (the
    /// kit's write time, whatever now lies at its old path); a memfd image and an image on disk get
    /// none (the file families record the latter at its path).
    #[test]
    fn a_deleted_image_keeps_its_own_times() {
        use crate::options::{Options, Output};
        use minetrace_schemas::bundle::BundleWriter;
        let dir = tempfile::tempdir().unwrap();
        let written = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        let image = |deleted: bool, memfd: bool| {
            let p = dir.path().join("xmr");
            std::fs::write(&p, b"\x7fELF stand-in").unwrap();
            let f = File::open(&p).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&p)
                .and_then(|w| w.set_modified(written))
                .unwrap();
            std::fs::remove_file(&p).unwrap();
            let m = f.metadata().unwrap();
            Entry {
                file: FileId {
                    dev: m.dev(),
                    ino: m.ino(),
                },
                path: b"/tmp/.k/xmr".to_vec(),
                size: m.len(),
                deleted,
                memfd,
                pids: vec![42],
                image: Image::Open(f),
                cwds: Vec::new(),
            }
        };
        let run = |e: Entry| {
            let mut col = Collection::new(
                BundleWriter::new(Vec::new(), 0, 0).unwrap(),
                Options::for_tests(Output::Stdout),
            );
            let mut log = ArtifactLog::default();
            let limits = CopyLimits {
                max_file_bytes: 1 << 20,
                max_total_bytes: 1 << 20,
            };
            let mut used = 0;
            let reasons = copy_reasons(&e.path, e.deleted, e.memfd);
            let mut buf = vec![0u8; CHUNK];
            hash_and_copy(
                e,
                reasons,
                &mut col,
                &mut log,
                (limits, &mut used),
                &mut buf,
                None,
            )
            .unwrap()
            .2
        };
        let times = run(image(true, false)).expect("a deleted image's times");
        assert_eq!(times.mtime.secs, 1_600_000_000);
        assert!(times.ctime.secs > times.mtime.secs, "{times:?}");
        assert_eq!(run(image(true, true)), None, "a memfd has no disk time");
        assert_eq!(run(image(false, false)), None);
    }
}
