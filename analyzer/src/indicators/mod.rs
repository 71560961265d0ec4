//! Indicator lists: pool domains and ports, miner names and flags, family markers, known-bad key comments.
//!
//! They are data, not code: the defaults are text files embedded at build time (`indicators/*.txt`, one
//! `kind value...` line each, `#` comments), and `--iocs FILE` adds lines in the same format at run time.
//! A new kind of indicator is a new `Kind` variant plus the detector that reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};

/// The embedded defaults, one file per concern.
const DEFAULTS: &[(&str, &str)] = &[
    ("pools.txt", include_str!("pools.txt")),
    ("miners.txt", include_str!("miners.txt")),
    ("families.txt", include_str!("families.txt")),
    ("ssh.txt", include_str!("ssh.txt")),
    ("system.txt", include_str!("system.txt")),
    ("footholds.txt", include_str!("footholds.txt")),
    ("runtime.txt", include_str!("runtime.txt")),
];

/// Every indicator known to this run, by kind. Values are lowercase where matching is case-insensitive.
#[derive(Debug, Default, Clone)]
pub struct Indicators {
    sets: BTreeMap<String, BTreeSet<String>>,
    /// Family markers: `family NAME KIND VALUE` lines, e.g. `family Kinsing path /etc/kinsing`.
    pub family_markers: Vec<FamilyMarker>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyMarker {
    pub family: String,
    /// `path`, `name`, `cron`, `key_comment`, `unit`, `hash`, `preload`.
    pub kind: String,
    pub value: String,
}

impl Indicators {
    /// The embedded defaults.
    pub fn builtin() -> Indicators {
        let mut ind = Indicators::default();
        for (name, text) in DEFAULTS {
            // Embedded files are tested to parse; a bad line there is a build defect, reported in tests.
            let _ = ind.add_text(name, text);
        }
        ind
    }

    /// Adds the lines of a user-supplied file.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read indicator file {}", path.display()))?;
        self.add_text(&path.display().to_string(), &text)
    }

    /// Parses `kind value` lines; `family NAME KIND VALUE` for family markers.
    pub fn add_text(&mut self, origin: &str, text: &str) -> Result<()> {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(2, char::is_whitespace);
            let kind = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default().trim();
            if value.is_empty() {
                anyhow::bail!("{origin}:{}: expected `kind value`, got {line:?}", n + 1);
            }
            if kind == "family" {
                let mut f = value.splitn(3, char::is_whitespace);
                match (f.next(), f.next(), f.next()) {
                    (Some(family), Some(k), Some(v)) => self.family_markers.push(FamilyMarker {
                        family: family.to_owned(),
                        kind: k.to_owned(),
                        value: v.trim().to_owned(),
                    }),
                    _ => anyhow::bail!(
                        "{origin}:{}: expected `family NAME KIND VALUE`, got {line:?}",
                        n + 1
                    ),
                }
                continue;
            }
            self.sets
                .entry(kind.to_owned())
                .or_default()
                .insert(value.to_ascii_lowercase());
        }
        Ok(())
    }

    /// All values of one kind.
    pub fn set(&self, kind: &str) -> impl Iterator<Item = &str> {
        self.sets
            .get(kind)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    pub fn contains(&self, kind: &str, value: &str) -> bool {
        self.sets
            .get(kind)
            .is_some_and(|s| s.contains(&value.to_ascii_lowercase()))
    }

    /// Whether `text` contains any value of `kind` as a substring (case-insensitive); returns the first.
    pub fn find_in<'a>(&'a self, kind: &str, text: &str) -> Option<&'a str> {
        let lower = text.to_ascii_lowercase();
        self.set(kind).find(|v| lower.contains(*v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_files_parse() {
        let mut ind = Indicators::default();
        for (name, text) in DEFAULTS {
            ind.add_text(name, text).unwrap();
        }
        assert!(ind.contains("pool_port", "3333"));
        assert!(!ind.family_markers.is_empty());
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let err = Indicators::default()
            .add_text("x.txt", "pool_domain a.com\nbroken\n")
            .unwrap_err();
        assert!(err.to_string().contains("x.txt:2"), "{err}");
    }
}
