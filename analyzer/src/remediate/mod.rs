//! The remediation script generator (issue 8).
