//! Runs the repository's gate commands, without a shell, each bounded by
//! its timeout, keeping the tail of their output for the report.

use std::path::Path;
use std::process::Stdio;

use greenlight_core::config::Gate;
use greenlight_core::verify::GateOutcome;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Lines of output kept for a failed gate.
const TAIL_LINES: usize = 20;

/// Runs one gate from `base_dir` (the configuration file's folder).
pub async fn run_gate(gate: &Gate, base_dir: &Path) -> GateOutcome {
    let dir = match &gate.dir {
        Some(dir) => base_dir.join(dir),
        None => base_dir.to_path_buf(),
    };
    let mut outcome = GateOutcome {
        name: gate.name.clone(),
        exit_code: None,
        error: None,
        output_tail: Vec::new(),
    };
    let Some((program, args)) = gate.command.split_first() else {
        outcome.error = Some("the gate has no command".into());
        return outcome;
    };
    tracing::info!(gate = %gate.name, dir = %dir.display(), "running gate");
    let child = Command::new(program)
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            outcome.error = Some(format!(
                "cannot start `{}` in {}: {error}",
                gate.command.join(" "),
                dir.display()
            ));
            return outcome;
        }
    };

    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // Both pipes are drained at once, so a gate that fills one of them
    // cannot block on it while the other is read.
    let collect = async {
        let read_out = async {
            let mut buffer = Vec::new();
            if let Some(pipe) = stdout.as_mut() {
                let _ = pipe.read_to_end(&mut buffer).await;
            }
            buffer
        };
        let read_err = async {
            let mut buffer = Vec::new();
            if let Some(pipe) = stderr.as_mut() {
                let _ = pipe.read_to_end(&mut buffer).await;
            }
            buffer
        };
        let (out, err) = tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (out, err, status)
    };
    match tokio::time::timeout(gate.timeout, collect).await {
        Err(_) => {
            outcome.error = Some(format!(
                "timed out after {:.0} s",
                gate.timeout.as_secs_f64()
            ));
        }
        Ok((out, err, status)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let start = lines.len().saturating_sub(TAIL_LINES);
            outcome.output_tail = lines[start..].to_vec();
            match status {
                Ok(status) => outcome.exit_code = status.code(),
                Err(error) => outcome.error = Some(format!("waiting for the gate failed: {error}")),
            }
        }
    }
    outcome
}
