//! `greenlight completions`, `greenlight man` and `greenlight schema`:
//! files generated from the same definitions that parse the command line
//! and the configuration, so they cannot drift from them.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use greenlight_core::config::Config;

use crate::cli::{Cli, CompletionsArgs, ManArgs};

/// Writes the completion script for one shell to stdout.
pub fn completions_command(args: &CompletionsArgs) -> Result<u8> {
    let mut command = Cli::command();
    // clap_complete panics when its writer fails, as stdout does when a
    // pipe closes early, so the script is built in memory first.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "greenlight", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(0)
}

/// Prints `greenlight.1`, or writes a page per command into a folder.
pub fn man_command(args: &ManArgs) -> Result<u8> {
    let command = Cli::command();
    match &args.output_dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
        Some(dir) => write_man_pages(command, dir)?,
    }
    Ok(0)
}

/// Writes `greenlight.1` and `greenlight-<command>.1` for every subcommand.
fn write_man_pages(command: clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    eprintln!("wrote man pages into {}", dir.display());
    Ok(())
}

/// Returns the JSON Schema of `greenlight.toml`, pretty-printed with a
/// final newline.
///
/// It uses draft-07, not schemars' default 2020-12, because taplo (the
/// TOML language server behind editor completion) reads older drafts and
/// their `definitions`, not `$defs`.
pub fn config_schema() -> Result<String> {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<Config>();
    let mut text = serde_json::to_string_pretty(&schema).context("cannot serialize the schema")?;
    text.push('\n');
    Ok(text)
}

/// Prints the JSON Schema of `greenlight.toml`.
pub fn schema_command() -> Result<u8> {
    std::io::stdout().write_all(config_schema()?.as_bytes())?;
    Ok(0)
}
