//! A bash syntax tree copied out of tree-sitter into flat arrays.
//!
//! The analysis reads each node several times: its kind, its fields, its
//! named children. tree-sitter computes each by walking its own tree,
//! which hides grammar-internal nodes, and `Node::kind` checks its name as
//! UTF-8 on every call. On a generated 300-step workflow those reads were
//! about two thirds of the analysis's instructions (callgrind).
//! Copying the tree once, in one cursor walk, makes each of those reads an
//! array lookup, and frees tree-sitter's tree before the analysis starts.

use std::ops::Range;
use std::sync::OnceLock;

/// A parsed script: every node of tree-sitter's tree, in pre-order.
pub struct Syntax {
    nodes: Vec<Entry>,
    /// Child node indices, grouped by parent: each node's range starts at
    /// `Entry::children_start`.
    children: Vec<u32>,
}

struct Entry {
    kind: u16,
    /// The field this node fills in its parent, 0 for none.
    field: u16,
    named: bool,
    start: u32,
    end: u32,
    parent: u32,
    /// Range of this node's children in `Syntax::children`.
    children_start: u32,
    children_len: u32,
}

const NO_PARENT: u32 = u32::MAX;

/// Node kind and field names of the bash grammar, by id.
struct Names {
    kinds: Vec<&'static str>,
    fields: Vec<&'static str>,
}

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let language = language();
        let kinds = (0..language.node_kind_count())
            .map(|id| {
                u16::try_from(id)
                    .ok()
                    .and_then(|id| language.node_kind_for_id(id))
                    .unwrap_or("")
            })
            .collect();
        // Field ids start at 1; 0 means no field.
        let fields = (0..=language.field_count())
            .map(|id| {
                u16::try_from(id)
                    .ok()
                    .and_then(|id| language.field_name_for_id(id))
                    .unwrap_or("")
            })
            .collect();
        Names { kinds, fields }
    })
}

/// Returns the id of a node kind of the bash grammar.
pub(crate) fn kind_id(kind: &str, named: bool) -> u16 {
    language().id_for_node_kind(kind, named)
}

/// Returns the id of a field of the bash grammar, 0 when there is none.
pub(crate) fn field_id(field: &str) -> u16 {
    language().field_id_for_name(field).map_or(0, |f| f.get())
}

fn language() -> &'static tree_sitter::Language {
    static LANGUAGE: OnceLock<tree_sitter::Language> = OnceLock::new();
    LANGUAGE.get_or_init(|| tree_sitter_bash::LANGUAGE.into())
}

impl Syntax {
    /// Copies a tree-sitter tree, or returns `None` when the source is
    /// too large for 32-bit offsets.
    pub fn from_tree(tree: &tree_sitter::Tree) -> Option<Syntax> {
        if u32::try_from(tree.root_node().end_byte()).is_err() {
            return None;
        }
        let mut nodes: Vec<Entry> = Vec::new();
        let mut open: Vec<u32> = Vec::new();
        let mut cursor = tree.walk();
        'walk: loop {
            let node = cursor.node();
            let index = u32::try_from(nodes.len()).ok()?;
            nodes.push(Entry {
                kind: node.kind_id(),
                field: cursor.field_id().map_or(0, |f| f.get()),
                named: node.is_named(),
                // Checked above: every offset fits in 32 bits.
                start: node.start_byte() as u32,
                end: node.end_byte() as u32,
                parent: open.last().copied().unwrap_or(NO_PARENT),
                children_start: 0,
                children_len: 0,
            });
            if cursor.goto_first_child() {
                open.push(index);
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
                open.pop();
            }
        }

        Some(Syntax::from_nodes(nodes))
    }

    /// Groups the children of pre-order `nodes` by parent.
    fn from_nodes(mut nodes: Vec<Entry>) -> Syntax {
        // Pre-order lists siblings in order, so filling each parent's
        // range front to back keeps that order.
        for i in 1..nodes.len() {
            let parent = nodes[i].parent as usize;
            nodes[parent].children_len += 1;
        }
        let mut next = 0u32;
        for entry in &mut nodes {
            entry.children_start = next;
            next += entry.children_len;
        }
        let mut filled: Vec<u32> = vec![0; nodes.len()];
        let mut children = vec![0u32; nodes.len().saturating_sub(1)];
        for i in 1..nodes.len() {
            let parent = nodes[i].parent as usize;
            let slot = nodes[parent].children_start + filled[parent];
            children[slot as usize] = i as u32;
            filled[parent] += 1;
        }
        Syntax { nodes, children }
    }

    /// Starts a tree built node by node, in pre-order.
    pub(crate) fn builder() -> SyntaxBuilder {
        SyntaxBuilder {
            nodes: Vec::new(),
            open: Vec::new(),
        }
    }

    pub fn root_node(&self) -> Node<'_> {
        Node {
            syntax: self,
            index: 0,
        }
    }
}

/// A [`Syntax`] under construction: nodes are opened, closed and added in
/// pre-order, as a parser meets them.
pub(crate) struct SyntaxBuilder {
    nodes: Vec<Entry>,
    open: Vec<u32>,
}

impl SyntaxBuilder {
    /// Opens a node whose children follow until [`SyntaxBuilder::close`].
    pub fn open(&mut self, kind: u16, named: bool, field: u16, start: usize) {
        let index = self.nodes.len() as u32;
        self.leaf(kind, named, field, start, start);
        self.open.push(index);
    }

    /// Closes the innermost open node at `end`.
    pub fn close(&mut self, end: usize) {
        if let Some(index) = self.open.pop() {
            self.nodes[index as usize].end = end as u32;
        }
    }

    /// Returns the kind of the node at `index`.
    pub fn kind_at(&self, index: usize) -> Option<u16> {
        self.nodes.get(index).map(|entry| entry.kind)
    }

    /// Returns the index the next node will get.
    pub fn next_index(&self) -> usize {
        self.nodes.len()
    }

    /// Moves the finished node at `index`, the last subtree added, under a
    /// new open node. The new node takes the moved node's field, and the
    /// moved node gets `child_field`.
    pub fn wrap(&mut self, index: usize, kind: u16, named: bool, child_field: u16) {
        let Some(moved) = self.nodes.get(index) else {
            return;
        };
        let wrapper = Entry {
            kind,
            field: moved.field,
            named,
            start: moved.start,
            end: moved.end,
            parent: moved.parent,
            children_start: 0,
            children_len: 0,
        };
        self.nodes.insert(index, wrapper);
        let new = index as u32;
        for entry in &mut self.nodes[index + 1..] {
            if entry.parent != NO_PARENT && entry.parent >= new {
                entry.parent += 1;
            }
        }
        self.nodes[index + 1].parent = new;
        self.nodes[index + 1].field = child_field;
        self.open.push(new);
    }

    /// Adds a node without children.
    pub fn leaf(&mut self, kind: u16, named: bool, field: u16, start: usize, end: usize) {
        self.nodes.push(Entry {
            kind,
            field,
            named,
            start: start as u32,
            end: end as u32,
            parent: self.open.last().copied().unwrap_or(NO_PARENT),
            children_start: 0,
            children_len: 0,
        });
    }

    /// Returns the tree, or `None` when a node is still open or there is
    /// no node.
    pub fn finish(self) -> Option<Syntax> {
        if !self.open.is_empty() || self.nodes.is_empty() {
            return None;
        }
        Some(Syntax::from_nodes(self.nodes))
    }
}

/// One node of a [`Syntax`], with the reads of `tree_sitter::Node` that
/// the analysis uses.
#[derive(Clone, Copy)]
pub struct Node<'t> {
    syntax: &'t Syntax,
    index: u32,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && std::ptr::eq(self.syntax, other.syntax)
    }
}

impl Eq for Node<'_> {}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.kind(), self.byte_range())
    }
}

impl<'t> Node<'t> {
    fn entry(&self) -> &'t Entry {
        &self.syntax.nodes[self.index as usize]
    }

    fn at(&self, index: u32) -> Node<'t> {
        Node {
            syntax: self.syntax,
            index,
        }
    }

    /// Returns the grammar's name for this node, such as `command` or `"$"`.
    pub fn kind(&self) -> &'static str {
        names()
            .kinds
            .get(self.entry().kind as usize)
            .copied()
            .unwrap_or("")
    }

    /// Returns the grammar field this node fills in its parent.
    pub fn field_name(&self) -> Option<&'static str> {
        let id = self.entry().field;
        (id != 0)
            .then(|| names().fields.get(id as usize).copied())
            .flatten()
    }

    pub fn is_named(&self) -> bool {
        self.entry().named
    }

    pub fn start_byte(&self) -> usize {
        self.entry().start as usize
    }

    pub fn end_byte(&self) -> usize {
        self.entry().end as usize
    }

    pub fn byte_range(&self) -> Range<usize> {
        self.start_byte()..self.end_byte()
    }

    pub fn parent(&self) -> Option<Node<'t>> {
        let parent = self.entry().parent;
        (parent != NO_PARENT).then(|| self.at(parent))
    }

    /// Returns every child, named or not, in order.
    pub fn children(&self) -> impl Iterator<Item = Node<'t>> + use<'t> {
        let entry = self.entry();
        let start = entry.children_start as usize;
        let ids = &self.syntax.children[start..start + entry.children_len as usize];
        let syntax = self.syntax;
        ids.iter().map(move |&index| Node { syntax, index })
    }

    pub fn named_children(&self) -> impl Iterator<Item = Node<'t>> + use<'t> {
        self.children().filter(Node::is_named)
    }

    pub fn child(&self, i: usize) -> Option<Node<'t>> {
        self.children().nth(i)
    }

    pub fn named_child(&self, i: usize) -> Option<Node<'t>> {
        self.named_children().nth(i)
    }

    pub fn named_child_count(&self) -> usize {
        self.named_children().count()
    }

    /// Returns the first child that fills the grammar field `field`.
    pub fn child_by_field_name(&self, field: &str) -> Option<Node<'t>> {
        self.children_by_field_name(field).next()
    }

    /// Returns the children that fill the grammar field `field`, in order.
    pub fn children_by_field_name<'f>(
        &self,
        field: &'f str,
    ) -> impl Iterator<Item = Node<'t>> + use<'t, 'f> {
        let fields = &names().fields;
        self.children().filter(move |child| {
            let id = child.entry().field;
            id != 0 && fields.get(id as usize).is_some_and(|name| *name == field)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks every node of the copy against tree-sitter's own node.
    fn assert_same(ts: tree_sitter::Node, ours: Node) {
        assert_eq!(ts.kind(), ours.kind(), "kind at {:?}", ts.byte_range());
        assert_eq!(ts.byte_range(), ours.byte_range());
        assert_eq!(ts.is_named(), ours.is_named());
        assert_eq!(ts.named_child_count(), ours.named_child_count());
        let mut cursor = ts.walk();
        let theirs: Vec<tree_sitter::Node> = ts.children(&mut cursor).collect();
        let mine: Vec<Node> = ours.children().collect();
        assert_eq!(theirs.len(), mine.len(), "children of {}", ts.kind());
        for field in [
            "name", "value", "body", "argument", "redirect", "operator", "left",
        ] {
            let a = ts.child_by_field_name(field).map(|n| n.byte_range());
            let b = ours.child_by_field_name(field).map(|n| n.byte_range());
            assert_eq!(a, b, "field {field} of {}", ts.kind());
            let mut cursor = ts.walk();
            let a: Vec<_> = ts
                .children_by_field_name(field, &mut cursor)
                .map(|n| n.byte_range())
                .collect();
            let b: Vec<_> = ours
                .children_by_field_name(field)
                .map(|n| n.byte_range())
                .collect();
            assert_eq!(a, b, "fields {field} of {}", ts.kind());
        }
        for (t, o) in theirs.into_iter().zip(mine) {
            assert_eq!(o.parent(), Some(ours));
            assert_same(t, o);
        }
    }

    #[test]
    fn copies_every_node_kind_range_and_field() {
        let script = r#"set -euo pipefail
x=1 y=${Y:-2} cmd "$x" >> "$GITHUB_ENV" 2>&1
for i in a b; do (( n += i )); done
case "$x" in a|b) echo "${arr[@]}" ;; *) : ;; esac
f() { local v; read -r v <<'EOF'
text $NOT
EOF
}
if [[ -v Z ]] && [ -n "${W+x}" ]; then echo $(( x + 1 )) | tee -a "$GITHUB_ENV"; fi
"#;
        let mut parser = crate::shell::new_parser().expect("grammar loads");
        let tree = parser.parse(script, None).expect("parses");
        let syntax = Syntax::from_tree(&tree).expect("fits");
        assert!(syntax.nodes.len() > 100);
        assert_eq!(syntax.root_node().parent(), None);
        assert_same(tree.root_node(), syntax.root_node());
    }
}
