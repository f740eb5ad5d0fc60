//! Invoices through the gateway: the KYC-approved seller drafts, submits, is refused what
//! the state machine forbids; the admin verifies one (listed: investors find it) and
//! rejects another (the seller corrects it and submits again); a third is cancelled; the
//! history names who made each change.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Demo, Session};

const REJECTION: &str = "The debtor's tax id does not match its registration.";

impl Demo {
    /// The invoice lifecycle, after [`Demo::kyc`] approved the seller and the investor
    /// (it needs an admin).
    pub async fn invoice(&mut self) -> anyhow::Result<()> {
        self.section("== Invoices (invoice) ==");
        let (seller, investor, admin) = self.parties("invoice").await?;
        // A word only this run's invoices carry, to find them among earlier runs'.
        let reference = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

        let draft = invoice_body(
            "INV-001",
            "1500000.00",
            &format!("Cement delivered to the Lekki site, order {reference}"),
        );
        let first = self
            .as_user(
                Method::POST,
                "/api/invoices",
                &seller,
                Some(&draft),
                StatusCode::CREATED,
                "create a draft",
            )
            .await?;
        expect_status(&first, "draft")?;
        let id = first["id"].as_str().context("no invoice id")?.to_owned();
        self.step(&format!(
            "1. The seller drafted invoice {} (id {id}): {} {} owed by {}, due {}; status {}.",
            first["invoice_number"].as_str().unwrap_or("?"),
            first["currency"].as_str().unwrap_or("?"),
            first["amount"].as_str().unwrap_or("?"),
            first["debtor"]["name"].as_str().unwrap_or("?"),
            first["due_date"].as_str().unwrap_or("?"),
            first["status"].as_str().unwrap_or("?"),
        ));

        let mut bad = invoice_body("INV-BAD", "-5", "Negative, and due before it was issued");
        bad["due_date"] = json!(date(-1));
        let problem = self
            .as_user(
                Method::POST,
                "/api/invoices",
                &seller,
                Some(&bad),
                StatusCode::UNPROCESSABLE_ENTITY,
                "create a bad draft",
            )
            .await?;
        let mut fields: Vec<&str> = problem["errors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        fields.dedup();
        ensure!(
            fields == ["amount", "due_date"],
            "the bad draft's 422 names {fields:?}, not amount and due_date: {problem}"
        );
        self.step(&format!(
            "2. A draft with amount \"-5\" and a due date before its issue date is refused: 422 naming {}.",
            fields.join(", ")
        ));

        self.as_user(
            Method::GET,
            &format!("/api/invoices/{id}"),
            &investor,
            None,
            StatusCode::NOT_FOUND,
            "the investor opens the draft",
        )
        .await?;
        self.as_user(
            Method::POST,
            "/api/invoices",
            &investor,
            Some(&invoice_body("INV-X", "1000.00", "An investor's invoice")),
            StatusCode::FORBIDDEN,
            "the investor creates an invoice",
        )
        .await?;
        self.step("3. The investor cannot see the draft (404) nor create invoices (403).");

        let submitted = self.act(&seller, &id, "submit", None).await?;
        expect_status(&submitted, "submitted")?;
        self.step("4. The seller submitted it: submitted.");

        let listed = self.act(&admin, &id, "verify", None).await?;
        expect_status(&listed, "listed")?;
        self.step("5. The admin verified it: listed.");

        let query = format!("q={reference}&sort=-amount");
        let page = self
            .as_user(
                Method::GET,
                &format!("/api/invoices?{query}"),
                &investor,
                None,
                StatusCode::OK,
                "the investor's search",
            )
            .await?;
        let items = page["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        ensure!(
            items.iter().any(|i| i["id"] == id.as_str()),
            "the investor's search ?{query} does not find {id}: {page}"
        );
        ensure!(
            items.iter().all(|i| i["status"] == "listed"),
            "the investor's search shows invoices that are not listed: {page}"
        );
        let found: Vec<String> = items
            .iter()
            .map(|i| {
                format!(
                    "{} {} {}",
                    i["invoice_number"].as_str().unwrap_or("?"),
                    i["amount"].as_str().unwrap_or("?"),
                    i["status"].as_str().unwrap_or("?")
                )
            })
            .collect();
        self.step(&format!(
            "6. The investor searched ?{query}: {} match(es) ({}), the listed invoice among them.",
            page["total"],
            found.join("; ")
        ));

        let problem = self
            .at_version(
                Method::PATCH,
                &format!("/api/invoices/{id}"),
                &seller,
                &listed["version"],
                Some(&json!({"amount": "2000000.00"})),
                (StatusCode::CONFLICT, "edit a listed invoice"),
            )
            .await?;
        let detail = problem["detail"].as_str().unwrap_or_default();
        ensure!(
            detail.contains("listed"),
            "the 409 does not name the state: {problem}"
        );
        self.step(&format!(
            "7. The seller cannot edit it once listed: 409 \"{detail}\"."
        ));

        let second = self
            .as_user(
                Method::POST,
                "/api/invoices",
                &seller,
                Some(&invoice_body(
                    "INV-002",
                    "800000.00",
                    &format!("Rice for the Ikeja depot, order {reference}"),
                )),
                StatusCode::CREATED,
                "create the second invoice",
            )
            .await?;
        let second_id = second["id"].as_str().context("no invoice id")?.to_owned();
        expect_status(
            &self.act(&seller, &second_id, "submit", None).await?,
            "submitted",
        )?;
        let rejected = self
            .act(&admin, &second_id, "reject", Some(REJECTION))
            .await?;
        expect_status(&rejected, "rejected")?;
        ensure!(
            rejected["rejection_reason"] == REJECTION,
            "the rejection's reason is not kept: {rejected}"
        );
        self.step(&format!(
            "8. A second invoice ({}) was submitted; the admin rejected it: \"{REJECTION}\".",
            second["invoice_number"].as_str().unwrap_or("?")
        ));

        let edited = self
            .at_version(
                Method::PATCH,
                &format!("/api/invoices/{second_id}"),
                &seller,
                &rejected["version"],
                Some(&json!({"debtor": {"name": "Dangote Cement Plc", "tax_id": "01234567-0002"}})),
                (StatusCode::OK, "edit the rejected invoice"),
            )
            .await?;
        ensure!(
            edited["debtor"]["tax_id"] == "01234567-0002",
            "the edit did not change the tax id: {edited}"
        );
        let resubmitted = self.act(&seller, &second_id, "submit", None).await?;
        expect_status(&resubmitted, "submitted")?;
        self.step(&format!(
            "9. The seller corrected the debtor's tax id ({}) and submitted it again: submitted.",
            edited["debtor"]["tax_id"].as_str().unwrap_or("?")
        ));

        let third = self
            .as_user(
                Method::POST,
                "/api/invoices",
                &seller,
                Some(&invoice_body(
                    "INV-003",
                    "250000.00",
                    &format!("Sacks of flour, order {reference}"),
                )),
                StatusCode::CREATED,
                "create the third invoice",
            )
            .await?;
        let third_id = third["id"].as_str().context("no invoice id")?;
        let cancelled = self.act(&seller, third_id, "cancel", None).await?;
        expect_status(&cancelled, "cancelled")?;
        self.step(&format!(
            "10. A third draft ({}) was cancelled: cancelled.",
            third["invoice_number"].as_str().unwrap_or("?")
        ));

        let history = self
            .as_user(
                Method::GET,
                &format!("/api/invoices/{id}/history"),
                &seller,
                None,
                StatusCode::OK,
                "the first invoice's history",
            )
            .await?;
        let changes: Vec<(&str, &str)> = history
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|h| {
                (
                    h["to"].as_str().unwrap_or("?"),
                    h["actor"].as_str().unwrap_or("?"),
                )
            })
            .collect();
        ensure!(
            changes
                == [
                    ("draft", "seller"),
                    ("submitted", "seller"),
                    ("listed", "admin")
                ],
            "the first invoice's history: {history}"
        );
        let steps: Vec<String> = changes
            .iter()
            .map(|(to, actor)| format!("{to} (by the {actor})"))
            .collect();
        self.step(&format!(
            "11. The first invoice's history: {}.",
            steps.join(", then ")
        ));
        Ok(())
    }

    /// `POST /api/invoices/{id}/{action}` (submit, cancel, verify, reject with a reason),
    /// on the invoice as `who` reads it now (`If-Match`: its version).
    pub(crate) async fn act(
        &self,
        who: &Session,
        id: &str,
        action: &str,
        reason: Option<&str>,
    ) -> anyhow::Result<Value> {
        let body = reason.map(|r| json!({ "reason": r }));
        let path = format!("/api/invoices/{id}");
        let seen = self
            .as_user(
                Method::GET,
                &path,
                who,
                None,
                StatusCode::OK,
                "read the invoice",
            )
            .await?;
        self.at_version(
            Method::POST,
            &format!("{path}/{action}"),
            who,
            &seen["version"],
            body.as_ref(),
            (StatusCode::OK, &format!("{action} invoice {id}")),
        )
        .await
    }
}

/// A complete invoice: issued today, due in 60 days (beyond any sensible
/// `INVOICE_MIN_DAYS_AHEAD`).
pub(crate) fn invoice_body(number: &str, amount: &str, description: &str) -> Value {
    json!({
        "invoice_number": number,
        "debtor": {"name": "Dangote Cement Plc", "email": "ap@dangote.example"},
        "amount": amount,
        "currency": "NGN",
        "issue_date": date(0),
        "due_date": date(60),
        "description": description,
    })
}

fn expect_status(invoice: &Value, status: &str) -> anyhow::Result<()> {
    ensure!(
        invoice["status"] == status,
        "expected the invoice to be {status}: {invoice}"
    );
    Ok(())
}

/// Today (UTC, as the service counts) plus `days`, as an ISO date.
fn date(days: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil(i64::try_from(now / 86_400).unwrap_or(0) + days)
}

/// Days since 1970-01-01 as an ISO date (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_the_epoch_are_iso_dates() {
        assert_eq!(civil(0), "1970-01-01");
        assert_eq!(civil(-1), "1969-12-31");
        assert_eq!(civil(11_016), "2000-02-29");
        assert_eq!(civil(19_723), "2024-01-01");
        assert_eq!(civil(19_782), "2024-02-29");
        assert_eq!(civil(20_513), "2026-03-01");
        assert!(date(-1) < date(0) && date(0) < date(60));
    }
}
