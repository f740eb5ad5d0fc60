//! An invoice as the API shows it (and as a 412 names the current version).

use chrono::{DateTime, NaiveDate, Utc};
use common::money::Currency;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::InvoiceStatus;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DebtorView {
    pub name: String,
    pub email: Option<String>,
    pub tax_id: Option<String>,
}

/// An invoice as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceView {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub invoice_number: String,
    pub debtor: DebtorView,
    /// Decimal string, two decimals.
    #[schema(example = "1500000.00")]
    pub amount: String,
    #[schema(value_type = String, example = "NGN")]
    pub currency: Currency,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub description: String,
    pub status: InvoiceStatus,
    /// The admin's reason, while rejected.
    pub rejection_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; also the `ETag`. An edit (`PATCH`) and an admin's verify
    /// or reject name the version they were made on in `If-Match`.
    #[schema(minimum = 1, example = 1)]
    pub version: i64,
}
