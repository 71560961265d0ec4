//! The hostile-host torture scenario (issue 15): a sandboxed host built to break a collector — a
//! million-entry directory, 200-level trees, names with newlines, escape sequences and invalid UTF-8,
//! symlink loops and links into `/proc` and to devices, FIFOs and sockets where files are expected, a
//! sparse 1 TB file where logs, crontabs and a miner binary are expected, a process with 10,000 fds,
//! 5,000 threads and 60,000 maps, processes exiting and one pid reused over and over during the walk, and
//! a `/proc/PID` bind mount. The real collector must finish within the budgets below and the analyzer
//! must read what it wrote.
//!
//! The collector's peak RSS is sampled from its `/proc/PID/status` (`VmHWM`) while it runs: the
//! children's `getrusage` maximum would be cargo's, which builds the binaries on first use.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use minetrace_e2e::binaries;
use minetrace_e2e::sandbox::{Meta, Sandbox};
use minetrace_schemas::bundle::{members, read_bundle, ReadLimits};
use minetrace_schemas::records::RecordSetV1;

/// Wall-clock budget of one collection of this host. The collector's own work is a few seconds on an
/// idle machine; the budget leaves room for a busy CI host and the pid churn running beside it.
const TIME_BUDGET: Duration = Duration::from_secs(90);
/// Peak resident memory of the collector: its 64 MiB goal on ordinary hosts, plus the largest copy it may
/// hold while writing it (64 MiB by default), plus headroom.
const MEMORY_BUDGET_KIB: i64 = 192 * 1024;
/// Size of the bundle written.
const BUNDLE_BUDGET: usize = 64 << 20;

const META: Meta = Meta {
    mode: 0o644,
    uid: 0,
    gid: 0,
};

/// Peak RSS (KiB) of the largest waited-for descendant so far.
fn children_maxrss_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}

/// `VmHWM` (peak RSS, KiB) of every running process whose executable is `exe`, the highest.
fn peak_rss_of(exe: &std::path::Path) -> Option<i64> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter(|e| std::fs::read_link(e.path().join("exe")).is_ok_and(|p| p == exe))
        .filter_map(|e| {
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .max()
}

/// Samples the collector's peak RSS every 10 ms until `stop` is set; returns the highest seen.
fn sample_peak_rss(exe: std::path::PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<i64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(peak_rss_of(&exe).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    })
}

fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    let out = f().with_context(|| what.to_owned())?;
    eprintln!("torture: {what}: {:.1} s", t.elapsed().as_secs_f64());
    Ok(out)
}

/// Names that break printers, shells and path handling, each in several places the collector reads.
const HOSTILE_NAMES: &[&[u8]] = &[
    b"new\nline",
    b"\x1b[2J\x1b]0;owned\x07",
    b"bad\xff\xfeutf8",
    b"$(touch pwned);`id`",
    b"-rf --no-preserve-root",
    b" leading and trailing ",
    b"\xe2\x80\xaeevil",
];

fn plant_names(sb: &Sandbox) -> Result<()> {
    const DIRS: &[&[u8]] = &[
        b"/tmp",
        b"/etc/cron.d",
        b"/root/.ssh",
        b"/etc/systemd/system",
        b"/var/spool/cron/crontabs",
    ];
    sb.sh("mkdir -p /etc/cron.d /root/.ssh /etc/systemd/system /var/spool/cron/crontabs")?;
    for dir in DIRS {
        for name in HOSTILE_NAMES {
            let path = [dir, &b"/"[..], name].concat();
            sb.fs()
                .write_file(&path, b"* * * * * root /tmp/.x/run\n", META)
                .with_context(|| format!("planting {}", String::from_utf8_lossy(&path)))?;
        }
    }
    Ok(())
}

/// Links, FIFOs, sockets and sparse giants where the collector expects small regular files. (Not
/// `/etc/ld.so.preload` as a FIFO: every dynamically linked tool in the sandbox would block on it.)
const TRAPS: &str = r#"set -e
cd /tmp
ln -s loop-b loop-a; ln -s loop-a loop-b; ln -s . self; mkdir -p ring/a; ln -s ../../ring ring/a/back
ln -s /proc/self .proc-self; ln -s /proc/1/root .proc-root; ln -s /proc/kcore .kcore
mkdir -p /etc/cron.d /root/.ssh /etc/systemd/system /var/spool/cron/crontabs /var/log /home/git/.ssh
ln -s /dev/zero /etc/cron.d/zero
ln -s /dev/urandom /root/.bash_history
ln -s /proc/kcore /etc/systemd/system/kcore.service
ln -s /proc/self/mem /home/git/.ssh/authorized_keys
ln -sf /dev/zero /var/log/auth.log
mkdir -p /etc/ssh /etc/sudoers.d
rm -f /etc/shadow /etc/crontab /etc/ssh/sshd_config
mkfifo /etc/cron.d/fifo /root/.ssh/authorized_keys /var/spool/cron/crontabs/root /etc/shadow /etc/crontab \
  /etc/ssh/sshd_config /etc/sudoers.d/fifo
mkdir -p /tmp/.cache
truncate -s 1T /tmp/.cache/xmrig /etc/cron.d/giant /var/log/syslog /home/git/.bash_history
chmod 755 /tmp/.cache/xmrig
"#;

/// Processes exiting all through the walk, and pid 5000 handed out again and again (`ns_last_pid`), so
/// that a pid the collector listed belongs to another process by the time it reads it.
const CHURN: &str = r#"while :; do
  echo 4999 > /proc/sys/kernel/ns_last_pid 2>/dev/null
  /bin/sleep 0.02 &
  for i in 1 2 3 4 5 6 7 8; do /bin/true & done
  wait
done"#;

#[test]
fn hostile_host_is_collected_within_budgets_and_analysed() -> Result<()> {
    // Built (by cargo, on first use) before anything is measured: cargo's own memory must not count as the
    // collector's.
    let collector = binaries::collector()?;
    binaries::analyzer()?;
    let sb = Sandbox::start("torture-host")?;
    let helper = std::fs::read(env!("CARGO_BIN_EXE_minetrace-torture"))?;
    sb.fs().write_file(
        b"/usr/local/bin/mt-torture",
        &helper,
        Meta {
            mode: 0o755,
            ..META
        },
    )?;

    timed("a 1,000,000-entry directory", || {
        // On a tmpfs of its own: through the overlay the same million links take several times longer.
        sb.sh(
            "mkdir -p /tmp/.cache/million && mount -t tmpfs -o size=64m million /tmp/.cache/million && \
             mt-torture entries /tmp/.cache/million 1000000",
        )
    })?;
    timed("200-level trees", || {
        sb.sh("mkdir -p /tmp/deep /root/.config/deep /var/www/html && \
             mt-torture deep /tmp/deep 200 && mt-torture deep /root/.config/deep 200 && \
             mt-torture deep /var/www/html 200")
    })?;
    timed("hostile names", || plant_names(&sb))?;
    timed("links, FIFOs, sparse files", || sb.sh(TRAPS))?;
    timed("sockets", || {
        sb.sh(
            "mkdir -p /tmp/.X11-unix && mt-torture sockets /etc/cron.d/sock \
             /root/.ssh/authorized_keys2 /etc/systemd/system/sock.service /tmp/.X11-unix/X0 /tmp/.cache/sock",
        )
    })?;
    // A process whose /proc/PID is another one's (a bind mount hiding it), as rootkit kits do.
    sb.sh("setsid sleep 1000 >/dev/null 2>&1 </dev/null & a=$!; \
         setsid sleep 1001 >/dev/null 2>&1 </dev/null & b=$!; \
         sleep 0.1; mount --bind /proc/$a /proc/$b")?;

    let mut big = sb
        .command("/usr/local/bin/mt-torture")
        .args(["proc", "10000", "5000", "60000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut ready = String::new();
    timed(
        "a process with 10,000 fds, 5,000 threads, 60,000 maps",
        || {
            let out = big.stdout.take().context("helper stdout")?;
            BufReader::new(out).read_line(&mut ready)?;
            if !ready.starts_with("ready") {
                bail!("mt-torture proc did not get ready: {ready:?}");
            }
            Ok(())
        },
    )?;
    let mut churn = sb
        .command("/bin/sh")
        .args(["-c", CHURN])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;

    let rss_before = children_maxrss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_peak_rss(collector.canonicalize()?, Arc::clone(&stop));
    let started = Instant::now();
    let bundle = sb.collect();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sampled = sampler.join().unwrap_or(0);
    let rss_after = children_maxrss_kib();
    let _ = churn.kill();
    let _ = churn.wait();
    drop(big.stdin.take());
    let _ = big.kill();
    let _ = big.wait();
    let bundle = bundle?;
    // For a look at what the collector made of this host: MINETRACE_TORTURE_KEEP=/some/file.tar.zst.
    if let Some(keep) = std::env::var_os("MINETRACE_TORTURE_KEEP") {
        std::fs::write(keep, &bundle)?;
    }
    // The collector's peak RSS: sampled from its /proc/PID/status while it ran, and bounded above by the
    // largest waited-for child's (which, when it grew during the collection, is the collector's).
    let peak_kib = if rss_after > rss_before {
        rss_after
    } else {
        sampled
    };
    eprintln!(
        "torture: collection: {:.1} s, peak RSS {peak_kib} KiB (sampled {sampled} KiB, children before \
         {rss_before} KiB, after {rss_after} KiB), bundle {} bytes",
        elapsed.as_secs_f64(),
        bundle.len()
    );
    assert!(sampled > 0, "the collector was never seen running");

    assert!(
        elapsed <= TIME_BUDGET,
        "the collector took {elapsed:?}, over its budget of {TIME_BUDGET:?}"
    );
    assert!(
        peak_kib <= MEMORY_BUDGET_KIB,
        "the collector's peak RSS was {peak_kib} KiB, over its budget of {MEMORY_BUDGET_KIB} KiB"
    );
    assert!(
        bundle.len() <= BUNDLE_BUDGET,
        "the bundle is {} bytes, over its budget of {BUNDLE_BUDGET}",
        bundle.len()
    );

    // The bundle is whole and says what it met.
    let read = read_bundle(bundle.as_slice(), ReadLimits::default())?;
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let Some(RecordSetV1::Processes(procs)) = read.records(members::PROCESSES)? else {
        bail!("no process records");
    };
    let torture = procs
        .iter()
        .find(|p| {
            p.cmdline
                .as_bytes()
                .starts_with(b"/usr/local/bin/mt-torture\0proc")
        })
        .context("the 10,000-fd process is in the process table")?;
    assert!(torture.threads >= 5000, "threads: {}", torture.threads);
    assert!(torture.fds.len() >= 10_000, "fds: {}", torture.fds.len());
    let Some(RecordSetV1::Files(files)) = read.records(members::FILES)? else {
        bail!("no file records");
    };
    let million: Vec<_> = files
        .iter()
        .filter(|f| f.path.as_bytes().starts_with(b"/tmp/.cache/million/"))
        .collect();
    assert!(
        million.len() < 1_000_000,
        "the million-entry directory was capped, not listed whole ({} records)",
        million.len()
    );
    let cut_recorded = read.manifest.artifacts.iter().any(|a| {
        a.errors
            .iter()
            .any(|e| e.target.contains("/tmp/.cache/million") && e.message.contains("cap"))
    });
    assert!(
        cut_recorded,
        "the manifest says the million-entry directory was cut"
    );
    for f in &files {
        if f.path.as_bytes() == b"/tmp/.cache/xmrig" || f.path.as_bytes() == b"/etc/cron.d/giant" {
            assert_eq!(f.size, 1 << 40, "{:?}", f.path);
            let stored = f
                .member
                .as_deref()
                .and_then(|m| read.member(m))
                .map_or(0, <[u8]>::len);
            assert!(stored <= 64 << 20, "{:?}: {stored} bytes stored", f.path);
        }
    }

    // The analyzer reads it and writes every output.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("torture.tar.zst");
    std::fs::write(&path, &bundle)?;
    let out_dir = dir.path().join("out");
    let out = timed("analysis", || {
        Ok(std::process::Command::new(binaries::analyzer()?)
            .arg("analyze")
            .arg(&path)
            .arg("-o")
            .arg(&out_dir)
            .output()?)
    })?;
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "minetrace analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "findings.json",
        "report.html",
        "remediate.sh",
        "graph.json",
        "timeline.jsonl",
    ] {
        assert!(out_dir.join(name).is_file(), "{name} written");
    }
    assert!(
        out.stdout
            .iter()
            .all(|b| *b == b'\n' || (0x20..0x7f).contains(b)),
        "the terminal summary holds unescaped bytes"
    );
    sb.shutdown()
}
