//! `findings.json` (schema `minetrace.findings/1`, committed in `schemas/json/findings.schema.json`).

use std::io::Write;

use anyhow::Result;

use crate::analysis::Analysis;

pub fn write(analysis: &Analysis, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, &analysis.document)?;
    writeln!(out)?;
    Ok(())
}
