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
use crate::indicators::Kind;
use crate::model::persistence::preload_libraries;

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

/// `MT-RUN-044`: `LD_PRELOAD` in process environments, one finding per distinct value. Each library is
/// judged as an `/etc/ld.so.preload` entry is ([`support::judge_preload`]: its family marker, package,
/// name and place), and the value takes its worst library's severity: low when packages vouch for every
/// library, medium for an unowned preload tool's name in a library directory, high for an unowned
/// library, a hider's name or a drop place, critical for a family's. A proxy preload (graftcp,
/// proxychains: `MT-RUN-022` judges its traffic) is info unless a library bears a hider's name or sits
/// in a drop place.
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
        let libs: Vec<&[u8]> = preload_libraries(&value).take(64).collect();
        let judged: Vec<support::PreloadJudgement> = libs
            .iter()
            .map(|lib| support::judge_preload(ctx, lib))
            .collect();
        let worst = judged
            .iter()
            .map(|j| j.severity)
            .max()
            .unwrap_or(Severity::Low);
        let proxy = ctx.iocs.find_in(Kind::ProxyPreload, &l).is_some();
        let hiding_or_dropped = judged
            .iter()
            .any(|j| j.path.hider.is_some() || j.path.dropped || j.family.is_some());
        let severity = if proxy && !hiding_or_dropped {
            Severity::Info
        } else {
            worst
        };
        let mut f = finding(&rules::RUN_044, severity).evidence(format!(
            "LD_PRELOAD={}",
            minetrace_schemas::escape_bytes(&value)
        ));
        let family = judged.iter().find_map(|j| j.family.clone());
        f = f.family(family);
        for (lib, j) in libs.iter().zip(&judged) {
            f = f.subject(Subject::File {
                path: RawBytes::from(*lib),
                sha256: ctx.model.file(lib).and_then(|r| r.sha256.clone()),
            });
            f = f.evidence(format!(
                "preloaded library {}",
                minetrace_schemas::escape_bytes(lib)
            ));
            for line in j.lines(lib) {
                f = f.evidence(line);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use minetrace_schemas::records::package::PackageVerdict;
    use minetrace_schemas::records::process::EnvVar;

    /// Review of train 2, item 6: a library in a process's `LD_PRELOAD` is what it is in
    /// `/etc/ld.so.preload` (one judgement, `support::judge_preload`): a tool's *name* no longer makes an
    /// unowned library in a configuration directory info, and a packaged one stays below medium.
    #[test]
    fn a_preloaded_library_is_judged_alike_wherever_it_is_preloaded_from() {
        let libs: [&[u8]; 6] = [
            b"/etc/data/libjemalloc.so", // a tool's name where kits are dropped
            b"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", // its package vouches for it
            b"/usr/local/lib/libsnoopy.so", // unowned, a tool's name in a library dir
            b"/home/app/lib/libsnoopy.so", // a tool's name in a home
            b"/usr/local/lib/libnetfix.so", // unowned, no tool's name
            b"/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", // a tool's name, its package's bytes differ
        ];
        let mut jemalloc = fixture::not_owned(libs[1], "preload");
        jemalloc.verdict = PackageVerdict::Match;
        jemalloc.package = Some("libjemalloc2".into());
        let mut tcmalloc = fixture::not_owned(libs[5], "preload");
        tcmalloc.verdict = PackageVerdict::Mismatch;
        tcmalloc.package = Some("libgoogle-perftools4".into());
        let procs = libs
            .iter()
            .enumerate()
            .map(|(i, lib)| {
                let mut p = fixture::process(
                    100 + i as i32,
                    1,
                    1000,
                    b"/usr/bin/ruby",
                    &[b"ruby", b"app.rb"],
                );
                p.env.push(EnvVar {
                    name: RawBytes::from(&b"LD_PRELOAD"[..]),
                    value: Some(RawBytes::from(*lib)),
                });
                p
            })
            .collect();
        let preload: Vec<u8> = libs.join(&b"\n"[..]);
        let model = fixture::model_with_processes(
            vec![fixture::file(b"/etc/ld.so.preload", Some(&preload))],
            vec![jemalloc, tcmalloc],
            procs,
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let env = preloads(&ctx);
        let file = crate::detect::footholds::preload::detect(&ctx);
        let in_env = |lib: &[u8]| {
            env.iter()
                .find(|f| {
                    f.evidence
                        .first()
                        .is_some_and(|e| e.as_bytes() == [&b"LD_PRELOAD="[..], lib].concat())
                })
                .map(|f| f.severity)
        };
        let in_file = |lib: &[u8]| {
            let want = format!("preloaded library {}", minetrace_schemas::escape_bytes(lib));
            file.iter()
                .find(|f| f.evidence.contains(&want))
                .map(|f| f.severity)
        };
        assert!(in_env(libs[0]) >= Some(Severity::Medium), "{env:#?}");
        assert!(
            in_env(libs[1]).is_some_and(|s| s < Severity::Medium),
            "{env:#?}"
        );
        assert_eq!(in_env(libs[2]), Some(Severity::Medium));
        assert!(in_env(libs[3]) >= Some(Severity::High));
        assert!(
            in_env(libs[5]) >= Some(Severity::High),
            "tampered package file"
        );
        for lib in libs {
            assert_eq!(
                in_env(lib),
                in_file(lib),
                "{}",
                String::from_utf8_lossy(lib)
            );
        }
    }
}
