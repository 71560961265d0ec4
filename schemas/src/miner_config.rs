//! What marks a text file as a cryptocurrency miner's configuration, for both sides: the collector stores
//! such a file named by a persistence entry (with its secret values redacted) instead of withholding it as
//! a credential file, and the analyzer parses it for pools and wallets. One list, so a file the analyzer
//! would call a miner config is never one the collector kept out of the bundle.

/// Keys only miner configurations have (XMRig, xmr-stak, cpuminer-multi, SRBMiner), lowercase. Quoted and
/// followed by `:` (JSON, or xmr-stak's brace-less JSON) they mark a config.
pub const MINER_CONFIG_KEYS: &[&str] = &[
    "pools",
    "donate-level",
    "donate-over-proxy",
    "randomx",
    "pool_list",
    "pool_address",
];

/// Keys of miner configurations that other programs' settings have too (XMRig's `"cpu"` section),
/// lowercase: evidence beside a [`MINER_CONFIG_KEYS`] key, never a config on their own.
pub const MINER_CONFIG_SECTIONS: &[&str] = &["cpu"];

/// How every mining-pool URL starts (`stratum+tcp://`, `stratum+ssl://`, `stratum2+tcp://`), lowercase:
/// the protocol is the pool's whatever the coin or port.
pub const POOL_URL_START: &str = "stratum";

/// Keys of one pool's account inside a config, lowercase (`"user"` holds the wallet): with a
/// [`MINER_CONFIG_KEYS`] key they tell a miner's `"pools"` from another program's.
pub const POOL_ACCOUNT_KEYS: &[&str] = &["url", "user", "wallet", "algo", "coin", "rig-id"];

/// What the collector writes in place of a secret value it redacted from a stored file:
/// `[redacted: N bytes]`, `N` the length of the value on the host: the analyst reading the stored copy
/// sees that a value was there and how long it was. A quoted value stays quoted, so a JSON config still
/// parses.
pub fn redaction_marker(len: usize) -> String {
    format!("{REDACTED_PREFIX}{len} bytes]")
}

/// The start of every [`redaction_marker`].
pub const REDACTED_PREFIX: &str = "[redacted: ";
