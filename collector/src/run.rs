//! The collection run from start to finish: open the output, run every artifact family, write the
//! manifest, and leave either a complete bundle (plus its `.sha256`) or nothing at all.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use minetrace_schemas::bundle::{members, BundleSummary, BundleWriter};
use minetrace_schemas::manifest::{
    format_unix_ms, CollectorInfo, Manifest, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION,
};
use minetrace_schemas::records::host::{CollectionMode, HostIdentity};
use minetrace_schemas::records::RecordSetV1;

use crate::collection::Collection;
use crate::options::{Options, Output};

/// What the run printed at the end: enough for the responder to note down and check the bundle later.
pub struct RunSummary {
    pub output: String,
    pub bundle: BundleSummary,
    pub host: HostIdentity,
    pub processes: usize,
    pub sockets: usize,
    pub files: usize,
    pub errors: usize,
    pub elapsed_ms: i64,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "minetrace-collect: host {} (boot {}): {} processes, {} sockets, {} files, {} artifact errors in {} ms",
            minetrace_schemas::escape_bytes(self.host.hostname.as_bytes()),
            self.host.boot_id,
            self.processes,
            self.sockets,
            self.files,
            self.errors,
            self.elapsed_ms
        )?;
        writeln!(
            f,
            "minetrace-collect: wrote {} ({} members, {} bytes compressed from {})",
            self.output,
            self.bundle.members,
            self.bundle.compressed_bytes,
            self.bundle.uncompressed_bytes
        )?;
        write!(f, "sha256 {}", self.bundle.sha256)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Collects the host into the configured output.
pub fn run(options: Options) -> Result<RunSummary> {
    match options.output.clone() {
        Output::Stdout => {
            let stdout = io::stdout().lock();
            let (_, summary) = collect_into(BufWriter::new(stdout), options, "stdout".into())?;
            Ok(summary)
        }
        Output::File(path) => run_to_file(&path, options),
    }
}

/// Opens the output. A new regular file is created (never an existing one overwritten: it may be an
/// earlier bundle, i.e. evidence); an existing FIFO or character device (`-o /dev/null`, a pipe to `ssh`)
/// is written as it is. Returns the file and whether the collector created it, which decides whether a
/// failed run may remove it.
fn open_output(path: &Path) -> Result<(File, bool)> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_fifo() || meta.file_type().is_char_device() => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            Ok((file, false))
        }
        Ok(_) => anyhow::bail!(
            "{} already exists; refusing to overwrite it (it may be an earlier bundle): choose another name",
            path.display()
        ),
        Err(_) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok((file, true))
        }
    }
}

fn run_to_file(path: &Path, options: Options) -> Result<RunSummary> {
    let (file, created) = open_output(path)?;
    let verbose = options.verbose;
    let result = collect_into(BufWriter::new(file), options, path.display().to_string()).and_then(
        |(out, summary)| {
            let syncing = std::time::Instant::now();
            let file = out
                .into_inner()
                .map_err(|e| anyhow::anyhow!("flushing {}: {}", path.display(), e.error()))?;
            // A device or pipe named as output (`-o /dev/null`) is neither synced nor given a sidecar.
            if created {
                file.sync_all()
                    .with_context(|| format!("syncing {}", path.display()))?;
                write_sha256_file(path, &summary.bundle.sha256)?;
            }
            if verbose {
                eprintln!(
                    "minetrace-collect: bundle flushed and synced to disk in {} ms",
                    syncing.elapsed().as_millis()
                );
            }
            Ok(summary)
        },
    );
    if result.is_err() && created {
        // Nothing half done: a partial bundle would only mislead the analyst. Only a file this run
        // created is removed, never a device or a file that was there before.
        let _ = std::fs::remove_file(path);
    }
    result
}

fn sha256_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Writes `OUT.sha256` in the format `sha256sum -c` accepts.
fn write_sha256_file(path: &Path, sha256: &str) -> Result<()> {
    let side = sha256_path(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::write(&side, format!("{sha256}  {name}\n"))
        .with_context(|| format!("cannot write {}", side.display()))
}

/// Runs every artifact family into a bundle on `out`, returning the writer and the summary.
pub fn collect_into<W: Write>(out: W, options: Options, label: String) -> Result<(W, RunSummary)> {
    let started = now_ms();
    let writer = BundleWriter::new(
        out,
        options.zstd_threads,
        u64::try_from(started / 1000).unwrap_or(0),
    )
    .context("starting the zstd stream")?;
    let mode = if options.root.is_some() {
        CollectionMode::DeadBox
    } else {
        CollectionMode::Live
    };
    let root_label = options
        .root
        .as_ref()
        .map(|r| minetrace_schemas::escape_bytes(r.as_os_str().as_encoded_bytes()));
    let mut col = Collection::new(writer, options);

    let live = crate::live::collect(&mut col, mode).context("writing live artifacts")?;
    crate::files::collect(&mut col).context("writing file artifacts")?;

    let files = std::mem::take(&mut col.files);
    let commands = std::mem::take(&mut col.commands);
    let file_count = files.len();
    col.artifact("records", |col, log| {
        col.add_member(
            members::FILES,
            &minetrace_schemas::records::encode(&RecordSetV1::Files(files)),
        )?;
        col.add_member(
            members::COMMANDS,
            &minetrace_schemas::records::encode(&RecordSetV1::Commands(commands)),
        )?;
        log.items = 2;
        Ok(())
    })
    .context("writing file records")?;

    let col_verbose = col.options.verbose;
    let (writer, logs, exclusions) = col.into_writer();
    let errors = logs.iter().map(|l| l.errors.len()).sum();
    let ended = now_ms();
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        format_version: BUNDLE_FORMAT_VERSION,
        collector: collector_info(),
        mode,
        root: root_label,
        host: live.host.clone(),
        started_at: format_unix_ms(started),
        ended_at: format_unix_ms(ended),
        started_unix_ms: started,
        ended_unix_ms: ended,
        members: Vec::new(),
        artifacts: logs,
        exclusions,
    };
    let closing = std::time::Instant::now();
    let verbose = col_verbose;
    let (out, bundle) = writer.finish(manifest).context("finishing the bundle")?;
    if verbose {
        // The zstd workers compress what is still buffered here, while nothing else runs.
        eprintln!(
            "minetrace-collect: bundle closed (manifest written, compression finished) in {} ms",
            closing.elapsed().as_millis()
        );
    }
    Ok((
        out,
        RunSummary {
            output: label,
            bundle,
            host: live.host,
            processes: live.processes,
            sockets: live.sockets,
            files: file_count,
            errors,
            elapsed_ms: ended - started,
        },
    ))
}

fn collector_info() -> CollectorInfo {
    let sha256 = std::fs::File::open("/proc/self/exe")
        .ok()
        .and_then(|f| minetrace_schemas::bundle::hashing_io::sha256_reader(f).ok())
        .map(|(h, _)| h);
    CollectorInfo {
        name: "minetrace-collect".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        sha256,
        argv: std::env::args_os()
            .map(|a| minetrace_schemas::escape_bytes(a.as_encoded_bytes()))
            .collect(),
    }
}
