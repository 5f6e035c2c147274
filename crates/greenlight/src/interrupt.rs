//! Ctrl-C and SIGTERM during a deploy: the deploy stops waiting and reports
//! the state it left, instead of dying between two AWS calls.

use tokio::sync::watch;

/// A flag set by the first SIGINT or SIGTERM.
///
/// Once listening, the signals no longer end the process: the deploy
/// checks the flag between steps and races it against its waits.
pub struct Interrupt {
    receiver: watch::Receiver<bool>,
}

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM.
    pub fn listen() -> Interrupt {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = sender.send(true);
        });
        Interrupt { receiver }
    }

    /// Returns true once a signal arrived.
    pub fn is_set(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves when a signal arrives.
    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        // An error means the listener ended without a signal: never resolve.
        if receiver.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
