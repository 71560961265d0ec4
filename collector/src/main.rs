//! `minetrace-collect`: snapshot a Linux host into one bundle for offline analysis.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use minetrace_collector::options::{Options, Output};

/// Read-only, single-pass evidence collector for Linux hosts turned into cryptocurrency miners.
///
/// Reads /proc and the filesystem directly (never ps, ss, lsof or netstat), changes nothing on the host,
/// and streams one tar+zstd bundle to a file or to stdout. Exit status: 0 when a bundle was written,
/// 1 when none could be.
#[derive(Debug, Parser)]
#[command(name = "minetrace-collect", version, after_help = EXAMPLES)]
struct Cli {
    /// Where to write the bundle: a file path, or `-` for stdout
    /// (e.g. `ssh host sudo minetrace-collect -o - > host.tar.zst`).
    #[arg(short, long, value_name = "OUT.tar.zst")]
    output: PathBuf,

    /// Dead-box mode: collect file artifacts from a mounted image under ROOT instead of the live host
    /// (no processes, no sockets).
    #[arg(long, value_name = "ROOT")]
    root: Option<PathBuf>,

    /// Keep the values of all environment variables, not only the forensic allowlist
    /// (LD_PRELOAD, PATH, HOME, ...). Environments often hold secrets.
    #[arg(long)]
    all_env_values: bool,

    /// Largest single executable copied into the bundle, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_copy_mib: u64,

    /// Total size of copied executables, in MiB: running ones (deleted, memfd, in temp, hidden or home
    /// directories, or owned by no package) and, at rest, those named by persistence entries, in temp,
    /// hidden or home places, or unowned in system binary directories — most suspicious first.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_copy_total_mib: u64,

    /// Bytes of listed files (temp, hidden and home places, unowned system binaries) hashed at most, in
    /// MiB, most suspicious first; the rest are listed with the reason they were not hashed.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    max_hash_total_mib: u64,

    /// Time the hashing of listed files may take, in milliseconds (same order; the rest are listed with
    /// the reason).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    max_hash_ms: u64,

    /// Bytes kept from the end of each log file, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 16)]
    max_log_mib: u64,

    /// Total size of systemd journal files copied, in MiB. Journal files are copied whole (a cut
    /// journal is unreadable), newest first; one that does not fit is listed and skipped.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    max_journal_mib: u64,

    /// zstd worker threads (0 compresses on the main thread).
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: u32,

    /// Print each artifact's timing and error count on stderr.
    #[arg(short, long)]
    verbose: bool,
}

const EXAMPLES: &str = "Examples:
  minetrace-collect -o /root/host.tar.zst          writes host.tar.zst and host.tar.zst.sha256
  ssh web1 sudo minetrace-collect -o - > web1.tar.zst
  minetrace-collect --root /mnt/image -o image.tar.zst";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = if cli.output.as_os_str() == "-" {
        Output::Stdout
    } else {
        Output::File(cli.output)
    };
    let options = Options {
        output,
        root: cli.root,
        all_env_values: cli.all_env_values,
        max_copy_file_bytes: cli.max_copy_mib.saturating_mul(1 << 20),
        max_copy_total_bytes: cli.max_copy_total_mib.saturating_mul(1 << 20),
        max_log_bytes: cli.max_log_mib.saturating_mul(1 << 20),
        max_journal_bytes: cli.max_journal_mib.saturating_mul(1 << 20),
        max_hash_total_bytes: cli.max_hash_total_mib.saturating_mul(1 << 20),
        max_hash_ms: cli.max_hash_ms,
        zstd_threads: cli.threads,
        verbose: cli.verbose,
    };
    match minetrace_collector::run(options) {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("minetrace-collect: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
