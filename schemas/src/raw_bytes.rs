//! Bytes that came from the host and must survive unchanged.
//!
//! Process names, command lines, paths and file contents are attacker-controlled: they may hold newlines,
//! escape sequences or invalid UTF-8. They are kept as bytes end to end; only printers turn them into text,
//! and only through [`RawBytes::escaped`].

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Host bytes kept exactly. In binary formats (postcard) they are a byte string; in JSON they are a string
/// when they are valid UTF-8 and `{"hex": "..."}` otherwise, so nothing is lost either way.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawBytes(pub Vec<u8>);

impl RawBytes {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        RawBytes(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Text safe to print on a terminal or embed in a log line: printable ASCII is kept, everything else
    /// (control characters, ESC, bytes >= 0x80, backslash) is written as `\xHH`, so a hostile name cannot
    /// move the cursor, fake a line or smuggle a bidi override.
    pub fn escaped(&self) -> String {
        escape_bytes(&self.0)
    }

    /// Lossy UTF-8 view for matching against indicator lists; never for display or round trips.
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

/// See [`RawBytes::escaped`].
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                out.push_str("\\x");
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
    out
}

impl fmt::Debug for RawBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl fmt::Display for RawBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

impl From<&[u8]> for RawBytes {
    fn from(v: &[u8]) -> Self {
        RawBytes(v.to_vec())
    }
}

impl From<Vec<u8>> for RawBytes {
    fn from(v: Vec<u8>) -> Self {
        RawBytes(v)
    }
}

impl From<&str> for RawBytes {
    fn from(v: &str) -> Self {
        RawBytes(v.as_bytes().to_vec())
    }
}

/// Characters that are invisible or steer a terminal or a text renderer while passing through JSON string
/// escaping untouched: DEL, the C1 controls (U+0080–U+009F, CSI among them) and Unicode format characters
/// (bidi embeddings, overrides and isolates, zero-width characters, the BOM, invisible operators, tags).
/// Host bytes holding one are written to JSON as hex, never as text. (C0 controls are escaped by JSON
/// itself.)
pub fn is_hidden_char(c: char) -> bool {
    matches!(c,
        '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{61c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum JsonForm {
    Text(String),
    Hex { hex: String },
}

impl Serialize for RawBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match std::str::from_utf8(&self.0) {
                Ok(text) if !text.chars().any(is_hidden_char) => {
                    JsonForm::Text(text.to_owned()).serialize(s)
                }
                _ => JsonForm::Hex {
                    hex: hex::encode(&self.0),
                }
                .serialize(s),
            }
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for RawBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            match JsonForm::deserialize(d)? {
                JsonForm::Text(t) => Ok(RawBytes(t.into_bytes())),
                JsonForm::Hex { hex } => hex::decode(hex)
                    .map(RawBytes)
                    .map_err(serde::de::Error::custom),
            }
        } else {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = RawBytes;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a byte string")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<RawBytes, E> {
                    Ok(RawBytes(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<RawBytes, E> {
                    Ok(RawBytes(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
}

impl JsonSchema for RawBytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawBytes".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Host bytes: a string when valid UTF-8, otherwise {\"hex\": ...}",
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"hex": {"type": "string"}}, "required": ["hex"]}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_neutralises_control_and_high_bytes() {
        let raw = RawBytes::new(b"a\nb\x1b[31m\xff\\".to_vec());
        assert_eq!(raw.escaped(), "a\\x0ab\\x1b[31m\\xff\\\\");
    }

    #[test]
    fn json_round_trip_keeps_invalid_utf8() {
        for bytes in [
            b"plain".to_vec(),
            b"bad\xff\xfe".to_vec(),
            b"$(touch x)\n".to_vec(),
        ] {
            let raw = RawBytes(bytes.clone());
            let json = serde_json::to_string(&raw).unwrap();
            let back: RawBytes = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, bytes, "json was {json}");
        }
    }

    #[test]
    fn json_never_carries_bidi_or_c1_controls_as_text() {
        for bytes in [
            "\u{202e}evil".as_bytes().to_vec(),
            "a\u{9b}2J".as_bytes().to_vec(),
            "zero\u{200b}width".as_bytes().to_vec(),
            b"del\x7f".to_vec(),
        ] {
            let json = serde_json::to_string(&RawBytes(bytes.clone())).unwrap();
            assert!(json.is_ascii() && json.contains("hex"), "{json}");
            let back: RawBytes = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, bytes);
        }
        let json = serde_json::to_string(&RawBytes::from("caf\u{e9} /tmp/x")).unwrap();
        assert_eq!(json, "\"caf\u{e9} /tmp/x\"");
    }

    #[test]
    fn postcard_round_trip_is_bytes() {
        let raw = RawBytes(b"\x00\xff kworker".to_vec());
        let enc = postcard::to_allocvec(&raw).unwrap();
        assert_eq!(enc[0] as usize, raw.0.len());
        let back: RawBytes = postcard::from_bytes(&enc).unwrap();
        assert_eq!(back, raw);
    }
}
