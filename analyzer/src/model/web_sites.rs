//! Which document roots a request logged in a given access log can have reached, from the web servers'
//! configuration the collector stored (category `web-config`, [`crate::parse::web_config`]): a request
//! logged by one virtual host names a page of that host's root, not of every web root (review of train
//! 3, item 1: one ThinkPHP probe to `/index.php` took every `*/index.php` of every site).
//!
//! Known only when the configuration says it for that log: a log no stored file names, or one that a
//! host with an unreadable root writes, is unknown, and the rule falls back to every web root. A host
//! naming no log of its own writes its server's default log; a host naming no root serves its server's
//! default root (unknown when there is none); a host whose logs cannot be read may write any log, so its
//! roots count for every log.

use std::collections::BTreeMap;

use minetrace_schemas::records::file::FileKind;

use super::HostModel;
use crate::parse::web_config::{self, Site, WebConfig};

/// The roots behind each access log the web servers' configuration names.
#[derive(Debug, Clone, Default)]
pub struct WebSites {
    /// Log path → its hosts' roots, `None` when one of them is unknown.
    by_log: BTreeMap<Vec<u8>, Option<Vec<Vec<u8>>>>,
    /// Roots of hosts whose logs are unknown: any log may be theirs (`None`: one of them is unknown
    /// too, so no log's roots are known).
    anywhere: Option<Vec<Vec<u8>>>,
}

impl WebSites {
    /// The document roots a request logged in `log` (a captured log's path, rotated or not) can have
    /// reached, or `None` when the configuration does not say.
    pub fn roots_of(&self, log: &[u8]) -> Option<Vec<&[u8]>> {
        let anywhere = self.anywhere.as_ref()?;
        let own = self.by_log.get(live_name(log))?.as_ref()?;
        Some(own.iter().chain(anywhere).map(Vec::as_slice).collect())
    }

    /// From parsed configuration files: each file's hosts, with its own server's defaults (nginx's
    /// `http` block, Apache's main server, which every file of that server shares).
    fn of(nginx: &[WebConfig], apache: &[WebConfig]) -> WebSites {
        let mut sites = WebSites {
            anywhere: Some(Vec::new()),
            ..WebSites::default()
        };
        if nginx.iter().chain(apache).any(|c| c.incomplete) {
            return WebSites::default();
        }
        for server in [nginx, apache] {
            let mut defaults = Site::default();
            for c in server {
                defaults.roots.extend(c.defaults.roots.iter().cloned());
                defaults.logs.extend(c.defaults.logs.iter().cloned());
                defaults.roots_unknown |= c.defaults.roots_unknown;
                defaults.logs_unknown |= c.defaults.logs_unknown;
            }
            for site in server.iter().flat_map(|c| &c.sites) {
                sites.add(site, &defaults);
            }
        }
        sites
    }

    fn add(&mut self, site: &Site, defaults: &Site) {
        let (roots, roots_unknown) = if site.roots.is_empty() && !site.roots_unknown {
            (
                &defaults.roots,
                defaults.roots_unknown || defaults.roots.is_empty(),
            )
        } else {
            (&site.roots, site.roots_unknown)
        };
        let (logs, logs_unknown) = if site.logs.is_empty() && !site.logs_unknown {
            (
                &defaults.logs,
                defaults.logs_unknown || defaults.logs.is_empty(),
            )
        } else {
            (&site.logs, site.logs_unknown)
        };
        for log in logs {
            let entry = self.by_log.entry(log.clone()).or_insert(Some(Vec::new()));
            match (entry.as_mut(), roots_unknown) {
                (Some(known), false) => known.extend(roots.iter().cloned()),
                _ => *entry = None,
            }
        }
        if logs_unknown {
            match (self.anywhere.as_mut(), roots_unknown) {
                (Some(known), false) => known.extend(roots.iter().cloned()),
                _ => self.anywhere = None,
            }
        }
    }
}

/// A log's path without its rotation suffix (`access.log.1`, `access.log.2.gz`,
/// `access.log-20250610.gz`): the name its server's configuration gives it.
fn live_name(path: &[u8]) -> &[u8] {
    let mut p = path;
    for z in [&b".gz"[..], b".bz2", b".xz", b".zst"] {
        if let Some(rest) = p.strip_suffix(z) {
            p = rest;
            break;
        }
    }
    let digits_after = |sep: u8, len: Option<usize>| {
        let at = p.iter().rposition(|b| *b == sep)?;
        let tail = p.get(at + 1..)?;
        let ok = !tail.is_empty()
            && tail.iter().all(u8::is_ascii_digit)
            && len.is_none_or(|n| tail.len() == n);
        ok.then(|| p.get(..at)).flatten()
    };
    digits_after(b'.', None)
        .or_else(|| digits_after(b'-', Some(8)))
        .unwrap_or(p)
}

/// The server root an Apache configuration file's relative `Include`s start from: Debian's
/// `/etc/apache2`, Red Hat's `/etc/httpd`, the upstream `/usr/local/apache2`.
fn server_root(path: &[u8]) -> &[u8] {
    [&b"/etc/apache2"[..], b"/etc/httpd", b"/usr/local/apache2"]
        .into_iter()
        .find(|r| path.starts_with(r))
        .unwrap_or(b"/etc/apache2")
}

/// Reads the stored web server configuration of a model.
pub fn collect(model: &HostModel) -> WebSites {
    let configs: Vec<(&[u8], &[u8])> = model
        .files
        .iter()
        .filter(|f| f.category == "web-config" && f.kind == FileKind::Regular)
        .filter_map(|f| Some((f.path.as_bytes(), model.content(f)?)))
        .collect();
    let vars: Vec<(Vec<u8>, Vec<u8>)> = configs
        .iter()
        .filter(|(p, _)| crate::parse::basename(p) == b"envvars")
        .flat_map(|(_, text)| web_config::apache_envvars(text))
        .collect();
    let mut nginx = Vec::new();
    let mut apache = Vec::new();
    for (path, text) in configs {
        if path.starts_with(b"/etc/nginx/") {
            nginx.push(web_config::nginx(text));
        } else if crate::parse::basename(path) != b"envvars" {
            apache.push(web_config::apache(text, &vars, server_root(path)));
        }
    }
    WebSites::of(&nginx, &apache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_logs_keep_their_configured_name() {
        for rotated in [
            &b"/var/log/nginx/shop.access.log"[..],
            b"/var/log/nginx/shop.access.log.1",
            b"/var/log/nginx/shop.access.log.12.gz",
            b"/var/log/nginx/shop.access.log-20250610",
            b"/var/log/nginx/shop.access.log-20250610.gz",
        ] {
            assert_eq!(
                live_name(rotated),
                b"/var/log/nginx/shop.access.log",
                "{}",
                String::from_utf8_lossy(rotated)
            );
        }
        assert_eq!(
            live_name(b"/var/log/httpd/access_log"),
            b"/var/log/httpd/access_log"
        );
    }

    #[test]
    fn each_log_names_its_hosts_roots_or_nothing_known() {
        let nginx = web_config::nginx(
            b"http { access_log /var/log/nginx/access.log;
                server { root /var/www/shop; access_log /var/log/nginx/shop.log; }
                server { root /var/www/blog; }
                server { root /var/www/wiki; }
                server { root $dyn; access_log /var/log/nginx/dyn.log; } }",
        );
        let sites = WebSites::of(&[nginx], &[]);
        let roots = |log: &[u8]| {
            sites.roots_of(log).map(|r| {
                r.iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            roots(b"/var/log/nginx/shop.log.1").unwrap(),
            ["/var/www/shop"]
        );
        assert_eq!(
            roots(b"/var/log/nginx/access.log").unwrap(),
            ["/var/www/blog", "/var/www/wiki"]
        );
        assert_eq!(roots(b"/var/log/nginx/dyn.log"), None, "a variable root");
        assert_eq!(
            roots(b"/var/log/apache2/access.log"),
            None,
            "no host names it"
        );
        // A host whose log is unknown (a pipe) may write any log: its root counts everywhere.
        let apache = web_config::apache(
            b"<VirtualHost *:80>\nDocumentRoot /var/www/admin\nCustomLog |/bin/logger c\n</VirtualHost>\n",
            &[],
            b"/etc/apache2",
        );
        let nginx = web_config::nginx(b"server { root /var/www/shop; access_log /l/shop.log; }");
        let sites = WebSites::of(&[nginx], &[apache]);
        assert_eq!(
            sites.roots_of(b"/l/shop.log"),
            Some(vec![&b"/var/www/shop"[..], b"/var/www/admin"])
        );
    }

    /// A configuration that includes host files the collector does not store leaves every log's roots
    /// unknown: a host in `vhosts/` may write `access.log` too.
    #[test]
    fn an_incomplete_configuration_knows_no_roots() {
        let main = web_config::nginx(
            b"http { access_log /var/log/nginx/access.log; include /etc/nginx/vhosts/*.conf;
                server { root /var/www/html; } }",
        );
        assert_eq!(
            WebSites::of(&[main], &[]).roots_of(b"/var/log/nginx/access.log"),
            None
        );
    }
}
