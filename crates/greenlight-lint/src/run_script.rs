//! `run:` scripts prepared for analysis: shell, parse tree and a map from
//! script bytes back to the workflow file.

use std::sync::OnceLock;

use tree_sitter::Parser;

use crate::model::Step;
use crate::scalar_map::value_offsets;
use crate::shell;
use crate::shell::syntax::Syntax;
use crate::source::SourceFile;
use crate::yaml::Scalar;

/// The shell a `run:` step runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    /// bash or sh, with whether the shell command line enables nounset.
    Posix { nounset: bool },
    /// PowerShell, Python, cmd or a custom command: not analyzed.
    Other,
}

/// Resolves a step's shell from `shell:`, the job's and the workflow's
/// `defaults.run.shell`, and the runner's default (bash, or PowerShell on
/// Windows).
pub fn resolve_shell(
    step: Option<&Scalar>,
    job_default: Option<&Scalar>,
    workflow_default: Option<&Scalar>,
    windows: bool,
) -> ShellKind {
    match step.or(job_default).or(workflow_default) {
        Some(shell) => classify_shell(&shell.value),
        None if windows => ShellKind::Other,
        None => ShellKind::Posix { nounset: false },
    }
}

/// Classifies a `shell:` value such as `bash`, `sh -eu {0}` or `pwsh`.
pub fn classify_shell(value: &str) -> ShellKind {
    let words: Vec<&str> = value.split_whitespace().collect();
    let Some(program) = words.first() else {
        return ShellKind::Other;
    };
    let program = program.rsplit('/').next().unwrap_or(program);
    if program != "bash" && program != "sh" {
        return ShellKind::Other;
    }
    let mut nounset = false;
    for (i, word) in words.iter().enumerate().skip(1) {
        if *word == "-o" && words.get(i + 1) == Some(&"nounset") {
            nounset = true;
        } else if let Some(flags) = word.strip_prefix('-')
            && !flags.starts_with('-')
            && flags.contains('u')
        {
            nounset = true;
        }
    }
    ShellKind::Posix { nounset }
}

/// Checks whether a script can read a variable. bash reads variables
/// only through `$`, arithmetic (`((`, `let`) and `-v`
/// tests. Scripts without any of them are not parsed, which saves most of
/// the time on workflows of short commands.
fn may_read_variables(script: &str) -> bool {
    script.contains('$')
        || script.contains("((")
        || script.contains("let ")
        || script.contains("-v")
}

/// Checks whether a script names the `$GITHUB_ENV` file, directly or through
/// `${{ github.env }}`.
pub fn writes_env_file(script: &str) -> bool {
    script.contains("GITHUB_ENV") || script.contains("github.env")
}

/// A parsed `run:` script of one step.
pub struct RunScript {
    pub step_index: usize,
    /// The script with `${{ … }}` blanked to dots of the same length.
    pub script: String,
    /// The script as written; byte offsets equal those of `script`.
    pub original: String,
    /// The `run:` scalar, to map script bytes back to the file.
    run: Scalar,
    /// Byte offset in the workflow file of each script byte, plus the
    /// end. Computed on first use, because most scripts have no finding.
    offsets: OnceLock<Vec<usize>>,
    pub tree: Option<Syntax>,
    pub shell: ShellKind,
}

impl RunScript {
    /// Prepares the `run:` of `step`, or returns `None` when it has none.
    pub fn prepare(step: &Step, shell: ShellKind, parser: &mut Parser) -> Option<Self> {
        let run = step.run.as_ref()?;
        let script = shell::blank_expressions(&run.value);
        let tree = match shell {
            ShellKind::Posix { .. }
                if may_read_variables(&script) || writes_env_file(&run.value) =>
            {
                shell::parse(parser, &script)
            }
            _ => None,
        };
        Some(RunScript {
            step_index: step.index,
            script,
            original: run.value.clone(),
            run: run.clone(),
            offsets: OnceLock::new(),
            tree,
            shell,
        })
    }

    /// Maps a byte range of the script to a byte range of `file`, the
    /// file the script was read from.
    pub fn source_range(&self, file: &SourceFile, start: usize, end: usize) -> (usize, usize) {
        let offsets = self
            .offsets
            .get_or_init(|| value_offsets(&file.text, &self.run));
        let at = |i: usize| offsets.get(i).copied().unwrap_or(0);
        let source_start = at(start);
        let source_end = if end > start {
            at(end - 1) + 1
        } else {
            source_start
        };
        (source_start, source_end.max(source_start))
    }
}
