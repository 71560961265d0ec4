//! The timeline: process starts (observed), file times (mtime is settable with `touch`, ctime and birth
//! time are harder to fake: each says which), auth log lines (parsed), crontab and key file changes, the
//! boot and the collection itself. Sorted by time, then description, then message.

use minetrace_schemas::escape_bytes;
use minetrace_schemas::records::file::{FileKind, FileRecord};

use crate::model::auth::AuthEvent;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use crate::graph::nodes::{file_record_id, proc_id, user_name_id, Level, NodeKind};
use crate::graph::persistence::kind_of;
use crate::graph::processes::cmdline_text;
use crate::graph::ssh::is_authorized_keys;
use crate::graph::AttackGraph;
use crate::model::HostModel;

/// Events kept (the latest win: an intrusion is recent).
pub const MAX_EVENTS: usize = 100_000;

/// One timeline event. An auth-log event borrows the model's [`AuthEvent`] instead of copying its line
/// (a large log gives ~100,000 of them): [`Event::message`] and [`Event::source`] render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// Microseconds since the epoch.
    pub time_us: i64,
    /// Timesketch `timestamp_desc`: what the time is.
    pub desc: &'static str,
    text: Text<'a>,
    pub node: Option<String>,
    pub level: Level,
    /// True for times an attacker can set freely (mtime, atime).
    pub forgeable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Text<'a> {
    Own {
        message: Box<str>,
        source: Box<str>,
    },
    /// The event and its log line (borrowed from the captured log when it needs no escaping).
    Auth(&'a AuthEvent, Cow<'a, str>),
}

/// The words before an auth event's log line in its message.
const AUTH_PREFIX: &str = "auth log, ";

impl Event<'_> {
    /// Escaped, one line.
    pub fn message(&self) -> Cow<'_, str> {
        match &self.text {
            Text::Own { message, .. } => Cow::Borrowed(message),
            Text::Auth(a, text) => Cow::Owned(format!("{AUTH_PREFIX}{}: {text}", a.kind.name())),
        }
    }

    /// Where it was read (`/proc/PID/stat`, a path and line).
    pub fn source(&self) -> Cow<'_, str> {
        match &self.text {
            Text::Own { source, .. } => Cow::Borrowed(source),
            Text::Auth(a, _) => Cow::Owned(format!("{}:{}", escape_bytes(&a.path), a.line)),
        }
    }

    /// The event with its text rendered, owning everything (to keep it past the analysis, as the fleet
    /// view does).
    pub fn to_static(&self) -> Event<'static> {
        Event {
            time_us: self.time_us,
            desc: self.desc,
            text: Text::Own {
                message: self.message().into_owned().into_boxed_str(),
                source: self.source().into_owned().into_boxed_str(),
            },
            node: self.node.clone(),
            level: self.level,
            forgeable: self.forgeable,
        }
    }

    /// The message's pieces, for comparing messages without building them.
    fn message_parts(&self) -> [&str; 4] {
        match &self.text {
            Text::Own { message, .. } => [message, "", "", ""],
            Text::Auth(a, text) => [AUTH_PREFIX, a.kind.name(), ": ", text],
        }
    }

    fn cmp_message(&self, other: &Event<'_>) -> Ordering {
        let a = self.message_parts().into_iter().flat_map(str::bytes);
        let b = other.message_parts().into_iter().flat_map(str::bytes);
        a.cmp(b)
    }
}

fn own(message: String, source: impl Into<Box<str>>) -> Text<'static> {
    Text::Own {
        message: message.into_boxed_str(),
        source: source.into(),
    }
}

fn secs_us(secs: i64, nanos: u32) -> i64 {
    secs.saturating_mul(1_000_000)
        .saturating_add(i64::from(nanos / 1000))
}

/// What a file is, for the message.
fn file_role(f: &FileRecord) -> &'static str {
    let p = f.path.as_bytes();
    if is_authorized_keys(p) {
        return "authorized_keys";
    }
    match kind_of(p) {
        "cron" => "crontab",
        "systemd" => "systemd unit",
        "preload" => "ld.so.preload",
        "rc" => "rc script",
        "profile" => "shell hook",
        "at" => "at job",
        "udev" => "udev rule",
        "modules" => "module list",
        "sudoers" => "sudoers",
        _ => "file",
    }
}

pub fn build<'a>(
    model: &'a HostModel,
    g: &AttackGraph,
    auth: &'a [AuthEvent],
) -> (Vec<Event<'a>>, usize) {
    let boot = if model.host.identity.boot_id.is_empty() {
        model.manifest.host.boot_id.clone()
    } else {
        model.host.identity.boot_id.clone()
    };
    let mut ev = Vec::with_capacity(2 + model.processes.len() + 3 * model.files.len() + auth.len());
    host_events(model, &boot, &mut ev);
    process_events(model, &boot, &mut ev);
    file_events(model, &mut ev);
    auth_events(model, g, auth, &mut ev);
    crate::permute::sort_by(&mut ev, |a, b| {
        a.time_us
            .cmp(&b.time_us)
            .then_with(|| a.desc.cmp(b.desc))
            .then_with(|| a.cmp_message(b))
    });
    let dropped = ev.len().saturating_sub(MAX_EVENTS);
    if dropped > 0 {
        ev.drain(..dropped);
    }
    (ev, dropped)
}

/// The boot and the start of the collection.
fn host_events(model: &HostModel, boot: &str, ev: &mut Vec<Event<'_>>) {
    if model.host.boot_time_unix > 0 {
        ev.push(Event {
            time_us: secs_us(model.host.boot_time_unix, 0),
            desc: "Kernel boot",
            text: own(
                format!("kernel booted (boot id {})", escape_bytes(boot.as_bytes())),
                "/proc/stat btime",
            ),
            node: None,
            level: Level::Observed,
            forgeable: false,
        });
    }
    let m = &model.manifest;
    if m.started_unix_ms > 0 {
        ev.push(Event {
            time_us: m.started_unix_ms.saturating_mul(1000),
            desc: "Collection start",
            text: own(
                format!(
                    "minetrace-collect {} started",
                    escape_bytes(m.collector.version.as_bytes())
                ),
                "manifest.json",
            ),
            node: None,
            level: Level::Observed,
            forgeable: false,
        });
    }
}

/// Process starts (observed: `/proc/PID/stat`).
fn process_events(model: &HostModel, boot: &str, ev: &mut Vec<Event<'_>>) {
    let hz = model.host.clock_ticks_per_sec;
    for p in &model.processes {
        if hz == 0 || model.host.boot_time_unix <= 0 {
            break;
        }
        let sub_us =
            i64::try_from((p.start_ticks % hz).saturating_mul(1_000_000) / hz).unwrap_or(0);
        let Some(t) = model.start_unix(p) else {
            continue;
        };
        let exe = p
            .exe
            .as_ref()
            .map(|e| {
                format!(
                    " exe {}{}",
                    e.path.escaped(),
                    if e.deleted { " (deleted)" } else { "" }
                )
            })
            .unwrap_or_default();
        ev.push(Event {
            time_us: secs_us(t, 0).saturating_add(sub_us),
            desc: "Process start",
            text: own(
                format!(
                    "process started: pid {} ({}){exe} argv: {}",
                    p.pid,
                    p.comm.escaped(),
                    cmdline_text(p)
                ),
                format!("/proc/{}/stat starttime", p.pid),
            ),
            node: Some(proc_id(boot, p.pid, p.start_ticks)),
            level: Level::Observed,
            forgeable: false,
        });
    }
}

/// Each recorded file's mtime, ctime and birth time. A record with an `error` still has its times when
/// the collector could `stat` it (`not hashed: ...` and other skip reasons); only a record it could not
/// `stat` (kind unknown, no times) has nothing to place.
fn file_events(model: &HostModel, ev: &mut Vec<Event<'_>>) {
    for f in &model.files {
        if matches!(f.kind, FileKind::Unknown) {
            continue;
        }
        let node = file_record_id(f);
        let role = file_role(f);
        let path = f.path.escaped();
        let mut push = |secs: i64, nanos: u32, desc: &'static str, what: &str, forgeable: bool| {
            if secs > 0 {
                ev.push(Event {
                    time_us: secs_us(secs, nanos),
                    desc,
                    text: own(format!("{role} {path} {what}"), format!("statx {path}")),
                    node: Some(node.clone()),
                    level: Level::Observed,
                    forgeable,
                });
            }
        };
        push(
            f.mtime.secs,
            f.mtime.nanos,
            "mtime (content modified; settable with touch)",
            "content modified",
            true,
        );
        push(
            f.ctime.secs,
            f.ctime.nanos,
            "ctime (inode changed)",
            "inode changed (content, owner, mode or flags)",
            false,
        );
        if let Some(b) = f.btime {
            push(b.secs, b.nanos, "btime (file created)", "created", false);
        }
    }
}

/// Auth-log events with a time, tied to the account node they name.
fn auth_events<'a>(
    model: &'a HostModel,
    g: &AttackGraph,
    auth: &'a [AuthEvent],
    ev: &mut Vec<Event<'a>>,
) {
    // Account nodes by escaped name, for log lines that name an account.
    let users: HashMap<&str, &str> =
        g.g.node_weights()
            .filter(|n| n.kind == NodeKind::User)
            .filter_map(|n| {
                n.attrs
                    .get("name")
                    .map(|name| (name.as_str(), n.id.as_str()))
            })
            .collect();
    for a in auth {
        let Some(t) = a.time else { continue };
        let name = escape_bytes(&a.user);
        let node = (!a.user.is_empty()).then(|| {
            users
                .get(name.as_str())
                .map_or_else(|| user_name_id(&a.user), |id| (*id).to_owned())
        });
        ev.push(Event {
            time_us: secs_us(t, 0),
            desc: if a.time_guessed {
                "Log line (syslog time, year and zone inferred)"
            } else {
                "Log line"
            },
            text: Text::Auth(a, a.text(model)),
            node,
            level: Level::Parsed,
            forgeable: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture;

    #[test]
    fn files_with_a_skip_reason_are_placed_and_unstatable_ones_are_not() {
        let (mut skipped, _) = fixture::file(b"/opt/big.bin", None);
        skipped.error = Some("not hashed: over the hashing budget".into());
        let (mut unstatable, _) = fixture::file(b"/root/gone", None);
        unstatable.kind = FileKind::Unknown;
        unstatable.mtime = Default::default();
        unstatable.ctime = Default::default();
        unstatable.error = Some("stat: Permission denied".into());
        let model = fixture::model(vec![(skipped, None), (unstatable, None)], Vec::new());
        let mut ev = Vec::new();
        file_events(&model, &mut ev);
        let messages: Vec<String> = ev.iter().map(|e| e.message().into_owned()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("/opt/big.bin content modified")),
            "{messages:?}"
        );
        assert!(
            !messages.iter().any(|m| m.contains("/root/gone")),
            "{messages:?}"
        );
    }
}
