//! `GET /api/marketplace/stats`, cached in `marketplace:stats` for 300 s.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::money::{Currency, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::OfferStatus;
use crate::domain::pricing::RATE_SCALE;
use crate::state::AppState;
use crate::store::entity::{listing, offer};

/// The market in figures. Volumes are per currency (decimal strings).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// Invoices open for offers.
    pub listed_count: i64,
    /// Their face value, per currency.
    #[schema(example = json!({"NGN": "1500000.00"}))]
    pub listed_volume: BTreeMap<String, String>,
    /// Offers placed since midnight UTC.
    pub offers_today: i64,
    /// The mean annual discount rate of the active (pending or reserved) offers, percent
    /// with two decimals; null when there are none.
    #[schema(example = "17.25")]
    pub average_discount_rate: Option<String>,
    /// The price of every accepted offer (what investors committed), per currency.
    #[schema(example = json!({"NGN": "1455616.44"}))]
    pub accepted_volume: BTreeMap<String, String>,
    pub accepted_count: i64,
    /// When these figures were computed (they are cached for 300 s).
    pub as_of: DateTime<Utc>,
}

fn volumes(rows: Vec<(String, i64, i64)>) -> (i64, BTreeMap<String, String>) {
    let mut count = 0;
    let mut out = BTreeMap::new();
    for (currency, sum, n) in rows {
        count += n;
        let c: Currency = match currency.parse() {
            Ok(c) => c,
            Err(reason) => {
                // A grouped total has no row to name; the database refuses such a word
                // (OneOfWords), so this is a fault, said and skipped, never priced as NGN.
                tracing::error!(%currency, %reason, "Offer volume in an unknown currency left out.");
                continue;
            }
        };
        out.insert(currency, Money::from_minor(sum, c).to_decimal_string());
    }
    (count, out)
}

const SUM_FACE: &str = "CAST(COALESCE(SUM(face_minor), 0) AS BIGINT)";
const SUM_PRICE: &str = "CAST(COALESCE(SUM(price_minor), 0) AS BIGINT)";
const COUNT: &str = "CAST(COUNT(*) AS BIGINT)";

pub async fn compute(state: &AppState) -> Result<Stats, DbErr> {
    let now = state.clock.now();
    let listed = listing::Entity::find()
        .select_only()
        .column(listing::Column::Currency)
        .column_as(Expr::cust(SUM_FACE), "total")
        .column_as(Expr::cust(COUNT), "n")
        .filter(listing::Column::Status.eq(crate::store::listings::LISTED))
        .group_by(listing::Column::Currency)
        .into_tuple::<(String, i64, i64)>()
        .all(&state.db)
        .await?;
    let (listed_count, listed_volume) = volumes(listed);
    let accepted = offer::Entity::find()
        .select_only()
        .column(offer::Column::Currency)
        .column_as(Expr::cust(SUM_PRICE), "total")
        .column_as(Expr::cust(COUNT), "n")
        .filter(offer::Column::Status.eq(OfferStatus::Accepted.as_str()))
        .group_by(offer::Column::Currency)
        .into_tuple::<(String, i64, i64)>()
        .all(&state.db)
        .await?;
    let (accepted_count, accepted_volume) = volumes(accepted);
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let offers_today = offer::Entity::find()
        .filter(offer::Column::CreatedAt.gte(midnight))
        .count(&state.db)
        .await?;
    let active: Vec<&str> = OfferStatus::ACTIVE.iter().map(|s| s.as_str()).collect();
    let rates: Option<(i64, i64)> = offer::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(rate_millionths), 0) AS BIGINT)"),
            "total",
        )
        .column_as(Expr::cust(COUNT), "n")
        .filter(offer::Column::Status.is_in(active))
        .into_tuple::<(i64, i64)>()
        .one(&state.db)
        .await?;
    let average_discount_rate = match rates {
        Some((sum, n)) if n > 0 => {
            let avg = Decimal::new(sum, RATE_SCALE) / Decimal::from(n);
            Some(format!(
                "{:.2}",
                avg.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            ))
        }
        _ => None,
    };
    Ok(Stats {
        listed_count,
        listed_volume,
        offers_today: i64::try_from(offers_today).unwrap_or(i64::MAX),
        average_discount_rate,
        accepted_volume,
        accepted_count,
        as_of: now,
    })
}
