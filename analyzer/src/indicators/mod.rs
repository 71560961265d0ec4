//! Indicator lists: pool domains and ports, miner names and flags, family markers, known-bad key comments,
//! the directories that make up the path classes.
//!
//! They are data, not code: the defaults are text files embedded at build time (`indicators/*.txt`, one
//! `kind value...` line each, `#` comments), and `--iocs FILE` adds lines in the same format at run time.
//! Every kind is a [`Kind`] variant with the form its values must have; a line with an unknown kind or a
//! malformed value is refused with `file:line` and the reason, so a typo never silently disables a rule.
//! A new kind of indicator is a new [`Kind`] variant (name, value form, doc) plus the code that reads it.
//! The directory kinds feed one table, [`PathClasses`], that every stage asks about paths.

pub mod paths;
pub mod services;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use anyhow::{Context, Result};

use crate::detect::runtime::miner_binary::Matcher;

pub use paths::{PathClass, PathClasses};
pub use services::{Service, ServiceClass, ServiceMarkerKind, ServiceTable};

/// The embedded defaults, one file per concern.
const DEFAULTS: &[(&str, &str)] = &[
    ("pools.txt", include_str!("pools.txt")),
    ("miners.txt", include_str!("miners.txt")),
    ("families.txt", include_str!("families.txt")),
    ("ssh.txt", include_str!("ssh.txt")),
    ("system.txt", include_str!("system.txt")),
    ("footholds.txt", include_str!("footholds.txt")),
    ("runtime.txt", include_str!("runtime.txt")),
    ("services.txt", include_str!("services.txt")),
];

/// The form a value of a kind must have; anything else is refused when the file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A TCP/UDP port, 1-65535.
    Port,
    /// A domain or domain suffix: letters, digits, `-` and `.`, with at least one `.`.
    Domain,
    /// A directory prefix: absolute and ending in `/`.
    DirPrefix,
    /// One word (no whitespace): a program, account, module or file name, an algorithm.
    Word,
    /// An IPv4 or IPv6 network `ADDR/LEN`.
    Cidr,
    /// Any non-empty text, matched as a substring.
    Text,
    /// A path pattern: an absolute path, matched whole; a `*` at the end matches any rest (a prefix),
    /// a `*` at the start any beginning (`*/.ssh/*`: a `.ssh` directory wherever it is). No `*`
    /// elsewhere, no whitespace.
    PathPattern,
    /// A program and one of its options, two words: `nmap --exclude`. Per program, because one letter
    /// means different things to different programs (`-b` is nmap's FTP relay, zmap's blocklist file).
    ProgramOption,
    /// A program, alone or with one word an argument of it must contain for the use to count
    /// (`openssl s_client`, `awk /inet`), or `!WORD` its first argument must not be (`kill !-0`): a tool
    /// that reaches the network or changes the host in some of its uses only (`openssl x509`,
    /// `awk '{print $5}'` and `kill -0 PID` do neither).
    ProgramUse,
}

macro_rules! kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $form:ident;)*) => {
        /// A kind of indicator: the first word of a line in an indicator file.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The name used in indicator files.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }

            fn form(self) -> Form {
                match self {
                    $(Kind::$variant => Form::$form,)*
                }
            }
        }
    };
}

kinds! {
    /// Stratum ports pools listen on.
    PoolPort = "pool_port", Port;
    /// Pool domain suffixes.
    PoolDomain = "pool_domain", Domain;
    /// Miner program names.
    MinerName = "miner_name", Word;
    /// Command-line substrings only miners use.
    MinerFlag = "miner_flag", Text;
    /// Strings inside miner binaries and configurations.
    MinerString = "miner_string", Text;
    /// Symbol-name substrings of mining code.
    MinerSymbol = "miner_symbol", Text;
    /// `-a`/`--algo` values naming a mining algorithm.
    MinerAlgo = "miner_algo", Word;
    /// File names miners read their pools and wallet from.
    MinerConfigName = "miner_config_name", Word;
    /// Options miners take their pool endpoint from (`-o`, `--url`, lolMiner's and SRBMiner's `--pool`,
    /// PhoenixMiner's `-pool`, GMiner's `--server`).
    MinerPoolOption = "miner_pool_option", Word;
    /// Options miners take their algorithm or coin from (`-a`, `--algo`, PhoenixMiner's `-coin`).
    MinerAlgoOption = "miner_algo_option", Word;
    /// Options miners take the paid account from (`-u`, `--user`, PhoenixMiner's `-wal`): a wallet, often
    /// with `.WORKER` after it.
    MinerAccountOption = "miner_account_option", Word;
    /// Comments of attacker SSH keys.
    BadKeyComment = "bad_key_comment", Text;
    /// Accounts of network services.
    ServiceAccount = "service_account", Word;
    /// Children of a service that mean code execution.
    ShellOrDownloader = "shell_or_downloader", Word;
    /// System binaries miners replace or rename.
    ReplacedTarget = "replaced_target", Word;
    /// Local proxies miners tunnel through.
    ProxyTool = "proxy_tool", Word;
    /// Substrings of an `LD_PRELOAD` value that route a program through a proxy.
    ProxyPreload = "proxy_preload", Text;
    /// Address ranges of security agents' consoles.
    AgentRange = "agent_range", Cidr;
    /// Substrings of lines that uninstall or stop security agents.
    AgentTamper = "agent_tamper", Text;
    /// Package-managed program directories (path class `system`).
    SystemDir = "system_dir", DirPrefix;
    /// World-writable scratch directories (path class `temp`).
    TempDir = "temp_dir", DirPrefix;
    /// RAM-backed shared memory (path class `shm`).
    ShmDir = "shm_dir", DirPrefix;
    /// Configuration, log and spool directories that never hold running programs (path class `nonexec`).
    NonexecDir = "nonexec_dir", DirPrefix;
    /// Account home directories (path class `home`; `~/` always counts).
    HomeDir = "home_dir", DirPrefix;
    /// Directories web servers serve from (path class `web_root`), besides the built-in ones the
    /// collector walks (`schemas/src/locations.rs` `WEB_ROOTS`); a `*` stands for any characters inside
    /// one path component (`/var/lib/jetty*/webapps/`).
    WebRoot = "web_root", DirPrefix;
    /// Kernel pseudo filesystems (`/proc/`, `/sys/`, `/dev/`): named by scripts, never payloads (path
    /// class `pseudo`).
    PseudoDir = "pseudo_dir", DirPrefix;
    /// Directories whose files record what happened (logs, journals, audit): the remediation copies
    /// them and never modifies or removes them (path class `evidence`).
    EvidenceDir = "evidence_dir", DirPrefix;
    /// Directories package managers install into (path class `package`): a flagged file there is
    /// reinstalled from its package, never deleted, and a link there is never removed. Narrower than
    /// `system_dir`: `/usr/local/` and `/opt/` hold programs no package manager owns.
    PackageDir = "package_dir", DirPrefix;
    /// Files that hold other people's lines besides any an attacker added, outside the persistence
    /// locations (which say it themselves): an absolute path, or a file name wherever it is
    /// (`authorized_keys`). The remediation removes flagged lines from them, never the file.
    SharedFile = "shared_file", Text;
    /// File names that are evidence wherever they are, with their rotations (`NAME.1`, `NAME-2025...`):
    /// web server logs kept beside an application, login records, tool histories.
    EvidenceName = "evidence_name", Word;
    /// Files admins create by documented convention inside package-managed directories, which no
    /// package owns (Debian's `/usr/sbin/policy-rc.d`, the `invoke-rc.d` policy hook).
    AdminFile = "admin_file", Text;
    /// Hidden directories of a home that are where users' programs live by convention (`.local/bin/`,
    /// `.cargo/bin/`): relative to the home; a path below one is not hidden for that directory's dot.
    HomeProgramDir = "home_program_dir", Text;
    /// Hidden directories many programs share inside a home or a temp directory (`.config/`,
    /// `.X11-unix/`), relative to it: never an intrusion's own kit directory (one below may be).
    SharedDir = "shared_dir", Text;
    /// Kernel thread name prefixes.
    KthreadName = "kthread_name", Word;
    /// Names of system daemons and tools.
    SystemName = "system_name", Word;
    /// Programs that legitimately burn CPU (besides build tools).
    CpuHeavyTool = "cpu_heavy_tool", Word;
    /// Compilers, linkers and build drivers: what they start runs from temp directories by design.
    BuildTool = "build_tool", Word;
    /// IRC server ports.
    IrcPort = "irc_port", Port;
    /// Programs that talk IRC for a living.
    IrcClient = "irc_client", Word;
    /// Ports miners use to blend in with web traffic.
    WebPort = "web_port", Port;
    /// memfd names legitimate software executes from.
    MemfdBenign = "memfd_benign", Word;
    /// Libraries operators preload on purpose.
    PreloadBenign = "preload_benign", Text;
    /// Substrings of preloaded libraries that hide processes or files.
    PreloadBad = "preload_bad", Text;
    /// Kernel module names of miner rootkits.
    RootkitModule = "rootkit_module", Word;
    /// Out-of-tree modules of well-known vendors.
    VendorModule = "vendor_module", Word;
    /// Generic language runtimes.
    Interpreter = "interpreter", Word;
    /// Prefixes of the OS's own systemd unit names (`systemd-`, `ssh`, `NetworkManager`): a unit so
    /// named in `/etc/systemd/` that runs no system program imitates one (`MT-PER-010`). Case kept.
    SystemUnitPrefix = "system_unit_prefix", Word;
    /// Settings a service made from a template carries besides its commands (description, ordering,
    /// restart policy, account, niceness, install target). Only a tie-break of the remediation planner
    /// for a unit born before the intrusion window whose every command is flagged: holding any other
    /// setting, it is the host's unit with its start line rewritten, not a kit's. Case kept (systemd
    /// keys are).
    UnitTemplateSetting = "unit_template_setting", Word;
    /// Programs a service template runs besides its start command (`ExecReload=/bin/kill -HUP
    /// $MAINPID`, `ExecStartPre=/bin/sleep 10`): they say nothing about whose unit it is. Case kept.
    UnitBoilerplateProgram = "unit_boilerplate_program", Word;
    /// Ports of the services intrusions come through (Redis, the Docker API): an `INPUT` rule dropping
    /// one is what miners leave to keep rivals out (`MT-EVA-040`).
    ClosedPort = "closed_port", Port;
    /// Groups whose members may use sudo: a service account in one has a way to root (`MT-ACC-002`).
    /// Case kept.
    AdminGroup = "admin_group", Word;
    /// Files that decide who gets in and with what rights (SSH configuration and keys, the account
    /// databases, sudoers): one locked with chattr keeps a way in (`MT-EVA-001`). Path patterns, case
    /// kept.
    AccessFile = "access_file", PathPattern;
    /// Functions a web shell passes request input to, as called (`eval`, `system`,
    /// `runtime.getruntime().exec`): code and command sinks (`MT-PER-070`).
    WebshellSink = "webshell_sink", Word;
    /// How a server-side script reads what a request sends, per language (`$_get`, `request.getparameter`,
    /// Flask's `request.args`, CGI.pm's `param(`): lowercase substrings of a statement; one ending in `(`
    /// is a call (`bind_param(` is not `param(`). Passed to a `webshell_sink` on the same statement, a web
    /// shell (`MT-PER-070`).
    WebshellInput = "webshell_input", Text;
    /// Network scanners: judged by what they scan (the internet, or the host's own networks) when typed
    /// in a shell history (`MT-LAT-001`). Program names, case kept (as for the next two kinds).
    ScanTool = "scan_tool", Word;
    /// Password guessers for network logins: no admin's routine.
    BruteTool = "brute_tool", Word;
    /// Clients that log in to or copy to another host over SSH.
    SshClient = "ssh_client", Word;
    /// A scanner's options whose value is no target (a resolver, a source or decoy address, an excluded
    /// range, a proxy or relay, an interface or gateway), as `SCANNER OPTION`: the word after one is not
    /// read as a target of the scan (`MT-LAT-001`). Case kept.
    ScanNonTargetOption = "scan_non_target_option", ProgramOption;
    /// Environment variables a CI executor sets for the job it runs (never in its own environment).
    CiJobEnv = "ci_job_env", Word;
    /// Programs an intruder runs first through a web shell or an exploited service to learn who and where
    /// it is (`id`, `uname`, `whoami`).
    ReconCommand = "recon_command", Word;
    /// Files read for the same purpose (`/etc/passwd`, `/proc/cpuinfo`), as absolute paths.
    ReconFile = "recon_file", Word;
    /// Programs that open or serve network connections by themselves, besides the downloaders
    /// (`shell_or_downloader`), proxies (`proxy_tool`) and SSH clients (`ssh_client`): `openssl s_client`,
    /// `telnet`, gawk's `/inet/tcp`. In a web server's shell they are a reverse shell or a tunnel, never an
    /// application's shell-out (`MT-RUN-036`). Program names, case kept.
    NetworkTool = "network_tool", ProgramUse;
    /// Programs that change the host — its schedules, accounts, file locks, processes, firewall, services
    /// or kernel (`crontab`, `useradd`, `chattr`, `pkill`, `iptables`, `systemctl`, `insmod`): what an
    /// intruder runs through a web shell to stay and clear the way, never an application's shell-out
    /// (`MT-RUN-036`). Program names, case kept.
    HostChangingTool = "host_changing_tool", ProgramUse;
}

impl Kind {
    /// The kind named `name` in an indicator file.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Whether values of this kind are kept and matched as written: names the system compares
    /// case-sensitively (unit names, group and program names, paths) where `ssh` is not `SSH`. Every
    /// other kind is lowercase and matched in any case.
    fn keeps_case(self) -> bool {
        matches!(
            self,
            Kind::SystemUnitPrefix
                | Kind::UnitTemplateSetting
                | Kind::UnitBoilerplateProgram
                | Kind::ScanTool
                | Kind::BruteTool
                | Kind::SshClient
                | Kind::ScanNonTargetOption
                | Kind::AdminGroup
                | Kind::AccessFile
                | Kind::NetworkTool
                | Kind::HostChangingTool
        )
    }
}

/// Whether `path` matches a [`Form::PathPattern`] value: whole, or by its prefix (`/etc/sudoers*`), its
/// suffix (`*/.ssh`) or a part (`*/.ssh/*`).
fn path_pattern_matches(pattern: &str, path: &[u8]) -> bool {
    let (any_start, rest) = match pattern.strip_prefix('*') {
        Some(r) => (true, r),
        None => (false, pattern),
    };
    let (any_end, literal) = match rest.strip_suffix('*') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let lit = literal.as_bytes();
    match (any_start, any_end) {
        (false, false) => path == lit,
        (false, true) => path.starts_with(lit),
        (true, false) => path.ends_with(lit),
        (true, true) => crate::parse::contains(path, lit),
    }
}

/// What a family marker is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkerKind {
    /// A path, exact or a prefix when it ends in `/` (see `detect::markers::path_marker_matches`).
    Path,
    /// A process or file basename (see `detect::markers::name_marker_matches`).
    Name,
    /// A substring of a cron line.
    Cron,
    /// An SSH key comment (substring, case-insensitive).
    KeyComment,
    /// A systemd unit file name.
    Unit,
    /// A file's sha256 (lowercase hex).
    Hash,
    /// An `ld.so.preload` entry.
    Preload,
}

impl MarkerKind {
    pub const ALL: &'static [MarkerKind] = &[
        MarkerKind::Path,
        MarkerKind::Name,
        MarkerKind::Cron,
        MarkerKind::KeyComment,
        MarkerKind::Unit,
        MarkerKind::Hash,
        MarkerKind::Preload,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Path => "path",
            MarkerKind::Name => "name",
            MarkerKind::Cron => "cron",
            MarkerKind::KeyComment => "key_comment",
            MarkerKind::Unit => "unit",
            MarkerKind::Hash => "hash",
            MarkerKind::Preload => "preload",
        }
    }

    pub fn from_name(name: &str) -> Option<MarkerKind> {
        MarkerKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Why `value` is not a marker of this kind, if it is not.
    fn refuse(self, value: &str) -> Option<String> {
        match self {
            MarkerKind::Path | MarkerKind::Preload if !value.starts_with('/') => {
                Some(format!("a {} marker is an absolute path", self.name()))
            }
            MarkerKind::Hash
                if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Some("a hash marker is a sha256 (64 hex digits)".into())
            }
            MarkerKind::Name | MarkerKind::Unit if value.contains(char::is_whitespace) => {
                Some(format!("a {} marker is one word", self.name()))
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for MarkerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `family NAME KIND VALUE [weak]`: what a campaign's artifacts are known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyMarker {
    pub family: String,
    pub kind: MarkerKind,
    pub value: String,
    /// The value is an ordinary word that ordinary software uses too (`bot.service`, `sysupdate`): it
    /// counts only together with a second property of the artifact it names
    /// (`detect::markers::second_property`), never alone.
    pub weak: bool,
}

/// Every indicator known to this run, by kind. Values are lowercase where matching is case-insensitive.
#[derive(Debug, Clone)]
pub struct Indicators {
    sets: BTreeMap<Kind, BTreeSet<String>>,
    /// Family markers: `family NAME KIND VALUE` lines, e.g. `family Kinsing path /etc/kinsing`.
    pub family_markers: Vec<FamilyMarker>,
    paths: PathClasses,
    /// `service NAME KIND VALUE` lines: what each network service is known by.
    services: ServiceTable,
    /// The `miner_string`/`miner_symbol` automaton, compiled on first use and kept with the values it
    /// is compiled from: the detectors that read processes, sockets and binaries share it instead of
    /// each compiling its own for every analysis.
    binary_matcher: OnceLock<Option<Matcher>>,
    /// One case-insensitive automaton per kind for [`Indicators::find_in`], compiled on first use: a
    /// line is read once instead of once per value (detectors ask it of every persisted line).
    finders: OnceLock<BTreeMap<Kind, AhoCorasick>>,
}

impl Default for Indicators {
    fn default() -> Indicators {
        let sets = BTreeMap::new();
        let paths = PathClasses::of_sets(&sets);
        Indicators {
            sets,
            family_markers: Vec::new(),
            paths,
            services: ServiceTable::default(),
            binary_matcher: OnceLock::new(),
            finders: OnceLock::new(),
        }
    }
}

/// Why `value` is not of `form`, if it is not.
fn refuse(form: Form, value: &str) -> Option<&'static str> {
    let ok = match form {
        Form::Port => value.parse::<u16>().is_ok_and(|p| p > 0),
        Form::Domain => {
            value.contains('.')
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        Form::DirPrefix => value.starts_with('/') && value.ends_with('/'),
        Form::Word => !value.contains(char::is_whitespace),
        Form::Cidr => crate::parse::iptables::parse_cidr(value.as_bytes()).is_some(),
        Form::Text => true,
        Form::PathPattern => {
            let inner = value.strip_prefix('*').unwrap_or(value);
            let inner = inner.strip_suffix('*').unwrap_or(inner);
            inner.starts_with('/') && !inner.contains('*') && !inner.contains(char::is_whitespace)
        }
        Form::ProgramOption => {
            let words: Vec<&str> = value.split_whitespace().collect();
            matches!(words.as_slice(), [program, option] if !program.starts_with('-') && option.starts_with('-'))
        }
        Form::ProgramUse => {
            let words: Vec<&str> = value.split_whitespace().collect();
            matches!(words.as_slice(), [program] | [program, _] if !program.starts_with('-'))
        }
    };
    if ok {
        return None;
    }
    Some(match form {
        Form::Port => "expected a port number 1-65535",
        Form::Domain => "expected a domain (letters, digits, '-' and '.', with a '.')",
        Form::DirPrefix => "expected a directory prefix: an absolute path ending in '/'",
        Form::Word => "expected one word without spaces",
        Form::Cidr => "expected an address range ADDR/LEN",
        Form::Text => "expected text",
        Form::PathPattern => {
            "expected a path pattern: an absolute path, with '*' only at its start or end (`/etc/sudoers*`, `*/.ssh/*`)"
        }
        Form::ProgramOption => "expected a program and one of its options: `PROGRAM -OPTION`",
        Form::ProgramUse => {
            "expected a program, alone or with the one word its use must carry: `PROGRAM [WORD]`"
        }
    })
}

/// Whether `args` begin with the arguments of an exemption (`-s+0`: `-s`, then `0`).
fn leads(args: &[Vec<u8>], exemption: &str) -> bool {
    let words: Vec<&str> = exemption.split('+').collect();
    words.len() <= args.len()
        && words
            .iter()
            .zip(args)
            .all(|(w, a)| a.as_slice() == w.as_bytes())
}

impl Indicators {
    /// The embedded defaults.
    pub fn builtin() -> Indicators {
        let mut ind = Indicators::default();
        for (name, text) in DEFAULTS {
            // Embedded files are tested to parse; a bad line there is a build defect, reported in tests.
            let _ = ind.add_text(name, text);
        }
        ind
    }

    /// Adds the lines of a user-supplied file; refuses the whole file on the first bad line.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read indicator file {}", path.display()))?;
        self.add_text(&path.display().to_string(), &text)
    }

    /// Parses `kind value` lines; `family NAME KIND VALUE` for family markers. Nothing is added when a
    /// line is refused: the error names `origin:line` and the reason.
    pub fn add_text(&mut self, origin: &str, text: &str) -> Result<()> {
        let mut sets = self.sets.clone();
        let mut markers = self.family_markers.clone();
        let mut services = self.services.clone();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{origin}:{}", n + 1);
            let mut parts = line.splitn(2, char::is_whitespace);
            let kind = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default().trim();
            let shown = minetrace_schemas::escape_bytes(line.as_bytes());
            if kind == "family" {
                markers.push(parse_marker(&at, value, &shown)?);
                continue;
            }
            if kind == "service" {
                parse_service(&mut services, &at, value, &shown)?;
                continue;
            }
            let Some(k) = Kind::from_name(kind) else {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                anyhow::bail!(
                    "{at}: unknown indicator kind {:?} (known kinds: family, service, {})",
                    minetrace_schemas::escape_bytes(kind.as_bytes()),
                    known.join(", ")
                );
            };
            if value.is_empty() {
                anyhow::bail!("{at}: expected `kind value`, got {shown:?}");
            }
            if let Some(why) = refuse(k.form(), value) {
                anyhow::bail!("{at}: bad {} value {shown:?}: {why}", k.name());
            }
            let value = if matches!(k.form(), Form::ProgramOption | Form::ProgramUse) {
                // One space between the two words, as [`Indicators::has_option`] asks.
                value.split_whitespace().collect::<Vec<_>>().join(" ")
            } else if k.keeps_case() {
                value.to_owned()
            } else {
                value.to_ascii_lowercase()
            };
            sets.entry(k).or_default().insert(value);
        }
        self.paths = PathClasses::of_sets(&sets);
        self.sets = sets;
        self.family_markers = markers;
        self.services = services;
        self.binary_matcher = OnceLock::new();
        self.finders = OnceLock::new();
        Ok(())
    }

    /// All values of one kind (lowercase unless the kind keeps case), in sorted order.
    pub fn set(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.sets
            .get(&kind)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Whether `value` is a value of `kind`: as written for a kind that keeps case, else in any case.
    pub fn contains(&self, kind: Kind, value: &str) -> bool {
        self.sets.get(&kind).is_some_and(|s| {
            if kind.keeps_case() {
                s.contains(value)
            } else {
                s.contains(&value.to_ascii_lowercase())
            }
        })
    }

    /// Whether `value` (bytes that may not be UTF-8) is a value of `kind` (see [`Indicators::contains`]).
    pub fn contains_bytes(&self, kind: Kind, value: &[u8]) -> bool {
        std::str::from_utf8(value).is_ok_and(|v| self.contains(kind, v))
    }

    /// Whether `name` starts with a value of `kind` (as written for a kind that keeps case).
    pub fn prefixes(&self, kind: Kind, name: &[u8]) -> bool {
        self.set(kind).any(|p| {
            let p = p.as_bytes();
            if kind.keeps_case() {
                name.starts_with(p)
            } else {
                name.get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p))
            }
        })
    }

    /// Whether `path` matches a value of a path-pattern kind ([`Kind::AccessFile`]).
    pub fn matches_path(&self, kind: Kind, path: &[u8]) -> bool {
        kind.form() == Form::PathPattern && self.set(kind).any(|p| path_pattern_matches(p, path))
    }

    /// Whether `option` of `program` is a value of a program-option kind ([`Kind::ScanNonTargetOption`]).
    pub fn has_option(&self, kind: Kind, program: &str, option: &str) -> bool {
        kind.form() == Form::ProgramOption && self.contains(kind, &format!("{program} {option}"))
    }

    /// Whether any value of a program-use kind ([`Kind::NetworkTool`], [`Kind::HostChangingTool`]) names
    /// `program`, whatever its arguments.
    pub fn names_tool(&self, kind: Kind, program: &str) -> bool {
        kind.form() == Form::ProgramUse
            && self.set(kind).any(|v| v.split(' ').next() == Some(program))
    }

    /// Whether `program` run with `args` is a use of a program-use kind: a value naming the program
    /// alone, the program and a word one of its arguments contains (`awk /inet/` counts for
    /// `awk 'BEGIN{s="/inet/tcp/0/h/443"}'`, not for `awk '{print $5}'` nor `awk ... /etc/inetd.conf`),
    /// or the program and `!ARGS`: every use but one whose leading arguments are ARGS (`+` between two;
    /// the `!` values of one program add up: `kill !-0` and `kill !-s+0` let `kill -0 PID` and
    /// `kill -s 0 PID` be, `kill 4711`, `kill -TERM`, bash's `kill -n 9` count).
    pub fn tool_use(&self, kind: Kind, program: &str, args: &[Vec<u8>]) -> bool {
        if kind.form() != Form::ProgramUse {
            return false;
        }
        let mut exempt = Vec::new();
        for value in self.set(kind) {
            let mut words = value.split(' ');
            if words.next() != Some(program) {
                continue;
            }
            let Some(word) = words.next() else {
                return true;
            };
            match word.strip_prefix('!') {
                Some(not) => exempt.push(not),
                None if args
                    .iter()
                    .any(|a| crate::parse::contains(a, word.as_bytes())) =>
                {
                    return true
                }
                None => {}
            }
        }
        !exempt.is_empty() && !exempt.iter().any(|not| leads(args, not))
    }

    /// Whether port `port` is a value of a port kind.
    pub fn has_port(&self, kind: Kind, port: u16) -> bool {
        self.contains(kind, &port.to_string())
    }

    /// Whether `text` contains any value of `kind` as a substring (case-insensitive); returns the first.
    pub fn find_in<'a>(&'a self, kind: Kind, text: &str) -> Option<&'a str> {
        let finders = self.finders.get_or_init(|| {
            self.sets
                .iter()
                .filter_map(|(kind, values)| {
                    let ac = AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .build(values)
                        .ok()?;
                    Some((*kind, ac))
                })
                .collect()
        });
        match finders.get(&kind) {
            // The first value in set order, as a scan of the values would return: patterns are numbered
            // in set order, and every match is looked at (matches overlap).
            Some(ac) => {
                let first = ac
                    .find_overlapping_iter(text)
                    .map(|m| m.pattern().as_usize())
                    .min()?;
                self.set(kind).nth(first)
            }
            // Values that do not compile (never seen: they are short lowercase strings): scan them.
            None => {
                let lower = text.to_ascii_lowercase();
                self.set(kind).find(|v| lower.contains(*v))
            }
        }
    }

    /// Family markers of one kind.
    pub fn markers(&self, kind: MarkerKind) -> impl Iterator<Item = &FamilyMarker> {
        self.family_markers.iter().filter(move |m| m.kind == kind)
    }

    /// The automaton over the `miner_string` and `miner_symbol` values (`None` when they do not compile).
    pub fn binary_matcher(&self) -> Option<&Matcher> {
        self.binary_matcher
            .get_or_init(|| Matcher::new(self))
            .as_ref()
    }

    /// The path classes built from the directory kinds.
    pub fn paths(&self) -> &PathClasses {
        &self.paths
    }

    /// The network services and what they are known by.
    pub fn services(&self) -> &ServiceTable {
        &self.services
    }
}

fn parse_service(table: &mut ServiceTable, at: &str, value: &str, shown: &str) -> Result<()> {
    let mut f = value.splitn(3, char::is_whitespace);
    let (Some(name), Some(k), Some(v)) = (f.next(), f.next(), f.next().map(str::trim)) else {
        anyhow::bail!("{at}: expected `service NAME KIND VALUE`, got {shown:?}");
    };
    let Some(kind) = ServiceMarkerKind::from_name(k) else {
        let known: Vec<&str> = ServiceMarkerKind::ALL.iter().map(|k| k.name()).collect();
        anyhow::bail!(
            "{at}: unknown service marker kind {:?} (known: {})",
            minetrace_schemas::escape_bytes(k.as_bytes()),
            known.join(", ")
        );
    };
    if v.is_empty() {
        anyhow::bail!("{at}: expected `service NAME KIND VALUE`, got {shown:?}");
    }
    table
        .add(name, kind, v)
        .map_err(|why| anyhow::anyhow!("{at}: bad service marker in {shown:?}: {why}"))
}

fn parse_marker(at: &str, value: &str, shown: &str) -> Result<FamilyMarker> {
    let mut f = value.splitn(3, char::is_whitespace);
    let (Some(family), Some(k), Some(v)) = (f.next(), f.next(), f.next()) else {
        anyhow::bail!("{at}: expected `family NAME KIND VALUE`, got {shown:?}");
    };
    let v = v.trim();
    // A trailing `weak` flags an ordinary word (see `FamilyMarker::weak`).
    let (v, weak) = match v.rsplit_once(char::is_whitespace) {
        Some((head, "weak")) => (head.trim_end(), true),
        _ => (v, false),
    };
    let Some(kind) = MarkerKind::from_name(k) else {
        let known: Vec<&str> = MarkerKind::ALL.iter().map(|k| k.name()).collect();
        anyhow::bail!(
            "{at}: unknown family marker kind {:?} (known: {})",
            minetrace_schemas::escape_bytes(k.as_bytes()),
            known.join(", ")
        );
    };
    if v.is_empty() {
        anyhow::bail!("{at}: expected `family NAME KIND VALUE`, got {shown:?}");
    }
    if let Some(why) = kind.refuse(v) {
        anyhow::bail!("{at}: bad family marker value in {shown:?}: {why}");
    }
    if weak && !matches!(kind, MarkerKind::Name | MarkerKind::Unit | MarkerKind::Path) {
        anyhow::bail!(
            "{at}: `weak` applies to name, unit and path markers (what names an artifact), not {kind} in {shown:?}"
        );
    }
    Ok(FamilyMarker {
        family: family.to_owned(),
        kind,
        value: v.to_owned(),
        weak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_files_parse() {
        let mut ind = Indicators::default();
        for (name, text) in DEFAULTS {
            ind.add_text(name, text).unwrap();
        }
        assert!(ind.has_port(Kind::PoolPort, 3333));
        assert!(!ind.family_markers.is_empty());
        assert!(ind.services().by_name("redis").is_some());
        // Every kind has built-in values (a kind nobody fills is a kind nobody needs), but web_root,
        // whose built-ins are the collector's list (schemas/src/locations.rs WEB_ROOTS).
        for k in Kind::ALL.iter().filter(|k| **k != Kind::WebRoot) {
            assert!(ind.set(*k).next().is_some(), "no built-in {}", k.name());
        }
    }

    #[test]
    fn the_binary_matcher_follows_added_strings() {
        use crate::detect::runtime::miner_binary::analyse;
        let bytes = b"\0\0zz-private-miner-zz\0\0";
        let mut ind = Indicators::builtin();
        // Compiled before the file is added: adding it must not leave the old automaton in use.
        assert!(analyse(&ind, bytes, ind.binary_matcher(), 1 << 20)
            .strings
            .is_empty());
        ind.add_text("mine.txt", "miner_string zz-private-miner-zz\n")
            .unwrap();
        let facts = analyse(&ind, bytes, ind.binary_matcher(), 1 << 20);
        assert!(facts.strings.contains("zz-private-miner-zz"), "{facts:?}");
    }

    #[test]
    fn find_in_returns_the_first_value_in_set_order_whatever_the_case() {
        let mut ind = Indicators::default();
        ind.add_text(
            "t.txt",
            "miner_flag --donate-level\nminer_flag -o\nminer_flag level\n",
        )
        .unwrap();
        let naive = |text: &str| {
            let lower = text.to_ascii_lowercase();
            ind.set(Kind::MinerFlag).find(|v| lower.contains(*v))
        };
        for text in [
            "xmrig --DONATE-level 1 -o pool:3333",
            "LEVEL up",
            "nothing here",
            "-o",
            "",
            "caf\u{e9} --donate-level\u{202e}",
        ] {
            assert_eq!(ind.find_in(Kind::MinerFlag, text), naive(text), "{text:?}");
        }
        assert_eq!(ind.find_in(Kind::MinerFlag, "a level"), Some("level"));
        assert_eq!(ind.find_in(Kind::PoolDomain, "anything"), None);
        // A value added later is found (the automata are compiled again).
        ind.add_text("u.txt", "miner_flag --cpu-priority\n")
            .unwrap();
        assert_eq!(
            ind.find_in(Kind::MinerFlag, "x --CPU-priority 5"),
            Some("--cpu-priority")
        );
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let err = Indicators::default()
            .add_text("x.txt", "pool_domain a.com\nbroken\n")
            .unwrap_err();
        assert!(err.to_string().contains("x.txt:2"), "{err}");
    }

    #[test]
    fn unknown_kinds_and_malformed_values_are_refused() {
        let cases = [
            (
                "pool_domian evil.com",
                "unknown indicator kind \"pool_domian\"",
            ),
            ("pool_port 99999", "bad pool_port value"),
            ("pool_port abc", "expected a port number"),
            ("temp_dir /scratch", "ending in '/'"),
            ("agent_range 10.0.0.0/99", "ADDR/LEN"),
            ("pool_domain evil com", "expected a domain"),
            ("family Kinsing colour red", "unknown family marker kind"),
            ("family Kinsing path relative/x", "absolute path"),
            ("family Kinsing hash abc", "sha256"),
            ("family Kinsing", "expected `family NAME KIND VALUE`"),
            (
                "family Kinsing cron /unk.sh weak",
                "`weak` applies to name, unit and path",
            ),
        ];
        for (line, why) in cases {
            let mut ind = Indicators::builtin();
            let before = ind.set(Kind::PoolPort).count();
            let err = ind
                .add_text("mine.txt", &format!("# mine\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("mine.txt:2: "), "{line}: {err}");
            assert!(err.contains(why), "{line}: {err}");
            assert_eq!(ind.set(Kind::PoolPort).count(), before);
        }
    }

    #[test]
    fn path_patterns_match_whole_prefix_suffix_or_part() {
        let ind = Indicators::builtin();
        let access = |p: &str| ind.matches_path(Kind::AccessFile, p.as_bytes());
        for hit in [
            "/etc/passwd",
            "/etc/shadow",
            "/etc/sudoers",
            "/etc/sudoers.d/90-cloud",
            "/etc/ssh/sshd_config",
            "/root/.ssh/authorized_keys",
            "/home/u/.ssh",
        ] {
            assert!(access(hit), "{hit}");
        }
        for miss in [
            "/etc/passwd-",
            "/ETC/PASSWD",
            "/etc/sshd",
            "/home/u/.sshx/k",
            "/etc/group",
        ] {
            assert!(!access(miss), "{miss}");
        }
        // Only pattern kinds match paths.
        assert!(!ind.matches_path(Kind::TempDir, b"/tmp/"));
        for bad in ["etc/x", "/etc/*/x", "**", "*", "*etc", "/etc/a b"] {
            let err = Indicators::default()
                .add_text("m.txt", &format!("access_file {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("expected a path pattern"), "{bad}: {err}");
        }
    }

    /// A program-option value is two words, the second an option; it is kept as written with one space,
    /// and looked up per program: nmap's `-b` is not zmap's.
    #[test]
    fn a_program_use_counts_for_its_program_and_the_word_it_carries() {
        let ind = Indicators::builtin();
        let args = |a: &[&str]| a.iter().map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(ind.tool_use(
            Kind::NetworkTool,
            "openssl",
            &args(&["s_client", "-connect", "h:443"])
        ));
        assert!(!ind.tool_use(
            Kind::NetworkTool,
            "openssl",
            &args(&["x509", "-noout", "-enddate"])
        ));
        assert!(ind.tool_use(
            Kind::NetworkTool,
            "awk",
            &args(&["BEGIN{s=\"/inet/tcp/0/h/443\"}"])
        ));
        assert!(!ind.tool_use(Kind::NetworkTool, "awk", &args(&["{print $5}"])));
        assert!(ind.tool_use(Kind::NetworkTool, "telnet", &args(&[])));
        assert!(ind.tool_use(Kind::HostChangingTool, "kill", &args(&["-9", "4711"])));
        assert!(!ind.tool_use(Kind::HostChangingTool, "kill", &args(&["-0", "4711"])));
        // Review of train 2, item 8: gawk's /inet4/ and /inet6/ special files; every kill but `-0`.
        for program in ["awk", "gawk"] {
            for file in ["/inet4/tcp/0/c2/443", "/inet6/tcp/0/c2/443"] {
                let prog = format!("BEGIN{{s=\"{file}\"}}");
                assert!(ind.tool_use(Kind::NetworkTool, program, &args(&[&prog])));
            }
        }
        for use_ in [
            &["4711"][..],
            &["-15", "4711"],
            &["-TERM", "4711"],
            &["-n", "9", "4711"],
        ] {
            assert!(
                ind.tool_use(Kind::HostChangingTool, "kill", &args(use_)),
                "{use_:?}"
            );
        }
        // Review of train 3, item 8: /etc/inetd.conf names no special file; a signal 0 asked for by
        // `-s`, `-n` or `--signal`, and the signal list, are probes too.
        for program in ["awk", "gawk"] {
            for look_alike in [
                &["-F:", "{print $1}", "/etc/inetd.conf"][..],
                &["/inetd/ {n++} END {print n}", "/var/log/syslog"],
            ] {
                assert!(
                    !ind.tool_use(Kind::NetworkTool, program, &args(look_alike)),
                    "{program} {look_alike:?}"
                );
            }
        }
        for probe in [
            &["-s", "0", "4711"][..],
            &["-n", "0", "4711"],
            &["--signal", "0", "4711"],
            &["-l"],
            &["-l", "9"],
            &["-L"],
            &["--list"],
        ] {
            assert!(
                !ind.tool_use(Kind::HostChangingTool, "kill", &args(probe)),
                "{probe:?}"
            );
        }
        for signal in [&["-s", "9", "4711"][..], &["-s"], &[], &["-9", "-0"]] {
            assert!(
                ind.tool_use(Kind::HostChangingTool, "kill", &args(signal)),
                "{signal:?}"
            );
        }
        assert!(ind.names_tool(Kind::HostChangingTool, "kill"));
        assert!(!ind.names_tool(Kind::HostChangingTool, "kil"));
        for bad in ["-9 kill", "a b c"] {
            let err = Indicators::default()
                .add_text("m.txt", &format!("network_tool {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("PROGRAM [WORD]"), "{bad}: {err}");
        }
    }

    #[test]
    fn program_options_are_two_words_and_belong_to_their_program() {
        let mut ind = Indicators::builtin();
        assert!(ind.has_option(Kind::ScanNonTargetOption, "nmap", "-b"));
        assert!(!ind.has_option(Kind::ScanNonTargetOption, "zmap", "--dns-servers"));
        assert!(!ind.has_option(Kind::ScanNonTargetOption, "NMAP", "-b"));
        // Only program-option kinds answer.
        assert!(!ind.has_option(Kind::ScanTool, "nmap", "-b"));
        ind.add_text("m.txt", "scan_non_target_option   zzscan \t --skip\n")
            .unwrap();
        assert!(ind.has_option(Kind::ScanNonTargetOption, "zzscan", "--skip"));
        for bad in ["nmap", "nmap exclude", "-b nmap", "nmap -b -S", "--x -y"] {
            let err = Indicators::default()
                .add_text("m.txt", &format!("scan_non_target_option {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("m.txt:1: "), "{bad}: {err}");
            assert!(err.contains("PROGRAM -OPTION"), "{bad}: {err}");
        }
    }

    #[test]
    fn kinds_that_keep_case_match_as_written() {
        let mut ind = Indicators::builtin();
        assert!(ind.prefixes(Kind::SystemUnitPrefix, b"NetworkManager-x.service"));
        assert!(!ind.prefixes(Kind::SystemUnitPrefix, b"networkmanager-x.service"));
        assert!(ind.contains(Kind::AdminGroup, "wheel"));
        assert!(!ind.contains(Kind::AdminGroup, "WHEEL"));
        assert!(ind.contains_bytes(Kind::ScanTool, b"masscan"));
        assert!(!ind.contains_bytes(Kind::ScanTool, b"\xffmasscan"));
        assert!(ind.contains_bytes(Kind::ClosedPort, b"6379"));
        // Case-insensitive kinds still are.
        assert!(ind.contains(Kind::MinerName, "XMRig"));
        ind.add_text("m.txt", "system_unit_prefix Zz-\nminer_name ZzMiner\n")
            .unwrap();
        assert!(ind.set(Kind::SystemUnitPrefix).any(|v| v == "Zz-"));
        assert!(ind.set(Kind::MinerName).any(|v| v == "zzminer"));
    }

    #[test]
    fn a_good_file_extends_the_sets_and_the_path_classes() {
        let mut ind = Indicators::builtin();
        ind.add_text(
            "mine.txt",
            "pool_domain pool.example.org\ntemp_dir /scratch/\nfamily X name xbot\nfamily X unit x.service weak\n",
        )
        .unwrap();
        let unit = ind.markers(MarkerKind::Unit).last();
        assert_eq!(
            unit.map(|m| (m.value.as_str(), m.weak)),
            Some(("x.service", true))
        );
        assert!(ind
            .markers(MarkerKind::Name)
            .last()
            .is_some_and(|m| !m.weak));
        assert!(ind.contains(Kind::PoolDomain, "POOL.example.org"));
        assert!(ind.paths().is(PathClass::Temp, b"/scratch/x"));
        assert_eq!(
            ind.markers(MarkerKind::Name)
                .last()
                .map(|m| m.value.as_str()),
            Some("xbot")
        );
    }
}
