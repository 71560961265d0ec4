//! Authentication events — failed and accepted logins, invalid users, password changes, new accounts —
//! from every auth source of the bundle, in one list ordered by time ([`HostModel::auth`]). The brute-force
//! detector, the graph's entry point, the timeline and the fleet view all read this list; none of them
//! opens a log.
//!
//! A source is an [`AuthSource`]: it turns what the bundle holds (syslog files today; the systemd journal
//! is the next) into [`AuthEvent`]s, oldest first. Add one to [`SOURCES`]. Log lines are text anyone with
//! root could write: every event is a parsed fact, never an observed one.
//!
//! Timestamps: RFC 3339 (rsyslog's high-precision format) as given; classic syslog `Mon DD HH:MM:SS` has
//! no year or zone, so the year comes from the file's mtime and the zone is taken as UTC (and said so in
//! [`AuthEvent::time_guessed`]).

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::HostModel;
use crate::parse::basename;

/// Events kept over all sources; a shaped bundle cannot make the list unbounded.
pub const MAX_EVENTS: usize = 100_000;
/// Bytes of a line kept in [`AuthEvent::text`].
const TEXT_MAX: usize = 400;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthKind {
    /// A failed password (or keyboard-interactive) login for an existing user.
    FailedPassword,
    /// A login attempt for a user the host does not have.
    InvalidUser,
    /// An accepted login by any method other than a public key (password, keyboard-interactive, ...).
    AcceptedPassword,
    /// An accepted public-key login.
    AcceptedPublicKey,
    /// A password changed (`passwd`, `chpasswd`, `usermod`).
    PasswordChanged,
    /// An account created (`useradd`).
    NewUser,
}

impl AuthKind {
    pub fn name(self) -> &'static str {
        match self {
            AuthKind::FailedPassword => "failed password",
            AuthKind::InvalidUser => "invalid user",
            AuthKind::AcceptedPassword => "accepted password",
            AuthKind::AcceptedPublicKey => "accepted publickey",
            AuthKind::PasswordChanged => "password changed",
            AuthKind::NewUser => "new user",
        }
    }

    /// A failed attempt (either kind).
    pub fn is_failure(self) -> bool {
        matches!(self, AuthKind::FailedPassword | AuthKind::InvalidUser)
    }
}

/// One authentication event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// Seconds since the epoch, when the event's time could be read.
    pub time: Option<i64>,
    /// True when the time came from a syslog stamp without year or zone.
    pub time_guessed: bool,
    pub kind: AuthKind,
    /// The account named (may be empty for `Invalid user  from IP`).
    pub user: Vec<u8>,
    /// The peer address, for login events.
    pub from: Option<String>,
    /// The login method as the log writes it (`password`, `publickey`, `keyboard-interactive/pam`).
    pub method: Option<String>,
    /// The uid a new account got (`NewUser`), when logged.
    pub new_uid: Option<u32>,
    /// The program that logged it (`sshd`, `passwd`, `useradd`).
    pub program: String,
    /// The time as written (`Jan 5 10:00:01`, or the RFC 3339 stamp).
    pub stamp: String,
    /// The [`AuthSource::name`] it came from (`syslog`).
    pub source: &'static str,
    /// Where it was read: the captured file's path and 1-based line (a source without lines numbers its
    /// entries).
    pub path: Vec<u8>,
    pub line: u32,
    /// The log line, escaped and shortened.
    pub text: String,
}

impl AuthEvent {
    /// An accepted login by password or keyboard-interactive (what a brute force ends in).
    pub fn is_password_login(&self) -> bool {
        self.kind == AuthKind::AcceptedPassword
            && self
                .method
                .as_deref()
                .is_some_and(|m| m == "password" || m.starts_with("keyboard"))
    }

    /// `path:line [stamp]`, escaped, for evidence lines.
    pub fn location(&self) -> String {
        format!(
            "{}:{} [{}]",
            escape_bytes(&self.path),
            self.line,
            self.stamp
        )
    }
}

/// A place authentication events come from.
pub trait AuthSource: Sync {
    /// Short name recorded in [`AuthEvent::source`].
    fn name(&self) -> &'static str;
    /// Every event of this source in the bundle, oldest first, at most `cap`.
    fn events(&self, model: &HostModel, cap: usize) -> Vec<AuthEvent>;
}

/// Every auth source, in the order their events are merged when times tie.
pub const SOURCES: &[&dyn AuthSource] = &[&SyslogFiles];

/// The events of every source, merged into one list ordered by time (an event without a readable time
/// keeps the time of the event before it in its source), capped at [`MAX_EVENTS`].
pub fn collect(model: &HostModel) -> Vec<AuthEvent> {
    let mut all: Vec<(i64, usize, AuthEvent)> = Vec::new();
    for source in SOURCES {
        let left = MAX_EVENTS.saturating_sub(all.len());
        let mut last = i64::MIN;
        for e in source.events(model, left) {
            if let Some(t) = e.time {
                last = t;
            }
            let n = all.len();
            all.push((last, n, e));
        }
    }
    all.sort_by_key(|(t, n, _)| (*t, *n));
    all.into_iter().map(|(_, _, e)| e).collect()
}

/// `auth.log*` and `secure*` under `/var/log` (compressed rotations are not readable here and skipped),
/// oldest rotation first.
pub struct SyslogFiles;

/// Whether a captured file is a plain-text syslog auth log.
pub fn is_auth_log(path: &[u8]) -> bool {
    let name = basename(path);
    let compressed = [&b".gz"[..], b".xz", b".bz2", b".zst"]
        .iter()
        .any(|e| name.ends_with(e));
    path.starts_with(b"/var/log/")
        && (name.starts_with(b"auth.log") || name.starts_with(b"secure"))
        && !compressed
}

/// How old a rotation is: `auth.log` 0 (current), `auth.log.N` N, `secure-YYYYMMDD` older than the
/// current file and newer than `secure-` files of earlier dates. Larger is older.
fn age(path: &[u8]) -> (u32, i64) {
    let name = basename(path);
    let last = name.rsplit(|b| *b == b'.').next().unwrap_or_default();
    let number = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<u32>().ok();
    if let Some(n) = number(last).filter(|_| last.len() < name.len()) {
        return (n, 0);
    }
    let dash = name.rsplit(|b| *b == b'-').next().unwrap_or_default();
    match number(dash).filter(|_| dash.len() == 8 && dash.len() < name.len()) {
        Some(date) => (1, -i64::from(date)),
        None => (0, 0),
    }
}

impl AuthSource for SyslogFiles {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn events(&self, model: &HostModel, cap: usize) -> Vec<AuthEvent> {
        let mut logs: Vec<&FileRecord> = model
            .files
            .iter()
            .filter(|f| f.kind == FileKind::Regular && is_auth_log(f.path.as_bytes()))
            .collect();
        logs.sort_by_key(|f| std::cmp::Reverse(age(f.path.as_bytes())));
        let mut out = Vec::new();
        for f in logs {
            let Some(content) = model.content(f) else {
                continue;
            };
            for (n, line) in crate::parse::numbered_lines(content) {
                if out.len() >= cap {
                    return out;
                }
                if let Some(e) = syslog_event(f, line, n) {
                    out.push(e);
                }
            }
        }
        out
    }
}

fn syslog_event(f: &FileRecord, line: &[u8], line_no: u32) -> Option<AuthEvent> {
    use crate::parse::auth_log::{self, AuthEvent as Parsed};
    let parsed = auth_log::parse_line(line_no, line)?;
    let (kind, user, from, method, new_uid) = match parsed.event {
        Parsed::Failed {
            user,
            ip,
            invalid_user,
        } => {
            let kind = if invalid_user {
                AuthKind::InvalidUser
            } else {
                AuthKind::FailedPassword
            };
            (kind, user, Some(ip), None, None)
        }
        Parsed::Accepted { method, user, ip } => {
            let kind = if method == "publickey" {
                AuthKind::AcceptedPublicKey
            } else {
                AuthKind::AcceptedPassword
            };
            (kind, user, Some(ip), Some(method), None)
        }
        Parsed::PasswordChanged { user } => (AuthKind::PasswordChanged, user, None, None, None),
        Parsed::NewUser { user, uid } => (AuthKind::NewUser, user, None, None, uid),
    };
    let (time, time_guessed) = match line_time(line, f.mtime.secs) {
        Some((t, guessed)) => (Some(t), guessed),
        None => (None, false),
    };
    Some(AuthEvent {
        time,
        time_guessed,
        kind,
        user,
        from,
        method,
        new_uid,
        program: parsed.program,
        stamp: parsed.stamp,
        source: "syslog",
        path: f.path.as_bytes().to_vec(),
        line: line_no,
        text: escape_bytes(line.get(..line.len().min(TEXT_MAX)).unwrap_or_default()),
    })
}

/// The time at the start of a log line: `(unix seconds, guessed)`.
pub fn line_time(line: &[u8], file_mtime: i64) -> Option<(i64, bool)> {
    let head = std::str::from_utf8(line.get(..line.len().min(40))?)
        .ok()
        .or_else(|| {
            // A line with invalid UTF-8 later on still has an ASCII stamp.
            let end = line
                .iter()
                .take(40)
                .position(|b| !b.is_ascii())
                .unwrap_or(0);
            std::str::from_utf8(line.get(..end)?).ok()
        })?;
    let first = head.split_whitespace().next()?;
    if first.len() >= 20 && first.as_bytes().get(4) == Some(&b'-') {
        let t = OffsetDateTime::parse(first, &Rfc3339).ok()?;
        return Some((t.unix_timestamp(), false));
    }
    // `Mon DD HH:MM:SS`
    let mut parts = head.split_whitespace();
    let month = match parts.next()? {
        "Jan" => Month::January,
        "Feb" => Month::February,
        "Mar" => Month::March,
        "Apr" => Month::April,
        "May" => Month::May,
        "Jun" => Month::June,
        "Jul" => Month::July,
        "Aug" => Month::August,
        "Sep" => Month::September,
        "Oct" => Month::October,
        "Nov" => Month::November,
        "Dec" => Month::December,
        _ => return None,
    };
    let day: u8 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, s): (u8, u8, u8) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
    );
    let year = OffsetDateTime::from_unix_timestamp(file_mtime)
        .map(|t| t.year())
        .unwrap_or(1970);
    let at = |y: i32| -> Option<i64> {
        let d = Date::from_calendar_date(y, month, day).ok()?;
        let t = Time::from_hms(h, m, s).ok()?;
        Some(PrimitiveDateTime::new(d, t).assume_utc().unix_timestamp())
    };
    let t = at(year)?;
    // A stamp after the file's last write belongs to the year before (the log spans new year).
    if t > file_mtime.saturating_add(86_400) {
        return Some((at(year - 1)?, true));
    }
    Some((t, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture;

    #[test]
    fn syslog_and_rfc3339_times() {
        // 2024-05-02T00:00:00Z
        let mtime = 1_714_608_000;
        let (t, guessed) = line_time(
            b"May  1 12:00:00 host sshd[1]: Failed password for root from 1.2.3.4 port 5 ssh2",
            mtime,
        )
        .unwrap();
        assert_eq!((t, guessed), (1_714_564_800, true));
        let (t, guessed) =
            line_time(b"2024-05-01T12:00:00.123456+00:00 host sshd[1]: x", 0).unwrap();
        assert_eq!((t, guessed), (1_714_564_800, false));
        // December stamps in a file written in January are last year's.
        let jan = 1_704_153_600; // 2024-01-02
        let (t, _) = line_time(b"Dec 31 23:00:00 h x", jan).unwrap();
        assert_eq!(t, 1_704_063_600);
        assert!(line_time(b"\xff\xfe garbage", 0).is_none());
    }

    #[test]
    fn rotations_oldest_first() {
        let oldest_first = |mut paths: Vec<&'static [u8]>| {
            paths.sort_by_key(|p| std::cmp::Reverse(age(p)));
            paths
        };
        assert_eq!(
            oldest_first(vec![
                b"/var/log/auth.log",
                b"/var/log/auth.log.1",
                b"/var/log/auth.log.3"
            ]),
            vec![
                &b"/var/log/auth.log.3"[..],
                b"/var/log/auth.log.1",
                b"/var/log/auth.log"
            ]
        );
        assert_eq!(
            oldest_first(vec![
                b"/var/log/secure",
                b"/var/log/secure-20240107",
                b"/var/log/secure-20231231"
            ]),
            vec![
                &b"/var/log/secure-20231231"[..],
                b"/var/log/secure-20240107",
                b"/var/log/secure"
            ]
        );
        assert!(!is_auth_log(b"/var/log/auth.log.2.gz"));
        assert!(is_auth_log(b"/var/log/secure"));
    }

    #[test]
    fn one_ordered_list_from_every_file() {
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/var/log/auth.log",
                    Some(b"Jan  1 00:00:09 h passwd[9]: pam_unix(passwd:chauthtok): password changed for git\n"),
                ),
                fixture::file(
                    b"/var/log/auth.log.1",
                    Some(b"Jan  1 00:00:01 h sshd[9]: Failed password for invalid user git from 10.0.0.9 port 22 ssh2\nJan  1 00:00:05 h sshd[9]: Accepted keyboard-interactive/pam for git from 10.0.0.9 port 22 ssh2\nJan  1 00:00:06 h CRON[1]: session opened\n"),
                ),
            ],
            vec![],
        );
        let kinds: Vec<AuthKind> = model.auth.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                AuthKind::InvalidUser,
                AuthKind::AcceptedPassword,
                AuthKind::PasswordChanged
            ]
        );
        let e = &model.auth[0];
        assert_eq!(
            (e.user.as_slice(), e.from.as_deref(), e.source, e.line),
            (&b"git"[..], Some("10.0.0.9"), "syslog", 1)
        );
        assert!(model.auth[1].is_password_login());
        assert_eq!(model.auth[2].program, "passwd");
    }
}
