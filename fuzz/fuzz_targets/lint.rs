//! `greenlight_lint::lint` over one arbitrary file: a workflow, a
//! composite action or a shell script, chosen by the first byte.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use greenlight_lint::{LintOptions, lint};
use libfuzzer_sys::fuzz_target;

/// Returns the folder of this fuzz process. Each input overwrites the same
/// files in it.
fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("greenlight-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(path.join(".github/workflows")).expect("temp folder");
        path
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    let name = match kind % 3 {
        0 => ".github/workflows/fuzz.yml",
        1 => "action.yml",
        _ => "script.sh",
    };
    let path = folder().join(name);
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let options = LintOptions {
        paths: vec![path.clone()],
        assume_nounset: kind & 4 != 0,
        ..LintOptions::default()
    };
    let _ = lint(&options);
    let _ = std::fs::remove_file(&path);
});
