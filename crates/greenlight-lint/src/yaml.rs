//! YAML documents with byte positions, built on saphyr's marked nodes.
//!
//! saphyr reports positions as character indices, and puts a block
//! scalar's start at its first non-blank content line. This module turns
//! them into byte offsets and keeps enough to rebuild, in `scalar_map`,
//! where each byte of a scalar's value sits in the source.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar as SaphyrScalar, YamlData};

/// A YAML node with the byte span of its text in the source.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let index = CharIndex::new(text);
    check_alias_expansion(text, &index)?;
    match MarkedYaml::load_from_str(text) {
        Ok(docs) => Ok(docs.iter().map(|d| convert(d, &index)).collect()),
        Err(err) => Err(YamlError {
            offset: index.byte(err.marker().index()),
            message: err.info().to_string(),
        }),
    }
}

/// Counts the nodes `text` expands to, from parser events alone, and
/// rejects it past `MAX_EXPANDED_NODES` before the loader copies anything.
/// Syntax errors are left for the loader to report.
fn check_alias_expansion(text: &str, index: &CharIndex) -> Result<(), YamlError> {
    use saphyr_parser::{Event, Parser};

    // Expanded size of each anchored node, by anchor id.
    let mut anchored: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    // Open collections: their anchor id and the nodes counted so far.
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return Ok(());
        };
        let finished = match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            Event::Scalar(_, _, anchor, _) => Some((anchor, 1)),
            Event::Alias(anchor) => Some((0, anchored.get(&anchor).copied().unwrap_or(1))),
            _ => None,
        };
        let Some((anchor, size)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchored.insert(anchor, size);
        }
        match open.last_mut() {
            Some((_, parent)) => *parent = parent.saturating_add(size),
            None => total = total.saturating_add(size),
        }
        let largest = open.iter().map(|(_, n)| *n).max().unwrap_or(0).max(total);
        if largest > MAX_EXPANDED_NODES {
            return Err(YamlError {
                offset: index.byte(span.start.index()),
                message: format!(
                    "aliases expand this file to more than {MAX_EXPANDED_NODES} nodes; \
                     replace the nested aliases with the values they stand for"
                ),
            });
        }
    }
    Ok(())
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

fn scalar_text(value: &SaphyrScalar) -> String {
    match value {
        SaphyrScalar::Null => String::new(),
        SaphyrScalar::Boolean(b) => b.to_string(),
        SaphyrScalar::Integer(i) => i.to_string(),
        SaphyrScalar::FloatingPoint(f) => f.to_string(),
        SaphyrScalar::String(s) => s.to_string(),
    }
}
