//! Runs the linter over the shared corpus of real public workflows,
//! composite actions and task definitions (listed with their origin in
//! `ORIGINS.tsv` beside them). Skips when the corpus is absent.
//!
//! Every file must lint without a panic and parse, and the findings must
//! equal `corpus-findings.txt`, so a change in what the corpus yields is a
//! reviewed diff. Each finding there was read by hand: false positives
//! found this way became fixtures under `fixtures/ok/`.
//! `GREENLIGHT_BLESS=1` rewrites the file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use greenlight_lint::{LintOptions, lint};

const CORPUS: &str = "../../../shared/corpus";

#[test]
fn corpus_lints_without_surprises() {
    let root = Path::new(CORPUS);
    let Ok(origins) = std::fs::read_to_string(root.join("ORIGINS.tsv")) else {
        eprintln!("skipped: {CORPUS}/ORIGINS.tsv is absent");
        return;
    };
    let files: Vec<PathBuf> = origins
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').nth(1))
        .map(|local| root.join(local))
        .collect();
    assert!(files.len() >= 200, "corpus has {} files", files.len());

    let mut record = String::new();
    let mut totals = std::collections::BTreeMap::new();
    for file in &files {
        let opts = LintOptions {
            paths: vec![file.clone()],
            ..LintOptions::default()
        };
        let report = std::panic::catch_unwind(|| lint(&opts))
            .unwrap_or_else(|_| panic!("lint panicked on {}", file.display()));
        assert!(
            !report.input_error,
            "{} did not parse: {:?}",
            file.display(),
            report.findings
        );
        for finding in &report.findings {
            assert!(finding.line >= 1, "{finding:?}");
            assert!(finding.column >= 1, "{finding:?}");
            if finding.rule == "unbound-variable" {
                let marked: String = finding
                    .source_line
                    .chars()
                    .skip(finding.column - 1)
                    .take(finding.end_column - finding.column)
                    .collect();
                assert!(finding.message.contains(&marked), "{marked:?}: {finding:?}");
            }
            *totals
                .entry(format!("{} {}", finding.rule, finding.severity.as_str()))
                .or_insert(0) += 1;
            let name = file
                .strip_prefix(root)
                .unwrap_or(file)
                .display()
                .to_string();
            writeln!(
                record,
                "{name}:{}:{} {} {}",
                finding.line,
                finding.column,
                finding.rule,
                finding.severity.as_str()
            )
            .expect("write to string");
        }
    }
    let mut summary = format!("files: {}\n", files.len());
    for (key, count) in &totals {
        writeln!(summary, "{key}: {count}").expect("write to string");
    }
    let actual = format!("{summary}\n{record}");
    let expected_path = Path::new("tests/corpus-findings.txt");
    if std::env::var_os("GREENLIGHT_BLESS").is_some() {
        std::fs::write(expected_path, &actual).expect("write corpus findings");
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    assert_eq!(expected, actual, "corpus findings changed");
}
