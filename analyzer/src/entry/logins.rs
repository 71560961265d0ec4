//! What the authentication events (every auth source of the model: syslog files and the journal) say
//! about the way in, weighed against the intrusion window:
//! - an SSH brute force that ended in an accepted login — the brute-force detector's own judgement
//!   (`MT-ACC-010`, the model's [`BruteForce`] fact); never a count of failures made here;
//! - a public-key login with a key the findings judge the attacker's (its fingerprint is in sshd's line);
//! - a login from another host of the operator's network (a private address, or one `/etc/hosts` names)
//!   minutes before the kit, with a key or password the findings do not judge: lateral movement.
//!
//! Log lines are text anyone with root could write: every candidate here is "parsed".

use std::collections::BTreeSet;
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{EntryVector, EvidenceLevel};

use super::kit::{Kit, Placement};
use super::{Basis, Candidate, Inputs};
use crate::detect::finding::path_subject;
use crate::detect::footholds::common::account_subject;
use crate::detect::rules;
use crate::model::auth::{AuthEvent, AuthKind};
use crate::model::brute_force::{BruteForce, GUESS_FAILURES, GUESS_WINDOW};

pub use crate::detect::intrusion_window::SPREAD_SECS;

pub fn candidates(inp: &Inputs, kit: &Kit) -> Vec<Candidate> {
    let judged = &inp.model.brute_force;
    let brute_sources: BTreeSet<IpAddr> = judged.sources.iter().map(|s| s.ip).collect();
    let mut out = brute_forced(inp, kit, judged);
    out.extend(other_logins(inp, kit, &brute_sources));
    out
}

/// The password logins the brute-force detector tied to a brute force (`MT-ACC-010`), with what it saw
/// follow them.
fn brute_forced(inp: &Inputs, kit: &Kit, judged: &BruteForce) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (a, e) in judged.followed(&inp.model.auth) {
        if e.kind != AuthKind::AcceptedPassword {
            continue;
        }
        let Some(ip) = peer(e) else { continue };
        let source = judged.sources.iter().find(|s| s.ip == ip);
        let place = kit.place(e.time);
        let user = escape_bytes(&e.user);
        let mut c = Candidate::new(
            EntryVector::SshBruteForce,
            Basis::Login,
            EvidenceLevel::Parsed,
            by_place(place, 80, 45),
            format!("SSH brute force from {ip}: a password login to {user} after {} failed logins from it", source.map_or(0, |s| s.failures)),
        )
        .source(ip.to_string())
        .at(e.time)
        .rule(rules::ACC_010.id)
        .evidence(a.what.clone())
        .subject(account_subject(&inp.model.accounts, &e.user))
        .subject(path_subject(&e.path));
        // What the detector saw follow it (a password changed, an account made) tells the same story.
        for (then, _) in judged
            .followed(&inp.model.auth)
            .filter(|(_, b)| matches!(b.kind, AuthKind::PasswordChanged | AuthKind::NewUser))
            .filter(|(_, b)| b.time >= e.time)
            .take(3)
        {
            c = c.evidence(format!("then {}", then.what));
        }
        if let Some(s) = source {
            let users: Vec<String> = s.users.iter().map(|u| escape_bytes(u)).collect();
            c = c.evidence(format!(
                "{} failed logins from {ip} (users {})",
                s.failures,
                users.join(", ")
            ));
        }
        c = with_window(c, inp, kit, e, place);
        out.push(c);
    }
    out
}

/// Logins from addresses that did not brute-force: with a key the findings judge the attacker's, from
/// another host of the network just before the kit (lateral movement), or a password guessed in the
/// window.
fn other_logins(inp: &Inputs, kit: &Kit, brute_sources: &BTreeSet<IpAddr>) -> Vec<Candidate> {
    let mut out = Vec::new();
    for e in inp.model.auth.iter().filter(|e| {
        matches!(
            e.kind,
            AuthKind::AcceptedPublicKey | AuthKind::AcceptedPassword
        )
    }) {
        let Some(ip) = peer(e) else { continue };
        if brute_sources.contains(&ip) {
            continue;
        }
        let place = kit.place(e.time);
        let fingerprint = crate::parse::auth_log::key_fingerprint(e.text(inp.model).as_bytes());
        let flagged = fingerprint
            .as_deref()
            .and_then(|fp| kit.keys.iter().find(|(k, _, _)| k == fp));
        let user = escape_bytes(&e.user);
        if let Some((fp, rule, at)) = flagged {
            let c = Candidate::new(
                EntryVector::SshKey,
                Basis::Login,
                EvidenceLevel::Parsed,
                by_place(place, 80, 50),
                format!("SSH login to {user} from {ip} with the attacker's key {fp}"),
            )
            .source(ip.to_string())
            .at(e.time)
            .rule(rule)
            .evidence(format!("{}: {}", e.location(inp.model), e.text(inp.model)))
            .evidence(format!(
                "key {fp} is judged the attacker's by {rule} ({at})"
            ))
            .subject(account_subject(&inp.model.accounts, &e.user))
            .subject(path_subject(&e.path));
            out.push(with_window(c, inp, kit, e, place));
            continue;
        }
        if place != Placement::InWindow {
            continue;
        }
        let Some(why) = internal(inp, ip) else {
            if let Some(c) = guessed_in_window(inp, kit, e, ip) {
                out.push(c);
            }
            continue;
        };
        let how = fingerprint.map_or_else(
            || e.method.as_deref().unwrap_or("login").to_owned(),
            |fp| format!("key {fp}"),
        );
        // Admins come in from the bastion or the VPN too: a login from inside is the way in only when
        // the kit is that account's and follows it at once (a spreader's `ssh host 'curl|sh'`).
        let spread = inp
            .model
            .accounts
            .uid_of(&e.user)
            .is_some_and(|u| kit.owned_by(u))
            && kit.follows(e.time, SPREAD_SECS);
        let mut c = Candidate::new(
            EntryVector::LateralMovement,
            Basis::Login,
            EvidenceLevel::Parsed,
            if spread { 60 } else { 35 },
            format!("lateral movement from {ip} ({why}): {user} logged in with {how} just before the kit appeared"),
        )
        .source(ip.to_string())
        .at(e.time)
        .evidence(format!("{}: {}", e.location(inp.model), e.text(inp.model)))
        .evidence(format!("{ip} is {why}: another host of this network, the next one to examine"))
        .subject(account_subject(&inp.model.accounts, &e.user))
        .subject(path_subject(&e.path));
        if !spread {
            c = c.evidence(format!(
                "the kit is not this account's or did not follow the login within {} min: an admin's login from inside looks the same",
                SPREAD_SECS / 60
            ));
        }
        out.push(with_window(c, inp, kit, e, place));
    }
    out
}

/// A password login from an outside address that failed from that address in the minutes before
/// ([`GUESS_WINDOW`]), in the intrusion window: too few failures for the brute-force finding
/// ([`GUESS_FAILURES`]), but a guessed password is still the way in the log tells. Weaker than the
/// detector's judgement; the window is what makes it a candidate.
fn guessed_in_window(inp: &Inputs, kit: &Kit, e: &AuthEvent, ip: IpAddr) -> Option<Candidate> {
    let t = e.time?;
    if !e.is_password_login() {
        return None;
    }
    let failed: Vec<&AuthEvent> = inp
        .model
        .auth
        .iter()
        .filter(|f| matches!(f.kind, AuthKind::FailedPassword | AuthKind::InvalidUser))
        .filter(|f| f.from == Some(ip))
        .filter(|f| f.time.is_some_and(|ft| ft <= t && t - ft <= GUESS_WINDOW))
        .collect();
    if failed.is_empty() {
        return None;
    }
    let user = escape_bytes(&e.user);
    let mut c = Candidate::new(
        EntryVector::SshBruteForce,
        Basis::Login,
        EvidenceLevel::Parsed,
        55,
        format!(
            "SSH password guessed from {ip}: a password login to {user} after {} failed logins from it, just before the kit appeared",
            failed.len()
        ),
    )
    .source(ip.to_string())
    .at(e.time);
    for f in failed.iter().take(3) {
        c = c.evidence(format!("{}: {}", f.location(inp.model), f.text(inp.model)));
    }
    c = c
        .evidence(format!("{}: {}", e.location(inp.model), e.text(inp.model)))
        .evidence(format!(
            "{} failed logins from {ip} in the {} minutes before it (fewer than MT-ACC-010's {GUESS_FAILURES})",
            failed.len(),
            GUESS_WINDOW / 60
        ))
        .subject(account_subject(&inp.model.accounts, &e.user))
        .subject(path_subject(&e.path));
    Some(with_window(c, inp, kit, e, Placement::InWindow))
}

fn by_place(place: Placement, in_window: u8, otherwise: u8) -> u8 {
    match place {
        Placement::InWindow => in_window,
        Placement::Unknown => in_window.saturating_sub(15),
        Placement::Outside => otherwise,
    }
}

/// The window line and, when the login's account owns the kit, that too.
fn with_window(
    mut c: Candidate,
    inp: &Inputs,
    kit: &Kit,
    e: &AuthEvent,
    place: Placement,
) -> Candidate {
    if let Some(rel) = kit.relation(e.time) {
        c = c.evidence(format!(
            "the login was {rel}{}",
            if place == Placement::Outside {
                ": outside the intrusion window"
            } else {
                ""
            }
        ));
    }
    if let Some(uid) = inp
        .model
        .accounts
        .uid_of(&e.user)
        .filter(|u| kit.owned_by(*u))
    {
        c = c.evidence(format!(
            "the kit runs as or belongs to {}, the account logged into",
            super::kit::account(inp, uid)
        ));
        if c.confidence < 95 {
            c.confidence += 5;
        }
    }
    c
}

/// The login's peer address.
fn peer(e: &AuthEvent) -> Option<IpAddr> {
    e.from
}

/// Why an address is another host of this network: an address of the host's own networks (private,
/// link-local, shared: the remediation's infrastructure test), or a name in `/etc/hosts`.
fn internal(inp: &Inputs, ip: IpAddr) -> Option<String> {
    if ip.is_loopback() || inp.model.own_addresses().contains(&ip) {
        return None;
    }
    let hosts = crate::detect::runtime::support::etc_hosts(inp.model);
    let named = hosts
        .get(&ip.to_string())
        .and_then(|names| names.first())
        .map(|n| escape_bytes(n.as_bytes()));
    let private = crate::remediate::attribution::infrastructure(
        ip,
        &crate::remediate::attribution::HostNetwork::default(),
    );
    match (named, private) {
        (Some(n), Some(why)) => Some(format!("{n}, {why}")),
        (Some(n), None) => Some(format!("{n} in /etc/hosts")),
        (None, Some(why)) => Some(why.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use minetrace_schemas::findings::Severity;

    use super::*;
    use crate::detect::finding::{file_subject, finding, FindingExt};
    use crate::indicators::Indicators;
    use crate::model::fixture;

    /// The candidates of an auth.log against root's miner file written at 2023-11-14T22:13:20Z (the
    /// fixture's mtime): vector, source and confidence.
    fn judged(log: &str) -> Vec<(EntryVector, Option<String>, u8)> {
        let model = fixture::model(
            vec![
                fixture::file(b"/var/log/auth.log", Some(log.as_bytes())),
                fixture::file(
                    b"/etc/passwd",
                    Some(
                        b"root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/bash\n",
                    ),
                ),
                fixture::file(b"/var/tmp/.x/miner", Some(b"\x7fELF")),
            ],
            vec![],
        );
        let Some(miner) = model.file(b"/var/tmp/.x/miner") else {
            return Vec::new();
        };
        let findings = vec![finding(&rules::RUN_010, Severity::High).subject(file_subject(miner))];
        let iocs = Indicators::builtin();
        let inp = Inputs {
            model: &model,
            iocs: &iocs,
            findings: &findings,
        };
        let kit = Kit::of(&inp);
        candidates(&inp, &kit)
            .into_iter()
            .map(|c| (c.vector, c.source, c.confidence))
            .collect()
    }

    fn vectors(log: &str) -> Vec<(EntryVector, Option<String>)> {
        judged(log).into_iter().map(|(v, s, _)| (v, s)).collect()
    }

    #[test]
    fn a_login_from_inside_is_lateral_movement_only_when_the_kit_follows_it() {
        let at = |stamp: &str, user: &str| {
            format!("Nov 14 {stamp} h sshd[5]: Accepted publickey for {user} from 10.20.0.14 port 5 ssh2: ED25519 SHA256:TWpLLXkj3saJPVwMlwTl0OOKC7p0FSIJCRLWAJntmVA\n")
        };
        let conclusive = |log: String| {
            judged(&log)
                .into_iter()
                .filter(|(v, _, c)| {
                    *v == EntryVector::LateralMovement && *c >= super::super::CONCLUSIVE
                })
                .count()
        };
        // A spreader: root's login 15 s before root's kit.
        assert_eq!(conclusive(at("22:13:05", "root")), 1);
        // The admin from the bastion 38 minutes before, or another account's login: a lead, not the answer.
        assert_eq!(conclusive(at("21:35:00", "root")), 0);
        assert_eq!(conclusive(at("22:13:05", "ops")), 0);
        assert_eq!(
            vectors(&at("21:35:00", "root")),
            vec![(EntryVector::LateralMovement, Some("10.20.0.14".into()))]
        );
    }

    #[test]
    fn a_few_failures_then_a_password_login_just_before_the_kit() {
        let log = "Nov 14 22:11:50 h sshd[1]: Failed password for ubuntu from 203.0.113.7 port 1 ssh2\n\
                   Nov 14 22:11:55 h sshd[2]: Failed password for invalid user pi from 203.0.113.7 port 2 ssh2\n\
                   Nov 14 22:12:00 h sshd[3]: Accepted password for ubuntu from 203.0.113.7 port 3 ssh2\n";
        assert_eq!(
            vectors(log),
            vec![(EntryVector::SshBruteForce, Some("203.0.113.7".into()))]
        );
        // The same login three days before the kit, or without a failure before it: no candidate.
        assert!(vectors(&log.replace("Nov 14", "Nov 11")).is_empty());
        let clean = "Nov 14 22:12:00 h sshd[3]: Accepted password for ubuntu from 203.0.113.7 port 3 ssh2\n";
        assert!(vectors(clean).is_empty());
        // Failures from another address do not make this login a guess.
        let other = log.replacen("203.0.113.7", "198.51.100.2", 2);
        assert!(vectors(&other).is_empty());
    }
}
