//! The attack-trace graph built from the model and the findings (issue 7).
