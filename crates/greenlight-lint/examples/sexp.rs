//! Prints tree-sitter-bash's syntax tree of a script file, for writing
//! analysis code: `cargo run --example sexp -- script.sh`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: sexp SCRIPT");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {path}: {err}");
            return ExitCode::from(2);
        }
    };
    let Some(mut parser) = greenlight_lint::shell::new_parser() else {
        eprintln!("error: the bash grammar failed to load");
        return ExitCode::from(2);
    };
    match parser.parse(&text, None) {
        Some(tree) => {
            println!("{}", tree.root_node().to_sexp());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: tree-sitter returned no tree for {path}");
            ExitCode::from(2)
        }
    }
}
