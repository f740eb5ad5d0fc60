//! Market stats (cached) and trending invoices.

use actix_web::{HttpResponse, get, web};
use common::keys::ttl;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use service_kit::auth::{AuthUser, PendingUser};
use service_kit::http::{ApiError, TokenErrors};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::entity::listing;
use crate::store::listings::{self, LISTED, ListingView};
use crate::store::live;
use crate::store::stats::Stats;

/// Listed count and volume, offers today, the average discount rate and the accepted
/// volume; cached 300 s in `marketplace:stats`.
#[utoipa::path(
    tag = "market",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The market in figures", body = Stats),
        TokenErrors,
    )
)]
#[get("/stats")]
pub async fn market_stats(
    state: web::Data<AppState>,
    _user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let key = state.keys.marketplace_stats();
    let st = state.clone();
    let body = state
        .cache
        .get_or_fetch_key_json(&key, ttl::MARKETPLACE_STATS, || async move {
            crate::store::stats::compute(&st).await
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{}", e.fetch_error())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendingParams {
    /// How many invoices (1 to 50, default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrendingItem {
    pub invoice_id: Uuid,
    /// Distinct (user, minute) views over the last hour.
    pub views: i64,
    pub listing: ListingView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrendingPage {
    pub items: Vec<TrendingItem>,
}

/// The most viewed listed invoices of the last hour (60 one-minute buckets).
#[utoipa::path(
    tag = "market",
    security(("bearer" = [])),
    params(TrendingParams),
    responses(
        (status = 200, description = "Most viewed first", body = TrendingPage),
        TokenErrors,
        (status = 422, description = "Bad or unknown parameter (named in `errors`)"),
    )
)]
#[get("/trending")]
pub async fn trending(
    state: web::Data<AppState>,
    caller: PendingUser,
    params: web::Query<TrendingParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = match &params.limit {
        None => Ok(10),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=50).contains(&n) => Ok(n),
            _ => Err(ApiError::field(
                "limit",
                "must be a whole number from 1 to 50",
            )),
        },
    };
    // The page rendered for this minute, while no view or change has moved it since.
    // One round trip: the caller's revocation check, the generation and the entry.
    let key = state
        .keys
        .trending_top(live::minute(&state), *limit.as_ref().unwrap_or(&10));
    let (_, generation, entry) = caller
        .confirm_with_lookup(&state.local_redis, &state.cache, live::TRENDING_SCOPE, &key)
        .await?;
    let limit = limit?;
    let st = state.clone();
    let body = state
        .cache
        .answer_json(&key, generation, entry, ttl::TRENDING_TOP, || async move {
            render(&st, limit).await
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{}", e.fetch_error())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// The trending page now: the hour's union of the minute buckets, its most viewed that
/// are still listed, each with its listing view (their counters in one round trip and
/// their best rates in one query).
async fn render(state: &AppState, limit: usize) -> anyhow::Result<TrendingPage> {
    // Some of the most viewed may no longer be listed: look further than `limit`.
    let top = live::trending(state, 200).await?;
    let ids: Vec<Uuid> = top.iter().map(|(id, _)| *id).collect();
    let rows = listing::Entity::find()
        .filter(listing::Column::Id.is_in(ids))
        .filter(listing::Column::Status.eq(LISTED))
        .all(&state.db)
        .await?;
    let shown: Vec<(&listing::Model, i64)> = top
        .iter()
        .filter_map(|(id, views)| Some((rows.iter().find(|l| l.id == *id)?, *views)))
        .take(limit)
        .collect();
    let ids: Vec<Uuid> = shown.iter().map(|(l, _)| l.id).collect();
    let best = listings::best_rates(&state.db, &ids).await?;
    let counters = match live::counters_of(state, &ids).await {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(%error, "Offer counters unreadable; using the database.");
            shown
                .iter()
                .map(|(l, _)| (l.active_offers, l.active_offers))
                .collect()
        }
    };
    let mut items = Vec::with_capacity(shown.len());
    for ((l, views), counters) in shown.into_iter().zip(counters) {
        items.push(TrendingItem {
            invoice_id: l.id,
            views,
            listing: listings::view_of(state, l, counters, best.get(&l.id).copied())?,
        });
    }
    Ok(TrendingPage { items })
}
