//! SSH (category `ssh`): `sshd_config` and everything it `Include`s, the rest of `/etc/ssh` (client config,
//! known hosts, host public keys), and for every home `~/.ssh` plus each file `AuthorizedKeysFile` names
//! (`%h`, `%u`, `%U`, `%%`, `~` expanded; relative paths are relative to the home; the defaults
//! `.ssh/authorized_keys` and `.ssh/authorized_keys2` always). Private keys, host or user, are recorded
//! with metadata and sha256 only: their bytes never leave the host.
//!
//! The parser here only finds the paths to collect (it keeps every `AuthorizedKeysFile`, in `Match` blocks
//! too); judging the configuration is the analyzer's job, on the stored bytes.

use std::collections::HashSet;
use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::host_root::{child, has_wildcard};
use super::sink::{Content, Release, Sink, CONFIG_CAP};
use super::walk::{self, Limits, Pick};

use minetrace_schemas::locations::SSHD_CONFIG;
/// `Include` nesting sshd itself allows (`READCONF_MAX_DEPTH`).
const MAX_INCLUDE_DEPTH: u32 = 16;
const MAX_INCLUDED_FILES: usize = 256;

/// The directives that name files to collect.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SshdPaths {
    pub includes: Vec<Vec<u8>>,
    pub authorized_keys_files: Vec<Vec<u8>>,
    pub authorized_principals_files: Vec<Vec<u8>>,
    pub host_keys: Vec<Vec<u8>>,
}

/// Splits a config line into a keyword and its arguments (`Keyword arg "quoted arg"`, `Keyword=arg`).
fn split_line(line: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    let line = line.get(start..)?;
    if line.starts_with(b"#") {
        return None;
    }
    let kw_end = line
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'=')
        .unwrap_or(line.len());
    let keyword = line.get(..kw_end)?.to_ascii_lowercase();
    let mut rest = line.get(kw_end..).unwrap_or(&[]);
    // One `=` may separate the keyword from its arguments, with blanks around it.
    let trimmed = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| rest.get(i..))
        .unwrap_or(&[]);
    if let Some(after) = trimmed.strip_prefix(b"=") {
        rest = after;
    }
    let mut args = Vec::new();
    let mut cur = Vec::new();
    let mut in_quotes = false;
    let mut has = false;
    for &b in rest {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                has = true;
            }
            b'#' if !in_quotes && !has => break,
            b if b.is_ascii_whitespace() && !in_quotes => {
                if has {
                    args.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            b => {
                cur.push(b);
                has = true;
            }
        }
    }
    if has {
        args.push(cur);
    }
    Some((keyword, args))
}

/// Finds the path-naming directives of one `sshd_config` (or included) file.
pub fn parse_sshd(bytes: &[u8]) -> SshdPaths {
    let mut out = SshdPaths::default();
    for line in bytes.split(|b| *b == b'\n') {
        let Some((kw, args)) = split_line(line) else {
            continue;
        };
        match kw.as_slice() {
            b"include" => out.includes.extend(args),
            b"authorizedkeysfile" => out.authorized_keys_files.extend(
                args.into_iter()
                    .filter(|a| !a.eq_ignore_ascii_case(b"none")),
            ),
            b"authorizedprincipalsfile" => out.authorized_principals_files.extend(
                args.into_iter()
                    .filter(|a| !a.eq_ignore_ascii_case(b"none")),
            ),
            b"hostkey" => out.host_keys.extend(args),
            _ => {}
        }
    }
    out
}

/// Expands sshd's `%` tokens and a leading `~` for one account; a relative result is relative to the
/// home, as sshd does. `None` for tokens that cannot be expanded offline.
pub fn expand_tokens(
    pattern: &[u8],
    home: &[u8],
    user: &[u8],
    uid: Option<u32>,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let body = match pattern.strip_prefix(b"~/") {
        Some(rest) => {
            out.extend_from_slice(home);
            out.push(b'/');
            rest
        }
        None => pattern,
    };
    let mut i = body.iter().copied();
    while let Some(b) = i.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        match i.next() {
            Some(b'%') => out.push(b'%'),
            Some(b'h') => out.extend_from_slice(home),
            Some(b'u') => out.extend_from_slice(user),
            Some(b'U') => out.extend_from_slice(uid?.to_string().as_bytes()),
            _ => return None,
        }
    }
    if out.starts_with(b"/") {
        Some(out)
    } else {
        Some(child(home, &out))
    }
}

/// Private key material is never collected: recognised by its armour or by an `id_*` name without `.pub`.
pub fn private_key(name: &[u8], bytes: &[u8]) -> Option<&'static str> {
    let head = bytes.get(..bytes.len().min(64 << 10)).unwrap_or(bytes);
    let armoured = head
        .windows(b"PRIVATE KEY-----".len())
        .any(|w| w == b"PRIVATE KEY-----")
        || head.starts_with(b"PuTTY-User-Key-File")
        || head.starts_with(b"SSH PRIVATE KEY FILE FORMAT");
    let named =
        (name.starts_with(b"id_") || name.starts_with(b"ssh_host_")) && !name.ends_with(b".pub");
    (armoured || named)
        .then_some("private key: only its presence, metadata and sha256 are collected")
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let guarded = Content::Guarded {
        cap: CONFIG_CAP,
        guard: |name, bytes| match private_key(name, bytes) {
            Some(why) => Release::Withheld(why),
            None => Release::Whole,
        },
    };
    // sshd_config and its includes, depth first as sshd reads them.
    let mut paths = SshdPaths::default();
    let mut seen = HashSet::new();
    let mut queue: Vec<(Vec<u8>, u32)> = vec![(SSHD_CONFIG.to_vec(), 0)];
    while let Some((path, depth)) = queue.pop() {
        if !seen.insert(path.clone()) || seen.len() > MAX_INCLUDED_FILES {
            continue;
        }
        let Some(bytes) = s.capture(&path, guarded)? else {
            continue;
        };
        let p = parse_sshd(&bytes);
        let mut next = Vec::new();
        for inc in &p.includes {
            if depth + 1 > MAX_INCLUDE_DEPTH {
                s.note(
                    &path,
                    "Include nested deeper than sshd allows; not followed",
                );
                break;
            }
            let abs = if inc.starts_with(b"/") {
                inc.clone()
            } else {
                child(b"/etc/ssh", inc)
            };
            let found = if has_wildcard(&abs) {
                s.ctx.root.expand(&abs, MAX_INCLUDED_FILES)
            } else {
                vec![abs]
            };
            next.extend(found.into_iter().map(|f| (f, depth + 1)));
        }
        // Reversed so the stack pops them in the order sshd reads them.
        queue.extend(next.into_iter().rev());
        paths.authorized_keys_files.extend(p.authorized_keys_files);
        paths
            .authorized_principals_files
            .extend(p.authorized_principals_files);
        paths.host_keys.extend(p.host_keys);
    }
    // The rest of /etc/ssh: client config, known hosts, host keys (private ones withheld).
    walk::walk(s, b"/etc/ssh", Limits::config(3), |_| Pick::Record(guarded))?;
    for key in &paths.host_keys {
        let abs = if key.starts_with(b"/") {
            key.clone()
        } else {
            child(b"/etc/ssh", key)
        };
        s.capture(&abs, guarded)?;
        let mut public = abs.clone();
        public.extend_from_slice(b".pub");
        s.capture(&public, guarded)?;
    }
    for f in [&b"/etc/ssh/ssh_known_hosts"[..], b"/etc/ssh/sshrc"] {
        s.capture(f, guarded)?;
    }

    let mut patterns: Vec<Vec<u8>> = vec![
        b".ssh/authorized_keys".to_vec(),
        b".ssh/authorized_keys2".to_vec(),
    ];
    patterns.extend(paths.authorized_keys_files);
    patterns.extend(paths.authorized_principals_files);
    patterns.sort();
    patterns.dedup();
    for (home, account) in s.ctx.homes.clone() {
        walk::walk(s, &child(&home, b".ssh"), Limits::config(3), |_| {
            Pick::Record(guarded)
        })?;
        let (user, uid) = match &account {
            Some(a) => (a.name.clone(), Some(a.uid)),
            None => (super::host_root::file_name(&home).to_vec(), None),
        };
        for pat in &patterns {
            match expand_tokens(pat, &home, &user, uid) {
                Some(path) => {
                    s.capture(&path, guarded)?;
                }
                None => s.note(pat, "AuthorizedKeysFile token cannot be expanded offline"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshd_directives_with_includes_quotes_and_match_blocks() {
        let cfg = b"# comment\n\
Include /etc/ssh/sshd_config.d/*.conf\n\
  include   extra.conf \"with space.conf\"\n\
AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /etc/ssh/keys/%u\r\n\
AuthorizedKeysFile=/var/lib/keys/%h/keys\n\
authorizedkeysfile none\n\
AuthorizedPrincipalsFile /etc/ssh/principals/%u # trailing comment\n\
HostKey /etc/ssh/ssh_host_ed25519_key\n\
Match User games\n\
    AuthorizedKeysFile /usr/games/.k/%u\n\
PermitRootLogin yes\n";
        let p = parse_sshd(cfg);
        let v = |xs: &[&str]| xs.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            p.includes,
            v(&[
                "/etc/ssh/sshd_config.d/*.conf",
                "extra.conf",
                "with space.conf"
            ])
        );
        assert_eq!(
            p.authorized_keys_files,
            v(&[
                ".ssh/authorized_keys",
                ".ssh/authorized_keys2",
                "/etc/ssh/keys/%u",
                "/var/lib/keys/%h/keys",
                "/usr/games/.k/%u"
            ])
        );
        assert_eq!(
            p.authorized_principals_files,
            v(&["/etc/ssh/principals/%u"])
        );
        assert_eq!(p.host_keys, v(&["/etc/ssh/ssh_host_ed25519_key"]));
    }

    #[test]
    fn tokens_expand_like_sshd() {
        let e = |p: &[u8]| expand_tokens(p, b"/usr/games", b"games", Some(5));
        assert_eq!(
            e(b".ssh/authorized_keys").unwrap(),
            b"/usr/games/.ssh/authorized_keys"
        );
        assert_eq!(e(b"/etc/ssh/keys/%u").unwrap(), b"/etc/ssh/keys/games");
        assert_eq!(e(b"%h/.k/%U%%").unwrap(), b"/usr/games/.k/5%");
        assert_eq!(e(b"~/.ssh/k").unwrap(), b"/usr/games/.ssh/k");
        assert_eq!(e(b"/x/%C"), None);
    }

    #[test]
    fn private_keys_are_recognised() {
        assert!(private_key(b"id_rsa", b"whatever").is_some());
        assert!(private_key(b"backup", b"-----BEGIN OPENSSH PRIVATE KEY-----\nxx").is_some());
        assert!(private_key(b"k", b"-----BEGIN RSA PRIVATE KEY-----").is_some());
        assert!(private_key(b"ssh_host_rsa_key", b"").is_some());
        assert!(private_key(b"id_rsa.pub", b"ssh-rsa AAAA").is_none());
        assert!(private_key(b"authorized_keys", b"ssh-rsa AAAA x@y").is_none());
    }
}
