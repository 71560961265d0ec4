//! Brute force in the authentication events and what followed it (`MT-ACC-010`, T1110.001):
//! many failed logins from one address, then a successful password login from that address or a
//! password change. Brute force alone is the internet's background noise and stays low; success from a
//! brute-forcing address or a password change after it is high.
//!
//! The events are the model's ([`crate::model::auth`]: every auth source, ordered by time). The judgement
//! itself is [`brute_force`], a fact other stages (the graph's entry point) read instead of counting
//! failures with thresholds of their own.

use std::collections::BTreeMap;
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::account_subject;
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::model::auth::{AuthEvent, AuthKind};
use crate::model::HostModel;

/// Failures from one address that make it a brute force.
pub const BRUTE_THRESHOLD: usize = 20;

/// An address that failed to log in at least [`BRUTE_THRESHOLD`] times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteSource {
    pub ip: IpAddr,
    pub failures: usize,
    /// The first few distinct accounts it tried.
    pub users: Vec<Vec<u8>>,
}

/// What followed a brute force: a password login from a brute-forcing address, or a password change
/// or new account after the first brute force crossed the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterBrute<'a> {
    pub event: &'a AuthEvent,
    /// One escaped sentence for evidence.
    pub what: String,
}

/// The brute-force judgement over the auth events (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BruteForce<'a> {
    /// Brute-forcing addresses, by address.
    pub sources: Vec<BruteSource>,
    /// What followed, in event order.
    pub after: Vec<AfterBrute<'a>>,
}

/// Counts failures per address in event order; a password login from an address already over the
/// threshold, and a password change or new account once any address is over it, follow the brute force.
pub fn brute_force(model: &HostModel) -> BruteForce<'_> {
    let events = &model.auth;
    let mut failures: BTreeMap<IpAddr, (usize, Vec<Vec<u8>>)> = BTreeMap::new();
    let mut first_brute_seen = false;
    let mut after = Vec::new();
    for ev in events {
        let where_ = ev.location(model);
        let user = escape_bytes(&ev.user);
        match ev.kind {
            AuthKind::FailedPassword | AuthKind::InvalidUser => {
                let Some(ip) = ev.from else {
                    continue;
                };
                let e = failures.entry(ip).or_default();
                e.0 += 1;
                if e.1.len() < 5 && !e.1.contains(&ev.user) {
                    e.1.push(ev.user.clone());
                }
                if e.0 >= BRUTE_THRESHOLD {
                    first_brute_seen = true;
                }
            }
            AuthKind::AcceptedPassword if ev.is_password_login() => {
                let Some(ip) = ev.from else {
                    continue;
                };
                if failures
                    .get(&ip)
                    .is_some_and(|(n, _)| *n >= BRUTE_THRESHOLD)
                {
                    let method = ev.method.as_deref().unwrap_or_default();
                    after.push(AfterBrute {
                        event: ev,
                        what: format!(
                            "{where_}: {method} login accepted for {user} from brute-forcing {ip}"
                        ),
                    });
                }
            }
            AuthKind::PasswordChanged if first_brute_seen => after.push(AfterBrute {
                event: ev,
                what: format!(
                    "{where_}: password changed for {user} ({}) after the brute force",
                    ev.program
                ),
            }),
            AuthKind::NewUser if first_brute_seen => after.push(AfterBrute {
                event: ev,
                what: format!(
                    "{where_}: new user {user} uid {:?} after the brute force",
                    ev.new_uid
                ),
            }),
            _ => {}
        }
    }
    let sources = failures
        .into_iter()
        .filter(|(_, (n, _))| *n >= BRUTE_THRESHOLD)
        .map(|(ip, (failures, users))| BruteSource {
            ip,
            failures,
            users,
        })
        .collect();
    BruteForce { sources, after }
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let judged = brute_force(ctx.model);
    if judged.sources.is_empty() {
        return Vec::new();
    }
    let severity = if judged.after.is_empty() {
        Severity::Low
    } else {
        Severity::High
    };
    let mut f = finding(&rules::ACC_010, severity);
    for s in judged.sources.iter().take(20) {
        let users: Vec<String> = s.users.iter().map(|u| escape_bytes(u)).collect();
        f = f.evidence(format!(
            "{} failed logins from {} (users {})",
            s.failures,
            s.ip,
            users.join(", ")
        ));
    }
    for a in judged.after.iter().take(50) {
        f = f
            .evidence(a.what.clone())
            // The attacker holds this account's credential: locking it is the remedy.
            .subject_as(account_subject(accounts, &a.event.user), Role::Artifact);
    }
    // The logs the events were read from, oldest first.
    let mut logs: Vec<&[u8]> = Vec::new();
    for e in &ctx.model.auth {
        if !logs.contains(&&*e.path) {
            logs.push(&e.path);
        }
    }
    for path in logs {
        if let Some(file) = ctx.model.file(path) {
            f = f.subject_as(file_subject(file), Role::Evidence);
        }
    }
    vec![f]
}
