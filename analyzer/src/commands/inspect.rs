//! `minetrace inspect BUNDLE VIEW`: look at what was collected, as a table or as JSON.
//!
//! Every view is a projection of the host model; host bytes are escaped in tables and kept exact in JSON.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use minetrace_schemas::findings::Subject;
use minetrace_schemas::inspect::{
    ChainView, InspectDocument, InspectView, KnownHostView, LineView, PersistenceEntryView,
    ProcessView, RulesetView, SshKeyView, SshdSettingView, TableView, TimelineEventView,
    INSPECT_SCHEMA,
};
use minetrace_schemas::manifest::format_unix_secs;
use minetrace_schemas::records::command::CommandRecord;
use minetrace_schemas::records::executable::CopyStatus;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::{escape_bytes, RawBytes};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::exit::Status;
use crate::graph::Trace;
use crate::load;
use crate::model::firewall::Origin;
use crate::model::HostModel;
use crate::output::iso_us;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    /// The process table with executable hashes.
    Processes,
    /// Sockets with the pids that hold them.
    Sockets,
    /// Distinct running executables, hashes and whether they were copied.
    Executables,
    /// Every file record (metadata of collected files, links and listings).
    Files,
    /// Every persisted line: cron, at, systemd, rc, loader, shell start-up, modules, udev, sudoers.
    Persistence,
    /// Authorized keys with fingerprints, sshd's settings in force, known hosts.
    Ssh,
    /// Firewall rules per capture, table and chain; saved rule files.
    Firewall,
    /// Host state and the collection log (per-artifact counts, timings and errors).
    Host,
    /// The merged timeline (processes, files, logins, collection), filterable with --from/--to.
    Timeline,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The bundle (.tar.zst) written by minetrace-collect.
    pub bundle: PathBuf,
    /// What to show.
    #[arg(value_enum)]
    pub view: View,
    /// Print JSON (host bytes exact: strings when UTF-8, {"hex": ...} otherwise; JSON Schema in
    /// schemas/json/inspect.schema.json) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Timeline: only events at or after this time (2026-03-01, 2026-03-01T12:00:00Z or Unix seconds).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<i64>,
    /// Timeline: only events at or before this time (same forms as --from; a date means its end).
    #[arg(long, value_name = "TIME", value_parser = parse_time_end)]
    pub to: Option<i64>,
    /// Persistence: only the entries a finding names (the analysis runs first), and the files that
    /// hold them or that a finding names.
    #[arg(long)]
    pub suspicious: bool,
    /// Inspect a bundle that fails verification anyway.
    #[arg(long)]
    pub allow_tampered: bool,
}

/// File categories each view lists; the collector's `files` modules name them.
const PERSISTENCE: &[&str] = &[
    "cron", "at", "systemd", "startup", "loader", "shell", "udev", "modules",
];
const SSH: &[&str] = &["ssh"];
const FIREWALL: &[&str] = &["firewall"];

/// Microseconds since the epoch of `2026-03-01`, `2026-03-01T12:00:00Z` (RFC 3339) or Unix seconds.
fn parse_time_at(text: &str, end_of_day: bool) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return secs
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("{text}: out of range"));
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return i64::try_from(t.unix_timestamp_nanos() / 1000).map_err(|e| format!("{text}: {e}"));
    }
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        format!("{text}: not a time (expected 2026-03-01, 2026-03-01T12:00:00Z or Unix seconds)")
    })?;
    let start = date.midnight().assume_utc().unix_timestamp() * 1_000_000;
    Ok(if end_of_day {
        start + 86_400 * 1_000_000 - 1
    } else {
        start
    })
}

fn parse_time(text: &str) -> Result<i64, String> {
    parse_time_at(text, false)
}

fn parse_time_end(text: &str) -> Result<i64, String> {
    parse_time_at(text, true)
}

pub fn exec(args: &InspectArgs, out: &mut dyn Write) -> Result<Status> {
    if (args.from.is_some() || args.to.is_some()) && args.view != View::Timeline {
        anyhow::bail!("--from and --to apply to the timeline view only");
    }
    if args.suspicious && args.view != View::Persistence {
        anyhow::bail!("--suspicious applies to the persistence view only");
    }
    let (model, problems) = load::model(&args.bundle, args.allow_tampered)?;
    if !problems.is_empty() {
        eprintln!(
            "minetrace: warning: bundle failed verification ({} problems); showing it anyway",
            problems.len()
        );
    }
    if args.suspicious {
        let inputs = crate::commands::analyze::inputs(&[], None, args.allow_tampered)?;
        let analysis = crate::analysis::Analysis::of_model(
            model,
            &inputs,
            problems.iter().map(ToString::to_string).collect(),
        );
        let view = suspicious_persistence(&analysis);
        if args.json {
            return json_out(&document(&analysis.model, view), out).map(|()| Status::Ok);
        }
        if let InspectView::Persistence { entries, files } = &view {
            if entries.is_empty() && files.is_empty() {
                writeln!(
                    out,
                    "no persistence entry or file is named by a finding ({} in this bundle)",
                    crate::output::incidents::plural(
                        analysis.document.findings.len(),
                        "finding",
                        "findings"
                    )
                )?;
            } else {
                persistence(entries, files, out)?;
            }
        }
        return Ok(Status::Ok);
    }
    if args.view == View::Timeline {
        let inputs = crate::commands::analyze::inputs(&[], None, args.allow_tampered)?;
        let analysis = crate::analysis::Analysis::of_model(
            model,
            &inputs,
            problems.iter().map(ToString::to_string).collect(),
        );
        timeline(&analysis, args.from, args.to, args.json, out)?;
        return Ok(Status::Ok);
    }
    let view = match args.view {
        View::Processes => InspectView::Processes {
            processes: process_views(&model),
        },
        View::Sockets => InspectView::Sockets {
            sockets: model.sockets.clone(),
        },
        View::Executables => InspectView::Executables {
            executables: model.executables.clone(),
        },
        View::Files => InspectView::Files {
            files: model.files.clone(),
        },
        View::Persistence => persistence_view(&model),
        View::Ssh => ssh_view(&model),
        View::Firewall => firewall_view(&model),
        View::Host => InspectView::Host {
            host: Box::new(model.host.clone()),
            manifest: Box::new(model.manifest.clone()),
            warnings: model.warnings.clone(),
        },
        View::Timeline => return Ok(Status::Ok),
    };
    if args.json {
        return json_out(&document(&model, view), out).map(|()| Status::Ok);
    }
    match &view {
        InspectView::Processes { processes: p } => processes(p, out)?,
        InspectView::Sockets { .. } => sockets(&model, out)?,
        InspectView::Executables { .. } => executables(&model, out)?,
        InspectView::Files { files: f } => files_table(f.iter(), out)?,
        InspectView::Persistence { entries, files } => persistence(entries, files, out)?,
        InspectView::Ssh {
            keys,
            invalid_key_lines,
            known_hosts,
            sshd,
            files,
        } => ssh(keys, invalid_key_lines, known_hosts, sshd, files, out)?,
        InspectView::Firewall {
            rulesets,
            commands,
            files,
        } => firewall(rulesets, commands, files, out)?,
        InspectView::Host { .. } => host(&model, out)?,
        InspectView::Timeline { .. } => {}
    }
    Ok(Status::Ok)
}

fn document(model: &HostModel, view: InspectView) -> InspectDocument {
    InspectDocument {
        schema: INSPECT_SCHEMA.into(),
        bundle_sha256: model.bundle_sha256.clone(),
        hostname: model.host.identity.hostname.clone(),
        view,
    }
}

fn json_out<T: Serialize>(value: &T, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

fn process_views(model: &HostModel) -> Vec<ProcessView> {
    model
        .processes
        .iter()
        .map(|p| ProcessView {
            pid: p.pid,
            ppid: p.ppid,
            start_ticks: p.start_ticks,
            started: model.start_unix(p).map(format_unix_secs),
            uid: p.uid.real,
            euid: p.uid.effective,
            comm: p.comm.clone(),
            argv: p.argv().into_iter().map(RawBytes::from).collect(),
            exe: p.exe.as_ref().map(|e| e.path.clone()),
            exe_deleted: p.exe.as_ref().is_some_and(|e| e.deleted),
            exe_memfd: p.exe.as_ref().is_some_and(|e| e.memfd),
            exe_sha256: model.executable_of(p).and_then(|e| e.sha256.clone()),
            state: p.state.clone(),
            threads: p.threads,
            cpu_ticks: p.utime_ticks.saturating_add(p.stime_ticks),
        })
        .collect()
}

fn processes(views: &[ProcessView], out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{:>7} {:>7} {:>6} {:1} {:3} {:12} COMMAND",
        "PID", "PPID", "UID", "S", "EXE", "SHA256"
    )?;
    for v in views {
        let flags = format!(
            "{}{}",
            if v.exe_deleted { "D" } else { "" },
            if v.exe_memfd { "M" } else { "" }
        );
        let sha = v
            .exe_sha256
            .as_deref()
            .map(|s| s.get(..12).unwrap_or(s))
            .unwrap_or("-");
        let cmd = if v.argv.is_empty() {
            format!("[{}]", v.comm.escaped())
        } else {
            v.argv
                .iter()
                .map(RawBytes::escaped)
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(
            out,
            "{:>7} {:>7} {:>6} {:1} {:3} {:12} {}",
            v.pid,
            v.ppid,
            v.uid,
            escape_bytes(v.state.as_bytes()),
            flags,
            sha,
            cmd
        )?;
    }
    writeln!(
        out,
        "{} processes (EXE flags: D deleted, M memfd)",
        views.len()
    )?;
    Ok(())
}

fn sockets(model: &HostModel, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{:6} {:12} {:46} {:46} PIDS",
        "PROTO", "STATE", "LOCAL", "REMOTE"
    )?;
    for s in &model.sockets {
        let local = match &s.unix_path {
            Some(p) => p.escaped(),
            None => escape_bytes(s.local.as_bytes()),
        };
        let pids: Vec<String> = s
            .pids
            .iter()
            .map(|pid| {
                let name = model
                    .process(*pid)
                    .map(|p| p.comm.escaped())
                    .unwrap_or_else(|| "?".into());
                format!("{pid}/{name}")
            })
            .collect();
        writeln!(
            out,
            "{:6} {:12} {:46} {:46} {}",
            s.proto.name(),
            escape_bytes(s.state.as_bytes()),
            local,
            escape_bytes(s.remote.as_bytes()),
            pids.join(",")
        )?;
    }
    writeln!(out, "{} sockets", model.sockets.len())?;
    Ok(())
}

fn executables(model: &HostModel, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{:64} {:>10} {:6} {:8} PATH",
        "SHA256", "SIZE", "FLAGS", "COPIED"
    )?;
    for e in &model.executables {
        let flags = format!(
            "{}{}",
            if e.deleted { "D" } else { "" },
            if e.memfd { "M" } else { "" }
        );
        let copied = match &e.copy {
            CopyStatus::Copied { .. } => "yes",
            CopyStatus::Skipped { .. } => "skipped",
            CopyStatus::NotNeeded => "-",
        };
        writeln!(
            out,
            "{:64} {:>10} {:6} {:8} {}",
            e.sha256.as_deref().unwrap_or("(unreadable)"),
            e.size,
            flags,
            copied,
            e.path.escaped()
        )?;
    }
    writeln!(out, "{} executables", model.executables.len())?;
    Ok(())
}

fn kind_letter(kind: FileKind) -> char {
    match kind {
        FileKind::Regular => '-',
        FileKind::Directory => 'd',
        FileKind::Symlink => 'l',
        FileKind::Fifo => 'p',
        FileKind::Socket => 's',
        FileKind::CharDevice => 'c',
        FileKind::BlockDevice => 'b',
        FileKind::Unknown => '?',
    }
}

/// File records as `ls -l`-like rows, with the collector's error or skip reason.
fn files_table<'a>(files: impl Iterator<Item = &'a FileRecord>, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{:1}{:>6} {:>6} {:>6} {:>10} {:2} {:20} {:10} PATH",
        "T", "MODE", "UID", "GID", "SIZE", "IA", "MTIME", "CATEGORY"
    )?;
    let mut n = 0usize;
    for f in files {
        n += 1;
        let flags = format!(
            "{}{}",
            if f.immutable { "i" } else { "-" },
            if f.append_only { "a" } else { "-" }
        );
        let mut line = format!(
            "{}{:>6o} {:>6} {:>6} {:>10} {:2} {:20} {:10} {}",
            kind_letter(f.kind),
            f.mode & 0o7777,
            f.uid,
            f.gid,
            f.size,
            flags,
            format_unix_secs(f.mtime.secs),
            escape_bytes(f.category.as_bytes()),
            f.path.escaped()
        );
        if let Some(t) = &f.link_target {
            line.push_str(&format!(" -> {}", t.escaped()));
        }
        if let Some(e) = &f.error {
            line.push_str(&format!("  [{}]", escape_bytes(e.as_bytes())));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{n} files")?;
    Ok(())
}

/// Files of the given collector categories.
fn files_of(model: &HostModel, categories: &[&str]) -> Vec<FileRecord> {
    model
        .files
        .iter()
        .filter(|f| categories.contains(&f.category.as_str()))
        .cloned()
        .collect()
}

fn persistence_view(model: &HostModel) -> InspectView {
    let entries = model
        .persistence
        .iter()
        .map(|e| PersistenceEntryView {
            kind: e.kind.name().to_owned(),
            path: e.path.clone(),
            line: e.line,
            schedule: e.schedule.as_ref().map(|s| s.display()),
            run_as: e.run_as.as_deref().map(RawBytes::from),
            command: RawBytes::from(e.command.as_slice()),
            runs: e.runs,
            urls: e
                .refs
                .urls
                .iter()
                .map(|u| RawBytes::from(u.as_slice()))
                .collect(),
            paths: e
                .refs
                .paths
                .iter()
                .map(|p| RawBytes::from(p.as_slice()))
                .collect(),
            raw: RawBytes::from(e.raw.as_slice()),
        })
        .collect();
    InspectView::Persistence {
        entries,
        files: files_of(model, PERSISTENCE),
    }
}

/// The persistence view cut to what the findings name: entries a finding names as `persistence
/// PATH:LINE`, files that hold one of those or that a finding names.
fn suspicious_persistence(analysis: &crate::analysis::Analysis) -> InspectView {
    let mut lines: HashSet<(&[u8], u32)> = HashSet::new();
    let mut paths: HashSet<&[u8]> = HashSet::new();
    for s in analysis
        .document
        .findings
        .iter()
        .flat_map(|f| f.iter_subjects())
    {
        match s {
            Subject::Persistence { path, line } => {
                lines.insert((path.as_bytes(), *line));
                paths.insert(path.as_bytes());
            }
            Subject::File { path, .. } => {
                paths.insert(path.as_bytes());
            }
            _ => {}
        }
    }
    match persistence_view(&analysis.model) {
        InspectView::Persistence { entries, files } => InspectView::Persistence {
            entries: entries
                .into_iter()
                .filter(|e| lines.contains(&(e.path.as_bytes(), e.line)))
                .collect(),
            files: files
                .into_iter()
                .filter(|f| paths.contains(f.path.as_bytes()))
                .collect(),
        },
        other => other,
    }
}

fn persistence(
    entries: &[PersistenceEntryView],
    files: &[FileRecord],
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "{:12} {:44} {:16} {:10} COMMAND",
        "KIND", "WHERE", "SCHEDULE", "RUN AS"
    )?;
    for e in entries {
        writeln!(
            out,
            "{:12} {:44} {:16} {:10} {}{}",
            e.kind,
            format!("{}:{}", e.path.escaped(), e.line),
            e.schedule
                .as_deref()
                .map(escape_visible)
                .unwrap_or_else(|| "-".into()),
            e.run_as
                .as_ref()
                .map(RawBytes::escaped)
                .unwrap_or_else(|| "-".into()),
            e.command.escaped(),
            if e.runs {
                ""
            } else {
                "  [not run: rejected by its mechanism]"
            }
        )?;
    }
    writeln!(
        out,
        "{} entries in {} files\n\nfiles:",
        entries.len(),
        files.len()
    )?;
    files_table(files.iter(), out)
}

fn ssh_view(model: &HostModel) -> InspectView {
    let path_of = |i: usize| {
        model
            .files
            .get(i)
            .map(|f| f.path.clone())
            .unwrap_or_else(|| RawBytes::from(&b""[..]))
    };
    let keys = model
        .ssh
        .keys
        .iter()
        .map(|k| {
            let path = path_of(k.file);
            let owner = model
                .accounts
                .owner_of_path(path.as_bytes())
                .map(|a| RawBytes::from(a.name.as_slice()));
            SshKeyView {
                owner,
                line: k.key.line,
                key_type: k.key.key_type.clone(),
                algorithm: k.key.algorithm(),
                bits: k.key.bits(),
                fingerprint: k.key.fingerprint.clone(),
                comment: RawBytes::from(k.key.comment.as_slice()),
                options: k.key.options.as_deref().map(RawBytes::from),
                path,
            }
        })
        .collect();
    let invalid_key_lines = model
        .ssh
        .invalid
        .iter()
        .map(|l| LineView {
            path: path_of(l.file),
            line: l.line,
            text: RawBytes::from(l.raw.as_slice()),
        })
        .collect();
    let known_hosts = model
        .ssh
        .known_hosts
        .iter()
        .map(|k| KnownHostView {
            path: path_of(k.file),
            line: k.host.line,
            marker: k.host.marker.as_deref().map(RawBytes::from),
            hosts: RawBytes::from(k.host.hosts.as_slice()),
            hashed: k.host.hashed,
            key_type: k.host.key_type.clone(),
            fingerprint: k.host.fingerprint.clone(),
        })
        .collect();
    let sshd = model
        .ssh
        .sshd
        .iter()
        .map(|d| SshdSettingView {
            keyword: d.keyword.clone(),
            args: d
                .args
                .iter()
                .map(|a| RawBytes::from(a.as_slice()))
                .collect(),
            path: RawBytes::from(d.path.as_slice()),
            line: d.line,
            in_match: d.in_match,
            in_force: model
                .ssh
                .sshd_effective(&d.keyword)
                .is_some_and(|e| std::ptr::eq(e, d)),
        })
        .collect();
    InspectView::Ssh {
        keys,
        invalid_key_lines,
        known_hosts,
        sshd,
        files: files_of(model, SSH),
    }
}

fn ssh(
    keys: &[SshKeyView],
    invalid: &[LineView],
    known_hosts: &[KnownHostView],
    sshd: &[SshdSettingView],
    files: &[FileRecord],
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(out, "authorized keys ({}):", keys.len())?;
    for k in keys {
        // As `ssh-keygen -l` prints a key: bits, fingerprint, comment, (algorithm).
        writeln!(
            out,
            "  {}:{}{}\n    {} {} {} ({}){}",
            k.path.escaped(),
            k.line,
            k.owner
                .as_ref()
                .map(|o| format!(" [account {}]", o.escaped()))
                .unwrap_or_default(),
            k.bits.map_or_else(|| "?".to_owned(), |b| b.to_string()),
            escape_visible(&k.fingerprint),
            if k.comment.as_bytes().is_empty() {
                "no comment".to_owned()
            } else {
                k.comment.escaped()
            },
            escape_visible(&k.algorithm),
            k.options
                .as_ref()
                .map(|o| format!("\n    options: {}", o.escaped()))
                .unwrap_or_default()
        )?;
    }
    for l in invalid {
        writeln!(
            out,
            "  {}:{}  not a key sshd accepts: {}",
            l.path.escaped(),
            l.line,
            l.text.escaped()
        )?;
    }
    writeln!(
        out,
        "\nsshd settings ({} lines read, includes expanded; * = in force):",
        sshd.len()
    )?;
    for d in sshd {
        writeln!(
            out,
            "  {} {} {}  ({}:{}{})",
            if d.in_force { "*" } else { " " },
            escape_visible(&d.keyword),
            d.args
                .iter()
                .map(RawBytes::escaped)
                .collect::<Vec<_>>()
                .join(" "),
            d.path.escaped(),
            d.line,
            d.in_match
                .map(|m| format!(", in the Match block of line {m}"))
                .unwrap_or_default()
        )?;
    }
    writeln!(out, "\nknown hosts ({}):", known_hosts.len())?;
    for h in known_hosts {
        writeln!(
            out,
            "  {}:{}  {}{} {} {}",
            h.path.escaped(),
            h.line,
            h.marker
                .as_ref()
                .map(|m| format!("{} ", m.escaped()))
                .unwrap_or_default(),
            if h.hashed {
                "(hashed host name)".to_owned()
            } else {
                h.hosts.escaped()
            },
            escape_visible(&h.key_type),
            escape_visible(&h.fingerprint)
        )?;
    }
    writeln!(out, "\nfiles:")?;
    files_table(files.iter(), out)
}

fn firewall_view(model: &HostModel) -> InspectView {
    let rulesets = model
        .firewall
        .iter()
        .map(|set| {
            let mut tables: Vec<TableView> = Vec::new();
            for r in &set.rules {
                let table = match tables.iter().position(|t| t.name == r.table) {
                    Some(i) => i,
                    None => {
                        tables.push(TableView {
                            name: r.table.clone(),
                            chains: Vec::new(),
                        });
                        tables.len() - 1
                    }
                };
                let Some(t) = tables.get_mut(table) else {
                    continue;
                };
                let chain = match t.chains.iter().position(|c| c.name.as_bytes() == r.chain) {
                    Some(i) => i,
                    None => {
                        t.chains.push(ChainView {
                            name: RawBytes::from(r.chain.as_slice()),
                            rules: Vec::new(),
                        });
                        t.chains.len() - 1
                    }
                };
                if let Some(c) = t.chains.get_mut(chain) {
                    c.rules.push(LineView {
                        path: RawBytes::from(set.origin_text(model).as_bytes()),
                        line: r.line,
                        text: RawBytes::from(r.raw.as_slice()),
                    });
                }
            }
            RulesetView {
                origin: match &set.origin {
                    Origin::Capture(name) => RawBytes::from(name.as_bytes()),
                    Origin::File(i) => model
                        .files
                        .get(*i)
                        .map(|f| f.path.clone())
                        .unwrap_or_else(|| RawBytes::from(&b""[..])),
                },
                tables,
            }
        })
        .collect();
    InspectView::Firewall {
        rulesets,
        commands: model.commands.clone(),
        files: files_of(model, FIREWALL),
    }
}

fn firewall(
    rulesets: &[RulesetView],
    commands: &[CommandRecord],
    files: &[FileRecord],
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(out, "captures:")?;
    for c in commands {
        writeln!(
            out,
            "  {} ({}; exit {}{}; tool sha256 {}){}",
            escape_bytes(c.name.as_bytes()),
            c.tool_path
                .as_ref()
                .map(RawBytes::escaped)
                .unwrap_or_else(|| "not found".into()),
            c.exit_code
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            if c.timed_out { ", timed out" } else { "" },
            escape_visible(c.tool_sha256.as_deref().unwrap_or("-")),
            c.error
                .as_deref()
                .map(|e| format!(": {}", escape_bytes(e.as_bytes())))
                .unwrap_or_default()
        )?;
    }
    for set in rulesets {
        writeln!(out, "\n== {}", set.origin.escaped())?;
        if set.tables.is_empty() {
            writeln!(out, "  (no rules)")?;
        }
        for t in &set.tables {
            writeln!(out, "  table {}", escape_visible(&t.name))?;
            for c in &t.chains {
                writeln!(
                    out,
                    "    chain {} ({} rules)",
                    c.name.escaped(),
                    c.rules.len()
                )?;
                for r in &c.rules {
                    writeln!(out, "      {:>4}: {}", r.line, r.text.escaped())?;
                }
            }
        }
    }
    writeln!(out, "\nfiles:")?;
    files_table(files.iter(), out)
}

fn host(model: &HostModel, out: &mut dyn Write) -> Result<()> {
    let h = &model.host;
    let e = |s: &str| escape_bytes(s.as_bytes());
    let m = &model.manifest;
    writeln!(out, "hostname   {}", e(&h.identity.hostname))?;
    writeln!(out, "machine id {}", e(&h.identity.machine_id))?;
    writeln!(out, "kernel     {}", e(&h.identity.kernel))?;
    writeln!(out, "boot id    {}", e(&h.identity.boot_id))?;
    writeln!(out, "booted     {}", format_unix_secs(h.boot_time_unix))?;
    writeln!(
        out,
        "cpus       {}  load {:.2} {:.2} {:.2}",
        h.nproc, h.loadavg[0], h.loadavg[1], h.loadavg[2]
    )?;
    writeln!(
        out,
        "memory     {} KiB total, {} KiB available; hugepages {}/{} free",
        h.mem_total_kib, h.mem_available_kib, h.hugepages_free, h.hugepages_total
    )?;
    writeln!(
        out,
        "taint      {}  msr allow_writes {}",
        h.kernel_taint,
        h.msr_allow_writes
            .as_deref()
            .map(e)
            .unwrap_or_else(|| "-".into())
    )?;
    writeln!(out, "modules    {}", h.kernel_modules.len())?;
    for hp in &h.hidden_pids {
        writeln!(out, "HIDDEN PID {} ({})", hp.pid, e(&hp.reason))?;
    }
    for mnt in &h.proc_bind_mounts {
        writeln!(out, "BIND MOUNT OVER /proc: {}", mnt.escaped())?;
    }
    writeln!(
        out,
        "\ncollection log: {} {} from {} to {} (UTC)",
        e(&m.collector.name),
        e(&m.collector.version),
        e(&m.started_at),
        e(&m.ended_at)
    )?;
    writeln!(
        out,
        "  {:24} {:>8} {:>8} {:>7}",
        "ARTIFACT", "ITEMS", "MS", "ERRORS"
    )?;
    for a in &m.artifacts {
        writeln!(
            out,
            "  {:24} {:>8} {:>8} {:>7}",
            e(&a.name),
            a.items,
            a.duration_ms,
            a.errors.len()
        )?;
        for err in &a.errors {
            writeln!(out, "      {}: {}", e(&err.target), e(&err.message))?;
        }
    }
    for w in &model.warnings {
        writeln!(out, "warning: {}", e(w))?;
    }
    Ok(())
}

/// A string the analyzer formatted from host bytes, made printable.
fn escape_visible(s: &str) -> String {
    escape_bytes(s.as_bytes())
}

fn timeline(
    analysis: &Analysis,
    from: Option<i64>,
    to: Option<i64>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let trace = Trace::of(analysis);
    let inside = |t: i64| from.is_none_or(|f| t >= f) && to.is_none_or(|end| t <= end);
    let events: Vec<TimelineEventView> = trace
        .timeline
        .iter()
        .filter(|ev| inside(ev.time_us))
        .map(|ev| TimelineEventView {
            time: iso_us(ev.time_us),
            description: ev.desc.to_owned(),
            message: ev.message().into_owned(),
            source: ev.source().into_owned(),
            node: ev.node.clone(),
            level: ev.level.name().to_owned(),
            forgeable: ev.forgeable,
        })
        .collect();
    let filtered_out = trace.timeline.len() - events.len();
    if json {
        let view = InspectView::Timeline {
            from: from.map(iso_us),
            to: to.map(iso_us),
            events,
            filtered_out,
        };
        return json_out(&document(&analysis.model, view), out);
    }
    for ev in &events {
        writeln!(
            out,
            "{} {:9} {}{}",
            ev.time,
            ev.level,
            escape_visible(&ev.message),
            if ev.forgeable {
                "  [settable time]"
            } else {
                ""
            }
        )?;
    }
    writeln!(
        out,
        "{} events{}{}",
        events.len(),
        if filtered_out > 0 {
            format!(" ({filtered_out} outside the range)")
        } else {
            String::new()
        },
        if trace.timeline_dropped > 0 {
            format!("; {} dropped by the caps", trace.timeline_dropped)
        } else {
            String::new()
        }
    )?;
    Ok(())
}
