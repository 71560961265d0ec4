//! Miner processes: command-line flags, algorithms and wallets, miner program names, CPU share over the
//! process's lifetime, worker threads against cores, and the host tuning miners apply (MSR writes, huge
//! pages). Signals are weighed together; a name or a busy CPU alone stays low.
//!
//! Rules: `MT-RUN-001` miner process, `MT-RUN-002` unexplained sustained CPU, `MT-RUN-003` host tuned for
//! mining. Binary contents are `miner_binary`'s, connections `pool_endpoints`'.

use minetrace_schemas::findings::{Finding, Severity, Subject};
use minetrace_schemas::records::process::ProcessRecord;

use super::support::{self, Names};
use crate::detect::finding::{describe_process, exe_subject, finding, process_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;

/// What was seen about one process, with its points (see [`score`]).
struct Signals {
    /// Flags, algorithm, wallet: 3 points (counted once).
    cmdline: Vec<String>,
    /// A miner program name: 2 points.
    name: Option<String>,
    /// Its copied executable holds miner code: 3 points.
    code: Option<String>,
    /// Busy CPU: 1 point; threads at least the core count while busy: 1 more.
    cpu: Option<String>,
    threads: Option<String>,
    /// Odd executable location: 1 point.
    place: Vec<String>,
    /// Connection to a pool port or domain, or to the endpoint its own command line names: 2 points.
    pool: Option<String>,
    /// Kernel-thread name on a user process: 2 points.
    masquerade: Option<String>,
    /// MSR writes enabled on the host: 1 point (only counted alongside a miner-specific signal).
    msr: Option<String>,
}

impl Signals {
    fn miner_specific(&self) -> bool {
        !self.cmdline.is_empty() || self.name.is_some() || self.code.is_some()
    }

    fn score(&self) -> u32 {
        let mut s = 0;
        if !self.cmdline.is_empty() {
            s += 3;
        }
        if self.name.is_some() {
            s += 2;
        }
        if self.code.is_some() {
            s += 3;
        }
        if self.cpu.is_some() {
            s += 1;
        }
        if self.threads.is_some() {
            s += 1;
        }
        if !self.place.is_empty() {
            s += 1;
        }
        if self.pool.is_some() {
            s += 2;
        }
        if self.masquerade.is_some() {
            s += 2;
        }
        if self.msr.is_some() && self.miner_specific() {
            s += 1;
        }
        s
    }
}

fn msr_on(ctx: &Context) -> Option<String> {
    let v = ctx
        .model
        .host
        .msr_allow_writes
        .as_deref()?
        .trim()
        .to_ascii_lowercase();
    (v == "on" || v == "y" || v == "1")
        .then(|| format!("MSR writes are allowed on the host (msr allow_writes={v})"))
}

fn kthread_masquerade(ctx: &Context, p: &ProcessRecord, names: &Names) -> Option<String> {
    support::kthread_disguise(ctx, p, names)
        .map(|_| "a user process wears a kernel thread's name".to_owned())
}

fn pool_link(
    ctx: &Context,
    p: &ProcessRecord,
    conns: &std::collections::HashMap<i32, Vec<support::Conn>>,
    hosts: &std::collections::HashMap<String, Vec<String>>,
) -> Option<String> {
    let named = support::named_endpoints(p);
    for c in conns.get(&p.pid).into_iter().flatten() {
        if let Some(d) = hosts
            .get(&c.ip)
            .into_iter()
            .flatten()
            .find_map(|n| support::pool_domain_of(ctx, n))
        {
            return Some(format!(
                "connected to {} which /etc/hosts names as pool domain {d}",
                c.socket.remote
            ));
        }
        if named
            .iter()
            .any(|(h, port)| *h == c.ip && port.is_none_or(|pt| pt == c.port))
        {
            return Some(format!(
                "connected to {}, the pool its own command line names",
                c.socket.remote
            ));
        }
        if ctx.iocs.contains(Kind::PoolPort, &c.port.to_string()) {
            return Some(format!(
                "connected to {} on a mining-pool port",
                c.socket.remote
            ));
        }
    }
    None
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let conns = support::connections_by_pid(model);
    let hosts = support::etc_hosts(model);
    let nproc = model.host.nproc;
    let msr = msr_on(ctx);
    let matcher = ctx.iocs.binary_matcher();
    let mut out = Vec::new();
    let mut any_miner = false;
    for p in &model.processes {
        if support::is_kernel_thread(p) {
            continue;
        }
        let names = Names::of(p);
        let heavy_tool = support::cpu_heavy(ctx, &names);
        let owned = p
            .exe
            .as_ref()
            .is_some_and(|e| support::package_owned(model, e.path.as_bytes()));
        let busy = support::busy(model, p);
        let mut s = Signals {
            cmdline: support::miner_cmdline(ctx, p),
            name: support::name_in(ctx, Kind::MinerName, &names)
                .map(|(n, v)| format!("program name {n:?} is a known miner name ({v})")),
            cpu: busy.map(|c| support::describe_cpu(&c)),
            threads: None,
            place: support::odd_places(ctx, p)
                .iter()
                .map(ToString::to_string)
                .collect(),
            pool: None,
            masquerade: kthread_masquerade(ctx, p, &names),
            msr: msr.clone(),
            code: None,
        };
        if busy.is_some() && nproc >= 2 && p.threads >= i64::from(nproc) {
            s.threads = Some(format!(
                "{} threads on a host with {nproc} cores",
                p.threads
            ));
        }
        s.pool = pool_link(ctx, p, &conns, &hosts);
        // The binary is read only for processes that already show something (bounded cost).
        if s.name.is_some()
            || s.cpu.is_some()
            || s.pool.is_some()
            || s.masquerade.is_some()
            || conns.contains_key(&p.pid)
        {
            s.code = super::miner_binary::quick_miner_code(ctx, p, matcher);
        }
        // A process that mines by its flags, name or code talks to its pool or proxy on any port.
        if s.pool.is_none() && s.miner_specific() {
            s.pool = conns
                .get(&p.pid)
                .into_iter()
                .flatten()
                .find(|c| c.port != 53)
                .map(|c| {
                    format!(
                        "holds an outbound connection to {} (its pool or proxy)",
                        c.socket.remote
                    )
                });
        }
        if s.miner_specific() {
            any_miner = true;
            let score = s.score();
            let severity = support::severity_of(score);
            let mut f = finding(&rules::RUN_001, severity)
                .subject(process_subject(p))
                .evidence(describe_process(p));
            if let Some(x) = exe_subject(model, p) {
                f = f.subject(x);
            }
            for line in s
                .cmdline
                .iter()
                .chain(s.name.iter())
                .chain(s.code.iter())
                .chain(s.cpu.iter())
                .chain(s.threads.iter())
                .chain(s.place.iter())
                .chain(s.pool.iter())
                .chain(s.masquerade.iter())
                .chain(s.msr.iter())
            {
                f = f.evidence(line.clone());
            }
            if owned {
                f = f.evidence("the executable matches its package's digest");
            }
            f = f.evidence(format!("combined score {score}"));
            out.push(f);
        } else if let Some(c) = busy {
            if heavy_tool || owned || p.exe.is_none() {
                continue;
            }
            // Busy alone is low; busy with another weak signal is still only low unless a pool link or a
            // kernel-thread disguise makes it medium.
            let severity = if s.pool.is_some() || s.masquerade.is_some() {
                Severity::Medium
            } else {
                Severity::Low
            };
            let mut f = finding(&rules::RUN_002, severity)
                .subject(process_subject(p))
                .evidence(describe_process(p))
                .evidence(support::describe_cpu(&c));
            if let Some(x) = exe_subject(model, p) {
                f = f.subject(x);
            }
            for line in s
                .threads
                .iter()
                .chain(s.place.iter())
                .chain(s.pool.iter())
                .chain(s.masquerade.iter())
            {
                f = f.evidence(line.clone());
            }
            out.push(f);
        }
    }
    if let Some(f) = host_tuning(ctx, msr, any_miner) {
        out.push(f);
    }
    out
}

/// `MT-RUN-003`: MSR writes enabled (RandomX's MSR mod) and huge pages reserved, weighed by whether a miner
/// process was seen.
fn host_tuning(ctx: &Context, msr: Option<String>, any_miner: bool) -> Option<Finding> {
    let h = &ctx.model.host;
    let pages = (h.hugepages_total > 0).then(|| {
        format!(
            "{} huge pages of {} KiB reserved ({} free)",
            h.hugepages_total, h.hugepage_size_kib, h.hugepages_free
        )
    });
    let severity = match (&msr, &pages, any_miner) {
        (Some(_), _, true) => Severity::Medium,
        (Some(_), _, false) | (None, Some(_), true) => Severity::Low,
        _ => return None,
    };
    let mut f = finding(&rules::RUN_003, severity);
    if msr.is_some() {
        f = f.subject(Subject::KernelModule { name: "msr".into() });
    }
    if pages.is_some() {
        f = f.subject(Subject::File {
            path: minetrace_schemas::RawBytes::from("/proc/sys/vm/nr_hugepages"),
            sha256: None,
        });
    }
    for line in msr.iter().chain(pages.iter()) {
        f = f.evidence(line.clone());
    }
    if any_miner {
        f = f.evidence("a miner process runs on this host");
    }
    Some(f)
}
