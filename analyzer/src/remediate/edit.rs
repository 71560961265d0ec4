//! Byte-exact line surgery, computed offline from the snapshot's copy of a file: which byte ranges a
//! line removal takes out, and what the file hashes to afterwards. The script only rebuilds the file
//! from those ranges after the file hashes as it did in the snapshot, and installs the result only when
//! it hashes to [`after_sha256`] here — so every other byte (CRLF, a missing final newline, quoted key
//! options) survives, or nothing changes at all.
//! Which line holds a flagged `authorized_keys` entry is decided by `parse::authorized_keys` (sshd's
//! reading of a line); this module only cuts bytes.

use minetrace_schemas::bundle::hashing_io::sha256_reader;

/// A line of a file: `[start, end)` without its `\n`, and `next`, the offset after its `\n` (== `end`
/// for a last line without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSpan {
    pub start: usize,
    pub end: usize,
    pub next: usize,
}

/// Every line of `content`, split on `\n` only (a `\r` belongs to the line). An empty file has no lines;
/// a final `\n` does not start an extra empty line.
pub fn line_spans(content: &[u8]) -> Vec<LineSpan> {
    let mut spans = Vec::new();
    let mut start = 0;
    while start < content.len() {
        let rest = content.get(start..).unwrap_or_default();
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                spans.push(LineSpan {
                    start,
                    end: start + i,
                    next: start + i + 1,
                });
                start += i + 1;
            }
            None => {
                spans.push(LineSpan {
                    start,
                    end: content.len(),
                    next: content.len(),
                });
                start = content.len();
            }
        }
    }
    spans
}

/// The 1-based line `number` of `content`.
pub fn line(content: &[u8], number: u32) -> Option<LineSpan> {
    let index = usize::try_from(number).ok()?.checked_sub(1)?;
    line_spans(content).get(index).copied()
}

/// `content` without the given ranges (`(offset, len)`, any order, non-overlapping).
pub fn without_ranges(content: &[u8], ranges: &[(usize, usize)]) -> Option<Vec<u8>> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::with_capacity(content.len());
    let mut pos = 0;
    for (offset, len) in sorted {
        if offset < pos {
            return None;
        }
        out.extend_from_slice(content.get(pos..offset)?);
        pos = offset.checked_add(len)?;
    }
    out.extend_from_slice(content.get(pos..)?);
    Some(out)
}

pub fn sha256(bytes: &[u8]) -> String {
    sha256_reader(bytes).map(|(h, _)| h).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_crlf_and_missing_final_newline() {
        let c = b"a\r\nbb\n\nlast";
        let s = line_spans(c);
        assert_eq!(s.len(), 4);
        assert_eq!(&c[s[0].start..s[0].end], b"a\r");
        assert_eq!(s[2].start, s[2].end);
        assert_eq!(&c[s[3].start..s[3].end], b"last");
        assert_eq!(s[3].next, c.len());
        assert!(line_spans(b"").is_empty());
        assert_eq!(line_spans(b"x\n").len(), 1);
        assert_eq!(line(c, 0), None);
        assert_eq!(line(c, 5), None);
    }

    #[test]
    fn removing_ranges_keeps_every_other_byte() {
        let c = b"keep1\r\nEVIL\r\nkeep2\nEVIL2";
        let l2 = line(c, 2).unwrap();
        let l4 = line(c, 4).unwrap();
        let out = without_ranges(
            c,
            &[
                (l4.start, l4.next - l4.start),
                (l2.start, l2.next - l2.start),
            ],
        )
        .unwrap();
        assert_eq!(out, b"keep1\r\nkeep2\n");
        assert_eq!(without_ranges(c, &[(0, 3), (1, 3)]), None);
        assert_eq!(without_ranges(c, &[(0, 999)]), None);
    }
}
