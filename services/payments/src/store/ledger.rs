//! The ledger's tables: [`post`] writes a [`Posting`] inside the caller's transaction
//! (with the change it records), once per key; [`trial_balance`] and [`check`] read the
//! invariants back.
//!
//! Concurrency: a party account's row is taken by the `UPDATE` that moves its balance
//! (PostgreSQL; SQLite has one writer at a time), in the order of the accounts' codes,
//! so two postings over the same accounts never deadlock, and the balance checked is the
//! one written. The pooled accounts ([`Account::pooled`]: the provider clearing account
//! and fee revenue, on nearly every posting) are never taken: their entries are appended
//! with no running balance and their balance is the sum of their entries, so postings
//! for different invoices do not queue behind each other (docs/decisions.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::money::Currency;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::PaymentsError;
use crate::domain::ledger::{Account, AccountKind, LedgerError, Posting, Side};
use crate::store::entity::{ledger_account, ledger_entry, ledger_posting};

/// What [`post`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Written,
    /// A posting with this key is already in the ledger: nothing was written.
    AlreadyPosted,
}

/// Writes `posting` in `txn`: checks it balances, refuses a liability below zero, and
/// does nothing when its key was posted before.
///
/// A handful of statements whatever the posting: the posting row (its unique key makes
/// a second attempt, even a concurrent one, a no-op), one upsert `... RETURNING` per
/// party account (created at first use; it takes the row until the commit and gives the
/// balance to check), and one multi-row insert of the entries. Pooled accounts ([`Account::pooled`]) are
/// not updated: their entries carry no running balance.
pub async fn post<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    posting: &Posting,
    payment_id: Option<Uuid>,
) -> Result<Posted, PaymentsError> {
    posting.check()?;
    let posting_id = common::new_id_at(now);
    let inserted = ledger_posting::Entity::insert(ledger_posting::ActiveModel {
        id: Set(posting_id),
        key: Set(posting.key.clone()),
        currency: Set(posting.currency.code().to_owned()),
        memo: Set(posting.memo.to_owned()),
        payment_id: Set(payment_id),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(ledger_posting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(anyhow::Error::from)?;
    if inserted == 0 {
        return Ok(Posted::AlreadyPosted);
    }

    // The legs per account, in code order (the lock order, so two postings over the same
    // accounts never deadlock).
    let mut by_code: BTreeMap<String, (Account, Vec<(Side, i64)>)> = BTreeMap::new();
    for leg in &posting.legs {
        by_code
            .entry(leg.account.code())
            .or_insert_with(|| (leg.account, Vec::new()))
            .1
            .push((leg.side, leg.amount_minor));
    }
    let mut entries = Vec::with_capacity(posting.legs.len());
    for (code, (account, lines)) in by_code {
        let kind = account.kind();
        let entry = |account_id: Uuid, side: Side, amount: i64, after: Option<i64>| {
            ledger_entry::ActiveModel {
                id: Set(common::new_id_at(now)),
                posting_id: Set(posting_id),
                account_id: Set(account_id),
                side: Set(side.as_str().to_owned()),
                amount_minor: Set(amount),
                balance_after: Set(after),
                created_at: Set(now),
            }
        };
        if account.pooled() {
            let id = account_id(txn, now, &code, posting.currency, kind).await?;
            entries.extend(
                lines
                    .into_iter()
                    .map(|(side, amount)| entry(id, side, amount, None)),
            );
            continue;
        }
        let mut net = 0i64;
        for &(side, amount) in &lines {
            net = net
                .checked_add(kind.delta(side, amount))
                .ok_or_else(|| anyhow::anyhow!("a posting on {code} overflows"))?;
        }
        let (id, balance) = add_to_balance(txn, now, &code, posting.currency, kind, net).await?;
        if kind == AccountKind::Liability && balance < 0 {
            return Err(LedgerError::NegativeLiability {
                key: posting.key.clone(),
                account: code,
                balance,
            }
            .into());
        }
        // Each entry's balance after it, in the posting's order.
        let mut running = balance - net;
        for (side, amount) in lines {
            running += kind.delta(side, amount);
            entries.push(entry(id, side, amount, Some(running)));
        }
    }
    ledger_entry::Entity::insert_many(entries)
        .exec_without_returning(txn)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(Posted::Written)
}

/// Adds `net` to the balance of the account `code` in `currency` (of `kind`), taking
/// its row for the transaction, in one statement: an insert at `net` that, when the
/// account exists, adds `net` to its balance instead (`ON CONFLICT ... DO UPDATE`, which
/// locks the row as an `UPDATE` does). Answers its id and new balance.
async fn add_to_balance<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    code: &str,
    currency: Currency,
    kind: AccountKind,
    net: i64,
) -> Result<(Uuid, i64), PaymentsError> {
    use ledger_account::Column as A;
    let account = ledger_account::Entity::insert(ledger_account::ActiveModel {
        id: Set(common::new_id_at(now)),
        code: Set(code.to_owned()),
        currency: Set(currency.code().to_owned()),
        kind: Set(kind.as_str().to_owned()),
        balance_minor: Set(net),
        version: Set(1),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([A::Code, A::Currency])
            .value(
                A::BalanceMinor,
                Expr::cust(r#""ledger_accounts"."balance_minor" + "excluded"."balance_minor""#),
            )
            .value(A::Version, Expr::cust(r#""ledger_accounts"."version" + 1"#))
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await
    .map_err(anyhow::Error::from)?;
    Ok((account.id, account.balance_minor))
}

/// The id of the account `code` in `currency`, created at zero if new (not locked).
async fn account_id<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    code: &str,
    currency: Currency,
    kind: AccountKind,
) -> Result<Uuid, PaymentsError> {
    let find = || {
        ledger_account::Entity::find()
            .select_only()
            .column(ledger_account::Column::Id)
            .filter(ledger_account::Column::Code.eq(code))
            .filter(ledger_account::Column::Currency.eq(currency.code()))
            .into_tuple::<Uuid>()
    };
    if let Some(id) = find().one(txn).await.map_err(anyhow::Error::from)? {
        return Ok(id);
    }
    ledger_account::Entity::insert(ledger_account::ActiveModel {
        id: Set(common::new_id_at(now)),
        code: Set(code.to_owned()),
        currency: Set(currency.code().to_owned()),
        kind: Set(kind.as_str().to_owned()),
        balance_minor: Set(0),
        version: Set(1),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            ledger_account::Column::Code,
            ledger_account::Column::Currency,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(anyhow::Error::from)?;
    Ok(find()
        .one(txn)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| anyhow::anyhow!("ledger account {code} {currency} vanished"))?)
}

/// Every account's entry totals: `(debits, credits)` by account id, summed in the
/// database.
async fn entry_totals<C: ConnectionTrait>(
    db: &C,
    account: Option<Uuid>,
) -> anyhow::Result<BTreeMap<Uuid, (i64, i64)>> {
    let mut q = ledger_entry::Entity::find()
        .select_only()
        .column(ledger_entry::Column::AccountId)
        .column(ledger_entry::Column::Side)
        .column_as(
            Expr::col(ledger_entry::Column::AmountMinor)
                .sum()
                .cast_as("BIGINT"),
            "total",
        )
        .group_by(ledger_entry::Column::AccountId)
        .group_by(ledger_entry::Column::Side);
    if let Some(id) = account {
        q = q.filter(ledger_entry::Column::AccountId.eq(id));
    }
    let mut out: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    for (id, side, total) in q.into_tuple::<(Uuid, String, i64)>().all(db).await? {
        let t = out.entry(id).or_default();
        match side.parse::<Side>().map_err(anyhow::Error::msg)? {
            Side::Debit => t.0 = total,
            Side::Credit => t.1 = total,
        }
    }
    Ok(out)
}

/// An account's balance: the running one of a party account, the sum of the entries of a
/// pooled one.
fn balance_of(
    a: &ledger_account::Model,
    totals: &BTreeMap<Uuid, (i64, i64)>,
) -> anyhow::Result<i64> {
    if Account::code_is_pooled(&a.code) {
        entries_sum(a, totals)
    } else {
        Ok(a.balance_minor)
    }
}

/// The sum of an account's entries on its normal side.
fn entries_sum(
    a: &ledger_account::Model,
    totals: &BTreeMap<Uuid, (i64, i64)>,
) -> anyhow::Result<i64> {
    let kind: AccountKind = a.kind.parse().map_err(anyhow::Error::msg)?;
    let (debits, credits) = totals.get(&a.id).copied().unwrap_or_default();
    Ok(kind.delta(Side::Debit, debits) + kind.delta(Side::Credit, credits))
}

/// `accounts` with their balances ([`balance_of`]).
pub async fn with_balances<C: ConnectionTrait>(
    db: &C,
    accounts: Vec<ledger_account::Model>,
) -> anyhow::Result<Vec<(ledger_account::Model, i64)>> {
    let mut totals = BTreeMap::new();
    for a in accounts.iter().filter(|a| Account::code_is_pooled(&a.code)) {
        totals.extend(entry_totals(db, Some(a.id)).await?);
    }
    accounts
        .into_iter()
        .map(|a| {
            let b = balance_of(&a, &totals)?;
            Ok((a, b))
        })
        .collect()
}

/// One currency's trial balance: the sums of every entry and of the balances by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TrialBalance {
    #[schema(value_type = String, example = "NGN")]
    pub currency: Currency,
    pub debits_minor: i64,
    pub credits_minor: i64,
    pub assets_minor: i64,
    pub liabilities_minor: i64,
    pub revenue_minor: i64,
    /// Debits equal credits, and assets equal liabilities plus revenue.
    pub balanced: bool,
}

/// The trial balance of every currency the ledger has accounts in.
pub async fn trial_balance<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<TrialBalance>> {
    let accounts = ledger_account::Entity::find().all(db).await?;
    let totals = entry_totals(db, None).await?;
    tally(&accounts, &totals)
}

/// The trial balances of `accounts` with their entry `totals`.
fn tally(
    accounts: &[ledger_account::Model],
    totals: &BTreeMap<Uuid, (i64, i64)>,
) -> anyhow::Result<Vec<TrialBalance>> {
    let mut out: BTreeMap<String, TrialBalance> = BTreeMap::new();
    for a in accounts {
        if !out.contains_key(&a.currency) {
            let blank = TrialBalance {
                currency: a.currency.parse().map_err(anyhow::Error::msg)?,
                debits_minor: 0,
                credits_minor: 0,
                assets_minor: 0,
                liabilities_minor: 0,
                revenue_minor: 0,
                balanced: true,
            };
            out.insert(a.currency.clone(), blank);
        }
        let t = out
            .get_mut(&a.currency)
            .ok_or_else(|| anyhow::anyhow!("no total for {}", a.currency))?;
        let balance = balance_of(a, totals)?;
        match a.kind.parse::<AccountKind>().map_err(anyhow::Error::msg)? {
            AccountKind::Asset => t.assets_minor += balance,
            AccountKind::Liability => t.liabilities_minor += balance,
            AccountKind::Revenue => t.revenue_minor += balance,
        }
        let (debits, credits) = totals.get(&a.id).copied().unwrap_or_default();
        t.debits_minor += debits;
        t.credits_minor += credits;
    }
    Ok(out
        .into_values()
        .map(|mut t| {
            t.balanced = t.debits_minor == t.credits_minor
                && t.assets_minor == t.liabilities_minor + t.revenue_minor;
            t
        })
        .collect())
}

/// The ledger's invariants, each broken one in words (empty: all hold): every currency's
/// trial balance balances; no liability is negative; every party account's running
/// balance is the sum of its entries.
pub async fn check<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<String>> {
    let mut broken = Vec::new();
    let accounts = ledger_account::Entity::find().all(db).await?;
    let totals = entry_totals(db, None).await?;
    for t in tally(&accounts, &totals)? {
        if !t.balanced {
            broken.push(format!("{} does not balance: {t:?}", t.currency));
        }
    }
    for a in &accounts {
        let kind: AccountKind = a.kind.parse().map_err(anyhow::Error::msg)?;
        if kind == AccountKind::Liability && a.balance_minor < 0 {
            broken.push(format!("liability {} is {}", a.code, a.balance_minor));
        }
        if Account::code_is_pooled(&a.code) {
            continue;
        }
        let sum = entries_sum(a, &totals)?;
        if sum != a.balance_minor {
            broken.push(format!(
                "{} {}: balance {} but its entries sum to {sum}",
                a.code, a.currency, a.balance_minor
            ));
        }
    }
    Ok(broken)
}

/// Whether a posting with `key` is in the ledger.
pub async fn posted<C: ConnectionTrait>(db: &C, key: &str) -> anyhow::Result<bool> {
    Ok(ledger_posting::Entity::find()
        .filter(ledger_posting::Column::Key.eq(key))
        .one(db)
        .await?
        .is_some())
}

/// The balance of the account `code` in `currency` (0 if it has no entries yet).
pub async fn balance<C: ConnectionTrait>(
    db: &C,
    code: &str,
    currency: Currency,
) -> anyhow::Result<i64> {
    let Some(a) = ledger_account::Entity::find()
        .filter(ledger_account::Column::Code.eq(code))
        .filter(ledger_account::Column::Currency.eq(currency.code()))
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    Ok(with_balances(db, vec![a]).await?[0].1)
}
