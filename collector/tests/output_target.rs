//! Where the bundle goes: a new file (with its `.sha256`), never an existing file overwritten, and a
//! device such as `/dev/null` written as it is, never removed or replaced.

use std::os::unix::fs::FileTypeExt;
use std::process::Command;

const COLLECT: &str = env!("CARGO_BIN_EXE_minetrace-collect");

/// A dead-box collection of an empty root: the quickest complete run.
fn collect_to(out: &std::path::Path) -> std::process::Output {
    let root = tempfile::tempdir().unwrap();
    Command::new(COLLECT)
        .arg("--root")
        .arg(root.path())
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn new_file_gets_bundle_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.tar.zst");
    let run = collect_to(&out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let sidecar = std::fs::read_to_string(dir.path().join("b.tar.zst.sha256")).unwrap();
    assert!(sidecar.ends_with("  b.tar.zst\n"), "{sidecar}");
}

#[test]
fn existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("earlier.tar.zst");
    std::fs::write(&out, b"an earlier bundle").unwrap();
    let run = collect_to(&out);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"an earlier bundle");
}

#[test]
fn dev_null_stays_a_device() {
    let run = collect_to(std::path::Path::new("/dev/null"));
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device(), "/dev/null was replaced");
    assert!(!std::path::Path::new("/dev/null.sha256").exists());
}
