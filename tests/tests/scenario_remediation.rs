//! Issue 8 "Done when", end to end: for every malicious scenario, the real `minetrace remediate` writes
//! `remediate.sh` from the bundle the real collector took in the sandbox; the script is copied into that same
//! live sandbox and run as an operator would (`bash remediate.sh`, as root):
//!
//! 1. the dry run changes nothing: files under the persistence and kit locations (type, mode, owner, size,
//!    inode, times, inode flags, link target, content hash), every planted path, the process table (pid,
//!    start time, stopped or running, argv, image) and the firewall (`iptables-save`, `ip6tables-save`,
//!    `nft list ruleset`) are the same before and after;
//! 2. `--apply` exits 0; after a wait no miner process is alive (the snapshot's pid and start time, the same
//!    image, or the same argv respawned), no planted persistence line, attacker key or malicious file is
//!    left, every malicious endpoint is blocked (a TCP connect from inside fails; it succeeded before), and
//!    legitimate processes, files, lines and keys are byte-identical (a file that held both keeps exactly its
//!    legitimate lines); nothing the scenario did not plant changed (account files: only the lines of
//!    accounts the scenario added may change, and only in shadow files; shadow-utils' backups beside
//!    them may be rewritten);
//! 3. `--apply` again exits 0 and changes nothing; 4. `--verify` exits 0; 5. re-collecting and re-analysing
//!    gives verdict `clean`.
//!
//! `hostile-names` also proves `/tmp/pwned` (and any other file a hostile name would create) never appears,
//! inside or on the host; `watchdog-pair-cron-unit` that the pair is still dead after a second wait.
//! `stale_identity_is_skipped`: a pid reused by a harmless process and target files swapped for symlinks
//! to `/etc/shadow` after collection are skipped and reported; `/etc/shadow` and the harmless process are
//! untouched.
//!
//! A failure lists every problem, then the transcript: findings, the plan, and the output of each run.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::time::Duration;

use minetrace_e2e::analysis::{analyze, remediation_script, BundleFile};
use minetrace_e2e::live::{host_absent_paths, leaked, preexisting, Live, PWNED_MARKERS};
use minetrace_e2e::sandbox::fs::Meta;
use minetrace_e2e::sandbox::Sandbox;
use minetrace_e2e::scenario::{self, Verdict};
use minetrace_e2e::state::{self, reachable, Proc, Snapshot};
use minetrace_e2e::truth::{key_fingerprint, Subject};
use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::Verdict as FoundVerdict;
use minetrace_schemas::findings::{
    Finding, FindingsDocument, Severity as FoundSeverity, Subject as FoundSubject,
};

/// Where the script is copied inside the sandbox (outside every snapshot tree).
const SCRIPT_DIR: &[u8] = b"/var/lib/mt-e2e";
const SCRIPT: &str = "/var/lib/mt-e2e/remediate.sh";
/// The remediation's default quarantine and log location (ignored when comparing two `--apply` runs).
const QUARANTINE: &[u8] = b"/var/lib/minetrace";
/// How long a killed miner gets to come back (watchdog respawn is within a second).
const WAIT: Duration = Duration::from_secs(3);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
/// Account databases: checked line by line, not as whole files.
const ACCOUNT_FILES: &[&[u8]] = &[
    b"/etc/passwd",
    b"/etc/shadow",
    b"/etc/group",
    b"/etc/gshadow",
];
/// What shadow-utils (`usermod -L`) writes beside them when an account is locked: its backups of the
/// previous databases and its lock file. Not collateral damage.
const ACCOUNT_TOOL_FILES: &[&[u8]] = &[
    b"/etc/passwd-",
    b"/etc/shadow-",
    b"/etc/group-",
    b"/etc/gshadow-",
    b"/etc/.pwd.lock",
];

fn show(b: &[u8]) -> String {
    escape_bytes(b)
}

fn under(path: &[u8], dir: &[u8]) -> bool {
    path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

/// Everything a failure message needs besides the problems.
#[derive(Default)]
struct Transcript(Vec<(String, String)>);

impl Transcript {
    fn add(&mut self, title: impl Into<String>, text: impl Into<String>) {
        self.0.push((title.into(), text.into()));
    }

    fn output(&mut self, title: &str, out: &Output) {
        self.add(
            format!("{title} (exit {:?})", out.status.code()),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        );
    }

    fn render(&self) -> String {
        self.0
            .iter()
            .map(|(t, x)| format!("--- {t} ---\n{}\n", x.trim_end()))
            .collect()
    }
}

fn fail_report(id: &str, problems: &[String], log: &Transcript) -> String {
    let mut seen = BTreeSet::new();
    let problems: Vec<&String> = problems.iter().filter(|p| seen.insert(*p)).collect();
    let problems: Vec<String> = problems.into_iter().cloned().collect();
    format!(
        "{id}: {} problem(s):\n  - {}\n\n{}",
        problems.len(),
        problems.join("\n  - "),
        log.render()
    )
}

/// Copies the script into the sandbox (root, 0700).
fn install_script(sb: &Sandbox, script: &[u8]) {
    let meta = Meta {
        mode: 0o700,
        uid: 0,
        gid: 0,
    };
    sb.fs().mkdir_all(SCRIPT_DIR, meta).unwrap();
    sb.fs().write_file(SCRIPT.as_bytes(), script, meta).unwrap();
}

/// `bash remediate.sh [MODE] [ARGS]` inside the sandbox.
fn run_script_with(sb: &Sandbox, mode: Option<&str>, args: &[String]) -> Output {
    let mut argv = vec!["bash", SCRIPT];
    argv.extend(mode);
    argv.extend(args.iter().map(String::as_str));
    sb.run_with_stdin(&argv, b"", SCRIPT_TIMEOUT)
        .unwrap_or_else(|e| panic!("running remediate.sh {mode:?} {args:?}: {e:#}"))
}

/// `bash remediate.sh [MODE]` inside the sandbox.
fn run_script(sb: &Sandbox, mode: Option<&str>) -> Output {
    run_script_with(sb, mode, &[])
}

/// A review item of the plan as `minetrace remediate` lists it: `review N: TITLE: TARGET (why: ...`.
struct Review {
    number: u32,
    target: String,
}

fn reviews(plan: &str) -> Vec<Review> {
    plan.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("review ")?;
            let (n, rest) = rest.split_once(": ")?;
            let (_title, rest) = rest.split_once(": ")?;
            let target = rest.split(" (why: ").next()?;
            Some(Review {
                number: n.parse().ok()?,
                target: target.to_owned(),
            })
        })
        .collect()
}

/// Whether review target text names a ground-truth subject (targets are escaped as the plan prints them).
fn review_names(target: &str, s: &Subject) -> bool {
    match s {
        Subject::Process { pid, .. } => target.starts_with(&format!("pid {pid} (")),
        Subject::File { path, .. } => {
            target == path.escaped() || target.starts_with(&format!("{} -> ", path.escaped()))
        }
        // A line, or the whole file when every line of it goes.
        Subject::Persistence { path, line, .. } | Subject::SshKey { path, line, .. } => {
            target.starts_with(&format!("{} line {line}: ", path.escaped()))
                || target == path.escaped()
        }
        Subject::Endpoint { addr } => target == addr,
        Subject::Account { name, .. } => target == escape_bytes(name.as_bytes()),
        Subject::FirewallRule { rule } => target == escape_bytes(rule.as_bytes()),
    }
}

/// What the test, as the operator who read the dry run, names: the review items whose target is one of
/// the scenario's malicious subjects. The others (look-alikes the detectors doubted) stay untouched.
fn operator_includes(plan: &str, live: &Live) -> (Vec<u32>, Vec<Subject>) {
    let mut numbers = Vec::new();
    let mut subjects = Vec::new();
    for r in reviews(plan) {
        if let Some(s) = live
            .truth
            .malicious
            .iter()
            .find(|s| review_names(&r.target, s))
        {
            numbers.push(r.number);
            subjects.push(s.clone());
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    (numbers, subjects)
}

/// Malicious subjects of review items that a plain `--apply` wrongly carried out (they must be there).
fn reviewed_but_gone(sb: &Sandbox, snap: &Snapshot, subjects: &[Subject]) -> Vec<String> {
    let mut out = Vec::new();
    for s in subjects {
        let gone = match s {
            Subject::Process { pid, .. } => !snap.procs.contains_key(pid),
            Subject::File { path, .. } => sb.fs().lstat(path.as_bytes()).is_err(),
            Subject::Persistence { path, text, .. } => {
                !read(sb, path.as_bytes()).is_some_and(|c| {
                    let t = text.as_bytes();
                    c.windows(t.len()).any(|w| w == t)
                })
            }
            Subject::SshKey {
                path, fingerprint, ..
            } => !read(sb, path.as_bytes()).is_some_and(|c| {
                lines(&c).iter().any(|l| {
                    key_fingerprint(&String::from_utf8_lossy(l)).ok().as_ref() == Some(fingerprint)
                })
            }),
            Subject::Endpoint { addr } => !reachable(sb, std::slice::from_ref(addr))
                .get(addr)
                .copied()
                .unwrap_or(false),
            Subject::Account { .. } | Subject::FirewallRule { .. } => false,
        };
        if gone {
            out.push(format!(
                "review item for {s:?} was carried out by --apply without --include"
            ));
        }
    }
    out
}

/// Planted paths (files, crontabs, units, stand-in executables) and unit `.wants` links.
fn planted_paths(live: &Live) -> Vec<Vec<u8>> {
    let mut paths: Vec<Vec<u8>> = live.planted.files.iter().map(|f| f.path.clone()).collect();
    paths.extend(live.planted.processes.iter().map(|p| p.exe.clone()));
    for u in &live.sc.units {
        if let Some(target) = &u.enable {
            let (dir, name) = u.path.rsplit_once('/').unwrap();
            paths.push(format!("{dir}/{target}.wants/{name}").into_bytes());
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// Account names the scenario added (their shadow lines may be locked by the remediation).
fn planted_accounts(live: &Live) -> BTreeSet<String> {
    live.planted
        .accounts
        .iter()
        .map(|a| a.0.clone())
        .chain(live.sc.groups.iter().map(|g| g.name.clone()))
        .collect()
}

fn read(sb: &Sandbox, path: &[u8]) -> Option<Vec<u8>> {
    sb.fs().read_file(path).ok()
}

/// Lines of `content` split on `\n` (a final newline gives no empty last line).
fn lines(content: &[u8]) -> Vec<&[u8]> {
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    if body.is_empty() && content.len() <= 1 {
        return Vec::new();
    }
    body.split(|b| *b == b'\n').collect()
}

/// `content` without the (1-based) lines in `drop`, keeping every other byte (CRLF, a missing final
/// newline) exactly.
fn without_lines(content: &[u8], drop: &BTreeSet<u32>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut n = 0u32;
    while start < content.len() {
        n += 1;
        let end = content[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(content.len(), |i| start + i + 1);
        if !drop.contains(&n) {
            out.extend_from_slice(&content[start..end]);
        }
        start = end;
    }
    out
}

/// Identity of the miners at the snapshot: pid + start time, image (device, inode) and argv.
struct Miners {
    procs: Vec<(String, Proc)>,
}

impl Miners {
    fn of(live: &Live, snap: &Snapshot, problems: &mut Vec<String>) -> Miners {
        let mut procs = Vec::new();
        for s in &live.truth.malicious {
            if let Subject::Process { name, pid, .. } = s {
                match snap.procs.get(pid) {
                    Some(p) => procs.push((name.clone(), p.clone())),
                    None => problems.push(format!(
                        "harness: malicious process {name} (pid {pid}) is not running before the dry run"
                    )),
                }
            }
        }
        Miners { procs }
    }

    /// Miner processes alive in `now`.
    fn alive(&self, now: &BTreeMap<i32, Proc>) -> Vec<String> {
        let mut out = Vec::new();
        for p in now.values() {
            for (name, m) in &self.procs {
                let why = if p.pid == m.pid && p.start == m.start {
                    Some("the snapshot's process itself")
                } else if p.exe.is_some() && p.exe == m.exe {
                    Some("runs the same executable image")
                } else if p.cmdline == m.cmdline {
                    Some("same argv (respawned)")
                } else {
                    None
                };
                if let Some(why) = why {
                    out.push(format!(
                        "miner {name} alive: {} — {why}{}",
                        p.describe(),
                        if p.stopped() {
                            " (stopped, not killed)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
        out
    }
}

/// A packaged tool the kit moved (`source = "move"` to a malicious file's path) is back at its package path
/// after `--apply` with the bytes, owner and mode it had: the host is not left without it.
fn moved_back(live: &Live) -> Vec<String> {
    let mut problems = Vec::new();
    for s in &live.truth.malicious {
        let Subject::File { path, .. } = s else {
            continue;
        };
        let spec = live.sc.files.iter().find(|f| {
            f.source == scenario::Source::Move && f.path_bytes().is_ok_and(|p| p == path.as_bytes())
        });
        let (Some(spec), Some(planted)) = (spec, live.planted.file(path.as_bytes())) else {
            continue;
        };
        let home = spec.copy_from.as_deref().unwrap_or_default();
        match state::entry(live.sb.fs(), home.as_bytes()) {
            None => problems.push(format!(
                "the moved tool {} is not back at its package path {home}",
                path.escaped()
            )),
            Some(e) => {
                let want = (
                    Some('f'),
                    planted.sha256.as_deref(),
                    planted.mode & 0o7777,
                    planted.uid,
                    planted.gid,
                );
                let now = (Some(e.kind), e.sha256.as_deref(), e.mode, e.uid, e.gid);
                if now != want {
                    problems.push(format!(
                        "{home} is not the moved tool {} back (type, sha256, mode, owner): {now:?}, want {want:?}",
                        path.escaped()
                    ));
                }
            }
        }
    }
    problems
}

/// Checks after `--apply`: miners, persistence, keys, malicious files, legitimate things, collateral.
fn check_applied(
    live: &Live,
    before: &Snapshot,
    after: &Snapshot,
    originals: &BTreeMap<Vec<u8>, Vec<u8>>,
    miners: &Miners,
) -> Vec<String> {
    let fs = live.sb.fs();
    let mut problems = miners.alive(&after.procs);
    // Malicious lines removed per file (1-based), for the expected content of shared files.
    let mut drop: BTreeMap<Vec<u8>, BTreeSet<u32>> = BTreeMap::new();
    let mut malicious_paths: BTreeSet<Vec<u8>> = BTreeSet::new();
    for s in &live.truth.malicious {
        match s {
            Subject::Persistence { path, line, text } => {
                drop.entry(path.as_bytes().to_vec())
                    .or_default()
                    .insert(*line);
                malicious_paths.insert(path.as_bytes().to_vec());
                if fs.lstat(path.as_bytes()).is_err() {
                    continue;
                }
                match read(&live.sb, path.as_bytes()) {
                    None => problems.push(format!(
                        "persistence file {} exists but is no longer a readable regular file",
                        path.escaped()
                    )),
                    Some(c) => {
                        let t = text.as_bytes();
                        if let Some(l) = lines(&c)
                            .iter()
                            .find(|l| l.windows(t.len()).any(|w| w == t))
                        {
                            problems.push(format!(
                                "planted persistence left in {}: {}",
                                path.escaped(),
                                show(l)
                            ));
                        }
                    }
                }
            }
            Subject::SshKey {
                fingerprint,
                path,
                line,
            } => {
                drop.entry(path.as_bytes().to_vec())
                    .or_default()
                    .insert(*line);
                malicious_paths.insert(path.as_bytes().to_vec());
                if let Some(c) = read(&live.sb, path.as_bytes()) {
                    for l in lines(&c) {
                        if key_fingerprint(&String::from_utf8_lossy(l)).ok().as_ref()
                            == Some(fingerprint)
                        {
                            problems.push(format!(
                                "attacker key {fingerprint} still in {}",
                                path.escaped()
                            ));
                        }
                    }
                }
            }
            Subject::File { path, .. } => {
                malicious_paths.insert(path.as_bytes().to_vec());
                let packaged = live.sc.rpmdb.as_ref().is_some_and(|db| {
                    db.packages
                        .iter()
                        .any(|p| p.files.iter().any(|f| f.as_bytes() == path.as_bytes()))
                });
                if fs.lstat(path.as_bytes()).is_err() {
                } else if packaged {
                    // A replaced system file is repaired by reinstalling its package, not removed:
                    // it must now verify against the package database (`rpm -V`).
                    let verified = live
                        .sb
                        .run(&[
                            "rpm",
                            "--dbpath",
                            "/var/lib/rpm",
                            "--nodeps",
                            "-Vf",
                            String::from_utf8_lossy(path.as_bytes()).as_ref(),
                        ])
                        .is_ok_and(|o| o.status.success());
                    if !verified {
                        problems.push(format!(
                            "replaced system file {} does not verify against its package",
                            path.escaped()
                        ));
                    }
                } else {
                    problems.push(format!("malicious file left at {}", path.escaped()));
                }
            }
            _ => {}
        }
    }
    problems.extend(moved_back(live));
    for s in &live.truth.benign {
        match s {
            Subject::Process { name, pid, .. } => {
                let was = before.procs.get(pid);
                match (was, after.procs.get(pid)) {
                    (Some(a), Some(b)) if a.start == b.start && !b.stopped() => {}
                    (Some(a), Some(b)) if a.start == b.start => problems.push(format!(
                        "legitimate process {name} was stopped: {}",
                        b.describe()
                    )),
                    (Some(a), _) => problems.push(format!(
                        "legitimate process {name} is gone: {}",
                        a.describe()
                    )),
                    (None, _) => problems.push(format!(
                        "harness: legitimate process {name} (pid {pid}) was not running before"
                    )),
                }
            }
            Subject::File { path, .. } => {
                let p = path.as_bytes();
                match (state::entry(fs, p), before.files.get(p)) {
                    (None, _) => problems.push(format!("legitimate file {} is gone", show(p))),
                    (Some(now), Some(was)) => {
                        let d = was.content_diff(&now);
                        if !d.is_empty() {
                            problems.push(format!(
                                "legitimate file {} changed: {}",
                                show(p),
                                d.join(", ")
                            ));
                        }
                    }
                    (Some(_), None) => {}
                }
            }
            Subject::Persistence { path, .. } | Subject::SshKey { path, .. } => {
                let p = path.as_bytes();
                let Some(orig) = originals.get(p) else {
                    problems.push(format!("harness: no original content of {}", show(p)));
                    continue;
                };
                let want = without_lines(orig, drop.get(p).unwrap_or(&BTreeSet::new()));
                match read(&live.sb, p) {
                    None => problems.push(format!(
                        "{} (legitimate {}) is gone or not a regular file",
                        show(p),
                        if matches!(s, Subject::SshKey { .. }) {
                            "keys"
                        } else {
                            "lines"
                        }
                    )),
                    Some(now) if now != want => problems.push(format!(
                        "{} is not its legitimate content byte for byte: expected {:?}, found {:?}",
                        show(p),
                        show(&want),
                        show(&now)
                    )),
                    Some(_) => {
                        if let (Some(a), Some(b)) = (before.files.get(p), after.files.get(p)) {
                            if (a.mode, a.uid, a.gid) != (b.mode, b.uid, b.gid) {
                                problems.push(format!(
                                    "{}: mode/owner {:o} {}:{} became {:o} {}:{}",
                                    show(p),
                                    a.mode,
                                    a.uid,
                                    a.gid,
                                    b.mode,
                                    b.uid,
                                    b.gid
                                ));
                            }
                        }
                    }
                }
            }
            Subject::Account { name, .. } => {
                for f in [&b"/etc/passwd"[..], b"/etc/shadow"] {
                    let line_of = |c: &[u8]| {
                        lines(c)
                            .into_iter()
                            .find(|l| l.starts_with(format!("{name}:").as_bytes()))
                            .map(<[u8]>::to_vec)
                    };
                    let was = originals.get(f).and_then(|c| line_of(c));
                    let now = read(&live.sb, f).and_then(|c| line_of(&c));
                    if was != now {
                        problems.push(format!(
                            "legitimate account {name}: {} line {:?} became {:?}",
                            show(f),
                            was.as_deref().map(show),
                            now.as_deref().map(show)
                        ));
                    }
                }
            }
            Subject::Endpoint { .. } | Subject::FirewallRule { .. } => {}
        }
    }
    // Kit directories go whole (issue 13): nothing is left behind of the directory the kit made.
    for d in &live.sc.truth.kit_dirs {
        if fs.lstat(d.as_bytes()).is_ok() {
            problems.push(format!(
                "kit directory {} is still there (its files went one by one?)",
                show(d.as_bytes())
            ));
        }
    }
    // Collateral: anything the scenario did not plant and no finding is about must be as it was.
    let planted = planted_paths(live);
    let allowed = |p: &[u8]| {
        planted.iter().any(|x| under(p, x))
            || malicious_paths.iter().any(|x| under(p, x))
            || live
                .sc
                .truth
                .kit_dirs
                .iter()
                .any(|x| under(p, x.as_bytes()))
            || under(p, QUARANTINE)
            || ACCOUNT_FILES.contains(&p)
            || ACCOUNT_TOOL_FILES.contains(&p)
    };
    let paths: BTreeSet<&Vec<u8>> = before.files.keys().chain(after.files.keys()).collect();
    for p in paths {
        if allowed(p) {
            continue;
        }
        match (before.files.get(p), after.files.get(p)) {
            (Some(_), None) => {
                problems.push(format!("collateral: {} (not planted) was removed", show(p)))
            }
            (None, Some(e)) if e.kind != 'd' => problems.push(format!(
                "collateral: {} appeared (left behind by the script?)",
                show(p)
            )),
            (Some(a), Some(b)) => {
                let d = a.content_diff(b);
                if !d.is_empty() {
                    problems.push(format!(
                        "collateral: {} (not planted) changed: {}",
                        show(p),
                        d.join(", ")
                    ));
                }
            }
            _ => {}
        }
    }
    // Account databases: lines of accounts the scenario did not add are byte-identical; an added account
    // keeps its passwd and group lines (only its shadow line may be locked).
    let ours = planted_accounts(live);
    for f in ACCOUNT_FILES {
        let (Some(was), Some(now)) = (originals.get(*f), read(&live.sb, f)) else {
            continue;
        };
        let shadow = f.ends_with(b"shadow");
        let keep = |c: &[u8]| -> Vec<Vec<u8>> {
            lines(c)
                .into_iter()
                .filter(|l| {
                    let name = String::from_utf8_lossy(l.split(|b| *b == b':').next().unwrap_or(l))
                        .into_owned();
                    !(shadow && ours.contains(&name))
                })
                .map(<[u8]>::to_vec)
                .collect()
        };
        if keep(was) != keep(&now) {
            problems.push(format!(
                "collateral: {} changed beyond the shadow lines of accounts the scenario added:\n{}",
                show(f),
                state::line_diff(
                    &String::from_utf8_lossy(was),
                    &String::from_utf8_lossy(&now)
                )
            ));
        }
    }
    problems
}

/// Marker files of a hostile name turned into code, inside the sandbox: the fixed list, plus (with
/// `search`) any new file named `pwned` or `p` anywhere.
fn pwned_inside(sb: &Sandbox, search: bool) -> Vec<String> {
    let mut found: Vec<String> = PWNED_MARKERS
        .iter()
        .filter(|p| sb.fs().exists(p))
        .map(|p| show(p))
        .collect();
    if search {
        let out = sb
            .run(&[
                "find", "/", "/dev/shm", "/run", "-xdev", "-newer", SCRIPT, "(", "-name", "pwned",
                "-o", "-name", "p", ")", "-print",
            ])
            .unwrap();
        found.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned),
        );
    }
    found.sort();
    found.dedup();
    found
}

fn remediation_works(id: &str) {
    let sc = scenario::load(id).unwrap();
    assert_ne!(
        sc.truth.verdict,
        Verdict::Clean,
        "{id} is clean: nothing to remediate"
    );
    let host_paths = host_absent_paths(&sc);
    let host_before = preexisting(&host_paths);
    let hostile = id == "hostile-names";
    let watchdog = sc.processes.iter().any(|p| p.watch.is_some());

    let live = Live::start(id).unwrap();
    let sb = &live.sb;
    let mut problems: Vec<String> = Vec::new();
    let mut log = Transcript::default();

    let bundle = BundleFile::write(&live.collect().unwrap()).unwrap();
    let allow = bundle.allow_file(live.truth.allowlist.as_deref()).unwrap();
    let first = analyze(&bundle.path, allow.as_deref()).unwrap();
    log.add(
        "minetrace analyze (before remediation)",
        first.summary.clone(),
    );
    let (script, plan) = remediation_script(
        &bundle.path,
        allow.as_deref(),
        &bundle.dir().join("remediate.sh"),
    )
    .unwrap();
    log.add("minetrace remediate", plan.clone());
    install_script(sb, &script);

    let extra = planted_paths(&live);
    let mut originals: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for p in extra
        .iter()
        .map(Vec::as_slice)
        .chain(ACCOUNT_FILES.iter().copied())
    {
        if let Some(c) = read(sb, p) {
            originals.insert(p.to_vec(), c);
        }
    }
    let s0 = Snapshot::take(sb, &extra).unwrap();
    let miners = Miners::of(&live, &s0, &mut problems);

    // 1. Dry run: changes nothing.
    let dry = run_script(sb, None);
    log.output("bash remediate.sh (dry run)", &dry);
    if !dry.status.success() {
        problems.push(format!("the dry run exited {:?}", dry.status.code()));
    }
    let s1 = Snapshot::take(sb, &extra).unwrap();
    problems.extend(
        s0.exact_changes(&s1, &|_| false)
            .into_iter()
            .map(|c| format!("dry run changed the host: {c}")),
    );
    let endpoints: Vec<String> = live
        .truth
        .malicious
        .iter()
        .filter_map(|s| match s {
            Subject::Endpoint { addr } => Some(addr.clone()),
            _ => None,
        })
        .collect();
    let benign_endpoints: Vec<String> = live
        .truth
        .benign
        .iter()
        .filter_map(|s| match s {
            Subject::Endpoint { addr } => Some(addr.clone()),
            _ => None,
        })
        .collect();
    for (addr, open) in reachable(sb, &endpoints) {
        if !open {
            problems.push(format!(
                "harness: {addr} is not reachable before --apply, so blocking it cannot be shown"
            ));
        }
    }

    // 2. --apply: what is attributed to the intrusion. Review items are left alone; then the operator
    // names those whose targets are the scenario's malicious subjects (--include), as after reading the
    // dry run.
    let (include, reviewed) = operator_includes(&plan, &live);
    let include_args: Vec<String> = if include.is_empty() {
        Vec::new()
    } else {
        vec![
            "--include".into(),
            include
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ]
    };
    log.add(
        "review items the operator names",
        format!("{include:?} for {reviewed:?}"),
    );
    let apply = run_script(sb, Some("--apply"));
    log.output("bash remediate.sh --apply", &apply);
    if apply.status.code() != Some(0) {
        problems.push(format!(
            "--apply exited {:?} (0 = done; see its output for the failed or skipped step)",
            apply.status.code()
        ));
    }
    if !include.is_empty() {
        let mid = Snapshot::take(sb, &extra).unwrap();
        problems.extend(reviewed_but_gone(sb, &mid, &reviewed));
        let named = run_script_with(sb, Some("--apply"), &include_args);
        log.output("bash remediate.sh --apply --include (review items)", &named);
        if named.status.code() != Some(0) {
            problems.push(format!(
                "--apply --include exited {:?}",
                named.status.code()
            ));
        }
    }
    std::thread::sleep(WAIT);
    let s2 = Snapshot::take(sb, &extra).unwrap();
    problems.extend(check_applied(&live, &s0, &s2, &originals, &miners));
    for (addr, open) in reachable(sb, &endpoints) {
        if open {
            problems.push(format!(
                "pool/C2 {addr} is not blocked: a TCP connect from inside succeeds"
            ));
        }
    }
    for (addr, open) in reachable(sb, &benign_endpoints) {
        if !open {
            problems.push(format!("legitimate endpoint {addr} was blocked"));
        }
    }
    if watchdog {
        std::thread::sleep(WAIT);
        let later = state::processes(sb.fs());
        problems.extend(
            miners
                .alive(&later)
                .into_iter()
                .map(|m| format!("{} s after --apply: {m}", 2 * WAIT.as_secs())),
        );
    }

    // 3. --apply again (with the same review items): harmless, and it re-writes nothing, not even its
    // own quarantine, log or copies.
    let again = run_script_with(sb, Some("--apply"), &include_args);
    log.output("bash remediate.sh --apply (second run)", &again);
    if again.status.code() != Some(0) {
        problems.push(format!(
            "the second --apply exited {:?}",
            again.status.code()
        ));
    }
    let s3 = Snapshot::take(sb, &extra).unwrap();
    problems.extend(
        s2.exact_changes(&s3, &|_| false)
            .into_iter()
            .map(|c| format!("the second --apply changed the host: {c}")),
    );

    // 4. --verify.
    let verify = run_script_with(sb, Some("--verify"), &include_args);
    log.output("bash remediate.sh --verify", &verify);
    if verify.status.code() != Some(0) {
        problems.push(format!(
            "--verify exited {:?}, expected 0",
            verify.status.code()
        ));
    }

    // 5. Re-collect and re-analyse.
    match live.collect() {
        Ok(bytes) => {
            let b2 = BundleFile::write(&bytes).unwrap();
            let allow2 = b2.allow_file(live.truth.allowlist.as_deref()).unwrap();
            let again = analyze(&b2.path, allow2.as_deref()).unwrap();
            if sc.truth.residue.is_empty() {
                if again.doc.verdict != FoundVerdict::Clean {
                    problems.push(format!(
                        "re-analysis after remediation: verdict {:?}, expected Clean",
                        again.doc.verdict
                    ));
                }
            } else {
                problems.extend(residue_problems(&sc.truth.residue, &again.doc));
            }
            log.add("minetrace analyze (after remediation)", again.summary);
        }
        Err(e) => problems.push(format!("re-collecting failed: {e:#}")),
    }

    let pwned = pwned_inside(sb, hostile);
    if !pwned.is_empty() {
        problems.push(format!(
            "{pwned:?} appeared in the sandbox: a hostile name was executed"
        ));
    }
    live.sb.shutdown().unwrap();
    let out = leaked(&host_paths, &host_before);
    if !out.is_empty() {
        problems.push(format!("{out:?} appeared on the real host"));
    }
    assert!(problems.is_empty(), "{}", fail_report(id, &problems, &log));
}

/// The re-analysis after remediation shows exactly the scenario's declared residue at medium or above:
/// nothing else, and every declared item (a residue the plan came to clear must leave the truth too).
fn residue_problems(residue: &[scenario::Residue], doc: &FindingsDocument) -> Vec<String> {
    let names = |f: &Finding, r: &scenario::Residue| {
        f.rule == r.rule
            && f.iter_subjects().any(|s| match s {
                FoundSubject::File { path, .. } | FoundSubject::Persistence { path, .. } => {
                    path.as_bytes() == r.path.as_bytes()
                }
                _ => false,
            })
    };
    let serious: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.severity >= FoundSeverity::Medium)
        .collect();
    let mut problems = Vec::new();
    for f in &serious {
        if !residue.iter().any(|r| names(f, r)) {
            problems.push(format!(
                "re-analysis after remediation: {} {:?} is no declared residue",
                f.rule, f.severity
            ));
        }
    }
    for r in residue {
        if !serious.iter().any(|f| names(f, r)) {
            problems.push(format!(
                "declared residue {} on {} is gone after remediation: update the truth ({})",
                r.rule, r.path, r.reason
            ));
        }
    }
    problems
}

/// One test per scenario id in a module, and the list of ids (checked against `samples/scenarios/`).
macro_rules! per_scenario {
    ($list:ident, $module:ident, $check:ident; $($name:ident => $id:literal),* $(,)?) => {
        const $list: &[&str] = &[$($id),*];
        mod $module {
            $(#[test] fn $name() { super::$check($id); })*
        }
    };
}

#[test]
fn every_malicious_scenario_has_a_remediation_test() {
    for id in scenario::all_ids().unwrap() {
        let sc = scenario::load(&id).unwrap();
        let malicious = sc.truth.verdict != Verdict::Clean;
        assert_eq!(
            TESTED.contains(&id.as_str()),
            malicious,
            "scenario {id} (verdict {:?}): remediation tests cover exactly the malicious scenarios",
            sc.truth.verdict
        );
        assert_eq!(
            UNTOUCHED.contains(&id.as_str()),
            !malicious,
            "scenario {id} (verdict {:?}): the whole-tree test covers exactly the clean scenarios",
            sc.truth.verdict
        );
    }
}

/// Issue 13: on a clean or look-alike host, `--apply` changes nothing at all. The whole tree is compared
/// through the overlay's upper layer (every write of the sandboxed host lands there), with the process
/// table (nothing stopped, killed or started) and the firewall.
fn apply_changes_nothing(id: &str) {
    let live = Live::start(id).unwrap();
    let sb = &live.sb;
    let mut problems: Vec<String> = Vec::new();
    let mut log = Transcript::default();
    let bundle = BundleFile::write(&live.collect().unwrap()).unwrap();
    let allow = bundle.allow_file(live.truth.allowlist.as_deref()).unwrap();
    let (script, plan) = remediation_script(
        &bundle.path,
        allow.as_deref(),
        &bundle.dir().join("remediate.sh"),
    )
    .unwrap();
    log.add("minetrace remediate", plan);
    install_script(sb, &script);
    let upper0 = sb.upper_layer().unwrap();
    // The listing sees what the host wrote: the script just installed is in it.
    assert!(
        upper0.contains_key(&b"var/lib/mt-e2e/remediate.sh"[..]),
        "the upper-layer listing misses the installed script"
    );
    let s0 = Snapshot::take(sb, &[]).unwrap();
    for mode in [None, Some("--apply"), Some("--apply")] {
        let out = run_script(sb, mode);
        log.output(&format!("bash remediate.sh {}", mode.unwrap_or("")), &out);
        if out.status.code() != Some(0) {
            problems.push(format!("{mode:?} exited {:?}", out.status.code()));
        }
    }
    let upper1 = sb.upper_layer().unwrap();
    let s1 = Snapshot::take(sb, &[]).unwrap();
    let paths: BTreeSet<&Vec<u8>> = upper0.keys().chain(upper1.keys()).collect();
    for p in paths {
        match (upper0.get(p), upper1.get(p)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => problems.push(format!(
                "/{} changed: {:?} -> {:?}",
                show(p),
                a.map(|m| show(m)),
                b.map(|m| show(m))
            )),
        }
    }
    problems.extend(s0.process_changes(&s1));
    if s0.firewall != s1.firewall {
        problems.push(format!(
            "firewall changed:\n{}",
            state::line_diff(&s0.firewall, &s1.firewall)
        ));
    }
    live.sb.shutdown().unwrap();
    assert!(problems.is_empty(), "{}", fail_report(id, &problems, &log));
}

/// Targets of items the `--apply` output reports as skipped.
fn skipped_targets(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.contains(": skipped (") {
            if let Some(t) = lines
                .get(i + 1)
                .and_then(|n| n.trim_start().strip_prefix("target: "))
            {
                out.push(t.to_owned());
            }
        }
    }
    out
}

#[test]
fn stale_identity_is_skipped() {
    let id = "kinsing-redis";
    let live = Live::start(id).unwrap();
    let sb = &live.sb;
    let mut problems: Vec<String> = Vec::new();
    let mut log = Transcript::default();
    let bundle = BundleFile::write(&live.collect().unwrap()).unwrap();
    let (script, plan) =
        remediation_script(&bundle.path, None, &bundle.dir().join("remediate.sh")).unwrap();
    log.add("minetrace remediate", plan);
    install_script(sb, &script);

    // After collection: the miner exits and a harmless process gets its pid (ns_last_pid steers the next
    // fork in the sandbox's PID namespace).
    let pid = live.planted.process("kdevtmpfsi").unwrap().pid;
    let before = state::process(sb.fs(), pid).unwrap();
    sb.sh(&format!(
        "kill -9 {pid}; i=0; while [ -e /proc/{pid} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
         echo {} > /proc/sys/kernel/ns_last_pid; sleep 1000 </dev/null >/dev/null 2>&1 &",
        pid - 1
    ))
    .unwrap();
    let reused = state::process(sb.fs(), pid);
    let reused = match reused {
        Some(p) if p.cmdline == b"sleep\x001000\x00" && p.start != before.start => p,
        other => panic!(
            "harness: could not hand pid {pid} to a harmless process (found {:?}); processes now: {:?}",
            other.map(|p| p.describe()),
            state::processes(sb.fs())
                .values()
                .map(Proc::describe)
                .collect::<Vec<_>>()
        ),
    };
    // And two target files become symlinks to /etc/shadow: the crontab line the script edits or removes,
    // and the bot's executable it quarantines.
    let swapped: [&[u8]; 2] = [b"/var/spool/cron/crontabs/redis", b"/var/tmp/kinsing"];
    for p in swapped {
        sb.fs().unlink(p).unwrap();
        sb.fs().symlink(b"/etc/shadow", p).unwrap();
    }
    let shadow_before = state::entry(sb.fs(), b"/etc/shadow").unwrap();
    let shadow_text = read(sb, b"/etc/shadow").unwrap();

    let apply = run_script(sb, Some("--apply"));
    log.output("bash remediate.sh --apply", &apply);
    let text = String::from_utf8_lossy(&apply.stdout).into_owned();
    if apply.status.code() != Some(1) {
        problems.push(format!(
            "--apply exited {:?}; 1 (something was skipped) expected",
            apply.status.code()
        ));
    }
    let skipped = skipped_targets(&text);
    if !skipped
        .iter()
        .any(|t| t.starts_with(&format!("pid {pid} ")))
    {
        problems.push(format!(
            "no item on pid {pid} (now a harmless sleep) is reported as skipped; skipped: {skipped:?}"
        ));
    }
    for p in swapped {
        let shown = format!("{} (", show(p));
        if !skipped.iter().any(|t| t.starts_with(&shown)) {
            problems.push(format!(
                "{} (now a symlink to /etc/shadow) is not reported as skipped; skipped: {skipped:?}",
                show(p)
            ));
        }
        match sb.fs().read_link(p) {
            Ok(t) if t == b"/etc/shadow" => {}
            other => problems.push(format!("{} was not left alone: now {other:?}", show(p))),
        }
    }
    // The plan may lock the service account whose crontab was flagged (usermod rewrites /etc/shadow);
    // every other shadow line must be byte-identical, so nothing wrote through the symlinks.
    let ours = planted_accounts(&live);
    let others = |c: &[u8]| -> Vec<Vec<u8>> {
        lines(c)
            .into_iter()
            .filter(|l| {
                let name = l.split(|b| *b == b':').next().unwrap_or(l);
                !ours.contains(&*String::from_utf8_lossy(name))
            })
            .map(<[u8]>::to_vec)
            .collect()
    };
    match read(sb, b"/etc/shadow") {
        Some(now) => {
            if others(&shadow_text) != others(&now) {
                problems.push(format!(
                    "/etc/shadow was written through (beyond locking accounts the scenario added):\n{}",
                    state::line_diff(
                        &String::from_utf8_lossy(&shadow_text),
                        &String::from_utf8_lossy(&now)
                    )
                ));
            }
            if let Some(e) = state::entry(sb.fs(), b"/etc/shadow") {
                if (e.kind, e.mode, e.uid, e.gid, e.flags)
                    != (
                        shadow_before.kind,
                        shadow_before.mode,
                        shadow_before.uid,
                        shadow_before.gid,
                        shadow_before.flags,
                    )
                {
                    problems.push(format!(
                        "/etc/shadow's type, mode, owner or flags changed: {}",
                        shadow_before.content_diff(&e).join(", ")
                    ));
                }
            }
        }
        None => problems.push("/etc/shadow is gone or not a regular file".into()),
    }
    let quarantined = state::files(sb.fs(), &[QUARANTINE], &[]);
    for (p, e) in &quarantined {
        if e.sha256.is_some() && e.sha256 == shadow_before.sha256 {
            problems.push(format!(
                "/etc/shadow's content was copied into the quarantine as {}",
                show(p)
            ));
        }
    }
    match state::process(sb.fs(), pid) {
        Some(p) if p.start == reused.start && !p.stopped() => {}
        other => problems.push(format!(
            "the harmless process on reused pid {pid} was acted on: now {:?}",
            other.map(|p| p.describe())
        )),
    }
    live.sb.shutdown().unwrap();
    assert!(problems.is_empty(), "{}", fail_report(id, &problems, &log));
}

/// Remediation tests for the malicious scenarios, the whole-tree test for the clean ones.
macro_rules! remediation_tests {
    (malicious: [$($m:ident => $mid:literal),* $(,)?], clean: [$($c:ident => $cid:literal),* $(,)?] $(,)?) => {
        per_scenario! { TESTED, remediation, remediation_works; $($m => $mid),* }
        per_scenario! { UNTOUCHED, untouched, apply_changes_nothing; $($c => $cid),* }
    };
}

minetrace_e2e::scenario_lists!(remediation_tests);
