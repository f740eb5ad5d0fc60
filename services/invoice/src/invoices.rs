//! Invoices in the database: creation, edits, and status changes (conditional update,
//! history row and outbox event in one transaction), and what happens after a commit
//! (live message, cache generation bump, relay wake-up).

use chrono::{DateTime, NaiveDate, Utc};
use common::auth::{AuthUser, Role};
use common::enums::{BadStoredValue, stored};
use common::events::invoice::ActorKind;
use common::http::ApiError;
use common::ids::{InvoiceId, UserId};
use common::money::{Currency, Money};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Action, InvoiceFields, InvoiceStatus, Machine, NotAllowed};
use crate::entity::{history, invoice};
use crate::state::AppState;

/// The scope whose cache generation every invoice write bumps.
pub const CACHE_SCOPE: &str = "invoices";
/// The cache scope of what investors see (listed invoices): bumped only by status changes.
pub const LISTED_SCOPE: &str = "invoices.listed";

/// The cache scope of one seller's own invoices.
pub fn seller_scope(seller_id: Uuid) -> String {
    format!("invoices.seller.{seller_id}")
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DebtorView {
    pub name: String,
    pub email: Option<String>,
    pub tax_id: Option<String>,
}

/// An invoice as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceView {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub invoice_number: String,
    pub debtor: DebtorView,
    /// Decimal string, two decimals.
    #[schema(example = "1500000.00")]
    pub amount: String,
    #[schema(value_type = String, example = "NGN")]
    pub currency: Currency,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub description: String,
    pub status: InvoiceStatus,
    /// The admin's reason, while rejected.
    pub rejection_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; also the `ETag`. An edit (`PATCH`) and an admin's verify
    /// or reject name the version they were made on in `If-Match`.
    #[schema(minimum = 1, example = 1)]
    pub version: i64,
}

/// The invoice's status, or an error naming the row if the stored word is not one.
pub fn status_of(m: &invoice::Model) -> Result<InvoiceStatus, BadStoredValue> {
    stored("invoices", m.id, "status", &m.status)
}

/// The invoice's currency, or an error naming the row.
pub fn currency_of(m: &invoice::Model) -> Result<Currency, BadStoredValue> {
    stored("invoices", m.id, "currency", &m.currency)
}

pub fn view(m: &invoice::Model) -> Result<InvoiceView, BadStoredValue> {
    let currency = currency_of(m)?;
    Ok(InvoiceView {
        id: m.id,
        seller_id: m.seller_id,
        invoice_number: m.invoice_number.clone(),
        debtor: DebtorView {
            name: m.debtor_name.clone(),
            email: m.debtor_email.clone(),
            tax_id: m.debtor_tax_id.clone(),
        },
        amount: Money::from_minor(m.amount_minor, currency).to_decimal_string(),
        currency,
        issue_date: m.issue_date,
        due_date: m.due_date,
        description: m.description.clone(),
        status: status_of(m)?,
        rejection_reason: m.rejection_reason.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// `status` with `m` as JSON and its `ETag`.
pub fn respond(
    status: actix_web::http::StatusCode,
    m: &invoice::Model,
) -> Result<actix_web::HttpResponse, ApiError> {
    Ok(common::http::version::respond(status, m.version, &view(m)?))
}

/// The 412 for a decision on version `seen` of `m`, which is at another version now.
pub fn stale(m: &invoice::Model, seen: i64) -> ApiError {
    match view(m).map(serde_json::to_value) {
        Ok(Ok(current)) => common::http::version::stale("invoice", seen, m.version, current),
        Ok(Err(e)) => ApiError::internal(e),
        Err(e) => e.into(),
    }
}

/// `version = version + 1`: every change of an invoice makes a new version.
fn bump() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(invoice::Column::Version).add(1)
}

pub fn fields_of(m: &invoice::Model) -> Result<InvoiceFields, BadStoredValue> {
    Ok(InvoiceFields {
        invoice_number: m.invoice_number.clone(),
        debtor_name: m.debtor_name.clone(),
        debtor_email: m.debtor_email.clone(),
        debtor_tax_id: m.debtor_tax_id.clone(),
        amount: Money::from_minor(m.amount_minor, currency_of(m)?),
        issue_date: m.issue_date,
        due_date: m.due_date,
        description: m.description.clone(),
    })
}

fn search_text(f: &InvoiceFields) -> String {
    format!("{} {} {}", f.invoice_number, f.debtor_name, f.description).to_lowercase()
}

/// Who changed an invoice.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub id: Option<UserId>,
    pub kind: ActorKind,
}

impl Actor {
    pub fn user(user: &AuthUser) -> Self {
        Self {
            id: Some(UserId(user.id)),
            kind: user.role.into(),
        }
    }
    /// The invoice service's own sweep.
    pub const SYSTEM: Actor = Actor {
        id: None,
        kind: ActorKind::System,
    };
    /// Marketplace's acceptance saga.
    pub const MARKETPLACE: Actor = Actor {
        id: None,
        kind: ActorKind::Marketplace,
    };
    /// Payments' results.
    pub const PAYMENTS: Actor = Actor {
        id: None,
        kind: ActorKind::Payments,
    };
}

/// The invoice if `viewer` may see it, else 404 (never 403: another's invoice does not
/// exist for you).
pub fn visible_to(m: invoice::Model, viewer: &AuthUser) -> Result<invoice::Model, ApiError> {
    let visible = match viewer.role {
        Role::Admin => true,
        Role::Seller => m.seller_id == viewer.id,
        Role::Investor => status_of(&m)?.public(),
    };
    if visible {
        Ok(m)
    } else {
        Err(not_found(m.invoice_id()))
    }
}

pub fn not_found(id: InvoiceId) -> ApiError {
    ApiError::NotFound(format!("no invoice {id}"))
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: InvoiceId,
) -> Result<Option<invoice::Model>, ApiError> {
    Ok(invoice::Entity::find_by_id(id.uuid()).one(db).await?)
}

fn duplicate_number(f: &InvoiceFields) -> ApiError {
    ApiError::Conflict(format!(
        "invoice_number {} is already used by another of your invoices",
        f.invoice_number
    ))
}

/// A new draft of `seller`'s.
pub async fn create(
    state: &AppState,
    seller: &AuthUser,
    f: InvoiceFields,
) -> Result<invoice::Model, ApiError> {
    let now = state.clock.now();
    let id = common::new_id_at(now);
    let txn = common::db::begin_write(&state.db).await?;
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
        Err(e) if common::db::is_unique_violation(&e) => return Err(duplicate_number(&f)),
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
    invalidate(state, model.seller_id, false).await;
    Ok(model)
}

/// Replaces a draft's or rejected invoice's fields, if it is still at version `seen`.
pub async fn update(
    state: &AppState,
    current: &invoice::Model,
    seen: i64,
    f: InvoiceFields,
) -> Result<invoice::Model, ApiError> {
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
            let Some(now) = find(&state.db, current.invoice_id()).await? else {
                return Err(not_found(current.invoice_id()));
            };
            let now_status = status_of(&now)?;
            if !now_status.editable() {
                return Err(ApiError::Conflict(format!(
                    "cannot edit an invoice that is {now_status}; only drafts and rejected invoices can change"
                )));
            }
            return Err(stale(&now, seen));
        }
        Err(e) if common::db::is_unique_violation(&e) => return Err(duplicate_number(&f)),
        Err(e) => return Err(e.into()),
    }
    // Drafts and rejected invoices: never among the listed ones.
    invalidate(state, current.seller_id, false).await;
    find(&state.db, current.invoice_id())
        .await?
        .ok_or_else(|| not_found(current.invoice_id()))
}

/// A status change that committed.
#[derive(Debug, Clone)]
pub struct Changed {
    pub invoice: invoice::Model,
    pub from: InvoiceStatus,
    pub to: InvoiceStatus,
}

/// Why a transition did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
    #[error(transparent)]
    BadStored(#[from] BadStoredValue),
    /// A decision on a version that is no longer current (412).
    #[error("{0}")]
    Stale(Box<ApiError>),
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotAllowed(n) => ApiError::Conflict(n.to_string()),
            TransitionError::Db(d) => d.into(),
            TransitionError::Other(o) => ApiError::Internal(o),
            TransitionError::BadStored(b) => b.into(),
            TransitionError::Stale(e) => *e,
        }
    }
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
) -> Result<Changed, TransitionError> {
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
) -> Result<Changed, TransitionError> {
    let mut from = status_of(current)?;
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
) -> Result<Result<Changed, InvoiceStatus>, TransitionError> {
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
            Some(m) => status_of(m)?,
            None => from,
        };
        if let (Some(now), Some(seen)) = (&now, seen) {
            // A decision on a version: refused if the action no longer applies (409),
            // else because it changed since it was reviewed (412); never tried again.
            now_status.apply(action)?;
            return Err(TransitionError::Stale(Box::new(stale(now, seen))));
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
    let event = crate::events::status_event(&updated, from, to, actor, reason, clock)?;
    common::outbox::add(txn, &event).await?;
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
) -> Result<Changed, ApiError> {
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
) -> Result<Changed, ApiError> {
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
) -> Result<Changed, ApiError> {
    let txn = common::db::begin_write(&state.db).await?;
    let changed = transition_step(&*txn, state.clock.as_ref(), current, step).await?;
    txn.commit().await?;
    after_change(state, &changed.invoice).await;
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

/// The live message on `invoice:{id}`: the invoice as it now is.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveStatus {
    pub invoice_id: Uuid,
    pub status: InvoiceStatus,
    pub updated_at: DateTime<Utc>,
}

/// After a committed change: searches see it (new cache generation), the relay sends its
/// event, and subscribers of `invoice:{id}` hear of it. Failures are logged: the change
/// itself has happened.
pub async fn after_change(state: &AppState, m: &invoice::Model) {
    invalidate(state, m.seller_id, true).await;
    state.relay.wake();
    let status = match status_of(m) {
        Ok(status) => status,
        Err(error) => {
            tracing::error!(%error, "Invoice status not published.");
            return;
        }
    };
    let live = LiveStatus {
        invoice_id: m.id,
        status,
        updated_at: m.updated_at,
    };
    if let Err(error) =
        common::pubsub::publish(&state.redis, &state.keys.invoice_channel(m.id), &live).await
    {
        tracing::warn!(%error, invoice_id = %m.id, "Invoice status not published.");
    }
}

/// Bumps the generations whose results a change can alter: every change alters the admins'
/// (all invoices) and its seller's; a status change may also move an invoice into or out
/// of the listed ones investors see.
async fn invalidate(state: &AppState, seller_id: Uuid, status_changed: bool) {
    let seller = seller_scope(seller_id);
    let mut scopes = vec![CACHE_SCOPE, seller.as_str()];
    if status_changed {
        scopes.push(LISTED_SCOPE);
    }
    if let Err(error) = state.cache.invalidate_all(&scopes).await {
        // Entries of the old generation then live out their 300 s TTL.
        tracing::warn!(%error, "Invoice search cache generation not bumped.");
    }
}
