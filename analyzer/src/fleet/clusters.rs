//! Clusters of hosts sharing a compromise: the connected components of "shares a strong indicator",
//! with every shared indicator (strong or weak) of two or more of the cluster's hosts as its evidence.
//! A weak indicator alone (a public pool, a common key comment) joins nobody.

use std::collections::{BTreeMap, BTreeSet};

use minetrace_schemas::fleet::{Cluster, SharedIndicator, Weight};

/// Union-find over host names.
struct Components<'a> {
    parent: BTreeMap<&'a str, &'a str>,
}

impl<'a> Components<'a> {
    fn find(&mut self, x: &'a str) -> &'a str {
        let mut root = x;
        while let Some(&p) = self.parent.get(root) {
            if p == root {
                break;
            }
            root = p;
        }
        // Path compression keeps long chains (1,000 hosts sharing one hash) flat.
        let mut cur = x;
        while cur != root {
            let next = self.parent.get(cur).copied().unwrap_or(root);
            self.parent.insert(cur, root);
            cur = next;
        }
        root
    }

    fn union(&mut self, a: &'a str, b: &'a str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller name is the root: deterministic whatever the order of unions.
            let (keep, moved) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent.insert(moved, keep);
        }
    }
}

/// Clusters, largest first, then by first host name; hosts and indicators sorted.
pub fn clusters(shared: &[SharedIndicator]) -> Vec<Cluster> {
    let mut comps = Components {
        parent: BTreeMap::new(),
    };
    for s in shared.iter().filter(|s| s.weight == Weight::Strong) {
        for h in &s.hosts {
            comps.parent.entry(h.as_str()).or_insert(h.as_str());
        }
        if let Some(first) = s.hosts.first() {
            for h in s.hosts.iter().skip(1) {
                comps.union(first, h);
            }
        }
    }
    let names: Vec<&str> = comps.parent.keys().copied().collect();
    let mut members: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for n in names {
        let root = comps.find(n);
        members.entry(root).or_default().insert(n.to_owned());
    }
    let mut out: Vec<Cluster> = members
        .into_values()
        .filter(|hosts| hosts.len() >= 2)
        .map(|hosts| {
            let indicators = shared
                .iter()
                .filter_map(|s| {
                    let inside: Vec<String> = s
                        .hosts
                        .iter()
                        .filter(|h| hosts.contains(*h))
                        .cloned()
                        .collect();
                    (inside.len() >= 2).then(|| SharedIndicator {
                        hosts: inside,
                        ..s.clone()
                    })
                })
                .collect();
            Cluster {
                hosts: hosts.into_iter().collect(),
                indicators,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.hosts
            .len()
            .cmp(&a.hosts.len())
            .then(a.hosts.cmp(&b.hosts))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use minetrace_schemas::fleet::IndicatorKind;

    fn ind(kind: IndicatorKind, weight: Weight, hosts: &[&str]) -> SharedIndicator {
        SharedIndicator {
            kind,
            value: format!("{kind:?}"),
            weight,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn strong_links_join_weak_links_do_not() {
        let shared = vec![
            ind(IndicatorKind::Wallet, Weight::Strong, &["a", "b"]),
            ind(IndicatorKind::Sha256, Weight::Strong, &["b", "c"]),
            ind(IndicatorKind::SshKey, Weight::Strong, &["x", "y"]),
            ind(IndicatorKind::Endpoint, Weight::Weak, &["a", "c", "x", "z"]),
        ];
        let got = clusters(&shared);
        let hosts: Vec<Vec<String>> = got.iter().map(|c| c.hosts.clone()).collect();
        assert_eq!(hosts, [vec!["a", "b", "c"], vec!["x", "y"]]);
        // The weak pool is evidence inside the first cluster (a, c), not a link to x or z.
        let weak = got[0]
            .indicators
            .iter()
            .find(|i| i.weight == Weight::Weak)
            .unwrap();
        assert_eq!(weak.hosts, ["a", "c"]);
        assert!(got[1].indicators.iter().all(|i| i.weight == Weight::Strong));
    }
}
