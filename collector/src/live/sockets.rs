//! Sockets: the kernel's tables (`net/tcp`, `tcp6`, `udp`, `udp6`, `raw`, `raw6`, `unix`) of every network
//! namespace a process is in, each socket mapped to the pids holding an fd on its inode; and the raw
//! connection-tracking table, which remembers flows whose sockets are already closed.
//!
//! A namespace's tables are read through `/proc/PID/net` of a process inside it, after checking that the
//! process is still in that namespace. Tables are parsed as a stream, line by line, under a byte cap.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Ipv6Addr};

use minetrace_schemas::records::socket::{SocketProto, SocketRecord};
use minetrace_schemas::RawBytes;

use super::proc_dir::ProcDir;
use super::processes::parse_ns_link;

/// Bytes read per table at most.
pub const TABLE_CAP: u64 = 256 << 20;
/// Candidate pids kept per network namespace (the first may exit before its tables are read).
pub const CANDIDATES_PER_NETNS: usize = 4;

pub const TABLES: &[(&str, SocketProto)] = &[
    ("tcp", SocketProto::Tcp),
    ("tcp6", SocketProto::Tcp6),
    ("udp", SocketProto::Udp),
    ("udp6", SocketProto::Udp6),
    ("raw", SocketProto::Raw),
    ("raw6", SocketProto::Raw6),
    ("unix", SocketProto::Unix),
];

/// Socket inode → pids holding it, and network namespace → pids inside it, gathered in the process pass.
#[derive(Debug, Default)]
pub struct SocketIndex {
    pub owners: HashMap<u64, Vec<i32>>,
    pub netns: BTreeMap<u64, Vec<i32>>,
}

impl SocketIndex {
    pub fn add_owner(&mut self, inode: u64, pid: i32) {
        let pids = self.owners.entry(inode).or_default();
        if pids.last() != Some(&pid) {
            pids.push(pid);
        }
    }

    pub fn add_netns(&mut self, netns: u64, pid: i32) {
        let pids = self.netns.entry(netns).or_default();
        if pids.len() < CANDIDATES_PER_NETNS {
            pids.push(pid);
        }
    }
}

/// The kernel's `TCP_*` state names. UDP and raw sockets reuse the numbers (1 connected, 7 not).
fn inet_state(proto: SocketProto, st: u8) -> String {
    let tcp = matches!(proto, SocketProto::Tcp | SocketProto::Tcp6);
    match (st, tcp) {
        (1, _) => "ESTABLISHED".into(),
        (7, false) => "UNCONN".into(),
        (2, true) => "SYN_SENT".into(),
        (3, true) => "SYN_RECV".into(),
        (4, true) => "FIN_WAIT1".into(),
        (5, true) => "FIN_WAIT2".into(),
        (6, true) => "TIME_WAIT".into(),
        (7, true) => "CLOSE".into(),
        (8, true) => "CLOSE_WAIT".into(),
        (9, true) => "LAST_ACK".into(),
        (10, true) => "LISTEN".into(),
        (11, true) => "CLOSING".into(),
        (12, true) => "NEW_SYN_RECV".into(),
        _ => st.to_string(),
    }
}

/// `0100007F:1F90` → `127.0.0.1:8080`; the 32-bit words are in host byte order as the kernel printed them.
fn parse_inet_addr(field: &str, v6: bool) -> Option<String> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if v6 {
        if addr.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
            let word = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        Some(format!("[{}]:{port}", Ipv6Addr::from(bytes)))
    } else {
        let word = u32::from_str_radix(addr, 16).ok()?;
        if addr.len() != 8 {
            return None;
        }
        Some(format!("{}:{port}", Ipv4Addr::from(word.to_ne_bytes())))
    }
}

/// One line of `tcp`/`udp`/`raw` (v4 or v6).
pub fn parse_inet_line(line: &str, proto: SocketProto, netns: u64) -> Option<SocketRecord> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    if !f.first()?.ends_with(':') {
        return None;
    }
    let v6 = matches!(
        proto,
        SocketProto::Tcp6 | SocketProto::Udp6 | SocketProto::Raw6
    );
    Some(SocketRecord {
        netns,
        proto,
        local: parse_inet_addr(f.get(1)?, v6)?,
        remote: parse_inet_addr(f.get(2)?, v6)?,
        state: inet_state(proto, u8::from_str_radix(f.get(3)?, 16).ok()?),
        uid: f.get(7)?.parse().ok()?,
        inode: f.get(9)?.parse().ok()?,
        unix_path: None,
        pids: Vec::new(),
    })
}

fn unix_kind(ty: u16) -> &'static str {
    match ty {
        1 => "STREAM",
        2 => "DGRAM",
        5 => "SEQPACKET",
        _ => "OTHER",
    }
}

/// One entry line of `net/unix` (`Num RefCount Protocol Flags Type St Inode [Path]`). The state is
/// `TYPE/STATE` (`STREAM/LISTEN`, `DGRAM/UNCONNECTED`). The path is everything after the inode, raw.
pub fn parse_unix_line(line: &[u8], netns: u64) -> Option<SocketRecord> {
    let mut fields: Vec<&[u8]> = Vec::with_capacity(7);
    let mut rest = line;
    for _ in 0..7 {
        let start = rest.iter().position(|b| *b != b' ')?;
        let tail = rest.get(start..)?;
        let end = tail.iter().position(|b| *b == b' ').unwrap_or(tail.len());
        fields.push(tail.get(..end)?);
        rest = tail.get(end..)?;
    }
    let text = |i: usize| fields.get(i).and_then(|f| std::str::from_utf8(f).ok());
    if !text(0)?.ends_with(':') {
        return None;
    }
    let flags = u32::from_str_radix(text(3)?, 16).ok()?;
    let ty = u16::from_str_radix(text(4)?, 16).ok()?;
    let st = u8::from_str_radix(text(5)?, 16).ok()?;
    let inode: u64 = text(6)?.parse().ok()?;
    // `__SO_ACCEPTCON` marks a listening socket.
    let state = if flags & 0x0001_0000 != 0 {
        "LISTEN"
    } else {
        match st {
            1 => "UNCONNECTED",
            2 => "CONNECTING",
            3 => "CONNECTED",
            4 => "DISCONNECTING",
            _ => "UNKNOWN",
        }
    };
    let path = rest.strip_prefix(b" ").filter(|p| !p.is_empty());
    Some(SocketRecord {
        netns,
        proto: SocketProto::Unix,
        local: String::new(),
        remote: String::new(),
        state: format!("{}/{state}", unix_kind(ty)),
        uid: 0,
        inode,
        unix_path: path.map(RawBytes::new),
        pids: Vec::new(),
    })
}

/// Parses a whole table from a reader, line by line, under [`TABLE_CAP`]. Returns the records and
/// whether the cap cut the table short.
pub fn parse_table(
    input: impl Read,
    proto: SocketProto,
    netns: u64,
) -> io::Result<(Vec<SocketRecord>, bool)> {
    let mut reader = BufReader::with_capacity(64 * 1024, input.take(TABLE_CAP));
    let mut out: Vec<SocketRecord> = Vec::new();
    let mut line = Vec::with_capacity(256);
    let mut total = 0u64;
    let mut first = true;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if std::mem::take(&mut first) {
            continue; // header
        }
        if proto == SocketProto::Unix {
            match parse_unix_line(text, netns) {
                Some(rec) => out.push(rec),
                // A socket path holding a newline continues on the next line: join it back.
                None => {
                    if let Some(path) = out.last_mut().and_then(|r| r.unix_path.as_mut()) {
                        path.0.push(b'\n');
                        path.0.extend_from_slice(text);
                    }
                }
            }
        } else if let Some(rec) = std::str::from_utf8(text)
            .ok()
            .and_then(|t| parse_inet_line(t, proto, netns))
        {
            out.push(rec);
        }
    }
    Ok((out, total >= TABLE_CAP))
}

/// A failure reading one table of one namespace.
pub struct TableError {
    pub target: String,
    pub message: String,
}

/// Reads every table of every namespace in `index`, with pids filled in from the fd index.
pub fn collect(proc_root: &ProcDir, index: &SocketIndex) -> (Vec<SocketRecord>, Vec<TableError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (&netns, candidates) in &index.netns {
        let Some((pid, dir)) = candidates.iter().find_map(|pid| {
            let dir = proc_root.open_dir(&pid.to_string()).ok()?;
            let link = dir.readlink("ns/net").ok()?;
            (parse_ns_link(&link) == Some(netns)).then_some((*pid, dir))
        }) else {
            errors.push(TableError {
                target: format!("netns {netns}"),
                message: format!(
                    "every process seen in it ({}) exited or left it before its tables were read",
                    candidates
                        .iter()
                        .map(i32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            continue;
        };
        for (table, proto) in TABLES {
            let name = format!("net/{table}");
            let result = dir
                .open_file(&name)
                .and_then(|f| parse_table(f, *proto, netns));
            match result {
                Ok((mut recs, truncated)) => {
                    if truncated {
                        errors.push(TableError {
                            target: format!("/proc/{pid}/{name}"),
                            message: format!("cut at {TABLE_CAP} bytes"),
                        });
                    }
                    records.append(&mut recs);
                }
                // IPv6 or raw may be compiled out; a missing table is not an error.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => errors.push(TableError {
                    target: format!("/proc/{pid}/{name}"),
                    message: e.to_string(),
                }),
            }
        }
    }
    for rec in &mut records {
        if rec.inode != 0 {
            if let Some(pids) = index.owners.get(&rec.inode) {
                rec.pids = pids.clone();
                rec.pids.sort_unstable();
                rec.pids.dedup();
            }
        }
    }
    (records, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_v4_and_v6_lines() {
        let v4 = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
        let r = parse_inet_line(v4, SocketProto::Tcp, 9).unwrap();
        assert_eq!(
            (
                r.local.as_str(),
                r.remote.as_str(),
                r.state.as_str(),
                r.uid,
                r.inode,
                r.netns
            ),
            ("127.0.0.1:8080", "0.0.0.0:0", "LISTEN", 0, 12345, 9)
        );
        let v6 = "   1: 00000000000000000000000001000000:0D05 0000000000000000FFFF00000100427F:0D05 01 00000000:00000000 00:00000000 00000000  1000        0 777 1";
        let r = parse_inet_line(v6, SocketProto::Tcp6, 1).unwrap();
        assert_eq!(r.local, "[::1]:3333");
        assert_eq!(r.remote, "[::ffff:127.66.0.1]:3333");
        assert_eq!((r.state.as_str(), r.uid), ("ESTABLISHED", 1000));
        let udp = "  5: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 55 2";
        assert_eq!(
            parse_inet_line(udp, SocketProto::Udp, 1).unwrap().state,
            "UNCONN"
        );
        assert!(parse_inet_line("  sl  local_address rem_address", SocketProto::Tcp, 1).is_none());
        assert!(parse_inet_line("0: zz:1 00:0 0A", SocketProto::Tcp, 1).is_none());
    }

    #[test]
    fn unix_lines_with_hostile_paths() {
        let table = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 20565 /run/a b\n\
0000000000000000: 00000002 00000000 00000000 0002 01 20566\n\
0000000000000000: 00000003 00000000 00000000 0001 03 20567 @abstract@x\n\
0000000000000000: 00000002 00000000 00010000 0001 01 20568 /tmp/new\nline\xff\n";
        let (recs, truncated) = parse_table(&table[..], SocketProto::Unix, 3).unwrap();
        assert!(!truncated);
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[0].state, "STREAM/LISTEN");
        assert_eq!(recs[0].unix_path.as_ref().unwrap().as_bytes(), b"/run/a b");
        assert_eq!(
            (recs[1].state.as_str(), recs[1].unix_path.as_ref()),
            ("DGRAM/UNCONNECTED", None)
        );
        assert_eq!(recs[2].state, "STREAM/CONNECTED");
        assert_eq!(
            recs[3].unix_path.as_ref().unwrap().as_bytes(),
            b"/tmp/new\nline\xff"
        );
        assert_eq!(recs[3].inode, 20568);
    }

    #[test]
    fn own_listener_is_found_with_own_pid() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = i32::try_from(std::process::id()).unwrap();
        let proc = ProcDir::open_path("/proc").unwrap();
        let dir = proc.open_dir(&me.to_string()).unwrap();
        let netns = parse_ns_link(&dir.readlink("ns/net").unwrap()).unwrap();
        let scan = super::super::fds::collect(&dir).unwrap();
        let mut index = SocketIndex::default();
        index.add_netns(netns, me);
        for fd in scan.fds {
            if let minetrace_schemas::records::process::FdTarget::Socket { inode } = fd.target {
                index.add_owner(inode, me);
            }
        }
        let (recs, errors) = collect(&proc, &index);
        assert!(
            errors.is_empty(),
            "{:?}",
            errors.iter().map(|e| &e.message).collect::<Vec<_>>()
        );
        let want = format!("127.0.0.1:{port}");
        let found = recs
            .iter()
            .find(|r| r.local == want && r.state == "LISTEN")
            .unwrap();
        assert_eq!(found.pids, vec![me]);
    }
}
