//! The events of an invoice's status changes. The four a person causes have their own
//! types (`invoice.submitted`, `invoice.listed`, `invoice.rejected`, `invoice.cancelled`);
//! every other change is `invoice.status_changed`. Each carries the invoice's terms, so
//! consumers (marketplace's listings) need no call back.

use chrono::NaiveDate;
use common::events::{Envelope, Service};
use common::money::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::InvoiceStatus;
use crate::entity::invoice;
use crate::invoices::{Actor, currency_of};

#[derive(Debug, Serialize, Deserialize)]
pub struct InvoiceStatusEvent {
    pub invoice_id: Uuid,
    pub seller_id: Uuid,
    pub invoice_number: String,
    pub debtor_name: String,
    /// Decimal string.
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub due_date: NaiveDate,
    pub from: InvoiceStatus,
    pub to: InvoiceStatus,
    pub reason: Option<String>,
    pub actor: String,
    pub actor_id: Option<Uuid>,
}

pub fn event_type(from: InvoiceStatus, to: InvoiceStatus) -> &'static str {
    match (from, to) {
        (_, InvoiceStatus::Submitted) => "invoice.submitted",
        (InvoiceStatus::Submitted, InvoiceStatus::Listed) => "invoice.listed",
        (_, InvoiceStatus::Rejected) => "invoice.rejected",
        (_, InvoiceStatus::Cancelled) => "invoice.cancelled",
        _ => "invoice.status_changed",
    }
}

pub fn status_event(
    m: &invoice::Model,
    from: InvoiceStatus,
    to: InvoiceStatus,
    actor: Actor,
    reason: Option<&str>,
    clock: &dyn common::Clock,
) -> anyhow::Result<Envelope> {
    let payload = InvoiceStatusEvent {
        invoice_id: m.id,
        seller_id: m.seller_id,
        invoice_number: m.invoice_number.clone(),
        debtor_name: m.debtor_name.clone(),
        amount: Money::from_minor(m.amount_minor, currency_of(m)).to_decimal_string(),
        amount_minor: m.amount_minor,
        currency: m.currency.clone(),
        due_date: m.due_date,
        from,
        to,
        reason: reason.map(str::to_owned),
        actor: actor.kind.to_owned(),
        actor_id: actor.id,
    };
    Ok(Envelope::new(
        Service::Invoice,
        event_type(from, to),
        &payload,
        clock,
    )?)
}
