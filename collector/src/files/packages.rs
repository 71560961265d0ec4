//! Package integrity (record member `records/packages.pc`; mismatching packages' `md5sums` lists are
//! stored under category `packages`): for the binaries miners replace or trojanize (`ps`, `top`, `ss`,
//! `crontab`, `chattr`, `sshd`, `pam_unix.so`, ...), for every library `/etc/ld.so.preload` names, and
//! for every running executable (live mode, handed over by the live pass), the owning dpkg
//! package, the MD5 its `md5sums` list recorded, and the file's actual MD5 — [`PackageCheck`] records.
//!
//! Ownership is matched on the path as named, its resolved path and their merged-`/usr` aliases
//! (`/bin/ps` ↔ `/usr/bin/ps`); paths without an `md5sums` line are looked up in the run's package index
//! ([`crate::package_index`]) rather than by reading every `.list` again. Running executables that no package owns are not hashed here: the live
//! pass hashes and copies them. rpm databases (Berkeley DB / SQLite) are not read by this build; their
//! presence is noted in the manifest's exclusions.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::package::{PackageCheck, PackageManager, PackageVerdict};
use minetrace_schemas::RawBytes;
use sha2::{Digest, Sha256};

use super::host_root::child;
use super::listing;
use super::sink::{Content, Sink};
use crate::host_read;
use md5::Md5;

pub const SYSTEM_BINARIES: &[&[u8]] = &[
    b"ps",
    b"top",
    b"netstat",
    b"ss",
    b"ls",
    b"find",
    b"crontab",
    b"chattr",
    b"lsattr",
    b"kill",
    b"pkill",
    b"iptables",
    b"curl",
    b"wget",
    b"ssh",
    b"sshd",
    b"login",
    b"passwd",
    b"ldd",
    b"bash",
    b"sh",
    b"su",
    b"sudo",
    b"lsof",
    b"systemctl",
];
const BIN_DIRS: &[&[u8]] = &[b"/usr/bin", b"/usr/sbin", b"/bin", b"/sbin"];
const PAM_UNIX: &[&[u8]] = &[
    b"/lib/*/security/pam_unix.so",
    b"/usr/lib/*/security/pam_unix.so",
    b"/lib64/security/pam_unix.so",
    b"/usr/lib64/security/pam_unix.so",
    b"/lib/security/pam_unix.so",
];
const DPKG_INFO: &[u8] = b"/var/lib/dpkg/info";
/// Largest file hashed for the comparison.
const HASH_CAP: u64 = 512 << 20;
const MAX_TARGETS: usize = 5_000;

/// The package that lists a target: name, recorded MD5 (when `md5sums` has one), the path as listed.
type Owner = Option<(String, Option<String>, Vec<u8>)>;

struct Target {
    named: Vec<u8>,
    resolved: Vec<u8>,
    reason: &'static str,
    /// Paths the package database may list it under.
    aliases: Vec<Vec<u8>>,
}

/// Merged-`/usr` spellings of a path: `/bin/x` ↔ `/usr/bin/x` and the like.
pub fn usr_aliases(path: &[u8]) -> Vec<Vec<u8>> {
    const TOP: &[&[u8]] = &[b"bin", b"sbin", b"lib", b"lib32", b"lib64", b"libx32"];
    let mut out = vec![path.to_vec()];
    if let Some(rest) = path.strip_prefix(b"/usr") {
        if TOP.iter().any(|t| {
            rest.strip_prefix(b"/")
                .is_some_and(|r| r.starts_with(t) && r.get(t.len()) == Some(&b'/'))
        }) {
            out.push(rest.to_vec());
        }
    } else if TOP.iter().any(|t| {
        path.strip_prefix(b"/")
            .is_some_and(|r| r.starts_with(t) && r.get(t.len()) == Some(&b'/'))
    }) {
        let mut p = b"/usr".to_vec();
        p.extend_from_slice(path);
        out.push(p);
    }
    out
}

/// One `md5sums` line: `<32 hex>  <path relative to />`.
pub fn parse_md5sums_line(line: &[u8]) -> Option<(String, Vec<u8>)> {
    let hex = line.get(..32)?;
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let rest = line.get(32..)?;
    let start = rest.iter().position(|b| *b != b' ')?;
    let path = rest.get(start..)?;
    let path = path.strip_suffix(b"\r").unwrap_or(path);
    let mut abs = b"/".to_vec();
    abs.extend_from_slice(path.strip_prefix(b"/").unwrap_or(path));
    Some((String::from_utf8_lossy(hex).to_ascii_lowercase(), abs))
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let mut named: Vec<(Vec<u8>, &'static str)> = Vec::new();
    for name in SYSTEM_BINARIES {
        for dir in BIN_DIRS {
            named.push((child(dir, name), "system-binary"));
        }
    }
    for pat in PAM_UNIX {
        for p in s.ctx.root.expand(pat, 16) {
            named.push((p, "system-binary"));
        }
    }
    for lib in s.ctx.preload_libs.clone() {
        named.push((lib, "preload"));
    }
    // Deleted and memfd images have no file to compare; the live pass handles them and hands over the
    // rest (empty in dead-box mode, where nothing runs).
    for exe in s.col.live_handoff.running_exes.iter().take(MAX_TARGETS) {
        named.push((exe.clone(), "running-exe"));
    }

    let mut targets: Vec<Target> = Vec::new();
    let mut seen = HashSet::new();
    for (path, reason) in named {
        let Ok(r) = s.ctx.root.resolve(&path, true) else {
            continue;
        };
        if !s
            .ctx
            .root
            .lstat(&r.path)
            .is_ok_and(|st| st.kind == minetrace_schemas::records::file::FileKind::Regular)
        {
            continue;
        }
        if !seen.insert(r.path.clone()) || targets.len() >= MAX_TARGETS {
            continue;
        }
        let mut aliases = usr_aliases(&path);
        aliases.extend(usr_aliases(&r.path));
        aliases.sort();
        aliases.dedup();
        targets.push(Target {
            named: path,
            resolved: r.path,
            reason,
            aliases,
        });
    }

    // Which package lists which alias, and with which digest.
    let mut wanted: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        for a in &t.aliases {
            wanted.entry(a.clone()).or_default().push(i);
        }
    }
    let mut owner: Vec<Owner> = vec![None; targets.len()];
    let have_dpkg = scan_dpkg(s, &wanted, &mut owner);
    if !have_dpkg {
        let rpm = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"]
            .iter()
            .any(|p| s.ctx.root.lstat(p.as_bytes()).is_ok());
        if rpm {
            s.col.exclusions.push(
                "rpm database present but not read by this build: package digests not compared"
                    .into(),
            );
        }
    }

    let mut mismatched_packages = HashSet::new();
    for (t, own) in targets.iter().zip(owner) {
        let (package, expected, listed) = match own {
            Some((p, m, l)) => (Some(p), m, Some(l)),
            None => (None, None, None),
        };
        let mut check = PackageCheck {
            path: RawBytes::new(t.named.clone()),
            reason: t.reason.into(),
            listed_as: listed.filter(|l| *l != t.named).map(RawBytes::new),
            manager: package.as_ref().map(|_| PackageManager::Dpkg),
            package,
            expected_md5: expected.clone(),
            actual_md5: None,
            actual_sha256: None,
            size: None,
            verdict: PackageVerdict::NotOwned,
            error: None,
        };
        if t.resolved != t.named && check.listed_as.is_none() {
            check.listed_as = Some(RawBytes::new(t.resolved.clone()));
        }
        let need_hash = t.reason != "running-exe" || expected.is_some();
        if need_hash {
            match digests(s, &t.resolved, t.reason != "running-exe") {
                Ok((md5, sha, size)) => {
                    check.actual_md5 = Some(md5);
                    check.actual_sha256 = sha;
                    check.size = Some(size);
                }
                Err(e) => {
                    check.verdict = PackageVerdict::Unreadable;
                    check.error = Some(e);
                }
            }
        }
        if check.verdict != PackageVerdict::Unreadable {
            check.verdict = match (&check.package, &check.expected_md5, &check.actual_md5) {
                (None, _, _) => PackageVerdict::NotOwned,
                (Some(_), None, _) => PackageVerdict::NoDigest,
                (Some(_), Some(e), Some(a)) if e == a => PackageVerdict::Match,
                (Some(_), Some(_), Some(_)) => PackageVerdict::Mismatch,
                (Some(_), Some(_), None) => PackageVerdict::NoDigest,
            };
        }
        if !have_dpkg && check.package.is_none() {
            check.verdict = PackageVerdict::NoDigest;
            check.error = Some("no dpkg database on this host".into());
        }
        if check.verdict == PackageVerdict::Mismatch {
            if let Some(p) = &check.package {
                mismatched_packages.insert(p.clone());
            }
        }
        s.ctx.packages.push(check);
        s.log.items += 1;
    }
    let mut list: Vec<String> = mismatched_packages.into_iter().collect();
    list.sort();
    for p in list {
        let path = child(DPKG_INFO, format!("{p}.md5sums").as_bytes());
        s.capture(
            &path,
            Content::Head {
                cap: super::sink::CONFIG_CAP,
            },
        )?;
    }
    Ok(())
}

/// Reads dpkg's `*.md5sums` (and, for paths still unowned, `*.list`) looking only for wanted paths.
/// Returns false when there is no dpkg database.
fn scan_dpkg<W: Write>(
    s: &mut Sink<'_, W>,
    wanted: &HashMap<Vec<u8>, Vec<usize>>,
    owner: &mut [Owner],
) -> bool {
    let Ok(r) = s.ctx.root.resolve(DPKG_INFO, true) else {
        return false;
    };
    let Ok(st) = s.ctx.root.lstat(&r.path) else {
        return false;
    };
    if !st.is_dir() {
        return false;
    }
    let names = match listing::list(&s.ctx.root.real(&r.path), &st, 200_000) {
        Ok((_, names, _)) => names,
        Err(e) => {
            s.note(DPKG_INFO, format!("cannot list: {e}"));
            return false;
        }
    };
    for suffix in [&b".md5sums"[..], b".list"] {
        if suffix == b".list" && owner.iter().all(Option::is_some) {
            break;
        }
        if suffix == b".list" {
            if let Some(index) = s.col.package_db.index() {
                // The run's index already read every `.list`: ask it instead of reading them again.
                for (path, idx) in wanted {
                    let Some((package, listed)) = index.owner(path) else {
                        continue;
                    };
                    for &i in idx {
                        if let Some(slot) = owner.get_mut(i) {
                            if slot.is_none() {
                                *slot = Some((package.to_owned(), None, listed.clone()));
                            }
                        }
                    }
                }
                break;
            }
        }
        for n in names.iter().filter(|n| n.ends_with(suffix)) {
            let package = String::from_utf8_lossy(n.get(..n.len() - suffix.len()).unwrap_or(b""))
                .into_owned();
            let real = s.ctx.root.real(&child(&r.path, n));
            let Ok(c) = host_read::read_capped(&real, 64 << 20, host_read::Keep::Head) else {
                continue;
            };
            for line in c.bytes.split(|b| *b == b'\n') {
                let (md5, path) = if suffix == b".md5sums" {
                    match parse_md5sums_line(line) {
                        Some((m, p)) => (Some(m), p),
                        None => continue,
                    }
                } else {
                    (None, line.to_vec())
                };
                let Some(idx) = wanted.get(&path) else {
                    continue;
                };
                for &i in idx {
                    if let Some(slot) = owner.get_mut(i) {
                        if slot.is_none() {
                            *slot = Some((package.clone(), md5.clone(), path.clone()));
                        }
                    }
                }
            }
        }
    }
    true
}

/// MD5 (and sha256 when asked) of a resolved host file, streamed.
fn digests<W: Write>(
    s: &mut Sink<'_, W>,
    path: &[u8],
    with_sha: bool,
) -> Result<(String, Option<String>, u64), String> {
    let real = s.ctx.root.real(path);
    let (file, meta) = host_read::open_regular(&real).map_err(|e| format!("open: {e}"))?;
    if meta.len() > HASH_CAP {
        return Err(format!(
            "{} bytes is over the {HASH_CAP}-byte hashing cap",
            meta.len()
        ));
    }
    let mut md5 = Md5::default();
    let mut sha = with_sha.then(Sha256::new);
    let mut buf = vec![0u8; 1 << 16];
    let mut f = file.take(HASH_CAP);
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or(&[]);
        md5.update(chunk);
        if let Some(h) = sha.as_mut() {
            h.update(chunk);
        }
        size += n as u64;
    }
    Ok((
        hex::encode(md5.finalize()),
        sha.map(|h| hex::encode(h.finalize())),
        size,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr_aliases() {
        assert_eq!(
            usr_aliases(b"/bin/ps"),
            vec![b"/bin/ps".to_vec(), b"/usr/bin/ps".to_vec()]
        );
        assert_eq!(
            usr_aliases(b"/usr/sbin/sshd"),
            vec![b"/usr/sbin/sshd".to_vec(), b"/sbin/sshd".to_vec()]
        );
        assert_eq!(
            usr_aliases(b"/usr/local/bin/x"),
            vec![b"/usr/local/bin/x".to_vec()]
        );
        assert_eq!(usr_aliases(b"/binx/y"), vec![b"/binx/y".to_vec()]);
    }

    #[test]
    fn md5sums_lines() {
        let (m, p) = parse_md5sums_line(b"0123456789ABCDEF0123456789abcdef  usr/bin/ps").unwrap();
        assert_eq!(
            (m.as_str(), p.as_slice()),
            ("0123456789abcdef0123456789abcdef", &b"/usr/bin/ps"[..])
        );
        assert!(parse_md5sums_line(b"short  usr/bin/ps").is_none());
        assert!(parse_md5sums_line(b"").is_none());
    }
}
