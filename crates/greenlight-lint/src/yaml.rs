//! YAML documents with byte positions, built from saphyr's parser events.
//!
//! saphyr reports positions as character indices, and puts a block
//! scalar's start at its first non-blank content line. This module turns
//! them into byte offsets and keeps enough to rebuild, in `scalar_map`,
//! where each byte of a scalar's value sits in the source.

use std::collections::HashMap;

use saphyr::Scalar as SaphyrScalar;
use saphyr_parser::Event;

/// A YAML node with the byte span of its text in the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar(Scalar),
    Sequence(Vec<Node>, Span),
    Mapping(Vec<(Scalar, Node)>, Span),
    /// An explicit or implied null, such as `key:` with nothing after it.
    Null(Span),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A scalar value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The value after YAML unquoting and folding.
    pub value: String,
    /// Byte span reported by the parser: for quoted scalars it includes the
    /// quotes, for block scalars it starts at the first content line.
    pub span: Span,
}

/// A YAML parse failure with its byte offset.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub offset: usize,
    pub message: String,
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Scalar(s) => s.span,
            Node::Sequence(_, span) | Node::Mapping(_, span) | Node::Null(span) => *span,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Mapping(entries, _) => {
                entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    pub fn get_entry(&self, key: &str) -> Option<(&Scalar, &Node)> {
        match self {
            Node::Mapping(entries, _) => entries
                .iter()
                .find(|(k, _)| k.value == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.value.as_str())
    }

    pub fn entries(&self) -> &[(Scalar, Node)] {
        match self {
            Node::Mapping(entries, _) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Sequence(items, _) => items,
            _ => &[],
        }
    }

    /// Returns scalar items of a sequence, or the scalar itself.
    pub fn scalars(&self) -> Vec<&Scalar> {
        match self {
            Node::Scalar(s) => vec![s],
            Node::Sequence(items, _) => items.iter().filter_map(Node::as_scalar).collect(),
            _ => Vec::new(),
        }
    }
}

/// The maximum number of nodes a file may expand to once aliases are
/// replaced by what they refer to. saphyr copies the anchored node for each
/// alias, so ten levels of nine aliases each (a "billion laughs" file of a
/// few hundred bytes) would need billions of nodes. The bound is far above
/// the few thousand nodes of a large workflow (an estimate).
pub const MAX_EXPANDED_NODES: u64 = 200_000;

/// Parses every document of `text`.
///
/// The nodes are built from saphyr's parser events in one pass, the way
/// saphyr's own loader builds its nodes, and aliases are expanded under
/// [`MAX_EXPANDED_NODES`].
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let index = CharIndex::new(text);
    let mut builder = Builder {
        index: &index,
        docs: Vec::new(),
        open: Vec::new(),
        root: None,
        anchored: HashMap::new(),
        total: 0,
    };
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| YamlError {
            offset: index.byte(err.marker().index()),
            message: err.info().to_string(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.docs)
}

/// A scalar key's value with its YAML type, so that `1` and `"1"` stay
/// two keys, as they are for saphyr's loader.
type KeyId = (u8, String);

/// A finished node with its expanded size and, for a scalar, its key
/// identity.
#[derive(Clone)]
struct Built {
    node: Node,
    size: u64,
    key: Option<KeyId>,
}

/// A collection whose end event has not come yet.
struct Open {
    anchor: usize,
    start: usize,
    size: u64,
    kind: OpenKind,
}

enum OpenKind {
    Sequence(Vec<Node>),
    Mapping {
        entries: Vec<(Scalar, Node)>,
        /// Position in `entries` of each scalar key.
        positions: HashMap<KeyId, usize>,
        /// The key read, waiting for its value.
        key: Option<(Scalar, Option<KeyId>)>,
    },
}

struct Builder<'a> {
    index: &'a CharIndex,
    docs: Vec<Node>,
    open: Vec<Open>,
    /// The current document's root node, once finished.
    root: Option<Node>,
    anchored: HashMap<usize, Built>,
    /// Nodes built so far, aliases counted at their expanded size.
    total: u64,
}

impl Builder<'_> {
    fn span(&self, span: saphyr_parser::Span) -> Span {
        Span {
            start: self.index.byte(span.start.index()),
            end: self.index.byte(span.end.index()),
        }
    }

    fn event(&mut self, event: Event, span: saphyr_parser::Span) -> Result<(), YamlError> {
        match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.grow(1, span)?;
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    OpenKind::Sequence(Vec::new())
                } else {
                    OpenKind::Mapping {
                        entries: Vec::new(),
                        positions: HashMap::new(),
                        key: None,
                    }
                };
                self.open.push(Open {
                    anchor,
                    start: self.index.byte(span.start.index()),
                    size: 1,
                    kind,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.open.pop() else {
                    return Ok(());
                };
                // saphyr ends a collection's span where its end event
                // starts.
                let span = Span {
                    start: open.start,
                    end: self.index.byte(span.start.index()),
                };
                let node = match open.kind {
                    OpenKind::Sequence(items) => Node::Sequence(items, span),
                    OpenKind::Mapping { entries, .. } => Node::Mapping(entries, span),
                };
                self.finish(
                    Built {
                        node,
                        size: open.size,
                        key: None,
                    },
                    open.anchor,
                );
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.grow(1, span)?;
                let span = self.span(span);
                // A tag outside the core schema is dropped and the value
                // read as untagged.
                let tag = tag.filter(|t| t.is_yaml_core_schema());
                let built =
                    match SaphyrScalar::parse_from_cow_and_metadata(value, style, tag.as_ref()) {
                        Some(SaphyrScalar::Null) => Built {
                            node: Node::Null(span),
                            size: 1,
                            key: Some((0, String::new())),
                        },
                        Some(value) => {
                            let text = scalar_text(&value);
                            let kind = match value {
                                SaphyrScalar::Null => 0,
                                SaphyrScalar::Boolean(_) => 1,
                                SaphyrScalar::Integer(_) => 2,
                                SaphyrScalar::FloatingPoint(_) => 3,
                                SaphyrScalar::String(_) => 4,
                            };
                            Built {
                                node: Node::Scalar(Scalar {
                                    value: text.clone(),
                                    span,
                                }),
                                size: 1,
                                key: Some((kind, text)),
                            }
                        }
                        None => Built {
                            node: Node::Null(span),
                            size: 1,
                            key: None,
                        },
                    };
                self.finish(built, anchor);
            }
            Event::Alias(anchor) => {
                let span = self.span(span);
                let mut built = self.anchored.get(&anchor).cloned().unwrap_or(Built {
                    node: Node::Null(span),
                    size: 1,
                    key: None,
                });
                self.grow_at(built.size, span.start)?;
                set_span(&mut built.node, span);
                self.finish(built, 0);
            }
            Event::DocumentEnd => {
                let root = self.root.take().unwrap_or(Node::Null(self.span(span)));
                self.docs.push(root);
            }
            _ => {}
        }
        Ok(())
    }

    fn grow(&mut self, size: u64, span: saphyr_parser::Span) -> Result<(), YamlError> {
        let at = self.index.byte(span.start.index());
        self.grow_at(size, at)
    }

    /// Counts `size` more nodes, and rejects the file past the bound.
    fn grow_at(&mut self, size: u64, offset: usize) -> Result<(), YamlError> {
        self.total = self.total.saturating_add(size);
        if self.total > MAX_EXPANDED_NODES {
            return Err(YamlError {
                offset,
                message: format!(
                    "aliases expand this file to more than {MAX_EXPANDED_NODES} nodes; \
                     replace the nested aliases with the values they stand for"
                ),
            });
        }
        Ok(())
    }

    /// Adds a finished node to the open collection, or makes it the
    /// document's root.
    fn finish(&mut self, built: Built, anchor: usize) {
        if anchor != 0 {
            self.anchored.insert(anchor, built.clone());
        }
        let Some(parent) = self.open.last_mut() else {
            self.root = Some(built.node);
            return;
        };
        parent.size = parent.size.saturating_add(built.size);
        match &mut parent.kind {
            OpenKind::Sequence(items) => items.push(built.node),
            OpenKind::Mapping {
                entries,
                positions,
                key,
            } => match key.take() {
                None => {
                    let scalar = match built.node {
                        Node::Scalar(scalar) => scalar,
                        // A null key reads as an empty string; a collection
                        // as a key has no text.
                        other => Scalar {
                            value: String::new(),
                            span: other.span(),
                        },
                    };
                    *key = Some((scalar, built.key));
                }
                Some((scalar, id)) => {
                    // saphyr keeps the first of two equal keys with the
                    // last value, moved to the end.
                    // NOTE: keys that are collections are never merged,
                    // where saphyr compares them by value.
                    let existing = id.as_ref().and_then(|id| positions.get(id).copied());
                    let scalar = match existing {
                        Some(position) => {
                            let (first, _) = entries.remove(position);
                            for p in positions.values_mut() {
                                if *p > position {
                                    *p -= 1;
                                }
                            }
                            first
                        }
                        None => scalar,
                    };
                    if let Some(id) = id {
                        positions.insert(id, entries.len());
                    }
                    entries.push((scalar, built.node));
                }
            },
        }
    }
}

/// Gives a copied node the span of the alias it replaces, as saphyr does.
fn set_span(node: &mut Node, span: Span) {
    match node {
        Node::Scalar(s) => s.span = span,
        Node::Sequence(_, s) | Node::Mapping(_, s) | Node::Null(s) => *s = span,
    }
}

/// Converts saphyr's character indices to byte offsets.
struct CharIndex {
    /// Byte offset of each character, or empty when the text is ASCII.
    bytes: Vec<usize>,
    len: usize,
}

impl CharIndex {
    fn new(text: &str) -> Self {
        let bytes = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i).collect()
        };
        CharIndex {
            bytes,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.bytes.is_empty() {
            char_index.min(self.len)
        } else {
            self.bytes.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

fn scalar_text(value: &SaphyrScalar) -> String {
    match value {
        SaphyrScalar::Null => String::new(),
        SaphyrScalar::Boolean(b) => b.to_string(),
        SaphyrScalar::Integer(i) => i.to_string(),
        SaphyrScalar::FloatingPoint(f) => f.to_string(),
        SaphyrScalar::String(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use saphyr::{LoadableYamlNode, MarkedYaml, YamlData};

    use super::*;

    /// Converts the nodes of saphyr's loader: the reference that `parse`
    /// is checked against.
    fn convert(node: &MarkedYaml, index: &CharIndex) -> Node {
        let span = Span {
            start: index.byte(node.span.start.index()),
            end: index.byte(node.span.end.index()),
        };
        match &node.data {
            YamlData::Mapping(map) => {
                let mut entries: Vec<(Scalar, Node)> = Vec::with_capacity(map.len());
                for (k, v) in map {
                    let key = scalar_of(k, index);
                    // NOTE: saphyr 0.0.6 keeps only the last of two equal keys
                    // while loading, so duplicate keys are not reported.
                    entries.push((key, convert(v, index)));
                }
                Node::Mapping(entries, span)
            }
            YamlData::Sequence(items) => {
                Node::Sequence(items.iter().map(|v| convert(v, index)).collect(), span)
            }
            YamlData::Value(SaphyrScalar::Null) => {
                // `key: ~` and `key: null` are nulls, but `key:` alone also is.
                Node::Null(span)
            }
            YamlData::Value(value) => Node::Scalar(Scalar {
                value: scalar_text(value),
                span,
            }),
            YamlData::Representation(text, _, _) => Node::Scalar(Scalar {
                value: text.to_string(),
                span,
            }),
            YamlData::Tagged(_, inner) => convert(inner, index),
            _ => Node::Null(span),
        }
    }

    fn scalar_of(node: &MarkedYaml, index: &CharIndex) -> Scalar {
        let span = Span {
            start: index.byte(node.span.start.index()),
            end: index.byte(node.span.end.index()),
        };
        let value = match &node.data {
            YamlData::Value(v) => scalar_text(v),
            YamlData::Representation(text, _, _) => text.to_string(),
            _ => String::new(),
        };
        Scalar { value, span }
    }

    fn reference(text: &str) -> Result<Vec<Node>, YamlError> {
        let index = CharIndex::new(text);
        match MarkedYaml::load_from_str(text) {
            Ok(docs) => Ok(docs.iter().map(|d| convert(d, &index)).collect()),
            Err(err) => Err(YamlError {
                offset: index.byte(err.marker().index()),
                message: err.info().to_string(),
            }),
        }
    }

    fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                yaml_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(path);
            }
        }
    }

    fn assert_same_as_loader(text: &str, label: &str) {
        match (parse(text), reference(text)) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{label}"),
            (Err(ours), Err(theirs)) => {
                assert_eq!(ours.offset, theirs.offset, "{label}");
                assert_eq!(ours.message, theirs.message, "{label}");
            }
            (ours, theirs) => panic!("{label}: parse gave {ours:?}, the loader {theirs:?}"),
        }
    }

    #[test]
    fn matches_loader_on_edge_cases() {
        let cases = [
            "a: 1\nb: \"1\"\nc: 1.50\nd: true\ne: ~\nf:\ng: 0x1f\n",
            "k: 1\nother: 2\nk: 3\n",
            "1: a\n\"1\": b\n",
            "base: &b {x: 1, y: [a, b]}\nuse: *b\n",
            "? [a, b]\n: complex key\n",
            "run: |\n  echo \"héllo $X\"\n  done\nnext: >-\n  folded\n  text\n",
            "--- a\n--- [b]\n...\n",
            "",
            "int: !!str 12\n",
            "bad: [unclosed\n",
            "x: *missing\n",
        ];
        for case in cases {
            assert_same_as_loader(case, case);
        }
    }

    #[test]
    fn keeps_the_span_of_a_custom_tagged_scalar() {
        // The loader wraps such a scalar in a tagged node and leaves the
        // inner value without a position; `parse` keeps it.
        let docs = parse("tagged: !custom value\n").expect("parses");
        let value = docs[0]
            .get("tagged")
            .and_then(Node::as_scalar)
            .expect("scalar");
        assert_eq!(value.value, "value");
        assert_eq!(value.span, Span { start: 16, end: 21 });
    }

    #[test]
    fn matches_loader_on_real_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        yaml_files(&root.join("tests/fixtures"), &mut files);
        // The shared corpus of real workflows, when it is present.
        yaml_files(&root.join("../../../shared/corpus"), &mut files);
        yaml_files(&root.join("../../examples"), &mut files);
        assert!(!files.is_empty());
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert_same_as_loader(&text, &file.display().to_string());
        }
    }

    #[test]
    fn rejects_an_alias_bomb_before_expanding_it() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = level - 1;
            let items = vec![format!("*a{previous}"); 9].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        let err = parse(&text).expect_err("rejected");
        assert!(err.message.contains("more than"), "{}", err.message);
        assert!(err.offset > 0);
    }
}
