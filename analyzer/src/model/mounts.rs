//! The collected root's mount table (`records/mounts.pc`), read once: which mount holds a path, and
//! whether that mount shows a directory reachable elsewhere (a bind mount). A file under `/tmp/.x` is
//! `/usr/sbin/sshd` when `/usr/sbin` is bind-mounted there; the remediation planner must never act on
//! it through that name (issue 18 case 1).

use minetrace_schemas::records::mount::MountRecord;

use super::HostModel;

/// `rest` of `path` below `prefix`, component-wise (`Some(b"")` for `path == prefix`).
fn below<'a>(path: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// A path seen through a bind mount: the mount point, what it shows and the path's real name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindView {
    pub mount_point: Vec<u8>,
    /// The directory of its filesystem the mount shows (`/usr/sbin`).
    pub root: Vec<u8>,
    /// The path under the mount's source, where the table shows it (`/usr/sbin/sshd`).
    pub real: Option<Vec<u8>>,
}

impl HostModel {
    /// The mount that holds `path` (the longest mount point above it), when the table was collected.
    pub fn mount_of(&self, path: &[u8]) -> Option<&MountRecord> {
        self.mounts
            .iter()
            .filter(|m| below(path, m.mount_point.as_bytes()).is_some())
            .max_by_key(|m| m.mount_point.as_bytes().len())
    }

    /// When `path` lies under a bind mount (a mount that shows a directory reachable elsewhere, or a
    /// directory of a filesystem rather than its root, as `mount --bind` of an unmounted disk's
    /// directory makes): where it is mounted, what it shows and the path's real name when known.
    /// Btrfs subvolumes (`/@home` at `/home`) show no directory reachable elsewhere and are not binds.
    pub fn bind_view(&self, path: &[u8]) -> Option<BindView> {
        let m = self.mount_of(path)?;
        let rest = below(path, m.mount_point.as_bytes())?;
        let root = m.root.as_bytes();
        let real = m.bind_of.as_ref().map(|src| {
            let mut p = src
                .as_bytes()
                .strip_suffix(b"/")
                .unwrap_or(src.as_bytes())
                .to_vec();
            p.extend_from_slice(rest);
            p
        });
        let subvolume = m.fs_type == "btrfs" && root.get(1) == Some(&b'@');
        if real.is_none() && (root == b"/" || subvolume) {
            return None;
        }
        Some(BindView {
            mount_point: m.mount_point.0.clone(),
            root: root.to_vec(),
            real,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::below;

    #[test]
    fn below_is_component_wise() {
        assert_eq!(below(b"/tmp/.x/sshd", b"/tmp/.x"), Some(&b"/sshd"[..]));
        assert_eq!(below(b"/tmp/.x", b"/tmp/.x"), Some(&b""[..]));
        assert_eq!(below(b"/tmp/.xy/sshd", b"/tmp/.x"), None);
        assert_eq!(below(b"/tmp/a", b"/"), Some(&b"/tmp/a"[..]));
    }
}
