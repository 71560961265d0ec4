//! `authorized_keys` (and `.pub`, `known_hosts`) parsed as sshd parses it (`auth2-pubkeyfile.c`): leading
//! blanks skipped, `#` and empty lines ignored, a line tried first as `type base64 [comment]` and, failing
//! that, as `options type base64 [comment]` where options end at the first blank outside double quotes
//! (`\"` escapes a quote). CRLF endings and a last line without a newline are accepted.
//!
//! Fingerprints are `SHA256:<base64 without padding>` of the decoded key blob, exactly as `ssh-keygen -l`
//! prints them.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::numbered_lines;

/// Key type names sshd accepts in `authorized_keys`.
pub const KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ssh-ed448",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
];

/// One key line sshd would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey {
    /// 1-based line number in the file.
    pub line: u32,
    /// The options field as written (`command="...",no-pty`), when present.
    pub options: Option<Vec<u8>>,
    pub key_type: String,
    /// The base64 text as written.
    pub base64: Vec<u8>,
    /// The decoded blob.
    pub blob: Vec<u8>,
    /// The comment, trimmed (may be empty).
    pub comment: Vec<u8>,
    /// `SHA256:...` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The line as written, without its line ending.
    pub raw: Vec<u8>,
}

impl AuthorizedKey {
    /// Options split on commas outside quotes: `(name, value)` with quotes removed from the value.
    pub fn option_list(&self) -> Vec<(String, Option<Vec<u8>>)> {
        self.options
            .as_deref()
            .map(split_options)
            .unwrap_or_default()
    }

    /// The key size as `ssh-keygen -l` prints it: the modulus bits of an RSA key, `p`'s of a DSA key,
    /// the curve's of an ECDSA key, 256 for Ed25519 (certificates: their key's). `None` when the blob
    /// is cut short.
    pub fn bits(&self) -> Option<u32> {
        let base = self.key_type.trim_end_matches("-cert-v01@openssh.com");
        let cert = base.len() != self.key_type.len();
        match base {
            "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512" | "ssh-dss" => {
                let mut r = Wire(&self.blob);
                r.string()?;
                if cert {
                    r.string()?; // nonce
                }
                if base == "ssh-dss" {
                    return mpint_bits(r.string()?);
                }
                r.string()?; // e
                mpint_bits(r.string()?)
            }
            "ecdsa-sha2-nistp256" | "sk-ecdsa-sha2-nistp256@openssh.com" => Some(256),
            "ecdsa-sha2-nistp384" => Some(384),
            "ecdsa-sha2-nistp521" => Some(521),
            "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => Some(256),
            _ => None,
        }
    }

    /// The algorithm as `ssh-keygen -l` names it in parentheses: `RSA`, `DSA`, `ECDSA`, `ED25519`,
    /// `ECDSA-SK`, `ED25519-SK` (`-CERT` appended for certificates).
    pub fn algorithm(&self) -> String {
        let base = self.key_type.trim_end_matches("-cert-v01@openssh.com");
        let name = match base {
            "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512" => "RSA",
            "ssh-dss" => "DSA",
            "sk-ecdsa-sha2-nistp256@openssh.com" => "ECDSA-SK",
            "sk-ssh-ed25519@openssh.com" => "ED25519-SK",
            "ssh-ed25519" => "ED25519",
            b if b.starts_with("ecdsa-") => "ECDSA",
            _ => "UNKNOWN",
        };
        if base.len() != self.key_type.len() {
            format!("{name}-CERT")
        } else {
            name.to_owned()
        }
    }

    /// The forced `command="..."` option, unquoted.
    pub fn forced_command(&self) -> Option<Vec<u8>> {
        self.option_list()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("command"))
            .and_then(|(_, v)| v)
    }
}

/// Everything in one file: usable keys and the lines sshd would skip as invalid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    pub keys: Vec<AuthorizedKey>,
    /// Non-comment lines that are not a key (junk, RDB bytes, truncated keys), with line numbers.
    pub invalid: Vec<(u32, Vec<u8>)>,
}

/// Parses an `authorized_keys` file (or a `.pub` file).
pub fn parse(bytes: &[u8]) -> KeyFile {
    let mut out = KeyFile::default();
    for (n, raw) in numbered_lines(bytes) {
        let cp = skip_blanks(raw);
        if cp.is_empty() || cp.starts_with(b"#") {
            continue;
        }
        match parse_line(n, raw) {
            Some(k) => out.keys.push(k),
            None => out.invalid.push((n, raw.to_vec())),
        }
    }
    out
}

/// Parses one line (already without its line ending); `None` when sshd would not accept a key from it.
pub fn parse_line(line: u32, raw: &[u8]) -> Option<AuthorizedKey> {
    let cp = skip_blanks(raw);
    if let Some(k) = parse_key(cp) {
        return Some(finish(line, None, k, raw));
    }
    let end = options_end(cp);
    let options = cp.get(..end)?.to_vec();
    let rest = skip_blanks(cp.get(end..)?);
    let k = parse_key(rest)?;
    Some(finish(line, Some(options), k, raw))
}

struct KeyParts {
    key_type: String,
    base64: Vec<u8>,
    blob: Vec<u8>,
    comment: Vec<u8>,
}

fn finish(line: u32, options: Option<Vec<u8>>, k: KeyParts, raw: &[u8]) -> AuthorizedKey {
    AuthorizedKey {
        line,
        options,
        fingerprint: fingerprint(&k.blob),
        key_type: k.key_type,
        base64: k.base64,
        blob: k.blob,
        comment: k.comment,
        raw: raw.to_vec(),
    }
}

fn skip_blanks(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

fn token(b: &[u8]) -> (&[u8], &[u8]) {
    let end = b
        .iter()
        .position(|c| *c == b' ' || *c == b'\t')
        .unwrap_or(b.len());
    b.split_at(end)
}

/// `type base64 [comment]`, with the blob's embedded type checked against the type name.
fn parse_key(cp: &[u8]) -> Option<KeyParts> {
    let (ty, rest) = token(cp);
    let ty = std::str::from_utf8(ty).ok()?;
    if !KEY_TYPES.contains(&ty) {
        return None;
    }
    let (b64, rest) = token(skip_blanks(rest));
    let blob = STANDARD.decode(b64).ok()?;
    let inner = blob_type(&blob)?;
    let consistent = inner == ty.as_bytes() || (ty.starts_with("rsa-sha2-") && inner == b"ssh-rsa");
    if !consistent {
        return None;
    }
    Some(KeyParts {
        key_type: ty.to_owned(),
        base64: b64.to_vec(),
        blob,
        comment: rest.trim_ascii().to_vec(),
    })
}

/// A reader of SSH wire-format strings (`u32` length, bytes).
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        let len_bytes: [u8; 4] = self.0.get(..4)?.try_into().ok()?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
        let end = 4usize.checked_add(len)?;
        let s = self.0.get(4..end)?;
        self.0 = self.0.get(end..)?;
        Some(s)
    }
}

/// Significant bits of an unsigned big-endian integer (`mpint`, leading zero bytes ignored).
fn mpint_bits(n: &[u8]) -> Option<u32> {
    let start = n.iter().position(|b| *b != 0)?;
    let first = *n.get(start)?;
    let rest = u32::try_from(n.len() - start - 1).ok()?;
    rest.checked_mul(8)?.checked_add(8 - first.leading_zeros())
}

/// The type string at the start of an SSH wire-format key blob.
fn blob_type(blob: &[u8]) -> Option<&[u8]> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    blob.get(4..4usize.checked_add(len)?)
}

/// Where sshd's option skipping stops: the first blank outside double quotes.
fn options_end(cp: &[u8]) -> usize {
    let mut quoted = false;
    let mut i = 0;
    while let Some(&c) = cp.get(i) {
        if !quoted && (c == b' ' || c == b'\t') {
            break;
        }
        if c == b'\\' && cp.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if c == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    i.min(cp.len())
}

fn split_options(opts: &[u8]) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let mut i = 0;
    let mut push = |piece: &[u8]| {
        if piece.is_empty() {
            return;
        }
        match piece.iter().position(|b| *b == b'=') {
            Some(eq) => {
                let name =
                    String::from_utf8_lossy(piece.get(..eq).unwrap_or_default()).into_owned();
                let v = piece.get(eq + 1..).unwrap_or_default();
                let v = v.strip_prefix(b"\"").unwrap_or(v);
                let v = v.strip_suffix(b"\"").unwrap_or(v);
                let mut value = Vec::with_capacity(v.len());
                let mut j = 0;
                while let Some(&c) = v.get(j) {
                    if c == b'\\' && v.get(j + 1) == Some(&b'"') {
                        value.push(b'"');
                        j += 2;
                    } else {
                        value.push(c);
                        j += 1;
                    }
                }
                out.push((name, Some(value)));
            }
            None => out.push((String::from_utf8_lossy(piece).into_owned(), None)),
        }
    };
    while let Some(&c) = opts.get(i) {
        if c == b'\\' && opts.get(i + 1) == Some(&b'"') {
            i += 2;
            continue;
        }
        if c == b'"' {
            quoted = !quoted;
        } else if c == b',' && !quoted {
            push(opts.get(start..i).unwrap_or_default());
            start = i + 1;
        }
        i += 1;
    }
    push(opts.get(start..).unwrap_or_default());
    out
}

/// `SHA256:<base64 without padding>` of a key blob, as `ssh-keygen -l` prints it.
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// One `known_hosts` line: `[@marker] hosts type base64 [comment]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHost {
    pub line: u32,
    pub marker: Option<Vec<u8>>,
    /// The host patterns field as written (`|1|salt|hash` when hashed).
    pub hosts: Vec<u8>,
    pub hashed: bool,
    pub key_type: String,
    pub fingerprint: String,
}

impl KnownHost {
    /// The plain host names and addresses of the patterns field (`db-01,10.0.0.8`, `[10.0.0.9]:2222`),
    /// lowercased; hashed entries, negations (`!host`) and wildcards name no one host and are left out.
    pub fn names(&self) -> Vec<Vec<u8>> {
        if self.hashed {
            return Vec::new();
        }
        self.hosts
            .split(|b| *b == b',')
            .filter(|p| !p.is_empty() && !p.starts_with(b"!"))
            .filter(|p| !p.iter().any(|b| matches!(b, b'*' | b'?')))
            .filter_map(|p| match p.strip_prefix(b"[") {
                Some(rest) => rest.split(|b| *b == b']').next(),
                None => Some(p),
            })
            .filter(|h| !h.is_empty())
            .map(<[u8]>::to_ascii_lowercase)
            .collect()
    }
}

/// Parses a `known_hosts` file; lines that are not host keys are skipped.
pub fn parse_known_hosts(bytes: &[u8]) -> Vec<KnownHost> {
    let mut out = Vec::new();
    for (n, raw) in numbered_lines(bytes) {
        let mut cp = skip_blanks(raw);
        if cp.is_empty() || cp.starts_with(b"#") {
            continue;
        }
        let mut marker = None;
        if cp.starts_with(b"@") {
            let (m, rest) = token(cp);
            marker = Some(m.to_vec());
            cp = skip_blanks(rest);
        }
        let (hosts, rest) = token(cp);
        if let Some(k) = parse_key(skip_blanks(rest)) {
            out.push(KnownHost {
                line: n,
                marker,
                hosts: hosts.to_vec(),
                hashed: hosts.starts_with(b"|1|"),
                key_type: k.key_type,
                fingerprint: fingerprint(&k.blob),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqO6XHD6uDOzvJxMYGyRRhe9dc+7gnXbY3YmRAKB7d2";
    const ED_FP: &str = "SHA256:ZyX3HSSZY0hJyNptREzLB9BuhRMc5+DsYV3J6JkTYCs";

    #[test]
    fn bits_and_algorithm_as_ssh_keygen_prints_them() {
        let ed = parse(format!("{ED} admin@example\n").as_bytes());
        assert_eq!(ed.keys[0].bits(), Some(256));
        assert_eq!(ed.keys[0].algorithm(), "ED25519");
        // An RSA blob: type, e = 65537, a 2048-bit modulus (top bit set, with mpint's leading zero).
        let mut blob = Vec::new();
        for part in [
            b"ssh-rsa".to_vec(),
            vec![1, 0, 1],
            [vec![0, 0x80], vec![7; 255]].concat(),
        ] {
            blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
            blob.extend_from_slice(&part);
        }
        let line = format!("ssh-rsa {} k", STANDARD.encode(&blob));
        let rsa = parse_line(1, line.as_bytes()).expect("rsa key");
        assert_eq!(rsa.bits(), Some(2048));
        assert_eq!(rsa.algorithm(), "RSA");
        assert_eq!(mpint_bits(&[0, 0, 1]), Some(1));
        assert_eq!(mpint_bits(&[]), None);
    }

    #[test]
    fn plain_key_and_fingerprint() {
        let f = parse(format!("{ED} admin@example\n").as_bytes());
        assert_eq!(f.keys.len(), 1);
        let k = &f.keys[0];
        assert_eq!(k.fingerprint, ED_FP);
        assert_eq!(k.comment, b"admin@example");
        assert_eq!(k.key_type, "ssh-ed25519");
        assert!(k.options.is_none());
    }

    #[test]
    fn options_with_quoted_spaces_crlf_no_final_newline() {
        let text = format!(
            "# c\r\n\r\n  command=\"echo \\\"hi there\\\"; /bin/x\",no-pty,from=\"10.0.0.1, 10.0.0.2\" {ED} two words \r\njunk line\r\n{ED}"
        );
        let f = parse(text.as_bytes());
        assert_eq!(f.keys.len(), 2, "{f:?}");
        let k = &f.keys[0];
        assert_eq!(k.line, 3);
        assert_eq!(k.comment, b"two words");
        assert_eq!(k.fingerprint, ED_FP);
        assert_eq!(k.forced_command().unwrap(), b"echo \"hi there\"; /bin/x");
        let opts = k.option_list();
        assert_eq!(opts[1], ("no-pty".to_owned(), None));
        assert_eq!(opts[2].1.as_deref(), Some(&b"10.0.0.1, 10.0.0.2"[..]));
        assert_eq!(f.keys[1].line, 5);
        assert!(f.keys[1].comment.is_empty());
        assert_eq!(f.invalid, vec![(4, b"junk line".to_vec())]);
    }

    #[test]
    fn mismatched_type_and_bad_base64_are_invalid() {
        let wrong = ED.replace("ssh-ed25519", "ssh-rsa");
        assert!(parse_line(1, wrong.as_bytes()).is_none());
        assert!(parse_line(1, b"ssh-rsa AAAA!!!! x").is_none());
        assert!(parse_line(1, b"ssh-rsa").is_none());
        assert!(parse_line(1, b"REDIS0009\xfa\x09redis-ver").is_none());
    }

    #[test]
    fn known_hosts_lines() {
        let text =
            format!("|1|abc=|def= {ED}\n@cert-authority *.example {ED} c\nhost1,10.0.0.1 bogus\n");
        let k = parse_known_hosts(text.as_bytes());
        assert_eq!(k.len(), 2);
        assert!(k[0].hashed);
        assert_eq!(k[1].marker.as_deref(), Some(&b"@cert-authority"[..]));
    }

    #[test]
    fn known_host_names() {
        let kh = format!(
            "db-01,10.0.0.8 {ED}\n[Web-02]:2222 {ED}\n|1|c2FsdA==|aGFzaA== {ED}\n*.corp,!x {ED}\n"
        );
        let names: Vec<Vec<Vec<u8>>> = parse_known_hosts(kh.as_bytes())
            .iter()
            .map(KnownHost::names)
            .collect();
        assert_eq!(names[0], vec![b"db-01".to_vec(), b"10.0.0.8".to_vec()]);
        assert_eq!(names[1], vec![b"web-02".to_vec()]);
        assert!(names[2].is_empty());
        assert!(names[3].is_empty());
    }
}
