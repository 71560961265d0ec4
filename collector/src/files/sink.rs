//! Where every file artifact lands: [`Ctx`] holds what the families share for the run (the root, the
//! accounts, budgets, what was already recorded), [`Sink`] turns a host path into a [`FileRecord`] and,
//! per [`Content`] policy, an `fs/<path>` member.
//!
//! Only regular files are ever opened, through [`crate::host_read`]; links are recorded with their target
//! and explicit targets are followed inside the root; everything else is recorded by its type alone.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::escape_bytes;
use minetrace_schemas::manifest::ArtifactLog;
use minetrace_schemas::records::account::ShadowEntry;
use minetrace_schemas::records::file::{
    FileKind, FileRecord, CONTENT_REDACTED, CONTENT_WITHHELD, FS_APPEND_FL, FS_IMMUTABLE_FL,
};
use minetrace_schemas::records::package::PackageCheck;
use minetrace_schemas::RawBytes;

use super::file_meta::{self, Stat};
use super::host_root::{file_name, HostRoot, ResolveError};
use crate::collection::{note_error, Collection};
use crate::host_read::{self, Keep};
use crate::options::Options;

/// Cap on configuration-like files (crontabs, units, sudoers, authorized_keys): far above any real one,
/// so a 10,000-line crontab is kept whole while a shaped 2 GB "crontab" costs 4 MiB.
pub const CONFIG_CAP: u64 = 4 << 20;

/// Decides what of a file's content may leave the host, from its name and the bytes read.
pub type Guard = fn(name: &[u8], bytes: &[u8]) -> Release;

/// What a [`Guard`] lets leave the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// Stored as read.
    Whole,
    /// Stored with `count` secret values replaced by markers (a miner's config: its pools and wallet are
    /// evidence, its pool password is not the analyst's business). The record's sha256 stays the host
    /// file's.
    Redacted { bytes: Vec<u8>, count: usize },
    /// Only hashed, for this reason (private keys, credential files).
    Withheld(&'static str),
}

/// What is kept of a regular file besides its metadata.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// Metadata and inode flags only; the content is never read.
    Meta,
    /// Read and hashed, never stored.
    HashOnly { cap: u64 },
    /// Read for the caller to derive something from; neither stored nor hashed (`/etc/shadow`).
    Secret { cap: u64 },
    /// Stored from the head.
    Head { cap: u64 },
    /// Stored from the tail (logs, histories).
    Tail { cap: u64 },
    /// Stored as `guard` decides: whole, redacted, or only hashed.
    Guarded { cap: u64, guard: Guard },
    /// Recorded by metadata now and queued for the `spend` pass, which hashes it and copies it (ELF) or
    /// stores its head (script) in order of suspicion within the run's budgets ([`super::spend`]).
    Suspect(super::spend::Place),
}

impl Content {
    /// Whether this policy may add a member.
    pub fn stores(&self) -> bool {
        !matches!(
            self,
            Content::Meta | Content::HashOnly { .. } | Content::Secret { .. } | Content::Suspect(_)
        )
    }
}

/// An account from the host's (or image's) `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: Vec<u8>,
    pub uid: u32,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

/// A home directory, with the account owning it when `passwd` names one.
pub type Home = (Vec<u8>, Option<Account>);

/// State shared by the file families for one run.
pub struct Ctx {
    pub root: HostRoot,
    pub accounts: Vec<Account>,
    /// Distinct home directories (from passwd, `/root`, and `/home/*`), with the account owning each when
    /// one does.
    pub homes: Vec<Home>,
    /// Directory inodes already walked.
    pub walked: HashSet<(u64, u64)>,
    /// Host path → index in `col.files`.
    pub recorded: HashMap<Vec<u8>, usize>,
    /// Copied inode → (member, sha256), so hard links and repeats are stored once.
    pub copied: HashMap<(u64, u64), (String, String)>,
    /// sha256 → member of every whole copy, so the same bytes under another inode are stored once.
    pub copied_sha: HashMap<String, String>,
    pub max_copy_file: u64,
    pub copy_left: u64,
    /// Bytes still to spend on script heads ([`super::spend::SCRIPT_TOTAL`] per run).
    pub script_left: u64,
    /// Files queued for hashing and copying by suspicion ([`super::spend`]).
    pub spend: super::spend::SpendQueue,
    /// Files the live pass read whole (running executables), by (dev, inode).
    pub read_before: HashMap<(u64, u64), super::spend::ReadBefore>,
    /// The run's start, seconds since the epoch (what "recently changed" is measured against).
    pub now: i64,
    pub max_log: u64,
    /// Bytes of whole journal files the run may store ([`super::journal`]).
    pub max_journal: u64,
    pub shadow: Vec<ShadowEntry>,
    pub packages: Vec<PackageCheck>,
    /// `HISTFILE=` values found in shell start-up files, with the home they apply to (`None`: everyone).
    pub histfiles: Vec<(Option<Vec<u8>>, Vec<u8>)>,
    /// Libraries named by `/etc/ld.so.preload`.
    pub preload_libs: Vec<Vec<u8>>,
    /// Absolute paths named by stored persistence entries, in the order met (see [`super::references`]):
    /// those named by files no package owns, then those named by package-owned files (stock init
    /// scripts and units name many paths; an attacker's entries must not wait behind them).
    pub references: [Vec<Vec<u8>>; 2],
    reference_set: HashSet<Vec<u8>>,
    /// Those of them a line runs as a script through an interpreter or `.` (`sh /etc/x`): stored as a
    /// script would be, redacted, never withheld for its variables ([`super::secrets::release_script`]).
    pub interpreted: HashSet<Vec<u8>>,
    /// The collected root's mount table ([`super::mounts`]); walks note the mounts they enter.
    pub mounts: super::mounts::MountTable,
    /// Firewall tools started ahead of their family (live mode, [`super::firewall::start_tools`]).
    pub tool_runs: Option<super::firewall::ToolRuns>,
    /// Package digests read ahead of their family ([`super::packages::start_early`]).
    pub early_digests: Option<super::packages::EarlyDigests>,
}

impl Ctx {
    pub fn new(root: HostRoot, options: &Options) -> Self {
        Self::after_live(root, options, &crate::collection::LiveHandoff::default())
    }

    /// Takes from the live pass its copies ((dev, inode) → member, sha256) and what they took from the
    /// run's copy budget, so a file is stored once and the budget is the run's, and the digests it made,
    /// so a running executable is read once.
    pub fn after_live(
        root: HostRoot,
        options: &Options,
        handoff: &crate::collection::LiveHandoff,
    ) -> Self {
        let copied_already = &handoff.copies;
        Ctx {
            root,
            accounts: Vec::new(),
            homes: Vec::new(),
            walked: HashSet::new(),
            recorded: HashMap::new(),
            copied: copied_already
                .iter()
                .map(|(id, member, sha)| (*id, (member.clone(), sha.clone())))
                .collect(),
            copied_sha: copied_already
                .iter()
                .map(|(_, member, sha)| (sha.clone(), member.clone()))
                .collect(),
            max_copy_file: options.max_copy_file_bytes,
            copy_left: options
                .max_copy_total_bytes
                .saturating_sub(handoff.copied_bytes),
            script_left: super::spend::SCRIPT_TOTAL,
            spend: super::spend::SpendQueue::default(),
            read_before: handoff
                .images
                .iter()
                .map(|r| (r.stat.id(), r.clone()))
                .collect(),
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            max_log: options.max_log_bytes,
            max_journal: options.max_journal_bytes,
            shadow: Vec::new(),
            packages: Vec::new(),
            histfiles: Vec::new(),
            preload_libs: Vec::new(),
            references: [Vec::new(), Vec::new()],
            reference_set: HashSet::new(),
            interpreted: HashSet::new(),
            mounts: super::mounts::MountTable::default(),
            tool_runs: None,
            early_digests: None,
        }
    }

    /// The member already holding this inode or these bytes, if any.
    pub fn copied_member(&self, id: (u64, u64), sha: &str) -> Option<String> {
        self.copied
            .get(&id)
            .filter(|(_, s)| s == sha)
            .map(|(m, _)| m.clone())
            .or_else(|| self.copied_sha.get(sha).cloned())
    }

    /// Remembers a whole copy, by inode and by digest.
    pub fn remember_copy(&mut self, id: (u64, u64), member: &str, sha: &str) {
        self.copied.insert(id, (member.to_owned(), sha.to_owned()));
        self.copied_sha
            .entry(sha.to_owned())
            .or_insert_with(|| member.to_owned());
    }

    /// Remembers the absolute paths a stored file of `category` names (`owned`: a package owns the file).
    fn note_references(&mut self, category: &str, bytes: &[u8], owned: bool) {
        let cap = super::references::MAX_REFERENCES;
        let [first, second] = &mut self.references;
        let list = if owned { second } else { first };
        if list.len() >= cap {
            return;
        }
        let (paths, interpreted) = super::references::extract_named(category, bytes);
        for p in paths {
            if list.len() >= cap {
                break;
            }
            if self.reference_set.insert(p.clone()) {
                list.push(p);
            }
        }
        for p in interpreted {
            if self.interpreted.len() >= cap {
                break;
            }
            self.interpreted.insert(p);
        }
    }
}

pub struct Sink<'a, W: Write> {
    pub col: &'a mut Collection<W>,
    pub log: &'a mut ArtifactLog,
    pub ctx: &'a mut Ctx,
    /// Category written on the records this sink makes; families switch it as they go.
    pub category: &'static str,
    /// Content bytes this sink stored so far.
    pub stored_bytes: u64,
}

impl<'a, W: Write> Sink<'a, W> {
    pub fn new(
        col: &'a mut Collection<W>,
        log: &'a mut ArtifactLog,
        ctx: &'a mut Ctx,
        category: &'static str,
    ) -> Self {
        Sink {
            col,
            log,
            ctx,
            category,
            stored_bytes: 0,
        }
    }

    /// Logs a per-target problem.
    pub fn note(&mut self, target: &[u8], message: impl std::fmt::Display) {
        note_error(self.log, escape_bytes(target), message);
    }

    fn push(&mut self, rec: FileRecord) -> usize {
        let index = self.col.files.len();
        self.ctx.recorded.insert(rec.path.0.clone(), index);
        self.col.files.push(rec);
        self.log.items += 1;
        index
    }

    /// Adds a reason to a record already made (`None` is ignored).
    pub fn set_error(&mut self, index: Option<usize>, message: impl Into<String>) {
        let message = message.into();
        if let Some(rec) = index.and_then(|i| self.col.files.get_mut(i)) {
            rec.error = Some(match rec.error.take() {
                Some(old) => format!("{old}; {message}"),
                None => message,
            });
        }
    }

    /// Fills in inode flags read after the record was made (directories, when they are opened to list).
    pub fn set_flags(&mut self, index: Option<usize>, flags: Option<u32>) {
        if let (Some(rec), Some(f)) = (index.and_then(|i| self.col.files.get_mut(i)), flags) {
            rec.flags = Some(f);
            rec.immutable = f & FS_IMMUTABLE_FL != 0;
            rec.append_only = f & FS_APPEND_FL != 0;
        }
    }

    /// Records a path that could not even be `stat`ed.
    pub fn record_error(&mut self, path: &[u8], message: String) -> usize {
        self.note(path, &message);
        if let Some(&i) = self.ctx.recorded.get(path) {
            return i;
        }
        let rec = file_meta::error_record(path, self.category, message);
        self.push(rec)
    }

    /// Records metadata only (links with their target, special files, directories). Returns the index of
    /// the record, or of the earlier record of the same path.
    pub fn record_stat(
        &mut self,
        path: &[u8],
        st: &Stat,
        flags: Option<u32>,
    ) -> Result<usize, WriteError> {
        if let Some(&i) = self.ctx.recorded.get(path) {
            return Ok(i);
        }
        let mut rec = file_meta::record(path, self.category, st, flags);
        if st.kind == FileKind::Symlink {
            match self.ctx.root.read_link(path) {
                Ok(t) => rec.link_target = Some(RawBytes::new(t)),
                Err(e) => rec.error = Some(format!("readlink: {e}")),
            }
        }
        Ok(self.push(rec))
    }

    /// Records a directory with the flags read from its open descriptor.
    pub fn record_dir(
        &mut self,
        path: &[u8],
        st: &Stat,
        flags: Option<u32>,
    ) -> Result<usize, WriteError> {
        let existed = self.ctx.recorded.get(path).copied();
        let i = self.record_stat(path, st, flags)?;
        if existed.is_some() {
            self.set_flags(Some(i), flags);
        }
        Ok(i)
    }

    fn record_crossed(&mut self, crossed: &[super::host_root::Crossed]) -> Result<(), WriteError> {
        for c in crossed {
            if self.ctx.recorded.contains_key(&c.link) {
                continue;
            }
            if let Ok(st) = self.ctx.root.lstat(&c.link) {
                self.record_stat(&c.link, &st, None)?;
            }
        }
        Ok(())
    }

    fn resolve(&mut self, path: &[u8], follow_final: bool) -> Result<Option<Vec<u8>>, WriteError> {
        match self.ctx.root.resolve(path, follow_final) {
            Ok(r) => {
                self.record_crossed(&r.crossed)?;
                if r.clamped {
                    self.note(
                        path,
                        "a link climbed above the root with '..'; it was held at the root, as the kernel does",
                    );
                }
                Ok(Some(r.path))
            }
            Err(ResolveError::NotFound) => Ok(None),
            Err(e) => {
                self.record_error(path, format!("not resolved: {e}"));
                Ok(None)
            }
        }
    }

    /// Resolves a directory to walk (following a final link inside the root, recording it). `None` when it
    /// does not exist or is not a directory (which is then recorded as what it is).
    pub fn enter_dir(&mut self, path: &[u8]) -> Result<Option<(Vec<u8>, Stat)>, WriteError> {
        let Some(resolved) = self.resolve(path, true)? else {
            return Ok(None);
        };
        match self.ctx.root.lstat(&resolved) {
            Ok(st) if st.is_dir() => Ok(Some((resolved, st))),
            Ok(st) => {
                self.record_stat(&resolved, &st, None)?;
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                self.record_error(&resolved, format!("lstat: {e}"));
                Ok(None)
            }
        }
    }

    /// Collects one named host path: resolves it inside the root (recording links crossed), records what
    /// is there, follows a final link once (recording both), and keeps content per `content`. Returns the
    /// bytes read when the policy reads any. A path that does not exist is silently absent.
    pub fn capture(
        &mut self,
        path: &[u8],
        content: Content,
    ) -> Result<Option<Vec<u8>>, WriteError> {
        self.capture_as(path, content, None)
    }

    /// Like [`Sink::capture`], for a file its caller judged first (resolved, `lstat`ed, found to be on
    /// no kernel file system): the path is resolved afresh, and what it leads to is read only when it is
    /// still the `(dev, inode)` that was judged — otherwise it is recorded as replaced and not read. With
    /// [`Sink::capture_stat`] comparing the opened descriptor to that `lstat`, the bytes read are the
    /// judged file's whatever a running kit swaps in between.
    pub fn capture_checked(
        &mut self,
        path: &[u8],
        content: Content,
        checked: (u64, u64),
    ) -> Result<Option<Vec<u8>>, WriteError> {
        self.capture_as(path, content, Some(checked))
    }

    fn capture_as(
        &mut self,
        path: &[u8],
        content: Content,
        checked: Option<(u64, u64)>,
    ) -> Result<Option<Vec<u8>>, WriteError> {
        let Some(resolved) = self.resolve(path, false)? else {
            return Ok(None);
        };
        let st = match self.ctx.root.lstat(&resolved) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                self.record_error(&resolved, format!("lstat: {e}"));
                return Ok(None);
            }
        };
        let swapped = |st: &Stat| checked.is_some_and(|id| id != st.id());
        match st.kind {
            FileKind::Regular if swapped(&st) => self.replaced(&resolved, &st),
            FileKind::Regular => Ok(self.capture_stat(&resolved, &st, content)?.1),
            FileKind::Symlink => {
                self.record_stat(&resolved, &st, None)?;
                let Some(target) = self.resolve(&resolved, true)? else {
                    return Ok(None);
                };
                match self.ctx.root.lstat(&target) {
                    Ok(tst) if tst.kind == FileKind::Regular && swapped(&tst) => {
                        self.replaced(&target, &tst)
                    }
                    Ok(tst) if tst.kind == FileKind::Regular => {
                        Ok(self.capture_stat(&target, &tst, content)?.1)
                    }
                    Ok(tst) => {
                        self.record_stat(&target, &tst, None)?;
                        Ok(None)
                    }
                    Err(_) => Ok(None),
                }
            }
            _ => {
                self.record_stat(&resolved, &st, None)?;
                Ok(None)
            }
        }
    }

    /// Records by metadata alone a file that is not the one its caller judged ([`Sink::capture_checked`]).
    fn replaced(&mut self, path: &[u8], st: &Stat) -> Result<Option<Vec<u8>>, WriteError> {
        let why = "replaced since it was checked (a swap while it was being collected): not read";
        let i = self.record_stat(path, st, None)?;
        self.set_error(Some(i), why);
        self.note(path, why);
        Ok(None)
    }

    /// Records a regular file at an already resolved path, keeping content per `content`: the opened
    /// descriptor must be the `(dev, inode)` of `st`, the metadata the caller judged, or nothing is read.
    /// Returns the record's index and the bytes read, if any.
    pub fn capture_stat(
        &mut self,
        path: &[u8],
        st: &Stat,
        content: Content,
    ) -> Result<(usize, Option<Vec<u8>>), WriteError> {
        if let Some(&i) = self.ctx.recorded.get(path) {
            if matches!(content, Content::Suspect(super::spend::Place::Named)) {
                self.ctx.spend.promote(path);
            }
            return Ok((i, None));
        }
        if let Content::Suspect(place) = content {
            return Ok((self.queue(path, st, place), None));
        }
        let real = self.ctx.root.real(path);
        let (file, _) = match host_read::open_regular(&real) {
            Ok(v) => v,
            Err(e) => {
                let mut rec = file_meta::record(path, self.category, st, None);
                rec.error = Some(format!("open: {e}"));
                self.note(path, format!("open: {e}"));
                return Ok((self.push(rec), None));
            }
        };
        let fst = file_meta::fstat(&file).unwrap_or_else(|_| st.clone());
        if fst.id() != st.id() {
            let why = "open: replaced between its lstat and its open: not read";
            let mut rec = file_meta::record(path, self.category, st, None);
            rec.error = Some(why.into());
            self.note(path, why);
            return Ok((self.push(rec), None));
        }
        let flags = file_meta::inode_flags(&file);
        let mut rec = file_meta::record(path, self.category, &fst, flags);
        if is_password_database(path) && content.stores() {
            rec.error = Some(format!(
                "{CONTENT_WITHHELD}password hashes are never collected"
            ));
            return Ok((self.push(rec), None));
        }
        let (cap, keep) = match content {
            Content::Meta | Content::Suspect(_) => return Ok((self.push(rec), None)),
            Content::HashOnly { cap }
            | Content::Secret { cap }
            | Content::Head { cap }
            | Content::Guarded { cap, .. } => (cap, Keep::Head),
            Content::Tail { cap } => (cap, Keep::Tail),
        };
        let dup = file.try_clone().ok();
        let read = host_read::read_open_capped(file, fst.size, cap, keep);
        // A write racing the read shows in the size or times of the same open file.
        if let Some(after) = dup.as_ref().and_then(|d| file_meta::fstat(d).ok()) {
            if file_meta::changed_between(&fst, &after) {
                let why = "file changed while it was read: the copy may mix old and new bytes";
                self.note(path, why);
                rec.error = Some(why.into());
            }
        }
        let capped = match read {
            Ok(c) => c,
            Err(e) => {
                rec.error = Some(format!("read: {e}"));
                self.note(path, format!("read: {e}"));
                return Ok((self.push(rec), None));
            }
        };
        rec.truncated = capped.truncated;
        let whole = !capped.truncated;
        let bytes = capped.bytes;
        match content {
            Content::Secret { .. } => {}
            Content::HashOnly { .. } => {
                if whole {
                    rec.sha256 = Some(file_meta::sha256_hex(&bytes));
                }
            }
            Content::Guarded { guard, .. } => match guard(file_name(path), &bytes) {
                Release::Whole => self.store(path, &mut rec, &bytes, whole)?,
                Release::Withheld(reason) => {
                    rec.sha256 = whole.then(|| file_meta::sha256_hex(&bytes));
                    rec.truncated = false;
                    rec.error = Some(format!("{CONTENT_WITHHELD}{reason}"));
                    let i = self.push(rec);
                    return Ok((i, None));
                }
                Release::Redacted {
                    bytes: redacted,
                    count,
                } => {
                    // The member holds the redacted copy (the manifest hashes it); the record keeps the
                    // host file's sha256, which hash indicators and the remediation's identity checks
                    // compare, and which no longer matches the member, so nothing edits from this copy.
                    self.store(path, &mut rec, &redacted, false)?;
                    rec.sha256 = whole.then(|| file_meta::sha256_hex(&bytes));
                    rec.error = Some(format!(
                        "{CONTENT_REDACTED}{count} secret value(s) replaced by '{}N bytes]' markers; sha256 is of the host file",
                        minetrace_schemas::miner_config::REDACTED_PREFIX
                    ));
                    let i = self.push(rec);
                    return Ok((i, Some(redacted)));
                }
            },
            Content::Head { .. } => {
                // Whatever a link led here, private key material is never stored.
                if let Some(reason) = armoured_private_key(&bytes) {
                    rec.sha256 = whole.then(|| file_meta::sha256_hex(&bytes));
                    rec.error = Some(format!("{CONTENT_WITHHELD}{reason}"));
                    return Ok((self.push(rec), None));
                }
                self.store(path, &mut rec, &bytes, whole)?;
            }
            _ => self.store(path, &mut rec, &bytes, whole)?,
        }
        let i = self.push(rec);
        Ok((i, Some(bytes)))
    }

    fn store(
        &mut self,
        path: &[u8],
        rec: &mut FileRecord,
        bytes: &[u8],
        whole: bool,
    ) -> Result<(), WriteError> {
        if super::references::SOURCE_CATEGORIES.contains(&self.category) {
            let owned = self.col.package_db.index().is_some_and(|i| i.owns(path));
            self.ctx.note_references(self.category, bytes, owned);
        }
        let member = fs_member(path);
        if !self.col.has_member(&member) {
            self.col.add_member(&member, bytes)?;
            self.stored_bytes += bytes.len() as u64;
        }
        if whole {
            rec.sha256 = Some(file_meta::sha256_hex(bytes));
        }
        rec.member = Some(member);
        Ok(())
    }

    /// Records a regular file by its `lstat` metadata and queues it for the `spend` pass (or counts it as
    /// listed only, when its place and metadata give it no tier). Nothing under a bind mount of another
    /// directory is copied.
    fn queue(&mut self, path: &[u8], st: &Stat, place: super::spend::Place) -> usize {
        let rec = file_meta::record(path, self.category, st, None);
        let index = self.push(rec);
        match super::spend::tier(place, st, file_name(path)) {
            Some(tier) => {
                // A package's file is its package's bytes (checked by `packages`) unless something
                // names it (a persistence entry, the preload list, a digest mismatch), and a bind mount
                // shows bytes that live elsewhere: hashed, not copied.
                let owned = place != super::spend::Place::Named
                    && self.col.package_db.index().is_some_and(|i| i.owns(path));
                let bound = self.ctx.mounts.under_bind(path);
                let no_copy = if bound {
                    Some(super::spend::UNDER_BIND)
                } else if owned {
                    Some(super::spend::PACKAGE_OWNED)
                } else if !place.copies() {
                    Some(super::spend::HASHED_ONLY)
                } else {
                    None
                };
                let head = place.stores_heads() && !owned && !bound;
                let real = self.ctx.root.real(path);
                let now = self.ctx.now;
                self.ctx
                    .spend
                    .push(index, path, real, st, tier, (no_copy, head), now);
            }
            None => self.ctx.spend.listed_only += 1,
        }
        index
    }
}

/// The files holding password hashes: whatever path or link leads to them, their bytes are not stored.
pub fn is_password_database(path: &[u8]) -> bool {
    matches!(
        path,
        b"/etc/shadow"
            | b"/etc/shadow-"
            | b"/etc/gshadow"
            | b"/etc/gshadow-"
            | b"/etc/security/opasswd"
    )
}

/// PEM/OpenSSH/PuTTY private key armour anywhere in `bytes`.
pub fn armoured_private_key(bytes: &[u8]) -> Option<&'static str> {
    // Every byte that may be stored, not a head: a key appended past the first 64 KiB of a crontab or a
    // configuration would otherwise leave the host (the caller's cap bounds the scan).
    let found = bytes.starts_with(b"PuTTY-User-Key-File")
        || bytes
            .windows(b"PRIVATE KEY-----".len())
            .any(|w| w == b"PRIVATE KEY-----");
    found.then_some("private key material is never collected")
}

#[cfg(test)]
pub mod test_support {
    //! A collection writing to memory over a temporary image root, for the families' unit tests.

    use super::*;
    use crate::options::Output;
    use minetrace_schemas::bundle::BundleWriter;

    /// Writes a file of the test image, with its directories and `mode`.
    pub fn put(root: &std::path::Path, path: &str, bytes: &[u8], mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub struct Harness {
        pub col: Collection<Vec<u8>>,
        pub log: ArtifactLog,
        pub ctx: Ctx,
    }

    impl Harness {
        pub fn new(root: &std::path::Path) -> Self {
            let mut options = Options::for_tests(Output::Stdout);
            options.root = Some(root.to_owned());
            let writer = BundleWriter::new(Vec::new(), 0, 0).expect("writer");
            let ctx = Ctx::new(HostRoot::under(root).expect("root"), &options);
            Harness {
                col: Collection::new(writer, options),
                log: ArtifactLog::default(),
                ctx,
            }
        }

        pub fn sink(&mut self, category: &'static str) -> Sink<'_, Vec<u8>> {
            Sink::new(&mut self.col, &mut self.log, &mut self.ctx, category)
        }

        pub fn record(&self, path: &str) -> Option<&FileRecord> {
            self.col
                .files
                .iter()
                .find(|f| f.path.as_bytes() == path.as_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::Harness;
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_file_written_during_the_read_is_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grow.log");
        std::fs::write(&path, vec![b'a'; 8 << 20]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, path) = (stop.clone(), path.clone());
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    f.write_all(b"more\n").unwrap();
                }
            })
        };
        // The writer has to land between the two stats around the read; on a loaded machine one try can
        // miss it, fifty cannot all miss.
        let mut flagged = None;
        for _ in 0..50 {
            let mut h = Harness::new(dir.path());
            h.sink("t")
                .capture(b"/grow.log", Content::Head { cap: 64 << 20 })
                .unwrap();
            let rec = h.record("/grow.log").unwrap().clone();
            if rec.error.is_some() {
                flagged = Some((rec, h.log.errors.clone()));
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        let (rec, errors) = flagged.expect("a file growing during every read was never flagged");
        assert!(
            rec.error
                .as_deref()
                .unwrap_or("")
                .contains("changed while it was read"),
            "{rec:?}"
        );
        assert!(errors.iter().any(|e| e.message.contains("changed while")));
    }

    #[test]
    fn a_link_to_shadow_or_a_private_key_never_stores_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/shadow"), b"root:$6$x$secret:1::::::\n").unwrap();
        std::fs::write(
            dir.path().join("etc/k"),
            b"-----BEGIN RSA PRIVATE KEY-----\nsecret\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("shadow", dir.path().join("etc/crontab")).unwrap();
        std::os::unix::fs::symlink("k", dir.path().join("etc/profile")).unwrap();
        let mut h = Harness::new(dir.path());
        let mut s = h.sink("cron");
        assert!(s
            .capture(b"/etc/crontab", Content::Head { cap: 1 << 20 })
            .unwrap()
            .is_none());
        assert!(s
            .capture(b"/etc/profile", Content::Head { cap: 1 << 20 })
            .unwrap()
            .is_none());
        let shadow = h.record("/etc/shadow").unwrap();
        assert!(shadow.member.is_none() && shadow.sha256.is_none());
        assert!(h.record("/etc/k").unwrap().member.is_none());
        assert_eq!(h.record("/etc/crontab").unwrap().kind, FileKind::Symlink);
    }
}
