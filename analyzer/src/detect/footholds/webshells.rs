//! Web shells (`MT-PER-070`, T1505.003): server-side scripts in web roots that evaluate what a request
//! sends. Intrusions through a web application leave many and every one must go; a real application
//! (a CMS, a shop) evaluates its own templates and decodes its own data, never request input.
//!
//! Content (the captured head of each script, bounded): a statement that passes request input
//! (`$_GET`, `$_POST`, `$_REQUEST`, `$_COOKIE`, `$_SERVER`, `$_FILES`, `php://input`, `getallheaders`,
//! `request.getParameter`) to a code or command sink (`eval`, `assert`, `system`, `passthru`,
//! `shell_exec`, `exec`, `popen`, `proc_open`, `pcntl_exec`, `create_function`, `call_user_func`,
//! `include`/`require`, `Runtime.exec`, `ProcessBuilder`) scores 4; a sink fed by a decoder (`base64_decode`,
//! `gzinflate`, `gzuncompress`, `str_rot13`, `hex2bin`, ...) or a variable function call fed by one, a
//! `preg_replace` with the `/e` modifier, or a sink name spelt backwards or in rot13, 3. A sink alone
//! (`eval($code)` of a snippet the admin stored) and a decoder alone (`base64_decode` of the app's own
//! cookie) score nothing.
//!
//! Place and provenance add one point each: a hidden name; an upload, cache, temp or `.well-known`
//! directory; owned by a service account (the web server's user) where most of that web root's scripts are
//! another account's; changed more than a week after most of the web root's scripts. Severity: content 3
//! or more is needed; 3 medium, 4-5 high, 6+ critical.

use std::collections::BTreeMap;

use minetrace_schemas::findings::{Finding, Severity};
use minetrace_schemas::records::file::FileRecord;

use super::common::{describe_file, quote_line};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::{Kind, PathClass};
use crate::parse::{basename, numbered_lines};

/// Bytes of one script read.
const MAX_READ: usize = 64 << 10;

/// Request input, lowercase.
const INPUTS: &[&str] = &[
    "$_get",
    "$_post",
    "$_request",
    "$_cookie",
    "$_files",
    "php://input",
    "getallheaders",
    "request.getparameter",
    "request.getheader",
    "request.getinputstream",
    "request.form",
    "request.querystring",
];

/// `$_SERVER` entries the client writes (headers, the query, the path), lowercase: the others
/// (`document_root`, `script_filename`, ...) are the server's own and carry no request input.
const CLIENT_SERVER_KEYS: &[&str] = &[
    "http_",
    "query_string",
    "request_uri",
    "path_info",
    "php_self",
    "php_auth_",
    "argv",
];

/// The request input a line reads (lowercase line): a request superglobal or API, or a `$_SERVER`
/// entry the client writes.
fn request_input(t: &str) -> Option<&'static str> {
    if let Some(i) = INPUTS.iter().find(|i| t.contains(**i)) {
        return Some(i);
    }
    t.match_indices("$_server[").find_map(|(at, m)| {
        let key = t.get(at + m.len()..)?.trim_start_matches([' ', '\'', '"']);
        CLIENT_SERVER_KEYS
            .iter()
            .any(|k| key.starts_with(k))
            .then_some("$_server[")
    })
}

/// Decoders that turn an opaque literal into code.
const DECODERS: &[&str] = &[
    "base64_decode",
    "gzinflate",
    "gzuncompress",
    "gzdecode",
    "str_rot13",
    "hex2bin",
    "strrev",
    "convert_uudecode",
    "rawurldecode",
];

/// Directory names where applications write and never keep code.
const WRITE_DIRS: &[&str] = &[
    "upload",
    "uploads",
    "cache",
    "tmp",
    "temp",
    "files",
    "images",
    ".well-known",
];

/// Whether `name(` is called in `text` (lowercase): preceded by no identifier character.
fn calls(text: &str, name: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|t| t.find(name)) {
        let at = from + i;
        let before = text.get(..at).and_then(|b| b.chars().next_back());
        let ident_before = before.is_some_and(|c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '>' || c == ':'
        });
        let after = text.get(at + name.len()..).unwrap_or_default().trim_start();
        if !ident_before && after.starts_with('(') {
            return true;
        }
        from = at + name.len();
    }
    false
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='m' | 'A'..='M' => (c as u8 + 13) as char,
            'n'..='z' | 'N'..='Z' => (c as u8 - 13) as char,
            _ => c,
        })
        .collect()
}

/// String literals of a line (single or double quoted), lowercase.
fn literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for q in ['\'', '"'] {
        let parts: Vec<&str> = text.split(q).collect();
        for (i, p) in parts.iter().enumerate() {
            if i % 2 == 1 && p.len() <= 64 {
                out.push(p.to_ascii_lowercase());
            }
        }
    }
    out
}

/// A variable called as a function: `$f(`, `@$f (`.
fn variable_call(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name_len = j - i - 1;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            if name_len > 0 && j < b.len() && b[j] == b'(' {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// What one statement (line) of a script does, scored (see the module documentation). `sinks` are the
/// `webshell_sink` indicators (lowercase, in set order: the first called is the one named).
fn judge_line(sinks: &[&str], line: &str) -> Option<(u32, String)> {
    let t = line.to_ascii_lowercase();
    let sink = sinks.iter().find(|s| calls(&t, s));
    let input = request_input(&t);
    let decoder = DECODERS.iter().find(|d| calls(&t, d));
    let disguised = literals(&t).into_iter().find_map(|l| {
        let back: String = l.chars().rev().collect();
        let r = rot13(&l);
        sinks
            .iter()
            .find(|s| (back == **s || r == **s) && s.len() >= 4)
            .map(|s| (l, *s))
    });
    let e_modifier = calls(&t, "preg_replace")
        && literals(&t)
            .iter()
            .any(|l| l.starts_with('/') && l.rsplit('/').next().is_some_and(|m| m.contains('e')));
    match (sink, input, decoder) {
        (Some(s), Some(i), _) => Some((4, format!("passes request input ({i}) to {s}()"))),
        _ if e_modifier && input.is_some() => Some((
            4,
            "preg_replace with the /e modifier evaluates request input".to_owned(),
        )),
        _ if e_modifier => Some((
            3,
            "preg_replace with the /e modifier evaluates code".to_owned(),
        )),
        (Some(s), None, Some(d)) => Some((3, format!("runs decoded code: {s}() of {d}()"))),
        (None, _, Some(d)) if variable_call(&t) => {
            Some((3, format!("calls a variable function on {d}() output")))
        }
        (None, Some(i), _) if variable_call(&t) => Some((
            4,
            format!("calls a variable function on request input ({i})"),
        )),
        _ => disguised.map(|(l, s)| {
            (
                3,
                format!("spells the sink {s}() as {l:?} (reversed or rot13) to hide it"),
            )
        }),
    }
}

/// The web root a script belongs to: the `web_root` prefix and the directory below it.
fn app_root<'a>(ctx: &Context, path: &'a [u8]) -> Option<&'a [u8]> {
    let prefix = ctx
        .iocs
        .paths()
        .matched_prefix(PathClass::WebRoot, path)
        .filter(|n| path.len() > *n)?;
    let rest = path.get(prefix..)?;
    let next = rest.iter().position(|b| *b == b'/')?;
    path.get(..prefix + next + 1)
}

/// A server-side script by its name: the list the collector's web-root walk records
/// (`schemas/src/locations.rs`), so every script collected is judged.
fn is_web_script(path: &[u8]) -> bool {
    minetrace_schemas::locations::is_web_script(basename(path))
}

/// Per web root: the most common owner uid and the median mtime of its scripts.
fn app_norms<'a>(ctx: &Context<'a>) -> BTreeMap<&'a [u8], (u32, i64)> {
    let mut by_root: BTreeMap<&[u8], Vec<&FileRecord>> = BTreeMap::new();
    for f in ctx.model.regular_files() {
        let p = f.path.as_bytes();
        if !is_web_script(p) {
            continue;
        }
        if let Some(root) = app_root(ctx, p) {
            by_root.entry(root).or_default().push(f);
        }
    }
    by_root
        .into_iter()
        .map(|(root, files)| {
            let mut owners: BTreeMap<u32, usize> = BTreeMap::new();
            for f in &files {
                *owners.entry(f.uid).or_default() += 1;
            }
            let owner = owners
                .iter()
                .max_by_key(|(uid, n)| (**n, std::cmp::Reverse(**uid)))
                .map_or(0, |(uid, _)| *uid);
            let mut times: Vec<i64> = files.iter().map(|f| f.mtime.secs).collect();
            times.sort_unstable();
            let median = times.get(times.len() / 2).copied().unwrap_or(0);
            (root, (owner, median))
        })
        .collect()
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let norms = app_norms(ctx);
    let sinks: Vec<&str> = ctx.iocs.set(Kind::WebshellSink).collect();
    let accounts = &ctx.model.accounts;
    let mut out = Vec::new();
    for f in ctx.model.regular_files() {
        let path = f.path.as_bytes();
        if !is_web_script(path) || !ctx.iocs.paths().is(PathClass::WebRoot, path) {
            continue;
        }
        let Some(bytes) = ctx.model.content(f) else {
            continue;
        };
        let bytes = bytes.get(..MAX_READ).unwrap_or(bytes);
        let mut content: Option<(u32, String, u32, Vec<u8>)> = None;
        for (n, raw) in numbered_lines(bytes) {
            let Some((points, why)) = judge_line(&sinks, &String::from_utf8_lossy(raw)) else {
                continue;
            };
            if content.as_ref().is_none_or(|c| points > c.0) {
                content = Some((points, why, n, raw.to_vec()));
            }
        }
        let Some((points, why, line, raw)) = content else {
            continue;
        };
        let mut score = points;
        let mut reasons = vec![format!("{why}: {}", quote_line(&f.path, line, &raw))];
        let name = basename(path);
        if name.first() == Some(&b'.') {
            score += 1;
            reasons.push("a hidden file name".to_owned());
        }
        let dirs = String::from_utf8_lossy(path.get(..path.len() - name.len()).unwrap_or_default())
            .to_ascii_lowercase();
        if let Some(d) = WRITE_DIRS
            .iter()
            .find(|d| dirs.split('/').any(|c| c == **d))
        {
            score += 1;
            reasons.push(format!(
                "in a {d} directory, where the application writes data, not code"
            ));
        }
        if let Some((owner, median)) = app_root(ctx, path).and_then(|r| norms.get(r)) {
            let service = accounts
                .by_uid(f.uid)
                .is_some_and(|a| accounts.is_service(ctx.iocs, &a.name));
            if f.uid != *owner && service {
                score += 1;
                reasons.push(format!(
                    "owned by the service account {} while most of the application's scripts are uid {owner}'s",
                    accounts
                        .by_uid(f.uid)
                        .map_or_else(|| f.uid.to_string(), |a| minetrace_schemas::escape_bytes(&a.name))
                ));
            }
            if f.mtime.secs > median.saturating_add(7 * 86_400) {
                score += 1;
                reasons.push(
                    "changed more than a week after most of the application's scripts".to_owned(),
                );
            }
        }
        let severity = match score {
            0..=2 => continue,
            3 => Severity::Medium,
            4..=5 => Severity::High,
            _ => Severity::Critical,
        };
        let mut finding = finding(&rules::PER_070, severity).subject(file_subject(f));
        for r in reasons {
            finding = finding.evidence(r);
        }
        out.push(finding.evidence(format!("file: {}", describe_file(f))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::indicators::Indicators;

    fn sinks(iocs: &Indicators) -> Vec<&str> {
        iocs.set(Kind::WebshellSink).collect()
    }

    #[test]
    fn statements_that_evaluate_requests_or_hidden_code() {
        let iocs = Indicators::builtin();
        let sinks = sinks(&iocs);
        let hits = [
            "<?php @eval(base64_decode($_POST['k'])); ?>",
            "<?php if (isset($_REQUEST['c'])) { system($_REQUEST['c']); } ?>",
            "<?php $f = str_rot13('nffreg'); @$f(gzinflate(base64_decode('Y0zTyC=='))); ?>",
            "@preg_replace('/.*/e', $_POST['cmd'] ?? '', '');",
            "<?php $x = strrev('tressa'); $x($_GET[1]);",
            "<% Runtime.getRuntime().exec(request.getParameter(\"cmd\")); %>",
            "<?php echo `$_GET[c]`; eval($_COOKIE['a']);",
            "<?php system($_SERVER['HTTP_X_CMD']);",
        ];
        for h in hits {
            assert!(judge_line(&sinks, h).is_some_and(|(p, _)| p >= 3), "{h}");
        }
        let clean = [
            "$result = eval( $code );",
            "$cart = json_decode(base64_decode($request->cookie('cart', '')), true) ?? [];",
            "$p_string = @gzinflate($v_data);",
            "return $data ? unserialize( base64_decode( $data ) ) : false;",
            "include_once '/var/www/blog/wp-content/plugins/wordfence/waf/bootstrap.php';",
            "require_once($_SERVER['DOCUMENT_ROOT'].'/wp-load.php');",
            "include $_SERVER[\"SCRIPT_FILENAME\"] . '.inc';",
            "<?php echo $__env->make('layouts.app', \\Illuminate\\Support\\Arr::except(get_defined_vars(), ['__data', '__path']))->render(); ?>",
            "$response = $kernel->handle($request = Request::capture())->send();",
            "curl_exec($ch);",
            "$stmt->execute([$_POST['id']]);",
        ];
        for c in clean {
            assert_eq!(judge_line(&sinks, c), None, "{c}");
        }
    }

    #[test]
    fn an_iocs_file_adds_sinks() {
        let line = "<?php zz_run($_GET['c']);";
        let mut iocs = Indicators::builtin();
        assert_eq!(judge_line(&sinks(&iocs), line), None);
        iocs.add_text("mine.txt", "webshell_sink zz_run\n").unwrap();
        let judged = judge_line(&sinks(&iocs), line);
        assert!(
            judged
                .as_ref()
                .is_some_and(|(p, why)| *p == 4 && why.contains("zz_run()")),
            "{judged:?}"
        );
    }

    /// Issue 11 (facts once): the script names are the collector's list (`locations::WEB_SCRIPT_EXT`),
    /// which now adds Perl, Python, shell and ColdFusion to what this rule judges. Look-alikes: an
    /// application's Perl and shell CGI and its Python tooling stay clean (their content has no request
    /// input reaching a sink); dropped `.phtml`, `.php5`, `.jspx` shells and a Python one that runs
    /// `request.form` are found (the Python one was collected and never judged before).
    #[test]
    fn one_script_list_judges_dropped_shells_and_leaves_application_cgi() {
        let iocs = Indicators::builtin();
        let files: [(&str, &[u8], bool); 7] = [
            (
                "/var/www/cgi-bin/search.pl",
                b"#!/usr/bin/perl
use CGI qw(param);
my $q = param('q');
system('/usr/bin/grep', '-rl', '--', $q, '/srv/docs');
",
                false,
            ),
            (
                "/var/www/cgi-bin/status.cgi",
                b"#!/bin/sh
echo 'Content-Type: text/plain'
echo
exec /usr/bin/uptime
",
                false,
            ),
            (
                "/var/www/app/manage.py",
                b"import os
os.system('python3 -m compileall -q .')
",
                false,
            ),
            (
                "/var/www/html/uploads/x.phtml",
                b"<?php @eval($_POST['k']); ?>
",
                true,
            ),
            (
                "/var/www/html/images/y.PHP5",
                b"<?php system($_GET['c']); ?>
",
                true,
            ),
            (
                "/var/www/html/z.jspx",
                b"<jsp:scriptlet>Runtime.getRuntime().exec(request.getParameter(\"c\"));</jsp:scriptlet>\n",
                true,
            ),
            (
                "/var/www/html/uploads/s.py",
                b"import os
from flask import request
os.system(request.form['c'])
",
                true,
            ),
        ];
        let model = crate::model::fixture::model(
            files
                .iter()
                .map(|(p, b, _)| crate::model::fixture::file(p.as_bytes(), Some(b)))
                .collect(),
            Vec::new(),
        );
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        for (path, _, shell) in files {
            let subject = found.iter().any(|f| {
                f.rule == rules::PER_070.id
                    && f.iter_subjects().any(|s| {
                        matches!(s, minetrace_schemas::findings::Subject::File { path: p, .. } if p.as_bytes() == path.as_bytes())
                    })
            });
            assert_eq!(subject, shell, "{path}: {found:#?}");
        }
    }

    /// Every web root the collector walks is one the detector judges (one list: schemas/src/locations.rs
    /// WEB_ROOTS): a JSP shell in the official Tomcat image's webapps was collected and never judged.
    #[test]
    fn scripts_in_every_collected_web_root_are_judged() {
        let shell: &[u8] = b"<% Runtime.getRuntime().exec(request.getParameter(\"cmd\")); %>\n";
        let iocs = Indicators::builtin();
        for path in [
            "/usr/local/tomcat/webapps/ROOT/cmd.jsp",
            "/var/lib/tomcat10/webapps/mgmt/cmd.jsp",
            "/usr/local/apache2/htdocs/up/s.jsp",
            "/var/lib/jetty9/webapps/app/c.jsp",
        ] {
            let model = crate::model::fixture::model(
                vec![crate::model::fixture::file(path.as_bytes(), Some(shell))],
                Vec::new(),
            );
            let found = detect(&Context {
                model: &model,
                iocs: &iocs,
            });
            assert!(
                found
                    .iter()
                    .any(|f| f.rule == rules::PER_070.id && f.severity >= Severity::High),
                "{path}: {found:#?}"
            );
        }
    }
}
