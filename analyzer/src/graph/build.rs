//! The order of the graph passes and the caps.
//!
//! Host facts come first and are capped ([`Budget::Host`]); the findings pass runs last with its own
//! reserve, so a finding and its subjects are always in the graph whatever the host holds. What the
//! passes share is [`Ctx`] (`graph/ctx.rs`); the passes never call back into this module.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use crate::analysis::Analysis;
use crate::graph::ctx::Ctx;
use crate::graph::nodes::{Edge, Level, NodeKind, Relation};
use crate::graph::{findings, network, persistence, processes, ssh, AttackGraph, Budget};

/// Builds the whole graph from one analysis.
pub fn build(analysis: &Analysis) -> AttackGraph {
    let ctx = Ctx::new(analysis);
    let mut g = AttackGraph::new();
    let flagged = findings::flagged_lines(&analysis.document.findings);
    processes::add(&ctx, &mut g);
    network::add_sockets(&ctx, &mut g);
    persistence::add(&ctx, &mut g, &flagged);
    ssh::add(&ctx, &mut g);
    network::add_names(&ctx, &mut g);
    processes::add_maps(&ctx, &mut g);
    link_same_paths(&mut g);
    findings::add(&ctx, &mut g, &analysis.document.findings);
    findings::assign_stages(&mut g);
    g
}

/// Joins file nodes that carry the same path under different ids (`same_path`, observed): a running
/// image seen through another device number than its directory entry, or a path whose file was
/// replaced while a process still ran the old one.
fn link_same_paths(g: &mut AttackGraph) {
    let mut by_path: HashMap<String, Vec<NodeIndex>> = HashMap::new();
    for i in g.g.node_indices() {
        if let Some(n) = g.node_at(i) {
            if n.kind == NodeKind::File {
                if let Some(p) = n.attrs.get("path") {
                    by_path.entry(p.clone()).or_default().push(i);
                }
            }
        }
    }
    let mut groups: Vec<(String, Vec<NodeIndex>)> =
        by_path.into_iter().filter(|(_, v)| v.len() > 1).collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, mut nodes) in groups {
        nodes.sort_by(|a, b| g.id_of(*a).cmp(g.id_of(*b)));
        nodes.truncate(8);
        for pair in nodes.windows(2) {
            let (Some(a), Some(b)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let ev = format!("{} and {} both name {path}", g.id_of(*a), g.id_of(*b));
            g.add_edge(
                *a,
                *b,
                Edge::new(Relation::SamePath, Level::Observed, "file.same_path", ev),
                Budget::Host,
            );
        }
    }
}
