//! A synthetic fleet built from the collected sample bundles, and what a fleet analysis must find in it.
//!
//! Compromised hosts come in clusters; every host of a cluster is a copy of one compromised sample, and
//! the cluster gets its own strong indicators (each wallet, URL and attacker SSH key of the sample
//! substituted by a cluster-specific one of the same length, each flagged file's content tagged so its
//! hash is the cluster's own). Clusters cut from the same sample therefore share only weak indicators
//! (pools, key comments) and must stay apart. Clean hosts are copies of the clean samples.
//!
//! Every host gets a name, a hostname and an address (on an interface for even hosts, only as an
//! `/etc/hosts` self entry for odd ones). Lateral movement is planted as a tree inside each cluster —
//! accepted SSH logins in `auth.log`, `ssh`/`scp` lines in root's history, `known_hosts` entries — and a
//! login from the last host of each cluster into the root of the next, so the first cluster's root is
//! where it started (reached itself by a login from an outside address). Neighbours not in the set:
//! that outside address and one `known_hosts` name per cluster root. A clean host is logged into from a
//! compromised one (an edge) and lists an outside name in its own `known_hosts` (neither an edge nor a
//! neighbour: a clean host's habits are not the compromise's).

pub mod rewrite;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::inputs;
use minetrace_analyzer::fleet::indicators::{self, Indicator};
use minetrace_analyzer::graph::Trace;
use minetrace_analyzer::parse::authorized_keys;
use minetrace_schemas::fleet::IndicatorKind;
use minetrace_schemas::records::address::InterfaceAddress;
use sha2::Digest as _;

use rewrite::Editable;

/// Compromised samples clusters are cut from (each has strong indicators of its own).
pub const COMPROMISED_BASES: &[&str] = &[
    "kinsing-redis",
    "pwnrig-8220-immutable",
    "outlaw-ssh-bruteforce",
    "perfctl-ld-preload",
    "kthread-devshm-deleted",
];
/// Clean samples.
pub const CLEAN_BASES: &[&str] = &[
    "clean-baseline",
    "benign-admin-healthcheck",
    "benign-package-upgrade",
];

/// The outside address the first cluster's root was logged into from (TEST-NET-3: data only).
pub const ENTRY_ADDRESS: &str = "203.0.113.50";
/// A valid host key for planted `known_hosts` lines.
const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqO6XHD6uDOzvJxMYGyRRhe9dc+7gnXbY3YmRAKB7d2";

/// One host of the plan.
#[derive(Debug, Clone)]
pub struct HostPlan {
    pub name: String,
    pub hostname: String,
    pub base: &'static str,
    pub cluster: Option<usize>,
    pub address: Ipv4Addr,
    /// The address is on an interface (else only in `/etc/hosts`).
    pub on_interface: bool,
    pub auth_lines: Vec<String>,
    pub history_lines: Vec<String>,
    pub known_hosts: Vec<String>,
}

/// What the fleet analysis must recover, exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    pub clusters: BTreeSet<BTreeSet<String>>,
    pub edges: BTreeSet<(String, String)>,
    pub first_infected: String,
    pub neighbours: BTreeSet<String>,
    pub compromised: BTreeSet<String>,
    pub clean: BTreeSet<String>,
}

fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        77,
        u8::try_from(i / 200).unwrap_or(255),
        u8::try_from(i % 200 + 10).unwrap_or(255),
    )
}

fn stamp(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The plan for `hosts` hosts in clusters of `cluster_size` (three hosts in ten are clean).
pub fn plan(hosts: usize, cluster_size: usize) -> (Vec<HostPlan>, Truth) {
    let cluster_size = cluster_size.max(2);
    let mut plans: Vec<HostPlan> = Vec::new();
    let mut compromised_seen = 0usize;
    for i in 0..hosts {
        let clean = i % 10 >= 7;
        let (base, cluster, role) = if clean {
            (CLEAN_BASES[i % CLEAN_BASES.len()], None, "app")
        } else {
            let k = compromised_seen / cluster_size;
            compromised_seen += 1;
            (
                COMPROMISED_BASES[k % COMPROMISED_BASES.len()],
                Some(k),
                "node",
            )
        };
        let name = format!("{role}-{i:04}");
        plans.push(HostPlan {
            hostname: format!("{name}.corp.example"),
            name,
            base,
            cluster,
            address: address(i),
            on_interface: i % 2 == 0,
            auth_lines: Vec::new(),
            history_lines: Vec::new(),
            known_hosts: Vec::new(),
        });
    }
    let mut truth = Truth::default();
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in plans.iter().enumerate() {
        match p.cluster {
            Some(k) => {
                members.entry(k).or_default().push(i);
                truth.compromised.insert(p.name.clone());
            }
            None => {
                truth.clean.insert(p.name.clone());
            }
        }
    }
    let base_time = 1_748_800_000i64; // 2025-06-01
    let login = |plans: &mut Vec<HostPlan>, from_addr: String, to: usize, t: i64| {
        if let Some(p) = plans.get_mut(to) {
            let line = format!(
                "{} {} sshd[4242]: Accepted publickey for root from {from_addr} port 50022 ssh2: ED25519 SHA256:planted",
                stamp(t),
                p.hostname.split('.').next().unwrap_or_default()
            );
            p.auth_lines.push(line);
        }
    };
    let mut previous_last: Option<usize> = None;
    for (k, idx) in &members {
        let t0 = base_time + (*k as i64) * 3_600;
        if idx.len() >= 2 {
            truth.clusters.insert(
                idx.iter()
                    .filter_map(|i| plans.get(*i).map(|p| p.name.clone()))
                    .collect(),
            );
        }
        let root = idx[0];
        let root_name = plans[root].name.clone();
        // Into the root: from outside for the first cluster, from the previous cluster's last host after.
        match previous_last {
            None => {
                login(&mut plans, ENTRY_ADDRESS.into(), root, t0);
                truth
                    .edges
                    .insert((ENTRY_ADDRESS.into(), root_name.clone()));
                truth.neighbours.insert(ENTRY_ADDRESS.into());
                truth.first_infected = root_name.clone();
            }
            Some(prev) => {
                let prev_addr = plans[prev].address.to_string();
                login(&mut plans, prev_addr, root, t0);
                truth
                    .edges
                    .insert((plans[prev].name.clone(), root_name.clone()));
            }
        }
        let legacy = format!("legacy-db-{k}");
        plans[root].known_hosts.push(legacy.clone());
        truth.edges.insert((root_name.clone(), legacy.clone()));
        truth.neighbours.insert(legacy);
        // A tree inside the cluster: member j is reached from member (j-1)/2.
        for j in 1..idx.len() {
            let (from, to) = (idx[(j - 1) / 2], idx[j]);
            let t = t0 + 60 * j as i64;
            match j % 3 {
                1 => {
                    let a = plans[from].address.to_string();
                    login(&mut plans, a, to, t);
                }
                2 => {
                    let target = plans[to].address;
                    plans[from].history_lines.push(format!(
                        "scp -P 22 /tmp/.x/kit.tgz root@{target}:/tmp/ && ssh -o StrictHostKeyChecking=no root@{target} 'tar xzf /tmp/kit.tgz -C /tmp && /tmp/.x/run'"
                    ));
                }
                _ => {
                    let entry = format!("{},{}", plans[to].hostname, plans[to].address);
                    plans[from].known_hosts.push(entry);
                }
            }
            truth
                .edges
                .insert((plans[from].name.clone(), plans[to].name.clone()));
        }
        previous_last = idx.last().copied();
    }
    // A clean host logged into from the first cluster's second host, with an outside name of its own.
    let clean_first = plans.iter().position(|p| p.cluster.is_none());
    let second = members.get(&0).and_then(|m| m.get(1)).copied();
    if let (Some(c), Some(s)) = (clean_first, second) {
        let a = plans[s].address.to_string();
        login(&mut plans, a, c, base_time + 30_000);
        truth
            .edges
            .insert((plans[s].name.clone(), plans[c].name.clone()));
        plans[c]
            .known_hosts
            .push("backup-archive.corp.example".into());
    }
    (plans, truth)
}

/// Same-length replacement for `value` specific to `cluster`: its last characters replaced by the
/// cluster number in the value's own alphabet (hex digits, base58, or letters).
fn variant(value: &str, cluster: usize, salt: usize) -> String {
    let digits = format!("{:04}", (cluster * 7 + salt) % 10_000);
    let alphabet: &[u8] = if value.bytes().all(|b| b.is_ascii_hexdigit()) {
        b"0123456789abcdef"
    } else {
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    };
    let mut out: Vec<u8> = value.as_bytes().to_vec();
    let n = out.len();
    for (k, d) in digits.bytes().enumerate() {
        let pos = n.saturating_sub(4) + k;
        if let Some(slot) = out.get_mut(pos) {
            let idx = usize::from(d - b'0') + salt;
            *slot = alphabet[idx % alphabet.len()];
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_owned())
}

/// The strong indicators of one sample bundle, as the analyzer sees them.
pub fn strong_indicators(bundle: &Path) -> Result<BTreeSet<Indicator>> {
    let analysis = Analysis::run(bundle, &inputs(&[], None, false)?)?;
    let trace = Trace::of(&analysis);
    Ok(indicators::of_trace(&trace)
        .into_iter()
        .filter(|i| {
            matches!(
                i.kind,
                IndicatorKind::Wallet
                    | IndicatorKind::Url
                    | IndicatorKind::SshKey
                    | IndicatorKind::Sha256
            )
        })
        .collect())
}

/// The sample copied for cluster `k`: its strong indicators made the cluster's own.
fn cluster_base(base: &Editable, strong: &BTreeSet<Indicator>, k: usize) -> Result<Editable> {
    let mut e = base.clone();
    let tag = format!("\n# fleet cluster {k}\n");
    for (salt, ind) in strong.iter().enumerate() {
        match ind.kind {
            IndicatorKind::Wallet | IndicatorKind::Url => {
                let v = variant(&ind.value, k, salt);
                e.substitute(ind.value.as_bytes(), v.as_bytes())?;
            }
            IndicatorKind::SshKey => {
                // The key's base64 in every key file that holds it, given new key bytes of the same length.
                let blobs: Vec<Vec<u8>> = e
                    .members
                    .iter()
                    .filter(|(n, _)| n.starts_with("fs/"))
                    .flat_map(|(_, b)| authorized_keys::parse(b).keys)
                    .filter(|key| key.fingerprint == ind.value)
                    .map(|key| key.base64)
                    .collect();
                for b64 in blobs {
                    let text = String::from_utf8_lossy(&b64).into_owned();
                    let v = variant(text.trim_end_matches('='), k, salt);
                    let padded = format!("{v}{}", &text[v.len()..]);
                    e.substitute(&b64, padded.as_bytes())?;
                }
            }
            IndicatorKind::Sha256 => {
                e.rehash(&ind.value, tag.as_bytes())?;
            }
            _ => {}
        }
    }
    e.refresh_file_hashes()?;
    Ok(e)
}

/// Writes every planned host's bundle into `dir` as `NAME.tar.zst`.
pub fn write_fleet(samples: &Path, plans: &[HostPlan], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut bases: BTreeMap<&str, (Editable, BTreeSet<Indicator>)> = BTreeMap::new();
    let mut per_cluster: BTreeMap<usize, Editable> = BTreeMap::new();
    let mut out = Vec::new();
    for p in plans {
        if !bases.contains_key(p.base) {
            let path = samples.join(format!("{}.tar.zst", p.base));
            let strong = if p.cluster.is_some() {
                strong_indicators(&path)?
            } else {
                BTreeSet::new()
            };
            bases.insert(p.base, (Editable::open(&path)?, strong));
        }
        let (base, strong) = bases.get(p.base).context("base loaded")?;
        let mut e = match p.cluster {
            Some(k) => match per_cluster.entry(k) {
                std::collections::btree_map::Entry::Occupied(e) => e.get().clone(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(cluster_base(base, strong, k)?).clone()
                }
            },
            None => base.clone(),
        };
        plant(&mut e, p)?;
        let path = dir.join(format!("{}.tar.zst", p.name));
        e.write(&path)?;
        out.push(path);
    }
    Ok(out)
}

/// Identity, addresses and the planted lines of one host.
fn plant(e: &mut Editable, p: &HostPlan) -> Result<()> {
    let machine_id = hex::encode(sha2::Sha256::digest(p.name.as_bytes()))
        .get(..32)
        .unwrap_or_default()
        .to_owned();
    e.set_identity(&p.hostname, &machine_id)?;
    let mut addrs = vec![InterfaceAddress {
        interface: "lo".into(),
        address: "127.0.0.1".into(),
        prefix_len: Some(8),
    }];
    if p.on_interface {
        addrs.push(InterfaceAddress {
            interface: "eth0".into(),
            address: p.address.to_string(),
            prefix_len: Some(16),
        });
    }
    e.set_addresses(addrs);
    let short = p.hostname.split('.').next().unwrap_or_default();
    let mut hosts = format!("127.0.1.1 {} {short}\n", p.hostname);
    if !p.on_interface {
        hosts.push_str(&format!("{} {} {short}\n", p.address, p.hostname));
    }
    e.append_file(b"/etc/hosts", "network", hosts.as_bytes())?;
    if !p.auth_lines.is_empty() {
        e.append_file(
            b"/var/log/auth.log",
            "log",
            format!("{}\n", p.auth_lines.join("\n")).as_bytes(),
        )?;
    }
    if !p.history_lines.is_empty() {
        e.append_file(
            b"/root/.bash_history",
            "history",
            format!("{}\n", p.history_lines.join("\n")).as_bytes(),
        )?;
    }
    if !p.known_hosts.is_empty() {
        let text: String = p
            .known_hosts
            .iter()
            .map(|h| format!("{h} {HOST_KEY}\n"))
            .collect();
        e.append_file(b"/root/.ssh/known_hosts", "ssh", text.as_bytes())?;
    }
    e.refresh_file_hashes()
}
