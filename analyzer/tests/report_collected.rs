//! The graph, report and exports on a bundle the real collector takes from this machine while stand-in
//! "miners" run: copies of /bin/sleep under miner-like names, one of them deleted from a hidden temp
//! directory and holding a TCP connection to a fake pool on 127.66.0.1:3333 (loopback only), one under
//! the argv[0] `<script>alert(1)</script>` with a newline and markup in its executable's name.
//!
//! Checks: DOT accepted by `dot -Tsvg`, Cytoscape JSON consistent, Timesketch JSONL well formed, STIX
//! bundle valid for `stix2-validator`, report.html self-contained, escaped, and rendered by headless
//! Chromium into a non-trivial screenshot. Needs root (the collector reads every /proc/PID), graphviz,
//! chromium and `pip install stix2-validator`; fails, never skips, when one is missing.

mod report_support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::{inputs, write_outputs};
use minetrace_schemas::findings::{Finding, FindingSubject, Severity, Subject};
use minetrace_schemas::RawBytes;
use report_support::*;
use serde_json::Value;

const HOSTILE_ARG0: &str = "<script>alert(1)</script>";
const HOSTILE_FILE: &str = "ev\"il\n<b>x";

#[test]
fn collected_bundle_outputs_validate_and_render() {
    assert!(
        running_as_root(),
        "this test collects the live host and must run as root (the CI runs as root)"
    );
    let collector = collector();
    let work = tempfile::tempdir().expect("tempdir");
    let hidden = work.path().join(".X25-unix");
    std::fs::create_dir_all(&hidden).expect("mkdir");

    // The fake pool and the stand-ins.
    let listener = pool_listener();
    let conn = TcpStream::connect(POOL).expect("connect to the fake pool");
    let (_server_side, _) = listener.accept().expect("accept");
    let mut kids = Children::default();
    let miner_exe = hidden.join("kdevtmpfsi");
    kids.0.push(stand_in(&miner_exe, "kdevtmpfsi", Some(conn)));
    let hostile_exe = hidden.join(HOSTILE_FILE);
    kids.0.push(stand_in(&hostile_exe, HOSTILE_ARG0, None));
    std::thread::sleep(Duration::from_millis(300));
    // A deleted running image, as droppers leave it.
    std::fs::remove_file(&miner_exe).expect("delete the miner's image");
    let miner_pid = i32::try_from(kids.0[0].id()).expect("pid");
    let hostile_pid = i32::try_from(kids.0[1].id()).expect("pid");

    let bundle = work.path().join("host.tar.zst");
    let out = std::process::Command::new(&collector)
        .arg("-o")
        .arg(&bundle)
        .output()
        .expect("run collector");
    assert!(
        out.status.success(),
        "collector failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(kids);

    let mut analysis =
        Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis");
    let miner = analysis
        .model
        .process(miner_pid)
        .cloned()
        .expect("the collector recorded the miner stand-in");
    let hostile = analysis
        .model
        .process(hostile_pid)
        .cloned()
        .expect("the collector recorded the hostile stand-in");
    // Whatever the detectors say, the outputs must show findings about these two: add what is missing.
    let about = |f: &Finding, pid: i32| {
        f.subjects
            .iter()
            .any(|s| matches!(s.subject, Subject::Process { pid: p, .. } if p == pid))
    };
    let detected = analysis
        .document
        .findings
        .iter()
        .any(|f| about(f, miner_pid) && f.severity >= Severity::Medium);
    eprintln!(
        "detectors flagged the miner stand-in: {detected}; {} findings",
        analysis.document.findings.len()
    );
    for (p, rule) in [(&miner, "TEST-MINER"), (&hostile, "TEST-HOSTILE")] {
        if analysis.document.findings.iter().any(|f| about(f, p.pid)) {
            continue;
        }
        analysis.document.findings.push(Finding {
            rule: rule.into(),
            severity: Severity::High,
            title: "stand-in flagged by the test".into(),
            family: None,
            attack: vec!["T1496".into()],
            subjects: vec![
                Subject::Process {
                    pid: p.pid,
                    start_ticks: p.start_ticks,
                    exe: p.exe.as_ref().map(|e| e.path.clone()),
                },
                Subject::Endpoint { addr: POOL.into() },
            ]
            .into_iter()
            .map(FindingSubject::new)
            .collect(),
            evidence: vec![format!(
                "pid {} argv0 {}",
                p.pid,
                RawBytes::new(p.argv().first().copied().unwrap_or_default()).escaped()
            )],
        });
    }

    let dir = work.path().join("out");
    let started = Instant::now();
    write_outputs(&analysis, &dir).expect("write outputs");
    eprintln!(
        "write_outputs (graph, exports, report) took {:?} for {} processes",
        started.elapsed(),
        analysis.model.processes.len()
    );
    keep(&dir, "collected");

    // graph.json: the miner, its deleted image and its observed connection to the pool.
    let doc = cytoscape(&dir.join("graph.json"));
    let boot = &analysis.document.host.boot_id;
    let miner_id = format!("proc:{boot}:{}:{}", miner.pid, miner.start_ticks);
    let miner_node = nodes(&doc)
        .into_iter()
        .find(|n| n["data"]["id"] == miner_id.as_str())
        .expect("miner node");
    assert_eq!(miner_node["data"]["type"], "process");
    assert!(miner_node["data"]["label"]
        .as_str()
        .unwrap_or_default()
        .contains("kdevtmpfsi"));
    let edges = edges(&doc);
    let from_miner = |rel: &str| -> Vec<Value> {
        edges
            .iter()
            .filter(|e| e["data"]["source"] == miner_id.as_str() && e["data"]["relation"] == rel)
            .cloned()
            .collect()
    };
    let sock = from_miner("owns_socket");
    assert!(
        sock.iter()
            .any(|e| e["data"]["target"] == format!("ep:{POOL}").as_str()
                && e["data"]["level"] == "observed"),
        "no observed owns_socket edge to the pool: {sock:?}"
    );
    let image = from_miner("runs_image");
    let image_id = image
        .first()
        .map(|e| e["data"]["target"].as_str().unwrap_or_default().to_owned())
        .expect("runs_image edge");
    let image_node = nodes(&doc)
        .into_iter()
        .find(|n| n["data"]["id"] == image_id.as_str())
        .expect("image node");
    assert_eq!(
        image_node["data"]["attrs"]["deleted"], "true",
        "{image_node}"
    );
    assert!(
        image_id.starts_with("file:") && !image_id.starts_with("file:path:"),
        "image id is dev:ino: {image_id}"
    );
    assert!(
        !from_miner("child_of").is_empty(),
        "miner has no child_of edge"
    );
    // The finding points at it.
    assert!(edges
        .iter()
        .any(|e| e["data"]["relation"] == "concerns" && e["data"]["target"] == miner_id.as_str()));

    // graph.dot: Graphviz accepts it and the hostile name stays text.
    let dot = std::fs::read_to_string(dir.join("graph.dot")).expect("graph.dot");
    assert!(
        !dot.contains(HOSTILE_FILE),
        "raw hostile bytes in graph.dot"
    );
    let svg = dot_svg(&dir.join("graph.dot"));
    assert!(
        !svg.to_ascii_lowercase().contains("<script"),
        "dot output has a script element"
    );

    // timeline.jsonl: the miner's start is there.
    let events = timeline(&dir.join("timeline.jsonl"));
    assert!(events
        .iter()
        .any(|e| e["node_id"] == miner_id.as_str() && e["timestamp_desc"] == "Process start"));
    assert!(events
        .iter()
        .all(|e| !e["message"].as_str().unwrap_or_default().contains('\n')));

    // iocs.stix.json: valid STIX 2.1, with the pool endpoint as an indicator.
    validate_stix(&dir.join("iocs.stix.json"));
    let stix: Value =
        serde_json::from_slice(&std::fs::read(dir.join("iocs.stix.json")).expect("stix"))
            .expect("stix json");
    let objects = stix["objects"].as_array().expect("objects");
    assert!(objects.iter().any(|o| o["type"] == "indicator"
        && o["pattern"]
            .as_str()
            .is_some_and(|p| p.contains("'127.66.0.1'") && p.contains("dst_port = 3333"))));
    assert!(objects.iter().any(|o| o["type"] == "malware"));

    // report.html: self-contained, the hostile argv[0] is text.
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_self_contained(&html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "hostile argv0 not shown escaped"
    );
    assert!(
        !html.contains(HOSTILE_FILE) && !html.contains("<b>x"),
        "raw hostile file name in report"
    );
    assert!(html.contains("<svg") && html.contains("kdevtmpfsi"));
    let png = screenshot(&dir.join("report.html"), &dir.join("report.png"));
    assert!(
        png.len() > 30_000,
        "screenshot suspiciously small ({} bytes)",
        png.len()
    );
    keep(&dir, "collected");
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
