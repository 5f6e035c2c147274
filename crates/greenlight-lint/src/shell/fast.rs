//! A parser for the common part of bash that builds the same tree as
//! tree-sitter-bash with about a tenth of its instructions, and gives up
//! on the rest.
//!
//! tree-sitter-bash spends about 1,300 instructions per byte of script
//! (callgrind, on generated workflow steps), more than the whole analysis.
//! Most `run:` scripts use a small part of bash: commands with words,
//! quotes and expansions, assignments, redirects, pipelines, `&&` and `||`,
//! `if`, `for`, `case`, functions and `[ … ]` tests. This parser reads
//! exactly that part and returns `None` on anything else (heredocs,
//! backticks, globs, line continuations, `while`, subshells, …), and the
//! caller parses the script with tree-sitter instead.
//!
//! The tree is tree-sitter-bash's, quirks included: its node kinds,
//! fields and byte ranges, so the analysis cannot tell the two apart. A
//! test compares both parsers on every script of the fixtures, the shared
//! corpus and generated workflows, and on mutations of them.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::parse_with_tree_sitter;
use super::syntax::{Node, Syntax, SyntaxBuilder, field_id, kind_id};

/// Node kind and field ids, looked up once.
struct Ids {
    program: u16,
    comment: u16,
    command: u16,
    command_name: u16,
    word: u16,
    number: u16,
    string: u16,
    string_content: u16,
    raw_string: u16,
    simple_expansion: u16,
    expansion: u16,
    variable_name: u16,
    special_variable_name: u16,
    command_substitution: u16,
    arithmetic_expansion: u16,
    binary_expression: u16,
    unary_expression: u16,
    test_operator: u16,
    extglob_pattern: u16,
    concatenation: u16,
    variable_assignment: u16,
    declaration_command: u16,
    redirected_statement: u16,
    file_redirect: u16,
    file_descriptor: u16,
    pipeline: u16,
    list: u16,
    if_statement: u16,
    elif_clause: u16,
    else_clause: u16,
    for_statement: u16,
    do_group: u16,
    case_statement: u16,
    case_item: u16,
    function_definition: u16,
    compound_statement: u16,
    test_command: u16,
    // Fields.
    f_name: u16,
    f_value: u16,
    f_body: u16,
    f_argument: u16,
    f_redirect: u16,
    f_destination: u16,
    f_descriptor: u16,
    f_operator: u16,
    f_left: u16,
    f_right: u16,
    f_condition: u16,
    f_variable: u16,
    f_termination: u16,
    /// Ids of the anonymous tokens this parser adds, by text.
    tokens: HashMap<&'static str, u16, foldhash::fast::RandomState>,
}

/// Every anonymous token the parser adds.
const TOKENS: &[&str] = &[
    ";", ";;", "&&", "||", "|", "=", "$", "${", "$(", "$((", "))", "(", ")", "{", "}", "#", ":-",
    ":+", ":=", ":?", "-", "+", "?", "*", "/", "%", "\"", "==", "!=", "!", "[", "]", "[[", "]]",
    ">", ">>", "<", ">&", "if", "then", "elif", "else", "fi", "for", "in", "do", "done", "case",
    "esac", "local", "export", "declare", "readonly", "typeset",
];

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let k = |name: &str| kind_id(name, true);
        Ids {
            program: k("program"),
            comment: k("comment"),
            command: k("command"),
            command_name: k("command_name"),
            word: k("word"),
            number: k("number"),
            string: k("string"),
            string_content: k("string_content"),
            raw_string: k("raw_string"),
            simple_expansion: k("simple_expansion"),
            expansion: k("expansion"),
            variable_name: k("variable_name"),
            special_variable_name: k("special_variable_name"),
            command_substitution: k("command_substitution"),
            arithmetic_expansion: k("arithmetic_expansion"),
            binary_expression: k("binary_expression"),
            unary_expression: k("unary_expression"),
            test_operator: k("test_operator"),
            extglob_pattern: k("extglob_pattern"),
            concatenation: k("concatenation"),
            variable_assignment: k("variable_assignment"),
            declaration_command: k("declaration_command"),
            redirected_statement: k("redirected_statement"),
            file_redirect: k("file_redirect"),
            file_descriptor: k("file_descriptor"),
            pipeline: k("pipeline"),
            list: k("list"),
            if_statement: k("if_statement"),
            elif_clause: k("elif_clause"),
            else_clause: k("else_clause"),
            for_statement: k("for_statement"),
            do_group: k("do_group"),
            case_statement: k("case_statement"),
            case_item: k("case_item"),
            function_definition: k("function_definition"),
            compound_statement: k("compound_statement"),
            test_command: k("test_command"),
            f_name: field_id("name"),
            f_value: field_id("value"),
            f_body: field_id("body"),
            f_argument: field_id("argument"),
            f_redirect: field_id("redirect"),
            f_destination: field_id("destination"),
            f_descriptor: field_id("descriptor"),
            f_operator: field_id("operator"),
            f_left: field_id("left"),
            f_right: field_id("right"),
            f_condition: field_id("condition"),
            f_variable: field_id("variable"),
            f_termination: field_id("termination"),
            tokens: TOKENS.iter().map(|t| (*t, kind_id(t, false))).collect(),
        }
    })
}

/// Nesting depth (command substitutions, compound statements) past which
/// the parser gives up, to bound its recursion.
const MAX_DEPTH: usize = 32;

/// Words that start or end a compound command. None of them may start a
/// simple command here.
const RESERVED: &[&str] = &[
    "if", "then", "elif", "else", "fi", "for", "in", "do", "done", "case", "esac", "while",
    "until", "select", "function", "time", "coproc", "{", "}", "!", "[[", "]]",
];

/// Commands whose arguments tree-sitter-bash parses as declarations.
const DECLARATIONS: &[&str] = &["local", "export", "declare", "readonly", "typeset"];

/// Checks whether tree-sitter-bash gives `word` a meaning of its own: a
/// reserved word, a declaration command or `unset`, which it parses as
/// an `unset_command`.
fn is_special_word(word: &[u8]) -> bool {
    RESERVED
        .iter()
        .chain(DECLARATIONS)
        .chain(&["unset", "unsetenv"])
        .any(|special| special.as_bytes() == word)
}

/// The token that ends a list of statements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// The end of the script.
    Script,
    /// One of these reserved words.
    Words(&'static [&'static str]),
    /// `)` of a command substitution.
    Paren,
    /// `}` of a function body.
    Brace,
    /// `;;` or `esac` of a case item.
    CaseItem,
}

/// Parses `src`, or returns `None` when it uses bash this parser does
/// not read.
pub fn parse(src: &str) -> Option<Syntax> {
    // tree-sitter-bash ends tokens at a NUL byte and treats a carriage
    // return apart; both are left to it.
    if u32::try_from(src.len()).is_err() || src.bytes().any(|c| c == 0 || c == b'\r') {
        return None;
    }
    let mut p = Parser {
        s: src.as_bytes(),
        pos: 0,
        end: 0,
        depth: 0,
        redirected: false,
        b: Syntax::builder(),
        k: ids(),
    };
    p.skip_blank_lines();
    if p.pos >= p.s.len() {
        return None;
    }
    let start = p.pos;
    p.b.open(p.k.program, true, 0, start);
    p.statements(End::Script)?;
    if p.pos != p.s.len() {
        return None;
    }
    p.b.close(src.len());
    p.b.finish()
}

struct Parser<'s> {
    s: &'s [u8],
    pos: usize,
    /// End of the last node added.
    end: usize,
    depth: usize,
    /// Whether the last simple command had a redirect.
    redirected: bool,
    b: SyntaxBuilder,
    k: &'static Ids,
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Bytes of a bare word that carry no meaning to bash here.
fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'_' | b'.' | b'/' | b',' | b':' | b'@' | b'%' | b'+' | b'=' | b'-'
        )
}

fn is_number(text: &[u8]) -> bool {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.s.get(self.pos + offset).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        self.s[self.pos..].starts_with(text.as_bytes())
    }

    fn leaf(&mut self, kind: u16, named: bool, field: u16, start: usize, end: usize) {
        self.b.leaf(kind, named, field, start, end);
        self.end = end;
    }

    /// Adds the anonymous token `text` at the current position.
    fn token(&mut self, text: &str, field: u16) -> Option<()> {
        if !self.starts_with(text) {
            return None;
        }
        let start = self.pos;
        self.pos += text.len();
        let id = self.k.tokens.get(text).copied()?;
        self.leaf(id, false, field, start, self.pos);
        Some(())
    }

    fn open(&mut self, kind: u16, field: u16, start: usize) {
        self.b.open(kind, true, field, start);
    }

    fn close(&mut self) {
        self.b.close(self.end);
    }

    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_blank_lines(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Returns the reserved-word-like token at the position: a run of
    /// word bytes, or `{`, `}`, `[[`.
    fn next_word(&self) -> &'s [u8] {
        let rest: &'s [u8] = &self.s[self.pos..];
        let len = rest.iter().take_while(|c| is_word_char(**c)).count();
        if len > 0 {
            return &rest[..len];
        }
        for special in [&b"[["[..], b"{", b"}", b"!", b"["] {
            if rest.starts_with(special) {
                return special;
            }
        }
        &[]
    }

    /// Checks whether the word `word` starts at the position and ends there.
    fn at_word(&self, word: &str) -> bool {
        self.next_word() == word.as_bytes() && self.delimited(self.pos + word.len())
    }

    /// Checks whether a word ending at `at` is followed by a delimiter.
    fn delimited(&self, at: usize) -> bool {
        matches!(self.s.get(at), None | Some(b' ' | b'\t' | b'\n' | b';'))
    }

    fn at_statement_end(&self) -> bool {
        match self.peek() {
            None | Some(b'\n' | b';' | b')') => true,
            Some(b'&') => self.peek_at(1) == Some(b'&'),
            Some(b'|') => true,
            _ => false,
        }
    }

    fn at_end(&self, end: End) -> bool {
        match end {
            End::Script => false,
            End::Words(words) => words.iter().any(|w| self.at_word(w)),
            End::Paren => self.peek() == Some(b')'),
            End::Brace => self.at_word("}"),
            End::CaseItem => self.starts_with(";;") || self.at_word("esac"),
        }
    }

    fn statements(&mut self, end: End) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        // Whether the last thing read was a comment, or nothing.
        let mut ends_in_comment = true;
        loop {
            self.skip_blank_lines();
            let Some(c) = self.peek() else {
                break;
            };
            if c == b'#' {
                let start = self.pos;
                while !matches!(self.peek(), None | Some(b'\n')) {
                    self.pos += 1;
                }
                self.leaf(self.k.comment, true, 0, start, self.pos);
                ends_in_comment = true;
                continue;
            }
            if self.at_end(end) {
                break;
            }
            ends_in_comment = false;
            self.and_or(0)?;
            self.skip_blank();
            match self.peek() {
                None => {}
                Some(b'\n') => {
                    // The line break ends the statement, and an enclosing
                    // clause's range includes it and the empty lines after.
                    while self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    self.end = self.pos;
                }
                Some(b';') if self.peek_at(1) == Some(b';') => break,
                Some(b';') => self.token(";", 0)?,
                Some(b')') if end == End::Paren => break,
                _ => return None,
            }
        }
        // tree-sitter-bash may place comments that end a clause, or make
        // it up, outside the clause.
        if ends_in_comment && end != End::Script {
            return None;
        }
        self.depth -= 1;
        Some(())
    }

    /// Parses a pipeline, or pipelines joined by `&&` and `||`.
    fn and_or(&mut self, field: u16) -> Option<()> {
        let first = self.b.next_index();
        self.pipeline(field)?;
        let mut redirected = self.redirected;
        loop {
            self.skip_blank();
            let op = if self.starts_with("&&") {
                "&&"
            } else if self.starts_with("||") {
                "||"
            } else {
                return Some(());
            };
            self.b.wrap(first, self.k.list, true, 0);
            self.token(op, 0)?;
            self.skip_blank_lines();
            self.pipeline(0)?;
            redirected |= self.redirected;
            // As in a pipeline, a redirect may apply to the whole list.
            if redirected {
                return None;
            }
            self.close();
        }
    }

    fn pipeline(&mut self, field: u16) -> Option<()> {
        let first = self.b.next_index();
        self.redirected = false;
        self.statement(field)?;
        self.skip_blank();
        if self.peek() != Some(b'|') || self.peek_at(1) == Some(b'|') {
            return Some(());
        }
        // tree-sitter-bash lets a redirect in a pipeline apply to the
        // whole pipeline; such pipelines are left to it.
        if self.redirected {
            return None;
        }
        self.b.wrap(first, self.k.pipeline, true, 0);
        let mut commands = 1;
        while self.peek() == Some(b'|') && self.peek_at(1) != Some(b'|') {
            // tree-sitter-bash may run the third command of a pipeline
            // into the next line.
            commands += 1;
            if commands > 2 {
                return None;
            }
            if self.peek_at(1) == Some(b'&') {
                return None;
            }
            self.token("|", 0)?;
            self.skip_blank_lines();
            self.redirected = false;
            self.statement(0)?;
            if self.redirected {
                return None;
            }
            self.skip_blank();
        }
        self.close();
        Some(())
    }

    fn statement(&mut self, field: u16) -> Option<()> {
        if self.at_assignment() {
            return self.command(field);
        }
        let word = std::str::from_utf8(self.next_word()).ok()?;
        if !word.is_empty() && self.s[self.pos + word.len()..].starts_with(b"()") {
            return self.function_definition(field, word.len());
        }
        let delimited = self.delimited(self.pos + word.len());
        match word {
            "if" | "for" | "case" if !delimited => None,
            "if" => self.if_statement(field),
            "for" => self.for_statement(field),
            "case" => self.case_statement(field),
            "[" | "[[" => self.test_command(field, word),
            w if DECLARATIONS.contains(&w) => {
                if !delimited {
                    return None;
                }
                self.declaration(field, w)
            }
            w if RESERVED.contains(&w) => None,
            _ => self.command(field),
        }
    }

    fn at_assignment(&self) -> bool {
        let rest = &self.s[self.pos..];
        if !rest.first().is_some_and(|c| is_name_start(*c)) {
            return false;
        }
        let len = rest.iter().take_while(|c| is_name_char(**c)).count();
        // tree-sitter-bash reads `_=x` as a command.
        rest.get(len) == Some(&b'=') && &rest[..len] != b"_"
    }

    /// Parses `NAME=value`, with a value.
    fn assignment(&mut self, field: u16) -> Option<()> {
        let start = self.pos;
        let len = self.s[start..]
            .iter()
            .take_while(|c| is_name_char(**c))
            .count();
        self.open(self.k.variable_assignment, field, start);
        self.leaf(
            self.k.variable_name,
            true,
            self.k.f_name,
            start,
            start + len,
        );
        self.pos = start + len;
        self.token("=", 0)?;
        if matches!(self.peek(), None | Some(b' ' | b'\t' | b'\n' | b';')) {
            return None;
        }
        self.word(self.k.f_value)?;
        self.close();
        Some(())
    }

    fn command(&mut self, field: u16) -> Option<()> {
        let first = self.b.next_index();
        if self.at_assignment() {
            self.assignment(field)?;
            self.skip_blank();
            if self.at_statement_end() {
                return Some(());
            }
            if self.at_assignment() {
                return None;
            }
            // `X=1 cmd`: the assignment applies to the command.
            self.b.wrap(first, self.k.command, true, 0);
        } else {
            self.open(self.k.command, field, self.pos);
        }
        let name = self.next_word();
        if name.is_empty()
            || !(name == b":"
                || name
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')))
            || name.contains(&b'=')
            || !(self.delimited(self.pos + name.len()) || self.at_statement_end_after(name.len()))
            || is_special_word(name)
            || name
                .first()
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
        {
            return None;
        }
        let start = self.pos;
        self.pos += name.len();
        self.open(self.k.command_name, self.k.f_name, start);
        self.leaf(self.k.word, true, 0, start, self.pos);
        self.close();
        loop {
            self.skip_blank();
            if self.at_statement_end() {
                self.close();
                return Some(());
            }
            if self.at_redirect() {
                break;
            }
            self.word(self.k.f_argument)?;
            if matches!(self.peek(), Some(b'<' | b'>')) {
                // `word>file` without a blank.
                return None;
            }
        }
        // Redirects end the command; arguments after them are not read.
        self.close();
        self.redirected = true;
        self.b
            .wrap(first, self.k.redirected_statement, true, self.k.f_body);
        while self.at_redirect() {
            self.redirect()?;
            self.skip_blank();
        }
        if !self.at_statement_end() {
            return None;
        }
        self.close();
        Some(())
    }

    fn at_redirect(&self) -> bool {
        let digits = self.s[self.pos..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        matches!(self.s.get(self.pos + digits), Some(b'>' | b'<'))
    }

    /// Parses `>`, `>>`, `<` or `>&` with an optional descriptor and a
    /// target.
    fn redirect(&mut self) -> Option<()> {
        let start = self.pos;
        self.open(self.k.file_redirect, self.k.f_redirect, start);
        let digits = self.s[self.pos..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        // tree-sitter-bash reads `0>` as an argument and a redirect.
        if digits > 1 || self.peek() == Some(b'0') {
            return None;
        }
        if digits > 0 {
            self.leaf(
                self.k.file_descriptor,
                true,
                self.k.f_descriptor,
                start,
                start + digits,
            );
            self.pos += digits;
        }
        let op = if self.starts_with(">>") {
            ">>"
        } else if self.starts_with(">&") {
            ">&"
        } else if self.starts_with(">") && !self.starts_with(">|") && !self.starts_with("><") {
            ">"
        } else if self.starts_with("<")
            && !self.starts_with("<<")
            && !self.starts_with("<&")
            && !self.starts_with("<>")
            && !self.starts_with("<(")
        {
            "<"
        } else {
            return None;
        };
        self.token(op, 0)?;
        if op == ">&" && !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        self.skip_blank();
        if self.peek() == Some(b'(') {
            return None;
        }
        self.word(self.k.f_destination)?;
        self.close();
        Some(())
    }

    /// Parses one shell word: a bare word, quotes and expansions, joined
    /// into a concatenation when they touch.
    fn word(&mut self, field: u16) -> Option<()> {
        let first = self.b.next_index();
        let mut parts = 0;
        // Whether the last part was a `$name` after another part.
        let mut middle_expansion = false;
        loop {
            let part_field = if parts == 0 { field } else { 0 };
            let starts_part = self
                .peek()
                .is_some_and(|c| matches!(c, b'"' | b'\'' | b'$') || is_word_char(c));
            if !starts_part {
                break;
            }
            if parts == 1 {
                // A second part: the first moves into a concatenation.
                self.b.wrap(first, self.k.concatenation, true, 0);
            }
            if middle_expansion {
                // tree-sitter-bash splits `$a/$b/c` after the second `$`.
                return None;
            }
            match self.peek() {
                Some(b'"') => {
                    self.string(part_field)?;
                    middle_expansion = false;
                }
                Some(b'\'') => {
                    self.raw_string(part_field)?;
                    middle_expansion = false;
                }
                Some(b'$') => {
                    // tree-sitter-bash ends a concatenation before `$1`.
                    if parts > 0 && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    let start = self.pos;
                    let simple = !matches!(self.peek_at(1), Some(b'{' | b'('));
                    self.dollar(part_field, start)?;
                    middle_expansion = simple && parts > 0;
                }
                Some(c) if is_word_char(c) => {
                    let start = self.pos;
                    while self.peek().is_some_and(is_word_char) {
                        self.pos += 1;
                    }
                    let text = &self.s[start..self.pos];
                    // tree-sitter-bash drops a lone `-` before some
                    // redirects, and `esac` may end an enclosing case.
                    if text == b"-" || text == b"esac" {
                        return None;
                    }
                    let alone = parts == 0 && !matches!(self.peek(), Some(b'"' | b'\'' | b'$'));
                    let kind = if is_number(text) {
                        if !alone {
                            return None;
                        }
                        self.k.number
                    } else {
                        // A word starting with digits may be a number in
                        // another base (`0x1f`), and a word starting with
                        // `=` may be an operator.
                        if text
                            .first()
                            .is_some_and(|c| c.is_ascii_digit() || *c == b'=')
                            || (text.first() == Some(&b'.')
                                && text.get(1).is_some_and(u8::is_ascii_digit))
                            || (text.first() == Some(&b'-')
                                && text.get(1).is_some_and(u8::is_ascii_digit))
                        {
                            return None;
                        }
                        self.k.word
                    };
                    self.leaf(kind, true, part_field, start, self.pos);
                    middle_expansion = false;
                }
                _ => break,
            }
            parts += 1;
        }
        // A word ends at a blank or an operator; anything else (a glob,
        // a brace, a backslash) is bash this parser does not read.
        if parts == 0
            || !matches!(
                self.peek(),
                None | Some(b' ' | b'\t' | b'\n' | b';' | b')' | b'|' | b'&' | b'<' | b'>')
            )
        {
            return None;
        }
        if parts > 1 {
            self.close();
        }
        Some(())
    }

    fn raw_string(&mut self, field: u16) -> Option<()> {
        let start = self.pos;
        let close = self.s[start + 1..].iter().position(|c| *c == b'\'')?;
        self.pos = start + 1 + close + 1;
        self.leaf(self.k.raw_string, true, field, start, self.pos);
        Some(())
    }

    fn string(&mut self, field: u16) -> Option<()> {
        self.open(self.k.string, field, self.pos);
        self.token("\"", 0)?;
        let mut segment = self.pos;
        loop {
            match self.peek()? {
                b'"' => {
                    self.content(segment, self.pos, false)?;
                    self.token("\"", 0)?;
                    self.close();
                    return Some(());
                }
                b'\\' => {
                    if matches!(self.peek_at(1)?, b'\n' | b' ' | b'\t') {
                        return None;
                    }
                    self.pos += 2;
                }
                b'`' => return None,
                b'$' => {
                    let next = self.peek_at(1)?;
                    if !(is_name_char(next)
                        || matches!(next, b'{' | b'(' | b'@' | b'?' | b'#' | b'*'))
                    {
                        return None;
                    }
                    let at = self.pos;
                    let start = self.content(segment, at, true)?;
                    self.pos = at;
                    self.dollar(0, start)?;
                    segment = self.pos;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Adds the literal text of a string between `start` and `end`, and
    /// returns where the next expansion's node starts. tree-sitter-bash
    /// gives spaces between two expansions to the second one, and skips
    /// a line break there.
    fn content(&mut self, start: usize, end: usize, before_expansion: bool) -> Option<usize> {
        let text = &self.s[start..end];
        if text.is_empty() {
            return Some(end);
        }
        if text.contains(&b'\n') {
            // tree-sitter-bash ends literal text at each line break and
            // starts it again after.
            let mut line_start = start;
            for line in text.split(|c| *c == b'\n') {
                if !line.is_empty() {
                    if line.iter().all(|c| matches!(c, b' ' | b'\t')) {
                        return None;
                    }
                    self.leaf(
                        self.k.string_content,
                        true,
                        0,
                        line_start,
                        line_start + line.len(),
                    );
                }
                line_start += line.len() + 1;
            }
            return Some(end);
        }
        if text.iter().all(|c| matches!(c, b' ' | b'\t')) {
            if !before_expansion || self.s[end + 1] == b'(' {
                return None;
            }
            return Some(start);
        }
        self.leaf(self.k.string_content, true, 0, start, end);
        Some(end)
    }

    /// Parses the expansion starting with `$` at the position. Its node
    /// starts at `start`, which may be earlier (see `content`).
    fn dollar(&mut self, field: u16, start: usize) -> Option<()> {
        if self.starts_with("$((") {
            return self.arithmetic(field);
        }
        if self.starts_with("$(") {
            self.open(self.k.command_substitution, field, self.pos);
            self.token("$(", 0)?;
            self.skip_blank_lines();
            if self.peek() == Some(b')') {
                return None;
            }
            self.statements(End::Paren)?;
            self.token(")", 0)?;
            self.close();
            return Some(());
        }
        if self.starts_with("${") {
            return self.braced(field, start);
        }
        let next = self.peek_at(1)?;
        self.open(self.k.simple_expansion, field, start);
        self.b.leaf(
            self.k.tokens.get("$").copied()?,
            false,
            0,
            start,
            self.pos + 1,
        );
        self.pos += 1;
        let name_start = self.pos;
        if next == b'_' && !self.peek_at(1).is_some_and(is_name_char) {
            // `$_`, the last argument of the previous command.
            self.pos += 1;
            self.leaf(self.k.special_variable_name, true, 0, name_start, self.pos);
        } else if is_name_start(next) {
            while self.peek().is_some_and(is_name_char) {
                self.pos += 1;
            }
            self.leaf(self.k.variable_name, true, 0, name_start, self.pos);
        } else if next.is_ascii_digit() {
            if self.peek_at(1).is_some_and(is_name_char) {
                return None;
            }
            self.pos += 1;
            self.leaf(self.k.variable_name, true, 0, name_start, self.pos);
        } else if matches!(next, b'@' | b'?' | b'#' | b'*') {
            if self.peek_at(1).is_some_and(is_name_char) {
                return None;
            }
            self.pos += 1;
            self.leaf(self.k.special_variable_name, true, 0, name_start, self.pos);
        } else {
            return None;
        }
        self.close();
        Some(())
    }

    /// Parses `${NAME}`, `${#NAME}` and `${NAME<op>word}` for the default,
    /// alternative, assign and error operators.
    fn braced(&mut self, field: u16, start: usize) -> Option<()> {
        self.open(self.k.expansion, field, start);
        self.b.leaf(
            self.k.tokens.get("${").copied()?,
            false,
            0,
            start,
            self.pos + 2,
        );
        self.pos += 2;
        let length = self.peek() == Some(b'#');
        if length {
            self.token("#", self.k.f_operator)?;
        }
        let name_start = self.pos;
        let lone_underscore =
            self.peek() == Some(b'_') && !self.peek_at(1).is_some_and(is_name_char);
        if !self.peek().is_some_and(is_name_start) || lone_underscore {
            return None;
        }
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        self.leaf(self.k.variable_name, true, 0, name_start, self.pos);
        if !length {
            let op = [":-", ":+", ":=", ":?", "-", "+", "=", "?"]
                .into_iter()
                .find(|op| self.starts_with(op));
            if let Some(op) = op {
                self.token(op, self.k.f_operator)?;
                let word_start = self.pos;
                // tree-sitter-bash splits operands with punctuation into
                // concatenations; letters and `_` stay one word.
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                {
                    self.pos += 1;
                }
                if self.pos > word_start {
                    if self.s[word_start..self.pos].iter().any(u8::is_ascii_digit) {
                        return None;
                    }
                    self.leaf(self.k.word, true, 0, word_start, self.pos);
                }
            }
        }
        self.token("}", 0)?;
        self.close();
        Some(())
    }

    /// Parses `$(( a ))` or `$(( a op b ))` with names and numbers.
    fn arithmetic(&mut self, field: u16) -> Option<()> {
        self.open(self.k.arithmetic_expansion, field, self.pos);
        self.token("$((", 0)?;
        self.skip_blank();
        let first = self.b.next_index();
        self.operand(0)?;
        self.skip_blank();
        // `%` is left out: tree-sitter-bash reads `1%a` as a name.
        let op = ["+", "-", "*", "/"].into_iter().find(|op| {
            self.starts_with(op)
                && !self.starts_with("**")
                && !self.starts_with("++")
                && !self.starts_with("--")
        });
        if let Some(op) = op {
            self.b
                .wrap(first, self.k.binary_expression, true, self.k.f_left);
            self.token(op, self.k.f_operator)?;
            self.skip_blank();
            self.operand(self.k.f_right)?;
            self.close();
            self.skip_blank();
        }
        self.token("))", 0)?;
        self.close();
        Some(())
    }

    fn operand(&mut self, field: u16) -> Option<()> {
        let start = self.pos;
        let c = self.peek()?;
        if self.starts_with("${") {
            return self.braced(field, start);
        }
        if is_name_start(c) {
            while self.peek().is_some_and(is_name_char) {
                self.pos += 1;
            }
            self.leaf(self.k.variable_name, true, field, start, self.pos);
        } else if c.is_ascii_digit() {
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.peek().is_some_and(is_name_char) {
                return None;
            }
            self.leaf(self.k.number, true, field, start, self.pos);
        } else {
            return None;
        }
        Some(())
    }

    /// Parses `[ … ]` or `[[ … ]]` with one unary or binary test.
    fn test_command(&mut self, field: u16, open: &str) -> Option<()> {
        let close = if open == "[" { "]" } else { "]]" };
        self.open(self.k.test_command, field, self.pos);
        self.token(open, 0)?;
        if !matches!(self.peek(), Some(b' ' | b'\t')) {
            return None;
        }
        self.skip_blank();
        if self.starts_with("! ") {
            self.open(self.k.unary_expression, 0, self.pos);
            self.token("!", self.k.f_operator)?;
            self.skip_blank();
            self.unary_test()?;
            self.close();
        } else if self.at_unary_operator() {
            self.unary_test()?;
        } else {
            self.binary_test(open == "[[")?;
        }
        self.skip_blank();
        if !(self.starts_with(close) && self.at_statement_end_after(close.len())) {
            return None;
        }
        self.token(close, 0)?;
        self.close();
        Some(())
    }

    fn at_statement_end_after(&self, len: usize) -> bool {
        matches!(
            self.s.get(self.pos + len),
            None | Some(b' ' | b'\t' | b'\n' | b';' | b')' | b'&' | b'|')
        )
    }

    fn at_unary_operator(&self) -> bool {
        let rest = &self.s[self.pos..];
        rest.len() >= 3 && rest[0] == b'-' && b"nzfdexsrwv".contains(&rest[1]) && rest[2] == b' '
    }

    fn unary_test(&mut self) -> Option<()> {
        if !self.at_unary_operator() {
            return None;
        }
        self.open(self.k.unary_expression, 0, self.pos);
        self.leaf(
            self.k.test_operator,
            true,
            self.k.f_operator,
            self.pos,
            self.pos + 2,
        );
        self.pos += 2;
        self.skip_blank();
        self.test_operand(0)?;
        self.close();
        Some(())
    }

    /// Parses an operand of a test: a double-quoted string, a `$name` or
    /// `${name…}` expansion, or a plain word of letters, digits, `_` and
    /// `.`. tree-sitter-bash reads other operands (`-x`, `/`, `a@b`, a
    /// keyword) as operators, globs or errors.
    fn test_operand(&mut self, field: u16) -> Option<()> {
        let start = self.pos;
        match self.peek()? {
            b'"' => {}
            b'$' if !matches!(self.peek_at(1), Some(b'(')) => {}
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let len = self.s[start..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
                    .count();
                if !matches!(self.s.get(start + len), Some(b' ' | b'\t'))
                    || is_special_word(&self.s[start..start + len])
                {
                    return None;
                }
            }
            _ => return None,
        }
        let first = self.b.next_index();
        self.word(field)?;
        // One part only: a concatenation may read otherwise.
        if self.b.kind_at(first) == Some(self.k.concatenation)
            || !matches!(self.peek(), Some(b' ' | b'\t'))
        {
            return None;
        }
        Some(())
    }

    fn binary_test(&mut self, double: bool) -> Option<()> {
        let first = self.b.next_index();
        self.test_operand(0)?;
        self.skip_blank();
        let rest = &self.s[self.pos..];
        let op_len = rest
            .iter()
            .take_while(|c| !matches!(c, b' ' | b'\t' | b'\n'))
            .count();
        let op = std::str::from_utf8(&rest[..op_len]).ok()?;
        self.b
            .wrap(first, self.k.binary_expression, true, self.k.f_left);
        match op {
            "=" | "==" | "!=" => self.token(op, self.k.f_operator)?,
            "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => {
                self.leaf(
                    self.k.test_operator,
                    true,
                    self.k.f_operator,
                    self.pos,
                    self.pos + op_len,
                );
                self.pos += op_len;
            }
            _ => return None,
        }
        self.skip_blank();
        if op == "==" || op == "!=" {
            // tree-sitter-bash types the right side of a pattern match by
            // its first character. After a letter, two or more letters make
            // a word and anything else a glob pattern. After a digit, `_`
            // or `/` it is a word. The rule matched all of 1,500 generated
            // operands of these characters, and other operands are left to
            // tree-sitter.
            let start = self.pos;
            let len = self.s[start..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/'))
                .count();
            let text = &self.s[start..start + len];
            if len == 0
                || !matches!(self.s.get(start + len), Some(b' ' | b'\t'))
                || text.iter().all(u8::is_ascii_digit)
            {
                return None;
            }
            let glob = text[0].is_ascii_alphabetic()
                && (len == 1 || !text.iter().all(u8::is_ascii_alphabetic));
            let kind = if glob {
                self.k.extglob_pattern
            } else {
                self.k.word
            };
            self.pos = start + len;
            self.leaf(kind, true, self.k.f_right, start, self.pos);
            self.close();
            return Some(());
        }
        // In `[[ ]]`, tree-sitter-bash reads some right sides of `=` as a
        // regex; a plain name or number is a word to it.
        if double && op == "=" {
            let len = self.s[self.pos..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if len == 0 || !matches!(self.s.get(self.pos + len), Some(b' ' | b'\t')) {
                return None;
            }
        }
        self.test_operand(self.k.f_right)?;
        self.close();
        Some(())
    }

    fn declaration(&mut self, field: u16, keyword: &str) -> Option<()> {
        self.open(self.k.declaration_command, field, self.pos);
        self.token(keyword, 0)?;
        loop {
            self.skip_blank();
            if self.at_statement_end() {
                break;
            }
            if self.at_assignment() {
                self.assignment(0)?;
                continue;
            }
            let start = self.pos;
            if !self.peek().is_some_and(is_name_start) {
                return None;
            }
            while self.peek().is_some_and(is_name_char) {
                self.pos += 1;
            }
            // `esac` may end an enclosing case, and `_` is special.
            if !self.delimited(self.pos) || matches!(&self.s[start..self.pos], b"esac" | b"_") {
                return None;
            }
            self.leaf(self.k.variable_name, true, 0, start, self.pos);
        }
        self.close();
        Some(())
    }

    /// Reads `then`, after the `;` or line break that ends a condition.
    fn then(&mut self, separator_field: u16) -> Option<()> {
        self.skip_blank();
        match self.peek()? {
            b';' => self.token(";", separator_field)?,
            b'\n' => {}
            _ => return None,
        }
        self.skip_blank_lines();
        if !self.at_word("then") {
            return None;
        }
        self.token("then", 0)
    }

    fn if_statement(&mut self, field: u16) -> Option<()> {
        const ENDS: &[&str] = &["elif", "else", "fi"];
        self.open(self.k.if_statement, field, self.pos);
        self.token("if", 0)?;
        self.skip_blank();
        self.and_or(self.k.f_condition)?;
        self.then(self.k.f_condition)?;
        self.statements(End::Words(ENDS))?;
        loop {
            if self.at_word("elif") {
                self.open(self.k.elif_clause, 0, self.pos);
                self.token("elif", 0)?;
                self.skip_blank();
                self.and_or(0)?;
                self.then(0)?;
                self.statements(End::Words(ENDS))?;
                self.close();
            } else if self.at_word("else") {
                self.open(self.k.else_clause, 0, self.pos);
                self.token("else", 0)?;
                self.statements(End::Words(&["fi"]))?;
                self.close();
            } else if self.at_word("fi") {
                self.token("fi", 0)?;
                self.close();
                return Some(());
            } else {
                return None;
            }
        }
    }

    fn for_statement(&mut self, field: u16) -> Option<()> {
        self.open(self.k.for_statement, field, self.pos);
        self.token("for", 0)?;
        self.skip_blank();
        let start = self.pos;
        if !self.peek().is_some_and(is_name_start) {
            return None;
        }
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        self.leaf(
            self.k.variable_name,
            true,
            self.k.f_variable,
            start,
            self.pos,
        );
        self.skip_blank();
        if !self.at_word("in") {
            return None;
        }
        self.token("in", 0)?;
        let mut values = 0;
        loop {
            self.skip_blank();
            if values == 0 && matches!(self.peek(), Some(b';' | b'\n')) {
                // `for x in; do` is an error to tree-sitter-bash.
                return None;
            }
            values += 1;
            match self.peek()? {
                b';' => {
                    self.token(";", 0)?;
                    break;
                }
                b'\n' => break,
                _ => self.word(self.k.f_value)?,
            }
        }
        self.skip_blank_lines();
        if !self.at_word("do") {
            return None;
        }
        self.open(self.k.do_group, self.k.f_body, self.pos);
        self.token("do", 0)?;
        self.statements(End::Words(&["done"]))?;
        if !self.at_word("done") {
            return None;
        }
        self.token("done", 0)?;
        self.close();
        self.close();
        Some(())
    }

    fn case_statement(&mut self, field: u16) -> Option<()> {
        self.open(self.k.case_statement, field, self.pos);
        self.token("case", 0)?;
        self.skip_blank();
        self.word(self.k.f_value)?;
        self.skip_blank();
        if !self.at_word("in") {
            return None;
        }
        self.token("in", 0)?;
        loop {
            self.skip_blank_lines();
            if self.at_word("esac") {
                self.token("esac", 0)?;
                self.close();
                return Some(());
            }
            self.open(self.k.case_item, 0, self.pos);
            let start = self.pos;
            let pattern = if self.starts_with("*)") {
                self.pos += 1;
                self.k.extglob_pattern
            } else {
                // Patterns with digits, `_` or punctuation may be glob
                // patterns to tree-sitter-bash, and `esac` ends the case.
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).ok()?;
                if self.pos == start || self.peek() != Some(b')') || RESERVED.contains(&text) {
                    return None;
                }
                self.k.word
            };
            if self.s[start..self.pos]
                .first()
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
            {
                return None;
            }
            self.leaf(pattern, true, self.k.f_value, start, self.pos);
            self.token(")", 0)?;
            if !matches!(self.peek(), Some(b' ' | b'\t' | b'\n')) {
                return None;
            }
            self.statements(End::CaseItem)?;
            self.skip_blank_lines();
            if self.starts_with(";;") {
                // The last item's `;;` fills no field.
                let after = self.pos + 2;
                let rest = &self.s[after..];
                let skipped = rest
                    .iter()
                    .take_while(|c| matches!(c, b' ' | b'\t' | b'\n'))
                    .count();
                let last = rest[skipped..].starts_with(b"esac")
                    && matches!(
                        rest.get(skipped + 4),
                        None | Some(b' ' | b'\t' | b'\n' | b';')
                    );
                let field = if last { 0 } else { self.k.f_termination };
                self.token(";;", field)?;
                if self.peek() == Some(b'&') {
                    return None;
                }
            } else if !self.at_word("esac") {
                return None;
            }
            self.close();
        }
    }

    fn function_definition(&mut self, field: u16, name_len: usize) -> Option<()> {
        let start = self.pos;
        // A name that is a reserved or declaration word, or is not a plain
        // shell name, is parsed otherwise by tree-sitter-bash.
        let name = &self.s[start..start + name_len];
        if !name.first().is_some_and(|c| is_name_start(*c))
            || !name.iter().all(|c| is_name_char(*c))
            || is_special_word(name)
        {
            return None;
        }
        self.open(self.k.function_definition, field, start);
        self.leaf(self.k.word, true, self.k.f_name, start, start + name_len);
        self.pos += name_len;
        self.token("(", 0)?;
        self.token(")", 0)?;
        self.skip_blank();
        if self.peek() != Some(b'{') {
            return None;
        }
        self.open(self.k.compound_statement, self.k.f_body, self.pos);
        self.token("{", 0)?;
        self.statements(End::Brace)?;
        if !self.at_word("}") {
            return None;
        }
        self.token("}", 0)?;
        self.close();
        self.close();
        Some(())
    }
}

/// Describes the first difference between two trees, if any.
fn difference(ours: Node, theirs: Node, src: &str) -> Option<String> {
    let same = ours.kind() == theirs.kind()
        && ours.is_named() == theirs.is_named()
        && ours.field_name() == theirs.field_name()
        && ours.byte_range() == theirs.byte_range();
    if !same {
        return Some(format!(
            "ours {:?} {:?} field {:?}, tree-sitter {:?} {:?} field {:?}, text {:?}",
            ours.kind(),
            ours.byte_range(),
            ours.field_name(),
            theirs.kind(),
            theirs.byte_range(),
            theirs.field_name(),
            src.get(theirs.byte_range()).unwrap_or(""),
        ));
    }
    let a: Vec<Node> = ours.children().collect();
    let b: Vec<Node> = theirs.children().collect();
    for (x, y) in a.iter().zip(&b) {
        if let Some(found) = difference(*x, *y, src) {
            return Some(found);
        }
    }
    (a.len() != b.len()).then(|| {
        format!(
            "children of {} {:?}: ours {:?}, tree-sitter {:?}",
            theirs.kind(),
            theirs.byte_range(),
            a,
            b
        )
    })
}

/// Parses `script` with this parser and with tree-sitter, and returns
/// whether this one read it, or the first difference between the trees.
pub fn compare(script: &str, parser: &mut tree_sitter::Parser) -> Result<bool, String> {
    let Some(ours) = parse(script) else {
        return Ok(false);
    };
    let theirs = parse_with_tree_sitter(parser, script).expect("tree-sitter parses");
    match difference(ours.root_node(), theirs.root_node(), script) {
        None => Ok(true),
        Some(found) => Err(format!("{found}\nscript:\n{script}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::shell::{blank_expressions, new_parser};
    use crate::yaml;

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    fn run_scripts(node: &yaml::Node, out: &mut Vec<String>) {
        match node {
            yaml::Node::Mapping(entries, _) => {
                for (key, value) in entries {
                    if key.value == "run"
                        && let Some(script) = value.as_str()
                    {
                        out.push(blank_expressions(script));
                    }
                    run_scripts(value, out);
                }
            }
            yaml::Node::Sequence(items, _) => items.iter().for_each(|i| run_scripts(i, out)),
            _ => {}
        }
    }

    /// Returns a step script of bench/lint/gen_workflow.py.
    fn generated(job: usize, index: usize) -> String {
        let mut lines = vec![
            "set -euo pipefail".to_string(),
            format!("echo \"STEP_{job}_{index}=done\" >> \"$GITHUB_ENV\""),
            format!("count_{index}=0"),
            format!("for item in alpha beta gamma; do count_{index}=$((count_{index} + 1)); done"),
            "if [ \"$GITHUB_REF_NAME\" = main ]; then target=prod; else target=stage; fi"
                .to_string(),
            "echo \"deploying $SERVICE to $target with ${EXTRA_FLAGS:-none}\"".to_string(),
            "render() {".to_string(),
            "  local name=$1".to_string(),
            "  printf \"%s-%s\\n\" \"$name\" \"$IMAGE_TAG\"".to_string(),
            "}".to_string(),
            "render \"svc\"".to_string(),
            "echo \"................ $STEP_LEVEL ${#target}\"".to_string(),
        ];
        if index > 0 {
            lines.push(format!("echo \"previous: $STEP_{job}_{}\"", index - 1));
        }
        if index.is_multiple_of(7) {
            lines.push("case \"$target\" in prod) region=eu ;; *) region=us ;; esac".to_string());
            lines.push("echo \"$region\"".to_string());
        }
        lines.join("\n")
    }

    /// Returns a step script of bench/gen_bash_steps.py.
    fn scaling(job: usize, step: usize) -> String {
        let mut lines = vec![
            "set -euo pipefail".to_string(),
            format!("echo \"BUILD_{step}=ok\" >> \"$GITHUB_ENV\""),
            "mode=\"${DEPLOY_MODE:-rolling}\"".to_string(),
            "total=0".to_string(),
            "for part in api web worker; do".to_string(),
            "  total=$((total + ${#part}))".to_string(),
            "  echo \"$part in $REGION ($mode)\"".to_string(),
            "done".to_string(),
            "if [[ \"$GITHUB_REF\" == refs/heads/main ]]; then".to_string(),
            "  echo \"image $REGISTRY/app:$IMAGE_TAG step $STEP_NAME\"".to_string(),
            "fi".to_string(),
            "tag_for() {".to_string(),
            "  local name=\"$1\"".to_string(),
            "  printf '%s:%s\\n' \"$name\" \"$IMAGE_TAG\"".to_string(),
            "}".to_string(),
            format!("tag_for \"job{job}-step{step}\""),
        ];
        if step > 0 {
            lines.push(format!("echo \"before me: $BUILD_{}\"", step - 1));
        }
        if step % 10 == 9 {
            lines.push("echo \"unset on purpose: $READY_HOST\"".to_string());
        }
        lines.join("\n")
    }

    fn scripts() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        files(&root.join("tests/fixtures"), &mut paths);
        files(&root.join("../../examples"), &mut paths);
        // The shared corpus of real workflows, when it is present.
        files(&root.join("../../../shared/corpus"), &mut paths);
        let mut out = Vec::new();
        for path in paths {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match path.extension().and_then(|e| e.to_str()) {
                Some("sh") => out.push(text),
                Some("yml" | "yaml") => {
                    for doc in yaml::parse(&text).unwrap_or_default() {
                        run_scripts(&doc, &mut out);
                    }
                }
                _ => {}
            }
        }
        for index in 0..14 {
            out.push(generated(index % 6, index));
            out.push(scaling(index % 3, index));
        }
        out
    }

    /// A small deterministic generator for mutations.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound.max(1) as u64) as usize
        }
    }

    /// Returns `script` with one small edit: bytes removed, a token
    /// inserted or a line repeated.
    fn mutate(script: &str, rng: &mut XorShift) -> String {
        const TOKENS: &[&str] = &[
            "\"", "'", "$", "${", "}", "(", ")", ";", ";;", "\n", " ", "#", "=", "|", "&&", "x",
            "1", "\\", "*", "$(", "[ ", " ]", "if ", "fi", "-n ", " == ", "local ", ">", "2>&1",
        ];
        let bytes = script.as_bytes();
        let at = rng.next(bytes.len() + 1);
        let mut out = bytes.to_vec();
        match rng.next(3) {
            0 if !bytes.is_empty() => {
                let len = 1 + rng.next(3);
                let end = (at + len).min(out.len());
                out.drain(at.min(end)..end);
            }
            1 => {
                let token = TOKENS[rng.next(TOKENS.len())];
                out.splice(at..at, token.bytes());
            }
            _ => {
                let lines: Vec<&str> = script.lines().collect();
                if let Some(line) = lines.get(rng.next(lines.len())) {
                    out.extend_from_slice(b"\n");
                    out.extend_from_slice(line.as_bytes());
                }
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Compares both parsers on every script, fails on the first
    /// difference, and returns how many scripts the fast parser read.
    fn assert_trees_agree(scripts: impl IntoIterator<Item = String>) -> usize {
        let mut parser = new_parser().expect("grammar loads");
        let mut accepted = 0;
        let mut failures = Vec::new();
        for script in scripts {
            match compare(&script, &mut parser) {
                Ok(true) => accepted += 1,
                Ok(false) => {}
                Err(found) => failures.push(found),
            }
        }
        assert!(
            failures.is_empty(),
            "{} differences, first:\n{}",
            failures.len(),
            failures[0]
        );
        accepted
    }

    #[test]
    fn parse_matches_tree_sitter_on_real_scripts() {
        let scripts = scripts();
        let count = scripts.len();
        let accepted = assert_trees_agree(scripts);
        // Every generated step script is within the part read here.
        for index in 0..14 {
            assert!(
                parse(&generated(index % 6, index)).is_some(),
                "step {index}"
            );
            assert!(
                parse(&scaling(index % 3, index)).is_some(),
                "scaling step {index}"
            );
        }
        eprintln!("fast parser read {accepted} of {count} scripts");
    }

    #[test]
    fn parse_matches_tree_sitter_on_mutations() {
        // GREENLIGHT_MUTATIONS=N SEED=S tries N mutations of each script.
        let rounds = std::env::var("GREENLIGHT_MUTATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(6);
        let seed = std::env::var("SEED")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut rng = XorShift(seed);
        let mut mutated = Vec::new();
        for script in scripts() {
            for _ in 0..rounds {
                let mut edited = mutate(&script, &mut rng);
                for _ in 0..rng.next(3) {
                    edited = mutate(&edited, &mut rng);
                }
                mutated.push(edited);
            }
        }
        let tried = mutated.len();
        let accepted = assert_trees_agree(mutated);
        eprintln!("fast parser read {accepted} of {tried} mutated scripts");
    }

    /// Scripts where tree-sitter-bash builds an unusual tree (an error, a
    /// regex, a split word), found by an adversarial search: each must be
    /// left to tree-sitter, or parsed to the same tree.
    #[test]
    fn agrees_on_scripts_found_by_search() {
        let mut parser = new_parser().expect("grammar loads");
        for script in [
            "#\0\n",
            "a '\0'\n",
            "a \"\0\"\n",
            "a \"\r\"\n",
            "if() { a; }\n",
            "while() { a; }\n",
            "for() { a; }\n",
            "!() { a; }\n",
            "[() { a; }\n",
            "local() { a; }\n",
            "unset() { a; }\n",
            "a@() { a; }\n",
            "a%() { a; }\n",
            "1() { a; }\n",
            "[if = a ]\n",
            "[local -gt a ]\n",
            "[a@ = a ]\n",
            "[a= = a ]\n",
            "[ -1 -eq 1 ]\n",
            "[ +a = b ]\n",
            "[ a = -$a ]\n",
            "[ --x = b ]\n",
            "[ - = b ]\n",
            "[ a = - ]\n",
            "[ -n - ]\n",
            "[ -n % ]\n",
            "[ -n / ]\n",
            "[[ a = . ]]\n",
            "[[ a = b/c ]]\n",
            "[[ a = ${b} ]]\n",
            "[[ a = ' ' ]]\n",
            "[[ a = b\"\" ]]\n",
            "_=a\n",
            "declare _=a\n",
            "a ${_-}\n",
            "a ${a-b-}\n",
            "a ${a+b@}\n",
            "a ${a:-b%}\n",
            "a $((1%a))\n",
            "a 0>b\n",
            "a 0<b\n",
            "a - 2>b\n",
            "a \"\"\"\"$0\n",
            "a b\"\"$1\n",
            "a=b\"\"$1\n",
            "for a in; do b; done\n",
            "for a in\ndo b\ndone\n",
            "case a in esac) b;; esac\n",
            "case a in b_) c;; esac\n",
            "case a in b) c esac;; esac\n",
        ] {
            assert!(compare(script, &mut parser).is_ok(), "{script:?}");
        }
    }

    #[test]
    fn declines_what_it_does_not_read() {
        for script in [
            "cat <<EOF\nx\nEOF\n",
            "echo `date`",
            "ls *.txt",
            "aws s3 cp a \\\n  b",
            "while true; do :; done",
            "(cd x && make)",
            "echo $'a\\n'",
            "sleep 1 &",
            "echo ${X/a/b}",
            "",
        ] {
            assert!(parse(script).is_none(), "{script:?}");
        }
    }
}
