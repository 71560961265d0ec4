//! Persistence entries (`persist:{kind}:{path}:{line}`) from the model's persistence facts
//! ([`crate::model::persistence`]: cron, at, systemd, rc, start-up files, `ld.so.preload`, modules, udev,
//! sudoers), and their edges:
//! - entry `references` file / URL (parsed), URL `downloaded_to` file (suspected);
//! - account `owns` entry (observed: the file's owner), entry `runs_as` account (parsed: cron user field,
//!   spool name, unit `User=`);
//! - entry `launches` process: observed when the process sits in the unit's cgroup, suspected when the
//!   process runs the path the entry names.
//!
//! Cron jobs, unit commands and timers and preload lines are always drawn; shell-text lines (rc, start-up
//! files, cron scripts, at jobs, udev, modules, sudoers) only when they name a URL, a temp/hidden/home
//! path, a running executable, or a finding points at them.

use std::collections::{HashMap, HashSet};

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::file::FileRecord;
use petgraph::graph::NodeIndex;

use crate::graph::ctx::Ctx;
use crate::graph::network::{add_downloads, url_node};
use crate::graph::nodes::{persist_id, short, Edge, Level, Node, NodeKind, Relation};
use crate::graph::processes;
use crate::graph::{AttackGraph, Budget};
use crate::indicators::PathClass;
use crate::model::persistence::{self, Format, PersistenceEntry, RunAsSource};

/// Entries drawn over the whole host.
const MAX_ENTRIES: usize = 5_000;
/// Entry text kept on the node.
const TEXT_MAX: usize = 300;

/// The node kind of a path's entries (`cron`, `systemd`, ...; `other` outside the persistence locations).
pub fn kind_of(path: &[u8]) -> &'static str {
    persistence::location(path).map_or("other", |l| l.kind.family())
}

/// Paths whose mention in shell text is worth an entry: temp, home or hidden places.
fn interesting_path(ctx: &Ctx, path: &[u8]) -> bool {
    let c = ctx.paths;
    c.is(PathClass::Temp, path) || c.is(PathClass::Home, path) || c.is(PathClass::Hidden, path)
}

/// Paths that name a system tool rather than a payload; referenced only when the model knows the file.
fn system_tool(ctx: &Ctx, path: &[u8]) -> bool {
    ctx.paths.is(PathClass::System, path) || ctx.paths.is(PathClass::Pseudo, path)
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

/// Whether an entry is drawn.
fn drawn(ctx: &Ctx, e: &PersistenceEntry, flagged: bool, running: &HashSet<&[u8]>) -> bool {
    match e.format {
        Format::Crontab(_) => e.runs || flagged,
        Format::Unit | Format::Preload => true,
        _ => {
            flagged
                || !e.refs.urls.is_empty()
                || runs_path(&e.command).is_some()
                || e.refs
                    .paths
                    .iter()
                    .any(|p| interesting_path(ctx, p) || running.contains(p.as_slice()))
        }
    }
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
    for e in &ctx.model.persistence {
        let is_flagged = flagged.contains(&(e.path.as_bytes().to_vec(), e.line));
        if !drawn(ctx, e, is_flagged, &running) {
            continue;
        }
        let Some(f) = ctx.model.entry_file(e) else {
            continue;
        };
        if total >= MAX_ENTRIES {
            g.dropped_nodes += 1;
            return;
        }
        total += 1;
        add_entry(ctx, g, f, e, &by_path);
    }
}

/// The text a node shows for an entry: the line as written (trimmed for shell text).
fn node_text(e: &PersistenceEntry) -> &[u8] {
    match e.format {
        Format::Crontab(_) | Format::Unit => &e.raw,
        _ => e.raw.trim_ascii(),
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
    e: &PersistenceEntry,
    by_path: &HashMap<&[u8], Vec<usize>>,
) {
    let path = f.path.as_bytes();
    let kind = e.kind.family();
    let Some(ei) = entry_node(g, kind, path, e.line, node_text(e), Budget::Host) else {
        return;
    };
    if let Some(n) = g.node_at_mut(ei) {
        if let Some(s) = &e.schedule {
            n.attrs.insert("schedule".into(), s.display());
        }
        if let Some(u) = &e.run_as {
            n.attrs.insert("run_as".into(), escape_bytes(u));
        }
    }
    let where_ = format!("{}:{}", f.path.escaped(), e.line);
    account_edges(ctx, g, f, e, ei, &where_);
    reference_edges(ctx, g, f, e, ei, &where_, by_path);
    if e.format == Format::Unit {
        cgroup_edges(ctx, g, path, ei);
    }
}

/// Who owns the entry's file (observed) and whom it runs as (parsed).
fn account_edges(
    ctx: &Ctx,
    g: &mut AttackGraph,
    f: &FileRecord,
    e: &PersistenceEntry,
    ei: NodeIndex,
    where_: &str,
) {
    // Who owns the file (observed). Root owning files in /etc says nothing; a user's own crontab does.
    let user_crontab = e.run_as_source == Some(RunAsSource::SpoolName);
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
    // Whom the entry runs as (parsed from the line, the spool file name or the unit). A system unit runs
    // as root unless it says otherwise: `User=root` says nothing.
    let default_root = e.run_as_source == Some(RunAsSource::UnitUser)
        && e.run_as
            .as_deref()
            .is_some_and(|u| u == b"root" || u == b"0");
    if let (Some(user), Some(source), false) = (&e.run_as, e.run_as_source, default_root) {
        if let Some(ui) = ctx.accounts.node_by_name(g, user, Budget::Host) {
            let rule = match source {
                RunAsSource::SpoolName => "cron.spool_name",
                RunAsSource::CronUserField => "cron.user_field",
                RunAsSource::UnitUser => "unit.user",
            };
            g.add_edge(
                ei,
                ui,
                Edge::new(Relation::RunsAs, Level::Parsed, rule, where_.to_owned()),
                Budget::Host,
            );
        }
    }
}

/// What the entry's command names: URLs, downloads, files and the running processes of those files.
fn reference_edges(
    ctx: &Ctx,
    g: &mut AttackGraph,
    f: &FileRecord,
    e: &PersistenceEntry,
    ei: NodeIndex,
    where_: &str,
    by_path: &HashMap<&[u8], Vec<usize>>,
) {
    let home_uid = e.home_uid(&ctx.model.accounts, f.uid);
    let accounts = &ctx.model.accounts;
    let paths: Vec<Vec<u8>> = e
        .refs
        .paths
        .iter()
        .map(|p| accounts.expand_home(p, home_uid))
        .collect();
    for url in &e.refs.urls {
        if let Some(ui) = url_node(g, url, Budget::Host) {
            g.add_edge(
                ei,
                ui,
                Edge::new(
                    Relation::References,
                    Level::Parsed,
                    "persist.url",
                    where_.to_owned(),
                ),
                Budget::Host,
            );
        }
    }
    add_downloads(
        ctx,
        g,
        &e.refs.downloads,
        where_,
        "persist.download",
        home_uid,
    );
    let preload = e.format == Format::Preload;
    let direct: Option<Vec<u8>> = (!preload)
        .then(|| runs_path(&e.command).map(|p| accounts.expand_home(p, home_uid)))
        .flatten();
    for p in &paths {
        if system_tool(ctx, p) && !ctx.path_known(p) && direct.as_deref() != Some(p.as_slice()) {
            continue;
        }
        if let Some(fi) = ctx.file_path_node(g, p, Budget::Host) {
            let mut edge = Edge::new(
                Relation::References,
                Level::Parsed,
                "persist.path",
                where_.to_owned(),
            );
            if preload {
                edge.rule = "preload.path".into();
                edge.attack = Some("T1574.006".into());
            }
            g.add_edge(ei, fi, edge, Budget::Host);
        }
        for &pi in by_path.get(p.as_slice()).into_iter().flatten() {
            let Some(proc_rec) = ctx.model.processes.get(pi) else {
                continue;
            };
            if let Some(pn) = processes::node(ctx, g, proc_rec, Budget::Host) {
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
}

/// A unit launches the processes in its cgroup: a kernel fact.
fn cgroup_edges(ctx: &Ctx, g: &mut AttackGraph, path: &[u8], ei: NodeIndex) {
    let unit = persistence::unit_name(path);
    let mut suffix = b"/".to_vec();
    suffix.extend_from_slice(unit);
    for p in &ctx.model.processes {
        if p.cgroups.iter().any(|c| c.as_bytes().ends_with(&suffix)) {
            if let Some(pn) = processes::node(ctx, g, p, Budget::Host) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_kinds_follow_the_model_locations() {
        assert_eq!(kind_of(b"/etc/crontab"), "cron");
        assert_eq!(kind_of(b"/etc/anacrontab"), "cron");
        assert_eq!(kind_of(b"/etc/cron.daily/x"), "cron");
        assert_eq!(kind_of(b"/etc/systemd/system/bot.service"), "systemd");
        assert_eq!(kind_of(b"/home/git/.bashrc"), "profile");
        assert_eq!(kind_of(b"/etc/passwd"), "other");
    }

    #[test]
    fn direct_programs() {
        assert_eq!(runs_path(b"nohup ~/.x/upd &"), Some(&b"~/.x/upd"[..]));
        assert_eq!(runs_path(b"exec /tmp/x -c"), Some(&b"/tmp/x"[..]));
        assert_eq!(runs_path(b"curl http://x"), None);
    }
}
