//! Runtime detectors on the sample bundles in `samples/bundles/` (real collections of the sandboxed
//! scenarios): the rules, severities and families each scenario's running side must produce, and the
//! look-alike scenarios' running side staying below medium. Processes are found by executable path, not
//! pid, so regenerated samples keep passing. The per-scenario ground truth as a whole is checked by the
//! end-to-end tests in `tests/`.

use std::path::{Path, PathBuf};

use minetrace_analyzer::allowlist::Allowlist;
use minetrace_analyzer::analysis::{Analysis, AnalysisInputs};
use minetrace_analyzer::indicators::Indicators;
use minetrace_schemas::findings::{Finding, Severity, Subject};

fn sample(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/bundles")
        .join(format!("{name}.tar.zst"));
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is not there", p.display());
        None
    }
}

/// Analyses a sample with its scenario's allowlist, when the ground truth declares one.
fn analyse(name: &str) -> Option<Vec<Finding>> {
    let path = sample(name)?;
    let truth = path.with_file_name(format!("{name}.truth.json"));
    let allow = std::fs::read(&truth)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["truth"]["allowlist"].as_str().map(str::to_owned))
        .map(|text| Allowlist::parse("truth allowlist", &text).expect("parse the allowlist"))
        .unwrap_or_default();
    let inputs = AnalysisInputs {
        iocs: Indicators::builtin(),
        allow,
        ..AnalysisInputs::default()
    };
    let a = Analysis::run(&path, &inputs).expect("analyze the sample");
    Some(a.document.findings)
}

fn runtime(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(|f| f.rule.starts_with("MT-RUN-"))
}

/// Findings of `rule` with a process or file subject whose path is `exe`.
fn about<'a>(findings: &'a [Finding], rule: &str, exe: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .filter(|f| {
            f.iter_subjects().any(|s| match s {
                Subject::Process { exe: Some(e), .. } => e.as_bytes() == exe.as_bytes(),
                Subject::File { path, .. } => path.as_bytes() == exe.as_bytes(),
                _ => false,
            })
        })
        .collect()
}

fn has_endpoint(f: &Finding, addr: &str) -> bool {
    f.iter_subjects()
        .any(|s| matches!(s, Subject::Endpoint { addr: a } if a == addr))
}

fn show(findings: &[Finding]) -> String {
    runtime(findings)
        .map(|f| {
            format!(
                "{} {:?} {:?} {:?}",
                f.rule, f.severity, f.family, f.subjects
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn kinsing_miner_pool_on_port_80_and_family() {
    let Some(fs) = analyse("kinsing-redis") else {
        return;
    };
    let miner = about(&fs, "MT-RUN-001", "/tmp/kdevtmpfsi");
    assert!(
        miner
            .iter()
            .any(|f| f.severity >= Severity::High && f.family.as_deref() == Some("Kinsing")),
        "{}",
        show(&fs)
    );
    // Kinsing's miner talks to its pool on port 80: no pool port, but a miner-like process.
    assert!(
        fs.iter().any(|f| f.rule == "MT-RUN-020"
            && has_endpoint(f, "127.66.0.1:80")
            && f.severity >= Severity::Medium),
        "{}",
        show(&fs)
    );
    assert!(
        !about(&fs, "MT-RUN-010", "/tmp/kdevtmpfsi").is_empty(),
        "{}",
        show(&fs)
    );
    assert!(
        !about(&fs, "MT-RUN-033", "/tmp/kdevtmpfsi").is_empty(),
        "{}",
        show(&fs)
    );
    // The exploited redis-server is never a subject at medium or above of a runtime finding.
    assert!(
        about(&fs, "MT-RUN-036", "/usr/local/bin/redis-server").is_empty(),
        "{}",
        show(&fs)
    );
}

#[test]
fn kernel_thread_masquerade_from_dev_shm_deleted() {
    let Some(fs) = analyse("kthread-devshm-deleted") else {
        return;
    };
    let masq: Vec<&Finding> = fs.iter().filter(|f| f.rule == "MT-RUN-033").collect();
    assert!(
        masq.iter().any(|f| f.severity >= Severity::High),
        "{}",
        show(&fs)
    );
    assert!(
        fs.iter()
            .any(|f| f.rule == "MT-RUN-030" && f.severity >= Severity::Medium),
        "{}",
        show(&fs)
    );
    assert!(
        fs.iter().any(|f| f.rule == "MT-RUN-020"
            && has_endpoint(f, "127.66.2.1:3333")
            && f.severity >= Severity::High),
        "{}",
        show(&fs)
    );
    // The config beside the binary, content not captured.
    assert!(
        fs.iter().any(|f| f.rule == "MT-RUN-013"
            && f.severity >= Severity::Medium
            && f.iter_subjects().any(|s| matches!(s, Subject::File { path, .. } if path.as_bytes() == b"/dev/shm/.x/config.json"))),
        "{}",
        show(&fs)
    );
}

#[test]
fn outlaw_kswapd0_and_irc_bot() {
    let Some(fs) = analyse("outlaw-ssh-bruteforce") else {
        return;
    };
    let k = about(&fs, "MT-RUN-033", "/home/git/.configrc/a/kswapd0");
    assert!(
        k.iter()
            .any(|f| f.severity >= Severity::High && f.family.as_deref() == Some("Outlaw")),
        "{}",
        show(&fs)
    );
    assert!(
        fs.iter()
            .any(|f| f.rule == "MT-RUN-023" && f.severity >= Severity::Medium),
        "{}",
        show(&fs)
    );
    assert!(
        fs.iter().any(|f| f.rule == "MT-RUN-020"
            && has_endpoint(f, "127.66.1.1:443")
            && f.severity >= Severity::Medium),
        "{}",
        show(&fs)
    );
}

#[test]
fn lookalike_scenarios_stay_below_medium_at_runtime() {
    for name in [
        "benign-package-upgrade",
        "benign-admin-healthcheck",
        "benign-operator-mining",
        "clean-baseline",
    ] {
        let Some(fs) = analyse(name) else { continue };
        let loud: Vec<&Finding> = runtime(&fs)
            .filter(|f| f.severity >= Severity::Medium)
            .collect();
        assert!(loud.is_empty(), "{name}: {loud:#?}");
    }
    // The upgrade's deleted-but-running binary is noted, at info.
    if let Some(fs) = analyse("benign-package-upgrade") {
        assert!(
            runtime(&fs).any(|f| f.rule == "MT-RUN-030" && f.severity == Severity::Info),
            "{}",
            show(&fs)
        );
    }
}
