//! A disposable compromised host: new mount, PID, network, UTS and IPC namespaces; an overlayfs over `/`
//! with its upper layer on a tmpfs; fresh `/proc`; `chroot`; loopback up.
//!
//! ```text
//!  harness (host)                       sandbox namespaces
//!  ──────────────                       ─────────────────────────────────────────────
//!  unshare -mpnui --fork --kill-child ─▶ PID 1 minetrace-sandbox-init (reaps, holds stdin)
//!  Sandbox::fs()   /proc/<init>/root ──▶ /  (overlay: lower /, upper tmpfs)   ← openat2 IN_ROOT
//!  Sandbox::command() nsenter --root ──▶ any command, chrooted, clean environment
//!  Sandbox::launch()  nsenter        ──▶ /tmp/bin/mt-standin launch /tmp/root  (scenario processes)
//!  Sandbox::collect() nsenter        ──▶ mt-standin enter /tmp/root  + collector via fd 3 → stdout
//!  Sandbox::start_pool() nsenter --net ▶ fake pool: same loopback, *not* in the sandbox's PID/mount ns
//! ```
//!
//! Everything the sandbox writes lives in its tmpfs and mount namespace; every process in it dies when
//! init exits (on [`Drop`], or when the harness dies and init's stdin closes). Setup failures (not root,
//! no namespaces, no overlayfs) are errors with the failing step, never a skip.

pub mod fs;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::binaries;
pub use fs::{Meta, SandboxFs};

/// Host path of the compiled stand-in program (see `standin/standin.c`).
pub const STANDIN: &str = concat!(env!("OUT_DIR"), "/mt-standin");
/// Host path of the do-nothing preload library (see `standin/standin_lib.c`).
pub const STANDIN_LIB: &str = concat!(env!("OUT_DIR"), "/libstandin.so");
/// Where the sandbox's merged root and the stand-in live inside its mount namespace (outside the chroot).
const SANDBOX_ROOT: &str = "/tmp/root";
const SANDBOX_STANDIN: &str = "/tmp/bin/mt-standin";
/// The environment every command in the sandbox gets: nothing from the harness leaks in.
pub const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default limit for one command in the sandbox.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A live sandboxed host.
pub struct Sandbox {
    unshare: Child,
    init_stdin: Option<ChildStdin>,
    init_pid: i32,
    fs: SandboxFs,
    pools: Vec<Child>,
    hostname: String,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("init_pid", &self.init_pid)
            .field("hostname", &self.hostname)
            .finish()
    }
}

/// Why the sandbox cannot be built here, checked before trying so the message says what to fix.
fn preflight() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the end-to-end sandbox needs root (CAP_SYS_ADMIN for namespaces, overlayfs and chroot); \
             run `cargo test -p minetrace-e2e` as root. These tests never skip."
        );
    }
    for tool in ["unshare", "nsenter"] {
        if find_in_path(tool).is_none() {
            bail!("`{tool}` (util-linux) is not installed; the sandbox needs it");
        }
    }
    for ns in ["mnt", "pid", "net", "uts", "ipc"] {
        if !Path::new(&format!("/proc/self/ns/{ns}")).exists() {
            bail!("this kernel has no {ns} namespaces (/proc/self/ns/{ns} is missing)");
        }
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems.contains("overlay") {
        // Not fatal by itself: the module may load on first mount. The mount error will say more.
        eprintln!("minetrace-e2e: overlay is not in /proc/filesystems yet; trying anyway");
    }
    Ok(())
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    CLEAN_PATH
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// Host pid of the single child of `parent` (init, forked by `unshare --fork`).
fn child_of(parent: u32) -> Option<i32> {
    let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok();
    if let Some(pid) = children
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
        .and_then(|p| p.parse().ok())
    {
        return Some(pid);
    }
    // Kernels without CONFIG_PROC_CHILDREN: scan for a process whose parent is `parent`.
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// Runs `cmd` to completion with `stdin` fed in, killing it after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Result<Output> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
    let mut input = child.stdin.take();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(w) = input.as_mut() {
            let _ = w.write_all(&bytes);
        }
    });
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let reader_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let reader_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout = reader_out
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))?;
    let stderr = reader_err
        .join()
        .map_err(|_| anyhow!("stderr reader panicked"))?;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Fails with the command's output when it did not exit 0.
pub fn expect_success(what: &str, out: &Output) -> Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        bail!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Sandbox {
    /// Builds a fresh sandbox whose host name is `hostname`.
    pub fn start(hostname: &str) -> Result<Sandbox> {
        preflight()?;
        let init = binaries::sandbox_init()?;
        let mut unshare = Command::new("unshare");
        unshare
            .args([
                "--mount",
                "--pid",
                "--net",
                "--uts",
                "--ipc",
                "--fork",
                "--kill-child",
                "--propagation",
                "private",
                "--",
            ])
            .arg(&init)
            .arg(STANDIN)
            .arg(hostname)
            .env_clear()
            .env("PATH", CLEAN_PATH)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = unshare
            .spawn()
            .context("starting `unshare` for the sandbox (is util-linux installed?)")?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        if line.trim() != "ready" {
            let _ = child.kill();
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            let status = child.wait().ok();
            bail!(
                "the sandbox could not be built (unshare/init exited with {status:?}).\n{}\n\
                 The e2e tests need root, mount/PID/network namespaces and overlayfs; they do not skip.",
                stderr.trim()
            );
        }
        // Keep draining init's stderr so it never blocks.
        if let Some(mut e) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut sink = Vec::new();
                let _ = e.read_to_end(&mut sink);
            });
        }
        let init_pid = child_of(child.id())
            .ok_or_else(|| anyhow!("cannot find the sandbox init under unshare {}", child.id()))?;
        let fs =
            SandboxFs::open(init_pid).with_context(|| format!("opening /proc/{init_pid}/root"))?;
        let init_stdin = child.stdin.take();
        Ok(Sandbox {
            unshare: child,
            init_stdin,
            init_pid,
            fs,
            pools: Vec::new(),
            hostname: hostname.to_owned(),
        })
    }

    /// Host pid of the sandbox's PID 1.
    pub fn init_pid(&self) -> i32 {
        self.init_pid
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The sandbox's filesystem, for planting and inspecting files.
    pub fn fs(&self) -> &SandboxFs {
        &self.fs
    }

    fn nsenter(&self, root: bool) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("--target")
            .arg(self.init_pid.to_string())
            .args(["--mount", "--pid", "--net", "--uts", "--ipc"]);
        if root {
            cmd.args(["--root", "--wd"]);
        }
        cmd.arg("--")
            .env_clear()
            .env("PATH", CLEAN_PATH)
            .env("HOME", "/root")
            .env("LANG", "C")
            .env("TERM", "dumb");
        cmd
    }

    /// A command that runs `program` inside the sandbox (chrooted, every namespace, clean environment).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = self.nsenter(true);
        cmd.arg(program);
        cmd
    }

    /// Runs `argv` in the sandbox and returns its output (any exit status).
    pub fn run<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Output> {
        self.run_with_stdin(argv, b"", DEFAULT_TIMEOUT)
    }

    pub fn run_with_stdin<S: AsRef<OsStr>>(
        &self,
        argv: &[S],
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<Output> {
        let (program, args) = argv.split_first().ok_or_else(|| anyhow!("empty argv"))?;
        let mut cmd = self.command(program);
        cmd.args(args);
        run_with_timeout(&mut cmd, stdin, timeout)
    }

    /// Every entry of the overlay's upper layer, by path, with its type, mode, owner, size, times, inode
    /// and link target: everything the sandboxed host has written since it started (a new file, a
    /// changed one, a chmod, a removal as a whiteout). Two listings that are equal mean the whole tree
    /// is unchanged. Read from the sandbox's mount namespace outside its chroot.
    pub fn upper_layer(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut cmd = self.nsenter(false);
        cmd.args([
            "find",
            "/tmp/upper",
            "-xdev",
            "-printf",
            "%P\\0%y %m %U %G %s %T@ %C@ %i %l\\0",
        ]);
        let out = run_with_timeout(&mut cmd, b"", DEFAULT_TIMEOUT)?;
        expect_success("listing the overlay upper layer", &out)?;
        let mut fields = out.stdout.split(|b| *b == 0);
        let mut map = BTreeMap::new();
        while let (Some(path), Some(meta)) = (fields.next(), fields.next()) {
            if !path.is_empty() || !meta.is_empty() {
                map.insert(path.to_vec(), meta.to_vec());
            }
        }
        Ok(map)
    }

    /// Runs a `/bin/sh -c` script in the sandbox; fails unless it exits 0. Returns stdout.
    pub fn sh(&self, script: &str) -> Result<String> {
        let out = self.run(&["/bin/sh", "-c", script])?;
        expect_success(&format!("sandbox script `{script}`"), &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the fake pool listening on every `IP:PORT` (127.0.0.0/8 only). It shares the sandbox's
    /// loopback but not its PID or mount namespace, so the collector sees the connection and no pool
    /// process: the pool stands for a host on the internet.
    pub fn start_pool(&mut self, addrs: &[String]) -> Result<()> {
        if addrs.is_empty() {
            return Ok(());
        }
        for addr in addrs {
            let ip: std::net::SocketAddrV4 = addr
                .parse()
                .with_context(|| format!("pool address {addr:?} is not IPv4 IP:PORT"))?;
            if !ip.ip().is_loopback() {
                bail!("pool address {addr} is not on loopback; tests only talk to 127.0.0.0/8");
            }
        }
        let mut cmd = Command::new("nsenter");
        cmd.arg("--target")
            .arg(self.init_pid.to_string())
            .args(["--net", "--"])
            .arg(STANDIN)
            .arg("pool")
            .args(addrs)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting the fake pool")?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "listening" {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            bail!("the fake pool did not start on {addrs:?}: {}", err.trim());
        }
        self.pools.push(child);
        Ok(())
    }

    /// Starts scenario processes from a stand-in spec (see `standin/standin.c`); returns each process's
    /// pid inside the sandbox by scenario name, once every process reported ready.
    pub fn launch(&self, spec: &str) -> Result<BTreeMap<String, i32>> {
        if spec.len() > 60_000 {
            bail!(
                "process spec of {} bytes does not fit a pipe buffer",
                spec.len()
            );
        }
        let mut cmd = self.nsenter(false);
        cmd.arg(SANDBOX_STANDIN).arg("launch").arg(SANDBOX_ROOT);
        let out = run_with_timeout(&mut cmd, spec.as_bytes(), Duration::from_secs(60))?;
        expect_success("starting the scenario processes", &out)?;
        let mut pids = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut parts = line.split_whitespace();
            if let (Some("ready"), Some(id), Some(pid)) = (parts.next(), parts.next(), parts.next())
            {
                pids.insert(id.to_owned(), pid.parse().context("pid from the launcher")?);
            }
        }
        Ok(pids)
    }

    /// Runs a host executable inside the sandbox without copying it there: it is handed over as fd 3
    /// and executed after the chroot (`mt-standin enter`). Its `/proc/PID/exe` points outside the
    /// sandbox's root, so it leaves no file in the sandbox.
    pub fn run_host_binary<S: AsRef<OsStr>>(
        &self,
        binary: &Path,
        argv: &[S],
        timeout: Duration,
    ) -> Result<Output> {
        let file =
            std::fs::File::open(binary).with_context(|| format!("opening {}", binary.display()))?;
        let fd = file.as_raw_fd();
        let mut cmd = self.nsenter(false);
        cmd.arg(SANDBOX_STANDIN)
            .arg("enter")
            .arg(SANDBOX_ROOT)
            .args(argv);
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if fd == 3 {
                    // dup2(3, 3) is a no-op that keeps FD_CLOEXEC: clear it, or exec closes the binary.
                    let flags = libc::fcntl(3, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = run_with_timeout(&mut cmd, b"", timeout);
        drop(file);
        out
    }

    /// Runs the real collector inside the sandbox (`minetrace-collect -o -`) and returns the bundle bytes.
    pub fn collect(&self) -> Result<Vec<u8>> {
        let collector = binaries::collector()?;
        let out = self.run_host_binary(
            &collector,
            &["minetrace-collect", "-o", "-"],
            Duration::from_secs(120),
        )?;
        expect_success("minetrace-collect in the sandbox", &out)?;
        if out.stdout.is_empty() {
            bail!(
                "minetrace-collect wrote no bundle: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out.stdout)
    }

    /// Ends the sandbox now: the pool, then init (which takes every process in the namespace with it).
    pub fn shutdown(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        for mut pool in self.pools.drain(..) {
            drop(pool.stdin.take());
            let _ = pool.kill();
            let _ = pool.wait();
        }
        // Init exits when its stdin closes; killing unshare also SIGKILLs init (`--kill-child`). Init's
        // pid is never signalled directly: it could have been reused once init is gone.
        drop(self.init_stdin.take());
        let _ = self.unshare.kill();
        self.unshare.wait().context("waiting for unshare")?;
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
