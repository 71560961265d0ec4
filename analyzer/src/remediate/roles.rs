//! The planner's own floor under the roles detectors declare: files of the evidence classes are never
//! modified or removed, whatever a finding says about them. They are the record of the intrusion (logs,
//! journals, shell histories, web server logs) or the snapshot's own inputs (the collector that ran and
//! the bundle it wrote); an operator who loses them cannot investigate again.
//!
//! The classes are indicator data (path class `evidence` from `evidence_dir`, and `evidence_name` in
//! `indicators/system.txt`), so an `--iocs` file can add an application's log directory; shell histories
//! are the model's one list ([`crate::model::is_shell_history`]).

use minetrace_schemas::escape_bytes;

use crate::indicators::{Indicators, Kind, PathClass, PathClasses};
use crate::model::HostModel;

/// Why a path is evidence, for the plan's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceClass {
    /// Under a log, journal or audit directory.
    LogDir,
    /// A history or server log by its name (or a rotation of it).
    Name(String),
    /// The collector binary that took the snapshot.
    Collector,
    /// The bundle the collector wrote.
    Bundle,
}

impl EvidenceClass {
    pub fn describe(&self) -> String {
        match self {
            EvidenceClass::LogDir => "a file under a log, journal or audit directory".into(),
            EvidenceClass::Name(n) => format!("a {} file", escape_bytes(n.as_bytes())),
            EvidenceClass::Collector => "the collector that took the snapshot".into(),
            EvidenceClass::Bundle => "the bundle the snapshot was written to".into(),
        }
    }
}

/// The evidence classes of one analysis.
pub struct EvidenceClasses {
    paths: PathClasses,
    names: Vec<String>,
    collector_sha256: Option<String>,
    outputs: Vec<Vec<u8>>,
}

/// Absolute output paths in the collector's escaped argv (`-o X`, `--output X`, `--output=X`, `-oX`).
fn output_paths(argv: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut it = argv.iter().skip(1).peekable();
    while let Some(a) = it.next() {
        let value = if a == "-o" || a == "--output" {
            it.next().cloned()
        } else if let Some(v) = a.strip_prefix("--output=") {
            Some(v.to_owned())
        } else {
            a.strip_prefix("-o")
                .filter(|v| !v.is_empty() && !a.starts_with("--"))
                .map(str::to_owned)
        };
        if let Some(v) = value.filter(|v| v.starts_with('/')) {
            out.push(v.into_bytes());
        }
    }
    out
}

impl EvidenceClasses {
    pub fn new(model: &HostModel, iocs: &Indicators) -> EvidenceClasses {
        let collector = &model.manifest.collector;
        EvidenceClasses {
            paths: iocs.paths().clone(),
            names: iocs.set(Kind::EvidenceName).map(str::to_owned).collect(),
            collector_sha256: collector.sha256.clone(),
            outputs: output_paths(&collector.argv),
        }
    }

    /// The class `path` (with content hash `sha256`, when known) belongs to, if any.
    pub fn class_of(&self, path: &[u8], sha256: Option<&str>) -> Option<EvidenceClass> {
        if let (Some(want), Some(have)) = (&self.collector_sha256, sha256) {
            if want.eq_ignore_ascii_case(have) {
                return Some(EvidenceClass::Collector);
            }
        }
        if self.outputs.iter().any(|o| o.as_slice() == path) {
            return Some(EvidenceClass::Bundle);
        }
        if self.paths.is(PathClass::Evidence, path) {
            return Some(EvidenceClass::LogDir);
        }
        if crate::model::is_shell_history(path) {
            return Some(EvidenceClass::Name("shell history".into()));
        }
        let lower = path.to_ascii_lowercase();
        let name = lower.rsplit(|b| *b == b'/').next().unwrap_or_default();
        self.names
            .iter()
            .find(|n| {
                name.strip_prefix(n.as_bytes()).is_some_and(|rest| {
                    rest.is_empty() || matches!(rest.first(), Some(b'.' | b'-'))
                })
            })
            .map(|n| EvidenceClass::Name(n.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture;

    #[test]
    fn logs_histories_and_the_snapshot_inputs_are_evidence() {
        let mut model = fixture::model(vec![], vec![]);
        model.manifest.collector.sha256 = Some("ab".repeat(32));
        model.manifest.collector.argv = vec![
            "minetrace-collect".into(),
            "-o".into(),
            "/root/host.tar.zst".into(),
        ];
        let ev = EvidenceClasses::new(&model, &Indicators::builtin());
        let is = |p: &[u8]| ev.class_of(p, None).is_some();
        assert!(is(b"/var/log/auth.log"));
        assert!(is(b"/var/log/journal/abc/system.journal"));
        assert!(is(b"/run/log/journal/x"));
        assert!(is(b"/root/.bash_history"));
        assert!(is(b"/home/a/.zsh_history"));
        assert!(is(b"/srv/app/logs/access.log.2.gz"));
        assert!(is(b"/root/host.tar.zst"));
        assert!(ev
            .class_of(b"/tmp/renamed", Some(&"AB".repeat(32)))
            .is_some_and(|c| c == EvidenceClass::Collector));
        assert!(!is(b"/var/spool/cron/crontabs/root"));
        assert!(!is(b"/tmp/.x/access.logger"));
        assert!(!is(b"/tmp/.history2"));
        assert!(!is(b"/var/lib/app/x"));
    }

    #[test]
    fn output_paths_in_every_spelling() {
        let argv: Vec<String> = ["c", "-o", "/a", "--output=/b", "-o/c", "--output", "rel"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            output_paths(&argv),
            vec![b"/a".to_vec(), b"/b".to_vec(), b"/c".to_vec()]
        );
    }
}
