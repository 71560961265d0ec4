//! Services and timers (category `systemd`): unit files and drop-ins (`*.d/*.conf`), `wants`/`requires`
//! links (recorded as links with their targets), generator output under `/run/systemd/generator*`,
//! generators themselves (copied when they are ELF or scripts), transient units, for the system and for
//! users (system-wide user units and every home's `~/.config/systemd/user`), plus `environment.d` and
//! `system.conf`/`user.conf`. Timers are units (`*.timer`) and come with the rest.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::host_root::child;
use super::sink::{Content, Sink};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

/// Unit files are small; one over 1 MiB is kept by its head.
const UNIT_CAP: u64 = 1 << 20;

const UNIT_DIRS: &[&[u8]] = &[
    b"/etc/systemd/system",
    b"/etc/systemd/system.control",
    b"/run/systemd/system",
    b"/run/systemd/system.control",
    b"/run/systemd/transient",
    b"/run/systemd/generator.early",
    b"/run/systemd/generator",
    b"/run/systemd/generator.late",
    b"/usr/local/lib/systemd/system",
    b"/lib/systemd/system",
    b"/usr/lib/systemd/system",
    b"/etc/systemd/user",
    b"/run/systemd/user",
    b"/usr/local/lib/systemd/user",
    b"/usr/lib/systemd/user",
    b"/lib/systemd/user",
    b"/etc/xdg/systemd/user",
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

/// Per-home locations, relative to the home.
const USER_DIRS: &[&[u8]] = &[
    b".config/systemd/user",
    b".local/share/systemd/user",
    b".config/environment.d",
];

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let units = Pick::Record(Content::Head { cap: UNIT_CAP });
    for f in [&b"/etc/systemd/system.conf"[..], b"/etc/systemd/user.conf"] {
        s.capture(f, Content::Head { cap: UNIT_CAP })?;
    }
    for dir in UNIT_DIRS {
        walk::walk(s, dir, Limits::config(4), |_| units)?;
    }
    for dir in GENERATOR_DIRS {
        walk::walk(s, dir, Limits::config(2), |_| {
            Pick::Record(Content::Suspect(Place::Startup))
        })?;
    }
    for (home, _) in s.ctx.homes.clone() {
        for rel in USER_DIRS {
            walk::walk(s, &child(&home, rel), Limits::config(4), |_| units)?;
        }
    }
    Ok(())
}
