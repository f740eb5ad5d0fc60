//! Invoices in the database: creation, edits and status changes (the conditional update,
//! the history row and the outbox event in one transaction), each followed, once
//! committed, by its after-commit effects ([`crate::outbound`]). Errors are the domain's
//! ([`InvoiceError`]).

use chrono::{DateTime, Utc};
use common::auth::Role;
use common::enums::BadStoredValue;
use common::events::{Envelope, InvoiceEvent};
use common::ids::{InvoiceId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use service_kit::auth::AuthUser;
use uuid::Uuid;

use crate::domain::{
    Action, Actor, InvoiceError, InvoiceFields, InvoiceStatus, Machine, NotAllowed,
};
use crate::outbound;
use crate::state::AppState;
use crate::store::entity::{history, invoice};

impl From<sea_orm::DbErr> for InvoiceError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

impl From<BadStoredValue> for InvoiceError {
    fn from(e: BadStoredValue) -> Self {
        Self::Store(e.into())
    }
}

impl From<common::events::EventError> for InvoiceError {
    fn from(e: common::events::EventError) -> Self {
        Self::Store(e.into())
    }
}

/// The 412 for an edit or decision on version `seen` of `m`, which is at another
/// version now.
fn stale(m: &invoice::Model, seen: i64) -> InvoiceError {
    match m.view() {
        Ok(current) => InvoiceError::Stale {
            seen,
            current: Box::new(current),
        },
        Err(e) => e.into(),
    }
}

/// `version = version + 1`: every change of an invoice makes a new version.
fn bump() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(invoice::Column::Version).add(1)
}

fn search_text(f: &InvoiceFields) -> String {
    format!("{} {} {}", f.invoice_number, f.debtor_name, f.description).to_lowercase()
}

/// The invoice if `viewer` may see it, else not found (never "forbidden": another's
/// invoice does not exist for you).
pub fn visible_to(m: invoice::Model, viewer: &AuthUser) -> Result<invoice::Model, InvoiceError> {
    let visible = match viewer.role {
        Role::Admin => true,
        Role::Seller => m.seller_id == viewer.id,
        Role::Investor => m.status()?.public(),
    };
    if visible {
        Ok(m)
    } else {
        Err(InvoiceError::NotFound(m.invoice_id()))
    }
}

/// The invoice `id`, if there is one.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: InvoiceId,
) -> Result<Option<invoice::Model>, InvoiceError> {
    Ok(invoice::Entity::find_by_id(id.uuid()).one(db).await?)
}

/// The invoice `id`, or not found.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    id: InvoiceId,
) -> Result<invoice::Model, InvoiceError> {
    find(db, id).await?.ok_or(InvoiceError::NotFound(id))
}

/// A new draft of `seller`'s.
pub async fn create(
    state: &AppState,
    seller: &AuthUser,
    f: InvoiceFields,
) -> Result<invoice::Model, InvoiceError> {
    let now = state.clock.now();
    let id = common::new_id_at(now);
    let txn = service_kit::db::begin_write(&state.db).await?;
    let inserted = invoice::ActiveModel {
        id: Set(id),
        seller_id: Set(seller.id),
        invoice_number: Set(f.invoice_number.clone()),
        debtor_name: Set(f.debtor_name.clone()),
        debtor_email: Set(f.debtor_email.clone()),
        debtor_tax_id: Set(f.debtor_tax_id.clone()),
        amount_minor: Set(f.amount.minor()),
        currency: Set(f.amount.currency().code().to_owned()),
        issue_date: Set(f.issue_date),
        due_date: Set(f.due_date),
        description: Set(f.description.clone()),
        status: Set(InvoiceStatus::Draft.as_str().to_owned()),
        rejection_reason: Set(None),
        search_text: Set(search_text(&f)),
        debtor_search: Set(f.debtor_name.to_lowercase()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&*txn)
    .await;
    let model = match inserted {
        Ok(m) => m,
        Err(e) if service_kit::db::is_unique_violation(&e) => {
            return Err(InvoiceError::DuplicateNumber(f.invoice_number));
        }
        Err(e) => return Err(e.into()),
    };
    record_history(
        &*txn,
        id,
        None,
        InvoiceStatus::Draft,
        Actor::user(seller),
        None,
        now,
    )
    .await?;
    txn.commit().await?;
    // A draft: only its seller's and the admins' results can change.
    outbound::invalidate(state, model.seller_id, false).await;
    Ok(model)
}

/// Replaces a draft's or rejected invoice's fields, if it is still at version `seen`.
pub async fn update(
    state: &AppState,
    current: &invoice::Model,
    seen: i64,
    f: InvoiceFields,
) -> Result<invoice::Model, InvoiceError> {
    if seen != current.version {
        return Err(stale(current, seen));
    }
    let now = state.clock.now();
    let res = invoice::Entity::update_many()
        .col_expr(
            invoice::Column::InvoiceNumber,
            Expr::value(f.invoice_number.clone()),
        )
        .col_expr(
            invoice::Column::DebtorName,
            Expr::value(f.debtor_name.clone()),
        )
        .col_expr(
            invoice::Column::DebtorEmail,
            Expr::value(f.debtor_email.clone()),
        )
        .col_expr(
            invoice::Column::DebtorTaxId,
            Expr::value(f.debtor_tax_id.clone()),
        )
        .col_expr(invoice::Column::AmountMinor, Expr::value(f.amount.minor()))
        .col_expr(
            invoice::Column::Currency,
            Expr::value(f.amount.currency().code()),
        )
        .col_expr(invoice::Column::IssueDate, Expr::value(f.issue_date))
        .col_expr(invoice::Column::DueDate, Expr::value(f.due_date))
        .col_expr(
            invoice::Column::Description,
            Expr::value(f.description.clone()),
        )
        .col_expr(invoice::Column::SearchText, Expr::value(search_text(&f)))
        .col_expr(
            invoice::Column::DebtorSearch,
            Expr::value(f.debtor_name.to_lowercase()),
        )
        .col_expr(invoice::Column::UpdatedAt, Expr::value(now))
        .col_expr(invoice::Column::Version, bump())
        .filter(invoice::Column::Id.eq(current.id))
        .filter(invoice::Column::Version.eq(seen))
        .filter(invoice::Column::Status.is_in([
            InvoiceStatus::Draft.as_str(),
            InvoiceStatus::Rejected.as_str(),
        ]))
        .exec(&state.db)
        .await;
    match res {
        Ok(r) if r.rows_affected == 1 => {}
        Ok(_) => {
            let now = get(&state.db, current.invoice_id()).await?;
            let now_status = now.status()?;
            if !now_status.editable() {
                return Err(InvoiceError::NotEditable(now_status));
            }
            return Err(stale(&now, seen));
        }
        Err(e) if service_kit::db::is_unique_violation(&e) => {
            return Err(InvoiceError::DuplicateNumber(f.invoice_number));
        }
        Err(e) => return Err(e.into()),
    }
    // Drafts and rejected invoices: never among the listed ones.
    outbound::invalidate(state, current.seller_id, false).await;
    get(&state.db, current.invoice_id()).await
}

/// A status change that committed.
#[derive(Debug, Clone)]
pub struct Changed {
    pub invoice: invoice::Model,
    pub from: InvoiceStatus,
    pub to: InvoiceStatus,
}

/// A status change asked for: what, by whom, why, and (for a decision on what someone
/// reviewed) the version it was made on.
#[derive(Debug, Clone, Copy)]
struct Step<'a> {
    action: Action,
    actor: Actor,
    reason: Option<&'a str>,
    seen: Option<i64>,
}

/// Applies `action` to `current` inside `txn`: the conditional update (`WHERE status =
/// current`), the history row and the event. Refused if the machine does not allow it.
/// If the invoice changed since `current` was read (a concurrent change won), the action
/// is tried again on what it now is: a cancel that loses to a verify still cancels the
/// listed invoice; a second verify finds it listed and is refused.
pub async fn transition_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    current: &invoice::Model,
    action: Action,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Changed, InvoiceError> {
    let step = Step {
        action,
        actor,
        reason,
        seen: None,
    };
    transition_step(txn, clock, current, step).await
}

/// [`transition_in`] for any [`Step`]. With a version seen, a change since is a 412 at the
/// first attempt (see [`try_transition`]), never retried on what the invoice now is.
async fn transition_step<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    current: &invoice::Model,
    step: Step<'_>,
) -> Result<Changed, InvoiceError> {
    let mut from = current.status()?;
    for _ in 0..3 {
        match try_transition(txn, clock, current, from, step).await? {
            Ok(changed) => return Ok(changed),
            Err(now) => from = now,
        }
    }
    Err(NotAllowed {
        from,
        action: step.action,
    }
    .into())
}

/// One attempt from `from`: `Ok(Err(now))` when the invoice is no longer `from`.
async fn try_transition<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    current: &invoice::Model,
    from: InvoiceStatus,
    step: Step<'_>,
) -> Result<Result<Changed, InvoiceStatus>, InvoiceError> {
    let Step {
        action,
        actor,
        reason,
        seen,
    } = step;
    let to = from.apply(action)?;
    let now = clock.now();
    let mut update = invoice::Entity::update_many()
        .col_expr(invoice::Column::Status, Expr::value(to.as_str()))
        .col_expr(invoice::Column::UpdatedAt, Expr::value(now))
        .col_expr(invoice::Column::Version, bump());
    if let Some(v) = seen {
        update = update.filter(invoice::Column::Version.eq(v));
    }
    update = match action {
        Action::Reject => update.col_expr(invoice::Column::RejectionReason, Expr::value(reason)),
        Action::Submit => update.col_expr(
            invoice::Column::RejectionReason,
            Expr::value(Option::<String>::None),
        ),
        _ => update,
    };
    let res = update
        .filter(invoice::Column::Id.eq(current.id))
        .filter(invoice::Column::Status.eq(from.as_str()))
        .exec(txn)
        .await?;
    if res.rows_affected == 0 {
        let now = invoice::Entity::find_by_id(current.id).one(txn).await?;
        let now_status = match &now {
            Some(m) => m.status()?,
            None => from,
        };
        if let (Some(now), Some(seen)) = (&now, seen) {
            // A decision on a version: refused if the action no longer applies (409),
            // else because it changed since it was reviewed (412); never tried again.
            now_status.apply(action)?;
            return Err(stale(now, seen));
        }
        if now_status == from {
            return Err(NotAllowed { from, action }.into());
        }
        return Ok(Err(now_status));
    }
    record_history(txn, current.id, Some(from), to, actor, reason, now).await?;
    let updated = invoice::Entity::find_by_id(current.id)
        .one(txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("invoice {} vanished", current.id))?;
    let change = updated.changed(from, to, actor, reason)?;
    let event = Envelope::of(InvoiceEvent::of(change), clock)?;
    service_kit::outbox::add(txn, &event).await?;
    Ok(Ok(Changed {
        invoice: updated,
        from,
        to,
    }))
}

/// A person's decision on what they reviewed at version `seen` (an admin's verify or
/// reject): applied only if the invoice is still at that version (412 otherwise, with the
/// invoice as it is now), in a transaction of its own, with the after-commit effects.
pub async fn decide(
    state: &AppState,
    current: &invoice::Model,
    action: Action,
    actor: Actor,
    reason: Option<&str>,
    seen: i64,
) -> Result<Changed, InvoiceError> {
    let step = Step {
        action,
        actor,
        reason,
        seen: Some(seen),
    };
    commit_step(state, current, step).await
}

/// [`transition_in`] in a transaction of its own, with the after-commit effects.
pub async fn transition(
    state: &AppState,
    current: &invoice::Model,
    action: Action,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Changed, InvoiceError> {
    let step = Step {
        action,
        actor,
        reason,
        seen: None,
    };
    commit_step(state, current, step).await
}

async fn commit_step(
    state: &AppState,
    current: &invoice::Model,
    step: Step<'_>,
) -> Result<Changed, InvoiceError> {
    let txn = service_kit::db::begin_write(&state.db).await?;
    let changed = transition_step(&*txn, state.clock.as_ref(), current, step).await?;
    txn.commit().await?;
    outbound::after_change(state, &changed.invoice.view()?).await;
    Ok(changed)
}

async fn record_history<C: ConnectionTrait>(
    db: &C,
    invoice_id: Uuid,
    from: Option<InvoiceStatus>,
    to: InvoiceStatus,
    actor: Actor,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    history::ActiveModel {
        id: Set(common::new_id_at(at)),
        invoice_id: Set(invoice_id),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        actor_id: Set(actor.id.map(UserId::uuid)),
        actor: Set(actor.kind.as_str().to_owned()),
        reason: Set(reason.map(str::to_owned)),
        at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(())
}
