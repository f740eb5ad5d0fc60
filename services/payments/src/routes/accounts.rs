//! Where a user's money goes.

use actix_web::{HttpResponse, get, put, web};
use common::auth::Role;
use common::events::payments::PaymentStatus;
use common::money::Currency;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, FieldError, JsonBodyErrors, TokenErrors};
use utoipa::{IntoParams, ToSchema};

use crate::domain::PaymentsError;
use crate::provider::ProviderError;
use crate::state::AppState;
use crate::store::entity::{payment, payout_account};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutAccountRequest {
    /// The bank's 3-digit code.
    #[schema(example = "058", pattern = "^[0-9]{3}$")]
    pub bank_code: String,
    /// The 10-digit account number (NUBAN).
    #[schema(example = "0123456789", pattern = "^[0-9]{10}$")]
    pub account_number: String,
    /// The currency paid to this account (one account per currency); NGN when absent.
    pub currency: Option<Currency>,
}

/// Which of your payout accounts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Which {
    /// The account's currency; NGN when absent.
    pub currency: Option<Currency>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutAccountView {
    #[schema(value_type = Currency)]
    pub currency: String,
    pub bank_code: String,
    pub account_number: String,
    /// The name the provider resolved the account to.
    pub account_name: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<&payout_account::Model> for PayoutAccountView {
    fn from(a: &payout_account::Model) -> Self {
        Self {
            currency: a.currency.clone(),
            bank_code: a.bank_code.clone(),
            account_number: a.account_number.clone(),
            account_name: a.account_name.clone(),
            updated_at: a.updated_at,
        }
    }
}

fn digits(errors: &mut Vec<FieldError>, field: &str, value: &str, n: usize) {
    if value.len() != n || !value.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError {
            field: field.to_owned(),
            message: format!("must be {n} digits"),
        });
    }
}

/// Set where your payouts (sellers) or settlements (investors) in a currency are sent.
/// The account is resolved with the provider and its name kept; transfers in that
/// currency waiting for an account are sent at once.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    request_body = PayoutAccountRequest,
    responses(
        (status = 200, description = "Set", body = PayoutAccountView),
        JsonBodyErrors,
        TokenErrors,
        (status = 403, description = "Not a seller or investor"),
        (status = 503, description = "The provider is unavailable; retry"),
    )
)]
#[put("/payout-account")]
pub async fn set(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PayoutAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Seller, Role::Investor])?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    digits(&mut errors, "bank_code", &body.bank_code, 3);
    digits(&mut errors, "account_number", &body.account_number, 10);
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    let refused = |e: ProviderError| match e {
        ProviderError::Unavailable(e) => PaymentsError::Provider(e),
        other => PaymentsError::AccountNotResolved(other.to_string()),
    };
    let currency = body.currency.unwrap_or(Currency::NGN);
    let resolved = state
        .provider
        .resolve_account(&body.bank_code, &body.account_number)
        .await
        .map_err(refused)?;
    let recipient = state
        .provider
        .recipient(
            &resolved.account_name,
            &body.bank_code,
            &body.account_number,
            currency,
        )
        .await
        .map_err(refused)?;
    let now = state.clock.now();
    let row = payout_account::Model {
        user_id: user.id,
        currency: currency.code().to_owned(),
        bank_code: body.bank_code,
        account_number: body.account_number,
        account_name: resolved.account_name,
        recipient_code: recipient,
        updated_at: now,
    };
    let txn = service_kit::db::begin_write(&state.db).await?;
    payout_account::Entity::insert(payout_account::ActiveModel {
        user_id: Set(row.user_id),
        currency: Set(row.currency.clone()),
        bank_code: Set(row.bank_code.clone()),
        account_number: Set(row.account_number.clone()),
        account_name: Set(row.account_name.clone()),
        recipient_code: Set(row.recipient_code.clone()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            payout_account::Column::UserId,
            payout_account::Column::Currency,
        ])
        .update_columns([
            payout_account::Column::BankCode,
            payout_account::Column::AccountNumber,
            payout_account::Column::AccountName,
            payout_account::Column::RecipientCode,
            payout_account::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&*txn)
    .await?;
    txn.commit().await?;
    let waiting = payment::Entity::find()
        .filter(payment::Column::PayeeId.eq(user.id))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
        .filter(payment::Column::Currency.eq(currency.code()))
        .all(&state.db)
        .await?;
    crate::jobs::settlements::enqueue_pending(&state, &waiting).await;
    tracing::info!(user_id = %user.id, waiting = waiting.len(), "Payout account set.");
    Ok(HttpResponse::Ok().json(PayoutAccountView::from(&row)))
}

/// Your payout account in a currency.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    params(Which),
    responses(
        (status = 200, description = "The account", body = PayoutAccountView),
        TokenErrors,
        (status = 404, description = "None set in that currency"),
        (status = 422, description = "An unknown query parameter or currency"),
    )
)]
#[get("/payout-account")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    which: web::Query<Which>,
) -> Result<HttpResponse, ApiError> {
    let currency = which.currency.unwrap_or(Currency::NGN);
    let a = payout_account::Entity::find_by_id((user.id, currency.code().to_owned()))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no {currency} payout account set")))?;
    Ok(HttpResponse::Ok().json(PayoutAccountView::from(&a)))
}
