//! Detectors: each module owns one concern, reads the [`HostModel`] through a [`Context`] and returns
//! findings. Detectors never print and never look at each other's output; cross-cutting judgements
//! (start lines of a judged miner, agent cut-offs, the intrusion window, family attribution, allowlist,
//! verdict) run
//! after all of them in [`analyze`].
//!
//! To add a detector: a module here with `pub fn detect(ctx: &Context) -> Vec<Finding>`, one line in
//! `runtime::DETECTORS` or `footholds::DETECTORS`, indicator data in `indicators/*.txt`, tests next to it.

pub mod agent_cutoff;
pub mod family;
pub mod finding;
pub mod footholds;
pub mod intrusion_window;
pub mod kit_lines;
pub mod markers;
pub mod rules;
pub mod runtime;
pub mod window;

use minetrace_schemas::findings::{Finding, Severity, Verdict};

use crate::allowlist::Allowlist;
use crate::indicators::Indicators;
use crate::model::HostModel;

/// What every detector may read.
pub struct Context<'a> {
    pub model: &'a HostModel,
    pub iocs: &'a Indicators,
}

pub type Detector = fn(&Context) -> Vec<Finding>;

/// The findings of `rule` that `detector` makes on `model` with `iocs` (unit tests of detectors).
#[cfg(test)]
pub(crate) fn findings_of(
    detector: Detector,
    rule: &rules::Rule,
    model: &HostModel,
    iocs: &Indicators,
) -> Vec<Finding> {
    detector(&Context { model, iocs })
        .into_iter()
        .filter(|f| f.rule == rule.id)
        .collect()
}

/// Every detector, by name, in the order they run.
pub fn detectors() -> impl Iterator<Item = &'static (&'static str, Detector)> {
    runtime::DETECTORS.iter().chain(footholds::DETECTORS.iter())
}

/// Runs every detector, then applies the allowlist and orders the findings (most severe first, then by
/// rule id, so output is deterministic).
pub fn analyze(model: &HostModel, iocs: &Indicators, allow: &Allowlist) -> Vec<Finding> {
    let ctx = Context { model, iocs };
    let mut findings: Vec<Finding> = detectors().flat_map(|(_, d)| d(&ctx)).collect();
    let kit = kit_lines::start_lines(&ctx, &findings);
    findings.extend(kit);
    agent_cutoff::corroborate(&mut findings);
    let in_window = window::keys_in_window(&ctx, &findings);
    findings.extend(in_window);
    family::attribute(&ctx, &mut findings);
    for f in &mut findings {
        allow.apply(f);
        dedup_evidence(&mut f.evidence);
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.subjects.cmp(&b.subjects))
    });
    findings.dedup_by(|a, b| a.rule == b.rule && a.subjects == b.subjects);
    findings
}

/// Drops repeated evidence lines, keeping the first of each (two markers can say the same thing about
/// one process; a detector and the family pass can quote the same line).
fn dedup_evidence(lines: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    lines.retain(|l| seen.insert(l.clone()));
}

/// `compromised` when anything is high or critical, `suspicious` at medium, `clean` otherwise.
pub fn verdict(findings: &[Finding]) -> Verdict {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::High | Severity::Critical) => Verdict::Compromised,
        Some(Severity::Medium) => Verdict::Suspicious,
        _ => Verdict::Clean,
    }
}
