//! A packaged tool moved away from its package path (MT-EVA-024: `mv /usr/bin/chattr /usr/bin/zzh`) is
//! moved back, not quarantined: quarantining the moved copy would leave the host without `chattr`.
//!
//! Where it goes comes only from the package database's record the model matched it to
//! ([`crate::model::moved_tools`]: the missing package path whose recorded digest the file has), never
//! from the file's name, and only when that is unambiguous. At run time the script moves it (a hard
//! link, then the old name unlinked; a copy beside the package path when the two are on different file
//! systems) only while the package path is still missing, the file is still the snapshot's (device,
//! inode, sha256) and the host's package database, asked then by the script itself, records for the
//! package path the digest the file has then (`mt_pkg_records`). The undo moves it back to the name the
//! snapshot saw. Owner and mode go with the inode (or are copied with it), so a file whose mode or owner
//! is not a plain packaged tool's (set-id, writable by others, not root's: the kit's `chmod`) is left to
//! the responder ([`UNSAFE_MODE`]). A move back is a review item unless a tie links the file to the
//! intrusion ([`REVIEW`], [`gate`]): it re-enables a host program, and an admin may have renamed it on
//! purpose.

use minetrace_schemas::records::package::{DigestAlgorithm, PackageManager};
use minetrace_schemas::{escape_bytes, RawBytes};

use super::plan::FileTarget;
use crate::model::HostModel;

/// Where a moved tool goes back to, as the package database recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveBack {
    /// The package path, as the host names it.
    pub to: RawBytes,
    pub package: String,
    pub manager: Option<PackageManager>,
    /// The algorithm of the package's digest (what the script hashes the file with on rpm hosts; dpkg
    /// records MD5).
    pub algorithm: DigestAlgorithm,
    /// The digest the package recorded, for the plan text (the script asks the database itself).
    pub hex: String,
}

/// Why a moved tool is not sent back: its mode or owner are not a packaged tool's. `mv` keeps them, and a
/// kit's `chmod u+s` or `chown` on its copy would go to the package path with it (a set-id `chattr` is a
/// root backdoor); packaged tools that are set-id themselves (`su`, `passwd`) are not what kits move.
pub const UNSAFE_MODE: &str = "a packaged tool moved away whose mode or owner is not a plain packaged tool's \
     (set-id, writable by group or others, or not root's): not moved back with them; reinstall its package \
     and remove the moved copy by hand";

/// The move back of the file the snapshot recorded as `recorded`, when the model found it to be a
/// packaged tool moved away and knows, unambiguously, where it belongs (`None`: no such tool). The
/// package path must be a name directly in a system binary directory (the bundle is the host's: a
/// record naming anything else is not followed). `Err` ([`UNSAFE_MODE`]) when its mode or owner in the
/// snapshot would make the package path a set-id or writable program; the script checks the same again
/// at run time.
pub fn move_back(model: &HostModel, recorded: &[u8]) -> Option<Result<MoveBack, &'static str>> {
    use minetrace_schemas::locations::{directly_in, SYSTEM_BIN_DIRS};
    let home = model.moved_tool(recorded)?.destination()?;
    let to = home.path.as_bytes();
    let name = to.rsplit(|b| *b == b'/').next().unwrap_or_default();
    if !directly_in(SYSTEM_BIN_DIRS, to) || name == b"." || name == b".." {
        return None;
    }
    let plain = model
        .file(recorded)
        .is_some_and(|f| f.uid == 0 && f.gid == 0 && f.mode & 0o7022 == 0);
    if !plain {
        return Some(Err(UNSAFE_MODE));
    }
    Some(Ok(MoveBack {
        to: home.path.clone(),
        package: home.package.clone(),
        manager: home.manager,
        algorithm: home.digest.algorithm,
        hex: home.digest.hex.clone(),
    }))
}

/// Why a move back is a review item unless the file is tied to the intrusion: it re-enables a host
/// program at its package path, which an admin may have renamed on purpose (`mv /usr/bin/wget
/// /usr/bin/wget.disabled` as hardening); a digest says which tool it is, not who moved it, and a high
/// severity alone says no more.
pub const REVIEW: &str = "moving a tool back re-enables a host program (an admin may have renamed it as hardening): unasked only when an observed or parsed tie links the file to the intrusion";

/// The gate basis of a subject that is a moved tool the plan would send back: attributed only through a
/// tie (`tied`: an observed or parsed graph edge to a confirmed miner, kit or entry), never by the
/// finding's severity alone. Other subjects keep `attr`.
pub fn gate(
    model: &HostModel,
    s: &minetrace_schemas::findings::Subject,
    attr: super::collect::Attr,
    tied: bool,
) -> super::collect::Attr {
    let minetrace_schemas::findings::Subject::File { path, .. } = s else {
        return attr;
    };
    let recorded = model
        .file_aliased(path.as_bytes())
        .map_or(path.as_bytes(), |f| f.path.as_bytes());
    match (move_back(model, recorded), attr) {
        (Some(Ok(_)), super::collect::Attr::Attributed) if !tied => {
            super::collect::Attr::Review(REVIEW.into())
        }
        (_, attr) => attr,
    }
}

/// The plan line's title.
pub const TITLE: &str = "move the tool back to its package path (only while that path is missing and the package database records the file's digest for it)";

/// The plan line's target: the file, where it goes and the package's record, escaped.
pub fn describe(file: &FileTarget, back: &MoveBack) -> String {
    format!(
        "{} -> {} (package {}, {}:{})",
        escape_bytes(file.path.as_bytes()),
        back.to.escaped(),
        escape_bytes(back.package.as_bytes()),
        back.algorithm.name(),
        back.hex.get(..16).unwrap_or(&back.hex)
    )
}

#[cfg(test)]
mod tests {
    use super::super::plan::{plan_lines, Action, Gate};
    use super::super::test_plan::{doc, plan_of};
    use crate::detect::finding::{file_subject, finding, FindingExt};
    use crate::model::fixture;
    use crate::model::fixture::{listed_system_bin as listed, md5};
    use minetrace_schemas::findings::Severity;

    /// 8220/Kinsing moved chattr to a kit name and wget to /usr/local/bin/wge1; a planted program sits
    /// beside them. The moved tools go back to the package paths the database names, as review items
    /// (nothing ties them to the kit here, whatever the finding's severity), never quarantined; the
    /// planted one is quarantined as before.
    #[test]
    fn a_moved_tool_goes_back_to_its_package_path_never_to_the_quarantine() {
        let chattr = "0123456789abcdef0123456789abcdef";
        let wget = "fedcba9876543210fedcba9876543210";
        let model = fixture::model(
            vec![
                listed("/usr/bin/zzh", b"chattr bytes"),
                listed("/usr/local/bin/wge1", b"wget bytes"),
                listed("/usr/bin/planted", b"kit bytes"),
            ],
            vec![
                fixture::missing_packaged("/usr/bin/chattr", "e2fsprogs", md5(chattr)),
                fixture::missing_packaged("/usr/bin/wget", "wget", md5(wget)),
                fixture::unowned_system_bin("/usr/bin/zzh", md5(chattr)),
                fixture::unowned_system_bin("/usr/local/bin/wge1", md5(wget)),
            ],
        );
        let subject = |p: &[u8]| file_subject(model.file(p).unwrap());
        let findings = vec![
            finding(&crate::detect::rules::EVA_024, Severity::High)
                .subject(subject(b"/usr/bin/zzh")),
            finding(&crate::detect::rules::EVA_024, Severity::Medium)
                .subject(subject(b"/usr/local/bin/wge1")),
            finding(&crate::detect::rules::EVA_023, Severity::High)
                .subject(subject(b"/usr/bin/planted")),
        ];
        let plan = plan_of(model, doc(findings));
        let back: Vec<(&[u8], &[u8], &str, &Gate)> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::RenameBack { file, back, .. } => Some((
                    file.path.as_bytes(),
                    back.to.as_bytes(),
                    back.package.as_str(),
                    &i.gate,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(back.len(), 2, "{:#?}", plan_lines(&plan));
        assert_eq!(
            back.first().map(|b| (b.0, b.1, b.2)),
            Some((&b"/usr/bin/zzh"[..], &b"/usr/bin/chattr"[..], "e2fsprogs"))
        );
        // A review item without a tie, whatever the severity: it re-enables a host program (review of
        // train 2, item 4).
        assert!(matches!(back.first().map(|b| b.3), Some(Gate::Review(_))));
        assert_eq!(
            back.get(1).map(|b| (b.0, b.1)),
            Some((&b"/usr/local/bin/wge1"[..], &b"/usr/bin/wget"[..]))
        );
        assert!(matches!(back.get(1).map(|b| b.3), Some(Gate::Review(_))));
        let quarantined: Vec<&[u8]> = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::QuarantineFile { file, .. } => Some(file.path.as_bytes()),
                _ => None,
            })
            .collect();
        assert_eq!(quarantined, vec![&b"/usr/bin/planted"[..]]);
        let lines = plan_lines(&plan).join("\n");
        assert!(
            lines.contains(
                "/usr/bin/zzh -> /usr/bin/chattr (package e2fsprogs, md5:0123456789abcdef)"
            ),
            "{lines}"
        );
    }

    /// Review of train 2: `mv` keeps a mode the kit set on its copy. A moved chattr made set-uid, one
    /// writable by others and one owned by the kit's account are not moved back (a manual item says why);
    /// none is quarantined either (that would leave the host without the tool).
    #[test]
    fn a_moved_tool_with_a_kits_mode_or_owner_is_left_to_the_responder() {
        let sum = |i: u8| md5(&format!("{i:02x}").repeat(16));
        let mut files = Vec::new();
        let mut checks = Vec::new();
        for (i, (name, mode, uid)) in [
            ("/usr/bin/zz-suid", 0o104_755, 0),
            ("/usr/bin/zz-writable", 0o100_757, 0),
            ("/usr/bin/zz-owned", 0o100_755, 1000),
        ]
        .into_iter()
        .enumerate()
        {
            let i = u8::try_from(i).unwrap();
            let (mut f, c) = listed(name, name.as_bytes());
            f.mode = mode;
            f.uid = uid;
            files.push((f, c));
            let home = format!("/usr/bin/tool{i}");
            checks.push(fixture::missing_packaged(&home, "pkg", sum(i)));
            checks.push(fixture::unowned_system_bin(name, sum(i)));
        }
        let model = fixture::model(files, checks);
        let findings: Vec<_> = [
            "/usr/bin/zz-suid",
            "/usr/bin/zz-writable",
            "/usr/bin/zz-owned",
        ]
        .iter()
        .map(|p| {
            finding(&crate::detect::rules::EVA_024, Severity::High)
                .subject(file_subject(model.file(p.as_bytes()).unwrap()))
        })
        .collect();
        let plan = plan_of(model, doc(findings));
        assert!(
            !plan.items.iter().any(|i| matches!(
                i.action,
                Action::RenameBack { .. } | Action::QuarantineFile { .. }
            )),
            "{:#?}",
            plan_lines(&plan)
        );
        assert_eq!(
            plan.manual
                .iter()
                .filter(|m| m.contains("not moved back with them"))
                .count(),
            3,
            "{:#?}",
            plan.manual
        );
    }

    /// Where a moved file goes is the package database's, never its name's: a kit file named like a
    /// tool (`/usr/local/bin/chattr`, whose digest no missing path has) is quarantined, and a copy
    /// whose digest two missing paths share has no destination (quarantined, with the finding's
    /// evidence saying so).
    #[test]
    fn the_destination_is_the_package_databases_never_the_files_name() {
        let c = "00000000000000000000000000000001";
        let model = fixture::model(
            vec![
                listed("/usr/local/bin/chattr", b"kit"),
                listed("/usr/bin/bz", b"bzip2 bytes"),
            ],
            vec![
                fixture::missing_packaged("/usr/bin/chattr", "e2fsprogs", md5(&"0a".repeat(16))),
                fixture::missing_packaged("/usr/bin/bzcat", "bzip2", md5(c)),
                fixture::missing_packaged("/usr/bin/bunzip2", "bzip2", md5(c)),
                fixture::unowned_system_bin("/usr/local/bin/chattr", md5(&"0b".repeat(16))),
                fixture::unowned_system_bin("/usr/bin/bz", md5(c)),
            ],
        );
        let subject = |p: &[u8]| file_subject(model.file(p).unwrap());
        let findings = vec![
            finding(&crate::detect::rules::EVA_023, Severity::High)
                .subject(subject(b"/usr/local/bin/chattr")),
            finding(&crate::detect::rules::EVA_024, Severity::High)
                .subject(subject(b"/usr/bin/bz")),
        ];
        let plan = plan_of(model, doc(findings));
        assert!(!plan
            .items
            .iter()
            .any(|i| matches!(i.action, Action::RenameBack { .. })));
    }
}
