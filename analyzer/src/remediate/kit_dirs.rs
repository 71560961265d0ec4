//! Kit directories: the directory an intrusion made for its kit (`/tmp/.kit`, `/var/tmp/.update-logs`,
//! `~/.configrc`) goes with the kit, instead of staying behind empty once its files are quarantined one
//! by one. What such a directory is comes from one place, [`PathClasses::kit_dirs`] (kit-prone, never a
//! listed place itself nor a directory many programs share: `~/.config`, `~/.ssh`, `/tmp/.X11-unix`).
//! Only a directory the snapshot listed whole, whose every recorded entry is a file the plan
//! quarantines (or a subdirectory of such files), is planned; a directory holding anything else keeps
//! it, and its kit files go one by one as before. At run time each directory is checked by identity
//! and removed only when empty (`rmdir`), so whatever appeared in it since the snapshot stays, and the
//! run says so.
//!
//! [`PathClasses::kit_dirs`]: crate::indicators::paths::PathClasses::kit_dirs

use std::collections::BTreeSet;

use minetrace_schemas::records::file::{FileKind, FileRecord};

use super::plan::DirTarget;
use crate::indicators::paths::PathClasses;
use crate::model::HostModel;

/// The kit directories of the files the plan quarantines (`quarantined`, by path): per kit directory,
/// it and its subdirectories, deepest first (the kit directory last). The outermost qualifying
/// directory of a file wins, so no two nest.
pub fn kit_dirs(
    model: &HostModel,
    paths: &PathClasses,
    quarantined: &BTreeSet<Vec<u8>>,
) -> Vec<Vec<DirTarget>> {
    let mut candidates: BTreeSet<(usize, Vec<u8>)> = BTreeSet::new();
    for path in quarantined {
        for dir in paths.kit_dirs(path) {
            let depth = dir.iter().filter(|b| **b == b'/').count();
            candidates.insert((depth, dir.to_vec()));
        }
    }
    let mut chosen: Vec<Vec<DirTarget>> = Vec::new();
    let mut taken: Vec<Vec<u8>> = Vec::new();
    // Outermost first: a kit directory takes the ones inside it.
    for (_, dir) in candidates {
        let inside_taken = taken.iter().any(|t| {
            dir.strip_prefix(t.as_slice())
                .is_some_and(|rest| rest.first() == Some(&b'/'))
        });
        if inside_taken {
            continue;
        }
        if let Some(dirs) = whole_kit(model, quarantined, &dir) {
            taken.push(dir);
            chosen.push(dirs);
        }
    }
    chosen
}

/// A directory record the collector listed whole (no cap, no error).
fn listed(f: &FileRecord) -> bool {
    f.kind == FileKind::Directory && f.error.is_none()
}

/// `dir` and its subdirectories (deepest first, `dir` last) when the snapshot listed it whole and every
/// entry under it is a quarantined file or a listed directory of them; `None` otherwise.
fn whole_kit(
    model: &HostModel,
    quarantined: &BTreeSet<Vec<u8>>,
    dir: &[u8],
) -> Option<Vec<DirTarget>> {
    let top = model.file(dir).filter(|f| listed(f))?;
    let prefix = [dir, b"/"].concat();
    let mut dirs = Vec::new();
    let mut files = 0usize;
    for f in model.files_under(&prefix) {
        if listed(f) {
            dirs.push(DirTarget {
                path: f.path.clone(),
                dev: f.dev,
                ino: f.ino,
            });
        } else if f.kind == FileKind::Regular && quarantined.contains(f.path.as_bytes()) {
            files += 1;
        } else {
            return None;
        }
    }
    if files == 0 {
        return None;
    }
    let depth = |d: &DirTarget| d.path.as_bytes().iter().filter(|b| **b == b'/').count();
    dirs.sort_by(|a, b| {
        depth(b)
            .cmp(&depth(a))
            .then_with(|| a.path.as_bytes().cmp(b.path.as_bytes()))
    });
    dirs.dedup_by(|a, b| a.path == b.path);
    dirs.push(DirTarget {
        path: top.path.clone(),
        dev: top.dev,
        ino: top.ino,
    });
    Some(dirs)
}
