//! What each event means to whom: the notifications it makes (recipient, title, body,
//! links) and the live channels it lets its parties join. Pure: the consumer stores the
//! result.

use common::events::Envelope;
use common::keys::Keys;
use serde_json::{Value, json};
use uuid::Uuid;

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

fn uuid(p: &Value, field: &str) -> Option<Uuid> {
    p.get(field)?.as_str()?.parse().ok()
}

fn text<'a>(p: &'a Value, field: &str) -> Option<&'a str> {
    p.get(field)?.as_str().filter(|s| !s.is_empty())
}

fn with_reason(body: String, p: &Value) -> String {
    match text(p, "reason") {
        Some(r) => format!("{body} Reason: {r}"),
        None => body,
    }
}

/// Picks the fields of `p` a client links to.
fn links(p: &Value, fields: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for f in fields {
        if let Some(v) = p.get(*f).filter(|v| !v.is_null()) {
            out.insert((*f).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

impl Composed {
    fn note(&mut self, user_id: Uuid, event: &Envelope, title: String, body: String, data: Value) {
        self.drafts.push(Draft {
            user_id,
            kind: event.event_type.clone(),
            title,
            body,
            data,
        });
    }

    fn member(&mut self, channel: String, user_id: Uuid, relation: &'static str) {
        self.members.push(Member {
            channel,
            user_id,
            relation,
        });
    }
}

/// The notifications and channel members of `event` (none for an event nobody is told of,
/// or whose payload lacks the ids needed).
pub fn compose(event: &Envelope) -> Composed {
    let p = &event.payload;
    let mut out = Composed::default();
    let kind = event.event_type.as_str();
    match kind.split_once('.').map(|(domain, _)| domain) {
        Some("user") => user(&mut out, event, p),
        Some("kyc") => kyc(&mut out, event, p),
        Some("invoice") => invoice(&mut out, event, p),
        Some("offer") => offer(&mut out, event, p),
        Some("payment" | "settlement") => payment(&mut out, event),
        _ => {}
    }
    out
}

fn user(out: &mut Composed, event: &Envelope, p: &Value) {
    let Some(user) = uuid(p, "user_id") else {
        return;
    };
    let (title, body) = match event.event_type.as_str() {
        "user.registered" => {
            let what = match text(p, "role") {
                Some("investor") => "investing in invoices",
                _ => "financing your invoices",
            };
            let name = text(p, "full_name").unwrap_or("there");
            (
                "Welcome to Vestio".to_owned(),
                format!("Hello {name}. Complete your KYC to start {what}."),
            )
        }
        "user.suspended" => (
            "Your account is suspended".to_owned(),
            "An administrator suspended your account; contact support.".to_owned(),
        ),
        "user.reactivated" => (
            "Your account is active again".to_owned(),
            "An administrator lifted the suspension of your account.".to_owned(),
        ),
        _ => return,
    };
    out.note(user, event, title, body, json!({ "user_id": user }));
}

fn kyc(out: &mut Composed, event: &Envelope, p: &Value) {
    let Some(user) = uuid(p, "user_id") else {
        return;
    };
    let data = links(
        p,
        &["submission_id", "document_id", "document_type", "status"],
    );
    let (title, body) = match event.event_type.as_str() {
        "kyc.document_processed" => {
            let doc = text(p, "document_type")
                .unwrap_or("document")
                .replace('_', " ");
            match text(p, "status") {
                Some("failed" | "rejected") => {
                    let reasons: Vec<&str> = p
                        .get("reasons")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    (
                        format!("Your {doc} needs attention"),
                        if reasons.is_empty() {
                            format!("Your {doc} did not pass our checks; upload it again.")
                        } else {
                            format!(
                                "Your {doc} did not pass our checks: {}.",
                                reasons.join("; ")
                            )
                        },
                    )
                }
                _ => (
                    format!("Your {doc} passed our checks"),
                    format!("Your {doc} was checked and accepted."),
                ),
            }
        }
        "kyc.submitted" => (
            "KYC submitted".to_owned(),
            "Your KYC is in review; we will tell you when it is decided.".to_owned(),
        ),
        "kyc.approved" => (
            "KYC approved".to_owned(),
            "Your identity is verified: you can now use the marketplace.".to_owned(),
        ),
        "kyc.rejected" => (
            "KYC rejected".to_owned(),
            with_reason(
                "Your KYC was not approved; you may correct it and submit again.".to_owned(),
                p,
            ),
        ),
        _ => return,
    };
    out.note(user, event, title, body, data);
}

fn invoice(out: &mut Composed, event: &Envelope, p: &Value) {
    let (Some(invoice), Some(seller)) = (uuid(p, "invoice_id"), uuid(p, "seller_id")) else {
        return;
    };
    let keys = Keys::default();
    out.member(keys.invoice_channel(invoice), seller, "seller");
    let number = text(p, "invoice_number").unwrap_or("your invoice");
    let amount = match (text(p, "currency"), text(p, "amount")) {
        (Some(c), Some(a)) => format!(" ({c} {a})"),
        _ => String::new(),
    };
    let to = text(p, "to").unwrap_or("changed");
    let (title, body) = match event.event_type.as_str() {
        "invoice.submitted" => (
            format!("Invoice {number} submitted"),
            format!("Invoice {number}{amount} is waiting for verification."),
        ),
        "invoice.listed" => (
            format!("Invoice {number} is listed"),
            format!("Invoice {number}{amount} was verified and is open to investors' offers."),
        ),
        "invoice.rejected" => (
            format!("Invoice {number} was rejected"),
            with_reason(
                format!("Invoice {number}{amount} was not verified; edit it and submit again."),
                p,
            ),
        ),
        "invoice.cancelled" => (
            format!("Invoice {number} cancelled"),
            format!("Invoice {number}{amount} was cancelled."),
        ),
        "invoice.status_changed" => (
            format!("Invoice {number} is {to}"),
            with_reason(format!("Invoice {number}{amount} is now {to}."), p),
        ),
        _ => return,
    };
    let data = links(p, &["invoice_id", "invoice_number", "from", "to"]);
    out.note(seller, event, title, body, data);
}

fn offer(out: &mut Composed, event: &Envelope, p: &Value) {
    let (Some(offer), Some(invoice), Some(investor), Some(seller)) = (
        uuid(p, "offer_id"),
        uuid(p, "invoice_id"),
        uuid(p, "investor_id"),
        uuid(p, "seller_id"),
    ) else {
        return;
    };
    let keys = Keys::default();
    out.member(keys.offer_channel(offer), investor, "investor");
    out.member(keys.offer_channel(offer), seller, "seller");
    out.member(keys.invoice_channel(invoice), investor, "investor");
    let price = match (text(p, "currency"), text(p, "price")) {
        (Some(c), Some(a)) => format!("{c} {a}"),
        _ => "an offer".to_owned(),
    };
    let rate = text(p, "discount_rate")
        .map(|r| format!(" at {r}% a year"))
        .unwrap_or_default();
    let data = links(
        p,
        &[
            "offer_id",
            "invoice_id",
            "status",
            "change",
            "price",
            "currency",
        ],
    );
    let change = text(p, "change").unwrap_or_default();
    let mut tell = |user: Uuid, title: &str, body: String| {
        out.note(user, event, title.to_owned(), body, data.clone());
    };
    match (event.event_type.as_str(), change) {
        ("offer.placed", _) => tell(
            seller,
            "New offer on your invoice",
            format!("An investor offered {price}{rate} for your invoice."),
        ),
        ("offer.accepted", _) => {
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
        ("offer.rejected", _) => tell(
            investor,
            "Your offer was rejected",
            with_reason(format!("Your offer of {price} was rejected."), p),
        ),
        ("offer.withdrawn", _) => tell(
            seller,
            "An offer was withdrawn",
            format!("An investor withdrew their offer of {price}."),
        ),
        ("offer.expired", _) => tell(
            investor,
            "Your offer expired",
            format!("Your offer of {price} expired before the seller answered."),
        ),
        ("offer.status_changed", "revised") => tell(
            seller,
            "An offer was revised",
            format!("An investor revised their offer to {price}{rate}."),
        ),
        ("offer.status_changed", "released") => tell(
            investor,
            "Your offer is open again",
            with_reason(
                format!("The acceptance of your offer of {price} did not go through."),
                p,
            ),
        ),
        ("offer.status_changed", "lapsed") => {
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
        _ => {}
    }
    if event.event_type == "offer.accepted" {
        out.member(keys.invoice_channel(invoice), investor, "funder");
    }
}

/// Payments, decoded into the contract's types (`common::events::payments`): the parties
/// are told what moved, in money of the payment's own currency, and may listen to the
/// payment's channel. A payload that does not decode is logged and told to nobody (it
/// names no one reliably).
fn payment(out: &mut Composed, event: &Envelope) {
    use common::events::payments::{
        PaymentStatus, PaymentStatusChanged, SettlementCompleted, SettlementKind,
    };
    use common::money::Money;
    let decoded = match event.event_type.as_str() {
        PaymentStatusChanged::TYPE => event.payload_as::<PaymentStatusChanged>().map(|p| {
            let amount = Money::from_minor(p.amount_minor, p.currency).to_decimal_string();
            let (kind, status) = (p.kind.as_str(), p.status.as_str());
            let title = format!("Payment {status}");
            let phrase = match p.status {
                PaymentStatus::Pending => "is pending",
                PaymentStatus::Succeeded => "went through",
                PaymentStatus::Failed => "failed",
                PaymentStatus::Reversed => "was reversed",
                PaymentStatus::Expired => "expired",
            };
            let body = format!("The {kind} of {} {amount} {phrase}.", p.currency.code());
            let data = json!({
                "payment_id": p.payment_id, "invoice_id": p.invoice_id, "kind": kind,
                "status": status, "amount_minor": p.amount_minor, "currency": p.currency,
            });
            let channel = Some(Keys::default().payment(p.payment_id));
            (vec![p.seller_id, p.investor_id], title, body, data, channel)
        }),
        SettlementCompleted::TYPE => event.payload_as::<SettlementCompleted>().map(|s| {
            let amount = Money::from_minor(s.amount_minor, s.currency).to_decimal_string();
            let (paid, what) = match s.kind {
                SettlementKind::Seller => (s.seller_id, "Your payout"),
                SettlementKind::Investor => (s.investor_id, "Your settlement"),
            };
            let body = format!("{what} of {} {amount} was paid.", s.currency.code());
            let data = json!({
                "invoice_id": s.invoice_id, "offer_id": s.offer_id, "kind": s.kind,
                "amount_minor": s.amount_minor, "currency": s.currency,
            });
            (vec![paid], "Settlement paid".to_owned(), body, data, None)
        }),
        _ => return,
    };
    let (parties, title, body, data, channel) = match decoded {
        Ok(d) => d,
        Err(error) => {
            tracing::warn!(event = %event.id, event_type = %event.event_type, %error, "Payment event that does not decode; nobody told.");
            return;
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
        out.note(user, event, title.clone(), body.clone(), data.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::clock::ManualClock;
    use common::events::Service;

    fn event(producer: Service, kind: &str, payload: Value) -> Envelope {
        Envelope::new(
            producer,
            kind,
            &payload,
            ManualClock::starting_now().as_ref(),
        )
        .unwrap()
    }

    #[test]
    fn an_offer_tells_the_seller_and_lets_both_parties_listen() {
        let (offer, invoice, investor, seller) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let c = compose(&event(
            Service::Marketplace,
            "offer.placed",
            json!({"offer_id": offer, "invoice_id": invoice, "investor_id": investor,
                   "seller_id": seller, "status": "pending", "change": "placed",
                   "price": "1454383.56", "currency": "NGN", "discount_rate": "18.5"}),
        ));
        assert_eq!(c.drafts.len(), 1);
        assert_eq!(c.drafts[0].user_id, seller);
        assert!(
            c.drafts[0].body.contains("NGN 1454383.56 at 18.5% a year"),
            "{}",
            c.drafts[0].body
        );
        assert_eq!(c.drafts[0].data["offer_id"], offer.to_string());
        let channels: Vec<_> = c
            .members
            .iter()
            .map(|m| (m.channel.clone(), m.user_id))
            .collect();
        let keys = Keys::default();
        assert!(channels.contains(&(keys.offer_channel(offer), investor)));
        assert!(channels.contains(&(keys.offer_channel(offer), seller)));
        assert!(channels.contains(&(keys.invoice_channel(invoice), investor)));
    }

    #[test]
    fn acceptance_tells_both_and_lapse_too() {
        let ids = json!({"offer_id": Uuid::now_v7(), "invoice_id": Uuid::now_v7(),
            "investor_id": Uuid::now_v7(), "seller_id": Uuid::now_v7(), "price": "10.00", "currency": "NGN"});
        assert_eq!(
            compose(&event(Service::Marketplace, "offer.accepted", ids.clone()))
                .drafts
                .len(),
            2
        );
        let mut lapsed = ids.clone();
        lapsed["change"] = json!("lapsed");
        assert_eq!(
            compose(&event(Service::Marketplace, "offer.status_changed", lapsed))
                .drafts
                .len(),
            2
        );
        let mut revised = ids;
        revised["change"] = json!("revised");
        let c = compose(&event(
            Service::Marketplace,
            "offer.status_changed",
            revised.clone(),
        ));
        assert_eq!(
            c.drafts[0].user_id.to_string(),
            revised["seller_id"].as_str().unwrap()
        );
    }

    #[test]
    fn kyc_and_invoice_events_go_to_their_owner_with_the_reason() {
        let user = Uuid::now_v7();
        let c = compose(&event(
            Service::Kyc,
            "kyc.rejected",
            json!({"user_id": user, "submission_id": Uuid::now_v7(), "reviewed_by": Uuid::now_v7(), "reason": "blurry ID"}),
        ));
        assert_eq!(c.drafts[0].user_id, user);
        assert!(c.drafts[0].body.ends_with("Reason: blurry ID"));
        let seller = Uuid::now_v7();
        let c = compose(&event(
            Service::Invoice,
            "invoice.listed",
            json!({"invoice_id": Uuid::now_v7(), "seller_id": seller, "invoice_number": "INV-1",
                   "amount": "1500000.00", "currency": "NGN", "from": "submitted", "to": "listed"}),
        ));
        assert_eq!(c.drafts[0].title, "Invoice INV-1 is listed");
        assert_eq!(c.drafts[0].user_id, seller);
    }

    #[test]
    fn payloads_without_recipients_make_nothing() {
        assert_eq!(
            compose(&event(
                Service::Marketplace,
                "offer.placed",
                json!({"offer_id": "x"})
            )),
            Composed::default()
        );
        assert_eq!(
            compose(&event(Service::Auth, "user.registered", json!({}))),
            Composed::default()
        );
    }

    #[test]
    fn a_payment_tells_both_parties_in_its_own_money_and_lets_them_listen() {
        use common::events::payments::PaymentStatusChanged;
        let (payment, investor, seller) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let c = compose(&event(
            Service::Payments,
            PaymentStatusChanged::TYPE,
            json!({"payment_id": payment, "kind": "funding", "status": "succeeded",
                   "invoice_id": Uuid::now_v7(), "offer_id": Uuid::now_v7(),
                   "investor_id": investor, "seller_id": seller,
                   "amount_minor": 96_400_000, "currency": "NGN"}),
        ));
        let told: Vec<Uuid> = c.drafts.iter().map(|d| d.user_id).collect();
        assert_eq!(told, vec![seller, investor]);
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
                .all(|m| m.channel == Keys::default().payment(payment))
        );
    }

    #[test]
    fn a_settlement_tells_the_party_it_paid() {
        use common::events::payments::SettlementCompleted;
        let (investor, seller) = (Uuid::now_v7(), Uuid::now_v7());
        for (kind, paid, what) in [
            ("seller", seller, "Your payout"),
            ("investor", investor, "Your settlement"),
        ] {
            let c = compose(&event(
                Service::Payments,
                SettlementCompleted::TYPE,
                json!({"invoice_id": Uuid::now_v7(), "offer_id": Uuid::now_v7(), "kind": kind,
                       "amount_minor": 100_000_000, "currency": "NGN",
                       "seller_id": seller, "investor_id": investor}),
            ));
            assert_eq!(c.drafts.len(), 1, "{kind}");
            assert_eq!(c.drafts[0].user_id, paid);
            assert_eq!(
                c.drafts[0].body,
                format!("{what} of NGN 1000000.00 was paid.")
            );
        }
    }

    #[test]
    fn a_payment_that_does_not_decode_tells_nobody_rather_than_guessing() {
        use common::events::payments::PaymentStatusChanged;
        // A decimal string where minor units are due, and an unknown kind.
        for payload in [
            json!({"payment_id": Uuid::now_v7(), "kind": "funding", "status": "succeeded",
                   "invoice_id": Uuid::now_v7(), "offer_id": Uuid::now_v7(),
                   "investor_id": Uuid::now_v7(), "seller_id": Uuid::now_v7(),
                   "amount_minor": "964000.00", "currency": "NGN"}),
            json!({"payment_id": Uuid::now_v7(), "kind": "settlement", "status": "succeeded",
                   "invoice_id": Uuid::now_v7(), "offer_id": Uuid::now_v7(),
                   "investor_id": Uuid::now_v7(), "seller_id": Uuid::now_v7(),
                   "amount_minor": 1, "currency": "NGN"}),
        ] {
            let c = compose(&event(
                Service::Payments,
                PaymentStatusChanged::TYPE,
                payload,
            ));
            assert!(c.drafts.is_empty() && c.members.is_empty());
        }
    }
}
