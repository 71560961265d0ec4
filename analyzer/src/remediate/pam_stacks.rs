//! Lines of a PAM stack (`/etc/pam.d/NAME`) are never removed unasked. A stack is read top to bottom
//! and its lines count: a `[success=N]` jump skips the next N module lines, a `required` line that goes
//! changes who logs in, and a kit that swapped the host's own module on a line (`pam_unix.so` ->
//! `/lib/.../.pam_unix.so`) left a line whose right repair is the original module, not a deletion. So a
//! flagged line is a review item only when its removal cannot change the stack's outcome for anyone
//! (its control is skippable and no earlier line of its type jumps over lines), and by hand otherwise —
//! as is a line continued over several physical lines. The service file itself is never removed whole
//! (a missing `/etc/pam.d/sshd` falls back to `other`: every login denied): [`super::targets::Places`]
//! counts it a shared file.

use minetrace_schemas::locations::{directly_in, PAM_CONFIG_DIR};

use crate::parse::pam_conf::{self, control_is_skippable, control_jumps};

/// Whether `path` is a PAM service file.
pub fn is_stack(path: &[u8]) -> bool {
    directly_in(&[PAM_CONFIG_DIR], path)
}

/// What the operator reads before naming a PAM line's removal.
pub const STACK_REVIEW: &str = "a line of a PAM stack: its removal leaves the other lines' outcome as it was (a skippable control, no jump over it), but read the stack before removing it";

/// The removal of the stack's lines `numbers` (1-based) as a review item, or why it is left by hand.
pub fn removal_gate(
    content: &[u8],
    numbers: impl IntoIterator<Item = u32>,
) -> Result<(), &'static str> {
    let lines = pam_conf::parse(content);
    let physical: Vec<&[u8]> = content.split(|b| *b == b'\n').collect();
    let continued = |n: u32| {
        let i = usize::try_from(n).unwrap_or(usize::MAX);
        // The line itself or the one before it ends in `\`: libpam joins them into one entry.
        [i.checked_sub(1), i.checked_sub(2)]
            .into_iter()
            .flatten()
            .any(|j| {
                physical
                    .get(j)
                    .is_some_and(|l| l.trim_ascii_end().ends_with(b"\\"))
            })
    };
    for n in numbers {
        if continued(n) {
            return Err("a line of a PAM stack continued over several lines: a partial removal leaves a line libpam fails the whole stack on; edit the stack by hand");
        }
        let Some(line) = lines.iter().find(|l| l.line == n) else {
            return Err("not a whole module line of the PAM stack; edit the stack by hand");
        };
        if !control_is_skippable(&line.control) {
            return Err("a PAM line whose control decides the stack (required, requisite, a jump or bad/die): if the kit swapped the host's own module on it, the original line must be restored, not deleted; edit the stack by hand");
        }
        let jumped = lines
            .iter()
            .take_while(|l| l.line < n)
            .any(|l| l.kind.eq_ignore_ascii_case(&line.kind) && control_jumps(&l.control));
        if jumped {
            return Err("an earlier line of the PAM stack jumps over a count of lines: removing this one shifts where the jump lands (a skipped second factor or a denied login); edit the stack by hand");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_AUTH: &[u8] = b"#\n# common-auth\n#\nauth\tsufficient\t/lib/x86_64-linux-gnu/security/.pam_sys.so\nauth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\n";

    #[test]
    fn an_added_skippable_line_ahead_of_any_jump_is_a_review_item() {
        assert_eq!(removal_gate(DEBIAN_AUTH, [4]), Ok(()));
        let sshd = b"@include common-auth\nauth optional pam_exec.so quiet expose_authtok /var/tmp/.x/log\naccount required pam_nologin.so\n";
        assert_eq!(removal_gate(sshd, [2]), Ok(()));
    }

    #[test]
    fn a_swapped_module_a_jump_or_a_continued_line_is_left_by_hand() {
        // The kit swapped the host's pam_unix line in place: deleting it leaves pam_deny first.
        let swapped = b"auth\t[success=1 default=ignore]\t/lib/x86_64-linux-gnu/security/.pam_unix.so nullok\nauth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\n";
        assert!(removal_gate(swapped, [1]).is_err());
        let required = b"auth required /var/tmp/.x/pam_x.so\nauth required pam_unix.so\n";
        assert!(removal_gate(required, [1]).is_err());
        // Inserted below a jump: the jump would land one line further once it is gone.
        let below = b"auth\t[success=2 default=ignore]\tpam_unix.so nullok\nauth\tsufficient\t/dev/shm/.p.so\nauth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\nauth\trequired\tpam_google_authenticator.so\n";
        assert!(removal_gate(below, [2]).is_err());
        // A jump of another type does not count.
        let other = b"session\t[success=1 default=ignore]\tpam_succeed_if.so quiet\nauth\tsufficient\t/dev/shm/.p.so\nsession required pam_unix.so\n";
        assert_eq!(removal_gate(other, [2]), Ok(()));
        // Continued: the tail would stay behind as a line of its own.
        let continued = b"auth sufficient \\\n    /lib/x86_64-linux-gnu/security/.pam_sys.so\nauth required pam_unix.so\n";
        assert!(removal_gate(continued, [1]).is_err());
        assert!(removal_gate(continued, [2]).is_err());
        // Not a module line at all.
        assert!(removal_gate(DEBIAN_AUTH, [1]).is_err());
    }
}
