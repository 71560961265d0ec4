//! Issue 5 "Done when", dead-box half: a scenario planted in a sandbox is collected twice — live, by
//! `minetrace-collect -o -` inside, and as an image, by `minetrace-collect --root /proc/<init>/root` run
//! from outside the sandbox (the harness's own view of the sandbox's root). The dead-box bundle must show
//! every planted file with its metadata and flags, every persistence and key line of the ground truth, and
//! the same file artifacts as the live bundle: crontab lines, units, rc and preload entries, shell hooks,
//! keys, accounts, immutable and append-only bits, byte for byte. Live state (processes, sockets,
//! executables) must be absent from it, and its manifest must say dead-box.
//!
//! Also the live-only additions of the collector's exe-context work, checked on the same live bundle:
//! planted executables nobody owns are copied whole (`not owned by a package`) and the miner's
//! `config.json` beside it is stored (`exe-dir`).

use std::collections::BTreeMap;
use std::path::Path;

use minetrace_e2e::binaries;
use minetrace_e2e::live::Live;
use minetrace_e2e::scenario::Expect;
use minetrace_e2e::truth::{read_bundle, Records, Subject};
use minetrace_schemas::bundle::{members, Bundle};
use minetrace_schemas::records::executable::CopyStatus;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::host::CollectionMode;

/// File-artifact categories whose records both collections must agree on. Temp listings, logs and web
/// roots change as the sandbox runs; `exe-dir` and `packages` depend on live state.
const COMPARED: &[&str] = &[
    "accounts",
    "ssh",
    "cron",
    "at",
    "systemd",
    "startup",
    "udev",
    "modules",
    "loader",
    "shell",
    "history",
    "referenced-exe",
];

/// The bundle's records (a dead-box bundle has no live ones; their absence is checked separately).
fn records_of(bundle: &Bundle) -> Records {
    Records::decode(bundle, &mut Vec::new())
}

fn show(p: &[u8]) -> String {
    minetrace_schemas::escape_bytes(p)
}

fn content<'a>(bundle: &'a Bundle, f: &FileRecord) -> Option<&'a [u8]> {
    f.member.as_deref().and_then(|m| bundle.member(m))
}

/// The facts of a record two collections of the same files must share.
fn facts(bundle: &Bundle, f: &FileRecord) -> String {
    format!(
        "kind {:?} mode {:o} owner {}:{} size {} ino {} mtime {} flags {:?} immutable {} append-only {} \
         link {:?} sha256 {:?} content {:?}",
        f.kind,
        f.mode,
        f.uid,
        f.gid,
        f.size,
        f.ino,
        f.mtime.secs,
        f.flags,
        f.immutable,
        f.append_only,
        f.link_target.as_ref().map(|t| t.escaped()),
        f.sha256,
        content(bundle, f).map(minetrace_e2e::plant::sha256_hex),
    )
}

fn deadbox_matches_live(id: &str) {
    let live = Live::start(id).unwrap();
    let live_bytes = live.collect().unwrap();
    let out = tempfile::tempdir().unwrap();
    let root = format!("/proc/{}/root", live.sb.init_pid());
    let dead =
        binaries::collect_dead_box(Path::new(&root), &out.path().join("dead.tar.zst")).unwrap();
    let planted = live.planted.clone();
    let truth = live.truth.clone();
    live.sb.shutdown().unwrap();
    let live_bundle = read_bundle(&live_bytes).unwrap();
    let (lr, dr) = (records_of(&live_bundle), records_of(&dead));
    let mut problems: Vec<String> = Vec::new();

    // Dead-box: said so, and no live state.
    if dead.manifest.mode != CollectionMode::DeadBox {
        problems.push(format!("manifest mode {:?}", dead.manifest.mode));
    }
    for m in [members::PROCESSES, members::EXECUTABLES, members::SOCKETS] {
        if dead.member(m).is_some() {
            problems.push(format!("{m} in the dead-box bundle"));
        }
    }

    // Every planted file, with its metadata and flags (and content where the truth expects it).
    for f in planted.files.iter().filter(|f| f.expect != Expect::Nothing) {
        let who = show(&f.path);
        let Some(r) = dr.files_at(&f.path).first().copied() else {
            problems.push(format!("{who}: no record in the dead-box bundle"));
            continue;
        };
        let kind_ok = match r.kind {
            FileKind::Directory => f.is_dir,
            FileKind::Symlink => f.is_symlink,
            FileKind::Regular => !f.is_dir && !f.is_symlink,
            _ => false,
        };
        let meta = (
            r.mode & 0o7777,
            r.uid,
            r.gid,
            r.mtime.secs,
            r.immutable,
            r.append_only,
        );
        let want = (f.mode, f.uid, f.gid, f.mtime, f.immutable, f.append_only);
        if !kind_ok || meta != want {
            problems.push(format!("{who}: {:?} {meta:?}, planted {want:?}", r.kind));
        }
        if matches!(f.expect, Expect::Content | Expect::Withheld) {
            if let Some(p) = minetrace_e2e::truth::content_problem(r, content(&dead, r), f) {
                problems.push(format!("{who}: {p}"));
            }
        }
    }

    // Every persistence and key line of the ground truth.
    for s in truth.malicious.iter().chain(&truth.benign) {
        let (path, line) = match s {
            Subject::Persistence { path, line, .. } | Subject::SshKey { path, line, .. } => {
                (path, *line)
            }
            _ => continue,
        };
        let got = dr
            .files_at(path.as_bytes())
            .iter()
            .find_map(|r| content(&dead, r))
            .and_then(|b| {
                b.split(|c| *c == b'\n')
                    .nth(line as usize - 1)
                    .map(<[u8]>::to_vec)
            });
        let want = lr
            .files_at(path.as_bytes())
            .iter()
            .find_map(|r| content(&live_bundle, r))
            .and_then(|b| {
                b.split(|c| *c == b'\n')
                    .nth(line as usize - 1)
                    .map(<[u8]>::to_vec)
            });
        if got.is_none() || got != want {
            problems.push(format!(
                "truth {}:{line}: dead-box line {:?}, live {:?}",
                path.escaped(),
                got.as_deref().map(show),
                want.as_deref().map(show)
            ));
        }
    }

    // The same file artifacts in both bundles.
    let by_path = |r: &Records, b: &Bundle| -> BTreeMap<Vec<u8>, String> {
        r.files
            .iter()
            .filter(|f| COMPARED.contains(&f.category.as_str()))
            .map(|f| (f.path.as_bytes().to_vec(), facts(b, f)))
            .collect()
    };
    let (in_live, in_dead) = (by_path(&lr, &live_bundle), by_path(&dr, &dead));
    let all_dead: BTreeMap<&[u8], &FileRecord> =
        dr.files.iter().map(|f| (f.path.as_bytes(), f)).collect();
    let all_live: BTreeMap<&[u8], &FileRecord> =
        lr.files.iter().map(|f| (f.path.as_bytes(), f)).collect();
    for (path, want) in &in_live {
        match all_dead.get(path.as_slice()) {
            None => problems.push(format!("{}: in the live bundle only", show(path))),
            Some(f) if facts(&dead, f) != *want => problems.push(format!(
                "{}: live {want}\n    dead-box {}",
                show(path),
                facts(&dead, f)
            )),
            Some(_) => {}
        }
    }
    for path in in_dead.keys() {
        if !all_live.contains_key(path.as_slice()) {
            problems.push(format!("{}: in the dead-box bundle only", show(path)));
        }
    }
    if in_live.len() < 10 {
        problems.push(format!(
            "only {} compared records: the comparison is vacuous",
            in_live.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "{id}: {} differences between the dead-box and the live collection:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn pwnrig_cron_units_preload_immutable() {
    deadbox_matches_live("pwnrig-8220-immutable");
}

#[test]
fn outlaw_keys_accounts_cron() {
    deadbox_matches_live("outlaw-ssh-bruteforce");
}

#[test]
fn perfctl_preload_and_hooks() {
    deadbox_matches_live("perfctl-ld-preload");
}

#[test]
fn redis_rdb_crontab() {
    deadbox_matches_live("redis-rdb-crontab");
}

#[test]
fn hostile_names() {
    deadbox_matches_live("hostile-names");
}

#[test]
fn watchdog_pair_cron_unit() {
    deadbox_matches_live("watchdog-pair-cron-unit");
}

/// The live bundle of the watchdog pair: both planted executables live in `/etc`, an ordinary place, and
/// are copied only because no package owns them; the miner's `config.json` beside them (and in their
/// cwd) is stored, its pool password redacted; the unit's `ExecStart=` target is recorded as a persistence-named executable.
#[test]
fn watchdog_unowned_executables_and_config_are_captured() {
    let live = Live::start("watchdog-pair-cron-unit").unwrap();
    let bytes = live.collect().unwrap();
    let config = live.sb.fs().read_file(b"/etc/config.json").unwrap();
    let exes: BTreeMap<String, Vec<u8>> = ["sysguard", "networkservice"]
        .iter()
        .map(|n| {
            let p = format!("/etc/{n}");
            let b = live.sb.fs().read_file(p.as_bytes()).unwrap();
            (p, b)
        })
        .collect();
    live.sb.shutdown().unwrap();
    let bundle = read_bundle(&bytes).unwrap();
    let r = records_of(&bundle);
    for (path, want) in &exes {
        let e = r
            .executables
            .iter()
            .find(|e| e.path.as_bytes() == path.as_bytes())
            .unwrap_or_else(|| panic!("no executable record for {path}"));
        assert_eq!(e.copy_reasons, vec!["not owned by a package"], "{path}");
        let CopyStatus::Copied { member } = &e.copy else {
            panic!("{path} not copied: {:?}", e.copy);
        };
        assert_eq!(bundle.member(member), Some(want.as_slice()), "{path}");
    }
    let f = r
        .files_at(b"/etc/config.json")
        .first()
        .copied()
        .expect("/etc/config.json recorded");
    assert_eq!(f.category, "exe-dir");
    // Stored with its pool password redacted (review of train 2, item 8): every line but the secret
    // values is the planted one, and the record keeps the host file's digest.
    let stored = content(&bundle, f).expect("/etc/config.json stored");
    assert_eq!(
        f.sha256.as_deref(),
        Some(minetrace_e2e::plant::sha256_hex(&config).as_str())
    );
    let marker = minetrace_schemas::miner_config::REDACTED_PREFIX.as_bytes();
    let lines =
        |b: &[u8]| -> Vec<Vec<u8>> { b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect() };
    let (got, want) = (lines(stored), lines(&config));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(
            g == w || g.windows(marker.len()).any(|x| x == marker),
            "{} vs planted {}",
            show(g),
            show(w)
        );
    }
    assert_ne!(
        stored,
        config.as_slice(),
        "the pool password was not redacted"
    );
    // Package-owned configuration in the same directory is not the miner's.
    assert!(r.files_at(b"/etc/adduser.conf").is_empty() || !exists_in_dpkg(b"/etc/adduser.conf"));
}

/// Whether this machine's dpkg database lists `path` (the sandbox's lower layer is this machine's `/`).
fn exists_in_dpkg(path: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir("/var/lib/dpkg/info") else {
        return false;
    };
    entries.flatten().any(|e| {
        e.path().extension().is_some_and(|x| x == "list")
            && std::fs::read(e.path()).is_ok_and(|b| b.split(|c| *c == b'\n').any(|l| l == path))
    })
}
