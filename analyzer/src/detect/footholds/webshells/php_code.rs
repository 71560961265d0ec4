//! Where PHP code lies on each line of a script, so the web-shell rule reads PHP's backtick operator only
//! in code and never in the HTML and JavaScript around it.
//!
//! PHP leaves code at `?>`, except where `?>` is text: inside a `'...'`, `"..."` or `` `...` `` string, a
//! heredoc or nowdoc body, or a `/* ... */` comment. A `//` or `#` comment does end at `?>` (as PHP's
//! lexer does), as well as at the end of the line. Taking the first `?>` of a line as the end of code let
//! one `$t = "?>";` near the top of a shell turn every later line into "HTML", hiding its
//! `` $o = `$_GET[c]`; `` (review of train 3, item 7). Strings and comments span lines, so the state is
//! carried from one line to the next.
//!
//! Inside a `"..."` or `` `...` `` string, `{$...}` and `${...}` are code again, with strings of their own
//! (`"{$a["?>"]}"`): the state is a stack of such frames (review of train 1, item 8). Past
//! [`MAX_NESTING`] frames nothing more is opened and the rest of the file is code: no `?>` ends it (a
//! shaped nesting can then only make more text read as code, never hide any).

/// Frames deeper than this are not opened (a shaped line cannot grow the state).
const MAX_NESTING: usize = 8;

/// One construct a line can be inside.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    /// PHP code (the bottom frame, after `<?php`).
    Code,
    /// A string opened by this quote (`'`, `"`, or `` ` ``: the shell operator's text is a string).
    Quoted(u8),
    /// A `/* ... */` comment.
    BlockComment,
    /// A heredoc or nowdoc body, until a line that starts (after blanks) with this label (lowercase).
    Heredoc(String),
    /// Code interpolated into a string (`{$...}`, `${...}`), with its open braces.
    Interpolated(u32),
}

/// Where a line starts: the state the previous line ended in (no frame: HTML, until `<?`), and whether
/// the nesting cap was hit (the rest of the file is code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PhpAt(Vec<Frame>, bool);

impl PhpAt {
    /// Outside PHP code (HTML, JavaScript).
    pub(super) fn html() -> PhpAt {
        PhpAt(Vec::new(), false)
    }

    /// In PHP code (for tests of one statement inside code).
    #[cfg(test)]
    pub(super) fn code() -> PhpAt {
        PhpAt(vec![Frame::Code], false)
    }

    /// Opens a frame, unless [`MAX_NESTING`] are open: then the rest of the file is code.
    fn open(&mut self, f: Frame) {
        if self.0.len() < MAX_NESTING {
            self.0.push(f);
        } else {
            self.1 = true;
        }
    }
}

/// The PHP code regions of a lowercase line (strings and comments in code included), and the state the
/// line ends in. `at`: the state the line starts in.
pub(super) fn php_regions<'t>(t: &'t str, at: &PhpAt) -> (Vec<&'t str>, PhpAt) {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut state = at.clone();
    let mut start = 0;
    let mut i = 0;
    if let Some(Frame::Heredoc(label)) = state.0.last() {
        match heredoc_end(t, label) {
            Some(end) => {
                i = end;
                state.0.pop();
            }
            None => return (vec![t], state),
        }
    }
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        match state.0.last_mut() {
            None => {
                let Some(open) = t.get(i..).and_then(|r| r.find("<?")) else {
                    break;
                };
                let after = i + open + 2;
                let tail = t.get(after..).unwrap_or_default();
                i = after
                    + if tail.starts_with("php") {
                        3
                    } else {
                        usize::from(tail.starts_with('='))
                    };
                start = i;
                state.0.push(Frame::Code);
            }
            Some(Frame::Interpolated(depth)) => {
                match c {
                    b'{' => *depth += 1,
                    b'}' => {
                        *depth = depth.saturating_sub(1);
                        if *depth == 0 {
                            state.0.pop();
                        }
                    }
                    b'\'' | b'"' | b'`' => state.open(Frame::Quoted(c)),
                    _ => {}
                }
                i += 1;
            }
            Some(Frame::Code) => match (c, next) {
                (b'\'' | b'"' | b'`', _) => {
                    state.open(Frame::Quoted(c));
                    i += 1;
                }
                (b'/', Some(b'*')) => {
                    state.open(Frame::BlockComment);
                    i += 2;
                }
                // `#[` is a PHP 8 attribute, not a comment.
                (b'/', Some(b'/')) | (b'#', _) if !(c == b'#' && next == Some(b'[')) => {
                    match t.get(i..).and_then(|r| r.find("?>")) {
                        Some(close) => i += close,
                        None => i = b.len(),
                    }
                }
                (b'?', Some(b'>')) if !state.1 => {
                    out.push(t.get(start..i).unwrap_or_default());
                    state.0.clear();
                    i += 2;
                }
                (b'<', _) if t.get(i..).is_some_and(|r| r.starts_with("<<<")) => {
                    match heredoc_label(t.get(i + 3..).unwrap_or_default()) {
                        Some(label) => {
                            state.open(Frame::Heredoc(label));
                            i = b.len();
                        }
                        None => i += 3,
                    }
                }
                _ => i += 1,
            },
            Some(Frame::Quoted(q)) => {
                let q = *q;
                let interpolates = q != b'\'';
                if c == b'\\' {
                    i += 2;
                } else if c == q {
                    state.0.pop();
                    i += 1;
                } else if interpolates && (c, next) == (b'{', Some(b'$')) {
                    state.open(Frame::Interpolated(1));
                    i += 1;
                } else if interpolates && (c, next) == (b'$', Some(b'{')) {
                    state.open(Frame::Interpolated(1));
                    i += 2;
                } else {
                    i += 1;
                }
            }
            Some(Frame::BlockComment) => {
                if (c, next) == (b'*', Some(b'/')) {
                    state.0.pop();
                    i += 2;
                } else {
                    i += 1;
                }
            }
            Some(Frame::Heredoc(_)) => break,
        }
    }
    if !state.0.is_empty() {
        out.push(t.get(start..).unwrap_or_default());
    }
    (out, state)
}

/// Whether a byte may be part of a PHP label (identifier).
fn label_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The label of a heredoc (`<<<EOT`, `<<<"EOT"`) or nowdoc (`<<<'EOT'`) whose opener is the rest of the
/// line: `rest` is the text after `<<<`. `None` when it opens no body (a label must end the line).
fn heredoc_label(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches([' ', '\t']);
    let (quote, rest) = match rest.strip_prefix(['\'', '"']) {
        Some(r) => (rest.get(..1), r),
        None => (None, rest),
    };
    let len = rest.bytes().take_while(|&c| label_byte(c)).count();
    let label = rest.get(..len).filter(|l| !l.is_empty())?;
    let after = rest.get(len..)?;
    let after = match quote {
        Some(q) => after.strip_prefix(q)?,
        None => after,
    };
    after.trim().is_empty().then(|| label.to_owned())
}

/// Where the closing label of a heredoc ends on this line, if the line closes it: its first non-blank
/// text is the label, not followed by another label byte (PHP 7.3's flexible closing marker).
fn heredoc_end(t: &str, label: &str) -> Option<usize> {
    let body = t.trim_start_matches([' ', '\t']);
    let rest = body.strip_prefix(label)?;
    if rest.bytes().next().is_some_and(label_byte) {
        return None;
    }
    Some(t.len() - rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code regions of each line of a script, with the state carried across lines.
    fn regions(script: &str) -> Vec<Vec<&str>> {
        let mut at = PhpAt::html();
        script
            .lines()
            .map(|l| {
                let (r, next) = php_regions(l, &at);
                at = next;
                r
            })
            .collect()
    }

    #[test]
    fn code_ends_at_a_closing_tag_and_in_line_comments() {
        assert_eq!(
            regions("<p><?php echo 1; ?></p><?= $x ?>"),
            [vec![" echo 1; ", " $x "]]
        );
        assert_eq!(regions("<?php // x ?> <b>`$_get[c]`</b>"), [vec![" // x "]]);
        assert_eq!(regions("<?php # x ?> html"), [vec![" # x "]]);
        assert_eq!(
            regions("<?php\n#[attr('?>')]\n$a = 1;"),
            [vec![""], vec!["#[attr('?>')]"], vec!["$a = 1;"]]
        );
        assert_eq!(
            regions("<?php\n// comment\n$a = 1; ?>\n`html`"),
            [vec![""], vec!["// comment"], vec!["$a = 1; "], vec![]]
        );
    }

    /// Review of train 3, item 7: `?>` inside a string, heredoc or block comment is text, on the line and
    /// across lines.
    #[test]
    fn a_closing_tag_inside_a_string_or_block_comment_is_text() {
        for script in [
            "<?php\n$t = \"?>\";\n$o = `$_get[c]`;",
            "<?php\n$t = '?>';\n$o = `$_get[c]`;",
            "<?php\n$t = 'it\\'s ?>';\n$o = `$_get[c]`;",
            "<?php\n$t = \"a \\\" ?>\";\n$o = `$_get[c]`;",
            "<?php\n$t = \"\n?>\";\n$o = `$_get[c]`;",
            "<?php\n/* ?>\n?> */\n$o = `$_get[c]`;",
            "<?php\n$t = <<<eot\n?>\neot;\n$o = `$_get[c]`;",
            "<?php\n$t = <<<'x'\n?>\n  x;\n$o = `$_get[c]`;",
            // Review of train 1, item 8: strings inside an interpolation, on one line and across lines.
            "<?php\n$t = \"{$a[\"?>\"]}\";\n$o = `$_get[c]`;",
            "<?php\n$t = \"${a['?>']}\"; $u = `{$b[\"?>\"]}`;\n$o = `$_get[c]`;",
            "<?php\n$t = \"{$a[\n\"?>\"]}\";\n$o = `$_get[c]`;",
        ] {
            let r = regions(script);
            assert_eq!(
                r.last().map(Vec::as_slice),
                Some(&["$o = `$_get[c]`;"][..]),
                "{script:?}: {r:?}"
            );
        }
        // Nesting past the cap reads the rest as code: a `?>` in it never turns the next line into HTML.
        let deep = format!(
            "<?php\n$t = \"{}\";\n?> x\n$o = `$_get[c]`;",
            "{$a[\"".repeat(20)
        );
        assert_eq!(
            regions(&deep).last().map(Vec::as_slice),
            Some(&["$o = `$_get[c]`;"][..]),
            "{deep}"
        );
        // A single-quoted string interpolates nothing: `{$` in it is text, its `'` ends it.
        assert_eq!(
            regions("<?php $t = '{$a'; ?> `html`").last(),
            Some(&vec![" $t = '{$a'; "])
        );
        // A heredoc's label must close its body on a line of its own start; `eotx` does not.
        assert_eq!(
            regions("<?php $t = <<<eot\neotx ?>\neot; ?> html").last(),
            Some(&vec!["eot; "])
        );
    }
}
