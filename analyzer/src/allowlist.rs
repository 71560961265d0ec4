//! The operator's own, declared software (`--allow FILE`): a documented mining service, an admin's key,
//! a monitoring endpoint. Findings whose every subject is allowlisted drop to `info` and say why.
//!
//! Format: one `kind value` per line, `#` comments. Kinds: `hash` (sha256), `path` (exact, or a prefix
//! ending in `/`), `process` (process name), `service` (unit name), `key` (SHA256:... fingerprint),
//! `endpoint` (IP:PORT), `account`.

use std::path::Path;

use anyhow::{Context, Result};
use minetrace_schemas::findings::{Finding, Severity, Subject};

#[derive(Debug, Default, Clone)]
pub struct Allowlist {
    entries: Vec<(String, String)>,
}

const KINDS: &[&str] = &[
    "hash", "path", "process", "service", "key", "endpoint", "account",
];

impl Allowlist {
    pub fn load(path: &Path) -> Result<Allowlist> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read allowlist {}", path.display()))?;
        Allowlist::parse(&path.display().to_string(), &text)
    }

    pub fn parse(origin: &str, text: &str) -> Result<Allowlist> {
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (kind, value) = line
                .split_once(char::is_whitespace)
                .map(|(k, v)| (k, v.trim()))
                .unwrap_or((line, ""));
            if !KINDS.contains(&kind) || value.is_empty() {
                anyhow::bail!(
                    "{origin}:{}: expected `KIND VALUE` with KIND one of {}, got {line:?}",
                    n + 1,
                    KINDS.join(", ")
                );
            }
            entries.push((kind.to_owned(), value.to_owned()));
        }
        Ok(Allowlist { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn has(&self, kind: &str, value: &str) -> bool {
        self.entries.iter().any(|(k, v)| {
            k == kind
                && (v == value
                    || (kind == "path" && v.ends_with('/') && value.starts_with(v.as_str()))
                    || (kind == "hash" && v.eq_ignore_ascii_case(value)))
        })
    }

    /// The allowlist entry covering a subject, if any.
    fn covers(&self, s: &Subject) -> Option<String> {
        let path_or_hash = |path: &[u8], sha: Option<&str>| {
            let p = String::from_utf8_lossy(path);
            if self.has("path", &p) {
                return Some(format!("path {p}"));
            }
            let base = p.rsplit('/').next().unwrap_or_default();
            if self.has("service", base) {
                return Some(format!("service {base}"));
            }
            sha.filter(|h| self.has("hash", h))
                .map(|h| format!("hash {h}"))
        };
        match s {
            Subject::Process { exe, .. } => exe.as_ref().and_then(|e| {
                path_or_hash(e.as_bytes(), None).or_else(|| {
                    let lossy = e.lossy();
                    let base = lossy.rsplit('/').next().unwrap_or_default();
                    self.has("process", base).then(|| format!("process {base}"))
                })
            }),
            Subject::File { path, sha256 } => path_or_hash(path.as_bytes(), sha256.as_deref()),
            Subject::Persistence { path, .. } => path_or_hash(path.as_bytes(), None),
            Subject::Endpoint { addr } => self
                .has("endpoint", addr)
                .then(|| format!("endpoint {addr}")),
            Subject::SshKey { fingerprint, .. } => self
                .has("key", fingerprint)
                .then(|| format!("key {fingerprint}")),
            Subject::Account { name, .. } => {
                let n = name.lossy();
                self.has("account", &n).then(|| format!("account {n}"))
            }
            Subject::FirewallRule { .. } | Subject::KernelModule { .. } => None,
        }
    }

    /// Lowers a finding to `info` when every subject is allowlisted, noting which entries covered it.
    pub fn apply(&self, finding: &mut Finding) {
        if self.entries.is_empty() || finding.subjects.is_empty() {
            return;
        }
        let covered: Option<Vec<String>> = finding
            .subjects
            .iter()
            .map(|s| self.covers(&s.subject))
            .collect();
        if let Some(reasons) = covered {
            finding.severity = Severity::Info;
            finding.evidence.push(format!(
                "allowlisted by the operator ({}); reported for the record only",
                reasons.join(", ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::finding::{finding, FindingExt};
    use minetrace_schemas::RawBytes;

    /// A high finding about a file under `/opt/miner/` and an endpoint on `127.0.0.1:3333`.
    fn miner_finding() -> Finding {
        finding(&crate::detect::rules::RUN_001, Severity::High)
            .subject(Subject::File {
                path: RawBytes::from("/opt/miner/xmrig"),
                sha256: None,
            })
            .subject(Subject::Endpoint {
                addr: "127.0.0.1:3333".into(),
            })
    }

    #[test]
    fn fully_covered_finding_drops_to_info() {
        let allow = Allowlist::parse("a", "path /opt/miner/\nendpoint 127.0.0.1:3333\n").unwrap();
        let mut f = miner_finding();
        allow.apply(&mut f);
        assert_eq!(f.severity, Severity::Info);
    }

    #[test]
    fn partly_covered_finding_keeps_severity() {
        let allow = Allowlist::parse("a", "path /opt/miner/\n").unwrap();
        let mut f = miner_finding();
        allow.apply(&mut f);
        assert_eq!(f.severity, Severity::High);
    }

    #[test]
    fn bad_kind_is_an_error_naming_the_line() {
        let err = Allowlist::parse("allow.txt", "path /x\nbogus y\n").unwrap_err();
        assert!(err.to_string().contains("allow.txt:2"), "{err}");
    }
}
