//! Issue 11: one table of persistence locations (`minetrace_schemas::locations::PERSISTENCE_LOCATIONS`)
//! drives both the collector's walk and the model's reader. A dead-box tree gets a file in every location
//! of the table, each holding a line its mechanism runs, and beside each directory's file a name the
//! mechanism skips; the real collector collects it; then
//! - every planted file is in the bundle and the model reads it as an entry of the table's mechanism
//!   (collector → model), names the mechanism skips are captured but not read;
//! - every captured file the model reads as cron, at, rc, preload, module, udev, sudoers or event-hook
//!   persistence
//!   is a location of the table (model → collector: no location the model knows that the collector
//!   does not walk);
//! - the same both ways for systemd units, whose directories are one list too
//!   (`SYSTEMD_UNIT_DIRS`, `HOME_SYSTEMD_UNIT_DIRS`), and for a home's XDG autostart entries
//!   (`HOME_AUTOSTART_DIR`).

mod report_support;

use std::path::Path;

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::inputs;
use minetrace_analyzer::model::persistence::{location, PersistenceKind};
use minetrace_schemas::locations::{
    is_home_autostart, persistence_location, Mechanism, HOME_AUTOSTART_DIR, HOME_SYSTEMD_UNIT_DIRS,
    PERSISTENCE_LOCATIONS, SYSTEMD_UNIT_DIRS,
};

fn write(root: &Path, path: &[u8], bytes: &[u8]) {
    let full = root.join(String::from_utf8_lossy(path).trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, bytes).expect("write");
}

/// A line the mechanism runs, and the file name to plant in a directory location.
fn probe(m: Mechanism) -> (&'static [u8], &'static [u8]) {
    match m {
        Mechanism::SystemCrontab => (b"mtprobe", b"*/5 * * * * root /usr/local/bin/mt-probe\n"),
        Mechanism::Anacrontab => (b"mtprobe", b"1 5 mt-probe /usr/local/bin/mt-probe\n"),
        Mechanism::UserCrontab => (b"mtprobe", b"*/5 * * * * /usr/local/bin/mt-probe\n"),
        Mechanism::CronScript | Mechanism::RcScript => {
            (b"mtprobe", b"#!/bin/sh\n/usr/local/bin/mt-probe\n")
        }
        Mechanism::AtJob => (b"a0001a01", b"#!/bin/sh\n/usr/local/bin/mt-probe\n"),
        Mechanism::Inittab => (b"mtprobe", b"mt:2345:respawn:/usr/local/bin/mt-probe\n"),
        Mechanism::LoaderPreload => (b"mtprobe", b"/usr/local/lib/mt-probe.so\n"),
        Mechanism::ModulesLoad => (b"mtprobe", b"mt_probe\n"),
        Mechanism::Modprobe => (b"mtprobe", b"install mt_probe /usr/local/bin/mt-probe\n"),
        Mechanism::UdevRules => (
            b"99-mtprobe",
            b"ACTION==\"add\", RUN+=\"/usr/local/bin/mt-probe\"\n",
        ),
        Mechanism::Sudoers => (b"mtprobe", b"mtprobe ALL=(ALL) NOPASSWD: ALL\n"),
        Mechanism::LoginMessage | Mechanism::InitramfsHook | Mechanism::NetworkHook => {
            (b"mtprobe", b"#!/bin/sh\n/usr/local/bin/mt-probe\n")
        }
        Mechanism::PackageHook => (
            b"99mtprobe",
            b"DPkg::Post-Invoke { \"/usr/local/bin/mt-probe\"; };\n",
        ),
        Mechanism::Autostart => (
            b"mtprobe",
            b"[Desktop Entry]\nType=Application\nExec=/usr/local/bin/mt-probe\n",
        ),
    }
}

/// The model's kind for a mechanism's lines.
fn kind_of(m: Mechanism) -> PersistenceKind {
    match m {
        Mechanism::SystemCrontab | Mechanism::UserCrontab => PersistenceKind::Cron,
        Mechanism::Anacrontab => PersistenceKind::Anacron,
        Mechanism::CronScript => PersistenceKind::CronScript,
        Mechanism::AtJob => PersistenceKind::At,
        Mechanism::RcScript | Mechanism::Inittab => PersistenceKind::Rc,
        Mechanism::LoaderPreload => PersistenceKind::Preload,
        Mechanism::ModulesLoad | Mechanism::Modprobe => PersistenceKind::Modules,
        Mechanism::UdevRules => PersistenceKind::Udev,
        Mechanism::Sudoers => PersistenceKind::Sudoers,
        Mechanism::LoginMessage => PersistenceKind::Motd,
        Mechanism::PackageHook => PersistenceKind::AptHook,
        Mechanism::InitramfsHook => PersistenceKind::Initramfs,
        Mechanism::NetworkHook => PersistenceKind::NetworkHook,
        Mechanism::Autostart => PersistenceKind::Autostart,
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn the_collector_walks_every_location_the_model_reads_and_the_other_way_round() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, b"/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n");
    write(r, b"/etc/group", b"root:x:0:\n");
    let mut planted: Vec<(Vec<u8>, Mechanism)> = Vec::new();
    let mut skipped: Vec<Vec<u8>> = Vec::new();
    for place in PERSISTENCE_LOCATIONS {
        let (name, line) = probe(place.mechanism);
        if place.depth == 0 {
            write(r, place.path, line);
            planted.push((place.path.to_vec(), place.mechanism));
            continue;
        }
        let file = cat(&[place.path, b"/", name, place.suffix]);
        write(r, &file, line);
        planted.push((file, place.mechanism));
        if place.depth >= 2 {
            let deeper = cat(&[place.path, b"/sub/", name, place.suffix]);
            write(r, &deeper, line);
            planted.push((deeper, place.mechanism));
        }
        // A name the mechanism does not read: another ending, a dot file, or one level too deep.
        let other = if !place.suffix.is_empty() {
            cat(&[place.path, b"/", name, place.suffix, b".disabled"])
        } else if place.skips_hidden {
            cat(&[place.path, b"/.SEQ"])
        } else {
            let mut p = place.path.to_vec();
            for _ in 0..place.depth {
                p.extend_from_slice(b"/deep");
            }
            cat(&[&p, b"/", name])
        };
        if persistence_location(&other).is_none() && location(&other).is_none() {
            write(r, &other, line);
            skipped.push(other);
        }
    }
    assert!(planted.len() >= PERSISTENCE_LOCATIONS.len());
    // systemd: a service in every unit directory, and in root's own unit directories.
    let unit = b"[Service]\nExecStart=/usr/local/bin/mt-probe\n";
    let mut units: Vec<Vec<u8>> = SYSTEMD_UNIT_DIRS
        .iter()
        .map(|d| cat(&[d, b"mtprobe.service"]))
        .collect();
    units.extend(
        HOME_SYSTEMD_UNIT_DIRS
            .iter()
            .map(|d| cat(&[b"/root", d, b"mtprobe.service"])),
    );
    for path in &units {
        write(r, path, unit);
    }
    // XDG autostart: root's own entries (the system directory is a table location).
    let autostart = cat(&[b"/root/", HOME_AUTOSTART_DIR, b"/mtprobe.desktop"]);
    write(
        r,
        &autostart,
        b"[Desktop Entry]\nExec=/usr/local/bin/mt-probe\n",
    );
    assert!(skipped.len() >= 20, "{} names skipped", skipped.len());

    let out = tempfile::tempdir().expect("tempdir");
    let bundle = out.path().join("box.tar.zst");
    report_support::collect_root(r, &bundle);
    let analysis =
        Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis");
    let model = &analysis.model;
    let collected = |path: &[u8]| model.files.iter().any(|f| f.path.as_bytes() == path);

    // Collector → model: every planted file captured, read as its mechanism's entry.
    for (path, mechanism) in &planted {
        let shown = String::from_utf8_lossy(path);
        assert!(collected(path), "{shown} was not collected");
        let entries: Vec<_> = model
            .persistence
            .iter()
            .filter(|e| e.path.as_bytes() == path.as_slice())
            .collect();
        assert!(!entries.is_empty(), "{shown}: no entry in the model");
        assert!(
            entries.iter().all(|e| e.kind == kind_of(*mechanism)),
            "{shown}: {:?} for {mechanism:?}",
            entries.iter().map(|e| e.kind).collect::<Vec<_>>()
        );
    }
    for path in &units {
        let shown = String::from_utf8_lossy(path);
        assert!(
            model
                .persistence
                .iter()
                .any(|e| e.path.as_bytes() == path.as_slice() && e.kind == PersistenceKind::Systemd),
            "{shown}: not collected or not read as a unit"
        );
    }
    assert!(
        model
            .persistence
            .iter()
            .any(|e| e.path.as_bytes() == autostart.as_slice()
                && e.kind == PersistenceKind::Autostart),
        "root's autostart entry: not collected or not read"
    );
    // Names the mechanism skips: in the bundle (the walk keeps what sits beside), never read.
    for path in &skipped {
        let shown = String::from_utf8_lossy(path);
        assert!(collected(path), "{shown} was not collected");
        assert!(
            model
                .persistence
                .iter()
                .all(|e| e.path.as_bytes() != path.as_slice()),
            "{shown} was read as persistence"
        );
    }
    // Model → collector: whatever the model reads as one of these mechanisms is a table location.
    let mut read = 0;
    for f in &model.files {
        let Some(loc) = location(f.path.as_bytes()) else {
            continue;
        };
        let path = f.path.as_bytes();
        match loc.kind {
            PersistenceKind::ShellStartup => continue,
            PersistenceKind::Autostart if is_home_autostart(path) => continue,
            PersistenceKind::Systemd => {
                let in_table = SYSTEMD_UNIT_DIRS.iter().any(|d| path.starts_with(d))
                    || HOME_SYSTEMD_UNIT_DIRS
                        .iter()
                        .any(|d| path.windows(d.len()).any(|w| w == *d));
                assert!(
                    in_table,
                    "{} is read as a unit outside the table",
                    f.path.escaped()
                );
                continue;
            }
            _ => {}
        }
        read += 1;
        let place = persistence_location(f.path.as_bytes())
            .unwrap_or_else(|| panic!("{} is read but is no table location", f.path.escaped()));
        assert_eq!(kind_of(place.mechanism), loc.kind, "{}", f.path.escaped());
    }
    assert!(read >= planted.len(), "{read} files read");
}
