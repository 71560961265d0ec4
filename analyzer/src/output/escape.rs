//! Escaping for the text formats the outputs write. Host bytes reach these functions already passed
//! through [`minetrace_schemas::escape_bytes`] (printable ASCII); these make that text inert in HTML,
//! SVG/XML and Graphviz DOT. JSON needs nothing more than serde.

/// HTML and XML text or attribute value: `&`, `<`, `>`, `"`, `'`, plus any control character (not
/// allowed in XML 1.0) as a visible `\xHH`.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Text from a finding or the manifest, which should already be escaped printable ASCII: anything that
/// is not (a control character, a non-ASCII character such as a bidi override) is made visible as
/// `\u{XXXX}`, so even a detector that forgot to escape cannot smuggle it into a page.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    out
}

/// A DOT double-quoted string's content: `\` and `"` escaped, line breaks and other control characters
/// made visible, so a label cannot end the string or start a new statement. Never used for HTML labels.
pub fn dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\\\x0a"),
            '\r' => out.push_str("\\\\x0d"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup() {
        assert_eq!(
            html("<script>alert(1)</script> & \"x\" 'y'"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(html("a\nb"), "a\\x0ab");
        assert_eq!(visible("a\u{202e}b\\"), "a\\u{202e}b\\");
    }

    #[test]
    fn dot_escapes_quotes_and_backslashes() {
        assert_eq!(dot(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(dot("x\ny"), "x\\\\x0ay");
    }
}
