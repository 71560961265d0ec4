//! The real minetrace binaries (and this crate's own sandbox init), built once per test process.
//!
//! An integration test only gets `CARGO_BIN_EXE_*` for its own package, so the collector and the analyzer are
//! built here with the same `cargo` that runs the tests, into the same target directory, once per process and
//! package (`OnceLock`). `cargo test --workspace` and `cargo test -p minetrace-e2e` therefore both work alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

/// Paths of the binaries the end-to-end tests drive.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `minetrace-collect`.
    pub collector: PathBuf,
    /// `minetrace` (the analyzer).
    pub analyzer: PathBuf,
    /// This crate's `minetrace-sandbox-init`, PID 1 of every sandbox.
    pub sandbox_init: PathBuf,
}

/// The `cargo` that built this crate; `CARGO` at run time wins so a wrapper toolchain is respected.
fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO")))
}

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The target directory cargo uses for this workspace (`CARGO_TARGET_DIR` when set, else `<root>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Builds `package`'s binaries (once per process per package) and returns the path of `bin`.
fn built(
    cell: &'static OnceLock<Result<PathBuf, String>>,
    package: &str,
    bin: &str,
) -> Result<PathBuf> {
    cell.get_or_init(|| build(package, bin).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `minetrace-collect`, built on first use.
pub fn collector() -> Result<PathBuf> {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    built(&CELL, "minetrace-collector", "minetrace-collect")
}

/// `minetrace` (the analyzer), built on first use.
pub fn analyzer() -> Result<PathBuf> {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    built(&CELL, "minetrace-analyzer", "minetrace")
}

/// This crate's `minetrace-sandbox-init`, built on first use.
pub fn sandbox_init() -> Result<PathBuf> {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    built(&CELL, "minetrace-e2e", "minetrace-sandbox-init")
}

/// All three. Each is built separately, so a sandbox test does not wait on (or fail with) an analyzer that
/// does not compile.
pub fn binaries() -> Result<Binaries> {
    Ok(Binaries {
        collector: collector()?,
        analyzer: analyzer()?,
        sandbox_init: sandbox_init()?,
    })
}

fn build(package: &str, bin: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let output = Command::new(cargo())
        .current_dir(&root)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .output()
        .with_context(|| format!("running {} build", cargo().display()))?;
    if !output.status.success() {
        bail!(
            "cargo build -p {package} --bin {bin} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let path = target_dir().join("debug").join(bin);
    if path.is_file() {
        Ok(path)
    } else {
        bail!("cargo build succeeded but {} is missing", path.display())
    }
}

/// Runs the collector on this machine (outside every sandbox namespace) against the image root `root`,
/// writing `out`, with an empty environment and a 120 s limit; returns the verified bundle.
pub fn collect_dead_box(root: &Path, out: &Path) -> Result<minetrace_schemas::bundle::Bundle> {
    use minetrace_schemas::bundle::{Bundle, ReadLimits};
    let mut cmd = Command::new(collector()?);
    cmd.arg("--root")
        .arg(root)
        .arg("-o")
        .arg(out)
        .args(["--threads", "0"])
        .env_clear();
    let output =
        crate::sandbox::run_with_timeout(&mut cmd, b"", std::time::Duration::from_secs(120))?;
    if !output.status.success() {
        bail!(
            "dead-box collection of {} failed:\n{}",
            root.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Bundle::open(out, ReadLimits::default())?.verified()?)
}
