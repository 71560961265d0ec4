//! Shell and tool histories of every home (category `history`): bash, zsh, sh/ash/ksh, fish, mysql,
//! psql, sqlite, python, node, redis-cli, `less`, `vim` (`.viminfo` lists edited files) and `wget`'s HSTS
//! list (hosts it fetched from), plus every `HISTFILE=` named in a start-up file. Kept from the tail
//! (newest lines) up to `--max-log-mib`. A history that is a link to `/dev/null` is recorded as that link.

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::host_root::child;
use super::sink::{Content, Sink};

pub const HISTORY_FILES: &[&[u8]] = &[
    b".bash_history",
    b".zsh_history",
    b".zhistory",
    b".sh_history",
    b".ash_history",
    b".ksh_history",
    b".history",
    b".local/share/fish/fish_history",
    b".config/fish/fish_history",
    b".mysql_history",
    b".psql_history",
    b".sqlite_history",
    b".python_history",
    b".node_repl_history",
    b".rediscli_history",
    b".lesshst",
    b".viminfo",
    b".wget-hsts",
];

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let tail = Content::Tail { cap: s.ctx.max_log };
    let homes = s.ctx.homes.clone();
    for (home, _) in &homes {
        for rel in HISTORY_FILES {
            s.capture(&child(home, rel), tail)?;
        }
    }
    for (home, value) in s.ctx.histfiles.clone() {
        let targets: Vec<Vec<u8>> = match &home {
            Some(h) => expand_histfile(&value, h).into_iter().collect(),
            None => homes
                .iter()
                .filter_map(|(h, _)| expand_histfile(&value, h))
                .collect(),
        };
        for t in targets {
            s.capture(&t, tail)?;
        }
    }
    Ok(())
}

/// A `HISTFILE` value as a path for one home: `~/`, `$HOME/` and `${HOME}/` expand; other variables do
/// not (`None`); a relative value is taken from the home, where a login shell starts.
pub fn expand_histfile(value: &[u8], home: &[u8]) -> Option<Vec<u8>> {
    for prefix in [&b"~/"[..], b"$HOME/", b"${HOME}/"] {
        if let Some(rest) = value.strip_prefix(prefix) {
            return (!rest.contains(&b'$')).then(|| child(home, rest));
        }
    }
    if value.contains(&b'$') || value.contains(&b'`') {
        return None;
    }
    if value.starts_with(b"/") {
        Some(value.to_vec())
    } else {
        Some(child(home, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histfile_expansion() {
        assert_eq!(
            expand_histfile(b"/dev/null", b"/root").unwrap(),
            b"/dev/null"
        );
        assert_eq!(expand_histfile(b"~/.h", b"/root").unwrap(), b"/root/.h");
        assert_eq!(
            expand_histfile(b"${HOME}/.h", b"/home/u").unwrap(),
            b"/home/u/.h"
        );
        assert_eq!(expand_histfile(b".h", b"/home/u").unwrap(), b"/home/u/.h");
        assert_eq!(expand_histfile(b"$XDG/h", b"/root"), None);
    }
}
