//! The host's own network addresses, so that a fleet of bundles can be linked: a login recorded on one
//! host from an address another host holds is an edge between the two.
//!
//! Live collections read the kernel's view (`/proc/net/fib_trie` local entries with `/proc/net/route`
//! for the interface, `/proc/net/if_inet6`); a dead-box image has no interfaces, and `/etc/hosts` is
//! captured as a file either way (the analyzer's model reads its self entries from there).

use serde::{Deserialize, Serialize};

/// One address assigned to one interface of the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InterfaceAddress {
    /// Interface name as the kernel reports it (`eth0`, `lo`); empty when it could not be told.
    pub interface: String,
    /// The address in its canonical text form (`10.0.0.5`, `fe80::1`).
    pub address: String,
    /// Prefix length of the network it sits in, when known.
    pub prefix_len: Option<u8>,
}
