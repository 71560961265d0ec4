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
//! Not modelled: a string nested in a `{$a["..."]}` interpolation inside a double-quoted string (its
//! inner `"` is read as the end of the string).

/// Where a line starts: the state the previous line ended in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum PhpAt {
    /// Outside PHP code (HTML, JavaScript), until `<?`.
    #[default]
    Html,
    /// In PHP code.
    Code,
    /// In a string opened by this quote (`'`, `"`, or `` ` ``: the shell operator's text is a string).
    Quoted(u8),
    /// In a `/* ... */` comment.
    BlockComment,
    /// In a heredoc or nowdoc body, until a line that starts (after blanks) with this label (lowercase).
    Heredoc(String),
}

/// The PHP code regions of a lowercase line (strings and comments in code included), and the state the
/// line ends in. `at`: the state the line starts in.
pub(super) fn php_regions<'t>(t: &'t str, at: &PhpAt) -> (Vec<&'t str>, PhpAt) {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut state = at.clone();
    let mut start = 0;
    let mut i = 0;
    if let PhpAt::Heredoc(label) = &state {
        match heredoc_end(t, label) {
            Some(end) => {
                i = end;
                state = PhpAt::Code;
            }
            None => return (vec![t], state),
        }
    }
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        match state {
            PhpAt::Html => {
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
                state = PhpAt::Code;
            }
            PhpAt::Code => match (c, next) {
                (b'\'' | b'"' | b'`', _) => {
                    state = PhpAt::Quoted(c);
                    i += 1;
                }
                (b'/', Some(b'*')) => {
                    state = PhpAt::BlockComment;
                    i += 2;
                }
                // `#[` is a PHP 8 attribute, not a comment.
                (b'/', Some(b'/')) | (b'#', _) if !(c == b'#' && next == Some(b'[')) => {
                    match t.get(i..).and_then(|r| r.find("?>")) {
                        Some(close) => i += close,
                        None => i = b.len(),
                    }
                }
                (b'?', Some(b'>')) => {
                    out.push(t.get(start..i).unwrap_or_default());
                    state = PhpAt::Html;
                    i += 2;
                }
                (b'<', _) if t.get(i..).is_some_and(|r| r.starts_with("<<<")) => {
                    match heredoc_label(t.get(i + 3..).unwrap_or_default()) {
                        Some(label) => {
                            state = PhpAt::Heredoc(label);
                            i = b.len();
                        }
                        None => i += 3,
                    }
                }
                _ => i += 1,
            },
            PhpAt::Quoted(q) => {
                if c == b'\\' {
                    i += 2;
                } else {
                    if c == q {
                        state = PhpAt::Code;
                    }
                    i += 1;
                }
            }
            PhpAt::BlockComment => {
                if (c, next) == (b'*', Some(b'/')) {
                    state = PhpAt::Code;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            PhpAt::Heredoc(_) => break,
        }
    }
    if state != PhpAt::Html {
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
        let mut at = PhpAt::Html;
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
        ] {
            let r = regions(script);
            assert_eq!(
                r.last().map(Vec::as_slice),
                Some(&["$o = `$_get[c]`;"][..]),
                "{script:?}: {r:?}"
            );
        }
        // A heredoc's label must close its body on a line of its own start; `eotx` does not.
        assert_eq!(
            regions("<?php $t = <<<eot\neotx ?>\neot; ?> html").last(),
            Some(&vec!["eot; "])
        );
    }
}
