//! The remediation plan as data: numbered actions in a fixed stage order, each with the identity its
//! target had in the snapshot and the findings that call for it, plus recommendations a script cannot
//! carry out. The script generator and the report both read it; neither decides anything.

use std::fmt::Write as _;
use std::net::IpAddr;

use minetrace_schemas::findings::Severity;
use minetrace_schemas::records::host::HostIdentity;
use minetrace_schemas::records::package::PackageManager;
use minetrace_schemas::{escape_bytes, RawBytes};

/// Stages in the order the script runs them. Each stage finishes for every target before the next
/// starts: evidence is copied before anything is destroyed, and every target process is frozen before
/// persistence is removed, so watchdog pairs cannot restart each other or rewrite what was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Preserve,
    Freeze,
    Persistence,
    Kill,
    Contain,
    Repair,
    Verify,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Preserve => "preserve",
            Stage::Freeze => "freeze",
            Stage::Persistence => "persistence",
            Stage::Kill => "kill",
            Stage::Contain => "contain",
            Stage::Repair => "repair",
            Stage::Verify => "verify",
        }
    }
}

/// A process as the snapshot saw it. Acted on only while pid, start time and executable hash still match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProcessTarget {
    pub pid: i32,
    /// Field 22 of `/proc/PID/stat`.
    pub start_ticks: u64,
    /// SHA-256 of the running image; `None` when the snapshot could not read it (then pid and start time
    /// alone identify the process, within the boot the script checks).
    pub exe_sha256: Option<String>,
    pub exe_path: Option<RawBytes>,
    pub comm: RawBytes,
}

/// A regular file as the snapshot saw it. Acted on only while it is still a regular file (not a symlink)
/// with the same device, inode and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileTarget {
    pub path: RawBytes,
    pub dev: u64,
    pub ino: u64,
    pub sha256: String,
    pub size: u64,
}

/// A symbolic link as the snapshot saw it (`lstat`). Acted on only while it is still a symbolic link with
/// the same device, inode and target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkTarget {
    pub path: RawBytes,
    pub dev: u64,
    pub ino: u64,
    /// What the link points to, as `readlink` returns it.
    pub target: RawBytes,
}

/// A directory by identity (device and inode as the snapshot saw it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirTarget {
    pub path: RawBytes,
    pub dev: u64,
    pub ino: u64,
}

/// A process of the snapshot in the kit's respawning set, with the gate of its own kill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetProcess {
    pub pid: i32,
    pub start_ticks: u64,
    pub gate: Gate,
}

/// A kit file by identity, with the gate of the action that removes it: a process that runs it
/// (`/proc/PID/exe`), or an interpreter running it as its script, belongs to the set; a process that
/// merely holds it open (a `tail -f`, an editor, a backup agent) does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFile {
    pub dev: u64,
    pub ino: u64,
    /// The file's path in the snapshot: its inode identifies a member only while the kernel still names
    /// it so (or `PATH (deleted)`): once the file is gone its inode number is handed to the next file.
    pub path: RawBytes,
    /// Size and SHA-256 when a fresh copy of these bytes is the kit's too (a miner downloaded again);
    /// `None` when the snapshot shows the same bytes outside the kit (a package's, a host program's).
    pub content: Option<(u64, String)>,
    pub gate: Gate,
}

/// The kit's respawning set as the script finds it on the host at run time, never by name: the
/// snapshot's processes whose gate is open, every process running a kit file whose gate is open and
/// every interpreter running one as its script (the core), then the core's descendants and every process
/// whose group or session leader is in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespawnSet {
    pub procs: Vec<SetProcess>,
    pub files: Vec<SetFile>,
    /// Where packages install programs (the `package_dir` indicators): a program there is never a
    /// member by its bytes alone.
    pub package_dirs: Vec<String>,
}

/// What a removed line is, for the plan text and for how `--verify` looks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A line of a crontab, profile, rc file, `ld.so.preload`, ...: gone when no whole line equals it.
    Line,
    /// An `authorized_keys` entry: gone when the key blob appears nowhere in the file.
    SshKey {
        key_type: String,
        blob: String,
        fingerprint: String,
    },
}

/// One whole line to remove: its byte range in the snapshot's content (the line and its own `\n`, if
/// it has one) and its exact bytes without the `\n` (a `\r` stays: it is part of the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRemoval {
    pub number: u32,
    pub offset: u64,
    pub len: u64,
    pub bytes: RawBytes,
    pub kind: LineKind,
    pub why: Vec<String>,
    /// Lines of one file are gated one by one: an attacker's key goes with `--apply`, a medium-only key
    /// beside it only when its review item is named.
    pub gate: Gate,
}

/// When `--apply` carries an action out: always (the target is attributed to the intrusion), or only when
/// the operator names one of its review items (`--apply --include N,M` or `--include-review`). No
/// `Default`: a gate is decided for each target, and where that fails it is a review item (fail closed),
/// never `Apply` by omission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Apply,
    /// Open when any of these review items is included; with no number it never opens (the script reads
    /// it as malformed).
    Review(Vec<u32>),
}

impl Gate {
    /// The gate of an action several targets need: open when any of theirs is.
    pub fn or(&self, other: &Gate) -> Gate {
        match (self, other) {
            (Gate::Apply, _) | (_, Gate::Apply) => Gate::Apply,
            (Gate::Review(a), Gate::Review(b)) => {
                let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
                v.sort_unstable();
                v.dedup();
                Gate::Review(v)
            }
        }
    }

    /// ` [review 3]`, ` [review 1,4]`, or nothing.
    pub fn note(&self) -> String {
        match self {
            Gate::Apply => String::new(),
            Gate::Review(v) if v.is_empty() => " [never: no gate]".into(),
            Gate::Review(v) => format!(
                " [review {}]",
                v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            ),
        }
    }
}

/// An action (or set of actions) `--apply` leaves alone unless the operator names it: what it would do,
/// to what, the findings, and why it is not attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItem {
    pub number: u32,
    pub title: String,
    pub target: String,
    pub why: Vec<String>,
    /// Why `--apply` does not act on it unasked.
    pub reason: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Copy the running image (from `/proc/PID/exe`, so deleted files too), cmdline and maps.
    PreserveProcess(ProcessTarget),
    /// Copy a file that a later action removes or rewrites.
    PreserveFile(FileTarget),
    /// SIGSTOP.
    Freeze(ProcessTarget),
    /// Stop the whole respawning set together: the cgroup v2 freezer for a cgroup that holds only
    /// members, SIGSTOP for the others, re-scanning until no member runs (a stopped watchdog restarts
    /// nothing).
    FreezeSet(RespawnSet),
    /// Rewrite a file without some of its lines; every other byte stays. `preserved` is the plan
    /// number of the copy it is rebuilt from. Which lines go depends on the gates open in a run; the
    /// script checks that the file is the snapshot's minus lines it removed before.
    RemoveLines {
        file: FileTarget,
        lines: Vec<LineRemoval>,
        preserved: usize,
        /// The file is kept, and so are the admin's immutable and append-only flags on it and on its
        /// directory: the script clears them to edit, then sets them again; the intrusion's stay cleared
        /// ([`super::locks`]).
        locks: super::locks::LockPolicy,
    },
    /// Stop, disable and remove a systemd unit file (and the links naming it), then reload.
    RemoveUnit {
        unit: String,
        file: FileTarget,
        preserved: usize,
    },
    /// Remove a malicious file after its copy is in the quarantine.
    QuarantineFile { file: FileTarget, preserved: usize },
    /// Remove a kit directory once its members are quarantined: an attacker-created hidden directory
    /// (`PathClass::Hidden`, outside system, package, configuration, log and web places) whose every
    /// recorded entry is a kit file the plan quarantines (its gate is theirs). `dirs` lists it and its
    /// subdirectories, deepest first; each is checked by identity and removed only when empty
    /// (`rmdir`), so nothing the plan did not name ever goes with it.
    RemoveKitDir { dirs: Vec<DirTarget> },
    /// Remove a symbolic link the attacker planted (`~/.bash_history -> /dev/null`); its target is written
    /// to the quarantine manifest and the undo records first.
    RemoveLink(LinkTarget),
    /// SIGKILL.
    Kill(ProcessTarget),
    /// SIGKILL every member of the set (thawing the cgroups frozen for it), wait, re-scan `/proc`: a
    /// member that came back is reported, stopped and killed once more, and the run fails.
    KillSet(RespawnSet),
    /// Block outgoing and forwarded traffic to this address and port, TCP and UDP, in the script's own
    /// nftables table (or iptables chain).
    BlockEndpoint { ip: IpAddr, port: u16 },
    /// Delete an attacker's iptables rule by exact match (`-C` then `-D` with the same arguments), in
    /// the tables the snapshot saw it in (never another: see `firewall::tables_of`).
    DeleteFirewallRule {
        rule: RawBytes,
        args: Vec<RawBytes>,
        family: Option<u8>,
        tables: Vec<String>,
    },
    /// Lock an account and expire it (`usermod -L -e 1`).
    LockAccount { name: RawBytes, uid: Option<u32> },
    /// Move a packaged tool moved away (MT-EVA-024) back to its package path ([`super::rename_back`]):
    /// only while that path is missing and the host's package database records the file's digest for
    /// it. `preserved` is the plan number of its evidence copy.
    RenameBack {
        file: FileTarget,
        back: super::rename_back::MoveBack,
        preserved: usize,
    },
    /// Reinstall the package owning a replaced system file.
    Reinstall {
        file: FileTarget,
        package: Option<String>,
        /// The host's package manager (dpkg → apt, rpm → dnf or yum); `None`: the script probes.
        manager: Option<PackageManager>,
        preserved: usize,
    },
    /// Restart a host service the intrusion made load its code, once the kit's files are gone
    /// ([`super::restarts`]): always a review item; done once the process that mapped the code is gone.
    RestartService(super::restarts::Restart),
    /// Check every item above (runs at the end of `--apply`; `--verify` runs it alone).
    Verify,
}

impl Action {
    pub fn stage(&self) -> Stage {
        match self {
            Action::PreserveProcess(_) | Action::PreserveFile(_) => Stage::Preserve,
            Action::Freeze(_) | Action::FreezeSet(_) => Stage::Freeze,
            Action::RemoveLines { .. }
            | Action::RemoveUnit { .. }
            | Action::QuarantineFile { .. }
            | Action::RemoveKitDir { .. }
            | Action::RemoveLink(_) => Stage::Persistence,
            Action::RenameBack { .. } => Stage::Repair,
            Action::Kill(_) | Action::KillSet(_) => Stage::Kill,
            Action::BlockEndpoint { .. } | Action::DeleteFirewallRule { .. } => Stage::Contain,
            Action::LockAccount { .. } | Action::Reinstall { .. } | Action::RestartService(_) => {
                Stage::Repair
            }
            Action::Verify => Stage::Verify,
        }
    }

    /// What the action does, in a few words.
    pub fn title(&self) -> String {
        match self {
            Action::PreserveProcess(_) => {
                "copy the process's executable, cmdline and maps to the quarantine".into()
            }
            Action::PreserveFile(_) => {
                "copy the file to the quarantine, with its hash and metadata".into()
            }
            Action::Freeze(_) => "freeze the process (SIGSTOP)".into(),
            Action::FreezeSet(_) => "freeze the kit's respawning set together (cgroup freezer when a cgroup holds only the set, else SIGSTOP): processes running a kit file or an interpreter running a kit script, their descendants, groups and sessions".into(),
            Action::RemoveLines { lines, file, .. } => {
                let keys = lines
                    .iter()
                    .filter(|l| matches!(l.kind, LineKind::SshKey { .. }))
                    .count();
                if keys == lines.len() {
                    format!(
                        "remove {keys} authorized_keys entr{} (other bytes kept)",
                        plural_y(keys)
                    )
                } else if super::targets::in_unit_dir(file.path.as_bytes()) {
                    format!(
                        "remove {} line{} of the host's unit (other bytes kept), then reload systemd",
                        lines.len(),
                        plural_s(lines.len())
                    )
                } else {
                    format!(
                        "remove {} line{} (other bytes kept)",
                        lines.len(),
                        plural_s(lines.len())
                    )
                }
            }
            Action::RemoveUnit { .. } => {
                "stop, disable and remove the systemd unit, then reload".into()
            }
            Action::QuarantineFile { .. } => {
                "remove the file (its copy stays in the quarantine)".into()
            }
            Action::RemoveKitDir { dirs } => format!(
                "remove the kit's directory once its files are quarantined ({} director{}, each only when empty; its metadata is recorded in the quarantine)",
                dirs.len(),
                plural_y(dirs.len())
            ),
            Action::RemoveLink(_) => {
                "remove the symbolic link (its target is recorded in the quarantine)".into()
            }
            Action::Kill(_) => "kill the frozen process (SIGKILL)".into(),
            Action::KillSet(_) => "kill the frozen set (SIGKILL), then re-scan /proc for respawns by executable identity and kill them once more".into(),
            Action::BlockEndpoint { .. } => {
                "block traffic to the endpoint (TCP and UDP, IPv4/IPv6 table)".into()
            }
            Action::DeleteFirewallRule { .. } => {
                "delete the attacker's firewall rule (exact match)".into()
            }
            Action::LockAccount { .. } => "lock and expire the account".into(),
            Action::RenameBack { .. } => super::rename_back::TITLE.into(),
            Action::Reinstall { .. } => "reinstall the package that owns the replaced file".into(),
            Action::RestartService(_) => "restart the host's service so that it no longer runs the code the intrusion made it load (only when named; a restart cannot be undone)".into(),
            Action::Verify => "check that every item above is gone".into(),
        }
    }

    /// The target, escaped: printable ASCII only, whatever bytes the host gave.
    pub fn target(&self) -> String {
        match self {
            Action::PreserveProcess(p) | Action::Freeze(p) | Action::Kill(p) => describe_process(p),
            Action::PreserveFile(f) | Action::QuarantineFile { file: f, .. } => describe_file(f),
            Action::RemoveLines { file, lines, .. } => {
                let mut text = describe_file(file);
                for l in lines {
                    let _ = write!(
                        text,
                        "; line {}: {}",
                        l.number,
                        shorten(&l.bytes.escaped(), 160)
                    );
                    if let LineKind::SshKey { fingerprint, .. } = &l.kind {
                        let _ = write!(text, " [{}]", escape_bytes(fingerprint.as_bytes()));
                    }
                }
                text
            }
            Action::RemoveKitDir { dirs } => match dirs.last() {
                Some(top) => format!(
                    "{} (dev {} inode {})",
                    shorten(&top.path.escaped(), 300),
                    top.dev,
                    top.ino
                ),
                None => "-".into(),
            },
            Action::RemoveLink(l) => format!(
                "{} -> {} (dev {} inode {})",
                shorten(&l.path.escaped(), 300),
                shorten(&l.target.escaped(), 200),
                l.dev,
                l.ino
            ),
            Action::RemoveUnit { unit, file, .. } => {
                format!(
                    "unit {} ({})",
                    escape_bytes(unit.as_bytes()),
                    describe_file(file)
                )
            }
            Action::BlockEndpoint { ip, port } => match ip {
                IpAddr::V4(a) => format!("{a}:{port}"),
                IpAddr::V6(a) => format!("[{a}]:{port}"),
            },
            Action::DeleteFirewallRule { rule, .. } => shorten(&rule.escaped(), 300),
            Action::LockAccount { name, uid } => match uid {
                Some(u) => format!("account {} (uid {u})", name.escaped()),
                None => format!("account {}", name.escaped()),
            },
            Action::Reinstall { file, package, .. } => format!(
                "{} (package {})",
                describe_file(file),
                package
                    .as_deref()
                    .map(|p| escape_bytes(p.as_bytes()))
                    .unwrap_or_else(|| "looked up at run time".into())
            ),
            Action::RenameBack { file, back, .. } => super::rename_back::describe(file, back),
            Action::FreezeSet(set) | Action::KillSet(set) => set.describe(),
            Action::RestartService(r) => format!(
                "unit {} (unit file {}; until {} is gone)",
                escape_bytes(r.unit.as_bytes()),
                describe_file(&r.file),
                describe_process(&r.process)
            ),
            Action::Verify => "every item above".into(),
        }
    }
}

impl RespawnSet {
    /// The gate of an action on the whole set: open when any member's is; `None` for an empty set.
    pub fn gate(&self) -> Option<Gate> {
        self.procs
            .iter()
            .map(|p| &p.gate)
            .chain(self.files.iter().map(|f| &f.gate))
            .fold(None, |acc: Option<Gate>, g| {
                Some(acc.map_or_else(|| g.clone(), |a| a.or(g)))
            })
    }

    fn describe(&self) -> String {
        let pids: Vec<String> = self.procs.iter().map(|p| p.pid.to_string()).collect();
        format!(
            "the set found at run time from pid{} {} and {} kit file{} (device and inode, or size and sha256)",
            plural_s(pids.len()),
            if pids.is_empty() {
                "-".to_owned()
            } else {
                pids.join(",")
            },
            self.files.len(),
            plural_s(self.files.len())
        )
    }
}

fn plural_s(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

/// Cuts escaped text (ASCII) to `max` characters.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = text.get(..max).unwrap_or(text).to_owned();
    cut.push_str("...");
    cut
}

fn short_hash(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

fn describe_process(p: &ProcessTarget) -> String {
    let mut text = format!(
        "pid {} ({}) start {}",
        p.pid,
        p.comm.escaped(),
        p.start_ticks
    );
    if let Some(exe) = &p.exe_path {
        let _ = write!(text, " exe {}", shorten(&exe.escaped(), 200));
    }
    if let Some(h) = &p.exe_sha256 {
        let _ = write!(text, " sha256:{}", short_hash(h));
    }
    text
}

fn describe_file(f: &FileTarget) -> String {
    format!(
        "{} (dev {} inode {} sha256:{})",
        shorten(&f.path.escaped(), 300),
        f.dev,
        f.ino,
        short_hash(&f.sha256)
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub action: Action,
    /// The findings that call for it: `RULE severity: title` (escaped).
    pub why: Vec<String>,
    pub gate: Gate,
}

/// Advice the script prints but does not carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    pub text: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub host: HostIdentity,
    pub bundle_sha256: String,
    pub collected_at: String,
    pub analyzer_version: String,
    /// Numbered from 1 in this order.
    pub items: Vec<PlanItem>,
    /// Numbered from 1; actions gated on them name their numbers.
    pub reviews: Vec<ReviewItem>,
    pub recommendations: Vec<Recommendation>,
    /// Subjects of findings at medium or above that the script does not act on, and why (escaped):
    /// left for the responder.
    pub manual: Vec<String>,
    /// Findings at medium or above that the plan is built from.
    pub findings_used: usize,
    pub worst: Option<Severity>,
    /// Groups whose members may use sudo (the `admin_group` indicators): the script never locks the last
    /// member of one (it may be the only way in as root). Written into each `lock` record, so the script
    /// keeps no list of its own.
    pub admin_groups: Vec<Vec<u8>>,
}

impl Plan {
    /// True when the script would do nothing, whatever the operator includes.
    pub fn is_empty(&self) -> bool {
        self.items
            .iter()
            .all(|i| matches!(i.action, Action::Verify))
    }

    /// True when a plain `--apply` (no review item named) would do nothing.
    pub fn applies_nothing_unasked(&self) -> bool {
        self.items
            .iter()
            .all(|i| matches!(i.action, Action::Verify) || i.gate != Gate::Apply)
    }
}

/// The plan as numbered lines of printable ASCII, for the report and the terminal:
/// `N. [stage] action: target (why: ...)`, then recommendations and manual items.
pub fn plan_lines(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, item) in plan.items.iter().enumerate() {
        lines.push(format!(
            "{}. [{}] {}: {} (why: {}){}",
            i + 1,
            item.action.stage().name(),
            item.action.title(),
            item.action.target(),
            if item.why.is_empty() {
                "-".to_owned()
            } else {
                item.why.join("; ")
            },
            item.gate.note()
        ));
    }
    for r in &plan.reviews {
        lines.push(format!(
            "review {}: {}: {} (why: {}; not applied unasked: {})",
            r.number,
            r.title,
            r.target,
            r.why.join("; "),
            r.reason.join("; ")
        ));
    }
    for r in &plan.recommendations {
        lines.push(format!("recommended: {} (why: {})", r.text, r.why));
    }
    for m in &plan.manual {
        lines.push(format!("by hand: {m}"));
    }
    lines
}
