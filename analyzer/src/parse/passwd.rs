//! `/etc/passwd` and `/etc/group` lines (`name:x:uid:gid:gecos:home:shell`, `name:x:gid:members`),
//! with line numbers, tolerant of junk lines (skipped) and of NIS `+`/`-` entries (skipped).

use super::numbered_lines;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub line: u32,
    pub name: Vec<u8>,
    /// The password field (`x` when the hash is in shadow; empty means no password at all).
    pub password: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub gecos: Vec<u8>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

impl PasswdEntry {
    /// True when the shell refuses interactive logins (`nologin`, `false`, `sync`, `halt`, `shutdown`, empty
    /// means `/bin/sh`, so it is *not* refused). A `nologin` outside the usual directories is not trusted:
    /// TeamTNT copied bash to `/usr/games/sbin/nologin`.
    pub fn shell_refuses_login(&self) -> bool {
        let known: &[&[u8]] = &[
            b"/usr/sbin/nologin",
            b"/sbin/nologin",
            b"/bin/false",
            b"/usr/bin/false",
            b"/bin/sync",
            b"/sbin/halt",
            b"/sbin/shutdown",
            b"/usr/bin/nologin",
            b"/bin/nologin",
        ];
        known.contains(&self.shell.as_slice())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub line: u32,
    pub name: Vec<u8>,
    pub gid: u32,
    pub members: Vec<Vec<u8>>,
}

fn num(field: Option<&[u8]>) -> Option<u32> {
    std::str::from_utf8(field?).ok()?.trim().parse().ok()
}

pub fn parse_passwd(bytes: &[u8]) -> Vec<PasswdEntry> {
    numbered_lines(bytes)
        .filter_map(|(n, l)| {
            if l.starts_with(b"#") || l.starts_with(b"+") || l.starts_with(b"-") {
                return None;
            }
            let f: Vec<&[u8]> = l.split(|b| *b == b':').collect();
            if f.len() != 7 || f.first().is_none_or(|n| n.is_empty()) {
                return None;
            }
            Some(PasswdEntry {
                line: n,
                name: f.first()?.to_vec(),
                password: f.get(1)?.to_vec(),
                uid: num(f.get(2).copied())?,
                gid: num(f.get(3).copied())?,
                gecos: f.get(4)?.to_vec(),
                home: f.get(5)?.to_vec(),
                shell: f.get(6)?.to_vec(),
            })
        })
        .collect()
}

pub fn parse_group(bytes: &[u8]) -> Vec<GroupEntry> {
    numbered_lines(bytes)
        .filter_map(|(n, l)| {
            if l.starts_with(b"#") || l.starts_with(b"+") || l.starts_with(b"-") {
                return None;
            }
            let f: Vec<&[u8]> = l.split(|b| *b == b':').collect();
            if f.len() != 4 {
                return None;
            }
            Some(GroupEntry {
                line: n,
                name: f.first()?.to_vec(),
                gid: num(f.get(2).copied())?,
                members: f
                    .get(3)?
                    .split(|b| *b == b',')
                    .map(<[u8]>::trim_ascii)
                    .filter(|m| !m.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group() {
        let p = parse_passwd(b"root:x:0:0:root:/root:/bin/bash\njunk\ngames:x:5:60:games:/usr/games:/usr/games/sbin/nologin\n+nis::::::\nsshd:x:110:65534::/run/sshd:/usr/sbin/nologin\n");
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].line, 3);
        assert!(!p[1].shell_refuses_login());
        assert!(p[2].shell_refuses_login());
        let g = parse_group(b"sudo:x:27:alice,games\nwheel:x:10:\n");
        assert_eq!(g[0].members, vec![b"alice".to_vec(), b"games".to_vec()]);
        assert!(g[1].members.is_empty());
    }
}
