//! The lookups every graph pass shares: file nodes by path or inode, executables by path, the model's
//! accounts and the path classes of the analysis. Passes read it; it calls no pass.

use std::collections::HashMap;

use minetrace_schemas::escape_bytes;
use minetrace_schemas::manifest::format_unix_secs;
use minetrace_schemas::records::executable::ExecutableRecord;
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::process::FileId;
use petgraph::graph::NodeIndex;

use crate::analysis::Analysis;
use crate::graph::accounts::Accounts;
use crate::graph::nodes::{file_id, file_path_id, file_record_id, Node, NodeKind};
use crate::graph::{AttackGraph, Budget};
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
        let id = file_record_id(f);
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

    /// Whether a mapping's `id` can stand for the file mapped at `path`: the captured record carrying
    /// that identity, if any, is not a directory (nothing maps a directory; an overlay's device and a
    /// layer's inode number can name one); and when no record carries it, the file captured at `path`
    /// is not that inode seen through another device (an overlay root names a mapping by a layer's
    /// device and the inode number `stat` gives through the overlay: one file, two ids).
    pub fn id_names_mapped_file(&self, id: FileId, path: &[u8]) -> bool {
        match self.file_by_id.get(&id) {
            Some(f) => f.kind != FileKind::Directory,
            None => self
                .model
                .file(path)
                .is_none_or(|f| f.kind != FileKind::Regular || f.ino != id.ino),
        }
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
}
