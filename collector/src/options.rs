//! Validated collection settings, built once from the command line before any work starts.

use std::path::PathBuf;

/// Where the bundle goes.
#[derive(Debug, Clone)]
pub enum Output {
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub output: Output,
    /// Dead-box mode: read a mounted image under this root instead of the live host.
    pub root: Option<PathBuf>,
    /// Keep every environment value, not just the forensic allowlist (environments hold secrets).
    pub all_env_values: bool,
    pub max_copy_file_bytes: u64,
    pub max_copy_total_bytes: u64,
    pub max_log_bytes: u64,
    /// Whole journal files stored at most, in bytes (newest first).
    pub max_journal_bytes: u64,
    /// Bytes the `spend` pass may hash ([`crate::files::spend`]).
    pub max_hash_total_bytes: u64,
    /// Wall-clock milliseconds the `spend` pass may take.
    pub max_hash_ms: u64,
    pub zstd_threads: u32,
    pub verbose: bool,
}

impl Options {
    /// Defaults used by tests and benchmarks.
    pub fn for_tests(output: Output) -> Self {
        Options {
            output,
            root: None,
            all_env_values: false,
            max_copy_file_bytes: 64 << 20,
            max_copy_total_bytes: 64 << 20,
            max_log_bytes: 16 << 20,
            max_journal_bytes: 256 << 20,
            max_hash_total_bytes: 256 << 20,
            max_hash_ms: 2_000,
            zstd_threads: 2,
            verbose: false,
        }
    }
}
