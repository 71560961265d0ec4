//! The host's own addresses, as a fleet analysis links hosts by them: the interface addresses the
//! collector recorded (not loopback: every host has those) and the `/etc/hosts` entries that name this
//! host (its hostname, short or fully qualified) with an address that is not loopback (Debian's
//! `127.0.1.1 host` line is on every such host and says nothing about where it is reached).

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::HostModel;
use crate::parse::{numbered_lines, words};

impl HostModel {
    /// The addresses other hosts reach this one at, sorted, deduplicated.
    pub fn own_addresses(&self) -> Vec<IpAddr> {
        let mut out: BTreeSet<IpAddr> = self
            .interfaces
            .iter()
            .filter(|a| a.interface != "lo")
            .filter_map(|a| a.address.parse::<IpAddr>().ok())
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip))
            .collect();
        if let Some(bytes) = self.file(b"/etc/hosts").and_then(|f| self.content(f)) {
            out.extend(
                self_entries(bytes, &self.host.identity.hostname)
                    .into_iter()
                    .filter(|ip| !ip.is_loopback() && !ip.is_unspecified()),
            );
        }
        out.into_iter().collect()
    }

    /// The host's gateways: the next hops of its routes, the default ones and any other (IPv4 and IPv6),
    /// sorted, deduplicated. Empty for a dead-box image (no routes recorded).
    pub fn gateways(&self) -> Vec<IpAddr> {
        let out: BTreeSet<IpAddr> = self
            .routes
            .iter()
            .filter_map(|r| r.gateway.as_deref()?.parse().ok())
            .collect();
        out.into_iter().collect()
    }
}

/// IPv6 link-local (`fe80::/10`): the same on every segment, never an identity.
fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
}

/// Addresses of `/etc/hosts` lines that name `hostname` (compared case-insensitively, the short name
/// matching a fully qualified one either way).
pub fn self_entries(hosts: &[u8], hostname: &str) -> Vec<IpAddr> {
    if hostname.is_empty() {
        return Vec::new();
    }
    let hostname = hostname.to_ascii_lowercase();
    let hostname = hostname.as_str();
    let short = hostname.split('.').next().unwrap_or(hostname);
    let mut out = Vec::new();
    for (_, line) in numbered_lines(hosts) {
        let line = line.split(|b| *b == b'#').next().unwrap_or_default();
        let mut w = words(line);
        let Some(ip) = w
            .next()
            .and_then(|a| std::str::from_utf8(a).ok()?.parse::<IpAddr>().ok())
        else {
            continue;
        };
        let names_me = w.any(|n| {
            let n = String::from_utf8_lossy(n).to_ascii_lowercase();
            n == hostname || n == short || n.split('.').next() == Some(hostname)
        });
        if names_me {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_naming_the_host() {
        let hosts = b"127.0.0.1 localhost\n127.0.1.1 web-01.corp.example web-01\n10.0.0.5\tweb-01 # primary\n10.0.0.9 db-01\nbogus web-01\n# 10.0.0.7 web-01\n";
        let got = self_entries(hosts, "web-01");
        let want: Vec<IpAddr> = ["127.0.1.1", "10.0.0.5"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert_eq!(self_entries(hosts, "WEB-01.corp.example").len(), 2);
        assert!(self_entries(hosts, "").is_empty());
    }
}
