//! `minetrace inspect BUNDLE VIEW`: look at what was collected, as a table or as JSON.
//!
//! Every view is a projection of the host model; host bytes are escaped in tables and kept exact in JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use minetrace_schemas::manifest::format_unix_secs;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::RawBytes;
use serde::Serialize;

use crate::exit::Status;
use crate::load;
use crate::model::HostModel;

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
    /// Cron, at, systemd, rc, loader and shell start-up files.
    Persistence,
    /// sshd configuration, authorized keys, known hosts, key files.
    Ssh,
    /// Firewall tool captures and saved rule files.
    Firewall,
    /// Host state and the collection log (per-artifact errors and timings).
    Host,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The bundle (.tar.zst) written by minetrace-collect.
    pub bundle: PathBuf,
    /// What to show.
    #[arg(value_enum)]
    pub view: View,
    /// Print JSON (host bytes exact: strings when UTF-8, {"hex": ...} otherwise) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Inspect a bundle that fails verification anyway.
    #[arg(long)]
    pub allow_tampered: bool,
}

/// File categories each view shows; the collector's `files` modules name them.
const PERSISTENCE: &[&str] = &[
    "cron", "at", "systemd", "startup", "loader", "shell", "udev", "modules",
];
const SSH: &[&str] = &["ssh"];
const FIREWALL: &[&str] = &["firewall"];

pub fn exec(args: &InspectArgs, out: &mut dyn Write) -> Result<Status> {
    let (model, problems) = load::model(&args.bundle, args.allow_tampered)?;
    if !problems.is_empty() {
        eprintln!(
            "minetrace: warning: bundle failed verification ({} problems); showing it anyway",
            problems.len()
        );
    }
    match args.view {
        View::Processes => processes(&model, args.json, out)?,
        View::Sockets => sockets(&model, args.json, out)?,
        View::Executables => executables(&model, args.json, out)?,
        View::Files => files(&model, |_| true, args.json, out)?,
        View::Persistence => files(
            &model,
            |f| PERSISTENCE.contains(&f.category.as_str()),
            args.json,
            out,
        )?,
        View::Ssh => files(
            &model,
            |f| SSH.contains(&f.category.as_str()),
            args.json,
            out,
        )?,
        View::Firewall => firewall(&model, args.json, out)?,
        View::Host => host(&model, args.json, out)?,
    }
    Ok(Status::Ok)
}

fn json_out<T: Serialize>(value: &T, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

#[derive(Serialize)]
struct ProcessView<'a> {
    pid: i32,
    ppid: i32,
    start_ticks: u64,
    started: Option<String>,
    uid: u32,
    euid: u32,
    comm: &'a RawBytes,
    argv: Vec<RawBytes>,
    exe: Option<&'a RawBytes>,
    exe_deleted: bool,
    exe_memfd: bool,
    exe_sha256: Option<&'a str>,
    state: &'a str,
    threads: i64,
    cpu_ticks: u64,
}

fn process_views(model: &HostModel) -> Vec<ProcessView<'_>> {
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
            comm: &p.comm,
            argv: p.argv().into_iter().map(RawBytes::from).collect(),
            exe: p.exe.as_ref().map(|e| &e.path),
            exe_deleted: p.exe.as_ref().is_some_and(|e| e.deleted),
            exe_memfd: p.exe.as_ref().is_some_and(|e| e.memfd),
            exe_sha256: model.executable_of(p).and_then(|e| e.sha256.as_deref()),
            state: &p.state,
            threads: p.threads,
            cpu_ticks: p.utime_ticks + p.stime_ticks,
        })
        .collect()
}

fn processes(model: &HostModel, json: bool, out: &mut dyn Write) -> Result<()> {
    let views = process_views(model);
    if json {
        return json_out(&views, out);
    }
    writeln!(
        out,
        "{:>7} {:>7} {:>6} {:1} {:3} {:12} COMMAND",
        "PID", "PPID", "UID", "S", "EXE", "SHA256"
    )?;
    for v in &views {
        let flags = format!(
            "{}{}",
            if v.exe_deleted { "D" } else { "" },
            if v.exe_memfd { "M" } else { "" }
        );
        let sha = v
            .exe_sha256
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
            v.pid, v.ppid, v.uid, v.state, flags, sha, cmd
        )?;
    }
    writeln!(
        out,
        "{} processes (EXE flags: D deleted, M memfd)",
        views.len()
    )?;
    Ok(())
}

fn sockets(model: &HostModel, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        return json_out(&model.sockets, out);
    }
    writeln!(
        out,
        "{:6} {:12} {:46} {:46} PIDS",
        "PROTO", "STATE", "LOCAL", "REMOTE"
    )?;
    for s in &model.sockets {
        let local = match &s.unix_path {
            Some(p) => p.escaped(),
            None => s.local.clone(),
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
            s.state,
            local,
            s.remote,
            pids.join(",")
        )?;
    }
    writeln!(out, "{} sockets", model.sockets.len())?;
    Ok(())
}

fn executables(model: &HostModel, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        return json_out(&model.executables, out);
    }
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
            minetrace_schemas::records::executable::CopyStatus::Copied { .. } => "yes",
            minetrace_schemas::records::executable::CopyStatus::Skipped { .. } => "skipped",
            minetrace_schemas::records::executable::CopyStatus::NotNeeded => "-",
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

fn files(
    model: &HostModel,
    keep: impl Fn(&FileRecord) -> bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let chosen: Vec<&FileRecord> = model.files.iter().filter(|f| keep(f)).collect();
    if json {
        return json_out(&chosen, out);
    }
    writeln!(
        out,
        "{:1}{:>6} {:>6} {:>6} {:>10} {:2} {:20} {:10} PATH",
        "T", "MODE", "UID", "GID", "SIZE", "IA", "MTIME", "CATEGORY"
    )?;
    for f in &chosen {
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
            minetrace_schemas::escape_bytes(f.category.as_bytes()),
            f.path.escaped()
        );
        if let Some(t) = &f.link_target {
            line.push_str(&format!(" -> {}", t.escaped()));
        }
        if let Some(e) = &f.error {
            line.push_str(&format!(
                "  [{}]",
                minetrace_schemas::escape_bytes(e.as_bytes())
            ));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{} files", chosen.len())?;
    Ok(())
}

fn firewall(model: &HostModel, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        #[derive(Serialize)]
        struct FirewallView<'a> {
            commands: &'a [minetrace_schemas::records::command::CommandRecord],
            outputs: Vec<(String, RawBytes)>,
            files: Vec<&'a FileRecord>,
        }
        let outputs = model
            .commands
            .iter()
            .filter_map(|c| {
                let m = c.stdout_member.as_deref()?;
                Some((m.to_owned(), RawBytes::from(model.member(m)?)))
            })
            .collect();
        let files = model
            .files
            .iter()
            .filter(|f| FIREWALL.contains(&f.category.as_str()))
            .collect();
        return json_out(
            &FirewallView {
                commands: &model.commands,
                outputs,
                files,
            },
            out,
        );
    }
    for c in &model.commands {
        writeln!(
            out,
            "== {} ({}; exit {}{}; tool sha256 {})",
            minetrace_schemas::escape_bytes(c.name.as_bytes()),
            c.tool_path
                .as_ref()
                .map(RawBytes::escaped)
                .unwrap_or_else(|| "not found".into()),
            c.exit_code
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            if c.timed_out { ", timed out" } else { "" },
            c.tool_sha256.as_deref().unwrap_or("-")
        )?;
        if let Some(bytes) = c.stdout_member.as_deref().and_then(|m| model.member(m)) {
            for line in bytes.split(|b| *b == b'\n') {
                writeln!(out, "  {}", minetrace_schemas::escape_bytes(line))?;
            }
        }
    }
    files(
        model,
        |f| FIREWALL.contains(&f.category.as_str()),
        false,
        out,
    )
}

fn host(model: &HostModel, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        #[derive(Serialize)]
        struct HostView<'a> {
            manifest: &'a minetrace_schemas::manifest::Manifest,
            warnings: &'a [String],
        }
        return json_out(
            &HostView {
                manifest: &model.manifest,
                warnings: &model.warnings,
            },
            out,
        );
    }
    let h = &model.host;
    let e = |s: &str| minetrace_schemas::escape_bytes(s.as_bytes());
    writeln!(out, "hostname   {}", e(&h.identity.hostname))?;
    writeln!(out, "kernel     {}", e(&h.identity.kernel))?;
    writeln!(out, "boot id    {}", e(&h.identity.boot_id))?;
    writeln!(out, "booted     {}", format_unix_secs(h.boot_time_unix))?;
    writeln!(out, "cpus       {}  load {:?}", h.nproc, h.loadavg)?;
    writeln!(
        out,
        "memory     {} KiB total, {} KiB available; hugepages {}/{} free",
        h.mem_total_kib, h.mem_available_kib, h.hugepages_free, h.hugepages_total
    )?;
    writeln!(
        out,
        "taint      {}  msr allow_writes {:?}",
        h.kernel_taint, h.msr_allow_writes
    )?;
    writeln!(out, "modules    {}", h.kernel_modules.len())?;
    for hp in &h.hidden_pids {
        writeln!(out, "HIDDEN PID {} ({})", hp.pid, e(&hp.reason))?;
    }
    for m in &h.proc_bind_mounts {
        writeln!(out, "BIND MOUNT OVER /proc: {}", m.escaped())?;
    }
    writeln!(out, "collection log:")?;
    for a in &model.manifest.artifacts {
        writeln!(
            out,
            "  {:16} {:>6} items {:>6} ms {:>4} errors",
            e(&a.name),
            a.items,
            a.duration_ms,
            a.errors.len()
        )?;
        for err in a.errors.iter().take(5) {
            writeln!(out, "      {}: {}", e(&err.target), e(&err.message))?;
        }
    }
    for w in &model.warnings {
        writeln!(out, "warning: {}", e(w))?;
    }
    Ok(())
}
