//! Network edges: sockets to endpoints (observed), names in command lines and histories (URLs, pool
//! `host:port`, wallets: parsed), endpoints resolved from domains (`/etc/hosts`: parsed; a pool name in
//! the command line whose port matches a live socket: suspected).

use std::collections::BTreeSet;
use std::net::IpAddr;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::socket::SocketProto;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::graph::ctx::Ctx;
use crate::graph::nodes::{
    domain_id, endpoint_id, url_id, wallet_id, Edge, Level, Node, NodeKind, Relation,
};
use crate::graph::processes;
use crate::graph::{AttackGraph, Budget};
use crate::parse::refs::{self as text, endpoint_addr, is_domain, url_host_port};

/// Lines read from one history file.
const MAX_HISTORY_LINES: usize = 20_000;

/// Splits `IP:PORT` / `[v6]:PORT`.
pub fn split_addr(addr: &str) -> Option<(IpAddr, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.parse().ok()?, port.parse().ok()?))
}

/// The endpoint node for `IP:PORT`.
pub fn endpoint_node(g: &mut AttackGraph, addr: &str, budget: Budget) -> Option<NodeIndex> {
    let mut n = Node::new(
        endpoint_id(addr),
        NodeKind::Endpoint,
        escape_bytes(addr.as_bytes()),
    )
    .attr("addr", escape_bytes(addr.as_bytes()));
    if let Some((ip, port)) = split_addr(addr) {
        n = n
            .attr("ip", ip.to_string())
            .attr("port", port.to_string())
            .attr("loopback", ip.is_loopback().to_string());
    }
    g.add_node(n, budget)
}

pub fn domain_node(g: &mut AttackGraph, name: &str, budget: Budget) -> Option<NodeIndex> {
    let lower = name.to_ascii_lowercase();
    let n = Node::new(
        domain_id(&lower),
        NodeKind::Domain,
        escape_bytes(lower.as_bytes()),
    )
    .attr("name", escape_bytes(lower.as_bytes()));
    g.add_node(n, budget)
}

/// The URL node, with `hosted_on` to its domain or endpoint.
pub fn url_node(g: &mut AttackGraph, url: &[u8], budget: Budget) -> Option<NodeIndex> {
    let n = Node::new(url_id(url), NodeKind::Url, String::new())
        .with_raw_label(url)
        .attr("url", escape_bytes(url));
    let ui = g.add_node(n, budget)?;
    if let Some((host, port)) = url_host_port(url) {
        let target = match (host.parse::<IpAddr>(), port) {
            (Ok(ip), Some(port)) => endpoint_node(g, &endpoint_addr(ip, port), budget),
            (Ok(_), None) => None,
            (Err(_), _) if is_domain(&host) => domain_node(g, &host, budget),
            _ => None,
        };
        if let Some(t) = target {
            let ev = format!("host of {}", escape_bytes(url));
            g.add_edge(
                ui,
                t,
                Edge::new(Relation::HostedOn, Level::Parsed, "url.host", ev),
                budget,
            );
        }
    }
    Some(ui)
}

/// Socket edges: a process to the remote end of each connection, or to the local end it listens on.
pub fn add_sockets(ctx: &Ctx, g: &mut AttackGraph) {
    for s in &ctx.model.sockets {
        if s.proto == SocketProto::Unix || s.pids.is_empty() {
            continue;
        }
        let listening = s.state == "LISTEN"
            || (matches!(s.proto, SocketProto::Udp | SocketProto::Udp6)
                && split_addr(&s.remote).is_none_or(|(ip, port)| ip.is_unspecified() && port == 0));
        let (addr, relation) = if listening {
            (&s.local, Relation::ListensOn)
        } else {
            (&s.remote, Relation::OwnsSocket)
        };
        if addr.is_empty() {
            continue;
        }
        let Some(ei) = endpoint_node(g, addr, Budget::Host) else {
            continue;
        };
        if relation == Relation::ListensOn {
            if let Some(n) = g.node_at_mut(ei) {
                n.stage = super::Stage::Entry;
                n.attrs.insert("listening".into(), "true".into());
            }
        }
        for pid in &s.pids {
            let Some(p) = ctx.model.process(*pid) else {
                continue;
            };
            let Some(pi) = processes::node(ctx, g, p, Budget::Host) else {
                continue;
            };
            let ev = format!(
                "{} {} -> {} {} inode {} netns {}",
                s.proto.name(),
                escape_bytes(s.local.as_bytes()),
                escape_bytes(s.remote.as_bytes()),
                escape_bytes(s.state.as_bytes()),
                s.inode,
                s.netns
            );
            g.add_edge(
                pi,
                ei,
                Edge::new(relation, Level::Observed, "socket.inode", ev),
                Budget::Host,
            );
        }
    }
}

/// Names in command lines (URLs, pools, wallets), in shell histories (URLs, download targets) and
/// `/etc/hosts` resolutions.
pub fn add_names(ctx: &Ctx, g: &mut AttackGraph) {
    for p in &ctx.model.processes {
        let argv = p.argv();
        let joined: Vec<u8> = argv.join(&b' ');
        let refs = text::refs(&joined);
        let pools = text::pool_args(&argv);
        let wallets = text::wallets(&argv);
        if refs.urls.is_empty() && pools.is_empty() && wallets.is_empty() {
            continue;
        }
        let Some(pi) = processes::node(ctx, g, p, Budget::Host) else {
            continue;
        };
        let ev = format!("/proc/{}/cmdline", p.pid);
        for url in &refs.urls {
            if let Some(ui) = url_node(g, url, Budget::Host) {
                g.add_edge(
                    pi,
                    ui,
                    Edge::new(
                        Relation::References,
                        Level::Parsed,
                        "cmdline.url",
                        ev.clone(),
                    ),
                    Budget::Host,
                );
            }
        }
        for (host, port) in &pools {
            let target = match host.parse::<IpAddr>() {
                Ok(ip) => endpoint_node(g, &endpoint_addr(ip, *port), Budget::Host),
                Err(_) => domain_node(g, host, Budget::Host),
            };
            let Some(ti) = target else { continue };
            let mut e = Edge::new(
                Relation::References,
                Level::Parsed,
                "cmdline.pool",
                format!("{ev}: pool {}:{port}", escape_bytes(host.as_bytes())),
            );
            e.attack = Some("T1496".into());
            g.add_edge(pi, ti, e, Budget::Host);
            if let Some(n) = g.node_at_mut(ti) {
                n.named_as_pool = true;
            }
            if host.parse::<IpAddr>().is_err() {
                link_pool_domain(g, pi, ti, *port, host);
            }
        }
        for w in &wallets {
            let n = Node::new(wallet_id(w), NodeKind::Wallet, String::new())
                .with_raw_label(w)
                .attr("address", escape_bytes(w));
            if let Some(wi) = g.add_node(n, Budget::Host) {
                g.add_edge(
                    pi,
                    wi,
                    Edge::new(
                        Relation::References,
                        Level::Parsed,
                        "cmdline.wallet",
                        ev.clone(),
                    ),
                    Budget::Host,
                );
            }
        }
    }
    add_histories(ctx, g);
    add_hosts_file(ctx, g);
}

/// A pool domain named in a command line: each live connection of that process on the same port was
/// probably resolved from it.
fn link_pool_domain(
    g: &mut AttackGraph,
    proc_i: NodeIndex,
    domain_i: NodeIndex,
    port: u16,
    host: &str,
) {
    let targets: Vec<NodeIndex> =
        g.g.edges(proc_i)
            .filter(|e| e.weight().relation == Relation::OwnsSocket)
            .map(|e| e.target())
            .filter(|t| {
                g.node_at(*t)
                    .and_then(|n| n.attrs.get("port"))
                    .is_some_and(|p| *p == port.to_string())
            })
            .collect();
    for t in targets {
        let ev = format!(
            "command line names {}:{port}; the process holds a connection to that port",
            escape_bytes(host.as_bytes())
        );
        g.add_edge(
            t,
            domain_i,
            Edge::new(
                Relation::ResolvedFrom,
                Level::Suspected,
                "cmdline.pool+socket.port",
                ev,
            ),
            Budget::Host,
        );
    }
}

fn add_histories(ctx: &Ctx, g: &mut AttackGraph) {
    for f in ctx
        .model
        .files
        .iter()
        .filter(|f| crate::model::is_shell_history(f.path.as_bytes()))
    {
        let Some(content) = ctx.model.content(f) else {
            continue;
        };
        let mut file_i: Option<NodeIndex> = None;
        for (n, line) in content
            .split(|b| *b == b'\n')
            .take(MAX_HISTORY_LINES)
            .enumerate()
        {
            let refs = text::refs(line);
            if refs.urls.is_empty() {
                continue;
            }
            if file_i.is_none() {
                file_i = ctx.file_record_node(g, f, Budget::Host);
            }
            let Some(fi) = file_i else { return };
            let ev = format!("{}:{}", f.path.escaped(), n + 1);
            for url in &refs.urls {
                if let Some(ui) = url_node(g, url, Budget::Host) {
                    g.add_edge(
                        fi,
                        ui,
                        Edge::new(
                            Relation::References,
                            Level::Parsed,
                            "history.url",
                            ev.clone(),
                        ),
                        Budget::Host,
                    );
                }
            }
            add_downloads(ctx, g, &refs.downloads, &ev, "history.download", None);
        }
    }
}

/// `url downloaded_to file` edges for download commands (`-O`, `-o`, `>`).
pub fn add_downloads(
    ctx: &Ctx,
    g: &mut AttackGraph,
    downloads: &[(Vec<u8>, Vec<u8>)],
    ev: &str,
    rule: &str,
    home_uid: Option<u32>,
) {
    for (url, path) in downloads {
        let path = ctx.accounts.expand_home(path, home_uid);
        let (Some(ui), Some(fi)) = (
            url_node(g, url, Budget::Host),
            ctx.file_path_node(g, &path, Budget::Host),
        ) else {
            continue;
        };
        let mut e = Edge::new(
            Relation::DownloadedTo,
            Level::Suspected,
            rule,
            format!("{ev}: download written to {}", escape_bytes(&path)),
        );
        e.attack = Some("T1105".into());
        g.add_edge(ui, fi, e, Budget::Host);
    }
}

fn add_hosts_file(ctx: &Ctx, g: &mut AttackGraph) {
    let Some(text) = ctx
        .model
        .file(b"/etc/hosts")
        .and_then(|f| ctx.model.content(f))
    else {
        return;
    };
    // Endpoint nodes by IP, to attach names to.
    let endpoints: Vec<(NodeIndex, String)> =
        g.g.node_indices()
            .filter_map(|i| {
                let n = g.node_at(i)?;
                (n.kind == NodeKind::Endpoint && !n.attrs.contains_key("listening"))
                    .then(|| n.attrs.get("ip").map(|ip| (i, ip.clone())))
                    .flatten()
            })
            .collect();
    let hostname = ctx.model.manifest.host.hostname.to_ascii_lowercase();
    for (n, line) in text.split(|b| *b == b'\n').take(10_000).enumerate() {
        let line = line.split(|b| *b == b'#').next().unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let mut fields = line.split_whitespace();
        let Some(ip) = fields.next().and_then(|f| f.parse::<IpAddr>().ok()) else {
            continue;
        };
        let names: BTreeSet<String> = fields
            .map(str::to_ascii_lowercase)
            .filter(|n| {
                is_domain(n)
                    && *n != hostname
                    && !n.starts_with("ip6-")
                    && !n.starts_with("localhost")
            })
            .collect();
        for (ei, _) in endpoints.iter().filter(|(_, e_ip)| *e_ip == ip.to_string()) {
            for name in &names {
                if let Some(di) = domain_node(g, name, Budget::Host) {
                    let ev = format!(
                        "/etc/hosts:{}: {ip} {}",
                        n + 1,
                        escape_bytes(name.as_bytes())
                    );
                    g.add_edge(
                        *ei,
                        di,
                        Edge::new(Relation::ResolvedFrom, Level::Parsed, "etc_hosts", ev),
                        Budget::Host,
                    );
                }
            }
        }
    }
}
