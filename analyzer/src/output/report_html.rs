//! `report.html`: one self-contained page for the analyst — verdict, entry point and kill chain, findings
//! with their evidence, the neighbourhood graph as inline SVG, the timeline, and the remediation plan.
//!
//! No script, no external reference of any kind: a Content-Security-Policy of `default-src 'none'` makes
//! the browser refuse anything else even if an escaping bug slipped through. Every host string is escaped
//! twice over: to printable ASCII by `escape_bytes`, then for HTML by [`escape::html`].
//!
//! The remediation section shows [`ReportExtras::remediation_plan`] when the remediation stage supplies
//! it, and points at `remediate.sh` otherwise.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use minetrace_schemas::findings::{FindingsDocument, Severity, Verdict};

use crate::analysis::Analysis;
use crate::graph::nodes::NodeVerdict;
use crate::graph::Trace;
use crate::output::incidents::IncidentView;
use crate::output::summary::{describe_subject, role_note};
use crate::output::{escape, iso_us, report_svg};

/// Timeline rows shown in the report (the full timeline is `timeline.jsonl`).
pub const TIMELINE_ROWS: usize = 300;

/// What other stages add to the report.
#[derive(Debug, Default, Clone)]
pub struct ReportExtras {
    /// One line per step of the remediation plan (already escaped or plain ASCII); `None` until the
    /// remediation stage provides it.
    pub remediation_plan: Option<Vec<String>>,
    /// The incidents, shown first; `None` when the caller did not build the plan they count from.
    pub incidents: Option<Vec<IncidentView>>,
}

impl ReportExtras {
    /// Everything the remediation plan adds: its steps and the incidents it counts for.
    pub fn of(analysis: &Analysis, trace: &Trace, plan: &crate::remediate::Plan) -> ReportExtras {
        ReportExtras {
            remediation_plan: Some(crate::remediate::plan_lines(plan)),
            incidents: Some(crate::output::incidents::views(analysis, trace, plan)),
        }
    }
}

const CSS: &str = r#"
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1500px;margin:0 auto;padding:16px 24px 40px}
h1{font-size:22px;margin:8px 0}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.banner{padding:14px 24px;color:#fff;font-size:20px;font-weight:600}
.banner.compromised{background:#b3261e}.banner.suspicious{background:#b06000}.banner.clean{background:#1e7f3b}
.tampered{background:#6a1b9a;color:#fff;padding:10px 24px;font-weight:600}
table{border-collapse:collapse;background:#fff;width:100%}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef1f4}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:8px 0}
.lead{font-size:1.05em;margin:8px 16px;font-weight:600}
.finding .cols{display:flex;gap:16px}.finding .cols>div{flex:1;min-width:0}.finding ul{margin:2px 0 0;padding-left:18px}.finding b.h{font-size:12px;color:#57606a}
.sev{display:inline-block;min-width:64px;text-align:center;border-radius:4px;padding:1px 6px;color:#fff;font-size:12px;font-weight:600;margin-right:6px}
.sev.critical{background:#7f0000}.sev.high{background:#b3261e}.sev.medium{background:#b06000}.sev.low{background:#6e7781}.sev.info{background:#8c959f}
.chain{display:flex;gap:8px;align-items:stretch}
.stage{flex:1;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px;font-size:13px}
.stage h3{margin:0 0 6px;font-size:14px}
.stage ul{margin:0;padding-left:16px}
.arrow{align-self:center;font-size:22px;color:#6e7781}
.v-malicious{color:#a50e0e;font-weight:600}.v-suspicious{color:#b06000;font-weight:600}
.graphbox{background:#fff;border:1px solid #d0d7de;border-radius:6px;overflow-x:auto;padding:6px}
svg text{font-family:Helvetica,Arial,sans-serif}
svg .stage{font-size:14px;font-weight:600;fill:#1f2328}
svg .stage-rule{stroke:#d0d7de;stroke-width:1}
svg .kind{font-size:10px;fill:#57606a}
svg .nlabel{font-size:11px;fill:#1f2328;font-family:ui-monospace,Menlo,Consolas,monospace}
svg .elabel{font-size:9px;fill:#57606a;paint-order:stroke;stroke:#fff;stroke-width:3px}
.muted{color:#57606a}
.forge{color:#b06000;font-size:11px}
.incident{border-left:4px solid #b3261e}
@page{size:A4 landscape;margin:12mm}
@media print{
body{background:#fff;font-size:11px}
main{max-width:none;padding:0}
.banner,.tampered,.sev,.stage,svg{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.graphbox{overflow:visible;border:none;padding:0}
svg.graph{min-width:0!important;width:100%;height:auto}
.card,tr,.stage,.graphbox{break-inside:avoid}
h2{break-after:avoid}
td,th{font-size:10px}
}
"#;

fn verdict_name(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Compromised => ("compromised", "COMPROMISED"),
        Verdict::Suspicious => ("suspicious", "SUSPICIOUS"),
        Verdict::Clean => ("clean", "CLEAN"),
    }
}

fn h(s: &str) -> String {
    escape::html(s)
}

/// Escapes text from a finding or the manifest (already escaped by its producer): anything not
/// printable ASCII made visible, then HTML.
fn hx(s: &str) -> String {
    escape::html(&escape::visible(s))
}

pub fn render(analysis: &Analysis, trace: &Trace, extras: &ReportExtras) -> String {
    let mut s = String::with_capacity(64 * 1024);
    head(&mut s, analysis);
    incidents(&mut s, extras);
    summary(&mut s, analysis, trace);
    entry_and_chain(&mut s, trace);
    graph(&mut s, trace);
    findings(&mut s, &analysis.document);
    timeline(&mut s, trace);
    remediation(&mut s, extras);
    notes(&mut s, analysis);
    s
}

/// The document head, the tampering warning and the verdict banner.
fn head(s: &mut String, analysis: &Analysis) {
    let doc = &analysis.document;
    let (vclass, vtext) = verdict_name(doc.verdict);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>minetrace report: {}</title><style>{CSS}</style></head><body>\n",
        hx(&doc.host.hostname)
    );
    if doc.tampered || !analysis.integrity_problems.is_empty() {
        s.push_str("<div class=\"tampered\">THIS BUNDLE FAILED VERIFICATION: it was analysed anyway on request and every result may have been tampered with.<ul>");
        for p in &analysis.integrity_problems {
            let _ = write!(s, "<li>{}</li>", hx(p));
        }
        s.push_str("</ul></div>\n");
    }
    let high = doc
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .count();
    let _ = write!(
        s,
        "<div class=\"banner {vclass}\">{vtext}: host {} &mdash; {} ({} high or critical)</div>\n<main>\n",
        hx(&doc.host.hostname),
        crate::output::incidents::plural(doc.findings.len(), "finding", "findings"),
        high
    );
    if let Some(lead) = crate::output::lead::line(doc) {
        let _ = writeln!(s, "<p class=\"lead\">{}</p>", h(&lead));
    }
}

/// The incidents: verdict, entry, strongest evidence, what the script will do.
fn incidents(s: &mut String, extras: &ReportExtras) {
    let Some(views) = extras.incidents.as_deref() else {
        return;
    };
    if views.is_empty() {
        return;
    }
    let _ = write!(s, "<h2 id=\"incidents\">Incidents ({})</h2>", views.len());
    for (n, v) in views.iter().enumerate() {
        let (sev, rest) = v.verdict.split_once(' ').unwrap_or(("", &v.verdict));
        let _ = write!(
            s,
            "<div class=\"card incident\"><b>Incident {}</b> <span class=\"sev {}\">{}</span> {}",
            n + 1,
            h(&sev.to_ascii_lowercase()),
            h(sev),
            hx(rest)
        );
        if let Some(entry) = &v.entry {
            let _ = write!(s, "<div><b class=\"h\">Entry</b> {}</div>", hx(entry));
        }
        s.push_str("<div><b class=\"h\">Strongest evidence</b><ul>");
        for line in &v.strongest {
            let _ = write!(s, "<li class=\"mono\">{}</li>", hx(line));
        }
        let _ = writeln!(
            s,
            "</ul></div><div><b class=\"h\">remediate.sh --apply will</b> {}</div><div class=\"muted\">{}</div></div>",
            hx(&v.script),
            crate::output::incidents::plural(v.findings.len(), "finding", "findings")
        );
    }
}

/// The host and bundle table.
fn summary(s: &mut String, analysis: &Analysis, trace: &Trace) {
    let doc = &analysis.document;
    // Summary.
    let m = &analysis.model.manifest;
    s.push_str("<h1>minetrace analysis</h1><table class=\"summary\">");
    for (k, v) in [
        ("Host", hx(&doc.host.hostname)),
        ("Machine id", hx(&doc.host.machine_id)),
        ("Boot id", hx(&doc.host.boot_id)),
        ("Kernel", hx(&doc.host.kernel)),
        (
            "Collected",
            format!("{} to {} (UTC)", hx(&m.started_at), hx(&m.ended_at)),
        ),
        (
            "Bundle sha256",
            format!("<code>{}</code>", hx(&doc.bundle_sha256)),
        ),
        ("Analyzer", hx(&doc.analyzer_version)),
        (
            "Graph",
            format!(
                "{} nodes, {} edges{}; drawing below: {} nodes within {} hops of the findings{}",
                trace.graph.node_count(),
                trace.graph.edge_count(),
                if trace.graph.truncated() {
                    " (capped: some host data left out)"
                } else {
                    ""
                },
                trace.view.nodes.len(),
                crate::graph::view::DEFAULT_HOPS,
                if trace.view.omitted > 0 {
                    format!(", {} more omitted", trace.view.omitted)
                } else {
                    String::new()
                }
            ),
        ),
    ] {
        let _ = write!(s, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    s.push_str("</table>\n");
}

/// The inferred entry point and the kill-chain columns.
fn entry_and_chain(s: &mut String, trace: &Trace) {
    // Entry point and kill chain.
    s.push_str("<h2 id=\"entry\">Entry point and kill chain</h2>");
    match trace.entry.best() {
        Some(best) => {
            let _ = write!(
                s,
                "<div class=\"card\"><b>Entry point:</b> {} <span class=\"muted\">{}</span><ul>",
                h(&best.summary),
                h(&crate::output::lead::tag(best)),
            );
            for e in &best.evidence {
                let _ = write!(s, "<li class=\"mono\">{}</li>", h(e));
            }
            s.push_str("</ul>");
            if trace.entry.candidates.len() > 1 {
                s.push_str("<details><summary>Other candidates</summary><ul>");
                for c in trace.entry.candidates.iter().skip(1) {
                    let _ = write!(
                        s,
                        "<li>{} <span class=\"muted\">{}</span><ul>",
                        h(&c.summary),
                        h(&crate::output::lead::tag(c))
                    );
                    for e in &c.evidence {
                        let _ = write!(s, "<li class=\"mono\">{}</li>", h(e));
                    }
                    s.push_str("</ul></li>");
                }
                s.push_str("</ul></details>");
            }
            s.push_str("</div>");
        }
        None => {
            let _ = write!(
                s,
                "<div class=\"card\"><b>Entry point:</b> {}</div>",
                h(&trace.entry.summary())
            );
        }
    }
    s.push_str("<div class=\"chain\">");
    for (k, st) in trace.chain.stages.iter().enumerate() {
        if k > 0 {
            s.push_str("<div class=\"arrow\">&rarr;</div>");
        }
        let _ = write!(s, "<div class=\"stage\"><h3>{}</h3>", h(st.stage.title()));
        if st.items.is_empty() {
            s.push_str("<span class=\"muted\">nothing found</span>");
        } else {
            s.push_str("<ul>");
            for it in &st.items {
                let class = match it.verdict {
                    NodeVerdict::Malicious => "v-malicious",
                    NodeVerdict::Suspicious => "v-suspicious",
                    _ => "",
                };
                let _ = write!(
                    s,
                    "<li><span class=\"{class}\">{}</span> <span class=\"muted\">{} &middot; {}</span></li>",
                    h(&it.label),
                    h(it.kind.name()),
                    h(&it.why)
                );
            }
            if st.more > 0 {
                let _ = write!(s, "<li class=\"muted\">{} more</li>", st.more);
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>");
    }
    s.push_str("</div>\n");
}

/// The drawn neighbourhood of the findings.
fn graph(s: &mut String, trace: &Trace) {
    // Graph.
    s.push_str("<h2 id=\"graph\">Attack-trace graph</h2>");
    match report_svg::render(trace) {
        Some(svg) => {
            let _ = write!(s, "<div class=\"graphbox\">{svg}</div><div>{}</div>", report_svg::legend());
            s.push_str("<p class=\"muted\">The full graph is in <code>graph.json</code> (Cytoscape.js) and this neighbourhood in <code>graph.dot</code>.</p>");
        }
        None => s.push_str("<p class=\"muted\">No findings, so no neighbourhood to draw; the full host graph is in <code>graph.json</code>.</p>"),
    }
}

/// Every finding with its subjects and evidence.
fn findings(s: &mut String, doc: &FindingsDocument) {
    // Findings.
    let _ = write!(
        s,
        "<h2 id=\"findings\">Findings ({})</h2>",
        doc.findings.len()
    );
    if doc.findings.is_empty() {
        s.push_str("<p class=\"muted\">No findings.</p>");
    }
    for f in &doc.findings {
        let sev = f.severity.name();
        let _ = write!(
            s,
            "<div class=\"card finding\"><span class=\"sev {sev}\">{}</span><b>{}</b> {}",
            h(&sev.to_uppercase()),
            hx(&f.rule),
            hx(&f.title)
        );
        if let Some(fam) = &f.family {
            let _ = write!(s, " <span class=\"muted\">family: {}</span>", hx(fam));
        }
        if !f.attack.is_empty() {
            let ids: Vec<String> = f.attack.iter().map(|a| hx(a)).collect();
            let _ = write!(
                s,
                " <span class=\"muted\">ATT&amp;CK {}</span>",
                ids.join(", ")
            );
        }
        s.push_str("<div class=\"cols\"><div><b class=\"h\">Subjects</b><ul>");
        for sub in &f.subjects {
            let _ = write!(
                s,
                "<li class=\"mono\">{}{}</li>",
                h(&describe_subject(&sub.subject)),
                role_note(sub.role)
            );
        }
        s.push_str("</ul></div><div><b class=\"h\">Evidence</b><ul>");
        for e in &f.evidence {
            let _ = write!(s, "<li class=\"mono\">{}</li>", hx(e));
        }
        s.push_str("</ul></div></div></div>\n");
    }
}

/// The timeline rows about the drawn nodes (the latest ones).
fn timeline(s: &mut String, trace: &Trace) {
    // Timeline.
    let view_ids: HashSet<&str> = trace
        .view
        .nodes
        .iter()
        .map(|i| trace.graph.id_of(*i))
        .collect();
    let rows: Vec<&crate::graph::timeline::Event> = trace
        .timeline
        .iter()
        .filter(|e| match &e.node {
            Some(n) => view_ids.contains(n.as_str()),
            None => true,
        })
        .collect();
    let skipped = rows.len().saturating_sub(TIMELINE_ROWS);
    let _ = write!(s, "<h2 id=\"timeline\">Timeline</h2><p class=\"muted\">Events about the drawn nodes, plus boot, collection and auth-log lines ({} of {} events; all in <code>timeline.jsonl</code>{}). mtime can be set with <code>touch</code>; ctime and birth time are harder to fake.</p>", rows.len() - skipped, trace.timeline.len(), if skipped > 0 { format!(", the {skipped} earliest rows left out here") } else { String::new() });
    s.push_str("<table class=\"timeline\"><tr><th>Time (UTC)</th><th>What</th><th>Event</th><th>Level</th></tr>");
    for e in rows.iter().skip(skipped) {
        let _ =
            write!(
            s,
            "<tr><td class=\"mono\">{}</td><td>{}{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            h(&iso_us(e.time_us)),
            h(e.desc),
            if e.forgeable { " <span class=\"forge\">(forgeable)</span>" } else { "" },
            h(&e.message()),
            h(e.level.name())
        );
    }
    s.push_str("</table>\n");
}

/// The remediation plan, as the script will carry it out.
fn remediation(s: &mut String, extras: &ReportExtras) {
    // Remediation.
    s.push_str("<h2 id=\"remediation\">Remediation plan</h2>");
    match &extras.remediation_plan {
        Some(lines) if !lines.is_empty() => {
            s.push_str("<div class=\"card\"><ol>");
            for l in lines {
                let _ = write!(s, "<li class=\"mono\">{}</li>", hx(l));
            }
            s.push_str("</ol><p class=\"muted\">The script that carries it out is <code>remediate.sh</code> (dry run by default).</p></div>");
        }
        _ => s.push_str("<div class=\"card\">See <code>remediate.sh</code> in this directory: it prints its plan in a dry run (the default) before anything is changed.</div>"),
    }
}

/// Model warnings and the footer.
fn notes(s: &mut String, analysis: &Analysis) {
    let doc = &analysis.document;
    // Notes.
    if !analysis.model.warnings.is_empty() {
        s.push_str("<h2 id=\"warnings\">Warnings</h2><ul>");
        for w in &analysis.model.warnings {
            let _ = write!(s, "<li class=\"mono\">{}</li>", hx(w));
        }
        s.push_str("</ul>");
    }
    let _ = writeln!(
        s,
        "<p class=\"muted\">Generated by minetrace {} from bundle <code>{}</code>. Edge levels: observed (kernel or filesystem fact, confidence 85), parsed (text the attacker could write, 50), suspected (heuristic, 15).</p></main></body></html>",
        hx(&doc.analyzer_version),
        hx(&doc.bundle_sha256)
    );
}

pub fn write(
    analysis: &Analysis,
    trace: &Trace,
    extras: &ReportExtras,
    out: &mut dyn Write,
) -> Result<()> {
    out.write_all(render(analysis, trace, extras).as_bytes())?;
    Ok(())
}
