//! Boot-time and event hooks besides systemd.
//!
//! - `startup`: `/etc/rc.local`, `/etc/rc.d`, `/etc/init.d`, `/etc/rc?.d` (their `S`/`K` links recorded as
//!   links), `/etc/inittab`, `/etc/rc.conf`, upstart `/etc/init`, SUSE `boot.local`, `/etc/xdg/autostart`,
//!   `update-motd.d`, network hook directories, APT hooks, initramfs hooks and dracut configuration.
//! - `package-hooks`: dpkg's, dnf's, yum's and rpm's own hook configuration
//!   ([`minetrace_schemas::locations::PACKAGE_MANAGER_HOOK_PLACES`]).
//! - `udev`: rules in `/etc`, `/run`, `/usr/local/lib` and `/usr/lib` (`/lib`).
//! - `modules`: `/etc/modules`, `modules-load.d`, `modprobe.d` (whose `install` lines run commands) and
//!   out-of-tree kernel modules (`/lib/modules/*/{extra,updates,misc}`, DKMS trees), copied when they are
//!   ELF objects: rootkit LKMs are small and cannot be had later.
//!
//! The rc, motd, APT, initramfs, network-hook, autostart, udev and module locations are the table the analyzer reads them by
//! ([`minetrace_schemas::locations::PERSISTENCE_LOCATIONS`]).

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::locations::Mechanism;

use super::sink::{Content, Sink, CONFIG_CAP};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let store = Pick::Record(Content::Head { cap: CONFIG_CAP });
    s.category = "startup";
    walk::persistence_locations(
        s,
        &[
            Mechanism::RcScript,
            Mechanism::Inittab,
            Mechanism::LoginMessage,
            Mechanism::PackageHook,
            Mechanism::InitramfsHook,
            Mechanism::NetworkHook,
            Mechanism::Autostart,
        ],
    )?;
    // Boot configuration the analyzer keeps as files (no reader of their lines yet).
    for dir in [&b"/etc/init"[..], b"/etc/dracut.conf.d"] {
        walk::walk(s, dir, Limits::config(3), |_| store)?;
    }

    // Package managers' own hooks (dpkg options, dnf/yum plugins and actions, rpm macros): what a
    // reinstall runs as root, stored for the analyst within the configuration caps.
    s.category = "package-hooks";
    for (pattern, depth) in minetrace_schemas::locations::PACKAGE_MANAGER_HOOK_PLACES {
        for path in s.ctx.root.expand(pattern, 64) {
            if *depth == 0 {
                s.capture(&path, Content::Head { cap: CONFIG_CAP })?;
            } else {
                walk::walk(s, &path, Limits::config(*depth), |_| store)?;
            }
        }
    }

    s.category = "udev";
    walk::persistence_locations(s, &[Mechanism::UdevRules])?;

    s.category = "modules";
    walk::persistence_locations(s, &[Mechanism::ModulesLoad, Mechanism::Modprobe])?;
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
