//! The intrusion window: one list of the kit's timed artifacts, read two ways. The entry inference
//! (`entry::kit`) asks for the earliest sign of the kit, to place a login or a service log line before
//! it; `MT-SSH-007` (`detect::window`) asks for the span of the kit's writes, to tell a key written
//! during the intrusion from an admin's. Both used to walk the findings with their own list and their
//! own cut-offs; every cut-off is here now, with why it has its value.
//!
//! A timed artifact is a subject a finding calls the intrusion's ([`Role::Artifact`]: not a log it read,
//! whose mtime is its last write near the collection, nor a file it names for context, decades old), at
//! a time the bundle records: a kit file's mtime, a kit process's start, the mtime of its image (of the
//! file at its path while it is on disk; of the inode itself, as the collector read it, once deleted;
//! none for a memfd), the mtime of the file holding a flagged persisted line. A time of 0 or less is "not recorded" (or an
//! mtime set to the epoch, `touch -d @0`): it places nothing and never hides the artifacts that have one.
//!
//! mtimes can be set with `touch`: these times place evidence relative to each other; outputs never
//! show them as more than "suspected".

use minetrace_schemas::findings::{Finding, Role, Severity, Subject};
use minetrace_schemas::records::file::FileRecord;
use minetrace_schemas::records::process::ProcessRecord;
use minetrace_schemas::RawBytes;

use crate::model::ssh::is_authorized_keys;
use crate::model::HostModel;

/// Seconds before the kit's earliest sign in which an event can be how the attacker got in: a login,
/// an exploit's log line, then the download and start of the kit take minutes, rarely an hour.
pub const WINDOW_BEFORE: i64 = 3600;
/// Seconds after the earliest sign an event still counts as before it: a web shell or module file is
/// written a moment before the request that uses it is logged.
pub const WINDOW_AFTER: i64 = 120;
/// How far around the span of the kit's writes a key file's change is "during the intrusion": an
/// attacker adds the key in the same session as the kit, but the session's writes (and `touch`-ed
/// copies) scatter over an hour or so either side.
pub const SLACK_SECS: i64 = 2 * 3600;
/// How soon after a login from inside the network the kit appears when the login was a spreader's: its
/// session runs the download at once (`ssh -oBatchMode=yes host '(curl||wget) ...|sh'`: 8220, TeamTNT).
pub const SPREAD_SECS: i64 = 300;

/// What a timed artifact's time is the time of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignKind {
    /// A kit file was written (its mtime).
    Written,
    /// The image a kit process runs was written (its mtime). Kept apart from [`SignKind::Written`]:
    /// the span of writes has only ever been dated by files the findings name themselves.
    Image,
    /// A kit process started (pid and escaped comm, for evidence).
    Started { pid: i32, comm: String },
    /// The file holding a flagged persisted line was written (its mtime).
    Line(u32),
}

/// One kit artifact with a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedArtifact {
    /// Seconds since the epoch, > 0.
    pub time: i64,
    pub kind: SignKind,
    /// Severity of the finding that names it (an artifact named by two findings is listed twice).
    pub severity: Severity,
    /// The model's path of the file (the image, for a process).
    pub path: RawBytes,
    /// Owner of that file (the process's effective uid for a start).
    pub uid: u32,
    /// An `authorized_keys` file: what the span of writes judges, not what sets it.
    pub authorized_keys: bool,
    /// A file holding a key a finding at medium or above judged: a key can be the way in (planted
    /// months before it was used) as well as what was added after it, so it is no sign of the kit.
    pub holds_judged_key: bool,
}

impl TimedArtifact {
    /// `process 42 (xmr) started`, `/tmp/.k/xmr written`, `/etc/crontab:3 written`.
    pub fn describe(&self) -> String {
        match &self.kind {
            SignKind::Started { pid, comm } => format!("process {pid} ({comm}) started"),
            SignKind::Written | SignKind::Image => format!("{} written", self.path.escaped()),
            SignKind::Line(line) => format!("{}:{line} written", self.path.escaped()),
        }
    }
}

/// The intrusion window of a set of findings: every timed kit artifact, in the findings' order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntrusionWindow {
    pub artifacts: Vec<TimedArtifact>,
}

/// The subjects that findings at medium or above call the intrusion's ([`Role::Artifact`]), each with
/// its finding: what the kit is (`entry::kit`) and what dates it (here).
pub fn kit_subjects(findings: &[Finding]) -> impl Iterator<Item = (&Finding, &Subject)> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .flat_map(|f| {
            f.subjects
                .iter()
                .filter(|s| s.role == Role::Artifact)
                .map(move |s| (f, &s.subject))
        })
}

/// The process a finding names, when the bundle's process of that pid is the same one (same start):
/// a pid reused by another process is no part of the kit.
pub fn kit_process(model: &HostModel, pid: i32, start_ticks: u64) -> Option<&ProcessRecord> {
    model.process(pid).filter(|p| p.start_ticks == start_ticks)
}

/// Files holding a key a finding at medium or above judged. Like the keys, they are no sign of the kit
/// (a key can be the way in, planted months before it was used) nor part of the entry's kit.
pub fn judged_key_files(findings: &[Finding]) -> Vec<&[u8]> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .flat_map(|f| f.iter_subjects())
        .filter_map(|s| match s {
            Subject::SshKey { path, .. } => Some(path.as_bytes()),
            _ => None,
        })
        .collect()
}

/// The span of the kit's writes: earliest and latest, with the artifacts at the two ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSpan {
    pub first: (RawBytes, i64),
    pub last: (RawBytes, i64),
}

impl IntrusionWindow {
    /// The timed artifacts the findings at medium or above name.
    pub fn of(model: &HostModel, findings: &[Finding]) -> IntrusionWindow {
        let key_files = judged_key_files(findings);
        let mut artifacts = Vec::new();
        // `named` is the path the finding gives (the flags judge it), `rec` the model's file.
        let written = |kind: SignKind, severity: Severity, named: &[u8], rec: &FileRecord| {
            (rec.mtime.secs > 0).then(|| TimedArtifact {
                time: rec.mtime.secs,
                kind,
                severity,
                path: rec.path.clone(),
                uid: rec.uid,
                authorized_keys: is_authorized_keys(named),
                holds_judged_key: key_files.contains(&named),
            })
        };
        for (f, s) in kit_subjects(findings) {
            match s {
                Subject::Process {
                    pid, start_ticks, ..
                } => {
                    let Some(p) = kit_process(model, *pid, *start_ticks) else {
                        continue;
                    };
                    // The file at the image's path is the image only while the image is on disk: a
                    // deleted one's path may hold another file now (a package's upgrade, the kit's
                    // next drop), and a memfd has no path.
                    let exe = p.exe.as_ref();
                    let on_disk = exe.filter(|e| !e.deleted && !e.memfd);
                    let image = on_disk.and_then(|e| model.file(e.path.as_bytes()));
                    if let Some(t) = model.start_unix(p).filter(|t| *t > 0) {
                        artifacts.push(TimedArtifact {
                            time: t,
                            kind: SignKind::Started {
                                pid: p.pid,
                                comm: p.comm.escaped(),
                            },
                            severity: f.severity,
                            path: image.map(|i| i.path.clone()).unwrap_or_default(),
                            uid: p.uid.effective,
                            authorized_keys: false,
                            holds_judged_key: false,
                        });
                    }
                    if let Some(file) = image {
                        let named = file.path.as_bytes();
                        artifacts.extend(written(SignKind::Image, f.severity, named, file));
                    }
                    // A deleted image's own times, by `fstat` of its descriptor at collection.
                    if let (Some(e), Some(t)) = (exe, model.image_times_of(p)) {
                        if t.mtime.secs > 0 {
                            artifacts.push(TimedArtifact {
                                time: t.mtime.secs,
                                kind: SignKind::Image,
                                severity: f.severity,
                                path: e.path.clone(),
                                uid: t.uid,
                                authorized_keys: false,
                                holds_judged_key: false,
                            });
                        }
                    }
                }
                Subject::File { path, .. } => {
                    if let Some(file) = model.file(path.as_bytes()) {
                        let kind = SignKind::Written;
                        artifacts.extend(written(kind, f.severity, path.as_bytes(), file));
                    }
                }
                Subject::Persistence { path, line } => {
                    if let Some(file) = model.file(path.as_bytes()) {
                        let kind = SignKind::Line(*line);
                        artifacts.extend(written(kind, f.severity, path.as_bytes(), file));
                    }
                }
                _ => {}
            }
        }
        IntrusionWindow { artifacts }
    }

    /// The kit's earliest sign, for the entry: any artifact of a finding at medium or above (process
    /// starts included: a fileless kit's only time is its start), except a named file that holds a
    /// judged key. The first listed wins a tie.
    pub fn earliest_sign(&self) -> Option<&TimedArtifact> {
        self.artifacts
            .iter()
            .filter(|a| !(a.kind == SignKind::Written && a.holds_judged_key))
            .min_by_key(|a| a.time)
    }

    /// The artifacts that date the span of writes: files and persisted lines that findings at high or
    /// above name, not `authorized_keys` files (what `MT-SSH-007` judges).
    pub fn writes(&self) -> impl Iterator<Item = &TimedArtifact> {
        self.artifacts.iter().filter(|a| {
            a.severity >= Severity::High
                && matches!(a.kind, SignKind::Written | SignKind::Line(_))
                && !a.authorized_keys
        })
    }

    /// The span of the kit's writes, for `MT-SSH-007`: the first listed wins a tie for the start, the
    /// last listed for the end.
    pub fn written_span(&self) -> Option<WrittenSpan> {
        let first = self.writes().min_by_key(|a| a.time)?;
        let last = self.writes().max_by_key(|a| a.time)?;
        Some(WrittenSpan {
            first: (first.path.clone(), first.time),
            last: (last.path.clone(), last.time),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::finding::{file_subject, finding, process_subject, FindingExt};
    use crate::detect::rules;
    use crate::model::fixture;

    /// A host whose miner (`/tmp/.k/xmr`, mtime 1,700,000,000) runs as pid 42, started at
    /// 1,699,990,010 (boot 1,699,990,000, 100 ticks a second, 1,042 ticks), with root's
    /// `authorized_keys` written at 1,700,000,500 and a config written at 1,699,000,000.
    fn host() -> (HostModel, Finding, Finding) {
        let miner = fixture::file(b"/tmp/.k/xmr", Some(b"\x7fELF stand-in"));
        let mut keys = fixture::file(b"/root/.ssh/authorized_keys", Some(b"ssh-ed25519 AAAA\n"));
        keys.0.mtime.secs = 1_700_000_500;
        let mut config = fixture::file(b"/tmp/.k/config.json", Some(b"{}"));
        config.0.mtime.secs = 1_699_000_000;
        let proc = fixture::process(42, 1, 0, b"/tmp/.k/xmr", &[b"xmr"]);
        let high = finding(&rules::RUN_010, Severity::High)
            .subject(process_subject(&proc))
            .subject(file_subject(&keys.0));
        let medium = finding(&rules::RUN_010, Severity::Medium).subject(file_subject(&config.0));
        let mut model =
            fixture::model_with_processes(vec![miner, keys, config], Vec::new(), vec![proc]);
        model.host.boot_time_unix = 1_699_990_000;
        model.host.clock_ticks_per_sec = 100;
        (model, high, medium)
    }

    /// The entry's view takes process starts and images (a fileless kit's only time is its start) and
    /// medium findings; the span of writes takes only files and persisted lines that findings at high
    /// or above name, never an `authorized_keys` file (what MT-SSH-007 judges).
    #[test]
    fn the_two_views_read_one_list() {
        let (model, high, medium) = host();
        let w = IntrusionWindow::of(&model, std::slice::from_ref(&high));
        let first = w.earliest_sign().expect("the process start is a sign");
        assert_eq!(first.time, 1_699_990_010);
        assert_eq!(first.describe(), "process 42 (xmr) started");
        assert_eq!(
            w.written_span(),
            None,
            "a start, an image and a key file date no write"
        );

        let miner_file = file_subject(&model.file(b"/tmp/.k/xmr").expect("miner").clone());
        let named = high.clone().subject(miner_file);
        let w = IntrusionWindow::of(&model, &[named.clone(), medium.clone()]);
        assert_eq!(
            w.earliest_sign().map(TimedArtifact::describe).as_deref(),
            Some("/tmp/.k/config.json written"),
            "a medium finding's artifact is a sign of the kit"
        );
        let span = w.written_span().expect("the miner file dates the span");
        assert_eq!(
            span.first,
            (RawBytes::from(&b"/tmp/.k/xmr"[..]), 1_700_000_000)
        );
        assert_eq!(span.last, span.first);
    }

    /// A file holding a key a medium finding judged is no sign of the kit (a key can be the way in),
    /// and artifacts without a time (or stomped to the epoch) are not listed.
    #[test]
    fn judged_key_files_and_untimed_artifacts_place_nothing() {
        let (mut model, _, _) = host();
        model.host.boot_time_unix = 0;
        let keys = model
            .file(b"/root/.ssh/authorized_keys")
            .expect("keys")
            .clone();
        for f in model.files.iter_mut() {
            if f.path.as_bytes() == b"/tmp/.k/config.json" {
                f.mtime.secs = 0;
            }
        }
        let stomped = model.file(b"/tmp/.k/config.json").expect("config").clone();
        let key = Subject::SshKey {
            fingerprint: "SHA256:x".into(),
            path: keys.path.clone(),
            line: 1,
        };
        let judged = finding(&rules::SSH_001, Severity::Medium)
            .subject(key)
            .subject(file_subject(&keys));
        let w = IntrusionWindow::of(&model, &[judged]);
        assert_eq!(w.artifacts.len(), 1, "{:?}", w.artifacts);
        assert_eq!(w.earliest_sign(), None);
        let untimed = finding(&rules::RUN_010, Severity::High).subject(file_subject(&stomped));
        let w = IntrusionWindow::of(&model, &[untimed]);
        assert_eq!(w.artifacts, Vec::new(), "touch -d @0 places nothing");
    }

    /// Review of train 3 follow-up (facts12 item 3): a deleted image is dated by its own inode's mtime,
    /// as the collector read it through the process's descriptor, never by the file now at its old
    /// path (here written at 1,700,000,000, after the process started: an upgrade's, a later drop's);
    /// without that record it has no image time, and a memfd image never has one.
    #[test]
    fn a_deleted_images_time_is_its_own_never_its_old_paths() {
        use minetrace_schemas::records::executable::ImageTimes;
        use minetrace_schemas::records::file::FileTime;
        use minetrace_schemas::records::process::FileId;
        let (mut model, high, _) = host();
        let id = FileId { dev: 8, ino: 4242 };
        for p in model.processes.iter_mut() {
            if let Some(e) = p.exe.as_mut() {
                e.deleted = true;
                e.file = Some(id);
            }
        }
        let images = |model: &HostModel| {
            IntrusionWindow::of(model, std::slice::from_ref(&high))
                .artifacts
                .into_iter()
                .filter(|a| a.kind == SignKind::Image)
                .map(|a| a.time)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            images(&model),
            Vec::<i64>::new(),
            "the file at the old path"
        );
        model.image_times.push(ImageTimes {
            file: id,
            mtime: FileTime {
                secs: 1_699_989_000,
                nanos: 0,
            },
            ctime: FileTime {
                secs: 1_699_989_000,
                nanos: 0,
            },
            uid: 0,
        });
        assert_eq!(images(&model), vec![1_699_989_000]);
        let w = IntrusionWindow::of(&model, std::slice::from_ref(&high));
        assert_eq!(
            w.earliest_sign().map(TimedArtifact::describe).as_deref(),
            Some("/tmp/.k/xmr written")
        );
        for p in model.processes.iter_mut() {
            if let Some(e) = p.exe.as_mut() {
                e.memfd = true;
            }
        }
        assert_eq!(
            images(&model),
            Vec::<i64>::new(),
            "a memfd has no disk time"
        );
    }
}
