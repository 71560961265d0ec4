//! Orphaned start lines (`MT-PER-060`, T1053/T1037/T1546.004): a cron, systemd, rc or shell start-up line
//! that runs a program in a hidden, temporary or system directory which no longer exists. A responder who
//! deleted a miner and left its launchers leaves the host one download or one recreated file away from
//! reinfection, and every real cleanup we read missed such a layer.
//!
//! "No longer exists" is a fact only the collector can state: it records every absolute path a stored
//! persistence file names that it looked for and did not find ([`HostModel::absent`], schema
//! `ABSENT_NAMED`); a program below a missing directory is missing too. A path the snapshot merely lacks
//! is never called missing.
//!
//! Severity: medium, for a program in a hidden, temporary or system directory; a missing program elsewhere
//! (an application's line after it was uninstalled) is not reported, nor a missing shell, interpreter or
//! downloader of a system directory (`/usr/bin/python3 /srv/app.py`: the host lacks a package). Look-alikes: lines that test for
//! their program first (`test -x P &&`, `[ -x P ] &&`, `command -v P`, `which P`), as the cron files
//! packages leave behind after `apt remove` do, or whose file tests for it elsewhere (`/etc/bash.bashrc`'s
//! `elif [ -x /usr/lib/command-not-found ]`); systemd commands whose failure is ignored (`ExecStartPre=-`);
//! units in package directories (`/usr/lib/systemd/`), whose optional helpers may be absent; a program
//! under a `chroot`/`unshare --root` directory is looked for inside that root
//! ([`crate::parse::shell_line::ShellLine::roots`]).

use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::{self, quote_line};
use crate::detect::finding::{finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::{Kind, PathClass};
use crate::model::persistence::PersistenceKind;
use crate::model::HostModel;
use crate::parse::shell_line;

/// Kinds of persistence whose lines run programs.
pub(crate) fn runs_programs(kind: PersistenceKind) -> bool {
    matches!(
        kind,
        PersistenceKind::Cron
            | PersistenceKind::Anacron
            | PersistenceKind::CronScript
            | PersistenceKind::At
            | PersistenceKind::Systemd
            | PersistenceKind::Rc
            | PersistenceKind::ShellStartup
    )
}

/// Whether the collector found `path`, or a directory above it, missing.
fn missing(model: &HostModel, path: &[u8]) -> bool {
    if !path.starts_with(b"/") {
        return false;
    }
    let mut p = path;
    loop {
        if model.absent(p) {
            return true;
        }
        match p.iter().rposition(|b| *b == b'/') {
            Some(i) if i > 0 => p = p.get(..i).unwrap_or_default(),
            _ => return false,
        }
    }
}

/// Paths and program names a file tests for anywhere (`[ -x P ]`, `test -f P`, `command -v N`,
/// `which N`): a line that runs one of them is guarded by the file's own logic (`/etc/bash.bashrc` runs
/// `command-not-found` only after `elif [ -x /usr/lib/command-not-found ]`).
fn tested_in(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, line) in crate::parse::numbered_lines(bytes) {
        let words: Vec<Vec<u8>> = crate::parse::words(line)
            .map(|w| {
                w.iter()
                    .copied()
                    .filter(|b| !matches!(b, b'"' | b'\'' | b';'))
                    .collect()
            })
            .collect();
        for pair in words.windows(2) {
            let (Some(flag), Some(value)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let tests = matches!(
                flag.as_slice(),
                b"-x" | b"-f" | b"-e" | b"-s" | b"-v" | b"which" | b"type"
            );
            if tests && out.len() < 256 {
                out.push(value.clone());
            }
        }
    }
    out
}

/// Package territory: unit directories only packages write (their optional helpers may be absent).
fn vendor_location(path: &[u8]) -> bool {
    [&b"/usr/lib/systemd/"[..], b"/lib/systemd/", b"/usr/share/"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// `ExecStartPre=-/bin/plymouth`: systemd ignores the failure of a command prefixed with `-`.
fn failure_ignored(raw: &[u8]) -> bool {
    raw.iter().position(|b| *b == b'=').is_some_and(|i| {
        raw.get(i + 1..).is_some_and(|v| {
            v.iter()
                .take_while(|b| b"-@:+!".contains(b))
                .any(|b| *b == b'-')
        })
    })
}

/// A shell, interpreter or downloader by name (`python3`, `bash`, `curl`: indicator kinds `interpreter`
/// and `shell_or_downloader`): missing from a system directory, it is a package the host (or the image
/// collected dead) lacks, not a kit's program deleted behind its launcher.
fn runtime_name(ctx: &Context, path: &[u8]) -> bool {
    let name = String::from_utf8_lossy(crate::parse::basename(path));
    ctx.iocs.contains(Kind::Interpreter, &name) || ctx.iocs.contains(Kind::ShellOrDownloader, &name)
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let classes = ctx.iocs.paths();
    let mut out = Vec::new();
    let mut tested: std::collections::HashMap<usize, Vec<Vec<u8>>> = Default::default();
    for e in model.persistence.iter().filter(|e| runs_programs(e.kind)) {
        if vendor_location(e.path.as_bytes())
            || (e.kind == PersistenceKind::Systemd && failure_ignored(&e.raw))
        {
            continue;
        }
        let s = shell_line::analyze(&e.command);
        if s.guarded {
            continue;
        }
        let file_tests = tested.entry(e.file).or_insert_with(|| {
            model
                .files
                .get(e.file)
                .and_then(|f| model.content(f))
                .map(tested_in)
                .unwrap_or_default()
        });
        let gone: Vec<&[u8]> = s
            .ran
            .iter()
            .filter(|r| !r.sourced)
            .map(|r| r.path.as_slice())
            .filter(|p| missing(model, p))
            .filter(|p| {
                !file_tests
                    .iter()
                    .any(|t| t.as_slice() == *p || t.as_slice() == crate::parse::basename(p))
            })
            .collect();
        // A hidden or temporary place is a kit's; a system directory only packages and attackers write.
        let Some(p) = gone.iter().find(|p| {
            classes.is(PathClass::KitProne, p)
                || (classes.is(PathClass::System, p) && !runtime_name(ctx, p))
        }) else {
            continue;
        };
        let (severity, why) = (
            Severity::Medium,
            format!(
                "runs {}, which is in a {} directory and no longer exists: a launcher left \
                 behind when its program was deleted (one download or one recreated file from \
                 running again)",
                minetrace_schemas::escape_bytes(p),
                if classes.is(PathClass::KitProne, p) {
                    "hidden or temporary"
                } else {
                    "system"
                }
            ),
        );
        let Some(file) = model.entry_file(e) else {
            continue;
        };
        let mut f = finding(&rules::PER_060, severity)
            .subject(crate::detect::finding::persistence_subject(
                &file.path, e.line,
            ))
            .subject_as(crate::detect::finding::file_subject(file), Role::Context)
            .evidence(quote_line(&file.path, e.line, &e.raw))
            .evidence(why)
            .evidence("the collector looked for it and found no such file (nor its directory)")
            .evidence(format!("file: {}", common::describe_file(file)));
        if gone.len() > 1 {
            let all: Vec<String> = gone
                .iter()
                .map(|p| minetrace_schemas::escape_bytes(p))
                .collect();
            f = f.evidence(format!("missing programs: {}", all.join(", ")));
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
    use minetrace_schemas::records::file::{FileKind, ABSENT_NAMED};

    fn absent(
        path: &[u8],
    ) -> (
        minetrace_schemas::records::file::FileRecord,
        Option<Vec<u8>>,
    ) {
        let (mut r, _) = fixture::file(path, None);
        r.kind = FileKind::Unknown;
        r.error = Some(ABSENT_NAMED.into());
        (r, None)
    }

    #[test]
    fn launchers_of_deleted_programs_are_orphans_unless_they_test_first() {
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/etc/rc.local",
                    Some(b"#!/bin/sh -e\n/usr/bin/.update startup\nexit 0\n"),
                ),
                fixture::file(
                    b"/etc/cron.d/sysstat",
                    Some(b"5-55/10 * * * * root command -v debian-sa1 > /dev/null && debian-sa1 1 1\n0 3 * * * root test -x /usr/lib/x/run && /usr/lib/x/run\n"),
                ),
                fixture::file(
                    b"/var/spool/cron/crontabs/test",
                    Some(b"0 0 */3 * * cd /tmp/.X291-unix/.rsync/c && ./aptitude >/dev/null 2>&1\n@reboot /srv/app/bin/agent\n@reboot /usr/bin/present\n"),
                ),
                absent(b"/usr/bin/.update"),
                absent(b"/usr/lib/x/run"),
                absent(b"/tmp/.X291-unix/.rsync/c"),
                absent(b"/srv/app/bin/agent"),
                fixture::file(
                    b"/etc/bash.bashrc",
                    Some(b"if [ -x /usr/lib/command-not-found ]; then\n   /usr/lib/command-not-found -- \"$1\"\nfi\n"),
                ),
                absent(b"/usr/lib/command-not-found"),
                fixture::file(
                    b"/usr/lib/systemd/system/emergency.service",
                    Some(b"[Service]\nExecStart=/bin/plymouth --wait quit\n"),
                ),
                fixture::file(
                    b"/etc/systemd/system/x.service",
                    Some(b"[Service]\nExecStartPre=-/usr/bin/kmod static-nodes\n"),
                ),
                absent(b"/bin/plymouth"),
                absent(b"/usr/bin/kmod"),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let found: Vec<(String, Severity)> = detect(&ctx)
            .into_iter()
            .map(|f| (f.evidence[0].clone(), f.severity))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].0.contains("/etc/rc.local:2") && found[0].1 == Severity::Medium);
        assert!(found[1].0.contains(".rsync/c && ./aptitude") && found[1].1 == Severity::Medium);
    }

    /// A quoted program path with a blank is one path, as the shell runs it: the collector finding its
    /// first blank-separated token (`/tmp/.x`) missing says nothing about `/tmp/.x y/run`, which runs.
    /// The same hostile name once that program is gone (the collector looked for the whole quoted path): the
    /// line is an orphan named with its whole path.
    #[test]
    fn a_quoted_program_with_a_blank_is_one_path() {
        let cron = || {
            fixture::file(
                b"/var/spool/cron/crontabs/www-data",
                Some(
                    b"*/5 * * * * \"/tmp/.x y/run\" >/dev/null 2>&1\n@reboot /tmp/.z\\ w/run -q\n",
                ),
            )
        };
        let iocs = Indicators::builtin();
        let found = |files| {
            let model = fixture::model(files, vec![]);
            let ctx = Context {
                model: &model,
                iocs: &iocs,
            };
            detect(&ctx)
                .into_iter()
                .map(|f| f.evidence[1].clone())
                .collect::<Vec<String>>()
        };
        // What the collector records: its blank-separated tokens (`/tmp/.x`, `/tmp/.z\`) are missing.
        let present = found(vec![
            cron(),
            absent(b"/tmp/.x"),
            absent(b"/tmp/.z\\"),
            fixture::file(b"/tmp/.x y/run", Some(b"#!/bin/sh\n")),
            fixture::file(b"/tmp/.z w/run", Some(b"#!/bin/sh\n")),
        ]);
        assert!(present.is_empty(), "{present:?}");
        // The collector also looks for a quoted path whole; a backslash-escaped one it does not look for,
        // so that line is not called an orphan (the snapshot lacks it, nothing says it is gone).
        let gone = found(vec![
            cron(),
            absent(b"/tmp/.x"),
            absent(b"/tmp/.x y/run"),
            absent(b"/tmp/.z\\"),
        ]);
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert!(gone[0].starts_with("runs /tmp/.x y/run, which is in a hidden or temporary"));
    }
}
