//! One scenario, live: loaded, planted in a fresh sandbox, its ground truth resolved against what was
//! planted; and the checks that nothing of it reached the real host.
//!
//! Every end-to-end test that needs a compromised host starts with [`Live::start`]; the collection, analysis
//! and remediation tests then run any number of steps against the same [`Live::sb`].

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result};

use crate::plant::{plant, Planted};
use crate::sandbox::Sandbox;
use crate::scenario::{self, Scenario};
use crate::truth::{resolve, ResolvedTruth};

/// A planted scenario in its own sandbox.
#[derive(Debug)]
pub struct Live {
    pub sc: Scenario,
    pub sb: Sandbox,
    pub planted: Planted,
    pub truth: ResolvedTruth,
}

impl Live {
    /// Loads `samples/scenarios/<id>.toml`, builds a sandbox, plants the scenario and resolves its truth.
    pub fn start(id: &str) -> Result<Live> {
        Live::start_scenario(scenario::load(id)?)
    }

    /// Plants a scenario loaded from anywhere (a test's own TOML file) in a fresh sandbox.
    pub fn start_scenario(sc: Scenario) -> Result<Live> {
        let id = sc.scenario.id.clone();
        let mut sb = Sandbox::start(&sc.scenario.hostname)
            .with_context(|| format!("{id}: starting the sandbox"))?;
        let planted = plant(&mut sb, &sc).with_context(|| format!("{id}: planting"))?;
        let truth = resolve(&sc, &planted).with_context(|| format!("{id}: resolving the truth"))?;
        Ok(Live {
            sc,
            sb,
            planted,
            truth,
        })
    }

    pub fn id(&self) -> &str {
        &self.sc.scenario.id
    }

    /// Runs the real collector inside the sandbox and returns the bundle bytes.
    pub fn collect(&self) -> Result<Vec<u8>> {
        self.sb
            .collect()
            .with_context(|| format!("{}: collecting", self.id()))
    }
}

/// Files a stray `$(touch ...)` in a hostile scenario would create (checked inside sandboxes and on the host).
pub const PWNED_MARKERS: &[&[u8]] = &[b"/tmp/pwned", b"/tmp/p", b"/pwned", b"/root/pwned"];

/// Paths a scenario plants that must not exist on the real host afterwards: its files, crontabs, units,
/// stand-in executables and the marker files of a hostile name turned into code. The caller drops those
/// the host already has with [`preexisting`] (taken before the sandbox starts).
pub fn host_absent_paths(sc: &Scenario) -> Vec<Vec<u8>> {
    let mut paths: Vec<Vec<u8>> = sc
        .files
        .iter()
        .filter_map(|f| f.path_bytes().ok())
        .chain(sc.processes.iter().filter_map(|p| p.exe_bytes().ok()))
        .chain(
            sc.crontabs
                .iter()
                .map(|c| format!("/var/spool/cron/crontabs/{}", c.user).into_bytes()),
        )
        .chain(sc.units.iter().map(|u| u.path.as_bytes().to_vec()))
        .collect();
    paths.extend(PWNED_MARKERS.iter().map(|p| p.to_vec()));
    if let Ok(cwd) = std::env::current_dir() {
        paths.push(cwd.join("pwned").as_os_str().as_bytes().to_vec());
    }
    paths.sort();
    paths.dedup();
    paths
}

pub fn exists_on_host(path: &[u8]) -> bool {
    std::fs::symlink_metadata(OsStr::from_bytes(path)).is_ok()
}

/// What is on the host before the test, so only paths the scenario created are checked afterwards.
pub fn preexisting(paths: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    paths
        .iter()
        .filter(|p| exists_on_host(p))
        .cloned()
        .collect()
}

/// Paths of `paths` that exist on the host now and did not before.
pub fn leaked(paths: &[Vec<u8>], before: &BTreeSet<Vec<u8>>) -> Vec<String> {
    paths
        .iter()
        .filter(|p| !before.contains(*p) && exists_on_host(p))
        .map(|p| minetrace_schemas::escape_bytes(p))
        .collect()
}

pub fn assert_nothing_leaked(paths: &[Vec<u8>], before: &BTreeSet<Vec<u8>>) {
    let leaked = leaked(paths, before);
    assert!(
        leaked.is_empty(),
        "planted paths leaked to the real host: {leaked:?}"
    );
}
