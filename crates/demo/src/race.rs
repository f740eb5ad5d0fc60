//! `demo --race-accept N`: the race of issue 14, through the gateway. Round after round,
//! an investor's offer at 18 % is accepted by the seller (naming the version they saw)
//! while the investor revises it six times at once. Whatever wins, the accepted terms
//! must be the version the accept named; otherwise the accept is refused (412) and the
//! offer stays pending at the revised terms. Any other outcome fails the run.

use anyhow::{Context, bail, ensure};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Demo, Poll, Session, invoice::invoice_body};

/// How many revisions race each accept.
const REVISIONS: usize = 6;

/// What the rounds came to.
#[derive(Debug, Default)]
pub struct RaceReport {
    pub rounds: usize,
    /// The accept won: reserved at exactly the figures of the version it named.
    pub accepted_as_seen: usize,
    /// A revision committed first: the accept was refused (412), nothing reserved.
    pub refused_as_stale: usize,
}

impl Demo {
    /// Runs `rounds` races with a new approved seller and investor (the admin approves
    /// their KYC and verifies each invoice).
    pub async fn accept_race(&mut self, rounds: usize) -> anyhow::Result<RaceReport> {
        let admin = self.admin_session().await?;
        let seller = self.approved_seller(&admin).await?.session;
        let investor = self.approved_investor(&admin).await?.session;
        let mut report = RaceReport::default();
        for round in 0..rounds {
            let offer = self.race_offer(&seller, &investor, &admin, round).await?;
            match self.race_round(&seller, &investor, &offer).await? {
                true => report.accepted_as_seen += 1,
                false => report.refused_as_stale += 1,
            }
            report.rounds += 1;
        }
        self.step(&format!(
            "{} rounds of one accept against {REVISIONS} revisions: {} accepted at the version the seller saw, {} refused as stale (412); none accepted other terms.",
            report.rounds, report.accepted_as_seen, report.refused_as_stale
        ));
        Ok(report)
    }

    async fn admin_session(&self) -> anyhow::Result<Session> {
        let (email, password) = self
            .admin
            .clone()
            .context("the race needs ADMIN_EMAIL and ADMIN_PASSWORD (make create-admin)")?;
        self.login(&email, &password).await
    }

    /// A new listed invoice of `seller`'s and `investor`'s pending offer on it at 18 %.
    async fn race_offer(
        &self,
        seller: &Session,
        investor: &Session,
        admin: &Session,
        round: usize,
    ) -> anyhow::Result<Value> {
        let number = format!(
            "RACE-{}-{round:03}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let draft = self
            .as_user(
                Method::POST,
                "/api/invoices",
                seller,
                Some(&invoice_body(&number, "1000000.00", "Race round")),
                StatusCode::CREATED,
                "draft an invoice",
            )
            .await?;
        let id = draft["id"].as_str().context("no invoice id")?.to_owned();
        let submitted = self
            .at_version(
                Method::POST,
                &format!("/api/invoices/{id}/submit"),
                seller,
                &draft["version"],
                None,
                (StatusCode::OK, "submit"),
            )
            .await?;
        self.at_version(
            Method::POST,
            &format!("/api/invoices/{id}/verify"),
            admin,
            &submitted["version"],
            None,
            (StatusCode::OK, "verify"),
        )
        .await?;
        let mut poll = Poll::new(
            format!("invoice {id} in the marketplace"),
            std::time::Duration::from_millis(20),
        );
        loop {
            let res = self
                .client
                .post(self.url("/api/marketplace/offers"))
                .bearer_auth(&investor.access)
                .json(&json!({"invoice_id": id, "discount_rate": "18"}))
                .send()
                .await?;
            match res.status() {
                StatusCode::CREATED => return self.expect(res, StatusCode::CREATED, "offer").await,
                // Not in the marketplace yet (invoice.listed is on its way).
                StatusCode::UNPROCESSABLE_ENTITY => poll.next().await?,
                other => bail!("the offer: {other}: {}", res.text().await?),
            }
        }
    }

    /// One race; true when the accept won (at the figures seen), false when it was
    /// refused as stale.
    async fn race_round(
        &self,
        seller: &Session,
        investor: &Session,
        seen: &Value,
    ) -> anyhow::Result<bool> {
        let id = seen["id"].as_str().context("no offer id")?;
        let version = seen["version"].as_i64().context("no version")?;
        let accept = self
            .client
            .post(self.url(&format!("/api/marketplace/offers/{id}/accept")))
            .bearer_auth(&seller.access)
            .header("if-match", format!("\"{version}\""))
            .send();
        let revisions = (0..REVISIONS).map(|i| {
            self.client
                .patch(self.url(&format!("/api/marketplace/offers/{id}")))
                .bearer_auth(&investor.access)
                .json(&json!({"discount_rate": format!("{}", 10 + i)}))
                .send()
        });
        let (accept, revisions) = futures::join!(accept, join_all(revisions));
        let accept = accept?;
        let mut revised = Vec::new();
        for r in revisions {
            revised.push(r?.status());
        }
        ensure!(
            revised
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
            "a revision answered {revised:?}"
        );
        let status = accept.status();
        let body: Value = accept.json().await.unwrap_or(Value::Null);
        let now = self
            .as_user(
                Method::GET,
                &format!("/api/marketplace/offers/{id}"),
                seller,
                None,
                StatusCode::OK,
                "the offer after the race",
            )
            .await?;
        let figures = ["discount_rate", "price", "platform_fee", "net_proceeds"];
        match status {
            StatusCode::ACCEPTED => {
                for f in figures {
                    ensure!(
                        body[f] == seen[f] && now[f] == seen[f],
                        "accepted {f} {} (now {}), but the seller saw {}",
                        body[f],
                        now[f],
                        seen[f]
                    );
                }
                ensure!(
                    now["status"] == "reserved" || now["status"] == "accepted",
                    "the accepted offer is {}",
                    now["status"]
                );
                ensure!(
                    revised.iter().all(|s| *s == StatusCode::CONFLICT),
                    "a revision of a reserved offer went through: {revised:?}"
                );
                Ok(true)
            }
            StatusCode::PRECONDITION_FAILED => {
                ensure!(
                    now["status"] == "pending" && now["discount_rate"] != seen["discount_rate"],
                    "refused as stale, but the offer is {now}"
                );
                Ok(false)
            }
            other => bail!("the accept answered {other}: {body}"),
        }
    }
}
