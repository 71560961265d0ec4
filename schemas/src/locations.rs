//! Host locations the collector captures and the analyzer classifies from the same list, so that what is
//! collected as a shell start-up file, a crontab, an init script, a module list, a udev rule or a
//! sudoers file is judged as one (and the other way round).

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

/// Web servers' configuration: the files (and directories of files, `*` as in [`WEB_ROOTS`]) where
/// nginx and Apache say which document root each virtual host serves and where it logs its requests.
/// The collector stores the enabled ones (following `sites-enabled` links to their files) as category
/// `web-config`; the analyzer reads them to match a logged request against its own host's root rather
/// than every web root (review of train 3, item 1).
pub const WEB_SERVER_CONFIGS: &[&[u8]] = &[
    b"/etc/nginx/nginx.conf",
    b"/etc/nginx/conf.d/*",
    b"/etc/nginx/sites-enabled/*",
    b"/etc/apache2/apache2.conf",
    b"/etc/apache2/envvars",
    b"/etc/apache2/sites-enabled/*",
    b"/etc/apache2/conf-enabled/*",
    b"/etc/httpd/conf/httpd.conf",
    b"/etc/httpd/conf.d/*",
    b"/usr/local/apache2/conf/httpd.conf",
    b"/usr/local/apache2/conf/extra/*",
];

/// Web server document roots and servlet containers' application directories (no trailing slash; `*`
/// stands for any characters inside one path component: `tomcat*` is `tomcat`, `tomcat9`, `tomcat10`).
/// The collector walks them for server-side scripts; the analyzer's path class `web_root` holds them
/// (plus any `web_root` indicators), so every script collected there is judged.
pub const WEB_ROOTS: &[&[u8]] = &[
    b"/var/www",
    b"/srv/www",
    b"/srv/http",
    b"/usr/share/nginx/html",
    b"/usr/local/apache2/htdocs",
    b"/var/lib/tomcat*/webapps",
    b"/opt/tomcat*/webapps",
    b"/usr/local/tomcat/webapps",
    b"/var/lib/jetty*/webapps",
];

/// Name endings (lowercase) of server-side scripts a web server runs on request, beside PHP's
/// ([`PHP_SCRIPT_EXT`]): JSP and its fragments and XML form, ASP.NET pages and handlers, CGI programs
/// (`.cgi`, Perl, Python, shell) and ColdFusion. The collector records every web script
/// ([`is_web_script`]) in a web root and keeps the heads of the newest; the analyzer judges every one it
/// has as a possible web shell (its content rules decide: an application's Perl CGI reading `param()`
/// scores nothing, a dropped `.phtml` evaluating `$_POST` does).
pub const WEB_SCRIPT_EXT: &[&[u8]] = &[
    b".jsp", b".jspx", b".jspf", b".asp", b".aspx", b".ashx", b".cgi", b".pl", b".py", b".sh",
    b".cfm",
];

/// Name endings (lowercase) a PHP handler runs: `.php`, `.php3`-`.php7`, `.phtml`, `.phar` and `.inc`
/// includes — server-side scripts beside [`WEB_SCRIPT_EXT`], kept apart because the web-shell rule
/// reads PHP's own syntax (backticks, `<?php ... ?>` regions) in them.
pub const PHP_SCRIPT_EXT: &[&[u8]] = &[
    b".php", b".php3", b".php4", b".php5", b".php7", b".phtml", b".phar", b".inc",
];

/// Whether a file name (any case) is a PHP script by [`PHP_SCRIPT_EXT`].
pub fn is_php_script(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    PHP_SCRIPT_EXT.iter().any(|e| lower.ends_with(e))
}

/// Web-root files that are no scripts but make the server run code, recorded by the collector beside
/// the scripts: `.htaccess` (`AddType application/x-httpd-php .jpg`, `php_value auto_prepend_file`),
/// `.user.ini` (PHP's `auto_prepend_file`), and `.war` archives a servlet container deploys.
pub const WEB_CODE_FILES: &[&[u8]] = &[b".htaccess", b".user.ini"];
/// See [`WEB_CODE_FILES`].
pub const WEB_ARCHIVE_EXT: &[&[u8]] = &[b".war"];

/// Whether a file name (any case) is a server-side script by [`WEB_SCRIPT_EXT`] or [`PHP_SCRIPT_EXT`].
pub fn is_web_script(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    is_php_script(&lower) || WEB_SCRIPT_EXT.iter().any(|e| lower.ends_with(e))
}

/// Where journald keeps journals: persistent and volatile (no trailing slash). The collector lists and
/// copies their files; the analyzer reads a journal only from these.
pub const JOURNAL_DIRS: &[&[u8]] = &[b"/var/log/journal", b"/run/log/journal"];

/// Where PAM reads each service's stack (`/etc/pam.d/sshd`, `common-auth`, ...): the collector stores these
/// files, the analyzer judges the modules and programs their lines load into every login, `su` and `sudo`.
pub const PAM_CONFIG_DIR: &[u8] = b"/etc/pam.d";

/// Whether `path` is a file in a directory PAM loads modules from by name: `security/` under `/lib`,
/// `/lib64`, `/usr/lib`, `/usr/lib64`, or a multiarch directory below them (`/usr/lib/x86_64-linux-gnu/
/// security/`), where the distribution's packages install them.
pub fn is_pam_module_dir_file(path: &[u8]) -> bool {
    let Some(cut) = path.iter().rposition(|b| *b == b'/') else {
        return false;
    };
    let (dir, name) = (path.get(..cut).unwrap_or_default(), path.get(cut + 1..));
    let Some(lib) = dir.strip_suffix(b"/security") else {
        return false;
    };
    let base = [&b"/lib"[..], b"/lib64", b"/usr/lib", b"/usr/lib64"]
        .iter()
        .any(|b| {
            lib == *b
                || lib
                    .strip_prefix(*b)
                    .and_then(|r| r.strip_prefix(b"/"))
                    .is_some_and(|arch| !arch.is_empty() && !arch.contains(&b'/'))
        });
    base && name.is_some_and(|n| !n.is_empty())
}

/// sshd's main configuration file: the collector follows its `Include`s from here, the analyzer
/// expands them in the same order.
pub const SSHD_CONFIG: &[u8] = b"/etc/ssh/sshd_config";

/// The directories of system programs that only packages write to (no trailing slash): the collector
/// checks their programs against the package database, the analyzer judges a file there that no
/// package owns.
pub const SYSTEM_BIN_DIRS: &[&[u8]] = &[b"/usr/bin", b"/usr/sbin", b"/bin", b"/sbin"];

/// Whether `path` is directly in one of `dirs` (directories without a trailing slash): `/usr/bin/x`,
/// not `/usr/bin`, `/usr/bin/` nor `/usr/bin/x/y`.
pub fn directly_in(dirs: &[&[u8]], path: &[u8]) -> bool {
    dirs.iter().any(|d| {
        path.strip_prefix(*d)
            .and_then(|rest| rest.strip_prefix(b"/"))
            .is_some_and(|name| !name.is_empty() && !name.contains(&b'/'))
    })
}

/// Whether `path` is below one of `dirs` (directories without a trailing slash), at any depth.
pub fn below(dirs: &[&[u8]], path: &[u8]) -> bool {
    dirs.iter().any(|d| {
        path.strip_prefix(*d)
            .is_some_and(|rest| rest.starts_with(b"/"))
    })
}

/// The directories systemd loads units, drop-ins and generated units from: system, runtime, vendor,
/// transient, generator output, and the system-wide user-unit directories (trailing slash: matched as a
/// prefix, and as a part of a path when an image root stands in front).
pub const SYSTEMD_UNIT_DIRS: &[&[u8]] = &[
    b"/etc/systemd/system/",
    b"/etc/systemd/system.control/",
    b"/run/systemd/system/",
    b"/run/systemd/system.control/",
    b"/run/systemd/transient/",
    b"/run/systemd/generator.early/",
    b"/run/systemd/generator/",
    b"/run/systemd/generator.late/",
    b"/usr/local/lib/systemd/system/",
    b"/lib/systemd/system/",
    b"/usr/lib/systemd/system/",
    b"/etc/systemd/user/",
    b"/run/systemd/user/",
    b"/usr/local/lib/systemd/user/",
    b"/usr/lib/systemd/user/",
    b"/lib/systemd/user/",
    b"/etc/xdg/systemd/user/",
];

/// Where a user's own units live, relative to the home (leading and trailing slash: matched as a part
/// of a path, wherever the home is).
pub const HOME_SYSTEMD_UNIT_DIRS: &[&[u8]] =
    &[b"/.config/systemd/user/", b"/.local/share/systemd/user/"];

/// A user's XDG autostart directory, relative to the home: its `.desktop` entries run at every graphical
/// login.
pub const HOME_AUTOSTART_DIR: &[u8] = b".config/autostart";

/// Whether `path` is an XDG autostart entry of a home (`~/.config/autostart/x.desktop`), wherever the home
/// is.
pub fn is_home_autostart(path: &[u8]) -> bool {
    let Some((dir, name)) = path
        .iter()
        .rposition(|b| *b == b'/')
        .and_then(|i| Some((path.get(..i)?, path.get(i + 1..)?)))
    else {
        return false;
    };
    dir.strip_suffix(HOME_AUTOSTART_DIR)
        .is_some_and(|head| head.ends_with(b"/"))
        && name.len() > b".desktop".len()
        && name.ends_with(b".desktop")
}

/// What runs the lines of the files at a persistence location, and so how the analyzer reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `/etc/crontab`, `/etc/cron.d/*`: crontabs with a user field.
    SystemCrontab,
    /// `/etc/anacrontab`: period, delay, id, command.
    Anacrontab,
    /// A user's spool crontab, named after its account.
    UserCrontab,
    /// Scripts `run-parts` runs from `/etc/cron.{hourly,daily,weekly,monthly,yearly}`.
    CronScript,
    /// `at` jobs waiting in the spool.
    AtJob,
    /// Shell that init runs at boot: `rc.local`, init scripts, `rc?.d` links, `boot.local`.
    RcScript,
    /// `/etc/inittab`: the process field of each entry.
    Inittab,
    /// `/etc/ld.so.preload`: libraries the loader maps into every program.
    LoaderPreload,
    /// `/etc/modules`, `modules-load.d/*.conf`: kernel modules loaded at boot, one name a line.
    ModulesLoad,
    /// `modprobe.d/*.conf`: an `install MODULE COMMAND` line runs a command when the module loads.
    Modprobe,
    /// udev `rules.d/*.rules`: `RUN+=` programs run on device events.
    UdevRules,
    /// `/etc/sudoers`, `/etc/sudoers.d/*`: who may run what as whom.
    Sudoers,
    /// `update-motd.d`: scripts `pam_motd` runs (`run-parts`, as root) at every interactive login.
    LoginMessage,
    /// `apt.conf.d`: the commands of `DPkg::Pre-Invoke`/`Post-Invoke`, `DPkg::Pre-Install-Pkgs`,
    /// `APT::Update::Pre-Invoke`/`Post-Invoke(-Success)` and APT's CLI hooks, run as root by apt and dpkg.
    PackageHook,
    /// initramfs-tools hooks (run by `update-initramfs` at every kernel or package update) and boot scripts
    /// (copied into the initramfs, run before the root file system is mounted).
    InitramfsHook,
    /// Network event hooks: ifupdown's `if-*.d` scripts and NetworkManager's dispatcher scripts, run as
    /// root whenever an interface changes state.
    NetworkHook,
    /// XDG autostart `.desktop` entries: their `Exec=` runs at every graphical login.
    Autostart,
}

/// A file, or a directory whose files a mechanism reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistenceLocation {
    /// Absolute, without a trailing slash.
    pub path: &'static [u8],
    pub mechanism: Mechanism,
    /// 0 for a single file; otherwise how deep below the directory the mechanism reads (1: its own
    /// entries; 2: also the entries of its subdirectories, as in `/etc/rc.d/rc3.d/S10x`).
    pub depth: u32,
    /// The file-name ending the mechanism reads in a directory (`.rules`, `.conf`); empty: every name.
    pub suffix: &'static [u8],
    /// Whether the mechanism skips names starting with a dot (at's `.SEQ`).
    pub skips_hidden: bool,
}

const fn dir(
    path: &'static [u8],
    mechanism: Mechanism,
    depth: u32,
    suffix: &'static [u8],
) -> PersistenceLocation {
    PersistenceLocation {
        path,
        mechanism,
        depth,
        suffix,
        skips_hidden: false,
    }
}

const fn file(path: &'static [u8], mechanism: Mechanism) -> PersistenceLocation {
    dir(path, mechanism, 0, b"")
}

/// A spool of queued jobs, whose dot files are the queue's own bookkeeping (at's `.SEQ`).
const fn spool(path: &'static [u8], mechanism: Mechanism) -> PersistenceLocation {
    let mut place = dir(path, mechanism, 1, b"");
    place.skips_hidden = true;
    place
}

/// Where cron, at, init, the loader, the kernel-module loader, udev, sudo, `pam_motd`, apt, initramfs-tools,
/// the network hooks and the XDG session read the lines they run:
/// the collector walks exactly these (systemd units and shell start-up files are listed apart, above) and
/// the analyzer's model reads a captured file as persistence when this table places it. Vendor
/// directories (`/usr/lib`, `/lib`) are in: a rule or hook dropped there runs as surely as one in `/etc`.
pub const PERSISTENCE_LOCATIONS: &[PersistenceLocation] = &[
    file(b"/etc/crontab", Mechanism::SystemCrontab),
    dir(b"/etc/cron.d", Mechanism::SystemCrontab, 1, b""),
    file(b"/etc/anacrontab", Mechanism::Anacrontab),
    // Debian's spool, SUSE's, and Red Hat's (the spool directory itself).
    dir(b"/var/spool/cron/crontabs", Mechanism::UserCrontab, 1, b""),
    dir(b"/var/spool/cron/tabs", Mechanism::UserCrontab, 1, b""),
    dir(b"/var/spool/cron", Mechanism::UserCrontab, 1, b""),
    dir(b"/etc/cron.hourly", Mechanism::CronScript, 1, b""),
    dir(b"/etc/cron.daily", Mechanism::CronScript, 1, b""),
    dir(b"/etc/cron.weekly", Mechanism::CronScript, 1, b""),
    dir(b"/etc/cron.monthly", Mechanism::CronScript, 1, b""),
    dir(b"/etc/cron.yearly", Mechanism::CronScript, 1, b""),
    // Debian's at spool, the BSD/older layout, SUSE's.
    spool(b"/var/spool/cron/atjobs", Mechanism::AtJob),
    spool(b"/var/spool/at", Mechanism::AtJob),
    spool(b"/var/spool/atjobs", Mechanism::AtJob),
    file(b"/etc/rc.local", Mechanism::RcScript),
    file(b"/etc/boot.local", Mechanism::RcScript),
    // Shell sourced by BSD-style init systems (OpenRC, Arch's initscripts).
    file(b"/etc/rc.conf", Mechanism::RcScript),
    file(b"/etc/inittab", Mechanism::Inittab),
    dir(b"/etc/init.d", Mechanism::RcScript, 1, b""),
    // Red Hat's: rc.local, init.d/, rc?.d/ links, boot.local.
    dir(b"/etc/rc.d", Mechanism::RcScript, 2, b""),
    dir(b"/etc/rc0.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rc1.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rc2.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rc3.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rc4.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rc5.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rc6.d", Mechanism::RcScript, 1, b""),
    dir(b"/etc/rcS.d", Mechanism::RcScript, 1, b""),
    file(b"/etc/ld.so.preload", Mechanism::LoaderPreload),
    file(b"/etc/modules", Mechanism::ModulesLoad),
    dir(b"/etc/modules-load.d", Mechanism::ModulesLoad, 1, b".conf"),
    dir(b"/run/modules-load.d", Mechanism::ModulesLoad, 1, b".conf"),
    dir(
        b"/usr/local/lib/modules-load.d",
        Mechanism::ModulesLoad,
        1,
        b".conf",
    ),
    dir(
        b"/usr/lib/modules-load.d",
        Mechanism::ModulesLoad,
        1,
        b".conf",
    ),
    dir(b"/lib/modules-load.d", Mechanism::ModulesLoad, 1, b".conf"),
    dir(b"/etc/modprobe.d", Mechanism::Modprobe, 1, b".conf"),
    dir(b"/run/modprobe.d", Mechanism::Modprobe, 1, b".conf"),
    dir(
        b"/usr/local/lib/modprobe.d",
        Mechanism::Modprobe,
        1,
        b".conf",
    ),
    dir(b"/usr/lib/modprobe.d", Mechanism::Modprobe, 1, b".conf"),
    dir(b"/lib/modprobe.d", Mechanism::Modprobe, 1, b".conf"),
    dir(b"/etc/udev/rules.d", Mechanism::UdevRules, 1, b".rules"),
    dir(b"/run/udev/rules.d", Mechanism::UdevRules, 1, b".rules"),
    dir(
        b"/usr/local/lib/udev/rules.d",
        Mechanism::UdevRules,
        1,
        b".rules",
    ),
    dir(b"/usr/lib/udev/rules.d", Mechanism::UdevRules, 1, b".rules"),
    dir(b"/lib/udev/rules.d", Mechanism::UdevRules, 1, b".rules"),
    file(b"/etc/sudoers", Mechanism::Sudoers),
    dir(b"/etc/sudoers.d", Mechanism::Sudoers, 1, b""),
    dir(b"/etc/update-motd.d", Mechanism::LoginMessage, 1, b""),
    dir(b"/etc/apt/apt.conf.d", Mechanism::PackageHook, 1, b""),
    dir(
        b"/etc/initramfs-tools/hooks",
        Mechanism::InitramfsHook,
        1,
        b"",
    ),
    // `scripts/init-top/x`, `scripts/local-premount/x`, ...
    dir(
        b"/etc/initramfs-tools/scripts",
        Mechanism::InitramfsHook,
        2,
        b"",
    ),
    dir(b"/etc/network/if-up.d", Mechanism::NetworkHook, 1, b""),
    dir(b"/etc/network/if-pre-up.d", Mechanism::NetworkHook, 1, b""),
    dir(b"/etc/network/if-down.d", Mechanism::NetworkHook, 1, b""),
    dir(
        b"/etc/network/if-post-down.d",
        Mechanism::NetworkHook,
        1,
        b"",
    ),
    // Its own scripts and those of `pre-up.d/`, `pre-down.d/`, `no-wait.d/`.
    dir(
        b"/etc/NetworkManager/dispatcher.d",
        Mechanism::NetworkHook,
        2,
        b"",
    ),
    dir(b"/etc/xdg/autostart", Mechanism::Autostart, 1, b".desktop"),
];

impl PersistenceLocation {
    /// Whether the mechanism reads `path` from this location.
    pub fn holds(&self, path: &[u8]) -> bool {
        if self.depth == 0 {
            return path == self.path;
        }
        let Some(rest) = path
            .strip_prefix(self.path)
            .and_then(|r| r.strip_prefix(b"/"))
        else {
            return false;
        };
        let name = rest.rsplit(|b| *b == b'/').next().unwrap_or_default();
        let depth = rest.iter().filter(|b| **b == b'/').count() + 1;
        !name.is_empty()
            && depth <= self.depth as usize
            && name.ends_with(self.suffix)
            && !(self.skips_hidden && name.starts_with(b"."))
    }
}

/// Where package managers read hooks of their own, run as root at every package operation (a reinstall
/// included), as host path patterns (`*`, `?`, `[...]` in a component) with the depth of files stored
/// below each (0: the pattern names files): dpkg's `pre-invoke`, `post-invoke` and `status-logger`
/// options; dnf's and yum's main configuration (`pluginpath=`, `include=`), plugin configuration,
/// plugin modules and the post-transaction-actions plugins' action files; rpm's macro files, which
/// name the plugins rpm loads and may expand shell or Lua; Python's start-up hooks in dnf's and yum's
/// interpreter (`*.pth` import lines, `sitecustomize`, `usercustomize`). The collector stores them
/// within the configuration caps, for the analyst (no reader of their lines yet); `remediate.sh`
/// checks the live host's before a reinstall (`mt_dpkg_hooks_ok`, `mt_rpm_hooks_ok`: a test checks
/// that every place it reads is here).
pub const PACKAGE_MANAGER_HOOK_PLACES: &[(&[u8], u32)] = &[
    (b"/etc/dpkg/dpkg.cfg", 0),
    (b"/etc/dpkg/dpkg.cfg.d", 1),
    (b"/root/.dpkg.cfg", 0),
    (b"/etc/dnf/dnf.conf", 0),
    (b"/etc/dnf/plugins", 2),
    (b"/etc/dnf/libdnf5-plugins", 2),
    (b"/etc/yum.conf", 0),
    (b"/etc/yum", 2),
    (b"/usr/lib/python[23]*/site-packages/dnf-plugins", 2),
    (b"/usr/lib64/python[23]*/site-packages/dnf-plugins", 2),
    (b"/usr/lib/libdnf5/plugins", 1),
    (b"/usr/lib64/libdnf5/plugins", 1),
    (b"/usr/lib/yum-plugins", 1),
    (b"/usr/share/yum-plugins", 1),
    (b"/etc/rpm", 2),
    (b"/usr/lib/rpm/macros.d", 1),
    (b"/root/.rpmmacros", 0),
    (b"/root/.config/rpm", 1),
    (b"/usr/lib/python[23]*/site-packages/*.pth", 0),
    (b"/usr/lib64/python[23]*/site-packages/*.pth", 0),
    (b"/usr/local/lib/python[23]*/site-packages/*.pth", 0),
    (b"/usr/local/lib64/python[23]*/site-packages/*.pth", 0),
    (b"/usr/lib/python[23]*/site-packages/*customize.py", 0),
    (
        b"/usr/lib/python[23]*/site-packages/__pycache__/*customize.*",
        0,
    ),
    (b"/usr/lib64/python[23]*/site-packages/*customize.py", 0),
    (
        b"/usr/lib64/python[23]*/site-packages/__pycache__/*customize.*",
        0,
    ),
    (b"/usr/local/lib/python[23]*/site-packages/*customize.py", 0),
    (
        b"/usr/local/lib/python[23]*/site-packages/__pycache__/*customize.*",
        0,
    ),
    (
        b"/usr/local/lib64/python[23]*/site-packages/*customize.py",
        0,
    ),
    (
        b"/usr/local/lib64/python[23]*/site-packages/__pycache__/*customize.*",
        0,
    ),
    (b"/usr/lib64/python[23]*/*customize.py", 0),
    (b"/usr/lib64/python[23]*/__pycache__/*customize.*", 0),
];

/// Whether a remediation may edit the file at `path` line by line: any persistence location (the table,
/// systemd unit directories, shell start-up files, XDG autostart entries, the cron and spool trees) or an
/// `authorized_keys` file. The collector records the directory of each such file with its lock flags,
/// because rewriting the file clears that lock and the script sets again only a lock the snapshot saw
/// (review of train 1, item 13: one predicate, not a list of the collector's families).
pub fn may_be_edited_in_place(path: &[u8]) -> bool {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    persistence_location(path).is_some()
        || is_shell_startup(path)
        || is_home_autostart(path)
        || SYSTEMD_UNIT_DIRS.iter().any(|d| path.starts_with(d))
        || HOME_SYSTEMD_UNIT_DIRS
            .iter()
            .any(|d| path.windows(d.len()).any(|w| w == *d))
        || path.starts_with(b"/etc/cron")
        || path.starts_with(b"/var/spool/")
        || (name.starts_with(b"authorized_keys") && !name.ends_with(b".pub"))
        || directly_in(&[PAM_CONFIG_DIR], path)
}

/// The libraries an `LD_PRELOAD` value names, split as the dynamic loader splits it (ld.so(8): "separated
/// by spaces or colons"; glibc's `handle_preload_list` cuts at `" :"` only, so a tab or newline is part of
/// a name), empty items dropped, no comments. The one splitter of that value: the collector hands these to
/// the package check, the analyzer judges them.
pub fn ld_preload_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| matches!(b, b':' | b' '))
        .filter(|item| !item.is_empty())
}

/// The locations of some mechanisms, in table order.
pub fn persistence_locations_of(
    mechanisms: &'static [Mechanism],
) -> impl Iterator<Item = &'static PersistenceLocation> {
    PERSISTENCE_LOCATIONS
        .iter()
        .filter(move |l| mechanisms.contains(&l.mechanism))
}

/// The persistence location a mechanism reads `path` from (the most specific one: a Debian spool under
/// `/var/spool/cron/crontabs` rather than Red Hat's `/var/spool/cron`), or `None`. A directory of the
/// table is never a file of another (`/var/spool/cron/crontabs` is not a crontab named `crontabs`).
pub fn persistence_location(path: &[u8]) -> Option<&'static PersistenceLocation> {
    if PERSISTENCE_LOCATIONS
        .iter()
        .any(|l| l.depth > 0 && l.path == path)
    {
        return None;
    }
    PERSISTENCE_LOCATIONS
        .iter()
        .filter(|l| l.holds(path))
        .max_by_key(|l| l.path.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ld_preload_values_split_as_the_loader_splits_them() {
        // Review of train 2, item 11: glibc cuts at spaces and colons only; a tab is part of a name.
        let items: Vec<&[u8]> =
            ld_preload_list(b" /usr/lib/a.so:/opt/x\t/lib/h.so #c.so  /lib/d.so::libe.so")
                .collect();
        assert_eq!(
            items,
            vec![
                &b"/usr/lib/a.so"[..],
                b"/opt/x\t/lib/h.so",
                b"#c.so",
                b"/lib/d.so",
                b"libe.so"
            ]
        );
    }

    #[test]
    fn directly_in_and_below_a_listed_directory() {
        assert!(directly_in(SYSTEM_BIN_DIRS, b"/usr/bin/ps"));
        assert!(!directly_in(SYSTEM_BIN_DIRS, b"/usr/bin/x/ps"));
        assert!(!directly_in(SYSTEM_BIN_DIRS, b"/usr/bin/"));
        assert!(!directly_in(SYSTEM_BIN_DIRS, b"/usr/binx/ps"));
        assert!(below(JOURNAL_DIRS, b"/var/log/journal/m/system.journal"));
        assert!(!below(JOURNAL_DIRS, b"/var/log/journalx/system.journal"));
        assert!(!below(JOURNAL_DIRS, b"/var/log/journal"));
    }

    #[test]
    fn pam_module_directories() {
        assert!(is_pam_module_dir_file(
            b"/usr/lib/x86_64-linux-gnu/security/pam_unix.so"
        ));
        assert!(is_pam_module_dir_file(b"/lib64/security/pam_duo.so"));
        assert!(is_pam_module_dir_file(b"/lib/security/pam_x.so"));
        assert!(!is_pam_module_dir_file(b"/usr/local/lib/security/pam_x.so"));
        assert!(!is_pam_module_dir_file(b"/usr/lib/a/b/security/pam_x.so"));
        assert!(!is_pam_module_dir_file(b"/tmp/security/pam_x.so"));
        assert!(!is_pam_module_dir_file(b"/lib/security/"));
    }

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

    #[test]
    fn home_autostart_entries() {
        assert!(is_home_autostart(b"/home/u/.config/autostart/x.desktop"));
        assert!(is_home_autostart(b"/root/.config/autostart/.x.desktop"));
        assert!(!is_home_autostart(b"/home/u/.config/autostart/x.sh"));
        assert!(!is_home_autostart(b"/home/u/.config/autostart/d/x.desktop"));
        assert!(!is_home_autostart(b"/home/u/.config/autostartx/x.desktop"));
    }

    #[test]
    fn files_edited_in_place() {
        for p in [
            &b"/etc/crontab"[..],
            b"/var/spool/cron/crontabs/root",
            b"/etc/ld.so.preload",
            b"/root/.bashrc",
            b"/home/a/.ssh/authorized_keys2",
            b"/etc/systemd/system/x.service",
            b"/home/a/.config/systemd/user/x.service",
            b"/home/a/.config/autostart/x.desktop",
            b"/etc/rc.local",
            b"/etc/pam.d/common-auth",
        ] {
            assert!(may_be_edited_in_place(p), "{}", String::from_utf8_lossy(p));
        }
        for p in [
            &b"/var/log/auth.log"[..],
            b"/var/www/html/index.php",
            b"/home/a/.ssh/id_rsa.pub",
            b"/home/a/.ssh/authorized_keys.pub",
        ] {
            assert!(!may_be_edited_in_place(p), "{}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn persistence_locations() {
        let m = |p: &[u8]| persistence_location(p).map(|l| l.mechanism);
        assert_eq!(m(b"/etc/crontab"), Some(Mechanism::SystemCrontab));
        assert_eq!(m(b"/etc/cron.d/php"), Some(Mechanism::SystemCrontab));
        assert_eq!(
            m(b"/var/spool/cron/crontabs/redis"),
            Some(Mechanism::UserCrontab)
        );
        assert_eq!(m(b"/var/spool/cron/root"), Some(Mechanism::UserCrontab));
        assert_eq!(m(b"/var/spool/cron/crontabs"), None);
        assert_eq!(m(b"/var/spool/cron/atjobs/a0001"), Some(Mechanism::AtJob));
        assert_eq!(m(b"/var/spool/cron/atjobs/.SEQ"), None);
        assert_eq!(m(b"/var/spool/at/spool/a0001"), None);
        assert_eq!(m(b"/var/spool/atjobs/a0001"), Some(Mechanism::AtJob));
        assert_eq!(m(b"/etc/rc.d/rc3.d/S10x"), Some(Mechanism::RcScript));
        assert_eq!(m(b"/etc/rc.d/rc3.d/sub/S10x"), None);
        assert_eq!(m(b"/etc/rc2.d/S01x"), Some(Mechanism::RcScript));
        assert_eq!(m(b"/etc/rcX.d/S01x"), None);
        assert_eq!(m(b"/etc/inittab"), Some(Mechanism::Inittab));
        assert_eq!(
            m(b"/usr/lib/udev/rules.d/99-x.rules"),
            Some(Mechanism::UdevRules)
        );
        assert_eq!(m(b"/etc/udev/rules.d/README"), None);
        assert_eq!(m(b"/lib/modprobe.d/x.conf"), Some(Mechanism::Modprobe));
        assert_eq!(m(b"/run/modprobe.d/x.conf"), Some(Mechanism::Modprobe));
        assert_eq!(
            m(b"/usr/local/lib/modules-load.d/x.conf"),
            Some(Mechanism::ModulesLoad)
        );
        assert_eq!(m(b"/etc/modules"), Some(Mechanism::ModulesLoad));
        assert_eq!(m(b"/etc/modules-load.d/x.txt"), None);
        assert_eq!(m(b"/etc/ld.so.preload"), Some(Mechanism::LoaderPreload));
        assert_eq!(m(b"/etc/sudoers.d/x"), Some(Mechanism::Sudoers));
        assert_eq!(m(b"/etc/sudoers.dx"), None);
        assert_eq!(m(b"/etc/passwd"), None);
        assert_eq!(
            m(b"/etc/update-motd.d/50-motd-news"),
            Some(Mechanism::LoginMessage)
        );
        assert_eq!(
            m(b"/etc/apt/apt.conf.d/70debconf"),
            Some(Mechanism::PackageHook)
        );
        assert_eq!(
            m(b"/etc/initramfs-tools/scripts/init-top/x"),
            Some(Mechanism::InitramfsHook)
        );
        assert_eq!(
            m(b"/etc/NetworkManager/dispatcher.d/pre-up.d/x"),
            Some(Mechanism::NetworkHook)
        );
        assert_eq!(
            m(b"/etc/xdg/autostart/x.desktop"),
            Some(Mechanism::Autostart)
        );
        assert_eq!(m(b"/etc/xdg/autostart/README"), None);
        // Every directory is absolute and unique, without a trailing slash.
        for (i, l) in PERSISTENCE_LOCATIONS.iter().enumerate() {
            assert!(l.path.starts_with(b"/") && !l.path.ends_with(b"/"));
            assert!(PERSISTENCE_LOCATIONS
                .iter()
                .skip(i + 1)
                .all(|o| o.path != l.path));
        }
    }
}
