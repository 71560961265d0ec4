//! Private SSH keys kept next to a `known_hosts` (`MT-LAT-002`, T1552.004, T1021.004): the key opens
//! every host listed, and miner worms (8220's `spirit`, Watchdogs) walk `known_hosts` with it.
//! Admins keep keys too, so this is low; for a service account it is medium. Only metadata and a hash
//! of the key are in the bundle, never its bytes.

use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::{account_subject, describe_file};
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::parse::{basename, contains, dirname};

fn is_private_key(path: &[u8]) -> bool {
    contains(path, b"/.ssh/") && is_private_key_name(basename(path))
}

/// A private key's file name as ssh-keygen writes it (`id_rsa`, `id_ed25519`: `id_*` without `.pub`).
pub fn is_private_key_name(name: &[u8]) -> bool {
    name.starts_with(b"id_") && !name.ends_with(b".pub")
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let model = ctx.model;
    let accounts = &model.accounts;
    let mut out = Vec::new();
    for key in model
        .files
        .iter()
        .filter(|f| is_private_key(f.path.as_bytes()))
    {
        let dir = dirname(key.path.as_bytes());
        let kh_path = [dir, b"/known_hosts"].concat();
        let Some((kh_index, kh)) = model
            .file_index(&kh_path)
            .and_then(|i| Some((i, model.files.get(i)?)))
        else {
            continue;
        };
        let hosts: Vec<_> = model.ssh.known_hosts_of(kh_index).collect();
        if hosts.is_empty() {
            continue;
        }
        let owner = accounts
            .owner_of_path(key.path.as_bytes())
            .map(|e| e.name.clone());
        let service = owner
            .as_deref()
            .is_some_and(|o| accounts.is_service(ctx.iocs, o));
        let sev = if service {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut f = finding(&rules::LAT_002, sev)
            .subject_as(file_subject(key), Role::Context)
            .subject_as(file_subject(kh), Role::Evidence)
            .evidence(format!("private key: {}", describe_file(key)))
            .evidence(format!(
                "{} lists {} host keys ({} hashed)",
                kh.path.escaped(),
                hosts.len(),
                hosts.iter().filter(|h| h.hashed).count()
            ));
        for h in hosts.iter().filter(|h| !h.hashed).take(10) {
            f = f.evidence(format!(
                "known host {}",
                minetrace_schemas::escape_bytes(&h.hosts)
            ));
        }
        if let Some(o) = &owner {
            f = f.subject(account_subject(accounts, o));
            if service {
                f = f.evidence("the key belongs to a service account");
            }
        }
        out.push(f);
    }
    out
}
