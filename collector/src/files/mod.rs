//! File artifacts: how a miner got in and how it stays. One module per artifact family; each records
//! [`FileRecord`]s on `col.files` (category named in its `//!`), raw bytes under `fs/<original path>`,
//! and host-tool output as [`CommandRecord`]s:
//!
//! | module | artifact log | categories |
//! |---|---|---|
//! | [`accounts`] | `accounts` | `accounts` (+ `records/shadow.pc`) |
//! | [`ssh`] | `ssh` | `ssh` |
//! | [`cron`] | `cron` | `cron`, `at` |
//! | [`systemd`] | `systemd` | `systemd` |
//! | [`startup`] | `startup` | `startup`, `udev`, `modules` |
//! | [`loader`] | `loader` | `loader`, `shell` |
//! | [`histories`] | `histories` | `history` |
//! | [`journal`] | `journal` | `journal` |
//! | [`logs`] | `logs` | `log` |
//! | [`selinux`] | `selinux` | `selinux` |
//! | [`package_history`] | `package-history` | `package-history` |
//! | [`firewall`] | `firewall` | `firewall`, `network` (+ `commands/*.stdout`) |
//! | [`exe_dirs`] | `exe-dirs` | `exe-dir` |
//! | [`temp_places`] | `temp` | `temp` |
//! | [`webroots`] | `webroots` | `webroot`, `web-config` |
//! | [`references`] | `referenced` | `referenced-exe` |
//! | [`system_bins`] | `system-bins` | `system-bin`, `packaged-twin` (+ [`packaged_missing`]'s `packaged-missing` and `unowned-system-bin` checks in `records/packages.pc`) |
//! | [`packages`] | `packages` | `packages` (+ `records/packages.pc`) |
//! | [`spend`] | `spend` | none: hashes and copies, by suspicion, what every other family queued (runs last) |
//! | [`mounts`] | `mounts` | none (`records/mounts.pc`, read before the families, written after them) |
//!
//! After each family, the directories of the files it recorded that a remediation may edit in place
//! are recorded with their inode flags ([`lock_dirs`]).
//!
//! The plumbing they share: [`host_root`] (dead-box path resolution that cannot leave the root),
//! [`file_meta`] (`statx`, inode flags), [`listing`] (link-safe directory listings, which the package
//! index uses too), [`walk`] (bounded walks), [`sink`] (records and members).
//! A new family is a module here with a `collect(&mut Sink)` and one line in [`collect`]. The package
//! index ([`crate::package_index`]) is the live pass's, or built here in dead-box mode.
//!
//! [`FileRecord`]: minetrace_schemas::records::file::FileRecord
//! [`CommandRecord`]: minetrace_schemas::records::command::CommandRecord

pub mod accounts;
pub mod cron;
pub mod exe_dirs;
pub mod file_meta;
pub mod firewall;
pub mod histories;
pub mod host_root;
pub mod journal;
pub mod listing;
pub mod loader;
pub mod lock_dirs;
pub mod logs;
pub mod mounts;
pub mod package_history;
pub mod packaged_missing;
pub mod packages;
pub mod references;
pub mod secrets;
pub mod selinux;
pub mod sink;
pub mod spend;
pub mod ssh;
pub mod startup;
pub mod system_bins;
pub mod systemd;
pub mod temp_places;
pub mod walk;
pub mod webroots;

use std::io::Write;

use minetrace_schemas::bundle::{members, WriteError};
use minetrace_schemas::records::{encode, RecordSetV1};

use crate::collection::{note_error, Collection};
use host_root::HostRoot;
use sink::{Ctx, Sink};

type Family<W> = for<'a, 'b> fn(&'b mut Sink<'a, W>) -> Result<(), WriteError>;

/// Collects every file artifact family, in an order where later families use what earlier ones found
/// (accounts → homes; shell files → `HISTFILE`; preload → package checks; persistence entries → the
/// executables they name; configuration beside running executables before the temp listing).
pub fn collect<W: Write>(col: &mut Collection<W>) -> Result<(), WriteError> {
    let root = match col.options.root.clone() {
        None => HostRoot::live(),
        Some(r) => match HostRoot::under(&r) {
            Ok(root) => root,
            Err(e) => {
                return col.artifact("files", |_, log| {
                    note_error(
                        log,
                        r.display().to_string(),
                        format!("cannot use as the image root: {e}"),
                    );
                    Ok(())
                });
            }
        },
    };
    if root.is_dead_box() {
        col.exclusions.push(
            "dead-box mode: paths resolved under the image root; accounts and homes from the image's passwd; no host tool run"
                .into(),
        );
    }
    col.ensure_package_index(&root)?;
    let mount_table = col.artifact("mounts", |_, log| {
        let mut errors = Vec::new();
        let table = mounts::read(&root, &mut errors);
        for (target, message) in errors {
            note_error(log, target, message);
        }
        log.items = table.mounts.len() as u64;
        Ok(table)
    })?;
    let mut ctx = Ctx::after_live(root, &col.options, &col.live_handoff);
    ctx.mounts = mount_table;
    if !ctx.root.is_dead_box() {
        // Started now, after the process pass, so they never show in the process table; they run
        // while the families before `firewall` do.
        ctx.tool_runs = Some(firewall::start_tools());
    }
    // The package check's digests (MiBs of system binaries and running executables) are read on a
    // thread of their own while the families before `packages` walk.
    ctx.early_digests = packages::start_early(
        &ctx.root,
        &col.package_db,
        &col.live_handoff.running_exes,
        &ctx.read_before,
    );
    let families: [(&str, &'static str, Family<W>); 19] = [
        ("accounts", "accounts", accounts::collect),
        ("ssh", "ssh", ssh::collect),
        ("cron", "cron", cron::collect),
        ("systemd", "systemd", systemd::collect),
        ("startup", "startup", startup::collect),
        ("loader", "loader", loader::collect),
        ("histories", "history", histories::collect),
        // Before `logs`, whose metadata walk of /var/log would otherwise record the journal first.
        ("journal", "journal", journal::collect),
        ("logs", "log", logs::collect),
        ("selinux", "selinux", selinux::collect),
        (
            "package-history",
            "package-history",
            package_history::collect,
        ),
        ("firewall", "firewall", firewall::collect),
        ("exe-dirs", "exe-dir", exe_dirs::collect),
        ("temp", "temp", temp_places::collect),
        ("webroots", "webroot", webroots::collect),
        ("referenced", "referenced-exe", references::collect),
        ("system-bins", "system-bin", system_bins::collect),
        ("packages", "packages", packages::collect),
        // Last: hashes and copies what every family above queued, most suspicious first.
        ("spend", "spend", spend::collect),
    ];
    for (name, category, run) in families {
        col.artifact(name, |col, log| {
            let mut sink = Sink::new(col, log, &mut ctx, category);
            let from = sink.col.files.len();
            run(&mut sink)?;
            lock_dirs::record(&mut sink, from)?;
            Ok(())
        })?;
    }
    let shadow = std::mem::take(&mut ctx.shadow);
    let packages = std::mem::take(&mut ctx.packages);
    let mount_records = std::mem::take(&mut ctx.mounts.mounts);
    col.add_member(members::SHADOW, &encode(&RecordSetV1::Shadow(shadow)))?;
    col.add_member(members::PACKAGES, &encode(&RecordSetV1::Packages(packages)))?;
    col.add_member(
        members::MOUNTS,
        &encode(&RecordSetV1::Mounts(mount_records)),
    )?;
    Ok(())
}
