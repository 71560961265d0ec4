//! Where the compromise probably started: among hosts that are not clean, those no lateral edge from
//! another such host enters are the roots; the root that reaches the most compromised hosts along the
//! edges wins, then the earliest first sign of compromise, then the name. With no root (movement in a
//! circle) every compromised host is a candidate. The reasons are spelled out, since this is a proposal
//! for the analyst to check, not a fact.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use minetrace_schemas::findings::Verdict;
use minetrace_schemas::fleet::{FirstInfected, LateralEdge};

use super::host::HostFacts;
use crate::output::iso_us;

pub fn first_infected(hosts: &[HostFacts], lateral: &[LateralEdge]) -> Option<FirstInfected> {
    let dirty: BTreeMap<&str, &HostFacts> = hosts
        .iter()
        .filter(|h| h.row.verdict != Verdict::Clean)
        .map(|h| (h.row.name.as_str(), h))
        .collect();
    if dirty.is_empty() {
        return None;
    }
    let mut out_edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut entered: BTreeSet<&str> = BTreeSet::new();
    for e in lateral {
        if dirty.contains_key(e.from.as_str()) && dirty.contains_key(e.to.as_str()) {
            out_edges
                .entry(e.from.as_str())
                .or_default()
                .insert(e.to.as_str());
            entered.insert(e.to.as_str());
        }
    }
    let reach = |start: &str| -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for &m in out_edges.get(n).into_iter().flatten() {
                if m != start && seen.insert(m) {
                    queue.push_back(m);
                }
            }
        }
        seen
    };
    let roots: Vec<&str> = dirty
        .keys()
        .copied()
        .filter(|n| !entered.contains(n))
        .collect();
    let candidates: Vec<&str> = if roots.is_empty() {
        dirty.keys().copied().collect()
    } else {
        roots.clone()
    };
    let best = candidates.iter().copied().min_by_key(|n| {
        let first = dirty.get(n).and_then(|h| h.first_seen_us);
        (
            std::cmp::Reverse(reach(n).len()),
            first.is_none(),
            first,
            *n,
        )
    })?;
    let host = dirty.get(best)?;
    let reached = reach(best);
    let mut why = Vec::new();
    if roots.contains(&best) {
        why.push("no lateral movement into it from another compromised collected host".to_owned());
    } else {
        why.push("the compromised hosts move in a circle; chosen by reach and time".to_owned());
    }
    if !reached.is_empty() {
        let names: Vec<&str> = reached.iter().copied().take(20).collect();
        why.push(format!(
            "lateral movement from it reaches {} of {} other compromised hosts: {}{}",
            reached.len(),
            dirty.len() - 1,
            names.join(", "),
            if reached.len() > names.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    if let Some(t) = host.first_seen_us {
        let earliest = dirty.values().filter_map(|h| h.first_seen_us).min();
        if earliest == Some(t) {
            why.push(format!(
                "earliest sign of compromise in the fleet: {}",
                iso_us(t)
            ));
        } else {
            why.push(format!("first sign of compromise: {}", iso_us(t)));
        }
    }
    for e in lateral
        .iter()
        .filter(|e| e.to == best && !dirty.contains_key(e.from.as_str()))
    {
        if why.len() >= 8 {
            break;
        }
        why.push(format!(
            "reached from {} (not compromised or not collected){}",
            e.from,
            e.time
                .as_deref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default()
        ));
    }
    Some(FirstInfected {
        host: best.to_owned(),
        why,
    })
}

#[cfg(test)]
mod tests {
    use minetrace_schemas::findings::Verdict;

    use super::*;
    use crate::fleet::host::Via;
    use crate::fleet::lateral::correlate;
    use crate::fleet::lateral::tests::{contact, host};

    #[test]
    fn the_root_reaching_most_wins_then_the_earliest() {
        let mut hosts = vec![
            host(
                "a",
                Verdict::Compromised,
                "10.0.0.1",
                vec![contact("10.0.0.9", false, Via::Login, Some(1))],
            ),
            host(
                "b",
                Verdict::Compromised,
                "10.0.0.2",
                vec![contact("10.0.0.1", false, Via::Login, Some(2))],
            ),
            host(
                "c",
                Verdict::Compromised,
                "10.0.0.3",
                vec![contact("10.0.0.2", false, Via::Login, Some(3))],
            ),
            host("x", Verdict::Compromised, "10.0.0.8", vec![]),
            host(
                "clean",
                Verdict::Clean,
                "10.0.0.7",
                vec![contact("10.0.0.1", true, Via::Login, None)],
            ),
        ];
        hosts[3].first_seen_us = Some(0);
        let (edges, _) = correlate(&hosts);
        let f = first_infected(&hosts, &edges).expect("one");
        assert_eq!(f.host, "a", "{:?}", f.why);
        assert!(
            f.why.iter().any(|w| w.contains("reaches 2 of 3")),
            "{:?}",
            f.why
        );
        assert!(
            f.why.iter().any(|w| w.contains("reached from 10.0.0.9")),
            "{:?}",
            f.why
        );
        // In a circle nobody is a root: reach ties, the earliest first sign decides.
        let mut ring = vec![
            host(
                "p",
                Verdict::Compromised,
                "10.0.1.1",
                vec![contact("10.0.1.2", false, Via::Login, None)],
            ),
            host(
                "q",
                Verdict::Compromised,
                "10.0.1.2",
                vec![contact("10.0.1.1", false, Via::Login, None)],
            ),
        ];
        ring[1].first_seen_us = Some(10);
        ring[0].first_seen_us = Some(20);
        let (edges, _) = correlate(&ring);
        let f = first_infected(&ring, &edges).expect("one");
        assert_eq!(f.host, "q");
        assert!(f.why[0].contains("circle"));
        // No compromised host: none.
        let calm = vec![host("z", Verdict::Clean, "10.0.2.1", vec![])];
        assert!(first_infected(&calm, &[]).is_none());
    }
}
