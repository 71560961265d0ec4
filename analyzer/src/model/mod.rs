//! The normalized host view every detector reads: the bundle's records decoded once, with the lookups
//! detectors need (process by pid, executable by file id, file content by path).
//!
//! Building the model is the only place that decodes records; detectors never touch the bundle.

use std::collections::{BTreeMap, HashMap};

use minetrace_schemas::bundle::{members, Bundle, BundleError};
use minetrace_schemas::manifest::Manifest;
use minetrace_schemas::records::account::ShadowEntry;
use minetrace_schemas::records::command::CommandRecord;
use minetrace_schemas::records::executable::ExecutableRecord;
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::host::HostRecord;
use minetrace_schemas::records::package::PackageCheck;
use minetrace_schemas::records::process::{FileId, ProcessRecord};
use minetrace_schemas::records::socket::SocketRecord;
use minetrace_schemas::records::RecordSetV1;

pub struct HostModel {
    pub manifest: Manifest,
    pub bundle_sha256: String,
    pub host: HostRecord,
    pub processes: Vec<ProcessRecord>,
    pub executables: Vec<ExecutableRecord>,
    pub sockets: Vec<SocketRecord>,
    pub files: Vec<FileRecord>,
    pub commands: Vec<CommandRecord>,
    /// Derived `/etc/shadow` facts (never hashes); empty when the collector did not write them.
    pub shadow: Vec<ShadowEntry>,
    /// Package-database digests next to actual digests; empty when not collected.
    pub packages: Vec<PackageCheck>,
    /// Raw member bytes by member name (`fs/...`, `bin/...`, `commands/...`), shared with the bundle.
    contents: BTreeMap<String, Vec<u8>>,
    by_pid: HashMap<i32, usize>,
    exe_by_file: HashMap<FileId, usize>,
    file_by_path: HashMap<Vec<u8>, usize>,
    /// Warnings met while building the model (a record member that failed to decode, ...).
    pub warnings: Vec<String>,
}

/// Decodes one record member, turning absence into an empty default and a decode failure into a warning.
fn take<T: Default>(
    bundle: &Bundle,
    name: &str,
    warnings: &mut Vec<String>,
    pick: impl FnOnce(RecordSetV1) -> Option<T>,
) -> T {
    match bundle.records(name) {
        Ok(Some(set)) => pick(set).unwrap_or_else(|| {
            warnings.push(format!("member {name:?} holds the wrong record kind; ignored"));
            T::default()
        }),
        Ok(None) => T::default(),
        Err(e) => {
            warnings.push(e.to_string());
            T::default()
        }
    }
}

impl HostModel {
    pub fn from_bundle(bundle: Bundle) -> Result<HostModel, BundleError> {
        let mut warnings = Vec::new();
        let host = take(&bundle, members::HOST, &mut warnings, |s| match s {
            RecordSetV1::Host(h) => Some(h),
            _ => None,
        });
        let processes = take(&bundle, members::PROCESSES, &mut warnings, |s| match s {
            RecordSetV1::Processes(v) => Some(v),
            _ => None,
        });
        let executables = take(&bundle, members::EXECUTABLES, &mut warnings, |s| match s {
            RecordSetV1::Executables(v) => Some(v),
            _ => None,
        });
        let sockets = take(&bundle, members::SOCKETS, &mut warnings, |s| match s {
            RecordSetV1::Sockets(v) => Some(v),
            _ => None,
        });
        let files = take(&bundle, members::FILES, &mut warnings, |s| match s {
            RecordSetV1::Files(v) => Some(v),
            _ => None,
        });
        let commands = take(&bundle, members::COMMANDS, &mut warnings, |s| match s {
            RecordSetV1::Commands(v) => Some(v),
            _ => None,
        });
        let shadow = take(&bundle, members::SHADOW, &mut warnings, |s| match s {
            RecordSetV1::Shadow(v) => Some(v),
            _ => None,
        });
        let packages = take(&bundle, members::PACKAGES, &mut warnings, |s| match s {
            RecordSetV1::Packages(v) => Some(v),
            _ => None,
        });
        let mut contents = BTreeMap::new();
        let names: Vec<String> = bundle
            .member_names()
            .filter(|n| n.starts_with("fs/") || n.starts_with("bin/") || n.starts_with("commands/"))
            .map(str::to_owned)
            .collect();
        for name in names {
            if let Some(bytes) = bundle.member(&name) {
                contents.insert(name, bytes.to_vec());
            }
        }
        let by_pid = processes.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
        let exe_by_file = executables
            .iter()
            .enumerate()
            .map(|(i, e)| (e.file, i))
            .collect();
        let file_by_path = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.0.clone(), i))
            .collect();
        Ok(HostModel {
            bundle_sha256: bundle.sha256.clone().unwrap_or_default(),
            manifest: bundle.manifest,
            host,
            processes,
            executables,
            sockets,
            files,
            commands,
            shadow,
            packages,
            contents,
            by_pid,
            exe_by_file,
            file_by_path,
            warnings,
        })
    }

    pub fn process(&self, pid: i32) -> Option<&ProcessRecord> {
        self.by_pid.get(&pid).and_then(|i| self.processes.get(*i))
    }

    pub fn executable_of(&self, p: &ProcessRecord) -> Option<&ExecutableRecord> {
        let id = p.exe.as_ref()?.file?;
        self.exe_by_file.get(&id).and_then(|i| self.executables.get(*i))
    }

    pub fn file(&self, path: &[u8]) -> Option<&FileRecord> {
        self.file_by_path.get(path).and_then(|i| self.files.get(*i))
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
    pub fn files_under<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = &'a FileRecord> + 'a {
        self.files.iter().filter(move |f| f.path.as_bytes().starts_with(prefix))
    }

    /// Stdout of a host tool capture (`iptables-save`, ...) with its record, for every capture of that name.
    pub fn command_outputs<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a CommandRecord, &'a [u8])> + 'a {
        self.commands.iter().filter(move |c| c.name == name).filter_map(|c| {
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
}
