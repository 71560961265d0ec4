//! `/proc/PID/maps`, executable mappings only: the libraries a process runs, and the tell-tale ones —
//! deleted files, memfd images and anonymous executable memory (injected or unpacked code).
//!
//! Data mappings say nothing about what runs and are dropped to keep 10,000-process hosts small.
//! A mapping shown with the kernel's ` (deleted)` suffix is confirmed through
//! `/proc/PID/map_files/START-END` (link count 0); a file merely *named* `x (deleted)` is not deleted.

use std::io::{self, BufRead, BufReader, Read};

use minetrace_schemas::records::process::{FileId, Mapping, MappingKind};
use minetrace_schemas::RawBytes;

use super::proc_dir::ProcDir;

/// Bytes of `maps` read at most (a JVM or browser has a few MiB of maps; beyond that is abuse).
pub const MAPS_CAP: u64 = 16 << 20;
/// Executable mappings kept per process at most.
pub const MAX_EXEC_MAPPINGS: usize = 4096;

const DELETED_SUFFIX: &[u8] = b" (deleted)";
/// Column at which the kernel pads the path on 64-bit hosts (`25 + sizeof(void *) * 6 - 1`, plus a space).
const PATH_COLUMN: usize = 73;

/// One parsed line of `maps`, before the deleted check.
#[derive(Debug, Clone, PartialEq)]
pub struct MapsLine {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub offset: u64,
    pub dev: u64,
    pub ino: u64,
    /// The path or pseudo-name (`[heap]`, `[vdso]`), `\012` turned back into a newline.
    pub path: Option<Vec<u8>>,
}

impl MapsLine {
    pub fn executable(&self) -> bool {
        self.perms.as_bytes().get(2) == Some(&b'x')
    }
}

fn hex(field: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(field).ok()?, 16).ok()
}

/// Parses one line. The path starts at the padded column, so a name that itself starts with spaces keeps
/// them.
pub fn parse_line(line: &[u8]) -> Option<MapsLine> {
    let mut pos = 0;
    let mut fields: [&[u8]; 5] = [&[]; 5];
    for slot in fields.iter_mut() {
        while line.get(pos) == Some(&b' ') {
            pos += 1;
        }
        let start = pos;
        while line.get(pos).is_some_and(|b| *b != b' ') {
            pos += 1;
        }
        *slot = line.get(start..pos)?;
        if slot.is_empty() {
            return None;
        }
    }
    let [range, perms, offset, dev, ino] = fields;
    let dash = range.iter().position(|b| *b == b'-')?;
    let start = hex(range.get(..dash)?)?;
    let end = hex(range.get(dash + 1..)?)?;
    let colon = dev.iter().position(|b| *b == b':')?;
    let major = u32::try_from(hex(dev.get(..colon)?)?).ok()?;
    let minor = u32::try_from(hex(dev.get(colon + 1..)?)?).ok()?;
    let ino = std::str::from_utf8(ino).ok()?.parse::<u64>().ok()?;
    let target = (pos + 1).max(PATH_COLUMN);
    while pos < target && line.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let rest = line.get(pos..).unwrap_or_default();
    let path = (!rest.is_empty()).then(|| unescape_newlines(rest));
    Some(MapsLine {
        start,
        end,
        perms: String::from_utf8_lossy(perms).into_owned(),
        offset: hex(offset)?,
        dev: rustix::fs::makedev(major, minor),
        ino,
        path,
    })
}

/// The kernel writes a newline in a mapped file's name as `\012` (and nothing else escaped), so the
/// table stays one mapping per line. A name that really contains the four characters `\012` is
/// indistinguishable; that ambiguity is the kernel's.
fn unescape_newlines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' && bytes.get(i + 1..i + 4) == Some(b"012") {
            out.push(b'\n');
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Classifies an executable mapping and decides deletion by link count where the kernel allows it.
fn to_mapping(line: MapsLine, dir: &ProcDir) -> Mapping {
    let file = (line.ino != 0).then_some(FileId {
        dev: line.dev,
        ino: line.ino,
    });
    let mut path = line.path.clone();
    let kind = match path.as_deref() {
        None => MappingKind::AnonymousExec,
        Some(p) if p.starts_with(b"/memfd:") => MappingKind::Memfd,
        Some(p) if p.starts_with(b"[anon") || p == b"[heap]" || p.starts_with(b"[stack") => {
            MappingKind::AnonymousExec
        }
        Some(p) if p.starts_with(b"[") => MappingKind::Other,
        Some(p) if p.ends_with(DELETED_SUFFIX) => {
            let name = format!("map_files/{:x}-{:x}", line.start, line.end);
            let deleted = match dir.stat_target(&name) {
                Ok(st) => st.st_nlink == 0,
                // Without CAP_SYS_ADMIN map_files is closed; the suffix is the best evidence left.
                Err(_) => true,
            };
            if deleted {
                if let Some(p) = path.as_mut() {
                    p.truncate(p.len() - DELETED_SUFFIX.len());
                }
                MappingKind::DeletedFile
            } else {
                MappingKind::File
            }
        }
        Some(_) if file.is_some() => MappingKind::File,
        Some(_) => MappingKind::Other,
    };
    Mapping {
        start: line.start,
        end: line.end,
        perms: line.perms,
        offset: line.offset,
        file,
        path: path.map(RawBytes::new),
        kind,
    }
}

/// Executable mappings of the process behind `dir`. Returns what was read and whether it was cut short.
pub fn collect(dir: &ProcDir) -> io::Result<(Vec<Mapping>, bool)> {
    let file = dir.open_file("maps")?;
    let mut reader = BufReader::with_capacity(64 * 1024, file.take(MAPS_CAP));
    let mut out = Vec::new();
    let mut line = Vec::with_capacity(256);
    let mut read_total: u64 = 0;
    let mut truncated = false;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        read_total += n as u64;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let Some(parsed) = parse_line(text) else {
            continue;
        };
        if !parsed.executable() {
            continue;
        }
        if out.len() >= MAX_EXEC_MAPPINGS {
            truncated = true;
            break;
        }
        out.push(to_mapping(parsed, dir));
    }
    if read_total >= MAPS_CAP {
        truncated = true;
    }
    Ok((out, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_anon_and_pseudo_lines() {
        let l = parse_line(
            b"55fa5e7ff000-55fa5e804000 r-xp 00002000 fe:00 247030                     /usr/bin/cat",
        )
        .unwrap();
        assert_eq!(
            (l.start, l.end, l.offset, l.ino),
            (0x55fa5e7ff000, 0x55fa5e804000, 0x2000, 247030)
        );
        assert_eq!(l.dev, rustix::fs::makedev(0xfe, 0));
        assert_eq!(l.path.as_deref(), Some(&b"/usr/bin/cat"[..]));
        assert!(l.executable());

        let anon = parse_line(b"7fb512f0c000-7fb512f2e000 rwxp 00000000 00:00 0 ").unwrap();
        assert_eq!(anon.path, None);
        let heap = parse_line(
            b"55fa74eab000-55fa74ecc000 rw-p 00000000 00:00 0                          [heap]",
        )
        .unwrap();
        assert_eq!(heap.path.as_deref(), Some(&b"[heap]"[..]));
        assert!(!heap.executable());
        assert_eq!(parse_line(b"garbage"), None);
        assert_eq!(parse_line(b""), None);
    }

    #[test]
    fn hostile_names_keep_spaces_newlines_and_high_bytes() {
        let line = b"7f0000000000-7f0000001000 r-xp 00000000 08:01 12                         \
                     \x20lead\\012x\xff (deleted)";
        let l = parse_line(line).unwrap();
        assert_eq!(l.path.as_deref(), Some(&b" lead\nx\xff (deleted)"[..]));
    }

    #[test]
    fn own_maps_have_the_test_binary_and_no_blank_paths() {
        let proc = ProcDir::open_path("/proc").unwrap();
        let me = proc.open_dir(&std::process::id().to_string()).unwrap();
        let (maps, truncated) = collect(&me).unwrap();
        assert!(!truncated);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(maps.iter().any(|m| m.kind == MappingKind::File
            && m.path.as_ref().map(RawBytes::as_bytes)
                == Some(exe.as_os_str().as_encoded_bytes())));
        for m in &maps {
            if let Some(p) = &m.path {
                assert!(
                    p.as_bytes().starts_with(b"/") || p.as_bytes().starts_with(b"["),
                    "{p:?}"
                );
            }
        }
    }
}
