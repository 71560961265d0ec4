//! What must hold for every input, checked on every output the analyzer writes. A violation panics, so
//! the fuzz engine records the input as a crash.

use minetrace_analyzer::remediate::script::TEMPLATE;
use minetrace_schemas::raw_bytes::is_hidden_char;
use sha2::{Digest, Sha256};

/// Strings the structure-aware target plants in host bytes; an output that shows one of them raw
/// (outside an escape) let attacker markup through.
pub const CANARY_TAG: &str = "<x-fz";

/// Terminal, DOT, HTML, SVG and JSON outputs: host bytes reach them escaped to printable ASCII, and
/// the outputs' own text is ASCII, so every byte is printable ASCII, a newline or a tab.
pub fn printable_ascii(what: &str, text: &str) {
    if let Some((i, b)) = text
        .bytes()
        .enumerate()
        .find(|(_, b)| !(matches!(b, b'\n' | b'\t') || (0x20..0x7f).contains(b)))
    {
        let from = i.saturating_sub(60);
        panic!(
            "{what}: byte 0x{b:02x} at offset {i} is not printable ASCII (context {:?})",
            String::from_utf8_lossy(text.as_bytes().get(from..i + 1).unwrap_or_default())
        );
    }
}

fn no_hidden_chars(what: &str, text: &str) {
    // Outputs are mostly printable ASCII: skip to the first byte that is not (a byte loop; decoding
    // every character was an eighth of an end-to-end target's time).
    let plain = |b: &u8| (0x20..0x7f).contains(b) || *b == b'\n' || *b == b'\t';
    let Some(start) = text.bytes().position(|b| !plain(&b)) else {
        return;
    };
    let bad = |c: char| (c.is_control() && c != '\n' && c != '\t') || is_hidden_char(c);
    let rest = text.get(start..).unwrap_or_default();
    if let Some((i, c)) = rest
        .char_indices()
        .map(|(i, c)| (start + i, c))
        .find(|(_, c)| bad(*c))
    {
        let from = text.floor_char_boundary(i.saturating_sub(60));
        panic!(
            "{what}: character U+{:04X} at offset {i} is raw (context {:?})",
            c as u32,
            text.get(from..i).unwrap_or_default()
        );
    }
}

/// JSON documents: well formed, and no character a terminal or an editor would act on or hide (DEL, C1
/// controls, bidi and zero-width format characters; C0 controls only as JSON escapes). Other non-ASCII
/// text is fine in JSON: host bytes that are valid UTF-8 stay text there.
pub fn json(what: &str, text: &str) {
    no_hidden_chars(what, text);
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        panic!("{what}: not valid JSON: {e}");
    }
}

/// JSON Lines: every line a JSON document.
pub fn json_lines(what: &str, text: &str) {
    no_hidden_chars(what, text);
    for (n, line) in text.lines().enumerate() {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
            panic!("{what}: line {} is not valid JSON: {e}", n + 1);
        }
    }
}

/// Markup (HTML, SVG, DOT): printable ASCII and no planted tag left raw.
pub fn markup(what: &str, text: &str) {
    printable_ascii(what, text);
    assert!(
        !text.contains(CANARY_TAG),
        "{what}: a planted {CANARY_TAG:?} tag reached the output unescaped"
    );
}

/// DOT: every line's double quotes balance once `\\` and `\"` escapes are skipped, so no label ends its
/// string early and starts a statement of its own.
pub fn dot(text: &str) {
    markup("graph.dot", text);
    for (n, line) in text.lines().enumerate() {
        let mut open = false;
        let mut bytes = line.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'\\' if open => {
                    bytes.next();
                }
                b'"' => open = !open,
                _ => {}
            }
        }
        assert!(
            !open,
            "graph.dot: line {} leaves a string open: {line:?}",
            n + 1
        );
    }
}

/// The parts of a rendered `remediate.sh`.
pub struct ScriptParts<'a> {
    pub pinned_sha256: &'a str,
    pub data: &'a str,
}

/// Splits a script into its pinned hash and data block, checking that everything else is the reviewed
/// template byte for byte. `None` when the script does not have the template's shape at all.
pub fn script_parts(script: &str) -> Option<ScriptParts<'_>> {
    const HASH_LINE: &str = "readonly MT_DATA_SHA256='";
    const DATA_LINE: &str = "readonly MT_DATA='";
    let hash_at = script.find(HASH_LINE)? + HASH_LINE.len();
    let hash_end = hash_at + script.get(hash_at..)?.find('\'')?;
    let data_at = hash_end + script.get(hash_end..)?.find(DATA_LINE)? + DATA_LINE.len();
    let data_end = data_at + script.get(data_at..)?.find('\'')?;
    let rebuilt = format!(
        "{}@MT_DATA_SHA256@{}@MT_DATA@{}",
        script.get(..hash_at)?,
        script.get(hash_end..data_at)?,
        script.get(data_end..)?
    );
    (rebuilt == TEMPLATE).then(|| ScriptParts {
        pinned_sha256: &script[hash_at..hash_end],
        data: &script[data_at..data_end],
    })
}

/// `remediate.sh`: printable ASCII, the template unchanged (host bytes never became code), the data block
/// only `[0-9a-f -]` and newlines (it cannot leave its quotes) and its SHA-256 the pinned one.
pub fn script(text: &str) {
    printable_ascii("remediate.sh", text);
    let Some(parts) = script_parts(text) else {
        panic!("remediate.sh: the code around the data block is not the reviewed template");
    };
    assert!(
        parts
            .data
            .bytes()
            .all(|b| b"0123456789abcdef -\n".contains(&b)),
        "remediate.sh: the data block holds a byte outside [0-9a-f -] and newline"
    );
    let actual = sha256_hex(parts.data.as_bytes());
    assert_eq!(
        actual, parts.pinned_sha256,
        "remediate.sh: the data block's sha256 is not the pinned one"
    );
    let Some(records) = decode_data_block(parts.data) else {
        panic!("remediate.sh: a data field is neither hex nor `-`");
    };
    for (n, fields) in records.iter().enumerate() {
        let host = fields.get(1).is_some_and(|k| k == b"host");
        // The fields the script prints: title, target, reasons (and the host record's identity).
        let shown: &[usize] = if host { &[3, 4, 5, 7, 8] } else { &[3, 4, 5] };
        for i in shown {
            let Some(f) = fields.get(*i) else { continue };
            assert!(
                f.iter().all(|b| (0x20..0x7f).contains(b)),
                "remediate.sh: data record {} field {i} is printed by the script but is not escaped ASCII: {:?}",
                n + 1,
                String::from_utf8_lossy(f)
            );
        }
    }
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Decodes the data block back into records of fields (hex → bytes, `-` → empty), as the script does at
/// run time: what the property tests compare with what went in.
pub fn decode_data_block(data: &str) -> Option<Vec<Vec<Vec<u8>>>> {
    data.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.split(' ')
                .map(|f| {
                    if f == "-" {
                        Some(Vec::new())
                    } else {
                        hex::decode(f).ok()
                    }
                })
                .collect()
        })
        .collect()
}
