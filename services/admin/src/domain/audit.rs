//! What an audit row says of an event, and the hash chain that makes the log
//! tamper-evident.
//!
//! - [`Subject::of`]: who acted (a user and their role, or the platform) and on what
//!   resource, decided per event type by an exhaustive `match` (a new event type does not
//!   compile until it is placed here).
//! - [`masked_payload`]: the event's payload as its type serialises it (fields the type
//!   does not know are dropped, so nothing unexpected is stored) with personal fields
//!   masked ([`PERSONAL_FIELDS`]). Identity numbers are never in events.
//! - [`link`]: the chain. Row `n`'s hash is HMAC-SHA256, keyed with `AUDIT_CHAIN_KEY`
//!   (which the database never holds), of row `n - 1`'s hash and every field of row `n`,
//!   each length-prefixed so no two rows can hash alike by moving a boundary. Editing,
//!   removing or inserting a row breaks the link of the next one; removing the newest rows
//!   is caught by the head copied outside the database.

use chrono::{DateTime, SubsecRound, Utc};
use common::events::invoice::ActorKind;
use common::events::{AuthEvent, Event, InvoiceEvent, KycEvent, OfferEvent, PaymentEvent};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

common::string_enum! {
    /// Who acted: a person by role, or the platform itself (a sweep, a worker, a service's
    /// reaction to another event).
    pub enum ActorRole {
        Seller = "seller",
        Investor = "investor",
        Admin = "admin",
        System = "system",
    }
}

common::string_enum! {
    /// What an audit row is about.
    pub enum ResourceType {
        User = "user",
        KycDocument = "kyc_document",
        KycSubmission = "kyc_submission",
        Invoice = "invoice",
        Offer = "offer",
        Payment = "payment",
    }
}

impl From<common::auth::Role> for ActorRole {
    fn from(role: common::auth::Role) -> Self {
        match role {
            common::auth::Role::Seller => ActorRole::Seller,
            common::auth::Role::Investor => ActorRole::Investor,
            common::auth::Role::Admin => ActorRole::Admin,
        }
    }
}

/// Who did what to which resource, as the audit row records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    /// The user who acted; `None` when the platform did.
    pub actor_id: Option<Uuid>,
    pub actor_role: ActorRole,
    pub resource_type: ResourceType,
    pub resource_id: Uuid,
}

impl Subject {
    fn by(actor: Uuid, role: ActorRole, resource_type: ResourceType, id: Uuid) -> Self {
        Self {
            actor_id: Some(actor),
            actor_role: role,
            resource_type,
            resource_id: id,
        }
    }

    fn system(resource_type: ResourceType, id: Uuid) -> Self {
        Self {
            actor_id: None,
            actor_role: ActorRole::System,
            resource_type,
            resource_id: id,
        }
    }

    /// The subject of `event`.
    pub fn of(event: &Event) -> Self {
        use ResourceType as R;
        match event {
            Event::Auth(AuthEvent::UserRegistered(u)) => {
                Self::by(u.user_id.0, u.role.into(), R::User, u.user_id.0)
            }
            Event::Auth(AuthEvent::UserSuspended(s) | AuthEvent::UserReactivated(s)) => {
                Self::by(s.by.0, ActorRole::Admin, R::User, s.user_id.0)
            }
            Event::Kyc(KycEvent::DocumentProcessed(d)) => {
                Self::system(R::KycDocument, d.document_id.0)
            }
            Event::Kyc(KycEvent::Submitted(s)) => Self::by(
                s.user_id.0,
                s.role.into(),
                R::KycSubmission,
                s.submission_id.0,
            ),
            Event::Kyc(KycEvent::DocumentDownloaded(d)) => Self::by(
                d.downloaded_by.0,
                ActorRole::Admin,
                R::KycDocument,
                d.document_id.0,
            ),
            Event::Kyc(KycEvent::Approved(d) | KycEvent::Rejected(d)) => Self::by(
                d.reviewed_by.0,
                ActorRole::Admin,
                R::KycSubmission,
                d.submission_id.0,
            ),
            Event::Invoice(
                InvoiceEvent::Submitted(c)
                | InvoiceEvent::Listed(c)
                | InvoiceEvent::Rejected(c)
                | InvoiceEvent::Cancelled(c)
                | InvoiceEvent::StatusChanged(c),
            ) => {
                let role = match c.actor {
                    ActorKind::Seller => ActorRole::Seller,
                    ActorKind::Investor => ActorRole::Investor,
                    ActorKind::Admin => ActorRole::Admin,
                    ActorKind::System | ActorKind::Marketplace | ActorKind::Payments => {
                        ActorRole::System
                    }
                };
                match (role, c.actor_id) {
                    (ActorRole::System, _) | (_, None) => Self::system(R::Invoice, c.invoice_id.0),
                    (role, Some(actor)) => Self::by(actor.0, role, R::Invoice, c.invoice_id.0),
                }
            }
            Event::Invoice(InvoiceEvent::AcceptanceConfirmed(a)) => {
                Self::system(R::Invoice, a.invoice_id.0)
            }
            Event::Invoice(InvoiceEvent::AcceptanceRefused(a)) => {
                Self::system(R::Invoice, a.invoice_id.0)
            }
            Event::Marketplace(e) => {
                let o = e.offer();
                match e {
                    OfferEvent::Placed(_) | OfferEvent::Withdrawn(_) => {
                        Self::by(o.investor_id.0, ActorRole::Investor, R::Offer, o.offer_id.0)
                    }
                    OfferEvent::Reserved(_) => {
                        Self::by(o.seller_id.0, ActorRole::Seller, R::Offer, o.offer_id.0)
                    }
                    // A revision is the investor's; a release or a lapse the platform's.
                    OfferEvent::StatusChanged(s)
                        if s.change == common::events::marketplace::OfferChange::Revised =>
                    {
                        Self::by(o.investor_id.0, ActorRole::Investor, R::Offer, o.offer_id.0)
                    }
                    // The saga's end, a rejection (by the seller, by another acceptance or
                    // by the invoice leaving the market: `reason` says), an expiry, an
                    // acceptance the invoice service did not answer in time.
                    OfferEvent::Accepted(_)
                    | OfferEvent::Rejected(_)
                    | OfferEvent::Expired(_)
                    | OfferEvent::ReservationTimedOut(_)
                    | OfferEvent::StatusChanged(_) => Self::system(R::Offer, o.offer_id.0),
                }
            }
            Event::Payments(PaymentEvent::StatusChanged(p)) => {
                Self::system(R::Payment, p.payment_id.0)
            }
            Event::Payments(PaymentEvent::SettlementCompleted(s)) => {
                Self::system(R::Invoice, s.invoice_id.0)
            }
        }
    }
}

/// The payload fields that name or reach a person: masked in every audit row.
pub const PERSONAL_FIELDS: &[&str] = &["email", "full_name", "debtor_name"];

/// `event`'s payload as its type serialises it, with [`PERSONAL_FIELDS`] masked.
pub fn masked_payload(event: &Event) -> Result<Value, serde_json::Error> {
    let mut payload = event.payload_json()?;
    mask(&mut payload);
    Ok(payload)
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, v) in fields.iter_mut() {
                match v {
                    Value::String(s) if PERSONAL_FIELDS.contains(&name.as_str()) => {
                        *s = if name == "email" {
                            mask_email(s)
                        } else {
                            mask_name(s)
                        };
                    }
                    other => mask(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// `ada@example.com` -> `a***@example.com` (the domain is kept: it says which company,
/// not who).
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", first_char(local)),
        None => mask_name(email),
    }
}

/// `Ada Lovelace` -> `A*** L***`.
pub fn mask_name(name: &str) -> String {
    let words: Vec<String> = name
        .split_whitespace()
        .map(|w| format!("{}***", first_char(w)))
        .collect();
    if words.is_empty() {
        "***".to_owned()
    } else {
        words.join(" ")
    }
}

fn first_char(s: &str) -> String {
    s.chars().next().map(String::from).unwrap_or_default()
}

/// The trace id (32 hex digits) of a W3C `traceparent` (`00-{trace}-{span}-{flags}`).
pub fn trace_id(traceparent: Option<&str>) -> Option<String> {
    let trace = traceparent?.split('-').nth(1)?;
    (trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| trace.to_ascii_lowercase())
}

/// Times are kept to the microsecond (what PostgreSQL stores), so a row reads back with
/// exactly the time its hash was made with.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit row as it is hashed and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its place in the chain, from 1.
    pub seq: i64,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub producer: String,
    /// The event type.
    pub action: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: ActorRole,
    pub resource_type: ResourceType,
    pub resource_id: Uuid,
    /// The masked payload, as stored (JSON text).
    pub payload: String,
    pub trace_id: Option<String>,
}

impl Entry {
    /// Who did what to which resource, as this row records it.
    pub fn subject(&self) -> Subject {
        Subject {
            actor_id: self.actor_id,
            actor_role: self.actor_role,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
        }
    }
}

/// The hash of `entry` chained to `previous` (hex), keyed with `key`.
pub fn link(key: &[u8], previous: &str, entry: &Entry) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let fields: [&str; 13] = [
        previous,
        &entry.seq.to_string(),
        &entry.event_id.to_string(),
        &time(&entry.occurred_at),
        &time(&entry.recorded_at),
        &entry.producer,
        &entry.action,
        &entry.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        entry.actor_role.as_str(),
        entry.resource_type.as_str(),
        &entry.resource_id.to_string(),
        &entry.payload,
        entry.trace_id.as_deref().unwrap_or_default(),
    ];
    for field in fields {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_event_has_a_subject_and_no_personal_value_survives_masking() {
        for event in Event::examples() {
            let subject = Subject::of(&event);
            assert_ne!(
                subject.resource_id,
                Uuid::nil(),
                "{}",
                event.event_type().name
            );
            let raw = event.payload_json().unwrap();
            let masked = masked_payload(&event).unwrap().to_string();
            for field in PERSONAL_FIELDS {
                if let Some(Value::String(personal)) = raw.get(*field) {
                    assert!(
                        !masked.contains(personal.as_str()),
                        "{} keeps {field} {personal:?}: {masked}",
                        event.event_type().name
                    );
                }
            }
        }
    }

    #[test]
    fn masks_keep_a_first_letter_and_an_email_domain() {
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email("not-an-email"), "n***");
        assert_eq!(mask_name("Ada  King Lovelace"), "A*** K*** L***");
        assert_eq!(mask_name(""), "***");
    }

    #[test]
    fn the_trace_id_is_read_from_a_traceparent_only() {
        let tp = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id(Some(tp)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id(Some("00-xyz-1-01")), None);
        assert_eq!(trace_id(None), None);
    }

    fn entry(seq: i64) -> Entry {
        let at = micros(Utc::now());
        Entry {
            seq,
            event_id: Uuid::now_v7(),
            occurred_at: at,
            recorded_at: at,
            producer: "auth".into(),
            action: "user.registered".into(),
            actor_id: Some(Uuid::now_v7()),
            actor_role: ActorRole::Seller,
            resource_type: ResourceType::User,
            resource_id: Uuid::now_v7(),
            payload: "{}".into(),
            trace_id: None,
        }
    }

    #[test]
    fn a_link_changes_with_the_key_the_previous_hash_and_every_field() {
        let key = b"0123456789abcdef0123456789abcdef";
        let e = entry(1);
        let h = link(key, GENESIS, &e);
        assert_eq!(h.len(), 64);
        assert_eq!(h, link(key, GENESIS, &e), "deterministic");
        assert_ne!(h, link(b"another key, as long as the first", GENESIS, &e));
        assert_ne!(h, link(key, &h, &e));
        let mut moved = e.clone();
        moved.payload = "{} ".into();
        assert_ne!(h, link(key, GENESIS, &moved));
        let mut other = e.clone();
        other.seq = 2;
        assert_ne!(h, link(key, GENESIS, &other));
        // A boundary moved between two fields does not give the same hash.
        let mut a = e.clone();
        a.producer = "authu".into();
        a.action = "ser.registered".into();
        assert_ne!(h, link(key, GENESIS, &a));
    }
}
