//! Finds the files to lint.

use std::fs;
use std::path::{Path, PathBuf};

/// How an input file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputKind {
    /// A workflow or action file; which one is decided after parsing.
    Yaml,
    /// A shell script (`*.sh`, `*.bash` or a bash shebang).
    Script,
    /// A JSON file, such as an ECS task definition.
    Json,
}

/// Folders never entered while searching a repository.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "target", "vendor", ".venv", "dist"];

/// Returns the inputs named by `paths`, or those of the repository in the
/// current directory when `paths` is empty. A named file is always
/// included; a named folder is searched for YAML, shell and JSON files.
/// Missing paths are returned too, so reading them reports the error.
pub fn discover(paths: &[PathBuf]) -> Vec<(PathBuf, InputKind)> {
    let mut found = Vec::new();
    if paths.is_empty() {
        repository_defaults(Path::new("."), &mut found);
    }
    for path in paths {
        if path.is_dir() {
            walk(path, true, &mut found);
        } else {
            let kind = kind_of(path).unwrap_or(InputKind::Yaml);
            found.push((path.clone(), kind));
        }
    }
    found.sort();
    found.dedup();
    found
}

fn repository_defaults(root: &Path, found: &mut Vec<(PathBuf, InputKind)>) {
    let workflows = root.join(".github").join("workflows");
    if let Ok(entries) = fs::read_dir(&workflows) {
        for entry in entries.flatten() {
            let path = entry.path();
            if is_yaml(&path) {
                found.push((strip_dot(path), InputKind::Yaml));
            }
        }
    }
    walk(root, false, found);
}

/// Searches `dir`. With `all_yaml`, every YAML file is an input; without
/// it, only `action.yml` and `action.yaml` files are (workflows are found
/// by their fixed folder).
fn walk(dir: &Path, all_yaml: bool, found: &mut Vec<(PathBuf, InputKind)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(&path, all_yaml, found);
            }
            continue;
        }
        let path = strip_dot(path);
        if is_yaml(&path) {
            if all_yaml || name == "action.yml" || name == "action.yaml" {
                found.push((path, InputKind::Yaml));
            }
        } else if let Some(kind) = kind_of(&path)
            && (kind != InputKind::Json || all_yaml || is_task_definition_name(&name))
        {
            found.push((path, kind));
        }
    }
}

fn strip_dot(path: PathBuf) -> PathBuf {
    path.strip_prefix(".")
        .map(Path::to_path_buf)
        .unwrap_or(path)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml") | Some("yaml")
    )
}

fn is_task_definition_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".json")
        && (name.contains("taskdef") || name.contains("task-def") || name.contains("task_def"))
}

/// Classifies a file by its name, or by a bash shebang for files without
/// an extension.
fn kind_of(path: &Path) -> Option<InputKind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yml") | Some("yaml") => Some(InputKind::Yaml),
        Some("sh") | Some("bash") => Some(InputKind::Script),
        Some("json") => Some(InputKind::Json),
        Some(_) => None,
        None => has_shell_shebang(path).then_some(InputKind::Script),
    }
}

fn has_shell_shebang(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 64];
    let Ok(n) = file.read(&mut head) else {
        return false;
    };
    let head = String::from_utf8_lossy(&head[..n]);
    let Some(first) = head.lines().next() else {
        return false;
    };
    first.starts_with("#!")
        && (first.ends_with("/bash")
            || first.ends_with(" bash")
            || first.ends_with("/sh")
            || first.contains("bash "))
}
