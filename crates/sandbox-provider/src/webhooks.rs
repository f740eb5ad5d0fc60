//! The webhook sender: a dispatcher that takes recorded deliveries off a queue and a task
//! per delivery that POSTs it to the webhook URL, signed (Standard Webhooks) at every
//! attempt, retried on a non-2xx answer or a connection error after `retry_base * 2^n`
//! until `max_attempts`. Deliveries go concurrently; one delivery's attempts one at a time.
//! The faults ([`crate::state::Faults`]) are applied here.

use std::sync::Arc;
use std::time::Duration;

use service_kit::webhooks::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_all};
use tokio::sync::mpsc;

use crate::app::{App, Command};
use crate::state::Faults;

/// Deliveries the `reorder` fault holds before sending them anyway.
const REORDER_BATCH: usize = 5;

/// Runs until the queue closes or the sandbox stops.
pub(crate) async fn dispatch(app: Arc<App>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut held: Vec<(usize, u64)> = Vec::new();
    loop {
        let command = tokio::select! {
            () = app.shutdown.cancelled() => break,
            c = commands.recv() => match c {
                Some(c) => c,
                None => break,
            },
        };
        match command {
            Command::Deliver { index, flushes } if app.faults().reorder => {
                held.push((index, flushes));
                if held.len() >= REORDER_BATCH {
                    release(&app, std::mem::take(&mut held));
                }
            }
            Command::Deliver { index, flushes } => {
                let app2 = app.clone();
                let faults = app.faults();
                app.tasks
                    .spawn(async move { deliver(&app2, index, flushes, &faults).await });
            }
            Command::Flush => release(&app, std::mem::take(&mut held)),
        }
    }
}

/// Sends the held deliveries one after another, newest first.
fn release(app: &Arc<App>, mut held: Vec<(usize, u64)>) {
    if held.is_empty() {
        return;
    }
    held.sort_unstable_by(|a, b| b.cmp(a));
    let app2 = app.clone();
    let faults = app.faults();
    app.tasks.spawn(async move {
        for (index, flushes) in held {
            deliver(&app2, index, flushes, &faults).await;
        }
    });
}

/// One delivery: the `delay_ms` hold (cut short by a flush since it was recorded, when
/// `flushes` had happened), then the delivery and its `duplicate` copies, each retried
/// until it is acknowledged or out of attempts.
async fn deliver(app: &App, index: usize, flushes: u64, faults: &Faults) {
    let mut flushed = app.flushes.subscribe();
    if faults.delay_ms > 0 && *flushed.borrow() == flushes {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(faults.delay_ms)) => {}
            _ = flushed.changed() => {}
            () = app.shutdown.cancelled() => return,
        }
    }
    for copy in 0..=faults.duplicate {
        let Some(delivered) = send_with_retries(app, index, faults.drop_first_attempts).await
        else {
            return; // stopped, or parked until there is a webhook URL again
        };
        if copy == 0 {
            app.update(|s, _| s.finish(index, delivered));
            if !delivered {
                tracing::warn!(index, "Webhook delivery gave up.");
            }
        }
        if !delivered {
            break;
        }
    }
}

/// `Some(acknowledged)` after at most `max_attempts` attempts; `None` if the sandbox stopped
/// or the webhook URL was removed meanwhile.
async fn send_with_retries(app: &App, index: usize, drop_first: u32) -> Option<bool> {
    let max = app.config.max_attempts.max(1);
    for n in 0..max {
        if n > 0 {
            let backoff = app.config.retry_base * 2u32.saturating_pow((n - 1).min(20));
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = app.shutdown.cancelled() => return None,
            }
        }
        if attempt(app, index, drop_first).await? {
            return Some(true);
        }
    }
    Some(false)
}

/// One HTTP request: `Some(acknowledged)`, or `None` when there is no webhook URL (the
/// delivery is parked until one is set) or the sandbox stops.
async fn attempt(app: &App, index: usize, drop_first: u32) -> Option<bool> {
    let (url, a) = app.update(|s, _| {
        let Some(url) = s.webhook_url.clone() else {
            s.park(index);
            return None;
        };
        Some((url, s.begin_attempt(index)?))
    })?;
    if a.number <= drop_first {
        let why = "dropped by the drop_first_attempts fault".to_owned();
        app.update(|s, _| s.record_attempt(index, None, Some(why)));
        return Some(false);
    }
    let timestamp = app.clock.now().timestamp();
    let signature = sign_all(
        &app.config.webhook_secrets,
        &a.webhook_id,
        timestamp,
        &a.body,
    );
    let request = app
        .client
        .post(&url)
        .header(ID_HEADER, &a.webhook_id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(a.body)
        .send();
    let result = tokio::select! {
        r = request => r,
        () = app.shutdown.cancelled() => return None,
    };
    let (status, error) = match result {
        Ok(res) => (Some(res.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    if ok {
        tracing::info!(webhook_id = %a.webhook_id, attempt = a.number, ?status, "Webhook sent.");
    } else {
        tracing::warn!(
            webhook_id = %a.webhook_id,
            attempt = a.number,
            ?status,
            error = error.as_deref(),
            "Webhook attempt failed."
        );
    }
    app.update(|s, _| s.record_attempt(index, status, error));
    Some(ok)
}
