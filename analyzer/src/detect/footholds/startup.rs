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
//!   network hooks and XDG autostart entries (kinds `Motd`, `AptHook`, `Initramfs`, `NetworkHook`,
//!   `Autostart`): each runs at an event the owner does not watch (a login, an `apt update`, a new
//!   kernel, a link coming up).
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
