//! Pool and C2 traffic: connections to mining-pool ports and domains (names resolved through the host's
//! `/etc/hosts` and the names a process's own command line or config gives), long-lived web-port
//! connections from suspicious executables, traffic tunnelled through local proxies (graftcp,
//! proxychains, tor), and IRC from programs that are not IRC clients.
//!
//! Loopback peers are judged like any other: miners talk through local proxies on 127.0.0.1, and in the
//! sandboxed tests a 127.x.y.z peer stands for an internet host.
//!
//! Rules: `MT-RUN-020` pool connection, `MT-RUN-021` web-port connection from a suspicious executable,
//! `MT-RUN-022` traffic through a local proxy tool, `MT-RUN-023` IRC from a non-IRC program.

use std::collections::HashMap;

use minetrace_schemas::findings::{Finding, Severity, Subject};
use minetrace_schemas::records::process::ProcessRecord;

use super::miner_binary::Matcher;
use super::support::{self, Conn, Names};
use crate::detect::finding::{describe_process, exe_subject, finding, process_subject, FindingExt};
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::indicators::Kind;

/// Seconds a process must have lived for its connection to count as long-lived.
const LONG_LIVED_SECS: f64 = 600.0;

/// An endpoint a process names itself, and whether a miner configuration names it.
struct Named {
    host: String,
    port: Option<u16>,
    /// Named by a config the process reads that is a miner's (pools, wallet, donate level:
    /// [`super::miner_binary::parse_config`]), not by its command line or an application's config.
    miner_config: bool,
}

/// Endpoints a process refers to: in argv, and in the configurations it reads
/// ([`support::own_configs`]: a config file named in argv, `config.json` next to its executable or in its
/// working directory, when captured).
fn names_for(ctx: &Context, p: &ProcessRecord) -> Vec<Named> {
    let mut out: Vec<Named> = support::named_endpoints(p)
        .into_iter()
        .map(|(host, port)| Named {
            host,
            port,
            miner_config: false,
        })
        .collect();
    for (_, content) in support::own_configs(ctx, p) {
        let miner_config = super::miner_binary::parse_config(content).is_some();
        let text = support::lower(
            content
                .get(..super::miner_binary::MAX_CONFIG)
                .unwrap_or(content),
        );
        for piece in text.split(['"', '\'', ' ', '\n', ',']).take(100_000) {
            if piece.contains('.') && (piece.contains(':') || piece.contains("://")) {
                if let Some((host, port)) = support::parse_host_port(piece) {
                    out.push(Named {
                        host,
                        port,
                        miner_config,
                    });
                }
            }
        }
    }
    out
}

/// The weak and strong facts about the process behind a connection (miner command line, odd place, CPU).
struct ProcContext {
    miner_cmdline: Vec<String>,
    miner_name: Option<String>,
    place: support::Placement,
    busy: Option<String>,
    age: Option<f64>,
    masquerade: bool,
    /// Its copied executable holds miner code.
    code: Option<String>,
}

fn proc_context(ctx: &Context, p: &ProcessRecord, m: Option<&Matcher>) -> ProcContext {
    let names = Names::of(p);
    let cpu = support::cpu_use(ctx.model, p);
    ProcContext {
        code: super::miner_binary::quick_miner_code(ctx, p, m),
        miner_cmdline: support::miner_cmdline(ctx, p),
        miner_name: support::name_in(ctx, Kind::MinerName, &names).map(|(n, _)| n),
        place: support::Placement::of(ctx, p),
        busy: support::busy(ctx.model, p).map(|c| support::describe_cpu(&c)),
        age: cpu.map(|c| c.elapsed_secs),
        masquerade: support::kthread_disguise(ctx, p, &names).is_some(),
    }
}

impl ProcContext {
    fn suspicious_exe(&self) -> bool {
        self.place.dropped() || self.masquerade || self.miner_name.is_some() || self.code.is_some()
    }
    /// A place programs never run from (memfd, deleted, shared memory, /etc, hidden outside homes); a plain
    /// temp directory or a home is not enough.
    fn severe_place(&self) -> bool {
        self.place.severe()
    }
    /// Something says the process mines: its command line, name, code, or a kernel-thread disguise.
    fn miner_like(&self) -> bool {
        !self.miner_cmdline.is_empty()
            || self.miner_name.is_some()
            || self.code.is_some()
            || self.masquerade
    }
    fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self.miner_cmdline.clone();
        if let Some(n) = &self.miner_name {
            v.push(format!("process name {n:?} is a known miner name"));
        }
        v.extend(self.place.lines());
        v.extend(self.busy.iter().cloned());
        if self.masquerade {
            v.push("the process wears a kernel thread's name".into());
        }
        v.extend(self.code.iter().cloned());
        v
    }
}

fn base_finding(
    rule: &Rule,
    severity: Severity,
    ctx: &Context,
    p: &ProcessRecord,
    c: &Conn,
) -> Finding {
    let mut f = finding(rule, severity)
        .subject(process_subject(p))
        .subject(Subject::Endpoint {
            addr: c.socket.remote.clone(),
        })
        .evidence(describe_process(p))
        .evidence(format!(
            "{} {} -> {} ({})",
            c.socket.proto.name(),
            c.socket.local,
            c.socket.remote,
            c.socket.state
        ));
    if let Some(x) = exe_subject(ctx.model, p) {
        f = f.subject(x);
    }
    f
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let conns = support::connections_by_pid(model);
    let hosts = support::etc_hosts(model);
    let matcher = ctx.iocs.binary_matcher();
    let mut out = Vec::new();
    let mut pids: Vec<&i32> = conns.keys().collect();
    pids.sort();
    for pid in pids {
        let Some(p) = model.process(*pid) else {
            continue;
        };
        let Some(list) = conns.get(pid) else {
            continue;
        };
        let pc = proc_context(ctx, p, matcher);
        let named = names_for(ctx, p);
        let names = Names::of(p);
        for c in list {
            let mut judged: Vec<Finding> = Vec::new();
            judged.extend(pool(ctx, p, c, &pc, &named, &hosts));
            judged.extend(web_port(ctx, p, c, &pc));
            judged.extend(irc(ctx, p, c, &pc, &names));
            if judged.iter().all(|f| f.severity < Severity::Medium) {
                judged.extend(other_port(ctx, p, c, &pc));
            }
            out.extend(judged);
        }
    }
    out.extend(proxies(ctx, &conns, matcher));
    out
}

/// `MT-RUN-020`. Points: pool port 1, pool domain (via /etc/hosts or the process's own names) 3, the exact
/// endpoint named in the command line of a process that shows miner signs, or in a miner config it reads, 3
/// (not added to a domain match; every client names the server it connects to: a Celery worker its Redis
/// broker, `psql -h`, a health check's URL), miner
/// command line 2, miner name 1, odd executable place 1, busy CPU 1. Low up to 2, medium 3-4, high 5-7,
/// critical from 8.
fn pool(
    ctx: &Context,
    p: &ProcessRecord,
    c: &Conn,
    pc: &ProcContext,
    named: &[Named],
    hosts: &HashMap<String, Vec<String>>,
) -> Option<Finding> {
    let mut score = 0;
    let mut why = Vec::new();
    if ctx.iocs.contains(Kind::PoolPort, &c.port.to_string()) {
        score += 1;
        why.push(format!("port {} is a common mining-pool port", c.port));
    }
    let host_names = hosts.get(&c.ip).cloned().unwrap_or_default();
    let domain_via_hosts = support::hosts_pool_domain(ctx, hosts, &c.ip);
    let named_domain = named.iter().find_map(|n| {
        support::pool_domain_of(ctx, &n.host)
            .filter(|_| n.port.is_none_or(|pt| pt == c.port))
            .map(|d| (n.host.clone(), d))
    });
    let exact = named
        .iter()
        .filter(|n| n.miner_config || pc.miner_like())
        .find(|n| {
            (n.host == c.ip || host_names.contains(&n.host)) && n.port.is_none_or(|pt| pt == c.port)
        })
        .map(|n| (&n.host, n.port));
    if let Some((n, d)) = &domain_via_hosts {
        score += 3;
        why.push(format!(
            "/etc/hosts maps {} to {n}, a pool domain ({d})",
            c.ip
        ));
    } else if let Some((n, d)) = &named_domain {
        score += 3;
        why.push(format!(
            "the process names pool domain {n} ({d}) on port {}",
            c.port
        ));
    }
    if let Some((h, _)) = exact {
        if domain_via_hosts.is_none() && named_domain.is_none() {
            score += 3;
        }
        why.push(format!(
            "the process's own command line or config names this endpoint ({h})"
        ));
    }
    // A process that mines by every other sign talks to its pool or proxy on whatever port it likes
    // (Kinsing on 80, pools on 443); DNS lookups are not that.
    if score == 0 && pc.miner_like() && c.port != 53 {
        score += 2;
        why.push(
            "an outbound connection of a process that shows miner signs: its pool or proxy".into(),
        );
    }
    if score == 0 {
        return None;
    }
    if !pc.miner_cmdline.is_empty() {
        score += 2;
    }
    score += u32::from(pc.miner_name.is_some())
        + 2 * u32::from(pc.code.is_some())
        + 2 * u32::from(pc.masquerade)
        + u32::from(pc.place.unexplained().next().is_some())
        + u32::from(pc.busy.is_some());
    // A pool port with nothing else that says mining is just a port.
    let severity = if why.len() == 1 && score == 1 {
        Severity::Low
    } else {
        support::severity_of(score)
    };
    let mut f = base_finding(&rules::RUN_020, severity, ctx, p, c);
    for line in why.into_iter().chain(pc.lines()) {
        f = f.evidence(line);
    }
    Some(f.evidence(format!("combined score {score}")))
}

/// `MT-RUN-021`: a suspicious executable (odd place, kernel-thread disguise, miner name or code) holding a
/// connection to a web port. Low; medium when long-lived, busy, miner-like or running from a place programs
/// never run from (memfd, deleted, shared memory, /etc, hidden outside homes); high with a miner command
/// line or miner code.
fn web_port(ctx: &Context, p: &ProcessRecord, c: &Conn, pc: &ProcContext) -> Option<Finding> {
    if !ctx.iocs.contains(Kind::WebPort, &c.port.to_string()) || !pc.suspicious_exe() {
        return None;
    }
    let long = pc.age.is_some_and(|a| a >= LONG_LIVED_SECS);
    let severity = if !pc.miner_cmdline.is_empty() || pc.code.is_some() {
        Severity::High
    } else if long || pc.busy.is_some() || pc.miner_like() || pc.severe_place() {
        Severity::Medium
    } else {
        Severity::Low
    };
    let mut f = base_finding(&rules::RUN_021, severity, ctx, p, c);
    // An age under a second (started just before the collection) says nothing.
    if let Some(a) = pc.age.filter(|a| *a >= 1.0) {
        f = f.evidence(format!(
            "process alive {a:.0} s{}",
            if long { " (long-lived)" } else { "" }
        ));
    }
    for line in pc.lines() {
        f = f.evidence(line);
    }
    Some(f)
}

/// `MT-RUN-024`: a suspicious executable (temp, shared-memory, hidden or deleted place, kernel-thread
/// disguise, miner name or code) holding a connection that no pool, web-port or IRC rule judged at medium:
/// a bot's peer or C2 on a port of its own. Medium; high when it also listens (a peer-to-peer bot or a
/// backdoor), runs from a place programs never run from, or looks like a miner.
fn other_port(ctx: &Context, p: &ProcessRecord, c: &Conn, pc: &ProcContext) -> Option<Finding> {
    if !pc.suspicious_exe() {
        return None;
    }
    let listens = ctx
        .model
        .sockets
        .iter()
        .any(|s| s.state == "LISTEN" && s.pids.contains(&p.pid));
    let severity = if listens || pc.severe_place() || pc.miner_like() {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut f = base_finding(&rules::RUN_024, severity, ctx, p, c);
    if listens {
        f = f.evidence(
            "the same process also listens for connections (a peer-to-peer bot or a backdoor)",
        );
    }
    for line in pc.lines() {
        f = f.evidence(line);
    }
    Some(f)
}

/// `MT-RUN-023`: IRC ports from programs that are not IRC clients. Medium; high when the program runs from
/// an odd place, is an interpreter (Perl shellbots) or busy.
fn irc(
    ctx: &Context,
    p: &ProcessRecord,
    c: &Conn,
    pc: &ProcContext,
    names: &Names,
) -> Option<Finding> {
    if !ctx.iocs.contains(Kind::IrcPort, &c.port.to_string())
        || support::name_in(ctx, Kind::IrcClient, names).is_some()
    {
        return None;
    }
    let interpreter = support::name_in(ctx, Kind::Interpreter, names);
    let severity = if pc.suspicious_exe() || interpreter.is_some() || pc.busy.is_some() {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut f = base_finding(&rules::RUN_023, severity, ctx, p, c).evidence(format!(
        "port {} is an IRC port; the program is not a known IRC client",
        c.port
    ));
    if let Some((n, _)) = interpreter {
        f = f.evidence(format!(
            "{n} is a script interpreter (IRC shellbots are Perl or Python)"
        ));
    }
    for line in pc.lines() {
        f = f.evidence(line);
    }
    Some(f)
}

/// `MT-RUN-022`: a process wrapped by a proxy tool (child of graftcp/proxychains, `LD_PRELOAD` of
/// libproxychains) or connected to a loopback port a proxy tool listens on. Low alone; medium with an odd
/// place or busy CPU; high with miner signals.
fn proxies(ctx: &Context, conns: &HashMap<i32, Vec<Conn>>, m: Option<&Matcher>) -> Vec<Finding> {
    let model = ctx.model;
    let proxy_pids: HashMap<i32, String> = model
        .processes
        .iter()
        .filter_map(|p| {
            support::name_in(ctx, Kind::ProxyTool, &Names::of(p)).map(|(n, _)| (p.pid, n))
        })
        .collect();
    let mut out = Vec::new();
    for p in &model.processes {
        if proxy_pids.contains_key(&p.pid) {
            continue;
        }
        let mut how = Vec::new();
        let mut proxy_proc = None;
        if let Some(tool) = proxy_pids.get(&p.ppid) {
            how.push(format!("started by proxy tool {tool} (pid {})", p.ppid));
            proxy_proc = model.process(p.ppid);
        }
        if let Some(v) = support::env_value(p, b"LD_PRELOAD") {
            let l = support::lower(v);
            if ctx.iocs.find_in(Kind::ProxyPreload, &l).is_some() {
                how.push(format!(
                    "LD_PRELOAD={} routes it through a proxy",
                    minetrace_schemas::escape_bytes(v)
                ));
            }
        }
        let mut endpoint = None;
        for c in conns.get(&p.pid).into_iter().flatten() {
            if !(c.ip.starts_with("127.") || c.ip == "::1") {
                continue;
            }
            let Some(l) = support::listener_of(model, c.socket.netns, &c.ip, c.port) else {
                continue;
            };
            if let Some((pid, tool)) = l
                .pids
                .iter()
                .find_map(|pid| proxy_pids.get(pid).map(|t| (*pid, t)))
            {
                how.push(format!(
                    "connected to {} where proxy tool {tool} (pid {pid}) listens",
                    c.socket.remote
                ));
                endpoint = Some(c.socket.remote.clone());
                proxy_proc = proxy_proc.or(model.process(pid));
            }
        }
        if how.is_empty() {
            continue;
        }
        let pc = proc_context(ctx, p, m);
        let severity = if pc.miner_like() {
            Severity::High
        } else if pc.suspicious_exe() || pc.busy.is_some() {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::RUN_022, severity)
            .subject(process_subject(p))
            .evidence(describe_process(p));
        if let Some(x) = proxy_proc {
            f = f.subject(process_subject(x));
        }
        if let Some(e) = endpoint {
            f = f.subject(Subject::Endpoint { addr: e });
        }
        for line in how.into_iter().chain(pc.lines()) {
            f = f.evidence(line);
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture::{model_with_processes, process};
    use minetrace_schemas::records::socket::{SocketProto, SocketRecord};

    fn tcp(local: &str, remote: &str, state: &str, pid: i32) -> SocketRecord {
        SocketRecord {
            netns: 1,
            proto: SocketProto::Tcp,
            local: local.into(),
            remote: remote.into(),
            state: state.into(),
            uid: 0,
            inode: 9000 + pid.unsigned_abs() as u64,
            unix_path: None,
            pids: vec![pid],
        }
    }

    /// Issue 11/13 look-alike: a CI integration test binary in a hidden temp build directory listens on
    /// loopback and talks to the job's PostgreSQL; the same shape under cron (no build tool), or under an
    /// attacker's launcher named `make` in its own drop place, stays high.
    #[test]
    fn a_build_tools_test_binary_is_not_a_bot_the_same_shape_under_cron_is() {
        let mut model = model_with_processes(
            vec![],
            vec![],
            vec![
                process(
                    100,
                    1,
                    997,
                    b"/home/ci/.cargo/bin/cargo",
                    &[b"cargo", b"test"],
                ),
                process(
                    101,
                    100,
                    997,
                    b"/tmp/.tmpQ2fK7p/target/debug/deps/integration-1a2b",
                    &[b"/tmp/.tmpQ2fK7p/target/debug/deps/integration-1a2b"],
                ),
                process(200, 1, 0, b"/usr/sbin/cron", &[b"/usr/sbin/cron", b"-f"]),
                process(
                    201,
                    200,
                    0,
                    b"/usr/bin/bash",
                    &[b"bash", b"-c", b"/tmp/.x/bot"],
                ),
                process(202, 201, 0, b"/tmp/.x/bot", &[b"/tmp/.x/bot"]),
                process(300, 200, 0, b"/tmp/.y/make", &[b"make"]),
                process(301, 300, 0, b"/tmp/.y/bot", &[b"/tmp/.y/bot"]),
            ],
        );
        for (pid, listen, peer) in [
            (101, "127.0.0.1:41235", "127.0.0.1:5432"),
            (202, "0.0.0.0:60101", "203.0.113.9:60100"),
            (301, "0.0.0.0:60102", "203.0.113.9:60100"),
        ] {
            model.sockets.push(tcp(listen, "0.0.0.0:0", "LISTEN", pid));
            model
                .sockets
                .push(tcp("10.0.0.2:50000", peer, "ESTABLISHED", pid));
        }
        let iocs = crate::indicators::Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let mut found = detect(&ctx);
        found.extend(super::super::listeners::detect(&ctx));
        found.extend(super::super::exec_context::detect(&ctx));
        let worst = |pid: i32| {
            found
                .iter()
                .filter(|f| {
                    f.iter_subjects()
                        .any(|s| matches!(s, Subject::Process { pid: p, .. } if *p == pid))
                })
                .map(|f| (f.severity, f.rule.clone()))
                .max()
        };
        assert!(
            worst(101).is_none_or(|(s, _)| s <= Severity::Low),
            "test binary: {:?}",
            worst(101)
        );
        for pid in [202, 301] {
            let w = worst(pid);
            assert!(
                w.as_ref().is_some_and(|(s, _)| *s >= Severity::High),
                "pid {pid}: {w:?}"
            );
        }
        // MT-RUN-024 and MT-RUN-025 each judge the bot high on their own.
        for rule in ["MT-RUN-024", "MT-RUN-025"] {
            assert!(
                found.iter().any(|f| f.rule == rule
                    && f.severity >= Severity::High
                    && f.iter_subjects()
                        .any(|s| matches!(s, Subject::Process { pid: 202, .. }))),
                "{rule}"
            );
        }
    }

    /// A client names the server it talks to: a Celery worker its Redis broker is no pool connection.
    /// The same endpoint named by a miner's command line (a pool option beside an EVM wallet) is.
    #[test]
    fn an_endpoint_its_own_command_line_names_is_a_pool_only_for_a_miner() {
        let mut model = model_with_processes(
            vec![],
            vec![],
            vec![
                process(
                    100,
                    1,
                    1001,
                    b"/opt/conda/bin/python3.11",
                    &[
                        b"/opt/conda/bin/python3.11",
                        b"/opt/conda/bin/celery",
                        b"-A",
                        b"pipeline",
                        b"worker",
                        b"--pool=prefork",
                        b"-b",
                        b"redis://198.51.100.7:6379/0",
                    ],
                ),
                process(
                    101,
                    1,
                    1001,
                    b"/opt/tools/nccl-check",
                    &[
                        b"nccl-check",
                        b"-pool",
                        b"198.51.100.7:6379",
                        b"-wal",
                        b"0x5e1f0c9d3b7a2e4f6c8d0b1a3e5f7c9d2b4a6e8f.kf02",
                    ],
                ),
            ],
        );
        for pid in [100, 101] {
            model.sockets.push(tcp(
                "10.0.0.2:50000",
                "198.51.100.7:6379",
                "ESTABLISHED",
                pid,
            ));
        }
        let iocs = crate::indicators::Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let pool = |pid: i32| {
            found
                .iter()
                .filter(|f| f.rule == rules::RUN_020.id)
                .find(|f| {
                    f.iter_subjects()
                        .any(|s| matches!(s, Subject::Process { pid: p, .. } if *p == pid))
                })
                .map(|f| f.severity)
        };
        assert_eq!(pool(100), None, "{found:?}");
        assert!(pool(101).is_some_and(|s| s >= Severity::High), "{found:?}");
    }
}
