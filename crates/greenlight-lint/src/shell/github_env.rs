//! Finds the variables a script writes to `$GITHUB_ENV`, which the runner
//! sets for the later steps of the same job.

use crate::shell::syntax::{Node, Syntax};

use super::{is_name, literal, text};

/// Names written to `$GITHUB_ENV` by one script.
#[derive(Debug, Clone, Default)]
pub struct EnvWrites {
    pub names: Vec<String>,
    /// A write whose name is computed (`echo "$k=$v" >> "$GITHUB_ENV"`),
    /// so any name may be set.
    pub dynamic: bool,
}

/// Collects the `$GITHUB_ENV` writes of a parsed script.
pub fn writes(tree: &Syntax, src: &str) -> EnvWrites {
    let mut out = EnvWrites::default();
    visit(tree.root_node(), src, &mut out);
    out
}

fn visit(node: Node, src: &str, out: &mut EnvWrites) {
    // Only statements that name the file can write to it; skipping the
    // others keeps this pass cheap.
    if !mentions_env_file(node, src) {
        return;
    }
    match node.kind() {
        "redirected_statement" => {
            let to_env = node
                .children_by_field_name("redirect")
                .any(|r| redirect_targets_env(r, src));
            if to_env && let Some(body) = node.child_by_field_name("body") {
                collect_output(body, src, out);
                return;
            }
            if let Some(body) = node.child_by_field_name("body") {
                // A heredoc with `>> "$GITHUB_ENV"` on its start line
                // nests the file redirect inside the heredoc redirect.
                for redirect in node.children_by_field_name("redirect") {
                    if redirect.kind() == "heredoc_redirect" && nested_env_redirect(redirect, src) {
                        heredoc_lines(redirect, src, out);
                    }
                }
                visit(body, src, out);
            }
        }
        "pipeline" => {
            let parts: Vec<Node> = node.named_children().collect();
            let tees = parts.last().is_some_and(|last| is_tee_to_env(*last, src));
            if tees {
                for part in &parts[..parts.len() - 1] {
                    collect_output(*part, src, out);
                }
            } else {
                for part in parts {
                    visit(part, src, out);
                }
            }
        }
        _ => {
            for child in node.named_children() {
                visit(child, src, out);
            }
        }
    }
}

fn mentions_env_file(node: Node, src: &str) -> bool {
    let t = text(node, src);
    t.contains("GITHUB_ENV") || t.contains("github.env")
}

fn redirect_targets_env(redirect: Node, src: &str) -> bool {
    redirect.kind() == "file_redirect"
        && redirect
            .child_by_field_name("destination")
            .is_some_and(|d| mentions_env_file(d, src))
}

fn nested_env_redirect(heredoc: Node, src: &str) -> bool {
    heredoc
        .named_children()
        .any(|c| redirect_targets_env(c, src))
}

fn is_tee_to_env(node: Node, src: &str) -> bool {
    let node = if node.kind() == "redirected_statement" {
        node.child_by_field_name("body").unwrap_or(node)
    } else {
        node
    };
    if node.kind() != "command" {
        return false;
    }
    let name = node
        .child_by_field_name("name")
        .map(|n| text(n, src))
        .unwrap_or("");
    name == "tee"
        && node
            .children_by_field_name("argument")
            .any(|a| mentions_env_file(a, src))
}

/// Collects `NAME=value` and `NAME<<DELIM` lines printed by `echo`,
/// `printf` or `cat` with a heredoc, inside `node`.
fn collect_output(node: Node, src: &str, out: &mut EnvWrites) {
    match node.kind() {
        "command" => command_output(node, src, out),
        "redirected_statement" => {
            for redirect in node.children_by_field_name("redirect") {
                if redirect.kind() == "heredoc_redirect" {
                    heredoc_lines(redirect, src, out);
                }
            }
            if let Some(body) = node.child_by_field_name("body") {
                collect_output(body, src, out);
            }
        }
        "heredoc_redirect" => heredoc_lines(node, src, out),
        "command_substitution" | "process_substitution" => {}
        _ => {
            for child in node.named_children() {
                collect_output(child, src, out);
            }
        }
    }
}

fn command_output(node: Node, src: &str, out: &mut EnvWrites) {
    let name = node
        .child_by_field_name("name")
        .map(|n| text(n, src))
        .unwrap_or("");
    let args: Vec<Node> = node.children_by_field_name("argument").collect();
    for redirect in node.children_by_field_name("redirect") {
        if redirect.kind() == "heredoc_redirect" {
            heredoc_lines(redirect, src, out);
        }
    }
    match name {
        "echo" => {
            let mut printed = String::new();
            for arg in args.iter().skip_while(|a| {
                let t = text(**a, src);
                t.starts_with('-') && t.len() > 1
            }) {
                if !printed.is_empty() {
                    printed.push(' ');
                }
                printed.push_str(&static_prefix(*arg, src));
            }
            lines(&printed, out);
        }
        "printf" => {
            let mut rest = args.iter();
            let mut format = rest.next();
            if format.is_some_and(|f| text(*f, src) == "-v") {
                return;
            }
            if format.is_some_and(|f| text(*f, src) == "--") {
                format = rest.next();
            }
            if let Some(format) = format {
                let format_text = static_prefix(*format, src);
                if let Some(after_name) = format_text.strip_prefix("%s") {
                    // `printf '%s=%s\n' NAME value`: the name is an argument.
                    match rest.next().and_then(|a| literal(*a, src)) {
                        Some(first) => lines(&format!("{first}{after_name}"), out),
                        None => out.dynamic = true,
                    }
                } else {
                    lines(&format_text, out);
                }
            }
        }
        _ => {}
    }
}

fn heredoc_lines(heredoc: Node, src: &str, out: &mut EnvWrites) {
    for child in heredoc.named_children() {
        if child.kind() == "heredoc_body" {
            lines(text(child, src), out);
        }
    }
}

/// Returns the text of a word up to its first expansion, without quotes.
/// An expansion at the very start yields `$`, which marks a dynamic name.
fn static_prefix(node: Node, src: &str) -> String {
    if let Some(lit) = literal(node, src) {
        return lit;
    }
    let t = text(node, src);
    let t = t.trim_start_matches(['"', '\'']);
    t.chars().take_while(|c| *c != '"').collect()
}

/// Reads `NAME=…` and `NAME<<…` at the start of each printed line.
fn lines(printed: &str, out: &mut EnvWrites) {
    let printed = printed.replace("\\n", "\n");
    for line in printed.lines() {
        let line = line.trim_start();
        if line.starts_with('$') {
            out.dynamic = true;
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let rest = &line[name.len()..];
        let is_write = rest.starts_with('=') || rest.starts_with("<<");
        if is_name(&name) && is_write && !out.names.contains(&name) {
            out.names.push(name);
        }
    }
}
