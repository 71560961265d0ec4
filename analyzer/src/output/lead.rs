//! The lead line every readable output opens with: how the attacker got in (the first entry candidate),
//! then what they did (the strongest finding of each later kill-chain stage).
//!
//! `entry: got in through the exposed redis service from 203.0.113.19 [exposed_service/redis, parsed,
//! confidence 85]; then ran process 4242 /tmp/.rsvc/xmr, persisted through /var/spool/cron/crontabs/redis:1,
//! talks to 127.66.20.1:3333`
//!
//! A small piece on purpose: it reads the findings document only, so the summary, the report and a
//! future incident view place it where they need it. Every host byte in it is escaped.

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{
    EntryCandidate, EntryVector, Finding, FindingsDocument, Severity, Subject,
};

use crate::graph::nodes::Stage;
use crate::output::summary::describe_subject;

/// `got in through ...` for one candidate.
pub fn through(c: &EntryCandidate) -> String {
    let e = |s: &str| escape_bytes(s.as_bytes());
    let service = c.service.as_deref().map(e).unwrap_or_default();
    let from = c
        .source
        .as_deref()
        .map(|s| format!(" from {}", e(s)))
        .unwrap_or_default();
    match c.vector {
        EntryVector::ExposedService => format!("the exposed {service} service{from}"),
        EntryVector::WebApplication => format!("the web application served by {service}{from}"),
        EntryVector::SshBruteForce => format!("an SSH password brute force{from}"),
        EntryVector::SshKey => format!("an SSH login with the attacker's key{from}"),
        EntryVector::LateralMovement => format!("an SSH login{from}, another host of this network"),
        EntryVector::SupplyChain => format!(
            "a {service} that carried the kit{}",
            c.source
                .as_deref()
                .map(|s| format!(" ({})", e(s)))
                .unwrap_or_default()
        ),
        EntryVector::Unknown => "an unknown way: nothing in the bundle shows how".into(),
    }
}

/// `[vector/service, level, confidence N]`.
pub fn tag(c: &EntryCandidate) -> String {
    format!(
        "[{}{}, {}, confidence {}]",
        c.vector.name(),
        c.service
            .as_deref()
            .map(|s| format!("/{}", escape_bytes(s.as_bytes())))
            .unwrap_or_default(),
        c.level.name(),
        c.confidence
    )
}

fn stages(f: &Finding) -> Vec<Stage> {
    f.attack
        .iter()
        .filter_map(|a| Stage::of_attack(a))
        .collect()
}

/// The first subject of the strongest finding at medium or above in `stage` that `pick` accepts.
fn strongest(
    findings: &[Finding],
    stage: Stage,
    pick: impl Fn(&Subject) -> bool,
) -> Option<&Subject> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium && stages(f).contains(&stage))
        .flat_map(|f| f.iter_subjects())
        .find(|s| pick(s))
}

/// `then ran ..., persisted through ..., talks to ...`; empty when no later stage has a finding.
pub fn then(findings: &[Finding]) -> String {
    let mut parts = Vec::new();
    let process = |s: &Subject| matches!(s, Subject::Process { .. });
    if let Some(s) = strongest(findings, Stage::Impact, process)
        .or_else(|| strongest(findings, Stage::Execution, process))
    {
        parts.push(format!("ran {}", describe_subject(s)));
    }
    let persisted: Vec<&Subject> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium && stages(f).contains(&Stage::Persistence))
        .flat_map(|f| f.iter_subjects())
        .filter(|s| matches!(s, Subject::Persistence { .. } | Subject::SshKey { .. }))
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    if let Some(first) = persisted.first() {
        let more = persisted.len() - 1;
        parts.push(format!(
            "persisted through {}{}",
            describe_subject(first),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if let Some(s) = strongest(findings, Stage::Impact, |s| {
        matches!(s, Subject::Endpoint { .. })
    }) {
        parts.push(format!("talks to {}", describe_subject(s)));
    }
    parts.join(", ")
}

/// The whole lead line, or `None` for a host with nothing to trace (a clean verdict).
pub fn line(doc: &FindingsDocument) -> Option<String> {
    let best = doc.entry.first()?;
    let then = then(&doc.findings);
    Some(format!(
        "entry: got in through {} {}{}",
        through(best),
        tag(best),
        if then.is_empty() {
            String::new()
        } else {
            format!("; then {then}")
        }
    ))
}
