//! Persistence entries (`persist:{kind}:{path}:{line}`) from captured cron files, systemd units, rc
//! scripts, shell hooks, `ld.so.preload` and udev rules, and their edges:
//! - entry `references` file / URL (parsed), URL `downloaded_to` file (suspected);
//! - account `owns` entry (observed: the file's owner), entry `runs_as` account (parsed: cron user field);
//! - entry `launches` process: observed when the process sits in the unit's cgroup, suspected when the
//!   process runs the path the entry names.
//!
//! Cron lines and unit `Exec*` lines are always entries; in shell scripts only lines that name a URL, a
//! temp/hidden/home path, a running executable, or that a finding points at.

use std::collections::{HashMap, HashSet};

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use petgraph::graph::NodeIndex;

use crate::graph::build::Ctx;
use crate::graph::network::{add_downloads, url_node};
use crate::graph::nodes::{persist_id, short, Edge, Level, Node, NodeKind, Relation};
use crate::graph::text;
use crate::graph::{AttackGraph, Budget};

/// Lines read from one file.
const MAX_LINES: usize = 10_000;
/// Entries kept over the whole host.
const MAX_ENTRIES: usize = 5_000;
/// Entry text kept on the node.
const TEXT_MAX: usize = 300;

/// How a file's lines are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `/etc/crontab`, `/etc/cron.d/*`: schedule, user, command.
    SystemCrontab,
    /// A user's spool crontab: schedule, command; runs as the named user.
    UserCrontab { user: Vec<u8> },
    /// A systemd unit: `Exec*=` lines.
    Unit,
    /// A shell script or hook: lines that name something interesting.
    Script,
    /// `/etc/ld.so.preload`: one or more library paths per line.
    Preload,
}

/// The persistence kind and line format of a path, or `None` when it is not a persistence location.
pub fn classify(path: &[u8]) -> Option<(&'static str, Format)> {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    let under = |dir: &[u8]| path.starts_with(dir) && path.len() > dir.len();
    if path == b"/etc/crontab" || under(b"/etc/cron.d/") {
        return Some(("cron", Format::SystemCrontab));
    }
    for spool in [&b"/var/spool/cron/crontabs/"[..], b"/var/spool/cron/tabs/"] {
        if under(spool) {
            return Some((
                "cron",
                Format::UserCrontab {
                    user: name.to_vec(),
                },
            ));
        }
    }
    if under(b"/var/spool/cron/atjobs/")
        || under(b"/var/spool/at/")
        || under(b"/var/spool/cron/atspool/")
    {
        return Some(("at", Format::Script));
    }
    if under(b"/var/spool/cron/") && !path.get(16..).unwrap_or_default().contains(&b'/') {
        return Some((
            "cron",
            Format::UserCrontab {
                user: name.to_vec(),
            },
        ));
    }
    if path == b"/etc/anacrontab"
        || [
            &b"/etc/cron.hourly/"[..],
            b"/etc/cron.daily/",
            b"/etc/cron.weekly/",
            b"/etc/cron.monthly/",
        ]
        .iter()
        .any(|d| under(d))
    {
        return Some(("cron", Format::Script));
    }
    if name.ends_with(b".service") && contains(path, b"/systemd/") {
        return Some(("systemd", Format::Unit));
    }
    if path == b"/etc/rc.local"
        || path == b"/etc/inittab"
        || under(b"/etc/init.d/")
        || under(b"/etc/rc.d/")
        || (path.starts_with(b"/etc/rc") && contains(path, b".d/"))
    {
        return Some(("rc", Format::Script));
    }
    if path == b"/etc/ld.so.preload" {
        return Some(("preload", Format::Preload));
    }
    if path == b"/etc/profile"
        || under(b"/etc/profile.d/")
        || path == b"/etc/bash.bashrc"
        || path == b"/etc/bashrc"
        || path == b"/etc/environment"
        || matches!(
            name,
            b".bashrc"
                | b".bash_profile"
                | b".profile"
                | b".bash_logout"
                | b".bash_login"
                | b".zshrc"
        )
    {
        return Some(("profile", Format::Script));
    }
    if under(b"/etc/udev/rules.d/") {
        return Some(("udev", Format::Script));
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A cron schedule field (`*/5`, `1-3`, `mon`, ...).
fn is_schedule_field(f: &[u8]) -> bool {
    !f.is_empty()
        && f.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'/' | b',' | b'-'))
}

/// Splits a crontab line into (schedule, user, command); `None` for comments, variables and junk.
fn cron_fields(line: &[u8], with_user: bool) -> Option<(String, Option<Vec<u8>>, Vec<u8>)> {
    let mut rest = trim(line);
    if rest.is_empty() || rest.starts_with(b"#") {
        return None;
    }
    let take = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        let r = trim(rest);
        let end = r
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(r.len());
        let (tok, after) = r.split_at(end);
        *rest = after;
        (!tok.is_empty()).then(|| tok.to_vec())
    };
    let first = take(&mut rest)?;
    let schedule = if first.starts_with(b"@") {
        first
    } else {
        let mut fields = vec![first];
        for _ in 0..4 {
            fields.push(take(&mut rest)?);
        }
        if !fields.iter().all(|f| is_schedule_field(f)) {
            return None;
        }
        fields.join(&b' ')
    };
    if !schedule.starts_with(b"@")
        && !is_schedule_field(schedule.split(|b| *b == b' ').next().unwrap_or_default())
    {
        return None;
    }
    let user = if with_user {
        Some(take(&mut rest)?)
    } else {
        None
    };
    let command = trim(rest).to_vec();
    if command.is_empty() {
        return None;
    }
    Some((escape_bytes(&schedule), user, command))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// Paths whose mention in a shell hook is worth an entry.
fn interesting_path(path: &[u8]) -> bool {
    let temp = [
        &b"/tmp/"[..],
        b"/var/tmp/",
        b"/dev/shm/",
        b"/run/shm/",
        b"/var/run/",
        b"/home/",
        b"/root/",
        b"~/",
    ];
    temp.iter().any(|p| path.starts_with(p)) || contains(path, b"/.")
}

/// Paths that name a system tool rather than a payload; referenced only when the model knows the file.
fn system_tool(path: &[u8]) -> bool {
    [
        &b"/bin/"[..],
        b"/usr/bin/",
        b"/sbin/",
        b"/usr/sbin/",
        b"/lib/",
        b"/usr/lib/",
        b"/usr/libexec/",
        b"/dev/",
        b"/proc/",
        b"/sys/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// The program a shell line runs directly (`/usr/bin/crondr ...`, `nohup ~/.x/upd &`, `exec /tmp/x`).
fn runs_path(line: &[u8]) -> Option<&[u8]> {
    let mut words = line
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    let mut first = words.next()?;
    if matches!(first, b"exec" | b"nohup" | b"setsid") {
        first = words.next()?;
    }
    (first.starts_with(b"/") || first.starts_with(b"~/")).then_some(first)
}

/// One entry found in a file.
struct Entry {
    kind: &'static str,
    line_no: u32,
    text: Vec<u8>,
    command: Vec<u8>,
    schedule: Option<String>,
    run_as: Option<Vec<u8>>,
}

fn entries(
    f: &FileRecord,
    content: &[u8],
    kind: &'static str,
    format: &Format,
    flagged: &HashSet<(Vec<u8>, u32)>,
    running: &HashSet<&[u8]>,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, raw) in content.split(|b| *b == b'\n').take(MAX_LINES).enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let is_flagged = flagged.contains(&(f.path.as_bytes().to_vec(), line_no));
        let t = trim(line);
        let entry = |command: Vec<u8>, schedule: Option<String>, run_as: Option<Vec<u8>>| Entry {
            kind,
            line_no,
            text: line.to_vec(),
            command,
            schedule,
            run_as,
        };
        match format {
            Format::SystemCrontab | Format::UserCrontab { .. } => {
                let with_user = *format == Format::SystemCrontab;
                if let Some((schedule, user, command)) = cron_fields(line, with_user) {
                    let run_as = match format {
                        Format::UserCrontab { user } => Some(user.clone()),
                        _ => user,
                    };
                    out.push(entry(command, Some(schedule), run_as));
                } else if is_flagged {
                    out.push(entry(t.to_vec(), None, None));
                }
            }
            Format::Unit => {
                let exec = [
                    &b"ExecStart="[..],
                    b"ExecStartPre=",
                    b"ExecStartPost=",
                    b"ExecReload=",
                    b"ExecStop=",
                ]
                .iter()
                .find_map(|k| t.strip_prefix(*k));
                match exec {
                    Some(cmd) => {
                        let cmd = trim(cmd);
                        let cmd = cmd
                            .iter()
                            .position(|b| !matches!(b, b'-' | b'@' | b':' | b'+' | b'!'))
                            .and_then(|s| cmd.get(s..))
                            .unwrap_or_default();
                        out.push(entry(cmd.to_vec(), None, None));
                    }
                    None if is_flagged => out.push(entry(t.to_vec(), None, None)),
                    None => {}
                }
            }
            Format::Preload => {
                if !t.is_empty() && !t.starts_with(b"#") {
                    out.push(entry(t.to_vec(), None, None));
                }
            }
            Format::Script => {
                if t.is_empty() || (t.starts_with(b"#") && !is_flagged) {
                    continue;
                }
                let refs = text::refs(t);
                let keep = is_flagged
                    || !refs.urls.is_empty()
                    || runs_path(t).is_some()
                    || refs
                        .paths
                        .iter()
                        .any(|p| interesting_path(p) || running.contains(p.as_slice()));
                if keep {
                    out.push(entry(t.to_vec(), None, None));
                }
            }
        }
    }
    out
}

/// Adds every persistence entry and its edges.
pub fn add(ctx: &Ctx, g: &mut AttackGraph, flagged: &HashSet<(Vec<u8>, u32)>) {
    // Running processes by exe path and by argv[0], for `launches`.
    let mut by_path: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, p) in ctx.model.processes.iter().enumerate() {
        if let Some(exe) = &p.exe {
            by_path.entry(exe.path.as_bytes()).or_default().push(i);
        }
        if let Some(a0) = p.argv().first().copied() {
            if a0.starts_with(b"/") && p.exe.as_ref().is_none_or(|e| e.path.as_bytes() != a0) {
                by_path.entry(a0).or_default().push(i);
            }
        }
    }
    let running: HashSet<&[u8]> = by_path.keys().copied().collect();
    let mut total = 0usize;
    for f in &ctx.model.files {
        if f.kind != FileKind::Regular {
            continue;
        }
        let Some((kind, format)) = classify(f.path.as_bytes()) else {
            continue;
        };
        let Some(content) = ctx.model.content(f) else {
            continue;
        };
        for e in entries(f, content, kind, &format, flagged, &running) {
            if total >= MAX_ENTRIES {
                g.dropped_nodes += 1;
                return;
            }
            total += 1;
            add_entry(ctx, g, f, &format, &e, &by_path);
        }
    }
}

/// The node for an entry, created with what its line says.
pub fn entry_node(
    g: &mut AttackGraph,
    kind: &str,
    path: &[u8],
    line_no: u32,
    text: &[u8],
    budget: Budget,
) -> Option<NodeIndex> {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    let mut n = Node::new(
        persist_id(kind, path, line_no),
        NodeKind::Persistence,
        String::new(),
    )
    .with_raw_label(name)
    .attr("kind", kind)
    .attr("path", escape_bytes(path))
    .attr("line", line_no.to_string())
    .attr("text", short_front(&escape_bytes(text), TEXT_MAX));
    n.raw_hex = Some(hex::encode(
        text.get(..text.len().min(4096)).unwrap_or_default(),
    ));
    n.label = short(
        &format!("{kind} {}:{line_no}", n.label),
        super::nodes::LABEL_MAX,
    );
    g.add_node(n, budget)
}

/// Keeps the start of long text (a command's beginning says more than its end).
fn short_front(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{cut}...")
}

fn add_entry(
    ctx: &Ctx,
    g: &mut AttackGraph,
    f: &FileRecord,
    format: &Format,
    e: &Entry,
    by_path: &HashMap<&[u8], Vec<usize>>,
) {
    let path = f.path.as_bytes();
    let Some(ei) = entry_node(g, e.kind, path, e.line_no, &e.text, Budget::Host) else {
        return;
    };
    if let Some(n) = g.node_at_mut(ei) {
        if let Some(s) = &e.schedule {
            n.attrs.insert("schedule".into(), s.clone());
        }
        if let Some(u) = &e.run_as {
            n.attrs.insert("run_as".into(), escape_bytes(u));
        }
    }
    let where_ = format!("{}:{}", f.path.escaped(), e.line_no);
    // Who owns the file (observed). Root owning files in /etc says nothing; a user's own crontab does.
    let user_crontab = matches!(format, Format::UserCrontab { .. });
    if f.uid != 0 || user_crontab {
        if let Some(ui) = ctx.accounts.node(g, f.uid, Budget::Host) {
            let ev = format!("{} owned by uid {}", f.path.escaped(), f.uid);
            g.add_edge(
                ui,
                ei,
                Edge::new(Relation::Owns, Level::Observed, "file.owner", ev),
                Budget::Host,
            );
        }
    }
    // Whom the entry runs as (parsed from the line or the spool file name).
    let run_as_uid = e.run_as.as_deref().and_then(|u| ctx.accounts.uid_of(u));
    if let Some(user) = &e.run_as {
        if let Some(ui) = ctx.accounts.node_by_name(g, user, Budget::Host) {
            let rule = if user_crontab {
                "cron.spool_name"
            } else {
                "cron.user_field"
            };
            g.add_edge(
                ei,
                ui,
                Edge::new(Relation::RunsAs, Level::Parsed, rule, where_.clone()),
                Budget::Host,
            );
        }
    }
    let home_uid = run_as_uid.or(Some(f.uid));
    let refs = text::refs(&e.command);
    let mut paths: Vec<Vec<u8>> = refs
        .paths
        .iter()
        .map(|p| ctx.accounts.expand_home(p, home_uid))
        .collect();
    if *format == Format::Preload {
        paths = e
            .command
            .split(|b| b.is_ascii_whitespace() || *b == b':')
            .filter(|p| p.starts_with(b"/"))
            .take(16)
            .map(<[u8]>::to_vec)
            .collect();
    }
    for url in &refs.urls {
        if let Some(ui) = url_node(g, url, Budget::Host) {
            g.add_edge(
                ei,
                ui,
                Edge::new(
                    Relation::References,
                    Level::Parsed,
                    "persist.url",
                    where_.clone(),
                ),
                Budget::Host,
            );
        }
    }
    add_downloads(
        ctx,
        g,
        &refs.downloads,
        &where_,
        "persist.download",
        home_uid,
    );
    let direct: Option<Vec<u8>> = match format {
        Format::Script | Format::Unit | Format::SystemCrontab | Format::UserCrontab { .. } => {
            runs_path(&e.command).map(|p| ctx.accounts.expand_home(p, home_uid))
        }
        Format::Preload => None,
    };
    for p in &paths {
        if system_tool(p) && !ctx.path_known(p) && direct.as_deref() != Some(p.as_slice()) {
            continue;
        }
        if let Some(fi) = ctx.file_path_node(g, p, Budget::Host) {
            let mut edge = Edge::new(
                Relation::References,
                Level::Parsed,
                "persist.path",
                where_.clone(),
            );
            if *format == Format::Preload {
                edge.rule = "preload.path".into();
                edge.attack = Some("T1574.006".into());
            }
            g.add_edge(ei, fi, edge, Budget::Host);
        }
        for &pi in by_path.get(p.as_slice()).into_iter().flatten() {
            let Some(proc_rec) = ctx.model.processes.get(pi) else {
                continue;
            };
            if let Some(pn) = ctx.process_node(g, proc_rec, Budget::Host) {
                let ev = format!(
                    "{where_} names {}, the executable of pid {}",
                    escape_bytes(p),
                    proc_rec.pid
                );
                g.add_edge(
                    ei,
                    pn,
                    Edge::new(Relation::Launches, Level::Suspected, "persist.exe_path", ev),
                    Budget::Host,
                );
            }
        }
    }
    // A unit launches the processes in its cgroup: a kernel fact.
    if *format == Format::Unit {
        let unit = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
        let mut suffix = b"/".to_vec();
        suffix.extend_from_slice(unit);
        for p in &ctx.model.processes {
            if p.cgroups.iter().any(|c| c.as_bytes().ends_with(&suffix)) {
                if let Some(pn) = ctx.process_node(g, p, Budget::Host) {
                    let ev = format!("/proc/{}/cgroup ends with {}", p.pid, escape_bytes(&suffix));
                    g.add_edge(
                        ei,
                        pn,
                        Edge::new(Relation::Launches, Level::Observed, "proc.cgroup_unit", ev),
                        Budget::Host,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_locations() {
        assert_eq!(classify(b"/etc/crontab").map(|c| c.0), Some("cron"));
        assert_eq!(
            classify(b"/var/spool/cron/crontabs/redis"),
            Some((
                "cron",
                Format::UserCrontab {
                    user: b"redis".to_vec()
                }
            ))
        );
        assert_eq!(
            classify(b"/var/spool/cron/root"),
            Some((
                "cron",
                Format::UserCrontab {
                    user: b"root".to_vec()
                }
            ))
        );
        assert_eq!(
            classify(b"/etc/systemd/system/bot.service").map(|c| c.0),
            Some("systemd")
        );
        assert_eq!(
            classify(b"/etc/ld.so.preload").map(|c| c.0),
            Some("preload")
        );
        assert_eq!(classify(b"/home/git/.bashrc").map(|c| c.0), Some("profile"));
        assert_eq!(classify(b"/etc/rc3.d/S90pwnrig").map(|c| c.0), Some("rc"));
        assert_eq!(classify(b"/etc/passwd"), None);
    }

    #[test]
    fn cron_lines() {
        let (s, u, c) = cron_fields(b"*/5 * * * * root /usr/bin/x --y", true).unwrap();
        assert_eq!(
            (s.as_str(), u.unwrap(), c),
            ("*/5 * * * *", b"root".to_vec(), b"/usr/bin/x --y".to_vec())
        );
        let (s, u, c) = cron_fields(b"@reboot ~/.configrc/a/upd>/dev/null", false).unwrap();
        assert_eq!(
            (s.as_str(), u, c),
            ("@reboot", None, b"~/.configrc/a/upd>/dev/null".to_vec())
        );
        assert!(cron_fields(b"SHELL=/bin/sh", true).is_none());
        assert!(cron_fields(b"# m h dom mon dow", false).is_none());
        assert!(cron_fields(b"REDIS0009\xfa\tredis-ver", false).is_none());
    }
}
