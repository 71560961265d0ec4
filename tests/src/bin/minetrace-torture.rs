//! Builds the hostile parts of the torture host (`tests/tests/torture.rs`) that a shell cannot make fast or
//! at all. Runs inside the sandbox.
//!
//! - `entries DIR N`: N names in DIR, as hard links to one empty file (a million names in seconds, and no
//!   million inodes on the tmpfs).
//! - `deep DIR LEVELS`: a chain of LEVELS nested directories, created relative to the previous one (no
//!   path ever gets long), with a file at the bottom.
//! - `sockets PATH...`: a bound Unix socket at each path (the socket file stays after exit).
//! - `proc FDS THREADS MAPS`: raises its fd limit, opens FDS descriptors, starts THREADS parked threads and
//!   maps memory until `/proc/self/maps` has MAPS lines, prints `ready` and waits for stdin to close.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;

fn die(what: &str) -> ! {
    eprintln!(
        "minetrace-torture: {what}: {}",
        std::io::Error::last_os_error()
    );
    std::process::exit(1);
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| die("NUL in argument"))
}

fn num(arg: Option<&String>) -> usize {
    arg.and_then(|a| a.parse().ok())
        .unwrap_or_else(|| die("expected a number"))
}

fn entries(dir: &str, n: usize) {
    let dir_c = cstr(dir);
    // SAFETY: plain syscalls on NUL-terminated strings owned here.
    let dfd = unsafe { libc::open(dir_c.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY) };
    if dfd < 0 {
        die(dir);
    }
    let first = cstr("e0");
    // SAFETY: as above.
    let fd = unsafe { libc::openat(dfd, first.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644) };
    if fd < 0 {
        die("creating the first entry");
    }
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    for i in 1..n {
        let name = cstr(&format!("e{i}"));
        // SAFETY: as above.
        if unsafe { libc::linkat(dfd, first.as_ptr(), dfd, name.as_ptr(), 0) } != 0 {
            die("linking an entry");
        }
    }
}

fn deep(dir: &str, levels: usize) {
    let dir_c = cstr(dir);
    // SAFETY: plain syscalls on NUL-terminated strings owned here; every fd opened is closed.
    let mut dfd = unsafe { libc::open(dir_c.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY) };
    if dfd < 0 {
        die(dir);
    }
    let name = cstr("d");
    for _ in 0..levels {
        // SAFETY: as above.
        unsafe {
            if libc::mkdirat(dfd, name.as_ptr(), 0o755) != 0 {
                die("mkdirat");
            }
            let next = libc::openat(dfd, name.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
            if next < 0 {
                die("openat");
            }
            libc::close(dfd);
            dfd = next;
        }
    }
    let bottom = cstr("kdevtmpfsi");
    // SAFETY: as above.
    let fd = unsafe { libc::openat(dfd, bottom.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o755) };
    if fd < 0 {
        die("creating the bottom file");
    }
    // SAFETY: fds are ours.
    unsafe {
        libc::write(fd, b"#!/bin/sh\n".as_ptr().cast(), 10);
        libc::close(fd);
        libc::close(dfd);
    }
}

fn sockets(paths: &[String]) {
    for p in paths {
        if let Err(e) = std::os::unix::net::UnixListener::bind(p) {
            eprintln!("minetrace-torture: binding {p}: {e}");
            std::process::exit(1);
        }
    }
}

fn maps_lines() -> usize {
    std::fs::read("/proc/self/maps")
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

fn proc_host(fds: usize, threads: usize, maps: usize) {
    let want = u64::try_from(fds + 64).unwrap_or(u64::MAX);
    let limit = libc::rlimit {
        rlim_cur: want,
        rlim_max: want,
    };
    // SAFETY: setrlimit with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        die("raising RLIMIT_NOFILE");
    }
    let null = cstr("/dev/null");
    for _ in 0..fds {
        // SAFETY: open on a NUL-terminated path; the descriptors are kept open on purpose.
        if unsafe { libc::open(null.as_ptr(), libc::O_RDONLY) } < 0 {
            die("opening a descriptor");
        }
    }
    let mut handles = Vec::with_capacity(threads);
    for _ in 0..threads {
        let h = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(|| loop {
                std::thread::park();
            })
            .unwrap_or_else(|_| die("starting a thread"));
        handles.push(h);
    }
    // Single pages with alternating protections, so neighbouring mappings never merge into one line.
    let page = 4096;
    let mut i = 0usize;
    while maps_lines() < maps {
        let batch = (maps - maps_lines()).min(4096);
        for _ in 0..batch {
            let prot = if i.is_multiple_of(2) {
                libc::PROT_READ
            } else {
                libc::PROT_NONE
            };
            // SAFETY: a fresh anonymous private mapping; never unmapped while the process lives.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    page,
                    prot,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                die("mmap");
            }
            i += 1;
        }
    }
    println!("ready {} maps", maps_lines());
    let _ = std::io::stdout().flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(handles);
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    match args.first().map(String::as_str) {
        Some("entries") => entries(args.get(1).map_or("", |s| s), num(args.get(2))),
        Some("deep") => deep(args.get(1).map_or("", |s| s), num(args.get(2))),
        Some("sockets") => sockets(args.get(1..).unwrap_or_default()),
        Some("proc") => proc_host(num(args.get(1)), num(args.get(2)), num(args.get(3))),
        _ => {
            eprintln!("usage: minetrace-torture entries DIR N | deep DIR LEVELS | sockets PATH... | proc FDS THREADS MAPS");
            std::process::exit(2);
        }
    }
}
