//! Marks funded invoices overdue (due date + `INVOICE_OVERDUE_GRACE_DAYS` passed) and
//! overdue ones defaulted (due date + `INVOICE_DEFAULT_GRACE_DAYS`), by the injected clock.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::{Action, Actor, InvoiceError, InvoiceStatus};
use crate::state::AppState;
use crate::store::entity::invoice;
use crate::store::invoices;

/// One pass; returns how many invoices changed.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let today = state.clock.now().date_naive();
    let mut changed = 0;
    for (status, action, grace) in [
        (
            InvoiceStatus::Funded,
            Action::MarkOverdue,
            state.config.overdue_grace_days,
        ),
        (
            InvoiceStatus::Overdue,
            Action::MarkDefaulted,
            state.config.default_grace_days,
        ),
    ] {
        // Due before (today - grace) means more than `grace` days late.
        let cutoff = today - chrono::Duration::days(grace);
        let due = invoice::Entity::find()
            .filter(invoice::Column::Status.eq(status.as_str()))
            .filter(invoice::Column::DueDate.lt(cutoff))
            .order_by_asc(invoice::Column::DueDate)
            .limit(500)
            .all(&state.db)
            .await?;
        for m in due {
            let reason = format!("due {} and {grace} days of grace passed", m.due_date);
            match invoices::transition(state, &m, action, Actor::SYSTEM, Some(&reason)).await {
                Ok(_) => changed += 1,
                // Repaid meanwhile, or another sweeper was first.
                Err(InvoiceError::NotAllowed(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if changed > 0 {
        tracing::info!(changed, "Overdue sweep changed invoices.");
    }
    Ok(changed)
}

/// Where the search cache's catch-up ([`catch_up_cache`]) got to: the start of its last
/// good round (none yet: a new process looks back one cache lifetime, as far as a lost
/// bump can matter).
pub type CacheMark = service_kit::tasks::CatchUpMark;

/// How far each round looks back before the last one started: a change whose
/// transaction began (and took its `updated_at`) just before the last round but
/// committed after it is still seen.
const CATCH_UP_OVERLAP_SECS: i64 = 30;

/// Bumps the search cache's generations again for invoices changed since the last round
/// (see [`crate::outbound::bump_changed_since`]); answers how many sellers' invoices had.
pub async fn catch_up_cache(state: &AppState, mark: &CacheMark) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let ttl = i64::try_from(common::keys::ttl::INVOICE_SEARCH).unwrap_or(i64::MAX);
    let since = mark.since(
        now,
        chrono::Duration::seconds(CATCH_UP_OVERLAP_SECS),
        chrono::Duration::seconds(ttl),
    );
    let bumped = crate::outbound::bump_changed_since(state, since).await?;
    mark.advance(now);
    Ok(bumped)
}
