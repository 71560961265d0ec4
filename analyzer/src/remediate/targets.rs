//! What a subject is on the host, in the snapshot's terms: the identity a target is checked against
//! (`file_target`, `link_target`), and the kinds of places that decide an action's shape (a unit, a shared
//! file edited line by line, a system directory where files are reinstalled, a Redis dump).

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::Finding;
use minetrace_schemas::records::file::{FileKind, FileRecord};

use super::plan::{FileTarget, LinkTarget};
use crate::model::HostModel;

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

/// Whether a path is in a systemd unit directory: a flagged line there makes the whole unit the
/// attacker's (a unit without its `ExecStart=` is no one's).
pub(super) fn in_unit_dir(path: &[u8]) -> bool {
    const DIRS: &[&[u8]] = &[
        b"/systemd/system/",
        b"/systemd/user/",
        b"/.config/systemd/user/",
    ];
    DIRS.iter().any(|d| path.windows(d.len()).any(|w| w == *d))
}

/// Systemd unit files and drop-ins: removed whole, with the unit stopped and disabled. `None` for a
/// name systemctl could not be given safely (then the file is only quarantined).
pub(super) fn unit_name(path: &[u8]) -> Option<String> {
    if !in_unit_dir(path) {
        return None;
    }
    let name = path.rsplit(|b| *b == b'/').next()?;
    const SUFFIXES: &[&str] = &[
        ".service", ".timer", ".socket", ".path", ".mount", ".target",
    ];
    let name = std::str::from_utf8(name).ok()?;
    let ok = !name.starts_with('-')
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(&b))
        && SUFFIXES.iter().any(|s| name.ends_with(s));
    ok.then(|| name.to_owned())
}

/// Files that hold other people's lines: only flagged lines are ever removed from them.
pub(super) fn is_shared_file(path: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"/etc/crontab",
        b"/etc/anacrontab",
        b"/etc/ld.so.preload",
        b"/etc/ld.so.conf",
        b"/etc/rc.local",
        b"/etc/rc.d/rc.local",
        b"/etc/inittab",
        b"/etc/passwd",
        b"/etc/shadow",
        b"/etc/group",
        b"/etc/gshadow",
        b"/etc/sudoers",
        b"/etc/hosts",
        b"/etc/resolv.conf",
        b"/etc/fstab",
        b"/etc/ssh/sshd_config",
    ];
    const NAMES: &[&[u8]] = &[b"authorized_keys", b"authorized_keys2", b"known_hosts"];
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or_default();
    EXACT.contains(&path)
        || NAMES.contains(&name)
        || is_shared_shell_startup(path)
        || path.starts_with(b"/var/spool/cron/")
        || path.starts_with(b"/etc/passwd")
        || path.starts_with(b"/etc/shadow")
}

/// A shell start-up file the system or a user keeps (the collector's and the model's one list,
/// `minetrace_schemas::locations`); a file of its own in `/etc/profile.d/` is not shared.
fn is_shared_shell_startup(path: &[u8]) -> bool {
    use minetrace_schemas::locations::{HOME_SHELL_STARTUP, SYSTEM_SHELL_STARTUP};
    SYSTEM_SHELL_STARTUP.contains(&path)
        || HOME_SHELL_STARTUP.iter().any(|rel| {
            path.strip_suffix(*rel)
                .is_some_and(|head| head.ends_with(b"/"))
        })
}

/// Where package-owned system files live: a flagged file here is reinstalled, never deleted.
pub(super) fn in_system_dir(path: &[u8]) -> bool {
    const DIRS: &[&[u8]] = &[
        b"/bin/",
        b"/sbin/",
        b"/usr/bin/",
        b"/usr/sbin/",
        b"/lib/",
        b"/lib64/",
        b"/lib32/",
        b"/usr/lib/",
        b"/usr/lib64/",
        b"/usr/lib32/",
        b"/usr/libexec/",
        b"/usr/share/",
    ];
    DIRS.iter().any(|d| path.starts_with(d))
}

/// Why a file, link or line must never be acted on by the name `path` (issue 18 case 1), when so: it lies
/// under a bind mount (removing `/tmp/.x/sshd` would remove `/usr/sbin/sshd`), or its device and inode
/// are those of a file the snapshot also recorded in a system directory or under a package.
pub(super) fn not_by_this_name(
    model: &HostModel,
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
    let (dev, ino) = id.filter(|_| !in_system_dir(path))?;
    let twin = model.files.iter().find(|f| {
        f.dev == dev
            && f.ino == ino
            && f.path.as_bytes() != path
            && (in_system_dir(f.path.as_bytes())
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
pub(super) fn link_target(f: &FileRecord) -> Result<LinkTarget, &'static str> {
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
    if depth < 2 || in_system_dir(path) || path.starts_with(b"/usr/") {
        return Err("a symbolic link in a system directory is never removed");
    }
    if is_shared_file(path) {
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
        assert!(is_shared_file(b"/etc/crontab"));
        assert!(is_shared_file(b"/home/a/.ssh/authorized_keys"));
        assert!(is_shared_file(b"/var/spool/cron/crontabs/root"));
        assert!(!is_shared_file(b"/etc/cron.d/evil"));
        // Shell start-up files follow the one list the collector captures by.
        assert!(is_shared_file(b"/etc/zshrc"));
        assert!(is_shared_file(b"/home/a/.zshenv"));
        assert!(is_shared_file(b"/root/.config/fish/config.fish"));
        assert!(!is_shared_file(b"/etc/profile.d/evil.sh"));
        assert!(in_system_dir(b"/usr/bin/ps"));
        assert!(!in_system_dir(b"/tmp/.x/ps"));
    }
}
