//! Berkeley DB `Packages` (rpm < 4.16: EL7, EL8, Alibaba Cloud Linux 2/3, Amazon Linux 2): a BDB hash
//! database whose keys are 4-byte header numbers and whose values are header blobs.
//!
//! The reader does not follow the hash's buckets: it visits every page once, in file order, takes the
//! key/data pairs of hash pages (`P_HASH`, and `P_HASH_UNSORTED` from older writers), and follows a data
//! item's overflow chain (`H_OFFPAGE` → `P_OVERFLOW` pages) when the blob did not fit on the page, as
//! go-rpmdb's reader does. Both byte orders are read (the metadata magic says which). Every page number,
//! offset and length is checked; chains are bounded by the length they claim and by the page count.
//!
//! Page layout (BDB 5.3, `dbinc/db_page.h`): a 26-byte header — LSN (8), pgno (4), prev (4), next (4),
//! entries (2), hf_offset (2; on overflow pages the bytes used), level (1), type (1) — then `entries`
//! 2-byte item offsets; items are packed from the page's end downward.

use super::{BlobSink, ReadAt};

const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;
/// Largest blob assembled from an overflow chain (rpm refuses headers over 256 MiB too).
const MAX_BLOB: usize = 256 << 20;

#[derive(Clone, Copy)]
struct Order {
    little: bool,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at.checked_add(2)?)?;
        let a = [s[0], s[1]];
        Some(if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at.checked_add(4)?)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
}

struct Db<'a, R: ReadAt + ?Sized> {
    file: &'a R,
    order: Order,
    page_size: usize,
    pages: u32,
}

impl<R: ReadAt + ?Sized> Db<'_, R> {
    fn page(&self, number: u32) -> Result<Vec<u8>, String> {
        if number >= self.pages {
            return Err(format!(
                "page {number} is past the file's {} pages",
                self.pages
            ));
        }
        let mut buf = vec![0u8; self.page_size];
        self.file
            .read_exact_at(u64::from(number) * self.page_size as u64, &mut buf)
            .map_err(|e| format!("page {number}: {e}"))?;
        Ok(buf)
    }

    /// The bytes of an overflow chain starting at `first`, `total` bytes long.
    fn overflow(&self, first: u32, total: usize) -> Result<Vec<u8>, String> {
        if total > MAX_BLOB {
            return Err(format!("an overflow item of {total} bytes"));
        }
        let mut out = Vec::with_capacity(total.min(1 << 20));
        let mut next = first;
        let mut hops = 0u32;
        while out.len() < total {
            if next == 0 || hops >= self.pages {
                return Err(format!(
                    "overflow chain from page {first} ended after {} of {total} bytes",
                    out.len()
                ));
            }
            hops += 1;
            let page = self.page(next)?;
            if page.get(25) != Some(&P_OVERFLOW) {
                return Err(format!(
                    "page {next} in an overflow chain is not an overflow page"
                ));
            }
            let used = usize::from(self.order.u16(&page, 22).unwrap_or(0));
            let data = page
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .ok_or_else(|| format!("overflow page {next} claims {used} bytes"))?;
            let take = data.len().min(total - out.len());
            out.extend_from_slice(data.get(..take).unwrap_or(&[]));
            next = self.order.u32(&page, 16).unwrap_or(0);
        }
        Ok(out)
    }

    /// Item `i` of a hash page: its type byte and the bytes after it.
    fn item<'p>(&self, page: &'p [u8], i: usize) -> Option<(u8, &'p [u8])> {
        let at = usize::from(self.order.u16(page, PAGE_HEADER + 2 * i)?);
        let end = if i == 0 {
            self.page_size
        } else {
            usize::from(self.order.u16(page, PAGE_HEADER + 2 * (i - 1))?)
        };
        let bytes = page.get(at..end)?;
        let (kind, rest) = bytes.split_first()?;
        Some((*kind, rest))
    }
}

/// Reads every value of a BDB hash `Packages` database into `sink`.
pub fn read<R: ReadAt + ?Sized>(file: &R, sink: &mut BlobSink<'_>) -> Result<(), String> {
    let mut meta = [0u8; 512];
    file.read_exact_at(0, &mut meta)
        .map_err(|e| format!("Berkeley DB metadata page: {e}"))?;
    let order = [true, false]
        .into_iter()
        .map(|little| Order { little })
        .find(|o| o.u32(&meta, 12) == Some(HASH_MAGIC))
        .ok_or("not a Berkeley DB hash database (no hash magic)")?;
    if meta.get(25) != Some(&P_HASHMETA) {
        return Err("Berkeley DB: page 0 is not a hash metadata page".into());
    }
    if meta.get(24).is_some_and(|e| *e != 0) {
        return Err("Berkeley DB: the database is encrypted".into());
    }
    let page_size = order.u32(&meta, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("Berkeley DB: page size {page_size}"));
    }
    let last = order.u32(&meta, 32).unwrap_or(0);
    let in_file = u32::try_from(file.size() / page_size as u64).unwrap_or(u32::MAX);
    let pages = last.saturating_add(1).min(in_file);
    let db = Db {
        file,
        order,
        page_size,
        pages,
    };
    for number in 1..pages {
        let page = db.page(number)?;
        if !matches!(page.get(25), Some(&P_HASH) | Some(&P_HASH_UNSORTED)) {
            continue;
        }
        let entries = usize::from(order.u16(&page, 20).unwrap_or(0));
        if PAGE_HEADER + 2 * entries > page_size {
            sink.error(format!("Berkeley DB page {number}: {entries} entries"));
            continue;
        }
        for pair in 0..entries / 2 {
            let key = db.item(&page, 2 * pair);
            // Key 0 holds rpm's next free header number, not a package.
            if let Some((H_KEYDATA, k)) = key {
                if k.iter().all(|b| *b == 0) {
                    continue;
                }
            }
            let value = match db.item(&page, 2 * pair + 1) {
                Some((H_KEYDATA, v)) => v.to_vec(),
                Some((H_OFFPAGE, v)) => {
                    // HOFFPAGE after the type byte: 3 unused, pgno (4), tlen (4).
                    let (Some(pgno), Some(tlen)) = (order.u32(v, 3), order.u32(v, 7)) else {
                        sink.error(format!("Berkeley DB page {number}: short overflow item"));
                        continue;
                    };
                    match db.overflow(pgno, tlen as usize) {
                        Ok(v) => v,
                        Err(e) => {
                            sink.error(format!("Berkeley DB page {number}: {e}"));
                            continue;
                        }
                    }
                }
                Some((kind, _)) => {
                    sink.error(format!(
                        "Berkeley DB page {number}: item type {kind} (duplicates) not read"
                    ));
                    continue;
                }
                None => {
                    sink.error(format!(
                        "Berkeley DB page {number}: item {pair} out of bounds"
                    ));
                    continue;
                }
            };
            if !sink.blob(&value) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Byte-slice entry point (fuzzing, fixtures).
pub fn read_bytes(bytes: &[u8], sink: &mut BlobSink<'_>) -> Result<(), String> {
    read(bytes, sink)
}
