//! `graph.dot`: the findings' neighbourhood for Graphviz (`dot -Tsvg graph.dot`), left to right in
//! kill-chain order (one rank per stage), node shape by kind, fill by verdict, line style by level.
//!
//! Node names are synthetic (`n0`, `n1`, ...); every host-derived string is a double-quoted string
//! escaped by [`escape::dot`]. HTML-like labels (`<...>`) are never used. The full graph is `graph.json`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;

use crate::graph::nodes::{Level, NodeKind, Stage};
use crate::graph::Trace;
use crate::output::escape;

pub fn shape(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Process => "box",
        NodeKind::File => "note",
        NodeKind::Endpoint => "ellipse",
        NodeKind::Domain => "oval",
        NodeKind::Url => "parallelogram",
        NodeKind::User => "house",
        NodeKind::SshKey => "invtrapezium",
        NodeKind::Persistence => "hexagon",
        NodeKind::Wallet => "doubleoctagon",
        NodeKind::FirewallRule => "octagon",
        NodeKind::KernelModule => "component",
        NodeKind::Finding => "diamond",
    }
}

pub fn line_style(level: Level) -> &'static str {
    match level {
        Level::Observed => "solid",
        Level::Parsed => "dashed",
        Level::Suspected => "dotted",
    }
}

pub fn write(trace: &Trace, out: &mut dyn Write) -> Result<()> {
    let g = &trace.graph;
    let view = &trace.view;
    writeln!(out, "// minetrace attack-trace graph: the findings' neighbourhood ({} nodes, {} edges, {} omitted).", view.nodes.len(), view.edges.len(), view.omitted)?;
    writeln!(out, "// The full graph ({} nodes, {} edges) is graph.json. Render: dot -Tsvg graph.dot > graph.svg", g.node_count(), g.edge_count())?;
    writeln!(out, "digraph minetrace {{")?;
    writeln!(out, "  graph [rankdir=LR, newrank=true, nodesep=0.3, ranksep=1.1, fontname=\"Helvetica\", label=\"{}\", labelloc=t];", escape::dot(&format!("entry point: {}", trace.entry.summary())))?;
    writeln!(
        out,
        "  node [style=filled, fontname=\"Helvetica\", fontsize=10];"
    )?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=8];")?;
    // Stage headers, chained so the stages stay in order left to right.
    for s in Stage::ALL {
        writeln!(
            out,
            "  s{} [shape=plaintext, style=\"\", fontsize=14, label=\"{}\"];",
            s.column(),
            escape::dot(s.title())
        )?;
    }
    writeln!(
        out,
        "  s0 -> s1 -> s2 -> s3 -> s4 [style=invis, weight=100];"
    )?;
    // Ids by view order (seeds first) are stable because the view is built in a deterministic order.
    let mut order = view.nodes.clone();
    order.sort_by(|a, b| g.id_of(*a).cmp(g.id_of(*b)));
    let names: HashMap<_, String> = order
        .iter()
        .enumerate()
        .map(|(k, i)| (*i, format!("n{k}")))
        .collect();
    for s in Stage::ALL {
        let members: Vec<_> = order
            .iter()
            .filter(|i| g.node_at(**i).is_some_and(|n| n.stage == s))
            .collect();
        if members.is_empty() {
            continue;
        }
        let list: Vec<&str> = members
            .iter()
            .filter_map(|i| names.get(*i).map(String::as_str))
            .collect();
        writeln!(
            out,
            "  {{ rank=same; s{}; {}; }}",
            s.column(),
            list.join("; ")
        )?;
    }
    for i in &order {
        let (Some(n), Some(name)) = (g.node_at(*i), names.get(i)) else {
            continue;
        };
        // The kind/label break is ours; host text inside the label cannot produce one.
        let label = escape::dot(n.kind.name()) + "\\n" + &escape::dot(&n.label);
        let findings: Vec<&str> = n.findings.iter().map(String::as_str).collect();
        let tooltip = if findings.is_empty() {
            n.id.clone()
        } else {
            format!("{} [{}]", n.id, findings.join(", "))
        };
        writeln!(
            out,
            "  {name} [shape={}, fillcolor=\"{}\", label=\"{label}\", tooltip=\"{}\"];",
            shape(n.kind),
            n.verdict.fill(),
            escape::dot(&tooltip)
        )?;
    }
    for e in &view.edges {
        let (Some((s, t)), Some(w)) = (g.g.edge_endpoints(*e), g.g.edge_weight(*e)) else {
            continue;
        };
        let (Some(sn), Some(tn)) = (names.get(&s), names.get(&t)) else {
            continue;
        };
        let label = match &w.attack {
            Some(a) => format!("{} {a}", w.relation.name()),
            None => w.relation.name().to_owned(),
        };
        // A label on an edge inside one rank can make dot's router give up ("triangulation failed",
        // the edge lost); an external label is placed after routing.
        let same_rank = g.node_at(s).map(|n| n.stage) == g.node_at(t).map(|n| n.stage);
        writeln!(
            out,
            "  {sn} -> {tn} [style={}, {}=\"{}\", tooltip=\"{}\"];",
            line_style(w.level),
            if same_rank { "xlabel" } else { "label" },
            escape::dot(&label),
            escape::dot(&format!(
                "{} ({}, {}): {}",
                w.rule,
                w.level.name(),
                w.confidence(),
                w.evidence.join(" | ")
            ))
        )?;
    }
    writeln!(out, "}}")?;
    Ok(())
}
