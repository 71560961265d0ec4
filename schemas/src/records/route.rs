//! The host's routes: where its traffic leaves (the default gateways) is infrastructure the remediation must
//! never block, whatever address an attacker's miner configuration names.
//!
//! Live collections read the kernel's tables of the collector's network namespace (`/proc/net/route`,
//! `/proc/net/ipv6_route`); a dead-box image has no routes (its `/etc/resolv.conf` and network
//! configuration are captured as files either way).

use serde::{Deserialize, Serialize};

/// One route of the kernel's table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteRecord {
    /// Interface name as the kernel reports it (`eth0`); empty when the table names none.
    pub interface: String,
    /// The destination network in canonical text form (`0.0.0.0` and `::` for a default route).
    pub destination: String,
    /// Prefix length of the destination (0 for a default route).
    pub prefix_len: u8,
    /// The next hop in canonical text form, when the route goes through a gateway (`RTF_GATEWAY`).
    pub gateway: Option<String>,
    pub metric: u32,
}

impl RouteRecord {
    /// Whether this is a default route (destination `0.0.0.0/0` or `::/0`).
    pub fn is_default(&self) -> bool {
        self.prefix_len == 0
    }
}
