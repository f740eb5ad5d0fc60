//! The ledger's tables: [`post`] writes a [`Posting`] inside the caller's transaction
//! (with the change it records), once per key; [`trial_balance`] and [`check`] read the
//! invariants back.
//!
//! Concurrency: accounts are locked (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite has
//! one writer at a time) in the order of their codes, so two postings over the same
//! accounts never deadlock, and each balance is read and written under its lock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::money::Currency;
use sea_orm::sea_query::{ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::PaymentsError;
use crate::domain::ledger::{AccountKind, LedgerError, Posting, Side};
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
pub async fn post<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    posting: &Posting,
    payment_id: Option<Uuid>,
) -> Result<Posted, PaymentsError> {
    posting.check()?;
    let seen = ledger_posting::Entity::find()
        .filter(ledger_posting::Column::Key.eq(&posting.key))
        .one(txn)
        .await
        .map_err(anyhow::Error::from)?;
    if seen.is_some() {
        return Ok(Posted::AlreadyPosted);
    }
    let posting_id = common::new_id_at(now);
    ledger_posting::Entity::insert(ledger_posting::ActiveModel {
        id: Set(posting_id),
        key: Set(posting.key.clone()),
        currency: Set(posting.currency.code().to_owned()),
        memo: Set(posting.memo.to_owned()),
        payment_id: Set(payment_id),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await
    .map_err(anyhow::Error::from)?;

    // Net change per account, in code order (the lock order).
    let mut by_code: BTreeMap<String, (AccountKind, Vec<(Side, i64)>)> = BTreeMap::new();
    for leg in &posting.legs {
        by_code
            .entry(leg.account.code())
            .or_insert_with(|| (leg.account.kind(), Vec::new()))
            .1
            .push((leg.side, leg.amount_minor));
    }
    for (code, (kind, lines)) in by_code {
        let account = lock_account(txn, now, &code, posting.currency, kind).await?;
        let mut balance = account.balance_minor;
        for (side, amount) in lines {
            balance = balance
                .checked_add(kind.delta(side, amount))
                .ok_or_else(|| anyhow::anyhow!("balance of {code} overflows"))?;
            ledger_entry::Entity::insert(ledger_entry::ActiveModel {
                id: Set(common::new_id_at(now)),
                posting_id: Set(posting_id),
                account_id: Set(account.id),
                side: Set(side.as_str().to_owned()),
                amount_minor: Set(amount),
                balance_after: Set(balance),
                created_at: Set(now),
            })
            .exec_without_returning(txn)
            .await
            .map_err(anyhow::Error::from)?;
        }
        if kind == AccountKind::Liability && balance < 0 {
            return Err(LedgerError::NegativeLiability {
                key: posting.key.clone(),
                account: code,
                balance,
            }
            .into());
        }
        ledger_account::Entity::update_many()
            .col_expr(
                ledger_account::Column::BalanceMinor,
                sea_orm::sea_query::Expr::value(balance),
            )
            .col_expr(
                ledger_account::Column::Version,
                sea_orm::sea_query::Expr::col(ledger_account::Column::Version).add(1),
            )
            .filter(ledger_account::Column::Id.eq(account.id))
            .exec(txn)
            .await
            .map_err(anyhow::Error::from)?;
    }
    Ok(Posted::Written)
}

/// The account `code` in `currency`, created at zero if new, locked for this transaction.
async fn lock_account<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    code: &str,
    currency: Currency,
    kind: AccountKind,
) -> Result<ledger_account::Model, PaymentsError> {
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
    ledger_account::Entity::find()
        .filter(ledger_account::Column::Code.eq(code))
        .filter(ledger_account::Column::Currency.eq(currency.code()))
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| anyhow::anyhow!("ledger account {code} {currency} vanished").into())
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

/// The trial balance of every currency the ledger has entries in.
pub async fn trial_balance<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<TrialBalance>> {
    let accounts = ledger_account::Entity::find().all(db).await?;
    let entries = ledger_entry::Entity::find().all(db).await?;
    let currency_of: BTreeMap<Uuid, (String, String)> = accounts
        .iter()
        .map(|a| (a.id, (a.currency.clone(), a.kind.clone())))
        .collect();
    let mut out: BTreeMap<String, TrialBalance> = BTreeMap::new();
    let blank = |c: &str| -> anyhow::Result<TrialBalance> {
        Ok(TrialBalance {
            currency: c.parse().map_err(anyhow::Error::msg)?,
            debits_minor: 0,
            credits_minor: 0,
            assets_minor: 0,
            liabilities_minor: 0,
            revenue_minor: 0,
            balanced: true,
        })
    };
    for a in &accounts {
        if !out.contains_key(&a.currency) {
            out.insert(a.currency.clone(), blank(&a.currency)?);
        }
        let t = out
            .get_mut(&a.currency)
            .ok_or_else(|| anyhow::anyhow!("no total for {}", a.currency))?;
        match a.kind.parse::<AccountKind>().map_err(anyhow::Error::msg)? {
            AccountKind::Asset => t.assets_minor += a.balance_minor,
            AccountKind::Liability => t.liabilities_minor += a.balance_minor,
            AccountKind::Revenue => t.revenue_minor += a.balance_minor,
        }
    }
    for e in &entries {
        let (currency, _) = currency_of
            .get(&e.account_id)
            .ok_or_else(|| anyhow::anyhow!("entry {} on no account", e.id))?;
        let t = out
            .get_mut(currency)
            .ok_or_else(|| anyhow::anyhow!("no total for {currency}"))?;
        match e.side.parse::<Side>().map_err(anyhow::Error::msg)? {
            Side::Debit => t.debits_minor += e.amount_minor,
            Side::Credit => t.credits_minor += e.amount_minor,
        }
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
/// trial balance balances; no liability is negative; every account's balance is the sum
/// of its entries; the last entry of each account carries its balance.
pub async fn check<C: ConnectionTrait>(db: &C) -> anyhow::Result<Vec<String>> {
    let mut broken = Vec::new();
    for t in trial_balance(db).await? {
        if !t.balanced {
            broken.push(format!("{} does not balance: {t:?}", t.currency));
        }
    }
    let accounts = ledger_account::Entity::find().all(db).await?;
    for a in accounts {
        let kind: AccountKind = a.kind.parse().map_err(anyhow::Error::msg)?;
        if kind == AccountKind::Liability && a.balance_minor < 0 {
            broken.push(format!("liability {} is {}", a.code, a.balance_minor));
        }
        let entries = ledger_entry::Entity::find()
            .filter(ledger_entry::Column::AccountId.eq(a.id))
            .order_by_asc(ledger_entry::Column::Id)
            .all(db)
            .await?;
        let mut sum = 0i64;
        for e in &entries {
            let side: Side = e.side.parse().map_err(anyhow::Error::msg)?;
            sum += kind.delta(side, e.amount_minor);
        }
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
    Ok(ledger_account::Entity::find()
        .filter(ledger_account::Column::Code.eq(code))
        .filter(ledger_account::Column::Currency.eq(currency.code()))
        .one(db)
        .await?
        .map(|a| a.balance_minor)
        .unwrap_or(0))
}
