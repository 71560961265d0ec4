//! SELinux state (category `selinux`): the configured mode (`/etc/selinux/config`, and
//! `/etc/sysconfig/selinux`, a link to it on RHEL) and, on a live host, the running mode
//! (`/sys/fs/selinux/enforce`: `1` enforcing, `0` permissive; absent when SELinux is disabled). Miner kits
//! on RHEL-family hosts run `setenforce 0` and write `SELINUX=disabled` so that their drops under
//! `/tmp` and `/var/tmp` run unconfined; the analyst compares the two.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::sink::{Content, Sink, CONFIG_CAP};

pub const FILES: &[&[u8]] = &[
    b"/etc/selinux/config",
    b"/etc/sysconfig/selinux",
    b"/etc/selinux/semanage.conf",
];

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    for f in FILES {
        s.capture(f, Content::Head { cap: CONFIG_CAP })?;
    }
    if !s.ctx.root.is_dead_box() {
        // sysfs: a few bytes, never the image's (a dead-box root has no running mode).
        s.capture(b"/sys/fs/selinux/enforce", Content::Head { cap: 64 })?;
    }
    Ok(())
}
