//! Renamed and planted system tools, from the collector's listing of the files of system binary
//! directories that no package owns (category `system-bin`, with the packaged files of equal size hashed
//! as `packaged-twin`) and its package checks of running executables:
//! - `MT-EVA-022` a packaged tool copied under another name (T1036.003): an unowned file whose sha256 is
//!   a packaged file's (8220's `curl` renamed `url`, a backup `chattr` under a kit's name). High in
//!   `/usr/bin`, `/usr/sbin`, `/bin`, `/sbin`; medium under `/usr/local`. `chattr` itself is MT-EVA-021's.
//! - `MT-EVA-024` a packaged tool moved away from its package path (T1036.003): an unowned file whose
//!   digest, in the package database's algorithm, is the one a package recorded for a path of these
//!   directories that is missing on disk (the model's [`crate::model::moved_tools`]: `mv
//!   /usr/bin/chattr /usr/bin/zzh`, `wget` as `wge1`). High in `/usr/bin`, `/usr/sbin`, `/bin`,
//!   `/sbin`, medium under `/usr/local`, when the copy is locked, run or named by persistence; low
//!   otherwise (admins rename tools as hardening). Reported instead of `MT-EVA-022`/`023` for that file.
//! - `MT-EVA-023` a program no package owns in a package-managed binary directory (`/usr/bin`,
//!   `/usr/sbin`, `/bin`, `/sbin`) (T1036.005): medium. `/usr/local` holds locally built software by
//!   design and is not reported, nor are files admins create there by documented convention
//!   (`admin_file`: Debian's `/usr/sbin/policy-rc.d`). When the package database plainly does not cover these directories
//!   (more than [`INCOMPLETE_INDEX`] unowned files: a half-read or foreign database), one low finding
//!   says so instead of one per file, and `MT-EVA-022` is not judged there either (a distribution ships
//!   identical tools under several names: procps' `pgrep`, `pkill`, `pidwait`). A hard link of a
//!   packaged file is that file.

use std::collections::{BTreeMap, BTreeSet};

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::RawBytes;

use super::common::describe_file;
use crate::detect::finding::{finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::parse::basename;

/// Unowned files in package-managed binary directories beyond which the package index is taken to be
/// incomplete rather than the host full of planted tools.
pub const INCOMPLETE_INDEX: usize = 64;

/// A file directly in a directory only packages write to (`SYSTEM_BIN_DIRS`, the list the collector
/// checks).
fn package_dir(path: &[u8]) -> bool {
    minetrace_schemas::locations::directly_in(minetrace_schemas::locations::SYSTEM_BIN_DIRS, path)
}

/// Whether `path` (as a line names it; merged-`/usr` aliases followed) is a file of `/usr/bin`,
/// `/usr/sbin`, `/bin` or `/sbin` that no package owns: listed as such by the collector, or a running
/// executable its package check found unowned.
pub fn unowned_in_package_dir(model: &crate::model::HostModel, path: &[u8]) -> bool {
    let listed = model
        .file_aliased(path)
        .is_some_and(|f| f.category == "system-bin" && package_dir(f.path.as_bytes()));
    listed
        || model.package_check(path).is_some_and(|c| {
            c.verdict == PackageVerdict::NotOwned && package_dir(c.path.as_bytes())
        })
}

/// What shows the intrusion using or guarding a moved tool (empty: nothing; admins rename tools too, as
/// hardening): the copy locked (immutable or append-only), a running process executing it, a persisted
/// command naming it.
fn kit_signs(model: &crate::model::HostModel, path: &[u8]) -> Vec<&'static str> {
    let names: Vec<Vec<u8>> = std::iter::once(path.to_vec())
        .chain(crate::model::usr_twin(path))
        .collect();
    let mut signs = Vec::new();
    if model
        .file(path)
        .is_some_and(|f| f.immutable || f.append_only)
    {
        signs.push("the moved copy is locked (immutable or append-only)");
    }
    if model
        .executables
        .iter()
        .any(|e| !e.deleted && names.iter().any(|n| e.path.as_bytes() == n.as_slice()))
    {
        signs.push("a running process executes the moved copy");
    }
    if model
        .persistence
        .iter()
        .any(|e| e.runs && e.refs.paths.iter().any(|p| names.contains(p)))
    {
        signs.push("a persisted command runs the moved copy");
    }
    signs
}

/// Whether the move keeps the tool's own name with a suffix in its own directory
/// (`/usr/bin/curl` -> `/usr/bin/curl.disabled`, `wget-orig`, `chattr~`): how admins disable a tool. A kit
/// hides it under another name (`zzh`, `wge1`) so cleanup scripts that look for the name miss it.
fn disabled_in_place(m: &crate::model::moved_tools::MovedTool) -> bool {
    let (dir, name) = split_dir(m.path.as_bytes());
    !m.homes.is_empty()
        && m.homes.iter().all(|home| {
            let (home_dir, home_name) = split_dir(home.path.as_bytes());
            let same_dir = home_dir == dir
                || crate::model::usr_twin(home.path.as_bytes())
                    .is_some_and(|t| split_dir(&t).0 == dir);
            same_dir
                && !home_name.is_empty()
                && name
                    .strip_prefix(home_name)
                    .and_then(|rest| rest.first())
                    .is_some_and(|b| matches!(b, b'.' | b'-' | b'_' | b'~'))
        })
}

/// A path's directory and last name.
fn split_dir(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (
            path.get(..i).unwrap_or_default(),
            path.get(i + 1..).unwrap_or_default(),
        ),
        None => (&[], path),
    }
}

/// `MT-EVA-024` for a file the model found moved away from its package path: high in the package
/// directories (medium under `/usr/local`) when something shows the intrusion using or guarding it
/// ([`kit_signs`]); with no such sign, medium (a review item) when it was hidden under another name in
/// a package directory, low when it keeps its own name with a suffix (an admin's `mv /usr/bin/wget
/// /usr/bin/wget.disabled`: [`disabled_in_place`]) or lies under `/usr/local`.
fn moved(
    model: &crate::model::HostModel,
    m: &crate::model::moved_tools::MovedTool,
    sha: Option<&str>,
    file: Option<&minetrace_schemas::records::file::FileRecord>,
) -> Finding {
    let path = m.path.as_bytes();
    let signs = kit_signs(model, path);
    let disabled = disabled_in_place(m);
    let severity = match (signs.is_empty(), package_dir(path)) {
        (false, true) => Severity::High,
        (false, false) => Severity::Medium,
        // Hidden under another name in a package directory, nothing else known: a review item.
        (true, true) if !disabled => Severity::Medium,
        (true, _) => Severity::Low,
    };
    let mut f = finding(&rules::EVA_024, severity).subject(Subject::File {
        path: m.path.clone(),
        sha256: sha.map(str::to_owned),
    });
    for home in &m.homes {
        f = f.evidence(format!(
            "{} has the {} digest {} that package {} recorded for {}, and nothing is at {}: the tool \
             was moved away from its package path",
            m.path.escaped(),
            home.digest.algorithm.name(),
            home.digest.hex,
            minetrace_schemas::escape_bytes(home.package.as_bytes()),
            home.listed_as.as_ref().unwrap_or(&home.path).escaped(),
            home.path.escaped()
        ));
    }
    for sign in &signs {
        f = f.evidence(*sign);
    }
    if signs.is_empty() && disabled {
        f = f.evidence(
            "nothing shows the intrusion using it (not locked, run or named by persistence), and it keeps \
             its own name with a suffix beside its package path: how admins disable a tool",
        );
    } else if signs.is_empty() {
        f = f.evidence(
            "nothing shows the intrusion using it (not locked, run or named by persistence), but it \
             carries another name: kits move tools so cleanup scripts cannot find them",
        );
    }
    if m.destination().is_none() {
        f = f.evidence(
            "more than one missing package path has this digest, or another file was matched to it \
             first: which path it belongs to is not decided",
        );
    }
    if let Some(rec) = file {
        f = f.evidence(format!("file: {}", describe_file(rec)));
    }
    f
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    // Unowned files of system binary directories: path -> sha256.
    let mut unowned: BTreeMap<Vec<u8>, Option<String>> = BTreeMap::new();
    for f in model.regular_files().filter(|f| f.category == "system-bin") {
        unowned.insert(f.path.0.clone(), f.sha256.clone());
    }
    for c in model
        .packages
        .iter()
        .filter(|c| c.verdict == PackageVerdict::NotOwned)
    {
        let p = c.path.as_bytes();
        if package_dir(p) || p.starts_with(b"/usr/local/") {
            unowned
                .entry(p.to_vec())
                .or_insert_with(|| c.actual_sha256.clone());
        }
    }
    // Packaged files by sha256 (twins hashed for the purpose, and verified package checks).
    let mut packaged: BTreeMap<&str, BTreeSet<&[u8]>> = BTreeMap::new();
    for f in model.files.iter().filter(|f| f.category == "packaged-twin") {
        if let Some(h) = f.sha256.as_deref() {
            packaged.entry(h).or_default().insert(f.path.as_bytes());
        }
    }
    for c in model
        .packages
        .iter()
        .filter(|c| c.verdict == PackageVerdict::Match)
    {
        if let Some(h) = c.actual_sha256.as_deref() {
            packaged.entry(h).or_default().insert(c.path.as_bytes());
        }
    }
    // Files admins create by documented convention (`admin_file`) are the host's own.
    unowned.retain(|p, _| {
        !ctx.iocs
            .set(crate::indicators::Kind::AdminFile)
            .any(|a| a.as_bytes() == p.as_slice())
    });
    let in_package_dirs = unowned.keys().filter(|p| package_dir(p)).count();
    let incomplete = in_package_dirs > INCOMPLETE_INDEX;
    let mut out = Vec::new();
    for (path, sha) in &unowned {
        let file = model.file(path);
        // Without a package index that covers these directories a missing path is no fact either.
        if let Some(m) = model
            .moved_tool(path)
            .filter(|_| !(incomplete && package_dir(path)))
        {
            out.push(moved(model, m, sha.as_deref(), file));
            continue;
        }
        let twin = sha
            .as_deref()
            .and_then(|h| packaged.get(h))
            .and_then(|set| set.iter().find(|t| **t != path.as_slice()).copied());
        let subject = Subject::File {
            path: RawBytes::new(path.clone()),
            sha256: sha.clone(),
        };
        if let Some(twin) = twin {
            if basename(twin) == b"chattr" {
                continue; // MT-EVA-021
            }
            // Without a package index that covers these directories, "unowned" is not a fact: the
            // distribution's own duplicates (procps' pgrep, pkill and pidwait) would look renamed.
            if incomplete && package_dir(path) {
                continue;
            }
            // A hard link of the packaged file is the packaged file.
            if let (Some(a), Some(b)) = (file, model.file(twin)) {
                if a.dev == b.dev && a.ino == b.ino {
                    continue;
                }
            }
            let severity = if package_dir(path) {
                Severity::High
            } else {
                Severity::Medium
            };
            let mut f = finding(&rules::EVA_022, severity)
                .subject(subject)
                .evidence(format!(
                    "{} has the sha256 of the packaged {} ({}): the same tool under another name",
                    RawBytes::from(path.as_slice()).escaped(),
                    RawBytes::from(twin).escaped(),
                    sha.as_deref().unwrap_or_default()
                ));
            if let Some(t) = model.file(twin) {
                f = f.subject_as(crate::detect::finding::file_subject(t), Role::Context);
            }
            if let Some(rec) = file {
                f = f.evidence(format!("file: {}", describe_file(rec)));
            }
            out.push(f);
        } else if package_dir(path) && !incomplete {
            let mut f = finding(&rules::EVA_023, Severity::Medium)
                .subject(subject)
                .evidence(format!(
                    "{} is in a directory only packages write to, and no installed package owns it",
                    RawBytes::from(path.as_slice()).escaped()
                ));
            if let Some(rec) = file {
                f = f.evidence(format!("file: {}", describe_file(rec)));
            }
            out.push(f);
        }
    }
    if incomplete {
        out.push(
            finding(&rules::EVA_023, Severity::Low).evidence(format!(
                "{in_package_dirs} files of /usr/bin, /usr/sbin, /bin and /sbin are owned by no package: \
                 the package database does not cover these directories, so unowned files there are \
                 not judged one by one (neither as planted programs nor as renamed packaged tools)"
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use crate::model::fixture::{listed_system_bin as listed, md5};

    fn rules_of(findings: &[Finding], path: &[u8]) -> Vec<(&'static str, Severity)> {
        let mut out: Vec<(&'static str, Severity)> = findings
            .iter()
            .filter(|f| {
                f.subjects.iter().any(
                    |s| matches!(&s.subject, Subject::File { path: p, .. } if p.as_bytes() == path),
                )
            })
            .filter_map(|f| Some((rules::by_id(&f.rule)?.id, f.severity)))
            .collect();
        out.sort();
        out
    }

    /// 8220/Kinsing: `mv /usr/bin/chattr /usr/bin/zzh` (then locked with it), `mv /usr/bin/wget
    /// /usr/local/bin/wge1` (locked too). The moved files are MT-EVA-024 (not a planted program,
    /// MT-EVA-023). An admin's hardening `mv /usr/bin/curl /usr/bin/curl.disabled` is the same move with
    /// nothing showing a kit using it: low (review of train 2, item 4). An admin's wrapper in
    /// /usr/local/bin and a planted program whose digest no missing path has are judged as before.
    #[test]
    fn a_file_with_a_missing_package_paths_digest_is_that_tool_moved() {
        let chattr = "0123456789abcdef0123456789abcdef";
        let wget = "fedcba9876543210fedcba9876543210";
        let curl = "44444444444444444444444444444444";
        let locked = |(mut f, c): (
            minetrace_schemas::records::file::FileRecord,
            Option<Vec<u8>>,
        )| {
            f.immutable = true;
            (f, c)
        };
        let model = fixture::model(
            vec![
                locked(listed("/usr/bin/zzh", b"chattr bytes")),
                locked(listed("/usr/local/bin/wge1", b"wget bytes")),
                listed("/usr/bin/curl.disabled", b"curl bytes"),
                listed(
                    "/usr/local/bin/backup-wrapper",
                    b"#!/bin/sh\nexec rsync \"$@\"\n",
                ),
                listed("/usr/bin/planted", b"kit bytes"),
                listed("/usr/bin/lsx", b"lsattr bytes"),
            ],
            vec![
                fixture::missing_packaged("/usr/bin/chattr", "e2fsprogs", md5(chattr)),
                fixture::missing_packaged("/usr/bin/wget", "wget", md5(wget)),
                fixture::missing_packaged("/usr/bin/curl", "curl", md5(curl)),
                fixture::unowned_system_bin("/usr/bin/zzh", md5(chattr)),
                fixture::unowned_system_bin("/usr/local/bin/wge1", md5(wget)),
                fixture::unowned_system_bin("/usr/bin/curl.disabled", md5(curl)),
                fixture::unowned_system_bin("/usr/local/bin/backup-wrapper", md5(&"22".repeat(16))),
                fixture::unowned_system_bin("/usr/bin/planted", md5(&"33".repeat(16))),
                fixture::missing_packaged("/usr/bin/lsattr", "e2fsprogs", md5(&"55".repeat(16))),
                fixture::unowned_system_bin("/usr/bin/lsx", md5(&"55".repeat(16))),
            ],
        );
        let iocs = Indicators::builtin();
        let all = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        assert_eq!(
            rules_of(&all, b"/usr/bin/zzh"),
            vec![("MT-EVA-024", Severity::High)]
        );
        assert_eq!(
            rules_of(&all, b"/usr/local/bin/wge1"),
            vec![("MT-EVA-024", Severity::Medium)]
        );
        assert_eq!(
            rules_of(&all, b"/usr/bin/curl.disabled"),
            vec![("MT-EVA-024", Severity::Low)]
        );
        // Unlocked and unused but hidden under another name (a kit's `mv lsattr lsx` left unlocked): a
        // review item, not low (review of train 3, item 8).
        assert_eq!(
            rules_of(&all, b"/usr/bin/lsx"),
            vec![("MT-EVA-024", Severity::Medium)]
        );
        assert!(rules_of(&all, b"/usr/local/bin/backup-wrapper").is_empty());
        assert_eq!(
            rules_of(&all, b"/usr/bin/planted"),
            vec![("MT-EVA-023", Severity::Medium)]
        );
        let zzh = all
            .iter()
            .find(|f| f.rule == "MT-EVA-024" && f.severity == Severity::High)
            .unwrap();
        assert!(
            zzh.evidence
                .iter()
                .any(|e| e.contains("package e2fsprogs recorded for /usr/bin/chattr")),
            "{:?}",
            zzh.evidence
        );
    }
}
