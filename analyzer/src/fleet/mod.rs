//! `minetrace fleet`: many hosts' bundles analysed as one incident.
//!
//! Each bundle goes through the same single-host pipeline as `minetrace analyze` (in parallel, on
//! rayon's pool) and writes its outputs under `hosts/NAME/`; what the fleet needs of it is kept as a
//! [`host::HostFacts`] and the analysis is dropped. Then, over the summaries:
//! [`indicators`] (what each host contributes, and what two or more share) → [`clusters`] → [`lateral`]
//! (edges and uncollected neighbours) → [`origin`] (patient zero) → [`FleetDocument`], which the outputs
//! render: [`report_html`], [`stix`], [`timesketch`] and `fleet.json`.

pub mod bundles;
pub mod clusters;
pub mod host;
pub mod host_graph;
pub mod indicators;
pub mod lateral;
pub mod origin;
pub mod report_html;
pub mod stix;
pub mod timesketch;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use minetrace_schemas::fleet::{FailedBundle, FleetDocument, FleetHost, FLEET_SCHEMA};
use rayon::prelude::*;

use crate::analysis::{Analysis, AnalysisInputs};
use crate::commands::analyze::write_traced_outputs;
use crate::graph::Trace;
use bundles::BundleInput;
use host::HostFacts;

/// The fleet's result: every host's summary, the bundles that failed, and the document.
pub struct Fleet {
    pub hosts: Vec<HostFacts>,
    pub document: FleetDocument,
}

/// Analyses one bundle through the single-host pipeline and writes its outputs under `hosts/NAME/`.
fn analyse_one(input: &BundleInput, inputs: &AnalysisInputs, out: &Path) -> Result<HostFacts> {
    let analysis = Analysis::run(&input.path, inputs)?;
    let trace = Trace::of(&analysis);
    write_traced_outputs(&analysis, &trace, &out.join("hosts").join(&input.name))?;
    Ok(HostFacts::of(
        &input.name,
        &input.file_name,
        &analysis,
        &trace,
    ))
}

/// Analyses every bundle into `out` and correlates them. `progress(done, total)` is called after each
/// bundle, from the worker threads.
pub fn analyse(
    bundles: &[BundleInput],
    inputs: &AnalysisInputs,
    out: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Fleet {
    let done = AtomicUsize::new(0);
    let results: Vec<(usize, Result<HostFacts>)> = bundles
        .par_iter()
        .enumerate()
        .map(|(i, b)| {
            let r = analyse_one(b, inputs, out);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, bundles.len());
            (i, r)
        })
        .collect();
    let mut hosts = Vec::new();
    let mut failed = Vec::new();
    for (i, r) in results {
        match r {
            Ok(h) => hosts.push(h),
            Err(e) => failed.push(FailedBundle {
                bundle: bundles
                    .get(i)
                    .map(|b| b.file_name.clone())
                    .unwrap_or_default(),
                error: minetrace_schemas::escape_bytes(format!("{e:#}").as_bytes()),
            }),
        }
    }
    let document = correlate(&hosts, failed);
    Fleet { hosts, document }
}

/// The fleet document of analysed hosts (in any order; the document is sorted by name).
pub fn correlate(hosts: &[HostFacts], failed: Vec<FailedBundle>) -> FleetDocument {
    let shared = indicators::shared(hosts.iter().map(|h| (h.row.name.as_str(), &h.indicators)));
    let clusters = clusters::clusters(&shared);
    let (lateral, uncollected_neighbours) = lateral::correlate(hosts);
    let first_infected = origin::first_infected(hosts, &lateral);
    let mut rows: Vec<FleetHost> = hosts.iter().map(|h| h.row.clone()).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    FleetDocument {
        schema: FLEET_SCHEMA.into(),
        analyzer_version: env!("CARGO_PKG_VERSION").into(),
        hosts: rows,
        failed,
        shared_indicators: shared,
        clusters,
        lateral,
        first_infected,
        uncollected_neighbours,
    }
}
