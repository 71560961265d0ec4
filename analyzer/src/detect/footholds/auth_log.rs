//! Brute force in the authentication events and what followed it (`MT-ACC-010`, T1110.001):
//! many failed logins from one address, then a successful password login from that address or a
//! password change. Brute force alone is the internet's background noise and stays low; success from a
//! brute-forcing address or a password change after it is high. A password login from an address that
//! failed [`GUESS_FAILURES`] times in the [`GUESS_WINDOW`] before it is a guessed password too, whatever
//! the address's total (fail2ban's default `maxretry`/`findtime`: more than a typo, less than a scan).
//! Once every account such a login opened is locked (shadow), the finding is history and low.
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
use minetrace_schemas::records::account::PasswordState;

/// Failures from one address that make it a brute force.
pub const BRUTE_THRESHOLD: usize = 20;
/// Failures from one address in the [`GUESS_WINDOW`] before a password login from it that make that
/// login a guessed password (fail2ban's default `maxretry`).
pub const GUESS_FAILURES: usize = 5;
/// Seconds before a login in which [`GUESS_FAILURES`] count (fail2ban's default `findtime`).
pub const GUESS_WINDOW: i64 = 600;

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
    // The latest failure times per address (at most GUESS_FAILURES).
    let mut recent: BTreeMap<IpAddr, std::collections::VecDeque<i64>> = BTreeMap::new();
    let mut guessed: Vec<IpAddr> = Vec::new();
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
                if let Some(t) = ev.time {
                    let r = recent.entry(ip).or_default();
                    r.push_back(t);
                    if r.len() > GUESS_FAILURES {
                        r.pop_front();
                    }
                }
                if e.0 >= BRUTE_THRESHOLD {
                    first_brute_seen = true;
                }
            }
            AuthKind::AcceptedPassword if ev.is_password_login() => {
                let Some(ip) = ev.from else {
                    continue;
                };
                let method = ev.method.as_deref().unwrap_or_default();
                if failures
                    .get(&ip)
                    .is_some_and(|(n, _)| *n >= BRUTE_THRESHOLD)
                {
                    after.push(AfterBrute {
                        event: ev,
                        what: format!(
                            "{where_}: {method} login accepted for {user} from brute-forcing {ip}"
                        ),
                    });
                } else if let (Some(t), Some(r)) = (ev.time, recent.get(&ip)) {
                    let in_window = r
                        .iter()
                        .filter(|f| **f <= t && t - **f <= GUESS_WINDOW)
                        .count();
                    if in_window >= GUESS_FAILURES {
                        first_brute_seen = true;
                        if !guessed.contains(&ip) {
                            guessed.push(ip);
                        }
                        after.push(AfterBrute {
                            event: ev,
                            what: format!(
                                "{where_}: {method} login accepted for {user} from {ip} after {in_window} failed logins from it in the {} minutes before (a guessed password)",
                                GUESS_WINDOW / 60
                            ),
                        });
                    }
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
        .filter(|(ip, (n, _))| *n >= BRUTE_THRESHOLD || guessed.contains(ip))
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
    // Accounts a brute-forced login opened that are locked now: that password opens nothing any more.
    let locked = |user: &[u8]| {
        ctx.model.shadow.iter().any(|s| {
            s.user.as_bytes() == user
                && matches!(s.password, PasswordState::Locked | PasswordState::Disabled)
        })
    };
    let logins: Vec<&AfterBrute> = judged
        .after
        .iter()
        .filter(|a| a.event.kind == AuthKind::AcceptedPassword)
        .collect();
    let all_locked = !logins.is_empty() && logins.iter().all(|a| locked(&a.event.user));
    let severity = if judged.after.is_empty() || all_locked {
        Severity::Low
    } else {
        Severity::High
    };
    let mut f = finding(&rules::ACC_010, severity);
    if all_locked {
        f = f.evidence(
            "every account a brute-forced login opened is locked now (/etc/shadow): the password no longer opens it",
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use minetrace_schemas::records::account::ShadowEntry;
    use minetrace_schemas::RawBytes;

    fn model(log: &str) -> crate::model::HostModel {
        fixture::model(
            vec![fixture::file(b"/var/log/auth.log", Some(log.as_bytes()))],
            vec![],
        )
    }

    fn fails(n: usize, from: &str, start_min: u32) -> String {
        (0..n)
            .map(|i| {
                let s = start_min * 60 + i as u32 * 7;
                format!(
                    "Jan  1 00:{:02}:{:02} h sshd[9]: Failed password for root from {from} port 4{i} ssh2\n",
                    s / 60,
                    s % 60
                )
            })
            .collect()
    }

    #[test]
    fn a_guessed_password_is_a_brute_force_a_typo_is_not() {
        let ok =
            "Jan  1 00:09:00 h sshd[9]: Accepted password for root from 203.0.113.5 port 1 ssh2\n";
        let guessed = model(&(fails(5, "203.0.113.5", 8) + ok));
        let judged = brute_force(&guessed);
        assert_eq!(judged.sources.len(), 1);
        assert_eq!(judged.after.len(), 1);
        assert!(judged.after[0].what.contains("a guessed password"));
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &guessed,
            iocs: &iocs,
        });
        assert_eq!(found[0].severity, Severity::High);
        // An admin's two typos, and five failures long before the login: not a guessed password.
        for log in [
            fails(2, "203.0.113.5", 8) + ok,
            fails(5, "203.0.113.5", 0)
                + "Jan  1 00:40:00 h sshd[9]: Accepted password for root from 203.0.113.5 port 1 ssh2\n",
            fails(5, "198.51.100.1", 8) + ok,
        ] {
            let m = model(&log);
            assert!(brute_force(&m).after.is_empty(), "{log}");
            assert!(detect(&Context { model: &m, iocs: &iocs }).is_empty(), "{log}");
        }
    }

    #[test]
    fn locked_since_is_history() {
        let ok =
            "Jan  1 00:09:00 h sshd[9]: Accepted password for root from 203.0.113.5 port 1 ssh2\n";
        let mut m = model(&(fails(6, "203.0.113.5", 8) + ok));
        m.shadow.push(ShadowEntry {
            source: RawBytes(b"/etc/shadow".to_vec()),
            line: 1,
            user: RawBytes(b"root".to_vec()),
            password: PasswordState::Locked,
            last_change_days: None,
            expire_days: None,
        });
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &m,
            iocs: &iocs,
        });
        assert_eq!(found[0].severity, Severity::Low);
        assert!(found[0].evidence.iter().any(|e| e.contains("locked now")));
    }
}
