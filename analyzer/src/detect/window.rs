//! The intrusion window, and the SSH keys added in it (`MT-SSH-007`, T1098.004). Runs after every
//! detector, like family attribution: it reads which artifacts the detectors confirmed.
//!
//! An attacker's key looks like any other (`rsa-key-20230629`, `root@localhost`): what tells it from the
//! admins' is when and where it was written. The window is the span of the kit's writes
//! ([`IntrusionWindow::written_span`]: the modification times of the files that findings at high or
//! above name as artifacts — the miner binary, its crontab, its unit, a dropper script; not a log they
//! read, nor a file they name for context), widened by [`SLACK_SECS`] each side. A key file whose modification time falls in the window was
//! written during the intrusion, and keys are appended: its last key is the one written then.
//!
//! Severity: the last key of a key file changed in the window is medium when its account is one the
//! intrusion used (otherwise nothing: an admin's edit as often as not) — an accepted login in the window (the auth events of every source), the owner of a
//! confirmed artifact, the account a confirmed process runs as, or an account a confirmed finding names.
//! The evidence says which. When another rule already reported a key of the file (that key explains the
//! change): nothing if that rule said high, else the window judges that key, and a medium window judgement
//! of a key of a non-root account another rule found medium on its own grounds is high (two independent
//! reasons; the key is then attributed to the intrusion). Key files changed outside the window, earlier keys of a file, and
//! hosts without a confirmed artifact (no window) produce nothing.

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::manifest::format_unix_secs;
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::RawBytes;

use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::footholds::common::{account_subject, describe_file, quote_line};
use crate::detect::footholds::ssh_keys::{is_authorized_keys, key_evidence, key_subject};
use crate::detect::intrusion_window::IntrusionWindow;
pub use crate::detect::intrusion_window::SLACK_SECS;
use crate::detect::rules;
use crate::detect::Context;
use crate::model::auth::{AuthEvent, AuthKind};
use crate::parse::authorized_keys::AuthorizedKey;

/// The window: earliest and latest modification time of files confirmed findings name, with what set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    /// The artifacts at the two ends (path and time), for evidence.
    pub first: (RawBytes, i64),
    pub last: (RawBytes, i64),
    /// Accounts that own a confirmed artifact or run a confirmed process.
    pub kit_accounts: Vec<u32>,
}

impl Window {
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start.saturating_sub(SLACK_SECS) && t <= self.end.saturating_add(SLACK_SECS)
    }
}

/// The intrusion window of these findings, if any finding at high or above names a file with a time.
pub fn window(ctx: &Context, findings: &[Finding]) -> Option<Window> {
    let model = ctx.model;
    let timed = IntrusionWindow::of(model, findings);
    let span = timed.written_span()?;
    let mut kit_accounts: Vec<u32> = Vec::new();
    // The owners of the files that date the span (not root's: most kits run as root, which says
    // nothing about root's keys).
    for a in timed.writes() {
        if a.uid != 0 && !kit_accounts.contains(&a.uid) {
            kit_accounts.push(a.uid);
        }
    }
    // The account a confirmed process runs as, and an account a confirmed finding names (given
    // sudo, its password guessed, owner of the kit's crontab), are ones the intrusion used.
    let named = findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .flat_map(|f| &f.subjects)
        .filter_map(|named| match &named.subject {
            Subject::Process { pid, .. } => model.process(*pid).map(|p| p.uid.real),
            Subject::Account { uid: Some(uid), .. } => Some(*uid),
            _ => None,
        });
    for uid in named {
        if !kit_accounts.contains(&uid) {
            kit_accounts.push(uid);
        }
    }
    Some(Window {
        start: span.first.1,
        end: span.last.1,
        first: span.first,
        last: span.last,
        kit_accounts,
    })
}

/// `MT-SSH-007` findings for the keys added in the window (see the module documentation).
pub fn keys_in_window(ctx: &Context, findings: &[Finding]) -> Vec<Finding> {
    let Some(w) = window(ctx, findings) else {
        return Vec::new();
    };
    let logins: Vec<&AuthEvent> = ctx
        .model
        .auth
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                AuthKind::AcceptedPassword | AuthKind::AcceptedPublicKey
            )
        })
        .filter(|e| e.time.is_some_and(|t| w.contains(t)))
        .collect();
    ctx.model
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| is_authorized_keys(f.path.as_bytes()) && w.contains(f.mtime.secs))
        .filter_map(|(i, f)| key_file_in_window(ctx, findings, &w, &logins, i, f))
        .collect()
}

/// The judgement of one key file changed in the window (file `i` of the model), given the accepted
/// logins in the window: its newest key (or the key another rule reported), when the file's account is
/// one the intrusion used.
fn key_file_in_window(
    ctx: &Context,
    findings: &[Finding],
    w: &Window,
    logins: &[&AuthEvent],
    i: usize,
    f: &FileRecord,
) -> Option<Finding> {
    let model = ctx.model;
    let accounts = &model.accounts;
    // The most severe finding another rule made about a key line.
    let reported = |path: &RawBytes, line: u32| {
        findings
            .iter()
            .filter(|f| {
                f.iter_subjects().any(|s| {
                    matches!(s, Subject::SshKey { path: p, line: l, .. } if p == path && *l == line)
                })
            })
            .map(|f| f.severity)
            .max()
    };
    let keys: Vec<&AuthorizedKey> = model.ssh.keys_of(i).collect();
    // A key of this file another rule already reported is the one written then: the window only
    // corroborates it, below high.
    let earlier = keys
        .iter()
        .filter_map(|k| reported(&f.path, k.line).map(|s| (k, s)))
        .max_by_key(|(_, s)| *s);
    if earlier.is_some_and(|(_, s)| s >= Severity::High) {
        return None;
    }
    let k = earlier.map(|(k, _)| *k).or(keys.last().copied())?;
    let owner = accounts
        .owner_of_path(f.path.as_bytes())
        .or_else(|| accounts.by_uid(f.uid));
    let mut reasons = vec![format!(
        "{} changed at {}, inside the intrusion window {} .. {} (from {} to {}, ± {} h)",
        f.path.escaped(),
        format_unix_secs(f.mtime.secs),
        format_unix_secs(w.start),
        format_unix_secs(w.end),
        w.first.0.escaped(),
        w.last.0.escaped(),
        SLACK_SECS / 3600
    )];
    reasons.push(if let Some((_, s)) = earlier {
        format!("another rule judged this key ({s:?}) on its own")
    } else if keys.len() > 1 {
        format!(
            "the last of {} keys: keys are appended, the newest is the one written then",
            keys.len()
        )
    } else {
        "the file's only key".to_owned()
    });
    let mut severity = Severity::Low;
    if let Some(o) = owner {
        if let Some(e) = logins.iter().find(|e| e.user == o.name) {
            severity = Severity::Medium;
            reasons.push(format!(
                "{} logged in during the window: {}",
                minetrace_schemas::escape_bytes(&o.name),
                e.location(model)
            ));
        } else if w.kit_accounts.contains(&o.uid) {
            severity = Severity::Medium;
            reasons.push(format!(
                "{} owns or runs the confirmed artifacts",
                minetrace_schemas::escape_bytes(&o.name)
            ));
        }
    }
    // A changed key file of an account the intrusion did not use is an admin's edit as often as not.
    if severity < Severity::Medium {
        return None;
    }
    if let Some((_, other)) = earlier {
        // Two independent judgements of one key: written in the window by an account the intrusion
        // used, and suspect by itself. Alone the window adds nothing to the other rule. Not for
        // root: admins edit its key files all the time and most kits run as root, so "root ran the
        // kit" says nothing about root's keys.
        if other < Severity::Medium || owner.is_none_or(|o| o.uid == 0) {
            return None;
        }
        severity = Severity::High;
    }
    let mut finding = finding(&rules::SSH_007, severity)
        .subject(key_subject(f.path.clone(), k))
        .subject_as(file_subject(f), Role::Context)
        .evidence(quote_line(&f.path, k.line, &k.raw))
        .evidence(key_evidence(k));
    for r in reasons {
        finding = finding.evidence(r);
    }
    finding = finding.evidence(format!("file: {}", describe_file(f)));
    if let Some(o) = owner {
        finding = finding.subject(account_subject(accounts, &o.name));
    }
    Some(finding)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use crate::model::HostModel;

    /// A host whose miner (`/tmp/.k/xmr`, mtime 1,700,000,000, root's) a high finding names as its
    /// artifact, with the auth log it read as evidence (mtime `log_mtime`, uid 104) and `/etc/group` as
    /// context (mtime 1,600,000,000, uid 105): what is the intrusion's, and what is not.
    pub(crate) fn miner_with_evidence_and_context(log_mtime: i64) -> (HostModel, Finding) {
        let miner = fixture::file(b"/tmp/.k/xmr", Some(b"\x7fELF stand-in"));
        let mut log = fixture::file(b"/var/log/auth.log", Some(b"x\n"));
        log.0.mtime.secs = log_mtime;
        log.0.uid = 104;
        let mut group = fixture::file(b"/etc/group", Some(b"sudo:x:27:\n"));
        group.0.mtime.secs = 1_600_000_000;
        group.0.uid = 105;
        let found = finding(&rules::RUN_010, Severity::High)
            .subject(file_subject(&miner.0))
            .subject_as(file_subject(&log.0), Role::Evidence)
            .subject_as(file_subject(&group.0), Role::Context);
        (fixture::model(vec![miner, log, group], Vec::new()), found)
    }

    /// Only files a confirmed finding calls the intrusion's date the window: a log it read (evidence,
    /// written until the collection) would stretch it to the collection and take in every later key
    /// edit; a file named for context (`/etc/group`, decades old) would stretch it back.
    #[test]
    fn only_artifacts_date_the_window() {
        let (model, found) = miner_with_evidence_and_context(1_700_000_000 + 30 * 86_400);
        let iocs = Indicators::builtin();
        let w = window(
            &Context {
                model: &model,
                iocs: &iocs,
            },
            &[found],
        );
        let w = w.expect("the miner dates the window");
        assert_eq!((w.start, w.end), (1_700_000_000, 1_700_000_000));
        assert!(
            !w.kit_accounts.contains(&104) && !w.kit_accounts.contains(&105),
            "{:?}",
            w.kit_accounts
        );
    }
}
