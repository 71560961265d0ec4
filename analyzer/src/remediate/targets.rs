//! What a subject is on the host, in the snapshot's terms: the identity a target is checked against
//! (`file_target`, `link_target`), and the kinds of places that decide an action's shape (a unit, a shared
//! file edited line by line, a system directory where files are reinstalled, a Redis dump).

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::Finding;
use minetrace_schemas::records::file::{FileKind, FileRecord};

use super::plan::{FileTarget, LinkTarget};
use crate::indicators::paths::{PathClass, PathClasses};
use crate::indicators::{Indicators, Kind};
use crate::model::persistence::location;
use crate::model::HostModel;
use crate::parse::{basename, contains, systemd_unit};

pub(super) fn why_of(f: &Finding) -> String {
    format!(
        "{} {}: {}",
        escape_bytes(f.rule.as_bytes()),
        f.severity.name(),
        escape_bytes(f.title.as_bytes())
    )
}

pub(super) fn add_why(list: &mut Vec<String>, why: &str) {
    if !list.iter().any(|w| w == why) {
        list.push(why.to_owned());
    }
}

/// Whether a path lies in a systemd unit directory (the parser's table, wherever the directory sits: a
/// sandbox or image root may stand in front): a flagged line there makes the whole unit the attacker's
/// (a unit without its `ExecStart=` is no one's).
pub(super) fn in_unit_dir(path: &[u8]) -> bool {
    systemd_unit::UNIT_DIRS
        .iter()
        .chain(systemd_unit::HOME_UNIT_DIRS)
        .any(|d| contains(path, d))
}

/// Systemd unit files (not drop-ins): removed whole, with the unit stopped and disabled. `None` for a
/// drop-in or a name systemctl could not be given safely (then the file is only quarantined).
pub(super) fn unit_name(path: &[u8]) -> Option<String> {
    let name = basename(path);
    if !in_unit_dir(path) || !systemd_unit::is_unit_file_name(name) || name.ends_with(b".conf") {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    let ok = !name.starts_with('-')
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(&b));
    ok.then(|| name.to_owned())
}

/// The planner's view of what kind of place a path is: the one table of path classes and the
/// indicators' shared files, built once per plan.
pub struct Places {
    paths: PathClasses,
    shared_files: Vec<String>,
}

impl Places {
    pub fn new(iocs: &Indicators) -> Places {
        Places {
            paths: iocs.paths().clone(),
            shared_files: iocs.set(Kind::SharedFile).map(str::to_owned).collect(),
        }
    }

    /// Files that hold other people's lines: only flagged lines are ever removed from them. A shared
    /// persistence location (`/etc/crontab`, a spool, `~/.bashrc`: [`crate::model::persistence::Location::shared`]) or a
    /// `shared_file` indicator (an absolute path, or a file name wherever it is: `authorized_keys`), or a
    /// PAM service file (edited line by line, never removed: [`super::pam_stacks`]).
    pub fn is_shared_file(&self, path: &[u8]) -> bool {
        location(path).is_some_and(|l| l.shared)
            || super::pam_stacks::is_stack(path)
            || self.shared_files.iter().any(|v| {
                let v = v.as_bytes();
                if v.starts_with(b"/") {
                    path == v
                } else {
                    basename(path) == v
                }
            })
    }

    /// The package directories' prefixes (path class `package`, lowercase).
    pub fn package_dirs(&self) -> Vec<String> {
        self.paths.prefixes(PathClass::Package).to_vec()
    }

    /// The path classes (what a kit directory is: [`PathClasses::kit_dirs`]).
    pub fn paths(&self) -> &PathClasses {
        &self.paths
    }

    /// Where package-owned files live (path class `package`): a flagged file here is reinstalled, never
    /// deleted.
    pub fn in_package_dir(&self, path: &[u8]) -> bool {
        self.paths.is(PathClass::Package, path)
    }
}

/// Why a file, link or line must never be acted on by the name `path` (issue 18 case 1), when so: it lies
/// under a bind mount (removing `/tmp/.x/sshd` would remove `/usr/sbin/sshd`), or its device and inode
/// are those of a file the snapshot also recorded in a system directory or under a package.
pub(super) fn not_by_this_name(
    model: &HostModel,
    places: &Places,
    path: &[u8],
    id: Option<(u64, u64)>,
) -> Option<String> {
    if let Some(v) = model.bind_view(path) {
        let shows = match &v.real {
            Some(real) => format!("it is {}", escape_bytes(real)),
            None => format!("it shows {} of another filesystem", escape_bytes(&v.root)),
        };
        return Some(format!(
            "under the bind mount at {} ({shows}): never acted on through a mount",
            escape_bytes(&v.mount_point)
        ));
    }
    // A system directory's own file is reinstalled, never removed; its merged-/usr twin is itself.
    let (dev, ino) = id.filter(|_| !places.in_package_dir(path))?;
    let twin = model.files_with_id(dev, ino).find(|f| {
        f.path.as_bytes() != path
            && (places.in_package_dir(f.path.as_bytes())
                || model.package_check(f.path.as_bytes()).is_some())
    })?;
    Some(format!(
        "the same file (device {dev}, inode {ino}) as {}: a system file under another name, never removed",
        twin.path.escaped()
    ))
}

pub(super) fn file_target(f: &FileRecord) -> Result<FileTarget, &'static str> {
    if f.kind != FileKind::Regular {
        return Err("not a regular file in the snapshot");
    }
    let sha256 = f.sha256.clone().ok_or("the snapshot has no hash for it")?;
    if !f.path.as_bytes().starts_with(b"/") || f.path.as_bytes().contains(&0) {
        return Err("not an absolute path");
    }
    Ok(FileTarget {
        path: f.path.clone(),
        dev: f.dev,
        ino: f.ino,
        sha256,
        size: f.size,
    })
}

/// A symbolic link the attacker planted, when it is safe to remove: an absolute path at least two levels
/// deep, outside the system directories (where links belong to packages and merged `/usr`), never a
/// shared file's name, with a target the snapshot read.
pub(super) fn link_target(places: &Places, f: &FileRecord) -> Result<LinkTarget, &'static str> {
    let path = f.path.as_bytes();
    let target = f
        .link_target
        .as_ref()
        .filter(|t| !t.as_bytes().is_empty() && !t.as_bytes().contains(&0))
        .ok_or("a symbolic link whose target the snapshot did not read")?;
    if !path.starts_with(b"/") || path.contains(&0) {
        return Err("not an absolute path");
    }
    let depth = path.split(|b| *b == b'/').filter(|c| !c.is_empty()).count();
    if depth < 2 || places.in_package_dir(path) || path.starts_with(b"/usr/") {
        return Err("a symbolic link in a system directory is never removed");
    }
    if places.is_shared_file(path) {
        return Err("a symbolic link named like a shared file: review it by hand");
    }
    Ok(LinkTarget {
        path: f.path.clone(),
        dev: f.dev,
        ino: f.ino,
        target: target.clone(),
    })
}

/// A file Redis wrote (`CONFIG SET dir` + `dbfilename` + `SAVE`): it starts with an RDB header, so every
/// byte of it is the dump's and none is its owner's; it is quarantined whole even where the name is that
/// of a shared file (a crontab, `authorized_keys`).
pub(super) fn is_redis_dump(model: &HostModel, f: &FileRecord) -> bool {
    model
        .content(f)
        .is_some_and(crate::parse::cron::is_redis_rdb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_and_shared_files() {
        let places = Places::new(&Indicators::builtin());
        let is_shared_file = |p: &[u8]| places.is_shared_file(p);
        assert_eq!(
            unit_name(b"/etc/systemd/system/x.service").as_deref(),
            Some("x.service")
        );
        assert_eq!(
            unit_name(b"/root/.config/systemd/user/a@b.timer").as_deref(),
            Some("a@b.timer")
        );
        assert_eq!(unit_name(b"/etc/systemd/system/$(x).service"), None);
        assert_eq!(unit_name(b"/tmp/x.service"), None);
        assert_eq!(
            unit_name(b"/etc/systemd/system/x.service.d/override.conf"),
            None
        );
        assert!(in_unit_dir(
            b"/etc/systemd/system/x.service.d/override.conf"
        ));
        assert!(is_shared_file(b"/etc/crontab"));
        assert!(is_shared_file(b"/etc/anacrontab"));
        assert!(is_shared_file(b"/etc/sudoers"));
        assert!(!is_shared_file(b"/etc/sudoers.d/90-evil"));
        assert!(is_shared_file(b"/etc/rc.local"));
        assert!(!is_shared_file(b"/etc/init.d/evil"));
        assert!(is_shared_file(b"/etc/ld.so.preload"));
        assert!(is_shared_file(b"/etc/passwd"));
        assert!(is_shared_file(b"/etc/ssh/sshd_config"));
        assert!(is_shared_file(b"/home/a/.ssh/authorized_keys"));
        assert!(is_shared_file(b"/var/spool/cron/crontabs/root"));
        assert!(is_shared_file(b"/var/spool/cron/root"));
        assert!(!is_shared_file(b"/etc/cron.d/evil"));
        // Shell start-up files follow the one list the collector captures by.
        assert!(is_shared_file(b"/etc/zshrc"));
        assert!(is_shared_file(b"/etc/pam.d/sshd"));
        assert!(is_shared_file(b"/home/a/.zshenv"));
        assert!(is_shared_file(b"/root/.config/fish/config.fish"));
        assert!(!is_shared_file(b"/etc/profile.d/evil.sh"));
        assert!(places.in_package_dir(b"/usr/bin/ps"));
        assert!(!places.in_package_dir(b"/tmp/.x/ps"));
        assert!(!places.in_package_dir(b"/usr/local/bin/kit"));
    }
}
