//! Configuration beside running executables (category `exe-dir`): miners read `config.json` (or `.conf`,
//! `.cfg`, `.ini`, `.yaml`, ...) from their own directory or their working directory, and droppers leave
//! their scripts there. For every directory the live pass hands on (that of each running copy candidate —
//! deleted, memfd, odd place or unowned — and its processes' working directories, see
//! [`crate::live::executables`]), the small regular files with a configuration name and the scripts (by
//! shebang) are stored, one directory level only:
//!
//! - scripts are not taken from the standard `PATH` directories (`/usr/bin`, `/usr/local/bin`, ...),
//!   where every executable is beside another; configuration names are;
//! - at most [`FILE_CAP`] bytes each, [`PER_DIR`] files per directory (configuration names before scripts,
//!   `.json` first, then by name) and [`TOTAL_CAP`] bytes per run;
//! - files a package owns are left out (`/etc/*.conf` beside a binary planted in `/etc` is not the
//!   miner's); without a package index every match counts;
//! - only regular files are opened, through [`crate::host_read`]: links, FIFOs and sockets are never
//!   followed or opened, and a file swapped for a link between listing and reading is refused;
//! - a configuration-named file goes through [`super::secrets::release`]: a miner's is stored with its
//!   secret values redacted, any other with a secret-looking key (an admin's `db.yaml` with its
//!   password) is only hashed. Scripts are stored as they are.
//!
//! Runs before the `temp` family, so a `config.json` in `/dev/shm/.x` is stored here rather than listed
//! there by metadata only.

use std::io::{Read, Write};

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::host_root::child;
use super::listing;
use super::sink::{Content, Sink};
use crate::host_read;

/// Largest file stored from a directory.
pub const FILE_CAP: u64 = 256 << 10;
/// Files stored per directory at most.
pub const PER_DIR: usize = 32;
/// Bytes stored by this family per run.
pub const TOTAL_CAP: u64 = 16 << 20;
/// Directories scanned per run at most.
const MAX_DIRS: usize = 256;
/// Names read from one directory.
const MAX_NAMES: usize = 10_000;
/// Files whose first bytes are read to look for a shebang, per directory.
const MAX_HEAD_READS: usize = 512;
/// Entries `lstat`ed per run, over every directory.
const MAX_EXAMINED: usize = 100_000;

const CONFIG_EXTENSIONS: &[&[u8]] = &[
    b".json", b".conf", b".cfg", b".ini", b".yaml", b".yml", b".toml",
];
/// Text files miners read pools and wallets from (XMRig, xmr-stak, cpuminer).
const CONFIG_NAMES: &[&[u8]] = &[b"pools.txt", b"config.txt", b"cpu.txt", b"wallet.txt"];
/// Directories on the standard `PATH`: every executable there is "a script beside" another, so only
/// configuration names are taken from them (scripts that persistence names are copied by
/// [`super::references`]).
const PATH_DIRS: &[&[u8]] = &[
    b"/bin",
    b"/sbin",
    b"/usr/bin",
    b"/usr/sbin",
    b"/usr/local/bin",
    b"/usr/local/sbin",
    b"/usr/games",
    b"/usr/local/games",
];

/// The rank of a script (by shebang): after every configuration name.
const SCRIPT_RANK: u8 = 2;

/// How much a name looks like configuration: 0 for `.json`, 1 for other configuration names, `None`
/// when it does not.
pub fn config_rank(name: &[u8]) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(b".json") && lower.len() > 5 {
        return Some(0);
    }
    let by_extension = CONFIG_EXTENSIONS
        .iter()
        .any(|e| lower.ends_with(e) && lower.len() > e.len());
    (by_extension || CONFIG_NAMES.contains(&lower.as_slice())).then_some(1)
}

fn has_shebang(real: &std::path::Path) -> bool {
    let Ok((file, _)) = host_read::open_regular(real) else {
        return false;
    };
    let mut head = [0u8; 2];
    file.take(2).read_exact(&mut head).is_ok() && &head == b"#!"
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let dirs = std::mem::take(&mut s.col.live_handoff.config_dirs);
    let mut stored = 0u64;
    let mut examined = 0usize;
    for dir in dirs.iter().take(MAX_DIRS) {
        if stored >= TOTAL_CAP || examined >= MAX_EXAMINED {
            s.note(
                dir,
                format!(
                    "not scanned: the family's cap of {TOTAL_CAP} bytes or {MAX_EXAMINED} entries was reached"
                ),
            );
            continue;
        }
        let Some((resolved, st)) = s.enter_dir(dir)? else {
            continue;
        };
        let names = match listing::list(&s.ctx.root.real(&resolved), &st, MAX_NAMES) {
            Ok((_, names, more)) => {
                if more {
                    s.note(
                        dir,
                        format!("only the first {MAX_NAMES} names were looked at"),
                    );
                }
                names
            }
            Err(e) => {
                s.note(dir, format!("cannot list: {e}"));
                continue;
            }
        };
        // (rank, name): configuration names first (.json before the rest), then scripts.
        let mut picked: Vec<(u8, Vec<u8>, super::file_meta::Stat)> = Vec::new();
        let mut head_reads = if PATH_DIRS.contains(&resolved.as_slice()) {
            MAX_HEAD_READS
        } else {
            0
        };
        for name in names {
            if examined >= MAX_EXAMINED {
                s.note(dir, format!("stopped after {MAX_EXAMINED} entries in all"));
                break;
            }
            examined += 1;
            let path = child(&resolved, &name);
            let Ok(est) = s.ctx.root.lstat(&path) else {
                continue;
            };
            if est.kind != FileKind::Regular || est.size > FILE_CAP {
                continue;
            }
            if s.col.package_db.index().is_some_and(|i| i.owns(&path)) {
                continue;
            }
            let rank = match config_rank(&name) {
                Some(r) => r,
                None if head_reads < MAX_HEAD_READS => {
                    head_reads += 1;
                    if !has_shebang(&s.ctx.root.real(&path)) {
                        continue;
                    }
                    SCRIPT_RANK
                }
                None => continue,
            };
            picked.push((rank, path, est));
        }
        picked.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        if picked.len() > PER_DIR {
            s.note(
                dir,
                format!(
                    "{} configuration files and scripts; only the first {PER_DIR} were stored",
                    picked.len()
                ),
            );
            picked.truncate(PER_DIR);
        }
        for (rank, path, est) in picked {
            if stored >= TOTAL_CAP {
                let (i, _) = s.capture_stat(&path, &est, Content::Meta)?;
                s.set_error(
                    Some(i),
                    format!("content not kept: the family's {TOTAL_CAP} byte cap was reached"),
                );
                continue;
            }
            // A configuration beside an unowned program may be an admin's with its database password:
            // a miner's is stored with its secrets redacted, another with a secret-looking key only
            // hashed ([`super::secrets`]). Scripts are the dropper's evidence and stay whole.
            let content = if rank < SCRIPT_RANK {
                Content::Guarded {
                    cap: FILE_CAP,
                    guard: super::secrets::release,
                }
            } else {
                Content::Head { cap: FILE_CAP }
            };
            let before = s.stored_bytes;
            s.capture_stat(&path, &est, content)?;
            stored += s.stored_bytes - before;
        }
    }
    if dirs.len() > MAX_DIRS {
        s.note(
            b"(executable directories)",
            format!(
                "{} directories; only the first {MAX_DIRS} were scanned",
                dirs.len()
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::Harness;
    use super::*;

    #[test]
    fn names_that_look_like_configuration() {
        assert_eq!(config_rank(b"config.json"), Some(0));
        assert_eq!(config_rank(b"CONFIG.JSON"), Some(0));
        assert_eq!(config_rank(b"pools.txt"), Some(1));
        assert_eq!(config_rank(b"LICENSE.txt"), None);
        assert_eq!(config_rank(b".config.json"), Some(0));
        assert_eq!(config_rank(b"miner.yaml"), Some(1));
        assert_eq!(config_rank(b".conf"), None);
        assert_eq!(config_rank(b"xmrig"), None);
        assert_eq!(config_rank(b"a.json.bak"), None);
    }

    #[test]
    fn stores_configs_and_scripts_but_no_links_fifos_big_or_owned_files() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let d = r.join("opt/m");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config.json"), b"{\"pools\":[]}").unwrap();
        std::fs::write(d.join("run"), b"#!/bin/sh\n./m\n").unwrap();
        std::fs::write(d.join("m"), b"\x7fELF....").unwrap();
        std::fs::write(d.join("big.json"), vec![b' '; (FILE_CAP + 1) as usize]).unwrap();
        std::fs::write(d.join("owned.conf"), b"x=1").unwrap();
        std::fs::write(r.join("secret.json"), b"outside").unwrap();
        std::os::unix::fs::symlink("/secret.json", d.join("link.json")).unwrap();
        let c = std::ffi::CString::new(d.join("fifo.json").as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for i in 0..40 {
            std::fs::write(d.join(format!("n{i:02}.ini")), b"k=v").unwrap();
        }

        let mut h = Harness::new(r);
        let mut index = crate::package_index::PackageIndex::new(Vec::new());
        index.add_list("p", b"/opt/m/owned.conf\n");
        h.col.package_db = crate::package_index::PackageDb::Dpkg(index.into());
        h.col.live_handoff.config_dirs = vec![b"/opt/m".to_vec()];
        collect(&mut h.sink("exe-dir")).unwrap();

        let stored = |p: &str| h.record(p).is_some_and(|f| f.member.is_some());
        assert!(stored("/opt/m/config.json"));
        assert_eq!(h.record("/opt/m/config.json").unwrap().category, "exe-dir");
        for p in [
            "/opt/m/m",
            "/opt/m/big.json",
            "/opt/m/owned.conf",
            "/opt/m/fifo.json",
            "/secret.json",
        ] {
            assert!(h.record(p).is_none(), "{p} should not be recorded");
        }
        assert!(h.record("/opt/m/link.json").is_none());
        // 1 json + 31 of the 40 ini files fill the per-directory cap; the script ranks after them.
        let kept = h.col.files.iter().filter(|f| f.member.is_some()).count();
        assert_eq!(kept, PER_DIR);
        assert!(!stored("/opt/m/run"));
        assert!(h
            .log
            .errors
            .iter()
            .any(|e| e.message.contains("only the first 32")));

        // With fewer configuration files the script is stored too.
        for i in 0..40 {
            std::fs::remove_file(d.join(format!("n{i:02}.ini"))).unwrap();
        }
        // Review of train 2, item 8, beside running programs too: an app's config with a password is
        // hashed, a miner's is stored with its pool password redacted, a script stays whole.
        std::fs::write(d.join("db.yaml"), b"db:\n  password: hunter2\n").unwrap();
        std::fs::write(
            d.join("config.json"),
            b"{\"pools\": [{\"url\": \"127.66.0.1:3333\", \"user\": \"w\", \"pass\": \"x\"}]}",
        )
        .unwrap();
        std::fs::write(d.join("run"), b"#!/bin/sh\necho root:password | chpasswd\n").unwrap();
        let mut h = Harness::new(r);
        h.col.live_handoff.config_dirs = vec![b"/opt/m".to_vec(), b"/missing".to_vec()];
        collect(&mut h.sink("exe-dir")).unwrap();
        assert!(h
            .record("/opt/m/run")
            .is_some_and(|f| f.member.is_some() && f.error.is_none()));
        let db = h.record("/opt/m/db.yaml").unwrap();
        assert!(db.member.is_none() && db.sha256.is_some(), "{db:?}");
        let miner = h.record("/opt/m/config.json").unwrap();
        assert!(miner.member.is_some(), "{miner:?}");
        assert!(miner
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("content redacted: 1 secret value")));
        // No index: the owned file counts like any other.
        assert!(h
            .record("/opt/m/owned.conf")
            .is_some_and(|f| f.member.is_some()));
    }
}
