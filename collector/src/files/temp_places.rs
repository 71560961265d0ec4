//! Temporary, hidden and home places (category `temp`): a listing with metadata of the temp places
//! ([`TEMP_DIRS`]: `/tmp`, `/var/tmp`, `/dev/shm`, `/run` ...), hidden directories included, and of
//! every home: its hidden entries first (`~/.configrc`, `~/.systemd`, `~/.X25-unix` ...), then, for the
//! homes of people ([`is_user_home`]), the rest.
//! Nothing is read here: files are recorded by metadata and queued for the `spend` pass
//! ([`super::spend`]), which hashes and copies them in order of suspicion within the run's budgets.
//! FIFOs and sockets are listed, never opened.
//!
//! Where a file stands sets its place ([`is_odd_place`], the rule the live pass orders its copies by
//! too): near the top of a temp place or below a hidden directory in it, up to [`HOME_COPY_DEPTH`]
//! levels below a home's hidden entry and up to [`VISIBLE_ODD_DEPTH`] into its visible part are
//! [`Place::Odd`] (a dropper's own tree is shallow); deeper are [`Place::Deep`] (a developer's
//! toolchains, `~/.rustup/toolchains/*/bin`, project and build trees): hashed there only when they look
//! executable, never copied.
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

/// Temp and runtime places: walked by this family, and "temp dir" for a running executable
/// ([`crate::live::executables`]). `/var/run` is usually a link to `/run` (walked once).
pub const TEMP_DIRS: &[&[u8]] = &[
    b"/tmp",
    b"/var/tmp",
    b"/dev/shm",
    b"/run/shm",
    b"/var/run",
    b"/run",
    b"/var/lock",
];
/// Where homes are when the accounts are not known (the live pass): `/root`, and `/home/NAME`.
pub const HOME_DIRS: &[&[u8]] = &[b"/root", b"/home"];

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
            Pick::Record(Content::Suspect(place(e.path, None)))
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
                    Pick::Record(Content::Suspect(place(e.path, Some(&resolved))))
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

/// Where a dropper puts its own files, as opposed to a project, toolchain or build tree: the one rule the
/// temp and home walks and the live pass's copy order ([`crate::live::executables`]) share. `home` is
/// the home `path` is known to be in; without one, `/root` and `/home/NAME` are homes.
/// - In a home: up to [`HOME_COPY_DEPTH`] levels below one of its hidden entries
///   (`~/.configrc/a/kswapd0`, not `~/.rustup/toolchains/stable/bin/cargo`), up to [`VISIBLE_ODD_DEPTH`]
///   levels into a visible one (`~/xmrig-6.21.0/xmrig`, not `~/project/.venv/bin/python`).
/// - In a temp place (the innermost of [`TEMP_DIRS`]): up to [`TEMP_TOP_DEPTH`] levels down
///   (`/tmp/x/kinsing`), or [`TEMP_ODD_DEPTH`] with a hidden directory on the way
///   (`/tmp/.X25-unix/.rsync/c/tsm`).
/// - Elsewhere: up to [`HOME_COPY_DEPTH`] levels below a hidden directory (`/usr/lib/.x/a/miner`).
pub fn is_odd_place(path: &[u8], home: Option<&[u8]>) -> bool {
    let below = |dir: &[u8]| -> Option<Vec<&[u8]>> {
        let rest = path.strip_prefix(dir)?;
        rest.starts_with(b"/").then(|| {
            rest.split(|b| *b == b'/')
                .filter(|c| !c.is_empty())
                .collect()
        })
    };
    let in_home = |rest: &[&[u8]]| match rest.first() {
        Some(top) if top.starts_with(b".") => rest.len() - 1 <= HOME_COPY_DEPTH as usize,
        _ => rest.len() <= VISIBLE_ODD_DEPTH as usize + 1,
    };
    if let Some(rest) = home.and_then(below) {
        return in_home(&rest);
    }
    if let Some(rest) = TEMP_DIRS
        .iter()
        .filter_map(|d| below(d))
        .min_by_key(Vec::len)
    {
        let hidden = rest.iter().any(|c| c.starts_with(b"."));
        return rest.len() <= TEMP_TOP_DEPTH as usize
            || (hidden && rest.len() <= TEMP_ODD_DEPTH as usize);
    }
    // Without a known home: `/root/...` is in `/root`, `/home/NAME/...` in `/home/NAME`.
    if let Some(rest) = below(b"/root") {
        return in_home(&rest);
    }
    if let Some(rest) = below(b"/home").and_then(|r| r.get(1..).map(<[&[u8]]>::to_vec)) {
        return in_home(&rest);
    }
    let comps = below(b"").unwrap_or_default();
    match comps.iter().position(|c| c.starts_with(b".")) {
        Some(first) => comps.len() - 1 - first <= HOME_COPY_DEPTH as usize,
        None => false,
    }
}

/// [`is_odd_place`] as a walk's place.
fn place(path: &[u8], home: Option<&[u8]>) -> Place {
    if is_odd_place(path, home) {
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
                Pick::Record(Content::Suspect(place(e.path, Some(home))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_tells_a_droppers_place_from_a_project_or_toolchain_tree() {
        let odd = |p: &str, home: Option<&str>| is_odd_place(p.as_bytes(), home.map(str::as_bytes));
        // Temp places: near the top, or a little deeper below a hidden directory.
        assert!(odd("/tmp/kdevtmpfsi", None));
        assert!(odd("/tmp/x/kinsing", None));
        assert!(odd("/tmp/.X25-unix/.rsync/c/tsm", None));
        assert!(odd("/run/shm/x/m", None));
        assert!(!odd("/tmp/build-7f3a/obj/d1/f1.o", None));
        assert!(!odd("/tmp/.X25-unix/.rsync/c/d/tsm", None));
        // Homes: below a hidden entry, or one level into a visible one.
        assert!(odd("/root/.configrc/a/kswapd0", None));
        assert!(odd("/home/bob/.cache/x", None));
        assert!(odd("/home/bob/xmrig-6.21.0/xmrig", None));
        assert!(!odd("/root/.rustup/toolchains/stable/bin/cargo", None));
        assert!(!odd("/home/bob/project/.venv/bin/python", None));
        assert!(!odd("/home/bob/project/target/debug/app", None));
        // An account's home elsewhere is a home when the walk knows it.
        assert!(odd("/var/lib/app/.x/m", Some("/var/lib/app")));
        assert!(!odd("/var/lib/app/src/deep/m", Some("/var/lib/app")));
        // Elsewhere: below a hidden directory.
        assert!(odd("/usr/lib/.sshd/a/miner", None));
        assert!(!odd("/usr/lib/.build-id/a/b/c/d", None));
        assert!(!odd("/usr/bin/sleep", None));
        assert!(!odd("/tmpfoo/x", None));
    }
}
