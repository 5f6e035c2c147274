//! Maps each byte of a scalar's value back to its byte in the YAML source.
//!
//! The value of a scalar differs from its source text: quotes and escapes
//! are removed, line breaks are folded, block indentation is stripped. To
//! point at a variable inside a `run:` script, this module decodes the
//! scalar again from the source, recording where each output byte came
//! from, and checks that its decoding equals the parser's value. When it
//! does not (a case this decoder does not cover), every byte maps to the
//! scalar's start, so positions degrade to the right line but stay valid.

use crate::yaml::Scalar;

/// Returns, for each byte of `scalar.value`, the byte offset in `source`
/// it was decoded from, plus one final entry for the end of the value.
pub fn value_offsets(source: &str, scalar: &Scalar) -> Vec<usize> {
    let decoded = decode(source, scalar.span.start, scalar.span.end);
    match decoded {
        Some((value, mut offsets)) if value == scalar.value => {
            offsets.push(offsets.last().map_or(scalar.span.start, |&o| o + 1));
            offsets
        }
        _ => vec![scalar.span.start; scalar.value.len() + 1],
    }
}

/// Decoded text with one source offset per byte.
struct Decoded {
    text: String,
    offsets: Vec<usize>,
}

impl Decoded {
    fn new() -> Self {
        Decoded {
            text: String::new(),
            offsets: Vec::new(),
        }
    }

    fn push(&mut self, c: char, at: usize) {
        self.text.push(c);
        for _ in 0..c.len_utf8() {
            self.offsets.push(at);
        }
    }

    fn push_str(&mut self, s: &str, at: usize) {
        for (i, c) in s.char_indices() {
            self.push(c, at + i);
        }
    }

    fn truncate(&mut self, len: usize) {
        self.text.truncate(len);
        self.offsets.truncate(len);
    }
}

fn decode(source: &str, start: usize, end: usize) -> Option<(String, Vec<usize>)> {
    let first = source.get(start..)?.chars().next()?;
    let decoded = match first {
        '\'' => single_quoted(source, start)?,
        '"' => double_quoted(source, start)?,
        _ => match block_header(source, start) {
            Some(header) => block(source, start, header)?,
            None => plain(source, start, end.min(source.len()))?,
        },
    };
    Some((decoded.text, decoded.offsets))
}

/// Header of a block scalar: `|` or `>`, chomping and indentation.
#[derive(Debug, Clone, Copy)]
struct BlockHeader {
    folded: bool,
    chomp: Chomp,
    indent: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

fn line_start_of(source: &str, offset: usize) -> usize {
    source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Finds the header of a block scalar whose content starts at `start`.
///
/// Block scalars start at their first content line, so the header is the
/// last non-blank line above it, and it ends with the indicator.
fn block_header(source: &str, start: usize) -> Option<BlockHeader> {
    let line_start = line_start_of(source, start);
    if !source[line_start..start].chars().all(|c| c == ' ') {
        return None;
    }
    let mut cursor = line_start;
    let header_line = loop {
        if cursor == 0 {
            return None;
        }
        let prev_start = line_start_of(source, cursor - 1);
        let line = &source[prev_start..cursor - 1];
        if !line.trim().is_empty() {
            break line;
        }
        cursor = prev_start;
    };
    // Try indicators from the right, so a `|` inside a trailing comment
    // does not count.
    for (i, c) in header_line.char_indices().rev() {
        if c != '|' && c != '>' {
            continue;
        }
        let rest = &header_line[i + 1..];
        let flags_len = rest
            .find(|ch: char| !matches!(ch, '-' | '+' | '1'..='9'))
            .unwrap_or(rest.len());
        let after = rest[flags_len..].trim_start();
        if !(after.is_empty() || after.starts_with('#')) {
            continue;
        }
        if flags_len < rest.len() && !rest[flags_len..].starts_with([' ', '\t', '\r']) {
            continue;
        }
        let before = header_line[..i].trim_end();
        if !(before.is_empty() || before.ends_with(':') || before.ends_with('-')) {
            continue;
        }
        let flags = &rest[..flags_len];
        let chomp = if flags.contains('-') {
            Chomp::Strip
        } else if flags.contains('+') {
            Chomp::Keep
        } else {
            Chomp::Clip
        };
        let indent_digit = flags.chars().find_map(|ch| ch.to_digit(10));
        let parent_indent = header_line.len() - header_line.trim_start_matches(' ').len();
        return Some(BlockHeader {
            folded: c == '>',
            chomp,
            indent: indent_digit.map(|d| parent_indent + d as usize),
        });
    }
    None
}

struct Line<'a> {
    /// Content after the block indentation, without the line break.
    text: &'a str,
    offset: usize,
    /// Line break offset, or the end of the source for the last line.
    break_at: usize,
}

fn block(source: &str, start: usize, header: BlockHeader) -> Option<Decoded> {
    let line_start = line_start_of(source, start);
    let indent = header.indent.unwrap_or(start - line_start);

    // Collect lines from the first line after the header: blank lines
    // before the content are part of the value too.
    let mut first = line_start;
    while first > 0 {
        let prev = line_start_of(source, first - 1);
        if !source[prev..first - 1].trim().is_empty() {
            break;
        }
        first = prev;
    }

    let mut lines: Vec<Line> = Vec::new();
    let mut cursor = first;
    while cursor < source.len() {
        let break_at = source[cursor..]
            .find('\n')
            .map_or(source.len(), |i| cursor + i);
        let raw = source[cursor..break_at].trim_end_matches('\r');
        let spaces = raw.len() - raw.trim_start_matches(' ').len();
        if raw.trim().is_empty() {
            let skip = spaces.min(indent);
            lines.push(Line {
                text: &raw[skip..],
                offset: cursor + skip,
                break_at,
            });
        } else if spaces >= indent {
            lines.push(Line {
                text: &raw[indent..],
                offset: cursor + indent,
                break_at,
            });
        } else {
            break;
        }
        cursor = break_at + 1;
    }

    // Trailing blank lines only matter for chomping.
    let content_end = lines
        .iter()
        .rposition(|l| !l.text.trim().is_empty())
        .map_or(0, |i| i + 1);
    let mut out = Decoded::new();
    if header.folded {
        fold_lines(&lines[..content_end], &mut out);
    } else {
        for line in &lines[..content_end] {
            out.push_str(line.text, line.offset);
            out.push('\n', line.break_at);
        }
    }
    match header.chomp {
        Chomp::Strip => {
            let len = out.text.trim_end_matches('\n').len();
            out.truncate(len);
        }
        Chomp::Clip => {}
        Chomp::Keep => {
            for line in &lines[content_end..] {
                out.push('\n', line.break_at);
            }
        }
    }
    if content_end == 0 && header.chomp != Chomp::Keep {
        out.truncate(0);
    }
    Some(out)
}

/// Folds the lines of a `>` block. A single break between two lines that
/// are not more indented becomes a space, and empty lines stay breaks.
fn fold_lines(lines: &[Line], out: &mut Decoded) {
    let mut i = 0;
    // Leading empty lines are kept as line breaks.
    while i < lines.len() && lines[i].text.trim().is_empty() {
        out.push('\n', lines[i].break_at);
        i += 1;
    }
    while i < lines.len() {
        let line = &lines[i];
        out.push_str(line.text, line.offset);
        let mut next = i + 1;
        while next < lines.len() && lines[next].text.is_empty() {
            next += 1;
        }
        if next >= lines.len() {
            out.push('\n', line.break_at);
            break;
        }
        let empties = next - i - 1;
        let more_indented = |l: &Line| l.text.starts_with([' ', '\t']);
        if more_indented(line) || more_indented(&lines[next]) {
            out.push('\n', line.break_at);
            for l in &lines[i + 1..next] {
                out.push('\n', l.break_at);
            }
        } else if empties == 0 {
            out.push(' ', line.break_at);
        } else {
            for l in &lines[i + 1..next] {
                out.push('\n', l.break_at);
            }
        }
        i = next;
    }
}

/// Folds the line breaks of a flow scalar (plain or quoted) that spans
/// several lines: one break becomes a space, each empty line a break, and
/// whitespace around breaks is dropped.
fn fold_flow_break(source: &str, break_at: usize, out: &mut Decoded) -> usize {
    // Drop trailing whitespace already pushed for this line.
    let trimmed = out.text.trim_end_matches([' ', '\t']).len();
    out.truncate(trimmed);
    let mut cursor = break_at + 1;
    let mut empty_lines = Vec::new();
    loop {
        let rest = &source[cursor..];
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t', '\r']).len();
        let after = cursor + spaces;
        if source[after..].starts_with('\n') {
            empty_lines.push(after);
            cursor = after + 1;
        } else {
            cursor = after;
            break;
        }
    }
    if empty_lines.is_empty() {
        out.push(' ', break_at);
    } else {
        for at in empty_lines {
            out.push('\n', at);
        }
    }
    cursor
}

fn plain(source: &str, start: usize, end: usize) -> Option<Decoded> {
    let text = source.get(start..end)?;
    let mut out = Decoded::new();
    let mut cursor = start;
    while cursor < start + text.len() {
        let c = source[cursor..].chars().next()?;
        if c == '\n' {
            cursor = fold_flow_break(source, cursor, &mut out);
            continue;
        }
        if c != '\r' {
            out.push(c, cursor);
        }
        cursor += c.len_utf8();
    }
    let trimmed = out.text.trim_end_matches([' ', '\t']).len();
    out.truncate(trimmed);
    Some(out)
}

fn single_quoted(source: &str, start: usize) -> Option<Decoded> {
    let mut out = Decoded::new();
    let mut cursor = start + 1;
    loop {
        let c = source.get(cursor..)?.chars().next()?;
        match c {
            '\'' if source[cursor + 1..].starts_with('\'') => {
                out.push('\'', cursor);
                cursor += 2;
            }
            '\'' => return Some(out),
            '\n' => cursor = fold_flow_break(source, cursor, &mut out),
            '\r' => cursor += 1,
            _ => {
                out.push(c, cursor);
                cursor += c.len_utf8();
            }
        }
    }
}

fn double_quoted(source: &str, start: usize) -> Option<Decoded> {
    let mut out = Decoded::new();
    let mut cursor = start + 1;
    loop {
        let c = source.get(cursor..)?.chars().next()?;
        match c {
            '"' => return Some(out),
            '\n' => cursor = fold_flow_break(source, cursor, &mut out),
            '\r' => cursor += 1,
            '\\' => {
                let escape = source.get(cursor + 1..)?.chars().next()?;
                let (decoded, len) = match escape {
                    '\n' | '\r' => {
                        // An escaped line break joins the lines with
                        // nothing between them.
                        let rest = &source[cursor + 1..];
                        let skip = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
                        let rest = &rest[skip..];
                        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                        cursor += 1 + skip + spaces;
                        continue;
                    }
                    'x' => (hex_escape(source, cursor + 2, 2)?, 4),
                    'u' => (hex_escape(source, cursor + 2, 4)?, 6),
                    'U' => (hex_escape(source, cursor + 2, 8)?, 10),
                    other => (simple_escape(other)?, 2),
                };
                out.push(decoded, cursor);
                cursor += len;
            }
            _ => {
                out.push(c, cursor);
                cursor += c.len_utf8();
            }
        }
    }
}

fn hex_escape(source: &str, at: usize, digits: usize) -> Option<char> {
    let hex = source.get(at..at + digits)?;
    char::from_u32(u32::from_str_radix(hex, 16).ok()?)
}

fn simple_escape(c: char) -> Option<char> {
    Some(match c {
        '0' => '\0',
        'a' => '\u{7}',
        'b' => '\u{8}',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\u{b}',
        'f' => '\u{c}',
        'r' => '\r',
        'e' => '\u{1b}',
        ' ' => ' ',
        '"' => '"',
        '/' => '/',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::value_offsets;
    use crate::yaml::{Node, parse};

    /// Checks that every `$NAME` in each scalar of `source` maps to the
    /// same text in the source, and that the decoder did not fall back.
    fn assert_names_map_back(source: &str) {
        let docs = parse(source).expect("fixture parses");
        let mut checked = 0;
        let mut stack: Vec<&Node> = docs.iter().collect();
        while let Some(node) = stack.pop() {
            match node {
                Node::Mapping(entries, _) => stack.extend(entries.iter().map(|(_, v)| v)),
                Node::Sequence(items, _) => stack.extend(items.iter()),
                Node::Scalar(scalar) => {
                    let offsets = value_offsets(source, scalar);
                    assert_eq!(offsets.len(), scalar.value.len() + 1);
                    for (i, _) in scalar.value.match_indices('$') {
                        let name: String = scalar.value[i..]
                            .chars()
                            .take_while(|c| *c == '$' || c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        assert!(
                            source[offsets[i]..].starts_with(&name),
                            "{name} of {:?} maps to {:?}",
                            scalar.value,
                            &source[offsets[i]..(offsets[i] + 20).min(source.len())]
                        );
                        checked += 1;
                    }
                }
                Node::Null(_) => {}
            }
        }
        assert!(checked > 0, "fixture has no $NAME");
    }

    #[test]
    fn literal_block_maps_lines() {
        assert_names_map_back("run: |\n\n  echo $A\n    indented $B\n\n  tail $C\n");
        assert_names_map_back("run: |-\n  echo $A\nnext: |+\n  keep $B\n\n");
        assert_names_map_back("run: |2\n    two more $A\n  base $B\n");
        assert_names_map_back("steps:\n  - run: | # comment with | bar\n      echo $A\n");
    }

    #[test]
    fn folded_block_maps_lines() {
        assert_names_map_back(
            "run: >\n  set -u;\n  echo $A\n\n  para $B\n    more $C\n  back $D\n",
        );
        assert_names_map_back("run: >-\n  a $A\n  b $B\n");
    }

    #[test]
    fn flow_scalars_map_escapes() {
        assert_names_map_back("run: \"echo \\\"$A\\\" \\t $B\"\n");
        assert_names_map_back("run: 'it''s $A'\n");
        assert_names_map_back("run: \"line one $A\n  line two $B\"\n");
        assert_names_map_back("run: echo $A\n  continued $B\n");
        assert_names_map_back("name: é ü\nrun: \"ü $A\"\n");
    }

    #[test]
    fn unknown_form_falls_back_to_start() {
        let docs = parse("run: \"$A\"\n").expect("parses");
        let Some(Node::Scalar(scalar)) = docs[0].get("run") else {
            panic!("no scalar");
        };
        let mut changed = scalar.clone();
        changed.value.push('x');
        let offsets = value_offsets("run: \"$A\"\n", &changed);
        assert!(offsets.iter().all(|&o| o == scalar.span.start));
    }
}
