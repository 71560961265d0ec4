//! ndb `Packages.db` (rpm's own "new database", SUSE since 15 SP3 / openSUSE): a 32-byte header
//! (`RpmP` magic, version 0, generation, number of 4 KiB slot pages), slot pages of 16-byte slots
//! (`Slot` magic, package index, block offset, block count; index 0 = free), and per package a block of
//! 16-byte units at `offset × 16`: a 16-byte blob header (`BlbS` magic, package index, checksum, blob
//! length) followed by the header blob. Everything little-endian (rpm writes host order; ndb hosts are
//! little-endian x86-64/aarch64). Format as rpm's `lib/backend/ndb/rpmpkg.c` defines it.
//!
//! The blob's Adler-32 is not verified (a damaged blob fails header decoding instead); every offset and
//! length is checked against the file and the slot's block count.

use super::{BlobSink, ReadAt};

const HEADER_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const SLOT_PAGE: u64 = 4096;
const BLOCK: u64 = 16;
/// Slot pages accepted at most (2,048 pages = 524,286 packages).
const MAX_SLOT_PAGES: u32 = 2048;
const MAX_BLOB: u32 = 256 << 20;

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Reads every package blob of an ndb database into `sink`.
pub fn read<R: ReadAt + ?Sized>(file: &R, sink: &mut BlobSink<'_>) -> Result<(), String> {
    let mut head = [0u8; 32];
    file.read_exact_at(0, &mut head)
        .map_err(|e| format!("ndb header: {e}"))?;
    if le32(&head, 0) != HEADER_MAGIC {
        return Err("not an ndb database (no RpmP magic)".into());
    }
    if le32(&head, 4) != 0 {
        return Err(format!("ndb version {} is not supported", le32(&head, 4)));
    }
    let pages = le32(&head, 12);
    if pages == 0 || pages > MAX_SLOT_PAGES {
        return Err(format!("ndb: {pages} slot pages"));
    }
    let slots_len = u64::from(pages) * SLOT_PAGE;
    if slots_len > file.size() {
        return Err(format!(
            "ndb: {pages} slot pages do not fit the {}-byte file",
            file.size()
        ));
    }
    let mut slots = vec![0u8; (slots_len - 32) as usize];
    file.read_exact_at(32, &mut slots)
        .map_err(|e| format!("ndb slots: {e}"))?;
    for (i, slot) in slots.chunks_exact(16).enumerate() {
        if le32(slot, 0) != SLOT_MAGIC {
            sink.error(format!("ndb slot {i}: bad magic"));
            break;
        }
        let (pkg, offset, count) = (le32(slot, 4), le32(slot, 8), le32(slot, 12));
        if pkg == 0 {
            continue;
        }
        let at = u64::from(offset) * BLOCK;
        let room = u64::from(count) * BLOCK;
        let mut blob_head = [0u8; 16];
        if room < 16 || file.read_exact_at(at, &mut blob_head).is_err() {
            sink.error(format!(
                "ndb package {pkg}: block at {at} is outside the file"
            ));
            continue;
        }
        let len = le32(&blob_head, 12);
        if le32(&blob_head, 0) != BLOB_MAGIC || le32(&blob_head, 4) != pkg {
            sink.error(format!("ndb package {pkg}: no blob header at {at}"));
            continue;
        }
        if len > MAX_BLOB || u64::from(len) + 16 > room {
            sink.error(format!(
                "ndb package {pkg}: blob of {len} bytes in a {room}-byte block"
            ));
            continue;
        }
        let mut blob = vec![0u8; len as usize];
        if let Err(e) = file.read_exact_at(at + 16, &mut blob) {
            sink.error(format!("ndb package {pkg}: {e}"));
            continue;
        }
        if !sink.blob(&blob) {
            break;
        }
    }
    Ok(())
}

/// Byte-slice entry point (fuzzing, fixtures).
pub fn read_bytes(bytes: &[u8], sink: &mut BlobSink<'_>) -> Result<(), String> {
    read(bytes, sink)
}
