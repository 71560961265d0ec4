//! The systemd journal's tampering signs (T1070.002), from the model's journal facts and the shell
//! histories:
//! - `MT-EVA-011`: `journalctl --vacuum-time/--vacuum-size/--vacuum-files` typed in a history: medium
//!   when it keeps next to nothing (the logins, the service's messages are gone: the attacker's wipe),
//!   low when it keeps a sane amount (an admin freeing disk; a timer or logrotate doing it is not typed);
//! - `MT-EVA-012`: a journal file cut short, entries its header counts that none can read, or a hole in
//!   one journal's sequence numbers across its files — unless the collector left a journal file out
//!   (its budget), which explains a hole.
//!
//! Journals and histories are evidence: they are named as subjects so that they are preserved, never
//! as something to remove.

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Severity};

use super::common::{self, quote_line};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::parse::{numbered_lines, words};

/// A vacuum keeping less time than this (`--vacuum-time`) leaves none of the intrusion's day: a wipe.
/// Retention an admin sets is days to months (`2weeks`, `30d`); the wipe is `1s`.
pub const WIPE_TIME_SECS: u64 = 86_400;
/// A vacuum keeping fewer bytes than this (`--vacuum-size`) leaves a journal file or two at most: a wipe.
/// Disk housekeeping keeps hundreds of megabytes (`500M`); the wipe is `1K`/`1M`.
pub const WIPE_SIZE_BYTES: u64 = 16 << 20;
/// A vacuum keeping at most this many archived files (`--vacuum-files`): a wipe.
pub const WIPE_FILES: u64 = 1;

/// Whether an option's value keeps next to nothing (`None`: the value cannot be read).
type KeepsLittle = fn(&str) -> Option<bool>;

/// `journalctl` options that drop entries: the option and how much its value keeps.
const VACUUMS: &[(&[u8], KeepsLittle)] = &[
    (b"--vacuum-time", |v| {
        time_span_secs(v).map(|s| s < WIPE_TIME_SECS)
    }),
    (b"--vacuum-size", |v| {
        size_bytes(v).map(|b| b < WIPE_SIZE_BYTES)
    }),
    (b"--vacuum-files", |v| {
        v.parse::<u64>().ok().map(|n| n <= WIPE_FILES)
    }),
];

/// A `journalctl --vacuum-*` typed in a history.
#[derive(Debug, PartialEq, Eq)]
struct Vacuum<'a> {
    option: &'static [u8],
    value: Option<&'a [u8]>,
    /// It keeps next to nothing (or a value that cannot be read): the journal was emptied, not trimmed.
    wipe: bool,
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = typed(ctx);
    out.extend(damaged(ctx));
    out
}

/// The vacuums a history line runs (`journalctl` must be the command of the segment holding the option).
/// `--rotate` alone archives the active files and drops nothing: it is not one.
fn vacuums(line: &[u8]) -> Vec<Vacuum<'_>> {
    let mut out = Vec::new();
    for seg in line.split(|b| matches!(b, b';' | b'&' | b'|')) {
        let mut w = words(seg).skip_while(|w| *w == b"sudo" || w.contains(&b'='));
        let Some(cmd) = w.next() else { continue };
        if crate::parse::basename(cmd) != b"journalctl" {
            continue;
        }
        let args: Vec<&[u8]> = w.collect();
        for (i, arg) in args.iter().enumerate() {
            for (option, keeps_little) in VACUUMS {
                let value = if arg == option {
                    args.get(i + 1).copied()
                } else if let Some(v) = arg.strip_prefix(*option).and_then(|r| r.strip_prefix(b"="))
                {
                    Some(v)
                } else {
                    continue;
                };
                let wipe = value
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| keeps_little(v.trim_matches(['\'', '"'])))
                    .unwrap_or(true);
                out.push(Vacuum {
                    option,
                    value,
                    wipe,
                });
            }
        }
    }
    out
}

/// A systemd time span (`1s`, `2weeks`, `1h30min`, `30d`; a bare number is seconds) in seconds.
fn time_span_secs(v: &str) -> Option<u64> {
    const UNITS: &[(&str, u64)] = &[
        ("usec", 0),
        ("us", 0),
        ("msec", 0),
        ("ms", 0),
        ("seconds", 1),
        ("second", 1),
        ("sec", 1),
        ("s", 1),
        ("minutes", 60),
        ("minute", 60),
        ("min", 60),
        ("m", 60),
        ("hours", 3600),
        ("hour", 3600),
        ("hr", 3600),
        ("h", 3600),
        ("days", 86_400),
        ("day", 86_400),
        ("d", 86_400),
        ("weeks", 604_800),
        ("week", 604_800),
        ("w", 604_800),
        ("months", 2_629_800),
        ("month", 2_629_800),
        ("M", 2_629_800),
        ("years", 31_557_600),
        ("year", 31_557_600),
        ("y", 31_557_600),
    ];
    let mut rest = v.trim();
    if rest.is_empty() {
        return None;
    }
    if let Ok(n) = rest.parse::<u64>() {
        return Some(n);
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest.get(..digits)?.parse().ok()?;
        let tail = rest.get(digits..)?.trim_start();
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(tail.len());
        let unit = tail.get(..unit_len)?;
        let (_, secs) = UNITS.iter().find(|(u, _)| *u == unit)?;
        total = total.saturating_add(n.saturating_mul(*secs));
        rest = tail.get(unit_len..)?.trim_start();
    }
    Some(total)
}

/// A journald size (`500M`, `1G`, `1K`, `4096`; base 1024) in bytes.
fn size_bytes(v: &str) -> Option<u64> {
    let v = v.trim();
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = digits.parse().ok()?;
    let shift = match unit {
        "" | "B" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        "P" | "p" => 50,
        "E" | "e" => 60,
        _ => return None,
    };
    Some(n.saturating_mul(1u64.checked_shl(shift)?))
}

/// `MT-EVA-011`: one finding per history that vacuumed the journal; medium when a vacuum kept next to
/// nothing, low when every one kept a sane amount (disk housekeeping).
fn typed(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, bytes) in common::captured(ctx.model, common::is_history_path) {
        let hits: Vec<(u32, &[u8], Vacuum)> = numbered_lines(bytes)
            .flat_map(|(n, l)| vacuums(l).into_iter().map(move |v| (n, l, v)))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let wipes = hits.iter().filter(|(_, _, v)| v.wipe).count();
        let (severity, summary) = if wipes > 0 {
            (
                Severity::Medium,
                format!(
                    "{} shows the journal emptied {wipes} time(s): a vacuum that keeps next to nothing (less than {} h, {} MiB or {WIPE_FILES} archived file)",
                    file.path.escaped(),
                    WIPE_TIME_SECS / 3600,
                    WIPE_SIZE_BYTES >> 20
                ),
            )
        } else {
            (
                Severity::Low,
                format!(
                    "{} shows the journal trimmed {} time(s), each keeping a sane amount: disk housekeeping, not a wipe",
                    file.path.escaped(),
                    hits.len()
                ),
            )
        };
        let mut f = finding(&rules::EVA_011, severity)
            .subject(file_subject(file))
            .evidence(summary);
        for (n, l, v) in hits.into_iter().take(8) {
            f = f.evidence(format!(
                "{} ({}{})",
                quote_line(&file.path, n, l),
                escape_bytes(v.option),
                if v.wipe {
                    ": keeps next to nothing"
                } else {
                    ""
                }
            ));
        }
        out.push(f);
    }
    out
}

/// `MT-EVA-012`, one finding for the journal.
fn damaged(ctx: &Context) -> Vec<Finding> {
    let j = &ctx.model.journals;
    let mut f = finding(&rules::EVA_012, Severity::Medium);
    let mut any = false;
    for file in &j.files {
        let Ok(facts) = &file.read else { continue };
        let show = escape_bytes(&file.path);
        if facts.truncated {
            any = true;
            f = f.evidence(format!(
                "{show} is shorter than its header says ({} bytes of header and arena): cut after it was written",
                facts.header.header_size.saturating_add(facts.header.arena_size)
            ));
        }
        if facts.unreadable_entries > 0 {
            any = true;
            f = f.evidence(format!(
                "{show}: its header counts {} entries, {} could not be read",
                facts.header.n_entries, facts.unreadable_entries
            ));
        }
        if facts.truncated || facts.unreadable_entries > 0 {
            if let Some(r) = ctx.model.file(&file.path) {
                f = f.subject(file_subject(r));
            }
        }
    }
    // A hole the collector's budget explains (a file it left out) is not tampering.
    if !j.gaps.is_empty() && j.not_copied.is_empty() {
        any = true;
        for (a, b) in j.gaps.iter().take(8) {
            f = f.evidence(format!(
                "sequence numbers {a}..={b} are missing between the journal's files (entries or whole files removed)"
            ));
        }
        for file in &j.files {
            if let Some(r) = ctx.model.file(&file.path) {
                f = f.subject(file_subject(r));
            }
        }
    }
    if any {
        vec![f]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacuums_that_wipe_and_vacuums_that_trim() {
        let wipe = |l: &[u8]| -> Vec<(&[u8], bool)> {
            vacuums(l).into_iter().map(|v| (v.option, v.wipe)).collect()
        };
        // The attacker's: keep nothing.
        assert_eq!(
            wipe(b"journalctl --rotate; journalctl --vacuum-time=1s"),
            vec![(&b"--vacuum-time"[..], true)]
        );
        assert_eq!(
            wipe(b"sudo journalctl --vacuum-size 1M"),
            vec![(&b"--vacuum-size"[..], true)]
        );
        assert_eq!(
            wipe(b"SYSTEMD_PAGER= journalctl --vacuum-files=1"),
            vec![(&b"--vacuum-files"[..], true)]
        );
        assert_eq!(
            wipe(b"journalctl --vacuum-time=$T"),
            vec![(&b"--vacuum-time"[..], true)],
            "a value that cannot be read is not taken for housekeeping"
        );
        assert_eq!(
            wipe(b"journalctl --vacuum-time=2h"),
            vec![(&b"--vacuum-time"[..], true)]
        );
        // Housekeeping: keep weeks or hundreds of megabytes.
        assert_eq!(
            wipe(b"journalctl --vacuum-size=500M"),
            vec![(&b"--vacuum-size"[..], false)]
        );
        assert_eq!(
            wipe(b"sudo journalctl --vacuum-time=2weeks --vacuum-size=1G"),
            vec![
                (&b"--vacuum-time"[..], false),
                (&b"--vacuum-size"[..], false)
            ]
        );
        assert_eq!(
            wipe(b"journalctl --vacuum-time 30d"),
            vec![(&b"--vacuum-time"[..], false)]
        );
        assert_eq!(
            wipe(b"journalctl --vacuum-files=5"),
            vec![(&b"--vacuum-files"[..], false)]
        );
        // Not a vacuum at all.
        assert!(wipe(b"journalctl --rotate").is_empty());
        assert!(wipe(b"journalctl -u sshd --since today").is_empty());
        assert!(wipe(b"echo journalctl --vacuum-time=1s").is_empty());
        assert!(wipe(b"man journalctl | grep -- --vacuum-time").is_empty());
    }

    #[test]
    fn time_spans_and_sizes() {
        assert_eq!(time_span_secs("1s"), Some(1));
        assert_eq!(time_span_secs("90"), Some(90));
        assert_eq!(time_span_secs("1h30min"), Some(5400));
        assert_eq!(time_span_secs("2 weeks"), Some(1_209_600));
        assert_eq!(time_span_secs("1d"), Some(86_400));
        assert_eq!(time_span_secs("soon"), None);
        assert_eq!(size_bytes("500M"), Some(500 << 20));
        assert_eq!(size_bytes("1K"), Some(1024));
        assert_eq!(size_bytes("4096"), Some(4096));
        assert_eq!(size_bytes("lots"), None);
        assert_eq!(size_bytes("99999999999999999999G"), None);
    }
}
