//! The attack-trace graph (issue 7), built from the model and the findings, read by every output.
//!
//! Nodes are processes, files, endpoints, domains, URLs, accounts, ssh keys, persistence entries, wallets
//! and findings, under the deterministic ids of [`nodes`]. Every edge carries a [`nodes::Level`]
//! (`observed` / `parsed` / `suspected`), the rule that made it and its evidence.
//!
//! One module per concern: [`nodes`] (vocabulary and ids), [`build`] (order of the passes and the caps),
//! [`ctx`] (the lookups the passes share),
//! one module per edge family ([`processes`], [`network`], [`persistence`], [`ssh`], [`findings`]),
//! [`accounts`] (user nodes from the model's accounts),
//! [`view`] (the findings' neighbourhood), [`entry_point`], [`kill_chain`] and [`timeline`].
//! A new edge family is a new module called from [`build::build`].

pub mod accounts;
pub mod build;
pub mod ctx;
pub mod entry_point;
pub mod findings;
pub mod incidents;
pub mod kill_chain;
pub mod network;
pub mod nodes;
pub mod persistence;
pub mod processes;
pub mod ssh;

pub mod timeline;
pub mod view;

use std::collections::{HashMap, HashSet};

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::analysis::Analysis;

pub use nodes::{Edge, Level, Node, NodeKind, NodeVerdict, Relation, Stage};

/// Most nodes kept from host data; a shaped bundle cannot make the graph unbounded.
pub const MAX_NODES: usize = 20_000;
/// Most edges kept from host data.
pub const MAX_EDGES: usize = 100_000;
/// Room kept above the caps for finding nodes and their subjects, so a finding is never dropped.
pub const FINDINGS_RESERVE: usize = 5_000;

/// The graph with its id index and what the caps dropped.
pub struct AttackGraph {
    pub g: DiGraph<Node, Edge>,
    index: HashMap<String, NodeIndex>,
    edge_keys: HashSet<(NodeIndex, NodeIndex, Relation)>,
    pub dropped_nodes: usize,
    pub dropped_edges: usize,
    /// The node of subject `j` of finding `i` (document order): how the remediation planner finds what
    /// the graph knows about a subject (its observed and parsed edges).
    pub subject_nodes: HashMap<(usize, usize), NodeIndex>,
}

/// Whether an addition may use the room reserved for findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Host,
    Findings,
}

impl Default for AttackGraph {
    fn default() -> Self {
        AttackGraph::new()
    }
}

impl AttackGraph {
    pub fn new() -> AttackGraph {
        AttackGraph {
            g: DiGraph::new(),
            index: HashMap::new(),
            edge_keys: HashSet::new(),
            dropped_nodes: 0,
            dropped_edges: 0,
            subject_nodes: HashMap::new(),
        }
    }

    pub fn index_of(&self, id: &str) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index_of(id).and_then(|i| self.g.node_weight(i))
    }

    pub fn node_at(&self, i: NodeIndex) -> Option<&Node> {
        self.g.node_weight(i)
    }

    pub fn node_at_mut(&mut self, i: NodeIndex) -> Option<&mut Node> {
        self.g.node_weight_mut(i)
    }

    pub fn node_count(&self) -> usize {
        self.g.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.g.edge_count()
    }

    pub fn truncated(&self) -> bool {
        self.dropped_nodes > 0 || self.dropped_edges > 0
    }

    /// Adds a node, or returns the existing one with the same id (the first writer's attributes win,
    /// later writers' missing attributes are filled in). `None` when the cap is reached.
    pub fn add_node(&mut self, node: Node, budget: Budget) -> Option<NodeIndex> {
        if let Some(&i) = self.index.get(&node.id) {
            if let Some(existing) = self.g.node_weight_mut(i) {
                for (k, v) in node.attrs {
                    existing.attrs.entry(k).or_insert(v);
                }
                if existing.raw_hex.is_none() && node.raw_hex.is_some() {
                    existing.raw_hex = node.raw_hex;
                    existing.label = node.label;
                }
            }
            return Some(i);
        }
        let cap = match budget {
            Budget::Host => MAX_NODES,
            Budget::Findings => MAX_NODES + FINDINGS_RESERVE,
        };
        if self.g.node_count() >= cap {
            self.dropped_nodes += 1;
            return None;
        }
        let id = node.id.clone();
        let i = self.g.add_node(node);
        self.index.insert(id, i);
        Some(i)
    }

    /// Adds an edge unless the same relation already joins the two nodes (then the evidence is merged).
    pub fn add_edge(&mut self, from: NodeIndex, to: NodeIndex, edge: Edge, budget: Budget) -> bool {
        if from == to {
            return false;
        }
        let key = (from, to, edge.relation);
        if self.edge_keys.contains(&key) {
            let found = self
                .g
                .edges_connecting(from, to)
                .find(|r| r.weight().relation == edge.relation)
                .map(|r| r.id());
            if let Some(e) = found {
                if let Some(w) = self.g.edge_weight_mut(e) {
                    // Keep the strongest level; merge a bounded amount of evidence.
                    if edge.level < w.level {
                        w.level = edge.level;
                        w.rule = edge.rule;
                    }
                    for line in edge.evidence {
                        if w.evidence.len() < 8 && !w.evidence.contains(&line) {
                            w.evidence.push(line);
                        }
                    }
                }
            }
            return false;
        }
        let cap = match budget {
            Budget::Host => MAX_EDGES,
            Budget::Findings => MAX_EDGES + FINDINGS_RESERVE,
        };
        if self.g.edge_count() >= cap {
            self.dropped_edges += 1;
            return false;
        }
        self.edge_keys.insert(key);
        self.g.add_edge(from, to, edge);
        true
    }

    /// Node indices sorted by id: every output iterates in this order, so outputs are deterministic.
    pub fn sorted_nodes(&self) -> Vec<NodeIndex> {
        let mut v: Vec<NodeIndex> = self.g.node_indices().collect();
        v.sort_by(|a, b| self.id_of(*a).cmp(self.id_of(*b)));
        v
    }

    /// Edge indices sorted by (source id, target id, relation).
    pub fn sorted_edges(&self) -> Vec<EdgeIndex> {
        let mut v: Vec<EdgeIndex> = self.g.edge_indices().collect();
        v.sort_by(|a, b| self.edge_key(*a).cmp(&self.edge_key(*b)));
        v
    }

    fn edge_key(&self, e: EdgeIndex) -> (&str, &str, Relation) {
        match (self.g.edge_endpoints(e), self.g.edge_weight(e)) {
            (Some((s, t)), Some(w)) => (self.id_of(s), self.id_of(t), w.relation),
            _ => ("", "", Relation::Concerns),
        }
    }

    pub fn id_of(&self, i: NodeIndex) -> &str {
        self.g.node_weight(i).map(|n| n.id.as_str()).unwrap_or("")
    }

    /// Number of edges touching a node, both directions.
    pub fn degree(&self, i: NodeIndex) -> usize {
        self.g
            .edges_directed(i, petgraph::Direction::Outgoing)
            .count()
            + self
                .g
                .edges_directed(i, petgraph::Direction::Incoming)
                .count()
    }
}

/// Everything the outputs draw from one analysis: the graph, its neighbourhood view, the inferred entry
/// point and kill chain, and the timeline. Built once in `write_outputs`.
pub struct Trace<'a> {
    pub graph: AttackGraph,
    pub view: view::View,
    pub entry: entry_point::EntryPoint,
    pub chain: kill_chain::KillChain,
    pub timeline: Vec<timeline::Event<'a>>,
    /// Timeline events the caps dropped.
    pub timeline_dropped: usize,
}

impl<'a> Trace<'a> {
    pub fn of(analysis: &'a Analysis) -> Trace<'a> {
        let auth = &analysis.model.auth;
        let mut graph = build::build(analysis);
        let entry = entry_point::mark(analysis, &mut graph);
        let view = view::neighbourhood(&graph, &entry, view::DEFAULT_HOPS, view::DEFAULT_MAX_NODES);
        let chain = kill_chain::summarize(&graph, &view, &entry);
        let (timeline, timeline_dropped) = timeline::build(&analysis.model, &graph, auth);
        Trace {
            graph,
            view,
            entry,
            chain,
            timeline,
            timeline_dropped,
        }
    }
}
