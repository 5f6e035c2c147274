//! The `greenlight` binary: parses the command line, sets up logging, runs
//! one command and maps its outcome to the documented exit code.

mod aws;
mod cli;
mod commands;
mod context;
mod deploy;
mod gates;
mod generate;
mod guard_cmd;
mod init;
mod interrupt;
mod lint_cmd;
mod progress;
mod smoke;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, ColorChoice, Command};
use crate::context::InputError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout with exit 0, and usage
            // errors to stderr with exit 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(
        cli.verbose,
        cli.quiet,
        use_color(cli.color, &std::io::stderr()),
    );
    progress::set_quiet(cli.quiet);

    let color = use_color(cli.color, &std::io::stdout());

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let config = cli.config.as_deref();
    let outcome = runtime.block_on(async {
        match &cli.command {
            Command::Lint(args) => lint_cmd::lint_command(config, args, color),
            Command::Render(args) => commands::render_command(config, args),
            Command::Plan(args) => commands::plan_command(config, args, color).await,
            Command::Deploy(args) => deploy::deploy_command(config, args).await,
            Command::Verify(args) => commands::verify_command(config, args).await,
            Command::Guard(args) => guard_cmd::guard_command(config, args).await,
            Command::Init(args) => init::init_command(args).await,
            Command::Completions(args) => generate::completions_command(args),
            Command::Man(args) => generate::man_command(args),
            Command::Schema => generate::schema_command(),
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let input = error.downcast_ref::<InputError>().is_some();
            eprintln!("error: {error:#}");
            ExitCode::from(if input { 2 } else { 1 })
        }
    }
}

/// Decides whether a stream gets colour. `--color always` and `never` win;
/// `auto` colours a terminal unless NO_COLOR is set to a non-empty value
/// (see no-color.org) or TERM is `dumb`.
fn use_color(choice: ColorChoice, stream: &impl IsTerminal) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
            !no_color && !dumb && stream.is_terminal()
        }
    }
}

/// Sends logs to stderr. The SDK's own crates stay at `warn` below `-vvv`
/// because at trace level they print request and response bodies.
fn init_logging(verbose: u8, quiet: bool, color: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let sdk_level = if verbose >= 3 { "debug" } else { "warn" };
    let filter = EnvFilter::new(format!(
        "{level},aws_smithy_runtime={sdk_level},aws_smithy_http_client={sdk_level},\
         aws_config={sdk_level},aws_sdk_ecs={sdk_level},aws_sdk_secretsmanager={sdk_level},\
         aws_sdk_sts={sdk_level},hyper={sdk_level},rustls={sdk_level}"
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_ansi(color)
        .with_target(false)
        .init();
}
