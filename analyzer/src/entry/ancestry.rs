//! What the process table and the file system say about the way in:
//! - **observed parentage**: a kit process descends from a network service (its first service
//!   ancestor names it; a web server makes it a web application);
//! - **containers**: a kit process under a container runtime's shim was started through an API that is
//!   open to the network (a process exec'd into a running container, or a container running from the
//!   host's own files), or came with the image (the container's first process, running from the image's
//!   own root, no API open);
//! - **reconstructed parentage** (suspected): a kit process whose parent is gone runs as the account of
//!   a service that was already running, or the kit's files are that account's;
//! - **files a service wrote**: a crontab or key file that is a Redis dump (the findings that judge it).
//!
//! Logins (`sshd`) and schedulers (`cron`) end a walk: what runs under them came through a login or is
//! persistence, both weighed elsewhere.

use std::collections::HashSet;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{EntryVector, EvidenceLevel, Severity, Subject};
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::records::socket::SocketProto;

use super::kit::{account, Kit};
use super::{subjects, Basis, Candidate, Inputs};
use crate::detect::finding::process_subject;
use crate::detect::rules;
use crate::detect::runtime::support::{service_of, Names};
use crate::indicators::{Service, ServiceClass};
use crate::parse::cron::RDB_WRITER;

/// Ancestors walked at most.
const MAX_DEPTH: usize = 32;

pub fn candidates(inp: &Inputs, kit: &Kit) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut orphans = Vec::new();
    for p in &kit.processes {
        match walk(inp, p) {
            Walk::Service(chain, svc) => out.push(observed(inp, p, &chain, svc)),
            Walk::Container(chain, shim) => out.extend(container(inp, p, &chain, shim)),
            Walk::Login | Walk::Scheduler => {}
            Walk::Orphan => orphans.push(*p),
        }
    }
    out.extend(reconstructed(inp, kit, &orphans));
    out.extend(written_by_service(inp));
    out
}

enum Walk<'a> {
    /// The chain from the kit process up to (and including) its first service ancestor.
    Service(Vec<&'a ProcessRecord>, &'a Service),
    /// Up to a container runtime's shim.
    Container(Vec<&'a ProcessRecord>, &'a ProcessRecord),
    Login,
    Scheduler,
    /// No service among the ancestors (the parent is init, or gone).
    Orphan,
}

fn service<'a>(inp: &Inputs<'a>, p: &ProcessRecord) -> Option<&'a Service> {
    service_of(inp.iocs, p, &Names::of(p))
}

fn walk<'a>(inp: &Inputs<'a>, p: &'a ProcessRecord) -> Walk<'a> {
    let mut chain = vec![p];
    let mut seen = HashSet::from([p.pid]);
    let mut cur = p;
    for _ in 0..MAX_DEPTH {
        let Some(parent) = inp
            .model
            .process(cur.ppid)
            .filter(|q| q.pid > 1 && seen.insert(q.pid))
        else {
            return Walk::Orphan;
        };
        chain.push(parent);
        if let Some(svc) = service(inp, parent) {
            return match svc.class {
                Some(ServiceClass::Login) => Walk::Login,
                Some(ServiceClass::Scheduler) => Walk::Scheduler,
                Some(ServiceClass::Runtime) => Walk::Container(chain, parent),
                _ => Walk::Service(chain, svc),
            };
        }
        cur = parent;
    }
    Walk::Orphan
}

fn describe(p: &ProcessRecord) -> String {
    format!("pid {} ({})", p.pid, p.comm.escaped())
}

fn chain_text(chain: &[&ProcessRecord]) -> String {
    chain
        .iter()
        .map(|p| describe(p))
        .collect::<Vec<_>>()
        .join(" <- ")
}

fn vector_of(svc: &Service) -> EntryVector {
    if svc.is(ServiceClass::Web) {
        EntryVector::WebApplication
    } else {
        EntryVector::ExposedService
    }
}

fn observed(inp: &Inputs, p: &ProcessRecord, chain: &[&ProcessRecord], svc: &Service) -> Candidate {
    let top = chain.last().copied().unwrap_or(p);
    let generic = svc.is(ServiceClass::Generic);
    let what = if generic {
        format!("a {} application", svc.name)
    } else {
        svc.name.clone()
    };
    Candidate::new(
        vector_of(svc),
        Basis::Ancestry,
        EvidenceLevel::Observed,
        if generic { 60 } else { 85 },
        format!(
            "{}: kit process {} runs under {what} ({})",
            entry_phrase(vector_of(svc), &svc.name),
            describe(p),
            describe(top)
        ),
    )
    .service(svc.name.clone())
    .at(inp.model.start_unix(p))
    .evidence(format!(
        "process ancestry (/proc/PID/stat ppid, observed): {}",
        chain_text(chain)
    ))
    .evidence(format!(
        "{} is {what} (service table: its {})",
        describe(top),
        if svc.argv.is_empty() {
            "program name"
        } else {
            "command line"
        }
    ))
    .subject(process_subject(top))
}

/// "exposed redis service" / "web application under nginx".
pub fn entry_phrase(vector: EntryVector, service: &str) -> String {
    match vector {
        EntryVector::WebApplication => format!("web application served by {service}"),
        _ => format!("exposed {service} service"),
    }
}

/// A TCP socket a process listens on, as `addr`.
fn listening<'a>(inp: &Inputs<'a>, p: &ProcessRecord) -> Option<&'a str> {
    inp.model
        .sockets
        .iter()
        .filter(|s| matches!(s.proto, SocketProto::Tcp | SocketProto::Tcp6))
        .filter(|s| s.state == "LISTEN" && s.pids.contains(&p.pid))
        .map(|s| s.local.as_str())
        .next()
}

fn cmdline_text(p: &ProcessRecord) -> String {
    let bytes: Vec<u8> = p
        .cmdline
        .as_bytes()
        .iter()
        .map(|b| if *b == 0 { b' ' } else { *b })
        .collect();
    escape_bytes(bytes.trim_ascii_end())
}

/// A kit process in a container: which API started it, or the image it came with.
fn container(
    inp: &Inputs,
    p: &ProcessRecord,
    chain: &[&ProcessRecord],
    shim: &ProcessRecord,
) -> Vec<Candidate> {
    let model = inp.model;
    // The container's process directly under the shim on the kit process's side.
    let member = chain.iter().rev().nth(1).copied().unwrap_or(p);
    let first_of_container = model
        .processes
        .iter()
        .filter(|q| q.ppid == shim.pid)
        .min_by_key(|q| (q.start_ticks, q.pid))
        .is_some_and(|q| q.pid == member.pid);
    let own_root = p
        .root
        .as_ref()
        .is_some_and(|r| !r.as_bytes().is_empty() && r.as_bytes() != b"/");
    let placement = match (first_of_container, own_root) {
        (true, true) => "the container's first process, running from the container's own root",
        (true, false) => {
            "the container's first process, running from the host's own files (a host mount)"
        }
        (false, _) => "a process exec'd into a running container (not its first)",
    };
    let ancestry = format!(
        "process ancestry (observed): {} — {placement}",
        chain_text(chain)
    );
    let mut apis = Vec::new();
    for q in &model.processes {
        let Some(svc) = service(inp, q).filter(|s| s.is(ServiceClass::Api)) else {
            continue;
        };
        let Some(addr) = listening(inp, q) else {
            continue;
        };
        let cmd = cmdline_text(q);
        let open = svc
            .open_argv
            .iter()
            .find(|a| cmd.to_ascii_lowercase().contains(a.as_str()));
        let mut c = Candidate::new(
            EntryVector::ExposedService,
            Basis::Container,
            EvidenceLevel::Observed,
            if open.is_some() { 85 } else { 70 },
            format!(
                "exposed {} API: kit process {} runs in a container ({placement}) while {} listens on {}",
                svc.name,
                describe(p),
                describe(q),
                escape_bytes(addr.as_bytes())
            ),
        )
        .service(svc.name.clone())
        .at(model.start_unix(p))
        .evidence(ancestry.clone())
        .evidence(format!(
            "{} ({}) listens on TCP {} (observed)",
            describe(q),
            svc.name,
            escape_bytes(addr.as_bytes())
        ))
        .subject(process_subject(q));
        if let Some(a) = open {
            c = c.evidence(format!(
                "its arguments open it to unauthenticated clients ({a:?} in: {cmd})"
            ));
        }
        apis.push(c);
    }
    if !apis.is_empty() {
        return apis;
    }
    if first_of_container && own_root {
        let id = container_id(shim);
        let mut c = Candidate::new(
            EntryVector::SupplyChain,
            Basis::Container,
            EvidenceLevel::Observed,
            70,
            format!(
                "supply chain: kit process {} is the first process of a container (its image's own program) and no container API is open to the network",
                describe(p)
            ),
        )
        .service("image")
        .at(model.start_unix(p))
        .evidence(ancestry)
        .evidence("no container API (docker, kubelet) listens on TCP: the container was started by the operator, from its image")
        .subject(process_subject(p));
        if let Some(root) = &p.root {
            c = c.evidence(format!("the process's root is {}", root.escaped()));
        }
        if let Some(id) = id {
            c = c.source(format!("container {id}"));
        }
        return vec![c];
    }
    let svc = service(inp, shim).map_or_else(|| "container".to_owned(), |s| s.name.clone());
    vec![Candidate::new(
        EntryVector::ExposedService,
        Basis::Container,
        EvidenceLevel::Observed,
        40,
        format!(
            "a container: kit process {} runs under {} ({placement}); the API that started it is not in the bundle",
            describe(p),
            describe(shim)
        ),
    )
    .service(svc)
    .evidence(ancestry)
    .subject(process_subject(shim))]
}

/// The container id a shim names (`-id ID`), first 12 characters.
fn container_id(shim: &ProcessRecord) -> Option<String> {
    let argv = shim.argv();
    let at = argv.iter().position(|a| *a == b"-id")?;
    let id = argv.get(at + 1)?;
    Some(escape_bytes(id.get(..id.len().min(12))?))
}

/// Kit processes whose parent is gone, and kit files, tied to a running service by its account.
fn reconstructed(inp: &Inputs, kit: &Kit, orphans: &[&ProcessRecord]) -> Vec<Candidate> {
    let model = inp.model;
    let mut out = Vec::new();
    let services: Vec<(&ProcessRecord, &Service)> = model
        .processes
        .iter()
        .filter_map(|q| service(inp, q).map(|s| (q, s)))
        .filter(|(q, s)| {
            q.uid.effective != 0
                && !(s.is(ServiceClass::Login)
                    || s.is(ServiceClass::Scheduler)
                    || s.is(ServiceClass::Runtime))
        })
        .collect();
    for &uid in kit.owners.iter().filter(|u| **u != 0) {
        // The service of that account that started first (a worker process shares its master's account).
        let Some((q, svc)) = services
            .iter()
            .filter(|(q, _)| q.uid.effective == uid)
            .min_by_key(|(q, _)| (q.start_ticks, q.pid))
        else {
            continue;
        };
        let who = account(inp, uid);
        let running: Vec<&&ProcessRecord> =
            orphans.iter().filter(|p| p.uid.effective == uid).collect();
        let files: Vec<String> = kit
            .files
            .iter()
            .filter(|f| f.uid == uid)
            .map(|f| f.path.escaped())
            .collect();
        let is_service_account = model
            .accounts
            .by_uid(uid)
            .is_some_and(|a| model.accounts.is_service(inp.iocs, &a.name));
        let mut confidence = if running.is_empty() { 50 } else { 55 };
        if is_service_account {
            confidence += 5;
        }
        if !files.is_empty() {
            confidence += 5;
        }
        let mut c = Candidate::new(
            vector_of(svc),
            Basis::Owner,
            EvidenceLevel::Suspected,
            confidence,
            format!(
                "{}: the kit runs as or belongs to {who}, the account {} runs as ({})",
                entry_phrase(vector_of(svc), &svc.name),
                svc.name,
                describe(q)
            ),
        )
        .service(svc.name.clone())
        .subject(process_subject(q))
        .subject(Subject::Account {
            name: minetrace_schemas::RawBytes(
                model
                    .accounts
                    .by_uid(uid)
                    .map(|a| a.name.clone())
                    .unwrap_or_default(),
            ),
            uid: Some(uid),
        });
        for p in &running {
            let started = |x: &ProcessRecord| model.start_unix(x);
            let order = match (started(q), started(p)) {
                (Some(a), Some(b)) if a <= b => ", started after the service",
                _ => "",
            };
            c = c.evidence(format!(
                "{} runs as {who} with parent pid {}{order}: its parentage is reconstructed from the account, not observed",
                describe(p),
                p.ppid
            ));
        }
        if !files.is_empty() {
            c = c.evidence(format!("kit files owned by {who}: {}", files.join(", ")));
        }
        c = c.evidence(format!(
            "{who} runs {} ({}){}",
            describe(q),
            svc.name,
            if is_service_account {
                ", a service account"
            } else {
                ""
            }
        ));
        out.push(c);
    }
    out
}

/// Files only a service writes that way: a crontab or key file that is a Redis RDB dump.
fn written_by_service(inp: &Inputs) -> Vec<Candidate> {
    let mut out = Vec::new();
    for f in inp.findings.iter().filter(|f| {
        f.severity >= Severity::Medium
            && (f.rule == rules::PER_002.id || f.rule == rules::SSH_003.id)
    }) {
        // Both rules judge an RDB dump: the service is the one that writes them, running or not.
        let name = inp
            .iocs
            .services()
            .by_name(RDB_WRITER)
            .map_or(RDB_WRITER, |s| s.name.as_str())
            .to_owned();
        let redis = inp
            .model
            .processes
            .iter()
            .find(|q| service(inp, q).is_some_and(|s| s.name == name));
        let files: Vec<String> = subjects(f)
            .filter_map(|s| match s {
                Subject::File { path, .. }
                | Subject::Persistence { path, .. }
                | Subject::SshKey { path, .. } => Some(path.escaped()),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut c = Candidate::new(
            EntryVector::ExposedService,
            Basis::WrittenByService,
            EvidenceLevel::Observed,
            80,
            format!(
                "exposed {name} service: it wrote {} for the attacker (an RDB dump around the attacker's line)",
                files.join(", ")
            ),
        )
        .service(name)
        .rule(&f.rule)
        .evidence(format!("{} ({}): {}", f.rule, f.title, files.join(", ")));
        if let Some(q) = redis {
            c = c
                .evidence(format!("Redis runs: {}", describe(q)))
                .subject(process_subject(q));
        }
        out.push(c);
    }
    out
}
