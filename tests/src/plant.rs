//! Turns a [`Scenario`] into a live compromised host inside a [`Sandbox`]: accounts, files, crontabs,
//! units, stand-in executables, firewall rules, the fake pool and the processes, then deletions,
//! timestamps and immutable bits, in that order (an immutable directory takes no new entries, and setting
//! an mtime must come after everything that touches the file).
//!
//! The result, [`Planted`], records what is now true on the host (pids, planted hashes, the exact bytes and
//! metadata of every file the bundle is expected to hold) so [`crate::truth`] can check a bundle against it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sandbox::fs::{Meta, FS_APPEND_FL, FS_IMMUTABLE_FL};
use crate::sandbox::{expect_success, Sandbox, CLEAN_PATH, STANDIN, STANDIN_LIB};
use crate::scenario::{
    parse_mode, parse_time, AfterStart, ExeSource, Expect, FileKind, IpFamily, Scenario, Source,
};

/// The state of a planted path after planting, read back from the sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct PlantedFile {
    pub path: Vec<u8>,
    pub expect: Expect,
    pub is_dir: bool,
    pub is_symlink: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub immutable: bool,
    pub append_only: bool,
    /// Content and its sha256, for regular files.
    pub content: Option<Vec<u8>>,
    pub sha256: Option<String>,
}

/// A started scenario process.
#[derive(Debug, Clone, Serialize)]
pub struct PlantedProcess {
    pub name: String,
    /// Pid inside the sandbox (what the bundle shows).
    pub pid: i32,
    pub exe: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    /// `prctl` name, when the scenario sets one.
    pub comm: Option<Vec<u8>>,
    pub uid: u32,
    pub parent: Option<String>,
    pub exe_deleted: bool,
    /// SHA-256 of the image the process runs (the stand-in copy, or the existing binary).
    pub exe_sha256: String,
    pub connect: Option<String>,
    /// Further connections it holds (a node's peers).
    pub peers: Vec<String>,
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Planted {
    pub scenario: String,
    pub hostname: String,
    pub processes: Vec<PlantedProcess>,
    pub files: Vec<PlantedFile>,
    /// Firewall rules as given (`-A INPUT ...`), by family.
    pub firewall: Vec<(IpFamily, String)>,
    /// Accounts added: name, uid, passwd line.
    pub accounts: Vec<(String, u32, String)>,
}

impl Planted {
    pub fn process(&self, name: &str) -> Option<&PlantedProcess> {
        self.processes.iter().find(|p| p.name == name)
    }

    pub fn file(&self, path: &[u8]) -> Option<&PlantedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The stand-in program with a trailer that makes each planted copy's hash unique (a benign look-alike
/// must never share a hash with a malicious copy) and carries the scenario's `embed` strings.
pub fn standin_copy(scenario: &str, path: &[u8], embed: &[String]) -> Result<Vec<u8>> {
    let bytes = std::fs::read(STANDIN).with_context(|| format!("reading {STANDIN}"))?;
    Ok(unique_copy(bytes, scenario, path, embed))
}

/// The do-nothing preload library with the same trailer as [`standin_copy`]: two libraries of one
/// scenario (an audit logger and an allocator) are two files, as on a real host, not one file under two
/// names. The loader ignores bytes past an ELF object's last section.
fn standin_lib_copy(scenario: &str, path: &[u8], embed: &[String]) -> Result<Vec<u8>> {
    let bytes = std::fs::read(STANDIN_LIB).with_context(|| format!("reading {STANDIN_LIB}"))?;
    Ok(unique_copy(bytes, scenario, path, embed))
}

fn unique_copy(mut bytes: Vec<u8>, scenario: &str, path: &[u8], embed: &[String]) -> Vec<u8> {
    let mut salt = Sha256::new();
    salt.update(scenario.as_bytes());
    salt.update([0]);
    salt.update(path);
    bytes.extend_from_slice(b"\0\0standin-copy ");
    bytes.extend_from_slice(hex::encode(&salt.finalize()[..8]).as_bytes());
    bytes.push(0);
    for s in embed {
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
    }
    bytes
}

/// Name → id tables read from the sandbox's `/etc/passwd` and `/etc/group`.
#[derive(Debug, Default)]
struct Accounts {
    users: BTreeMap<String, (u32, u32, String)>,
    groups: BTreeMap<String, u32>,
}

impl Accounts {
    fn read(sb: &Sandbox) -> Result<Accounts> {
        let mut acc = Accounts::default();
        let passwd = sb
            .fs()
            .read_file(b"/etc/passwd")
            .context("reading /etc/passwd")?;
        for line in String::from_utf8_lossy(&passwd).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(uid), Some(gid), Some(home)) =
                (f.first(), f.get(2), f.get(3), f.get(5))
            {
                if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
                    acc.users
                        .insert((*name).to_owned(), (uid, gid, (*home).to_owned()));
                }
            }
        }
        let group = sb
            .fs()
            .read_file(b"/etc/group")
            .context("reading /etc/group")?;
        for line in String::from_utf8_lossy(&group).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(gid)) = (f.first(), f.get(2)) {
                if let Ok(gid) = gid.parse() {
                    acc.groups.insert((*name).to_owned(), gid);
                }
            }
        }
        Ok(acc)
    }

    fn uid(&self, name: &str) -> Result<u32> {
        if let Ok(n) = name.parse() {
            return Ok(n);
        }
        self.users
            .get(name)
            .map(|u| u.0)
            .ok_or_else(|| anyhow!("unknown user {name:?}"))
    }

    fn primary_gid(&self, name: &str) -> Result<u32> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(self.users.values().find(|u| u.0 == n).map_or(n, |u| u.1));
        }
        self.users
            .get(name)
            .map(|u| u.1)
            .ok_or_else(|| anyhow!("unknown user {name:?}"))
    }

    fn gid(&self, name: &str) -> Result<u32> {
        if let Ok(n) = name.parse() {
            return Ok(n);
        }
        self.groups
            .get(name)
            .copied()
            .ok_or_else(|| anyhow!("unknown group {name:?}"))
    }

    fn home(&self, name: &str) -> Option<String> {
        self.users.get(name).map(|u| u.2.clone())
    }
}

const ROOT_DIR: Meta = Meta {
    mode: 0o755,
    uid: 0,
    gid: 0,
};
const ROOT_FILE: Meta = Meta {
    mode: 0o644,
    uid: 0,
    gid: 0,
};

fn parent_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) | None => b"/",
        Some(i) => &path[..i],
    }
}

/// Flags and times to apply once everything exists.
struct Finish {
    path: Vec<u8>,
    mtime: Option<i64>,
    flags: u32,
    expect: Expect,
}

/// Adds `line` to an account database file unless a line for `name` is there already.
fn add_db_line(sb: &Sandbox, file: &[u8], name: &str, line: &str) -> Result<()> {
    let old = sb.fs().read_file(file).unwrap_or_default();
    let prefix = format!("{name}:");
    if String::from_utf8_lossy(&old)
        .lines()
        .any(|l| l.starts_with(&prefix))
    {
        return Ok(());
    }
    let meta = sb.fs().lstat(file).map_or(
        Meta {
            mode: 0o644,
            uid: 0,
            gid: 0,
        },
        |st| Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        },
    );
    let mut bytes = old;
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    sb.fs()
        .write_file(file, &bytes, meta)
        .with_context(|| format!("writing {}", String::from_utf8_lossy(file)))
}

/// Adds `user` to the member list of `group` in `/etc/group`.
fn add_group_member(sb: &Sandbox, group: &str, user: &str) -> Result<()> {
    let old = sb.fs().read_file(b"/etc/group")?;
    let st = sb.fs().lstat(b"/etc/group")?;
    let mut out = String::new();
    let mut found = false;
    for line in String::from_utf8_lossy(&old).lines() {
        let mut f: Vec<String> = line.split(':').map(str::to_owned).collect();
        if f.first().map(String::as_str) == Some(group) && f.len() == 4 {
            found = true;
            let members: Vec<&str> = f[3].split(',').filter(|m| !m.is_empty()).collect();
            if !members.contains(&user) {
                f[3] = members
                    .into_iter()
                    .chain([user])
                    .collect::<Vec<_>>()
                    .join(",");
            }
        }
        out.push_str(&f.join(":"));
        out.push('\n');
    }
    if !found {
        bail!("group {group:?} does not exist");
    }
    sb.fs().write_file(
        b"/etc/group",
        out.as_bytes(),
        Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        },
    )?;
    Ok(())
}

fn add_group(sb: &Sandbox, name: &str, gid: u32, members: &[String]) -> Result<()> {
    add_db_line(
        sb,
        b"/etc/group",
        name,
        &format!("{name}:x:{gid}:{}", members.join(",")),
    )?;
    if sb.fs().exists(b"/etc/gshadow") {
        add_db_line(
            sb,
            b"/etc/gshadow",
            name,
            &format!("{name}:!::{}", members.join(",")),
        )?;
    }
    Ok(())
}

/// Makes sure the parent directories of `path` exist (new ones root:root 0755).
fn ensure_parent(sb: &Sandbox, path: &[u8]) -> Result<()> {
    let parent = parent_of(path);
    if !sb.fs().exists(parent) {
        sb.fs()
            .mkdir_all(parent, ROOT_DIR)
            .with_context(|| format!("creating {}", String::from_utf8_lossy(parent)))?;
    }
    Ok(())
}

/// Hex of bytes, as the stand-in spec wants them.
fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Plants `sc` in `sb` and starts its processes.
/// A journal file from export-format text, written by the real `systemd-journal-remote` outside the
/// sandbox (reading only a private temporary directory).
fn journal_from_export(export: &str) -> Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("export.txt");
    let output = dir.path().join("out.journal");
    std::fs::write(&input, export)?;
    let tool = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .ok_or_else(|| {
        anyhow!("systemd-journal-remote is not installed (scripts/test.sh installs it)")
    })?;
    let out = std::process::Command::new(tool)
        .arg(format!("--output={}", output.display()))
        .arg(&input)
        .output()?;
    if !out.status.success() {
        bail!("{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(std::fs::read(&output)?)
}

/// See [`crate::scenario::RpmDbSpec`]: rpmbuild and rpm run inside the sandbox (its overlay takes every
/// write), on the image's files as they are before the scenario plants anything.
fn plant_rpmdb(sb: &Sandbox, db: &crate::scenario::RpmDbSpec) -> Result<()> {
    let top = "/var/tmp/mt-rpmbuild";
    sb.sh(&format!(
        "mkdir -p {top}/SPECS /var/cache/mt-rpms /var/lib/rpm"
    ))?;
    for p in &db.packages {
        let ok = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-~".contains(c))
        };
        if !ok(&p.name)
            || !ok(&p.version)
            || !ok(&p.release)
            || p.files.iter().any(|f| {
                !f.starts_with('/')
                    || !f
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c))
            })
        {
            bail!("rpm package {}: names and paths must be plain", p.name);
        }
        let mut spec = format!(
            "Name: {}\nVersion: {}\nRelease: {}\nSummary: sandbox package\nLicense: none\n\
             %define __os_install_post %{{nil}}\n%define _build_id_links none\n\
             %description\nsandbox\n%install\n",
            p.name, p.version, p.release
        );
        for f in &p.files {
            let dir = f.rsplit_once('/').map_or("/", |(d, _)| d);
            spec.push_str(&format!(
                "mkdir -p %{{buildroot}}{dir}\ncp -p {f} %{{buildroot}}{f}\n"
            ));
        }
        spec.push_str("%files\n");
        for f in &p.files {
            spec.push_str(&format!("{f}\n"));
        }
        let spec_path = format!("{top}/SPECS/{}.spec", p.name);
        sb.fs()
            .write_file(spec_path.as_bytes(), spec.as_bytes(), ROOT_FILE)?;
        sb.sh(&format!(
            "rpmbuild --quiet --define '_topdir {top}' -bb {spec_path} >/dev/null 2>&1 && \
             cp {top}/RPMS/*/{n}-{v}-{r}.*.rpm /var/cache/mt-rpms/",
            n = p.name,
            v = p.version,
            r = p.release,
        ))
        .with_context(|| format!("rpmbuild {}", p.name))?;
    }
    sb.sh(&format!(
        "rpm --dbpath /var/lib/rpm --initdb && \
         rpm --dbpath /var/lib/rpm -i --justdb --nodeps --noscripts --ignorearch --ignoreos /var/cache/mt-rpms/*.rpm >/dev/null 2>&1 && \
         rm -rf {top} /var/lib/dpkg"
    ))?;
    Ok(())
}

/// See [`crate::scenario::DpkgPackageSpec`]: the database files a `dpkg -i` of the package writes, for
/// files already in place (md5sum runs inside the sandbox on the planted bytes).
fn plant_dpkg(sb: &Sandbox, p: &crate::scenario::DpkgPackageSpec) -> Result<()> {
    let plain = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    if !plain(&p.name, ".+-")
        || !plain(&p.version, ".+-~:")
        || p.files
            .iter()
            .any(|f| !f.starts_with('/') || !plain(f, "/._+-"))
    {
        bail!("dpkg package {}: names and paths must be plain", p.name);
    }
    let info = "/var/lib/dpkg/info";
    let list: String = p.files.iter().map(|f| format!("{f}\n")).collect();
    sb.fs().write_file(
        format!("{info}/{}.list", p.name).as_bytes(),
        list.as_bytes(),
        ROOT_FILE,
    )?;
    let regular: Vec<&str> = p
        .files
        .iter()
        .filter(|f| sb.fs().read_link(f.as_bytes()).is_err())
        .map(|f| f.trim_start_matches('/'))
        .collect();
    let sums = if regular.is_empty() {
        String::new()
    } else {
        sb.sh(&format!("cd / && md5sum {}", regular.join(" ")))?
    };
    sb.fs().write_file(
        format!("{info}/{}.md5sums", p.name).as_bytes(),
        sums.as_bytes(),
        ROOT_FILE,
    )?;
    let stanza = format!(
        "Package: {}\nStatus: install ok installed\nPriority: optional\nSection: admin\n\
         Maintainer: sandbox\nArchitecture: amd64\nVersion: {}\nDescription: sandbox package\n\n",
        p.name, p.version
    );
    sb.fs()
        .append_file(b"/var/lib/dpkg/status", stanza.as_bytes(), ROOT_FILE)?;
    Ok(())
}

pub fn plant(sb: &mut Sandbox, sc: &Scenario) -> Result<Planted> {
    let id = sc.scenario.id.as_str();
    let mut finish: Vec<Finish> = Vec::new();
    let mut accounts_added = Vec::new();

    // 1. Groups and users.
    for g in &sc.groups {
        add_group(sb, &g.name, g.gid, &g.members)?;
    }
    let mut acc = Accounts::read(sb)?;
    for u in &sc.users {
        if !acc.groups.values().any(|gid| *gid == u.gid) {
            add_group(sb, &u.name, u.gid, &[])?;
        }
        let line = format!(
            "{}:x:{}:{}:{}:{}:{}",
            u.name, u.uid, u.gid, u.gecos, u.home, u.shell
        );
        add_db_line(sb, b"/etc/passwd", &u.name, &line)?;
        add_db_line(
            sb,
            b"/etc/shadow",
            &u.name,
            &format!("{}:{}:19800:0:99999:7:::", u.name, u.password),
        )?;
        for g in &u.groups {
            add_group_member(sb, g, &u.name)
                .with_context(|| format!("adding {} to group {g}", u.name))?;
        }
        if !sb.fs().exists(u.home.as_bytes()) {
            ensure_parent(sb, u.home.as_bytes())?;
            sb.fs()
                .mkdir_all(
                    u.home.as_bytes(),
                    Meta {
                        mode: parse_mode(&u.home_mode)?,
                        uid: u.uid,
                        gid: u.gid,
                    },
                )
                .with_context(|| format!("creating home {}", u.home))?;
        }
        accounts_added.push((u.name.clone(), u.uid, line));
        acc = Accounts::read(sb)?;
    }
    if !sc.crontabs.is_empty() && !acc.groups.contains_key("crontab") {
        let gid = (101..999)
            .find(|g| !acc.groups.values().any(|x| x == g))
            .ok_or_else(|| anyhow!("no free gid for the crontab group"))?;
        add_group(sb, "crontab", gid, &[])?;
        acc = Accounts::read(sb)?;
    }

    // 1b. An rpm package database recording the image's own files (before any is replaced).
    if let Some(db) = &sc.rpmdb {
        plant_rpmdb(sb, db).context("building the rpm database")?;
    }

    // 2. Files, crontabs, units.
    let mut upgrade_originals: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for p in sc
        .processes
        .iter()
        .filter(|p| p.after_start == AfterStart::Upgrade)
    {
        let exe = p.exe_bytes()?;
        let original = sb.fs().read_file(&exe).with_context(|| {
            format!(
                "process {}: after_start = upgrade needs the image's own file at {}",
                p.name,
                String::from_utf8_lossy(&exe)
            )
        })?;
        upgrade_originals.insert(exe, original);
    }
    for c in &sc.crontabs {
        let uid = acc.uid(&c.user)?;
        let crontab_gid = acc.gid("crontab")?;
        sb.fs().mkdir_all(b"/var/spool/cron", ROOT_DIR)?;
        if !sb.fs().exists(b"/var/spool/cron/crontabs") {
            sb.fs().mkdir_all(
                b"/var/spool/cron/crontabs",
                Meta {
                    mode: 0o1730,
                    uid: 0,
                    gid: crontab_gid,
                },
            )?;
        }
        let path = format!("/var/spool/cron/crontabs/{}", c.user).into_bytes();
        let mut bytes = Vec::new();
        for line in &c.lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        sb.fs().write_file(
            &path,
            &bytes,
            Meta {
                mode: 0o600,
                uid,
                gid: crontab_gid,
            },
        )?;
        finish.push(Finish {
            path,
            mtime: c.mtime.as_deref().map(parse_time).transpose()?,
            flags: if c.immutable { FS_IMMUTABLE_FL } else { 0 }
                | if c.append_only { FS_APPEND_FL } else { 0 },
            expect: Expect::Content,
        });
    }
    for u in &sc.units {
        let path = u.path.as_bytes().to_vec();
        ensure_parent(sb, &path)?;
        sb.fs().write_file(
            &path,
            u.content.as_bytes(),
            Meta {
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
        )?;
        if let Some(target) = &u.enable {
            let dir = format!(
                "{}/{target}.wants",
                String::from_utf8_lossy(parent_of(&path))
            );
            sb.fs().mkdir_all(dir.as_bytes(), ROOT_DIR)?;
            let name = u.path.rsplit('/').next().unwrap_or_default();
            let link = format!("{dir}/{name}");
            if !sb.fs().exists(link.as_bytes()) {
                sb.fs().symlink(u.path.as_bytes(), link.as_bytes())?;
            }
        }
        finish.push(Finish {
            path,
            mtime: u.mtime.as_deref().map(parse_time).transpose()?,
            flags: if u.immutable { FS_IMMUTABLE_FL } else { 0 }
                | if u.append_only { FS_APPEND_FL } else { 0 },
            expect: Expect::Content,
        });
    }

    // The planting's clock, for content clock tokens (`scenario::render_clock`).
    let planted_at = time::OffsetDateTime::now_utc().unix_timestamp();
    for f in &sc.files {
        let path = f.path_bytes()?;
        let show = String::from_utf8_lossy(&path).into_owned();
        let uid = acc.uid(&f.owner).with_context(|| format!("file {show}"))?;
        let gid = match &f.group {
            Some(g) => acc.gid(g),
            None => acc.primary_gid(&f.owner),
        }
        .with_context(|| format!("file {show}"))?;
        let expect;
        match f.kind {
            FileKind::Dir => {
                let mode = f.mode.as_deref().map_or(Ok(0o755), parse_mode)?;
                ensure_parent(sb, &path)?;
                sb.fs()
                    .mkdir_all(&path, Meta { mode, uid, gid })
                    .with_context(|| format!("creating directory {show}"))?;
                // A directory is itself recorded only where the collector lists a place (temp dirs) or
                // when its flags matter; scenarios say so explicitly.
                let locked = f.immutable || f.append_only;
                expect = f.expect.unwrap_or(if locked {
                    Expect::Metadata
                } else {
                    Expect::Nothing
                });
            }
            FileKind::Symlink => {
                ensure_parent(sb, &path)?;
                let target = f.target.as_deref().unwrap_or_default();
                sb.fs()
                    .symlink(target.as_bytes(), &path)
                    .with_context(|| format!("creating symlink {show}"))?;
                expect = f.expect.unwrap_or(Expect::Metadata);
            }
            FileKind::File => {
                let (bytes, default_mode, default_expect) = match f.source {
                    Source::Content => {
                        let bytes = match (&f.content, &f.content_hex) {
                            (Some(t), None) => crate::scenario::render_clock(t, planted_at)
                                .with_context(|| format!("file {show}: content"))?
                                .into_bytes(),
                            (None, Some(h)) => hex::decode(h)
                                .with_context(|| format!("file {show}: content_hex"))?,
                            _ => Vec::new(),
                        };
                        (bytes, 0o644, Expect::Content)
                    }
                    Source::Standin => {
                        (standin_copy(id, &path, &f.embed)?, 0o755, Expect::Metadata)
                    }
                    Source::Copy | Source::Move => {
                        let from = f.copy_from.as_deref().ok_or_else(|| {
                            anyhow!("file {show}: source = \"copy\" or \"move\" needs copy_from")
                        })?;
                        let bytes = sb
                            .fs()
                            .read_file(from.as_bytes())
                            .with_context(|| format!("file {show}: reading {from}"))?;
                        (bytes, 0o755, Expect::Metadata)
                    }
                    Source::JournalExport => (
                        journal_from_export(f.content.as_deref().unwrap_or_default())
                            .with_context(|| format!("file {show}: systemd-journal-remote"))?,
                        0o640,
                        Expect::Metadata,
                    ),
                    Source::StandinLib => (
                        standin_lib_copy(id, &path, &f.embed)?,
                        0o755,
                        Expect::Metadata,
                    ),
                };
                expect = f.expect.unwrap_or(default_expect);
                let mode = f.mode.as_deref().map_or(Ok(default_mode), parse_mode)?;
                ensure_parent(sb, &path)?;
                if f.append {
                    sb.fs()
                        .append_file(&path, &bytes, Meta { mode, uid, gid })
                        .with_context(|| format!("appending to {show}"))?;
                } else {
                    sb.fs()
                        .write_file(&path, &bytes, Meta { mode, uid, gid })
                        .with_context(|| format!("writing {show}"))?;
                }
                if f.source == Source::Move {
                    let from = f.copy_from.as_deref().unwrap_or_default();
                    sb.fs()
                        .unlink(from.as_bytes())
                        .with_context(|| format!("file {show}: removing {from} (moved)"))?;
                }
            }
        }
        let mut flags = 0;
        if f.immutable {
            flags |= FS_IMMUTABLE_FL;
        }
        if f.append_only {
            flags |= FS_APPEND_FL;
        }
        finish.push(Finish {
            path,
            mtime: f.mtime.as_deref().map(parse_time).transpose()?,
            flags,
            expect,
        });
    }
    for p in &sc.dpkg {
        plant_dpkg(sb, p).with_context(|| format!("recording dpkg package {}", p.name))?;
    }
    // 3. Stand-in executables for processes whose exe no [[files]] entry declares.
    for p in &sc.processes {
        if p.source == ExeSource::Existing {
            continue;
        }
        let exe = p.exe_bytes()?;
        let declared = sc
            .files
            .iter()
            .any(|f| f.path_bytes().map(|b| b == exe).unwrap_or(false));
        if declared {
            continue;
        }
        let uid = acc.uid(&p.user)?;
        let gid = acc.primary_gid(&p.user)?;
        let (uid, gid) = if p.after_start == AfterStart::Upgrade {
            (0, 0)
        } else {
            (uid, gid)
        };
        ensure_parent(sb, &exe)?;
        sb.fs()
            .write_file(
                &exe,
                &standin_copy(id, &exe, &p.embed)?,
                Meta {
                    mode: 0o755,
                    uid,
                    gid,
                },
            )
            .with_context(|| format!("placing the stand-in for process {}", p.name))?;
    }

    // 4. Firewall rules.
    let mut firewall = Vec::new();
    for r in &sc.firewall {
        let tool = match r.family {
            IpFamily::Ipv4 => "iptables",
            IpFamily::Ipv6 => "ip6tables",
        };
        let mut argv = vec![tool.to_owned(), "-w".into(), "-t".into(), r.table.clone()];
        argv.extend(r.rule.split_whitespace().map(str::to_owned));
        let out = sb.run(&argv)?;
        expect_success(&format!("{tool} {}", r.rule), &out)?;
        firewall.push((r.family, r.rule.clone()));
    }

    // 5. The fake pool, then the processes.
    let pools: Vec<String> = sc.pools.iter().map(|p| p.addr.clone()).collect();
    sb.start_pool(&pools)?;
    let mut spec = String::new();
    for p in &sc.processes {
        let uid = acc.uid(&p.user)?;
        let gid = acc.primary_gid(&p.user)?;
        let home = acc.home(&p.user).unwrap_or_else(|| "/".into());
        spec.push_str(&format!("proc {}\n", p.name));
        spec.push_str(&format!("exe {}\n", hx(&p.exe_inside()?)));
        if let Some(root) = &p.root {
            spec.push_str(&format!("root {}\n", hx(root.as_bytes())));
        }
        for l in &p.load {
            spec.push_str(&format!("load {}\n", hx(l.as_bytes())));
        }
        for a in p.argv_bytes()? {
            spec.push_str(&format!("arg {}\n", hx(&a)));
        }
        if let Some(c) = p.comm_bytes()? {
            spec.push_str(&format!("comm {}\n", hx(&c)));
        }
        spec.push_str(&format!("uid {uid}\ngid {gid}\n"));
        spec.push_str(&format!(
            "cwd {}\n",
            hx(p.cwd.as_deref().unwrap_or("/").as_bytes())
        ));
        if let Some(parent) = &p.parent {
            spec.push_str(&format!("parent {parent}\n"));
        }
        for (key, addr) in [("connect", &p.connect), ("listen", &p.listen)] {
            if let Some(a) = addr {
                let sa = crate::scenario::parse_loopback(a)?;
                spec.push_str(&format!("{key} {} {}\n", sa.ip(), sa.port()));
            }
        }
        for a in &p.peers {
            let sa = crate::scenario::parse_loopback(a)?;
            spec.push_str(&format!("peer {} {}\n", sa.ip(), sa.port()));
        }
        if p.threads > 0 {
            spec.push_str(&format!("threads {}\n", p.threads));
        }
        if p.burn_ms > 0 {
            spec.push_str(&format!("burn {}\n", p.burn_ms));
        }
        if let Some(w) = &p.watch {
            spec.push_str(&format!("watch {w}\n"));
        }
        if p.nice != 0 {
            spec.push_str(&format!("nice {}\n", p.nice));
        }
        if p.source == ExeSource::Existing {
            spec.push_str("real 1\n");
        }
        let mut env = vec![format!("PATH={CLEAN_PATH}"), format!("HOME={home}")];
        env.extend(p.env.iter().cloned());
        for e in env {
            spec.push_str(&format!("env {}\n", hx(e.as_bytes())));
        }
        spec.push_str("end\n");
    }
    for p in &sc.processes {
        if let Some(cwd) = &p.cwd_on_host() {
            if !sb.fs().exists(cwd.as_bytes()) {
                let meta = Meta {
                    mode: 0o755,
                    uid: acc.uid(&p.user)?,
                    gid: acc.primary_gid(&p.user)?,
                };
                sb.fs()
                    .mkdir_all(cwd.as_bytes(), meta)
                    .with_context(|| format!("creating the cwd of process {}", p.name))?;
            }
        }
    }
    let pids = if sc.processes.is_empty() {
        BTreeMap::new()
    } else {
        sb.launch(&spec)?
    };

    // 6. After start: hashes of the running images, then deletions and upgrades.
    let mut processes = Vec::new();
    for p in &sc.processes {
        let pid = *pids
            .get(&p.name)
            .ok_or_else(|| anyhow!("process {} did not report ready", p.name))?;
        let exe = p.exe_bytes()?;
        let image = sb
            .fs()
            .read_file(&exe)
            .with_context(|| format!("reading back {}", String::from_utf8_lossy(&exe)))?;
        match p.after_start {
            AfterStart::Keep => {}
            AfterStart::Delete => sb
                .fs()
                .unlink(&exe)
                .with_context(|| format!("deleting the exe of {}", p.name))?,
            AfterStart::Upgrade => {
                let original = upgrade_originals
                    .get(&exe)
                    .ok_or_else(|| anyhow!("no original for {}", p.name))?;
                let mut tmp = exe.clone();
                tmp.extend_from_slice(b".dpkg-new");
                let st = sb.fs().lstat(&exe)?;
                sb.fs().write_file(
                    &tmp,
                    original,
                    Meta {
                        mode: st.st_mode & 0o7777,
                        uid: st.st_uid,
                        gid: st.st_gid,
                    },
                )?;
                sb.fs().rename(&tmp, &exe)?;
            }
        }
        processes.push(PlantedProcess {
            name: p.name.clone(),
            pid,
            exe,
            argv: p.argv_bytes()?,
            comm: p.comm_bytes()?,
            uid: acc.uid(&p.user)?,
            parent: p.parent.clone(),
            exe_deleted: p.after_start != AfterStart::Keep,
            exe_sha256: sha256_hex(&image),
            connect: p.connect.clone(),
            peers: p.peers.clone(),
            listen: p.listen.clone(),
        });
    }

    // 7. Times, then inode flags, deepest paths first.
    for f in &finish {
        if let Some(t) = f.mtime {
            sb.fs().set_mtime(&f.path, t).with_context(|| {
                format!("setting the mtime of {}", String::from_utf8_lossy(&f.path))
            })?;
        }
    }
    let mut flagged: Vec<&Finish> = finish.iter().filter(|f| f.flags != 0).collect();
    flagged.sort_by_key(|f| std::cmp::Reverse(f.path.iter().filter(|b| **b == b'/').count()));
    for f in flagged {
        sb.fs()
            .add_flags(&f.path, f.flags)
            .with_context(|| format!("chattr on {}", String::from_utf8_lossy(&f.path)))?;
    }

    // 8. Read back what is now on the host.
    let mut files = Vec::new();
    for f in &finish {
        files.push(read_back(sb, &f.path, f.expect)?);
    }
    Ok(Planted {
        scenario: id.to_owned(),
        hostname: sc.scenario.hostname.clone(),
        processes,
        files,
        firewall,
        accounts: accounts_added,
    })
}

/// The state of `path` in the sandbox now.
pub fn read_back(sb: &Sandbox, path: &[u8], expect: Expect) -> Result<PlantedFile> {
    let st = sb
        .fs()
        .lstat(path)
        .with_context(|| format!("reading back {}", String::from_utf8_lossy(path)))?;
    let kind = st.st_mode & libc::S_IFMT;
    let is_dir = kind == libc::S_IFDIR;
    let is_symlink = kind == libc::S_IFLNK;
    let flags = if is_symlink {
        0
    } else {
        sb.fs().flags(path).unwrap_or(0)
    };
    let content = if kind == libc::S_IFREG {
        Some(sb.fs().read_file(path)?)
    } else {
        None
    };
    Ok(PlantedFile {
        path: path.to_vec(),
        expect,
        is_dir,
        is_symlink,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime: st.st_mtime,
        immutable: flags & FS_IMMUTABLE_FL != 0,
        append_only: flags & FS_APPEND_FL != 0,
        sha256: content.as_deref().map(sha256_hex),
        content,
    })
}
