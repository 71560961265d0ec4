//! Temporary, hidden and home places (category `temp`): a listing with metadata of `/tmp`, `/var/tmp`,
//! `/dev/shm`, `/run/shm`, `/var/run` (usually `/run`) and `/var/lock`, hidden directories included, and of
//! every home: its hidden entries first (`~/.configrc`, `~/.systemd`, `~/.X25-unix` ...), then, for the
//! homes of people ([`is_user_home`]), the rest.
//! Nothing is read here: files are recorded by metadata and queued for the `spend` pass
//! ([`super::spend`]), which hashes and copies them in order of suspicion within the run's budgets.
//! FIFOs and sockets are listed, never opened.
//!
//! Where a file stands sets its place: near the top of a temp place or below a hidden directory in it
//! ([`temp_place`]), and up to [`HOME_COPY_DEPTH`] levels below a home's hidden entry, are
//! [`Place::Odd`] (a dropper's own tree is shallow); deeper in a hidden tree and the
//! visible part of a home below [`VISIBLE_ODD_DEPTH`] are [`Place::Deep`] (a developer's toolchains, `~/.rustup/toolchains/*/bin`,
//! project and build trees): hashed there only when they look executable, never copied.
//! Hidden entries are walked before the visible part of each home, each with its own caps, so ten
//! thousands of project files cannot push a kit out of the listing.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::file_meta::Stat;
use super::host_root::{child, file_name};
use super::listing;
use super::sink::{Content, Sink};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

pub const TEMP_DIRS: &[&[u8]] = &[
    b"/tmp",
    b"/var/tmp",
    b"/dev/shm",
    b"/run/shm",
    b"/var/run",
    b"/var/lock",
];

/// Deepest level of a temp place at which every file counts as [`Place::Odd`] (`/tmp/kdevtmpfsi`,
/// `/tmp/x/kinsing`).
pub const TEMP_TOP_DEPTH: u32 = 2;
/// Deepest level of a temp place at which files below a hidden directory count as [`Place::Odd`]
/// (`/tmp/.X25-unix/.rsync/c/tsm`).
pub const TEMP_ODD_DEPTH: u32 = 4;
/// Deepest level under a home's hidden directory at which files still count as [`Place::Odd`].
pub const HOME_COPY_DEPTH: u32 = 3;
/// Deepest level under a visible directory of a home at which files count as [`Place::Odd`]
/// (`~/xmrig-6.21.0/xmrig`); deeper is a project or toolchain tree.
pub const VISIBLE_ODD_DEPTH: u32 = 1;

pub fn temp_limits() -> Limits {
    Limits {
        max_depth: 8,
        max_entries: 50_000,
        max_dir_entries: 10_000,
        max_bytes: u64::MAX,
    }
}

/// Caps of the walk of one hidden entry of a home.
pub fn home_limits() -> Limits {
    Limits {
        max_depth: 6,
        max_entries: 20_000,
        max_dir_entries: 10_000,
        max_bytes: u64::MAX,
    }
}

/// Caps of the walk of the visible part of one home (all its visible entries together).
pub fn visible_home_limits() -> Limits {
    Limits {
        max_depth: 6,
        max_entries: 50_000,
        max_dir_entries: 10_000,
        max_bytes: u64::MAX,
    }
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    for dir in TEMP_DIRS {
        walk::walk(s, dir, temp_limits(), |e| {
            Pick::Record(Content::Suspect(temp_place(dir, e)))
        })?;
    }
    for (home, account) in s.ctx.homes.clone() {
        let Some((resolved, st)) = s.enter_dir(&home)? else {
            continue;
        };
        let real = s.ctx.root.real(&resolved);
        let listed = match listing::list_open(&real, &st, 10_000) {
            Ok(listed) => listed,
            Err(e) => {
                s.note(&home, format!("cannot list home: {e}"));
                continue;
            }
        };
        let (hidden, visible): (Vec<_>, Vec<_>) = listed
            .stats(&real)
            .map(|(name, st)| (child(&resolved, name), st))
            .partition(|(path, _)| file_name(path).starts_with(b"."));
        drop(listed);
        for (path, est) in hidden {
            if est.is_dir() {
                walk::walk(s, &path, home_limits(), |e| {
                    Pick::Record(Content::Suspect(if e.depth <= HOME_COPY_DEPTH {
                        Place::Odd
                    } else {
                        Place::Deep
                    }))
                })?;
            } else if est.kind == FileKind::Regular {
                s.capture_stat(&path, &est, Content::Suspect(Place::Odd))?;
            } else {
                s.record_stat(&path, &est, None)?;
            }
        }
        if is_user_home(&home, account.as_ref()) {
            walk_visible(s, &resolved, &visible)?;
        }
    }
    Ok(())
}

/// The place of an entry of the temp place `top`: near the top ([`TEMP_TOP_DEPTH`]) or, with a hidden
/// directory on the way, down to [`TEMP_ODD_DEPTH`] is a dropper's ([`Place::Odd`]); the rest is a build
/// or virtualenv tree ([`Place::Deep`]).
fn temp_place(top: &[u8], e: &walk::Entry) -> Place {
    let below = e.path.get(top.len()..).unwrap_or_default();
    let hidden = below
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .any(|c| c.starts_with(b"."));
    if e.depth <= TEMP_TOP_DEPTH || (hidden && e.depth <= TEMP_ODD_DEPTH) {
        Place::Odd
    } else {
        Place::Deep
    }
}

/// Whether the visible part of a home is walked: `/root`, directories under `/home`, and the homes of
/// accounts that can log in. Service accounts' homes (`/var/www`, `/usr/sbin`, `/var/lib/...` with a
/// `nologin` shell) are other families' places or system directories; only their hidden entries are
/// walked.
pub fn is_user_home(home: &[u8], account: Option<&super::sink::Account>) -> bool {
    const NO_LOGIN: &[&[u8]] = &[b"nologin", b"false", b"sync", b"halt", b"shutdown"];
    if home == b"/root" || home.starts_with(b"/home/") {
        return true;
    }
    account.is_some_and(|a| {
        let shell = super::host_root::file_name(&a.shell);
        home != b"/" && !a.shell.is_empty() && !NO_LOGIN.contains(&shell)
    })
}

/// The visible entries of a home, as one walk with shared caps.
fn walk_visible<W: Write>(
    s: &mut Sink<'_, W>,
    home: &[u8],
    entries: &[(Vec<u8>, Stat)],
) -> Result<(), WriteError> {
    let mut left = visible_home_limits();
    for (path, est) in entries {
        if left.max_entries == 0 {
            s.note(
                home,
                format!(
                    "visible part of the home listed up to {} entries; later entries were not recorded",
                    visible_home_limits().max_entries
                ),
            );
            break;
        }
        if est.is_dir() {
            let stats = walk::walk(s, path, left, |e| {
                Pick::Record(Content::Suspect(if e.depth <= VISIBLE_ODD_DEPTH {
                    Place::Odd
                } else {
                    Place::Deep
                }))
            })?;
            left.max_entries = left.max_entries.saturating_sub(stats.entries + 1);
        } else {
            left.max_entries = left.max_entries.saturating_sub(1);
            if est.kind == FileKind::Regular {
                s.capture_stat(path, est, Content::Suspect(Place::Odd))?;
            } else {
                s.record_stat(path, est, None)?;
            }
        }
    }
    Ok(())
}
