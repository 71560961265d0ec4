//! Which bundles make up the fleet and what each host is called: the arguments are bundle files or
//! directories of them (`*.tar.zst`, not recursive), and a host's name is its bundle's file name without
//! the extension — the inventory name the Ansible playbook saves it under. Names become directory
//! names under `hosts/`, so they are reduced to `[A-Za-z0-9._-]` and made unique.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Most bundles one fleet run takes.
pub const MAX_BUNDLES: usize = 100_000;

/// One bundle of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInput {
    /// Inventory name, unique in the fleet, safe as a directory name.
    pub name: String,
    pub path: PathBuf,
    /// The file name as given (escaped for display).
    pub file_name: String,
}

/// Expands files and directories into the fleet's bundles, in argument order (a directory's bundles
/// sorted by file name); a path given twice counts once.
pub fn collect(args: &[PathBuf]) -> Result<Vec<BundleInput>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for arg in args {
        let meta =
            std::fs::metadata(arg).with_context(|| format!("cannot read {}", arg.display()))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
                .with_context(|| format!("cannot list {}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_bundle_name(p) && p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("{} holds no *.tar.zst bundle", arg.display());
            }
            paths.extend(found);
        } else {
            paths.push(arg.clone());
        }
        if paths.len() > MAX_BUNDLES {
            bail!("more than {MAX_BUNDLES} bundles; split the fleet");
        }
    }
    let mut seen_paths = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for path in paths {
        if !seen_paths.insert(path.clone()) {
            continue;
        }
        let file_name = path
            .file_name()
            .map(|n| minetrace_schemas::escape_bytes(n.as_encoded_bytes()))
            .unwrap_or_default();
        let base = inventory_name(&file_name);
        let mut name = base.clone();
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        out.push(BundleInput {
            name,
            path,
            file_name,
        });
    }
    if out.is_empty() {
        bail!("no bundle given");
    }
    Ok(out)
}

fn is_bundle_name(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".tar.zst") && !n.starts_with('.'))
}

/// `web-01.tar.zst` → `web-01`; anything outside `[A-Za-z0-9._-]` becomes `_`; never empty, never
/// starting with a dot.
pub fn inventory_name(file_name: &str) -> String {
    let stem = [".tar.zst", ".zst", ".tar"]
        .iter()
        .find_map(|ext| file_name.strip_suffix(ext))
        .unwrap_or(file_name);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("host{clean}")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_unique() {
        assert_eq!(inventory_name("web-01.tar.zst"), "web-01");
        assert_eq!(inventory_name("../x y.tar.zst"), "host.._x_y");
        assert_eq!(inventory_name(".tar.zst"), "host");
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        for f in ["db.tar.zst", "web.tar.zst", "notes.txt"] {
            std::fs::write(a.join(f), b"x").unwrap();
        }
        let other = dir.path().join("web.tar.zst");
        std::fs::write(&other, b"x").unwrap();
        let got = collect(&[a.clone(), other.clone(), a.join("db.tar.zst")]).unwrap();
        let names: Vec<&str> = got.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["db", "web", "web-2"]);
        assert!(collect(&[dir.path().join("missing")]).is_err());
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(collect(&[empty]).is_err());
    }
}
