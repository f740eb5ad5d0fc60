//! The admin console in a real browser: Debian's Chromium (headless) through chromedriver,
//! against the whole stack behind real nginx (tests/support). An admin signs in, sees the
//! dashboard, approves a KYC submission from the queue and sees it leave and the user's
//! status change, sees the queue follow another admin's decision live, rejects an invoice
//! with a reason, finds both decisions in the audit search, is signed out by a reload and
//! by inactivity, and turns on a second factor that the next sign-in asks for; a non-admin
//! is refused. Screenshots go to
//! `$CONSOLE_SCREENSHOTS` (default: a `console-screenshots` folder in the temp dir).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use support::Stack;
use testkit::webdriver::Browser;

fn screenshots() -> PathBuf {
    std::env::var_os("CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("console-screenshots"))
}

/// Signs in through the form; `code` for an account with a second factor.
async fn sign_in(b: &Browser, email: &str, password: &str) {
    b.fill("#signin-email", email).await.unwrap();
    b.fill("#signin-password", password).await.unwrap();
    b.click("#signin-submit").await.unwrap();
}

/// Opens the review of `id` from the queue.
async fn open_review(b: &Browser, id: &str) {
    b.click("nav button[data-view=reviews]").await.unwrap();
    b.click(&format!("#reviews-table tr[data-id=\"{id}\"] button.open"))
        .await
        .unwrap();
}

/// Whether the queue shows a row for `id` now.
async fn in_queue(b: &Browser, id: &str) -> bool {
    !b.find_all(&format!("#reviews-table tr[data-id=\"{id}\"]"))
        .await
        .unwrap()
        .is_empty()
}

/// Confirms the dialog the console asks with, after checking what it asks.
async fn confirm(b: &Browser, question: &str) {
    b.wait_text("#confirm-text", question).await.unwrap();
    b.click("#confirm-ok").await.unwrap();
}

#[tokio::test]
async fn an_admin_reviews_decides_and_audits_in_the_console() {
    let stack = Stack::start().await;
    let base = stack.base.clone();
    let shots = screenshots();
    let admin = demo::login(&base, &stack.admin_email, stack.admin_password)
        .await
        .unwrap();
    // What waits for the admin: a seller's KYC, two invoices.
    let (applicant, submission) = demo::seller_in_review(&base).await.unwrap();
    let number = format!("CON-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (_, rejected_invoice) = demo::submitted_invoice(&base, &admin, &number)
        .await
        .unwrap();
    let (_, verified_elsewhere) = demo::submitted_invoice(&base, &admin, &format!("{number}-B"))
        .await
        .unwrap();

    // The page comes with its own strict policy through the gateway.
    let res = stack
        .client
        .get(format!("{base}/admin/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "img-src 'self' blob:",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(
        res.headers()
            .get_all("content-security-policy")
            .iter()
            .count(),
        1
    );

    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/admin/")).await.unwrap();

    // A non-admin is told so and sees nothing.
    sign_in(&b, &applicant.email, "correct horse 42").await;
    b.wait_text("#message", "This console is for admins")
        .await
        .unwrap();
    assert!(!b.is_shown("#nav").await.unwrap());
    assert!(b.is_shown("#view-signin").await.unwrap());
    b.screenshot(&shots.join("console-refused.png"))
        .await
        .unwrap();

    // The admin: the dashboard with its time and charts.
    sign_in(&b, &stack.admin_email, stack.admin_password).await;
    b.find("#view-dashboard").await.unwrap();
    b.wait_until("the dashboard's figures", || async {
        Ok(!b.text("#dash-generated").await?.is_empty()
            && !b.find_all("#chart-signups svg rect").await?.is_empty())
    })
    .await
    .unwrap();
    let cards = b.text("#dash-cards").await.unwrap();
    assert!(cards.contains("KYC waiting"), "{cards}");
    assert!(cards.contains("Invoices"), "{cards}");
    assert!(
        !b.find_all("#chart-invoices svg rect")
            .await
            .unwrap()
            .is_empty()
    );
    b.screenshot(&shots.join("console-dashboard.png"))
        .await
        .unwrap();

    // The KYC submission: opened from the queue, its documents shown through blob: URLs.
    b.click("nav button[data-view=reviews]").await.unwrap();
    b.wait_until("the submission in the queue", || async {
        Ok(in_queue(&b, &submission).await)
    })
    .await
    .unwrap();
    assert!(in_queue(&b, &rejected_invoice).await);
    open_review(&b, &submission).await;
    b.wait_text("#review-title", "KYC submission of")
        .await
        .unwrap();
    b.wait_until("the documents' images", || async {
        let imgs = b.find_all("#review-documents img").await?;
        let mut loaded = 0;
        for img in &imgs {
            let src = b.property(img, "src").await?;
            let width = b.property(img, "naturalWidth").await?;
            if src.as_str().is_some_and(|s| s.starts_with("blob:"))
                && width.as_u64().unwrap_or(0) > 0
            {
                loaded += 1;
            }
        }
        Ok(loaded >= 2)
    })
    .await
    .unwrap();
    b.screenshot(&shots.join("console-review.png"))
        .await
        .unwrap();
    b.click("#review-approve").await.unwrap();
    confirm(&b, "Approve the KYC submission").await;
    b.wait_text("#message", "is now approved").await.unwrap();
    b.wait_until("the submission gone from the queue", || async {
        Ok(!in_queue(&b, &submission).await && in_queue(&b, &rejected_invoice).await)
    })
    .await
    .unwrap();

    // The user's status changed (admin's read model, from kyc's event).
    b.click("nav button[data-view=users]").await.unwrap();
    b.fill("#users-q", &applicant.email).await.unwrap();
    b.wait_until("the applicant approved in the user search", || async {
        b.click("#users-search").await?;
        let row = b
            .find_all(&format!(
                "#users-table tr[data-id=\"{}\"] td.kyc",
                applicant.id
            ))
            .await?;
        Ok(match row.first() {
            Some(cell) => b.text_of(cell).await? == "approved",
            None => false,
        })
    })
    .await
    .unwrap();

    // Suspend and reactivate, each confirmed; the row follows auth's answer.
    let row = format!("#users-table tr[data-id=\"{}\"]", applicant.id);
    b.click(&format!("{row} button.suspend")).await.unwrap();
    confirm(&b, &format!("Suspend {}", applicant.email)).await;
    b.wait_text("#message", "is now suspended").await.unwrap();
    b.wait_text(&format!("{row} td.status"), "suspended")
        .await
        .unwrap();
    let me = stack
        .client
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&applicant.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "a suspended user's token is refused");
    b.click(&format!("{row} button.reactivate")).await.unwrap();
    confirm(&b, &format!("Reactivate {}", applicant.email)).await;
    b.wait_text("#message", "is now active").await.unwrap();
    b.wait_text(&format!("{row} td.status"), "active")
        .await
        .unwrap();

    // Another admin decides elsewhere: the open queue follows, live.
    b.click("nav button[data-view=reviews]").await.unwrap();
    b.wait_text("#live", "live").await.unwrap();
    b.wait_until("the second invoice in the queue", || async {
        Ok(in_queue(&b, &verified_elsewhere).await)
    })
    .await
    .unwrap();
    demo::act_on_invoice(&base, &admin, &verified_elsewhere, "verify", None)
        .await
        .unwrap();
    b.wait_until(
        "the queue without the invoice verified elsewhere",
        || async { Ok(!in_queue(&b, &verified_elsewhere).await) },
    )
    .await
    .unwrap();

    // The invoice: rejected with a reason (a rejection without one is refused first).
    open_review(&b, &rejected_invoice).await;
    b.wait_text("#review-title", &number).await.unwrap();
    b.click("#review-reject").await.unwrap();
    b.wait_text("#message", "Give the reason").await.unwrap();
    let reason = "The debtor's name does not match the purchase order.";
    b.fill("#review-reason", reason).await.unwrap();
    b.click("#review-reject").await.unwrap();
    confirm(&b, &format!("Reject invoice {number}")).await;
    b.wait_text("#message", "is now rejected").await.unwrap();
    b.wait_until("the invoice gone from the queue", || async {
        Ok(!in_queue(&b, &rejected_invoice).await)
    })
    .await
    .unwrap();

    // Both decisions in the audit search; the chain verifies.
    b.click("nav button[data-view=audit]").await.unwrap();
    for (action, resource) in [
        ("kyc.approved", &submission),
        ("invoice.rejected", &rejected_invoice),
    ] {
        b.fill("#audit-action", action).await.unwrap();
        b.fill("#audit-resource-id", resource).await.unwrap();
        b.wait_until(
            &format!("{action} of {resource} in the audit search"),
            || async {
                b.click("#audit-search").await?;
                let rows = b.find_all("#audit-table tbody tr").await?;
                let mut found = false;
                for row in rows {
                    let text = b.text_of(&row).await?;
                    found |= text.contains(action) && text.contains(resource.as_str());
                }
                Ok(found)
            },
        )
        .await
        .unwrap();
    }
    let rows = b.text("#audit-table tbody").await.unwrap();
    assert!(rows.contains("admin"), "the actor is the admin: {rows}");
    b.click("#audit-verify").await.unwrap();
    b.wait_text("#audit-verification", "The chain holds")
        .await
        .unwrap();
    b.screenshot(&shots.join("console-audit.png"))
        .await
        .unwrap();

    // A reload signs out (the tokens lived in the page's memory only).
    b.reload().await.unwrap();
    b.find("#view-signin").await.unwrap();
    assert!(!b.is_shown("#nav").await.unwrap());

    // No activity signs out (15 minutes; the page is told 2 seconds here).
    b.execute(
        "document.documentElement.dataset.idleSeconds = '2';",
        vec![],
    )
    .await
    .unwrap();
    sign_in(&b, &stack.admin_email, stack.admin_password).await;
    b.find("#view-dashboard").await.unwrap();
    b.wait_text("#message", "no activity for 2 seconds")
        .await
        .unwrap();
    assert!(b.is_shown("#view-signin").await.unwrap());
    assert!(!b.is_shown("#nav").await.unwrap());
    b.execute(
        "delete document.documentElement.dataset.idleSeconds;",
        vec![],
    )
    .await
    .unwrap();

    // A second factor: set up, confirmed with a code; the next sign-in asks for one.
    sign_in(&b, &stack.admin_email, stack.admin_password).await;
    b.click("nav button[data-view=security]").await.unwrap();
    b.wait_text("#totp-state", "No second factor")
        .await
        .unwrap();
    b.click("#totp-start").await.unwrap();
    let secret = b.text("#totp-secret").await.unwrap();
    let key = auth::domain::totp::from_base32(&secret).expect("a base32 secret");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let step = auth::domain::totp::step_of(now());
    b.fill("#totp-code", &auth::domain::totp::code_at(&key, step))
        .await
        .unwrap();
    b.click("#totp-confirm").await.unwrap();
    b.wait_text("#totp-state", "A second factor is on")
        .await
        .unwrap();
    b.click("#signout").await.unwrap();
    b.wait_text("#message", "Signed out").await.unwrap();
    sign_in(&b, &stack.admin_email, stack.admin_password).await;
    b.wait_text("#message", "authenticator app").await.unwrap();
    assert!(!b.is_shown("#nav").await.unwrap());
    // The code of the step used to confirm does not work again; the next one does.
    b.fill("#signin-totp", &auth::domain::totp::code_at(&key, step))
        .await
        .unwrap();
    sign_in(&b, &stack.admin_email, stack.admin_password).await;
    b.wait_text("#message", "used already").await.unwrap();
    b.fill("#signin-totp", &auth::domain::totp::code_at(&key, step + 1))
        .await
        .unwrap();
    sign_in(&b, &stack.admin_email, stack.admin_password).await;
    b.find("#view-dashboard").await.unwrap();
    assert!(b.is_shown("#nav").await.unwrap());

    // Nothing the page did broke its policy.
    let log = b.console_log().await.unwrap();
    assert!(
        !log.iter()
            .any(|l| l.contains("Content Security Policy") || l.contains("Refused to")),
        "{log:#?}"
    );
    drop(b);
    stack.stop().await;
}
