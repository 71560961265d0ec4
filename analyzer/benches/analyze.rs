//! Detection speed on one real host bundle: load + verify + model, then every detector (runtime and
//! footholds, family attribution, allowlist) repeated, excluding report rendering.
//!
//! `cargo bench -p minetrace-analyzer --bench analyze [-- BUNDLE]`. Without a bundle (argument or
//! `MINETRACE_BENCH_BUNDLE`), it collects this host with the debug collector first (built if needed).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use minetrace_analyzer::allowlist::Allowlist;
use minetrace_analyzer::analysis::{Analysis, AnalysisInputs};
use minetrace_analyzer::detect;
use minetrace_analyzer::indicators::Indicators;

mod support;

const ROUNDS: usize = 30;

fn collect_this_host() -> PathBuf {
    let out = std::env::temp_dir().join(format!("minetrace-bench-{}.tar.zst", std::process::id()));
    support::collect(None, &out);
    out
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let min = v.first().copied().unwrap_or_default();
    let med = v.get(v.len() / 2).copied().unwrap_or_default();
    let max = v.last().copied().unwrap_or_default();
    format!(
        "min {:.2} ms, median {:.2} ms, max {:.2} ms",
        ms(min),
        ms(med),
        ms(max)
    )
}

fn main() {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let (bundle, collected) = match arg.or_else(|| std::env::var("MINETRACE_BENCH_BUNDLE").ok()) {
        Some(p) => (PathBuf::from(p), false),
        None => (collect_this_host(), true),
    };
    let inputs = AnalysisInputs {
        iocs: Indicators::builtin(),
        allow: Allowlist::default(),
        allow_tampered: false,
    };

    let mut whole = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let a = Analysis::run(&bundle, &inputs).expect("analyze the bundle");
        whole.push(t.elapsed());
        last = Some(a);
    }
    let Some(analysis) = last else { return };
    let m = &analysis.model;
    let size = std::fs::metadata(&bundle).map(|md| md.len()).unwrap_or(0);
    println!(
        "bundle {} ({} KiB): {} processes, {} executables ({} copied), {} sockets, {} files",
        bundle.display(),
        size / 1024,
        m.processes.len(),
        m.executables.len(),
        m.executables
            .iter()
            .filter(|e| matches!(
                e.copy,
                minetrace_schemas::records::executable::CopyStatus::Copied { .. }
            ))
            .count(),
        m.sockets.len(),
        m.files.len()
    );

    let mut detect_all = Vec::new();
    let mut n = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        n = detect::analyze(m, &inputs.iocs, &inputs.allow).len();
        detect_all.push(t.elapsed());
    }
    let ctx = detect::Context {
        model: m,
        iocs: &inputs.iocs,
    };
    println!("load+verify+model+detect (Analysis::run): {}", stats(whole));
    println!("all detectors ({n} findings): {}", stats(detect_all));
    for (name, d) in detect::detectors() {
        let mut v = Vec::new();
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let _ = d(&ctx);
            v.push(t.elapsed());
        }
        println!("  {name}: {}", stats(v));
    }
    if collected {
        let _ = std::fs::remove_file(&bundle);
        let mut side = bundle.into_os_string();
        side.push(".sha256");
        let _ = std::fs::remove_file(side);
    }
}
