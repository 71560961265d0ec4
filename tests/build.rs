//! Compiles the two tiny C stand-ins the scenarios plant (`standin/`): `mt-standin`, the harmless program that
//! plays every planted process, and `libstandin.so`, the do-nothing library a scenario preloads. They are C
//! so the copies planted in scenarios, and copied into committed sample bundles, stay a few KiB.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let jobs: [(&str, &str, &[&str]); 2] = [
        ("standin/standin.c", "mt-standin", &["-pthread"]),
        (
            "standin/standin_lib.c",
            "libstandin.so",
            &["-shared", "-fPIC"],
        ),
    ];
    for (src, name, extra) in jobs {
        println!("cargo:rerun-if-changed={src}");
        let status = Command::new(&cc)
            .args(["-O2", "-s", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(out.join(name))
            .arg(src)
            .args(extra)
            .status()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} for {src}: {e}"));
        assert!(status.success(), "compiling {src} failed ({status})");
    }
    println!("cargo:rerun-if-env-changed=CC");
}
