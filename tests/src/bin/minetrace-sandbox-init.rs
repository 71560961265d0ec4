//! PID 1 of a minetrace sandbox. Started by the harness as
//! `unshare --mount --pid --net --uts --ipc --fork --kill-child -- minetrace-sandbox-init STANDIN HOSTNAME`.
//!
//! It builds the sandboxed host inside the new mount namespace and stays alive as its init:
//! 1. a tmpfs over `/tmp` of this mount namespace holds everything (`upper/`, `work/`, `root/`, `bin/`);
//! 2. an overlayfs with lower dir `/` and upper dir on that tmpfs is mounted at `/tmp/root`; directories that
//!    hold this machine's own data (`/root`, `/home`, `/tmp`, `/var/tmp`, `/var/log`, `/opt`, `/mnt`, `/work`, ...)
//!    are opaque in the upper layer, so the sandboxed host starts with them empty and no host secret reaches
//!    a bundle;
//! 3. fresh `/proc`, read-only `/sys`, a minimal `/dev` (null, zero, full, random, urandom, tty, a `/dev/shm`
//!    tmpfs) and a `/run` tmpfs inside it; then `chroot` into it, loopback up, hostname set;
//! 4. re-executes itself as `/sbin/init` from a copy written into the overlay (a host's own init, not a
//!    build-machine path, is what PID 1's exe and command line show in a bundle; the copy vanishes with
//!    the namespace);
//! 5. as `/sbin/init`, prints `ready`, then reaps every orphan (so killed processes do not linger as
//!    zombies) until its stdin reaches end of file (the harness dropped the sandbox or died). Its exit ends
//!    the PID namespace, which kills every process in it; the mounts vanish with the mount namespace.
//!
//! Any failure is printed with the step that failed and exits non-zero; the harness shows it.

use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const BASE: &str = "/tmp";
/// Where PID 1 runs from once the sandbox is built: the path a real host's init has. Written inside the
/// chroot (after `chroot`, so a link in the image can never point the write at this machine's own files).
const INIT_PATH: &str = "/sbin/init";
/// Host directories that start empty in the sandbox: this machine's own data, never part of a scenario.
const MASKED: &[&str] = &[
    "root", "home", "tmp", "var/tmp", "var/log", "var/mail", "opt", "mnt", "media", "srv", "work",
    "farm",
];

fn fail(step: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("minetrace-sandbox-init: {step}: {err}");
    std::process::exit(1)
}

fn cstr(s: impl AsRef<OsStr>) -> CString {
    CString::new(s.as_ref().as_bytes()).unwrap_or_else(|_| fail("path", "NUL byte in path"))
}

fn mount(src: &str, target: &str, fstype: Option<&str>, flags: libc::c_ulong, data: Option<&str>) {
    let (s, t) = (cstr(src), cstr(target));
    let f = fstype.map(cstr);
    let d = data.map(cstr);
    // SAFETY: all pointers are valid NUL-terminated strings or null for the lifetime of the call.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            d.as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr().cast::<libc::c_void>()),
        )
    };
    if rc != 0 {
        fail(
            &format!("mount {src} on {target} ({})", fstype.unwrap_or("bind")),
            std::io::Error::last_os_error(),
        );
    }
}

fn mkdir(path: &str, mode: u32) {
    if let Err(e) = std::fs::create_dir_all(path) {
        fail(&format!("mkdir {path}"), e);
    }
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// Owner and mode of a lower directory, read before `/tmp` is covered.
struct DirMeta {
    mode: u32,
    uid: u32,
    gid: u32,
}

fn dir_meta(rel: &str) -> Option<DirMeta> {
    let meta = std::fs::symlink_metadata(Path::new("/").join(rel)).ok()?;
    meta.is_dir().then(|| DirMeta {
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

/// Makes `upper/<rel>` an opaque directory with the lower directory's owner and mode.
fn mask(rel: &str, meta: &DirMeta) {
    let upper = format!("{BASE}/upper/{rel}");
    mkdir(&upper, meta.mode);
    let c = cstr(&upper);
    // SAFETY: valid path and attribute name, value of length 1.
    let rc = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if rc != 0 {
        fail(
            &format!("mark {upper} opaque"),
            std::io::Error::last_os_error(),
        );
    }
    // SAFETY: valid path.
    unsafe { libc::chown(c.as_ptr(), meta.uid, meta.gid) };
    let _ = std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(meta.mode));
}

fn loopback_up() {
    // SAFETY: plain socket and ioctl calls on a zeroed, correctly sized ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            fail("socket for loopback", std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) != 0 {
            fail("SIOCGIFFLAGS lo", std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) != 0 {
            fail("bring loopback up", std::io::Error::last_os_error());
        }
        libc::close(fd);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // SAFETY: getpid has no preconditions.
    let pid1 = unsafe { libc::getpid() } == 1;
    if pid1 && args.len() == 1 && args.first().map(String::as_str) == Some(INIT_PATH) {
        // Second stage: the sandbox is built and this is the copy under the host's init path.
        serve();
    }
    let (Some(standin), Some(hostname)) = (args.get(1), args.get(2)) else {
        fail(
            "usage",
            "minetrace-sandbox-init STANDIN HOSTNAME (run by the e2e harness)",
        );
    };
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != 1 {
        fail(
            "pid namespace",
            "not PID 1 of a new PID namespace; start under `unshare --pid --fork`",
        );
    }
    // A session and process group of its own, as a real init has (otherwise its group, which lives outside
    // the namespace, shows as pgid 0).
    // SAFETY: setsid has no preconditions; failure (already a group leader) is harmless.
    unsafe { libc::setsid() };
    let standin_bytes =
        std::fs::read(standin).unwrap_or_else(|e| fail(&format!("read {standin}"), e));
    // Everything read from the host's own tree happens before the tmpfs covers /tmp.
    let masked: Vec<(&str, DirMeta)> = MASKED
        .iter()
        .filter_map(|rel| dir_meta(rel).map(|m| (*rel, m)))
        .collect();
    let parents: Vec<(&str, DirMeta)> = MASKED
        .iter()
        .filter_map(|rel| rel.rsplit_once('/').map(|(p, _)| p))
        .filter_map(|p| dir_meta(p).map(|m| (p, m)))
        .collect();

    mount("none", "/", None, libc::MS_REC | libc::MS_PRIVATE, None);
    mount(
        "minetrace-sandbox",
        BASE,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755,size=1g"),
    );
    for dir in ["upper", "work", "root", "bin"] {
        mkdir(&format!("{BASE}/{dir}"), 0o755);
    }
    std::fs::write(format!("{BASE}/bin/mt-standin"), &standin_bytes)
        .unwrap_or_else(|e| fail("write the stand-in", e));
    let _ = std::fs::set_permissions(
        format!("{BASE}/bin/mt-standin"),
        std::fs::Permissions::from_mode(0o755),
    );
    for (parent, meta) in &parents {
        mkdir(&format!("{BASE}/upper/{parent}"), meta.mode);
    }
    for (rel, meta) in &masked {
        mask(rel, meta);
    }
    let root = format!("{BASE}/root");
    mount(
        "overlay",
        &root,
        Some("overlay"),
        0,
        Some(&format!(
            "lowerdir=/,upperdir={BASE}/upper,workdir={BASE}/work"
        )),
    );
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    mount("proc", &format!("{root}/proc"), Some("proc"), nosuid, None);
    mount(
        "sysfs",
        &format!("{root}/sys"),
        Some("sysfs"),
        nosuid | libc::MS_RDONLY,
        None,
    );
    mount(
        "tmpfs",
        &format!("{root}/run"),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755,size=64m"),
    );
    mkdir(&format!("{root}/run/lock"), 0o1777);
    let dev = format!("{root}/dev");
    mount(
        "tmpfs",
        &dev,
        Some("tmpfs"),
        libc::MS_NOSUID,
        Some("mode=0755,size=1m"),
    );
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = format!("{dev}/{node}");
        std::fs::write(&target, b"").unwrap_or_else(|e| fail(&format!("create {target}"), e));
        mount(&format!("/dev/{node}"), &target, None, libc::MS_BIND, None);
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, format!("{dev}/{name}"));
    }
    mkdir(&format!("{dev}/shm"), 0o1777);
    mount(
        "shm",
        &format!("{dev}/shm"),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=1777,size=256m"),
    );

    let c_root = cstr(&root);
    // SAFETY: valid paths.
    if unsafe { libc::chroot(c_root.as_ptr()) } != 0 {
        fail("chroot", std::io::Error::last_os_error());
    }
    if let Err(e) = std::env::set_current_dir("/") {
        fail("chdir /", e);
    }
    loopback_up();
    // SAFETY: valid buffer and length.
    if unsafe { libc::sethostname(hostname.as_ptr().cast(), hostname.len()) } != 0 {
        fail("sethostname", std::io::Error::last_os_error());
    }

    become_host_init();
}

/// Replaces the image's `/sbin/init` (a link to the host's systemd, or nothing) in the overlay with a copy of
/// this program, dated like the file it replaces, and executes it with the plain command line `/sbin/init`.
/// Runs after `chroot`: every path here is inside the sandbox.
fn become_host_init() -> ! {
    let me = std::fs::read("/proc/self/exe").unwrap_or_else(|e| fail("read /proc/self/exe", e));
    // The date of what a host's /sbin/init is (systemd's binary), so the copy is not a freshly changed
    // system file in the bundle.
    let mtime = std::fs::metadata(INIT_PATH)
        .ok()
        .map(|m| (m.mtime(), m.mtime_nsec()));
    match std::fs::remove_file(INIT_PATH) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => fail(&format!("remove the image's {INIT_PATH}"), e),
    }
    std::fs::write(INIT_PATH, &me).unwrap_or_else(|e| fail(&format!("write {INIT_PATH}"), e));
    let _ = std::fs::set_permissions(INIT_PATH, std::fs::Permissions::from_mode(0o755));
    let path = cstr(INIT_PATH);
    if let Some((secs, nsecs)) = mtime {
        let stamp = libc::timespec {
            tv_sec: secs,
            tv_nsec: nsecs,
        };
        let times = [stamp, stamp];
        // SAFETY: valid path and a two-element timespec array.
        unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0) };
    }
    let argv = [path.as_ptr(), std::ptr::null()];
    // SAFETY: NUL-terminated path and a null-terminated argv of valid strings; the environment is kept.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    fail(
        &format!("execute {INIT_PATH}"),
        std::io::Error::last_os_error(),
    )
}

/// PID 1's life once the sandbox is built: say `ready`, then reap orphans until stdin closes.
fn serve() -> ! {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "ready").and_then(|_| out.flush()).is_err() {
        fail("report ready", "stdout closed");
    }
    drop(out);

    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
