//! The confidence gates: which artifact subjects `--apply` may act on unasked.
//!
//! A subject is **attributed** to the intrusion when a finding at high or above names it as an artifact,
//! or when an observed or parsed graph edge ties it to a **confirmed** node (an artifact of a high or
//! critical finding: a miner, a kit file, an intrusion entry). Which edges count depends on the subject:
//!
//! - a process: it runs a confirmed file (`runs_image`), it is a child of a confirmed process (`child_of`),
//!   a confirmed unit's cgroup holds it (`launches`, observed), or it is an interpreter running a
//!   confirmed script (its command line names it, or bash's script descriptor is it; merely holding a
//!   confirmed file open is no tie);
//! - a file: a confirmed process runs it;
//! - a persistence line: its text names a confirmed file, URL or endpoint (`references`, parsed), or its
//!   unit's cgroup holds a confirmed process;
//! - an endpoint: a confirmed process holds a connection to it.
//!
//! Mappings never tie (every process maps a preloaded library), nor do parents (a miner's parent may be
//! sshd or cron), nor suspected edges. Whatever its findings say, a process whose executable matches its
//! package is never confirmed and is attributed only through those observed ties: its name, argv and
//! environment are the attacker's to write (`/proc/PID/mem`).

use std::collections::HashSet;
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{FindingsDocument, Role, Severity, Subject};
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::records::process::FdTarget;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::detect::runtime::support::script_file;
use crate::graph::{AttackGraph, Level, NodeKind, Relation};
use crate::indicators::{Indicators, Kind};
use crate::model::HostModel;
use crate::parse::basename;
use crate::parse::shell_line::is_interpreter;

/// The confirmed nodes of one analysis and what ties to them.
pub struct Attribution<'a> {
    model: &'a HostModel,
    graph: &'a AttackGraph,
    confirmed: HashSet<NodeIndex>,
    /// Paths of confirmed files, for open file descriptors (the fd table names paths, not inodes).
    confirmed_paths: HashSet<Vec<u8>>,
}

/// Whether the file at `path` is the system's rather than the attacker's, whatever a finding says of
/// it: identical to its package's copy, or seen through a bind mount (its real name may be
/// `/usr/sbin/sshd` while the snapshot calls it `/tmp/.x/sshd`; the real name's package check decides
/// when the table shows it, else it is never taken for a kit file).
pub fn system_file(model: &HostModel, path: &[u8]) -> bool {
    let matches = |p: &[u8]| {
        model
            .package_check(p)
            .is_some_and(|c| c.verdict == PackageVerdict::Match)
    };
    matches(path) || model.bind_view(path).is_some()
}

/// Directories of a home that hold a person's keys: a file there is removed unasked only when a kit
/// process runs it (issue 18 case 2 floor: a path in the attacker's text, a look-alike name or a
/// detector's misjudgement must never cost a user their private key).
const KEY_DIRS: &[&[u8]] = &[b".ssh", b".gnupg"];

/// Whether `path` lies inside a key directory of a home (`~/.ssh/`, `~/.gnupg/`).
pub fn in_key_dir(path: &[u8]) -> bool {
    let mut comps = path.split(|b| *b == b'/').peekable();
    while let Some(c) = comps.next() {
        if comps.peek().is_some() && KEY_DIRS.contains(&c) {
            return true;
        }
    }
    false
}

/// Whether a process subject runs an executable identical to its package's copy (or one seen through a
/// bind mount, see [`system_file`]).
pub fn package_verified_process(model: &HostModel, s: &Subject) -> bool {
    let Subject::Process {
        pid, start_ticks, ..
    } = s
    else {
        return false;
    };
    let Some(p) = model
        .process(*pid)
        .filter(|p| p.start_ticks == *start_ticks)
    else {
        return false;
    };
    let Some(exe) = p.exe.as_ref().filter(|e| !e.deleted && !e.memfd) else {
        return false;
    };
    system_file(model, exe.path.as_bytes())
}

impl<'a> Attribution<'a> {
    pub fn new(
        model: &'a HostModel,
        doc: &FindingsDocument,
        graph: &'a AttackGraph,
    ) -> Attribution<'a> {
        let mut confirmed = HashSet::new();
        let mut confirmed_paths = HashSet::new();
        for (fno, f) in doc.findings.iter().enumerate() {
            if f.severity < Severity::High {
                continue;
            }
            for (sno, s) in f.subjects.iter().enumerate() {
                if s.role != Role::Artifact || package_verified_process(model, &s.subject) {
                    continue;
                }
                // A package's own file (a miner's argv written over a packaged program's) is never
                // confirmed: what runs it is tied to nothing through it.
                if let Subject::File { path, .. } = &s.subject {
                    if system_file(model, path.as_bytes()) {
                        continue;
                    }
                }
                if let Some(&i) = graph.subject_nodes.get(&(fno, sno)) {
                    confirmed.insert(i);
                }
                if let Subject::File { path, .. } = &s.subject {
                    confirmed_paths.insert(path.0.clone());
                    if let Some(r) = model.file_aliased(path.as_bytes()) {
                        confirmed_paths.insert(r.path.0.clone());
                    }
                }
            }
        }
        Attribution {
            model,
            graph,
            confirmed,
            confirmed_paths,
        }
    }

    fn label(&self, i: NodeIndex) -> String {
        self.graph
            .node_at(i)
            .map(|n| n.label.clone())
            .unwrap_or_default()
    }

    /// Why subject `sno` of finding `fno` is tied to a confirmed node, when it is (escaped text).
    pub fn tie(&self, fno: usize, sno: usize, s: &Subject) -> Option<String> {
        if let Some(why) = self.script_tie(s) {
            return Some(why);
        }
        let i = *self.graph.subject_nodes.get(&(fno, sno))?;
        let g = &self.graph.g;
        let out = g.edges_directed(i, Direction::Outgoing).map(|e| {
            (
                e.target(),
                e.weight().relation,
                e.weight().level,
                Direction::Outgoing,
            )
        });
        let inc = g.edges_directed(i, Direction::Incoming).map(|e| {
            (
                e.source(),
                e.weight().relation,
                e.weight().level,
                Direction::Incoming,
            )
        });
        for (other, rel, level, dir) in out.chain(inc) {
            if other == i || !self.confirmed.contains(&other) {
                continue;
            }
            use Direction::{Incoming, Outgoing};
            use Relation::*;
            let ok = matches!(
                (s, rel, dir, level),
                (
                    Subject::Process { .. },
                    RunsImage | ChildOf,
                    Outgoing,
                    Level::Observed
                ) | (Subject::Process { .. }, Launches, Incoming, Level::Observed)
                    | (Subject::File { .. }, RunsImage, Incoming, Level::Observed)
                    | (
                        Subject::Persistence { .. },
                        References,
                        Outgoing,
                        Level::Parsed
                    )
                    | (
                        Subject::Persistence { .. },
                        Launches,
                        Outgoing,
                        Level::Observed
                    )
                    | (
                        Subject::Endpoint { .. },
                        OwnsSocket,
                        Incoming,
                        Level::Observed
                    )
            );
            if ok {
                return Some(format!(
                    "{} {} (confirmed) [{}]",
                    relation_text(rel, dir),
                    self.label(other),
                    level.name()
                ));
            }
        }
        None
    }

    /// An interpreter running a confirmed script: the script its command line names
    /// (`support::script_file`, resolved against its working directory and root) or the one on bash's
    /// script descriptor (fd 255, still there when the script deleted itself). Holding a confirmed file
    /// open on any other descriptor is no tie: an admin's `tail -f` or editor, a backup agent, a logger
    /// or a shell's `exec 3<FILE` reads the kit, it does not run it.
    fn script_tie(&self, s: &Subject) -> Option<String> {
        let Subject::Process {
            pid, start_ticks, ..
        } = s
        else {
            return None;
        };
        let p = self
            .model
            .process(*pid)
            .filter(|p| p.start_ticks == *start_ticks)?;
        if let Some(path) = script_file(p).filter(|path| self.confirmed_paths.contains(path)) {
            return Some(format!(
                "runs the script {} (confirmed) [observed]",
                escape_bytes(&path)
            ));
        }
        let program = p
            .exe
            .as_ref()
            .map(|e| basename(e.path.as_bytes()))
            .unwrap_or_default();
        let argv0 = p.argv().first().map(|a| basename(a)).unwrap_or_default();
        if !is_interpreter(program) && !is_interpreter(argv0) {
            return None;
        }
        p.fds.iter().find_map(|fd| match &fd.target {
            FdTarget::File { path, deleted }
                if fd.fd == BASH_SCRIPT_FD
                    && !deleted
                    && self.confirmed_paths.contains(&path.0) =>
            {
                Some(format!(
                    "runs the script {} (its script descriptor, fd {}; confirmed) [observed]",
                    path.escaped(),
                    fd.fd
                ))
            }
            _ => None,
        })
    }
}

/// The descriptor bash keeps its script open on (the remediation script's respawn scan reads the same).
const BASH_SCRIPT_FD: i32 = 255;

fn relation_text(rel: Relation, dir: Direction) -> &'static str {
    match (rel, dir) {
        (Relation::RunsImage, Direction::Outgoing) => "runs",
        (Relation::RunsImage, Direction::Incoming) => "is run by",
        (Relation::ChildOf, _) => "is a child of",
        (Relation::Launches, Direction::Incoming) => "is started by",
        (Relation::Launches, Direction::Outgoing) => "starts",
        (Relation::References, _) => "names",
        (Relation::OwnsSocket, _) => "is connected to by",
        _ => "is tied to",
    }
}

/// The host's own network, as the model knows it: what `--apply` never blocks, however an attacker's text
/// names it (a miner configured to "mine" at the gateway would otherwise cut the host off).
#[derive(Debug, Clone, Default)]
pub struct HostNetwork {
    /// DNS resolvers (`/etc/resolv.conf`).
    pub resolvers: Vec<IpAddr>,
    /// Next hops of the host's routes (live bundles).
    pub gateways: Vec<IpAddr>,
    /// The host's own addresses (interfaces, its `/etc/hosts` self entries).
    pub own: Vec<IpAddr>,
}

impl HostNetwork {
    pub fn of(model: &HostModel) -> HostNetwork {
        HostNetwork {
            resolvers: model.nameservers(),
            gateways: model.gateways(),
            own: model.own_addresses(),
        }
    }
}

/// Why `--apply` must not block an address without the operator naming it, when that is so: the host's
/// own infrastructure (its resolvers, gateways, its own addresses), link-local and cloud metadata
/// addresses, private and shared address space, multicast and broadcast. Loopback is not among them
/// (unless the host names it as a resolver or gateway): tests stand for internet hosts on 127.0.0.0/8,
/// and a local proxy a miner talks through is blocked by port.
pub fn infrastructure(ip: IpAddr, host: &HostNetwork) -> Option<&'static str> {
    if host.resolvers.contains(&ip) {
        return Some("one of the host's DNS resolvers (/etc/resolv.conf)");
    }
    if host.gateways.contains(&ip) {
        return Some("one of the host's gateways (its routing table)");
    }
    if host.own.contains(&ip) {
        return Some("one of the host's own addresses");
    }
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] {
                Some("a cloud metadata address")
            } else if a.is_link_local() {
                Some("a link-local address")
            } else if a.is_private() {
                Some("a private address (RFC 1918)")
            } else if o[0] == 100 && (64..128).contains(&o[1]) {
                Some("shared address space (RFC 6598)")
            } else if a.is_multicast() || a.is_broadcast() || a.is_unspecified() {
                Some("a multicast, broadcast or unspecified address")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            if a == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("a unique local address (private)")
            } else if a.is_multicast() || a.is_unspecified() {
                Some("a multicast or unspecified address")
            } else {
                None
            }
        }
    }
}

/// What says an endpoint is a mining pool rather than any host a miner talks to: a pool port, or a pool
/// domain it was resolved from (graph `resolved_from` edges, `/etc/hosts`). `None` when nothing does.
pub fn pool_evidence(
    iocs: &Indicators,
    graph: &AttackGraph,
    node: Option<NodeIndex>,
    port: u16,
) -> Option<String> {
    if iocs.contains(Kind::PoolPort, &port.to_string()) {
        return Some(format!("port {port} is a mining-pool port"));
    }
    let i = node?;
    graph
        .g
        .edges_directed(i, Direction::Outgoing)
        .filter(|e| e.weight().relation == Relation::ResolvedFrom)
        .filter_map(|e| graph.node_at(e.target()))
        .filter(|n| n.kind == NodeKind::Domain)
        .find_map(|n| {
            let name = n.attrs.get("name").unwrap_or(&n.label);
            iocs.find_in(Kind::PoolDomain, name)
                .map(|d| format!("resolved from pool domain {name} ({d})"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_directories_are_any_homes_ssh_and_gnupg() {
        assert!(in_key_dir(b"/home/alice/.ssh/id_ed25519"));
        assert!(in_key_dir(b"/root/.gnupg/private-keys-v1.d/x.key"));
        assert!(!in_key_dir(b"/root/.ssh"));
        assert!(!in_key_dir(b"/tmp/.sshd/x"));
        assert!(!in_key_dir(b"/tmp/.kit/kdevtmpfsi"));
    }

    #[test]
    fn infrastructure_addresses_are_named() {
        let host = HostNetwork {
            resolvers: vec!["127.66.8.53".parse().unwrap()],
            gateways: vec![
                "127.66.8.1".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
            ],
            own: vec!["203.0.113.9".parse().unwrap()],
        };
        let why = |s: &str| infrastructure(s.parse().unwrap(), &host);
        assert!(why("127.66.8.53").is_some_and(|w| w.contains("resolver")));
        assert!(why("127.66.8.1").is_some_and(|w| w.contains("gateway")));
        assert!(why("2001:db8::1").is_some_and(|w| w.contains("gateway")));
        assert!(why("203.0.113.9").is_some_and(|w| w.contains("own address")));
        assert!(why("169.254.169.254").is_some_and(|w| w.contains("metadata")));
        assert!(why("fd00:ec2::254").is_some_and(|w| w.contains("metadata")));
        assert!(why("10.1.2.3").is_some());
        assert!(why("192.168.0.1").is_some());
        assert!(why("172.16.5.5").is_some());
        assert!(why("100.64.0.1").is_some());
        assert!(why("fe80::1").is_some());
        assert!(why("fd12::1").is_some());
        assert!(why("224.0.0.1").is_some());
        assert!(why("127.66.0.1").is_none());
        assert!(why("198.51.100.7").is_none());
        assert!(why("2001:db8::2").is_none());
    }
}
