//! # sandbox-provider
//!
//! A simulated payment provider in test mode, shaped like Paystack's API: the payments
//! service takes money in (transactions, paid at a checkout page) and sends money out
//! (transfers) through it, and hears the outcomes by signed webhooks
//! ([Standard Webhooks](https://www.standardwebhooks.com), [`service_kit::webhooks`]). It
//! runs as its own process under `make run` (`SANDBOX_*` variables, [`SandboxConfig`]) and
//! in-process, on port 0, in tests ([`Sandbox::start`]). State lives in memory.
//!
//! Answers are JSON `{"status": true, "message": "...", "data": {...}}`; errors are
//! `{"status": false, "message": "..."}` with 400 (unparseable body, query or path), 401
//! (secret key), 404, 409 (conflict with what exists) or 422 (a value not accepted).
//! Amounts are whole minor units (> 0); currencies three capitals (`NGN`); references 16
//! to 64 of `A-Z a-z 0-9 _ - .`.
//!
//! | route | auth | does |
//! | --- | --- | --- |
//! | `POST /transaction/initialize` | key | `{reference, amount, currency, email?, metadata?, callback_url?}` -> `{authorization_url: "{public_url}/checkout/{reference}", access_code, reference}`; the same again -> the same answer, another amount or currency -> 409 |
//! | `GET /transaction/verify/{reference}` | key | `{id, reference, status, amount (paid; requested while pending), requested_amount, refunded_amount, currency, email, paid_at, metadata}`; status `pending`, `success`, `failed`, `reversed`, `abandoned` |
//! | `GET /checkout/{reference}` | - | the HTML checkout: amount, Pay (an amount in minor units, the requested one by default) and Decline |
//! | `POST /checkout/{reference}/pay` | - | form or JSON `{amount?}`: pending -> `success` with the amount paid (may differ from the requested one); `charge.success`; not pending -> 409 |
//! | `POST /checkout/{reference}/decline` | - | pending -> `failed`; `charge.failed` |
//! | `POST /refund` | key | `{transaction: reference, amount?}` (default: all that is left) -> `{id, transaction_reference, amount, currency, status: "processed"}`; `refund.processed`; more than is left -> 422, a transaction not `success` -> 409 |
//! | `GET /bank/resolve?account_number=&bank_code=` | key | 10 and 3 digits (else 422); `0000000000` -> 422; `{account_number, account_name: "SANDBOX ACCOUNT {last 4}", bank_id}` |
//! | `POST /transferrecipient` | key | `{name, account_number, bank_code, currency}` -> `{recipient_code: "RCP_...", type, name, currency, details}`; the same account in the same currency, the same code; a transfer must be in its recipient's currency |
//! | `POST /transfer` | key | `{source: "balance", amount, currency, recipient, reference, reason?}` -> `{id, reference, status: "pending", amount, currency, recipient}`; the first call with a reference creates it, later ones return it unchanged (409 if amount, currency or recipient differ); unknown recipient -> 422 |
//! | `GET /transfer/verify/{reference}` | key | the transfer; status `pending`, `success`, `failed`, `reversed` |
//! | `GET /healthz` | - | `ok` |
//!
//! **Transfer outcomes**, by the last digit of the recipient's account number ([`Outcome`]),
//! applied one `transfer_delay` after creation, each with its webhook:
//! `1` -> `failed` (`transfer.failed`); `2` -> stays `pending` until
//! `/_control/transfers/{reference}/complete`; `3` -> `success` (`transfer.success`) then,
//! one delay later, `reversed` (`transfer.reversed`); any other -> `success`.
//!
//! **Webhooks**: every status change records one delivery, `{"type", "timestamp", "data"}`
//! ([`EventType`]: `charge.success|failed|reversed`, `refund.processed`,
//! `transfer.success|failed|reversed`; `data` as the matching verify answer or refund),
//! POSTed to `webhook_url` with `webhook-id` (`msg_<uuid v7>`, the same on every retry and
//! duplicate), `webhook-timestamp` (the clock at that attempt) and `webhook-signature`
//! (one `v1,...` per secret, over the exact body). A non-2xx answer or a connection error
//! is retried after `retry_base * 2^n`, up to `max_attempts` attempts. Deliveries go
//! concurrently, a delivery's attempts one at a time. Without a webhook URL deliveries are
//! only recorded, and go out once one is set ([`Sandbox::set_webhook_url`]).
//!
//! | control route (no auth) | does |
//! | --- | --- |
//! | `GET`, `POST /_control/faults` | `{duplicate, delay_ms, reorder, drop_first_attempts}` ([`Faults`]); a POST replaces them all, `{}` clears them |
//! | `POST /_control/flush` | sends what `reorder` and `delay_ms` hold, now |
//! | `POST /_control/transactions/{reference}/reverse` | `success` -> `reversed`; `charge.reversed` |
//! | `POST /_control/transactions/{reference}/abandon` | `pending` -> `abandoned` (no webhook) |
//! | `POST /_control/transfers/{reference}/complete` | `{status: success\|failed\|reversed}`: settles a pending transfer (or reverses a successful one) now; its webhook |
//! | `GET /_control/transfers/{reference}` | `{reference, attempts, executed (0 or 1), status}` ([`TransferAttempts`]) |
//! | `GET /_control/stats` | [`Stats`] |
//! | `GET /_control/deliveries` | every delivery ([`DeliveryView`]): `id`, `type`, `attempts`, `delivered`, `failed`, `last_status`, `last_error`, `created_at`, `data` |
//!
//! Inside: `routes` parse requests into [`domain`] values and call the `state` (one
//! mutex, short synchronous methods); a status change records a delivery that `webhooks`
//! sends; `settle` applies transfer outcomes in the background.

mod app;
mod auth;
mod config;
pub mod domain;
mod error;
mod html;
mod routes;
mod settle;
mod state;
mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use anyhow::Context;
use common::clock::SharedClock;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::App;
pub use crate::config::{DEFAULT_SECRET_KEY, SandboxConfig};
pub use crate::state::{
    DeliveryView, EventType, Faults, Outcome, RecipientView, RefundView, Stats, TransactionStatus,
    TransactionView, TransferAttempts, TransferStatus, TransferView,
};

/// A running sandbox: its HTTP server, webhook sender and settlement tasks.
pub struct Sandbox {
    port: u16,
    app: Arc<App>,
    server: ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    dispatcher: JoinHandle<()>,
}

impl Sandbox {
    /// Binds `host:port` (0: any free port), starts the server and the webhook sender,
    /// and returns at once. An empty `public_url` becomes [`Sandbox::url`].
    pub async fn start(mut config: SandboxConfig, clock: SharedClock) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .with_context(|| format!("binding {}:{}", config.host, config.port))?;
        let port = listener.local_addr()?.port();
        config.public_url = match config.public_url.trim().trim_end_matches('/') {
            "" => format!("http://127.0.0.1:{port}"),
            url => url.to_owned(),
        };
        config.max_attempts = config.max_attempts.max(1);
        let (commands, queue) = mpsc::unbounded_channel();
        let app = Arc::new(App::new(config, clock, commands)?);
        let dispatcher = tokio::spawn(webhooks::dispatch(app.clone(), queue));
        let data = web::Data::from(app.clone());
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok(Sandbox {
            port,
            app,
            server: handle,
            server_task: tokio::spawn(server),
            dispatcher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The base URL in `authorization_url`s and the checkout's forms.
    pub fn public_url(&self) -> &str {
        &self.app.config.public_url
    }

    /// The bearer token of server-to-server calls.
    pub fn secret_key(&self) -> &str {
        &self.app.config.secret_key
    }

    /// As `GET /_control/stats`.
    pub fn stats(&self) -> Stats {
        self.app.read(|s| s.stats())
    }

    /// As `GET /_control/deliveries`.
    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.app.read(|s| s.deliveries())
    }

    /// As `GET /_control/transfers/{reference}` (`None`: no call with that reference).
    pub fn transfer_attempts(&self, reference: &str) -> Option<TransferAttempts> {
        self.app.read(|s| s.transfer_attempts(reference))
    }

    /// Sends webhooks to `url` from now on (`None`: only record them). Deliveries recorded
    /// while there was no URL go out when one is set: a test can start the sandbox, then
    /// the service it calls, then point the webhooks at the service's port.
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.app.set_webhook_url(url);
    }

    /// As `POST /_control/faults`.
    pub fn set_faults(&self, faults: Faults) {
        self.app.set_faults(faults);
    }

    /// As `POST /_control/flush`.
    pub fn flush(&self) {
        self.app.flush();
    }

    /// Stops accepting requests, finishes those in flight, cancels pending retries and
    /// settlements, and waits for every task.
    pub async fn stop(self) {
        self.app.shutdown.cancel();
        self.server.stop(true).await;
        let _ = self.server_task.await;
        let _ = self.dispatcher.await;
        self.app.tasks.close();
        self.app.tasks.wait().await;
    }
}
