//! The marketplace through the gateway: the seller's listed invoice reaches the
//! marketplace (the invoice service's `invoice.listed` event); investors make priced
//! offers, are refused what the rules forbid, revise; the seller sees the offers and
//! accepts one (a saga with the invoice service: polled until both say accepted);
//! trending, stats and the invoice service's popular list answer.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Demo, Poll};

const RATE: &str = "18.5";
const REVISED_RATE: &str = "17.25";
const SECOND_RATE: &str = "19";

impl Demo {
    /// Offers on the invoice [`Demo::invoice`] listed, up to the accepted one (it needs
    /// an admin, for the second investor's KYC).
    pub async fn marketplace(&mut self) -> anyhow::Result<()> {
        self.section("== Marketplace (marketplace) ==");
        let (seller, investor, admin) = self.parties("marketplace").await?;

        // The invoice section listed exactly one of this seller's invoices.
        let page = self
            .as_user(
                Method::GET,
                "/api/invoices?status=listed",
                &seller,
                None,
                StatusCode::OK,
                "the seller's listed invoices",
            )
            .await?;
        let id = page["items"][0]["id"]
            .as_str()
            .context("the seller has no listed invoice")?
            .to_owned();
        let listing_path = format!("/api/marketplace/invoices/{id}");

        let mut poll = Poll::new(
            format!("invoice {id} to reach the marketplace"),
            Duration::from_millis(50),
        );
        let listing = loop {
            let res = self
                .client
                .get(self.url(&listing_path))
                .bearer_auth(&seller.access)
                .send()
                .await?;
            if res.status() == StatusCode::OK {
                break self.expect(res, StatusCode::OK, "the listing").await?;
            }
            ensure!(
                res.status() == StatusCode::NOT_FOUND,
                "the listing: expected 200 or 404 (not there yet), got {}",
                res.status()
            );
            poll.next().await?;
        };
        ensure!(
            listing["status"] == "listed",
            "the listing is not listed: {listing}"
        );
        self.step(&format!(
            "1. Invoice {} reached the marketplace (invoice.listed, {:.1} s): {} {}, due in {} days.",
            text(&listing["invoice_number"]),
            poll.elapsed().as_secs_f64(),
            text(&listing["currency"]),
            text(&listing["face_value"]),
            listing["days_to_due"]
        ));

        let seen = self
            .as_user(
                Method::GET,
                &listing_path,
                &investor,
                None,
                StatusCode::OK,
                "the investor views the listing",
            )
            .await?;
        ensure!(
            seen["invoice_id"] == id.as_str() && seen["offers"]["placed"] == 0,
            "the investor's view: {seen}"
        );
        self.step(&format!(
            "2. The investor viewed it: {}, offers active {}, placed {}.",
            text(&seen["status"]),
            seen["offers"]["active"],
            seen["offers"]["placed"]
        ));

        let offer = self
            .as_user(
                Method::POST,
                "/api/marketplace/offers",
                &investor,
                Some(&json!({"invoice_id": id, "discount_rate": RATE, "expires_in_hours": 48})),
                StatusCode::CREATED,
                "the investor's offer",
            )
            .await?;
        ensure!(
            offer["status"] == "pending" && offer["discount_rate"] == RATE,
            "the offer: {offer}"
        );
        let offer_id = offer["id"].as_str().context("no offer id")?.to_owned();
        self.step(&format!(
            "3. The investor offered {RATE} %: 201, {}.",
            figures(&offer)
        ));

        let problem = self
            .as_user(
                Method::POST,
                "/api/marketplace/offers",
                &investor,
                Some(&json!({"invoice_id": id, "discount_rate": "20"})),
                StatusCode::CONFLICT,
                "a second offer by the same investor",
            )
            .await?;
        self.step(&format!(
            "4. A second offer by the same investor: 409 \"{}\".",
            text(&problem["detail"])
        ));

        for (n, rate) in [(5, "75"), (6, "-1")] {
            let problem = self
                .as_user(
                    Method::POST,
                    "/api/marketplace/offers",
                    &investor,
                    Some(&json!({"invoice_id": id, "discount_rate": rate})),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("an offer at {rate} %"),
                )
                .await?;
            let fields = fields(&problem);
            ensure!(
                fields == ["discount_rate"],
                "the 422 for {rate} % names {fields:?}, not discount_rate: {problem}"
            );
            self.step(&format!(
                "{n}. A rate of \"{rate}\": 422 naming discount_rate."
            ));
        }

        self.as_user(
            Method::POST,
            "/api/marketplace/offers",
            &seller,
            Some(&json!({"invoice_id": id, "discount_rate": RATE})),
            StatusCode::FORBIDDEN,
            "the seller's offer",
        )
        .await?;
        self.step("7. The seller cannot make offers: 403.");

        let revised = self
            .as_user(
                Method::PATCH,
                &format!("/api/marketplace/offers/{offer_id}"),
                &investor,
                Some(&json!({"discount_rate": REVISED_RATE})),
                StatusCode::OK,
                "revise the offer",
            )
            .await?;
        ensure!(
            revised["discount_rate"] == REVISED_RATE && revised["status"] == "pending",
            "the revised offer: {revised}"
        );
        self.step(&format!(
            "8. The investor revised it to {REVISED_RATE} %: 200, price now {}.",
            text(&revised["price"])
        ));

        let started = Instant::now();
        let second = self.approved_investor(&admin).await?.session;
        let took = started.elapsed();
        let other = self
            .as_user(
                Method::POST,
                "/api/marketplace/offers",
                &second,
                Some(&json!({"invoice_id": id, "discount_rate": SECOND_RATE})),
                StatusCode::CREATED,
                "the second investor's offer",
            )
            .await?;
        let other_id = other["id"].as_str().context("no offer id")?.to_owned();
        self.step(&format!(
            "9. A second investor (KYC-approved in {:.1} s) offered {SECOND_RATE} %: 201, price {}.",
            took.as_secs_f64(),
            text(&other["price"])
        ));

        let offers = self
            .as_user(
                Method::GET,
                &format!("/api/marketplace/offers?invoice_id={id}"),
                &seller,
                None,
                StatusCode::OK,
                "the seller's offers",
            )
            .await?;
        let items = offers["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        ensure!(
            offers["total"] == 2
                && [&offer_id, &other_id]
                    .iter()
                    .all(|o| items.iter().any(|i| i["id"] == o.as_str())),
            "the seller's offers are not the two made: {offers}"
        );
        let rates: Vec<String> = items
            .iter()
            .map(|i| format!("{} % ({})", text(&i["discount_rate"]), text(&i["status"])))
            .collect();
        self.step(&format!(
            "10. The seller sees 2 offers on it: {}.",
            rates.join(", ")
        ));

        let trending = self
            .as_user(
                Method::GET,
                "/api/marketplace/trending?limit=50",
                &investor,
                None,
                StatusCode::OK,
                "trending",
            )
            .await?;
        let items = trending["items"].as_array().cloned().unwrap_or_default();
        match items.iter().position(|i| i["invoice_id"] == id.as_str()) {
            Some(place) => {
                let hot = &items[place];
                ensure!(
                    hot["listing"]["offers"]["best_rate"] == REVISED_RATE,
                    "trending's best rate is not {REVISED_RATE}: {hot}"
                );
                self.step(&format!(
                    "11. Trending lists it: {} view(s), place {} of {}, best rate {REVISED_RATE} %.",
                    hot["views"],
                    place + 1,
                    items.len()
                ));
            }
            // A stack that has seen traffic this hour (a load test) has busier invoices.
            None if items.len() == 50 => self.step(&format!(
                "11. Trending answers its top 50 of the last hour, all busier than this invoice (the first has {} views).",
                items[0]["views"]
            )),
            None => bail!("trending does not list {id}: {trending}"),
        }

        let stats = self
            .as_user(
                Method::GET,
                "/api/marketplace/stats",
                &investor,
                None,
                StatusCode::OK,
                "stats",
            )
            .await?;
        ensure!(
            stats["listed_count"].is_i64() && stats["offers_today"].is_i64(),
            "the stats: {stats}"
        );
        self.step(&format!(
            "12. Stats: {} listed, {} offer(s) today, average rate {} (cached 300 s).",
            stats["listed_count"], stats["offers_today"], stats["average_discount_rate"]
        ));

        let stale = self
            .at_version(
                Method::POST,
                &format!("/api/marketplace/offers/{offer_id}/accept"),
                &seller,
                &offer["version"],
                None,
                (
                    StatusCode::PRECONDITION_FAILED,
                    "accept the offer as first made (revised since)",
                ),
            )
            .await?;
        ensure!(
            stale["current"]["version"] == revised["version"]
                && stale["current"]["status"] == "pending",
            "the stale accept's problem: {stale}"
        );
        self.step(&format!(
            "13. The seller accepting the offer as first made (version {}, before the revision): 412, nothing accepted; the offer now is version {} at {} %.",
            offer["version"], stale["current"]["version"], text(&stale["current"]["discount_rate"])
        ));
        let reserved = self
            .at_version(
                Method::POST,
                &format!("/api/marketplace/offers/{offer_id}/accept"),
                &seller,
                &revised["version"],
                None,
                (StatusCode::ACCEPTED, "accept the offer"),
            )
            .await?;
        ensure!(
            reserved["status"] == "reserved" && reserved["price"] == revised["price"],
            "the accepted offer: {reserved}"
        );
        self.step(&format!(
            "14. At the version seen now (If-Match: \"{}\") the seller accepted it: 202, reserved at price {}.",
            revised["version"],
            text(&reserved["price"])
        ));

        let mut poll = Poll::new(
            format!("offer {offer_id} and invoice {id} to be accepted"),
            Duration::from_millis(50),
        );
        loop {
            let o = self
                .as_user(
                    Method::GET,
                    &format!("/api/marketplace/offers/{offer_id}"),
                    &investor,
                    None,
                    StatusCode::OK,
                    "the accepted offer",
                )
                .await?;
            ensure!(
                o["status"] == "reserved" || o["status"] == "accepted",
                "the offer left reserved for {}: {o}",
                o["status"]
            );
            if o["status"] == "accepted" {
                break;
            }
            poll.next().await?;
        }
        let invoice = self
            .as_user(
                Method::GET,
                &format!("/api/invoices/{id}"),
                &seller,
                None,
                StatusCode::OK,
                "the seller's invoice",
            )
            .await?;
        ensure!(
            invoice["status"] == "accepted",
            "the offer is accepted but the invoice is {}",
            invoice["status"]
        );
        let other = self
            .as_user(
                Method::GET,
                &format!("/api/marketplace/offers/{other_id}"),
                &second,
                None,
                StatusCode::OK,
                "the second investor's offer",
            )
            .await?;
        ensure!(
            other["status"] == "rejected",
            "the other offer is {} once one was accepted",
            other["status"]
        );
        self.step(&format!(
            "15. After {:.1} s the offer is accepted, the invoice accepted, the other offer rejected.",
            poll.elapsed().as_secs_f64()
        ));

        let problem = self
            .at_version(
                Method::POST,
                &format!("/api/marketplace/offers/{other_id}/accept"),
                &seller,
                &other["version"],
                None,
                (StatusCode::CONFLICT, "accept a second offer"),
            )
            .await?;
        self.step(&format!(
            "16. Accepting the other offer: 409 \"{}\".",
            text(&problem["detail"])
        ));

        let popular = self
            .as_user(
                Method::GET,
                "/api/invoices/popular",
                &investor,
                None,
                StatusCode::OK,
                "popular invoices",
            )
            .await?;
        let count = popular["items"]
            .as_array()
            .with_context(|| format!("popular has no items: {popular}"))?
            .len();
        self.step(&format!(
            "17. /api/invoices/popular answers the investor: {count} listed invoice(s)."
        ));
        Ok(())
    }
}

/// A string field, or "?".
fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

/// An offer's figures in short.
fn figures(offer: &Value) -> String {
    format!(
        "price {}, fee {}, net {}, return {}, yield {} % over {} days",
        text(&offer["price"]),
        text(&offer["platform_fee"]),
        text(&offer["net_proceeds"]),
        text(&offer["investor_return"]),
        text(&offer["annualised_yield"]),
        offer["days_to_maturity"]
    )
}

/// The fields a 422 problem names, once each.
fn fields(problem: &Value) -> Vec<&str> {
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.dedup();
    fields
}
