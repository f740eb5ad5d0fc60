//! The event of an invoice's status change ([`InvoiceEvent::of`] picks its type: the four
//! a person causes have their own, every other move is `invoice.status_changed`). Each
//! carries the invoice's terms ([`InvoiceChanged`]), so consumers (marketplace's
//! listings) need no call back.

use common::events::invoice::InvoiceChanged;
use common::events::{Envelope, InvoiceEvent};
use common::ids::{InvoiceId, UserId};
use common::money::Money;

use crate::domain::InvoiceStatus;
use crate::entity::invoice;
use crate::invoices::{Actor, currency_of};

pub fn status_event(
    m: &invoice::Model,
    from: InvoiceStatus,
    to: InvoiceStatus,
    actor: Actor,
    reason: Option<&str>,
    clock: &dyn common::Clock,
) -> anyhow::Result<Envelope> {
    let currency = currency_of(m)?;
    let change = InvoiceChanged {
        invoice_id: InvoiceId(m.id),
        seller_id: UserId(m.seller_id),
        invoice_number: m.invoice_number.clone(),
        debtor_name: m.debtor_name.clone(),
        amount: Money::from_minor(m.amount_minor, currency).to_decimal_string(),
        amount_minor: m.amount_minor,
        currency,
        due_date: m.due_date,
        from,
        to,
        reason: reason.map(str::to_owned),
        actor: actor.kind,
        actor_id: actor.id,
    };
    Ok(Envelope::of(InvoiceEvent::of(change), clock)?)
}
