//! Consumes `events:auth`: KYC decisions become the `kyc` claim of the user's next tokens.

use common::auth::KycStatus;
use common::clock::SharedClock;
use common::config::BaseConfig;
use common::events::{Envelope, Service};
use common::keys::Keys;
use common::shutdown::CancellationToken;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde::Deserialize;
use tokio::task::JoinHandle;
use uuid::Uuid;

#[derive(Deserialize)]
struct KycDecision {
    user_id: Uuid,
}

/// The effect of one event, inside the inbox transaction.
pub async fn handle(
    txn: &DatabaseTransaction,
    event: &Envelope,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    let status = match event.event_type.as_str() {
        "kyc.approved" => KycStatus::Approved,
        "kyc.rejected" => KycStatus::Rejected,
        other => {
            return Err(
                common::queue::Unusable(format!("events:auth does not accept {other}")).into(),
            );
        }
    };
    let decision: KycDecision = event.payload_as()?;
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
