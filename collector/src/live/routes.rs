//! The host's routes, from the kernel's tables of the collector's network namespace (`/proc/net/route`,
//! `/proc/net/ipv6_route`), read as files like every other `/proc` source: no netlink, no host tool.
//! The analyzer learns the default gateways from them, which the remediation never blocks.

use std::net::{Ipv4Addr, Ipv6Addr};

use minetrace_schemas::records::route::RouteRecord;

use super::proc_dir::{read_bounded, read_table};

/// Cap per table: a router with a full table is cut, its default routes come first in the kernel's order.
const TABLE_CAP: usize = 4 << 20;
/// Most routes recorded.
const MAX_ROUTES: usize = 4096;

/// `RTF_GATEWAY`: the route goes through a next hop.
const RTF_GATEWAY: u32 = 0x2;

/// `/proc/net/route`, read and decoded once for both its readers: the routes recorded here and the
/// interface of each local address ([`super::addresses`]).
#[derive(Default)]
pub struct Ipv4Table {
    pub lines: Vec<Ipv4Line>,
    /// Why the table could not be read (its path, the reason), for each reader's log.
    pub error: Option<(String, String)>,
}

/// Reads `/proc/net/route` ([`Ipv4Table`]).
pub fn read_ipv4() -> Ipv4Table {
    let mut errors = Vec::new();
    let table = read_table("/proc/net/route", TABLE_CAP, &mut errors);
    Ipv4Table {
        lines: table.as_deref().map(ipv4_lines).unwrap_or_default(),
        error: errors.pop(),
    }
}

/// Every route of the namespace, IPv4 (`v4`, read by [`read_ipv4`]) then IPv6, in the kernel's order;
/// errors name the table and the reason.
pub fn collect(v4: &Ipv4Table) -> (Vec<RouteRecord>, Vec<(String, String)>) {
    let errors = v4.error.iter().cloned().collect();
    // A kernel without IPv6 has no such table: not an error worth reporting.
    let v6 = std::fs::File::open("/proc/net/ipv6_route")
        .and_then(|f| read_bounded(f, TABLE_CAP))
        .ok()
        .map(|c| c.bytes);
    let mut out = ipv4_routes(&v4.lines);
    out.extend(v6.as_deref().map(ipv6_routes).unwrap_or_default());
    out.truncate(MAX_ROUTES);
    (out, errors)
}

/// One line of `/proc/net/route`, decoded once for both readers of the table (the routes recorded here and
/// the interface of each local address in [`super::addresses`]).
pub struct Ipv4Line {
    pub interface: String,
    /// The destination network, host order (comparable with `u32::from(Ipv4Addr)`).
    pub network: u32,
    /// The destination mask, host order.
    pub mask: u32,
    pub gateway: Ipv4Addr,
    pub flags: u32,
    pub metric: u32,
}

/// `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`. The kernel prints an
/// address's network-order bytes as a native `u32` in hex, so the bytes are the value's native-endian
/// bytes. Lines that do not parse are skipped.
pub fn ipv4_lines(table: &[u8]) -> Vec<Ipv4Line> {
    let text = String::from_utf8_lossy(table);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let hex = |i: usize| u32::from_str_radix(f.get(i)?, 16).ok();
            let addr = |i: usize| Some(u32::from_be_bytes(hex(i)?.to_ne_bytes()));
            Some(Ipv4Line {
                interface: f.first()?.to_string(),
                network: addr(1)?,
                mask: addr(7)?,
                gateway: Ipv4Addr::from(addr(2)?),
                flags: hex(3)?,
                metric: f.get(6)?.parse().ok()?,
            })
        })
        .collect()
}

/// The routes of `/proc/net/route` as records (lines decoded by [`ipv4_lines`]).
pub fn ipv4_routes(lines: &[Ipv4Line]) -> Vec<RouteRecord> {
    lines
        .iter()
        .map(|l| RouteRecord {
            destination: Ipv4Addr::from(l.network).to_string(),
            prefix_len: u8::try_from(l.mask.count_ones()).unwrap_or(32),
            gateway: (l.flags & RTF_GATEWAY != 0 && !l.gateway.is_unspecified())
                .then(|| l.gateway.to_string()),
            metric: l.metric,
            interface: l.interface.clone(),
        })
        .collect()
}

/// `/proc/net/ipv6_route`: `DEST(32 hex) DEST_LEN SRC SRC_LEN NEXT_HOP METRIC REFCNT USE FLAGS IFACE`,
/// addresses in network order, lengths, metric and flags in hex.
pub fn ipv6_routes(table: &[u8]) -> Vec<RouteRecord> {
    let text = String::from_utf8_lossy(table);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = |i: usize| {
                let hex = f.get(i).filter(|h| h.len() == 32)?;
                u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
            };
            let hex = |i: usize| u32::from_str_radix(f.get(i)?, 16).ok();
            let next_hop = addr(4)?;
            let flags = hex(8)?;
            Some(RouteRecord {
                interface: f.get(9).map(|s| s.to_string()).unwrap_or_default(),
                destination: addr(0)?.to_string(),
                prefix_len: u8::try_from(hex(1)?).ok()?,
                gateway: (flags & RTF_GATEWAY != 0 && !next_hop.is_unspecified())
                    .then(|| next_hop.to_string()),
                metric: hex(5)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_default_route_names_its_gateway() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\njunk\n";
        let v = ipv4_routes(&ipv4_lines(t.as_bytes()));
        assert_eq!(v.len(), 2);
        assert!(v[0].is_default());
        assert_eq!(v[0].gateway.as_deref(), Some("192.0.2.1"));
        assert_eq!((v[0].interface.as_str(), v[0].metric), ("eth0", 100));
        assert_eq!(
            (v[1].destination.as_str(), v[1].prefix_len),
            ("192.0.2.0", 24)
        );
        assert_eq!(v[1].gateway, None, "an on-link route has no gateway");
    }

    #[test]
    fn ipv6_default_route_names_its_next_hop() {
        let t = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0\nshort line\n";
        let v = ipv6_routes(t.as_bytes());
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].destination.as_str(), v[0].prefix_len), ("fd00::", 64));
        assert_eq!(v[0].gateway, None);
        assert!(v[1].is_default());
        assert_eq!(v[1].gateway.as_deref(), Some("fd00::1"));
        assert_eq!(v[1].metric, 1024);
    }

    #[test]
    fn live_namespace_reads() {
        let (_, errors) = collect(&read_ipv4());
        assert!(errors.is_empty(), "{errors:?}");
    }
}
