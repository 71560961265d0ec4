//! Accounts from the captured `/etc/passwd` (read with [`crate::parse::passwd`]): names for uids, homes for `~/` paths and key files, and
//! user nodes (`user:{uid}`) created on first use.

use std::collections::{BTreeMap, HashMap};

use minetrace_schemas::escape_bytes;
use petgraph::graph::NodeIndex;

use crate::graph::nodes::{user_id, user_name_id, Node, NodeKind};
use crate::graph::{AttackGraph, Budget};
use crate::model::HostModel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: Vec<u8>,
    pub uid: u32,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

impl Account {
    /// A system or service account (uid 1-999, or no login shell): the accounts exploited services run as.
    pub fn is_service(&self) -> bool {
        let no_login = self.shell.ends_with(b"nologin") || self.shell.ends_with(b"/false");
        self.uid != 0 && (self.uid < 1000 || no_login)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Accounts {
    by_uid: BTreeMap<u32, Account>,
    by_name: HashMap<Vec<u8>, u32>,
}

/// Most passwd lines read.
const MAX_ACCOUNTS: usize = 100_000;

impl Accounts {
    pub fn of(model: &HostModel) -> Accounts {
        let mut acc = Accounts::default();
        let Some(text) = model.file(b"/etc/passwd").and_then(|f| model.content(f)) else {
            return acc;
        };
        for e in crate::parse::passwd::parse_passwd(text)
            .into_iter()
            .take(MAX_ACCOUNTS)
        {
            if e.name.is_empty() {
                continue;
            }
            acc.by_name.entry(e.name.clone()).or_insert(e.uid);
            acc.by_uid.entry(e.uid).or_insert(Account {
                name: e.name,
                uid: e.uid,
                home: e.home,
                shell: e.shell,
            });
        }
        acc
    }

    pub fn get(&self, uid: u32) -> Option<&Account> {
        self.by_uid.get(&uid)
    }

    pub fn uid_of(&self, name: &[u8]) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The account whose home directory contains `path` (longest home wins; `/` never counts).
    pub fn home_owner(&self, path: &[u8]) -> Option<&Account> {
        self.by_uid
            .values()
            .filter(|a| {
                a.home.len() > 1
                    && path.starts_with(&a.home)
                    && path.get(a.home.len()) == Some(&b'/')
            })
            .max_by_key(|a| a.home.len())
    }

    /// Expands a leading `~/` against an account's home.
    pub fn expand_home(&self, path: &[u8], uid: Option<u32>) -> Vec<u8> {
        match (path.strip_prefix(b"~"), uid.and_then(|u| self.get(u))) {
            (Some(rest), Some(a)) if rest.starts_with(b"/") => {
                let mut out = a.home.clone();
                out.extend_from_slice(rest);
                out
            }
            _ => path.to_vec(),
        }
    }

    /// The user node for a uid, created on first use.
    pub fn node(&self, g: &mut AttackGraph, uid: u32, budget: Budget) -> Option<NodeIndex> {
        let id = user_id(uid);
        if let Some(i) = g.index_of(&id) {
            return Some(i);
        }
        let mut node =
            Node::new(id, NodeKind::User, format!("uid {uid}")).attr("uid", uid.to_string());
        if let Some(a) = self.get(uid) {
            node = node
                .with_raw_label(&a.name)
                .attr("name", escape_bytes(&a.name))
                .attr("home", escape_bytes(&a.home))
                .attr("shell", escape_bytes(&a.shell))
                .attr("service_account", a.is_service().to_string());
            node.label = format!("{} ({uid})", node.label);
        }
        g.add_node(node, budget)
    }

    /// The user node for a name: by uid when passwd knows it, else `user:name:{name}`.
    pub fn node_by_name(
        &self,
        g: &mut AttackGraph,
        name: &[u8],
        budget: Budget,
    ) -> Option<NodeIndex> {
        if let Some(uid) = self.uid_of(name) {
            return self.node(g, uid, budget);
        }
        let node = Node::new(user_name_id(name), NodeKind::User, String::new())
            .with_raw_label(name)
            .attr("name", escape_bytes(name));
        g.add_node(node, budget)
    }
}
