//! Incidents: the findings at medium or above grouped by the connected parts of the attack graph they are
//! about, so the analyst reads "one Kinsing infection" instead of fifteen findings about five subjects.
//!
//! Two findings belong to one incident when they share a subject, when their subjects are joined by an
//! edge, when their subjects share a neighbour that is neither an account nor a hub (a URL both a
//! cron line and a process name, the file a process runs), or when one's subject is a line of the
//! other's file. A finding is anchored by its artifact
//! subjects (what the intrusion made or changed); evidence and context (logs, owners, holding files) are
//! shared by unrelated findings and join nothing, unless a finding has nothing else.
//!
//! Parts the graph leaves apart are then joined when they are one attacker's by other facts: findings
//! attributed to the same family, or artifacts in one kit directory (a directory the intrusion made in
//! a kit-prone place, [`PathClasses::kit_dirs`]: outlaw's `~/.configrc/a/run` that no edge ties to the
//! miner in `~/.configrc/a/`). The incident says why ([`Join`]).

use std::collections::HashMap;

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use petgraph::graph::NodeIndex;

use crate::graph::view::HUB_DEGREE;
use crate::graph::{AttackGraph, NodeKind};
use crate::indicators::paths::PathClasses;

/// One connected part of the intrusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Indices into the findings, worst first (then in document order).
    pub findings: Vec<usize>,
    /// The graph nodes its findings are anchored on.
    pub nodes: Vec<NodeIndex>,
    pub worst: Severity,
    /// Why parts of the graph that no edge ties were joined into it, each once, in the order met.
    pub joined: Vec<Join>,
}

/// A fact that joins parts of the attack graph into one incident.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Join {
    /// Findings attributed to this family.
    Family(String),
    /// Artifacts below this directory the intrusion made (raw path).
    KitDir(Vec<u8>),
}

/// Findings below this are notes, not incidents.
pub const MIN_SEVERITY: Severity = Severity::Medium;

struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut i: usize) -> usize {
        while let Some(&p) = self.0.get(i) {
            if p == i {
                break;
            }
            let grand = self.0.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.0.get_mut(i) {
                *slot = grand;
            }
            i = p;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            if let Some(slot) = self.0.get_mut(hi) {
                *slot = lo;
            }
        }
    }
}

/// The nodes a finding is anchored on: its artifact subjects' nodes, else all its subjects' nodes.
fn anchors(g: &AttackGraph, i: usize, f: &Finding) -> Vec<NodeIndex> {
    let node = |j: usize| g.subject_nodes.get(&(i, j)).copied();
    let artifacts: Vec<NodeIndex> = f
        .subjects
        .iter()
        .enumerate()
        .filter(|(_, s)| s.role == Role::Artifact)
        .filter_map(|(j, _)| node(j))
        .collect();
    if !artifacts.is_empty() {
        return artifacts;
    }
    (0..f.subjects.len()).filter_map(node).collect()
}

/// Whether a node may join two anchors it neighbours: not a finding, not an account, not a hub.
pub fn joins(g: &AttackGraph, n: NodeIndex) -> bool {
    g.node_at(n)
        .is_some_and(|node| !matches!(node.kind, NodeKind::Finding | NodeKind::User))
        && g.degree(n) <= HUB_DEGREE
}

/// The paths of a finding's artifacts that a kit directory may hold: files, and the programs its
/// processes run.
fn artifact_paths(f: &Finding) -> impl Iterator<Item = &[u8]> + '_ {
    f.subjects
        .iter()
        .filter(|s| s.role == Role::Artifact)
        .filter_map(|s| match &s.subject {
            Subject::File { path, .. } => Some(path.as_bytes()),
            Subject::Process { exe, .. } => exe.as_ref().map(|e| e.as_bytes()),
            _ => None,
        })
}

/// Groups the findings at [`MIN_SEVERITY`] or above into incidents, worst first.
pub fn group(findings: &[Finding], g: &AttackGraph, paths: &PathClasses) -> Vec<Incident> {
    let chosen: Vec<usize> = (0..findings.len())
        .filter(|i| findings.get(*i).is_some_and(|f| f.severity >= MIN_SEVERITY))
        .collect();
    let mut sets = Sets((0..findings.len()).collect());
    // Anchor node → the first finding anchored on it.
    let mut owner: HashMap<NodeIndex, usize> = HashMap::new();
    let mut anchored: Vec<(usize, Vec<NodeIndex>)> = Vec::new();
    for &i in &chosen {
        let Some(f) = findings.get(i) else { continue };
        let nodes = anchors(g, i, f);
        for n in &nodes {
            match owner.get(n) {
                Some(&other) => sets.union(i, other),
                None => {
                    owner.insert(*n, i);
                }
            }
        }
        anchored.push((i, nodes));
    }
    // A line and the file that holds it, or two lines of one file, are one part: the graph has no edge
    // from a persistence entry or key to its file, but both carry the file's path.
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    for (&n, &i) in &owner {
        let Some(path) = g.node_at(n).and_then(|node| node.attrs.get("path")) else {
            continue;
        };
        match by_path.get(path.as_str()) {
            Some(&j) => sets.union(i, j),
            None => {
                by_path.insert(path, i);
            }
        }
    }
    for (&n, &i) in &owner {
        for m in g.g.neighbors_undirected(n) {
            if let Some(&j) = owner.get(&m) {
                sets.union(i, j);
                continue;
            }
            if !joins(g, m) {
                continue;
            }
            for k in g.g.neighbors_undirected(m) {
                if let Some(&j) = owner.get(&k) {
                    sets.union(i, j);
                }
            }
        }
    }
    // Facts that join parts the graph leaves apart: a family, a kit directory. Each join that merges
    // two parts is remembered with one finding of the merged part.
    let mut joins: Vec<(usize, Join)> = Vec::new();
    let mut first_of: HashMap<Join, usize> = HashMap::new();
    for &i in &chosen {
        let Some(f) = findings.get(i) else { continue };
        let mut facts: Vec<Join> = f.family.iter().map(|n| Join::Family(n.clone())).collect();
        for p in artifact_paths(f) {
            facts.extend(
                paths
                    .kit_dirs(p)
                    .into_iter()
                    .map(|d| Join::KitDir(d.to_vec())),
            );
        }
        for fact in facts {
            match first_of.get(&fact) {
                Some(&j) => {
                    if sets.find(i) != sets.find(j) {
                        sets.union(i, j);
                        joins.push((i, fact));
                    }
                }
                None => {
                    first_of.insert(fact, i);
                }
            }
        }
    }
    let mut by_root: HashMap<usize, Incident> = HashMap::new();
    for (i, nodes) in anchored {
        let Some(f) = findings.get(i) else { continue };
        let root = sets.find(i);
        let inc = by_root.entry(root).or_insert_with(|| Incident {
            findings: Vec::new(),
            nodes: Vec::new(),
            worst: f.severity,
            joined: Vec::new(),
        });
        inc.findings.push(i);
        inc.worst = inc.worst.max(f.severity);
        for n in nodes {
            if !inc.nodes.contains(&n) {
                inc.nodes.push(n);
            }
        }
    }
    for (i, fact) in joins {
        if let Some(inc) = by_root.get_mut(&sets.find(i)) {
            if !inc.joined.contains(&fact) {
                inc.joined.push(fact);
            }
        }
    }
    let severity = |i: &usize| findings.get(*i).map(|f| f.severity);
    let mut out: Vec<Incident> = by_root.into_values().collect();
    for inc in &mut out {
        inc.findings
            .sort_by(|a, b| severity(b).cmp(&severity(a)).then(a.cmp(b)));
    }
    out.sort_by(|a, b| {
        b.worst
            .cmp(&a.worst)
            .then(b.findings.len().cmp(&a.findings.len()))
            .then(a.findings.first().cmp(&b.findings.first()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::nodes::{Edge, Level, Node, Relation};
    use crate::graph::Budget;
    use minetrace_schemas::findings::{FindingSubject, Subject};
    use minetrace_schemas::RawBytes;

    fn finding(severity: Severity, paths: &[&str]) -> Finding {
        Finding {
            rule: "MT-TEST-001".into(),
            title: "t".into(),
            severity,
            subjects: paths
                .iter()
                .map(|p| FindingSubject {
                    subject: Subject::File {
                        path: RawBytes::from(p.as_bytes()),
                        sha256: None,
                    },
                    role: Role::Artifact,
                })
                .collect(),
            evidence: Vec::new(),
            attack: Vec::new(),
            family: None,
        }
    }

    #[test]
    fn findings_joined_by_a_shared_neighbour_form_one_incident_and_hubs_join_nothing() {
        let findings = vec![
            finding(Severity::High, &["/a"]),
            finding(Severity::Critical, &["/b"]),
            finding(Severity::Medium, &["/c"]),
            finding(Severity::Low, &["/d"]),
        ];
        let mut g = AttackGraph::new();
        let mut node = |id: &str, kind| {
            g.add_node(Node::new(id.into(), kind, id.into()), Budget::Host)
                .expect("room")
        };
        let (a, b, c, d) = (
            node("file:a", NodeKind::File),
            node("file:b", NodeKind::File),
            node("file:c", NodeKind::File),
            node("file:d", NodeKind::File),
        );
        let url = node("url:x", NodeKind::Url);
        let root = node("user:0", NodeKind::User);
        let edge = || Edge::new(Relation::References, Level::Parsed, "test", "e");
        g.add_edge(a, url, edge(), Budget::Host);
        g.add_edge(b, url, edge(), Budget::Host);
        g.add_edge(c, root, edge(), Budget::Host);
        g.add_edge(b, root, edge(), Budget::Host);
        for (i, n) in [a, b, c, d].into_iter().enumerate() {
            g.subject_nodes.insert((i, 0), n);
        }
        let incidents = group(
            &findings,
            &g,
            crate::indicators::Indicators::builtin().paths(),
        );
        assert_eq!(incidents.len(), 2, "{incidents:?}");
        assert_eq!(incidents[0].findings, vec![1, 0]);
        assert_eq!(incidents[0].worst, Severity::Critical);
        assert_eq!(incidents[1].findings, vec![2]);
    }

    #[test]
    fn a_family_or_a_kit_directory_joins_parts_no_edge_ties() {
        let mut attributed = finding(Severity::High, &["/usr/bin/crondr"]);
        attributed.family = Some("8220/PwnRig".into());
        let mut attributed2 = finding(Severity::Medium, &["/etc/init.d/pwnrig"]);
        attributed2.family = Some("8220/PwnRig".into());
        let findings = vec![
            finding(Severity::Critical, &["/home/git/.configrc/a/kswapd0"]),
            finding(Severity::High, &["/home/git/.configrc/b/a"]),
            attributed,
            attributed2,
            // Loose files of a temp directory, a shared directory: nothing joins them.
            finding(Severity::High, &["/tmp/x"]),
            finding(Severity::High, &["/tmp/y"]),
            finding(Severity::High, &["/root/.config/a"]),
            finding(Severity::High, &["/root/.config/b"]),
        ];
        let mut g = AttackGraph::new();
        for (i, f) in findings.iter().enumerate() {
            let Subject::File { path, .. } = &f.subjects[0].subject else {
                unreachable!()
            };
            let id = format!("file:{}", path.escaped());
            let n = g
                .add_node(Node::new(id.clone(), NodeKind::File, id), Budget::Host)
                .expect("room");
            g.subject_nodes.insert((i, 0), n);
        }
        let incidents = group(
            &findings,
            &g,
            crate::indicators::Indicators::builtin().paths(),
        );
        let by_first: Vec<(Vec<usize>, Vec<Join>)> = incidents
            .iter()
            .map(|inc| (inc.findings.clone(), inc.joined.clone()))
            .collect();
        assert!(
            by_first.contains(&(
                vec![0, 1],
                vec![Join::KitDir(b"/home/git/.configrc".to_vec())]
            )),
            "{by_first:?}"
        );
        assert!(
            by_first.contains(&(vec![2, 3], vec![Join::Family("8220/PwnRig".into())])),
            "{by_first:?}"
        );
        assert_eq!(incidents.len(), 6, "{by_first:?}");
        assert!(incidents
            .iter()
            .filter(|i| i.findings.len() == 1)
            .all(|i| i.joined.is_empty()));
    }
}
