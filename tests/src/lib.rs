//! End-to-end tests for minetrace: compromised hosts built in disposable sandboxes, planted from the
//! scenario files in `samples/scenarios/`, collected live by the real `minetrace-collect`, and checked
//! against each scenario's ground truth.
//!
//! - [`sandbox`]: the namespaces + overlay + chroot host and how to run things in it;
//! - [`scenario`]: the scenario format (TOML) and its ground truth;
//! - [`plant`]: turning a scenario into files, users, crontabs, units, processes and firewall rules;
//! - [`truth`]: checking a collected bundle against what was planted;
//! - [`binaries`]: building and finding the real binaries;
//! - [`fleet`]: a synthetic fleet rewritten from the sample bundles, and what its analysis must find;
//! - [`live`]: one scenario planted in its own sandbox, and the checks that nothing reached the host;
//! - [`analysis`]: the real analyzer run on a collected bundle, its findings judged against the truth;
//! - [`ssh_hosts`]: network-namespace hosts with their own sshd, for the fleet collection tests;
//! - [`state`]: snapshots of a live sandbox (files, processes, firewall) to prove what a step changed.

pub mod analysis;
pub mod binaries;
pub mod fleet;
pub mod live;
pub mod plant;
pub mod sandbox;
pub mod scenario;
pub mod ssh_hosts;
pub mod state;
pub mod truth;
