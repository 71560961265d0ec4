//! Web servers' configuration (nginx, Apache httpd), read for one question: which document roots can a
//! request logged in a given access log have reached. Per virtual host (nginx `server { }`, Apache
//! `<VirtualHost>`): the roots it serves (`root`, `DocumentRoot`) and the logs it writes (`access_log`,
//! `CustomLog`, `TransferLog`); outside them, the defaults a host without its own inherits (nginx's
//! `http`-level `access_log` and `root`, Apache's main server).
//!
//! What this reading cannot follow makes the host's roots or logs unknown rather than guessed: a
//! variable in a path (`root $site_root;`), a relative path (nginx's prefix, Apache's `ServerRoot`), an
//! `alias` or `Alias` (a URI prefix served from elsewhere), a piped log (`CustomLog "|rotatelogs ..."`),
//! and a host that hands requests to another server (nginx's `proxy_pass`, `uwsgi_pass`, ...; a FastCGI
//! `SCRIPT_FILENAME` not built on the root; Apache's `ProxyPass`, `ProxyPassMatch`, `JkMount`, a
//! `RewriteRule` with the `[P]` flag): the page that runs is then the backend's (Tomcat's webapps, an
//! Apache behind nginx), whose root this host's configuration does not say.

/// One virtual host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// Document roots, absolute, without a trailing `/`.
    pub roots: Vec<Vec<u8>>,
    /// Some root of the host could not be read (a variable, a relative path, an alias).
    pub roots_unknown: bool,
    /// Access logs, absolute.
    pub logs: Vec<Vec<u8>>,
    /// Some log of the host could not be read (a variable, a relative path, a pipe).
    pub logs_unknown: bool,
}

/// What one configuration file says: its hosts and the defaults of hosts that name no root or log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    pub sites: Vec<Site>,
    /// The main server's (Apache) or `http` block's (nginx) roots and logs.
    pub defaults: Site,
    /// The file includes, outside any host, a file the collector does not store
    /// ([`minetrace_schemas::locations::WEB_SERVER_CONFIGS`]) that can hold hosts of their own: the hosts
    /// read are not all there are, so no log's roots are known.
    pub incomplete: bool,
}

/// Files an `include` names that define no host (types, parameters, modules, snippets of a host).
const INCLUDES_WITHOUT_HOSTS: &[&[u8]] = &[
    b"mime.types",
    b"fastcgi_params",
    b"fastcgi.conf",
    b"proxy_params",
    b"uwsgi_params",
    b"scgi_params",
    b"koi-utf",
    b"koi-win",
    b"win-utf",
    b"ports.conf",
    b"magic",
];
/// Directories whose files an `include` names that define no host.
const INCLUDE_DIRS_WITHOUT_HOSTS: &[&[u8]] = &[
    b"modules-enabled",
    b"mods-enabled",
    b"conf.modules.d",
    b"snippets",
];

/// Whether an `include` (resolved against `base`, the server's configuration directory) names only
/// files the collector stores or files that define no host.
fn include_is_read(value: &[u8], base: &[u8]) -> bool {
    use minetrace_schemas::locations::WEB_SERVER_CONFIGS;
    let path = if value.starts_with(b"/") {
        value.to_vec()
    } else {
        [base, b"/", value].concat()
    };
    let (dir, name) = match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (
            path.get(..i).unwrap_or_default(),
            path.get(i + 1..).unwrap_or_default(),
        ),
        None => (&b""[..], path.as_slice()),
    };
    let dir_name = dir.rsplit(|b| *b == b'/').next().unwrap_or_default();
    WEB_SERVER_CONFIGS
        .iter()
        .any(|c| *c == path.as_slice() || c.strip_suffix(b"/*").is_some_and(|d| d == dir))
        || INCLUDES_WITHOUT_HOSTS.contains(&name)
        || INCLUDE_DIRS_WITHOUT_HOSTS.contains(&dir_name)
}

/// A path value: absolute, no variable, without a trailing `/`; `None` when it cannot be read.
fn path_value(v: &[u8]) -> Option<Vec<u8>> {
    if !v.starts_with(b"/") || v.contains(&b'$') {
        return None;
    }
    let trimmed = match v.iter().rposition(|b| *b != b'/') {
        Some(end) => v.get(..=end).unwrap_or(v),
        None => b"/",
    };
    Some(trimmed.to_vec())
}

/// Adds a root (`root`) or a log (`log`) value to a site.
fn add(site: &mut Site, value: Option<&[u8]>, log: bool) {
    let read = value.and_then(path_value);
    match (log, read) {
        (false, Some(p)) => site.roots.push(p),
        (false, None) => site.roots_unknown = true,
        (true, Some(p)) => site.logs.push(p),
        (true, None) => site.logs_unknown = true,
    }
}

/// nginx's configuration: words, `{`, `}` and `;` as its parser splits them (quotes and `\` escapes,
/// `#` comments to the end of the line).
fn nginx_tokens(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        i += 1;
        if let Some(q) = quote {
            match c {
                b'\\' => {
                    if let (Some(w), Some(&n)) = (word.as_mut(), text.get(i)) {
                        w.push(n);
                    }
                    i += 1;
                }
                _ if c == q => quote = None,
                _ => word.get_or_insert_with(Vec::new).push(c),
            }
            continue;
        }
        match c {
            b'"' | b'\'' => {
                quote = Some(c);
                word.get_or_insert_with(Vec::new);
            }
            b'#' if word.is_none() => {
                while text.get(i).is_some_and(|b| *b != b'\n') {
                    i += 1;
                }
            }
            b'{' | b'}' | b';' => {
                out.extend(word.take());
                out.push(vec![c]);
            }
            _ if c.is_ascii_whitespace() => out.extend(word.take()),
            _ => word.get_or_insert_with(Vec::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// An nginx configuration file (`nginx.conf`, a `sites-enabled` or `conf.d` file).
pub fn nginx(text: &[u8]) -> WebConfig {
    let mut config = WebConfig::default();
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut site: Option<Site> = None;
    let mut words: Vec<Vec<u8>> = Vec::new();
    for token in nginx_tokens(text) {
        match token.as_slice() {
            b"{" => {
                let name = words.first().cloned().unwrap_or_default();
                if name == b"server" && site.is_none() {
                    site = Some(Site::default());
                }
                blocks.push(name);
                words.clear();
            }
            b"}" => {
                if blocks.pop().as_deref() == Some(&b"server"[..]) {
                    config.sites.extend(site.take());
                }
                words.clear();
            }
            b";" => {
                let value = words.get(1).map(Vec::as_slice);
                if site.is_none()
                    && words.first().is_some_and(|w| w == b"include")
                    && !value.is_some_and(|v| include_is_read(v, b"/etc/nginx"))
                {
                    config.incomplete = true;
                }
                let target = match site.as_mut() {
                    Some(s) => Some(s),
                    None if blocks.iter().any(|b| b == b"http") => Some(&mut config.defaults),
                    None => None,
                };
                if let (Some(t), Some(name)) = (target, words.first()) {
                    match name.as_slice() {
                        b"root" => add(t, value, false),
                        b"alias" | b"proxy_pass" | b"uwsgi_pass" | b"scgi_pass" | b"grpc_pass" => {
                            t.roots_unknown = true;
                        }
                        b"fastcgi_param"
                            if value == Some(&b"SCRIPT_FILENAME"[..])
                                && !words.get(2).is_some_and(|v| {
                                    v.starts_with(b"$document_root")
                                        || v.starts_with(b"$realpath_root")
                                }) =>
                        {
                            t.roots_unknown = true;
                        }
                        b"access_log" if value != Some(&b"off"[..]) => add(t, value, true),
                        _ => {}
                    }
                }
                words.clear();
            }
            _ => words.push(token),
        }
    }
    config
}

/// Apache's `envvars` (`export APACHE_LOG_DIR=/var/log/apache2$SUFFIX`): the values its configuration
/// names as `${NAME}`, with `$SUFFIX` (empty but for multi-instance setups) left out.
pub fn apache_envvars(text: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    crate::parse::numbered_lines(text)
        .filter_map(|(_, l)| {
            let l = l.trim_ascii();
            let (name, value) = l
                .strip_prefix(b"export ")?
                .trim_ascii()
                .split_once_byte(b'=')?;
            let value = value.trim_ascii();
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            let value: Vec<u8> = value.strip_suffix(b"$SUFFIX").unwrap_or(value).to_vec();
            Some((name.to_vec(), value))
        })
        .collect()
}

/// `split_once` for byte slices.
trait SplitOnceByte {
    fn split_once_byte(&self, at: u8) -> Option<(&[u8], &[u8])>;
}

impl SplitOnceByte for [u8] {
    fn split_once_byte(&self, at: u8) -> Option<(&[u8], &[u8])> {
        let i = self.iter().position(|b| *b == at)?;
        Some((self.get(..i)?, self.get(i + 1..)?))
    }
}

/// `${NAME}` replaced by its `envvars` value; a name without one stays (and makes the path unknown).
fn substitute(value: &[u8], vars: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = value.to_vec();
    for (name, v) in vars {
        let pattern = [&b"${"[..], name, b"}"].concat();
        while let Some(at) = out
            .windows(pattern.len())
            .position(|w| w == pattern.as_slice())
        {
            out.splice(at..at + pattern.len(), v.iter().copied());
        }
    }
    out
}

/// The first argument of an Apache directive line (after the name), unquoted.
fn apache_argument(rest: &[u8]) -> Option<&[u8]> {
    let rest = rest.trim_ascii_start();
    if let Some(quoted) = rest.strip_prefix(b"\"") {
        return quoted.split(|b| *b == b'"').next();
    }
    rest.split(|b| b.is_ascii_whitespace()).next()
}

/// Whether a `RewriteRule`'s flags (`[P]`, `[L,P]`, `[proxy]`) hand the request to a proxy.
fn proxied_rewrite(rest: &[u8]) -> bool {
    let Some(open) = rest.iter().rposition(|b| *b == b'[') else {
        return false;
    };
    rest.get(open + 1..)
        .and_then(|f| f.split(|b| *b == b']').next())
        .is_some_and(|flags| {
            flags
                .split(|b| *b == b',')
                .map(|f| f.trim_ascii().to_ascii_lowercase())
                .any(|f| f == b"p" || f == b"proxy")
        })
}

/// An Apache httpd configuration file (`apache2.conf`, a `sites-enabled` or `conf.d` file), with the
/// `envvars` values its `${NAME}` paths use and `base`, its server root (`/etc/apache2`), that relative
/// `Include` paths start from.
pub fn apache(text: &[u8], vars: &[(Vec<u8>, Vec<u8>)], base: &[u8]) -> WebConfig {
    let mut config = WebConfig::default();
    let mut site: Option<Site> = None;
    let mut joined = Vec::new();
    for (_, raw) in crate::parse::numbered_lines(text) {
        // A line ending in `\` continues on the next.
        if let Some(head) = raw.trim_ascii_end().strip_suffix(b"\\") {
            joined.extend_from_slice(head);
            joined.push(b' ');
            continue;
        }
        joined.extend_from_slice(raw);
        let line = std::mem::take(&mut joined);
        let line = line.trim_ascii();
        if line.starts_with(b"#") || line.is_empty() {
            continue;
        }
        let end = line
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'>')
            .unwrap_or(line.len());
        let name = line.get(..end).unwrap_or_default().to_ascii_lowercase();
        let rest = line.get(end..).unwrap_or_default();
        match name.as_slice() {
            b"<virtualhost" => site = Some(Site::default()),
            b"</virtualhost" => config.sites.extend(site.take()),
            b"documentroot" | b"customlog" | b"transferlog" => {
                let value = apache_argument(rest).map(|v| substitute(v, vars));
                let log = name != b"documentroot";
                let t = site.as_mut().unwrap_or(&mut config.defaults);
                add(t, value.as_deref(), log);
            }
            b"alias" | b"aliasmatch" | b"scriptalias" | b"scriptaliasmatch" | b"proxypass"
            | b"proxypassmatch" | b"jkmount" => {
                site.as_mut().unwrap_or(&mut config.defaults).roots_unknown = true;
            }
            b"include" | b"includeoptional" if site.is_none() => {
                let value = apache_argument(rest).map(|v| substitute(v, vars));
                if !value.is_some_and(|v| include_is_read(&v, base)) {
                    config.incomplete = true;
                }
            }
            b"rewriterule" if proxied_rewrite(rest) => {
                site.as_mut().unwrap_or(&mut config.defaults).roots_unknown = true;
            }
            _ => {}
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(v: &[Vec<u8>]) -> Vec<String> {
        v.iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    #[test]
    fn nginx_server_blocks_name_their_roots_and_logs() {
        let conf = br#"
http {
    access_log /var/log/nginx/access.log;
    # root /nowhere;
    server {
        server_name shop.example;
        root /var/www/shop/public/;
        access_log "/var/log/nginx/shop.access.log" combined;
        location ~ \.php$ { fastcgi_pass unix:/run/php/fpm.sock; }
    }
    server {
        server_name blog.example;
        location / { root /var/www/blog; }
        location /static/ { alias /srv/static/; }
        access_log off;
    }
    server { root $site_root; }
}
"#;
        let c = nginx(conf);
        assert_eq!(paths(&c.defaults.logs), ["/var/log/nginx/access.log"]);
        assert!(c.defaults.roots.is_empty());
        assert_eq!(c.sites.len(), 3, "{c:?}");
        assert_eq!(paths(&c.sites[0].roots), ["/var/www/shop/public"]);
        assert_eq!(paths(&c.sites[0].logs), ["/var/log/nginx/shop.access.log"]);
        assert!(!c.sites[0].roots_unknown);
        assert_eq!(paths(&c.sites[1].roots), ["/var/www/blog"]);
        assert!(c.sites[1].roots_unknown, "an alias");
        assert!(c.sites[1].logs.is_empty() && !c.sites[1].logs_unknown);
        assert!(c.sites[2].roots_unknown, "a variable");
    }

    /// A host that hands its requests to another server serves that server's pages, from a root its own
    /// configuration does not say: unknown. PHP-FPM fed the host's own root stays known.
    #[test]
    fn a_proxied_host_has_no_known_root() {
        for conf in [
            &b"server { root /var/www/s; location / { proxy_pass http://127.0.0.1:8080; } }"[..],
            b"server { root /var/www/s; location ~ \\.php$ { fastcgi_param SCRIPT_FILENAME /srv/app/index.php; } }",
            b"server { root /var/www/s; location / { uwsgi_pass unix:/run/app.sock; } }",
        ] {
            let c = nginx(conf);
            assert!(c.sites[0].roots_unknown, "{}", String::from_utf8_lossy(conf));
        }
        for fed in [
            &b"$document_root$fastcgi_script_name"[..],
            b"$realpath_root$fastcgi_script_name",
        ] {
            let conf = [
                &b"server { root /var/www/s; location ~ \\.php$ { fastcgi_param SCRIPT_FILENAME "[..],
                fed,
                b"; } }",
            ]
            .concat();
            assert!(!nginx(&conf).sites[0].roots_unknown);
        }
        for line in [
            &b"ProxyPass / http://127.0.0.1:8080/"[..],
            b"ProxyPassMatch ^/(.*\\.php)$ fcgi://127.0.0.1:9000/srv/app/$1",
            b"JkMount /* worker1",
            b"RewriteRule ^/app/(.*)$ http://127.0.0.1:8080/$1 [L,P]",
        ] {
            let conf = [
                &b"<VirtualHost *:80>\nDocumentRoot /var/www/s\n"[..],
                line,
                b"\n</VirtualHost>\n",
            ]
            .concat();
            assert!(
                apache(&conf, &[], b"/etc/apache2").sites[0].roots_unknown,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let kept = apache(
            b"<VirtualHost *:80>\nDocumentRoot /var/www/s\nRewriteRule ^(.*)$ /index.php [L,QSA]\n</VirtualHost>\n",
            &[],
            b"/etc/apache2",
        );
        assert!(!kept.sites[0].roots_unknown);
    }

    /// A file that includes, outside any host, files the collector does not store may leave hosts
    /// unread: the configuration is incomplete. Includes of stored files, of types and parameters and
    /// of module or snippet directories are read or define no host.
    #[test]
    fn includes_the_collector_does_not_store_make_it_incomplete() {
        let debian = nginx(
            b"load_module modules/x.so;\ninclude /etc/nginx/modules-enabled/*.conf;\nhttp { include mime.types;\ninclude /etc/nginx/conf.d/*.conf; include sites-enabled/*;\nserver { include snippets/fastcgi-php.conf; include /opt/anything.conf; } }",
        );
        assert!(!debian.incomplete, "{debian:?}");
        let custom = nginx(b"http { include /etc/nginx/vhosts/*.conf; }");
        assert!(custom.incomplete);
        let apache_ok = apache(
            b"Include ports.conf\nIncludeOptional mods-enabled/*.load\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
            &[],
            b"/etc/apache2",
        );
        assert!(!apache_ok.incomplete, "{apache_ok:?}");
        let rhel = apache(
            b"Include conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\nIncludeOptional vhosts.d/*.conf\n",
            &[],
            b"/etc/httpd",
        );
        assert!(rhel.incomplete);
    }

    #[test]
    fn apache_virtual_hosts_with_envvars() {
        let vars = apache_envvars(
            b"export APACHE_RUN_USER=www-data\nexport APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n",
        );
        let conf = br#"
DocumentRoot /var/www/html
CustomLog ${APACHE_LOG_DIR}/other_vhosts_access.log vhost_combined
<VirtualHost *:80>
    ServerName shop.example
    DocumentRoot "/var/www/shop"
    CustomLog ${APACHE_LOG_DIR}/shop_access.log \
        combined
</VirtualHost>
<VirtualHost *:8080>
    DocumentRoot /var/www/admin
    CustomLog "|/usr/bin/rotatelogs /var/log/apache2/admin.%Y 86400" common
    Alias /tools /opt/tools
</VirtualHost>
"#;
        let c = apache(conf, &vars, b"/etc/apache2");
        assert_eq!(paths(&c.defaults.roots), ["/var/www/html"]);
        assert_eq!(
            paths(&c.defaults.logs),
            ["/var/log/apache2/other_vhosts_access.log"]
        );
        assert_eq!(c.sites.len(), 2);
        assert_eq!(paths(&c.sites[0].roots), ["/var/www/shop"]);
        assert_eq!(
            paths(&c.sites[0].logs),
            ["/var/log/apache2/shop_access.log"]
        );
        assert!(c.sites[1].logs_unknown && c.sites[1].roots_unknown, "{c:?}");
        // A name envvars does not set stays a variable: unknown.
        let c = apache(b"CustomLog ${LOGS}/x.log common\n", &vars, b"/etc/apache2");
        assert!(c.defaults.logs_unknown);
    }
}
