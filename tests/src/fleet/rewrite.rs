//! Rewriting a collected bundle into another host's bundle with the schemas writer: new identity and
//! addresses, lines appended to text artifacts (auth log, `/etc/hosts`, `known_hosts`, a history), and
//! byte substitutions that give a cluster its own indicators (a wallet, a URL, an SSH key, a binary's
//! hash). Substitutions keep the length of what they replace, so record members (postcard: length-
//! prefixed strings) stay well-formed when they are substituted as bytes; every captured file whose
//! content changed gets its size and sha256 recomputed, so the bundle stays consistent.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::{members, Bundle, BundleWriter, ReadLimits};
use minetrace_schemas::manifest::Manifest;
use minetrace_schemas::records::address::InterfaceAddress;
use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
use minetrace_schemas::records::{decode, encode, RecordSetV1};
use minetrace_schemas::RawBytes;
use sha2::{Digest, Sha256};

/// A bundle held as members, ready to be changed and written again.
#[derive(Clone)]
pub struct Editable {
    pub manifest: Manifest,
    pub members: BTreeMap<String, Vec<u8>>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Replaces every occurrence of `from` by `to` (same length) in `hay`; returns how many.
fn replace_all(hay: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    if from.is_empty() || from.len() != to.len() || hay.len() < from.len() {
        return 0;
    }
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= hay.len() {
        if hay.get(i..i + from.len()) == Some(from) {
            if let Some(slot) = hay.get_mut(i..i + from.len()) {
                slot.copy_from_slice(to);
            }
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

impl Editable {
    pub fn open(path: &Path) -> Result<Editable> {
        let bundle = Bundle::open(path, ReadLimits::default())
            .and_then(Bundle::verified)
            .with_context(|| format!("reading {}", path.display()))?;
        let members = bundle
            .member_names()
            .filter_map(|n| Some((n.to_owned(), bundle.member(n)?.to_vec())))
            .collect();
        Ok(Editable {
            manifest: bundle.manifest,
            members,
        })
    }

    fn records(&self, name: &str) -> Result<Option<RecordSetV1>> {
        match self.members.get(name) {
            Some(bytes) => Ok(Some(decode(bytes).map_err(|e| anyhow!("{name}: {e}"))?)),
            None => Ok(None),
        }
    }

    fn files(&self) -> Result<Vec<FileRecord>> {
        match self.records(members::FILES)? {
            Some(RecordSetV1::Files(v)) => Ok(v),
            None => Ok(Vec::new()),
            Some(_) => Err(anyhow!("files member holds another record kind")),
        }
    }

    fn set_files(&mut self, files: Vec<FileRecord>) {
        self.members
            .insert(members::FILES.into(), encode(&RecordSetV1::Files(files)));
    }

    /// Substitutes `from` by `to` (same length) in every member; returns how many members changed.
    pub fn substitute(&mut self, from: &[u8], to: &[u8]) -> Result<usize> {
        if from.len() != to.len() {
            return Err(anyhow!("substitutions must keep the length"));
        }
        let mut changed = 0;
        for bytes in self.members.values_mut() {
            if replace_all(bytes, from, to) > 0 {
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Gives every captured content hashing to `sha256` a `tag` appended, and every record naming
    /// that hash the new one (`bin/<sha256>` renamed too). Returns the new hash.
    pub fn rehash(&mut self, sha256: &str, tag: &[u8]) -> Result<String> {
        let mut new_hash = None;
        for bytes in self.members.values_mut() {
            if sha256_hex(bytes) == sha256 {
                bytes.extend_from_slice(tag);
                new_hash = Some(sha256_hex(bytes));
            }
        }
        let new_hash = new_hash.unwrap_or_else(|| sha256_hex(&[sha256.as_bytes(), tag].concat()));
        if let Some(copy) = self.members.remove(&members::binary(sha256)) {
            self.members.insert(members::binary(&new_hash), copy);
        }
        let names: Vec<String> = self
            .members
            .keys()
            .filter(|n| n.starts_with("records/"))
            .cloned()
            .collect();
        for n in names {
            if let Some(bytes) = self.members.get_mut(&n) {
                replace_all(bytes, sha256.as_bytes(), new_hash.as_bytes());
                // Member names inside records (`bin/<sha256>`) change with it, same length.
            }
        }
        Ok(new_hash)
    }

    /// Brings the size and sha256 of every captured file in line with its member's bytes.
    pub fn refresh_file_hashes(&mut self) -> Result<()> {
        let mut files = self.files()?;
        for f in &mut files {
            if let Some(bytes) = f.member.as_ref().and_then(|m| self.members.get(m)) {
                f.size = bytes.len() as u64;
                f.sha256 = Some(sha256_hex(bytes));
            }
        }
        self.set_files(files);
        Ok(())
    }

    /// Appends text to a captured file, creating its record (regular, root, 0600) when absent.
    pub fn append_file(&mut self, path: &[u8], category: &str, text: &[u8]) -> Result<()> {
        let mut files = self.files()?;
        let member = match files.iter_mut().find(|f| f.path.as_bytes() == path) {
            Some(f) => match &f.member {
                Some(m) => m.clone(),
                None => {
                    let m = fs_member(path);
                    f.member = Some(m.clone());
                    m
                }
            },
            None => {
                let t = FileTime {
                    secs: 1_748_736_000,
                    nanos: 0,
                };
                let m = fs_member(path);
                files.push(FileRecord {
                    path: RawBytes::from(path),
                    category: category.into(),
                    kind: FileKind::Regular,
                    link_target: None,
                    mode: 0o600,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    dev: 2049,
                    ino: 900_000 + files.len() as u64,
                    nlink: 1,
                    mtime: t,
                    atime: t,
                    ctime: t,
                    btime: None,
                    flags: Some(0),
                    immutable: false,
                    append_only: false,
                    sha256: None,
                    member: Some(m.clone()),
                    truncated: false,
                    error: None,
                });
                m
            }
        };
        let bytes = self.members.entry(member).or_default();
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(text);
        self.set_files(files);
        Ok(())
    }

    /// Names the host: hostname and machine-id in the host record and the manifest.
    pub fn set_identity(&mut self, hostname: &str, machine_id: &str) -> Result<()> {
        if let Some(RecordSetV1::Host(mut host)) = self.records(members::HOST)? {
            host.identity.hostname = hostname.into();
            host.identity.machine_id = machine_id.into();
            self.members
                .insert(members::HOST.into(), encode(&RecordSetV1::Host(host)));
        }
        self.manifest.host.hostname = hostname.into();
        self.manifest.host.machine_id = machine_id.into();
        Ok(())
    }

    pub fn set_addresses(&mut self, addresses: Vec<InterfaceAddress>) {
        self.members.insert(
            members::ADDRESSES.into(),
            encode(&RecordSetV1::Addresses(addresses)),
        );
    }

    /// Writes the bundle (manifest last, member list recomputed).
    pub fn write(&self, path: &Path) -> Result<String> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BundleWriter::new(std::io::BufWriter::new(file), 0, 0)?;
        for (name, bytes) in &self.members {
            w.add(name, bytes)?;
        }
        let (_, summary) = w.finish(self.manifest.clone())?;
        Ok(summary.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_keeps_length_and_counts() {
        let mut v = b"aXbXXc".to_vec();
        assert_eq!(replace_all(&mut v, b"X", b"Y"), 3);
        assert_eq!(v, b"aYbYYc");
        assert_eq!(replace_all(&mut v, b"Y", b"ZZ"), 0);
    }
}
