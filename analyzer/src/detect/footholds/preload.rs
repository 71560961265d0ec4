//! The dynamic loader's preload hooks: `/etc/ld.so.preload` entries (`MT-PER-040`) and `LD_PRELOAD`
//! set in `/etc/environment` or shell start-up files (`MT-PER-041`). A preloaded library is loaded into
//! every dynamically linked program: the userland rootkit that hides a miner from `ps` and `top`
//! (libprocesshider, libsystem.so, libgcwrap.so).
//!
//! Severity is the library's ([`support::judge_preload`], the one judgement `MT-RUN-044` reads too): an
//! entry named by a family marker is critical; one whose library a package owns with a matching digest
//! is low (jemalloc and friends, Snoopy from its package); an unowned library named like a preload tool
//! (`preload_benign`, an audit logger built into `/usr/local/lib`) in a library directory is medium, a
//! review item (a hider can take any name); anything else is high: an unowned library, a hider's name, a
//! tool's name in a drop place, a packaged library whose bytes differ from its package's.

use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::{describe_file, quote_line};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules::{self, Rule};
use crate::detect::runtime::support;
use crate::detect::Context;
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
            for lib in minetrace_schemas::locations::ld_preload_list(&value) {
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
    // One judgement of the library, wherever it is preloaded from (`MT-RUN-044` reads it too).
    let judged = support::judge_preload(ctx, lib);
    let severity = judged.severity;
    let mut f = finding(rule, severity)
        .subject(persistence_subject(&file.path, n))
        .subject_as(file_subject(file), Role::Context)
        .evidence(quote_line(&file.path, n, raw))
        .evidence(format!(
            "preloaded library {}",
            minetrace_schemas::escape_bytes(lib)
        ))
        .evidence(format!("file: {}", describe_file(file)))
        .family(judged.family.clone());
    for line in judged.lines(lib) {
        f = f.evidence(line);
    }
    // The library is an artifact unless its package or its place vouches for it (then only the line is).
    let lib_role = if severity < Severity::Medium {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use minetrace_schemas::records::package::PackageVerdict;

    /// Review s4 item 7 and train-1 review item 9: what a preloaded library is comes from its package
    /// (the only route to low) and its place, judged as `MT-RUN-044` judges `LD_PRELOAD` (one fact:
    /// `support::judge_preload`); a tool's name alone makes an unowned library a review item, not context.
    #[test]
    fn only_a_package_makes_a_preloaded_library_context() {
        let lines = [
            "/usr/local/lib/libsnoopy.so", // unowned, a tool's name in a library dir: review
            "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", // its package vouches for it
            "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", // a tool's name, but its package's bytes differ
            "/usr/local/lib/libprocesshider.so",          // 8220's hider (family marker)
            "/usr/local/lib/libhidex.so",                 // a hider's name, no marker
            "/tmp/.x/libsnoopy.so",                       // a tool's name in a drop place
            "/etc/libjemalloc.so", // a tool's name in a configuration directory
            "/usr/local/lib/libnetfix.so", // unowned, no tool's name
        ];
        let text = lines.join("\n") + "\n";
        let mut jemalloc =
            fixture::not_owned(b"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "preload");
        jemalloc.verdict = PackageVerdict::Match;
        jemalloc.package = Some("libjemalloc2".into());
        let mut tcmalloc =
            fixture::not_owned(b"/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", "preload");
        tcmalloc.verdict = PackageVerdict::Mismatch;
        tcmalloc.package = Some("libgoogle-perftools4".into());
        let model = fixture::model(
            vec![fixture::file(b"/etc/ld.so.preload", Some(text.as_bytes()))],
            vec![jemalloc, tcmalloc],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let sev = |lib: &str| {
            found
                .iter()
                .find(|f| {
                    f.evidence
                        .iter()
                        .any(|e| e == &format!("preloaded library {lib}"))
                })
                .map(|f| f.severity)
        };
        assert_eq!(sev(lines[0]), Some(Severity::Medium), "{found:#?}");
        assert_eq!(sev(lines[1]), Some(Severity::Low));
        assert_eq!(sev(lines[2]), Some(Severity::High), "tampered package file");
        assert_eq!(sev(lines[3]), Some(Severity::Critical));
        assert_eq!(sev(lines[4]), Some(Severity::High));
        assert_eq!(sev(lines[5]), Some(Severity::High));
        assert_eq!(sev(lines[6]), Some(Severity::High));
        assert_eq!(sev(lines[7]), Some(Severity::High));
    }
}
