//! Package integrity of the binaries miners replace and of every running executable: the owning package,
//! the digest its package database recorded, and the digest of the file as it is now.

use serde::{Deserialize, Serialize};

use crate::RawBytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackageManager {
    Dpkg,
    Rpm,
}

/// A file digest algorithm a package database records (dpkg: MD5; rpm: the header's
/// `FILEDIGESTALGO`, SHA-256 since EL6-era rpm, MD5 before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "md5",
            DigestAlgorithm::Sha1 => "sha1",
            DigestAlgorithm::Sha224 => "sha224",
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }
}

/// A digest with its algorithm, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub algorithm: DigestAlgorithm,
    pub hex: String,
}

impl std::fmt::Display for FileDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// The comparison's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackageVerdict {
    /// The file's digest equals the one its package recorded.
    Match,
    /// The file differs from what its package installed: replaced or patched.
    Mismatch,
    /// No installed package lists this path.
    NotOwned,
    /// A package lists the path but recorded no digest for it (conffiles, or a database the collector
    /// cannot read).
    NoDigest,
    /// The file could not be read (see `error`).
    Unreadable,
    /// A package installed this path (its database lists it, with the digest it recorded) and nothing is
    /// there: a tool moved away (`mv /usr/bin/chattr /usr/bin/zzh`) or a half-installed host. Only on
    /// [`PACKAGED_MISSING`] checks. Appended last: postcard numbers variants, so bundles written before
    /// it still decode.
    Missing,
}

/// `PackageCheck::reason` of a path in a system binary directory that the package database lists with a
/// digest and that is missing on disk (verdict [`PackageVerdict::Missing`], `expected_digest` the
/// package's): where a moved tool belongs.
pub const PACKAGED_MISSING: &str = "packaged-missing";

/// `PackageCheck::reason` of a file in a system binary directory that no package owns (verdict
/// `NotOwned`), hashed in the algorithm of a [`PACKAGED_MISSING`] path's digest (`actual_digest`; dpkg
/// records no size, so every such file is hashed): a moved tool is the file whose digest equals one.
pub const UNOWNED_SYSTEM_BIN: &str = "unowned-system-bin";

/// The reasons whose checks judge a file's integrity: a binary, running executable or preloaded library
/// the package installed as it is. A `persistence-config` check (units, cron, rc, sudoers, APT hooks,
/// dpkg conffiles) answers only who owns the file: conffiles are meant to be edited, so its digest
/// differing is an admin's edit as often as an intruder's and never "a system binary replaced".
pub const INTEGRITY_REASONS: &[&str] = &["system-binary", "running-exe", "preload"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageCheck {
    /// The path checked, as the host names it (`/usr/bin/ps`, a running exe's path).
    pub path: RawBytes,
    /// Why it was checked: `system-binary`, `running-exe`, `preload` (integrity: [`INTEGRITY_REASONS`]),
    /// `persistence-config` (ownership only: [`PackageCheck::judges_integrity`]), or for moved tools
    /// [`PACKAGED_MISSING`] (a package's path with nothing there) and [`UNOWNED_SYSTEM_BIN`] (an unowned
    /// file's digest in the package database's algorithm).
    pub reason: String,
    /// The path the package database lists, when it differs from `path` (merged-`/usr` aliases, links).
    pub listed_as: Option<RawBytes>,
    pub manager: Option<PackageManager>,
    /// Owning package (`procps`, `openssh-server:amd64`, `procps-ng-3.3.17-14.el9.x86_64`).
    pub package: Option<String>,
    /// The digest the package database recorded (dpkg `md5sums`; rpm `FILEDIGESTS`).
    pub expected_digest: Option<FileDigest>,
    /// The file's digest now, in the expected digest's algorithm (MD5 when nothing was expected).
    pub actual_digest: Option<FileDigest>,
    pub actual_sha256: Option<String>,
    pub size: Option<u64>,
    pub verdict: PackageVerdict,
    pub error: Option<String>,
}

impl PackageCheck {
    /// Whether this check's digest verdict says anything about the file's integrity (its reason is one
    /// of [`INTEGRITY_REASONS`]); otherwise only its ownership (`package`, `NotOwned`) is a fact.
    pub fn judges_integrity(&self) -> bool {
        INTEGRITY_REASONS.contains(&self.reason.as_str())
    }
}
