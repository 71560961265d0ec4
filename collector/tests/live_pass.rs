//! The live pass end to end: the real `minetrace-collect` binary against real processes, sockets and
//! namespaces, its bundle decoded with the schemas reader. Runs as root (as CI does); a test that needs
//! namespaces fails loudly when it cannot get them, it never skips.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minetrace_schemas::bundle::{members, Bundle, ReadLimits};
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::host::{CollectionMode, HostRecord};
use minetrace_schemas::records::process::{FdTarget, ProcessRecord};
use minetrace_schemas::records::socket::SocketRecord;
use minetrace_schemas::records::RecordSetV1;
use sha2::{Digest, Sha256};

const COLLECT: &str = env!("CARGO_BIN_EXE_minetrace-collect");

/// Kills and reaps a test child however the test ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).unwrap()
    }
}

/// Spawns, retrying while a just-written executable is still "text busy" (another test thread's fork
/// can briefly hold the write descriptor).
fn spawn(cmd: &mut Command) -> Guard {
    for _ in 0..50 {
        match cmd.spawn() {
            Ok(child) => return Guard(child),
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("spawn {cmd:?}: {e}"),
        }
    }
    panic!("spawn {cmd:?}: still text busy");
}

/// Waits until the child has exec'd `want` (its exe link starts with it).
fn wait_for_exec(pid: i32, want: &[u8]) {
    wait_for_exe(pid, want, |link| link.starts_with(want));
}

fn wait_for_exe(pid: i32, want: &[u8], ok: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(link) = std::fs::read_link(format!("/proc/{pid}/exe")) {
            // The argument area is filled in last during exec.
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if ok(link.as_os_str().as_bytes()) && !args.is_empty() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "pid {pid} never ran {want:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A scratch directory outside every copy-candidate place (`CARGO_TARGET_TMPDIR` is under `target/`).
fn plain_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Hides the host's temp places and homes behind empty tmpfs mounts (in the private mount namespace
/// the collector runs in), so the file artifacts of a busy build host do not slow every test down.
/// Processes keep running from wherever they are: their executables are read through `/proc/PID/exe`.
/// A place that holds the collector binary or the test's output (a build directory under `/tmp` or a
/// home) is left visible, or the test would hide what it runs and writes.
const MASK: &str = r#"for d in /tmp /var/tmp /dev/shm /root /home /run; do
    case "$COLLECT/" in "$d"/*) continue ;; esac
    case "${OUT:-}/" in "$d"/*) continue ;; esac
    case "${DIR:-}/" in "$d"/*) continue ;; esac
    if [ -d "$d" ]; then mount -t tmpfs none "$d"; fi
done
"#;

/// The collector, run in a private mount namespace with [`MASK`] applied, writing to `out`.
fn collector_command(out: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-ec"])
        .arg(format!("{MASK}exec \"$COLLECT\" -o \"$OUT\" \"$@\""))
        .arg("sh")
        .args(args)
        .env("COLLECT", COLLECT)
        .env("OUT", out)
        .stdout(Stdio::null());
    cmd
}

/// Runs the collector with `args` into a bundle file and opens it, checking every hash.
fn collect(args: &[&str]) -> (Bundle, tempfile::TempDir) {
    let dir = plain_dir();
    let out = dir.path().join("b.tar.zst");
    let status = collector_command(&out, args)
        .status()
        .expect("unshare (util-linux) is required");
    assert!(
        status.success(),
        "collector failed: {status}; these tests need root and unshare"
    );
    (open(&out), dir)
}

fn open(path: &Path) -> Bundle {
    Bundle::open(path, ReadLimits::default())
        .unwrap()
        .verified()
        .unwrap()
}

fn processes(b: &Bundle) -> Vec<ProcessRecord> {
    match b.records(members::PROCESSES).unwrap() {
        Some(RecordSetV1::Processes(p)) => p,
        other => panic!("processes member: {other:?}"),
    }
}

fn executables(b: &Bundle) -> Vec<ExecutableRecord> {
    match b.records(members::EXECUTABLES).unwrap() {
        Some(RecordSetV1::Executables(e)) => e,
        other => panic!("executables member: {other:?}"),
    }
}

fn sockets(b: &Bundle) -> Vec<SocketRecord> {
    match b.records(members::SOCKETS).unwrap() {
        Some(RecordSetV1::Sockets(s)) => s,
        other => panic!("sockets member: {other:?}"),
    }
}

fn host(b: &Bundle) -> HostRecord {
    match b.records(members::HOST).unwrap() {
        Some(RecordSetV1::Host(h)) => h,
        other => panic!("host member: {other:?}"),
    }
}

fn process(b: &Bundle, pid: i32) -> ProcessRecord {
    processes(b)
        .into_iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} missing from the process table"))
}

fn executable_of(b: &Bundle, pid: i32) -> ExecutableRecord {
    executables(b)
        .into_iter()
        .find(|e| e.pids.contains(&pid))
        .unwrap_or_else(|| panic!("no executable record for pid {pid}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn deleted_running_executable_is_hashed_and_copied() {
    let dir = plain_dir();
    let path = dir.path().join("victim");
    let original = std::fs::read("/bin/sleep").unwrap();
    std::fs::write(&path, &original).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let child = spawn(Command::new(&path).arg("300"));
    wait_for_exec(child.pid(), path.as_os_str().as_bytes());
    std::fs::remove_file(&path).unwrap();

    let (bundle, _keep) = collect(&[]);
    let rec = process(&bundle, child.pid());
    let exe = rec.exe.expect("exe link");
    assert!(exe.deleted, "{exe:?}");
    assert_eq!(exe.nlink, Some(0));
    assert_eq!(
        exe.path.as_bytes(),
        path.as_os_str().as_bytes(),
        "suffix stripped"
    );

    let want = sha256_hex(&original);
    let e = executable_of(&bundle, child.pid());
    assert!(e.deleted);
    assert_eq!(e.sha256.as_deref(), Some(want.as_str()));
    assert!(
        e.copy_reasons.iter().any(|r| r == "deleted"),
        "{:?}",
        e.copy_reasons
    );
    let member = members::binary(&want);
    assert_eq!(
        e.copy,
        CopyStatus::Copied {
            member: member.clone()
        }
    );
    assert_eq!(bundle.member(&member), Some(&original[..]));
}

#[test]
fn copies_respect_the_caps_and_say_why() {
    let dir = plain_dir();
    let path = dir.path().join("gone");
    std::fs::copy("/bin/sleep", &path).unwrap();
    let child = spawn(Command::new(&path).arg("300"));
    wait_for_exec(child.pid(), path.as_os_str().as_bytes());
    std::fs::remove_file(&path).unwrap();

    let (bundle, _keep) = collect(&["--max-copy-total-mib", "0"]);
    let e = executable_of(&bundle, child.pid());
    assert!(e.sha256.is_some(), "hashed even when not copied");
    match &e.copy {
        CopyStatus::Skipped { reason } => assert!(reason.contains("budget"), "{reason}"),
        other => panic!("expected a skipped copy, got {other:?}"),
    }
    assert!(bundle.member_names().all(|m| !m.starts_with("bin/")));
}

#[test]
fn hostile_names_arguments_and_environment_survive_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap(); // under /tmp: also a copy candidate
    let name: &[u8] = b"sl\neep$(x)\xff";
    let path = dir.path().join(OsStr::from_bytes(name));
    std::fs::copy("/bin/sleep", &path).unwrap();
    let arg0: &[u8] = b"[kworker/0:1]\n\x1b[31m\xff";
    let child = spawn(
        Command::new(&path)
            .arg0(OsStr::from_bytes(arg0))
            .arg("300")
            .env(OsStr::from_bytes(b"ODD_\xffNAME"), "x")
            .env("SECRET_TOKEN", "hunter2")
            .env("HISTFILE", "/dev/null"),
    );
    wait_for_exec(child.pid(), path.as_os_str().as_bytes());

    let (bundle, _keep) = collect(&[]);
    let rec = process(&bundle, child.pid());
    assert_eq!(rec.comm.as_bytes(), name, "comm is the file name, raw");
    assert_eq!(rec.argv(), vec![arg0, b"300"]);
    let exe = rec.exe.as_ref().unwrap();
    assert_eq!(exe.path.as_bytes(), path.as_os_str().as_bytes());
    assert!(!exe.deleted);
    let value = |n: &[u8]| {
        rec.env
            .iter()
            .find(|v| v.name.as_bytes() == n)
            .unwrap_or_else(|| panic!("env {n:?} missing"))
            .value
            .as_ref()
            .map(|v| v.as_bytes().to_vec())
    };
    assert_eq!(value(b"ODD_\xffNAME"), None, "name kept, value dropped");
    assert_eq!(
        value(b"SECRET_TOKEN"),
        None,
        "secrets are not kept by default"
    );
    assert_eq!(
        value(b"HISTFILE"),
        Some(b"/dev/null".to_vec()),
        "allowlisted value kept"
    );

    let e = executable_of(&bundle, child.pid());
    assert_eq!(e.path.as_bytes(), path.as_os_str().as_bytes());
    assert!(
        e.copy_reasons.iter().any(|r| r == "temp dir"),
        "{:?}",
        e.copy_reasons
    );
    assert!(matches!(e.copy, CopyStatus::Copied { .. }));

    let (all, _keep) = collect(&["--all-env-values"]);
    let rec = process(&all, child.pid());
    let secret = rec
        .env
        .iter()
        .find(|v| v.name.as_bytes() == b"SECRET_TOKEN")
        .unwrap();
    assert_eq!(secret.value.as_ref().unwrap().as_bytes(), b"hunter2");
}

#[test]
fn listening_socket_is_mapped_to_its_pid() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (bundle, _keep) = collect(&[]);
    let me = i32::try_from(std::process::id()).unwrap();
    let want = format!("127.0.0.1:{port}");
    let found = sockets(&bundle)
        .into_iter()
        .find(|s| s.local == want && s.state == "LISTEN")
        .unwrap_or_else(|| panic!("no LISTEN socket on {want}"));
    assert_eq!(found.pids, vec![me]);
    assert!(process(&bundle, me)
        .fds
        .iter()
        .any(|f| f.target == FdTarget::Socket { inode: found.inode }));
    drop(listener);
}

#[test]
fn processes_exiting_during_collection_are_errors_not_crashes() {
    // A shell that starts and reaps short-lived processes as fast as it can while the collector runs.
    let churn = spawn(Command::new("sh").args(["-c", "while :; do /bin/true; /bin/true & done"]));
    for _ in 0..3 {
        let (bundle, _keep) = collect(&[]);
        assert!(!processes(&bundle).is_empty());
        let log = bundle
            .manifest
            .artifacts
            .iter()
            .find(|a| a.name == "processes")
            .expect("processes artifact log");
        for e in &log.errors {
            assert!(e.target.starts_with("/proc/"), "{e:?}");
        }
    }
    drop(churn);
}

#[test]
fn fifo_held_open_does_not_block() {
    let dir = plain_dir();
    let fifo = dir.path().join("pipe");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    // The process holds the FIFO read-write (so its own open does not block) and the name is removed.
    let child = spawn(Command::new("sh").arg("-c").arg(format!(
        "exec 3<>'{}'; rm '{}'; exec sleep 300",
        fifo.display(),
        fifo.display()
    )));
    wait_for_exe(child.pid(), b"sleep", |l| l.ends_with(b"/sleep"));

    let out = dir.path().join("b.tar.zst");
    let mut run = collector_command(&out, &[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while run.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("the collector blocked");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let bundle = open(&out);
    let rec = process(&bundle, child.pid());
    let fd3 = rec.fds.iter().find(|f| f.fd == 3).expect("fd 3");
    assert_eq!(
        fd3.target,
        FdTarget::File {
            path: fifo.as_os_str().as_bytes().into(),
            deleted: true
        }
    );
}

#[test]
fn host_record_and_manifest_describe_the_live_pass() {
    let (bundle, _keep) = collect(&["-v"]);
    let h = host(&bundle);
    assert_eq!(h.mode, CollectionMode::Live);
    assert!(!h.identity.boot_id.is_empty());
    assert_eq!(bundle.manifest.host.boot_id, h.identity.boot_id);
    assert!(h.clock_ticks_per_sec > 0 && h.nproc > 0 && h.boot_time_unix > 0);
    assert!(!h.collector_pids.is_empty());
    let table = processes(&bundle);
    for own in &h.collector_pids {
        assert!(
            table.iter().all(|p| p.pid != *own),
            "collector pid {own} is in the table"
        );
    }
    assert!(bundle
        .manifest
        .exclusions
        .iter()
        .any(|e| e.contains("collector's own process")));
    for name in ["hidden", "processes", "host", "executables", "sockets"] {
        assert!(
            bundle.manifest.artifacts.iter().any(|a| a.name == name),
            "artifact log {name} missing"
        );
    }
    // Identity: every process has a start time, and pids are unique.
    let mut pids: Vec<i32> = table.iter().map(|p| p.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), table.len());
}

#[test]
fn dead_box_mode_reads_no_live_state() {
    let root = plain_dir();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/hostname"), "imagehost\n").unwrap();
    std::fs::write(root.path().join("etc/machine-id"), "0123abcd\n").unwrap();
    let (bundle, _keep) = collect(&["--root", root.path().to_str().unwrap()]);
    let h = host(&bundle);
    assert_eq!(h.mode, CollectionMode::DeadBox);
    assert_eq!(h.identity.hostname, "imagehost");
    assert_eq!(h.identity.machine_id, "0123abcd");
    assert_eq!(h.identity.boot_id, "");
    assert_eq!(bundle.manifest.host.hostname, "imagehost");
    for m in [members::PROCESSES, members::EXECUTABLES, members::SOCKETS] {
        assert!(bundle.member(m).is_none(), "{m} in a dead-box bundle");
    }
}

/// Runs `script` in fresh pid and mount namespaces with a private `/proc`; fails loudly without them.
fn in_namespaces(script: &str, dir: &Path) -> std::process::Output {
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-ec",
            &format!("{MASK}{script}"),
        ])
        .env("COLLECT", COLLECT)
        .env("DIR", dir)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("unshare (util-linux) is required"),
        Err(e) => panic!("unshare: {e}"),
    };
    assert!(
        out.status.success(),
        "namespace script failed ({}); these tests need root and unshare:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn pid_namespace_table_matches_ps_and_sha256sum() {
    let dir = plain_dir();
    let script = r#"
        sleep 300 & sleep 301 & tail -f /dev/null &
        sleep 0.3
        "$COLLECT" -o "$DIR/b.tar.zst" --max-copy-total-mib 0 2>"$DIR/stderr"
        ps -e -o pid=,comm= > "$DIR/ps.txt"
        for p in $(ps -e -o pid=); do
            if [ -e /proc/$p/exe ]; then sha256sum /proc/$p/exe; fi
        done > "$DIR/sums.txt" 2>/dev/null || true
    "#;
    in_namespaces(script, dir.path());
    let bundle = open(&dir.path().join("b.tar.zst"));

    let ps = std::fs::read_to_string(dir.path().join("ps.txt")).unwrap();
    let mut want: Vec<i32> = ps
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            // `ps` itself ran after the collection; the collector excluded itself.
            (f.next()? != "ps").then_some(pid)
        })
        .collect();
    want.sort_unstable();
    let mut got: Vec<i32> = processes(&bundle).iter().map(|p| p.pid).collect();
    got.sort_unstable();
    assert_eq!(got, want, "process table vs ps -e");
    assert!(want.len() >= 4, "sh and three children: {want:?}");

    let sums = std::fs::read_to_string(dir.path().join("sums.txt")).unwrap();
    let mut checked = 0;
    for line in sums.lines() {
        let (sum, path) = line.split_once("  ").unwrap();
        let pid: i32 = path
            .trim_start_matches("/proc/")
            .trim_end_matches("/exe")
            .parse()
            .unwrap();
        if !got.contains(&pid) {
            continue; // the loop's own subshells
        }
        assert_eq!(
            executable_of(&bundle, pid).sha256.as_deref(),
            Some(sum),
            "pid {pid}"
        );
        checked += 1;
    }
    assert!(checked >= 4, "{sums}");
    let h = host(&bundle);
    assert!(h.hidden_pids.is_empty(), "{:?}", h.hidden_pids);
}

#[test]
fn mount_over_a_pid_directory_is_reported_as_hiding() {
    let dir = plain_dir();
    let script = r#"
        sleep 300 &
        victim=$!
        mkdir -p "$DIR/empty"
        mount --bind "$DIR/empty" /proc/$victim
        echo $victim > "$DIR/victim"
        "$COLLECT" -o "$DIR/b.tar.zst" --max-copy-total-mib 0 2>"$DIR/stderr"
    "#;
    in_namespaces(script, dir.path());
    let victim: i32 = std::fs::read_to_string(dir.path().join("victim"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let bundle = open(&dir.path().join("b.tar.zst"));
    let h = host(&bundle);
    assert!(
        h.proc_bind_mounts
            .iter()
            .any(|m| m.lossy().contains(&format!(" /proc/{victim} "))),
        "{:?}",
        h.proc_bind_mounts
    );
    assert!(
        h.hidden_pids.iter().any(|p| p.pid == victim),
        "{:?}",
        h.hidden_pids
    );
}

#[test]
fn fifo_mounted_over_a_proc_file_is_refused_not_opened() {
    let dir = plain_dir();
    let script = r#"
        sleep 300 &
        victim=$!
        mkfifo "$DIR/fifo"
        mount --bind "$DIR/fifo" /proc/$victim/cmdline
        echo $victim > "$DIR/victim"
        timeout 120 "$COLLECT" -o "$DIR/b.tar.zst" --max-copy-total-mib 0 2>"$DIR/stderr"
    "#;
    in_namespaces(script, dir.path());
    let victim: i32 = std::fs::read_to_string(dir.path().join("victim"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let bundle = open(&dir.path().join("b.tar.zst"));
    let rec = process(&bundle, victim);
    assert!(
        rec.errors
            .iter()
            .any(|e| e.starts_with("cmdline: not a regular file")),
        "{:?}",
        rec.errors
    );
    assert_eq!(
        rec.comm.as_bytes(),
        b"sleep",
        "the rest of the visit went on"
    );
    assert!(host(&bundle)
        .proc_bind_mounts
        .iter()
        .any(|m| m.lossy().contains(&format!(" /proc/{victim}/cmdline "))));
}
