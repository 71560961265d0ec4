//! `minetrace remediate BUNDLE -o FILE`: analyse a bundle and write only the remediation script, then
//! print its plan. The script is a dry run unless started with `--apply`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::analysis::Analysis;
use crate::commands::analyze;
use crate::exit::Status;
use crate::remediate;

#[derive(Debug, Args)]
pub struct RemediateArgs {
    /// The bundle (.tar.zst) written by minetrace-collect.
    pub bundle: PathBuf,
    /// Where to write the script (mode 0700).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub detection: analyze::DetectionArgs,
}

pub fn exec(args: &RemediateArgs, out: &mut dyn Write) -> Result<Status> {
    let inputs = args.detection.inputs()?;
    let progress = crate::progress::Progress::spinner("minetrace remediate");
    progress.step("verifying, reading and judging the bundle");
    let analysis = Analysis::run(&args.bundle, &inputs)?;
    progress.step("building the plan");
    let plan = remediate::build_plan(&analysis);
    let script = remediate::script::render(&plan);
    remediate::write_script(&script, &args.output)?;
    drop(progress);
    for line in remediate::plan_lines(&plan) {
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "\nwrote {} ({} actions; sha256 {}): a dry run unless started with --apply",
        args.output.display(),
        plan.items.len(),
        remediate::edit::sha256(script.as_bytes())
    )?;
    Ok(Status::Ok)
}
