//! An offer as the API shows it (and as a 412 names the current version).

use chrono::{DateTime, NaiveDate, Utc};
use common::money::Currency;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::OfferStatus;

/// An offer as the API shows it: every amount a decimal string in `currency`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferView {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    /// Annual discount rate, percent.
    #[schema(example = "18.5")]
    pub discount_rate: String,
    #[schema(value_type = String, example = "NGN")]
    pub currency: Currency,
    #[schema(example = "1500000.00")]
    pub face_value: String,
    /// Face value × rate × days / 365, rounded half-up to the minor unit.
    #[schema(example = "44383.56")]
    pub discount: String,
    /// What the investor pays: face value − discount.
    #[schema(example = "1455616.44")]
    pub price: String,
    /// The platform's fee, paid by the seller.
    #[schema(example = "15000.00")]
    pub platform_fee: String,
    /// What the seller receives: price − fee.
    #[schema(example = "1440616.44")]
    pub net_proceeds: String,
    /// What the investor earns at maturity: face value − price.
    #[schema(example = "44383.56")]
    pub investor_return: String,
    /// return / price × 365 / days, percent, two decimals.
    #[schema(example = "18.55")]
    pub annualised_yield: String,
    /// Days from `priced_on` to the due date.
    pub days_to_maturity: i64,
    pub priced_on: NaiveDate,
    pub status: OfferStatus,
    /// Why it was rejected, released or lapsed.
    pub reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; also the `ETag`. The seller's accept and reject name the
    /// version they decided on in `If-Match`.
    #[schema(minimum = 1, example = 1)]
    pub version: i64,
}
