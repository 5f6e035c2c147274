//! Decides, for every parameter expansion of a bash script, whether the
//! variable can be unset when that line runs.
//!
//! The analysis walks the syntax tree in execution order and carries the
//! set of variables that are set on every path (a must-analysis). Branches
//! are merged by intersection, a branch that ends in `exit` or `return`
//! does not reach the merge, and a subshell's assignments stay inside it.
//! Functions are analyzed where they are called, with their `local`
//! variables removed again on return.

use std::collections::{HashMap, HashSet};

use tree_sitter::{Node, Tree};

use super::{is_name, literal, text};

/// What the script can rely on before its first line.
pub struct ScriptContext<'a> {
    /// Whether a name is set in the environment before the script starts.
    pub external: &'a dyn Fn(&str) -> bool,
    /// Whether `set -u` is active from the first line (shell flags or an
    /// option that assumes it).
    pub nounset: bool,
    /// Whether positional parameters are unknown (a standalone script gets
    /// arguments; a `run:` script gets none).
    pub positionals_unknown: bool,
    /// Whether the script runs under bash 3.2 (macOS runners), where an
    /// empty array expansion fails under `set -u`.
    pub bash32: bool,
}

/// Why a use was reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseKind {
    /// The variable is not set on every path to this use.
    Unset,
    /// A positional parameter (`$1`) that no caller provides.
    Positional,
    /// `${arr[@]}` of an array that may be empty, under bash 3.2.
    EmptyArrayBash32,
}

/// A use of a variable that may be unset.
#[derive(Debug, Clone)]
pub struct UnsetUse {
    pub name: String,
    /// Byte range of the name in the script.
    pub start: usize,
    pub end: usize,
    /// Whether `set -u` may be active at this use.
    pub nounset: bool,
    pub kind: UseKind,
    /// The script assigns the variable on some path before this use.
    pub assigned_on_some_path: bool,
    /// The variable was a `local` of a function that has returned.
    pub local_of: Option<String>,
    /// The script removed the variable with `unset`.
    pub was_unset: bool,
    /// The variable is assigned only inside a subshell or pipeline.
    pub assigned_in_subshell: bool,
    /// The function whose body contains the use, when it runs as a call.
    pub in_function: Option<String>,
    /// The variable was declared (`local x`, `declare x`) without a value.
    pub declared_without_value: bool,
}

#[derive(Clone, Default)]
struct State {
    /// Variables set on every path, beyond the external environment.
    defined: HashSet<String>,
    /// External variables removed with `unset` or shadowed by a `local`.
    removed: HashSet<String>,
    /// Variables assigned on at least one path.
    assigned_somewhere: HashSet<String>,
    /// Variables assigned inside a subshell or pipeline, which does not
    /// pass them back.
    subshell_assigned: HashSet<String>,
    /// Arrays that may hold no element (for the bash 3.2 check).
    maybe_empty_arrays: HashSet<String>,
    nounset: bool,
    reachable: bool,
    /// After `source`, `.` or `eval`, any name may be set.
    opaque: bool,
    /// Number of positional parameters, `None` when unknown.
    positionals: Option<usize>,
}

impl State {
    fn merge(self, other: State) -> State {
        if !self.reachable {
            return other;
        }
        if !other.reachable {
            return self;
        }
        State {
            defined: self.defined.intersection(&other.defined).cloned().collect(),
            removed: self.removed.union(&other.removed).cloned().collect(),
            assigned_somewhere: self
                .assigned_somewhere
                .union(&other.assigned_somewhere)
                .cloned()
                .collect(),
            subshell_assigned: self
                .subshell_assigned
                .union(&other.subshell_assigned)
                .cloned()
                .collect(),
            maybe_empty_arrays: self
                .maybe_empty_arrays
                .union(&other.maybe_empty_arrays)
                .cloned()
                .collect(),
            nounset: self.nounset || other.nounset,
            reachable: true,
            opaque: self.opaque || other.opaque,
            positionals: match (self.positionals, other.positionals) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
        }
    }

    fn unreachable() -> State {
        State {
            reachable: false,
            ..State::default()
        }
    }
}

struct Frame {
    function: String,
    /// Names made local, with whether each was defined and removed before.
    saved: Vec<(String, bool, bool)>,
    /// States at `return` statements.
    returns: Vec<State>,
}

/// How deep nested function calls are followed before giving up on them.
const MAX_CALL_DEPTH: usize = 16;

struct Analyzer<'a, 't> {
    src: &'a str,
    cx: &'a ScriptContext<'a>,
    functions: HashMap<String, Node<'t>>,
    called: HashSet<String>,
    frames: Vec<Frame>,
    /// Names that were `local` in a function that has returned.
    expired_locals: HashMap<String, String>,
    uses: Vec<UnsetUse>,
    seen: HashSet<(usize, String)>,
    /// Depth of subshells, where `exit` ends only the subshell.
    subshell_depth: usize,
    /// Names passed to `unset`, for messages.
    unset_names: HashSet<String>,
    /// Names declared without a value, for messages.
    declared_empty: HashSet<String>,
}

/// Analyzes a parsed script and returns the uses of possibly unset
/// variables, ordered by position.
pub fn analyze(tree: &Tree, src: &str, cx: &ScriptContext) -> Vec<UnsetUse> {
    let mut analyzer = Analyzer {
        src,
        cx,
        functions: HashMap::new(),
        called: HashSet::new(),
        frames: Vec::new(),
        expired_locals: HashMap::new(),
        uses: Vec::new(),
        seen: HashSet::new(),
        subshell_depth: 0,
        unset_names: HashSet::new(),
        declared_empty: HashSet::new(),
    };
    let mut state = State {
        nounset: cx.nounset,
        reachable: true,
        positionals: if cx.positionals_unknown {
            None
        } else {
            Some(0)
        },
        ..State::default()
    };
    analyzer.block(tree.root_node(), &mut state);

    // Functions that were defined but never called may still run, from a
    // `trap` or through a variable. They are checked against the state at
    // the end of the script, with unknown arguments.
    if state.reachable {
        let mut pending: Vec<(String, Node)> = analyzer
            .functions
            .iter()
            .filter(|(name, _)| !analyzer.called.contains(*name))
            .map(|(name, node)| (name.clone(), *node))
            .collect();
        pending.sort_by_key(|(_, node)| node.start_byte());
        for (name, body) in pending {
            let mut st = state.clone();
            st.positionals = None;
            analyzer.call(&name, body, &mut st);
        }
    }
    analyzer.uses.sort_by_key(|u| u.start);
    analyzer.uses
}

impl<'a, 't> Analyzer<'a, 't> {
    fn text(&self, node: Node) -> &'a str {
        text(node, self.src)
    }

    fn is_defined(&self, name: &str, st: &State) -> bool {
        if st.opaque || st.defined.contains(name) {
            return true;
        }
        !st.removed.contains(name) && (self.cx.external)(name)
    }

    fn define(&self, name: &str, st: &mut State) {
        st.defined.insert(name.to_string());
        st.removed.remove(name);
        st.assigned_somewhere.insert(name.to_string());
        st.maybe_empty_arrays.remove(name);
    }

    fn undefine(&self, name: &str, st: &mut State) {
        st.defined.remove(name);
        st.removed.insert(name.to_string());
    }

    fn report(&mut self, name: &str, node: Node, kind: UseKind, st: &State) {
        if !st.reachable || !self.seen.insert((node.start_byte(), name.to_string())) {
            return;
        }
        self.uses.push(UnsetUse {
            name: name.to_string(),
            start: node.start_byte(),
            end: node.end_byte(),
            nounset: st.nounset,
            kind,
            assigned_on_some_path: st.assigned_somewhere.contains(name),
            local_of: self.expired_locals.get(name).cloned(),
            was_unset: st.removed.contains(name) && self.unset_names.contains(name),
            assigned_in_subshell: st.subshell_assigned.contains(name),
            in_function: self.frames.last().map(|f| f.function.clone()),
            declared_without_value: st.removed.contains(name) && self.declared_empty.contains(name),
        });
    }

    /// Records a read of `name` at `node`.
    fn read(&mut self, name: &str, node: Node, st: &State) {
        if !self.is_defined(name, st) {
            self.report(name, node, UseKind::Unset, st);
        }
    }

    // ---- statements -------------------------------------------------

    /// Runs the named children of a node as a sequence of statements.
    fn block(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        for child in children {
            self.statement(child, st);
        }
    }

    fn statement(&mut self, node: Node<'t>, st: &mut State) {
        if !st.reachable {
            return;
        }
        match node.kind() {
            "comment" | "heredoc_body" | "heredoc_start" | "heredoc_end" => {}
            "command" => self.command(node, st),
            "variable_assignment" => self.assignment(node, st, true),
            "variable_assignments" => self.block(node, st),
            "declaration_command" => self.declaration(node, st),
            "unset_command" => self.unset(node, st),
            "function_definition" => {
                if let (Some(name), Some(body)) = (
                    node.child_by_field_name("name"),
                    node.child_by_field_name("body"),
                ) {
                    self.functions.insert(self.text(name).to_string(), body);
                }
            }
            "if_statement" => self.if_statement(node, st),
            "case_statement" => self.case_statement(node, st),
            "while_statement" => self.while_statement(node, st),
            "for_statement" => self.for_statement(node, st),
            "c_style_for_statement" => self.c_for_statement(node, st),
            "list" => self.list(node, st),
            "pipeline" => self.pipeline(node, st),
            "subshell" => {
                let mut inner = st.clone();
                self.subshell_depth += 1;
                self.block(node, &mut inner);
                self.subshell_depth -= 1;
                note_subshell_assignments(st, &inner);
            }
            "compound_statement" => {
                if self.is_arithmetic_command(node) {
                    self.arithmetic_children(node, st);
                } else {
                    self.block(node, st);
                }
            }
            "redirected_statement" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for child in children {
                    if node.child_by_field_name("body") == Some(child) {
                        self.statement(child, st);
                    } else {
                        self.words(child, st);
                    }
                }
            }
            "negated_command" => self.block(node, st),
            "test_command" => self.test_command(node, st),
            "do_group" | "else_clause" | "program" => self.block(node, st),
            _ => self.words(node, st),
        }
    }

    fn is_arithmetic_command(&self, node: Node) -> bool {
        node.child(0).is_some_and(|c| c.kind() == "((")
    }

    fn command(&mut self, node: Node<'t>, st: &mut State) {
        let name_node = node.child_by_field_name("name");
        let name = name_node
            .and_then(|n| n.named_child(0))
            .map(|n| self.text(n));
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();

        // Expand every word first: prefix assignments (`X=1 cmd`) apply
        // only to the command, so they are checked but not recorded.
        let mut args: Vec<Node<'t>> = Vec::new();
        for child in &children {
            match child.kind() {
                "variable_assignment" => {
                    // tree-sitter-bash 0.25 joins `x=1 y=2` and a command on
                    // the next line into one command; bash ends the simple
                    // command at the line break, so such assignments stand
                    // alone.
                    let same_line = name_node
                        .is_some_and(|n| n.start_position().row == child.end_position().row);
                    if same_line {
                        self.assignment_value(*child, st);
                    } else {
                        self.assignment(*child, st, true);
                    }
                }
                "command_name" => self.words(*child, st),
                _ => {
                    if Some(*child) != name_node && child.kind() != "comment" {
                        self.words(*child, st);
                        let is_redirect = matches!(
                            child.kind(),
                            "file_redirect" | "heredoc_redirect" | "herestring_redirect"
                        );
                        if !is_redirect {
                            args.push(*child);
                        }
                    }
                }
            }
        }
        if let Some(name) = name {
            self.builtin(name, &args, st);
        }
    }

    /// Applies the effects of commands that set variables or end the
    /// script.
    fn builtin(&mut self, name: &str, args: &[Node<'t>], st: &mut State) {
        let words: Vec<Option<String>> = args.iter().map(|a| literal(*a, self.src)).collect();
        match name {
            "exit" => {
                if self.subshell_depth == 0 {
                    st.reachable = false;
                }
            }
            "return" => {
                if let Some(frame) = self.frames.last_mut() {
                    frame.returns.push(st.clone());
                    st.reachable = false;
                }
            }
            "set" => self.set_builtin(&words, st),
            "shift" => {
                let n = words
                    .first()
                    .and_then(|w| w.as_deref())
                    .and_then(|w| w.parse::<usize>().ok())
                    .unwrap_or(1);
                st.positionals = st.positionals.map(|p| p.saturating_sub(n));
            }
            "source" | "." | "eval" => st.opaque = true,
            "read" => self.read_builtin(&words, st),
            "mapfile" | "readarray" => {
                let target = positional_words(&words, "dnOsuCc")
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "MAPFILE".to_string());
                self.define(&target, st);
                st.maybe_empty_arrays.insert(target);
            }
            "printf" => {
                if let Some(i) = words.iter().position(|w| w.as_deref() == Some("-v"))
                    && let Some(Some(target)) = words.get(i + 1)
                {
                    let base = target.split('[').next().unwrap_or(target);
                    self.define(base, st);
                }
            }
            "getopts" => {
                if let Some(Some(target)) = words.get(1) {
                    self.define(target, st);
                }
                // OPTARG is set only for options that take an argument,
                // which is where scripts read it.
                self.define("OPTARG", st);
            }
            "let" => {
                for word in words.iter().flatten() {
                    let target: String = word
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if is_name(&target) && word[target.len()..].starts_with('=') {
                        self.define(&target, st);
                    }
                }
            }
            _ => {
                if let Some(body) = self.functions.get(name).copied() {
                    let mut inner_positionals = Some(args.len());
                    if args
                        .iter()
                        .any(|a| a.kind() != "word" && a.kind() != "string")
                    {
                        inner_positionals = None;
                    }
                    let outer = st.positionals;
                    st.positionals = inner_positionals;
                    self.call(name, body, st);
                    st.positionals = outer;
                }
            }
        }
    }

    fn set_builtin(&mut self, words: &[Option<String>], st: &mut State) {
        let mut i = 0;
        while i < words.len() {
            let Some(word) = &words[i] else {
                i += 1;
                continue;
            };
            if word == "--" {
                st.positionals = Some(words.len() - i - 1);
                return;
            }
            if word == "-o" || word == "+o" {
                if words.get(i + 1).and_then(|w| w.as_deref()) == Some("nounset") {
                    st.nounset = word == "-o";
                }
                i += 2;
                continue;
            }
            if let Some(flags) = word.strip_prefix('-') {
                if flags.contains('u') {
                    st.nounset = true;
                }
            } else if let Some(flags) = word.strip_prefix('+') {
                if flags.contains('u') {
                    st.nounset = false;
                }
            } else {
                // `set a b` sets the positional parameters.
                st.positionals = Some(words.len() - i);
                return;
            }
            i += 1;
        }
    }

    fn read_builtin(&mut self, words: &[Option<String>], st: &mut State) {
        let mut i = 0;
        let mut targets = Vec::new();
        while i < words.len() {
            let Some(word) = &words[i] else {
                i += 1;
                continue;
            };
            if word.starts_with('-') && word.len() > 1 {
                let flags = &word[1..];
                if let Some(pos) = flags.find(['a', 'd', 'i', 'n', 'N', 'p', 't', 'u']) {
                    let flag = flags.as_bytes()[pos];
                    let value = if pos + 1 < flags.len() {
                        Some(flags[pos + 1..].to_string())
                    } else {
                        i += 1;
                        words.get(i).cloned().flatten()
                    };
                    if flag == b'a'
                        && let Some(array) = value
                    {
                        self.define(&array, st);
                        st.maybe_empty_arrays.insert(array);
                    }
                }
            } else {
                targets.push(word.clone());
            }
            i += 1;
        }
        if targets.is_empty() {
            targets.push("REPLY".to_string());
        }
        for target in targets {
            if is_name(&target) {
                self.define(&target, st);
            }
        }
    }

    fn call(&mut self, name: &str, body: Node<'t>, st: &mut State) {
        self.called.insert(name.to_string());
        let depth = self.frames.len();
        if depth >= MAX_CALL_DEPTH || self.frames.iter().any(|f| f.function == name) {
            return;
        }
        self.frames.push(Frame {
            function: name.to_string(),
            saved: Vec::new(),
            returns: Vec::new(),
        });
        let mut inner = st.clone();
        self.statement(body, &mut inner);
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let mut result = inner;
        for returned in frame.returns {
            result = result.merge(returned);
        }
        for (local, was_defined, was_removed) in frame.saved.into_iter().rev() {
            result.defined.remove(&local);
            if was_defined {
                result.defined.insert(local.clone());
            } else {
                self.expired_locals.insert(local.clone(), name.to_string());
            }
            if was_removed {
                result.removed.insert(local.clone());
            } else {
                result.removed.remove(&local);
            }
        }
        // `exit` inside a function ends the script; `return` does not.
        *st = result;
    }

    fn assignment(&mut self, node: Node<'t>, st: &mut State, record: bool) {
        self.assignment_value(node, st);
        if !record {
            return;
        }
        let Some(name_node) = node.child_by_field_name("name") else {
            return;
        };
        let target = match name_node.kind() {
            "subscript" => name_node
                .child_by_field_name("name")
                .map(|n| self.text(n).to_string()),
            _ => Some(self.text(name_node).to_string()),
        };
        let Some(target) = target else {
            return;
        };
        if let Some(index) = name_node.child_by_field_name("index") {
            self.arithmetic(index, st);
        }
        let value = node.child_by_field_name("value");
        self.define(&target, st);
        if let Some(value) = value
            && value.kind() == "array"
            && !array_surely_nonempty(value)
        {
            st.maybe_empty_arrays.insert(target);
        }
    }

    fn assignment_value(&mut self, node: Node<'t>, st: &mut State) {
        if let Some(value) = node.child_by_field_name("value") {
            self.words(value, st);
        }
    }

    fn declaration(&mut self, node: Node<'t>, st: &mut State) {
        let keyword = node.child(0).map(|c| self.text(c)).unwrap_or("");
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        let in_function = !self.frames.is_empty();
        let is_local = keyword == "local"
            || (in_function
                && matches!(keyword, "declare" | "typeset")
                && !is_global_flag(&children, self.src));
        let mut is_array = false;
        for child in &children {
            if child.kind() == "word" && self.text(*child).starts_with('-') {
                let flags = self.text(*child);
                is_array |= flags.contains('a') || flags.contains('A');
            }
        }
        for child in children {
            let target = match child.kind() {
                "variable_assignment" => child
                    .child_by_field_name("name")
                    .map(|n| {
                        if n.kind() == "subscript" {
                            n.child_by_field_name("name").unwrap_or(n)
                        } else {
                            n
                        }
                    })
                    .map(|n| (self.text(n).to_string(), true)),
                "variable_name" => Some((self.text(child).to_string(), false)),
                "word" if is_name(self.text(child)) => Some((self.text(child).to_string(), false)),
                _ => {
                    self.words(child, st);
                    None
                }
            };
            let Some((target, has_value)) = target else {
                continue;
            };
            if is_local {
                let was_defined = st.defined.contains(&target);
                let was_removed = st.removed.contains(&target);
                if let Some(frame) = self.frames.last_mut() {
                    frame.saved.push((target.clone(), was_defined, was_removed));
                }
                if !has_value && !is_array {
                    // `local x` makes a new, unset variable.
                    self.declared_empty.insert(target.clone());
                    self.undefine(&target, st);
                }
            }
            if has_value {
                self.assignment(child, st, true);
            } else if is_array {
                // `declare -a x` declares an empty array, which bash 4.4 and
                // later expand as nothing, but bash 3.2 rejects under -u.
                self.define(&target, st);
                st.maybe_empty_arrays.insert(target);
            }
        }
    }

    fn unset(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        let functions = children.iter().any(|c| self.text(*c) == "-f");
        for child in children {
            let name = self.text(child);
            if name.starts_with('-') {
                continue;
            }
            if functions {
                self.functions.remove(name);
            } else if is_name(name) {
                self.unset_names.insert(name.to_string());
                self.undefine(name, st);
            } else {
                self.words(child, st);
            }
        }
    }

    fn if_statement(&mut self, node: Node<'t>, st: &mut State) {
        let mut result = State::unreachable();
        let mut branch_state = st.clone();
        let mut has_else = false;
        let mut cursor = node.walk();
        let parts: Vec<Node<'t>> = node.children(&mut cursor).collect();

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
                    let mut inner = part.walk();
                    let mut in_elif_body = false;
                    for child in part.children(&mut inner) {
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
    fn condition(&mut self, conditions: &[Node<'t>], st: &mut State) -> (State, State) {
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

    /// Returns the names that a test proves set when it succeeds, and
    /// those it proves set when it fails.
    fn guard_facts(&self, node: Node) -> (Vec<String>, Vec<String>) {
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
                let mut cursor = node.walk();
                let args: Vec<Node> = node
                    .children_by_field_name("argument", &mut cursor)
                    .collect();
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

    fn test_facts(&self, expr: Node) -> (Vec<String>, Vec<String>) {
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
    fn unary_facts(&self, op: &str, operand: Node) -> (Vec<String>, Vec<String>) {
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
                // Only a test on a guarded expansion says the variable is
                // set; a test on a plain `$NAME` is itself a use.
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
    fn guarded_name(&self, operand: Node) -> Option<String> {
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

    fn case_statement(&mut self, node: Node<'t>, st: &mut State) {
        if let Some(value) = node.child_by_field_name("value") {
            self.words(value, st);
        }
        let mut result = State::unreachable();
        let mut has_default = false;
        let mut cursor = node.walk();
        let items: Vec<Node<'t>> = node
            .named_children(&mut cursor)
            .filter(|c| c.kind() == "case_item")
            .collect();
        for item in items {
            let mut branch = st.clone();
            let mut inner = item.walk();
            let children: Vec<Node<'t>> = item.named_children(&mut inner).collect();
            let mut values = item.walk();
            let patterns: Vec<Node<'t>> =
                item.children_by_field_name("value", &mut values).collect();
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

    fn while_statement(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let conditions: Vec<Node<'t>> = node
            .children_by_field_name("condition", &mut cursor)
            .collect();
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

    fn for_statement(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let values: Vec<Node<'t>> = node.children_by_field_name("value", &mut cursor).collect();
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

    fn c_for_statement(&mut self, node: Node<'t>, st: &mut State) {
        for field in ["initializer", "condition"] {
            let mut cursor = node.walk();
            let parts: Vec<Node<'t>> = node.children_by_field_name(field, &mut cursor).collect();
            for part in parts {
                self.arithmetic(part, st);
            }
        }
        let entry = st.clone();
        let mut body_state = st.clone();
        if let Some(body) = node.child_by_field_name("body") {
            self.statement(body, &mut body_state);
        }
        let mut cursor = node.walk();
        let updates: Vec<Node<'t>> = node.children_by_field_name("update", &mut cursor).collect();
        for part in updates {
            self.arithmetic(part, &mut body_state);
        }
        body_state.reachable = true;
        *st = entry.merge(body_state);
    }

    fn list(&mut self, node: Node<'t>, st: &mut State) {
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

    fn pipeline(&mut self, node: Node<'t>, st: &mut State) {
        // Each command of a pipeline runs in a subshell (bash without
        // `lastpipe`), so its assignments do not reach the next line.
        let mut cursor = node.walk();
        let parts: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        self.subshell_depth += 1;
        for part in parts {
            let mut inner = st.clone();
            self.statement(part, &mut inner);
            note_subshell_assignments(st, &inner);
        }
        self.subshell_depth -= 1;
    }

    fn test_command(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        for child in children {
            self.test_expression(child, st);
        }
    }

    fn test_expression(&mut self, node: Node<'t>, st: &mut State) {
        match node.kind() {
            "unary_expression" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                if op == "-v" {
                    return;
                }
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for child in children {
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
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for child in children {
                    self.test_expression(child, st);
                }
            }
            _ => self.words(node, st),
        }
    }

    // ---- words and expansions ---------------------------------------

    /// Walks a word (or any node) for expansions and substitutions.
    fn words(&mut self, node: Node<'t>, st: &mut State) {
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
            _ => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for child in children {
                    self.words(child, st);
                }
            }
        }
    }

    fn simple_expansion(&mut self, node: Node<'t>, st: &mut State) {
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

    fn special(&mut self, name: &str, node: Node, st: &State) {
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
            self.report(name, node, UseKind::Positional, st);
        }
    }

    fn expansion(&mut self, node: Node<'t>, st: &mut State) {
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
                let maybe_empty = !self.is_defined(&parts.name, st)
                    || st.maybe_empty_arrays.contains(&parts.name);
                if self.cx.bash32 && st.nounset && maybe_empty && !st.opaque {
                    self.report(&parts.name, parts.name_node, UseKind::EmptyArrayBash32, st);
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

    fn words_children(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        for child in children {
            self.words(child, st);
        }
    }

    // ---- arithmetic ---------------------------------------------------

    fn arithmetic_children(&mut self, node: Node<'t>, st: &mut State) {
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        for child in children {
            self.arithmetic(child, st);
        }
    }

    /// Walks an arithmetic expression, where bare names are reads.
    fn arithmetic(&mut self, node: Node<'t>, st: &mut State) {
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
struct ExpansionParts<'t> {
    name: String,
    name_node: Node<'t>,
    name_is_special: bool,
    index: Option<Node<'t>>,
    /// `${#name}`: the length.
    length: bool,
    /// `${!name}`: indirection or a name list.
    prefix_bang: bool,
    /// The operator after the name (`:-`, `+`, `#`, `/`, `:`…), or empty.
    operator: String,
    /// The word after the operator, if any.
    word: Option<Node<'t>>,
}

impl<'t> ExpansionParts<'t> {
    fn of(node: Node<'t>, src: &str) -> Option<Self> {
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.children(&mut cursor).collect();
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

/// Records, in the parent, the names a subshell assigned, for messages.
fn note_subshell_assignments(parent: &mut State, inner: &State) {
    for name in inner
        .assigned_somewhere
        .difference(&parent.assigned_somewhere)
    {
        parent.subshell_assigned.insert(name.clone());
    }
}

fn array_surely_nonempty(array: Node) -> bool {
    let mut cursor = array.walk();
    array.named_children(&mut cursor).any(|c| {
        matches!(
            c.kind(),
            "word" | "string" | "raw_string" | "number" | "concatenation"
        )
    })
}

/// Returns the words of a command line that are not options or option
/// values, given the option letters that take a value.
fn positional_words(words: &[Option<String>], takes_value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match &words[i] {
            Some(w) if w.starts_with('-') && w.len() > 1 => {
                let last = w.chars().last().unwrap_or('-');
                if w.len() == 2 && takes_value.contains(last) {
                    i += 1;
                }
            }
            Some(w) => out.push(w.clone()),
            None => {}
        }
        i += 1;
    }
    out
}

fn is_global_flag(children: &[Node], src: &str) -> bool {
    children.iter().any(|c| {
        c.kind() == "word" && text(*c, src).starts_with('-') && text(*c, src).contains('g')
    })
}

/// Returns every name the script may assign anywhere: assignments,
/// declarations, loop variables and the targets of `read`, `mapfile`,
/// `readarray`, `getopts` and `printf -v`.
pub fn assigned_names(tree: &Tree, src: &str) -> HashSet<String> {
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
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
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
                    let mut cursor = node.walk();
                    for arg in node.children_by_field_name("argument", &mut cursor) {
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
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    names
}
