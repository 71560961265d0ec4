//! Runtime defence evasion: processes hidden from `/proc` listings (getdents hooks, bind mounts over
//! `/proc/PID`), CPU use the visible processes cannot explain, out-of-tree or unsigned kernel modules, and
//! `LD_PRELOAD` in process environments. (`/etc/ld.so.preload` itself is a persistence file, judged in
//! `footholds`.)
//!
//! Rules: `MT-RUN-040` hidden process, `MT-RUN-041` bind mount over `/proc/PID`, `MT-RUN-042` CPU use the
//! visible processes cannot explain, `MT-RUN-043` tainted kernel module, `MT-RUN-044` `LD_PRELOAD` in a
//! process environment.

use std::collections::BTreeMap;

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::host::CollectionMode;
use minetrace_schemas::RawBytes;

use super::support;
use crate::detect::finding::{describe_process, finding, process_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::{Kind, PathClass};

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(hidden_pids(ctx));
    out.extend(bind_mounts(ctx));
    out.extend(preloads(ctx));
    let hiding = out.iter().any(|f| f.severity >= Severity::High);
    out.extend(modules(ctx));
    let module_hiding = out
        .iter()
        .any(|f| f.rule == rules::RUN_043.id && f.severity >= Severity::Medium);
    out.extend(cpu_gap(ctx, hiding || module_hiding));
    out
}

/// `MT-RUN-040`: pids the kernel answers for but the `/proc` listing left out. High.
fn hidden_pids(ctx: &Context) -> Vec<Finding> {
    ctx.model
        .host
        .hidden_pids
        .iter()
        .take(1000)
        .map(|h| {
            let subject = ctx.model.process(h.pid).map_or(
                Subject::Process {
                    pid: h.pid,
                    start_ticks: 0,
                    exe: None,
                },
                process_subject,
            );
            let mut f = finding(&rules::RUN_040, Severity::High)
                .subject(subject)
                .evidence(format!(
                    "pid {} answers but readdir(/proc) did not list it: {}",
                    h.pid,
                    RawBytes::from(h.reason.as_str()).escaped()
                ));
            if let Some(p) = ctx.model.process(h.pid) {
                f = f.evidence(describe_process(p));
            } else {
                f = f.evidence("its start time and executable were not captured");
            }
            f
        })
        .collect()
}

/// `MT-RUN-041`: a mount whose mount point is `/proc/<pid>`: the classic way to hide a process from ps
/// without a rootkit. High.
fn bind_mounts(ctx: &Context) -> Vec<Finding> {
    ctx.model
        .host
        .proc_bind_mounts
        .iter()
        .take(1000)
        .map(|line| {
            let pid = line
                .as_bytes()
                .split(|b| *b == b' ')
                .filter_map(|w| w.strip_prefix(b"/proc/"))
                .find_map(|rest| std::str::from_utf8(rest).ok()?.parse::<i32>().ok());
            let mut f = finding(&rules::RUN_041, Severity::High)
                .evidence(format!("mountinfo: {}", line.escaped()));
            if let Some(pid) = pid {
                f = f.subject(ctx.model.process(pid).map_or(
                    Subject::Process {
                        pid,
                        start_ticks: 0,
                        exe: None,
                    },
                    process_subject,
                ));
            }
            f
        })
        .collect()
}

/// `MT-RUN-042`: the host's CPU counters show more work than the visible processes did, and the load says
/// something runs now that no visible process explains. Low alone (exited processes and build bursts
/// explain much); medium alongside other hiding (hidden pids, bind mounts, preloads, rootkit modules).
fn cpu_gap(ctx: &Context, other_hiding: bool) -> Option<Finding> {
    let model = ctx.model;
    let h = &model.host;
    if h.mode == CollectionMode::DeadBox
        || h.clock_ticks_per_sec == 0
        || h.uptime_secs <= 60.0
        || model.processes.is_empty()
    {
        return None;
    }
    let hz = h.clock_ticks_per_sec as f64;
    let t = &h.cpu_totals;
    let total = t.user.saturating_add(t.nice).saturating_add(t.system) as f64 / hz;
    let visible: f64 = model
        .processes
        .iter()
        .map(|p| p.utime_ticks.saturating_add(p.stime_ticks) as f64 / hz)
        .sum();
    let gap_cores = (total - visible) / h.uptime_secs;
    let running = model
        .processes
        .iter()
        .filter(|p| p.state.starts_with('R'))
        .count() as f64;
    let busy_now: f64 = model
        .processes
        .iter()
        .filter_map(|p| support::busy(model, p))
        .map(|c| c.share)
        // A fold from +0.0: `sum` of no floats is -0.0, printed as "-0.00 cores".
        .fold(0.0, |a, b| a + b);
    // The collector itself was running while the load was sampled.
    let explained = running.max(busy_now) + 1.0;
    let load = h.loadavg[0];
    if !(gap_cores >= 0.25 && load - explained >= 1.0) {
        return None;
    }
    let severity = if other_hiding {
        Severity::Medium
    } else {
        Severity::Low
    };
    Some(
        finding(&rules::RUN_042, severity)
            .subject_as(
                Subject::File {
                    path: RawBytes::from("/proc/stat"),
                    sha256: None,
                },
                Role::Context,
            )
            .evidence(format!(
                "/proc/stat counts {total:.0} s of user+system CPU since boot; visible processes account for {visible:.0} s ({gap_cores:.2} cores on average unexplained over {:.0} s uptime)",
                h.uptime_secs
            ))
            .evidence(format!(
                "1-minute load {load:.2} against {running:.0} visible running processes and {busy_now:.2} cores of busy visible processes"
            )),
    )
}

/// `MT-RUN-043`: kernel modules tainted out-of-tree (`O`) or unsigned (`E`). Critical for a known rootkit
/// name; info for well-known vendor modules (nvidia, zfs, virtualbox); low otherwise.
fn modules(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in ctx.model.host.kernel_modules.iter().take(10_000) {
        let name = m.name.to_ascii_lowercase();
        let rootkit = ctx.iocs.contains(Kind::RootkitModule, &name);
        let taint = m.taint.trim_matches(['(', ')']);
        let tainted = taint.contains('O') || taint.contains('E');
        if !tainted && !rootkit {
            continue;
        }
        let vendor = ctx
            .iocs
            .set(Kind::VendorModule)
            .any(|v| name == v || name.starts_with(&format!("{v}_")));
        let severity = if rootkit {
            Severity::Critical
        } else if vendor {
            Severity::Info
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::RUN_043, severity)
            .subject(Subject::KernelModule {
                name: m.name.clone(),
            })
            .evidence(format!(
                "module {} taint {} size {} state {}",
                RawBytes::from(m.name.as_str()).escaped(),
                m.taint,
                m.size,
                RawBytes::from(m.state.as_str()).escaped()
            ));
        if taint.contains('O') {
            f = f.evidence("O: built out of the kernel tree");
        }
        if taint.contains('E') {
            f = f.evidence("E: not signed");
        }
        if rootkit {
            f = f.evidence("the name is that of a known miner rootkit module");
        } else if vendor {
            f = f.evidence("a well-known vendor or DKMS module");
        }
        out.push(f);
    }
    out
}

/// `MT-RUN-044`: `LD_PRELOAD` in process environments, one finding per distinct value. High for a known
/// hiding library or a library in a temp or hidden place; info for allocators and test helpers; low else.
/// (Proxy preloads are `MT-RUN-022`'s.)
fn preloads(ctx: &Context) -> Vec<Finding> {
    let mut by_value: BTreeMap<Vec<u8>, Vec<&minetrace_schemas::records::process::ProcessRecord>> =
        BTreeMap::new();
    for p in &ctx.model.processes {
        if let Some(v) =
            support::env_value(p, b"LD_PRELOAD").filter(|v| !v.iter().all(u8::is_ascii_whitespace))
        {
            by_value.entry(v.to_vec()).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    for (value, procs) in by_value.into_iter().take(1000) {
        let l = support::lower(&value);
        let libs: Vec<&[u8]> = value
            .split(|b| *b == b':' || *b == b' ')
            .filter(|s| !s.is_empty())
            .collect();
        let judged: Vec<support::PreloadLib> = libs
            .iter()
            .map(|lib| support::PreloadLib::of(ctx, lib))
            .collect();
        let bad = judged.iter().find_map(|j| j.hider.clone());
        let odd = libs
            .iter()
            .any(|lib| support::under(ctx, PathClass::KitProne, lib));
        let benign = !judged.is_empty() && judged.iter().all(|j| j.tool.is_some());
        let proxy = ctx.iocs.find_in(Kind::ProxyPreload, &l).is_some();
        let severity = if bad.is_some() || odd {
            Severity::High
        } else if benign || proxy {
            Severity::Info
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::RUN_044, severity).evidence(format!(
            "LD_PRELOAD={}",
            minetrace_schemas::escape_bytes(&value)
        ));
        for lib in &libs {
            f = f.subject(Subject::File {
                path: RawBytes::from(*lib),
                sha256: ctx.model.file(lib).and_then(|r| r.sha256.clone()),
            });
        }
        if let Some(b) = bad {
            f = f.evidence(format!("{b} is a known process-hiding library"));
        }
        if odd {
            f = f.evidence("a preloaded library sits in a temp or hidden place");
        }
        if proxy {
            f = f.evidence("a proxy preload (see MT-RUN-022)");
        }
        f = f.evidence(format!("{} processes carry it", procs.len()));
        for p in procs.iter().take(20) {
            f = f.subject(process_subject(p)).evidence(describe_process(p));
        }
        out.push(f);
    }
    out
}
