//! The real analyzer run on collected bundles, and its findings judged against a scenario's ground truth
//! (issue 6 "Done when"): verdict, family, every malicious subject found at medium or above, no benign
//! subject at medium or above, exit status.
//!
//! The analyzer runs on the host, as it would on an analyst's machine, on a bundle written to a private
//! temporary directory.
//!
//! ## How a ground-truth subject matches a finding's subject
//! | truth kind | finding subject that matches |
//! |---|---|
//! | process | `process` with the same pid (pids are the sandbox's, as collected) |
//! | file | `file` with the same path (bytes); on a merged-/usr image `/lib/x` and `/usr/lib/x` are one path |
//! | endpoint | `endpoint` with the same `IP:PORT` |
//! | ssh_key | `ssh_key` with the same path and `ssh-keygen -l` fingerprint; for a malicious key also the line |
//! | persistence | `persistence` with the same path and the same line, or line 0 (docs/RULES.md: the whole file) |
//! | account | `account` with the same name |
//! | firewall_rule | `firewall_rule` with the same rule text, whitespace-normalized |
//!
//! ## Families
//! The ground truth names families by short ids (`samples/README.md`); the analyzer by display names
//! (`analyzer/src/indicators/families.txt`). [`FAMILY_NAMES`] maps one to the other; names are compared
//! case-insensitively after trimming. An unmapped truth id is an error, not a pass. A clean host must get no
//! family at any severity (issue 12).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};
use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{
    Finding, FindingsDocument, Role, Severity, Subject as Found, Verdict as FoundVerdict,
};

use crate::binaries;
use crate::scenario::Verdict;
use crate::truth::{ResolvedTruth, Subject as Truth};

/// Ground-truth family id → the analyzer family names that mean it (lower case).
pub const FAMILY_NAMES: &[(&str, &[&str])] = &[
    ("kinsing", &["kinsing", "h2miner", "kinsing/h2miner"]),
    ("outlaw", &["outlaw", "dota3", "outlaw/dota3"]),
    ("8220", &["8220/pwnrig", "8220", "pwnrig", "8220 gang"]),
    ("perfctl", &["perfctl"]),
    ("watchdog", &["watchdog"]),
    ("redtail", &["redtail"]),
    ("diicot", &["diicot", "diicot/mexals", "mexals"]),
    ("sysrv", &["sysrv", "sysrv-hello", "sysrv-k"]),
    ("teamtnt", &["teamtnt"]),
    ("kiss-a-dog", &["kiss-a-dog"]),
    ("p2pinfect", &["p2pinfect"]),
    ("migo", &["migo"]),
    ("skidmap", &["skidmap"]),
];

/// `name` trimmed, lower-cased, inner whitespace collapsed.
pub fn normalize_family(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether the analyzer's family `name` is ground-truth family `id`.
pub fn family_is(id: &str, name: &str) -> Result<bool> {
    let id = normalize_family(id);
    let Some((_, names)) = FAMILY_NAMES.iter().find(|(k, _)| *k == id) else {
        bail!(
            "ground-truth family {id:?} has no mapping in tests/src/analysis.rs FAMILY_NAMES; add one"
        );
    };
    Ok(names.contains(&normalize_family(name).as_str()))
}

/// A bundle written to a private temporary directory on the host, with room for the other inputs and
/// outputs of the analyzer (allowlist, remediation script).
#[derive(Debug)]
pub struct BundleFile {
    dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl BundleFile {
    pub fn write(bytes: &[u8]) -> Result<BundleFile> {
        let dir = tempfile::Builder::new()
            .prefix("minetrace-e2e-")
            .tempdir()
            .context("creating a temporary directory")?;
        let path = dir.path().join("bundle.tar.zst");
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        Ok(BundleFile { dir, path })
    }

    /// The private directory holding the bundle.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the `--allow` file for `allowlist` (if any) beside the bundle.
    pub fn allow_file(&self, allowlist: Option<&str>) -> Result<Option<PathBuf>> {
        let Some(text) = allowlist else {
            return Ok(None);
        };
        let path = self.dir().join("allow.list");
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(path))
    }
}

/// One `minetrace analyze` of a bundle: the findings (`--json`) and the readable summary (no `--json`).
#[derive(Debug)]
pub struct AnalyzerRun {
    pub doc: FindingsDocument,
    /// Exit status of the `--json` run.
    pub exit: Option<i32>,
    /// The readable summary a detector engineer reads (`minetrace analyze BUNDLE`).
    pub summary: String,
    pub stderr: String,
}

fn analyzer_output(bin: &Path, args: &[&std::ffi::OsStr]) -> Result<Output> {
    Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", crate::sandbox::CLEAN_PATH)
        .env("LANG", "C")
        .output()
        .with_context(|| format!("running {}", bin.display()))
}

/// Runs `minetrace analyze BUNDLE --json [--allow FILE]` and the same without `--json`.
pub fn analyze(bundle: &Path, allow: Option<&Path>) -> Result<AnalyzerRun> {
    analyze_with(&binaries::analyzer()?, bundle, allow)
}

/// [`analyze`] with a given analyzer binary (`scenario-metrics` compares builds on the same bundles).
pub fn analyze_with(bin: &Path, bundle: &Path, allow: Option<&Path>) -> Result<AnalyzerRun> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["analyze".as_ref(), bundle.as_os_str()];
    if let Some(a) = allow {
        args.push("--allow".as_ref());
        args.push(a.as_os_str());
    }
    let text = analyzer_output(bin, &args)?;
    args.push("--json".as_ref());
    let json = analyzer_output(bin, &args)?;
    let stderr = String::from_utf8_lossy(&json.stderr).into_owned();
    let summary = String::from_utf8_lossy(&text.stdout).into_owned();
    if json.status.code() == Some(2) || json.status.code().is_none() {
        bail!(
            "minetrace analyze --json failed ({}):\n{stderr}\n{summary}",
            json.status
        );
    }
    let doc: FindingsDocument = serde_json::from_slice(&json.stdout).with_context(|| {
        format!(
            "minetrace analyze --json printed no findings document ({}):\n{stderr}\n{}",
            json.status,
            String::from_utf8_lossy(&json.stdout)
        )
    })?;
    Ok(AnalyzerRun {
        doc,
        exit: json.status.code(),
        summary,
        stderr,
    })
}

/// Runs `minetrace remediate BUNDLE -o FILE [--allow A]`; returns the script bytes and the printed plan.
pub fn remediation_script(
    bundle: &Path,
    allow: Option<&Path>,
    out: &Path,
) -> Result<(Vec<u8>, String)> {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "remediate".as_ref(),
        bundle.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ];
    if let Some(a) = allow {
        args.push("--allow".as_ref());
        args.push(a.as_os_str());
    }
    let o = analyzer_output(&binaries::analyzer()?, &args)?;
    let plan = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    if !o.status.success() {
        bail!("minetrace remediate failed ({}):\n{plan}", o.status);
    }
    let script = std::fs::read(out).with_context(|| format!("reading {}", out.display()))?;
    Ok((script, plan))
}

fn found_verdict(v: Verdict) -> FoundVerdict {
    match v {
        Verdict::Compromised => FoundVerdict::Compromised,
        Verdict::Suspicious => FoundVerdict::Suspicious,
        Verdict::Clean => FoundVerdict::Clean,
    }
}

/// `path` with a merged-/usr alias (`/lib/`, `/bin/`, `/sbin/`, `/lib64/`) spelt under `/usr`, when this
/// machine (the sandbox's lower layer) has merged /usr: the collector records the file under the name it
/// resolves to, the attacker's preload or cron line under the name it wrote.
pub fn canonical(path: &[u8]) -> Vec<u8> {
    for alias in ["lib", "bin", "sbin", "lib64", "lib32", "libx32"] {
        let prefix = format!("/{alias}/");
        if path.starts_with(prefix.as_bytes()) {
            let merged = std::fs::read_link(format!("/{alias}"))
                .map(|t| t.as_os_str() == format!("usr/{alias}").as_str())
                .unwrap_or(false);
            if merged {
                let mut out = b"/usr".to_vec();
                out.extend_from_slice(path);
                return out;
            }
        }
    }
    path.to_vec()
}

fn words(text: &[u8]) -> Vec<&[u8]> {
    text.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether a finding's subject `f` is ground-truth subject `t`. `exact_line`: an ssh key must also be on
/// the truth's line (malicious keys: the remediation removes that line).
pub fn matches(t: &Truth, f: &Found, exact_line: bool) -> bool {
    match (t, f) {
        (Truth::Process { pid, .. }, Found::Process { pid: p, .. }) => pid == p,
        (Truth::File { path, .. }, Found::File { path: p, .. }) => {
            canonical(path.as_bytes()) == canonical(p.as_bytes())
        }
        (Truth::Endpoint { addr }, Found::Endpoint { addr: a }) => addr == a,
        (
            Truth::SshKey {
                fingerprint,
                path,
                line,
            },
            Found::SshKey {
                fingerprint: fp,
                path: p,
                line: l,
            },
        ) => fingerprint == fp && path.as_bytes() == p.as_bytes() && (!exact_line || line == l),
        (Truth::Persistence { path, line, .. }, Found::Persistence { path: p, line: l }) => {
            path.as_bytes() == p.as_bytes() && (line == l || *l == 0)
        }
        (Truth::Account { name, .. }, Found::Account { name: n, .. }) => {
            name.as_bytes() == n.as_bytes()
        }
        (Truth::FirewallRule { rule }, Found::FirewallRule { rule: r }) => {
            words(rule.as_bytes()) == words(r.as_bytes())
        }
        _ => false,
    }
}

/// Near misses, for the diagnosis: same kind and same thing, but another line or fingerprint.
fn related(t: &Truth, f: &Found) -> bool {
    match (t, f) {
        (Truth::SshKey { path, .. }, Found::SshKey { path: p, .. })
        | (Truth::Persistence { path, .. }, Found::Persistence { path: p, .. }) => {
            path.as_bytes() == p.as_bytes()
        }
        (Truth::Process { exe, .. }, Found::Process { exe: Some(e), .. }) => {
            exe.as_bytes() == e.as_bytes()
        }
        (Truth::Process { exe, .. }, Found::File { path, .. }) => exe.as_bytes() == path.as_bytes(),
        _ => matches(t, f, false),
    }
}

/// A ground-truth subject for humans.
pub fn describe_truth(t: &Truth) -> String {
    match t {
        Truth::Process { name, pid, exe, .. } => {
            format!("process {name} (pid {pid}, exe {})", exe.escaped())
        }
        Truth::File { path, .. } => format!("file {}", path.escaped()),
        Truth::Endpoint { addr } => format!("endpoint {addr}"),
        Truth::SshKey {
            fingerprint,
            path,
            line,
        } => format!("ssh_key {fingerprint} at {}:{line}", path.escaped()),
        Truth::Persistence { path, line, text } => {
            format!(
                "persistence {}:{line} ({:?})",
                path.escaped(),
                text.escaped()
            )
        }
        Truth::Account { name, uid } => format!("account {name} (uid {uid:?})"),
        Truth::FirewallRule { rule } => format!("firewall_rule {rule:?}"),
    }
}

/// A finding's subject for humans.
pub fn describe_found(f: &Found) -> String {
    match f {
        Found::Process {
            pid,
            start_ticks,
            exe,
        } => format!(
            "process {pid} (start {start_ticks}, exe {})",
            exe.as_ref().map_or("-".into(), |e| e.escaped())
        ),
        Found::File { path, .. } => format!("file {}", path.escaped()),
        Found::Endpoint { addr } => format!("endpoint {addr}"),
        Found::SshKey {
            fingerprint,
            path,
            line,
        } => format!("ssh_key {fingerprint} at {}:{line}", path.escaped()),
        Found::Persistence { path, line } => format!("persistence {}:{line}", path.escaped()),
        Found::Account { name, uid } => format!("account {} (uid {uid:?})", name.escaped()),
        Found::FirewallRule { rule } => format!("firewall_rule {:?}", rule.escaped()),
        Found::KernelModule { name } => format!("kernel_module {name}"),
    }
}

fn describe_finding(f: &Finding) -> String {
    format!(
        "{} {} {:?}{}",
        f.severity.name().to_uppercase(),
        f.rule,
        f.title,
        f.family
            .as_ref()
            .map_or(String::new(), |x| format!(" (family {x})"))
    )
}

/// Families named by findings at medium or above.
pub fn serious_families(doc: &FindingsDocument) -> BTreeSet<String> {
    doc.findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .filter_map(|f| f.family.clone())
        .collect()
}

/// Every way the analysis misses the ground truth (issue 6 "Done when"); empty when it meets it.
pub fn check_analysis(truth: &ResolvedTruth, run: &AnalyzerRun) -> Vec<String> {
    let mut problems = Vec::new();
    let doc = &run.doc;
    let want = found_verdict(truth.verdict);
    if doc.verdict != want {
        problems.push(format!("verdict {:?}, expected {want:?}", doc.verdict));
    }
    let want_exit = if truth.verdict == Verdict::Clean {
        0
    } else {
        1
    };
    if run.exit != Some(want_exit) {
        problems.push(format!(
            "exit status {:?}, expected {want_exit} for a {want:?} host",
            run.exit
        ));
    }
    let families = serious_families(doc);
    match &truth.family {
        Some(id) => {
            let mut any = false;
            for name in &families {
                match family_is(id, name) {
                    Ok(true) => any = true,
                    Ok(false) => problems.push(format!(
                        "family {name:?} attributed at medium or above; the scenario is {id:?} only"
                    )),
                    Err(e) => problems.push(format!("{e:#}")),
                }
            }
            if !any {
                let all: BTreeSet<String> = doc
                    .findings
                    .iter()
                    .filter_map(|f| f.family.clone())
                    .collect();
                problems.push(format!(
                    "family {id:?} not attributed by any finding at medium or above \
                     (families at medium+: {families:?}; at any severity: {all:?})"
                ));
            }
        }
        None => {
            if !families.is_empty() {
                problems.push(format!(
                    "families {families:?} attributed at medium or above; the scenario has no family"
                ));
            }
        }
    }
    // Issue 12: a clean host never gets a family, at any severity.
    if truth.verdict == Verdict::Clean {
        for f in doc.findings.iter().filter(|f| f.family.is_some()) {
            problems.push(format!(
                "a clean host got a family: {}",
                describe_finding(f)
            ));
        }
    }
    for t in &truth.malicious {
        let serious = doc.findings.iter().any(|f| {
            // Judged as an artifact (a mention as context is not a judgement of the thing itself).
            f.severity >= Severity::Medium
                && f.subjects
                    .iter()
                    .any(|s| s.role == Role::Artifact && matches(t, &s.subject, true))
        });
        if serious {
            continue;
        }
        let mut near: Vec<String> = Vec::new();
        for f in &doc.findings {
            for fs in &f.subjects {
                let s = &fs.subject;
                if matches(t, s, true) {
                    near.push(format!(
                        "only at {} as {}",
                        describe_finding(f),
                        fs.role.name()
                    ));
                } else if related(t, s) {
                    near.push(format!(
                        "related subject {} in {}",
                        describe_found(s),
                        describe_finding(f)
                    ));
                }
            }
        }
        near.dedup();
        problems.push(format!(
            "malicious {} is not a subject of any finding at medium or above{}",
            describe_truth(t),
            if near.is_empty() {
                " (not mentioned at all)".to_owned()
            } else {
                format!(": {}", near.join("; "))
            }
        ));
    }
    problems.extend(check_entry(truth, run));
    for t in &truth.benign {
        for f in &doc.findings {
            if f.severity < Severity::Medium {
                continue;
            }
            // Context names where something is; it is never acted on.
            if let Some(s) = f
                .subjects
                .iter()
                .find(|s| s.role != Role::Context && matches(t, &s.subject, false))
            {
                problems.push(format!(
                    "benign {} is {} subject {} of {}",
                    describe_truth(t),
                    s.role.name(),
                    describe_found(&s.subject),
                    describe_finding(f)
                ));
            }
        }
    }
    problems
}

/// The entry point: the first candidate of `findings.json`'s `entry` list names the truth's vector and
/// service (`unknown` first when the planted host gives no evidence; no candidate at all on a clean host),
/// and the readable summary leads with it (its `entry:` line names the same vector).
pub fn check_entry(truth: &ResolvedTruth, run: &AnalyzerRun) -> Vec<String> {
    let mut problems = Vec::new();
    let entry = &run.doc.entry;
    let listed = || {
        entry
            .iter()
            .map(|c| {
                format!(
                    "{}{} ({}, confidence {})",
                    c.vector.name(),
                    c.service
                        .as_deref()
                        .map(|s| format!("/{s}"))
                        .unwrap_or_default(),
                    c.level.name(),
                    c.confidence
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if truth.entry_point == "none" {
        if !entry.is_empty() {
            problems.push(format!(
                "clean host, yet entry candidates are listed: {}",
                listed()
            ));
        }
        return problems;
    }
    let Some(first) = entry.first() else {
        problems.push(format!(
            "no entry candidate at all; expected {} first",
            truth.entry_point
        ));
        return problems;
    };
    let service_ok = match &truth.entry_service {
        Some(want) => first.service.as_deref() == Some(want.as_str()),
        None => true,
    };
    if first.vector.name() != truth.entry_point || !service_ok {
        problems.push(format!(
            "entry: first candidate {}{}, expected {}{}; candidates: {}",
            first.vector.name(),
            first
                .service
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default(),
            truth.entry_point,
            truth
                .entry_service
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default(),
            listed()
        ));
    }
    let lead = run
        .summary
        .lines()
        .find(|l| l.starts_with("entry: "))
        .unwrap_or_default();
    if !lead.contains(&format!("[{}", first.vector.name())) {
        problems.push(format!(
            "the summary does not lead with the entry point (its `entry:` line is {lead:?})"
        ));
    }
    problems
}

/// The failure text: what is wrong, then the analyzer's own summary of everything that fired.
pub fn report(id: &str, problems: &[String], run: &AnalyzerRun) -> String {
    let mut seen = BTreeSet::new();
    let problems: Vec<String> = problems
        .iter()
        .filter(|p| seen.insert(*p))
        .cloned()
        .collect();
    format!(
        "{id}: {} problem(s):\n  - {}\n\n--- minetrace analyze (summary) ---\n{}\n--- stderr ---\n{}",
        problems.len(),
        problems.join("\n  - "),
        run.summary,
        run.stderr
    )
}

/// Escaped bytes, for messages.
pub fn show(bytes: &[u8]) -> String {
    escape_bytes(bytes)
}
