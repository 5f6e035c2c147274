//! Every name a script may assign, for messages and for scripts whose
//! environment is unknown.

use std::collections::HashSet;

use crate::shell::syntax::Syntax;

use super::expansions::ExpansionParts;
use crate::shell::{is_name, literal, text};

/// Returns every name the script may assign anywhere: assignments,
/// declarations, loop variables and the targets of `read`, `mapfile`,
/// `readarray`, `getopts` and `printf -v`.
pub fn assigned_names(tree: &Syntax, src: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "variable_assignment" | "for_statement" => {
                let field = if node.kind() == "for_statement" {
                    "variable"
                } else {
                    "name"
                };
                if let Some(target) = node.child_by_field_name(field) {
                    let target = if target.kind() == "subscript" {
                        target.child_by_field_name("name").unwrap_or(target)
                    } else {
                        target
                    };
                    names.insert(text(target, src).to_string());
                }
            }
            "declaration_command" => {
                for child in node.named_children() {
                    if child.kind() == "variable_name" {
                        names.insert(text(child, src).to_string());
                    }
                }
            }
            "command" => {
                let name = node
                    .child_by_field_name("name")
                    .map(|n| text(n, src))
                    .unwrap_or("");
                if matches!(
                    name,
                    "read" | "mapfile" | "readarray" | "getopts" | "printf"
                ) {
                    for arg in node.children_by_field_name("argument") {
                        if let Some(word) = literal(arg, src)
                            && is_name(&word)
                        {
                            names.insert(word);
                        }
                    }
                }
            }
            "binary_expression" | "postfix_expression" | "unary_expression" => {
                // Arithmetic assignments: `(( n = 1 ))`, `(( n += 1 ))`,
                // `(( n++ ))`.
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| text(o, src))
                    .unwrap_or("");
                let assigns = op.ends_with('=') && !matches!(op, "==" | "!=" | "<=" | ">=")
                    || op == "++"
                    || op == "--";
                let target = node
                    .child_by_field_name("left")
                    .or_else(|| node.named_child(0));
                if assigns
                    && let Some(target) = target
                    && is_name(text(target, src))
                {
                    names.insert(text(target, src).to_string());
                }
            }
            "expansion" => {
                if let Some(parts) = ExpansionParts::of(node, src)
                    && matches!(parts.operator.as_str(), "=" | ":=")
                {
                    names.insert(parts.name);
                }
            }
            _ => {}
        }
        stack.extend(node.named_children());
    }
    names
}
