//! Spend by suspicion (artifact `spend`): the walks record metadata for everything they meet and queue the
//! files worth reading here; this pass hashes and copies them in order of suspicion while the run's
//! hashing budget (bytes and time) and copy budget last, and writes on each record what was skipped and
//! why (`not hashed: ...`, `not copied: ...`).
//!
//! Order (lower tier first; within a tier, recently changed files first, then smaller ones, then by path):
//!
//! | tier | what | ELF files copied |
//! |---|---|---|
//! | 0 | named by a persistence entry, `/etc/ld.so.preload` or a package digest mismatch ([`Place::Named`]) | up to `--max-copy-mib` |
//! | 1 | executable-looking (an exec bit, or a script name) near the top of a temp place or of a hidden home directory ([`Place::Odd`]) | up to `--max-copy-mib` |
//! | 2 | executable-looking deeper in homes or temp trees ([`Place::Deep`]); with an exec bit, unowned in system binary directories ([`Place::System`]) or in module and generator directories ([`Place::Startup`]); packaged twins of unowned system files ([`Place::Twin`]) | `Startup` only, up to [`LOW_TIER_FILE_CAP`] |
//! | 3 | other files of temp, hidden, system and startup places | `Odd` and `Startup` only, up to [`LOW_TIER_FILE_CAP`] |
//! | 4 | files of tiers 2 and 3 larger than [`LOW_TIER_FILE_CAP`] | no |
//!
//! Package-owned files are copied only when something names them; unowned files of system binary
//! directories, deep trees and packaged twins are hashed, not copied (a running process or a persistence
//! entry naming one copies it). Files deep in homes or temp trees that do not look executable are listed
//! by metadata only (counted in the manifest's exclusions). Scripts (every place but twins) are stored by
//! their head ([`SCRIPT_HEAD`] bytes, within [`SCRIPT_TOTAL`] per run) and hashed whole; ELF files are
//! copied whole. Nothing under a bind mount of another directory is copied (its bytes live elsewhere, see
//! [`super::mounts`]). The same bytes are stored once: a repeat inode or digest points at the member
//! already written. The same inode is read once: its other paths (hard links: `/usr/local/bin/git` has
//! 140 in `libexec/git-core`) take the first read's digest and spend no budget, unless they may keep
//! bytes that read did not keep. A family may *hold* a queued file ([`SpendQueue::hold`]): it is listed,
//! not read, and its record says why, unless something names it (tier 0).
//!
//! Reading happens on worker threads, off the thread that writes the bundle; decisions are taken on the
//! writing thread in the fixed order above, batch by batch, so what is hashed and copied depends on the
//! host's files and the budgets only (and on the clock, for the time budget).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::{FileTime, FS_APPEND_FL, FS_IMMUTABLE_FL};
use sha2::{Digest, Sha256};

use super::file_meta::{self, Stat};
use super::host_root::file_name;
use super::sink::Sink;
use crate::host_read;

/// Largest copy of a file below tier 1: big unowned toolchain binaries in homes are hashed, not copied.
pub const LOW_TIER_FILE_CAP: u64 = 16 << 20;
/// The tier of files of tier 2 or 3 larger than [`LOW_TIER_FILE_CAP`]: hashed last, never copied.
pub const LARGE_TIER: u8 = 4;
/// Bytes of a script stored.
pub const SCRIPT_HEAD: u64 = 64 << 10;
/// Script bytes stored per run.
pub const SCRIPT_TOTAL: u64 = 16 << 20;
/// A change within this many seconds before the run counts as recent.
pub const RECENT_SECS: i64 = 7 * 86_400;
/// Files read per batch (decisions are taken batch by batch, in order).
const BATCH: usize = 32;
/// Read size (a worker's buffer, made once per batch): 64 KiB reads cost no more per byte than larger
/// ones, and a small buffer costs 16 page faults per batch, not 64.
const CHUNK: usize = 64 << 10;
/// Candidates queued per run at most.
pub const MAX_QUEUED: usize = 200_000;

/// Skip reasons of files that are hashed but never copied.
pub const UNDER_BIND: &str =
    "not copied: under a bind mount of another directory (see records/mounts.pc)";
pub const PACKAGE_OWNED: &str =
    "not copied: a package owns it (the packages family checks its digest)";
pub const HASHED_ONLY: &str =
    "not copied: files of toolchain, build and system trees are hashed, not copied";

/// Where a family found a file; with its metadata this sets the file's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Named by a persistence entry or the loader's preload list.
    Named,
    /// A temp or runtime place, or within [`super::temp_places::HOME_COPY_DEPTH`] levels of a home's
    /// hidden entry.
    Odd,
    /// Deeper in a home's or a temp place's tree (toolchains, projects, build trees): hashed when it
    /// looks executable, never copied (scripts' heads are kept).
    Deep,
    /// Unowned files of system binary directories: listed and hashed (a renamed or planted tool is told
    /// by its digest), never copied here (a persistence entry or a running process naming one copies it).
    System,
    /// Module and generator directories (`/lib/modules/*/extra`, `/etc/systemd/system-generators`): what
    /// no package owns there runs at boot, and is copied.
    Startup,
    /// A packaged file hashed only so a renamed copy can be matched by digest; never copied.
    Twin,
}

impl Place {
    /// Whether files of this place may be copied at all.
    pub fn copies(self) -> bool {
        !matches!(self, Place::Deep | Place::System | Place::Twin)
    }

    /// Whether the head of a script found here is stored (cheap, and wrapper scripts planted in
    /// `/usr/local/bin` are a way in).
    pub fn stores_heads(self) -> bool {
        self != Place::Twin
    }
}

/// Whether a non-ELF file's head is kept: a script (shebang or script name) or a miner's configuration
/// (`config.json`, `pools.txt`, ...). A dormant kit's pool and wallet are only in its configuration, and
/// nothing runs to hand its directory to [`super::exe_dirs`].
fn keeps_head(name: &[u8], head: &[u8]) -> bool {
    file_meta::is_script(name, head) || super::exe_dirs::config_rank(name).is_some()
}

/// The tier of a file (see the module table), or `None` for metadata only.
pub fn tier(place: Place, st: &Stat, name: &[u8]) -> Option<u8> {
    // A script name counts only where a dropper puts its own files (named, or near the top of a temp or
    // hidden place); deeper down, `.py` and `.sh` files are libraries of virtualenvs and toolchains.
    let exec_like = st.mode & 0o111 != 0
        || (matches!(place, Place::Named | Place::Odd) && keeps_head(name, b""));
    match (place, exec_like) {
        (Place::Named, _) => Some(0),
        (Place::Twin, _) => Some(2),
        (Place::Odd, true) => Some(1),
        (Place::Deep | Place::System | Place::Startup, true) => Some(2),
        (Place::Odd | Place::System | Place::Startup, false) => Some(3),
        (Place::Deep, false) => None,
    }
}

/// A file the live pass read whole (a running executable, through `/proc/PID/exe`): its digest stands
/// for a read here while the file keeps the size and times it had then ([`read_before`]).
#[derive(Debug, Clone)]
pub struct ReadBefore {
    /// `fstat` of the image when the live pass read it.
    pub stat: Stat,
    pub sha256: String,
    /// Whether it starts with the ELF magic.
    pub elf: bool,
    /// Inode flags (`chattr` attributes), when readable.
    pub flags: Option<u32>,
}

/// One queued file.
#[derive(Debug, Clone)]
struct Candidate {
    record: usize,
    path: Vec<u8>,
    real: PathBuf,
    id: (u64, u64),
    size: u64,
    /// Modification and change times as listed.
    times: (FileTime, FileTime),
    recent: bool,
    tier: u8,
    /// Why an ELF file may not be copied (under a bind mount of another directory, owned by a package,
    /// in a place that is only hashed), or `None`.
    no_copy: Option<&'static str>,
    /// Whether a script's head may be stored.
    head: bool,
    /// Why the file is listed but not read unless something names it (see [`SpendQueue::hold`]).
    hold: Option<&'static str>,
}

/// The files queued by the walks, in the order met.
#[derive(Debug, Default)]
pub struct SpendQueue {
    items: Vec<Candidate>,
    by_path: HashMap<Vec<u8>, usize>,
    /// Files listed by metadata only (not executable-looking, deep in homes).
    pub listed_only: u64,
    /// Files not queued because the queue was full.
    pub dropped: u64,
}

impl SpendQueue {
    /// Queues a recorded file; `now` is the run's start (seconds since the epoch).
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        record: usize,
        path: &[u8],
        real: PathBuf,
        st: &Stat,
        tier: u8,
        (no_copy, head): (Option<&'static str>, bool),
        now: i64,
    ) -> bool {
        if self.items.len() >= MAX_QUEUED {
            self.dropped += 1;
            return false;
        }
        let changed = st.ctime.secs.max(st.mtime.secs);
        // Below tier 1, big files wait until everything smaller is hashed: many small files (a kit's
        // tools and data) before one large toolchain binary.
        let tier = if tier >= 2 && st.size > LOW_TIER_FILE_CAP {
            LARGE_TIER
        } else {
            tier
        };
        self.by_path.insert(path.to_vec(), self.items.len());
        self.items.push(Candidate {
            record,
            path: path.to_vec(),
            real,
            id: st.id(),
            size: st.size,
            times: (st.mtime, st.ctime),
            recent: now.saturating_sub(changed) <= RECENT_SECS,
            tier,
            no_copy,
            head,
            hold: None,
        });
        true
    }

    /// Keeps a queued file from being read unless it is raised to tier 0 (a persistence entry, the
    /// preload list or a digest mismatch names it): `why` goes on its record (`not hashed: ...`). For
    /// files no finding could rest on by digest alone; false when the file is not queued.
    pub fn hold(&mut self, path: &[u8], why: &'static str) -> bool {
        match self.by_path.get(path).and_then(|i| self.items.get_mut(*i)) {
            Some(c) => {
                c.hold = Some(why);
                true
            }
            None => false,
        }
    }

    /// Raises a queued file to tier 0 (a persistence entry names it); false when it is not queued.
    pub fn promote(&mut self, path: &[u8]) -> bool {
        match self.by_path.get(path).and_then(|i| self.items.get_mut(*i)) {
            Some(c) => {
                c.tier = 0;
                true
            }
            None => false,
        }
    }
}

/// The run's budgets for this pass.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub hash_bytes: u64,
    pub deadline: Instant,
    pub time_ms: u64,
}

/// What a worker is asked to do with one file.
struct Job {
    real: PathBuf,
    name: Vec<u8>,
    id: (u64, u64),
    size: u64,
    /// Keep the whole file when it is ELF and at most this long.
    keep_elf: Option<u64>,
    /// Keep the head of a script.
    keep_script: bool,
}

/// What a worker read.
#[derive(Debug, Default)]
struct Got {
    sha256: Option<String>,
    len: u64,
    elf: bool,
    script: bool,
    kept: Option<Vec<u8>>,
    flags: Option<u32>,
    changed: bool,
}

impl Got {
    /// The outcome without the bytes kept: what another path of the same inode takes.
    fn without_bytes(&self) -> Got {
        Got {
            sha256: self.sha256.clone(),
            kept: None,
            ..*self
        }
    }
}

fn shared(r: &Result<Got, String>) -> Result<Got, String> {
    r.as_ref().map(Got::without_bytes).map_err(Clone::clone)
}

/// What one batch does with a candidate: skip it, read it (with its tier's copy cap), or take the
/// outcome of an earlier read of the same inode, here or by the live pass.
enum Plan {
    Skip,
    Read(u64),
    Same(u64),
    /// The live pass read it (a running executable): its digest, no read here.
    Known(u64, Got),
}

/// What was asked of the first read of an inode.
struct Planned {
    size: u64,
    elf: bool,
    script: bool,
}

impl Planned {
    /// Whether that read serves `c` too: `c` would keep no bytes the read did not keep.
    fn covers(&self, c: &Candidate) -> bool {
        (self.elf || c.no_copy.is_some()) && (self.script || !c.head)
    }
}

/// Counts of one pass, for the log and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub hashed: u64,
    pub hashed_bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub heads: u64,
    pub skipped: u64,
    /// Paths that took the digest of an earlier read of the same inode (hard links).
    pub linked: u64,
    /// Files that took the digest the live pass made of them (running executables).
    pub known: u64,
}

/// Reads one file with the worker's buffer `buf`.
fn work(job: &Job, buf: &mut [u8]) -> Result<Got, String> {
    let (mut file, meta) = host_read::open_regular(&job.real).map_err(|e| format!("open: {e}"))?;
    // The open's own `fstat` is the "before" of the change check.
    let before = file_meta::from_std(&meta);
    if before.id() != job.id {
        return Err("replaced since it was listed".into());
    }
    let flags = file_meta::inode_flags(&file);
    let mut out = Got {
        flags,
        ..Got::default()
    };
    let mut hasher = Sha256::new();
    // Read up to a little past the listed size: a file still growing is flagged, not chased.
    let limit = job.size.saturating_add(1);
    let mut first = true;
    let mut keep_cap = 0u64;
    loop {
        let room = buf.len();
        let want = usize::try_from((limit - out.len).min(room as u64)).unwrap_or(room);
        if want == 0 {
            break;
        }
        let n = match buf.get_mut(..want).map(|b| file.read(b)) {
            Some(Ok(0)) | None => break,
            Some(Ok(n)) => n,
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if first {
            first = false;
            out.elf = file_meta::is_elf(chunk);
            out.script = !out.elf && keeps_head(&job.name, chunk);
            keep_cap = match (out.elf, out.script) {
                (true, _) => job.keep_elf.unwrap_or(0),
                (_, true) if job.keep_script => SCRIPT_HEAD,
                _ => 0,
            };
            if keep_cap > 0 {
                out.kept = Some(Vec::with_capacity(
                    usize::try_from(job.size.min(keep_cap)).unwrap_or(0),
                ));
            }
        }
        hasher.update(chunk);
        out.len += n as u64;
        if let Some(k) = out.kept.as_mut() {
            let room = usize::try_from(keep_cap.saturating_sub(k.len() as u64)).unwrap_or(0);
            k.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
        }
    }
    let after = file_meta::fstat(&file).ok();
    out.changed =
        out.len != job.size || after.is_some_and(|a| file_meta::changed_between(&before, &a));
    if out.elf && out.len > keep_cap {
        // An ELF file is copied whole or not at all.
        out.kept = None;
    }
    if !out.changed {
        out.sha256 = Some(hex::encode(hasher.finalize()));
    }
    Ok(out)
}

/// Hashes and copies the queued files (see the module documentation).
pub fn run<W: Write>(s: &mut Sink<'_, W>, budget: Budget) -> Result<Stats, WriteError> {
    let queue = std::mem::take(&mut s.ctx.spend);
    let mut items = queue.items;
    items.sort_by(|a, b| {
        (a.tier, !a.recent, a.size, &a.path).cmp(&(b.tier, !b.recent, b.size, &b.path))
    });
    if queue.listed_only > 0 {
        s.col.exclusions.push(format!(
            "{} files deep in home or temp trees that do not look executable were listed by metadata \
             only (not hashed)",
            queue.listed_only
        ));
    }
    if queue.dropped > 0 {
        s.col.exclusions.push(format!(
            "{} files were listed but not queued for hashing: more than {MAX_QUEUED} candidates",
            queue.dropped
        ));
    }
    let mut stats = Stats::default();
    let mut hash_left = budget.hash_bytes;
    // Hard links: an inode is read once; its other paths take that read's digest (and point at its
    // copy), unless they may keep bytes the first read was not asked to keep.
    let mut reads: HashMap<(u64, u64), Planned> = HashMap::new();
    let mut outcomes: HashMap<(u64, u64), Result<Got, String>> = HashMap::new();
    for batch in items.chunks(BATCH) {
        let mut planned: Vec<Plan> = Vec::with_capacity(batch.len());
        let mut jobs: Vec<Job> = Vec::new();
        let mut copy_left = s.ctx.copy_left;
        for c in batch {
            let file_cap = if c.tier <= 1 {
                s.ctx.max_copy_file
            } else {
                s.ctx.max_copy_file.min(LOW_TIER_FILE_CAP)
            };
            if let Some(got) = read_before(s, c) {
                planned.push(Plan::Known(file_cap, got));
                continue;
            }
            if let Some(why) = skip_reason(c, hash_left, &budget) {
                s.set_error(Some(c.record), why);
                stats.skipped += 1;
                planned.push(Plan::Skip);
                continue;
            }
            if reads
                .get(&c.id)
                .is_some_and(|p| p.size == c.size && p.covers(c))
            {
                planned.push(Plan::Same(file_cap));
                continue;
            }
            hash_left -= c.size;
            let keep_elf = (c.no_copy.is_none() && c.size <= file_cap && c.size <= copy_left)
                .then_some(c.size);
            if let Some(n) = keep_elf {
                copy_left -= n;
            }
            reads.entry(c.id).or_insert(Planned {
                size: c.size,
                elf: keep_elf.is_some(),
                script: c.head,
            });
            planned.push(Plan::Read(file_cap));
            jobs.push(Job {
                real: c.real.clone(),
                name: file_name(&c.path).to_vec(),
                id: c.id,
                size: c.size,
                keep_elf,
                keep_script: c.head,
            });
        }
        // Read on the worker threads; decided below in the batch's order.
        let mut results = crate::parallel::map_in_order_with(
            &jobs,
            || vec![0u8; CHUNK],
            |buf, job| work(job, buf),
        )
        .into_iter();
        for (c, plan) in batch.iter().zip(planned) {
            match plan {
                Plan::Skip => {}
                Plan::Read(cap) => {
                    let r = results.next().unwrap_or_else(|| Err("not read".to_owned()));
                    outcomes.entry(c.id).or_insert_with(|| shared(&r));
                    apply(s, c, r, cap, &mut stats)?;
                }
                Plan::Same(cap) => {
                    stats.linked += 1;
                    let r = outcomes
                        .get(&c.id)
                        .map_or_else(|| Err("its first path was not read".to_owned()), shared);
                    let len = r.as_ref().map_or(0, |g| g.len);
                    apply(s, c, r, cap, &mut stats)?;
                    // Read once, by the first path: the bytes count there.
                    stats.hashed_bytes -= len.min(stats.hashed_bytes);
                }
                Plan::Known(cap, got) => {
                    stats.known += 1;
                    let len = got.len;
                    apply(s, c, Ok(got), cap, &mut stats)?;
                    // Read by the live pass, not here.
                    stats.hashed_bytes -= len.min(stats.hashed_bytes);
                }
            }
        }
    }
    s.log.items = stats.hashed + stats.skipped;
    Ok(stats)
}

/// The live pass's read of `c`, when it stands for a read here: the same inode with the size and times
/// it had when the live pass read it, and no bytes wanted that the live pass did not store (an ELF copy
/// it did not make, a script's head).
fn read_before<W: Write>(s: &Sink<'_, W>, c: &Candidate) -> Option<Got> {
    let known = s.ctx.read_before.get(&c.id)?;
    let st = &known.stat;
    if (st.size, st.mtime, st.ctime) != (c.size, c.times.0, c.times.1) {
        return None;
    }
    let wants_bytes = if known.elf {
        c.no_copy.is_none() && s.ctx.copied_member(c.id, &known.sha256).is_none()
    } else {
        c.head
    };
    (!wants_bytes).then(|| Got {
        sha256: Some(known.sha256.clone()),
        len: st.size,
        elf: known.elf,
        script: false,
        kept: None,
        flags: known.flags,
        changed: false,
    })
}

/// Why a file is not read at all, given what is left.
fn skip_reason(c: &Candidate, hash_left: u64, budget: &Budget) -> Option<String> {
    if let (Some(why), 1..) = (c.hold, c.tier) {
        return Some(why.to_owned());
    }
    if Instant::now() >= budget.deadline {
        return Some(format!(
            "not hashed: the run's hashing time budget ({} ms) was spent on more suspicious files",
            budget.time_ms
        ));
    }
    if c.size > hash_left {
        return Some(format!(
            "not hashed: {} bytes is over what is left of the run's hashing budget ({hash_left} bytes)",
            c.size
        ));
    }
    None
}

/// Writes one file's outcome on its record and, for copies and script heads, into the bundle.
fn apply<W: Write>(
    s: &mut Sink<'_, W>,
    c: &Candidate,
    r: Result<Got, String>,
    file_cap: u64,
    stats: &mut Stats,
) -> Result<(), WriteError> {
    let read = match r {
        Ok(read) => read,
        Err(e) => {
            s.note(&c.path, &e);
            s.set_error(Some(c.record), format!("not hashed: {e}"));
            stats.skipped += 1;
            return Ok(());
        }
    };
    stats.hashed += 1;
    stats.hashed_bytes += read.len;
    if let Some(rec) = s.col.files.get_mut(c.record) {
        if let Some(f) = read.flags {
            rec.flags = Some(f);
            rec.immutable = f & FS_IMMUTABLE_FL != 0;
            rec.append_only = f & FS_APPEND_FL != 0;
        }
        rec.sha256.clone_from(&read.sha256);
    }
    if read.changed {
        s.set_error(
            Some(c.record),
            "not hashed: the file changed while it was read",
        );
        return Ok(());
    }
    let Some(sha) = read.sha256 else {
        return Ok(());
    };
    if read.elf {
        copy_elf(s, c, &sha, read.kept, file_cap, stats)?;
    } else if read.script && c.head {
        store_head(s, c, &sha, read.kept, read.len, stats)?;
    }
    Ok(())
}

/// Points the record at the member already holding this inode or these bytes; false when there is none.
fn point_at_copy<W: Write>(s: &mut Sink<'_, W>, c: &Candidate, sha: &str) -> bool {
    let Some(member) = s.ctx.copied_member(c.id, sha) else {
        return false;
    };
    if let Some(rec) = s.col.files.get_mut(c.record) {
        rec.member = Some(member);
    }
    true
}

fn copy_elf<W: Write>(
    s: &mut Sink<'_, W>,
    c: &Candidate,
    sha: &str,
    kept: Option<Vec<u8>>,
    file_cap: u64,
    stats: &mut Stats,
) -> Result<(), WriteError> {
    if point_at_copy(s, c, sha) {
        return Ok(());
    }
    if let Some(why) = c.no_copy {
        s.set_error(Some(c.record), why);
        return Ok(());
    }
    let Some(bytes) = kept else {
        let why = if c.size > file_cap {
            format!(
                "not copied: {} bytes is over the copy cap of {file_cap} bytes for its tier",
                c.size
            )
        } else {
            "not copied: the run's copy budget is spent".to_owned()
        };
        s.set_error(Some(c.record), why);
        return Ok(());
    };
    let len = bytes.len() as u64;
    if len > s.ctx.copy_left {
        s.set_error(Some(c.record), "not copied: the run's copy budget is spent");
        return Ok(());
    }
    let member = fs_member(&c.path);
    if !s.col.has_member(&member) {
        s.col.add_member(&member, &bytes)?;
        s.stored_bytes += len;
    }
    s.ctx.copy_left -= len;
    s.ctx.remember_copy(c.id, &member, sha);
    stats.copied += 1;
    stats.copied_bytes += len;
    if let Some(rec) = s.col.files.get_mut(c.record) {
        rec.member = Some(member);
    }
    Ok(())
}

fn store_head<W: Write>(
    s: &mut Sink<'_, W>,
    c: &Candidate,
    sha: &str,
    kept: Option<Vec<u8>>,
    len: u64,
    stats: &mut Stats,
) -> Result<(), WriteError> {
    if point_at_copy(s, c, sha) {
        return Ok(());
    }
    let Some(bytes) = kept else {
        return Ok(());
    };
    if let Some(reason) = super::sink::armoured_private_key(&bytes) {
        s.set_error(
            Some(c.record),
            format!(
                "{}{reason}",
                minetrace_schemas::records::file::CONTENT_WITHHELD
            ),
        );
        return Ok(());
    }
    let n = bytes.len() as u64;
    if n > s.ctx.script_left {
        s.set_error(
            Some(c.record),
            format!("not stored: the run's {SCRIPT_TOTAL} bytes for script heads are spent"),
        );
        return Ok(());
    }
    let member = fs_member(&c.path);
    if !s.col.has_member(&member) {
        s.col.add_member(&member, &bytes)?;
        s.stored_bytes += n;
    }
    s.ctx.script_left -= n;
    let whole = n == len;
    if whole {
        s.ctx.remember_copy(c.id, &member, sha);
    }
    stats.heads += 1;
    if let Some(rec) = s.col.files.get_mut(c.record) {
        rec.member = Some(member);
        rec.truncated = !whole;
    }
    Ok(())
}

/// A time budget of `ms` from now.
pub fn budget(hash_bytes: u64, ms: u64) -> Budget {
    Budget {
        hash_bytes,
        deadline: Instant::now() + Duration::from_millis(ms),
        time_ms: ms,
    }
}

/// The `spend` family: runs the pass with the budgets of the command line.
pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let budget = budget(
        s.col.options.max_hash_total_bytes,
        s.col.options.max_hash_ms,
    );
    run(s, budget).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::{put, Harness};
    use super::super::sink::Content;
    use super::*;

    fn elf(tag: &[u8], len: usize) -> Vec<u8> {
        let mut v = b"\x7fELF\x02\x01\x01\x00".to_vec();
        v.extend_from_slice(tag);
        v.resize(len, 0);
        v
    }

    fn queue(h: &mut Harness, path: &str, place: Place) {
        let st = h.ctx.root.lstat(path.as_bytes()).unwrap();
        h.sink("temp")
            .capture_stat(path.as_bytes(), &st, Content::Suspect(place))
            .unwrap();
    }

    #[test]
    fn suspicion_orders_the_spending_not_discovery() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(
            r,
            "/home/u/.rustup/a/b/c/big",
            &elf(b"toolchain", 3000),
            0o755,
        );
        put(r, "/tmp/data.tar", &[7u8; 3000], 0o644);
        put(r, "/tmp/.x/kit", &elf(b"kit", 3000), 0o755);
        put(r, "/etc/cron.d/x", &elf(b"named", 100), 0o644);
        let mut h = Harness::new(r);
        // Met in this order, budgeted for two of the three big ones.
        queue(&mut h, "/home/u/.rustup/a/b/c/big", Place::Deep);
        queue(&mut h, "/tmp/data.tar", Place::Odd);
        queue(&mut h, "/tmp/.x/kit", Place::Odd);
        queue(&mut h, "/etc/cron.d/x", Place::Named);
        let stats = run(&mut h.sink("spend"), budget(6_200, 60_000)).unwrap();
        assert_eq!((stats.hashed, stats.skipped), (3, 1));
        let named = h.record("/etc/cron.d/x").unwrap();
        assert!(
            named.sha256.is_some() && named.member.is_some(),
            "{named:?}"
        );
        let kit = h.record("/tmp/.x/kit").unwrap();
        assert_eq!(kit.member.as_deref(), Some("fs/tmp/.x/kit"));
        // Tier 2 (an executable deep in a home) before tier 3 (data in a temp place).
        assert!(h
            .record("/home/u/.rustup/a/b/c/big")
            .unwrap()
            .sha256
            .is_some());
        let data = h.record("/tmp/data.tar").unwrap();
        assert!(data.sha256.is_none());
        assert!(
            data.error
                .as_deref()
                .unwrap()
                .starts_with("not hashed: 3000 bytes is over"),
            "{data:?}"
        );
    }

    /// What the live pass hands over for `path`, with a digest no read of the file gives.
    fn read_before(h: &Harness, path: &str, sha256: &str) -> ReadBefore {
        ReadBefore {
            stat: h.ctx.root.lstat(path.as_bytes()).unwrap(),
            sha256: sha256.to_owned(),
            elf: true,
            flags: Some(0),
        }
    }

    #[test]
    fn a_running_executable_is_read_once_by_the_live_pass() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(r, "/usr/local/bin/agent", &elf(b"agent", 5000), 0o755);
        put(r, "/usr/local/bin/changed", &elf(b"changed", 5000), 0o755);
        put(r, "/tmp/.x/kit", &elf(b"kit", 4000), 0o755);
        put(r, "/tmp/.x/other", &elf(b"other", 4000), 0o755);
        let mut h = Harness::new(r);
        // Digests no read gives, one per file.
        let live = |p: &str| format!("{:064x}", p.len());
        for p in [
            "/usr/local/bin/agent",
            "/usr/local/bin/changed",
            "/tmp/.x/kit",
            "/tmp/.x/other",
        ] {
            let rb = read_before(&h, p, &live(p));
            h.ctx.read_before.insert(rb.stat.id(), rb);
        }
        // The live pass copied the kit; `other` it only hashed.
        let kit_id = h.ctx.root.lstat(b"/tmp/.x/kit").unwrap().id();
        h.ctx.remember_copy(kit_id, "bin/kit", &live("/tmp/.x/kit"));
        // `changed` was written after the live pass read it.
        std::fs::write(r.join("usr/local/bin/changed"), elf(b"changed!", 5001)).unwrap();
        queue(&mut h, "/usr/local/bin/agent", Place::System);
        queue(&mut h, "/usr/local/bin/changed", Place::System);
        queue(&mut h, "/tmp/.x/kit", Place::Odd);
        queue(&mut h, "/tmp/.x/other", Place::Odd);
        let stats = run(&mut h.sink("spend"), budget(1 << 20, 60_000)).unwrap();
        // Hashed only, and the same file: the live digest, no read.
        let agent = h.record("/usr/local/bin/agent").unwrap();
        assert_eq!(agent.sha256, Some(live("/usr/local/bin/agent")));
        assert_eq!(agent.error.as_deref(), Some(HASHED_ONLY));
        // Copied by the live pass: its member, no read.
        let kit = h.record("/tmp/.x/kit").unwrap();
        assert_eq!(
            (kit.sha256.clone(), kit.member.as_deref()),
            (Some(live("/tmp/.x/kit")), Some("bin/kit"))
        );
        // Changed since, or wanted as a copy the live pass did not make: read here.
        let want = |p: &str| Some(file_meta::sha256_hex(&std::fs::read(r.join(p)).unwrap()));
        let changed = h.record("/usr/local/bin/changed").unwrap();
        assert_eq!(changed.sha256, want("usr/local/bin/changed"));
        let other = h.record("/tmp/.x/other").unwrap();
        assert_eq!(other.sha256, want("tmp/.x/other"));
        assert_eq!(other.member.as_deref(), Some("fs/tmp/.x/other"));
        assert_eq!((stats.known, stats.hashed_bytes), (2, 5001 + 4000));
    }

    #[test]
    fn the_same_bytes_are_stored_once_and_scripts_by_their_head() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let bin = elf(b"same", 5000);
        put(r, "/tmp/a/x", &bin, 0o755);
        put(r, "/tmp/b/y", &bin, 0o755);
        let mut script = b"#!/bin/sh\n".to_vec();
        script.resize(SCRIPT_HEAD as usize + 10, b'#');
        put(r, "/tmp/long.sh", &script, 0o644);
        let mut h = Harness::new(r);
        for p in ["/tmp/a/x", "/tmp/b/y", "/tmp/long.sh"] {
            queue(&mut h, p, Place::Odd);
        }
        let stats = run(&mut h.sink("spend"), budget(1 << 30, 60_000)).unwrap();
        assert_eq!((stats.copied, stats.heads), (1, 1));
        let (x, y) = (h.record("/tmp/a/x").unwrap(), h.record("/tmp/b/y").unwrap());
        assert_eq!(x.member, y.member);
        assert_eq!(x.sha256, y.sha256);
        let s = h.record("/tmp/long.sh").unwrap();
        assert!(s.truncated);
        assert_eq!(
            s.sha256.as_deref(),
            Some(file_meta::sha256_hex(&script).as_str())
        );
        assert!(h.col.has_member(s.member.as_deref().unwrap()));
    }

    #[test]
    fn hard_links_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let bin = elf(b"linked", 6000);
        put(r, "/usr/local/bin/git", &bin, 0o755);
        for name in ["git-add", "git-commit"] {
            std::fs::hard_link(
                r.join("usr/local/bin/git"),
                r.join("usr/local/libexec").join(name),
            )
            .or_else(|_| {
                std::fs::create_dir_all(r.join("usr/local/libexec"))?;
                std::fs::hard_link(
                    r.join("usr/local/bin/git"),
                    r.join("usr/local/libexec").join(name),
                )
            })
            .unwrap();
        }
        // The same inode where files are copied, met after the others (same tier, later path): read
        // again, since the first read kept no bytes.
        std::fs::hard_link(
            r.join("usr/local/bin/git"),
            r.join("usr/local/libexec/z-generator"),
        )
        .unwrap();
        let mut h = Harness::new(r);
        for p in [
            "/usr/local/bin/git",
            "/usr/local/libexec/git-add",
            "/usr/local/libexec/git-commit",
        ] {
            queue(&mut h, p, Place::System);
        }
        queue(&mut h, "/usr/local/libexec/z-generator", Place::Startup);
        // Budgeted for two reads: the links must not spend it.
        let stats = run(&mut h.sink("spend"), budget(12_000, 60_000)).unwrap();
        assert_eq!((stats.hashed, stats.skipped), (4, 0));
        assert_eq!(stats.hashed_bytes, 12_000);
        let sha = h.record("/usr/local/bin/git").unwrap().sha256.clone();
        assert!(sha.is_some());
        for p in [
            "/usr/local/libexec/git-add",
            "/usr/local/libexec/git-commit",
        ] {
            let rec = h.record(p).unwrap();
            assert_eq!(rec.sha256, sha);
            assert!(rec.member.is_none(), "{rec:?}");
            assert_eq!(rec.error.as_deref(), Some(HASHED_ONLY));
        }
        let generator = h.record("/usr/local/libexec/z-generator").unwrap();
        assert_eq!(generator.sha256, sha);
        assert_eq!(
            generator.member.as_deref(),
            Some("fs/usr/local/libexec/z-generator")
        );
    }

    #[test]
    fn a_dormant_miners_config_near_the_top_of_a_temp_place_keeps_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(
            r,
            "/tmp/config.json",
            br#"{"pools":[{"url":"pool:3333"}]}"#,
            0o644,
        );
        put(r, "/tmp/notes.txt", b"hello", 0o644);
        let mut h = Harness::new(r);
        for p in ["/tmp/config.json", "/tmp/notes.txt"] {
            queue(&mut h, p, Place::Odd);
        }
        let stats = run(&mut h.sink("spend"), budget(1 << 30, 60_000)).unwrap();
        assert_eq!(stats.heads, 1);
        let c = h.record("/tmp/config.json").unwrap();
        assert!(h.col.has_member(c.member.as_deref().unwrap()));
        assert!(h.record("/tmp/notes.txt").unwrap().member.is_none());
    }

    #[test]
    fn nothing_under_a_bind_mount_is_copied_and_time_budget_is_kept() {
        use minetrace_schemas::records::mount::MountRecord;
        use minetrace_schemas::RawBytes;
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(r, "/tmp/.x/sshd", &elf(b"sshd", 4000), 0o755);
        put(r, "/tmp/late", &elf(b"late", 4000), 0o755);
        let mut h = Harness::new(r);
        let mount = |id: u32, root: &str, point: &str| MountRecord {
            mount_id: id,
            parent_id: 1,
            dev: 1,
            root: RawBytes::from(root),
            mount_point: RawBytes::from(point),
            mount_options: String::new(),
            propagation: String::new(),
            fs_type: "ext4".into(),
            source: RawBytes::from("/dev/x"),
            super_options: String::new(),
            bind_of: (root != "/").then(|| RawBytes::from("/usr/sbin")),
            walked_by: Vec::new(),
        };
        h.ctx.mounts = super::super::mounts::MountTable::new(vec![
            mount(1, "/", "/"),
            mount(2, "/usr/sbin", "/tmp/.x"),
        ]);
        queue(&mut h, "/tmp/.x/sshd", Place::Odd);
        run(&mut h.sink("spend"), budget(1 << 30, 60_000)).unwrap();
        let sshd = h.record("/tmp/.x/sshd").unwrap();
        assert!(sshd.sha256.is_some() && sshd.member.is_none());
        assert!(
            sshd.error.as_deref().unwrap().contains("bind mount"),
            "{sshd:?}"
        );

        queue(&mut h, "/tmp/late", Place::Odd);
        run(&mut h.sink("spend"), budget(1 << 30, 0)).unwrap();
        let late = h.record("/tmp/late").unwrap();
        assert!(late.sha256.is_none());
        assert!(
            late.error.as_deref().unwrap().contains("time budget"),
            "{late:?}"
        );
    }

    #[test]
    fn tiers_follow_place_and_metadata() {
        let st = |mode: u32| Stat {
            kind: minetrace_schemas::records::file::FileKind::Regular,
            mode: 0o100_000 | mode,
            uid: 0,
            gid: 0,
            size: 1,
            dev: 1,
            ino: 1,
            nlink: 1,
            atime: Default::default(),
            mtime: Default::default(),
            ctime: Default::default(),
            btime: None,
            attr_immutable: None,
            attr_append: None,
        };
        assert_eq!(tier(Place::Named, &st(0o644), b"x"), Some(0));
        assert_eq!(tier(Place::Odd, &st(0o755), b"x"), Some(1));
        assert_eq!(tier(Place::Odd, &st(0o644), b"run.sh"), Some(1));
        assert_eq!(tier(Place::Odd, &st(0o644), b"data"), Some(3));
        assert_eq!(tier(Place::Deep, &st(0o755), b"x"), Some(2));
        assert_eq!(tier(Place::Deep, &st(0o644), b"x.txt"), None);
        assert_eq!(tier(Place::System, &st(0o644), b"lib.py"), Some(3));
        assert_eq!(tier(Place::Deep, &st(0o644), b"lib.py"), None);
        assert_eq!(tier(Place::Twin, &st(0o755), b"ls"), Some(2));
        assert!(!Place::System.copies() && !Place::Deep.copies() && Place::Startup.copies());
    }
}
