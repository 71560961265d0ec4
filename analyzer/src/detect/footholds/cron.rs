//! Scheduled jobs: `/etc/crontab`, `/etc/cron.d/*`, user spools, `/etc/anacrontab`, the
//! `/etc/cron.{hourly,daily,weekly,monthly}` scripts and `at` jobs.
//!
//! - `MT-PER-001` a job line that downloads into a shell, decodes base64, reaches a bare IP or runs from
//!   a temporary or hidden path (scored by [`common::score_line`]); every job line of a file whose own
//!   path is a family marker (`/etc/cron.d/perfclean`) carries that marker.
//! - `MT-PER-002` a crontab that is a Redis RDB dump (`REDIS000x` header): written through an
//!   unauthenticated Redis (`CONFIG SET dir`, `dbfilename`, `SAVE`).
//! - `MT-PER-003` a crontab of a service account (`redis`, `www-data`, ...): low alone, high when its
//!   jobs are suspicious.

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::file::FileRecord;

use super::common::{self, account_subject, describe_file, quote_line, Score};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::model::accounts::Accounts;
use crate::model::persistence::{PersistenceEntry, PersistenceKind, Schedule};
use crate::parse::cron;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let mut out = Vec::new();
    let crontabs = ctx
        .model
        .persistence_files(|k| matches!(k, PersistenceKind::Cron | PersistenceKind::Anacron));
    for (file, bytes, entries) in crontabs {
        crontab(ctx, accounts, file, bytes, entries, &mut out);
    }
    for (file, _, entries) in ctx
        .model
        .persistence_files(|k| k == PersistenceKind::CronScript)
    {
        for e in entries {
            push_line(ctx, file, e.line, &e.raw, &rules::PER_001, &mut out);
        }
    }
    for (file, _, entries) in ctx.model.persistence_files(|k| k == PersistenceKind::At) {
        for e in entries {
            push_line(ctx, file, e.line, &e.raw, &rules::PER_004, &mut out);
        }
    }
    out
}

fn push_line(
    ctx: &Context,
    file: &FileRecord,
    n: u32,
    text: &[u8],
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    let (mut score, shell) = common::score_line(ctx, text);
    common::persistence_file_marker(ctx.iocs, file, &mut score);
    common::lock_points(file, &mut score);
    if let Some(f) = common::line_finding(ctx, rule, file, n, text, &score, Some(&shell)) {
        out.push(f);
    }
}

/// One crontab: its job lines (MT-PER-001), a Redis dump (MT-PER-002), a service account's (MT-PER-003).
fn crontab(
    ctx: &Context,
    accounts: &Accounts,
    file: &FileRecord,
    bytes: &[u8],
    entries: &[PersistenceEntry],
    out: &mut Vec<Finding>,
) {
    let tab = Crontab {
        file,
        rdb: cron::is_redis_rdb(bytes),
        jobs: entries.iter().filter(|e| e.runs).collect(),
        file_owner: accounts.by_uid(file.uid).map(|e| e.name.clone()),
    };
    let mut worst: Option<Severity> = None;
    for e in &tab.jobs {
        if let Some(f) = job_finding(ctx, accounts, &tab, e) {
            worst = worst.max(Some(f.severity));
            out.push(f);
        }
    }
    if tab.rdb {
        out.push(redis_dump_finding(accounts, &tab, worst));
    }
    // A crontab that belongs to a service account: spool file named after it, or owned by it.
    let spool_owner = cron::spool_user(file.path.as_bytes()).map(<[u8]>::to_vec);
    let service_owner = spool_owner
        .iter()
        .chain(tab.file_owner.iter())
        .find(|u| accounts.is_service(ctx.iocs, u));
    if let Some(owner) = service_owner {
        out.extend(service_crontab_finding(accounts, &tab, owner, worst));
    }
}

/// What the crontab findings share.
struct Crontab<'a> {
    file: &'a FileRecord,
    /// The file starts with a Redis RDB header.
    rdb: bool,
    /// The lines cron runs.
    jobs: Vec<&'a PersistenceEntry>,
    /// The account owning the file.
    file_owner: Option<Vec<u8>>,
}

/// MT-PER-001 for one job line, weighed by whom it runs as, the RDB dump around it and a lock.
fn job_finding(
    ctx: &Context,
    accounts: &Accounts,
    tab: &Crontab,
    e: &PersistenceEntry,
) -> Option<Finding> {
    let file = tab.file;
    let (mut score, shell) = common::score_line(ctx, &e.command);
    common::persistence_file_marker(ctx.iocs, file, &mut score);
    if score.points > 0 {
        if let Some(user) = e
            .run_as
            .as_deref()
            .filter(|u| accounts.is_service(ctx.iocs, u))
        {
            score.add(
                2,
                format!(
                    "runs as service account {}",
                    minetrace_schemas::escape_bytes(user)
                ),
            );
        }
        if tab.rdb {
            score.add(2, "sits inside a Redis RDB dump");
        }
        if let Some(s) = e.schedule.as_ref().and_then(Schedule::cron) {
            if s.at_boot() || s.frequent() {
                score
                    .reasons
                    .push(format!("schedule {} (re-runs it constantly)", s.display()));
            }
        }
    }
    common::lock_points(file, &mut score);
    let mut f = common::line_finding(
        ctx,
        &rules::PER_001,
        file,
        e.line,
        &e.raw,
        &score,
        Some(&shell),
    )?;
    if let Some(u) = &e.run_as {
        f = f.subject(account_subject(accounts, u));
    }
    Some(f)
}

/// MT-PER-002: the crontab is a Redis RDB dump; critical when its jobs are high already.
fn redis_dump_finding(accounts: &Accounts, tab: &Crontab, worst: Option<Severity>) -> Finding {
    let file = tab.file;
    let severity = if worst >= Some(Severity::High) {
        Severity::Critical
    } else {
        Severity::High
    };
    let mut f = finding(&rules::PER_002, severity)
        .subject(file_subject(file))
        .evidence(format!(
            "{} starts with a Redis RDB header",
            file.path.escaped()
        ))
        .evidence(format!("file: {}", describe_file(file)));
    for e in &tab.jobs {
        f = f.subject(persistence_subject(&file.path, e.line));
    }
    if tab.jobs.is_empty() {
        f = f.evidence("no job line cron would run was found in it");
    }
    if let Some(owner) = &tab.file_owner {
        f = f.subject(account_subject(accounts, owner));
    }
    f
}

/// MT-PER-003: a service account's crontab; low alone, high with suspicious jobs or RDB junk.
fn service_crontab_finding(
    accounts: &Accounts,
    tab: &Crontab,
    owner: &[u8],
    worst: Option<Severity>,
) -> Option<Finding> {
    if tab.jobs.is_empty() && !tab.rdb {
        return None;
    }
    let file = tab.file;
    let mut score = Score::default();
    score.add(
        1,
        format!(
            "crontab belongs to service account {}",
            minetrace_schemas::escape_bytes(owner)
        ),
    );
    if worst >= Some(Severity::Medium) {
        score.add(3, "and its jobs are suspicious");
    }
    if tab.rdb {
        score.add(3, "and it is a Redis RDB dump");
    }
    let mut f = finding(&rules::PER_003, score.severity()?)
        .subject_as(
            file_subject(file),
            if tab.rdb {
                Role::Artifact
            } else {
                Role::Context
            },
        )
        .subject(account_subject(accounts, owner))
        .evidence(format!("file: {}", describe_file(file)));
    for (i, e) in tab.jobs.iter().enumerate() {
        f = f.subject(persistence_subject(&file.path, e.line));
        if i < 20 {
            f = f.evidence(quote_line(&file.path, e.line, &e.raw));
        }
    }
    for r in score.reasons {
        f = f.evidence(r);
    }
    Some(f)
}
