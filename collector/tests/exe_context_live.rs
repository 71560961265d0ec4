//! Live collection of running executables no package owns: copied whole with the reason, and the
//! configuration files and scripts beside them and in their working directories stored as `exe-dir`
//! records — never a FIFO or a link, never a package-owned executable's neighbours. On a host without a
//! dpkg database, ownership is unknown: nothing is copied for it and the manifest says so. Runs as root
//! (as CI does) with `unshare`; it never skips.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minetrace_schemas::bundle::{members, Bundle, ReadLimits};
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::RecordSetV1;

const COLLECT: &str = env!("CARGO_BIN_EXE_minetrace-collect");

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

fn wait_for_exec(pid: u32, want: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if link.as_deref() == Some(want) && !args.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "pid {pid} never ran {want:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The collector in a private mount namespace with empty tmpfs over the temp places and homes (and over
/// `/var/lib/dpkg` when `hide_dpkg`), so the test's executables are odd only for being unowned.
fn collect(out: &Path, hide_dpkg: bool) -> (Bundle, Vec<ExecutableRecord>, Vec<FileRecord>) {
    let mut script = String::from(
        "for d in /tmp /var/tmp /dev/shm /root /home /run; do\n  case \"$COLLECT/\" in \"$d\"/*) continue ;; esac\n  case \"$OUT/\" in \"$d\"/*) continue ;; esac\n  if [ -d \"$d\" ]; then mount -t tmpfs none \"$d\"; fi\ndone\n",
    );
    if hide_dpkg {
        script.push_str("mount -t tmpfs none /var/lib/dpkg\n");
    }
    script.push_str("exec \"$COLLECT\" -o \"$OUT\" --threads 0\n");
    let status = Command::new("unshare")
        .args(["--mount", "sh", "-ec", &script])
        .env("COLLECT", COLLECT)
        .env("OUT", out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("unshare (util-linux) is required");
    assert!(status.success(), "collector failed: {status}; needs root");
    let bundle = Bundle::open(out, ReadLimits::default())
        .unwrap()
        .verified()
        .unwrap();
    let exes = match bundle.records(members::EXECUTABLES).unwrap() {
        Some(RecordSetV1::Executables(e)) => e,
        other => panic!("executables: {other:?}"),
    };
    let files = match bundle.records(members::FILES).unwrap() {
        Some(RecordSetV1::Files(f)) => f,
        other => panic!("files: {other:?}"),
    };
    (bundle, exes, files)
}

fn exe_of(exes: &[ExecutableRecord], pid: u32) -> &ExecutableRecord {
    let pid = i32::try_from(pid).unwrap();
    exes.iter()
        .find(|e| e.pids.contains(&pid))
        .unwrap_or_else(|| panic!("no executable record for pid {pid}"))
}

fn record<'a>(files: &'a [FileRecord], path: &Path) -> Option<&'a FileRecord> {
    files
        .iter()
        .find(|f| f.path.as_bytes() == path.as_os_str().as_bytes())
}

/// A miner-like layout outside every temp, hidden and home place: `m` (a copy of sleep), its
/// configuration and start script, a FIFO and a link with configuration names, and a working directory
/// with its own configuration. It lives under `/var/lib` (removed when the test ends), not in the build
/// directory, which may itself sit under `/tmp` or a home and would make the executable odd twice over.
struct Layout {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    exe: std::path::PathBuf,
    cwd: std::path::PathBuf,
    quiet_cwd: std::path::PathBuf,
}

fn layout() -> Layout {
    // Not tempfile's default `.tmpXXXX`: a hidden directory is an odd place of its own.
    let tmp = tempfile::Builder::new()
        .prefix("minetrace-exe-context-")
        .tempdir_in("/var/lib")
        .unwrap();
    let dir = tmp.path().join("opt-miner");
    let cwd = tmp.path().join("work");
    let quiet_cwd = tmp.path().join("quiet");
    for d in [&dir, &cwd, &quiet_cwd] {
        std::fs::create_dir_all(d).unwrap();
    }
    let exe = dir.join("m");
    std::fs::copy("/bin/sleep", &exe).unwrap();
    std::fs::write(
        dir.join("config.json"),
        br#"{"pools":[{"url":"127.66.0.1:3333"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("pools.txt"), b"127.66.0.1:3333\n").unwrap();
    std::fs::write(dir.join("start"), b"#!/bin/sh\nexec ./m 300\n").unwrap();
    std::fs::write(dir.join("notes.bin"), b"\x00\x01 not config").unwrap();
    let fifo = std::ffi::CString::new(dir.join("fifo.json").as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/etc/passwd", dir.join("link.json")).unwrap();
    std::fs::write(cwd.join("settings.yaml"), b"pool: 127.66.0.1:3333\n").unwrap();
    std::fs::write(quiet_cwd.join("owned-neighbour.json"), b"{}").unwrap();
    Layout {
        _dir: tmp,
        dir,
        exe,
        cwd,
        quiet_cwd,
    }
}

#[test]
fn unowned_running_executable_is_copied_with_its_configuration() {
    let l = layout();
    let miner = spawn(Command::new(&l.exe).arg("300").current_dir(&l.cwd));
    let owned = spawn(
        Command::new("/usr/bin/sleep")
            .arg("301")
            .current_dir(&l.quiet_cwd),
    );
    wait_for_exec(miner.0.id(), &l.exe);
    let out = l.dir.parent().unwrap().join("b.tar.zst");
    let (bundle, exes, files) = collect(&out, false);

    let e = exe_of(&exes, miner.0.id());
    assert_eq!(e.copy_reasons, vec!["not owned by a package"]);
    let CopyStatus::Copied { member } = &e.copy else {
        panic!("not copied: {:?}", e.copy);
    };
    assert_eq!(
        bundle.member(member),
        Some(&std::fs::read(&l.exe).unwrap()[..])
    );

    let sleep = exe_of(&exes, owned.0.id());
    assert!(sleep.copy_reasons.is_empty(), "{:?}", sleep.copy_reasons);
    assert_eq!(sleep.copy, CopyStatus::NotNeeded);

    for (path, want) in [
        (
            l.dir.join("config.json"),
            &br#"{"pools":[{"url":"127.66.0.1:3333"}]}"#[..],
        ),
        (l.dir.join("pools.txt"), b"127.66.0.1:3333\n"),
        (l.dir.join("start"), b"#!/bin/sh\nexec ./m 300\n"),
        (l.cwd.join("settings.yaml"), b"pool: 127.66.0.1:3333\n"),
    ] {
        let f = record(&files, &path).unwrap_or_else(|| panic!("no record of {path:?}"));
        assert_eq!(f.category, "exe-dir", "{path:?}");
        let stored = f.member.as_deref().and_then(|m| bundle.member(m));
        assert_eq!(stored, Some(want), "{path:?}");
    }
    for path in [
        l.dir.join("fifo.json"),
        l.dir.join("link.json"),
        l.dir.join("notes.bin"),
        l.exe.clone(),
        l.quiet_cwd.join("owned-neighbour.json"),
    ] {
        assert!(record(&files, &path).is_none(), "{path:?} was recorded");
    }
    let index = bundle
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "package-index")
        .expect("package-index artifact");
    assert!(index.items > 1_000, "{index:?}");
}

#[test]
fn without_dpkg_ownership_is_unknown_and_nothing_is_copied_for_it() {
    let l = layout();
    let miner = spawn(Command::new(&l.exe).arg("300").current_dir(&l.cwd));
    wait_for_exec(miner.0.id(), &l.exe);
    let out = l.dir.parent().unwrap().join("b.tar.zst");
    let (bundle, exes, files) = collect(&out, true);

    let e = exe_of(&exes, miner.0.id());
    assert!(e.copy_reasons.is_empty(), "{:?}", e.copy_reasons);
    assert_eq!(e.copy, CopyStatus::NotNeeded);
    assert!(e.sha256.is_some());
    assert!(record(&files, &l.dir.join("config.json")).is_none());
    assert!(
        bundle
            .manifest
            .exclusions
            .iter()
            .any(|x| x.contains("no package database")),
        "{:?}",
        bundle.manifest.exclusions
    );
}
