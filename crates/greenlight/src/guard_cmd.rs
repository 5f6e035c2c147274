//! `greenlight guard`: the environment guard alone, with a list of what
//! it checked.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use greenlight_core::guard::collect_json_strings;

use crate::cli::GuardArgs;
use crate::commands::prepare;
use crate::context::load_config;

/// `greenlight guard`: runs the read-only checks and lists what was checked.
pub async fn guard_command(config_path: Option<&Path>, args: &GuardArgs) -> Result<u8> {
    let loaded = load_config(config_path)?;
    let prepared = prepare(&loaded, args.env.env.as_deref(), args.tag.as_deref()).await?;
    let values = collect_json_strings(&prepared.rendered.task_definition, "taskDefinition");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "guard {}: passed; checked the configuration, --tag, the smoke URL, {} string(s) of the \
         rendered task definition{}",
        prepared.env_name,
        values.len(),
        if prepared.env.account_id.is_some() {
            " and the caller's account"
        } else {
            ""
        }
    )?;
    Ok(0)
}

