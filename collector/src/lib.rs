//! The collector: reads the live host (or a mounted image) and streams one bundle.
//!
//! `run` drives the artifact modules in a fixed order; each module owns one artifact family and writes
//! members and records through [`collection::Collection`].

pub mod collection;
pub mod files;
pub mod host_read;
pub mod live;
pub mod options;
pub mod package_index;
pub mod parallel;
pub mod rpmdb;
pub mod run;

pub use run::run;
