//! What the services' own logs say about the way in ([`crate::model::service_logs`]), weighed against
//! the intrusion window:
//! - Redis: the server was made a replica of a master (`REPLICAOF`/`SLAVEOF`, the client that asked) or
//!   loaded a module (HeadCrab, P2Pinfect);
//! - web access logs: requests from one client that carried a shell command in their parameters or
//!   reached a file of the kit in a web root (a web shell), with that client's other requests around them
//!   (a manager upload, the first call of the shell);
//! - PostgreSQL: `COPY ... FROM PROGRAM` (a shell command run by the server), the client's login and the
//!   failed passwords before it.
//!
//! Which service wrote the log comes from the service table's `log` directories, else the log's format.

use std::collections::BTreeMap;
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{EntryVector, EvidenceLevel, Subject};
use minetrace_schemas::RawBytes;

use super::ancestry::entry_phrase;
use super::kit::{Kit, Placement};
use super::{Basis, Candidate, Inputs};
use crate::indicators::{PathClass, ServiceClass};
use crate::model::brute_force::GUESS_WINDOW;
use crate::model::service_logs::{
    request_command, request_injection, request_path, ServiceLogLine,
};
use crate::parse::service_log::{LogEvent, LogFormat};

/// Evidence lines quoted per candidate from one log.
const LINES_QUOTED: usize = 6;

/// How far before a client's first telling line its other lines belong to the same story (the manager
/// login and upload before the web shell's first call, the database login before `COPY ... FROM PROGRAM`).
const CLIENT_CONTEXT_SECS: i64 = 600;

pub fn candidates(inp: &Inputs, kit: &Kit) -> Vec<Candidate> {
    let mut out = Vec::new();
    // Lines of interest grouped by (log, client).
    let mut groups: BTreeMap<(&[u8], Option<IpAddr>), Vec<&ServiceLogLine>> = BTreeMap::new();
    for l in &inp.model.service_logs {
        groups
            .entry((&l.path[..], l.log.client))
            .or_default()
            .push(l);
    }
    for ((path, client), lines) in groups {
        let Some(first) = lines.first() else { continue };
        let format = first.format;
        let table = inp.iocs.services().writing_log(path);
        let service = table.map_or_else(|| default_service(format).to_owned(), |s| s.name.clone());
        let web = format == LogFormat::Access || table.is_some_and(|s| s.is(ServiceClass::Web));
        let telling: Vec<&ServiceLogLine> = lines
            .iter()
            .copied()
            .filter(|l| tells(inp, kit, l))
            .collect();
        let Some(earliest) = telling.iter().filter_map(|l| l.log.time).min() else {
            if telling.is_empty() {
                continue;
            }
            out.push(candidate(kit, path, client, &service, web, &telling, None));
            continue;
        };
        // The client's other lines from a few minutes before its first telling one (the upload, the
        // logins) belong to the same story.
        let context: Vec<&ServiceLogLine> = lines
            .iter()
            .copied()
            .filter(|l| {
                l.log.time.is_some_and(|t| {
                    t >= earliest.saturating_sub(CLIENT_CONTEXT_SECS) && t <= earliest
                }) && !telling.contains(l)
            })
            .collect();
        let mut shown = context;
        shown.extend(telling.iter().copied());
        shown.sort_by_key(|l| l.log.line);
        let mut c = candidate(kit, path, client, &service, web, &shown, Some(earliest));
        // Failed database logins of the same account before the login (the log names no client for them).
        if format == LogFormat::Postgres {
            let failures = inp
                .model
                .service_logs
                .iter()
                .filter(|l| &l.path[..] == path)
                .filter(|l| matches!(l.log.event, LogEvent::DbAuthFailed { .. }))
                .filter(|l| {
                    l.log.time.is_some_and(|t| {
                        t <= earliest && t.saturating_add(GUESS_WINDOW) >= earliest
                    })
                })
                .count();
            if failures > 0 {
                c = c.evidence(format!(
                    "{failures} failed password authentications in the {} minutes before",
                    GUESS_WINDOW / 60
                ));
            }
        }
        out.push(c);
    }
    out
}

/// The service a log format belongs to when no `log` directory of the table names it.
fn default_service(format: LogFormat) -> &'static str {
    match format {
        LogFormat::Redis => "redis",
        LogFormat::Postgres => "postgresql",
        LogFormat::Access => "web server",
    }
}

/// Whether a line is part of how the attacker got in (not merely traffic).
fn tells(inp: &Inputs, kit: &Kit, l: &ServiceLogLine) -> bool {
    match &l.log.event {
        // A client's replication tells; a module load only when its file is the kit's (MT-ENT-002 judged
        // it) or sits in a temp or hidden place: an admin's module loaded at start-up does not.
        LogEvent::RedisReplicaOf { .. } => true,
        LogEvent::RedisModuleLoaded { path, .. } => {
            inp.iocs.paths().is(PathClass::KitProne, path)
                || kit.files.iter().any(|f| f.path.as_bytes() == &path[..])
        }
        LogEvent::DbProgram { .. } => true,
        LogEvent::WebRequest { target, .. } => {
            request_command(target, inp.iocs).is_some()
                || request_injection(target, inp.iocs).is_some()
                || reaches_kit(inp, kit, target)
        }
        LogEvent::DbAuthFailed { .. } | LogEvent::DbLogin { .. } => false,
    }
}

/// Whether the request's path is a kit file in a web root (`/uploads/x.php` for
/// `/var/www/html/uploads/x.php`).
pub fn reaches_kit(inp: &Inputs, kit: &Kit, target: &[u8]) -> bool {
    let path = request_path(target);
    path.len() > 1
        && kit.files.iter().any(|f| {
            let p = f.path.as_bytes();
            inp.iocs.paths().is(PathClass::WebRoot, p) && p.ends_with(&path)
        })
}

fn describe(l: &ServiceLogLine) -> String {
    match &l.log.event {
        LogEvent::RedisReplicaOf { master } => {
            format!("became a replica of {}", escape_bytes(master.as_bytes()))
        }
        LogEvent::RedisModuleLoaded { name, path } => format!(
            "loaded module {} from {}",
            escape_bytes(name.as_bytes()),
            escape_bytes(path)
        ),
        LogEvent::WebRequest {
            method,
            target,
            status,
            user,
        } => format!(
            "{} {} -> {status}{}",
            escape_bytes(method.as_bytes()),
            escape_bytes(target),
            user.as_deref()
                .map(|u| format!(" (as {})", escape_bytes(u.as_bytes())))
                .unwrap_or_default()
        ),
        LogEvent::DbAuthFailed { user } => {
            format!(
                "password authentication failed for {}",
                escape_bytes(user.as_bytes())
            )
        }
        LogEvent::DbLogin { user } => format!("login as {}", escape_bytes(user.as_bytes())),
        LogEvent::DbProgram { statement } => {
            format!("ran a shell command: {}", escape_bytes(statement))
        }
    }
}

fn candidate(
    kit: &Kit,
    path: &[u8],
    client: Option<IpAddr>,
    service: &str,
    web: bool,
    lines: &[&ServiceLogLine],
    time: Option<i64>,
) -> Candidate {
    let vector = if web {
        EntryVector::WebApplication
    } else {
        EntryVector::ExposedService
    };
    let place = kit.place(time);
    let confidence = match place {
        Placement::InWindow => 75,
        Placement::Unknown => 60,
        Placement::Outside => 45,
    };
    let format = lines.first().map_or("log", |l| l.format.name());
    let from = client.map(|c| format!(" from {c}")).unwrap_or_default();
    let mut c = Candidate::new(
        vector,
        Basis::ServiceLog,
        EvidenceLevel::Parsed,
        confidence,
        format!(
            "{}: its {format} shows {}{from}",
            entry_phrase(vector, service),
            lines
                .iter()
                .next_back()
                .map_or_else(String::new, |l| describe(l))
        ),
    )
    .service(service)
    .at(time)
    .subject(Subject::File {
        path: RawBytes(path.to_vec()),
        sha256: None,
    });
    if let Some(ip) = client {
        c = c.source(ip.to_string());
    }
    let skip = lines.len().saturating_sub(LINES_QUOTED);
    for l in lines.iter().skip(skip) {
        c = c.evidence(format!("{}: {}", l.location(), describe(l)));
    }
    if skip > 0 {
        c = c.evidence(format!("... and {skip} earlier line(s) of the same client"));
    }
    if let Some(rel) = kit.relation(time) {
        c = c.evidence(format!(
            "first of them {rel}{}",
            if place == Placement::Outside {
                ": outside the intrusion window"
            } else {
                ""
            }
        ));
    }
    c
}
