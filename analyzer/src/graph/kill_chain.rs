//! The kill chain in five columns (entry → execution → persistence → defence evasion → C2/mining): what
//! the neighbourhood holds in each stage: nodes medium-or-worse findings are about, and the entry point. A stage with nothing in it says so.

use crate::graph::entry_point::EntryPoint;
use crate::graph::nodes::{NodeKind, NodeVerdict, Stage};
use crate::graph::view::View;
use crate::graph::AttackGraph;

/// Items listed per stage.
const ITEMS_PER_STAGE: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainItem {
    pub node: String,
    pub kind: NodeKind,
    pub label: String,
    pub verdict: NodeVerdict,
    /// Rule ids of the findings about it, or why it is here.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageItems {
    pub stage: Stage,
    pub items: Vec<ChainItem>,
    /// Items of this stage that did not fit.
    pub more: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillChain {
    pub stages: Vec<StageItems>,
}

impl KillChain {
    /// One line: `entry: X -> execution: Y -> ...`, `?` for empty stages.
    pub fn line(&self) -> String {
        self.stages
            .iter()
            .map(|s| {
                let first = s.items.first().map_or("?".to_owned(), |i| i.label.clone());
                format!("{}: {first}", s.stage.title())
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

pub fn summarize(g: &AttackGraph, view: &View, entry: &EntryPoint) -> KillChain {
    let entry_nodes: Vec<&str> = entry.nodes.iter().map(String::as_str).collect();
    let mut stages = Vec::new();
    for stage in Stage::ALL {
        let mut items: Vec<ChainItem> = view
            .nodes
            .iter()
            .filter_map(|i| g.node_at(*i))
            .filter(|n| n.stage == stage)
            .filter(|n| {
                n.verdict >= NodeVerdict::Suspicious || entry_nodes.contains(&n.id.as_str())
            })
            .map(|n| ChainItem {
                node: n.id.clone(),
                kind: n.kind,
                label: n.label.clone(),
                verdict: n.verdict,
                why: if n.findings.is_empty() {
                    "entry point".into()
                } else {
                    n.findings.iter().cloned().collect::<Vec<_>>().join(", ")
                },
            })
            .collect();
        items.sort_by(|a, b| {
            let a_entry = entry_nodes.contains(&a.node.as_str());
            let b_entry = entry_nodes.contains(&b.node.as_str());
            b_entry
                .cmp(&a_entry)
                .then(b.verdict.cmp(&a.verdict))
                .then(a.node.cmp(&b.node))
        });
        let more = items.len().saturating_sub(ITEMS_PER_STAGE);
        items.truncate(ITEMS_PER_STAGE);
        stages.push(StageItems { stage, items, more });
    }
    KillChain { stages }
}
