//! `minetrace`: verify, inspect and analyze bundles written by `minetrace-collect`.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use minetrace_analyzer::commands::{analyze, fleet, inspect, remediate, verify};
use minetrace_analyzer::exit::{ignore_broken_pipe, Status};

/// Offline analyzer for minetrace bundles. It never needs the network and never trusts the bundle:
/// every member is checked and every host byte printed escaped.
///
/// Exit status: 0 done (no finding at medium or above), 1 findings at medium or above, 2 error
/// (bad arguments, unreadable, corrupt or tampered bundle).
#[derive(Debug, Parser)]
#[command(name = "minetrace", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Detect miners and their supporting malware; print a summary, or write findings.json and every
    /// other output with -o DIR.
    Analyze(analyze::AnalyzeArgs),
    /// Check a bundle's integrity and print what it is of (host, times, members, sha256).
    Verify(verify::VerifyArgs),
    /// Show what a bundle holds: processes, sockets, executables, files, persistence, ssh, firewall, host.
    Inspect(inspect::InspectArgs),
    /// Write only the remediation script (a dry run unless started with --apply) and print its plan.
    Remediate(remediate::RemediateArgs),
    /// Analyse many hosts' bundles as one incident: each host's outputs under DIR/hosts/NAME/, and the
    /// fleet's verdicts, shared indicators and clusters, lateral movement, probable first infected host
    /// and neighbours not yet collected (fleet.json, report.html, fleet.stix.json, timeline.jsonl).
    Fleet(fleet::FleetArgs),
    /// Print a shell completion script (bash: `minetrace completions bash >
    /// /etc/bash_completion.d/minetrace`; zsh: into a directory of $fpath as `_minetrace`; fish:
    /// `~/.config/fish/completions/minetrace.fish`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page in roff (`minetrace man > /usr/local/share/man/man1/minetrace.1`), or with
    /// --dir write it and one page per subcommand (minetrace-analyze.1, ...) into a directory.
    Man {
        /// Write every page into this directory (created if needed) instead of printing the main one.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match &cli.command {
        Command::Analyze(args) => analyze::exec(args, &mut out),
        Command::Verify(args) => verify::exec(args, &mut out),
        Command::Inspect(args) => inspect::exec(args, &mut out),
        Command::Remediate(args) => remediate::exec(args, &mut out),
        Command::Fleet(args) => fleet::exec(args, &mut out),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "minetrace", &mut out);
            Ok(Status::Ok)
        }
        Command::Man { dir: None } => clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .map(|()| Status::Ok)
            .map_err(Into::into),
        Command::Man { dir: Some(dir) } => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir))
            .map(|()| Status::Ok)
            .map_err(|e| {
                anyhow::anyhow!("cannot write the manual pages into {}: {e}", dir.display())
            }),
    };
    let flushed = ignore_broken_pipe(out.flush());
    match result {
        Ok(status) => {
            if let Err(e) = flushed {
                eprintln!("minetrace: error: writing output: {e}");
                return Status::Error.into();
            }
            status.into()
        }
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return Status::Ok.into();
            }
            eprintln!("minetrace: error: {e:#}");
            Status::Error.into()
        }
    }
}
