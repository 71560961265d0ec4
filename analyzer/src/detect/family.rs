//! Family attribution, run after every detector: a finding gets a family when what it is about — a running
//! process, a persisting file or line, an installed key — matches a family marker. Strings inside a script
//! that merely mention a rival never count.
//!
//! What each subject offers to the markers (`family NAME KIND VALUE` in `indicators/families.txt`):
//! - a process: its executable path (`path`), its exe basename, comm and argv[0] (`name`), the exe's
//!   sha256 (`hash`);
//! - a file: its path (`path`, `preload` for the library itself, `unit` for a unit file's name), basename
//!   (`name`), sha256 (`hash`); an empty placeholder (≤ 2 bytes: a vaccine or a rival's squat) offers
//!   nothing;
//! - a persistence entry: the file's path (`path`, `unit`) and the line read back from the bundle — `cron`
//!   markers as substrings of the line, and `path`/`name`/`preload` markers only against what the line
//!   *runs or loads* (not against arguments of `pkill`, `rm`, `grep`, ...), `key_comment` against the
//!   comment of a key line;
//! - an ssh key: the comment of its line (`key_comment`) and the key file's path.
//!
//! When markers of several families match, the family with the most matches wins (ties: the first in the
//! indicator file); the evidence says which marker matched what.

use std::collections::BTreeMap;

use minetrace_schemas::findings::{Finding, Subject};
use minetrace_schemas::RawBytes;

use crate::detect::markers::{self, name_marker_matches, path_marker_matches};
use crate::detect::runtime::support::{self, Names};
use crate::detect::Context;
use crate::indicators::MarkerKind;
use crate::indicators::{FamilyMarker, Indicators};
use crate::parse;

/// One marker matched against one thing.
struct Hit<'a> {
    marker: &'a FamilyMarker,
    what: String,
}

/// A weak marker (an ordinary word) attributes only what sits in a drop place
/// ([`markers::second_property`]); a weak unit name only through the unit detector, which weighs what the
/// unit starts.
fn match_path<'a>(
    iocs: &Indicators,
    markers: &'a [FamilyMarker],
    path: &[u8],
    what: &str,
    hits: &mut Vec<Hit<'a>>,
) {
    let base = support::lower(support::basename(path));
    for m in markers {
        let ok = match m.kind {
            MarkerKind::Path | MarkerKind::Preload => path_marker_matches(&m.value, path),
            MarkerKind::Name => name_marker_matches(&m.value, support::basename(path)),
            MarkerKind::Unit => !m.weak && base == m.value.to_ascii_lowercase(),
            _ => false,
        } && markers::marker_counts(iocs, m, path);
        if ok {
            hits.push(Hit {
                marker: m,
                what: format!("{what} {}", RawBytes::from(path).escaped()),
            });
        }
    }
}

fn match_hash<'a>(markers: &'a [FamilyMarker], sha: Option<&str>, hits: &mut Vec<Hit<'a>>) {
    let Some(sha) = sha else { return };
    for m in markers
        .iter()
        .filter(|m| m.kind == MarkerKind::Hash && m.value.eq_ignore_ascii_case(sha))
    {
        hits.push(Hit {
            marker: m,
            what: format!("sha256 {sha}"),
        });
    }
}

/// The text of line `line` (1-based) of a captured file (the model's entry: no rescan per line).
fn line_of<'m>(ctx: &'m Context, path: &RawBytes, line: u32) -> Option<&'m [u8]> {
    ctx.model.line_of(path.as_bytes(), line)
}

fn match_key_comment<'a>(
    markers: &'a [FamilyMarker],
    raw: &[u8],
    line: u32,
    hits: &mut Vec<Hit<'a>>,
) -> bool {
    let Some(key) = parse::authorized_keys::parse_line(line, raw) else {
        return false;
    };
    let comment = support::lower(&key.comment);
    for m in markers.iter().filter(|m| m.kind == MarkerKind::KeyComment) {
        if !comment.is_empty() && comment.contains(&m.value.to_ascii_lowercase()) {
            hits.push(Hit {
                marker: m,
                what: format!(
                    "key comment {}",
                    RawBytes::from(key.comment.as_slice()).escaped()
                ),
            });
        }
    }
    true
}

fn match_persistence<'a>(
    ctx: &Context,
    markers: &'a [FamilyMarker],
    path: &RawBytes,
    line: u32,
    hits: &mut Vec<Hit<'a>>,
) {
    // The persistence file itself (a unit named pwnrige.service, /etc/cron.d/perfclean). A weak unit
    // name is the unit detector's to weigh (it sets the family when it counts).
    let base = support::lower(support::basename(path.as_bytes()));
    for m in markers {
        let ok = match m.kind {
            MarkerKind::Path => {
                path_marker_matches(&m.value, path.as_bytes())
                    && markers::marker_counts(ctx.iocs, m, path.as_bytes())
            }
            MarkerKind::Unit => !m.weak && base == m.value.to_ascii_lowercase(),
            _ => false,
        };
        if ok {
            hits.push(Hit {
                marker: m,
                what: format!("persistence file {}", path.escaped()),
            });
        }
    }
    let Some(raw) = line_of(ctx, path, line) else {
        return;
    };
    if match_key_comment(markers, raw, line, hits) {
        return;
    }
    let shell = parse::shell_line::analyze(raw);
    let text = support::lower(raw);
    let escaped = RawBytes::from(raw).escaped();
    let shown: String = escaped.chars().take(200).collect();
    if !shell.mention_only {
        for m in markers.iter().filter(|m| m.kind == MarkerKind::Cron) {
            if text.contains(&m.value.to_ascii_lowercase()) {
                hits.push(Hit {
                    marker: m,
                    what: format!("line {line} of {}: {shown}", path.escaped()),
                });
            }
        }
    }
    // What the line runs, and what an ld.so.preload line loads.
    let preload_file = path.as_bytes().ends_with(b"ld.so.preload");
    let mut targets: Vec<Vec<u8>> = shell.executed.clone();
    if preload_file {
        targets.extend(parse::words(raw).map(<[u8]>::to_vec));
    }
    for t in targets {
        for m in markers {
            let ok = match m.kind {
                MarkerKind::Path => path_marker_matches(&m.value, &t),
                MarkerKind::Name => name_marker_matches(&m.value, support::basename(&t)),
                MarkerKind::Preload => preload_file && t == m.value.as_bytes(),
                _ => false,
            } && markers::marker_counts(ctx.iocs, m, &t);
            if ok {
                hits.push(Hit {
                    marker: m,
                    what: format!(
                        "line {line} of {} runs or loads {}",
                        path.escaped(),
                        RawBytes::from(t.as_slice()).escaped()
                    ),
                });
            }
        }
    }
}

fn hits_for<'a>(ctx: &Context, markers: &'a [FamilyMarker], s: &Subject) -> Vec<Hit<'a>> {
    let mut hits = Vec::new();
    match s {
        Subject::Process { pid, exe, .. } => {
            if let Some(e) = exe {
                match_path(
                    ctx.iocs,
                    markers,
                    e.as_bytes(),
                    "process executable",
                    &mut hits,
                );
            }
            if let Some(p) = ctx.model.process(*pid) {
                let names = Names::of(p);
                let exe_path = p
                    .exe
                    .as_ref()
                    .map(|e| e.path.as_bytes())
                    .unwrap_or_default();
                for n in [Some(names.comm.as_str()), names.argv0.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    for m in markers.iter().filter(|m| m.kind == MarkerKind::Name) {
                        if name_marker_matches(&m.value, n.as_bytes())
                            && markers::marker_counts(ctx.iocs, m, exe_path)
                        {
                            hits.push(Hit {
                                marker: m,
                                what: format!(
                                    "process {pid} runs as {}",
                                    RawBytes::from(n).escaped()
                                ),
                            });
                        }
                    }
                }
                let sha = ctx.model.executable_of(p).and_then(|e| e.sha256.as_deref());
                match_hash(markers, sha, &mut hits);
            }
        }
        // An empty placeholder (a vaccine, a rival's squat) names a family's place, not its file.
        Subject::File { path, .. }
            if ctx
                .model
                .file(path.as_bytes())
                .is_some_and(crate::detect::footholds::common::is_placeholder) => {}
        Subject::File { path, sha256 } => {
            match_path(ctx.iocs, markers, path.as_bytes(), "file", &mut hits);
            match_hash(markers, sha256.as_deref(), &mut hits);
        }
        Subject::Persistence { path, line } => {
            match_persistence(ctx, markers, path, *line, &mut hits)
        }
        Subject::SshKey { path, line, .. } => {
            if let Some(raw) = line_of(ctx, path, *line) {
                match_key_comment(markers, raw, *line, &mut hits);
            }
            for m in markers.iter().filter(|m| m.kind == MarkerKind::Path) {
                if path_marker_matches(&m.value, path.as_bytes()) {
                    hits.push(Hit {
                        marker: m,
                        what: format!("key file {}", path.escaped()),
                    });
                }
            }
        }
        Subject::Endpoint { .. }
        | Subject::Account { .. }
        | Subject::FirewallRule { .. }
        | Subject::KernelModule { .. } => {}
    }
    hits
}

/// Sets `family` on findings whose subjects match a family marker and that have none yet.
pub fn attribute(ctx: &Context, findings: &mut [Finding]) {
    let markers = &ctx.iocs.family_markers;
    if markers.is_empty() {
        return;
    }
    for f in findings.iter_mut().filter(|f| f.family.is_none()) {
        let hits: Vec<Hit> = f
            .subjects
            .iter()
            .take(64)
            .flat_map(|s| hits_for(ctx, markers, &s.subject))
            .collect();
        if hits.is_empty() {
            continue;
        }
        // Count per family, remembering the order families first appear in the indicator file.
        let mut counts: BTreeMap<usize, (usize, &str)> = BTreeMap::new();
        for h in &hits {
            let order = markers
                .iter()
                .position(|m| m.family == h.marker.family)
                .unwrap_or(usize::MAX);
            counts.entry(order).or_insert((0, &h.marker.family)).0 += 1;
        }
        let Some((_, (_, family))) = counts
            .iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| b.0.cmp(a.0)))
        else {
            continue;
        };
        let family = (*family).to_owned();
        for h in hits.iter().filter(|h| h.marker.family == family).take(4) {
            f.evidence.push(format!(
                "family {family}: {} matches marker {} {}",
                h.what,
                h.marker.kind,
                RawBytes::from(h.marker.value.as_str()).escaped()
            ));
        }
        f.family = Some(family);
    }
}

#[cfg(test)]
mod tests {
    fn path_matches(path: &str, value: &str) -> bool {
        super::path_marker_matches(value, path.as_bytes())
    }

    fn name_marker_matches(name: &str, value: &str) -> bool {
        super::name_marker_matches(value, name.as_bytes())
    }

    #[test]
    fn path_markers() {
        assert!(path_matches("/root/.configrc/a/kswapd0", "/.configrc/"));
        assert!(path_matches("/tmp/kdevtmpfsi", "/tmp/kdevtmpfsi"));
        assert!(!path_matches("/tmp/kdevtmpfsi.bak", "/tmp/kdevtmpfsi"));
        assert!(!path_matches("/opt/configrc/x", "/.configrc/"));
        assert!(path_matches("/usr/bin/sysdr", "/bin/sysdr"));
        assert!(path_matches("/bin/sysdr", "/usr/bin/sysdr"));
        assert!(!path_matches("/usr/local/bin/sysdr", "/bin/sysdr"));
        assert!(name_marker_matches("dota3.tar.gz", "dota3"));
        assert!(name_marker_matches("kdevtmpfsi206653195", "kdevtmpfsi"));
        assert!(!name_marker_matches("dota3x", "dota3"));
        assert!(!name_marker_matches("dota3.", "dota3"));
    }
}
