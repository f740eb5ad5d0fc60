//! The admin section: what the demo did, as the operators see it. The dashboard read
//! before the first step and after the last, and the differences checked against what
//! the demo itself did; every step found in the audit log by its resource's id, in
//! order; the chain verified.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{Demo, Poll, Session};

/// What the demo did that the dashboard counts, and the resources whose audit trails
/// it shows.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) sellers: AtomicI64,
    pub(crate) investors: AtomicI64,
    pub(crate) kyc_approved: AtomicI64,
    pub(crate) kyc_rejected: AtomicI64,
    pub(crate) offers: AtomicI64,
    pub(crate) funded_minor: AtomicI64,
    pub(crate) fee_minor: AtomicI64,
    pub(crate) repaid_minor: AtomicI64,
    /// (what, id, the actions expected in this order).
    pub(crate) trail: Mutex<Vec<(String, String, Vec<&'static str>)>>,
}

impl Tally {
    pub(crate) fn add(counter: &AtomicI64, n: i64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn follow(&self, what: impl Into<String>, id: &str, actions: Vec<&'static str>) {
        if let Ok(mut trail) = self.trail.lock() {
            trail.push((what.into(), id.to_owned(), actions));
        }
    }
}

fn get(tally: &AtomicI64) -> i64 {
    tally.load(Ordering::Relaxed)
}

/// `after - before` of the number at `path` (a missing number is 0).
fn delta(before: &Value, after: &Value, path: &[&str]) -> i64 {
    let at = |v: &Value| path.iter().fold(v, |v, k| &v[*k]).as_i64().unwrap_or(0);
    at(after) - at(before)
}

/// The money figure `field` of `currency`.
fn money(d: &Value, currency: &str, field: &str) -> i64 {
    d["money"]
        .as_array()
        .and_then(|m| m.iter().find(|r| r["currency"] == currency))
        .and_then(|r| r[field].as_i64())
        .unwrap_or(0)
}

impl Demo {
    /// The dashboard as `admin` sees it now.
    pub(crate) async fn dashboard(&self, admin: &Session) -> anyhow::Result<Value> {
        self.as_user(
            Method::GET,
            "/api/admin/dashboard",
            admin,
            None,
            StatusCode::OK,
            "the admin dashboard",
        )
        .await
    }

    /// The audit rows about `id`, oldest first.
    async fn trail(&self, admin: &Session, id: &str) -> anyhow::Result<Vec<Value>> {
        let page = self
            .as_user(
                Method::GET,
                &format!("/api/admin/audit?resource_id={id}&limit=200"),
                admin,
                None,
                StatusCode::OK,
                "an audit search",
            )
            .await?;
        let mut items = page["items"].as_array().cloned().unwrap_or_default();
        items.reverse();
        Ok(items)
    }

    /// The admin section (after every other): see the module documentation.
    pub async fn admin_section(&mut self, before: &Value) -> anyhow::Result<()> {
        self.section("== Admin (admin) ==");
        let admin = self
            .admin()
            .await?
            .context("the admin steps need an admin (with_admin)")?;
        let trail: Vec<(String, String, Vec<&'static str>)> = self
            .tally
            .trail
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();

        // Every step's event, consumed by admin: wait for the last of each trail.
        let mut poll = Poll::new("every step in the audit log", Duration::from_millis(100));
        loop {
            let mut missing = None;
            for (what, id, expected) in &trail {
                let actions: Vec<String> = self
                    .trail(&admin, id)
                    .await?
                    .iter()
                    .map(|r| r["action"].as_str().unwrap_or("").to_owned())
                    .collect();
                if !in_order(&actions, expected) {
                    missing = Some(format!(
                        "{what} {id}: {actions:?}, expected {expected:?} in order"
                    ));
                    break;
                }
            }
            match missing {
                None => break,
                Some(m) if poll.elapsed() > Duration::from_secs(25) => {
                    anyhow::bail!("the audit log lacks a step: {m}")
                }
                Some(_) => poll.next().await?,
            }
        }
        self.step(&format!(
            "1. Every step of the demo is in the audit log ({:.1} s after the last), found by its resource's id, in order:",
            poll.elapsed().as_secs_f64()
        ));
        for (what, id, _) in &trail {
            let rows = self.trail(&admin, id).await?;
            let actions: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}{})",
                        r["action"].as_str().unwrap_or("?"),
                        r["actor_role"].as_str().unwrap_or("?"),
                        r["payload"]["to"]
                            .as_str()
                            .map(|to| format!(" -> {to}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            self.step(&format!("   {what} {id}: {}", actions.join(", ")));
        }

        let after = self.dashboard(&admin).await?;
        let currency = "NGN";
        let checks = [
            (
                "sellers registered",
                delta(before, &after, &["users_by_role", "seller"]),
                get(&self.tally.sellers),
            ),
            (
                "investors registered",
                delta(before, &after, &["users_by_role", "investor"]),
                get(&self.tally.investors),
            ),
            (
                "users KYC-approved",
                delta(before, &after, &["users_by_kyc", "approved"]),
                get(&self.tally.kyc_approved),
            ),
            (
                "offers placed today",
                delta(before, &after, &["offers_today"]),
                get(&self.tally.offers),
            ),
            (
                "funded (minor units)",
                money(&after, currency, "funded_minor") - money(before, currency, "funded_minor"),
                get(&self.tally.funded_minor),
            ),
            (
                "repaid (minor units)",
                money(&after, currency, "repaid_minor") - money(before, currency, "repaid_minor"),
                get(&self.tally.repaid_minor),
            ),
            (
                "fee revenue (minor units)",
                money(&after, currency, "fee_revenue_minor")
                    - money(before, currency, "fee_revenue_minor"),
                get(&self.tally.fee_minor),
            ),
        ];
        let moved: Vec<String> = checks
            .iter()
            .map(|(what, got, _)| format!("{what} {got:+}"))
            .collect();
        for (what, got, did) in &checks {
            ensure!(
                got == did,
                "the dashboard's {what} moved by {got}, the demo did {did}"
            );
        }
        let mut invoices: Vec<String> = Vec::new();
        if let Some(statuses) = after["invoices_by_status"].as_object() {
            for status in statuses.keys() {
                let d = delta(before, &after, &["invoices_by_status", status]);
                if d != 0 {
                    invoices.push(format!("{status} {d:+}"));
                }
            }
        }
        self.step(&format!(
            "2. The dashboard (generated {}) moved by exactly what the demo did: {}; invoices by state {}.",
            after["generated_at"].as_str().unwrap_or("?"),
            moved.join(", "),
            invoices.join(", ")
        ));

        let verified = self
            .as_user(
                Method::GET,
                "/api/admin/audit/verify",
                &admin,
                None,
                StatusCode::OK,
                "the audit chain's verification",
            )
            .await?;
        ensure!(verified["ok"] == true, "the audit chain: {verified}");
        self.step(&format!(
            "3. The audit chain verifies: {} rows, each linked to the one before with the key the database does not hold; head {}.",
            verified["rows"],
            &verified["head"]["hash"].as_str().unwrap_or("?")[..16.min(
                verified["head"]["hash"].as_str().unwrap_or("?").len()
            )]
        ));
        let reviews = self
            .as_user(
                Method::GET,
                "/api/admin/reviews",
                &admin,
                None,
                StatusCode::OK,
                "the review queue",
            )
            .await?;
        let items = reviews["items"].as_array().cloned().unwrap_or_default();
        let first: Vec<String> = items
            .iter()
            .take(3)
            .map(|r| {
                format!(
                    "{} ({}; decide with {} {})",
                    r["summary"].as_str().unwrap_or("?"),
                    r["kind"].as_str().unwrap_or("?"),
                    r["actions"][1]["method"].as_str().unwrap_or("?"),
                    r["actions"][1]["path"].as_str().unwrap_or("?")
                )
            })
            .collect();
        self.step(&format!(
            "4. The review queue holds {} item(s), oldest first: {}.",
            items.len(),
            if first.is_empty() {
                "nothing waits".to_owned()
            } else {
                first.join("; ")
            }
        ));
        Ok(())
    }
}

/// Whether `expected` appears in `actions` in this order (other actions between).
fn in_order(actions: &[String], expected: &[&str]) -> bool {
    let mut rest = actions.iter();
    expected.iter().all(|want| rest.by_ref().any(|a| a == want))
}

#[cfg(test)]
mod tests {
    use super::in_order;

    #[test]
    fn steps_are_found_in_order_with_others_between() {
        let got: Vec<String> = ["a", "x", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert!(in_order(&got, &["a", "b", "c"]));
        assert!(in_order(&got, &["a", "c"]));
        assert!(!in_order(&got, &["b", "a"]));
        assert!(!in_order(&got, &["a", "d"]));
    }
}
