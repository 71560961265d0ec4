//! Issue 18: an attacker who shaped the host cannot steer the remediation onto the host's own files,
//! processes, units, infrastructure or quarantine. Each case is a scenario in `tests/redteam/<id>.toml`
//! (a real kit plus the attacker's shaping) and, where the shaping cannot be planted as files, a few steps
//! run in the sandbox after planting. The real collector takes the snapshot, the real analyzer writes
//! `remediate.sh`, which runs as an operator would: a dry run, then `--apply` with no review item named.
//! Then: every legitimate subject of the scenario is untouched (files byte-identical, processes running and
//! not stopped, endpoints reachable, lines present), the kit is gone (processes dead, files removed, lines
//! removed, pools blocked), and each case's own check holds.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use minetrace_e2e::analysis::{remediation_script, BundleFile};
use minetrace_e2e::binaries::workspace_root;
use minetrace_e2e::live::Live;
use minetrace_e2e::sandbox::fs::Meta;
use minetrace_e2e::sandbox::Sandbox;
use minetrace_e2e::scenario::Scenario;
use minetrace_e2e::state::{self, reachable};
use minetrace_e2e::truth::Subject;
use minetrace_schemas::escape_bytes;

const SCRIPT_DIR: &[u8] = b"/var/lib/mt-e2e";
const SCRIPT: &str = "/var/lib/mt-e2e/remediate.sh";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn scenario_path(id: &str) -> PathBuf {
    workspace_root().join(format!("tests/redteam/{id}.toml"))
}

/// What a case leaves for its own checks: the live host, the plan text and the runs' output.
struct Run {
    live: Live,
    apply: Output,
    problems: Vec<String>,
    log: Vec<(String, String)>,
}

impl Run {
    fn sb(&self) -> &Sandbox {
        &self.live.sb
    }

    fn script(&self, args: &[&str]) -> Output {
        let mut argv = vec!["bash", SCRIPT];
        argv.extend(args);
        self.sb()
            .run_with_stdin(&argv, b"", SCRIPT_TIMEOUT)
            .unwrap_or_else(|e| panic!("running remediate.sh {args:?}: {e:#}"))
    }

    fn note(&mut self, title: &str, out: &Output) {
        self.log.push((
            format!("{title} (exit {:?})", out.status.code()),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }

    fn sh(&self, script: &str) -> String {
        self.sb()
            .sh(script)
            .unwrap_or_else(|e| panic!("sandbox step failed: {e:#}"))
    }

    fn finish(self, id: &str) {
        let Run {
            live,
            problems,
            log,
            ..
        } = self;
        live.sb.shutdown().unwrap();
        let transcript: String = log
            .iter()
            .map(|(t, x)| format!("--- {t} ---\n{}\n", x.trim_end()))
            .collect();
        if std::env::var_os("MT_REDTEAM_SHOW").is_some() {
            eprintln!("{transcript}");
        }
        assert!(
            problems.is_empty(),
            "{id}: {} problem(s):\n  - {}\n\n{transcript}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
}

/// Plants case `id`, runs `shape` in the sandbox, collects, analyses, writes the script, runs the dry run
/// and `--apply`, and checks the scenario's truth (legitimate untouched, kit gone).
fn run(id: &str, shape: impl FnOnce(&Sandbox)) -> Run {
    run_with(id, shape, |_| {})
}

/// [`run`], with `late` run in the sandbox after the snapshot and the dry run, right before `--apply`:
/// what an attacker still on the host changes between the analysis and the remediation.
fn run_with(id: &str, shape: impl FnOnce(&Sandbox), late: impl FnOnce(&Sandbox)) -> Run {
    let sc = Scenario::load(&scenario_path(id)).unwrap();
    let live = Live::start_scenario(sc).unwrap();
    shape(&live.sb);
    let bundle = BundleFile::write(&live.collect().unwrap()).unwrap();
    let (script, plan) =
        remediation_script(&bundle.path, None, &bundle.dir().join("remediate.sh")).unwrap();
    let meta = Meta {
        mode: 0o700,
        uid: 0,
        gid: 0,
    };
    live.sb.fs().mkdir_all(SCRIPT_DIR, meta).unwrap();
    live.sb
        .fs()
        .write_file(SCRIPT.as_bytes(), &script, meta)
        .unwrap();
    let before = state::processes(live.sb.fs());
    let endpoints: Vec<String> = live
        .truth
        .malicious
        .iter()
        .chain(live.truth.benign.iter())
        .filter_map(|s| match s {
            Subject::Endpoint { addr } => Some(addr.clone()),
            _ => None,
        })
        .collect();
    let mut problems = Vec::new();
    for (addr, open) in reachable(&live.sb, &endpoints) {
        if !open {
            problems.push(format!("harness: {addr} is not reachable before --apply"));
        }
    }
    let mut r = Run {
        live,
        apply: Output {
            status: Default::default(),
            stdout: Vec::new(),
            stderr: Vec::new(),
        },
        problems,
        log: vec![("minetrace remediate".into(), plan)],
    };
    let dry = r.script(&[]);
    r.note("remediate.sh (dry run)", &dry);
    late(r.sb());
    let apply = r.script(&["--apply"]);
    r.note("remediate.sh --apply", &apply);
    if apply.status.code() != Some(0) {
        r.problems
            .push(format!("--apply exited {:?}", apply.status.code()));
    }
    r.apply = apply;
    std::thread::sleep(Duration::from_secs(1));
    let after = state::processes(r.sb().fs());
    let fs = r.sb().fs();
    let content = |p: &[u8]| fs.read_file(p).ok();
    let mut found = Vec::new();
    for s in &r.live.truth.malicious {
        match s {
            Subject::Process { name, pid, .. } => {
                if let (Some(a), Some(b)) = (before.get(pid), after.get(pid)) {
                    if a.start == b.start {
                        found.push(format!("kit process {name} (pid {pid}) is alive"));
                    }
                }
            }
            Subject::File { path, .. } if fs.lstat(path.as_bytes()).is_ok() => {
                found.push(format!("kit file {} is still there", path.escaped()));
            }
            Subject::Persistence { path, text, .. } => {
                let t = text.as_bytes();
                if content(path.as_bytes()).is_some_and(|c| c.windows(t.len()).any(|w| w == t)) {
                    found.push(format!("attacker line left in {}", path.escaped()));
                }
            }
            _ => {}
        }
    }
    for s in &r.live.truth.benign {
        match s {
            Subject::Process { name, pid, .. } => match (before.get(pid), after.get(pid)) {
                (Some(a), Some(b)) if a.start == b.start && !b.stopped() => {}
                _ => found.push(format!("legitimate process {name} was stopped or killed")),
            },
            Subject::File { path, .. } => {
                let want = r
                    .live
                    .planted
                    .file(path.as_bytes())
                    .and_then(|f| f.sha256.clone());
                let now = content(path.as_bytes()).map(|c| minetrace_e2e::plant::sha256_hex(&c));
                if want.is_none() || want != now {
                    found.push(format!(
                        "legitimate file {} changed or is gone",
                        path.escaped()
                    ));
                }
            }
            Subject::Persistence { path, text, .. } => {
                let t = text.as_bytes();
                if !content(path.as_bytes()).is_some_and(|c| c.windows(t.len()).any(|w| w == t)) {
                    found.push(format!("legitimate line removed from {}", path.escaped()));
                }
            }
            _ => {}
        }
    }
    let open = reachable(r.sb(), &endpoints);
    for s in &r.live.truth.malicious {
        if let Subject::Endpoint { addr } = s {
            if open.get(addr).copied().unwrap_or(true) {
                found.push(format!("pool {addr} is not blocked"));
            }
        }
    }
    for s in &r.live.truth.benign {
        if let Subject::Endpoint { addr } = s {
            if !open.get(addr).copied().unwrap_or(false) {
                found.push(format!("legitimate endpoint {addr} was blocked"));
            }
        }
    }
    r.problems.extend(found);
    r
}

/// Starts an image the sandbox already has (no stand-in) as root with `argv`, the way scenario processes
/// start; returns its pid inside the sandbox.
fn launch_real(sb: &Sandbox, exe: &str, argv: &[&str]) -> i32 {
    let mut spec = format!("proc shaped\nexe {}\n", hex::encode(exe));
    for a in argv {
        spec.push_str(&format!("arg {}\n", hex::encode(a)));
    }
    spec.push_str(&format!(
        "uid 0\ngid 0\ncwd {}\nreal 1\nenv {}\nend\n",
        hex::encode("/"),
        hex::encode(format!("PATH={}", minetrace_e2e::sandbox::CLEAN_PATH))
    ));
    let pids = sb.launch(&spec).unwrap();
    *pids
        .get("shaped")
        .expect("the launcher reports the shaped process")
}

/// SHA-256 of a file of the sandbox, if it is readable.
fn hash_in(sb: &Sandbox, path: &[u8]) -> Option<String> {
    sb.fs()
        .read_file(path)
        .ok()
        .map(|c| minetrace_e2e::plant::sha256_hex(&c))
}

#[test]
fn case1_bind_mounted_system_directories_are_never_removed_through() {
    let host_sleep = std::fs::read("/usr/bin/sleep").ok();
    let host_sshd = std::fs::read("/usr/sbin/sshd").ok();
    let mut r = run("redteam-bind-mount", |sb| {
        sb.sh("mount --bind /usr/sbin /tmp/.x && mount --bind /usr/bin /tmp/.y")
            .unwrap();
        let pid = launch_real(sb, "/tmp/.y/sleep", &["[kworker/1:1]", "3000000"]);
        // Read from outside the chroot, the link shows the sandbox root in front.
        let exe = sb
            .fs()
            .read_link(format!("/proc/{pid}/exe").as_bytes())
            .unwrap_or_default();
        assert!(
            exe.ends_with(b"/tmp/.y/sleep"),
            "harness: the disguised process runs through the bind mount: {}",
            escape_bytes(&exe)
        );
    });
    for (path, host) in [
        (&b"/usr/bin/sleep"[..], &host_sleep),
        (b"/usr/sbin/sshd", &host_sshd),
    ] {
        let want = host.as_deref().map(minetrace_e2e::plant::sha256_hex);
        if want.is_some() && hash_in(r.sb(), path) != want {
            r.problems.push(format!(
                "{} was removed or changed through its bind mount",
                escape_bytes(path)
            ));
        }
    }
    r.finish("redteam-bind-mount");
}

#[test]
fn case2_files_named_only_in_attacker_lines_stay() {
    run("redteam-attacker-text", |_| {}).finish("redteam-attacker-text");
}

#[test]
fn case3_a_packaged_daemon_with_a_miner_argv_is_not_killed() {
    let mut pid = 0;
    let mut r = run("redteam-argv-rewrite", |sb| {
        // sleep sums its arguments; the argument area is long enough for the miner's command line.
        pid = launch_real(
            sb,
            "/usr/bin/sleep",
            &[
                "sleep", "100000", "100000", "100000", "100000", "100000", "100000", "100000",
                "100000",
            ],
        );
        let py = format!(
            r#"
import re
pid = {pid}
stat = open(f"/proc/{{pid}}/stat").read()
fields = stat.rsplit(")", 1)[1].split()
start, end = int(fields[45]), int(fields[46])
new = b"xmrig\x00-o\x00127.66.33.1:3333\x00--donate-level=1\x00-k\x00"
assert len(new) <= end - start
with open(f"/proc/{{pid}}/mem", "r+b") as m:
    m.seek(start)
    m.write(new + b"\0" * (end - start - len(new)))
"#
        );
        sb.sh(&format!("python3 -c '{}'", py.replace('\'', "'\\''")))
            .unwrap();
        let cmdline = sb
            .fs()
            .read_file(format!("/proc/{pid}/cmdline").as_bytes())
            .unwrap_or_default();
        assert!(
            cmdline.starts_with(b"xmrig\0-o\0"),
            "harness: the argv rewrite did not take: {}",
            escape_bytes(&cmdline)
        );
    });
    match state::process(r.sb().fs(), pid) {
        Some(p) if !p.stopped() => {}
        Some(_) => r
            .problems
            .push("the packaged sleep with a miner argv was stopped".into()),
        None => r
            .problems
            .push("the packaged sleep with a miner argv was killed".into()),
    }
    r.finish("redteam-argv-rewrite");
}

#[test]
fn case4_a_user_unit_never_touches_the_system_unit_of_its_name() {
    let host_unit = std::fs::read("/lib/systemd/system/ssh.service").ok();
    let mut r = run("redteam-user-unit", |sb| {
        sb.sh("l=/etc/systemd/system/multi-user.target.wants/ssh.service; \
               [ -L \"$l\" ] || { mkdir -p \"${l%/*}\" && ln -s /lib/systemd/system/ssh.service \"$l\"; }")
            .unwrap();
    });
    let mut found = Vec::new();
    let fs = r.sb().fs();
    let link = fs
        .read_link(b"/etc/systemd/system/multi-user.target.wants/ssh.service")
        .ok();
    if link.as_deref() != Some(&b"/lib/systemd/system/ssh.service"[..]) {
        found.push("the system unit's enablement link was removed or changed".into());
    }
    let want = host_unit.as_deref().map(minetrace_e2e::plant::sha256_hex);
    if hash_in(r.sb(), b"/lib/systemd/system/ssh.service") != want {
        found.push("the packaged /lib/systemd/system/ssh.service changed".into());
    }
    if fs.lstat(b"/root/.config/systemd/user/ssh.service").is_ok() {
        found.push("the planted user unit is still there".into());
    }
    if fs
        .lstat(b"/root/.config/systemd/user/default.target.wants/ssh.service")
        .is_ok()
    {
        found.push("the link enabling the planted user unit is still there".into());
    }
    r.problems.extend(found);
    r.finish("redteam-user-unit");
}

#[test]
fn case5_the_hosts_infrastructure_is_never_blocked_unasked() {
    // The gateway exists only in the routing table the collector reads (no file names it).
    run("redteam-firewall-infra", |sb| {
        sb.sh("ip route add default via 127.66.35.254 dev lo")
            .unwrap();
    })
    .finish("redteam-firewall-infra");
}

#[test]
fn case6_a_redirected_quarantine_gets_nothing_and_undo_restores_only_pinned_bytes() {
    let mut r = run("redteam-quarantine-redirect", |sb| {
        sb.sh("mkdir -p /dev/shm/attacker-q && chmod 1777 /dev/shm/attacker-q && ln -s /dev/shm/attacker-q /var/lib/minetrace")
            .unwrap();
    });
    let leaked = r.sh("find /dev/shm/attacker-q -mindepth 1 | head -n 5");
    if !leaked.trim().is_empty() {
        r.problems.push(format!(
            "the remediation wrote into the attacker's directory: {}",
            leaked.trim()
        ));
    }
    if r.sb().fs().read_link(b"/var/lib/minetrace").is_err() {
        r.problems
            .push("the attacker's link /var/lib/minetrace was replaced".into());
    }
    // The quarantine the script chose instead, as it printed it.
    let out = String::from_utf8_lossy(&r.apply.stdout).into_owned();
    let q = out
        .lines()
        .find_map(|l| l.strip_prefix("quarantine: "))
        .map(str::to_owned);
    match q {
        None => r
            .problems
            .push("--apply did not say where its quarantine is".into()),
        Some(q) => {
            // An attacker who replaced an evidence copy: undo must not install those bytes.
            r.sh(&format!(
                "for f in '{q}'/files/*.bin; do printf 'attacker bytes\\n' >\"$f\"; done"
            ));
            let undo = r.script(&["--undo", "--quarantine", &q]);
            r.note("remediate.sh --undo (tampered evidence)", &undo);
            let crontab = r
                .sb()
                .fs()
                .read_file(b"/var/spool/cron/crontabs/root")
                .unwrap_or_default();
            if crontab.windows(14).any(|w| w == b"attacker bytes") {
                r.problems
                    .push("undo installed bytes the plan never pinned".into());
            }
            if undo.status.success() {
                r.problems
                    .push("undo reported success over tampered evidence".into());
            }
        }
    }
    r.finish("redteam-quarantine-redirect");
}

/// Issue 13, respawning sets: two watchdog shell scripts and a miner, each script restarting the miner
/// and the other script within a second. Between the snapshot and `--apply` the miner and one script die
/// and are restarted by the other (new pids: the plan's targets are stale). After `--apply` (no review
/// item named) and a wait no member is back (anything running the miner's image, any shell running a kit
/// script), and `--verify` exits 0.
#[test]
fn respawn_a_watchdog_triangle_stays_dead() {
    watchdog_triangle(&[], None).finish("respawn-watchdog-triangle");
}

/// Issue 13, respawning sets, the cgroup freezer's path: the triangle runs in a cgroup of its own (as a
/// kit started by its own unit does), so `--apply` stops it by freezing that cgroup — all three at once,
/// while the watchdog loops fork `pgrep` and `sleep` several times a second — then kills it; it stays
/// dead and `--verify` exits 0. The cgroup (made in the machine's cgroup v2 hierarchy, mounted inside the
/// sandbox) is removed afterwards.
#[test]
fn respawn_a_watchdog_triangle_in_its_own_cgroup_is_frozen_together() {
    let cgroup = format!("mt-e2e-triangle-{}", std::process::id());
    // Declared before the run: dropped after its sandbox (whose processes die with it), even when a
    // harness step panics.
    let _remove = CgroupDir::of(&cgroup);
    let mut r = watchdog_triangle(&[], Some(&cgroup));
    let out = String::from_utf8_lossy(&r.apply.stdout).into_owned();
    if !out.contains("(1 cgroup(s) by the freezer)") {
        r.problems.push(
            "--apply did not stop the set by freezing its cgroup (no \"1 cgroup(s) by the freezer\")"
                .into(),
        );
    }
    let dir = format!("/sys/fs/cgroup/{cgroup}");
    let left = r.sh(&format!(
        "for p in $(cat {dir}/cgroup.procs 2>/dev/null); do echo \"pid $p: $(tr '\\0' ' ' </proc/$p/cmdline 2>/dev/null) [$(cut -d' ' -f3,4 /proc/$p/stat 2>/dev/null)]\"; done; \
         [ -e {dir}/cgroup.kill ] && echo 1 >{dir}/cgroup.kill; \
         for i in 1 2 3 4 5 6 7 8 9 10; do rmdir {dir} 2>/dev/null && break; sleep 0.2; done; \
         [ -e {dir} ] && echo 'cgroup left'; true"
    ));
    if !left.trim().is_empty() {
        r.problems.push(format!(
            "processes were left in the kit's cgroup after --apply, or it could not be removed: {}",
            left.trim()
        ));
    }
    r.finish("respawn-watchdog-triangle");
}

/// A cgroup a test made in this machine's cgroup v2 hierarchy, removed (once empty) when dropped.
struct CgroupDir(Option<PathBuf>);

impl CgroupDir {
    /// The directory `name` under this machine's cgroup v2 mount point (from `/proc/self/mountinfo`).
    fn of(name: &str) -> CgroupDir {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let root = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next() == Some("cgroup2"))
                .then(|| left.split_whitespace().nth(4).map(PathBuf::from))
                .flatten()
        });
        CgroupDir(root.map(|r| r.join(name)))
    }
}

impl Drop for CgroupDir {
    fn drop(&mut self) {
        let Some(dir) = &self.0 else { return };
        for _ in 0..50 {
            if !dir.exists() || std::fs::remove_dir(dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("could not remove the test's cgroup {}", dir.display());
    }
}

/// Issue 13, respawning sets, the look-alike: while the triangle runs, processes that are not the kit hold
/// its files open: an admin's `tail -f` on a watchdog script, a shell in a session of its own with the
/// miner's image open on fd 3 (`exec 3<FILE`) and a child of its own, and a Python program with a kit
/// script open (an interpreter, but running inline code, not the script). They read the kit, they do not
/// run it: after `--apply` each of them (and the shell's child) runs, not stopped, with the same start
/// time; the triangle is dead as in the test above.
#[test]
fn respawn_readers_of_kit_files_are_not_the_set() {
    let readers: [(&str, &[&str]); 3] = [
        ("tail -f on a kit script", &["tail", "-f", "w2.sh"]),
        (
            "a shell holding the miner's image on fd 3, in its own session",
            &["bash", "-c", "exec 3<kswapd0; sleep 600; :"],
        ),
        (
            "python3 running inline code with a kit script open",
            &[
                "python3",
                "-c",
                "import time; f = open('w1.sh'); time.sleep(600)",
            ],
        ),
    ];
    watchdog_triangle(&readers, None).finish("respawn-watchdog-triangle (readers of kit files)");
}

/// Runs the triangle case: `readers` (label, argv) are started each in a session of its own, in the kit's
/// directory (relative names: the watchdogs' `pgrep -f /tmp/.kit/...` must not take a reader for the
/// process it restarts), before the snapshot and must be untouched by `--apply` (they and their children alive, same start time, not
/// stopped); the set's members must be dead and `--verify` must exit 0.
fn watchdog_triangle(readers: &[(&str, &[&str])], cgroup: Option<&str>) -> Run {
    let kit_scripts: [&[u8]; 2] = [b"/tmp/.kit/w1.sh", b"/tmp/.kit/w2.sh"];
    // A member: the miner's image, or a shell running a kit script (argv[1]); not a reader naming one.
    let runs_kit = |p: &state::Proc, image: Option<(u64, u64)>| {
        let argv = p.argv();
        p.state != 'Z'
            && ((image.is_some() && p.exe == image)
                || argv.first().map(Vec::as_slice) == Some(&b"/tmp/.kit/kswapd0"[..])
                || argv
                    .get(1)
                    .is_some_and(|a| kit_scripts.contains(&a.as_slice())))
    };
    let mut image = None;
    let mut respawned = Vec::new();
    let mut reader_procs: Vec<(String, state::Proc)> = Vec::new();
    let mut r = run_with(
        "respawn-watchdog-triangle",
        |sb| {
            image = state::processes(sb.fs())
                .values()
                .find(|p| p.argv().first().map(Vec::as_slice) == Some(&b"/tmp/.kit/kswapd0"[..]))
                .and_then(|p| p.exe);
            assert!(
                image.is_some(),
                "harness: the miner runs before the snapshot"
            );
            if let Some(cg) = cgroup {
                // The triangle moves into a cgroup of its own; what its members fork from now on is
                // born there. The machine's cgroup v2 hierarchy is mounted inside the sandbox (its
                // /sys is read-only sysfs); CI has one (no skip: a missing one fails here).
                let members: Vec<String> = state::processes(sb.fs())
                    .values()
                    .filter(|p| runs_kit(p, None))
                    .map(|p| p.pid.to_string())
                    .collect();
                assert_eq!(members.len(), 3, "harness: the triangle runs");
                let dir = format!("/sys/fs/cgroup/{cg}");
                sb.sh(&format!(
                    "mount -t cgroup2 none /sys/fs/cgroup && mkdir {dir} && \
                     for p in {}; do echo $p >{dir}/cgroup.procs; done && test -e {dir}/cgroup.freeze",
                    members.join(" ")
                ))
                .expect("harness: a cgroup v2 hierarchy with the freezer, mounted in the sandbox");
            }
            let quote = |w: &str| format!("'{}'", w.replace('\'', "'\\''"));
            for (n, (label, argv)) in readers.iter().enumerate() {
                let argv: Vec<String> = argv.iter().map(|w| quote(w)).collect();
                sb.sh(&format!(
                    "cd /tmp/.kit && setsid -f sh -c 'echo $$ >/run/mt-reader-{n}; exec \"$@\"' sh {} \
                     </dev/null >/dev/null 2>&1",
                    argv.join(" ")
                ))
                .unwrap();
                std::thread::sleep(Duration::from_millis(500));
                let pid: i32 = sb
                    .sh(&format!("cat /run/mt-reader-{n}"))
                    .unwrap()
                    .trim()
                    .parse()
                    .expect("harness: the reader's pid");
                let now = state::processes(sb.fs());
                // The reader and its children.
                let mine: Vec<&state::Proc> = now
                    .values()
                    .filter(|p| p.pid == pid || p.ppid == pid)
                    .collect();
                assert!(
                    mine.iter().any(|p| p.pid == pid && p.state != 'Z'),
                    "harness: the reader `{label}` does not run"
                );
                for p in mine {
                    reader_procs.push((label.to_string(), p.clone()));
                }
            }
        },
        |sb| {
            // The miner and w2.sh die after the snapshot; w1.sh restarts both with new pids.
            let before = state::processes(sb.fs());
            let candidates: Vec<&state::Proc> = before
                .values()
                .filter(|p| {
                    p.state != 'Z'
                        && (p.argv().first().map(Vec::as_slice) == Some(&b"/tmp/.kit/kswapd0"[..])
                            || p.argv().get(1).map(Vec::as_slice) == Some(&b"/tmp/.kit/w2.sh"[..]))
                })
                .collect();
            // A subshell w2.sh forks (`( miner & )`) shows w2.sh's command line until it execs: it is
            // killed with it, not counted as a second w2.sh.
            let distinct = candidates
                .iter()
                .filter(|p| {
                    !candidates
                        .iter()
                        .any(|q| q.pid == p.ppid && q.cmdline == p.cmdline)
                })
                .count();
            assert_eq!(
                distinct,
                2,
                "harness: the miner and w2.sh run: {:?}",
                candidates.iter().map(|p| p.describe()).collect::<Vec<_>>()
            );
            let victims: Vec<i32> = candidates.iter().map(|p| p.pid).collect();
            for pid in &victims {
                sb.sh(&format!("kill -9 {pid}")).unwrap();
            }
            std::thread::sleep(Duration::from_secs(2));
            respawned = state::processes(sb.fs())
                .values()
                .filter(|p| runs_kit(p, None) && !before.contains_key(&p.pid))
                .map(state::Proc::describe)
                .collect();
        },
    );
    if respawned.len() < 2 {
        r.problems.push(format!(
            "harness: the watchdog did not restart the miner and w2.sh before --apply: {respawned:?}"
        ));
    }
    // Respawns come within a second; three give every loop several turns.
    std::thread::sleep(Duration::from_secs(3));
    let after = state::processes(r.sb().fs());
    for p in after.values() {
        if runs_kit(p, image) {
            r.problems.push(format!(
                "a member of the respawning set is alive after --apply: {}",
                p.describe()
            ));
        }
    }
    // Nothing is left stopped: a member is killed, anything else runs on.
    for p in after.values().filter(|p| p.stopped()) {
        r.problems.push(format!(
            "a process is left stopped after --apply: {}",
            p.describe()
        ));
    }
    for (label, p) in &reader_procs {
        match after.get(&p.pid) {
            Some(q) if q.start == p.start && !q.stopped() => {}
            Some(q) if q.start == p.start => r
                .problems
                .push(format!("{label}: {} was stopped by --apply", p.describe())),
            _ => r
                .problems
                .push(format!("{label}: {} was killed by --apply", p.describe())),
        }
    }
    let verify = r.script(&["--verify"]);
    r.note("remediate.sh --verify", &verify);
    if verify.status.code() != Some(0) {
        r.problems
            .push(format!("--verify exited {:?}", verify.status.code()));
    }
    r
}

/// Case 1, the script's side: the kit directory is swapped after the snapshot, before `--apply`. The plan
/// rightly names `/tmp/.kit/sleep`; at run time that name leads elsewhere. `--apply` must leave the place
/// it leads to untouched, refuse with `refusal` (the check that catches this swap), and still stop the
/// miner and remove its cron line. `kept` is a file that must be byte-identical afterwards.
fn swapped_kit_dir(variant: &str, swap: &str, kept: &[u8], refusal: &str) {
    let id = "redteam-dir-swap";
    let mut before = None;
    let mut r = run_with(
        id,
        |_| {},
        |sb| {
            sb.sh(swap).unwrap();
            before = hash_in(sb, kept);
        },
    );
    if before.is_none() {
        r.problems.push(format!(
            "harness: {} is not there after the swap",
            escape_bytes(kept)
        ));
    } else if hash_in(r.sb(), kept) != before {
        r.problems.push(format!(
            "{variant}: {} was removed or changed through the swapped kit directory",
            escape_bytes(kept)
        ));
    }
    // Refusing the swapped directory's file is the right outcome, and it makes --apply exit 1.
    let code = r.apply.status.code();
    r.problems.retain(|p| !p.starts_with("--apply exited"));
    if code != Some(1) {
        r.problems.push(format!(
            "{variant}: --apply exited {code:?}, not 1 (an action refused)"
        ));
    }
    let out = String::from_utf8_lossy(&r.apply.stdout).into_owned()
        + &String::from_utf8_lossy(&r.apply.stderr);
    if !out.contains(refusal) {
        r.problems.push(format!(
            "{variant}: --apply did not refuse with {refusal:?}"
        ));
    }
    r.finish(id);
}

#[test]
fn case1_a_kit_dir_swapped_for_a_link_to_a_system_dir_spares_the_system_file() {
    // /tmp/.kit/sleep is /usr/bin/sleep now: its identity (device, inode, hash) is not the snapshot's.
    swapped_kit_dir(
        "link to /usr/bin",
        "mv /tmp/.kit /tmp/.kit-moved && ln -s /usr/bin /tmp/.kit",
        b"/usr/bin/sleep",
        "a different file is there now",
    );
}

#[test]
fn case1_a_kit_dir_moved_into_a_system_dir_behind_a_link_is_refused_on_its_directory() {
    // The very kit file, moved under /usr/lib and reached through a link: its identity still matches,
    // so only the directory check (`cd -P` must land where the plan says) stops the removal there.
    swapped_kit_dir(
        "kit moved under /usr/lib, linked",
        "mv /tmp/.kit /usr/lib/.kit && ln -s /usr/lib/.kit /tmp/.kit",
        b"/usr/lib/.kit/sleep",
        "a directory on its path is a symbolic link now",
    );
}

#[test]
fn case1_a_kit_dir_moved_into_a_system_dir_behind_a_bind_mount_is_refused_on_its_directory() {
    // The same through a bind mount: no link on the way, the identity matches, the mount table tells.
    swapped_kit_dir(
        "kit moved under /usr/lib, bind-mounted",
        "mv /tmp/.kit /usr/lib/.kit && mkdir /tmp/.kit && mount --bind /usr/lib/.kit /tmp/.kit",
        b"/usr/lib/.kit/sleep",
        "under a bind mount",
    );
}
