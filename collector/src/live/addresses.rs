//! The host's own addresses, from the kernel's tables of the collector's network namespace: IPv4 local
//! addresses from `/proc/net/fib_trie` (entries `/32 host LOCAL`) with their interface and prefix from
//! `/proc/net/route`, IPv6 addresses from `/proc/net/if_inet6`. Read as files, like every other `/proc`
//! source: no netlink, no host tool. A fleet analysis links hosts through them (a login on one host from
//! an address another holds).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use minetrace_schemas::records::address::InterfaceAddress;

use super::proc_dir::read_table;
use super::routes::{Ipv4Line, Ipv4Table};

/// Cap per table: a host with thousands of addresses still fits; a larger table is cut.
const TABLE_CAP: usize = 4 << 20;
/// Most addresses recorded.
const MAX_ADDRESSES: usize = 4096;

/// Every address of the namespace, sorted, the IPv4 ones placed by `routes` (`/proc/net/route`, read once
/// for this and the routes); errors name the table and the reason.
pub fn collect(routes: &Ipv4Table) -> (Vec<InterfaceAddress>, Vec<(String, String)>) {
    let mut errors: Vec<(String, String)> = routes.error.iter().cloned().collect();
    let mut read = |path: &str| read_table(path, TABLE_CAP, &mut errors);
    let fib = read("/proc/net/fib_trie");
    let inet6 = read("/proc/net/if_inet6");
    let mut out: BTreeSet<InterfaceAddress> = BTreeSet::new();
    for ip in fib.as_deref().map(local_ipv4).unwrap_or_default() {
        out.insert(ipv4_entry(ip, &routes.lines));
    }
    out.extend(inet6.as_deref().map(parse_if_inet6).unwrap_or_default());
    (out.into_iter().take(MAX_ADDRESSES).collect(), errors)
}

/// IPv4 addresses the kernel delivers locally: the address line before each `/32 host LOCAL` line.
pub fn local_ipv4(fib_trie: &[u8]) -> BTreeSet<Ipv4Addr> {
    let text = String::from_utf8_lossy(fib_trie);
    let mut last: Option<Ipv4Addr> = None;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '|', '+', '-']).trim();
        if let Ok(ip) = t.parse::<Ipv4Addr>() {
            last = Some(ip);
        } else if t.starts_with("/32 host LOCAL") {
            out.extend(last.take());
        }
    }
    out
}

fn ipv4_entry(ip: Ipv4Addr, routes: &[Ipv4Line]) -> InterfaceAddress {
    let bits = u32::from(ip);
    let best = routes
        .iter()
        .filter(|r| r.mask != 0 && bits & r.mask == r.network)
        .max_by_key(|r| r.mask.count_ones());
    let (interface, prefix_len) = match best {
        Some(r) => (r.interface.clone(), u8::try_from(r.mask.count_ones()).ok()),
        // The main table lists no route for loopback addresses: they live on `lo`.
        None if ip.is_loopback() => ("lo".to_owned(), Some(8)),
        None => (String::new(), None),
    };
    InterfaceAddress {
        interface,
        address: ip.to_string(),
        prefix_len,
    }
}

/// `/proc/net/if_inet6`: `ADDR(32 hex) IFINDEX PREFIXLEN SCOPE FLAGS NAME` per line.
pub fn parse_if_inet6(table: &[u8]) -> Vec<InterfaceAddress> {
    let text = String::from_utf8_lossy(table);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = f.first().filter(|h| h.len() == 32)?;
            let bits = u128::from_str_radix(hex, 16).ok()?;
            Some(InterfaceAddress {
                interface: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
                address: Ipv6Addr::from(bits).to_string(),
                prefix_len: f.get(2).and_then(|p| u8::from_str_radix(p, 16).ok()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB: &str = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 127.0.0.0/8 2 0 2\n        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n              /8 host LOCAL\n           |-- 127.0.0.1\n              /32 host LOCAL\n        |-- 127.255.255.255\n           /32 link BROADCAST\n     +-- 192.0.2.0/24 2 0 2\n           |-- 192.0.2.0\n              /24 link UNICAST\n           |-- 192.0.2.2\n              /32 host LOCAL\nLocal:\n           |-- 192.0.2.2\n              /32 host LOCAL\n";
    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    #[test]
    fn ipv4_local_addresses_get_their_interface() {
        let ips = local_ipv4(FIB.as_bytes());
        let want: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 2)]
            .into_iter()
            .collect();
        assert_eq!(ips, want);
        let routes = super::super::routes::ipv4_lines(ROUTE.as_bytes());
        let e = ipv4_entry(Ipv4Addr::new(192, 0, 2, 2), &routes);
        assert_eq!((e.interface.as_str(), e.prefix_len), ("eth0", Some(24)));
        let lo = ipv4_entry(Ipv4Addr::new(127, 0, 0, 1), &routes);
        assert_eq!(lo.interface, "lo");
        let stray = ipv4_entry(Ipv4Addr::new(198, 51, 100, 1), &routes);
        assert_eq!((stray.interface.as_str(), stray.prefix_len), ("", None));
    }

    #[test]
    fn ipv6_lines_parse_and_junk_is_skipped() {
        let t = "fd000000000000000000000000000002 04 40 00 82     eth0\n00000000000000000000000000000001 01 80 10 80       lo\nzz 1 2\n\n";
        let v = parse_if_inet6(t.as_bytes());
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].address, "fd00::2");
        assert_eq!(v[0].prefix_len, Some(64));
        assert_eq!(v[1].interface, "lo");
        assert_eq!(v[1].address, "::1");
    }

    #[test]
    fn live_namespace_has_loopback() {
        let (v, errors) = collect(&super::super::routes::read_ipv4());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(v.iter().any(|a| a.address == "127.0.0.1"), "{v:?}");
    }
}
