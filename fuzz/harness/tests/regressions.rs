//! Replays, on stable and in `cargo test`, every input a fuzz campaign saved as a crash, a hang or a
//! memory blow-up (`fuzz/regressions/<target>/`), and every target's seeds (the shipped samples and
//! their members): each must finish without a panic, with every output invariant holding, within a
//! watchdog that turns a hang into a failure naming the input.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use minetrace_fuzz::targets::{Target, TARGETS};

/// Far above any input's real cost in a debug build (the slowest, a sample bundle end to end, takes well
/// under a second); only a hang or a blow-up reaches it.
const WATCHDOG: Duration = Duration::from_secs(120);

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions")
}

/// Runs one input on its own thread; a panic or the watchdog fails the test with the input's name.
fn replay(target: &'static Target, name: &str, input: Vec<u8>) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("{}:{name}", target.name))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| (target.run)(&input));
            let _ = tx.send(outcome.is_ok());
        })
        .expect("spawning a replay thread");
    match rx.recv_timeout(WATCHDOG) {
        Ok(true) => {
            let _ = worker.join();
        }
        Ok(false) => panic!(
            "{}: input {name} panicked (see the message above)",
            target.name
        ),
        Err(_) => panic!(
            "{}: input {name} did not finish within {WATCHDOG:?} (a hang)",
            target.name
        ),
    }
}

#[test]
fn saved_crashes_and_hangs_stay_fixed() {
    let mut replayed = 0;
    for target in TARGETS {
        let dir = regressions_dir().join(target.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.starts_with('.') || name.ends_with(".md") {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            replay(target, &name, bytes);
            replayed += 1;
        }
    }
    // Folders without inputs are allowed (a target nothing has broken yet), an unknown folder is not.
    for entry in std::fs::read_dir(regressions_dir())
        .expect("fuzz/regressions exists")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            assert!(
                minetrace_fuzz::targets::by_name(&name).is_some(),
                "fuzz/regressions/{name}: no target has that name"
            );
        }
    }
    eprintln!("replayed {replayed} saved inputs");
}

#[test]
fn every_target_passes_its_seeds() {
    assert!(
        minetrace_fuzz::mutate::samples().len() >= 5,
        "the sample bundles under samples/bundles did not load"
    );
    for target in TARGETS {
        let seeds = minetrace_fuzz::seeds::for_target(target.name);
        assert!(!seeds.is_empty(), "{}: no seeds", target.name);
        for (name, bytes) in seeds {
            replay(target, &name, bytes);
        }
    }
}

#[test]
fn every_sample_bundle_is_analysed_with_every_output_checked() {
    for path in std::fs::read_dir(minetrace_fuzz::mutate::samples_dir())
        .expect("samples")
        .flatten()
    {
        let path = path.path();
        if !path.to_string_lossy().ends_with(".tar.zst") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("sample readable");
        let out = minetrace_fuzz::bundle::analyze_bytes(&bytes)
            .unwrap_or_else(|| panic!("{}: the sample does not analyse", path.display()));
        assert!(
            out.remediate_sh.contains("MT_DATA_SHA256="),
            "{}",
            path.display()
        );
    }
}
