//! Finding nodes (`finding:{rule}:{n}`), `concerns` edges to each subject, and what findings do to the
//! nodes they are about: verdict (fill colour), ATT&CK ids and kill-chain stage.
//!
//! Works with whatever the detectors emit: a subject the host passes did not create (a process that is
//! not in the table, a path never captured) gets its own node.

use std::collections::{HashMap, HashSet};

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Subject};
use petgraph::graph::NodeIndex;

use crate::graph::ctx::Ctx;
use crate::graph::network::endpoint_node;
use crate::graph::nodes::{
    firewall_rule_id, kernel_module_id, proc_id, sshkey_id, Edge, Level, Node, NodeKind,
    NodeVerdict, Relation, Stage,
};
use crate::graph::persistence::{entry_node, kind_of};
use crate::graph::processes;
use crate::graph::{AttackGraph, Budget};

/// Evidence lines copied onto a `concerns` edge.
const EDGE_EVIDENCE: usize = 4;

/// `(path, line)` of every persistence subject, so the persistence pass makes entries of those lines.
pub fn flagged_lines(findings: &[Finding]) -> HashSet<(Vec<u8>, u32)> {
    findings
        .iter()
        .flat_map(|f| f.subjects.iter())
        .filter_map(|s| match &s.subject {
            Subject::Persistence { path, line } => Some((path.as_bytes().to_vec(), *line)),
            Subject::SshKey { path, line, .. } => Some((path.as_bytes().to_vec(), *line)),
            _ => None,
        })
        .collect()
}

/// The node a subject is about, created when no pass made it.
pub fn subject_node(ctx: &Ctx, g: &mut AttackGraph, s: &Subject) -> Option<NodeIndex> {
    let budget = Budget::Findings;
    match s {
        Subject::Process {
            pid,
            start_ticks,
            exe,
        } => {
            let id = proc_id(&ctx.boot_id, *pid, *start_ticks);
            if let Some(i) = g.index_of(&id) {
                return Some(i);
            }
            if let Some(p) = ctx
                .model
                .process(*pid)
                .filter(|p| p.start_ticks == *start_ticks)
            {
                return processes::node(ctx, g, p, budget);
            }
            let mut n = Node::new(id, NodeKind::Process, format!("pid {pid}"))
                .attr("pid", pid.to_string())
                .attr("start_ticks", start_ticks.to_string());
            if let Some(e) = exe {
                n = n.attr("exe", e.escaped());
            }
            g.add_node(n, budget)
        }
        Subject::File { path, sha256 } => {
            let i = ctx.file_path_node(g, path.as_bytes(), budget)?;
            if let (Some(h), Some(n)) = (sha256, g.node_at_mut(i)) {
                n.attrs
                    .entry("sha256".into())
                    .or_insert_with(|| escape_bytes(h.as_bytes()));
            }
            Some(i)
        }
        Subject::Endpoint { addr } => endpoint_node(g, addr, budget),
        Subject::SshKey {
            fingerprint,
            path,
            line,
        } => {
            let id = sshkey_id(fingerprint);
            if let Some(i) = g.index_of(&id) {
                return Some(i);
            }
            let n = Node::new(id, NodeKind::SshKey, escape_bytes(fingerprint.as_bytes()))
                .attr("fingerprint", escape_bytes(fingerprint.as_bytes()))
                .attr("path", path.escaped())
                .attr("line", line.to_string());
            g.add_node(n, budget)
        }
        Subject::Persistence { path, line } => {
            let kind = kind_of(path.as_bytes());
            let text = ctx
                .model
                .line_of(path.as_bytes(), *line)
                .unwrap_or_default();
            entry_node(g, kind, path.as_bytes(), *line, text, budget)
        }
        Subject::Account { name, uid } => match uid {
            Some(uid) => ctx.accounts.node(g, *uid, budget),
            None => ctx.accounts.node_by_name(g, name.as_bytes(), budget),
        },
        Subject::FirewallRule { rule } => {
            let n = Node::new(
                firewall_rule_id(rule.as_bytes()),
                NodeKind::FirewallRule,
                String::new(),
            )
            .with_raw_label(rule.as_bytes())
            .attr("rule", rule.escaped());
            g.add_node(n, budget)
        }
        Subject::KernelModule { name } => {
            let n = Node::new(
                kernel_module_id(name),
                NodeKind::KernelModule,
                escape_bytes(name.as_bytes()),
            )
            .attr("name", escape_bytes(name.as_bytes()));
            g.add_node(n, budget)
        }
    }
}

pub fn add(ctx: &Ctx, g: &mut AttackGraph, findings: &[Finding]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (fno, f) in findings.iter().enumerate() {
        let count = seen.entry(f.rule.as_str()).or_insert(0);
        let n = *count;
        *count += 1;
        let verdict = NodeVerdict::of_severity(f.severity);
        let mut node = Node::new(
            super::nodes::finding_id(&f.rule, n),
            NodeKind::Finding,
            String::new(),
        )
        .attr("rule", escape_bytes(f.rule.as_bytes()))
        .attr("severity", f.severity.name())
        .attr("title", escape_bytes(f.title.as_bytes()));
        node.label = super::nodes::short(
            &format!(
                "{}: {}",
                escape_bytes(f.rule.as_bytes()),
                escape_bytes(f.title.as_bytes())
            ),
            60,
        );
        if let Some(fam) = &f.family {
            node = node.attr("family", escape_bytes(fam.as_bytes()));
        }
        node.verdict = verdict;
        node.findings.insert(escape_bytes(f.rule.as_bytes()));
        node.attack = f
            .attack
            .iter()
            .map(|a| escape_bytes(a.as_bytes()))
            .collect();
        let fi = g.add_node(node, Budget::Findings);
        for (sno, s) in f.subjects.iter().enumerate() {
            let Some(si) = subject_node(ctx, g, &s.subject) else {
                continue;
            };
            g.subject_nodes.insert((fno, sno), si);
            let Some(fi) = fi else {
                continue;
            };
            let mut e = Edge {
                relation: Relation::Concerns,
                level: Level::Observed,
                rule: escape_bytes(f.rule.as_bytes()),
                evidence: f
                    .evidence
                    .iter()
                    .take(EDGE_EVIDENCE)
                    .map(|l| escape_bytes(l.as_bytes()))
                    .collect(),
                attack: f.attack.first().map(|a| escape_bytes(a.as_bytes())),
            };
            if e.evidence.is_empty() {
                e.evidence.push(escape_bytes(f.title.as_bytes()));
            }
            g.add_edge(fi, si, e, Budget::Findings);
            if let Some(target) = g.node_at_mut(si) {
                target.verdict = target.verdict.max(verdict);
                target.findings.insert(escape_bytes(f.rule.as_bytes()));
                target
                    .attack
                    .extend(f.attack.iter().map(|a| escape_bytes(a.as_bytes())));
                if let Some(fam) = &f.family {
                    target
                        .attrs
                        .entry("family".into())
                        .or_insert_with(|| escape_bytes(fam.as_bytes()));
                }
            }
        }
    }
}

/// The stage a node's ATT&CK ids put it in: mining (T1496) first; else its kind's own stage when the
/// ids include it (a cron entry tagged T1053 and T1190 stays with persistence); else evasion,
/// persistence, entry, execution in that order. Entry is mostly decided by the entry-point inference.
pub fn stage_of(kind: NodeKind, attack: &std::collections::BTreeSet<String>) -> Option<Stage> {
    let stages: Vec<Stage> = attack.iter().filter_map(|a| Stage::of_attack(a)).collect();
    if stages.is_empty() {
        return None;
    }
    if stages.contains(&Stage::Impact) && kind != NodeKind::Persistence {
        return Some(Stage::Impact);
    }
    if stages.contains(&kind.default_stage()) {
        return Some(kind.default_stage());
    }
    [
        Stage::Impact,
        Stage::Evasion,
        Stage::Persistence,
        Stage::Entry,
        Stage::Execution,
    ]
    .into_iter()
    .find(|s| stages.contains(s))
}

/// Moves nodes that findings are about into the stage of their ATT&CK ids.
pub fn assign_stages(g: &mut AttackGraph) {
    let idx: Vec<NodeIndex> = g.g.node_indices().collect();
    for i in idx {
        if let Some(n) = g.node_at_mut(i) {
            if let Some(s) = stage_of(n.kind, &n.attack) {
                n.stage = s;
            }
        }
    }
}
