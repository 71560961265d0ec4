//! The generated script as text: printable ASCII, shellcheck-clean, host bytes only as pinned hex data,
//! for a plan holding every kind of action with hostile names.

use std::net::IpAddr;
use std::process::Command;

use minetrace_analyzer::remediate::plan::{
    Action, FileTarget, Gate, LineKind, LineRemoval, LinkTarget, Plan, PlanItem, ProcessTarget,
    Recommendation, ReviewItem,
};
use minetrace_analyzer::remediate::{plan_lines, script};
use minetrace_schemas::records::host::HostIdentity;
use minetrace_schemas::RawBytes;

const HOSTILE: &[&[u8]] = &[
    b"$(touch /tmp/pwned)",
    b"`touch /tmp/pwned`",
    b"a'b\"c",
    b"line\nbreak",
    b"-rf",
    b"\xff\xfe invalid",
    b"\x1b[31mred",
    b"\xe2\x80\xaeevil",
    b"*?[{",
    b" (deleted)",
];

fn file(path: &[u8]) -> FileTarget {
    FileTarget {
        path: RawBytes::from(path),
        dev: 2049,
        ino: 1234,
        sha256: "ab".repeat(32),
        size: 100,
    }
}

fn proc_target(pid: i32, comm: &[u8]) -> ProcessTarget {
    ProcessTarget {
        pid,
        start_ticks: 4242,
        exe_sha256: Some("cd".repeat(32)),
        exe_path: Some(RawBytes::from([b"/tmp/", comm].concat())),
        comm: RawBytes::from(comm),
    }
}

/// Every other target is a review item (so both kinds of gate are encoded).
fn gate(i: usize) -> Gate {
    if i.is_multiple_of(2) {
        Gate::Apply
    } else {
        Gate::Review(vec![u32::try_from(i).unwrap(), 7])
    }
}

/// A plan with every action kind, every target named with hostile bytes.
pub fn hostile_plan() -> Plan {
    let mut items = Vec::new();
    let why = vec!["MT-TEST high: $(touch /tmp/pwned) `x` \\x0a".to_owned()];
    for (i, name) in HOSTILE.iter().enumerate() {
        let pid = 1000 + i32::try_from(i).unwrap();
        let path = [b"/tmp/".as_slice(), name].concat();
        items.push(PlanItem {
            action: Action::PreserveProcess(proc_target(pid, name)),
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::PreserveFile(file(&path)),
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::Freeze(proc_target(pid, name)),
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::RemoveLines {
                file: file(&path),
                lines: vec![
                    LineRemoval {
                        number: 2,
                        offset: 10,
                        len: 20,
                        bytes: RawBytes::from([b"* * * * * ".as_slice(), name].concat()),
                        kind: LineKind::Line,
                        why: why.clone(),
                        gate: gate(i + 1),
                    },
                    LineRemoval {
                        number: 3,
                        offset: 30,
                        len: 40,
                        bytes: RawBytes::from(
                            [b"command=\"".as_slice(), name, b"\" ssh-ed25519 AAAA"].concat(),
                        ),
                        kind: LineKind::SshKey {
                            key_type: "ssh-ed25519".into(),
                            blob: "AAAAC3NzaC1lZDI1NTE5".into(),
                            fingerprint: "SHA256:abc".into(),
                        },
                        why: why.clone(),
                        gate: gate(i + 1),
                    },
                ],
                preserved: 2,
                locks: minetrace_analyzer::remediate::locks::LockPolicy {
                    restore_file: true,
                    restore_dir: true,
                    seen_file: String::new(),
                    seen_dir: String::new(),
                },
            },
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::RemoveUnit {
                unit: "x.service".into(),
                file: file(&path),
                preserved: 2,
            },
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::QuarantineFile {
                file: file(&path),
                preserved: 2,
            },
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::RemoveLink(LinkTarget {
                path: RawBytes::from(path.clone()),
                dev: 2049,
                ino: 4321,
                target: RawBytes::from([b"/dev/".as_slice(), name].concat()),
            }),
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::Kill(proc_target(pid, name)),
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::DeleteFirewallRule {
                rule: RawBytes::from(
                    [
                        b"-A INPUT -m comment --comment \"".as_slice(),
                        name,
                        b"\" -j DROP",
                    ]
                    .concat(),
                ),
                args: vec![
                    RawBytes::from("INPUT"),
                    RawBytes::from("-m"),
                    RawBytes::from("comment"),
                    RawBytes::from("--comment"),
                    RawBytes::from(*name),
                    RawBytes::from("-j"),
                    RawBytes::from("DROP"),
                ],
                family: None,
                tables: vec!["filter".into()],
            },
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::LockAccount {
                name: RawBytes::from(*name),
                uid: Some(1001),
            },
            why: why.clone(),
            gate: gate(i),
        });
        // A packaged tool moved back: the package path is the database's, hostile bytes and all.
        items.push(PlanItem {
            action: Action::RenameBack {
                file: file(&path),
                back: minetrace_analyzer::remediate::rename_back::MoveBack {
                    to: RawBytes::new([b"/usr/bin/".as_slice(), name].concat()),
                    package: "e2fsprogs".into(),
                    manager: Some(minetrace_schemas::records::package::PackageManager::Dpkg),
                    algorithm: minetrace_schemas::records::package::DigestAlgorithm::Md5,
                    hex: "0123456789abcdef0123456789abcdef".into(),
                },
                preserved: 2,
            },
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::Reinstall {
                file: file(&path),
                package: Some("procps".into()),
                manager: Some(minetrace_schemas::records::package::PackageManager::Dpkg),
                preserved: 2,
            },
            why: why.clone(),
            gate: gate(i),
        });
        items.push(PlanItem {
            action: Action::RestartService(minetrace_analyzer::remediate::restarts::Restart {
                unit: String::from_utf8_lossy(name).into_owned(),
                file: file(&path),
                process: proc_target(pid, name),
            }),
            why: why.clone(),
            gate: gate(i),
        });
    }
    for (i, ip) in ["127.66.0.1", "2001:db8::1"].into_iter().enumerate() {
        items.push(PlanItem {
            action: Action::BlockEndpoint {
                ip: ip.parse::<IpAddr>().unwrap(),
                port: 3333,
            },
            why: why.clone(),
            gate: gate(i),
        });
    }
    items.push(PlanItem {
        action: Action::Verify,
        why: Vec::new(),
        gate: Gate::Apply,
    });
    let reviews = (1..=u32::try_from(HOSTILE.len()).unwrap())
        .chain([7])
        .map(|n| ReviewItem {
            number: n,
            title: "remove the line".into(),
            target: "/tmp/$(touch /tmp/pwned)".into(),
            why: why.clone(),
            reason: vec!["rests on medium findings only `x`".into()],
        })
        .collect();
    Plan {
        host: HostIdentity {
            hostname: "host$(touch /tmp/pwned)\n".into(),
            machine_id: "0123456789abcdef0123456789abcdef".into(),
            boot_id: "6f01c7a7-d4f1-45ab-8e98-bf44783b3b09".into(),
            kernel: "6.1".into(),
        },
        bundle_sha256: "00".repeat(32),
        collected_at: "2026-01-01T00:00:00Z".into(),
        analyzer_version: "0.1.0".into(),
        items,
        reviews,
        recommendations: vec![Recommendation {
            text: "rotate `creds` $(x)".into(),
            why: "w".into(),
        }],
        manual: vec!["file /tmp/$(touch /tmp/pwned): a shared file".into()],
        findings_used: 1,
        worst: None,
        // Indicator values are words, but the plan carries bytes: hostile ones stay hex too.
        admin_groups: vec![
            b"sudo".to_vec(),
            b"wheel$(touch /tmp/pwned)".to_vec(),
            b"adm`id`\n".to_vec(),
        ],
    }
}

fn is_printable_ascii(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\n' || (0x20..0x7f).contains(&b))
}

#[test]
fn script_is_printable_ascii_and_host_bytes_are_only_hex() {
    let plan = hostile_plan();
    let text = script::render(&plan);
    assert!(
        is_printable_ascii(&text),
        "script holds a byte outside printable ASCII"
    );
    // Outside the data block the script is the template, byte for byte.
    let (head, rest) = text.split_once("readonly MT_DATA='").unwrap();
    let (data, tail) = rest.split_once('\'').unwrap();
    assert!(data.bytes().all(|b| b"0123456789abcdef -\n".contains(&b)));
    let (_, pinned) = head.split_once("readonly MT_DATA_SHA256='").unwrap();
    let hash = pinned.get(..64).unwrap();
    assert!(script::TEMPLATE.starts_with(&head.replacen(hash, "@MT_DATA_SHA256@", 1)));
    assert!(script::TEMPLATE.ends_with(tail));
    for needle in ["pwned", "touch", "`", "ssh-ed25519", "procps", "INPUT"] {
        assert!(!data.contains(needle), "{needle} appears outside hex");
        assert!(
            !head.contains(needle) || needle == "`" || needle == "INPUT",
            "{needle} in the template head"
        );
    }
    for line in plan_lines(&plan) {
        assert!(
            is_printable_ascii(&line) && !line.contains('\n'),
            "plan line {line:?}"
        );
    }
}

#[test]
fn the_data_block_is_pinned_by_its_sha256() {
    let text = script::render(&hostile_plan());
    let (_, rest) = text.split_once("readonly MT_DATA_SHA256='").unwrap();
    let (hash, _) = rest.split_once('\'').unwrap();
    let (_, rest) = text.split_once("readonly MT_DATA='").unwrap();
    let (data, _) = rest.split_once('\'').unwrap();
    assert_eq!(
        hash,
        minetrace_analyzer::remediate::edit::sha256(data.as_bytes())
    );
}

fn shellcheck(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remediate.sh");
    std::fs::write(&path, text).unwrap();
    let out = Command::new("shellcheck")
        .args(["--shell=bash", "--severity=style", "--external-sources"])
        .arg(&path)
        .output()
        .expect("shellcheck is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "shellcheck:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shellcheck_passes_on_a_plan_with_every_action() {
    shellcheck(&script::render(&hostile_plan()));
}

#[test]
fn shellcheck_passes_on_an_empty_plan() {
    shellcheck(&script::render(&Plan::default()));
}

#[test]
fn dry_run_decodes_every_record_without_side_effects() {
    // The dry run needs no root for the plan itself; run it as an unprivileged-equivalent check of
    // decoding: every action is printed with its number, and nothing named in the data runs.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remediate.sh");
    std::fs::write(&path, script::render(&hostile_plan())).unwrap();
    let pwned = std::path::Path::new("/tmp/pwned");
    let existed = pwned.exists();
    let out = Command::new("bash")
        .arg(&path)
        .args(["--quarantine", &dir.path().join("q").to_string_lossy()])
        .env("SSH_CONNECTION", "$(touch /tmp/pwned) 1 2 3")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dry run failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_printable_ascii(&stdout), "dry run printed non-ASCII");
    let plan = hostile_plan();
    for n in 1..=plan.items.len() {
        assert!(
            stdout.contains(&format!("{n:>4}. [")),
            "item {n} missing from the dry run"
        );
    }
    assert!(stdout.contains("Dry run: nothing is changed"));
    assert!(stdout.contains("host$(touch /tmp/pwned)\\x0a"));
    assert!(
        !dir.path().join("q").exists(),
        "the dry run created the quarantine"
    );
    if !existed {
        assert!(!pwned.exists(), "/tmp/pwned appeared");
    }
}

#[test]
fn an_edited_data_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remediate.sh");
    let text = script::render(&hostile_plan());
    let (head, rest) = text.split_once("readonly MT_DATA='\n").unwrap();
    let tampered = format!("{head}readonly MT_DATA='\n{}", rest.replacen('a', "b", 1));
    std::fs::write(&path, tampered).unwrap();
    let out = Command::new("bash").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match its pinned sha256"));
}
