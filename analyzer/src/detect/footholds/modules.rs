//! Kernel modules loaded at boot (`MT-PER-050`, T1547.006, T1014): `/etc/modules`,
//! `modules-load.d/*.conf` entries naming a known rootkit module (family `name` markers such as
//! `iproute.ko`, `diamorphine`) are high; `modprobe.d` `install` hooks that run shell commands are scored
//! like any persisted shell line. (`insmod` in cron, rc and unit lines is scored by those detectors;
//! loaded modules and taint are runtime facts.)

use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::{self, describe_file, quote_line};
use crate::detect::finding::{file_subject, finding, persistence_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::{Kind, MarkerKind};
use crate::model::persistence::{location, Format, PersistenceEntry, PersistenceKind};
use crate::parse::words;
use minetrace_schemas::records::file::FileRecord;

/// The module files of one format (`/etc/modules` and `modules-load.d`, or `modprobe.d`).
fn modules_files<'a>(
    ctx: &'a Context,
    format: Format,
) -> impl Iterator<Item = (&'a FileRecord, &'a [u8], &'a [PersistenceEntry])> + 'a {
    ctx.model
        .persistence_files(|k| k == PersistenceKind::Modules)
        .filter(move |(f, _, _)| location(f.path.as_bytes()).map(|l| l.format) == Some(format))
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, _, entries) in modules_files(ctx, Format::ModuleList) {
        for e in entries {
            let (n, raw) = (e.line, e.raw.as_slice());
            let name = String::from_utf8_lossy(words(&e.command).next().unwrap_or_default())
                .to_ascii_lowercase();
            let stem = name.trim_end_matches(".ko").to_owned();
            let family = ctx
                .iocs
                .family_markers
                .iter()
                .find(|m| m.kind == MarkerKind::Name && m.value.trim_end_matches(".ko") == stem)
                .map(|m| m.family.clone());
            if family.is_none() && !ctx.iocs.contains(Kind::RootkitModule, &stem) {
                continue;
            }
            out.push(
                finding(&rules::PER_050, Severity::High)
                    .subject(persistence_subject(&file.path, n))
                    .subject_as(file_subject(file), Role::Context)
                    .evidence(quote_line(&file.path, n, raw))
                    .evidence(format!("file: {}", describe_file(file)))
                    .family(family),
            );
        }
    }
    for (file, _, entries) in modules_files(ctx, Format::Modprobe) {
        for e in entries {
            let (score, shell) = common::score_shell(&e.command, ctx.iocs);
            out.extend(common::line_finding(
                ctx,
                &rules::PER_050,
                file,
                e.line,
                &e.raw,
                &score,
                Some(&shell),
            ));
        }
    }
    out
}
