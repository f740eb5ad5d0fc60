//! What every handler and background task shares: the settings, the clock, the state and
//! the way to the webhook sender.

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use common::clock::SharedClock;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::SandboxConfig;
use crate::state::{Faults, State};

/// What the webhook sender is asked to do.
pub(crate) enum Command {
    /// Send delivery number `index`, recorded when `flushes` flushes had happened.
    Deliver { index: usize, flushes: u64 },
    /// Send the deliveries held by the `reorder` fault now.
    Flush,
}

pub(crate) struct App {
    /// With `public_url` resolved (never empty, no trailing slash); the webhook URL in
    /// force is the state's.
    pub config: SandboxConfig,
    pub clock: SharedClock,
    state: Mutex<State>,
    commands: mpsc::UnboundedSender<Command>,
    /// Bumped by every flush: deliveries held by the `delay_ms` fault stop waiting.
    pub flushes: watch::Sender<u64>,
    /// The settlement and delivery tasks, drained on stop.
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    pub client: reqwest::Client,
}

impl App {
    pub fn new(
        config: SandboxConfig,
        clock: SharedClock,
        commands: mpsc::UnboundedSender<Command>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            state: Mutex::new(State::new(config.webhook_url.clone())),
            config,
            clock,
            commands,
            flushes: watch::Sender::new(0),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            client,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Runs `f` on the state at the clock's now, then hands the deliveries recorded and not
    /// yet sent to the sender (after the lock is released); while there is no webhook URL
    /// they wait.
    pub fn update<T>(&self, f: impl FnOnce(&mut State, DateTime<Utc>) -> T) -> T {
        let now = self.clock.now();
        let (out, unsent) = {
            let mut state = self.lock();
            let out = f(&mut state, now);
            let unsent = match state.webhook_url {
                Some(_) => state.take_unsent(),
                None => Vec::new(),
            };
            (out, unsent)
        };
        let flushes = *self.flushes.borrow();
        for index in unsent {
            let _ = self.commands.send(Command::Deliver { index, flushes });
        }
        out
    }

    /// Sends what the `reorder` and `delay_ms` faults hold, now.
    pub fn flush(&self) {
        self.flushes.send_modify(|n| *n += 1);
        let _ = self.commands.send(Command::Flush);
    }

    /// Points the webhooks elsewhere (or nowhere); deliveries recorded while there was no
    /// URL go out once there is one.
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.update(|s, _| s.webhook_url = url);
    }

    pub fn set_faults(&self, faults: Faults) {
        let reorder = faults.reorder;
        self.update(|s, _| s.faults = faults);
        if !reorder {
            self.flush();
        }
    }

    pub fn faults(&self) -> Faults {
        self.read(|s| s.faults.clone())
    }
}
