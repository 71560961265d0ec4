//! The script: the fixed template (`template.sh`, reviewed as code) with the plan appended as data.
//!
//! Data format (`MT_DATA`): one record a line, fields separated by one space, every field lowercase hex
//! of its bytes or `-` when empty. The block is therefore `[0-9a-f -]` and newlines only, so it cannot
//! leave its single quotes, and its SHA-256 is pinned in `MT_DATA_SHA256` and checked before the script
//! uses it. The script decodes fields at run time into variables (never into code).
//!
//! Record layouts (field 0 is the plan number, 0 for non-actions; 1 the kind; 2 the stage; 3 the title,
//! 4 the target, 5 the reasons — 3 to 5 are escaped ASCII for display; the **last** field of every action
//! record is its gate: empty for `--apply`, else the review numbers that open it, `1,4`):
//! - `host`: 3 hostname, 4 machine-id, 5 boot id, 6 bundle sha256, 7 collected at, 8 analyzer version
//! - `preserve-proc`, `freeze`, `kill`: 6 pid, 7 start ticks, 8 exe sha256
//! - `freeze-set`, `kill-set`: 6 count of processes, then per process: pid, start ticks, its gate; then
//!   the count of kit files, then per file: dev, inode, path, size (or `-`), sha256 (or `-`), its gate;
//!   then four word lists, each a count and the words: interpreter names, interpreter options taking a
//!   value, interpreter options after which no script file follows (`-c`, `-m`, ...), package
//!   directories (`/usr/bin/`: a program there is never a member by its bytes alone)
//! - `preserve-file`, `quarantine`, `reinstall`: 6 path, 7 dev, 8 inode, 9 sha256, 10 size,
//!   11 number of the preserve action (`quarantine`, `reinstall`), 12 package (`reinstall`),
//!   13 package manager (`reinstall`: `dpkg`, `rpm` or empty when unknown)
//! - `unit`: 6 path, 7 dev, 8 inode, 9 sha256, 10 size, 11 preserve number, 12 unit name
//! - `unlink`: 6 path, 7 dev, 8 inode, 9 link target
//! - `rename-back`: 6 path, 7 dev, 8 inode, 9 sha256, 10 size, 11 preserve number, 12 the package path
//!   it goes back to, 13 the package's digest algorithm (`md5`, `sha256`, ...: what the script hashes
//!   it with to ask the package database)
//! - `rmdir`: 6 count of directories, then per directory (deepest first, the kit directory last):
//!   path, dev, inode
//! - `edit`, `edit-unit` (a systemd unit or drop-in: the manager reloads it after): 6 path, 7 dev,
//!   8 inode, 9 sha256 before, 10 size before, 11 preserve number, 12 count, then per line: offset,
//!   length, exact bytes, key blob (or `-`), the line's own gate; then the flags policy of the file and
//!   of its directory, each `restore` (its immutable and append-only flags are set again after the
//!   edit) or `clear` (the lock is the intrusion's), and the flags the snapshot saw on each (`i`, `a`,
//!   `ia` or `-`: with one to set again and none readable at run time, no edit)
//! - `block`: 6 family (4 or 6), 7 address, 8 port
//! - `fw-delete`: 6 family hint (4, 6 or `-`), 7 tables (`filter,nat`), 8 count, then the arguments
//!   (chain first)
//! - `lock`: 6 name, 7 uid, 8 count of administrators' groups (the `admin_group` indicators: the
//!   script never locks an account that is the last member of one), then the group names
//! - `restart`: 6 unit file path, 7 dev, 8 inode, 9 sha256, 10 size, 11 unit name, 12 pid, 13 start
//!   ticks (the process that maps the injected code: the restart is done once it is gone)
//! - `verify`: nothing more
//! - `recommend`, `manual`: 3 text, 5 reason
//! - `review`: 3 what would be done, 4 target, 5 findings, 6 review number, 7 why it is not attributed

use std::fmt::Write as _;
use std::net::IpAddr;

use minetrace_schemas::records::package::PackageManager;

use super::edit::sha256;
use super::locks::LockPolicy;
use super::plan::{
    Action, FileTarget, Gate, LineKind, LineRemoval, Plan, ProcessTarget, RespawnSet,
};
use crate::parse::shell_line;

/// The reviewed template; only the two placeholders are replaced.
pub const TEMPLATE: &str = include_str!("template.sh");
const DATA_MARK: &str = "@MT_DATA@";
const HASH_MARK: &str = "@MT_DATA_SHA256@";

struct Record(Vec<Vec<u8>>);

impl Record {
    fn new(n: usize, kind: &str, stage: &str, title: &str, target: &str, why: &str) -> Record {
        Record(vec![
            n.to_string().into_bytes(),
            kind.as_bytes().to_vec(),
            stage.as_bytes().to_vec(),
            title.as_bytes().to_vec(),
            target.as_bytes().to_vec(),
            why.as_bytes().to_vec(),
        ])
    }

    fn push(&mut self, field: impl AsRef<[u8]>) -> &mut Self {
        self.0.push(field.as_ref().to_vec());
        self
    }

    fn num(&mut self, n: impl ToString) -> &mut Self {
        self.push(n.to_string())
    }

    fn encode(&self, out: &mut String) {
        for (i, f) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if f.is_empty() {
                out.push('-');
            }
            for b in f {
                let _ = write!(out, "{b:02x}");
            }
        }
        out.push('\n');
    }
}

/// A gate as a field: empty for `--apply`, else `1,4`; `closed` (malformed to the script: never carried
/// out) for a review gate without a number, which must never read as the empty `--apply` field.
fn gate_field(g: &Gate) -> String {
    match g {
        Gate::Apply => String::new(),
        Gate::Review(v) if v.is_empty() => "closed".into(),
        Gate::Review(v) => v.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
    }
}

fn proc_fields(r: &mut Record, p: &ProcessTarget) {
    r.num(p.pid)
        .num(p.start_ticks)
        .push(p.exe_sha256.as_deref().unwrap_or(""));
}

fn file_fields(r: &mut Record, f: &FileTarget) {
    r.push(f.path.as_bytes())
        .num(f.dev)
        .num(f.ino)
        .push(&f.sha256)
        .num(f.size);
}

fn set_fields(r: &mut Record, set: &RespawnSet) {
    r.num(set.procs.len());
    for p in &set.procs {
        r.num(p.pid).num(p.start_ticks).push(gate_field(&p.gate));
    }
    r.num(set.files.len());
    for f in &set.files {
        r.num(f.dev).num(f.ino).push(f.path.as_bytes());
        match &f.content {
            Some((size, sha)) => r.num(size).push(sha),
            None => r.push("").push(""),
        };
        r.push(gate_field(&f.gate));
    }
    // How the script tells an interpreter running a kit script from any other process holding a kit
    // file: the analyzer's own interpreter syntax, never a second list in the template.
    let stops: Vec<&[u8]> = shell_line::INLINE_OPTIONS
        .iter()
        .chain(shell_line::NO_SCRIPT_OPTIONS)
        .copied()
        .collect();
    for words in [shell_line::INTERPRETERS, shell_line::VALUED_OPTIONS, &stops] {
        r.num(words.len());
        for w in words {
            r.push(w);
        }
    }
    r.num(set.package_dirs.len());
    for d in &set.package_dirs {
        r.push(d);
    }
}

/// The kind word of an action's record.
fn kind(a: &Action) -> &'static str {
    match a {
        Action::PreserveProcess(_) => "preserve-proc",
        Action::PreserveFile(_) => "preserve-file",
        Action::Freeze(_) => "freeze",
        Action::FreezeSet(_) => "freeze-set",
        Action::KillSet(_) => "kill-set",
        // A unit file the manager holds in memory: the edit is followed by a daemon-reload.
        Action::RemoveLines { file, .. } if super::targets::in_unit_dir(file.path.as_bytes()) => {
            "edit-unit"
        }
        Action::RemoveLines { .. } => "edit",
        Action::RemoveUnit { .. } => "unit",
        Action::QuarantineFile { .. } => "quarantine",
        Action::RemoveLink(_) => "unlink",
        Action::RenameBack { .. } => "rename-back",
        Action::RemoveKitDir { .. } => "rmdir",
        Action::Kill(_) => "kill",
        Action::BlockEndpoint { .. } => "block",
        Action::DeleteFirewallRule { .. } => "fw-delete",
        Action::LockAccount { .. } => "lock",
        Action::Reinstall { .. } => "reinstall",
        Action::RestartService(_) => "restart",
        Action::Verify => "verify",
    }
}

/// The data block for a plan: the host record, one record per action in plan order, then the review
/// items, the recommendations and what is left to the responder.
pub fn data_block(plan: &Plan) -> String {
    let mut out = String::from("\n");
    host_record(plan).encode(&mut out);
    for (i, item) in plan.items.iter().enumerate() {
        let a = &item.action;
        let why = if item.why.is_empty() {
            "-".to_owned()
        } else {
            item.why.join("; ")
        };
        let mut r = Record::new(
            i + 1,
            kind(a),
            a.stage().name(),
            &a.title(),
            &a.target(),
            &why,
        );
        action_fields(&mut r, a, plan);
        // The gate is every action record's last field, whatever its kind's layout.
        r.push(gate_field(&item.gate));
        r.encode(&mut out);
    }
    for rv in &plan.reviews {
        let mut r = Record::new(0, "review", "-", &rv.title, &rv.target, &rv.why.join("; "));
        r.num(rv.number).push(rv.reason.join("; "));
        r.encode(&mut out);
    }
    for rec in &plan.recommendations {
        Record::new(0, "recommend", "-", &rec.text, "", &rec.why).encode(&mut out);
    }
    for m in &plan.manual {
        Record::new(0, "manual", "-", m, "", "").encode(&mut out);
    }
    out
}

/// The `host` record: what the script checks it runs on, and where the plan came from.
fn host_record(plan: &Plan) -> Record {
    let h = &plan.host;
    let mut host = Record::new(
        0,
        "host",
        "-",
        &minetrace_schemas::escape_bytes(h.hostname.as_bytes()),
        &minetrace_schemas::escape_bytes(h.machine_id.as_bytes()),
        &minetrace_schemas::escape_bytes(h.boot_id.as_bytes()),
    );
    host.push(&plan.bundle_sha256)
        .push(minetrace_schemas::escape_bytes(
            plan.collected_at.as_bytes(),
        ))
        .push(minetrace_schemas::escape_bytes(
            plan.analyzer_version.as_bytes(),
        ));
    host
}

/// The fields of an action's record after the common six, as the module documentation lays them out
/// per kind (the gate is appended by the caller).
fn action_fields(r: &mut Record, a: &Action, plan: &Plan) {
    match a {
        Action::PreserveProcess(p) | Action::Freeze(p) | Action::Kill(p) => proc_fields(r, p),
        Action::FreezeSet(set) | Action::KillSet(set) => set_fields(r, set),
        Action::PreserveFile(f) => file_fields(r, f),
        Action::QuarantineFile { file, preserved } => {
            file_fields(r, file);
            r.num(preserved);
        }
        Action::RenameBack {
            file,
            back,
            preserved,
        } => {
            file_fields(r, file);
            r.num(preserved)
                .push(back.to.as_bytes())
                .push(back.algorithm.name());
        }
        Action::RemoveKitDir { dirs } => {
            r.num(dirs.len());
            for d in dirs {
                r.push(d.path.as_bytes()).num(d.dev).num(d.ino);
            }
        }
        Action::RemoveLink(l) => {
            r.push(l.path.as_bytes())
                .num(l.dev)
                .num(l.ino)
                .push(l.target.as_bytes());
        }
        Action::Reinstall {
            file,
            package,
            manager,
            preserved,
        } => {
            file_fields(r, file);
            r.num(preserved)
                .push(package.as_deref().unwrap_or(""))
                .push(match manager {
                    Some(PackageManager::Dpkg) => "dpkg",
                    Some(PackageManager::Rpm) => "rpm",
                    None => "",
                });
        }
        Action::RemoveUnit {
            unit,
            file,
            preserved,
        } => {
            file_fields(r, file);
            r.num(preserved).push(unit);
        }
        Action::RemoveLines {
            file,
            lines,
            preserved,
            locks,
        } => edit_fields(r, file, lines, *preserved, locks),
        Action::BlockEndpoint { ip, port } => {
            let fam = if matches!(ip, IpAddr::V4(_)) {
                "4"
            } else {
                "6"
            };
            r.push(fam).push(ip.to_string()).num(port);
        }
        Action::DeleteFirewallRule {
            args,
            family,
            tables,
            ..
        } => {
            r.push(family.map(|f| f.to_string()).unwrap_or_default())
                .push(tables.join(","))
                .num(args.len());
            for a in args {
                r.push(a.as_bytes());
            }
        }
        Action::LockAccount { name, uid } => {
            // The administrators' groups travel with the record: the script keeps no list of its own.
            r.push(name.as_bytes())
                .push(uid.map(|u| u.to_string()).unwrap_or_default())
                .num(plan.admin_groups.len());
            for g in &plan.admin_groups {
                r.push(g);
            }
        }
        Action::RestartService(rs) => {
            file_fields(r, &rs.file);
            r.push(&rs.unit)
                .num(rs.process.pid)
                .num(rs.process.start_ticks);
        }
        Action::Verify => {}
    }
}

/// An `edit`/`edit-unit` record's fields: the file, its evidence copy, each line (offset, length, exact
/// bytes, key blob, its own gate), then the lock policy of the file and its directory and the flags the
/// snapshot saw on each.
fn edit_fields(
    r: &mut Record,
    file: &FileTarget,
    lines: &[LineRemoval],
    preserved: usize,
    locks: &LockPolicy,
) {
    file_fields(r, file);
    r.num(preserved).num(lines.len());
    for l in lines {
        r.num(l.offset).num(l.len).push(l.bytes.as_bytes());
        match &l.kind {
            LineKind::SshKey { blob, .. } => r.push(blob),
            LineKind::Line => r.push(""),
        };
        r.push(gate_field(&l.gate));
    }
    let policy = |restore: bool| if restore { "restore" } else { "clear" };
    r.push(policy(locks.restore_file))
        .push(policy(locks.restore_dir))
        .push(&locks.seen_file)
        .push(&locks.seen_dir);
}

/// The complete script for a plan: printable ASCII, the template byte for byte plus the data.
pub fn render(plan: &Plan) -> String {
    let data = data_block(plan);
    let hash = sha256(data.as_bytes());
    TEMPLATE
        .replacen(HASH_MARK, &hash, 1)
        .replacen(DATA_MARK, &data, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_without_a_review_number_is_never_the_apply_field() {
        assert_eq!(gate_field(&Gate::Apply), "");
        assert_eq!(gate_field(&Gate::Review(vec![1, 4])), "1,4");
        // The script reads anything but digits and commas as malformed: never carried out.
        assert_eq!(gate_field(&Gate::Review(Vec::new())), "closed");
    }

    #[test]
    fn template_has_each_placeholder_once_and_is_ascii() {
        assert_eq!(TEMPLATE.matches(DATA_MARK).count(), 1);
        assert_eq!(TEMPLATE.matches(HASH_MARK).count(), 1);
        assert!(TEMPLATE
            .bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b)));
    }

    #[test]
    fn fields_are_hex_or_dash() {
        let mut out = String::new();
        let mut r = Record::new(3, "edit", "persistence", "t", "", "w");
        r.push(b"$(touch /tmp/pwned)\n'`\xff".as_slice());
        r.encode(&mut out);
        assert!(out.bytes().all(|b| b"0123456789abcdef -\n".contains(&b)));
        assert!(out.contains(" - "));
        assert!(out.ends_with("2f70776e6564290a2760ff\n"));
    }
}
