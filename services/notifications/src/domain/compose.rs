//! What each event means to whom: the notifications it makes (recipient, title, body,
//! links) and the live channels it lets its parties join. Pure: the consumer stores the
//! result. Every event arrives typed ([`Told`]): a payload that does not decode never gets
//! here (it goes to the dead letters with the reason), so nothing is guessed.

use common::events::auth::UserRegistered;
use common::events::kyc::DocumentStatus;
use common::events::marketplace::OfferChange;
use common::events::payments::{PaymentStatus, SettlementKind};
use common::events::{
    Accepts, AuthEvent, Event, InvoiceEvent, KycEvent, OfferEvent, PaymentEvent, Service,
};
use common::ids::UserId;
use common::keys::Keys;
use common::money::Money;
use serde_json::{Value, json};
use uuid::Uuid;

/// What `events:notifications` accepts: every event someone is told of (all but the
/// acceptance saga's internal steps, which the catalogue does not route here).
#[derive(Debug, Clone, PartialEq)]
pub struct Told(pub Event);

impl Accepts for Told {
    const SERVICE: Service = Service::Notifications;
    fn accept(event: Event) -> Option<Self> {
        let internal = matches!(
            &event,
            Event::Invoice(
                InvoiceEvent::AcceptanceConfirmed(_) | InvoiceEvent::AcceptanceRefused(_)
            ) | Event::Marketplace(OfferEvent::Reserved(_))
        );
        (!internal).then_some(Told(event))
    }
}

/// A notification to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub user_id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    /// Ids a client links to.
    pub data: Value,
}

/// A user who may now listen to a channel (unprefixed name) as `relation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub channel: String,
    pub user_id: Uuid,
    pub relation: &'static str,
}

#[derive(Debug, Default, PartialEq)]
pub struct Composed {
    pub drafts: Vec<Draft>,
    pub members: Vec<Member>,
}

/// `body`, with the reason when there is one.
fn with_reason(body: String, reason: Option<&str>) -> String {
    match reason.filter(|r| !r.is_empty()) {
        Some(r) => format!("{body} Reason: {r}"),
        None => body,
    }
}

/// Collects what one event makes.
struct Out {
    kind: &'static str,
    composed: Composed,
}

impl Out {
    fn note(&mut self, user: UserId, title: impl Into<String>, body: String, data: Value) {
        self.composed.drafts.push(Draft {
            user_id: user.uuid(),
            kind: self.kind.to_owned(),
            title: title.into(),
            body,
            data,
        });
    }

    fn member(&mut self, channel: String, user: UserId, relation: &'static str) {
        self.composed.members.push(Member {
            channel,
            user_id: user.uuid(),
            relation,
        });
    }
}

/// The notifications and channel members of `event` (none for an event nobody is told of).
pub fn compose(event: &Told) -> Composed {
    let Told(event) = event;
    let mut out = Out {
        kind: event.event_type().name,
        composed: Composed::default(),
    };
    match event {
        Event::Auth(e) => user(&mut out, e),
        Event::Kyc(e) => kyc(&mut out, e),
        Event::Invoice(e) => invoice(&mut out, e),
        Event::Marketplace(e) => offer(&mut out, e),
        Event::Payments(e) => payment(&mut out, e),
    }
    out.composed
}

fn user(out: &mut Out, e: &AuthEvent) {
    let (user, title, body) = match e {
        AuthEvent::UserRegistered(UserRegistered {
            user_id,
            role,
            full_name,
            ..
        }) => {
            let what = match role {
                common::auth::Role::Investor => "investing in invoices",
                _ => "financing your invoices",
            };
            let name = if full_name.is_empty() {
                "there"
            } else {
                full_name
            };
            (
                *user_id,
                "Welcome to Vestio",
                format!("Hello {name}. Complete your KYC to start {what}."),
            )
        }
        AuthEvent::UserSuspended(s) => (
            s.user_id,
            "Your account is suspended",
            "An administrator suspended your account; contact support.".to_owned(),
        ),
        AuthEvent::UserReactivated(s) => (
            s.user_id,
            "Your account is active again",
            "An administrator lifted the suspension of your account.".to_owned(),
        ),
    };
    out.note(user, title, body, json!({ "user_id": user }));
}

fn kyc(out: &mut Out, e: &KycEvent) {
    match e {
        KycEvent::DocumentProcessed(d) => {
            let doc = d.document_type.as_str().replace('_', " ");
            let (title, body) = match d.status {
                DocumentStatus::Rejected if d.reasons.is_empty() => (
                    format!("Your {doc} needs attention"),
                    format!("Your {doc} did not pass our checks; upload it again."),
                ),
                DocumentStatus::Rejected => (
                    format!("Your {doc} needs attention"),
                    format!(
                        "Your {doc} did not pass our checks: {}.",
                        d.reasons.join("; ")
                    ),
                ),
                DocumentStatus::Accepted => (
                    format!("Your {doc} passed our checks"),
                    format!("Your {doc} was checked and accepted."),
                ),
                // Not processed yet: nothing to tell.
                DocumentStatus::Queued => return,
            };
            let data = json!({"document_id": d.document_id, "document_type": d.document_type, "status": d.status});
            out.note(d.user_id, title, body, data);
        }
        KycEvent::Submitted(s) => out.note(
            s.user_id,
            "KYC submitted",
            "Your KYC is in review; we will tell you when it is decided.".to_owned(),
            json!({"submission_id": s.submission_id}),
        ),
        KycEvent::Approved(d) => out.note(
            d.user_id,
            "KYC approved",
            "Your identity is verified: you can now use the marketplace.".to_owned(),
            json!({"submission_id": d.submission_id}),
        ),
        KycEvent::Rejected(d) => out.note(
            d.user_id,
            "KYC rejected",
            with_reason(
                "Your KYC was not approved; you may correct it and submit again.".to_owned(),
                d.reason.as_deref(),
            ),
            json!({"submission_id": d.submission_id}),
        ),
    }
}

fn invoice(out: &mut Out, e: &InvoiceEvent) {
    let t = match e {
        InvoiceEvent::Submitted(t)
        | InvoiceEvent::Listed(t)
        | InvoiceEvent::Rejected(t)
        | InvoiceEvent::Cancelled(t)
        | InvoiceEvent::StatusChanged(t) => t,
        // The acceptance saga's steps are not routed here (see [`Told`]).
        InvoiceEvent::AcceptanceConfirmed(_) | InvoiceEvent::AcceptanceRefused(_) => return,
    };
    out.member(
        Keys::default().invoice_channel(t.invoice_id.uuid()),
        t.seller_id,
        "seller",
    );
    let number = &t.invoice_number;
    let amount = format!(" ({} {})", t.currency, t.amount);
    let to = t.to;
    let reason = t.reason.as_deref();
    let (title, body) = match e {
        InvoiceEvent::Submitted(_) => (
            format!("Invoice {number} submitted"),
            format!("Invoice {number}{amount} is waiting for verification."),
        ),
        InvoiceEvent::Listed(_) => (
            format!("Invoice {number} is listed"),
            format!("Invoice {number}{amount} was verified and is open to investors' offers."),
        ),
        InvoiceEvent::Rejected(_) => (
            format!("Invoice {number} was rejected"),
            with_reason(
                format!("Invoice {number}{amount} was not verified; edit it and submit again."),
                reason,
            ),
        ),
        InvoiceEvent::Cancelled(_) => (
            format!("Invoice {number} cancelled"),
            format!("Invoice {number}{amount} was cancelled."),
        ),
        _ => (
            format!("Invoice {number} is {to}"),
            with_reason(format!("Invoice {number}{amount} is now {to}."), reason),
        ),
    };
    let data = json!({"invoice_id": t.invoice_id, "invoice_number": t.invoice_number, "from": t.from, "to": t.to});
    out.note(t.seller_id, title, body, data);
}

fn offer(out: &mut Out, e: &OfferEvent) {
    let o = e.offer();
    let keys = Keys::default();
    let (investor, seller) = (o.investor_id, o.seller_id);
    out.member(keys.offer_channel(o.offer_id.uuid()), investor, "investor");
    out.member(keys.offer_channel(o.offer_id.uuid()), seller, "seller");
    out.member(
        keys.invoice_channel(o.invoice_id.uuid()),
        investor,
        "investor",
    );
    let price = format!("{} {}", o.currency, o.price);
    let rate = format!(" at {}% a year", o.discount_rate);
    let data = json!({"offer_id": o.offer_id, "invoice_id": o.invoice_id, "status": o.status,
                      "change": o.change, "price": o.price, "currency": o.currency});
    let reason = o.reason.as_deref();
    let mut tell = |user: UserId, title: &str, body: String| {
        out.note(user, title, body, data.clone());
    };
    match e {
        OfferEvent::Placed(_) => tell(
            seller,
            "New offer on your invoice",
            format!("An investor offered {price}{rate} for your invoice."),
        ),
        OfferEvent::Accepted(_) => {
            tell(
                investor,
                "Your offer was accepted",
                format!("Your offer of {price}{rate} was accepted; fund it to complete."),
            );
            tell(
                seller,
                "Offer accepted",
                format!(
                    "You accepted an offer of {price}{rate}; it awaits the investor's funding."
                ),
            );
        }
        OfferEvent::Rejected(_) => tell(
            investor,
            "Your offer was rejected",
            with_reason(format!("Your offer of {price} was rejected."), reason),
        ),
        OfferEvent::Withdrawn(_) => tell(
            seller,
            "An offer was withdrawn",
            format!("An investor withdrew their offer of {price}."),
        ),
        OfferEvent::Expired(_) => tell(
            investor,
            "Your offer expired",
            format!("Your offer of {price} expired before the seller answered."),
        ),
        OfferEvent::StatusChanged(_) => match o.change {
            OfferChange::Revised => tell(
                seller,
                "An offer was revised",
                format!("An investor revised their offer to {price}{rate}."),
            ),
            OfferChange::Released => tell(
                investor,
                "Your offer is open again",
                with_reason(
                    format!("The acceptance of your offer of {price} did not go through."),
                    reason,
                ),
            ),
            OfferChange::Lapsed => {
                tell(
                    investor,
                    "Your accepted offer lapsed",
                    format!(
                        "Your offer of {price} lapsed: the invoice went back to the market unfunded."
                    ),
                );
                tell(
                    seller,
                    "Your invoice is listed again",
                    format!(
                        "The accepted offer of {price} was not funded in time; your invoice is listed again."
                    ),
                );
            }
            // The other changes have events of their own.
            _ => {}
        },
        // Not routed here (see [`Told`]).
        OfferEvent::Reserved(_) => {}
    }
    if matches!(e, OfferEvent::Accepted(_)) {
        out.member(
            keys.invoice_channel(o.invoice_id.uuid()),
            investor,
            "funder",
        );
    }
}

/// Payments: the parties are told what moved, in money of the payment's own currency, and
/// may listen to the payment's channel.
fn payment(out: &mut Out, e: &PaymentEvent) {
    let (parties, title, body, data, channel) = match e {
        PaymentEvent::StatusChanged(p) => {
            let amount = Money::from_minor(p.amount_minor, p.currency).to_decimal_string();
            let phrase = match p.status {
                PaymentStatus::Pending => "is pending",
                PaymentStatus::Succeeded => "went through",
                PaymentStatus::Failed => "failed",
                PaymentStatus::Reversed => "was reversed",
                PaymentStatus::Expired => "expired",
            };
            let body = format!("The {} of {} {amount} {phrase}.", p.kind, p.currency);
            let data = json!({
                "payment_id": p.payment_id, "invoice_id": p.invoice_id, "kind": p.kind,
                "status": p.status, "amount_minor": p.amount_minor, "currency": p.currency,
            });
            let channel = Some(Keys::default().payment(p.payment_id.uuid()));
            let title = format!("Payment {}", p.status);
            (vec![p.seller_id, p.investor_id], title, body, data, channel)
        }
        PaymentEvent::SettlementCompleted(s) => {
            let amount = Money::from_minor(s.amount_minor, s.currency).to_decimal_string();
            let (paid, what) = match s.kind {
                SettlementKind::Seller => (s.seller_id, "Your payout"),
                SettlementKind::Investor => (s.investor_id, "Your settlement"),
            };
            let body = format!("{what} of {} {amount} was paid.", s.currency);
            let data = json!({
                "invoice_id": s.invoice_id, "offer_id": s.offer_id, "kind": s.kind,
                "amount_minor": s.amount_minor, "currency": s.currency,
            });
            (vec![paid], "Settlement paid".to_owned(), body, data, None)
        }
    };
    let mut seen = Vec::new();
    for user in parties {
        if seen.contains(&user) {
            continue;
        }
        seen.push(user);
        if let Some(channel) = &channel {
            out.member(channel.clone(), user, "party");
        }
        out.note(user, title.clone(), body.clone(), data.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::events::examples;
    use common::events::invoice::{InvoiceChanged, InvoiceStatus};
    use common::events::kyc::KycDecided;
    use common::events::marketplace::{OfferChanged, OfferStatus};
    use common::events::payments::{PaymentKind, PaymentStatusChanged, SettlementCompleted};
    use common::ids::{InvoiceId, OfferId, PaymentId};

    fn told(e: impl Into<Event>) -> Composed {
        compose(&Told(e.into()))
    }

    fn ids() -> (OfferId, InvoiceId, UserId, UserId) {
        (
            OfferId(Uuid::now_v7()),
            InvoiceId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
        )
    }

    fn offer_of(change: OfferChange) -> OfferChanged {
        let (offer_id, invoice_id, investor_id, seller_id) = ids();
        OfferChanged {
            offer_id,
            invoice_id,
            investor_id,
            seller_id,
            change,
            ..examples::offer(OfferStatus::Pending, change, None)
        }
    }

    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_notifications() {
        common::events::assert_accepts_its_routes::<Told>();
    }

    #[test]
    fn every_event_it_accepts_tells_someone_and_names_its_kind() {
        for event in Event::examples() {
            let Some(t) = Told::accept(event) else {
                continue;
            };
            let name = t.0.event_type().name;
            let c = compose(&t);
            assert!(!c.drafts.is_empty(), "{name} tells nobody");
            assert!(c.drafts.iter().all(|d| d.kind == name), "{name}");
        }
    }

    #[test]
    fn an_offer_tells_the_seller_and_lets_both_parties_listen() {
        let o = offer_of(OfferChange::Placed);
        let c = told(OfferEvent::Placed(o.clone()));
        assert_eq!(c.drafts.len(), 1);
        assert_eq!(c.drafts[0].user_id, o.seller_id.uuid());
        assert!(
            c.drafts[0].body.contains("NGN 1432027.40 at 18.5% a year"),
            "{}",
            c.drafts[0].body
        );
        assert_eq!(c.drafts[0].data["offer_id"], o.offer_id.to_string());
        let channels: Vec<_> = c
            .members
            .iter()
            .map(|m| (m.channel.clone(), m.user_id))
            .collect();
        let keys = Keys::default();
        let (offer, invoice) = (o.offer_id.uuid(), o.invoice_id.uuid());
        assert!(channels.contains(&(keys.offer_channel(offer), o.investor_id.uuid())));
        assert!(channels.contains(&(keys.offer_channel(offer), o.seller_id.uuid())));
        assert!(channels.contains(&(keys.invoice_channel(invoice), o.investor_id.uuid())));
    }

    #[test]
    fn acceptance_tells_both_and_lapse_too() {
        assert_eq!(
            told(OfferEvent::Accepted(offer_of(OfferChange::Accepted)))
                .drafts
                .len(),
            2
        );
        assert_eq!(
            told(OfferEvent::StatusChanged(offer_of(OfferChange::Lapsed)))
                .drafts
                .len(),
            2
        );
        let revised = offer_of(OfferChange::Revised);
        let c = told(OfferEvent::StatusChanged(revised.clone()));
        assert_eq!(c.drafts.len(), 1);
        assert_eq!(c.drafts[0].user_id, revised.seller_id.uuid());
    }

    #[test]
    fn kyc_and_invoice_events_go_to_their_owner_with_the_reason() {
        let user = UserId(Uuid::now_v7());
        let c = told(KycEvent::Rejected(KycDecided {
            user_id: user,
            ..examples::kyc_decided(Some("blurry ID"))
        }));
        assert_eq!(c.drafts[0].user_id, user.uuid());
        assert!(c.drafts[0].body.ends_with("Reason: blurry ID"));
        let seller = UserId(Uuid::now_v7());
        let c = told(InvoiceEvent::Listed(InvoiceChanged {
            seller_id: seller,
            invoice_number: "INV-1".into(),
            ..examples::invoice(InvoiceStatus::Submitted, InvoiceStatus::Listed, None)
        }));
        assert_eq!(c.drafts[0].title, "Invoice INV-1 is listed");
        assert_eq!(
            c.drafts[0].body,
            "Invoice INV-1 (NGN 1500000.00) was verified and is open to investors' offers."
        );
        assert_eq!(c.drafts[0].user_id, seller.uuid());
    }

    #[test]
    fn the_acceptance_steps_are_refused_not_told() {
        for event in [
            Event::from(InvoiceEvent::AcceptanceConfirmed(
                examples::acceptance_confirmed(),
            )),
            Event::from(OfferEvent::Reserved(offer_of(OfferChange::Reserved))),
        ] {
            assert!(Told::accept(event).is_none());
        }
    }

    #[test]
    fn a_payment_tells_both_parties_in_its_own_money_and_lets_them_listen() {
        let (payment, investor, seller) = (
            PaymentId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
        );
        let c = told(PaymentEvent::StatusChanged(PaymentStatusChanged {
            payment_id: payment,
            investor_id: investor,
            seller_id: seller,
            amount_minor: 96_400_000,
            ..examples::payment(PaymentKind::Funding, PaymentStatus::Succeeded)
        }));
        let told: Vec<Uuid> = c.drafts.iter().map(|d| d.user_id).collect();
        assert_eq!(told, vec![seller.uuid(), investor.uuid()]);
        assert_eq!(c.drafts[0].title, "Payment succeeded");
        assert_eq!(
            c.drafts[0].body,
            "The funding of NGN 964000.00 went through."
        );
        assert_eq!(c.drafts[0].data["amount_minor"], 96_400_000);
        assert_eq!(c.members.len(), 2);
        assert!(
            c.members
                .iter()
                .all(|m| m.channel == Keys::default().payment(payment.uuid()))
        );
    }

    #[test]
    fn a_settlement_tells_the_party_it_paid() {
        let (investor, seller) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        for (kind, paid, what) in [
            (SettlementKind::Seller, seller, "Your payout"),
            (SettlementKind::Investor, investor, "Your settlement"),
        ] {
            let c = told(PaymentEvent::SettlementCompleted(SettlementCompleted {
                amount_minor: 100_000_000,
                seller_id: seller,
                investor_id: investor,
                ..examples::settlement(kind)
            }));
            assert_eq!(c.drafts.len(), 1, "{kind}");
            assert_eq!(c.drafts[0].user_id, paid.uuid());
            assert_eq!(
                c.drafts[0].body,
                format!("{what} of NGN 1000000.00 was paid.")
            );
        }
    }
}
