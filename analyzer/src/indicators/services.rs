//! What a network service is known by: `service NAME KIND VALUE` lines (`services.txt`, extendable with
//! `--iocs`). One table answers "which service is this process?" (by program name, or by its command line
//! for applications a generic runtime hosts: Confluence and WebLogic in `java`, Jupyter in `python`),
//! "which service writes the logs under this directory?", and "what kind of service is it?" (a web
//! server, an API that starts containers, a container runtime shim, a login service, a scheduler, a
//! generic language runtime). The runtime detectors (a shell spawned by a service) and the entry-point
//! inference read it; neither keeps a list of its own.
//!
//! Matching: `process` values match a program name exactly or followed by digits, `-`, `.` or `:` and
//! more (`php-fpm8.2`, `postgres:`, `redis-server-6379`); `argv` values are case-insensitive substrings of
//! the whole command line, tried before `process` values and in file order (the first service whose
//! `argv` value matches wins, so list specific applications before the runtimes that host them).

/// What a marker says about its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceMarkerKind {
    /// A program name (exe, `comm` or `argv[0]` basename).
    Process,
    /// A substring of the command line.
    Argv,
    /// A directory its own logs are written to (an absolute path ending in `/`).
    Log,
    /// What kind of service it is ([`ServiceClass`]).
    Class,
    /// An argument that opens the service to unauthenticated network clients (`tcp://` for dockerd,
    /// `--anonymous-auth=true` for the kubelet).
    OpenArgv,
}

impl ServiceMarkerKind {
    pub const ALL: &'static [ServiceMarkerKind] = &[
        ServiceMarkerKind::Process,
        ServiceMarkerKind::Argv,
        ServiceMarkerKind::Log,
        ServiceMarkerKind::Class,
        ServiceMarkerKind::OpenArgv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceMarkerKind::Process => "process",
            ServiceMarkerKind::Argv => "argv",
            ServiceMarkerKind::Log => "log",
            ServiceMarkerKind::Class => "class",
            ServiceMarkerKind::OpenArgv => "open_argv",
        }
    }

    pub fn from_name(name: &str) -> Option<ServiceMarkerKind> {
        ServiceMarkerKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
    }
}

/// The kind of a service, which decides what running under it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceClass {
    /// A web server or web application runtime: code it runs came through a web request (entry vector
    /// `web_application`).
    Web,
    /// Starts containers on request (dockerd, the kubelet): exposed, it runs anyone's container.
    Api,
    /// A container runtime's shim: the parent of a container's processes, started through an API or
    /// from an image.
    Runtime,
    /// Opens login sessions (sshd): what runs under it came through a login, not a service exploit.
    Login,
    /// Runs persisted jobs (cron, atd, systemd): what runs under it is persistence, not an entry.
    Scheduler,
    /// A database server: it runs shell commands by design (`archive_command`, `COPY ... FROM PROGRAM`),
    /// so a shell under it is weaker evidence than under a daemon that never runs one.
    Database,
    /// A generic language runtime (java, node, python) whose application is not known.
    Generic,
    /// A CI executor (Jenkins, a GitLab or GitHub runner): it runs the jobs its users push by design,
    /// from job scripts it writes into temp and work directories; a job step is judged by what it does.
    Ci,
}

impl ServiceClass {
    pub const ALL: &'static [ServiceClass] = &[
        ServiceClass::Web,
        ServiceClass::Api,
        ServiceClass::Runtime,
        ServiceClass::Login,
        ServiceClass::Scheduler,
        ServiceClass::Database,
        ServiceClass::Generic,
        ServiceClass::Ci,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceClass::Web => "web",
            ServiceClass::Api => "api",
            ServiceClass::Runtime => "runtime",
            ServiceClass::Login => "login",
            ServiceClass::Scheduler => "scheduler",
            ServiceClass::Database => "database",
            ServiceClass::Generic => "generic",
            ServiceClass::Ci => "ci",
        }
    }

    fn from_name(name: &str) -> Option<ServiceClass> {
        ServiceClass::ALL.iter().copied().find(|c| c.name() == name)
    }
}

/// One service and everything the table says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub processes: Vec<String>,
    /// Lowercase.
    pub argv: Vec<String>,
    pub logs: Vec<String>,
    pub class: Option<ServiceClass>,
    /// Lowercase.
    pub open_argv: Vec<String>,
}

impl Service {
    pub fn is(&self, class: ServiceClass) -> bool {
        self.class == Some(class)
    }
}

/// Every service, in the order its first line was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTable {
    services: Vec<Service>,
}

/// Whether a program name is a `process` value: equal, or the value followed by a digit, `-`, `.` or
/// `:` and anything (`php-fpm8.2`, `postgres: checkpointer`).
pub fn program_matches(name: &str, value: &str) -> bool {
    match name.strip_prefix(value) {
        Some("") => true,
        Some(rest) => rest
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')),
        None => false,
    }
}

impl ServiceTable {
    /// Adds one `service NAME KIND VALUE` line's parts; the reason when the value is malformed.
    pub fn add(&mut self, name: &str, kind: ServiceMarkerKind, value: &str) -> Result<(), String> {
        let lower = value.to_ascii_lowercase();
        let idx = match self.services.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.services.push(Service {
                    name: name.to_owned(),
                    ..Service::default()
                });
                self.services.len() - 1
            }
        };
        let Some(s) = self.services.get_mut(idx) else {
            return Err("internal: service vanished".into());
        };
        match kind {
            ServiceMarkerKind::Process if value.contains(char::is_whitespace) => {
                return Err("a process marker is one program name".into());
            }
            ServiceMarkerKind::Process => s.processes.push(lower),
            ServiceMarkerKind::Argv => s.argv.push(lower),
            ServiceMarkerKind::Log if !(value.starts_with('/') && value.ends_with('/')) => {
                return Err("a log marker is a directory: an absolute path ending in '/'".into());
            }
            ServiceMarkerKind::Log => s.logs.push(value.to_owned()),
            ServiceMarkerKind::Class => {
                let Some(c) = ServiceClass::from_name(&lower) else {
                    let known: Vec<&str> = ServiceClass::ALL.iter().map(|c| c.name()).collect();
                    return Err(format!("a class is one of {}", known.join(", ")));
                };
                s.class = Some(c);
            }
            ServiceMarkerKind::OpenArgv => s.open_argv.push(lower),
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    pub fn by_name(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The service a process is: the first whose `argv` value is in its command line (lowercase), else
    /// the first whose `process` value one of its names (lowercase program names) matches.
    pub fn identify(&self, names: &[&str], cmdline: &str) -> Option<&Service> {
        let by_argv = self
            .services
            .iter()
            .find(|s| s.argv.iter().any(|a| cmdline.contains(a.as_str())));
        by_argv.or_else(|| {
            self.services.iter().find(|s| {
                s.processes
                    .iter()
                    .any(|v| names.iter().any(|n| program_matches(n, v)))
            })
        })
    }

    /// The service whose logs live in the directory holding `path` (the longest `log` prefix wins).
    pub fn writing_log(&self, path: &[u8]) -> Option<&Service> {
        self.services
            .iter()
            .flat_map(|s| s.logs.iter().map(move |l| (s, l)))
            .filter(|(_, l)| path.starts_with(l.as_bytes()))
            .max_by_key(|(_, l)| l.len())
            .map(|(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ServiceTable {
        let mut t = ServiceTable::default();
        for (n, k, v) in [
            ("confluence", ServiceMarkerKind::Argv, "confluence"),
            (
                "tomcat",
                ServiceMarkerKind::Argv,
                "org.apache.catalina.startup.Bootstrap",
            ),
            ("tomcat", ServiceMarkerKind::Class, "web"),
            ("redis", ServiceMarkerKind::Process, "redis-server"),
            ("redis", ServiceMarkerKind::Log, "/var/log/redis/"),
            ("php-fpm", ServiceMarkerKind::Process, "php-fpm"),
            ("java", ServiceMarkerKind::Process, "java"),
            ("java", ServiceMarkerKind::Class, "generic"),
        ] {
            t.add(n, k, v).unwrap();
        }
        t
    }

    #[test]
    fn applications_before_their_runtime() {
        let t = table();
        let confluence = "/opt/atlassian/confluence/jre/bin/java -classpath x org.apache.catalina.startup.bootstrap start -dconfluence.home=/var/atlassian";
        assert_eq!(
            t.identify(&["java"], confluence).unwrap().name,
            "confluence"
        );
        let tomcat =
            "java -dcatalina.base=/var/lib/tomcat9 org.apache.catalina.startup.bootstrap start";
        let s = t.identify(&["java"], tomcat).unwrap();
        assert_eq!((s.name.as_str(), s.is(ServiceClass::Web)), ("tomcat", true));
        assert_eq!(
            t.identify(&["java"], "java -jar app.jar").unwrap().name,
            "java"
        );
        assert_eq!(
            t.identify(&["php-fpm8.2"], "php-fpm: pool www")
                .unwrap()
                .name,
            "php-fpm"
        );
        assert!(t.identify(&["redis-cli"], "redis-cli ping").is_none());
        assert!(t.identify(&["phpfpmx"], "").is_none());
    }

    #[test]
    fn logs_and_malformed_values() {
        let mut t = table();
        assert_eq!(
            t.writing_log(b"/var/log/redis/redis-server.log")
                .unwrap()
                .name,
            "redis"
        );
        assert!(t.writing_log(b"/var/log/redis.log").is_none());
        assert!(t.add("x", ServiceMarkerKind::Log, "/var/log/x").is_err());
        assert!(t.add("x", ServiceMarkerKind::Class, "queue").is_err());
        assert!(t.add("x", ServiceMarkerKind::Process, "two words").is_err());
    }
}
