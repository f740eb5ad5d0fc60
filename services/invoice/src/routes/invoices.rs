//! Create, edit, read and search invoices.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use common::auth::Role;
use common::ids::InvoiceId;
use common::keys::ttl;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use service_kit::auth::{AuthUser, PendingUser};
use service_kit::http::version::IfMatch;
use service_kit::http::{ApiError, JsonBodyErrors, TokenErrors, VersionErrors};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::InvoiceView;
use crate::domain::{InvoiceInput, Machine, NewInvoice};
use crate::state::AppState;
use crate::store::entity::history;
use crate::store::invoices;
use crate::store::popular::PopularList;
use crate::store::search::{self, SearchPage, SearchParams};

/// The caller as a seller with approved KYC.
pub fn seller(user: &AuthUser) -> Result<(), ApiError> {
    user.require(&[Role::Seller])?;
    user.require_kyc_approved()?;
    Ok(())
}

/// The caller's own invoice (another's is a 404).
pub async fn own(
    state: &AppState,
    user: &AuthUser,
    id: InvoiceId,
) -> Result<crate::store::entity::invoice::Model, ApiError> {
    let m = invoices::find(&state.db, id).await?;
    Ok(m.filter(|m| m.seller_id == user.id)
        .ok_or(crate::domain::InvoiceError::NotFound(id))?)
}

/// Create a draft.
#[utoipa::path(
    tag = "invoices",
    security(("bearer" = [])),
    request_body = NewInvoice,
    responses(
        (status = 201, description = "The draft", body = InvoiceView),
        TokenErrors,
        JsonBodyErrors,
        (status = 403, description = "Not a seller, or KYC not approved"),
        (status = 409, description = "invoice_number already used by one of your invoices"),
    )
)]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewInvoice>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let fields = InvoiceInput::from(body.into_inner())
        .validate(state.config.limits())
        .map_err(ApiError::fields)?;
    let m = invoices::create(&state, &user, fields).await?;
    tracing::info!(invoice_id = %m.id, seller_id = %user.id, "Invoice drafted.");
    super::respond(StatusCode::CREATED, &m)
}

/// Change a draft or a rejected invoice (only the fields given), at the version you read
/// (`If-Match`).
#[utoipa::path(
    tag = "invoices",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The invoice's ETag as you read it, e.g. \"3\": the change applies to that version or not at all (412)")),
    request_body = InvoiceInput,
    responses(
        (status = 200, description = "The invoice as changed (its new version also as `ETag`)", body = InvoiceView),
        TokenErrors,
        JsonBodyErrors,
        VersionErrors,
        (status = 403, description = "Not a seller, or KYC not approved"),
        (status = 404, description = "No such invoice of yours"),
        (status = 409, description = "Not editable in its state, or invoice_number taken"),
    )
)]
#[patch("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
    if_match: IfMatch,
    body: web::Json<InvoiceInput>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let current = own(&state, &user, *id).await?;
    let seen = if_match.required()?;
    let status = current.status()?;
    if !status.editable() {
        return Err(crate::domain::InvoiceError::NotEditable(status).into());
    }
    let fields = body
        .over(&current.fields()?)
        .validate(state.config.limits())
        .map_err(ApiError::fields)?;
    let m = invoices::update(&state, &current, seen, fields).await?;
    super::respond(StatusCode::OK, &m)
}

/// Listed invoices with the most offers (investors and admins; sellers see only their own
/// invoices). Cached 600 s; a listing that closes leaves the list at once.
#[utoipa::path(
    tag = "invoices",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Most offers first", body = PopularList),
        TokenErrors,
        (status = 403, description = "Sellers see only their own invoices"),
    )
)]
#[get("/popular")]
pub async fn popular(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Investor, Role::Admin])?;
    let db = state.db.clone();
    let body = state
        .cache
        .get_or_fetch_json(
            crate::outbound::LISTED_SCOPE,
            &state.keys.invoices_popular(),
            ttl::INVOICES_POPULAR,
            || async move { crate::store::popular::list(&db).await },
        )
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{}", e.fetch_error())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// One invoice: the seller's own, a listed one for investors, any for admins.
#[utoipa::path(
    tag = "invoices",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice (its version also as `ETag`)", body = InvoiceView),
        TokenErrors,
        (status = 404, description = "No such invoice visible to you"),
    )
)]
#[get("/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
) -> Result<HttpResponse, ApiError> {
    let m = invoices::get(&state.db, *id).await?;
    let m = invoices::visible_to(m, &user)?;
    super::respond(StatusCode::OK, &m)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub from: Option<String>,
    pub to: String,
    /// seller | admin | system | marketplace | payments
    pub actor: String,
    pub actor_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Every status change of the seller's own invoice (or any, for admins), oldest first.
#[utoipa::path(
    tag = "invoices",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The status history", body = [HistoryEntry]),
        TokenErrors,
        (status = 404, description = "No such invoice of yours"),
    )
)]
#[get("/{id}/history")]
pub async fn history_of(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
) -> Result<HttpResponse, ApiError> {
    let m = invoices::find(&state.db, *id)
        .await?
        .filter(|m| {
            user.role == Role::Admin || (user.role == Role::Seller && m.seller_id == user.id)
        })
        .ok_or(crate::domain::InvoiceError::NotFound(*id))?;
    let rows = history::Entity::find()
        .filter(history::Column::InvoiceId.eq(m.id))
        .order_by_asc(history::Column::At)
        .order_by_asc(history::Column::Id)
        .all(&state.db)
        .await?;
    let entries: Vec<HistoryEntry> = rows
        .into_iter()
        .map(|h| HistoryEntry {
            from: h.from_status,
            to: h.to_status,
            actor: h.actor,
            actor_id: h.actor_id,
            reason: h.reason,
            at: h.at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

/// Search: sellers their own invoices, investors listed ones, admins all. Cached for
/// 300 s per query and viewer; any write makes every cached result unreachable.
#[utoipa::path(
    tag = "invoices",
    security(("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, description = "One page of matches", body = SearchPage),
        TokenErrors,
        (status = 422, description = "Unknown parameter or bad value (named in `errors`)"),
    )
)]
#[get("")]
pub async fn search_invoices(
    state: web::Data<AppState>,
    caller: PendingUser,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.parse().map_err(ApiError::fields)?;
    let key = state.keys.invoice_search(&service_kit::cache::query_hash(
        &query.canonical(&search::scope(caller.claimed())),
    ));
    // One round trip: the caller's revocation check, the generation and the entry.
    let scope = search::generation_scope(caller.claimed());
    let (user, generation, entry) = caller
        .confirm_with_lookup(&state.local_redis, &state.cache, &scope, &key)
        .await?;
    let db = state.db.clone();
    let body = state
        .cache
        .answer_json(
            &key,
            generation,
            entry,
            ttl::INVOICE_SEARCH,
            || async move { query.run(&db, &user).await },
        )
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{}", e.fetch_error())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
