//! Services and timers (category `systemd`): unit files and drop-ins (`*.d/*.conf`), `wants`/`requires`
//! links (recorded as links with their targets), generator output under `/run/systemd/generator*`,
//! generators themselves (copied when they are ELF or scripts), transient units, for the system and for
//! users (system-wide user units and every home's `~/.config/systemd/user`), plus `environment.d` and
//! `system.conf`/`user.conf`. Timers are units (`*.timer`) and come with the rest.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::locations::{HOME_SYSTEMD_UNIT_DIRS, SYSTEMD_UNIT_DIRS};

use super::host_root::child;
use super::sink::{Content, Sink};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

/// Unit files are small; one over 1 MiB is kept by its head.
const UNIT_CAP: u64 = 1 << 20;

/// The service manager's own configuration beside the unit directories.
const MANAGER_DIRS: &[&[u8]] = &[
    b"/etc/systemd/system.conf.d",
    b"/etc/systemd/user.conf.d",
    b"/etc/environment.d",
    b"/usr/lib/environment.d",
];

const GENERATOR_DIRS: &[&[u8]] = &[
    b"/etc/systemd/system-generators",
    b"/usr/local/lib/systemd/system-generators",
    b"/lib/systemd/system-generators",
    b"/usr/lib/systemd/system-generators",
    b"/etc/systemd/user-generators",
    b"/usr/local/lib/systemd/user-generators",
    b"/usr/lib/systemd/user-generators",
    b"/etc/systemd/system-environment-generators",
    b"/usr/lib/systemd/system-environment-generators",
    b"/usr/lib/systemd/user-environment-generators",
];

/// Per-home environment for the user's manager, relative to the home.
const USER_ENV_DIR: &[u8] = b".config/environment.d";

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let units = Pick::Record(Content::Head { cap: UNIT_CAP });
    for f in [&b"/etc/systemd/system.conf"[..], b"/etc/systemd/user.conf"] {
        s.capture(f, Content::Head { cap: UNIT_CAP })?;
    }
    // The unit directories are the table the analyzer reads units by.
    for dir in SYSTEMD_UNIT_DIRS {
        let dir = dir.strip_suffix(b"/").unwrap_or(dir);
        walk::walk(s, dir, Limits::config(4), |_| units)?;
    }
    for dir in MANAGER_DIRS {
        walk::walk(s, dir, Limits::config(4), |_| units)?;
    }
    for dir in GENERATOR_DIRS {
        walk::walk(s, dir, Limits::config(2), |_| {
            Pick::Record(Content::Suspect(Place::Startup))
        })?;
    }
    for (home, _) in s.ctx.homes.clone() {
        let rels = HOME_SYSTEMD_UNIT_DIRS
            .iter()
            .map(|d| d.strip_prefix(b"/").unwrap_or(d))
            .map(|d| d.strip_suffix(b"/").unwrap_or(d))
            .chain([USER_ENV_DIR]);
        for rel in rels {
            walk::walk(s, &child(&home, rel), Limits::config(4), |_| units)?;
        }
    }
    Ok(())
}
