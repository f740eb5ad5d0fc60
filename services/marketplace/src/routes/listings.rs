//! One listing with its offer summary; each view counts towards trending.

use actix_web::{HttpResponse, get, web};
use common::auth::Role;
use common::ids::InvoiceId;
use common::keys::{Keys, ttl};
use fred::prelude::KeysInterface;
use fred::types::Value;
use service_kit::auth::{PendingUser, unavailable};
use service_kit::cache::Bytes;
use service_kit::http::{ApiError, TokenErrors};

use crate::domain::MarketError;
use crate::domain::pricing::Rate;
use crate::state::AppState;
use crate::store::listings::{self, Card, LISTED, ListingView};
use crate::store::live;

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
    caller: PendingUser,
    id: web::Path<InvoiceId>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let invoice = id.uuid();
    let card_key = state.keys.listing_card(invoice);
    // Trending measures investors' interest: the seller's and admins' looks do not count.
    let counts = caller.claimed().role == Role::Investor;
    let minute = live::minute(&state);
    // One round trip: the caller's revocation check, the listing's card (generation and
    // entry), its two counters and, for an investor, whether this view is new this minute.
    let pipeline = caller.checked_pipeline(&state.local_redis).await?;
    state
        .cache
        .queue_lookup(&pipeline, &Keys::listing_scope(invoice), &card_key)
        .await
        .map_err(unavailable)?;
    let () = pipeline
        .get(state.keys.offers_count(invoice))
        .await
        .map_err(unavailable)?;
    let () = pipeline
        .get(state.keys.metrics_offers(invoice))
        .await
        .map_err(unavailable)?;
    if counts {
        live::queue_view(&state, &pipeline, minute, caller.claimed().id, invoice)
            .await
            .map_err(unavailable)?;
    }
    let answers: Vec<Value> = pipeline.all().await.map_err(unavailable)?;
    let mut answers = answers.into_iter();
    let mut next = || answers.next().unwrap_or(Value::Null);
    let (blacklisted, revoked_before) = (next().convert()?, next().convert()?);
    let user = caller.confirm(blacklisted, revoked_before)?;
    let (generation, entry): (Option<u64>, Option<Bytes>) = (next().convert()?, next().convert()?);
    let (active, placed): (Option<i64>, Option<i64>) = (next().convert()?, next().convert()?);
    let new_view = counts && next().convert::<i64>()? == 1;

    let card = cached_card(&state, invoice, generation, entry).await?;
    let Some(card) = card.filter(|c| listings::visible_to(&user, &c.listing)) else {
        return Err(MarketError::NoSuchListing(id).into());
    };
    if new_view && card.listing.status == LISTED {
        live::count_view(&state, minute, invoice).await;
    }
    let counters = match (active, placed) {
        (Some(active), Some(placed)) => (active, placed),
        // A counter missing (Redis restarted, evicted): rebuilt from the database.
        _ => live::counters(&state, invoice)
            .await
            .map_err(ApiError::internal)?,
    };
    let best = card.best_rate_millionths.map(Rate::from_millionths);
    Ok(HttpResponse::Ok().json(listings::view_of(&state, &card.listing, counters, best)?))
}

/// The card of listing `invoice` given the answers of its cache lookup (the generation of
/// [`Keys::listing_scope`] and the entry at [`Keys::listing_card`]): the entry on a hit,
/// otherwise read once from the database and cached (`None`: no such listing).
async fn cached_card(
    state: &AppState,
    invoice: uuid::Uuid,
    generation: Option<u64>,
    entry: Option<Bytes>,
) -> Result<Option<Card>, ApiError> {
    let db = state.db.clone();
    let bytes = state
        .cache
        .answer_json(
            &state.keys.listing_card(invoice),
            generation,
            entry,
            ttl::LISTING_CARD,
            || async move { listings::card(&db, invoice).await },
        )
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{}", e.fetch_error())))?;
    Ok(match serde_json::from_slice(&bytes) {
        Ok(card) => card,
        Err(error) => {
            tracing::warn!(%error, %invoice, "Unreadable listing card; reading the database.");
            listings::card(&state.db, invoice).await?
        }
    })
}
