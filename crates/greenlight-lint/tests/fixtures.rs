//! Fixture suite: every file under `fixtures/ok/` must lint clean, and
//! every file under `fixtures/err/` must produce exactly the findings in
//! the `.out` file beside it (human format, no colour).
//!
//! A fixture sets options with header comments:
//! `# greenlight-test: image CONTAINER=REPOSITORY` and
//! `# greenlight-test: assume-nounset`.
//! Run with `GREENLIGHT_BLESS=1` to rewrite the `.out` files after a
//! reviewed change.

use std::fs;
use std::path::{Path, PathBuf};

use greenlight_lint::{Format, ImageExpectation, LintOptions, lint, render};

fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml" | "sh" | "json")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn options_for(path: &Path) -> LintOptions {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut opts = LintOptions {
        paths: vec![path.to_path_buf()],
        ..LintOptions::default()
    };
    for line in text.lines() {
        let Some(directive) = line
            .trim_start_matches('#')
            .trim()
            .strip_prefix("greenlight-test:")
        else {
            continue;
        };
        let directive = directive.trim();
        if directive == "assume-nounset" {
            opts.assume_nounset = true;
        } else if let Some(image) = directive.strip_prefix("image ") {
            let (container, repository) = image.split_once('=').expect("image directive has =");
            opts.images.push(ImageExpectation {
                container: container.trim().to_string(),
                repository: repository.trim().to_string(),
            });
        }
    }
    opts
}

#[test]
fn ok_fixtures_are_clean() {
    let files = fixture_files(Path::new("tests/fixtures/ok"));
    assert!(files.len() >= 8, "ok fixtures missing: {files:?}");
    for file in files {
        let report = lint(&options_for(&file));
        assert!(
            report.findings.is_empty(),
            "{} should be clean:\n{}",
            file.display(),
            render(&report, Format::Human, false)
        );
    }
}

/// Returns the text a finding marks on its line.
fn marked_text(finding: &greenlight_lint::Finding) -> String {
    finding
        .source_line
        .chars()
        .skip(finding.column - 1)
        .take(finding.end_column - finding.column)
        .collect()
}

#[test]
fn unbound_findings_mark_the_name() {
    for file in fixture_files(Path::new("tests/fixtures/err")) {
        let report = lint(&options_for(&file));
        for finding in report
            .findings
            .iter()
            .filter(|f| f.rule == "unbound-variable")
        {
            let marked = marked_text(finding);
            let is_name = marked
                .chars()
                .all(|c| c == '_' || c.is_ascii_alphanumeric());
            assert!(!marked.is_empty(), "{}: {finding:?}", file.display());
            assert!(is_name, "{} marks {marked:?}: {finding:?}", file.display());
            assert!(
                finding.message.contains(&marked),
                "{} marks {marked:?} but the message is {}",
                file.display(),
                finding.message
            );
        }
    }
}

#[test]
fn err_fixtures_match_expected_output() {
    let bless = std::env::var_os("GREENLIGHT_BLESS").is_some();
    let files = fixture_files(Path::new("tests/fixtures/err"));
    assert!(files.len() >= 15, "err fixtures missing: {files:?}");
    let mut failures = Vec::new();
    for file in files {
        let report = lint(&options_for(&file));
        let actual = render(&report, Format::Human, false);
        assert!(
            !report.findings.is_empty(),
            "{} should have findings",
            file.display()
        );
        let expected_path = file.with_extension("out");
        if bless {
            fs::write(&expected_path, &actual).expect("write expected output");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "--- {} expected\n{expected}\n+++ actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
