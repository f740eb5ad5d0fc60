//! Cross-service facts: one Rust type per event, the catalogue made from them, and the
//! versioned envelope they travel in.
//!
//! Each producer has an enum of its events ([`AuthEvent`], [`KycEvent`], [`InvoiceEvent`],
//! [`OfferEvent`], [`PaymentEvent`]); each variant carries its payload type and is one row
//! of the [`CATALOGUE`] (name, version, consumers), so the name and version of an event
//! come from its type. A producer builds an [`Envelope`] from a typed event
//! ([`Envelope::of`]) and writes it into its outbox in the same transaction as the change
//! ([`crate::outbox`]); the relay routes it to the `events:{service}` queue of every
//! consumer the catalogue names. A consumer decodes the envelope into its own enum of what
//! it accepts ([`Accepts`], [`Envelope::accept`]) and `match`es on it: what it cannot use is
//! [`Unusable`] (dead letters with the reason, never a default). docs/messaging.md holds
//! the catalogue; a test keeps the two equal.

pub mod auth;
pub mod invoice;
pub mod kyc;
pub mod marketplace;
pub mod payments;
pub mod signing;

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

    /// The service named `name` (as [`Self::as_str`] writes it).
    pub fn named(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One kind of event: who produces it and who consumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub name: &'static str,
    pub version: u32,
    pub producer: Service,
    pub consumers: &'static [Service],
    pub description: &'static str,
}

use Service::{Admin, Auth, Invoice, Kyc, Marketplace, Notifications, Payments};

/// A job its handler can never use (an event type it does not accept, a payload that does
/// not decode, a version newer than it knows): returned in a handler's error chain, it
/// sends the job to the dead letters at once, with the reason, instead of retrying what
/// cannot change. A fix, then a requeue, is the way out.
#[derive(Debug, thiserror::Error)]
#[error("unusable: {0}")]
pub struct Unusable(pub String);

/// The W3C `traceparent` of the current span (what an envelope carries), if tracing is
/// exporting.
pub fn current_traceparent() -> Option<String> {
    use opentelemetry::global;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let mut carrier: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove("traceparent")
}

/// The catalogue: for each producer, its event enum; for each event, its variant, payload
/// type, name, version, consumers and meaning. From this one table come the enums, the
/// top-level [`Event`], [`CATALOGUE`] and decoding.
macro_rules! catalogue {
    ($(
        $(#[$group_meta:meta])*
        $producer:ident => $group:ident {
            $(
                $variant:ident($payload:ty) = $name:literal v $version:literal
                    -> [$($consumer:ident),+] $description:literal;
            )+
        }
    )+) => {
        $(
            $(#[$group_meta])*
            #[derive(Debug, Clone, PartialEq)]
            pub enum $group {
                $(#[doc = $description] $variant($payload),)+
            }

            impl $group {
                /// The service that produces these events.
                pub const PRODUCER: Service = $producer;

                /// This event's row of the catalogue.
                pub fn event_type(&self) -> &'static EventType {
                    match self {
                        $(Self::$variant(_) => &EventType {
                            name: $name,
                            version: $version,
                            producer: $producer,
                            consumers: &[$($consumer),+],
                            description: $description,
                        },)+
                    }
                }

                fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                    match self {
                        $(Self::$variant(p) => serde_json::to_value(p),)+
                    }
                }

                /// The event called `name` with `payload`; `None` if `name` is not one of
                /// this producer's.
                fn decode(
                    name: &str,
                    payload: &serde_json::Value,
                ) -> Option<Result<Self, serde_json::Error>> {
                    match name {
                        $($name => Some(
                            <$payload as serde::Deserialize>::deserialize(payload)
                                .map(Self::$variant),
                        ),)+
                        _ => None,
                    }
                }
            }

            impl From<$group> for Event {
                fn from(e: $group) -> Event {
                    Event::$producer(e)
                }
            }
        )+

        /// Any event of the platform, by producer.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($producer($group),)+
        }

        impl Event {
            /// This event's row of the catalogue.
            pub fn event_type(&self) -> &'static EventType {
                match self {
                    $(Event::$producer(e) => e.event_type(),)+
                }
            }

            /// The payload as the event's type serialises it (what an envelope carries).
            pub fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                match self {
                    $(Event::$producer(e) => e.payload_json(),)+
                }
            }

            fn decode_payload(
                name: &str,
                payload: &serde_json::Value,
            ) -> Option<Result<Self, serde_json::Error>> {
                None$(.or_else(|| $group::decode(name, payload).map(|r| r.map(Event::$producer))))+
            }
        }

        /// Every event type of the platform, in the order of the table above.
        pub const CATALOGUE: &[EventType] = &[$($(EventType {
            name: $name,
            version: $version,
            producer: $producer,
            consumers: &[$($consumer),+],
            description: $description,
        },)+)+];
    };
}

catalogue! {
    /// What auth tells ([`auth`]).
    Auth => AuthEvent {
        UserRegistered(auth::UserRegistered) = "user.registered" v 1 -> [Admin, Notifications]
            "A seller or investor registered.";
        UserSuspended(auth::UserStatusChanged) = "user.suspended" v 1 -> [Admin, Notifications]
            "An admin suspended a user; their tokens are refused from now on.";
        UserReactivated(auth::UserStatusChanged) = "user.reactivated" v 1 -> [Admin, Notifications]
            "An admin lifted a suspension.";
    }
    /// What KYC tells ([`kyc`]).
    Kyc => KycEvent {
        DocumentProcessed(kyc::DocumentProcessed) = "kyc.document_processed" v 1 -> [Notifications, Admin]
            "A KYC document passed or failed its checks.";
        Submitted(kyc::KycSubmitted) = "kyc.submitted" v 1 -> [Admin, Notifications]
            "A user's KYC entered review.";
        Approved(kyc::KycDecided) = "kyc.approved" v 1 -> [Auth, Admin, Notifications]
            "An admin approved a user's KYC; auth puts it in the user's claims.";
        Rejected(kyc::KycDecided) = "kyc.rejected" v 1 -> [Auth, Admin, Notifications]
            "An admin rejected a user's KYC, with a reason.";
        DocumentDownloaded(kyc::DocumentDownloaded) = "kyc.document_downloaded" v 1 -> [Admin]
            "An admin downloaded a user's KYC document (a read of personal data, audited).";
    }
    /// What the invoice service tells ([`invoice`]).
    Invoice => InvoiceEvent {
        Submitted(invoice::InvoiceChanged) = "invoice.submitted" v 1 -> [Admin, Notifications]
            "A seller submitted an invoice for verification (draft or rejected -> submitted).";
        Listed(invoice::InvoiceChanged) = "invoice.listed" v 1 -> [Marketplace, Admin, Notifications]
            "An admin verified an invoice; it is listed for investors (with its terms).";
        Rejected(invoice::InvoiceChanged) = "invoice.rejected" v 1 -> [Admin, Notifications]
            "An admin rejected a submitted invoice, with a reason; the seller may edit and resubmit.";
        Cancelled(invoice::InvoiceChanged) = "invoice.cancelled" v 1 -> [Marketplace, Admin, Notifications]
            "The seller cancelled an invoice that had no accepted offer.";
        StatusChanged(invoice::InvoiceChanged) = "invoice.status_changed" v 1 -> [Marketplace, Payments, Admin, Notifications]
            "An invoice moved between states other than the four above (accepted, funded, repaid, settled, overdue, defaulted, back to listed).";
        AcceptanceConfirmed(invoice::AcceptanceConfirmed) = "invoice.acceptance_confirmed" v 1 -> [Marketplace, Payments, Admin]
            "The invoice service confirmed an offer's acceptance (listed -> accepted).";
        AcceptanceRefused(invoice::AcceptanceRefused) = "invoice.acceptance_refused" v 1 -> [Marketplace, Admin]
            "The invoice service refused an acceptance (the invoice is no longer listed, or does not exist).";
    }
    /// What marketplace tells ([`marketplace`]); every offer event carries the offer after
    /// the change.
    Marketplace => OfferEvent {
        Placed(marketplace::OfferChanged) = "offer.placed" v 1 -> [Invoice, Admin, Notifications]
            "An investor made an offer on a listed invoice.";
        Reserved(marketplace::OfferChanged) = "offer.reserved" v 1 -> [Invoice, Admin]
            "A seller accepted an offer; marketplace asks the invoice service to confirm.";
        Accepted(marketplace::OfferChanged) = "offer.accepted" v 1 -> [Payments, Admin, Notifications]
            "The saga finished: the offer is accepted and the others rejected (rejected_offer_ids).";
        Rejected(marketplace::OfferChanged) = "offer.rejected" v 1 -> [Admin, Notifications]
            "A pending offer was rejected: by the seller, because another offer was accepted, or because the invoice left the market (reason says which).";
        Withdrawn(marketplace::OfferChanged) = "offer.withdrawn" v 1 -> [Admin, Notifications]
            "The investor withdrew a pending offer.";
        Expired(marketplace::OfferChanged) = "offer.expired" v 1 -> [Admin, Notifications]
            "A pending offer passed its expiry time.";
        StatusChanged(marketplace::OfferChanged) = "offer.status_changed" v 1 -> [Admin, Notifications]
            "An offer was revised, released (the invoice service refused its acceptance) or lapsed (the accepted invoice went unfunded); change says which.";
        ReservationTimedOut(marketplace::OfferChanged) = "offer.reservation_timed_out" v 1 -> [Invoice, Admin, Notifications]
            "The invoice service did not answer an acceptance within MARKETPLACE_RESERVATION_TIMEOUT_SECS: the offer is rejected and the listing open again; the invoice service releases a confirmation it made for this offer.";
    }
    /// What payments tells ([`payments`]).
    Payments => PaymentEvent {
        StatusChanged(payments::PaymentStatusChanged) = "payment.status_changed" v 1 -> [Invoice, Admin, Notifications]
            "A funding, payout, repayment, distribution or refund moved (a repayment says what is still outstanding).";
        SettlementCompleted(payments::SettlementCompleted) = "settlement.completed" v 1 -> [Invoice, Admin, Notifications]
            "A seller payout or investor settlement was paid.";
    }
}

impl InvoiceEvent {
    /// The event of a status change: the four a person causes have types of their own,
    /// every other move is `invoice.status_changed`.
    pub fn of(change: invoice::InvoiceChanged) -> Self {
        use invoice::InvoiceStatus as S;
        match (change.from, change.to) {
            (_, S::Submitted) => InvoiceEvent::Submitted(change),
            (S::Submitted, S::Listed) => InvoiceEvent::Listed(change),
            (_, S::Rejected) => InvoiceEvent::Rejected(change),
            (_, S::Cancelled) => InvoiceEvent::Cancelled(change),
            _ => InvoiceEvent::StatusChanged(change),
        }
    }
}

impl OfferEvent {
    /// The event of an offer's change (revised, released and lapsed share
    /// `offer.status_changed`).
    pub fn of(offer: marketplace::OfferChanged) -> Self {
        use marketplace::OfferChange as C;
        match offer.change {
            C::Placed => OfferEvent::Placed(offer),
            C::Reserved => OfferEvent::Reserved(offer),
            C::Accepted => OfferEvent::Accepted(offer),
            C::Rejected => OfferEvent::Rejected(offer),
            C::Withdrawn => OfferEvent::Withdrawn(offer),
            C::Expired => OfferEvent::Expired(offer),
            C::TimedOut => OfferEvent::ReservationTimedOut(offer),
            C::Revised | C::Released | C::Lapsed => OfferEvent::StatusChanged(offer),
        }
    }

    /// The offer, whichever event this is.
    pub fn offer(&self) -> &marketplace::OfferChanged {
        match self {
            OfferEvent::Placed(o)
            | OfferEvent::Reserved(o)
            | OfferEvent::Accepted(o)
            | OfferEvent::Rejected(o)
            | OfferEvent::Withdrawn(o)
            | OfferEvent::Expired(o)
            | OfferEvent::ReservationTimedOut(o)
            | OfferEvent::StatusChanged(o) => o,
        }
    }
}

impl Event {
    /// The event called `name` at `version` with `payload`, or why it cannot be used: a name
    /// not in the catalogue, a version newer than the catalogue's, or a payload that does
    /// not decode into the type. Fields the type does not know are ignored.
    pub fn decode(name: &str, version: u32, payload: &serde_json::Value) -> Result<Self, Unusable> {
        let Some(known) = event_type(name) else {
            return Err(Unusable(format!("{name} is not in the catalogue")));
        };
        if version > known.version {
            return Err(Unusable(format!(
                "{name} version {version} is newer than the version {} this consumer knows",
                known.version
            )));
        }
        match Self::decode_payload(name, payload) {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(Unusable(format!("{name} payload does not decode: {e}"))),
            None => Err(Unusable(format!("{name} has no type"))),
        }
    }

    /// One example of every event type, in catalogue order (documentation and tests: a
    /// consumer's [`assert_accepts_its_routes`]).
    pub fn examples() -> Vec<Event> {
        examples::all()
    }
}

/// A consumer's enum of the events it accepts, made from an [`Event`]: each consumer
/// declares one, `match`es on it, and answers `None` for what it does not accept.
pub trait Accepts: Sized {
    /// The consumer: the catalogue must route to it exactly the events it accepts
    /// ([`assert_accepts_its_routes`]).
    const SERVICE: Service;
    /// `event` as this consumer's type, or `None` if it does not accept it.
    fn accept(event: Event) -> Option<Self>;
}

/// Panics, naming the event, unless `A` accepts exactly the events the catalogue routes to
/// `A::SERVICE` (each consumer's test calls this).
pub fn assert_accepts_its_routes<A: Accepts>() {
    let mut wrong = Vec::new();
    for event in Event::examples() {
        let ty = event.event_type();
        let routed = ty.consumers.contains(&A::SERVICE);
        if A::accept(event).is_some() != routed {
            wrong.push(format!(
                "{} is {}routed to {} but {}accepted",
                ty.name,
                if routed { "" } else { "not " },
                A::SERVICE,
                if routed { "not " } else { "" },
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("; "));
}

pub mod examples;

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
    /// The envelope of `event`, its type and version from the catalogue, its producer the
    /// event's, stamped with the clock's time and the current trace context.
    pub fn of(event: impl Into<Event>, clock: &dyn Clock) -> Result<Self, EventError> {
        let event = event.into();
        let ty = event.event_type();
        Self::build(ty, event.payload_json()?, clock)
    }

    /// An envelope of any catalogue type with any JSON payload: for tests and tools that
    /// must send what a typed producer cannot (a payload a consumer refuses). Services
    /// produce with [`Envelope::of`].
    pub fn untyped(
        producer: Service,
        name: &str,
        payload: serde_json::Value,
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
        Self::build(ty, payload, clock)
    }

    fn build(
        ty: &'static EventType,
        payload: serde_json::Value,
        clock: &dyn Clock,
    ) -> Result<Self, EventError> {
        let now = clock.now();
        Ok(Self {
            id: crate::new_id_at(now),
            event_type: ty.name.to_owned(),
            version: ty.version,
            occurred_at: now,
            producer: ty.producer,
            traceparent: current_traceparent(),
            payload,
        })
    }

    /// The typed event (see [`Event::decode`]); an event whose producer is not its type's
    /// is [`Unusable`] too.
    pub fn decode(&self) -> Result<Event, Unusable> {
        let event = Event::decode(&self.event_type, self.version, &self.payload)?;
        let expected = event.event_type().producer;
        if self.producer != expected {
            return Err(Unusable(format!(
                "{} comes from {expected}, not {}",
                self.event_type, self.producer
            )));
        }
        Ok(event)
    }

    /// The event as consumer `A`'s type: [`Unusable`] if `A` does not accept its type
    /// (said before its payload is looked at) or if it does not decode.
    pub fn accept<A: Accepts>(&self) -> Result<A, Unusable> {
        let refused = || {
            Unusable(format!(
                "events:{} does not accept {}",
                A::SERVICE,
                self.event_type
            ))
        };
        if event_type(&self.event_type).is_some_and(|t| !t.consumers.contains(&A::SERVICE)) {
            return Err(refused());
        }
        A::accept(self.decode()?).ok_or_else(refused)
    }
}

/// The catalogue as kept in docs/messaging.md: the table, then one example payload of
/// every event type, both made from the types.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "| event type | version | producer | consumers | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for e in CATALOGUE {
        let consumers: Vec<&str> = e.consumers.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} | {} | {} |\n",
            e.name,
            e.name.replace(['.', '_'], ""),
            e.version,
            e.producer,
            consumers.join(", "),
            e.description
        ));
    }
    out.push_str("\n### Payloads\n\nOne example of each, as its type in `crates/common/src/events` writes it.\n");
    for event in Event::examples() {
        let json = event
            .payload_json()
            .and_then(|p| serde_json::to_string_pretty(&p))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n#### {}\n\n```json\n{json}\n```\n",
            event.event_type().name
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::ids::UserId;

    fn registered() -> AuthEvent {
        AuthEvent::UserRegistered(auth::UserRegistered {
            user_id: UserId(Uuid::now_v7()),
            email: "a@example.com".into(),
            role: crate::auth::Role::Seller,
            full_name: "A".into(),
        })
    }

    #[test]
    fn an_envelope_takes_name_version_and_producer_from_the_event_type() {
        let clock = ManualClock::new(Utc::now());
        let env = Envelope::of(registered(), &clock).unwrap();
        assert_eq!(env.version, 1);
        assert_eq!(env.occurred_at, clock.now());
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(json["type"], "user.registered");
        assert_eq!(json["producer"], "auth");
        assert_eq!(json["payload"]["email"], "a@example.com");
        assert_eq!(env.id.get_version_num(), 7);
        assert_eq!(env.decode().unwrap(), Event::Auth(registered_like(&env)));
    }

    fn registered_like(env: &Envelope) -> AuthEvent {
        AuthEvent::UserRegistered(serde_json::from_value(env.payload.clone()).unwrap())
    }

    #[test]
    fn every_example_round_trips_through_its_envelope() {
        let clock = ManualClock::new(Utc::now());
        let examples = Event::examples();
        assert_eq!(examples.len(), CATALOGUE.len());
        for (event, row) in examples.into_iter().zip(CATALOGUE) {
            assert_eq!(
                event.event_type(),
                row,
                "examples follow the catalogue's order"
            );
            let env = Envelope::of(event.clone(), &clock).unwrap();
            assert_eq!(env.producer, row.producer);
            assert_eq!(env.decode().unwrap(), event, "{}", row.name);
        }
    }

    #[test]
    fn what_a_consumer_cannot_use_is_unusable_with_the_reason() {
        let clock = ManualClock::new(Utc::now());
        let good = Envelope::of(registered(), &clock).unwrap();

        let mut unknown = good.clone();
        unknown.event_type = "user.renamed".into();
        assert!(
            unknown
                .decode()
                .unwrap_err()
                .0
                .contains("not in the catalogue")
        );

        let mut newer = good.clone();
        newer.version = 2;
        assert!(newer.decode().unwrap_err().0.contains("version 2 is newer"));

        let mut wrong_role = good.clone();
        wrong_role.payload["role"] = "owner".into();
        let e = wrong_role.decode().unwrap_err().0;
        assert!(
            e.contains("user.registered payload does not decode") && e.contains("owner"),
            "{e}"
        );

        let mut missing = good.clone();
        missing.payload.as_object_mut().unwrap().remove("user_id");
        assert!(missing.decode().unwrap_err().0.contains("user_id"));

        let mut forged = good.clone();
        forged.producer = Kyc;
        assert!(
            forged
                .decode()
                .unwrap_err()
                .0
                .contains("comes from auth, not kyc")
        );

        // Forward compatible: a field added later is ignored.
        let mut extra = good.clone();
        extra.payload["nickname"] = "ace".into();
        assert_eq!(extra.decode().unwrap(), good.decode().unwrap());
    }

    #[test]
    fn untyped_envelopes_still_need_a_catalogue_name_and_its_producer() {
        let clock = ManualClock::new(Utc::now());
        assert!(matches!(
            Envelope::untyped(Auth, "nope", serde_json::json!({}), &clock),
            Err(EventError::Unknown(_))
        ));
        assert!(matches!(
            Envelope::untyped(Kyc, "user.registered", serde_json::json!({}), &clock),
            Err(EventError::WrongProducer { .. })
        ));
    }

    #[test]
    fn catalogue_names_are_unique_never_self_consumed_and_all_go_to_admin() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        for e in CATALOGUE {
            assert!(!e.consumers.contains(&e.producer), "{}", e.name);
            assert!(
                e.consumers.contains(&Admin),
                "{} is not routed to admin",
                e.name
            );
            assert!(
                e.name.starts_with(match e.producer {
                    Auth => "user.",
                    Kyc => "kyc.",
                    Invoice => "invoice.",
                    Marketplace => "offer.",
                    Payments => "payment.",
                    _ => "?",
                }) || e.name == "settlement.completed",
                "{} is named after another producer",
                e.name
            );
        }
    }

    /// An enum that accepts only `user.registered`, for the routing check.
    struct OnlyRegistered;
    impl Accepts for OnlyRegistered {
        const SERVICE: Service = Notifications;
        fn accept(event: Event) -> Option<Self> {
            match event {
                Event::Auth(AuthEvent::UserRegistered(_)) => Some(OnlyRegistered),
                _ => None,
            }
        }
    }

    #[test]
    fn a_consumer_that_accepts_less_than_its_routes_is_caught() {
        let e = std::panic::catch_unwind(assert_accepts_its_routes::<OnlyRegistered>).unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("user.suspended is routed to notifications but not accepted"),
            "{msg}"
        );
        let clock = ManualClock::new(Utc::now());
        let suspended = Envelope::of(
            AuthEvent::UserSuspended(auth::UserStatusChanged {
                user_id: UserId(Uuid::now_v7()),
                by: UserId(Uuid::now_v7()),
            }),
            &clock,
        )
        .unwrap();
        assert_eq!(
            suspended.accept::<OnlyRegistered>().err().unwrap().0,
            "events:notifications does not accept user.suspended"
        );
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
            "docs/messaging.md is out of date: run make docs"
        );
    }
}
