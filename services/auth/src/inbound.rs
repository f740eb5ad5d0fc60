//! Consumes `events:auth`: KYC decisions become the `kyc` claim of the user's next tokens.

use common::auth::KycStatus;
use common::clock::SharedClock;
use common::events::kyc::KycDecided;
use common::events::{Accepts, Envelope, Event, KycEvent, Service};
use sea_orm::DatabaseTransaction;
use service_kit::inbox::{EventConsumer, event_handler_fn};
use service_kit::shutdown::CancellationToken;

use crate::state::AppState;

/// What `events:auth` accepts: the KYC decisions.
#[derive(Debug)]
pub enum Accepted {
    KycApproved(KycDecided),
    KycRejected(KycDecided),
}

impl Accepts for Accepted {
    const SERVICE: Service = Service::Auth;
    fn accept(event: Event) -> Option<Self> {
        match event {
            Event::Kyc(KycEvent::Approved(d)) => Some(Accepted::KycApproved(d)),
            Event::Kyc(KycEvent::Rejected(d)) => Some(Accepted::KycRejected(d)),
            _ => None,
        }
    }
}

/// The effect of one event, inside the inbox transaction.
pub async fn handle(
    txn: &DatabaseTransaction,
    event: &Envelope,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    let (status, decision) = match event.accept::<Accepted>()? {
        Accepted::KycApproved(d) => (KycStatus::Approved, d),
        Accepted::KycRejected(d) => (KycStatus::Rejected, d),
    };
    crate::store::users::set_kyc(txn, decision.user_id, status, clock.now()).await?;
    tracing::info!(user_id = %decision.user_id, kyc = status.as_str(), "KYC status recorded.");
    Ok(())
}

/// Consumes `events:auth` until `stop` (the supervised task `consumer`).
pub async fn run(state: AppState, stop: CancellationToken) -> anyhow::Result<()> {
    let clock = state.clock.clone();
    let handler = event_handler_fn(move |txn, event| {
        let clock = clock.clone();
        Box::pin(async move { handle(txn, event, &clock).await })
    });
    EventConsumer::new(state.db.clone(), handler)
        .with_clock(state.clock.clone())
        .verifying(state.config.base.event_keyring.clone())
        .run(
            &state.config.base.redis_url,
            &state.redis,
            state.keys.events(Service::Auth),
            stop,
        )
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_auth() {
        common::events::assert_accepts_its_routes::<super::Accepted>();
    }
}
