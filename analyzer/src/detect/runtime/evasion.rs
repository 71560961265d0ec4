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
use minetrace_schemas::locations::ld_preload_list;

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

/// `MT-RUN-044`: `LD_PRELOAD` in process environments, one finding per distinct value (and per kind of
/// process: those that see the host's files, and containers' or chroots' that name their own,
/// [`support::sees_host_files`]). Each library is judged as an `/etc/ld.so.preload` entry is
/// ([`support::judge_preload`]: family marker, package, name, place), but what one process's environment
/// preloads is narrower than a system-wide hook, so without evidence in the library itself
/// ([`support::PreloadJudgement::intrinsic`]: a family's marker, a hider's name, a temp, hidden,
/// shared-memory or configuration drop place, a packaged file whose bytes differ) the value is at most
/// medium — a library in a home, or owned by the non-root account that runs it, is a user's own build as
/// often as a drop (conda's jemalloc, libfaketime, an HPC profiler) and alone stays a review item — a review item, and the library a context subject, never an artifact; a container's library
/// with no such evidence is low (the host cannot vouch for it either way). With such evidence the library
/// is an artifact at its own severity (high, critical for a family's). A proxy preload (graftcp,
/// proxychains: `MT-RUN-022` judges its traffic) with no such evidence is info.
fn preloads(ctx: &Context) -> Vec<Finding> {
    type Carriers<'a> = Vec<&'a minetrace_schemas::records::process::ProcessRecord>;
    let mut by_value: BTreeMap<(Vec<u8>, bool), Carriers> = BTreeMap::new();
    for p in &ctx.model.processes {
        if let Some(v) =
            support::env_value(p, b"LD_PRELOAD").filter(|v| !v.iter().all(u8::is_ascii_whitespace))
        {
            let host_files = support::sees_host_files(ctx.model, p);
            by_value
                .entry((v.to_vec(), host_files))
                .or_default()
                .push(p);
        }
    }
    let mut out = Vec::new();
    for ((value, host_files), procs) in by_value.into_iter().take(1000) {
        let l = support::lower(&value);
        let libs: Vec<&[u8]> = ld_preload_list(&value).take(64).collect();
        let proxy = ctx.iocs.find_in(Kind::ProxyPreload, &l).is_some();
        let mut f = finding(&rules::RUN_044, Severity::Info).evidence(format!(
            "LD_PRELOAD={}",
            minetrace_schemas::escape_bytes(&value)
        ));
        if !host_files {
            f = f.evidence(
                "carried by processes in a container or chroot: their paths name their own files, judged by the path alone",
            );
        }
        let mut worst = Severity::Info;
        let mut family = None;
        for lib in &libs {
            let j = support::judge_preload_in(ctx, lib, host_files);
            let record = ctx.model.file(lib).filter(|_| host_files);
            let owned_by_runner = record
                .is_some_and(|r| procs.iter().any(|p| p.uid.real != 0 && p.uid.real == r.uid));
            let intrinsic = j.intrinsic();
            let severity = if intrinsic {
                j.severity
            } else if proxy {
                Severity::Info
            } else if host_files {
                j.severity.min(Severity::Medium)
            } else {
                Severity::Low
            };
            worst = worst.max(severity);
            family = family.or_else(|| j.family.clone());
            let role = if intrinsic {
                Role::Artifact
            } else {
                Role::Context
            };
            f = f
                .subject_as(
                    Subject::File {
                        path: RawBytes::from(*lib),
                        sha256: record.and_then(|r| r.sha256.clone()),
                    },
                    role,
                )
                .evidence(format!(
                    "preloaded library {}",
                    minetrace_schemas::escape_bytes(lib)
                ));
            for line in j.lines(lib) {
                f = f.evidence(line);
            }
            if owned_by_runner {
                f = f.evidence(
                    "the library is owned by the non-root account that runs it: its own drop or its own build",
                );
            }
            if !intrinsic && !proxy && severity > Severity::Low {
                f = f.evidence("nothing in the library itself shows an intrusion (no family marker, hider's name, drop place or altered package file): a review item, the library left in place");
            }
        }
        f.severity = worst;
        f = f.family(family);
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
    use minetrace_schemas::records::process::{EnvVar, ProcessRecord};

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
        // Review of train 2, item 7: a home is no evidence in the library itself for one process's
        // environment (a user's own build), but odd for the system-wide hook.
        assert_eq!(in_env(libs[3]), Some(Severity::Medium));
        assert!(in_file(libs[3]) >= Some(Severity::High));
        assert!(
            in_env(libs[5]) >= Some(Severity::High),
            "tampered package file"
        );
        // Review of train 1, item 2: one process's environment is narrower than the system-wide hook:
        // an unvouched library with nothing against it is a review item there (high in ld.so.preload).
        assert_eq!(in_env(libs[4]), Some(Severity::Medium));
        assert_eq!(in_file(libs[4]), Some(Severity::High));
        for lib in libs.iter().filter(|l| **l != libs[4] && **l != libs[3]) {
            assert_eq!(
                in_env(lib),
                in_file(lib),
                "{}",
                String::from_utf8_lossy(lib)
            );
        }
    }

    /// The `MT-RUN-044` findings of a model.
    fn preloads_of(model: &crate::model::HostModel) -> Vec<Finding> {
        let iocs = Indicators::builtin();
        preloads(&Context { model, iocs: &iocs })
    }

    /// The finding of the `LD_PRELOAD` value that is exactly `lib`.
    fn value_finding(found: &[Finding], lib: &[u8]) -> Option<Finding> {
        found
            .iter()
            .find(|f| {
                f.evidence
                    .first()
                    .is_some_and(|e| e.as_bytes() == [&b"LD_PRELOAD="[..], lib].concat())
            })
            .cloned()
    }

    /// Whether every library of a finding is a context subject.
    fn libraries_are_context(f: &Finding) -> bool {
        f.subjects
            .iter()
            .filter(|s| matches!(s.subject, Subject::File { .. }))
            .all(|s| s.role == Role::Context)
    }

    /// A process with `LD_PRELOAD` of `lib`, run by `uid`, in mount namespace `mnt`.
    fn carrier(pid: i32, uid: u32, lib: &[u8], mnt: u64) -> ProcessRecord {
        let mut p = fixture::process(
            pid,
            1,
            uid,
            b"/usr/bin/java",
            &[b"java", b"-jar", b"app.jar"],
        );
        p.env.push(EnvVar {
            name: RawBytes::from(&b"LD_PRELOAD"[..]),
            value: Some(RawBytes::from(lib)),
        });
        p.namespaces
            .push(minetrace_schemas::records::process::NamespaceRef {
                kind: "mnt".into(),
                inode: mnt,
            });
        p
    }

    /// Review of train 1, item 2: an APM agent's library no package vouches for, preloaded into one
    /// service, is a review item: the library context, the plan acting on nothing unasked (it froze,
    /// killed and quarantined before). A container's library is judged by its path only (low); the same
    /// kind of library owned by the account that runs it is still a review item; with a hider's name it
    /// is the intrusion's.
    #[test]
    fn an_unvouched_preload_in_one_service_is_a_review_item_never_a_kill() {
        let build = || {
            let mut init = fixture::process(1, 0, 0, b"/usr/lib/systemd/systemd", &[b"/sbin/init"]);
            init.namespaces
                .push(minetrace_schemas::records::process::NamespaceRef {
                    kind: "mnt".into(),
                    inode: 4026531841,
                });
            let procs: Vec<ProcessRecord> = vec![
                init,
                carrier(100, 998, b"/opt/apm/lib/libagent.so", 4026531841),
                carrier(200, 0, b"/opt/vendor/lib/libcore.so", 4026532777),
                carrier(300, 1001, b"/opt/app/lib/libx.so", 4026531841),
                carrier(400, 998, b"/opt/apm/lib/libprocesshider.so", 4026531841),
            ];
            let mut mine = fixture::file(b"/opt/app/lib/libx.so", Some(b"\x7fELF"));
            mine.0.uid = 1001;
            fixture::model_with_processes(
                vec![
                    fixture::file(b"/opt/apm/lib/libagent.so", Some(b"\x7fELF")),
                    mine,
                ],
                vec![],
                procs,
            )
        };
        let found = preloads_of(&build());
        let of = |lib: &[u8]| value_finding(&found, lib);
        let agent = of(b"/opt/apm/lib/libagent.so").expect("a finding for the agent");
        assert_eq!(agent.severity, Severity::Medium, "{agent:#?}");
        assert!(libraries_are_context(&agent));
        assert_eq!(
            of(b"/opt/vendor/lib/libcore.so").map(|f| f.severity),
            Some(Severity::Low),
            "a container's library"
        );
        // Review of train 2, item 7: owned by the account that runs it is a user's own build as often
        // as a drop: a review item alone.
        assert_eq!(
            of(b"/opt/app/lib/libx.so").map(|f| f.severity),
            Some(Severity::Medium)
        );
        assert!(
            of(b"/opt/apm/lib/libprocesshider.so").is_some_and(|f| f.severity >= Severity::High)
        );
        // The plan for the agent alone acts on nothing unless the operator asks.
        let plan = crate::remediate::test_plan::plan_of(
            build(),
            crate::remediate::test_plan::doc(vec![agent]),
        );
        assert!(plan.applies_nothing_unasked(), "{:#?}", plan.items);
    }

    /// Review of train 2, item 7: a user's own allocator under their home, owned by them and preloaded
    /// into their own python, is a review item — medium, the library and the process context, a plan
    /// that kills and quarantines nothing unasked; a hider's library in a hidden temp directory, run by
    /// the same user, stays high with the library an artifact.
    #[test]
    fn a_users_own_library_in_their_home_is_a_review_item_a_hidden_hider_is_not() {
        let conda: &[u8] = b"/home/ana/miniconda3/lib/libjemalloc.so.2";
        let hider: &[u8] = b"/tmp/.x/libprocesshider.so";
        let build = || {
            let python = |pid: i32, lib: &[u8]| {
                let mut p = fixture::process(
                    pid,
                    1,
                    1000,
                    b"/home/ana/miniconda3/bin/python3.11",
                    &[b"python", b"train.py"],
                );
                p.env.push(EnvVar {
                    name: RawBytes::from(&b"LD_PRELOAD"[..]),
                    value: Some(RawBytes::from(lib)),
                });
                p
            };
            let mut mine = fixture::file(conda, Some(b"\x7fELF"));
            mine.0.uid = 1000;
            let mut hidden = fixture::file(hider, Some(b"\x7fELF"));
            hidden.0.uid = 1000;
            fixture::model_with_processes(
                vec![mine, hidden],
                vec![],
                vec![python(100, conda), python(200, hider)],
            )
        };
        let found = preloads_of(&build());
        let of = |lib: &[u8]| value_finding(&found, lib);
        let own = of(conda).expect("a finding for the conda library");
        assert_eq!(own.severity, Severity::Medium, "{own:#?}");
        assert!(libraries_are_context(&own));
        let hidden = of(hider).expect("a finding for the hider");
        assert!(hidden.severity >= Severity::High, "{hidden:#?}");
        assert!(hidden
            .subjects
            .iter()
            .any(|s| matches!(s.subject, Subject::File { .. }) && s.role == Role::Artifact));
        let plan = crate::remediate::test_plan::plan_of(
            build(),
            crate::remediate::test_plan::doc(vec![own]),
        );
        assert!(plan.applies_nothing_unasked(), "{:#?}", plan.items);
    }
}
