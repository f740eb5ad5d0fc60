use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

/// The public keys that verify access tokens (a JWK set; `kid` selects the key).
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, description = "JWK set", content_type = "application/json", body = Object),
        (status = 429, description = "Too many requests from this client"),
    )
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(state.keystore.signer_now().jwks())
}
