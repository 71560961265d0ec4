//! Miner binaries and configs: ELF analysis (goblin) of the executables the collector copied (`bin/<sha256>`)
//! — UPX and other packers, static Go/Rust builds, miner strings (stratum URLs, XMRig option and log
//! strings, donate settings, RandomX/CryptoNight code and symbols) — and XMRig-style `config.json` files
//! wherever the collector captured their content.
//!
//! Rules: `MT-RUN-010` running executable holds mining code, `MT-RUN-011` packed executable running,
//! `MT-RUN-012` copied executable is not a well-formed ELF, `MT-RUN-013` miner configuration file,
//! `MT-RUN-014` an executable at rest (nothing runs it) holds mining code.
//! Scans are bounded ([`MAX_SCAN`], [`MAX_TOTAL_SCAN`], [`MAX_CONFIG`]); goblin runs only on copied binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use goblin::elf::program_header::{PF_W, PF_X, PT_LOAD};
use goblin::elf::section_header::SHT_NOBITS;
use goblin::elf::Elf;
use minetrace_schemas::findings::{Finding, Severity, Subject};
use minetrace_schemas::miner_config::{MINER_CONFIG_KEYS, MINER_CONFIG_SECTIONS, POOL_URL_START};
use minetrace_schemas::records::executable::{CopyStatus, ExecutableRecord};
use minetrace_schemas::records::file::{FileKind, FileRecord};
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::RawBytes;

use super::support;
use crate::detect::finding::{file_subject, finding, process_subject, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Indicators;
use crate::indicators::{Kind, PathClass};

/// Bytes of one binary searched for strings (the head, where code and rodata of a miner sit).
pub const MAX_SCAN: usize = 16 << 20;
/// Bytes searched over all binaries of one bundle.
pub const MAX_TOTAL_SCAN: usize = 32 << 20;
/// Largest config file parsed.
pub const MAX_CONFIG: usize = 1 << 20;

/// Concepts of miner code: a string containing one of these names its concept. Two concepts (a stratum
/// URL and an XMRig log format, a donate pool and RandomX code) make a binary a miner; one alone is what a
/// security tool or a test binary that merely names miners also carries.
const CONCEPTS: &[&str] = &[
    "stratum",
    "xmrig",
    "mining.",
    "randomx",
    "cn_slow",
    "cryptonight",
    "donate",
    "hashrate,",
    "* threads:",
    "normalhashing",
];

/// Sections whose bytes are searched for strings (read-only data, data, string and symbol-name tables, Go
/// build info); format facts, not indicators.
const STRING_SECTIONS: &[&str] = &[
    ".rodata",
    ".data",
    ".strtab",
    ".dynstr",
    ".go.buildinfo",
    ".comment",
    ".note.go.buildid",
];

/// Symbols looked at per table.
const MAX_SYMBOLS: usize = 50_000;

/// Toolchain fingerprints: format facts, not indicators.
const GO_MARKERS: &[&str] = &[" Go buildinf:", "runtime.gopanic", "Go build ID:"];
const RUST_MARKERS: &[&str] = &["rust_begin_unwind", "/rustc/", "RUST_BACKTRACE"];

/// What the analysis of one binary found.
#[derive(Debug, Default)]
pub struct BinaryFacts {
    /// Parse error when the bytes are not a well-formed ELF.
    pub malformed: Option<String>,
    pub packer: Option<String>,
    pub static_link: bool,
    pub toolchain: Option<&'static str>,
    /// Distinct miner strings seen (lowercase indicator values).
    pub strings: BTreeSet<String>,
    pub symbols: BTreeSet<String>,
    pub wallets: Vec<String>,
    /// Only the first part was scanned.
    pub scan_cut: bool,
    /// Bytes searched for strings.
    pub scanned: usize,
    /// Bytes appended after the ELF image.
    pub overlay: usize,
}

impl BinaryFacts {
    /// Distinct [`CONCEPTS`] among the strings seen.
    pub fn concepts(&self) -> BTreeSet<&'static str> {
        self.strings
            .iter()
            .filter_map(|s| CONCEPTS.iter().find(|k| s.contains(*k)).copied())
            .collect()
    }

    /// Decisive: a mining symbol, an embedded wallet, or strings of at least two miner concepts.
    pub fn miner_code(&self) -> bool {
        !self.symbols.is_empty() || !self.wallets.is_empty() || self.concepts().len() >= 2
    }
}

/// What a pattern of the [`Matcher`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternKind {
    Miner,
    Go,
    Rust,
}

/// One case-insensitive automaton over every `miner_string` indicator and the toolchain fingerprints, so a
/// binary is read once. Compiled once per indicator set ([`Indicators::binary_matcher`]).
#[derive(Debug, Clone)]
pub struct Matcher {
    ac: AhoCorasick,
    patterns: Vec<(String, PatternKind)>,
    /// `miner_symbol` values, for symbol names.
    symbols: Option<AhoCorasick>,
}

impl Matcher {
    pub fn new(iocs: &Indicators) -> Option<Matcher> {
        let mut patterns: Vec<(String, PatternKind)> = iocs
            .set(Kind::MinerString)
            .map(|s| (s.to_owned(), PatternKind::Miner))
            .collect();
        patterns.extend(
            GO_MARKERS
                .iter()
                .map(|m| ((*m).to_owned(), PatternKind::Go)),
        );
        patterns.extend(
            RUST_MARKERS
                .iter()
                .map(|m| ((*m).to_owned(), PatternKind::Rust)),
        );
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(patterns.iter().map(|(p, _)| p.as_bytes()))
            .ok()?;
        let symbols = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(iocs.set(Kind::MinerSymbol))
            .ok();
        Some(Matcher {
            ac,
            patterns,
            symbols,
        })
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Shannon entropy in bits per byte.
fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for b in bytes {
        if let Some(c) = counts.get_mut(usize::from(*b)) {
            *c += 1;
        }
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Analyses one binary. Never panics on hostile input: goblin errors become [`BinaryFacts::malformed`].
pub fn analyse(
    iocs: &Indicators,
    bytes: &[u8],
    matcher: Option<&Matcher>,
    budget: usize,
) -> BinaryFacts {
    let mut facts = BinaryFacts::default();
    let head = bytes.get(..4096).unwrap_or(bytes);
    let tail = bytes
        .get(bytes.len().saturating_sub(4096)..)
        .unwrap_or(bytes);
    let upx_magic = contains(head, b"UPX!") || contains(tail, b"UPX!");
    // Where strings live: data and string-table sections of a well-formed ELF (code and debug info are
    // most of a binary's bytes and hold none); the whole file when there are no sections to go by.
    let mut regions: Vec<&[u8]> = Vec::new();
    match Elf::parse(bytes) {
        Ok(elf) => {
            let mut names: Vec<&str> = Vec::new();
            for sh in elf.section_headers.iter().take(4096) {
                let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or_default();
                names.push(name);
                let wanted = STRING_SECTIONS.iter().any(|p| name.starts_with(p));
                if wanted && sh.sh_type != SHT_NOBITS {
                    let start = usize::try_from(sh.sh_offset).unwrap_or(usize::MAX);
                    let len = usize::try_from(sh.sh_size).unwrap_or(0);
                    if let Some(r) = bytes.get(start..start.saturating_add(len).min(bytes.len())) {
                        regions.push(r);
                    }
                }
            }
            // Bytes past every section, segment and the section header table: an appended payload
            // (overlay) the loader never maps but a dropper may read back.
            let end_of = |off: u64, size: u64| {
                usize::try_from(off.saturating_add(size)).unwrap_or(usize::MAX)
            };
            let image_end = elf
                .section_headers
                .iter()
                .filter(|sh| sh.sh_type != SHT_NOBITS)
                .map(|sh| end_of(sh.sh_offset, sh.sh_size))
                .chain(
                    elf.program_headers
                        .iter()
                        .map(|ph| end_of(ph.p_offset, ph.p_filesz)),
                )
                .chain(std::iter::once(end_of(
                    elf.header.e_shoff,
                    u64::from(elf.header.e_shnum).saturating_mul(u64::from(elf.header.e_shentsize)),
                )))
                .max()
                .unwrap_or(usize::MAX);
            if let Some(overlay) = bytes.get(image_end..).filter(|o| !o.is_empty()) {
                regions.push(overlay);
                facts.overlay = overlay.len();
            }
            let upx_sections: Vec<&&str> = names
                .iter()
                .filter(|n| n.to_ascii_lowercase().contains("upx"))
                .collect();
            let rwx = elf
                .program_headers
                .iter()
                .any(|ph| ph.p_type == PT_LOAD && ph.p_flags & PF_W != 0 && ph.p_flags & PF_X != 0);
            if !upx_sections.is_empty() {
                let shown: Vec<String> = upx_sections.iter().map(|n| support::q(n)).collect();
                facts.packer = Some(format!("UPX (sections {})", shown.join(", ")));
            } else if upx_magic {
                facts.packer = Some("UPX (UPX! header)".into());
            } else if elf.section_headers.is_empty() {
                let sample = bytes.get(..(1 << 20)).unwrap_or(bytes);
                let e = entropy(sample);
                if e >= 7.2 || rwx {
                    facts.packer = Some(format!(
                        "packed (no section headers, entropy {e:.2} bits/byte{})",
                        if rwx {
                            ", writable+executable segment"
                        } else {
                            ""
                        }
                    ));
                }
            }
            facts.static_link = elf.interpreter.is_none() && elf.libraries.is_empty();
            if names
                .iter()
                .any(|n| n.starts_with(".gopclntab") || n.starts_with(".go.buildinfo"))
            {
                facts.toolchain = Some("Go");
            }
            if let Some(symbols) = matcher.and_then(|m| m.symbols.as_ref()) {
                let wanted: Vec<&str> = iocs.set(Kind::MinerSymbol).collect();
                for (tab, strtab) in [(&elf.syms, &elf.strtab), (&elf.dynsyms, &elf.dynstrtab)] {
                    for sym in tab.iter().take(MAX_SYMBOLS) {
                        let Some(name) = strtab.get_at(sym.st_name) else {
                            continue;
                        };
                        if let Some(hit) = symbols.find(name) {
                            let w = wanted.get(hit.pattern().as_usize()).copied().unwrap_or("");
                            if facts.symbols.len() < 8 {
                                facts.symbols.insert(format!("{name} ({w})"));
                            }
                        }
                    }
                }
            }
        }
        Err(e) => {
            facts.malformed = Some(e.to_string());
            if upx_magic {
                facts.packer = Some("UPX (UPX! header)".into());
            }
        }
    }
    if regions.is_empty() {
        regions.push(bytes);
    }
    let mut left = budget.min(MAX_SCAN);
    let mut scanned = 0usize;
    let mut total = 0usize;
    let mut toolchain = None;
    for region in regions {
        total = total.saturating_add(region.len());
        let scan = region.get(..left).unwrap_or(region);
        left -= scan.len();
        scanned += scan.len();
        if let Some(m) = matcher {
            for hit in m.ac.find_iter(scan) {
                match m.patterns.get(hit.pattern().as_usize()) {
                    Some((p, PatternKind::Miner)) => {
                        facts.strings.insert(p.clone());
                    }
                    Some((_, PatternKind::Go)) => toolchain = toolchain.or(Some("Go")),
                    Some((_, PatternKind::Rust)) => toolchain = toolchain.or(Some("Rust")),
                    None => {}
                }
            }
        }
        if facts.wallets.len() < 8 {
            facts.wallets.extend(support::monero_addresses(scan));
        }
    }
    facts.toolchain = facts.toolchain.or(toolchain);
    facts.scan_cut = scanned < total;
    facts.scanned = scanned;
    facts
}

fn describe(facts: &BinaryFacts) -> Vec<String> {
    let mut out = Vec::new();
    if !facts.strings.is_empty() {
        let list: Vec<&str> = facts.strings.iter().map(String::as_str).take(12).collect();
        out.push(format!(
            "miner strings in the binary: {}",
            support::lower(format!("{list:?}").as_bytes())
        ));
    }
    if !facts.symbols.is_empty() {
        out.push(format!(
            "mining symbols: {}",
            facts.symbols.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    for w in &facts.wallets {
        out.push(format!(
            "Monero wallet embedded: {}",
            support::short_wallet(w)
        ));
    }
    if facts.strings.iter().any(|s| s.contains("donate")) {
        out.push("donate settings present (XMRig donate-level / donate pool)".into());
    }
    if let Some(p) = &facts.packer {
        out.push(format!("packer: {p}"));
    }
    if facts.overlay > 0 {
        out.push(format!(
            "{} bytes appended after the ELF image",
            facts.overlay
        ));
    }
    if facts.static_link {
        out.push(format!(
            "statically linked{}",
            facts
                .toolchain
                .map(|t| format!(" {t} build"))
                .unwrap_or_default()
        ));
    } else if let Some(t) = facts.toolchain {
        out.push(format!("{t} build"));
    }
    if facts.scan_cut {
        out.push(format!(
            "only the first {} MiB were searched",
            MAX_SCAN >> 20
        ));
    }
    out
}

fn subjects_of(ctx: &Context, exe: &ExecutableRecord) -> Vec<Subject> {
    let mut out = vec![Subject::File {
        path: exe.path.clone(),
        sha256: exe.sha256.clone(),
    }];
    for pid in &exe.pids {
        if let Some(p) = ctx.model.process(*pid) {
            out.push(process_subject(p));
        }
    }
    out
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    let m = ctx.iocs.binary_matcher();
    let mut budget = MAX_TOTAL_SCAN;
    for exe in &ctx.model.executables {
        let CopyStatus::Copied { member } = &exe.copy else {
            continue;
        };
        let Some(bytes) = ctx.model.member(member) else {
            continue;
        };
        let facts = analyse(ctx.iocs, bytes, m, budget);
        budget = budget.saturating_sub(facts.scanned);
        out.extend(judge(ctx, exe, &facts));
    }
    out.extend(at_rest(ctx, m, &mut budget));
    out.extend(configs(ctx));
    out
}

/// Files persistence entries name (a cron line's program, a unit's `ExecStart=`, a hook's command), as the
/// snapshot records them (merged-`/usr` aliases followed): path -> the entry's file and line, for evidence.
fn persisted_paths<'a>(ctx: &'a Context) -> BTreeMap<&'a [u8], String> {
    let mut out = BTreeMap::new();
    for e in &ctx.model.persistence {
        for p in &e.refs.paths {
            if let Some(f) = ctx.model.file_aliased(p) {
                out.entry(f.path.as_bytes())
                    .or_insert_with(|| format!("{}:{}", e.path.escaped(), e.line));
            }
        }
    }
    out
}

/// `MT-RUN-014`: an ELF file the collector copied that nothing runs (a dormant kit: the miner was killed,
/// its binary remains) holds miner code — from a temp, hidden or home place, or from anywhere a persistence
/// entry names it (a miner dropped in `/etc`, `/usr/lib` or `/var/lib` with the cron line or unit that
/// brings it back; the collector copies what persistence names when no package owns it). Medium in a home;
/// high in a temp or hidden place or named by persistence; critical there with an embedded wallet. Copies
/// of running executables are judged by `MT-RUN-010` instead.
fn at_rest(ctx: &Context, m: Option<&Matcher>, budget: &mut usize) -> Vec<Finding> {
    let running: BTreeSet<&str> = ctx
        .model
        .executables
        .iter()
        .filter_map(|e| e.sha256.as_deref())
        .collect();
    let persisted = persisted_paths(ctx);
    let mut out = Vec::new();
    for f in &ctx.model.files {
        if f.kind != FileKind::Regular || *budget == 0 {
            continue;
        }
        if f.sha256.as_deref().is_some_and(|h| running.contains(h)) {
            continue;
        }
        let path = f.path.as_bytes();
        let kit_prone = support::under(ctx, PathClass::KitProne, path);
        let named_by = persisted.get(path);
        if !kit_prone && named_by.is_none() && !support::in_home(ctx, path) {
            continue;
        }
        let Some(bytes) = ctx.model.content(f).filter(|b| b.starts_with(b"\x7fELF")) else {
            continue;
        };
        let facts = analyse(ctx.iocs, bytes, m, *budget);
        *budget = budget.saturating_sub(facts.scanned);
        if !facts.miner_code() {
            continue;
        }
        let severe = kit_prone || named_by.is_some();
        let severity = match (severe, facts.wallets.is_empty()) {
            (true, false) => Severity::Critical,
            (true, true) => Severity::High,
            (false, _) => Severity::Medium,
        };
        let place = if kit_prone {
            " in a temp or hidden place"
        } else if named_by.is_some() {
            ""
        } else {
            " in a home directory"
        };
        let mut finding = finding(&rules::RUN_014, severity)
            .subject(file_subject(f))
            .evidence(format!(
                "{} ({} bytes) is not running: a miner at rest{place}",
                f.path.escaped(),
                f.size,
            ));
        if let Some(at) = named_by {
            finding = finding.evidence(format!("persistence starts it again: named by {at}"));
        }
        for line in describe(&facts) {
            finding = finding.evidence(line);
        }
        out.push(finding);
    }
    out
}

/// Bytes of a process's copied executable searched when another detector asks whether it holds miner code.
pub const QUICK_SCAN: usize = 4 << 20;

/// Whether the copied executable of a process holds miner code, described for evidence. For detectors that
/// weigh a process (miner process, pool connection); `MT-RUN-010` reports the binary itself.
pub fn quick_miner_code(ctx: &Context, p: &ProcessRecord, m: Option<&Matcher>) -> Option<String> {
    // A full node verifies proof of work with this code ([`support::p2p_node`]): no miner sign.
    if support::p2p_node(ctx, p).is_some() {
        return None;
    }
    let exe = ctx.model.executable_of(p)?;
    let CopyStatus::Copied { member } = &exe.copy else {
        return None;
    };
    let facts = analyse(ctx.iocs, ctx.model.member(member)?, m, QUICK_SCAN);
    facts.miner_code().then(|| {
        let concepts: Vec<&str> = facts.concepts().into_iter().collect();
        format!(
            "its executable holds miner code ({})",
            if concepts.is_empty() {
                "mining symbols or a wallet".to_owned()
            } else {
                concepts.join(", ")
            }
        )
    })
}

/// Turns the facts about one running binary into findings.
fn judge(ctx: &Context, exe: &ExecutableRecord, facts: &BinaryFacts) -> Vec<Finding> {
    let model = ctx.model;
    let procs: Vec<_> = exe
        .pids
        .iter()
        .filter_map(|pid| model.process(*pid))
        .collect();
    let odd: Vec<String> = procs
        .iter()
        .flat_map(|p| support::odd_places(ctx, p))
        .filter(|r| !r.weak())
        .map(|r| r.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let busy = procs.iter().find_map(|p| support::busy(model, p));
    let mut context = Vec::new();
    context.push(format!(
        "running executable {} ({} bytes)",
        exe.path.escaped(),
        exe.size
    ));
    context.extend(odd.iter().cloned());
    if let Some(c) = &busy {
        context.push(support::describe_cpu(c));
    }
    let mut out = Vec::new();
    let weak = u32::from(!odd.is_empty()) + u32::from(busy.is_some());
    // Every process running it is a peer-to-peer node (a full node): the code verifies, it does not mine.
    let nodes: Vec<String> = procs
        .iter()
        .map_while(|p| support::p2p_node(ctx, p))
        .collect();
    let node = !procs.is_empty() && nodes.len() == procs.len() && facts.wallets.is_empty();
    if node {
        context.extend(nodes.into_iter().take(1));
    }
    if facts.miner_code() {
        let score =
            3 + weak + u32::from(facts.packer.is_some()) + u32::from(!facts.wallets.is_empty());
        let severity = match score {
            _ if node => Severity::Low,
            6.. => Severity::Critical,
            4..=5 => Severity::High,
            _ => Severity::Medium,
        };
        let mut f = finding(&rules::RUN_010, severity);
        for s in subjects_of(ctx, exe) {
            f = f.subject(s);
        }
        for line in context.iter().cloned().chain(describe(facts)) {
            f = f.evidence(line);
        }
        out.push(f.evidence(format!("combined score {score}")));
    }
    if let Some(p) = &facts.packer {
        let score = 1 + weak;
        let severity = match score {
            3.. => Severity::High,
            2 => Severity::Medium,
            _ => Severity::Low,
        };
        let mut f = finding(&rules::RUN_011, severity);
        for s in subjects_of(ctx, exe) {
            f = f.subject(s);
        }
        for line in context.iter().cloned() {
            f = f.evidence(line);
        }
        out.push(f.evidence(format!("packer: {p}")));
    }
    if let Some(err) = &facts.malformed {
        let mut f = finding(&rules::RUN_012, Severity::Low);
        for s in subjects_of(ctx, exe) {
            f = f.subject(s);
        }
        out.push(
            f.evidence(context.first().cloned().unwrap_or_default())
                .evidence(format!(
                    "ELF parser: {}",
                    minetrace_schemas::escape_bytes(err.as_bytes())
                )),
        );
    }
    out
}

/// The quoted keys that make a file worth parsing as a miner config (the miner keys the collector also
/// knows a config by, [`minetrace_schemas::miner_config`], and a quoted pool URL), matched
/// case-insensitively; built once (a constant automaton, no configuration behind it).
fn config_keys() -> Option<&'static AhoCorasick> {
    static KEYS: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys = MINER_CONFIG_KEYS
            .iter()
            .map(|k| format!("\"{k}\""))
            .chain([format!("\"{POOL_URL_START}")]);
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(keys)
            .ok()
    })
    .as_ref()
}

/// What a miner config says, for evidence.
#[derive(Debug, Default)]
pub struct ConfigFacts {
    pub keys: Vec<String>,
    pub pools: Vec<String>,
    pub wallets: Vec<String>,
    pub donate: Option<String>,
}

/// Parses an XMRig / xmr-stak style config. `None` when the content is not one.
pub fn parse_config(content: &[u8]) -> Option<ConfigFacts> {
    let text = content.get(..MAX_CONFIG).unwrap_or(content);
    // Cheap refusals first: every captured file passes through here.
    if text.starts_with(b"\x7fELF") || config_keys().is_some_and(|k| !k.is_match(text)) {
        return None;
    }
    let lower = support::lower(text);
    let mut facts = ConfigFacts::default();
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => {
            for k in MINER_CONFIG_KEYS.iter().chain(MINER_CONFIG_SECTIONS) {
                if map.contains_key(*k) {
                    facts.keys.push((*k).to_owned());
                }
            }
            if let Some(serde_json::Value::Array(pools)) =
                map.get("pools").or_else(|| map.get("pool_list"))
            {
                for pool in pools.iter().take(16) {
                    let url = pool
                        .get("url")
                        .or_else(|| pool.get("pool_address"))
                        .and_then(|u| u.as_str());
                    if let Some(u) = url {
                        facts.pools.push(u.chars().take(200).collect());
                    }
                }
            }
            // cpuminer/ccminer-style configs name one pool at the top level: a stratum URL is the pool
            // protocol itself, whatever the coin or port.
            if let Some(url) = map
                .get("url")
                .and_then(|u| u.as_str())
                .filter(|u| u.to_ascii_lowercase().starts_with("stratum"))
            {
                facts.keys.push("url".to_owned());
                facts.pools.push(url.chars().take(200).collect());
            }
            facts.donate = map.get("donate-level").map(|d| d.to_string());
            // A config with none of the miner keys at the top level is some other JSON.
            if facts.keys.is_empty() {
                return None;
            }
        }
        // Not JSON (xmr-stak's pools.txt is JSON without braces, hand-edited configs have comments):
        // keep the keys the text shows as `"key" :`, in text files only (object files and binaries
        // that embed these words are not configs).
        _ => {
            if text.contains(&0) {
                return None;
            }
            for k in MINER_CONFIG_KEYS {
                let quoted = format!("\"{k}\"");
                let as_key = lower.match_indices(&quoted).any(|(i, _)| {
                    lower
                        .get(i + quoted.len()..)
                        .is_some_and(|rest| rest.trim_start().starts_with(':'))
                });
                if as_key {
                    facts.keys.push((*k).to_owned());
                }
            }
            for url in lower
                .split('"')
                .filter(|s| s.contains("stratum+") || s.contains("://"))
                .take(16)
            {
                facts.pools.push(url.chars().take(200).collect());
            }
        }
    }
    facts.wallets = support::monero_addresses(text);
    let miner_keys = facts
        .keys
        .iter()
        .filter(|k| !MINER_CONFIG_SECTIONS.contains(&k.as_str()))
        .count();
    (miner_keys >= 1
        && (facts.keys.len() >= 2 || !facts.pools.is_empty() || !facts.wallets.is_empty()))
    .then_some(facts)
}

/// Whether a running process points at this config (by path in argv, or by running from its directory).
fn users_of<'a>(
    ctx: &'a Context,
    file: &FileRecord,
) -> Vec<&'a minetrace_schemas::records::process::ProcessRecord> {
    let path = file.path.as_bytes();
    let dir = path.rsplit_once_dir();
    ctx.model
        .processes
        .iter()
        .filter(|p| {
            let argv_names = p.argv().iter().any(|a| contains(a, path));
            let same_dir = p
                .exe
                .as_ref()
                .is_some_and(|e| e.path.as_bytes().rsplit_once_dir() == dir)
                || p.cwd.as_ref().is_some_and(|c| Some(c.as_bytes()) == dir)
                    && p.argv()
                        .iter()
                        .any(|a| contains(a, support::basename(path)));
            argv_names || same_dir
        })
        .collect()
}

trait DirOf {
    fn rsplit_once_dir(&self) -> Option<&[u8]>;
}

impl DirOf for [u8] {
    fn rsplit_once_dir(&self) -> Option<&[u8]> {
        let i = self.iter().rposition(|b| *b == b'/')?;
        self.get(..i)
    }
}

/// `MT-RUN-013` for a config whose content the collector did not capture: a `miner_config_name` file
/// (`config.json`, `pools.txt`, ...) in the directory of a running executable that sits in an odd place.
/// Medium; high when that process also has a miner name or command line.
fn uncaptured_config(ctx: &Context, f: &FileRecord) -> Option<Finding> {
    let path = f.path.as_bytes();
    let base = support::lower(support::basename(path));
    if !ctx.iocs.contains(Kind::MinerConfigName, &base) {
        return None;
    }
    let dir = path.rsplit_once_dir()?;
    let owners: Vec<&ProcessRecord> = ctx
        .model
        .processes
        .iter()
        .filter(|p| {
            let exe_dir = p
                .exe
                .as_ref()
                .and_then(|e| e.path.as_bytes().rsplit_once_dir());
            let cwd = p.cwd.as_ref().map(|c| c.as_bytes());
            (exe_dir == Some(dir) || cwd == Some(dir)) && support::strongly_odd(ctx, p)
        })
        .take(16)
        .collect();
    if owners.is_empty() {
        return None;
    }
    let miner = owners.iter().any(|p| {
        !support::miner_cmdline(ctx, p).is_empty()
            || support::name_in(ctx, Kind::MinerName, &support::Names::of(p)).is_some()
    });
    let mut finding = finding(&rules::RUN_013, if miner { Severity::High } else { Severity::Medium })
    .subject(file_subject(f))
    .evidence(format!(
        "{} ({} bytes) sits beside a running executable in an odd place; its content was not captured",
        f.path.escaped(),
        f.size
    ));
    for p in owners {
        finding = finding.subject(process_subject(p)).evidence(format!(
            "beside {}",
            crate::detect::finding::describe_process(p)
        ));
    }
    Some(finding)
}

fn configs(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in &ctx.model.files {
        if f.kind != FileKind::Regular || f.size > MAX_CONFIG as u64 {
            continue;
        }
        let Some(content) = ctx.model.content(f) else {
            if let Some(finding) = uncaptured_config(ctx, f) {
                out.push(finding);
            }
            continue;
        };
        let Some(facts) = parse_config(content) else {
            continue;
        };
        let users = users_of(ctx, f);
        let score = 3 + u32::from(!users.is_empty()) * 2 + u32::from(!facts.wallets.is_empty());
        let severity = match score {
            6.. => Severity::Critical,
            5 => Severity::High,
            _ => Severity::Medium,
        };
        let mut finding = finding(&rules::RUN_013, severity)
            .subject(file_subject(f))
            .evidence(format!(
                "{} has miner keys {:?}",
                f.path.escaped(),
                facts.keys
            ));
        for p in facts.pools.iter().take(8) {
            finding = finding.evidence(format!("pool {}", RawBytes::from(p.as_str()).escaped()));
        }
        if let Some(d) = &facts.donate {
            finding = finding.evidence(format!(
                "donate-level {}",
                RawBytes::from(d.as_str()).escaped()
            ));
        }
        for w in &facts.wallets {
            finding = finding.evidence(format!("Monero wallet {}", support::short_wallet(w)));
        }
        for p in users {
            finding = finding.subject(process_subject(p)).evidence(format!(
                "used by {}",
                crate::detect::finding::describe_process(p)
            ));
        }
        out.push(finding);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let iocs = Indicators::builtin();
        let m = Matcher::new(&iocs);
        {
            for bytes in [
                &b""[..],
                b"\x7fELF",
                b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                b"#!/bin/sh\necho stratum+tcp://x\n",
            ] {
                let facts = analyse(&iocs, bytes, m.as_ref(), MAX_TOTAL_SCAN);
                assert!(facts.malformed.is_some(), "{bytes:?}");
            }
        }
    }

    #[test]
    fn truncated_real_elf_never_panics() {
        let Ok(bin) = std::fs::read("/bin/sleep") else {
            return;
        };
        let iocs = Indicators::builtin();
        let m = Matcher::new(&iocs);
        {
            for cut in [16, 64, 100, 1000, 5000, bin.len() / 2] {
                let _ = analyse(
                    &iocs,
                    bin.get(..cut).unwrap_or(&bin),
                    m.as_ref(),
                    MAX_TOTAL_SCAN,
                );
            }
            let mut flipped = bin.clone();
            for i in (0..flipped.len().min(4096)).step_by(7) {
                if let Some(b) = flipped.get_mut(i) {
                    *b ^= 0xa5;
                }
            }
            let _ = analyse(&iocs, &flipped, m.as_ref(), MAX_TOTAL_SCAN);
            let clean = analyse(&iocs, &bin, m.as_ref(), MAX_TOTAL_SCAN);
            assert!(clean.malformed.is_none());
            assert!(!clean.miner_code());
            let mut fake = bin.clone();
            fake.extend_from_slice(b"\0XMRig/%s libuv/%s%s\0stratum+tcp://\0");
            assert!(analyse(&iocs, &fake, m.as_ref(), MAX_TOTAL_SCAN).miner_code());
            // One concept (a test binary naming a miner flag) is not miner code.
            let mut named = bin.clone();
            named.extend_from_slice(b"\0--donate-level\0donate-level\0hashrate\0");
            assert!(!analyse(&iocs, &named, m.as_ref(), MAX_TOTAL_SCAN).miner_code());
        }
    }

    #[test]
    fn a_top_level_stratum_url_is_a_miner_config_whatever_the_coin() {
        let cpuminer = br#"{ "url": "stratum+tcp://dash.pool.example:9989", "user": "XwDash.w1", "pass": "x", "algo": "x11", "threads": 2 }"#;
        let facts = parse_config(cpuminer).expect("cpuminer config");
        assert_eq!(
            facts.pools,
            vec!["stratum+tcp://dash.pool.example:9989".to_owned()]
        );
        // An API client's config with a URL is not one.
        let client = br#"{ "url": "https://api.example.com:8443/v1", "user": "svc", "pass": "x" }"#;
        assert!(parse_config(client).is_none());
    }

    /// Review of train 2, item 8: the collector stores a miner's config with its secret values replaced
    /// by the shared marker; the copy still parses, with its pools and wallet (the end-to-end half, a
    /// collected bundle, is `tests/tests/redacted_config.rs`).
    #[test]
    fn a_config_with_redacted_secrets_is_still_a_miner_config() {
        use minetrace_schemas::miner_config::redaction_marker;
        let wallet = format!("4{}", "A".repeat(94));
        let cfg = format!(
            r#"{{"password": "{}", "pools": [{{"url": "127.66.0.1:3333", "user": "{wallet}", "pass": "{}"}}], "donate-level": 1}}"#,
            redaction_marker(0),
            redaction_marker(1)
        );
        let facts = parse_config(cfg.as_bytes()).expect("redacted config");
        assert_eq!(facts.pools, vec!["127.66.0.1:3333".to_owned()]);
        assert_eq!(facts.wallets.len(), 1, "{facts:?}");
    }

    #[test]
    fn xmrig_config_is_recognised_and_package_json_is_not() {
        let cfg = br#"{"autosave": true, "donate-level": 0, "cpu": {"enabled": true},
            "pools": [{"url": "pool.supportxmr.com:443", "user": "x", "tls": true}]}"#;
        let facts = parse_config(cfg).unwrap();
        assert_eq!(facts.pools, vec!["pool.supportxmr.com:443".to_string()]);
        assert_eq!(facts.donate.as_deref(), Some("0"));
        assert!(parse_config(br#"{"name": "x", "cpu": 1, "dependencies": {}}"#).is_none());
        assert!(parse_config(br#"{"pools": "a word in some other json"}"#).is_none());
        // Object files embedding indicator text are not configs.
        assert!(parse_config(
            b"\x7fELF\0\0 \"pools\" \"donate-level\" \"randomx\" stratum+tcp://x"
        )
        .is_none());
        let stak = b"/* xmr-stak */\n\"pool_list\" :\n[ {\"pool_address\" : \"pool.x.com:3333\", \"wallet_address\" : \"w\"} ],";
        assert!(parse_config(stak).is_some());
    }
}
