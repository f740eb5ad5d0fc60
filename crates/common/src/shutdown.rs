//! Graceful shutdown: one token cancelled on SIGINT/SIGTERM, watched by the HTTP server and
//! every background loop.

pub use tokio_util::sync::CancellationToken;

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Shutdown signal received.");
}

/// A token cancelled when the process is asked to stop.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        signal().await;
        child.cancel();
    });
    token
}

/// A service's running parts: its HTTP server, the token its background loops watch, and
/// their tasks. Every service's `Application` holds one.
pub struct Running {
    pub server: actix_web::dev::Server,
    pub stop: CancellationToken,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Serves until `shutdown` is cancelled; then finishes in-flight requests (the server's
    /// shutdown timeout), stops the background loops and waits for them (jobs in hand are
    /// finished, not dropped).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        shutdown.cancelled().await;
        tracing::info!("Stopping: finishing in-flight requests and background work.");
        handle.stop(true).await;
        self.stop.cancel();
        let _ = server.await;
        for task in self.tasks {
            let _ = task.await;
        }
        Ok(())
    }
}
