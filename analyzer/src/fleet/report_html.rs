//! The fleet's `report.html`: one self-contained page — the fleet's verdict counts, the proposed first
//! infected host and why, the host graph ([`super::host_graph`]), hosts × verdict/family/first seen/
//! miners/pools, clusters with their shared indicators, lateral movement, the neighbours to collect
//! next, a timeline, and bundles that failed. Each host's own report is at `hosts/NAME/report.html`
//! (named, not linked: the page references nothing outside itself, under a `default-src 'none'` CSP).
//! Every string from a bundle was escaped to printable ASCII by its producer and is escaped for HTML here.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use minetrace_schemas::findings::Verdict;
use minetrace_schemas::fleet::{FleetDocument, SharedIndicator, Weight};

use super::host_graph;
use crate::output::escape;

/// Rows per table; the full lists are in `fleet.json`.
pub const MAX_ROWS: usize = 500;
/// Timeline rows shown (the full timeline is `timeline.jsonl`).
pub const TIMELINE_ROWS: usize = 300;

const CSS: &str = r#"
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1600px;margin:0 auto;padding:12px 24px 40px}
header{padding:14px 24px;color:#fff;font-size:20px;font-weight:600;background:#1e7f3b}
header.compromised{background:#b3261e}header.suspicious{background:#b06000}
h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;background:#fff;width:100%}
td,th{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef1f4}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.box{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:8px 0}
.graph{background:#fff;border:1px solid #d0d7de;border-radius:6px;overflow:auto;padding:6px}
.compromised{color:#a50e0e;font-weight:600}.suspicious{color:#b06000;font-weight:600}.clean{color:#1e7f3b}
.strong{font-weight:600}.weak{color:#57606a}
svg text{font-family:Helvetica,Arial,sans-serif}svg .nlabel{font-size:12px;fill:#1f2328}svg .kind{font-size:10px;fill:#57606a}
.muted{color:#57606a}
"#;

/// HTML for text that is already escaped printable ASCII (anything else is made visible first).
fn t(s: &str) -> String {
    escape::html(&escape::visible(s))
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Compromised => "compromised",
        Verdict::Suspicious => "suspicious",
        Verdict::Clean => "clean",
    }
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| t(i)).collect::<Vec<_>>().join("<br>")
}

fn more(s: &mut String, total: usize) {
    if total > MAX_ROWS {
        let _ = write!(
            s,
            "<p class=\"muted\">{} more in fleet.json</p>",
            total - MAX_ROWS
        );
    }
}

pub fn render(doc: &FleetDocument) -> String {
    let count = |v: Verdict| doc.hosts.iter().filter(|h| h.verdict == v).count();
    let (bad, odd, clean) = (
        count(Verdict::Compromised),
        count(Verdict::Suspicious),
        count(Verdict::Clean),
    );
    let class = if bad > 0 {
        "compromised"
    } else if odd > 0 {
        "suspicious"
    } else {
        "clean"
    };
    let mut s = String::with_capacity(256 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>minetrace fleet report</title><style>{CSS}</style></head><body>\n\
<header class=\"{class}\">FLEET: {} hosts &mdash; {bad} compromised, {odd} suspicious, {clean} clean{}</header>\n<main>\n",
        doc.hosts.len(),
        if doc.failed.is_empty() {
            String::new()
        } else {
            format!(", {} bundles failed", doc.failed.len())
        }
    );
    origin(&mut s, doc);
    graph(&mut s, doc);
    hosts(&mut s, doc);
    clusters(&mut s, doc);
    lateral(&mut s, doc);
    neighbours(&mut s, doc);
    timeline(&mut s, doc);
    failed(&mut s, doc);
    let _ = writeln!(
        s,
        "<p class=\"muted\">minetrace {} &middot; each host's report: hosts/NAME/report.html</p></main></body></html>",
        t(&doc.analyzer_version)
    );
    s
}

fn origin(s: &mut String, doc: &FleetDocument) {
    s.push_str("<h2>Where it started</h2><div class=\"box\">");
    match &doc.first_infected {
        Some(f) => {
            let _ = write!(
                s,
                "Probable first infected host: <b class=\"mono\">{}</b><ul>",
                t(&f.host)
            );
            for w in &f.why {
                let _ = write!(s, "<li>{}</li>", t(w));
            }
            s.push_str("</ul>");
        }
        None => s.push_str("No host is compromised."),
    }
    s.push_str("</div>\n");
}

fn graph(s: &mut String, doc: &FleetDocument) {
    s.push_str("<h2>Host graph</h2><div class=\"graph\">");
    if doc.lateral.is_empty() && doc.clusters.is_empty() {
        s.push_str("<p class=\"muted\">No lateral movement and no cluster.</p>");
    } else {
        s.push_str(&host_graph::svg(doc));
    }
    s.push_str("</div><p class=\"muted\">Arrows: lateral movement (solid observed, dashed parsed from logs, histories or known_hosts, dotted suspected). Grey dashed boxes: addresses not collected. Stripe: cluster.");
    let omitted = host_graph::omitted(doc);
    if omitted > 0 {
        let _ = write!(s, " {omitted} hosts or addresses not drawn.");
    }
    s.push_str("</p>\n");
}

fn hosts(s: &mut String, doc: &FleetDocument) {
    s.push_str("<h2>Hosts</h2><table><tr><th>host</th><th>hostname</th><th>verdict</th><th>families</th><th>first seen</th><th>miners</th><th>pools</th><th>addresses</th><th>findings</th></tr>");
    let mut rows: Vec<_> = doc.hosts.iter().collect();
    rows.sort_by_key(|h| {
        (
            h.verdict != Verdict::Compromised,
            h.verdict != Verdict::Suspicious,
            h.first_seen.is_none(),
            h.first_seen.clone(),
            h.name.clone(),
        )
    });
    for h in rows.iter().take(MAX_ROWS) {
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"{}\">{}{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            t(&h.name),
            t(&h.hostname),
            verdict_class(h.verdict),
            verdict_class(h.verdict),
            if h.tampered { " (TAMPERED)" } else { "" },
            list(&h.families),
            t(h.first_seen.as_deref().unwrap_or("")),
            list(&h.miners),
            list(&h.pools),
            list(&h.addresses),
            h.findings
        );
    }
    s.push_str("</table>");
    more(s, doc.hosts.len());
}

fn indicator_rows(s: &mut String, inds: &[SharedIndicator]) {
    s.push_str("<table><tr><th>weight</th><th>kind</th><th>value</th><th>hosts</th></tr>");
    for i in inds.iter().take(MAX_ROWS) {
        let w = if i.weight == Weight::Strong {
            "strong"
        } else {
            "weak"
        };
        let _ = write!(
            s,
            "<tr><td class=\"{w}\">{w}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            i.kind.name(),
            t(&i.value),
            t(&i.hosts.join(", "))
        );
    }
    s.push_str("</table>");
    more(s, inds.len());
}

fn clusters(s: &mut String, doc: &FleetDocument) {
    s.push_str("<h2>Clusters</h2>");
    if doc.clusters.is_empty() {
        s.push_str("<p class=\"muted\">No two hosts share a strong indicator.</p>");
    }
    for (n, c) in doc.clusters.iter().enumerate().take(50) {
        let _ = write!(
            s,
            "<div class=\"box\"><b>Cluster {}</b>: {} hosts <span class=\"mono\">{}</span>",
            n + 1,
            c.hosts.len(),
            t(&c.hosts.join(", "))
        );
        indicator_rows(s, &c.indicators);
        s.push_str("</div>");
    }
    let loose: Vec<SharedIndicator> = doc
        .shared_indicators
        .iter()
        .filter(|i| i.weight == Weight::Weak)
        .cloned()
        .collect();
    if !loose.is_empty() {
        s.push_str("<p>Weak indicators shared across the fleet (they join no cluster):</p>");
        indicator_rows(s, &loose);
    }
    s.push('\n');
}

fn lateral(s: &mut String, doc: &FleetDocument) {
    s.push_str("<h2>Lateral movement</h2>");
    if doc.lateral.is_empty() {
        s.push_str("<p class=\"muted\">None found.</p>\n");
        return;
    }
    s.push_str(
        "<table><tr><th>time</th><th>from</th><th>to</th><th>level</th><th>evidence</th></tr>",
    );
    for e in doc.lateral.iter().take(MAX_ROWS) {
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{:?}</td><td class=\"mono\">{}</td></tr>",
            t(e.time.as_deref().unwrap_or("undated")),
            t(&e.from),
            t(&e.to),
            e.level,
            list(&e.evidence)
        );
    }
    s.push_str("</table>");
    more(s, doc.lateral.len());
    s.push('\n');
}

fn neighbours(s: &mut String, doc: &FleetDocument) {
    s.push_str("<h2>Neighbours not collected yet</h2>");
    if doc.uncollected_neighbours.is_empty() {
        s.push_str("<p class=\"muted\">None: every host the compromised ones reached or were reached from is in the set.</p>\n");
        return;
    }
    s.push_str("<table><tr><th>address or name</th><th>seen from</th><th>why</th></tr>");
    for n in doc.uncollected_neighbours.iter().take(MAX_ROWS) {
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            t(&n.address),
            t(&n.seen_from.join(", ")),
            list(&n.why)
        );
    }
    s.push_str("</table>");
    more(s, doc.uncollected_neighbours.len());
    s.push('\n');
}

fn timeline(s: &mut String, doc: &FleetDocument) {
    let mut rows: Vec<(String, String)> = doc
        .hosts
        .iter()
        .filter_map(|h| {
            Some((
                h.first_seen.clone()?,
                format!("{}: first sign of compromise", h.name),
            ))
        })
        .chain(doc.lateral.iter().filter_map(|e| {
            Some((
                e.time.clone()?,
                format!("lateral movement {} -> {}", e.from, e.to),
            ))
        }))
        .collect();
    rows.sort();
    s.push_str("<h2>Timeline</h2>");
    if rows.is_empty() {
        s.push_str("<p class=\"muted\">No dated event.</p>\n");
        return;
    }
    s.push_str("<table><tr><th>time (UTC)</th><th>event</th></tr>");
    for (time, what) in rows.iter().take(TIMELINE_ROWS) {
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            t(time),
            t(what)
        );
    }
    s.push_str("</table><p class=\"muted\">Each host's events are in timeline.jsonl.</p>\n");
}

fn failed(s: &mut String, doc: &FleetDocument) {
    if doc.failed.is_empty() {
        return;
    }
    s.push_str(
        "<h2>Bundles that could not be analysed</h2><table><tr><th>bundle</th><th>error</th></tr>",
    );
    for f in doc.failed.iter().take(MAX_ROWS) {
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            t(&f.bundle),
            t(&f.error)
        );
    }
    s.push_str("</table>\n");
}

pub fn write(doc: &FleetDocument, out: &mut dyn Write) -> Result<()> {
    out.write_all(render(doc).as_bytes())?;
    Ok(())
}
