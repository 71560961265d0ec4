//! A kit binary in a hidden directory of a busy home — 50,000 ordinary files, toolchain-sized
//! executables that alone exceed the copy budget — is still hashed and copied, within the budget, and
//! what was left out says why (issue 16: spend by suspicion, not by discovery order).

use std::path::Path;
use std::process::Command;

use minetrace_schemas::bundle::{members, Bundle, ReadLimits};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::RecordSetV1;
use sha2::{Digest, Sha256};

const KIT: &str = "/home/dev/.local/share/.x/kswapd0";

fn elf(tag: &str, len: usize) -> Vec<u8> {
    let mut v = b"\x7fELF\x02\x01\x01\x00".to_vec();
    v.extend(tag.as_bytes());
    v.resize(len, b'k');
    v
}

fn put(root: &Path, path: &str, bytes: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
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
        put(root, &format!("/home/dev/{name}"), b"# ordinary\n", 0o644);
        n += 1;
    }
    for i in 0..5 {
        put(
            root,
            &format!("/home/dev/project/notes{i}.md"),
            b"notes\n",
            0o644,
        );
        n += 1;
    }
    assert_eq!(n, 50_000);
}

fn collect(root: &Path, out: &Path) -> (Bundle, Vec<FileRecord>) {
    let status = Command::new(env!("CARGO_BIN_EXE_minetrace-collect"))
        .arg("--root")
        .arg(root)
        .arg("-o")
        .arg(out)
        .args(["--threads", "0"])
        .status()
        .unwrap();
    assert!(status.success());
    let bundle = Bundle::open(out, ReadLimits::default())
        .unwrap()
        .verified()
        .unwrap();
    let files = match bundle.records(members::FILES).unwrap() {
        Some(RecordSetV1::Files(f)) => f,
        other => panic!("files record: {other:?}"),
    };
    (bundle, files)
}

#[test]
fn a_kit_in_a_hidden_directory_of_a_busy_home_is_hashed_and_copied_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    put(
        &root,
        "/etc/passwd",
        b"root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\n",
        0o644,
    );
    busy_home(&root);
    // Toolchain-sized executables in hidden directories, 160 MiB in all: more than the default 64 MiB
    // copy budget, met before the kit in name order.
    for i in 0..4 {
        put(
            &root,
            &format!("/home/dev/.a-toolchain/bin/tool{i}"),
            &elf("tool", 8 << 20),
            0o755,
        );
        put(
            &root,
            &format!("/home/dev/.a-toolchain/lib/x/y/z/big{i}"),
            &elf("big", 32 << 20),
            0o755,
        );
    }
    let kit = elf("kit", 2 << 20);
    put(&root, KIT, &kit, 0o755);
    put(
        &root,
        "/home/dev/.local/share/.x/run",
        b"#!/bin/sh\ncd \"$(dirname \"$0\")\" && ./kswapd0 &\n",
        0o755,
    );

    let (bundle, files) = collect(&root, &dir.path().join("b.tar.zst"));
    let rec = files
        .iter()
        .find(|f| f.path.as_bytes() == KIT.as_bytes())
        .expect("the kit is listed");
    let want = hex::encode(Sha256::digest(&kit));
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
        .filter(|f| {
            f.path.as_bytes().starts_with(b"/home/dev/")
                && f.kind == minetrace_schemas::records::file::FileKind::Regular
        })
        .count();
    assert_eq!(
        listed,
        50_000 + 4 * 2 + 2,
        "regular files listed under /home/dev"
    );
}
