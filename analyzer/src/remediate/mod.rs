//! The remediation script generator (issue 8): findings → [`Plan`] (numbered actions with the identity
//! each target had in the snapshot) → a bash script that is a fixed, reviewed template plus the plan as
//! pinned hex data. Host bytes never become code; see `template.sh` for what the script does at run time.
//!
//! - [`build`]: which findings and subjects become which actions, and the safety rails.
//! - [`edit`]: byte-exact line removal computed offline, and the `authorized_keys` key locator.
//! - [`locks`]: which immutable/append-only flags an edit sets again on the file it keeps.
//! - [`firewall`]: endpoints to block and attacker iptables rules as exact argument lists.
//! - [`plan`]: the plan as data, and [`plan_lines`] for the report.
//! - [`script`]: the data block and the rendering of `template.sh`.
//! - [`rename_back`]: a packaged tool moved away goes back to its package path, never to the quarantine.
//! - [`units`]: whether a flagged line of a systemd unit takes the whole unit or only the line.
//! - [`pam_stacks`]: a PAM stack's flagged line is a review item only when its removal changes no one's login.
//! - [`apt_hooks`]: whether a flagged APT hook takes its whole `apt.conf.d` file or is a review item.
//! - [`restarts`]: which host service to restart (a review item) after the intrusion made it load code.
//!
//! A new kind of action goes in [`plan::Action`], its record layout in [`script`], its `mt_state_*` and
//! `mt_apply_*` functions in `template.sh`.

pub mod apt_hooks;
pub mod attribution;
pub mod build;
pub mod collect;
pub mod edit;
pub mod firewall;
pub mod kit_dirs;
pub mod locks;
pub mod pam_stacks;
pub mod plan;
pub mod rename_back;
pub mod restarts;
pub mod roles;
pub mod script;
pub mod targets;
#[cfg(test)]
mod template_tests;
#[cfg(test)]
pub(crate) mod test_plan;
pub mod units;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::analysis::Analysis;
pub use plan::{plan_lines, Action, Plan, PlanItem, Stage};

/// File name of the script in an output directory.
pub const SCRIPT_NAME: &str = "remediate.sh";

/// The plan for an analysis, with its attack-trace graph built here (see [`build_plan_with`]).
pub fn build_plan(analysis: &Analysis) -> Plan {
    build_plan_with(analysis, &crate::graph::build::build(analysis))
}

/// The plan for an analysis whose graph is already built.
pub fn build_plan_with(analysis: &Analysis, graph: &crate::graph::AttackGraph) -> Plan {
    build::build(&analysis.model, &analysis.iocs, &analysis.document, graph)
}

/// The script for an analysis.
pub fn render(analysis: &Analysis) -> String {
    script::render(&build_plan(analysis))
}

/// Writes `dir/remediate.sh` for a plan (one call from `analyze -o DIR`).
pub fn write_plan_into(plan: &Plan, dir: &Path) -> Result<()> {
    write_script(&script::render(plan), &dir.join(SCRIPT_NAME))
}

/// Writes a script through a temporary file in the same directory and a rename, mode 0700, so a failure
/// never leaves a half-written script that could be run.
pub fn write_script(script: &str, path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| SCRIPT_NAME.into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&tmp)?;
        f.write_all(script.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
