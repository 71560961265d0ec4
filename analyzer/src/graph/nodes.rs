//! The graph's vocabulary: node kinds and their deterministic ids, edge relations and levels, verdicts
//! and kill-chain stages. Every id is built here and nowhere else, so two modules naming the same thing
//! always meet on one node.
//!
//! Ids carry host bytes only through [`minetrace_schemas::escape_bytes`] (printable ASCII, injective),
//! so an id is safe to print and never collides because of escaping. Outputs still escape ids for their
//! own format.

use std::collections::{BTreeMap, BTreeSet};

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::Severity;
use minetrace_schemas::records::process::FileId;
use serde::Serialize;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Process,
    File,
    Endpoint,
    Domain,
    Url,
    User,
    SshKey,
    Persistence,
    Wallet,
    FirewallRule,
    KernelModule,
    Finding,
}

impl NodeKind {
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Process => "process",
            NodeKind::File => "file",
            NodeKind::Endpoint => "endpoint",
            NodeKind::Domain => "domain",
            NodeKind::Url => "url",
            NodeKind::User => "user",
            NodeKind::SshKey => "ssh_key",
            NodeKind::Persistence => "persistence",
            NodeKind::Wallet => "wallet",
            NodeKind::FirewallRule => "firewall_rule",
            NodeKind::KernelModule => "kernel_module",
            NodeKind::Finding => "finding",
        }
    }

    /// The stage a node of this kind sits in when no finding says otherwise.
    pub fn default_stage(self) -> Stage {
        match self {
            NodeKind::User | NodeKind::SshKey => Stage::Entry,
            NodeKind::Process | NodeKind::File | NodeKind::Url => Stage::Execution,
            NodeKind::Persistence => Stage::Persistence,
            NodeKind::FirewallRule | NodeKind::KernelModule => Stage::Evasion,
            NodeKind::Endpoint | NodeKind::Domain | NodeKind::Wallet => Stage::Impact,
            NodeKind::Finding => Stage::Execution,
        }
    }
}

/// Kill-chain stage, left to right in the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Entry,
    Execution,
    Persistence,
    Evasion,
    /// Command and control, and the mining itself.
    Impact,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Entry,
        Stage::Execution,
        Stage::Persistence,
        Stage::Evasion,
        Stage::Impact,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Entry => "entry",
            Stage::Execution => "execution",
            Stage::Persistence => "persistence",
            Stage::Evasion => "defense_evasion",
            Stage::Impact => "c2_mining",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Stage::Entry => "Entry",
            Stage::Execution => "Execution",
            Stage::Persistence => "Persistence",
            Stage::Evasion => "Defence evasion",
            Stage::Impact => "C2 / mining",
        }
    }

    pub fn column(self) -> usize {
        match self {
            Stage::Entry => 0,
            Stage::Execution => 1,
            Stage::Persistence => 2,
            Stage::Evasion => 3,
            Stage::Impact => 4,
        }
    }

    /// The stage a MITRE ATT&CK technique belongs to, for the techniques minetrace reports.
    pub fn of_attack(id: &str) -> Option<Stage> {
        let base = id.split('.').next().unwrap_or(id);
        Some(match base {
            "T1190" | "T1133" | "T1110" | "T1078" | "T1021" => Stage::Entry,
            "T1059" | "T1204" | "T1105" | "T1203" | "T1106" | "T1620" => Stage::Execution,
            "T1053" | "T1543" | "T1037" | "T1546" | "T1098" | "T1136" | "T1547" | "T1505" => {
                Stage::Persistence
            }
            "T1574" | "T1070" | "T1562" | "T1222" | "T1014" | "T1036" | "T1564" | "T1027"
            | "T1140" | "T1055" => Stage::Evasion,
            "T1496" | "T1071" | "T1090" | "T1095" | "T1571" | "T1573" | "T1041" => Stage::Impact,
            _ => return None,
        })
    }
}

/// How a node was judged, from the findings about it: the fill colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeVerdict {
    /// No finding concerns it.
    Unjudged,
    /// Only info or low findings concern it.
    Noted,
    /// A medium finding concerns it.
    Suspicious,
    /// A high or critical finding concerns it.
    Malicious,
}

impl NodeVerdict {
    pub fn of_severity(s: Severity) -> NodeVerdict {
        match s {
            Severity::Info | Severity::Low => NodeVerdict::Noted,
            Severity::Medium => NodeVerdict::Suspicious,
            Severity::High | Severity::Critical => NodeVerdict::Malicious,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NodeVerdict::Unjudged => "unjudged",
            NodeVerdict::Noted => "noted",
            NodeVerdict::Suspicious => "suspicious",
            NodeVerdict::Malicious => "malicious",
        }
    }

    /// Fill colour (red / orange / grey / white).
    pub fn fill(self) -> &'static str {
        match self {
            NodeVerdict::Malicious => "#f28b82",
            NodeVerdict::Suspicious => "#fbbc66",
            NodeVerdict::Noted => "#d5d8dc",
            NodeVerdict::Unjudged => "#ffffff",
        }
    }
}

/// How much an edge is worth: a kernel fact, a parse of attacker text, or a heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Kernel or filesystem state at capture time.
    Observed,
    /// A deterministic parse of text the attacker could write (a cron line, a unit, a log line).
    Parsed,
    /// A heuristic (mtime order, "launched by this cron entry", port match).
    Suspected,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Observed => "observed",
            Level::Parsed => "parsed",
            Level::Suspected => "suspected",
        }
    }

    /// STIX confidence for the level (High / Med / Low on the 0-100 scale).
    pub fn confidence(self) -> u8 {
        match self {
            Level::Observed => 85,
            Level::Parsed => 50,
            Level::Suspected => 15,
        }
    }
}

/// What an edge says about its two ends (`source relation target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// process → parent process.
    ChildOf,
    /// process → the file its `/proc/PID/exe` points at.
    RunsImage,
    /// process → an executable mapping (library, deleted file, memfd).
    Maps,
    /// process → remote endpoint of a socket it holds.
    OwnsSocket,
    /// process → local endpoint it listens on.
    ListensOn,
    /// process → the account it runs as.
    RunsAs,
    /// endpoint → a domain name it was resolved from.
    ResolvedFrom,
    /// persistence entry, history file or process → a file, URL, domain or endpoint its text names.
    References,
    /// URL → the file it was probably saved to.
    DownloadedTo,
    /// URL → the domain or endpoint that serves it.
    HostedOn,
    /// persistence entry → a process it probably (or, through its cgroup, certainly) started.
    Launches,
    /// ssh key → the account it lets in.
    Authorizes,
    /// account → a persistence entry in a file it owns.
    Owns,
    /// file → another file node the same path named at capture time (a different inode, or the same
    /// file seen through another device number, as overlayfs reports for running images).
    SamePath,
    /// finding → what it is about.
    Concerns,
}

impl Relation {
    pub fn name(self) -> &'static str {
        match self {
            Relation::ChildOf => "child_of",
            Relation::RunsImage => "runs_image",
            Relation::Maps => "maps",
            Relation::OwnsSocket => "owns_socket",
            Relation::ListensOn => "listens_on",
            Relation::RunsAs => "runs_as",
            Relation::ResolvedFrom => "resolved_from",
            Relation::References => "references",
            Relation::DownloadedTo => "downloaded_to",
            Relation::HostedOn => "hosted_on",
            Relation::Launches => "launches",
            Relation::Authorizes => "authorizes",
            Relation::Owns => "owns",
            Relation::SamePath => "same_path",
            Relation::Concerns => "concerns",
        }
    }
}

/// One node. `label` and every attribute value are display-safe (escaped printable ASCII).
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// The host bytes the label was made from, as hex, when they came from the host.
    pub raw_hex: Option<String>,
    pub verdict: NodeVerdict,
    pub stage: Stage,
    pub attrs: BTreeMap<String, String>,
    /// Rule ids of the findings about this node.
    pub findings: BTreeSet<String>,
    /// ATT&CK ids of those findings.
    pub attack: BTreeSet<String>,
    /// An endpoint or domain a process's command line names as its mining pool (`-o host:port`).
    pub named_as_pool: bool,
}

impl Node {
    pub fn new(id: String, kind: NodeKind, label: String) -> Node {
        Node {
            id,
            kind,
            label,
            raw_hex: None,
            verdict: NodeVerdict::Unjudged,
            stage: kind.default_stage(),
            attrs: BTreeMap::new(),
            findings: BTreeSet::new(),
            named_as_pool: false,
            attack: BTreeSet::new(),
        }
    }

    /// Sets the label from host bytes: escaped and shortened for display, raw kept as hex.
    pub fn with_raw_label(mut self, raw: &[u8]) -> Node {
        self.label = short(&escape_bytes(raw), LABEL_MAX);
        self.raw_hex = Some(hex::encode(raw));
        self
    }

    pub fn attr(mut self, key: &str, value: impl Into<String>) -> Node {
        self.attrs.insert(key.to_owned(), value.into());
        self
    }
}

/// One edge: a relation, how sure we are of it, the rule that made it and what it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub relation: Relation,
    pub level: Level,
    /// The rule that produced the edge (`proc.ppid`, `cron.line`, a finding's rule id, ...).
    pub rule: String,
    /// Escaped evidence lines (artifact and what was read).
    pub evidence: Vec<String>,
    /// An ATT&CK id the edge illustrates, if any.
    pub attack: Option<String>,
}

impl Edge {
    pub fn new(relation: Relation, level: Level, rule: &str, evidence: impl Into<String>) -> Edge {
        Edge {
            relation,
            level,
            rule: rule.to_owned(),
            evidence: vec![evidence.into()],
            attack: None,
        }
    }

    pub fn confidence(&self) -> u8 {
        self.level.confidence()
    }
}

/// Longest label shown on a node.
pub const LABEL_MAX: usize = 48;

/// Shortens escaped (ASCII) text to `max` characters, keeping the end (the file name) of long paths.
pub fn short(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(3);
    let tail: String = text.chars().skip(count - keep).collect();
    format!("...{tail}")
}

/// `proc:{boot}:{pid}:{starttime}`.
pub fn proc_id(boot_id: &str, pid: i32, start_ticks: u64) -> String {
    format!(
        "proc:{}:{pid}:{start_ticks}",
        escape_bytes(boot_id.as_bytes())
    )
}

/// `file:{dev}:{ino}`.
pub fn file_id(id: FileId) -> String {
    format!("file:{}:{}", id.dev, id.ino)
}

/// A file known only by path (not captured, or no inode recorded): `file:path:{escaped path}`.
pub fn file_path_id(path: &[u8]) -> String {
    format!("file:path:{}", escape_bytes(path))
}

/// The node id of a file record: by inode when the record has one, else by path.
pub fn file_record_id(f: &minetrace_schemas::records::file::FileRecord) -> String {
    if f.ino != 0 {
        file_id(FileId {
            dev: f.dev,
            ino: f.ino,
        })
    } else {
        file_path_id(f.path.as_bytes())
    }
}

/// `ep:{ip}:{port}` (IPv6 as `ep:[addr]:port`).
pub fn endpoint_id(addr: &str) -> String {
    format!("ep:{}", escape_bytes(addr.as_bytes()))
}

pub fn domain_id(name: &str) -> String {
    format!(
        "domain:{}",
        escape_bytes(name.to_ascii_lowercase().as_bytes())
    )
}

pub fn url_id(url: &[u8]) -> String {
    format!("url:{}", escape_bytes(url))
}

pub fn user_id(uid: u32) -> String {
    format!("user:{uid}")
}

/// An account known only by name (no passwd line for it).
pub fn user_name_id(name: &[u8]) -> String {
    format!("user:name:{}", escape_bytes(name))
}

pub fn sshkey_id(fingerprint: &str) -> String {
    format!("sshkey:{}", escape_bytes(fingerprint.as_bytes()))
}

/// `persist:{kind}:{path}:{line}`.
pub fn persist_id(kind: &str, path: &[u8], line: u32) -> String {
    format!("persist:{kind}:{}:{line}", escape_bytes(path))
}

pub fn wallet_id(addr: &[u8]) -> String {
    format!("wallet:{}", escape_bytes(addr))
}

pub fn firewall_rule_id(rule: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(rule);
    format!(
        "fwrule:{}",
        hex::encode(digest.get(..8).unwrap_or_default())
    )
}

pub fn kernel_module_id(name: &str) -> String {
    format!("kmod:{}", escape_bytes(name.as_bytes()))
}

/// `finding:{rule}:{n}`, n counting findings of the same rule from 0 in document order.
pub fn finding_id(rule: &str, n: usize) -> String {
    format!("finding:{}:{n}", escape_bytes(rule.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_escape_host_bytes() {
        assert_eq!(file_path_id(b"/tmp/a\nb"), "file:path:/tmp/a\\x0ab");
        assert_eq!(
            persist_id("cron", b"/etc/cron.d/x", 3),
            "persist:cron:/etc/cron.d/x:3"
        );
        assert_eq!(proc_id("b00t", 42, 9001), "proc:b00t:42:9001");
        assert_eq!(domain_id("Pool.Example"), "domain:pool.example");
    }

    #[test]
    fn short_keeps_the_end() {
        assert_eq!(short("abcdef", 10), "abcdef");
        assert_eq!(short("/very/long/path/to/kdevtmpfsi", 13), "...kdevtmpfsi");
    }

    #[test]
    fn attack_ids_map_to_stages() {
        assert_eq!(Stage::of_attack("T1496"), Some(Stage::Impact));
        assert_eq!(Stage::of_attack("T1053.003"), Some(Stage::Persistence));
        assert_eq!(Stage::of_attack("T1574.006"), Some(Stage::Evasion));
        assert_eq!(Stage::of_attack("T9999"), None);
    }
}
