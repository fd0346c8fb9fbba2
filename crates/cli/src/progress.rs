//! Progress bars on standard error, only when it is a terminal: scripts and
//! CI see no progress output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use modelgate_signing::Progress;

/// A byte-count progress bar for hashing (sign, verify, vet) and for
/// copying into the blob store (`models add`).
#[derive(Clone)]
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar labelled `verb`, hidden when standard error is not a terminal.
    pub(crate) fn new(verb: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        let template =
            format!("{verb} {{bar:40}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} eta {{eta}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        Bar(Some(bar))
    }

    /// Remove the bar from the terminal.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total_bytes);
        }
    }

    fn advance(&self, bytes_done: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(bytes_done);
        }
    }
}

impl modelgate_inventory::CopyProgress for Bar {
    fn start(&self, total_bytes: u64) {
        Progress::start(self, total_bytes);
    }

    fn advance(&self, bytes_done: u64) {
        Progress::advance(self, bytes_done);
    }
}
