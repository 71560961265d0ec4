//! `minetrace fleet BUNDLE|DIR... -o DIR`: analyse a fleet's bundles as one incident — each host's
//! outputs under `DIR/hosts/NAME/`, and the fleet's `fleet.json`, `report.html`, `fleet.stix.json` and
//! `timeline.jsonl` in `DIR`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use minetrace_schemas::findings::Verdict;

use crate::commands::analyze::{write_file, DetectionArgs};
use crate::exit::Status;
use crate::fleet::{self, bundles};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Bundles (.tar.zst), or directories holding them; a host is named after its bundle's file name.
    #[arg(required = true, value_name = "BUNDLE|DIR")]
    pub bundles: Vec<PathBuf>,
    /// Directory for every output (created if needed): fleet.json, report.html, fleet.stix.json,
    /// timeline.jsonl and hosts/NAME/ with each host's analyze outputs.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Print fleet.json on stdout instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub detection: DetectionArgs,
    /// Bundles analysed at once (default: one per CPU).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub fn exec(args: &FleetArgs, out: &mut dyn Write) -> Result<Status> {
    let analysis_inputs = args.detection.inputs()?;
    let list = bundles::collect(&args.bundles)?;
    let dir = &args.output;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bar = Progress::counter("minetrace fleet", list.len() as u64, "bundles analysed");
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("starting the worker threads")?;
    let result = pool.install(|| fleet::analyse(&list, &analysis_inputs, dir, &progress));
    drop(bar);
    let doc = &result.document;
    write_file(dir, "fleet.json", |w| {
        serde_json::to_writer_pretty(&mut *w, doc)?;
        writeln!(w)?;
        Ok(())
    })?;
    write_file(dir, "report.html", |w| fleet::report_html::write(doc, w))?;
    write_file(dir, "fleet.stix.json", |w| fleet::stix::write(doc, w))?;
    write_file(dir, "timeline.jsonl", |w| {
        fleet::timesketch::write(doc, &result.hosts, w)
    })?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, doc)?;
        writeln!(out)?;
    } else {
        summary(doc, out)?;
        writeln!(out, "\noutputs written to {}", dir.display())?;
    }
    Ok(if !doc.failed.is_empty() {
        Status::Error
    } else {
        Status::of_worst(result.hosts.iter().filter_map(|h| h.worst).max())
    })
}

/// Rows of the terminal summary per section.
const SUMMARY_ROWS: usize = 30;

/// The readable summary. Every string from a bundle is escaped printable ASCII already.
fn summary(doc: &minetrace_schemas::fleet::FleetDocument, out: &mut dyn Write) -> Result<()> {
    let count = |v: Verdict| doc.hosts.iter().filter(|h| h.verdict == v).count();
    writeln!(
        out,
        "fleet: {} hosts: {} compromised, {} suspicious, {} clean; {} bundles failed",
        doc.hosts.len(),
        count(Verdict::Compromised),
        count(Verdict::Suspicious),
        count(Verdict::Clean),
        doc.failed.len()
    )?;
    let mut flagged: Vec<_> = doc
        .hosts
        .iter()
        .filter(|h| h.verdict != Verdict::Clean)
        .collect();
    flagged.sort_by_key(|h| (h.first_seen.is_none(), h.first_seen.clone(), h.name.clone()));
    for h in flagged.iter().take(SUMMARY_ROWS) {
        writeln!(
            out,
            "  {:<24} {:<11} {:<14} first seen {}",
            h.name,
            format!("{:?}", h.verdict).to_lowercase(),
            h.families.join(","),
            h.first_seen.as_deref().unwrap_or("-")
        )?;
    }
    if flagged.len() > SUMMARY_ROWS {
        writeln!(out, "  ... {} more", flagged.len() - SUMMARY_ROWS)?;
    }
    if let Some(f) = &doc.first_infected {
        writeln!(out, "probable first infected: {}", f.host)?;
        for w in &f.why {
            writeln!(out, "  - {w}")?;
        }
    }
    writeln!(out, "clusters: {}", doc.clusters.len())?;
    for (i, c) in doc.clusters.iter().enumerate().take(SUMMARY_ROWS) {
        let strong = c
            .indicators
            .iter()
            .filter(|x| x.weight == minetrace_schemas::fleet::Weight::Strong)
            .count();
        writeln!(
            out,
            "  {}: {} hosts, {} strong indicators: {}",
            i + 1,
            c.hosts.len(),
            strong,
            c.hosts
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    writeln!(out, "lateral movement: {} edges", doc.lateral.len())?;
    for e in doc.lateral.iter().take(SUMMARY_ROWS) {
        writeln!(
            out,
            "  {} -> {} ({:?}, {})",
            e.from,
            e.to,
            e.level,
            e.time.as_deref().unwrap_or("undated")
        )?;
    }
    writeln!(
        out,
        "neighbours not collected: {}",
        doc.uncollected_neighbours.len()
    )?;
    for n in doc.uncollected_neighbours.iter().take(SUMMARY_ROWS) {
        writeln!(
            out,
            "  {} (seen from {})",
            n.address,
            n.seen_from.join(", ")
        )?;
    }
    for f in &doc.failed {
        writeln!(out, "failed: {}: {}", f.bundle, f.error)?;
    }
    Ok(())
}
