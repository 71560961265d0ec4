//! `/etc/sudoers` and `/etc/sudoers.d/*` user specifications: who may run what as whom, and whether
//! without a password. Aliases are not expanded; `Defaults`, `#include`, aliases and comments are skipped
//! (`#include` and `@include` targets are listed for the caller to follow).

use super::numbered_lines;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SudoRule {
    pub line: u32,
    /// The user list (`games`, `%sudo`, `ALL`), comma-separated parts.
    pub principals: Vec<Vec<u8>>,
    /// The rest after the host list (`(ALL) NOPASSWD:ALL`).
    pub spec: Vec<u8>,
    /// `NOPASSWD:` appears.
    pub nopasswd: bool,
    /// The command list is `ALL` (any command).
    pub all_commands: bool,
    pub raw: Vec<u8>,
}

pub fn parse(bytes: &[u8]) -> Vec<SudoRule> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, Vec<u8>)> = None;
    for (n, l) in numbered_lines(bytes) {
        let (start, mut text) = match pending.take() {
            Some((s, mut t)) => {
                t.push(b' ');
                t.extend_from_slice(l.trim_ascii());
                (s, t)
            }
            None => (n, l.trim_ascii().to_vec()),
        };
        if text.ends_with(b"\\") {
            text.pop();
            pending = Some((start, text));
            continue;
        }
        if let Some(r) = parse_rule(start, &text) {
            out.push(r);
        }
    }
    out
}

fn parse_rule(line: u32, text: &[u8]) -> Option<SudoRule> {
    if text.is_empty() || text.starts_with(b"#") || text.starts_with(b"@") {
        return None;
    }
    let mut words = super::words(text);
    let first = words.next()?;
    if first.starts_with(b"Defaults") || first.ends_with(b"_Alias") {
        return None;
    }
    let eq = text.iter().position(|b| *b == b'=')?;
    let lhs = text.get(..eq)?;
    let spec = text.get(eq + 1..)?.trim_ascii().to_vec();
    let user_end = lhs
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(lhs.len());
    let principals = lhs
        .get(..user_end)?
        .split(|b| *b == b',')
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let nopasswd = super::contains(&spec, b"NOPASSWD:");
    let cmds = spec
        .rsplit(|b| *b == b')' || *b == b':')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    Some(SudoRule {
        line,
        principals,
        nopasswd,
        all_commands: cmds == b"ALL",
        spec,
        raw: text.to_vec(),
    })
}

/// `#includedir` / `@includedir` / `#include` / `@include` targets named in the file.
pub fn includes(bytes: &[u8]) -> Vec<Vec<u8>> {
    numbered_lines(bytes)
        .filter_map(|(_, l)| {
            let t = l.trim_ascii();
            let rest = [
                &b"#includedir"[..],
                b"@includedir",
                b"#include",
                b"@include",
            ]
            .iter()
            .find_map(|p| t.strip_prefix(*p))?;
            Some(rest.trim_ascii().to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let r = parse(b"Defaults env_reset\n# c\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\ngames ALL=(ALL) NOPASSWD:ALL\nUser_Alias A = b\nbob host=(root) /usr/bin/systemctl \\\n restart x\n#includedir /etc/sudoers.d\n");
        assert_eq!(r.len(), 4);
        assert_eq!(r[2].principals, vec![b"games".to_vec()]);
        assert!(r[2].nopasswd && r[2].all_commands);
        assert!(!r[0].nopasswd && r[0].all_commands);
        assert!(!r[3].all_commands);
        assert_eq!(r[3].line, 7);
        assert_eq!(
            includes(b"#includedir /etc/sudoers.d\n"),
            vec![b"/etc/sudoers.d".to_vec()]
        );
    }
}
