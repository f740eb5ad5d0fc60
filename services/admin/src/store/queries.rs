//! What the admin routes read from the read models: the dashboard, time series, user
//! statistics, user search and the review queue.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::facts::{AccountStatus, Metric, ReviewState};
use crate::domain::stats::{Bucket, Period, UserQuery};
use crate::store::entity::{activity, fact, invoice, kyc_review, total, user};

/// Whole seconds from `from` to `to` (0 if `to` is earlier).
fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    std::cmp::max((to - from).num_seconds(), 0)
}

/// `CAST(SUM(col) AS BIGINT)`: PostgreSQL's SUM of a bigint is a numeric.
fn sum_of(col: &str) -> Expr {
    Expr::cust(format!("CAST(SUM({col}) AS BIGINT)"))
}

/// Money figures of one currency, in minor units.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MoneyFigures {
    pub currency: String,
    /// Face value of the invoices listed now.
    pub listed_face_minor: i64,
    /// Prices investors paid (fundings succeeded, less reversed).
    pub funded_minor: i64,
    /// What debtors repaid (less reversed).
    pub repaid_minor: i64,
    /// Face value of the invoices overdue now.
    pub overdue_face_minor: i64,
    /// Face value of the invoices defaulted.
    pub defaulted_face_minor: i64,
    /// The platform's fees on funded offers.
    pub fee_revenue_minor: i64,
}

/// The KYC review queue's length and age.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KycWaiting {
    /// Submissions in review.
    pub waiting: i64,
    /// When the oldest was submitted.
    pub oldest_submitted_at: Option<DateTime<Utc>>,
    /// How long the oldest has waited, in seconds.
    pub oldest_waiting_secs: Option<i64>,
}

/// The dashboard, from admin's read models.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Dashboard {
    pub generated_at: DateTime<Utc>,
    /// Users by role (`seller`, `investor`, `admin`; `unknown` before their
    /// registration is heard).
    pub users_by_role: BTreeMap<String, i64>,
    /// Users by KYC status.
    pub users_by_kyc: BTreeMap<String, i64>,
    /// Users suspended now.
    pub users_suspended: i64,
    pub kyc: KycWaiting,
    /// Invoices by status.
    pub invoices_by_status: BTreeMap<String, i64>,
    /// Offers placed today (UTC).
    pub offers_today: i64,
    /// Per currency, in minor units.
    pub money: Vec<MoneyFigures>,
}

async fn counts_by<C: ConnectionTrait, E: EntityTrait>(
    db: &C,
    column: E::Column,
    filter: Condition,
) -> anyhow::Result<BTreeMap<String, i64>>
where
    E::Column: ColumnTrait,
{
    let rows: Vec<(Option<String>, i64)> = E::find()
        .select_only()
        .column(column)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(filter)
        .group_by(column)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k.unwrap_or_else(|| "unknown".to_owned()), n))
        .collect())
}

/// `currency`'s figures in `money`, zero until set.
fn figures_of(money: &mut BTreeMap<String, MoneyFigures>, currency: String) -> &mut MoneyFigures {
    money
        .entry(currency.clone())
        .or_insert_with(|| MoneyFigures {
            currency,
            ..MoneyFigures::default()
        })
}

/// Computes the dashboard at `now`.
pub async fn dashboard<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> anyhow::Result<Dashboard> {
    let users_by_role =
        counts_by::<_, user::Entity>(db, user::Column::Role, Condition::all()).await?;
    let users_by_kyc =
        counts_by::<_, user::Entity>(db, user::Column::KycStatus, Condition::all()).await?;
    let users_suspended = counts_by::<_, user::Entity>(
        db,
        user::Column::Status,
        Condition::all().add(user::Column::Status.eq(AccountStatus::Suspended.as_str())),
    )
    .await?
    .values()
    .sum();
    let in_review = Condition::all()
        .add(kyc_review::Column::State.eq(ReviewState::InReview.as_str()))
        .add(kyc_review::Column::SubmittedAt.is_not_null());
    let (waiting, oldest): (i64, Option<DateTime<Utc>>) = kyc_review::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(kyc_review::Column::SubmittedAt.min(), "oldest")
        .filter(in_review)
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, None));
    let invoices_by_status =
        counts_by::<_, invoice::Entity>(db, invoice::Column::Status, Condition::all()).await?;
    let offers_today: Option<i64> = fact::Entity::find()
        .select_only()
        .column_as(sum_of("amount"), "n")
        .filter(fact::Column::Metric.eq(Metric::Offers.as_str()))
        .filter(fact::Column::Day.eq(now.date_naive()))
        .into_tuple()
        .one(db)
        .await?
        .flatten();

    let mut money: BTreeMap<String, MoneyFigures> = BTreeMap::new();
    let faces: Vec<(String, String, Option<i64>)> = invoice::Entity::find()
        .select_only()
        .column(invoice::Column::Status)
        .column(invoice::Column::Currency)
        .column_as(sum_of("face_minor"), "face")
        .filter(invoice::Column::Status.is_in(["listed", "overdue", "defaulted"]))
        .group_by(invoice::Column::Status)
        .group_by(invoice::Column::Currency)
        .into_tuple()
        .all(db)
        .await?;
    let totals = total::Entity::find().all(db).await?;
    for (status, currency, face) in faces {
        let f = figures_of(&mut money, currency);
        let face = face.unwrap_or(0);
        match status.as_str() {
            "listed" => f.listed_face_minor = face,
            "overdue" => f.overdue_face_minor = face,
            _ => f.defaulted_face_minor = face,
        }
    }
    for t in totals {
        let f = figures_of(&mut money, t.currency.clone());
        match t.metric.parse::<Metric>() {
            Ok(Metric::Funded) => f.funded_minor = t.amount,
            Ok(Metric::Repaid) => f.repaid_minor = t.amount,
            Ok(Metric::FeeRevenue) => f.fee_revenue_minor = t.amount,
            _ => {}
        }
    }
    Ok(Dashboard {
        generated_at: now,
        users_by_role,
        users_by_kyc,
        users_suspended,
        kyc: KycWaiting {
            waiting,
            oldest_submitted_at: oldest,
            oldest_waiting_secs: oldest.map(|o| secs_between(o, now)),
        },
        invoices_by_status,
        offers_today: offers_today.unwrap_or(0),
        money: money.into_values().collect(),
    })
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Point {
    /// The bucket's first day.
    pub start: NaiveDate,
    /// For money metrics; none for counts.
    pub currency: Option<String>,
    /// Minor units for money, a count otherwise.
    pub value: i64,
}

/// A metric over time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Series {
    pub metric: Metric,
    pub bucket: Bucket,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every bucket from `from` to `to` (empty ones as 0), per currency for money.
    pub points: Vec<Point>,
}

/// `metric` per `bucket` between the days `from` and `to` (inclusive).
pub async fn series<C: ConnectionTrait>(
    db: &C,
    metric: Metric,
    bucket: Bucket,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Series> {
    let rows: Vec<(NaiveDate, Option<String>, Option<i64>)> = fact::Entity::find()
        .select_only()
        .column(fact::Column::Day)
        .column(fact::Column::Currency)
        .column_as(sum_of("amount"), "value")
        .filter(fact::Column::Metric.eq(metric.as_str()))
        .filter(fact::Column::Day.between(from, to))
        .group_by(fact::Column::Day)
        .group_by(fact::Column::Currency)
        .into_tuple()
        .all(db)
        .await?;
    let mut currencies: Vec<Option<String>> = rows.iter().map(|r| r.1.clone()).collect();
    currencies.sort();
    currencies.dedup();
    if currencies.is_empty() && !metric.is_money() {
        currencies.push(None);
    }
    let mut sums: BTreeMap<(NaiveDate, Option<String>), i64> = BTreeMap::new();
    for (day, currency, value) in rows {
        *sums.entry((bucket.start_of(day), currency)).or_default() += value.unwrap_or(0);
    }
    let mut points = Vec::new();
    for start in bucket.starts(from, to) {
        for c in &currencies {
            points.push(Point {
                start,
                currency: c.clone(),
                value: sums.get(&(start, c.clone())).copied().unwrap_or(0),
            });
        }
    }
    Ok(Series {
        metric,
        bucket,
        from,
        to,
        points,
    })
}

/// One bucket of user statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserBucket {
    /// The bucket's first day.
    pub start: NaiveDate,
    pub signups: i64,
    pub kyc_approved: i64,
    pub kyc_rejected: i64,
    /// Sellers who did something (an event names them as the actor).
    pub active_sellers: i64,
    pub active_investors: i64,
}

/// User statistics per `period`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserStats {
    pub period: Period,
    pub generated_at: DateTime<Utc>,
    /// Oldest first; the last is the current (partial) one.
    pub buckets: Vec<UserBucket>,
}

/// The statistics of the last [`Period::buckets`] periods up to `now`.
pub async fn user_stats<C: ConnectionTrait>(
    db: &C,
    period: Period,
    now: DateTime<Utc>,
) -> anyhow::Result<UserStats> {
    let starts = period.starts(now.date_naive());
    let (Some(&first), Some(&last)) = (starts.first(), starts.last()) else {
        anyhow::bail!("a period has buckets");
    };
    let end = period.end_of(last);
    let counts: Vec<(NaiveDate, String, Option<i64>)> = fact::Entity::find()
        .select_only()
        .column(fact::Column::Day)
        .column(fact::Column::Metric)
        .column_as(sum_of("amount"), "value")
        .filter(fact::Column::Metric.is_in([
            Metric::Signups.as_str(),
            Metric::KycApproved.as_str(),
            Metric::KycRejected.as_str(),
        ]))
        .filter(fact::Column::Day.between(first, end))
        .group_by(fact::Column::Day)
        .group_by(fact::Column::Metric)
        .into_tuple()
        .all(db)
        .await?;
    let mut buckets: Vec<UserBucket> = starts
        .iter()
        .map(|&start| UserBucket {
            start,
            signups: 0,
            kyc_approved: 0,
            kyc_rejected: 0,
            active_sellers: 0,
            active_investors: 0,
        })
        .collect();
    let index = |day: NaiveDate| starts.iter().rposition(|&s| s <= day);
    for (day, metric, value) in counts {
        let (Some(i), Ok(metric)) = (index(day), metric.parse::<Metric>()) else {
            continue;
        };
        let b = &mut buckets[i];
        let value = value.unwrap_or(0);
        match metric {
            Metric::Signups => b.signups += value,
            Metric::KycApproved => b.kyc_approved += value,
            Metric::KycRejected => b.kyc_rejected += value,
            _ => {}
        }
    }
    for b in &mut buckets {
        let active: Vec<(String, i64)> = activity::Entity::find()
            .select_only()
            .column(activity::Column::Role)
            .column_as(Expr::cust("COUNT(DISTINCT user_id)"), "n")
            .filter(activity::Column::Day.between(b.start, period.end_of(b.start)))
            .group_by(activity::Column::Role)
            .into_tuple()
            .all(db)
            .await?;
        for (role, n) in active {
            match role.as_str() {
                "seller" => b.active_sellers = n,
                "investor" => b.active_investors = n,
                _ => {}
            }
        }
    }
    Ok(UserStats {
        period,
        generated_at: now,
        buckets,
    })
}

/// A user as admin's search shows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub user_id: Uuid,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Option<String>,
    pub kyc_status: String,
    /// `active` or `suspended`.
    pub status: String,
    pub registered_at: Option<DateTime<Utc>>,
}

/// One page of users, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `LIKE` pattern matching `text` anywhere (its `%`, `_` and `\` taken literally).
fn contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The users `q` asks for, newest first.
pub async fn users<C: ConnectionTrait>(db: &C, q: &UserQuery) -> anyhow::Result<UserPage> {
    use user::Column as U;
    let mut filter = Condition::all();
    if let Some(text) = &q.text {
        filter = filter.add(
            Expr::col(U::Search)
                .like(sea_orm::sea_query::LikeExpr::new(contains(text)).escape('\\')),
        );
    }
    if let Some(role) = q.role {
        filter = filter.add(U::Role.eq(role.as_str()));
    }
    if let Some(kyc) = q.kyc {
        filter = filter.add(U::KycStatus.eq(kyc.as_str()));
    }
    if let Some(status) = q.status {
        filter = filter.add(U::Status.eq(status.as_str()));
    }
    if let Some(before) = q.before {
        filter = filter.add(U::UserId.lt(before));
    }
    let rows = user::Entity::find()
        .filter(filter)
        .order_by_desc(U::UserId)
        .limit(q.limit + 1)
        .all(db)
        .await?;
    let (rows, next_cursor) = super::keyset(rows, q.limit, |r| r.user_id.to_string());
    Ok(UserPage {
        items: rows
            .into_iter()
            .map(|u| UserView {
                user_id: u.user_id,
                email: u.email,
                full_name: u.full_name,
                role: u.role,
                kyc_status: u.kyc_status,
                status: u.status,
                registered_at: u.registered_at,
            })
            .collect(),
        next_cursor,
    })
}

/// A decision route of the service that owns the resource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Action {
    /// `approve`, `reject`, `verify` or `view`.
    pub name: String,
    pub method: String,
    pub path: String,
}

fn action(name: &str, method: &str, path: String) -> Action {
    Action {
        name: name.into(),
        method: method.into(),
        path,
    }
}

/// Something that waits for an admin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Review {
    /// `kyc_submission` or `invoice`.
    pub kind: String,
    pub id: Uuid,
    /// The user who waits (the applicant, the invoice's seller).
    pub user_id: Uuid,
    pub waiting_since: DateTime<Utc>,
    pub waiting_secs: i64,
    /// What it is, in a line.
    pub summary: String,
    /// The owning service's routes that decide it (through the gateway).
    pub actions: Vec<Action>,
}

/// What waits for an admin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reviews {
    /// Oldest first.
    pub items: Vec<Review>,
}

/// The review queue at `now`: KYC submissions in review and submitted invoices, oldest
/// first (at most `limit` of each).
pub async fn reviews<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> anyhow::Result<Reviews> {
    let kyc = kyc_review::Entity::find()
        .filter(kyc_review::Column::State.eq(ReviewState::InReview.as_str()))
        .filter(kyc_review::Column::SubmittedAt.is_not_null())
        .order_by_asc(kyc_review::Column::SubmittedAt)
        .limit(limit)
        .all(db)
        .await?;
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::Status.eq("submitted"))
        .order_by_asc(invoice::Column::SubmittedAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut items: Vec<Review> = Vec::new();
    for k in kyc {
        let since = k.submitted_at.unwrap_or(now);
        let path = format!("/api/kyc/submissions/{}", k.submission_id);
        items.push(Review {
            kind: "kyc_submission".into(),
            id: k.submission_id,
            user_id: k.user_id,
            waiting_since: since,
            waiting_secs: secs_between(since, now),
            summary: format!("KYC of a {} in review", k.role.as_deref().unwrap_or("user")),
            actions: vec![
                action("view", "GET", path.clone()),
                action("approve", "POST", format!("{path}/approve")),
                action("reject", "POST", format!("{path}/reject")),
            ],
        });
    }
    for i in invoices {
        let since = i.submitted_at.unwrap_or(i.status_at);
        let path = format!("/api/invoices/{}", i.invoice_id);
        items.push(Review {
            kind: "invoice".into(),
            id: i.invoice_id,
            user_id: i.seller_id,
            waiting_since: since,
            waiting_secs: secs_between(since, now),
            summary: format!(
                "Invoice {} on {} for {} {} (minor units) submitted",
                i.invoice_number, i.debtor_name, i.face_minor, i.currency
            ),
            actions: vec![
                action("view", "GET", path.clone()),
                action("verify", "POST", format!("{path}/verify")),
                action("reject", "POST", format!("{path}/reject")),
            ],
        });
    }
    items.sort_by_key(|r| (r.waiting_since, r.id));
    Ok(Reviews { items })
}
