//! `POST /api/payments/webhooks/{provider}`: the provider's signed notifications.
//!
//! 1. The signature is checked on the raw bytes ([`crate::provider::webhook`]): 401 if
//!    it is not the provider's, 400 if the signed body is not an event.
//! 2. A short processing lease, `SET webhook:{provider}:{key} NX EX 30`: a duplicate
//!    that arrives while the first is in flight waits for it (at most
//!    `PAYMENTS_WEBHOOK_WAIT_MS`, then 409 and the provider retries); one that arrives
//!    after it finds the 86 400 s marker and is answered 200 at once.
//! 3. The outcome is confirmed with the provider's verify call (reference, amount and
//!    currency must match the payment; a reordered delivery acts on what is true now)
//!    and stored with the unique receipt row `(provider, key)`, the real guard: a
//!    redelivery whose lease and marker were lost still changes nothing. Concurrent
//!    deliveries are stored together ([`crate::store::receipts::Writer`]: one lookup of
//!    their payments and one insert for all, each answered once it is committed).
//! 4. 200 once the receipt is committed (the provider stops retrying: the delivery is
//!    ours now); the marker replaces the lease beside the answer. The effect is applied
//!    behind the answer, many deliveries per transaction, by [`crate::jobs::webhooks`],
//!    which this wakes (and which, in this process, waits while deliveries are being
//!    answered, at most `PAYMENTS_APPLY_MAX_LAG_MS`: a burst is answered first). On any
//!    failure before the commit the lease is dropped, so the provider's retry gets a
//!    clean second chance.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, post, web};
use fred::prelude::KeysInterface;
use fred::types::{Expiration, SetOptions};
use serde::Serialize;
use service_kit::http::ApiError;
use utoipa::ToSchema;

use crate::domain::PaymentsError;
use crate::provider::ProviderError;
use crate::provider::webhook::Refused;
use crate::provider::{WebhookEvent, WebhookKind};
use crate::state::AppState;
use crate::store::outcomes::{ChargeOutcome, Verified};
use crate::store::receipts::{Delivery, Recorded};

/// How long a delivery's processing may hold its lease.
const LEASE_SECS: i64 = 30;
/// How long the dedup marker is kept (the seed's `webhook:{webhookId}` TTL).
const MARKER_SECS: i64 = 86_400;
const DONE: &str = "done";

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// `accepted` (confirmed and stored: its effect is applied shortly), `duplicate`
    /// (received before) or `ignored` (an event or a reference this service does not
    /// act on).
    #[schema(pattern = "^(accepted|duplicate|ignored)$")]
    pub status: &'static str,
}

/// A provider's notification: a charge or transfer outcome. Signed by the provider
/// (see the module documentation); answered 200 once it is confirmed and stored, its
/// effect applied right after.
#[utoipa::path(
    tag = "webhooks",
    params(("provider" = String, Path, description = "`sandbox` or `paystack`: the provider this service is configured with")),
    request_body(content = serde_json::Value, description = "The provider's event, signed", content_type = "application/json"),
    responses(
        (status = 200, description = "Accepted (its effect follows), ignored, or a duplicate of one received", body = WebhookAnswer),
        (status = 400, description = "Signed, but not an event"),
        (status = 401, description = "Not signed by the provider, or too old or new"),
        (status = 404, description = "Not the configured provider"),
        (status = 409, description = "The same delivery is being processed; retry"),
        (status = 413, description = "Body too large"),
        (status = 503, description = "The provider could not confirm it yet, or a store is down; retry"),
    )
)]
#[post("/webhooks/{provider}")]
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if provider.as_str() != state.provider.name() {
        return Err(ApiError::NotFound(format!(
            "no provider {:?} here; this service takes {} webhooks",
            provider.as_str(),
            state.provider.name()
        )));
    }
    // Counted while it is answered: the applier waits for a quiet moment (bounded).
    let _answering = state.answering.enter();
    let now = state.clock.now();
    let event = state
        .provider
        .verify_webhook(req.headers(), &body, now.timestamp())
        .map_err(|e| match e {
            Refused::Signature(_) => ApiError::Unauthorized(e.to_string()),
            Refused::Body(_) => ApiError::BadRequest(e.to_string()),
        })?;
    let lease = state
        .keys
        .webhook(&format!("{}:{}", state.provider.name(), event.key));
    if !claim(&state, &lease).await? {
        return Ok(answer(Recorded::Duplicate));
    }
    match process(&state, &event).await {
        Ok(recorded) => {
            // The marker replaces the lease behind the answer (one round trip less on
            // the provider's clock): a duplicate arriving meanwhile finds the lease and
            // waits the moment it takes.
            let (redis, key) = (state.redis.clone(), event.key.clone());
            tokio::spawn(async move {
                let marked: Result<(), _> = redis
                    .set(&lease, DONE, Some(Expiration::EX(MARKER_SECS)), None, false)
                    .await;
                if let Err(error) = marked {
                    // The receipt row still refuses a redelivery.
                    tracing::warn!(%error, key, "Webhook marker not written.");
                }
            });
            if recorded == Recorded::Accepted {
                state.webhooks.wake();
            }
            Ok(answer(recorded))
        }
        Err(e) => {
            let _: Result<i64, _> = state.redis.del(&lease).await;
            Err(e)
        }
    }
}

fn answer(recorded: Recorded) -> HttpResponse {
    HttpResponse::Ok().json(WebhookAnswer {
        status: recorded.as_str(),
    })
}

/// Takes the processing lease: true when this delivery is to be processed, false when
/// one like it already was. Waits (bounded) while another holds it.
async fn claim(state: &AppState, lease: &str) -> Result<bool, ApiError> {
    let deadline = tokio::time::Instant::now() + state.config.webhook_wait;
    loop {
        let taken: Option<String> = state
            .redis
            .set(
                lease,
                "processing",
                Some(Expiration::EX(LEASE_SECS)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(|e| ApiError::Unavailable(format!("cannot take the webhook's lease: {e}")))?;
        if taken.is_some() {
            return Ok(true);
        }
        let holder: Option<String> =
            state.redis.get(lease).await.map_err(|e| {
                ApiError::Unavailable(format!("cannot read the webhook's lease: {e}"))
            })?;
        if holder.as_deref() == Some(DONE) {
            return Ok(false);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Conflict(
                "the same delivery is being processed; retry".into(),
            ));
        }
        // The holder's commit or failure ends the wait: poll for either, briefly.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Confirms `event` with the provider and stores it with its effect; says what became
/// of it.
async fn process(state: &AppState, event: &WebhookEvent) -> Result<Recorded, ApiError> {
    let unavailable = |e: ProviderError| ApiError::from(PaymentsError::Provider(e.to_string()));
    let verified = match event.kind {
        WebhookKind::ChargeSuccess | WebhookKind::ChargeFailed | WebhookKind::ChargeReversed => {
            match state.provider.verify(&event.reference).await {
                Ok(c) if ChargeOutcome::of(c.status, c.amount).is_none() => {
                    return Err(PaymentsError::Provider(
                        "the provider has not settled the charge yet".into(),
                    )
                    .into());
                }
                Ok(c) => Some(Verified::Charge(c)),
                Err(ProviderError::NotFound(_)) => None,
                Err(e) => return Err(unavailable(e)),
            }
        }
        WebhookKind::TransferSuccess
        | WebhookKind::TransferFailed
        | WebhookKind::TransferReversed => {
            match state.provider.verify_transfer(&event.reference).await {
                Ok(t) => Some(Verified::Transfer(t)),
                Err(ProviderError::NotFound(_)) => None,
                Err(e) => return Err(unavailable(e)),
            }
        }
        _ => None,
    };
    state
        .receipts
        .record(Delivery {
            provider: state.provider.name().to_owned(),
            key: event.key.clone(),
            event_type: event.name.clone(),
            reference: event.reference.clone(),
            verified,
        })
        .await
        .map_err(ApiError::from)
}
