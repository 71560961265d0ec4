//! `minetrace fleet` as a user runs it: shipped sample bundles plus one file that is no bundle. The
//! broken one is listed with its reason and makes the exit status 2, every other host is still analysed
//! and written, and the fleet's own outputs are there.

use std::process::Command;

use minetrace_schemas::fleet::FleetDocument;

#[test]
fn a_broken_bundle_is_reported_and_the_rest_analysed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf();
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("web-09.tar.zst");
    std::fs::write(&broken, b"not a bundle").expect("broken bundle");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("fleet")
        .arg(root.join("samples/bundles/kinsing-redis.tar.zst"))
        .arg(root.join("samples/bundles/clean-baseline.tar.zst"))
        .arg(&broken)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run minetrace fleet");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("failed: web-09.tar.zst"), "{stdout}");
    let doc: FleetDocument =
        serde_json::from_slice(&std::fs::read(out.join("fleet.json")).expect("fleet.json"))
            .expect("fleet.json");
    let names: Vec<&str> = doc.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["clean-baseline", "kinsing-redis"]);
    assert_eq!(doc.failed.len(), 1);
    assert_eq!(doc.failed[0].bundle, "web-09.tar.zst");
    assert!(!doc.failed[0].error.is_empty());
    for f in ["report.html", "fleet.stix.json", "timeline.jsonl"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(out.join("hosts/kinsing-redis/report.html").is_file());
    assert!(out.join("hosts/clean-baseline/findings.json").is_file());
    assert!(!out.join("hosts/web-09").exists());
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(html.contains("1 bundles failed") && html.contains("web-09.tar.zst"));

    // Without the broken bundle the status is the analysis's: 1, the sample holds findings.
    let run = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("fleet")
        .arg(root.join("samples/bundles/kinsing-redis.tar.zst"))
        .arg("-o")
        .arg(dir.path().join("out2"))
        .arg("--json")
        .output()
        .expect("run minetrace fleet");
    assert_eq!(run.status.code(), Some(1));
    let doc: FleetDocument = serde_json::from_slice(&run.stdout).expect("--json prints fleet.json");
    assert_eq!(doc.hosts.len(), 1);
    // Only clean hosts: 0.
    let run = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("fleet")
        .arg(root.join("samples/bundles/clean-baseline.tar.zst"))
        .arg("-o")
        .arg(dir.path().join("out3"))
        .output()
        .expect("run minetrace fleet");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}
