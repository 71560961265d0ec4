//! Runtime detectors against a real bundle: stand-in "miners" (a tiny program compiled here, started under
//! miner names, paths and arguments, holding a connection to a fake pool on loopback) and benign look-alikes
//! run on this host, the real collector collects it, and the analyzer library judges the bundle.
//!
//! No mining software is involved: the stand-in only sleeps, spins or holds a TCP connection. Network
//! traffic goes to 127.66.0.x only. Every process started here is killed by its own handle at the end.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minetrace_analyzer::analysis::{Analysis, AnalysisInputs};
use minetrace_schemas::findings::{Finding, Severity, Subject};

/// The stand-in: ignores its arguments; `STANDIN_CONNECT=ip:port` holds a connection, `STANDIN_MODE=busy`
/// spins, otherwise it sleeps. It exits by itself after two minutes so nothing outlives a failed test.
const STANDIN_SRC: &str = r#"
use std::time::{Duration, Instant};
fn main() {
    let mut _conn = None;
    if let Ok(addr) = std::env::var("STANDIN_CONNECT") {
        _conn = std::net::TcpStream::connect(addr).ok();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    if std::env::var("STANDIN_MODE").as_deref() == Ok("busy") {
        let mut x: u64 = 1;
        while Instant::now() < deadline {
            for i in 0..2_000_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
            std::hint::black_box(x);
        }
    } else {
        std::thread::sleep(Duration::from_secs(120));
    }
}
"#;

/// Strings a real XMRig build carries; appended to one stand-in's copy so the binary analysis has
/// something to find. They are inert bytes after the ELF image.
const MINER_STRINGS: &[u8] =
    b"\0XMRig/%s libuv/%s%s\0stratum+tcp://\0randomx\0 * THREADS: %d, %s, aes=%d, hf=%zu, %sdonate=%d%%\0";

/// A Monero-shaped address (95 base58 characters starting with 4): not a real wallet.
fn fake_wallet() -> String {
    format!("4A{}", "1".repeat(93))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn build_collector() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "minetrace-collector"])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the collector failed");
    target_dir().join("debug").join("minetrace-collect")
}

fn rustc() -> PathBuf {
    let beside_cargo = Path::new(env!("CARGO")).with_file_name("rustc");
    if beside_cargo.exists() {
        beside_cargo
    } else {
        PathBuf::from("rustc")
    }
}

fn build_standin(dir: &Path) -> PathBuf {
    let src = dir.join("standin.rs");
    std::fs::write(&src, STANDIN_SRC).unwrap();
    let out = dir.join("standin");
    let status = Command::new(rustc())
        .args([
            "--edition",
            "2021",
            "-C",
            "opt-level=1",
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run rustc");
    assert!(status.success(), "compiling the stand-in failed");
    out
}

/// Kills the children it holds when dropped, each by its own handle.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn copy_exe(from: &Path, to: &Path, extra: &[u8]) {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut bytes = std::fs::read(from).unwrap();
    bytes.extend_from_slice(extra);
    std::fs::write(to, bytes).unwrap();
    let mut perms = std::fs::metadata(to).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(to, perms).unwrap();
}

fn start(exe: &Path, arg0: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(exe);
    cmd.arg0(arg0)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()))
}

/// Binds the fake pool on the first free 127.66.0.x:3333 and accepts connections, holding them open.
fn fake_pool() -> String {
    for host in 1..=20 {
        let addr = format!("127.66.0.{host}:3333");
        if let Ok(listener) = TcpListener::bind(&addr) {
            std::thread::spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                for stream in listener.incoming().flatten() {
                    held.push(stream);
                }
            });
            return addr;
        }
    }
    panic!("no free 127.66.0.x:3333 for the fake pool");
}

fn pid_of(c: &Child) -> i32 {
    i32::try_from(c.id()).unwrap()
}

fn about(findings: &[Finding], pid: i32) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| {
            f.subjects
                .iter()
                .any(|s| matches!(&s.subject, Subject::Process { pid: p, .. } if *p == pid))
        })
        .collect()
}

fn show(fs: &[&Finding]) -> String {
    fs.iter()
        .map(|f| {
            format!(
                "{} {:?} {:?} {}",
                f.rule,
                f.severity,
                f.family,
                f.evidence.join(" | ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn standin_miners_are_found_and_lookalikes_stay_below_medium() {
    if !rustix_is_root() {
        eprintln!("skipped: needs root to collect other processes' /proc entries");
        return;
    }
    let collector = build_collector();
    let work = tempfile::Builder::new()
        .prefix("mt-rt-")
        .tempdir_in("/tmp")
        .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let standin = build_standin(out_dir.path());
    let pool = fake_pool();
    let wallet = fake_wallet();
    let url = format!("stratum+tcp://{pool}");

    // A Kinsing-like miner: named kdevtmpfsi, in a temp dir, miner flags, pool connection, busy, miner
    // strings in its binary.
    let kdev = work.path().join("kdevtmpfsi");
    copy_exe(&standin, &kdev, MINER_STRINGS);
    // A kernel-thread masquerade in a hidden temp dir.
    let kswapd = work.path().join(".X25-unix/.rsync/c/kswapd0");
    copy_exe(&standin, &kswapd, b"");
    // A miner whose executable is deleted after start.
    let dbused = work.path().join("dbused");
    copy_exe(&standin, &dbused, b"");
    // Look-alikes: an ordinary sleep named make under temp, and a busy plain program under temp.
    let make = work.path().join("build/make");
    copy_exe(Path::new("/bin/sleep"), &make, b"");
    let cruncher = work.path().join("build/cruncher");
    copy_exe(&standin, &cruncher, b"");

    let mut kids = Children(Vec::new());
    kids.0.push(start(
        &kdev,
        "kdevtmpfsi",
        &["--donate-level=0", "-o", &url, "-u", &wallet, "-a", "rx/0"],
        &[("STANDIN_CONNECT", &pool), ("STANDIN_MODE", "busy")],
    ));
    kids.0.push(start(
        &kswapd,
        "[kworker/0:2]",
        &[],
        &[("STANDIN_CONNECT", &pool)],
    ));
    kids.0.push(start(
        &dbused,
        "dbused",
        &["-c", "config.json"],
        &[("STANDIN_CONNECT", &pool)],
    ));
    kids.0.push(start(&make, "make", &["1000"], &[]));
    kids.0.push(start(
        &cruncher,
        "cruncher",
        &["--jobs", "1"],
        &[("STANDIN_MODE", "busy")],
    ));
    let pids: Vec<i32> = kids.0.iter().map(pid_of).collect();
    let (kdev_pid, kswapd_pid, dbused_pid, make_pid, cruncher_pid) =
        (pids[0], pids[1], pids[2], pids[3], pids[4]);

    // Let the busy ones accumulate CPU time and the connections settle; then delete dbused's file.
    std::thread::sleep(Duration::from_secs(5));
    std::fs::remove_file(&dbused).unwrap();

    let bundle = out_dir.path().join("host.tar.zst");
    let started = Instant::now();
    let output = Command::new(&collector)
        .arg("-o")
        .arg(&bundle)
        .output()
        .expect("run the collector");
    assert!(
        output.status.success(),
        "collector failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("collected in {:?}", started.elapsed());
    drop(kids);

    let analysis = Analysis::run(
        &bundle,
        &AnalysisInputs {
            iocs: minetrace_analyzer::indicators::Indicators::builtin(),
            ..AnalysisInputs::default()
        },
    )
    .expect("analyze the bundle");
    if analysis.model.processes.is_empty() {
        panic!("the collector wrote no process records");
    }
    let findings = &analysis.document.findings;

    // The Kinsing-like stand-in.
    let k = about(findings, kdev_pid);
    let rules: BTreeSet<&str> = k.iter().map(|f| f.rule.as_str()).collect();
    for r in ["MT-RUN-001", "MT-RUN-010", "MT-RUN-020", "MT-RUN-032"] {
        assert!(rules.contains(r), "kdevtmpfsi lacks {r}:\n{}", show(&k));
    }
    let miner = k.iter().find(|f| f.rule == "MT-RUN-001").unwrap();
    assert_eq!(miner.severity, Severity::Critical, "{}", show(&k));
    assert_eq!(miner.family.as_deref(), Some("Kinsing"), "{}", show(&k));
    assert!(miner.attack.iter().any(|a| a == "T1496"));
    let pool_finding = k.iter().find(|f| f.rule == "MT-RUN-020").unwrap();
    assert!(pool_finding.severity >= Severity::High, "{}", show(&k));
    assert!(
        pool_finding
            .subjects
            .iter()
            .any(|s| matches!(&s.subject, Subject::Endpoint { addr } if *addr == pool)),
        "{}",
        show(&k)
    );
    assert!(k.iter().find(|f| f.rule == "MT-RUN-010").unwrap().severity >= Severity::High);

    // The kernel-thread masquerade.
    let kw = about(findings, kswapd_pid);
    let masq = kw.iter().find(|f| f.rule == "MT-RUN-033");
    assert!(
        masq.is_some_and(|f| f.severity >= Severity::High),
        "{}",
        show(&kw)
    );
    assert!(kw.iter().any(|f| f.rule == "MT-RUN-020"), "{}", show(&kw));

    // The deleted miner.
    let d = about(findings, dbused_pid);
    assert!(
        d.iter()
            .any(|f| f.rule == "MT-RUN-030" && f.severity >= Severity::High),
        "{}",
        show(&d)
    );
    assert!(
        d.iter()
            .any(|f| f.rule == "MT-RUN-001" && f.severity >= Severity::High),
        "{}",
        show(&d)
    );

    // Look-alikes: present, maybe noted, never medium or above.
    for (name, pid) in [("make", make_pid), ("cruncher", cruncher_pid)] {
        let fs = about(findings, pid);
        assert!(
            fs.iter().all(|f| f.severity < Severity::Medium),
            "look-alike {name} reached medium:\n{}",
            show(&fs)
        );
    }
    // Whether it counts as busy depends on how much CPU this machine gave it; when it does, it is noted at
    // low and no higher.
    let cruncher_busy = analysis
        .model
        .process(cruncher_pid)
        .and_then(|p| minetrace_analyzer::detect::runtime::support::busy(&analysis.model, p))
        .is_some();
    if cruncher_busy {
        let fs = about(findings, cruncher_pid);
        assert!(
            fs.iter()
                .any(|f| f.rule == "MT-RUN-002" && f.severity == Severity::Low),
            "the busy look-alike should be noted at low:\n{}",
            show(&fs)
        );
    }
    assert_eq!(
        analysis.document.verdict,
        minetrace_schemas::findings::Verdict::Compromised
    );
    drop(work);
}

/// Hiding, for real but only inside a private mount namespace: a bind mount over one stand-in's
/// `/proc/PID` (what process hiders do without a rootkit) and an `LD_PRELOAD` of a process hider from a
/// hidden directory in the other, visible stand-in's environment. The collector runs inside that namespace, so the
/// mount never touches the host's view.
#[test]
fn proc_bind_mount_and_hiding_preload_are_found() {
    if !rustix_is_root() || !Path::new("/usr/bin/unshare").exists() {
        eprintln!("skipped: needs root and unshare");
        return;
    }
    let collector = build_collector();
    let work = tempfile::Builder::new()
        .prefix("mt-rt-ev-")
        .tempdir_in("/tmp")
        .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let standin = build_standin(out_dir.path());
    let decoy = work.path().join("decoy");
    copy_exe(&standin, &decoy, b"");
    let hidden = work.path().join("hidden");
    copy_exe(&standin, &hidden, b"");
    // The library does not exist: the loader warns and goes on, and the environment still says it.
    let preload = work.path().join(".cache/libprocesshider.so");
    let mut kids = Children(Vec::new());
    // The decoy stays visible (its /proc entry is what the mount shows in the hidden one's place), so its
    // environment carries the preload.
    kids.0.push(start(
        &decoy,
        "decoy",
        &[],
        &[("LD_PRELOAD", preload.to_str().unwrap())],
    ));
    kids.0.push(start(&hidden, "hidden", &[], &[]));
    let (decoy_pid, hidden_pid) = (pid_of(&kids.0[0]), pid_of(&kids.0[1]));
    std::thread::sleep(Duration::from_millis(500));

    let bundle = out_dir.path().join("hidden.tar.zst");
    let output = Command::new("/usr/bin/unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind /proc/$1 /proc/$2 && exec \"$3\" -o \"$4\"")
        .arg("sh")
        .arg(decoy_pid.to_string())
        .arg(hidden_pid.to_string())
        .arg(&collector)
        .arg(&bundle)
        .output()
        .expect("run the collector in a private mount namespace");
    assert!(
        output.status.success(),
        "collector failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    drop(kids);
    let analysis = Analysis::run(
        &bundle,
        &AnalysisInputs {
            iocs: minetrace_analyzer::indicators::Indicators::builtin(),
            ..AnalysisInputs::default()
        },
    )
    .expect("analyze the bundle");
    let findings = &analysis.document.findings;
    let all: Vec<&Finding> = findings.iter().collect();
    let mount = findings.iter().find(|f| {
        f.rule == "MT-RUN-041"
            && f.subjects
                .iter()
                .any(|s| matches!(&s.subject, Subject::Process { pid, .. } if *pid == hidden_pid))
    });
    assert!(
        mount.is_some_and(|f| f.severity >= Severity::High),
        "no MT-RUN-041 for pid {hidden_pid}:\n{}",
        show(&all)
    );
    let pre = findings.iter().find(|f| f.rule == "MT-RUN-044");
    assert!(
        pre.is_some_and(|f| f.severity >= Severity::High
            && f.subjects.iter().any(
                |s| matches!(&s.subject, Subject::File { path, .. } if path.as_bytes() == preload.as_os_str().as_encoded_bytes())
            )),
        "no high MT-RUN-044 for the hider preload:\n{}",
        show(&all)
    );
    drop(work);
}

fn rustix_is_root() -> bool {
    let mut s = String::new();
    std::fs::File::open("/proc/self/status")
        .and_then(|mut f| f.read_to_string(&mut s))
        .ok();
    s.lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .is_some_and(|euid| euid == "0")
}
