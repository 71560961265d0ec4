//! The committed JSON Schemas must match the types. Regenerate with
//! `MINETRACE_UPDATE_SCHEMAS=1 cargo test -p minetrace-schemas --test json_schemas`.

use std::path::PathBuf;

#[test]
fn committed_schemas_match_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let update = std::env::var_os("MINETRACE_UPDATE_SCHEMAS").is_some();
    for (name, text) in minetrace_schemas::json_schema::all() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with MINETRACE_UPDATE_SCHEMAS=1",
                path.display()
            )
        });
        assert!(
            committed == text,
            "{} drifted from the Rust types; regenerate with MINETRACE_UPDATE_SCHEMAS=1 cargo test -p minetrace-schemas --test json_schemas",
            path.display()
        );
    }
}
