//! Flagged lines of systemd units and drop-ins: the whole unit, or only its lines (review #4).
//!
//! A finding names one line of a unit (its worst `Exec*=` line, a line that starts a judged miner). The
//! unit goes whole (stopped, disabled, removed, as the kit units of pwnrig, the watchdog pair and Migo
//! are) only when it is the intrusion's unit, and whose unit it is is judged from the unit file itself
//! (review of train 2, item 3), never from the names of its settings:
//! - its commands: every command line in it (`Exec*=` with a value) is flagged by a finding, runs kit
//!   code (a file the plan quarantines) or is template boilerplate, and no flagged line also runs a
//!   program of the host's own (the attacker wrapping the host's command);
//! - a package owning the unit file (the bundle's package check of it, [`packaged`]; one that could not
//!   read the file but names its package counts): then it is the host's unit, never removed whole, not
//!   even when a finding names it whole or it is the timer of a kit unit (a kit that rewrites a host unit
//!   and `systemctl reenable`s it makes its links new: link time alone never decides);
//! - when the file was born and when it was enabled (its birth time, and the change time of the
//!   `.wants` links `systemctl enable` made, against the intrusion window, [`crate::detect::window`]): a
//!   unit new in the window and enabled only in it goes whole, whatever settings it carries; a unit born
//!   or enabled before the intrusion, one nothing dates, and one in a package directory no package check
//!   looked at (`sed -i` on a vendor unit makes a new file) go whole only when their name is the
//!   intrusion's (`MT-PER-010`'s judgement, [`crate::detect::footholds::systemd::name_is_intrusions`])
//!   or, as the tie-break, they hold nothing but template settings (`unit_template_setting` indicators);
//!   otherwise they are left to the responder (fail closed).
//!
//! Otherwise the unit is the host's own with an attacker's line in it (an `ExecStartPre=` put in front of
//! the host's `ExecStart=`, an `Environment=` line): only the flagged lines go, every other byte stays,
//! and the manager reloads the unit (see `template.sh`, `edit-unit`). The place a unit file lies in does
//! not decide it: a kit unit in `/usr/lib/systemd/system` looks like a vendor one there.
//!
//! A unit with no command line of its own (a drop-in holding only an `Environment=` line) loses only
//! its flagged lines.
//!
//! A timer a finding names because it starts a unit whose lines are edited is the host's timer of the
//! host's unit: it stays (the responder is told). A unit whose content the bundle does not hold cannot be
//! told either way: its whole removal is a review item.

use std::collections::BTreeSet;

use minetrace_schemas::findings::Finding;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::RawBytes;

use super::collect::{Basis, Collect, FileFate, WantedLines};
use crate::detect::footholds::systemd::name_is_intrusions;
use crate::detect::window::Window;
use crate::detect::Context;
use crate::indicators::paths::PathClass;
use crate::indicators::{Indicators, Kind};
use crate::model::persistence::unit_name;
use crate::model::HostModel;
use crate::parse::shell_line;
use crate::parse::systemd_unit::{ExecCommand, Unit};

/// What the flagged lines of one unit file make of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitFate {
    /// The unit is the intrusion's: removed whole.
    Whole,
    /// The host's unit: only the flagged lines go.
    Lines,
    /// The host's unit, but removing the flagged lines would break it or bring other bytes to life: left
    /// to the responder, with why (its start line rewritten, a flagged assignment continued on the next
    /// line).
    ByHand(&'static str),
    /// The bundle does not hold its content: nothing tells which it is.
    Unknown,
}

/// When a unit file was born, against the intrusion window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Born {
    /// Before the window (and its slack): the file existed before the intrusion; the attacker edited it.
    Before,
    /// Inside the window.
    Inside,
    /// No birth time recorded (the file system or kernel keeps none), no window, or after it.
    Unknown,
}

/// What the plan knows about one unit file besides its content.
pub struct UnitFile<'a> {
    pub path: &'a [u8],
    pub record: Option<&'a FileRecord>,
    pub content: Option<&'a [u8]>,
}

/// Decides a unit file from its content, the flagged line numbers, the kit files (recorded paths) the
/// plan quarantines and every file it acts on as an artifact (kit files and replaced package files it
/// reinstalls), the intrusion window and the bundle's facts about the file (module documentation):
/// - a flagged line that also runs a program of the host's own: the attacker wrapped the host's
///   command: by hand;
/// - every command is flagged, runs only kit files, or is template boilerplate, in a unit no package
///   owns: the intrusion's unit, removed whole, when it was born (or nothing says when) and enabled
///   inside the intrusion window; otherwise (born or enabled before it, nothing dating it, or a file
///   in a package directory the package check never looked at) only when its name is the
///   intrusion's or, the tie-break, it holds template settings only (fail closed: by hand);
/// - a flagged start line (`ExecStart=`) in a unit with the host's own commands, a package's unit or
///   one born before the intrusion: the host's start line rewritten; cutting it would leave a unit that
///   never starts again: by hand;
/// - a flagged assignment continued on the next line (`\`): cutting its first line would bring the
///   continuation to life as a line of its own: by hand;
/// - otherwise (an `ExecStartPre=` or `Environment=` line added to the host's unit): only those lines.
pub fn fate(
    ctx: &Context,
    window: Option<&Window>,
    file: &UnitFile,
    flagged: &BTreeSet<u32>,
    (kit, artifacts): (&BTreeSet<Vec<u8>>, &BTreeSet<Vec<u8>>),
) -> UnitFate {
    let model = ctx.model;
    let Some(content) = file.content else {
        return UnitFate::Unknown;
    };
    let unit = Unit::parse(content);
    let commands = unit.exec_commands();
    let kit_code = |raw: &[u8], program: &[u8]| {
        let analysed = shell_line::analyze(raw);
        let mut runs: Vec<&[u8]> = analysed.executed.iter().map(Vec::as_slice).collect();
        if runs.is_empty() && !program.is_empty() {
            runs.push(program);
        }
        !runs.is_empty()
            && runs.iter().all(|p| {
                let recorded = model.file_aliased(p).map_or(*p, |r| r.path.as_bytes());
                kit.contains(recorded)
            })
    };
    let hosts_commands = commands.iter().any(|c| {
        !flagged.contains(&c.line) && !kit_code(&c.raw, &c.program) && !boilerplate(ctx, &c.program)
    });
    let start_flagged = commands
        .iter()
        .any(|c| c.key == "ExecStart" && flagged.contains(&c.line));
    if let Some(key) = wraps_host_program(ctx, &commands, flagged, artifacts) {
        return UnitFate::ByHand(if key == "ExecStart" {
            "the host's unit with its start line rewritten: the flagged start line also runs a program of the host's own (not kit code, not a shell or interpreter, not in a temp or hidden directory): the attacker wrapped the host's command; restore ExecStart= from its package or by hand"
        } else {
            "a flagged line also runs a program of the host's own (not kit code, not a shell or interpreter, not in a temp or hidden directory): the attacker wrapped the host's command; restore the line by hand"
        });
    }
    let packaged = packaged(model, file.path);
    if !commands.is_empty() && !hosts_commands && !packaged {
        let start = commands.iter().find(|c| c.key == "ExecStart");
        let named = || name_is_intrusions(ctx, file.path, start.map_or(&[][..], |c| &c.program));
        // The tie-break: a unit holding nothing but a template's settings.
        let template_only = || {
            unit.entries.iter().all(|e| {
                e.key.starts_with("Exec") || ctx.iocs.contains(Kind::UnitTemplateSetting, &e.key)
            })
        };
        // A unit in a package directory with no package check of it is not known to be unowned (the
        // collector does not check unit files yet): `sed -i` on /lib/systemd/system/cron.service makes
        // a new file born in the window. Only its name can say it is the intrusion's.
        let unchecked_in_package_dir = ctx.iocs.paths().is(PathClass::Package, file.path)
            && model.package_check(file.path).is_none();
        let whole = if unchecked_in_package_dir {
            named()
        } else {
            match (born(file.record, window), enabled(model, file.path, window)) {
                // Born or enabled before the intrusion: the host's unit edited.
                (Born::Before, _) | (_, Born::Before) => named() || template_only(),
                // New in the window and enabled only in it (`systemctl enable` made its links then): a
                // unit the attacker wrote, whatever settings it carries. A host unit rewritten in place
                // keeps the links it was enabled with long before.
                (Born::Inside | Born::Unknown, Born::Inside) => true,
                // Nothing dates it: fail closed.
                _ => named() || template_only(),
            }
        };
        if whole {
            return UnitFate::Whole;
        }
    }
    if start_flagged {
        return UnitFate::ByHand(if packaged {
            "a package's unit with its start line rewritten: cutting the line would leave a unit that never starts again; reinstall its package or restore ExecStart= by hand"
        } else {
            "the host's unit as far as the bundle tells (its own commands or settings, born or enabled before the intrusion, a file in a package directory, or nothing dating it) with its start line rewritten: cutting the line would leave a unit that never starts again; restore ExecStart= from its package or by hand"
        });
    }
    if continued(content, flagged) {
        return UnitFate::ByHand(
            "a flagged assignment continues on the next line (a trailing backslash): cutting one line would make its continuation a line of its own; edit the unit by hand",
        );
    }
    UnitFate::Lines
}

/// Whether a package owns the unit file, by the bundle's package check of it: its digest matching,
/// differing or not recorded, or a package named though the file could not be read. Such a unit is the
/// host's whatever its birth time and its `.wants` links say (`systemctl reenable` after a rewrite makes
/// them new): never removed whole by this plan ([`fate`], and `Collect::whole_file` for a unit a finding
/// names whole, or a timer that starts a kit unit).
pub fn packaged(model: &HostModel, path: &[u8]) -> bool {
    model.owned_by_package(path)
}

/// A template's boilerplate program (`unit_boilerplate_program`: `kill`, `sleep`, `true`).
fn boilerplate(ctx: &Context, program: &[u8]) -> bool {
    ctx.iocs.contains_bytes(
        Kind::UnitBoilerplateProgram,
        crate::parse::basename(program),
    )
}

/// When the unit file was born, against the window: from its birth time (statx), which no `touch` sets
/// back; a unit the attacker rewrote through a new file (`sed -i`) is born then too.
fn born(record: Option<&FileRecord>, window: Option<&Window>) -> Born {
    let (Some(t), Some(w)) = (record.and_then(|r| r.btime).filter(|t| t.secs > 0), window) else {
        return Born::Unknown;
    };
    if w.contains(t.secs) {
        Born::Inside
    } else if t.secs < w.start {
        Born::Before
    } else {
        Born::Unknown
    }
}

/// When the unit was enabled: the `.wants`/`.requires` links of the unit directories that carry its name
/// (as `systemctl enable` makes them), by their change time — a link is never rewritten, and no `touch`
/// sets a change time back. Before: one of them was made before the window; Inside: all of them inside
/// it; Unknown: no link, no window or no time.
fn enabled(model: &HostModel, path: &[u8], window: Option<&Window>) -> Born {
    let Some(w) = window else {
        return Born::Unknown;
    };
    let name = unit_name(path);
    let times: Vec<i64> = model
        .files
        .iter()
        .filter(|f| {
            let p = f.path.as_bytes();
            f.kind == FileKind::Symlink
                && crate::parse::basename(p) == name
                && crate::parse::systemd_unit::is_unit_path(p)
                && {
                    let dir = crate::parse::basename(crate::parse::dirname(p));
                    dir.ends_with(b".wants") || dir.ends_with(b".requires")
                }
        })
        .map(|f| f.ctime.secs)
        .collect();
    if times
        .iter()
        .any(|t| *t > 0 && *t < w.start && !w.contains(*t))
    {
        Born::Before
    } else if !times.is_empty() && times.iter().all(|t| w.contains(*t)) {
        Born::Inside
    } else {
        Born::Unknown
    }
}

/// The key of a flagged command line that also runs a program of the host's own, if one does: a path it
/// runs that the plan does not act on as an artifact (`artifacts`: kit code it quarantines, a replaced
/// package file it reinstalls), outside the places kits are dropped (temp,
/// hidden), that is no shell, interpreter or downloader (`shell_or_downloader`, `interpreter`: what
/// starts other code) nor template boilerplate, and, in a package directory, not a file the package
/// check found no package owns. `ExecStart=/bin/sh -c '/tmp/.x/run & exec /opt/app/server'` wraps the
/// admin's server (review of train 2, item 1), `... & exec /usr/sbin/cron -f` the host's cron: removing
/// the unit or the line would take the host's service with it.
fn wraps_host_program<'a>(
    ctx: &Context,
    commands: &'a [ExecCommand],
    flagged: &BTreeSet<u32>,
    artifacts: &BTreeSet<Vec<u8>>,
) -> Option<&'a str> {
    let model = ctx.model;
    let paths = ctx.iocs.paths();
    let launcher = |p: &[u8]| {
        let name = crate::parse::basename(p);
        ctx.iocs.contains_bytes(Kind::ShellOrDownloader, name)
            || ctx.iocs.contains_bytes(Kind::Interpreter, name)
            || boilerplate(ctx, p)
    };
    commands
        .iter()
        .filter(|c| flagged.contains(&c.line))
        .find(|c| {
            shell_line::analyze(&c.raw).executed.iter().any(|p| {
                let recorded = model
                    .file_aliased(p)
                    .map_or(p.as_slice(), |r| r.path.as_bytes());
                // In a package directory, a file the package check found no package owns is no
                // program of the host's (an unowned file there is planted).
                let vouched = || {
                    !paths.is(PathClass::Package, p)
                        || model
                            .package_check(p)
                            .is_none_or(|c| c.verdict != PackageVerdict::NotOwned)
                };
                p.starts_with(b"/")
                    && !artifacts.contains(recorded)
                    && !paths.is(PathClass::KitProne, p)
                    && !launcher(p)
                    && vouched()
            })
        })
        .map(|c| c.key.as_str())
}

/// Whether a flagged line ends with a backslash: systemd joins the next line to it.
fn continued(content: &[u8], flagged: &BTreeSet<u32>) -> bool {
    crate::parse::numbered_lines(content)
        .any(|(n, raw)| flagged.contains(&n) && raw.trim_ascii_end().ends_with(b"\\"))
}

/// Resolves the flagged unit lines the collector set aside (`Collect::unit_lines`): whole units become
/// whole-file targets, the others line removals; timers of kept units are left alone.
pub fn resolve(model: &HostModel, iocs: &Indicators, findings: &[Finding], c: &mut Collect) {
    let ctx = Context { model, iocs };
    // The intrusion window as MT-SSH-007 reads it: when the unit files were born against it.
    let window = crate::detect::window::window(&ctx, findings);
    let kit: BTreeSet<Vec<u8>> = c
        .files
        .iter()
        .filter(|(_, (_, _, f))| matches!(f, FileFate::Quarantine))
        .map(|(k, _)| k.clone())
        .collect();
    // Every file the plan acts on as an artifact: kit code, and replaced package files it reinstalls.
    let artifacts: BTreeSet<Vec<u8>> = c
        .files
        .iter()
        .filter(|(_, (_, _, f))| matches!(f, FileFate::Quarantine | FileFate::Reinstall(_)))
        .map(|(k, _)| k.clone())
        .collect();
    let mut kept_units: BTreeSet<Vec<u8>> = BTreeSet::new();
    for (path, wanted) in std::mem::take(&mut c.unit_lines) {
        let rec = model.file_aliased(&path);
        let flagged: BTreeSet<u32> = wanted.keys().copied().collect();
        let mut basis = Basis::default();
        for (_, b) in wanted.values() {
            basis.merge(b);
        }
        let raw = RawBytes::from(path.clone());
        let file = UnitFile {
            path: rec.map_or(path.as_slice(), |r| r.path.as_bytes()),
            record: rec,
            content: rec.and_then(|r| model.content(r)),
        };
        match fate(&ctx, window.as_ref(), &file, &flagged, (&kit, &artifacts)) {
            UnitFate::Whole => c.whole_file(model, &raw, &basis),
            UnitFate::Unknown => c.whole_file(
                model,
                &raw,
                &basis.capped(
                    "the unit's content is not in the bundle: nothing tells the host's unit from the attacker's",
                ),
            ),
            UnitFate::Lines => {
                kept_units.insert(unit_name(&path).to_vec());
                add_lines(c, &path, wanted);
            }
            UnitFate::ByHand(why) => {
                kept_units.insert(unit_name(&path).to_vec());
                let numbers: Vec<String> = wanted.keys().map(u32::to_string).collect();
                c.manual(format!("lines {} of {}", numbers.join(","), raw.escaped()), why);
            }
        }
    }
    // A unit removed whole under the same name (a kit unit shadowing the host's) leaves nothing to keep.
    kept_units.retain(|u| {
        !c.files
            .values()
            .any(|(_, _, f)| matches!(f, FileFate::Unit(n) if n.as_bytes() == u.as_slice()))
    });
    if kept_units.is_empty() {
        return;
    }
    let timers: Vec<Vec<u8>> = c
        .files
        .iter()
        .filter(|(_, (_, _, f))| matches!(f, FileFate::Unit(n) if n.ends_with(".timer")))
        .filter(|(k, _)| starts(model, k).is_some_and(|u| kept_units.contains(&u)))
        .map(|(k, _)| k.clone())
        .collect();
    for t in timers {
        c.files.remove(&t);
        c.manual(
            format!("file {}", RawBytes::from(t).escaped()),
            "a timer of a host unit whose flagged lines are removed (the unit stays): kept",
        );
    }
}

fn add_lines(c: &mut Collect, path: &[u8], wanted: WantedLines) {
    let entry = c.lines.entry(path.to_vec()).or_default();
    for (n, (key, b)) in wanted {
        entry
            .entry(n)
            .or_insert_with(|| (key, Basis::default()))
            .1
            .merge(&b);
    }
}

/// The unit a timer file starts: its `Unit=`, else the service of its own name.
fn starts(model: &HostModel, path: &[u8]) -> Option<Vec<u8>> {
    let content = model.file_aliased(path).and_then(|r| model.content(r))?;
    if let Some(u) = Unit::parse(content).timer_unit() {
        return Some(u.to_vec());
    }
    let name = unit_name(path);
    let stem = name.strip_suffix(b".timer")?;
    Some([stem, b".service"].concat())
}

#[cfg(test)]
mod tests {
    use minetrace_schemas::findings::Severity;

    use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
    use crate::model::fixture;
    use crate::remediate::plan::{Action, Plan};
    use minetrace_schemas::RawBytes;

    fn plan_of(
        model: crate::model::HostModel,
        findings: Vec<minetrace_schemas::findings::Finding>,
    ) -> Plan {
        crate::remediate::test_plan::plan_of(model, crate::remediate::test_plan::doc(findings))
    }

    /// Units removed whole and files edited line by line (path, line numbers).
    fn shape(plan: &Plan) -> (Vec<String>, Vec<(String, Vec<u32>)>) {
        let mut units = Vec::new();
        let mut edits = Vec::new();
        for i in &plan.items {
            match &i.action {
                Action::RemoveUnit { file, .. } => units.push(file.path.escaped()),
                Action::RemoveLines { file, lines, .. } => edits.push((
                    file.path.escaped(),
                    lines.iter().map(|l| l.number).collect(),
                )),
                _ => {}
            }
        }
        (units, edits)
    }

    const HOST_SSH: &[u8] = b"[Unit]\nDescription=OpenBSD Secure Shell server\n\n[Service]\nEnvironment=SSHD_OPTS=\nExecStartPre=/usr/sbin/sshd -t\nExecStartPre=/tmp/.x/run\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\nExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n";

    /// Review #4: an attacker's `ExecStartPre=` in the host's own unit takes that line, never the unit
    /// (nor the host's timer that starts it); a kit unit, every command of it flagged or running a
    /// quarantined kit file, goes whole wherever it lies (`/usr/lib/systemd/system` too).
    #[test]
    fn a_flagged_line_takes_the_whole_unit_only_when_the_unit_is_the_intrusions() {
        let model = fixture::model(
            vec![
                fixture::file(b"/usr/lib/systemd/system/ssh.service", Some(HOST_SSH)),
                fixture::file(
                    b"/usr/lib/systemd/system/ssh.timer",
                    Some(b"[Timer]\nOnCalendar=daily\n"),
                ),
                fixture::file(
                    b"/usr/lib/systemd/system/pwnrigl.service",
                    Some(b"[Service]\nExecStartPre=/usr/bin/initdr --prep\nExecStart=/usr/bin/initdr\nRestart=always\n"),
                ),
                fixture::file(b"/usr/bin/initdr", Some(b"\x7fELF kit")),
                fixture::file(
                    b"/etc/systemd/system/cron.service.d/override.conf",
                    Some(b"[Service]\nLimitNOFILE=4096\nEnvironment=LD_PRELOAD=/tmp/.x/h.so\n"),
                ),
                fixture::file(b"/tmp/.x/run", Some(b"#!/bin/sh\n/tmp/.x/kswapd0 &\n")),
            ],
            vec![fixture::not_owned(b"/usr/bin/initdr", "system-binary")],
        );
        let ssh = RawBytes::from(&b"/usr/lib/systemd/system/ssh.service"[..]);
        let kit = RawBytes::from(&b"/usr/lib/systemd/system/pwnrigl.service"[..]);
        let dropin = RawBytes::from(&b"/etc/systemd/system/cron.service.d/override.conf"[..]);
        let rec = |p: &[u8]| model.file(p).expect("record").clone();
        let findings = vec![
            finding(&crate::detect::rules::PER_010, Severity::Critical)
                .subject(persistence_subject(&ssh, 7))
                .subject(file_subject(&rec(b"/usr/lib/systemd/system/ssh.timer"))),
            // Only its ExecStart= is flagged; its ExecStartPre= runs the same kit file.
            finding(&crate::detect::rules::PER_010, Severity::Critical)
                .subject(persistence_subject(&kit, 3))
                .subject(file_subject(&rec(b"/usr/bin/initdr"))),
            finding(&crate::detect::rules::PER_010, Severity::High)
                .subject(persistence_subject(&dropin, 3)),
            finding(&crate::detect::rules::EVA_050, Severity::High)
                .subject(file_subject(&rec(b"/tmp/.x/run"))),
        ];
        let plan = plan_of(model, findings);
        let (units, edits) = shape(&plan);
        assert_eq!(
            units,
            vec!["/usr/lib/systemd/system/pwnrigl.service".to_owned()],
            "{:#?}",
            plan.items
        );
        assert_eq!(
            edits,
            vec![
                (
                    "/etc/systemd/system/cron.service.d/override.conf".to_owned(),
                    vec![3]
                ),
                ("/usr/lib/systemd/system/ssh.service".to_owned(), vec![7]),
            ],
            "{:#?}",
            plan.items
        );
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("ssh.timer") && m.contains("kept")),
            "{:?}",
            plan.manual
        );
        // The script reloads systemd after editing a unit.
        let script = crate::remediate::script::data_block(&plan);
        assert!(
            script.contains(&format!(" {} ", hex::encode("edit-unit"))),
            "{script}"
        );
    }

    /// Review of train 1, items 2, 3 and 6: a host unit whose start line the attacker rewrote, or whose
    /// flagged line continues on the next, is left to the responder (never cut, never removed); a kit unit
    /// with template boilerplate (`ExecReload=/bin/kill`) still goes whole, with its timer.
    #[test]
    fn rewritten_start_lines_and_continued_lines_are_by_hand_boilerplate_kit_units_go_whole() {
        let cron = b"[Unit]\nDescription=Regular background program processing daemon\n\n[Service]\nEnvironmentFile=-/etc/default/cron\nExecStart=/bin/sh -c '/tmp/.x/run & exec /usr/sbin/cron -f'\nIgnoreSIGPIPE=false\nKillMode=process\nRestart=on-failure\n";
        let ssh = b"[Service]\nExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D\nExecReload=/bin/kill -HUP $MAINPID\n";
        let continued =
            b"[Service]\nExecStartPre=/tmp/.x/run \\\n  --quiet\nExecStart=/usr/sbin/rsyslogd -n\n";
        let kit = b"[Unit]\nDescription=system helper\n[Service]\nExecStartPre=/bin/sleep 10\nExecStart=/var/lib/.h/helper\nExecReload=/bin/kill -HUP $MAINPID\nRestart=always\n[Install]\nWantedBy=multi-user.target\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/etc/systemd/system/cron.service", Some(cron)),
                fixture::file(b"/etc/systemd/system/ssh.service", Some(ssh)),
                fixture::file(b"/etc/systemd/system/rsyslog.service", Some(continued)),
                fixture::file(b"/etc/systemd/system/helper.service", Some(kit)),
                fixture::file(
                    b"/etc/systemd/system/helper.timer",
                    Some(b"[Timer]\nOnBootSec=60\n"),
                ),
            ],
            vec![],
        );
        let p = |s: &str| RawBytes::from(s.as_bytes());
        let timer = model
            .file(b"/etc/systemd/system/helper.timer")
            .expect("record")
            .clone();
        let f = finding(&crate::detect::rules::PER_010, Severity::Critical)
            .subject(persistence_subject(
                &p("/etc/systemd/system/cron.service"),
                6,
            ))
            .subject(persistence_subject(
                &p("/etc/systemd/system/ssh.service"),
                3,
            ))
            .subject(persistence_subject(
                &p("/etc/systemd/system/rsyslog.service"),
                2,
            ))
            .subject(persistence_subject(
                &p("/etc/systemd/system/helper.service"),
                5,
            ))
            .subject(file_subject(&timer));
        let plan = plan_of(model, vec![f]);
        let (units, edits) = shape(&plan);
        assert_eq!(
            units,
            vec![
                "/etc/systemd/system/helper.service".to_owned(),
                "/etc/systemd/system/helper.timer".to_owned()
            ],
            "{:#?}",
            plan.items
        );
        assert!(edits.is_empty(), "{edits:?}");
        for (unit, why) in [
            ("cron.service", "start line rewritten"),
            ("ssh.service", "start line rewritten"),
            ("rsyslog.service", "continues on the next line"),
        ] {
            assert!(
                plan.manual
                    .iter()
                    .any(|m| m.contains(unit) && m.contains(why)),
                "{unit}: {:?}",
                plan.manual
            );
        }
    }

    /// Review of train 2, item 1: an admin's hand-written unit (template settings only) whose start line
    /// the attacker wrapped around the admin's server is the host's: by hand, never removed whole; a kit
    /// unit whose start line runs only kit code and package programs still goes whole.
    #[test]
    fn a_start_line_wrapped_around_the_hosts_program_is_by_hand() {
        let app = b"[Unit]\nDescription=Queue worker\nAfter=network.target\n[Service]\nUser=app\nExecStart=/bin/sh -c '/tmp/.x/run & exec /opt/app/bin/server --queue'\nRestart=always\n[Install]\nWantedBy=multi-user.target\n";
        let kit = b"[Unit]\nDescription=helper\n[Service]\nExecStart=/bin/sh -c '/usr/bin/nohup /tmp/.x/run >/dev/null'\nRestart=always\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/etc/systemd/system/app-worker.service", Some(app)),
                fixture::file(b"/etc/systemd/system/helper.service", Some(kit)),
                fixture::file(b"/tmp/.x/run", Some(b"#!/bin/sh\n/tmp/.x/kswapd0 &\n")),
            ],
            vec![],
        );
        let p = |s: &str| RawBytes::from(s.as_bytes());
        let run = model.file(b"/tmp/.x/run").expect("record").clone();
        let f = finding(&crate::detect::rules::PER_010, Severity::Critical)
            .subject(persistence_subject(
                &p("/etc/systemd/system/app-worker.service"),
                6,
            ))
            .subject(persistence_subject(
                &p("/etc/systemd/system/helper.service"),
                4,
            ))
            .subject(file_subject(&run));
        let plan = plan_of(model, vec![f]);
        let (units, edits) = shape(&plan);
        assert_eq!(
            units,
            vec!["/etc/systemd/system/helper.service".to_owned()],
            "{:#?}",
            plan.items
        );
        assert!(edits.is_empty(), "{edits:?}");
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("app-worker.service") && m.contains("wrapped")),
            "{:?}",
            plan.manual
        );
    }

    /// The unit MoneroOcean's and C3Pool's `setup_*_miner.sh` write (reused by 8220, TeamTNT and Kinsing
    /// variants), as the script writes it with `$HOME` expanded.
    const MONEROOCEAN: &str = "[Unit]\nDescription=Monero miner service\n\n[Service]\nExecStart=/root/moneroocean/xmrig --config=/root/moneroocean/config.json\nRestart=always\nNice=10\nCPUWeight=1\n\n[Install]\nWantedBy=multi-user.target\n";

    /// Units removed whole and the by-hand notes of a plan for one unit file at `path` whose line `line`
    /// a critical MT-PER-010 names, beside the miner it starts (`/root/moneroocean/xmrig`, flagged on
    /// its own) and a timer that starts it. `birth`: the unit file's birth time (the intrusion's files
    /// are all modified at 1_700_000_000); `package`: the package owning the unit file.
    fn unit_plan(
        path: &str,
        content: &str,
        line: u32,
        (birth, enabled): (Option<i64>, Option<i64>),
        package: Option<&str>,
    ) -> (Vec<String>, Vec<String>) {
        let timer = path.replace(".service", ".timer");
        let (mut unit, bytes) = fixture::file(path.as_bytes(), Some(content.as_bytes()));
        unit.btime =
            birth.map(|secs| minetrace_schemas::records::file::FileTime { secs, nanos: 0 });
        // The link `systemctl enable` made, at its change time.
        let name = path.rsplit('/').next().unwrap_or_default();
        let link = format!("/etc/systemd/system/multi-user.target.wants/{name}");
        let links = enabled.map(|secs| {
            let (mut l, c) = fixture::symlink(link.as_bytes(), path.as_bytes());
            l.ctime.secs = secs;
            (l, c)
        });
        let checks = package
            .map(|p| {
                let mut c = fixture::not_owned(path.as_bytes(), "persistence");
                c.verdict = minetrace_schemas::records::package::PackageVerdict::Mismatch;
                c.package = Some(p.to_owned());
                c
            })
            .into_iter()
            .collect();
        let model = fixture::model(
            [
                (unit, bytes),
                fixture::file(
                    timer.as_bytes(),
                    Some(b"[Timer]\nOnBootSec=60\n[Install]\nWantedBy=timers.target\n"),
                ),
                fixture::file(b"/root/moneroocean/xmrig", Some(b"\x7fELF miner")),
            ]
            .into_iter()
            .chain(links)
            .collect(),
            checks,
        );
        let rec = |p: &[u8]| model.file(p).expect("record").clone();
        let findings = vec![
            finding(&crate::detect::rules::PER_010, Severity::Critical)
                .subject(persistence_subject(&RawBytes::from(path.as_bytes()), line))
                .subject(file_subject(&rec(timer.as_bytes()))),
            finding(&crate::detect::rules::RUN_001, Severity::Critical)
                .subject(file_subject(&rec(b"/root/moneroocean/xmrig"))),
        ];
        let plan = plan_of(model, findings);
        let (units, edits) = shape(&plan);
        assert!(edits.is_empty(), "{edits:?}");
        (units, plan.manual)
    }

    /// Whether a note for the responder names `unit` and says `why`.
    fn says(manual: &[String], unit: &str, why: &str) -> bool {
        manual.iter().any(|m| m.contains(unit) && m.contains(why))
    }

    /// No unit removed, and the note for `unit` says `why`.
    fn by_hand(units: &[String], manual: &[String], unit: &str, why: &str) {
        assert!(units.is_empty(), "{units:?}");
        assert!(says(manual, unit, why), "{unit}: {why}: {manual:?}");
    }

    /// Review of train 2, item 3: whose unit it is comes from the unit file, not from the names of its
    /// settings. The MoneroOcean unit (`CPUWeight=1`, no template setting), new in the intrusion window
    /// (born then, or no birth time recorded) and enabled then (`systemctl enable`'s link), is the
    /// intrusion's and goes whole with its timer; a `Documentation=man:sshd(8)` line the attacker adds
    /// changes nothing. Nothing dating it (no link): fail closed, by hand.
    #[test]
    fn a_kit_unit_goes_whole_whatever_settings_it_carries() {
        let path = "/etc/systemd/system/moneroocean_miner.service";
        let both = vec![
            path.to_owned(),
            "/etc/systemd/system/moneroocean_miner.timer".to_owned(),
        ];
        let now = Some(1_700_000_000);
        for birth in [now, None] {
            let (units, manual) = unit_plan(path, MONEROOCEAN, 5, (birth, now), None);
            assert_eq!(units, both, "born {birth:?}: {manual:?}");
        }
        let disguised = MONEROOCEAN.replace("[Unit]\n", "[Unit]\nDocumentation=man:sshd(8)\n");
        let (units, manual) = unit_plan(path, &disguised, 6, (now, now), None);
        assert_eq!(units, both, "{manual:?}");
        let (units, manual) = unit_plan(path, MONEROOCEAN, 5, (now, None), None);
        by_hand(
            &units,
            &manual,
            "moneroocean_miner.service",
            "nothing dating it",
        );
    }

    /// The same review item: a unit file a package owns, or one born or enabled before the intrusion
    /// window, is the host's even when every command in it is the attacker's: its rewritten start line
    /// is by hand and its timer stays — unless (not a package's) its name is a family's or it holds
    /// nothing but template settings (an earlier stage's kit unit).
    #[test]
    fn a_packaged_or_pre_window_unit_is_the_hosts() {
        let host = "[Unit]\nDescription=Regular background program processing daemon\n[Service]\nExecStart=/root/moneroocean/xmrig --config=/root/moneroocean/config.json\nKillMode=process\n";
        let path = "/usr/lib/systemd/system/cron.service";
        let now = Some(1_700_000_000);
        // A package's unit: by hand, even born and enabled inside the window.
        let (units, manual) = unit_plan(path, host, 4, (now, now), Some("cron"));
        by_hand(&units, &manual, "cron.service", "a package's unit");
        assert!(says(&manual, "cron.timer", "kept"), "{manual:?}");
        // Born a year before the intrusion, with a setting of its own: by hand.
        let year_before = Some(1_700_000_000 - 365 * 86_400);
        let app = "/etc/systemd/system/app.service";
        let (units, manual) = unit_plan(app, host, 4, (year_before, None), None);
        by_hand(&units, &manual, "app.service", "start line rewritten");
        // Rewritten through a new file (`sed -i`: born in the window) but enabled a year before: by hand.
        let (units, _) = unit_plan(app, host, 4, (now, year_before), None);
        assert!(units.is_empty(), "{units:?}");
        // Born before the window with template settings only: the tie-break says a kit unit.
        let kit = "/etc/systemd/system/moneroocean_miner.service";
        let template = MONEROOCEAN.replace("CPUWeight=1\n", "");
        let (units, _) = unit_plan(kit, &template, 5, (year_before, None), None);
        assert_eq!(units.len(), 2, "{units:?}");
        // Born before the window with a setting outside the template: the host's by the tie-break...
        let (units, manual) = unit_plan(kit, MONEROOCEAN, 5, (year_before, None), None);
        assert!(units.is_empty(), "{units:?} {manual:?}");
        // ...unless its name is a family's (MT-PER-010's judgement of 8220's pwnrige.service).
        let named = "/etc/systemd/system/pwnrige.service";
        let (units, manual) = unit_plan(named, MONEROOCEAN, 5, (year_before, None), None);
        assert_eq!(units.len(), 2, "{units:?} {manual:?}");
    }

    /// Review of train 1 (session 6), item 1: `sed -i` on the vendor's cron.service makes a new file born
    /// in the window; with no package check of unit files in the bundle, a unit in a package directory
    /// is not known to be unowned: by hand, even "enabled" in the window, with template settings only
    /// too; a family's unit name there (8220's pwnrigl.service) still goes whole.
    #[test]
    fn a_unit_in_a_package_directory_no_package_check_covers_is_by_hand() {
        let sed = "[Unit]\nDescription=Regular background program processing daemon\n[Service]\nEnvironmentFile=-/etc/default/cron\nExecStart=/root/moneroocean/xmrig --config=/root/moneroocean/config.json\nKillMode=process\n";
        let template = MONEROOCEAN.replace("CPUWeight=1\n", "");
        let now = Some(1_700_000_000);
        for content in [sed, template.as_str()] {
            let (units, manual) = unit_plan(
                "/lib/systemd/system/cron.service",
                content,
                5,
                (now, now),
                None,
            );
            by_hand(&units, &manual, "cron.service", "start line rewritten");
        }
        let (units, _) = unit_plan(
            "/usr/lib/systemd/system/pwnrigl.service",
            MONEROOCEAN,
            5,
            (now, now),
            None,
        );
        assert_eq!(units.len(), 2, "{units:?}");
    }

    /// Issue 13: a kit that rewrites a host unit and `systemctl reenable`s it makes its `.wants` link new,
    /// so the unit looks new in the intrusion window. A unit file a package owns is never the kit's by
    /// link (or birth) time alone: the packaged timer of a kit unit that shadows the host's
    /// (`/etc/systemd/system/apt-daily.service` over the vendor's) stays, and so does a packaged unit a
    /// finding names whole or whose package check could not read it; an unowned kit timer still goes.
    #[test]
    fn a_packaged_unit_file_is_never_removed_by_link_time_alone() {
        use minetrace_schemas::records::package::PackageVerdict;
        let now = 1_700_000_000;
        let kit = "[Unit]\nDescription=Daily apt download activities\n[Service]\nExecStart=/root/moneroocean/xmrig --config=/root/moneroocean/config.json\nRestart=always\n[Install]\nWantedBy=multi-user.target\n";
        let owned = |path: &[u8], verdict: PackageVerdict| {
            let mut c = fixture::not_owned(path, "persistence");
            c.verdict = verdict;
            c.package = Some("apt".into());
            c
        };
        let born = |path: &[u8], content: &[u8]| {
            let (mut f, c) = fixture::file(path, Some(content));
            // An inode of its own (the fixture's follows the path's length).
            f.ino = 5000 + path.iter().map(|b| u64::from(*b)).sum::<u64>();
            f.btime = Some(minetrace_schemas::records::file::FileTime {
                secs: now,
                nanos: 0,
            });
            (f, c)
        };
        let reenabled = |path: &[u8], target: &[u8]| {
            let (mut l, c) = fixture::symlink(path, target);
            l.ctime.secs = now;
            (l, c)
        };
        let model = fixture::model(
            vec![
                born(b"/etc/systemd/system/apt-daily.service", kit.as_bytes()),
                reenabled(
                    b"/etc/systemd/system/multi-user.target.wants/apt-daily.service",
                    b"/etc/systemd/system/apt-daily.service",
                ),
                born(
                    b"/lib/systemd/system/apt-daily.timer",
                    b"[Timer]\nOnCalendar=*-*-* 6,18:00\n[Install]\nWantedBy=timers.target\n",
                ),
                reenabled(
                    b"/etc/systemd/system/timers.target.wants/apt-daily.timer",
                    b"/lib/systemd/system/apt-daily.timer",
                ),
                born(
                    b"/lib/systemd/system/apt-daily-upgrade.service",
                    b"[Service]\nType=oneshot\nExecStart=/usr/lib/apt/apt.systemd.daily install\n",
                ),
                born(
                    b"/etc/systemd/system/helper.timer",
                    b"[Timer]\nOnBootSec=60\nUnit=apt-daily.service\n",
                ),
                born(
                    b"/lib/systemd/system/cron.service",
                    b"[Service]\nExecStart=/root/moneroocean/xmrig\nRestart=always\n",
                ),
                reenabled(
                    b"/etc/systemd/system/multi-user.target.wants/cron.service",
                    b"/lib/systemd/system/cron.service",
                ),
                fixture::file(b"/root/moneroocean/xmrig", Some(b"\x7fELF miner")),
            ],
            vec![
                owned(
                    b"/lib/systemd/system/apt-daily.timer",
                    PackageVerdict::Match,
                ),
                owned(
                    b"/lib/systemd/system/cron.service",
                    PackageVerdict::Unreadable,
                ),
                owned(
                    b"/lib/systemd/system/apt-daily-upgrade.service",
                    PackageVerdict::Unreadable,
                ),
            ],
        );
        let rec = |p: &[u8]| model.file(p).expect("record").clone();
        let unit = RawBytes::from(&b"/etc/systemd/system/apt-daily.service"[..]);
        let findings = vec![
            finding(&crate::detect::rules::PER_010, Severity::Critical)
                .subject(persistence_subject(&unit, 4))
                .subject(file_subject(&rec(b"/lib/systemd/system/apt-daily.timer")))
                .subject(file_subject(&rec(b"/etc/systemd/system/helper.timer"))),
            finding(&crate::detect::rules::PER_010, Severity::High).subject(persistence_subject(
                &RawBytes::from(&b"/lib/systemd/system/apt-daily-upgrade.service"[..]),
                0,
            )),
            // A package's unit whose check could not read it, rewritten and re-enabled in the window.
            finding(&crate::detect::rules::PER_010, Severity::Critical).subject(
                persistence_subject(&RawBytes::from(&b"/lib/systemd/system/cron.service"[..]), 2),
            ),
            finding(&crate::detect::rules::RUN_001, Severity::Critical)
                .subject(file_subject(&rec(b"/root/moneroocean/xmrig"))),
        ];
        let plan = plan_of(model, findings);
        let (units, _) = shape(&plan);
        assert!(
            says(&plan.manual, "cron.service", "a package's unit"),
            "{:?}",
            plan.manual
        );
        assert_eq!(
            units,
            vec![
                "/etc/systemd/system/apt-daily.service".to_owned(),
                "/etc/systemd/system/helper.timer".to_owned()
            ],
            "{:#?}",
            plan.manual
        );
        for packaged in ["apt-daily.timer", "apt-daily-upgrade.service"] {
            assert!(
                says(&plan.manual, packaged, "its package owns"),
                "{packaged}: {:?}",
                plan.manual
            );
        }
    }

    #[test]
    fn a_unit_whose_content_the_bundle_lacks_is_a_review_item() {
        let (mut rec, _) = fixture::file(b"/etc/systemd/system/app.service", Some(b"x"));
        rec.member = None;
        let model = fixture::model(vec![(rec, None)], vec![]);
        let app = RawBytes::from(&b"/etc/systemd/system/app.service"[..]);
        let plan = plan_of(
            model,
            vec![finding(&crate::detect::rules::PER_010, Severity::Critical)
                .subject(persistence_subject(&app, 2))],
        );
        assert!(plan.applies_nothing_unasked(), "{:#?}", plan.items);
        assert!(
            plan.reviews.iter().any(|r| r
                .reason
                .iter()
                .any(|w| w.contains("content is not in the bundle"))),
            "{:#?}",
            plan.reviews
        );
    }
}
