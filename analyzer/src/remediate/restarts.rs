//! Restarting a host service the intrusion made load its code (`MT-RUN-037`: a Redis module loaded from
//! `/tmp` with `MODULE LOAD`, a library injected into a daemon). Quarantining the file does not take the
//! code out of the running service: it stays mapped until the service restarts. Restarting it is what the
//! operator must do once the kit's files are gone, and it is never done unasked: a restart interrupts the
//! host's service and cannot be undone. So it is always a review item, listed with its evidence.
//!
//! Which unit to restart comes from the host's own records, never from text the attacker wrote: the
//! process that maps the code is found by the kernel's maps (not by the finding's evidence text), its
//! unit by the kernel's `/proc/PID/cgroup`, and that unit must have a unit file in the bundle's records
//! (searched in systemd's own order of unit directories, `locations::SYSTEMD_UNIT_DIRS`). A unit that is
//! itself the intrusion's (removed by this plan), one whose flagged lines are left to the responder (a
//! restart would run them again), a user's unit and a unit file that is a link are refused: the
//! responder is told why.

use std::collections::{BTreeMap, BTreeSet};

use minetrace_schemas::findings::{FindingsDocument, Role, Subject};
use minetrace_schemas::records::file::FileKind;
use minetrace_schemas::records::process::ProcessRecord;

use super::collect::{Attr, Basis, Collect};
use super::plan::{FileTarget, ProcessTarget};
use super::targets::{add_why, file_target, why_of};
use crate::detect::rules;
use crate::model::HostModel;
use crate::parse::systemd_unit::UNIT_DIRS;

/// Why a restart is never carried out unasked.
pub const NEVER_UNASKED: &str = "a restart of the host's own service interrupts it and cannot be undone: never unasked; name it once the kit's files are removed";

/// A host service to restart: its unit (the name the kernel's cgroup gives it), the unit file the
/// bundle holds for it, and the process that maps the injected code (the restart is done once that
/// process is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub unit: String,
    pub file: FileTarget,
    pub process: ProcessTarget,
}

/// The restarts the `MT-RUN-037` findings at or above `act_at` call for, each with its basis (never
/// attributed: a review item), keyed by unit name. What cannot be restarted safely becomes a note for
/// the responder in `c.manual`. Runs once every file fate is known: the whole files in `c.files`, and
/// `edited`, the files whose flagged lines the plan removes.
pub fn resolve(
    model: &HostModel,
    doc: &FindingsDocument,
    act_at: minetrace_schemas::findings::Severity,
    edited: &BTreeSet<Vec<u8>>,
    c: &mut Collect,
) -> BTreeMap<String, (Restart, Basis)> {
    let mut out: BTreeMap<String, (Restart, Basis)> = BTreeMap::new();
    for f in &doc.findings {
        if f.rule != rules::RUN_037.id || f.severity < act_at {
            continue;
        }
        let why = why_of(f);
        for s in &f.subjects {
            let Subject::File { path, .. } = &s.subject else {
                continue;
            };
            if s.role == Role::Context {
                continue;
            }
            for p in mapping(model, path.as_bytes()) {
                match restart_of(model, doc, act_at, (c, edited), p) {
                    Ok(r) => {
                        let mut basis = Basis::one(&why, &Attr::Review(NEVER_UNASKED.into()));
                        add_why(
                            &mut basis.why,
                            &format!(
                                "pid {} of unit {} maps {}",
                                p.pid,
                                minetrace_schemas::escape_bytes(r.unit.as_bytes()),
                                path.escaped()
                            ),
                        );
                        let e = out
                            .entry(r.unit.clone())
                            .or_insert_with(|| (r, Basis::default()));
                        e.1.merge(&basis);
                    }
                    Err(reason) => c.manual(
                        format!(
                            "restart of the service of pid {} (maps {})",
                            p.pid,
                            path.escaped()
                        ),
                        &reason,
                    ),
                }
            }
        }
    }
    out
}

/// The processes whose executable mappings include `path` (the kernel's maps), never pid 1 or the
/// collector.
fn mapping<'m>(model: &'m HostModel, path: &'m [u8]) -> impl Iterator<Item = &'m ProcessRecord> {
    model.processes.iter().filter(move |p| {
        p.pid > 1
            && !model.host.collector_pids.contains(&p.pid)
            && p.maps
                .iter()
                .any(|m| m.path.as_ref().is_some_and(|x| x.as_bytes() == path))
    })
}

/// The restart of the service process `p` runs in, or why there is none to plan.
fn restart_of(
    model: &HostModel,
    doc: &FindingsDocument,
    act_at: minetrace_schemas::findings::Severity,
    (c, edited): (&Collect, &BTreeSet<Vec<u8>>),
    p: &ProcessRecord,
) -> Result<Restart, String> {
    let unit = cgroup_unit(p).ok_or_else(|| {
        "its cgroup names no system service unit (not started by the system manager, or a user's unit): restart it by hand if it is a service".to_owned()
    })?;
    let rec = unit_file(model, &unit)
        .ok_or("the bundle holds no unit file for its unit: restart it by hand")?;
    if rec.kind != FileKind::Regular {
        return Err("its unit file is a link or not a regular file: restart it by hand".into());
    }
    let file = file_target(rec).map_err(|e| format!("its unit file: {e}"))?;
    let name = String::from_utf8_lossy(&unit).into_owned();
    if c.files.contains_key(rec.path.as_bytes()) {
        return Err(format!(
            "its unit {} is itself the intrusion's and this plan removes it: never restarted",
            minetrace_schemas::escape_bytes(&unit)
        ));
    }
    if edited.contains(rec.path.as_bytes()) {
        return Err(format!(
            "its unit file {} loses flagged lines in this plan (a new file): restart the unit by hand once that edit is done",
            rec.path.escaped()
        ));
    }
    let flagged = flagged_unit_files(doc, act_at, rec.path.as_bytes(), &unit);
    if flagged.iter().any(|f| !edited.contains(f)) {
        return Err(format!(
            "flagged lines of its unit {} (or a drop-in of it) are left to the responder: a restart would run them again; fix them, then restart it by hand",
            minetrace_schemas::escape_bytes(&unit)
        ));
    }
    let exe_sha256 = model.executable_of(p).and_then(|e| e.sha256.clone());
    Ok(Restart {
        unit: name,
        file,
        process: ProcessTarget {
            pid: p.pid,
            start_ticks: p.start_ticks,
            exe_sha256,
            exe_path: p.exe.as_ref().map(|e| e.path.clone()),
            comm: p.comm.clone(),
        },
    })
}

/// The system service unit the kernel's cgroup path of `p` names (`0::/system.slice/redis.service`):
/// slices only, then a name of unit characters ending `.service` (not a container's or a user's
/// manager's unit of the same name).
fn cgroup_unit(p: &ProcessRecord) -> Option<Vec<u8>> {
    p.cgroups.iter().find_map(|line| {
        let raw = line.as_bytes();
        // `ID:CONTROLLERS:PATH`: the path is what follows the second colon.
        let mut parts = raw.splitn(3, |b| *b == b':');
        let path = parts.nth(2)?;
        let comps: Vec<&[u8]> = path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let (last, slices) = comps.split_last()?;
        let last = *last;
        // Slices only, then the unit: a container's unit of the same name (`/lxc.payload.c1/...`,
        // `/machine.slice/libpod-X.scope/...`) or a user's (`user@1000.service/...`) is not the host's.
        if !slices.iter().all(|c| c.ends_with(b".slice")) {
            return None;
        }
        let ok = last.len() > b".service".len()
            && last.ends_with(b".service")
            && !last.starts_with(b"-")
            && last
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(b));
        ok.then(|| last.to_vec())
    })
}

/// The unit file systemd would load for `unit`: the first system unit directory, in systemd's order,
/// whose record holds the name (or, for an instance `name@x.service`, its template `name@.service`).
fn unit_file<'m>(
    model: &'m HostModel,
    unit: &[u8],
) -> Option<&'m minetrace_schemas::records::file::FileRecord> {
    let template = unit.iter().position(|b| *b == b'@').map(|at| {
        let mut t = unit.get(..=at).unwrap_or_default().to_vec();
        t.extend_from_slice(b".service");
        t
    });
    let names: Vec<&[u8]> = std::iter::once(unit).chain(template.as_deref()).collect();
    names.into_iter().find_map(|name| {
        UNIT_DIRS
            .iter()
            .filter(|d| !d.ends_with(b"/user/"))
            .find_map(|d| model.file_aliased(&[*d, name].concat()))
    })
}

/// The unit file and drop-ins of `unit` (`/etc/systemd/system/UNIT.d/*.conf`) that a finding at or above
/// `act_at` names as an artifact.
fn flagged_unit_files(
    doc: &FindingsDocument,
    act_at: minetrace_schemas::findings::Severity,
    file: &[u8],
    unit: &[u8],
) -> Vec<Vec<u8>> {
    let dropin = [b"/", unit, b".d/"].concat();
    let mut out: Vec<Vec<u8>> = Vec::new();
    for f in doc.findings.iter().filter(|f| f.severity >= act_at) {
        for s in f.subjects.iter().filter(|s| s.role != Role::Context) {
            let path = match &s.subject {
                Subject::File { path, .. } | Subject::Persistence { path, .. } => path.as_bytes(),
                _ => continue,
            };
            let ours = path == file || path.windows(dropin.len()).any(|w| w == dropin.as_slice());
            if ours && !out.iter().any(|o| o.as_slice() == path) {
                out.push(path.to_vec());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use minetrace_schemas::findings::Severity;
    use minetrace_schemas::records::process::{Mapping, MappingKind, ProcessRecord};
    use minetrace_schemas::RawBytes;

    use super::NEVER_UNASKED;
    use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
    use crate::detect::rules;
    use crate::model::fixture;
    use crate::remediate::plan::{Action, Gate, Plan};
    use crate::remediate::test_plan::{doc, plan_of};

    const LIB: &[u8] = b"/tmp/exp_lin.so";
    const REDIS_UNIT: &[u8] = b"[Unit]\nDescription=Advanced key-value store\n[Service]\nType=notify\nExecStart=/usr/bin/redis-server /etc/redis/redis.conf --supervised systemd --daemonize no\nUser=redis\n[Install]\nWantedBy=multi-user.target\n";

    /// Redis as systemd runs it (`redis-server` is a link to `redis-check-rdb`), mapping the module the
    /// intrusion loaded (`MODULE LOAD /tmp/exp_lin.so`), in the cgroup `cgroup`.
    fn redis(cgroup: &[u8]) -> ProcessRecord {
        let mut p = fixture::process(
            812,
            1,
            113,
            b"/usr/bin/redis-check-rdb",
            &[b"/usr/bin/redis-server 127.0.0.1:6379"],
        );
        p.maps.push(Mapping {
            start: 0x7f00_0000_0000,
            end: 0x7f00_0001_0000,
            perms: "r-xp".into(),
            offset: 0,
            file: None,
            path: Some(RawBytes::from(LIB)),
            kind: MappingKind::File,
        });
        p.cgroups.push(RawBytes::from(cgroup));
        p
    }

    /// The plan for Redis in `cgroup` with the module flagged by MT-RUN-037 at high, the host's unit
    /// file at `unit_path` holding `unit`, and `more` findings.
    fn plan_for(
        cgroup: &[u8],
        (unit_path, unit): (&[u8], &[u8]),
        more: Vec<minetrace_schemas::findings::Finding>,
    ) -> Plan {
        let model = fixture::model_with_processes(
            vec![
                fixture::file(LIB, Some(b"\x7fELF module")),
                fixture::file(unit_path, Some(unit)),
            ],
            vec![],
            vec![redis(cgroup)],
        );
        let lib = model.file(LIB).expect("record").clone();
        let mut findings = vec![finding(&rules::RUN_037, Severity::High)
            .subject(file_subject(&lib))
            .evidence("the network service redis maps code from a temp or hidden place: see redis.service")];
        findings.extend(more);
        plan_of(model, doc(findings))
    }

    fn restarts(plan: &Plan) -> Vec<(String, Gate)> {
        plan.items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RestartService(r) => Some((r.unit.clone(), i.gate.clone())),
                _ => None,
            })
            .collect()
    }

    fn noted(plan: &Plan, why: &str) -> bool {
        plan.manual
            .iter()
            .any(|m| m.contains("restart of the service of pid 812") && m.contains(why))
    }

    const SYSTEM: &[u8] = b"0::/system.slice/redis-server.service";
    const UNIT: &[u8] = b"/lib/systemd/system/redis-server.service";

    /// Issue 13: the host's Redis keeps running the module the intrusion loaded after the module's file
    /// is quarantined. Its restart is a review item (listed with the finding and the mapping, never
    /// unasked, after the quarantine), the unit named by the kernel's cgroup and found among the
    /// bundle's unit files, never by the finding's text; the script carries it as a `restart` record.
    #[test]
    fn a_service_made_to_load_code_gets_a_restart_review_item() {
        let plan = plan_for(SYSTEM, (UNIT, REDIS_UNIT), vec![]);
        let found = restarts(&plan);
        assert_eq!(found.len(), 1, "{:#?}", plan.items);
        let (unit, gate) = &found[0];
        assert_eq!(unit, "redis-server.service");
        let Gate::Review(numbers) = gate else {
            panic!("a restart is never unasked: {gate:?}");
        };
        let review = plan
            .reviews
            .iter()
            .find(|r| numbers.contains(&r.number))
            .expect("its review item");
        assert!(
            review.reason.iter().any(|r| r == NEVER_UNASKED),
            "{review:?}"
        );
        assert!(
            review.why.iter().any(|w| w.contains("MT-RUN-037"))
                && review
                    .why
                    .iter()
                    .any(|w| w.contains("pid 812") && w.contains("/tmp/exp_lin.so")),
            "{review:?}"
        );
        // After the module's quarantine (unasked: a high finding).
        let at = |want: fn(&Action) -> bool| plan.items.iter().position(|i| want(&i.action));
        let quarantine = at(|a| matches!(a, Action::QuarantineFile { .. })).expect("quarantined");
        let restart = at(|a| matches!(a, Action::RestartService(_))).expect("restart");
        assert!(quarantine < restart);
        assert_eq!(plan.items[quarantine].gate, Gate::Apply);
        let data = crate::remediate::script::data_block(&plan);
        assert!(
            data.contains(&format!(" {} ", hex::encode("restart")))
                && data.contains(&hex::encode("redis-server.service")),
            "{data}"
        );
    }

    /// A unit that is itself the intrusion's (removed by the plan), one whose flagged line is left to
    /// the responder, a process no system unit runs (no cgroup, a user's manager, a name that is no unit
    /// name) and a unit the bundle holds no file for: no restart, a note saying why.
    #[test]
    fn no_restart_for_a_kit_unit_a_unit_left_by_hand_or_a_unit_the_host_has_no_record_of() {
        let kit_unit = b"[Service]\nExecStart=/usr/bin/redis-server --loadmodule /tmp/exp_lin.so\nRestart=always\n";
        let path = RawBytes::from(UNIT);
        let removed =
            finding(&rules::PER_010, Severity::Critical).subject(persistence_subject(&path, 0));
        let plan = plan_for(SYSTEM, (UNIT, kit_unit), vec![removed]);
        assert!(restarts(&plan).is_empty(), "{:#?}", plan.items);
        assert!(noted(&plan, "itself the intrusion's"), "{:?}", plan.manual);

        // The host's unit with its start line rewritten: by hand, so a restart would run it again.
        let rewritten = b"[Service]\nExecStart=/bin/sh -c '/tmp/.x/run & exec /usr/bin/redis-server /etc/redis/redis.conf'\nUser=redis\n";
        let by_hand =
            finding(&rules::PER_010, Severity::Critical).subject(persistence_subject(&path, 2));
        let plan = plan_for(SYSTEM, (UNIT, rewritten), vec![by_hand]);
        assert!(restarts(&plan).is_empty(), "{:#?}", plan.items);
        assert!(noted(&plan, "left to the responder"), "{:?}", plan.manual);

        for cgroup in [
            &b""[..],
            b"0::/user.slice/user-1000.slice/user@1000.service/app.slice/redis-server.service",
            b"0::/system.slice/$(curl x|sh).service",
            // A container's Redis (review of train 2, item 8): not the host's unit of that name.
            b"0::/lxc.payload.c1/system.slice/redis-server.service",
            b"0::/machine.slice/libpod-4f2a.scope/container/system.slice/redis-server.service",
        ] {
            let plan = plan_for(cgroup, (UNIT, REDIS_UNIT), vec![]);
            assert!(restarts(&plan).is_empty(), "{:#?}", plan.items);
            assert!(
                noted(&plan, "names no system service unit"),
                "{:?}",
                plan.manual
            );
        }
        let plan = plan_for(
            SYSTEM,
            (b"/etc/redis/redis-server.service", REDIS_UNIT),
            vec![],
        );
        assert!(restarts(&plan).is_empty(), "{:#?}", plan.items);
        assert!(noted(&plan, "no unit file"), "{:?}", plan.manual);
    }

    /// An instance (`redis-server@main.service`) is found through its template's file.
    #[test]
    fn an_instance_restarts_through_its_template_file() {
        let plan = plan_for(
            b"0::/system.slice/system-redis\\x2dserver.slice/redis-server@main.service",
            (b"/lib/systemd/system/redis-server@.service", REDIS_UNIT),
            vec![],
        );
        let found = restarts(&plan);
        assert_eq!(
            found.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
            vec!["redis-server@main.service"],
            "{:?}",
            plan.manual
        );
    }
}
