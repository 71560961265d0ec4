//! Targets for the single-artifact parsers: record members, copied ELF executables, the analyzer's text
//! parsers and the collector's readers of host text. Each takes the bytes an attacker wrote and must not
//! panic, hang or balloon; where a parser promises more (record round trips, line numbers inside the
//! file, escaped output) the target checks that too.

use std::hint::black_box;
use std::sync::OnceLock;

use minetrace_analyzer::detect::runtime::miner_binary::{self, Matcher};
use minetrace_analyzer::parse::{
    auth_log, authorized_keys, cron, iptables, journal, numbered_lines, passwd, shell_line,
    sshd_config, sudoers, systemd_unit,
};
use minetrace_analyzer::remediate::firewall;
use minetrace_collector::files::accounts;
use minetrace_collector::live::{maps, sockets};
use minetrace_collector::rpmdb::{bdb, header, ndb, sqlite, BlobSink};
use minetrace_schemas::records::socket::SocketProto;
use minetrace_schemas::records::{decode, encode};

/// Lines in the input, for line-number checks.
fn line_count(data: &[u8]) -> u32 {
    numbered_lines(data).last().map_or(0, |(n, _)| n)
}

/// A reported line number is one of the input's `lines` lines (counted once per input: counting per call
/// made the targets quadratic).
fn assert_line(what: &str, line: u32, lines: u32) {
    assert!(
        line >= 1 && line <= lines,
        "{what}: line {line} is outside the input's {lines} lines"
    );
}

/// A record member: decoding never panics, and what decodes re-encodes to a member that decodes and
/// encodes to the same bytes (the collector's writer and the analyzer's reader agree on every value;
/// bytes, not values, are compared, since a NaN load average is not equal to itself).
pub fn records(data: &[u8]) {
    if let Ok(set) = decode(data) {
        let once = encode(&set);
        let twice = decode(&once).map(|s| encode(&s));
        assert_eq!(
            twice.as_ref().ok(),
            Some(&once),
            "records: a re-encoded member does not round trip"
        );
    }
}

/// A copied executable through the analyzer's ELF analysis with the built-in indicators.
pub fn elf(data: &[u8]) {
    static MATCHER: OnceLock<Option<Matcher>> = OnceLock::new();
    let iocs = &crate::bundle::inputs().iocs;
    let matcher = MATCHER.get_or_init(|| Matcher::new(iocs));
    black_box(miner_binary::analyse(
        iocs,
        data,
        matcher.as_ref(),
        64 << 20,
    ));
}

/// Crontabs in all three layouts, anacrontab and `at` job files.
pub fn cron(data: &[u8]) {
    let lines = line_count(data);
    for format in [
        cron::CronFormat::System,
        cron::CronFormat::User,
        cron::CronFormat::Anacron,
    ] {
        black_box(cron::parse(data, format));
        for e in cron::entries(data, format) {
            assert_line("cron", e.line, lines);
            black_box((
                e.schedule.display(),
                e.schedule.at_boot(),
                e.schedule.frequent(),
            ));
        }
    }
    for (n, line) in cron::at_job_lines(data) {
        assert_line("at job", n, lines);
        black_box(line);
    }
    black_box(cron::format_for_path(data));
    black_box(cron::spool_user(data));
    black_box(cron::is_redis_rdb(data));
}

/// systemd unit files: sections, `Exec*` command lines, quoting.
pub fn systemd_unit(data: &[u8]) {
    let unit = systemd_unit::Unit::parse(data);
    for c in unit.exec_commands() {
        black_box(c);
    }
    black_box((
        unit.restart(),
        unit.user(),
        unit.timer_unit(),
        unit.wanted_by(),
    ));
    black_box(systemd_unit::split_quoted(data));
    black_box(systemd_unit::is_unit_path(data));
}

/// `authorized_keys`, `.pub` and `known_hosts` files, key options and fingerprints.
pub fn authorized_keys(data: &[u8]) {
    let lines = line_count(data);
    let file = authorized_keys::parse(data);
    for key in &file.keys {
        assert_line("authorized_keys", key.line, lines);
        black_box((key.option_list(), key.forced_command()));
    }
    for (n, _) in &file.invalid {
        assert_line("authorized_keys (invalid)", *n, lines);
    }
    black_box(authorized_keys::parse_known_hosts(data));
    black_box(authorized_keys::fingerprint(data));
}

/// `sshd_config` with `Include` resolution against candidate paths taken from the input, and the glob
/// matcher on both halves of the input (a pattern an attacker wrote against a name they chose).
pub fn sshd_config(data: &[u8]) {
    let directives = sshd_config::parse(b"/etc/ssh/sshd_config", data);
    for keyword in [
        "authorizedkeysfile",
        "permitrootlogin",
        "include",
        "authorizedkeyscommand",
    ] {
        black_box(sshd_config::effective(&directives, keyword));
    }
    let candidates: Vec<&[u8]> = data.split(|b| *b == b'\n').take(64).collect();
    for d in directives.iter().take(64) {
        black_box(d.value());
        black_box(sshd_config::include_targets(
            d.value().as_bytes(),
            candidates.iter().copied(),
        ));
    }
    let (pattern, name) = data.split_at(data.len() / 2);
    black_box(sshd_config::glob_match(pattern, name));
}

/// Shell command lines (cron commands, `Exec*`, history lines, rc files), one call per line and once for
/// the whole input.
pub fn shell_line(data: &[u8]) {
    let classes = crate::bundle::inputs().iocs.paths();
    black_box(shell_line::analyze(data));
    for (_, line) in numbered_lines(data).take(256) {
        let s = shell_line::analyze(line);
        black_box((
            s.temp_exec(classes),
            s.hidden_exec(classes),
            s.is_quiet(classes),
        ));
        black_box(shell_line::ipv4s(line));
        black_box(classes.classes(line));
    }
}

/// `sudoers` and its `#include`/`@includedir` lines.
pub fn sudoers(data: &[u8]) {
    black_box(sudoers::parse(data));
    black_box(sudoers::includes(data));
}

/// `passwd`, `group` and `shadow`: the analyzer's parsers and the collector's account and shadow
/// summaries (the collector keeps no password hash: only whether one is usable).
pub fn passwd(data: &[u8]) {
    let lines = line_count(data);
    black_box(passwd::parse_passwd(data));
    black_box(passwd::parse_group(data));
    black_box(accounts::parse_passwd(data));
    for entry in accounts::summarise_shadow(b"/etc/shadow", data) {
        assert_line("shadow", entry.line, lines);
    }
    for (_, line) in numbered_lines(data).take(256) {
        black_box(accounts::password_state(line));
    }
}

/// `iptables-save`/`ip6tables-save` and `nft list ruleset` captures, and the remediation side's exact
/// argument lists for deleting an attacker's rule.
pub fn iptables(data: &[u8]) {
    black_box(iptables::parse(data));
    for (_, line) in numbered_lines(data).take(512) {
        if let Ok(args) = firewall::rule_args(line) {
            black_box(firewall::family(&args));
        }
        for word in line.split(|b| *b == b' ').take(64) {
            if let Some(a) = iptables::parse_cidr(word) {
                black_box(iptables::cidr_overlap(a, a));
            }
            black_box(firewall::endpoint(&String::from_utf8_lossy(word)));
        }
    }
}

/// `auth.log`/`secure` lines (sshd, sudo, su, useradd, ...), with syslog timestamps.
pub fn auth_log(data: &[u8]) {
    for l in auth_log::parse(data) {
        black_box(l);
    }
}

/// The collector's readers of kernel text an attacker shapes through names: `/proc/PID/maps` lines (a
/// mapped file's path is any bytes) and `/proc/net/{tcp,udp,unix}` rows.
pub fn proc_text(data: &[u8]) {
    for line in data.split(|b| *b == b'\n').take(1024) {
        black_box(maps::parse_line(line));
        black_box(sockets::parse_unix_line(line, 1));
        let text = String::from_utf8_lossy(line);
        for proto in [
            SocketProto::Tcp,
            SocketProto::Tcp6,
            SocketProto::Udp,
            SocketProto::Raw6,
        ] {
            black_box(sockets::parse_inet_line(&text, proto, 1));
        }
    }
}

/// A systemd journal file through the analyzer's reader: header checks, then entries as sdjournal reads
/// them (the bytes are staged in a private temporary file, as the analyzer does), and sequence gaps.
pub fn journal(data: &[u8]) {
    black_box(journal::header(data).ok());
    if let Ok(read) = journal::read(data) {
        black_box(journal::seqnum_gaps(&[&read]));
    }
}

/// The WAL file's magic (`0x377f0682` or `0x377f0683`, big-endian): where an `rpmdb` input that holds a
/// database and its `-wal` log splits.
fn split_wal(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    // memchr's search, not a comparison per window: on megabyte inputs the window loop was most of the
    // target's time.
    let at = memchr::memmem::find_iter(data, &[0x37, 0x7f, 0x06])
        .find(|i| matches!(data.get(i + 3), Some(0x82 | 0x83)));
    match at {
        Some(i) => (&data[..i], Some(&data[i..])),
        None => (data, None),
    }
}

/// rpm databases as the collector reads them without the host's `rpm`: one header blob, `rpmdb.sqlite`
/// (with a `-wal` log when the input holds one), Berkeley DB hash `Packages` and ndb `Packages.db`.
pub fn rpmdb(data: &[u8]) {
    if let Ok(p) = header::parse(data) {
        black_box(p.nevra());
    }
    let mut on_package = |p: minetrace_collector::rpmdb::header::RpmPackage| {
        black_box(p.nevra());
    };
    let mut sink = BlobSink::new(&mut on_package);
    let (db, wal) = split_wal(data);
    black_box(sqlite::read_bytes(db, wal, &mut sink).ok());
    black_box(bdb::read_bytes(data, &mut sink).ok());
    black_box(ndb::read_bytes(data, &mut sink).ok());
}
