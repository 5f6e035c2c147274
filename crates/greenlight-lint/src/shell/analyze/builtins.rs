//! Builtins that set variables, change options or end the script.

use crate::shell::syntax::Node;

use super::{Analyzer, State};
use crate::shell::{is_name, literal};

impl<'t> Analyzer<'_, 't> {
    /// Applies the effects of commands that set variables or end the
    /// script.
    pub(super) fn builtin(&mut self, name: &str, args: &[Node<'t>], st: &mut State) {
        let known = matches!(
            name,
            "exit"
                | "return"
                | "set"
                | "shift"
                | "source"
                | "."
                | "eval"
                | "read"
                | "mapfile"
                | "readarray"
                | "printf"
                | "getopts"
                | "let"
                | "cd"
        );
        if !known && !self.functions.contains_key(name) {
            // Most commands (`echo`, `docker`, `aws`) change no variable.
            return;
        }
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
            // bash sets OLDPWD on the first `cd`; before it, OLDPWD is unset.
            "cd" => self.define("OLDPWD", st),
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

    pub(super) fn set_builtin(&mut self, words: &[Option<String>], st: &mut State) {
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

    pub(super) fn read_builtin(&mut self, words: &[Option<String>], st: &mut State) {
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
