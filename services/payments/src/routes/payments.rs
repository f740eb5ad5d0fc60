//! One payment, for its parties.

use actix_web::{HttpResponse, get, web};
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, TokenErrors};
use uuid::Uuid;

use crate::domain::PaymentsError;
use crate::state::AppState;
use crate::store::entity::payment;
use crate::store::financings::{self, PaymentView};

/// A payment: the investor and seller of its financing and admins may see it.
#[utoipa::path(
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        TokenErrors,
        (status = 404, description = "No such payment of yours"),
    )
)]
#[get("/payments/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    use sea_orm::EntityTrait;
    let id = id.into_inner();
    let p = payment::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(PaymentsError::NoPayment(id))?;
    let f = financings::find(&state.db, p.financing_id).await?;
    if !financings::visible_to(&f, user.id, user.role) {
        return Err(PaymentsError::NoPayment(id).into());
    }
    Ok(HttpResponse::Ok().json(PaymentView::try_from(&p)?))
}
