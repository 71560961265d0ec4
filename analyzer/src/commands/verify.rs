//! `minetrace verify BUNDLE`: is this bundle intact, and what is it of?

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use minetrace_schemas::bundle::{Bundle, ReadLimits};
use minetrace_schemas::escape_bytes;

use crate::exit::Status;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (.tar.zst) written by minetrace-collect.
    pub bundle: PathBuf,
}

pub fn exec(args: &VerifyArgs, out: &mut dyn Write) -> Result<Status> {
    let shown = escape_bytes(args.bundle.as_os_str().as_encoded_bytes());
    let bundle = match Bundle::open(&args.bundle, ReadLimits::default()) {
        Ok(b) => b,
        Err(e) => {
            writeln!(out, "{shown}: FAILED: {e}")?;
            return Ok(Status::Error);
        }
    };
    let m = &bundle.manifest;
    let e = |s: &str| escape_bytes(s.as_bytes());
    writeln!(out, "bundle     {shown}")?;
    writeln!(
        out,
        "sha256     {} ({} bytes)",
        bundle.sha256.as_deref().unwrap_or("?"),
        bundle.compressed_bytes.unwrap_or(0)
    )?;
    writeln!(
        out,
        "host       {}  machine-id {}  boot {}",
        e(&m.host.hostname),
        e(&m.host.machine_id),
        e(&m.host.boot_id)
    )?;
    writeln!(out, "kernel     {}", e(&m.host.kernel))?;
    writeln!(
        out,
        "collected  {} .. {} ({:?}{})",
        e(&m.started_at),
        e(&m.ended_at),
        m.mode,
        m.root
            .as_deref()
            .map(|r| format!(" of {}", e(r)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "collector  {} {} sha256 {}",
        e(&m.collector.name),
        e(&m.collector.version),
        e(m.collector.sha256.as_deref().unwrap_or("?"))
    )?;
    let errors: usize = m.artifacts.iter().map(|a| a.errors.len()).sum();
    writeln!(
        out,
        "members    {} plus manifest; {} artifact families, {} collection errors",
        m.members.len(),
        m.artifacts.len(),
        errors
    )?;
    if bundle.problems.is_empty() {
        writeln!(out, "OK: every member matches the manifest")?;
        Ok(Status::Ok)
    } else {
        for p in &bundle.problems {
            writeln!(out, "FAILED: {p}")?;
        }
        Ok(Status::Error)
    }
}
