//! The sandbox itself, before any collector is involved: namespaces, overlay isolation, processes dying with the
//! namespace, the fake pool, stand-in processes (argv[0], comm, deleted exe, watchdog respawn), immutable bits
//! and firewall rules — checked with ordinary tools (`ps`, `ss`, `lsattr`, `iptables-save`) inside.

use std::time::Duration;

use minetrace_e2e::sandbox::fs::{Meta, FS_APPEND_FL, FS_IMMUTABLE_FL};
use minetrace_e2e::sandbox::Sandbox;

fn spec_hex(s: &[u8]) -> String {
    s.iter().map(|b| format!("{b:02x}")).collect()
}

/// Host pids of every process in the sandbox's PID namespace.
fn host_pids_in_namespace(init_pid: i32) -> Vec<i32> {
    let ns = std::fs::read_link(format!("/proc/{init_pid}/ns/pid")).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                .ok()
                .as_ref()
                == Some(&ns)
        })
        .collect()
}

#[test]
fn sandbox_has_its_own_pid_net_uts_and_filesystem() {
    let sb = Sandbox::start("iso-host").unwrap();
    assert_eq!(sb.sh("hostname").unwrap().trim(), "iso-host");
    let ps = sb.sh("ps -eo pid=,comm=").unwrap();
    let first = ps.lines().next().unwrap().trim().to_owned();
    assert!(first.starts_with("1 "), "PID 1 is the sandbox init: {ps}");
    assert!(
        ps.lines().count() < 6,
        "only the sandbox's processes are visible: {ps}"
    );
    let links = sb.sh("ip -o link show").unwrap();
    assert_eq!(links.lines().count(), 1, "only loopback: {links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    // Host data is masked; the image is there.
    assert_eq!(
        sb.sh("ls -A /root /home /tmp")
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty() && !l.ends_with(':'))
            .count(),
        0
    );
    assert!(sb.fs().exists(b"/usr/bin/dpkg") || sb.fs().exists(b"/usr/bin/sh"));
    assert_eq!(sb.sh("stat -c %a /tmp").unwrap().trim(), "1777");
    // Writes stay inside.
    let probe = format!("/etc/minetrace-e2e-probe-{}", std::process::id());
    sb.sh(&format!("echo planted > {probe}")).unwrap();
    assert_eq!(sb.fs().read_file(probe.as_bytes()).unwrap(), b"planted\n");
    assert!(
        !std::path::Path::new(&probe).exists(),
        "{probe} leaked to the host"
    );
}

#[test]
fn state_survives_across_commands_and_processes_die_with_the_sandbox() {
    let sb = Sandbox::start("live-host").unwrap();
    sb.sh("mkdir -p /var/lib/step && echo one > /var/lib/step/a")
        .unwrap();
    sb.sh("setsid sleep 1000 >/dev/null 2>&1 < /dev/null &")
        .unwrap();
    assert_eq!(sb.sh("cat /var/lib/step/a").unwrap(), "one\n");
    assert!(sb.sh("ps -eo comm=").unwrap().lines().any(|l| l == "sleep"));
    let init = sb.init_pid();
    let pids = host_pids_in_namespace(init);
    assert!(pids.len() >= 2, "init and sleep: {pids:?}");
    drop(sb);
    std::thread::sleep(Duration::from_millis(200));
    for pid in pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "pid {pid} outlived the sandbox");
    }
}

#[test]
fn immutable_bits_and_firewall_rules_stay_inside() {
    let sb = Sandbox::start("fw-host").unwrap();
    let meta = Meta {
        mode: 0o644,
        uid: 0,
        gid: 0,
    };
    sb.fs()
        .write_file(b"/etc/cron.d/locked", b"* * * * * root true\n", meta)
        .unwrap();
    sb.fs()
        .add_flags(b"/etc/cron.d/locked", FS_IMMUTABLE_FL | FS_APPEND_FL)
        .unwrap();
    let lsattr = sb.sh("lsattr /etc/cron.d/locked").unwrap();
    assert!(lsattr.starts_with("----ia"), "{lsattr}");
    let rm = sb.run(&["rm", "-f", "/etc/cron.d/locked"]).unwrap();
    assert!(!rm.status.success(), "an immutable file cannot be removed");
    let comment = format!("minetrace-e2e-{}", std::process::id());
    sb.sh(&format!(
        "iptables -w -A INPUT -s 140.205.201.0/28 -j DROP -m comment --comment {comment}"
    ))
    .unwrap();
    let rules = sb.sh("iptables-save").unwrap();
    assert!(rules.contains(&comment), "{rules}");
    let host = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&host.stdout).contains(&comment),
        "rule leaked to the host"
    );
    assert!(!std::path::Path::new("/etc/cron.d/locked").exists());
}

#[test]
fn standins_hold_pool_connections_and_masquerade() {
    let mut sb = Sandbox::start("standin-host").unwrap();
    sb.start_pool(&["127.66.0.1:3333".to_owned()]).unwrap();
    let exe = b"/dev/shm/.x/kworker\n'$(touch pwned)`id`\xff";
    let bytes = minetrace_e2e::plant::standin_copy("t", exe, &[]).unwrap();
    sb.fs()
        .mkdir_all(
            b"/dev/shm/.x",
            Meta {
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
        )
        .unwrap();
    sb.fs()
        .write_file(
            exe,
            &bytes,
            Meta {
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
        )
        .unwrap();
    let spec = format!(
        "proc miner\nexe {}\narg {}\narg {}\ncomm {}\ncwd {}\nconnect 127.66.0.1 3333\nthreads 3\nburn 50\nend\n",
        spec_hex(exe),
        spec_hex(b"[kworker/0:1H]"),
        spec_hex(b"--donate-level=0"),
        spec_hex(b"kworker/0:1H"),
        spec_hex(b"/"),
    );
    let pids = sb.launch(&spec).unwrap();
    let pid = pids["miner"];
    sb.fs().unlink(exe).unwrap();
    assert_eq!(
        sb.fs()
            .read_file(format!("/proc/{pid}/cmdline").as_bytes())
            .unwrap(),
        b"[kworker/0:1H]\0--donate-level=0\0"
    );
    assert_eq!(
        sb.sh(&format!("cat /proc/{pid}/comm")).unwrap(),
        "kworker/0:1H\n"
    );
    let link = sb.sh(&format!("readlink /proc/{pid}/exe")).unwrap();
    assert!(
        link.starts_with("/dev/shm/.x/kworker") && link.trim_end().ends_with("(deleted)"),
        "{link:?}"
    );
    let threads = sb.sh(&format!("ls /proc/{pid}/task | wc -l")).unwrap();
    assert_eq!(threads.trim(), "4");
    let ss = sb.sh("ss -tnpH state established").unwrap();
    assert!(
        ss.lines()
            .any(|l| l.contains("127.66.0.1:3333") && l.contains(&format!("pid={pid},"))),
        "{ss}"
    );
    // The pool is not a process of the sandbox.
    assert!(!sb.sh("ps -eo args=").unwrap().contains("pool"));
    assert!(!sb.fs().exists(b"/tmp/pwned"));
}

#[test]
fn watchdog_pair_respawns_until_both_are_stopped() {
    let sb = Sandbox::start("watchdog-host").unwrap();
    let meta = Meta {
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
    for p in [&b"/etc/sysguard"[..], b"/etc/networkservice"] {
        sb.fs()
            .write_file(
                p,
                &minetrace_e2e::plant::standin_copy("t", p, &[]).unwrap(),
                meta,
            )
            .unwrap();
    }
    let spec = format!(
        "proc guard\nexe {}\narg {}\nwatch miner\nend\nproc miner\nexe {}\narg {}\nparent guard\nwatch guard\nend\n",
        spec_hex(b"/etc/sysguard"),
        spec_hex(b"/etc/sysguard"),
        spec_hex(b"/etc/networkservice"),
        spec_hex(b"/etc/networkservice"),
    );
    let pids = sb.launch(&spec).unwrap();
    let count = |name: &str| {
        sb.sh("ps -eo stat=,args=")
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with('Z') && l.ends_with(name))
            .count()
    };
    sb.sh(&format!("kill -9 {}", pids["miner"])).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        count("/etc/networkservice"),
        1,
        "the watchdog respawned the miner"
    );
    sb.sh(&format!("kill -9 {}", pids["guard"])).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        count("/etc/sysguard"),
        1,
        "the miner respawned the watchdog"
    );
    // Freeze both, then kill both: they stay dead.
    sb.sh("pkill -STOP -x sysguard; pkill -STOP -x networkservice; pkill -KILL -x sysguard; pkill -KILL -x networkservice")
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(count("/etc/sysguard") + count("/etc/networkservice"), 0);
}

#[test]
fn pid_1_looks_like_a_hosts_init() {
    let sb = Sandbox::start("init-host").unwrap();
    let cmdline = sb.sh("tr '\\0' ' ' < /proc/1/cmdline").unwrap();
    assert_eq!(cmdline.trim_end(), "/sbin/init");
    let exe = sb.sh("readlink /proc/1/exe").unwrap();
    assert!(
        matches!(exe.trim(), "/sbin/init" | "/usr/sbin/init"),
        "PID 1's exe names no build-machine path: {exe}"
    );
    assert_eq!(sb.sh("cat /proc/1/comm").unwrap().trim(), "init");
    // Seen from this machine, too: nothing of the build tree.
    let host_view = std::fs::read(format!("/proc/{}/cmdline", sb.init_pid())).unwrap();
    assert_eq!(host_view, b"/sbin/init\0");
}

#[test]
fn init_refuses_to_run_outside_a_new_pid_namespace() {
    let init = minetrace_e2e::binaries::sandbox_init().unwrap();
    let out = std::process::Command::new(&init)
        .args([minetrace_e2e::sandbox::STANDIN, "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not PID 1 of a new PID namespace"), "{err}");
}
