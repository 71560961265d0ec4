//! Where the chain starts. Candidates, strongest evidence first:
//! - a shell or downloader running under a network service (redis, java, a web server): observed
//!   parentage, the service is the way in;
//! - brute-force failures followed by an accepted password (and a password change) in the auth log;
//! - a crontab owned by or written for a service account (a Redis RDB header in it names Redis);
//! - an attacker key on an account;
//! - a flagged process running as a service account.
//!
//! When none holds, the entry point is `unknown` — never a guess dressed as a fact.

use std::collections::BTreeMap;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::process::ProcessRecord;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::graph::accounts::Accounts;
use crate::graph::nodes::{
    proc_id, user_id, user_name_id, Level, NodeKind, NodeVerdict, Relation, Stage,
};
use crate::graph::{AttackGraph, Budget};
use crate::indicators::Indicators;
use crate::model::auth::{AuthEvent, AuthKind};
use crate::model::HostModel;

/// Programs that are network services an attacker exploits to get a shell.
const SERVICES: &[&str] = &[
    "redis-server",
    "redis",
    "java",
    "httpd",
    "apache2",
    "nginx",
    "php-fpm",
    "php",
    "php-cgi",
    "tomcat",
    "catalina",
    "mysqld",
    "mariadbd",
    "postgres",
    "node",
    "jenkins",
    "confluence",
    "weblogic",
    "elasticsearch",
    "dockerd",
    "containerd-shim",
    "kubelet",
    "salt-minion",
    "gitlab",
    "puma",
    "unicorn",
    "uwsgi",
    "gunicorn",
    "python3",
];

/// Programs a foothold runs first.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "busybox", "curl", "wget", "python", "python3",
    "perl", "nc", "ncat",
];

/// Failed logins for one account that make a brute force.
const BRUTE_FORCE_MIN_FAILURES: usize = 5;
/// Failed logins from the source of a later accepted password that make a brute force.
const BRUTE_FORCE_MIN_FROM_SOURCE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Vector {
    ExposedService,
    BruteForce,
    ServiceAccountCrontab,
    SshKey,
    ServiceAccount,
}

impl Vector {
    pub fn name(self) -> &'static str {
        match self {
            Vector::ExposedService => "exposed_service",
            Vector::BruteForce => "ssh_brute_force",
            Vector::ServiceAccountCrontab => "service_account_crontab",
            Vector::SshKey => "ssh_key",
            Vector::ServiceAccount => "service_account",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub vector: Vector,
    /// One escaped sentence.
    pub summary: String,
    pub evidence: Vec<String>,
    pub level: Level,
    /// Node ids of the entry (service process, account, key).
    pub nodes: Vec<String>,
    /// 0-100: how strongly the evidence supports it.
    pub score: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPoint {
    /// Strongest first.
    pub candidates: Vec<Candidate>,
}

impl EntryPoint {
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.first()
    }

    pub fn summary(&self) -> String {
        match self.best() {
            Some(c) => c.summary.clone(),
            None => "unknown: the bundle holds no evidence of how the attacker got in".into(),
        }
    }
}

fn base_name(p: &ProcessRecord) -> String {
    let exe = p
        .exe
        .as_ref()
        .map(|e| e.path.as_bytes().to_vec())
        .unwrap_or_default();
    let name = exe.rsplit(|b| *b == b'/').next().unwrap_or(&exe).to_vec();
    if name.is_empty() {
        p.comm.lossy().into_owned()
    } else {
        String::from_utf8_lossy(&name).into_owned()
    }
}

fn is_service(p: &ProcessRecord) -> Option<String> {
    let exe = base_name(p);
    let comm = p.comm.lossy().into_owned();
    SERVICES
        .iter()
        .find(|s| {
            exe == **s
                || comm == **s
                || exe.starts_with(&format!("{s}-"))
                || exe.starts_with(&format!("{s}."))
                || comm.starts_with(&format!("{s}:"))
        })
        .map(|s| (*s).to_owned())
}

fn is_shell(p: &ProcessRecord) -> bool {
    let exe = base_name(p);
    let comm = p.comm.lossy().into_owned();
    SHELLS.iter().any(|s| exe == *s || comm == *s)
}

pub fn infer(
    model: &HostModel,
    iocs: &Indicators,
    g: &mut AttackGraph,
    auth: &[AuthEvent],
) -> EntryPoint {
    let accounts = Accounts::of(model, iocs);
    let boot = if model.host.identity.boot_id.is_empty() {
        model.manifest.host.boot_id.clone()
    } else {
        model.host.identity.boot_id.clone()
    };
    let mut cands = Vec::new();
    service_parents(model, g, &boot, &mut cands);
    brute_force(model, auth, &accounts, &mut cands);
    service_crontabs(model, g, &accounts, &mut cands);
    keys(g, &mut cands);
    service_account_processes(model, g, &boot, &accounts, &mut cands);
    cands.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.vector.cmp(&b.vector))
            .then(a.nodes.cmp(&b.nodes))
    });
    cands.dedup_by(|a, b| a.vector == b.vector && a.nodes == b.nodes);
    cands.truncate(8);
    if let Some(best) = cands.first() {
        for id in &best.nodes {
            let idx = match g.index_of(id) {
                Some(i) => Some(i),
                None if id.starts_with("user:") => {
                    let name = id.strip_prefix("user:name:").map(|n| n.as_bytes().to_vec());
                    match name {
                        Some(n) => accounts.node_by_name(g, &n, Budget::Findings),
                        None => id
                            .strip_prefix("user:")
                            .and_then(|u| u.parse().ok())
                            .and_then(|u| accounts.node(g, u, Budget::Findings)),
                    }
                }
                None => None,
            };
            if let Some(n) = idx.and_then(|i| g.node_at_mut(i)) {
                // The entry's persistence entry stays in its column; accounts, keys and services move.
                if n.kind != NodeKind::Persistence {
                    n.stage = Stage::Entry;
                }
                n.attrs
                    .insert("entry_point".into(), best.vector.name().into());
            }
        }
    }
    EntryPoint { candidates: cands }
}

fn verdict_of(g: &AttackGraph, id: &str) -> NodeVerdict {
    g.node(id).map_or(NodeVerdict::Unjudged, |n| n.verdict)
}

/// A shell, downloader or flagged process whose ancestors include a network service.
fn service_parents(model: &HostModel, g: &AttackGraph, boot: &str, out: &mut Vec<Candidate>) {
    for p in &model.processes {
        let flagged =
            verdict_of(g, &proc_id(boot, p.pid, p.start_ticks)) >= NodeVerdict::Suspicious;
        if !(flagged || is_shell(p)) || is_service(p).is_some() {
            continue;
        }
        let mut chain = vec![p];
        let mut cur = p;
        for _ in 0..32 {
            let Some(parent) = model
                .process(cur.ppid)
                .filter(|q| q.pid != cur.pid && q.pid > 1)
            else {
                break;
            };
            chain.push(parent);
            if let Some(service) = is_service(parent) {
                let any_flagged = flagged
                    || chain.iter().any(|q| {
                        verdict_of(g, &proc_id(boot, q.pid, q.start_ticks))
                            >= NodeVerdict::Suspicious
                    });
                let path: Vec<String> = chain
                    .iter()
                    .rev()
                    .map(|q| format!("pid {} ({})", q.pid, q.comm.escaped()))
                    .collect();
                out.push(Candidate {
                    vector: Vector::ExposedService,
                    summary: format!(
                        "exposed service {}: {} runs under {} (pid {})",
                        escape_bytes(service.as_bytes()),
                        if any_flagged {
                            "a flagged process"
                        } else {
                            "a shell or downloader"
                        },
                        escape_bytes(service.as_bytes()),
                        parent.pid
                    ),
                    evidence: vec![format!(
                        "process ancestry (/proc/PID/stat ppid): {}",
                        path.join(" -> ")
                    )],
                    level: Level::Observed,
                    nodes: vec![proc_id(boot, parent.pid, parent.start_ticks)],
                    score: if any_flagged { 90 } else { 60 },
                });
                break;
            }
            cur = parent;
        }
    }
}

/// Failed logins then an accepted password for the same account (then perhaps a password change).
fn brute_force(
    model: &HostModel,
    auth: &[AuthEvent],
    accounts: &Accounts,
    out: &mut Vec<Candidate>,
) {
    let mut by_user: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut by_source: BTreeMap<std::net::IpAddr, usize> = BTreeMap::new();
    let mut all_failures = 0usize;
    for e in auth {
        match e.kind {
            AuthKind::FailedPassword | AuthKind::InvalidUser => {
                all_failures += 1;
                *by_user.entry(e.user.clone()).or_default() += 1;
                if let Some(src) = &e.from {
                    *by_source.entry(*src).or_default() += 1;
                }
            }
            AuthKind::AcceptedPassword => {
                let for_user = by_user.get(&e.user).copied().unwrap_or(0);
                let from_source = e
                    .from
                    .as_ref()
                    .and_then(|f| by_source.get(f))
                    .copied()
                    .unwrap_or(0);
                let brute = from_source >= BRUTE_FORCE_MIN_FROM_SOURCE
                    || for_user >= BRUTE_FORCE_MIN_FAILURES
                    || all_failures >= BRUTE_FORCE_MIN_FAILURES * 4;
                if !brute {
                    continue;
                }
                let user = escape_bytes(&e.user);
                let src = e.from.map(|f| f.to_string()).unwrap_or_else(|| "?".into());
                let mut evidence = vec![
                    format!("{all_failures} failed logins before this one ({for_user} for {user}, {from_source} from {src})"),
                    format!("{}:{}: {}", escape_bytes(&e.path), e.line, e.text(model)),
                ];
                let changed = auth.iter().find(|c| {
                    c.kind == AuthKind::PasswordChanged && c.user == e.user && c.time >= e.time
                });
                if let Some(c) = changed {
                    evidence.push(format!(
                        "then {}:{}: {}",
                        escape_bytes(&c.path),
                        c.line,
                        c.text(model)
                    ));
                }
                let node = accounts
                    .uid_of(&e.user)
                    .map_or_else(|| user_name_id(&e.user), user_id);
                out.push(Candidate {
                    vector: Vector::BruteForce,
                    summary: format!(
                        "SSH brute force: password login to {user} from {src} after {} failed logins{}",
                        from_source.max(for_user),
                        if changed.is_some() { ", then its password was changed" } else { "" }
                    ),
                    evidence,
                    level: Level::Parsed,
                    nodes: vec![node],
                    score: if changed.is_some() { 88 } else { 80 },
                });
            }
            _ => {}
        }
    }
}

/// A cron entry in a service account's crontab that a finding flags or that fetches a URL.
fn service_crontabs(
    model: &HostModel,
    g: &AttackGraph,
    accounts: &Accounts,
    out: &mut Vec<Candidate>,
) {
    let _ = accounts;
    for i in g.g.node_indices() {
        let Some(n) = g.node_at(i) else { continue };
        if n.kind != NodeKind::Persistence
            || n.attrs.get("kind").map(String::as_str) != Some("cron")
        {
            continue;
        }
        let fetches = g.g.edges(i).any(|e| {
            e.weight().relation == Relation::References
                && g.node_at(e.target())
                    .is_some_and(|t| t.kind == NodeKind::Url)
        });
        if n.verdict < NodeVerdict::Suspicious && !fetches {
            continue;
        }
        // Owner (observed): a service account's own crontab.
        let owner =
            g.g.edges_directed(i, Direction::Incoming)
                .filter(|e| e.weight().relation == Relation::Owns)
                .filter_map(|e| g.node_at(e.source()))
                .find(|u| u.attrs.get("service_account").map(String::as_str) == Some("true"));
        let path = n.attrs.get("path").cloned().unwrap_or_default();
        let line = n.attrs.get("line").cloned().unwrap_or_default();
        let rdb = model
            .files
            .iter()
            .find(|f| f.path.escaped() == path)
            .and_then(|f| model.content(f))
            .is_some_and(crate::parse::cron::is_redis_rdb);
        if owner.is_none() && !rdb {
            continue;
        }
        let mut evidence = Vec::new();
        if let Some(o) = owner {
            evidence.push(format!(
                "{path} (line {line}) owned by service account {}",
                o.label
            ));
        }
        let what = if fetches {
            "downloads code"
        } else {
            "a finding flags"
        };
        let (service, summary, score, level) = if rdb {
            evidence.push(format!(
                "{path} holds a Redis RDB dump around the cron line: written by Redis (CONFIG SET dir / dbfilename)"
            ));
            let s = format!(
                "exposed service redis: it wrote the crontab {path} whose line {line} {what}"
            );
            ("redis".to_owned(), s, 92, Level::Observed)
        } else {
            let o = owner.map(|o| o.label.clone()).unwrap_or_default();
            let svc = owner
                .and_then(|o| o.attrs.get("name").cloned())
                .unwrap_or_else(|| o.clone());
            let s = format!("exposed service {svc}: its account {o} owns a crontab that {what}");
            (svc, s, 75, Level::Suspected)
        };
        let _ = service;
        let mut nodes = vec![n.id.clone()];
        if let Some(o) = owner {
            nodes.insert(0, o.id.clone());
        }
        if rdb {
            // The Redis server that wrote it, when it runs.
            if let Some(r) = g.g.node_weights().find(|p| {
                p.kind == NodeKind::Process
                    && p.attrs.get("comm").is_some_and(|c| c.starts_with("redis"))
            }) {
                evidence.push(format!("Redis runs as {} ({})", r.label, r.id));
                nodes.insert(0, r.id.clone());
            }
        }
        out.push(Candidate {
            vector: Vector::ServiceAccountCrontab,
            summary,
            evidence,
            level,
            nodes,
            score,
        });
    }
}

/// A flagged key authorizing an account.
fn keys(g: &AttackGraph, out: &mut Vec<Candidate>) {
    for i in g.g.node_indices() {
        let Some(k) = g.node_at(i) else { continue };
        if k.kind != NodeKind::SshKey || k.verdict < NodeVerdict::Suspicious {
            continue;
        }
        for e in
            g.g.edges(i)
                .filter(|e| e.weight().relation == Relation::Authorizes)
        {
            let Some(u) = g.node_at(e.target()) else {
                continue;
            };
            out.push(Candidate {
                vector: Vector::SshKey,
                summary: format!(
                    "SSH key {} ({}) added to account {}",
                    k.label,
                    k.attrs.get("fingerprint").cloned().unwrap_or_default(),
                    u.label
                ),
                evidence: e.weight().evidence.clone(),
                level: Level::Observed,
                nodes: vec![k.id.clone(), u.id.clone()],
                score: 70,
            });
        }
    }
}

/// A flagged process running as a service account whose service listens on the network.
fn service_account_processes(
    model: &HostModel,
    g: &AttackGraph,
    boot: &str,
    accounts: &Accounts,
    out: &mut Vec<Candidate>,
) {
    for p in &model.processes {
        if verdict_of(g, &proc_id(boot, p.pid, p.start_ticks)) < NodeVerdict::Suspicious {
            continue;
        }
        let Some(acct) = accounts
            .get(p.uid.effective)
            .filter(|a| accounts.is_service(a))
        else {
            continue;
        };
        let name = escape_bytes(&acct.name);
        out.push(Candidate {
            vector: Vector::ServiceAccount,
            summary: format!("service account {name}: a flagged process (pid {}) runs as it; the service it runs is the likely way in", p.pid),
            evidence: vec![format!("/proc/{}/status Uid {} ({name})", p.pid, p.uid.effective)],
            level: Level::Suspected,
            nodes: vec![user_id(acct.uid)],
            score: 50,
        });
    }
}
