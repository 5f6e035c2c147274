//! Standalone runner of the linter, for benchmarks and manual checks
//! before the `greenlight` binary is built: `cargo run --example lint --
//! [--image CONTAINER=REPOSITORY]... [LINT ARGS]`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use greenlight_lint::{ImageExpectation, LintArgs, run};

#[derive(Parser)]
struct Cli {
    /// A container and its image repository, e.g. mcp-runner=afu9/mcp-runner.
    #[arg(long = "image", value_name = "CONTAINER=REPOSITORY")]
    images: Vec<String>,

    #[command(flatten)]
    lint: LintArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut images = Vec::new();
    for image in &cli.images {
        let Some((container, repository)) = image.split_once('=') else {
            eprintln!("error: invalid --image `{image}`: expected CONTAINER=REPOSITORY");
            return ExitCode::from(2);
        };
        images.push(ImageExpectation {
            container: container.to_string(),
            repository: repository.to_string(),
        });
    }
    let color = std::io::stdout().is_terminal();
    let mut stdout = std::io::stdout().lock();
    match run(&cli.lint, images, color, &mut stdout) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: cannot write the report: {err}");
            ExitCode::from(2)
        }
    }
}
