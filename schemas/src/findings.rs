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

/// What the remediation may do with a subject, as the detector that names it declares.
///
/// The planner never acts on a subject because it appears in a finding: it acts on **artifacts** (and
/// only when the confidence gates let it), preserves **evidence**, and leaves **context** alone. It also
/// refuses, whatever a detector declares, to modify or remove files of the evidence classes (logs,
/// journals, shell histories, web server logs, the snapshot's own inputs).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Made or changed by the intrusion: a process to kill, a file to quarantine, a line or key to
    /// remove, an endpoint to block, an account to lock. The detector judged the thing itself (its
    /// content, what runs it, what it does), not a mention of it in text the attacker wrote.
    Artifact,
    /// Records the intrusion (an auth log, a journal, a shell history, a web server log): a copy is
    /// preserved before anything is destroyed; it is never modified or removed.
    Evidence,
    /// Says where or whose (the account owning a crontab, the file holding a flagged line, a path read
    /// from an attacker's command line): shown with the finding, never acted on.
    Context,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Artifact => "artifact",
            Role::Evidence => "evidence",
            Role::Context => "context",
        }
    }

    /// The role of a subject two parts of a detector name with different roles: evidence wins (it is
    /// never touched), then artifact, then context.
    pub fn merge(self, other: Role) -> Role {
        match (self, other) {
            (Role::Evidence, _) | (_, Role::Evidence) => Role::Evidence,
            (Role::Artifact, _) | (_, Role::Artifact) => Role::Artifact,
            _ => Role::Context,
        }
    }

    /// The role a subject gets when its detector does not declare one: accounts are context (they
    /// appear as owners in most findings; locking one is a judgement a detector makes explicitly),
    /// everything else is an artifact.
    pub fn default_for(subject: &Subject) -> Role {
        match subject {
            Subject::Account { .. } => Role::Context,
            _ => Role::Artifact,
        }
    }
}

/// One subject of a finding with its role. In JSON the subject's fields and `role` sit in one object:
/// `{"kind": "file", "path": ..., "sha256": ..., "role": "artifact"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct FindingSubject {
    #[serde(flatten)]
    pub subject: Subject,
    pub role: Role,
}

impl FindingSubject {
    /// A subject with the default role of its kind ([`Role::default_for`]).
    pub fn new(subject: Subject) -> FindingSubject {
        let role = Role::default_for(&subject);
        FindingSubject { subject, role }
    }

    pub fn with_role(subject: Subject, role: Role) -> FindingSubject {
        FindingSubject { subject, role }
    }
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
    /// What it is about, each with its [`Role`].
    pub subjects: Vec<FindingSubject>,
    /// What was seen, one line each, escaped.
    pub evidence: Vec<String>,
}

impl Finding {
    /// The subjects without their roles.
    pub fn iter_subjects(&self) -> impl Iterator<Item = &Subject> {
        self.subjects.iter().map(|s| &s.subject)
    }

    /// Whether `s` is a subject (in any role).
    pub fn has_subject(&self, s: &Subject) -> bool {
        self.iter_subjects().any(|x| x == s)
    }

    /// The role of subject `s`, when it is one.
    pub fn role_of(&self, s: &Subject) -> Option<Role> {
        self.subjects
            .iter()
            .find(|x| x.subject == *s)
            .map(|x| x.role)
    }
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
    /// How the attacker got in: candidates best first; the first is `unknown` when nothing in the
    /// bundle supports a conclusion. Empty on a clean host.
    #[serde(default)]
    pub entry: Vec<EntryCandidate>,
}

/// How an attacker got onto the host. Persistence (a key added, a crontab written) is never an entry: it
/// points at one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryVector {
    /// A network service ran the attacker's code (unauthenticated Redis, an exposed Docker API, a
    /// token-less Jupyter, an exploited Confluence or WebLogic, a database's shell-out, the kubelet):
    /// `service` names it.
    ExposedService,
    /// A web application ran the attacker's code, typically through a web shell: `service` names the
    /// web server or runtime whose log or process tree shows it.
    WebApplication,
    /// Password guessing over SSH that ended in an accepted login (the brute-force finding's judgement).
    SshBruteForce,
    /// A login with an SSH key the findings judge to be the attacker's (stolen, or planted earlier).
    SshKey,
    /// A login from another host of the operator's own network in the intrusion window: the attacker
    /// came from a host that is compromised too.
    LateralMovement,
    /// The attacker's code came with software the operator installed: a container image, a package.
    SupplyChain,
    /// Nothing in the bundle supports a conclusion.
    Unknown,
}

impl EntryVector {
    pub fn name(self) -> &'static str {
        match self {
            EntryVector::ExposedService => "exposed_service",
            EntryVector::WebApplication => "web_application",
            EntryVector::SshBruteForce => "ssh_brute_force",
            EntryVector::SshKey => "ssh_key",
            EntryVector::LateralMovement => "lateral_movement",
            EntryVector::SupplyChain => "supply_chain",
            EntryVector::Unknown => "unknown",
        }
    }
}

/// How directly the evidence shows a fact (the attack graph's edge levels).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceLevel {
    /// A kernel or filesystem fact at capture time (a process's parent, a socket, a file's owner).
    Observed,
    /// Read from text anyone with the right access could write (a log line, a cron line, a config).
    Parsed,
    /// A heuristic (times that line up, an owner in common).
    Suspected,
}

impl EvidenceLevel {
    pub fn name(self) -> &'static str {
        match self {
            EvidenceLevel::Observed => "observed",
            EvidenceLevel::Parsed => "parsed",
            EvidenceLevel::Suspected => "suspected",
        }
    }

    /// The STIX confidence of the level (85 / 50 / 15).
    pub fn confidence(self) -> u8 {
        match self {
            EvidenceLevel::Observed => 85,
            EvidenceLevel::Parsed => 50,
            EvidenceLevel::Suspected => 15,
        }
    }
}

/// One way the attacker may have got in, with what supports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryCandidate {
    pub vector: EntryVector,
    /// The service that ran the attacker's code (`redis`, `docker`, `jupyter`, `nginx`, ...), for
    /// exposed services, web applications and images.
    pub service: Option<String>,
    /// Where the attacker came from when the evidence says: a peer address, another host, an image.
    pub source: Option<String>,
    /// 0-100, how strongly the evidence supports this candidate (STIX scale: 15 low, 50 medium, 85 high).
    pub confidence: u8,
    /// The strongest level among its evidence.
    pub level: EvidenceLevel,
    /// When it happened (RFC 3339, UTC) when the evidence dates it.
    pub time: Option<String>,
    /// One sentence, escaped.
    pub summary: String,
    /// What supports it, strongest first, one line each, escaped (`path:line` for log lines).
    pub evidence: Vec<String>,
    /// Rule ids of the findings it rests on.
    pub rules: Vec<String>,
    /// What it is about: the service process, the account logged into, the key, the log files.
    pub subjects: Vec<Subject>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_and_its_role_are_one_json_object_and_round_trip() {
        let s = FindingSubject::with_role(
            Subject::File {
                path: RawBytes::new(b"/var/log/auth.log\xff".to_vec()),
                sha256: None,
            },
            Role::Evidence,
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["kind"], "file");
        assert_eq!(json["role"], "evidence");
        assert_eq!(json["path"]["hex"], "2f7661722f6c6f672f617574682e6c6f67ff");
        let back: FindingSubject = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn default_roles_and_merging() {
        let account = Subject::Account {
            name: RawBytes::from("git"),
            uid: Some(1001),
        };
        assert_eq!(FindingSubject::new(account).role, Role::Context);
        let ep = Subject::Endpoint {
            addr: "127.66.0.1:3333".into(),
        };
        assert_eq!(FindingSubject::new(ep).role, Role::Artifact);
        assert_eq!(Role::Artifact.merge(Role::Evidence), Role::Evidence);
        assert_eq!(Role::Context.merge(Role::Artifact), Role::Artifact);
        assert_eq!(Role::Context.merge(Role::Context), Role::Context);
    }
}
