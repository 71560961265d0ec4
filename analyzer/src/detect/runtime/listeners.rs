//! Listening backdoors (`MT-RUN-025`, T1205/T1571): a listening socket held by a program that sits where
//! programs do not run from — a temp, shared-memory or hidden place, a deleted or memory-only file — or
//! that wears a kernel thread's name. Services listen from package or `/opt`/`/usr/local` paths, and a
//! user's tools from a home's program directories (`~/.local/bin`); a bind shell or a peer-to-peer bot's
//! port listens from its drop place.
//!
//! Medium; high when the same process also holds an outbound connection (a peer-to-peer bot talks to its
//! peers), or runs from shared memory, memfd or a deleted file. The firewall `ACCEPT` that opens such a
//! port is `MT-EVA-041`.

use minetrace_schemas::findings::{Finding, Severity};

use super::support;
use crate::detect::finding::{describe_process, exe_subject, finding, process_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;

/// Why a listening process is suspicious, if it is: its drop places (not a home alone, nor a temp or
/// home directory a build tool ancestor explains: [`support::Placement`]) or a kernel thread's name on
/// a process with an executable; and whether a place is one programs never run from (memfd, deleted,
/// shared memory).
pub fn suspicious_listener(
    ctx: &Context,
    p: &minetrace_schemas::records::process::ProcessRecord,
) -> (Vec<String>, bool) {
    let place = support::Placement::of(ctx, p);
    let dropped: Vec<&support::OddPlace> = place.unexplained().filter(|r| !r.weak()).collect();
    let severe = dropped.iter().any(|r| {
        matches!(
            r,
            support::OddPlace::Memfd | support::OddPlace::Deleted | support::OddPlace::Shm
        )
    });
    let mut why: Vec<String> = dropped.iter().map(ToString::to_string).collect();
    if support::kthread_disguise(ctx, p, &support::Names::of(p)).is_some() {
        why.push("wears a kernel thread's name".to_owned());
    }
    (why, severe)
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let conns = support::connections_by_pid(model);
    let mut out = Vec::new();
    let mut seen: Vec<i32> = Vec::new();
    for s in model.sockets.iter().filter(|s| s.state == "LISTEN") {
        for pid in &s.pids {
            if seen.contains(pid) {
                continue;
            }
            let Some(p) = model.process(*pid) else {
                continue;
            };
            let (why, severe) = suspicious_listener(ctx, p);
            if why.is_empty() {
                continue;
            }
            seen.push(*pid);
            let outbound = conns.get(pid).and_then(|v| v.first());
            let severity = if outbound.is_some() || severe {
                Severity::High
            } else {
                Severity::Medium
            };
            let mut f = finding(&rules::RUN_025, severity)
                .subject(process_subject(p))
                .evidence(describe_process(p))
                .evidence(format!("{} listening on {}", s.proto.name(), s.local));
            if let Some(x) = exe_subject(model, p) {
                f = f.subject(x);
            }
            for w in why {
                f = f.evidence(w);
            }
            if let Some(c) = outbound {
                f = f.evidence(format!(
                    "also holds a connection to {} (a peer-to-peer bot talks to its peers)",
                    c.socket.remote
                ));
            }
            out.push(f);
        }
    }
    out
}
