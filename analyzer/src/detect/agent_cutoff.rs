//! Firewall rules that cut off a cloud security agent (`MT-EVA-030`), judged with the rest of the host. Runs
//! after every detector, like the kit's start lines and family attribution: it reads what they confirmed.
//!
//! Miner kits (Rocke, 8220, WatchDog) drop the Aliyun Aegis console ranges so the agent cannot report or be
//! told to clean up — and admins who remove the agent run the very same lines (the public uninstall scripts
//! `uninstall_aliyun.sh`, `linux_init_shell`'s `uninstall_aegis.sh`, `kubernetes-install`'s `install.sh` all
//! end with the eleven `iptables -I INPUT -s 140.205.… -j DROP` rules). So the rule set alone is low (the
//! `firewall` detector's severity), and high once a second property of an intrusion stands on the same host:
//! any other finding at high or above (a miner process, mining code running or at rest, a pool connection,
//! a kit's cron line, unit or preload library: the intrusion is confirmed and the cut-off is its doing), or
//! persisted agent tampering at any severity (`MT-EVA-031`: a cron, unit, rc or hook line that removes or
//! kills the agent, which a one-off admin uninstall never leaves behind).

use minetrace_schemas::findings::{Finding, Severity};

use crate::detect::rules;

/// The second property, described for evidence: the first finding that is one.
fn second_property(findings: &[Finding]) -> Option<String> {
    findings.iter().find_map(|f| {
        let confirmed = f.severity >= Severity::High && f.rule != rules::EVA_030.id;
        let tamper = f.rule == rules::EVA_031.id;
        (confirmed || tamper).then(|| {
            format!(
                "a second property of an intrusion on the same host: {} {} ({})",
                f.rule,
                f.title,
                f.severity.name()
            )
        })
    })
}

/// Raises every `MT-EVA-030` finding to high when the host shows a second property (see the module
/// documentation), and says why.
pub fn corroborate(findings: &mut [Finding]) {
    let Some(why) = second_property(findings) else {
        return;
    };
    for f in findings
        .iter_mut()
        .filter(|f| f.rule == rules::EVA_030.id && f.severity < Severity::High)
    {
        f.severity = Severity::High;
        f.evidence.push(why.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::finding::finding;

    fn cutoff() -> Finding {
        finding(&rules::EVA_030, Severity::Low)
    }

    #[test]
    fn alone_it_stays_low() {
        let mut v = vec![
            cutoff(),
            finding(&rules::RUN_014, Severity::Medium),
            finding(&rules::EVA_040, Severity::Low),
        ];
        corroborate(&mut v);
        assert_eq!(v[0].severity, Severity::Low);
        assert_eq!(v[0].evidence.len(), 0);
    }

    #[test]
    fn another_confirmed_finding_or_persisted_tampering_makes_it_high() {
        // Another cut-off rule at high is no second property.
        let mut two = vec![cutoff(), finding(&rules::EVA_030, Severity::High)];
        corroborate(&mut two);
        assert_eq!(two[0].severity, Severity::Low);
        for second in [
            finding(&rules::RUN_001, Severity::High),
            finding(&rules::RUN_020, Severity::Critical),
            finding(&rules::PER_001, Severity::Critical),
            finding(&rules::EVA_031, Severity::Low),
        ] {
            let mut v = vec![cutoff(), second.clone()];
            corroborate(&mut v);
            assert_eq!(v[0].severity, Severity::High, "{}", second.rule);
            assert!(v[0].evidence[0].contains(&second.rule));
        }
    }
}
