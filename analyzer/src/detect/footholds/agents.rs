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
        let mut hits = Vec::new();
        let mut file_points = 0;
        for (n, raw) in numbered_lines(bytes) {
            if raw.trim_ascii().starts_with(b"#") {
                continue;
            }
            let lossy = String::from_utf8_lossy(raw);
            if let Some(v) = ctx.iocs.find_in(Kind::AgentTamper, &lossy) {
                if hits.len() < 20 {
                    hits.push((n, raw, v.to_owned()));
                }
            }
            file_points += common::score_shell(raw, ctx.iocs).0.points;
        }
        if hits.is_empty() {
            continue;
        }
        let sev = if file_points > 0 {
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
        if file_points > 0 {
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
