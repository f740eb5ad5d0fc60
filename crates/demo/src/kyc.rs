//! KYC through the gateway: an investor and a seller upload their documents, wait for the
//! checks, submit; an admin reviews (opens, downloads, approves one, rejects the other);
//! the approval reaches the investor's next access token; the seller submits again and is
//! approved. [`Demo::approved_seller`] and [`Demo::approved_investor`] walk a new user
//! through the same steps (the marketplace section's second investor, the load tests' seed).

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Demo, Poll, Session, claims, files};

const INVESTOR_DOCUMENTS: &[&str] = &["government_id", "proof_of_address"];
const SELLER_DOCUMENTS: &[&str] = &["government_id", "proof_of_address", "business_registration"];
/// The sandbox identity provider verifies ordinary numbers and reports another name for
/// numbers ending in 99: the seller's gives the reviewer something to reject.
const INVESTOR_BVN: &str = "22212345678";
const SELLER_BVN: &str = "22212345699";
/// The seller's second submission (and every seeded seller's): a number the sandbox verifies.
const SELLER_GOOD_BVN: &str = "22212345601";
const INVESTOR_NAME: &str = "Adaeze Okafor";
const SELLER_NAME: &str = "Chinedu Eze";
const SELLER_COMPANY: &str = "Eze Foods";
const REJECTION: &str =
    "The BVN is registered to another name; upload a government ID in the name on your BVN.";

/// A user registered and logged in through auth.
pub(crate) struct Account {
    /// "investor" or "seller".
    pub(crate) role: &'static str,
    full_name: &'static str,
    pub(crate) session: Session,
    /// What was uploaded: (document type, content type, bytes).
    uploads: Vec<(&'static str, &'static str, Vec<u8>)>,
}

/// A submission approved and seen in the user's token.
struct Approval {
    submission: String,
    refreshes: u32,
    took: Duration,
}

impl Demo {
    /// Investor and seller KYC, from upload to the admin's decision.
    pub async fn kyc(&mut self) -> anyhow::Result<()> {
        self.section("== KYC (kyc) ==");
        let mut investor = self.account("investor", INVESTOR_NAME, None).await?;
        let mut seller = self
            .account("seller", SELLER_NAME, Some(SELLER_COMPANY))
            .await?;
        self.step(&format!(
            "1. Registered investor {} and seller {} through auth; both logged in, kyc claim \"{}\".",
            investor.session.email,
            seller.session.email,
            claims(&investor.session.access)?["kyc"].as_str().unwrap_or("?")
        ));

        // The file's content decides, never its name or declared type.
        let res = self
            .upload(
                &investor,
                "government_id",
                "passport.jpg",
                "image/jpeg",
                b"This is a text file, not a photo.\n".to_vec(),
            )
            .await?;
        let content_type = header(&res, "content-type");
        let problem = self
            .expect(
                res,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "upload of a text file",
            )
            .await?;
        ensure!(
            content_type.starts_with("application/problem+json"),
            "the 415 is {content_type}, not application/problem+json"
        );
        self.step(&format!(
            "2. A text file named passport.jpg (declared image/jpeg) is refused: 415 {content_type} \"{}\".",
            problem["detail"].as_str().unwrap_or("?")
        ));

        let mut n = 3;
        for (account, types) in [
            (&mut investor, INVESTOR_DOCUMENTS),
            (&mut seller, SELLER_DOCUMENTS),
        ] {
            let done = self.upload_documents(account, types).await?;
            self.step(&format!(
                "{n}. The {} uploaded {}: 202, queued for checks.",
                account.role,
                done.join(", ")
            ));
            n += 1;
        }

        for account in [&investor, &seller] {
            let (status, took) = self.wait_submittable(account).await?;
            let documents: Vec<String> = status["documents"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    format!(
                        "{} {}",
                        d["document_type"].as_str().unwrap_or("?"),
                        d["status"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            self.step(&format!(
                "{n}. The {}'s checks ran in the background: {}; can_submit is true (polled /status for {:.1} s).",
                account.role,
                documents.join(", "),
                took.as_secs_f64()
            ));
            n += 1;
        }

        let mut submissions = Vec::new();
        for (account, bvn) in [(&investor, INVESTOR_BVN), (&seller, SELLER_BVN)] {
            let (id, status) = self.submit(account, bvn).await?;
            self.step(&format!(
                "{n}. The {} submitted name \"{}\" and BVN: submission {id}, {status}.",
                account.role, account.full_name,
            ));
            n += 1;
            submissions.push(id);
        }
        let [investor_submission, seller_submission] = &submissions[..] else {
            bail!("expected two submissions");
        };

        let Some(admin_session) = self.admin().await? else {
            self.step(&format!(
                "{n}. Admin review skipped: no admin given (make create-admin EMAIL=.. PASSWORD=.., \
                 then ADMIN_EMAIL=.. ADMIN_PASSWORD=.. make demo)."
            ));
            self.investor = Some(investor);
            self.seller = Some(seller);
            return Ok(());
        };
        let admin_email = admin_session.email.clone();
        let admin = admin_session.access.clone();
        let queue = self.review_queue(&admin).await?;
        for (who, id) in [
            ("investor", investor_submission),
            ("seller", seller_submission),
        ] {
            ensure!(
                queue.iter().any(|s| s["id"] == id.as_str()),
                "the {who}'s submission {id} is not in the review queue"
            );
        }
        self.step(&format!(
            "{n}. Admin {admin_email} logged in; the review queue (in_review) holds {} submission(s), the investor's and the seller's among them.",
            queue.len()
        ));
        n += 1;

        let res = self
            .client
            .get(self.url(&format!("/api/kyc/submissions/{investor_submission}")))
            .bearer_auth(&admin)
            .send()
            .await?;
        let detail = self
            .expect(res, StatusCode::OK, "open the investor's submission")
            .await?;
        let documents = detail["documents"].as_array().cloned().unwrap_or_default();
        ensure!(
            documents.len() == INVESTOR_DOCUMENTS.len(),
            "the submission has {} documents: {detail}",
            documents.len()
        );
        let checks: Vec<String> = detail["checks"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["check"].as_str().unwrap_or("?"),
                    c["outcome"].as_str().unwrap_or("?")
                )
            })
            .collect();
        self.step(&format!(
            "{n}. Opened the investor's submission: {}, BVN {}, {} documents, checks: {}; {} warning(s).",
            detail["full_name"].as_str().unwrap_or("?"),
            detail["bvn"].as_str().unwrap_or("?"),
            documents.len(),
            if checks.is_empty() {
                "none".to_owned()
            } else {
                checks.join(", ")
            },
            detail["warnings"].as_array().map_or(0, Vec::len)
        ));
        n += 1;

        let document = &documents[0];
        let document_type = document["document_type"].as_str().unwrap_or("?");
        let path = document["download_path"]
            .as_str()
            .context("no download_path")?;
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(&admin)
            .send()
            .await?;
        ensure!(
            res.status() == StatusCode::OK,
            "download {path}: {}",
            res.status()
        );
        let disposition = header(&res, "content-disposition");
        let nosniff = header(&res, "x-content-type-options");
        let content_type = header(&res, "content-type");
        let bytes = res.bytes().await?;
        ensure!(
            disposition.starts_with("attachment"),
            "the download is not an attachment: Content-Disposition {disposition:?}"
        );
        ensure!(
            nosniff == "nosniff",
            "the download lacks X-Content-Type-Options: nosniff ({nosniff:?})"
        );
        let uploaded = investor
            .uploads
            .iter()
            .find(|(t, _, _)| *t == document_type)
            .context("downloaded a document the investor did not upload")?;
        ensure!(
            bytes.as_ref() == uploaded.2.as_slice() && content_type == uploaded.1,
            "the download ({content_type}, {} bytes) is not the uploaded {document_type} ({}, {} bytes)",
            bytes.len(),
            uploaded.1,
            uploaded.2.len()
        );
        self.step(&format!(
            "{n}. Downloaded its {document_type}: the {} bytes uploaded, {content_type}, Content-Disposition: {disposition}, X-Content-Type-Options: {nosniff}.",
            bytes.len()
        ));
        n += 1;

        self.decide(&admin, investor_submission, None).await?;
        let res = self
            .client
            .get(self.url(&format!("/api/kyc/submissions/{seller_submission}")))
            .bearer_auth(&admin)
            .send()
            .await?;
        let seller_detail = self
            .expect(res, StatusCode::OK, "open the seller's submission")
            .await?;
        self.decide(&admin, seller_submission, Some(REJECTION))
            .await?;
        self.step(&format!(
            "{n}. Approved the investor's submission. Rejected the seller's (its warnings: {}) with the reason \"{REJECTION}\".",
            seller_detail["warnings"]
        ));
        n += 1;

        // Auth consumes kyc.approved in the background; the next token carries it.
        let (refreshes, took) = self.refresh_until_approved(&mut investor).await?;
        let res = self
            .client
            .get(self.url("/api/auth/me"))
            .bearer_auth(&investor.session.access)
            .send()
            .await?;
        let me = self.expect(res, StatusCode::OK, "me").await?;
        self.step(&format!(
            "{n}. The investor refreshed its token until the kyc claim said \"approved\" ({refreshes} refresh(es), {:.1} s): auth applied kyc.approved; /me says kyc_status {}.",
            took.as_secs_f64(),
            me["kyc_status"]
        ));
        n += 1;

        let status = self.kyc_status(&seller).await?;
        ensure!(
            status["status"] == "rejected" && status["rejection_reason"] == REJECTION,
            "the seller's status after the rejection: {status}"
        );
        self.step(&format!(
            "{n}. The seller's KYC status: {}, reason \"{}\"; it may upload new documents and submit again (can_submit {}).",
            status["status"].as_str().unwrap_or("?"),
            status["rejection_reason"].as_str().unwrap_or("?"),
            status["can_submit"]
        ));
        n += 1;

        // Its documents stay accepted: it submits again without uploading.
        let approval = self
            .approve(&mut seller, &admin_session, SELLER_GOOD_BVN)
            .await?;
        self.step(&format!(
            "{n}. The seller submitted again with a BVN the identity provider verifies, without new uploads: submission {}; the admin approved it.",
            approval.submission
        ));
        n += 1;
        self.step(&format!(
            "{n}. The seller refreshed its token until the kyc claim said \"approved\" ({} refresh(es), {:.1} s).",
            approval.refreshes,
            approval.took.as_secs_f64()
        ));
        self.investor = Some(investor);
        self.seller = Some(seller);
        Ok(())
    }

    /// A new seller, registered, documents uploaded and accepted, submitted and approved
    /// by `admin`, with a token that says so (the load tests' seed).
    pub(crate) async fn approved_seller(&self, admin: &Session) -> anyhow::Result<Account> {
        let seller = self
            .account("seller", SELLER_NAME, Some(SELLER_COMPANY))
            .await?;
        self.approved(seller, SELLER_DOCUMENTS, admin, SELLER_GOOD_BVN)
            .await
    }

    /// A new investor, taken through KYC to approval like [`Demo::approved_seller`].
    pub(crate) async fn approved_investor(&self, admin: &Session) -> anyhow::Result<Account> {
        let investor = self.account("investor", INVESTOR_NAME, None).await?;
        self.approved(investor, INVESTOR_DOCUMENTS, admin, INVESTOR_BVN)
            .await
    }

    /// A new seller whose KYC waits in the review queue: documents checked, submitted
    /// with a number the sandbox verifies, no decision yet (the console test's seed).
    /// Answers the account and the submission's id.
    pub(crate) async fn seller_in_review(&self) -> anyhow::Result<(Account, String)> {
        let mut seller = self
            .account("seller", SELLER_NAME, Some(SELLER_COMPANY))
            .await?;
        self.upload_documents(&mut seller, SELLER_DOCUMENTS).await?;
        self.wait_submittable(&seller).await?;
        let (submission, _) = self.submit(&seller, SELLER_GOOD_BVN).await?;
        Ok((seller, submission))
    }

    /// Uploads `account`'s documents, waits for their checks, submits with `bvn` and has
    /// `admin` approve it.
    async fn approved(
        &self,
        mut account: Account,
        documents: &[&'static str],
        admin: &Session,
        bvn: &str,
    ) -> anyhow::Result<Account> {
        self.upload_documents(&mut account, documents).await?;
        self.wait_submittable(&account).await?;
        self.approve(&mut account, admin, bvn).await?;
        Ok(account)
    }

    /// Submits `account`'s KYC with `bvn`, has `admin` approve it, and refreshes until the
    /// account's token says approved.
    async fn approve(
        &self,
        account: &mut Account,
        admin: &Session,
        bvn: &str,
    ) -> anyhow::Result<Approval> {
        let (submission, _) = self.submit(account, bvn).await?;
        self.decide(&admin.access, &submission, None).await?;
        let (refreshes, took) = self.refresh_until_approved(account).await?;
        Ok(Approval {
            submission,
            refreshes,
            took,
        })
    }

    /// Uploads a generated document of each type (PNG and PDF in turn); answers what was
    /// uploaded, one description a document.
    async fn upload_documents(
        &self,
        account: &mut Account,
        types: &[&'static str],
    ) -> anyhow::Result<Vec<String>> {
        let mut done = Vec::new();
        for (i, &document_type) in types.iter().enumerate() {
            let seed = format!("{}-{document_type}", account.session.id);
            let (name, mime, bytes) = if i % 2 == 0 {
                (
                    "scan.png",
                    "image/png",
                    files::png(96, 64, seed.as_bytes())?,
                )
            } else {
                ("scan.pdf", "application/pdf", files::pdf(&seed))
            };
            let res = self
                .upload(account, document_type, name, mime, bytes.clone())
                .await?;
            let accepted = self
                .expect(
                    res,
                    StatusCode::ACCEPTED,
                    &format!("upload {document_type}"),
                )
                .await?;
            ensure!(
                accepted["status"] == "queued",
                "the upload answered {accepted}"
            );
            done.push(format!("{document_type} ({mime}, {} bytes)", bytes.len()));
            account.uploads.push((document_type, mime, bytes));
        }
        Ok(done)
    }

    /// `POST /api/kyc/submit` with the account's name and `bvn`; answers the submission's
    /// id and status.
    async fn submit(&self, account: &Account, bvn: &str) -> anyhow::Result<(String, String)> {
        let req = self
            .client
            .post(self.url("/api/kyc/submit"))
            .bearer_auth(&account.session.access)
            .json(&json!({"full_name": account.full_name, "bvn": bvn}));
        let receipt = self
            .send(
                req,
                StatusCode::CREATED,
                &format!("the {}'s KYC submission", account.role),
            )
            .await?;
        Ok((
            receipt["submission_id"]
                .as_str()
                .context("no submission id")?
                .to_owned(),
            receipt["status"].as_str().unwrap_or("?").to_owned(),
        ))
    }

    /// The admin approves the submission, or rejects it with `reason`.
    async fn decide(
        &self,
        admin: &str,
        submission: &str,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        let (action, expected) = match reason {
            None => ("approve", "approved"),
            Some(_) => ("reject", "rejected"),
        };
        // The decision is on what the admin reviewed: the submission's version (If-Match).
        let path = format!("/api/kyc/submissions/{submission}");
        let req = self.client.get(self.url(&path)).bearer_auth(admin);
        let reviewed = self
            .send(req, StatusCode::OK, &format!("open {submission}"))
            .await?;
        let version = reviewed["version"].as_i64().unwrap_or_default();
        let mut req = self
            .client
            .post(self.url(&format!("{path}/{action}")))
            .header("if-match", format!("\"{version}\""))
            .bearer_auth(admin);
        if let Some(reason) = reason {
            req = req.json(&json!({ "reason": reason }));
        }
        let decided = self
            .send(req, StatusCode::OK, &format!("{action} {submission}"))
            .await?;
        ensure!(
            decided["status"] == expected,
            "{action} {submission} answered {decided}"
        );
        let (counter, decision) = match reason {
            None => (&self.tally.kyc_approved, "kyc.approved"),
            Some(_) => (&self.tally.kyc_rejected, "kyc.rejected"),
        };
        crate::admin::Tally::add(counter, 1);
        self.tally.follow(
            "KYC submission",
            submission,
            vec!["kyc.submitted", decision],
        );
        Ok(())
    }

    /// Refreshes the account's tokens until the access token's `kyc` claim says approved
    /// (auth applies `kyc.approved` in the background); answers how many refreshes and how
    /// long it took.
    async fn refresh_until_approved(
        &self,
        account: &mut Account,
    ) -> anyhow::Result<(u32, Duration)> {
        let mut poll = Poll::new(
            format!("the {}'s refreshed token to say kyc approved", account.role),
            Duration::from_millis(200),
        );
        let mut refreshes = 0;
        loop {
            let req = self
                .client
                .post(self.url("/api/auth/refresh"))
                .json(&json!({"refresh_token": account.session.refresh}));
            let pair = self.send(req, StatusCode::OK, "refresh").await?;
            refreshes += 1;
            account.session.refresh = pair["refresh_token"]
                .as_str()
                .context("no refresh token")?
                .to_owned();
            account.session.access = pair["access_token"]
                .as_str()
                .context("no access token")?
                .to_owned();
            if claims(&account.session.access)?["kyc"] == "approved" {
                return Ok((refreshes, poll.elapsed()));
            }
            poll.next().await?;
        }
    }

    async fn account(
        &self,
        role: &'static str,
        full_name: &'static str,
        company_name: Option<&str>,
    ) -> anyhow::Result<Account> {
        let email = format!("demo-{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = "correct horse 42";
        let mut body = json!({"email": email, "password": password, "role": role,
                              "full_name": full_name});
        if let Some(company) = company_name {
            body["company_name"] = json!(company);
        }
        let res = self
            .client
            .post(self.url("/api/auth/register"))
            .json(&body)
            .send()
            .await?;
        let user = self
            .expect(res, StatusCode::CREATED, &format!("register {role}"))
            .await?;
        match role {
            "seller" => crate::admin::Tally::add(&self.tally.sellers, 1),
            _ => crate::admin::Tally::add(&self.tally.investors, 1),
        }
        let session = self.login(&email, password).await?;
        self.tally.follow(
            format!("{role} (user)"),
            &session.id,
            vec!["user.registered"],
        );
        ensure!(
            user["id"] == session.id.as_str(),
            "registered {} but logged in as {}",
            user["id"],
            session.id
        );
        Ok(Account {
            role,
            full_name,
            session,
            uploads: Vec::new(),
        })
    }

    /// `POST /api/kyc/documents` as `multipart/form-data`.
    async fn upload(
        &self,
        account: &Account,
        document_type: &str,
        file_name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Response> {
        let part = Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(mime)?;
        let form = Form::new()
            .text("document_type", document_type.to_owned())
            .part("file", part);
        Ok(self
            .client
            .post(self.url("/api/kyc/documents"))
            .bearer_auth(&account.session.access)
            .multipart(form)
            .send()
            .await?)
    }

    async fn kyc_status(&self, account: &Account) -> anyhow::Result<Value> {
        let res = self
            .client
            .get(self.url("/api/kyc/status"))
            .bearer_auth(&account.session.access)
            .send()
            .await?;
        self.expect(res, StatusCode::OK, "kyc status").await
    }

    /// Polls `GET /status` until every required document is accepted; a rejected one fails
    /// at once with its reasons.
    async fn wait_submittable(&self, account: &Account) -> anyhow::Result<(Value, Duration)> {
        let mut poll = Poll::new(
            format!("the {}'s documents to be accepted", account.role),
            Duration::from_millis(50),
        );
        loop {
            let status = self.kyc_status(account).await?;
            if status["can_submit"] == true {
                return Ok((status, poll.elapsed()));
            }
            if let Some(bad) = status["documents"]
                .as_array()
                .and_then(|d| d.iter().find(|d| d["status"] == "rejected"))
            {
                bail!(
                    "the {}'s {} was rejected: {}",
                    account.role,
                    bad["document_type"],
                    bad["reasons"]
                );
            }
            poll.next().await?;
        }
    }

    /// Every in-review submission, page by page.
    async fn review_queue(&self, admin: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            // Fixed words and UUIDs: nothing to escape.
            let mut path = "/api/kyc/submissions?status=in_review&limit=100".to_owned();
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let res = self
                .client
                .get(self.url(&path))
                .bearer_auth(admin)
                .send()
                .await?;
            let page = self.expect(res, StatusCode::OK, "review queue").await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_after"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }
}

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
