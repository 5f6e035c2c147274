//! Control flow: branches, loops, lists and pipelines, merged by
//! intersection of the variables set on each path.

use crate::shell::syntax::Node;

use super::{Analyzer, State, note_subshell_assignments};
use crate::shell::literal;

impl<'t> Analyzer<'_, 't> {
    pub(super) fn if_statement(&mut self, node: Node<'t>, st: &mut State) {
        let mut result = State::unreachable();
        let mut branch_state = st.clone();
        let mut has_else = false;
        let parts: Vec<Node<'t>> = node.children().collect();

        // An `if` or `elif` part: conditions before `then`, then a body.
        let mut conditions: Vec<Node<'t>> = Vec::new();
        let mut body: Vec<Node<'t>> = Vec::new();
        let mut in_body = false;
        let flush = |this: &mut Self,
                     conditions: &mut Vec<Node<'t>>,
                     body: &mut Vec<Node<'t>>,
                     branch_state: &mut State,
                     result: &mut State| {
            let (when_true, when_false) = this.condition(conditions, branch_state);
            let mut taken = when_true;
            for stmt in body.drain(..) {
                this.statement(stmt, &mut taken);
            }
            *result = std::mem::take(result).merge(taken);
            *branch_state = when_false;
            conditions.clear();
        };
        for part in parts {
            match part.kind() {
                "then" => in_body = true,
                "elif_clause" => {
                    if in_body {
                        flush(
                            self,
                            &mut conditions,
                            &mut body,
                            &mut branch_state,
                            &mut result,
                        );
                    }
                    let mut in_elif_body = false;
                    for child in part.children() {
                        match child.kind() {
                            "then" => in_elif_body = true,
                            _ if !child.is_named() || child.kind() == "comment" => {}
                            _ if in_elif_body => body.push(child),
                            _ => conditions.push(child),
                        }
                    }
                    flush(
                        self,
                        &mut conditions,
                        &mut body,
                        &mut branch_state,
                        &mut result,
                    );
                    in_body = false;
                }
                "else_clause" => {
                    if in_body {
                        flush(
                            self,
                            &mut conditions,
                            &mut body,
                            &mut branch_state,
                            &mut result,
                        );
                        in_body = false;
                    }
                    has_else = true;
                    let mut taken = branch_state.clone();
                    self.block(part, &mut taken);
                    result = result.merge(taken);
                }
                _ if !part.is_named() || part.kind() == "comment" => {}
                _ if in_body => body.push(part),
                _ => conditions.push(part),
            }
        }
        if in_body {
            flush(
                self,
                &mut conditions,
                &mut body,
                &mut branch_state,
                &mut result,
            );
        }
        if !has_else {
            result = result.merge(branch_state);
        }
        *st = result;
    }

    /// Runs condition statements and returns the states where the last
    /// one succeeded and where it failed.
    pub(super) fn condition(&mut self, conditions: &[Node<'t>], st: &mut State) -> (State, State) {
        for cond in conditions {
            self.statement(*cond, st);
        }
        let mut when_true = st.clone();
        let mut when_false = st.clone();
        if let Some(last) = conditions.last() {
            let (if_true, if_false) = self.guard_facts(*last);
            for name in if_true {
                self.define(&name, &mut when_true);
            }
            for name in if_false {
                self.define(&name, &mut when_false);
            }
        }
        (when_true, when_false)
    }

    pub(super) fn case_statement(&mut self, node: Node<'t>, st: &mut State) {
        if let Some(value) = node.child_by_field_name("value") {
            self.words(value, st);
        }
        let mut result = State::unreachable();
        let mut has_default = false;
        let items: Vec<Node<'t>> = node
            .named_children()
            .filter(|c| c.kind() == "case_item")
            .collect();
        for item in items {
            let mut branch = st.clone();
            let children: Vec<Node<'t>> = item.named_children().collect();
            let patterns: Vec<Node<'t>> = item.children_by_field_name("value").collect();
            for pattern in &patterns {
                let t = self.text(*pattern);
                if t == "*" || t == "\"*\"" {
                    has_default = true;
                }
                self.words(*pattern, &mut branch);
            }
            for child in children {
                if !patterns.contains(&child) {
                    self.statement(child, &mut branch);
                }
            }
            result = result.merge(branch);
        }
        if !has_default {
            result = result.merge(st.clone());
        }
        *st = result;
    }

    pub(super) fn while_statement(&mut self, node: Node<'t>, st: &mut State) {
        let conditions: Vec<Node<'t>> = node.children_by_field_name("condition").collect();
        let (when_true, when_false) = self.condition(&conditions, st);
        let mut body_state = when_true;
        if let Some(body) = node.child_by_field_name("body") {
            self.statement(body, &mut body_state);
        }
        // The body may run zero times; `break` leaves it early, so its
        // assignments count only as possible.
        body_state.reachable = true;
        *st = when_false.merge(body_state);
    }

    pub(super) fn for_statement(&mut self, node: Node<'t>, st: &mut State) {
        let values: Vec<Node<'t>> = node.children_by_field_name("value").collect();
        for value in &values {
            self.words(*value, st);
        }
        let entry = st.clone();
        let mut body_state = st.clone();
        if let Some(var) = node.child_by_field_name("variable") {
            let name = self.text(var).to_string();
            self.define(&name, &mut body_state);
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.statement(body, &mut body_state);
        }
        body_state.reachable = true;
        let surely_runs = !values.is_empty()
            && values
                .iter()
                .all(|v| literal(*v, self.src).is_some_and(|t| !t.contains(['*', '?', '['])));
        *st = if surely_runs {
            body_state
        } else {
            entry.merge(body_state)
        };
    }

    pub(super) fn c_for_statement(&mut self, node: Node<'t>, st: &mut State) {
        for field in ["initializer", "condition"] {
            let parts: Vec<Node<'t>> = node.children_by_field_name(field).collect();
            for part in parts {
                self.arithmetic(part, st);
            }
        }
        let entry = st.clone();
        let mut body_state = st.clone();
        if let Some(body) = node.child_by_field_name("body") {
            self.statement(body, &mut body_state);
        }
        let updates: Vec<Node<'t>> = node.children_by_field_name("update").collect();
        for part in updates {
            self.arithmetic(part, &mut body_state);
        }
        body_state.reachable = true;
        *st = entry.merge(body_state);
    }

    pub(super) fn list(&mut self, node: Node<'t>, st: &mut State) {
        let Some(left) = node.named_child(0) else {
            return;
        };
        let op = node.child(1).map(|c| self.text(c)).unwrap_or("");
        let right = node.named_child(1);
        let (when_true, when_false) = self.condition(&[left], st);
        let (mut runs_right, skips_right) = match op {
            "||" => (when_false, when_true),
            _ => (when_true, when_false),
        };
        if let Some(right) = right {
            self.statement(right, &mut runs_right);
        }
        *st = skips_right.merge(runs_right);
    }

    pub(super) fn pipeline(&mut self, node: Node<'t>, st: &mut State) {
        // Each command of a pipeline runs in a subshell (bash without
        // `lastpipe`), so its assignments do not reach the next line.
        let parts: Vec<Node<'t>> = node.named_children().collect();
        self.subshell_depth += 1;
        for part in parts {
            let mut inner = st.clone();
            self.statement(part, &mut inner);
            note_subshell_assignments(st, &inner);
        }
        self.subshell_depth -= 1;
    }
}
