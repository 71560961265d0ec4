//! Brute force in the authentication events and what followed it (`MT-ACC-010`, T1110.001):
//! many failed logins from one address, then a successful password login from that address, and what
//! that login's session did: a password change or a new account. Brute force alone is the internet's
//! background noise and stays low; success from a brute-forcing address is high, and so is a password
//! change or new account tied to such a login — the account the address got in as, or made within
//! [`SESSION_REACH`](crate::model::brute_force::SESSION_REACH) after that login. A password change or new
//! account that no brute-forced login explains (an admin onboarding `bob` the day after a scanner's 200
//! failures) is not the brute force's: it stays out of this finding, and its account is never locked for
//! it. A password login from an address that failed
//! [`GUESS_FAILURES`](crate::model::brute_force::GUESS_FAILURES) times in the
//! [`GUESS_WINDOW`](crate::model::brute_force::GUESS_WINDOW) before it is a guessed password too, whatever
//! the address's total (fail2ban's default `maxretry`/`findtime`: more than a typo, less than a scan).
//! Once every account such a login opened is locked (shadow), the finding is history and low.
//!
//! The judgement of the events is the model's ([`crate::model::brute_force`]: which addresses brute-forced,
//! what followed, computed once when the model is built); this detector only weighs it (locked accounts,
//! severity) and names the accounts and logs. The entry inference and the remediation planner read the same
//! fact, never a count of their own.

use minetrace_schemas::findings::{Finding, Role, Severity};

use super::common::account_subject;
use crate::detect::finding::{file_subject, finding, FindingExt};
use crate::detect::rules;
use crate::detect::Context;
use crate::model::auth::AuthKind;
use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::account::PasswordState;

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let accounts = &ctx.model.accounts;
    let judged = &ctx.model.brute_force;
    if judged.sources.is_empty() {
        return Vec::new();
    }
    // Accounts a brute-forced login opened that are locked now: that password opens nothing any more.
    let locked = |user: &[u8]| {
        ctx.model.shadow.iter().any(|s| {
            s.user.as_bytes() == user
                && matches!(s.password, PasswordState::Locked | PasswordState::Disabled)
        })
    };
    let logins: Vec<&[u8]> = judged
        .followed(&ctx.model.auth)
        .filter(|(_, e)| e.kind == AuthKind::AcceptedPassword)
        .map(|(_, e)| e.user.as_slice())
        .collect();
    let all_locked = !logins.is_empty() && logins.iter().all(|u| locked(u));
    let severity = if judged.after.is_empty() || all_locked {
        Severity::Low
    } else {
        Severity::High
    };
    let mut f = finding(&rules::ACC_010, severity);
    if all_locked {
        f = f.evidence(
            "every account a brute-forced login opened is locked now (/etc/shadow): the password no longer opens it",
        );
    }
    for s in judged.sources.iter().take(20) {
        let users: Vec<String> = s.users.iter().map(|u| escape_bytes(u)).collect();
        f = f.evidence(format!(
            "{} failed logins from {} (users {})",
            s.failures,
            s.ip,
            users.join(", ")
        ));
    }
    for (a, e) in judged.followed(&ctx.model.auth).take(50) {
        f = f
            .evidence(a.what.clone())
            // The attacker holds this account's credential: locking it is the remedy.
            .subject_as(account_subject(accounts, &e.user), Role::Artifact);
    }
    // The logs the events were read from, oldest first.
    let mut logs: Vec<&[u8]> = Vec::new();
    for e in &ctx.model.auth {
        if !logs.contains(&&*e.path) {
            logs.push(&e.path);
        }
    }
    for path in logs {
        if let Some(file) = ctx.model.file(path) {
            f = f.subject_as(file_subject(file), Role::Evidence);
        }
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use crate::model::fixture::{auth_log as model, failed_root_logins as fails};
    use minetrace_schemas::records::account::ShadowEntry;
    use minetrace_schemas::RawBytes;

    #[test]
    fn a_guessed_password_is_a_brute_force_a_typo_is_not() {
        let ok =
            "Jan  1 00:09:00 h sshd[9]: Accepted password for root from 203.0.113.5 port 1 ssh2\n";
        let guessed = model(&(fails(5, "203.0.113.5", 8) + ok));
        let judged = &guessed.brute_force;
        assert_eq!(judged.sources.len(), 1);
        assert_eq!(judged.after.len(), 1);
        assert!(judged.after[0].what.contains("a guessed password"));
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &guessed,
            iocs: &iocs,
        });
        assert_eq!(found[0].severity, Severity::High);
        // An admin's two typos, and five failures long before the login: not a guessed password.
        for log in [
            fails(2, "203.0.113.5", 8) + ok,
            fails(5, "203.0.113.5", 0)
                + "Jan  1 00:40:00 h sshd[9]: Accepted password for root from 203.0.113.5 port 1 ssh2\n",
            fails(5, "198.51.100.1", 8) + ok,
        ] {
            let m = model(&log);
            assert!(m.brute_force.after.is_empty(), "{log}");
            assert!(detect(&Context { model: &m, iocs: &iocs }).is_empty(), "{log}");
        }
    }

    /// Issue 13 look-alike: 200 failures from a scanner on Jan 1; on Jan 2 an admin (from the VPN, by key)
    /// adds bob and sets his password. Nothing ties the account to the brute force: low, and bob is no
    /// subject (the plan never locks him). The same commands inside the session a brute-forced login
    /// opened, or a password change of the account it got, are high.
    #[test]
    fn only_what_a_brute_forced_login_explains_follows_it() {
        let scanner: String = (0..200)
            .map(|i| {
                format!(
                    "Jan  1 03:{:02}:{:02} h sshd[{}]: Failed password for invalid user admin from 198.51.100.7 port 4{i} ssh2\n",
                    i / 60,
                    i % 60,
                    1000 + i
                )
            })
            .collect();
        let onboarding = "Jan  2 10:00:00 h sshd[5001]: Accepted publickey for alice from 10.8.0.6 port 50000 ssh2: ED25519 SHA256:x\n\
            Jan  2 10:01:00 h useradd[5010]: new user: name=bob, UID=1002, GID=1002, home=/home/bob, shell=/bin/bash, from=/dev/pts/0\n\
            Jan  2 10:01:05 h passwd[5011]: pam_unix(passwd:chauthtok): password changed for bob\n";
        let iocs = Indicators::builtin();
        let m = model(&(scanner.clone() + onboarding));
        let judged = &m.brute_force;
        assert_eq!(judged.sources.len(), 1);
        assert!(judged.after.is_empty(), "{:?}", judged.after);
        let found = detect(&Context {
            model: &m,
            iocs: &iocs,
        });
        assert_eq!(found[0].severity, Severity::Low);
        assert!(!found[0]
            .iter_subjects()
            .any(|s| matches!(s, minetrace_schemas::findings::Subject::Account { .. })));

        // The scanner gets in as root and, ten minutes later, adds bob: the session's doing.
        let breached = scanner.clone()
            + "Jan  1 04:00:00 h sshd[2001]: Accepted password for root from 198.51.100.7 port 1 ssh2\n\
               Jan  1 04:10:00 h useradd[2010]: new user: name=bob, UID=1002, GID=1002, home=/home/bob, shell=/bin/bash, from=none\n";
        let m = model(&breached);
        let judged = &m.brute_force;
        assert_eq!(judged.after.len(), 2, "{:?}", judged.after);
        assert!(judged.after[1]
            .what
            .contains("within 2 h of the brute-forced login to root"));
        // ... but the admin's onboarding a day later is still not.
        let m = model(&(breached + onboarding));
        let judged = &m.brute_force;
        assert_eq!(judged.after.len(), 2, "{:?}", judged.after);

        // Outlaw: the guessed account's own password, whenever it changes.
        let outlaw = scanner
            + "Jan  1 04:00:00 h sshd[2001]: Accepted password for git from 198.51.100.7 port 1 ssh2\n\
               Jan  1 09:00:00 h passwd[2160]: pam_unix(passwd:chauthtok): password changed for git\n";
        let m = model(&outlaw);
        let judged = &m.brute_force;
        assert_eq!(judged.after.len(), 2, "{:?}", judged.after);
        assert!(judged.after[1]
            .what
            .contains("git is the account brute-forcing 198.51.100.7 logged into"));
        let found = detect(&Context {
            model: &m,
            iocs: &iocs,
        });
        assert_eq!(found[0].severity, Severity::High);
    }

    #[test]
    fn locked_since_is_history() {
        let ok =
            "Jan  1 00:09:00 h sshd[9]: Accepted password for root from 203.0.113.5 port 1 ssh2\n";
        let mut m = model(&(fails(6, "203.0.113.5", 8) + ok));
        m.shadow.push(ShadowEntry {
            source: RawBytes(b"/etc/shadow".to_vec()),
            line: 1,
            user: RawBytes(b"root".to_vec()),
            password: PasswordState::Locked,
            last_change_days: None,
            expire_days: None,
        });
        let iocs = Indicators::builtin();
        let found = detect(&Context {
            model: &m,
            iocs: &iocs,
        });
        assert_eq!(found[0].severity, Severity::Low);
        assert!(found[0].evidence.iter().any(|e| e.contains("locked now")));
    }
}
