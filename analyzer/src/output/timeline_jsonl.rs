//! `timeline.jsonl` for Timesketch: one JSON object per line with the mandatory `message`, `datetime`
//! (ISO 8601 UTC) and `timestamp_desc`, plus `timestamp` (microseconds), `node_id`, `level`, `source` and
//! `forgeable` (mtime-like times an attacker can set). A JSON array is not accepted by Timesketch, so
//! there is none; the `.jsonl` extension is required.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::graph::timeline::Event;
use crate::graph::Trace;
use crate::output::iso_us;

pub fn line(e: &Event) -> serde_json::Value {
    json!({
        "message": e.message(),
        "datetime": iso_us(e.time_us),
        "timestamp_desc": e.desc,
        "timestamp": e.time_us,
        "node_id": e.node,
        "level": e.level.name(),
        "source": e.source(),
        "forgeable": e.forgeable,
        "data_type": "minetrace:timeline:event",
    })
}

pub fn write(trace: &Trace, out: &mut dyn Write) -> Result<()> {
    for e in &trace.timeline {
        serde_json::to_writer(&mut *out, &line(e))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
