//! Detectors over how the attacker got in and stays: persistence, accounts, SSH, tampered system files,
//! logs and histories. One module per concern; add it to [`DETECTORS`]. Shared scoring and host facts
//! (accounts, path classes) live in [`common`]; text formats are parsed by `crate::parse`.
//! Rule ids and their severity logic are documented in `docs/RULES.md` under `## Footholds`.

pub mod accounts;
pub mod agents;
pub mod auth_log;
pub mod binaries;
pub mod common;
pub mod cron;
pub mod firewall;
pub mod history;
pub mod immutable;
pub mod journal;
pub mod kit_files;
pub mod lateral;
pub mod modules;
pub mod orphans;
pub mod pam;
pub mod preload;
pub mod scripts;
pub mod service_logs;
pub mod ssh_keys;
pub mod sshd_config;
pub mod startup;
pub mod system_bins;
pub mod systemd;
pub mod webshells;

use crate::detect::Detector;

pub const DETECTORS: &[(&str, Detector)] = &[
    ("footholds::cron", cron::detect),
    ("footholds::systemd", systemd::detect),
    ("footholds::startup", startup::detect),
    ("footholds::preload", preload::detect),
    ("footholds::modules", modules::detect),
    ("footholds::immutable", immutable::detect),
    ("footholds::kit_files", kit_files::detect),
    ("footholds::ssh_keys", ssh_keys::detect),
    ("footholds::sshd_config", sshd_config::detect),
    ("footholds::accounts", accounts::detect),
    ("footholds::auth_log", auth_log::detect),
    ("footholds::service_logs", service_logs::detect),
    ("footholds::history", history::detect),
    ("footholds::journal", journal::detect),
    ("footholds::lateral", lateral::detect),
    ("footholds::binaries", binaries::detect),
    ("footholds::firewall", firewall::detect),
    ("footholds::agents", agents::detect),
    ("footholds::orphans", orphans::detect),
    ("footholds::scripts", scripts::detect),
    ("footholds::webshells", webshells::detect),
    ("footholds::system_bins", system_bins::detect),
    ("footholds::pam", pam::detect),
];
