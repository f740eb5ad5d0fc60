//! Cross-service facts: the versioned envelope and the catalogue of event types.
//!
//! An event travels as an [`Envelope`] on the `events:{service}` queue of every consumer
//! named in the [`CATALOGUE`]. Producers write envelopes into their outbox in the same
//! transaction as the change ([`crate::outbox`]); consumers record the envelope id in their
//! inbox in the same transaction as the effect ([`crate::inbox`]). docs/messaging.md holds
//! the same catalogue; a test keeps the two equal.

pub mod payments;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Clock;

/// The seven services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Auth,
    Kyc,
    Invoice,
    Marketplace,
    Payments,
    Admin,
    Notifications,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Auth,
        Service::Kyc,
        Service::Invoice,
        Service::Marketplace,
        Service::Payments,
        Service::Admin,
        Service::Notifications,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Kyc => "kyc",
            Service::Invoice => "invoice",
            Service::Marketplace => "marketplace",
            Service::Payments => "payments",
            Service::Admin => "admin",
            Service::Notifications => "notifications",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One kind of event: who produces it and who consumes it.
#[derive(Debug, Clone, Copy)]
pub struct EventType {
    pub name: &'static str,
    pub version: u32,
    pub producer: Service,
    pub consumers: &'static [Service],
    pub description: &'static str,
}

use Service::{Admin, Auth, Invoice, Kyc, Marketplace, Notifications, Payments};

/// Every event type of the platform.
pub const CATALOGUE: &[EventType] = &[
    EventType {
        name: "user.registered",
        version: 1,
        producer: Auth,
        consumers: &[Admin, Notifications],
        description: "A seller or investor registered: {user_id, email, role, full_name}.",
    },
    EventType {
        name: "user.suspended",
        version: 1,
        producer: Auth,
        consumers: &[Admin, Notifications],
        description: "An admin suspended a user; their tokens are refused from now on.",
    },
    EventType {
        name: "user.reactivated",
        version: 1,
        producer: Auth,
        consumers: &[Admin, Notifications],
        description: "An admin lifted a suspension.",
    },
    EventType {
        name: "kyc.document_processed",
        version: 1,
        producer: Kyc,
        consumers: &[Notifications, Admin],
        description: "A KYC document passed or failed its checks.",
    },
    EventType {
        name: "kyc.submitted",
        version: 1,
        producer: Kyc,
        consumers: &[Admin, Notifications],
        description: "A user's KYC entered review.",
    },
    EventType {
        name: "kyc.approved",
        version: 1,
        producer: Kyc,
        consumers: &[Auth, Admin, Notifications],
        description: "An admin approved a user's KYC; auth puts it in the user's claims.",
    },
    EventType {
        name: "kyc.rejected",
        version: 1,
        producer: Kyc,
        consumers: &[Auth, Admin, Notifications],
        description: "An admin rejected a user's KYC, with a reason.",
    },
    EventType {
        name: "invoice.submitted",
        version: 1,
        producer: Invoice,
        consumers: &[Admin, Notifications],
        description: "A seller submitted an invoice for verification (draft or rejected -> submitted).",
    },
    EventType {
        name: "invoice.listed",
        version: 1,
        producer: Invoice,
        consumers: &[Marketplace, Admin, Notifications],
        description: "An admin verified an invoice; it is listed for investors (with its terms).",
    },
    EventType {
        name: "invoice.rejected",
        version: 1,
        producer: Invoice,
        consumers: &[Admin, Notifications],
        description: "An admin rejected a submitted invoice, with a reason; the seller may edit and resubmit.",
    },
    EventType {
        name: "invoice.cancelled",
        version: 1,
        producer: Invoice,
        consumers: &[Marketplace, Admin, Notifications],
        description: "The seller cancelled an invoice that had no accepted offer.",
    },
    EventType {
        name: "invoice.status_changed",
        version: 1,
        producer: Invoice,
        consumers: &[Marketplace, Payments, Admin, Notifications],
        description: "An invoice moved between states other than the four above (accepted, funded, repaid, settled, overdue, defaulted, back to listed): {invoice_id, seller_id, from, to, reason}.",
    },
    EventType {
        name: "invoice.acceptance_confirmed",
        version: 1,
        producer: Invoice,
        consumers: &[Marketplace, Payments, Admin],
        description: "The invoice service confirmed an offer's acceptance (listed -> accepted).",
    },
    EventType {
        name: "invoice.acceptance_refused",
        version: 1,
        producer: Invoice,
        consumers: &[Marketplace, Admin],
        description: "The invoice service refused an acceptance (no longer listed).",
    },
    EventType {
        name: "offer.placed",
        version: 1,
        producer: Marketplace,
        consumers: &[Invoice, Admin, Notifications],
        description: "An investor made an offer on a listed invoice.",
    },
    EventType {
        name: "offer.reserved",
        version: 1,
        producer: Marketplace,
        consumers: &[Invoice, Admin],
        description: "A seller accepted an offer; marketplace asks the invoice service to confirm.",
    },
    EventType {
        name: "offer.accepted",
        version: 1,
        producer: Marketplace,
        consumers: &[Payments, Admin, Notifications],
        description: "The saga finished: the offer is accepted and the others rejected. Carries the figures as decimal strings and in minor units (face_minor, price_minor, fee_minor, net_proceeds_minor) with the currency.",
    },
    EventType {
        name: "offer.rejected",
        version: 1,
        producer: Marketplace,
        consumers: &[Admin, Notifications],
        description: "A pending offer was rejected: by the seller, because another offer was accepted, or because the invoice left the market (reason says which).",
    },
    EventType {
        name: "offer.withdrawn",
        version: 1,
        producer: Marketplace,
        consumers: &[Admin, Notifications],
        description: "The investor withdrew a pending offer.",
    },
    EventType {
        name: "offer.expired",
        version: 1,
        producer: Marketplace,
        consumers: &[Admin, Notifications],
        description: "A pending offer passed its expiry time.",
    },
    EventType {
        name: "offer.status_changed",
        version: 1,
        producer: Marketplace,
        consumers: &[Admin, Notifications],
        description: "An offer was revised, released (the invoice service refused its acceptance) or lapsed (the accepted invoice went unfunded): {offer_id, invoice_id, investor_id, seller_id, status, change, reason}. Every offer.* event carries this payload.",
    },
    EventType {
        name: "payment.status_changed",
        version: 1,
        producer: Payments,
        consumers: &[Invoice, Admin, Notifications],
        description: "A payment moved (common::events::payments::PaymentStatusChanged): {payment_id, kind: funding | payout | repayment | distribution | refund, status: pending | succeeded | failed | reversed | expired, invoice_id, offer_id, investor_id, seller_id, amount_minor, currency, outstanding_minor (a repayment: what is still due)}.",
    },
    EventType {
        name: "settlement.completed",
        version: 1,
        producer: Payments,
        consumers: &[Invoice, Admin, Notifications],
        description: "A seller payout or investor settlement was paid (common::events::payments::SettlementCompleted): {invoice_id, offer_id, kind: seller | investor, amount_minor, currency, seller_id, investor_id}.",
    },
];

/// The catalogue entry of `name`.
pub fn event_type(name: &str) -> Option<&'static EventType> {
    CATALOGUE.iter().find(|e| e.name == name)
}

/// The consumers of `name` (none for an unknown type).
pub fn consumers_of(name: &str) -> &'static [Service] {
    event_type(name).map(|e| e.consumers).unwrap_or(&[])
}

/// The versioned envelope every event travels in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub producer: Service,
    /// W3C trace context of the change that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub payload: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event type {0:?} is not in the catalogue")]
    Unknown(String),
    #[error("event type {name:?} is produced by {expected}, not {actual}")]
    WrongProducer {
        name: String,
        expected: Service,
        actual: Service,
    },
    #[error("event payload does not serialize: {0}")]
    Payload(#[from] serde_json::Error),
}

impl Envelope {
    /// A new event of catalogue type `name` from `producer`, stamped with the clock's time
    /// and the current trace context.
    pub fn new<P: Serialize>(
        producer: Service,
        name: &str,
        payload: &P,
        clock: &dyn Clock,
    ) -> Result<Self, EventError> {
        let ty = event_type(name).ok_or_else(|| EventError::Unknown(name.to_owned()))?;
        if ty.producer != producer {
            return Err(EventError::WrongProducer {
                name: name.to_owned(),
                expected: ty.producer,
                actual: producer,
            });
        }
        let now = clock.now();
        Ok(Self {
            id: crate::new_id_at(now),
            event_type: ty.name.to_owned(),
            version: ty.version,
            occurred_at: now,
            producer,
            traceparent: crate::telemetry::current_traceparent(),
            payload: serde_json::to_value(payload)?,
        })
    }

    /// The payload as `T`.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.payload.clone())
    }
}

/// The catalogue as the Markdown table kept in docs/messaging.md.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "| event type | version | producer | consumers | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for e in CATALOGUE {
        let consumers: Vec<&str> = e.consumers.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            e.name,
            e.version,
            e.producer,
            consumers.join(", "),
            e.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn envelope_carries_the_catalogue_version_and_serializes_type() {
        let clock = ManualClock::new(Utc::now());
        let env = Envelope::new(
            Auth,
            "user.registered",
            &serde_json::json!({"a": 1}),
            &clock,
        )
        .unwrap();
        assert_eq!(env.version, 1);
        assert_eq!(env.occurred_at, clock.now());
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(json["type"], "user.registered");
        assert_eq!(json["producer"], "auth");
        assert_eq!(env.id.get_version_num(), 7);
    }

    #[test]
    fn unknown_types_and_wrong_producers_are_refused() {
        let clock = ManualClock::new(Utc::now());
        assert!(matches!(
            Envelope::new(Auth, "nope", &1, &clock),
            Err(EventError::Unknown(_))
        ));
        assert!(matches!(
            Envelope::new(Kyc, "user.registered", &1, &clock),
            Err(EventError::WrongProducer { .. })
        ));
    }

    #[test]
    fn catalogue_names_are_unique_and_never_self_consumed() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        for e in CATALOGUE {
            assert!(!e.consumers.contains(&e.producer), "{}", e.name);
        }
    }

    /// docs/messaging.md must list the same catalogue. Run with UPDATE_DOCS=1 to rewrite
    /// the table between its markers.
    #[test]
    fn docs_messaging_lists_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/messaging.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (start, end) = ("<!-- catalogue:start -->\n", "<!-- catalogue:end -->");
        let a = doc.find(start).unwrap() + start.len();
        let b = doc.find(end).unwrap();
        let table = catalogue_markdown();
        if std::env::var("UPDATE_DOCS").is_ok() {
            let new = format!("{}{}{}", &doc[..a], table, &doc[b..]);
            std::fs::write(path, new).unwrap();
            return;
        }
        assert_eq!(
            &doc[a..b],
            table,
            "docs/messaging.md is out of date: run UPDATE_DOCS=1 cargo test -p common docs_messaging"
        );
    }
}
