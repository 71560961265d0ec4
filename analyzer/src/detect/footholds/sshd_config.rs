//! `sshd_config` and its includes opened up for the attacker (`MT-SSH-010`, T1098): `PermitRootLogin yes`
//! and `PasswordAuthentication yes` in force (first value outside `Match`, includes expanded), more
//! weight when the file is locked with chattr (TeamTNT sets both, then `chattr +i`).
//!
//! One of the two alone is low (admins set it too); both together are medium; locked is high.

use minetrace_schemas::findings::{Finding, Role};

use super::common::{describe_file, quote_line, Score};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::parse::sshd_config::effective;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let directives = &model.ssh.sshd;
    if directives.is_empty() {
        return Vec::new();
    }
    let mut score = Score::default();
    let mut hits = Vec::new();
    if let Some(d) = effective(directives, "permitrootlogin").filter(|d| d.value() == "yes") {
        score.add(1, "PermitRootLogin yes: root may log in with a password");
        hits.push(d);
    }
    if let Some(d) = effective(directives, "passwordauthentication").filter(|d| d.value() == "yes")
    {
        score.add(1, "PasswordAuthentication yes set explicitly");
        hits.push(d);
    }
    if let Some(d) = effective(directives, "permitemptypasswords").filter(|d| d.value() == "yes") {
        score.add(2, "PermitEmptyPasswords yes");
        hits.push(d);
    }
    if hits.is_empty() {
        return Vec::new();
    }
    if hits.len() >= 2 {
        score.add(1, "several settings opened together");
    }
    let files: Vec<_> = hits.iter().filter_map(|d| model.file(&d.path)).collect();
    if files.iter().any(|f| f.immutable || f.append_only) {
        score.add(
            2,
            "the configuration is locked with chattr so the admin cannot revert it",
        );
    }
    let Some(sev) = score.severity() else {
        return Vec::new();
    };
    let mut f = finding(&rules::SSH_010, sev);
    for d in &hits {
        let path = minetrace_schemas::RawBytes::new(d.path.clone());
        let text = format!(
            "{} {}",
            d.keyword,
            d.args
                .iter()
                .map(|a| minetrace_schemas::escape_bytes(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        f = f
            .subject(persistence_subject(&path, d.line))
            .evidence(quote_line(&path, d.line, text.as_bytes()));
    }
    for file in files {
        f = f
            .subject_as(file_subject(file), Role::Context)
            .evidence(format!("file: {}", describe_file(file)));
    }
    for r in score.reasons {
        f = f.evidence(r);
    }
    vec![f]
}
