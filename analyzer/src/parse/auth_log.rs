//! Authentication log lines (`auth.log`, `secure`, syslog format with either the classic
//! `Mon DD HH:MM:SS host prog[pid]: msg` or an RFC 3339 stamp): failed and accepted SSH logins, password
//! changes, new users. Only the events detectors need; every other line is skipped.

use super::{numbered_lines, words};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    /// `Failed password for [invalid user] USER from IP`, `Invalid user USER from IP`,
    /// `authentication failure; ... rhost=IP user=USER`.
    Failed {
        user: Vec<u8>,
        ip: String,
        invalid_user: bool,
    },
    /// `Accepted password|publickey|keyboard-interactive/pam for USER from IP`.
    Accepted {
        method: String,
        user: Vec<u8>,
        ip: String,
    },
    /// `password changed for USER` (pam_unix passwd/chpasswd), `change user 'USER' password` (usermod).
    PasswordChanged { user: Vec<u8> },
    /// `new user: name=USER, UID=N` (useradd).
    NewUser { user: Vec<u8>, uid: Option<u32> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLine {
    pub line: u32,
    /// The timestamp text as written (first three words, or the first word when RFC 3339).
    pub stamp: String,
    /// Program name before `[pid]:` (`sshd`, `passwd`, `chpasswd`, `useradd`).
    pub program: String,
    /// The pid in `program[pid]:`, when written.
    pub pid: Option<u32>,
    pub event: AuthEvent,
}

fn after<'a>(w: &[&'a [u8]], key: &[u8]) -> Option<&'a [u8]> {
    w.iter()
        .position(|x| *x == key)
        .and_then(|i| w.get(i + 1))
        .copied()
}

fn ip_text(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    s.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

/// The key fingerprint sshd logs with an accepted public-key login (`... ssh2: ED25519 SHA256:abc...`,
/// `RSA-CERT SHA256:... ID ...`), as `ssh-keygen -l` prints it.
pub fn key_fingerprint(line: &[u8]) -> Option<String> {
    let w = words(line).find(|w| w.starts_with(b"SHA256:") || w.starts_with(b"MD5:"))?;
    let w = w.strip_suffix(b",").unwrap_or(w);
    let ok = w
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'+' | b'/' | b'='));
    ok.then(|| String::from_utf8_lossy(w).into_owned())
}

/// Parses one log line.
pub fn parse_line(n: u32, l: &[u8]) -> Option<AuthLine> {
    let w: Vec<&[u8]> = words(l).collect();
    // Find `prog[pid]:` or `prog:` — the first word ending in ':' after the stamp and host.
    let prog_idx = w
        .iter()
        .position(|x| x.ends_with(b":") && (x.contains(&b'[') || x.len() > 1))?;
    let stamp_words = if w.first().is_some_and(|x| x.len() > 10 && x.contains(&b'T')) {
        1
    } else {
        3
    };
    let stamp = w
        .get(..stamp_words.min(w.len()))?
        .iter()
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let prog_word = w.get(prog_idx)?;
    let program =
        String::from_utf8_lossy(prog_word.split(|b| *b == b'[' || *b == b':').next()?).into_owned();
    let pid = prog_word
        .split(|b| *b == b'[')
        .nth(1)
        .and_then(|r| r.split(|b| *b == b']').next())
        .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok());
    let msg: Vec<&[u8]> = w.get(prog_idx + 1..)?.to_vec();
    let event = if msg.starts_with(&[b"Failed".as_slice(), b"password", b"for"]) {
        let invalid = msg.get(3) == Some(&&b"invalid"[..]) && msg.get(4) == Some(&&b"user"[..]);
        let user = if invalid { msg.get(5) } else { msg.get(3) };
        AuthEvent::Failed {
            user: user?.to_vec(),
            ip: ip_text(after(&msg, b"from")?)?,
            invalid_user: invalid,
        }
    } else if msg.starts_with(&[b"Invalid".as_slice(), b"user"]) {
        AuthEvent::Failed {
            user: msg
                .get(2)
                .filter(|u| *u != b"from")
                .map(|u| u.to_vec())
                .unwrap_or_default(),
            ip: ip_text(after(&msg, b"from")?)?,
            invalid_user: true,
        }
    } else if msg.first() == Some(&&b"Accepted"[..]) && msg.get(2) == Some(&&b"for"[..]) {
        AuthEvent::Accepted {
            method: String::from_utf8_lossy(msg.get(1)?).into_owned(),
            user: msg.get(3)?.to_vec(),
            ip: ip_text(after(&msg, b"from")?)?,
        }
    } else if let Some(i) = msg
        .windows(3)
        .position(|x| x == [b"password".as_slice(), b"changed", b"for"])
    {
        AuthEvent::PasswordChanged {
            user: msg.get(i + 3)?.to_vec(),
        }
    } else if msg.starts_with(&[b"change".as_slice(), b"user"])
        && msg.get(3) == Some(&&b"password"[..])
    {
        let u = msg.get(2)?;
        AuthEvent::PasswordChanged {
            user: u
                .strip_prefix(b"'")
                .unwrap_or(u)
                .strip_suffix(b"'")
                .unwrap_or(u)
                .to_vec(),
        }
    } else if msg.starts_with(&[b"new".as_slice(), b"user:"]) {
        let field = |k: &[u8]| {
            msg.iter()
                .find_map(|x| x.strip_prefix(k))
                .map(|v| v.strip_suffix(b",").unwrap_or(v))
        };
        AuthEvent::NewUser {
            user: field(b"name=")?.to_vec(),
            uid: field(b"UID=").and_then(|u| std::str::from_utf8(u).ok()?.parse().ok()),
        }
    } else {
        return None;
    };
    Some(AuthLine {
        line: n,
        stamp,
        program,
        pid,
        event,
    })
}

/// Every recognised event of a log, in file order.
pub fn parse(bytes: &[u8]) -> Vec<AuthLine> {
    numbered_lines(bytes)
        .filter_map(|(n, l)| parse_line(n, l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_of_key_logins() {
        assert_eq!(
            key_fingerprint(b"Nov  9 02:17:55 h sshd[9114]: Accepted publickey for root from 198.51.100.66 port 43388 ssh2: ED25519 SHA256:hjfUTGcQ2bzlM4IPZ4+xRdvsIMatTzvf6KDK9IUT5m4").as_deref(),
            Some("SHA256:hjfUTGcQ2bzlM4IPZ4+xRdvsIMatTzvf6KDK9IUT5m4")
        );
        assert_eq!(
            key_fingerprint(b"Accepted password for root from 1.2.3.4 port 1 ssh2"),
            None
        );
        assert_eq!(key_fingerprint(b"x SHA256:$(reboot)"), None);
    }

    #[test]
    fn sshd_and_passwd_lines() {
        let log = b"Jan  5 10:00:01 web sshd[100]: Failed password for invalid user admin from 203.0.113.9 port 4242 ssh2\n\
Jan  5 10:00:02 web sshd[100]: Failed password for root from 203.0.113.9 port 4243 ssh2\n\
Jan  5 10:00:03 web sshd[101]: Invalid user test from 203.0.113.9 port 4244\n\
Jan  5 10:01:00 web sshd[102]: Accepted password for root from 203.0.113.9 port 4250 ssh2\n\
2024-01-05T10:02:00.000000+00:00 web passwd[110]: pam_unix(passwd:chauthtok): password changed for root\n\
Jan  5 10:03:00 web useradd[120]: new user: name=games2, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/0\n\
Jan  5 10:03:00 web CRON[1]: pam_unix(cron:session): session opened for user root\n";
        let e = parse(log);
        assert_eq!(e.len(), 6);
        assert!(
            matches!(&e[0].event, AuthEvent::Failed { invalid_user: true, user, ip } if user == b"admin" && ip == "203.0.113.9")
        );
        assert!(matches!(
            &e[1].event,
            AuthEvent::Failed {
                invalid_user: false,
                ..
            }
        ));
        assert!(matches!(&e[3].event, AuthEvent::Accepted { method, .. } if method == "password"));
        assert!(matches!(&e[4].event, AuthEvent::PasswordChanged { user } if user == b"root"));
        assert_eq!((e[4].program.as_str(), e[4].pid), ("passwd", Some(110)));
        assert!(matches!(
            &e[5].event,
            AuthEvent::NewUser { uid: Some(0), .. }
        ));
        assert_eq!(e[0].stamp, "Jan 5 10:00:01");
    }
}
