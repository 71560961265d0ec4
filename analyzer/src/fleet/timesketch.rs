//! The fleet timeline for Timesketch (`timeline.jsonl`, one JSON object per line, oldest first): each
//! host's first sign of compromise, every dated lateral edge, and each host's earliest events tied to
//! findings, every line naming its host. Same fields as the single-host `timeline.jsonl`, plus `host`.

use std::io::Write;

use anyhow::Result;
use minetrace_schemas::fleet::FleetDocument;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::host::HostFacts;
use crate::output::{iso_us, timeline_jsonl};

/// Microseconds since the epoch of an RFC 3339 time.
pub fn parse_us(rfc3339: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

/// Every line, oldest first.
pub fn lines(doc: &FleetDocument, hosts: &[HostFacts]) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    for h in hosts {
        if let Some(t) = h.first_seen_us {
            out.push((
                t,
                json!({
                    "message": format!("{}: first sign of compromise ({:?}{}{})", h.row.name, h.row.verdict,
                        if h.row.families.is_empty() { "" } else { ", " }, h.row.families.join(", ")),
                    "datetime": iso_us(t),
                    "timestamp_desc": "First compromise sign",
                    "timestamp": t,
                    "host": h.row.name,
                    "data_type": "minetrace:fleet:first_seen",
                }),
            ));
        }
        for e in &h.events {
            let mut line = timeline_jsonl::line(e);
            if let Some(obj) = line.as_object_mut() {
                obj.insert("host".into(), json!(h.row.name));
                obj.insert(
                    "message".into(),
                    json!(format!("{}: {}", h.row.name, e.message())),
                );
            }
            out.push((e.time_us, line));
        }
    }
    for e in &doc.lateral {
        let Some(t) = e.time.as_deref().and_then(parse_us) else {
            continue;
        };
        out.push((
            t,
            json!({
                "message": format!("lateral movement {} -> {}: {}", e.from, e.to,
                    e.evidence.first().map(String::as_str).unwrap_or_default()),
                "datetime": iso_us(t),
                "timestamp_desc": "Lateral movement",
                "timestamp": t,
                "host": e.to,
                "from": e.from,
                "to": e.to,
                "level": e.level,
                "data_type": "minetrace:fleet:lateral",
            }),
        ));
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
    });
    out
}

pub fn write(doc: &FleetDocument, hosts: &[HostFacts], out: &mut dyn Write) -> Result<()> {
    for (_, line) in lines(doc, hosts) {
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
