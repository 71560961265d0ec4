//! systemd services, timers and drop-ins (system, vendor, runtime, generator and per-user locations).
//!
//! `MT-PER-010`: a unit whose `Exec*=` lines download into a shell, decode base64, reach a bare IP, run
//! from a temporary or hidden path or run a miner; `Restart=always`/`on-failure`, a service-account
//! `User=`, a name that imitates a system unit and a chattr lock add weight. A unit named by a family
//! marker (`bot.service`, `pwnrige.service`) is reported on its name. The persistence line is the worst
//! `Exec*=` line; timers that start the unit are added as file subjects.

use minetrace_schemas::findings::Finding;

use super::common::{self, account_subject, Score};
use crate::detect::finding::{file_subject, FindingExt};
use crate::detect::markers;
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::{FamilyMarker, Kind, MarkerKind, PathClass};
use crate::model::persistence::{unit_name, PersistenceKind};
use crate::parse::basename;
use crate::parse::shell_line::ShellLine;
use crate::parse::systemd_unit::Unit;
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::package::PackageVerdict;

/// A program in a system directory (path class `system`), not hidden.
fn system_program(ctx: &Context, p: &[u8]) -> bool {
    let c = ctx.iocs.paths();
    c.is(PathClass::System, p) && !c.is(PathClass::Hidden, p)
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let units: Vec<(&FileRecord, &[u8])> = ctx
        .model
        .persistence_files(|k| k == PersistenceKind::Systemd)
        .map(|(f, b, _)| (f, b))
        .collect();
    // Each timer with the unit it starts (`Unit=`), parsed once.
    let timers: Vec<_> = units
        .iter()
        .filter(|(t, _)| basename(t.path.as_bytes()).ends_with(b".timer"))
        .map(|(t, b)| (*t, Unit::parse(b).timer_unit().map(<[u8]>::to_vec)))
        .collect();
    let mut out = Vec::new();
    for (file, bytes) in &units {
        let unit = Unit::parse(bytes);
        let Some(mut f) = unit_finding(ctx, file, &unit) else {
            continue;
        };
        // Timers that start this service.
        let name = unit_name(file.path.as_bytes());
        let stem = name.strip_suffix(b".service").unwrap_or(name);
        for (timer, target) in &timers {
            let tname = basename(timer.path.as_bytes());
            let starts_it = match target {
                Some(t) => t.as_slice() == name,
                None => tname.strip_suffix(b".timer") == Some(stem),
            };
            if starts_it {
                f = f
                    .subject(file_subject(timer))
                    .evidence(format!("started by timer {}", timer.path.escaped()));
            }
        }
        out.push(f);
    }
    out
}

/// The worst `Exec*=` line of a unit with its score, the line number and the line as a key=value.
fn worst_exec(ctx: &Context, unit: &Unit) -> Option<(Score, u32, Vec<u8>, ShellLine)> {
    let mut best: Option<(Score, u32, Vec<u8>, ShellLine)> = None;
    for cmd in unit.exec_commands() {
        let (score, shell) = common::score_line(ctx, &cmd.raw);
        if best.as_ref().is_none_or(|(b, ..)| score.points > b.points) {
            let text = [
                cmd.key.as_bytes(),
                b"=",
                cmd.prefixes.as_slice(),
                cmd.raw.as_slice(),
            ]
            .concat();
            best = Some((score, cmd.line, text, shell));
        }
    }
    best
}

/// MT-PER-010 for one unit file: its worst `Exec*=` line weighed by a family name, a system-unit
/// disguise, `Restart=`, a service-account `User=` and a lock; without `Exec*=` lines, only a family
/// unit name counts (line 0).
fn unit_finding(ctx: &Context, file: &FileRecord, unit: &Unit) -> Option<Finding> {
    let path = file.path.as_bytes();
    let name = unit_name(path);
    let Some((mut score, line, text, shell)) = worst_exec(ctx, unit) else {
        // No command: only a specific name says anything (a weak one has nothing to stand on).
        let m = family_unit(ctx, name).filter(|m| !m.weak)?;
        let mut score = Score::default();
        score.add(4, format!("unit name matches {} marker", m.family));
        score.family = Some(m.family.clone());
        return common::line_finding(ctx, &rules::PER_010, file, 0, b"(unit file)", &score, None);
    };
    let start = unit
        .exec_commands()
        .into_iter()
        .find(|c| c.key == "ExecStart");
    let program = start
        .as_ref()
        .map(|c| c.program.clone())
        .unwrap_or_default();
    // What `ExecStart=` runs: the program and the scripts it is given.
    let mut started = start
        .as_ref()
        .map(|c| crate::parse::shell_line::analyze(&c.raw).executed)
        .unwrap_or_default();
    if started.is_empty() && !program.is_empty() {
        started.push(program.clone());
    }
    if let Some(m) = family_unit(ctx, name) {
        let packaged = !started.is_empty()
            && started.iter().all(|p| {
                ctx.model
                    .package_check(p)
                    .is_some_and(|c| c.verdict == PackageVerdict::Match)
            });
        let dropped = started
            .iter()
            .find(|p| markers::second_property(ctx.iocs, p));
        let named = minetrace_schemas::escape_bytes(name);
        if packaged {
            // The unit starts its package's own program: the name is not the family's.
            score.reasons.push(format!(
                "unit name {named} matches a {} marker, but ExecStart runs what its package installed: the name does not count",
                m.family
            ));
        } else if m.weak && dropped.is_none() && score.points < 2 {
            score.reasons.push(format!(
                "unit name {named} is a {} name, but an ordinary word: it counts only with a second sign, and the unit has none",
                m.family
            ));
        } else {
            let with = match (m.weak, dropped) {
                (true, Some(p)) => format!(
                    " (an ordinary word, counted because the unit runs {} from a drop place)",
                    minetrace_schemas::escape_bytes(p)
                ),
                (true, None) => {
                    " (an ordinary word, counted because the unit's command is suspicious itself)"
                        .to_owned()
                }
                _ => String::new(),
            };
            score.add(
                4,
                format!("unit name {named} matches a {} marker{with}", m.family),
            );
            score.family.get_or_insert(m.family.clone());
        }
    }
    if super::system_bins::unowned_in_package_dir(ctx.model, &program) {
        score.add(
            2,
            format!(
                "runs {}, which no package owns, from a directory only packages write to",
                minetrace_schemas::escape_bytes(&program)
            ),
        );
    }
    if imitates_system_unit(ctx, path, &program) {
        score.add(
            2,
            format!(
                "named like a system unit but runs {}",
                minetrace_schemas::escape_bytes(&program)
            ),
        );
    }
    let accounts = &ctx.model.accounts;
    if score.points > 0 {
        if let Some(r) = unit
            .restart()
            .filter(|r| r == "always" || r == "on-failure" || r == "on-abnormal")
        {
            score.add(1, format!("Restart={r}: systemd restarts it when killed"));
        }
        if let Some(u) = unit.user().filter(|u| accounts.is_service(ctx.iocs, u)) {
            score.add(
                1,
                format!(
                    "runs as service account {}",
                    minetrace_schemas::escape_bytes(u)
                ),
            );
        }
    }
    common::lock_points(file, &mut score);
    let mut f = common::line_finding(
        ctx,
        &rules::PER_010,
        file,
        line,
        &text,
        &score,
        Some(&shell),
    )?;
    if let Some(u) = unit.user() {
        f = f.subject(account_subject(accounts, u));
    }
    Some(f)
}

/// A unit named like the OS's own (`system_unit_prefix`: sshd-update.service, dbus-x.service) in
/// `/etc/systemd/` whose start program (`program`, `ExecStart=`'s) is no system program: an imitation.
pub fn imitates_system_unit(ctx: &Context, path: &[u8], program: &[u8]) -> bool {
    ctx.iocs.prefixes(Kind::SystemUnitPrefix, unit_name(path))
        && !program.is_empty()
        && !system_program(ctx, program)
        && path.starts_with(b"/etc/systemd/")
}

/// Whether a unit's name alone says it is the intrusion's, as `MT-PER-010` judges names: a family's
/// specific unit name (not an ordinary word such as `bot.service`), or an imitation of a system unit
/// ([`imitates_system_unit`]). The remediation planner reads the same judgement.
pub fn name_is_intrusions(ctx: &Context, path: &[u8], program: &[u8]) -> bool {
    family_unit(ctx, unit_name(path)).is_some_and(|m| !m.weak)
        || imitates_system_unit(ctx, path, program)
}

fn family_unit<'a>(ctx: &'a Context, name: &[u8]) -> Option<&'a FamilyMarker> {
    ctx.iocs
        .family_markers
        .iter()
        .find(|m| m.kind == MarkerKind::Unit && m.value.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use minetrace_schemas::findings::Severity;

    fn unit(path: &[u8], exec: &str, user: &str) -> (FileRecord, Option<Vec<u8>>) {
        let text = format!(
            "[Service]\nUser={user}\nExecStart={exec}\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n"
        );
        fixture::file(path, Some(text.as_bytes()))
    }

    /// Review s4 item 3: `bot.service` (a Kinsing unit name, and the name bot tutorials use) counts only
    /// with a second property; a package-owned `ExecStart=` withdraws even a specific unit marker.
    #[test]
    fn a_weak_unit_name_needs_a_second_sign_a_packaged_program_withdraws_any() {
        let mut python = fixture::not_owned(b"/usr/bin/python3", "exec");
        python.verdict = PackageVerdict::Match;
        python.package = Some("python3-minimal".into());
        let model = fixture::model(
            vec![
                // A Telegram bot from the tutorials, as a system user.
                unit(
                    b"/etc/systemd/system/bot.service",
                    "/usr/bin/python3 /opt/bot/main.py",
                    "bot",
                ),
                // Kinsing's own (threats.md: ExecStart=/etc/data/kinsing).
                unit(
                    b"/run/systemd/system/bot.service",
                    "/etc/data/kinsing",
                    "root",
                ),
                // A specific name starting what its package installed.
                unit(
                    b"/etc/systemd/system/pwnrige.service",
                    "/usr/bin/python3 -m http.server",
                    "root",
                ),
            ],
            vec![python],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let about = |path: &str| {
            found.iter().find(|f| {
                f.iter_subjects().any(|s| {
                    matches!(s, minetrace_schemas::findings::Subject::Persistence { path: p, .. } if p.as_bytes() == path.as_bytes())
                })
            })
        };
        assert!(
            about("/etc/systemd/system/bot.service").is_none(),
            "{found:#?}"
        );
        let kinsing = about("/run/systemd/system/bot.service");
        assert!(
            kinsing.is_some_and(
                |f| f.severity >= Severity::High && f.family.as_deref() == Some("Kinsing")
            ),
            "{kinsing:#?}"
        );
        assert!(
            about("/etc/systemd/system/pwnrige.service").is_none(),
            "{found:#?}"
        );
    }

    /// `system_unit_prefix` values come from the indicators: a user's file adds a name the OS's units
    /// use (case kept: systemd compares unit names exactly).
    #[test]
    fn an_iocs_file_adds_system_unit_prefixes() {
        let model = fixture::model(
            vec![
                unit(
                    b"/etc/systemd/system/zz-agent.service",
                    "/tmp/.zz/agent",
                    "root",
                ),
                unit(
                    b"/etc/systemd/system/ZZ-other.service",
                    "/tmp/.zz/other",
                    "root",
                ),
            ],
            Vec::new(),
        );
        let imitating = |iocs: &Indicators| -> Vec<String> {
            detect(&Context {
                model: &model,
                iocs,
            })
            .into_iter()
            .filter(|f| {
                f.evidence
                    .iter()
                    .any(|e| e.contains("named like a system unit"))
            })
            .flat_map(|f| {
                f.iter_subjects()
                    .filter_map(|s| match s {
                        minetrace_schemas::findings::Subject::Persistence { path, .. } => {
                            Some(path.escaped())
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
        };
        let mut iocs = Indicators::builtin();
        assert!(imitating(&iocs).is_empty());
        iocs.add_text("mine.iocs", "system_unit_prefix zz-\n")
            .unwrap();
        assert_eq!(imitating(&iocs), ["/etc/systemd/system/zz-agent.service"]);
    }
}
