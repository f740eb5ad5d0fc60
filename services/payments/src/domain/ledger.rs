//! The double-entry ledger's vocabulary: accounts, postings and the postings each money
//! movement makes. Pure: the store writes a [`Posting`] in one transaction
//! (`store::ledger::post`), after [`Posting::check`] and with the liability check on the
//! balances it produces.
//!
//! Balances are signed integers in minor units on each account's normal side: an asset
//! grows by debits, a liability or revenue by credits. Then at every instant, per
//! currency, `assets = liabilities + revenue` (the trial balance), and no liability is
//! below zero (money owed back is a [`Account::Receivable`], an asset, never a negative
//! liability).
//!
//! | movement | debit | credit |
//! | --- | --- | --- |
//! | funding received, P | clearing P | escrow(invoice) P |
//! | funding allocated | escrow(invoice) P | seller payable net, fee revenue fee |
//! | payout sent | seller payable net | clearing net |
//! | repayment received, x | clearing x | escrow(invoice) x |
//! | repayment allocated | escrow(invoice) x | investor payable x |
//! | over-payment, y | clearing y | debtor refundable(invoice) y |
//! | distribution sent | investor payable x | clearing x |
//! | late funding (after expiry), P | clearing P | investor payable P (refunded) |
//! | refund sent | the payable refunded | clearing |
//! | funding reversed before payout | seller payable net, fee revenue fee | clearing P |
//! | funding reversed after payout | receivable(seller) net, fee revenue fee | clearing P |

use common::ids::{InvoiceId, UserId};
use common::money::Currency;

common::string_enum! {
    /// Which side of the balance sheet an account is on.
    pub enum AccountKind {
        /// Grows by debits: money the platform holds or is owed.
        Asset = "asset",
        /// Grows by credits: money the platform owes; never below zero.
        Liability = "liability",
        /// Grows by credits: what the platform earned.
        Revenue = "revenue",
    }
}

common::string_enum! {
    /// The side of an entry.
    pub enum Side {
        Debit = "debit",
        Credit = "credit",
    }
}

/// A ledger account (per currency: the same account in two currencies is two rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// Money held at the payment provider (asset).
    ProviderClearing,
    /// Money held for one invoice's financing between its arrival and its allocation
    /// (liability; zero once the invoice is settled).
    Escrow(InvoiceId),
    /// Owed to a seller: the payout not yet sent (liability).
    SellerPayable(UserId),
    /// Owed to an investor: a distribution or a refund not yet sent (liability).
    InvestorPayable(UserId),
    /// A debtor's over-payment on an invoice, to hand back (liability).
    DebtorRefundable(InvoiceId),
    /// Money owed back to the platform, e.g. by a seller paid out on a funding that was
    /// later reversed (asset).
    Receivable(UserId),
    /// The platform's fees (revenue).
    FeeRevenue,
}

impl Account {
    /// The account's stable code: its row's key with the currency.
    pub fn code(&self) -> String {
        match self {
            Account::ProviderClearing => "provider_clearing".into(),
            Account::Escrow(i) => format!("escrow:{i}"),
            Account::SellerPayable(u) => format!("seller_payable:{u}"),
            Account::InvestorPayable(u) => format!("investor_payable:{u}"),
            Account::DebtorRefundable(i) => format!("debtor_refundable:{i}"),
            Account::Receivable(u) => format!("receivable:{u}"),
            Account::FeeRevenue => "fee_revenue".into(),
        }
    }

    pub fn kind(&self) -> AccountKind {
        match self {
            Account::ProviderClearing | Account::Receivable(_) => AccountKind::Asset,
            Account::Escrow(_)
            | Account::SellerPayable(_)
            | Account::InvestorPayable(_)
            | Account::DebtorRefundable(_) => AccountKind::Liability,
            Account::FeeRevenue => AccountKind::Revenue,
        }
    }
}

impl Account {
    /// The platform's own accounts, on one side of nearly every posting (the money at the
    /// provider, the fees). Their entries are appended without taking the account's
    /// row, so postings for different invoices never wait for each other on them; their
    /// balance is the sum of their entries (`store::ledger`). The parties' accounts keep a
    /// running balance, updated under their row's lock, because a liability must never
    /// go below zero and that is checked as each posting is written.
    pub fn pooled(&self) -> bool {
        matches!(self, Account::ProviderClearing | Account::FeeRevenue)
    }

    /// [`Self::pooled`] by the account's code.
    pub fn code_is_pooled(code: &str) -> bool {
        [Account::ProviderClearing, Account::FeeRevenue]
            .iter()
            .any(|a| a.pooled() && a.code() == code)
    }
}

impl AccountKind {
    /// How an entry of `side` and `amount` moves a balance of this kind.
    pub fn delta(self, side: Side, amount: i64) -> i64 {
        match (self, side) {
            (AccountKind::Asset, Side::Debit) => amount,
            (AccountKind::Asset, Side::Credit) => -amount,
            (_, Side::Credit) => amount,
            (_, Side::Debit) => -amount,
        }
    }
}

/// One line of a posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub account: Account,
    pub side: Side,
    pub amount_minor: i64,
}

/// A balanced set of entries written together, once: `key` is unique in the ledger, so
/// a retried step (a redelivered webhook, a restarted job) cannot post twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub key: String,
    pub currency: Currency,
    pub memo: &'static str,
    pub legs: Vec<Leg>,
}

/// Why a posting cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("posting {0} has no entries")]
    Empty(String),
    #[error("posting {key}: an entry of {amount} on {account} (entries are positive)")]
    NotPositive {
        key: String,
        account: String,
        amount: i64,
    },
    #[error("posting {key} does not balance: debits {debits}, credits {credits}")]
    Unbalanced {
        key: String,
        debits: i128,
        credits: i128,
    },
    #[error("posting {key} would take liability {account} below zero ({balance})")]
    NegativeLiability {
        key: String,
        account: String,
        balance: i64,
    },
}

impl Posting {
    pub fn new(key: impl Into<String>, currency: Currency, memo: &'static str) -> Self {
        Self {
            key: key.into(),
            currency,
            memo,
            legs: Vec::new(),
        }
    }

    pub fn debit(mut self, account: Account, amount_minor: i64) -> Self {
        self.legs.push(Leg {
            account,
            side: Side::Debit,
            amount_minor,
        });
        self
    }

    pub fn credit(mut self, account: Account, amount_minor: i64) -> Self {
        self.legs.push(Leg {
            account,
            side: Side::Credit,
            amount_minor,
        });
        self
    }

    /// Drops zero legs (a fee of 0, say): an entry of nothing says nothing.
    fn without_zeros(mut self) -> Self {
        self.legs.retain(|l| l.amount_minor != 0);
        self
    }

    /// Every entry positive, at least one, debits equal to credits.
    pub fn check(&self) -> Result<(), LedgerError> {
        if self.legs.is_empty() {
            return Err(LedgerError::Empty(self.key.clone()));
        }
        let (mut debits, mut credits) = (0i128, 0i128);
        for l in &self.legs {
            if l.amount_minor <= 0 {
                return Err(LedgerError::NotPositive {
                    key: self.key.clone(),
                    account: l.account.code(),
                    amount: l.amount_minor,
                });
            }
            match l.side {
                Side::Debit => debits += i128::from(l.amount_minor),
                Side::Credit => credits += i128::from(l.amount_minor),
            }
        }
        if debits != credits {
            return Err(LedgerError::Unbalanced {
                key: self.key.clone(),
                debits,
                credits,
            });
        }
        Ok(())
    }
}

/// The postings of each money movement (the table in the module's docs). `key` names
/// the step (a payment id with what it does), so each is written once.
pub mod postings {
    use super::*;

    /// The key prefix of the postings a payment makes (`payment:{id}`; each posting adds
    /// its step: `payment:{id}:received`).
    pub fn key(payment: uuid::Uuid) -> String {
        format!("payment:{payment}")
    }

    /// The investor's price `price` arrived for `invoice`.
    pub fn funding_received(key: &str, c: Currency, invoice: InvoiceId, price: i64) -> Posting {
        Posting::new(format!("{key}:received"), c, "funding received")
            .debit(Account::ProviderClearing, price)
            .credit(Account::Escrow(invoice), price)
    }

    /// The funded price is owed to the seller (`net`) and the platform (`fee`).
    pub fn funding_allocated(
        key: &str,
        c: Currency,
        invoice: InvoiceId,
        seller: UserId,
        net: i64,
        fee: i64,
    ) -> Posting {
        Posting::new(format!("{key}:allocated"), c, "funding allocated")
            .debit(Account::Escrow(invoice), net + fee)
            .credit(Account::SellerPayable(seller), net)
            .credit(Account::FeeRevenue, fee)
            .without_zeros()
    }

    /// The debtor paid `applied` towards what is due (owed on to the investor) and
    /// `over` beyond it (to hand back).
    pub fn repayment_received(
        key: &str,
        c: Currency,
        invoice: InvoiceId,
        investor: UserId,
        applied: i64,
        over: i64,
    ) -> Vec<Posting> {
        let mut out = Vec::new();
        if applied > 0 {
            out.push(
                Posting::new(format!("{key}:received"), c, "repayment received")
                    .debit(Account::ProviderClearing, applied)
                    .credit(Account::Escrow(invoice), applied),
            );
            out.push(
                Posting::new(format!("{key}:allocated"), c, "repayment allocated")
                    .debit(Account::Escrow(invoice), applied)
                    .credit(Account::InvestorPayable(investor), applied),
            );
        }
        if over > 0 {
            out.push(
                Posting::new(format!("{key}:over"), c, "over-payment held to refund")
                    .debit(Account::ProviderClearing, over)
                    .credit(Account::DebtorRefundable(invoice), over),
            );
        }
        out
    }

    /// A funding that arrived after its window closed: owed back to the investor.
    pub fn late_funding(key: &str, c: Currency, investor: UserId, amount: i64) -> Posting {
        Posting::new(format!("{key}:late"), c, "funding after expiry, to refund")
            .debit(Account::ProviderClearing, amount)
            .credit(Account::InvestorPayable(investor), amount)
    }

    /// A transfer (payout, distribution or refund) left, paid out of `from` (the payable
    /// that held it).
    pub fn transfer_sent(key: &str, c: Currency, from: Account, amount: i64) -> Posting {
        Posting::new(format!("{key}:sent"), c, "transfer sent")
            .debit(from, amount)
            .credit(Account::ProviderClearing, amount)
    }

    /// The provider took a funding back. Before the payout the seller's payable shrinks;
    /// after it the seller owes the platform (a receivable, never a negative payable).
    pub fn funding_reversed(
        key: &str,
        c: Currency,
        seller: UserId,
        net: i64,
        fee: i64,
        paid_out: bool,
    ) -> Posting {
        let owed = if paid_out {
            Account::Receivable(seller)
        } else {
            Account::SellerPayable(seller)
        };
        Posting::new(format!("{key}:reversed"), c, "funding reversed")
            .debit(owed, net)
            .debit(Account::FeeRevenue, fee)
            .credit(Account::ProviderClearing, net + fee)
            .without_zeros()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;
    use uuid::Uuid;

    /// Balances as the store keeps them, for the worked example.
    fn apply(balances: &mut HashMap<Account, i64>, p: &Posting) {
        p.check().unwrap();
        for l in &p.legs {
            *balances.entry(l.account).or_default() +=
                l.account.kind().delta(l.side, l.amount_minor);
        }
        for (a, b) in balances.iter() {
            if a.kind() == AccountKind::Liability {
                assert!(*b >= 0, "{} went to {b} after {}", a.code(), p.key);
            }
        }
        let by = |k| -> i64 {
            balances
                .iter()
                .filter(|(a, _)| a.kind() == k)
                .map(|(_, b)| b)
                .sum()
        };
        assert_eq!(
            by(AccountKind::Asset),
            by(AccountKind::Liability) + by(AccountKind::Revenue),
            "trial balance after {}",
            p.key
        );
    }

    #[test]
    fn unbalanced_empty_and_non_positive_postings_are_refused() {
        let c = Currency::NGN;
        assert!(matches!(
            Posting::new("k", c, "m").check(),
            Err(LedgerError::Empty(_))
        ));
        let p = Posting::new("k", c, "m")
            .debit(Account::ProviderClearing, 10)
            .credit(Account::FeeRevenue, 9);
        assert!(matches!(
            p.check(),
            Err(LedgerError::Unbalanced {
                debits: 10,
                credits: 9,
                ..
            })
        ));
        let p = Posting::new("k", c, "m")
            .debit(Account::ProviderClearing, -5)
            .credit(Account::FeeRevenue, -5);
        assert!(matches!(p.check(), Err(LedgerError::NotPositive { .. })));
    }

    /// docs/pricing.md example 1 through the whole flow, to the kobo: F 150 000 000,
    /// P 145 561 644, fee 1 500 000, net 144 061 644; the debtor repays in two parts
    /// (100 000 000 then 50 000 000); the investor receives F.
    #[test]
    fn the_worked_example_balances_after_every_step_and_ends_with_escrow_empty() {
        let c = Currency::NGN;
        let invoice = InvoiceId(Uuid::now_v7());
        let seller = UserId(Uuid::now_v7());
        let investor = UserId(Uuid::now_v7());
        let (f, p, fee) = (150_000_000, 145_561_644, 1_500_000);
        let net = p - fee;
        assert_eq!(net, 144_061_644);
        let mut b = HashMap::new();
        for step in [
            postings::funding_received("fund", c, invoice, p),
            postings::funding_allocated("fund", c, invoice, seller, net, fee),
            postings::transfer_sent("payout", c, Account::SellerPayable(seller), net),
        ]
        .into_iter()
        .chain(postings::repayment_received(
            "repay1",
            c,
            invoice,
            investor,
            100_000_000,
            0,
        ))
        .chain([postings::transfer_sent(
            "dist1",
            c,
            Account::InvestorPayable(investor),
            100_000_000,
        )])
        .chain(postings::repayment_received(
            "repay2", c, invoice, investor, 50_000_000, 0,
        ))
        .chain([postings::transfer_sent(
            "dist2",
            c,
            Account::InvestorPayable(investor),
            50_000_000,
        )]) {
            apply(&mut b, &step);
        }
        let get = |a: Account| b.get(&a).copied().unwrap_or(0);
        assert_eq!(get(Account::Escrow(invoice)), 0);
        assert_eq!(get(Account::SellerPayable(seller)), 0);
        assert_eq!(get(Account::InvestorPayable(investor)), 0);
        assert_eq!(get(Account::FeeRevenue), fee);
        // Clearing holds what came in less what went out: P + F - net - F = fee.
        assert_eq!(get(Account::ProviderClearing), p + f - net - f);
    }

    #[test]
    fn a_reversal_after_the_payout_is_a_receivable_not_a_negative_payable() {
        let c = Currency::USD;
        let invoice = InvoiceId(Uuid::now_v7());
        let seller = UserId(Uuid::now_v7());
        let mut b = HashMap::new();
        for step in [
            postings::funding_received("f", c, invoice, 24_214_041),
            postings::funding_allocated("f", c, invoice, seller, 23_839_041, 375_000),
            postings::transfer_sent("p", c, Account::SellerPayable(seller), 23_839_041),
            postings::funding_reversed("f", c, seller, 23_839_041, 375_000, true),
        ] {
            apply(&mut b, &step);
        }
        assert_eq!(b[&Account::Receivable(seller)], 23_839_041);
        assert_eq!(b[&Account::SellerPayable(seller)], 0);
        assert_eq!(b[&Account::FeeRevenue], 0);
        // The provider took back the whole price after the platform had paid the seller
        // out of it: the platform is short by the payout until the seller pays it back.
        assert_eq!(b[&Account::ProviderClearing], -23_839_041);
    }

    #[test]
    fn an_account_is_pooled_by_its_code_as_by_itself() {
        let (u, i) = (UserId(Uuid::now_v7()), InvoiceId(Uuid::now_v7()));
        for a in [
            Account::ProviderClearing,
            Account::FeeRevenue,
            Account::Escrow(i),
            Account::SellerPayable(u),
            Account::InvestorPayable(u),
            Account::DebtorRefundable(i),
            Account::Receivable(u),
        ] {
            assert_eq!(Account::code_is_pooled(&a.code()), a.pooled(), "{a:?}");
        }
    }

    #[test]
    fn a_zero_fee_leaves_no_zero_entry() {
        let p = postings::funding_allocated(
            "f",
            Currency::NGN,
            InvoiceId(Uuid::nil()),
            UserId(Uuid::nil()),
            100,
            0,
        );
        assert_eq!(p.legs.len(), 2);
        p.check().unwrap();
    }
}
