//! Files of a known malware kit at rest (`MT-EVA-050`, T1105; T1564.001 when hidden): any recorded
//! regular file whose path is a family `path` marker (`/tmp/.X25-unix/...`, `/tmp/.xdiag/...`) or whose
//! name matches a family `name` marker (`dota3.tar.gz`, see [`markers::name_marker_matches`]). Archives,
//! state files and tools of a kit are what the collector finds beside (or instead of) its running miner.
//!
//! Persistence locations (crontabs, units, rc and profile files, `ld.so.preload`, key files) are left to
//! their own detectors, which report the marker on the line that runs.
//!
//! Severity follows what the file can do and how specifically the marker names it: executables and
//! locked files high; a file a `name` marker names (`dota3.tar.gz`) medium; other data in a kit's
//! directory (a `path` marker only: state and log files) low. Look-alikes: an empty file (≤ 2 bytes) in a
//! kit's place is a "vaccine" or a rival's squat: low, and attributed to no family. A file its package installed (digest matches or
//! the package records none) is not reported.

use minetrace_schemas::findings::{Finding, Severity};
use minetrace_schemas::records::package::PackageVerdict;

use super::common::{self, describe_file};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::{markers, Context};
use crate::indicators::MarkerKind;
use crate::parse::basename;

/// Files the persistence, loader and SSH detectors read line by line: a family marker on them is
/// reported there, on the line that runs.
fn is_persistence_location(path: &[u8]) -> bool {
    common::is_run_by_line_path(path) || super::ssh_keys::is_authorized_keys(path)
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in ctx.model.regular_files() {
        let path = f.path.as_bytes();
        if is_persistence_location(path) {
            continue;
        }
        // A name marker names the artifact itself; a path marker only the place (a kit's directory).
        // A weak marker (an ordinary word: `sysupdate.sh`) names a kit's file only in a drop place.
        let by_name = ctx.iocs.family_markers.iter().find(|m| {
            m.kind == MarkerKind::Name
                && markers::name_marker_matches(&m.value, basename(path))
                && markers::marker_counts(ctx.iocs, m, path)
        });
        let by_path = ctx.iocs.family_markers.iter().find(|m| {
            m.kind == MarkerKind::Path
                && markers::path_marker_matches(&m.value, path)
                && markers::marker_counts(ctx.iocs, m, path)
        });
        let Some(m) = by_name.or(by_path) else {
            continue;
        };
        let packaged = ctx
            .model
            .package_check(path)
            .is_some_and(|c| matches!(c.verdict, PackageVerdict::Match | PackageVerdict::NoDigest));
        if packaged {
            continue;
        }
        let executable = common::looks_executable(ctx.model, f);
        let locked = f.immutable || f.append_only;
        let vaccine = common::is_placeholder(f);
        let (severity, why) = if vaccine {
            (
                Severity::Low,
                "an empty placeholder: a \"vaccine\" against reinfection or a rival's squat file",
            )
        } else if executable || locked {
            (Severity::High, "an executable or locked file of the kit")
        } else if by_name.is_some() {
            (
                Severity::Medium,
                "a file the kit is known by (its archive, dropper or configuration)",
            )
        } else {
            (
                Severity::Low,
                "data left in the kit's directory (state, logs): it cannot run by itself",
            )
        };
        let what = if m.kind == MarkerKind::Path {
            "path"
        } else {
            "name"
        };
        out.push(
            finding(&rules::EVA_050, severity)
                .subject(file_subject(f))
                .evidence(format!(
                    "{} {what} matches {} marker {} {}",
                    f.path.escaped(),
                    m.family,
                    m.kind,
                    m.value
                ))
                .evidence(why)
                .evidence(format!("file: {}", describe_file(f)))
                // A vaccine names the family's place, it is not the family's file: no attribution.
                .family((!vaccine).then(|| m.family.clone())),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    #[test]
    fn kit_files_by_path_and_name_with_vaccines_low() {
        let mut exe = fixture::file(b"/tmp/.xdiag/tool", Some(b"\x7fELF...."));
        exe.0.mode = 0o755;
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/tmp/.X25-unix/dota3.tar.gz",
                    Some(b"\x1f\x8b\x08\x00 archive"),
                ),
                fixture::file(b"/var/tmp/dota3.tar.gz", Some(b"\x1f\x8b\x08\x00 archive")),
                fixture::file(b"/tmp/kdevtmpfsi", Some(b"")),
                fixture::file(b"/tmp/.xdiag/hlc", Some(b"\x0bN,\x11\xa0\xff")),
                exe,
                fixture::file(b"/tmp/notes.txt", Some(b"dota3 kdevtmpfsi")),
                fixture::file(
                    b"/etc/systemd/system/systemd-sysupdate.service",
                    Some(b"[Unit]"),
                ),
                // WatchDog's names are ordinary words: an admin's update script is not the kit's ...
                fixture::file(
                    b"/usr/local/sbin/sysupdate.sh",
                    Some(b"#!/bin/sh\napt-get update && apt-get -y upgrade\n"),
                ),
                // ... the same word in a drop place is.
                fixture::file(b"/tmp/sysupdate", Some(b"\x7fELF....")),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let found: Vec<(String, Severity)> = detect(&ctx)
            .into_iter()
            .map(|f| (f.evidence[0].clone(), f.severity))
            .collect();
        let sev = |p: &str| {
            found
                .iter()
                .find(|(e, _)| e.starts_with(&format!("{p} ")))
                .map(|(_, s)| *s)
        };
        assert_eq!(
            sev("/tmp/.X25-unix/dota3.tar.gz"),
            Some(Severity::Medium),
            "{found:?}"
        );
        assert_eq!(
            sev("/var/tmp/dota3.tar.gz"),
            Some(Severity::Medium),
            "{found:?}"
        );
        assert_eq!(sev("/tmp/kdevtmpfsi"), Some(Severity::Low), "{found:?}");
        assert_eq!(sev("/tmp/.xdiag/tool"), Some(Severity::High), "{found:?}");
        assert_eq!(sev("/tmp/.xdiag/hlc"), Some(Severity::Low), "{found:?}");
        assert_eq!(sev("/usr/local/sbin/sysupdate.sh"), None, "{found:?}");
        assert_eq!(sev("/tmp/sysupdate"), Some(Severity::High), "{found:?}");
        assert_eq!(found.len(), 6, "{found:?}");
    }
}
