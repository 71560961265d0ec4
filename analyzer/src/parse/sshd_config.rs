//! `sshd_config` and its includes as sshd reads them: `Keyword value` or `Keyword=value`, keywords
//! case-insensitive, `#` comments, `Match` blocks running to the next `Match` or the end of the file, and
//! the first value obtained winning. [`resolve`] expands `Include` (relative to `/etc/ssh`, globs in the
//! last component, files in lexical order) through a caller-supplied lookup, so it never touches a disk.

use super::numbered_lines;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The file it came from (host path), for findings that name a line.
    pub path: Vec<u8>,
    /// 1-based line number.
    pub line: u32,
    /// Lowercased keyword (`permitrootlogin`).
    pub keyword: String,
    /// Arguments, unquoted.
    pub args: Vec<Vec<u8>>,
    /// Line of the enclosing `Match`, when inside one.
    pub in_match: Option<u32>,
}

impl Directive {
    /// The first argument, lowercased, as text.
    pub fn value(&self) -> String {
        self.args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// Parses one file; `Include` lines are kept as directives.
pub fn parse(path: &[u8], bytes: &[u8]) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut in_match = None;
    for (n, raw) in numbered_lines(bytes) {
        let text = raw.trim_ascii();
        if text.is_empty() || text.starts_with(b"#") {
            continue;
        }
        let end = text
            .iter()
            .position(|b| *b == b' ' || *b == b'\t' || *b == b'=')
            .unwrap_or(text.len());
        let (kw, rest) = text.split_at(end);
        let rest = rest.trim_ascii_start();
        let rest = rest.strip_prefix(b"=").unwrap_or(rest);
        let keyword = String::from_utf8_lossy(kw).to_ascii_lowercase();
        let mut args = super::systemd_unit::split_quoted(rest);
        if let Some(hash) = args.iter().position(|a| a.starts_with(b"#")) {
            args.truncate(hash);
        }
        if keyword == "match" {
            in_match = Some(n);
        }
        out.push(Directive {
            path: path.to_vec(),
            line: n,
            keyword,
            args,
            in_match,
        });
    }
    out
}

/// Files named by an `Include` argument, resolved against `candidates` (host paths known to exist).
pub fn include_targets<'a>(arg: &[u8], candidates: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let full: Vec<u8> = if arg.starts_with(b"/") || arg.starts_with(b"~") {
        arg.to_vec()
    } else {
        [&b"/etc/ssh/"[..], arg].concat()
    };
    let dir = super::dirname(&full).to_vec();
    let pattern = super::basename(&full).to_vec();
    let mut hits: Vec<Vec<u8>> = candidates
        .filter(|c| super::dirname(c) == dir.as_slice() && glob_match(&pattern, super::basename(c)))
        .map(<[u8]>::to_vec)
        .collect();
    hits.sort();
    hits.dedup();
    hits
}

/// `*` and `?` glob over bytes (no character classes), linear-time with single-star backtracking.
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(c) if *c == b'?' || name.get(n) == Some(c) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|c| *c == b'*')
}

/// The main file with every `Include` expanded in place (depth-capped), in the order sshd reads them.
/// `lookup` returns the bytes of a host path when captured; `known_paths` lists captured paths for globs.
pub fn resolve<'a>(
    main_path: &[u8],
    lookup: &dyn Fn(&[u8]) -> Option<&'a [u8]>,
    known_paths: &[&[u8]],
) -> Vec<Directive> {
    let mut out = Vec::new();
    expand(main_path, lookup, known_paths, 0, &mut out);
    out
}

fn expand<'a>(
    path: &[u8],
    lookup: &dyn Fn(&[u8]) -> Option<&'a [u8]>,
    known: &[&[u8]],
    depth: u32,
    out: &mut Vec<Directive>,
) {
    let Some(bytes) = lookup(path) else {
        return;
    };
    for d in parse(path, bytes) {
        if d.keyword == "include" && depth < 8 {
            for arg in &d.args {
                for target in include_targets(arg, known.iter().copied()) {
                    expand(&target, lookup, known, depth + 1, out);
                }
            }
            continue;
        }
        out.push(d);
    }
}

/// The directive in force for a keyword outside any `Match` block: the first one sshd meets.
pub fn effective<'d>(directives: &'d [Directive], keyword: &str) -> Option<&'d Directive> {
    directives
        .iter()
        .find(|d| d.in_match.is_none() && d.keyword == keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_match_blocks() {
        let text = b"# x\nPermitRootLogin=yes\npermitrootlogin no\nMatch User bob\n  PasswordAuthentication yes\n";
        let d = parse(b"/etc/ssh/sshd_config", text);
        assert_eq!(effective(&d, "permitrootlogin").unwrap().value(), "yes");
        assert_eq!(effective(&d, "permitrootlogin").unwrap().line, 2);
        assert!(effective(&d, "passwordauthentication").is_none());
    }

    #[test]
    fn includes_expand_in_order() {
        let files: Vec<(&[u8], &[u8])> = vec![
            (
                b"/etc/ssh/sshd_config",
                b"Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n",
            ),
            (
                b"/etc/ssh/sshd_config.d/50-cloud.conf",
                b"PasswordAuthentication no\n",
            ),
            (
                b"/etc/ssh/sshd_config.d/README",
                b"PasswordAuthentication maybe\n",
            ),
        ];
        let lookup = |p: &[u8]| files.iter().find(|(q, _)| *q == p).map(|(_, b)| *b);
        let known: Vec<&[u8]> = files.iter().map(|(p, _)| *p).collect();
        let d = resolve(b"/etc/ssh/sshd_config", &lookup, &known);
        let e = effective(&d, "passwordauthentication").unwrap();
        assert_eq!(e.value(), "no");
        assert_eq!(e.path, b"/etc/ssh/sshd_config.d/50-cloud.conf");
    }

    #[test]
    fn globbing() {
        assert!(glob_match(b"*.conf", b"a.conf"));
        assert!(!glob_match(b"*.conf", b"a.conf.bak"));
        assert!(glob_match(b"a?c", b"abc"));
    }
}
