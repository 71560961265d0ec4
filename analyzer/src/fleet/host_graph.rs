//! The fleet's host graph as inline SVG: collected hosts and the addresses they moved to or from,
//! laid out left to right by how many lateral steps lead to them (patient zero and other entry points
//! on the left), edges drawn as arrows. Clusters are marked by a coloured stripe on their hosts.
//! At most [`MAX_DRAWN`] nodes are drawn; the rest are counted under the picture.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use minetrace_schemas::findings::Verdict;
use minetrace_schemas::fleet::{EdgeLevel, FleetDocument};

use crate::output::escape;

/// Most nodes drawn.
pub const MAX_DRAWN: usize = 120;
const COL_W: usize = 250;
const ROW_H: usize = 54;
const BOX_W: usize = 200;
const BOX_H: usize = 38;
const STRIPES: [&str; 6] = [
    "#1a73e8", "#8e24aa", "#00897b", "#f4511e", "#6d4c41", "#3949ab",
];

/// Node columns: the longest chain of edges leading to each node (cycles cut after as many rounds as
/// there are nodes).
fn columns(nodes: &BTreeSet<&str>, edges: &[(&str, &str)]) -> BTreeMap<String, usize> {
    let mut col: BTreeMap<String, usize> = nodes.iter().map(|n| (n.to_string(), 0)).collect();
    for _ in 0..nodes.len().min(64) {
        let mut changed = false;
        for (f, t) in edges {
            let next = col.get(*f).copied().unwrap_or(0) + 1;
            if let Some(c) = col.get_mut(*t) {
                if next > *c && next < nodes.len() {
                    *c = next;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    col
}

pub fn svg(doc: &FleetDocument) -> String {
    let verdicts: BTreeMap<&str, Verdict> = doc
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.verdict))
        .collect();
    let mut cluster_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in doc.clusters.iter().enumerate() {
        for h in &c.hosts {
            cluster_of.entry(h.as_str()).or_insert(i);
        }
    }
    // Hosts in an edge or a cluster, compromised first; then addresses at the end of an edge.
    let mut wanted: Vec<&str> = Vec::new();
    let mut seen = BTreeSet::new();
    let in_edge: BTreeSet<&str> = doc
        .lateral
        .iter()
        .flat_map(|e| [e.from.as_str(), e.to.as_str()])
        .collect();
    let mut hosts: Vec<&str> = verdicts
        .keys()
        .copied()
        .filter(|n| in_edge.contains(n) || cluster_of.contains_key(n))
        .collect();
    hosts.sort_by_key(|n| (verdicts.get(n) != Some(&Verdict::Compromised), *n));
    for n in hosts.into_iter().chain(in_edge.iter().copied()) {
        if wanted.len() < MAX_DRAWN && seen.insert(n) {
            wanted.push(n);
        }
    }
    let nodes: BTreeSet<&str> = wanted.iter().copied().collect();
    let edges: Vec<(&str, &str, EdgeLevel)> = doc
        .lateral
        .iter()
        .filter(|e| nodes.contains(e.from.as_str()) && nodes.contains(e.to.as_str()))
        .map(|e| (e.from.as_str(), e.to.as_str(), e.level))
        .collect();
    let pairs: Vec<(&str, &str)> = edges.iter().map(|(f, t, _)| (*f, *t)).collect();
    let col = columns(&nodes, &pairs);
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut pos: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for n in &wanted {
        let c = col.get(*n).copied().unwrap_or(0);
        let r = rows.entry(c).or_insert(0);
        pos.insert(n, (20 + c * COL_W, 20 + *r * ROW_H));
        *r += 1;
    }
    let width = 40 + (rows.keys().max().copied().unwrap_or(0) + 1) * COL_W;
    let height = 40 + rows.values().max().copied().unwrap_or(1) * ROW_H;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
<defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#57606a\"/></marker></defs>"
    );
    for (f, t, level) in &edges {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (pos.get(f), pos.get(t)) else {
            continue;
        };
        let dash = match level {
            EdgeLevel::Observed => "",
            EdgeLevel::Parsed => " stroke-dasharray=\"6 3\"",
            EdgeLevel::Suspected => " stroke-dasharray=\"2 3\"",
        };
        let (x1, y1, x2, y2) = (fx + BOX_W, fy + BOX_H / 2, tx, ty + BOX_H / 2);
        let bend = if x2 <= x1 { 60 } else { 0 };
        let _ = write!(
            s,
            "<path d=\"M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}\" fill=\"none\" stroke=\"#57606a\" stroke-width=\"1.4\"{dash} marker-end=\"url(#arr)\"/>",
            x1 + 40 + bend,
            x2.saturating_sub(40 + bend)
        );
    }
    for n in &wanted {
        let Some(&(x, y)) = pos.get(n) else { continue };
        let (fill, stroke, kind) = match verdicts.get(n) {
            Some(Verdict::Compromised) => ("#f28b82", "#a50e0e", "compromised"),
            Some(Verdict::Suspicious) => ("#fbbc66", "#b06000", "suspicious"),
            Some(Verdict::Clean) => ("#ffffff", "#1e7f3b", "clean"),
            None => ("#eef1f4", "#8c959f", "not collected"),
        };
        let dash = if verdicts.contains_key(n) {
            ""
        } else {
            " stroke-dasharray=\"4 3\""
        };
        let _ = write!(
            s,
            "<g><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"{dash}/>",
        );
        if let Some(c) = cluster_of.get(n) {
            let colour = STRIPES.get(c % STRIPES.len()).copied().unwrap_or("#000");
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"7\" height=\"{BOX_H}\" fill=\"{colour}\"/>"
            );
        }
        let label: String = n.chars().take(26).collect();
        let cluster = cluster_of
            .get(n)
            .map(|c| format!(" &middot; cluster {}", c + 1))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<text class=\"nlabel\" x=\"{}\" y=\"{}\">{}</text><text class=\"kind\" x=\"{}\" y=\"{}\">{kind}{cluster}</text></g>",
            x + 12,
            y + 16,
            escape::html(&escape::visible(&label)),
            x + 12,
            y + 31
        );
    }
    s.push_str("</svg>");
    s
}

/// Nodes that would have been drawn but were not.
pub fn omitted(doc: &FleetDocument) -> usize {
    let mut all: BTreeSet<&str> = doc
        .lateral
        .iter()
        .flat_map(|e| [e.from.as_str(), e.to.as_str()])
        .collect();
    all.extend(
        doc.clusters
            .iter()
            .flat_map(|c| c.hosts.iter().map(String::as_str)),
    );
    all.len().saturating_sub(MAX_DRAWN)
}
