//! Files locked with `chattr +i` (immutable) or `+a` (append-only) so that neither root nor a cleanup
//! script can change or remove them (`MT-EVA-001`, T1222.002). Miners lock their crontabs, units, keys,
//! preload file and binaries this way.
//!
//! Look-alikes: an empty file locked in a place malware writes to is a "vaccine" (or a rival's squat)
//! and stays low, with no family; an admin locking `/etc/resolv.conf` or `/etc/hosts` is low, and so is a
//! locked `authorized_keys` (hardening against key injection; its keys are judged by `MT-SSH-*`).
//! Persistence, loader and other SSH files locked are medium; executables or scripts locked in temporary
//! or hidden places are high.

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::file::FileKind;

use super::common::{self, describe_file};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::{Kind, PathClass};
use crate::parse::basename;

/// Where a lock protects persistence or access: a persistence location, or an `access_file`.
fn is_foothold_path(ctx: &Context, p: &[u8]) -> bool {
    common::is_run_by_line_path(p) || ctx.iocs.matches_path(Kind::AccessFile, p)
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in ctx
        .model
        .files
        .iter()
        .filter(|f| f.immutable || f.append_only)
    {
        let path = f.path.as_bytes();
        let vaccine = common::is_placeholder(f);
        // A vaccine names a family's place without being that family's file: no attribution.
        let family = common::family_of_path(ctx.iocs, path).filter(|_| !vaccine);
        let odd_place = ctx.iocs.paths().is(PathClass::KitProne, path);
        let (severity, why) = if vaccine {
            (
                Severity::Low,
                "an empty placeholder locked in place: a \"vaccine\" against reinfection or a rival's squat file",
            )
        } else if f.kind == FileKind::Regular && odd_place && common::looks_executable(ctx.model, f)
        {
            (
                Severity::High,
                "an executable or script locked in a temporary or hidden place",
            )
        } else if family.is_some() {
            (
                Severity::High,
                "a known family's file locked against removal",
            )
        } else if super::ssh_keys::is_authorized_keys(path) {
            (
                Severity::Low,
                "an SSH key file locked against change (hardening against key injection, or an attacker \
                 keeping its key: the keys are judged one by one, MT-SSH-*)",
            )
        } else if is_foothold_path(ctx, path) {
            (
                Severity::Medium,
                "a persistence, loader, account or SSH file locked against change",
            )
        } else if [&b"resolv.conf"[..], b"hosts"].contains(&basename(path)) {
            (
                Severity::Low,
                "a name-resolution file locked (admins do this too; miners do it to pin their DNS)",
            )
        } else {
            (Severity::Low, "a file locked against change")
        };
        let fam_note = family.clone();
        let mut finding = finding(&rules::EVA_001, severity)
            // The lock is suspicious, not the content: other findings judge the file itself.
            .subject_as(file_subject(f), Role::Context)
            .evidence(format!("file: {}", describe_file(f)))
            .evidence(why)
            .family(family);
        if let Some(fam) = fam_note {
            finding = finding.evidence(format!("path matches a {fam} marker"));
        }
        if let Some(flags) = f.flags {
            finding = finding.evidence(format!("inode flags 0x{flags:08x}"));
        }
        out.push(finding);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::{fixture, HostModel};
    use minetrace_schemas::records::file::FileRecord;

    fn lock_of(model: &HostModel, iocs: &Indicators) -> Option<Severity> {
        detect(&Context { model, iocs }).first().map(|f| f.severity)
    }

    /// `access_file` patterns come from the indicators: a user's file adds an access file, whose lock
    /// is then medium instead of low.
    #[test]
    fn an_iocs_file_adds_access_files() {
        let (mut rec, content) = fixture::file(b"/etc/zz-vpn/users.conf", Some(b"alice\n"));
        rec.immutable = true;
        let (mut keys, key_content) = fixture::file(b"/home/alice/.ssh/config", Some(b"Host *\n"));
        keys.immutable = true;
        let one = |f: (FileRecord, Option<Vec<u8>>)| fixture::model(vec![f], Vec::new());
        let vpn = one((rec, content));
        let mut iocs = Indicators::builtin();
        // Built in: any file of a `.ssh` directory.
        assert_eq!(
            lock_of(&one((keys, key_content)), &iocs),
            Some(Severity::Medium)
        );
        assert_eq!(lock_of(&vpn, &iocs), Some(Severity::Low));
        iocs.add_text("mine.iocs", "access_file /etc/zz-vpn/*\n")
            .unwrap();
        assert_eq!(lock_of(&vpn, &iocs), Some(Severity::Medium));
    }
}
