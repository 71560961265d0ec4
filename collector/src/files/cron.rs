//! Scheduling (categories `cron` and `at`): `/etc/crontab`, `/etc/anacrontab`, the `cron.{d,hourly,daily,
//! weekly,monthly,yearly}` directories, cron and at allow/deny lists, every user spool (`/var/spool/cron`,
//! `/var/spool/cron/crontabs`, Redis-written ones included, whatever their owner or header) and the `at`
//! spools. Bytes are stored as they are; a 10,000-line crontab is kept whole, a shaped giant one is capped
//! at [`CONFIG_CAP`]. Systemd timers are units and live with `systemd`.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::locations::Mechanism;

use super::sink::{Content, Sink, CONFIG_CAP};
use super::walk::{self, Limits, Pick};

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let store = Pick::Record(Content::Head { cap: CONFIG_CAP });
    // at first, so that Debian's /var/spool/cron/atjobs is filed as `at` before the cron spool walk.
    s.category = "at";
    walk::persistence_locations(s, &[Mechanism::AtJob])?;
    // The output of jobs running now, and who may queue jobs: evidence, not jobs.
    for dir in [&b"/var/spool/cron/atspool"[..], b"/var/spool/atspool"] {
        walk::walk(s, dir, Limits::config(2), |_| store)?;
    }
    for f in [&b"/etc/at.allow"[..], b"/etc/at.deny"] {
        s.capture(f, Content::Head { cap: CONFIG_CAP })?;
    }
    s.category = "cron";
    walk::persistence_locations(
        s,
        &[
            Mechanism::SystemCrontab,
            Mechanism::Anacrontab,
            Mechanism::UserCrontab,
            Mechanism::CronScript,
        ],
    )?;
    // Who may use cron, and anacron's last-run stamps.
    for f in [&b"/etc/cron.allow"[..], b"/etc/cron.deny"] {
        s.capture(f, Content::Head { cap: CONFIG_CAP })?;
    }
    walk::walk(s, b"/var/spool/anacron", Limits::config(3), |_| store)?;
    Ok(())
}
