//! Web shells (`MT-PER-070`, T1505.003): server-side scripts in web roots that evaluate what a request
//! sends. Intrusions through a web application leave many and every one must go; a real application
//! (a CMS, a shop) evaluates its own templates and decodes its own data, never request input.
//!
//! Content (the captured head of each script, bounded): a statement that passes request input (the
//! `webshell_input` indicators, per language: PHP's `$_GET`, `$_POST`, ..., JSP's `request.getParameter`,
//! Flask's `request.args`, the `cgi` module's `FieldStorage`, CGI.pm's `param(`; and the server variables
//! the client writes: PHP's `$_SERVER['HTTP_...']`, Perl's `$ENV{'QUERY_STRING'}`, a shell CGI's
//! `$QUERY_STRING`) to a code or command sink (PHP's and Perl's backticks, a shell CGI's `eval` or `sh -c`
//! of the input itself, or a `webshell_sink` call: `eval`, `assert`, `system`, `passthru`,
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

mod php_code;

use php_code::{php_regions, PhpAt};

/// Bytes of one script read.
const MAX_READ: usize = 64 << 10;

/// Server variables the client writes (headers, the query, the path), lowercase, as PHP's `$_SERVER`,
/// Perl's `%ENV` and a shell CGI's environment name them: the others (`document_root`, `script_filename`,
/// ...) are the server's own and carry no request input.
const CLIENT_SERVER_KEYS: &[&str] = &[
    "http_",
    "query_string",
    "request_uri",
    "path_info",
    "php_self",
    "php_auth_",
    "argv",
];

/// The language of a script, where it changes how a statement reads request input or runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    /// A shell CGI (`#!/bin/sh`, `.sh`): the request is in its environment (`$QUERY_STRING`), and `eval`
    /// or `sh -c` of it runs what the client sent.
    Shell,
    /// PHP (`.php`, `.phtml`, `.inc`, ...): backticks are its shell operator, but only inside PHP code
    /// (`<?php ... ?>`); between those regions is HTML and JavaScript, whose template literals are
    /// backticks too.
    Php,
    /// Perl (`#!/usr/bin/perl`, or a `.pl`/`.cgi` without an interpreter line): backticks run a shell.
    Perl,
    /// JSP, ASP, Python, ...: request input is read by the `webshell_input` indicators; a backtick is
    /// no shell operator in any of them.
    Other,
}

impl Lang {
    /// By the script's name and first line (its interpreter).
    fn of(name: &[u8], head: &[u8]) -> Lang {
        let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let interpreter = first.strip_prefix(b"#!").map(|rest| {
            let words: Vec<&[u8]> = rest
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .collect();
            // `#!/usr/bin/env bash`: the program env runs.
            match words.as_slice() {
                [env, prog, ..] if basename(env) == b"env" => basename(prog),
                [prog, ..] => basename(prog),
                [] => b"",
            }
        });
        let lower = name.to_ascii_lowercase();
        let php = minetrace_schemas::locations::is_php_script(&lower);
        match interpreter {
            Some(prog) if crate::parse::shell_line::SHELLS.contains(&prog) => Lang::Shell,
            Some(prog) if prog.starts_with(b"perl") => Lang::Perl,
            None if lower.ends_with(b".sh") => Lang::Shell,
            None if lower.ends_with(b".pl") || lower.ends_with(b".cgi") => Lang::Perl,
            _ if php => Lang::Php,
            _ => Lang::Other,
        }
    }
}

/// Whether a lowercase statement reads `input` (a `webshell_input` value): one ending in `(` that starts
/// with a name is a call, not the end of a longer name (`bind_param(` is no `param(`).
fn reads(t: &str, input: &str) -> bool {
    let call = input.ends_with('(') && input.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !call {
        return t.contains(input);
    }
    t.match_indices(input).any(|(at, _)| {
        !t.get(..at)
            .and_then(|b| b.chars().next_back())
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Whether `rest` begins with a client-written server variable's name (after quotes or spaces).
fn client_key(rest: &str) -> bool {
    let key = rest.trim_start_matches([' ', '\'', '"', '{']);
    CLIENT_SERVER_KEYS.iter().any(|k| key.starts_with(k))
}

/// The request input a statement reads (lowercase statement): a `webshell_input` indicator, a
/// client-written entry of PHP's `$_SERVER[...]` or Perl's `$ENV{...}`, or, in a shell CGI, such a
/// variable of its environment (`$QUERY_STRING`, `${HTTP_X}`).
fn request_input(inputs: &[&str], lang: Lang, t: &str) -> Option<String> {
    if let Some(i) = inputs.iter().find(|i| reads(t, i)) {
        return Some((*i).to_owned());
    }
    for open in ["$_server[", "$env{"] {
        if t.match_indices(open)
            .any(|(at, m)| t.get(at + m.len()..).is_some_and(client_key))
        {
            return Some(open.to_owned());
        }
    }
    if lang == Lang::Shell {
        return shell_variable(t).map(|v| format!("${v}"));
    }
    None
}

/// A client-written environment variable a shell statement expands (`$query_string`, `${http_x}`).
fn shell_variable(t: &str) -> Option<&str> {
    t.match_indices('$')
        .find_map(|(at, _)| shell_variable_at_start(t.get(at + 1..)?))
}

/// A shell statement that runs request input as a command line: `eval` or `sh -c` (`bash -c`, ...)
/// whose argument is that input itself (`eval "$QUERY_STRING"`). A CGI that only parses its query
/// (`q=$(echo "$QUERY_STRING" | sed ...)`) runs nothing the client wrote.
fn shell_runs_input(t: &str) -> Option<String> {
    let words: Vec<&str> = t
        .split(|c: char| c.is_ascii_whitespace() || c == ';' || c == '&' || c == '|')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        // `/bin/sh -c`: the program by its name.
        let w = w.rsplit('/').next().unwrap_or(w);
        let arg = match w {
            "eval" => words.get(i + 1),
            // The shells of the one list (`parse::shell_line::SHELLS`).
            _ if crate::parse::shell_line::SHELLS.contains(&w.as_bytes())
                && words.get(i + 1) == Some(&"-c") =>
            {
                words.get(i + 2)
            }
            _ => None,
        };
        let Some(arg) = arg else { continue };
        let arg = arg.trim_start_matches(['"', '\'']);
        if let Some(v) = arg.strip_prefix('$').and_then(shell_variable_at_start) {
            return Some(format!("passes request input (${v}) to {w}"));
        }
    }
    None
}

/// The client-written variable `s` (after its `$`) names at its start (`query_string"`, `{http_x}`).
fn shell_variable_at_start(s: &str) -> Option<&str> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let name = s.get(..end)?;
    CLIENT_SERVER_KEYS
        .iter()
        .any(|k| name.starts_with(k))
        .then_some(name)
}

/// Whether a statement runs request input between backticks (PHP's and Perl's shell operator):
/// `` echo `$_GET[c]`; ``. In PHP only a pair inside PHP code counts (`php_at`: where the line starts,
/// see [`php_code`]): a JavaScript template literal in the page's HTML around `<?php echo esc_js($_GET['s']); ?>` is
/// text the browser reads. A shell's backticks are command substitution (parsing the query with them is
/// routine), and JSP, ASP and Python have no backtick operator.
fn backticks_run(inputs: &[&str], lang: Lang, php_at: &PhpAt, t: &str) -> Option<String> {
    let code = match lang {
        Lang::Perl => vec![t],
        Lang::Php => php_regions(t, php_at).0,
        Lang::Shell | Lang::Other => return None,
    };
    code.into_iter().find_map(|region| {
        let parts: Vec<&str> = region.split('`').collect();
        parts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1 && *i + 1 < parts.len())
            .find_map(|(_, inside)| request_input(inputs, lang, inside))
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
/// `webshell_sink` indicators, `inputs` the `webshell_input` ones (lowercase, in set order: the first
/// called or read is the one named). `php_at`: in PHP, where the line starts (in code, a string, HTML...).
fn judge_line(
    sinks: &[&str],
    inputs: &[&str],
    lang: Lang,
    php_at: &PhpAt,
    line: &str,
) -> Option<(u32, String)> {
    let t = line.to_ascii_lowercase();
    if lang == Lang::Shell {
        if let Some(why) = shell_runs_input(&t) {
            return Some((4, why));
        }
    }
    if let Some(i) = backticks_run(inputs, lang, php_at, &t) {
        return Some((4, format!("runs request input ({i}) between backticks")));
    }
    let sink = sinks.iter().find(|s| calls(&t, s));
    let input = request_input(inputs, lang, &t);
    let input = input.as_deref();
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

/// A directory name of `path` that is an application's write directory ([`WRITE_DIRS`]).
fn write_dir(path: &[u8]) -> Option<&'static str> {
    let name = basename(path);
    let dirs = String::from_utf8_lossy(path.get(..path.len() - name.len()).unwrap_or_default())
        .to_ascii_lowercase();
    WRITE_DIRS
        .iter()
        .find(|d| dirs.split('/').any(|c| c == **d))
        .copied()
}

/// The judgement of web-root scripts, read once per host and shared with the request-log rule
/// (`MT-ENT-001`, which names a script an artifact only when this judges it): the indicators and each
/// web root's norms.
pub struct Judge<'a> {
    norms: BTreeMap<&'a [u8], (u32, i64)>,
    sinks: Vec<&'a str>,
    inputs: Vec<&'a str>,
}

impl<'a> Judge<'a> {
    pub fn new(ctx: &Context<'a>) -> Judge<'a> {
        Judge {
            norms: app_norms(ctx),
            sinks: ctx.iocs.set(Kind::WebshellSink).collect(),
            inputs: ctx.iocs.set(Kind::WebshellInput).collect(),
        }
    }

    /// `MT-PER-070`'s verdict on one file: its severity and evidence, `None` for no web shell.
    fn verdict(&self, ctx: &Context, f: &FileRecord) -> Option<(Severity, Vec<String>)> {
        let path = f.path.as_bytes();
        if !is_web_script(path) || !ctx.iocs.paths().is(PathClass::WebRoot, path) {
            return None;
        }
        let bytes = ctx.model.content(f)?;
        let bytes = bytes.get(..MAX_READ).unwrap_or(bytes);
        let lang = Lang::of(basename(path), bytes);
        let mut content: Option<(u32, String, u32, Vec<u8>)> = None;
        let mut php_at = PhpAt::html();
        for (n, raw) in numbered_lines(bytes) {
            let text = String::from_utf8_lossy(raw);
            let judged = judge_line(&self.sinks, &self.inputs, lang, &php_at, &text);
            if lang == Lang::Php {
                php_at = php_regions(&text.to_ascii_lowercase(), &php_at).1;
            }
            let Some((points, why)) = judged else {
                continue;
            };
            if content.as_ref().is_none_or(|c| points > c.0) {
                content = Some((points, why, n, raw.to_vec()));
            }
        }
        let (points, why, line, raw) = content?;
        let mut score = points;
        let mut reasons = vec![format!("{why}: {}", quote_line(&f.path, line, &raw))];
        if basename(path).first() == Some(&b'.') {
            score += 1;
            reasons.push("a hidden file name".to_owned());
        }
        if let Some(d) = write_dir(path) {
            score += 1;
            reasons.push(format!(
                "in a {d} directory, where the application writes data, not code"
            ));
        }
        let accounts = &ctx.model.accounts;
        if let Some((owner, median)) = app_root(ctx, path).and_then(|r| self.norms.get(r)) {
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
            0..=2 => return None,
            3 => Severity::Medium,
            4..=5 => Severity::High,
            _ => Severity::Critical,
        };
        Some((severity, reasons))
    }

    /// Why a web-root script is the intrusion's own, or `None` for an application's page, with whether
    /// the reason is conclusive: `MT-PER-070` judges it a web shell at high (conclusive) or for review,
    /// or it lies where an application keeps no code and never a page a client requests (a hidden name:
    /// conclusive; a write directory: for review, as libraries ship `cache/` and `files/` code too). A
    /// request to a page is no such reason: any client sends any query to any page (the internet's
    /// ThinkPHP probe asks every `index.php` to `wget`).
    pub fn intrusions(&self, ctx: &Context, f: &FileRecord) -> Option<(bool, String)> {
        if let Some((severity, _)) = self.verdict(ctx, f) {
            return Some((
                severity >= Severity::High,
                "its content is a web shell's (MT-PER-070)".to_owned(),
            ));
        }
        if basename(f.path.as_bytes()).first() == Some(&b'.') {
            return Some((true, "a hidden file name".to_owned()));
        }
        write_dir(f.path.as_bytes()).map(|d| {
            (
                false,
                format!("in a {d} directory, where the application writes data, not code"),
            )
        })
    }
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let judge = Judge::new(ctx);
    let mut out = Vec::new();
    for f in ctx.model.regular_files() {
        let Some((severity, reasons)) = judge.verdict(ctx, f) else {
            continue;
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

    /// Whether a host holding only `content` at `path` has an MT-PER-070 finding at high or above.
    fn a_high_web_shell(iocs: &Indicators, path: &str, content: &[u8]) -> bool {
        let model = crate::model::fixture::model(
            vec![crate::model::fixture::file(path.as_bytes(), Some(content))],
            Vec::new(),
        );
        detect(&Context {
            model: &model,
            iocs,
        })
        .iter()
        .any(|f| f.rule == rules::PER_070.id && f.severity >= Severity::High)
    }

    /// A statement of a script in `lang`, judged with these indicators.
    fn judged(iocs: &Indicators, lang: Lang, line: &str) -> Option<(u32, String)> {
        let sinks: Vec<&str> = iocs.set(Kind::WebshellSink).collect();
        let inputs: Vec<&str> = iocs.set(Kind::WebshellInput).collect();
        judge_line(&sinks, &inputs, lang, &PhpAt::html(), line)
    }

    #[test]
    fn statements_that_evaluate_requests_or_hidden_code() {
        let iocs = Indicators::builtin();
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
            assert!(
                judged(&iocs, Lang::Other, h).is_some_and(|(p, _)| p >= 3),
                "{h}"
            );
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
            assert_eq!(judged(&iocs, Lang::Other, c), None, "{c}");
        }
    }

    #[test]
    fn an_iocs_file_adds_sinks() {
        let line = "<?php zz_run($_GET['c']);";
        let mut iocs = Indicators::builtin();
        assert_eq!(judged(&iocs, Lang::Other, line), None);
        iocs.add_text("mine.txt", "webshell_sink zz_run\n").unwrap();
        let found = judged(&iocs, Lang::Other, line);
        assert!(
            found
                .as_ref()
                .is_some_and(|(p, why)| *p == 4 && why.contains("zz_run()")),
            "{found:?}"
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

    /// Review of train 1, item 8: the request inputs are per language. A Perl CGI shell
    /// (`system(param('c'))`, `$ENV{'QUERY_STRING'}` in backticks), a shell CGI (`eval "$QUERY_STRING"`),
    /// a Flask one (`os.system(request.args.get('c'))`) and a `cgi` module one are found; the same
    /// languages' ordinary CGI stay clean: parsing the query, a fixed command beside a parameter, a
    /// database call binding one.
    #[test]
    fn request_inputs_per_language() {
        let iocs = Indicators::builtin();
        let shells: &[(Lang, &str)] = &[
            (Lang::Other, "system(param('c'));"),
            (
                Lang::Other,
                "my $o = $q->param('cmd'); print `$o`; exec($q->param('cmd'));",
            ),
            (Lang::Perl, "print `$ENV{'QUERY_STRING'}`;"),
            (Lang::Other, "system($ENV{QUERY_STRING});"),
            (Lang::Other, "os.system(request.args.get('c'))"),
            (
                Lang::Other,
                "return subprocess.Popen(request.values['c'], shell=True).communicate()",
            ),
            (Lang::Other, "eval(request.get_data())"),
            (
                Lang::Other,
                "os.popen(cgi.FieldStorage().getvalue('c')).read()",
            ),
            (Lang::Other, "os.system(form.getvalue('cmd'))"),
            (Lang::Php, "<?php echo `$_GET[c]`; ?>"),
            (Lang::Shell, "eval \"$QUERY_STRING\""),
            (Lang::Shell, "eval $QUERY_STRING"),
            (Lang::Shell, "/bin/sh -c \"${HTTP_X_CMD}\" 2>&1"),
        ];
        for (lang, line) in shells {
            assert!(
                judged(&iocs, *lang, line).is_some_and(|(p, _)| p >= 4),
                "{lang:?} {line}: {:?}",
                judged(&iocs, *lang, line)
            );
        }
        let ordinary: &[(Lang, &str)] = &[
            (Lang::Other, "my $q = param('q');"),
            (
                Lang::Other,
                "system('/usr/bin/grep', '-rl', '--', $q, '/srv/docs');",
            ),
            (Lang::Other, "$sth->bind_param(1, $id); $sth->execute();"),
            (Lang::Other, "q = request.args.get('q', '')"),
            (Lang::Other, "os.system('python3 -m compileall -q .')"),
            (Lang::Other, "print `date`;"),
            (Lang::Other, "form = cgi.FieldStorage()"),
            (
                Lang::Shell,
                "q=$(echo \"$QUERY_STRING\" | sed -n 's/^.*q=\\([^&]*\\).*$/\\1/p')",
            ),
            (Lang::Shell, "echo \"$QUERY_STRING\" | tr '&' '\\n'"),
            (Lang::Shell, "eval \"$(resize)\""),
            (Lang::Shell, "exec /usr/bin/uptime"),
            // A PHP variable named like a shell CGI's: only a shell script reads its environment so.
            (Lang::Other, "eval($http_code);"),
        ];
        for (lang, line) in ordinary {
            assert_eq!(judged(&iocs, *lang, line), None, "{lang:?} {line}");
        }
    }

    /// The same per language, as files in a web root: each is an MT-PER-070 finding at high or above.
    #[test]
    fn cgi_shells_of_each_language_are_found() {
        let iocs = Indicators::builtin();
        let files: [(&str, &[u8]); 5] = [
            (
                "/var/www/cgi-bin/x.cgi",
                b"#!/bin/sh\necho 'Content-Type: text/plain'\necho\neval \"$QUERY_STRING\"\n",
            ),
            (
                "/var/www/cgi-bin/m.cgi",
                b"#!/bin/mksh\necho 'Content-Type: text/plain'\necho\nmksh -c \"$QUERY_STRING\"\n",
            ),
            (
                "/var/www/cgi-bin/p.pl",
                b"#!/usr/bin/perl\nuse CGI qw(param);\nprint \"Content-Type: text/plain\\n\\n\";\nsystem(param('c'));\n",
            ),
            (
                "/var/www/app/s.py",
                b"import os\nfrom flask import Flask, request\napp = Flask(__name__)\n@app.route('/s')\ndef s():\n    return os.popen(request.args.get('c')).read()\n",
            ),
            (
                "/var/www/cgi-bin/c.py",
                b"#!/usr/bin/python3\nimport cgi, os\nform = cgi.FieldStorage()\nos.system(form.getvalue('cmd'))\n",
            ),
        ];
        for (path, content) in files {
            assert!(a_high_web_shell(&iocs, path, content), "{path}");
        }
    }

    /// Review of train 2, item 3: backticks are PHP's shell operator only inside PHP code. A theme page
    /// whose JavaScript template literal holds an escaped `$_GET` (or a JSP one holding
    /// `request.getParameter`) is clean; backticks running request input inside `<?php ... ?>`, on the
    /// line or after an earlier line opened the code, stay a high web shell.
    #[test]
    fn backticks_run_a_shell_only_inside_php_code() {
        let iocs = Indicators::builtin();
        let theme: &[u8] = b"<?php get_header(); ?>
<?php $tag = '<?xml ?>'; /* ?> */ ?>
<div id=\"results\"></div>
<script>
fetch(`/wp-json/wp/v2/search?s=<?php echo esc_js($_GET['s']); ?>`).then(r => r.json());
const page = `<?= (int) $_GET['paged'] ?>`;
</script>
<?php get_footer(); ?>
";
        assert!(!a_high_web_shell(
            &iocs,
            "/var/www/html/wp-content/themes/t/search.php",
            theme
        ));
        let jsp: &[u8] = b"<script>const q = `<%= request.getParameter(\"q\") %>`;</script>\n";
        assert!(!a_high_web_shell(&iocs, "/var/www/html/search.jsp", jsp));
        for clean in [
            "fetch(`/wp-json/wp/v2/search?s=<?php echo esc_js($_GET['s']); ?>`)",
            "const q = `<?= htmlspecialchars($_REQUEST['q']) ?>`;",
        ] {
            assert_eq!(judged_php(&iocs, false, clean), None, "{clean}");
        }
        assert_eq!(
            judged(
                &iocs,
                Lang::Other,
                "const q = `<%= request.getParameter(\"q\") %>`;"
            ),
            None
        );
        for (open, shell) in [
            (false, "<?php echo `$_GET[c]`; ?>"),
            (true, "$out = `$_POST['c']`;"),
            (false, "<p>`x`</p><?php print `{$_REQUEST['x']}`;"),
        ] {
            assert!(
                judged_php(&iocs, open, shell).is_some_and(|(p, _)| p >= 4),
                "{shell}"
            );
        }
        for (path, content) in [
            ("/var/www/html/up.php", &b"<?php echo `$_GET[c]`; ?>\n"[..]),
            (
                "/var/www/html/x.php",
                b"<?php\n// tools\n$o = `$_GET[c]`;\necho $o;\n",
            ),
            // Review of train 3, item 7: a `?>` in a string is text, not the end of the code.
            (
                "/var/www/html/y.php",
                b"<?php\n$t = \"?>\";\n$o = `$_GET[c]`;\necho $o;\n",
            ),
            (
                "/var/www/html/z.php",
                b"<?php\n$t = <<<'EOT'\n?>\nEOT;\n$o = `$_GET[c]`;\necho $o;\n",
            ),
            // Review of train 1, item 8: a string inside an interpolation.
            (
                "/var/www/html/w.php",
                b"<?php\n$t = \"{$a[\"?>\"]}\";\n$o = `$_GET[c]`;\necho $o;\n",
            ),
        ] {
            assert!(a_high_web_shell(&iocs, path, content), "{path}");
        }
    }

    /// A PHP statement judged; `open`: the line starts inside PHP code.
    fn judged_php(iocs: &Indicators, open: bool, line: &str) -> Option<(u32, String)> {
        let sinks: Vec<&str> = iocs.set(Kind::WebshellSink).collect();
        let inputs: Vec<&str> = iocs.set(Kind::WebshellInput).collect();
        let at = if open { PhpAt::code() } else { PhpAt::html() };
        judge_line(&sinks, &inputs, Lang::Php, &at, line)
    }

    /// A script's language by its interpreter line, then its name.
    #[test]
    fn shell_cgi_by_interpreter_or_name() {
        for (name, head, lang) in [
            (&b"s.cgi"[..], &b"#!/bin/sh\necho"[..], Lang::Shell),
            (b"s.cgi", b"#!/usr/bin/env bash\n", Lang::Shell),
            // Review of train 2, item 11: the one shell list (`parse::shell_line::SHELLS`) has mksh.
            (b"s.cgi", b"#!/bin/mksh\n", Lang::Shell),
            (b"s.sh", b"echo hi\n", Lang::Shell),
            (b"s.cgi", b"#!/usr/bin/perl\n", Lang::Perl),
            (b"s.cgi", b"print 1;\n", Lang::Perl),
            (b"s.sh", b"#!/usr/bin/python3\n", Lang::Other),
            (b"s.php", b"<?php\n", Lang::Php),
            (b"s.PHTML", b"<html>\n", Lang::Php),
            (b"s.jsp", b"<html>\n", Lang::Other),
        ] {
            assert_eq!(
                Lang::of(name, head),
                lang,
                "{}",
                String::from_utf8_lossy(head)
            );
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
            assert!(a_high_web_shell(&iocs, path, shell), "{path}");
        }
    }
}
