//! Opening a bundle for any subcommand, with errors that name the file and the problem.

use std::path::Path;

use minetrace_schemas::bundle::{Bundle, BundleError, ReadLimits};

use crate::model::HostModel;

/// A bundle that could not be used, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {err}")]
pub struct LoadError {
    pub path: String,
    pub err: BundleError,
}

/// Opens and checks a bundle. Integrity problems fail the load unless `allow_tampered`, in which case they
/// are returned alongside so every output can be marked.
pub fn open(path: &Path, allow_tampered: bool) -> Result<(Bundle, Vec<BundleError>), LoadError> {
    let wrap = |err| LoadError {
        path: path.display().to_string(),
        err,
    };
    let mut bundle = Bundle::open(path, ReadLimits::default()).map_err(wrap)?;
    let problems = std::mem::take(&mut bundle.problems);
    if !allow_tampered {
        if let Some(first) = problems.into_iter().next() {
            return Err(wrap(first));
        }
        return Ok((bundle, Vec::new()));
    }
    Ok((bundle, problems))
}

/// Opens a bundle and builds the host model from it.
pub fn model(
    path: &Path,
    allow_tampered: bool,
) -> Result<(HostModel, Vec<BundleError>), LoadError> {
    let (bundle, problems) = open(path, allow_tampered)?;
    let model = HostModel::from_bundle(bundle).map_err(|err| LoadError {
        path: path.display().to_string(),
        err,
    })?;
    Ok((model, problems))
}
