//! Compares greenlight's bash parser with tree-sitter-bash on script
//! files: `cargo run --example fast_parser -- script.sh…`. Prints, for
//! each file, whether the fast parser read it and whether both trees
//! agree; exits 1 on the first disagreement.

use std::process::ExitCode;

use greenlight_lint::shell::{fast, new_parser};

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: fast_parser SCRIPT...");
        return ExitCode::from(2);
    }
    let Some(mut parser) = new_parser() else {
        eprintln!("error: the bash grammar failed to load");
        return ExitCode::from(2);
    };
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("error: cannot read {path}: {err}");
                return ExitCode::from(2);
            }
        };
        match fast::compare(&text, &mut parser) {
            Ok(true) => println!("{path}: same tree"),
            Ok(false) => println!("{path}: left to tree-sitter"),
            Err(difference) => {
                println!("{path}: DIFFERENT: {difference}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
