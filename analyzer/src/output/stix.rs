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

use minetrace_schemas::findings::{FindingsDocument, Severity};
use petgraph::graph::NodeIndex;

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
    let host = minetrace_schemas::escape_bytes(doc.host.hostname.as_bytes());
    let malware = malware(&mut b, doc, &host);
    attack_patterns(&mut b, doc, &malware);
    let mut infra: Vec<(String, String)> = Vec::new(); // (observable id, label)
    let g = &trace.graph;
    for (i, confidence) in indicator_nodes(trace).into_values() {
        let Some(n) = g.node_at(i) else { continue };
        let Some(ind) = node_indicator(&mut b, n, confidence, &mut infra) else {
            continue;
        };
        for mw in &malware {
            b.relationship(&ind, "indicates", mw, confidence);
        }
    }
    pool_infrastructure(&mut b, &infra, &host, &malware);
    let first = if m.started_unix_ms > 0 {
        m.started_unix_ms
    } else {
        ms
    };
    observed_data(&mut b, first);
    b.finish()
}

/// Malware objects: one per family, or one unattributed miner when anything is flagged at all.
fn malware(b: &mut Builder, doc: &FindingsDocument, host: &str) -> Vec<String> {
    let families: BTreeSet<String> = doc
        .findings
        .iter()
        .filter_map(|f| f.family.clone())
        .collect();
    let flagged = doc.findings.iter().any(|f| f.severity >= Severity::Medium);
    let mut out = Vec::new();
    let mut add = |b: &mut Builder, key: &str, name: String, family: bool, description: String| {
        let id = b.sdo_id("malware", key);
        let mut o = b.common("malware", &id);
        o.insert("name".into(), json!(name));
        o.insert("is_family".into(), json!(family));
        o.insert("malware_types".into(), json!(["resource-exploitation"]));
        o.insert("description".into(), json!(description));
        out.push(b.add(Value::Object(o)));
    };
    for fam in &families {
        let name = minetrace_schemas::escape_bytes(fam.as_bytes());
        let description = format!(
            "{name} family attributed by minetrace on host {host} from what runs and persists"
        );
        add(b, fam, name, true, description);
    }
    if families.is_empty() && flagged {
        add(
            b,
            "unattributed",
            "unattributed cryptocurrency miner".into(),
            false,
            format!(
                "cryptocurrency mining found by minetrace on host {host}; no family attributed"
            ),
        );
    }
    out
}

/// ATT&CK techniques of the findings at medium or above, used by every malware object.
fn attack_patterns(b: &mut Builder, doc: &FindingsDocument, malware: &[String]) {
    let techniques: BTreeSet<String> = doc
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
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
        for mw in malware {
            b.relationship(mw, "uses", &ap, Level::Parsed.confidence());
        }
    }
}

/// Nodes worth an indicator, by id, with a confidence: judged suspicious or worse, plus the domains, URLs
/// and endpoints next to one.
fn indicator_nodes(trace: &Trace) -> BTreeMap<String, (NodeIndex, u8)> {
    let g = &trace.graph;
    let mut picks: BTreeMap<String, (NodeIndex, u8)> = BTreeMap::new();
    for i in g.sorted_nodes() {
        let Some(n) = g.node_at(i) else { continue };
        if n.kind == NodeKind::Finding || n.verdict < NodeVerdict::Suspicious {
            continue;
        }
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
    picks
}

/// The indicator (and its observable) for one node; pools go to `infra` too. `None` for nodes with
/// nothing to match on.
fn node_indicator(
    b: &mut Builder,
    n: &Node,
    confidence: u8,
    infra: &mut Vec<(String, String)>,
) -> Option<String> {
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
    let (name, pattern, sco) = match n.kind {
        NodeKind::File => file_pattern(b, n)?,
        NodeKind::Endpoint => {
            let (ip, port) = n.attrs.get("addr").and_then(|a| split_addr(a))?;
            let ty = if ip.is_ipv4() {
                "ipv4-addr"
            } else {
                "ipv6-addr"
            };
            let addr = b.sco(ty, json!({"value": ip.to_string()}), serde_json::Map::new());
            b.sco(
                "network-traffic",
                json!({"dst_ref": addr, "dst_port": port, "protocols": ["tcp"]}),
                serde_json::Map::new(),
            );
            let pattern = format!("[network-traffic:dst_ref.type = '{ty}' AND network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port = {port}]");
            (format!("connection to {}", n.label), pattern, addr)
        }
        NodeKind::Domain => {
            let name = n.attrs.get("name")?;
            let sco = b.sco(
                "domain-name",
                json!({"value": name}),
                serde_json::Map::new(),
            );
            let pattern = format!("[domain-name:value = '{}']", pattern_literal(name));
            (format!("domain {name}"), pattern, sco)
        }
        NodeKind::Url => {
            let url = n.attrs.get("url")?;
            let sco = b.sco("url", json!({"value": url}), serde_json::Map::new());
            let pattern = format!("[url:value = '{}']", pattern_literal(url));
            (format!("URL {url}"), pattern, sco)
        }
        _ => return None,
    };
    if is_pool(n) && matches!(n.kind, NodeKind::Endpoint | NodeKind::Domain) {
        let label = match n.kind {
            NodeKind::Domain => n.attrs.get("name").cloned().unwrap_or_default(),
            _ => n.label.clone(),
        };
        infra.push((sco, label));
    }
    Some(b.indicator(&n.id, name, pattern, confidence, desc))
}

/// A file's SHA-256 observable and pattern, when the node carries a well-formed hash.
fn file_pattern(b: &mut Builder, n: &Node) -> Option<(String, String, String)> {
    let h = n
        .attrs
        .get("sha256")
        .filter(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit()))?
        .to_ascii_lowercase();
    let mut extra = serde_json::Map::new();
    if let Some(p) = n.attrs.get("path") {
        extra.insert("name".into(), json!(p.rsplit('/').next().unwrap_or(p)));
    }
    let sco = b.sco("file", json!({"hashes": {"SHA-256": h}}), extra);
    let name = format!(
        "SHA-256 of {}",
        n.attrs.get("path").cloned().unwrap_or_default()
    );
    Some((name, format!("[file:hashes.'SHA-256' = '{h}']"), sco))
}

/// One infrastructure object for the pools, made of their observables, beaconed to by the malware.
fn pool_infrastructure(
    b: &mut Builder,
    infra: &[(String, String)],
    host: &str,
    malware: &[String],
) {
    if infra.is_empty() {
        return;
    }
    let id = b.sdo_id("infrastructure", "mining-pools");
    let mut o = b.common("infrastructure", &id);
    o.insert("name".into(), json!("mining pool endpoints"));
    o.insert("infrastructure_types".into(), json!(["mining-pool"]));
    let labels: Vec<&str> = infra.iter().map(|(_, l)| l.as_str()).collect();
    o.insert(
        "description".into(),
        json!(format!(
            "pools the miner on {host} talks to: {}",
            labels.join(", ")
        )),
    );
    let inf = b.add(Value::Object(o));
    for (obs, _) in infra {
        b.relationship(&inf, "consists-of", obs, Level::Observed.confidence());
    }
    for mw in malware {
        b.relationship(mw, "beacons-to", &inf, Level::Parsed.confidence());
    }
}

/// All observables, seen at collection time.
fn observed_data(b: &mut Builder, first_ms: i64) {
    if b.scos.is_empty() {
        return;
    }
    let refs: Vec<String> = b.scos.iter().cloned().collect();
    let id = b.sdo_id("observed-data", "snapshot");
    let mut o = b.common("observed-data", &id);
    o.insert("first_observed".into(), json!(iso_ms(first_ms)));
    o.insert("last_observed".into(), json!(b.created));
    o.insert("number_observed".into(), json!(1));
    o.insert("object_refs".into(), json!(refs));
    b.add(Value::Object(o));
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
