//! Ground truth, resolved against a live plant, and the check of a collected bundle against it.
//!
//! [`resolve`] turns the scenario's `[truth]` (processes by name, persistence by a substring) into concrete
//! subjects (pids, exe hashes, line numbers, `ssh-keygen -l` fingerprints) shaped like
//! `minetrace_schemas::findings::Subject`; detection and remediation tests compare findings with it.
//! [`check_bundle`] lists every way a bundle misses what was planted: each missing process, socket,
//! executable, file record, crontab line, key, firewall rule or immutable bit is one line.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use minetrace_schemas::bundle::{members, Bundle};
use minetrace_schemas::records::command::CommandRecord;
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::records::socket::{SocketProto, SocketRecord};
use minetrace_schemas::records::RecordSetV1;
use minetrace_schemas::RawBytes;
use serde::Serialize;

use crate::plant::{sha256_hex, Planted, PlantedFile};
use crate::scenario::{one_of, Expect, IpFamily, Scenario, SubjectSpec, Verdict};

/// A ground-truth subject with everything resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Process {
        /// Scenario process name.
        name: String,
        pid: i32,
        exe: RawBytes,
        argv: Vec<RawBytes>,
        sha256: String,
    },
    File {
        path: RawBytes,
        sha256: Option<String>,
    },
    Endpoint {
        addr: String,
    },
    SshKey {
        fingerprint: String,
        path: RawBytes,
        line: u32,
    },
    Persistence {
        path: RawBytes,
        line: u32,
        text: RawBytes,
    },
    Account {
        name: String,
        uid: Option<u32>,
    },
    FirewallRule {
        rule: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ResolvedTruth {
    pub scenario: String,
    pub hostname: String,
    pub verdict: Verdict,
    pub family: Option<String>,
    pub entry_point: String,
    pub entry_service: Option<String>,
    pub allowlist: Option<String>,
    pub malicious: Vec<Subject>,
    pub benign: Vec<Subject>,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without padding (as `ssh-keygen -l` prints SHA256 fingerprints).
pub fn base64_nopad(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = B64
            .iter()
            .position(|x| *x == c)
            .ok_or_else(|| anyhow!("not base64: {c:?}"))? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// `SHA256:...` fingerprint of an `authorized_keys` line (options before the key type are skipped).
pub fn key_fingerprint(line: &str) -> Result<String> {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        let is_type = w.starts_with("ssh-")
            || w.starts_with("ecdsa-sha2-")
            || w.starts_with("sk-ssh-")
            || w.starts_with("sk-ecdsa-");
        if is_type {
            let blob = words
                .next()
                .ok_or_else(|| anyhow!("key type without key"))?;
            let raw = base64_decode(blob)?;
            use sha2::Digest;
            return Ok(format!(
                "SHA256:{}",
                base64_nopad(&sha2::Sha256::digest(&raw))
            ));
        }
    }
    bail!("no key in line {line:?}")
}

/// 1-based number of the only line of `content` containing `needle`.
fn line_of(content: &[u8], needle: &[u8], what: &str) -> Result<u32> {
    let hits: Vec<usize> = content
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| l.windows(needle.len().max(1)).any(|w| w == needle))
        .map(|(i, _)| i + 1)
        .collect();
    match hits.as_slice() {
        [one] => u32::try_from(*one).context("line number"),
        [] => bail!(
            "{what}: no line contains {:?}",
            String::from_utf8_lossy(needle)
        ),
        _ => bail!(
            "{what}: lines {hits:?} all contain {:?}; make the text unique",
            String::from_utf8_lossy(needle)
        ),
    }
}

fn planted_content<'a>(planted: &'a Planted, path: &[u8]) -> Result<&'a [u8]> {
    planted
        .file(path)
        .and_then(|f| f.content.as_deref())
        .ok_or_else(|| {
            anyhow!(
                "{} is not a planted regular file",
                String::from_utf8_lossy(path)
            )
        })
}

fn resolve_one(planted: &Planted, s: &SubjectSpec) -> Result<Subject> {
    Ok(match s {
        SubjectSpec::Process { process } => {
            let p = planted
                .process(process)
                .ok_or_else(|| anyhow!("process {process} was not started"))?;
            Subject::Process {
                name: p.name.clone(),
                pid: p.pid,
                exe: RawBytes::new(p.exe.clone()),
                argv: p.argv.iter().cloned().map(RawBytes::new).collect(),
                sha256: p.exe_sha256.clone(),
            }
        }
        SubjectSpec::File { path, path_hex } => {
            let path = one_of("path", path.as_deref(), path_hex.as_deref())?;
            let sha256 = planted
                .file(&path)
                .and_then(|f| f.sha256.clone())
                .or_else(|| {
                    planted
                        .processes
                        .iter()
                        .find(|p| p.exe == path)
                        .map(|p| p.exe_sha256.clone())
                });
            Subject::File {
                path: RawBytes::new(path),
                sha256,
            }
        }
        SubjectSpec::Endpoint { addr } => Subject::Endpoint { addr: addr.clone() },
        SubjectSpec::SshKey { path, text } => {
            let content = planted_content(planted, path.as_bytes())?;
            let line = line_of(content, text.as_bytes(), path)?;
            let text_line = content
                .split(|b| *b == b'\n')
                .nth(line as usize - 1)
                .unwrap_or_default();
            Subject::SshKey {
                fingerprint: key_fingerprint(&String::from_utf8_lossy(text_line))?,
                path: RawBytes::new(path.as_bytes().to_vec()),
                line,
            }
        }
        SubjectSpec::Persistence {
            path,
            path_hex,
            text,
            text_hex,
        } => {
            let path = one_of("path", path.as_deref(), path_hex.as_deref())?;
            let text = one_of("text", text.as_deref(), text_hex.as_deref())?;
            let content = planted_content(planted, &path)?;
            let line = line_of(content, &text, &String::from_utf8_lossy(&path))?;
            Subject::Persistence {
                path: RawBytes::new(path),
                line,
                text: RawBytes::new(text),
            }
        }
        SubjectSpec::Account { name } => Subject::Account {
            name: name.clone(),
            uid: planted.accounts.iter().find(|a| a.0 == *name).map(|a| a.1),
        },
        SubjectSpec::FirewallRule { rule } => Subject::FirewallRule { rule: rule.clone() },
    })
}

/// Resolves the scenario's ground truth against what was planted.
pub fn resolve(sc: &Scenario, planted: &Planted) -> Result<ResolvedTruth> {
    let list = |specs: &[SubjectSpec]| -> Result<Vec<Subject>> {
        specs
            .iter()
            .map(|s| resolve_one(planted, s).with_context(|| format!("truth subject {s:?}")))
            .collect()
    };
    Ok(ResolvedTruth {
        scenario: sc.scenario.id.clone(),
        hostname: sc.scenario.hostname.clone(),
        verdict: sc.truth.verdict,
        family: sc.truth.family.clone(),
        entry_point: sc.truth.entry_point.clone(),
        entry_service: sc.truth.entry_service.clone(),
        allowlist: sc.truth.allowlist.clone(),
        malicious: list(&sc.truth.malicious)?,
        benign: list(&sc.truth.benign)?,
    })
}

/// The structured records of a bundle, decoded once.
#[derive(Debug, Default)]
pub struct Records {
    pub processes: Vec<ProcessRecord>,
    pub executables: Vec<ExecutableRecord>,
    pub sockets: Vec<SocketRecord>,
    pub files: Vec<FileRecord>,
    pub commands: Vec<CommandRecord>,
}

impl Records {
    /// Decodes every record member; a member that is absent or undecodable is a problem.
    pub fn decode(bundle: &Bundle, problems: &mut Vec<String>) -> Records {
        let mut r = Records::default();
        for name in [
            members::PROCESSES,
            members::EXECUTABLES,
            members::SOCKETS,
            members::FILES,
            members::COMMANDS,
        ] {
            match bundle.records(name) {
                Ok(Some(RecordSetV1::Processes(v))) => r.processes = v,
                Ok(Some(RecordSetV1::Executables(v))) => r.executables = v,
                Ok(Some(RecordSetV1::Sockets(v))) => r.sockets = v,
                Ok(Some(RecordSetV1::Files(v))) => r.files = v,
                Ok(Some(RecordSetV1::Commands(v))) => r.commands = v,
                Ok(Some(other)) => problems.push(format!("{name} holds {other:?}-kind records")),
                Ok(None) => problems.push(format!("bundle has no {name}")),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
        r
    }

    pub fn process(&self, pid: i32) -> Option<&ProcessRecord> {
        self.processes.iter().find(|p| p.pid == pid)
    }

    pub fn files_at(&self, path: &[u8]) -> Vec<&FileRecord> {
        self.files
            .iter()
            .filter(|f| f.path.as_bytes() == path)
            .collect()
    }
}

fn show(bytes: &[u8]) -> String {
    minetrace_schemas::escape_bytes(bytes)
}

fn comm_of(exe: &[u8], comm: Option<&[u8]>) -> Vec<u8> {
    let name = comm.unwrap_or_else(|| exe.rsplit(|b| *b == b'/').next().unwrap_or(exe));
    name[..name.len().min(15)].to_vec()
}

fn check_process(
    planted: &Planted,
    p: &crate::plant::PlantedProcess,
    rec: &Records,
    bundle: &Bundle,
    problems: &mut Vec<String>,
) {
    let who = format!("process {} (pid {})", p.name, p.pid);
    let Some(r) = rec.process(p.pid) else {
        problems.push(format!("{who}: not in the process table"));
        return;
    };
    let argv: Vec<Vec<u8>> = r.argv().into_iter().map(<[u8]>::to_vec).collect();
    if argv != p.argv {
        problems.push(format!(
            "{who}: argv {:?}, planted {:?}",
            argv.iter().map(|a| show(a)).collect::<Vec<_>>(),
            p.argv.iter().map(|a| show(a)).collect::<Vec<_>>()
        ));
    }
    let comm = comm_of(&p.exe, p.comm.as_deref());
    if r.comm.as_bytes() != comm.as_slice() {
        problems.push(format!(
            "{who}: comm {:?}, expected {:?}",
            r.comm.escaped(),
            show(&comm)
        ));
    }
    match &r.exe {
        None => problems.push(format!("{who}: no exe link recorded")),
        Some(exe) => {
            if exe.path.as_bytes() != p.exe.as_slice() {
                problems.push(format!(
                    "{who}: exe {:?}, planted {:?}",
                    exe.path.escaped(),
                    show(&p.exe)
                ));
            }
            if exe.deleted != p.exe_deleted {
                problems.push(format!(
                    "{who}: exe deleted = {}, planted {}",
                    exe.deleted, p.exe_deleted
                ));
            }
        }
    }
    if r.uid.real != p.uid {
        problems.push(format!("{who}: uid {}, planted {}", r.uid.real, p.uid));
    }
    let want_ppid = match &p.parent {
        Some(parent) => planted.process(parent).map_or(-1, |x| x.pid),
        None => 1,
    };
    if r.ppid != want_ppid {
        problems.push(format!("{who}: ppid {}, expected {want_ppid}", r.ppid));
    }
    match rec.executables.iter().find(|e| e.pids.contains(&p.pid)) {
        None => problems.push(format!("{who}: no executable record lists its pid")),
        Some(e) => {
            if e.sha256.as_deref() != Some(p.exe_sha256.as_str()) {
                problems.push(format!(
                    "{who}: executable sha256 {:?}, planted {}",
                    e.sha256, p.exe_sha256
                ));
            }
            if e.deleted != p.exe_deleted {
                problems.push(format!(
                    "{who}: executable record deleted = {}, planted {}",
                    e.deleted, p.exe_deleted
                ));
            }
            let must_copy = p.exe_deleted || copy_place(&p.exe);
            if must_copy {
                match &e.copy {
                    CopyStatus::Copied { member } => match bundle.member(member) {
                        Some(bytes) if sha256_hex(bytes) == p.exe_sha256 => {}
                        Some(_) => {
                            problems.push(format!("{who}: copied executable {member} differs"))
                        }
                        None => {
                            problems.push(format!("{who}: copied executable {member} is absent"))
                        }
                    },
                    other => problems.push(format!(
                        "{who}: executable at {} should be copied into the bundle, got {other:?}",
                        show(&p.exe)
                    )),
                }
            }
        }
    }
    for addr in p.connect.iter().chain(&p.peers) {
        let ok = rec.sockets.iter().any(|s| {
            matches!(s.proto, SocketProto::Tcp)
                && s.remote == *addr
                && s.state == "ESTABLISHED"
                && s.pids.contains(&p.pid)
        });
        if !ok {
            problems.push(format!(
                "{who}: no ESTABLISHED tcp socket to {addr} held by its pid"
            ));
        }
    }
    if let Some(addr) = &p.listen {
        let ok = rec.sockets.iter().any(|s| {
            matches!(s.proto, SocketProto::Tcp)
                && s.local == *addr
                && s.state == "LISTEN"
                && s.pids.contains(&p.pid)
        });
        if !ok {
            problems.push(format!(
                "{who}: no LISTEN tcp socket on {addr} held by its pid"
            ));
        }
    }
}

/// Places from which the collector copies running executables whole (issue 3): temp dirs, `/run`,
/// hidden directories and homes.
pub fn copy_place(path: &[u8]) -> bool {
    let p = String::from_utf8_lossy(path);
    [
        "/tmp/",
        "/var/tmp/",
        "/dev/shm/",
        "/run/",
        "/root/",
        "/home/",
    ]
    .iter()
    .any(|d| p.starts_with(d))
        || p.split('/').any(|c| c.starts_with('.') && c.len() > 1)
}

fn check_file(f: &PlantedFile, rec: &Records, bundle: &Bundle, problems: &mut Vec<String>) {
    if f.expect == Expect::Nothing {
        return;
    }
    let who = format!("file {}", show(&f.path));
    let records = rec.files_at(&f.path);
    let Some(r) = records.first() else {
        problems.push(format!("{who}: no file record"));
        return;
    };
    let kind_ok = match r.kind {
        FileKind::Directory => f.is_dir,
        FileKind::Symlink => f.is_symlink,
        FileKind::Regular => !f.is_dir && !f.is_symlink,
        _ => false,
    };
    if !kind_ok {
        problems.push(format!("{who}: recorded as {:?}", r.kind));
    }
    if r.mode & 0o7777 != f.mode {
        problems.push(format!(
            "{who}: mode {:o}, planted {:o}",
            r.mode & 0o7777,
            f.mode
        ));
    }
    if (r.uid, r.gid) != (f.uid, f.gid) {
        problems.push(format!(
            "{who}: owner {}:{}, planted {}:{}",
            r.uid, r.gid, f.uid, f.gid
        ));
    }
    if r.mtime.secs != f.mtime {
        problems.push(format!(
            "{who}: mtime {}, planted {}",
            r.mtime.secs, f.mtime
        ));
    }
    if r.immutable != f.immutable || r.append_only != f.append_only {
        problems.push(format!(
            "{who}: immutable/append-only {}/{}, planted {}/{}",
            r.immutable, r.append_only, f.immutable, f.append_only
        ));
    }
    if let Some(sha) = &f.sha256 {
        if r.sha256.as_ref().is_some_and(|s| s != sha) {
            problems.push(format!("{who}: sha256 {:?}, planted {sha}", r.sha256));
        }
        let stored = records
            .iter()
            .find_map(|r| r.member.as_deref())
            .and_then(|m| bundle.member(m));
        if let Some(p) = content_problem(r, stored, f) {
            problems.push(format!("{who}: {p}"));
        }
        if f.expect == Expect::Content && r.sha256.is_none() {
            problems.push(format!("{who}: no sha256 recorded"));
        }
    }
}

/// What is wrong with the stored content of a planted file (`stored`: the bytes of its member), if
/// anything. Secrets stay on the host, and each such file is named: a planted file with `expect =
/// "withheld"` must be recorded as withheld and not stored, and any other withheld file is a problem (a
/// collector that withholds a kit's script or config must fail here). A copy the collector says it
/// redacted (a miner's config) must hold redaction markers instead of equal bytes. Both are tied to the
/// planted file by the record's sha256, the host file's.
pub fn content_problem(r: &FileRecord, stored: Option<&[u8]>, f: &PlantedFile) -> Option<String> {
    use minetrace_schemas::miner_config::REDACTED_PREFIX;
    use minetrace_schemas::records::file::{CONTENT_REDACTED, CONTENT_WITHHELD};
    let error = r.error.as_deref().unwrap_or_default();
    let (withheld, redacted) = (
        error.starts_with(CONTENT_WITHHELD),
        error.starts_with(CONTENT_REDACTED),
    );
    if (withheld || redacted || f.expect == Expect::Withheld) && r.sha256 != f.sha256 {
        return Some(format!(
            "sha256 {:?} of a {} file, planted {:?}",
            r.sha256,
            if redacted { "redacted" } else { "withheld" },
            f.sha256
        ));
    }
    match (stored, f.expect) {
        (Some(_), Expect::Withheld) => Some(format!(
            "stored, but the scenario says it stays on the host ({error:?})"
        )),
        (None, Expect::Withheld) if withheld => None,
        (None, Expect::Withheld) => Some(format!("not recorded as withheld ({error:?})")),
        (Some(bytes), _) if redacted => (!bytes
            .windows(REDACTED_PREFIX.len())
            .any(|w| w == REDACTED_PREFIX.as_bytes()))
        .then(|| "recorded as redacted but its copy holds no redaction marker".to_owned()),
        (Some(bytes), _) if Some(bytes) != f.content.as_deref() => {
            Some("stored content differs from what was planted".to_owned())
        }
        (None, Expect::Content) if withheld => Some(format!(
            "withheld ({error}), but the scenario does not say it stays on the host (expect = \"withheld\")"
        )),
        (None, Expect::Content) => Some("content not stored under fs/".to_owned()),
        _ => None,
    }
}

/// The stored content of the first record at `path`, if any.
fn stored<'a>(rec: &Records, bundle: &'a Bundle, path: &[u8]) -> Option<&'a [u8]> {
    rec.files_at(path)
        .iter()
        .find_map(|r| r.member.as_deref())
        .and_then(|m| bundle.member(m))
}

fn firewall_text(rec: &Records, bundle: &Bundle, family: IpFamily) -> Option<String> {
    let prefix = match family {
        IpFamily::Ipv4 => "iptables",
        IpFamily::Ipv6 => "ip6tables",
    };
    let texts: Vec<String> = rec
        .commands
        .iter()
        .filter(|c| c.name.starts_with(prefix))
        .filter_map(|c| c.stdout_member.as_deref())
        .filter_map(|m| bundle.member(m))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// Every way `bundle` misses what was planted. Empty means the bundle shows the whole scenario.
pub fn check_bundle(planted: &Planted, truth: &ResolvedTruth, bundle: &Bundle) -> Vec<String> {
    let mut problems: Vec<String> = bundle
        .problems
        .iter()
        .map(|p| format!("bundle integrity: {p}"))
        .collect();
    if bundle.manifest.host.hostname != planted.hostname {
        problems.push(format!(
            "manifest hostname {:?}, sandbox {:?}",
            bundle.manifest.host.hostname, planted.hostname
        ));
    }
    let rec = Records::decode(bundle, &mut problems);
    for p in &planted.processes {
        check_process(planted, p, &rec, bundle, &mut problems);
    }
    for f in &planted.files {
        check_file(f, &rec, bundle, &mut problems);
    }
    for (family, rule) in &planted.firewall {
        match firewall_text(&rec, bundle, *family) {
            None => problems.push(format!(
                "firewall rule {rule:?}: no {family:?} firewall capture in the bundle"
            )),
            Some(text) if !text.lines().any(|l| l.trim() == rule.trim()) => {
                problems.push(format!("firewall rule {rule:?}: not in the captured rules"))
            }
            Some(_) => {}
        }
    }
    let passwd =
        stored(&rec, bundle, b"/etc/passwd").map(|b| String::from_utf8_lossy(b).into_owned());
    for (name, _, line) in &planted.accounts {
        match &passwd {
            None => problems.push(format!(
                "account {name}: /etc/passwd content not in the bundle"
            )),
            Some(text) if !text.lines().any(|l| l == line) => {
                problems.push(format!("account {name}: passwd line {line:?} missing"))
            }
            Some(_) => {}
        }
    }
    let mut seen = BTreeMap::new();
    for s in truth.malicious.iter().chain(&truth.benign) {
        if seen.insert(format!("{s:?}"), ()).is_some() {
            continue;
        }
        if let Subject::File { path, .. } = s {
            if planted
                .file(path.as_bytes())
                .is_some_and(|f| f.expect == Expect::Nothing)
            {
                continue;
            }
        }
        check_subject(s, &rec, bundle, &mut problems);
    }
    problems
}

fn check_subject(s: &Subject, rec: &Records, bundle: &Bundle, problems: &mut Vec<String>) {
    match s {
        Subject::Process { .. } | Subject::FirewallRule { .. } | Subject::Account { .. } => {}
        Subject::File { path, .. } => {
            let p = path.as_bytes();
            let found = !rec.files_at(p).is_empty()
                || rec.executables.iter().any(|e| e.path.as_bytes() == p);
            if !found {
                problems.push(format!(
                    "truth file {}: neither a file nor an executable record",
                    path.escaped()
                ));
            }
        }
        Subject::Endpoint { addr } => {
            if !rec
                .sockets
                .iter()
                .any(|x| x.remote == *addr || (x.local == *addr && x.state == "LISTEN"))
            {
                problems.push(format!("truth endpoint {addr}: no socket"));
            }
        }
        Subject::SshKey { path, line, .. } | Subject::Persistence { path, line, .. } => {
            let Some(bytes) = stored(rec, bundle, path.as_bytes()) else {
                problems.push(format!(
                    "truth {}:{line}: content not in the bundle",
                    path.escaped()
                ));
                return;
            };
            let got = bytes.split(|b| *b == b'\n').nth(*line as usize - 1);
            let want: Option<&[u8]> = match s {
                Subject::Persistence { text, .. } => Some(text.as_bytes()),
                _ => None,
            };
            match (got, want) {
                (None, _) => problems.push(format!(
                    "truth {}:{line}: the stored file has fewer lines",
                    path.escaped()
                )),
                (Some(l), Some(t)) if !l.windows(t.len().max(1)).any(|w| w == t) => {
                    problems.push(format!(
                        "truth {}:{line}: stored line {:?} lacks {:?}",
                        path.escaped(),
                        show(l),
                        show(t)
                    ))
                }
                _ => {}
            }
        }
    }
}

/// Reads a bundle from bytes with the default caps.
pub fn read_bundle(bytes: &[u8]) -> Result<Bundle> {
    minetrace_schemas::bundle::read_bundle(
        std::io::Cursor::new(bytes),
        minetrace_schemas::bundle::ReadLimits::default(),
    )
    .context("reading the collected bundle")
}
