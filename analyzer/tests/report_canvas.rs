//! The report's graph fits its canvas (issue 17), measured by a real browser: the `<svg>` of `report.html`
//! is put in a page with a script (the report itself runs none) that asks headless Chromium for the
//! bounding box of every drawn element and node label; nothing may lie outside the `viewBox`, no two
//! node labels may overlap and no label may be wider than its node. Done for every sample with findings
//! and for a synthetic host with 200 findings; that one and the sample with the most findings are
//! screenshotted too. Needs
//! `apt-get install -y chromium`; fails when it is missing.

mod report_support;

use std::path::Path;
use std::process::Stdio;

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::{inputs, write_outputs};
use minetrace_schemas::findings::{Finding, FindingSubject, Role, Severity, Subject};
use minetrace_schemas::RawBytes;
use report_support::*;

/// The script measuring the drawing; it writes its verdict into `#result`.
const MEASURE: &str = r#"
const svg = document.querySelector('svg.graph');
const vb = svg.viewBox.baseVal;
const bad = [];
let checked = 0;
for (const el of svg.querySelectorAll('path, rect, ellipse, text, line')) {
  if (el.closest('marker')) continue;
  checked++;
  const b = el.getBBox();
  if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5
      || b.y + b.height > vb.y + vb.height + 0.5) {
    bad.push('outside: ' + el.tagName + ' ' + [b.x, b.y, b.width, b.height].map(Math.round).join(',')
      + ' ' + (el.textContent || el.getAttribute('d') || '').slice(0, 60));
  }
}
const labels = [...svg.querySelectorAll('text.nlabel, text.kind')].map(t => [t, t.getBBox()]);
for (let i = 0; i < labels.length; i++) {
  const [t, a] = labels[i];
  if (t.classList.contains('nlabel') && a.width > 200 + 0.5) bad.push('wider than its node: ' + t.textContent);
  for (let j = i + 1; j < labels.length; j++) {
    const b = labels[j][1];
    if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) {
      bad.push('labels overlap: ' + t.textContent + ' / ' + labels[j][0].textContent);
    }
  }
}
document.getElementById('result').textContent =
  'checked ' + checked + ' labels ' + labels.length + ' bad ' + bad.length + '\n' + bad.join('\n');
"#;

/// Runs the measuring page in headless Chromium and returns `#result`'s text.
fn measure(svg: &str, dir: &Path) -> String {
    let page = dir.join("measure.html");
    std::fs::write(
        &page,
        format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>svg text{{font-family:Helvetica,Arial,sans-serif}} svg .kind{{font-size:10px}} svg .nlabel{{font-size:11px;font-family:ui-monospace,Menlo,Consolas,monospace}} svg .elabel{{font-size:9px}} svg .stage{{font-size:14px;font-weight:600}}</style></head><body>{svg}<pre id=\"result\">not run</pre><script>{MEASURE}</script></body></html>"),
    )
    .expect("write page");
    let profile = tempfile::tempdir().expect("profile");
    let out = headless_chromium(profile.path())
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .expect("start chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = dom.find("<pre id=\"result\">").expect("result element") + 17;
    let end = dom[start..].find("</pre>").map_or(dom.len(), |e| start + e);
    dom[start..end].to_owned()
}

/// Writes the report of `analysis`, measures its graph and, with `shoot`, screenshots it.
fn check_report(analysis: &Analysis, label: &str, shoot: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_outputs(analysis, dir.path()).expect("outputs");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert_self_contained(&html);
    let start = html
        .find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\"")
        .expect("graph svg");
    let end = html[start..].find("</svg>").expect("svg end") + start + 6;
    let result = measure(&html[start..end], dir.path());
    let first = result.lines().next().unwrap_or("");
    assert!(first.starts_with("checked "), "{label}: {result}");
    let checked: usize = first
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        checked > 10,
        "{label}: only {checked} elements drawn: {result}"
    );
    assert!(first.ends_with(" bad 0"), "{label}: {result}");
    if shoot {
        let png = screenshot(
            &dir.path().join("report.html"),
            &dir.path().join("report.png"),
        );
        assert!(
            png.len() > 50_000,
            "{label}: screenshot of {} bytes",
            png.len()
        );
    }
    keep(dir.path(), label);
}

fn sample(name: &str) -> Analysis {
    let bundle = workspace_root().join(format!("samples/bundles/{name}.tar.zst"));
    Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis")
}

#[test]
fn graph_of_every_sample_fits_its_canvas() {
    let dir = workspace_root().join("samples/bundles");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("samples")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".tar.zst").map(str::to_owned)
        })
        .collect();
    names.sort();
    let analyses: Vec<(String, Analysis)> = names
        .into_iter()
        .map(|name| {
            let a = sample(&name);
            (name, a)
        })
        .collect();
    // The sample with the most findings is also screenshotted.
    let most = analyses
        .iter()
        .max_by_key(|(_, a)| a.document.findings.len())
        .map(|(name, _)| name.clone())
        .expect("a sample");
    for (name, analysis) in &analyses {
        if analysis.document.findings.is_empty() {
            continue;
        }
        check_report(analysis, &format!("{name}-canvas"), *name == most);
    }
}

#[test]
fn graph_of_a_host_with_200_findings_fits_its_canvas() {
    let mut analysis = sample("kinsing-redis");
    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];
    for i in 0..200 {
        let severity = severities[i % severities.len()];
        let file = Subject::File {
            path: RawBytes::from(
                format!("/var/tmp/.kit-{i}/payload-with-a-long-name-{i}.bin").as_bytes(),
            ),
            sha256: None,
        };
        let line = Subject::Persistence {
            path: RawBytes::from(format!("/etc/cron.d/job-{}", i % 40).as_bytes()),
            line: (i / 40 + 1) as u32,
        };
        let endpoint = Subject::Endpoint {
            addr: format!("127.66.{}.{}:{}", i / 50, i % 50 + 1, 3333 + i % 7),
        };
        analysis.document.findings.push(Finding {
            rule: format!("MT-SYN-{:03}", i % 12),
            severity,
            title: "synthetic finding".into(),
            family: None,
            attack: vec!["T1496".into()],
            subjects: vec![
                FindingSubject {
                    subject: file,
                    role: Role::Artifact,
                },
                FindingSubject {
                    subject: line,
                    role: Role::Artifact,
                },
                FindingSubject {
                    subject: endpoint,
                    role: Role::Artifact,
                },
            ],
            evidence: vec![format!("synthetic evidence {i}")],
        });
    }
    assert!(analysis.document.findings.len() >= 200);
    check_report(&analysis, "synthetic-200-canvas", true);
}
