//! Temporary and hidden places (category `temp`): a listing with metadata of `/tmp`, `/var/tmp`,
//! `/dev/shm`, `/run/shm`, `/var/run` (usually `/run`) and `/var/lock`, hidden directories included, and of
//! every hidden entry of every home (`~/.configrc`, `~/.systemd`, `~/.X25-unix` ...). Files that are ELF
//! or scripts are copied whole within `--max-copy-mib` per file and `--max-copy-total-mib` per run (hard
//! links and repeats stored once); others are listed only. FIFOs and sockets are listed, never opened.
//!
//! In homes, copies stop below [`HOME_COPY_DEPTH`] levels: a dropper's own tree is shallow, while a
//! developer's toolchains (`~/.rustup/toolchains/*/bin`) are deep and would only spend the budget.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::host_root::child;
use super::listing;
use super::sink::{Content, Sink};
use super::walk::{self, Limits, Pick};

pub const TEMP_DIRS: &[&[u8]] = &[
    b"/tmp",
    b"/var/tmp",
    b"/dev/shm",
    b"/run/shm",
    b"/var/run",
    b"/var/lock",
];

/// Deepest level under a home's hidden directory at which files are still copied.
pub const HOME_COPY_DEPTH: u32 = 3;

pub fn temp_limits() -> Limits {
    Limits {
        max_depth: 8,
        max_entries: 50_000,
        max_dir_entries: 10_000,
        max_bytes: u64::MAX,
    }
}

pub fn home_limits() -> Limits {
    Limits {
        max_depth: 6,
        max_entries: 20_000,
        max_dir_entries: 10_000,
        max_bytes: u64::MAX,
    }
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    for dir in TEMP_DIRS {
        walk::walk(s, dir, temp_limits(), |_| Pick::Record(Content::Executable))?;
    }
    for (home, _) in s.ctx.homes.clone() {
        let Some((resolved, st)) = s.enter_dir(&home)? else {
            continue;
        };
        let real = s.ctx.root.real(&resolved);
        let names = match listing::list(&real, &st, 10_000) {
            Ok((_, names, _)) => names,
            Err(e) => {
                s.note(&home, format!("cannot list home: {e}"));
                continue;
            }
        };
        for name in names.into_iter().filter(|n| n.starts_with(b".")) {
            let path = child(&resolved, &name);
            let Ok(est) = s.ctx.root.lstat(&path) else {
                continue;
            };
            if est.is_dir() {
                walk::walk(s, &path, home_limits(), |e| {
                    if e.depth <= HOME_COPY_DEPTH {
                        Pick::Record(Content::Executable)
                    } else {
                        Pick::Record(Content::Meta)
                    }
                })?;
            } else if est.kind == minetrace_schemas::records::file::FileKind::Regular {
                s.capture_stat(&path, &est, Content::Executable)?;
            } else {
                s.record_stat(&path, &est, None)?;
            }
        }
    }
    Ok(())
}
