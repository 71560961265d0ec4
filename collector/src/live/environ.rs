//! `/proc/PID/environ`: every variable's name, but values only for a forensic allowlist.
//!
//! Environments hold secrets (tokens, database passwords), so by default a value is kept only where it is
//! evidence: loader hijacks (`LD_PRELOAD`), where a process was started from and by whom (`PWD`,
//! `SSH_CONNECTION`, `SUDO_*`), and how history was suppressed (`HISTFILE=/dev/null`). `--all-env-values`
//! keeps them all. Names and values are host bytes and kept exactly.

use minetrace_schemas::records::process::EnvVar;
use minetrace_schemas::RawBytes;

/// Variables whose value is kept by default. Add a name here only if its value is evidence and is not
/// normally a secret.
pub const VALUE_ALLOWLIST: &[&str] = &[
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "LD_DEBUG",
    "LD_BIND_NOW",
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "PWD",
    "OLDPWD",
    "SHELL",
    "TERM",
    "LANG",
    "HISTFILE",
    "HISTSIZE",
    "HISTFILESIZE",
    "HISTCONTROL",
    "HISTIGNORE",
    "HISTTIMEFORMAT",
    "PROMPT_COMMAND",
    "SSH_CONNECTION",
    "SSH_CLIENT",
    "SSH_TTY",
    "SSH_ORIGINAL_COMMAND",
    "SUDO_USER",
    "SUDO_UID",
    "SUDO_GID",
    "SUDO_COMMAND",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "container",
];

/// Whether values outside the allowlist are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvValues {
    Allowlisted,
    All,
}

/// Splits NUL-separated `NAME=VALUE` entries. An entry without `=` is kept as a name with no value; empty
/// entries (a trailing NUL, or a process that overwrote its environment) are dropped.
pub fn parse(bytes: &[u8], values: EnvValues) -> Vec<EnvVar> {
    bytes
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, value) = match entry.iter().position(|b| *b == b'=') {
                Some(eq) => (entry.get(..eq).unwrap_or_default(), entry.get(eq + 1..)),
                None => (entry, None),
            };
            let keep = values == EnvValues::All || is_allowlisted(name);
            EnvVar {
                name: RawBytes::new(name),
                value: value.filter(|_| keep).map(RawBytes::new),
            }
        })
        .collect()
}

pub fn is_allowlisted(name: &[u8]) -> bool {
    VALUE_ALLOWLIST.iter().any(|a| a.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_only_for_allowlist() {
        let env = parse(
            b"PATH=/usr/bin\0AWS_SECRET_ACCESS_KEY=hunter2\0LD_PRELOAD=/lib/x.so\0\0",
            EnvValues::Allowlisted,
        );
        let shown: Vec<(&[u8], Option<&[u8]>)> = env
            .iter()
            .map(|v| (v.name.as_bytes(), v.value.as_ref().map(RawBytes::as_bytes)))
            .collect();
        assert_eq!(
            shown,
            vec![
                (&b"PATH"[..], Some(&b"/usr/bin"[..])),
                (&b"AWS_SECRET_ACCESS_KEY"[..], None),
                (&b"LD_PRELOAD"[..], Some(&b"/lib/x.so"[..])),
            ]
        );
    }

    #[test]
    fn all_values_and_odd_entries_kept_as_bytes() {
        let env = parse(b"TOKEN=a=b\nc\xff\0noequals\0=startswith", EnvValues::All);
        assert_eq!(env.len(), 3);
        assert_eq!(env[0].name.as_bytes(), b"TOKEN");
        assert_eq!(env[0].value.as_ref().unwrap().as_bytes(), b"a=b\nc\xff");
        assert_eq!(env[1].name.as_bytes(), b"noequals");
        assert_eq!(env[1].value, None);
        assert_eq!(env[2].name.as_bytes(), b"");
        assert_eq!(env[2].value.as_ref().unwrap().as_bytes(), b"startswith");
    }

    #[test]
    fn allowlist_is_exact() {
        assert!(is_allowlisted(b"LD_PRELOAD"));
        assert!(!is_allowlisted(b"LD_PRELOAD "));
        assert!(!is_allowlisted(b"path"));
    }
}
