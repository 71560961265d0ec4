//! What the fleet keeps of one host after its single-host analysis: the verdict and its summary, the
//! indicators it contributes ([`super::indicators`]), and its contacts with other hosts — logins from
//! elsewhere (auth events), hosts it reached (`known_hosts`, ssh/scp in shell histories, live ssh
//! sessions), with the private keys and `known_hosts` loops its findings name as evidence.
//!
//! Everything comes from the model, the findings and the attack-trace graph of the one pipeline
//! `minetrace analyze` runs; the analysis itself is dropped right after, so a fleet of thousands of
//! hosts holds only these summaries.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use minetrace_schemas::findings::{Finding, Severity, Subject};
use minetrace_schemas::fleet::{EdgeLevel, FleetHost};
use minetrace_schemas::{escape_bytes, RawBytes};

use super::indicators::{self, Indicator};
use crate::analysis::Analysis;
use crate::detect::footholds::common::is_history_path;
use crate::graph::network::split_addr;
use crate::graph::nodes::NodeVerdict;
use crate::graph::timeline::Event;
use crate::graph::Trace;
use crate::model::auth::AuthKind;
use crate::output::iso_us;
use crate::parse::{basename, numbered_lines, ssh_command};

/// Timeline events of one host kept for the fleet timeline (the earliest ones tied to findings).
pub const EVENTS_PER_HOST: usize = 50;
/// Contacts kept per host: a jump host's `known_hosts` can list thousands.
pub const CONTACTS_PER_HOST: usize = 2_000;
/// Evidence lines kept per contact.
const EVIDENCE_PER_CONTACT: usize = 6;
/// ATT&CK: private keys (`MT-LAT-002` and any later rule about them).
const PRIVATE_KEYS: &str = "T1552.004";
/// ATT&CK: remote services over SSH (`MT-LAT-001` loops typed in a history).
const SSH_LATERAL: &str = "T1021.004";
/// ATT&CK: resource hijacking, i.e. mining.
const MINING: &str = "T1496";

/// How a contact was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Via {
    /// An accepted login recorded on this host.
    Login,
    /// Failed logins recorded on this host (kept only when the peer is a collected host).
    FailedLogins,
    /// A `known_hosts` entry of this host.
    KnownHosts,
    /// An ssh/scp/rsync/sftp destination typed in a shell history of this host.
    History,
    /// An established TCP connection to or from port 22 at capture time.
    Socket,
}

/// One contact of this host with another machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Address or host name as seen, escaped and lowercased.
    pub peer: String,
    /// True when this host reached the peer, false when the peer reached this host.
    pub outbound: bool,
    pub via: Via,
    pub level: EdgeLevel,
    /// Microseconds since the epoch.
    pub time_us: Option<i64>,
    pub evidence: Vec<String>,
}

/// The fleet's summary of one host: its `fleet.json` row and what correlation needs besides.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub row: FleetHost,
    /// The row's addresses, parsed.
    pub addresses: Vec<IpAddr>,
    /// The row's first seen, in microseconds since the epoch.
    pub first_seen_us: Option<i64>,
    pub worst: Option<Severity>,
    pub indicators: BTreeSet<Indicator>,
    pub contacts: Vec<Contact>,
    /// The earliest timeline events tied to findings (at most [`EVENTS_PER_HOST`]).
    pub events: Vec<Event<'static>>,
}

impl HostFacts {
    /// Summarises one analysed host.
    pub fn of(name: &str, bundle: &str, analysis: &Analysis, trace: &Trace) -> HostFacts {
        let doc = &analysis.document;
        let serious: Vec<&Finding> = doc
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .collect();
        let families: BTreeSet<String> = serious.iter().filter_map(|f| f.family.clone()).collect();
        let mining = || {
            serious
                .iter()
                .filter(|f| f.attack.iter().any(|a| a == MINING))
        };
        let miners: BTreeSet<String> = mining()
            .flat_map(|f| f.iter_subjects())
            .filter_map(|s| match s {
                Subject::Process { exe: Some(exe), .. } => Some(exe.escaped()),
                _ => None,
            })
            .collect();
        let pools: BTreeSet<String> = mining()
            .flat_map(|f| f.iter_subjects())
            .filter_map(|s| match s {
                Subject::Endpoint { addr } => Some(escape_bytes(addr.as_bytes())),
                _ => None,
            })
            .collect();
        let (first_seen_us, events) = judged_events(trace);
        let mut contacts = logins(analysis);
        contacts.extend(reached(analysis));
        contacts.extend(sessions(analysis));
        contacts.truncate(CONTACTS_PER_HOST);
        let addresses = analysis.model.own_addresses();
        HostFacts {
            row: FleetHost {
                name: name.to_owned(),
                bundle: bundle.to_owned(),
                sha256: doc.bundle_sha256.clone(),
                hostname: escape_bytes(doc.host.hostname.as_bytes()),
                verdict: doc.verdict,
                families: families.into_iter().collect(),
                addresses: addresses.iter().map(ToString::to_string).collect(),
                first_seen: first_seen_us.map(iso_us),
                miners: miners.into_iter().collect(),
                pools: pools.into_iter().collect(),
                findings: serious.len(),
                tampered: doc.tampered,
            },
            addresses,
            first_seen_us,
            worst: doc.findings.iter().map(|f| f.severity).max(),
            indicators: indicators::of_trace(trace),
            contacts,
            events,
        }
    }
}

/// The earliest time of an event about a node judged suspicious or malicious, and the earliest such
/// events.
fn judged_events(trace: &Trace) -> (Option<i64>, Vec<Event<'static>>) {
    let mut judged: Vec<&Event> = trace
        .timeline
        .iter()
        .filter(|e| {
            e.node
                .as_deref()
                .and_then(|id| trace.graph.node(id))
                .is_some_and(|n| n.verdict >= NodeVerdict::Suspicious)
        })
        .collect();
    judged.sort_by_key(|e| e.time_us);
    let first = judged.first().map(|e| e.time_us);
    (
        first,
        judged
            .into_iter()
            .take(EVENTS_PER_HOST)
            .map(Event::to_static)
            .collect(),
    )
}

/// Accepted logins one by one; failed ones summed per source address.
fn logins(analysis: &Analysis) -> Vec<Contact> {
    let mut out = Vec::new();
    let mut failed: BTreeMap<String, (usize, Option<i64>, String)> = BTreeMap::new();
    for e in &analysis.model.auth {
        let Some(from) = e.from else {
            continue;
        };
        let peer = from.to_string();
        let time_us = e.time.map(|t| t.saturating_mul(1_000_000));
        let place = format!("{}:{}", escape_bytes(&e.path), e.line);
        match e.kind {
            AuthKind::AcceptedPassword | AuthKind::AcceptedPublicKey => out.push(Contact {
                peer,
                outbound: false,
                via: Via::Login,
                level: EdgeLevel::Parsed,
                time_us,
                evidence: vec![format!(
                    "{} for {} from {} ({place}{})",
                    e.kind.name(),
                    escape_bytes(&e.user),
                    from,
                    if e.time_guessed { ", year guessed" } else { "" }
                )],
            }),
            AuthKind::FailedPassword | AuthKind::InvalidUser => {
                let entry = failed.entry(peer).or_insert((0, None, place));
                entry.0 += 1;
                entry.1 = match (entry.1, time_us) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            AuthKind::PasswordChanged | AuthKind::NewUser => {}
        }
    }
    for (peer, (count, time_us, place)) in failed {
        out.push(Contact {
            evidence: vec![format!(
                "{count} failed logins from {peer} (first at {place})"
            )],
            peer,
            outbound: false,
            via: Via::FailedLogins,
            level: EdgeLevel::Parsed,
            time_us,
        });
    }
    out
}

/// `known_hosts` entries and history destinations: hosts this one reached.
fn reached(analysis: &Analysis) -> Vec<Contact> {
    let model = &analysis.model;
    let support = Support::of(&analysis.document.findings);
    let mut out = Vec::new();
    for (i, f) in model.files.iter().enumerate() {
        let path = f.path.as_bytes();
        let Some(bytes) = model.content(f) else {
            continue;
        };
        if basename(path) == b"known_hosts" || basename(path) == b"ssh_known_hosts" {
            let keys = support.keys_beside(&f.path.escaped());
            for kh in model.ssh.known_hosts_of(i) {
                for name in kh.names() {
                    let mut evidence = vec![format!(
                        "{}:{} lists {}",
                        f.path.escaped(),
                        kh.line,
                        escape_bytes(&name)
                    )];
                    evidence.extend(keys.iter().map(|k| format!("private key {k} beside it")));
                    evidence.extend(support.loops.iter().cloned());
                    evidence.truncate(EVIDENCE_PER_CONTACT);
                    out.push(Contact {
                        peer: escape_bytes(&name),
                        outbound: true,
                        via: Via::KnownHosts,
                        level: EdgeLevel::Parsed,
                        time_us: None,
                        evidence,
                    });
                }
            }
        } else if is_history_path(path) {
            for (n, line) in numbered_lines(bytes) {
                for host in ssh_command::targets(line) {
                    out.push(Contact {
                        peer: escape_bytes(&host),
                        outbound: true,
                        via: Via::History,
                        level: EdgeLevel::Parsed,
                        time_us: None,
                        evidence: vec![crate::detect::footholds::common::quote_line(
                            &f.path, n, line,
                        )],
                    });
                }
            }
        }
    }
    out
}

/// What the findings say about SSH lateral movement: private keys next to a `known_hosts`, and loops
/// over `known_hosts` typed in histories.
struct Support {
    /// `known_hosts` path (escaped) → private keys a finding names with it.
    keys: BTreeMap<String, Vec<String>>,
    loops: Vec<String>,
}

impl Support {
    fn of(findings: &[Finding]) -> Support {
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut loops = Vec::new();
        for f in findings {
            let files: Vec<&RawBytes> = f
                .iter_subjects()
                .filter_map(|s| match s {
                    Subject::File { path, .. } => Some(path),
                    _ => None,
                })
                .collect();
            if f.attack.iter().any(|a| a == PRIVATE_KEYS) {
                let (kh, others): (Vec<&&RawBytes>, Vec<&&RawBytes>) = files
                    .iter()
                    .partition(|p| basename(p.as_bytes()).ends_with(b"known_hosts"));
                for k in kh {
                    keys.entry(k.escaped())
                        .or_default()
                        .extend(others.iter().map(|p| p.escaped()));
                }
            } else if f.attack.iter().any(|a| a == SSH_LATERAL)
                && files.iter().any(|p| is_history_path(p.as_bytes()))
            {
                loops.extend(
                    f.evidence
                        .iter()
                        .take(2)
                        .map(|e| format!("{}: {e}", f.title)),
                );
            }
        }
        Support { keys, loops }
    }

    fn keys_beside(&self, known_hosts: &str) -> &[String] {
        self.keys
            .get(known_hosts)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Established TCP connections with port 22 on one side, at capture time.
fn sessions(analysis: &Analysis) -> Vec<Contact> {
    let mut out = Vec::new();
    for s in &analysis.model.sockets {
        if s.state != "ESTABLISHED" {
            continue;
        }
        let (Some((lip, lport)), Some((rip, rport))) =
            (split_addr(&s.local), split_addr(&s.remote))
        else {
            continue;
        };
        let outbound = match (lport, rport) {
            (_, 22) => true,
            (22, _) => false,
            _ => continue,
        };
        if rip == lip {
            continue;
        }
        out.push(Contact {
            peer: rip.to_string(),
            outbound,
            via: Via::Socket,
            level: EdgeLevel::Observed,
            time_us: None,
            evidence: vec![format!(
                "ssh connection {} -> {} open at capture time",
                escape_bytes(if outbound {
                    s.local.as_bytes()
                } else {
                    s.remote.as_bytes()
                }),
                escape_bytes(if outbound {
                    s.remote.as_bytes()
                } else {
                    s.local.as_bytes()
                }),
            )],
        });
    }
    out
}
