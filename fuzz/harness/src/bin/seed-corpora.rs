//! Writes the seed corpora of every fuzz target under a directory (default `fuzz/corpus`):
//! `cargo run -p minetrace-fuzz --bin seed-corpora [DIR]`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus")));
    for t in minetrace_fuzz::targets::TARGETS {
        let target_dir = dir.join(t.name);
        std::fs::create_dir_all(&target_dir)?;
        let seeds = minetrace_fuzz::seeds::for_target(t.name);
        for (name, bytes) in &seeds {
            std::fs::write(target_dir.join(name), bytes)?;
        }
        println!("{:<16} {:>5} seeds", t.name, seeds.len());
    }
    Ok(())
}
