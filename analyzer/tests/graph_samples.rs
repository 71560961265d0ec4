//! The graph, entry point and exports on every sample bundle of `samples/bundles/` (collected by the
//! real collector from the sandboxed scenarios), checked against each scenario's ground truth
//! (`*.truth.json`): the malicious processes are in the drawn neighbourhood, the malicious persistence
//! lines and endpoints are graph nodes, the entry point matches where the truth names one, clean hosts
//! get no entry point; every output validates (dot, stix2-validator, Timesketch JSONL, Cytoscape JSON,
//! self-contained HTML).

mod report_support;

use std::path::PathBuf;

use minetrace_analyzer::analysis::Analysis;
use minetrace_analyzer::commands::analyze::{inputs, write_outputs};
use minetrace_analyzer::graph::nodes::Relation;
use minetrace_analyzer::graph::Trace;
use petgraph::visit::EdgeRef;
use report_support::*;
use serde_json::Value;

fn samples() -> Vec<(String, PathBuf, Value)> {
    let dir = workspace_root().join("samples").join("bundles");
    let mut out = Vec::new();
    let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".truth.json") else {
            continue;
        };
        let truth: Value =
            serde_json::from_slice(&std::fs::read(e.path()).expect("truth")).expect("truth json");
        out.push((stem.to_owned(), dir.join(format!("{stem}.tar.zst")), truth));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 5,
        "expected the sample bundles in {}",
        dir.display()
    );
    out
}

#[test]
fn samples_graph_matches_ground_truth_and_outputs_validate() {
    let mut failures = Vec::new();
    for (name, bundle, truth) in samples() {
        let t = &truth["truth"];
        let analysis =
            Analysis::run(&bundle, &inputs(&[], None, false).expect("inputs")).expect("analysis");
        let trace = Trace::of(&analysis);
        let boot = analysis.document.host.boot_id.clone();
        let view: Vec<String> = trace
            .view
            .nodes
            .iter()
            .map(|i| trace.graph.id_of(*i).to_owned())
            .collect();
        let in_graph = |pred: &dyn Fn(&str) -> bool| {
            trace
                .graph
                .sorted_nodes()
                .into_iter()
                .any(|i| pred(trace.graph.id_of(i)))
        };
        let mut fail = |what: String| failures.push(format!("{name}: {what}"));
        let compromised = t["verdict"] == "compromised";
        for m in t["malicious"].as_array().cloned().unwrap_or_default() {
            match m["kind"].as_str().unwrap_or_default() {
                "process" => {
                    let prefix = format!("proc:{boot}:{}:", m["pid"]);
                    if !view.iter().any(|v| v.starts_with(&prefix)) {
                        fail(format!(
                            "malicious process {prefix}* not in the drawn neighbourhood"
                        ));
                    }
                }
                "persistence" => {
                    let suffix = format!(":{}:{}", path_text(&m["path"]), m["line"]);
                    if !in_graph(&|id: &str| id.starts_with("persist:") && id.ends_with(&suffix)) {
                        fail(format!("persistence {suffix} is not a graph node"));
                    }
                }
                "endpoint" => {
                    let id = format!("ep:{}", m["addr"].as_str().unwrap_or_default());
                    if trace.graph.index_of(&id).is_none() {
                        fail(format!("endpoint {id} is not a graph node"));
                    }
                }
                _ => {}
            }
        }
        // A mapping or running image lands on the file it names (an overlay root gives a mapping the
        // overlay's device and a layer's inode number, which a directory may also carry).
        for e in trace.graph.g.edge_references() {
            let w = e.weight();
            if !matches!(w.relation, Relation::Maps | Relation::RunsImage) {
                continue;
            }
            let path = trace
                .graph
                .node_at(e.target())
                .and_then(|n| n.attrs.get("path"))
                .cloned()
                .unwrap_or_default();
            if path.is_empty() || !w.evidence.iter().any(|ev| ev.contains(path.as_str())) {
                fail(format!(
                    "{:?} edge {:?} lands on a file named {path:?}",
                    w.relation, w.evidence
                ));
            }
        }
        // One file is one node: a `same_path` edge between two ids of one inode number is an overlay's
        // two views of the same file (a layer's device in `/proc/PID/maps`, the overlay's in `stat`).
        for e in trace.graph.g.edge_references() {
            if e.weight().relation != Relation::SamePath {
                continue;
            }
            let ino = |i| trace.graph.id_of(i).rsplit(':').next().map(str::to_owned);
            if ino(e.source()) == ino(e.target()) {
                fail(format!(
                    "same_path joins two ids of one inode: {:?}",
                    e.weight().evidence
                ));
            }
        }
        let best = trace.entry.best();
        let want = t["entry_point"].as_str().unwrap_or_default();
        let got = best.map_or("none", |b| b.vector.name());
        match want {
            "none" | "unknown" | "exposed_service" | "web_application" | "ssh_brute_force"
            | "ssh_key" | "lateral_movement" | "supply_chain" => {
                let service_ok = t["entry_service"]
                    .as_str()
                    .is_none_or(|s| best.and_then(|b| b.service.as_deref()) == Some(s));
                // A host that is not clean without its allowlist has something to trace.
                let clean_by_allowlist = want == "none" && !t["allowlist"].is_null();
                if (got != want || !service_ok) && !clean_by_allowlist {
                    fail(format!(
                        "entry point should be {want} {}, got {got}: {}",
                        t["entry_service"],
                        trace.entry.summary()
                    ));
                }
            }
            other => eprintln!(
                "{name}: truth entry point {other:?} (vocabulary before issue 20; regenerate the samples); inferred: {}",
                trace.entry.summary()
            ),
        }
        let runs_malware = t["malicious"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["kind"] == "process"));
        if compromised
            && runs_malware
            && trace
                .chain
                .stages
                .iter()
                .all(|s| s.stage.name() != "c2_mining" || s.items.is_empty())
        {
            fail("no C2/mining item in the kill chain".into());
        }
        let out = tempfile::tempdir().expect("tempdir");
        write_outputs(&analysis, out.path()).expect("outputs");
        cytoscape(&out.path().join("graph.json"));
        timeline(&out.path().join("timeline.jsonl"));
        dot_svg(&out.path().join("graph.dot"));
        validate_stix(&out.path().join("iocs.stix.json"));
        let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
        assert_self_contained(&html);
        keep(out.path(), &name);
    }
    assert!(
        failures.is_empty(),
        "ground truth not met:\n{}",
        failures.join("\n")
    );
}

/// A truth path (`"text"` or `{"hex": ...}`) as it appears in node ids (escaped bytes).
fn path_text(v: &Value) -> String {
    match (v.as_str(), v["hex"].as_str()) {
        (Some(s), _) => minetrace_schemas::escape_bytes(s.as_bytes()),
        (None, Some(h)) => {
            let bytes: Vec<u8> = (0..h.len() / 2)
                .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            minetrace_schemas::escape_bytes(&bytes)
        }
        _ => String::new(),
    }
}
