//! Words, parameter expansions and arithmetic, where variables are read.

use crate::shell::syntax::Node;

use super::{Analyzer, Defined, State, UseKind};
use crate::shell::{is_name, text};

impl<'t> Analyzer<'_, 't> {
    /// Walks a word (or any node) for expansions and substitutions.
    pub(super) fn words(&mut self, node: Node<'t>, st: &mut State) {
        match node.kind() {
            "raw_string" | "ansi_c_string" | "comment" | "heredoc_start" | "heredoc_end"
            | "word" | "number" | "string_content" | "heredoc_content" | "test_operator"
            | "regex" | "extglob_pattern" => {}
            "simple_expansion" => self.simple_expansion(node, st),
            "expansion" => self.expansion(node, st),
            "command_substitution" | "process_substitution" => {
                let mut inner = st.clone();
                self.subshell_depth += 1;
                self.block(node, &mut inner);
                self.subshell_depth -= 1;
            }
            "arithmetic_expansion" => self.arithmetic_children(node, st),
            // A new cursor allocates, so leaves return before making one.
            _ if node.named_child_count() == 0 => {}
            _ => {
                for child in node.named_children() {
                    self.words(child, st);
                }
            }
        }
    }

    pub(super) fn simple_expansion(&mut self, node: Node<'t>, st: &mut State) {
        let Some(target) = node.named_child(0) else {
            return;
        };
        let name = self.text(target);
        if target.kind() == "special_variable_name" || name.chars().all(|c| c.is_ascii_digit()) {
            self.special(name, target, st);
        } else {
            self.read(name, target, st);
        }
    }

    pub(super) fn special(&mut self, name: &str, node: Node, st: &State) {
        let Ok(index) = name.parse::<usize>() else {
            return;
        };
        if index == 0 {
            return;
        }
        if let Some(count) = st.positionals
            && index > count
            && !st.opaque
        {
            self.report(name, node, UseKind::Positional, false, st);
        }
    }

    pub(super) fn expansion(&mut self, node: Node<'t>, st: &mut State) {
        let Some(parts) = ExpansionParts::of(node, self.src) else {
            self.words_children(node, st);
            return;
        };
        if let Some(index) = parts.index {
            let index_text = self.text(index);
            if index_text != "@" && index_text != "*" {
                self.arithmetic(index, st);
            }
        }
        if parts.prefix_bang {
            // `${!prefix*}` lists names; `${!name}` reads `name`.
            if !parts.operator.is_empty() && matches!(parts.operator.as_str(), "*" | "@") {
                return;
            }
        }
        let guarded = matches!(
            parts.operator.as_str(),
            "-" | ":-" | "+" | ":+" | "=" | ":=" | "?" | ":?"
        );
        if let Some(word) = parts.word {
            let mut inner = st.clone();
            self.words(word, &mut inner);
        }
        let is_all_elements = parts
            .index
            .is_some_and(|i| matches!(self.text(i), "@" | "*"));
        if !guarded {
            let is_positional = parts.name.chars().all(|c| c.is_ascii_digit());
            if parts.name_is_special || is_positional {
                self.special(&parts.name, parts.name_node, st);
            } else if is_all_elements && !parts.length {
                // bash 4.4 and later expand `${arr[@]}` of an unset or
                // empty array to nothing, even under `set -u`; bash 3.2
                // stops with "unbound variable".
                let maybe_empty = if st.maybe_empty_arrays.contains(&parts.name) {
                    Some(false)
                } else {
                    match self.defined(&parts.name, st) {
                        Defined::Yes => None,
                        Defined::No => Some(false),
                        Defined::IfInEnvironment => Some(true),
                    }
                };
                if let Some(environment_decides) = maybe_empty
                    && self.cx.bash32
                    && st.nounset
                    && !st.opaque
                {
                    self.report(
                        &parts.name,
                        parts.name_node,
                        UseKind::EmptyArrayBash32,
                        environment_decides,
                        st,
                    );
                }
            } else {
                self.read(&parts.name, parts.name_node, st);
            }
        }
        if matches!(parts.operator.as_str(), "=" | ":=" | "?" | ":?") {
            // After `${X:=v}` X is set; after `${X:?msg}` the shell has
            // stopped unless X was set.
            self.define(&parts.name, st);
        }
    }

    pub(super) fn words_children(&mut self, node: Node<'t>, st: &mut State) {
        for child in node.named_children() {
            self.words(child, st);
        }
    }

    pub(super) fn arithmetic_children(&mut self, node: Node<'t>, st: &mut State) {
        for child in node.named_children() {
            self.arithmetic(child, st);
        }
    }

    /// Walks an arithmetic expression, where bare names are reads.
    pub(super) fn arithmetic(&mut self, node: Node<'t>, st: &mut State) {
        match node.kind() {
            "variable_name" | "word" => {
                let name = self.text(node);
                if is_name(name) {
                    self.read(name, node, st);
                }
            }
            "number" => {}
            "binary_expression" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                let left = node.child_by_field_name("left");
                let right = node.child_by_field_name("right");
                if let Some(right) = right {
                    self.arithmetic(right, st);
                }
                let assigns = matches!(
                    op,
                    "=" | "+=" | "-=" | "*=" | "/=" | "%=" | "<<=" | ">>=" | "&=" | "^=" | "|="
                );
                if let Some(left) = left {
                    let target = self.text(left);
                    if assigns && is_name(target) {
                        if op != "=" {
                            self.read(target, left, st);
                        }
                        let target = target.to_string();
                        self.define(&target, st);
                    } else {
                        self.arithmetic(left, st);
                    }
                }
            }
            "postfix_expression" | "unary_expression" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                let operand = node.named_child(0);
                if let Some(operand) = operand {
                    self.arithmetic(operand, st);
                    let target = self.text(operand);
                    if (op == "++" || op == "--") && is_name(target) {
                        let target = target.to_string();
                        self.define(&target, st);
                    }
                }
            }
            "variable_assignment" => {
                // `(( x = 1 ))` can parse as an assignment.
                if let Some(value) = node.child_by_field_name("value") {
                    self.arithmetic(value, st);
                }
                if let Some(name) = node.child_by_field_name("name") {
                    let target = self.text(name).to_string();
                    if is_name(&target) {
                        self.define(&target, st);
                    }
                }
            }
            "subscript" => {
                if let Some(index) = node.child_by_field_name("index") {
                    self.arithmetic(index, st);
                }
                if let Some(name) = node.child_by_field_name("name") {
                    let target = self.text(name);
                    if is_name(target) {
                        self.read(target, name, st);
                    }
                }
            }
            "simple_expansion"
            | "expansion"
            | "command_substitution"
            | "string"
            | "raw_string"
            | "arithmetic_expansion" => self.words(node, st),
            _ => self.arithmetic_children(node, st),
        }
    }
}

/// The parts of a `${…}` expansion.
pub(super) struct ExpansionParts<'t> {
    pub(super) name: String,
    pub(super) name_node: Node<'t>,
    pub(super) name_is_special: bool,
    pub(super) index: Option<Node<'t>>,
    /// `${#name}`: the length.
    pub(super) length: bool,
    /// `${!name}`: indirection or a name list.
    pub(super) prefix_bang: bool,
    /// The operator after the name (`:-`, `+`, `#`, `/`, `:`…), or empty.
    pub(super) operator: String,
    /// The word after the operator, if any.
    pub(super) word: Option<Node<'t>>,
}

impl<'t> ExpansionParts<'t> {
    pub(super) fn of(node: Node<'t>, src: &str) -> Option<Self> {
        let children: Vec<Node<'t>> = node.children().collect();
        let mut length = false;
        let mut prefix_bang = false;
        let mut name: Option<(Node<'t>, Option<Node<'t>>, bool)> = None;
        let mut operator = String::new();
        let mut word = None;
        for child in children {
            let kind = child.kind();
            if name.is_none() {
                match kind {
                    "${" => {}
                    "#" => length = true,
                    "!" => prefix_bang = true,
                    "variable_name" => name = Some((child, None, false)),
                    "special_variable_name" => {
                        // `${#}` is the count of positionals, `${#x}` a
                        // length.
                        name = Some((child, None, true))
                    }
                    "subscript" => {
                        let base = child.child_by_field_name("name")?;
                        name = Some((base, child.child_by_field_name("index"), false));
                    }
                    _ => return None,
                }
                continue;
            }
            if kind == "}" {
                break;
            }
            if !child.is_named() && word.is_none() {
                operator.push_str(text(child, src));
            } else if word.is_none() {
                word = Some(child);
            }
        }
        let (name_node, index, name_is_special) = name?;
        Some(ExpansionParts {
            name: text(name_node, src).to_string(),
            name_node,
            name_is_special,
            index,
            length,
            prefix_bang,
            operator,
            word,
        })
    }
}
