//! `iocs.stix.json`: a STIX 2.1 bundle of what the findings point at.
//! - `indicator` per malicious or suspicious file hash, endpoint, domain and URL (and per domain/URL one
//!   edge away from one), pattern type `stix`, confidence from the verdict or the edge level;
//! - `malware` per attributed family (else one unattributed miner), `indicates` relationships to it;
//! - `infrastructure` (type `mining-pool`, an open-vocabulary value) for pool endpoints and domains, with
//!   `consists-of` to their observables and the malware `beacons-to` it;
//! - `attack-pattern` per ATT&CK id, `uses` from the malware;
//! - SCOs (`file`, `ipv4-addr`/`ipv6-addr`, `network-traffic`, `domain-name`, `url`) in one
//!   `observed-data` stamped with the snapshot time.
//!
//! Ids: SCOs use UUIDv5 over their id-contributing properties in the STIX namespace, as the spec says;
//! SDOs and SROs use UUIDv5 over (bundle sha256, type, key) in minetrace's namespace, so the same bundle
//! always gives the same document. Times are the collection's, never the wall clock.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::Result;
use petgraph::visit::EdgeRef;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::analysis::Analysis;
use crate::graph::network::split_addr;
use crate::graph::nodes::{Level, Node, NodeKind, NodeVerdict, Relation};
use crate::graph::Trace;
use crate::output::iso_ms;

/// The STIX 2.1 namespace for SCO ids (spec section 2.9).
const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);
/// minetrace's namespace for SDO and SRO ids.
const MINETRACE_NAMESPACE: Uuid = Uuid::from_u128(0x6d69_6e65_7472_4163_a000_0000_0000_0007);

/// Escapes a STIX pattern string literal (`\` and `'`).
pub fn pattern_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A STIX bundle under construction: deterministic ids from `seed`, every object created at `created`
/// by minetrace's identity. Shared by the single-host export and the fleet export.
pub(crate) struct Builder {
    pub(crate) seed: String,
    pub(crate) created: String,
    pub(crate) identity: String,
    objects: BTreeMap<String, Value>,
    pub(crate) scos: BTreeSet<String>,
}

impl Builder {
    /// A builder holding minetrace's `identity` (named `name`).
    pub(crate) fn start(seed: String, created: String, name: &str) -> Builder {
        let mut b = Builder {
            seed,
            created,
            identity: String::new(),
            objects: BTreeMap::new(),
            scos: BTreeSet::new(),
        };
        let identity = b.sdo_id("identity", "minetrace");
        b.identity = identity.clone();
        let mut ident = serde_json::Map::new();
        for (k, v) in [
            ("type", json!("identity")),
            ("spec_version", json!("2.1")),
            ("id", json!(identity)),
            ("created", json!(b.created)),
            ("modified", json!(b.created)),
            ("name", json!(name)),
            ("identity_class", json!("system")),
        ] {
            ident.insert(k.into(), v);
        }
        b.add(Value::Object(ident));
        b
    }

    /// The bundle: identity first, then by type and id, a stable order.
    pub(crate) fn finish(self) -> Value {
        let bundle_id = format!(
            "bundle--{}",
            Uuid::new_v5(
                &MINETRACE_NAMESPACE,
                format!("{}|bundle", self.seed).as_bytes()
            )
        );
        let mut objects: Vec<Value> = self.objects.into_values().collect();
        objects.sort_by_key(|o| {
            let field = |k: &str| {
                o.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let ty = field("type");
            (ty != "identity", ty, field("id"))
        });
        json!({"type": "bundle", "id": bundle_id, "objects": objects})
    }

    pub(crate) fn sdo_id(&self, ty: &str, key: &str) -> String {
        let name = format!("{}|{ty}|{key}", self.seed);
        format!(
            "{ty}--{}",
            Uuid::new_v5(&MINETRACE_NAMESPACE, name.as_bytes())
        )
    }

    pub(crate) fn sco_id(ty: &str, contributing: &Value) -> String {
        // serde_json maps are sorted, which with these simple ASCII values is the JCS canonical form.
        let text = contributing.to_string();
        format!("{ty}--{}", Uuid::new_v5(&SCO_NAMESPACE, text.as_bytes()))
    }

    pub(crate) fn add(&mut self, obj: Value) -> String {
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.objects.entry(id.clone()).or_insert(obj);
        id
    }

    pub(crate) fn sco(
        &mut self,
        ty: &str,
        contributing: Value,
        mut extra: serde_json::Map<String, Value>,
    ) -> String {
        let id = Builder::sco_id(ty, &contributing);
        extra.insert("type".into(), json!(ty));
        extra.insert("spec_version".into(), json!("2.1"));
        extra.insert("id".into(), json!(id));
        if let Value::Object(c) = contributing {
            for (k, v) in c {
                extra.insert(k, v);
            }
        }
        self.scos.insert(id.clone());
        self.add(Value::Object(extra))
    }

    pub(crate) fn common(&self, ty: &str, id: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), json!(ty));
        m.insert("spec_version".into(), json!("2.1"));
        m.insert("id".into(), json!(id));
        m.insert("created".into(), json!(self.created));
        m.insert("modified".into(), json!(self.created));
        m.insert("created_by_ref".into(), json!(self.identity));
        m
    }

    pub(crate) fn indicator(
        &mut self,
        key: &str,
        name: String,
        pattern: String,
        confidence: u8,
        description: String,
    ) -> String {
        let id = self.sdo_id("indicator", key);
        let mut m = self.common("indicator", &id);
        m.insert("name".into(), json!(name));
        m.insert("description".into(), json!(description));
        m.insert("indicator_types".into(), json!(["malicious-activity"]));
        m.insert("pattern".into(), json!(pattern));
        m.insert("pattern_type".into(), json!("stix"));
        m.insert("pattern_version".into(), json!("2.1"));
        m.insert("valid_from".into(), json!(self.created));
        m.insert("confidence".into(), json!(confidence));
        self.add(Value::Object(m))
    }

    pub(crate) fn relationship(&mut self, source: &str, rel: &str, target: &str, confidence: u8) {
        let id = self.sdo_id("relationship", &format!("{source}|{rel}|{target}"));
        let mut m = self.common("relationship", &id);
        m.insert("relationship_type".into(), json!(rel));
        m.insert("source_ref".into(), json!(source));
        m.insert("target_ref".into(), json!(target));
        m.insert("confidence".into(), json!(confidence));
        self.add(Value::Object(m));
    }
}

fn verdict_confidence(v: NodeVerdict) -> u8 {
    match v {
        NodeVerdict::Malicious => Level::Observed.confidence(),
        NodeVerdict::Suspicious => Level::Parsed.confidence(),
        _ => Level::Suspected.confidence(),
    }
}

/// Whether a node is a pool: a finding about it is a mining finding (its rule names T1496), or the graph
/// found it named as a pool on a command line ([`Node::named_as_pool`]).
fn is_pool(n: &Node) -> bool {
    n.attack.iter().any(|a| a.starts_with("T1496")) || n.named_as_pool
}

pub fn document(analysis: &Analysis, trace: &Trace) -> Value {
    let doc = &analysis.document;
    let m = &analysis.model.manifest;
    let ms = if m.ended_unix_ms > 0 {
        m.ended_unix_ms
    } else {
        m.started_unix_ms
    };
    let seed = if doc.bundle_sha256.is_empty() {
        doc.host.boot_id.clone()
    } else {
        doc.bundle_sha256.clone()
    };
    let mut b = Builder::start(
        seed,
        iso_ms(ms),
        &format!("minetrace analyzer {}", doc.analyzer_version),
    );

    // Malware: one per family, or one unattributed miner when anything is flagged at all.
    let families: BTreeSet<String> = doc
        .findings
        .iter()
        .filter_map(|f| f.family.clone())
        .collect();
    let flagged = doc
        .findings
        .iter()
        .any(|f| f.severity >= minetrace_schemas::findings::Severity::Medium);
    let mut malware = Vec::new();
    let host = minetrace_schemas::escape_bytes(doc.host.hostname.as_bytes());
    for fam in &families {
        let id = b.sdo_id("malware", fam);
        let mut o = b.common("malware", &id);
        o.insert(
            "name".into(),
            json!(minetrace_schemas::escape_bytes(fam.as_bytes())),
        );
        o.insert("is_family".into(), json!(true));
        o.insert("malware_types".into(), json!(["resource-exploitation"]));
        o.insert(
            "description".into(),
            json!(format!(
                "{} family attributed by minetrace on host {host} from what runs and persists",
                minetrace_schemas::escape_bytes(fam.as_bytes())
            )),
        );
        malware.push(b.add(Value::Object(o)));
    }
    if families.is_empty() && flagged {
        let id = b.sdo_id("malware", "unattributed");
        let mut o = b.common("malware", &id);
        o.insert("name".into(), json!("unattributed cryptocurrency miner"));
        o.insert("is_family".into(), json!(false));
        o.insert("malware_types".into(), json!(["resource-exploitation"]));
        o.insert(
            "description".into(),
            json!(format!(
                "cryptocurrency mining found by minetrace on host {host}; no family attributed"
            )),
        );
        malware.push(b.add(Value::Object(o)));
    }
    // ATT&CK techniques the malware uses.
    let techniques: BTreeSet<String> = doc
        .findings
        .iter()
        .filter(|f| f.severity >= minetrace_schemas::findings::Severity::Medium)
        .flat_map(|f| f.attack.iter().cloned())
        .collect();
    for t in &techniques {
        let t = minetrace_schemas::escape_bytes(t.as_bytes());
        let id = b.sdo_id("attack-pattern", &t);
        let mut o = b.common("attack-pattern", &id);
        o.insert("name".into(), json!(t));
        o.insert(
            "external_references".into(),
            json!([{"source_name": "mitre-attack", "external_id": t}]),
        );
        let ap = b.add(Value::Object(o));
        for mw in &malware {
            b.relationship(mw, "uses", &ap, Level::Parsed.confidence());
        }
    }

    // Nodes worth an indicator: judged medium or above, plus domains and URLs next to one.
    let g = &trace.graph;
    let mut picks: BTreeMap<String, (petgraph::graph::NodeIndex, u8)> = BTreeMap::new();
    for i in g.sorted_nodes() {
        let Some(n) = g.node_at(i) else { continue };
        if n.kind == NodeKind::Finding {
            continue;
        }
        if n.verdict >= NodeVerdict::Suspicious {
            picks.insert(n.id.clone(), (i, verdict_confidence(n.verdict)));
            for e in
                g.g.edges(i)
                    .chain(g.g.edges_directed(i, petgraph::Direction::Incoming))
            {
                if !matches!(
                    e.weight().relation,
                    Relation::References
                        | Relation::HostedOn
                        | Relation::ResolvedFrom
                        | Relation::DownloadedTo
                        | Relation::OwnsSocket
                ) {
                    continue;
                }
                let other = if e.source() == i {
                    e.target()
                } else {
                    e.source()
                };
                let Some(on) = g.node_at(other) else { continue };
                if matches!(
                    on.kind,
                    NodeKind::Domain | NodeKind::Url | NodeKind::Endpoint
                ) {
                    let c = e.weight().confidence().min(verdict_confidence(n.verdict));
                    let entry = picks.entry(on.id.clone()).or_insert((other, c));
                    entry.1 = entry.1.max(c);
                }
            }
        }
    }
    let mut infra: Vec<(String, String)> = Vec::new(); // (observable id, label)
    for (i, confidence) in picks.values().copied() {
        let Some(n) = g.node_at(i) else { continue };
        let desc = if n.findings.is_empty() {
            format!(
                "next to a flagged node in the attack-trace graph ({})",
                n.id
            )
        } else {
            format!(
                "findings {} (graph node {})",
                n.findings.iter().cloned().collect::<Vec<_>>().join(", "),
                n.id
            )
        };
        let (ind, sco) = match n.kind {
            NodeKind::File => {
                let Some(h) = n
                    .attrs
                    .get("sha256")
                    .filter(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit()))
                else {
                    continue;
                };
                let h = h.to_ascii_lowercase();
                let mut extra = serde_json::Map::new();
                if let Some(p) = n.attrs.get("path") {
                    extra.insert("name".into(), json!(p.rsplit('/').next().unwrap_or(p)));
                }
                let sco = b.sco("file", json!({"hashes": {"SHA-256": h}}), extra);
                let ind = b.indicator(
                    &n.id,
                    format!(
                        "SHA-256 of {}",
                        n.attrs.get("path").cloned().unwrap_or_default()
                    ),
                    format!("[file:hashes.'SHA-256' = '{h}']"),
                    confidence,
                    desc,
                );
                (ind, sco)
            }
            NodeKind::Endpoint => {
                let Some((ip, port)) = n.attrs.get("addr").and_then(|a| split_addr(a)) else {
                    continue;
                };
                let ty = if ip.is_ipv4() {
                    "ipv4-addr"
                } else {
                    "ipv6-addr"
                };
                let addr = b.sco(ty, json!({"value": ip.to_string()}), serde_json::Map::new());
                let nt = b.sco(
                    "network-traffic",
                    json!({"dst_ref": addr, "dst_port": port, "protocols": ["tcp"]}),
                    serde_json::Map::new(),
                );
                let pattern = format!("[network-traffic:dst_ref.type = '{ty}' AND network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port = {port}]");
                let ind = b.indicator(
                    &n.id,
                    format!("connection to {}", n.label),
                    pattern,
                    confidence,
                    desc,
                );
                if is_pool(n) {
                    infra.push((addr.clone(), n.label.clone()));
                }
                let _ = nt;
                (ind, addr)
            }
            NodeKind::Domain => {
                let Some(name) = n.attrs.get("name") else {
                    continue;
                };
                let sco = b.sco(
                    "domain-name",
                    json!({"value": name}),
                    serde_json::Map::new(),
                );
                let ind = b.indicator(
                    &n.id,
                    format!("domain {name}"),
                    format!("[domain-name:value = '{}']", pattern_literal(name)),
                    confidence,
                    desc,
                );
                if is_pool(n) {
                    infra.push((sco.clone(), name.clone()));
                }
                (ind, sco)
            }
            NodeKind::Url => {
                let Some(url) = n.attrs.get("url") else {
                    continue;
                };
                let sco = b.sco("url", json!({"value": url}), serde_json::Map::new());
                let ind = b.indicator(
                    &n.id,
                    format!("URL {url}"),
                    format!("[url:value = '{}']", pattern_literal(url)),
                    confidence,
                    desc,
                );
                (ind, sco)
            }
            _ => continue,
        };
        let _ = sco;
        for mw in &malware {
            b.relationship(&ind, "indicates", mw, confidence);
        }
    }
    // Pool infrastructure.
    if !infra.is_empty() {
        let id = b.sdo_id("infrastructure", "mining-pools");
        let mut o = b.common("infrastructure", &id);
        o.insert("name".into(), json!("mining pool endpoints"));
        o.insert("infrastructure_types".into(), json!(["mining-pool"]));
        o.insert(
            "description".into(),
            json!(format!(
                "pools the miner on {host} talks to: {}",
                infra
                    .iter()
                    .map(|(_, l)| l.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
        let inf = b.add(Value::Object(o));
        for (obs, _) in &infra {
            b.relationship(&inf, "consists-of", obs, Level::Observed.confidence());
        }
        for mw in &malware {
            b.relationship(mw, "beacons-to", &inf, Level::Parsed.confidence());
        }
    }
    // All observables, seen at collection time.
    if !b.scos.is_empty() {
        let refs: Vec<String> = b.scos.iter().cloned().collect();
        let id = b.sdo_id("observed-data", "snapshot");
        let mut o = b.common("observed-data", &id);
        let first = iso_ms(if m.started_unix_ms > 0 {
            m.started_unix_ms
        } else {
            ms
        });
        o.insert("first_observed".into(), json!(first));
        o.insert("last_observed".into(), json!(b.created));
        o.insert("number_observed".into(), json!(1));
        o.insert("object_refs".into(), json!(refs));
        b.add(Value::Object(o));
    }
    b.finish()
}

pub fn write(analysis: &Analysis, trace: &Trace, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(analysis, trace))?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_literals_are_escaped() {
        assert_eq!(pattern_literal(r"http://x/a'b\c"), r"http://x/a\'b\\c");
    }

    #[test]
    fn sco_ids_are_uuid5_in_the_stix_namespace() {
        // Expected value computed independently with python:
        // uuid.uuid5(UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), '{"value":"198.51.100.3"}').
        let id = Builder::sco_id("ipv4-addr", &json!({"value": "198.51.100.3"}));
        assert_eq!(id, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");
    }
}
