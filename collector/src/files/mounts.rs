//! Mount points (category-less: `records/mounts.pc`): the collected root's mount table, read once before
//! any walk, so the walks know where a directory shows another directory's content and the analyst knows
//! which recorded paths lie under which mount (see [`MountRecord`]).
//!
//! Live: `/proc/self/mountinfo`. Dead-box: the entries of the same table at or under the image root,
//! rebased to image paths. Walks that enter a mount name themselves in its `walked_by`; under a bind mount
//! of another directory nothing is copied (the bytes live elsewhere; they are hashed like any listed file),
//! so `mount --bind /usr/sbin /tmp/.x` shows up as `/tmp/.x` over `/usr/sbin`, never as a kit to copy.

use std::collections::HashMap;

use minetrace_schemas::records::mount::MountRecord;
use minetrace_schemas::RawBytes;

use super::host_root::HostRoot;
use crate::host_read;

/// Bytes of mountinfo read at most (a host with 10,000 mounts has ~1.5 MB).
const MOUNTINFO_CAP: u64 = 16 << 20;
/// Mounts kept at most.
pub const MAX_MOUNTS: usize = 50_000;

/// The mount table, with an index by mount point.
#[derive(Debug, Default)]
pub struct MountTable {
    pub mounts: Vec<MountRecord>,
    /// Mount point → index of the last (topmost) mount there.
    by_point: HashMap<Vec<u8>, usize>,
}

impl MountTable {
    pub fn new(mounts: Vec<MountRecord>) -> Self {
        let by_point = mounts
            .iter()
            .enumerate()
            .map(|(i, m)| (m.mount_point.0.clone(), i))
            .collect();
        MountTable { mounts, by_point }
    }

    /// The topmost mount whose mount point is exactly `path`.
    pub fn at(&self, path: &[u8]) -> Option<usize> {
        self.by_point.get(path).copied()
    }

    pub fn get(&self, index: usize) -> Option<&MountRecord> {
        self.mounts.get(index)
    }

    /// Notes that the walk of `family` entered the mount at `index`.
    pub fn note_walked(&mut self, index: usize, family: &str) {
        if let Some(m) = self.mounts.get_mut(index) {
            if !m.walked_by.iter().any(|f| f == family) {
                m.walked_by.push(family.to_owned());
            }
        }
    }

    /// True when `path` is at or under a bind mount of another directory.
    pub fn under_bind(&self, path: &[u8]) -> bool {
        let mut p = path;
        loop {
            if self.at(p).is_some_and(|i| self.is_bind(i)) {
                return true;
            }
            match p.iter().rposition(|b| *b == b'/') {
                Some(0) | None => return false,
                Some(i) => p = p.get(..i).unwrap_or_default(),
            }
        }
    }

    /// True when the mount at `index` shows a directory reachable elsewhere (a bind mount).
    pub fn is_bind(&self, index: usize) -> bool {
        self.mounts.get(index).is_some_and(|m| m.bind_of.is_some())
    }
}

/// Reads the table for `root`. Problems go to `errors` as (target, message).
pub fn read(root: &HostRoot, errors: &mut Vec<(String, String)>) -> MountTable {
    let bytes =
        match host_read::read_proc(std::path::Path::new("/proc/self/mountinfo"), MOUNTINFO_CAP) {
            Ok(b) => b,
            Err(e) => {
                errors.push(("/proc/self/mountinfo".into(), e.to_string()));
                return MountTable::default();
            }
        };
    let mut mounts = parse(&bytes);
    if mounts.len() > MAX_MOUNTS {
        errors.push((
            "/proc/self/mountinfo".into(),
            format!("{} mounts; only the first {MAX_MOUNTS} kept", mounts.len()),
        ));
        mounts.truncate(MAX_MOUNTS);
    }
    if root.is_dead_box() {
        let base = std::fs::canonicalize(root.real(b"/"))
            .map(|p| p.into_os_string().into_encoded_bytes())
            .unwrap_or_default();
        mounts = rebase(mounts, &base);
    }
    resolve_binds(&mut mounts);
    MountTable::new(mounts)
}

/// Parses mountinfo lines (`proc(5)`); malformed lines are skipped.
pub fn parse(bytes: &[u8]) -> Vec<MountRecord> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &[u8]) -> Option<MountRecord> {
    let fields: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    let sep = fields.iter().position(|f| *f == b"-")?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let num = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<u32>().ok();
    let (major, minor) = {
        let dev = fields.get(2)?;
        let colon = dev.iter().position(|b| *b == b':')?;
        (num(dev.get(..colon)?)?, num(dev.get(colon + 1..)?)?)
    };
    Some(MountRecord {
        mount_id: num(fields.first()?)?,
        parent_id: num(fields.get(1)?)?,
        dev: libc::makedev(major, minor),
        root: RawBytes::new(unescape_octal(fields.get(3)?)),
        mount_point: RawBytes::new(unescape_octal(fields.get(4)?)),
        mount_options: text(fields.get(5)?),
        propagation: fields
            .get(6..sep)?
            .iter()
            .map(|f| text(f))
            .collect::<Vec<_>>()
            .join(" "),
        fs_type: text(&unescape_octal(fields.get(sep + 1)?)),
        source: RawBytes::new(unescape_octal(fields.get(sep + 2)?)),
        super_options: fields.get(sep + 3).map(|f| text(f)).unwrap_or_default(),
        bind_of: None,
        walked_by: Vec::new(),
    })
}

/// Turns the octal escapes of mountinfo (`\040` space, `\012` newline, ...) back into bytes.
pub fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while let Some(&b) = field.get(i) {
        match field.get(i + 1..i + 4) {
            Some(d) if b == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `rest` of `path` below `prefix` (component-wise): `Some(b"")` for `path == prefix`.
fn below<'a>(path: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix == b"/" {
        return match path {
            b"/" => Some(b""),
            _ => path.starts_with(b"/").then_some(path),
        };
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// Keeps the mounts at or under `base` (the image root's real path) with image paths as mount points.
fn rebase(mounts: Vec<MountRecord>, base: &[u8]) -> Vec<MountRecord> {
    if base.is_empty() {
        return Vec::new();
    }
    mounts
        .into_iter()
        .filter_map(|mut m| {
            let rest = below(m.mount_point.as_bytes(), base)?.to_vec();
            m.mount_point = RawBytes::new(if base == b"/" {
                rest
            } else if rest.is_empty() {
                b"/".to_vec()
            } else {
                rest
            });
            Some(m)
        })
        .collect()
}

/// Fills `bind_of` for every mount that shows a directory another mount of the same device also shows:
/// the one with the shortest `root` containing it (the whole filesystem, where it is mounted), or, for
/// two mounts of the very same directory, the one mounted first.
fn resolve_binds(mounts: &mut [MountRecord]) {
    let found: Vec<Option<Vec<u8>>> = mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            mounts
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o.dev == m.dev)
                .filter_map(|(j, o)| {
                    let rest = below(m.root.as_bytes(), o.root.as_bytes())?;
                    // Two mounts showing the same directory: the earlier one in the table is the
                    // original, the later one the bind.
                    if rest.is_empty() && j > i {
                        return None;
                    }
                    Some((
                        o.root.as_bytes().len(),
                        join(o.mount_point.as_bytes(), rest),
                    ))
                })
                .min_by_key(|(len, _)| *len)
                .map(|(_, path)| path)
        })
        .collect();
    for (m, bind) in mounts.iter_mut().zip(found) {
        m.bind_of = bind.map(RawBytes::new);
    }
}

fn join(dir: &[u8], rest: &[u8]) -> Vec<u8> {
    if rest.is_empty() {
        return dir.to_vec();
    }
    let mut out = dir.strip_suffix(b"/").unwrap_or(dir).to_vec();
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[u8] = b"22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
30 22 0:25 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw,size=1024k\n\
31 30 253:1 /usr/sbin /tmp/.x rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
32 22 0:26 / /mnt/with\\040space rw - tmpfs none rw\n\
33 22 0:26 / /srv/again rw - tmpfs none rw\n\
34 22 0:40 /@home /home rw - btrfs /dev/vdb rw\n\
garbage line\n";

    #[test]
    fn binds_are_resolved_to_the_directory_they_show() {
        let mut mounts = parse(TABLE);
        resolve_binds(&mut mounts);
        let t = MountTable::new(mounts);
        assert_eq!(t.mounts.len(), 6);
        let x = t.get(t.at(b"/tmp/.x").unwrap()).unwrap();
        assert_eq!(x.bind_of.as_ref().unwrap().as_bytes(), b"/usr/sbin");
        assert_eq!(x.dev, libc::makedev(253, 1));
        assert_eq!(x.propagation, "shared:1");
        assert_eq!(
            (x.fs_type.as_str(), x.source.as_bytes()),
            ("ext4", &b"/dev/vda1"[..])
        );
        // Whole filesystems and subvolumes with nothing else of their device mounted are no binds.
        for p in [&b"/"[..], b"/tmp", b"/home", b"/mnt/with space"] {
            let m = t.get(t.at(p).unwrap()).unwrap();
            assert!(m.bind_of.is_none(), "{p:?}");
        }
        // The same directory mounted twice: the later mount is the bind.
        let again = t.get(t.at(b"/srv/again").unwrap()).unwrap();
        assert_eq!(
            again.bind_of.as_ref().unwrap().as_bytes(),
            b"/mnt/with space"
        );
        assert!(t.is_bind(t.at(b"/tmp/.x").unwrap()));
    }

    #[test]
    fn dead_box_keeps_the_image_mounts_rebased() {
        let mounts = parse(
            b"22 1 253:1 / / rw - ext4 /dev/vda1 rw\n\
40 22 7:0 / /mnt/img rw - ext4 /dev/loop0 rw\n\
41 40 7:1 / /mnt/img/boot rw - vfat /dev/loop1 rw\n\
42 22 7:2 / /mnt/image2 rw - ext4 /dev/loop2 rw\n",
        );
        let r = rebase(mounts, b"/mnt/img");
        let points: Vec<&[u8]> = r.iter().map(|m| m.mount_point.as_bytes()).collect();
        assert_eq!(points, vec![&b"/"[..], b"/boot"]);
    }

    #[test]
    fn hostile_escapes_and_short_lines() {
        assert_eq!(unescape_octal(b"a\\012b\\134\\"), b"a\nb\\\\".to_vec());
        assert!(parse(b"1 2 3\n1 2 x:y / / rw - ext4 a b\n").is_empty());
        assert_eq!(below(b"/usr/sbin", b"/usr"), Some(&b"/sbin"[..]));
        assert_eq!(below(b"/usrx", b"/usr"), None);
        assert_eq!(below(b"/usr", b"/"), Some(&b"/usr"[..]));
        assert_eq!(below(b"/", b"/"), Some(&b""[..]));
    }
}
