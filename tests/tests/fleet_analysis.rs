//! Issue 19 "Done when": a synthetic fleet rewritten from the collected sample bundles (clusters cut
//! from compromised samples with their own indicators, clean hosts, lateral movement planted in auth
//! logs, histories and `known_hosts`) is analysed by the real `minetrace fleet`, which must recover the
//! planted clusters, lateral edges, first infected host and uncollected neighbours exactly. The fleet's
//! report then renders in headless Chromium, and its STIX bundle passes the OASIS validator (the helpers
//! are the analyzer's report tests' own).

#[path = "../../analyzer/tests/report_support/mod.rs"]
mod report_support;

use std::collections::BTreeSet;
use std::process::Command;

use minetrace_e2e::binaries;
use minetrace_e2e::fleet::{plan, write_fleet};
use minetrace_schemas::findings::Verdict;
use minetrace_schemas::fleet::{FleetDocument, Weight, FLEET_SCHEMA};

#[test]
fn fleet_analysis_recovers_the_planted_compromise() {
    let samples = binaries::workspace_root().join("samples/bundles");
    let (plans, truth) = plan(30, 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let bundles = dir.path().join("bundles");
    write_fleet(&samples, &plans, &bundles).expect("writing the fleet");
    let out = dir.path().join("out");
    let run = Command::new(binaries::analyzer().expect("analyzer"))
        .arg("fleet")
        .arg(&bundles)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("running minetrace fleet");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(1),
        "exit status (findings at medium or above)\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: FleetDocument =
        serde_json::from_slice(&std::fs::read(out.join("fleet.json")).expect("fleet.json"))
            .expect("fleet.json parses as the schema type");
    assert_eq!(doc.schema, FLEET_SCHEMA);
    assert!(doc.failed.is_empty(), "{:?}", doc.failed);
    assert_eq!(doc.hosts.len(), plans.len());

    let with = |v: Verdict| -> BTreeSet<String> {
        doc.hosts
            .iter()
            .filter(|h| h.verdict == v)
            .map(|h| h.name.clone())
            .collect()
    };
    assert_eq!(with(Verdict::Clean), truth.clean, "clean hosts");
    let mut dirty = with(Verdict::Compromised);
    dirty.extend(with(Verdict::Suspicious));
    assert_eq!(dirty, truth.compromised, "compromised hosts");
    for h in &doc.hosts {
        let p = plans
            .iter()
            .find(|p| p.name == h.name)
            .expect("planned host");
        assert_eq!(
            h.addresses,
            [p.address.to_string()],
            "addresses of {}",
            h.name
        );
        assert_eq!(h.hostname, p.hostname);
    }

    let clusters: BTreeSet<BTreeSet<String>> = doc
        .clusters
        .iter()
        .map(|c| c.hosts.iter().cloned().collect())
        .collect();
    assert_eq!(clusters, truth.clusters, "clusters");
    for c in &doc.clusters {
        assert!(
            c.indicators
                .iter()
                .any(|i| i.weight == Weight::Strong && i.hosts.len() == c.hosts.len()),
            "cluster {:?} has no strong indicator on all its hosts",
            c.hosts
        );
    }
    // Clusters cut from the same sample share weak indicators (their pools) and still stay apart.
    assert!(
        doc.shared_indicators
            .iter()
            .any(|i| i.weight == Weight::Weak
                && !clusters
                    .iter()
                    .any(|c| i.hosts.iter().all(|h| c.contains(h)))),
        "no weak indicator spans two clusters"
    );

    let edges: BTreeSet<(String, String)> = doc
        .lateral
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    assert_eq!(edges, truth.edges, "lateral edges");
    let dated: Vec<&String> = doc.lateral.iter().filter_map(|e| e.time.as_ref()).collect();
    assert!(
        dated.windows(2).all(|w| w[0] <= w[1]),
        "edges are ordered by time"
    );
    assert!(doc.lateral.iter().all(|e| !e.evidence.is_empty()));

    let first = doc.first_infected.as_ref().expect("a first infected host");
    assert_eq!(
        first.host, truth.first_infected,
        "first infected: {:?}",
        first.why
    );

    let neighbours: BTreeSet<String> = doc
        .uncollected_neighbours
        .iter()
        .map(|n| n.address.clone())
        .collect();
    assert_eq!(neighbours, truth.neighbours, "uncollected neighbours");

    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    report_support::assert_self_contained(&html);
    for needed in [
        "FLEET: 30 hosts",
        "Where it started",
        "Host graph",
        "<svg",
        "Clusters",
        "Lateral movement",
        "Neighbours not collected yet",
        "Timeline",
        &truth.first_infected,
    ] {
        assert!(html.contains(needed), "fleet report lacks {needed:?}");
    }
    let png = report_support::screenshot(&out.join("report.html"), &out.join("report.png"));
    assert!(
        png.len() > 50_000,
        "screenshot suspiciously small ({} bytes)",
        png.len()
    );
    report_support::validate_stix(&out.join("fleet.stix.json"));
    let timeline = std::fs::read_to_string(out.join("timeline.jsonl")).expect("timeline.jsonl");
    let lines: Vec<serde_json::Value> = timeline
        .lines()
        .map(|l| serde_json::from_str(l).expect("timeline line is JSON"))
        .collect();
    assert!(lines.iter().all(|l| l.get("message").is_some()
        && l.get("datetime").is_some()
        && l.get("timestamp_desc").is_some()));
    assert!(lines
        .iter()
        .any(|l| l["data_type"] == "minetrace:fleet:lateral"));
    report_support::keep(&out, "fleet-report");
    for p in &plans {
        assert!(out
            .join("hosts")
            .join(&p.name)
            .join("findings.json")
            .is_file());
    }
}
