//! The command channel: a local program run directly (no shell) with the notification's JSON
//! on its standard input, in the plan's folder, with an environment cleared of everything but
//! a fixed `PATH` — so no secret of cutover's (an API token, a webhook URL) reaches it — and
//! killed if it has not finished within 10 seconds.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::delivery_error::DeliveryError;

/// How long a command may take, whatever the delivery's deadline leaves.
pub(crate) const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// The only environment variable a command gets: where to find programs.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) async fn run(
    words: &[String],
    json: &str,
    dir: &Path,
    deadline: Instant,
) -> Result<(), DeliveryError> {
    let Some((program, args)) = words.split_first() else {
        return Err(DeliveryError::Spawn {
            program: String::new(),
            reason: "no program named".to_owned(),
        });
    };
    let deadline = deadline.min(Instant::now() + COMMAND_LIMIT);
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if dir.is_dir() {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(|e| DeliveryError::Spawn {
        program: program.clone(),
        reason: e.to_string(),
    })?;
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let work = async {
        if let Some(mut input) = stdin.take() {
            // A program that does not read its input is its own business.
            let _ = input.write_all(json.as_bytes()).await;
            let _ = input.shutdown().await;
        }
        let mut text = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let _ = err.take(16 * 1024).read_to_end(&mut text).await;
        }
        let status = child.wait().await;
        (status, text)
    };
    let outcome = tokio::time::timeout_at(deadline, work).await;
    match outcome {
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), stderr)) => Err(DeliveryError::Exited {
            program: program.clone(),
            status: status.to_string(),
            stderr: first_line(&stderr),
        }),
        Ok((Err(e), _)) => Err(DeliveryError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        }),
        Err(_) => {
            // `kill_on_drop` would too, when `child` goes; now is sooner.
            let _ = child.start_kill();
            Err(DeliveryError::Killed {
                program: program.clone(),
            })
        }
    }
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    super::notification::shorten(line.trim(), 200)
}
