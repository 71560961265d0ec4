//! Matching family markers (`indicators/families.txt`) against paths and names, shared by family
//! attribution and the foothold detectors so both read a marker the same way.

use crate::indicators::{FamilyMarker, Indicators, PathClass};
use crate::model::usr_twin;
use crate::parse::contains;

/// A `name` family marker against a file or program name: the name itself, the name followed by digits
/// (`kdevtmpfsi2`), or the name followed by an extension (`dota3.tar.gz`, `kinsing.sh`). ASCII case is
/// ignored.
pub fn name_marker_matches(marker: &str, name: &[u8]) -> bool {
    let m = marker.as_bytes();
    let Some(head) = name.get(..m.len()) else {
        return false;
    };
    if m.is_empty() || !head.eq_ignore_ascii_case(m) {
        return false;
    }
    let rest = name.get(m.len()..).unwrap_or_default();
    rest.is_empty()
        || rest.iter().all(u8::is_ascii_digit)
        || (rest.starts_with(b".") && rest.len() > 1)
}

/// A `path` family marker: exact, or a prefix when it ends in `/`; `~`-relative paths match any home.
/// A marker under `/bin`, `/sbin`, `/lib`, `/lib64` also matches the `/usr` twin and the other way round
/// (merged `/usr`: the attacker's `/usr/bin/sysdr` is the campaign's `/bin/sysdr`).
pub fn path_marker_matches(marker: &str, path: &[u8]) -> bool {
    let matches = |path: &[u8]| {
        let m = marker.as_bytes();
        if m.ends_with(b"/") {
            path.starts_with(m) || (m.starts_with(b"/.") && contains(path, m))
        } else {
            path == m
        }
    };
    matches(path) || usr_twin(path).is_some_and(|t| matches(&t))
}

/// The second property a `weak` family marker (an ordinary word: `bot.service`, `sysupdate`) needs before
/// it counts, for the artifact at `path` it names (the program a line or unit runs, a file at rest, a
/// process's executable): the artifact sits where programs are dropped or never belong — a temp, shared
/// memory or hidden place, or a configuration, log or spool directory (WatchDog's `/etc/sysguard`,
/// Kinsing's `/etc/data/kinsing`). An admin's `/usr/local/sbin/sysupdate.sh` or a chat bot's
/// `/opt/bot/main.py` is not. Every reader of markers asks this, so the word is judged one way.
pub fn second_property(iocs: &Indicators, path: &[u8]) -> bool {
    let c = iocs.paths();
    [PathClass::KitProne, PathClass::Shm, PathClass::Nonexec]
        .into_iter()
        .any(|class| c.is(class, path))
}

/// Whether `marker`, matched on the artifact at `path`, counts: always for a specific value, with the
/// [`second_property`] for a weak one.
pub fn marker_counts(iocs: &Indicators, marker: &FamilyMarker, path: &[u8]) -> bool {
    !marker.weak || second_property(iocs, path)
}
