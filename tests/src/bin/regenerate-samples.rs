//! Regenerates `samples/bundles/`: for every scenario marked `sample_bundle = true` (or the ids given as
//! arguments), builds its sandbox, plants it, collects it with the real `minetrace-collect`, and writes
//! `samples/bundles/<id>.tar.zst` and `<id>.truth.json` (the ground truth resolved against that very
//! collection: pids, exe hashes, line numbers, key fingerprints).
//!
//! Run as root: `cargo run -p minetrace-e2e --bin regenerate-samples [--out DIR] [ID...]`. `--out` writes
//! the bundles and truths to DIR instead (to measure analyzers on every scenario without touching the
//! shipped samples).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use minetrace_e2e::plant::plant;
use minetrace_e2e::sandbox::Sandbox;
use minetrace_e2e::scenario;
use minetrace_e2e::truth::{check_bundle, read_bundle, resolve};

fn regenerate(id: &str, out_dir: &Path) -> Result<(u64, usize)> {
    let sc = scenario::load(id)?;
    let mut sb = Sandbox::start(&sc.scenario.hostname)?;
    let planted = plant(&mut sb, &sc).context("planting")?;
    let truth = resolve(&sc, &planted).context("resolving the ground truth")?;
    let bytes = sb.collect().context("collecting")?;
    sb.shutdown()?;
    let bundle = read_bundle(&bytes)?;
    let problems = check_bundle(&planted, &truth, &bundle);
    let bundle_path = out_dir.join(format!("{id}.tar.zst"));
    std::fs::write(&bundle_path, &bytes)
        .with_context(|| format!("writing {}", bundle_path.display()))?;
    let doc = serde_json::json!({
        "schema": "minetrace-e2e.truth/1",
        "bundle": format!("{id}.tar.zst"),
        "bundle_sha256": minetrace_e2e::plant::sha256_hex(&bytes),
        "truth": truth,
        "processes": planted.processes.iter().map(|p| serde_json::json!({
            "name": p.name,
            "pid": p.pid,
            "exe": minetrace_schemas::RawBytes::new(p.exe.clone()),
            "exe_sha256": p.exe_sha256,
            "exe_deleted": p.exe_deleted,
        })).collect::<Vec<_>>(),
        "collector_gaps": problems,
    });
    let truth_path = out_dir.join(format!("{id}.truth.json"));
    std::fs::write(&truth_path, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("writing {}", truth_path.display()))?;
    Ok((bytes.len() as u64, problems.len()))
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let out_dir = match args.iter().position(|a| a == "--out") {
        Some(i) => {
            let Some(dir) = args.get(i + 1).cloned() else {
                eprintln!("regenerate-samples: --out needs a directory");
                return ExitCode::from(2);
            };
            args.drain(i..=i + 1);
            std::path::PathBuf::from(dir)
        }
        None => minetrace_e2e::binaries::workspace_root().join("samples/bundles"),
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!(
            "regenerate-samples: cannot create {}: {e}",
            out_dir.display()
        );
        return ExitCode::from(2);
    }
    let ids = if args.is_empty() {
        match scenario::all_ids().and_then(|ids| {
            ids.into_iter()
                .map(|id| Ok((scenario::load(&id)?.scenario.sample_bundle, id)))
                .collect::<Result<Vec<_>>>()
        }) {
            Ok(v) => v
                .into_iter()
                .filter(|(keep, _)| *keep)
                .map(|(_, id)| id)
                .collect(),
            Err(e) => {
                eprintln!("regenerate-samples: {e:#}");
                return ExitCode::from(2);
            }
        }
    } else {
        args
    };
    let mut failed = 0;
    for id in &ids {
        match regenerate(id, &out_dir) {
            Ok((size, 0)) => println!("{id}: {size} bytes, matches its ground truth"),
            Ok((size, gaps)) => {
                println!("{id}: {size} bytes, {gaps} planted facts missing (see collector_gaps in {id}.truth.json)")
            }
            Err(e) => {
                failed += 1;
                eprintln!("{id}: FAILED: {e:#}");
            }
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
