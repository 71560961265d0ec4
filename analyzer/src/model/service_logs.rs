//! What network services logged about their clients ([`HostModel::service_logs`]): the lines of the
//! captured logs under `/var/log` whose format [`crate::parse::service_log::sniff`] recognises (Redis,
//! web access logs, PostgreSQL), in file order, the lines that matter to how an attacker got in. Read by
//! the service-log detectors and the entry-point inference; neither opens a log itself.
//!
//! Auth logs and journals have their own fact ([`super::auth`]); a log in another format is skipped.

use std::sync::Arc;

use minetrace_schemas::records::file::FileKind;

use super::HostModel;
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

/// Whether a captured file is read as a service log: a regular file under `/var/log/` that is not an
/// auth log or a journal.
fn candidate(path: &[u8]) -> bool {
    let name = crate::parse::basename(path);
    path.starts_with(b"/var/log/")
        && !super::auth::is_auth_log(path)
        && !name.ends_with(b".journal")
        && !name.ends_with(b".journal~")
}

pub fn collect(model: &HostModel) -> Vec<ServiceLogLine> {
    let mut out = Vec::new();
    for f in model
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Regular && candidate(f.path.as_bytes()))
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
        assert!(matches!(&l.log.event, LogEvent::RedisModuleLoaded { name, .. } if name == "system"));
        assert_eq!(l.location(), "/var/log/app/custom-redis.log:1");
    }
}
