//! Dead-box collection of images with and without a dpkg database: executables named by persistence
//! entries (cron lines, unit `Exec*=` lines, rc.local, shell start-up) are copied when no package owns
//! them; package-owned ones, non-executables and paths outside the root are not; a host without a package
//! database says so and copies only executables in odd places; package logs come back tail-bounded.

use std::path::{Path, PathBuf};
use std::process::Command;

use minetrace_schemas::bundle::{members, Bundle, ReadLimits};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::RecordSetV1;
use sha2::{Digest, Sha256};

const ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00planted-persistence-binary";
const OUTSIDE: &[u8] = b"\x7fELF outside the root, must never be read";

fn put(root: &Path, path: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

struct Collected {
    bundle: Bundle,
    files: Vec<FileRecord>,
}

impl Collected {
    fn file(&self, path: &str) -> Option<&FileRecord> {
        self.files
            .iter()
            .find(|f| f.path.as_bytes() == path.as_bytes())
    }

    fn stored(&self, path: &str) -> Option<&[u8]> {
        self.file(path)
            .and_then(|f| f.member.as_deref())
            .and_then(|m| self.bundle.member(m))
    }
}

fn collect(root: &Path, out_dir: &Path, extra: &[&str]) -> Collected {
    let out = out_dir.join("bundle.tar.zst");
    let status = Command::new(env!("CARGO_BIN_EXE_minetrace-collect"))
        .arg("--root")
        .arg(root)
        .arg("-o")
        .arg(&out)
        .args(["--threads", "0"])
        .args(extra)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let bundle = Bundle::open(&out, ReadLimits::default())
        .unwrap()
        .verified()
        .unwrap();
    let files = match bundle.records(members::FILES).unwrap() {
        Some(RecordSetV1::Files(f)) => f,
        other => panic!("files record: {other:?}"),
    };
    Collected { bundle, files }
}

/// Persistence naming executables in ordinary and odd places; `dpkg` adds a package database that owns
/// `/bin/ps` (listed under its pre-merge name) and `/etc/init.d/owned`.
fn image(dpkg: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    put(dir.path(), "outside/miner", OUTSIDE);
    let r = dir.path().join("root");
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
    put(&r, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    put(&r, "/usr/bin/sysdr", ELF);
    put(&r, "/usr/bin/ps", b"\x7fELF genuine ps");
    put(&r, "/usr/bin/crondr", b"#!/bin/sh\nexec /usr/bin/sysdr\n");
    put(&r, "/etc/networkservice", ELF);
    put(&r, "/opt/agent/run.sh", "echo started\n");
    put(&r, "/var/lib/.x/initdr", ELF);
    put(&r, "/usr/bin/bprofr", ELF);
    put(&r, "/etc/init.d/owned", "#!/bin/sh\n/usr/bin/ps\n");
    put(
        &r,
        "/etc/cron.d/pwnrig",
        "PATH=/usr/bin:/bin\n*/30 * * * * root /usr/bin/sysdr >/dev/null 2>&1\n# 1 * * * * root /usr/bin/commented\n",
    );
    put(
        &r,
        "/etc/cron.hourly/pwnrig",
        "#!/bin/sh\n/usr/bin/crondr; /bin/ps -ef; cat /etc/fstab\n",
    );
    put(&r, "/etc/fstab", "# not an executable\n");
    put(
        &r,
        "/etc/systemd/system/networkservice.service",
        "[Service]\nExecStart=/etc/networkservice --config=/etc/fstab\nDescription=/usr/bin/bprofr\n",
    );
    put(&r, "/etc/rc.local", "#!/bin/sh\n/var/lib/.x/initdr &\nsh /opt/agent/run.sh\n/outside/miner\n../../outside/miner\nexit 0\n");
    put(
        &r,
        "/root/.bash_profile",
        "cp /usr/bin/bprofr /tmp/dbused && /tmp/dbused\n",
    );
    // An escape through a link: named by cron, pointing above the root.
    std::os::unix::fs::symlink("../../../outside/miner", r.join("usr/bin/escape")).unwrap();
    put(&r, "/etc/cron.d/escape", "* * * * * root /usr/bin/escape\n");
    // Package logs: tail-bounded like any log.
    let mut dpkg_log = vec![b'x'; 3 << 20];
    dpkg_log.extend_from_slice(b"\n2025-03-01 10:00:00 upgrade openssh-server:amd64 1:9.2 1:9.3\n");
    put(&r, "/var/log/dpkg.log", &dpkg_log);
    put(
        &r,
        "/var/log/apt/history.log",
        "Start-Date: 2025-03-01  10:00:00\nUpgrade: openssh-server:amd64 (1:9.2, 1:9.3)\n",
    );
    if dpkg {
        put(
            &r,
            "/var/lib/dpkg/info/procps.list",
            "/.\n/bin\n/bin/ps\n/etc/init.d/owned\n",
        );
    }
    (dir, r)
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn persistence_targets_are_copied_when_no_package_owns_them() {
    let (dir, r) = image(true);
    let c = collect(&r, dir.path(), &["--max-log-mib", "1"]);

    for (path, bytes) in [
        ("/usr/bin/sysdr", ELF),
        ("/usr/bin/crondr", &b"#!/bin/sh\nexec /usr/bin/sysdr\n"[..]),
        ("/etc/networkservice", ELF),
        ("/var/lib/.x/initdr", ELF),
        ("/usr/bin/bprofr", ELF),
    ] {
        let f = c
            .file(path)
            .unwrap_or_else(|| panic!("no record of {path}"));
        assert_eq!(f.category, "referenced-exe", "{path}");
        assert_eq!(c.stored(path), Some(bytes), "{path}");
        assert_eq!(f.sha256.as_deref(), Some(sha(bytes).as_str()));
    }
    // A script run with `sh` is a script by its name only when it has one: run.sh is.
    assert_eq!(c.stored("/opt/agent/run.sh"), Some(&b"echo started\n"[..]));
    // Owned (under the pre-merge name), not executable, commented out: not copied.
    assert!(c
        .file("/usr/bin/ps")
        .is_none_or(|f| f.category != "referenced-exe"));
    assert!(c.file("/bin/ps").is_none());
    // Not executable: stored whole as a small data file the unit names (`--config=`), as a miner's
    // config.json is (cb47bd8), never as a copied executable.
    assert_eq!(c.stored("/etc/fstab"), Some(&b"# not an executable\n"[..]));
    assert!(c.file("/usr/bin/commented").is_none());
    // A named path that does not exist inside the root is recorded as absent (an orphaned start line).
    let gone = c
        .file("/outside/miner")
        .expect("the absent /outside/miner is recorded");
    assert_eq!(
        gone.error.as_deref(),
        Some(minetrace_schemas::records::file::ABSENT_NAMED)
    );
    assert!(gone.sha256.is_none() && gone.member.is_none());
    // The link is recorded as a link; its target resolves inside the root and does not exist there.
    let esc = c.file("/usr/bin/escape");
    assert!(esc.is_none_or(|f| f.member.is_none()), "{esc:?}");
    for name in c.bundle.member_names() {
        let bytes = c.bundle.member(name).unwrap_or_default();
        assert!(
            !bytes.windows(OUTSIDE.len()).any(|w| w == OUTSIDE),
            "{name} holds bytes from outside the root"
        );
    }
    // Package logs: category `log`, newest bytes kept.
    let dpkg = c.file("/var/log/dpkg.log").expect("dpkg.log");
    assert_eq!(dpkg.category, "log");
    assert!(dpkg.truncated);
    let kept = c.stored("/var/log/dpkg.log").unwrap();
    assert_eq!(kept.len(), 1 << 20);
    assert!(kept.ends_with(b"upgrade openssh-server:amd64 1:9.2 1:9.3\n"));
    let apt = c.file("/var/log/apt/history.log").expect("apt history");
    assert_eq!(apt.category, "log");
    assert!(c
        .stored("/var/log/apt/history.log")
        .unwrap()
        .starts_with(b"Start-Date"));
    // The index was built from the image, in its own artifact.
    let index = c
        .bundle
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "package-index")
        .expect("package-index artifact");
    assert_eq!(index.items, 3, "/bin, /bin/ps, /etc/init.d/owned");
    assert!(!c
        .bundle
        .manifest
        .exclusions
        .iter()
        .any(|e| e.contains("no package database")));
}

#[test]
fn without_a_package_database_only_odd_places_are_copied_and_the_manifest_says_so() {
    let (dir, r) = image(false);
    let c = collect(&r, dir.path(), &[]);
    assert!(
        c.bundle
            .manifest
            .exclusions
            .iter()
            .any(|e| e.contains("no package database")),
        "{:?}",
        c.bundle.manifest.exclusions
    );
    // A hidden directory is an odd place with or without packages.
    assert_eq!(c.stored("/var/lib/.x/initdr"), Some(ELF));
    // Ordinary places: ownership unknown, so not copied.
    for p in [
        "/usr/bin/sysdr",
        "/etc/networkservice",
        "/usr/bin/ps",
        "/opt/agent/run.sh",
    ] {
        assert!(
            c.file(p).is_none_or(|f| f.category != "referenced-exe"),
            "{p} copied without a package database"
        );
    }
}

#[test]
fn copies_share_the_runs_budget() {
    let (dir, r) = image(true);
    let c = collect(&r, dir.path(), &["--max-copy-total-mib", "0"]);
    let f = c.file("/usr/bin/sysdr").expect("recorded");
    assert!(f.member.is_none());
    assert!(f.error.as_deref().unwrap_or("").contains("budget"), "{f:?}");
}
