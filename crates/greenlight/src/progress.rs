//! Progress lines on stderr while a deploy waits.
//!
//! Lines are plain text with a timestamp, which reads the same on a
//! terminal and in a CI log. `-q` silences them.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences progress lines for the rest of the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Writes progress lines to stderr.
#[derive(Debug, Default)]
pub struct Progress;

impl Progress {
    pub fn new() -> Progress {
        Progress
    }

    /// Writes one line, prefixed with the wall-clock time in UTC.
    pub fn line(&self, text: &str) {
        if QUIET.load(Ordering::Relaxed) {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (hours, minutes, seconds) = ((now / 3600) % 24, (now / 60) % 60, now % 60);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{hours:02}:{minutes:02}:{seconds:02} {text}");
    }
}
