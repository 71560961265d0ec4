//! Every scenario in `samples/scenarios/`, planted in its own sandbox, collected live by the real
//! `minetrace-collect`, and checked against its ground truth; then the sandbox is torn down and the real host
//! is checked to hold none of what was planted.
//!
//! Each scenario has two tests: `planted_<id>` proves the harness (the planted state is really there, seen from
//! inside with `ps`, `ss`, `/proc` and `lsattr`-equivalent ioctls), `bundle_<id>` proves the collector captured it.

use std::collections::BTreeSet;

use minetrace_e2e::live::{assert_nothing_leaked, host_absent_paths, preexisting};
use minetrace_e2e::plant::{plant, Planted};
use minetrace_e2e::sandbox::Sandbox;
use minetrace_e2e::scenario;
use minetrace_e2e::truth::{check_bundle, read_bundle, resolve};

/// `0100007F:0D05` from `/proc/net/tcp` as `127.0.0.1:3333`.
fn decode_addr(hex: &str) -> Option<String> {
    let (ip, port) = hex.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?.to_le_bytes();
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(format!("{}.{}.{}.{}:{port}", ip[0], ip[1], ip[2], ip[3]))
}

/// (local, remote, state) of the TCP sockets process `pid` holds, read from `/proc` inside the sandbox.
fn tcp_sockets_of(sb: &Sandbox, pid: i32) -> Vec<(String, String, String)> {
    let links = sb
        .sh(&format!(
            "for f in /proc/{pid}/fd/*; do readlink \"$f\"; done"
        ))
        .unwrap_or_default();
    let inodes: BTreeSet<&str> = links
        .lines()
        .filter_map(|l| l.strip_prefix("socket:[")?.strip_suffix(']'))
        .collect();
    let table = sb
        .fs()
        .read_file(format!("/proc/{pid}/net/tcp").as_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&table)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let state = match *f.get(3)? {
                "01" => "ESTABLISHED",
                "0A" => "LISTEN",
                other => other,
            };
            inodes.contains(f.get(9)?).then(|| {
                Some((
                    decode_addr(f.get(1)?)?,
                    decode_addr(f.get(2)?)?,
                    state.to_owned(),
                ))
            })?
        })
        .collect()
}

/// Checks the planted state from inside the sandbox: `/proc` for argv and sockets, ioctls for flags.
fn check_live(sb: &Sandbox, planted: &Planted) -> Vec<String> {
    let mut problems = Vec::new();
    for p in &planted.processes {
        let cmdline = sb
            .fs()
            .read_file(format!("/proc/{}/cmdline", p.pid).as_bytes());
        let want: Vec<u8> = p
            .argv
            .iter()
            .flat_map(|a| a.iter().copied().chain([0]))
            .collect();
        match cmdline {
            Ok(c) if c == want => {}
            Ok(c) => problems.push(format!(
                "{}: cmdline {:?}",
                p.name,
                String::from_utf8_lossy(&c)
            )),
            Err(e) => problems.push(format!("{}: pid {} is not running ({e})", p.name, p.pid)),
        }
        let sockets = tcp_sockets_of(sb, p.pid);
        for addr in p.connect.iter().chain(&p.peers) {
            if !sockets
                .iter()
                .any(|(_, r, st)| r == addr && st == "ESTABLISHED")
            {
                problems.push(format!("{}: no connection to {addr}: {sockets:?}", p.name));
            }
        }
        if let Some(addr) = &p.listen {
            if !sockets.iter().any(|(l, _, st)| l == addr && st == "LISTEN") {
                problems.push(format!("{}: not listening on {addr}: {sockets:?}", p.name));
            }
        }
    }
    for f in &planted.files {
        if let Ok(flags) = sb.fs().flags(&f.path) {
            let imm = flags & minetrace_e2e::sandbox::fs::FS_IMMUTABLE_FL != 0;
            if imm != f.immutable {
                problems.push(format!(
                    "{}: immutable {imm}",
                    String::from_utf8_lossy(&f.path)
                ));
            }
        }
    }
    if sb.fs().exists(b"/tmp/pwned") {
        problems.push("/tmp/pwned exists: a hostile name was executed".into());
    }
    problems
}

fn planted_only(id: &str) {
    let sc = scenario::load(id).unwrap();
    let paths = host_absent_paths(&sc);
    let before = preexisting(&paths);
    let mut sb = Sandbox::start(&sc.scenario.hostname).unwrap();
    let planted = plant(&mut sb, &sc).unwrap();
    resolve(&sc, &planted).unwrap();
    let problems = check_live(&sb, &planted);
    sb.shutdown().unwrap();
    assert_nothing_leaked(&paths, &before);
    assert!(
        problems.is_empty(),
        "{id}: planted state is wrong:\n{}",
        problems.join("\n")
    );
}

fn bundle_matches_truth(id: &str) {
    let sc = scenario::load(id).unwrap();
    let mut sb = Sandbox::start(&sc.scenario.hostname).unwrap();
    let planted = plant(&mut sb, &sc).unwrap();
    let truth = resolve(&sc, &planted).unwrap();
    let bytes = sb.collect().unwrap();
    sb.shutdown().unwrap();
    let bundle = read_bundle(&bytes).unwrap();
    let problems = check_bundle(&planted, &truth, &bundle);
    assert!(
        problems.is_empty(),
        "{id}: the bundle misses {} planted facts:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

macro_rules! scenarios {
    (malicious: [$($m:ident => $mid:literal),* $(,)?], clean: [$($c:ident => $cid:literal),* $(,)?] $(,)?) => {
        scenarios! { $($m => $mid,)* $($c => $cid),* }
    };
    ($($name:ident => $id:literal),* $(,)?) => {
        const TESTED: &[&str] = &[$($id),*];
        mod planted {
            $(#[test] fn $name() { super::planted_only($id); })*
        }
        mod bundle {
            $(#[test] fn $name() { super::bundle_matches_truth($id); })*
        }
    };
}

minetrace_e2e::scenario_lists!(scenarios);

#[test]
fn every_scenario_file_has_tests_and_loads() {
    let ids = scenario::all_ids().unwrap();
    assert!(ids.len() >= 10, "{ids:?}");
    for id in &ids {
        scenario::load(id).unwrap();
        assert!(
            TESTED.contains(&id.as_str()),
            "scenario {id} has no test in tests/scenarios.rs"
        );
    }
    for id in TESTED {
        assert!(
            ids.iter().any(|i| i == id),
            "{id} is tested but has no file"
        );
    }
}
