//! `graph.json`: the full attack-trace graph in Cytoscape.js `elements` format
//! (`{"elements":{"nodes":[{"data":{id,label,type,...},"classes":...}],"edges":[{"data":{id,source,target,
//! relation,level,confidence,...}}]}}`), which networkx's `cytoscape_graph` also reads. Top-level `data`
//! carries the schema name, the entry point, the kill chain and the ids of the default (report) view.
//! Strings are escaped host text; serde does the JSON escaping.

use std::io::Write;

use anyhow::Result;
use petgraph::graph::EdgeIndex;
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::graph::{AttackGraph, Node, Trace};

/// Value of `data.schema`.
pub const GRAPH_SCHEMA: &str = "minetrace.graph/1";

/// The document as a JSON value (tests read it; [`write`] streams the same document without building it).
pub fn document(trace: &Trace) -> Value {
    serde_json::to_value(Document::of(trace)).unwrap_or(Value::Null)
}

pub fn write(trace: &Trace, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Document::of(trace))?;
    writeln!(out)?;
    Ok(())
}

/// The whole document. Fields are in key order, as a JSON map would be; the node and edge lists are
/// made one element at a time while they are written, so a graph of tens of thousands of elements is
/// never held as a JSON tree (issue 18 case 7: a shaped 50,000-line crontab).
#[derive(Serialize)]
struct Document<'t, 'a> {
    data: Value,
    elements: Elements<'t, 'a>,
    format_version: &'static str,
    generated_by: &'static str,
    target_cytoscapejs_version: &'static str,
}

#[derive(Serialize)]
struct Elements<'t, 'a> {
    edges: Edges<'t, 'a>,
    nodes: Nodes<'t, 'a>,
}

struct Nodes<'t, 'a>(&'t Trace<'a>);
struct Edges<'t, 'a>(&'t Trace<'a>);

impl Serialize for Nodes<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let g = &self.0.graph;
        s.collect_seq(
            g.sorted_nodes()
                .into_iter()
                .filter_map(|i| g.node_at(i).map(node)),
        )
    }
}

impl Serialize for Edges<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let g = &self.0.graph;
        s.collect_seq(
            g.sorted_edges()
                .into_iter()
                .enumerate()
                .filter_map(|(k, e)| edge(g, k, e)),
        )
    }
}

impl<'t, 'a> Document<'t, 'a> {
    fn of(trace: &'t Trace<'a>) -> Document<'t, 'a> {
        Document {
            data: data(trace),
            elements: Elements {
                edges: Edges(trace),
                nodes: Nodes(trace),
            },
            format_version: "1.0",
            generated_by: "minetrace",
            target_cytoscapejs_version: "~3",
        }
    }
}

fn node(n: &Node) -> Value {
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
    json!({
        "data": data,
        "classes": format!("{} {} {}", n.kind.name(), n.verdict.name(), n.stage.name()),
    })
}

fn edge(g: &AttackGraph, k: usize, e: EdgeIndex) -> Option<Value> {
    let (Some((s, t)), Some(w)) = (g.g.edge_endpoints(e), g.g.edge_weight(e)) else {
        return None;
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
    Some(json!({"data": data, "classes": format!("{} {}", w.relation.name(), w.level.name())}))
}

/// The top-level `data`: schema, entry point, kill chain, the report's view (small).
fn data(trace: &Trace) -> Value {
    let g = &trace.graph;
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
        "schema": GRAPH_SCHEMA,
        "entry_point": if entry.is_empty() { json!("none") } else { json!(entry) },
        "entry_nodes": trace.entry.nodes,
        "kill_chain": chain,
        "view": view,
        "view_omitted": trace.view.omitted,
        "truncated": g.truncated(),
        "dropped_nodes": g.dropped_nodes,
        "dropped_edges": g.dropped_edges,
    })
}
