//! Program names both sides know: the collector reads a persistence line's `sh FILE` as "FILE is a script
//! this line runs" (so FILE is stored as a script would be, its secret values redacted, not withheld as
//! data), and the analyzer parses shell lines and builds the remediation's respawn scan from the same
//! list.

/// Programs that execute what they read on stdin, or a script their command line names: the one list of
/// interpreters (the remediation script's respawn scan reads it from the plan's data block).
pub const INTERPRETERS: &[&[u8]] = &[
    b"sh", b"bash", b"dash", b"zsh", b"ksh", b"ash", b"mksh", b"busybox", b"python", b"python2",
    b"python3", b"perl", b"php", b"ruby", b"node",
];

/// Shell builtins that run a file's lines in the calling shell (`. FILE`, `source FILE`).
pub const SOURCING_BUILTINS: &[&[u8]] = &[b".", b"source"];
