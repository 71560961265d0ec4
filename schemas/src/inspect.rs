//! `minetrace inspect BUNDLE VIEW --json`: one document per view, for scripts and other tools. Host bytes
//! are exact ([`RawBytes`]: a string when UTF-8, `{"hex": ...}` otherwise); the JSON Schema is
//! `schemas/json/inspect.schema.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;
use crate::records::command::CommandRecord;
use crate::records::executable::ExecutableRecord;
use crate::records::file::FileRecord;
use crate::records::host::HostRecord;
use crate::records::socket::SocketRecord;
use crate::RawBytes;

/// The value of [`InspectDocument::schema`].
pub const INSPECT_SCHEMA: &str = "minetrace.inspect/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InspectDocument {
    /// `minetrace.inspect/1`.
    pub schema: String,
    /// SHA-256 of the bundle inspected.
    pub bundle_sha256: String,
    pub hostname: String,
    #[serde(flatten)]
    pub view: InspectView,
}

/// What one view shows; `view` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum InspectView {
    Processes {
        processes: Vec<ProcessView>,
    },
    Sockets {
        sockets: Vec<SocketRecord>,
    },
    Executables {
        executables: Vec<ExecutableRecord>,
    },
    Files {
        files: Vec<FileRecord>,
    },
    /// Every persisted line the analyzer reads, and the files they are in.
    Persistence {
        entries: Vec<PersistenceEntryView>,
        files: Vec<FileRecord>,
    },
    Ssh {
        keys: Vec<SshKeyView>,
        /// Lines of key files that hold no key sshd would accept.
        invalid_key_lines: Vec<LineView>,
        known_hosts: Vec<KnownHostView>,
        /// `sshd_config` with its includes expanded, in the order sshd reads it.
        sshd: Vec<SshdSettingView>,
        files: Vec<FileRecord>,
    },
    Firewall {
        /// Tool captures (`iptables-save`, `nft`) and saved rule files, each with its rules.
        rulesets: Vec<RulesetView>,
        commands: Vec<CommandRecord>,
        files: Vec<FileRecord>,
    },
    Host {
        host: Box<HostRecord>,
        /// The collection log: per-artifact counts, timings and errors.
        manifest: Box<Manifest>,
        /// Warnings met while reading the bundle.
        warnings: Vec<String>,
    },
    Timeline {
        /// The range asked for (ISO 8601 UTC), when any.
        from: Option<String>,
        to: Option<String>,
        events: Vec<TimelineEventView>,
        /// Events outside the range.
        filtered_out: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessView {
    pub pid: i32,
    pub ppid: i32,
    pub start_ticks: u64,
    /// Start time, ISO 8601 UTC, when the boot time is known.
    pub started: Option<String>,
    pub uid: u32,
    pub euid: u32,
    pub comm: RawBytes,
    pub argv: Vec<RawBytes>,
    pub exe: Option<RawBytes>,
    pub exe_deleted: bool,
    pub exe_memfd: bool,
    pub exe_sha256: Option<String>,
    pub state: String,
    pub threads: i64,
    pub cpu_ticks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PersistenceEntryView {
    /// `cron`, `systemd`, `preload`, ...
    pub kind: String,
    pub path: RawBytes,
    pub line: u32,
    /// As written (`*/5 * * * *`, `OnCalendar=daily`).
    pub schedule: Option<String>,
    pub run_as: Option<RawBytes>,
    pub command: RawBytes,
    /// False for a line the mechanism would reject (kept: it is still evidence).
    pub runs: bool,
    pub urls: Vec<RawBytes>,
    pub paths: Vec<RawBytes>,
    /// The line as written.
    pub raw: RawBytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SshKeyView {
    pub path: RawBytes,
    pub line: u32,
    /// The account whose home holds the file, when known.
    pub owner: Option<RawBytes>,
    /// `ssh-ed25519`, `ssh-rsa`, ...
    pub key_type: String,
    /// As `ssh-keygen -l` prints it: `RSA`, `ED25519`, ...
    pub algorithm: String,
    pub bits: Option<u32>,
    /// `SHA256:...` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub comment: RawBytes,
    /// The options field as written (`command="...",no-pty`).
    pub options: Option<RawBytes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LineView {
    pub path: RawBytes,
    pub line: u32,
    pub text: RawBytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KnownHostView {
    pub path: RawBytes,
    pub line: u32,
    /// `@cert-authority` or `@revoked`.
    pub marker: Option<RawBytes>,
    /// The host patterns as written (`|1|salt|hash` when hashed).
    pub hosts: RawBytes,
    pub hashed: bool,
    pub key_type: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SshdSettingView {
    /// Lowercased (`permitrootlogin`).
    pub keyword: String,
    pub args: Vec<RawBytes>,
    pub path: RawBytes,
    pub line: u32,
    /// Line of the enclosing `Match` block, when inside one.
    pub in_match: Option<u32>,
    /// Whether it is the value sshd uses outside `Match` blocks (the first one it reads).
    pub in_force: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RulesetView {
    /// The capture's name (`iptables-save`) or the saved file's path.
    pub origin: RawBytes,
    pub tables: Vec<TableView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TableView {
    pub name: String,
    pub chains: Vec<ChainView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChainView {
    pub name: RawBytes,
    /// Rule lines as written (`-A INPUT -s 1.2.3.4/32 -j DROP`), with their line numbers.
    pub rules: Vec<LineView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEventView {
    /// ISO 8601 UTC with microseconds.
    pub time: String,
    /// What the time is (`mtime (content modified; settable with touch)`, ...).
    pub description: String,
    pub message: String,
    /// Where it was read.
    pub source: String,
    /// The graph node it is about.
    pub node: Option<String>,
    /// `observed`, `parsed` or `suspected`.
    pub level: String,
    /// True for times an attacker can set freely.
    pub forgeable: bool,
}
