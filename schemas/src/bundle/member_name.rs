//! Bundle member names. Host paths are arbitrary bytes; member names are plain ASCII so that no tar tool,
//! terminal or analyst's filesystem ever sees an attacker's bytes as a name.

/// Bytes kept as they are in a member name; everything else becomes `%HH`.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@' | b',' | b'=' | b'~')
}

/// Member name for the content of a host file: `fs/` followed by the path, percent-encoded byte by byte.
/// Path components made only of dots are encoded too, so no name ever holds a `..` component.
pub fn fs_member(host_path: &[u8]) -> String {
    let mut out = String::from("fs");
    for component in host_path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
        out.push('/');
        let all_dots = component.iter().all(|b| *b == b'.');
        for &b in component {
            if is_plain(b) && !(all_dots && b == b'.') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Inverse of the encoding in [`fs_member`]: the host path (with a leading `/`) for a `fs/` member name.
pub fn host_path_of(member: &str) -> Option<Vec<u8>> {
    let rest = member.strip_prefix("fs/")?;
    let mut out = vec![b'/'];
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'%') => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 3;
            }
            Some(&b) => {
                out.push(b);
                i += 1;
            }
            None => break,
        }
    }
    Some(out)
}

/// Why a member name is unsafe, or `None` when it is acceptable. The reader applies this to every name in
/// a bundle it did not write, the writer to every name it is asked to write.
pub fn unsafe_reason(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.starts_with('/') {
        return Some("absolute path");
    }
    if name
        .bytes()
        .any(|b| !(0x21..=0x7e).contains(&b) || b == b'\\')
    {
        return Some("control, space, backslash or non-ASCII byte in name");
    }
    for component in name.split('/') {
        match component {
            "" => return Some("empty path component"),
            "." | ".." => return Some("'.' or '..' path component"),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_become_plain_names_and_back() {
        let cases: &[&[u8]] = &[
            b"/etc/crontab",
            b"/tmp/.X25-unix/.rsync/c/tsm",
            b"/tmp/a b\n$(touch x)",
            b"/tmp/\xff\xfe/..",
            b"/var/spool/cron/crontabs/root%",
        ];
        for path in cases {
            let name = fs_member(path);
            assert_eq!(unsafe_reason(&name), None, "{name}");
            assert_eq!(host_path_of(&name).as_deref(), Some(*path), "{name}");
        }
    }

    #[test]
    fn dot_components_are_encoded() {
        assert_eq!(fs_member(b"/tmp/../etc"), "fs/tmp/%2E%2E/etc");
        assert_eq!(fs_member(b"/tmp/.../x"), "fs/tmp/%2E%2E%2E/x");
        assert_eq!(fs_member(b"/root/.ssh"), "fs/root/.ssh");
    }

    #[test]
    fn unsafe_names_are_named() {
        assert!(unsafe_reason("/etc/passwd").is_some());
        assert!(unsafe_reason("fs/../../x").is_some());
        assert!(unsafe_reason("fs//x").is_some());
        assert!(unsafe_reason("fs/a\nb").is_some());
        assert!(unsafe_reason("records/processes.pc").is_none());
    }
}
