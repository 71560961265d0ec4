//! Web roots (category `webroot`): metadata of every server-side script under `/var/www`, `/srv/www`,
//! `/srv/http`, `/usr/share/nginx/html`, Apache's `htdocs` and Tomcat/Jetty `webapps`, and the head of the
//! most recently changed ones (webshell evidence: a dropped `.php` or `.jsp` among old files). Other files
//! are not recorded (a web root can hold millions of images); the walk is capped like any other.
//!
//! Web servers' enabled configuration (category `web-config`, [`locations::WEB_SERVER_CONFIGS`]): which
//! document root each virtual host serves and where it logs, so the analyzer matches a logged request
//! against that host's root. Stored as [`secrets::release_server_config`] allows: a file with a secret
//! stays on the host (the analyzer then falls back to every web root).

use std::io::Write;

use minetrace_schemas::bundle::member_name::fs_member;
use minetrace_schemas::bundle::WriteError;
use minetrace_schemas::locations::{self, WEB_ARCHIVE_EXT, WEB_CODE_FILES, WEB_ROOTS as ROOTS};

use super::file_meta;
use super::secrets;
use super::sink::{Content, Sink};
use super::walk::{self, Limits, Pick};
use crate::host_read::{self, Keep};

/// Bytes kept from the head of each recent script.
pub const HEAD_BYTES: u64 = 16 << 10;
/// How many of the most recently changed scripts get their head kept.
pub const RECENT_SCRIPTS: usize = 200;

/// Whether a web-root file is recorded: a server-side script, or a file that makes the server run code
/// (both lists in `schemas/src/locations.rs`, the scripts' shared with the analyzer's web-shell rule).
pub fn is_web_script(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    locations::is_web_script(&lower)
        || WEB_ARCHIVE_EXT.iter().any(|e| lower.ends_with(e))
        || WEB_CODE_FILES.contains(&lower.as_slice())
}

pub fn collect<W: Write>(s: &mut Sink<'_, W>) -> Result<(), WriteError> {
    let limits = Limits {
        max_depth: 16,
        max_entries: 200_000,
        max_dir_entries: 20_000,
        max_bytes: 0,
    };
    let before = s.col.files.len();
    for pattern in ROOTS {
        let roots = if super::host_root::has_wildcard(pattern) {
            s.ctx.root.expand(pattern, 32)
        } else {
            vec![pattern.to_vec()]
        };
        for root in roots {
            walk::walk(s, &root, limits, |e| {
                if e.stat.kind == minetrace_schemas::records::file::FileKind::Regular
                    && is_web_script(e.name)
                {
                    Pick::Record(Content::Meta)
                } else {
                    Pick::Skip
                }
            })?;
        }
    }
    // Heads of the most recently changed scripts: ctime first (harder to forge than mtime).
    let mut recent: Vec<(i64, usize)> = s
        .col
        .files
        .iter()
        .enumerate()
        .skip(before)
        .filter(|(_, f)| {
            f.category == "webroot" && f.kind == minetrace_schemas::records::file::FileKind::Regular
        })
        .map(|(i, f)| (f.ctime.secs.max(f.mtime.secs), i))
        .collect();
    recent.sort_by(|a, b| b.cmp(a));
    for (_, i) in recent.into_iter().take(RECENT_SCRIPTS) {
        let Some(path) = s.col.files.get(i).map(|f| f.path.0.clone()) else {
            continue;
        };
        let real = s.ctx.root.real(&path);
        match host_read::read_capped(&real, HEAD_BYTES, Keep::Head) {
            Ok(c) => {
                let member = fs_member(&path);
                if !s.col.has_member(&member) {
                    s.col.add_member(&member, &c.bytes)?;
                }
                if let Some(f) = s.col.files.get_mut(i) {
                    f.member = Some(member);
                    f.truncated = c.truncated;
                    f.sha256 = (!c.truncated).then(|| file_meta::sha256_hex(&c.bytes));
                }
            }
            Err(e) => s.set_error(Some(i), format!("head not read: {e}")),
        }
    }
    // Read no further than the secret checks look ([`super::references::DATA_CAP`]): what is stored is
    // what was judged.
    let config = Content::Guarded {
        cap: super::references::DATA_CAP,
        guard: secrets::release_server_config,
    };
    s.category = "web-config";
    for pattern in locations::WEB_SERVER_CONFIGS {
        let paths = if super::host_root::has_wildcard(pattern) {
            s.ctx.root.expand(pattern, MAX_SERVER_CONFIGS)
        } else {
            vec![pattern.to_vec()]
        };
        for path in paths {
            s.capture(&path, config)?;
        }
    }
    Ok(())
}

/// Files of one [`locations::WEB_SERVER_CONFIGS`] directory stored (a host with hundreds of sites keeps
/// the first ones in name order).
const MAX_SERVER_CONFIGS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    /// Review of train 3, item 1: the enabled sites' configuration is stored (a `sites-enabled` link
    /// followed to its file), so the analyzer can match a request against its own host's root; one
    /// that sets a credential header stays on the host; a disabled site is not read.
    #[test]
    fn enabled_web_server_configuration_is_stored_without_credentials() {
        use super::super::sink::test_support::{put, Harness};
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let shop = b"server { root /var/www/shop; access_log /var/log/nginx/shop.access.log; }\n";
        put(
            r,
            "/etc/nginx/nginx.conf",
            b"http { include sites-enabled/*; }\n",
            0o644,
        );
        put(r, "/etc/nginx/sites-available/shop", shop, 0o644);
        put(
            r,
            "/etc/nginx/sites-available/old",
            b"server { root /srv/old; }\n",
            0o644,
        );
        put(
            r,
            "/etc/nginx/conf.d/api.conf",
            b"server { location / { proxy_set_header Authorization \"Basic YWRtaW46cHc=\"; } }\n",
            0o644,
        );
        let mut big = b"server { root /var/www/big; }\n".repeat(4096);
        big.extend_from_slice(b"fastcgi_param DB_PASSWORD hunter2;\n");
        put(r, "/etc/nginx/conf.d/big.conf", &big, 0o644);
        std::fs::create_dir_all(r.join("etc/nginx/sites-enabled")).unwrap();
        std::os::unix::fs::symlink(
            "../sites-available/shop",
            r.join("etc/nginx/sites-enabled/shop"),
        )
        .unwrap();
        let mut h = Harness::new(r);
        collect(&mut h.sink("webroot")).unwrap();
        let stored = |path: &str| {
            let f = h
                .record(path)
                .unwrap_or_else(|| panic!("no record of {path}"));
            assert_eq!(f.category, "web-config", "{f:?}");
            f.member.is_some()
        };
        assert!(stored("/etc/nginx/nginx.conf"));
        // Past the head the secret checks read, nothing is stored: a password there stays on the host.
        let big = h
            .record("/etc/nginx/conf.d/big.conf")
            .expect("big.conf recorded");
        assert!(big.truncated, "{big:?}");
        assert!(stored("/etc/nginx/sites-available/shop"));
        assert!(!stored("/etc/nginx/conf.d/api.conf"), "a credential header");
        assert!(h.record("/etc/nginx/sites-available/old").is_none());
    }

    #[test]
    fn script_names() {
        assert!(is_web_script(b"shell.PHP"));
        assert!(is_web_script(b"cmd.jsp"));
        assert!(is_web_script(b".htaccess"));
        assert!(is_web_script(b".User.ini"));
        assert!(is_web_script(b"ROOT.war"));
        assert!(is_web_script(b"awstats.pl"));
        assert!(!is_web_script(b"logo.png"));
        assert!(!is_web_script(b"x.htaccess.bak"));
    }
}
