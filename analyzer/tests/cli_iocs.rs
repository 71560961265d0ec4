//! `minetrace analyze --iocs FILE` refuses a file with an unknown indicator kind or a malformed value:
//! exit status 2 and an error naming `FILE:LINE` and the reason, before any bundle is read. A good file
//! is accepted, the kinds that were lists in code before (`system_unit_prefix`, `scanner`, ...) included.

use std::path::PathBuf;
use std::process::Command;

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("samples")
        .join("bundles")
        .join("clean-baseline.tar.zst")
}

fn analyze_with(iocs: &str) -> (Option<i32>, String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mine.iocs");
    std::fs::write(&file, iocs).expect("write iocs");
    let out = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("analyze")
        .arg(sample())
        .arg("--iocs")
        .arg(&file)
        .output()
        .expect("run minetrace");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
        dir,
    )
}

#[test]
fn unknown_kind_is_refused_with_file_and_line() {
    let (code, stderr, file, _dir) =
        analyze_with("# my pools\npool_domain pool.example.org\npool_domian evil.example.org\n");
    assert_eq!(code, Some(2), "stderr: {stderr}");
    let at = format!("{}:3:", file.display());
    assert!(stderr.contains(&at), "stderr should name {at}: {stderr}");
    assert!(
        stderr.contains("unknown indicator kind \"pool_domian\""),
        "{stderr}"
    );
}

#[test]
fn malformed_value_is_refused_with_file_and_line() {
    let (code, stderr, file, _dir) = analyze_with("pool_port 3333\npool_port 70000\n");
    assert_eq!(code, Some(2), "stderr: {stderr}");
    let at = format!("{}:2:", file.display());
    assert!(stderr.contains(&at), "stderr should name {at}: {stderr}");
    assert!(stderr.contains("expected a port number"), "{stderr}");
}

#[test]
fn good_file_is_accepted() {
    let (code, stderr, _file, _dir) = analyze_with(
        "pool_domain pool.example.org\ntemp_dir /scratch/\nfamily Example name xbot\n\
         system_unit_prefix Zz-\nscan_tool zzscan\nscan_non_target_option zzscan --via\nclosed_port 11211\nadmin_group wheel2\n\
         access_file /etc/zz-vpn/*\nwebshell_sink zz_run\nnetwork_tool zzcat --connect\nhost_changing_tool zzctl\n",
    );
    assert!(
        matches!(code, Some(0 | 1)),
        "a valid file must be accepted (exit {code:?}): {stderr}"
    );
}
