//! Process nodes and their observed edges: `child_of` (current PPID), `runs_image` (exe dev:inode),
//! `runs_as` (effective uid) and, in a last pass ([`add_maps`]), `maps` (executable mappings other than
//! the image).

use minetrace_schemas::escape_bytes;
use minetrace_schemas::manifest::format_unix_secs;
use minetrace_schemas::records::process::{MappingKind, ProcessRecord};
use petgraph::graph::NodeIndex;

use crate::graph::ctx::Ctx;
use crate::graph::nodes::{proc_id, short, Edge, Level, Node, NodeKind, Relation};
use crate::graph::{AttackGraph, Budget};

/// Command lines are long; the node keeps this much (escaped).
const CMDLINE_MAX: usize = 400;

/// The command line as one escaped line, arguments separated by spaces.
pub fn cmdline_text(p: &ProcessRecord) -> String {
    let args: Vec<String> = p.argv().iter().map(|a| escape_bytes(a)).collect();
    let text = args.join(" ");
    if text.chars().count() > CMDLINE_MAX {
        let cut: String = text.chars().take(CMDLINE_MAX).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The node for one process (created on first use).
pub fn node(
    ctx: &Ctx,
    g: &mut AttackGraph,
    p: &ProcessRecord,
    budget: Budget,
) -> Option<NodeIndex> {
    let id = proc_id(&ctx.boot_id, p.pid, p.start_ticks);
    if let Some(i) = g.index_of(&id) {
        return Some(i);
    }
    let mut n = Node::new(id, NodeKind::Process, String::new())
        .with_raw_label(p.comm.as_bytes())
        .attr("pid", p.pid.to_string())
        .attr("ppid", p.ppid.to_string())
        .attr("uid", p.uid.effective.to_string())
        .attr("comm", p.comm.escaped())
        .attr("cmdline", cmdline_text(p))
        .attr("start_ticks", p.start_ticks.to_string())
        .attr("threads", p.threads.to_string());
    n.label = short(
        &format!("{} [{}]", n.label, p.pid),
        super::nodes::LABEL_MAX + 8,
    );
    if let Some(t) = ctx.model.start_unix(p) {
        n = n.attr("start", format_unix_secs(t));
    }
    if let Some(exe) = &p.exe {
        n = n.attr("exe", exe.path.escaped());
        if exe.deleted {
            n = n.attr("exe_deleted", "true");
        }
        if exe.memfd {
            n = n.attr("exe_memfd", "true");
        }
    }
    if let Some(cwd) = &p.cwd {
        n = n.attr("cwd", cwd.escaped());
    }
    g.add_node(n, budget)
}

pub fn add(ctx: &Ctx, g: &mut AttackGraph) {
    let boot = &ctx.boot_id;
    for p in &ctx.model.processes {
        let Some(me) = node(ctx, g, p, Budget::Host) else {
            continue;
        };
        if p.ppid > 0 && p.ppid != p.pid {
            if let Some(parent) = ctx.model.process(p.ppid) {
                if let Some(pi) = node(ctx, g, parent, Budget::Host) {
                    let ev = format!(
                        "/proc/{}/stat ppid {} (boot {})",
                        p.pid,
                        p.ppid,
                        escape_bytes(boot.as_bytes())
                    );
                    g.add_edge(
                        me,
                        pi,
                        Edge::new(Relation::ChildOf, Level::Observed, "proc.ppid", ev),
                        Budget::Host,
                    );
                }
            }
        }
        if let Some(exe) = &p.exe {
            if let Some(fid) = exe.file {
                if let Some(fi) = ctx.file_id_node(g, fid, exe.path.as_bytes(), Budget::Host) {
                    let ev = format!(
                        "/proc/{}/exe -> {} (dev {} ino {})",
                        p.pid,
                        exe.path.escaped(),
                        fid.dev,
                        fid.ino
                    );
                    g.add_edge(
                        me,
                        fi,
                        Edge::new(Relation::RunsImage, Level::Observed, "proc.exe", ev),
                        Budget::Host,
                    );
                }
            }
        }
        if let Some(ui) = ctx.accounts.node(g, p.uid.effective, Budget::Host) {
            let ev = format!("/proc/{}/status Uid effective {}", p.pid, p.uid.effective);
            g.add_edge(
                me,
                ui,
                Edge::new(Relation::RunsAs, Level::Observed, "proc.uid", ev),
                Budget::Host,
            );
        }
    }
}

/// `maps` edges, added after every other host pass: a host where every process maps forty libraries
/// must spend the edge budget on persistence and sockets first.
pub fn add_maps(ctx: &Ctx, g: &mut AttackGraph) {
    for p in &ctx.model.processes {
        let Some(me) = g.index_of(&proc_id(&ctx.boot_id, p.pid, p.start_ticks)) else {
            continue;
        };
        let exe_file = p.exe.as_ref().and_then(|e| e.file);
        let exe_path = p.exe.as_ref().map(|e| e.path.as_bytes());
        for m in &p.maps {
            if !matches!(
                m.kind,
                MappingKind::File | MappingKind::DeletedFile | MappingKind::Memfd
            ) {
                continue;
            }
            let (Some(fid), Some(path)) = (m.file, m.path.as_ref()) else {
                continue;
            };
            // The image's own mapping is the image (`runs_image`). An overlay root (a container's, the
            // test sandbox's) names a mapping by the overlay's device and a layer's inode number, not
            // the pair `stat` gives: the path tells, and another file (a directory) can carry that pair
            // or the file at that path carries the inode under the overlay's device, so such a mapping
            // is known by its path.
            if Some(fid) == exe_file || exe_path == Some(path.as_bytes()) {
                continue;
            }
            let node = if ctx.id_names_mapped_file(fid, path.as_bytes()) {
                ctx.file_id_node(g, fid, path.as_bytes(), Budget::Host)
            } else {
                ctx.file_path_node(g, path.as_bytes(), Budget::Host)
            };
            if let Some(fi) = node {
                let ev = format!(
                    "/proc/{}/maps {} {:x}-{:x} {}",
                    p.pid,
                    m.perms,
                    m.start,
                    m.end,
                    path.escaped()
                );
                g.add_edge(
                    me,
                    fi,
                    Edge::new(Relation::Maps, Level::Observed, "proc.maps", ev),
                    Budget::Host,
                );
            }
        }
    }
}
