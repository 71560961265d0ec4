//! Snapshots of what a user reads for every shipped sample bundle (`samples/bundles/*.tar.zst`):
//! `findings.json`, the terminal summary, `report.html` and `remediate.sh`, one snapshot per sample per
//! output (`snapshots/sample_outputs__<sample>__<output>.snap`). They pin the analyzer's behaviour so a
//! refactoring that moves a finding, a severity or a plan action shows up as a reviewable diff.
//!
//! Regenerated samples change these snapshots: run
//! `INSTA_UPDATE=always INSTA_FORCE_PASS=1 cargo test -p minetrace-analyzer --test sample_outputs` (or
//! `cargo insta test --review`), then read every `git diff` of `analyzer/tests/snapshots/` and accept
//! only what you can explain.
//!
//! Two outputs are shown in a readable form rather than byte for byte, and each form is checked to be
//! faithful: `report.html` has a line break inserted between adjacent tags (`><`), nothing else changed;
//! `remediate.sh` is checked to be exactly `remediate::script::TEMPLATE` (reviewed as code in git) with
//! the plan data and its pinned sha256 put in, and the snapshot shows that data with every hex field
//! decoded (and escaped).

mod report_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::inputs;
use minetrace_analyzer::graph::Trace;
use minetrace_analyzer::output::report_html::{self, ReportExtras};
use minetrace_analyzer::remediate;
use report_support::workspace_root;

/// Every output of one sample, rendered once and shared by the four tests of that sample.
struct Outputs {
    findings_json: String,
    summary: String,
    report_html: String,
    remediate_sh: String,
}

fn bundle_path(sample: &str) -> PathBuf {
    workspace_root()
        .join("samples")
        .join("bundles")
        .join(format!("{sample}.tar.zst"))
}

fn render(sample: &str) -> Outputs {
    let analysis = Analysis::run(
        &bundle_path(sample),
        &inputs(&[], None, false).expect("inputs"),
    )
    .unwrap_or_else(|e| panic!("{sample}: {e:#}"));
    let mut findings_json = Vec::new();
    minetrace_analyzer::output::findings_json::write(&analysis, &mut findings_json)
        .expect("findings.json");
    let trace = Trace::of(&analysis);
    let plan = remediate::build_plan(&analysis);
    let mut summary = Vec::new();
    minetrace_analyzer::output::summary::write_with(
        &analysis,
        &trace,
        &plan,
        Default::default(),
        &mut summary,
    )
    .expect("summary");
    let extras = ReportExtras::of(&analysis, &trace, &plan);
    let html = report_html::render(&analysis, &trace, &extras);
    let script = remediate::script::render(&plan);
    Outputs {
        findings_json: String::from_utf8(findings_json).expect("findings.json is UTF-8"),
        summary: String::from_utf8(summary).expect("summary is UTF-8"),
        report_html: readable_html(&html),
        remediate_sh: readable_script(sample, &script),
    }
}

/// The outputs of a sample, computed by the first of its tests to ask.
fn outputs(sample: &str) -> Arc<Outputs> {
    type Cache = Mutex<BTreeMap<String, Arc<OnceLock<Arc<Outputs>>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cell = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(cache.entry(sample.to_owned()).or_default())
    };
    Arc::clone(cell.get_or_init(|| Arc::new(render(sample))))
}

/// One tag per line: a line break between `>` and `<`, the only change.
fn readable_html(html: &str) -> String {
    html.replace("><", ">\n<")
}

/// The script's plan data, decoded, after checking that the script is the template plus that data.
fn readable_script(sample: &str, script: &str) -> String {
    let hash = between(script, "readonly MT_DATA_SHA256='", "'")
        .unwrap_or_else(|| panic!("{sample}: remediate.sh has no MT_DATA_SHA256"));
    let data = between(script, "readonly MT_DATA='", "'")
        .unwrap_or_else(|| panic!("{sample}: remediate.sh has no MT_DATA"));
    let rebuilt = remediate::script::TEMPLATE
        .replacen("@MT_DATA_SHA256@", hash, 1)
        .replacen("@MT_DATA@", data, 1);
    assert!(
        rebuilt == script,
        "{sample}: remediate.sh is not the template plus its data block"
    );
    assert_eq!(
        hash,
        remediate::edit::sha256(data.as_bytes()),
        "{sample}: MT_DATA_SHA256 does not pin MT_DATA"
    );
    let mut out = format!(
        "remediate.sh = remediate/template.sh + this plan data (MT_DATA_SHA256 {hash}); fields hex-decoded\n"
    );
    for line in data.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<String> = line.split(' ').map(decode_field).collect();
        let get = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        out.push_str(&format!("\n#{} {} [{}]\n", get(0), get(1), get(2)));
        // Field names per record kind, as `remediate/script.rs` lays them out; the rest by number.
        let labels: &[&str] = match get(1) {
            "host" => &[
                "hostname",
                "machine-id",
                "boot id",
                "bundle sha256",
                "collected at",
                "analyzer version",
            ],
            _ => &["title", "target", "why"],
        };
        for (i, f) in fields.iter().enumerate().skip(3) {
            if f.is_empty() {
                continue;
            }
            match labels.get(i - 3) {
                Some(label) => out.push_str(&format!("    {label}: {f}\n")),
                None => out.push_str(&format!("    [{i}] {f}\n")),
            }
        }
    }
    out
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s.get(from..)?.find(end)?;
    s.get(from..from + len)
}

/// A data field: `-` is empty, anything else lowercase hex of bytes, shown escaped.
fn decode_field(f: &str) -> String {
    if f == "-" {
        return String::new();
    }
    let bytes: Vec<u8> = (0..f.len() / 2)
        .map(|i| {
            f.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| panic!("data field is not hex: {f}"))
        })
        .collect();
    minetrace_schemas::escape_bytes(&bytes)
}

fn check(sample: &str, output: &str, text: &str) {
    insta::with_settings!({
        description => format!("minetrace analyze samples/bundles/{sample}.tar.zst: {output}"),
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(format!("sample_outputs__{sample}__{output}"), text);
    });
}

macro_rules! samples {
    ($($module:ident => $sample:literal,)*) => {
        const SAMPLES: &[&str] = &[$($sample),*];
        $(
            mod $module {
                use super::*;

                #[test]
                fn findings_json() {
                    check($sample, "findings_json", &outputs($sample).findings_json);
                }

                #[test]
                fn summary() {
                    check($sample, "summary", &outputs($sample).summary);
                }

                #[test]
                fn report_html() {
                    check($sample, "report_html", &outputs($sample).report_html);
                }

                #[test]
                fn remediate_sh() {
                    check($sample, "remediate_sh", &outputs($sample).remediate_sh);
                }
            }
        )*
    };
}

samples! {
    benign_admin_healthcheck => "benign-admin-healthcheck",
    benign_operator_mining => "benign-operator-mining",
    benign_package_upgrade => "benign-package-upgrade",
    clean_baseline => "clean-baseline",
    hostile_names => "hostile-names",
    kinsing_redis => "kinsing-redis",
    kthread_devshm_deleted => "kthread-devshm-deleted",
    outlaw_ssh_bruteforce => "outlaw-ssh-bruteforce",
    perfctl_ld_preload => "perfctl-ld-preload",
    pwnrig_8220_immutable => "pwnrig-8220-immutable",
    redis_rdb_crontab => "redis-rdb-crontab",
}

/// A sample added to `samples/bundles/` gets its line in `samples!` above, so it is snapshotted too.
#[test]
fn every_sample_bundle_is_snapshotted() {
    let dir = workspace_root().join("samples").join("bundles");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".tar.zst")
                .map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SAMPLES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every samples/bundles/*.tar.zst needs a line in samples! of analyzer/tests/sample_outputs.rs"
    );
}
