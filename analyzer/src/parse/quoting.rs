//! Words as a shell splits them: the one splitter of every reader of command text (shell lines of
//! crontabs, units, rc and start-up files and histories through [`super::shell_line`], `Exec*=` values
//! through [`super::systemd_unit`], `sshd_config` arguments). Blanks separate words only outside quotes,
//! quotes group and are removed, a backslash keeps the byte after it: `"/tmp/.x y/run"` and
//! `/tmp/.x\ y/run` are one word, as the shell runs them.

/// How text is read: as a shell command line, or as the quoted words of a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// A shell command line: an unquoted `<` or `>` is a redirection (an all-digit word right before it is
    /// its descriptor and dropped); inside double quotes a backslash escapes only `$`, `` ` ``, `"` and
    /// `\`; an empty or all-blank word names nothing and is dropped. A quote left open runs to the end of the
    /// text (the shell-line reader cuts commands inside quotes, see [`super::shell_line`]).
    Shell,
    /// systemd `Exec*=` values and `sshd_config` arguments: no redirections, a backslash escapes any byte
    /// outside single quotes, an empty quoted word is an argument.
    Config,
}

/// One piece of text as [`lex`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lexeme {
    /// A word, quotes removed; `spaced` when quoting kept a blank inside it (`"/tmp/.x y/run"`).
    Word { bytes: Vec<u8>, spaced: bool },
    /// An unquoted `>`, `>>`, `<` ([`Quoting::Shell`] only): the next word is its target.
    Redirect,
}

/// The words (and, for a shell line, redirections) of `text`.
pub fn lex(text: &[u8], how: Quoting) -> Vec<Lexeme> {
    let shell = how == Quoting::Shell;
    let mut out = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    // The current word has begun (a quote begins one, empty or not), holds a quoted blank, and its bytes
    // so far were all unquoted (only a bare word can be a descriptor).
    let (mut begun, mut spaced, mut bare) = (false, false, true);
    let mut quote: Option<u8> = None;
    let mut i = 0;
    let end_word =
        |word: &mut Vec<u8>, begun: &mut bool, spaced: &mut bool, out: &mut Vec<Lexeme>| {
            // In a shell line an empty or all-blank word names nothing: `''`, or the quote a cut left open
            // swallowing the blank after it (`awk '{print $7}' |` is cut at the brace).
            let blank = word.iter().all(|b| *b == b' ' || *b == b'\t');
            if *begun && !(shell && blank) {
                out.push(Lexeme::Word {
                    bytes: std::mem::take(word),
                    spaced: *spaced,
                });
            }
            word.clear();
            (*begun, *spaced) = (false, false);
        };
    while let Some(&b) = text.get(i) {
        i += 1;
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(b'"'), b'\\') if text.get(i).is_some_and(|n| !shell || b"$`\"\\".contains(n)) => {
                word.extend(text.get(i));
                i += 1;
            }
            (Some(_), _) => {
                spaced |= b == b' ' || b == b'\t';
                word.push(b);
            }
            (None, b'\'' | b'"') => {
                quote = Some(b);
                (begun, bare) = (true, false);
            }
            (None, b'\\') => {
                word.extend(text.get(i));
                i += 1;
                (begun, bare) = (true, false);
            }
            (None, b' ' | b'\t') => {
                end_word(&mut word, &mut begun, &mut spaced, &mut out);
                bare = true;
            }
            (None, b'>' | b'<') if shell => {
                if bare && word.iter().all(u8::is_ascii_digit) {
                    word.clear();
                    begun = false;
                }
                end_word(&mut word, &mut begun, &mut spaced, &mut out);
                while text.get(i).is_some_and(|n| matches!(n, b'>' | b'<')) {
                    i += 1;
                }
                out.push(Lexeme::Redirect);
                bare = true;
            }
            (None, _) => {
                word.push(b);
                begun = true;
            }
        }
    }
    end_word(&mut word, &mut begun, &mut spaced, &mut out);
    out
}

/// The words of a configuration value ([`Quoting::Config`]).
pub fn config_words(text: &[u8]) -> Vec<Vec<u8>> {
    lex(text, Quoting::Config)
        .into_iter()
        .filter_map(|l| match l {
            Lexeme::Word { bytes, .. } => Some(bytes),
            Lexeme::Redirect => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &[u8], how: Quoting) -> Vec<(Vec<u8>, bool)> {
        lex(text, how)
            .into_iter()
            .map(|l| match l {
                Lexeme::Word { bytes, spaced } => (bytes, spaced),
                Lexeme::Redirect => (b">".to_vec(), false),
            })
            .collect()
    }

    #[test]
    fn shell_lines_and_config_values() {
        let w = |s: &str, spaced| (s.as_bytes().to_vec(), spaced);
        assert_eq!(
            words(
                b"\"/tmp/.x y/run\" -a\\ b 2>/dev/null 'it''s' \"q\\\"\\n\" ''",
                Quoting::Shell
            ),
            vec![
                w("/tmp/.x y/run", true),
                w("-a b", false),
                w(">", false),
                w("/dev/null", false),
                w("its", false),
                w("q\"\\n", false)
            ]
        );
        // A quote a cut left open runs to the end; a quoted `>` is text.
        assert_eq!(
            words(b"sh -c 'curl x >", Quoting::Shell),
            vec![w("sh", false), w("-c", false), w("curl x >", true)]
        );
        assert_eq!(
            config_words(b"/bin/x \"\" \"a\\\"b c\" d>e"),
            vec![
                b"/bin/x".to_vec(),
                vec![],
                b"a\"b c".to_vec(),
                b"d>e".to_vec()
            ]
        );
    }
}
