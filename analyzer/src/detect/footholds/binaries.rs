//! System binaries tampered with at rest, from the collector's package checks:
//! - `MT-EVA-020` a binary whose digest differs from the one its package recorded (T1554, T1036.005):
//!   high for the tools miners replace (`ps`, `top`, `netstat`, `crontab`, `chattr`, ... —
//!   `replaced_target`), medium for other running executables; a script where an ELF belongs is high.
//! - `MT-EVA-021` `chattr` renamed (T1222.002, T1036.003): another file or running executable with
//!   chattr's exact hash under another name (`tntrecht`), or chattr missing from the package's path (the
//!   collector's `packaged-missing` check; when a file there has its digest, the tool was moved and that
//!   is MT-EVA-024's).

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::package::{PackageCheck, PackageVerdict};
use minetrace_schemas::RawBytes;

use super::common::describe_file;
use crate::detect::finding::{finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::parse::basename;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = replaced(ctx);
    let chattr: Vec<&PackageCheck> = ctx
        .model
        .packages
        .iter()
        .filter(|c| basename(c.path.as_bytes()) == b"chattr")
        .collect();
    out.extend(renamed_chattr(ctx, &chattr));
    out.extend(missing_chattr(ctx.model, &chattr));
    out
}

/// `MT-EVA-020`: binaries whose digest differs from their package's. Only checks that judge integrity
/// ([`PackageCheck::judges_integrity`]): a package's configuration file (`/etc/crontab`,
/// `/etc/init.d/ssh`, checked as `persistence-config`) differs whenever an admin edited it.
fn replaced(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let mut out = Vec::new();
    for c in model
        .packages
        .iter()
        .filter(|c| c.verdict == PackageVerdict::Mismatch && c.judges_integrity())
    {
        let name = String::from_utf8_lossy(basename(c.path.as_bytes())).into_owned();
        let target = ctx.iocs.contains(Kind::ReplacedTarget, &name) || c.reason == "system-binary";
        let content = model.file(c.path.as_bytes()).and_then(|f| model.content(f));
        let script = content.is_some_and(|b| b.starts_with(b"#!"));
        let sev = if target || script {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut f = finding(&rules::EVA_020, sev)
            .subject(Subject::File {
                path: c.path.clone(),
                sha256: c.actual_sha256.clone(),
            })
            .evidence(format!(
                "{} from package {}: expected {} {}, found {}",
                c.path.escaped(),
                c.package.as_deref().unwrap_or("?"),
                c.expected_digest
                    .as_ref()
                    .map_or("digest", |d| d.algorithm.name()),
                c.expected_digest.as_ref().map_or("?", |d| d.hex.as_str()),
                c.actual_digest.as_ref().map_or("?", |d| d.hex.as_str())
            ))
            .evidence(format!("checked as {}", c.reason));
        if script {
            f = f.evidence("it is a script where the package installed an ELF binary");
        }
        if target {
            f = f.evidence(format!(
                "{name} is a tool miners replace to hide themselves"
            ));
        }
        out.push(f);
    }
    out
}

/// `MT-EVA-021`: chattr's real hash (a packaged chattr that matches) under another name, as a file, a
/// running executable or another package check.
fn renamed_chattr(ctx: &Context, chattr: &[&PackageCheck]) -> Vec<Finding> {
    let model = ctx.model;
    let mut out = Vec::new();
    let hashes: Vec<&str> = chattr
        .iter()
        .filter(|c| c.verdict == PackageVerdict::Match)
        .filter_map(|c| c.actual_sha256.as_deref())
        .collect();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut renamed = |path: &RawBytes, sha: &str, how: &str, out: &mut Vec<Finding>| {
        if basename(path.as_bytes()) == b"chattr" || seen.contains(&path.0) {
            return;
        }
        seen.push(path.0.clone());
        let mut f = finding(&rules::EVA_021, Severity::High)
            .subject(Subject::File {
                path: path.clone(),
                sha256: Some(sha.to_owned()),
            })
            .evidence(format!(
                "{} ({how}) has the sha256 of the packaged chattr: {sha}",
                path.escaped()
            ));
        if let Some(file) = model.file(path.as_bytes()) {
            f = f.evidence(format!("file: {}", describe_file(file)));
        }
        out.push(f);
    };
    for h in &hashes {
        for fr in model
            .files
            .iter()
            .filter(|f| f.sha256.as_deref() == Some(*h))
        {
            renamed(&fr.path, h, "file", &mut out);
        }
        for e in model
            .executables
            .iter()
            .filter(|e| e.sha256.as_deref() == Some(*h))
        {
            renamed(&e.path, h, "running executable", &mut out);
        }
        for c in model
            .packages
            .iter()
            .filter(|c| c.actual_sha256.as_deref() == Some(*h))
        {
            renamed(&c.path, h, "package check", &mut out);
        }
    }
    out
}

/// `MT-EVA-021` (medium): chattr missing from its package's path (moved away, so admins cannot unlock
/// the kit's files): a check that could not open it, or the package path the collector found empty. A
/// file elsewhere with its package's digest is the moved tool (MT-EVA-024), reported there instead.
fn missing_chattr(model: &crate::model::HostModel, chattr: &[&PackageCheck]) -> Vec<Finding> {
    let mut out = Vec::new();
    let moved_to_elsewhere = |c: &PackageCheck| {
        model
            .moved_tools
            .iter()
            .any(|m| m.homes.iter().any(|h| h.path == c.path))
    };
    for c in chattr.iter().filter(|c| {
        matches!(
            c.verdict,
            PackageVerdict::Unreadable | PackageVerdict::Missing
        )
    }) {
        let missing = (c.verdict == PackageVerdict::Missing && !moved_to_elsewhere(c))
            || c.error.as_deref().is_some_and(|e| {
                e.contains("No such file") || e.contains("not found") || e.contains("missing")
            });
        if missing {
            out.push(
                finding(&rules::EVA_021, Severity::Medium)
                    .subject_as(
                        Subject::File {
                            path: c.path.clone(),
                            sha256: None,
                        },
                        Role::Context,
                    )
                    .evidence(format!(
                        "{}: {} (attackers rename chattr so admins cannot unlock their files)",
                        c.path.escaped(),
                        c.error.as_deref().unwrap_or(
                            "package path empty: the package installed it and nothing is there"
                        )
                    )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use crate::model::fixture::md5;

    /// chattr's package path empty (the collector's `packaged-missing` check): MT-EVA-021 says chattr is
    /// missing, unless a file elsewhere has its digest (moved: MT-EVA-024's, not said twice).
    #[test]
    fn an_empty_chattr_package_path_is_chattr_missing_unless_it_was_moved() {
        let sum = "0123456789abcdef0123456789abcdef";
        let gone = fixture::model(
            Vec::new(),
            vec![fixture::missing_packaged(
                "/usr/bin/chattr",
                "e2fsprogs",
                md5(sum),
            )],
        );
        let iocs = Indicators::builtin();
        let found = crate::detect::findings_of(detect, &rules::EVA_021, &gone, &iocs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found.first().map(|f| f.severity), Some(Severity::Medium));
        let (mut zzh, c) = fixture::file(b"/usr/bin/zzh", Some(b"chattr bytes"));
        zzh.category = "system-bin".into();
        let moved = fixture::model(
            vec![(zzh, c)],
            vec![
                fixture::missing_packaged("/usr/bin/chattr", "e2fsprogs", md5(sum)),
                fixture::unowned_system_bin("/usr/bin/zzh", md5(sum)),
            ],
        );
        assert!(crate::detect::findings_of(detect, &rules::EVA_021, &moved, &iocs).is_empty());
    }
}
