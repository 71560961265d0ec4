//! `MT-PER-080`: the authentication stack loads the intruder's code (T1556.003). A PAM module runs inside
//! sshd, `su`, `sudo` and every login with the password in hand: Skidmap's backdoored `pam_unix` accepts a
//! master password, and a `pam_exec.so expose_authtok PROGRAM` line hands every typed password to a
//! program. Two shapes, read from the stacks in `/etc/pam.d` (`locations::PAM_CONFIG_DIR`):
//! - a module given by path in a temp, shared-memory, hidden or home place (a dropped `.so`, a
//!   dot-named file beside the distribution's modules); by path outside the system's module directories
//!   elsewhere, a weak sign (a module an admin built into `/usr/local/lib/security`);
//! - `pam_exec.so` running a program: its command judged as a boot line is (`score_line`), plus one
//!   point when `expose_authtok` hands it the password.
//!
//! A module replaced in place under its own name (Skidmap's `pam_unix.so`) is `MT-EVA-020`'s: the package
//! check of `pam_unix.so` says so. The service files themselves are the host's (a missing
//! `/etc/pam.d/sshd` locks everyone out): a finding names the line, which the remediation removes, and the
//! file only as context.

use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::locations::{directly_in, is_pam_module_dir_file, PAM_CONFIG_DIR};
use minetrace_schemas::records::file::FileKind;

use super::common::{self, Score};
use crate::detect::finding::{file_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::paths::PathClass;
use crate::parse::pam_conf::{self, control_is_skippable, PamLine};
use crate::parse::{basename, shell_line::ShellLine};

/// `pam_exec` options that come before its program (pam_exec(8)).
const PAM_EXEC_OPTIONS: &[&[u8]] = &[
    b"debug",
    b"expose_authtok",
    b"quiet",
    b"quiet_log",
    b"seteuid",
    b"stdout",
];

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let mut out = Vec::new();
    for file in model.files.iter().filter(|f| {
        f.kind == FileKind::Regular && directly_in(&[PAM_CONFIG_DIR], f.path.as_bytes())
    }) {
        let Some(content) = model.content(file) else {
            continue;
        };
        for l in pam_conf::parse(content) {
            let (mut score, shell, odd) = judge(ctx, &l);
            // A locked stack adds to a line already suspicious, never to the one point of an admin's own
            // module build (hardening locks /etc/pam.d too).
            if score.points >= 2 {
                common::lock_points(file, &mut score);
            }
            let Some(mut f) = common::line_finding(
                ctx,
                &rules::PER_080,
                file,
                l.line,
                &l.raw,
                &score,
                shell.as_ref(),
            ) else {
                continue;
            };
            // What the stack loads from a drop place is the intrusion's once the line is high — when the
            // file is what the line says it is (a module an ELF object, a program executable), no package
            // owns it, and taking it away cannot fail the stack (a skippable control: a missing module on
            // a `required` line denies every login while the line stays). Otherwise the line's text
            // alone, the attacker's, would steer a quarantine onto any file it names: context.
            let takeable = f.severity >= Severity::High && control_is_skippable(&l.control);
            for p in &odd {
                if let Some(rec) = model.file_aliased(p) {
                    let role = if takeable && is_what_the_line_loads(ctx, &l, p, rec) {
                        Role::Artifact
                    } else {
                        Role::Context
                    };
                    f = f.subject_as(file_subject(rec), role);
                }
            }
            out.push(f);
        }
    }
    out
}

/// Whether the file a line names is the kind of file the line loads: a module an ELF object, a
/// pam_exec program executable; in both cases one no package owns.
fn is_what_the_line_loads(
    ctx: &Context,
    l: &PamLine,
    path: &[u8],
    rec: &minetrace_schemas::records::file::FileRecord,
) -> bool {
    let model = ctx.model;
    if rec.kind != FileKind::Regular || model.owned_by_package(rec.path.as_bytes()) {
        return false;
    }
    if path == l.module.as_slice() {
        model
            .content(rec)
            .is_some_and(|b| b.starts_with(b"\x7fELF"))
    } else {
        common::looks_executable(model, rec)
    }
}

/// The line's score, the pam_exec command's shell reading, and the files it loads or runs from a temp,
/// shared-memory, hidden or home place.
fn judge(ctx: &Context, l: &PamLine) -> (Score, Option<ShellLine>, Vec<Vec<u8>>) {
    let paths = ctx.iocs.paths();
    let mut score = Score::default();
    let mut odd = Vec::new();
    let module = &l.module;
    let shown = minetrace_schemas::escape_bytes(module);
    if module.starts_with(b"/") {
        if paths.is(PathClass::KitProne, module) || paths.is(PathClass::Home, module) {
            score.add(
                4,
                format!(
                    "loads module {shown} from a temporary, hidden or home place into every login"
                ),
            );
            odd.push(module.clone());
        } else if !is_pam_module_dir_file(module) {
            score.add(
                1,
                format!("loads module {shown} from outside the system's module directories"),
            );
        }
    }
    let mut shell = None;
    if matches!(basename(module), b"pam_exec.so" | b"pam_exec") {
        let is_option = |a: &Vec<u8>| {
            PAM_EXEC_OPTIONS.contains(&a.as_slice())
                || a.starts_with(b"log=")
                || a.starts_with(b"type=")
        };
        let exposes = l.args.iter().any(|a| a == b"expose_authtok");
        let command = l
            .args
            .iter()
            .skip_while(|a| is_option(a))
            .cloned()
            .collect::<Vec<_>>()
            .join(&b' ');
        if !command.is_empty() {
            let (s, sh) = common::score_line(ctx, &command);
            if s.points > 0 {
                odd.extend(sh.temp_exec(paths).into_iter().map(<[u8]>::to_vec));
                odd.extend(sh.hidden_exec(paths).into_iter().map(<[u8]>::to_vec));
            }
            let scored = s.points > 0;
            score.merge(s);
            if scored && exposes {
                score.add(
                    1,
                    "expose_authtok hands the password typed at every login to the program",
                );
            }
            shell = Some(sh);
        }
    }
    (score, shell, odd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;
    use minetrace_schemas::findings::Subject;

    #[test]
    fn modules_and_programs_from_drop_places_are_judged_an_admins_stack_is_not() {
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/etc/pam.d/common-auth",
                    Some(b"auth\t[success=2 default=ignore]\tpam_unix.so nullok\nauth sufficient /lib/x86_64-linux-gnu/security/.pam_sys.so\nauth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n"),
                ),
                fixture::file(
                    b"/etc/pam.d/sshd",
                    Some(b"@include common-auth\nauth optional pam_exec.so quiet expose_authtok /var/tmp/.ssh-agent/ssh-log\nauth required pam_google_authenticator.so nullok\nsession optional pam_exec.so seteuid log=/var/log/login-notify.log /usr/local/sbin/login-notify\nauth [success=1 default=ignore] /lib64/security/pam_duo.so\n"),
                ),
                fixture::file(
                    b"/etc/pam.d/sudo",
                    Some(b"auth required /usr/local/lib/security/pam_yubico.so id=16\n"),
                ),
                fixture::file(b"/lib/x86_64-linux-gnu/security/.pam_sys.so", Some(b"\x7fELF")),
                fixture::file(b"/var/tmp/.ssh-agent/ssh-log", Some(b"#!/bin/sh\nread p\n")),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let mut lines: Vec<(String, u32, Severity)> = found
            .iter()
            .flat_map(|f| {
                f.subjects.iter().filter_map(|s| match &s.subject {
                    Subject::Persistence { path, line } => Some((
                        String::from_utf8_lossy(path.as_bytes()).into_owned(),
                        *line,
                        f.severity,
                    )),
                    _ => None,
                })
            })
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                ("/etc/pam.d/common-auth".into(), 2, Severity::High),
                ("/etc/pam.d/sshd".into(), 2, Severity::High),
                ("/etc/pam.d/sudo".into(), 1, Severity::Low),
            ],
            "{found:?}"
        );
        // The dropped module and the password logger are the intrusion's; the service files are context.
        for (dropped, service) in [
            (
                &b"/lib/x86_64-linux-gnu/security/.pam_sys.so"[..],
                &b"/etc/pam.d/common-auth"[..],
            ),
            (b"/var/tmp/.ssh-agent/ssh-log", b"/etc/pam.d/sshd"),
        ] {
            let Some(f) = found.iter().find(|f| {
                f.iter_subjects()
                    .any(|s| matches!(s, Subject::File { path, .. } if path.as_bytes() == dropped))
            }) else {
                panic!(
                    "{} is no subject: {found:?}",
                    String::from_utf8_lossy(dropped)
                );
            };
            for s in &f.subjects {
                if let Subject::File { path, .. } = &s.subject {
                    let want = if path.as_bytes() == service {
                        Role::Context
                    } else {
                        Role::Artifact
                    };
                    assert_eq!(s.role, want, "{f:?}");
                }
            }
        }
    }

    #[test]
    fn a_file_the_line_names_is_taken_only_when_it_is_what_the_line_loads_and_its_loss_fails_nothing(
    ) {
        // An admin's database in a home named as a module ('-' skips a module that fails to load), and a
        // real dropped module on a `required` line (gone while the line stays: every login denied).
        let model = fixture::model(
            vec![
                fixture::file(
                    b"/etc/pam.d/common-auth",
                    Some(
                        b"-auth optional /home/alice/.local/share/app/data.sqlite
auth required /dev/shm/.pam_x.so
auth [success=1 default=ignore] pam_unix.so nullok
",
                    ),
                ),
                fixture::file(
                    b"/home/alice/.local/share/app/data.sqlite",
                    Some(b"SQLite format 3\0"),
                ),
                fixture::file(b"/dev/shm/.pam_x.so", Some(b"\x7fELF")),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        for named in [
            &b"/home/alice/.local/share/app/data.sqlite"[..],
            b"/dev/shm/.pam_x.so",
        ] {
            let roles: Vec<Role> = found
                .iter()
                .filter(|f| f.severity >= Severity::High)
                .flat_map(|f| f.subjects.iter())
                .filter(|s| matches!(&s.subject, Subject::File { path, .. } if path.as_bytes() == named))
                .map(|s| s.role)
                .collect();
            assert_eq!(
                roles,
                vec![Role::Context],
                "{}: {found:?}",
                String::from_utf8_lossy(named)
            );
        }
    }
}
