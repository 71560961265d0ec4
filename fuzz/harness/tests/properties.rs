//! Property tests on stable: whatever bytes the host held come back exactly, and never as code or
//! markup. Records and bundles round trip; escaping is printable, reversible and inert in HTML and DOT;
//! the remediation data block gives back every byte of every field and the script around it stays the
//! reviewed template.

use std::net::IpAddr;

use minetrace_analyzer::output::escape;
use minetrace_analyzer::remediate::plan::{
    Action, FileTarget, Gate, LineKind, LineRemoval, LinkTarget, Plan, PlanItem, ProcessTarget,
};
use minetrace_analyzer::remediate::script;
use minetrace_fuzz::invariants;
use minetrace_schemas::bundle::{read_bundle, BundleWriter, ReadLimits};
use minetrace_schemas::records::process::{EnvVar, ExeLink, ProcessRecord};
use minetrace_schemas::records::{decode, encode, RecordSetV1, RecordStream};
use minetrace_schemas::{escape_bytes, RawBytes};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// Host bytes biased towards what breaks printers and scripts.
fn hostile(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let nasty = prop_oneof![
        Just(b"\n".to_vec()),
        Just(b"\x1b[2J".to_vec()),
        Just(b"$(id)".to_vec()),
        Just(b"'\"`\\".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("\u{202e}".as_bytes().to_vec()),
        Just(b"<script>".to_vec()),
        bytes(8),
    ];
    vec(nasty, 0..max).prop_map(|parts| parts.concat())
}

fn process() -> impl Strategy<Value = ProcessRecord> {
    (
        any::<i32>(),
        any::<u64>(),
        hostile(6),
        hostile(12),
        proptest::option::of(hostile(6)),
        vec((hostile(3), proptest::option::of(hostile(3))), 0..4),
    )
        .prop_map(
            |(pid, start_ticks, comm, cmdline, exe, env)| ProcessRecord {
                pid,
                start_ticks,
                comm: RawBytes::new(comm),
                cmdline: RawBytes::new(cmdline),
                exe: exe.map(|p| ExeLink {
                    path: RawBytes::new(p),
                    ..Default::default()
                }),
                env: env
                    .into_iter()
                    .map(|(n, v)| EnvVar {
                        name: RawBytes::new(n),
                        value: v.map(RawBytes::new),
                    })
                    .collect(),
                ..Default::default()
            },
        )
}

/// The inverse of [`escape_bytes`].
fn unescape(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            match b.get(i + 1)? {
                b'\\' => {
                    out.push(b'\\');
                    i += 2;
                }
                b'x' => {
                    out.push(u8::from_str_radix(text.get(i + 2..i + 4)?, 16).ok()?);
                    i += 4;
                }
                _ => return None,
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

fn file_target() -> impl Strategy<Value = FileTarget> {
    (hostile(8), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(path, dev, ino, size)| {
        FileTarget {
            path: RawBytes::new(path),
            dev,
            ino,
            sha256: "ab".repeat(32),
            size,
        }
    })
}

fn process_target() -> impl Strategy<Value = ProcessTarget> {
    (any::<i32>(), any::<u64>(), hostile(4)).prop_map(|(pid, start_ticks, comm)| ProcessTarget {
        pid,
        start_ticks,
        exe_sha256: Some("cd".repeat(32)),
        exe_path: Some(RawBytes::new(comm.clone())),
        comm: RawBytes::new(comm),
    })
}

/// Every action kind, with hostile bytes wherever the host supplied them.
fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        process_target().prop_map(Action::PreserveProcess),
        process_target().prop_map(Action::Kill),
        file_target().prop_map(Action::PreserveFile),
        (file_target(), any::<usize>())
            .prop_map(|(file, preserved)| Action::QuarantineFile { file, preserved }),
        (hostile(6), file_target()).prop_map(|(unit, file)| Action::RemoveUnit {
            unit: String::from_utf8_lossy(&unit).into_owned(),
            file,
            preserved: 1,
        }),
        (hostile(6), hostile(6), any::<u64>(), any::<u64>()).prop_map(
            |(path, target, dev, ino)| {
                Action::RemoveLink(LinkTarget {
                    path: RawBytes::new(path),
                    dev,
                    ino,
                    target: RawBytes::new(target),
                })
            }
        ),
        (file_target(), vec((hostile(8), any::<u32>()), 1..4)).prop_map(|(file, lines)| {
            Action::RemoveLines {
                file,
                preserved: 1,
                locks: minetrace_analyzer::remediate::locks::LockPolicy {
                    restore_file: true,
                    restore_dir: true,
                    seen_file: String::new(),
                    seen_dir: String::new(),
                },
                lines: lines
                    .into_iter()
                    .map(|(bytes, number)| LineRemoval {
                        number,
                        offset: u64::from(number),
                        len: bytes.len() as u64,
                        bytes: RawBytes::new(bytes),
                        kind: LineKind::Line,
                        why: vec![],
                        gate: Gate::Review(vec![number % 7 + 1]),
                    })
                    .collect(),
            }
        }),
        (
            vec(hostile(4), 0..5),
            proptest::option::of(Just(4u8)),
            hostile(6),
            vec("[a-z$();'\n]{0,8}", 0..3)
        )
            .prop_map(|(args, family, rule, tables)| Action::DeleteFirewallRule {
                rule: RawBytes::new(rule),
                args: args.into_iter().map(RawBytes::new).collect(),
                family,
                tables,
            }),
        (hostile(6), proptest::option::of(any::<u32>())).prop_map(|(name, uid)| {
            Action::LockAccount {
                name: RawBytes::new(name),
                uid,
            }
        }),
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| Action::BlockEndpoint {
            ip: IpAddr::from(ip),
            port,
        }),
    ]
}

/// The host-supplied bytes of an action, in the order `script::data_block` writes them from field 6 on.
fn host_fields(a: &Action) -> Vec<Vec<u8>> {
    match a {
        Action::PreserveFile(f) | Action::QuarantineFile { file: f, .. } => vec![f.path.0.clone()],
        Action::RemoveUnit { unit, file, .. } => {
            let mut v = vec![file.path.0.clone()];
            v.push(unit.as_bytes().to_vec());
            v
        }
        Action::RemoveLink(l) => vec![l.path.0.clone(), l.target.0.clone()],
        Action::RemoveLines { file, lines, .. } => {
            let mut v = vec![file.path.0.clone()];
            v.extend(lines.iter().map(|l| l.bytes.0.clone()));
            v
        }
        Action::DeleteFirewallRule { args, .. } => args.iter().map(|a| a.0.clone()).collect(),
        Action::LockAccount { name, .. } => vec![name.0.clone()],
        _ => vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn process_records_round_trip(procs in vec(process(), 0..8)) {
        let set = RecordSetV1::Processes(procs.clone());
        prop_assert_eq!(decode(&encode(&set)).ok(), Some(set.clone()));
        let mut stream = RecordStream::new();
        for p in &procs {
            stream.push(p);
        }
        prop_assert_eq!(stream.finish(), encode(&set));
    }

    #[test]
    fn record_decoder_never_panics_on_mutations(procs in vec(process(), 1..4), at in any::<usize>(), xor in 1u8..) {
        let mut bytes = encode(&RecordSetV1::Processes(procs));
        let i = at % bytes.len();
        bytes[i] ^= xor;
        minetrace_fuzz::parsers::records(&bytes);
    }

    #[test]
    fn bundles_round_trip(members in vec((0usize..6, hostile(16), bytes(2048)), 0..8)) {
        let dirs = ["fs/etc/cron.d/", "fs/tmp/", "fs/root/.ssh/", "bin/", "commands/", "fs/var/log/"];
        let mut w = BundleWriter::new(Vec::new(), 0, 0).unwrap();
        let mut written = std::collections::BTreeMap::new();
        for (dir, name, data) in &members {
            let name = format!("{}{}", dirs[*dir], escape_bytes(name).replace('\\', "_"));
            if written.contains_key(&name) || w.add(&name, data).is_err() {
                continue;
            }
            written.insert(name, data.clone());
        }
        let sample = &minetrace_fuzz::mutate::samples()[0];
        let (out, summary) = w.finish(sample.manifest.clone()).unwrap();
        prop_assert_eq!(summary.members, written.len() + 1);
        let bundle = read_bundle(out.as_slice(), ReadLimits::default()).unwrap();
        prop_assert!(bundle.problems.is_empty(), "{:?}", bundle.problems);
        prop_assert_eq!(bundle.member_count(), written.len());
        for (name, data) in &written {
            prop_assert_eq!(bundle.member(name), Some(data.as_slice()));
        }
    }

    #[test]
    fn escaping_is_printable_reversible_and_inert(raw in hostile(32)) {
        let escaped = escape_bytes(&raw);
        invariants::printable_ascii("escape_bytes", &escaped);
        prop_assert_eq!(unescape(&escaped), Some(raw.clone()));
        let html = escape::html(&escaped);
        prop_assert!(!html.contains('<') && !html.contains('>') && !html.contains('"'));
        let dot = format!("n [label=\"{}\"];\n", escape::dot(&escaped));
        invariants::dot(&dot);
        let visible = escape::visible(&String::from_utf8_lossy(&raw));
        invariants::printable_ascii("escape::visible", &visible);
    }

    #[test]
    fn remediation_data_gives_back_every_byte(actions in vec(action(), 0..6), host in hostile(12)) {
        let mut plan = Plan::default();
        plan.host.hostname = String::from_utf8_lossy(&host).into_owned();
        plan.items = actions
            .iter()
            // Reasons come from findings, whose text is escaped where it is made (the fuzz targets check that).
            .map(|a| PlanItem { action: a.clone(), why: vec![escape_bytes(&host)], gate: Gate::Apply })
            .collect();
        let rendered = script::render(&plan);
        invariants::script(&rendered);
        let parts = invariants::script_parts(&rendered).unwrap();
        let records = invariants::decode_data_block(parts.data).unwrap();
        prop_assert_eq!(records.len(), 1 + actions.len());
        for (a, fields) in actions.iter().zip(records.iter().skip(1)) {
            let decoded: Vec<&Vec<u8>> = fields.iter().skip(6).collect();
            for want in host_fields(a) {
                prop_assert!(
                    decoded.iter().any(|f| **f == want),
                    "{:?}: field {:?} not given back exactly", a, want
                );
            }
        }
    }
}
