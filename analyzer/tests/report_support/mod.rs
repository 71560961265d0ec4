//! Shared checks for the graph, report and export tests (issue 7): building the real collector, stand-in
//! "miner" processes, and the external validators (Graphviz, stix2-validator, headless Chromium).
//! A missing tool fails the test with the line that installs it; nothing is skipped silently.

#![allow(dead_code)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const POOL: &str = "127.66.0.1:3333";

pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Builds `minetrace-collect` with the cargo running the tests and returns its path.
pub fn collector() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "minetrace-collector",
            "--bin",
            "minetrace-collect",
        ])
        .output()
        .expect("running cargo build for the collector");
    assert!(
        out.status.success(),
        "cargo build -p minetrace-collector failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = target_dir().join("debug").join("minetrace-collect");
    assert!(
        bin.is_file(),
        "collector binary missing at {}",
        bin.display()
    );
    bin
}

/// Collects a dead-box tree with the real collector (`--root ROOT -o BUNDLE`); fails with its stderr.
pub fn collect_root(root: &Path, bundle: &Path) {
    let collected = Command::new(collector())
        .arg("--root")
        .arg(root)
        .arg("-o")
        .arg(bundle)
        .output()
        .expect("collector");
    assert!(
        collected.status.success(),
        "{}",
        String::from_utf8_lossy(&collected.stderr)
    );
}

/// Fails with the install line when a required tool is missing.
pub fn require(cmd: &str, args: &[&str], install: &str) {
    let ok = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "required tool `{cmd}` is missing or broken; install it with: {install}"
    );
}

/// Children killed when dropped (only the processes this test started).
#[derive(Default)]
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A listener on the fake pool address, retried while another test holds the port.
pub fn pool_listener() -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match TcpListener::bind(POOL) {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for {POOL}: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("cannot bind the fake pool {POOL}: {e}"),
        }
    }
}

/// Starts a copy of /bin/sleep at `exe` under `arg0`, optionally holding `stdin` (a socket).
pub fn stand_in(exe: &Path, arg0: &str, stdin: Option<TcpStream>) -> Child {
    std::fs::copy("/bin/sleep", exe).expect("copy /bin/sleep");
    let mut cmd = Command::new(exe);
    cmd.arg0(arg0)
        .arg("600")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match stdin {
        Some(s) => cmd.stdin(Stdio::from(std::os::fd::OwnedFd::from(s))),
        None => cmd.stdin(Stdio::null()),
    };
    cmd.spawn().expect("start stand-in")
}

/// Runs `dot -Tsvg` on a file; returns the SVG.
pub fn dot_svg(path: &Path) -> String {
    require("dot", &["-V"], "apt-get install -y graphviz");
    let out = Command::new("dot")
        .arg("-Tsvg")
        .arg(path)
        .output()
        .expect("run dot");
    assert!(
        out.status.success(),
        "dot -Tsvg rejected {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Validates a STIX 2.1 bundle with the OASIS `stix2-validator` package.
pub fn validate_stix(path: &Path) {
    let probe = Command::new("python3")
        .args(["-c", "import stix2validator"])
        .output();
    let ok = probe.as_ref().is_ok_and(|o| o.status.success());
    assert!(ok, "python3 with the stix2-validator package is required; install it with: pip install stix2-validator");
    let script = "import sys, stix2validator\n\
r = stix2validator.validate_file(sys.argv[1], stix2validator.ValidationOptions(version='2.1'))\n\
stix2validator.print_results(r)\n\
sys.exit(0 if r.is_valid else 1)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("run stix2-validator");
    assert!(
        out.status.success(),
        "stix2-validator rejected {}:\n{}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks the Timesketch JSONL: one object per line with `message`, ISO 8601 UTC `datetime`,
/// `timestamp_desc` and `timestamp`. Returns the objects.
pub fn timeline(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read timeline.jsonl");
    assert!(
        !text.trim_start().starts_with('['),
        "timeline.jsonl must not be a JSON array"
    );
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("timeline line {}: {e}: {line}", n + 1));
        for k in ["message", "datetime", "timestamp_desc"] {
            assert!(
                v.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "line {} lacks {k}: {line}",
                n + 1
            );
        }
        assert!(
            v.get("timestamp").and_then(Value::as_i64).is_some(),
            "line {} lacks timestamp: {line}",
            n + 1
        );
        let dt = v["datetime"].as_str().unwrap_or_default();
        assert!(
            dt.len() == 27 && dt.ends_with('Z') && dt.as_bytes().get(10) == Some(&b'T'),
            "datetime not ISO 8601 UTC: {dt}"
        );
        out.push(v);
    }
    out
}

/// Checks the Cytoscape.js document: every edge's ends are nodes, ids unique, levels and confidences
/// consistent. Returns it.
pub fn cytoscape(path: &Path) -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(path).expect("read graph.json"))
        .expect("graph.json parses");
    let nodes = v["elements"]["nodes"]
        .as_array()
        .expect("elements.nodes")
        .clone();
    let edges = v["elements"]["edges"]
        .as_array()
        .expect("elements.edges")
        .clone();
    let mut ids = std::collections::HashSet::new();
    for n in &nodes {
        let id = n["data"]["id"].as_str().expect("node id");
        assert!(ids.insert(id.to_owned()), "duplicate node id {id}");
        assert!(
            n["data"]["label"].is_string() && n["data"]["type"].is_string(),
            "node {id} lacks label/type"
        );
    }
    for e in &edges {
        let d = &e["data"];
        for end in ["source", "target"] {
            let id = d[end].as_str().expect("edge end");
            assert!(ids.contains(id), "edge {} names missing node {id}", d["id"]);
        }
        let conf = d["confidence"].as_u64().expect("confidence");
        match d["level"].as_str().expect("level") {
            "observed" => assert_eq!(conf, 85),
            "parsed" => assert_eq!(conf, 50),
            "suspected" => assert_eq!(conf, 15),
            other => panic!("unknown level {other}"),
        }
        assert!(
            d["rule"].as_str().is_some_and(|r| !r.is_empty()),
            "edge without rule: {e}"
        );
        assert!(
            d["evidence"].as_array().is_some_and(|a| !a.is_empty()),
            "edge without evidence: {e}"
        );
    }
    v
}

/// The node objects of a Cytoscape document.
pub fn nodes(doc: &Value) -> Vec<Value> {
    doc["elements"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn edges(doc: &Value) -> Vec<Value> {
    doc["elements"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Asserts the report loads nothing from anywhere: no script, no external resource, only in-page refs.
pub fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "href=", "@import",
        "<base", "srcset",
    ] {
        assert!(!lower.contains(bad), "report.html contains `{bad}`");
    }
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        let after = &rest[at + 4..];
        assert!(
            after.starts_with('#'),
            "report.html has a non-fragment url(): {}",
            &after[..after.len().min(40)]
        );
        rest = after;
    }
    assert!(
        lower.contains("content-security-policy") && lower.contains("default-src 'none'"),
        "report.html lacks its CSP"
    );
}

/// Headless Chromium with a throw-away profile and nothing that reaches the network: the flags every
/// report test runs it with (screenshots here, the canvas measurements in `report_canvas.rs`).
pub fn headless_chromium(profile: &Path) -> Command {
    require("chromium", &["--version"], "apt-get install -y chromium");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Screenshots a local HTML file with headless Chromium; returns the PNG bytes.
pub fn screenshot(html: &Path, png: &Path) -> Vec<u8> {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", html.display());
    let mut child = headless_chromium(profile.path())
        .arg("--hide-scrollbars")
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,2000")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().expect("wait chromium") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            assert!(status.success(), "chromium failed ({status}):\n{err}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let bytes = std::fs::read(png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    bytes
}

/// Copies outputs somewhere to look at when `MINETRACE_KEEP_OUTPUTS` names a directory.
pub fn keep(dir: &Path, label: &str) {
    if let Some(dest) = std::env::var_os("MINETRACE_KEEP_OUTPUTS") {
        let dest = PathBuf::from(dest).join(label);
        let _ = std::fs::create_dir_all(&dest);
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let _ = std::fs::copy(e.path(), dest.join(e.file_name()));
            }
        }
    }
}
