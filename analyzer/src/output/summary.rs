//! The readable terminal summary: verdict, then each finding with its severity, title and subjects.
//! Every host byte is escaped, so a process named with an escape sequence cannot rewrite the screen.

use std::io::Write;

use anyhow::Result;
use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Role, Subject, Verdict};

use crate::analysis::Analysis;

/// What follows a subject's line when it is not an artifact: ` [evidence]` or ` [context]` (an artifact
/// is what a finding is usually about, so it is not marked).
pub fn role_note(role: Role) -> &'static str {
    match role {
        Role::Artifact => "",
        Role::Evidence => " [evidence]",
        Role::Context => " [context]",
    }
}

/// One line naming a subject, escaped.
pub fn describe_subject(s: &Subject) -> String {
    match s {
        Subject::Process { pid, exe, .. } => format!(
            "process {pid} {}",
            exe.as_ref().map(|e| e.escaped()).unwrap_or_default()
        ),
        Subject::File { path, sha256 } => format!(
            "file {}{}",
            path.escaped(),
            sha256
                .as_deref()
                .map(|h| format!(" sha256:{}", h.get(..16).unwrap_or(h)))
                .unwrap_or_default()
        ),
        Subject::Endpoint { addr } => format!("endpoint {}", escape_bytes(addr.as_bytes())),
        Subject::SshKey {
            fingerprint,
            path,
            line,
        } => format!(
            "ssh key {} at {}:{line}",
            escape_bytes(fingerprint.as_bytes()),
            path.escaped()
        ),
        Subject::Persistence { path, line } => format!("persistence {}:{line}", path.escaped()),
        Subject::Account { name, uid } => format!(
            "account {}{}",
            name.escaped(),
            uid.map(|u| format!(" (uid {u})")).unwrap_or_default()
        ),
        Subject::FirewallRule { rule } => format!("firewall rule {}", rule.escaped()),
        Subject::KernelModule { name } => {
            format!("kernel module {}", escape_bytes(name.as_bytes()))
        }
    }
}

pub fn write(analysis: &Analysis, out: &mut dyn Write) -> Result<()> {
    let doc = &analysis.document;
    let e = |s: &str| escape_bytes(s.as_bytes());
    if !analysis.integrity_problems.is_empty() {
        writeln!(
            out,
            "WARNING: THIS BUNDLE FAILED VERIFICATION; results may have been tampered with:"
        )?;
        for p in &analysis.integrity_problems {
            writeln!(out, "  {}", e(p))?;
        }
    }
    let verdict = match doc.verdict {
        Verdict::Compromised => "COMPROMISED",
        Verdict::Suspicious => "SUSPICIOUS",
        Verdict::Clean => "CLEAN",
    };
    writeln!(
        out,
        "{verdict}: host {} (boot {}), {} findings",
        e(&doc.host.hostname),
        e(&doc.host.boot_id),
        doc.findings.len()
    )?;
    if let Some(lead) = crate::output::lead::line(doc) {
        writeln!(out, "{lead}")?;
        let others: Vec<String> = doc
            .entry
            .iter()
            .skip(1)
            .map(|c| {
                format!(
                    "{} {}",
                    crate::output::lead::through(c),
                    crate::output::lead::tag(c)
                )
            })
            .collect();
        if !others.is_empty() {
            writeln!(out, "  other entry candidates: {}", others.join("; "))?;
        }
    }
    for f in &doc.findings {
        writeln!(
            out,
            "\n[{}] {} {}{}",
            f.severity.name().to_uppercase(),
            e(&f.rule),
            e(&f.title),
            f.family
                .as_deref()
                .map(|fam| format!(" (family: {})", e(fam)))
                .unwrap_or_default()
        )?;
        for s in &f.subjects {
            writeln!(
                out,
                "    - {}{}",
                describe_subject(&s.subject),
                role_note(s.role)
            )?;
        }
        for line in &f.evidence {
            writeln!(out, "      {}", e(line))?;
        }
    }
    for w in &analysis.model.warnings {
        writeln!(out, "warning: {}", e(w))?;
    }
    Ok(())
}
