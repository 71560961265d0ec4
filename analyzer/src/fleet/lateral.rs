//! Host → host movement and the neighbours not collected yet, from every host's contacts
//! ([`super::host::Contact`]).
//!
//! A contact's peer is resolved to a collected host by address (its interface and `/etc/hosts` self
//! addresses) or by name (inventory name, hostname, short hostname). Then:
//! - a login, a live ssh session, or failed logins whose peer is another collected host are edges
//!   (failed logins only then: from the internet they are background noise);
//! - `known_hosts` entries and history destinations are edges when either end is not clean (a clean
//!   admin host's own habits are not this compromise's movement);
//! - a peer that is no collected host becomes an edge to or from that address and an uncollected
//!   neighbour, when the contact was seen on a host that is not clean (and never for failed logins,
//!   loopback addresses or `localhost`).
//!
//! Edges between the same two ends are merged: the strongest level, the earliest time, the evidence of
//! all. They are ordered oldest first, undated ones last.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use minetrace_schemas::findings::Verdict;
use minetrace_schemas::fleet::{EdgeLevel, LateralEdge, Neighbour};

use super::host::{HostFacts, Via};
use crate::output::iso_us;

/// Evidence lines kept per merged edge and per neighbour.
const EVIDENCE_MAX: usize = 12;
/// Neighbours kept: the list to collect next, not a scan result.
pub const MAX_NEIGHBOURS: usize = 10_000;

/// Collected hosts by address and by name.
pub struct Directory {
    by_addr: HashMap<IpAddr, usize>,
    by_name: HashMap<String, usize>,
}

impl Directory {
    pub fn of(hosts: &[HostFacts]) -> Directory {
        let mut by_addr = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, h) in hosts.iter().enumerate() {
            for a in &h.addresses {
                by_addr.entry(*a).or_insert(i);
            }
            let hostname = h.row.hostname.to_ascii_lowercase();
            let short = hostname.split('.').next().unwrap_or_default().to_owned();
            for n in [h.row.name.to_ascii_lowercase(), hostname, short] {
                if !n.is_empty() {
                    by_name.entry(n).or_insert(i);
                }
            }
        }
        Directory { by_addr, by_name }
    }

    /// The collected host a peer (address or name) is, if any.
    pub fn resolve(&self, peer: &str) -> Option<usize> {
        match peer.parse::<IpAddr>() {
            Ok(ip) => self.by_addr.get(&ip).copied(),
            Err(_) => {
                let lower = peer.to_ascii_lowercase();
                self.by_name.get(&lower).copied().or_else(|| {
                    let short = lower.split('.').next()?;
                    self.by_name.get(short).copied()
                })
            }
        }
    }
}

/// A peer that names no other machine.
fn is_local(peer: &str) -> bool {
    match peer.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => peer.eq_ignore_ascii_case("localhost") || peer.starts_with("localhost."),
    }
}

struct Merged {
    level: EdgeLevel,
    time_us: Option<i64>,
    evidence: Vec<String>,
}

fn merge_into(m: &mut Merged, level: EdgeLevel, time_us: Option<i64>, evidence: &[String]) {
    m.level = m.level.min(level);
    m.time_us = match (m.time_us, time_us) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for e in evidence {
        if m.evidence.len() < EVIDENCE_MAX && !m.evidence.contains(e) {
            m.evidence.push(e.clone());
        }
    }
}

/// Lateral edges (oldest first) and uncollected neighbours (by address).
pub fn correlate(hosts: &[HostFacts]) -> (Vec<LateralEdge>, Vec<Neighbour>) {
    let dir = Directory::of(hosts);
    let mut edges: BTreeMap<(String, String), Merged> = BTreeMap::new();
    let mut neighbours: BTreeMap<String, (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        let dirty = h.row.verdict != Verdict::Clean;
        for c in &h.contacts {
            let (from, to) = match dir.resolve(&c.peer) {
                Some(j) if j == i => continue,
                Some(j) => {
                    let other_dirty = hosts
                        .get(j)
                        .is_some_and(|o| o.row.verdict != Verdict::Clean);
                    let wanted = match c.via {
                        Via::Login | Via::Socket | Via::FailedLogins => true,
                        Via::KnownHosts | Via::History => dirty || other_dirty,
                    };
                    if !wanted {
                        continue;
                    }
                    let other = hosts.get(j).map(|o| o.row.name.clone()).unwrap_or_default();
                    if c.outbound {
                        (h.row.name.clone(), other)
                    } else {
                        (other, h.row.name.clone())
                    }
                }
                None => {
                    if !dirty || c.via == Via::FailedLogins || is_local(&c.peer) {
                        continue;
                    }
                    if neighbours.len() < MAX_NEIGHBOURS || neighbours.contains_key(&c.peer) {
                        let entry = neighbours.entry(c.peer.clone()).or_default();
                        entry.0.insert(h.row.name.clone());
                        for e in &c.evidence {
                            if entry.1.len() < EVIDENCE_MAX && !entry.1.contains(e) {
                                entry.1.push(format!("{}: {e}", h.row.name));
                            }
                        }
                    }
                    if c.outbound {
                        (h.row.name.clone(), c.peer.clone())
                    } else {
                        (c.peer.clone(), h.row.name.clone())
                    }
                }
            };
            let m = edges.entry((from, to)).or_insert(Merged {
                level: c.level,
                time_us: c.time_us,
                evidence: Vec::new(),
            });
            merge_into(m, c.level, c.time_us, &c.evidence);
        }
    }
    let mut lateral: Vec<(Option<i64>, LateralEdge)> = edges
        .into_iter()
        .map(|((from, to), m)| {
            (
                m.time_us,
                LateralEdge {
                    from,
                    to,
                    time: m.time_us.map(iso_us),
                    evidence: m.evidence,
                    level: m.level,
                },
            )
        })
        .collect();
    lateral.sort_by(|(ta, a), (tb, b)| {
        (ta.is_none(), ta, &a.from, &a.to).cmp(&(tb.is_none(), tb, &b.from, &b.to))
    });
    let neighbours = neighbours
        .into_iter()
        .map(|(address, (seen, why))| Neighbour {
            address,
            seen_from: seen.into_iter().collect(),
            why,
        })
        .collect();
    (lateral.into_iter().map(|(_, e)| e).collect(), neighbours)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;

    use minetrace_schemas::findings::Verdict;
    use minetrace_schemas::fleet::{EdgeLevel, FleetHost};

    use super::*;
    use crate::fleet::host::{Contact, HostFacts, Via};

    /// A host with an address and contacts.
    pub(crate) fn host(
        name: &str,
        verdict: Verdict,
        addr: &str,
        contacts: Vec<Contact>,
    ) -> HostFacts {
        HostFacts {
            row: FleetHost {
                name: name.into(),
                bundle: format!("{name}.tar.zst"),
                sha256: String::new(),
                hostname: format!("{name}.corp"),
                verdict,
                families: vec![],
                addresses: vec![addr.into()],
                first_seen: None,
                miners: vec![],
                pools: vec![],
                findings: 0,
                tampered: false,
            },
            addresses: addr.parse().into_iter().collect(),
            first_seen_us: None,
            worst: None,
            indicators: BTreeSet::new(),
            contacts,
            events: vec![],
        }
    }

    pub(crate) fn contact(peer: &str, outbound: bool, via: Via, time_us: Option<i64>) -> Contact {
        Contact {
            peer: peer.into(),
            outbound,
            via,
            level: EdgeLevel::Parsed,
            time_us,
            evidence: vec![format!("{via:?} {peer}")],
        }
    }

    fn pairs(edges: &[LateralEdge]) -> Vec<(String, String)> {
        edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect()
    }

    #[test]
    fn peers_resolve_by_address_and_name_and_clean_habits_are_not_movement() {
        let hosts = vec![
            host(
                "a",
                Verdict::Compromised,
                "10.0.0.1",
                vec![
                    contact("b.corp", true, Via::KnownHosts, None),
                    contact("db-old", true, Via::History, None),
                    contact("127.0.0.1", false, Via::Login, Some(5)),
                    contact("198.51.100.9", false, Via::FailedLogins, Some(1)),
                ],
            ),
            host(
                "b",
                Verdict::Compromised,
                "10.0.0.2",
                vec![contact("10.0.0.1", false, Via::Login, Some(20))],
            ),
            host(
                "c",
                Verdict::Clean,
                "10.0.0.3",
                vec![
                    contact("backup", true, Via::KnownHosts, None),
                    contact("10.0.0.4", true, Via::History, None),
                    contact("10.0.0.1", false, Via::FailedLogins, Some(9)),
                ],
            ),
            host("d", Verdict::Clean, "10.0.0.4", vec![]),
        ];
        let (edges, neighbours) = correlate(&hosts);
        // a→b twice (known_hosts, login) merged with the login's time; a's history to db-old; a's
        // failed logins on c; c's habits towards clean d and an outside name are neither.
        assert_eq!(
            pairs(&edges),
            [
                ("a".into(), "c".into()),
                ("a".into(), "b".into()),
                ("a".into(), "db-old".into())
            ]
        );
        assert_eq!(
            edges[1].time.as_deref(),
            Some("1970-01-01T00:00:00.000020Z")
        );
        assert_eq!(edges[1].evidence.len(), 2);
        let n: Vec<&str> = neighbours.iter().map(|n| n.address.as_str()).collect();
        assert_eq!(n, ["db-old"]);
    }

    #[test]
    fn loopback_and_self_are_no_peers() {
        let hosts = vec![host(
            "a",
            Verdict::Compromised,
            "10.0.0.1",
            vec![
                contact("10.0.0.1", false, Via::Login, None),
                contact("localhost", true, Via::History, None),
                contact("::1", false, Via::Socket, None),
            ],
        )];
        let (edges, neighbours) = correlate(&hosts);
        assert!(edges.is_empty() && neighbours.is_empty());
    }
}
