//! The host's accounts and groups from its captured `/etc/passwd` and `/etc/group`, parsed once when the
//! model is built ([`crate::model::HostModel::accounts`]). Detectors, the graph and the remediation read
//! this one list: names for uids, the account a home path belongs to, `~/` expansion, and the one
//! definition of a service account.

use minetrace_schemas::RawBytes;

use crate::indicators::{Indicators, Kind};
use crate::parse::passwd::{parse_group, parse_passwd, GroupEntry, PasswdEntry};

/// Most passwd or group lines kept; a shaped bundle cannot make the list unbounded.
const MAX_ACCOUNTS: usize = 100_000;

/// A system account's uid: not root, below the first login uid.
fn system_uid(uid: u32) -> bool {
    uid != 0 && uid < 1000
}

/// One `/etc/passwd` line (see [`PasswdEntry`]: name, uid, gid, home, shell, line number).
pub type Account = PasswdEntry;

/// Every account and group of the host, in file order.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// `/etc/passwd` entries in file order (NIS and junk lines skipped).
    pub entries: Vec<Account>,
    /// `/etc/group` entries in file order.
    pub groups: Vec<GroupEntry>,
    /// The captured `/etc/passwd`, when there was one.
    pub passwd_path: Option<RawBytes>,
}

impl Accounts {
    /// Parses the captured `passwd` and `group` bytes.
    pub fn parse(passwd: Option<(&RawBytes, &[u8])>, group: Option<&[u8]>) -> Accounts {
        let mut entries = passwd.map(|(_, b)| parse_passwd(b)).unwrap_or_default();
        entries.truncate(MAX_ACCOUNTS);
        let mut groups = group.map(parse_group).unwrap_or_default();
        groups.truncate(MAX_ACCOUNTS);
        Accounts {
            entries,
            groups,
            passwd_path: passwd.map(|(p, _)| p.clone()),
        }
    }

    /// The first account with this name.
    pub fn by_name(&self, name: &[u8]) -> Option<&Account> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The first account with this uid (root before a UID-0 twin).
    pub fn by_uid(&self, uid: u32) -> Option<&Account> {
        self.entries.iter().find(|e| e.uid == uid)
    }

    /// The uid of the first account with this name.
    pub fn uid_of(&self, name: &[u8]) -> Option<u32> {
        self.by_name(name).map(|e| e.uid)
    }

    /// The account whose home directory holds `path` (longest home wins; `/` never counts; among accounts
    /// sharing a home, the first line).
    pub fn owner_of_path(&self, path: &[u8]) -> Option<&Account> {
        self.entries
            .iter()
            .filter(|e| e.home.len() > 1)
            .filter(|e| {
                let home = e.home.strip_suffix(b"/").unwrap_or(&e.home);
                path.starts_with(home) && path.get(home.len()) == Some(&b'/')
            })
            .min_by_key(|e| (std::cmp::Reverse(e.home.len()), e.line))
    }

    /// Expands a leading `~/` against the home of the account with `uid`.
    pub fn expand_home(&self, path: &[u8], uid: Option<u32>) -> Vec<u8> {
        match (path.strip_prefix(b"~"), uid.and_then(|u| self.by_uid(u))) {
            (Some(rest), Some(a)) if rest.starts_with(b"/") => {
                let mut out = a.home.clone();
                out.extend_from_slice(rest);
                out
            }
            _ => path.to_vec(),
        }
    }

    /// A service or system account: listed as `service_account`, or an account of this host with a uid
    /// from 1 to 999. The one definition every stage uses.
    pub fn is_service(&self, iocs: &Indicators, name: &[u8]) -> bool {
        iocs.contains(Kind::ServiceAccount, &String::from_utf8_lossy(name))
            || self.by_name(name).is_some_and(|e| system_uid(e.uid))
    }

    /// The account of `uid` when it is a system account of this host (uid 1 to 999): the part of
    /// [`Accounts::is_service`] the host's own files decide, for facts the model derives before any
    /// indicator is read.
    pub fn system_account(&self, uid: u32) -> Option<&Account> {
        self.by_uid(uid).filter(|e| system_uid(e.uid))
    }

    /// Members of a group, by group name (the group's member list; primary members are not included).
    pub fn group(&self, name: &[u8]) -> Option<&GroupEntry> {
        self.groups.iter().find(|g| g.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_service_accounts() {
        let path = RawBytes::from(&b"/etc/passwd"[..]);
        let a = Accounts::parse(
            Some((
                &path,
                b"root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nredis:x:1001:1001::/var/lib/redis:/usr/sbin/nologin\ngames:x:5:60::/usr/games:/usr/sbin/nologin\nann:x:1000:1000::/home/ann/:/bin/bash\n",
            )),
            Some(b"sudo:x:27:ann\n"),
        );
        let iocs = Indicators::builtin();
        assert_eq!(a.by_uid(0).map(|e| e.name.as_slice()), Some(&b"root"[..]));
        assert!(a.is_service(&iocs, b"redis"), "listed");
        assert!(a.is_service(&iocs, b"games"), "uid 1-999");
        assert!(!a.is_service(&iocs, b"ann"));
        assert!(!a.is_service(&iocs, b"root"));
        assert_eq!(
            a.owner_of_path(b"/home/ann/.ssh/authorized_keys")
                .map(|e| e.name.as_slice()),
            Some(&b"ann"[..])
        );
        assert_eq!(
            a.owner_of_path(b"/root/x").map(|e| e.name.as_slice()),
            Some(&b"root"[..])
        );
        assert_eq!(a.expand_home(b"~/.x", Some(1001)), b"/var/lib/redis/.x");
        assert_eq!(a.expand_home(b"~/.x", Some(7)), b"~/.x");
        assert_eq!(a.group(b"sudo").map(|g| g.members.len()), Some(1));
    }
}
