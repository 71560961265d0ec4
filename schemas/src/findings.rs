//! The analyzer's verdict and findings: the contract between detection and every output
//! (terminal summary, `findings.json`, report, graph, exports, remediation script).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::records::host::HostIdentity;
use crate::RawBytes;

/// Value of `schema` in `findings.json`.
pub const FINDINGS_SCHEMA: &str = "minetrace.findings/1";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Compromised,
    Suspicious,
    Clean,
}

/// What a finding is about. Each kind carries what a responder needs to find the thing on the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Process {
        pid: i32,
        start_ticks: u64,
        exe: Option<RawBytes>,
    },
    File {
        path: RawBytes,
        sha256: Option<String>,
    },
    Endpoint {
        /// `IP:PORT`, IPv6 as `[addr]:port`.
        addr: String,
    },
    SshKey {
        /// As `ssh-keygen -l` prints it: `SHA256:<base64 without padding>`.
        fingerprint: String,
        path: RawBytes,
        line: u32,
    },
    Persistence {
        path: RawBytes,
        line: u32,
    },
    Account {
        name: RawBytes,
        uid: Option<u32>,
    },
    FirewallRule {
        rule: RawBytes,
    },
    KernelModule {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable rule id (`MT-PROC-001`, ...): filters and allowlists key on it.
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    pub family: Option<String>,
    /// MITRE ATT&CK technique ids.
    pub attack: Vec<String>,
    pub subjects: Vec<Subject>,
    /// What was seen, one line each, escaped.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingsDocument {
    /// Always `minetrace.findings/1`.
    pub schema: String,
    pub verdict: Verdict,
    /// True when the bundle failed verification and was analysed anyway on request.
    pub tampered: bool,
    pub bundle_sha256: String,
    pub host: HostIdentity,
    pub analyzer_version: String,
    pub findings: Vec<Finding>,
}
