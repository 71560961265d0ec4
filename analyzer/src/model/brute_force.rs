//! The SSH brute force in the authentication events ([`HostModel::auth`]) and what followed it: a host fact
//! derived once when the model is built ([`HostModel::brute_force`]). Three stages read it — the detector
//! `MT-ACC-010` (`detect::footholds::auth_log`) judges its severity, the entry inference reads the logins it
//! got, the remediation planner reads which accounts it got into — and none of them counts failures with
//! thresholds of its own. (They each judged the events again before: three passes over up to 50,000 events
//! per analysis, and one more per account the planner gated.)
//!
//! The judgement: failures are counted per address in event order. A password login from an address already
//! over [`BRUTE_THRESHOLD`] (or that just guessed: [`GUESS_FAILURES`] in [`GUESS_WINDOW`]) follows the brute
//! force; so does a password change or new account that such a login explains (the account it got in as, or
//! within [`SESSION_REACH`] after it). Failures alone, however many, tie nothing to them. The result holds
//! indices into [`HostModel::auth`], not borrows, so the model can own it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;

use super::auth::{AuthEvent, AuthKind};
use super::HostModel;

/// Failures from one address that make it a brute force.
pub const BRUTE_THRESHOLD: usize = 20;
/// Failures from one address in the [`GUESS_WINDOW`] before a password login from it that make that
/// login a guessed password (fail2ban's default `maxretry`).
pub const GUESS_FAILURES: usize = 5;
/// Seconds before a login in which [`GUESS_FAILURES`] count (fail2ban's default `findtime`).
pub const GUESS_WINDOW: i64 = 600;
/// How long after a brute-forced login a password change or new account counts as that login's doing
/// when it names another account: the intrusion window's reach around an artifact
/// ([`crate::detect::intrusion_window::SLACK_SECS`]), for auth logs that do not say which session ran `useradd`.
pub const SESSION_REACH: i64 = crate::detect::intrusion_window::SLACK_SECS;
/// Brute-forced logins remembered to tie what followed (the latest ones).
const BREACHES_KEPT: usize = 64;
/// Distinct accounts remembered per failing address, for evidence.
const USERS_KEPT: usize = 5;

/// An address that failed to log in at least [`BRUTE_THRESHOLD`] times (or guessed a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteSource {
    pub ip: IpAddr,
    pub failures: usize,
    /// The first few distinct accounts it tried.
    pub users: Vec<Vec<u8>>,
}

/// What followed a brute force: a password login from a brute-forcing address, or a password change
/// or new account tied to such a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterBrute {
    /// Index of the event in [`HostModel::auth`].
    pub event: usize,
    /// One escaped sentence for evidence.
    pub what: String,
}

/// The brute-force judgement over the auth events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BruteForce {
    /// Brute-forcing addresses, by address.
    pub sources: Vec<BruteSource>,
    /// What followed, in event order.
    pub after: Vec<AfterBrute>,
    /// Accounts a brute-forcing address logged into with a password, at any time in the logs (what the
    /// planner locks unasked).
    pub entered: BTreeSet<Vec<u8>>,
}

impl BruteForce {
    /// What followed, with its event (`auth` is the list the judgement was made over).
    pub fn followed<'a>(
        &'a self,
        auth: &'a [AuthEvent],
    ) -> impl Iterator<Item = (&'a AfterBrute, &'a AuthEvent)> + 'a {
        self.after
            .iter()
            .filter_map(move |a| Some((a, auth.get(a.event)?)))
    }

    /// Whether a brute-forcing address logged into account `user` with a password.
    pub fn entered(&self, user: &[u8]) -> bool {
        self.entered.contains(user)
    }
}

/// What [`judge`] keeps of one failing address while it reads the events.
#[derive(Default)]
struct Tally<'a> {
    failures: usize,
    /// The first few distinct accounts it tried.
    users: Vec<&'a [u8]>,
    /// Its latest failure times (at most [`GUESS_FAILURES`]).
    recent: VecDeque<i64>,
}

/// A login the brute force got: the account, the address, when.
struct Breach {
    user: Vec<u8>,
    ip: IpAddr,
    time: Option<i64>,
}

impl Breach {
    /// Why a password change or new account (`ev`) is this login's doing, if it is: it names the account
    /// the address got in as, or comes within [`SESSION_REACH`] after the login (an event or login without
    /// a time is taken in log order).
    fn explains(&self, ev: &AuthEvent) -> Option<String> {
        if ev.user == self.user {
            return Some(format!(
                "{} is the account brute-forcing {} logged into",
                escape_bytes(&self.user),
                self.ip
            ));
        }
        let soon = match (self.time, ev.time) {
            (Some(login), Some(t)) => (0..=SESSION_REACH).contains(&(t - login)),
            _ => true,
        };
        soon.then(|| {
            format!(
                "within {} h of the brute-forced login to {} from {}",
                SESSION_REACH / 3600,
                escape_bytes(&self.user),
                self.ip
            )
        })
    }
}

/// The judgement over the model's auth events (see the module documentation). Called once, by
/// [`HostModel`]'s construction; everything else reads [`HostModel::brute_force`].
pub fn judge(model: &HostModel) -> BruteForce {
    let events = &model.auth;
    // One tally per failing address: the internet's scanners make tens of thousands of them.
    let mut tallies: BTreeMap<IpAddr, Tally> = BTreeMap::new();
    let mut guessed: Vec<IpAddr> = Vec::new();
    // Logins the brute force got, in event order (capped: the evidence names the latest).
    let mut breaches: Vec<Breach> = Vec::new();
    let mut after = Vec::new();
    let tied =
        |breaches: &[Breach], ev: &AuthEvent| breaches.iter().rev().find_map(|b| b.explains(ev));
    for (i, ev) in events.iter().enumerate() {
        // Said only of the events that are kept (most are failures, counted and never quoted).
        let where_ = || ev.location(model);
        let user = || escape_bytes(&ev.user);
        match ev.kind {
            AuthKind::FailedPassword | AuthKind::InvalidUser => {
                let Some(ip) = ev.from else {
                    continue;
                };
                let e = tallies.entry(ip).or_default();
                e.failures += 1;
                if e.users.len() < USERS_KEPT && !e.users.contains(&ev.user.as_slice()) {
                    e.users.push(&ev.user);
                }
                if let Some(t) = ev.time {
                    e.recent.push_back(t);
                    if e.recent.len() > GUESS_FAILURES {
                        e.recent.pop_front();
                    }
                }
            }
            AuthKind::AcceptedPassword if ev.is_password_login() => {
                let Some(ip) = ev.from else {
                    continue;
                };
                let method = ev.method.as_deref().unwrap_or_default();
                if tallies
                    .get(&ip)
                    .is_some_and(|t| t.failures >= BRUTE_THRESHOLD)
                {
                    push_breach(&mut breaches, ev, ip);
                    after.push(AfterBrute {
                        event: i,
                        what: format!(
                            "{}: {method} login accepted for {} from brute-forcing {ip}",
                            where_(),
                            user()
                        ),
                    });
                } else if let (Some(t), Some(r)) = (ev.time, tallies.get(&ip).map(|t| &t.recent)) {
                    let in_window = r
                        .iter()
                        .filter(|f| **f <= t && t - **f <= GUESS_WINDOW)
                        .count();
                    if in_window >= GUESS_FAILURES {
                        push_breach(&mut breaches, ev, ip);
                        if !guessed.contains(&ip) {
                            guessed.push(ip);
                        }
                        after.push(AfterBrute {
                            event: i,
                            what: format!(
                                "{}: {method} login accepted for {} from {ip} after {in_window} failed logins from it in the {} minutes before (a guessed password)",
                                where_(),
                                user(),
                                GUESS_WINDOW / 60
                            ),
                        });
                    }
                }
            }
            AuthKind::PasswordChanged => {
                if let Some(why) = tied(&breaches, ev) {
                    after.push(AfterBrute {
                        event: i,
                        what: format!(
                            "{}: password changed for {} ({}) after the brute force: {why}",
                            where_(),
                            user(),
                            ev.program
                        ),
                    });
                }
            }
            AuthKind::NewUser => {
                if let Some(why) = tied(&breaches, ev) {
                    after.push(AfterBrute {
                        event: i,
                        what: format!(
                            "{}: new user {} uid {:?} after the brute force: {why}",
                            where_(),
                            user(),
                            ev.new_uid
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    let sources: Vec<BruteSource> = tallies
        .into_iter()
        .filter(|(ip, t)| t.failures >= BRUTE_THRESHOLD || guessed.contains(ip))
        .map(|(ip, t)| BruteSource {
            ip,
            failures: t.failures,
            users: t.users.into_iter().map(<[u8]>::to_vec).collect(),
        })
        .collect();
    let entered = entered(events, &sources);
    BruteForce {
        sources,
        after,
        entered,
    }
}

/// The accounts a brute-forcing address logged into with a password, before or after it crossed the
/// threshold (one pass; `sources` is sorted by address).
fn entered(events: &[AuthEvent], sources: &[BruteSource]) -> BTreeSet<Vec<u8>> {
    if sources.is_empty() {
        return BTreeSet::new();
    }
    events
        .iter()
        .filter(|e| e.is_password_login())
        .filter(|e| {
            e.from
                .is_some_and(|ip| sources.binary_search_by_key(&ip, |s| s.ip).is_ok())
        })
        .map(|e| e.user.clone())
        .collect()
}

/// Remembers a brute-forced login (the latest [`BREACHES_KEPT`] are enough to tie what followed).
fn push_breach(breaches: &mut Vec<Breach>, ev: &AuthEvent, ip: IpAddr) {
    if breaches.len() == BREACHES_KEPT {
        breaches.remove(0);
    }
    breaches.push(Breach {
        user: ev.user.clone(),
        ip,
        time: ev.time,
    });
}

#[cfg(test)]
mod tests {
    use crate::model::fixture::{auth_log as model, failed_root_logins as fails};

    /// The accounts the planner may lock unasked: those a brute-forcing address logged into with a
    /// password (even before it crossed the threshold), never one it only tried, nor one another address
    /// or a key opened.
    #[test]
    fn the_accounts_a_brute_forcing_address_got_into_are_the_fact_the_planner_reads() {
        let log = "Jan  1 00:00:01 h sshd[9]: Accepted password for git from 198.51.100.7 port 1 ssh2\n"
            .to_owned()
            + &fails(25, "198.51.100.7", 1)
            + "Jan  1 00:05:00 h sshd[9]: Accepted password for oracle from 198.51.100.7 port 1 ssh2\n\
               Jan  1 00:05:01 h sshd[9]: Accepted password for alice from 10.8.0.6 port 1 ssh2\n\
               Jan  1 00:05:02 h sshd[9]: Accepted publickey for bob from 198.51.100.7 port 1 ssh2: ED25519 SHA256:x\n";
        let m = model(&log);
        let judged = &m.brute_force;
        assert_eq!(judged.sources.len(), 1);
        assert_eq!(judged.sources[0].failures, 25);
        assert!(judged.entered(b"git"), "{:?}", judged.entered);
        assert!(judged.entered(b"oracle"));
        for other in [&b"root"[..], b"alice", b"bob"] {
            assert!(!judged.entered(other), "{}", String::from_utf8_lossy(other));
        }
        // Only the login after the threshold follows the brute force, and it points at its event.
        let followed: Vec<_> = judged.followed(&m.auth).collect();
        assert_eq!(followed.len(), 1);
        assert_eq!(followed[0].1.user, b"oracle");
        assert_eq!(m.auth.get(followed[0].0.event), Some(followed[0].1));
    }

    /// Failures alone, however many, leave no account entered; no failure at all, no source.
    #[test]
    fn no_login_no_account_no_failures_no_source() {
        let m = model(&fails(30, "203.0.113.9", 0));
        assert_eq!(m.brute_force.sources.len(), 1);
        assert!(m.brute_force.after.is_empty());
        assert!(m.brute_force.entered.is_empty());
        let m = model(
            "Jan  1 00:05:00 h sshd[9]: Accepted password for root from 203.0.113.9 port 1 ssh2\n",
        );
        assert_eq!(m.brute_force, super::BruteForce::default());
    }
}
