//! Network targets: endpoints to block, and attacker iptables rules turned into the exact argument list
//! that `iptables -C`/`-D` take. Anything that does not parse cleanly is left for the responder.

use std::net::{IpAddr, SocketAddr};

/// `IP:PORT` or `[IPv6]:PORT` as findings write endpoints. Unspecified addresses (a listening socket's
/// `0.0.0.0`) and port 0 are not endpoints one can block outgoing traffic to.
pub fn endpoint(addr: &str) -> Option<(IpAddr, u16)> {
    let sa: SocketAddr = addr.trim().parse().ok()?;
    let ip = match sa.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if ip.is_unspecified() || sa.port() == 0 {
        return None;
    }
    Some((ip, sa.port()))
}

/// The tables an `iptables-save` dump names (`*filter`, ...); the script probes only these, and only the
/// rule's own, and only while the kernel already has it.
pub const TABLES: &[&str] = &["filter", "nat", "mangle", "raw", "security"];

/// Every option a rule line may hold for the script to pass it to `iptables -C`/`-D`: the rule options
/// `iptables-save` writes (short ones alone, long ones whole) for the common matches and targets. An
/// allowlist, not a list of the dangerous ones: getopt also takes `-M` attached (`-M/x`), bundled (`-vM/x`)
/// and abbreviated (`--modp=/x`), and `--modprobe` makes iptables run a program. Any other token that
/// starts with `-` (a value included) refuses the rule, which then is deleted by hand.
#[rustfmt::skip]
pub const RULE_OPTIONS: &[&[u8]] = &[
    // iptables itself (-s -d -i -o -p -j -g -m -f and their long forms)
    b"-s", b"-d", b"-i", b"-o", b"-p", b"-j", b"-g", b"-m", b"-f",
    b"--source", b"--destination", b"--in-interface", b"--out-interface", b"--protocol",
    b"--jump", b"--goto", b"--match", b"--fragment",
    // tcp, udp, multiport, icmp, icmp6
    b"--sport", b"--dport", b"--sports", b"--dports", b"--ports", b"--source-port",
    b"--destination-port", b"--tcp-flags", b"--syn", b"--tcp-option", b"--icmp-type",
    b"--icmpv6-type",
    // state, conntrack, comment, limit, mac, iprange, owner, set, addrtype, mark, length, pkttype
    b"--state", b"--ctstate", b"--ctproto", b"--ctstatus", b"--ctdir", b"--ctorigsrc",
    b"--ctorigdst", b"--ctreplsrc", b"--ctrepldst", b"--comment", b"--limit", b"--limit-burst",
    b"--mac-source", b"--src-range", b"--dst-range", b"--uid-owner", b"--gid-owner",
    b"--socket-exists", b"--match-set", b"--src-type", b"--dst-type", b"--limit-iface-in",
    b"--limit-iface-out", b"--mark", b"--length", b"--pkt-type",
    // recent, connlimit, hashlimit, string
    b"--set", b"--rcheck", b"--update", b"--remove", b"--seconds", b"--hitcount", b"--name",
    b"--rsource", b"--rdest", b"--mask", b"--connlimit-above", b"--connlimit-upto",
    b"--connlimit-mask", b"--connlimit-saddr", b"--connlimit-daddr", b"--hashlimit-upto",
    b"--hashlimit-above", b"--hashlimit-burst", b"--hashlimit-mode", b"--hashlimit-name",
    b"--hashlimit-srcmask", b"--hashlimit-dstmask", b"--hashlimit-htable-expire", b"--string",
    b"--hex-string", b"--algo", b"--icase",
    // REJECT, LOG, DNAT, SNAT, MASQUERADE, REDIRECT, MARK, CONNMARK, TCPMSS, NFQUEUE
    b"--reject-with", b"--log-prefix", b"--log-level", b"--log-tcp-sequence",
    b"--log-tcp-options", b"--log-ip-options", b"--log-uid", b"--to-destination",
    b"--to-source", b"--to-ports", b"--random", b"--persistent", b"--set-xmark", b"--set-mark",
    b"--save-mark", b"--restore-mark", b"--nfmask", b"--ctmask", b"--clamp-mss-to-pmtu",
    b"--set-mss", b"--queue-num", b"--queue-balance", b"--queue-bypass",
];

/// Why an iptables rule cannot be deleted by the script.
pub type Refusal = &'static str;

/// Splits one `iptables-save` rule line (`-A CHAIN ...`) into arguments, undoing its quoting
/// (`"..."` with `\"` and `\\` inside). Returns the arguments for `-C`/`-D`: the chain, then the rule.
pub fn rule_args(line: &[u8]) -> Result<Vec<Vec<u8>>, Refusal> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().any(|b| !(0x20..0x7f).contains(b)) {
        return Err("rule text holds bytes iptables-save never writes");
    }
    let mut args: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut quoted = false;
    let mut it = line.iter().copied().peekable();
    while let Some(b) = it.next() {
        match b {
            b'"' => {
                quoted = !quoted;
                cur.get_or_insert_with(Vec::new);
            }
            b'\\' if quoted => {
                let next = it.next().ok_or("unfinished escape")?;
                cur.get_or_insert_with(Vec::new).push(next);
            }
            b' ' if !quoted => {
                if let Some(a) = cur.take() {
                    args.push(a);
                }
            }
            _ => cur.get_or_insert_with(Vec::new).push(b),
        }
    }
    if quoted {
        return Err("unbalanced quotes");
    }
    if let Some(a) = cur.take() {
        args.push(a);
    }
    let mut it = args.into_iter();
    if it.next().as_deref() != Some(b"-A".as_slice()) {
        return Err("not an iptables-save rule (-A CHAIN ...)");
    }
    let chain = it.next().ok_or("no chain")?;
    let chain_ok = !chain.is_empty()
        && chain.len() <= 28
        && chain
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
        && !chain.starts_with(b"-");
    if !chain_ok {
        return Err("unusual chain name");
    }
    let rest: Vec<Vec<u8>> = it.collect();
    if rest.is_empty() {
        return Err("empty rule");
    }
    for a in &rest {
        if a.starts_with(b"-") && !RULE_OPTIONS.contains(&a.as_slice()) {
            return Err(
                "rule holds an option outside the rule options the plan passes to iptables",
            );
        }
    }
    let mut out = vec![chain];
    out.extend(rest);
    Ok(out)
}

/// The tables (of [`TABLES`]) the snapshot's rulesets hold this exact rule line in, live captures and
/// saved files alike: the script checks and deletes the rule there and nowhere else, so it never names a
/// table the rule is not in (touching `nat` on iptables-legacy loads it and starts connection tracking).
pub fn tables_of(model: &crate::model::HostModel, line: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = model
        .firewall
        .iter()
        .flat_map(|rs| &rs.rules)
        .filter(|r| r.raw == line && TABLES.contains(&r.table.as_str()))
        .map(|r| r.table.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// 4 or 6 when an address in the rule says which tool holds it; `None` tries both.
pub fn family(args: &[Vec<u8>]) -> Option<u8> {
    for a in args {
        let text = String::from_utf8_lossy(a);
        let addr = text.split('/').next().unwrap_or_default();
        match addr.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => return Some(4),
            Ok(IpAddr::V6(_)) => return Some(6),
            Err(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("127.66.0.1:3333"),
            Some(("127.66.0.1".parse().unwrap(), 3333))
        );
        assert_eq!(
            endpoint("[2001:db8::1]:443"),
            Some(("2001:db8::1".parse().unwrap(), 443))
        );
        assert_eq!(
            endpoint("[::ffff:1.2.3.4]:80"),
            Some(("1.2.3.4".parse().unwrap(), 80))
        );
        assert_eq!(endpoint("0.0.0.0:4444"), None);
        assert_eq!(endpoint("1.2.3.4:0"), None);
        assert_eq!(endpoint("pool.example:3333"), None);
        assert_eq!(endpoint("1.2.3.4:3333; rm -rf /"), None);
    }

    #[test]
    fn no_allowed_option_is_an_abbreviation_of_a_dangerous_one() {
        // getopt_long takes any unambiguous prefix: an allowed token must never be one of these.
        let dangerous = [
            "--modprobe",
            "--table",
            "--append",
            "--check",
            "--delete",
            "--insert",
            "--replace",
            "--list",
            "--flush",
            "--zero",
            "--new-chain",
            "--delete-chain",
            "--rename-chain",
            "--policy",
            "--wait",
        ];
        for o in RULE_OPTIONS {
            let o = std::str::from_utf8(o).unwrap();
            assert!(o.len() == 2 || o.starts_with("--"), "{o}");
            for d in dangerous {
                assert!(!d.starts_with(o), "{o} abbreviates {d}");
            }
        }
    }

    #[test]
    fn iptables_save_rules() {
        let args =
            rule_args(b"-A INPUT -s 1.2.3.4/32 -m comment --comment \"say \\\"hi\\\" x\" -j DROP")
                .unwrap();
        let text: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(
            text,
            [
                "INPUT",
                "-s",
                "1.2.3.4/32",
                "-m",
                "comment",
                "--comment",
                "say \"hi\" x",
                "-j",
                "DROP"
            ]
        );
        assert_eq!(family(&args), Some(4));
        assert!(rule_args(b"-A INPUT --modprobe=/tmp/x -j DROP").is_err());
        assert!(rule_args(b"-A INPUT -M /tmp/x -j DROP").is_err());
        // getopt's other spellings of -M and --modprobe: attached, bundled, abbreviated (review s4 #7).
        for bypass in [
            &b"-A INPUT -M/tmp/.x/p -j DROP"[..],
            b"-A INPUT -vM/tmp/.x/p -j DROP",
            b"-A INPUT --modp=/tmp/.x/p -j DROP",
            b"-A INPUT --modp /tmp/.x/p -j DROP",
            b"-A INPUT -p tcp -tnat -j DROP",
            b"-A INPUT --tab nat -j DROP",
            b"-A INPUT -s 1.2.3.4 -j DROP -w5",
        ] {
            assert!(
                rule_args(bypass).is_err(),
                "{}",
                String::from_utf8_lossy(bypass)
            );
        }
        // What iptables-save writes for ordinary rules still passes.
        for ok in [
            &b"-A INPUT -p tcp -m tcp --dport 6379 -j ACCEPT"[..],
            b"-A OUTPUT ! -d 10.0.0.0/8 -p udp -m multiport --dports 3333,4444 -j REJECT --reject-with icmp-port-unreachable",
            b"-A PREROUTING -i eth0 -p tcp -m conntrack --ctstate NEW -j DNAT --to-destination 127.0.0.1:22",
        ] {
            assert!(rule_args(ok).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        assert!(rule_args(b"-A INPUT -t nat -j DROP").is_err());
        assert!(rule_args(b"-I INPUT -j DROP").is_err());
        assert!(rule_args(b"-A IN\nPUT -j DROP").is_err());
        assert!(rule_args(b"-A INPUT -m comment --comment \"open").is_err());
        assert!(rule_args(b"-A $(x) -j DROP").is_err());
        let v6 = rule_args(b"-A OUTPUT -d 2001:db8::/32 -j REJECT").unwrap();
        assert_eq!(family(&v6), Some(6));
    }
}
