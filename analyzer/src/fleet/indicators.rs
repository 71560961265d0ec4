//! The indicators a host contributes to the fleet, read from its attack-trace graph (built from the
//! model and the findings: nothing is parsed again here), and their weight.
//!
//! A host contributes what its findings tie to the compromise: files, SSH keys (and their comments)
//! that a finding at medium or above is about, and wallets, URLs, domains and endpoints that are such a
//! node or one edge of text or traffic away from one (a pool a flagged miner talks to, the URL a flagged
//! cron line downloads). A clean host contributes nothing: its admin keys and package binaries link
//! nobody.
//!
//! Weights follow what analysts cluster campaigns by: a wallet, an SSH key, a binary hash and a download
//! URL are specific to one operator (strong); pools, their domains and endpoints are shared by unrelated
//! campaigns, as are common key comments (weak). Only strong indicators join hosts into clusters.

use std::collections::{BTreeMap, BTreeSet};

use minetrace_schemas::fleet::{IndicatorKind, SharedIndicator, Weight};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::graph::nodes::{NodeKind, NodeVerdict, Relation};
use crate::graph::Trace;

/// SHA-256 of empty content: every host has empty files; they link nobody.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// One indicator of one host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// Escaped, as the graph holds it.
    pub value: String,
}

pub fn weight(kind: IndicatorKind) -> Weight {
    match kind {
        IndicatorKind::Wallet
        | IndicatorKind::SshKey
        | IndicatorKind::Sha256
        | IndicatorKind::Url => Weight::Strong,
        IndicatorKind::Domain | IndicatorKind::Endpoint | IndicatorKind::KeyComment => Weight::Weak,
    }
}

/// Relations along which a network name inherits the judgement of its neighbour.
fn carries_judgement(r: Relation) -> bool {
    matches!(
        r,
        Relation::References
            | Relation::HostedOn
            | Relation::ResolvedFrom
            | Relation::DownloadedTo
            | Relation::OwnsSocket
    )
}

/// The host's indicators.
pub fn of_trace(trace: &Trace) -> BTreeSet<Indicator> {
    let g = &trace.graph;
    let flagged = |v: NodeVerdict| v >= NodeVerdict::Suspicious;
    let mut out = BTreeSet::new();
    for i in g.g.node_indices() {
        let Some(n) = g.node_at(i) else { continue };
        let attr = |k: &str| n.attrs.get(k).filter(|v| !v.is_empty()).cloned();
        let mut push = |kind, value: Option<String>| {
            if let Some(value) = value {
                out.insert(Indicator { kind, value });
            }
        };
        match n.kind {
            NodeKind::File if flagged(n.verdict) => push(
                IndicatorKind::Sha256,
                attr("sha256").filter(|h| h != EMPTY_SHA256),
            ),
            NodeKind::SshKey if flagged(n.verdict) => {
                push(IndicatorKind::SshKey, attr("fingerprint"));
                push(IndicatorKind::KeyComment, attr("comment"));
            }
            NodeKind::Wallet | NodeKind::Url | NodeKind::Domain | NodeKind::Endpoint => {
                let near_flagged = flagged(n.verdict)
                    || g.g
                        .edges_directed(i, Direction::Outgoing)
                        .chain(g.g.edges_directed(i, Direction::Incoming))
                        .filter(|e| carries_judgement(e.weight().relation))
                        .any(|e| {
                            let other = if e.source() == i {
                                e.target()
                            } else {
                                e.source()
                            };
                            g.node_at(other).is_some_and(|o| flagged(o.verdict))
                        });
                if !near_flagged {
                    continue;
                }
                let (kind, key) = match n.kind {
                    NodeKind::Wallet => (IndicatorKind::Wallet, "address"),
                    NodeKind::Url => (IndicatorKind::Url, "url"),
                    NodeKind::Domain => (IndicatorKind::Domain, "name"),
                    _ => (IndicatorKind::Endpoint, "addr"),
                };
                push(kind, attr(key));
            }
            _ => {}
        }
    }
    out
}

/// Every indicator held by two or more hosts, strong first, then by kind and value; host names sorted.
pub fn shared<'a>(
    hosts: impl IntoIterator<Item = (&'a str, &'a BTreeSet<Indicator>)>,
) -> Vec<SharedIndicator> {
    let mut by_indicator: BTreeMap<&Indicator, BTreeSet<&str>> = BTreeMap::new();
    for (name, set) in hosts {
        for ind in set {
            by_indicator.entry(ind).or_default().insert(name);
        }
    }
    let mut out: Vec<SharedIndicator> = by_indicator
        .into_iter()
        .filter(|(_, hosts)| hosts.len() >= 2)
        .map(|(ind, hosts)| SharedIndicator {
            kind: ind.kind,
            value: ind.value.clone(),
            weight: weight(ind.kind),
            hosts: hosts.into_iter().map(str::to_owned).collect(),
        })
        .collect();
    out.sort_by(|a, b| (a.weight, a.kind, &a.value).cmp(&(b.weight, b.kind, &b.value)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(IndicatorKind, &str)]) -> BTreeSet<Indicator> {
        items
            .iter()
            .map(|(kind, v)| Indicator {
                kind: *kind,
                value: (*v).to_owned(),
            })
            .collect()
    }

    #[test]
    fn only_indicators_on_two_hosts_are_shared_strong_first() {
        let a = set(&[
            (IndicatorKind::Endpoint, "1.2.3.4:3333"),
            (IndicatorKind::Wallet, "4W"),
        ]);
        let b = set(&[
            (IndicatorKind::Endpoint, "1.2.3.4:3333"),
            (IndicatorKind::Wallet, "4W"),
            (IndicatorKind::Url, "http://x/y"),
        ]);
        let c = set(&[(IndicatorKind::Url, "http://other/")]);
        let got = shared([("a", &a), ("b", &b), ("c", &c)]);
        let kinds: Vec<(IndicatorKind, Weight, usize)> = got
            .iter()
            .map(|s| (s.kind, s.weight, s.hosts.len()))
            .collect();
        assert_eq!(
            kinds,
            [
                (IndicatorKind::Wallet, Weight::Strong, 2),
                (IndicatorKind::Endpoint, Weight::Weak, 2)
            ]
        );
        assert_eq!(got[0].hosts, ["a", "b"]);
    }
}
