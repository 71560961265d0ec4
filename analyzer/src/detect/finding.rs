//! Building findings and their subjects the same way in every detector.

use minetrace_schemas::findings::{Finding, FindingSubject, Role, Severity, Subject};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::RawBytes;

use crate::detect::rules::Rule;
use crate::model::HostModel;

/// Starts a finding of a rule: its id, title and ATT&CK ids come from the registry
/// ([`crate::detect::rules`]); detectors chain subjects, evidence and a family onto it.
pub fn finding(rule: &Rule, severity: Severity) -> Finding {
    Finding {
        rule: rule.id.to_owned(),
        severity,
        title: rule.title.to_owned(),
        family: None,
        attack: rule.attack.iter().map(|a| (*a).to_owned()).collect(),
        subjects: Vec::new(),
        evidence: Vec::new(),
    }
}

/// Chainable additions to a [`Finding`].
pub trait FindingExt {
    /// Adds a subject with the default role of its kind ([`Role::default_for`]).
    fn subject(self, s: Subject) -> Self;
    /// Adds a subject with the role the detector judged it to have (see `STATUS-roles.md`).
    fn subject_as(self, s: Subject, role: Role) -> Self;
    fn evidence(self, line: impl Into<String>) -> Self;
    fn family(self, family: Option<String>) -> Self;
}

impl FindingExt for Finding {
    fn subject(self, s: Subject) -> Self {
        let role = Role::default_for(&s);
        self.subject_as(s, role)
    }
    fn subject_as(mut self, s: Subject, role: Role) -> Self {
        match self.subjects.iter_mut().find(|x| x.subject == s) {
            Some(existing) => existing.role = existing.role.merge(role),
            None => self.subjects.push(FindingSubject::with_role(s, role)),
        }
        self
    }
    fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }
    fn family(mut self, family: Option<String>) -> Self {
        self.family = family;
        self
    }
}

/// The subject for a process: pid, start time and exe path identify it for the remediation script.
pub fn process_subject(p: &ProcessRecord) -> Subject {
    Subject::Process {
        pid: p.pid,
        start_ticks: p.start_ticks,
        exe: p.exe.as_ref().map(|e| e.path.clone()),
    }
}

/// The subject for the executable a process runs, when it is known.
pub fn exe_subject(model: &HostModel, p: &ProcessRecord) -> Option<Subject> {
    let exe = p.exe.as_ref()?;
    Some(Subject::File {
        path: exe.path.clone(),
        sha256: model.executable_of(p).and_then(|e| e.sha256.clone()),
    })
}

pub fn file_subject(f: &FileRecord) -> Subject {
    Subject::File {
        path: f.path.clone(),
        sha256: f.sha256.clone(),
    }
}

/// The subject for a file the snapshot holds no record of (a path a process or line names): its path
/// and no hash.
pub fn path_subject(path: &[u8]) -> Subject {
    Subject::File {
        path: RawBytes::from(path),
        sha256: None,
    }
}

pub fn persistence_subject(path: &RawBytes, line: u32) -> Subject {
    Subject::Persistence {
        path: path.clone(),
        line,
    }
}

/// A short, escaped rendering of a process for evidence lines: `pid 123 (comm) /path/exe args`.
pub fn describe_process(p: &ProcessRecord) -> String {
    let argv: Vec<String> = p
        .argv()
        .iter()
        .map(|a| minetrace_schemas::escape_bytes(a))
        .collect();
    let mut text = format!("pid {} ({})", p.pid, p.comm.escaped());
    if let Some(exe) = &p.exe {
        text.push_str(&format!(" exe {}", exe.path.escaped()));
        if exe.deleted {
            text.push_str(" (deleted)");
        }
    }
    if !argv.is_empty() {
        let mut joined = argv.join(" ");
        if joined.len() > 300 {
            let mut cut = 300;
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            joined.truncate(cut);
            joined.push_str("...");
        }
        text.push_str(&format!(" argv: {joined}"));
    }
    text
}
