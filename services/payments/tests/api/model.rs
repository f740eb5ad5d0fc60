//! Random flows against a model. For many seeds, a financing goes through a random
//! sequence of what providers and people do: pay, decline, the same outcome twice (a
//! duplicate), outcomes out of order (a failure after a success), expiry and a late
//! payment after it, repayments of random size (parts and over-payments), transfers that
//! succeed, fail or are returned, a funding reversed by the bank. After every step:
//! the ledger's invariants hold (balanced, no negative liability, balances equal to
//! their entries), what the ledger holds at the provider equals what the payments say
//! came in and went out, and the financing's figures stay within their bounds
//! (distributed <= repaid <= face; settled means all of it passed on, escrow empty).
//! A failing seed is printed: rerun it alone with `MODEL_SEED=<seed>`.

use common::events::marketplace::OfferChanged;
use common::events::payments::{PaymentKind, PaymentStatus};
use payments::domain::ledger::Account;
use payments::store::entity::{financing, payment};
use payments::store::financings::{self, NewPayment};
use payments::store::ledger;
use payments::store::outcomes::{self, ChargeOutcome, TransferOutcome};
use sea_orm::{DatabaseConnection, EntityTrait};
use testkit::DbKind;

use crate::helpers::{FACE, FEE, PRICE, TestApp, accepted, spawn_app_with};

/// xorshift64*: small, seeded, enough to choose steps.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    FundingPaid,
    FundingDeclined,
    /// The funding's bank takes it back.
    FundingReversed,
    /// The window closes (the sweep).
    Expire,
    Repay,
    Transfer(TransferOutcome),
    /// The last outcome again.
    Again,
}

fn step(rng: &mut Rng) -> Step {
    match rng.below(12) {
        0..=2 => Step::FundingPaid,
        3 => Step::FundingDeclined,
        4 => Step::FundingReversed,
        5 => Step::Expire,
        6 | 7 => Step::Repay,
        8 | 9 => Step::Transfer(TransferOutcome::Succeeded),
        10 => Step::Transfer(if rng.below(2) == 0 {
            TransferOutcome::Failed
        } else {
            TransferOutcome::Reversed
        }),
        _ => Step::Again,
    }
}

async fn payments_of(db: &DatabaseConnection, f: &financing::Model) -> Vec<payment::Model> {
    financings::payments_of(db, f.id).await.unwrap()
}

/// One of `all` of a kind and status in `kinds` and `statuses`, chosen by `rng`.
fn pick(
    all: &[payment::Model],
    rng: &mut Rng,
    kinds: &[PaymentKind],
    statuses: &[PaymentStatus],
) -> Option<payment::Model> {
    let fit: Vec<_> = all
        .iter()
        .filter(|p| kinds.iter().any(|k| p.kind == k.as_str()))
        .filter(|p| statuses.iter().any(|st| p.status == st.as_str()))
        .collect();
    (!fit.is_empty()).then(|| fit[(rng.next() % fit.len() as u64) as usize].clone())
}

/// Applies `s` to the financing `f`; answers what was applied (for `Again`).
async fn apply(
    app: &TestApp,
    f: &financing::Model,
    s: Step,
    rng: &mut Rng,
    last: Option<Step>,
) -> Option<Step> {
    let db = &app.state.db;
    let clock = app.state.clock.as_ref();
    let current = financings::find(db, f.id).await.unwrap();
    let all = payments_of(db, f).await;
    let txn = service_kit::db::begin_write(db).await.unwrap();
    let applied = match s {
        Step::Again => {
            txn.rollback().await.unwrap();
            return match last {
                Some(l) => Box::pin(apply(app, f, l, rng, None)).await,
                None => None,
            };
        }
        Step::FundingPaid | Step::FundingDeclined => {
            // A pending checkout, or one that expired with the window (a late payment),
            // or a new checkout while the financing awaits funding.
            let p = match pick(
                &all,
                rng,
                &[PaymentKind::Funding],
                &[PaymentStatus::Pending, PaymentStatus::Expired],
            ) {
                Some(p) => Some(p),
                None if current.status == "awaiting_funding" => Some(
                    financings::new_payment(
                        &*txn,
                        clock.now(),
                        &current,
                        PaymentKind::Funding,
                        PRICE,
                        "sandbox",
                        NewPayment::default(),
                    )
                    .await
                    .unwrap(),
                ),
                None => None,
            };
            if let Some(p) = p {
                let p = financings::lock_payment(&*txn, p.id).await.unwrap();
                let outcome = match s {
                    Step::FundingPaid => ChargeOutcome::Succeeded { amount: PRICE },
                    _ => ChargeOutcome::Failed {
                        reason: "declined".into(),
                    },
                };
                outcomes::funding(&*txn, clock, "sandbox", &p, &outcome)
                    .await
                    .unwrap();
            }
            Some(s)
        }
        Step::FundingReversed => {
            if let Some(p) = pick(
                &all,
                rng,
                &[PaymentKind::Funding],
                &[PaymentStatus::Succeeded],
            ) {
                let p = financings::lock_payment(&*txn, p.id).await.unwrap();
                outcomes::funding(&*txn, clock, "sandbox", &p, &ChargeOutcome::Reversed)
                    .await
                    .unwrap();
            }
            Some(s)
        }
        Step::Expire => {
            txn.rollback().await.unwrap();
            if current.status == "awaiting_funding" {
                app.advance(chrono::Duration::hours(49));
                payments::jobs::sweep::run_once(&app.state).await.unwrap();
            }
            return Some(s);
        }
        Step::Repay => {
            if current.status == "funded" {
                let amount = 1 + rng.below(FACE as u64 * 7 / 10) as i64;
                let p = financings::new_payment(
                    &*txn,
                    clock.now(),
                    &current,
                    PaymentKind::Repayment,
                    current.outstanding_minor().max(1),
                    "sandbox",
                    NewPayment::default(),
                )
                .await
                .unwrap();
                outcomes::repayment(
                    &*txn,
                    clock,
                    "sandbox",
                    &p,
                    &ChargeOutcome::Succeeded { amount },
                )
                .await
                .unwrap();
            }
            Some(s)
        }
        Step::Transfer(outcome) => {
            let kinds = [
                PaymentKind::Payout,
                PaymentKind::Distribution,
                PaymentKind::Refund,
            ];
            if let Some(p) = pick(
                &all,
                rng,
                &kinds,
                &[PaymentStatus::Pending, PaymentStatus::Succeeded],
            ) {
                let p = financings::lock_payment(&*txn, p.id).await.unwrap();
                outcomes::transfer(&*txn, clock, &p, outcome).await.unwrap();
            }
            Some(s)
        }
    };
    txn.commit().await.unwrap();
    applied
}

/// Every invariant, for the financing `f` and the whole ledger.
async fn check(app: &TestApp, f: &financing::Model, seed: u64, i: usize, s: Step) {
    let db = &app.state.db;
    let at = format!("seed {seed}, step {i} ({s:?})");
    let broken = ledger::check(db).await.unwrap();
    assert!(broken.is_empty(), "{at}: {broken:?}");
    let f = financings::find(db, f.id).await.unwrap();
    assert!(
        0 <= f.distributed_minor
            && f.distributed_minor <= f.repaid_minor
            && f.repaid_minor <= f.face_minor,
        "{at}: {f:?}"
    );
    let c = f.currency().unwrap();
    let escrow = ledger::balance(db, &Account::Escrow(f.invoice()).code(), c)
        .await
        .unwrap();
    assert_eq!(escrow, 0, "{at}: money left in escrow");
    if f.status == "settled" {
        // All of it passed on, or owed again on a distribution sent again after one
        // came back.
        let again: i64 = payments_of(db, &f)
            .await
            .iter()
            .filter(|p| p.kind == "distribution" && p.status == "pending")
            .map(|p| p.amount_minor)
            .sum();
        assert_eq!(f.distributed_minor + again, FACE, "{at}");
    }
    // What the ledger holds at the provider for this financing is what its payments say
    // came in (succeeded charges) and went out (succeeded transfers); a reversed charge
    // came in and went back, a returned transfer went out and came back.
    let mut expected = 0i64;
    for p in payments_of(db, &f).await {
        let incoming = p.kind == "funding" || p.kind == "repayment";
        let counts = p.status == "succeeded";
        if counts {
            expected += if incoming {
                p.settled_minor
            } else {
                -p.settled_minor
            };
        }
    }
    let entries = clearing_of(db, &f).await;
    assert_eq!(
        entries, expected,
        "{at}: the provider's money disagrees with the payments"
    );
    let _ = FEE;
}

/// The clearing account's movements posted for `f`'s payments.
async fn clearing_of(db: &DatabaseConnection, f: &financing::Model) -> i64 {
    use payments::store::entity::{ledger_account, ledger_entry, ledger_posting};
    use sea_orm::{ColumnTrait, QueryFilter};
    let ids: Vec<uuid::Uuid> = payments_of(db, f).await.iter().map(|p| p.id).collect();
    let Some(clearing) = ledger_account::Entity::find()
        .filter(ledger_account::Column::Code.eq(Account::ProviderClearing.code()))
        .one(db)
        .await
        .unwrap()
    else {
        return 0;
    };
    let postings: Vec<uuid::Uuid> = ledger_posting::Entity::find()
        .filter(ledger_posting::Column::PaymentId.is_in(ids))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    ledger_entry::Entity::find()
        .filter(ledger_entry::Column::AccountId.eq(clearing.id))
        .filter(ledger_entry::Column::PostingId.is_in(postings))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            if e.side == "debit" {
                e.amount_minor
            } else {
                -e.amount_minor
            }
        })
        .sum()
}

async fn random_flows_keep_every_invariant(kind: DbKind, seeds: u64, steps: usize) {
    let app = spawn_app_with(kind, |c| c.worker_in_process = false).await;
    let only: Option<u64> = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let seeds: Vec<u64> = match only {
        Some(s) => vec![s],
        None => (1..=seeds).collect(),
    };
    let all_seeds = only.is_none();
    let mut reached = std::collections::BTreeSet::new();
    for seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let (seller, investor) = (app.seller(), app.investor());
        let o: OfferChanged = accepted(&seller, &investor);
        let txn = service_kit::db::begin_write(&app.state.db).await.unwrap();
        let opened = financings::open(
            &*txn,
            app.state.clock.as_ref(),
            chrono::Duration::hours(48),
            "sandbox",
            &o,
        )
        .await
        .unwrap()
        .unwrap();
        txn.commit().await.unwrap();
        let f = opened.financing;
        let mut last = None;
        for i in 0..steps {
            let s = step(&mut rng);
            let applied = apply(&app, &f, s, &mut rng, last).await;
            if !matches!(s, Step::Again) {
                last = applied;
            }
            check(&app, &f, seed, i, s).await;
        }
        let end = financings::find(&app.state.db, f.id).await.unwrap();
        reached.insert(end.status.clone());
        for p in payments_of(&app.state.db, &end).await {
            reached.insert(format!("{} {}", p.kind, p.status));
        }
    }
    // The flows went where they should be tested.
    if all_seeds {
        for must in [
            "settled",
            "expired",
            "funded",
            "payout succeeded",
            "payout reversed",
            "refund succeeded",
            "funding reversed",
            "distribution succeeded",
        ] {
            assert!(
                reached.contains(must),
                "no flow reached {must}: {reached:?}"
            );
        }
    }
}

#[tokio::test]
async fn random_flows_keep_every_invariant_sqlite() {
    random_flows_keep_every_invariant(DbKind::Sqlite, 30, 30).await;
}

#[tokio::test]
async fn random_flows_keep_every_invariant_postgres() {
    random_flows_keep_every_invariant(DbKind::Postgres, 30, 30).await;
}
