//! rpm header blobs as the rpm database stores them (every backend keeps the same blob): a big-endian
//! index count and data length, that many 16-byte index entries (tag, type, offset, count), then the data
//! store. Only what ownership and the digest comparison need is decoded: name, epoch, version, release,
//! arch, and per file its path (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`, or the old `OLDFILENAMES`), mode,
//! flags, install state and digest with the package's digest algorithm.
//!
//! The blob is the attacker's as much as the host's: every offset and count is checked against the data
//! store, counts are capped, and a malformed blob is an error naming what was wrong, never a panic.

use minetrace_schemas::records::package::DigestAlgorithm;

/// rpm's own limits (`hdrchkTags`, `hdrchkData`): no real header comes near them.
const MAX_TAGS: u32 = 0xffff;
const MAX_DATA: u32 = 256 << 20;
/// Files decoded per package at most.
pub const MAX_FILES: usize = 1 << 20;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_OLDFILENAMES: u32 = 1027;
const TAG_FILESTATES: u32 = 1029;
const TAG_FILEMODES: u32 = 1030;
const TAG_FILEDIGESTS: u32 = 1035;
const TAG_FILEFLAGS: u32 = 1037;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;
const TAG_FILEDIGESTALGO: u32 = 5011;

const TYPE_CHAR: u32 = 1;
const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// `RPMFILE_GHOST`: listed, never installed by the package, so never verified.
pub const FLAG_GHOST: u32 = 1 << 6;
/// `RPMFILE_CONFIG`.
pub const FLAG_CONFIG: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed rpm header: {}", self.0)
    }
}

impl std::error::Error for HeaderError {}

fn bad(msg: impl Into<String>) -> HeaderError {
    HeaderError(msg.into())
}

/// One installed package as its header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmPackage {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: String,
    /// The algorithm of every digest in `files` (`FILEDIGESTALGO`; MD5 when the header has none, as
    /// rpm assumes). `None` for an algorithm number this build does not know.
    pub digest_algorithm: Option<DigestAlgorithm>,
    pub files: Vec<RpmFile>,
}

impl RpmPackage {
    /// `name-version-release.arch`, as `rpm -q` prints it (epoch left out, as rpm does by default).
    pub fn nevra(&self) -> String {
        if self.arch.is_empty() {
            format!("{}-{}-{}", self.name, self.version, self.release)
        } else {
            format!(
                "{}-{}-{}.{}",
                self.name, self.version, self.release, self.arch
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    pub path: Vec<u8>,
    pub mode: u16,
    pub flags: u32,
    /// `FILESTATES` (0 normal, 1 replaced, 2 not installed, 3 net shared, 4 wrong colour).
    pub state: Option<u8>,
    /// Lowercase hex, as the header stores it; empty for directories, links and ghosts.
    pub digest: String,
}

impl RpmFile {
    /// Whether this package's copy of the file is on disk (`RPMFILE_IS_INSTALLED`): what `rpm -qf`
    /// counts as ownership.
    pub fn is_installed(&self) -> bool {
        matches!(self.state, None | Some(0) | Some(3))
    }

    pub fn is_regular(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }
}

/// rpm's `PGPHASHALGO_*` numbers.
pub fn digest_algorithm(number: u32) -> Option<DigestAlgorithm> {
    Some(match number {
        1 => DigestAlgorithm::Md5,
        2 => DigestAlgorithm::Sha1,
        8 => DigestAlgorithm::Sha256,
        9 => DigestAlgorithm::Sha384,
        10 => DigestAlgorithm::Sha512,
        11 => DigestAlgorithm::Sha224,
        _ => return None,
    })
}

#[derive(Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: usize,
}

struct Blob<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Blob<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, HeaderError> {
        let il = be32(bytes, 0).ok_or_else(|| bad("shorter than its 8-byte preamble"))?;
        let dl = be32(bytes, 4).ok_or_else(|| bad("shorter than its 8-byte preamble"))?;
        if il == 0 || il > MAX_TAGS {
            return Err(bad(format!("{il} index entries")));
        }
        if dl > MAX_DATA {
            return Err(bad(format!("{dl} bytes of data")));
        }
        let index_len = il as usize * 16;
        let data_start = 8 + index_len;
        let data = bytes
            .get(data_start..data_start + dl as usize)
            .ok_or_else(|| {
                bad(format!(
                    "{il} entries and {dl} data bytes need {} bytes, the blob has {}",
                    data_start + dl as usize,
                    bytes.len()
                ))
            })?;
        let mut entries = Vec::with_capacity(il as usize);
        for i in 0..il as usize {
            let at = 8 + i * 16;
            let (Some(tag), Some(kind), Some(offset), Some(count)) = (
                be32(bytes, at),
                be32(bytes, at + 4),
                be32(bytes, at + 8),
                be32(bytes, at + 12),
            ) else {
                return Err(bad("index entry past the end"));
            };
            entries.push(Entry {
                tag,
                kind,
                offset: offset as usize,
                count: count as usize,
            });
        }
        Ok(Blob { entries, data })
    }

    fn find(&self, tag: u32) -> Option<Entry> {
        self.entries.iter().copied().find(|e| e.tag == tag)
    }

    /// `count` NUL-terminated strings from the entry's offset.
    fn strings(&self, tag: u32) -> Result<Vec<&'a [u8]>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(Vec::new());
        };
        if !matches!(e.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(bad(format!("tag {tag} has type {}, not a string", e.kind)));
        }
        let count = if e.kind == TYPE_STRING { 1 } else { e.count };
        if count > self.data.len() {
            return Err(bad(format!("tag {tag} claims {count} strings")));
        }
        let mut out = Vec::with_capacity(count);
        let mut rest = self
            .data
            .get(e.offset..)
            .ok_or_else(|| bad(format!("tag {tag} starts past the data")))?;
        for _ in 0..count {
            let end = rest
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| bad(format!("tag {tag}: unterminated string")))?;
            out.push(rest.get(..end).unwrap_or(&[]));
            rest = rest.get(end + 1..).unwrap_or(&[]);
        }
        Ok(out)
    }

    fn string(&self, tag: u32) -> Result<Option<String>, HeaderError> {
        Ok(self
            .strings(tag)?
            .first()
            .map(|s| String::from_utf8_lossy(s).into_owned()))
    }

    /// Integers of any width, widened.
    fn ints(&self, tag: u32) -> Result<Vec<u32>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(Vec::new());
        };
        let width = match e.kind {
            TYPE_CHAR | TYPE_INT8 => 1,
            TYPE_INT16 => 2,
            TYPE_INT32 => 4,
            other => return Err(bad(format!("tag {tag} has type {other}, not an integer"))),
        };
        let len = e
            .count
            .checked_mul(width)
            .ok_or_else(|| bad(format!("tag {tag} claims {} values", e.count)))?;
        let bytes = e
            .offset
            .checked_add(len)
            .and_then(|end| self.data.get(e.offset..end))
            .ok_or_else(|| bad(format!("tag {tag}: {} values run past the data", e.count)))?;
        Ok(bytes
            .chunks_exact(width)
            .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
            .collect())
    }
}

/// Decodes one header blob (without the 8-byte `8e ad e8 01` magic a `.rpm` file puts in front; the
/// database never stores it, but a blob that has it is accepted too). Public and byte-driven so that it
/// can be fuzzed on its own.
pub fn parse(bytes: &[u8]) -> Result<RpmPackage, HeaderError> {
    let bytes = match bytes.strip_prefix(&[0x8e, 0xad, 0xe8, 0x01]) {
        Some(rest) => rest.get(4..).unwrap_or(&[]),
        None => bytes,
    };
    let blob = Blob::parse(bytes)?;
    let name = blob.string(TAG_NAME)?.ok_or_else(|| bad("no NAME tag"))?;
    let version = blob.string(TAG_VERSION)?.unwrap_or_default();
    let release = blob.string(TAG_RELEASE)?.unwrap_or_default();
    let arch = blob.string(TAG_ARCH)?.unwrap_or_default();
    let epoch = blob.ints(TAG_EPOCH)?.first().copied();
    let digest_algorithm = match blob.ints(TAG_FILEDIGESTALGO)?.first() {
        Some(n) => digest_algorithm(*n),
        None => Some(DigestAlgorithm::Md5),
    };

    let paths: Vec<Vec<u8>> = {
        let old = blob.strings(TAG_OLDFILENAMES)?;
        if !old.is_empty() {
            old.into_iter().map(<[u8]>::to_vec).collect()
        } else {
            let base = blob.strings(TAG_BASENAMES)?;
            let dirs = blob.strings(TAG_DIRNAMES)?;
            let index = blob.ints(TAG_DIRINDEXES)?;
            if base.len() != index.len() {
                return Err(bad(format!(
                    "{} base names but {} directory indexes",
                    base.len(),
                    index.len()
                )));
            }
            let mut out = Vec::with_capacity(base.len().min(MAX_FILES));
            for (b, d) in base.iter().zip(&index) {
                let dir = dirs
                    .get(*d as usize)
                    .ok_or_else(|| bad(format!("directory index {d} of {}", dirs.len())))?;
                let mut p = Vec::with_capacity(dir.len() + b.len());
                p.extend_from_slice(dir);
                p.extend_from_slice(b);
                out.push(p);
            }
            out
        }
    };
    if paths.len() > MAX_FILES {
        return Err(bad(format!("{} files (cap {MAX_FILES})", paths.len())));
    }
    let modes = blob.ints(TAG_FILEMODES)?;
    let flags = blob.ints(TAG_FILEFLAGS)?;
    let states = blob.ints(TAG_FILESTATES)?;
    let digests = blob.strings(TAG_FILEDIGESTS)?;
    let files = paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| RpmFile {
            path,
            mode: modes.get(i).map_or(0, |m| *m as u16),
            flags: flags.get(i).copied().unwrap_or(0),
            state: states.get(i).map(|s| *s as u8),
            digest: digests
                .get(i)
                .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
                .map(|d| String::from_utf8_lossy(d).to_ascii_lowercase())
                .unwrap_or_default(),
        })
        .collect();
    Ok(RpmPackage {
        name,
        epoch,
        version,
        release,
        arch,
        digest_algorithm,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a blob the way rpm lays one out (for the malformed-input tests; the real-data tests use
    /// headers rpm wrote, see `rpmdb::tests`).
    pub(crate) fn blob(entries: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, kind, bytes, count) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut out = (entries.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn malformed_blobs_are_errors() {
        assert!(parse(b"").is_err());
        assert!(parse(&[0, 0, 0, 1, 0, 0, 0, 0]).is_err());
        // An entry whose string runs off the data.
        let b = blob(&[(TAG_NAME, TYPE_STRING, b"bash", 1)]);
        assert!(parse(&b).unwrap_err().0.contains("unterminated"));
        // Counts that disagree.
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"x\0", 1),
            (TAG_BASENAMES, TYPE_STRING_ARRAY, b"a\0b\0", 2),
            (TAG_DIRNAMES, TYPE_STRING_ARRAY, b"/\0", 1),
            (TAG_DIRINDEXES, TYPE_INT32, &[0, 0, 0, 0], 1),
        ]);
        assert!(parse(&b).unwrap_err().0.contains("2 base names"));
        // A directory index out of range.
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"x\0", 1),
            (TAG_BASENAMES, TYPE_STRING_ARRAY, b"a\0", 1),
            (TAG_DIRNAMES, TYPE_STRING_ARRAY, b"/\0", 1),
            (TAG_DIRINDEXES, TYPE_INT32, &[0, 0, 0, 7], 1),
        ]);
        assert!(parse(&b).unwrap_err().0.contains("directory index 7"));
        // A huge claimed count.
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"x\0", 1),
            (TAG_FILEMODES, TYPE_INT16, &[0, 0], 0x7fff_ffff),
        ]);
        assert!(parse(&b).is_err());
    }

    #[test]
    fn old_file_names_and_unknown_algorithms() {
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"old\0", 1),
            (TAG_OLDFILENAMES, TYPE_STRING_ARRAY, b"/bin/a\0/bin/b\0", 2),
            (TAG_FILEDIGESTALGO, TYPE_INT32, &[0, 0, 0, 99], 1),
        ]);
        let p = parse(&b).unwrap();
        assert_eq!(p.files.len(), 2);
        assert_eq!(p.files[1].path, b"/bin/b");
        assert_eq!(p.digest_algorithm, None);
        assert_eq!(p.nevra(), "old--");
    }
}
