//! What the invoice service tells: every status change of an invoice (with its terms, so
//! consumers need no call back) and its answer to an offer's acceptance.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{InvoiceId, OfferId, UserId};
use crate::money::Currency;

crate::string_enum! {
    /// Where an invoice stands (the invoice service's state machine moves it).
    pub enum InvoiceStatus {
        Draft = "draft",
        Submitted = "submitted",
        Listed = "listed",
        /// An offer was accepted; awaiting funding.
        Accepted = "accepted",
        Funded = "funded",
        Repaid = "repaid",
        Settled = "settled",
        Rejected = "rejected",
        Cancelled = "cancelled",
        Overdue = "overdue",
        Defaulted = "defaulted",
    }
}

crate::string_enum! {
    /// Who moved an invoice: a person by role, or a service, or the invoice service's own
    /// sweep (`system`).
    pub enum ActorKind {
        Seller = "seller",
        Investor = "investor",
        Admin = "admin",
        System = "system",
        Marketplace = "marketplace",
        Payments = "payments",
    }
}

impl From<crate::auth::Role> for ActorKind {
    fn from(role: crate::auth::Role) -> Self {
        match role {
            crate::auth::Role::Seller => ActorKind::Seller,
            crate::auth::Role::Investor => ActorKind::Investor,
            crate::auth::Role::Admin => ActorKind::Admin,
        }
    }
}

/// Every `invoice.*` status event: the invoice's terms, the move (`from` -> `to`), why
/// and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceChanged {
    pub invoice_id: InvoiceId,
    pub seller_id: UserId,
    pub invoice_number: String,
    pub debtor_name: String,
    /// Display only: `amount_minor` as a decimal string in `currency`.
    pub amount: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub due_date: NaiveDate,
    pub from: InvoiceStatus,
    pub to: InvoiceStatus,
    #[serde(default)]
    pub reason: Option<String>,
    pub actor: ActorKind,
    #[serde(default)]
    pub actor_id: Option<UserId>,
}

/// `invoice.acceptance_confirmed`: the invoice moved listed -> accepted for this offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceConfirmed {
    pub offer_id: OfferId,
    pub invoice_id: InvoiceId,
    pub investor_id: UserId,
    pub seller_id: UserId,
}

/// `invoice.acceptance_refused`: the invoice could not accept the offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceRefused {
    pub offer_id: OfferId,
    pub invoice_id: InvoiceId,
    pub investor_id: UserId,
    /// The invoice's status when it refused; absent when there is no such invoice.
    #[serde(default)]
    pub status: Option<InvoiceStatus>,
}
