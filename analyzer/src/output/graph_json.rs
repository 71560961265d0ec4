//! `graph.json`: the full attack-trace graph in Cytoscape.js `elements` format
//! (`{"elements":{"nodes":[{"data":{id,label,type,...},"classes":...}],"edges":[{"data":{id,source,target,
//! relation,level,confidence,...}}]}}`), which networkx's `cytoscape_graph` also reads. Top-level `data`
//! carries the schema name, the entry point, the kill chain and the ids of the default (report) view.
//! Strings are escaped host text; serde does the JSON escaping.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::graph::Trace;

/// Value of `data.schema`.
pub const GRAPH_SCHEMA: &str = "minetrace.graph/1";

pub fn document(trace: &Trace) -> Value {
    let g = &trace.graph;
    let mut nodes = Vec::new();
    for i in g.sorted_nodes() {
        let Some(n) = g.node_at(i) else { continue };
        let mut data = Map::new();
        data.insert("id".into(), json!(n.id));
        data.insert("label".into(), json!(n.label));
        data.insert("type".into(), json!(n.kind.name()));
        data.insert("verdict".into(), json!(n.verdict.name()));
        data.insert("stage".into(), json!(n.stage.name()));
        if let Some(h) = &n.raw_hex {
            data.insert("raw_hex".into(), json!(h));
        }
        if !n.findings.is_empty() {
            data.insert("findings".into(), json!(n.findings));
        }
        if !n.attack.is_empty() {
            data.insert("attack".into(), json!(n.attack));
        }
        data.insert("attrs".into(), json!(n.attrs));
        nodes.push(json!({
            "data": data,
            "classes": format!("{} {} {}", n.kind.name(), n.verdict.name(), n.stage.name()),
        }));
    }
    let mut edges = Vec::new();
    for (k, e) in g.sorted_edges().into_iter().enumerate() {
        let (Some((s, t)), Some(w)) = (g.g.edge_endpoints(e), g.g.edge_weight(e)) else {
            continue;
        };
        let mut data = Map::new();
        data.insert("id".into(), json!(format!("e{k}")));
        data.insert("source".into(), json!(g.id_of(s)));
        data.insert("target".into(), json!(g.id_of(t)));
        data.insert("relation".into(), json!(w.relation.name()));
        data.insert("level".into(), json!(w.level.name()));
        data.insert("confidence".into(), json!(w.confidence()));
        data.insert("rule".into(), json!(w.rule));
        data.insert("evidence".into(), json!(w.evidence));
        if let Some(a) = &w.attack {
            data.insert("attack".into(), json!(a));
        }
        edges.push(
            json!({"data": data, "classes": format!("{} {}", w.relation.name(), w.level.name())}),
        );
    }
    let entry: Vec<Value> = trace
        .entry
        .candidates
        .iter()
        .map(|c| {
            json!({
                "vector": c.vector.name(),
                "service": c.service,
                "source": c.source,
                "summary": c.summary,
                "level": c.level.name(),
                "confidence": c.confidence,
                "evidence": c.evidence,
            })
        })
        .collect();
    let chain: Vec<Value> = trace
        .chain
        .stages
        .iter()
        .map(|s| {
            json!({
                "stage": s.stage.name(),
                "nodes": s.items.iter().map(|i| i.node.clone()).collect::<Vec<_>>(),
                "more": s.more,
            })
        })
        .collect();
    let view: Vec<&str> = trace.view.nodes.iter().map(|i| g.id_of(*i)).collect();
    json!({
        "format_version": "1.0",
        "generated_by": "minetrace",
        "target_cytoscapejs_version": "~3",
        "data": {
            "schema": GRAPH_SCHEMA,
            "entry_point": if entry.is_empty() { json!("none") } else { json!(entry) },
            "entry_nodes": trace.entry.nodes,
            "kill_chain": chain,
            "view": view,
            "view_omitted": trace.view.omitted,
            "truncated": g.truncated(),
            "dropped_nodes": g.dropped_nodes,
            "dropped_edges": g.dropped_edges,
        },
        "elements": {"nodes": nodes, "edges": edges},
    })
}

pub fn write(trace: &Trace, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(trace))?;
    writeln!(out)?;
    Ok(())
}
