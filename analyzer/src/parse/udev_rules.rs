//! The programs a udev rule runs (udev(7)): `RUN+=`/`RUN=` (and `RUN{program}`) after the event,
//! `PROGRAM==` while matching and `IMPORT{program}=` to read properties. udev runs each of them as root,
//! split into words and executed without a shell, on every event the rule matches — including the ones
//! every boot replays (sedexp's `ENV{MAJOR}=="1", ENV{MINOR}=="8"` is `/dev/random`). `RUN{builtin}` and
//! `IMPORT{builtin|file|db|cmdline|parent}` name udev's own code or data, not a program.
//!
//! A program named without a `/` is looked up in udev's own program directory ([`UDEV_PROGRAM_DIR`]),
//! so the command handed on names the file udev really starts: a kit that drops `kudevd` there and writes
//! `RUN+="kudevd"` is read as running `/usr/lib/udev/kudevd`.

/// Where udev looks for a program named without a path (udev(7): "If no absolute path is given, the
/// program is expected to live in /usr/lib/udev"; `/lib/udev` on hosts without a merged `/usr`, which
/// the model's merged-`/usr` lookups cover).
pub const UDEV_PROGRAM_DIR: &[u8] = b"/usr/lib/udev/";

/// Most program keys read from one rule line.
const MAX_PROGRAMS: usize = 16;

/// The commands one rule line (continuations already joined) runs, in order, each as udev executes it:
/// a bare program name resolved against [`UDEV_PROGRAM_DIR`]. Malformed text ends the scan; what was read
/// before stays.
pub fn rule_programs(line: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = line;
    while out.len() < MAX_PROGRAMS {
        let Some((pair, after)) = next_pair(rest) else {
            break;
        };
        rest = after;
        if runs_program(pair.key, pair.attr) {
            let value = pair.value.trim_ascii();
            if !value.is_empty() {
                out.push(resolve(value));
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

/// A command whose first word has no `/` gets udev's program directory in front of it.
fn resolve(command: &[u8]) -> Vec<u8> {
    let first = command
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    if first.contains(&b'/') {
        command.to_vec()
    } else {
        [UDEV_PROGRAM_DIR, command].concat()
    }
}

/// One `KEY{attr} OP "value"` of a rule (the operator is not kept: a program runs whatever it is).
struct Pair<'a> {
    key: &'a [u8],
    attr: Option<&'a [u8]>,
    value: Vec<u8>,
}

/// The next pair of a rule, and the text after it. udev separates pairs with commas; a value is
/// double-quoted, `\"` inside it a quote.
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
    let rest = rest.get(op_len..)?.trim_ascii_start().strip_prefix(b"\"")?;
    let mut value = Vec::new();
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'\\' if rest.get(i + 1) == Some(&b'"') => {
                value.push(b'"');
                i += 2;
            }
            b'"' => return Some((Pair { key, attr, value }, rest.get(i + 1..)?)),
            _ => {
                value.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(line: &[u8]) -> Vec<String> {
        rule_programs(line)
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
    }

    #[test]
    fn builtins_matches_and_assignments_run_nothing() {
        assert!(programs(br#"TAG=="uaccess", ENV{MAJOR}!="", RUN{builtin}+="uaccess""#).is_empty());
        assert!(programs(
            br#"IMPORT{builtin}="path_id", IMPORT{file}="/run/x", ENV{ID_RUN}="RUN+=x""#
        )
        .is_empty());
        assert!(programs(br#"SUBSYSTEM=="net", NAME="eth0", SYMLINK+="RUN""#).is_empty());
        // Malformed text: what was read before stays, nothing after an unclosed quote.
        assert_eq!(
            programs(br#"RUN+="/opt/a", GARBAGE, RUN+="/opt/b""#),
            vec!["/opt/a"]
        );
        assert!(programs(br#"RUN+="/opt/never-closed"#).is_empty());
        assert!(programs(b"").is_empty());
    }
}
