//! Accounts and privilege (category `accounts`): `passwd`, `group`, their `-` backups, `sudoers` and
//! `sudoers.d`, `doas.conf`, PAM (category `pam`) and NSS configuration, polkit rules. `/etc/shadow` (and `shadow-`) is read
//! only to derive [`ShadowEntry`] records (usable password or not, last change, expiry): its bytes and
//! hashes never leave the host, and `gshadow` is recorded by metadata alone.
//!
//! Also fills [`Ctx::accounts`] and [`Ctx::homes`] from the host's (or image's) own `passwd`, which every
//! per-user family (ssh, shell start-up files, histories, hidden directories) walks.

use std::io::{self, Write};

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::locations::Mechanism;
use minetrace_schemas::records::account::{PasswordState, ShadowEntry};
use minetrace_schemas::RawBytes;

use super::host_root::child;
use super::listing;
use super::sink::{Account, Content, Home, Sink, CONFIG_CAP};
use super::walk::{self, Limits, Pick};

/// Accounts kept from a `passwd`: far above a real server's, low enough that a shaped file cannot make
/// every per-user family walk a million homes.
pub const MAX_ACCOUNTS: usize = 10_000;

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let passwd = s.capture(b"/etc/passwd", Content::Head { cap: CONFIG_CAP })?;
    s.ctx.accounts = passwd.as_deref().map(parse_passwd).unwrap_or_default();
    for path in [
        &b"/etc/passwd-"[..],
        b"/etc/group",
        b"/etc/group-",
        b"/etc/doas.conf",
        b"/etc/nsswitch.conf",
        b"/etc/security/access.conf",
        b"/etc/login.defs",
    ] {
        s.capture(path, Content::Head { cap: CONFIG_CAP })?;
    }
    for path in [&b"/etc/shadow"[..], b"/etc/shadow-"] {
        if let Some(bytes) = s.capture(path, Content::Secret { cap: CONFIG_CAP })? {
            let entries = summarise_shadow(path, &bytes);
            s.ctx.shadow.extend(entries);
        }
    }
    for path in [
        &b"/etc/gshadow"[..],
        b"/etc/gshadow-",
        b"/etc/security/opasswd",
    ] {
        s.capture(path, Content::Meta)?;
    }
    walk::persistence_locations(s, &[Mechanism::Sudoers])?;
    let store = Pick::Record(Content::Head { cap: CONFIG_CAP });
    // PAM stacks name the modules and programs loaded into every login by path: their own category, one
    // of the sources whose named executables are copied (`references`), so a module dropped beside the
    // distribution's is in the bundle.
    let category = std::mem::replace(&mut s.category, "pam");
    walk::walk(
        s,
        minetrace_schemas::locations::PAM_CONFIG_DIR,
        Limits::config(3),
        |_| store,
    )?;
    s.category = category;
    for dir in [
        &b"/etc/polkit-1/rules.d"[..],
        b"/etc/polkit-1/localauthority",
        b"/etc/polkit-1/localauthority.conf.d",
    ] {
        walk::walk(s, dir, Limits::config(3), |_| store)?;
    }
    s.ctx.homes = homes(s)?;
    Ok(())
}

/// Accounts from `passwd` bytes; malformed lines are skipped (the raw file is in the bundle).
pub fn parse_passwd(bytes: &[u8]) -> Vec<Account> {
    let mut out = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        if line.starts_with(b"#") || line.starts_with(b"+") || line.starts_with(b"-") {
            continue;
        }
        let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
        let (Some(name), Some(uid), Some(home)) = (f.first(), f.get(2), f.get(5)) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let Some(uid) = std::str::from_utf8(uid)
            .ok()
            .and_then(|u| u.trim().parse().ok())
        else {
            continue;
        };
        out.push(Account {
            name: name.to_vec(),
            uid,
            home: home.to_vec(),
            shell: f.get(6).map(|s| s.to_vec()).unwrap_or_default(),
        });
        if out.len() >= MAX_ACCOUNTS {
            break;
        }
    }
    out
}

/// Distinct home directories: every account's, `/root`, and each directory under `/home` (a deleted
/// account's home can still hold keys and binaries).
fn homes<W: Write>(s: &mut Sink<'_, W>) -> Result<Vec<Home>, WriteError> {
    let mut out: Vec<Home> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for a in s.ctx.accounts.clone() {
        if a.home.starts_with(b"/") && seen.insert(normalise(&a.home)) {
            out.push((normalise(&a.home), Some(a)));
        }
    }
    if seen.insert(b"/root".to_vec()) {
        out.push((b"/root".to_vec(), None));
    }
    if let Ok(r) = s.ctx.root.resolve(b"/home", true) {
        if let Ok(st) = s.ctx.root.lstat(&r.path) {
            if st.is_dir() {
                let real = s.ctx.root.real(&r.path);
                match listing::list(&real, &st, 2_000) {
                    Ok((_, names, _)) => {
                        for n in names {
                            let p = child(&r.path, &n);
                            if s.ctx.root.lstat(&p).is_ok_and(|st| st.is_dir())
                                && seen.insert(p.clone())
                            {
                                out.push((p, None));
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => s.note(b"/home", format!("cannot list: {e}")),
                }
            }
        }
    }
    Ok(out)
}

/// `/home/u/` and `/home//u` name the same home.
fn normalise(path: &[u8]) -> Vec<u8> {
    super::host_root::join(
        &path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>(),
    )
}

/// What a shadow password field allows, without keeping it.
pub fn password_state(field: &[u8]) -> PasswordState {
    match field {
        [] => PasswordState::Empty,
        [b'!', rest @ ..] => {
            if looks_like_hash(rest) {
                PasswordState::Locked
            } else {
                PasswordState::Disabled
            }
        }
        f if looks_like_hash(f) => PasswordState::Usable,
        _ => PasswordState::Disabled,
    }
}

/// A crypt(3) hash: `$id$...` or 13-character traditional DES.
fn looks_like_hash(f: &[u8]) -> bool {
    let crypt_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/');
    (f.starts_with(b"$") && f.len() > 3) || (f.len() == 13 && f.iter().all(crypt_char))
}

/// One [`ShadowEntry`] per account line; the password field is reduced to its [`PasswordState`] here and
/// nothing else of it is kept.
pub fn summarise_shadow(source: &[u8], bytes: &[u8]) -> Vec<ShadowEntry> {
    let day = |f: Option<&&[u8]>| -> Option<i64> {
        f.and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse().ok())
    };
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
        let Some(user) = f.first().filter(|u| !u.is_empty()) else {
            continue;
        };
        out.push(ShadowEntry {
            source: RawBytes::new(source.to_vec()),
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            user: RawBytes::new(user.to_vec()),
            password: password_state(f.get(1).copied().unwrap_or(b"")),
            last_change_days: day(f.get(2)),
            expire_days: day(f.get(7)),
        });
        if out.len() >= MAX_ACCOUNTS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_is_reduced_to_states_and_dates() {
        let shadow = b"root:$6$salt$abcdefghijklmnopqrstuv:19500:0:99999:7:::\n\
games:$y$j9T$xyz$hash:19999:0:99999:7:::\n\
daemon:*:19000:0:99999:7:::\n\
locked:!$6$salt$hash:19100::::::\n\
nopw::19200:0:99999:7:::\n\
never:!!:::::::\n\
des:abcdefghijklm:1:::::20000:\n\
\n# comment\n:broken\n";
        let e = summarise_shadow(b"/etc/shadow", shadow);
        type Row<'a> = (&'a [u8], PasswordState, Option<i64>, Option<i64>);
        let got: Vec<Row> = e
            .iter()
            .map(|e| {
                (
                    e.user.as_bytes(),
                    e.password,
                    e.last_change_days,
                    e.expire_days,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (&b"root"[..], PasswordState::Usable, Some(19500), None),
                (b"games", PasswordState::Usable, Some(19999), None),
                (b"daemon", PasswordState::Disabled, Some(19000), None),
                (b"locked", PasswordState::Locked, Some(19100), None),
                (b"nopw", PasswordState::Empty, Some(19200), None),
                (b"never", PasswordState::Disabled, None, None),
                (b"des", PasswordState::Usable, Some(1), Some(20000)),
            ]
        );
        assert_eq!(e.first().map(|e| e.line), Some(1));
        // Nothing of any hash survives in the records.
        let dump = format!("{e:?}");
        assert!(
            !dump.contains("salt") && !dump.contains("abcdefghijklm"),
            "{dump}"
        );
    }

    #[test]
    fn passwd_parsing_keeps_bytes_and_skips_garbage() {
        let p = b"root:x:0:0:root:/root:/bin/bash\ngames:x:5:60:games:/usr/games:/usr/games/sbin/nologin\n\
bad line\nu\xff:x:1001:1001::/home/u\xff:/bin/sh\n+nis\nnouid:x:abc:0::/x:/bin/sh\n";
        let a = parse_passwd(p);
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].home, b"/usr/games");
        assert_eq!(a[2].name, b"u\xff");
        assert_eq!(a[2].uid, 1001);
    }

    #[test]
    fn normalised_homes() {
        assert_eq!(normalise(b"/home//u/"), b"/home/u");
        assert_eq!(normalise(b"/"), b"/");
    }
}
