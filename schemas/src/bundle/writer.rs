//! Streams a bundle: members go straight into `tar` inside multithreaded `zstd` on any writer (a file or
//! stdout), each hashed on the way; `manifest.json` closes it. Nothing is staged on the host's disk.

use std::collections::HashSet;
use std::io::{self, Write};

use thiserror::Error;

use super::hashing_io::{sha256_hex, HashingWriter};
use super::member_name::unsafe_reason;
use crate::manifest::{Manifest, MemberEntry, MANIFEST_MEMBER};
use crate::records::{self, RecordSetV1};

/// zstd level the bundle is written at: fast enough on a host whose CPUs a miner is eating.
pub const ZSTD_LEVEL: i32 = 3;
/// Input bytes per zstd worker job (zstd's smallest is 512 KiB).
const ZSTD_JOB_BYTES: u32 = 1 << 20;

#[derive(Debug, Error)]
pub enum WriteError {
    #[error("member name {name:?} is not allowed: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("member {0:?} was already written")]
    Duplicate(String),
    #[error("writing member {member:?}: {err}")]
    Io { member: String, err: io::Error },
    #[error("encoding the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
}

/// What a finished bundle is, for the summary line and the `.sha256` file.
#[derive(Debug, Clone)]
pub struct BundleSummary {
    pub sha256: String,
    pub compressed_bytes: u64,
    pub members: usize,
    pub uncompressed_bytes: u64,
}

type Sink<W> = zstd::stream::write::Encoder<'static, HashingWriter<W>>;

pub struct BundleWriter<W: Write> {
    tar: tar::Builder<Sink<W>>,
    members: Vec<MemberEntry>,
    names: HashSet<String>,
    mtime: u64,
    uncompressed: u64,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle on `out`. `threads` zstd workers (0 = compress on the calling thread);
    /// `mtime` is stamped on every tar header so bundles do not leak the analyst's clock.
    pub fn new(out: W, threads: u32, mtime: u64) -> io::Result<Self> {
        let mut enc = zstd::stream::write::Encoder::new(HashingWriter::new(out), ZSTD_LEVEL)?;
        enc.include_checksum(true)?;
        if threads > 0 {
            enc.multithread(threads)?;
            // Jobs of 1 MiB, not zstd's 8 MiB default at this level: a few-MiB bundle then compresses
            // on the workers while the collection runs, instead of in one job after the last member.
            enc.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_BYTES))?;
        }
        let mut tar = tar::Builder::new(enc);
        tar.mode(tar::HeaderMode::Deterministic);
        Ok(BundleWriter {
            tar,
            members: Vec::new(),
            names: HashSet::new(),
            mtime,
            uncompressed: 0,
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    pub fn members(&self) -> &[MemberEntry] {
        &self.members
    }

    /// Adds one member. Names must pass [`unsafe_reason`] and be unique; [`MANIFEST_MEMBER`] is reserved.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<MemberEntry, WriteError> {
        if let Some(reason) = unsafe_reason(name) {
            return Err(WriteError::BadName {
                name: name.to_owned(),
                reason,
            });
        }
        if name == MANIFEST_MEMBER {
            return Err(WriteError::BadName {
                name: name.to_owned(),
                reason: "reserved for the manifest",
            });
        }
        if !self.names.insert(name.to_owned()) {
            return Err(WriteError::Duplicate(name.to_owned()));
        }
        self.append(name, data)?;
        let entry = MemberEntry {
            path: name.to_owned(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
        };
        self.members.push(entry.clone());
        Ok(entry)
    }

    /// Adds a structured record member in the versioned postcard envelope.
    pub fn add_records(
        &mut self,
        name: &str,
        set: &RecordSetV1,
    ) -> Result<MemberEntry, WriteError> {
        self.add(name, &records::encode(set))
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<(), WriteError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.tar
            .append_data(&mut header, name, data)
            .map_err(|err| WriteError::Io {
                member: name.to_owned(),
                err,
            })?;
        self.uncompressed += data.len() as u64;
        Ok(())
    }

    /// Writes the manifest (with the member list filled in) as the last member and closes the streams.
    /// Returns the underlying writer so the caller can flush or sync it.
    pub fn finish(mut self, mut manifest: Manifest) -> Result<(W, BundleSummary), WriteError> {
        manifest.members = std::mem::take(&mut self.members);
        let json = serde_json::to_vec_pretty(&manifest)?;
        self.append(MANIFEST_MEMBER, &json)?;
        let io_err = |err| WriteError::Io {
            member: MANIFEST_MEMBER.to_owned(),
            err,
        };
        let enc = self.tar.into_inner().map_err(io_err)?;
        let hashing = enc.finish().map_err(io_err)?;
        let (mut out, sha256, compressed_bytes) = hashing.finish();
        out.flush().map_err(io_err)?;
        Ok((
            out,
            BundleSummary {
                sha256,
                compressed_bytes,
                members: manifest.members.len() + 1,
                uncompressed_bytes: self.uncompressed,
            },
        ))
    }
}
