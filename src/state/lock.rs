//! Who holds a plan's run lock, and whether that process still exists.

use std::fmt;

use jiff::Timestamp;

/// The process holding (or asking for) the run lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub(crate) host: String,
    pub(crate) pid: u32,
    /// The kernel's start time of the process (from `/proc/<pid>/stat`), so a reused pid is
    /// not mistaken for the holder.
    pub(crate) process_start: Option<String>,
    pub(crate) started: Timestamp,
    pub(crate) command: String,
}

impl Holder {
    pub(crate) fn current(command: &str, now: Timestamp) -> Self {
        let pid = std::process::id();
        Self {
            host: host_name(),
            pid,
            process_start: process_start(pid),
            started: now,
            command: command.to_owned(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`cutover {}` (pid {} on {}, since {})",
            self.command, self.pid, self.host, self.started
        )
    }
}

/// A lock is stale when its holder ran on this host and is gone (or its pid now belongs to
/// another process). A holder on another host cannot be checked from here: only `cutover unlock
/// --force` removes it.
pub(crate) fn is_stale(holder: &Holder) -> bool {
    if holder.host != host_name() {
        return false;
    }
    match process_start(holder.pid) {
        None => true,
        Some(start) => holder.process_start.as_ref().is_some_and(|s| *s != start),
    }
}

/// The machine's name, as the kernel knows it.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The OS user running cutover: `USER` or `LOGNAME`, else the name `/etc/passwd` gives this
/// process's user id (cron and CI often set neither variable).
pub(crate) fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn user_from_passwd() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// Field 22 of `/proc/<pid>/stat`: the process's start time in clock ticks since boot.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = Holder::current("apply", Timestamp::UNIX_EPOCH);
        assert!(me.process_start.is_some());
        assert!(!is_stale(&me));
        let reused = Holder {
            process_start: Some("1".to_owned()),
            ..me.clone()
        };
        assert!(is_stale(&reused));
        let gone = Holder {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(is_stale(&gone));
        let elsewhere = Holder {
            host: "some-other-host".to_owned(),
            pid: u32::MAX - 1,
            ..me
        };
        assert!(!is_stale(&elsewhere));
    }
}
