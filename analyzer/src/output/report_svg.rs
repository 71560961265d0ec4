//! The inline SVG drawing of the findings' neighbourhood for `report.html`: five columns in kill-chain
//! order (entry, execution, persistence, defence evasion, C2/mining), node shape by kind, fill by
//! verdict, line style by edge level (solid observed, dashed parsed, dotted suspected). Within a column,
//! nodes are ordered by the mean position of their neighbours (two barycenter sweeps) to cut crossings.
//! No script: full ids and evidence are in `<title>` tooltips. All text passes [`escape::html`].

use std::collections::HashMap;
use std::fmt::Write as _;

use petgraph::graph::NodeIndex;

use crate::graph::nodes::{Edge, Level, Node, NodeKind, NodeVerdict, Stage};
use crate::graph::Trace;
use crate::output::escape;

const NODE_W: f64 = 200.0;
const NODE_H: f64 = 44.0;
const ROW_H: f64 = 66.0;
const SUB_COL_W: f64 = 240.0;
const STAGE_GAP: f64 = 70.0;
const TOP: f64 = 50.0;
const LEFT: f64 = 20.0;
/// Rows in a column before it wraps into another sub-column.
const MAX_ROWS: usize = 10;
/// Label characters that fit in a node at the font size used.
const LABEL_CHARS: usize = 30;
/// Width of one character of an edge label (9 px sans-serif), rounded up.
const ELABEL_CHAR_W: f64 = 5.5;

struct Placed {
    x: f64,
    y: f64,
}

fn clip(text: &str, max: usize) -> String {
    crate::graph::nodes::short(text, max)
}

/// Node outline for a kind, inside the box (x, y, w, h).
fn shape(
    kind: NodeKind,
    (x, y, w, h): (f64, f64, f64, f64),
    fill: &str,
    stroke: &str,
    sw: f64,
) -> String {
    let style = format!("fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{sw}\"");
    let (r, b, cy, cx) = (x + w, y + h, y + h / 2.0, x + w / 2.0);
    match kind {
        NodeKind::Process => format!("<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\" {style}/>"),
        NodeKind::File => format!(
            "<path d=\"M{x},{y} H{} L{r},{} V{b} H{x} Z M{},{y} V{} H{r}\" {style}/>",
            r - 12.0,
            y + 12.0,
            r - 12.0,
            y + 12.0
        ),
        NodeKind::Endpoint => format!("<ellipse cx=\"{cx}\" cy=\"{cy}\" rx=\"{}\" ry=\"{}\" {style}/>", w / 2.0, h / 2.0),
        NodeKind::Domain => format!("<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{}\" {style}/>", h / 2.0),
        NodeKind::Url => format!("<path d=\"M{},{y} H{r} L{},{b} H{x} Z\" {style}/>", x + 12.0, r - 12.0),
        NodeKind::User => format!("<path d=\"M{cx},{y} L{r},{} V{b} H{x} V{} Z\" {style}/>", y + 12.0, y + 12.0),
        NodeKind::SshKey => format!("<path d=\"M{x},{y} H{r} L{},{b} H{} Z\" {style}/>", r - 14.0, x + 14.0),
        NodeKind::Persistence => format!(
            "<path d=\"M{},{y} H{} L{r},{cy} L{},{b} H{} L{x},{cy} Z\" {style}/>",
            x + 14.0,
            r - 14.0,
            r - 14.0,
            x + 14.0
        ),
        NodeKind::Wallet | NodeKind::FirewallRule | NodeKind::Finding => format!(
            "<path d=\"M{},{y} H{} L{r},{} V{} L{},{b} H{} L{x},{} V{} Z\" {style}/>",
            x + 10.0,
            r - 10.0,
            y + 10.0,
            b - 10.0,
            r - 10.0,
            x + 10.0,
            b - 10.0,
            y + 10.0
        ),
        NodeKind::KernelModule => format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" {style}/><rect x=\"{}\" y=\"{}\" width=\"12\" height=\"6\" {style}/><rect x=\"{}\" y=\"{}\" width=\"12\" height=\"6\" {style}/>",
            x - 6.0,
            y + 8.0,
            x - 6.0,
            b - 14.0
        ),
    }
}

fn dash(level: Level) -> &'static str {
    match level {
        Level::Observed => "",
        Level::Parsed => " stroke-dasharray=\"7 4\"",
        Level::Suspected => " stroke-dasharray=\"2 4\"",
    }
}

/// Column order: barycenter sweeps over the neighbours' positions.
fn order_columns(trace: &Trace) -> Vec<Vec<NodeIndex>> {
    let g = &trace.graph;
    let mut cols: Vec<Vec<NodeIndex>> = vec![Vec::new(); Stage::ALL.len()];
    for i in &trace.view.nodes {
        if let Some(n) = g.node_at(*i) {
            if let Some(c) = cols.get_mut(n.stage.column()) {
                c.push(*i);
            }
        }
    }
    for c in &mut cols {
        c.sort_by(|a, b| {
            let (na, nb) = (g.node_at(*a), g.node_at(*b));
            let va = na.map_or(NodeVerdict::Unjudged, |n| n.verdict);
            let vb = nb.map_or(NodeVerdict::Unjudged, |n| n.verdict);
            vb.cmp(&va)
                .then(na.map(|n| n.kind).cmp(&nb.map(|n| n.kind)))
                .then(g.id_of(*a).cmp(g.id_of(*b)))
        });
    }
    let neighbours: HashMap<NodeIndex, Vec<NodeIndex>> = {
        let mut m: HashMap<NodeIndex, Vec<NodeIndex>> = HashMap::new();
        for e in &trace.view.edges {
            if let Some((s, t)) = g.g.edge_endpoints(*e) {
                m.entry(s).or_default().push(t);
                m.entry(t).or_default().push(s);
            }
        }
        m
    };
    for _ in 0..2 {
        let pos: HashMap<NodeIndex, f64> = cols
            .iter()
            .flat_map(|c| c.iter().enumerate().map(|(k, i)| (*i, k as f64)))
            .collect();
        for c in &mut cols {
            let mut keyed: Vec<(f64, usize, NodeIndex)> = c
                .iter()
                .enumerate()
                .map(|(k, i)| {
                    let ns: Vec<f64> = neighbours
                        .get(i)
                        .into_iter()
                        .flatten()
                        .filter_map(|n| pos.get(n).copied())
                        .collect();
                    let bary = if ns.is_empty() {
                        k as f64
                    } else {
                        ns.iter().sum::<f64>() / ns.len() as f64
                    };
                    (bary, k, *i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *c = keyed.into_iter().map(|(_, _, i)| i).collect();
        }
    }
    cols
}

/// Where each column's nodes sit: the placements, the stage headers, the right end of the last column
/// and the most rows any column has.
struct Layout {
    placed: HashMap<NodeIndex, Placed>,
    headers: String,
    right: f64,
    max_rows: usize,
}

/// Places the columns left to right, each stage's nodes in sub-columns of at most [`MAX_ROWS`].
fn layout(cols: &[Vec<NodeIndex>]) -> Layout {
    let mut placed: HashMap<NodeIndex, Placed> = HashMap::new();
    let mut x = LEFT;
    let mut headers = String::new();
    let mut max_rows = 1usize;
    for (stage, col) in Stage::ALL.iter().zip(cols) {
        let subcols = col.len().div_ceil(MAX_ROWS).max(1);
        let width = subcols as f64 * SUB_COL_W - (SUB_COL_W - NODE_W);
        let _ = write!(
            headers,
            "<text class=\"stage\" x=\"{}\" y=\"24\" text-anchor=\"middle\">{}</text><line x1=\"{}\" y1=\"32\" x2=\"{}\" y2=\"32\" class=\"stage-rule\"/>",
            x + width / 2.0,
            escape::html(stage.title()),
            x,
            x + width
        );
        for (k, i) in col.iter().enumerate() {
            let sub = k / MAX_ROWS;
            let row = k % MAX_ROWS;
            max_rows = max_rows.max(row + 1);
            placed.insert(
                *i,
                Placed {
                    x: x + sub as f64 * SUB_COL_W,
                    y: TOP + row as f64 * ROW_H,
                },
            );
        }
        x += width + STAGE_GAP;
    }
    Layout {
        placed,
        headers,
        right: x - STAGE_GAP,
        max_rows,
    }
}

/// The `<svg>` element, or `None` when the view is empty.
pub fn render(trace: &Trace) -> Option<String> {
    let g = &trace.graph;
    if trace.view.is_empty() {
        return None;
    }
    let cols = order_columns(trace);
    let Layout {
        placed,
        headers,
        // The canvas reaches the rightmost thing drawn: the last column, or a loop (and its label)
        // bulging out of it.
        mut right,
        max_rows,
    } = layout(&cols);
    let height = TOP + max_rows as f64 * ROW_H + 10.0;
    let mut edges = String::new();
    for e in &trace.view.edges {
        let (Some((a, b)), Some(w)) = (g.g.edge_endpoints(*e), g.g.edge_weight(*e)) else {
            continue;
        };
        let (Some(pa), Some(pb)) = (placed.get(&a), placed.get(&b)) else {
            continue;
        };
        let tip = format!(
            "{} -> {}: {} ({}, confidence {}, rule {})\n{}",
            g.id_of(a),
            g.id_of(b),
            w.relation.name(),
            w.level.name(),
            w.confidence(),
            w.rule,
            w.evidence.join("\n")
        );
        edges.push_str(&edge(w, &tip, pa, pb, &mut right));
    }
    let width = right + LEFT;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" width=\"100%\" viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"xMinYMin meet\" style=\"min-width:{}px\" role=\"img\" aria-label=\"attack-trace graph\">",
        (width * 0.6).round()
    );
    s.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>");
    s.push_str(&headers);
    // Edges under nodes.
    s.push_str("<g class=\"edges\">");
    s.push_str(&edges);
    s.push_str("</g><g class=\"nodes\">");
    for i in &trace.view.nodes {
        if let (Some(n), Some(p)) = (g.node_at(*i), placed.get(i)) {
            s.push_str(&node(n, p));
        }
    }
    s.push_str("</g></svg>");
    Some(s)
}

/// One edge from `pa` to `pb`, with its label and its tooltip `tip`; widens `right` to what it draws.
fn edge(w: &Edge, tip: &str, pa: &Placed, pb: &Placed, right: &mut f64) -> String {
    let (ay, by) = (pa.y + NODE_H / 2.0, pb.y + NODE_H / 2.0);
    let label = match &w.attack {
        Some(att) => format!("{} {att}", w.relation.name()),
        None => w.relation.name().to_owned(),
    };
    // Half the label's width at the edge-label font size, with room to spare.
    let half_label = label.chars().count() as f64 * ELABEL_CHAR_W / 2.0;
    let mut label_at = ((pa.x + pb.x + NODE_W) / 2.0, (ay + by) / 2.0 - 3.0);
    let path = if (pa.x - pb.x).abs() < 1.0 {
        // Same sub-column: a loop out to the right, labelled at its outermost point.
        let xr = pa.x + NODE_W;
        let bulge = xr + 30.0 + (ay - by).abs() * 0.15;
        // A cubic with both control points at `bulge` reaches 3/4 of the way out.
        let outmost = xr + (bulge - xr) * 0.75;
        label_at = (outmost + half_label + 2.0, (ay + by) / 2.0 + 3.0);
        *right = right.max(bulge);
        format!("M{xr},{ay} C{bulge},{ay} {bulge},{by} {xr},{by}")
    } else if pb.x > pa.x {
        let (x1, x2) = (pa.x + NODE_W, pb.x);
        let mid = (x1 + x2) / 2.0;
        format!("M{x1},{ay} C{mid},{ay} {mid},{by} {x2},{by}")
    } else {
        let (x1, x2) = (pa.x, pb.x + NODE_W);
        let mid = (x1 + x2) / 2.0;
        format!("M{x1},{ay} C{mid},{ay} {mid},{by} {x2},{by}")
    };
    *right = right.max(label_at.0 + half_label);
    let (lx, ly) = label_at;
    format!(
        "<g class=\"edge {}\"><title>{}</title><path d=\"{path}\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.3\"{} marker-end=\"url(#arrow)\"/><text x=\"{lx}\" y=\"{ly}\" class=\"elabel\" text-anchor=\"middle\">{}</text></g>",
        w.level.name(),
        escape::html(tip),
        dash(w.level),
        escape::html(&label)
    )
}

/// One node at `p`: its shape by kind, its outline by verdict, its kind and label, and a tooltip with
/// its attributes and findings.
fn node(n: &Node, p: &Placed) -> String {
    let (stroke, sw) = match n.verdict {
        NodeVerdict::Malicious => ("#a50e0e", 2.2),
        NodeVerdict::Suspicious => ("#b06000", 1.8),
        _ => ("#555", 1.0),
    };
    let mut tip = format!("{}\n{} ({})", n.id, n.label, n.verdict.name());
    for (k, v) in &n.attrs {
        let _ = write!(tip, "\n{k}: {v}");
    }
    if !n.findings.is_empty() {
        let _ = write!(
            tip,
            "\nfindings: {}",
            n.findings.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let sub = if n.findings.is_empty() {
        n.kind.name().to_owned()
    } else {
        format!(
            "{} - {}",
            n.kind.name(),
            n.findings.iter().next().cloned().unwrap_or_default()
        )
    };
    format!(
        "<g class=\"node {} {}\"><title>{}</title>{}<text x=\"{}\" y=\"{}\" class=\"kind\" text-anchor=\"middle\">{}</text><text x=\"{}\" y=\"{}\" class=\"nlabel\" text-anchor=\"middle\">{}</text></g>",
        n.kind.name(),
        n.verdict.name(),
        escape::html(&tip),
        shape(n.kind, (p.x, p.y, NODE_W, NODE_H), n.verdict.fill(), stroke, sw),
        p.x + NODE_W / 2.0,
        p.y + 16.0,
        escape::html(&clip(&sub, LABEL_CHARS + 4)),
        p.x + NODE_W / 2.0,
        p.y + 33.0,
        escape::html(&clip(&n.label, LABEL_CHARS))
    )
}

/// The legend: shapes, fills and line styles.
pub fn legend() -> String {
    let kinds = [
        NodeKind::Process,
        NodeKind::File,
        NodeKind::Endpoint,
        NodeKind::Domain,
        NodeKind::Url,
        NodeKind::User,
        NodeKind::SshKey,
        NodeKind::Persistence,
        NodeKind::Wallet,
        NodeKind::KernelModule,
    ];
    let mut s = String::from("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"legend\" width=\"1180\" height=\"92\" viewBox=\"0 0 1180 92\">");
    for (k, kind) in kinds.iter().enumerate() {
        let x = 10.0 + k as f64 * 116.0;
        s.push_str(&shape(*kind, (x, 4.0, 100.0, 26.0), "#ffffff", "#555", 1.0));
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"21\" text-anchor=\"middle\" class=\"kind\">{}</text>",
            x + 50.0,
            escape::html(kind.name())
        );
    }
    let verdicts = [
        NodeVerdict::Malicious,
        NodeVerdict::Suspicious,
        NodeVerdict::Noted,
        NodeVerdict::Unjudged,
    ];
    for (k, v) in verdicts.iter().enumerate() {
        let x = 10.0 + k as f64 * 130.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"44\" width=\"20\" height=\"14\" fill=\"{}\" stroke=\"#555\"/><text x=\"{}\" y=\"55\" class=\"kind\">{}</text>",
            v.fill(),
            x + 26.0,
            escape::html(v.name())
        );
    }
    for (k, (level, what)) in [
        (Level::Observed, "observed (kernel/fs fact)"),
        (Level::Parsed, "parsed (attacker text)"),
        (Level::Suspected, "suspected (heuristic)"),
    ]
    .iter()
    .enumerate()
    {
        let x = 540.0 + k as f64 * 210.0;
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"51\" x2=\"{}\" y2=\"51\" stroke=\"#444\" stroke-width=\"1.5\"{}/><text x=\"{}\" y=\"55\" class=\"kind\">{}</text>",
            x + 40.0,
            dash(*level),
            x + 46.0,
            escape::html(what)
        );
    }
    s.push_str("<text x=\"10\" y=\"84\" class=\"kind\">Hover a node or an edge for its id, attributes, rule and evidence. Columns are kill-chain stages, left to right.</text></svg>");
    s
}
