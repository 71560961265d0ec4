//! SSH facts, derived once: every key in every captured `authorized_keys*` file (with the lines sshd
//! would skip), every `known_hosts` entry, and sshd's configuration with its includes expanded in the
//! order sshd reads them. Detectors, the graph and `minetrace inspect ssh` read these instead of parsing
//! the files again.

use minetrace_schemas::records::file::FileKind;

use crate::model::HostModel;
use crate::parse::authorized_keys::{self, AuthorizedKey, KnownHost};
use crate::parse::basename;
use crate::parse::sshd_config::{self, Directive};

/// sshd's main configuration file; its `Include`s are expanded from the captured files.
pub use minetrace_schemas::locations::SSHD_CONFIG;

/// Whether a path is an `authorized_keys` file as sshd or an attacker names one (`authorized_keys`,
/// `authorized_keys2`, copies such as `authorized_keys.bak`; not a `.pub`).
pub fn is_authorized_keys(path: &[u8]) -> bool {
    let name = basename(path);
    name.starts_with(b"authorized_keys") && !name.ends_with(b".pub")
}

/// Whether a path is a `known_hosts` file (`known_hosts`, `known_hosts2`, `ssh_known_hosts`).
pub fn is_known_hosts(path: &[u8]) -> bool {
    let name = basename(path);
    name.starts_with(b"known_hosts") || name.starts_with(b"ssh_known_hosts")
}

/// One key line of an `authorized_keys*` file.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// Index into `HostModel::files`.
    pub file: usize,
    pub key: AuthorizedKey,
}

/// A non-comment line of an `authorized_keys*` file that holds no key sshd would accept.
#[derive(Debug, Clone)]
pub struct InvalidKeyLine {
    pub file: usize,
    pub line: u32,
    pub raw: Vec<u8>,
}

/// One host key line of a `known_hosts` file.
#[derive(Debug, Clone)]
pub struct KnownHostEntry {
    pub file: usize,
    pub host: KnownHost,
}

/// The SSH facts of a host.
#[derive(Debug, Clone, Default)]
pub struct Ssh {
    /// Authorized keys in file order, files in bundle order.
    pub keys: Vec<KeyEntry>,
    pub invalid: Vec<InvalidKeyLine>,
    pub known_hosts: Vec<KnownHostEntry>,
    /// `sshd_config` with every `Include` expanded in place; empty when the main file was not captured.
    pub sshd: Vec<Directive>,
}

impl Ssh {
    /// The directive in force for a lowercased keyword outside any `Match` block.
    pub fn sshd_effective(&self, keyword: &str) -> Option<&Directive> {
        sshd_config::effective(&self.sshd, keyword)
    }

    /// The keys of one file (index into `HostModel::files`); entries are in file order.
    pub fn keys_of(&self, file: usize) -> impl Iterator<Item = &AuthorizedKey> + '_ {
        let start = self.keys.partition_point(|k| k.file < file);
        let end = self.keys.partition_point(|k| k.file <= file);
        self.keys
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|k| &k.key)
    }

    /// The host keys of one `known_hosts` file (index into `HostModel::files`).
    pub fn known_hosts_of(&self, file: usize) -> impl Iterator<Item = &KnownHost> + '_ {
        let start = self.known_hosts.partition_point(|k| k.file < file);
        let end = self.known_hosts.partition_point(|k| k.file <= file);
        self.known_hosts
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|k| &k.host)
    }
}

/// Reads the SSH facts of the captured files.
pub fn collect(model: &HostModel) -> Ssh {
    let mut ssh = Ssh::default();
    for (i, f) in model.files.iter().enumerate() {
        if f.kind != FileKind::Regular {
            continue;
        }
        let path = f.path.as_bytes();
        let authorized = is_authorized_keys(path);
        let known = is_known_hosts(path);
        if !authorized && !known {
            continue;
        }
        let Some(bytes) = model.content(f) else {
            continue;
        };
        if authorized {
            let parsed = authorized_keys::parse(bytes);
            ssh.keys
                .extend(parsed.keys.into_iter().map(|key| KeyEntry { file: i, key }));
            ssh.invalid.extend(
                parsed
                    .invalid
                    .into_iter()
                    .map(|(line, raw)| InvalidKeyLine { file: i, line, raw }),
            );
        } else {
            ssh.known_hosts.extend(
                authorized_keys::parse_known_hosts(bytes)
                    .into_iter()
                    .map(|host| KnownHostEntry { file: i, host }),
            );
        }
    }
    if model
        .file(SSHD_CONFIG)
        .and_then(|f| model.content(f))
        .is_some()
    {
        let lookup = |p: &[u8]| model.file(p).and_then(|f| model.content(f));
        let known: Vec<&[u8]> = model
            .files_under(b"/etc/ssh/")
            .map(|f| f.path.as_bytes())
            .collect();
        ssh.sshd = sshd_config::resolve(SSHD_CONFIG, &lookup, &known);
    }
    ssh
}

#[cfg(test)]
mod tests {
    use crate::model::fixture;

    const KEY: &[u8] = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqO6XHD6uDOzvJxMYGyRRhe9dc+7gnXbY3YmRAKB7d2 admin@box\n";

    #[test]
    fn keys_known_hosts_and_sshd_settings_are_read_once() {
        let mut keys = b"# comment\n".to_vec();
        keys.extend_from_slice(KEY);
        keys.extend_from_slice(b"junk line\n");
        let known = [b"db-01,10.0.0.8 ".as_slice(), KEY].concat();
        let model = fixture::model(
            vec![
                fixture::file(b"/root/.ssh/authorized_keys", Some(&keys)),
                fixture::file(b"/root/.ssh/known_hosts", Some(&known)),
                fixture::file(
                    b"/etc/ssh/sshd_config",
                    Some(b"Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"),
                ),
                fixture::file(
                    b"/etc/ssh/sshd_config.d/10-open.conf",
                    Some(b"PermitRootLogin yes\n"),
                ),
            ],
            Vec::new(),
        );
        let ssh = &model.ssh;
        assert_eq!(ssh.keys.len(), 1);
        assert_eq!(ssh.keys[0].key.line, 2);
        assert_eq!(ssh.keys[0].key.comment, b"admin@box");
        assert_eq!(ssh.invalid.len(), 1);
        assert_eq!(ssh.invalid[0].line, 3);
        assert_eq!(ssh.known_hosts.len(), 1);
        assert_eq!(
            ssh.known_hosts[0].host.names(),
            vec![b"db-01".to_vec(), b"10.0.0.8".to_vec()]
        );
        let root = ssh.sshd_effective("permitrootlogin").expect("in force");
        assert_eq!(root.value(), "yes");
        assert_eq!(root.path, b"/etc/ssh/sshd_config.d/10-open.conf");
    }
}
