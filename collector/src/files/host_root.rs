//! Host paths and where they are read from: `/` on a live host, `ROOT` in dead-box mode (`--root`).
//!
//! Every path an artifact module names is a *host path* (`/etc/crontab`, as bytes). Before anything is
//! read, [`HostRoot::resolve`] walks it component by component with `lstat`, the way the kernel would inside
//! a chroot at the root: absolute link targets restart at the root, `..` never climbs above it, and at most
//! [`MAX_LINK_HOPS`] links are followed (loops end as an error, never a hang). The result names a path whose
//! directories hold no links, so reading `ROOT + path` cannot leave the image, and every link crossed on the
//! way is reported so the caller can record it.
//!
//! Walks then extend resolved directories by plain names and never follow the links they meet.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::file_meta::{self, Stat};
use minetrace_schemas::records::file::FileKind;

/// Same limit as the kernel's `MAXSYMLINKS`.
pub const MAX_LINK_HOPS: u32 = 40;

/// Cap on the components a path may have after link expansion, so a link to a very long path cannot
/// make resolution quadratic.
const MAX_COMPONENTS: usize = 4096;

#[derive(Debug, Clone)]
pub struct HostRoot {
    real: PathBuf,
    dead_box: bool,
}

/// A link crossed while resolving: where it is and what it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossed {
    pub link: Vec<u8>,
    pub target: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Host path with no link in its directories (and none at the end when the final link was followed).
    pub path: Vec<u8>,
    /// Links crossed on the way, in order.
    pub crossed: Vec<Crossed>,
    /// A `..` tried to climb above the root and was held at it.
    pub clamped: bool,
}

#[derive(Debug)]
pub enum ResolveError {
    /// A directory on the way does not exist.
    NotFound,
    /// A component that must be a directory is something else.
    NotADirectory(Vec<u8>),
    /// More than [`MAX_LINK_HOPS`] links, or an expansion that grows without end.
    TooManyLinks,
    Io(Vec<u8>, io::Error),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let esc = minetrace_schemas::escape_bytes;
        match self {
            ResolveError::NotFound => f.write_str("a directory on the path does not exist"),
            ResolveError::NotADirectory(p) => write!(f, "{} is not a directory", esc(p)),
            ResolveError::TooManyLinks => write!(
                f,
                "too many symbolic links (a loop?): gave up after {MAX_LINK_HOPS}"
            ),
            ResolveError::Io(p, e) => write!(f, "{}: {e}", esc(p)),
        }
    }
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|b| *b == b'/').filter(|c| !c.is_empty())
}

/// Joins components into an absolute host path.
pub fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

/// `dir + "/" + name` for host paths.
pub fn child(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// Last component of a host path.
pub fn file_name(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

/// Parent of a host path (`/` for top-level entries).
pub fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) | None => b"/",
        Some(i) => path.get(..i).unwrap_or(b"/"),
    }
}

impl HostRoot {
    pub fn live() -> Self {
        HostRoot {
            real: PathBuf::from("/"),
            dead_box: false,
        }
    }

    /// Dead-box mode: host paths are read under `root`.
    ///
    /// The root is made absolute but its links are not resolved: `/proc/PID/root` (a container's or a
    /// sandbox's root seen from outside) is a magic link whose text names a path in the other mount
    /// namespace; opening through it reaches that root, following its text would reach whatever the
    /// analyst's machine has at that path. Links inside the root are resolved by [`HostRoot::resolve`].
    pub fn under(root: &Path) -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let real = std::path::absolute(root)?;
        let meta = std::fs::metadata(&real)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "root is not a directory",
            ));
        }
        let slash = std::fs::metadata("/")?;
        Ok(HostRoot {
            dead_box: (meta.dev(), meta.ino()) != (slash.dev(), slash.ino()),
            real,
        })
    }

    pub fn is_dead_box(&self) -> bool {
        self.dead_box
    }

    /// Where a host path is read from. Only meaningful for a path from [`HostRoot::resolve`] or built from
    /// one by adding plain names.
    pub fn real(&self, host: &[u8]) -> PathBuf {
        let rel: Vec<u8> = {
            let mut v = Vec::with_capacity(host.len());
            for (i, c) in components(host).enumerate() {
                if i > 0 {
                    v.push(b'/');
                }
                v.extend_from_slice(c);
            }
            v
        };
        if rel.is_empty() {
            self.real.clone()
        } else {
            self.real.join(OsStr::from_bytes(&rel))
        }
    }

    /// `lstat` of a resolved host path.
    pub fn lstat(&self, host: &[u8]) -> io::Result<Stat> {
        file_meta::lstat(&self.real(host))
    }

    /// Reads a link's target (as the host stored it).
    pub fn read_link(&self, host: &[u8]) -> io::Result<Vec<u8>> {
        std::fs::read_link(self.real(host)).map(|t| t.as_os_str().as_bytes().to_vec())
    }

    /// Resolves `host` under the root. Links in directories are always followed (inside the root); the
    /// final component is followed only when `follow_final` is set. A missing final component is not an
    /// error: the caller's `lstat` reports it.
    pub fn resolve(&self, host: &[u8], follow_final: bool) -> Result<Resolved, ResolveError> {
        let mut pending: Vec<Vec<u8>> = components(host).rev().map(<[u8]>::to_vec).collect();
        let mut stack: Vec<Vec<u8>> = Vec::new();
        let mut crossed = Vec::new();
        let mut clamped = false;
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            match comp.as_slice() {
                b"." => continue,
                b".." => {
                    if stack.pop().is_none() {
                        clamped = true;
                    }
                    continue;
                }
                _ => {}
            }
            stack.push(comp);
            let last = pending.is_empty();
            if last && !follow_final {
                break;
            }
            let here = join(&stack);
            let st = match self.lstat(&here) {
                Ok(st) => st,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if last {
                        break;
                    }
                    return Err(ResolveError::NotFound);
                }
                Err(e) => return Err(ResolveError::Io(here, e)),
            };
            match st.kind {
                FileKind::Symlink => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(ResolveError::TooManyLinks);
                    }
                    let target = self
                        .read_link(&here)
                        .map_err(|e| ResolveError::Io(here.clone(), e))?;
                    stack.pop();
                    if target.starts_with(b"/") {
                        stack.clear();
                    }
                    pending.extend(components(&target).rev().map(<[u8]>::to_vec));
                    if pending.len() > MAX_COMPONENTS {
                        return Err(ResolveError::TooManyLinks);
                    }
                    crossed.push(Crossed { link: here, target });
                }
                FileKind::Directory => {}
                _ if !last => return Err(ResolveError::NotADirectory(here)),
                _ => {}
            }
        }
        Ok(Resolved {
            path: join(&stack),
            crossed,
            clamped,
        })
    }

    /// Expands a host path pattern whose components may hold `*`, `?` and `[...]` (as in sshd's `Include`
    /// or `/etc/rc*.d`) into existing host paths, sorted. Wildcards never match a leading dot, and at most
    /// `cap` paths come back.
    pub fn expand(&self, pattern: &[u8], cap: usize) -> Vec<Vec<u8>> {
        let mut current: Vec<Vec<u8>> = vec![b"/".to_vec()];
        for comp in components(pattern) {
            let mut next = Vec::new();
            for dir in &current {
                if !has_wildcard(comp) {
                    next.push(child(dir, comp));
                    continue;
                }
                let Ok(resolved) = self.resolve(dir, true) else {
                    continue;
                };
                let Ok(entries) = std::fs::read_dir(self.real(&resolved.path)) else {
                    continue;
                };
                let mut names: Vec<Vec<u8>> = entries
                    .filter_map(Result::ok)
                    .take(100_000)
                    .map(|e| e.file_name().as_bytes().to_vec())
                    .filter(|n| !n.starts_with(b".") && fnmatch(comp, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| child(dir, &n)));
                if next.len() > cap {
                    break;
                }
            }
            next.truncate(cap);
            current = next;
        }
        let mut out: Vec<Vec<u8>> = current
            .into_iter()
            .filter(|p| {
                self.resolve(p, true)
                    .is_ok_and(|r| self.lstat(&r.path).is_ok())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

pub fn has_wildcard(s: &[u8]) -> bool {
    s.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Shell-style matching of one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
pub fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking; linear in practice, bounded by len(p) * len(n).
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let pc = pattern.get(p).copied();
        let nc = name.get(n).copied().unwrap_or(0);
        match pc {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                n += 1;
                continue;
            }
            Some(b'[') => {
                if let Some((matched, len)) = class_match(pattern.get(p..).unwrap_or(&[]), nc) {
                    if matched {
                        p += len;
                        n += 1;
                        continue;
                    }
                } else if nc == b'[' {
                    p += 1;
                    n += 1;
                    continue;
                }
            }
            Some(c) if c == nc => {
                p += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pattern.get(p..).unwrap_or(&[]).iter().all(|c| *c == b'*')
}

/// Matches `c` against a bracket class at the start of `pat`; returns (matched, class length) or `None`
/// when the bracket is not closed.
fn class_match(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let b = *pat.get(i)?;
        if b == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|e| *e != b']') {
            let hi = *pat.get(i + 2)?;
            if (b..=hi).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if b == c {
                matched = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn image() -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::under(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn absolute_links_restart_at_the_root() {
        let (dir, root) = image();
        std::fs::create_dir_all(dir.path().join("etc/real")).unwrap();
        std::fs::write(dir.path().join("etc/real/sshd_config"), b"inside").unwrap();
        // An absolute link: on the live host /etc/ssh would point at the analyst's /etc/real.
        symlink("/etc/real", dir.path().join("etc/ssh")).unwrap();
        let r = root.resolve(b"/etc/ssh/sshd_config", false).unwrap();
        assert_eq!(r.path, b"/etc/real/sshd_config");
        assert_eq!(
            r.crossed,
            vec![Crossed {
                link: b"/etc/ssh".to_vec(),
                target: b"/etc/real".to_vec()
            }]
        );
        assert!(root
            .real(&r.path)
            .starts_with(dir.path().canonicalize().unwrap()));
        assert_eq!(std::fs::read(root.real(&r.path)).unwrap(), b"inside");
    }

    #[test]
    fn dotdot_links_cannot_climb_out() {
        let (dir, root) = image();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("passwd"), b"image's own").unwrap();
        // Relative link that climbs far above the image root, then names a real host file.
        symlink(
            "../../../../../../../../etc/passwd",
            dir.path().join("etc/evil"),
        )
        .unwrap();
        let r = root.resolve(b"/etc/evil", true).unwrap();
        assert!(r.clamped);
        assert_eq!(r.path, b"/etc/passwd");
        let real = root.real(&r.path);
        assert!(
            real.starts_with(dir.path().canonicalize().unwrap()),
            "{real:?}"
        );
        // And a path given with `..` is clamped the same way.
        let r = root.resolve(b"/../../passwd", true).unwrap();
        assert_eq!((r.path.as_slice(), r.clamped), (&b"/passwd"[..], true));
        assert_eq!(std::fs::read(root.real(&r.path)).unwrap(), b"image's own");
    }

    #[test]
    fn link_loops_end_in_an_error() {
        let (dir, root) = image();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        symlink("self/x", dir.path().join("self")).unwrap();
        assert!(matches!(
            root.resolve(b"/a", true),
            Err(ResolveError::TooManyLinks)
        ));
        assert!(matches!(
            root.resolve(b"/self/y", false),
            Err(ResolveError::TooManyLinks)
        ));
        // Without following the final link there is nothing to loop on.
        assert_eq!(root.resolve(b"/a", false).unwrap().path, b"/a");
    }

    #[test]
    fn missing_and_non_directories() {
        let (dir, root) = image();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        assert!(matches!(
            root.resolve(b"/nope/x", false),
            Err(ResolveError::NotFound)
        ));
        assert_eq!(root.resolve(b"/nope", true).unwrap().path, b"/nope");
        assert!(matches!(
            root.resolve(b"/file/x", false),
            Err(ResolveError::NotADirectory(_))
        ));
    }

    #[test]
    fn expand_globs_under_the_root() {
        let (dir, root) = image();
        for d in [
            "etc/rc0.d",
            "etc/rc3.d",
            "etc/rcS.d",
            "etc/ssh/sshd_config.d",
        ] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("etc/ssh/sshd_config.d/10-a.conf"), b"").unwrap();
        std::fs::write(dir.path().join("etc/ssh/sshd_config.d/.hidden.conf"), b"").unwrap();
        std::fs::write(dir.path().join("etc/ssh/sshd_config.d/20-b.txt"), b"").unwrap();
        assert_eq!(
            root.expand(b"/etc/rc*.d", 100),
            vec![
                b"/etc/rc0.d".to_vec(),
                b"/etc/rc3.d".to_vec(),
                b"/etc/rcS.d".to_vec()
            ]
        );
        assert_eq!(
            root.expand(b"/etc/ssh/sshd_config.d/*.conf", 100),
            vec![b"/etc/ssh/sshd_config.d/10-a.conf".to_vec()]
        );
        assert!(root.expand(b"/etc/missing/*", 100).is_empty());
    }

    #[test]
    fn fnmatch_cases() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b"a.conf.bak"));
        assert!(fnmatch(b"rc[0-6S].d", b"rcS.d"));
        assert!(!fnmatch(b"rc[!0-6].d", b"rc3.d"));
        assert!(fnmatch(b"a*b*c", b"aXXbYYc"));
        assert!(fnmatch(b"?", b"x"));
        assert!(!fnmatch(b"[abc", b"a"));
        assert!(fnmatch(b"*", b""));
    }

    #[test]
    fn a_magic_link_root_is_kept_as_given() {
        // `/proc/PID/root` is read through, never resolved to its text (which names a path in the other
        // process's mount namespace). Our own root is the live root, not an image.
        let root = HostRoot::under(Path::new("/proc/self/root")).unwrap();
        assert_eq!(root.real(b"/etc"), Path::new("/proc/self/root/etc"));
        assert!(!root.is_dead_box());
        let (dir, image) = image();
        assert!(image.is_dead_box());
        assert!(image.real(b"/x").starts_with(dir.path()));
    }

    #[test]
    fn path_helpers() {
        assert_eq!(child(b"/", b"etc"), b"/etc");
        assert_eq!(child(b"/etc", b"x"), b"/etc/x");
        assert_eq!(parent(b"/etc/x"), b"/etc");
        assert_eq!(parent(b"/etc"), b"/");
        assert_eq!(file_name(b"/etc/x"), b"x");
    }
}
