//! `generate-fleet --hosts N [--cluster-size S] -o DIR`: writes a synthetic fleet of N bundles rewritten
//! from the sample bundles (see `minetrace_e2e::fleet`) into DIR, and its ground truth as
//! `DIR.truth.json`. Used by the fleet
//! benchmark (`docs/BENCHMARKS.md`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use minetrace_e2e::binaries::workspace_root;
use minetrace_e2e::fleet::{plan, write_fleet};

fn main() -> Result<()> {
    let mut hosts = 1000usize;
    let mut cluster = 8usize;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--hosts" => hosts = args.next().context("--hosts N")?.parse()?,
            "--cluster-size" => cluster = args.next().context("--cluster-size S")?.parse()?,
            "-o" | "--output" => out = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("generate-fleet --hosts N [--cluster-size S] -o DIR");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    let out = out.context("-o DIR is required")?;
    let (plans, truth) = plan(hosts, cluster);
    let started = std::time::Instant::now();
    let written = write_fleet(&workspace_root().join("samples/bundles"), &plans, &out)?;
    let truth_json = serde_json::json!({
        "clusters": truth.clusters,
        "edges": truth.edges,
        "first_infected": truth.first_infected,
        "neighbours": truth.neighbours,
        "compromised": truth.compromised.len(),
        "clean": truth.clean.len(),
    });
    let truth_path = out.with_extension("truth.json");
    std::fs::write(&truth_path, serde_json::to_vec_pretty(&truth_json)?)?;
    eprintln!(
        "generate-fleet: {} bundles in {} ({:.1} s); truth in {}",
        written.len(),
        out.display(),
        started.elapsed().as_secs_f64(),
        truth_path.display()
    );
    Ok(())
}
