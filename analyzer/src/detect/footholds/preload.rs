//! The dynamic loader's preload hooks: `/etc/ld.so.preload` entries (`MT-PER-040`) and `LD_PRELOAD`
//! set in `/etc/environment` or shell start-up files (`MT-PER-041`). A preloaded library is loaded into
//! every dynamically linked program: the userland rootkit that hides a miner from `ps` and `top`
//! (libprocesshider, libsystem.so, libgcwrap.so).
//!
//! Severity: an entry named by a family marker is critical; one whose library a package owns with a
//! matching digest is low (jemalloc and friends); anything else is high.

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::package::PackageVerdict;

use super::common::{self, describe_file, quote_line};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules::{self, Rule};
use crate::detect::Context;
use crate::indicators::MarkerKind;
use crate::model::persistence::{preload_libraries, PersistenceKind};
use crate::parse::{contains, numbered_lines};

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, _, entries) in ctx
        .model
        .persistence_files(|k| k == PersistenceKind::Preload)
    {
        for e in entries {
            for lib in preload_libraries(&e.command) {
                out.push(entry(ctx, file, e.line, &e.raw, lib, &rules::PER_040));
            }
        }
    }
    for (file, bytes, _) in ctx
        .model
        .persistence_files(|k| k == PersistenceKind::ShellStartup)
    {
        for (n, raw) in numbered_lines(bytes) {
            let t = raw.trim_ascii();
            if t.starts_with(b"#") || !contains(t, b"LD_PRELOAD=") {
                continue;
            }
            let Some(pos) = t.windows(11).position(|w| w == b"LD_PRELOAD=") else {
                continue;
            };
            let value = t.get(pos + 11..).unwrap_or_default();
            let value: Vec<u8> = value
                .iter()
                .copied()
                .take_while(|b| !b.is_ascii_whitespace() && *b != b';')
                .filter(|b| *b != b'"' && *b != b'\'')
                .collect();
            for lib in value
                .split(|b| *b == b':' || *b == b' ')
                .filter(|w| !w.is_empty())
            {
                out.push(entry(ctx, file, n, raw, lib, &rules::PER_041));
            }
        }
    }
    out
}

fn entry(
    ctx: &Context,
    file: &minetrace_schemas::records::file::FileRecord,
    n: u32,
    raw: &[u8],
    lib: &[u8],
    rule: &Rule,
) -> Finding {
    let lossy = String::from_utf8_lossy(lib);
    let marker = ctx
        .iocs
        .family_markers
        .iter()
        .find(|m| m.kind == MarkerKind::Preload && m.value.as_bytes() == lib)
        .map(|m| m.family.clone())
        .or_else(|| common::family_of_path(ctx.iocs, lib));
    let check = ctx.model.package_check(lib);
    let packaged = check.is_some_and(|c| c.verdict == PackageVerdict::Match);
    let severity = if marker.is_some() {
        Severity::Critical
    } else if packaged {
        Severity::Low
    } else {
        Severity::High
    };
    let mut f = finding(rule, severity)
        .subject(persistence_subject(&file.path, n))
        .subject_as(file_subject(file), Role::Context)
        .evidence(quote_line(&file.path, n, raw))
        .evidence(format!(
            "preloaded library {}",
            minetrace_schemas::escape_bytes(lib)
        ))
        .evidence(format!("file: {}", describe_file(file)))
        .family(marker.clone());
    if let Some(m) = &marker {
        f = f.evidence(format!("library path is a known {m} rootkit location"));
    }
    match check {
        Some(c) => {
            f = f.evidence(format!(
                "package check: {:?}{}",
                c.verdict,
                c.package
                    .as_deref()
                    .map(|p| format!(" (package {p})"))
                    .unwrap_or_default()
            ))
        }
        None => f = f.evidence(format!("no package is known to own {lossy}")),
    }
    // The library is an artifact unless its package vouches for it (then only the line is).
    let lib_role = if packaged {
        Role::Context
    } else {
        Role::Artifact
    };
    // The library as the collector recorded it (on merged /usr, `/lib/x` is recorded as `/usr/lib/x`).
    match ctx.model.file_aliased(lib) {
        Some(target) => {
            f = f
                .subject_as(file_subject(target), lib_role)
                .evidence(format!("library: {}", describe_file(target)));
        }
        None if severity >= Severity::Medium && lib.starts_with(b"/") => {
            f = f
                .subject_as(
                    minetrace_schemas::findings::Subject::File {
                        path: minetrace_schemas::RawBytes::from(lib),
                        sha256: None,
                    },
                    lib_role,
                )
                .evidence("the library is not in the snapshot's file records");
        }
        None => {}
    }
    if file.immutable || file.append_only {
        f = f.evidence("the preload file is locked with chattr against removal");
    }
    f
}
