//! Structured artifact records and their versioned binary envelope.
//!
//! Every record member of a bundle (`records/*.pc`) is [`MAGIC`] followed by a postcard-encoded
//! [`RecordFile`]. The enum's variant is the format version: a later analyzer keeps decoding `V1` and maps
//! it forward, and an older one refuses a newer version by number instead of misreading it.
//! New record kinds are appended to [`RecordSetV1`] (postcard encodes the variant index, so appending
//! keeps old bundles readable); a change to an existing type means a `V2`.

pub mod account;
pub mod address;
pub mod command;
pub mod executable;
pub mod file;
pub mod host;
pub mod mount;
pub mod package;
pub mod process;
pub mod route;
pub mod socket;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use account::ShadowEntry;
use address::InterfaceAddress;
use command::CommandRecord;
use executable::{ExecutableRecord, ImageTimes};
use file::FileRecord;
use host::HostRecord;
use mount::MountRecord;
use package::PackageCheck;
use process::ProcessRecord;
use route::RouteRecord;
use socket::SocketRecord;

/// First bytes of every record member.
pub const MAGIC: &[u8; 8] = b"MNTRREC\0";

/// The newest record format version this build writes and reads.
pub const RECORD_FORMAT_VERSION: u32 = 1;

/// Record count above which a member is refused: no real host has this many processes, sockets or files
/// of one kind, so a larger count is a shaped bundle trying to exhaust memory.
pub const MAX_RECORDS: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordFile {
    V1(RecordSetV1),
}

// One `Host` record per bundle against vectors of thousands: boxing it would change the API for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordSetV1 {
    Host(HostRecord),
    Processes(Vec<ProcessRecord>),
    Executables(Vec<ExecutableRecord>),
    Sockets(Vec<SocketRecord>),
    Files(Vec<FileRecord>),
    Commands(Vec<CommandRecord>),
    /// Derived from `/etc/shadow`: password usability and change dates, never hashes.
    Shadow(Vec<ShadowEntry>),
    /// Package-database digests next to actual digests.
    Packages(Vec<PackageCheck>),
    /// The collected root's mount table (bind mounts resolved to the directory they show).
    Mounts(Vec<MountRecord>),
    /// The host's interface addresses (live collections only).
    Addresses(Vec<InterfaceAddress>),
    /// The host's routes (live collections only).
    Routes(Vec<RouteRecord>),
    /// The times of running images that were deleted (live collections only).
    ImageTimes(Vec<ImageTimes>),
}

impl RecordSetV1 {
    pub fn len(&self) -> usize {
        match self {
            RecordSetV1::Host(_) => 1,
            RecordSetV1::Processes(v) => v.len(),
            RecordSetV1::Executables(v) => v.len(),
            RecordSetV1::Sockets(v) => v.len(),
            RecordSetV1::Files(v) => v.len(),
            RecordSetV1::Commands(v) => v.len(),
            RecordSetV1::Shadow(v) => v.len(),
            RecordSetV1::Packages(v) => v.len(),
            RecordSetV1::Mounts(v) => v.len(),
            RecordSetV1::Addresses(v) => v.len(),
            RecordSetV1::Routes(v) => v.len(),
            RecordSetV1::ImageTimes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum RecordError {
    #[error("not a minetrace record (bad magic)")]
    BadMagic,
    #[error("record format version {found} is newer than this build understands (up to {RECORD_FORMAT_VERSION}); upgrade minetrace")]
    UnknownVersion { found: u64 },
    #[error("record is malformed: {0}")]
    Malformed(String),
    #[error("record holds {count} entries, above the cap of {MAX_RECORDS}")]
    TooManyRecords { count: usize },
}

/// Borrowing twin of [`RecordFile`] for encoding: the same variant index and body, so the same bytes,
/// without cloning a set that can hold every process of a 10,000-process host.
#[derive(Serialize)]
enum RecordFileRef<'a> {
    V1(&'a RecordSetV1),
}

/// Encodes a record set as the current format version.
pub fn encode(set: &RecordSetV1) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail; fall back to an empty body defensively.
    postcard::to_extend(&RecordFileRef::V1(set), MAGIC.to_vec()).unwrap_or_else(|_| MAGIC.to_vec())
}

/// A record kind that is a list in [`RecordSetV1`], so it can be encoded one item at a time.
pub trait ListRecord: Serialize {
    /// The set this kind is stored as, empty.
    fn empty_set() -> RecordSetV1;
}

macro_rules! list_record {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl ListRecord for $ty {
            fn empty_set() -> RecordSetV1 {
                RecordSetV1::$variant(Vec::new())
            }
        })*
    };
}

list_record!(
    ProcessRecord => Processes,
    ExecutableRecord => Executables,
    SocketRecord => Sockets,
    FileRecord => Files,
    CommandRecord => Commands,
    ShadowEntry => Shadow,
    PackageCheck => Packages,
    MountRecord => Mounts,
    InterfaceAddress => Addresses,
    RouteRecord => Routes,
    ImageTimes => ImageTimes,
);

/// Encodes a list member item by item, giving the same bytes as [`encode`] on the whole list, so a
/// 10,000-process table is held only once, as bytes, instead of as records and then as bytes.
///
/// Postcard writes a list as its length (a varint) and then the items; the envelope before the length
/// is taken from [`encode`] of the empty set, so this type knows nothing of variant numbers.
pub struct RecordStream<T: ListRecord> {
    body: Vec<u8>,
    count: usize,
    _kind: std::marker::PhantomData<fn(T)>,
}

impl<T: ListRecord> Default for RecordStream<T> {
    fn default() -> Self {
        RecordStream {
            body: Vec::new(),
            count: 0,
            _kind: std::marker::PhantomData,
        }
    }
}

impl<T: ListRecord> RecordStream<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one item.
    pub fn push(&mut self, item: &T) {
        let body = std::mem::take(&mut self.body);
        // Serializing plain data into a Vec cannot fail; on the impossible error the item is dropped.
        match postcard::to_extend(item, body) {
            Ok(body) => {
                self.body = body;
                self.count += 1;
            }
            Err(_) => self.body = Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The member bytes: envelope, item count, items.
    pub fn finish(self) -> Vec<u8> {
        let mut prefix = encode(&T::empty_set());
        // The empty list ends in its length, a single zero byte; replace it with the real count.
        prefix.pop();
        let mut count = self.count as u64;
        loop {
            let low = (count & 0x7f) as u8;
            count >>= 7;
            if count == 0 {
                prefix.push(low);
                break;
            }
            prefix.push(low | 0x80);
        }
        let mut body = self.body;
        body.reserve_exact(prefix.len());
        body.splice(0..0, prefix);
        body
    }
}

/// Decodes a record member, refusing unknown versions by number and oversized counts.
pub fn decode(bytes: &[u8]) -> Result<RecordSetV1, RecordError> {
    let body = bytes.strip_prefix(MAGIC).ok_or(RecordError::BadMagic)?;
    let version_index =
        read_varint(body).ok_or_else(|| RecordError::Malformed("empty body".into()))?;
    if version_index >= u64::from(RECORD_FORMAT_VERSION) {
        // A shaped member can claim index u64::MAX: the number shown saturates instead of overflowing.
        return Err(RecordError::UnknownVersion {
            found: version_index.saturating_add(1),
        });
    }
    let file: RecordFile =
        postcard::from_bytes(body).map_err(|e| RecordError::Malformed(e.to_string()))?;
    let RecordFile::V1(set) = file;
    if set.len() > MAX_RECORDS {
        return Err(RecordError::TooManyRecords { count: set.len() });
    }
    Ok(set)
}

/// Postcard's LEB128 varint (the enum discriminant), read without decoding the rest.
fn read_varint(bytes: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawBytes;

    #[test]
    fn round_trip_processes() {
        let p = ProcessRecord {
            pid: 42,
            comm: RawBytes::new(b"kworker\n\xff".to_vec()),
            cmdline: RawBytes::new(b"/tmp/x\0--donate-level=0\0".to_vec()),
            ..Default::default()
        };
        let set = RecordSetV1::Processes(vec![p]);
        assert_eq!(decode(&encode(&set)).unwrap(), set);
    }

    #[test]
    fn round_trip_shadow_and_packages() {
        use account::PasswordState;
        use package::{DigestAlgorithm, FileDigest, PackageManager, PackageVerdict};
        let shadow = RecordSetV1::Shadow(vec![ShadowEntry {
            source: RawBytes::from("/etc/shadow"),
            line: 3,
            user: RawBytes::from("games"),
            password: PasswordState::Usable,
            last_change_days: Some(19_000),
            expire_days: None,
        }]);
        assert_eq!(decode(&encode(&shadow)).unwrap(), shadow);
        let packages = RecordSetV1::Packages(vec![PackageCheck {
            path: RawBytes::from("/usr/bin/ps"),
            reason: "system-binary".into(),
            listed_as: Some(RawBytes::from("/bin/ps")),
            manager: Some(PackageManager::Rpm),
            package: Some("procps-ng-3.3.17-14.el9.x86_64".into()),
            expected_digest: Some(FileDigest {
                algorithm: DigestAlgorithm::Sha256,
                hex: "00".repeat(32),
            }),
            actual_digest: Some(FileDigest {
                algorithm: DigestAlgorithm::Sha256,
                hex: "11".repeat(32),
            }),
            actual_sha256: None,
            size: Some(10),
            verdict: PackageVerdict::Mismatch,
            error: None,
        }]);
        assert_eq!(decode(&encode(&packages)).unwrap(), packages);
    }

    #[test]
    fn a_missing_packaged_path_round_trips_and_earlier_verdicts_keep_their_numbers() {
        use package::{
            DigestAlgorithm, FileDigest, PackageManager, PackageVerdict, PACKAGED_MISSING,
        };
        let missing = RecordSetV1::Packages(vec![PackageCheck {
            path: RawBytes::from("/usr/bin/chattr"),
            reason: PACKAGED_MISSING.into(),
            listed_as: Some(RawBytes::from("/bin/chattr")),
            manager: Some(PackageManager::Dpkg),
            package: Some("e2fsprogs".into()),
            expected_digest: Some(FileDigest {
                algorithm: DigestAlgorithm::Md5,
                hex: "0f".repeat(16),
            }),
            actual_digest: None,
            actual_sha256: None,
            size: None,
            verdict: PackageVerdict::Missing,
            error: None,
        }]);
        assert_eq!(decode(&encode(&missing)).unwrap(), missing);
        // Appended after Unreadable: the verdicts bundles already hold decode as they were written.
        let index = |v: PackageVerdict| postcard::to_allocvec(&v).unwrap();
        assert_eq!(index(PackageVerdict::Match), vec![0]);
        assert_eq!(index(PackageVerdict::Unreadable), vec![4]);
        assert_eq!(index(PackageVerdict::Missing), vec![5]);
    }

    #[test]
    fn mounts_are_appended_after_every_earlier_kind() {
        use mount::MountRecord;
        let set = RecordSetV1::Mounts(vec![MountRecord {
            mount_id: 31,
            parent_id: 30,
            dev: 0x0803,
            root: RawBytes::from("/usr/sbin"),
            mount_point: RawBytes::new(b"/tmp/.x\n\xff".to_vec()),
            mount_options: "rw,relatime".into(),
            propagation: "shared:1".into(),
            fs_type: "ext4".into(),
            source: RawBytes::from("/dev/vda1"),
            super_options: "rw".into(),
            bind_of: Some(RawBytes::from("/usr/sbin")),
            walked_by: vec!["temp".into()],
        }]);
        assert_eq!(decode(&encode(&set)).unwrap(), set);
        // Appending keeps every earlier kind's variant index (old bundles stay readable): Mounts is the
        // ninth kind, after Packages.
        let bytes = encode(&RecordSetV1::Mounts(Vec::new()));
        assert_eq!(bytes.get(MAGIC.len()..), Some(&[0u8, 8, 0][..]));
    }

    #[test]
    fn routes_are_appended_after_every_earlier_kind() {
        use route::RouteRecord;
        let set = RecordSetV1::Routes(vec![RouteRecord {
            interface: "eth0".into(),
            destination: "0.0.0.0".into(),
            prefix_len: 0,
            gateway: Some("192.0.2.1".into()),
            metric: 100,
        }]);
        assert_eq!(decode(&encode(&set)).unwrap(), set);
        // The eleventh kind, after Addresses: every earlier variant index is unchanged.
        let bytes = encode(&RecordSetV1::Routes(Vec::new()));
        assert_eq!(bytes.get(MAGIC.len()..), Some(&[0u8, 10, 0][..]));
    }

    #[test]
    fn borrowed_encoding_is_the_owned_encoding() {
        let set = RecordSetV1::Processes(vec![ProcessRecord {
            pid: 7,
            comm: RawBytes::new(b"x\xff".to_vec()),
            ..Default::default()
        }]);
        let mut owned = MAGIC.to_vec();
        owned.extend(postcard::to_allocvec(&RecordFile::V1(set.clone())).unwrap());
        assert_eq!(encode(&set), owned);
    }

    #[test]
    fn streamed_list_is_the_encoded_list() {
        for n in [0usize, 1, 127, 128, 300, 20_000] {
            let procs: Vec<ProcessRecord> = (0..n)
                .map(|i| ProcessRecord {
                    pid: i as i32,
                    comm: RawBytes::new(vec![b'a'; i % 40]),
                    ..Default::default()
                })
                .collect();
            let mut stream = RecordStream::new();
            for p in &procs {
                stream.push(p);
            }
            assert_eq!(stream.len(), n);
            let bytes = stream.finish();
            let set = RecordSetV1::Processes(procs);
            assert_eq!(bytes, encode(&set), "n = {n}");
            assert_eq!(decode(&bytes).unwrap(), set);
        }
    }

    #[test]
    fn unknown_version_is_refused_by_number() {
        let mut bytes = MAGIC.to_vec();
        bytes.push(4); // variant index 4 = format version 5
        bytes.extend([0, 0, 0]);
        assert_eq!(
            decode(&bytes),
            Err(RecordError::UnknownVersion { found: 5 })
        );
    }

    #[test]
    fn the_largest_version_index_is_refused_without_overflow() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([0xff; 9]);
        bytes.push(0x01);
        assert_eq!(
            decode(&bytes),
            Err(RecordError::UnknownVersion { found: u64::MAX })
        );
    }

    #[test]
    fn bad_magic_and_garbage() {
        assert_eq!(decode(b"hello world"), Err(RecordError::BadMagic));
        let mut bytes = MAGIC.to_vec();
        bytes.extend([0, 1, 0xff, 0xff, 0xff]);
        assert!(matches!(decode(&bytes), Err(RecordError::Malformed(_))));
    }
}
