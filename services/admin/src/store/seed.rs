//! `admin seed-audit --rows N`: synthetic audit rows, appended in batches to the real
//! chain (so `verify` still passes), for load tests of the search over a large log. They
//! move no read model. Every event type of the catalogue in turn, actors from a pool of
//! 10,000, a fresh resource id each, recorded from the head's time on, a microsecond
//! apart.

use chrono::{DateTime, Duration, Utc};
use common::events::CATALOGUE;
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use crate::domain::audit::{self, ActorRole, Entry, ResourceType};
use crate::store::entity::audit_entry;

/// Rows per transaction.
const BATCH: u64 = 1_000;
/// Distinct actors of the synthetic rows.
const ACTORS: u64 = 10_000;

/// A cheap, repeatable mix of `n` (splitmix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn resource_of(producer: common::events::Service) -> ResourceType {
    use common::events::Service as S;
    match producer {
        S::Auth => ResourceType::User,
        S::Kyc => ResourceType::KycSubmission,
        S::Invoice => ResourceType::Invoice,
        S::Marketplace => ResourceType::Offer,
        S::Payments | S::Admin | S::Notifications => ResourceType::Payment,
    }
}

/// Appends `rows` synthetic rows to the chain keyed by `key`; answers the head's count.
pub async fn seed(
    db: &DatabaseConnection,
    key: &[u8],
    rows: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let actors: Vec<Uuid> = (0..ACTORS)
        .map(|n| Uuid::from_u64_pair(0x0190_0000_0000_7000, 0x8000_0000_0000_0000 | n))
        .collect();
    let mut left = rows;
    let mut count = 0;
    while left > 0 {
        let n = left.min(BATCH);
        let txn = service_kit::db::begin_write(db).await?;
        let head = super::audit::head_locked(&*txn).await?;
        let mut previous = head.hash.clone();
        let start = audit::micros(now).max(head.recorded_at);
        let mut models = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut last = head.recorded_at;
        for i in 0..n {
            let seq = head.count + 1 + i64::try_from(i)?;
            let m = mix(u64::try_from(seq)?);
            let ty = &CATALOGUE[usize::try_from(m % CATALOGUE.len() as u64)?];
            let at = start + Duration::microseconds(i64::try_from(i)?);
            let entry = Entry {
                seq,
                event_id: Uuid::now_v7(),
                occurred_at: at,
                recorded_at: at,
                producer: ty.producer.as_str().to_owned(),
                action: ty.name.to_owned(),
                actor_id: Some(actors[usize::try_from((m >> 16) % ACTORS)?]),
                actor_role: if m & 1 == 0 {
                    ActorRole::Seller
                } else {
                    ActorRole::Investor
                },
                resource_type: resource_of(ty.producer),
                resource_id: Uuid::now_v7(),
                payload: "{\"synthetic\":true}".to_owned(),
                trace_id: None,
            };
            let hash = audit::link(key, &previous, &entry);
            previous.clone_from(&hash);
            last = at;
            models.push(super::audit::row_of(&entry, hash));
        }
        audit_entry::Entity::insert_many(models)
            .exec_without_returning(&*txn)
            .await?;
        let to = super::audit::Head {
            count: head.count + i64::try_from(n)?,
            hash: previous,
            recorded_at: last,
        };
        count = to.count;
        super::audit::move_head(&*txn, head.count, to).await?;
        txn.commit().await?;
        left -= n;
    }
    Ok(count)
}
