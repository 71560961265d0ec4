//! The readable terminal summary: verdict, then the incidents (what happened, how strongly it is shown,
//! what the script will do), then on request every finding with its severity, title, subjects and
//! evidence.
//! Every host byte is escaped, so a process named with an escape sequence cannot rewrite the screen.

use std::io::Write;

use anyhow::Result;
use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Role, Subject, Verdict};

use crate::analysis::Analysis;
use crate::graph::Trace;
use crate::output::incidents;
use crate::remediate::Plan;

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

/// How much the summary prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Detail {
    /// Every finding with its subjects and evidence after the incidents (`analyze -v`).
    pub every_finding: bool,
    /// Colour the verdict and incident headings (ANSI); see [`color_wanted`].
    pub color: bool,
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is unset or empty (no-color.org).
pub fn color_wanted(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// `text` in bold and the colour of `severity_word` (`CRITICAL`, `COMPROMISED`, ...) when `on`.
fn paint(on: bool, severity_word: &str, text: &str) -> String {
    if !on {
        return text.to_owned();
    }
    let code = match severity_word {
        "CRITICAL" | "COMPROMISED" => "1;31",
        "HIGH" => "31",
        "MEDIUM" | "SUSPICIOUS" => "33",
        "CLEAN" => "32",
        _ => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The summary of an analysis, building its graph and plan (callers that have them use [`write_with`]).
pub fn write(analysis: &Analysis, out: &mut dyn Write) -> Result<()> {
    let trace = crate::graph::Trace::of(analysis);
    let plan = crate::remediate::build_plan_with(analysis, &trace.graph);
    write_with(analysis, &trace, &plan, Detail::default(), out)
}

/// Verdict, then the incidents (one per connected part of the attack graph), then, with
/// `detail.every_finding`, every finding; findings below medium are counted, not listed, unless asked.
pub fn write_with(
    analysis: &Analysis,
    trace: &Trace,
    plan: &Plan,
    detail: Detail,
    out: &mut dyn Write,
) -> Result<()> {
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
    let views = incidents::views(analysis, trace, plan);
    writeln!(
        out,
        "{}: host {} (boot {}), {}{}",
        paint(detail.color, verdict, verdict),
        e(&doc.host.hostname),
        e(&doc.host.boot_id),
        incidents::plural(doc.findings.len(), "finding", "findings"),
        match views.len() {
            0 => String::new(),
            1 => " in 1 incident".to_owned(),
            n => format!(" in {n} incidents"),
        }
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
    for (n, v) in views.iter().enumerate() {
        let heading = format!("INCIDENT {}: {}", n + 1, v.verdict);
        let word = v.verdict.split(' ').next().unwrap_or("");
        writeln!(out, "\n{}", paint(detail.color, word, &heading))?;
        if let Some(entry) = &v.entry {
            writeln!(out, "  entry: {entry}")?;
        }
        writeln!(out, "  strongest evidence:")?;
        for s in &v.strongest {
            writeln!(out, "    {s}")?;
        }
        writeln!(out, "  remediate.sh --apply will: {}", v.script)?;
        // Rule ids in order of first appearance, `xN` when a rule fired more than once.
        let mut rules: Vec<(&str, usize)> = Vec::new();
        for f in v.findings.iter().filter_map(|i| doc.findings.get(*i)) {
            match rules.iter_mut().find(|(r, _)| *r == f.rule) {
                Some((_, n)) => *n += 1,
                None => rules.push((&f.rule, 1)),
            }
        }
        let rules: Vec<String> = rules
            .iter()
            .map(|(r, n)| match n {
                1 => e(r),
                n => format!("{} x{n}", e(r)),
            })
            .collect();
        writeln!(
            out,
            "  findings ({}): {}",
            v.findings.len(),
            rules.join(", ")
        )?;
    }
    let in_incidents: usize = views.iter().map(|v| v.findings.len()).sum();
    let rest = doc.findings.len() - in_incidents.min(doc.findings.len());
    if detail.every_finding {
        for f in &doc.findings {
            write_finding(f, out)?;
        }
    } else if rest > 0 || in_incidents > 0 {
        writeln!(
            out,
            "\n{} (minetrace analyze -v prints every finding with its evidence)",
            if rest > 0 {
                format!(
                    "{rest} finding{} below medium not in an incident",
                    if rest == 1 { "" } else { "s" }
                )
            } else {
                "every finding is in an incident above".to_owned()
            }
        )?;
    }
    for w in &analysis.model.warnings {
        writeln!(out, "warning: {}", e(w))?;
    }
    Ok(())
}

/// One finding as `analyze -v` prints it: severity, rule, title, family, subjects with their roles,
/// evidence.
fn write_finding(f: &Finding, out: &mut dyn Write) -> Result<()> {
    let e = |s: &str| escape_bytes(s.as_bytes());
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_only_on_a_terminal_without_no_color() {
        let set = std::ffi::OsStr::new("1");
        let empty = std::ffi::OsStr::new("");
        assert!(color_wanted(true, None));
        assert!(color_wanted(true, Some(empty)));
        assert!(!color_wanted(true, Some(set)));
        assert!(!color_wanted(false, None));
        assert_eq!(paint(false, "HIGH", "x"), "x");
        assert_eq!(paint(true, "HIGH", "x"), "\x1b[31mx\x1b[0m");
    }
}
