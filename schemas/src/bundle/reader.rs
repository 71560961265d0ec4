//! Reads a bundle as hostile input. Nothing is extracted to disk and no member name is ever used as a path
//! on the analyst's machine; members live in memory under caps on size, count and total decompressed bytes;
//! every member is checked against the manifest. Each way a bundle can be broken has its own error.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::hashing_io::HashingReader;
use super::member_name::unsafe_reason;
use crate::manifest::{Manifest, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, MANIFEST_MEMBER};
use crate::records::{self, RecordError, RecordSetV1};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Caps that keep a shaped bundle from exhausting the analyst's memory.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub max_member_bytes: u64,
    pub max_total_bytes: u64,
    pub max_members: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_member_bytes: 256 << 20,
            max_total_bytes: 4 << 30,
            max_members: 500_000,
        }
    }
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot read {path}: {err}")]
    Open { path: PathBuf, err: io::Error },
    #[error("not a minetrace bundle: the input is empty")]
    Empty,
    #[error("not a minetrace bundle: the input is not zstd-compressed (first bytes {0})")]
    NotZstd(String),
    #[error("bundle is truncated: the stream ended {0}")]
    Truncated(String),
    #[error("bundle is corrupt: bad zstd frame ({0})")]
    BadZstdFrame(String),
    #[error("bundle is corrupt: bad tar structure ({0})")]
    BadTar(String),
    #[error("member {member:?}: unsafe name ({reason})")]
    UnsafeMemberPath { member: String, reason: String },
    #[error("member {member:?}: is a link; bundles hold regular files only")]
    LinkMember { member: String },
    #[error("member {member:?}: is a special file ({kind}); bundles hold regular files only")]
    SpecialMember { member: String, kind: String },
    #[error("member {member:?}: {size} bytes is over the cap of {cap}")]
    MemberTooLarge { member: String, size: u64, cap: u64 },
    #[error("bundle decompresses to more than the cap of {cap} bytes")]
    TotalTooLarge { cap: u64 },
    #[error("bundle holds more than {cap} members")]
    TooManyMembers { cap: usize },
    #[error("member {member:?} appears twice")]
    DuplicateMember { member: String },
    #[error("manifest.json is missing (the bundle is incomplete or was not written by minetrace-collect)")]
    MissingManifest,
    #[error("manifest.json is not the last member (found {after:?} after it)")]
    ManifestNotLast { after: String },
    #[error("manifest.json is malformed: {0}")]
    MalformedManifest(String),
    #[error("bundle format version {found} is not supported by this build (it reads version {BUNDLE_FORMAT_VERSION}); upgrade minetrace")]
    UnknownFormatVersion { found: u64 },
    #[error("member {member:?}: sha256 {actual} does not match the manifest's {expected}")]
    HashMismatch {
        member: String,
        expected: String,
        actual: String,
    },
    #[error("member {member:?}: {actual} bytes, the manifest says {expected}")]
    SizeMismatch {
        member: String,
        expected: u64,
        actual: u64,
    },
    #[error("member {member:?} is listed in the manifest but absent from the bundle")]
    MissingMember { member: String },
    #[error("member {member:?} is in the bundle but not listed in the manifest")]
    UnlistedMember { member: String },
    #[error("member {member:?}: {err}")]
    Record { member: String, err: RecordError },
    #[error("member {member:?} is absent")]
    Absent { member: String },
}

impl BundleError {
    /// True for problems that mean the content cannot be trusted (as opposed to unreadable input).
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            BundleError::HashMismatch { .. }
                | BundleError::SizeMismatch { .. }
                | BundleError::MissingMember { .. }
                | BundleError::UnlistedMember { .. }
        )
    }
}

/// A bundle loaded into memory. Integrity problems are collected in `problems` rather than failing the
/// load, so an analyst can still look at a tampered bundle on explicit request.
#[derive(Debug)]
pub struct Bundle {
    pub manifest: Manifest,
    members: BTreeMap<String, Vec<u8>>,
    /// SHA-256 of the compressed bundle as a whole, when read from a file.
    pub sha256: Option<String>,
    pub compressed_bytes: Option<u64>,
    pub problems: Vec<BundleError>,
}

impl Bundle {
    /// Reads and checks a bundle file in one pass: the file's sha256 is computed from the very bytes the
    /// reader parses (and any bytes after the archive, read to the end), never from a second read.
    pub fn open(path: &Path, limits: ReadLimits) -> Result<Bundle, BundleError> {
        let io_err = |err| BundleError::Open {
            path: path.to_owned(),
            err,
        };
        let file = File::open(path).map_err(io_err)?;
        let mut input = BufReader::with_capacity(256 * 1024, HashingReader::new(file));
        let mut bundle = read_bundle(&mut input, limits)?;
        io::copy(&mut input, &mut io::sink()).map_err(io_err)?;
        let (sha256, size) = input.into_inner().finish();
        bundle.sha256 = Some(sha256);
        bundle.compressed_bytes = Some(size);
        Ok(bundle)
    }

    /// Hands every member's bytes over to the caller (the analyzer's model owns them from then on), leaving
    /// the bundle with its manifest and no members: nothing is copied.
    pub fn take_members(&mut self) -> BTreeMap<String, Vec<u8>> {
        std::mem::take(&mut self.members)
    }

    /// Fails with the first integrity problem, if any.
    pub fn verified(mut self) -> Result<Bundle, BundleError> {
        if self.problems.is_empty() {
            Ok(self)
        } else {
            Err(self.problems.remove(0))
        }
    }

    pub fn member(&self, name: &str) -> Option<&[u8]> {
        self.members.get(name).map(Vec::as_slice)
    }

    pub fn member_names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Decodes a record member; `Ok(None)` when the bundle simply does not have it.
    pub fn records(&self, name: &str) -> Result<Option<RecordSetV1>, BundleError> {
        match self.member(name) {
            None => Ok(None),
            Some(bytes) => records::decode(bytes)
                .map(Some)
                .map_err(|err| BundleError::Record {
                    member: name.to_owned(),
                    err,
                }),
        }
    }
}

/// Classifies an I/O error from the decompression + tar layers into the bundle error it stands for.
fn classify(err: io::Error, context: &str) -> BundleError {
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    if err.kind() == io::ErrorKind::UnexpectedEof
        || lower.contains("incomplete")
        || lower.contains("unexpected eof")
        || lower.contains("failed to fill whole buffer")
    {
        BundleError::Truncated(format!("{context} ({text})"))
    } else if lower.contains("frame")
        || lower.contains("corrupt")
        || lower.contains("checksum")
        || lower.contains("unknown")
        || lower.contains("zstd")
        || lower.contains("src size")
    {
        BundleError::BadZstdFrame(format!("{context}: {text}"))
    } else {
        BundleError::BadTar(format!("{context}: {text}"))
    }
}

/// Reads a bundle stream fully into memory, enforcing every structural rule. Integrity problems against the
/// manifest land in [`Bundle::problems`]; everything else is an error.
pub fn read_bundle(mut input: impl Read, limits: ReadLimits) -> Result<Bundle, BundleError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(e, "reading the header")),
        }
    }
    if got == 0 {
        return Err(BundleError::Empty);
    }
    if got < head.len() || head != ZSTD_MAGIC {
        return Err(BundleError::NotZstd(hex::encode(&head[..got])));
    }
    let chained = io::Cursor::new(head).chain(input);
    let decoder =
        zstd::stream::read::Decoder::new(chained).map_err(|e| classify(e, "starting zstd"))?;
    let mut archive = tar::Archive::new(decoder);
    let entries = archive
        .entries()
        .map_err(|e| classify(e, "reading the tar stream"))?;
    let mut ended_cleanly = false;

    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut hashes: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut total: u64 = 0;
    let mut manifest_bytes: Option<Vec<u8>> = None;

    for entry in entries {
        let mut entry = entry.map_err(|e| {
            classify(
                e,
                &format!("after member {:?}", order.last().map_or("(start)", |s| s)),
            )
        })?;
        let raw_name = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw_name).into_owned();
        if let Some(after) = manifest_bytes.as_ref().map(|_| name.clone()) {
            return Err(BundleError::ManifestNotLast { after });
        }
        let name_reason = if raw_name.contains(&0) {
            Some("NUL byte in name")
        } else if std::str::from_utf8(&raw_name).is_err() {
            Some("name is not UTF-8")
        } else {
            unsafe_reason(&name)
        };
        if let Some(reason) = name_reason {
            return Err(BundleError::UnsafeMemberPath {
                member: crate::raw_bytes::escape_bytes(&raw_name),
                reason: reason.to_owned(),
            });
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(BundleError::LinkMember { member: name })
            }
            other => {
                return Err(BundleError::SpecialMember {
                    member: name,
                    kind: format!("{other:?}"),
                })
            }
        }
        let size = entry.size();
        if size > limits.max_member_bytes {
            return Err(BundleError::MemberTooLarge {
                member: name,
                size,
                cap: limits.max_member_bytes,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(BundleError::TotalTooLarge {
                cap: limits.max_total_bytes,
            });
        }
        if order.len() >= limits.max_members {
            return Err(BundleError::TooManyMembers {
                cap: limits.max_members,
            });
        }
        // `size` is capped above, so this allocation is bounded.
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(64 << 20));
        (&mut entry)
            .take(limits.max_member_bytes + 1)
            .read_to_end(&mut data)
            .map_err(|e| classify(e, &format!("inside member {name:?}")))?;
        if data.len() as u64 != size {
            return Err(BundleError::Truncated(format!(
                "inside member {name:?} ({} of {size} bytes)",
                data.len()
            )));
        }
        if members.contains_key(&name) || hashes.contains_key(&name) {
            return Err(BundleError::DuplicateMember { member: name });
        }
        if name == MANIFEST_MEMBER {
            manifest_bytes = Some(data);
            continue;
        }
        let digest = hex::encode(Sha256::digest(&data));
        hashes.insert(name.clone(), (size, digest));
        members.insert(name.clone(), data);
        order.push(name);
    }
    ended_cleanly |= manifest_bytes.is_some();

    // Read the zstd stream to its end so its checksum is verified before anything is trusted; tar stops
    // at its end-of-archive blocks, before the frame's checksum.
    if ended_cleanly {
        let mut rest = archive.into_inner().take(1 << 20);
        io::copy(&mut rest, &mut io::sink()).map_err(|e| classify(e, "after the manifest"))?;
    }

    let manifest_bytes = manifest_bytes.ok_or(BundleError::MissingManifest)?;
    let manifest = parse_manifest(&manifest_bytes)?;

    let mut problems = Vec::new();
    let mut listed = std::collections::BTreeSet::new();
    for entry in &manifest.members {
        listed.insert(entry.path.as_str());
        match hashes.get(&entry.path) {
            None => problems.push(BundleError::MissingMember {
                member: entry.path.clone(),
            }),
            Some((size, _)) if *size != entry.size => problems.push(BundleError::SizeMismatch {
                member: entry.path.clone(),
                expected: entry.size,
                actual: *size,
            }),
            Some((_, digest)) if !digest.eq_ignore_ascii_case(&entry.sha256) => {
                problems.push(BundleError::HashMismatch {
                    member: entry.path.clone(),
                    expected: entry.sha256.clone(),
                    actual: digest.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for name in &order {
        if !listed.contains(name.as_str()) {
            problems.push(BundleError::UnlistedMember {
                member: name.clone(),
            });
        }
    }

    Ok(Bundle {
        manifest,
        members,
        sha256: None,
        compressed_bytes: None,
        problems,
    })
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest, BundleError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| BundleError::MalformedManifest(format!("not JSON: {e}")))?;
    if value.get("format").and_then(|v| v.as_str()) != Some(BUNDLE_FORMAT) {
        return Err(BundleError::MalformedManifest(format!(
            "\"format\" is not {BUNDLE_FORMAT:?}"
        )));
    }
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| BundleError::MalformedManifest("no numeric \"format_version\"".into()))?;
    if version != u64::from(BUNDLE_FORMAT_VERSION) {
        return Err(BundleError::UnknownFormatVersion { found: version });
    }
    serde_json::from_value(value).map_err(|e| BundleError::MalformedManifest(e.to_string()))
}
