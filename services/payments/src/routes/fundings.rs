//! What investors owe and how they pay it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use common::auth::Role;
use common::events::payments::{PaymentKind, PaymentStatus};
use common::ids::UserId;
use serde::Serialize;
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, TokenErrors};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{FinancingStatus, PaymentsError};
use crate::provider::Checkout;
use crate::state::AppState;
use crate::store::entity::payment;
use crate::store::financings::{self, FinancingView, NewPayment, PaymentView};

#[derive(Debug, Serialize, ToSchema)]
pub struct FinancingList {
    pub items: Vec<FinancingView>,
}

/// The financings you are a party to, newest first (admins: all): what is owed, by
/// when, and what has been paid.
#[utoipa::path(
    tag = "fundings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Financings", body = FinancingList),
        TokenErrors,
    )
)]
#[get("/fundings")]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let rows = financings::list_for(&state.db, UserId(user.id), user.role, 200).await?;
    let items = rows
        .iter()
        .map(FinancingView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(FinancingList { items }))
}

/// A checkout at the provider for what the investor owes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutView {
    pub payment_id: Uuid,
    /// Ours, unique: the provider knows the payment by it.
    pub reference: String,
    /// Where the investor pays (the provider's page).
    pub authorization_url: String,
    pub amount_minor: i64,
    #[schema(value_type = String, example = "NGN")]
    pub currency: common::money::Currency,
}

/// The `Idempotency-Key` header, if sent: 1 to 128 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(raw) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    match raw.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        _ => Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 128 visible ASCII characters".into(),
        )),
    }
}

/// Start paying a funding obligation: a provider checkout for the price. The same
/// checkout is answered again while it is pending (and for the same `Idempotency-Key`);
/// after a declined or failed one, a new one is made.
#[utoipa::path(
    tag = "fundings",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Financing id"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,128}$", description = "Makes a retried request answer the same checkout (1-128 visible ASCII characters)"),
    ),
    responses(
        (status = 200, description = "The checkout", body = CheckoutView),
        (status = 400, description = "Malformed Idempotency-Key"),
        TokenErrors,
        (status = 403, description = "Not an investor"),
        (status = 404, description = "No such financing of yours"),
        (status = 409, description = "Not awaiting funding, or its window closed"),
        (status = 503, description = "The provider is unavailable; retry"),
    )
)]
#[post("/fundings/{id}/checkout")]
pub async fn checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Investor])?;
    let key = idempotency_key(&req)?;
    let f = financings::find(&state.db, *id).await?;
    if f.investor_id != user.id {
        return Err(PaymentsError::NoFinancing(*id).into());
    }
    let status = f.status();
    let allowed = match status {
        Ok(FinancingStatus::AwaitingFunding) if state.clock.now() > f.funding_due_at => {
            Err(PaymentsError::WindowClosed(f.funding_due_at))
        }
        Ok(FinancingStatus::AwaitingFunding) => Ok(()),
        Ok(other) => Err(PaymentsError::NotAwaitingFunding(other)),
        Err(e) => Err(e.into()),
    };
    let link = Link {
        kind: PaymentKind::Funding,
        amount_minor: f.price_minor,
        payer: Some(user.id),
        email: format!("{}@users.vestio.invalid", user.id),
        key,
    };
    let view = link.answer(&state, &f, allowed).await?;
    tracing::info!(payment_id = %view.payment_id, financing_id = %f.id, "Funding checkout answered.");
    Ok(HttpResponse::Ok().json(view))
}

/// A payment link (a provider checkout) of one kind on a financing.
struct Link {
    kind: PaymentKind,
    amount_minor: i64,
    payer: Option<Uuid>,
    email: String,
    key: Option<String>,
}

impl Link {
    /// The link to answer: the one a repeated `Idempotency-Key` names (whatever happened
    /// since); else, if `allowed`, the pending one for this amount when it has a link,
    /// else a new payment (or the pending one without a link) started at the provider.
    async fn answer(
        self,
        state: &AppState,
        f: &crate::store::entity::financing::Model,
        allowed: Result<(), PaymentsError>,
    ) -> Result<CheckoutView, ApiError> {
        let mine: Vec<payment::Model> = financings::payments_of(&state.db, f.id)
            .await?
            .into_iter()
            .filter(|p| p.kind == self.kind.as_str())
            .rev()
            .collect();
        let repeated = self.key.as_deref().and_then(|k| {
            mine.iter()
                .find(|p| p.idempotency_key.as_deref() == Some(k))
        });
        if let Some((p, url)) = repeated.and_then(|p| Some((p, p.authorization_url.as_ref()?))) {
            return view(p, url);
        }
        allowed?;
        let pending = mine.iter().find(|p| {
            p.status == PaymentStatus::Pending.as_str() && p.amount_minor == self.amount_minor
        });
        if let Some((p, url)) = pending.and_then(|p| Some((p, p.authorization_url.as_ref()?))) {
            return view(p, url);
        }
        let p = match pending {
            Some(p) => p.clone(),
            None => {
                let txn = service_kit::db::begin_write(&state.db).await?;
                let p = financings::new_payment(
                    &*txn,
                    state.clock.now(),
                    f,
                    self.kind,
                    self.amount_minor,
                    state.provider.name(),
                    NewPayment {
                        payer: self.payer,
                        idempotency_key: self.key.clone(),
                        ..NewPayment::default()
                    },
                )
                .await?;
                txn.commit().await?;
                p
            }
        };
        let started = state
            .provider
            .initialize(Checkout {
                reference: &p.reference,
                amount_minor: p.amount_minor,
                currency: p.currency()?,
                email: &self.email,
            })
            .await
            .map_err(|e| PaymentsError::Provider(e.to_string()))?;
        financings::set_checkout(
            &state.db,
            &p,
            &started.authorization_url,
            self.key.as_deref(),
        )
        .await?;
        view(&p, &started.authorization_url)
    }
}

fn view(p: &payment::Model, url: &str) -> Result<CheckoutView, ApiError> {
    Ok(CheckoutView {
        payment_id: p.id,
        reference: p.reference.clone(),
        authorization_url: url.to_owned(),
        amount_minor: p.amount_minor,
        currency: p.currency()?,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FinancingDetail {
    #[serde(flatten)]
    pub financing: FinancingView,
    /// Every payment of the financing, oldest first.
    pub payments: Vec<PaymentView>,
}

/// One financing with its payments: its investor, its seller and admins may see it.
#[utoipa::path(
    tag = "fundings",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Financing id")),
    responses(
        (status = 200, description = "The financing", body = FinancingDetail),
        TokenErrors,
        (status = 404, description = "No such financing of yours"),
    )
)]
#[get("/fundings/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let f = financings::find(&state.db, *id).await?;
    if !financings::visible_to(&f, user.id, user.role) {
        return Err(PaymentsError::NoFinancing(*id).into());
    }
    let payments = financings::payments_of(&state.db, f.id)
        .await?
        .iter()
        .map(PaymentView::try_from)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(FinancingDetail {
        financing: FinancingView::try_from(&f)?,
        payments,
    }))
}

/// A payment link for what the debtor still owes on a funded invoice (the seller or an
/// admin sends it to the debtor). Part-payments are taken; once nothing is outstanding
/// the invoice is repaid; money beyond what is owed is refunded. While a link for the
/// amount outstanding is pending the same one is answered.
#[utoipa::path(
    tag = "fundings",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,128}$", description = "Makes a retried request answer the same link (1-128 visible ASCII characters)"),
    ),
    responses(
        (status = 200, description = "The payment link", body = CheckoutView),
        (status = 400, description = "Malformed Idempotency-Key"),
        TokenErrors,
        (status = 403, description = "Not a seller or admin"),
        (status = 404, description = "No financing of this invoice of yours"),
        (status = 409, description = "Not funded yet, or nothing outstanding"),
        (status = 503, description = "The provider is unavailable; retry"),
    )
)]
#[post("/invoices/{id}/repayment")]
pub async fn repayment(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Seller, Role::Admin])?;
    let key = idempotency_key(&req)?;
    let invoice = *id;
    let f = financings::of_invoice(&state.db, invoice)
        .await?
        .filter(|f| financings::visible_to(f, user.id, user.role))
        .ok_or_else(|| ApiError::NotFound(format!("no financing of invoice {invoice}")))?;
    let allowed = match f.status()? {
        FinancingStatus::Funded if f.outstanding_minor() > 0 => Ok(()),
        FinancingStatus::AwaitingFunding => Err(PaymentsError::NotFunded),
        _ => Err(PaymentsError::NothingOutstanding),
    };
    let link = Link {
        kind: PaymentKind::Repayment,
        amount_minor: f.outstanding_minor(),
        payer: None,
        email: format!("debtor+{invoice}@users.vestio.invalid"),
        key,
    };
    let view = link.answer(&state, &f, allowed).await?;
    tracing::info!(payment_id = %view.payment_id, financing_id = %f.id, "Repayment link answered.");
    Ok(HttpResponse::Ok().json(view))
}
