//! Inline suppression: `# greenlight: ignore[rule-a, rule-b]` on the line
//! of a finding or on the line above it silences those rules there.
//! `# greenlight: ignore` with no list silences every rule.

use crate::source::SourceFile;

const MARKER: &str = "greenlight: ignore";

/// Checks whether a comment on `line` (1-based) or the line above suppresses
/// `rule`.
pub fn is_suppressed(file: &SourceFile, line: usize, rule: &str) -> bool {
    let mut lines = vec![line];
    if line > 1 {
        lines.push(line - 1);
    }
    lines
        .into_iter()
        .any(|l| line_suppresses(file.line_text(l), rule))
}

fn line_suppresses(text: &str, rule: &str) -> bool {
    let Some(hash) = text.find('#') else {
        return false;
    };
    let comment = &text[hash..];
    let Some(pos) = comment.find(MARKER) else {
        return false;
    };
    let rest = &comment[pos + MARKER.len()..];
    let Some(list) = rest.strip_prefix('[') else {
        // A bare `greenlight: ignore` silences every rule on the line.
        return rest.is_empty() || rest.starts_with(char::is_whitespace);
    };
    let Some(end) = list.find(']') else {
        return false;
    };
    list[..end].split(',').any(|r| r.trim() == rule)
}

/// Matches a path against a glob with `*` (within a segment), `**` (any
/// number of segments) and `?`.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    fn matches(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
                let rest = if p.get(2) == Some(&b'/') {
                    &p[3..]
                } else {
                    &p[2..]
                };
                (0..=s.len()).any(|i| matches(rest, &s[i..]))
            }
            (Some(b'*'), _) => {
                let mut i = 0;
                loop {
                    if matches(&p[1..], &s[i..]) {
                        return true;
                    }
                    if i >= s.len() || s[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            (Some(b'?'), Some(c)) if *c != b'/' => matches(&p[1..], &s[1..]),
            (Some(pc), Some(sc)) if pc == sc => matches(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let path = path.trim_start_matches("./");
    let pattern = pattern.trim_start_matches("./");
    matches(pattern.as_bytes(), path.as_bytes())
        || (!pattern.contains('/')
            && path
                .rsplit('/')
                .next()
                .is_some_and(|name| matches(pattern.as_bytes(), name.as_bytes())))
        || path.starts_with(&format!("{}/", pattern.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::{glob_matches, line_suppresses};

    #[test]
    fn suppression_names_rule() {
        assert!(line_suppresses(
            "  echo $X # greenlight: ignore[unbound-variable]",
            "unbound-variable"
        ));
        assert!(!line_suppresses(
            "  echo $X # greenlight: ignore[unbuilt-image]",
            "unbound-variable"
        ));
        assert!(line_suppresses("# greenlight: ignore", "unbound-variable"));
    }

    #[test]
    fn glob_forms() {
        assert!(glob_matches(
            ".github/workflows/*.yml",
            ".github/workflows/a.yml"
        ));
        assert!(!glob_matches(".github/*.yml", ".github/workflows/a.yml"));
        assert!(glob_matches("**/legacy-*.yml", "x/y/legacy-deploy.yml"));
        assert!(glob_matches("vendor", "vendor/a/b.sh"));
        assert!(glob_matches("*.sh", "scripts/a.sh"));
    }
}
