//! Financings and their payments: opening one from an accepted offer, reading them for a
//! viewer, and the writes every outcome shares (a payment's status moved once, at the
//! version read; its event into the outbox in the same transaction).

use chrono::{DateTime, Utc};
use common::auth::Role;
use common::clock::Clock;
use common::events::marketplace::OfferChanged;
use common::events::payments::{PaymentKind, PaymentStatus, PaymentStatusChanged, RefundTo};
use common::events::{Envelope, PaymentEvent};
use common::ids::{PaymentId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{FinancingStatus, PaymentsError, Terms};
use crate::store::entity::{financing, payment};

/// A financing as its parties see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FinancingView {
    pub id: Uuid,
    pub offer_id: Uuid,
    pub invoice_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    #[schema(value_type = String, example = "awaiting_funding", pattern = "^(awaiting_funding|funded|expired|settled)$")]
    pub status: FinancingStatus,
    #[schema(value_type = String, example = "NGN")]
    pub currency: common::money::Currency,
    /// F: what the debtor owes at maturity, minor units.
    pub face_minor: i64,
    /// P: what the investor pays.
    pub price_minor: i64,
    /// Paid by the seller out of P.
    pub fee_minor: i64,
    /// P - fee: the seller's payout.
    pub net_minor: i64,
    /// The investor must pay by then.
    pub funding_due_at: DateTime<Utc>,
    pub repaid_minor: i64,
    pub outstanding_minor: i64,
    pub distributed_minor: i64,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<&financing::Model> for FinancingView {
    type Error = common::enums::BadStoredValue;
    fn try_from(f: &financing::Model) -> Result<Self, Self::Error> {
        let terms = f.terms()?;
        Ok(Self {
            id: f.id,
            offer_id: f.offer_id,
            invoice_id: f.invoice_id,
            investor_id: f.investor_id,
            seller_id: f.seller_id,
            status: f.status()?,
            currency: terms.currency,
            face_minor: f.face_minor,
            price_minor: f.price_minor,
            fee_minor: f.fee_minor,
            net_minor: terms.net_minor(),
            funding_due_at: f.funding_due_at,
            repaid_minor: f.repaid_minor,
            outstanding_minor: f.outstanding_minor(),
            distributed_minor: f.distributed_minor,
            updated_at: f.updated_at,
        })
    }
}

/// A payment as its parties see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    pub financing_id: Uuid,
    #[schema(value_type = String, example = "funding", pattern = "^(funding|payout|repayment|distribution|refund)$")]
    pub kind: PaymentKind,
    #[schema(value_type = String, example = "pending", pattern = "^(pending|succeeded|failed|reversed|expired)$")]
    pub status: PaymentStatus,
    pub amount_minor: i64,
    /// What actually moved once it succeeded.
    pub settled_minor: i64,
    #[schema(value_type = String, example = "NGN")]
    pub currency: common::money::Currency,
    pub reference: String,
    pub provider: String,
    pub authorization_url: Option<String>,
    pub note: Option<String>,
    /// A transfer sent again: the one that failed or came back.
    pub retry_of: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<&payment::Model> for PaymentView {
    type Error = common::enums::BadStoredValue;
    fn try_from(p: &payment::Model) -> Result<Self, Self::Error> {
        Ok(Self {
            id: p.id,
            financing_id: p.financing_id,
            kind: p.kind()?,
            status: p.status()?,
            amount_minor: p.amount_minor,
            settled_minor: p.settled_minor,
            currency: p.currency()?,
            reference: p.reference.clone(),
            provider: p.provider.clone(),
            authorization_url: p.authorization_url.clone(),
            note: p.note.clone(),
            retry_of: p.retry_of,
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
    }
}

/// Our provider reference of a payment: `vst_` and its id's 32 hex digits (36 characters,
/// within every provider's 16-50).
pub fn reference_for(payment_id: Uuid) -> String {
    format!("vst_{}", payment_id.simple())
}

/// What [`open`] made.
pub struct Opened {
    pub financing: financing::Model,
    pub funding: payment::Model,
}

/// Opens the financing of the accepted offer `o` (once per offer: a redelivery finds it
/// and does nothing) with its funding payment, pending until the investor pays, and
/// its `payment.status_changed` funding/pending event.
pub async fn open<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    window: chrono::Duration,
    provider: &str,
    o: &OfferChanged,
) -> Result<Option<Opened>, PaymentsError> {
    let terms = Terms {
        face_minor: o.face_minor,
        price_minor: o.price_minor,
        fee_minor: o.fee_minor,
        currency: o.currency,
    };
    terms
        .check()
        .map_err(|e| anyhow::anyhow!("offer {}: {e}", o.offer_id))?;
    let now = clock.now();
    let id = common::new_id_at(now);
    let inserted = financing::Entity::insert(financing::ActiveModel {
        id: Set(id),
        offer_id: Set(o.offer_id.uuid()),
        invoice_id: Set(o.invoice_id.uuid()),
        investor_id: Set(o.investor_id.uuid()),
        seller_id: Set(o.seller_id.uuid()),
        currency: Set(o.currency.code().to_owned()),
        face_minor: Set(o.face_minor),
        price_minor: Set(o.price_minor),
        fee_minor: Set(o.fee_minor),
        status: Set(FinancingStatus::AwaitingFunding.as_str().to_owned()),
        funding_due_at: Set(now + window),
        repaid_minor: Set(0),
        distributed_minor: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
    .on_conflict(
        OnConflict::column(financing::Column::OfferId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    if inserted == 0 {
        return Ok(None);
    }
    let financing = find(txn, id).await?;
    let funding = open_payment(
        txn,
        clock,
        &financing,
        PaymentKind::Funding,
        o.price_minor,
        provider,
        NewPayment {
            payer: Some(o.investor_id.uuid()),
            ..NewPayment::default()
        },
    )
    .await?;
    Ok(Some(Opened { financing, funding }))
}

/// Who pays and who is paid, and the client's idempotency key.
#[derive(Default)]
pub struct NewPayment {
    pub payer: Option<Uuid>,
    pub payee: Option<Uuid>,
    pub idempotency_key: Option<String>,
    pub note: Option<String>,
    /// A refund: the charge it hands money back from.
    pub refund_of: Option<Uuid>,
    /// A transfer sent again: the one that failed or came back.
    pub retry_of: Option<Uuid>,
}

/// A new pending payment of `kind` for `amount` on `f`.
pub async fn new_payment<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    f: &financing::Model,
    kind: PaymentKind,
    amount: i64,
    provider: &str,
    who: NewPayment,
) -> Result<payment::Model, PaymentsError> {
    let id = common::new_id_at(now);
    let model = payment::Model {
        id,
        financing_id: f.id,
        kind: kind.as_str().to_owned(),
        status: PaymentStatus::Pending.as_str().to_owned(),
        amount_minor: amount,
        settled_minor: 0,
        currency: f.currency.clone(),
        reference: reference_for(id),
        provider: provider.to_owned(),
        idempotency_key: who.idempotency_key,
        payer_id: who.payer,
        payee_id: who.payee,
        authorization_url: None,
        note: who.note,
        refund_of: who.refund_of,
        retry_of: who.retry_of,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    payment::Entity::insert(payment::ActiveModel::from(model.clone()))
        .exec_without_returning(txn)
        .await?;
    Ok(model)
}

/// [`new_payment`] and its `payment.status_changed` pending event: a payment the
/// parties are told of from the start.
pub async fn open_payment<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    f: &financing::Model,
    kind: PaymentKind,
    amount: i64,
    provider: &str,
    who: NewPayment,
) -> Result<payment::Model, PaymentsError> {
    let p = new_payment(txn, clock.now(), f, kind, amount, provider, who).await?;
    emit(txn, clock, f, &p, PaymentStatus::Pending).await?;
    Ok(p)
}

/// `payment.status_changed` for `p` at `status`, into the outbox.
pub async fn emit<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    f: &financing::Model,
    p: &payment::Model,
    status: PaymentStatus,
) -> Result<(), PaymentsError> {
    let kind = p.kind()?;
    let event = PaymentEvent::StatusChanged(PaymentStatusChanged {
        payment_id: PaymentId(p.id),
        kind,
        status,
        invoice_id: f.invoice(),
        offer_id: f.offer(),
        investor_id: f.investor(),
        seller_id: f.seller(),
        amount_minor: if status == PaymentStatus::Succeeded {
            p.settled_minor
        } else {
            p.amount_minor
        },
        currency: f.currency()?,
        outstanding_minor: (kind == PaymentKind::Repayment).then(|| f.outstanding_minor()),
        // A refund with a payee goes to the investor (a late funding); one without, to
        // the debtor, who is not a user (an over-payment).
        refund_to: (kind == PaymentKind::Refund).then_some(match p.payee_id {
            Some(_) => RefundTo::Investor,
            None => RefundTo::Debtor,
        }),
    });
    let envelope = Envelope::of(event, clock).map_err(anyhow::Error::from)?;
    service_kit::outbox::add(txn, &envelope).await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<financing::Model, PaymentsError> {
    financing::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(PaymentsError::NoFinancing(id))
}

/// `id`, locked for the transaction (PostgreSQL; SQLite has one writer).
pub async fn lock<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<financing::Model, PaymentsError> {
    financing::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(PaymentsError::NoFinancing(id))
}

pub async fn lock_payment<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<payment::Model, PaymentsError> {
    payment::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(PaymentsError::NoPayment(id))
}

/// Whether `user` (with `role`) may see `f`: its investor, its seller, an admin.
pub fn visible_to(f: &financing::Model, user: Uuid, role: Role) -> bool {
    role == Role::Admin || f.investor_id == user || f.seller_id == user
}

/// The financings `user` may see, newest first (admins: all), at most `limit`.
pub async fn list_for<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    role: Role,
    limit: u64,
) -> Result<Vec<financing::Model>, PaymentsError> {
    let mut q = financing::Entity::find();
    match role {
        Role::Admin => {}
        Role::Investor => q = q.filter(financing::Column::InvestorId.eq(user.uuid())),
        Role::Seller => q = q.filter(financing::Column::SellerId.eq(user.uuid())),
    }
    Ok(q.order_by_desc(financing::Column::CreatedAt)
        .order_by_desc(financing::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The payments of `financing`, oldest first.
pub async fn payments_of<C: ConnectionTrait>(
    db: &C,
    financing: Uuid,
) -> Result<Vec<payment::Model>, PaymentsError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::FinancingId.eq(financing))
        .order_by_asc(payment::Column::CreatedAt)
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?)
}

pub async fn payment_by_reference<C: ConnectionTrait>(
    db: &C,
    reference: &str,
) -> Result<Option<payment::Model>, PaymentsError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::Reference.eq(reference))
        .one(db)
        .await?)
}

/// Moves `p` from its status to `to` (with what moved and a note), at the version read:
/// the payment as it now is, `None` if it changed meanwhile.
pub async fn set_payment<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    p: &payment::Model,
    to: PaymentStatus,
    settled_minor: i64,
    note: Option<String>,
) -> Result<Option<payment::Model>, PaymentsError> {
    let updated = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(to.as_str()))
        .col_expr(payment::Column::SettledMinor, Expr::value(settled_minor))
        .col_expr(payment::Column::Note, Expr::value(note))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .filter(payment::Column::Id.eq(p.id))
        .filter(payment::Column::Version.eq(p.version))
        .exec_with_returning(txn)
        .await?;
    Ok(updated.into_iter().next())
}

/// [`set_payment`] of a payment the caller locked (it cannot have changed): the payment
/// as it now is.
pub async fn move_payment<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    p: &payment::Model,
    to: PaymentStatus,
    settled_minor: i64,
    note: Option<String>,
) -> Result<payment::Model, PaymentsError> {
    set_payment(txn, now, p, to, settled_minor, note)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payment {} changed while it was locked", p.id).into())
}

/// Moves `f` to `to` with its repaid and distributed figures, at the version read.
pub async fn set_financing<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    f: &financing::Model,
    to: FinancingStatus,
    repaid_minor: i64,
    distributed_minor: i64,
) -> Result<financing::Model, PaymentsError> {
    let res = financing::Entity::update_many()
        .col_expr(financing::Column::Status, Expr::value(to.as_str()))
        .col_expr(financing::Column::RepaidMinor, Expr::value(repaid_minor))
        .col_expr(
            financing::Column::DistributedMinor,
            Expr::value(distributed_minor),
        )
        .col_expr(financing::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            financing::Column::Version,
            Expr::col(financing::Column::Version).add(1),
        )
        .filter(financing::Column::Id.eq(f.id))
        .filter(financing::Column::Version.eq(f.version))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(
            anyhow::anyhow!("financing {} changed while it was being updated", f.id).into(),
        );
    }
    Ok(financing::Model {
        status: to.as_str().to_owned(),
        repaid_minor,
        distributed_minor,
        updated_at: now,
        version: f.version + 1,
        ..f.clone()
    })
}

/// Records where `p` is paid (its checkout), and the request's key if it had none.
pub async fn set_checkout<C: ConnectionTrait>(
    db: &C,
    p: &payment::Model,
    authorization_url: &str,
    key: Option<&str>,
) -> Result<(), PaymentsError> {
    let mut update = payment::Entity::update_many()
        .col_expr(
            payment::Column::AuthorizationUrl,
            Expr::value(authorization_url),
        )
        .filter(payment::Column::Id.eq(p.id));
    if let (Some(k), None) = (key, &p.idempotency_key) {
        update = update.col_expr(payment::Column::IdempotencyKey, Expr::value(k));
    }
    update.exec(db).await?;
    Ok(())
}

/// `settlement.completed` of `kind` for `f`, into the outbox.
pub async fn settled<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    f: &financing::Model,
    kind: common::events::payments::SettlementKind,
    amount_minor: i64,
) -> Result<(), PaymentsError> {
    let event = PaymentEvent::SettlementCompleted(common::events::payments::SettlementCompleted {
        invoice_id: f.invoice(),
        offer_id: f.offer(),
        kind,
        amount_minor,
        currency: f.currency()?,
        seller_id: f.seller(),
        investor_id: f.investor(),
    });
    let envelope = Envelope::of(event, clock).map_err(anyhow::Error::from)?;
    service_kit::outbox::add(txn, &envelope).await?;
    Ok(())
}

/// The latest financing of `invoice` that was funded or is awaiting funding (an expired
/// one gave way to a later offer's).
pub async fn of_invoice<C: ConnectionTrait>(
    db: &C,
    invoice: Uuid,
) -> Result<Option<financing::Model>, PaymentsError> {
    Ok(financing::Entity::find()
        .filter(financing::Column::InvoiceId.eq(invoice))
        .filter(financing::Column::Status.ne(FinancingStatus::Expired.as_str()))
        .order_by_desc(financing::Column::CreatedAt)
        .one(db)
        .await?)
}
