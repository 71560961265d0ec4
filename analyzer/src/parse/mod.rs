//! Parsers for the text artifacts a host hands over: crontabs, systemd units, `authorized_keys`,
//! `sshd_config`, shell lines, account files, firewall dumps, APT configuration, auth logs and services' own
//! logs.
//!
//! They work on bytes (host text is not UTF-8 by contract), never panic, cap the work they do on huge
//! inputs, and report positions as 1-based line numbers in the captured file, so that a finding, the
//! attack graph and the remediation script name the same line. Detectors, the graph and the remediation
//! engineer all call them; none of them judges anything. A new artifact format gets its own module here.

pub mod apt_conf;
pub mod auth_log;
pub mod authorized_keys;
pub mod continuation;
pub mod cron;
pub mod iptables;
pub mod journal;
pub mod pam_conf;
pub mod passwd;
pub mod quoting;
pub mod refs;
pub mod service_log;
pub mod shell_line;
pub mod ssh_command;
pub mod sshd_config;
pub mod sudoers;
pub mod systemd_unit;
pub mod udev_rules;
pub mod web_config;

/// Lines read from one file at most; the rest is ignored (a 10,000-line crontab is fine, a 2 GB log is cut).
pub const MAX_LINES: usize = 200_000;

/// Bytes of one line looked at; longer lines are cut for analysis (their line number stays right).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// `Jan`..`Dec`, as syslog, Redis and access logs write a month.
pub fn month_abbrev(name: &str) -> Option<time::Month> {
    use time::Month;
    Some(match name {
        "Jan" => Month::January,
        "Feb" => Month::February,
        "Mar" => Month::March,
        "Apr" => Month::April,
        "May" => Month::May,
        "Jun" => Month::June,
        "Jul" => Month::July,
        "Aug" => Month::August,
        "Sep" => Month::September,
        "Oct" => Month::October,
        "Nov" => Month::November,
        "Dec" => Month::December,
        _ => return None,
    })
}

/// Splits bytes into lines the way `getline` does (on `\n`), numbering from 1, dropping one trailing `\r`
/// (CRLF files) and the empty remainder after a final newline; a last line without a newline is kept.
/// At most [`MAX_LINES`] lines, each cut to [`MAX_LINE_BYTES`].
pub fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|b| *b == b'\n')
        .take(if empty { 0 } else { MAX_LINES })
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = line.get(..MAX_LINE_BYTES).unwrap_or(line);
            (u32::try_from(i + 1).unwrap_or(u32::MAX), line)
        })
}

/// Splits on ASCII spaces and tabs, skipping empty pieces.
pub fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
}

/// Whether `hay` contains `needle` (byte-wise).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Case-insensitive (ASCII) [`contains`].
pub fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The last path component.
pub fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

/// The directory part of a path, without the trailing slash (`/` for top-level names).
pub fn dirname(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) => b"/",
        Some(i) => path.get(..i).unwrap_or(path),
        None => b"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_like_getline() {
        let got: Vec<_> = numbered_lines(b"a\r\nb\n\nc").collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (2, b"b"), (3, b""), (4, b"c")]);
        assert_eq!(numbered_lines(b"x\n").count(), 1);
        assert_eq!(numbered_lines(b"").count(), 0);
        assert_eq!(
            numbered_lines(b"\n").collect::<Vec<_>>(),
            vec![(1, &b""[..])]
        );
    }

    #[test]
    fn path_parts() {
        assert_eq!(basename(b"/etc/cron.d/x"), b"x");
        assert_eq!(dirname(b"/etc/cron.d/x"), b"/etc/cron.d");
        assert_eq!(dirname(b"/x"), b"/");
        assert!(contains_ci(b"Hello", b"ELL"));
    }
}

#[cfg(test)]
mod hostile_input {
    //! Every parser on junk: random bytes, NULs, huge lines, unbalanced quotes — never a panic.

    fn junk(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let alphabet =
            b" \t\n\r'\"\\|;&()`$<>=:,#@*/.-~0123456789abcdefREDISssh-rsaAAAA\xff\x00\xc3";
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = usize::try_from(x % alphabet.len() as u64).unwrap_or(0);
                alphabet[i]
            })
            .collect()
    }

    #[test]
    fn parsers_survive_junk() {
        let mut inputs: Vec<Vec<u8>> = (0..300)
            .map(|s| junk(s, 64 + (s as usize * 37) % 4000))
            .collect();
        inputs.push(vec![b'a'; 300_000]);
        inputs.push(b"\"".repeat(100_000));
        inputs.push(b"$(".repeat(50_000));
        inputs.push(b"* * * * * ".repeat(10_000));
        for b in &inputs {
            let _ = super::cron::parse(b, super::cron::CronFormat::System);
            let _ = super::cron::parse(b, super::cron::CronFormat::Anacron);
            let _ = super::systemd_unit::Unit::parse(b).exec_commands();
            let _ = super::authorized_keys::parse(b);
            let _ = super::authorized_keys::parse_known_hosts(b);
            let _ = super::sshd_config::parse(b"/x", b);
            let _ = super::shell_line::analyze(b);
            let _ = super::passwd::parse_passwd(b);
            let _ = super::passwd::parse_group(b);
            let _ = super::sudoers::parse(b);
            let _ = super::iptables::parse(b);
            let _ = super::auth_log::parse(b);
            let _ = super::sshd_config::glob_match(b, b);
        }
    }
}
