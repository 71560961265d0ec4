//! The mount table of the collected root: which paths lie on which filesystem, and which directories
//! show another directory's content (bind mounts). A file under `/tmp/.x` may be `/usr/sbin/sshd` when
//! `/usr/sbin` is bind-mounted there; only the mount table tells.
//!
//! Live, it is the collector's own `/proc/self/mountinfo` (the namespace whose paths every other record
//! uses). Dead-box, it is the part of that table at or under the image root, with mount points rebased to
//! image paths (the image's own mounts, e.g. a separate `/boot` or `/var` the analyst mounted in place).

use serde::{Deserialize, Serialize};

use crate::RawBytes;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountRecord {
    /// mountinfo's mount id and its parent's (`parent_id == mount_id` for the table's root).
    pub mount_id: u32,
    pub parent_id: u32,
    /// The filesystem's device as `st_dev` encodes it (the `dev` of [`super::file::FileRecord`]).
    pub dev: u64,
    /// The directory of the filesystem shown at the mount point: `/` for a whole filesystem,
    /// `/usr/sbin` for a bind mount of that directory, `/@home` for a btrfs subvolume.
    pub root: RawBytes,
    /// Where it is mounted, as a path of the collected root.
    pub mount_point: RawBytes,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub mount_options: String,
    /// Propagation fields (`shared:1 master:2`), space separated; empty when private.
    pub propagation: String,
    pub fs_type: String,
    /// Mount source (`/dev/vda1`, `tmpfs`, `overlay`).
    pub source: RawBytes,
    /// Per-superblock options.
    pub super_options: String,
    /// For a bind mount: the path where the directory it shows is reachable in the same table (another
    /// mount of the same device whose `root` contains this one's), e.g. `/usr/sbin` for
    /// `mount --bind /usr/sbin /tmp/.x`. `None` for whole filesystems, and for binds whose source is not
    /// mounted elsewhere in the table (btrfs subvolumes, a directory of an unmounted filesystem).
    pub bind_of: Option<RawBytes>,
    /// Artifact families whose directory walks entered this mount (e.g. `temp`), so the analyst knows which
    /// listed paths lie on it.
    pub walked_by: Vec<String>,
}
