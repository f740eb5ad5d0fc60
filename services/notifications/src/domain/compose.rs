//! What each event means to whom: the notifications it makes (recipient, title, body,
//! links) and the live channels it lets its parties join. Pure: the consumer stores the
//! result. Every event arrives typed ([`Told`]): a payload that does not decode never gets
//! here (it goes to the dead letters with the reason), so nothing is guessed.

use common::events::auth::UserRegistered;
use common::events::kyc::DocumentStatus;
use common::events::marketplace::OfferChange;
use common::events::payments::{PaymentKind, PaymentStatus, RefundTo, SettlementKind};
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
                | Event::Kyc(KycEvent::DocumentDownloaded(_))
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
        // Not accepted here (an admin's read, audited by admin).
        KycEvent::DocumentDownloaded(_) => {}
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
        OfferEvent::ReservationTimedOut(_) => {
            tell(
                investor,
                "Your offer's acceptance did not complete",
                with_reason(
                    format!(
                        "The seller accepted your offer of {price}, but the acceptance did not complete and the offer was released; you may make a new offer."
                    ),
                    reason,
                ),
            );
            tell(
                seller,
                "An acceptance did not complete",
                format!(
                    "Your acceptance of the offer of {price}{rate} did not complete in time; your invoice is open for offers again."
                ),
            );
        }
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

/// Payments: who is told what, by kind and status (the table in docs/notifications.md).
/// Each party told may listen to the payment's channel. Nobody is told twice of one
/// thing: a seller's payout is told as the payout's success, not again as its
/// settlement; a refund is told to the investor when it is theirs (`refund_to`), and to
/// nobody when it goes back to the debtor (not a user: the seller sees it in the
/// payments API).
fn payment(out: &mut Out, e: &PaymentEvent) {
    match e {
        PaymentEvent::StatusChanged(p) => {
            let amount = format!(
                "{} {}",
                p.currency,
                Money::from_minor(p.amount_minor, p.currency).to_decimal_string()
            );
            let (s, i) = (p.seller_id, p.investor_id);
            let notes: Vec<(UserId, &str, String)> = match (p.kind, p.status) {
                (PaymentKind::Funding, PaymentStatus::Pending) => vec![(
                    i,
                    "Fund your offer",
                    format!(
                        "Your offer was accepted: pay {amount} to fund the invoice before the funding window closes."
                    ),
                )],
                (PaymentKind::Funding, PaymentStatus::Succeeded) => vec![
                    (
                        i,
                        "Funds received",
                        format!("Your {amount} arrived: the invoice is funded."),
                    ),
                    (
                        s,
                        "Your invoice is funded",
                        format!("The investor paid {amount}; your payout follows."),
                    ),
                ],
                (PaymentKind::Funding, PaymentStatus::Failed) => vec![(
                    i,
                    "Payment failed",
                    format!(
                        "Your payment of {amount} did not go through; you can try again while the window is open."
                    ),
                )],
                (PaymentKind::Funding, PaymentStatus::Expired) => vec![
                    (
                        i,
                        "Funding window closed",
                        format!("The {amount} was not paid in time; the offer lapsed."),
                    ),
                    (
                        s,
                        "Funding window closed",
                        "The investor did not pay in time; your invoice is listed again."
                            .to_owned(),
                    ),
                ],
                (PaymentKind::Funding, PaymentStatus::Reversed) => vec![
                    (
                        i,
                        "Funding reversed",
                        format!("Your payment of {amount} was reversed by your bank."),
                    ),
                    (
                        s,
                        "Funding reversed",
                        format!("The investor's payment of {amount} was reversed."),
                    ),
                ],
                (PaymentKind::Payout, PaymentStatus::Succeeded) => vec![(
                    s,
                    "Payout sent",
                    format!("{amount} was sent to your payout account."),
                )],
                (PaymentKind::Payout, PaymentStatus::Failed) => vec![(
                    s,
                    "Payout failed",
                    format!(
                        "The payout of {amount} failed; set a new payout account and it is sent again."
                    ),
                )],
                (PaymentKind::Payout, PaymentStatus::Reversed) => vec![(
                    s,
                    "Payout returned",
                    format!(
                        "The payout of {amount} was returned by your bank; set a new payout account and it is sent again."
                    ),
                )],
                (PaymentKind::Repayment, PaymentStatus::Succeeded) => {
                    let left = p.outstanding_minor.unwrap_or(0);
                    let body = if left == 0 {
                        format!("The debtor paid {amount}: the invoice is repaid in full.")
                    } else {
                        format!(
                            "The debtor paid {amount}; {} {} is still outstanding.",
                            p.currency,
                            Money::from_minor(left, p.currency).to_decimal_string()
                        )
                    };
                    vec![
                        (s, "Repayment received", body.clone()),
                        (i, "Repayment received", body),
                    ]
                }
                (PaymentKind::Distribution, PaymentStatus::Succeeded) => vec![(
                    i,
                    "Money sent to you",
                    format!("{amount} the debtor repaid was sent to your payout account."),
                )],
                (PaymentKind::Distribution, PaymentStatus::Failed | PaymentStatus::Reversed) => {
                    vec![(
                        i,
                        "Transfer to you failed",
                        format!(
                            "Sending you {amount} failed; set a new payout account and it is sent again."
                        ),
                    )]
                }
                (PaymentKind::Refund, status) if p.refund_to == Some(RefundTo::Investor) => {
                    match status {
                        PaymentStatus::Pending => vec![(
                            i,
                            "Payment being refunded",
                            format!(
                                "Your payment of {amount} arrived after the funding window closed; it is being refunded."
                            ),
                        )],
                        PaymentStatus::Succeeded => vec![(
                            i,
                            "Payment refunded",
                            format!("{amount} was refunded to you."),
                        )],
                        PaymentStatus::Failed => vec![(
                            i,
                            "Refund delayed",
                            format!(
                                "Refunding your {amount} did not go through; the platform's operators see it and will see it through."
                            ),
                        )],
                        _ => Vec::new(),
                    }
                }
                // Pending payouts, repayments and distributions, failed repayment links,
                // and refunds to the debtor: nothing to tell (see above).
                _ => Vec::new(),
            };
            let data = json!({
                "payment_id": p.payment_id, "invoice_id": p.invoice_id, "kind": p.kind,
                "status": p.status, "amount_minor": p.amount_minor, "currency": p.currency,
            });
            let channel = Keys::default().payment(p.payment_id.uuid());
            for (user, title, body) in notes {
                out.member(channel.clone(), user, "party");
                out.note(user, title, body, data.clone());
            }
        }
        PaymentEvent::SettlementCompleted(c) => {
            if c.kind == SettlementKind::Seller {
                // Told as the payout's success.
                return;
            }
            let amount = Money::from_minor(c.amount_minor, c.currency).to_decimal_string();
            let data = json!({
                "invoice_id": c.invoice_id, "offer_id": c.offer_id, "kind": c.kind,
                "amount_minor": c.amount_minor, "currency": c.currency,
            });
            out.note(
                c.investor_id,
                "Invoice settled",
                format!(
                    "You received {} {amount} in all: the invoice is settled.",
                    c.currency
                ),
                data.clone(),
            );
            out.note(
                c.seller_id,
                "Invoice settled",
                format!(
                    "The debtor's {} {amount} reached the investor: the invoice is settled.",
                    c.currency
                ),
                data,
            );
        }
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
    use common::ids::{InvoiceId, OfferId};

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
            if matches!(&t.0, Event::Payments(PaymentEvent::SettlementCompleted(s)) if s.kind == SettlementKind::Seller)
            {
                // Told once, as the payout's success.
                assert!(c.drafts.is_empty(), "{name}");
                continue;
            }
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
    fn acceptance_tells_both_and_lapse_and_timeout_too() {
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
        let timed_out = told(OfferEvent::ReservationTimedOut(offer_of(
            OfferChange::TimedOut,
        )));
        assert_eq!(timed_out.drafts.len(), 2);
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

    fn payment_of(
        kind: PaymentKind,
        status: PaymentStatus,
        seller: UserId,
        investor: UserId,
    ) -> PaymentStatusChanged {
        PaymentStatusChanged {
            investor_id: investor,
            seller_id: seller,
            amount_minor: 96_400_000,
            outstanding_minor: (kind == PaymentKind::Repayment).then_some(50_000_000),
            ..examples::payment(kind, status)
        }
    }

    /// docs/notifications.md's table of payment notices, row by row.
    #[test]
    fn each_payment_kind_and_status_tells_whom_the_table_says() {
        use PaymentKind::*;
        use PaymentStatus::*;
        let (investor, seller) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        let (i, s) = (investor.uuid(), seller.uuid());
        type Whom<'a> = Vec<(Uuid, &'a str)>;
        let table: Vec<(PaymentKind, PaymentStatus, Whom)> = vec![
            (Funding, Pending, vec![(i, "Fund your offer")]),
            (
                Funding,
                Succeeded,
                vec![(i, "Funds received"), (s, "Your invoice is funded")],
            ),
            (Funding, Failed, vec![(i, "Payment failed")]),
            (
                Funding,
                Expired,
                vec![(i, "Funding window closed"), (s, "Funding window closed")],
            ),
            (
                Funding,
                Reversed,
                vec![(i, "Funding reversed"), (s, "Funding reversed")],
            ),
            (Payout, Pending, vec![]),
            (Payout, Succeeded, vec![(s, "Payout sent")]),
            (Payout, Failed, vec![(s, "Payout failed")]),
            (Payout, Reversed, vec![(s, "Payout returned")]),
            (Repayment, Pending, vec![]),
            (
                Repayment,
                Succeeded,
                vec![(s, "Repayment received"), (i, "Repayment received")],
            ),
            (Repayment, Failed, vec![]),
            (Distribution, Pending, vec![]),
            (Distribution, Succeeded, vec![(i, "Money sent to you")]),
            (Distribution, Failed, vec![(i, "Transfer to you failed")]),
            // The example refund is the investor's (a late funding).
            (Refund, Pending, vec![(i, "Payment being refunded")]),
            (Refund, Succeeded, vec![(i, "Payment refunded")]),
            (Refund, Failed, vec![(i, "Refund delayed")]),
        ];
        for (kind, status, expected) in table {
            let p = payment_of(kind, status, seller, investor);
            let c = told(PaymentEvent::StatusChanged(p.clone()));
            let got: Vec<(Uuid, &str)> = c
                .drafts
                .iter()
                .map(|d| (d.user_id, d.title.as_str()))
                .collect();
            assert_eq!(got, expected, "{kind} {status}");
            assert_eq!(c.members.len(), expected.len(), "{kind} {status}");
            assert!(
                c.members
                    .iter()
                    .all(|m| m.channel == Keys::default().payment(p.payment_id.uuid()))
            );
        }
    }

    #[test]
    fn a_refund_to_the_debtor_tells_nobody() {
        let (investor, seller) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Failed,
        ] {
            let p = PaymentStatusChanged {
                refund_to: Some(RefundTo::Debtor),
                ..payment_of(PaymentKind::Refund, status, seller, investor)
            };
            let c = told(PaymentEvent::StatusChanged(p));
            assert!(c.drafts.is_empty(), "{status}: {:?}", c.drafts);
        }
    }

    #[test]
    fn payment_notices_name_the_money_in_its_own_currency() {
        let (investor, seller) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        let c = told(PaymentEvent::StatusChanged(payment_of(
            PaymentKind::Funding,
            PaymentStatus::Pending,
            seller,
            investor,
        )));
        assert_eq!(
            c.drafts[0].body,
            "Your offer was accepted: pay NGN 964000.00 to fund the invoice before the funding window closes."
        );
        assert_eq!(c.drafts[0].data["amount_minor"], 96_400_000);
        let c = told(PaymentEvent::StatusChanged(payment_of(
            PaymentKind::Repayment,
            PaymentStatus::Succeeded,
            seller,
            investor,
        )));
        assert_eq!(
            c.drafts[0].body,
            "The debtor paid NGN 964000.00; NGN 500000.00 is still outstanding."
        );
    }

    #[test]
    fn a_settlement_tells_both_parties_once_and_a_payouts_is_not_told_twice() {
        let (investor, seller) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        let settle = |kind| {
            told(PaymentEvent::SettlementCompleted(SettlementCompleted {
                amount_minor: 150_000_000,
                seller_id: seller,
                investor_id: investor,
                ..examples::settlement(kind)
            }))
        };
        assert!(settle(SettlementKind::Seller).drafts.is_empty());
        let c = settle(SettlementKind::Investor);
        let got: Vec<(Uuid, &str)> = c
            .drafts
            .iter()
            .map(|d| (d.user_id, d.body.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    investor.uuid(),
                    "You received NGN 1500000.00 in all: the invoice is settled."
                ),
                (
                    seller.uuid(),
                    "The debtor's NGN 1500000.00 reached the investor: the invoice is settled."
                ),
            ]
        );
    }
}
