//! Network-namespace "hosts" for the fleet collection tests: a control namespace joined to each host
//! namespace by a veth pair, every address in 127.0.0.0/8 (`route_localnet` on, loopback interfaces
//! left down so no 127/8 local route swallows them), and an `sshd` of its own in each host namespace,
//! listening on its address with a host key, config and `authorized_keys` of the test's. Nothing touches
//! the machine's own network namespace; everything is removed on [`Drop`].
//!
//! Traffic: ssh from the control namespace to the hosts' sshd, nothing else.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One sshd host.
pub struct SshHost {
    pub namespace: String,
    pub address: String,
    sshd: Option<Child>,
}

/// The control namespace, its hosts and the client key that opens them.
pub struct SshNet {
    pub control: String,
    pub hosts: Vec<SshHost>,
    pub client_key: PathBuf,
    dir: tempfile::TempDir,
}

fn run(argv: &[&str]) -> Result<()> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    if !out.status.success() {
        bail!("{argv:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn netns_sysctl(ns: &str, iface: &str) -> Result<()> {
    for key in ["all", "default", iface] {
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{key}.route_localnet=1"),
        ])?;
    }
    Ok(())
}

/// A new ed25519 key pair without passphrase at `path` (and `path.pub`).
fn keygen(path: &Path, comment: &str) -> Result<()> {
    let path = path.to_string_lossy();
    run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        comment,
        "-f",
        &path,
    ])
}

/// The tools this needs, each failing with the line that installs it.
pub fn preflight() -> Result<()> {
    for (tool, install) in [
        ("/usr/sbin/sshd", "apt-get install -y openssh-server"),
        ("/usr/bin/ssh-keygen", "apt-get install -y openssh-client"),
        ("/usr/sbin/ip", "apt-get install -y iproute2"),
    ] {
        if !Path::new(tool).exists() {
            bail!("{tool} is missing; install it with: {install}");
        }
    }
    Ok(())
}

impl SshNet {
    /// `count` hosts at 127.77.N.2 (N from 1), the control end of each pair at 127.77.N.1.
    pub fn start(count: usize) -> Result<SshNet> {
        preflight()?;
        let tag = format!("mtf{}", std::process::id() % 100_000);
        let dir = tempfile::tempdir()?;
        let client_key = dir.path().join("client_key");
        keygen(&client_key, "minetrace-fleet-test")?;
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )?;
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd")?;
        let control = format!("{tag}c");
        let mut net = SshNet {
            control: control.clone(),
            hosts: Vec::new(),
            client_key,
            dir,
        };
        run(&["ip", "netns", "add", &control])?;
        for n in 1..=count {
            let ns = format!("{tag}h{n}");
            let (c_if, h_if) = (format!("{tag}c{n}"), format!("{tag}p{n}"));
            let address = format!("127.77.{n}.2");
            run(&["ip", "netns", "add", &ns])?;
            net.hosts.push(SshHost {
                namespace: ns.clone(),
                address: address.clone(),
                sshd: None,
            });
            run(&[
                "ip", "link", "add", &c_if, "type", "veth", "peer", "name", &h_if,
            ])?;
            run(&["ip", "link", "set", &c_if, "netns", &control])?;
            run(&["ip", "link", "set", &h_if, "netns", &ns])?;
            netns_sysctl(&control, &c_if)?;
            netns_sysctl(&ns, &h_if)?;
            run(&[
                "ip",
                "-n",
                &control,
                "addr",
                "add",
                &format!("127.77.{n}.1/30"),
                "dev",
                &c_if,
            ])?;
            run(&["ip", "-n", &control, "link", "set", &c_if, "up"])?;
            run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/30"),
                "dev",
                &h_if,
            ])?;
            run(&["ip", "-n", &ns, "link", "set", &h_if, "up"])?;
            let child = net.start_sshd(n, &ns, &address)?;
            if let Some(h) = net.hosts.last_mut() {
                h.sshd = Some(child);
            }
        }
        for h in &net.hosts {
            net.wait_for_sshd(&h.address)?;
        }
        Ok(net)
    }

    fn start_sshd(&self, n: usize, ns: &str, address: &str) -> Result<Child> {
        let d = self.dir.path();
        let key = d.join(format!("host_key_{n}"));
        keygen(&key, "minetrace-fleet-test-host")?;
        let config = d.join(format!("sshd_config_{n}"));
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:22\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nStrictModes no\n\
PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
PrintMotd no\nSubsystem sftp internal-sftp\n",
                key.display(),
                d.join(format!("sshd_{n}.pid")).display(),
                d.join("authorized_keys").display()
            ),
        )?;
        Command::new("ip")
            .args(["netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(
                d.join(format!("sshd_{n}.log")),
            )?))
            .spawn()
            .context("starting sshd")
    }

    /// Waits until a TCP connection from the control namespace reaches the host's port 22.
    fn wait_for_sshd(&self, address: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let probe = Command::new("ip")
                .args(["netns", "exec", &self.control, "bash", "-c"])
                .arg(format!("exec 3<>/dev/tcp/{address}/22"))
                .output()?;
            if probe.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "sshd at {address} did not come up: {}",
                    String::from_utf8_lossy(&probe.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A command run inside the control namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.control, program]);
        c
    }

    /// sshd's logs, for failure messages.
    pub fn sshd_logs(&self) -> String {
        (1..=self.hosts.len())
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("sshd_{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for SshNet {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            if let Some(mut c) = h.sshd.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            // Removing the namespace destroys its end of the veth pair, and with it the other end.
            let _ = Command::new("ip")
                .args(["netns", "del", &h.namespace])
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.control])
            .status();
    }
}
