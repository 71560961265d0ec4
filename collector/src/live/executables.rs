//! Running executables: hashed once per distinct file `(dev, inode)` through `/proc/PID/exe`, and copied
//! whole into `bin/<sha256>` when the analyst could not get them later.
//!
//! During the process pass each new executable is opened through the kernel's own link while its process
//! is pinned (this works when the file was deleted or lives only in a memfd) and the descriptor is held;
//! this module then hashes and copies from those descriptors, so its time and errors are its own.
//! Copy candidates: deleted, memfd-backed, under `/tmp`, `/var/tmp`, `/dev/shm`, `/run`, in a hidden
//! directory, or in a home directory. Deleted and memfd images are copied first, so the budget goes to
//! what is gone from disk. Skipped copies say why.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;

use minetrace_schemas::bundle::{members, WriteError};
use minetrace_schemas::manifest::ArtifactLog;
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::process::{ExeLink, FileId};
use minetrace_schemas::{escape_bytes, RawBytes};
use sha2::{Digest, Sha256};

use super::proc_dir::ProcDir;
use crate::collection::{note_error, Collection};

/// Bytes hashed per executable at most; a larger "executable" is recorded without a hash.
pub const MAX_HASH_BYTES: u64 = 4 << 30;
/// Read size for hashing.
const CHUNK: usize = 1 << 20;
/// Executable descriptors held open at most; beyond this the file is reopened by pid at hashing time.
const MAX_HELD: usize = 512;

/// Directories whose executables are copied (temp and runtime places attackers drop payloads in).
const TEMP_DIRS: &[&[u8]] = &[b"/tmp", b"/var/tmp", b"/dev/shm", b"/run"];
const HOME_DIRS: &[&[u8]] = &[b"/home", b"/root"];

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
        });
    }

    /// Hashes every executable, copies the candidates into the bundle and returns the records, in the
    /// order the executables were first seen.
    pub fn finish<W: Write>(
        self,
        col: &mut Collection<W>,
        log: &mut ArtifactLog,
        limits: CopyLimits,
    ) -> Result<Vec<ExecutableRecord>, WriteError> {
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        // Gone-from-disk images get the copy budget first.
        order.sort_by_key(|i| {
            self.entries
                .get(*i)
                .map(|e| !(e.deleted || e.memfd))
                .unwrap_or(true)
        });
        let mut records: Vec<Option<ExecutableRecord>> = Vec::new();
        records.resize_with(self.entries.len(), || None);
        let mut entries: Vec<Option<Entry>> = self.entries.into_iter().map(Some).collect();
        let mut used: u64 = 0;
        let mut buf = vec![0u8; CHUNK];
        for i in order {
            let Some(entry) = entries.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let rec = hash_and_copy(entry, col, log, limits, &mut used, &mut buf)?;
            if let Some(slot) = records.get_mut(i) {
                *slot = Some(rec);
            }
        }
        Ok(records.into_iter().flatten().collect())
    }
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
}

/// Hashes a file in one read pass, keeping its bytes up to `keep_cap` when asked.
fn hash_file(mut file: File, keep_cap: Option<u64>, buf: &mut [u8]) -> io::Result<Hashed> {
    let mut hasher = Sha256::new();
    let mut len: u64 = 0;
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
    })
}

fn hash_and_copy<W: Write>(
    mut entry: Entry,
    col: &mut Collection<W>,
    log: &mut ArtifactLog,
    limits: CopyLimits,
    used: &mut u64,
    buf: &mut [u8],
) -> Result<ExecutableRecord, WriteError> {
    entry.pids.sort_unstable();
    entry.pids.dedup();
    let first_pid = entry.pids.first().copied().unwrap_or(0);
    let target = format!("/proc/{first_pid}/exe");
    let reasons = copy_reasons(&entry.path, entry.deleted, entry.memfd);
    let mut rec = ExecutableRecord {
        file: entry.file,
        path: RawBytes::new(std::mem::take(&mut entry.path)),
        size: entry.size,
        sha256: None,
        deleted: entry.deleted,
        memfd: entry.memfd,
        pids: std::mem::take(&mut entry.pids),
        copy: CopyStatus::NotNeeded,
        copy_reasons: reasons,
        error: None,
    };
    let file = match std::mem::replace(&mut entry.image, Image::Later) {
        Image::Open(f) => Ok(f),
        Image::Later => reopen(rec.file, &rec.pids),
        Image::Failed(e) => Err(e),
    };
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            note_error(log, target, format!("{}: {e}", rec.path.escaped()));
            if !rec.copy_reasons.is_empty() {
                rec.copy = CopyStatus::Skipped {
                    reason: format!("unreadable: {e}"),
                };
            }
            rec.error = Some(e);
            return Ok(rec);
        }
    };
    if let Ok(meta) = file.metadata() {
        rec.size = meta.len();
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
    match hash_file(file, keep_cap, buf) {
        Ok(h) => {
            rec.sha256 = Some(h.sha256.clone());
            rec.size = h.len;
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
    Ok(rec)
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
        let h = hash_file(File::open(&p).unwrap(), Some(10 << 20), &mut buf).unwrap();
        assert_eq!(
            (h.sha256.as_str(), h.len),
            (want.as_str(), data.len() as u64)
        );
        assert_eq!(h.kept.as_deref(), Some(&data[..]));
        let h = hash_file(File::open(&p).unwrap(), Some(1 << 20), &mut buf).unwrap();
        assert_eq!(h.sha256, want);
        assert!(h.kept.is_none());
        let h = hash_file(File::open(&p).unwrap(), None, &mut buf).unwrap();
        assert_eq!(h.sha256, want);
    }
}
