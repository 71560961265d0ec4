//! Live mode in a sandbox (private mount, pid and network namespaces, fresh /proc, tmpfs over the temp
//! places and homes): the firewall tools really run, with a fixed PATH and an empty environment, their
//! binaries are hashed, and planted rules, temp binaries and keys come back; the mount table marks a bind
//! mount of a system directory under /tmp. Runs as root (as CI does).

use std::io::Cursor;
use std::process::Command;

use minetrace_schemas::bundle::{members, read_bundle, ReadLimits};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::records::RecordSetV1;
use sha2::{Digest, Sha256};

const SCRIPT: &str = r#"
set -e
# The collector may live under /tmp (a build dir): keep a copy on a private tmpfs before masking.
mount -t tmpfs none /mnt
cp "$COLLECTOR" /mnt/minetrace-collect
for d in /tmp /var/tmp /dev/shm /root /home /run; do mount -t tmpfs none "$d"; done
mkdir -p /tmp/.X25-unix /root/.ssh
cp /bin/true /tmp/.X25-unix/kdevtmpfsi
echo 'ssh-ed25519 AAAAlivekey mdrfckr' > /root/.ssh/authorized_keys
iptables -A OUTPUT -d 127.66.0.1/32 -p tcp --dport 3333 -j DROP
ip6tables -A OUTPUT -d ::1/128 -p tcp --dport 14444 -j DROP
sleep 60 &
exec /mnt/minetrace-collect -o - --threads 0
"#;

/// Runs `script` (which ends by exec'ing the collector to stdout) as root in fresh mount and pid namespaces
/// (plus `extra` ones) and returns the verified bundle.
fn collect_in_sandbox(script: &str, extra: &[&str]) -> minetrace_schemas::bundle::Bundle {
    let mut args = vec!["--mount", "--pid"];
    args.extend_from_slice(extra);
    args.extend(["--fork", "--mount-proc", "sh", "-c", script]);
    let out = Command::new("unshare")
        .args(args)
        .env("COLLECTOR", env!("CARGO_BIN_EXE_minetrace-collect"))
        .env("LD_PRELOAD", "")
        .env("PATH", "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("unshare (util-linux) is required");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_bundle(Cursor::new(out.stdout), ReadLimits::default())
        .unwrap()
        .verified()
        .unwrap()
}

#[test]
fn live_mode_in_a_sandbox_runs_the_firewall_tools_safely() {
    let bundle = collect_in_sandbox(SCRIPT, &["--net"]);

    let commands = match bundle.records(members::COMMANDS).unwrap() {
        Some(RecordSetV1::Commands(c)) => c,
        other => panic!("{other:?}"),
    };
    let ipt = commands
        .iter()
        .find(|c| c.name == "iptables-save")
        .expect("iptables-save record");
    assert_eq!(ipt.exit_code, Some(0), "{ipt:?}");
    assert!(!ipt.timed_out);
    assert_eq!(
        ipt.tool_path.as_ref().unwrap().as_bytes(),
        b"/usr/sbin/iptables-save"
    );
    let real = std::fs::canonicalize("/usr/sbin/iptables-save").unwrap();
    let want = hex::encode(Sha256::digest(std::fs::read(real).unwrap()));
    assert_eq!(ipt.tool_sha256.as_deref(), Some(want.as_str()));
    let text = bundle
        .member(ipt.stdout_member.as_deref().unwrap())
        .unwrap();
    let text = String::from_utf8_lossy(text);
    assert!(
        text.contains("-A OUTPUT -d 127.66.0.1/32 -p tcp -m tcp --dport 3333 -j DROP"),
        "{text}"
    );
    let ip6 = commands
        .iter()
        .find(|c| c.name == "ip6tables-save")
        .unwrap();
    let text6 = String::from_utf8_lossy(
        bundle
            .member(ip6.stdout_member.as_deref().unwrap())
            .unwrap(),
    )
    .into_owned();
    assert!(text6.contains("--dport 14444"), "{text6}");
    let nft = commands
        .iter()
        .find(|c| c.name == "nft-ruleset-json")
        .unwrap();
    assert_eq!(nft.exit_code, Some(0), "{nft:?}");
    assert!(bundle
        .member(nft.stdout_member.as_deref().unwrap())
        .unwrap()
        .starts_with(b"{\"nftables\""));

    let files = match bundle.records(members::FILES).unwrap() {
        Some(RecordSetV1::Files(f)) => f,
        other => panic!("{other:?}"),
    };
    let find = |p: &str| -> &FileRecord {
        files
            .iter()
            .find(|f| f.path.as_bytes() == p.as_bytes())
            .unwrap_or_else(|| panic!("{p}"))
    };
    let k = find("/tmp/.X25-unix/kdevtmpfsi");
    assert_eq!(
        bundle.member(k.member.as_deref().unwrap()).unwrap(),
        std::fs::read("/bin/true").unwrap()
    );
    assert_eq!(
        bundle
            .member(
                find("/root/.ssh/authorized_keys")
                    .member
                    .as_deref()
                    .unwrap()
            )
            .unwrap(),
        b"ssh-ed25519 AAAAlivekey mdrfckr\n"
    );

    // The running `sleep` is checked against its package (read from the sandbox's own /proc).
    let packages = match bundle.records(members::PACKAGES).unwrap() {
        Some(RecordSetV1::Packages(p)) => p,
        other => panic!("{other:?}"),
    };
    let sleep = packages
        .iter()
        .find(|p| p.reason == "running-exe" && p.path.as_bytes().ends_with(b"/sleep"))
        .expect("running sleep checked");
    assert_eq!(sleep.verdict, PackageVerdict::Match, "{sleep:?}");
    assert_eq!(sleep.package.as_deref(), Some("coreutils"));
    let ps = packages
        .iter()
        .find(|p| p.reason == "system-binary" && p.path.as_bytes() == b"/usr/bin/ps");
    if let Some(ps) = ps {
        assert_eq!(ps.verdict, PackageVerdict::Match, "{ps:?}");
    }
}

/// The issue-18 case: a system directory shown under a temp place by a bind mount.
const BIND_SCRIPT: &str = r#"
set -e
mount -t tmpfs none /mnt
cp "$COLLECTOR" /mnt/minetrace-collect
for d in /tmp /var/tmp /dev/shm /root /home /run; do mount -t tmpfs none "$d"; done
mkdir -p /tmp/.x /tmp/'with space'
mount --bind /usr/sbin /tmp/.x
mount -t tmpfs none /tmp/'with space'
exec /mnt/minetrace-collect -o - --threads 0
"#;

#[test]
fn a_bind_mount_of_a_system_directory_under_tmp_is_recorded_and_marked() {
    let bundle = collect_in_sandbox(BIND_SCRIPT, &[]);
    let mounts = match bundle.records(members::MOUNTS).unwrap() {
        Some(RecordSetV1::Mounts(m)) => m,
        other => panic!("{other:?}"),
    };
    let bind = mounts
        .iter()
        .find(|m| m.mount_point.as_bytes() == b"/tmp/.x")
        .expect("the bind mount is in the table");
    assert_eq!(
        bind.bind_of.as_ref().map(|b| b.as_bytes()),
        Some(&b"/usr/sbin"[..]),
        "{bind:?}"
    );
    assert!(bind.walked_by.iter().any(|f| f == "temp"), "{bind:?}");
    let spaced = mounts
        .iter()
        .find(|m| m.mount_point.as_bytes() == b"/tmp/with space")
        .expect("escaped mount points are unescaped");
    assert_eq!(spaced.fs_type, "tmpfs");
    assert!(spaced.bind_of.is_none());
    let tmp = mounts
        .iter()
        .rfind(|m| m.mount_point.as_bytes() == b"/tmp")
        .unwrap();
    assert!(tmp.bind_of.is_none() && tmp.walked_by.iter().any(|f| f == "temp"));
    // What the walk listed under the bind carries the device of the directory it shows.
    let files = match bundle.records(members::FILES).unwrap() {
        Some(RecordSetV1::Files(f)) => f,
        other => panic!("{other:?}"),
    };
    let under: Vec<_> = files
        .iter()
        .filter(|f| f.path.as_bytes().starts_with(b"/tmp/.x/"))
        .collect();
    assert!(!under.is_empty());
    assert!(under.iter().all(|f| f.dev == bind.dev), "{under:?}");
}
