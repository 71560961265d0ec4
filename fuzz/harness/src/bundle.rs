//! A bundle end to end, as `minetrace analyze -o DIR --allow-tampered` would treat it, but in memory:
//! reader → model → every detector → graph → every output → remediation plan and script, with every
//! output checked by [`crate::invariants`].

use std::sync::OnceLock;

use minetrace_analyzer::allowlist::Allowlist;
use minetrace_analyzer::analysis::{Analysis, AnalysisInputs};
use minetrace_analyzer::graph::Trace;
use minetrace_analyzer::indicators::Indicators;
use minetrace_analyzer::model::HostModel;
use minetrace_analyzer::{output, remediate};
use minetrace_schemas::bundle::{read_bundle, ReadLimits};

use crate::invariants;

/// Tighter than the analyzer's defaults (256 MiB a member, 4 GiB in all) so a decompression bomb costs
/// the fuzzer milliseconds, not gigabytes; the caps' logic is the same code either way.
pub const LIMITS: ReadLimits = ReadLimits {
    max_member_bytes: 8 << 20,
    max_total_bytes: 48 << 20,
    max_members: 20_000,
};

/// The built-in indicators and an empty allowlist, as `minetrace analyze` without options.
pub fn inputs() -> &'static AnalysisInputs {
    static INPUTS: OnceLock<AnalysisInputs> = OnceLock::new();
    INPUTS.get_or_init(|| AnalysisInputs {
        iocs: Indicators::builtin(),
        allow: Allowlist::default(),
        allow_tampered: true,
    })
}

/// Every output of one analysis, rendered in memory.
pub struct Outputs {
    pub summary: String,
    pub findings_json: String,
    pub graph_json: String,
    pub graph_dot: String,
    pub timeline_jsonl: String,
    pub stix_json: String,
    pub report_html: String,
    pub remediate_sh: String,
}

fn render(write: impl FnOnce(&mut Vec<u8>) -> anyhow::Result<()>, what: &str) -> String {
    let mut buf = Vec::new();
    if let Err(e) = write(&mut buf) {
        panic!("{what}: writing to memory failed: {e:#}");
    }
    match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => panic!("{what}: output is not UTF-8 ({e})"),
    }
}

/// Renders every output of an analysis.
pub fn outputs(analysis: &Analysis) -> Outputs {
    let trace = Trace::of(analysis);
    let plan = remediate::build_plan(analysis);
    let extras = output::report_html::ReportExtras::of(analysis, &trace, &plan);
    Outputs {
        summary: render(
            |w| {
                let detail = output::summary::Detail {
                    every_finding: true,
                    color: false,
                };
                output::summary::write_with(analysis, &trace, &plan, detail, w)
            },
            "summary",
        ),
        findings_json: render(
            |w| output::findings_json::write(analysis, w),
            "findings.json",
        ),
        graph_json: render(|w| output::graph_json::write(&trace, w), "graph.json"),
        graph_dot: render(|w| output::graph_dot::write(&trace, w), "graph.dot"),
        timeline_jsonl: render(
            |w| output::timeline_jsonl::write(&trace, w),
            "timeline.jsonl",
        ),
        stix_json: render(
            |w| output::stix::write(analysis, &trace, w),
            "iocs.stix.json",
        ),
        report_html: render(
            |w| output::report_html::write(analysis, &trace, &extras, w),
            "report.html",
        ),
        remediate_sh: remediate::script::render(&plan),
    }
}

/// Checks every invariant on every output.
pub fn check(out: &Outputs) {
    invariants::printable_ascii("summary", &out.summary);
    invariants::json("findings.json", &out.findings_json);
    invariants::json("graph.json", &out.graph_json);
    invariants::dot(&out.graph_dot);
    invariants::json_lines("timeline.jsonl", &out.timeline_jsonl);
    invariants::json("iocs.stix.json", &out.stix_json);
    invariants::markup("report.html", &out.report_html);
    invariants::script(&out.remediate_sh);
}

/// Reads compressed bundle bytes and, when they are a bundle, analyses it (integrity problems are carried
/// along as `--allow-tampered` does) and checks every output. `None` when the reader or the model refused
/// the input, which is a correct answer to hostile bytes.
pub fn analyze_bytes(bytes: &[u8]) -> Option<Outputs> {
    let mut bundle = read_bundle(bytes, LIMITS).ok()?;
    let problems = std::mem::take(&mut bundle.problems)
        .iter()
        .map(ToString::to_string)
        .collect();
    let model = HostModel::from_bundle(bundle).ok()?;
    let analysis = Analysis::of_model(model, inputs(), problems);
    let out = outputs(&analysis);
    check(&out);
    Some(out)
}
