//! The authorized_keys parser's fingerprints equal what the real `ssh-keygen -lf` prints, for every key
//! type `ssh-keygen` can make here, in a file with options, CRLF endings and no final newline.

use std::process::Command;

use minetrace_analyzer::parse::authorized_keys;

fn have_ssh_keygen() -> bool {
    Command::new("ssh-keygen").arg("-?").output().is_ok()
}

#[test]
fn fingerprints_match_ssh_keygen() {
    if !have_ssh_keygen() {
        eprintln!("ssh-keygen not installed; skipping (install openssh-client)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for (i, (ty, bits)) in [
        ("ed25519", None),
        ("rsa", Some("2048")),
        ("ecdsa", Some("384")),
    ]
    .iter()
    .enumerate()
    {
        let key = dir.path().join(format!("k{i}"));
        let mut cmd = Command::new("ssh-keygen");
        cmd.args([
            "-q",
            "-t",
            ty,
            "-N",
            "",
            "-C",
            &format!("user{i}@host two"),
            "-f",
        ])
        .arg(&key);
        if let Some(b) = bits {
            cmd.args(["-b", b]);
        }
        assert!(cmd.status().unwrap().success());
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(key.with_extension("pub"))
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        // "<bits> SHA256:... comment (TYPE)"
        expected.push(printed.split_whitespace().nth(1).unwrap().to_owned());
        let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let pubkey = pubkey.trim_end();
        lines.push(match i {
            0 => pubkey.to_owned(),
            1 => format!("command=\"echo \\\"a b\\\"\",no-pty {pubkey}"),
            _ => format!("  from=\"10.0.0.1, 10.0.0.2\"\t{pubkey}"),
        });
    }
    let file = lines.join("\r\n");
    let parsed = authorized_keys::parse(file.as_bytes());
    assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
    let got: Vec<_> = parsed.keys.iter().map(|k| k.fingerprint.clone()).collect();
    assert_eq!(got, expected);
    assert_eq!(parsed.keys[1].comment, b"user1@host two");
    assert_eq!(parsed.keys[2].line, 3);
    assert!(parsed.keys[2].options.is_some());
}
