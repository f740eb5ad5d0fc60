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
