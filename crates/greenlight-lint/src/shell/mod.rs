//! Bash scripts: parsing, variable analysis and `$GITHUB_ENV` writes.

pub mod analyze;
pub mod fast;
pub mod github_env;
pub mod known_env;
pub mod syntax;

use tree_sitter::Parser;

use syntax::{Node, Syntax};

/// Replaces every `${{ … }}` expression with dots of the same byte length,
/// so byte offsets in the script stay those of the source. Line breaks
/// inside an expression are kept for the same reason.
///
/// Dots end a variable name (`$PREFIX${{ x }}` stays a use of `PREFIX`)
/// and keep a word a word.
pub fn blank_expressions(script: &str) -> String {
    let bytes = script.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + 2 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'{' && bytes[i + 2] == b'{' {
            let close = script[i + 3..].find("}}").map(|p| i + 3 + p + 2);
            let end = close.unwrap_or(bytes.len());
            for b in &mut out[i..end] {
                if *b != b'\n' {
                    *b = b'.';
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    // Only ASCII bytes were written over whole character runs, so the
    // result is valid UTF-8; the fallback keeps the function total.
    String::from_utf8(out).unwrap_or_else(|_| script.to_string())
}

/// Parses a bash script, or returns `None` when tree-sitter gives up.
/// Scripts within the part of bash that [`fast`] reads skip tree-sitter.
pub fn parse(parser: &mut Parser, script: &str) -> Option<Syntax> {
    if let Some(tree) = fast::parse(script) {
        return Some(tree);
    }
    parse_with_tree_sitter(parser, script)
}

/// Parses a bash script with tree-sitter-bash alone.
pub fn parse_with_tree_sitter(parser: &mut Parser, script: &str) -> Option<Syntax> {
    let tree = parser.parse(script, None)?;
    Syntax::from_tree(&tree)
}

/// Builds a parser for bash.
pub fn new_parser() -> Option<Parser> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_bash::LANGUAGE.into())
        .ok()?;
    Some(parser)
}

thread_local! {
    static PARSER: std::cell::RefCell<Option<Parser>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's bash parser, creating it on first use.
/// Returns `None` when the grammar cannot be loaded.
pub fn with_parser<R>(f: impl FnOnce(&mut Parser) -> R) -> Option<R> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = new_parser();
        }
        slot.as_mut().map(f)
    })
}

/// Returns the source text of a node.
pub fn text<'a>(node: Node, src: &'a str) -> &'a str {
    src.get(node.byte_range()).unwrap_or("")
}

/// Returns the literal value of a word when it contains no expansion:
/// a bare word, a quoted string without `$`, or a single-quoted string.
pub fn literal(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "word" | "number" => Some(unescape(text(node, src))),
        "raw_string" => {
            let t = text(node, src);
            Some(
                t.trim_start_matches('\'')
                    .trim_end_matches('\'')
                    .to_string(),
            )
        }
        "string" => {
            let mut out = String::new();
            for child in node.named_children() {
                if child.kind() != "string_content" {
                    return None;
                }
                out.push_str(text(child, src));
            }
            Some(out)
        }
        "concatenation" => {
            let mut out = String::new();
            for child in node.named_children() {
                out.push_str(&literal(child, src)?);
            }
            Some(out)
        }
        _ => None,
    }
}

fn unescape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks whether `name` is a valid shell variable name.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
