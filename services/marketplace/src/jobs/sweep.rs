//! Expires pending offers whose `expires_at` has passed, and releases reservations the
//! invoice service has not answered within `MARKETPLACE_RESERVATION_TIMEOUT_SECS`, by the
//! injected clock.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::entity::{listing, offer};
use crate::store::offers::{self, Change, OfferStatus};

/// Why a timed-out reservation's offer was rejected (its event and the investor say so).
pub const TIMED_OUT: &str = "the invoice service did not answer the acceptance in time";

/// One pass: expiries, then timed-out reservations; returns how many offers changed.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    Ok(expire(state).await? + time_out_reservations(state).await?)
}

/// Pending offers past their expiry become `expired`; returns how many.
async fn expire(state: &AppState) -> anyhow::Result<usize> {
    let due = due(
        state,
        OfferStatus::Pending,
        offer::Column::ExpiresAt,
        state.clock.now(),
    )
    .await?;
    let expired = move_each(
        state,
        due,
        OfferStatus::Pending,
        OfferStatus::Expired,
        Change::Expired,
        "the offer expired",
    )
    .await?;
    if expired > 0 {
        tracing::info!(expired, "Offer sweep expired offers.");
    }
    Ok(expired)
}

/// Reservations older than the timeout (a reserved offer changes only by the saga, so
/// `updated_at` is when it was reserved): the offer is rejected, the listing's claim
/// cleared (it takes offers and acceptances again) and `offer.reservation_timed_out`
/// tells the invoice service, which releases a confirmation it made meanwhile. A
/// confirmation that arrives after this finds the offer no longer reserved and is dropped;
/// one that commits first makes this a no-op (both are conditional on `reserved`).
async fn time_out_reservations(state: &AppState) -> anyhow::Result<usize> {
    let timeout = chrono::Duration::from_std(state.config.reservation_timeout)?;
    let before = state.clock.now() - timeout;
    let due = due(
        state,
        OfferStatus::Reserved,
        offer::Column::UpdatedAt,
        before,
    )
    .await?;
    let released = move_each(
        state,
        due,
        OfferStatus::Reserved,
        OfferStatus::Rejected,
        Change::TimedOut,
        TIMED_OUT,
    )
    .await?;
    if released > 0 {
        tracing::warn!(
            released,
            "Reservations timed out: the invoice service did not answer; offers released."
        );
    }
    Ok(released)
}

/// Offers in `status` whose `at` is not after `before`, oldest first (500 a pass).
async fn due(
    state: &AppState,
    status: OfferStatus,
    at: offer::Column,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<offer::Model>, sea_orm::DbErr> {
    offer::Entity::find()
        .filter(offer::Column::Status.eq(status.as_str()))
        .filter(at.lte(before))
        .order_by_asc(at)
        .limit(500)
        .all(&state.db)
        .await
}

/// Moves each of `due` from `from` (at the version read: a change since, such as a
/// revision that moved the expiry, leaves it) to `to`, one transaction each with its
/// event; a reservation's claim on the listing is cleared with it. Each committed change
/// is followed; answers how many moved (none for an offer another sweeper or a person
/// moved first).
async fn move_each(
    state: &AppState,
    due: Vec<offer::Model>,
    from: OfferStatus,
    to: OfferStatus,
    change: Change,
    reason: &str,
) -> anyhow::Result<usize> {
    let mut moved = 0;
    for o in due {
        let txn = service_kit::db::begin_write(&state.db).await?;
        let changed = offers::set_status(
            &*txn,
            state.clock.as_ref(),
            &o,
            offers::From::at(&[from], o.version),
            to,
            change,
            Some(reason),
        )
        .await?;
        if changed.is_some() && from == OfferStatus::Reserved {
            listing::Entity::update_many()
                .col_expr(
                    listing::Column::ReservedOfferId,
                    Expr::value(Option::<Uuid>::None),
                )
                .col_expr(listing::Column::UpdatedAt, Expr::value(state.clock.now()))
                .filter(listing::Column::Id.eq(o.invoice_id))
                .filter(listing::Column::ReservedOfferId.eq(o.id))
                .exec(&*txn)
                .await?;
        }
        txn.commit().await?;
        if let Some(c) = changed {
            moved += 1;
            crate::outbound::after(state, std::slice::from_ref(&c)).await;
        }
    }
    Ok(moved)
}

/// One round of the supervised task `sweep` (every `MARKETPLACE_SWEEP_INTERVAL`): a pass
/// and the effects' catch-up ([`catch_up`]), then one more finished round counted (a test
/// waits on it).
pub async fn round(state: AppState, mark: EffectsMark) -> anyhow::Result<usize> {
    let changed = run_once(&state).await;
    let caught_up = catch_up(&state, &mark).await;
    state
        .sweep_rounds
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    let changed = changed?;
    caught_up?;
    Ok(changed)
}

/// Where the effects catch-up ([`catch_up`]) got to: the quiet line of its last good round
/// (none yet: a new process looks back one card lifetime, as far as a lost bump matters).
pub type EffectsMark = service_kit::tasks::CatchUpMark;

/// A listing is caught up once it has been quiet this long: no change of it or its offers
/// is newer, so every committed change's own follow-up has had its time to land.
pub const QUIET_SECS: i64 = 5;

/// How far each round looks back before the last one's line: a change whose transaction
/// took its `updated_at` before that line but committed after the round read is still seen.
const OVERLAP_SECS: i64 = 30;

/// Redoes what a process that died between a commit and its follow-up left undone
/// (`live::Follow`: the counters, the listing's card and the trending pages): the
/// listings that changed (their row or any offer) since the last round and have been
/// quiet for [`QUIET_SECS`] get their counters set to the database's figures and their
/// cards and the trending pages marked stale. Setting rather than incrementing makes a
/// redo harmless when the first attempt did happen, and waiting for quiet keeps a redo
/// from reading the database between a writer's commit and its increment (the one way a
/// rebuild could be off by one). Answers how many listings it caught up.
pub async fn catch_up(state: &AppState, mark: &EffectsMark) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let line = now - chrono::Duration::seconds(QUIET_SECS);
    let card_ttl = i64::try_from(common::keys::ttl::LISTING_CARD).unwrap_or(i64::MAX);
    let since = mark.since(
        now,
        chrono::Duration::seconds(OVERLAP_SECS),
        chrono::Duration::seconds(card_ttl),
    );
    let changed = changed_since(state, since).await?;
    let busy: std::collections::HashSet<Uuid> =
        changed_since(state, line).await?.into_iter().collect();
    let quiet: Vec<Uuid> = changed
        .into_iter()
        .filter(|id| !busy.contains(id))
        .collect();
    if !quiet.is_empty() {
        let mut figures = Vec::with_capacity(quiet.len());
        for chunk in quiet.chunks(500) {
            figures.extend(crate::store::live::figures_of(state, chunk).await?);
        }
        // The total only when nothing at all is in flight.
        let total = if busy.is_empty() {
            Some(crate::store::live::Counter::Total.truth(state).await?)
        } else {
            None
        };
        crate::store::live::reconcile(state, &quiet, &figures, total).await?;
    }
    // Listings left busy are newer than `line` and found by the next round.
    mark.advance(line);
    Ok(quiet.len())
}

/// The listings whose row or any offer changed after `since`, each once.
async fn changed_since(
    state: &AppState,
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = offer::Entity::find()
        .select_only()
        .column(offer::Column::InvoiceId)
        .distinct()
        .filter(offer::Column::UpdatedAt.gt(since))
        .into_tuple()
        .all(&state.db)
        .await?;
    let listings: Vec<Uuid> = listing::Entity::find()
        .select_only()
        .column(listing::Column::Id)
        .filter(listing::Column::UpdatedAt.gt(since))
        .into_tuple()
        .all(&state.db)
        .await?;
    ids.extend(listings);
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
