//! Builds a large bundle for the analyzer's memory benchmark (`docs/BENCHMARKS.md`, "Analyzer: peak
//! memory"): every member and record of a real sample bundle, plus about SIZE MiB of host files recorded
//! as the collector records them — half copied executables (incompressible bytes, as real binaries
//! mostly are), a quarter auth-log rotations full of sshd lines (so the auth events are at their cap),
//! a quarter shell histories and crontab-sized text under homes.
//!
//! `cargo run --release -p minetrace-analyzer --example big_bundle -- SAMPLE.tar.zst OUT.tar.zst [SIZE_MIB]`
//! prints the bundle's compressed and decompressed sizes.

use std::path::PathBuf;

use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::{members, Bundle, BundleWriter, ReadLimits};
use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
use minetrace_schemas::records::RecordSetV1;
use minetrace_schemas::RawBytes;

/// A small xorshift generator: reproducible filler that zstd cannot shrink.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            let n = chunk.len();
            chunk.copy_from_slice(bytes.get(..n).unwrap_or_default());
        }
    }
}

fn record(path: &str, content: &[u8], mode: u32, category: &str) -> FileRecord {
    let t = FileTime {
        secs: 1_790_000_000,
        nanos: 0,
    };
    FileRecord {
        path: RawBytes::from(path),
        category: category.into(),
        kind: FileKind::Regular,
        link_target: None,
        mode,
        uid: 0,
        gid: 0,
        size: content.len() as u64,
        dev: 2049,
        ino: 500_000 + path.len() as u64,
        nlink: 1,
        mtime: t,
        atime: t,
        ctime: t,
        btime: None,
        flags: Some(0),
        immutable: false,
        append_only: false,
        sha256: Some(minetrace_schemas::bundle::hashing_io::sha256_hex(content)),
        member: Some(fs_member(path.as_bytes())),
        truncated: false,
        error: None,
    }
}

fn auth_log(bytes: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 200);
    let mut i = seed;
    while out.len() < bytes {
        i += 1;
        let line = format!(
            "Nov {:2} {:02}:{:02}:{:02} cache-03 sshd[{}]: Failed password for invalid user user{} from 198.51.{}.{} port {} ssh2\n",
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60,
            1000 + i % 30000,
            i % 5000,
            i % 250,
            (i / 250) % 250,
            1024 + i % 60000
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn history(bytes: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 100);
    let mut i = seed;
    while out.len() < bytes {
        i += 1;
        let line = format!(
            "cd /srv/app{} && git pull && make -j4 build-{} && ./deploy.sh --env staging-{}\n",
            i % 97,
            i,
            i % 13
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(sample), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: big_bundle SAMPLE.tar.zst OUT.tar.zst [SIZE_MIB]");
        std::process::exit(2);
    };
    let size_mib: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let mut bundle = Bundle::open(&PathBuf::from(sample), ReadLimits::default())?.verified()?;
    let mut manifest = bundle.manifest.clone();
    let mut members_in = bundle.take_members();
    let mut files = match members_in
        .remove(members::FILES)
        .map(|b| minetrace_schemas::records::decode(&b))
    {
        Some(Ok(RecordSetV1::Files(f))) => f,
        _ => Vec::new(),
    };
    let file = std::fs::File::create(out)?;
    let mut w = BundleWriter::new(std::io::BufWriter::new(file), 2, 0)?;
    for (name, bytes) in &members_in {
        w.add(name, bytes)?;
    }
    let total = size_mib << 20;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut added = 0usize;
    let mut n = 0u64;
    // Half: copied executables of 4 MiB each.
    while added < total / 2 {
        n += 1;
        let mut exe = vec![0u8; 4 << 20];
        noise.fill(&mut exe);
        if let Some(head) = exe.get_mut(..4) {
            head.copy_from_slice(b"\x7fELF");
        }
        let path = format!("/opt/tools/bin/tool{n}");
        let rec = record(&path, &exe, 0o755, "exe-dir");
        w.add(rec.member.as_deref().unwrap_or_default(), &exe)?;
        files.push(rec);
        added += exe.len();
    }
    // A quarter: auth log rotations of 8 MiB.
    let mut r = 0u64;
    while added < total * 3 / 4 {
        r += 1;
        let log = auth_log(8 << 20, r * 1_000_000);
        let path = format!("/var/log/auth.log.{r}");
        let rec = record(&path, &log, 0o640, "log");
        w.add(rec.member.as_deref().unwrap_or_default(), &log)?;
        files.push(rec);
        added += log.len();
    }
    // A quarter: shell histories of 2 MiB in homes.
    let mut h = 0u64;
    while added < total {
        h += 1;
        let text = history(2 << 20, h * 10_000);
        let path = format!("/home/dev{h}/.bash_history");
        let rec = record(&path, &text, 0o600, "history");
        w.add(rec.member.as_deref().unwrap_or_default(), &text)?;
        files.push(rec);
        added += text.len();
    }
    w.add_records(members::FILES, &RecordSetV1::Files(files))?;
    manifest.members.clear();
    let (_, summary) = w.finish(manifest)?;
    println!(
        "{out}: {} bytes compressed, {} bytes decompressed, {} members, sha256 {}",
        summary.compressed_bytes, summary.uncompressed_bytes, summary.members, summary.sha256
    );
    Ok(())
}
