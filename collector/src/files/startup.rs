//! Boot-time and event hooks besides systemd.
//!
//! - `startup`: `/etc/rc.local`, `/etc/rc.d`, `/etc/init.d`, `/etc/rc*.d` (their `S`/`K` links recorded as
//!   links), `/etc/inittab`, upstart `/etc/init`, SUSE `boot.local`, `/etc/xdg/autostart`,
//!   `update-motd.d`, network hook directories, APT hooks, initramfs hooks and dracut configuration.
//! - `udev`: rules in `/etc`, `/run` and `/usr/lib` (`/lib`).
//! - `modules`: `/etc/modules`, `modules-load.d`, `modprobe.d` (whose `install` lines run commands) and
//!   out-of-tree kernel modules (`/lib/modules/*/{extra,updates,misc}`, DKMS trees), copied when they are
//!   ELF objects: rootkit LKMs are small and cannot be had later.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::sink::{Content, Sink, CONFIG_CAP};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let store = Pick::Record(Content::Head { cap: CONFIG_CAP });
    s.category = "startup";
    for f in [
        &b"/etc/rc.local"[..],
        b"/etc/inittab",
        b"/etc/boot.local",
        b"/etc/rc.conf",
    ] {
        s.capture(f, Content::Head { cap: CONFIG_CAP })?;
    }
    let mut dirs: Vec<Vec<u8>> = [
        &b"/etc/rc.d"[..],
        b"/etc/init.d",
        b"/etc/init",
        b"/etc/xdg/autostart",
        b"/etc/update-motd.d",
        b"/etc/network/if-up.d",
        b"/etc/network/if-pre-up.d",
        b"/etc/network/if-down.d",
        b"/etc/network/if-post-down.d",
        b"/etc/NetworkManager/dispatcher.d",
        b"/etc/apt/apt.conf.d",
        b"/etc/initramfs-tools/hooks",
        b"/etc/initramfs-tools/scripts",
        b"/etc/dracut.conf.d",
    ]
    .iter()
    .map(|d| d.to_vec())
    .collect();
    dirs.extend(s.ctx.root.expand(b"/etc/rc*.d", 64));
    for dir in &dirs {
        walk::walk(s, dir, Limits::config(3), |_| store)?;
    }

    s.category = "udev";
    for dir in [
        &b"/etc/udev/rules.d"[..],
        b"/run/udev/rules.d",
        b"/lib/udev/rules.d",
        b"/usr/lib/udev/rules.d",
        b"/usr/local/lib/udev/rules.d",
    ] {
        walk::walk(s, dir, Limits::config(2), |_| store)?;
    }

    s.category = "modules";
    s.capture(b"/etc/modules", Content::Head { cap: CONFIG_CAP })?;
    for dir in [
        &b"/etc/modules-load.d"[..],
        b"/run/modules-load.d",
        b"/usr/local/lib/modules-load.d",
        b"/lib/modules-load.d",
        b"/usr/lib/modules-load.d",
        b"/etc/modprobe.d",
        b"/run/modprobe.d",
        b"/lib/modprobe.d",
        b"/usr/lib/modprobe.d",
    ] {
        walk::walk(s, dir, Limits::config(2), |_| store)?;
    }
    let mut module_dirs = Vec::new();
    for sub in [&b"extra"[..], b"updates", b"misc"] {
        let mut pattern = b"/lib/modules/*/".to_vec();
        pattern.extend_from_slice(sub);
        module_dirs.extend(s.ctx.root.expand(&pattern, 64));
    }
    module_dirs.push(b"/var/lib/dkms".to_vec());
    for dir in &module_dirs {
        walk::walk(s, dir, Limits::config(6), |_| {
            Pick::Record(Content::Suspect(Place::Startup))
        })?;
    }
    Ok(())
}
