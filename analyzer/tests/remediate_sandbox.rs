//! The generated script run for real, inside a throwaway sandbox: `unshare --mount --pid --net --fork
//! --mount-proc` with a private tmpfs for everything planted, so nothing reaches the host (its /etc, its
//! processes, its firewall). Stand-in "miners" are copies of `sleep` under hostile names; the snapshot is
//! taken by the real collector inside the sandbox, and the records the plan needs (processes, planted
//! files) come from the sandbox's own /proc and filesystem when the collector does not record them yet.
//!
//! Needs root (namespaces, mounts), bash, nft, python3, chattr and shellcheck, as scripts/test.sh installs.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use minetrace_analyzer::indicators::Indicators;
use minetrace_analyzer::model::HostModel;
use minetrace_analyzer::parse::authorized_keys;
use minetrace_analyzer::remediate::plan::Action;
use minetrace_analyzer::remediate::{plan_lines, script, Plan};
use minetrace_schemas::bundle::{members, BundleWriter};
use minetrace_schemas::findings::{
    Finding, FindingSubject, FindingsDocument, Role, Severity, Subject, Verdict, FINDINGS_SCHEMA,
};
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
use minetrace_schemas::records::process::{ExeLink, FileId, ProcessRecord};
use minetrace_schemas::records::RecordSetV1;
use minetrace_schemas::RawBytes;
use sha2::{Digest, Sha256};

/// Stand-in names: the executable's file name (no `/` possible there) and its argv[0].
const HOSTILE_NAMES: &[(&[u8], &[u8])] = &[
    (b"$(touch${IFS}.pwned)", b"$(touch /tmp/pwned)"),
    (b"`touch .pwned`", b"`touch /tmp/pwned`"),
    (b"-x 'q\"uote", b"-x 'q\"uote' \"$(touch /tmp/pwned)\""),
    (b"new\nline", b"kworker/0:1\n$(touch /tmp/pwned)"),
    (b"\xff\xfe-inv;*", b"\xff\xfe\x1b[31m;*"),
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// --- the sandbox ------------------------------------------------------------------------------------

struct Sandbox {
    /// Host temp dir: bundle, script, scratch. Visible inside the sandbox at the same path.
    base: tempfile::TempDir,
    /// Inside path of the private tmpfs (an empty directory on the host).
    root: PathBuf,
    unshare: Child,
    /// Host pid of the sandbox's pid 1.
    init: i32,
    /// `/etc` is an overlay whose upper layer is in the tmpfs: account changes stay in the sandbox.
    etc_private: std::cell::Cell<bool>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let base = tempfile::tempdir().expect("tempdir");
        let root = base.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let ready = base.path().join("ready");
        // pid 1 reaps every orphan (bash's SIGCHLD handler waits for any child) and never forks again, so
        // pids inside stay predictable.
        let init = r#"mount -t tmpfs -o mode=0755 mt-sandbox "$1" || exit 1
ip link set lo up 2>/dev/null
trap : CHLD
sleep infinity &
s=$!
echo ok >"$2"
while :; do wait "$s"; done"#;
        let unshare = Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--net",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "--",
            ])
            .args(["/bin/bash", "-c", init, "mt-sandbox-init"])
            .arg(&root)
            .arg(&ready)
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "sandbox did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id())).unwrap();
        let init: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
        Sandbox {
            base,
            root,
            unshare,
            init,
            etc_private: std::cell::Cell::new(false),
        }
    }

    /// Puts an overlay over `/etc` inside the sandbox, its writable layer in the tmpfs, and keeps
    /// `/dev/log` from reaching the host's syslog.
    fn private_etc(&self) {
        self.sh_ok(
            r#"mkdir -p -- "$1/etc-up" "$1/etc-work" &&
mount -t overlay mt-etc -o "lowerdir=/etc,upperdir=$1/etc-up,workdir=$1/etc-work" /etc &&
if [ -e /dev/log ]; then mount --bind /dev/null /dev/log; fi"#,
            &[&self.inner(b"")],
        );
        self.etc_private.set(true);
    }

    /// The host path of an inside path (through the sandbox's mount namespace).
    fn outside(&self, inside: &[u8]) -> PathBuf {
        let mut p = format!("/proc/{}/root", self.init).into_bytes();
        p.extend_from_slice(inside);
        PathBuf::from(std::ffi::OsStr::from_bytes(&p))
    }

    /// Inside path of a planted file.
    fn inner(&self, rel: &[u8]) -> Vec<u8> {
        let mut p = self.root.as_os_str().as_bytes().to_vec();
        p.push(b'/');
        p.extend_from_slice(rel);
        p
    }

    fn write(&self, rel: &[u8], bytes: &[u8], mode: u32) {
        let path = self.outside(&self.inner(rel));
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn read(&self, rel: &[u8]) -> Vec<u8> {
        std::fs::read(self.outside(&self.inner(rel))).unwrap()
    }

    /// Runs a bash script inside the sandbox; host bytes go as arguments, never into the script text.
    fn sh(&self, script: &str, args: &[&[u8]]) -> Output {
        let mut cmd = Command::new("nsenter");
        cmd.args([
            "-t",
            &self.init.to_string(),
            "-m",
            "-p",
            "-n",
            "--",
            "/bin/bash",
            "-c",
            script,
            "mt",
        ]);
        for a in args {
            cmd.arg(std::ffi::OsStr::from_bytes(a));
        }
        cmd.stdin(Stdio::null()).output().expect("nsenter runs")
    }

    fn sh_ok(&self, script: &str, args: &[&[u8]]) -> String {
        let out = self.sh(script, args);
        assert!(
            out.status.success(),
            "{script}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Starts `exe` with argv[0] = `arg0` inside the sandbox; returns its pid there.
    fn spawn(&self, exe: &[u8], arg0: &[u8]) -> i32 {
        let out = self.sh_ok(
            r#"( exec -a "$1" "$2" 600 ) </dev/null >/dev/null 2>&1 & echo "$!""#,
            &[arg0, exe],
        );
        out.trim().parse().unwrap()
    }

    fn proc_stat(&self, pid: i32) -> Option<(char, u64)> {
        let stat = std::fs::read(self.outside(format!("/proc/{pid}/stat").as_bytes())).ok()?;
        let close = stat.iter().rposition(|b| *b == b')')?;
        let rest = String::from_utf8_lossy(stat.get(close + 2..)?).into_owned();
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some((f.first()?.chars().next()?, f.get(19)?.parse().ok()?))
    }

    fn alive(&self, pid: i32) -> bool {
        matches!(self.proc_stat(pid), Some((s, _)) if s != 'Z' && s != 'X')
    }

    /// Runs the script inside the sandbox.
    fn run_script(&self, script: &Path, args: &[&str]) -> Output {
        let mut all: Vec<&[u8]> = vec![script.as_os_str().as_bytes()];
        all.extend(args.iter().map(|a| a.as_bytes()));
        self.sh(r#"exec bash "$@""#, &all)
    }

    /// A digest of everything planted (paths, types, modes, owners, link targets, contents, except the
    /// quarantine), the live processes and the firewall ruleset.
    fn state(&self) -> String {
        let mut entries = BTreeMap::new();
        walk(&self.outside(&self.inner(b"")), b"", &mut entries);
        entries.retain(|k, _| !k.starts_with(b"/q"));
        let mut pids: Vec<String> = std::fs::read_dir(self.outside(b"/proc"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| self.alive(*p))
            .map(|p| p.to_string())
            .collect();
        pids.sort();
        let nft = text(&self.sh("nft list ruleset 2>&1", &[]).stdout);
        format!("{entries:?}\npids {}\n{nft}", pids.join(","))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // pid 1 of the namespace going takes every process in it along, and the tmpfs with it.
        unsafe_free_kill(self.init);
        let _ = self.unshare.wait();
    }
}

fn unsafe_free_kill(pid: i32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

fn walk(dir: &Path, rel: &[u8], out: &mut BTreeMap<Vec<u8>, String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let mut r = rel.to_vec();
        r.push(b'/');
        r.extend_from_slice(e.file_name().as_bytes());
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let what = if m.file_type().is_symlink() {
            format!("link {:?}", std::fs::read_link(&p).ok())
        } else if m.is_dir() {
            walk(&p, &r, out);
            "dir".into()
        } else {
            format!(
                "file {}",
                sha256_hex(&std::fs::read(&p).unwrap_or_default())
            )
        };
        out.insert(
            r,
            format!("{what} mode {:o} uid {} gid {}", m.mode(), m.uid(), m.gid()),
        );
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// --- the real collector -----------------------------------------------------------------------------

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn collector() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // A prebuilt collector may be named (while the workspace's collector is mid-edit, for instance).
        if let Some(bin) = std::env::var_os("MINETRACE_COLLECT_BIN") {
            return PathBuf::from(bin);
        }
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "minetrace-collector"])
            .current_dir(workspace())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the collector failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|d| {
                if d.is_absolute() {
                    d
                } else {
                    workspace().join(d)
                }
            })
            .unwrap_or_else(|| workspace().join("target"));
        target.join("debug/minetrace-collect")
    })
}

/// Collects the sandbox with the real collector and loads the bundle.
fn collect(sb: &Sandbox) -> (PathBuf, HostModel) {
    let bundle = sb.base.path().join("real.tar.zst");
    let out = sb.sh(
        r#"exec "$1" -o "$2""#,
        &[
            collector().as_os_str().as_bytes(),
            bundle.as_os_str().as_bytes(),
        ],
    );
    assert!(out.status.success(), "collector: {}", text(&out.stderr));
    let (model, problems) =
        minetrace_analyzer::load::model(&bundle, false).expect("the real bundle loads");
    assert!(problems.is_empty());
    (bundle, model)
}

// --- records from the sandbox -----------------------------------------------------------------------

/// What the plan needs about planted things, read from the sandbox where the real bundle lacks it.
#[derive(Default)]
struct Facts {
    processes: Vec<ProcessRecord>,
    executables: Vec<ExecutableRecord>,
    files: Vec<(FileRecord, Vec<u8>)>,
    /// Symbolic links (no content).
    links: Vec<FileRecord>,
}

impl Facts {
    fn process(&mut self, sb: &Sandbox, real: &HostModel, pid: i32) -> ProcessRecord {
        if let Some(p) = real.process(pid) {
            // The collector recorded it: use its record as is.
            let p = p.clone();
            if let Some(e) = real.executable_of(&p) {
                self.executables.push(e.clone());
            }
            self.processes.push(p.clone());
            return p;
        }
        let (_, start_ticks) = sb.proc_stat(pid).unwrap();
        let exe_link =
            std::fs::read_link(sb.outside(format!("/proc/{pid}/exe").as_bytes())).unwrap();
        let exe_path = exe_link.as_os_str().as_bytes().to_vec();
        let meta = std::fs::metadata(sb.outside(&exe_path)).unwrap();
        let bytes = std::fs::read(sb.outside(format!("/proc/{pid}/exe").as_bytes())).unwrap();
        let file = FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let cmdline = std::fs::read(sb.outside(format!("/proc/{pid}/cmdline").as_bytes())).unwrap();
        let comm = std::fs::read(sb.outside(format!("/proc/{pid}/comm").as_bytes())).unwrap();
        let p = ProcessRecord {
            pid,
            ppid: 1,
            start_ticks,
            comm: RawBytes::from(comm.strip_suffix(b"\n").unwrap_or(&comm)),
            cmdline: RawBytes::from(cmdline),
            exe: Some(ExeLink {
                path: RawBytes::from(exe_path.clone()),
                deleted: false,
                nlink: Some(meta.nlink()),
                memfd: false,
                file: Some(file),
            }),
            state: "S".into(),
            ..Default::default()
        };
        self.executables.push(ExecutableRecord {
            file,
            path: RawBytes::from(exe_path),
            size: bytes.len() as u64,
            sha256: Some(sha256_hex(&bytes)),
            deleted: false,
            memfd: false,
            pids: vec![pid],
            copy: CopyStatus::NotNeeded,
            copy_reasons: Vec::new(),
            error: None,
        });
        self.processes.push(p.clone());
        p
    }

    fn file(&mut self, sb: &Sandbox, rel: &[u8], category: &str) -> RawBytes {
        let inner = sb.inner(rel);
        let outside = sb.outside(&inner);
        let m = std::fs::symlink_metadata(&outside).unwrap();
        let bytes = std::fs::read(&outside).unwrap();
        let member = format!("fs/planted/{}", self.files.len());
        let rec = FileRecord {
            path: RawBytes::from(inner.clone()),
            category: category.into(),
            kind: FileKind::Regular,
            link_target: None,
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: m.len(),
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
            mtime: FileTime::default(),
            atime: FileTime::default(),
            ctime: FileTime::default(),
            btime: None,
            flags: None,
            immutable: false,
            append_only: false,
            sha256: Some(sha256_hex(&bytes)),
            member: Some(member),
            truncated: false,
            error: None,
        };
        self.files.push((rec, bytes));
        RawBytes::from(inner)
    }

    /// A symbolic link as the collector records one: `lstat` identity and the target.
    fn link(&mut self, sb: &Sandbox, rel: &[u8]) -> RawBytes {
        let inner = sb.inner(rel);
        let outside = sb.outside(&inner);
        let m = std::fs::symlink_metadata(&outside).unwrap();
        let target = std::fs::read_link(&outside).unwrap();
        self.links.push(FileRecord {
            path: RawBytes::from(inner.clone()),
            category: "history".into(),
            kind: FileKind::Symlink,
            link_target: Some(RawBytes::from(target.as_os_str().as_bytes())),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: m.len(),
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
            mtime: FileTime::default(),
            atime: FileTime::default(),
            ctime: FileTime::default(),
            btime: None,
            flags: None,
            immutable: false,
            append_only: false,
            sha256: None,
            member: None,
            truncated: false,
            error: None,
        });
        RawBytes::from(inner)
    }

    /// A bundle holding the real bundle's host and manifest plus these records, loaded back.
    fn model(&self, real: &HostModel, dir: &Path) -> HostModel {
        let path = dir.join("planned.tar.zst");
        let out = std::fs::File::create(&path).unwrap();
        let mut w = BundleWriter::new(out, 0, 0).unwrap();
        let mut processes = real.processes.clone();
        for p in &self.processes {
            if !processes.iter().any(|q| q.pid == p.pid) {
                processes.push(p.clone());
            }
        }
        let mut executables = real.executables.clone();
        for e in &self.executables {
            if !executables.iter().any(|q| q.file == e.file) {
                executables.push(e.clone());
            }
        }
        let mut files = real.files.clone();
        for (f, bytes) in &self.files {
            files.retain(|g| g.path != f.path);
            files.push(f.clone());
            w.add(f.member.as_deref().unwrap(), bytes).unwrap();
        }
        for l in &self.links {
            files.retain(|g| g.path != l.path);
            files.push(l.clone());
        }
        for f in &real.files {
            if let (Some(m), Some(bytes)) = (&f.member, real.content(f)) {
                if !self.files.iter().any(|(g, _)| g.path == f.path) {
                    let _ = w.add(m, bytes);
                }
            }
        }
        w.add_records(members::HOST, &RecordSetV1::Host(real.host.clone()))
            .unwrap();
        w.add_records(members::PROCESSES, &RecordSetV1::Processes(processes))
            .unwrap();
        w.add_records(members::EXECUTABLES, &RecordSetV1::Executables(executables))
            .unwrap();
        w.add_records(members::FILES, &RecordSetV1::Files(files))
            .unwrap();
        let mut manifest = real.manifest.clone();
        manifest.members.clear();
        w.finish(manifest).unwrap();
        minetrace_analyzer::load::model(&path, false).unwrap().0
    }
}

/// The plan for a model and findings, as an analysis of them builds it (graph included).
fn plan_for(model: HostModel, document: FindingsDocument) -> Plan {
    let analysis = minetrace_analyzer::analysis::Analysis {
        model,
        document,
        integrity_problems: Vec::new(),
        iocs: Indicators::builtin(),
    };
    minetrace_analyzer::remediate::build_plan(&analysis)
}

/// A finding about its subjects themselves: every one an artifact (accounts included).
fn finding(rule: &str, severity: Severity, subjects: Vec<Subject>) -> Finding {
    Finding {
        rule: rule.into(),
        severity,
        title: format!("test finding {rule}"),
        family: None,
        attack: Vec::new(),
        subjects: subjects
            .into_iter()
            .map(|s| FindingSubject::with_role(s, Role::Artifact))
            .collect(),
        evidence: Vec::new(),
    }
}

fn document(model: &HostModel, findings: Vec<Finding>) -> FindingsDocument {
    FindingsDocument {
        schema: FINDINGS_SCHEMA.into(),
        verdict: Verdict::Compromised,
        tampered: false,
        bundle_sha256: model.bundle_sha256.clone(),
        host: model.manifest.host.clone(),
        analyzer_version: "test".into(),
        findings,
        entry: Vec::new(),
    }
}

fn process_subject(p: &ProcessRecord) -> Subject {
    Subject::Process {
        pid: p.pid,
        start_ticks: p.start_ticks,
        exe: p.exe.as_ref().map(|e| e.path.clone()),
    }
}

/// An ssh-ed25519 public key blob from 32 key bytes, and its base64 text.
fn ed25519(seed: u8) -> (Vec<u8>, String) {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend(std::iter::repeat_n(seed, 32));
    let text = STANDARD.encode(&blob);
    (blob, text)
}

/// Every file target of a plan must lie in the sandbox's tmpfs before the script may run with --apply.
fn assert_confined(plan: &Plan, sb: &Sandbox) {
    let root = sb.inner(b"");
    for item in &plan.items {
        let path = match &item.action {
            Action::PreserveFile(f) | Action::QuarantineFile { file: f, .. } => Some(&f.path),
            Action::RemoveLines { file, .. }
            | Action::RemoveUnit { file, .. }
            | Action::Reinstall { file, .. } => Some(&file.path),
            Action::RemoveLink(l) => Some(&l.path),
            Action::LockAccount { .. } => {
                assert!(
                    sb.etc_private.get(),
                    "account actions need the private /etc"
                );
                None
            }
            _ => None,
        };
        if let Some(p) = path {
            assert!(
                p.as_bytes().starts_with(&root),
                "plan targets {} outside the sandbox",
                p.escaped()
            );
        }
    }
}

fn write_script(sb: &Sandbox, plan: &Plan) -> PathBuf {
    let path = sb.base.path().join("remediate.sh");
    minetrace_analyzer::remediate::write_script(&script::render(plan), &path).unwrap();
    path
}

fn pwned_absent(sb: &Sandbox) {
    assert!(
        !Path::new("/tmp/pwned").exists(),
        "/tmp/pwned appeared on the host"
    );
    assert!(
        !sb.outside(b"/tmp/pwned").exists(),
        "/tmp/pwned appeared in the sandbox"
    );
}

// --- the scenarios ----------------------------------------------------------------------------------

const CRON_BEFORE_HEAD: &[u8] =
    b"# m h dom mon dow command\r\n*/5 * * * * /usr/bin/true \"legit arg\"\r\n";
const CRON_TAIL: &[u8] = b"0 3 * * * /usr/local/bin/backup `legit` $HOME";

/// The operator's quarantine directory `q`, private as `--quarantine` expects (root's, 0700): an existing
/// directory others may read is kept as it is and the script quarantines into a subdirectory of it.
fn private_quarantine(sb: &Sandbox) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        sb.outside(&sb.inner(b"q")),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
}

#[test]
fn hostile_names_are_remediated_byte_exactly_and_undone() {
    let sb = Sandbox::new();
    pwned_absent(&sb);
    for d in [&b"bin"[..], b"spool", b"home", b"home/.ssh", b"q", b"etc"] {
        std::fs::create_dir(sb.outside(&sb.inner(d))).unwrap();
    }
    private_quarantine(&sb);
    let sleep = std::fs::read("/bin/sleep").unwrap();
    // A unit with Restart=always and its enablement link (systemd does not run in the sandbox, so the
    // script removes the link and the file itself).
    let unit_rel = b"etc/systemd/system/mt-test-miner.service";
    let unit_text =
        b"[Service]\nExecStart=/tmp/x\nRestart=always\n[Install]\nWantedBy=multi-user.target\n";
    sb.sh_ok(
        r#"mkdir -p -- "$1/etc/systemd/system/multi-user.target.wants" &&
ln -s -- "$1/etc/systemd/system/mt-test-miner.service" "$1/etc/systemd/system/multi-user.target.wants/mt-test-miner.service""#,
        &[&sb.inner(b"")],
    );
    sb.write(unit_rel, unit_text, 0o644);
    let wants_rel = b"etc/systemd/system/multi-user.target.wants/mt-test-miner.service";

    // Stand-in miners under hostile names, and one harmless process that must survive.
    let mut miners = Vec::new();
    for (name, arg0) in HOSTILE_NAMES {
        let rel = [b"bin/".as_slice(), name].concat();
        sb.write(&rel, &sleep, 0o755);
        miners.push(sb.spawn(&sb.inner(&rel), arg0));
    }
    sb.write(b"bin/benign", &sleep, 0o755);
    let benign = sb.spawn(&sb.inner(b"bin/benign"), b"benign");

    // A crontab with CRLF lines, the miner's line, and a last line without a newline.
    let miner_line = [
        b"* * * * * ".as_slice(),
        &sb.inner(b"bin/$(touch${IFS}.pwned)"),
        b" `touch /tmp/pwned` $(touch /tmp/pwned) --donate-level=0\r\n",
    ]
    .concat();
    let cron = [CRON_BEFORE_HEAD, &miner_line, CRON_TAIL].concat();
    sb.write(b"spool/root", &cron, 0o600);
    // authorized_keys: an admin key with quoted options and CRLF, the attacker's key twice (the second
    // copy last, without a final newline), another admin key.
    let (_, admin) = ed25519(1);
    let (evil_blob, evil) = ed25519(2);
    let (_, ops) = ed25519(3);
    let keys = format!(
        "command=\"echo a b\",from=\"127.0.0.1\" ssh-ed25519 {admin} admin key\r\nssh-ed25519 {evil} x$(touch /tmp/pwned)\nno-pty ssh-ed25519 {ops} ops\nssh-ed25519 {evil} duplicate"
    );
    sb.write(b"home/.ssh/authorized_keys", keys.as_bytes(), 0o600);
    let dropper_rel = b"bin/dropper\n$(touch .pwned).sh";
    sb.write(dropper_rel, b"#!/bin/sh\necho hi\n", 0o755);
    // Locked the way miners lock their footholds.
    sb.sh_ok(
        r#"chattr +i -- "$1" "$2" && chattr +a -- "$3""#,
        &[
            &sb.inner(b"home/.ssh/authorized_keys"),
            &sb.inner(dropper_rel),
            &sb.inner(b"spool"),
        ],
    );
    // A fake pool on loopback that the stand-ins' "pool" endpoint points at.
    sb.sh_ok(
        r#"ip addr add 127.66.0.1/8 dev lo 2>/dev/null; /usr/bin/python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.66.0.1", 3333)); s.listen(8)
while True:
    c, _ = s.accept(); c.close()' </dev/null >/dev/null 2>&1 &
for i in $(seq 50); do (exec 3<>/dev/tcp/127.66.0.1/3333) 2>/dev/null && exit 0; sleep 0.1; done; exit 1"#,
        &[],
    );

    let (_, real) = collect(&sb);
    let mut facts = Facts::default();
    let miner_recs: Vec<ProcessRecord> = miners
        .iter()
        .map(|p| facts.process(&sb, &real, *p))
        .collect();
    let benign_rec = facts.process(&sb, &real, benign);
    let cron_path = facts.file(&sb, b"spool/root", "cron");
    let keys_path = facts.file(&sb, b"home/.ssh/authorized_keys", "ssh");
    let dropper_path = facts.file(&sb, dropper_rel, "temp");
    let unit_path = facts.file(&sb, unit_rel, "systemd");
    let model = facts.model(&real, sb.base.path());
    assert_eq!(model.manifest.host.boot_id, real.manifest.host.boot_id);

    let evil_fp = authorized_keys::fingerprint(&evil_blob);
    let (admin_blob, _) = ed25519(1);
    let doc = document(
        &model,
        vec![
            finding(
                "MT-T-PROC",
                Severity::High,
                miner_recs.iter().map(process_subject).collect(),
            ),
            finding(
                "MT-T-CRON",
                Severity::High,
                vec![Subject::Persistence {
                    path: cron_path.clone(),
                    line: 3,
                }],
            ),
            finding(
                "MT-T-KEY",
                Severity::Medium,
                vec![Subject::SshKey {
                    fingerprint: evil_fp,
                    path: keys_path.clone(),
                    line: 2,
                }],
            ),
            finding(
                "MT-T-FILE",
                Severity::High,
                vec![Subject::File {
                    path: dropper_path.clone(),
                    sha256: None,
                }],
            ),
            // Its ExecStart= (line 2), as MT-PER-010 names a unit: its only command, so the unit goes
            // whole (a flagged Restart= line alone would take only that line: review #4).
            finding(
                "MT-T-UNIT",
                Severity::High,
                vec![Subject::Persistence {
                    path: unit_path.clone(),
                    line: 2,
                }],
            ),
            finding(
                "MT-T-POOL",
                Severity::High,
                vec![
                    Subject::Endpoint {
                        addr: "127.66.0.1:3333".into(),
                    },
                    Subject::Endpoint {
                        addr: "[2001:db8::66]:3333".into(),
                    },
                ],
            ),
            // Never acted on: low severity, and an allowlisted (info) admin key.
            finding(
                "MT-T-LOW",
                Severity::Low,
                vec![process_subject(&benign_rec)],
            ),
            finding(
                "MT-T-ALLOWED",
                Severity::Info,
                vec![Subject::SshKey {
                    fingerprint: authorized_keys::fingerprint(&admin_blob),
                    path: keys_path.clone(),
                    line: 1,
                }],
            ),
        ],
    );
    let plan = plan_for(model, doc);
    assert!(
        plan.manual.is_empty(),
        "nothing should be left by hand: {:?}",
        plan.manual
    );
    let lines = plan_lines(&plan);
    assert!(
        !lines.iter().any(|l| l.contains(&format!("pid {benign} "))),
        "benign process in the plan"
    );
    assert_confined(&plan, &sb);
    let script_path = write_script(&sb, &plan);
    let script_text = std::fs::read_to_string(&script_path).unwrap();
    assert!(script_text
        .bytes()
        .all(|b| b == b'\n' || (0x20..0x7f).contains(&b)));

    // A replaced chattr must not be used: the flags are cleared through the verified python3 instead.
    sb.write(
        b"fake-chattr",
        b"#!/bin/sh\necho ran >\"$0.ran\"\nexit 0\n",
        0o755,
    );
    sb.sh_ok(
        r#"mount --bind "$1" /usr/bin/chattr"#,
        &[&sb.inner(b"fake-chattr")],
    );

    let q = String::from_utf8(sb.inner(b"q")).unwrap();
    let before = sb.state();

    // Dry run: prints the plan, changes nothing.
    let dry = sb.run_script(&script_path, &["--quarantine", &q]);
    assert!(
        dry.status.success(),
        "dry run: {}{}",
        text(&dry.stdout),
        text(&dry.stderr)
    );
    let dry_out = text(&dry.stdout);
    assert!(dry_out.contains("Dry run: nothing is changed"));
    for n in 1..=plan.items.len() {
        assert!(
            dry_out.contains(&format!("{n:>4}. [")),
            "item {n} missing: {dry_out}"
        );
    }
    assert_eq!(sb.state(), before, "the dry run changed something");
    assert!(
        std::fs::read_dir(sb.outside(q.as_bytes()))
            .unwrap()
            .next()
            .is_none(),
        "dry run wrote to the quarantine"
    );
    pwned_absent(&sb);

    // Apply.
    let apply = sb.run_script(
        &script_path,
        &["--apply", "--include-review", "--quarantine", &q],
    );
    let apply_out = text(&apply.stdout);
    assert!(
        apply.status.success(),
        "apply: {apply_out}{}",
        text(&apply.stderr)
    );
    for p in &miners {
        assert!(!sb.alive(*p), "stand-in {p} survived:\n{apply_out}");
    }
    assert!(sb.alive(benign), "the benign process was killed");
    let cron_after = [CRON_BEFORE_HEAD, CRON_TAIL].concat();
    assert_eq!(sb.read(b"spool/root"), cron_after, "crontab not byte-exact");
    let keys_after = format!("command=\"echo a b\",from=\"127.0.0.1\" ssh-ed25519 {admin} admin key\r\nno-pty ssh-ed25519 {ops} ops\n");
    assert_eq!(
        text(&sb.read(b"home/.ssh/authorized_keys")),
        keys_after,
        "authorized_keys not byte-exact"
    );
    let keys_meta = std::fs::metadata(sb.outside(&sb.inner(b"home/.ssh/authorized_keys"))).unwrap();
    assert_eq!(keys_meta.mode() & 0o7777, 0o600);
    assert!(
        !sb.outside(&sb.inner(dropper_rel)).exists(),
        "dropper still there"
    );
    assert!(
        !sb.outside(&sb.inner(b"fake-chattr.ran")).exists(),
        "the replaced chattr was run"
    );
    let quarantined = sb.outside(&sb.inner(b"q/files"));
    let copies: Vec<String> = std::fs::read_dir(&quarantined)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        copies.iter().filter(|c| c.ends_with(".exe")).count() == miners.len(),
        "{copies:?}"
    );
    assert!(
        copies.iter().filter(|c| c.ends_with(".bin")).count() == 4,
        "{copies:?}"
    );
    let log = std::fs::read_to_string(sb.outside(&sb.inner(b"q/log.jsonl"))).unwrap();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("log lines are JSON");
        assert!(v.get("status").is_some() && v.get("rc").is_some());
    }
    let manifest = std::fs::read_to_string(sb.outside(&sb.inner(b"q/manifest.jsonl"))).unwrap();
    assert_eq!(manifest.lines().count(), miners.len() + 4);
    assert!(
        !sb.outside(&sb.inner(unit_rel)).exists(),
        "unit file still there"
    );
    assert!(
        std::fs::symlink_metadata(sb.outside(&sb.inner(wants_rel))).is_err(),
        "enablement link still there"
    );
    let nft = text(
        &sb.sh("nft -nn list table inet minetrace_remediate", &[])
            .stdout,
    );
    assert!(
        nft.contains("127.66.0.1 . 3333") && nft.contains("2001:db8::66 . 3333"),
        "{nft}"
    );
    let blocked = sb.sh("timeout 3 bash -c 'exec 3<>/dev/tcp/127.66.0.1/3333'", &[]);
    assert!(
        !blocked.status.success(),
        "the fake pool is still reachable"
    );
    pwned_absent(&sb);

    // Apply again: nothing changes, everything reported as already done.
    let after_first = sb.state();
    let again = sb.run_script(
        &script_path,
        &["--apply", "--include-review", "--quarantine", &q],
    );
    assert!(
        again.status.success(),
        "second apply: {}{}",
        text(&again.stdout),
        text(&again.stderr)
    );
    assert!(
        !text(&again.stdout).contains(": done ("),
        "second apply did something:\n{}",
        text(&again.stdout)
    );
    assert_eq!(
        sb.state(),
        after_first,
        "the second apply changed something"
    );

    // Verify.
    let verify = sb.run_script(
        &script_path,
        &["--verify", "--include-review", "--quarantine", &q],
    );
    assert_eq!(
        verify.status.code(),
        Some(0),
        "verify: {}",
        text(&verify.stdout)
    );

    // Undo: files and lines back byte for byte, the firewall table gone.
    let undo = sb.sh(r#"exec bash "$1""#, &[&sb.inner(b"q/undo.sh")]);
    assert!(
        undo.status.success(),
        "undo: {}{}",
        text(&undo.stdout),
        text(&undo.stderr)
    );
    assert_eq!(sb.read(b"spool/root"), cron);
    assert_eq!(sb.read(b"home/.ssh/authorized_keys"), keys.as_bytes());
    assert_eq!(sb.read(dropper_rel), b"#!/bin/sh\necho hi\n");
    assert_eq!(sb.read(unit_rel), unit_text);
    assert!(std::fs::symlink_metadata(sb.outside(&sb.inner(wants_rel)))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!sb
        .sh("nft list table inet minetrace_remediate", &[])
        .status
        .success());
    // After the undo the lines are back, so --verify reports them.
    let verify = sb.run_script(
        &script_path,
        &["--verify", "--include-review", "--quarantine", &q],
    );
    assert_eq!(verify.status.code(), Some(1));
    pwned_absent(&sb);
}

#[test]
fn attacker_symlinks_are_removed_swapped_ones_skipped_and_undone() {
    let sb = Sandbox::new();
    for d in [&b"home"[..], b"etc", b"q"] {
        std::fs::create_dir(sb.outside(&sb.inner(d))).unwrap();
    }
    private_quarantine(&sb);
    sb.write(b"etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o640);
    let hostile: &[u8] = b"home/.bash_history $(touch${IFS}.pwned)`touch .pwned`\n\xff";
    sb.sh_ok(
        r#"ln -s /dev/null "$1" && ln -s /dev/null "$2""#,
        &[&sb.inner(hostile), &sb.inner(b"home/.zsh_history")],
    );
    let (_, real) = collect(&sb);
    let mut facts = Facts::default();
    let kept = facts.link(&sb, hostile);
    let swapped = facts.link(&sb, b"home/.zsh_history");
    let model = facts.model(&real, sb.base.path());
    let subject = |p: &RawBytes| Subject::File {
        path: p.clone(),
        sha256: None,
    };
    let doc = document(
        &model,
        vec![finding(
            "MT-EVA-010",
            Severity::Medium,
            vec![subject(&kept), subject(&swapped)],
        )],
    );
    let plan = plan_for(model, doc);
    assert_confined(&plan, &sb);
    let links = plan
        .items
        .iter()
        .filter(|i| matches!(i.action, Action::RemoveLink(_)))
        .count();
    assert_eq!(links, 2, "{}", plan_lines(&plan).join("\n"));
    let script_path = write_script(&sb, &plan);

    // After the snapshot one link is replaced by another one pointing at the "shadow" file.
    sb.sh_ok(
        r#"rm -f -- "$1" && ln -s -- "$2" "$1""#,
        &[&sb.inner(b"home/.zsh_history"), &sb.inner(b"etc/shadow")],
    );
    let before = sb.state();
    let dry = sb.run_script(&script_path, &[]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert_eq!(before, sb.state(), "the dry run changed something");

    // Links where histories belong are review items: a plain --apply leaves them (and writes nothing).
    let q = String::from_utf8(sb.inner(b"q")).unwrap();
    let plain = sb.run_script(&script_path, &["--apply", "--quarantine", &q]);
    assert!(plain.status.success(), "{}", text(&plain.stdout));
    assert!(
        text(&plain.stdout).contains("Nothing to carry out"),
        "{}",
        text(&plain.stdout)
    );
    assert_eq!(before, sb.state(), "a plain --apply acted on review items");
    let apply = sb.run_script(
        &script_path,
        &["--apply", "--include-review", "--quarantine", &q],
    );
    let out = text(&apply.stdout);
    assert_eq!(
        apply.status.code(),
        Some(1),
        "the swapped link is a skip:\n{out}"
    );
    assert!(
        std::fs::symlink_metadata(sb.outside(&sb.inner(hostile))).is_err(),
        "the attacker's link is still there:\n{out}"
    );
    let other = std::fs::read_link(sb.outside(&sb.inner(b"home/.zsh_history"))).unwrap();
    assert_eq!(
        other.as_os_str().as_bytes(),
        sb.inner(b"etc/shadow").as_slice(),
        "the swapped link was touched:\n{out}"
    );
    assert!(out.contains("left alone"), "{out}");
    let manifest = String::from_utf8(sb.read(b"q/manifest.jsonl")).unwrap();
    assert!(manifest.contains("\"kind\":\"link\""), "{manifest}");
    pwned_absent(&sb);

    // Again: nothing changes; the swapped link still counts as remaining.
    let mid = sb.state();
    let again = sb.run_script(
        &script_path,
        &["--apply", "--include-review", "--quarantine", &q],
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stdout));
    assert_eq!(mid, sb.state(), "the second --apply changed something");

    // Undo puts the attacker's link back as it was.
    let undo = sb.run_script(&script_path, &["--undo", "--quarantine", &q]);
    assert!(undo.status.success(), "{}", text(&undo.stdout));
    let back = std::fs::read_link(sb.outside(&sb.inner(hostile))).unwrap();
    assert_eq!(back.as_os_str().as_bytes(), b"/dev/null");
    pwned_absent(&sb);
}

#[test]
fn stale_identities_are_skipped() {
    let sb = Sandbox::new();
    for d in [&b"bin"[..], b"etc", b"q"] {
        std::fs::create_dir(sb.outside(&sb.inner(d))).unwrap();
    }
    private_quarantine(&sb);
    let sleep = std::fs::read("/bin/sleep").unwrap();
    sb.write(b"bin/kdevtmpfsi", &sleep, 0o755);
    let miner = sb.spawn(&sb.inner(b"bin/kdevtmpfsi"), b"kdevtmpfsi");
    sb.write(b"etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o640);
    sb.write(b"bin/payload", b"#!/bin/sh\nminer\n", 0o755);

    let (_, real) = collect(&sb);
    let mut facts = Facts::default();
    let miner_rec = facts.process(&sb, &real, miner);
    let payload = facts.file(&sb, b"bin/payload", "temp");
    let model = facts.model(&real, sb.base.path());
    let doc = document(
        &model,
        vec![
            finding(
                "MT-T-PROC",
                Severity::High,
                vec![process_subject(&miner_rec)],
            ),
            finding(
                "MT-T-FILE",
                Severity::High,
                vec![Subject::File {
                    path: payload,
                    sha256: None,
                }],
            ),
        ],
    );
    let plan = plan_for(model, doc);
    assert_confined(&plan, &sb);
    let script_path = write_script(&sb, &plan);

    // The miner exits and an innocent process gets its pid (the pid namespace's last-pid counter is set
    // so the next fork takes it); the payload becomes a symlink to the "shadow" file.
    sb.sh_ok(r#"kill -KILL "$1""#, &[miner.to_string().as_bytes()]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sb.proc_stat(miner).is_some() {
        assert!(Instant::now() < deadline, "the stand-in was not reaped");
        std::thread::sleep(Duration::from_millis(20));
    }
    let innocent = sb
        .sh_ok(
            r#"echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid || exit 1
( exec -a innocent "$2" 600 ) </dev/null >/dev/null 2>&1 &
echo "$!""#,
            &[miner.to_string().as_bytes(), &sb.inner(b"bin/kdevtmpfsi")],
        )
        .trim()
        .parse::<i32>()
        .unwrap();
    assert_eq!(
        innocent, miner,
        "could not place an innocent process on the reused pid"
    );
    let shadow_before = sb.read(b"etc/shadow");
    sb.sh_ok(
        r#"rm -f -- "$1" && ln -s -- "$2" "$1""#,
        &[&sb.inner(b"bin/payload"), &sb.inner(b"etc/shadow")],
    );

    let q = String::from_utf8(sb.inner(b"q")).unwrap();
    let apply = sb.run_script(&script_path, &["--apply", "--quarantine", &q]);
    let out = text(&apply.stdout);
    assert_eq!(
        apply.status.code(),
        Some(1),
        "skips make the run exit 1:\n{out}{}",
        text(&apply.stderr)
    );
    assert!(
        sb.alive(innocent),
        "the innocent process on the reused pid was killed:\n{out}"
    );
    assert!(
        out.contains("the pid now belongs to another process"),
        "{out}"
    );
    assert!(
        out.contains("it is now a symbolic link: left alone"),
        "{out}"
    );
    let link = std::fs::symlink_metadata(sb.outside(&sb.inner(b"bin/payload"))).unwrap();
    assert!(link.file_type().is_symlink(), "the symlink was removed");
    assert_eq!(
        sb.read(b"etc/shadow"),
        shadow_before,
        "the symlink's target changed"
    );
    // The symlink where the payload was is reported, not silently accepted.
    let verify = sb.run_script(&script_path, &["--verify", "--quarantine", &q]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
}

#[test]
fn the_cli_writes_a_script_from_a_real_bundle() {
    let sb = Sandbox::new();
    let (bundle, _) = collect(&sb);
    let out_dir = sb.base.path().join("out");
    let minetrace = env!("CARGO_BIN_EXE_minetrace");
    let analyze = Command::new(minetrace)
        .arg("analyze")
        .arg(&bundle)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        matches!(analyze.status.code(), Some(0 | 1)),
        "analyze: {}",
        text(&analyze.stderr)
    );
    let from_analyze = out_dir.join("remediate.sh");
    assert!(
        from_analyze.exists(),
        "analyze -o DIR did not write remediate.sh"
    );
    let single = sb.base.path().join("single.sh");
    let remediate = Command::new(minetrace)
        .arg("remediate")
        .arg(&bundle)
        .arg("-o")
        .arg(&single)
        .output()
        .unwrap();
    assert!(
        remediate.status.success(),
        "remediate: {}",
        text(&remediate.stderr)
    );
    assert!(text(&remediate.stdout).contains("[verify] check that every item above is gone"));
    assert_eq!(
        std::fs::read(&from_analyze).unwrap(),
        std::fs::read(&single).unwrap()
    );
    assert_eq!(std::fs::metadata(&single).unwrap().mode() & 0o777, 0o700);
    let sc = Command::new("shellcheck")
        .args(["--shell=bash", "--severity=style"])
        .arg(&single)
        .output()
        .unwrap();
    assert!(sc.status.success(), "shellcheck: {}", text(&sc.stdout));
    // Dry run inside the sandbox only (the plan comes from detectors and may name host files).
    let q = String::from_utf8(sb.inner(b"q")).unwrap();
    let dry = sb.run_script(&single, &["--quarantine", &q]);
    assert!(
        dry.status.success(),
        "dry run: {}{}",
        text(&dry.stdout),
        text(&dry.stderr)
    );
    assert!(!sb.outside(q.as_bytes()).exists());
}

#[test]
fn accounts_and_firewall_rules_are_repaired_without_nft() {
    let sb = Sandbox::new();
    sb.private_etc();
    std::fs::create_dir(sb.outside(&sb.inner(b"q"))).unwrap();
    private_quarantine(&sb);
    let host_shadow = sha256_hex(&std::fs::read("/etc/shadow").unwrap_or_default());
    let host_passwd = sha256_hex(&std::fs::read("/etc/passwd").unwrap());
    // The attacker's account, written into the sandbox's own /etc.
    sb.sh_ok(
        r#"printf 'mt-evil:x:4242:4242::/nonexistent:/bin/sh\n' >>/etc/passwd &&
printf 'mt-evil:$6$salt$hash:19000:0:99999:7:::\n' >>/etc/shadow"#,
        &[],
    );
    // The attacker's firewall rule (blocking a "security agent"), with a quoted comment.
    sb.sh_ok(
        r#"iptables -A INPUT -s 127.0.0.99/32 -m comment --comment 'agent $(touch /tmp/pwned) "q"' -j DROP"#,
        &[],
    );
    let saved = sb.sh_ok("iptables-save", &[]);
    let rule = saved
        .lines()
        .find(|l| l.starts_with("-A INPUT") && l.contains("agent"))
        .expect("the planted rule is in iptables-save")
        .to_owned();
    // No nft: the script must fall back to its own iptables chain.
    sb.sh_ok("mount --bind /bin/false /usr/sbin/nft", &[]);

    let (_, model) = collect(&sb);
    let doc = document(
        &model,
        vec![
            finding(
                "MT-T-ACCOUNT",
                Severity::High,
                vec![Subject::Account {
                    name: RawBytes::from("mt-evil"),
                    uid: Some(4242),
                }],
            ),
            finding(
                "MT-T-FW",
                Severity::Medium,
                vec![Subject::FirewallRule {
                    rule: RawBytes::from(rule.as_str()),
                }],
            ),
            finding(
                "MT-T-POOL",
                Severity::High,
                vec![Subject::Endpoint {
                    addr: "127.66.0.2:4444".into(),
                }],
            ),
        ],
    );
    let plan = plan_for(model, doc);
    assert!(plan.manual.is_empty(), "{:?}", plan.manual);
    assert_eq!(plan.items.len(), 4, "{:?}", plan_lines(&plan));
    assert_confined(&plan, &sb);
    let script_path = write_script(&sb, &plan);
    let q = String::from_utf8(sb.inner(b"q")).unwrap();

    let before = sb.sh_ok("iptables-save | grep -v '^#'; cat /etc/shadow", &[]);
    let dry = sb.run_script(&script_path, &["--quarantine", &q]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert_eq!(
        sb.sh_ok("iptables-save | grep -v '^#'; cat /etc/shadow", &[]),
        before
    );

    let apply = sb.run_script(
        &script_path,
        &["--apply", "--include-review", "--quarantine", &q],
    );
    let out = text(&apply.stdout);
    assert!(
        apply.status.success(),
        "apply: {out}{}",
        text(&apply.stderr)
    );
    let shadow = sb.sh_ok("grep '^mt-evil:' /etc/shadow", &[]);
    let fields: Vec<&str> = shadow.trim().split(':').collect();
    assert!(fields[1].starts_with('!'), "not locked: {shadow}");
    assert_eq!(fields[7], "1", "not expired: {shadow}");
    let saved = sb.sh_ok("iptables-save", &[]);
    assert!(
        !saved.contains("agent"),
        "the attacker's rule is still there:\n{saved}"
    );
    sb.sh_ok(
        "iptables -C MINETRACE-REMEDIATE -d 127.66.0.2 -p tcp --dport 4444 -j DROP && iptables -C OUTPUT -j MINETRACE-REMEDIATE",
        &[],
    );
    let after = sb.sh_ok("iptables-save | grep -v '^#'; cat /etc/shadow", &[]);
    let again = sb.run_script(
        &script_path,
        &["--apply", "--include-review", "--quarantine", &q],
    );
    assert!(again.status.success(), "{}", text(&again.stdout));
    assert_eq!(
        sb.sh_ok("iptables-save | grep -v '^#'; cat /etc/shadow", &[]),
        after
    );
    let verify = sb.run_script(
        &script_path,
        &["--verify", "--include-review", "--quarantine", &q],
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    // Undo removes the script's own chain.
    let undo = sb.sh(r#"exec bash "$1""#, &[&sb.inner(b"q/undo.sh")]);
    assert!(
        undo.status.success(),
        "{}{}",
        text(&undo.stdout),
        text(&undo.stderr)
    );
    assert!(!sb
        .sh_ok("iptables-save", &[])
        .contains("MINETRACE-REMEDIATE"));

    // Nothing reached the host's own /etc.
    assert_eq!(
        sha256_hex(&std::fs::read("/etc/shadow").unwrap_or_default()),
        host_shadow
    );
    assert_eq!(
        sha256_hex(&std::fs::read("/etc/passwd").unwrap()),
        host_passwd
    );
    pwned_absent(&sb);
}
