//! `minetrace analyze BUNDLE`: verify, detect, and write findings (and, with `-o`, every output file).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use crate::allowlist::Allowlist;
use crate::analysis::{Analysis, AnalysisInputs};
use crate::exit::Status;
use crate::indicators::Indicators;
use crate::output;
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The bundle (.tar.zst) written by minetrace-collect.
    pub bundle: PathBuf,
    /// Write findings.json (and the other outputs) into this directory, created if needed.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print findings.json on stdout instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    /// After the incidents, print every finding with its subjects and evidence.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub detection: DetectionArgs,
}

/// What changes detection, the same for every command that analyses bundles.
#[derive(Debug, Args)]
pub struct DetectionArgs {
    /// Extra indicators (`kind value` lines, same format as the built-in lists).
    #[arg(long, value_name = "FILE")]
    pub iocs: Vec<PathBuf>,
    /// The operator's own declared software (hashes, paths, services, keys, endpoints); their findings
    /// drop to info and remediate.sh never acts on them.
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Analyse a bundle that fails verification anyway; every output is marked as tampered.
    #[arg(long)]
    pub allow_tampered: bool,
}

impl DetectionArgs {
    pub fn inputs(&self) -> Result<AnalysisInputs> {
        inputs(&self.iocs, self.allow.as_deref(), self.allow_tampered)
    }
}

pub fn inputs(
    iocs: &[PathBuf],
    allow: Option<&Path>,
    allow_tampered: bool,
) -> Result<AnalysisInputs> {
    let mut ind = Indicators::builtin();
    for f in iocs {
        ind.add_file(f)?;
    }
    let allow = match allow {
        Some(p) => Allowlist::load(p)?,
        None => Allowlist::default(),
    };
    Ok(AnalysisInputs {
        iocs: ind,
        allow,
        allow_tampered,
    })
}

pub fn exec(args: &AnalyzeArgs, out: &mut dyn Write) -> Result<Status> {
    let inputs = args.detection.inputs()?;
    let progress = Progress::spinner("minetrace analyze");
    progress.step("verifying, reading and judging the bundle");
    let analysis = Analysis::run(&args.bundle, &inputs)?;
    if args.json {
        if let Some(dir) = &args.output {
            progress.step("building the graph and writing the outputs");
            write_outputs(&analysis, dir)?;
        }
        drop(progress);
        output::findings_json::write(&analysis, out)?;
    } else {
        progress.step("building the attack graph and the remediation plan");
        let trace = crate::graph::Trace::of(&analysis);
        let plan = crate::remediate::build_plan_with(&analysis, &trace.graph);
        if let Some(dir) = &args.output {
            progress.step("writing the outputs");
            write_planned_outputs(&analysis, &trace, &plan, dir)?;
        }
        drop(progress);
        let detail = output::summary::Detail {
            every_finding: args.verbose,
            color: output::summary::color_wanted(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ),
        };
        output::summary::write_with(&analysis, &trace, &plan, detail, out)?;
        if let Some(dir) = &args.output {
            writeln!(out, "\noutputs written to {}", dir.display())?;
        }
    }
    let worst = analysis.document.findings.iter().map(|f| f.severity).max();
    Ok(Status::of_worst(worst))
}

/// Writes every output file into `dir`; each file is written whole or not at all.
pub fn write_outputs(analysis: &Analysis, dir: &Path) -> Result<()> {
    write_traced_outputs(analysis, &crate::graph::Trace::of(analysis), dir)
}

/// [`write_outputs`] with the trace already built (`minetrace fleet` reads it again afterwards).
pub fn write_traced_outputs(
    analysis: &Analysis,
    trace: &crate::graph::Trace,
    dir: &Path,
) -> Result<()> {
    // The plan is built once: the report lists it, the script carries it.
    let plan = crate::remediate::build_plan_with(analysis, &trace.graph);
    write_planned_outputs(analysis, trace, &plan, dir)
}

/// [`write_traced_outputs`] with the plan already built (`analyze` prints from it too).
pub fn write_planned_outputs(
    analysis: &Analysis,
    trace: &crate::graph::Trace,
    plan: &crate::remediate::Plan,
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_file(dir, "findings.json", |w| {
        output::findings_json::write(analysis, w)
    })?;
    write_file(dir, "graph.json", |w| output::graph_json::write(trace, w))?;
    write_file(dir, "graph.dot", |w| output::graph_dot::write(trace, w))?;
    write_file(dir, "timeline.jsonl", |w| {
        output::timeline_jsonl::write(trace, w)
    })?;
    write_file(dir, "iocs.stix.json", |w| {
        output::stix::write(analysis, trace, w)
    })?;
    let extras = output::report_html::ReportExtras::of(analysis, trace, plan);
    write_file(dir, "report.html", |w| {
        output::report_html::write(analysis, trace, &extras, w)
    })?;
    crate::remediate::write_plan_into(plan, dir)?;
    Ok(())
}

/// Writes through a temporary file and renames, so a failure never leaves a half-written output.
pub fn write_file(
    dir: &Path,
    name: &str,
    render: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| -> Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        render(&mut file)?;
        file.flush()?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
