//! The intrusion's kit as the findings judged it: the processes, files, persistence lines and keys that
//! are artifacts of findings at medium or above (not the logs they read, nor what they name for
//! context), the accounts that own or run them, and the intrusion window's start — the kit's earliest
//! sign ([`IntrusionWindow::earliest_sign`], where the timed artifacts and every cut-off live). SSH keys
//! do not start the window: a key can be the way in (planted months before it was used) as well as what
//! was added after it.
//!
//! mtimes can be set with `touch`: times here place evidence relative to each other; they are never
//! shown as more than "suspected".

use std::collections::BTreeSet;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::Subject;
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::process::ProcessRecord;

use super::Inputs;
use crate::detect::intrusion_window::{
    judged_key_files, kit_process, kit_subjects, IntrusionWindow,
};
pub use crate::detect::intrusion_window::{WINDOW_AFTER, WINDOW_BEFORE};

/// Where an event sits against the kit's first artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Within the window: minutes before the first artifact (or just after it).
    InWindow,
    /// Long before, or after: not the way in by its time.
    Outside,
    /// The event or the kit has no time.
    Unknown,
}

#[derive(Debug, Default)]
pub struct Kit<'a> {
    pub processes: Vec<&'a ProcessRecord>,
    pub files: Vec<&'a FileRecord>,
    /// `(path, line)` of flagged persistence lines.
    pub lines: Vec<(Vec<u8>, u32)>,
    /// Fingerprints of flagged keys, with the rule and `path:line` that judged them.
    pub keys: Vec<(String, String, String)>,
    /// Uids that run a kit process, own a kit file or run a flagged persisted line.
    pub owners: BTreeSet<u32>,
    /// The earliest kit artifact: seconds since the epoch and what it is.
    pub first: Option<(i64, String)>,
}

impl<'a> Kit<'a> {
    pub fn of(inp: &Inputs<'a>) -> Kit<'a> {
        let model = inp.model;
        let mut kit = Kit::default();
        // Files that hold flagged keys: like the keys, they are no part of the kit.
        let key_files = judged_key_files(inp.findings);
        // Only what the finding calls the intrusion's: a log it read (evidence: its mtime is its last
        // write, its owner syslog or root) or a file it names for context (`/etc/group`) is no part
        // of the kit, and neither dates it nor names its owner.
        for (f, s) in kit_subjects(inp.findings) {
            match s {
                Subject::Process {
                    pid, start_ticks, ..
                } => {
                    let Some(p) = kit_process(model, *pid, *start_ticks) else {
                        continue;
                    };
                    if kit.processes.iter().any(|k| k.pid == p.pid) {
                        continue;
                    }
                    kit.processes.push(p);
                    kit.owners.insert(p.uid.effective);
                }
                Subject::File { path, .. } => {
                    let Some(file) = model
                        .file(path.as_bytes())
                        .filter(|_| !key_files.contains(&path.as_bytes()))
                    else {
                        continue;
                    };
                    if kit.files.iter().any(|k| k.path == file.path) {
                        continue;
                    }
                    kit.files.push(file);
                    kit.owners.insert(file.uid);
                }
                Subject::Persistence { path, line } => {
                    kit.lines.push((path.as_bytes().to_vec(), *line));
                    if let Some(e) = model
                        .persistence
                        .iter()
                        .find(|e| e.line == *line && e.path.as_bytes() == path.as_bytes())
                    {
                        if let Some(uid) =
                            e.run_as.as_deref().and_then(|u| model.accounts.uid_of(u))
                        {
                            kit.owners.insert(uid);
                        }
                    }
                }
                Subject::SshKey {
                    fingerprint,
                    path,
                    line,
                } => kit.keys.push((
                    fingerprint.clone(),
                    f.rule.clone(),
                    format!("{}:{line}", path.escaped()),
                )),
                _ => {}
            }
        }
        kit.first = IntrusionWindow::of(model, inp.findings)
            .earliest_sign()
            .map(|a| (a.time, a.describe()));
        kit
    }

    /// Where an event at `t` sits against the first kit artifact.
    pub fn place(&self, t: Option<i64>) -> Placement {
        match (t, &self.first) {
            (Some(t), Some((first, _))) => {
                if t >= first.saturating_sub(WINDOW_BEFORE)
                    && t <= first.saturating_add(WINDOW_AFTER)
                {
                    Placement::InWindow
                } else {
                    Placement::Outside
                }
            }
            _ => Placement::Unknown,
        }
    }

    /// Whether the first kit artifact came at most `secs` after an event at `t` (or just before it, by
    /// [`WINDOW_AFTER`]): the kit followed the event at once.
    pub fn follows(&self, t: Option<i64>, secs: i64) -> bool {
        match (t, &self.first) {
            (Some(t), Some((first, _))) => {
                let d = first.saturating_sub(t);
                d >= WINDOW_AFTER.saturating_neg() && d <= secs
            }
            _ => false,
        }
    }

    /// One evidence line saying how an event at `t` sits against the kit.
    pub fn relation(&self, t: Option<i64>) -> Option<String> {
        let (t, (first, what)) = (t?, self.first.as_ref()?);
        // Both times are the host's (an mtime, a log stamp): any i64.
        let d = first.saturating_sub(t);
        Some(if d >= 0 {
            format!("{} before the first kit artifact ({what})", duration(d))
        } else {
            format!(
                "{} after the first kit artifact ({what})",
                duration(d.saturating_neg())
            )
        })
    }

    /// Whether a uid owns or runs part of the kit.
    pub fn owned_by(&self, uid: u32) -> bool {
        self.owners.contains(&uid)
    }
}

/// `42 s`, `5 min`, `3 h`, `2 days`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// An account's name for evidence lines: `name (uid N)`, or the uid alone.
pub fn account(inp: &Inputs, uid: u32) -> String {
    match inp.model.accounts.by_uid(uid) {
        Some(a) => format!("{} (uid {uid})", escape_bytes(&a.name)),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use minetrace_schemas::findings::{Finding, Severity};

    use super::*;
    use crate::detect::finding::{file_subject, finding, FindingExt};
    use crate::detect::rules;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use crate::model::HostModel;

    /// The kit of these findings on this model.
    fn kit_of<'a>(model: &'a HostModel, iocs: &'a Indicators, findings: &'a [Finding]) -> Kit<'a> {
        Kit::of(&Inputs {
            model,
            iocs,
            findings,
        })
    }

    /// Only a finding's artifacts are the kit: a log it read (evidence) is not, though its mtime comes
    /// first (the MT-ACC-010 auth log used to be named "the first kit artifact", and its owner an owner
    /// of the kit), and neither is a file it names for context (`/etc/group`).
    #[test]
    fn evidence_and_context_subjects_are_no_part_of_the_kit() {
        let (model, found) =
            crate::detect::window::tests::miner_with_evidence_and_context(1_700_000_000 - 7200);
        let iocs = Indicators::builtin();
        let findings = [found];
        let kit = kit_of(&model, &iocs, &findings);
        let files: Vec<&[u8]> = kit.files.iter().map(|f| f.path.as_bytes()).collect();
        assert_eq!(files, [&b"/tmp/.k/xmr"[..]]);
        assert_eq!(
            kit.first,
            Some((1_700_000_000, "/tmp/.k/xmr written".to_owned()))
        );
        assert!(!kit.owned_by(104) && !kit.owned_by(105));
    }

    /// A kit file whose mtime was set to the epoch (or was not recorded) does not take the window's
    /// anchor away: the first artifact with a time starts it, as in the SSH-007 window
    /// (`detect::window`), which skips such times too.
    #[test]
    fn an_artifact_without_a_time_does_not_hide_the_first_one() {
        let miner = fixture::file(b"/tmp/.k/xmr", Some(b"\x7fELF stand-in"));
        let mut stomped = fixture::file(b"/tmp/.k/config.json", Some(b"{}"));
        stomped.0.mtime.secs = 0;
        let found = finding(&rules::RUN_010, Severity::High)
            .subject(file_subject(&miner.0))
            .subject(file_subject(&stomped.0));
        let model = fixture::model(vec![miner, stomped], Vec::new());
        let iocs = Indicators::builtin();
        let findings = [found];
        let kit = kit_of(&model, &iocs, &findings);
        assert_eq!(kit.files.len(), 2);
        assert_eq!(kit.first.as_ref().map(|(t, _)| *t), Some(1_700_000_000));
        assert_eq!(kit.place(Some(1_700_000_000 - 600)), Placement::InWindow);
    }
}
