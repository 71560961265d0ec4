//! SSH keys from captured `authorized_keys` files: `sshkey:{fingerprint}` nodes (fingerprint as
//! `ssh-keygen -l` prints it) and `authorizes` edges to the account whose home holds the file (observed).

use minetrace_schemas::escape_bytes;

use crate::graph::ctx::Ctx;
use crate::graph::nodes::{short, sshkey_id, Edge, Level, Node, NodeKind, Relation};
use crate::graph::{AttackGraph, Budget};

pub use crate::model::ssh::is_authorized_keys;

pub fn add(ctx: &Ctx, g: &mut AttackGraph) {
    for entry in &ctx.model.ssh.keys {
        let Some(f) = ctx.model.files.get(entry.file) else {
            continue;
        };
        let k = &entry.key;
        let owner = ctx
            .accounts
            .home_owner(f.path.as_bytes())
            .map(|a| a.uid)
            .unwrap_or(f.uid);
        let fp = k.fingerprint.clone();
        let label = if k.comment.is_empty() {
            short(&fp, 24)
        } else {
            short(&escape_bytes(&k.comment), 32)
        };
        let mut n = Node::new(sshkey_id(&fp), NodeKind::SshKey, label)
            .attr("fingerprint", fp.clone())
            .attr("type", escape_bytes(k.key_type.as_bytes()))
            .attr("comment", escape_bytes(&k.comment))
            .attr("path", f.path.escaped())
            .attr("line", k.line.to_string());
        if !k.comment.is_empty() {
            n.raw_hex = Some(hex::encode(&k.comment));
        }
        let Some(ki) = g.add_node(n, Budget::Host) else {
            continue;
        };
        if let Some(ui) = ctx.accounts.node(g, owner, Budget::Host) {
            let ev = format!(
                "{}:{} {} {}",
                f.path.escaped(),
                k.line,
                escape_bytes(k.key_type.as_bytes()),
                fp
            );
            let mut e = Edge::new(
                Relation::Authorizes,
                Level::Observed,
                "ssh.authorized_keys",
                ev,
            );
            e.attack = Some("T1098.004".into());
            g.add_edge(ki, ui, e, Budget::Host);
        }
    }
}
