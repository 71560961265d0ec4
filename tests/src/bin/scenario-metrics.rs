//! `scenario-metrics [--analyzer PATH]... [--keep DIR] [ID]...`: issue 12's detection numbers over every
//! scenario of `samples/scenarios/`, or over the scenarios named (root: each scenario is planted in its own
//! sandbox). `--keep DIR` leaves each collected bundle as `DIR/ID.tar.zst`, to read what a finding said.
//!
//! Each scenario is planted, collected live once with this workspace's collector, and the same bundle is
//! analysed by every analyzer named (this workspace's `minetrace` when none is), so builds compare on
//! identical input. Each analysis is judged against the scenario's truth with the end-to-end checks
//! (`minetrace_e2e::analysis::check_analysis`): malicious subjects a finding at medium or above names as
//! an artifact (recall), benign subjects such a finding names, verdicts, families named where one was
//! planted, clean hosts given a family, and the entry point named first (`check_entry`: the first
//! candidate's vector and service against the truth's, none on a clean host). One table per analyzer,
//! totals last.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use minetrace_e2e::analysis::{analyze_with, check_analysis, check_entry, BundleFile};
use minetrace_e2e::binaries;
use minetrace_e2e::live::Live;
use minetrace_e2e::scenario;

#[derive(Default)]
struct Totals {
    rows: Vec<String>,
    malicious: usize,
    found: usize,
    benign_flagged: usize,
    verdicts: usize,
    verdicts_right: usize,
    families: usize,
    families_named: usize,
    clean_with_family: usize,
    entries_right: usize,
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn main() -> Result<()> {
    let mut analyzers: Vec<PathBuf> = Vec::new();
    let mut only: Vec<String> = Vec::new();
    let mut keep: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--analyzer" => analyzers.push(args.next().context("--analyzer PATH")?.into()),
            "--keep" => keep = Some(args.next().context("--keep DIR")?.into()),
            "-h" | "--help" => {
                println!("scenario-metrics [--analyzer PATH]... [--keep DIR] [ID]...");
                return Ok(());
            }
            other if other.starts_with('-') => bail!("unknown argument {other:?}"),
            id => only.push(id.to_owned()),
        }
    }
    let ids = scenario::all_ids()?;
    if let Some(unknown) = only.iter().find(|i| !ids.contains(i)) {
        bail!("no scenario {unknown:?} in samples/scenarios/");
    }
    if analyzers.is_empty() {
        analyzers.push(binaries::analyzer()?);
    }
    let mut totals: Vec<Totals> = analyzers.iter().map(|_| Totals::default()).collect();
    for id in ids
        .into_iter()
        .filter(|i| only.is_empty() || only.contains(i))
    {
        let live = Live::start(&id).with_context(|| format!("starting scenario {id}"))?;
        let bytes = live.collect();
        live.sb.shutdown()?;
        let bytes = bytes?;
        if let Some(dir) = &keep {
            let out = dir.join(format!("{id}.tar.zst"));
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        }
        let bundle = BundleFile::write(&bytes)?;
        let allow = bundle.allow_file(live.truth.allowlist.as_deref())?;
        let truth = &live.truth;
        for (analyzer, t) in analyzers.iter().zip(totals.iter_mut()) {
            let run = analyze_with(analyzer, &bundle.path, allow.as_deref())?;
            let problems = check_analysis(truth, &run);
            let count = |prefix: &str| problems.iter().filter(|p| p.starts_with(prefix)).count();
            let missed = count("malicious ");
            let benign = count("benign ");
            let clean_family = count("a clean host got a family");
            let verdict_ok = count("verdict ") == 0;
            let entry_ok = check_entry(truth, &run).is_empty();
            t.entries_right += usize::from(entry_ok);
            let family_missed = problems
                .iter()
                .any(|p| p.starts_with("family ") && p.contains("not attributed"));
            let m = truth.malicious.len();
            t.malicious += m;
            t.found += m.saturating_sub(missed);
            t.benign_flagged += benign;
            t.verdicts += 1;
            t.verdicts_right += usize::from(verdict_ok);
            t.clean_with_family += clean_family;
            let family = match &truth.family {
                Some(f) => {
                    t.families += 1;
                    t.families_named += usize::from(!family_missed);
                    format!("{f} {}", if family_missed { "missed" } else { "named" })
                }
                None if clean_family > 0 => "none planted; one given".to_owned(),
                None => "-".to_owned(),
            };
            let verdict = if verdict_ok {
                format!("{:?}", truth.verdict)
            } else {
                format!("{:?} (expected {:?})", run.doc.verdict, truth.verdict)
            };
            let entry = run.doc.entry.first().map_or_else(
                || "none".to_owned(),
                |c| {
                    format!(
                        "{}{}",
                        c.vector.name(),
                        c.service
                            .as_deref()
                            .map(|s| format!("/{s}"))
                            .unwrap_or_default()
                    )
                },
            );
            t.rows.push(format!(
                "| {id} | {}/{m} | {benign} | {verdict} | {family} | {entry} {} |",
                m.saturating_sub(missed),
                if entry_ok { "ok" } else { "WRONG" }
            ));
        }
        eprintln!("{id} done");
    }
    for (analyzer, t) in analyzers.iter().zip(&totals) {
        println!("analyzer {}\n", analyzer.display());
        println!("| scenario | malicious at medium+ | benign at medium+ | verdict | family | entry named first |");
        println!("|---|---|---|---|---|---|");
        for r in &t.rows {
            println!("{r}");
        }
        println!(
            "\ntotal: malicious subjects at medium+ {}/{} ({:.1} %); benign subjects at medium+ {}; \
             verdicts right {}/{}; families named {}/{}; clean hosts given a family {}; entry right {}/{}\n",
            t.found,
            t.malicious,
            pct(t.found, t.malicious),
            t.benign_flagged,
            t.verdicts_right,
            t.verdicts,
            t.families_named,
            t.families,
            t.clean_with_family,
            t.entries_right,
            t.verdicts
        );
    }
    Ok(())
}
