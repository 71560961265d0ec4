//! The rule registry: every rule's id, title, ATT&CK techniques and one line of severity logic, in one
//! place. A finding is started from its rule ([`crate::detect::finding::finding`]) and takes its id, title
//! and ATT&CK ids from here; `docs/RULES.md`'s rule tables are generated from this list and a test checks
//! the file against it (`MINETRACE_WRITE_RULES_MD=1 cargo test -p minetrace-analyzer --lib rules` rewrites
//! them).
//!
//! A new rule is a constant here (and a line in [`ALL`]), used by its detector.

/// Where a rule is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// What was running at capture time (`detect/runtime/`).
    Runtime,
    /// How the attacker got in and stays (`detect/footholds/`).
    Footholds,
}

/// One detection rule.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id (`MT-RUN-001`).
    pub id: &'static str,
    pub section: Section,
    /// The detector module that reports it.
    pub detector: &'static str,
    /// The title every finding of this rule carries.
    pub title: &'static str,
    /// MITRE ATT&CK technique ids every finding of this rule carries.
    pub attack: &'static [&'static str],
    /// How the severity is decided, in one line (the `Severity logic` column of `docs/RULES.md`).
    pub severity: &'static str,
}

/// MT-RUN-001
pub const RUN_001: Rule = Rule {
    id: "MT-RUN-001",
    section: Section::Runtime,
    detector: "miner_process",
    title: "Cryptocurrency miner process",
    attack: &["T1496"],
    severity: "Reported when the command line has miner flags, a URL of the stratum protocol in any scheme spelling (ethminer's `stratum1+tcp://`, `stratum2+ssl://`), an algorithm (a listed one, or any `miner_algo_option` value — `-a`, `--algo`, `-coin` — beside a `miner_pool_option` endpoint — `-o`, `--url`, `--pool`, `-pool`, `--server` naming `host:port`: the miners' option convention, whatever the coin), a pool endpoint beside a `miner_account_option` (`-u`, `--user`, `-wal`) holding an EVM wallet (`0x` and 40 hex digits: the GPU coins'), or a Monero wallet (3 points), the copied executable holds miner code (3, see MT-RUN-010) or the process has a miner name (2). Adds: busy 1, threads ≥ cores while busy 1, odd place 1, connection to a pool port/domain or to the endpoint its own command line names 2, kernel-thread disguise 2, MSR writes allowed 1. ≤2 low, 3-4 medium, 5-7 high, ≥8 critical.",
};

/// MT-RUN-002
pub const RUN_002: Rule = Rule {
    id: "MT-RUN-002",
    section: Section::Runtime,
    detector: "miner_process",
    title: "Process kept a CPU busy over its lifetime",
    attack: &["T1496"],
    severity: "Busy without any miner sign; never for `build_tool` names (compilers, linkers, build drivers) or `cpu_heavy_tool` names (transcoders, JVMs, databases), package-verified executables or kernel threads. Low; medium with a pool link or kernel-thread disguise.",
};

/// MT-RUN-003
pub const RUN_003: Rule = Rule {
    id: "MT-RUN-003",
    section: Section::Runtime,
    detector: "miner_process",
    title: "Host tuned for mining (MSR writes, huge pages)",
    attack: &["T1496"],
    severity: "MSR `allow_writes=on`: low, medium when a miner process runs. Huge pages reserved: reported (low) only alongside a miner process.",
};

/// MT-RUN-010
pub const RUN_010: Rule = Rule {
    id: "MT-RUN-010",
    section: Section::Runtime,
    detector: "miner_binary",
    title: "Running executable contains cryptocurrency-mining code",
    attack: &["T1496"],
    severity: "A copied executable (data and string sections, plus bytes appended after the ELF image; the whole file when it has no sections) holds strings of two miner concepts (stratum URL, XMRig name/log format, donate settings, RandomX/CryptoNight, mining.* methods, hashrate reports), a mining symbol, or a wallet: 3 points; odd place 1, busy 1, packed 1, wallet 1. 3 medium, 4-5 high, ≥6 critical. One concept alone (a test or security binary naming a flag) is not enough. Low when every process running it is a peer-to-peer node (listens on a port and dials at least `support::P2P_MIN_PEERS` distinct peer addresses on that port, none on a pool port or named a pool by `/etc/hosts`; no miner sign on it, no miner config or wallet in a config it reads; ordinary place: a full node such as monerod verifies proof of work with this code, a miner holds one pool or two) and it embeds no wallet; such a process's code is no miner sign for MT-RUN-001/020 either.",
};

/// MT-RUN-011
pub const RUN_011: Rule = Rule {
    id: "MT-RUN-011",
    section: Section::Runtime,
    detector: "miner_binary",
    title: "Packed executable running",
    attack: &["T1027.002"],
    severity: "UPX sections or `UPX!` header, or no section headers with high entropy / RWX segment. Low; medium with an odd place or busy; high with both.",
};

/// MT-RUN-012
pub const RUN_012: Rule = Rule {
    id: "MT-RUN-012",
    section: Section::Runtime,
    detector: "miner_binary",
    title: "Running executable is not a well-formed ELF",
    attack: &["T1027"],
    severity: "goblin cannot parse the copy (anti-analysis corruption, truncation). Low.",
};

/// MT-RUN-013
pub const RUN_013: Rule = Rule {
    id: "MT-RUN-013",
    section: Section::Runtime,
    detector: "miner_binary",
    title: "Cryptocurrency miner configuration file",
    attack: &["T1496"],
    severity: "Captured text with XMRig/xmr-stak keys (`pools`, `donate-level`, `randomx`, `pool_list`) or a cpuminer-style top-level `url` holding a stratum URL, plus pools or a wallet (JSON parsed; object files and binaries refused). Medium; high when a running process points at it (argv, its directory); critical with a wallet too. Content not captured: a `miner_config_name` file (`config.json`, `pools.txt`, ...) beside a running executable in an odd place is medium, high when that process has a miner name or flags.",
};

/// MT-RUN-014
pub const RUN_014: Rule = Rule {
    id: "MT-RUN-014",
    section: Section::Runtime,
    detector: "miner_binary",
    title: "Executable at rest contains cryptocurrency-mining code",
    attack: &["T1496", "T1105"],
    severity: "An ELF file the collector copied from a temp, hidden or home place, or from anywhere a persistence entry names it (a cron line's program, a unit's `ExecStart=`, a hook's command: the collector copies those when no package owns them), that no process runs (a dormant host: the miner was killed, its binary remains), holds miner code as MT-RUN-010 judges it. Medium in a home; high in a temp or hidden place or named by persistence; critical there with an embedded wallet. Copies of running executables are MT-RUN-010's.",
};

/// MT-RUN-020
pub const RUN_020: Rule = Rule {
    id: "MT-RUN-020",
    section: Section::Runtime,
    detector: "pool_endpoints",
    title: "Connection to a mining pool",
    attack: &["T1496", "T1071", "T1571"],
    severity: "Pool port 1; pool domain via `/etc/hosts` or named by the process (argv, a `-c`/`--config`/`--config-file` config, `config.json` beside it or in its working directory) 3; the exact endpoint named by the command line of a process with miner signs (flags, name, miner code, kernel-thread disguise), or by a miner config it reads, 3 (any client names the server it talks to: a worker its broker); any outbound connection (not DNS) of a process with miner signs (flags, name, miner code, kernel-thread disguise) 2. Then: miner command line 2, miner code 2, kernel-thread disguise 2, miner name 1, odd place 1 (not one a build tool ancestor explains), busy 1. A pool port alone is low; otherwise ≤2 low, 3-4 medium, 5-7 high, ≥8 critical. Loopback peers are judged like any other.",
};

/// MT-RUN-021
pub const RUN_021: Rule = Rule {
    id: "MT-RUN-021",
    section: Section::Runtime,
    detector: "pool_endpoints",
    title: "Web-port connection from a suspicious executable",
    attack: &["T1071.001", "T1496"],
    severity: "Odd place (not a home), kernel-thread disguise, miner name or miner code, connected to 80/443/8080/8443. Low; medium when alive ≥ 10 min, busy, miner-like, or running from a place programs never run from (memfd, deleted, shared memory, /etc and other config/log/spool dirs, hidden outside homes); high with a miner command line or miner code. A build tool's test or build step (`support::Placement`: a `build_tool` ancestor not itself in a drop place, no network service between them, no miner command line, miner name or kernel-thread disguise on the process) does not count its temp, hidden or home place: CI test binaries in `/tmp/.tmpXXXXXX` or `/tmp/go-build*` listen and talk to their databases.",
};

/// MT-RUN-022
pub const RUN_022: Rule = Rule {
    id: "MT-RUN-022",
    section: Section::Runtime,
    detector: "pool_endpoints",
    title: "Traffic tunnelled through a local proxy tool",
    attack: &["T1090"],
    severity: "Child of graftcp/proxychains/tor/socat, a proxy `LD_PRELOAD`, or connected to a loopback port a proxy tool listens on. Low; medium with odd place or busy; high with miner signs.",
};

/// MT-RUN-023
pub const RUN_023: Rule = Rule {
    id: "MT-RUN-023",
    section: Section::Runtime,
    detector: "pool_endpoints",
    title: "IRC connection from a non-IRC program",
    attack: &["T1071", "T1571"],
    severity: "IRC port (6660-6669, 6697) from a program not in `irc_client`. Medium; high from an odd place, an interpreter (Perl shellbots) or busy.",
};

/// MT-RUN-024
pub const RUN_024: Rule = Rule {
    id: "MT-RUN-024",
    section: Section::Runtime,
    detector: "pool_endpoints",
    title: "Connection from a suspicious executable",
    attack: &["T1071", "T1571"],
    severity: "A connection no pool, web-port or IRC rule judged at medium, held by a suspicious executable (temp, shared-memory, hidden-outside-home, deleted or memfd place, kernel-thread disguise, miner name or miner code): a bot's peer or C2 on a port of its own. Medium; high when the process also listens (peer-to-peer bot, backdoor), runs from a place programs never run from, or looks like a miner. A build tool's test or build step (`support::Placement`: a `build_tool` ancestor not itself in a drop place, no network service between them, no miner command line, miner name or kernel-thread disguise on the process) does not count its temp, hidden or home place: CI test binaries in `/tmp/.tmpXXXXXX` or `/tmp/go-build*` listen and talk to their databases.",
};

/// MT-RUN-025
pub const RUN_025: Rule = Rule {
    id: "MT-RUN-025",
    section: Section::Runtime,
    detector: "listeners",
    title: "Suspicious executable listening for connections",
    attack: &["T1205", "T1571"],
    severity: "A listening TCP/UDP socket held by an executable in a temp, shared-memory or hidden place (a home's program directories do not count), deleted or memfd, or wearing a kernel thread's name: a backdoor or a peer-to-peer bot's port. Medium; high when it also holds an outbound connection, or runs from shared memory, memfd or a deleted file. A build tool's test or build step (`support::Placement`: a `build_tool` ancestor not itself in a drop place, no network service between them, no miner command line, miner name or kernel-thread disguise on the process) does not count its temp, hidden or home place: CI test binaries in `/tmp/.tmpXXXXXX` or `/tmp/go-build*` listen and talk to their databases.",
};

/// MT-RUN-030
pub const RUN_030: Rule = Rule {
    id: "MT-RUN-030",
    section: Section::Runtime,
    detector: "exec_context",
    title: "Process runs a deleted executable",
    attack: &["T1070.004"],
    severity: "Under a system directory, not hidden, not temp (package upgrade look-alike): info. In a plain home: low. Elsewhere: medium. One step up when busy, connected or with miner flags.",
};

/// MT-RUN-031
pub const RUN_031: Rule = Rule {
    id: "MT-RUN-031",
    section: Section::Runtime,
    detector: "exec_context",
    title: "Process runs from a memory-only (memfd) executable",
    attack: &["T1620", "T1027"],
    severity: "Medium; info for container runtimes (`memfd_benign`: runc); one step up when busy, connected or with miner flags.",
};

/// MT-RUN-032
pub const RUN_032: Rule = Rule {
    id: "MT-RUN-032",
    section: Section::Runtime,
    detector: "exec_context",
    title: "Process runs from a temp, hidden or home directory",
    attack: &["T1036.005", "T1564.001"],
    severity: "Shared memory, hidden inside temp, or a `nonexec_dir` (/etc, /var/log, /var/spool, ...: Kinsing's /etc/kinsing, WatchDog's /etc/sysguard): medium. Temp or hidden: low. Plain home: info (only with busy/connection/miner flags). One step up with miner flags only (busy or networked test binaries under /tmp are ordinary). Low, without a miner command line, miner name or kernel-thread disguise, when a `build_tool` started it (a test binary under `cargo`/`make`, connected or not: its connections are judged by the connection rules), no network service sits between them (what Tomcat's `java` or `postgres` started is never a compile) and the build tool is not itself in a drop place (`/tmp/.x/make`).",
};

/// MT-RUN-033
pub const RUN_033: Rule = Rule {
    id: "MT-RUN-033",
    section: Section::Runtime,
    detector: "exec_context",
    title: "User process disguised as a kernel thread",
    attack: &["T1036.004", "T1036.005"],
    severity: "`[bracketed]` argv[0] or a kernel-thread name (`kthread_name`) on a process with an executable or a parent other than kthreadd. Medium for brackets alone, high with a kernel-thread name; one step up when busy, connected or with miner flags.",
};

/// MT-RUN-034
pub const RUN_034: Rule = Rule {
    id: "MT-RUN-034",
    section: Section::Runtime,
    detector: "exec_context",
    title: "Program name differs from its executable",
    attack: &["T1036.005"],
    severity: "comm or argv[0] differs from the exe name while the exe is in an odd place. Low (elsewhere interpreters, symlinks and process titles make this ordinary).",
};

/// MT-RUN-035
pub const RUN_035: Rule = Rule {
    id: "MT-RUN-035",
    section: Section::Runtime,
    detector: "exec_context",
    title: "System program name running from an unusual path",
    attack: &["T1036.005"],
    severity: "A `system_name` (sshd, systemd-resolved, httpd, crond, ...) as exe name, comm or argv[0], exe not under a system directory. Medium; high from an odd place; one step up when busy, connected or with miner flags. Low for a person's own install (run by a person, not root or a service account, from a visible directory of their own home, from a file they own, no miner sign: rootless Docker's ~/bin/dockerd).",
};

/// MT-RUN-036
pub const RUN_036: Rule = Rule {
    id: "MT-RUN-036",
    section: Section::Runtime,
    detector: "exec_context",
    title: "Network service spawned a shell or downloader",
    attack: &["T1190", "T1059.004", "T1105"],
    severity: "Parent is a network service of the service table (`service` lines: not a login, scheduler, container API or shim), child in `shell_or_downloader`. Medium under a daemon or application (redis, nginx, php-fpm, tomcat, confluence, weblogic, jupyter); low under a generic runtime or interpreter (java, node, python with no known application) or a database server (its archive commands run shells). One step up for curl/wget, an odd place, or a command that runs `model::service_logs::RECON_MIN_ITEMS` or more distinct `recon_command`/`recon_file` items (`id; uname -a; cat /etc/passwd`: discovery through the service); low for an application shelling out (`convert`, `git`): a packaged shell (its executable, whatever `argv[0]` says, a `SHELLS` name in a package directory with a matching package check; on a host with no readable package database, any not contradicted) whose `-c` command runs at least one program and only ordinary ones — installed programs, by name (the first of that name its `PATH` shows) or by path: in a system directory, not hidden, temp, in a web root or a home, vouched for by its package check in a package directory, else recorded as root's and writable by no one else; none a shell, interpreter or downloader, none network-capable (`network_tool` in the use its arguments show: `openssl s_client`, not `openssl x509`; `proxy_tool`, `ssh_client`, `irc_client`, `scan_tool`, `brute_tool`) or host-changing (`host_changing_tool`, likewise: `kill -9`, not `kill -0`) — with no URL or `host:port` word, no path that is a persistence location or an `access_file`, and no download, socket, decoder, IP, recon, temp/hidden path, history or module tampering. The child is the subject; the exploited service is named in the evidence only. A CI executor's job step (a shell running a job script file under a `ci` service: Jenkins, gitlab-runner, GitHub's runner; in the job's environment, a `ci_job_env` variable such as BUILD_TAG or CI_JOB_ID; script owned by the step's account or root; no miner sign) is not reported; an inline `sh -c` or a downloader straight under the executor is.",
};

/// MT-RUN-037
pub const RUN_037: Rule = Rule {
    id: "MT-RUN-037",
    section: Section::Runtime,
    detector: "exec_context",
    title: "Process maps code from a temp or hidden place",
    attack: &["T1574.006", "T1190"],
    severity: "An executable mapping of a file in a temp or hidden place other than the process's own executable (a Redis module loaded from /tmp with MODULE LOAD, an injected library). High when the process is a network service (`services.txt`) that is not an interpreter or JVM (those extract native helpers into temp directories); medium for a hidden place; low otherwise. Subject: the library file. The plan adds a restart of the service's unit (the unit its cgroup names, with a unit file in the bundle, not removed or left by hand by the plan) as a review item, never unasked (`remediate::restarts`).",
};

/// MT-RUN-040
pub const RUN_040: Rule = Rule {
    id: "MT-RUN-040",
    section: Section::Runtime,
    detector: "evasion",
    title: "Process hidden from the /proc listing",
    attack: &["T1014", "T1564"],
    severity: "A pid that answers but `readdir(/proc)` did not list. High.",
};

/// MT-RUN-041
pub const RUN_041: Rule = Rule {
    id: "MT-RUN-041",
    section: Section::Runtime,
    detector: "evasion",
    title: "Mount over /proc/PID hides a process",
    attack: &["T1564", "T1014"],
    severity: "A mountinfo line whose mount point is `/proc/<pid>`. High.",
};

/// MT-RUN-042
pub const RUN_042: Rule = Rule {
    id: "MT-RUN-042",
    section: Section::Runtime,
    detector: "evasion",
    title: "CPU use the visible processes cannot explain",
    attack: &["T1014", "T1496"],
    severity: "`/proc/stat` user+system exceeds the visible processes' CPU by ≥ 0.25 cores on average and the 1-minute load exceeds the visible running/busy processes (+1 for the collector) by ≥ 1. Low alone (exited processes, build bursts); medium with another hiding sign (hidden pid, bind mount, bad preload, rootkit module).",
};

/// MT-RUN-043
pub const RUN_043: Rule = Rule {
    id: "MT-RUN-043",
    section: Section::Runtime,
    detector: "evasion",
    title: "Out-of-tree or unsigned kernel module loaded",
    attack: &["T1014", "T1547.006"],
    severity: "Taint `O` or `E`. Critical for a `rootkit_module` name (Diamorphine, Reptile, Skidmap's, SANSAR's); info for `vendor_module` (nvidia, zfs, virtualbox, ...); low otherwise.",
};

/// MT-RUN-044
pub const RUN_044: Rule = Rule {
    id: "MT-RUN-044",
    section: Section::Runtime,
    detector: "evasion",
    title: "LD_PRELOAD set in process environments",
    attack: &["T1574.006"],
    severity: "One finding per distinct value (and per kind of carrier: processes that see the host's files, and containers' or chroots' that name their own). Each library judged as an `/etc/ld.so.preload` entry is (MT-PER-040, `support::judge_preload`; a container's by its path alone, no host package check): with evidence in the library itself (a family `preload`/`path` marker: critical; a `preload_bad` name, a temp, hidden, shared-memory or configuration place, a packaged file whose digest differs: high) the library is an artifact; without it the library is context and the value at most medium (an unowned library, a `preload_benign` name in a library directory, a library in a home or owned by the non-root account that runs it — a user's own build as often as a drop: a review item), low when a package vouches for every library or for a container's library. Info for a proxy preload (see MT-RUN-022) with no such evidence. The value takes its worst library's severity; libraries split as the loader splits `LD_PRELOAD` (`locations::ld_preload_list`).",
};

/// MT-PER-001
pub const PER_001: Rule = Rule {
    id: "MT-PER-001",
    section: Section::Footholds,
    detector: "cron",
    title: "Cron job runs suspicious commands",
    attack: &["T1053.003"],
    severity: "A job line of `/etc/crontab`, `/etc/cron.d/*`, a user spool (`/var/spool/cron/[crontabs/]USER`), `/etc/anacrontab` or a `/etc/cron.{hourly,...}` script, scored by `score_line`; +4 on every job line of a file whose own path is a family `path` marker (`/etc/cron.d/perfclean`); +2 when it runs as a service account, +2 inside a Redis RDB dump, +2 when the file is locked.",
};

/// MT-PER-002
pub const PER_002: Rule = Rule {
    id: "MT-PER-002",
    section: Section::Footholds,
    detector: "cron",
    title: "Crontab written through Redis (RDB dump with a cron line)",
    attack: &["T1053.003", "T1190"],
    severity: "The crontab starts with a Redis RDB header (`REDIS000x`): high; critical when its job lines score high. Subjects: the file, every job line, the owner.",
};

/// MT-PER-003
pub const PER_003: Rule = Rule {
    id: "MT-PER-003",
    section: Section::Footholds,
    detector: "cron",
    title: "Crontab of a service account",
    attack: &["T1053.003", "T1078.003"],
    severity: "Spool named after, or owned by, a service account (`service_account`, or shaped like one: a shell refusing logins, or a uid below the host's `UID_MIN` without a person's login shell and /home home): low alone (apps such as Nextcloud do this); high with suspicious jobs or RDB junk.",
};

/// MT-PER-004
pub const PER_004: Rule = Rule {
    id: "MT-PER-004",
    section: Section::Footholds,
    detector: "cron",
    title: "at job runs suspicious commands",
    attack: &["T1053.002"],
    severity:
        "An `at` spool job's body (after at's own environment preamble), scored by `score_shell`.",
};

/// MT-PER-010
pub const PER_010: Rule = Rule {
    id: "MT-PER-010",
    section: Section::Footholds,
    detector: "systemd",
    title: "Suspicious systemd unit",
    attack: &["T1543.002", "T1053.006"],
    severity: "Worst `Exec*=` line of a unit, drop-in or timer (system, vendor, runtime, generator, per-user), scored by `score_shell`; +2 named like a system unit (`systemd-*`, `dbus`, `cron`, ...) under `/etc/systemd/` but running a non-system program; when already scored: +1 `Restart=always/on-failure/on-abnormal`, +1 service-account `User=`, +2 locked. A unit named by a family `unit` marker (`pwnrige.service`) +4, unless `ExecStart=` runs only what packages installed (digest match); a `weak` one (an ordinary word: `bot.service`) only when the unit also starts a program in a temp, shared-memory, hidden or config directory or its command scores ≥ 2 on its own. Timers that start the unit are added as file subjects.",
};

/// MT-PER-020
pub const PER_020: Rule = Rule {
    id: "MT-PER-020",
    section: Section::Footholds,
    detector: "startup",
    title: "Boot script runs suspicious commands",
    attack: &["T1037.004", "T1037"],
    severity: "Lines of `/etc/rc.local`, `/etc/init.d/*`, `/etc/rc*.d/*`, `/etc/inittab` (process field), `boot.local`, scored by `score_shell`. An init script whose path is a family marker: high, line 0.",
};

/// MT-PER-030
pub const PER_030: Rule = Rule {
    id: "MT-PER-030",
    section: Section::Footholds,
    detector: "startup",
    title: "Shell start-up file runs suspicious commands",
    attack: &["T1546.004"],
    severity: "Lines of `/etc/profile`, `/etc/profile.d/*`, `bash.bashrc`, `/etc/environment`, every home's `.bashrc`/`.profile`/`.bash_profile`/`.zshrc`/..., scored by `score_shell`.",
};

/// MT-PER-031
pub const PER_031: Rule = Rule {
    id: "MT-PER-031",
    section: Section::Footholds,
    detector: "startup",
    title: "Event hook runs suspicious commands",
    attack: &["T1546.016", "T1547.013", "T1546.017", "T1037", "T1546"],
    severity: "Commands of the event hooks kits hide in — `update-motd.d` scripts (every login, as root), APT hook keys in `apt.conf.d` (`DPkg::Post-Invoke`, `APT::Update::Pre-Invoke`, ...: every apt run, as root), initramfs-tools hooks and boot scripts, ifupdown/NetworkManager dispatcher scripts, XDG autostart `Exec=` (system and per home), the programs of udev rules (`RUN`, `PROGRAM`, `IMPORT{program}` in `/etc`, `/run`, `/usr/local/lib` and `/usr/lib` `udev/rules.d`: as root at every matching device event, boot included; values read as udev reads `\"...\"`, `e\"...\"` and `i\"...\"`, `$env{KEY}`/`%E{KEY}` substituted from the file's `ENV{KEY}=` assignments, a bare program name is `/usr/lib/udev/NAME` (`/lib/udev/NAME` without a merged `/usr`), a rule whose program key cannot be read judged by its text) — scored by `score_shell` as boot scripts are. The distribution's own hooks (packagekit, debconf, motd-news, dmsetup and hwclock rules) score nothing.",
};

/// MT-PER-040
pub const PER_040: Rule = Rule {
    id: "MT-PER-040",
    section: Section::Footholds,
    detector: "preload",
    title: "Library preloaded into every program (/etc/ld.so.preload)",
    attack: &["T1574.006", "T1014"],
    severity: "Every `/etc/ld.so.preload` entry: critical when the library is a family `preload`/`path` marker; low when a package owns it with a matching digest (no `preload_bad` name); medium (a review item) for an unowned library named like a preload tool (`preload_benign`: an allocator, the Snoopy audit logger) in a library directory, not a temp, hidden, shared-memory, configuration or home place, and not a packaged file whose digest differs (`support::judge_preload`, the one judgement MT-RUN-044 reads too); high otherwise. The library is a file subject as recorded (`/lib/x` found as `/usr/lib/x` on merged `/usr`), or as written (no sha256) at medium or above when not recorded.",
};

/// MT-PER-041
pub const PER_041: Rule = Rule {
    id: "MT-PER-041",
    section: Section::Footholds,
    detector: "preload",
    title: "LD_PRELOAD set for every login",
    attack: &["T1574.006"],
    severity:
        "`LD_PRELOAD=` in `/etc/environment` or a start-up file; same severity logic as MT-PER-040.",
};

/// MT-PER-050
pub const PER_050: Rule = Rule {
    id: "MT-PER-050",
    section: Section::Footholds,
    detector: "modules",
    title: "Rootkit kernel module loaded at boot",
    attack: &["T1547.006", "T1014"],
    severity: "`/etc/modules`, `modules-load.d/*.conf` naming a known rootkit module (family `name` marker, diamorphine, reptile, iproute, netlink, cryptov2, ...): high. `modprobe.d` `install` hooks scored by `score_shell`.",
};

/// MT-PER-060
pub const PER_060: Rule = Rule {
    id: "MT-PER-060",
    section: Section::Footholds,
    detector: "orphans",
    title: "Start line runs a program that no longer exists",
    attack: &["T1053.003", "T1037", "T1546.004"],
    severity: "A cron, systemd, rc or shell start-up line runs a program in a hidden, temporary or system directory that the collector looked for and did not find (nor its directory; inside the line's `chroot` root when it has one): medium, a launcher left behind when a kit was deleted. Not reported: lines that test for their program first (`test -x`, `[ -x ]`, `command -v`, `which`) or whose file tests for it elsewhere, a missing shell, interpreter or downloader of a system directory (the host lacks a package), systemd commands whose failure is ignored (`-` prefix), units in package directories (`/usr/lib/systemd/`), missing programs elsewhere.",
};

/// MT-PER-061
pub const PER_061: Rule = Rule {
    id: "MT-PER-061",
    section: Section::Footholds,
    detector: "kit_lines",
    title: "Start line runs a judged miner",
    attack: &["T1053.003", "T1543.002", "T1037", "T1546.004"],
    severity: "Run after every detector. A cron, systemd, rc, shell start-up or event-hook (motd, APT, initramfs, network, autostart, udev rule: a bare program name is `/usr/lib/udev/NAME`, `/lib/udev/NAME` without a merged `/usr`) line that runs (not merely mentions: `pkill`, `rm` arguments never count) a file MT-RUN-001, MT-RUN-010 or MT-RUN-014 judged at high or above — `~/` expanded for the line's account, merged-`/usr` aliases followed — is the miner's persistence: high, whatever the path looks like; a line of a file its package installed unchanged (a distribution's rule naming a helper a kit overwrote) is named as context, never removed. Lines another finding already names at high or above, and lines their mechanism ignores, produce nothing.",
};

/// MT-PER-070
pub const PER_070: Rule = Rule {
    id: "MT-PER-070",
    section: Section::Footholds,
    detector: "webshells",
    title: "Web shell in a web root",
    attack: &["T1505.003", "T1190"],
    severity: "A server-side script (`.php`, `.phtml`, `.jsp`, `.asp`, ...) in a web root whose captured head has a statement that passes request input (`webshell_input`, per language: PHP `$_GET`/`$_POST`/`$_REQUEST`/`$_COOKIE`/`$_FILES`, `php://input`, `getallheaders`; JSP `request.getParameter`; ASP `Request.Form`; Python `request.args`/`request.values`, `cgi.FieldStorage`; Perl CGI.pm `param(`; and the client-written server variables: PHP `$_SERVER['HTTP_...']`, Perl `$ENV{'QUERY_STRING'}`, a shell CGI's `$QUERY_STRING`) to a code or command sink (`webshell_sink`: `eval`, `assert`, `system`, `passthru`, `shell_exec`, `exec`, `popen`, `proc_open`, `create_function`, `call_user_func`, `include`/`require`, `Runtime.exec`, `ProcessBuilder`), to PHP's or Perl's backticks, to a shell CGI's `eval` or `sh -c` as its very argument, or to a variable function: 4; a sink or variable function fed by a decoder (`base64_decode`, `gzinflate`, `str_rot13`, `hex2bin`, `strrev`, ...), `preg_replace` with `/e`, or a sink name spelt reversed or in rot13: 3. A sink alone or a decoder alone scores nothing (applications evaluate their own templates and decode their own data). +1 each: hidden name; upload/cache/tmp/files/images/avatars/.well-known directory; owned by a service account where most of that web root's scripts are another uid's; changed more than a week after most of them. 3 medium, 4-5 high, ≥6 critical.",
};

/// MT-PER-080
pub const PER_080: Rule = Rule {
    id: "MT-PER-080",
    section: Section::Footholds,
    detector: "pam",
    title: "Authentication stack (PAM) loads a module or runs a program from an odd place",
    attack: &["T1556.003"],
    severity: "Lines of the PAM service files in `/etc/pam.d` (modules run inside sshd, `su`, `sudo` and every login, with the password in hand): a module given by path in a temp, shared-memory, hidden or home place (a dropped `.so`, a dot-named file beside the distribution's modules) 4; by path outside the system's module directories (`security/` under `/lib`, `/lib64`, `/usr/lib`, `/usr/lib64` or their multiarch directory: `locations::is_pam_module_dir_file`) 1 (an admin's own build in `/usr/local/lib/security`); `pam_exec.so`'s program and arguments scored by `score_line` as a boot line is, +1 with `expose_authtok` (it hands the typed password to the program). 1 low, 2-3 medium, 4-6 high, ≥7 critical. Subjects: the line (the remediation removes it; the service file is context, never removed whole); at high, the module or program loaded from the drop place. A module replaced under its own name (Skidmap's `pam_unix.so`) is MT-EVA-020's (package check).",
};

/// MT-SSH-001
pub const SSH_001: Rule = Rule {
    id: "MT-SSH-001",
    section: Section::Footholds,
    detector: "ssh_keys",
    title: "Known attacker SSH key",
    attack: &["T1098.004"],
    severity: "Key comment equals a `bad_key_comment` (or contains one of ≥ 6 chars): 4 points; a family `key_comment` marker +1.",
};

/// MT-SSH-002
pub const SSH_002: Rule = Rule {
    id: "MT-SSH-002",
    section: Section::Footholds,
    detector: "ssh_keys",
    title: "SSH key installed for a service account",
    attack: &["T1098.004"],
    severity: "The key file is in a service account's home (`/usr/games/.ssh`, `/var/lib/redis/.ssh`): 2 points; 1 point when the key is restricted with `command=` or `from=` (a deployment key: git-shell, a receive hook).",
};

/// MT-SSH-003
pub const SSH_003: Rule = Rule {
    id: "MT-SSH-003",
    section: Section::Footholds,
    detector: "ssh_keys",
    title: "SSH key file written through Redis (RDB dump)",
    attack: &["T1098.004", "T1190"],
    severity: "A key file that starts with an RDB header: high (file finding) and +2 per key.",
};

/// MT-SSH-004
pub const SSH_004: Rule = Rule {
    id: "MT-SSH-004",
    section: Section::Footholds,
    detector: "ssh_keys",
    title: "SSH key in authorized_keys2",
    attack: &["T1098.004"],
    severity: "1 point (low alone).",
};

/// MT-SSH-005
pub const SSH_005: Rule = Rule {
    id: "MT-SSH-005",
    section: Section::Footholds,
    detector: "ssh_keys",
    title: "SSH key in a locked key file",
    attack: &["T1098.004"],
    severity: "The key file is immutable/append-only: 1 point (admins lock key files against injection too; alone it is low, it raises any other signal).",
};

/// MT-SSH-006
pub const SSH_006: Rule = Rule {
    id: "MT-SSH-006",
    section: Section::Footholds,
    detector: "ssh_keys",
    title: "SSH key with a crafted comment",
    attack: &["T1098.004"],
    severity: "The comment holds command substitution (`$(`, a backtick), control characters or bytes that are not UTF-8: 3 points. ssh-keygen writes `user@host` or `-C` text a shell already expanded; such a comment was written to run in the tools that read the file.",
};

/// MT-SSH-007
pub const SSH_007: Rule = Rule {
    id: "MT-SSH-007",
    section: Section::Footholds,
    detector: "window",
    title: "SSH key added during the intrusion",
    attack: &["T1098.004"],
    severity: "Run after every detector. The intrusion window is the span of modification times of files named by findings at high or above (miner, crontab, unit, dropper), ± 2 h. The last key of an `authorized_keys*` file modified in the window (keys are appended) is medium when its account logged in during the window (any auth source), owns or runs the confirmed artifacts, or is named by a finding at high or above; other accounts' key files produce nothing (an admin's edit as often as not). When another rule reported a key of the file (that key explains the change): nothing if it said high; if it said medium and the window judges that key (of an account other than root) medium, high (two independent reasons: the key is attributed to the intrusion). Earlier keys of the file, files modified outside the window, and hosts with no confirmed artifact produce nothing.",
};

/// MT-SSH-010
pub const SSH_010: Rule = Rule {
    id: "MT-SSH-010",
    section: Section::Footholds,
    detector: "sshd_config",
    title: "sshd opened up for root or password logins",
    attack: &["T1098", "T1021.004"],
    severity: "Effective values (first outside `Match`, includes expanded in sshd's order): `PermitRootLogin yes` 1, `PasswordAuthentication yes` 1, `PermitEmptyPasswords yes` 2, two or more together +1, the file locked +2. Subjects: each offending line.",
};

/// MT-ACC-001
pub const ACC_001: Rule = Rule {
    id: "MT-ACC-001",
    section: Section::Footholds,
    detector: "accounts",
    title: "Extra account with UID 0",
    attack: &["T1136.001", "T1078.003"],
    severity: "Any UID-0 account not named root: high.",
};

/// MT-ACC-002
pub const ACC_002: Rule = Rule {
    id: "MT-ACC-002",
    section: Section::Footholds,
    detector: "accounts",
    title: "Service account may use sudo",
    attack: &["T1548.003", "T1098"],
    severity: "A service/system account in `sudo`/`wheel`/`admin`: high; named in a sudoers rule: high for `ALL` commands, medium otherwise. Persons' accounts (a login shell and a home under /home, or a uid from the host's `UID_MIN` of /etc/login.defs on) are not reported, whatever their uid.",
};

/// MT-ACC-003
pub const ACC_003: Rule = Rule {
    id: "MT-ACC-003",
    section: Section::Footholds,
    detector: "accounts",
    title: "Service account that can log in",
    attack: &["T1098", "T1078.003"],
    severity: "Service/system account with a real shell 1, a `nologin` outside the system directories +2, a usable or empty password (shadow summary) +2; reported from 2 points.",
};

/// MT-ACC-010
pub const ACC_010: Rule = Rule {
    id: "MT-ACC-010",
    section: Section::Footholds,
    detector: "auth_log",
    title: "SSH brute force in the auth logs",
    attack: &["T1110.001", "T1098", "T1078"],
    severity: "≥ 20 failures from one address in `auth.log*`/`secure*` (oldest first): low. A password login accepted from that address (or after 5 failures from it in 10 min): high, and so is a password change / new user that such a login explains — the account it logged into, or within 2 h after it. A password change or new user no brute-forced login explains is not part of the finding (its account is never locked for it).",
};

/// MT-EVA-001
pub const EVA_001: Rule = Rule {
    id: "MT-EVA-001",
    section: Section::Footholds,
    detector: "immutable",
    title: "File locked with chattr",
    attack: &["T1222.002"],
    severity: "Any captured file with the immutable or append-only flag. Empty (≤ 2 bytes, \"vaccine\" or rival squat): low. Executable/script in a temp or hidden place, or a family-marker path: high. Persistence, loader, account or SSH file: medium, except an `authorized_keys*` file: low (hardening; its keys are judged by MT-SSH-*). `resolv.conf`/`hosts` and others: low. A vaccine gets no family.",
};

/// MT-EVA-010
pub const EVA_010: Rule = Rule {
    id: "MT-EVA-010",
    section: Section::Footholds,
    detector: "history",
    title: "Shell history disabled or cleared",
    attack: &["T1070.003"],
    severity: "`HISTFILE=/dev/null`, `unset HISTFILE`, `HISTSIZE=0`, `history -c`, `set +o history`, history removed/truncated/linked to /dev/null: in a start-up file medium (persistence subject, the line is removed); a history file symlinked to /dev/null medium; typed in a history low, medium with two or more.",
};

/// MT-EVA-020
pub const EVA_020: Rule = Rule {
    id: "MT-EVA-020",
    section: Section::Footholds,
    detector: "binaries",
    title: "System binary differs from its package",
    attack: &["T1554", "T1036.005"],
    severity: "Package check `Mismatch`: high for `replaced_target` tools and system-binary checks, or when a script sits where the package installed an ELF; medium for other running executables.",
};

/// MT-EVA-021
pub const EVA_021: Rule = Rule {
    id: "MT-EVA-021",
    section: Section::Footholds,
    detector: "binaries",
    title: "chattr copied, renamed or missing",
    attack: &["T1222.002", "T1036.003"],
    severity: "A file, running executable or checked path with the packaged chattr's sha256 under another name: high. chattr missing from its package path (the package lists it, nothing is there): medium; not when a file elsewhere has its package digest (moved: MT-EVA-024).",
};

/// MT-EVA-022
pub const EVA_022: Rule = Rule {
    id: "MT-EVA-022",
    section: Section::Footholds,
    detector: "system_bins",
    title: "Packaged tool copied under another name",
    attack: &["T1036.003"],
    severity: "A file no package owns in a system binary directory whose sha256 equals a packaged file's (the collector hashes the packaged files of equal size as twins; verified package checks count too): high in /usr/bin, /usr/sbin, /bin, /sbin; medium under /usr/local. Copies of chattr are MT-EVA-021's. Not judged: hard links of the packaged file, and files of /usr/bin, /usr/sbin, /bin, /sbin when the package database plainly does not cover those directories (see MT-EVA-023: a distribution ships identical tools under several names).",
};

/// MT-EVA-023
pub const EVA_023: Rule = Rule {
    id: "MT-EVA-023",
    section: Section::Footholds,
    detector: "system_bins",
    title: "Program no package owns in a package-managed directory",
    attack: &["T1036.005"],
    severity: "A file of /usr/bin, /usr/sbin, /bin or /sbin that no installed package owns (the collector's listing, or a running executable's package check): medium. /usr/local holds locally built software and is not reported, nor are documented admin files (`admin_file`: /usr/sbin/policy-rc.d). With more than 64 such files the package database does not cover the directories: one low finding says so instead.",
};

/// MT-EVA-024
pub const EVA_024: Rule = Rule {
    id: "MT-EVA-024",
    section: Section::Footholds,
    detector: "system_bins",
    title: "Packaged tool moved away from its package path",
    attack: &["T1036.003"],
    severity: "A file no package owns in a system binary directory whose digest, in the package database's algorithm (dpkg MD5, rpm's file digest), is the one a package recorded for a path of /usr/bin, /usr/sbin, /bin or /sbin that is missing on disk (kits move chattr, wget or curl so cleanup scripts fail, then use the moved copy): high in /usr/bin, /usr/sbin, /bin, /sbin, medium under /usr/local, when the copy is locked (immutable or append-only), a running process executes it or a persisted command names it; otherwise medium (a review item) when it was hidden under another name in /usr/bin, /usr/sbin, /bin or /sbin (`zzh`, `wge1`), low when it keeps its own name with a suffix beside its package path (admins disable tools so: `wget.disabled`, `curl-orig`) or lies under /usr/local. Reported instead of MT-EVA-022/023 for that file. Not judged in /usr/bin, /usr/sbin, /bin, /sbin when the package database plainly does not cover those directories (see MT-EVA-023).",
};

/// MT-EVA-030
pub const EVA_030: Rule = Rule {
    id: "MT-EVA-030",
    section: Section::Footholds,
    detector: "firewall",
    title: "Firewall rule cuts off a security agent",
    attack: &["T1562.004", "T1562.001"],
    severity: "A DROP/REJECT rule (iptables-save captures or saved rule files) whose source/destination overlaps an `agent_range` (Aliyun Aegis ranges): low alone (admins' agent-removal scripts add the same rules); high when the host also shows another finding at high or above (a miner, a kit's cron line, unit or preload: the intrusion is confirmed) or persisted agent tampering (MT-EVA-031, any severity), judged after every detector.",
};

/// MT-EVA-031
pub const EVA_031: Rule = Rule {
    id: "MT-EVA-031",
    section: Section::Footholds,
    detector: "agents",
    title: "Persisted script removes or stops security tools",
    attack: &["T1562.001"],
    severity: "A cron/unit/rc/profile line matching `agent_tamper` (Aegis/CloudMonitor/YunJing uninstall, `setenforce 0`, `ufw disable`, ...): low alone (admins run the same uninstallers); medium when the same file also scores.",
};

/// MT-EVA-040
pub const EVA_040: Rule = Rule {
    id: "MT-EVA-040",
    section: Section::Footholds,
    detector: "firewall",
    title: "Attacker-style firewall rule",
    attack: &["T1562.004"],
    severity: "INPUT drop of Redis/Docker ports (closing the door behind them) or OUTPUT drop of pool ports (rival blocking): low — admins harden the same way.",
};

/// MT-EVA-041
pub const EVA_041: Rule = Rule {
    id: "MT-EVA-041",
    section: Section::Footholds,
    detector: "firewall",
    title: "Firewall opened for a suspicious listener",
    attack: &["T1562.004", "T1571"],
    severity: "An `INPUT` `ACCEPT` rule (live `iptables-save`/`ip6tables-save` or a saved rules file) for a destination port: high when a suspicious program listens on that port (temp, hidden, shared-memory, deleted or memfd executable, kernel-thread name: MT-RUN-025's test); low when nothing listens on it; nothing when an ordinary program does (an exporter, sshd).",
};

/// MT-EVA-050
pub const EVA_050: Rule = Rule {
    id: "MT-EVA-050",
    section: Section::Footholds,
    detector: "kit_files",
    title: "File of a known malware kit",
    attack: &["T1105", "T1564.001"],
    severity: "A recorded regular file outside the persistence locations (crontabs, units, rc/profile files, `ld.so.preload`, key files: their own rules report the marker on the line that runs) whose path is a family `path` marker or whose name matches a family `name` marker (`/tmp/.X25-unix/dota3.tar.gz`; a `weak` marker, an ordinary word like `sysupdate`, only in a temp, shared-memory, hidden or config directory), not installed by a package: empty (≤ 2 bytes, vaccine or squat) low, with no family; executable or locked high; named by a `name` marker medium; other data in a kit's directory (state, logs: `path` marker only) low.",
};

/// MT-EVA-051
pub const EVA_051: Rule = Rule {
    id: "MT-EVA-051",
    section: Section::Footholds,
    detector: "scripts",
    title: "Dropper, spreader or watchdog script at rest",
    attack: &["T1105", "T1059.004"],
    severity: "A shell script (shebang or name) in a temp or hidden place, or in a home's visible files with two kinds or more, outside persistence files, web roots and histories, scored by what its lines do: downloads and runs code, decodes base64 into a shell, /dev/tcp socket, starts a miner (option, pool, wallet) 3 each; spreads over SSH with known_hosts/keys, kills rival miners, stops security agents, keeps a program alive (pgrep + restart), flushes the firewall/disables SELinux, chattr 2 each; history tampering 1; temp or hidden place +1. 2-3 medium, 4-6 high, ≥7 critical. Scripts in system directories (an admin's cleanup script full of rival names) are never judged here. Executables a high script runs from temp or hidden places are subjects too (the dropper's payload, the miner a watchdog restarts). A CI job script a `ci` executor runs as a job step (in the job's environment, see MT-RUN-036): its temp place and its downloads do not count.",
};

/// MT-EVA-011
pub const EVA_011: Rule = Rule {
    id: "MT-EVA-011",
    section: Section::Footholds,
    detector: "journal",
    title: "System journal emptied (vacuum typed in a shell history)",
    attack: &["T1070.002"],
    severity: "`journalctl --vacuum-time`/`--vacuum-size`/`--vacuum-files` in a shell history that keeps next to nothing (less than a day, less than 16 MiB, at most one archived file, or a value that cannot be read: the attacker's `--vacuum-time=1s`): medium (the journal's older entries are gone; the history is evidence). Low when every vacuum keeps a sane amount (`--vacuum-size=500M`, `--vacuum-time=2weeks`: disk housekeeping). `--rotate` alone drops nothing; a timer or logrotate trimming the journal is not typed and not judged.",
};

/// MT-EVA-012
pub const EVA_012: Rule = Rule {
    id: "MT-EVA-012",
    section: Section::Footholds,
    detector: "journal",
    title: "Journal file cut or entries missing",
    attack: &["T1070.002"],
    severity: "A captured journal file shorter than its header says (cut after it was written), entries its header counts that cannot be read, or a hole in the sequence numbers of one journal across its files (never for a file the collector left out for its budget): medium.",
};

/// MT-ENT-001
pub const ENT_001: Rule = Rule {
    id: "MT-ENT-001",
    section: Section::Footholds,
    detector: "service_logs",
    title: "Web request ran a command through a server-side script",
    attack: &["T1505.003", "T1190", "T1059.004"],
    severity: "A web access log shows a request that reached the script (a 2xx answer; a 3xx redirect or a 5xx reached nothing the log vouches for) with a shell command as a parameter's value, the value starting with the program as a web shell takes it (a download, a decode into a shell, a bash socket, a `shell_or_downloader` program, or a command line followed by commands naming `RECON_MIN_ITEMS` discovery items): high while a script at that path is on disk (in the document root of the virtual host whose log it is, when the stored nginx/Apache configuration names that log; else in any web root, by the path's end) and is conclusively the intrusion's (MT-PER-070 judges its content a web shell's at high, or it has a hidden name; the script is the artifact), medium when the reason is weaker (MT-PER-070 at medium, a write directory, or written within `DEPLOYED_BEFORE_USE_SECS` (1 h) before the first command request to it and alone — not a page whose bytes are still its package's (`Match`), nor written with `DEPLOY_MIN_SIBLINGS` (3) other files of a directory that existed before that hour (its birth time, else theirs) within `DEPLOY_WINDOW_SECS` (60 s), which is the application's update: the script is the artifact of a review item, as a deploy followed by a probe looks the same), low otherwise (the log is evidence; any client sends any query to any page, so an application's page at that path is context, never removed). Data followed by commands (`127.0.0.1;wget ...|sh`) is an injection into the application's page: MT-ENT-004, never this rule.",
};

/// MT-ENT-002
pub const ENT_002: Rule = Rule {
    id: "MT-ENT-002",
    section: Section::Footholds,
    detector: "service_logs",
    title: "Redis made a replica of a master by a client, or loaded a module through it (Redis log)",
    attack: &["T1190", "T1505"],
    severity: "The Redis log shows `REPLICAOF`/`SLAVEOF` a client asked for, or `Module ... loaded from PATH` from a temp or hidden place or within 10 minutes after such a replication: high while such a module file is on disk (the file is the artifact); low otherwise (the log is evidence). A replica of its configured master (`Connecting to MASTER` only) and a module loaded from elsewhere with no replication before it (an admin's `loadmodule`) are ordinary: no finding.",
};

/// MT-ENT-004
pub const ENT_004: Rule = Rule {
    id: "MT-ENT-004",
    section: Section::Footholds,
    detector: "service_logs",
    title: "Web request injected shell commands into an application's parameter",
    attack: &["T1190", "T1059.004", "T1082"],
    severity: "A web access log shows a request that reached the application (not 4xx) whose parameter is data (one word that names no program: an address, a number, a file name) or nothing, a separator (`;`, `|`, `&`, a backquote, `$(`, a newline), then commands that ask who and where they run (`model::service_logs::RECON_MIN_ITEMS` distinct `recon_command`/`recon_file` items) or that download, open a bash socket, or run a shell, interpreter, downloader, `network_tool` or `host_changing_tool` with an option or a path: low, one finding per page (scanners spray such payloads; the log cannot say the page ran them; what the commands left is judged by its own rules, and the entry inference reads these lines). The page on disk is a context subject, never an artifact. A field list (`name;id;email`), a search, a date range or a web shell's own command (MT-ENT-001: a command line before the separator, `cd /tmp;wget ...`, `ls -la;id;uname -a`, or a download after a leading one) is none.",
};

/// MT-ENT-003
pub const ENT_003: Rule = Rule {
    id: "MT-ENT-003",
    section: Section::Footholds,
    detector: "service_logs",
    title: "Database server ran a shell command (COPY ... FROM PROGRAM)",
    attack: &["T1190", "T1059.004"],
    severity: "The PostgreSQL log shows `COPY ... FROM/TO PROGRAM`: low (the log is evidence; what the command left behind is judged by other rules, the database role it used lives in the database).",
};

/// MT-LAT-001
pub const LAT_001: Rule = Rule {
    id: "MT-LAT-001",
    section: Section::Footholds,
    detector: "history",
    title: "Scanning or lateral movement typed in a shell history",
    attack: &["T1021.004", "T1046"],
    severity: "Medium, by the class of the line: a login guesser (`brute_tool`: hydra, medusa, ncrack); a scanner (`scan_tool`: masscan, zmap, pnscan, nmap) aimed at the internet (a public address, a /8 or wider range, `-iR`, zmap with no range); an SSH client (`ssh_client`: ssh, scp, rsync, sshpass) fed with targets or keys harvested from the host (known_hosts, shell histories, ssh configs, a search for private keys). An admin's ssh, scp and loops over named hosts, and sweeps of the host's own networks (private, link-local, loopback ranges, names) are not reported.",
};

/// MT-LAT-002
pub const LAT_002: Rule = Rule {
    id: "MT-LAT-002",
    section: Section::Footholds,
    detector: "lateral",
    title: "Private SSH key with known hosts to reach",
    attack: &["T1552.004", "T1021.004"],
    severity: "An `id_*` private key (metadata only) beside a non-empty `known_hosts`: low; medium in a service account's home.",
};

/// Every rule, in documentation order.
pub const ALL: &[&Rule] = &[
    &RUN_001, &RUN_002, &RUN_003, &RUN_010, &RUN_011, &RUN_012, &RUN_013, &RUN_014, &RUN_020,
    &RUN_021, &RUN_022, &RUN_023, &RUN_024, &RUN_025, &RUN_030, &RUN_031, &RUN_032, &RUN_033,
    &RUN_034, &RUN_035, &RUN_036, &RUN_037, &RUN_040, &RUN_041, &RUN_042, &RUN_043, &RUN_044,
    &PER_001, &PER_002, &PER_003, &PER_004, &PER_010, &PER_020, &PER_030, &PER_031, &PER_040,
    &PER_041, &PER_050, &PER_060, &PER_061, &PER_070, &PER_080, &SSH_001, &SSH_002, &SSH_003,
    &SSH_004, &SSH_005, &SSH_006, &SSH_007, &SSH_010, &ACC_001, &ACC_002, &ACC_003, &ACC_010,
    &EVA_001, &EVA_010, &EVA_011, &EVA_012, &EVA_020, &EVA_021, &EVA_022, &EVA_023, &EVA_024,
    &EVA_030, &EVA_031, &EVA_040, &EVA_041, &EVA_050, &EVA_051, &ENT_001, &ENT_002, &ENT_003,
    &ENT_004, &LAT_001, &LAT_002,
];

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// The `docs/RULES.md` table of one section, one row per rule.
pub fn table(section: Section) -> String {
    let mut out = String::from(
        "| Rule | Detector | Title | Severity logic | ATT&CK |\n|---|---|---|---|---|\n",
    );
    for r in ALL.iter().filter(|r| r.section == section) {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.id,
            r.detector,
            r.title,
            r.severity,
            r.attack.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKS: &[(Section, &str, &str)] = &[
        (
            Section::Runtime,
            "<!-- rules:runtime (generated from analyzer/src/detect/rules.rs) -->\n",
            "<!-- /rules:runtime -->",
        ),
        (
            Section::Footholds,
            "<!-- rules:footholds (generated from analyzer/src/detect/rules.rs) -->\n",
            "<!-- /rules:footholds -->",
        ),
    ];

    #[test]
    fn ids_are_unique_and_well_formed() {
        for (i, r) in ALL.iter().enumerate() {
            assert!(
                ALL.iter().skip(i + 1).all(|o| o.id != r.id),
                "{} twice",
                r.id
            );
            let ok = r.id.len() == 10
                && r.id.starts_with("MT-")
                && r.id.get(6..7) == Some("-")
                && r.id.bytes().skip(7).all(|b| b.is_ascii_digit());
            assert!(ok, "{}", r.id);
            assert!(!r.attack.is_empty() && !r.title.is_empty(), "{}", r.id);
            assert!(
                !r.severity.contains('\n') && !r.title.contains('|'),
                "{}",
                r.id
            );
        }
    }

    /// `docs/RULES.md` holds exactly the generated tables; with `MINETRACE_WRITE_RULES_MD=1` the test
    /// rewrites them instead.
    #[test]
    fn docs_rules_md_matches_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RULES.md");
        let mut text = std::fs::read_to_string(&path).expect("docs/RULES.md");
        let mut stale = Vec::new();
        for (section, begin, end) in MARKS {
            let start = text
                .find(begin)
                .unwrap_or_else(|| panic!("docs/RULES.md lacks the marker {begin:?}"))
                + begin.len();
            let stop = start
                + text
                    .get(start..)
                    .and_then(|t| t.find(end))
                    .unwrap_or_else(|| panic!("docs/RULES.md lacks the marker {end:?}"));
            let want = table(*section);
            if text.get(start..stop) != Some(want.as_str()) {
                stale.push(*begin);
                text.replace_range(start..stop, &want);
            }
        }
        if std::env::var_os("MINETRACE_WRITE_RULES_MD").is_some() {
            std::fs::write(&path, &text).expect("write docs/RULES.md");
            return;
        }
        assert!(
            stale.is_empty(),
            "docs/RULES.md differs from detect/rules.rs in {stale:?}; run \
             MINETRACE_WRITE_RULES_MD=1 cargo test -p minetrace-analyzer --lib rules"
        );
    }
}
