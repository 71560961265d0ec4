//! `authorized_keys*` files of every account: who can log in with a key.
//!
//! One finding per suspicious key, subjects `SshKey{fingerprint,path,line}` + the file + the account:
//! - `MT-SSH-001` a key whose comment is a known attacker comment (`bad_key_comment`, family markers).
//! - `MT-SSH-002` a key installed for a service account (`redis`, `www-data`, `games`: an account
//!   shaped like a service's, [`crate::model::accounts::Accounts::is_service`]); a key restricted
//!   with `command=` or `from=` there is a deployment key (git-shell, a receive hook): low.
//! - `MT-SSH-004` a key in `authorized_keys2` (deprecated; TeamTNT writes it).
//! - `MT-SSH-005` a key in a file locked with chattr (low alone: admins lock key files too).
//! - `MT-SSH-006` a key whose comment no key tool writes: command substitution (`$(`, a backtick),
//!   control characters or bytes that are not UTF-8. ssh-keygen writes `user@host` or the `-C` text a
//!   shell already expanded; such a comment was crafted to run in the tooling of whoever reads the file.
//! - `MT-SSH-003` (per file) a key file that is a Redis RDB dump.
//!
//! Signals combine: the rule is that of the strongest signal, the severity comes from all of them.
//! Keys in root's or an admin's file with ordinary comments produce nothing.

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::RawBytes;

use super::common::{self, account_subject, describe_file, quote_line, Score};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::indicators::{Kind, MarkerKind};
use crate::parse::authorized_keys::{self, AuthorizedKey};
use crate::parse::{basename, contains};
use minetrace_schemas::records::file::{FileKind, FileRecord};

pub use crate::model::ssh::is_authorized_keys;

/// The comment matches a known-bad comment: equal, or containing a long (≥ 6 chars) one.
fn bad_comment(ctx: &Context, comment: &[u8]) -> Option<String> {
    let c = String::from_utf8_lossy(comment).trim().to_ascii_lowercase();
    if c.is_empty() {
        return None;
    }
    ctx.iocs
        .set(Kind::BadKeyComment)
        .find(|v| c == *v || (v.len() >= 6 && c.contains(*v)))
        .map(str::to_owned)
}

/// Why a key comment was crafted rather than written by a key tool, if it was.
pub fn forged_comment(comment: &[u8]) -> Option<&'static str> {
    if contains(comment, b"$(") || comment.contains(&b'`') {
        Some("command substitution ($( or a backtick)")
    } else if comment.iter().any(|b| b.is_ascii_control() && *b != b'\t') {
        Some("control characters")
    } else if std::str::from_utf8(comment).is_err() {
        Some("bytes that are not UTF-8")
    } else {
        None
    }
}

fn family_comment(ctx: &Context, comment: &[u8]) -> Option<String> {
    let c = String::from_utf8_lossy(comment).trim().to_ascii_lowercase();
    ctx.iocs
        .family_markers
        .iter()
        .find(|m| {
            m.kind == MarkerKind::KeyComment
                && !c.is_empty()
                && c.contains(&m.value.to_ascii_lowercase())
        })
        .map(|m| m.family.clone())
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, file) in ctx.model.files.iter().enumerate() {
        if file.kind != FileKind::Regular || !is_authorized_keys(file.path.as_bytes()) {
            continue;
        }
        let Some(bytes) = ctx.model.content(file) else {
            continue;
        };
        let kf = KeyFile::of(ctx, file, bytes);
        let keys: Vec<&AuthorizedKey> = ctx.model.ssh.keys_of(i).collect();
        if kf.rdb {
            out.push(rdb_finding(ctx, &kf, &keys));
        }
        out.extend(keys.iter().filter_map(|k| key_finding(ctx, &kf, k)));
    }
    out
}

/// What one key file says about every key in it: whose it is, and how it was written or kept.
struct KeyFile<'m> {
    file: &'m FileRecord,
    /// The account the file belongs to (by its path, else its owner uid).
    owner: Option<Vec<u8>>,
    /// That account is a service's.
    service: bool,
    /// The file is a Redis RDB dump (`CONFIG SET dir` + `SAVE`).
    rdb: bool,
    /// `authorized_keys2`, the deprecated name.
    keys2: bool,
    /// Immutable or append-only.
    locked: bool,
}

impl<'m> KeyFile<'m> {
    fn of(ctx: &Context, file: &'m FileRecord, bytes: &[u8]) -> KeyFile<'m> {
        let accounts = &ctx.model.accounts;
        let path = file.path.as_bytes();
        let owner = accounts
            .owner_of_path(path)
            .or_else(|| accounts.by_uid(file.uid))
            .map(|e| e.name.clone());
        let service = owner
            .as_deref()
            .is_some_and(|o| accounts.is_service(ctx.iocs, o));
        KeyFile {
            file,
            owner,
            service,
            rdb: crate::parse::cron::is_redis_rdb(bytes),
            keys2: basename(path) == b"authorized_keys2",
            locked: file.immutable || file.append_only,
        }
    }
}

/// `MT-SSH-003` for a key file that is a Redis dump: the file, its keys and its account.
fn rdb_finding(ctx: &Context, kf: &KeyFile, keys: &[&AuthorizedKey]) -> Finding {
    let file = kf.file;
    let mut f = finding(&rules::SSH_003, Severity::High)
        .subject(file_subject(file))
        .evidence(format!(
            "{} starts with a Redis RDB header",
            file.path.escaped()
        ))
        .evidence(format!("file: {}", describe_file(file)));
    for k in keys {
        f = f.subject(key_subject(file.path.clone(), k));
    }
    if let Some(o) = &kf.owner {
        f = f.subject(account_subject(&ctx.model.accounts, o));
    }
    f
}

/// One key's finding, ruled by its strongest signal (the first rule picked: 001 > 006 > 002 > 003 > 004
/// > 005), its points added up; `None` when nothing reaches a severity.
fn key_finding(ctx: &Context, kf: &KeyFile, k: &AuthorizedKey) -> Option<Finding> {
    let (score, rule) = key_signals(ctx, kf, k);
    let (Some(rule), Some(sev)) = (rule, score.severity()) else {
        return None;
    };
    let file = kf.file;
    let mut f = finding(rule, sev)
        .subject(key_subject(file.path.clone(), k))
        .subject_as(file_subject(file), Role::Context)
        .evidence(quote_line(&file.path, k.line, &k.raw))
        .evidence(key_evidence(k))
        .family(score.family.clone());
    for r in &score.reasons {
        f = f.evidence(r.clone());
    }
    f = f.evidence(format!("file: {}", describe_file(file)));
    if let Some(o) = &kf.owner {
        f = f.subject(account_subject(&ctx.model.accounts, o));
    }
    Some(f)
}

/// The signals of one key (comment, account, file) with their points, and the rule of the strongest.
fn key_signals(ctx: &Context, kf: &KeyFile, k: &AuthorizedKey) -> (Score, Option<&'static Rule>) {
    let mut score = Score::default();
    let mut rule = None;
    let pick = |r: &'static Rule, rule: &mut Option<&'static Rule>| {
        if rule.is_none() {
            *rule = Some(r);
        }
    };
    if let Some(v) = bad_comment(ctx, &k.comment) {
        score.add(
            4,
            format!(
                "comment {:?} is a known attacker key comment ({v})",
                String::from_utf8_lossy(&k.comment)
            ),
        );
        pick(&rules::SSH_001, &mut rule);
    }
    if let Some(fam) = family_comment(ctx, &k.comment) {
        score.add(1, format!("comment matches a {fam} key marker"));
        score.family = Some(fam);
        pick(&rules::SSH_001, &mut rule);
    }
    if let Some(why) = forged_comment(&k.comment) {
        score.add(
            3,
            format!(
                "comment {} holds {why}: no key tool writes that, it was crafted to run in \
                 the tools that read this file",
                minetrace_schemas::escape_bytes(&k.comment)
            ),
        );
        pick(&rules::SSH_006, &mut rule);
    }
    if kf.service {
        let o = kf.owner.as_deref().unwrap_or_default();
        match restriction(k) {
            // A deployment key (git-shell, a receive hook, one source address): what admins give the
            // git/deploy/ansible accounts. Still reported, below medium.
            Some(how) => score.add(
                1,
                format!(
                    "installed for service account {}, restricted with {how} (a deployment key)",
                    minetrace_schemas::escape_bytes(o)
                ),
            ),
            None => score.add(
                2,
                format!(
                    "installed for service account {}",
                    minetrace_schemas::escape_bytes(o)
                ),
            ),
        }
        pick(&rules::SSH_002, &mut rule);
    }
    if kf.rdb {
        score.add(2, "inside a Redis RDB dump");
        pick(&rules::SSH_003, &mut rule);
    }
    if kf.keys2 {
        score.add(
            1,
            "in authorized_keys2, a deprecated file admins rarely use",
        );
        pick(&rules::SSH_004, &mut rule);
    }
    if kf.locked {
        // Admins lock key files against injection as often as attackers lock theirs: the lock alone is
        // low, it raises any other signal.
        score.add(1, "the key file is locked with chattr against removal");
        pick(&rules::SSH_005, &mut rule);
    }
    if let Some(cmd) = k.forced_command() {
        let (s, _) = common::score_shell(&cmd, ctx.iocs);
        if s.points > 0 {
            score.add(
                s.points,
                format!("forced command: {}", s.reasons.join("; ")),
            );
        }
    }
    (score, rule)
}

/// How a key is restricted to one use (`command=` forced command) or one origin (`from=`), if it is.
fn restriction(k: &authorized_keys::AuthorizedKey) -> Option<&'static str> {
    let opts = k.option_list();
    let has = |name: &str| {
        opts.iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.is_some())
    };
    match (has("command"), has("from")) {
        (true, true) => Some("command= and from="),
        (true, false) => Some("command="),
        (false, true) => Some("from="),
        (false, false) => None,
    }
}

/// The key as a finding's subject: the planner removes exactly this line of this file.
pub(crate) fn key_subject(path: RawBytes, k: &authorized_keys::AuthorizedKey) -> Subject {
    Subject::SshKey {
        fingerprint: k.fingerprint.clone(),
        path,
        line: k.line,
    }
}

/// The evidence line that names a key as `ssh-keygen -l` would (type, fingerprint, the comment escaped:
/// the attacker wrote it).
pub(crate) fn key_evidence(k: &authorized_keys::AuthorizedKey) -> String {
    format!(
        "{} {} {}",
        k.key_type,
        k.fingerprint,
        minetrace_schemas::escape_bytes(&k.comment)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    #[test]
    fn only_comments_campaigns_ship_are_markers() {
        let keys: &[u8] = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEkJnq8s2fZ+mWjAwngBkGxGczfHlwdrFhD61uXANskq redis\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGMccw5b6XF/VuROh+wiFxPkzJgyVPh0IrC6L1QqrTOy x@x\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDy2pCuP2ilRBZx5DylDSJ+5QOLgID5KWJwG/76d4WsfJPWWeOVqbuBjFS6iJUnxkclb0qcuKqPZoyrBsMZd8UghViCVXXMMF/tBlex21jIkq+zSSDKmJaUlDSAtVadXj9Ikwxbxp3f0nNFDPZDwoHyouPIQA7AjIQ1aLvtHFblmTASdhTlSzoyj2WMzlM/xcK9FdRbRfKSClkZcDQPaaFTtgm/KGxNfOLvheUJM3iAhnFsqRqRq5QxTVqrRQD6zJyQ5+Qr3cxio81obtwG8PHWf6JfuNqziUMJT5QjAp1yO2Z73B5MUuFy5c/iRvJMLMJqLmz5Z8AyowCwepD8hsu1 mdrfckr\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/etc/passwd", Some(b"root:x:0:0:root:/root:/bin/bash\n")),
                fixture::file(b"/root/.ssh/authorized_keys", Some(keys)),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let lines: Vec<u32> = found
            .iter()
            .filter(|f| f.rule == rules::SSH_001.id)
            .flat_map(|f| {
                f.iter_subjects().filter_map(|s| match s {
                    Subject::SshKey { line, .. } => Some(*line),
                    _ => None,
                })
            })
            .collect();
        assert_eq!(lines, vec![3], "{found:#?}");
    }

    #[test]
    fn crafted_comments() {
        assert!(forged_comment(b"$(touch /tmp/pwned)`touch /tmp/pwned`'\"\xff").is_some());
        assert!(forged_comment(b"`id`").is_some());
        assert!(forged_comment(b"a\x1b[31mb").is_some());
        assert!(forged_comment(b"caf\xe9").is_some());
        for ok in [
            &b"admin@bastion"[..],
            b"deploy@ci",
            b"alice@laptop",
            b"root@kali",
            b"John's key (2024)",
            b"$HOME is not expanded",
            b"caf\xc3\xa9@host",
            b"",
        ] {
            assert_eq!(forged_comment(ok), None, "{}", String::from_utf8_lossy(ok));
        }
    }
}
