//! `minetrace completions SHELL` and `minetrace man` (issue 17): generated from the clap definitions, they
//! name every subcommand, and the shells and `man` accept what they print.

use std::process::Command;

const SUBCOMMANDS: &[&str] = &["analyze", "verify", "inspect", "remediate", "fleet"];

fn minetrace(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .args(args)
        .output()
        .expect("run minetrace");
    assert!(
        out.status.success(),
        "minetrace {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn tool(name: &str, install: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "`{name}` is needed for this test: {install}");
    found
}

#[test]
fn bash_completion_loads_and_completes_subcommands_and_views() {
    let script = minetrace(&["completions", "bash"]);
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "bash completion lacks {sub}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("minetrace.bash");
    std::fs::write(&file, &script).expect("write");
    // Load it, then ask it what follows `minetrace inspect BUNDLE ` and `minetrace `.
    let probe = format!(
        "source '{}'; \
         COMP_WORDS=(minetrace ''); COMP_CWORD=1; _minetrace minetrace '' minetrace; echo \"top: ${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(minetrace inspect b.tar.zst ''); COMP_CWORD=3; _minetrace minetrace '' b.tar.zst; echo \"views: ${{COMPREPLY[*]}}\"",
        file.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top = text.lines().find(|l| l.starts_with("top: ")).unwrap_or("");
    for sub in SUBCOMMANDS.iter().chain(&["completions", "man"]) {
        assert!(
            top.split_whitespace().any(|w| w == *sub),
            "{sub} not offered: {text}"
        );
    }
    let views = text
        .lines()
        .find(|l| l.starts_with("views: "))
        .unwrap_or("");
    for v in ["persistence", "ssh", "timeline"] {
        assert!(
            views.split_whitespace().any(|w| w == v),
            "{v} not offered: {text}"
        );
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    let zsh = minetrace(&["completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef minetrace"),
        "{}",
        &zsh[..zsh.len().min(80)]
    );
    let fish = minetrace(&["completions", "fish"]);
    for sub in SUBCOMMANDS {
        assert!(zsh.contains(&format!("'{sub}:")), "zsh lacks {sub}");
        assert!(fish.contains(&format!("-a \"{sub}\"")), "fish lacks {sub}");
    }
    if tool("zsh", "apt-get install zsh") {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("_minetrace");
        std::fs::write(&file, &zsh).expect("write");
        let ok = Command::new("zsh")
            .arg("-n")
            .arg(&file)
            .status()
            .expect("zsh -n");
        assert!(ok.success(), "zsh rejects the completion script");
    }
}

#[test]
fn man_page_renders_with_every_subcommand() {
    let page = minetrace(&["man"]);
    assert!(
        page.contains(".TH minetrace 1"),
        "{}",
        &page[..page.len().min(200)]
    );
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "man page lacks {sub}");
    }
    if tool("groff", "apt-get install groff-base") {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("minetrace.1");
        std::fs::write(&file, &page).expect("write");
        // Every page of `man --dir` renders without a warning.
        let pages = dir.path().join("pages");
        minetrace(&["man", "--dir", pages.to_str().expect("UTF-8 path")]);
        let mut rendered = Vec::new();
        for page in std::iter::once(file).chain(
            std::fs::read_dir(&pages)
                .expect("pages")
                .filter_map(|e| Some(e.ok()?.path())),
        ) {
            let out = Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
                .arg(&page)
                .output()
                .expect("groff");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.status.success(), "{}: {text}", page.display());
            assert!(
                out.stderr.is_empty(),
                "groff warns on {}: {}",
                page.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            rendered.push(text);
        }
        assert!(rendered[0].contains("SUBCOMMANDS"), "{}", rendered[0]);
        for sub in SUBCOMMANDS {
            let name = format!("minetrace-{sub}");
            assert!(
                rendered
                    .iter()
                    .any(|t| t.starts_with(&name) || t.contains(&format!("\n{name}"))),
                "no page for {name}"
            );
        }
    }
}

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/bundles/kinsing-redis.tar.zst")
}

#[test]
fn progress_is_silent_unless_stderr_is_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_minetrace"))
        .arg("analyze")
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .expect("run minetrace");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "stderr is a pipe, yet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // On a terminal (a pty from util-linux `script`), the spinner names the steps on stderr; stdout
    // goes to a file and holds only the summary.
    tool("script", "apt-get install util-linux");
    let summary = dir.path().join("summary.txt");
    let command = format!(
        "'{}' analyze '{}' -o '{}' > '{}'",
        env!("CARGO_BIN_EXE_minetrace"),
        sample().display(),
        dir.path().join("out2").display(),
        summary.display()
    );
    let tty = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("script");
    let seen = String::from_utf8_lossy(&tty.stdout);
    assert!(
        seen.contains("minetrace analyze: "),
        "no progress on a terminal: {seen:?}"
    );
    let printed = std::fs::read_to_string(&summary).expect("summary");
    assert!(printed.starts_with("COMPROMISED: host "), "{printed}");
    assert!(
        !printed.contains("minetrace analyze: "),
        "progress reached stdout"
    );
}

#[test]
fn summary_is_coloured_on_a_terminal_unless_no_color_is_set() {
    tool("script", "apt-get install util-linux");
    let run = |no_color: Option<&str>| {
        let command = format!(
            "'{}' analyze '{}' 2>/dev/null",
            env!("CARGO_BIN_EXE_minetrace"),
            sample().display()
        );
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &command, "/dev/null"]);
        cmd.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        String::from_utf8_lossy(&cmd.output().expect("script").stdout).into_owned()
    };
    let coloured = run(None);
    assert!(
        coloured.contains("\x1b[1;31mCOMPROMISED\x1b[0m"),
        "{coloured:?}"
    );
    let plain = run(Some("1"));
    assert!(plain.contains("COMPROMISED: host "), "{plain:?}");
    assert!(
        !plain.contains('\x1b'),
        "NO_COLOR=1 still coloured: {plain:?}"
    );
}
