//! The bundle: one `tar` + `zstd` stream holding raw artifacts under `fs/`, copied executables under
//! `bin/`, structured records under `records/` and `manifest.json` last.

pub mod hashing_io;
pub mod member_name;
pub mod reader;
pub mod writer;

/// Member names of the structured records.
pub mod members {
    pub const HOST: &str = "records/host.pc";
    pub const PROCESSES: &str = "records/processes.pc";
    pub const EXECUTABLES: &str = "records/executables.pc";
    pub const SOCKETS: &str = "records/sockets.pc";
    pub const FILES: &str = "records/files.pc";
    pub const COMMANDS: &str = "records/commands.pc";
    /// `RecordSetV1::Shadow`: derived from `/etc/shadow`, never the hashes.
    pub const SHADOW: &str = "records/shadow.pc";
    /// `RecordSetV1::Packages`: package-database digests next to actual digests.
    pub const PACKAGES: &str = "records/packages.pc";
    /// `RecordSetV1::Mounts`: the collected root's mount table (`records::mount`).
    pub const MOUNTS: &str = "records/mounts.pc";
    /// `RecordSetV1::Addresses`: the host's interface addresses.
    pub const ADDRESSES: &str = "records/addresses.pc";
    /// `RecordSetV1::Routes`: the host's routes (`records::route`).
    pub const ROUTES: &str = "records/routes.pc";
    /// `RecordSetV1::ImageTimes`: the times of running images that were deleted (`records::executable`).
    pub const IMAGE_TIMES: &str = "records/image_times.pc";

    /// Member name of a copied executable.
    pub fn binary(sha256: &str) -> String {
        format!("bin/{sha256}")
    }
}

pub use reader::{read_bundle, Bundle, BundleError, ReadLimits};
pub use writer::{BundleSummary, BundleWriter, WriteError};
