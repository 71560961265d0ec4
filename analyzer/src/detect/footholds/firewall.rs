//! Firewall rules the attacker left (from `iptables-save`/`ip6tables-save` captures and saved rule
//! files), subject `FirewallRule{rule}` with the rule exactly as dumped so it can be removed by exact
//! match:
//! - `MT-EVA-030` rules that drop traffic to or from security-agent ranges (`agent_range`, e.g. Aliyun
//!   Aegis' 140.205.201.0/28): the agent is cut off from its console (T1562.001, T1562.004). High.
//! - `MT-EVA-040` rules that close an exploited service port (Redis 6379, Docker 2375/2376) or block
//!   mining-pool ports outbound: what miners do to keep rivals out — and what admins do to harden, so
//!   low on its own (T1562.004).

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::RawBytes;

use super::common;
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::parse::iptables::{self, cidr_overlap, parse_cidr, Rule};

const CLOSED_PORTS: &[&[u8]] = &[b"6379", b"2375", b"2376", b"2377"];

fn is_saved_rules(p: &[u8]) -> bool {
    p.starts_with(b"/etc/iptables/")
        || p.starts_with(b"/etc/sysconfig/iptables")
        || p.starts_with(b"/etc/sysconfig/ip6tables")
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut sources: Vec<(
        String,
        Option<&minetrace_schemas::records::file::FileRecord>,
        Vec<Rule>,
    )> = Vec::new();
    for name in [
        "iptables-save",
        "ip6tables-save",
        "iptables-legacy-save",
        "ip6tables-legacy-save",
    ] {
        for (_, bytes) in ctx.model.command_outputs(name) {
            sources.push((name.to_owned(), None, iptables::parse(bytes)));
        }
    }
    for (file, bytes) in common::captured(ctx.model, is_saved_rules) {
        sources.push((file.path.escaped(), Some(file), iptables::parse(bytes)));
    }
    let ranges: Vec<_> = ctx
        .iocs
        .set(Kind::AgentRange)
        .filter_map(|r| parse_cidr(r.as_bytes()))
        .collect();
    let pool_ports: Vec<String> = ctx.iocs.set(Kind::PoolPort).map(str::to_owned).collect();
    let mut out = Vec::new();
    for (origin, file, rules) in &sources {
        for r in rules {
            let dropping = r
                .target
                .as_deref()
                .is_some_and(|t| t == b"DROP" || t == b"REJECT");
            if !dropping || r.negated {
                continue;
            }
            let hits_agent = [&r.source, &r.destination]
                .iter()
                .filter_map(|a| a.as_deref().and_then(parse_cidr))
                .any(|net| ranges.iter().any(|a| cidr_overlap(net, *a)));
            let (rule, sev, why) = if hits_agent {
                (
                    &rules::EVA_030,
                    Severity::High,
                    "drops a security agent's address range",
                )
            } else if r.chain == b"INPUT"
                && r.dport
                    .as_deref()
                    .is_some_and(|p| CLOSED_PORTS.contains(&p))
            {
                (
                    &rules::EVA_040,
                    Severity::Low,
                    "closes an exploitable service port (Redis/Docker): miners do this after getting in so rivals cannot follow (admins harden the same way)",
                )
            } else if r.chain == b"OUTPUT"
                && r.dport
                    .as_deref()
                    .is_some_and(|p| pool_ports.iter().any(|x| x.as_bytes() == p))
            {
                (
                    &rules::EVA_040,
                    Severity::Low,
                    "blocks a mining-pool port outbound: miners block rivals' pools this way",
                )
            } else {
                continue;
            };
            let mut f = finding(rule, sev)
                .subject(Subject::FirewallRule {
                    rule: RawBytes::new(r.raw.clone()),
                })
                .evidence(format!(
                    "{}:{} table {}: {}",
                    origin,
                    r.line,
                    r.table,
                    minetrace_schemas::escape_bytes(&r.raw)
                ))
                .evidence(why);
            if let Some(file) = file {
                f = f.subject_as(file_subject(file), Role::Context);
            }
            out.push(f);
        }
    }
    out
}
