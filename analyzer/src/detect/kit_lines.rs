//! Start lines of a judged miner (`MT-PER-061`, T1053/T1543.002/T1037/T1546.004). Runs after every
//! detector, like the intrusion window and family attribution: it reads which files the miner rules
//! judged.
//!
//! A line's own text rarely gives it away when the kit sits in a system-looking place
//! (`ExecStart=/usr/lib/sys-update/sys-update`) or in a home's data directory (`@reboot
//! ~/.local/share/.sysd/sysd`): the line detectors judge what the line says, and say little. What the
//! line *starts* settles it: a cron, systemd, rc, shell start-up or event-hook (motd, APT, initramfs,
//! network, autostart) line that runs a file the miner rules
//! judged at high or above (`MT-RUN-001` a miner process's executable, `MT-RUN-010` a running executable
//! with miner code, `MT-RUN-014` one at rest) is the miner's persistence, part of the kit: high, the
//! line an artifact, the miner file context (its own finding judges it).
//!
//! What the line runs is read the way the line detectors read it ([`shell_line::analyze`]: the programs
//! and scripts it runs, not the paths it merely mentions, so `pkill -f /tmp/x` or `rm /tmp/x` never
//! count), with `~/` expanded for the account the line runs as, and merged-`/usr` aliases followed.
//! Lines another finding already names at high or above need nothing more and produce nothing; lines
//! whose mechanism ignores them (a crontab line cron rejects) produce nothing.

use std::collections::BTreeMap;

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::RawBytes;

use crate::detect::finding::{
    file_subject, finding, path_subject, persistence_subject, FindingExt,
};
use crate::detect::footholds::common::{account_subject, describe_file, quote_line};
use crate::detect::footholds::orphans::runs_programs;
use crate::detect::footholds::startup::is_event_hook;
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::parse::shell_line;

/// The rules whose judgement makes a file the miner.
const MINER_RULES: &[&Rule] = &[&rules::RUN_001, &rules::RUN_010, &rules::RUN_014];

/// Files the miner rules judged at high or above: path -> the rule that judged it.
fn judged_miners(ctx: &Context, findings: &[Finding]) -> BTreeMap<Vec<u8>, &'static str> {
    let mut out = BTreeMap::new();
    for f in findings.iter().filter(|f| f.severity >= Severity::High) {
        let Some(rule) = MINER_RULES.iter().find(|r| r.id == f.rule) else {
            continue;
        };
        for s in &f.subjects {
            let path = match &s.subject {
                Subject::File { path, .. } if s.role == Role::Artifact => path.as_bytes(),
                Subject::Process { pid, .. } => {
                    match ctx.model.process(*pid).and_then(|p| p.exe.as_ref()) {
                        Some(exe) => exe.path.as_bytes(),
                        None => continue,
                    }
                }
                _ => continue,
            };
            out.entry(path.to_vec()).or_insert(rule.id);
        }
    }
    out
}

/// `MT-PER-061` findings (see the module documentation).
pub fn start_lines(ctx: &Context, findings: &[Finding]) -> Vec<Finding> {
    let miners = judged_miners(ctx, findings);
    if miners.is_empty() {
        return Vec::new();
    }
    let model = ctx.model;
    let accounts = &model.accounts;
    let named_high = |path: &RawBytes, line: u32| {
        findings.iter().any(|f| {
            f.severity >= Severity::High
                && f.iter_subjects().any(
                    |s| matches!(s, Subject::Persistence { path: p, line: l } if p == path && *l == line),
                )
        })
    };
    // The path a judged miner is recorded under, for a path a line runs.
    let judged = |p: &[u8]| -> Option<(Vec<u8>, &'static str)> {
        if let Some(rule) = miners.get(p) {
            return Some((p.to_vec(), rule));
        }
        let rec = model.file_aliased(p)?;
        miners
            .get(rec.path.as_bytes())
            .map(|rule| (rec.path.as_bytes().to_vec(), *rule))
    };
    let mut out = Vec::new();
    for e in model
        .persistence
        .iter()
        .filter(|e| e.runs && (runs_programs(e.kind) || is_event_hook(e.kind)))
    {
        let Some(file) = model.entry_file(e) else {
            continue;
        };
        if named_high(&file.path, e.line) {
            continue;
        }
        let home_uid = e.home_uid(accounts, file.uid);
        let s = shell_line::analyze(&e.command);
        let Some((miner, rule)) = s
            .ran
            .iter()
            .filter(|r| !r.sourced)
            .map(|r| accounts.expand_home(&r.path, home_uid))
            .find_map(|p| judged(&p))
        else {
            continue;
        };
        let miner_subject = model
            .file(&miner)
            .map(file_subject)
            .unwrap_or_else(|| path_subject(&miner));
        // A line of a file its package installed as it is (a distribution's udev rule naming a helper a
        // kit overwrote) is the host's: the fix is the program, never the vendor's line.
        let vouched = model
            .package_check(file.path.as_bytes())
            .is_some_and(|c| c.verdict == PackageVerdict::Match);
        let line_role = if vouched {
            Role::Context
        } else {
            Role::Artifact
        };
        let mut f = finding(&rules::PER_061, Severity::High)
            .subject_as(persistence_subject(&file.path, e.line), line_role)
            .subject_as(file_subject(file), Role::Context)
            .subject_as(miner_subject, Role::Context)
            .evidence(quote_line(&file.path, e.line, &e.raw))
            .evidence(format!(
                "starts {}, which {rule} judged a miner: the line is the miner's persistence",
                RawBytes::from(miner.as_slice()).escaped()
            ))
            .evidence(format!("file: {}", describe_file(file)));
        if vouched {
            f = f.evidence(
                "the file is as its package installed it: the line is the host's (context); replace or reinstall the program it starts",
            );
        }
        if let Some(user) = e.run_as.as_deref() {
            if accounts.by_name(user).is_some() {
                f = f.subject(account_subject(accounts, user));
            }
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    #[test]
    fn lines_that_start_a_judged_miner_are_its_persistence_whatever_the_path() {
        let model = fixture::model(
            vec![
                fixture::file(b"/usr/lib/sys-update/sys-update", Some(b"\x7fELF")),
                fixture::file(
                    b"/etc/systemd/system/sys-update.service",
                    Some(b"[Unit]\nDescription=System update agent\n[Service]\nExecStart=/usr/lib/sys-update/sys-update\nRestart=always\n"),
                ),
                fixture::file(
                    b"/etc/cron.d/cleanup",
                    Some(b"0 * * * * root pkill -f /usr/lib/sys-update/sys-update; rm -f /usr/lib/sys-update/sys-update\n@reboot root /usr/lib/sys-update/sys-update --background\n"),
                ),
                fixture::file(
                    b"/etc/systemd/system/other.service",
                    Some(b"[Service]\nExecStart=/usr/lib/other/agent\n"),
                ),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let miner = model
            .file(b"/usr/lib/sys-update/sys-update")
            .map(file_subject)
            .into_iter()
            .next();
        let Some(miner) = miner else {
            panic!("fixture lacks the miner file");
        };
        let judged = vec![finding(&rules::RUN_014, Severity::High).subject(miner.clone())];
        let found = start_lines(&ctx, &judged);
        let lines: Vec<String> = found.iter().map(|f| f.evidence[0].clone()).collect();
        assert_eq!(found.len(), 2, "{lines:?}");
        assert!(lines[0].contains("service:4: ExecStart=/usr/lib/sys-update/sys-update"));
        assert!(lines[1].contains("cleanup:2: @reboot root /usr/lib/sys-update/sys-update"));
        for f in &found {
            assert_eq!(f.severity, Severity::High);
            assert_eq!(f.rule, rules::PER_061.id);
            assert_eq!(f.role_of(&miner), Some(Role::Context));
        }
        // A medium judgement is no confirmation; a line already named at high needs nothing more.
        let medium = vec![finding(&rules::RUN_014, Severity::Medium).subject(miner.clone())];
        assert!(start_lines(&ctx, &medium).is_empty());
        let mut both = judged.clone();
        for f in &found {
            both.push(
                finding(&rules::PER_010, Severity::High).subject(f.subjects[0].subject.clone()),
            );
        }
        assert!(start_lines(&ctx, &both).is_empty());
    }

    #[test]
    fn a_udev_rule_naming_a_judged_miner_by_bare_name_is_its_persistence() {
        // sedexp's trick (Aon, 2024) with a miner: udev starts a bare name from its own directory.
        let model = fixture::model(
            vec![
                fixture::file(b"/usr/lib/udev/kudevd", Some(b"\x7fELF")),
                fixture::file(
                    b"/etc/udev/rules.d/99-kudev.rules",
                    Some(b"ACTION==\"add\", ENV{MAJOR}==\"1\", ENV{MINOR}==\"8\", RUN+=\"kudevd --reboot\"\nKERNEL==\"rtc0\", RUN+=\"hwclock-set $root/$name\"\n"),
                ),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let Some(miner) = model.file(b"/usr/lib/udev/kudevd").map(file_subject) else {
            panic!("fixture lacks the miner file");
        };
        let judged = vec![finding(&rules::RUN_010, Severity::High).subject(miner)];
        let found = start_lines(&ctx, &judged);
        let at: Vec<Subject> = found
            .iter()
            .map(|f| f.subjects[0].subject.clone())
            .collect();
        assert_eq!(
            at,
            vec![persistence_subject(
                &RawBytes::from(&b"/etc/udev/rules.d/99-kudev.rules"[..]),
                1
            )],
            "{found:?}"
        );
        // Review of train 1, item 9: where /lib is a directory of its own (no merged /usr), udev runs
        // bare names from /lib/udev.
        let (mut lib, _) = fixture::file(b"/lib", None);
        lib.kind = minetrace_schemas::records::file::FileKind::Directory;
        let model = fixture::model(
            vec![
                (lib, None),
                fixture::file(b"/lib/udev/kudevd", Some(b"\x7fELF")),
                fixture::file(
                    b"/etc/udev/rules.d/99-kudev.rules",
                    Some(b"ACTION==\"add\", ENV{MAJOR}==\"1\", ENV{MINOR}==\"8\", RUN+=\"kudevd --reboot\"\n"),
                ),
            ],
            vec![],
        );
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let Some(miner) = model.file(b"/lib/udev/kudevd").map(file_subject) else {
            panic!("fixture lacks the miner file");
        };
        let judged = vec![finding(&rules::RUN_010, Severity::High).subject(miner)];
        assert_eq!(start_lines(&ctx, &judged).len(), 1);
    }

    #[test]
    fn a_packaged_line_naming_a_replaced_helper_is_context_never_an_artifact() {
        // Review of train 1, item 3: a kit overwrote udev's ata_id; the distribution's rule names it.
        let rules: &[u8] = b"KERNEL==\"sd*\", IMPORT{program}=\"ata_id --export $devnode\"\n";
        let mut check = fixture::not_owned(
            b"/usr/lib/udev/rules.d/60-persistent-storage.rules",
            "persistence-config",
        );
        check.verdict = PackageVerdict::Match;
        check.package = Some("udev".into());
        let model = fixture::model(
            vec![
                fixture::file(b"/usr/lib/udev/ata_id", Some(b"\x7fELF")),
                fixture::file(
                    b"/usr/lib/udev/rules.d/60-persistent-storage.rules",
                    Some(rules),
                ),
            ],
            vec![check],
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let Some(miner) = model.file(b"/usr/lib/udev/ata_id").map(file_subject) else {
            panic!("fixture lacks the helper");
        };
        let found = start_lines(
            &ctx,
            &[finding(&rules::RUN_010, Severity::High).subject(miner)],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let line = persistence_subject(
            &RawBytes::from(&b"/usr/lib/udev/rules.d/60-persistent-storage.rules"[..]),
            1,
        );
        assert_eq!(found[0].role_of(&line), Some(Role::Context));
    }
}
