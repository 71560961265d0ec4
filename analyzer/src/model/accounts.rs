//! The host's accounts and groups from its captured `/etc/passwd` and `/etc/group`, parsed once when the
//! model is built ([`crate::model::HostModel::accounts`]). Detectors, the graph and the remediation read
//! this one list: names for uids, the account a home path belongs to, `~/` expansion, and the one
//! definition of a service account.

use minetrace_schemas::RawBytes;

use crate::indicators::{Indicators, Kind};
use crate::parse::passwd::{parse_group, parse_passwd, GroupEntry, PasswdEntry};

/// Most passwd or group lines kept; a shaped bundle cannot make the list unbounded.
const MAX_ACCOUNTS: usize = 100_000;

/// The first uid `useradd` gives a person when the host does not say (`UID_MIN`'s default in shadow-utils
/// since 2011; RHEL 6 and older, and hosts upgraded from them, keep 500 in `/etc/login.defs`).
const DEFAULT_UID_MIN: u32 = 1000;

/// Where `useradd` puts a person's home (`HOME=` of `/etc/default/useradd`, `/home` on every distribution
/// we read): a home under it is a person's, a home in `/var/lib`, `/opt`, `/srv` or `/` a service's.
const PERSON_HOME_ROOT: &[u8] = b"/home/";

/// `UID_MIN` of a captured `/etc/login.defs` (`UID_MIN  500`); `None` when the file does not set a
/// usable value (absent, a comment, not a number, 0).
fn login_defs_uid_min(bytes: &[u8]) -> Option<u32> {
    bytes.split(|b| *b == b'\n').find_map(|line| {
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        if words.next()? != b"UID_MIN" {
            return None;
        }
        std::str::from_utf8(words.next()?)
            .ok()?
            .parse()
            .ok()
            .filter(|n| *n > 0)
    })
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
    /// The first uid of a person on this host: `UID_MIN` of `/etc/login.defs` when the bundle holds it,
    /// else [`DEFAULT_UID_MIN`].
    pub uid_min: u32,
}

impl Accounts {
    /// Parses the captured `passwd`, `group` and `login.defs` bytes.
    pub fn parse(
        passwd: Option<(&RawBytes, &[u8])>,
        group: Option<&[u8]>,
        login_defs: Option<&[u8]>,
    ) -> Accounts {
        let mut entries = passwd.map(|(_, b)| parse_passwd(b)).unwrap_or_default();
        entries.truncate(MAX_ACCOUNTS);
        let mut groups = group.map(parse_group).unwrap_or_default();
        groups.truncate(MAX_ACCOUNTS);
        Accounts {
            entries,
            groups,
            passwd_path: passwd.map(|(p, _)| p.clone()),
            uid_min: login_defs
                .and_then(login_defs_uid_min)
                .unwrap_or(DEFAULT_UID_MIN),
        }
    }

    /// Whether an account of this host is a service's or the system's rather than a person's, from what
    /// the host says about the account itself (never from its uid alone, which hosts number differently):
    /// - root never is;
    /// - a shell that refuses logins (`nologin`, `false`) makes one, whatever the uid: a service installed
    ///   by hand (`useradd minio`) gets a uid from the persons' range;
    /// - a uid below the host's `UID_MIN` makes one, unless the account has a person's shape: a login
    ///   shell and a home under [`PERSON_HOME_ROOT`] (an admin created with `-u 500` on a host whose
    ///   `login.defs` says 1000, an automation account created with `-r` but used as a person).
    ///
    /// A uid of the persons' range with a login shell is a person's.
    fn service_shaped(&self, e: &Account) -> bool {
        if e.uid == 0 {
            return false;
        }
        if e.shell_refuses_login() {
            return true;
        }
        let person_home =
            e.home.starts_with(PERSON_HOME_ROOT) && e.home.len() > PERSON_HOME_ROOT.len();
        e.uid < self.uid_min && !person_home
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

    /// A service or system account: listed as `service_account`, or an account of this host shaped like
    /// one ([`Accounts::service_shaped`]: a shell that refuses logins, or a uid below the host's
    /// `UID_MIN` without a person's login shell and home). The one definition every stage uses.
    pub fn is_service(&self, iocs: &Indicators, name: &[u8]) -> bool {
        iocs.contains(Kind::ServiceAccount, &String::from_utf8_lossy(name))
            || self.by_name(name).is_some_and(|e| self.service_shaped(e))
    }

    /// The account of `uid` when it is a system or service account of this host
    /// ([`Accounts::service_shaped`]): the part of [`Accounts::is_service`] the host's own files decide,
    /// for facts the model derives before any indicator is read.
    pub fn system_account(&self, uid: u32) -> Option<&Account> {
        self.by_uid(uid).filter(|e| self.service_shaped(e))
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
            None,
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
        assert_eq!(a.uid_min, 1000, "no login.defs: shadow-utils' default");
    }

    /// Review s4 item 4: which accounts are services is read from the host (its `UID_MIN`, the shell,
    /// the home), not from "uid below 1000".
    #[test]
    fn service_accounts_by_the_hosts_own_facts() {
        let path = RawBytes::from(&b"/etc/passwd"[..]);
        let passwd = b"root:x:0:0:root:/root:/bin/bash\n\
jsmith:x:500:500:John Smith:/home/jsmith:/bin/bash\n\
ansible:x:498:498:automation:/home/ansible:/bin/bash\n\
postgres:x:26:26:PostgreSQL Server:/var/lib/pgsql:/bin/bash\n\
games:x:12:100:games:/usr/games:/bin/bash\n\
minio:x:1002:1002::/opt/minio:/sbin/nologin\n\
ops:x:1001:1001::/srv/ops:/bin/bash\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        let defs =
            b"# /etc/login.defs kept from RHEL 6\nUID_MIN                   500\nUID_MAX 60000\n";
        let a = Accounts::parse(Some((&path, passwd)), None, Some(defs));
        let iocs = Indicators::builtin();
        assert_eq!(a.uid_min, 500);
        assert!(
            !a.is_service(&iocs, b"jsmith"),
            "uid 500 is a person where UID_MIN is 500"
        );
        assert!(
            !a.is_service(&iocs, b"ansible"),
            "low uid, but a person's shell and home"
        );
        assert!(
            a.is_service(&iocs, b"postgres"),
            "listed, and a low uid with a service's home"
        );
        assert!(
            a.is_service(&iocs, b"games"),
            "a low uid with a login shell outside /home"
        );
        assert!(
            a.is_service(&iocs, b"minio"),
            "nologin: a hand-installed service with a person's uid"
        );
        assert!(
            !a.is_service(&iocs, b"ops"),
            "a person's uid and a login shell"
        );
        assert!(a.is_service(&iocs, b"nobody"));
        assert!(!a.is_service(&iocs, b"root"));
        assert_eq!(
            a.system_account(1002).map(|e| e.name.as_slice()),
            Some(&b"minio"[..])
        );
        assert!(a.system_account(500).is_none());
        // A login.defs without a usable UID_MIN leaves the default.
        for defs in [&b"#UID_MIN 500\n"[..], b"UID_MIN x\n", b"UID_MIN 0\n", b""] {
            assert_eq!(
                Accounts::parse(Some((&path, passwd)), None, Some(defs)).uid_min,
                1000
            );
        }
    }
}
