//! Firewall rules the attacker left (from `iptables-save`/`ip6tables-save` captures and saved rule
//! files), subject `FirewallRule{rule}` with the rule exactly as dumped so it can be removed by exact
//! match:
//! - `MT-EVA-030` rules that drop traffic to or from security-agent ranges (`agent_range`, e.g. Aliyun
//!   Aegis' 140.205.201.0/28): the agent is cut off from its console (T1562.001, T1562.004). Low here:
//!   admins' agent-removal scripts add the same rules; [`crate::detect::agent_cutoff`] raises it to high
//!   once another finding at high or above or persisted agent tampering stands on the same host.
//! - `MT-EVA-040` rules that close an exploited service port (Redis 6379, Docker 2375/2376) or block
//!   mining-pool ports outbound: what miners do to keep rivals out — and what admins do to harden, so
//!   low on its own (T1562.004).
//! - `MT-EVA-041` an `ACCEPT` rule in `INPUT` for a port a suspicious program listens on (temp, hidden,
//!   shared-memory, deleted or memfd executable, kernel-thread name: see `MT-RUN-025`): the hole the
//!   backdoor or peer-to-peer bot needs (T1562.004, T1571). High. An `ACCEPT` for a port nothing listens
//!   on is low; one for an ordinary service (an exporter, sshd) is not reported.

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::RawBytes;

use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::indicators::Kind;
use crate::model::firewall::Origin;
use crate::parse::iptables::{cidr_overlap, parse_cidr, Rule};

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let ranges: Vec<_> = ctx
        .iocs
        .set(Kind::AgentRange)
        .filter_map(|r| parse_cidr(r.as_bytes()))
        .collect();
    let pool_ports: Vec<String> = ctx.iocs.set(Kind::PoolPort).map(str::to_owned).collect();
    let mut out = Vec::new();
    for set in &ctx.model.firewall {
        let origin = set.origin_text(ctx.model);
        let file = match set.origin {
            Origin::File(i) => ctx.model.files.get(i),
            Origin::Capture(_) => None,
        };
        for r in &set.rules {
            if let Some(f) = opened_for(ctx, &origin, file, r) {
                out.push(f);
                continue;
            }
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
                    Severity::Low,
                    "drops a security agent's address range (admins who remove the agent add the same rules: low until a confirmed intrusion or persisted agent tampering stands beside it)",
                )
            } else if r.chain == b"INPUT"
                && r.dport
                    .as_deref()
                    .is_some_and(|p| ctx.iocs.contains_bytes(Kind::ClosedPort, p))
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

/// `MT-EVA-041` (see the module documentation): an `INPUT` `ACCEPT` rule for a destination port, judged by
/// who listens on that port.
fn opened_for(ctx: &Context, origin: &str, file: Option<&FileRecord>, r: &Rule) -> Option<Finding> {
    if r.chain != b"INPUT" || r.target.as_deref() != Some(b"ACCEPT") || r.negated {
        return None;
    }
    let port: u16 = std::str::from_utf8(r.dport.as_deref()?)
        .ok()?
        .parse()
        .ok()?;
    let listeners: Vec<&minetrace_schemas::records::process::ProcessRecord> = ctx
        .model
        .sockets
        .iter()
        .filter(|s| {
            s.state == "LISTEN"
                && crate::detect::runtime::support::split_addr(&s.local)
                    .is_some_and(|(_, p)| p == port)
        })
        .flat_map(|s| s.pids.iter().filter_map(|pid| ctx.model.process(*pid)))
        .collect();
    let rule_line = format!(
        "{}:{} table {}: {}",
        origin,
        r.line,
        r.table,
        minetrace_schemas::escape_bytes(&r.raw)
    );
    let mut f = if listeners.is_empty() {
        finding(&rules::EVA_041, Severity::Low)
            .evidence(rule_line)
            .evidence(format!(
                "accepts port {port}, which nothing listens on at capture time"
            ))
    } else {
        let bad: Vec<(
            &minetrace_schemas::records::process::ProcessRecord,
            Vec<String>,
        )> = listeners
            .iter()
            .map(|p| {
                (
                    *p,
                    crate::detect::runtime::listeners::suspicious_listener(ctx, p).0,
                )
            })
            .filter(|(_, why)| !why.is_empty())
            .collect();
        let (p, why) = bad.first()?;
        let mut f = finding(&rules::EVA_041, Severity::High)
            .evidence(rule_line)
            .evidence(format!(
                "opens port {port} for {}, which listens on it",
                crate::detect::finding::describe_process(p)
            ))
            .subject(crate::detect::finding::process_subject(p));
        if let Some(x) = crate::detect::finding::exe_subject(ctx.model, p) {
            f = f.subject(x);
        }
        for w in why {
            f = f.evidence(w.clone());
        }
        f
    };
    f = f.subject(Subject::FirewallRule {
        rule: RawBytes::new(r.raw.clone()),
    });
    if let Some(file) = file {
        f = f.subject_as(file_subject(file), Role::Context);
        // A saved ruleset restores the hole at the next boot: its line is the artifact there (removed by
        // exact line, the admin's lines stay), as the live rule is in the running tables.
        if f.severity >= Severity::High {
            f = f.subject(Subject::Persistence {
                path: file.path.clone(),
                line: r.line,
            });
        }
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::{fixture, HostModel};

    fn closed(model: &HostModel, iocs: &Indicators) -> Vec<Finding> {
        crate::detect::findings_of(detect, &rules::EVA_040, model, iocs)
    }

    /// `closed_port` values come from the indicators: a user's file adds a service port.
    #[test]
    fn an_iocs_file_adds_closed_ports() {
        let model = fixture::model(
            vec![fixture::file(
                b"/etc/iptables/rules.v4",
                Some(b"*filter\n-A INPUT -p tcp -m tcp --dport 11211 -j DROP\n-A INPUT -p tcp -m tcp --dport 6379 -j DROP\nCOMMIT\n"),
            )],
            Vec::new(),
        );
        let mut iocs = Indicators::builtin();
        let before = closed(&model, &iocs);
        assert_eq!(before.len(), 1, "{before:#?}");
        assert!(before
            .iter()
            .all(|f| f.evidence.iter().any(|e| e.contains("6379"))));
        iocs.add_text("mine.iocs", "closed_port 11211\n").unwrap();
        let after = closed(&model, &iocs);
        assert_eq!(after.len(), 2, "{after:#?}");
        assert!(
            after
                .iter()
                .any(|f| f.severity == Severity::Low
                    && f.evidence.iter().any(|e| e.contains("11211")))
        );
    }
}
