//! The bodies of minetrace's fuzz targets and the invariants every one of them asserts.
//!
//! Everything an attacker can hand the analyzer goes through a target here: whole bundles (arbitrary bytes,
//! and edits of the shipped sample bundles), record members, copied ELF executables and each text parser.
//! The engine binaries in `fuzz/fuzz_targets/` are one line each around [`targets::TARGETS`]; the same
//! functions replay every saved crash and hang in `cargo test` on stable (`tests/regressions.rs`), so a
//! finding of a campaign stays fixed. Invariants (see [`invariants`]): no panic, attacker bytes escaped in
//! every text output, `remediate.sh` printable ASCII with the template intact and its data block hash
//! right. Time and memory caps are the engines' (`-timeout`, `-rss_limit_mb`; see `docs/FUZZING.md`) and
//! the replay test's watchdog.

pub mod bundle;
pub mod invariants;
pub mod mutate;
pub mod parsers;
pub mod seeds;
pub mod targets;
