//! `fleet.stix.json`: a STIX 2.1 bundle of the fleet.
//! - `identity` (class `system`) per compromised or suspicious host;
//! - `campaign` per cluster, `targets` each of its hosts;
//! - `indicator` per shared indicator that has a STIX pattern (file hash, URL, domain, IP of an
//!   endpoint), `indicates` the campaigns whose hosts share it; wallets and SSH key fingerprints have no
//!   STIX observable and are named in the campaign's description instead;
//! - `note` per lateral edge between named ends and one for the proposed first infected host.
//!
//! Ids are deterministic (from the bundles' sha256s); times are the latest first-seen time or the epoch,
//! never the wall clock, so the same bundles give the same document.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use minetrace_schemas::findings::Verdict;
use minetrace_schemas::fleet::{
    Cluster, FleetDocument, IndicatorKind, LateralEdge, SharedIndicator, Weight,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::graph::network::split_addr;
use crate::output::stix::{pattern_literal, Builder};

/// The STIX pattern of an indicator, when STIX has an observable for it.
fn pattern(i: &SharedIndicator) -> Option<String> {
    let v = pattern_literal(&i.value);
    Some(match i.kind {
        IndicatorKind::Sha256 => format!("[file:hashes.'SHA-256' = '{v}']"),
        IndicatorKind::Url => format!("[url:value = '{v}']"),
        IndicatorKind::Domain => format!("[domain-name:value = '{v}']"),
        IndicatorKind::Endpoint => {
            let (ip, port) = split_addr(&i.value)?;
            let ty = if ip.is_ipv4() {
                "ipv4-addr"
            } else {
                "ipv6-addr"
            };
            format!("[network-traffic:dst_ref.type = '{ty}' AND network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port = {port}]")
        }
        IndicatorKind::Wallet | IndicatorKind::SshKey | IndicatorKind::KeyComment => return None,
    })
}

pub fn document(doc: &FleetDocument) -> Value {
    let mut seed = Sha256::new();
    for h in &doc.hosts {
        seed.update(h.sha256.as_bytes());
    }
    let created = doc
        .hosts
        .iter()
        .filter_map(|h| h.first_seen.clone())
        .max()
        .map(|t| crate::output::iso_ms(super::timesketch::parse_us(&t).unwrap_or(0) / 1000))
        .unwrap_or_else(|| crate::output::iso_ms(0));
    let mut b = Builder::start(
        format!("fleet|{}", hex::encode(seed.finalize())),
        created,
        &format!("minetrace fleet {}", doc.analyzer_version),
    );
    let host_ids = hosts(&mut b, doc);
    for (n, c) in doc.clusters.iter().enumerate() {
        campaign(&mut b, n, c, &host_ids);
    }
    for e in &doc.lateral {
        lateral_note(&mut b, e, &host_ids);
    }
    if let Some(f) = &doc.first_infected {
        if let Some(hid) = host_ids.get(f.host.as_str()) {
            let id = b.sdo_id("note", "first-infected");
            let mut m = b.common("note", &id);
            m.insert(
                "abstract".into(),
                json!(format!("probable first infected host: {}", f.host)),
            );
            m.insert("content".into(), json!(f.why.join(" | ")));
            m.insert("object_refs".into(), json!([hid]));
            b.add(Value::Object(m));
        }
    }
    b.finish()
}

/// One `identity` per host that is not clean; returns each one's id by host name.
fn hosts<'d>(b: &mut Builder, doc: &'d FleetDocument) -> BTreeMap<&'d str, String> {
    let mut host_ids: BTreeMap<&str, String> = BTreeMap::new();
    for h in doc.hosts.iter().filter(|h| h.verdict != Verdict::Clean) {
        let id = b.sdo_id("identity", &format!("host|{}", h.name));
        let mut m = b.common("identity", &id);
        m.insert("name".into(), json!(h.name));
        m.insert("identity_class".into(), json!("system"));
        m.insert(
            "description".into(),
            json!(format!(
                "host {} ({}), verdict {:?}, addresses {}",
                h.hostname,
                h.bundle,
                h.verdict,
                h.addresses.join(" ")
            )),
        );
        b.add(Value::Object(m));
        host_ids.insert(h.name.as_str(), id);
    }
    host_ids
}

/// The `campaign` of cluster `n`: `targets` to its hosts, and an `indicator` that `indicates` it for
/// each shared indicator STIX has a pattern for (the others are named in its description).
fn campaign(b: &mut Builder, n: usize, c: &Cluster, host_ids: &BTreeMap<&str, String>) {
    let key = format!("cluster|{}", c.hosts.join(","));
    let id = b.sdo_id("campaign", &key);
    let mut m = b.common("campaign", &id);
    m.insert("name".into(), json!(format!("minetrace cluster {}", n + 1)));
    let unpatterned: Vec<String> = c
        .indicators
        .iter()
        .filter(|i| pattern(i).is_none())
        .map(|i| format!("{} {}", i.kind.name(), i.value))
        .collect();
    m.insert(
        "description".into(),
        json!(format!(
            "{} hosts sharing a compromise: {}. Shared: {}",
            c.hosts.len(),
            c.hosts.join(", "),
            if unpatterned.is_empty() {
                "see indicators".to_owned()
            } else {
                unpatterned.join("; ")
            }
        )),
    );
    let campaign = b.add(Value::Object(m));
    for h in &c.hosts {
        if let Some(hid) = host_ids.get(h.as_str()) {
            b.relationship(&campaign, "targets", hid, 85);
        }
    }
    for i in &c.indicators {
        let Some(p) = pattern(i) else { continue };
        let confidence = if i.weight == Weight::Strong { 85 } else { 15 };
        let ind = b.indicator(
            &format!("{}|{}", i.kind.name(), i.value),
            format!("{} {}", i.kind.name(), i.value),
            p,
            confidence,
            format!("seen on {} hosts: {}", i.hosts.len(), i.hosts.join(", ")),
        );
        b.relationship(&ind, "indicates", &campaign, confidence);
    }
}

/// A `note` on a lateral edge, referring to whichever of its ends are identities.
fn lateral_note(b: &mut Builder, e: &LateralEdge, host_ids: &BTreeMap<&str, String>) {
    let refs: Vec<&String> = [e.from.as_str(), e.to.as_str()]
        .iter()
        .filter_map(|n| host_ids.get(n))
        .collect();
    if refs.is_empty() {
        return;
    }
    let id = b.sdo_id("note", &format!("lateral|{}|{}", e.from, e.to));
    let mut m = b.common("note", &id);
    m.insert(
        "abstract".into(),
        json!(format!("lateral movement {} -> {}", e.from, e.to)),
    );
    m.insert(
        "content".into(),
        json!(format!(
            "{} ({:?}{}): {}",
            format_args!("{} -> {}", e.from, e.to),
            e.level,
            e.time
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            e.evidence.join(" | ")
        )),
    );
    m.insert("object_refs".into(), json!(refs));
    b.add(Value::Object(m));
}

pub fn write(doc: &FleetDocument, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(doc))?;
    writeln!(out)?;
    Ok(())
}
