//! JSON Schemas of the JSON documents other tools consume, generated from the Rust types so they cannot
//! drift; the committed copies in `schemas/json/` are checked against these by a test.

use crate::findings::FindingsDocument;
use crate::fleet::FleetDocument;
use crate::inspect::InspectDocument;
use crate::manifest::Manifest;

/// `(file name, pretty JSON)` for every committed schema.
pub fn all() -> Vec<(&'static str, String)> {
    let render = |schema: schemars::Schema| {
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    };
    vec![
        (
            "manifest.schema.json",
            render(schemars::schema_for!(Manifest)),
        ),
        (
            "findings.schema.json",
            render(schemars::schema_for!(FindingsDocument)),
        ),
        (
            "fleet.schema.json",
            render(schemars::schema_for!(FleetDocument)),
        ),
        (
            "inspect.schema.json",
            render(schemars::schema_for!(InspectDocument)),
        ),
    ]
}
