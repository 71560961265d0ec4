//! Where the chain starts, in the graph: the analysis's entry candidates (`findings.json`'s `entry`,
//! inferred once by [`crate::entry`] from the findings and the model's facts) placed on the graph. The
//! first candidate's subjects (the service process, the account logged into, the key, the log) move to
//! the entry column and carry `entry_point`; the view and the kill chain start from them. The graph
//! keeps no service list, threshold or judgement of its own.

use minetrace_schemas::findings::{EntryCandidate, EntryVector};

use crate::analysis::Analysis;
use crate::graph::ctx::Ctx;
use crate::graph::findings::subject_node;
use crate::graph::nodes::{NodeKind, Stage};
use crate::graph::AttackGraph;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPoint {
    /// Best first (the analysis's list).
    pub candidates: Vec<EntryCandidate>,
    /// Node ids of the first candidate's subjects (none when it is `unknown`).
    pub nodes: Vec<String>,
}

impl EntryPoint {
    pub fn best(&self) -> Option<&EntryCandidate> {
        self.candidates.first()
    }

    /// One sentence: the first candidate's, or that nothing is known.
    pub fn summary(&self) -> String {
        match self.best() {
            Some(c) => c.summary.clone(),
            None => "none: no intrusion to trace".into(),
        }
    }
}

/// Places the analysis's entry candidates on the graph.
pub fn mark(analysis: &Analysis, g: &mut AttackGraph) -> EntryPoint {
    let candidates = analysis.document.entry.clone();
    let mut nodes = Vec::new();
    if let Some(best) = candidates
        .first()
        .filter(|c| c.vector != EntryVector::Unknown)
    {
        let ctx = Ctx::new(analysis);
        for s in &best.subjects {
            let Some(i) = subject_node(&ctx, g, s) else {
                continue;
            };
            if let Some(n) = g.node_at_mut(i) {
                // A persistence entry keeps its column; services, accounts, keys and logs move.
                if n.kind != NodeKind::Persistence {
                    n.stage = Stage::Entry;
                }
                n.attrs
                    .insert("entry_point".into(), best.vector.name().into());
                if !nodes.contains(&n.id) {
                    nodes.push(n.id.clone());
                }
            }
        }
    }
    EntryPoint { candidates, nodes }
}
