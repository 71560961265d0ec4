//! Accounts that give the attacker a way back in (from the host's own `passwd`, `group`, `sudoers*` and
//! the derived shadow summary):
//! - `MT-ACC-001` a UID-0 account other than `root` (T1136.001).
//! - `MT-ACC-002` a service or system account (`service_account`, or shaped like one:
//!   [`crate::model::accounts::Accounts::is_service`]) that may use sudo: in `sudo`/`wheel`/`admin`, or
//!   named in a sudoers rule (`NOPASSWD: ALL` weighs most) (T1548.003). Persons' accounts with sudo
//!   (a login shell and a home under /home, or a uid from the host's `UID_MIN` on) are how admins work
//!   and are not reported, whatever their uid.
//! - `MT-ACC-003` a service or system account that can log in: a real shell (or a fake `nologin`
//!   outside the system directories) together with a usable password (T1098).

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::account::PasswordState;
use minetrace_schemas::records::file::FileRecord;

use super::common::{account_subject, describe_file, quote_line, Score};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::model::persistence::PersistenceKind;
use crate::parse::sudoers;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let Some(passwd) = ctx.model.file(b"/etc/passwd") else {
        return Vec::new();
    };
    let mut out = account_entries(ctx, passwd);
    out.extend(admin_group_members(ctx));
    out.extend(sudoers_rules(ctx));
    out
}

/// `MT-ACC-001` and `MT-ACC-003`: what each `passwd` entry is (a second UID 0, a service account that
/// can log in).
fn account_entries(ctx: &Context, passwd: &FileRecord) -> Vec<Finding> {
    let model = ctx.model;
    let accounts = &model.accounts;
    let passwd_path = passwd.path.clone();
    let mut out = Vec::new();
    let usable = |name: &[u8]| {
        model
            .shadow
            .iter()
            .find(|s| s.user.as_bytes() == name && s.source.as_bytes() == b"/etc/shadow")
            .map(|s| s.password)
    };
    for e in &accounts.entries {
        if e.uid == 0 && e.name != b"root" {
            let mut f = finding(&rules::ACC_001, Severity::High)
                .subject_as(account_subject(accounts, &e.name), Role::Artifact)
                .subject_as(file_subject(passwd), Role::Context)
                .evidence(quote_line(
                    &passwd_path,
                    e.line,
                    &passwd_line(&e.name, e.uid, e.gid, &e.home, &e.shell),
                ));
            if let Some(p) = usable(&e.name) {
                f = f.evidence(format!("shadow: password {p:?}"));
            }
            out.push(f);
        }
        let service = e.uid != 0 && accounts.is_service(ctx.iocs, &e.name);
        if service && !e.shell_refuses_login() && !e.shell.is_empty() {
            let mut score = Score::default();
            score.add(
                1,
                format!(
                    "has login shell {}",
                    minetrace_schemas::escape_bytes(&e.shell)
                ),
            );
            if crate::parse::basename(&e.shell) == b"nologin" {
                score.add(
                    2,
                    "its \"nologin\" is not the system one (TeamTNT copies bash there)",
                );
            }
            match usable(&e.name) {
                Some(PasswordState::Usable) => score.add(2, "and a usable password"),
                Some(PasswordState::Empty) => score.add(2, "and an empty password"),
                _ => {}
            }
            if score.points >= 2 {
                if let Some(sev) = score.severity() {
                    let mut f = finding(&rules::ACC_003, sev)
                        // Locking it is the remedy (gated like any other action).
                        .subject_as(account_subject(accounts, &e.name), Role::Artifact)
                        .evidence(quote_line(
                            &passwd_path,
                            e.line,
                            &passwd_line(&e.name, e.uid, e.gid, &e.home, &e.shell),
                        ));
                    for r in score.reasons {
                        f = f.evidence(r);
                    }
                    out.push(f);
                }
            }
        }
    }
    out
}

/// `MT-ACC-002`: service accounts that are members of an `admin_group`.
fn admin_group_members(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let mut out = Vec::new();
    if let Some(group) = ctx.model.file(b"/etc/group") {
        for g in &accounts.groups {
            if !ctx.iocs.contains_bytes(Kind::AdminGroup, &g.name) {
                continue;
            }
            for m in g
                .members
                .iter()
                .filter(|m| accounts.is_service(ctx.iocs, m))
            {
                out.push(
                    finding(&rules::ACC_002, Severity::High)
                        .subject(account_subject(accounts, m))
                        .subject_as(file_subject(group), Role::Context)
                        .evidence(format!(
                            "{}:{}: {} is a member of {}",
                            group.path.escaped(),
                            g.line,
                            minetrace_schemas::escape_bytes(m),
                            minetrace_schemas::escape_bytes(&g.name)
                        )),
                );
            }
        }
    }
    out
}

/// `MT-ACC-002`: service accounts a sudoers rule names.
fn sudoers_rules(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let mut out = Vec::new();
    let sudo_files = ctx
        .model
        .persistence_files(|k| k == PersistenceKind::Sudoers);
    for (file, bytes, _) in sudo_files {
        for r in sudoers::parse(bytes) {
            for p in &r.principals {
                if p.starts_with(b"%")
                    || p == b"root"
                    || p == b"ALL"
                    || !accounts.is_service(ctx.iocs, p)
                {
                    continue;
                }
                let sev = if r.all_commands {
                    Severity::High
                } else {
                    Severity::Medium
                };
                let mut f = finding(&rules::ACC_002, sev)
                    .subject(account_subject(accounts, p))
                    .subject(persistence_subject(&file.path, r.line))
                    .subject_as(file_subject(file), Role::Context)
                    .evidence(quote_line(&file.path, r.line, &r.raw))
                    .evidence(format!("file: {}", describe_file(file)));
                if r.nopasswd {
                    f = f.evidence("without a password (NOPASSWD)");
                }
                out.push(f);
            }
        }
    }
    out
}

fn passwd_line(name: &[u8], uid: u32, gid: u32, home: &[u8], shell: &[u8]) -> Vec<u8> {
    let mut v = name.to_vec();
    v.extend(format!(":x:{uid}:{gid}::").as_bytes());
    v.extend(home);
    v.push(b':');
    v.extend(shell);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::{fixture, HostModel};

    fn sudo_rights(model: &HostModel, iocs: &Indicators) -> Vec<Finding> {
        crate::detect::findings_of(detect, &rules::ACC_002, model, iocs)
    }

    /// `admin_group` values come from the indicators: a user's file adds a group that gives root.
    #[test]
    fn an_iocs_file_adds_admin_groups() {
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/etc/passwd",
                    Some(b"root:x:0:0:root:/root:/bin/bash\nredis:x:110:117::/var/lib/redis:/usr/sbin/nologin\n"),
                ),
                fixture::file(
                    b"/etc/group",
                    Some(b"root:x:0:\nsudo:x:27:\nwheel2:x:998:redis\nWheel2:x:999:redis\n"),
                ),
            ],
            Vec::new(),
        );
        let mut iocs = Indicators::builtin();
        assert!(sudo_rights(&model, &iocs).is_empty());
        iocs.add_text("mine.iocs", "admin_group wheel2\n").unwrap();
        let after = sudo_rights(&model, &iocs);
        // Group names keep their case: `Wheel2` is another group.
        assert_eq!(after.len(), 1, "{after:#?}");
        assert!(
            after[0]
                .evidence
                .iter()
                .any(|e| e.contains("redis is a member of wheel2")),
            "{after:#?}"
        );
    }
}
