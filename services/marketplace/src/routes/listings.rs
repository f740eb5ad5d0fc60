//! One listing with its offer summary; each view counts towards trending.

use actix_web::{HttpResponse, get, web};
use common::auth::Role;
use common::ids::InvoiceId;
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, TokenErrors};

use crate::state::AppState;
use crate::store::listings::{self, LISTED, ListingView};

/// A listed invoice (investors), the seller's own, or any (admins), with its offers in
/// short. Each investor's view of a listed invoice counts towards trending (once per
/// investor, invoice and minute).
#[utoipa::path(
    tag = "listings",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The listing", body = ListingView),
        TokenErrors,
        (status = 404, description = "No such listing visible to you"),
    )
)]
#[get("/invoices/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
) -> Result<HttpResponse, ApiError> {
    let l = listings::find_visible(&state, &user, *id).await?;
    // Trending measures investors' interest: the seller's and admins' looks do not count.
    if l.status == LISTED && user.role == Role::Investor {
        crate::store::live::record_view(&state, user.id, l.id).await;
    }
    Ok(HttpResponse::Ok().json(listings::view(&state, &l).await?))
}
