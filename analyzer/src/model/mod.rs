//! The normalized host view every detector reads: the bundle's records decoded once, with the lookups
//! detectors need (process by pid, executable by file id, file content by path).
//!
//! Building the model is the only place that decodes records; detectors never touch the bundle.
//!
//! The model also owns the host facts every later stage reads, each derived once here:
//! [`HostModel::accounts`] ([`accounts`]), [`HostModel::auth`] (authentication events of every source,
//! [`auth`]), [`HostModel::brute_force`] (the SSH brute force in them, [`brute_force`]) and
//! [`HostModel::persistence`] (every persisted line, [`persistence`]) and [`HostModel::moved_tools`]
//! (packaged tools moved away from their package path, [`moved_tools`]). Path classes come from the
//! indicators ([`crate::indicators::PathClasses`]).

pub mod accounts;
pub mod addresses;
pub mod auth;
pub mod brute_force;
pub mod firewall;
pub mod journal;
pub mod mounts;
pub mod moved_tools;
pub mod persistence;
pub mod service_logs;
pub mod ssh;
pub mod web_sites;

use std::collections::{BTreeMap, HashMap, HashSet};

use minetrace_schemas::bundle::{members, Bundle, BundleError};
use minetrace_schemas::manifest::Manifest;
use minetrace_schemas::records::account::ShadowEntry;
use minetrace_schemas::records::address::InterfaceAddress;
use minetrace_schemas::records::command::CommandRecord;
use minetrace_schemas::records::executable::{ExecutableRecord, ImageTimes};
use minetrace_schemas::records::file::{FileKind, FileRecord, ABSENT_NAMED};
use minetrace_schemas::records::host::HostRecord;
use minetrace_schemas::records::mount::MountRecord;
use minetrace_schemas::records::package::{PackageCheck, PackageManager, PackageVerdict};
use minetrace_schemas::records::process::{FileId, ProcessRecord};
use minetrace_schemas::records::route::RouteRecord;
use minetrace_schemas::records::socket::SocketRecord;
use minetrace_schemas::records::RecordSetV1;

pub struct HostModel {
    pub manifest: Manifest,
    pub bundle_sha256: String,
    pub host: HostRecord,
    pub processes: Vec<ProcessRecord>,
    pub executables: Vec<ExecutableRecord>,
    /// The times of running images that were deleted, by `fstat` of their descriptor (older bundles and
    /// dead-box collections have none; a memfd image never has any).
    pub image_times: Vec<ImageTimes>,
    pub sockets: Vec<SocketRecord>,
    pub files: Vec<FileRecord>,
    pub commands: Vec<CommandRecord>,
    /// Derived `/etc/shadow` facts (never hashes); empty when the collector did not write them.
    pub shadow: Vec<ShadowEntry>,
    /// Package-database digests next to actual digests; empty when not collected.
    pub packages: Vec<PackageCheck>,
    /// The host's interface addresses (live bundles); see [`HostModel::own_addresses`].
    pub interfaces: Vec<InterfaceAddress>,
    /// The collected root's mount table (`records/mounts.pc`); see [`HostModel::bind_view`].
    pub mounts: Vec<MountRecord>,
    /// The host's routes (live bundles); see [`HostModel::gateways`].
    pub routes: Vec<RouteRecord>,
    /// Raw member bytes by member name (`fs/...`, `bin/...`, `commands/...`), moved out of the bundle.
    contents: BTreeMap<String, Vec<u8>>,
    by_pid: HashMap<i32, usize>,
    exe_by_file: HashMap<FileId, usize>,
    file_by_path: HashMap<Vec<u8>, usize>,
    /// `(dev, inode, index into files)`, sorted: the names one file has (see [`HostModel::files_with_id`]).
    file_by_id: Vec<(u64, u64, usize)>,
    /// Paths persistence entries name that the collector found missing (see [`HostModel::absent`]).
    absent: HashSet<Vec<u8>>,
    /// Warnings met while building the model (a record member that failed to decode, ...).
    pub warnings: Vec<String>,
    /// The host's accounts and groups (`/etc/passwd`, `/etc/group`), parsed once.
    pub accounts: accounts::Accounts,
    /// Authentication events of every source, ordered by time.
    pub auth: Vec<auth::AuthEvent>,
    /// The SSH brute force in [`HostModel::auth`] and what followed it, judged once ([`brute_force`]).
    pub brute_force: brute_force::BruteForce,
    /// Every persisted line (cron, at, systemd, rc, start-up files, preload, modules, udev, sudoers).
    pub persistence: Vec<persistence::PersistenceEntry>,
    /// The systemd journal files, read once: integrity facts and authentication entries.
    pub journals: journal::Journals,
    /// What network services logged about their clients (Redis, web access logs, PostgreSQL).
    pub service_logs: Vec<service_logs::ServiceLogLine>,
    /// Which document roots each web server's access log serves, where its configuration says.
    pub web_sites: web_sites::WebSites,
    /// Authorized keys, known hosts and sshd's effective configuration.
    pub ssh: ssh::Ssh,
    /// Firewall rule sets: tool captures and saved rule files.
    pub firewall: Vec<firewall::Ruleset>,
    /// Packaged tools moved away from their package path (a file whose digest is a missing package
    /// path's), judged once ([`moved_tools`]).
    pub moved_tools: Vec<moved_tools::MovedTool>,
}

/// The bundle's members while the model takes them over: record members are removed and decoded one by
/// one (their bytes dropped once decoded), what remains is file contents.
struct Decoder {
    members: BTreeMap<String, Vec<u8>>,
    warnings: Vec<String>,
}

impl Decoder {
    /// Removes one record member and decodes it, turning absence into an empty default and a decode
    /// failure into a warning.
    fn take<T: Default>(&mut self, name: &str, pick: impl FnOnce(RecordSetV1) -> Option<T>) -> T {
        let Some(bytes) = self.members.remove(name) else {
            return T::default();
        };
        match minetrace_schemas::records::decode(&bytes) {
            Ok(set) => pick(set).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "member {name:?} holds the wrong record kind; ignored"
                ));
                T::default()
            }),
            Err(err) => {
                self.warnings.push(
                    BundleError::Record {
                        member: name.to_owned(),
                        err,
                    }
                    .to_string(),
                );
                T::default()
            }
        }
    }
}

impl HostModel {
    /// Builds the model from a bundle, taking its members over (they are moved, not copied): record
    /// members are decoded and dropped, file contents, copied executables and command outputs are kept.
    pub fn from_bundle(mut bundle: Bundle) -> Result<HostModel, BundleError> {
        let mut d = Decoder {
            members: bundle.take_members(),
            warnings: Vec::new(),
        };
        /// Takes one record member out of the bundle's members and decodes it as one record kind.
        macro_rules! records {
            ($member:ident, $kind:ident) => {
                d.take(members::$member, |s| match s {
                    RecordSetV1::$kind(v) => Some(v),
                    _ => None,
                })
            };
        }
        let host = records!(HOST, Host);
        let processes: Vec<ProcessRecord> = records!(PROCESSES, Processes);
        let executables: Vec<ExecutableRecord> = records!(EXECUTABLES, Executables);
        let image_times: Vec<ImageTimes> = records!(IMAGE_TIMES, ImageTimes);
        let sockets = records!(SOCKETS, Sockets);
        let all_files: Vec<FileRecord> = records!(FILES, Files);
        // Paths the collector looked for and found missing are no files: they are kept apart.
        let (absent, files): (Vec<FileRecord>, Vec<FileRecord>) = all_files
            .into_iter()
            .partition(|f| f.error.as_deref() == Some(ABSENT_NAMED));
        let absent = absent.into_iter().map(|f| f.path.0).collect();
        let commands = records!(COMMANDS, Commands);
        let shadow = records!(SHADOW, Shadow);
        let packages = records!(PACKAGES, Packages);
        let interfaces = records!(ADDRESSES, Addresses);
        let mounts = records!(MOUNTS, Mounts);
        let routes = records!(ROUTES, Routes);
        let Decoder {
            members: mut contents,
            warnings,
        } = d;
        contents.retain(|n, _| {
            n.starts_with("fs/") || n.starts_with("bin/") || n.starts_with("commands/")
        });
        let mut model = HostModel {
            bundle_sha256: bundle.sha256.clone().unwrap_or_default(),
            manifest: bundle.manifest,
            host,
            by_pid: processes
                .iter()
                .enumerate()
                .map(|(i, p)| (p.pid, i))
                .collect(),
            exe_by_file: executables
                .iter()
                .enumerate()
                .map(|(i, e)| (e.file, i))
                .collect(),
            file_by_path: files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.0.clone(), i))
                .collect(),
            file_by_id: {
                let mut v: Vec<(u64, u64, usize)> = files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.dev, f.ino, i))
                    .collect();
                v.sort_unstable();
                v
            },
            absent,
            processes,
            executables,
            image_times,
            sockets,
            files,
            commands,
            shadow,
            packages,
            interfaces,
            mounts,
            routes,
            contents,
            warnings,
            accounts: accounts::Accounts::default(),
            auth: Vec::new(),
            brute_force: brute_force::BruteForce::default(),
            persistence: Vec::new(),
            service_logs: Vec::new(),
            web_sites: web_sites::WebSites::default(),
            journals: journal::Journals::default(),
            ssh: ssh::Ssh::default(),
            firewall: Vec::new(),
            moved_tools: Vec::new(),
        };
        model.derive_facts();
        Ok(model)
    }

    /// Derives the host facts from the decoded records and captured files, once.
    fn derive_facts(&mut self) {
        let passwd = self
            .file(b"/etc/passwd")
            .and_then(|f| Some((&f.path, self.content(f)?)));
        let group = self.file(b"/etc/group").and_then(|f| self.content(f));
        let login_defs = self.file(b"/etc/login.defs").and_then(|f| self.content(f));
        self.accounts = accounts::Accounts::parse(passwd, group, login_defs);
        self.journals = journal::collect(self);
        self.auth = auth::collect(self);
        if self.auth.len() >= auth::MAX_EVENTS {
            self.warnings.push(format!(
                "authentication logs hold more than {} events: the newest were kept, older lines were not read",
                auth::MAX_EVENTS
            ));
        }
        self.brute_force = brute_force::judge(self);
        let (entries, warnings) = persistence::collect(self);
        self.persistence = entries;
        self.warnings.extend(warnings);
        self.service_logs = service_logs::collect(self);
        self.web_sites = web_sites::collect(self);
        self.ssh = ssh::collect(self);
        self.firewall = firewall::collect(self);
        self.moved_tools = moved_tools::derive(&self.packages);
    }

    /// The moved tool this file is (see [`moved_tools`]), by the path the collector listed it under.
    pub fn moved_tool(&self, path: &[u8]) -> Option<&moved_tools::MovedTool> {
        self.moved_tools.iter().find(|m| m.path.as_bytes() == path)
    }

    /// Line `line` (1-based) of a captured file, as written: the persistence entry's when there is one.
    pub fn line_of(&self, path: &[u8], line: u32) -> Option<&[u8]> {
        // Entries are in file order and, within a file, in line order: two binary searches, so a
        // caller asking for every line of a 50,000-line crontab stays linear (issue 18 case 7).
        if let Some(&i) = self.file_by_path.get(path) {
            let start = self.persistence.partition_point(|e| e.file < i);
            let end = self.persistence.partition_point(|e| e.file <= i);
            let entries = self.persistence.get(start..end).unwrap_or_default();
            if let Ok(k) = entries.binary_search_by_key(&line, |e| e.line) {
                if let Some(e) = entries.get(k) {
                    return Some(&e.raw);
                }
            }
        }
        let content = self.content(self.file(path)?)?;
        let n = usize::try_from(line).ok()?.checked_sub(1)?;
        crate::parse::numbered_lines(content).nth(n).map(|(_, l)| l)
    }

    /// Captured regular files at a persistence location whose kind `pick` accepts, in bundle order, with
    /// their bytes and their entries (possibly none: a file of comments).
    pub fn persistence_files<'a>(
        &'a self,
        pick: impl Fn(persistence::PersistenceKind) -> bool + 'a,
    ) -> impl Iterator<
        Item = (
            &'a FileRecord,
            &'a [u8],
            &'a [persistence::PersistenceEntry],
        ),
    > + 'a {
        self.files.iter().enumerate().filter_map(move |(i, f)| {
            if f.kind != FileKind::Regular {
                return None;
            }
            let loc = persistence::location(f.path.as_bytes())?;
            if !pick(loc.kind) {
                return None;
            }
            let content = self.content(f)?;
            let start = self.persistence.partition_point(|e| e.file < i);
            let end = self.persistence.partition_point(|e| e.file <= i);
            Some((
                f,
                content,
                self.persistence.get(start..end).unwrap_or_default(),
            ))
        })
    }

    /// The file record of a persistence entry.
    pub fn entry_file(&self, e: &persistence::PersistenceEntry) -> Option<&FileRecord> {
        self.files.get(e.file)
    }

    pub fn process(&self, pid: i32) -> Option<&ProcessRecord> {
        self.by_pid.get(&pid).and_then(|i| self.processes.get(*i))
    }

    /// The times of a process's deleted image, when the collector read them ([`ImageTimes`]).
    pub fn image_times_of(&self, p: &ProcessRecord) -> Option<&ImageTimes> {
        let exe = p.exe.as_ref().filter(|e| e.deleted && !e.memfd)?;
        let id = exe.file?;
        self.image_times.iter().find(|t| t.file == id)
    }

    pub fn executable_of(&self, p: &ProcessRecord) -> Option<&ExecutableRecord> {
        let id = p.exe.as_ref()?.file?;
        self.exe_by_file
            .get(&id)
            .and_then(|i| self.executables.get(*i))
    }

    /// The regular files of the snapshot (what content, names and owners are judged on; directories,
    /// links and special files are context).
    pub fn regular_files(&self) -> impl Iterator<Item = &FileRecord> {
        self.files.iter().filter(|f| f.kind == FileKind::Regular)
    }

    /// The index in `files` of a file record by path (facts such as [`ssh::Ssh`] name files by index).
    pub fn file_index(&self, path: &[u8]) -> Option<usize> {
        self.file_by_path.get(path).copied()
    }

    pub fn file(&self, path: &[u8]) -> Option<&FileRecord> {
        self.file_by_path.get(path).and_then(|i| self.files.get(*i))
    }

    /// Every file record with this device and inode: the names one file has in the snapshot (hard links,
    /// a file seen through a bind mount). A binary search, not a scan: the planner asks per target.
    pub fn files_with_id(&self, dev: u64, ino: u64) -> impl Iterator<Item = &FileRecord> {
        let start = self.file_by_id.partition_point(|e| (e.0, e.1) < (dev, ino));
        self.file_by_id
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(move |e| (e.0, e.1) == (dev, ino))
            .filter_map(|e| self.files.get(e.2))
    }

    /// Whether the collector looked for `path` (a persistence entry names it) and found nothing there, under
    /// this name or its merged-`/usr` twin. `false` only means "not known to be missing".
    pub fn absent(&self, path: &[u8]) -> bool {
        self.absent.contains(path)
            || usr_twin(path).is_some_and(|t| self.usr_merged(path) && self.absent.contains(&t))
    }

    /// A file record by path, or by its merged-`/usr` twin (`/lib/x` and `/usr/lib/x`, see [`usr_twin`])
    /// when the host has merged `/usr` (see [`HostModel::usr_merged`]): the collector records a file under
    /// the name it resolves to, an attacker's preload or cron line names it as written.
    pub fn file_aliased(&self, path: &[u8]) -> Option<&FileRecord> {
        self.file(path).or_else(|| {
            let twin = usr_twin(path)?;
            self.usr_merged(path).then(|| self.file(&twin)).flatten()
        })
    }

    /// Whether `path` and its [`usr_twin`] are one file on this host: the top-level directory
    /// (`/lib`, `/bin`, ...) is recorded as a symlink to its `/usr` twin, or not recorded at all (then
    /// the exact name is always tried first). `false` when it is recorded as a real directory.
    pub fn usr_merged(&self, path: &[u8]) -> bool {
        let Some(top) = usr_top(path) else {
            return false;
        };
        let top = [b"/".as_slice(), top].concat();
        match self.file(&top) {
            None => true,
            Some(f) => {
                f.kind == FileKind::Symlink
                    && f.link_target.as_ref().is_some_and(|t| {
                        let t = t.as_bytes();
                        let t = t.strip_prefix(b"/").unwrap_or(t);
                        t.strip_prefix(b"usr/") == top.get(1..)
                    })
            }
        }
    }

    /// The host's package manager, as the collector found its database (dpkg, or rpm on RHEL-family
    /// hosts): what a replaced system file is reinstalled with.
    pub fn package_manager(&self) -> Option<PackageManager> {
        self.packages.iter().find_map(|c| c.manager)
    }

    /// The package check of a path, for OWNERSHIP (which package lists it, `NotOwned`): by the path,
    /// the name the package database lists, or (on a merged-`/usr` host) the [`usr_twin`] of either.
    /// Whoever judges the file's integrity (replaced, tampered, reinstall it) reads
    /// [`HostModel::integrity_check`].
    pub fn package_check(&self, path: &[u8]) -> Option<&PackageCheck> {
        self.check_of(path, |_| true)
    }

    /// Whether a package owns `path` by its package check (the ownership question only): its digest
    /// matching, differing or not recorded, or a package named though the file could not be read. The
    /// remediation never removes such a file whole (a unit, an APT drop-in). Whether its bytes are still
    /// the package's is another question (`Match`, or [`HostModel::integrity_check`]).
    pub fn owned_by_package(&self, path: &[u8]) -> bool {
        self.package_check(path).is_some_and(|c| {
            matches!(
                c.verdict,
                PackageVerdict::Match | PackageVerdict::Mismatch | PackageVerdict::NoDigest
            ) || (c.verdict == PackageVerdict::Unreadable && c.package.is_some())
        })
    }

    /// The package check of a path whose digest verdict judges INTEGRITY: checked as a system binary,
    /// running executable or preloaded library ([`PackageCheck::judges_integrity`]). A
    /// `persistence-config` check (an admin-editable conffile, a unit) is not one: its `Mismatch` is no
    /// "system binary replaced" and no reason to reinstall its package.
    pub fn integrity_check(&self, path: &[u8]) -> Option<&PackageCheck> {
        self.check_of(path, PackageCheck::judges_integrity)
    }

    /// The first package check of a path (see [`HostModel::package_check`]) that `keep` accepts.
    fn check_of(&self, path: &[u8], keep: impl Fn(&PackageCheck) -> bool) -> Option<&PackageCheck> {
        let twin = usr_twin(path).filter(|_| self.usr_merged(path));
        let names: Vec<&[u8]> = std::iter::once(path).chain(twin.as_deref()).collect();
        self.packages.iter().find(|c| {
            keep(c)
                && names.iter().any(|n| {
                    c.path.as_bytes() == *n
                        || c.listed_as.as_ref().is_some_and(|l| l.as_bytes() == *n)
                })
        })
    }

    /// Captured bytes of a file record, when its content is in the bundle.
    pub fn content(&self, file: &FileRecord) -> Option<&[u8]> {
        file.member
            .as_deref()
            .and_then(|m| self.contents.get(m))
            .map(Vec::as_slice)
    }

    /// Bytes of any member (`bin/<sha256>`, `fs/...`).
    pub fn member(&self, name: &str) -> Option<&[u8]> {
        self.contents.get(name).map(Vec::as_slice)
    }

    /// Captured file contents by category, with their records.
    pub fn files_in<'a>(&'a self, category: &'a str) -> impl Iterator<Item = &'a FileRecord> + 'a {
        self.files.iter().filter(move |f| f.category == category)
    }

    /// File records whose path starts with `prefix` (byte-wise), in bundle order.
    pub fn files_under<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = &'a FileRecord> + 'a {
        self.files
            .iter()
            .filter(move |f| f.path.as_bytes().starts_with(prefix))
    }

    /// Stdout of a host tool capture (`iptables-save`, ...) with its record, for every capture of that name.
    pub fn command_outputs<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a CommandRecord, &'a [u8])> + 'a {
        self.commands
            .iter()
            .filter(move |c| c.name == name)
            .filter_map(|c| {
                let member = c.stdout_member.as_deref()?;
                Some((c, self.member(member)?))
            })
    }

    /// Seconds since the epoch at which a process started, from its start ticks and the boot time.
    pub fn start_unix(&self, p: &ProcessRecord) -> Option<i64> {
        let hz = self.host.clock_ticks_per_sec;
        if hz == 0 || self.host.boot_time_unix == 0 {
            return None;
        }
        let secs = i64::try_from(p.start_ticks / hz).ok()?;
        self.host.boot_time_unix.checked_add(secs)
    }

    /// The host's DNS resolvers: `nameserver` lines of `/etc/resolv.conf` that hold an address (at most
    /// 16; glibc uses 3).
    pub fn nameservers(&self) -> Vec<std::net::IpAddr> {
        let Some(text) = self.file(b"/etc/resolv.conf").and_then(|f| self.content(f)) else {
            return Vec::new();
        };
        text.split(|b| *b == b'\n')
            .filter_map(|l| {
                let l = std::str::from_utf8(l).ok()?;
                let mut words = l.split_whitespace();
                (words.next()? == "nameserver").then_some(())?;
                let addr = words.next()?;
                // A scoped IPv6 resolver (`fe80::1%eth0`) is still that address.
                addr.split('%').next()?.parse().ok()
            })
            .take(16)
            .collect()
    }
}

/// Whether a file is a shell or REPL history (`.bash_history`, `.zsh_history`, `fish_history`, ...):
/// evidence of what was typed, never persistence.
pub fn is_shell_history(path: &[u8]) -> bool {
    let name = crate::parse::basename(path);
    [
        &b".bash_history"[..],
        b".zsh_history",
        b".sh_history",
        b".ash_history",
        b".history",
        b".mysql_history",
        b".python_history",
        b".psql_history",
    ]
    .contains(&name)
        || name.ends_with(b"fish_history")
}

/// Top-level directories that merged-`/usr` systems turn into symlinks to their `/usr` twins.
pub const USR_MERGED_DIRS: &[&[u8]] = &[b"bin", b"sbin", b"lib", b"lib64", b"lib32", b"libx32"];

/// The merged-`/usr` directory `path` sits in (`lib` for `/lib/x` and `/usr/lib/x`), if any.
fn usr_top(path: &[u8]) -> Option<&'static [u8]> {
    let rest = path.strip_prefix(b"/usr").unwrap_or(path);
    USR_MERGED_DIRS.iter().copied().find(|d| {
        rest.strip_prefix(b"/")
            .and_then(|r| r.strip_prefix(*d))
            .is_some_and(|r| r.first() == Some(&b'/'))
    })
}

/// The other name of `path` on a merged-`/usr` host: `/lib/x` ↔ `/usr/lib/x`, `/bin`, `/sbin`,
/// `/lib64`, `/lib32`, `/libx32` likewise; `None` for paths outside those directories. Pure: whether
/// the host merged `/usr` is [`HostModel::usr_merged`].
pub fn usr_twin(path: &[u8]) -> Option<Vec<u8>> {
    usr_top(path)?;
    match path.strip_prefix(b"/usr") {
        Some(rest) if rest.starts_with(b"/") => Some(rest.to_vec()),
        _ => Some([b"/usr".as_slice(), path].concat()),
    }
}

/// Small host models for unit tests: files (with content) and package checks, written as a real bundle
/// and read back, so the model is built exactly as for a collected bundle.
#[cfg(test)]
pub(crate) mod fixture {
    use minetrace_schemas::bundle::member_name::fs_member;
    use minetrace_schemas::bundle::{members, read_bundle, BundleWriter, ReadLimits};
    use minetrace_schemas::manifest::{
        CollectorInfo, Manifest, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION,
    };
    use minetrace_schemas::records::file::{FileKind, FileRecord, FileTime};
    use minetrace_schemas::records::host::{CollectionMode, HostIdentity, HostRecord};
    use minetrace_schemas::records::package::{PackageCheck, PackageVerdict};
    use minetrace_schemas::records::process::{ExeLink, IdSet, ProcessRecord};
    use minetrace_schemas::records::RecordSetV1;
    use minetrace_schemas::RawBytes;

    use super::HostModel;

    /// A model whose only file is `/var/log/auth.log` holding `log` (authentication events' tests).
    pub fn auth_log(log: &str) -> HostModel {
        model(
            vec![file(b"/var/log/auth.log", Some(log.as_bytes()))],
            vec![],
        )
    }

    /// `n` syslog lines of failed root passwords from `from`, 7 s apart from minute `start_min` of
    /// Jan 1 (the year is the log's mtime's).
    pub fn failed_root_logins(n: usize, from: &str, start_min: u32) -> String {
        (0..n)
            .map(|i| {
                let s = start_min * 60 + i as u32 * 7;
                format!(
                    "Jan  1 00:{:02}:{:02} h sshd[9]: Failed password for root from {from} port 4{i} ssh2\n",
                    s / 60,
                    s % 60
                )
            })
            .collect()
    }

    /// A file record: regular when `content` is given (hashed, captured), else metadata only.
    pub fn file(path: &[u8], content: Option<&[u8]>) -> (FileRecord, Option<Vec<u8>>) {
        let t = FileTime {
            secs: 1_700_000_000,
            nanos: 0,
        };
        let rec = FileRecord {
            path: RawBytes::from(path),
            category: "test".into(),
            kind: FileKind::Regular,
            link_target: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: content.map_or(0, |c| c.len() as u64),
            dev: 2049,
            ino: 1000 + path.len() as u64,
            nlink: 1,
            mtime: t,
            atime: t,
            ctime: t,
            btime: None,
            flags: Some(0),
            immutable: false,
            append_only: false,
            sha256: content.map(crate::remediate::edit::sha256),
            member: content.map(|_| fs_member(path)),
            truncated: false,
            error: None,
        };
        (rec, content.map(<[u8]>::to_vec))
    }

    /// A symbolic link record.
    pub fn symlink(path: &[u8], target: &[u8]) -> (FileRecord, Option<Vec<u8>>) {
        let (mut rec, _) = file(path, None);
        rec.kind = FileKind::Symlink;
        rec.mode = 0o777;
        rec.link_target = Some(RawBytes::from(target));
        (rec, None)
    }

    /// A package check finding `path` (checked for `reason`) owned by no package.
    pub fn not_owned(path: &[u8], reason: &str) -> PackageCheck {
        PackageCheck {
            path: RawBytes::from(path),
            reason: reason.into(),
            listed_as: None,
            manager: None,
            package: None,
            expected_digest: None,
            actual_digest: None,
            actual_sha256: None,
            size: None,
            verdict: PackageVerdict::NotOwned,
            error: None,
        }
    }

    /// An MD5 file digest (dpkg's `md5sums`) of `hex`.
    pub fn md5(hex: &str) -> minetrace_schemas::records::package::FileDigest {
        minetrace_schemas::records::package::FileDigest {
            algorithm: minetrace_schemas::records::package::DigestAlgorithm::Md5,
            hex: hex.into(),
        }
    }

    /// An unowned executable of a system binary directory as the collector lists it (`system-bin`).
    pub fn listed_system_bin(path: &str, content: &[u8]) -> (FileRecord, Option<Vec<u8>>) {
        let (mut f, c) = file(path.as_bytes(), Some(content));
        f.category = "system-bin".into();
        f.mode = 0o100_755;
        (f, c)
    }

    /// A `packaged-missing` check: `package` installed `path` with `digest`, and nothing is there.
    pub fn missing_packaged(
        path: &str,
        package: &str,
        digest: minetrace_schemas::records::package::FileDigest,
    ) -> PackageCheck {
        PackageCheck {
            path: RawBytes::from(path),
            reason: minetrace_schemas::records::package::PACKAGED_MISSING.into(),
            listed_as: None,
            manager: Some(minetrace_schemas::records::package::PackageManager::Dpkg),
            package: Some(package.into()),
            expected_digest: Some(digest),
            actual_digest: None,
            actual_sha256: None,
            size: None,
            verdict: PackageVerdict::Missing,
            error: None,
        }
    }

    /// An `unowned-system-bin` check: `path`, owned by no package, hashes to `digest`.
    pub fn unowned_system_bin(
        path: &str,
        digest: minetrace_schemas::records::package::FileDigest,
    ) -> PackageCheck {
        PackageCheck {
            path: RawBytes::from(path),
            reason: minetrace_schemas::records::package::UNOWNED_SYSTEM_BIN.into(),
            listed_as: None,
            manager: Some(minetrace_schemas::records::package::PackageManager::Dpkg),
            package: None,
            expected_digest: None,
            actual_digest: Some(digest),
            actual_sha256: None,
            size: Some(10),
            verdict: PackageVerdict::NotOwned,
            error: None,
        }
    }

    /// A model holding `files` and `packages`.
    pub fn model(
        files: Vec<(FileRecord, Option<Vec<u8>>)>,
        packages: Vec<PackageCheck>,
    ) -> HostModel {
        model_with_processes(files, packages, Vec::new())
    }

    /// A process record: `pid` started by `ppid`, running `exe` with `argv` as `uid`.
    pub fn process(pid: i32, ppid: i32, uid: u32, exe: &[u8], argv: &[&[u8]]) -> ProcessRecord {
        let mut cmdline = argv.join(&b"\0"[..]);
        cmdline.push(0);
        ProcessRecord {
            pid,
            ppid,
            start_ticks: 1000 + pid.unsigned_abs() as u64,
            uid: IdSet {
                real: uid,
                effective: uid,
                saved: uid,
                fs: uid,
            },
            comm: RawBytes::from(crate::parse::basename(exe)),
            cmdline: RawBytes(cmdline),
            exe: Some(ExeLink {
                path: RawBytes::from(exe),
                ..Default::default()
            }),
            state: "S".into(),
            ..Default::default()
        }
    }

    /// A model holding `files`, `packages` and `processes`.
    pub fn model_with_processes(
        files: Vec<(FileRecord, Option<Vec<u8>>)>,
        packages: Vec<PackageCheck>,
        processes: Vec<ProcessRecord>,
    ) -> HostModel {
        let identity = HostIdentity {
            hostname: "test".into(),
            machine_id: "m".into(),
            boot_id: "b".into(),
            kernel: "6.1.0".into(),
        };
        let host = HostRecord {
            identity: identity.clone(),
            mode: CollectionMode::Live,
            ..Default::default()
        };
        let mut w = BundleWriter::new(Vec::new(), 0, 0).expect("writer");
        w.add_records(members::HOST, &RecordSetV1::Host(host))
            .expect("host");
        let mut recs = Vec::new();
        for (rec, content) in files {
            if let (Some(m), Some(c)) = (&rec.member, content) {
                w.add(m, &c).expect("member");
            }
            recs.push(rec);
        }
        w.add_records(members::FILES, &RecordSetV1::Files(recs))
            .expect("files");
        w.add_records(members::PACKAGES, &RecordSetV1::Packages(packages))
            .expect("packages");
        w.add_records(members::PROCESSES, &RecordSetV1::Processes(processes))
            .expect("processes");
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            format_version: BUNDLE_FORMAT_VERSION,
            collector: CollectorInfo {
                name: "minetrace-collect".into(),
                version: "0.1.0".into(),
                sha256: None,
                argv: vec![],
            },
            mode: CollectionMode::Live,
            root: None,
            host: identity,
            started_at: "2024-05-01T00:00:00Z".into(),
            ended_at: "2024-05-01T00:00:05Z".into(),
            started_unix_ms: 0,
            ended_unix_ms: 0,
            members: Vec::new(),
            artifacts: Vec::new(),
            exclusions: Vec::new(),
        };
        let (bytes, _) = w.finish(manifest).expect("finish");
        let bundle = read_bundle(bytes.as_slice(), ReadLimits::default()).expect("read back");
        HostModel::from_bundle(bundle).expect("model")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usr_twins() {
        assert_eq!(
            usr_twin(b"/lib/libgcwrap.so").as_deref(),
            Some(&b"/usr/lib/libgcwrap.so"[..])
        );
        assert_eq!(
            usr_twin(b"/usr/bin/sysdr").as_deref(),
            Some(&b"/bin/sysdr"[..])
        );
        assert_eq!(usr_twin(b"/sbin/x").as_deref(), Some(&b"/usr/sbin/x"[..]));
        assert_eq!(
            usr_twin(b"/lib64/ld.so").as_deref(),
            Some(&b"/usr/lib64/ld.so"[..])
        );
        assert_eq!(usr_twin(b"/usr/local/bin/x"), None);
        assert_eq!(usr_twin(b"/library/x"), None);
        assert_eq!(usr_twin(b"/binx/y"), None);
        assert_eq!(usr_twin(b"/bin"), None);
        assert_eq!(usr_twin(b"/usr/lib"), None);
        assert_eq!(usr_twin(b"/etc/x"), None);
        assert_eq!(usr_twin(b""), None);
    }

    #[test]
    fn a_path_the_collector_found_missing_is_absent_and_no_file() {
        let (mut gone, _) = fixture::file(b"/usr/bin/.update", None);
        gone.error = Some(ABSENT_NAMED.into());
        gone.kind = FileKind::Unknown;
        let m = fixture::model(
            vec![
                (gone, None),
                fixture::symlink(b"/bin", b"usr/bin"),
                fixture::file(b"/etc/rc.local", Some(b"/usr/bin/.update startup\n")),
            ],
            vec![],
        );
        assert!(m.file(b"/usr/bin/.update").is_none());
        assert!(m.absent(b"/usr/bin/.update"));
        assert!(
            m.absent(b"/bin/.update"),
            "its merged-/usr twin is absent too"
        );
        assert!(!m.absent(b"/etc/rc.local"));
        assert!(
            !m.absent(b"/usr/bin/other"),
            "never looked for is not absent"
        );
    }

    #[test]
    fn aliased_lookups_follow_the_hosts_merged_usr() {
        let check = fixture::not_owned(b"/lib/libgcwrap.so", "preload");
        let merged = fixture::model(
            vec![
                fixture::symlink(b"/lib", b"usr/lib"),
                fixture::file(b"/usr/lib/libgcwrap.so", Some(b"\x7fELF")),
            ],
            vec![check.clone()],
        );
        assert!(merged.usr_merged(b"/lib/libgcwrap.so"));
        let f = merged
            .file_aliased(b"/lib/libgcwrap.so")
            .map(|f| f.path.as_bytes());
        assert_eq!(f, Some(&b"/usr/lib/libgcwrap.so"[..]));
        assert!(merged.package_check(b"/usr/lib/libgcwrap.so").is_some());
        assert!(merged.file_aliased(b"/lib/other.so").is_none());
        // /bin is not recorded: unknown, the twin is tried after the exact name.
        let unknown = fixture::model(vec![fixture::file(b"/usr/bin/sysdr", Some(b"x"))], vec![]);
        assert!(unknown.file_aliased(b"/bin/sysdr").is_some());
        // A real /lib directory: two different files.
        let (mut dir, _) = fixture::file(b"/lib", None);
        dir.kind = FileKind::Directory;
        let split = fixture::model(
            vec![
                (dir, None),
                fixture::file(b"/usr/lib/libgcwrap.so", Some(b"x")),
            ],
            vec![check],
        );
        assert!(!split.usr_merged(b"/lib/libgcwrap.so"));
        assert!(split.file_aliased(b"/lib/libgcwrap.so").is_none());
        assert!(split.package_check(b"/usr/lib/libgcwrap.so").is_none());
    }
}
