//! Sockets from `/proc/net/*` of every network namespace, mapped to the processes holding them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RawBytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SocketProto {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
    Raw,
    Raw6,
    Unix,
}

impl SocketProto {
    pub fn name(self) -> &'static str {
        match self {
            SocketProto::Tcp => "tcp",
            SocketProto::Tcp6 => "tcp6",
            SocketProto::Udp => "udp",
            SocketProto::Udp6 => "udp6",
            SocketProto::Raw => "raw",
            SocketProto::Raw6 => "raw6",
            SocketProto::Unix => "unix",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SocketRecord {
    /// Inode of the network namespace the table was read in.
    pub netns: u64,
    pub proto: SocketProto,
    /// `IP:PORT` (IPv6 as `[addr]:port`); empty for unix sockets.
    pub local: String,
    pub remote: String,
    /// TCP state name (`LISTEN`, `ESTABLISHED`, ...) or the raw state number for other protocols.
    pub state: String,
    pub uid: u32,
    pub inode: u64,
    /// Path of a unix socket (abstract names start with `@`).
    pub unix_path: Option<RawBytes>,
    /// Processes holding an fd on this socket inode.
    pub pids: Vec<i32>,
}
