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
        // Options that are not part of a rule: another command, a table, or `--modprobe`, which makes
        // iptables run a program.
        let bad = matches!(
            a.as_slice(),
            b"-M"
                | b"-t"
                | b"--table"
                | b"-A"
                | b"-C"
                | b"-D"
                | b"-I"
                | b"-R"
                | b"-N"
                | b"-X"
                | b"-F"
                | b"-Z"
                | b"-P"
                | b"-E"
                | b"-L"
                | b"-S"
                | b"--append"
                | b"--delete"
                | b"--check"
                | b"--insert"
                | b"--replace"
                | b"--flush"
                | b"--policy"
        ) || a.starts_with(b"--modprobe")
            || a.starts_with(b"--table");
        if bad {
            return Err("rule holds a command or --modprobe option");
        }
    }
    let mut out = vec![chain];
    out.extend(rest);
    Ok(out)
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
        assert!(rule_args(b"-A INPUT -t nat -j DROP").is_err());
        assert!(rule_args(b"-I INPUT -j DROP").is_err());
        assert!(rule_args(b"-A IN\nPUT -j DROP").is_err());
        assert!(rule_args(b"-A INPUT -m comment --comment \"open").is_err());
        assert!(rule_args(b"-A $(x) -j DROP").is_err());
        let v6 = rule_args(b"-A OUTPUT -d 2001:db8::/32 -j REJECT").unwrap();
        assert_eq!(family(&v6), Some(6));
    }
}
