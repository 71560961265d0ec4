//! Logs (category `log`): authentication (`auth.log`, `secure`), `syslog`/`messages`, cron, kernel,
//! audit, package manager (`dpkg.log`, `yum.log`, `dnf.log`, `apt/history.log`), Redis and web server
//! logs, with their rotations, and the login records `wtmp`, `btmp`, `lastlog`, `utmp` raw.
//!
//! Text logs keep their tail (newest lines) up to `--max-log-mib` each; `wtmp`/`btmp` keep a tail cut on a
//! record boundary; `lastlog` (sparse, indexed by uid) keeps its head. Current files go before rotations,
//! newest rotation first, until a run budget of 16 × the per-log cap is spent; what is left is recorded by
//! metadata with the reason. Everything else under `/var/log` (the systemd journal included) is listed
//! by metadata, so an emptied or deleted log still shows.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::FileKind;

use super::host_root::child;
use super::listing;
use super::sink::{Content, Sink};
use super::walk::{self, Limits, Pick};

/// Size of a glibc `struct utmp` record on Linux, for cutting `wtmp`/`btmp` on a record boundary.
pub const UTMP_RECORD: u64 = 384;

/// How a log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Text,
    /// `wtmp`, `btmp`, `utmp`: fixed-size records, tail kept on a record boundary.
    Utmp,
    /// `lastlog`: sparse, indexed by uid; head kept.
    Lastlog,
}

/// A log chosen for content: where it sorts (0 = current file, n = n-th rotation) and how it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub rotation: u32,
    pub compressed: bool,
    pub kind: LogKind,
}

const TEXT_LOGS: &[&[u8]] = &[
    b"auth.log",
    b"secure",
    b"syslog",
    b"messages",
    b"cron",
    b"cron.log",
    b"kern.log",
    b"daemon.log",
    b"user.log",
    b"audit.log",
    b"dpkg.log",
    b"yum.log",
    b"dnf.log",
    b"dnf.rpm.log",
    b"history.log",
    b"faillog",
];

/// Subdirectories of `/var/log` whose every log is kept (services miners come in through).
const SERVICE_DIRS: &[&[u8]] = &[
    b"redis",
    b"nginx",
    b"apache2",
    b"httpd",
    b"lighttpd",
    b"audit",
    b"apt",
    // Databases and application servers exploited for their shell-outs (`COPY ... FROM PROGRAM`, manager
    // uploads): their logs name the way in (issue 20).
    b"postgresql",
    b"mysql",
    b"tomcat",
    b"tomcat8",
    b"tomcat9",
    b"tomcat10",
];

/// Tomcat's `AccessLogValve` names each day's file `PREFIX_access_log.YYYY-MM-DD.txt`.
fn is_dated_access_log(base: &[u8]) -> bool {
    base.windows(b"access_log.".len())
        .any(|w| w == b"access_log.")
        && base.ends_with(b".txt")
}

/// Decides whether a file under `/var/log` (path relative to it) is kept for content.
pub fn classify(rel: &[u8]) -> Option<Chosen> {
    let name = super::host_root::file_name(rel);
    let dir = rel
        .len()
        .checked_sub(name.len() + 1)
        .and_then(|n| rel.get(..n))
        .unwrap_or(b"");
    let mut base = name;
    let mut compressed = false;
    for ext in [&b".gz"[..], b".xz", b".bz2", b".zst"] {
        if let Some(b) = base.strip_suffix(ext) {
            base = b;
            compressed = true;
        }
    }
    let mut rotation = 0;
    if let Some(dot) = base.iter().rposition(|b| *b == b'.') {
        let suffix = base.get(dot + 1..).unwrap_or(b"");
        if !suffix.is_empty() && suffix.iter().all(u8::is_ascii_digit) {
            rotation = std::str::from_utf8(suffix)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(99);
            base = base.get(..dot).unwrap_or(b"");
        }
    }
    if let Some(dash) = base.iter().rposition(|b| *b == b'-') {
        let suffix = base.get(dash + 1..).unwrap_or(b"");
        if suffix.len() == 8 && suffix.iter().all(u8::is_ascii_digit) {
            rotation = rotation.max(1);
            base = base.get(..dash).unwrap_or(b"");
        }
    }
    let kind = match base {
        b"wtmp" | b"btmp" | b"utmp" => LogKind::Utmp,
        b"lastlog" => LogKind::Lastlog,
        _ if TEXT_LOGS.contains(&base) => LogKind::Text,
        _ if SERVICE_DIRS
            .iter()
            .any(|d| dir == *d || dir.starts_with(&[*d, &b"/"[..]].concat()))
            && (base.ends_with(b".log")
                || base.ends_with(b"_log")
                || base == b"access"
                || base == b"error"
                || base == b"catalina.out"
                || is_dated_access_log(base)) =>
        {
            LogKind::Text
        }
        _ if dir.is_empty() && base.starts_with(b"redis") && base.ends_with(b".log") => {
            LogKind::Text
        }
        _ => return None,
    };
    Some(Chosen {
        rotation,
        compressed,
        kind,
    })
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let cap = s.ctx.max_log;
    let mut budget = cap.saturating_mul(16);
    let mut chosen: Vec<(Chosen, Vec<u8>)> = Vec::new();
    gather(s, b"/var/log", b"", 0, &mut chosen);
    chosen.sort_by(|a, b| {
        (a.0.rotation, a.0.compressed, &a.1).cmp(&(b.0.rotation, b.0.compressed, &b.1))
    });
    let utmp_cap = if cap >= UTMP_RECORD {
        cap - cap % UTMP_RECORD
    } else {
        cap
    };
    for (c, path) in chosen {
        let content = match (c.kind, c.compressed) {
            (_, true) => Content::Head { cap },
            (LogKind::Text, false) => Content::Tail { cap },
            (LogKind::Utmp, false) => Content::Tail { cap: utmp_cap },
            (LogKind::Lastlog, false) => Content::Head { cap },
        };
        if budget == 0 {
            let index = capture_indexed(s, &path, Content::Meta)?;
            s.set_error(index, "content not kept: the run's log budget is spent");
            continue;
        }
        let before = s.stored_bytes;
        let index = capture_indexed(s, &path, content)?;
        let stored = s.stored_bytes - before;
        budget = budget.saturating_sub(stored);
        if c.compressed && index.is_some_and(|i| s.col.files.get(i).is_some_and(|f| f.truncated)) {
            s.set_error(
                index,
                "compressed rotation larger than the cap: only its head is kept",
            );
        }
    }
    s.capture(b"/var/run/utmp", Content::Tail { cap: utmp_cap })?;
    // Everything else, by metadata.
    walk::walk(s, b"/var/log", Limits::config(4), |_| {
        Pick::Record(Content::Meta)
    })?;
    Ok(())
}

fn capture_indexed<W: Write>(
    s: &mut Sink<'_, W>,
    path: &[u8],
    content: Content,
) -> Result<Option<usize>, WriteError> {
    s.capture(path, content)?;
    Ok(s.ctx.recorded.get(path).copied())
}

/// Lists `/var/log` (three levels, capped) without recording, and picks the logs to keep.
fn gather<W: Write>(
    s: &mut Sink<'_, W>,
    dir: &[u8],
    rel: &[u8],
    depth: u32,
    out: &mut Vec<(Chosen, Vec<u8>)>,
) {
    if depth > 2 || out.len() > 5_000 {
        return;
    }
    let Ok(resolved) = s.ctx.root.resolve(dir, true) else {
        return;
    };
    let Ok(st) = s.ctx.root.lstat(&resolved.path) else {
        return;
    };
    if !st.is_dir() {
        return;
    }
    let real = s.ctx.root.real(&resolved.path);
    let names = match listing::list(&real, &st, 5_000) {
        Ok((_, names, _)) => names,
        Err(e) => {
            s.note(dir, format!("cannot list: {e}"));
            return;
        }
    };
    for n in names {
        let path = child(&resolved.path, &n);
        let r = if rel.is_empty() {
            n.clone()
        } else {
            child(rel, &n)
        };
        match s.ctx.root.lstat(&path).map(|st| st.kind) {
            Ok(FileKind::Directory) => gather(s, &path, &r, depth + 1, out),
            Ok(FileKind::Regular) => {
                if let Some(c) = classify(&r) {
                    out.push((c, path));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rel: &str) -> Option<(u32, bool, LogKind)> {
        classify(rel.as_bytes()).map(|c| (c.rotation, c.compressed, c.kind))
    }

    #[test]
    fn log_names_and_rotations() {
        assert_eq!(c("auth.log"), Some((0, false, LogKind::Text)));
        assert_eq!(c("auth.log.1"), Some((1, false, LogKind::Text)));
        assert_eq!(c("auth.log.3.gz"), Some((3, true, LogKind::Text)));
        assert_eq!(c("secure-20240101"), Some((1, false, LogKind::Text)));
        assert_eq!(c("wtmp"), Some((0, false, LogKind::Utmp)));
        assert_eq!(c("btmp.1"), Some((1, false, LogKind::Utmp)));
        assert_eq!(c("lastlog"), Some((0, false, LogKind::Lastlog)));
        assert_eq!(c("redis/redis-server.log"), Some((0, false, LogKind::Text)));
        assert_eq!(c("nginx/access.log.2.gz"), Some((2, true, LogKind::Text)));
        assert_eq!(c("httpd/error_log"), Some((0, false, LogKind::Text)));
        assert_eq!(c("apt/history.log"), Some((0, false, LogKind::Text)));
        assert_eq!(
            c("postgresql/postgresql-15-main.log.1"),
            Some((1, false, LogKind::Text))
        );
        assert_eq!(
            c("tomcat9/localhost_access_log.2025-06-10.txt"),
            Some((0, false, LogKind::Text))
        );
        assert_eq!(c("tomcat9/catalina.out"), Some((0, false, LogKind::Text)));
        assert_eq!(c("tomcat9/notes.txt"), None);
        assert_eq!(c("journal/abc/system.journal"), None);
        assert_eq!(c("Xorg.0.log"), None);
    }
}
