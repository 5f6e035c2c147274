//! A secret value that never shows itself in `Debug`, `Display` or logs.

use std::fmt;

/// A secret value. Its `Debug` and `Display` print `[redacted]`; only
/// [`SecretValue::expose`] returns the text, at the one place that must
/// send it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> SecretValue {
        SecretValue(value)
    }

    /// Returns the secret text. Call it only where the value leaves the
    /// process on purpose (the smoke request header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns a copy of `text` with every occurrence of the value replaced,
    /// for text that came from elsewhere (a server's error body) and might
    /// echo it.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_value() {
        let secret = SecretValue::new("canary-7f3a".into());
        assert!(!format!("{secret:?}").contains("canary"));
        assert!(!format!("{secret}").contains("canary"));
        assert!(!format!("{:?}", Some(&secret)).contains("canary"));
        assert_eq!(secret.expose(), "canary-7f3a");
    }

    #[test]
    fn scrub_replaces_value() {
        let secret = SecretValue::new("canary-7f3a".into());
        assert_eq!(secret.scrub("got canary-7f3a back"), "got [redacted] back");
    }
}
