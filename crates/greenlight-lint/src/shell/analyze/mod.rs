//! Decides, for every parameter expansion of a bash script, whether the
//! variable can be unset when that line runs.
//!
//! The analysis walks the syntax tree in execution order and carries the
//! set of variables that are set on every path (a must-analysis). Branches
//! are merged by intersection, a branch that ends in `exit` or `return`
//! does not reach the merge, and a subshell's assignments stay inside it.
//! Functions are analyzed where they are called, with their `local`
//! variables removed again on return.
//!
//! The analysis does not ask which names the environment sets. A read of
//! a name the script has neither set nor removed is kept as pending, and
//! [`PendingUses::unless_set_by`] drops it once the environment is known.
//! A workflow step's environment depends on what earlier steps write to
//! `$GITHUB_ENV`, so the rule can analyze every script, and drop its
//! syntax tree, before it has read the whole job.

use std::collections::{HashMap, HashSet};

/// The hasher of the analysis's sets and maps: foldhash, seeded per
/// process, hashes the short names of a script several times faster than
/// the standard library's SipHash.
type Hasher = foldhash::fast::RandomState;
type Set<T> = HashSet<T, Hasher>;
type Map<K, V> = HashMap<K, V, Hasher>;

use crate::shell::syntax::{Node, Syntax};

mod builtins;
mod control;
mod expansions;
mod guards;
mod names;

pub use names::assigned_names;

use super::{is_name, text};

/// The shell options a script runs with.
#[derive(Debug, Clone, Copy)]
pub struct ScriptContext {
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

/// Reason a use was reported.
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

/// Uses of possibly unset variables, some of which the environment may
/// still set.
#[derive(Debug, Clone, Default)]
pub struct PendingUses {
    /// Uses in the order the analysis met them, each with whether the
    /// environment setting its name would make it safe. A use is kept
    /// once for each of the two cases: see [`PendingUses::into_uses`].
    uses: Vec<(UnsetUse, bool)>,
}

impl PendingUses {
    /// Drops the uses of names for which `external` returns true, names
    /// the environment sets before the script's first line. Can be applied more than once,
    /// with what is known at each stage.
    pub fn unless_set_by(mut self, external: impl Fn(&str) -> bool) -> Self {
        self.uses.retain(|(found, environment_decides)| {
            !(*environment_decides && external(&found.name))
        });
        self
    }

    /// Checks whether no use is left.
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }

    /// Returns the uses left, one per name and position, ordered by
    /// position.
    ///
    /// The analysis may reach the same expansion more than once, as in a
    /// function called twice. The first time it was unset is reported,
    /// because a run of the script would stop there first.
    pub fn into_uses(self) -> Vec<UnsetUse> {
        let mut seen = Set::default();
        let mut out: Vec<UnsetUse> = self
            .uses
            .into_iter()
            .filter(|(found, _)| seen.insert((found.start, found.name.clone())))
            .map(|(found, _)| found)
            .collect();
        out.sort_by_key(|u| u.start);
        out
    }
}

/// Whether a variable is set at a point of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defined {
    Yes,
    No,
    /// Neither set nor removed by the script: set only if the
    /// environment sets it.
    IfInEnvironment,
}

#[derive(Clone, Default)]
struct State {
    /// Variables set on every path, beyond the external environment.
    defined: Set<String>,
    /// External variables removed with `unset` or shadowed by a `local`.
    removed: Set<String>,
    /// Variables assigned on at least one path.
    assigned_somewhere: Set<String>,
    /// Variables assigned inside a subshell or pipeline, which does not
    /// pass them back.
    subshell_assigned: Set<String>,
    /// Arrays that may hold no element (for the bash 3.2 check).
    maybe_empty_arrays: Set<String>,
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

/// Maximum depth of nested function calls that the analysis follows.
const MAX_CALL_DEPTH: usize = 16;

struct Analyzer<'a, 't> {
    src: &'a str,
    cx: ScriptContext,
    functions: Map<String, Node<'t>>,
    called: Set<String>,
    frames: Vec<Frame>,
    /// Names that were `local` in a function that has returned.
    expired_locals: Map<String, String>,
    uses: Vec<(UnsetUse, bool)>,
    /// Position, name and whether the environment decides, of each
    /// recorded use.
    seen: Set<(usize, String, bool)>,
    /// Depth of subshells, where `exit` ends only the subshell.
    subshell_depth: usize,
    /// Names passed to `unset`, for messages.
    unset_names: Set<String>,
    /// Names declared without a value, for messages.
    declared_empty: Set<String>,
}

/// Analyzes a parsed script and returns the uses of possibly unset
/// variables.
pub fn analyze(tree: &Syntax, src: &str, cx: ScriptContext) -> PendingUses {
    let mut analyzer = Analyzer {
        src,
        cx,
        functions: Map::default(),
        called: Set::default(),
        frames: Vec::new(),
        expired_locals: Map::default(),
        uses: Vec::new(),
        seen: Set::default(),
        subshell_depth: 0,
        unset_names: Set::default(),
        declared_empty: Set::default(),
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
    PendingUses {
        uses: analyzer.uses,
    }
}

impl<'a, 't> Analyzer<'a, 't> {
    fn text(&self, node: Node) -> &'a str {
        text(node, self.src)
    }

    fn defined(&self, name: &str, st: &State) -> Defined {
        if st.opaque || st.defined.contains(name) {
            Defined::Yes
        } else if st.removed.contains(name) {
            Defined::No
        } else {
            Defined::IfInEnvironment
        }
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

    /// Records a use of `name` at `node`. `environment_decides` is true
    /// when the environment setting the name would make the use safe.
    fn report(
        &mut self,
        name: &str,
        node: Node,
        kind: UseKind,
        environment_decides: bool,
        st: &State,
    ) {
        if !st.reachable
            || !self
                .seen
                .insert((node.start_byte(), name.to_string(), environment_decides))
        {
            return;
        }
        let found = UnsetUse {
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
        };
        self.uses.push((found, environment_decides));
    }

    /// Records a read of `name` at `node`.
    fn read(&mut self, name: &str, node: Node, st: &State) {
        match self.defined(name, st) {
            Defined::Yes => {}
            Defined::No => self.report(name, node, UseKind::Unset, false, st),
            Defined::IfInEnvironment => self.report(name, node, UseKind::Unset, true, st),
        }
    }

    /// Runs the named children of a node as a sequence of statements.
    fn block(&mut self, node: Node<'t>, st: &mut State) {
        for child in node.named_children() {
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
                for child in node.named_children() {
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
        let children: Vec<Node<'t>> = node.named_children().collect();

        // Expand every word first: prefix assignments (`X=1 cmd`) apply
        // only to the command, so they are checked but not recorded.
        let mut args: Vec<Node<'t>> = Vec::new();
        for child in &children {
            match child.kind() {
                "variable_assignment" => {
                    // tree-sitter-bash 0.25 joins `x=1 y=2` and a command on
                    // the next line into one command. bash ends the simple
                    // command at the line break, so such assignments stand
                    // alone.
                    let same_line = name_node.is_some_and(|n| {
                        self.src
                            .get(child.end_byte()..n.start_byte())
                            .is_some_and(|between| !between.contains('\n'))
                    });
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

    /// Analyzes a function body at a call site and applies its effects:
    /// its global assignments stay, its `local` variables are restored.
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

        // The function ends at its last line or at any `return`. An `exit`
        // leaves `inner` unreachable, so the script ends there too.
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
        let children: Vec<Node<'t>> = node.named_children().collect();
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
        let children: Vec<Node<'t>> = node.named_children().collect();
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
    array.named_children().any(|c| {
        matches!(
            c.kind(),
            "word" | "string" | "raw_string" | "number" | "concatenation"
        )
    })
}

fn is_global_flag(children: &[Node], src: &str) -> bool {
    children.iter().any(|c| {
        c.kind() == "word" && text(*c, src).starts_with('-') && text(*c, src).contains('g')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::{new_parser, parse};

    fn pending(script: &str) -> PendingUses {
        let mut parser = new_parser().expect("grammar loads");
        let tree = parse(&mut parser, script).expect("parses");
        let cx = ScriptContext {
            nounset: true,
            positionals_unknown: false,
            bash32: false,
        };
        analyze(&tree, script, cx)
    }

    #[test]
    fn pending_uses_environment_filter() {
        let script = "echo \"$FROM_ENV $gone\"\ngone=1\nunset gone\necho \"$gone\"\n";
        let all = pending(script).into_uses();
        let names: Vec<&str> = all.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["FROM_ENV", "gone", "gone"]);

        // Every name set by the environment: the removed one stays.
        let left = pending(script).unless_set_by(|_| true).into_uses();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "gone");
        assert!(left[0].was_unset);
    }

    #[test]
    fn pending_uses_first_unset_reach() {
        // The first call reads X from the environment; the second runs
        // after `unset X`. Both reach the same expansion.
        let script = "f() { echo \"$X\"; }\nf\nunset X\nf\n";
        let unknown = pending(script).into_uses();
        assert_eq!(unknown.len(), 1);
        assert!(!unknown[0].was_unset, "first call, X never set");

        let set = pending(script)
            .unless_set_by(|name| name == "X")
            .into_uses();
        assert_eq!(set.len(), 1);
        assert!(set[0].was_unset, "second call, after unset");
        assert_eq!(set[0].start, unknown[0].start);
    }

    #[test]
    fn pending_uses_staged_filters() {
        let script = "echo \"$A $B $C\"\n";
        let staged = pending(script)
            .unless_set_by(|name| name == "A")
            .unless_set_by(|name| name == "B")
            .into_uses();
        let names: Vec<&str> = staged.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["C"]);
    }
}
