//! Exit statuses, one meaning each, shared by every subcommand.

use std::process::ExitCode;

/// 0: done, nothing at medium or above. 1: findings at medium or above. 2: error (bad arguments, an
/// unreadable, corrupt or tampered bundle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Findings,
    Error,
}

impl Status {
    /// The status a run ends with given the worst finding severity it met: findings at medium or above
    /// are what the operator must look at.
    pub fn of_worst(worst: Option<minetrace_schemas::findings::Severity>) -> Status {
        match worst {
            Some(s) if s >= minetrace_schemas::findings::Severity::Medium => Status::Findings,
            _ => Status::Ok,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        match s {
            Status::Ok => ExitCode::SUCCESS,
            Status::Findings => ExitCode::from(1),
            Status::Error => ExitCode::from(2),
        }
    }
}

/// Treats a closed stdout (`minetrace inspect ... | head`) as a normal end, not an error.
pub fn ignore_broken_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
