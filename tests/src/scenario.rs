//! The scenario format: a compromised (or look-alike benign) host described as data, with its ground truth.
//!
//! One TOML file per scenario in `samples/scenarios/`; `samples/README.md` documents every field. Any text
//! field that may need bytes which are not UTF-8 has a `_hex` twin (`path_hex`, `content_hex`, `argv_hex`,
//! `text_hex`, ...); exactly one of the pair may be given. Loading validates the whole file (unknown fields,
//! bad modes, dangling process references, non-loopback endpoints) before anything is planted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Where the scenario files live.
pub fn scenarios_dir() -> PathBuf {
    crate::binaries::workspace_root().join("samples/scenarios")
}

/// Every scenario id (file stem) in `samples/scenarios/`, sorted.
pub fn all_ids() -> Result<Vec<String>> {
    let dir = scenarios_dir();
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                ids.push(stem.to_owned());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Loads `samples/scenarios/<id>.toml`.
pub fn load(id: &str) -> Result<Scenario> {
    Scenario::load(&scenarios_dir().join(format!("{id}.toml")))
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Header,
    #[serde(default)]
    pub pools: Vec<Pool>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub crontabs: Vec<Crontab>,
    #[serde(default)]
    pub units: Vec<Unit>,
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    #[serde(default)]
    pub firewall: Vec<FirewallRule>,
    /// An RHEL-family package database (see [`RpmDbSpec`]).
    pub rpmdb: Option<RpmDbSpec>,
    /// Debian packages recorded in dpkg's database once the files are planted (see [`DpkgPackageSpec`]).
    #[serde(default)]
    pub dpkg: Vec<DpkgPackageSpec>,
    pub truth: Truth,
}

/// Makes the sandbox an rpm host: before any file is planted, each package is built with `rpmbuild`
/// from the image's own files (so their digests are the originals) and recorded with
/// `rpm -i --justdb` in `/var/lib/rpm/rpmdb.sqlite`; the packages stay in `/var/cache/mt-rpms/` (where
/// a scenario's stand-in `dnf` reinstalls from), and dpkg's database is removed from the sandbox.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RpmDbSpec {
    pub packages: Vec<RpmPackageSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RpmPackageSpec {
    pub name: String,
    pub version: String,
    pub release: String,
    /// Absolute paths of regular files of the image.
    pub files: Vec<String>,
}

/// A Debian package as `dpkg -i` leaves it in the database, recorded after the scenario's files are
/// planted (so a planted file can be a package's: a library an admin installed with apt):
/// `/var/lib/dpkg/info/NAME.list` names every path, `NAME.md5sums` the MD5 of each regular file as
/// planted, and `/var/lib/dpkg/status` gains an installed stanza.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DpkgPackageSpec {
    pub name: String,
    pub version: String,
    /// Absolute paths (planted or the image's); symlinks are listed, not digested.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Equals the file stem.
    pub id: String,
    pub title: String,
    pub description: String,
    /// Public reports the scenario is modelled on.
    #[serde(default)]
    pub modelled_on: Vec<String>,
    pub hostname: String,
    /// Whether `samples/bundles/` keeps a bundle collected from this scenario.
    #[serde(default)]
    pub sample_bundle: bool,
}

/// A fake pool or C2 server: the "internet" end of a connection. Loopback only.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub addr: String,
    /// What real address or domain it stands for.
    #[serde(default)]
    pub stands_for: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub uid: u32,
    /// Primary group id; a group of the user's name is created with it unless one exists.
    pub gid: u32,
    pub home: String,
    #[serde(default = "default_shell")]
    pub shell: String,
    #[serde(default)]
    pub gecos: String,
    /// The `/etc/shadow` password field (`*`, `!`, or a crypt hash).
    #[serde(default = "default_password")]
    pub password: String,
    /// Supplementary groups (must exist: in the image or in `[[groups]]`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Mode of the created home directory (octal text). The home is not created when the path exists.
    #[serde(default = "default_home_mode")]
    pub home_mode: String,
}

fn default_shell() -> String {
    "/bin/bash".into()
}
fn default_password() -> String {
    "*".into()
}
fn default_home_mode() -> String {
    "0750".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    #[default]
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `content` / `content_hex` (empty when neither is given).
    #[default]
    Content,
    /// A copy of the stand-in program (plus `embed` strings), unique per path.
    Standin,
    /// A copy of the do-nothing preload library (plus `embed` strings), unique per path.
    StandinLib,
    /// A copy of a file the image has (`copy_from`), e.g. `chattr` renamed by an attacker.
    Copy,
    /// A file the image has (`copy_from`) moved to `path` (`mv`): its bytes, owner and mode at `path`,
    /// nothing left at `copy_from` (kits move `chattr` or `wget` so cleanup scripts fail).
    Move,
    /// A systemd journal file written by `systemd-journal-remote` from `content`, journal export
    /// format text (`__REALTIME_TIMESTAMP=`, `_BOOT_ID=`, `MESSAGE=`, ..., a blank line after each entry).
    JournalExport,
}

/// What a bundle is expected to show about a planted path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// A file record with matching metadata whose content is stored and equal to what was planted.
    /// Default for text files, crontabs and units.
    Content,
    /// A file record with matching metadata; content optional, equal when stored. Default for
    /// directories, symlinks and stand-in binaries.
    Metadata,
    /// Not necessarily collected (an unreferenced binary outside the places the collector reads).
    Nothing,
    /// A file record with matching metadata and the planted sha256 whose content the collector keeps on
    /// the host (a credential file, a key, a settings file with a password): recorded as withheld,
    /// never stored. Scenarios name such files explicitly.
    Withheld,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: Option<String>,
    pub path_hex: Option<String>,
    #[serde(default)]
    pub kind: FileKind,
    #[serde(default)]
    pub source: Source,
    pub content: Option<String>,
    pub content_hex: Option<String>,
    /// Strings appended to a stand-in copy (what an ELF scan would find in a real miner).
    #[serde(default)]
    pub embed: Vec<String>,
    /// Symlink target.
    pub target: Option<String>,
    /// For `source = "copy"`: the image's file to copy.
    pub copy_from: Option<String>,
    /// Append to the file the image already has (keeping its owner and mode) instead of replacing it.
    #[serde(default)]
    pub append: bool,
    #[serde(default = "default_owner")]
    pub owner: String,
    pub group: Option<String>,
    pub mode: Option<String>,
    /// RFC 3339 (`2025-03-02T04:13:00Z`).
    pub mtime: Option<String>,
    #[serde(default)]
    pub immutable: bool,
    #[serde(default)]
    pub append_only: bool,
    /// What the bundle must show about this path (see [`Expect`]).
    pub expect: Option<Expect>,
}

fn default_owner() -> String {
    "root".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Crontab {
    /// Owner of the spool crontab `/var/spool/cron/crontabs/<user>` (Debian layout).
    pub user: String,
    /// Lines as cron reads them; written with `\n` after each.
    #[serde(default)]
    pub lines: Vec<String>,
    pub mtime: Option<String>,
    #[serde(default)]
    pub immutable: bool,
    #[serde(default)]
    pub append_only: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub path: String,
    pub content: String,
    /// Target whose `.wants/` gets a symlink to the unit (`multi-user.target`).
    pub enable: Option<String>,
    pub mtime: Option<String>,
    #[serde(default)]
    pub immutable: bool,
    #[serde(default)]
    pub append_only: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterStart {
    #[default]
    Keep,
    /// Unlink the executable once the process runs (`/proc/PID/exe` shows `(deleted)`).
    Delete,
    /// Replace the executable with the file the image had at that path, as a package upgrade does:
    /// the running image is deleted, the path holds the genuine package file again.
    Upgrade,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExeSource {
    /// A stand-in copy is placed at `exe` (unless a `[[files]]` entry declares that path).
    #[default]
    Standin,
    /// Run the binary the image already has at `exe` with `argv` (no connect, listen, burn...).
    Existing,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// Scenario-local name; ground truth and `parent`/`watch` refer to it.
    pub name: String,
    pub exe: Option<String>,
    pub exe_hex: Option<String>,
    #[serde(default)]
    pub source: ExeSource,
    #[serde(default)]
    pub embed: Vec<String>,
    #[serde(default)]
    pub argv: Vec<String>,
    #[serde(default)]
    pub argv_hex: Vec<String>,
    /// `prctl(PR_SET_NAME)`, e.g. a kernel-thread name.
    pub comm: Option<String>,
    pub comm_hex: Option<String>,
    #[serde(default = "default_owner")]
    pub user: String,
    /// The working directory (inside `root` when the process has one).
    pub cwd: Option<String>,
    /// A directory the process runs chrooted in (a container's rootfs): `exe` is its host path under
    /// `root`, the process sees it as the rest of the path. A child in the same root is not chrooted
    /// again (each process of the root names it).
    pub root: Option<String>,
    /// Another scenario process that starts this one.
    pub parent: Option<String>,
    #[serde(default)]
    pub after_start: AfterStart,
    /// `127.x.y.z:port` to hold a TCP connection to.
    pub connect: Option<String>,
    /// Further `127.x.y.z:port` addresses to hold a TCP connection to besides `connect`, with nothing
    /// written on them: a peer-to-peer node's peers.
    #[serde(default)]
    pub peers: Vec<String>,
    /// `127.x.y.z:port` to listen on.
    pub listen: Option<String>,
    #[serde(default)]
    pub threads: u32,
    #[serde(default)]
    pub burn_ms: u32,
    /// Parent or child to respawn when it disappears (watchdog).
    pub watch: Option<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub nice: i32,
    /// Shared objects (paths inside the process's root) it maps with `dlopen` before it reports ready,
    /// as `redis-server` maps a module.
    #[serde(default)]
    pub load: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    #[serde(default)]
    pub family: IpFamily,
    #[serde(default = "default_table")]
    pub table: String,
    /// As `iptables-save` prints it, e.g. `-A INPUT -s 140.205.201.0/28 -j DROP` (split on whitespace).
    pub rule: String,
}

fn default_table() -> String {
    "filter".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Compromised,
    Suspicious,
    Clean,
}

/// The entry vectors of the analyzer's taxonomy (`minetrace_schemas::findings::EntryVector`), except
/// `unknown`.
pub const ENTRY_VECTORS: &[&str] = &[
    "exposed_service",
    "web_application",
    "ssh_brute_force",
    "ssh_key",
    "lateral_movement",
    "supply_chain",
];

/// The vectors whose candidates name a service.
pub const SERVICE_VECTORS: &[&str] = &["exposed_service", "web_application", "supply_chain"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    pub verdict: Verdict,
    /// Family attributed from what runs and persists; absent for none.
    pub family: Option<String>,
    /// How the attacker got in: an entry vector of `findings.json`'s `entry` list
    /// ([`ENTRY_VECTORS`]: `exposed_service`, `web_application`, `ssh_brute_force`, `ssh_key`,
    /// `lateral_movement`, `supply_chain`), `unknown` when the planted host gives no evidence, or `none`
    /// for a clean host. The analyzer's first candidate must name it.
    pub entry_point: String,
    /// The service the first candidate must name (`redis`, `docker`, `jupyter`, `nginx`, ...), for the
    /// vectors that name one.
    pub entry_service: Option<String>,
    /// `minetrace analyze --allow` file content for this host (operator-declared software), if any.
    pub allowlist: Option<String>,
    #[serde(default)]
    pub malicious: Vec<SubjectSpec>,
    #[serde(default)]
    pub benign: Vec<SubjectSpec>,
    /// Free text for whoever reads the scenario.
    #[serde(default)]
    pub notes: String,
    /// What a correct remediation leaves by design (the plan never restarts a host service, so a module
    /// it loaded stays mapped until the operator restarts it): the re-analysis after remediation must
    /// show exactly these findings at medium or above, and nothing else. Empty: it must be clean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub residue: Vec<Residue>,
    /// Directories the intrusion made for its kit and filled with nothing but kit files: a correct
    /// remediation removes each whole (the files one by one would leave it behind, empty). A directory
    /// that also holds a file of someone else's is never listed here: it must stay, with that file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kit_dirs: Vec<String>,
}

/// One finding a correct remediation leaves (see [`Truth::residue`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Residue {
    /// The rule id (`MT-RUN-037`).
    pub rule: String,
    /// A path among the finding's subjects.
    pub path: String,
    /// Why remediation cannot clear it, and who can.
    pub reason: String,
}

/// A ground-truth subject, mirroring `minetrace_schemas::findings::Subject` kinds. Processes are named by
/// scenario process name (their pid is known only once started).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SubjectSpec {
    Process {
        process: String,
    },
    File {
        path: Option<String>,
        path_hex: Option<String>,
    },
    Endpoint {
        addr: String,
    },
    SshKey {
        path: String,
        /// A unique substring of the key's line (its comment, say); the line number is derived.
        text: String,
    },
    Persistence {
        path: Option<String>,
        path_hex: Option<String>,
        /// A unique substring of the persistence line; the line number is derived.
        text: Option<String>,
        text_hex: Option<String>,
    },
    Account {
        name: String,
    },
    FirewallRule {
        rule: String,
    },
}

/// Exactly one of a text field and its `_hex` twin, as bytes.
pub fn one_of(what: &str, text: Option<&str>, hex: Option<&str>) -> Result<Vec<u8>> {
    match (text, hex) {
        (Some(t), None) => Ok(t.as_bytes().to_vec()),
        (None, Some(h)) => hex::decode(h).with_context(|| format!("{what}_hex is not hex")),
        (Some(_), Some(_)) => bail!("{what} and {what}_hex are both given"),
        (None, None) => bail!("{what} (or {what}_hex) is required"),
    }
}

/// Octal mode text (`"0644"`, `"4755"`).
pub fn parse_mode(text: &str) -> Result<u32> {
    let mode = u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .with_context(|| format!("mode {text:?} is not octal"))?;
    if mode > 0o7777 {
        bail!("mode {text:?} is out of range");
    }
    Ok(mode)
}

/// RFC 3339 text to seconds since the epoch.
pub fn parse_time(text: &str) -> Result<i64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("time {text:?} is not RFC 3339"))?;
    Ok(t.unix_timestamp())
}

/// A file's `content` with its clock tokens filled in: `{{syslog:-SECS}}` becomes the syslog stamp
/// (`Aug 20 04:31:03`, UTC, day padded with a space) of `now - SECS`. For logs that must sit next to what
/// only the planting can date (a process's start, a time the kernel sets): a fileless kit has no other
/// anchor. A file holding such tokens should keep its planting mtime (syslog takes the year from it).
pub fn render_clock(text: &str, now: i64) -> Result<String> {
    const OPEN: &str = "{{syslog:-";
    let stamp = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second]"
    );
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed clock token {OPEN}..."))?;
        let secs: i64 = after[..end]
            .parse()
            .with_context(|| format!("clock token {OPEN}{}}}}}: seconds", &after[..end]))?;
        let t = time::OffsetDateTime::from_unix_timestamp(now - secs)
            .context("clock token out of range")?;
        out.push_str(&t.format(&stamp).context("formatting a syslog stamp")?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `127.x.y.z:port`, checked to be loopback.
pub fn parse_loopback(text: &str) -> Result<std::net::SocketAddrV4> {
    let addr: std::net::SocketAddrV4 = text
        .parse()
        .with_context(|| format!("{text:?} is not IPv4 IP:PORT"))?;
    if !addr.ip().is_loopback() {
        bail!("{text} is not in 127.0.0.0/8: scenarios only ever talk to loopback");
    }
    Ok(addr)
}

impl FileSpec {
    pub fn path_bytes(&self) -> Result<Vec<u8>> {
        one_of("path", self.path.as_deref(), self.path_hex.as_deref())
    }
}

impl ProcessSpec {
    pub fn exe_bytes(&self) -> Result<Vec<u8>> {
        one_of("exe", self.exe.as_deref(), self.exe_hex.as_deref())
    }

    /// The executable's path as the process itself sees it: `exe` without its `root`.
    pub fn exe_inside(&self) -> Result<Vec<u8>> {
        let exe = self.exe_bytes()?;
        match &self.root {
            None => Ok(exe),
            Some(root) => {
                let root = root.trim_end_matches('/').as_bytes();
                match exe.strip_prefix(root) {
                    Some(rest) if rest.starts_with(b"/") => Ok(rest.to_vec()),
                    _ => bail!(
                        "process {}: exe {:?} is not under its root {:?}",
                        self.name,
                        String::from_utf8_lossy(&exe),
                        String::from_utf8_lossy(root)
                    ),
                }
            }
        }
    }

    /// The host path of the working directory (under `root` when the process has one).
    pub fn cwd_on_host(&self) -> Option<String> {
        let cwd = self.cwd.as_deref()?;
        Some(match &self.root {
            Some(root) => format!("{}{cwd}", root.trim_end_matches('/')),
            None => cwd.to_owned(),
        })
    }

    pub fn argv_bytes(&self) -> Result<Vec<Vec<u8>>> {
        match (self.argv.is_empty(), self.argv_hex.is_empty()) {
            (false, true) => Ok(self.argv.iter().map(|a| a.as_bytes().to_vec()).collect()),
            (true, false) => self
                .argv_hex
                .iter()
                .map(|a| hex::decode(a).context("argv_hex is not hex"))
                .collect(),
            (true, true) => Ok(vec![self.exe_bytes()?]),
            (false, false) => bail!("process {}: argv and argv_hex are both given", self.name),
        }
    }

    pub fn comm_bytes(&self) -> Result<Option<Vec<u8>>> {
        match (&self.comm, &self.comm_hex) {
            (None, None) => Ok(None),
            (c, h) => one_of("comm", c.as_deref(), h.as_deref()).map(Some),
        }
    }
}

impl SubjectSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            SubjectSpec::Process { .. } => "process",
            SubjectSpec::File { .. } => "file",
            SubjectSpec::Endpoint { .. } => "endpoint",
            SubjectSpec::SshKey { .. } => "ssh_key",
            SubjectSpec::Persistence { .. } => "persistence",
            SubjectSpec::Account { .. } => "account",
            SubjectSpec::FirewallRule { .. } => "firewall_rule",
        }
    }
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let scenario: Scenario =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if scenario.scenario.id != stem {
            bail!(
                "{}: scenario.id {:?} differs from the file name",
                path.display(),
                scenario.scenario.id
            );
        }
        scenario
            .validate()
            .with_context(|| format!("validating {}", path.display()))?;
        Ok(scenario)
    }

    pub fn process(&self, name: &str) -> Option<&ProcessSpec> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// Checks everything that can be checked without a sandbox.
    pub fn validate(&self) -> Result<()> {
        let t = &self.truth;
        if !ENTRY_VECTORS.contains(&t.entry_point.as_str())
            && !["unknown", "none"].contains(&t.entry_point.as_str())
        {
            bail!(
                "truth.entry_point {:?}: one of {ENTRY_VECTORS:?}, unknown or none",
                t.entry_point
            );
        }
        let names_service = SERVICE_VECTORS.contains(&t.entry_point.as_str());
        if names_service != t.entry_service.is_some() {
            bail!(
                "truth.entry_service is required with entry_point {SERVICE_VECTORS:?} and only then (entry_point {:?})",
                t.entry_point
            );
        }
        if (t.verdict == Verdict::Clean) != (t.entry_point == "none") {
            bail!("truth.entry_point is \"none\" exactly when the verdict is clean");
        }
        for pool in &self.pools {
            parse_loopback(&pool.addr)?;
        }
        for f in &self.files {
            let path = f.path_bytes()?;
            if !path.starts_with(b"/") {
                bail!(
                    "file path {:?} is not absolute",
                    String::from_utf8_lossy(&path)
                );
            }
            if let Some(m) = &f.mode {
                parse_mode(m)?;
            }
            if let Some(t) = &f.mtime {
                parse_time(t)?;
            }
            match f.kind {
                FileKind::Symlink if f.target.is_none() => bail!("symlink without target"),
                FileKind::File
                    if f.source == Source::Content
                        && f.content.is_some()
                        && f.content_hex.is_some() =>
                {
                    bail!("content and content_hex are both given");
                }
                _ => {}
            }
        }
        for u in &self.users {
            parse_mode(&u.home_mode)?;
        }
        for c in &self.crontabs {
            if let Some(t) = &c.mtime {
                parse_time(t)?;
            }
        }
        for u in &self.units {
            if let Some(t) = &u.mtime {
                parse_time(t)?;
            }
        }
        let mut names = BTreeSet::new();
        for p in &self.processes {
            if !names.insert(p.name.as_str()) {
                bail!("process name {:?} is used twice", p.name);
            }
            if p.name.is_empty()
                || !p
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                bail!("process name {:?}: use letters, digits, - and _", p.name);
            }
            let exe = p.exe_bytes()?;
            if !exe.starts_with(b"/") {
                bail!("process {}: exe must be absolute", p.name);
            }
            if let Some(root) = &p.root {
                if !root.starts_with('/') || p.source == ExeSource::Existing {
                    bail!(
                        "process {}: root must be absolute, and only stand-ins run in one",
                        p.name
                    );
                }
                p.exe_inside()?;
            }
            p.argv_bytes()?;
            p.comm_bytes()?;
            for a in p.connect.iter().chain(&p.peers) {
                parse_loopback(a)?;
            }
            if let Some(a) = &p.listen {
                parse_loopback(a)?;
            }
            if let Some(r) = &p.root {
                if !r.starts_with('/') || r.trim_end_matches('/').is_empty() {
                    bail!(
                        "process {}: root {r:?} must be an absolute directory other than /",
                        p.name
                    );
                }
            }
            if p.load.iter().any(|l| !l.starts_with('/')) {
                bail!("process {}: load paths must be absolute", p.name);
            }
            if p.source == ExeSource::Existing && !p.load.is_empty() {
                bail!("process {}: an existing binary cannot load modules", p.name);
            }
            if p.source == ExeSource::Existing
                && (p.connect.is_some()
                    || !p.peers.is_empty()
                    || p.listen.is_some()
                    || p.burn_ms > 0
                    || p.threads > 0
                    || p.watch.is_some()
                    || p.comm.is_some()
                    || p.comm_hex.is_some()
                    || !p.embed.is_empty()
                    || p.after_start != AfterStart::Keep)
            {
                bail!(
                    "process {}: an existing binary cannot connect, listen, burn, spawn threads, watch, \
                     set comm, embed strings or be deleted",
                    p.name
                );
            }
        }
        for p in &self.processes {
            if let Some(parent) = &p.parent {
                let par = self.process(parent).ok_or_else(|| {
                    anyhow!(
                        "process {}: parent {parent:?} is not a scenario process",
                        p.name
                    )
                })?;
                if par.source == ExeSource::Existing {
                    bail!(
                        "process {}: parent {parent} is an existing binary and cannot spawn",
                        p.name
                    );
                }
                if let (Some(a), Some(b)) = (&p.root, &par.root) {
                    if a != b {
                        bail!(
                            "process {}: a child of a chrooted process runs in its parent's root",
                            p.name
                        );
                    }
                }
            }
            if let Some(w) = &p.watch {
                let is_parent = p.parent.as_deref() == Some(w.as_str());
                let is_child = self
                    .processes
                    .iter()
                    .any(|c| c.name == *w && c.parent.as_deref() == Some(p.name.as_str()));
                if !is_parent && !is_child {
                    bail!(
                        "process {}: watch {w:?} must be its parent or one of its children",
                        p.name
                    );
                }
            }
        }
        for s in self.truth.malicious.iter().chain(&self.truth.benign) {
            match s {
                SubjectSpec::Process { process } if self.process(process).is_none() => {
                    bail!("truth names process {process:?}, which the scenario does not start");
                }
                SubjectSpec::Endpoint { addr } => {
                    parse_loopback(addr)?;
                }
                SubjectSpec::File { path, path_hex } => {
                    one_of("path", path.as_deref(), path_hex.as_deref())?;
                }
                SubjectSpec::Persistence {
                    path,
                    path_hex,
                    text,
                    text_hex,
                } => {
                    one_of("path", path.as_deref(), path_hex.as_deref())?;
                    one_of("text", text.as_deref(), text_hex.as_deref())?;
                }
                _ => {}
            }
        }
        match (self.truth.verdict, self.truth.malicious.is_empty()) {
            (Verdict::Compromised, true) => bail!("a compromised host needs malicious subjects"),
            (Verdict::Clean, false) => bail!("a clean host cannot have malicious subjects"),
            _ => {}
        }
        Ok(())
    }
}

/// Every scenario of `samples/scenarios/` as a test name and its id, the malicious and the clean apart, handed
/// to a test binary's own macro `$callback`, which makes one test per scenario. The lists live here once; each
/// binary checks them against the directory and the truths' verdicts.
#[macro_export]
macro_rules! scenario_lists {
    ($callback:ident) => {
        $callback! {
            malicious: [
            kinsing_redis => "kinsing-redis",
            outlaw_ssh_bruteforce => "outlaw-ssh-bruteforce",
            kthread_devshm_deleted => "kthread-devshm-deleted",
            redis_rdb_crontab => "redis-rdb-crontab",
            pwnrig_8220_immutable => "pwnrig-8220-immutable",
            perfctl_ld_preload => "perfctl-ld-preload",
            watchdog_pair_cron_unit => "watchdog-pair-cron-unit",
            hostile_names => "hostile-names",
            el9_rocke_trojan_ps => "el9-rocke-trojan-ps",
            entry_redis_replication => "entry-redis-replication",
            entry_docker_api => "entry-docker-api",
            entry_jupyter_notebook => "entry-jupyter-notebook",
            entry_confluence_ognl => "entry-confluence-ognl",
            entry_weblogic_daemonized => "entry-weblogic-daemonized",
            entry_postgres_copy_program => "entry-postgres-copy-program",
            entry_kubelet_exec => "entry-kubelet-exec",
            entry_tomcat_manager_jsp => "entry-tomcat-manager-jsp",
            entry_journal_bruteforce => "entry-journal-bruteforce",
            entry_ssh_attacker_key => "entry-ssh-attacker-key",
            entry_lateral_ssh => "entry-lateral-ssh",
            entry_image_miner => "entry-image-miner",
            entry_unknown_vacuumed => "entry-unknown-vacuumed",
            entry_unknown_lookalikes => "entry-unknown-lookalikes",
            redtail_ssh_key_appended => "redtail-ssh-key-appended",
            diicot_bash_watchdog => "diicot-bash-watchdog",
            sysrv_dormant_kit => "sysrv-dormant-kit",
            teamtnt_renamed_tools => "teamtnt-renamed-tools",
            kissadog_chroot_miner => "kissadog-chroot-miner",
            p2pinfect_redis_module => "p2pinfect-redis-module",
            migo_redis_config_set => "migo-redis-config-set",
            kinsing_php_webshells => "kinsing-php-webshells",
            outlaw_orphaned_launchers => "outlaw-orphaned-launchers",
            bot_hidden_tmp_peer => "bot-hidden-tmp-peer",
            hook_persistence_kit => "hook-persistence-kit",
            dormant_system_dir_miner => "dormant-system-dir-miner",
            dash_x11_cpuminer => "dash-x11-cpuminer",
            hijacked_host_unit => "hijacked-host-unit",
            webapp_rce_recon => "webapp-rce-recon",
            webapp_rce_kit_clearing => "webapp-rce-kit-clearing",
            webshell_vhost_rotated_log => "webshell-vhost-rotated-log",
            timestomped_kit_bruteforce => "timestomped-kit-bruteforce",
            fileless_miner_bruteforce => "fileless-miner-bruteforce",
            miner_api_on_pool_port => "miner-api-on-pool-port",
            udev_rule_miner => "udev-rule-miner",
            moved_system_tools => "moved-system-tools",
            gpu_miners_ml_notebook => "gpu-miners-ml-notebook",
            skidmap_pam_backdoor => "skidmap-pam-backdoor",
            ],
            clean: [
            clean_baseline => "clean-baseline",
            benign_admin_healthcheck => "benign-admin-healthcheck",
            benign_build_transcode => "benign-build-transcode",
            benign_operator_mining => "benign-operator-mining",
            benign_package_upgrade => "benign-package-upgrade",
            benign_user_units_localbin => "benign-user-units-localbin",
            benign_opt_local_services => "benign-opt-local-services",
            benign_immutable_deploy_keys => "benign-immutable-deploy-keys",
            benign_ci_runner_tests => "benign-ci-runner-tests",
            benign_container_host => "benign-container-host",
            benign_php_cms => "benign-php-cms",
            benign_vhost_probe_elsewhere => "benign-vhost-probe-elsewhere",
            benign_ops_routine => "benign-ops-routine",
            benign_internet_vps_admin => "benign-internet-vps-admin",
            benign_legacy_uid_admins => "benign-legacy-uid-admins",
            benign_snoopy_audit_preload => "benign-snoopy-audit-preload",
            benign_jenkins_build_shell => "benign-jenkins-build-shell",
            benign_rootless_docker => "benign-rootless-docker",
            benign_distro_hooks => "benign-distro-hooks",
            benign_aliyun_agent_removed => "benign-aliyun-agent-removed",
            benign_unit_vendor_binaries => "benign-unit-vendor-binaries",
            benign_short_key_comments => "benign-short-key-comments",
            benign_monero_node => "benign-monero-node",
            benign_php_shellout => "benign-php-shellout",
            benign_udev_device_rules => "benign-udev-device-rules",
            benign_disabled_download_tool => "benign-disabled-download-tool",
            benign_gpu_training => "benign-gpu-training",
            benign_pam_admin_modules => "benign-pam-admin-modules",
            ],
        }
    };
}

#[cfg(test)]
mod tests {
    use super::render_clock;

    #[test]
    fn clock_tokens_become_syslog_stamps_before_the_planting() {
        // 2025-08-20T04:31:40Z.
        let now = 1_755_664_300;
        let text = "{{syslog:-37}} h sshd[1]: Accepted\n{{syslog:-0}} end {{x}}\n";
        assert_eq!(
            render_clock(text, now).unwrap(),
            "Aug 20 04:31:03 h sshd[1]: Accepted\nAug 20 04:31:40 end {{x}}\n"
        );
        // A single-digit day is padded with a space, as syslog writes it.
        assert!(render_clock("{{syslog:-1382400}}", now)
            .unwrap()
            .starts_with("Aug  4 "));
        for bad in ["{{syslog:-x}}", "{{syslog:-5"] {
            assert!(render_clock(bad, now).is_err(), "{bad}");
        }
    }
}
