//! Brute force in the authentication logs and what followed it (`MT-ACC-010`, T1110.001):
//! many failed logins from one address, then a successful password login from that address or a
//! password change. Brute force alone is the internet's background noise and stays low; success from a
//! brute-forcing address or a password change after it is high.
//!
//! Logs are read oldest first (`auth.log.N` … `auth.log.1`, `auth.log`; same for `secure`).

use std::collections::BTreeMap;

use minetrace_schemas::findings::{Finding, Severity};

use super::common::{self, account_subject, Accounts};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::Context;
use crate::parse::auth_log::{self, AuthEvent};
use crate::parse::basename;

/// Failures from one address that make it a brute force.
const BRUTE_THRESHOLD: usize = 20;

fn is_auth_log(path: &[u8]) -> bool {
    let name = basename(path);
    path.starts_with(b"/var/log/")
        && (name.starts_with(b"auth.log") || name.starts_with(b"secure"))
        && !name.ends_with(b".gz")
}

/// Rotation number for ordering: `auth.log` is newest (0), `auth.log.1` older (1), ...
fn rotation(path: &[u8]) -> u32 {
    let name = basename(path);
    name.rsplit(|b| *b == b'.')
        .next()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let accounts = Accounts::of(ctx.model);
    let mut logs: Vec<_> = common::captured(ctx.model, is_auth_log).collect();
    logs.sort_by_key(|(f, _)| std::cmp::Reverse(rotation(f.path.as_bytes())));
    let mut failures: BTreeMap<String, (usize, Vec<Vec<u8>>)> = BTreeMap::new();
    let mut first_brute_seen = false;
    let mut after: Vec<(String, Vec<u8>, Option<String>)> = Vec::new(); // (evidence, user, ip)
    let mut files = Vec::new();
    for (file, bytes) in &logs {
        files.push(*file);
        for ev in auth_log::parse(bytes) {
            let where_ = format!("{}:{} [{}]", file.path.escaped(), ev.line, ev.stamp);
            match &ev.event {
                AuthEvent::Failed { user, ip, .. } => {
                    let e = failures.entry(ip.clone()).or_default();
                    e.0 += 1;
                    if e.1.len() < 5 && !e.1.contains(user) {
                        e.1.push(user.clone());
                    }
                    if e.0 >= BRUTE_THRESHOLD {
                        first_brute_seen = true;
                    }
                }
                AuthEvent::Accepted { method, user, ip }
                    if method == "password" || method.starts_with("keyboard") =>
                {
                    let brute = failures.get(ip).is_some_and(|(n, _)| *n >= BRUTE_THRESHOLD);
                    if brute {
                        after.push((
                            format!(
                                "{where_}: {method} login accepted for {} from brute-forcing {ip}",
                                minetrace_schemas::escape_bytes(user)
                            ),
                            user.clone(),
                            Some(ip.clone()),
                        ));
                    }
                }
                AuthEvent::PasswordChanged { user } if first_brute_seen => {
                    after.push((
                        format!(
                            "{where_}: password changed for {} ({}) after the brute force",
                            minetrace_schemas::escape_bytes(user),
                            ev.program
                        ),
                        user.clone(),
                        None,
                    ));
                }
                AuthEvent::NewUser { user, uid } if first_brute_seen => {
                    after.push((
                        format!(
                            "{where_}: new user {} uid {:?} after the brute force",
                            minetrace_schemas::escape_bytes(user),
                            uid
                        ),
                        user.clone(),
                        None,
                    ));
                }
                _ => {}
            }
        }
    }
    let brute: Vec<_> = failures
        .iter()
        .filter(|(_, (n, _))| *n >= BRUTE_THRESHOLD)
        .collect();
    if brute.is_empty() {
        return Vec::new();
    }
    let severity = if after.is_empty() {
        Severity::Low
    } else {
        Severity::High
    };
    let title = if after.is_empty() {
        "SSH brute force in the auth logs"
    } else {
        "SSH brute force followed by a login or password change"
    };
    let mut f = finding("MT-ACC-010", severity, title).attack(&["T1110.001", "T1098", "T1078"]);
    for (ip, (n, users)) in brute.iter().take(20) {
        let users: Vec<String> = users
            .iter()
            .map(|u| minetrace_schemas::escape_bytes(u))
            .collect();
        f = f.evidence(format!(
            "{n} failed logins from {ip} (users {})",
            users.join(", ")
        ));
    }
    for (e, user, _) in after.iter().take(50) {
        f = f
            .evidence(e.clone())
            .subject(account_subject(&accounts, user));
    }
    for file in files {
        f = f.subject(file_subject(file));
    }
    vec![f]
}
