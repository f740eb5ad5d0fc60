//! A scripted walk through every flow that exists, as a client would do it through the
//! gateway, printing each step and its result in plain words. `make demo` runs it against
//! `make run`; the gateway end-to-end test runs it against real nginx and the built
//! services. Each service adds its steps here.
//!
//! The same steps seed the load tests: [`login`], [`approved_seller`] and
//! [`approved_investor`].

mod admin;
mod files;
mod invoice;
mod kyc;
mod marketplace;
mod notifications;
mod payments;
mod race;

pub use race::RaceReport;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

/// How long an asynchronous effect (a document's checks, an event reaching another
/// service) may take before the demo gives up.
const WAIT: Duration = Duration::from_secs(30);

pub struct Demo {
    client: Client,
    base: String,
    /// What was done, one line a step.
    pub log: String,
    quiet: bool,
    /// An admin's email and password (`make create-admin`), for the review steps.
    admin: Option<(String, String)>,
    /// The KYC section's users (approved by its end when an admin is given), for the
    /// sections after it.
    investor: Option<kyc::Account>,
    seller: Option<kyc::Account>,
    /// What the demo did that the admin section checks the dashboard and audit log by.
    tally: admin::Tally,
}

/// A user logged in through auth: the user's id, email and token pair.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// Logs in an existing user (e.g. the admin from make create-admin).
pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<Session> {
    Demo::new(base).quiet().login(email, password).await
}

/// Registers a new seller through the gateway at `base`, uploads its KYC documents, waits
/// for the checks, submits, has the admin approve it, and refreshes until its token's kyc
/// claim says approved.
pub async fn approved_seller(base: &str, admin: &Session) -> anyhow::Result<Session> {
    let demo = Demo::new(base).quiet();
    let seller = demo.approved_seller(admin).await?;
    Ok(seller.session)
}

/// Registers a new investor through the gateway at `base` and takes it through KYC to
/// approval like [`approved_seller`]: its token lets it make offers at once.
pub async fn approved_investor(base: &str, admin: &Session) -> anyhow::Result<Session> {
    let demo = Demo::new(base).quiet();
    let investor = demo.approved_investor(admin).await?;
    Ok(investor.session)
}

/// A new seller (through the gateway at `base`) whose KYC submission waits for an
/// admin: answers the seller and the submission's id (the console test's seed).
pub async fn seller_in_review(base: &str) -> anyhow::Result<(Session, String)> {
    let demo = Demo::new(base).quiet();
    let (seller, submission) = demo.seller_in_review().await?;
    Ok((seller.session, submission))
}

/// A new KYC-approved seller with an invoice submitted for review: answers the seller,
/// the invoice's id and its number (the console test's seed).
pub async fn submitted_invoice(
    base: &str,
    admin: &Session,
    number: &str,
) -> anyhow::Result<(Session, String)> {
    let demo = Demo::new(base).quiet();
    let seller = demo.approved_seller(admin).await?;
    let draft = invoice::invoice_body(number, "2500000.00", "Diesel for the Ikeja plant");
    let created = demo
        .as_user(
            Method::POST,
            "/api/invoices",
            &seller.session,
            Some(&draft),
            StatusCode::CREATED,
            "create a draft",
        )
        .await?;
    let id = created["id"].as_str().context("no invoice id")?.to_owned();
    demo.act(&seller.session, &id, "submit", None).await?;
    Ok((seller.session, id))
}

/// `who` acts on invoice `id` through the gateway at `base` (`submit`, `cancel`, `verify`,
/// or `reject` with a reason), at the version it reads now; answers the invoice after.
pub async fn act_on_invoice(
    base: &str,
    who: &Session,
    id: &str,
    action: &str,
    reason: Option<&str>,
) -> anyhow::Result<Value> {
    Demo::new(base).quiet().act(who, id, action, reason).await
}

impl Demo {
    pub fn new(base: &str) -> Self {
        Self {
            client: Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            log: String::new(),
            quiet: false,
            admin: None,
            investor: None,
            seller: None,
            tally: admin::Tally::default(),
        }
    }

    /// The admin who reviews KYC submissions and invoices (admins cannot register: `make
    /// create-admin`). Without one the review steps and the invoice section are skipped.
    pub fn with_admin(mut self, email: &str, password: &str) -> Self {
        self.admin = Some((email.to_owned(), password.to_owned()));
        self
    }

    /// Collect the steps in `log` without printing them.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    fn step(&mut self, text: &str) {
        let _ = writeln!(self.log, "{text}");
        if !self.quiet {
            println!("{text}");
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Blank line and a heading between flows.
    fn section(&mut self, title: &str) {
        if !self.log.is_empty() {
            self.step("");
        }
        self.step(title);
    }

    async fn expect(&self, res: Response, status: StatusCode, what: &str) -> anyhow::Result<Value> {
        let got = res.status();
        let body = res.text().await.unwrap_or_default();
        if got != status {
            bail!("{what}: expected {status}, got {got}: {body}");
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Every flow, in order.
    pub async fn run(&mut self) -> anyhow::Result<()> {
        // The dashboard before the first step, for the admin section's differences.
        let before = match self.admin().await? {
            Some(admin) => Some(self.dashboard(&admin).await?),
            None => None,
        };
        self.auth().await?;
        self.kyc().await?;
        if let Some(before) = before {
            self.invoice().await?;
            self.marketplace().await?;
            self.payments().await?;
            self.notifications().await?;
            self.admin_section(&before).await
        } else {
            self.section("== Invoices (invoice) ==");
            self.step("Skipped: only a KYC-approved seller drafts invoices, and approving needs an admin.");
            self.section("== Marketplace (marketplace) ==");
            self.step("Skipped: offers need a listed invoice, and listing one needs an admin.");
            self.section("== Payments (payments, with the sandbox provider) ==");
            self.step("Skipped: payments follow the accepted offer of the marketplace steps.");
            self.section("== Notifications (notifications) ==");
            self.step(
                "Skipped: the notifications shown come from the invoice and marketplace steps.",
            );
            self.section("== Admin (admin) ==");
            self.step("Skipped: the dashboard and the audit log are for admins.");
            Ok(())
        }
    }

    /// Logs in.
    async fn login(&self, email: &str, password: &str) -> anyhow::Result<Session> {
        let res = self
            .client
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let tokens = self
            .expect(res, StatusCode::OK, &format!("login as {email}"))
            .await?;
        let access = tokens["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned();
        Ok(Session {
            id: claims(&access)?["sub"]
                .as_str()
                .context("the access token names no user (sub)")?
                .to_owned(),
            email: email.to_owned(),
            refresh: tokens["refresh_token"]
                .as_str()
                .context("no refresh token")?
                .to_owned(),
            access,
        })
    }

    /// The admin given with [`Demo::with_admin`], logged in; `None` without one.
    /// The seller and investor the KYC section approved, and the admin, for the sections
    /// after it (`section` names the one asking, in the error).
    async fn parties(&self, section: &str) -> anyhow::Result<(Session, Session, Session)> {
        let seller = self
            .seller
            .as_ref()
            .context("no seller: the KYC section runs first")?
            .session
            .clone();
        let investor = self
            .investor
            .as_ref()
            .context("no investor: the KYC section runs first")?
            .session
            .clone();
        let admin = self
            .admin()
            .await?
            .with_context(|| format!("the {section} steps need an admin (with_admin)"))?;
        Ok((seller, investor, admin))
    }

    async fn admin(&self) -> anyhow::Result<Option<Session>> {
        let Some((email, password)) = &self.admin else {
            return Ok(None);
        };
        let admin = self.login(email, password).await?;
        ensure!(
            claims(&admin.access)?["role"] == "admin",
            "{email} is not an admin"
        );
        Ok(Some(admin))
    }

    /// `method path` as `who`, with an optional JSON body; checks the status.
    async fn as_user(
        &self,
        method: Method,
        path: &str,
        who: &Session,
        body: Option<&Value>,
        status: StatusCode,
        what: &str,
    ) -> anyhow::Result<Value> {
        let placed = method == Method::POST && path == "/api/marketplace/offers";
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&who.access);
        if let Some(body) = body {
            req = req.json(body);
        }
        let answer = self.send(req, status, what).await?;
        if placed && status == StatusCode::CREATED {
            admin::Tally::add(&self.tally.offers, 1);
        }
        Ok(answer)
    }

    /// `method path` as `who` with `If-Match` naming `version` (a resource's `version` as
    /// the API showed it: a decision on what was seen) and an optional JSON body; checks
    /// the status (`expect`: the status and what the call is, for the error).
    async fn at_version(
        &self,
        method: Method,
        path: &str,
        who: &Session,
        version: &Value,
        body: Option<&Value>,
        expect: (StatusCode, &str),
    ) -> anyhow::Result<Value> {
        let (status, what) = expect;
        let version = version
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("{what}: no version ({version})"))?;
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&who.access)
            .header("if-match", format!("\"{version}\""));
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req, status, what).await
    }

    /// Sends `req` and checks its status; answers the JSON body (`null` when there is none).
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        status: StatusCode,
        what: &str,
    ) -> anyhow::Result<Value> {
        self.expect(req.send().await?, status, what).await
    }

    /// Register, log in, see yourself, refresh, log out, and find the token refused.
    pub async fn auth(&mut self) -> anyhow::Result<()> {
        self.section("== Accounts (auth) ==");
        let email = format!("demo-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = "correct horse 42";
        let res = self
            .client
            .post(self.url("/api/auth/register"))
            .json(
                &json!({"email": email, "password": password, "role": "seller",
                          "full_name": "Ada Obi", "company_name": "Obi Textiles"}),
            )
            .send()
            .await
            .context("the gateway does not answer: is the stack running (make run)?")?;
        let user = self.expect(res, StatusCode::CREATED, "register").await?;
        admin::Tally::add(&self.tally.sellers, 1);
        self.step(&format!(
            "1. Registered seller {email} (id {}); KYC status: {}.",
            user["id"].as_str().unwrap_or("?"),
            user["kyc_status"].as_str().unwrap_or("?")
        ));

        let res = self
            .client
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let tokens = self.expect(res, StatusCode::OK, "login").await?;
        let access = tokens["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned();
        let refresh = tokens["refresh_token"]
            .as_str()
            .context("no refresh token")?
            .to_owned();
        self.step(&format!(
            "2. Logged in: a {} access token valid {} s and a refresh token.",
            tokens["token_type"].as_str().unwrap_or("?"),
            tokens["expires_in"]
        ));

        let res = self
            .client
            .get(self.url("/api/auth/me"))
            .bearer_auth(&access)
            .send()
            .await?;
        let me = self.expect(res, StatusCode::OK, "me").await?;
        ensure!(
            me["email"] == email.as_str(),
            "me answered for someone else: {me}"
        );
        self.step(&format!(
            "3. /me says: {} ({}), account {}.",
            me["full_name"], me["role"], me["status"]
        ));

        let res = self
            .client
            .post(self.url("/api/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await?;
        let pair = self.expect(res, StatusCode::OK, "refresh").await?;
        let access2 = pair["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned();
        ensure!(
            pair["refresh_token"] != refresh.as_str(),
            "refresh did not rotate the token"
        );
        self.step(
            "4. Refreshed: a new access token and a new refresh token (the old one is spent).",
        );

        let res = self
            .client
            .post(self.url("/api/auth/logout"))
            .bearer_auth(&access2)
            .send()
            .await?;
        self.expect(res, StatusCode::NO_CONTENT, "logout").await?;
        self.step("5. Logged out.");

        let res = self
            .client
            .get(self.url("/api/auth/me"))
            .bearer_auth(&access2)
            .send()
            .await?;
        let problem = self
            .expect(res, StatusCode::UNAUTHORIZED, "me after logout")
            .await?;
        self.step(&format!(
            "6. The logged-out token is refused at once: 401 \"{}\".",
            problem["detail"].as_str().unwrap_or("?")
        ));
        Ok(())
    }
}

/// Waits on a condition: [`Poll::next`] pauses until the next attempt and fails once
/// [`WAIT`] has passed, naming what was awaited.
struct Poll {
    what: String,
    start: Instant,
    every: tokio::time::Interval,
}

impl Poll {
    fn new(what: impl Into<String>, every: Duration) -> Self {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            what: what.into(),
            start: Instant::now(),
            every,
        }
    }

    async fn next(&mut self) -> anyhow::Result<()> {
        if self.start.elapsed() > WAIT {
            bail!("timed out after {WAIT:?} waiting for {}", self.what);
        }
        self.every.tick().await;
        Ok(())
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The claims of a JWT, read without checking the signature (the services check it; the
/// demo only shows what the token says).
fn claims(token: &str) -> anyhow::Result<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).context("the token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .context("the token's payload is not base64url")?;
    serde_json::from_slice(&bytes).context("the token's payload is not JSON")
}
