//! Round trip and every hostile-bundle case the reader must refuse with its own error.

use std::io::Write;

use minetrace_schemas::bundle::{members, read_bundle, BundleError, BundleWriter, ReadLimits};
use minetrace_schemas::manifest::{CollectorInfo, Manifest, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION};
use minetrace_schemas::records::host::{CollectionMode, HostIdentity};
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::records::RecordSetV1;
use minetrace_schemas::RawBytes;

fn manifest() -> Manifest {
    Manifest {
        format: BUNDLE_FORMAT.into(),
        format_version: BUNDLE_FORMAT_VERSION,
        collector: CollectorInfo {
            name: "test".into(),
            version: "0".into(),
            sha256: None,
            argv: vec![],
        },
        mode: CollectionMode::Live,
        root: None,
        host: HostIdentity {
            hostname: "web-1".into(),
            machine_id: "m".into(),
            boot_id: "b".into(),
            kernel: "k".into(),
        },
        started_at: "2026-01-01T00:00:00Z".into(),
        ended_at: "2026-01-01T00:00:01Z".into(),
        started_unix_ms: 0,
        ended_unix_ms: 1000,
        members: vec![],
        artifacts: vec![],
        exclusions: vec![],
    }
}

fn processes() -> RecordSetV1 {
    RecordSetV1::Processes(vec![
        ProcessRecord {
            pid: 7,
            comm: RawBytes::new(b"[kworker/0:1]\n\x1b\xff".to_vec()),
            cmdline: RawBytes::new(b"/dev/shm/x\0$(touch /tmp/pwned)\0".to_vec()),
            ..Default::default()
        },
        ProcessRecord {
            pid: 8,
            ..Default::default()
        },
    ])
}

/// A good bundle: one record member and one raw file.
fn good_bundle() -> Vec<u8> {
    let mut w = BundleWriter::new(Vec::new(), 2, 0).unwrap();
    w.add_records(members::PROCESSES, &processes()).unwrap();
    w.add("fs/etc/crontab", b"* * * * * root /bin/true\n")
        .unwrap();
    let (out, summary) = w.finish(manifest()).unwrap();
    assert_eq!(summary.members, 3);
    out
}

fn read(bytes: &[u8]) -> Result<minetrace_schemas::bundle::Bundle, BundleError> {
    read_bundle(bytes, ReadLimits::default())
}

/// Decompresses a bundle to its raw tar stream.
fn untar(bytes: &[u8]) -> Vec<u8> {
    zstd::decode_all(bytes).unwrap()
}

fn compress(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}

/// Builds a raw tar with arbitrary names and types (the `tar` crate's safe setters refuse `..`).
fn raw_tar(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/shadow").unwrap();
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend([0u8; 1024]);
    out
}

#[test]
fn round_trip_records_and_verify() {
    let bytes = good_bundle();
    let bundle = read(&bytes).unwrap().verified().unwrap();
    assert_eq!(bundle.manifest.host.hostname, "web-1");
    assert_eq!(bundle.manifest.members.len(), 2);
    assert_eq!(
        bundle.records(members::PROCESSES).unwrap(),
        Some(processes())
    );
    assert_eq!(
        bundle.member("fs/etc/crontab"),
        Some(&b"* * * * * root /bin/true\n"[..])
    );
}

#[test]
fn flipped_byte_in_member_is_a_hash_mismatch_naming_it() {
    let mut tar = untar(&good_bundle());
    let at = tar
        .windows(10)
        .position(|w| w == b"root /bin/")
        .expect("crontab text in tar");
    tar[at] ^= 0x20;
    let err = read(&compress(&tar)).unwrap().verified().unwrap_err();
    match err {
        BundleError::HashMismatch { member, .. } => assert_eq!(member, "fs/etc/crontab"),
        other => panic!("expected hash mismatch, got {other}"),
    }
}

#[test]
fn flipped_byte_in_compressed_stream_is_refused() {
    let mut bytes = good_bundle();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let err = read(&bytes).and_then(|b| b.verified()).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::BadZstdFrame(_)
                | BundleError::HashMismatch { .. }
                | BundleError::BadTar(_)
                | BundleError::Truncated(_)
        ),
        "got {err}"
    );
}

#[test]
fn truncated_file_is_truncated() {
    let bytes = good_bundle();
    for cut in [bytes.len() - 5, bytes.len() / 2, 20] {
        let err = read(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, BundleError::Truncated(_)),
            "cut at {cut}: got {err}"
        );
    }
}

#[test]
fn dotdot_member_is_unsafe() {
    let tar = raw_tar(&[(b"../../etc/cron.d/x", tar::EntryType::Regular, b"x")]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(
        matches!(err, BundleError::UnsafeMemberPath { ref member, .. } if member.contains("..")),
        "got {err}"
    );
}

#[test]
fn absolute_member_is_unsafe() {
    let tar = raw_tar(&[(b"/etc/passwd", tar::EntryType::Regular, b"x")]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(
        matches!(err, BundleError::UnsafeMemberPath { .. }),
        "got {err}"
    );
}

#[test]
fn symlink_member_is_refused() {
    let tar = raw_tar(&[(b"fs/etc/shadow", tar::EntryType::Symlink, b"")]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(matches!(err, BundleError::LinkMember { .. }), "got {err}");
}

#[test]
fn device_member_is_refused() {
    let tar = raw_tar(&[(b"fs/dev/sda", tar::EntryType::Block, b"")]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(
        matches!(err, BundleError::SpecialMember { .. }),
        "got {err}"
    );
}

#[test]
fn oversized_member_is_refused_before_reading() {
    let limits = ReadLimits {
        max_member_bytes: 10,
        ..ReadLimits::default()
    };
    let err = read_bundle(&good_bundle()[..], limits).unwrap_err();
    assert!(
        matches!(err, BundleError::MemberTooLarge { .. }),
        "got {err}"
    );
}

#[test]
fn total_cap_is_enforced() {
    let limits = ReadLimits {
        max_total_bytes: 30,
        ..ReadLimits::default()
    };
    let err = read_bundle(&good_bundle()[..], limits).unwrap_err();
    assert!(
        matches!(err, BundleError::TotalTooLarge { .. }),
        "got {err}"
    );
}

#[test]
fn missing_manifest() {
    let tar = raw_tar(&[(b"fs/etc/crontab", tar::EntryType::Regular, b"x")]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(matches!(err, BundleError::MissingManifest), "got {err}");
}

#[test]
fn malformed_manifest() {
    let tar = raw_tar(&[(b"manifest.json", tar::EntryType::Regular, b"{not json")]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(
        matches!(err, BundleError::MalformedManifest(_)),
        "got {err}"
    );
}

#[test]
fn unknown_format_version() {
    let mut m = serde_json::to_value(manifest()).unwrap();
    m["format_version"] = 99.into();
    let json = serde_json::to_vec(&m).unwrap();
    let tar = raw_tar(&[(b"manifest.json", tar::EntryType::Regular, &json)]);
    let err = read(&compress(&tar)).unwrap_err();
    assert!(
        matches!(err, BundleError::UnknownFormatVersion { found: 99 }),
        "got {err}"
    );
}

#[test]
fn unknown_record_version_names_the_member() {
    let mut w = BundleWriter::new(Vec::new(), 0, 0).unwrap();
    let mut body = minetrace_schemas::records::MAGIC.to_vec();
    body.extend([3u8, 0, 0]);
    w.add(members::PROCESSES, &body).unwrap();
    let (out, _) = w.finish(manifest()).unwrap();
    let bundle = read(&out).unwrap().verified().unwrap();
    let err = bundle.records(members::PROCESSES).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("records/processes.pc") && text.contains("version 4"),
        "{text}"
    );
}

#[test]
fn garbage_input() {
    let err = read(b"this is not a bundle at all").unwrap_err();
    assert!(matches!(err, BundleError::NotZstd(_)), "got {err}");
    assert!(matches!(read(b"").unwrap_err(), BundleError::Empty));
    // Valid zstd magic followed by noise.
    let mut noise = vec![0x28, 0xb5, 0x2f, 0xfd];
    noise.extend((0..200u32).map(|i| (i * 7919 % 251) as u8));
    let err = read(&noise).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::BadZstdFrame(_) | BundleError::Truncated(_)
        ),
        "got {err}"
    );
}

#[test]
fn unlisted_and_missing_members_are_integrity_problems() {
    let good = untar(&good_bundle());
    // Append a member after the manifest: refused as structure, not silently read.
    let mut extra = good[..good.len() - 1024].to_vec();
    extra.extend(raw_tar(&[(b"fs/extra", tar::EntryType::Regular, b"x")]));
    let err = read(&compress(&extra)).unwrap_err();
    assert!(
        matches!(err, BundleError::ManifestNotLast { .. }),
        "got {err}"
    );
}

#[test]
fn writer_refuses_unsafe_and_duplicate_names() {
    let mut w = BundleWriter::new(Vec::new(), 0, 0).unwrap();
    assert!(w.add("../x", b"").is_err());
    assert!(w.add("/abs", b"").is_err());
    assert!(w.add("manifest.json", b"").is_err());
    w.add("fs/a", b"1").unwrap();
    assert!(w.add("fs/a", b"2").is_err());
}

#[test]
fn writer_streams_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.zst");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = BundleWriter::new(std::io::BufWriter::new(file), 2, 0).unwrap();
    w.add("fs/big", &vec![7u8; 3 << 20]).unwrap();
    let (mut out, summary) = w.finish(manifest()).unwrap();
    out.flush().unwrap();
    drop(out);
    let bundle = minetrace_schemas::bundle::Bundle::open(&path, ReadLimits::default())
        .unwrap()
        .verified()
        .unwrap();
    assert_eq!(bundle.sha256.as_deref(), Some(summary.sha256.as_str()));
    assert_eq!(bundle.member("fs/big").map(|b| b.len()), Some(3 << 20));
}

/// The sha256 `Bundle::open` reports is of the file's bytes, all of them, read once with the parse; bytes
/// after the archive are refused rather than left unread.
#[test]
fn open_hashes_every_byte_of_the_file_in_the_parsing_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.zst");
    let mut bytes = good_bundle();
    std::fs::write(&path, &bytes).unwrap();
    let bundle = minetrace_schemas::bundle::Bundle::open(&path, ReadLimits::default()).unwrap();
    let want = minetrace_schemas::bundle::hashing_io::sha256_hex(&bytes);
    assert_eq!(bundle.sha256.as_deref(), Some(want.as_str()));
    assert_eq!(bundle.compressed_bytes, Some(bytes.len() as u64));
    bytes.extend_from_slice(b"appended after the archive");
    std::fs::write(&path, &bytes).unwrap();
    let padded = minetrace_schemas::bundle::Bundle::open(&path, ReadLimits::default());
    assert!(
        matches!(padded, Err(BundleError::BadZstdFrame(_))),
        "{padded:?}"
    );
}
