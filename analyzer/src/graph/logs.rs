//! Authentication events from captured auth logs (`auth.log`, `secure`, read with
//! [`crate::parse::auth_log`]): failed and accepted logins,
//! invalid users, password changes and new accounts, with their times. Log lines are text anyone with
//! root could write, so everything here is `parsed`, never `observed`.
//!
//! Timestamps: RFC 3339 (rsyslog's high-precision format) as given; classic syslog `Mon DD HH:MM:SS` has
//! no year or zone, so the year comes from the file's mtime and the zone is taken as UTC (and said so).

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::file::FileRecord;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::model::HostModel;

/// Lines read per log file (the collector keeps the tail).
const MAX_LINES: usize = 200_000;
/// Events kept over all files.
const MAX_EVENTS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthKind {
    FailedPassword,
    InvalidUser,
    AcceptedPassword,
    AcceptedPublicKey,
    PasswordChanged,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// Seconds since the epoch, when the line's time could be read.
    pub time: Option<i64>,
    /// True when the time came from a syslog stamp without year or zone.
    pub time_guessed: bool,
    pub kind: AuthKind,
    pub user: Vec<u8>,
    pub from: Option<String>,
    pub path: Vec<u8>,
    pub line: u32,
    /// The log line, escaped and shortened.
    pub text: String,
}

fn is_auth_log(path: &[u8]) -> bool {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    path.starts_with(b"/var/log/") && (name.starts_with(b"auth.log") || name.starts_with(b"secure"))
}

/// Every auth event in the captured logs, oldest file order kept, capped.
pub fn auth_events(model: &HostModel) -> Vec<AuthEvent> {
    let mut out = Vec::new();
    for f in model
        .files
        .iter()
        .filter(|f| is_auth_log(f.path.as_bytes()))
    {
        let Some(content) = model.content(f) else {
            continue;
        };
        for (n, line) in crate::parse::numbered_lines(content).take(MAX_LINES) {
            if out.len() >= MAX_EVENTS {
                return out;
            }
            if let Some(e) = parse_line(f, line, n) {
                out.push(e);
            }
        }
    }
    out
}

fn parse_line(f: &FileRecord, line: &[u8], line_no: u32) -> Option<AuthEvent> {
    use crate::parse::auth_log::{self, AuthEvent as Parsed};
    let parsed = auth_log::parse_line(line_no, line)?;
    let (kind, user, from) = match parsed.event {
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
            (kind, user, Some(ip))
        }
        Parsed::Accepted { method, user, ip } => {
            let kind = if method == "publickey" {
                AuthKind::AcceptedPublicKey
            } else {
                AuthKind::AcceptedPassword
            };
            (kind, user, Some(ip))
        }
        Parsed::PasswordChanged { user } => (AuthKind::PasswordChanged, user, None),
        Parsed::NewUser { user, .. } => (AuthKind::NewUser, user, None),
    };
    let (time, time_guessed) = match line_time(line, f.mtime.secs) {
        Some((t, guessed)) => (Some(t), guessed),
        None => (None, false),
    };
    let text = escape_bytes(line.get(..line.len().min(400)).unwrap_or_default());
    Some(AuthEvent {
        time,
        time_guessed,
        kind,
        user,
        from,
        path: f.path.as_bytes().to_vec(),
        line: line_no,
        text,
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
    fn events() {
        let f = FileRecord {
            path: "/var/log/auth.log".into(),
            category: "log".into(),
            kind: minetrace_schemas::records::file::FileKind::Regular,
            link_target: None,
            mode: 0o640,
            uid: 0,
            gid: 0,
            size: 0,
            dev: 1,
            ino: 2,
            nlink: 1,
            mtime: Default::default(),
            atime: Default::default(),
            ctime: Default::default(),
            btime: None,
            flags: None,
            immutable: false,
            append_only: false,
            sha256: None,
            member: None,
            truncated: false,
            error: None,
        };
        let e = parse_line(&f, b"Jan  1 00:00:01 h sshd[9]: Failed password for invalid user git from 10.0.0.9 port 22 ssh2", 3).unwrap();
        assert_eq!(
            (e.kind, e.user.as_slice(), e.from.as_deref()),
            (AuthKind::InvalidUser, &b"git"[..], Some("10.0.0.9"))
        );
        let e = parse_line(
            &f,
            b"Jan  1 00:00:09 h passwd[9]: pam_unix(passwd:chauthtok): password changed for git",
            4,
        )
        .unwrap();
        assert_eq!(e.kind, AuthKind::PasswordChanged);
        assert!(parse_line(&f, b"Jan  1 00:00:09 h CRON[1]: session opened", 5).is_none());
    }
}
