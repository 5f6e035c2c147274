//! Puts the commit into `greenlight --version` when the crate is built
//! from a git checkout with git installed. Anywhere else (a packaged
//! crate, no git) the version is the crate version alone. Nothing here
//! touches the network.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = env!("CARGO_PKG_VERSION");
    let long = match commit() {
        Some(commit) => format!("{version} (commit {commit})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=GREENLIGHT_VERSION={long}");
}

/// Returns the short commit id of HEAD, or `None` when git or the
/// repository is missing. It also emits `rerun-if-changed` for the files
/// that change when HEAD moves.
fn commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"])?;

    // HEAD names a branch, whose ref may be a loose file or a line of
    // packed-refs; a commit on the branch changes one of them. Only files
    // that exist are watched, because cargo reruns the script on every
    // build for a missing one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(env!("CARGO_MANIFEST_DIR")).join(&path).is_file()
        {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(commit)
}

/// Runs git in the crate's folder and returns its trimmed stdout when it
/// succeeds.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}
