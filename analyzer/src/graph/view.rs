//! The findings' neighbourhood (NoDoze-style): nodes within `k` hops of what findings are about, at most
//! about 50, for the report drawing and `graph.dot`. The full graph is in `graph.json`.
//!
//! Unjudged hubs (a libc every process maps, root running every daemon) are left out: they would pull
//! the whole host in and say nothing.

use std::collections::{HashSet, VecDeque};

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::graph::entry_point::EntryPoint;
use crate::graph::nodes::{NodeKind, NodeVerdict, Relation};
use crate::graph::AttackGraph;

pub const DEFAULT_HOPS: usize = 2;
pub const DEFAULT_MAX_NODES: usize = 50;
/// An unjudged node with more edges than this is a hub.
pub const HUB_DEGREE: usize = 12;

#[derive(Debug, Clone, Default)]
pub struct View {
    /// In inclusion order: seeds first.
    pub nodes: Vec<NodeIndex>,
    pub edges: Vec<EdgeIndex>,
    /// Nodes that would have been in the neighbourhood but did not fit.
    pub omitted: usize,
}

impl View {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

fn rank(g: &AttackGraph, i: NodeIndex) -> (std::cmp::Reverse<NodeVerdict>, String) {
    let n = g.node_at(i);
    (
        std::cmp::Reverse(n.map_or(NodeVerdict::Unjudged, |n| n.verdict)),
        n.map(|n| n.id.clone()).unwrap_or_default(),
    )
}

/// An ordinary shared library a process maps: unjudged, not deleted or memfd, in a system library
/// directory. It says nothing about the attack and would crowd the drawing.
fn boring_mapping(g: &AttackGraph, relation: Relation, other: NodeIndex) -> bool {
    if relation != Relation::Maps {
        return false;
    }
    let Some(n) = g.node_at(other) else {
        return true;
    };
    let path = n.attrs.get("path").map(String::as_str).unwrap_or("");
    let system = [
        "/lib/",
        "/lib64/",
        "/usr/lib/",
        "/usr/lib64/",
        "/usr/libexec/",
    ]
    .iter()
    .any(|d| path.starts_with(d));
    n.verdict == NodeVerdict::Unjudged
        && system
        && !n.attrs.contains_key("deleted")
        && !n.attrs.contains_key("memfd")
}

pub fn neighbourhood(g: &AttackGraph, entry: &EntryPoint, hops: usize, max_nodes: usize) -> View {
    let is_finding = |i: NodeIndex| g.node_at(i).is_none_or(|n| n.kind == NodeKind::Finding);
    // Seeds: what medium-or-worse findings are about; only low/info ones when there is nothing else.
    let judged = |min: NodeVerdict| -> Vec<NodeIndex> {
        g.g.node_indices()
            .filter(|i| !is_finding(*i) && g.node_at(*i).is_some_and(|n| n.verdict >= min))
            .collect()
    };
    let mut seeds = judged(NodeVerdict::Suspicious);
    if seeds.is_empty() {
        seeds = judged(NodeVerdict::Noted);
    }
    seeds.extend(entry.nodes.iter().filter_map(|id| g.index_of(id)));
    seeds.sort_by_key(|i| rank(g, *i));
    seeds.dedup();
    let mut included: Vec<NodeIndex> = Vec::new();
    let mut seen: HashSet<NodeIndex> = HashSet::new();
    let mut queue: VecDeque<(NodeIndex, usize)> = VecDeque::new();
    let mut omitted = 0usize;
    for s in seeds {
        if seen.insert(s) {
            if included.len() < max_nodes {
                included.push(s);
                queue.push_back((s, 0));
            } else {
                omitted += 1;
            }
        }
    }
    while let Some((i, depth)) = queue.pop_front() {
        if depth >= hops {
            continue;
        }
        let mut next: Vec<NodeIndex> =
            g.g.edges_directed(i, Direction::Outgoing)
                .filter(|e| !boring_mapping(g, e.weight().relation, e.target()))
                .map(|e| e.target())
                .chain(
                    g.g.edges_directed(i, Direction::Incoming)
                        .filter(|e| !boring_mapping(g, e.weight().relation, e.source()))
                        .map(|e| e.source()),
                )
                .filter(|n| !is_finding(*n) && !seen.contains(n))
                .collect();
        next.sort_by_key(|n| rank(g, *n));
        next.dedup();
        for n in next {
            let unjudged = g
                .node_at(n)
                .is_none_or(|x| x.verdict == NodeVerdict::Unjudged);
            if unjudged && g.degree(n) > HUB_DEGREE {
                continue;
            }
            seen.insert(n);
            if included.len() < max_nodes {
                included.push(n);
                queue.push_back((n, depth + 1));
            } else {
                omitted += 1;
            }
        }
    }
    let set: HashSet<NodeIndex> = included.iter().copied().collect();
    let mut edges: Vec<EdgeIndex> =
        g.g.edge_indices()
            .filter(|e| {
                g.g.edge_endpoints(*e)
                    .is_some_and(|(s, t)| set.contains(&s) && set.contains(&t))
                    && g.g
                        .edge_weight(*e)
                        .is_some_and(|w| w.relation != Relation::Concerns)
            })
            .collect();
    let order = g.sorted_edges();
    let pos: std::collections::HashMap<EdgeIndex, usize> =
        order.iter().enumerate().map(|(k, e)| (*e, k)).collect();
    edges.sort_by_key(|e| pos.get(e).copied().unwrap_or(usize::MAX));
    View {
        nodes: included,
        edges,
        omitted,
    }
}
