//! Admin's read models, kept from events in the event's transaction (beside its audit
//! row): users, KYC reviews, invoices, facts and totals, fee revenue's financings, daily
//! activity. Every write is an upsert that an older event cannot undo (events can arrive
//! out of order), and every fact is keyed by its event, so a redelivery adds nothing.

use chrono::{DateTime, Utc};
use common::auth::KycStatus;
use common::events::invoice::{InvoiceChanged, InvoiceStatus};
use common::events::payments::{PaymentKind, PaymentStatus};
use common::events::{
    AuthEvent, Envelope, Event, InvoiceEvent, KycEvent, OfferEvent, PaymentEvent,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::domain::audit::{ActorRole, Subject};
use crate::domain::facts::{AccountStatus, Fact, Metric, ReviewState, facts_of};
use crate::store::entity::{activity, fact, financing, invoice, kyc_review, total, user};

/// `excluded.<column>`: the value an upsert tried to insert.
fn excluded(column: impl sea_orm::sea_query::IntoIden) -> Expr {
    Expr::col((Alias::new("excluded"), column))
}

/// Applies `event` (in `envelope`, whose subject is `subject`) to every read model.
pub async fn project<C: ConnectionTrait>(
    txn: &C,
    envelope: &Envelope,
    event: &Event,
    subject: &Subject,
) -> anyhow::Result<()> {
    project_all(txn, &[(envelope, event, *subject)]).await
}

/// [`project`] for several events in one transaction, in their order: the facts that move
/// no total (counts) in one multi-row insert and the days' activity in another, then each
/// event's own writes (and its money facts, which move totals) one by one. What an event
/// writes does not depend on what another of the batch wrote before it, except in its
/// own models, which are written in the events' order.
pub async fn project_all<C: ConnectionTrait>(
    txn: &C,
    events: &[(&Envelope, &Event, Subject)],
) -> anyhow::Result<()> {
    let mut counts = Vec::new();
    let mut active = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (envelope, event, subject) in events {
        let at = crate::domain::audit::micros(envelope.occurred_at);
        for f in facts_of(event) {
            if f.currency.is_none() {
                counts.push(fact_row(envelope.id, &f, at));
            } else {
                add_fact(txn, envelope.id, f, at).await?;
            }
        }
        if let (Some(actor), ActorRole::Seller | ActorRole::Investor) =
            (subject.actor_id, subject.actor_role)
            && seen.insert((at.date_naive(), actor))
        {
            active.push(activity::ActiveModel {
                day: ActiveValue::Set(at.date_naive()),
                user_id: ActiveValue::Set(actor),
                role: ActiveValue::Set(subject.actor_role.as_str().to_owned()),
            });
        }
    }
    if !counts.is_empty() {
        fact::Entity::insert_many(counts)
            .on_conflict(fact_key())
            .exec_without_returning(txn)
            .await?;
    }
    if !active.is_empty() {
        activity::Entity::insert_many(active)
            .on_conflict(
                OnConflict::columns([activity::Column::Day, activity::Column::UserId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    for (envelope, event, _) in events {
        apply(txn, envelope, event).await?;
    }
    Ok(())
}

/// `event`'s writes to the models of its own kind (users, reviews, invoices, financings).
async fn apply<C: ConnectionTrait>(
    txn: &C,
    envelope: &Envelope,
    event: &Event,
) -> anyhow::Result<()> {
    let at = crate::domain::audit::micros(envelope.occurred_at);
    match event {
        Event::Auth(AuthEvent::UserRegistered(u)) => {
            let search = format!("{} {}", u.email, u.full_name).to_lowercase();
            user::Entity::insert(user::ActiveModel {
                user_id: ActiveValue::Set(u.user_id.0),
                email: ActiveValue::Set(Some(u.email.clone())),
                full_name: ActiveValue::Set(Some(u.full_name.clone())),
                search: ActiveValue::Set(Some(search)),
                role: ActiveValue::Set(Some(u.role.as_str().to_owned())),
                kyc_status: ActiveValue::Set(KycStatus::None.as_str().to_owned()),
                status: ActiveValue::Set(AccountStatus::Active.as_str().to_owned()),
                registered_at: ActiveValue::Set(Some(at)),
                kyc_at: ActiveValue::Set(None),
                status_at: ActiveValue::Set(None),
            })
            .on_conflict(
                OnConflict::column(user::Column::UserId)
                    .update_columns([
                        user::Column::Email,
                        user::Column::FullName,
                        user::Column::Search,
                        user::Column::Role,
                        user::Column::RegisteredAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
        Event::Auth(AuthEvent::UserSuspended(s)) => {
            standing(txn, s.user_id.0, AccountStatus::Suspended, at).await?;
        }
        Event::Auth(AuthEvent::UserReactivated(s)) => {
            standing(txn, s.user_id.0, AccountStatus::Active, at).await?;
        }
        Event::Kyc(KycEvent::Submitted(s)) => {
            kyc_of(txn, s.user_id.0, KycStatus::InReview, at).await?;
            kyc_review::Entity::insert(kyc_review::ActiveModel {
                submission_id: ActiveValue::Set(s.submission_id.0),
                user_id: ActiveValue::Set(s.user_id.0),
                role: ActiveValue::Set(Some(s.role.as_str().to_owned())),
                submitted_at: ActiveValue::Set(Some(at)),
                state: ActiveValue::Set(ReviewState::InReview.as_str().to_owned()),
                decided_at: ActiveValue::Set(None),
            })
            .on_conflict(
                // A decision heard first keeps its state.
                OnConflict::column(kyc_review::Column::SubmissionId)
                    .update_columns([kyc_review::Column::Role, kyc_review::Column::SubmittedAt])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
        Event::Kyc(KycEvent::Approved(d) | KycEvent::Rejected(d)) => {
            let (kyc, state) = match event {
                Event::Kyc(KycEvent::Approved(_)) => (KycStatus::Approved, ReviewState::Approved),
                _ => (KycStatus::Rejected, ReviewState::Rejected),
            };
            kyc_of(txn, d.user_id.0, kyc, at).await?;
            kyc_review::Entity::insert(kyc_review::ActiveModel {
                submission_id: ActiveValue::Set(d.submission_id.0),
                user_id: ActiveValue::Set(d.user_id.0),
                role: ActiveValue::Set(None),
                submitted_at: ActiveValue::Set(None),
                state: ActiveValue::Set(state.as_str().to_owned()),
                decided_at: ActiveValue::Set(Some(at)),
            })
            .on_conflict(
                OnConflict::column(kyc_review::Column::SubmissionId)
                    .update_columns([kyc_review::Column::State, kyc_review::Column::DecidedAt])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
        Event::Invoice(
            InvoiceEvent::Submitted(c)
            | InvoiceEvent::Listed(c)
            | InvoiceEvent::Rejected(c)
            | InvoiceEvent::Cancelled(c)
            | InvoiceEvent::StatusChanged(c),
        ) => invoice_moved(txn, c, at).await?,
        Event::Marketplace(OfferEvent::Accepted(o)) => {
            financing::Entity::insert(financing::ActiveModel {
                offer_id: ActiveValue::Set(o.offer_id.0),
                fee_minor: ActiveValue::Set(Some(o.fee_minor)),
                currency: ActiveValue::Set(Some(o.currency.code().to_owned())),
                funding_event_id: ActiveValue::Set(None),
                funded_at: ActiveValue::Set(None),
            })
            .on_conflict(
                OnConflict::column(financing::Column::OfferId)
                    .update_columns([financing::Column::FeeMinor, financing::Column::Currency])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
            fee_if_known(txn, o.offer_id.0).await?;
        }
        Event::Payments(PaymentEvent::StatusChanged(p)) if p.kind == PaymentKind::Funding => {
            match p.status {
                PaymentStatus::Succeeded => {
                    financing::Entity::insert(financing::ActiveModel {
                        offer_id: ActiveValue::Set(p.offer_id.0),
                        fee_minor: ActiveValue::Set(None),
                        currency: ActiveValue::Set(None),
                        funding_event_id: ActiveValue::Set(Some(envelope.id)),
                        funded_at: ActiveValue::Set(Some(at)),
                    })
                    .on_conflict(
                        OnConflict::column(financing::Column::OfferId)
                            .update_columns([
                                financing::Column::FundingEventId,
                                financing::Column::FundedAt,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(txn)
                    .await?;
                    fee_if_known(txn, p.offer_id.0).await?;
                }
                PaymentStatus::Reversed => {
                    // The fee goes back with the funding (keyed by this event).
                    if let Some(f) = financing::Entity::find_by_id(p.offer_id.0).one(txn).await?
                        && let (Some(fee), Some(currency)) = (f.fee_minor, f.currency)
                    {
                        let currency = currency.parse().map_err(anyhow::Error::msg)?;
                        add_fact(
                            txn,
                            envelope.id,
                            Fact {
                                metric: Metric::FeeRevenue,
                                currency: Some(currency),
                                amount: -fee,
                            },
                            at,
                        )
                        .await?;
                    }
                }
                PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Expired => {}
            }
        }
        Event::Kyc(KycEvent::DocumentProcessed(_) | KycEvent::DocumentDownloaded(_))
        | Event::Invoice(
            InvoiceEvent::AcceptanceConfirmed(_) | InvoiceEvent::AcceptanceRefused(_),
        )
        | Event::Marketplace(
            OfferEvent::Placed(_)
            | OfferEvent::Reserved(_)
            | OfferEvent::Rejected(_)
            | OfferEvent::Withdrawn(_)
            | OfferEvent::Expired(_)
            | OfferEvent::ReservationTimedOut(_)
            | OfferEvent::StatusChanged(_),
        )
        | Event::Payments(PaymentEvent::StatusChanged(_) | PaymentEvent::SettlementCompleted(_)) => {
        }
    }
    Ok(())
}

/// Records fee revenue for the offer's funding once both its fee and its funding are
/// known (whichever event came second), keyed by the funding's event: once.
async fn fee_if_known<C: ConnectionTrait>(txn: &C, offer_id: Uuid) -> anyhow::Result<()> {
    let Some(f) = financing::Entity::find_by_id(offer_id).one(txn).await? else {
        return Ok(());
    };
    if let (Some(fee), Some(currency), Some(funding), Some(at)) =
        (f.fee_minor, f.currency, f.funding_event_id, f.funded_at)
    {
        let currency = currency.parse().map_err(anyhow::Error::msg)?;
        add_fact(
            txn,
            funding,
            Fact {
                metric: Metric::FeeRevenue,
                currency: Some(currency),
                amount: fee,
            },
            at,
        )
        .await?;
    }
    Ok(())
}

/// The row of fact `f` of event `event_id`.
fn fact_row(event_id: Uuid, f: &Fact, at: DateTime<Utc>) -> fact::ActiveModel {
    fact::ActiveModel {
        event_id: ActiveValue::Set(event_id),
        metric: ActiveValue::Set(f.metric.as_str().to_owned()),
        currency: ActiveValue::Set(f.currency.map(|c| c.code().to_owned())),
        amount: ActiveValue::Set(f.amount),
        day: ActiveValue::Set(at.date_naive()),
        at: ActiveValue::Set(at),
    }
}

/// A fact is stored once per event and metric.
fn fact_key() -> OnConflict {
    OnConflict::columns([fact::Column::EventId, fact::Column::Metric])
        .do_nothing()
        .to_owned()
}

/// Stores `f` of event `event_id` once; a money fact also moves its total.
async fn add_fact<C: ConnectionTrait>(
    txn: &C,
    event_id: Uuid,
    f: Fact,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let inserted = fact::Entity::insert(fact_row(event_id, &f, at))
        .on_conflict(fact_key())
        .exec_without_returning(txn)
        .await?;
    if inserted == 1
        && let Some(currency) = f.currency
    {
        total::Entity::insert(total::ActiveModel {
            metric: ActiveValue::Set(f.metric.as_str().to_owned()),
            currency: ActiveValue::Set(currency.code().to_owned()),
            amount: ActiveValue::Set(f.amount),
        })
        .on_conflict(
            OnConflict::columns([total::Column::Metric, total::Column::Currency])
                .value(
                    total::Column::Amount,
                    Expr::col((total::Entity, total::Column::Amount))
                        .add(excluded(total::Column::Amount)),
                )
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// A user row for `user_id` known only by what a later event says.
fn bare_user(user_id: Uuid) -> user::ActiveModel {
    user::ActiveModel {
        user_id: ActiveValue::Set(user_id),
        email: ActiveValue::Set(None),
        full_name: ActiveValue::Set(None),
        search: ActiveValue::Set(None),
        role: ActiveValue::Set(None),
        kyc_status: ActiveValue::Set(KycStatus::None.as_str().to_owned()),
        status: ActiveValue::Set(AccountStatus::Active.as_str().to_owned()),
        registered_at: ActiveValue::Set(None),
        kyc_at: ActiveValue::Set(None),
        status_at: ActiveValue::Set(None),
    }
}

/// `(table.at IS NULL OR table.at <= excluded.at)`: the upsert's event is not older.
fn not_older(column: user::Column) -> sea_orm::sea_query::SimpleExpr {
    Expr::col((user::Entity, column))
        .is_null()
        .or(Expr::col((user::Entity, column)).lte(excluded(column)))
}

/// One part of a user's row (`value` into `column`, moved at `at` into `at_column`),
/// upserted unless the row's part was moved by a newer event.
async fn user_part<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    (column, value): (user::Column, &str),
    (at_column, at): (user::Column, DateTime<Utc>),
) -> anyhow::Result<()> {
    use sea_orm::ActiveModelTrait;
    let mut row = bare_user(user_id);
    row.set(column, value.into());
    row.set(at_column, Some(at).into());
    user::Entity::insert(row)
        .on_conflict(
            OnConflict::column(user::Column::UserId)
                .update_columns([column, at_column])
                .action_and_where(not_older(at_column))
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn standing<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    status: AccountStatus,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let value = (user::Column::Status, status.as_str());
    user_part(txn, user_id, value, (user::Column::StatusAt, at)).await
}

async fn kyc_of<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    kyc: KycStatus,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let value = (user::Column::KycStatus, kyc.as_str());
    user_part(txn, user_id, value, (user::Column::KycAt, at)).await
}

async fn invoice_moved<C: ConnectionTrait>(
    txn: &C,
    c: &InvoiceChanged,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    use invoice::Column as I;
    invoice::Entity::insert(invoice::ActiveModel {
        invoice_id: ActiveValue::Set(c.invoice_id.0),
        seller_id: ActiveValue::Set(c.seller_id.0),
        invoice_number: ActiveValue::Set(c.invoice_number.chars().take(64).collect()),
        debtor_name: ActiveValue::Set(c.debtor_name.chars().take(200).collect()),
        currency: ActiveValue::Set(c.currency.code().to_owned()),
        face_minor: ActiveValue::Set(c.amount_minor),
        status: ActiveValue::Set(c.to.as_str().to_owned()),
        status_at: ActiveValue::Set(at),
        submitted_at: ActiveValue::Set((c.to == InvoiceStatus::Submitted).then_some(at)),
    })
    .on_conflict(
        OnConflict::column(I::InvoiceId)
            .update_columns([
                I::SellerId,
                I::InvoiceNumber,
                I::DebtorName,
                I::Currency,
                I::FaceMinor,
                I::Status,
                I::StatusAt,
            ])
            .value(
                I::SubmittedAt,
                Expr::cust("COALESCE(excluded.submitted_at, invoices.submitted_at)"),
            )
            .action_and_where(Expr::col((invoice::Entity, I::StatusAt)).lte(excluded(I::StatusAt)))
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
