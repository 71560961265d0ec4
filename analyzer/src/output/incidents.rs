//! The incidents as the summary and the report show them first: a one-line verdict, the entry when the
//! graph ties it, the three strongest findings, and what the remediation script will do about it.
//! Grouping is the graph's ([`crate::graph::incidents`]); this module only words it. Every host byte is
//! escaped.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Role, Subject};

use crate::analysis::Analysis;
use crate::graph::incidents::{self, Incident, Join};
use crate::graph::Trace;
use crate::output::summary::describe_subject;
use crate::remediate::plan::{Action, Gate, Plan};

/// How many findings an incident shows as its evidence.
pub const STRONGEST: usize = 3;

/// One incident, worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentView {
    /// `CRITICAL Kinsing: 2 processes, 2 files, 1 endpoint, 1 persistence entry`.
    pub verdict: String,
    /// The inferred entry point, when the graph ties it to this incident.
    pub entry: Option<String>,
    /// `[CRITICAL] MT-RUN-001 Cryptocurrency miner process: process 6 /tmp/kdevtmpfsi`, strongest first.
    pub strongest: Vec<String>,
    /// `kill 2 processes, remove 1 line, ...`, or what keeps the script from acting.
    pub script: String,
    /// Indices of its findings in the document, worst first.
    pub findings: Vec<usize>,
}

/// The incidents of an analysis, worst first.
pub fn views(analysis: &Analysis, trace: &Trace, plan: &Plan) -> Vec<IncidentView> {
    let findings = &analysis.document.findings;
    let groups = incidents::group(findings, &trace.graph, analysis.iocs.paths());
    let entry_nodes: Vec<petgraph::graph::NodeIndex> = trace
        .entry
        .nodes
        .iter()
        .filter_map(|id| trace.graph.index_of(id))
        .collect();
    let single = groups.len() == 1;
    groups
        .iter()
        .map(|inc| {
            // An entry node the incident is anchored on, or one that joins to it (an account or a
            // hub, such as root, neighbours everything and ties nothing).
            let tied = single
                || entry_nodes.iter().any(|n| {
                    inc.nodes.contains(n)
                        || (incidents::joins(&trace.graph, *n)
                            && trace
                                .graph
                                .g
                                .neighbors_undirected(*n)
                                .any(|m| inc.nodes.contains(&m)))
                });
            IncidentView {
                verdict: verdict(findings, inc),
                entry: (tied && trace.entry.best().is_some()).then(|| trace.entry.summary()),
                strongest: strongest(findings, inc),
                script: script(findings, inc, plan),
                findings: inc.findings.clone(),
            }
        })
        .collect()
}

/// `1 finding`, `2 findings`: a count with its noun.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn incident_findings<'a>(
    findings: &'a [Finding],
    inc: &'a Incident,
) -> impl Iterator<Item = &'a Finding> + 'a {
    inc.findings.iter().filter_map(|i| findings.get(*i))
}

/// The artifacts of an incident, each once.
fn artifacts<'a>(findings: &'a [Finding], inc: &'a Incident) -> Vec<&'a Subject> {
    let mut seen = BTreeSet::new();
    incident_findings(findings, inc)
        .flat_map(|f| f.subjects.iter())
        .filter(|s| s.role == Role::Artifact)
        .map(|s| &s.subject)
        .filter(|s| seen.insert(*s))
        .collect()
}

/// `CRITICAL Kinsing: 2 processes, 2 files, 1 endpoint, 1 persistence entry, 1 account`.
fn verdict(findings: &[Finding], inc: &Incident) -> String {
    // The family most of its findings name (first met on a tie).
    let mut families: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (order, f) in incident_findings(findings, inc).enumerate() {
        if let Some(fam) = f.family.as_deref() {
            families.entry(fam).or_insert((0, order)).0 += 1;
        }
    }
    let family = families
        .iter()
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
        .map(|(name, _)| escape_bytes(name.as_bytes()))
        .unwrap_or_else(|| "unattributed".to_owned());
    let mut counts = [0usize; 8];
    for s in artifacts(findings, inc) {
        let slot = match s {
            Subject::Process { .. } => 0,
            Subject::File { .. } => 1,
            Subject::Endpoint { .. } => 2,
            Subject::Persistence { .. } => 3,
            Subject::SshKey { .. } => 4,
            Subject::Account { .. } => 5,
            Subject::FirewallRule { .. } => 6,
            Subject::KernelModule { .. } => 7,
        };
        if let Some(c) = counts.get_mut(slot) {
            *c += 1;
        }
    }
    let names = [
        ("process", "processes"),
        ("file", "files"),
        ("endpoint", "endpoints"),
        ("persistence entry", "persistence entries"),
        ("ssh key", "ssh keys"),
        ("account", "accounts"),
        ("firewall rule", "firewall rules"),
        ("kernel module", "kernel modules"),
    ];
    let parts: Vec<String> = counts
        .iter()
        .zip(names)
        .filter(|(n, _)| **n > 0)
        .map(|(n, (one, many))| plural(*n, one, many))
        .collect();
    let joined: Vec<String> = inc
        .joined
        .iter()
        .map(|j| match j {
            Join::Family(name) => format!("family {}", escape_bytes(name.as_bytes())),
            Join::KitDir(dir) => format!("kit directory {}", escape_bytes(dir)),
        })
        .collect();
    format!(
        "{} {family}: {}{}",
        inc.worst.name().to_uppercase(),
        if parts.is_empty() {
            "no artifact named".to_owned()
        } else {
            parts.join(", ")
        },
        if joined.is_empty() {
            String::new()
        } else {
            format!(" (parts joined by {})", joined.join(", "))
        }
    )
}

/// The first artifact a finding names (else its first subject), described.
fn main_subject(f: &Finding) -> Option<String> {
    f.subjects
        .iter()
        .find(|s| s.role == Role::Artifact)
        .or_else(|| f.subjects.first())
        .map(|s| describe_subject(&s.subject))
}

/// The [`STRONGEST`] worst findings, one per rule.
fn strongest(findings: &[Finding], inc: &Incident) -> Vec<String> {
    let mut rules = HashSet::new();
    incident_findings(findings, inc)
        .filter(|f| rules.insert(f.rule.as_str()))
        .take(STRONGEST)
        .map(|f| {
            format!(
                "[{}] {} {}{}",
                f.severity.name().to_uppercase(),
                escape_bytes(f.rule.as_bytes()),
                escape_bytes(f.title.as_bytes()),
                main_subject(f)
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// What a plan action is about, comparable with a subject.
enum Target<'a> {
    Pid(i32),
    Path(&'a [u8]),
    Endpoint(SocketAddr),
    Rule(&'a [u8]),
    Account(&'a [u8]),
}

fn target(a: &Action) -> Option<Target<'_>> {
    Some(match a {
        Action::Kill(p) => Target::Pid(p.pid),
        Action::RemoveLines { file, .. }
        | Action::RemoveUnit { file, .. }
        | Action::QuarantineFile { file, .. }
        | Action::Reinstall { file, .. }
        | Action::RenameBack { file, .. } => Target::Path(file.path.as_bytes()),
        Action::RemoveLink(l) => Target::Path(l.path.as_bytes()),
        Action::BlockEndpoint { ip, port } => Target::Endpoint(SocketAddr::new(*ip, *port)),
        Action::DeleteFirewallRule { rule, .. } => Target::Rule(rule.as_bytes()),
        Action::LockAccount { name, .. } => Target::Account(name.as_bytes()),
        Action::PreserveProcess(_)
        | Action::PreserveFile(_)
        | Action::Freeze(_)
        | Action::FreezeSet(_)
        | Action::KillSet(_)
        | Action::RemoveKitDir { .. }
        | Action::RestartService(_)
        | Action::Verify => return None,
    })
}

fn concerns(t: &Target, s: &Subject) -> bool {
    match (t, s) {
        (Target::Pid(pid), Subject::Process { pid: p, .. }) => pid == p,
        (Target::Path(path), Subject::File { path: p, .. })
        | (Target::Path(path), Subject::Persistence { path: p, .. })
        | (Target::Path(path), Subject::SshKey { path: p, .. }) => *path == p.as_bytes(),
        (Target::Endpoint(addr), Subject::Endpoint { addr: a }) => {
            a.parse::<SocketAddr>().is_ok_and(|a| a == *addr)
        }
        (Target::Rule(rule), Subject::FirewallRule { rule: r }) => *rule == r.as_bytes(),
        (Target::Account(name), Subject::Account { name: n, .. }) => *name == n.as_bytes(),
        _ => false,
    }
}

/// `kill 2 processes, remove 1 line, quarantine 2 files, block 2 endpoints; 1 more for review`.
fn script(findings: &[Finding], inc: &Incident, plan: &Plan) -> String {
    let subjects: Vec<&Subject> = artifacts(findings, inc);
    // (verb, one, many) → (applied, for review)
    let mut counts: Vec<(&str, &str, &str, usize)> = Vec::new();
    let mut review = 0usize;
    let mut bump =
        |verb: &'static str, one: &'static str, many: &'static str, n: usize| match counts
            .iter_mut()
            .find(|c| c.0 == verb && c.1 == one)
        {
            Some(c) => c.3 += n,
            None => counts.push((verb, one, many, n)),
        };
    for item in &plan.items {
        let Some(t) = target(&item.action) else {
            continue;
        };
        if !subjects.iter().any(|s| concerns(&t, s)) {
            continue;
        }
        let (verb, one, many, n, gated) = match &item.action {
            Action::Kill(_) => ("kill", "process", "processes", 1, &item.gate),
            Action::RemoveLines { lines, .. } => {
                let open = lines.iter().filter(|l| l.gate == Gate::Apply).count();
                review += lines.len() - open;
                if open == 0 {
                    continue;
                }
                ("remove", "line", "lines", open, &Gate::Apply)
            }
            Action::RemoveUnit { .. } => ("remove", "unit", "units", 1, &item.gate),
            Action::QuarantineFile { .. } => ("quarantine", "file", "files", 1, &item.gate),
            Action::RemoveLink(_) => ("remove", "link", "links", 1, &item.gate),
            Action::BlockEndpoint { .. } => ("block", "endpoint", "endpoints", 1, &item.gate),
            Action::DeleteFirewallRule { .. } => {
                ("delete", "firewall rule", "firewall rules", 1, &item.gate)
            }
            Action::LockAccount { .. } => ("lock", "account", "accounts", 1, &item.gate),
            Action::Reinstall { .. } => ("reinstall", "package", "packages", 1, &item.gate),
            Action::RenameBack { .. } => ("move back", "tool", "tools", 1, &item.gate),
            _ => continue,
        };
        if *gated == Gate::Apply {
            bump(verb, one, many, n);
        } else {
            review += n;
        }
    }
    let mut text = counts
        .iter()
        .map(|(verb, one, many, n)| format!("{verb} {}", plural(*n, one, many)))
        .collect::<Vec<_>>()
        .join(", ");
    if review > 0 {
        let more = format!(
            "{} only when the operator includes {}",
            plural(review, "action", "actions"),
            if review == 1 { "it" } else { "them" }
        );
        text = if text.is_empty() {
            more
        } else {
            format!("{text}; {more}")
        };
    }
    if text.is_empty() {
        "nothing (no artifact of it is attributed enough to act on; see the plan's manual items)"
            .to_owned()
    } else {
        text
    }
}
