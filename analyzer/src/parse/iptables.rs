//! `iptables-save` / `ip6tables-save` output and saved rule files (`/etc/iptables/rules.v4`,
//! `/etc/sysconfig/iptables`): the rule lines with their table and the few match fields detectors use.
//! The rule text is kept exactly as written, so a rule can be removed by exact match.

use super::{numbered_lines, words};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub line: u32,
    /// `filter`, `nat`, `mangle`, ... (`filter` when no `*table` line was seen).
    pub table: String,
    /// `-A CHAIN` / `-I CHAIN`.
    pub chain: Vec<u8>,
    /// The rule line as written (`-A INPUT -s 1.2.3.4/32 -j DROP`).
    pub raw: Vec<u8>,
    pub source: Option<Vec<u8>>,
    pub destination: Option<Vec<u8>>,
    pub protocol: Option<Vec<u8>>,
    /// `--dport` / `--dports` value.
    pub dport: Option<Vec<u8>>,
    /// `-j` target (`DROP`, `REJECT`, `ACCEPT`, a chain).
    pub target: Option<Vec<u8>>,
    /// `!` appeared before a match (negations are not mapped to fields, only flagged).
    pub negated: bool,
}

/// Rule lines of an `iptables-save` dump; `:CHAIN POLICY` lines and `COMMIT` are skipped.
pub fn parse(bytes: &[u8]) -> Vec<Rule> {
    let mut table = String::from("filter");
    let mut out = Vec::new();
    for (n, l) in numbered_lines(bytes) {
        let t = l.trim_ascii();
        if let Some(name) = t.strip_prefix(b"*") {
            table = String::from_utf8_lossy(name).into_owned();
            continue;
        }
        if !(t.starts_with(b"-A ") || t.starts_with(b"-I ")) {
            continue;
        }
        let w: Vec<&[u8]> = words(t).collect();
        let after = |flags: &[&[u8]]| -> Option<Vec<u8>> {
            w.iter()
                .position(|x| flags.contains(x))
                .and_then(|i| w.get(i + 1))
                .map(|v| v.to_vec())
        };
        out.push(Rule {
            line: n,
            table: table.clone(),
            chain: w.get(1).map(|c| c.to_vec()).unwrap_or_default(),
            raw: t.to_vec(),
            source: after(&[b"-s", b"--source"]),
            destination: after(&[b"-d", b"--destination"]),
            protocol: after(&[b"-p", b"--protocol"]),
            dport: after(&[b"--dport", b"--dports", b"--destination-port"]),
            target: after(&[b"-j", b"--jump"]),
            negated: w.contains(&&b"!"[..]),
        });
    }
    out
}

/// Parses `a.b.c.d[/len]` into an address and prefix length.
pub fn parse_cidr(text: &[u8]) -> Option<(std::net::Ipv4Addr, u8)> {
    let s = std::str::from_utf8(text).ok()?;
    let (addr, len) = s.split_once('/').unwrap_or((s, "32"));
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr.parse().ok()?, len))
}

/// True when two IPv4 networks overlap.
pub fn cidr_overlap(a: (std::net::Ipv4Addr, u8), b: (std::net::Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    (u32::from(a.0) & mask) == (u32::from(b.0) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_output() {
        let r = parse(b"# Generated\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 140.205.201.0/28 -j DROP\n-A INPUT -p tcp -m tcp --dport 6379 -j DROP\nCOMMIT\n*nat\n-A OUTPUT ! -d 127.0.0.0/8 -j RETURN\n");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].raw, b"-A INPUT -s 140.205.201.0/28 -j DROP");
        assert_eq!(r[0].source.as_deref(), Some(&b"140.205.201.0/28"[..]));
        assert_eq!(r[1].dport.as_deref(), Some(&b"6379"[..]));
        assert_eq!(r[2].table, "nat");
        assert!(r[2].negated);
        let a = parse_cidr(b"140.205.201.0/28").unwrap();
        assert!(cidr_overlap(a, parse_cidr(b"140.205.201.5").unwrap()));
        assert!(!cidr_overlap(a, parse_cidr(b"140.205.202.0/24").unwrap()));
    }
}
