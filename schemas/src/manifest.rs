//! `manifest.json`, the last member of every bundle: what is inside, who made it, and what went wrong.
//!
//! It is JSON rather than postcard so a responder can read it with nothing but `tar` and `zstd`, and its
//! schema is committed under `schemas/json/` for other tools.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::records::host::{CollectionMode, HostIdentity};

/// Member name of the manifest; it is always the last member.
pub const MANIFEST_MEMBER: &str = "manifest.json";
/// Name written in `format`, so a stray JSON file is not mistaken for a manifest.
pub const BUNDLE_FORMAT: &str = "minetrace.bundle";
/// Bundle layout version. Bumped when member names or the manifest change incompatibly.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// Always `minetrace.bundle`.
    pub format: String,
    pub format_version: u32,
    pub collector: CollectorInfo,
    pub mode: CollectionMode,
    /// For dead-box collections, the image root that was read (escaped for display).
    pub root: Option<String>,
    pub host: HostIdentity,
    pub started_at: String,
    pub ended_at: String,
    pub started_unix_ms: i64,
    pub ended_unix_ms: i64,
    /// Every member except the manifest itself, in stream order.
    pub members: Vec<MemberEntry>,
    /// Per-artifact timings and errors: what the collection could not see is as important as what it saw.
    pub artifacts: Vec<ArtifactLog>,
    /// What the collector deliberately left out (its own processes, environment values, ...).
    pub exclusions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CollectorInfo {
    pub name: String,
    pub version: String,
    /// SHA-256 of the collector binary that ran, so its integrity can be checked afterwards.
    pub sha256: Option<String>,
    /// The command line it ran with (escaped).
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArtifactLog {
    /// Artifact family (`processes`, `sockets`, `cron`, ...).
    pub name: String,
    pub duration_ms: u64,
    /// How many items were recorded.
    pub items: u64,
    pub errors: Vec<ArtifactError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArtifactError {
    /// What could not be read (`/proc/1234/environ`, `/etc/shadow`, ...), escaped.
    pub target: String,
    pub message: String,
}

/// RFC 3339 UTC text for a time in milliseconds since the epoch.
pub fn format_unix_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{ms}ms"))
}

/// RFC 3339 UTC text for whole seconds since the epoch.
pub fn format_unix_secs(secs: i64) -> String {
    format_unix_ms(secs.saturating_mul(1000))
}
