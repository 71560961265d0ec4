//! The order of the graph passes, and the lookups they share ([`Ctx`]): file nodes by path or inode,
//! process nodes by pid, account nodes by uid.
//!
//! Host facts come first and are capped ([`Budget::Host`]); the findings pass runs last with its own
//! reserve, so a finding and its subjects are always in the graph whatever the host holds.

use std::collections::HashMap;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::manifest::format_unix_secs;
use minetrace_schemas::records::executable::ExecutableRecord;
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::process::{FileId, ProcessRecord};
use petgraph::graph::NodeIndex;

use crate::analysis::Analysis;
use crate::graph::accounts::Accounts;
use crate::graph::nodes::{file_id, file_path_id, Edge, Level, Node, NodeKind, Relation};
use crate::graph::{findings, network, persistence, processes, ssh, AttackGraph, Budget};
use crate::indicators::PathClasses;
use crate::model::HostModel;

/// What every pass reads.
pub struct Ctx<'a> {
    pub model: &'a HostModel,
    pub accounts: Accounts<'a>,
    /// The path classes of the indicators the analysis used.
    pub paths: &'a PathClasses,
    pub boot_id: String,
    exe_by_path: HashMap<&'a [u8], &'a ExecutableRecord>,
    exe_by_id: HashMap<FileId, &'a ExecutableRecord>,
    file_by_id: HashMap<FileId, &'a FileRecord>,
}

impl<'a> Ctx<'a> {
    pub fn new(analysis: &'a Analysis) -> Ctx<'a> {
        let model = &analysis.model;
        let boot_id = if model.host.identity.boot_id.is_empty() {
            model.manifest.host.boot_id.clone()
        } else {
            model.host.identity.boot_id.clone()
        };
        Ctx {
            model,
            accounts: Accounts::of(model, &analysis.iocs),
            paths: analysis.iocs.paths(),
            boot_id,
            exe_by_path: model
                .executables
                .iter()
                .map(|e| (e.path.as_bytes(), e))
                .collect(),
            exe_by_id: model.executables.iter().map(|e| (e.file, e)).collect(),
            file_by_id: model
                .files
                .iter()
                .filter(|f| f.ino != 0)
                .map(|f| {
                    (
                        FileId {
                            dev: f.dev,
                            ino: f.ino,
                        },
                        f,
                    )
                })
                .collect(),
        }
    }

    pub fn executable_at(&self, path: &[u8]) -> Option<&'a ExecutableRecord> {
        self.exe_by_path.get(path).copied()
    }

    /// The node for a captured file record (`file:{dev}:{ino}`, or by path when no inode was recorded).
    pub fn file_record_node(
        &self,
        g: &mut AttackGraph,
        f: &FileRecord,
        budget: Budget,
    ) -> Option<NodeIndex> {
        let id = if f.ino != 0 {
            file_id(FileId {
                dev: f.dev,
                ino: f.ino,
            })
        } else {
            file_path_id(f.path.as_bytes())
        };
        let mut node = Node::new(id, NodeKind::File, String::new())
            .with_raw_label(f.path.as_bytes())
            .attr("path", f.path.escaped())
            .attr("category", escape_bytes(f.category.as_bytes()))
            .attr("mode", format!("{:o}", f.mode))
            .attr("uid", f.uid.to_string())
            .attr("size", f.size.to_string())
            .attr("mtime", format_unix_secs(f.mtime.secs))
            .attr("ctime", format_unix_secs(f.ctime.secs));
        if let Some(b) = f.btime {
            node = node.attr("btime", format_unix_secs(b.secs));
        }
        if let Some(h) = &f.sha256 {
            node = node.attr("sha256", escape_bytes(h.as_bytes()));
        }
        if f.immutable {
            node = node.attr("immutable", "true");
        }
        if f.append_only {
            node = node.attr("append_only", "true");
        }
        if f.nlink == 0 && f.ino != 0 {
            node = node.attr("deleted", "true");
        }
        g.add_node(node, budget)
    }

    /// The node for a file known by inode (a running image or mapping), with what the executable
    /// record and the file record say about it.
    pub fn file_id_node(
        &self,
        g: &mut AttackGraph,
        id: FileId,
        path: &[u8],
        budget: Budget,
    ) -> Option<NodeIndex> {
        if let Some(f) = self.file_by_id.get(&id) {
            return self.file_record_node(g, f, budget);
        }
        let mut node = Node::new(file_id(id), NodeKind::File, String::new())
            .with_raw_label(path)
            .attr("path", escape_bytes(path));
        if let Some(e) = self.exe_by_id.get(&id) {
            node = node.attr("size", e.size.to_string());
            if let Some(h) = &e.sha256 {
                node = node.attr("sha256", escape_bytes(h.as_bytes()));
            }
            if e.deleted {
                node = node.attr("deleted", "true");
            }
            if e.memfd {
                node = node.attr("memfd", "true");
            }
        }
        g.add_node(node, budget)
    }

    /// The node for a path: the captured file, else the running executable at that path, else a
    /// path-only node.
    pub fn file_path_node(
        &self,
        g: &mut AttackGraph,
        path: &[u8],
        budget: Budget,
    ) -> Option<NodeIndex> {
        if let Some(f) = self.model.file(path) {
            return self.file_record_node(g, f, budget);
        }
        if let Some(e) = self.executable_at(path) {
            return self.file_id_node(g, e.file, path, budget);
        }
        let node = Node::new(file_path_id(path), NodeKind::File, String::new())
            .with_raw_label(path)
            .attr("path", escape_bytes(path));
        g.add_node(node, budget)
    }

    /// Whether a path is known to the model (captured file or running executable).
    pub fn path_known(&self, path: &[u8]) -> bool {
        self.model.file(path).is_some() || self.executable_at(path).is_some()
    }

    pub fn process_node(
        &self,
        g: &mut AttackGraph,
        p: &ProcessRecord,
        budget: Budget,
    ) -> Option<NodeIndex> {
        processes::node(self, g, p, budget)
    }
}

/// Builds the whole graph from one analysis.
pub fn build(analysis: &Analysis) -> AttackGraph {
    let ctx = Ctx::new(analysis);
    let mut g = AttackGraph::new();
    let flagged = findings::flagged_lines(&analysis.document.findings);
    processes::add(&ctx, &mut g);
    network::add_sockets(&ctx, &mut g);
    persistence::add(&ctx, &mut g, &flagged);
    ssh::add(&ctx, &mut g);
    network::add_names(&ctx, &mut g);
    processes::add_maps(&ctx, &mut g);
    link_same_paths(&mut g);
    findings::add(&ctx, &mut g, &analysis.document.findings);
    findings::assign_stages(&mut g);
    g
}

/// Joins file nodes that carry the same path under different ids (`same_path`, observed): a running
/// image seen through another device number than its directory entry, or a path whose file was
/// replaced while a process still ran the old one.
fn link_same_paths(g: &mut AttackGraph) {
    let mut by_path: HashMap<String, Vec<NodeIndex>> = HashMap::new();
    for i in g.g.node_indices() {
        if let Some(n) = g.node_at(i) {
            if n.kind == NodeKind::File {
                if let Some(p) = n.attrs.get("path") {
                    by_path.entry(p.clone()).or_default().push(i);
                }
            }
        }
    }
    let mut groups: Vec<(String, Vec<NodeIndex>)> =
        by_path.into_iter().filter(|(_, v)| v.len() > 1).collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, mut nodes) in groups {
        nodes.sort_by(|a, b| g.id_of(*a).cmp(g.id_of(*b)));
        nodes.truncate(8);
        for pair in nodes.windows(2) {
            let (Some(a), Some(b)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let ev = format!("{} and {} both name {path}", g.id_of(*a), g.id_of(*b));
            g.add_edge(
                *a,
                *b,
                Edge::new(Relation::SamePath, Level::Observed, "file.same_path", ev),
                Budget::Host,
            );
        }
    }
}
