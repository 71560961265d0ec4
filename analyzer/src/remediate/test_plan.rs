//! Plans for unit tests: a findings document as the analysis writes it and the plan built from it, so
//! each planner module's tests state only the model and the findings.

use minetrace_schemas::findings::{Finding, FindingsDocument, Verdict};

use super::plan::Plan;
use crate::indicators::Indicators;
use crate::model::HostModel;

/// A compromised host's findings document holding `findings`.
pub fn doc(findings: Vec<Finding>) -> FindingsDocument {
    FindingsDocument {
        schema: "minetrace.findings/1".into(),
        verdict: Verdict::Compromised,
        tampered: false,
        bundle_sha256: String::new(),
        host: Default::default(),
        analyzer_version: "test".into(),
        findings,
        entry: Vec::new(),
    }
}

/// The plan for a model and its findings document, through the graph the analysis would build.
pub fn plan_of(model: HostModel, document: FindingsDocument) -> Plan {
    super::build_plan(&crate::analysis::Analysis {
        model,
        document,
        integrity_problems: Vec::new(),
        iocs: Indicators::builtin(),
    })
}
