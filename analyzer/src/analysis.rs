//! One analysis of one bundle: the model, the findings and the verdict, computed once and handed to
//! every output (terminal summary, findings.json, report, graph, exports, remediation script).

use std::path::Path;

use anyhow::Result;
use minetrace_schemas::findings::{FindingsDocument, FINDINGS_SCHEMA};

use crate::allowlist::Allowlist;
use crate::detect;
use crate::indicators::Indicators;
use crate::load;
use crate::model::HostModel;

pub struct Analysis {
    pub model: HostModel,
    pub document: FindingsDocument,
    /// Integrity problems of a bundle analysed anyway (`--allow-tampered`); every output shows them.
    pub integrity_problems: Vec<String>,
    /// The indicators the findings were judged with (their path classes are what the graph draws by).
    pub iocs: Indicators,
}

/// Settings that change what is detected.
#[derive(Default)]
pub struct AnalysisInputs {
    pub iocs: Indicators,
    pub allow: Allowlist,
    pub allow_tampered: bool,
}

impl Analysis {
    pub fn run(bundle: &Path, inputs: &AnalysisInputs) -> Result<Analysis> {
        let (model, problems) = load::model(bundle, inputs.allow_tampered)?;
        Ok(Analysis::of_model(
            model,
            inputs,
            problems.iter().map(ToString::to_string).collect(),
        ))
    }

    pub fn of_model(
        model: HostModel,
        inputs: &AnalysisInputs,
        integrity_problems: Vec<String>,
    ) -> Analysis {
        let findings = detect::analyze(&model, &inputs.iocs, &inputs.allow);
        let entry = crate::entry::infer(&model, &inputs.iocs, &findings);
        let document = FindingsDocument {
            schema: FINDINGS_SCHEMA.into(),
            verdict: detect::verdict(&findings),
            tampered: !integrity_problems.is_empty(),
            bundle_sha256: model.bundle_sha256.clone(),
            host: model.manifest.host.clone(),
            analyzer_version: env!("CARGO_PKG_VERSION").into(),
            findings,
            entry,
        };
        Analysis {
            model,
            document,
            integrity_problems,
            iocs: inputs.iocs.clone(),
        }
    }
}
