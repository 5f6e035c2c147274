//! Progress on stderr while a deploy or verify waits.
//!
//! On a terminal, each progress line is printed above an indicatif spinner
//! that repeats the latest line with the time spent waiting, so a long
//! rollout visibly moves. When stderr is not a terminal (a CI log, a pipe)
//! or `TERM` is `dumb`, the same lines are written as plain text with a UTC
//! timestamp, because a spinner's redraws would only clutter the log.
//! `-q` silences both.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// The spinner of the running command, while one is shown. Logging and
/// report output clear or suspend it, so that no line is drawn over.
static SPINNER: Mutex<Option<ProgressBar>> = Mutex::new(None);

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
        let line = format!("{} {text}", utc_clock());
        if !spinner_wanted() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
            return;
        }
        let Ok(mut slot) = SPINNER.lock() else {
            eprintln!("{line}");
            return;
        };
        let spinner = slot.get_or_insert_with(new_spinner);
        spinner.println(&line);
        spinner.set_message(without_elapsed(text).to_string());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        clear();
    }
}

/// Removes the spinner, if one is shown. Call it before writing a report
/// to stdout on the same terminal; a later progress line starts a new one.
pub fn clear() {
    if let Ok(mut slot) = SPINNER.lock()
        && let Some(spinner) = slot.take()
    {
        spinner.finish_and_clear();
    }
}

/// Runs `write` with the spinner hidden, so a log line is not drawn over.
pub fn suspend<T>(write: impl FnOnce() -> T) -> T {
    match SPINNER.lock() {
        Ok(slot) => match slot.as_ref() {
            Some(spinner) => spinner.suspend(write),
            None => write(),
        },
        Err(_) => write(),
    }
}

/// A writer for `tracing` that keeps log lines clear of the spinner.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        suspend(|| std::io::stderr().lock().write(buffer))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Drops a leading `[  2.0s] ` from a line, because the spinner shows
/// its own elapsed time beside the message.
fn without_elapsed(text: &str) -> &str {
    match text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("s] "))
    {
        Some((seconds, rest)) if seconds.trim().parse::<f64>().is_ok() => rest,
        _ => text,
    }
}

fn spinner_wanted() -> bool {
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    std::io::stderr().is_terminal() && !dumb
}

fn new_spinner() -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    // The template is a constant, so it cannot fail to parse; the default
    // style is a harmless fallback all the same.
    let style = ProgressStyle::with_template("{spinner} [{elapsed:>4}] {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    spinner.set_style(style);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// Returns the wall-clock time of day in UTC as `HH:MM:SS`.
fn utc_clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (hours, minutes, seconds) = ((now / 3600) % 24, (now / 60) % 60, now % 60);
    format!("{hours:02}:{minutes:02}:{seconds:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_prefix_removed() {
        assert_eq!(without_elapsed("[  2.5s] starting tasks"), "starting tasks");
        assert_eq!(without_elapsed("[note] starting"), "[note] starting");
        assert_eq!(without_elapsed("registered x"), "registered x");
    }
}
