//! Package integrity of the binaries miners replace and of every running executable: the owning package,
//! the digest its package database recorded, and the digest of the file as it is now.

use serde::{Deserialize, Serialize};

use crate::RawBytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackageManager {
    Dpkg,
    Rpm,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageCheck {
    /// The path checked, as the host names it (`/usr/bin/ps`, a running exe's path).
    pub path: RawBytes,
    /// Why it was checked: `system-binary`, `running-exe` or `preload`.
    pub reason: String,
    /// The path the package database lists, when it differs from `path` (merged-`/usr` aliases, links).
    pub listed_as: Option<RawBytes>,
    pub manager: Option<PackageManager>,
    /// Owning package (`procps`, `openssh-server:amd64`).
    pub package: Option<String>,
    /// Lowercase hex MD5 from the package database (dpkg `md5sums`).
    pub expected_md5: Option<String>,
    pub actual_md5: Option<String>,
    pub actual_sha256: Option<String>,
    pub size: Option<u64>,
    pub verdict: PackageVerdict,
    pub error: Option<String>,
}
