//! Payments through the gateway, with the sandbox provider: the accepted offer becomes
//! the investor's funding obligation; the investor pays at the sandbox's checkout page
//! (through the gateway at `/sandbox/`); the signed webhook funds the invoice; the seller
//! sets a payout account and is paid; the debtor repays in two parts through links the
//! seller asks for; the investor is settled and the invoice reaches settled; the ledger
//! balances.

use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Demo, Poll, Session};

impl Demo {
    /// Funding, payout, repayment in two parts and settlement of the invoice the
    /// marketplace section accepted.
    pub async fn payments(&mut self) -> anyhow::Result<()> {
        self.section("== Payments (payments, with the sandbox provider) ==");
        let (seller, investor, admin) = self.parties("payments").await?;
        let page = self
            .as_user(
                Method::GET,
                "/api/invoices?status=accepted",
                &seller,
                None,
                StatusCode::OK,
                "the seller's accepted invoices",
            )
            .await?;
        let invoice = page["items"][0]["id"]
            .as_str()
            .context("the seller has no accepted invoice (the marketplace section runs first)")?
            .to_owned();

        let mut poll = Poll::new(
            format!("the financing of invoice {invoice}"),
            Duration::from_millis(50),
        );
        let financing = loop {
            let list = self
                .as_user(
                    Method::GET,
                    "/api/payments/fundings",
                    &investor,
                    None,
                    StatusCode::OK,
                    "the investor's fundings",
                )
                .await?;
            let found = list["items"]
                .as_array()
                .and_then(|items| items.iter().find(|f| f["invoice_id"] == invoice.as_str()))
                .cloned();
            if let Some(f) = found {
                break f;
            }
            poll.next().await?;
        };
        let id = financing["id"]
            .as_str()
            .context("no financing id")?
            .to_owned();
        self.step(&format!(
            "1. offer.accepted opened the investor's funding obligation ({:.1} s): pay {} {} by {}; the seller will get {} (fee {}).",
            poll.elapsed().as_secs_f64(),
            financing["currency"].as_str().unwrap_or(""),
            minor(&financing["price_minor"]),
            financing["funding_due_at"].as_str().unwrap_or(""),
            minor(&financing["net_minor"]),
            minor(&financing["fee_minor"]),
        ));

        let checkout = self
            .as_user(
                Method::POST,
                &format!("/api/payments/fundings/{id}/checkout"),
                &investor,
                None,
                StatusCode::OK,
                "the investor's checkout",
            )
            .await?;
        let url = checkout["authorization_url"]
            .as_str()
            .context("no authorization_url")?
            .to_owned();
        let html = self.client.get(&url).send().await?.text().await?;
        ensure!(
            html.contains("Pay") && html.contains("Decline"),
            "the checkout page has no Pay / Decline: {html}"
        );
        self.step(&format!(
            "2. The investor checked out: the sandbox's page at {url} offers Pay and Decline."
        ));
        self.pay(&url, None).await?;
        let funded = self
            .financing_until(&id, &investor, |f| f["status"] == "funded")
            .await?;
        self.invoice_until(&invoice, &seller, "funded").await?;
        use crate::admin::Tally;
        Tally::add(
            &self.tally.funded_minor,
            financing["price_minor"].as_i64().unwrap_or(0),
        );
        Tally::add(
            &self.tally.fee_minor,
            financing["fee_minor"].as_i64().unwrap_or(0),
        );
        self.tally.follow(
            "invoice",
            &invoice,
            vec![
                "invoice.submitted",
                "invoice.listed",
                "invoice.acceptance_confirmed",
                "settlement.completed",
            ],
        );
        if let Some(offer) = financing["offer_id"].as_str() {
            self.tally.follow(
                "offer",
                offer,
                vec!["offer.placed", "offer.reserved", "offer.accepted"],
            );
        }
        if let Some(p) = payment(&funded, "funding").and_then(|p| p["id"].as_str()) {
            self.tally.follow(
                "funding payment",
                p,
                vec!["payment.status_changed", "payment.status_changed"],
            );
        }
        self.step(&format!(
            "3. Paid at the sandbox: its signed webhook (verified, confirmed by a verify call) funded it; financing {}, invoice funded.",
            text(&funded["status"])
        ));

        self.payout_account(&seller).await?;
        let paid_out = self
            .financing_until(&id, &seller, |f| {
                payment(f, "payout").is_some_and(|p| p["status"] == "succeeded")
            })
            .await?;
        let payout = payment(&paid_out, "payout").context("no payout")?;
        self.step(&format!(
            "4. The seller set a payout account (resolved by the provider); the payout of {} went out once, reference {}.",
            minor(&payout["amount_minor"]),
            text(&payout["reference"])
        ));

        self.payout_account(&investor).await?;
        let face = financing["face_minor"].as_i64().context("no face_minor")?;
        let part = face * 2 / 3;
        let link = self.repayment_link(&invoice, &seller).await?;
        ensure!(link["amount_minor"] == face, "the first link: {link}");
        self.pay(
            link["authorization_url"].as_str().context("no link")?,
            Some(part),
        )
        .await?;
        self.financing_until(&id, &investor, |f| f["distributed_minor"] == part)
            .await?;
        self.step(&format!(
            "5. The debtor paid {} of {} through the seller's link; the investor received it.",
            minor(&json!(part)),
            minor(&json!(face))
        ));
        let link = self.repayment_link(&invoice, &seller).await?;
        ensure!(
            link["amount_minor"] == face - part,
            "the second link: {link}"
        );
        self.pay(link["authorization_url"].as_str().context("no link")?, None)
            .await?;
        let settled = self
            .financing_until(&id, &investor, |f| f["status"] == "settled")
            .await?;
        self.invoice_until(&invoice, &seller, "settled").await?;
        crate::admin::Tally::add(&self.tally.repaid_minor, face);
        self.step(&format!(
            "6. The debtor paid the remaining {}: repaid, the investor settled with {} in all; invoice settled.",
            minor(&json!(face - part)),
            minor(&settled["distributed_minor"])
        ));

        let tb = self
            .as_user(
                Method::GET,
                "/api/payments/ledger/trial-balance",
                &admin,
                None,
                StatusCode::OK,
                "the trial balance",
            )
            .await?;
        ensure!(tb["broken"] == json!([]), "the ledger: {tb}");
        let row = &tb["currencies"][0];
        self.step(&format!(
            "7. The ledger balances: debits {} = credits {}; owed to anyone {}; the platform's fee {}.",
            minor(&row["debits_minor"]),
            minor(&row["credits_minor"]),
            minor(&row["liabilities_minor"]),
            minor(&row["revenue_minor"])
        ));
        Ok(())
    }

    /// Presses Pay on the sandbox's checkout page at `url` (for `amount` minor units, or
    /// what is asked).
    async fn pay(&self, url: &str, amount: Option<i64>) -> anyhow::Result<()> {
        let body = match amount {
            Some(a) => json!({ "amount": a }),
            None => json!({}),
        };
        let res = self
            .client
            .post(format!("{url}/pay"))
            .json(&body)
            .send()
            .await?;
        ensure!(res.status().is_success(), "pay at {url}: {}", res.status());
        Ok(())
    }

    async fn payout_account(&self, who: &Session) -> anyhow::Result<()> {
        self.as_user(
            Method::PUT,
            "/api/payments/payout-account",
            who,
            Some(&json!({"bank_code": "058", "account_number": "0123456784"})),
            StatusCode::OK,
            "a payout account",
        )
        .await?;
        Ok(())
    }

    async fn repayment_link(&self, invoice: &str, seller: &Session) -> anyhow::Result<Value> {
        self.as_user(
            Method::POST,
            &format!("/api/payments/invoices/{invoice}/repayment"),
            seller,
            None,
            StatusCode::OK,
            "a repayment link",
        )
        .await
    }

    /// Polls the financing `id` until `done` holds.
    async fn financing_until(
        &self,
        id: &str,
        who: &Session,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let mut poll = Poll::new(format!("financing {id}"), Duration::from_millis(50));
        loop {
            let f = self
                .as_user(
                    Method::GET,
                    &format!("/api/payments/fundings/{id}"),
                    who,
                    None,
                    StatusCode::OK,
                    "the financing",
                )
                .await?;
            if done(&f) {
                return Ok(f);
            }
            poll.next().await?;
        }
    }

    async fn invoice_until(&self, id: &str, who: &Session, status: &str) -> anyhow::Result<()> {
        let mut poll = Poll::new(
            format!("invoice {id} to be {status}"),
            Duration::from_millis(50),
        );
        loop {
            let i = self
                .as_user(
                    Method::GET,
                    &format!("/api/invoices/{id}"),
                    who,
                    None,
                    StatusCode::OK,
                    "the invoice",
                )
                .await?;
            if i["status"] == status {
                return Ok(());
            }
            poll.next().await?;
        }
    }
}

/// The latest payment of `kind` in a financing's detail.
fn payment<'a>(f: &'a Value, kind: &str) -> Option<&'a Value> {
    f["payments"]
        .as_array()?
        .iter()
        .rev()
        .find(|p| p["kind"] == kind)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Minor units as a decimal amount with two places.
fn minor(v: &Value) -> String {
    let m = v.as_i64().unwrap_or_default();
    format!("{}.{:02}", m / 100, (m % 100).abs())
}
