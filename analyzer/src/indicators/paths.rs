//! Path classes: one table, built from the directory indicators (`temp_dir`, `shm_dir`, `system_dir`,
//! `nonexec_dir`, `home_dir`, `web_root`, `pseudo_dir`), that every detector, the graph and the outputs ask "what kind
//! of place is this path?". A user's `--iocs` file that adds `temp_dir /scratch/` changes every reader at
//! once.
//!
//! Prefixes match case-insensitively (ASCII), as the runtime detectors always did; a `*` in one stands
//! for any characters inside a path component. `hidden` is structural (a component starting with `.`),
//! not a list. `kit_prone` is where droppers put their kits and programs have no business running: a
//! temp directory or a hidden path.

use std::collections::{BTreeMap, BTreeSet};

use super::Kind;

/// A class of place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathClass {
    /// World-writable scratch directories (`/tmp/`, `/var/tmp/`, `/dev/shm/`, ...).
    Temp,
    /// RAM-backed shared memory (`/dev/shm/`, ...); also temp.
    Shm,
    /// Package-managed program directories (`/usr/`, `/bin/`, `/opt/`, ...).
    System,
    /// Configuration, log and spool directories (`/etc/`, `/var/log/`, ...).
    Nonexec,
    /// Home directories (`/home/`, `/root/`, `~/`).
    Home,
    /// Web server document roots and servlet containers' applications (`/var/www/`,
    /// `/var/lib/tomcat*/webapps/`, ...): the collector's `WEB_ROOTS` and the `web_root` indicators.
    WebRoot,
    /// Kernel pseudo filesystems (`/proc/`, `/sys/`, `/dev/`).
    Pseudo,
    /// Log, journal and audit directories (`/var/log/`, ...): what the remediation never changes.
    Evidence,
    /// Where package managers install files (`/usr/bin/`, `/lib/`, ...): the remediation reinstalls a
    /// flagged file there, never deletes it.
    Package,
    /// A path with a component starting with `.` (`/tmp/.X25-unix/x`, `~/.configrc/a/upd`).
    Hidden,
    /// Temp or hidden: where kits are dropped.
    KitProne,
}

impl PathClass {
    pub fn name(self) -> &'static str {
        match self {
            PathClass::Temp => "temp",
            PathClass::Shm => "shm",
            PathClass::System => "system",
            PathClass::Nonexec => "nonexec",
            PathClass::Home => "home",
            PathClass::WebRoot => "web_root",
            PathClass::Pseudo => "pseudo",
            PathClass::Evidence => "evidence",
            PathClass::Package => "package",
            PathClass::Hidden => "hidden",
            PathClass::KitProne => "kit_prone",
        }
    }
}

/// The directory prefixes of each listed class (lowercase).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathClasses {
    prefixes: BTreeMap<PathClass, Vec<String>>,
    /// `home_program_dir` values (`.local/bin/`): conventional program places inside a home.
    home_programs: Vec<String>,
    /// `shared_dir` values (`.config/`): hidden directories many programs share.
    shared: Vec<String>,
}

/// How many bytes of `path` the directory prefix `prefix` covers, ASCII case-insensitively; a `*` in
/// the prefix stands for any characters inside one path component (`/var/lib/tomcat*/webapps/`).
fn prefix_len(prefix: &str, path: &[u8]) -> Option<usize> {
    let p = prefix.as_bytes();
    if !p.contains(&b'*') {
        return path
            .get(..p.len())
            .filter(|head| head.eq_ignore_ascii_case(p))
            .map(|_| p.len());
    }
    let (mut pi, mut si) = (0, 0);
    while let Some(&c) = p.get(pi) {
        if c == b'*' {
            // The rest of the pattern after `*` up to its component's end must follow some run of
            // this component's bytes: try each run, shortest first.
            let rest = p.get(pi + 1..).unwrap_or_default();
            let end = path
                .get(si..)?
                .iter()
                .position(|b| *b == b'/')
                .map_or(path.len(), |i| si + i);
            return (si..=end).find_map(|k| {
                let tail = path.get(k..)?;
                let rest_str = std::str::from_utf8(rest).ok()?;
                prefix_len(rest_str, tail).map(|n| k + n)
            });
        }
        if !path.get(si).is_some_and(|b| b.eq_ignore_ascii_case(&c)) {
            return None;
        }
        pi += 1;
        si += 1;
    }
    Some(si)
}

/// Whether any directory or the file itself has a name starting with a dot (`/tmp/.X25-unix/.rsync`).
pub fn has_hidden_component(path: &[u8]) -> bool {
    path.split(|b| *b == b'/')
        .any(|c| c.first() == Some(&b'.') && c != b"." && c != b"..")
}

impl PathClasses {
    /// The table for a set of indicators (see [`super::Indicators::paths`]).
    pub(super) fn of_sets(sets: &BTreeMap<Kind, BTreeSet<String>>) -> PathClasses {
        let listed = [
            (PathClass::Temp, Kind::TempDir),
            (PathClass::Shm, Kind::ShmDir),
            (PathClass::System, Kind::SystemDir),
            (PathClass::Nonexec, Kind::NonexecDir),
            (PathClass::Home, Kind::HomeDir),
            (PathClass::WebRoot, Kind::WebRoot),
            (PathClass::Pseudo, Kind::PseudoDir),
            (PathClass::Evidence, Kind::EvidenceDir),
            (PathClass::Package, Kind::PackageDir),
        ];
        let mut prefixes = BTreeMap::new();
        for (class, kind) in listed {
            let mut v: Vec<String> = sets.get(&kind).into_iter().flatten().cloned().collect();
            if class == PathClass::Home {
                v.push("~/".into());
            }
            if class == PathClass::WebRoot {
                // The collector's walk list, so every script it collects from a web root is judged.
                v.extend(
                    minetrace_schemas::locations::WEB_ROOTS
                        .iter()
                        .map(|r| format!("{}/", String::from_utf8_lossy(r).to_ascii_lowercase())),
                );
            }
            prefixes.insert(class, v);
        }
        let relative = |kind: Kind| -> Vec<String> {
            sets.get(&kind)
                .into_iter()
                .flatten()
                .map(|v| v.trim_start_matches('/').to_owned())
                .filter(|v| !v.is_empty())
                .collect()
        };
        PathClasses {
            prefixes,
            home_programs: relative(Kind::HomeProgramDir),
            shared: relative(Kind::SharedDir),
        }
    }

    /// The part of `path` inside a home (after `/root/` or `~/`, or after `/home/NAME/`), if it is in
    /// one.
    fn inside_home<'p>(&self, path: &'p [u8]) -> Option<&'p [u8]> {
        self.prefixes(PathClass::Home).iter().find_map(|home| {
            let rest = path
                .get(..home.len())
                .filter(|h| h.eq_ignore_ascii_case(home.as_bytes()))
                .and_then(|_| path.get(home.len()..))?;
            if home == "/home/" {
                let slash = rest.iter().position(|b| *b == b'/')?;
                let user = rest.get(..slash)?;
                if user.first() == Some(&b'.') {
                    return None;
                }
                rest.get(slash + 1..)
            } else {
                Some(rest)
            }
        })
    }

    /// The part of `path` inside the longest listed place that holds it (a temp directory, a home, a
    /// system directory, ...), else the whole path without its leading `/`.
    fn inside_place<'p>(&self, path: &'p [u8]) -> &'p [u8] {
        let listed = self
            .prefixes
            .iter()
            .filter(|(class, _)| **class != PathClass::Home)
            .flat_map(|(_, list)| list)
            .filter_map(|p| path.get(prefix_len(p, path)?..));
        self.inside_home(path)
            .into_iter()
            .chain(listed)
            .min_by_key(|rest| rest.len())
            .unwrap_or_else(|| path.strip_prefix(b"/").unwrap_or(path))
    }

    /// The directories of `path` an intrusion may have made for its kit, outermost first: directories
    /// in a kit-prone place (below a temp directory, or hidden) other than a listed place itself (`/tmp`,
    /// a home), a directory many programs share (`shared_dir`: `~/.config`, `/tmp/.X11-unix`) or a
    /// home's conventional program directory, and their parents. Two artifacts below one are one kit
    /// (`/home/git/.configrc/a/run` and `/home/git/.configrc/b/a` share `/home/git/.configrc`).
    pub fn kit_dirs<'p>(&self, path: &'p [u8]) -> Vec<&'p [u8]> {
        let mut out = Vec::new();
        for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            let (Some(dir), Some(with_slash)) = (path.get(..i), path.get(..=i)) else {
                continue;
            };
            if dir.is_empty() || !self.is(PathClass::KitProne, with_slash) {
                continue;
            }
            let rel = self.inside_place(with_slash);
            let shared = rel.is_empty()
                || self.shared.iter().chain(&self.home_programs).any(|s| {
                    s.as_bytes()
                        .get(..rel.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(rel))
                });
            if !shared {
                out.push(dir);
            }
        }
        out
    }

    /// Whether `path` has a hidden component other than the dot of a home's conventional program
    /// directory (`/home/u/.local/bin/x` is not hidden; `/home/u/.local/bin/.x` and `/home/u/.x/y` are).
    fn hidden(&self, path: &[u8]) -> bool {
        if !has_hidden_component(path) {
            return false;
        }
        let Some(inside) = self.inside_home(path) else {
            return true;
        };
        let head_len = path.len() - inside.len();
        let head = path.get(..head_len).unwrap_or_default();
        match self
            .home_programs
            .iter()
            .find(|d| inside.starts_with(d.as_bytes()))
        {
            Some(d) => {
                has_hidden_component(head)
                    || has_hidden_component(inside.get(d.len()..).unwrap_or_default())
            }
            None => true,
        }
    }

    fn under(&self, class: PathClass, path: &[u8]) -> bool {
        self.matched_prefix(class, path).is_some()
    }

    /// How much of `path` the first listed prefix of `class` that holds it covers (`/var/www/` of
    /// `/var/www/shop/x.php`), if one does.
    pub fn matched_prefix(&self, class: PathClass, path: &[u8]) -> Option<usize> {
        self.prefixes
            .get(&class)?
            .iter()
            .find_map(|p| prefix_len(p, path))
    }

    /// Whether `path` is in `class`.
    pub fn is(&self, class: PathClass, path: &[u8]) -> bool {
        match class {
            PathClass::Hidden => self.hidden(path),
            PathClass::KitProne => self.under(PathClass::Temp, path) || self.hidden(path),
            PathClass::Shm => self.under(PathClass::Shm, path),
            listed => self.under(listed, path),
        }
    }

    /// Every class `path` is in, in [`PathClass`] order.
    pub fn classes(&self, path: &[u8]) -> Vec<PathClass> {
        [
            PathClass::Temp,
            PathClass::Shm,
            PathClass::System,
            PathClass::Nonexec,
            PathClass::Home,
            PathClass::WebRoot,
            PathClass::Pseudo,
            PathClass::Evidence,
            PathClass::Package,
            PathClass::Hidden,
            PathClass::KitProne,
        ]
        .into_iter()
        .filter(|c| self.is(*c, path))
        .collect()
    }

    /// The prefixes of a listed class, lowercase (empty for the structural classes).
    pub fn prefixes(&self, class: PathClass) -> &[String] {
        self.prefixes.get(&class).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;

    #[test]
    fn builtin_classes() {
        let ind = Indicators::builtin();
        let c = ind.paths();
        assert!(c.is(PathClass::Temp, b"/tmp/x"));
        assert!(c.is(PathClass::Temp, b"/DEV/SHM/x"));
        assert!(c.is(PathClass::Shm, b"/dev/shm/x"));
        assert!(!c.is(PathClass::Temp, b"/tmpx/y"));
        assert!(c.is(PathClass::System, b"/usr/bin/ls"));
        assert!(c.is(PathClass::Nonexec, b"/etc/kinsing"));
        assert!(c.is(PathClass::Home, b"/home/u/x"));
        assert!(c.is(PathClass::Home, b"~/x"));
        assert!(c.is(PathClass::Home, b"/root/.x"));
        assert!(c.is(PathClass::WebRoot, b"/var/www/html/x.php"));
        // The collector's web roots, globs included (schemas/src/locations.rs WEB_ROOTS).
        for root in [
            "/usr/local/tomcat/webapps/ROOT/cmd.jsp",
            "/var/lib/tomcat10/webapps/x/a.jsp",
            "/var/lib/tomcat/webapps/x/a.jsp",
            "/opt/tomcat9/webapps/m/c.jsp",
            "/usr/local/apache2/htdocs/s.php",
            "/var/lib/jetty9/webapps/w/a.jsp",
        ] {
            assert!(c.is(PathClass::WebRoot, root.as_bytes()), "{root}");
        }
        assert!(!c.is(PathClass::WebRoot, b"/var/lib/tomcat9/conf/server.xml"));
        assert!(!c.is(PathClass::WebRoot, b"/var/lib/tomcat9/x/webapps/a.jsp"));
        assert_eq!(
            c.matched_prefix(PathClass::WebRoot, b"/var/lib/tomcat10/webapps/x/a.jsp"),
            Some("/var/lib/tomcat10/webapps/".len())
        );
        assert!(c.is(PathClass::Hidden, b"/usr/bin/.update"));
        assert!(!c.is(PathClass::Hidden, b"/usr/bin/../x"));
        assert!(c.is(PathClass::KitProne, b"/var/tmp/k"));
        assert!(c.is(PathClass::KitProne, b"/opt/.x/k"));
        assert!(!c.is(PathClass::KitProne, b"/opt/app/k"));
        // Package directories are narrower than system ones: no package manager owns /usr/local/.
        assert!(c.is(PathClass::Package, b"/usr/sbin/sshd"));
        assert!(c.is(PathClass::Package, b"/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(c.is(PathClass::System, b"/usr/local/lib/libprocesshider.so"));
        assert!(!c.is(PathClass::Package, b"/usr/local/lib/libprocesshider.so"));
        assert!(!c.is(PathClass::Package, b"/opt/jre/bin/java"));
        assert_eq!(
            c.classes(b"/tmp/.x"),
            vec![PathClass::Temp, PathClass::Hidden, PathClass::KitProne]
        );
    }

    #[test]
    fn a_homes_program_directories_are_not_hiding_places() {
        let ind = Indicators::builtin();
        let c = ind.paths();
        assert!(!c.is(PathClass::Hidden, b"/home/alice/.local/bin/syncthing"));
        assert!(!c.is(PathClass::KitProne, b"/home/alice/.local/bin/syncthing"));
        assert!(!c.is(PathClass::Hidden, b"/root/.cargo/bin/cargo"));
        assert!(!c.is(PathClass::Hidden, b"~/.local/bin/code-server"));
        assert!(c.is(PathClass::Hidden, b"/home/alice/.local/bin/.x"));
        assert!(c.is(PathClass::Hidden, b"/home/alice/.local/share/.x/kswapd0"));
        assert!(c.is(PathClass::Hidden, b"/home/alice/.configrc/a/upd"));
        assert!(c.is(PathClass::Hidden, b"/home/.alice/.local/bin/x"));
        assert!(
            c.is(PathClass::Hidden, b"/tmp/.local/bin/x"),
            "only inside a home"
        );
        assert!(c.is(PathClass::Hidden, b"/opt/.local/bin/x"));
    }

    #[test]
    fn kit_directories_are_the_intruders_own_not_shared_places() {
        let ind = Indicators::builtin();
        let c = ind.paths();
        let dirs = |p: &str| -> Vec<String> {
            c.kit_dirs(p.as_bytes())
                .into_iter()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect()
        };
        assert_eq!(
            dirs("/home/git/.configrc/a/run"),
            ["/home/git/.configrc", "/home/git/.configrc/a"]
        );
        assert_eq!(
            dirs("/tmp/.X25-unix/.rsync/c/tsm"),
            [
                "/tmp/.X25-unix",
                "/tmp/.X25-unix/.rsync",
                "/tmp/.X25-unix/.rsync/c"
            ]
        );
        assert_eq!(dirs("/var/tmp/kit/x"), ["/var/tmp/kit"]);
        // A file right in a temp directory or a home has no kit directory; neither do shared ones.
        assert!(dirs("/tmp/kdevtmpfsi").is_empty());
        assert!(dirs("/root/x").is_empty());
        assert!(dirs("/tmp/.X11-unix/X0").is_empty());
        assert!(dirs("/root/.ssh/authorized_keys").is_empty());
        assert!(dirs("/home/alice/.local/bin/x").is_empty());
        assert_eq!(dirs("/root/.config/cron/perfcc"), ["/root/.config/cron"]);
        // Not kit-prone: packaged places.
        assert!(dirs("/usr/bin/sysdr").is_empty());
        assert!(dirs("/opt/app/bin/x").is_empty());
        assert_eq!(dirs("/usr/lib/.x/y"), ["/usr/lib/.x"]);
    }
}
