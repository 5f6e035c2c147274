//! Command-line definition: one place for flags, help, completions and the
//! man page.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::smoke::ConnectTo;

const EXIT_CODES: &str = "\
Exit codes:
  0  GREEN, or no lint findings
  1  RED, or lint findings
  2  usage or input error; nothing was changed";

/// Rotation-safe, fail-closed, verified Amazon ECS deploys, and a linter
/// for the GitHub Actions workflows that run them.
#[derive(Debug, Parser)]
#[command(
    name = "greenlight",
    version = env!("GREENLIGHT_VERSION"),
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Configuration file [default: ./greenlight.toml]
    #[arg(long, global = true, env = "GREENLIGHT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to colour lint findings, the plan diff and logs: auto colours
    /// only a terminal and honours NO_COLOR
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint workflows, composite actions and shell scripts (offline)
    #[command(after_help = "Examples:
  greenlight lint
  greenlight lint .github/workflows/deploy.yml --format github
  greenlight lint --config greenlight.toml --format sarif > lint.sarif

Exit codes: 0 no findings, 1 findings, 2 usage error or unreadable input")]
    Lint(greenlight_lint::LintArgs),

    /// Render a described task definition into a registrable one (offline)
    #[command(after_help = "Examples:
  aws ecs describe-task-definition --task-definition web > described.json
  greenlight render --input described.json --tag 3f9c2e1 \\
      --secret-arn smoke_key=arn:aws:secretsmanager:eu-central-1:123456789012:secret:app/stage/smoke-AbCdEf")]
    Render(RenderArgs),

    /// Show what a deploy would change, without changing anything
    #[command(after_help = "Examples:
  greenlight plan --env staging --tag 3f9c2e1")]
    Plan(PlanArgs),

    /// Resolve, render, register, roll out, then verify
    #[command(after_help = "Examples:
  greenlight deploy --env staging --tag 3f9c2e1
  DEPLOY_ENV=staging greenlight deploy --tag \"${GITHUB_SHA::7}\" --format json")]
    Deploy(DeployArgs),

    /// Check the definition of done on what is live now
    #[command(after_help = "Examples:
  greenlight verify --env staging
  greenlight verify --env staging --tag 3f9c2e1 --skip-gates")]
    Verify(VerifyArgs),

    /// Check that every identifier a run would use belongs to its environment
    #[command(after_help = "Examples:
  greenlight guard --env staging --tag 3f9c2e1")]
    Guard(GuardArgs),

    /// Write a starting greenlight.toml from a live service (read-only)
    #[command(after_help = "Examples:
  greenlight init --cluster afu9-cluster --service afu9-control-center-staging
  greenlight init --cluster web --service web-staging --env staging --region eu-west-1 \\
      --output greenlight.toml --force

Reads the service and its task definition, writes their containers, image
repositories, registry and secret names, and marks with TODO what it cannot
know: hosts, the smoke request and the other environments. An existing file
is kept unless --force is given.")]
    Init(InitArgs),

    /// Print a shell completion script on stdout
    #[command(after_help = "Examples:
  greenlight completions bash > ~/.local/share/bash-completion/completions/greenlight
  greenlight completions zsh > \"${fpath[1]}/_greenlight\"
  greenlight completions fish > ~/.config/fish/completions/greenlight.fish")]
    Completions(CompletionsArgs),

    /// Print the man page (roff) on stdout, or write one page per command
    #[command(after_help = "Examples:
  greenlight man | man -l -
  greenlight man --output-dir ~/.local/share/man/man1")]
    Man(ManArgs),

    /// Print the JSON Schema of greenlight.toml on stdout
    #[command(after_help = "Examples:
  greenlight schema > greenlight.schema.json

Editors that use taplo (Even Better TOML) validate and complete the file
when its first line is:
  #:schema ./greenlight.schema.json")]
    Schema,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// ECS cluster of the live service
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: String,

    /// Live ECS service to read
    #[arg(long, value_name = "SERVICE")]
    pub service: String,

    /// Name of the environment the service belongs to
    #[arg(long = "env", value_name = "NAME", default_value = "staging")]
    pub env: String,

    /// AWS region of the service [default: the SDK's region chain, such as AWS_REGION]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// File to write
    #[arg(long, short, value_name = "FILE", default_value = "greenlight.toml")]
    pub output: PathBuf,

    /// Overwrite the output file when it exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to write the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write greenlight.1 and greenlight-COMMAND.1 into this folder instead of printing greenlight.1
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Target environment, as named in the configuration
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Described task definition (JSON from describe-task-definition); - for stdin
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub input: PathBuf,

    /// Image tag of this build
    #[arg(long, value_name = "TAG")]
    pub tag: String,

    /// Resolved ARN of a configured secret, as KEY=ARN (repeatable)
    #[arg(long = "secret-arn", value_name = "KEY=ARN")]
    pub secret_arns: Vec<String>,

    /// Write the result here instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct SmokeArgs {
    /// Send smoke requests for HOST:PORT to TARGET_HOST:TARGET_PORT instead (as curl --connect-to)
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:TARGET_HOST:TARGET_PORT",
        env = "GREENLIGHT_CONNECT_TO",
        value_delimiter = ','
    )]
    pub connect_to: Vec<ConnectTo>,

    /// PEM file with extra CA certificates to trust for the smoke request
    #[arg(long = "ca-file", value_name = "FILE", env = "GREENLIGHT_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Send the smoke request over plain HTTP (only to loopback addresses)
    #[arg(long = "plain-http")]
    pub plain_http: bool,

    /// How long to retry the smoke request, like 30s [default: smoke.deadline of the configuration]
    #[arg(long = "smoke-deadline", value_name = "DURATION", value_parser = parse_duration)]
    pub smoke_deadline: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Image tag of this build [default: the tag the service runs now]
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Image tag of this build
    #[arg(long, value_name = "TAG")]
    pub tag: String,

    #[command(flatten)]
    pub smoke: SmokeArgs,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// How long to wait for the rollout, like 15m or 90s [default: from the configuration]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub rollout_deadline: Option<Duration>,

    /// Do not run the configured gate commands
    #[arg(long)]
    pub skip_gates: bool,

    /// When the rollout or verification fails, return the service to the task definition it ran before, and wait for that
    #[arg(long)]
    pub rollback_on_failure: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Image tag every configured container must run [default: the tag of the first configured container]
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    #[command(flatten)]
    pub smoke: SmokeArgs,

    /// Report format on stdout
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Do not run the configured gate commands
    #[arg(long)]
    pub skip_gates: bool,
}

#[derive(Debug, Args)]
pub struct GuardArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Image tag of this build [default: the tag the service runs now]
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Format of the list of checked values on stdout
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    greenlight_core::config::parse_duration(text)
}
