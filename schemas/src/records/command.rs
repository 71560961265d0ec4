//! Output of the few host tools the collector cannot avoid (`iptables-save`, `nft`), with proof of which
//! binary produced it: on a compromised host the tool itself may be trojaned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RawBytes;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandRecord {
    /// Short name of the capture (`iptables-save`, `nft-ruleset`, ...).
    pub name: String,
    pub argv: Vec<RawBytes>,
    /// Absolute path the tool was run from, or `None` when it was not found.
    pub tool_path: Option<RawBytes>,
    pub tool_sha256: Option<String>,
    /// Exit code; `None` when killed by the timeout or a signal, or never started.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// Bundle member holding stdout.
    pub stdout_member: Option<String>,
    /// First bytes of stderr, for the reason a tool failed.
    pub stderr: RawBytes,
    pub error: Option<String>,
}
