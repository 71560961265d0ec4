//! Loader and shell hooks.
//!
//! - `loader`: `/etc/ld.so.preload` and every library it names (copied: a preload rootkit's `.so` is the
//!   evidence), `/etc/ld.so.conf` and `ld.so.conf.d`, `/etc/ld.so.cache` by metadata.
//! - `shell`: `/etc/environment`, `/etc/profile`, `/etc/profile.d`, the system bash/zsh/csh start-up
//!   files, `pam_env.conf`, and every home's `.bashrc`, `.bash_profile`, `.bash_login`, `.profile`,
//!   `.bash_logout`, zsh/csh/fish start-up files, `.pam_environment` and autostart entries.
//!
//! `HISTFILE=` assignments met in those files are handed to `histories` through [`Ctx::histfiles`]
//! (a `HISTFILE=/dev/null` shows up there as the device it names).
//!
//! [`Ctx::histfiles`]: super::sink::Ctx::histfiles

use std::io::Write;

use minetrace_schemas::bundle::WriteError;

use super::host_root::child;
use super::sink::{Content, Sink, CONFIG_CAP};
use super::spend::Place;
use super::walk::{self, Limits, Pick};

/// Per-home start-up files, relative to the home (the list the analyzer classifies by too).
pub use minetrace_schemas::locations::HOME_SHELL_STARTUP as USER_SHELL_FILES;
use minetrace_schemas::locations::{
    persistence_locations_of, Mechanism, SYSTEM_SHELL_STARTUP, SYSTEM_SHELL_STARTUP_DIRS,
};

/// The busybox init's start-up script, kept with the shell files.
const RCS: &[u8] = b"/etc/init.d/rcS";

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let store = Content::Head { cap: CONFIG_CAP };
    s.category = "loader";
    for place in persistence_locations_of(&[Mechanism::LoaderPreload]) {
        if let Some(bytes) = s.capture(place.path, store)? {
            for lib in preload_entries(&bytes) {
                s.capture(&lib, Content::Suspect(Place::Named))?;
                s.ctx.preload_libs.push(lib);
            }
        }
    }
    s.capture(b"/etc/ld.so.conf", store)?;
    walk::walk(s, b"/etc/ld.so.conf.d", Limits::config(2), |_| {
        Pick::Record(store)
    })?;
    s.capture(b"/etc/ld.so.cache", Content::Meta)?;

    s.category = "shell";
    for f in SYSTEM_SHELL_STARTUP.iter().chain(std::iter::once(&RCS)) {
        if let Some(bytes) = s.capture(f, store)? {
            for v in histfile_values(&bytes) {
                s.ctx.histfiles.push((None, v));
            }
        }
    }
    for dir in SYSTEM_SHELL_STARTUP_DIRS {
        let before = s.col.files.len();
        walk::walk(s, dir, Limits::config(3), |_| Pick::Record(store))?;
        scan_new_records(s, before, None);
    }
    for (home, _) in s.ctx.homes.clone() {
        for rel in USER_SHELL_FILES {
            if let Some(bytes) = s.capture(&child(&home, rel), store)? {
                for v in histfile_values(&bytes) {
                    s.ctx.histfiles.push((Some(home.clone()), v));
                }
            }
        }
        walk::walk(
            s,
            &child(&home, minetrace_schemas::locations::HOME_AUTOSTART_DIR),
            Limits::config(2),
            |_| Pick::Record(store),
        )?;
    }
    Ok(())
}

/// Looks for `HISTFILE=` in the files a walk just stored (read again, capped: a walk does not hand bytes
/// back, and `profile.d` files are small).
fn scan_new_records<W: Write>(s: &mut Sink<'_, W>, from: usize, home: Option<&[u8]>) {
    let paths: Vec<Vec<u8>> = s
        .col
        .files
        .get(from..)
        .unwrap_or(&[])
        .iter()
        .filter(|f| f.member.is_some())
        .map(|f| f.path.0.clone())
        .collect();
    for p in paths {
        let real = s.ctx.root.real(&p);
        if let Ok(c) =
            crate::host_read::read_capped(&real, CONFIG_CAP, crate::host_read::Keep::Head)
        {
            for v in histfile_values(&c.bytes) {
                s.ctx.histfiles.push((home.map(<[u8]>::to_vec), v));
            }
        }
    }
}

/// Paths named by an `ld.so.preload` (separated by blanks or colons; `#` starts a comment).
pub fn preload_entries(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        let line = match line.iter().position(|b| *b == b'#') {
            Some(i) => line.get(..i).unwrap_or(&[]),
            None => line,
        };
        for tok in line.split(|b| b.is_ascii_whitespace() || *b == b':') {
            if tok.starts_with(b"/") && out.len() < 64 {
                out.push(tok.to_vec());
            }
        }
    }
    out
}

/// Values of `HISTFILE=...` assignments (`export HISTFILE=x`, `HISTFILE="x"`), quotes removed.
pub fn histfile_values(bytes: &[u8]) -> Vec<Vec<u8>> {
    const KEY: &[u8] = b"HISTFILE=";
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(pos) = bytes
        .get(i..)
        .and_then(|rest| rest.windows(KEY.len()).position(|w| w == KEY))
    {
        let start = i + pos;
        i = start + KEY.len();
        // The name must start a word (`export HISTFILE=`, `;HISTFILE=`), not end one (`MYHISTFILE=`).
        let before = start.checked_sub(1).and_then(|j| bytes.get(j)).copied();
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let rest = bytes.get(i..).unwrap_or(&[]);
        let value: Vec<u8> = match rest.first() {
            Some(q @ (b'"' | b'\'')) => rest
                .iter()
                .skip(1)
                .take_while(|b| **b != *q && **b != b'\n')
                .copied()
                .collect(),
            _ => rest
                .iter()
                .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b';' | b'&' | b'|' | b')'))
                .copied()
                .collect(),
        };
        if !value.is_empty() && out.len() < 32 {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_lines() {
        let v = preload_entries(
            b"/etc/data/libsystem.so\n# /not/this.so\n/a.so:/b.so  /c.so\nrelative.so\n",
        );
        let want: Vec<Vec<u8>> = ["/etc/data/libsystem.so", "/a.so", "/b.so", "/c.so"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(v, want);
    }

    #[test]
    fn histfile_assignments() {
        let v = histfile_values(b"export HISTFILE=/dev/null; HISTSIZE=0\nHISTFILE=\"$HOME/.h x\"\nMYHISTFILE=/no\nunset HISTFILE\n");
        assert_eq!(v, vec![b"/dev/null".to_vec(), b"$HOME/.h x".to_vec()]);
    }
}
