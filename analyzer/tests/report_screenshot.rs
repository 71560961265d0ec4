//! `report.html` in a real browser: the report of the `kinsing-redis` sample bundle (collected by the
//! real collector from its sandboxed scenario) and of the hand-built bundle with hostile names are
//! rendered by headless Chromium; the screenshots must exist and be non-trivial, and the pages must
//! reference nothing outside themselves. Needs `apt-get install -y chromium`; fails when it is missing.

mod report_support;

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::{inputs, write_outputs};
use report_support::*;

#[test]
fn sample_report_renders_in_chromium() {
    let bundle = workspace_root().join("samples/bundles/kinsing-redis.tar.zst");
    assert!(
        bundle.is_file(),
        "sample bundle missing: {}",
        bundle.display()
    );
    let analysis =
        Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis");
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    write_outputs(&analysis, dir.path()).expect("outputs");
    eprintln!("write_outputs took {:?}", started.elapsed());
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert_self_contained(&html);
    for needed in [
        "COMPROMISED",
        "Entry point",
        "Attack-trace graph",
        "<svg",
        "Timeline",
        "Remediation plan",
        "kdevtmpfsi",
    ] {
        assert!(html.contains(needed), "report lacks {needed:?}");
    }
    let png = screenshot(
        &dir.path().join("report.html"),
        &dir.path().join("report.png"),
    );
    assert!(
        png.len() > 50_000,
        "screenshot suspiciously small ({} bytes)",
        png.len()
    );
    keep(dir.path(), "kinsing-redis-screenshot");
}
