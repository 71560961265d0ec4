//! Firewall rules, read once: every `iptables-save`-format capture the collector ran and every saved rule
//! file (`/etc/iptables/rules.v4`, `/etc/sysconfig/iptables`), each with its rule lines. The firewall
//! detector and `minetrace inspect firewall` read these.

use minetrace_schemas::records::file::FileKind;

use crate::model::HostModel;
use crate::parse::iptables::{self, Rule};

/// Captures in `iptables-save` format, by the collector's capture name.
pub const SAVE_CAPTURES: &[&str] = &[
    "iptables-save",
    "ip6tables-save",
    "iptables-legacy-save",
    "ip6tables-legacy-save",
];

/// Whether a path is a saved rule file the boot scripts restore.
pub fn is_saved_rules(p: &[u8]) -> bool {
    p.starts_with(b"/etc/iptables/")
        || p.starts_with(b"/etc/sysconfig/iptables")
        || p.starts_with(b"/etc/sysconfig/ip6tables")
}

/// Where a rule set was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A tool capture, by name (`iptables-save`).
    Capture(String),
    /// A saved rule file (index into `HostModel::files`).
    File(usize),
}

/// The rules of one capture or file, in order.
#[derive(Debug, Clone)]
pub struct Ruleset {
    pub origin: Origin,
    pub rules: Vec<Rule>,
}

impl Ruleset {
    /// The capture's name or the file's path, escaped.
    pub fn origin_text(&self, model: &HostModel) -> String {
        match &self.origin {
            Origin::Capture(name) => name.clone(),
            Origin::File(i) => model
                .files
                .get(*i)
                .map(|f| f.path.escaped())
                .unwrap_or_default(),
        }
    }
}

pub fn collect(model: &HostModel) -> Vec<Ruleset> {
    let mut out = Vec::new();
    for name in SAVE_CAPTURES {
        for (_, bytes) in model.command_outputs(name) {
            out.push(Ruleset {
                origin: Origin::Capture((*name).to_owned()),
                rules: iptables::parse(bytes),
            });
        }
    }
    for (i, f) in model.files.iter().enumerate() {
        if f.kind != FileKind::Regular || !is_saved_rules(f.path.as_bytes()) {
            continue;
        }
        if let Some(bytes) = model.content(f) {
            out.push(Ruleset {
                origin: Origin::File(i),
                rules: iptables::parse(bytes),
            });
        }
    }
    out
}
