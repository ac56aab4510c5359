//! SIGINT and SIGTERM: the requests to stop that cutover honours at its next safe point.
//!
//! A long-running command (`apply`, `sandbox serve`) installs [`Signals`] and races its work
//! against [`Signals::recv`]; what it does on a signal is its own business. Installing replaces
//! the default action (the process dying on the spot), so a command installs them before it
//! takes anything it must give back, such as the run lock.

/// Which request to stop arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGINT: Ctrl-C at a terminal.
    Interrupt,
    /// SIGTERM: `kill`, `systemctl stop`, a CI job cancelled.
    Terminate,
}

impl Signal {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Ends the process by `signal`, as if it had never been caught: a shell sees 128 + its
/// number, systemd a clean stop rather than a failure. Everything worth keeping is saved by then.
pub(crate) fn reraise(signal: Signal) -> ! {
    #[cfg(unix)]
    {
        let number = match signal {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
        };
        // SAFETY: restoring a signal's default disposition and raising it in this thread are
        // async-signal-safe libc calls with no memory of ours involved; the handler tokio
        // installed is simply replaced.
        unsafe {
            libc::signal(number, libc::SIG_DFL);
            libc::raise(number);
        }
        // Only reached if the default action did not end the process.
        std::process::exit(128 + number)
    }
    #[cfg(not(unix))]
    std::process::exit(match signal {
        Signal::Interrupt => 130,
        Signal::Terminate => 143,
    })
}

/// Handlers for SIGINT and SIGTERM, live from [`Signals::install`] on.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers now. Must be called inside a tokio runtime.
    pub(crate) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next SIGINT or SIGTERM.
    pub(crate) async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Signal::Interrupt,
                _ = self.terminate.recv() => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}
