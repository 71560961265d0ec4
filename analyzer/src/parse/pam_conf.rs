//! The lines of a PAM service file (`/etc/pam.d/NAME`, pam.conf(5)): `[-]TYPE CONTROL MODULE [ARGS...]`,
//! where CONTROL is a word (`required`, `sufficient`, ...) or a bracketed list (`[success=1
//! default=ignore]`) and an argument holding blanks is bracketed too (`[query=select ...]`). `@include`
//! lines and comments load nothing of their own. Lines are physical lines: a `\` continuation joins the
//! next one, as libpam reads it.

use super::numbered_lines;

/// One module line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PamLine {
    /// 1-based line of its first physical line.
    pub line: u32,
    /// The line as written (its first physical line).
    pub raw: Vec<u8>,
    /// `auth`, `account`, `password` or `session` (a leading `-`, "skip when the module is missing",
    /// removed).
    pub kind: Vec<u8>,
    pub control: Vec<u8>,
    /// The module as written: a name resolved in the system's module directory, or an absolute path.
    pub module: Vec<u8>,
    pub args: Vec<Vec<u8>>,
}

/// Most physical lines one line may span.
const MAX_CONTINUED: usize = 64;

/// The module lines of a service file, in order, joined as libpam's `_pam_assemble_line` joins them:
/// blank and comment-only lines are skipped (also inside a continuation), a `#` ends the line and its
/// continuation (what follows it is a comment, a `\` there joins nothing), and a `\` ending the rest
/// joins the next line.
pub fn parse(content: &[u8]) -> Vec<PamLine> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, Vec<u8>, Vec<u8>, usize)> = None;
    for (n, raw) in numbered_lines(content) {
        let t = raw.trim_ascii_start();
        if t.is_empty() || t.starts_with(b"#") {
            continue;
        }
        let (first, first_raw, mut joined, count) = match pending.take() {
            Some(p) => p,
            None => (n, raw.to_vec(), Vec::new(), 0),
        };
        if !joined.is_empty() {
            joined.push(b' ');
        }
        let (text, commented) = match t.iter().position(|b| *b == b'#') {
            Some(i) => (t.get(..i).unwrap_or_default(), true),
            None => (t, false),
        };
        let text = text.trim_ascii_end();
        match text.strip_suffix(b"\\") {
            Some(head) if !commented && count < MAX_CONTINUED => {
                joined.extend_from_slice(head.trim_ascii());
                pending = Some((first, first_raw, joined, count + 1));
            }
            _ => {
                joined.extend_from_slice(text.strip_suffix(b"\\").unwrap_or(text));
                out.extend(module_line(first, first_raw, &joined));
            }
        }
    }
    if let Some((first, first_raw, joined, _)) = pending {
        out.extend(module_line(first, first_raw, &joined));
    }
    out
}

fn module_line(line: u32, raw: Vec<u8>, text: &[u8]) -> Option<PamLine> {
    let text = text.split(|b| *b == b'#').next().unwrap_or_default();
    let words = words(text);
    let mut it = words.into_iter();
    let kind = it.next()?;
    if kind.starts_with(b"@") {
        return None;
    }
    let kind = kind.strip_prefix(b"-").unwrap_or(&kind).to_vec();
    if !matches!(
        kind.to_ascii_lowercase().as_slice(),
        b"auth" | b"account" | b"password" | b"session"
    ) {
        return None;
    }
    let control = it.next()?;
    let module = it.next()?;
    Some(PamLine {
        line,
        raw,
        kind,
        control,
        module,
        args: it.take(64).collect(),
    })
}

/// Whether a line with this control leaves the stack's outcome as it was when its module fails or is
/// missing: `sufficient`, `optional`, or a bracket whose every action is `ignore`, `ok` or `done` (no
/// jump, no `bad`/`die`). Only such a line may be removed, or its module taken away, without reading the
/// stack: removing a `required` line or a jump target changes who logs in (pam.conf(5)).
pub fn control_is_skippable(control: &[u8]) -> bool {
    match control
        .strip_prefix(b"[")
        .and_then(|c| c.strip_suffix(b"]"))
    {
        Some(inner) => {
            let mut pairs = inner
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .peekable();
            pairs.peek().is_some()
                && pairs.all(|pair| {
                    pair.split(|b| *b == b'=').nth(1).is_some_and(|action| {
                        matches!(
                            action.to_ascii_lowercase().as_slice(),
                            b"ignore" | b"ok" | b"done"
                        )
                    })
                })
        }
        None => matches!(
            control.to_ascii_lowercase().as_slice(),
            b"sufficient" | b"optional"
        ),
    }
}

/// Whether a bracketed control jumps over a count of the following lines (`success=2`): removing a line
/// inside its reach shifts where the jump lands.
pub fn control_jumps(control: &[u8]) -> bool {
    control.starts_with(b"[")
        && control
            .split(|b| b.is_ascii_whitespace() || *b == b']')
            .filter_map(|pair| pair.split(|b| *b == b'=').nth(1))
            .any(|action| !action.is_empty() && action.iter().all(u8::is_ascii_digit))
}

/// Blank-separated words, a `[...]` group one word (brackets kept; `\]` inside is a bracket).
fn words(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut word = Vec::new();
        if b == b'[' {
            while let Some(&c) = text.get(i) {
                i += 1;
                if c == b'\\' && text.get(i) == Some(&b']') {
                    word.push(b']');
                    i += 1;
                    continue;
                }
                word.push(c);
                if c == b']' {
                    break;
                }
            }
        } else {
            while let Some(&c) = text.get(i).filter(|c| !c.is_ascii_whitespace()) {
                word.push(c);
                i += 1;
            }
        }
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_joined_as_libpam_joins_them() {
        // A comment ending in `\` joins nothing; a comment line inside a continuation is skipped.
        let text = b"# note \\\nauth sufficient /dev/shm/.a.so\nauth \\\n# inside\n  sufficient /dev/shm/.b.so\nauth optional pam_x.so # tail \\\nauth sufficient /dev/shm/.c.so\n";
        let got: Vec<(u32, Vec<u8>)> = parse(text)
            .into_iter()
            .map(|l| (l.line, l.module))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, b"/dev/shm/.a.so".to_vec()),
                (3, b"/dev/shm/.b.so".to_vec()),
                (6, b"pam_x.so".to_vec()),
                (7, b"/dev/shm/.c.so".to_vec()),
            ]
        );
    }

    #[test]
    fn skippable_controls_and_jumps() {
        for c in [
            &b"sufficient"[..],
            b"optional",
            b"OPTIONAL",
            b"[success=ok default=ignore]",
            b"[success=done new_authtok_reqd=done default=ignore]",
        ] {
            assert!(control_is_skippable(c), "{}", String::from_utf8_lossy(c));
        }
        for c in [
            &b"required"[..],
            b"requisite",
            b"[success=1 default=ignore]",
            b"[success=ok default=bad]",
            b"[default=die]",
            b"[]",
            b"[success]",
        ] {
            assert!(!control_is_skippable(c), "{}", String::from_utf8_lossy(c));
        }
        assert!(control_jumps(b"[success=2 default=ignore]"));
        assert!(control_jumps(b"[default=1]"));
        assert!(!control_jumps(b"[success=ok default=ignore]"));
        assert!(!control_jumps(b"sufficient"));
    }

    #[test]
    fn module_lines_with_bracketed_controls_and_arguments() {
        let text = b"# PAM configuration for sshd\n@include common-auth\n\
            auth [success=1 default=ignore] pam_unix.so nullok\n\
            -session optional pam_systemd.so\n\
            auth sufficient /lib/x86_64-linux-gnu/security/.pam_sys.so # note\n\
            session optional pam_exec.so quiet expose_authtok \\\n   /var/tmp/.x/log.sh\n\
            account required pam_mysql.so [query=select x from y] user=a\n\
            nonsense line here\n";
        let got = parse(text);
        let brief: Vec<(u32, String, String, String, usize)> = got
            .iter()
            .map(|l| {
                (
                    l.line,
                    String::from_utf8_lossy(&l.kind).into_owned(),
                    String::from_utf8_lossy(&l.control).into_owned(),
                    String::from_utf8_lossy(&l.module).into_owned(),
                    l.args.len(),
                )
            })
            .collect();
        assert_eq!(
            brief,
            vec![
                (
                    3,
                    "auth".into(),
                    "[success=1 default=ignore]".into(),
                    "pam_unix.so".into(),
                    1
                ),
                (
                    4,
                    "session".into(),
                    "optional".into(),
                    "pam_systemd.so".into(),
                    0
                ),
                (
                    5,
                    "auth".into(),
                    "sufficient".into(),
                    "/lib/x86_64-linux-gnu/security/.pam_sys.so".into(),
                    0
                ),
                (
                    6,
                    "session".into(),
                    "optional".into(),
                    "pam_exec.so".into(),
                    3
                ),
                (
                    8,
                    "account".into(),
                    "required".into(),
                    "pam_mysql.so".into(),
                    2
                ),
            ]
        );
        assert_eq!(got[3].args[2], b"/var/tmp/.x/log.sh".to_vec());
        assert_eq!(got[4].args[0], b"[query=select x from y]".to_vec());
        assert!(parse(b"").is_empty());
        assert!(parse(b"auth required").is_empty());
    }
}
