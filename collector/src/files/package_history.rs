//! Package manager history (category `package-history`): dnf's `history.sqlite` (EL8+, Fedora, Amazon
//! Linux 2023; with its `-wal` log, where recent transactions may be) and yum's
//! `history-*.sqlite` (EL7, Amazon Linux 2) databases: which packages were installed or removed, when,
//! and by which command line (`yum install masscan`, `dnf remove aegis`). Stored from the head up to a cap
//! per file; the text logs (`dnf.log`, `yum.log`, `dnf.rpm.log`, apt's `history.log`) come with `logs`.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::sink::{Content, Sink};
use super::walk::{self, Limits, Pick};

/// A history database over this is kept by its head (and is of little use cut; the record says so).
const DB_CAP: u64 = 64 << 20;

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    for f in [
        &b"/var/lib/dnf/history.sqlite"[..],
        b"/var/lib/dnf/history.sqlite-wal",
    ] {
        s.capture(f, Content::Head { cap: DB_CAP })?;
    }
    walk::walk(s, b"/var/lib/yum/history", Limits::config(1), |e| {
        if e.name.starts_with(b"history-") && e.name.ends_with(b".sqlite") {
            Pick::Record(Content::Head { cap: DB_CAP })
        } else {
            Pick::Record(Content::Meta)
        }
    })?;
    Ok(())
}
