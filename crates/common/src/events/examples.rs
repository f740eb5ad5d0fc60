//! One example of every event type: the payloads in docs/messaging.md and the routing
//! check of every consumer ([`super::assert_accepts_its_routes`]). Tests start from these
//! and change what matters to them: `OfferChanged { invoice_id, ..examples::offer(..) }`.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::auth::{UserRegistered, UserStatusChanged};
use super::invoice::{
    AcceptanceConfirmed, AcceptanceRefused, ActorKind, InvoiceChanged, InvoiceStatus,
};
use super::kyc::{
    DocumentDownloaded, DocumentProcessed, DocumentStatus, DocumentType, KycDecided, KycSubmitted,
};
use super::marketplace::{OfferChange, OfferChanged, OfferStatus};
use super::payments::{
    PaymentKind, PaymentStatus, PaymentStatusChanged, RefundTo, SettlementCompleted, SettlementKind,
};
use super::{AuthEvent, Event, InvoiceEvent, KycEvent, OfferEvent, PaymentEvent};
use crate::auth::Role;
use crate::ids::{DocumentId, InvoiceId, OfferId, PaymentId, SubmissionId, UserId};
use crate::money::Currency;

/// Fixed ids, so the generated documentation does not change from run to run.
fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

const SELLER: u128 = 1;
const INVESTOR: u128 = 2;
const ADMIN: u128 = 3;

/// An invoice's move `from` -> `to`.
pub fn invoice(from: InvoiceStatus, to: InvoiceStatus, reason: Option<&str>) -> InvoiceChanged {
    InvoiceChanged {
        invoice_id: InvoiceId(id(10)),
        seller_id: UserId(id(SELLER)),
        invoice_number: "INV-2026-001".into(),
        debtor_name: "Dangote Cement Plc".into(),
        amount: "1500000.00".into(),
        amount_minor: 150_000_000,
        currency: Currency::NGN,
        due_date: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap_or_default(),
        from,
        to,
        reason: reason.map(str::to_owned),
        actor: if to == InvoiceStatus::Submitted || to == InvoiceStatus::Cancelled {
            ActorKind::Seller
        } else {
            ActorKind::Admin
        },
        actor_id: Some(UserId(id(if to == InvoiceStatus::Submitted {
            SELLER
        } else {
            ADMIN
        }))),
    }
}

/// An offer after `change`.
pub fn offer(status: OfferStatus, change: OfferChange, reason: Option<&str>) -> OfferChanged {
    OfferChanged {
        offer_id: OfferId(id(20)),
        invoice_id: InvoiceId(id(10)),
        investor_id: UserId(id(INVESTOR)),
        seller_id: UserId(id(SELLER)),
        status,
        change,
        reason: reason.map(str::to_owned),
        discount_rate: "18.5".into(),
        face_value: "1500000.00".into(),
        price: "1432027.40".into(),
        platform_fee: "22500.00".into(),
        currency: Currency::NGN,
        face_minor: 150_000_000,
        price_minor: 143_202_740,
        fee_minor: 2_250_000,
        net_proceeds_minor: 140_952_740,
        expires_at: DateTime::<Utc>::from_timestamp(1_796_083_200, 0).unwrap_or_default(),
        rejected_offer_ids: if change == OfferChange::Accepted {
            vec![OfferId(id(21))]
        } else {
            Vec::new()
        },
    }
}

/// A payment of `kind` moving to `status` (a repayment leaves nothing outstanding).
pub fn payment(kind: PaymentKind, status: PaymentStatus) -> PaymentStatusChanged {
    PaymentStatusChanged {
        payment_id: PaymentId(id(30)),
        kind,
        status,
        invoice_id: InvoiceId(id(10)),
        offer_id: OfferId(id(20)),
        investor_id: UserId(id(INVESTOR)),
        seller_id: UserId(id(SELLER)),
        amount_minor: 150_000_000,
        currency: Currency::NGN,
        outstanding_minor: (kind == PaymentKind::Repayment).then_some(0),
        refund_to: (kind == PaymentKind::Refund).then_some(RefundTo::Investor),
    }
}

/// A KYC decision (approved without a reason, rejected with one).
pub fn kyc_decided(reason: Option<&str>) -> KycDecided {
    KycDecided {
        user_id: UserId(id(SELLER)),
        submission_id: SubmissionId(id(40)),
        reviewed_by: UserId(id(ADMIN)),
        reason: reason.map(str::to_owned),
    }
}

/// A suspension or reactivation.
pub fn user_status() -> UserStatusChanged {
    UserStatusChanged {
        user_id: UserId(id(INVESTOR)),
        by: UserId(id(ADMIN)),
    }
}

/// A seller's investor's payout or settlement.
pub fn settlement(kind: SettlementKind) -> SettlementCompleted {
    SettlementCompleted {
        invoice_id: InvoiceId(id(10)),
        offer_id: OfferId(id(20)),
        kind,
        amount_minor: 140_952_740,
        currency: Currency::NGN,
        seller_id: UserId(id(SELLER)),
        investor_id: UserId(id(INVESTOR)),
    }
}

/// An offer's acceptance confirmed.
pub fn acceptance_confirmed() -> AcceptanceConfirmed {
    AcceptanceConfirmed {
        offer_id: OfferId(id(20)),
        invoice_id: InvoiceId(id(10)),
        investor_id: UserId(id(INVESTOR)),
        seller_id: UserId(id(SELLER)),
    }
}

/// An offer's acceptance refused (the invoice is `status`).
pub fn acceptance_refused(status: Option<InvoiceStatus>) -> AcceptanceRefused {
    AcceptanceRefused {
        offer_id: OfferId(id(20)),
        invoice_id: InvoiceId(id(10)),
        investor_id: UserId(id(INVESTOR)),
        status,
    }
}

pub(super) fn all() -> Vec<Event> {
    use InvoiceStatus as S;
    let decided = kyc_decided;
    let standing = user_status();
    vec![
        AuthEvent::UserRegistered(UserRegistered {
            user_id: UserId(id(SELLER)),
            email: "ada@example.com".into(),
            role: Role::Seller,
            full_name: "Ada Obi".into(),
        })
        .into(),
        AuthEvent::UserSuspended(standing.clone()).into(),
        AuthEvent::UserReactivated(standing).into(),
        KycEvent::DocumentProcessed(DocumentProcessed {
            user_id: UserId(id(SELLER)),
            document_id: DocumentId(id(41)),
            document_type: DocumentType::GovernmentId,
            status: DocumentStatus::Rejected,
            reasons: vec!["the picture is too blurred to read".into()],
        })
        .into(),
        KycEvent::Submitted(KycSubmitted {
            user_id: UserId(id(SELLER)),
            submission_id: SubmissionId(id(40)),
            role: Role::Seller,
        })
        .into(),
        KycEvent::Approved(decided(None)).into(),
        KycEvent::Rejected(decided(Some("the address does not match"))).into(),
        KycEvent::DocumentDownloaded(DocumentDownloaded {
            user_id: UserId(id(SELLER)),
            submission_id: SubmissionId(id(40)),
            document_id: DocumentId(id(41)),
            document_type: DocumentType::GovernmentId,
            downloaded_by: UserId(id(ADMIN)),
        })
        .into(),
        InvoiceEvent::Submitted(invoice(S::Draft, S::Submitted, None)).into(),
        InvoiceEvent::Listed(invoice(S::Submitted, S::Listed, None)).into(),
        InvoiceEvent::Rejected(invoice(
            S::Submitted,
            S::Rejected,
            Some("the amount differs from the PDF"),
        ))
        .into(),
        InvoiceEvent::Cancelled(invoice(S::Listed, S::Cancelled, None)).into(),
        InvoiceEvent::StatusChanged(invoice(S::Accepted, S::Funded, None)).into(),
        InvoiceEvent::AcceptanceConfirmed(acceptance_confirmed()).into(),
        InvoiceEvent::AcceptanceRefused(acceptance_refused(Some(S::Cancelled))).into(),
        OfferEvent::Placed(offer(OfferStatus::Pending, OfferChange::Placed, None)).into(),
        OfferEvent::Reserved(offer(OfferStatus::Reserved, OfferChange::Reserved, None)).into(),
        OfferEvent::Accepted(offer(OfferStatus::Accepted, OfferChange::Accepted, None)).into(),
        OfferEvent::Rejected(offer(
            OfferStatus::Rejected,
            OfferChange::Rejected,
            Some("another offer on this invoice was accepted"),
        ))
        .into(),
        OfferEvent::Withdrawn(offer(OfferStatus::Withdrawn, OfferChange::Withdrawn, None)).into(),
        OfferEvent::Expired(offer(OfferStatus::Expired, OfferChange::Expired, None)).into(),
        OfferEvent::StatusChanged(offer(OfferStatus::Pending, OfferChange::Revised, None)).into(),
        OfferEvent::ReservationTimedOut(offer(
            OfferStatus::Rejected,
            OfferChange::TimedOut,
            Some("the invoice service did not answer the acceptance in time"),
        ))
        .into(),
        PaymentEvent::StatusChanged(payment(PaymentKind::Repayment, PaymentStatus::Succeeded))
            .into(),
        PaymentEvent::SettlementCompleted(settlement(SettlementKind::Seller)).into(),
    ]
}
