//! Transfers settle by themselves: one transfer delay after creation a background task
//! applies the outcome the recipient's account number calls for ([`Outcome`]).

use std::sync::Arc;

use crate::app::App;
use crate::state::{Outcome, TransferStatus};

/// Schedules the outcome of the transfer `reference`, just created.
pub(crate) fn schedule(app: &Arc<App>, reference: String) {
    let app2 = app.clone();
    app.tasks.spawn(async move {
        let app = app2;
        if !pause(&app).await {
            return;
        }
        let Some(outcome) = app.read(|s| s.due_outcome(&reference)) else {
            return; // settled meanwhile through the control API
        };
        let to = match outcome {
            Outcome::Pending => return,
            Outcome::Failed => TransferStatus::Failed,
            Outcome::Success | Outcome::SuccessThenReversed => TransferStatus::Success,
        };
        let settled = app
            .update(|s, now| s.settle_transfer(&reference, to, now))
            .is_ok();
        if settled && outcome == Outcome::SuccessThenReversed && pause(&app).await {
            // A 409 here: reversed meanwhile through the control API.
            let reversed = TransferStatus::Reversed;
            let _ = app.update(|s, now| s.settle_transfer(&reference, reversed, now));
        }
    });
}

/// Waits one transfer delay; `false` if the sandbox stops first.
async fn pause(app: &App) -> bool {
    tokio::select! {
        () = tokio::time::sleep(app.config.transfer_delay) => true,
        () = app.shutdown.cancelled() => false,
    }
}
