//! Host locations the collector captures and the analyzer classifies from the same list, so that what is
//! collected as a shell start-up file is judged as one (and the other way round).

/// System-wide shell start-up files: login and interactive shells of bash, zsh and csh, and the
/// environment PAM sets at every login.
pub const SYSTEM_SHELL_STARTUP: &[&[u8]] = &[
    b"/etc/environment",
    b"/etc/profile",
    b"/etc/bash.bashrc",
    b"/etc/bashrc",
    b"/etc/bash.bash_logout",
    b"/etc/zshrc",
    b"/etc/zprofile",
    b"/etc/zshenv",
    b"/etc/zlogin",
    b"/etc/csh.cshrc",
    b"/etc/csh.login",
    b"/etc/security/pam_env.conf",
];

/// Directories whose every file a shell reads at start-up (no trailing slash).
pub const SYSTEM_SHELL_STARTUP_DIRS: &[&[u8]] =
    &[b"/etc/profile.d", b"/etc/zsh", b"/etc/fish/conf.d"];

/// Per-home shell and session start-up files, relative to the home.
pub const HOME_SHELL_STARTUP: &[&[u8]] = &[
    b".bashrc",
    b".bash_profile",
    b".bash_login",
    b".profile",
    b".bash_logout",
    b".zshrc",
    b".zprofile",
    b".zshenv",
    b".zlogin",
    b".cshrc",
    b".tcshrc",
    b".login",
    b".config/fish/config.fish",
    b".pam_environment",
    b".xinitrc",
    b".xprofile",
];

/// Whether `path` is a shell start-up file: a system one, a file in a start-up directory, or a home
/// start-up file (matched by its name relative to the home, wherever the home is).
pub fn is_shell_startup(path: &[u8]) -> bool {
    SYSTEM_SHELL_STARTUP.contains(&path)
        || SYSTEM_SHELL_STARTUP_DIRS.iter().any(|d| {
            path.strip_prefix(*d)
                .and_then(|rest| rest.strip_prefix(b"/"))
                .is_some_and(|name| !name.is_empty() && !name.ends_with(b"/"))
        })
        || HOME_SHELL_STARTUP.iter().any(|rel| {
            path.strip_suffix(*rel)
                .is_some_and(|head| head.ends_with(b"/"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_startup_files() {
        assert!(is_shell_startup(b"/etc/profile"));
        assert!(is_shell_startup(b"/etc/profile.d/x.sh"));
        assert!(is_shell_startup(b"/etc/zsh/zshrc"));
        assert!(is_shell_startup(b"/home/u/.bashrc"));
        assert!(is_shell_startup(b"/root/.config/fish/config.fish"));
        assert!(!is_shell_startup(b"/etc/profile.d/"));
        assert!(!is_shell_startup(b"/etc/profile.dx/a"));
        assert!(!is_shell_startup(b"/home/u/x.bashrc"));
        assert!(!is_shell_startup(b"/etc/passwd"));
    }
}
