//! The ledger, for admins.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::{ApiError, TokenErrors};
use utoipa::ToSchema;

use crate::state::AppState;
use crate::store::financings::PaymentView;
use crate::store::ledger::{self, TrialBalance};

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceReport {
    /// One row per currency the ledger has entries in.
    pub currencies: Vec<TrialBalance>,
    /// Every invariant that does not hold, in words (empty when the ledger is sound):
    /// balanced postings, no negative liability, balances equal to their entries.
    pub broken: Vec<String>,
}

/// The trial balance per currency, and the ledger's invariants.
#[utoipa::path(
    tag = "ledger",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The trial balance", body = TrialBalanceReport),
        TokenErrors,
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/ledger/trial-balance")]
pub async fn trial_balance(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    Ok(HttpResponse::Ok().json(TrialBalanceReport {
        currencies: ledger::trial_balance(&state.db).await?,
        broken: ledger::check(&state.db).await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationReport {
    /// Payments pending longer than `PAYMENTS_RECONCILE_AFTER_SECS` (the sweep keeps
    /// checking them with the provider), oldest first.
    pub stale: Vec<PaymentView>,
    /// Payments whose figures the provider disagrees with (their note says how).
    pub mismatches: Vec<PaymentView>,
    /// Webhook deliveries accepted and not applied yet, oldest first: normally none or
    /// a few for a few milliseconds; one with `attempts` failed and waits for its retry.
    pub waiting_webhooks: Vec<WaitingWebhook>,
}

/// An accepted webhook delivery whose effect is not applied yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingWebhook {
    pub id: uuid::Uuid,
    /// The provider's id of the event.
    pub event_key: String,
    pub event_type: String,
    pub payment_id: Option<uuid::Uuid>,
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// Failed attempts to apply it.
    pub attempts: i32,
    pub last_error: Option<String>,
    /// When it is tried again (after a failure).
    pub apply_after: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the provider and the ledger disagree on, or has not settled in time.
#[utoipa::path(
    tag = "ledger",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = ReconciliationReport),
        TokenErrors,
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/reconciliation")]
pub async fn reconciliation(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    use common::events::payments::PaymentStatus;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

    use crate::store::entity::payment;
    RequireRole::admin(&user)?;
    let before = state.clock.now() - state.config.reconcile_after;
    let views = |rows: Vec<payment::Model>| -> Result<Vec<PaymentView>, ApiError> {
        Ok(rows
            .iter()
            .map(PaymentView::try_from)
            .collect::<Result<_, _>>()?)
    };
    let stale = payment::Entity::find()
        .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
        .filter(payment::Column::UpdatedAt.lt(before))
        .order_by_asc(payment::Column::UpdatedAt)
        .limit(500)
        .all(&state.db)
        .await?;
    let mismatches = payment::Entity::find()
        .filter(payment::Column::Note.starts_with(crate::store::outcomes::MISMATCH))
        .order_by_desc(payment::Column::UpdatedAt)
        .limit(500)
        .all(&state.db)
        .await?;
    let waiting_webhooks = crate::store::receipts::unapplied(&state.db, 500)
        .await?
        .into_iter()
        .map(|r| WaitingWebhook {
            id: r.id,
            event_key: r.event_key,
            event_type: r.event_type,
            payment_id: r.payment_id,
            received_at: r.received_at,
            attempts: r.attempts,
            last_error: r.last_error,
            apply_after: r.apply_after,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ReconciliationReport {
        stale: views(stale)?,
        mismatches: views(mismatches)?,
        waiting_webhooks,
    }))
}

/// A page of accounts: after the account a cursor names.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// The `next_cursor` of the previous page: the code and currency of the last account
    /// shown, space between.
    #[param(max_length = 120, pattern = " ")]
    pub cursor: Option<String>,
    /// 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// A page of entries: older than the entry a cursor names.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesPage {
    /// The `next_cursor` of the previous page: the id of the last entry shown.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

fn limit_of(limit: Option<u64>) -> Result<u64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field("limit", "must be between 1 and 200")),
    }
}

impl Page {
    fn limit(&self) -> Result<u64, ApiError> {
        if self
            .cursor
            .as_ref()
            .is_some_and(|c| c.chars().count() > 120)
        {
            return Err(ApiError::field("cursor", "must be at most 120 characters"));
        }
        limit_of(self.limit)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: uuid::Uuid,
    /// `provider_clearing`, `escrow:{invoice}`, `seller_payable:{user}`, ...
    pub code: String,
    pub currency: String,
    #[schema(pattern = "^(asset|liability|revenue)$")]
    pub kind: String,
    /// On the account's normal side (assets by debits, the rest by credits).
    pub balance_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub items: Vec<AccountView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The ledger's accounts, by code (cursor pages).
#[utoipa::path(
    tag = "ledger",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, description = "A page of accounts", body = AccountPage),
        (status = 400, description = "A cursor this route did not give"),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 422, description = "An unknown query parameter, a cursor longer than 120 characters, or limit out of range"),
    )
)]
#[get("/ledger/accounts")]
pub async fn accounts(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

    use crate::store::entity::ledger_account;
    RequireRole::admin(&user)?;
    let limit = page.limit()?;
    let mut q = ledger_account::Entity::find();
    if let Some(after) = &page.cursor {
        // "{code} {currency}" of the last account shown.
        let (code, currency) = after
            .rsplit_once(' ')
            .ok_or_else(|| ApiError::BadRequest("cursor is not one this route gave".into()))?;
        q = q.filter(
            sea_orm::Condition::any()
                .add(ledger_account::Column::Code.gt(code))
                .add(
                    sea_orm::Condition::all()
                        .add(ledger_account::Column::Code.eq(code))
                        .add(ledger_account::Column::Currency.gt(currency)),
                ),
        );
    }
    let rows = q
        .order_by_asc(ledger_account::Column::Code)
        .order_by_asc(ledger_account::Column::Currency)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let more = rows.len() as u64 > limit;
    let shown = rows.into_iter().take(limit as usize).collect();
    let items: Vec<AccountView> = crate::store::ledger::with_balances(&state.db, shown)
        .await?
        .into_iter()
        .map(|(a, balance_minor)| AccountView {
            id: a.id,
            code: a.code,
            currency: a.currency,
            kind: a.kind,
            balance_minor,
        })
        .collect();
    let next_cursor = more
        .then(|| items.last().map(|a| format!("{} {}", a.code, a.currency)))
        .flatten();
    Ok(HttpResponse::Ok().json(AccountPage { items, next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub id: uuid::Uuid,
    pub posting_id: uuid::Uuid,
    #[schema(pattern = "^(debit|credit)$")]
    pub side: String,
    pub amount_minor: i64,
    /// The account's balance right after this entry; null on the pooled accounts
    /// (`provider_clearing`, `fee_revenue`), whose balance is the sum of their entries.
    pub balance_after: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPage {
    pub items: Vec<EntryView>,
    pub next_cursor: Option<String>,
}

/// An account's entries, newest first (cursor pages).
#[utoipa::path(
    tag = "ledger",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id"), EntriesPage),
    responses(
        (status = 200, description = "A page of entries", body = EntryPage),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such account"),
        (status = 422, description = "An unknown query parameter, a cursor that is not an entry id, or limit out of range"),
    )
)]
#[get("/ledger/accounts/{id}/entries")]
pub async fn entries(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<uuid::Uuid>,
    page: web::Query<EntriesPage>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

    use crate::store::entity::{ledger_account, ledger_entry};
    RequireRole::admin(&user)?;
    let limit = limit_of(page.limit)?;
    let id = id.into_inner();
    ledger_account::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no ledger account {id}")))?;
    let mut q = ledger_entry::Entity::find().filter(ledger_entry::Column::AccountId.eq(id));
    if let Some(before) = page.cursor {
        q = q.filter(ledger_entry::Column::Id.lt(before));
    }
    let rows = q
        .order_by_desc(ledger_entry::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let more = rows.len() as u64 > limit;
    let items: Vec<EntryView> = rows
        .into_iter()
        .take(limit as usize)
        .map(|e| EntryView {
            id: e.id,
            posting_id: e.posting_id,
            side: e.side,
            amount_minor: e.amount_minor,
            balance_after: e.balance_after,
            created_at: e.created_at,
        })
        .collect();
    let next_cursor = more
        .then(|| items.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(EntryPage { items, next_cursor }))
}
