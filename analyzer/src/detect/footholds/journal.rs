//! The systemd journal's tampering signs (T1070.002), from the model's journal facts and the shell
//! histories:
//! - `MT-EVA-011`: `journalctl --vacuum-time/--vacuum-size/--vacuum-files` or `--rotate` typed in a
//!   history: the journal's older entries (the logins, the service's messages) are gone;
//! - `MT-EVA-012`: a journal file cut short, entries its header counts that none can read, or a hole in
//!   one journal's sequence numbers across its files — unless the collector left a journal file out
//!   (its budget), which explains a hole.
//!
//! Journals and histories are evidence: they are named as subjects so that they are preserved, never
//! as something to remove.

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Severity};

use super::common::{self, quote_line};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::parse::{numbered_lines, words};

/// `journalctl` options that drop entries.
const DROPPING: &[&[u8]] = &[
    b"--vacuum-time",
    b"--vacuum-size",
    b"--vacuum-files",
    b"--rotate",
];

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = typed(ctx);
    out.extend(damaged(ctx));
    out
}

/// Whether a history line runs `journalctl` with an option that drops entries; the option.
fn drops(line: &[u8]) -> Option<&'static [u8]> {
    // Segments of `a; b && c | d`: `journalctl` must be the command of the segment that has the option.
    for seg in line.split(|b| matches!(b, b';' | b'&' | b'|')) {
        let mut w = words(seg).skip_while(|w| *w == b"sudo" || w.contains(&b'='));
        let Some(cmd) = w.next() else { continue };
        if crate::parse::basename(cmd) != b"journalctl" {
            continue;
        }
        for arg in w {
            if let Some(d) = DROPPING
                .iter()
                .find(|d| arg == **d || arg.starts_with(&[**d, &b"="[..]].concat()))
            {
                return Some(d);
            }
        }
    }
    None
}

/// `MT-EVA-011`.
fn typed(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, bytes) in common::captured(ctx.model, common::is_history_path) {
        let hits: Vec<(u32, &[u8], &[u8])> = numbered_lines(bytes)
            .filter_map(|(n, l)| drops(l).map(|d| (n, l, d)))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let mut f = finding(&rules::EVA_011, Severity::Medium)
            .subject(file_subject(file))
            .evidence(format!(
                "{} shows the journal emptied {} time(s)",
                file.path.escaped(),
                hits.len()
            ));
        for (n, l, d) in hits.into_iter().take(8) {
            f = f.evidence(format!(
                "{} ({})",
                quote_line(&file.path, n, l),
                escape_bytes(d)
            ));
        }
        out.push(f);
    }
    out
}

/// `MT-EVA-012`, one finding for the journal.
fn damaged(ctx: &Context) -> Vec<Finding> {
    let j = &ctx.model.journals;
    let mut f = finding(&rules::EVA_012, Severity::Medium);
    let mut any = false;
    for file in &j.files {
        let Ok(facts) = &file.read else { continue };
        let show = escape_bytes(&file.path);
        if facts.truncated {
            any = true;
            f = f.evidence(format!(
                "{show} is shorter than its header says ({} bytes of header and arena): cut after it was written",
                facts.header.header_size.saturating_add(facts.header.arena_size)
            ));
        }
        if facts.unreadable_entries > 0 {
            any = true;
            f = f.evidence(format!(
                "{show}: its header counts {} entries, {} could not be read",
                facts.header.n_entries, facts.unreadable_entries
            ));
        }
        if facts.truncated || facts.unreadable_entries > 0 {
            if let Some(r) = ctx.model.file(&file.path) {
                f = f.subject(file_subject(r));
            }
        }
    }
    // A hole the collector's budget explains (a file it left out) is not tampering.
    if !j.gaps.is_empty() && j.not_copied.is_empty() {
        any = true;
        for (a, b) in j.gaps.iter().take(8) {
            f = f.evidence(format!(
                "sequence numbers {a}..={b} are missing between the journal's files (entries or whole files removed)"
            ));
        }
        for file in &j.files {
            if let Some(r) = ctx.model.file(&file.path) {
                f = f.subject(file_subject(r));
            }
        }
    }
    if any {
        vec![f]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journalctl_options_that_drop_entries() {
        assert_eq!(
            drops(b"journalctl --rotate; journalctl --vacuum-time=1s"),
            Some(&b"--rotate"[..])
        );
        assert_eq!(
            drops(b"sudo journalctl --vacuum-size 1M"),
            Some(&b"--vacuum-size"[..])
        );
        assert_eq!(
            drops(b"SYSTEMD_PAGER= journalctl --vacuum-files=1"),
            Some(&b"--vacuum-files"[..])
        );
        assert_eq!(drops(b"journalctl -u sshd --since today"), None);
        assert_eq!(drops(b"echo journalctl --rotate"), None);
        assert_eq!(drops(b"man journalctl | grep -- --vacuum-time"), None);
    }
}
