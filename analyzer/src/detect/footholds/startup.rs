//! Boot and login scripts: `/etc/rc.local`, `/etc/init.d/*`, `/etc/rc*.d/*`, `/etc/inittab`,
//! `boot.local`, and the shell start-up files (`/etc/profile`, `/etc/profile.d/*`, `bash.bashrc`,
//! `/etc/environment`, every home's `.bashrc`/`.profile`/...).
//!
//! - `MT-PER-020` an rc/init line that downloads into a shell, decodes base64, reaches a bare IP or runs
//!   from a temporary or hidden path; an init script named by a family marker (line 0 = the whole file).
//! - `MT-PER-030` the same in a shell start-up file: it runs at every login.
//!
//! History tampering and `LD_PRELOAD` lines in these files are reported by `history` and `preload`.

use minetrace_schemas::findings::Finding;
use minetrace_schemas::records::file::FileRecord;

use super::common::{self, Score};
use crate::detect::Context;
use crate::parse::numbered_lines;

/// rc and init locations.
pub fn is_rc_path(path: &[u8]) -> bool {
    let exact: &[&[u8]] = &[
        b"/etc/rc.local",
        b"/etc/rc.d/rc.local",
        b"/etc/inittab",
        b"/etc/init.d/rcS",
        b"/etc/init.d/boot.local",
        b"/etc/rc.d/boot.local",
        b"/etc/boot.local",
    ];
    if exact.contains(&path) {
        return true;
    }
    if path.starts_with(b"/etc/init.d/") || path.starts_with(b"/etc/rc.d/init.d/") {
        return true;
    }
    // /etc/rc0.d/ .. /etc/rc6.d/, /etc/rcS.d/, /etc/rc.d/rc3.d/
    let rest = path
        .strip_prefix(b"/etc/rc.d/rc")
        .or_else(|| path.strip_prefix(b"/etc/rc"));
    matches!(rest, Some(r) if r.len() > 3 && r.get(1..4) == Some(b".d/"))
}

pub fn detect(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, bytes) in common::captured(ctx.model, is_rc_path) {
        if let Some(family) = common::family_of_path(ctx.iocs, file.path.as_bytes()) {
            let mut score = Score::default();
            score.add(4, format!("init script path matches a {family} marker"));
            score.family = Some(family);
            common::lock_points(file, &mut score);
            out.extend(common::line_finding(
                ctx,
                "MT-PER-020",
                "Malicious init script",
                &["T1037.004", "T1037"],
                file,
                0,
                b"(whole file)",
                &score,
                None,
            ));
        }
        let inittab = file.path.as_bytes() == b"/etc/inittab";
        lines(
            ctx,
            file,
            bytes,
            inittab,
            "MT-PER-020",
            "Boot script runs suspicious commands",
            &["T1037.004"],
            &mut out,
        );
    }
    for (file, bytes) in common::captured(ctx.model, common::is_profile_path) {
        lines(
            ctx,
            file,
            bytes,
            false,
            "MT-PER-030",
            "Shell start-up file runs suspicious commands",
            &["T1546.004"],
            &mut out,
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn lines(
    ctx: &Context,
    file: &FileRecord,
    bytes: &[u8],
    inittab: bool,
    rule: &str,
    title: &str,
    attack: &[&str],
    out: &mut Vec<Finding>,
) {
    for (n, raw) in numbered_lines(bytes) {
        let t = raw.trim_ascii();
        if t.is_empty() || t.starts_with(b"#") {
            continue;
        }
        // inittab: `id:runlevels:action:process`
        let text = if inittab {
            match t.splitn(4, |b| *b == b':').nth(3) {
                Some(p) => p,
                None => continue,
            }
        } else {
            t
        };
        let (mut score, shell) = common::score_line(ctx, text);
        common::lock_points(file, &mut score);
        out.extend(common::line_finding(
            ctx,
            rule,
            title,
            attack,
            file,
            n,
            raw,
            &score,
            Some(&shell),
        ));
    }
}
