//! User nodes (`user:{uid}`, `user:name:{name}`) for the model's accounts ([`crate::model::accounts`]),
//! created on first use. The accounts themselves — names, homes, `~/` expansion, which are service
//! accounts — are the model's; this module only draws them.

use minetrace_schemas::escape_bytes;
use petgraph::graph::NodeIndex;

use crate::graph::nodes::{user_id, user_name_id, Node, NodeKind};
use crate::graph::{AttackGraph, Budget};
use crate::indicators::Indicators;
use crate::model::accounts::Account;
use crate::model::HostModel;

/// The model's accounts, with the indicators that say which are service accounts.
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    pub list: &'a crate::model::accounts::Accounts,
    iocs: &'a Indicators,
}

impl<'a> Accounts<'a> {
    pub fn of(model: &'a HostModel, iocs: &'a Indicators) -> Accounts<'a> {
        Accounts {
            list: &model.accounts,
            iocs,
        }
    }

    pub fn get(&self, uid: u32) -> Option<&'a Account> {
        self.list.by_uid(uid)
    }

    pub fn uid_of(&self, name: &[u8]) -> Option<u32> {
        self.list.uid_of(name)
    }

    /// A service or system account ([`crate::model::accounts::Accounts::is_service`]).
    pub fn is_service(&self, a: &Account) -> bool {
        self.list.is_service(self.iocs, &a.name)
    }

    /// The account whose home directory contains `path`.
    pub fn home_owner(&self, path: &[u8]) -> Option<&'a Account> {
        self.list.owner_of_path(path)
    }

    /// Expands a leading `~/` against an account's home.
    pub fn expand_home(&self, path: &[u8], uid: Option<u32>) -> Vec<u8> {
        self.list.expand_home(path, uid)
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
                .attr("service_account", self.is_service(a).to_string());
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
