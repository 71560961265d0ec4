//! Progress for long work, on stderr and only when stderr is a terminal: a pipe, a file or CI sees
//! nothing (indicatif hides its draw target when stderr is not a terminal). Never on stdout, which
//! carries the summary, JSON or a script.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner naming the current step of one command.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A spinner for `command` (`minetrace analyze`), hidden unless stderr is a terminal.
    pub fn spinner(command: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(command.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    /// A bar of `total` items for `command`, hidden unless stderr is a terminal.
    pub fn counter(command: &str, total: u64, unit: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = format!("{{prefix}}: [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}})");
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(command.to_owned());
        Progress { bar }
    }

    /// Names the step now running (plain ASCII from the analyzer, never host bytes).
    pub fn step(&self, what: &'static str) {
        self.bar.set_message(what);
    }

    pub fn set_position(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// Whether anything is drawn (stderr is a terminal).
    pub fn is_drawn(&self) -> bool {
        !self.bar.is_hidden()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
