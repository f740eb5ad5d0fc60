//! Consumes `events:auth`: KYC decisions become the `kyc` claim of the user's next tokens.

use common::auth::KycStatus;
use common::clock::SharedClock;
use common::config::BaseConfig;
use common::events::kyc::KycDecided;
use common::events::{Accepts, Envelope, Event, KycEvent, Service};
use common::keys::Keys;
use common::shutdown::CancellationToken;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::task::JoinHandle;

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
    crate::users::set_kyc(txn, decision.user_id, status, clock.now()).await?;
    tracing::info!(user_id = %decision.user_id, kyc = status.as_str(), "KYC status recorded.");
    Ok(())
}

pub async fn spawn(
    base: &BaseConfig,
    db: DatabaseConnection,
    keys: Keys,
    clock: SharedClock,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let queue = keys.events(Service::Auth);
    common::inbox::spawn_consumer(&base.redis_url, queue, db, stop, move |txn, event| {
        let clock = clock.clone();
        Box::pin(async move { handle(txn, event, &clock).await })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_auth() {
        common::events::assert_accepts_its_routes::<super::Accepted>();
    }
}
