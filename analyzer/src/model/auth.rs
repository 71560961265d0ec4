//! Authentication events — failed and accepted logins, invalid users, password changes, new accounts —
//! from every auth source of the bundle, in one list ordered by time ([`HostModel::auth`]). The brute-force
//! detector, the graph's entry point, the timeline and the fleet view all read this list; none of them
//! opens a log.
//!
//! A source is an [`AuthSource`]: it turns what the bundle holds (syslog files, the systemd journal) into
//! [`AuthEvent`]s, oldest first. Add one to [`SOURCES`]. Log lines are text anyone with
//! root could write: every event is a parsed fact, never an observed one.
//!
//! Timestamps: RFC 3339 (rsyslog's high-precision format) as given; classic syslog `Mon DD HH:MM:SS` has
//! no year or zone, so the year comes from the file's mtime and the zone is taken as UTC (and said so in
//! [`AuthEvent::time_guessed`]).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::file::FileRecord;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::HostModel;
use crate::parse::basename;

/// Events kept over all sources (the newest of each source when there are more); a shaped bundle cannot
/// make the list unbounded.
pub const MAX_EVENTS: usize = 50_000;
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

/// One authentication event. Kept compact (a big log yields ~100,000 of them): the path is shared by
/// every event of its file, the peer is an address, the strings are exact-size.
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
    pub from: Option<IpAddr>,
    /// The login method as the log writes it (`password`, `publickey`, `keyboard-interactive/pam`).
    pub method: Option<Box<str>>,
    /// The uid a new account got (`NewUser`), when logged.
    pub new_uid: Option<u32>,
    /// The program that logged it (`sshd`, `passwd`, `useradd`).
    pub program: Box<str>,
    /// The pid of the program that logged it (`sshd[2210]`), when written: with the program, what tells one
    /// sshd session's lines from another's when two sources carry the same events.
    pub pid: Option<u32>,
    /// The [`AuthSource::name`] it came from (`syslog`).
    pub source: &'static str,
    /// Where it was read: the captured file's path and 1-based line (a source without lines numbers its
    /// entries). One allocation per file, shared by its events.
    pub path: Arc<[u8]>,
    pub line: u32,
    /// The log line ([`AuthEvent::text`]; its first words are the time as written, [`AuthEvent::stamp`]).
    pub line_text: AuthText,
}

/// Where an event's log line is: a span of the captured file it was read from (no copy), or owned text
/// (a source whose records are not lines of a captured file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthText {
    /// Bytes `start..start + len` of the captured file at [`AuthEvent::path`].
    Span { start: u32, len: u32 },
    /// Escaped text.
    Owned(Box<str>),
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

    /// The log line, escaped and cut to 400 bytes.
    pub fn text<'m>(&'m self, model: &'m HostModel) -> Cow<'m, str> {
        match &self.line_text {
            AuthText::Owned(t) => Cow::Borrowed(t),
            AuthText::Span { start, len } => {
                let bytes = model
                    .file(&self.path)
                    .and_then(|f| model.content(f))
                    .and_then(|c| {
                        c.get(*start as usize..(*start as usize).saturating_add(*len as usize))
                    })
                    .unwrap_or_default();
                let bytes = bytes.get(..bytes.len().min(TEXT_MAX)).unwrap_or_default();
                let plain = bytes
                    .iter()
                    .all(|b| (0x20..0x7f).contains(b) && *b != b'\\');
                match std::str::from_utf8(bytes) {
                    Ok(s) if plain => Cow::Borrowed(s),
                    _ => Cow::Owned(escape_bytes(bytes)),
                }
            }
        }
    }

    /// The time as the line writes it: the first word when it is an RFC 3339 stamp, else the first
    /// three (`Jan 5 10:00:01`).
    pub fn stamp(&self, model: &HostModel) -> String {
        let text = self.text(model);
        let mut w = text.split_whitespace();
        match w.next() {
            Some(first) if first.len() > 10 && first.contains('T') => first.to_owned(),
            Some(first) => std::iter::once(first)
                .chain(w.take(2))
                .collect::<Vec<_>>()
                .join(" "),
            None => String::new(),
        }
    }

    /// `path:line [stamp]`, escaped, for evidence lines.
    pub fn location(&self, model: &HostModel) -> String {
        format!(
            "{}:{} [{}]",
            escape_bytes(&self.path),
            self.line,
            self.stamp(model)
        )
    }
}

/// A place authentication events come from.
pub trait AuthSource: Sync {
    /// Short name recorded in [`AuthEvent::source`].
    fn name(&self) -> &'static str;
    /// Appends every event of this source in the bundle to `out`, oldest first, while `out` holds fewer
    /// than `cap` events.
    fn events(&self, model: &HostModel, out: &mut Vec<AuthEvent>, cap: usize);
    /// At least as many events as [`AuthSource::events`] would add (lines, entries), so the list is
    /// allocated once; 0 when unknown.
    fn size_hint(&self, _model: &HostModel) -> usize {
        0
    }
}

/// Every auth source, in the order their events are merged when times tie.
pub const SOURCES: &[&dyn AuthSource] = &[&SyslogFiles, &JournalFiles];

/// The events of every source, merged into one list ordered by time (an event without a readable time
/// keeps the time of the event before it in its source; ties keep source order), capped at
/// [`MAX_EVENTS`]. Sorting moves the events in place: no second copy of the list is made.
pub fn collect(model: &HostModel) -> Vec<AuthEvent> {
    collect_capped(model, MAX_EVENTS)
}

fn collect_capped(model: &HostModel, cap: usize) -> Vec<AuthEvent> {
    let hint: usize = SOURCES.iter().map(|s| s.size_hint(model)).sum();
    let mut all: Vec<AuthEvent> = Vec::with_capacity(hint.min(cap));
    let mut keys: Vec<(i64, u32)> = Vec::with_capacity(hint.min(cap));
    for source in SOURCES {
        let first = all.len();
        source.events(model, &mut all, cap);
        // rsyslog writes the journal's sshd lines to /var/log/secure too: what an earlier source already
        // gave is not counted twice (a brute force would double).
        if source.name() == JournalFiles.name() {
            let mine = all.split_off(first);
            let kept = dedup_against(&all, mine);
            all.extend(kept);
        }
        let mut last = i64::MIN;
        for e in all.get(first..).unwrap_or_default() {
            if let Some(t) = e.time {
                last = t;
            }
            keys.push((last, u32::try_from(keys.len()).unwrap_or(u32::MAX)));
        }
    }
    if !keys.is_sorted() {
        keys.sort_unstable();
        crate::permute::apply(&mut all, keys.iter().map(|k| k.1 as usize).collect());
    }
    all.shrink_to_fit();
    all
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

/// The captured plain-text auth logs.
fn auth_logs(model: &HostModel) -> impl Iterator<Item = &FileRecord> {
    model
        .regular_files()
        .filter(|f| is_auth_log(f.path.as_bytes()))
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

    /// Read newest first (newest rotation, last line first) so the cap keeps the most recent events,
    /// then put back in file order.
    fn events(&self, model: &HostModel, out: &mut Vec<AuthEvent>, cap: usize) {
        let first = out.len();
        let mut logs = auth_logs(model).collect::<Vec<_>>();
        logs.sort_by_key(|f| age(f.path.as_bytes()));
        'files: for f in logs {
            let Some(content) = model.content(f) else {
                continue;
            };
            let path: Arc<[u8]> = Arc::from(f.path.as_bytes());
            let lines: Vec<(u32, &[u8])> = crate::parse::numbered_lines(content).collect();
            for (n, line) in lines.into_iter().rev() {
                if out.len() >= cap {
                    break 'files;
                }
                // numbered_lines hands out subslices of `content`: the line's offset in the file.
                let start = (line.as_ptr() as usize).saturating_sub(content.as_ptr() as usize);
                if let Some(e) = syslog_event(f.mtime.secs, &path, (line, Some(start)), n, "syslog")
                {
                    out.push(e);
                }
            }
        }
        if let Some(mine) = out.get_mut(first..) {
            mine.reverse();
        }
    }

    fn size_hint(&self, model: &HostModel) -> usize {
        auth_logs(model)
            .filter_map(|f| model.content(f))
            .map(|c| c.iter().filter(|b| **b == b'\n').count() + 1)
            .sum()
    }
}

/// The systemd journal's authentication entries ([`super::journal`]), read as syslog lines with exact
/// RFC 3339 stamps; `line` numbers an entry among its file's authentication entries.
pub struct JournalFiles;

impl AuthSource for JournalFiles {
    fn name(&self) -> &'static str {
        "journal"
    }

    fn events(&self, model: &HostModel, out: &mut Vec<AuthEvent>, cap: usize) {
        for l in &model.journals.auth_lines {
            if out.len() >= cap {
                break;
            }
            // The line is the journal entry's, not a span of a captured text file: its text is owned.
            if let Some(e) = syslog_event(0, &l.path, (&l.line, None), l.n, "journal") {
                out.push(e);
            }
        }
    }

    fn size_hint(&self, model: &HostModel) -> usize {
        model.journals.auth_lines.len()
    }
}

/// The pid a line gives its program (`sshd[31201]:`).
/// `events` without those an earlier source already gave: per (program, pid, kind, user, peer), as many
/// of `events` are dropped as `earlier` holds. Times are not compared: a syslog stamp has no zone.
fn dedup_against(earlier: &[AuthEvent], events: Vec<AuthEvent>) -> Vec<AuthEvent> {
    type Key = (Box<str>, Option<u32>, AuthKind, Vec<u8>, Option<IpAddr>);
    let key = |e: &AuthEvent| -> Key { (e.program.clone(), e.pid, e.kind, e.user.clone(), e.from) };
    let mut have: std::collections::BTreeMap<Key, usize> = std::collections::BTreeMap::new();
    for e in earlier {
        *have.entry(key(e)).or_default() += 1;
    }
    events
        .into_iter()
        .filter(|e| match have.get_mut(&key(e)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// One auth event from a syslog-format line; `start` is the line's offset in the captured file `path`
/// names (`None`: the line is not a span of a captured file, its text is kept).
fn syslog_event(
    mtime: i64,
    path: &Arc<[u8]>,
    (line, start): (&[u8], Option<usize>),
    line_no: u32,
    source: &'static str,
) -> Option<AuthEvent> {
    use crate::parse::auth_log::{self, AuthEvent as Parsed};
    let parsed = auth_log::parse_line(line_no, line)?;
    let (kind, user, from, method, new_uid) = match parsed.event {
        Parsed::Failed {
            user,
            ip: peer,
            invalid_user,
        } => {
            let kind = if invalid_user {
                AuthKind::InvalidUser
            } else {
                AuthKind::FailedPassword
            };
            (kind, user, peer.parse().ok(), None, None)
        }
        Parsed::Accepted {
            method,
            user,
            ip: peer,
        } => {
            let kind = if method == "publickey" {
                AuthKind::AcceptedPublicKey
            } else {
                AuthKind::AcceptedPassword
            };
            (
                kind,
                user,
                peer.parse().ok(),
                Some(method.into_boxed_str()),
                None,
            )
        }
        Parsed::PasswordChanged { user } => (AuthKind::PasswordChanged, user, None, None, None),
        Parsed::NewUser { user, uid } => (AuthKind::NewUser, user, None, None, uid),
    };
    let (time, time_guessed) = match line_time(line, mtime) {
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
        program: parsed.program.into_boxed_str(),
        pid: parsed.pid,
        source,
        path: Arc::clone(path),
        line: line_no,
        line_text: match start.map(u32::try_from) {
            Some(Ok(start)) => AuthText::Span {
                start,
                len: u32::try_from(line.len()).unwrap_or(u32::MAX),
            },
            _ => AuthText::Owned(
                escape_bytes(line.get(..line.len().min(TEXT_MAX)).unwrap_or_default())
                    .into_boxed_str(),
            ),
        },
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
    let month = crate::parse::month_abbrev(parts.next()?)?;
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
            (e.user.as_slice(), e.from, e.source, e.line),
            (&b"git"[..], "10.0.0.9".parse().ok(), "syslog", 1)
        );
        assert_eq!(e.stamp(&model), "Jan 1 00:00:01");
        assert!(e.text(&model).ends_with("from 10.0.0.9 port 22 ssh2"));
        assert!(model.auth[1].is_password_login());
        assert_eq!(&*model.auth[2].program, "passwd");
        // Files whose events interleave in time are merged by time.
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/var/log/auth.log",
                    Some(b"Jan  1 00:00:02 h sshd[9]: Invalid user a from 10.0.0.1 port 1\nJan  1 00:00:04 h sshd[9]: Invalid user b from 10.0.0.1 port 1\n"),
                ),
                fixture::file(
                    b"/var/log/secure",
                    Some(b"Jan  1 00:00:01 h sshd[9]: Invalid user c from 10.0.0.1 port 1\nJan  1 00:00:03 h sshd[9]: Invalid user d from 10.0.0.1 port 1\nJan  1 00:00:05 h sshd[9]: Invalid user e from 10.0.0.1 port 1\n"),
                ),
            ],
            vec![],
        );
        let users: Vec<&[u8]> = model.auth.iter().map(|e| e.user.as_slice()).collect();
        assert_eq!(users, vec![&b"c"[..], b"a", b"d", b"b", b"e"]);
        // Over the cap, the newest events are kept: the current log's, then the latest of the rotation.
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/var/log/auth.log.1",
                    Some(b"Jan  1 00:00:01 h sshd[9]: Invalid user u1 from 10.0.0.1 port 1\nJan  1 00:00:02 h sshd[9]: Invalid user u2 from 10.0.0.1 port 1\nJan  1 00:00:03 h sshd[9]: Invalid user u3 from 10.0.0.1 port 1\n"),
                ),
                fixture::file(
                    b"/var/log/auth.log",
                    Some(b"Jan  1 00:00:04 h sshd[9]: Invalid user u4 from 10.0.0.1 port 1\nJan  1 00:00:05 h sshd[9]: Invalid user u5 from 10.0.0.1 port 1\n"),
                ),
            ],
            vec![],
        );
        let capped = collect_capped(&model, 3);
        let users: Vec<&[u8]> = capped.iter().map(|e| e.user.as_slice()).collect();
        assert_eq!(users, vec![&b"u3"[..], b"u4", b"u5"]);
    }

    #[test]
    fn journal_events_not_counted_twice_with_secure() {
        let journal: &[u8] = include_bytes!("../../tests/fixtures/journal/sshd.journal");
        let read = crate::parse::journal::read(journal).unwrap();
        let lines: Vec<Vec<u8>> = crate::parse::journal::syslog_lines(&read)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        let secure = |n: usize| -> Vec<u8> {
            lines
                .iter()
                .take(n)
                .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
                .collect()
        };
        let jpath: &[u8] = b"/var/log/journal/0123456789abcdef0123456789abcdef/system.journal";
        let count = |with_secure: Option<usize>| {
            let mut files = vec![fixture::file(jpath, Some(journal))];
            if let Some(n) = with_secure {
                files.push(fixture::file(b"/var/log/secure", Some(&secure(n))));
            }
            let m = fixture::model(files, vec![]);
            let by = |src: &str| m.auth.iter().filter(|e| e.source == src).count();
            (m.auth.len(), by("syslog"), by("journal"))
        };
        let (alone, _, j) = count(None);
        assert!(alone >= 20 && alone == j, "{alone} {j}");
        // Everything in both: each event once (from secure).
        assert_eq!(count(Some(lines.len())), (alone, alone, 0));
        // secure rotated half way: the rest comes from the journal.
        let half = lines.len() / 2;
        let (total, from_secure, from_journal) = count(Some(half));
        assert_eq!(total, alone);
        assert!(
            from_secure > 0 && from_journal > 0,
            "{from_secure} {from_journal}"
        );
    }
}
