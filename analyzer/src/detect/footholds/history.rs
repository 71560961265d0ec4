//! Shell histories and what they show:
//! - `MT-EVA-010` history disabled or wiped (T1070.003): `HISTFILE=/dev/null`, `unset HISTFILE`,
//!   `history -c`, `rm ~/.bash_history` in a history or a start-up file, or a history file that is a
//!   symlink to `/dev/null`. In a start-up file it persists (subject `Persistence{path,line}`, medium);
//!   in a history it was typed (low, medium with two or more).
//! - `MT-LAT-001` lateral movement and scanning typed in a history (T1021.004, T1046): `pnscan`,
//!   `masscan`, `zmap`, `sshpass`, `hydra` (medium); `ssh`/`scp` loops over `known_hosts` (medium);
//!   a plain `ssh`/`scp` is what admins do and is not reported.
//!
//! Histories are evidence, not persistence: their lines are named by file and line in the evidence,
//! never as `Persistence` subjects, so no remediation edits them.

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::file::FileKind;

use super::common::{self, account_subject, describe_file, quote_line};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::model::persistence::PersistenceKind;
use crate::parse::shell_line;
use crate::parse::{contains, numbered_lines};

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let mut out = Vec::new();
    // Start-up files that switch history off for every login.
    for (file, bytes, _) in ctx
        .model
        .persistence_files(|k| k == PersistenceKind::ShellStartup)
    {
        for (n, raw) in numbered_lines(bytes) {
            if raw.trim_ascii().starts_with(b"#") {
                continue;
            }
            let s = shell_line::analyze(raw);
            if s.history_tamper.is_empty() {
                continue;
            }
            let mut f = finding(&rules::EVA_010, Severity::Medium)
                .subject(persistence_subject(&file.path, n))
                .subject_as(file_subject(file), Role::Context)
                .evidence(quote_line(&file.path, n, raw));
            for t in s.history_tamper {
                f = f.evidence(t);
            }
            out.push(f);
        }
    }
    for f in ctx
        .model
        .files
        .iter()
        .filter(|f| common::is_history_path(f.path.as_bytes()))
    {
        let owner = accounts
            .owner_of_path(f.path.as_bytes())
            .map(|e| e.name.clone());
        if f.kind == FileKind::Symlink
            && f.link_target
                .as_ref()
                .is_some_and(|t| t.as_bytes() == b"/dev/null")
        {
            let mut x = finding(&rules::EVA_010, Severity::Medium)
                .subject(file_subject(f))
                .evidence(format!("{} -> /dev/null", f.path.escaped()));
            if let Some(o) = &owner {
                x = x.subject(account_subject(accounts, o));
            }
            out.push(x);
            continue;
        }
        let Some(bytes) = ctx.model.content(f) else {
            continue;
        };
        let mut tamper = Vec::new();
        let mut lateral = Vec::new();
        let mut lateral_points = 0;
        for (n, raw) in numbered_lines(bytes) {
            let s = shell_line::analyze(raw);
            if !s.history_tamper.is_empty() && tamper.len() < 20 {
                tamper.push(quote_line(&f.path, n, raw));
            }
            let scanner = s
                .commands
                .iter()
                .find(|c| ctx.iocs.contains_bytes(Kind::Scanner, c));
            let ssh_like = s
                .commands
                .iter()
                .any(|c| matches!(c.as_slice(), b"ssh" | b"scp" | b"rsync" | b"sftp"));
            let uses_known_hosts =
                contains(raw, b"known_hosts") || contains(raw, b"id_rsa") || contains(raw, b"for ");
            if let Some(sc) = scanner {
                lateral_points += 2;
                if lateral.len() < 20 {
                    lateral.push(format!(
                        "{} (runs {})",
                        quote_line(&f.path, n, raw),
                        minetrace_schemas::escape_bytes(sc)
                    ));
                }
            } else if ssh_like && uses_known_hosts {
                lateral_points += 2;
                if lateral.len() < 20 {
                    lateral.push(quote_line(&f.path, n, raw));
                }
            }
        }
        if !tamper.is_empty() {
            let sev = if tamper.len() >= 2 {
                Severity::Medium
            } else {
                Severity::Low
            };
            let mut x = finding(&rules::EVA_010, sev)
                .subject_as(file_subject(f), Role::Evidence)
                .evidence(format!("file: {}", describe_file(f)));
            for t in tamper {
                x = x.evidence(t);
            }
            if let Some(o) = &owner {
                x = x.subject(account_subject(accounts, o));
            }
            out.push(x);
        }
        if lateral_points > 0 {
            let mut x = finding(&rules::LAT_001, Severity::Medium)
                .subject_as(file_subject(f), Role::Evidence);
            for l in lateral {
                x = x.evidence(l);
            }
            if let Some(o) = &owner {
                x = x.subject(account_subject(accounts, o));
            }
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::{fixture, HostModel};

    fn lateral(model: &HostModel, iocs: &Indicators) -> Vec<String> {
        crate::detect::findings_of(detect, &rules::LAT_001, model, iocs)
            .into_iter()
            .flat_map(|f| f.evidence)
            .collect()
    }

    /// `scanner` values come from the indicators: a user's file adds a tool the built-in list lacks.
    #[test]
    fn an_iocs_file_adds_scanners() {
        let model = fixture::model(
            vec![fixture::file(
                b"/root/.bash_history",
                Some(b"ls\nzzscan -p 22 10.0.0.0/8 > ips.txt\nmasscan -p6379 10.0.0.0/8\n"),
            )],
            Vec::new(),
        );
        let mut iocs = Indicators::builtin();
        let before = lateral(&model, &iocs);
        assert!(
            before.iter().any(|e| e.contains("(runs masscan)")),
            "{before:?}"
        );
        assert!(!before.iter().any(|e| e.contains("zzscan")), "{before:?}");
        iocs.add_text("mine.iocs", "scanner zzscan\n").unwrap();
        let after = lateral(&model, &iocs);
        assert!(
            after.iter().any(|e| e.contains("(runs zzscan)")),
            "{after:?}"
        );
        // Program names keep their case: `ZZSCAN` is another program.
        let mut upper = Indicators::builtin();
        upper.add_text("mine.iocs", "scanner ZZSCAN\n").unwrap();
        assert_eq!(lateral(&model, &upper), before);
    }
}
