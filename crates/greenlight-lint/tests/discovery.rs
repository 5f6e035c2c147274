//! With no path, lint finds the repository's workflows, composite actions
//! and scripts from the current directory. This file has one test
//! because it changes the process's working directory.

use std::fs;

use greenlight_lint::{LintOptions, lint};

#[test]
fn default_paths_find_repository_inputs() {
    let root =
        std::env::temp_dir().join(format!("greenlight-lint-discovery-{}", std::process::id()));
    let write = |path: &str, text: &str| {
        let full = root.join(path);
        fs::create_dir_all(full.parent().expect("parent")).expect("create folder");
        fs::write(full, text).expect("write file");
    };
    let workflow = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"$FROM_WORKFLOW\"\n";
    write(".github/workflows/ci.yml", workflow);
    write(
        "actions/setup/action.yml",
        "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo \"$INPUT_NAME\"\n",
    );
    write("scripts/deploy.sh", "#!/bin/bash\necho \"$typo\"\n");
    write(
        "tools/no-extension",
        "#!/usr/bin/env bash\necho \"$other_typo\"\n",
    );
    write("docs/compose.yml", "services:\n  web:\n    image: x\n");
    write("node_modules/pkg/bad.sh", "echo \"$ignored\"\n");

    let previous = std::env::current_dir().expect("current dir");
    std::env::set_current_dir(&root).expect("enter temp repo");
    let report = lint(&LintOptions::default());
    std::env::set_current_dir(previous).expect("leave temp repo");
    fs::remove_dir_all(&root).ok();

    let files: Vec<&str> = report.findings.iter().map(|f| f.file.as_str()).collect();
    assert!(files.contains(&".github/workflows/ci.yml"), "{files:?}");
    assert!(files.contains(&"actions/setup/action.yml"), "{files:?}");
    assert!(files.contains(&"scripts/deploy.sh"), "{files:?}");
    assert!(files.contains(&"tools/no-extension"), "{files:?}");
    assert!(
        !files.iter().any(|f| f.contains("node_modules")),
        "{files:?}"
    );
    assert_eq!(report.files_checked, 4);
}
