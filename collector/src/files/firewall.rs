//! Firewall (category `firewall`) and name resolution (category `network`).
//!
//! Live mode runs `iptables-save`, `ip6tables-save`, their `-legacy-` variants and `nft` (`-j list
//! ruleset` and the text form) — the only host tools the collector runs. Each is looked up in a fixed PATH
//! (`/usr/sbin:/usr/bin:/sbin:/bin`, never the caller's), run with an empty environment but that PATH,
//! stdin from `/dev/null`, in its own process group, and killed with the group when [`TOOL_TIMEOUT`] runs
//! out. Its path, the sha256 of the binary that ran, exit status, timing and stderr head go in a
//! [`CommandRecord`]; stdout becomes the member `commands/<name>.stdout`. A missing tool is a record
//! saying so, not an error. Dead-box mode runs nothing (the image's kernel is not running).
//!
//! Both modes collect the saved rule files (`/etc/sysconfig/iptables*`, `/etc/iptables/`,
//! `/etc/nftables.conf`, `/etc/nftables.d`, firewalld and ufw configuration); live mode also keeps
//! `/proc/net/ip_tables_names` and friends. `network` holds `/etc/hosts`, `hosts.allow`/`hosts.deny` and
//! `resolv.conf` (miners sinkhole rivals' pools and security updates there).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::command::CommandRecord;
use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
use minetrace_schemas::RawBytes;

use super::file_meta;
use super::sink::{Content, Sink, CONFIG_CAP};
use super::walk::{self, Limits, Pick};
use crate::host_read;

/// The only PATH a host tool is looked up in and run with.
pub const FIXED_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(10);
/// Ruleset dumps above this are cut (a real one is a few MiB at most).
const STDOUT_CAP: u64 = 64 << 20;
const STDERR_CAP: u64 = 4096;
/// Largest tool binary hashed.
const TOOL_HASH_CAP: u64 = 256 << 20;

const TOOLS: &[Tool] = &[
    ("iptables-save", "iptables-save", &[]),
    ("ip6tables-save", "ip6tables-save", &[]),
    ("iptables-legacy-save", "iptables-legacy-save", &[]),
    ("ip6tables-legacy-save", "ip6tables-legacy-save", &[]),
    ("nft-ruleset-json", "nft", &["-j", "list", "ruleset"]),
    ("nft-ruleset", "nft", &["list", "ruleset"]),
];

const PROC_FILES: &[&[u8]] = &[
    b"/proc/net/ip_tables_names",
    b"/proc/net/ip6_tables_names",
    b"/proc/net/ip_tables_targets",
    b"/proc/net/ip_tables_matches",
];

/// The firewall tools, started together on their own threads (each waits on its child, so their run
/// overlaps the families before `firewall` on a host where exec and the netlink dumps take tens of ms).
#[derive(Debug)]
pub struct ToolRuns(Vec<(Tool, std::thread::JoinHandle<ToolOutput>)>);

/// A tool's record and what it printed.
type ToolOutput = (CommandRecord, Option<Vec<u8>>);

/// (capture name, tool, arguments)
type Tool = (&'static str, &'static str, &'static [&'static str]);

/// Starts every tool of [`TOOLS`] (live mode only: call it after the process pass, so the tools never
/// show in the process table).
pub fn start_tools() -> ToolRuns {
    ToolRuns(
        TOOLS
            .iter()
            .map(|&(name, tool, args)| {
                (
                    (name, tool, args),
                    std::thread::spawn(move || run_tool(name, tool, args, TOOL_TIMEOUT)),
                )
            })
            .collect(),
    )
}

impl ToolRuns {
    /// Every tool's record and output, in [`TOOLS`] order (each bounded by [`TOOL_TIMEOUT`]).
    pub fn finish(self) -> Vec<ToolOutput> {
        self.0
            .into_iter()
            .map(|((name, tool, args), handle)| {
                handle.join().unwrap_or_else(|_| {
                    let mut rec = not_run(name, tool, args);
                    rec.error = Some("the thread running the tool failed".into());
                    (rec, None)
                })
            })
            .collect()
    }
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    s.category = "firewall";
    if s.ctx.root.is_dead_box() {
        s.col
            .exclusions
            .push("dead-box mode: firewall tools were not run and /proc was not read; rules come from saved files only".into());
    } else {
        let runs = s.ctx.tool_runs.take().unwrap_or_else(start_tools);
        for (record, stdout) in runs.finish() {
            let name = record.name.clone();
            let mut record = record;
            if let Some(out) = stdout {
                let member = format!("commands/{name}.stdout");
                s.col.add_member(&member, &out)?;
                record.stdout_member = Some(member);
            }
            if let Some(e) = &record.error {
                if record.tool_path.is_some() {
                    s.note(name.as_bytes(), e);
                }
            }
            s.col.commands.push(record);
            s.log.items += 1;
        }
        for p in PROC_FILES {
            proc_file(s, p)?;
        }
    }
    let store = Content::Head { cap: CONFIG_CAP };
    for f in [
        &b"/etc/sysconfig/iptables"[..],
        b"/etc/sysconfig/ip6tables",
        b"/etc/sysconfig/iptables-config",
        b"/etc/sysconfig/ip6tables-config",
        b"/etc/sysconfig/nftables.conf",
        b"/etc/nftables.conf",
    ] {
        s.capture(f, store)?;
    }
    for dir in [
        &b"/etc/iptables"[..],
        b"/etc/nftables.d",
        b"/etc/nftables",
        b"/etc/firewalld",
        b"/etc/ufw",
    ] {
        walk::walk(s, dir, Limits::config(4), |_| Pick::Record(store))?;
    }
    s.category = "network";
    for f in [
        &b"/etc/hosts"[..],
        b"/etc/hosts.allow",
        b"/etc/hosts.deny",
        b"/etc/resolv.conf",
    ] {
        s.capture(f, store)?;
    }
    Ok(())
}

/// Keeps a live `/proc` file (size 0 on stat) under `fs/proc/...`.
fn proc_file<W: Write>(s: &mut Sink<'_, W>, path: &[u8]) -> Result<(), WriteError> {
    let real = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path));
    let bytes = match host_read::read_proc(real, 1 << 20) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            s.note(path, format!("read: {e}"));
            return Ok(());
        }
    };
    let member = fs_member(path);
    if !s.col.has_member(&member) {
        s.col.add_member(&member, &bytes)?;
    }
    let now = FileTime::default();
    s.col.files.push(FileRecord {
        path: RawBytes::new(path.to_vec()),
        category: s.category.into(),
        kind: FileKind::Regular,
        link_target: None,
        mode: 0o100444,
        uid: 0,
        gid: 0,
        size: bytes.len() as u64,
        dev: 0,
        ino: 0,
        nlink: 1,
        mtime: now,
        atime: now,
        ctime: now,
        btime: None,
        flags: None,
        immutable: false,
        append_only: false,
        sha256: Some(file_meta::sha256_hex(&bytes)),
        member: Some(member),
        truncated: false,
        error: None,
    });
    s.log.items += 1;
    Ok(())
}

/// Finds `tool` in [`FIXED_PATH`]: the first executable regular file (links followed, as exec would).
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    FIXED_PATH
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The record of a tool before it runs.
fn not_run(name: &str, tool: &str, args: &[&str]) -> CommandRecord {
    let mut argv = vec![RawBytes::from(tool)];
    argv.extend(args.iter().map(|a| RawBytes::from(*a)));
    CommandRecord {
        name: name.to_owned(),
        argv,
        tool_path: None,
        tool_sha256: None,
        exit_code: None,
        timed_out: false,
        duration_ms: 0,
        stdout_member: None,
        stderr: RawBytes::default(),
        error: None,
    }
}

/// Runs one host tool under the rules above. Never blocks past `timeout` (plus a second for the pipes).
pub fn run_tool(name: &str, tool: &str, args: &[&str], timeout: Duration) -> ToolOutput {
    let mut rec = not_run(name, tool, args);
    let Some(path) = find_tool(tool) else {
        rec.error = Some(format!("{tool} not found in {FIXED_PATH}"));
        return (rec, None);
    };
    rec.tool_path = Some(RawBytes::new(
        std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec(),
    ));
    // Hash the file exec will run: the link's final target.
    rec.tool_sha256 = std::fs::canonicalize(&path)
        .ok()
        .and_then(|real| host_read::open_regular(&real).ok())
        .and_then(|(f, _)| {
            let mut h = sha2::Sha256::default();
            let mut buf = vec![0u8; 1 << 16];
            let mut f = f.take(TOOL_HASH_CAP);
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break Some(hex::encode(sha2::Digest::finalize(h))),
                    Ok(n) => sha2::Digest::update(&mut h, buf.get(..n).unwrap_or(&[])),
                    Err(_) => break None,
                }
            }
        });
    let started = Instant::now();
    let mut cmd = Command::new(&path);
    {
        use std::os::unix::process::CommandExt;
        cmd.arg0(tool).process_group(0);
    }
    cmd.args(args)
        .env_clear()
        .env("PATH", FIXED_PATH)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            rec.error = Some(format!("cannot start: {e}"));
            return (rec, None);
        }
    };
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>, bool)>();
    let spawn_reader = |pipe: Option<Box<dyn Read + Send>>,
                        is_out: bool,
                        cap: u64,
                        tx: mpsc::Sender<(bool, Vec<u8>, bool)>| {
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = (&mut pipe).take(cap).read_to_end(&mut buf);
                // Drain the rest so the tool is not blocked writing to a full pipe.
                let mut sink = [0u8; 8192];
                let mut cut = false;
                while let Ok(n) = pipe.read(&mut sink) {
                    if n == 0 {
                        break;
                    }
                    cut = true;
                }
                let _ = tx.send((is_out, buf, cut));
            });
        }
    };
    spawn_reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        true,
        STDOUT_CAP,
        tx.clone(),
    );
    spawn_reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        false,
        STDERR_CAP,
        tx,
    );
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                rec.timed_out = true;
                let pgid = i32::try_from(child.id()).unwrap_or(0);
                if pgid > 0 {
                    // SAFETY: signals only the process group this call created for the tool.
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                }
                let _ = child.kill();
                break child.wait().ok();
            }
            // Most tools end within milliseconds: poll often at first, then every 5 ms.
            Ok(None) => std::thread::sleep(Duration::from_millis(
                if started.elapsed() < Duration::from_millis(50) {
                    1
                } else {
                    5
                },
            )),
            Err(e) => {
                rec.error = Some(format!("wait: {e}"));
                break None;
            }
        }
    };
    rec.exit_code = if rec.timed_out {
        None
    } else {
        status.and_then(|s| s.code())
    };
    let mut stdout = None;
    let grace = Instant::now() + Duration::from_secs(1);
    for _ in 0..2 {
        let left = grace.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((true, buf, cut)) => {
                if cut {
                    rec.error = Some(format!("stdout cut at {STDOUT_CAP} bytes"));
                }
                stdout = Some(buf);
            }
            Ok((false, buf, _)) => rec.stderr = RawBytes::new(buf),
            Err(_) => {
                rec.error =
                    Some("output pipes held open after the tool ended; output abandoned".into());
                break;
            }
        }
    }
    if rec.timed_out {
        rec.error = Some(format!("killed after the {} s timeout", timeout.as_secs()));
    } else if rec.error.is_none() && rec.exit_code != Some(0) {
        rec.error = Some(match rec.exit_code {
            Some(c) => format!("exited with status {c}"),
            None => "killed by a signal".into(),
        });
    }
    rec.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (rec, stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_is_a_record_not_an_error() {
        let (rec, out) = run_tool("nope", "minetrace-no-such-tool", &[], TOOL_TIMEOUT);
        assert!(out.is_none() && rec.tool_path.is_none());
        assert!(rec.error.unwrap().contains("not found"));
    }

    #[test]
    fn environment_is_empty_but_path() {
        let (rec, out) = run_tool("env", "env", &[], TOOL_TIMEOUT);
        assert_eq!(rec.exit_code, Some(0), "{rec:?}");
        assert_eq!(out.unwrap(), format!("PATH={FIXED_PATH}\n").as_bytes());
        assert_eq!(rec.tool_sha256.map(|h| h.len()), Some(64));
    }

    #[test]
    fn a_hanging_tool_is_killed_with_its_children() {
        let started = Instant::now();
        // `sh -c` forks a child that holds stdout: the group kill must end both.
        let (rec, _) = run_tool(
            "hang",
            "sh",
            &["-c", "sleep 30 & sleep 30"],
            Duration::from_millis(300),
        );
        assert!(rec.timed_out, "{rec:?}");
        assert_eq!(rec.exit_code, None);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn exit_status_and_stderr_are_kept() {
        let (rec, out) = run_tool(
            "fail",
            "sh",
            &["-c", "echo oops >&2; echo partial; exit 3"],
            TOOL_TIMEOUT,
        );
        assert_eq!(rec.exit_code, Some(3));
        assert_eq!(rec.stderr.as_bytes(), b"oops\n");
        assert_eq!(out.unwrap(), b"partial\n");
        assert!(rec.error.unwrap().contains("status 3"));
    }
}
