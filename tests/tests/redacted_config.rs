//! Review of train 2, item 8, end to end on a dead-box image (no namespaces needed): a cron line names a
//! miner's config that carries a decoy `"password"` key and the pool password, and an admin's backup
//! environment file with `DB_PASS=` and `BORG_PASSPHRASE=`. The collector must store the config with its
//! secret values replaced by markers (pools and wallet intact) and withhold the env file (hash only);
//! the analyzer must still find the miner config, its pool and its wallet, in the stored copy.

use std::path::Path;

use minetrace_e2e::binaries;
use minetrace_e2e::truth::Records;
use minetrace_schemas::findings::Subject;
use minetrace_schemas::miner_config::redaction_marker;

const CONFIG: &str = "/etc/sysd/config.json";
const ENV: &str = "/etc/backup/env";
const POOL: &str = "127.66.0.1:3333";
const POOL_PASS: &str = "rig7-pool-pass";
const ENV_SECRET: &str = "hunter2-backup-secret";

fn put(root: &Path, path: &str, bytes: &[u8]) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A Monero-shaped address (95 base58 characters starting with `4`), made up.
fn wallet() -> String {
    format!("4{}", "Ab3".repeat(31)) + "x"
}

fn image(root: &Path) {
    put(root, "/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n");
    // A package database that owns none of the planted files, so named data files are stored.
    put(root, "/var/lib/dpkg/info/coreutils.list", b"/usr/bin/ls\n");
    put(
        root,
        "/etc/cron.d/sysupdate",
        format!(
            "*/5 * * * * root /etc/sysd/sysupdate --config={CONFIG}\n0 3 * * * root /usr/local/bin/nightly --env {ENV}\n"
        )
        .as_bytes(),
    );
    let config = format!(
        "{{\n    \"password\": \"\",\n    \"donate-level\": 1,\n    \"pools\": [\n        {{\"url\": \"{POOL}\", \"user\": \"{}\", \"pass\": \"{POOL_PASS}\", \"keepalive\": true}}\n    ]\n}}\n",
        wallet()
    );
    put(root, CONFIG, config.as_bytes());
    put(
        root,
        ENV,
        format!("DB_HOST=db\nDB_PASS={ENV_SECRET}\nBORG_PASSPHRASE={ENV_SECRET}\n").as_bytes(),
    );
}

#[test]
fn a_miner_config_is_stored_redacted_and_still_found_an_env_file_is_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    image(&root);
    let out = dir.path().join("bundle.tar.zst");
    let bundle = binaries::collect_dead_box(&root, &out).unwrap();
    let records = Records::decode(&bundle, &mut Vec::new());
    let record = |path: &str| {
        records
            .files_at(path.as_bytes())
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no record of {path}"))
    };
    // The config: stored, secret values replaced by markers of their length, pool and wallet intact.
    let config = record(CONFIG);
    let stored = config
        .member
        .as_deref()
        .and_then(|m| bundle.member(m))
        .unwrap_or_else(|| panic!("{CONFIG} not stored: {config:?}"));
    let stored = String::from_utf8_lossy(stored);
    assert!(!stored.contains(POOL_PASS), "{stored}");
    for marker in [
        format!("\"password\": \"{}\"", redaction_marker(0)),
        format!("\"pass\": \"{}\"", redaction_marker(POOL_PASS.len())),
    ] {
        assert!(stored.contains(&marker), "{marker} not in {stored}");
    }
    assert!(
        stored.contains(POOL) && stored.contains(&wallet()),
        "{stored}"
    );
    let host_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(root.join(CONFIG.trim_start_matches('/'))).unwrap(),
    ));
    assert_eq!(config.sha256.as_deref(), Some(host_sha.as_str()));
    // The env file: recorded and hashed, its bytes nowhere in the bundle.
    let env = record(ENV);
    assert!(env.member.is_none() && env.sha256.is_some(), "{env:?}");
    let leaks: Vec<&str> = bundle
        .member_names()
        .filter(|m| {
            bundle.member(m).is_some_and(|b| {
                b.windows(ENV_SECRET.len())
                    .any(|w| w == ENV_SECRET.as_bytes())
            })
        })
        .collect();
    assert!(leaks.is_empty(), "{ENV_SECRET} stored in {leaks:?}");

    // The analyzer finds the miner config in the stored copy: its pool and its wallet.
    let analysis = minetrace_e2e::analysis::analyze(&out, None).unwrap();
    let path_subject = Subject::File {
        path: minetrace_schemas::RawBytes::new(CONFIG.as_bytes().to_vec()),
        sha256: Some(host_sha),
    };
    let found = analysis
        .doc
        .findings
        .iter()
        .find(|f| f.rule == "MT-RUN-013" && f.has_subject(&path_subject))
        .unwrap_or_else(|| panic!("no MT-RUN-013 for {CONFIG}:\n{:#?}", analysis.doc.findings));
    assert!(
        found.evidence.iter().any(|e| e == &format!("pool {POOL}")),
        "{:?}",
        found.evidence
    );
    assert!(
        found
            .evidence
            .iter()
            .any(|e| e.starts_with("Monero wallet ")),
        "{:?}",
        found.evidence
    );
}
