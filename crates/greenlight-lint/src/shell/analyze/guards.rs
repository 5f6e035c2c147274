//! Tests that prove a variable set (`[[ -v X ]]`, `[ -n "${X+x}" ]`) and
//! the expressions of `[[ ]]` and `[ ]`.

use crate::shell::syntax::Node;

use super::expansions::ExpansionParts;
use super::{Analyzer, State};
use crate::shell::{is_name, literal, text};

impl<'t> Analyzer<'_, 't> {
    /// Returns the names that a test proves set when it succeeds, and
    /// those it proves set when it fails.
    pub(super) fn guard_facts(&self, node: Node) -> (Vec<String>, Vec<String>) {
        match node.kind() {
            "test_command" => node
                .named_child(0)
                .map(|e| self.test_facts(e))
                .unwrap_or_default(),
            "negated_command" => {
                let (t, f) = node
                    .named_child(0)
                    .map(|c| self.guard_facts(c))
                    .unwrap_or_default();
                (f, t)
            }
            "command" => {
                // `test -v NAME` and `test -n "${NAME+x}"`.
                let name = node
                    .child_by_field_name("name")
                    .map(|n| self.text(n))
                    .unwrap_or("");
                if name != "test" {
                    return (Vec::new(), Vec::new());
                }
                let args: Vec<Node> = node.children_by_field_name("argument").collect();
                if args.len() == 2 {
                    self.unary_facts(self.text(args[0]), args[1])
                } else {
                    (Vec::new(), Vec::new())
                }
            }
            "list" => {
                let op = node.child(1).map(|c| self.text(c)).unwrap_or("");
                let (lt, _) = node
                    .named_child(0)
                    .map(|c| self.guard_facts(c))
                    .unwrap_or_default();
                let (rt, _) = node
                    .named_child(1)
                    .map(|c| self.guard_facts(c))
                    .unwrap_or_default();
                if op == "&&" {
                    (lt.into_iter().chain(rt).collect(), Vec::new())
                } else {
                    (Vec::new(), Vec::new())
                }
            }
            _ => (Vec::new(), Vec::new()),
        }
    }

    pub(super) fn test_facts(&self, expr: Node) -> (Vec<String>, Vec<String>) {
        match expr.kind() {
            "unary_expression" => {
                let op = expr
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                if op == "!" {
                    let (t, f) = expr
                        .named_child(expr.named_child_count().saturating_sub(1))
                        .map(|c| self.test_facts(c))
                        .unwrap_or_default();
                    return (f, t);
                }
                let Some(operand) = expr.named_child(expr.named_child_count().saturating_sub(1))
                else {
                    return (Vec::new(), Vec::new());
                };
                self.unary_facts(op, operand)
            }
            "binary_expression" => {
                let op = expr
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                let left = expr.child_by_field_name("left");
                let right = expr.child_by_field_name("right");
                let (lt, lf) = left.map(|c| self.test_facts(c)).unwrap_or_default();
                let (rt, rf) = right.map(|c| self.test_facts(c)).unwrap_or_default();
                match op {
                    "&&" | "-a" => (lt.into_iter().chain(rt).collect(), Vec::new()),
                    "||" | "-o" => (Vec::new(), lf.into_iter().chain(rf).collect()),
                    _ => (Vec::new(), Vec::new()),
                }
            }
            "parenthesized_expression" => expr
                .named_child(0)
                .map(|c| self.test_facts(c))
                .unwrap_or_default(),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// Facts of `-v NAME`, `-n "${NAME+x}"` and `-z "${NAME:-}"` tests.
    pub(super) fn unary_facts(&self, op: &str, operand: Node) -> (Vec<String>, Vec<String>) {
        let none = (Vec::new(), Vec::new());
        match op {
            "-v" => {
                let name = literal(operand, self.src).unwrap_or_default();
                let name = name.split('[').next().unwrap_or("").to_string();
                if is_name(&name) {
                    (vec![name], Vec::new())
                } else {
                    none
                }
            }
            "-n" | "-z" => {
                // Only a test on a guarded expansion shows that the
                // variable is set. A test on a plain `$NAME` is a use.
                let Some(name) = self.guarded_name(operand) else {
                    return none;
                };
                if op == "-n" {
                    (vec![name], Vec::new())
                } else {
                    (Vec::new(), vec![name])
                }
            }
            _ => none,
        }
    }

    /// Returns `NAME` for an operand that is `${NAME+x}`, `${NAME:+x}`,
    /// `${NAME-}` or `${NAME:-}` alone, quoted or not.
    pub(super) fn guarded_name(&self, operand: Node) -> Option<String> {
        let expansion = match operand.kind() {
            "string" if operand.named_child_count() == 1 => operand.named_child(0)?,
            "expansion" => operand,
            _ => return None,
        };
        if expansion.kind() != "expansion" {
            return None;
        }
        let parts = ExpansionParts::of(expansion, self.src)?;
        let empty_default = parts.word.is_none_or(|w| text(w, self.src).is_empty());
        match parts.operator.as_str() {
            "+" | ":+" => Some(parts.name),
            "-" | ":-" if empty_default => Some(parts.name),
            _ => None,
        }
    }

    pub(super) fn test_command(&mut self, node: Node<'t>, st: &mut State) {
        for child in node.named_children() {
            self.test_expression(child, st);
        }
    }

    pub(super) fn test_expression(&mut self, node: Node<'t>, st: &mut State) {
        match node.kind() {
            "unary_expression" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                if op == "-v" {
                    return;
                }
                for child in node.named_children() {
                    self.test_expression(child, st);
                }
            }
            "binary_expression" | "parenthesized_expression" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                // `&&` inside `[[ ]]` evaluates its right side only when
                // the left succeeded.
                if op == "&&"
                    && let (Some(l), Some(r)) = (
                        node.child_by_field_name("left"),
                        node.child_by_field_name("right"),
                    )
                {
                    self.test_expression(l, st);
                    let mut inner = st.clone();
                    for name in self.test_facts(l).0 {
                        self.define(&name, &mut inner);
                    }
                    self.test_expression(r, &mut inner);
                    return;
                }
                if op == "||"
                    && let (Some(l), Some(r)) = (
                        node.child_by_field_name("left"),
                        node.child_by_field_name("right"),
                    )
                {
                    self.test_expression(l, st);
                    let mut inner = st.clone();
                    for name in self.test_facts(l).1 {
                        self.define(&name, &mut inner);
                    }
                    self.test_expression(r, &mut inner);
                    return;
                }
                for child in node.named_children() {
                    self.test_expression(child, st);
                }
            }
            _ => self.words(node, st),
        }
    }
}
