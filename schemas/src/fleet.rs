//! `fleet.json`: what `minetrace fleet` concluded over many hosts' bundles — each host's verdict, the
//! indicators that link hosts into clusters, the lateral movement between them, where it probably
//! started, and the hosts they talk to that were not collected yet.
//!
//! Host names are the inventory names the bundles were saved under (`web-01.tar.zst` → `web-01`); the
//! hostname each bundle reports is kept beside it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::findings::Verdict;

/// Value of `schema` in `fleet.json`.
pub const FLEET_SCHEMA: &str = "minetrace.fleet/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetDocument {
    /// Always `minetrace.fleet/1`.
    pub schema: String,
    pub analyzer_version: String,
    /// One per analysed bundle, by name.
    pub hosts: Vec<FleetHost>,
    /// Bundles that could not be analysed, with the reason.
    pub failed: Vec<FailedBundle>,
    /// Every indicator seen on two or more hosts, strong ones first.
    pub shared_indicators: Vec<SharedIndicator>,
    /// Hosts joined by strong shared indicators (connected components of two or more hosts).
    pub clusters: Vec<Cluster>,
    /// Directed host → host movement, oldest first, undated edges last.
    pub lateral: Vec<LateralEdge>,
    /// The host the compromise most probably started on, and why; `null` when no host is compromised.
    pub first_infected: Option<FirstInfected>,
    /// Addresses and names the collected hosts reached or were reached from that are not in the set.
    pub uncollected_neighbours: Vec<Neighbour>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetHost {
    /// Inventory name: the bundle's file name without `.tar.zst` (made unique within the fleet).
    pub name: String,
    /// The bundle's file name.
    pub bundle: String,
    pub sha256: String,
    /// The hostname the collector read on the host.
    pub hostname: String,
    pub verdict: Verdict,
    pub families: Vec<String>,
    /// The host's own addresses: interface addresses (not loopback) and `/etc/hosts` entries for its name.
    pub addresses: Vec<String>,
    /// RFC 3339 time of the earliest event tied to a finding at medium or above; `null` when none.
    pub first_seen: Option<String>,
    /// Executable paths of processes judged to be miners.
    pub miners: Vec<String>,
    /// Pool endpoints and domains the host mines to.
    pub pools: Vec<String>,
    /// Findings at medium or above.
    pub findings: usize,
    /// True when the bundle failed verification and was analysed anyway (`--allow-tampered`).
    pub tampered: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailedBundle {
    pub bundle: String,
    pub error: String,
}

/// What kind of thing links hosts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorKind {
    Wallet,
    /// An SSH key fingerprint (`SHA256:...`).
    SshKey,
    /// A file's SHA-256 (a binary or script of the intrusion).
    Sha256,
    Url,
    Domain,
    /// `IP:PORT`.
    Endpoint,
    /// The comment of an attacker's SSH key.
    KeyComment,
}

impl IndicatorKind {
    pub fn name(self) -> &'static str {
        match self {
            IndicatorKind::Wallet => "wallet",
            IndicatorKind::SshKey => "ssh_key",
            IndicatorKind::Sha256 => "sha256",
            IndicatorKind::Url => "url",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Endpoint => "endpoint",
            IndicatorKind::KeyComment => "key_comment",
        }
    }
}

/// How much a shared indicator says about a shared compromise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    /// Specific to one campaign: a wallet, an SSH key, a binary hash, a download URL.
    Strong,
    /// Shared by unrelated campaigns: a public pool, a common key comment.
    Weak,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SharedIndicator {
    pub kind: IndicatorKind,
    /// Escaped as every output escapes host bytes.
    pub value: String,
    pub weight: Weight,
    /// Hosts it was seen on, by name.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cluster {
    pub hosts: Vec<String>,
    /// Indicators shared by two or more of the cluster's hosts, strong ones first.
    pub indicators: Vec<SharedIndicator>,
}

/// How much a lateral edge is worth; the same scale as the attack-trace graph's edges.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeLevel {
    /// Kernel or filesystem state at capture time (a live ssh session between the two).
    Observed,
    /// Read from text on the host (an auth log line, `known_hosts`, a history line).
    Parsed,
    /// A heuristic (a key of one host that opens the other).
    Suspected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LateralEdge {
    /// Host name when the end is a collected host, else the address or name as seen.
    pub from: String,
    pub to: String,
    /// RFC 3339 time of the earliest event behind the edge; `null` when undated.
    pub time: Option<String>,
    pub evidence: Vec<String>,
    pub level: EdgeLevel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FirstInfected {
    pub host: String,
    pub why: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Neighbour {
    /// An address or host name, as seen.
    pub address: String,
    /// Collected hosts that reached it or were reached from it.
    pub seen_from: Vec<String>,
    pub why: Vec<String>,
}
